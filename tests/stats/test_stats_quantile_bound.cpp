// SPDX-License-Identifier: MIT
// Tests of canarygate/stats/quantile_bound.hpp: ranks against the scipy
// re-implementation, the variance-proxy inequality its validity rests on,
// rank semantics on real order statistics, and simulated coverage.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/stats/quantile_bound.hpp"
#include "generated/stats_reference_values.hpp"
#include "support/statistics.hpp"

namespace cs = canarygate::stats;
using test_support::rate_not_above;
using test_support::uniform01;

namespace {

// Cumulant generating function of Bernoulli(p) - p.
double bernoulli_cgf(double p, double lambda) {
    return std::log1p(p * std::expm1(lambda)) - lambda * p;
}

}  // namespace

TEST_CASE("quantile ranks match the scipy re-implementation", "[stats][quantile]") {
    for (const auto& c : canarygate_test::reference::quantile_rank_cases) {
        const cs::quantile_confidence_sequence seq(c.p, c.alpha, c.t_opt, c.side);
        const auto r = seq.ranks(c.t);
        INFO("p = " << c.p << ", alpha = " << c.alpha << ", t_opt = " << c.t_opt
                    << ", t = " << c.t);
        CHECK(r.lower == c.lower);
        CHECK(r.upper == c.upper);
    }
}

TEST_CASE("the variance proxies bound the Bernoulli cumulant generating function",
          "[stats][quantile]") {
    // The validity argument of quantile_bound.hpp: for lambda >= 0,
    // K_p(lambda) <= sigma^2 lambda^2 / 2 with sigma^2 = p(1-p) when p >= 1/2
    // and 1/4 always.
    double worst_quarter = -1.0;  // max of K - lambda^2 / 8
    double worst_pq = -1.0;       // max of K - p(1-p) lambda^2 / 2 over p >= 1/2
    for (double p = 0.001; p < 1.0; p += 0.007) {
        for (double lambda = 0.0; lambda <= 60.0; lambda += 0.05) {
            const double k = bernoulli_cgf(p, lambda);
            worst_quarter = std::max(worst_quarter, k - 0.125 * lambda * lambda);
            if (p >= 0.5) {
                worst_pq = std::max(worst_pq, k - p * (1.0 - p) * lambda * lambda / 2.0);
            }
        }
    }
    CHECK(worst_quarter <= 1e-12);
    CHECK(worst_pq <= 1e-12);
    // ... and p(1-p) is NOT a valid proxy in the other direction.
    CHECK(bernoulli_cgf(0.01, 5.0) > 0.01 * 0.99 * 25.0 / 2.0);

    const cs::quantile_confidence_sequence p99(0.99, 0.05, 1000.0);
    CHECK(p99.upper_variance_proxy() == Approx(0.99 * 0.01));
    CHECK(p99.lower_variance_proxy() == 0.25);
    const cs::quantile_confidence_sequence p10(0.1, 0.05, 1000.0);
    CHECK(p10.upper_variance_proxy() == 0.25);
    CHECK(p10.lower_variance_proxy() == Approx(0.09));
    const cs::quantile_confidence_sequence upper_only(0.99, 0.05, 1000.0,
                                                      cs::quantile_bound_side::upper);
    CHECK(upper_only.lower_variance_proxy() == 0.0);
    CHECK(std::isinf(upper_only.lower_radius(100)));
}

