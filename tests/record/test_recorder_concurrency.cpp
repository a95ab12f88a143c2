// SPDX-License-Identifier: MIT
// Exactness under concurrency: threads started together (std::latch) record
// while a collector ticks (and folds the shards of exited threads) in its own
// thread; after join and a last tick, every count and sum equals what the
// threads recorded. Covers threads that exit mid-run (shards retired and
// reused or adopted), pool exhaustion (the overflow shard), and both the
// explicit writer and the thread-local path. Labelled `concurrency`: CI runs
// it under TSan; sizes keep it to a few seconds there.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <thread>
#include <vector>

#include "canarygate/record/recorder.hpp"
#include "canarygate/window/collector.hpp"
#include "support/build_kind.hpp"

namespace {

using canarygate::arm_id;
using canarygate::feedback_kind;
using canarygate::request_outcome;
using canarygate::wide_uint;
namespace series = canarygate::series;

constexpr bool slow_build = test_support::sanitized_build;

constexpr std::uint64_t records_per_thread = slow_build ? 20'000 : 200'000;

request_outcome make(std::uint64_t thread, std::uint64_t i) {
    request_outcome r;
    r.latency_ns = 1'000'000 + thread * 7'919 + i;
    r.ttft_ns = i % 3 == 0 ? request_outcome::absent : 1000 + i % 1000;
    r.input_tokens = i % 5000;
    r.output_tokens = (thread + i) % 700;
    r.cost_nano_usd = (thread + 1) * (i % 100'000) * 1'000;
    r.category = static_cast<canarygate::outcome>((thread + i) % canarygate::outcome_count);
    return r;
}

// What a set of (thread, count) recordings must add up to, per arm.
struct expected_totals {
    std::uint64_t requests = 0;
    wide_uint latency_sum, ttft_sum, cost_sum, cost_sum_squares, output_sum;
    std::uint64_t thumbs_down = 0;

    void add(std::uint64_t thread, std::uint64_t count) {
        for (std::uint64_t i = 0; i < count; ++i) {
            const request_outcome r = make(thread, i);
            ++requests;
            latency_sum += r.latency_ns;
            if (r.ttft_ns != request_outcome::absent) ttft_sum += r.ttft_ns;
            cost_sum += r.cost_nano_usd;
            __extension__ const unsigned __int128 sq =
                static_cast<unsigned __int128>(r.cost_nano_usd) * r.cost_nano_usd;
            cost_sum_squares +=
                wide_uint{static_cast<std::uint64_t>(sq >> 64), static_cast<std::uint64_t>(sq)};
            output_sum += r.output_tokens;
            if (i % 10 == 0) ++thumbs_down;
        }
    }
};

void check_arm(const canarygate::snapshot& s, const char* role, const expected_totals& e) {
    INFO("arm " << role);
    const auto* a = s.find_arm(role);
    REQUIRE(a != nullptr);
    CHECK(a->counter(series::requests) == wide_uint{e.requests});
    CHECK(a->counter(series::latency_sum) == e.latency_sum);
    CHECK(a->counter(series::ttft_sum) == e.ttft_sum);
    CHECK(a->counter(series::cost_sum) == e.cost_sum);
    CHECK(a->counter(series::cost_sum_squares) == e.cost_sum_squares);
    CHECK(a->counter(series::output_tokens_sum) == e.output_sum);
    CHECK(a->counter("feedback.thumbs_down") == wide_uint{e.thumbs_down});
    const auto* latency = a->histogram(series::latency);
    REQUIRE(latency != nullptr);
    CHECK(latency->count() == e.requests);
}

// Records `count` requests of `thread` for `arm` through `rec` (thread-local
// path) or `w` (explicit writer), plus a thumbs-down every tenth request.
template <class Sink>
void record_run(Sink& sink, arm_id arm, std::uint64_t thread, std::uint64_t count) {
    for (std::uint64_t i = 0; i < count; ++i) {
        sink.record(arm, make(thread, i));
        if (i % 10 == 0) sink.record_feedback(arm, feedback_kind::thumbs_down);
    }
}

// Ticks (advancing the manual clock one second per tick) until told to stop.
template <class Collector>
std::thread ticking(Collector& col, std::atomic<bool>& stop) {
    return std::thread([&col, &stop] {
        // relaxed: a stop flag; the data it guards is synchronised by join.
        while (!stop.load(std::memory_order_relaxed)) {
            col.clock().advance(std::chrono::seconds(1));
            col.tick();
            std::this_thread::yield();
        }
    });
}

canarygate::collector_config stress_config() {
    canarygate::collector_config c;
    c.slot_length = std::chrono::seconds(1);
    c.windows = {std::chrono::seconds(3), std::chrono::hours(24)};  // the long one sees everything
    c.publish = false;
    return c;
}

}  // namespace

TEST_CASE("N threads x M records, started together, are conserved", "[concurrency][recorder]") {
    canarygate::recorder rec;
    const arm_id baseline = rec.add_arm("baseline", "v1");
    const arm_id candidate = rec.add_arm("candidate", "v2");
    canarygate::basic_collector<canarygate::recorder, canarygate::manual_clock> col(
        rec, stress_config());

    constexpr std::uint64_t threads = 4;
    std::latch start(threads + 1);
    std::atomic<bool> stop{false};
    std::thread collector_thread = ticking(col, stop);
    std::vector<std::thread> workers;
    for (std::uint64_t t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            const arm_id arm = t % 2 == 0 ? baseline : candidate;
            if (t < 2) {
                record_run(rec, arm, t, records_per_thread);  // thread-local path
            } else {
                auto w = rec.make_writer();
                record_run(w, arm, t, records_per_thread);
            }
        });
    }
    start.arrive_and_wait();
    for (auto& w : workers) w.join();
    stop.store(true, std::memory_order_relaxed);
    collector_thread.join();

    col.clock().advance(std::chrono::seconds(1));
    col.tick();  // reads what the last concurrent tick missed, seals the slot
    expected_totals b, c;
    for (std::uint64_t t = 0; t < threads; ++t) (t % 2 == 0 ? b : c).add(t, records_per_thread);
    const auto totals = col.cumulative();
    check_arm(totals, "baseline", b);
    check_arm(totals, "candidate", c);
    // The 24 h window holds every sealed slot: all of it.
    const auto day = col.window(1);
    check_arm(day, "baseline", b);
    check_arm(day, "candidate", c);
    CHECK(totals.counter(series::overflow_records) == wide_uint{0});
    CHECK(totals.counter(series::rejected_unknown_arm) == wide_uint{0});
}

