// SPDX-License-Identifier: MIT
// Window rotation on a manual clock: slot boundaries, gaps without traffic,
// clock jumps forward (any size, O(ring) work) and backwards (counted, no
// corruption), window bounds, and a randomised schedule checked against a
// brute-force model of where every record must land.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "canarygate/record/recorder.hpp"
#include "canarygate/window/collector.hpp"
#include "support/recorder_helpers.hpp"

namespace {

using test_support::candidate_requests;
using test_support::outcome_with_latency;

using canarygate::arm_id;
using canarygate::request_outcome;
using canarygate::wide_uint;
using namespace std::chrono_literals;
namespace series = canarygate::series;
using manual_collector =
    canarygate::basic_collector<canarygate::recorder, canarygate::manual_clock>;

constexpr std::int64_t s_ns = 1'000'000'000;

canarygate::collector_config config(std::vector<std::chrono::nanoseconds> windows,
                                    std::chrono::nanoseconds slot = 10s) {
    canarygate::collector_config c;
    c.slot_length = slot;
    c.windows = std::move(windows);
    return c;
}

}  // namespace

TEST_CASE("a slot is sealed when the clock reaches its end, not before", "[collector][windows]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    manual_collector col(rec, config({30s}));
    col.tick(0);
    for (int i = 0; i < 5; ++i) rec.record(arm, outcome_with_latency(1000));
    col.tick(10 * s_ns - 1);  // still slot 0
    CHECK(candidate_requests(col.window(0)) == 0);
    CHECK(col.window(0).window_start_ns() == col.window(0).window_end_ns());  // nothing sealed yet
    CHECK(candidate_requests(col.cumulative()) == 5);  // the totals include the open slot
    rec.record(arm, outcome_with_latency(1000));
    col.tick(10 * s_ns);  // reads the sixth record into slot 0, then seals it
    const auto w = col.window(0);
    CHECK(candidate_requests(w) == 6);
    CHECK(w.window_start_ns() == 0);
    CHECK(w.window_end_ns() == 10 * s_ns);
}

