// SPDX-License-Identifier: MIT
/// \file
/// Confidence bounds by inverting a family of e-tests: the bound is where the
/// test stops rejecting, found by TOMS 748 root finding
/// (boost::math::tools::toms748_solve).
///
/// If E_k is an e-value for H0(k) for every k, then {k : E_k < 1/alpha} is a
/// 1 - alpha confidence set (anytime-valid when each E_k is an e-process).
/// For H0(k): theta <= k, E_k is non-increasing in k and the set is
/// [L, inf) with L = inf{k : E_k < 1/alpha}; for H0(k): theta >= k it is
/// non-decreasing and the set is (-inf, U].
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>

#include <boost/math/tools/roots.hpp>

#include "canarygate/core/config.hpp"
#include "canarygate/stats/detail/math.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace stats {

/// Where the bound of an inversion lies relative to the search range.
enum class inversion_status {
    interior,        ///< the crossing lies inside [lo, hi]
    at_lower_limit,  ///< the bound is at or below lo (returned as lo)
    at_upper_limit,  ///< the bound is at or above hi (returned as hi)
};

/// A confidence bound found by inversion.
struct inversion_result {
    double bound;
    inversion_status status;
};

namespace detail {
template <class F>
[[nodiscard]] double checked_log_e(F& log_e, double k) {
    const double v = log_e(k);
    if (std::isnan(v)) {
        fail_argument("invert", "log_e(k) at k", k, "is NaN");
    }
    return v;
}

/// Shared search: `rejects_low` tells whether the rejected region is below
/// the crossing (lower bound) or above it (upper bound). Returns the end of
/// the final bracket that is still rejected, so the reported bound is never
/// inside the true confidence set's complement by rounding: conservative.
template <class F>
[[nodiscard]] inversion_result invert_monotone(F& log_e, double log_threshold, double lo, double hi,
                                               bool rejects_low, unsigned bits) {
    constexpr const char* where = "invert";
    require_finite(where, "lo", lo);
    require_finite(where, "hi", hi);
    require_finite(where, "log_threshold", log_threshold);
    if (!(lo < hi)) {
        fail_argument(where, "hi", hi, "is not above lo");
    }
    const auto g = [&](double k) { return checked_log_e(log_e, k) - log_threshold; };
    const double g_lo = g(lo);
    const double g_hi = g(hi);
    const bool rejected_lo = g_lo >= 0.0;
    const bool rejected_hi = g_hi >= 0.0;
    if (rejects_low) {
        if (!rejected_lo) {
            return inversion_result{lo, inversion_status::at_lower_limit};
        }
        if (rejected_hi) {
            return inversion_result{hi, inversion_status::at_upper_limit};
        }
    } else {
        if (!rejected_hi) {
            return inversion_result{hi, inversion_status::at_upper_limit};
        }
        if (rejected_lo) {
            return inversion_result{lo, inversion_status::at_lower_limit};
        }
    }
    std::uintmax_t max_iter = 200;
    const auto bracket = boost::math::tools::toms748_solve(
        g, lo, hi, g_lo, g_hi, boost::math::tools::eps_tolerance<double>(bits), max_iter);
    const double first = bracket.first;
    const double second = bracket.second;
    // The bracket's ends straddle the crossing; keep the rejected one.
    const double bound =
        rejects_low ? (g(first) >= 0.0 ? first : lo) : (g(second) >= 0.0 ? second : hi);
    return inversion_result{bound, inversion_status::interior};
}
}  // namespace detail

/// Lower confidence bound L for theta from e-values of H0(k): theta <= k.
///
/// `log_e(k)` must be non-increasing in k on [lo, hi] (not NaN; +-inf
/// allowed). Rejection means log_e(k) >= log_threshold (= ln(1/alpha)).
/// Returns the largest k found that is still rejected (at most 2^-bits
/// relative below the crossing), so the bound errs low: conservative.
/// Status at_lower_limit: nothing in [lo, hi] is rejected (L <= lo);
/// at_upper_limit: everything is rejected (L >= hi).
///
/// Preconditions (std::invalid_argument otherwise): lo < hi finite;
/// log_threshold finite.
///
/// Example: \code
/// // lower bound on a mean from the one-sided normal mixture
/// auto r = canarygate::stats::lower_confidence_bound(
///     [&](double mu) { return one_sided_normal_mixture_log_e(sum - mu * t, t, rho); },
///     std::log(1 / alpha), -10.0, 10.0);
/// \endcode
template <class F>
[[nodiscard]] inversion_result lower_confidence_bound(F&& log_e, double log_threshold, double lo,
                                                      double hi, unsigned bits = 40) {
    return detail::invert_monotone(log_e, log_threshold, lo, hi, true, bits);
}

/// Upper confidence bound U for theta from e-values of H0(k): theta >= k.
///
/// `log_e(k)` must be non-decreasing in k on [lo, hi]. Returns the smallest k
/// found that is rejected, so the bound errs high: conservative. Status
/// at_upper_limit: nothing in [lo, hi] is rejected (U >= hi); at_lower_limit:
/// everything is rejected (U <= lo).
///
/// Preconditions as lower_confidence_bound.
template <class F>
[[nodiscard]] inversion_result upper_confidence_bound(F&& log_e, double log_threshold, double lo,
                                                      double hi, unsigned bits = 40) {
    return detail::invert_monotone(log_e, log_threshold, lo, hi, false, bits);
}

}  // namespace stats
CANARYGATE_NAMESPACE_END
