// SPDX-License-Identifier: MIT
// Tests of canarygate/stats/srm.hpp: references (60-digit lgamma in
// tools/stats_reference.py), Boost quadrature of the Dirichlet (beta) mixture,
// consistency of the two-arm and k-arm forms, and simulated false alarms.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <boost/math/special_functions/beta.hpp>

#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/stats/srm.hpp"
#include "generated/stats_reference_values.hpp"
#include "support/statistics.hpp"

namespace cs = canarygate::stats;
using test_support::rate_not_above;
using test_support::uniform01;

namespace {}  // namespace

TEST_CASE("SRM Bayes factor matches the high-precision references", "[stats][srm]") {
    for (const auto& c : canarygate_test::reference::srm_two_cases) {
        const double got = cs::srm_log_bayes_factor(c.n_candidate, c.n_baseline, c.rho, c.kappa);
        INFO("N_c = " << c.n_candidate << ", N_b = " << c.n_baseline << ", rho = " << c.rho
                      << ": got " << got << ", reference " << c.log_bf);
        CHECK(std::fabs(got - c.log_bf) <= 1e-10 * std::max(1.0, std::fabs(c.log_bf)));
    }
    for (const auto& c : canarygate_test::reference::srm_multi_cases) {
        const std::array<std::uint64_t, 4> counts{c.c0, c.c1, c.c2, c.c3};
        const std::array<double, 4> split{c.w0, c.w1, c.w2, c.w3};
        const double got =
            cs::srm_log_bayes_factor(std::span<const std::uint64_t>(counts.data(), c.arms),
                                     std::span<const double>(split.data(), c.arms), c.kappa);
        INFO("arms = " << c.arms << ": got " << got << ", reference " << c.log_bf);
        CHECK(std::fabs(got - c.log_bf) <= 1e-10 * std::max(1.0, std::fabs(c.log_bf)));
    }
}

TEST_CASE("SRM Bayes factor equals numerical integration of the beta mixture", "[stats][srm]") {
    // BF = int theta^N_c (1-theta)^N_b Beta(theta; k rho, k (1-rho)) dtheta
    //      / (rho^N_c (1-rho)^N_b)
    struct case_t {
        std::uint64_t nc, nb;
        double rho, kappa;
    };
    for (const case_t c :
         {case_t{3, 97, 0.05, 100.0}, case_t{30, 970, 0.01, 100.0}, case_t{60, 40, 0.5, 100.0},
          case_t{7, 3, 0.3, 10.0}, case_t{0, 500, 0.2, 100.0}}) {
        const double a = c.kappa * c.rho, b = c.kappa * (1 - c.rho);
        const double nc = static_cast<double>(c.nc), nb = static_cast<double>(c.nb);
        const auto log_integrand = [&](double th) {
            return (a + nc - 1) * std::log(th) + (b + nb - 1) * std::log1p(-th) -
                   nc * std::log(c.rho) - nb * std::log1p(-c.rho) -
                   std::log(boost::math::beta(a, b));
        };
        const double mode = std::clamp((a + nc - 1) / (a + b + nc + nb - 2), 1e-9, 1 - 1e-9);
        const double peak = log_integrand(mode);
        std::vector<double> cuts{0.0, mode, 1.0};
        const double sd = std::sqrt(mode * (1 - mode) / (a + b + nc + nb));
        for (double m = 0.5; m * sd < 1.0; m *= 2.0) {
            for (const double x : {mode - m * sd, mode + m * sd}) {
                if (x > 0.0 && x < 1.0) {
                    cuts.push_back(x);
                }
            }
        }
        std::sort(cuts.begin(), cuts.end());
        double total = 0.0;
        for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
            total += boost::math::quadrature::gauss_kronrod<double, 61>::integrate(
                [&](double th) { return std::exp(log_integrand(th) - peak); }, cuts[i], cuts[i + 1],
                8, 1e-11);
        }
        const double numeric = std::log(total) + peak;
        const double closed = cs::srm_log_bayes_factor(c.nc, c.nb, c.rho, c.kappa);
        INFO("N_c = " << c.nc << ", N_b = " << c.nb << ": closed " << closed << ", numeric "
                      << numeric);
        CHECK(std::fabs(closed - numeric) <= 1e-9 * std::max(1.0, std::fabs(numeric)));
    }
}