TEST_CASE("a window keeps its last n slots: +newest, -expired", "[collector][windows]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    manual_collector col(rec, config({30s, 10s}));
    col.tick(0);
    // Slot k gets k + 1 records.
    for (std::int64_t k = 0; k < 6; ++k) {
        for (std::int64_t i = 0; i <= k; ++i) rec.record(arm, outcome_with_latency(1000));
        col.tick((k + 1) * 10 * s_ns);
    }
    // Sealed: slots 0..5 with 1..6 records.
    const auto w30 = col.window(0);
    CHECK(candidate_requests(w30) == 4 + 5 + 6);
    CHECK(w30.window_start_ns() == 30 * s_ns);
    CHECK(w30.window_end_ns() == 60 * s_ns);
    const auto w10 = col.window(1);
    CHECK(candidate_requests(w10) == 6);
    CHECK(w10.window_start_ns() == 50 * s_ns);
    CHECK(candidate_requests(col.cumulative()) == 21);
    const auto* a = w30.find_arm("candidate");
    REQUIRE(a != nullptr);
    const auto* latency = a->histogram(series::latency);
    REQUIRE(latency != nullptr);
    CHECK(latency->count() == 15);
    CHECK(a->counter(series::latency_sum) == wide_uint{15'000});
}

TEST_CASE("gaps without traffic seal empty slots", "[collector][windows]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    manual_collector col(rec, config({50s}));
    col.tick(0);
    rec.record(arm, outcome_with_latency(1000));
    col.tick(25 * s_ns);  // slot 0 had the record; slot 1 empty; now in slot 2
    CHECK(candidate_requests(col.window(0)) == 1);
    CHECK(col.window(0).window_start_ns() == 0);
    CHECK(col.window(0).window_end_ns() == 20 * s_ns);
    col.tick(50 * s_ns);  // slots 0..4 sealed: still in the window
    CHECK(candidate_requests(col.window(0)) == 1);
    col.tick(60 * s_ns);  // slot 0 expires
    CHECK(candidate_requests(col.window(0)) == 0);
    CHECK(col.window(0).window_start_ns() == 10 * s_ns);
    CHECK(col.window(0).window_end_ns() == 60 * s_ns);
    CHECK(candidate_requests(col.cumulative()) == 1);
}

TEST_CASE("a huge forward jump costs one ring, empties the windows, keeps the totals",
          "[collector][windows]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    manual_collector col(rec, config({30s, 60s}));
    col.tick(0);
    for (int i = 0; i < 7; ++i) rec.record(arm, outcome_with_latency(1000));
    col.tick(20 * s_ns);
    CHECK(candidate_requests(col.window(1)) == 7);
    // 10^9 s later (10^8 slots): must not seal them one by one.
    const std::int64_t far = 1'000'000'000'000'000'000;  // ns
    const auto started = std::chrono::steady_clock::now();
    rec.record(arm,
               outcome_with_latency(1000));  // read at the jump: lands in the open slot (slot 2)
    col.tick(far);
    CHECK(std::chrono::steady_clock::now() - started < 1s);
    CHECK(candidate_requests(col.window(0)) == 0);
    CHECK(candidate_requests(col.window(1)) == 0);
    CHECK(candidate_requests(col.cumulative()) == 8);
    const std::int64_t newest_end = far / (10 * s_ns) * (10 * s_ns);
    CHECK(col.window(1).window_end_ns() == newest_end);
    CHECK(col.window(1).window_start_ns() == newest_end - 60 * s_ns);
    // Traffic after the jump is windowed normally.
    rec.record(arm, outcome_with_latency(1000));
    col.tick(far + 10 * s_ns);
    CHECK(candidate_requests(col.window(0)) == 1);
}

TEST_CASE("a jump of exactly one ring and of one ring plus one", "[collector][windows]") {
    for (const std::int64_t jump_slots : {3, 4, 5}) {
        INFO("jump " << jump_slots << " slots");
        canarygate::recorder rec;
        const arm_id arm = rec.add_arm("candidate");
        manual_collector col(rec, config({30s}));  // ring of 3 slots
        col.tick(0);
        rec.record(arm, outcome_with_latency(1000));
        col.tick(10 * s_ns);  // slot 0 sealed with 1 record
        rec.record(arm, outcome_with_latency(1000));
        rec.record(arm, outcome_with_latency(1000));
        col.tick((1 + jump_slots) * 10 * s_ns);  // slot 1 (2 records) sealed, then empties
        // Newest sealed slot: jump_slots; the window is [jump_slots - 2, jump_slots],
        // so slot 1 stays in it only for a jump of 3. Jumps of 4 and 5 take the
        // O(ring) path (more than a ring of slots passed).
        CHECK(candidate_requests(col.window(0)) == (jump_slots <= 3 ? 2U : 0U));
        CHECK(candidate_requests(col.cumulative()) == 3);
    }
}

TEST_CASE("the clock going backwards is counted and corrupts nothing", "[collector][windows]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    manual_collector col(rec, config({30s}));
    col.tick(100 * s_ns);  // slot 10
    rec.record(arm, outcome_with_latency(1000));
    col.tick(50 * s_ns);  // backwards: counted; the record goes to the open slot (10)
    rec.record(arm, outcome_with_latency(1000));
    col.tick(105 * s_ns);  // forward again but same slot
    CHECK(candidate_requests(col.window(0)) == 0);
    CHECK(col.cumulative().counter(series::clock_backwards) == wide_uint{1});
    col.tick(110 * s_ns);  // slot 10 sealed with both records
    const auto w = col.window(0);
    CHECK(candidate_requests(w) == 2);
    CHECK(w.window_start_ns() == 100 * s_ns);
    CHECK(w.counter(series::clock_backwards) == wide_uint{1});  // slot 10 saw it
    col.tick(140 * s_ns);  // slot 10 expires from the 30 s window
    CHECK(candidate_requests(col.window(0)) == 0);
    CHECK(col.window(0).counter(series::clock_backwards) == wide_uint{0});
    CHECK(col.cumulative().counter(series::clock_backwards) == wide_uint{1});
}

TEST_CASE("times before the epoch use floor division", "[collector][windows]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    manual_collector col(rec, config({20s}));
    col.tick(-25 * s_ns);  // slot -3 = [-30 s, -20 s)
    rec.record(arm, outcome_with_latency(1000));
    col.tick(-20 * s_ns);
    const auto w = col.window(0);
    CHECK(candidate_requests(w) == 1);
    CHECK(w.window_start_ns() == -30 * s_ns);
    CHECK(w.window_end_ns() == -20 * s_ns);
    CHECK(col.cumulative().window_start_ns() == -30 * s_ns);
    CHECK(col.cumulative().window_end_ns() == -20 * s_ns);
}

TEST_CASE("published snapshots follow the ticks", "[collector][windows]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    manual_collector col(rec, config({10s, 20s}));
    CHECK(col.latest() == nullptr);
    rec.record(arm, outcome_with_latency(1000));
    col.clock().set(10s);
    col.tick();
    col.clock().advance(10s);
    col.tick();
    const auto published = col.latest();
    REQUIRE(published != nullptr);
    CHECK(published->tick_ns == 20 * s_ns);
    REQUIRE(published->windows.size() == 2);
    CHECK(published->windows[0] == col.window(0));
    CHECK(published->windows[1] == col.window(1));
    CHECK(published->cumulative == col.cumulative());
    CHECK(candidate_requests(published->windows[1]) == 1);
    CHECK(col.ticks() == 2);

    canarygate::recorder quiet;
    auto cfg = config({10s});
    cfg.publish = false;
    manual_collector lazy(quiet, cfg);
    lazy.tick();
    CHECK(lazy.latest() == nullptr);
    CHECK_THROWS_AS((void)lazy.window(1), std::out_of_range);
}

TEST_CASE("arms added after the collector started appear with all their records",
          "[collector][windows]") {
    canarygate::recorder rec;
    const arm_id first = rec.add_arm("baseline");
    manual_collector col(rec, config({30s}));
    col.tick(0);
    rec.record(first, outcome_with_latency(1000));
    const arm_id late = rec.add_arm("candidate");
    rec.record(late, outcome_with_latency(1000));
    rec.record(late, outcome_with_latency(1000));
    col.tick(10 * s_ns);
    const auto w = col.window(0);
    REQUIRE(w.arms().size() == 2);
    CHECK(candidate_requests(w) == 2);
    CHECK(w.find_arm("baseline")->counter(series::requests) == wide_uint{1});
}

TEST_CASE("randomised schedule against a brute-force model", "[collector][windows][model]") {
    const std::vector<std::int64_t> window_slots = {3, 5, 1, 7};
    const std::int64_t slot = 10 * s_ns;
    std::vector<std::chrono::nanoseconds> windows;
    for (const auto n : window_slots) windows.emplace_back(n * slot);

    for (const std::uint64_t seed : {1U, 2U, 3U}) {
        INFO("seed " << seed);
        std::mt19937_64 rng(seed);
        canarygate::recorder rec;
        const arm_id arm = rec.add_arm("candidate");
        auto cfg = config(windows, std::chrono::nanoseconds(slot));
        cfg.publish = false;  // the model queries windows directly
        manual_collector col(rec, cfg);

        auto slot_of = [&](std::int64_t t) {
            return t >= 0 ? t / slot : -((-t + slot - 1) / slot);
        };
        std::map<std::int64_t, std::uint64_t> per_slot;  // model: records per slot
        std::uint64_t total = 0, pending = 0, backwards = 0;
        bool started = false;
        std::int64_t open = 0, first = 0, latest = 0;
        std::int64_t now = static_cast<std::int64_t>(rng() % 1000) * s_ns - 500 * s_ns;

        for (int step = 0; step < 2000; ++step) {
            const auto n = rng() % 4;
            for (std::uint64_t i = 0; i < n; ++i)
                rec.record(arm, outcome_with_latency(1000 + rng() % 100'000));
            pending += n;
            // Move the clock: mostly small steps, sometimes gaps and jumps.
            const auto kind = rng() % 100;
            if (kind < 70) {
                now += static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(slot));
            } else if (kind < 80) {
                now += static_cast<std::int64_t>(rng() % 12) * slot;  // gap of up to 12 slots
            } else if (kind < 85) {
                now += static_cast<std::int64_t>(rng() % 100'000) * slot;  // far jump
            } else if (kind < 92) {
                now -= static_cast<std::int64_t>(
                    rng() % static_cast<std::uint64_t>(3 * slot));  // backwards
            }                                                       // else: same time again
            col.tick(now);

            // The model of tick(now).
            if (!started) {
                started = true;
                open = first = slot_of(now);
                latest = now;
            }
            per_slot[open] += pending;
            total += pending;
            pending = 0;
            if (now < latest) {
                ++backwards;
            } else {
                latest = now;
                open = std::max(open, slot_of(now));
            }

            if (step % 11 != 0) continue;
            for (std::size_t w = 0; w < window_slots.size(); ++w) {
                const auto snap = col.window(w);
                if (open == first) {
                    CHECK(candidate_requests(snap) == 0);
                    continue;
                }
                const std::int64_t newest = open - 1;
                const std::int64_t oldest = std::max(first, newest - window_slots[w] + 1);
                std::uint64_t expected = 0;
                for (auto it = per_slot.lower_bound(oldest);
                     it != per_slot.end() && it->first <= newest; ++it) {
                    expected += it->second;
                }
                CHECK(candidate_requests(snap) == expected);
                CHECK(snap.window_start_ns() == oldest * slot);
                CHECK(snap.window_end_ns() == (newest + 1) * slot);
            }
            const auto totals = col.cumulative();
            CHECK(candidate_requests(totals) == total);
            CHECK(totals.counter(series::clock_backwards) == wide_uint{backwards});
        }
        CHECK(col.ring_bytes() < 4096);  // sparse sealed slots: a few counters each
    }
}
