// SPDX-License-Identifier: MIT
// Tests of canarygate/stats/normal_mixture.hpp and canarygate/stats/invert.hpp:
// the closed forms against Boost quadrature of the mixtures and the scipy
// references, the tuning of rho, and simulated crossing rates.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

#include <boost/math/quadrature/gauss_kronrod.hpp>

#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/stats/invert.hpp"
#include "canarygate/stats/normal_mixture.hpp"
#include "generated/stats_reference_values.hpp"
#include "support/statistics.hpp"

namespace cs = canarygate::stats;
using test_support::rate_not_above;

namespace {

// ln int exp(l s - l^2 v / 2) w(l) dl over l >= 0 (one-sided, w the
// half-normal density) or over all l (two-sided, w the N(0, 1/rho) density),
// by adaptive Gauss-Kronrod on [0, inf) pieces, scaled by the peak.
double log_mixture_numeric(double s, double v, double rho, bool one_sided) {
    const double w = v + rho;
    const double peak_l = one_sided ? std::max(0.0, s / w) : s / w;
    const double peak = peak_l * s - peak_l * peak_l * w / 2.0;
    const auto f = [&](double l) { return std::exp(l * s - l * l * w / 2.0 - peak); };
    double total = 0.0;
    // the integrand is a Gaussian bump of width 1/sqrt(w) at peak_l
    const double sd = 1.0 / std::sqrt(w);
    const double lo = one_sided ? std::max(0.0, peak_l - 40.0 * sd) : peak_l - 40.0 * sd;
    const double hi = peak_l + 40.0 * sd;
    if (one_sided && lo > 0.0) {
        total +=
            boost::math::quadrature::gauss_kronrod<double, 61>::integrate(f, 0.0, lo, 8, 1e-12);
    }
    for (int i = 0; i < 8; ++i) {
        const double a = lo + (hi - lo) * i / 8.0;
        const double b = lo + (hi - lo) * (i + 1) / 8.0;
        total += boost::math::quadrature::gauss_kronrod<double, 61>::integrate(f, a, b, 8, 1e-12);
    }
    const double log_weight = one_sided ? std::log(2.0 * std::sqrt(rho / (2.0 * std::numbers::pi)))
                                        : std::log(std::sqrt(rho / (2.0 * std::numbers::pi)));
    return std::log(total) + peak + log_weight;
}

}  // namespace

TEST_CASE("one-sided normal mixture closed form equals numerical integration",
          "[stats][normal_mixture]") {
    for (const double rho : {0.1, 1.0, 37.0, 2000.0}) {
        for (const double v : {0.0, 1.0, 50.0, 1e4, 1e6}) {
            for (const double z : {-30.0, -5.0, -1.0, 0.0, 0.5, 2.0, 6.0, 25.0}) {
                const double s = z * std::sqrt(v + rho);
                const double closed = cs::one_sided_normal_mixture_log_e(s, v, rho);
                const double numeric = log_mixture_numeric(s, v, rho, true);
                INFO("s = " << s << ", v = " << v << ", rho = " << rho << ": closed " << closed
                            << ", numeric " << numeric);
                CHECK(std::fabs(closed - numeric) <= 1e-10 * std::max(1.0, std::fabs(numeric)));
            }
        }
    }
    for (const auto& c : canarygate_test::reference::one_sided_mixture_cases) {
        const double got = cs::one_sided_normal_mixture_log_e(c.s, c.v, c.rho);
        INFO("s = " << c.s << ", v = " << c.v << ", rho = " << c.rho << ": got " << got
                    << ", scipy quad " << c.log_e);
        CHECK(std::fabs(got - c.log_e) <= 1e-10 * std::max(1.0, std::fabs(c.log_e)));
    }
}

TEST_CASE("two-sided normal mixture closed form equals numerical integration",
          "[stats][normal_mixture]") {
    for (const double rho : {0.1, 1.0, 37.0}) {
        for (const double v : {0.0, 1.0, 50.0, 1e4}) {
            for (const double z : {-8.0, -1.0, 0.0, 3.0}) {
                const double s = z * std::sqrt(v + rho);
                const double closed = cs::two_sided_normal_mixture_log_e(s, v, rho);
                const double numeric = log_mixture_numeric(s, v, rho, false);
                INFO("s = " << s << ", v = " << v << ", rho = " << rho);
                CHECK(std::fabs(closed - numeric) <= 1e-10 * std::max(1.0, std::fabs(numeric)));
            }
        }
    }
}

