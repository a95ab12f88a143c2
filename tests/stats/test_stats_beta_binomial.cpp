// SPDX-License-Identifier: MIT
// Tests of canarygate/stats/beta_binomial.hpp: reference values (scipy
// quadrature, tools/stats_reference.py), Boost quadrature of the same mixture,
// edge cases, and simulated false-alarm rates.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/math/quadrature/gauss_kronrod.hpp>

#include "canarygate/stats/beta_binomial.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/stats/invert.hpp"
#include "generated/stats_reference_values.hpp"
#include "support/statistics.hpp"

namespace cs = canarygate::stats;
using test_support::rate_not_above;
using test_support::uniform01;

namespace {

// Fails only when we can be confident the true rate exceeds `alpha`: the
// one-sided 99.5 % Clopper-Pearson lower bound of the observed rate must stay
// below alpha.
// ln of int_{p0}^1 p^(a-1) (1-p)^(b-1) (p/p0)^s ((1-p)/(1-p0))^f dp by
// adaptive Gauss-Kronrod over u = p - p0, scaled by the integrand's peak.
double log_mixture_integral(double a, double b, double s, double f, double p0) {
    const double top = 1.0 - p0;
    const auto logf = [&](double u) {
        return (a - 1.0) * std::log(p0 + u) + (b - 1.0) * std::log(top - u) +
               (s != 0.0 ? s * std::log1p(u / p0) : 0.0) +
               (f != 0.0 ? f * std::log1p(-u / top) : 0.0);
    };
    const double ap = a + s;
    const double bp = b + f;
    double mode = (ap > 1.0 && bp > 1.0) ? (ap - 1.0) / (ap + bp - 2.0) - p0 : 0.0;
    mode = std::clamp(mode, 0.0, top);
    const double sd =
        std::sqrt(std::max((mode + p0) * (1.0 - mode - p0), 1e-300) / (ap + bp + 1.0));
    const double peak = logf(mode);
    std::vector<double> cuts{0.0, top};
    if (mode > 0.0 && mode < top) {
        cuts.push_back(mode);
    }
    for (double m = 0.5; m * sd < top; m *= 2.0) {
        for (double c : {mode - m * sd, mode + m * sd}) {
            if (c > 0.0 && c < top) {
                cuts.push_back(c);
            }
        }
    }
    std::sort(cuts.begin(), cuts.end());
    double total = 0.0;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
        total += boost::math::quadrature::gauss_kronrod<double, 61>::integrate(
            [&](double u) { return std::exp(logf(u) - peak); }, cuts[i], cuts[i + 1], 8, 1e-11);
    }
    return std::log(total) + peak;
}

}  // namespace

TEST_CASE("beta-binomial e-value matches the scipy quadrature references",
          "[stats][beta_binomial]") {
    for (const auto& c : canarygate_test::reference::beta_binomial_cases) {
        const double got =
            cs::beta_binomial_log_e_value(c.successes, c.trials, c.p0, cs::beta_prior{c.a, c.b});
        INFO("S = " << c.successes << ", n = " << c.trials << ", p0 = " << c.p0 << ", a = " << c.a
                    << ", b = " << c.b << ": got " << got << ", reference " << c.log_e);
        // 1e-9 relative (absolute near 0); the references themselves are
        // cross-checked to 1e-9 in tools/stats_reference.py.
        CHECK(std::fabs(got - c.log_e) <= 1e-9 * std::max(1.0, std::fabs(c.log_e)));
    }
}

TEST_CASE("beta-binomial e-value matches Boost Gauss-Kronrod integration of the mixture",
          "[stats][beta_binomial]") {
    struct case_t {
        std::uint64_t s, n;
        double p0, a, b;
    };
    const std::array<case_t, 9> cases{{{0, 50, 0.01, 0.5, 49.5},
                                       {3, 50, 0.01, 0.5, 49.5},
                                       {25, 1000, 0.01, 0.5, 49.5},
                                       {40, 3000, 0.01, 0.5, 49.5},
                                       {9, 300, 0.05, 0.5, 9.5},
                                       {5, 10, 0.2, 2.0, 3.0},
                                       {70, 100, 0.5, 1.5, 1.5},
                                       {0, 100000, 0.01, 1.0, 1.0},
                                       {1200, 100000, 0.01, 1.0, 99.0}}};
    for (const auto& c : cases) {
        const double s = static_cast<double>(c.s);
        const double f = static_cast<double>(c.n - c.s);
        const double numeric = log_mixture_integral(c.a, c.b, s, f, c.p0) -
                               log_mixture_integral(c.a, c.b, 0.0, 0.0, c.p0);
        const double closed =
            cs::beta_binomial_log_e_value(c.s, c.n, c.p0, cs::beta_prior{c.a, c.b});
        INFO("S = " << c.s << ", n = " << c.n << ", p0 = " << c.p0 << ": closed " << closed
                    << ", quadrature " << numeric);
        CHECK(std::fabs(closed - numeric) <= 1e-9 * std::max(1.0, std::fabs(numeric)));
    }
}

