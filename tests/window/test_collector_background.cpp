// SPDX-License-Identifier: MIT
// The optional background thread: it ticks on its own, publishes immutable
// snapshots that other threads read while writers record, and stops promptly
// (stop(), destruction). Labelled `concurrency` (run under TSan).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "canarygate/record/recorder.hpp"
#include "canarygate/window/collector.hpp"
#include "support/recorder_helpers.hpp"

namespace {

using canarygate::arm_id;
using canarygate::wide_uint;
using test_support::candidate_requests;
using namespace std::chrono_literals;
using manual_collector =
    canarygate::basic_collector<canarygate::recorder, canarygate::manual_clock>;

}  // namespace

TEST_CASE("a background collector publishes while writers record", "[concurrency][collector]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    canarygate::collector_config cfg;
    cfg.slot_length = 1s;
    cfg.windows = {1h};
    manual_collector col(rec, cfg);
    col.start(1ms);

    constexpr int writers = 2;
    constexpr std::uint64_t per_writer = 20'000;
    std::atomic<bool> done{false};
    std::atomic<bool> went_down{false};
    std::thread reader([&] {
        // Published snapshots are immutable values: read them freely, and
        // their counts never go down.
        std::uint64_t seen = 0;
        while (!done.load(std::memory_order_relaxed)) {  // relaxed: a stop flag
            if (const auto p = col.latest()) {
                const std::uint64_t now = candidate_requests(p->cumulative);
                // relaxed: read after join. (Catch2 assertions are not thread-safe.)
                if (now < seen) went_down.store(true, std::memory_order_relaxed);
                seen = now;
            }
            col.clock().advance(100ms);  // the reader drives the manual clock
            std::this_thread::sleep_for(200us);
        }
    });
    std::vector<std::thread> threads;
    for (int t = 0; t < writers; ++t) {
        threads.emplace_back([&] {
            canarygate::request_outcome r;
            r.latency_ns = 1000;
            for (std::uint64_t i = 0; i < per_writer; ++i) rec.record(arm, r);
        });
    }
    for (auto& t : threads) t.join();
    // Wait (bounded) until the background thread has published everything.
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    std::uint64_t published = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        if (const auto p = col.latest()) published = candidate_requests(p->cumulative);
        if (published == writers * per_writer) break;
        std::this_thread::sleep_for(1ms);
    }
    done.store(true, std::memory_order_relaxed);
    reader.join();
    CHECK_FALSE(went_down.load(std::memory_order_relaxed));
    CHECK(published == writers * per_writer);
    col.stop();
    CHECK_FALSE(col.running());
    CHECK(col.background_errors() == 0);
    const std::uint64_t ticks = col.ticks();
    CHECK(ticks > 0);
    std::this_thread::sleep_for(5ms);
    CHECK(col.ticks() == ticks);  // stopped means stopped
    // Manual ticks still work after stop(); nothing was lost or doubled.
    col.clock().advance(2h);
    col.tick();
    CHECK(candidate_requests(col.cumulative()) == writers * per_writer);
}

TEST_CASE("destroying a running collector stops its thread", "[concurrency][collector]") {
    canarygate::recorder rec;
    (void)rec.add_arm("candidate");
    {
        canarygate::collector<canarygate::recorder> col(rec);  // system clock
        col.start(1ms);
        std::this_thread::sleep_for(10ms);
        CHECK(col.running());
    }
    canarygate::collector<canarygate::recorder> next(rec);  // the recorder is free again
    next.tick();
    CHECK(next.latest() != nullptr);
}
