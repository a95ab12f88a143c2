// SPDX-License-Identifier: MIT
// Router threads against a flipping controller (run under TSan in CI): every
// decision is one of the published states, never a mix of two (the weights
// and the shadow fraction are one word), and after the last flip every
// thread routes with it.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "canarygate/rollout/router.hpp"

namespace router_concurrency_tests {

using canarygate::route_decision;
using canarygate::route_target;
using canarygate::router;
using canarygate::routing_weights;

TEST_CASE("flips are atomic and seen by every router thread") {
    // State A: everyone on the baseline, every request mirrored. State B:
    // everyone on the candidate, no shadow. A torn read would show a
    // baseline request without its shadow copy.
    const routing_weights a{.baseline = 1, .candidate = 0, .shadow_ppm = 1'000'000};
    const routing_weights b{.baseline = 0, .candidate = 1, .shadow_ppm = 0};
    router r({.scheme = canarygate::bucketing::flagd_fractional, .flag_key = "flip"}, a);
    constexpr int readers = 4;
    constexpr int flips = 2'000;
    // Relaxed: a stop flag and tallies read after join(), which orders them.
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> mixed{0};
    std::atomic<std::uint64_t> decisions{0};
    // Readers count themselves in after their first decision, so that the
    // flips happen while they route, however late the scheduler starts them.
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < readers; ++t) {
        threads.emplace_back([&, t] {
            const std::string key = "user-" + std::to_string(t);
            std::uint64_t local = 0;
            std::uint64_t bad = 0;
            bool counted_in = false;
            while (!stop.load(std::memory_order_relaxed)) {
                const route_decision d = r.route(key);
                const bool is_a = d.target == route_target::baseline && d.shadow && d.weights == a;
                const bool is_b =
                    d.target == route_target::candidate && !d.shadow && d.weights == b;
                bad += !(is_a || is_b);
                ++local;
                if (!counted_in) {
                    ready.fetch_add(1,
                                    std::memory_order_relaxed);  // relaxed: a progress signal only
                    counted_in = true;
                }
            }
            decisions.fetch_add(local, std::memory_order_relaxed);
            mixed.fetch_add(bad, std::memory_order_relaxed);
        });
    }
    while (ready.load(std::memory_order_relaxed) < readers) std::this_thread::yield();
    for (int i = 0; i < flips; ++i) {
        r.set_weights(i % 2 == 0 ? b : a);
        if (i % 16 == 0)
            std::this_thread::yield();  // let readers run between flips on a busy machine
    }
    // The last flip left state A (flips is even). Every thread must route
    // with it: spin a bounded while for each key.
    for (int t = 0; t < readers; ++t) {
        const std::string key = "user-" + std::to_string(t);
        bool seen = false;
        for (int spin = 0; spin < 1'000'000 && !seen; ++spin)
            seen = r.route(key) == route_decision{route_target::baseline, true, a};
        CHECK(seen);
    }
    stop.store(true, std::memory_order_relaxed);
    for (auto& th : threads) th.join();
    CHECK(mixed.load(std::memory_order_relaxed) == 0);
    CHECK(decisions.load(std::memory_order_relaxed) > 0);
    CHECK(r.weights() == a);
}

}  // namespace router_concurrency_tests
