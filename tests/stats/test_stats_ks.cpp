// SPDX-License-Identifier: MIT
// Tests of canarygate/stats/sequential_ks.hpp: the radius against the scipy
// re-implementation of the construction, its relation to the fixed-n DKW
// radius and to Howard & Ramdas' published closed form, and simulated
// time-uniform coverage.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/stats/sequential_ks.hpp"
#include "generated/stats_reference_values.hpp"
#include "support/statistics.hpp"

namespace cs = canarygate::stats;
using test_support::rate_not_above;
using test_support::uniform01;

namespace {

// statistics.md / Howard & Ramdas (2022) Theorem 2 as quoted there
// (unverified constants; used only as a yardstick).
double howard_ramdas_closed_form(double t, double alpha) {
    return 0.85 *
           std::sqrt((std::log(std::log(std::exp(1.0) * t)) + 0.8 * std::log(1612.0 / alpha)) / t);
}

}  // namespace

TEST_CASE("sequential DKW radius matches the scipy re-implementation", "[stats][ks]") {
    for (const auto& c : canarygate_test::reference::dkw_cases) {
        INFO("t = " << c.t << ", alpha = " << c.alpha);
        CHECK(cs::sequential_dkw_radius(c.t, c.alpha) == Approx(c.sequential).epsilon(1e-9));
        CHECK(cs::dkw_radius(c.t, c.alpha) == Approx(c.fixed).epsilon(1e-14));
    }
}

TEST_CASE("sequential DKW radius: shape and comparison with fixed-n and published radii",
          "[stats][ks]") {
    CHECK(cs::sequential_dkw_radius(0, 0.05) == 1.0);
    CHECK(cs::dkw_radius(0, 0.05) == 1.0);
    CHECK(cs::sequential_dkw_radius(1, 0.05) == 1.0);
    for (std::uint64_t t = 1; t <= 10'000'000; t = t + t / 7 + 1) {
        const double eps = cs::sequential_dkw_radius(t, 0.05);
        INFO("t = " << t << ": " << eps);
        CHECK(eps <= 1.0);
        // Holding for all t at once costs more than holding at one t.
        CHECK(eps >= cs::dkw_radius(t, 0.05));
        // A smaller alpha gives a wider band.
        CHECK(cs::sequential_dkw_radius(t, 0.01) >= eps);
        if (t >= 10) {
            const double ratio = eps / howard_ramdas_closed_form(static_cast<double>(t), 0.05);
            // Measured 0.81 - 1.21 for t in [10, 1e7] (sawtooth over the
            // dyadic epochs): the provable stitched radius is about as tight
            // as the published one.
            CHECK(ratio > 0.75);
            CHECK(ratio < 1.3);
        }
    }
    CHECK_THROWS_AS((void)cs::sequential_dkw_radius(10, 0.0), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::dkw_radius(10, 1.0), std::invalid_argument);
}

TEST_CASE("sequential DKW band: simulated time-uniform coverage", "[stats][ks][simulation]") {
    // Uniform data, F(x) = x; the exact KS distance of a sorted sample is
    // max_i max(i/t - u_(i), u_(i) - (i-1)/t). Checked every 5 observations
    // up to t = 600 (the bound is proved for every t).
    constexpr double alpha = 0.05;
    constexpr std::uint64_t horizon = 600;
    constexpr std::uint64_t runs = 500;
    std::vector<double> radius(horizon + 1);
    for (std::uint64_t t = 1; t <= horizon; ++t) {
        radius[t] = cs::sequential_dkw_radius(t, alpha);
    }
    std::mt19937_64 rng(8128);
    std::uint64_t failures = 0;
    double worst_ratio = 0.0;  // largest KS / radius seen
    for (std::uint64_t run = 0; run < runs; ++run) {
        std::vector<double> sorted;
        sorted.reserve(horizon);
        bool failed = false;
        for (std::uint64_t t = 1; t <= horizon; ++t) {
            const double u = uniform01(rng);
            sorted.insert(std::upper_bound(sorted.begin(), sorted.end(), u), u);
            if (t % 5 != 0) {
                continue;
            }
            const double td = static_cast<double>(t);
            double ks = 0.0;
            for (std::size_t i = 0; i < sorted.size(); ++i) {
                const double rank = static_cast<double>(i);
                ks = std::max({ks, (rank + 1.0) / td - sorted[i], sorted[i] - rank / td});
            }
            worst_ratio = std::max(worst_ratio, ks / radius[t]);
            failed = failed || ks >= radius[t];
        }
        failures += failed ? 1u : 0u;
    }
    INFO("failures " << failures << " / " << runs << ", largest KS / radius " << worst_ratio);
    CHECK(rate_not_above(failures, runs, alpha));
}