namespace {
// Six shards for four live writers: when a short thread claims a shard, the
// two long writers and its sibling may own three and the collector may be
// folding a fourth (a folding shard cannot be adopted), so two are always
// free or orphaned. With four, that race sent a writer to the overflow shard.
struct six_shards : canarygate::recorder_traits {
    static constexpr std::size_t max_shards = 6;
};
struct two_shards : canarygate::recorder_traits {
    static constexpr std::size_t max_shards = 2;
};
}  // namespace

TEST_CASE("threads that exit mid-run lose nothing; their shards are reused",
          "[concurrency][recorder]") {
    using small_recorder =
        canarygate::basic_recorder<request_outcome, canarygate::default_metrics, six_shards>;
    small_recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    canarygate::basic_collector<small_recorder, canarygate::manual_clock> col(rec, stress_config());

    constexpr std::uint64_t long_threads = 2;
    constexpr std::uint64_t short_threads = 24;  // four times the pool, two at a time
    const std::uint64_t short_records = records_per_thread / 20;
    std::latch start(long_threads + 2);
    std::atomic<bool> stop{false};
    std::thread collector_thread = ticking(col, stop);
    std::vector<std::thread> workers;
    for (std::uint64_t t = 0; t < long_threads; ++t) {
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            auto w = rec.make_writer();
            record_run(w, arm, t, records_per_thread);
        });
    }
    // A spawner runs short-lived threads in pairs; each pair exits (orphaning
    // two shards) while the collector folds and the next pair claims.
    workers.emplace_back([&] {
        start.arrive_and_wait();
        for (std::uint64_t t = long_threads; t < long_threads + short_threads; t += 2) {
            std::thread a([&, t] { record_run(rec, arm, t, short_records); });  // thread-local
            std::thread b([&, t] {
                auto w = rec.make_writer();
                record_run(w, arm, t + 1, short_records);
            });
            a.join();
            b.join();
        }
    });
    start.arrive_and_wait();
    for (auto& w : workers) w.join();
    stop.store(true, std::memory_order_relaxed);
    collector_thread.join();

    col.clock().advance(std::chrono::seconds(1));
    col.tick();
    expected_totals e;
    for (std::uint64_t t = 0; t < long_threads; ++t) e.add(t, records_per_thread);
    for (std::uint64_t t = long_threads; t < long_threads + short_threads; ++t)
        e.add(t, short_records);
    const auto totals = col.cumulative();
    check_arm(totals, "candidate", e);
    check_arm(col.window(1), "candidate", e);
    // Never more than 4 writers alive and at most one shard folding: the
    // pool of six always had a shard to claim.
    CHECK(totals.counter(series::overflow_writers) == wide_uint{0});
    CHECK(rec.shards_in_use() == 0);  // everything folded after the last tick
}

