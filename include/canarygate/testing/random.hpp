// SPDX-License-Identifier: MIT
/// \file
/// A small, fast, seedable random source with its own distributions, so that
/// a scenario with a given seed produces the same traffic with every standard
/// library (the std:: distributions are implementation-defined).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <numbers>

#include "canarygate/core/config.hpp"
#include "canarygate/core/mix.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace testkit {

/// xoshiro256** (Blackman & Vigna), seeded through splitmix64. Not for
/// cryptography; period 2^256 − 1; passes BigCrush.
class random_source {
public:
    explicit constexpr random_source(std::uint64_t seed) noexcept {
        for (auto& word : state_) word = splitmix64_next(seed);
    }

    /// 64 uniformly distributed bits.
    constexpr std::uint64_t next() noexcept {
        const std::uint64_t result = std::rotl(state_[1] * 5, 7) * 9;
        const std::uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = std::rotl(state_[3], 45);
        return result;
    }

    /// Uniform on [0, 1) with 53 random bits.
    double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    /// Uniform on (0, 1]: safe to take the logarithm of.
    double uniform_positive() noexcept {
        return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53;
    }
    bool bernoulli(double p) noexcept { return uniform() < p; }
    /// Standard normal by Box–Muller (one value per call, for simplicity).
    double normal() noexcept {
        const double r = std::sqrt(-2.0 * std::log(uniform_positive()));
        return r * std::cos(2.0 * std::numbers::pi * uniform());
    }
    double normal(double mean, double sd) noexcept { return mean + sd * normal(); }
    /// exp(N(log(median), sigma²)).
    double lognormal_median(double median, double sigma) noexcept {
        return median * std::exp(sigma * normal());
    }
    /// Exponential with the given rate (mean 1/rate).
    double exponential(double rate) noexcept { return -std::log(uniform_positive()) / rate; }
    /// Pareto with scale x_m and shape alpha: P(X > x) = (x_m / x)^alpha.
    double pareto(double x_m, double alpha) noexcept {
        return x_m * std::pow(uniform_positive(), -1.0 / alpha);
    }
    /// Poisson by inversion for small means, normal approximation above 50.
    std::uint64_t poisson(double mean) noexcept {
        if (mean <= 0) return 0;
        if (mean > 50) {
            const double x = std::round(normal(mean, std::sqrt(mean)));
            return x < 0 ? 0 : static_cast<std::uint64_t>(x);
        }
        const double limit = std::exp(-mean);
        double product = uniform_positive();
        std::uint64_t k = 0;
        while (product > limit) {
            product *= uniform_positive();
            ++k;
        }
        return k;
    }

private:
    std::uint64_t state_[4] = {};
};

}  // namespace testkit
CANARYGATE_NAMESPACE_END