TEST_CASE("beta-binomial e-value edge cases are finite and never NaN", "[stats][beta_binomial]") {
    SECTION("no trials gives exactly 1") {
        CHECK(cs::beta_binomial_log_e_value(0, 0, 0.01) == 0.0);
        CHECK(cs::beta_binomial_log_e_value(0, 0, 0.999999) == 0.0);
    }
    SECTION("no events is evidence for H0, all events against") {
        CHECK(cs::beta_binomial_log_e_value(0, 1000, 0.01) < 0.0);
        CHECK(cs::beta_binomial_log_e_value(1000, 1000, 0.01) > 1000.0);
    }
    SECTION("huge n, underflowing ibetac, p0 near 0 and 1") {
        const std::uint64_t huge = std::uint64_t{1} << 60;
        const std::array<double, 7> p0s{1e-300, 1e-12, 1e-6, 0.01, 0.5, 1.0 - 1e-9, 1.0 - 1e-16};
        const std::array<std::uint64_t, 6> ns{1, 7, 3000, 1'000'000, 1'000'000'000'000, huge};
        for (const double p0 : p0s) {
            for (const std::uint64_t n : ns) {
                for (const std::uint64_t s :
                     {std::uint64_t{0}, std::uint64_t{1}, n / 100, n / 2, n - 1, n}) {
                    if (n == huge && s > 1 && s < n - 1) {
                        continue;  // the bulk at n = 2^60 costs 0.1 s per call (Boost's ibetac)
                    }
                    const double v = cs::beta_binomial_log_e_value(s, n, p0);
                    INFO("S = " << s << ", n = " << n << ", p0 = " << p0 << ": " << v);
                    CHECK(std::isfinite(v));
                }
            }
        }
    }
    SECTION("the log-space tail is continuous where ibetac underflows") {
        // n = 1e6, p0 = 0.01: ibetac of the posterior underflows for S below
        // about 8500; the e-value must stay non-decreasing in S across that.
        double previous = -std::numeric_limits<double>::infinity();
        for (std::uint64_t s = 0; s <= 12000; s += 25) {
            const double v = cs::beta_binomial_log_e_value(s, 1'000'000, 0.01);
            REQUIRE(std::isfinite(v));
            REQUIRE(v >= previous - 1e-9 * std::fabs(previous));
            previous = v;
        }
    }
    SECTION("non-decreasing in S for fixed n") {
        for (const std::uint64_t n : {std::uint64_t{20}, std::uint64_t{3000}}) {
            double previous = -std::numeric_limits<double>::infinity();
            for (std::uint64_t s = 0; s <= n; ++s) {
                const double v = cs::beta_binomial_log_e_value(s, n, 0.01);
                REQUIRE(v >= previous);
                previous = v;
            }
        }
    }
}

TEST_CASE("beta-binomial e-value rejects bad arguments with the value in the message",
          "[stats][beta_binomial]") {
    CHECK_THROWS_AS((void)cs::beta_binomial_log_e_value(1, 10, 0.0), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::beta_binomial_log_e_value(1, 10, 1.0), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::beta_binomial_log_e_value(1, 10, std::nan("")),
                    std::invalid_argument);
    CHECK_THROWS_AS((void)cs::beta_binomial_log_e_value(11, 10, 0.5), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::beta_binomial_log_e_value(1, 10, 0.5, cs::beta_prior{0.0, 1.0}),
                    std::invalid_argument);
    CHECK_THROWS_AS((void)cs::beta_binomial_log_e_value(1, 10, 0.5, cs::beta_prior{1.0, -1.0}),
                    std::invalid_argument);
    try {
        (void)cs::beta_binomial_log_e_value(1, 10, 1.5);
        FAIL("no exception");
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        CHECK(what.find("p0") != std::string::npos);
        CHECK(what.find("1.5") != std::string::npos);
    }
}

