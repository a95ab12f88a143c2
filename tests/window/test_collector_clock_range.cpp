// SPDX-License-Identifier: MIT
// Clock readings outside the collector's range [-2^62, 2^62] ns: counted in
// "collector.clock_out_of_range", never used to move time (their records
// still go to the open slot), never a signed overflow (run under UBSan), at
// any slot length the configuration admits.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "canarygate/record/recorder.hpp"
#include "canarygate/window/collector.hpp"
#include "support/recorder_helpers.hpp"

namespace {

using test_support::candidate_requests;
using test_support::outcome_with_latency;

using canarygate::arm_id;
using canarygate::wide_uint;
using namespace std::chrono_literals;
using range_collector = canarygate::basic_collector<canarygate::recorder, canarygate::manual_clock>;

constexpr std::int64_t range_s_ns = 1'000'000'000;
constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t two_to_62 = canarygate::collector_clock_limit_ns;
static_assert(two_to_62 == std::int64_t{1} << 62);
constexpr std::string_view out_of_range_series = canarygate::series::clock_out_of_range;
constexpr std::string_view backwards_series = canarygate::series::clock_backwards;
static_assert(out_of_range_series == "collector.clock_out_of_range");

canarygate::collector_config range_config(std::chrono::nanoseconds slot,
                                          std::vector<std::chrono::nanoseconds> windows) {
    canarygate::collector_config c;
    c.slot_length = slot;
    c.windows = std::move(windows);
    return c;
}

}  // namespace

TEST_CASE("a first reading outside the range is counted and moves no time", "[collector][clock]") {
    for (const std::int64_t first : {int64_min, int64_max, -two_to_62 - 1, two_to_62 + 1}) {
        CAPTURE(first);
        canarygate::recorder rec;
        const arm_id arm = rec.add_arm("candidate");
        range_collector col(rec, range_config(10s, {30s}));
        rec.record(arm, outcome_with_latency(1000));
        col.clock().set(first);
        col.tick();
        const auto before_start = col.cumulative();
        CHECK(before_start.counter(out_of_range_series) == wide_uint{1});
        CHECK(before_start.counter(backwards_series) == wide_uint{0});
        CHECK(candidate_requests(before_start) == 1);  // read, waiting for a valid reading
        CHECK(col.window(0).window_start_ns() == col.window(0).window_end_ns());
        REQUIRE(col.latest() != nullptr);

        // The first reading in range starts the slots; what came before lands
        // in its slot, as records made before the first tick do.
        col.tick(100 * range_s_ns);
        rec.record(arm, outcome_with_latency(1000));
        col.tick(110 * range_s_ns);
        const auto w = col.window(0);
        CHECK(candidate_requests(w) == 2);
        CHECK(w.window_start_ns() == 100 * range_s_ns);
        CHECK(w.window_end_ns() == 110 * range_s_ns);
        CHECK(w.counter(out_of_range_series) == wide_uint{1});
        const auto total = col.cumulative();
        CHECK(total.window_start_ns() == 100 * range_s_ns);
        CHECK(total.window_end_ns() == 110 * range_s_ns);
        CHECK(total.counter(out_of_range_series) == wide_uint{1});
        CHECK(total.counter(backwards_series) == wide_uint{0});
        CHECK(col.latest()->tick_ns == 110 * range_s_ns);
    }
}

TEST_CASE("a reading outside the range later on is counted; its records go to the open slot",
          "[collector][clock]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    range_collector col(rec, range_config(10s, {30s}));
    col.tick(100 * range_s_ns);  // slot 10
    rec.record(arm, outcome_with_latency(1000));
    col.tick(int64_max);  // far future: ignored for time, the record goes to slot 10
    CHECK(col.window(0).window_start_ns() == col.window(0).window_end_ns());  // nothing sealed
    CHECK(col.cumulative().window_end_ns() == 100 * range_s_ns);
    rec.record(arm, outcome_with_latency(1000));
    col.tick(int64_min);
    col.tick(105 * range_s_ns);  // not a backwards reading: time never moved
    col.tick(110 * range_s_ns);  // slot 10 sealed with both records
    const auto w = col.window(0);
    CHECK(candidate_requests(w) == 2);
    CHECK(w.window_start_ns() == 100 * range_s_ns);
    CHECK(w.window_end_ns() == 110 * range_s_ns);
    CHECK(w.counter(out_of_range_series) == wide_uint{2});
    CHECK(col.cumulative().counter(out_of_range_series) == wide_uint{2});
    CHECK(col.cumulative().counter(backwards_series) == wide_uint{0});
    // A reading that goes backwards is still counted as such (and only as such).
    col.tick(50 * range_s_ns);
    CHECK(col.cumulative().counter(backwards_series) == wide_uint{1});
    CHECK(col.cumulative().counter(out_of_range_series) == wide_uint{2});
    col.tick(140 * range_s_ns);  // slot 10 expires from the 30 s window
    CHECK(col.window(0).counter(out_of_range_series) == wide_uint{0});
    CHECK(col.ticks() == 7);
}

TEST_CASE("the edges of the range work at every slot length the configuration admits",
          "[collector][clock]") {
    constexpr std::int64_t longest_slot_of_a_big_window = int64_max / 1'000'000;
    const std::vector<canarygate::collector_config> configs = {
        range_config(1ns, {1000ns}),
        range_config(10s, {5min, 15min}),
        // The longest window of the most slots: 10^6 slots of ~2.6 hours.
        range_config(std::chrono::nanoseconds(longest_slot_of_a_big_window),
                     {std::chrono::nanoseconds(longest_slot_of_a_big_window * 1'000'000)}),
        range_config(std::chrono::nanoseconds(two_to_62), {std::chrono::nanoseconds(two_to_62)}),
        range_config(std::chrono::nanoseconds(int64_max), {std::chrono::nanoseconds(int64_max)}),
        range_config(std::chrono::nanoseconds(int64_max), {}),
    };
    for (const auto& config : configs) {
        CAPTURE(config.slot_length.count());
        for (const std::int64_t start : {-two_to_62, std::int64_t{0}, two_to_62}) {
            CAPTURE(start);
            canarygate::recorder rec;
            const arm_id arm = rec.add_arm("candidate");
            range_collector col(rec, config);
            rec.record(arm, outcome_with_latency(1000));
            col.tick(start);
            col.tick(two_to_62);
            rec.record(arm, outcome_with_latency(1000));
            col.tick(two_to_62 + 1);  // out of range: ignored
            col.tick(-two_to_62);     // backwards
            const auto total = col.cumulative();
            CHECK(candidate_requests(total) == 2);
            CHECK(total.counter(out_of_range_series) == wide_uint{1});
            CHECK(total.counter(backwards_series) == wide_uint{1});
            CHECK(total.window_start_ns() <= start);
            CHECK(total.window_end_ns() == two_to_62);
            for (std::size_t i = 0; i < config.windows.size(); ++i) {
                const auto w = col.window(i);
                CHECK(w.window_start_ns() <= w.window_end_ns());
                CHECK(w.window_end_ns() <= two_to_62);
            }
        }
    }
}
