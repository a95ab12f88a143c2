// SPDX-License-Identifier: MIT
// The hot path never allocates: every global operator new of this program is
// replaced by a counting one, and many record() / record_feedback() calls
// (explicit writer, thread-local path after its first use, overflow shard,
// rejections, several recorders cycling through the thread cache) must leave
// the count unchanged.
//
// Builds whose sanitizer runtime owns operator new only warn (counting_new.hpp).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "canarygate/record/recorder.hpp"
#include "support/counting_new.hpp"

namespace {

std::uint64_t allocation_count() { return counting_new::count(); }

using canarygate::arm_id;
using canarygate::feedback_kind;
using canarygate::request_outcome;

request_outcome varied_outcome(std::uint64_t i) {
    request_outcome r;
    r.latency_ns = 1'000'000 + i * 1'337;
    r.ttft_ns = i % 5 == 0 ? request_outcome::absent : 10'000 + i;
    r.input_tokens = i % 4096;
    r.output_tokens = i % 777;
    r.cost_nano_usd = i * 991;
    r.category = static_cast<canarygate::outcome>(i % canarygate::outcome_count);
    return r;
}

// Records `n` requests and feedback through `record` / `feedback`, some of
// them rejected or for an unknown arm.
template <class Record, class Feedback>
void hammer(arm_id arm, std::uint64_t n, Record record, Feedback feedback) {
    for (std::uint64_t i = 0; i < n; ++i) {
        request_outcome r = varied_outcome(i);
        if (i % 97 == 0) r.latency_ns = canarygate::ns_from_seconds(-1.0);  // rejected
        record(i % 101 == 0 ? arm_id{7} : arm, r);                          // unknown arm
        feedback(arm, static_cast<feedback_kind>(i % 5), static_cast<std::int64_t>(i % 21) - 10);
    }
}

struct tiny_pool : canarygate::recorder_traits {
    static constexpr std::size_t max_shards = 1;
};

}  // namespace

TEST_CASE("the counting operator new sees allocations", "[no_alloc]") {
    if (!counting_new::active) {
        WARN("operator new cannot be replaced under this sanitizer: allocation checks are vacuous");
        return;
    }
    const std::uint64_t before = allocation_count();
    auto p = std::make_unique<std::vector<int>>(100);
    CHECK(allocation_count() >= before + 2);
}

TEST_CASE("an explicit writer never allocates", "[no_alloc]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    auto writer = rec.make_writer();
    const std::uint64_t before = allocation_count();
    hammer(
        arm, 100'000, [&](arm_id a, const request_outcome& r) { writer.record(a, r); },
        [&](arm_id a, feedback_kind k, std::int64_t s) { writer.record_feedback(a, k, s); });
    CHECK(allocation_count() == before);
}

TEST_CASE("make_writer and a writer's destruction never allocate", "[no_alloc]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    const std::uint64_t before = allocation_count();
    for (int i = 0; i < 1000; ++i) {
        auto writer = rec.make_writer();
        writer.record(arm, varied_outcome(static_cast<std::uint64_t>(i)));
    }
    CHECK(allocation_count() == before);
}

TEST_CASE("the thread-local path never allocates after its first use", "[no_alloc]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    rec.record(arm,
               varied_outcome(0));  // first use: claims a shard, may register the TLS destructor
    const std::uint64_t before = allocation_count();
    hammer(
        arm, 100'000, [&](arm_id a, const request_outcome& r) { rec.record(a, r); },
        [&](arm_id a, feedback_kind k, std::int64_t s) { rec.record_feedback(a, k, s); });
    CHECK(allocation_count() == before);
}

TEST_CASE("the thread-local path in a fresh thread, several recorders cycling", "[no_alloc]") {
    // More recorders than thread cache entries: entries are evicted (shard
    // released) and re-claimed, still without allocating.
    constexpr std::size_t n = canarygate::recorder_traits::thread_cache_size + 2;
    std::vector<std::unique_ptr<canarygate::recorder>> recs;
    for (std::size_t i = 0; i < n; ++i) {
        recs.push_back(std::make_unique<canarygate::recorder>());
        (void)recs.back()->add_arm("candidate");
    }
    std::uint64_t measured = 1;
    std::thread t([&] {
        for (auto& r : recs) r->record(arm_id{0}, varied_outcome(1));  // first use in this thread
        const std::uint64_t before = allocation_count();
        for (std::uint64_t i = 0; i < 20'000; ++i) {
            recs[i % n]->record(arm_id{0}, varied_outcome(i));
            recs[(i * 7) % n]->record_feedback(arm_id{0}, feedback_kind::thumbs_up);
        }
        measured = allocation_count() - before;
    });
    t.join();
    CHECK(measured == 0);
}

TEST_CASE("the overflow shard never allocates", "[no_alloc]") {
    canarygate::basic_recorder<request_outcome, canarygate::default_metrics, tiny_pool> rec;
    const arm_id arm = rec.add_arm("candidate");
    auto owner = rec.make_writer();
    auto overflow = rec.make_writer();
    REQUIRE(overflow.uses_overflow_shard());
    const std::uint64_t before = allocation_count();
    hammer(
        arm, 50'000, [&](arm_id a, const request_outcome& r) { overflow.record(a, r); },
        [&](arm_id a, feedback_kind k, std::int64_t s) { overflow.record_feedback(a, k, s); });
    CHECK(allocation_count() == before);
}