TEST_CASE("beta-binomial e-test: false alarms at p = p0 stay below alpha",
          "[stats][beta_binomial][simulation]") {
    // statistics.md: p = p0 = 0.01, checked every 10 observations up to
    // n = 3000, alpha = 0.05. The e-value is non-decreasing in S, so each
    // check reduces to a threshold on S, computed once.
    constexpr double p0 = 0.01;
    constexpr double alpha = 0.05;
    constexpr std::uint64_t horizon = 3000;
    constexpr std::uint64_t runs = 2000;
    const double log_threshold = std::log(1.0 / alpha);
    std::vector<std::uint64_t> threshold(horizon / 10 + 1);
    for (std::uint64_t n = 10; n <= horizon; n += 10) {
        std::uint64_t s = 0;
        while (s <= n && cs::beta_binomial_log_e_value(s, n, p0) < log_threshold) {
            ++s;
        }
        threshold[n / 10] = s;  // reject when S >= s
    }
    std::mt19937_64 rng(20240611);
    std::uint64_t alarms = 0;
    for (std::uint64_t run = 0; run < runs; ++run) {
        std::uint64_t s = 0;
        for (std::uint64_t n = 1; n <= horizon; ++n) {
            s += uniform01(rng) < p0 ? 1u : 0u;
            if (n % 10 == 0 && s >= threshold[n / 10]) {
                ++alarms;
                break;
            }
        }
    }
    const double rate = static_cast<double>(alarms) / static_cast<double>(runs);
    INFO("false alarms: " << alarms << " / " << runs << " = " << rate);
    CHECK(rate_not_above(alarms, runs, alpha));
    // statistics.md reports 1.6-2.6 %: far below alpha, as the mixture is conservative.
    CHECK(rate < alpha);
}

TEST_CASE("beta-binomial e-test detects p = 3 p0", "[stats][beta_binomial][simulation]") {
    constexpr double p0 = 0.01;
    constexpr double alpha = 0.025;
    const double log_threshold = std::log(1.0 / alpha);
    std::vector<std::uint64_t> threshold(4001);
    for (std::uint64_t n = 1; n <= 4000; ++n) {
        std::uint64_t s = n == 1 ? 0 : threshold[n - 1];  // non-decreasing in n
        while (s > 0 && cs::beta_binomial_log_e_value(s - 1, n, p0) >= log_threshold) {
            --s;
        }
        while (s <= n && cs::beta_binomial_log_e_value(s, n, p0) < log_threshold) {
            ++s;
        }
        threshold[n] = s;
    }
    std::mt19937_64 rng(7);
    std::vector<double> delays;
    constexpr int runs = 300;
    for (int run = 0; run < runs; ++run) {
        std::uint64_t s = 0;
        for (std::uint64_t n = 1; n <= 4000; ++n) {
            s += uniform01(rng) < 3.0 * p0 ? 1u : 0u;
            if (s >= threshold[n]) {
                delays.push_back(static_cast<double>(n));
                break;
            }
        }
    }
    std::sort(delays.begin(), delays.end());
    const double detected = static_cast<double>(delays.size()) / runs;
    const double median = delays.empty() ? 1e9 : delays[delays.size() / 2];
    INFO("detected " << detected << ", median delay " << median << " observations");
    CHECK(detected > 0.95);
    CHECK(median < 600.0);  // statistics.md: median 330 at p = 3 p0, alpha = 0.025
}

TEST_CASE("grid mixture: windows multiply likelihood ratios, mean by log-sum-exp",
          "[stats][beta_binomial][grid]") {
    cs::bernoulli_grid_e_process<3> e;
    CHECK(e.log_e_value() == Approx(0.0).margin(1e-15));
    const std::array<double, 3> alt{0.02, 0.03, 0.05};
    e.update(3, 100, 0.01, alt);
    e.update(0, 0, 0.5, {0.5, 0.6, 0.7});  // no trials: ignored
    e.update(1, 50, 0.02, {0.04, 0.06, 0.1});
    CHECK(e.windows() == 2);
    const auto lr = [](double s, double f, double p, double p0) {
        return s * std::log(p / p0) + f * std::log((1 - p) / (1 - p0));
    };
    const std::array<double, 3> expected{lr(3, 97, 0.02, 0.01) + lr(1, 49, 0.04, 0.02),
                                         lr(3, 97, 0.03, 0.01) + lr(1, 49, 0.06, 0.02),
                                         lr(3, 97, 0.05, 0.01) + lr(1, 49, 0.1, 0.02)};
    for (std::size_t j = 0; j < 3; ++j) {
        CHECK(e.log_likelihood_ratios()[j] == Approx(expected[j]).epsilon(1e-13));
    }
    const double direct =
        std::log((std::exp(expected[0]) + std::exp(expected[1]) + std::exp(expected[2])) / 3.0);
    CHECK(e.log_e_value() == Approx(direct).epsilon(1e-13));

    SECTION("huge likelihood ratios do not overflow") {
        cs::bernoulli_grid_e_process<2> big;
        big.update(100000, 100000, 0.01, {0.02, 0.5});
        const double v = big.log_e_value();
        CHECK(std::isfinite(v));
        CHECK(v == Approx(100000 * std::log(50.0) - std::log(2.0)).epsilon(1e-12));
    }
    SECTION("alternatives below p0 are refused and leave the state unchanged") {
        const double before = e.log_e_value();
        CHECK_THROWS_AS(e.update(1, 10, 0.05, {0.04, 0.06, 0.1}), std::invalid_argument);
        CHECK_THROWS_AS(e.update(11, 10, 0.05, {0.05, 0.06, 0.1}), std::invalid_argument);
        CHECK(e.log_e_value() == before);
    }
}

