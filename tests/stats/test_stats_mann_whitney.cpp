// SPDX-License-Identifier: MIT
// Tests of canarygate/stats/mann_whitney.hpp's shift interval: a tie-out
// against every assertion of Kayenta's Mann-Whitney test suite (inputs and
// expected values in generated/kayenta_mannwhitney_suite.hpp, with their
// source commit), a brute-force re-ranking of the statistic, and the root
// finder on its own.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/math/distributions/normal.hpp>

#include "canarygate/stats/detail/brent_zero.hpp"
#include "canarygate/stats/mann_whitney.hpp"
#include "generated/kayenta_mannwhitney_suite.hpp"
#include "support/statistics.hpp"

namespace cs = canarygate::stats;
namespace ks = kayenta_suite;

namespace {

double inverse_normal_cdf(double p) {
    return boost::math::quantile(boost::math::normal_distribution<double>(), p);
}

// Checks every expectation of one suite test against the values computed
// here; an expression the map does not know fails the test.
void check_expectations(std::span<const ks::expectation> expectations,
                        const std::map<std::string, double>& computed) {
    for (const auto& e : expectations) {
        INFO(e.expression << ": expected " << e.expected << " +- " << e.tolerance);
        const auto it = computed.find(e.expression);
        REQUIRE(it != computed.end());
        INFO("computed " << it->second);
        CHECK(std::fabs(it->second - e.expected) <= e.tolerance);
    }
}

std::map<std::string, double> interval_values(const ks::rank_test_call& call) {
    const auto r = cs::wilcoxon_shift_interval(call.experiment, call.control, call.confidence);
    return {{"result.confidenceInterval.head", r.lower},
            {"result.confidenceInterval.last", r.upper},
            {"result.estimate", r.estimate}};
}

// The statistic by its definition: rank x - d and y together (average ranks
// for ties, found by sorting), sum x's ranks, count the tie groups.
double rank_statistic_by_definition(const std::vector<double>& x, const std::vector<double>& y,
                                    double d, double quantile) {
    std::vector<std::pair<double, bool>> pooled;
    for (const double v : x) pooled.emplace_back(v - d, true);
    for (const double v : y) pooled.emplace_back(v, false);
    std::sort(pooled.begin(), pooled.end());
    double rank_sum = 0, ties = 0;
    for (std::size_t i = 0; i < pooled.size();) {
        std::size_t j = i;
        while (j < pooled.size() && pooled[j].first == pooled[i].first) ++j;
        const double t = static_cast<double>(j - i);
        const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
        for (std::size_t k = i; k < j; ++k) rank_sum += pooled[k].second ? rank : 0.0;
        ties += t * t * t - t;
        i = j;
    }
    const double nx = static_cast<double>(x.size()), ny = static_cast<double>(y.size());
    const double dz = rank_sum - nx * (nx + 1) / 2 - nx * ny / 2;
    const double sigma =
        std::sqrt((nx * ny / 12) * ((nx + ny + 1) - ties / ((nx + ny) * (nx + ny - 1))));
    const double correction = dz > 0 ? 0.5 : (dz < 0 ? -0.5 : 0.0);
    return (dz - correction) / sigma - quantile;
}

}  // namespace

TEST_CASE("shift interval ties out with Kayenta's Mann-Whitney suite", "[stats][mann_whitney]") {
    SECTION(ks::wilcoxon_diff_function::name) {
        namespace t = ks::wilcoxon_diff_function;
        const cs::rank_shift_statistic f(t::x, t::y);
        // Kayenta re-ranks at every shift: at d = 5 no x - d ties a y any more
        // and sigma is 10,089, where the shift-0 tie correction gave 10,070.
        check_expectations(t::expectations, {{"wilcoxonDiff:0:0:x:y", f(0.0, 0.0)},
                                             {"wilcoxonDiff:5:0:x:y", f(5.0, 0.0)}});
    }
    SECTION(ks::test_zquant::name) {
        namespace t = ks::test_zquant;
        check_expectations(t::expectations,
                           {{"zQuant", inverse_normal_cdf(t::inverse_cdf_argument_0)}});
    }
    SECTION(ks::mann_whitney_confidence_interval_estimate::name) {
        namespace t = ks::mann_whitney_confidence_interval_estimate;
        check_expectations(t::expectations, interval_values(t::call));
    }
    SECTION(ks::mann_whitney_confidence_interval_estimate_problem_case::name) {
        namespace t = ks::mann_whitney_confidence_interval_estimate_problem_case;
        check_expectations(t::expectations, interval_values(t::call));
    }
    SECTION(ks::mann_whitney_confidence_interval_estimate_tie_out_with_r_version::name) {
        namespace t = ks::mann_whitney_confidence_interval_estimate_tie_out_with_r_version;
        check_expectations(t::expectations, interval_values(t::call));
    }
    SECTION(ks::mann_whitney_confidence_interval_estimate_tie_out_with_r_version_large::name) {
        namespace t = ks::mann_whitney_confidence_interval_estimate_tie_out_with_r_version_large;
        check_expectations(t::expectations, interval_values(t::call));
    }
    SECTION(ks::mann_whitney_intermediate_values_variables::name) {
        // The suite's steps one by one: end points, quantiles, the statistic
        // at the end points, then the three roots without the end-point
        // shortcut (Kayenta calls its Brent solver directly here).
        namespace t = ks::mann_whitney_intermediate_values_variables;
        const cs::rank_shift_statistic f(t::x, t::y);
        const double mu_min = f.smallest_shift(), mu_max = f.largest_shift();
        const double zq_lower = -inverse_normal_cdf(t::inverse_cdf_argument_0);
        const double zq_upper = inverse_normal_cdf(t::inverse_cdf_argument_1);
        auto root = [&](double zq) {
            return cs::detail::brent_zero(
                mu_min, mu_max, f(mu_min, zq), f(mu_max, zq), [&](double d) { return f(d, zq); },
                1e-4, 1000);
        };
        check_expectations(t::expectations, {{"muMin", mu_min},
                                             {"muMax", mu_max},
                                             {"zqLower", zq_lower},
                                             {"zqUpper", zq_upper},
                                             {"fLower1", f(mu_min, zq_lower)},
                                             {"fUpper1", f(mu_max, zq_lower)},
                                             {"fLower2", f(mu_min, zq_upper)},
                                             {"fUpper2", f(mu_max, zq_upper)},
                                             {"ciLower", root(zq_lower)},
                                             {"ciUpper", root(zq_upper)},
                                             {"estimate", root(0.0)}});
        // The public function agrees where the end-point shortcut does not apply.
        const auto r = cs::wilcoxon_shift_interval(t::x, t::y, t::confidence_level);
        CHECK(r.lower == root(zq_lower));
        CHECK(r.upper == root(zq_upper));
        CHECK(r.estimate == root(0.0));
    }
}

