// SPDX-License-Identifier: MIT
// Tests of canarygate/stats/betting.hpp: the Fan et al. inequality on a grid,
// the aggregate bound against the exact per-observation wealth, window sums,
// and simulated false-alarm and detection figures.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

#include "canarygate/stats/betting.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "support/statistics.hpp"

namespace cs = canarygate::stats;
using test_support::rate_not_above;
using test_support::uniform01;

namespace {

double standard_normal(std::mt19937_64& rng) {
    const double u1 = uniform01(rng), u2 = uniform01(rng);
    return std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

// Log-normal with the given mean and coefficient of variation.
double lognormal(std::mt19937_64& rng, double mean, double cv) {
    const double sigma2 = std::log1p(cv * cv);
    const double mu = std::log(mean) - sigma2 / 2.0;
    return std::exp(mu + std::sqrt(sigma2) * standard_normal(rng));
}

}  // namespace

TEST_CASE("Fan et al. inequality ln(1 + l y) >= l y - psi(l) y^2 holds on a grid",
          "[stats][betting]") {
    double worst = -1.0;  // max of the violation, relative to the size of the terms
    for (double lambda = 0.0; lambda < 1.0; lambda += 0.001) {
        const double psi = cs::betting_psi(lambda);
        for (double y = -1.0; y <= 100.0; y += (y < 2.0 ? 0.001 : 0.25)) {
            const double lhs = std::log1p(lambda * y);
            const double rhs = lambda * y - psi * y * y;
            worst = std::max(worst, (rhs - lhs) / (1.0 + std::fabs(lhs) + std::fabs(rhs)));
        }
    }
    CHECK(worst <= 1e-14);
    // Equality at y = -1 (the bound is tight there) and y = 0.
    for (const double lambda : {0.1, 0.5, 0.9}) {
        CHECK(std::log1p(-lambda) == Approx(-lambda - cs::betting_psi(lambda)).epsilon(1e-14));
    }
}

TEST_CASE("psi is accurate for small lambda and refuses lambda outside [0, 1)",
          "[stats][betting]") {
    CHECK(cs::betting_psi(0.0) == 0.0);
    CHECK(cs::betting_psi(1e-8) == Approx(0.5e-16 + 1e-24 / 3.0).epsilon(1e-14));
    // The series and the closed form agree where they meet.
    const double below = cs::betting_psi(std::nextafter(1e-3, 0.0));
    const double at = cs::betting_psi(1e-3);
    CHECK(below == Approx(at).epsilon(1e-12));
    CHECK(at == Approx(-std::log1p(-1e-3) - 1e-3).epsilon(1e-12));
    for (double lambda = 0.0; lambda < 1.0; lambda += 0.01) {
        CHECK(cs::betting_psi(lambda) >= lambda * lambda / 2.0);
    }
    CHECK_THROWS_AS((void)cs::betting_psi(1.0), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::betting_psi(-0.1), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::betting_psi(std::nan("")), std::invalid_argument);
}

TEST_CASE("window sums from raw aggregates equal per-observation sums", "[stats][betting]") {
    const std::vector<double> xs{0.0, 3.5, 10.0, 2.25, 7.0, 0.5};
    const double m = 4.0;
    double sx = 0, sx2 = 0, sy = 0, sy2 = 0;
    for (const double x : xs) {
        sx += x;
        sx2 += x * x;
        sy += x / m - 1.0;
        sy2 += (x / m - 1.0) * (x / m - 1.0);
    }
    const auto w = cs::standardized_window_sums(xs.size(), sx, sx2, m);
    CHECK(w.n == xs.size());
    CHECK(w.sum_y == Approx(sy).epsilon(1e-14));
    CHECK(w.sum_y2 == Approx(sy2).epsilon(1e-14));
    // Rounding repair: all X = m exactly gives sum y^2 = 0, never negative.
    const auto flat = cs::standardized_window_sums(1'000'000, 1e6 * 0.1, 1e6 * 0.01, 0.1);
    CHECK(flat.sum_y2 >= 0.0);
    CHECK(flat.sum_y2 >= flat.sum_y * flat.sum_y / 1e6);
    CHECK(cs::standardized_window_sums(0, 0.0, 0.0, 1.0).n == 0);
    CHECK_THROWS_AS((void)cs::standardized_window_sums(3, 1.0, 1.0, 0.0), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::standardized_window_sums(3, -1.0, 1.0, 1.0), std::invalid_argument);
}

TEST_CASE("the aggregate e-value never exceeds the per-observation wealth", "[stats][betting]") {
    std::mt19937_64 rng(11);
    for (int run = 0; run < 200; ++run) {
        cs::betting_e_process e(0.5, 0.25);
        double log_wealth = 0.0;
        const double ratio = 0.5 + 1.5 * uniform01(rng);  // true mean / m
        for (int w = 0; w < 20; ++w) {
            const double lambda = e.next_lambda();
            double sy = 0, sy2 = 0;
            for (int i = 0; i < 30; ++i) {
                const double y = lognormal(rng, ratio, 1.0) - 1.0;  // m = 1
                log_wealth += std::log1p(lambda * y);
                sy += y;
                sy2 += y * y;
            }
            e.update(30, sy, sy2);
            REQUIRE(e.log_e_value() <= log_wealth + 1e-9);
        }
    }
}

TEST_CASE("betting e-process state: bets are predictable and clipped", "[stats][betting]") {
    cs::betting_e_process e;
    CHECK(e.next_lambda() == 0.0);
    CHECK(e.log_e_value() == 0.0);
    e.update(10, 5.0, 20.0);  // first window: bet 0, so no change
    CHECK(e.log_e_value() == 0.0);
    CHECK(e.next_lambda() == Approx(0.25));  // clip(5 / 20, 0, 0.5)
    e.update(10, 3.0, 4.0);
    CHECK(e.log_e_value() == Approx(0.25 * 3.0 - cs::betting_psi(0.25) * 4.0));
    CHECK(e.next_lambda() == Approx(0.3333333333333333));  // 8 / 24
    e.update(0, 0.0, 0.0);
    CHECK(e.windows() == 2);
    CHECK(e.count() == 20);
    e.update(cs::window_sums{5, 10.0, 20.0});
    CHECK(e.next_lambda() == Approx(18.0 / 44.0));
    e.update(10, 30.0, 32.0);
    CHECK(e.next_lambda() == 0.5);  // clip(48 / 76 = 0.63, 0, 0.5)
    cs::betting_e_process negative;
    negative.update(10, -5.0, 5.0);
    CHECK(negative.next_lambda() == 0.0);  // evidence for H0: do not bet
    CHECK_THROWS_AS(negative.update(10, -11.0, 12.0), std::invalid_argument);  // y < -1
    CHECK_THROWS_AS(negative.update(10, 1.0, -1.0), std::invalid_argument);
    CHECK_THROWS_AS(negative.update(0, 1.0, 1.0), std::invalid_argument);
    CHECK_THROWS_AS(cs::betting_e_process(1.0), std::invalid_argument);
    CHECK_THROWS_AS(cs::betting_e_process(0.5, 0.6), std::invalid_argument);
}

TEST_CASE("betting e-process: false alarms at the null boundary stay below alpha",
          "[stats][betting][simulation]") {
    // statistics.md: log-normal cost, CV 1, 30 canary requests per 5-minute
    // window, 96 windows (8 h), E[X] = m exactly, alpha = 0.05.
    constexpr double alpha = 0.05;
    constexpr std::uint64_t runs = 2000;
    const double log_threshold = std::log(1.0 / alpha);
    std::mt19937_64 rng(4242);
    std::uint64_t alarms = 0;
    for (std::uint64_t run = 0; run < runs; ++run) {
        cs::betting_e_process e;
        for (int w = 0; w < 96; ++w) {
            double sx = 0, sx2 = 0;
            for (int i = 0; i < 30; ++i) {
                const double x = lognormal(rng, 1.0, 1.0);
                sx += x;
                sx2 += x * x;
            }
            e.update(cs::standardized_window_sums(30, sx, sx2, 1.0));
            if (e.log_e_value() >= log_threshold) {
                ++alarms;
                break;
            }
        }
    }
    INFO("false alarms: " << alarms << " / " << runs);
    CHECK(rate_not_above(alarms, runs, alpha));
}

TEST_CASE("betting e-process detects a cost regression", "[stats][betting][simulation]") {
    // k = 1.2 against a known baseline mean 1: m = 1.2. True ratio 1.8
    // (statistics.md: median detection 20 min = 4 windows with the baseline
    // bound estimated; here the bound is exact).
    constexpr double alpha = 0.05;
    const double log_threshold = std::log(1.0 / alpha);
    std::mt19937_64 rng(77);
    std::vector<int> delays;
    constexpr int runs = 300;
    for (int run = 0; run < runs; ++run) {
        cs::betting_e_process e;
        for (int w = 1; w <= 96; ++w) {
            double sx = 0, sx2 = 0;
            for (int i = 0; i < 30; ++i) {
                const double x = lognormal(rng, 1.8, 1.0);
                sx += x;
                sx2 += x * x;
            }
            e.update(cs::standardized_window_sums(30, sx, sx2, 1.2));
            if (e.log_e_value() >= log_threshold) {
                delays.push_back(w);
                break;
            }
        }
    }
    std::sort(delays.begin(), delays.end());
    const double detected = static_cast<double>(delays.size()) / runs;
    const int median = delays.empty() ? 1000 : delays[delays.size() / 2];
    INFO("detected " << detected << ", median delay " << median << " windows");
    CHECK(detected > 0.95);
    CHECK(median <= 12);
}

TEST_CASE("single observations use the exact wealth factor", "[stats][betting]") {
    cs::betting_e_process e(0.8);
    const double ys[] = {0.5, -0.2, 1.5, -1.0, 0.3, 4.0};
    double lambda_sum_y = 0, sum_y2 = 0, log_wealth = 0;
    for (const double y : ys) {
        // The bet is aGRAPA from the earlier observations, clipped to [0, 0.8].
        const double expected_lambda =
            sum_y2 > 0 ? std::clamp(lambda_sum_y / sum_y2, 0.0, 0.8) : 0.0;
        REQUIRE(e.next_lambda() == Approx(expected_lambda).margin(1e-15));
        log_wealth += std::log1p(expected_lambda * y);
        e.update_single(y);
        lambda_sum_y += y;
        sum_y2 += y * y;
        CHECK(e.log_e_value() == Approx(log_wealth).epsilon(1e-13).margin(1e-15));
    }
    CHECK(e.windows() == 6);
    CHECK(e.count() == 6);
    // y < -1 means a negative observation: refused, state unchanged.
    const double before = e.log_e_value();
    CHECK_THROWS_WITH(e.update_single(-1.5), Catch::Contains("y = -1.5"));
    CHECK_THROWS_AS(e.update_single(std::nan("")), std::invalid_argument);
    CHECK(e.log_e_value() == before);
    CHECK(e.windows() == 6);
}