TEST_CASE("rate-ratio e-process computes p0 and alternatives from exposures",
          "[stats][beta_binomial][grid]") {
    cs::rate_ratio_e_process<> e(2.0);
    e.update(3, 40, 100.0, 9900.0);
    const double p0 = 200.0 / (200.0 + 9900.0);
    double expected[5];
    for (std::size_t j = 0; j < 5; ++j) {
        const double theta = 2.0 * cs::default_ratio_multipliers[j];
        const double p = theta * 100.0 / (theta * 100.0 + 9900.0);
        expected[j] = 3.0 * std::log(p / p0) + 37.0 * std::log((1 - p) / (1 - p0));
        CHECK(e.grid().log_likelihood_ratios()[j] == Approx(expected[j]).epsilon(1e-12));
    }
    CHECK(e.k() == 2.0);
    e.update(0, 0, 0.0, 0.0);  // no events: exposures not needed
    CHECK_THROWS_AS(e.update(1, 2, 0.0, 10.0), std::invalid_argument);
    CHECK_THROWS_AS(e.update(1, 2, 10.0, std::nan("")), std::invalid_argument);
    CHECK_THROWS_AS(cs::rate_ratio_e_process<>(0.0), std::invalid_argument);
    CHECK_THROWS_AS(cs::rate_ratio_e_process<2>(1.0, {1.5, 0.5}), std::invalid_argument);
}

TEST_CASE("rate-ratio e-process: false alarms at the null boundary during a traffic ramp",
          "[stats][beta_binomial][grid][simulation]") {
    // H0 boundary r_c = k r_b with k = 2; the canary share ramps 1 % -> 10 %
    // -> 25 % -> 50 % over 96 windows; each window has 30 events in total.
    // Given the window's total, each event is the candidate's with
    // probability exactly p0 = k n_c / (k n_c + n_b).
    constexpr double k = 2.0;
    constexpr double alpha = 0.05;
    constexpr std::uint64_t runs = 2000;
    const double log_threshold = std::log(1.0 / alpha);
    std::mt19937_64 rng(99);
    std::uint64_t alarms = 0;
    for (std::uint64_t run = 0; run < runs; ++run) {
        cs::rate_ratio_e_process<> e(k);
        for (int w = 0; w < 96; ++w) {
            const double share = w < 24 ? 0.01 : (w < 48 ? 0.10 : (w < 72 ? 0.25 : 0.5));
            const double n_c = 1000.0 * share;
            const double n_b = 1000.0 - n_c;
            const double p0 = k * n_c / (k * n_c + n_b);
            std::uint64_t y = 0;
            for (int i = 0; i < 30; ++i) {
                y += uniform01(rng) < p0 ? 1u : 0u;
            }
            e.update(y, 30, n_c, n_b);
            if (e.log_e_value() >= log_threshold) {
                ++alarms;
                break;
            }
        }
    }
    INFO("false alarms: " << alarms << " / " << runs);
    CHECK(rate_not_above(alarms, runs, alpha));
}

TEST_CASE("inverting the grid e-test bounds the rate ratio from below",
          "[stats][beta_binomial][invert]") {
    // 40 of 200 events from a 10 % canary: observed ratio ~ 2.25. The lower
    // confidence bound L = inf{k : E_k < 1/alpha} must be below the point
    // estimate, and E at L must still reject.
    const auto log_e_at = [](double k) {
        cs::rate_ratio_e_process<> e(k);
        e.update(40, 200, 100.0, 900.0);
        return e.log_e_value();
    };
    const double log_threshold = std::log(1.0 / 0.05);
    const auto r = cs::lower_confidence_bound(log_e_at, log_threshold, 0.1, 10.0);
    CHECK(r.status == cs::inversion_status::interior);
    CHECK(r.bound > 1.0);
    CHECK(r.bound < 40.0 / 160.0 * 9.0);
    CHECK(log_e_at(r.bound) >= log_threshold);
    CHECK(log_e_at(r.bound * (1.0 + 1e-9)) < log_threshold + 1e-6);
}