TEST_CASE("two-arm and k-arm SRM forms agree; edge cases are finite", "[stats][srm]") {
    for (const std::uint64_t nc : {0u, 1u, 13u, 500u, 12345u}) {
        for (const std::uint64_t nb : {0u, 2u, 980u, 99999u}) {
            const std::array<std::uint64_t, 2> counts{nc, nb};
            const std::array<double, 2> split{1.0, 9.0};
            const double two = cs::srm_log_bayes_factor(nc, nb, 0.1);
            const double multi = cs::srm_log_bayes_factor(counts, split);
            INFO("N_c = " << nc << ", N_b = " << nb);
            CHECK(std::fabs(two - multi) <= 1e-8 * std::max(1.0, std::fabs(two)));
        }
    }
    CHECK(cs::srm_log_bayes_factor(0, 0, 0.3) == 0.0);
    const std::uint64_t huge = std::uint64_t{1} << 55;
    for (const double rho : {1e-12, 0.01, 0.5, 1 - 1e-9}) {
        for (const std::uint64_t nc : {std::uint64_t{0}, std::uint64_t{1}, huge}) {
            for (const std::uint64_t nb : {std::uint64_t{0}, std::uint64_t{1}, huge}) {
                const double v = cs::srm_log_bayes_factor(nc, nb, rho);
                INFO("rho = " << rho << ", N_c = " << nc << ", N_b = " << nb << ": " << v);
                CHECK(std::isfinite(v));
            }
        }
    }
    // A clear mismatch at large N is overwhelming evidence, a matched split is not.
    CHECK(cs::srm_log_bayes_factor(11'000'000, 989'000'000, 0.01) > 1000.0);
    CHECK(cs::srm_log_bayes_factor(10'000'000, 990'000'000, 0.01) < 0.0);
}

TEST_CASE("SRM refuses bad arguments", "[stats][srm]") {
    CHECK_THROWS_AS((void)cs::srm_log_bayes_factor(1, 1, 0.0), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::srm_log_bayes_factor(1, 1, 1.0), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::srm_log_bayes_factor(1, 1, 0.5, 0.0), std::invalid_argument);
    const std::array<std::uint64_t, 3> counts{1, 2, 3};
    const std::array<double, 2> two{1.0, 1.0};
    const std::array<double, 3> bad{1.0, -1.0, 1.0};
    CHECK_THROWS_AS((void)cs::srm_log_bayes_factor(counts, two), std::invalid_argument);
    CHECK_THROWS_AS((void)cs::srm_log_bayes_factor(counts, bad), std::invalid_argument);
    const std::array<std::uint64_t, 1> one{5};
    const std::array<double, 1> one_w{1.0};
    CHECK_THROWS_AS((void)cs::srm_log_bayes_factor(one, one_w), std::invalid_argument);
}

TEST_CASE("SRM: false alarms under the configured split stay below alpha",
          "[stats][srm][simulation]") {
    // Split 10 % / 90 %, checked every 10 requests up to 3000, alpha = 0.05.
    // ln BF is convex in N_c for fixed n, so the non-rejection region at each
    // check is an interval of N_c, computed once.
    constexpr double rho = 0.1;
    constexpr double alpha = 0.05;
    constexpr std::uint64_t horizon = 3000;
    constexpr std::uint64_t runs = 2000;
    const double log_threshold = std::log(1.0 / alpha);
    std::vector<std::uint64_t> lo(horizon / 10 + 1), hi(horizon / 10 + 1);
    for (std::uint64_t n = 10; n <= horizon; n += 10) {
        const auto reject = [&](std::uint64_t nc) {
            return cs::srm_log_bayes_factor(nc, n - nc, rho) >= log_threshold;
        };
        std::uint64_t centre = n / 10;
        REQUIRE(!reject(centre));
        std::uint64_t l = centre, h = centre;
        while (l > 0 && !reject(l - 1)) {
            --l;
        }
        while (h < n && !reject(h + 1)) {
            ++h;
        }
        lo[n / 10] = l;
        hi[n / 10] = h;
    }
    std::mt19937_64 rng(1618);
    std::uint64_t alarms = 0;
    for (std::uint64_t run = 0; run < runs; ++run) {
        std::uint64_t nc = 0;
        for (std::uint64_t n = 1; n <= horizon; ++n) {
            nc += uniform01(rng) < rho ? 1u : 0u;
            if (n % 10 == 0 && (nc < lo[n / 10] || nc > hi[n / 10])) {
                ++alarms;
                break;
            }
        }
    }
    INFO("false alarms: " << alarms << " / " << runs);
    CHECK(rate_not_above(alarms, runs, alpha));
}