TEST_CASE("pool exhaustion falls back to the counted overflow shard", "[concurrency][recorder]") {
    using tiny_recorder =
        canarygate::basic_recorder<request_outcome, canarygate::default_metrics, two_shards>;
    tiny_recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    canarygate::basic_collector<tiny_recorder, canarygate::manual_clock> col(rec, stress_config());

    constexpr std::uint64_t threads = 6;  // 2 own a shard, 4 share the overflow shard
    std::latch claimed(threads + 1);
    std::atomic<std::uint64_t> overflow_users{0};
    std::atomic<bool> stop{false};
    std::thread collector_thread = ticking(col, stop);
    std::vector<std::thread> workers;
    std::vector<std::uint64_t> overflow_counts(threads, 0);
    for (std::uint64_t t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            auto w = rec.make_writer();  // every writer exists before anyone records
            if (w.uses_overflow_shard()) {
                overflow_users.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after join
                overflow_counts[t] = 1;
            }
            claimed.arrive_and_wait();
            record_run(w, arm, t, records_per_thread);
        });
    }
    claimed.arrive_and_wait();
    for (auto& w : workers) w.join();
    stop.store(true, std::memory_order_relaxed);
    collector_thread.join();
    col.tick();

    CHECK(overflow_users.load(std::memory_order_relaxed) == threads - 2);
    expected_totals e;
    std::uint64_t overflow_records = 0;
    for (std::uint64_t t = 0; t < threads; ++t) {
        e.add(t, records_per_thread);
        if (overflow_counts[t] != 0)
            overflow_records += records_per_thread + (records_per_thread + 9) / 10;
    }
    const auto totals = col.cumulative();
    check_arm(totals, "candidate", e);
    CHECK(totals.counter(series::overflow_writers) == wide_uint{threads - 2});
    CHECK(totals.counter(series::overflow_records) == wide_uint{overflow_records});
}

TEST_CASE("several recorders written by the same threads concurrently", "[concurrency][recorder]") {
    canarygate::recorder r1, r2;
    const arm_id a1 = r1.add_arm("candidate");
    const arm_id a2 = r2.add_arm("candidate");
    canarygate::basic_collector<canarygate::recorder, canarygate::manual_clock> c1(r1,
                                                                                   stress_config());
    canarygate::basic_collector<canarygate::recorder, canarygate::manual_clock> c2(r2,
                                                                                   stress_config());
    constexpr std::uint64_t threads = 3;
    std::latch start(threads + 1);
    std::atomic<bool> stop{false};
    std::thread t1 = ticking(c1, stop);
    std::thread t2 = ticking(c2, stop);
    std::vector<std::thread> workers;
    const std::uint64_t n = records_per_thread / 4;
    for (std::uint64_t t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            for (std::uint64_t i = 0; i < n; ++i) {
                r1.record(a1, make(t, i));
                r2.record(a2, make(t + 10, i));
            }
        });
    }
    start.arrive_and_wait();
    for (auto& w : workers) w.join();
    stop.store(true, std::memory_order_relaxed);
    t1.join();
    t2.join();
    c1.tick();
    c2.tick();
    expected_totals e1, e2;
    for (std::uint64_t t = 0; t < threads; ++t) {
        e1.add(t, n);
        e2.add(t + 10, n);
    }
    e1.thumbs_down = e2.thumbs_down = 0;
    check_arm(c1.cumulative(), "candidate", e1);
    check_arm(c2.cumulative(), "candidate", e2);
}
