// SPDX-License-Identifier: MIT
// Shared by the statistical tests: a uniform draw, and the tolerance of a
// test that asserts a rate, derived from its run count.
#pragma once

#include <cstdint>
#include <random>

#include "canarygate/stats/fixed_sample.hpp"

namespace test_support {

/// Uniform on [0, 1) from the top 53 bits of one draw.
inline double uniform01(std::mt19937_64& rng) {
    return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

/// True unless `events` in `runs` show, at 99 % confidence, a true rate above
/// `alpha`: the lower end of the two-sided 99 % Clopper–Pearson interval is
/// still below it. A rate test asserts this, so that its tolerance comes from
/// its run count (a lucky seed cannot pass it, an unlucky one rarely fails it:
/// at most 0.5 % of runs of a test whose true rate is alpha).
inline bool rate_not_above(std::uint64_t events, std::uint64_t runs, double alpha) {
    return canarygate::stats::clopper_pearson_interval(events, runs, 0.01).lower < alpha;
}

}  // namespace test_support
