// SPDX-License-Identifier: MIT
// Collector configuration errors name the field and value; one collector per
// recorder; a replacement collector starts from everything recorded since the
// recorder was created (the retired base lives with the recorder).
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>

#include "canarygate/core/clock.hpp"
#include "canarygate/record/recorder.hpp"
#include "canarygate/window/collector.hpp"

namespace {
using canarygate::arm_id;
using canarygate::wide_uint;
using namespace std::chrono_literals;
using manual_collector =
    canarygate::basic_collector<canarygate::recorder, canarygate::manual_clock>;

canarygate::collector_config with(std::chrono::nanoseconds slot,
                                  std::vector<std::chrono::nanoseconds> windows) {
    canarygate::collector_config c;
    c.slot_length = slot;
    c.windows = std::move(windows);
    return c;
}
}  // namespace

TEST_CASE("bad configurations are refused with the field and value", "[collector][config]") {
    canarygate::recorder rec;
    CHECK_THROWS_WITH(manual_collector(rec, with(0s, {})),
                      Catch::Contains("slot_length = 0 ns must be positive"));
    CHECK_THROWS_WITH(manual_collector(rec, with(-1s, {})), Catch::Contains("slot_length"));
    CHECK_THROWS_WITH(
        manual_collector(rec, with(10s, {60s, 15s})),
        Catch::Contains("windows[1] = 15000000000 ns is not a multiple of slot_length"));
    CHECK_THROWS_WITH(manual_collector(rec, with(10s, {0s})),
                      Catch::Contains("windows[0] = 0 ns must be positive"));
    CHECK_THROWS_WITH(manual_collector(rec, with(1ns, {2ms})),
                      Catch::Contains("more than 1000000 slots"));
    CHECK_THROWS_AS(manual_collector(rec, with(0s, {})), std::invalid_argument);
    // A refused configuration left the recorder free for a collector.
    manual_collector ok(rec, with(1s, {}));  // no windows: totals only
    ok.tick();
    CHECK(ok.cumulative().sources() == 1);
}

TEST_CASE("a recorder has one collector at a time", "[collector][config]") {
    canarygate::recorder rec;
    {
        manual_collector first(rec);
        CHECK_THROWS_AS(manual_collector(rec), std::logic_error);
    }
    manual_collector second(rec);  // the first one detached
    SUCCEED();
}

TEST_CASE("a replacement collector starts from everything ever recorded", "[collector][config]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    canarygate::request_outcome r;
    r.latency_ns = 5000;
    {
        manual_collector first(rec);
        std::thread([&] {
            for (int i = 0; i < 10; ++i) rec.record(arm, r);
        }).join();
        first.tick();  // folds the exited thread's shard into the retired base
        CHECK(rec.shards_in_use() == 0);
    }
    auto w = rec.make_writer();
    for (int i = 0; i < 5; ++i) w.record(arm, r);
    manual_collector second(rec);
    second.tick();
    CHECK(second.cumulative().find_arm("candidate")->counter(canarygate::series::requests) ==
          wide_uint{15});
}

TEST_CASE("start and stop validate their use", "[collector][config]") {
    canarygate::recorder rec;
    manual_collector col(rec);
    CHECK_THROWS_AS(col.start(0s), std::invalid_argument);
    CHECK_FALSE(col.running());
    col.start(1h);
    CHECK(col.running());
    CHECK_THROWS_AS(col.start(1s), std::logic_error);
    col.stop();  // wakes the hour-long wait at once
    CHECK_FALSE(col.running());
    col.stop();  // idempotent
}

TEST_CASE("clock readings", "[clock]") {
    canarygate::manual_clock clock(5);
    CHECK(clock.now() == 5);
    clock.advance(3ms);
    CHECK(canarygate::now_ns(clock) == 3'000'005);
    clock.set(-2s);
    CHECK(clock.now() == -2'000'000'000);
    canarygate::manual_clock copy = clock;
    copy.advance(1);
    CHECK(clock.now() == -2'000'000'000);
    CHECK(copy.now() == -1'999'999'999);
    std::chrono::system_clock system;
    CHECK(canarygate::now_ns(system) > 1'600'000'000'000'000'000);  // after 2020
    struct integer_clock {
        std::uint64_t now() const noexcept { return 42; }
    } ic;
    CHECK(canarygate::now_ns(ic) == 42);
}