TEST_CASE("normal-mixture boundaries and rho match the references", "[stats][normal_mixture]") {
    for (const auto& c : canarygate_test::reference::mixture_boundary_cases) {
        INFO("v = " << c.v << ", v_opt = " << c.v_opt << ", alpha = " << c.alpha);
        const double rho1 = cs::normal_mixture_rho(c.v_opt, c.alpha, cs::sides::one_sided);
        const double rho2 = cs::normal_mixture_rho(c.v_opt, c.alpha, cs::sides::two_sided);
        CHECK(rho1 == Approx(c.rho_one_sided).epsilon(1e-14));
        CHECK(rho2 == Approx(c.rho_two_sided).epsilon(1e-14));
        const double u1 = cs::one_sided_normal_mixture_boundary(c.v, rho1, c.alpha);
        const double u2 = cs::two_sided_normal_mixture_boundary(c.v, rho2, c.alpha);
        CHECK(u1 == Approx(c.one_sided).epsilon(1e-12));
        CHECK(u2 == Approx(c.two_sided).epsilon(1e-14));
        CHECK(cs::normal_mixture_boundary(c.v, rho1, c.alpha, cs::sides::one_sided) == u1);
        CHECK(cs::normal_mixture_boundary(c.v, rho2, c.alpha, cs::sides::two_sided) == u2);
    }
}

TEST_CASE("normal-mixture boundaries solve M = 1/alpha and are ordered",
          "[stats][normal_mixture]") {
    for (const double alpha : {0.001, 0.025, 0.05, 0.3}) {
        for (const double v : {0.0, 3.0, 100.0, 1e5, 1e9}) {
            const double rho = cs::normal_mixture_rho(1000.0, alpha, cs::sides::one_sided);
            const double u1 = cs::one_sided_normal_mixture_boundary(v, rho, alpha);
            const double u2 = cs::two_sided_normal_mixture_boundary(v, rho, alpha);
            INFO("alpha = " << alpha << ", v = " << v);
            // The returned one-sided boundary is on the rejecting side, and tight.
            CHECK(cs::one_sided_normal_mixture_log_e(u1, v, rho) >= std::log(1.0 / alpha));
            CHECK(cs::one_sided_normal_mixture_log_e(u1, v, rho) ==
                  Approx(std::log(1.0 / alpha)).epsilon(1e-12));
            CHECK(cs::two_sided_normal_mixture_log_e(u2, v, rho) ==
                  Approx(std::log(1.0 / alpha)).epsilon(1e-12));
            // One-sided at alpha lies between the two-sided boundaries at 2 alpha and alpha.
            CHECK(u1 <= u2);
            if (2.0 * alpha < 1.0) {
                CHECK(u1 >= cs::two_sided_normal_mixture_boundary(v, rho, 2.0 * alpha));
            }
        }
    }
}

TEST_CASE("rho from v_opt makes the two-sided boundary nearly tightest at v_opt",
          "[stats][normal_mixture]") {
    for (const double alpha : {0.01, 0.05}) {
        const double v_opt = 500.0;
        const double rho = cs::normal_mixture_rho(v_opt, alpha);
        const double best = cs::two_sided_normal_mixture_boundary(v_opt, rho, alpha);
        for (const double factor : {0.5, 0.8, 0.95, 1.05, 1.25, 2.0}) {
            CHECK(best <=
                  cs::two_sided_normal_mixture_boundary(v_opt, rho * factor, alpha) * (1.0 + 1e-4));
        }
    }
}

TEST_CASE("normal mixture: bad arguments are refused", "[stats][normal_mixture]") {
    CHECK_THROWS_AS((void)cs::normal_mixture_rho(0.0, 0.05), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::normal_mixture_rho(10.0, 0.5, cs::sides::one_sided),
                    std::invalid_argument);
    CHECK_THROWS_AS((void)cs::one_sided_normal_mixture_log_e(std::nan(""), 1.0, 1.0),
                    std::invalid_argument);
    CHECK_THROWS_AS((void)cs::one_sided_normal_mixture_log_e(1.0, -1.0, 1.0),
                    std::invalid_argument);
    CHECK_THROWS_AS((void)cs::two_sided_normal_mixture_log_e(1.0, 1.0, 0.0), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::one_sided_normal_mixture_boundary(1.0, 1.0, 1.0),
                    std::invalid_argument);
    CHECK_THROWS_AS((void)cs::two_sided_normal_mixture_boundary(
                        std::numeric_limits<double>::infinity(), 1.0, 0.1),
                    std::invalid_argument);
}

