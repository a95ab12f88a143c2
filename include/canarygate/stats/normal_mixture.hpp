// SPDX-License-Identifier: MIT
/// \file
/// Normal-mixture uniform boundaries (Howard, Ramdas, McAuliffe & Sekhon,
/// "Time-uniform, nonparametric, nonasymptotic confidence sequences",
/// Ann. Statist. 49(2), 2021: the two-sided and the one-sided normal mixture;
/// the closed forms below are derived here and agree with the first author's
/// reference implementation, confseq).
///
/// Setting: S_t is a process with variance process V_t such that
/// exp(lambda S_t - lambda^2 V_t / 2) is a non-negative supermartingale for
/// every lambda >= 0 (one-sided) or every real lambda (two-sided) -- e.g. S_t a
/// sum of centred 1-sub-Gaussian increments scaled by their variance proxy.
/// Mixing over lambda gives a non-negative supermartingale M_t with M_0 = 1,
/// and Ville's inequality P(exists t: M_t >= 1/alpha) <= alpha turns
/// {M_t < 1/alpha} into a boundary u(V_t) that S_t crosses with probability at
/// most alpha, at any time.
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>

#include <boost/math/tools/roots.hpp>

#include "canarygate/core/config.hpp"
#include "canarygate/stats/detail/math.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace stats {

/// Which deviations a boundary controls.
enum class sides {
    one_sided,  ///< S_t >= u(V_t) only (mixture over lambda >= 0)
    two_sided,  ///< |S_t| >= u(V_t)
};

/// The mixture precision rho that makes the boundary tightest near intrinsic
/// time v_opt.
///
/// For the two-sided boundary u(v)^2 = (v+rho)(ln(1+v/rho) + 2 ln(1/alpha)),
/// d u^2 / d rho = 0 gives v/rho = 2 ln(1/alpha) + ln(1 + v/rho); one
/// fixed-point step gives rho = v_opt / (2 L + ln(1 + 2 L)), L = ln(1/alpha)
/// (docs/statistics.md, "Cost"). The one-sided boundary at alpha is close to the
/// two-sided one at 2 alpha, so sides::one_sided uses L = ln(1/(2 alpha)), as
/// the authors' reference implementation does. rho only moves where the
/// boundary is tight; any rho > 0 is valid.
///
/// Preconditions (std::invalid_argument otherwise): v_opt > 0 finite;
/// 0 < alpha < 1 (alpha < 1/2 for sides::one_sided).
[[nodiscard]] inline double normal_mixture_rho(double v_opt, double alpha,
                                               sides side = sides::two_sided) {
    constexpr const char* where = "normal_mixture_rho";
    detail::require_positive_finite(where, "v_opt", v_opt);
    detail::require_open_unit(where, "alpha", alpha);
    const double effective_alpha = side == sides::one_sided ? 2.0 * alpha : alpha;
    if (!(effective_alpha < 1.0)) {
        detail::fail_argument(where, "alpha", alpha, "must be below 1/2 for a one-sided boundary");
    }
    const double two_l = 2.0 * std::log(1.0 / effective_alpha);
    return v_opt / (two_l + std::log1p(two_l));
}

namespace detail {
inline void check_mixture_args(const char* where, double v, double rho) {
    require_nonnegative_finite(where, "v", v);
    require_positive_finite(where, "rho", rho);
}
}  // namespace detail

/// ln M of the two-sided normal mixture, lambda ~ N(0, 1/rho):
/// M = int exp(lambda s - lambda^2 v/2) N(lambda; 0, 1/rho) dlambda
///   = sqrt(rho/(v+rho)) exp(s^2 / (2 (v+rho))).
///
/// Preconditions: s finite, v >= 0 finite, rho > 0 finite
/// (std::invalid_argument otherwise).
[[nodiscard]] inline double two_sided_normal_mixture_log_e(double s, double v, double rho) {
    constexpr const char* where = "two_sided_normal_mixture_log_e";
    detail::require_finite(where, "s", s);
    detail::check_mixture_args(where, v, rho);
    return -0.5 * std::log1p(v / rho) + s * s / (2.0 * (v + rho));
}

/// The two-sided normal-mixture boundary (Howard et al. 2021):
/// u(v) = sqrt((v+rho) (ln(1 + v/rho) + 2 ln(1/alpha))), the solution of
/// M(u, v) = 1/alpha; P(exists t: |S_t| >= u(V_t)) <= alpha.
///
/// Preconditions: v >= 0 finite, rho > 0 finite, 0 < alpha < 1.
[[nodiscard]] inline double two_sided_normal_mixture_boundary(double v, double rho, double alpha) {
    constexpr const char* where = "two_sided_normal_mixture_boundary";
    detail::check_mixture_args(where, v, rho);
    detail::require_open_unit(where, "alpha", alpha);
    return std::sqrt((v + rho) * (std::log1p(v / rho) + 2.0 * std::log(1.0 / alpha)));
}

