// SPDX-License-Identifier: MIT
// Tests of canarygate/stats/fixed_sample.hpp against scipy (Clopper-Pearson by
// beta.ppf, Mann-Whitney by mannwhitneyu(method='asymptotic')), and the
// defining equations of the Fieller set.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <vector>

#include "canarygate/stats/fixed_sample.hpp"
#include "generated/stats_reference_values.hpp"

namespace cs = canarygate::stats;
namespace ref = canarygate_test::reference;

TEST_CASE("Clopper-Pearson interval matches scipy beta quantiles", "[stats][fixed_sample]") {
    for (const auto& c : ref::clopper_pearson_cases) {
        const auto r = cs::clopper_pearson_interval(c.successes, c.trials, c.alpha);
        INFO(c.successes << " / " << c.trials << ", alpha = " << c.alpha);
        CHECK(r.lower == Approx(c.lower).epsilon(1e-10).margin(1e-300));
        CHECK(r.upper == Approx(c.upper).epsilon(1e-10));
    }
    const auto empty = cs::clopper_pearson_interval(0, 0, 0.05);
    CHECK(empty.lower == 0.0);
    CHECK(empty.upper == 1.0);
    CHECK_THROWS_AS((void)cs::clopper_pearson_interval(3, 2, 0.05), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::clopper_pearson_interval(1, 2, 0.0), std::invalid_argument);
}

TEST_CASE("Fieller interval: references and the defining equation", "[stats][fixed_sample]") {
    for (const auto& c : ref::fieller_cases) {
        const auto r =
            cs::fieller_ratio_interval(c.mean_num, c.var_num, c.mean_den, c.var_den, c.alpha);
        INFO("num " << c.mean_num << " (" << c.var_num << "), den " << c.mean_den << " ("
                    << c.var_den << ")");
        CHECK(r.kind == c.kind);
        if (r.kind != cs::fieller_kind::unbounded) {
            CHECK(r.lower == Approx(c.lower).epsilon(1e-10));
            CHECK(r.upper == Approx(c.upper).epsilon(1e-10));
            // The endpoints solve (m_n - theta m_d)^2 = z^2 (v_n + theta^2 v_d).
            const double z = 1.959963984540054;  // alpha = 0.05 cases below; others skip
            if (c.alpha == 0.05) {
                for (const double th : {r.lower, r.upper}) {
                    const double lhs =
                        (c.mean_num - th * c.mean_den) * (c.mean_num - th * c.mean_den);
                    const double rhs = z * z * (c.var_num + th * th * c.var_den);
                    CHECK(lhs == Approx(rhs).epsilon(1e-9));
                }
            }
        } else {
            CHECK(std::isinf(r.lower));
            CHECK(std::isinf(r.upper));
        }
    }
    SECTION("a clear denominator gives an interval around the ratio") {
        const auto r = cs::fieller_ratio_interval(12.0, 0.01, 10.0, 0.01, 0.05);
        CHECK(r.kind == cs::fieller_kind::bounded);
        CHECK(r.lower < 1.2);
        CHECK(r.upper > 1.2);
    }
    SECTION("degenerate cases are reported explicitly, never NaN") {
        const double z2 = 1.959963984540054 * 1.959963984540054;
        // A = m_d^2 - z^2 v_d = 0 up to rounding: a half-line, or an
        // interval / rays with an enormous end, but never NaN.
        const auto half = cs::fieller_ratio_interval(1.0, 0.1, 2.0, 4.0 / z2, 0.05);
        CHECK(!std::isnan(half.lower));
        CHECK(!std::isnan(half.upper));
        CHECK((std::fabs(half.lower) > 1e10 || std::fabs(half.upper) > 1e10));
        const auto zero_num = cs::fieller_ratio_interval(0.0, 1.0, 0.0, 1.0, 0.05);
        CHECK(zero_num.kind == cs::fieller_kind::unbounded);
        CHECK_THROWS_AS((void)cs::fieller_ratio_interval(1.0, 1.0, 0.0, 0.0, 0.05),
                        std::invalid_argument);
        CHECK_THROWS_AS((void)cs::fieller_ratio_interval(1.0, -1.0, 1.0, 1.0, 0.05),
                        std::invalid_argument);
        CHECK_THROWS_AS((void)cs::fieller_ratio_interval(std::nan(""), 1.0, 1.0, 1.0, 0.05),
                        std::invalid_argument);
    }
}