TEST_CASE("normal-mixture boundaries: simulated crossing rates stay below alpha",
          "[stats][normal_mixture][simulation]") {
    // Rademacher increments are 1-sub-Gaussian: exp(l S_t - l^2 t / 2) is a
    // supermartingale for every real l, so V_t = t. Every t is checked.
    constexpr double alpha = 0.05;
    constexpr std::uint64_t horizon = 2000;
    constexpr std::uint64_t runs = 2000;
    const double rho1 = cs::normal_mixture_rho(500.0, alpha, cs::sides::one_sided);
    const double rho2 = cs::normal_mixture_rho(500.0, alpha, cs::sides::two_sided);
    std::vector<double> u1(horizon + 1), u2(horizon + 1);
    for (std::uint64_t t = 1; t <= horizon; ++t) {
        u1[t] = cs::one_sided_normal_mixture_boundary(static_cast<double>(t), rho1, alpha);
        u2[t] = cs::two_sided_normal_mixture_boundary(static_cast<double>(t), rho2, alpha);
    }
    std::mt19937_64 rng(314159);
    std::uint64_t crossed1 = 0, crossed2 = 0;
    for (std::uint64_t run = 0; run < runs; ++run) {
        long long s = 0;
        bool c1 = false, c2 = false;
        for (std::uint64_t t = 1; t <= horizon && !(c1 && c2); t += 64) {
            std::uint64_t bits = rng();
            for (std::uint64_t i = 0; i < 64 && t + i <= horizon; ++i, bits >>= 1) {
                s += (bits & 1u) ? 1 : -1;
                const double sd = static_cast<double>(s);
                c1 = c1 || sd >= u1[t + i];
                c2 = c2 || std::fabs(sd) >= u2[t + i];
            }
        }
        crossed1 += c1 ? 1u : 0u;
        crossed2 += c2 ? 1u : 0u;
    }
    INFO("one-sided crossings " << crossed1 << " / " << runs << ", two-sided " << crossed2 << " / "
                                << runs);
    CHECK(rate_not_above(crossed1, runs, alpha));
    CHECK(rate_not_above(crossed2, runs, alpha));
}

TEST_CASE("inverting the one-sided mixture gives the closed-form mean bound", "[stats][invert]") {
    // Unit-variance data, sum S after t observations: H0(k): mu <= k has the
    // e-value M(S - k t, t), non-increasing in k; the inverted lower bound is
    // (S - u(t)) / t.
    const double t = 400.0;
    const double sum = 130.0;
    const double alpha = 0.05;
    const double rho = cs::normal_mixture_rho(t, alpha, cs::sides::one_sided);
    const auto log_e = [&](double k) {
        return cs::one_sided_normal_mixture_log_e(sum - k * t, t, rho);
    };
    const auto r = cs::lower_confidence_bound(log_e, std::log(1.0 / alpha), -5.0, 5.0, 52);
    const double expected = (sum - cs::one_sided_normal_mixture_boundary(t, rho, alpha)) / t;
    CHECK(r.status == cs::inversion_status::interior);
    CHECK(r.bound == Approx(expected).epsilon(1e-10));
    CHECK(r.bound <= expected + 1e-12);  // conservative side
    CHECK(log_e(r.bound) >= std::log(1.0 / alpha));

    SECTION("upper bounds from the mirrored test") {
        const auto log_e_up = [&](double k) {
            return cs::one_sided_normal_mixture_log_e(k * t - sum, t, rho);
        };
        const auto up = cs::upper_confidence_bound(log_e_up, std::log(1.0 / alpha), -5.0, 5.0, 52);
        CHECK(up.status == cs::inversion_status::interior);
        CHECK(up.bound == Approx((sum + cs::one_sided_normal_mixture_boundary(t, rho, alpha)) / t)
                              .epsilon(1e-10));
        CHECK(log_e_up(up.bound) >= std::log(1.0 / alpha));
    }
    SECTION("bounds outside the search range are reported, not invented") {
        const auto below = cs::lower_confidence_bound(log_e, std::log(1.0 / alpha), 1.0, 5.0);
        CHECK(below.status == cs::inversion_status::at_lower_limit);
        CHECK(below.bound == 1.0);
        const auto above = cs::lower_confidence_bound(log_e, std::log(1.0 / alpha), -5.0, -1.0);
        CHECK(above.status == cs::inversion_status::at_upper_limit);
        CHECK(above.bound == -1.0);
        CHECK_THROWS_AS((void)cs::lower_confidence_bound(log_e, 3.0, 1.0, 1.0),
                        std::invalid_argument);
        CHECK_THROWS_AS(
            (void)cs::lower_confidence_bound([](double) { return std::nan(""); }, 3.0, 0.0, 1.0),
            std::invalid_argument);
    }
}