/// ln M of the one-sided normal mixture: lambda has the half-normal density
/// 2 sqrt(rho/(2 pi)) exp(-rho lambda^2 / 2) on lambda >= 0 (N(0, 1/rho)
/// truncated to lambda >= 0). Completing the square,
/// lambda s - lambda^2 (v+rho)/2 = s^2/(2(v+rho)) - (v+rho)/2 (lambda - s/(v+rho))^2,
/// and int_0^inf exp(-(v+rho)/2 (lambda - m)^2) dlambda =
/// sqrt(2 pi/(v+rho)) Phi(m sqrt(v+rho)), so
///
///     M = 2 sqrt(rho/(v+rho)) exp(s^2/(2(v+rho))) Phi(s / sqrt(v+rho)),
///     ln M = 1/2 ln(4 rho/(v+rho)) + s^2/(2(v+rho)) + ln Phi(s/sqrt(v+rho))
///
/// (docs/statistics.md; the same expression as the authors' reference
/// implementation). Strictly increasing in s: d ln M / ds =
/// (z + phi(z)/Phi(z)) / sqrt(v+rho) > 0 with z = s / sqrt(v+rho).
///
/// Preconditions: s finite, v >= 0 finite, rho > 0 finite.
[[nodiscard]] inline double one_sided_normal_mixture_log_e(double s, double v, double rho) {
    constexpr const char* where = "one_sided_normal_mixture_log_e";
    detail::require_finite(where, "s", s);
    detail::check_mixture_args(where, v, rho);
    constexpr double ln2 = 0.69314718055994530942;
    const double w = v + rho;
    return ln2 - 0.5 * std::log1p(v / rho) + s * s / (2.0 * w) +
           detail::log_normal_cdf(s / std::sqrt(w));
}

/// The one-sided normal-mixture boundary: the unique u with
/// ln M(u, v) = ln(1/alpha), found by TOMS 748 root finding; then
/// P(exists t: S_t >= u(V_t)) <= alpha.
///
/// The root is bracketed by closed forms: Phi <= 1 gives u >= the two-sided
/// boundary at 2 alpha (when 2 alpha < 1, else u >= 0), and Phi >= 1/2 for
/// s >= 0 gives u <= the two-sided boundary at alpha. The returned value is the
/// upper end of the final bracket (M >= 1/alpha there), so it never
/// understates the boundary.
///
/// Preconditions: v >= 0 finite, rho > 0 finite, 0 < alpha < 1.
/// Complexity: about 10 evaluations of ln M.
[[nodiscard]] inline double one_sided_normal_mixture_boundary(double v, double rho, double alpha) {
    constexpr const char* where = "one_sided_normal_mixture_boundary";
    detail::check_mixture_args(where, v, rho);
    detail::require_open_unit(where, "alpha", alpha);
    const double log_threshold = std::log(1.0 / alpha);
    const auto g = [&](double s) {
        return one_sided_normal_mixture_log_e(s, v, rho) - log_threshold;
    };
    double lo = 2.0 * alpha < 1.0 ? two_sided_normal_mixture_boundary(v, rho, 2.0 * alpha) : 0.0;
    double hi = two_sided_normal_mixture_boundary(v, rho, alpha);
    const double g_lo = g(lo);
    const double g_hi = g(hi);
    if (g_hi <= 0.0) {
        return hi;  // only by rounding: the bracket is exact mathematically
    }
    if (g_lo >= 0.0) {
        return lo;
    }
    std::uintmax_t max_iter = 100;
    const auto bracket = boost::math::tools::toms748_solve(
        g, lo, hi, g_lo, g_hi, boost::math::tools::eps_tolerance<double>(50), max_iter);
    return bracket.second;
}

/// The boundary of either kind: one_sided_normal_mixture_boundary or
/// two_sided_normal_mixture_boundary.
[[nodiscard]] inline double normal_mixture_boundary(double v, double rho, double alpha,
                                                    sides side) {
    return side == sides::one_sided ? one_sided_normal_mixture_boundary(v, rho, alpha)
                                    : two_sided_normal_mixture_boundary(v, rho, alpha);
}

}  // namespace stats
CANARYGATE_NAMESPACE_END