TEST_CASE("one-sample z test", "[stats][fixed_sample]") {
    for (const auto& c : ref::z_test_cases) {
        const auto r = cs::one_sample_z_test(c.mean, c.se, c.mu0);
        CHECK(r.z == Approx(c.z).epsilon(1e-15));
        CHECK(r.p_value == Approx(c.p_value).epsilon(1e-12).margin(1e-300));
    }
    CHECK_THROWS_AS((void)cs::one_sample_z_test(1.0, 0.0, 0.0), std::invalid_argument);
}

TEST_CASE("Mann-Whitney U matches scipy's asymptotic test (R wilcox.test semantics)",
          "[stats][fixed_sample]") {
    const std::span<const double> samples[3][2] = {{ref::mw_x, ref::mw_y},
                                                   {ref::mw_big_x, ref::mw_big_y},
                                                   {ref::mw_centre_x, ref::mw_centre_y}};
    for (const auto& c : ref::mann_whitney_cases) {
        const auto r = cs::mann_whitney_u_test(samples[c.sample][0], samples[c.sample][1], c.alt,
                                               c.continuity);
        INFO("sample " << c.sample << ", alternative " << static_cast<int>(c.alt) << ", continuity "
                       << c.continuity);
        CHECK(r.u == c.u);
        CHECK(r.p_value == Approx(c.p_value).epsilon(1e-12));
    }
    SECTION("hand-checked small case without ties") {
        // x = {1, 2}, y = {3, 4}: W = 0, mean 2, SIGMA^2 = 4 * 5 / 12.
        const std::vector<double> x{1.0, 2.0}, y{3.0, 4.0};
        const auto r = cs::mann_whitney_u_test(x, y);
        CHECK(r.u == 0.0);
        CHECK(r.z == Approx((-2.0 + 0.5) / std::sqrt(20.0 / 12.0)).epsilon(1e-15));
    }
    SECTION("all values tied: p = 1, not NaN") {
        const std::vector<double> x{5.0, 5.0}, y{5.0, 5.0, 5.0};
        const auto r = cs::mann_whitney_u_test(x, y);
        CHECK(r.p_value == 1.0);
        CHECK(r.z == 0.0);
    }
    SECTION("empty samples and NaN are refused") {
        const std::vector<double> x{1.0}, none{}, nan{std::nan("")};
        CHECK_THROWS_AS((void)cs::mann_whitney_u_test(none, x), std::invalid_argument);
        CHECK_THROWS_AS((void)cs::mann_whitney_u_test(x, none), std::invalid_argument);
        CHECK_THROWS_AS((void)cs::mann_whitney_u_test(x, nan), std::invalid_argument);
    }
}

TEST_CASE("order-statistic ranks of a quantile interval are the extreme valid ones",
          "[stats][fixed_sample]") {
    for (const std::uint64_t n : {1ULL, 5ULL, 20ULL, 100ULL, 1000ULL, 20000ULL}) {
        for (const double q : {0.5, 0.9, 0.99}) {
            for (const double alpha : {0.05, 0.2}) {
                const auto r = cs::quantile_order_statistic_ranks(n, q, alpha);
                const boost::math::binomial_distribution<double> b(static_cast<double>(n), q);
                auto F = [&](std::int64_t k) {
                    return k < 0 ? 0.0
                                 : (k >= static_cast<std::int64_t>(n)
                                        ? 1.0
                                        : boost::math::cdf(b, static_cast<double>(k)));
                };
                const auto lo = static_cast<std::int64_t>(r.lower);
                const auto up = static_cast<std::int64_t>(r.upper);
                CAPTURE(n, q, alpha, lo, up);
                REQUIRE(lo <= up);
                // P(X_(lo) > xi) = F(lo - 1) <= alpha/2, and lo + 1 would break it.
                CHECK(F(lo - 1) <= alpha / 2);
                if (lo < static_cast<std::int64_t>(n)) CHECK(F(lo) > alpha / 2);
                // P(X_(up) < xi) = 1 - F(up - 1) <= alpha/2 (up = n + 1: no bound), minimal.
                if (up <= static_cast<std::int64_t>(n)) CHECK(F(up - 1) >= 1 - alpha / 2);
                if (up >= 2) CHECK(F(up - 2) < 1 - alpha / 2);
            }
        }
    }
    // Known value: n = 100, median, 95 %: ranks 40 and 61 (the textbook table).
    const auto m = cs::quantile_order_statistic_ranks(100, 0.5, 0.05);
    CHECK(m.lower == 40);
    CHECK(m.upper == 61);
    CHECK_THROWS_WITH(cs::quantile_order_statistic_ranks(10, 1.0, 0.05), Catch::Contains("q"));
}
