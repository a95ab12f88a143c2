// SPDX-License-Identifier: MIT
// The single-threaded event path (window/event_window.hpp) is the recorder's
// pipeline minus the threads: the same records, valid and invalid, give the
// same series as recorder + collector, rejections counted under the same
// reasons; windows are cut and reset as documented.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "canarygate/core/clock.hpp"
#include "canarygate/record/event.hpp"
#include "canarygate/record/recorder.hpp"
#include "canarygate/window/collector.hpp"
#include "canarygate/window/event_window.hpp"

using namespace canarygate;

namespace {

// A mix of ordinary, edge and invalid records: every rejection reason of the
// default metrics that a request_outcome can trigger, plus valid extremes.
std::vector<request_outcome> mixed_outcomes() {
    std::vector<request_outcome> out;
    for (std::uint64_t i = 0; i < 500; ++i) {
        request_outcome r;
        r.latency_ns = 50'000 + i * 9'999'991;  // some below the range (underflow)
        r.ttft_ns = i % 3 == 0 ? request_outcome::absent : r.latency_ns / 4;
        r.input_tokens = i * 37 % 5000;
        r.output_tokens = i % 11 == 0 ? 0 : 1 + i * 13 % 4096;
        r.cost_nano_usd = i % 17 == 0 ? 0 : i * 123'457;
        r.category = static_cast<canarygate::outcome>(i % outcome_count);
        out.push_back(r);
    }
    request_outcome bad;
    bad.latency_ns = ns_from_seconds(std::numeric_limits<double>::quiet_NaN());
    out.push_back(bad);
    bad = {};
    bad.latency_ns = 1'000'000;
    bad.ttft_ns = 2'000'000;  // after the end
    out.push_back(bad);
    bad = {};
    bad.cost_nano_usd = recorder_traits::max_cost_nano_usd + 1;
    out.push_back(bad);
    bad = {};
    bad.output_tokens = recorder_traits::max_tokens + 1;
    out.push_back(bad);
    bad = {};
    bad.category = static_cast<canarygate::outcome>(200);
    out.push_back(bad);
    bad = {};
    bad.latency_ns = recorder_traits::max_latency_ns;  // the largest valid latency
    bad.cost_nano_usd = recorder_traits::max_cost_nano_usd;
    out.push_back(bad);
    return out;
}

}  // namespace

TEST_CASE("event_window and recorder + collector produce the same series", "[event_window]") {
    const auto records = mixed_outcomes();
    recorder rec;
    const arm_id base = rec.add_arm("baseline");
    const arm_id cand = rec.add_arm("candidate");
    basic_collector<recorder, manual_clock> collector(rec);
    event_window window;
    std::uint64_t id = 0;
    std::uint64_t rejected_by_recorder = 0;
    std::uint64_t rejected_by_window = 0;
    for (const auto& r : records) {
        const bool to_candidate = id % 4 == 0;
        rejected_by_recorder += rec.record(to_candidate ? cand : base, r) ? 0U : 1U;
        rejected_by_window +=
            window.add(
                request_event{0, to_candidate ? arm_role::candidate : arm_role::baseline, ++id, r})
                ? 0U
                : 1U;
    }
    for (std::uint64_t i = 0; i < 40; ++i) {
        const auto kind = static_cast<feedback_kind>(i % feedback_kind_count);
        (void)rec.record_feedback(i % 2 == 0 ? cand : base, kind);
        (void)window.add(feedback_arrival{
            0, i % 2 == 0 ? arm_role::candidate : arm_role::baseline, i, kind, {}});
    }
    CHECK(rejected_by_recorder == 5);
    CHECK(rejected_by_window == rejected_by_recorder);
    collector.clock().set(std::chrono::seconds(10));
    collector.tick();
    const snapshot from_collector = collector.cumulative();
    const snapshot from_window = window.take(0, 10 * second_ns);
    for (const char* role : {"baseline", "candidate"}) {
        const arm_snapshot* a = from_collector.find_arm(role);
        const arm_snapshot* b = from_window.find_arm(role);
        REQUIRE(a != nullptr);
        REQUIRE(b != nullptr);
        CAPTURE(role);
        CHECK(a->counters() == b->counters());
        CHECK(a->histograms() == b->histograms());
        CHECK(b->counter("rejected.latency_nan") + b->counter("rejected.ttft_exceeds_latency") +
                  b->counter("rejected.cost_absurd") + b->counter("rejected.output_tokens_absurd") +
                  b->counter("rejected.outcome_invalid") ==
              wide_uint{a == from_collector.find_arm("candidate") ? 2U : 3U});
    }
}

TEST_CASE("event_window cuts windows and resets", "[event_window]") {
    event_window window;
    request_outcome r;
    r.latency_ns = 1'000'000;
    (void)window.add(request_event{5, arm_role::candidate, 1, r});
    // A window that ends before it starts is refused and loses nothing.
    CHECK_THROWS_AS((void)window.take(10, 5), std::invalid_argument);
    const snapshot first = window.take(0, 10);
    CHECK(first.window_start_ns() == 0);
    CHECK(first.window_end_ns() == 10);
    CHECK(first.find_arm("candidate")->counter(series::requests) == wide_uint{1});
    CHECK(first.find_arm("baseline")->counter(series::requests) == wide_uint{0});  // always present
    CHECK(first.find_arm("shadow") == nullptr);                                    // only when used
    const snapshot second = window.take(10, 20);
    CHECK(second.find_arm("candidate")->counter(series::requests) == wide_uint{0});
    // Shadow copies are their own arm; an unknown role is counted, not lost.
    (void)window.add(request_event{25, arm_role::shadow, 2, r});
    CHECK_FALSE(window.add(request_event{25, static_cast<arm_role>(7), 3, r}));
    const snapshot third = window.take(20, 30);
    REQUIRE(third.find_arm("shadow") != nullptr);
    CHECK(third.find_arm("shadow")->counter(series::requests) == wide_uint{1});
    CHECK(third.counter(series::rejected_unknown_arm) == wide_uint{1});
    CHECK(name(static_cast<arm_role>(7)) == "unknown");
}