TEST_CASE("quantile ranks are ordered, bracket t p, and say when there is no bound yet",
          "[stats][quantile]") {
    const cs::quantile_confidence_sequence seq(0.9, 0.05, 500.0);
    const auto r0 = seq.ranks(0);
    CHECK(r0.lower == 0);
    CHECK(r0.upper == 1);
    const auto r1 = seq.ranks(1);
    CHECK(r1.lower == 0);
    CHECK(r1.upper == 2);  // > t: no upper bound from one observation
    for (std::uint64_t t = 1; t <= 100000; t = t * 3 + 1) {
        const auto r = seq.ranks(t);
        const double tp = 0.9 * static_cast<double>(t);
        INFO("t = " << t << ": [" << r.lower << ", " << r.upper << "]");
        CHECK(r.lower <= r.upper);
        CHECK(static_cast<double>(r.lower) <= tp + 1.0);
        CHECK(static_cast<double>(r.upper) >= tp);
        CHECK(r.upper <= t + 1);
    }
    // Relative width shrinks: at t = 1e6 both bounds exist and are within 0.2 % of t p.
    const auto big = seq.ranks(1'000'000);
    CHECK(big.lower > 898'000);
    CHECK(big.upper < 902'000);
}

TEST_CASE("quantile ranks bound the true quantile on real order statistics", "[stats][quantile]") {
    // Log-normal(0, 1) data; the true P90 is exp(1.2815515655446004).
    const double q = std::exp(1.2815515655446004);
    const cs::quantile_confidence_sequence seq(0.9, 0.05, 1000.0);
    std::mt19937_64 rng(5);
    std::vector<double> xs;
    for (int i = 0; i < 5000; ++i) {
        const double u1 = uniform01(rng), u2 = uniform01(rng);
        xs.push_back(std::exp(std::sqrt(-2.0 * std::log1p(-u1)) *
                              std::cos(2.0 * 3.14159265358979323846 * u2)));
    }
    for (const std::size_t t : {std::size_t{200}, std::size_t{1000}, std::size_t{5000}}) {
        std::vector<double> sorted(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(t));
        std::sort(sorted.begin(), sorted.end());
        const auto r = seq.ranks(t);
        REQUIRE(r.lower >= 1);
        REQUIRE(r.upper <= t);
        INFO("t = " << t << ": X_(" << r.lower << ") = " << sorted[r.lower - 1] << ", X_("
                    << r.upper << ") = " << sorted[r.upper - 1] << ", q = " << q);
        CHECK(sorted[r.lower - 1] <= q);
        CHECK(sorted[r.upper - 1] >= q);
    }
}

TEST_CASE("quantile confidence sequence: simulated coverage failures stay below alpha",
          "[stats][quantile][simulation]") {
    // Failure at t when #{X_i < q} >= upper(t) or #{X_i <= q} < lower(t).
    // Continuous data: both counts are one Bernoulli(p) count. Discrete data
    // with an atom at q: P(X < q) = 0.5, P(X <= q) = 0.95 around p = 0.9.
    constexpr double alpha = 0.05;
    constexpr std::uint64_t horizon = 3000;
    constexpr std::uint64_t runs = 2000;
    struct scenario {
        double p, below, at_or_below;
        cs::quantile_bound_side side;
    };
    for (const scenario sc : {scenario{0.9, 0.9, 0.9, cs::quantile_bound_side::both},
                              scenario{0.5, 0.5, 0.5, cs::quantile_bound_side::both},
                              scenario{0.99, 0.99, 0.99, cs::quantile_bound_side::upper},
                              scenario{0.9, 0.5, 0.95, cs::quantile_bound_side::both}}) {
        const cs::quantile_confidence_sequence seq(sc.p, alpha, 500.0, sc.side);
        std::vector<cs::quantile_rank_bounds> table(horizon + 1);
        for (std::uint64_t t = 1; t <= horizon; ++t) {
            table[t] = seq.ranks(t);
        }
        std::mt19937_64 rng(2718);
        std::uint64_t failures = 0;
        for (std::uint64_t run = 0; run < runs; ++run) {
            std::uint64_t below = 0, at_or_below = 0;
            for (std::uint64_t t = 1; t <= horizon; ++t) {
                const double u = uniform01(rng);
                below += u < sc.below ? 1u : 0u;
                at_or_below += u < sc.at_or_below ? 1u : 0u;
                if (below >= table[t].upper || at_or_below < table[t].lower) {
                    ++failures;
                    break;
                }
            }
        }
        INFO("p = " << sc.p << ", P(X < q) = " << sc.below << ", P(X <= q) = " << sc.at_or_below
                    << ": failures " << failures << " / " << runs);
        CHECK(rate_not_above(failures, runs, alpha));
    }
}

TEST_CASE("quantile confidence sequence refuses bad configuration", "[stats][quantile]") {
    CHECK_THROWS_AS(cs::quantile_confidence_sequence(0.0, 0.05, 100.0), std::invalid_argument);
    CHECK_THROWS_AS(cs::quantile_confidence_sequence(1.0, 0.05, 100.0), std::invalid_argument);
    CHECK_THROWS_AS(cs::quantile_confidence_sequence(0.5, 0.0, 100.0), std::invalid_argument);
    CHECK_THROWS_AS(cs::quantile_confidence_sequence(0.5, 0.05, 0.0), std::invalid_argument);
    CHECK_THROWS_AS(
        cs::quantile_confidence_sequence(0.5, 0.6, 100.0, cs::quantile_bound_side::upper),
        std::invalid_argument);
}
