// SPDX-License-Identifier: MIT
// The histogram seen from a user's test suite (doctest is what the testing kit
// will offer users): record a day of latencies, read percentiles, combine
// replicas, slide a window.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "canarygate/canarygate.hpp"

namespace {
std::uint64_t ms(double milliseconds) {
    return static_cast<std::uint64_t>(std::llround(milliseconds * 1e6));
}
}  // namespace

TEST_SUITE("histogram as users see it") {
    TEST_CASE("percentiles of a known set are within the advertised error") {
        canarygate::exp_histogram h;
        // 1..1000 ms: the lower empirical P99 is the value of rank floor(0.99 * 999) = 989.
        for (int i = 1; i <= 1000; ++i) h.record(ms(i));
        const auto p99 = h.quantile(0.99);
        REQUIRE(p99.bounded());
        CHECK(p99.value == doctest::Approx(990e6).epsilon(h.layout().relative_error()));
        CHECK(p99.lower < 990e6);
        CHECK(p99.upper >= 990e6);
        CHECK(h.quantile(0.0).value == doctest::Approx(1e6).epsilon(0.011));
    }

    TEST_CASE("replicas merge into exactly what one process would have seen") {
        std::mt19937_64 rng(11);
        std::lognormal_distribution<double> latency_ms(std::log(400.0), 0.7);
        canarygate::exp_histogram fleet;
        std::vector<canarygate::exp_histogram> replicas(8);
        for (int i = 0; i < 40000; ++i) {
            const auto v = ms(latency_ms(rng));
            fleet.record(v);
            replicas[static_cast<std::size_t>(i) % replicas.size()].record(v);
        }
        canarygate::exp_histogram merged;
        for (const auto& r : replicas) merged += r;
        CHECK(merged == fleet);
        CHECK(merged.quantile(0.99).value == fleet.quantile(0.99).value);
    }

    TEST_CASE("a sliding window is the running total minus the expired slot") {
        canarygate::exp_histogram old_slot;
        canarygate::exp_histogram new_slot;
        for (int i = 0; i < 100; ++i) old_slot.record(ms(10'000));  // a slow minute
        for (int i = 0; i < 100; ++i) new_slot.record(ms(200));
        auto window = old_slot;
        window += new_slot;
        CHECK(window.quantile(0.99).value > 9e9);
        window -= old_slot;
        CHECK(window == new_slot);
        CHECK(window.quantile(0.99).value == doctest::Approx(2e8).epsilon(0.011));
    }

    TEST_CASE("bad measurements are visible, not lost") {
        canarygate::exp_histogram h(canarygate::histogram_layout(5, -20, 12));  // seconds
        CHECK_FALSE(h.record(std::nan("")));
        CHECK_FALSE(h.record(-0.25));
        CHECK(h.record(0.25));
        CHECK(h.count() == 1);
        CHECK(h.rejected_count() == 2);
    }
}