TEST_CASE("rank shift statistic equals its definition at every shift, ties included",
          "[stats][mann_whitney]") {
    std::mt19937_64 rng(2026);
    for (int trial = 0; trial < 200; ++trial) {
        // Coarse values (multiples of 0.5) make ties within and across samples.
        const auto nx = 1 + rng() % 30;
        const auto ny = 1 + rng() % 30;
        std::vector<double> x, y;
        for (std::uint64_t i = 0; i < nx; ++i) x.push_back(0.5 * static_cast<double>(rng() % 12));
        for (std::uint64_t i = 0; i < ny; ++i) y.push_back(0.5 * static_cast<double>(rng() % 12));
        const cs::rank_shift_statistic f(x, y);
        for (double d = -6.0; d <= 6.0; d += 0.25) {
            const bool all_tied =
                std::all_of(x.begin(), x.end(), [&](double v) { return v - d == y[0]; }) &&
                std::all_of(y.begin(), y.end(), [&](double v) { return v == y[0]; });
            if (all_tied) {
                CHECK_THROWS_AS((void)f(d, 0.0), std::invalid_argument);
                continue;
            }
            INFO("trial " << trial << ", shift " << d);
            CHECK(f(d, 1.5) == rank_statistic_by_definition(x, y, d, 1.5));
        }
    }
}

TEST_CASE("shift interval brackets the Hodges-Lehmann estimate and tracks a known shift",
          "[stats][mann_whitney]") {
    // Continuous data shifted by exactly 10: the interval covers the median
    // pairwise difference and the estimate lies within a pairwise step of it.
    std::mt19937_64 rng(7);
    std::vector<double> x, y;
    for (int i = 0; i < 60; ++i) {
        y.push_back(100.0 * test_support::uniform01(rng));
        x.push_back(10.0 + 100.0 * test_support::uniform01(rng));
    }
    std::vector<double> differences;
    for (const double a : x)
        for (const double b : y) differences.push_back(a - b);
    std::sort(differences.begin(), differences.end());
    const double median = (differences[1799] + differences[1800]) / 2;
    const auto r = cs::wilcoxon_shift_interval(x, y, 0.95);
    CHECK(r.lower < median);
    CHECK(median < r.upper);
    CHECK(std::fabs(r.estimate - median) < (differences[1830] - differences[1770]));
    CHECK(r.lower < r.estimate);
    CHECK(r.estimate < r.upper);
    // A wider confidence gives a wider interval.
    const auto wide = cs::wilcoxon_shift_interval(x, y, 0.99);
    CHECK(wide.lower < r.lower);
    CHECK(wide.upper > r.upper);
}

TEST_CASE("shift interval refuses what it cannot compute", "[stats][mann_whitney]") {
    const std::vector<double> x{1.0, 2.0, 3.0}, none{}, nan{1.0, std::nan("")};
    const std::vector<double> inf{1.0, std::numeric_limits<double>::infinity()};
    CHECK_THROWS_AS((void)cs::wilcoxon_shift_interval(none, x), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::wilcoxon_shift_interval(x, none), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::wilcoxon_shift_interval(x, nan), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::wilcoxon_shift_interval(inf, x), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::wilcoxon_shift_interval(x, x, 1.0), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::wilcoxon_shift_interval(x, x, 0.95, 0.0), std::invalid_argument);
    // Each sample a single value: every shift the roots visit ties them all.
    const std::vector<double> fives{5.0, 5.0}, sevens{7.0, 7.0, 7.0};
    CHECK_THROWS_WITH((void)cs::wilcoxon_shift_interval(fives, sevens),
                      Catch::Contains("every observation is tied"));
}

TEST_CASE("Brent's root finder", "[stats][mann_whitney]") {
    int calls = 0;
    auto cubic = [&](double v) {
        ++calls;
        return v * v * v - 2.0;
    };
    const double root = cs::detail::brent_zero(0.0, 2.0, cubic(0.0), cubic(2.0), cubic, 1e-12, 100);
    CHECK(std::fabs(root - std::cbrt(2.0)) < 1e-11);
    CHECK(calls < 20);  // superlinear: bisection alone needs about 40
    // A root at an end point is returned without a call.
    calls = 0;
    CHECK(cs::detail::brent_zero(2.0, 3.0, 0.0, 1.0, cubic, 1e-12, 100) == 2.0);
    CHECK(calls == 0);
    // The iteration cap bounds the calls.
    calls = 0;
    (void)cs::detail::brent_zero(0.0, 2.0, cubic(0.0), cubic(2.0), cubic, 0.0, 3);
    CHECK(calls <= 2 + 4);
}
