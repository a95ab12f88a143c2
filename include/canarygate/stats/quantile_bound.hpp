// SPDX-License-Identifier: MIT
/// \file
/// Confidence sequence for one fixed quantile, as order-statistic ranks
/// (Howard & Ramdas, "Sequential estimation of quantiles with applications to
/// A/B-testing and best-arm identification", Bernoulli 28(3), 2022: a
/// fixed-quantile confidence sequence from a uniform boundary for the centred
/// Bernoulli sum).
///
/// Setting: X_1, X_2, ... i.i.d. with CDF F; q = inf{x : F(x) >= p}. Then
/// 1{X_i < q} ~ Bernoulli(p-) with p- <= p and 1{X_i <= q} ~ Bernoulli(p+)
/// with p+ >= p, so
///  - upper bound: X_(r) >= q unless #{i <= t : X_i < q} >= r, an upward
///    deviation of a sum of Bernoulli(<= p) indicators;
///  - lower bound: X_(l) <= q unless #{i <= t : X_i <= q} < l, a downward
///    deviation of a sum of Bernoulli(>= p) indicators.
///
/// Each side uses the one-sided normal-mixture boundary (normal_mixture.hpp)
/// with a variance proxy sigma^2 per observation, V_t = sigma^2 t. Why that is
/// valid: for Z ~ Bernoulli(p') with p' <= p and lambda >= 0,
/// E exp(lambda (Z - p)) = e^(-lambda p) (1 - p' + p' e^lambda) is
/// non-decreasing in p', so the worst case is p' = p, whose cumulant
/// generating function K(lambda) = ln(1 - p + p e^lambda) - lambda p has
/// K(0) = K'(0) = 0 and K''(lambda) = q(1 - q) with
/// q = p e^lambda / (1 - p + p e^lambda), which rises from p towards 1 as
/// lambda grows. Hence K'' <= 1/4 always, and K'' <= p(1-p) when p >= 1/2;
/// integrating twice, K(lambda) <= sigma^2 lambda^2 / 2 with
///     sigma^2 = p(1-p) if p >= 1/2, else 1/4           (upward, upper rank);
/// the lower rank is the same argument for 1 - Z ~ Bernoulli(<= 1-p):
///     sigma^2 = p(1-p) if p <= 1/2, else 1/4           (downward, lower rank).
/// So exp(lambda S_t - lambda^2 sigma^2 t / 2) is a supermartingale for every
/// lambda >= 0 and the one-sided mixture applies. (V = t p(1-p) is NOT valid
/// in the other direction: a rare +1 jump of a Bernoulli(0.01) indicator has
/// heavier than Gaussian tails. That direction pays the Hoeffding proxy 1/4.)
/// For the P99 upper bound that a latency gate needs, sigma^2 = 0.0099.
///
/// With u_hi, u_lo the boundaries (strict: S_t < u on the good event), the
/// ranks are r = floor(t p + u_hi) + 1 and l = floor(t p - u_lo) + 1
/// (docs/statistics.md, "Quantile gates"), rounded outwards by a few ulps.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "canarygate/core/config.hpp"
#include "canarygate/stats/detail/math.hpp"
#include "canarygate/stats/normal_mixture.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace stats {

/// Which quantile bounds a quantile_confidence_sequence provides.
enum class quantile_bound_side {
    both,   ///< lower and upper bound, alpha/2 each
    lower,  ///< lower bound only, all of alpha
    upper,  ///< upper bound only, all of alpha
};

/// 1-based order-statistic ranks bounding the true quantile.
struct quantile_rank_bounds {
    /// X_(lower) <= q. 0 means "no lower bound yet" (-infinity).
    std::uint64_t lower;
    /// X_(upper) >= q. A value > t means "no upper bound yet" (+infinity).
    std::uint64_t upper;
};

/// Anytime-valid confidence sequence for the p-quantile of i.i.d. data,
/// reduced to ranks: with probability >= 1 - alpha, for every t at once,
/// X_(lower(t)) <= q <= X_(upper(t)) (order statistics of the first t
/// observations). A small immutable value object.
///
/// Example: \code
/// canarygate::stats::quantile_confidence_sequence cs(0.99, 0.025, 10'000,
///     canarygate::stats::quantile_bound_side::upper);
/// auto r = cs.ranks(n);  // the P99 is at most the r.upper-th smallest value
/// \endcode
class quantile_confidence_sequence {
public:
    /// `t_opt`: the number of observations at which the bound should be
    /// tightest (tunes the mixture; any value is valid).
    ///
    /// Preconditions (std::invalid_argument otherwise): 0 < p < 1;
    /// 0 < alpha < 1 (alpha < 1/2 for one side, alpha < 1 for both);
    /// t_opt > 0 finite.
    quantile_confidence_sequence(double p, double alpha, double t_opt,
                                 quantile_bound_side side = quantile_bound_side::both)
        : p_(p), alpha_(alpha), side_(side) {
        constexpr const char* where = "quantile_confidence_sequence";
        detail::require_open_unit(where, "p", p);
        detail::require_open_unit(where, "alpha", alpha);
        detail::require_positive_finite(where, "t_opt", t_opt);
        const double side_alpha = side == quantile_bound_side::both ? alpha / 2.0 : alpha;
        if (!(side_alpha < 0.5)) {
            detail::fail_argument(where, "alpha", alpha, "leaves a one-sided level >= 1/2");
        }
        const double pq = p * (1.0 - p);
        upper_ = side == quantile_bound_side::lower
                     ? disabled()
                     : make_side(p >= 0.5 ? pq : 0.25, side_alpha, t_opt);
        lower_ = side == quantile_bound_side::upper
                     ? disabled()
                     : make_side(p <= 0.5 ? pq : 0.25, side_alpha, t_opt);
    }

    /// The ranks after t observations. O(1) root findings (about 20 ln Phi
    /// evaluations).
    [[nodiscard]] quantile_rank_bounds ranks(std::uint64_t t) const {
        const double td = detail::to_double(t);
        const double centre = td * p_;
        quantile_rank_bounds result{0, t + 1};
        if (upper_.enabled && t > 0) {
            const double x = centre + radius(upper_, td);
            const double x_out = x + 4.0 * std::numeric_limits<double>::epsilon() * x;
            result.upper = x_out >= td ? t + 1 : static_cast<std::uint64_t>(std::floor(x_out)) + 1;
        }
        if (lower_.enabled && t > 0) {
            const double y = centre - radius(lower_, td);
            const double y_out = y - 4.0 * std::numeric_limits<double>::epsilon() * std::fabs(y);
            result.lower = y_out < 0.0 ? 0 : static_cast<std::uint64_t>(std::floor(y_out)) + 1;
        }
        return result;
    }

    /// u_hi(t): the upper boundary on #{X_i < q} - t p, in observations;
    /// +infinity when this sequence has no upper side.
    [[nodiscard]] double upper_radius(std::uint64_t t) const {
        return upper_.enabled ? radius(upper_, detail::to_double(t))
                              : std::numeric_limits<double>::infinity();
    }

    /// u_lo(t): the boundary on t p - #{X_i <= q}; +infinity without a lower
    /// side.
    [[nodiscard]] double lower_radius(std::uint64_t t) const {
        return lower_.enabled ? radius(lower_, detail::to_double(t))
                              : std::numeric_limits<double>::infinity();
    }

    /// The variance proxy per observation used by the upper side (see the
    /// file comment); 0 without an upper side.
    [[nodiscard]] double upper_variance_proxy() const noexcept { return upper_.sigma2; }

    /// The variance proxy per observation used by the lower side.
    [[nodiscard]] double lower_variance_proxy() const noexcept { return lower_.sigma2; }

    [[nodiscard]] double p() const noexcept { return p_; }
    [[nodiscard]] double alpha() const noexcept { return alpha_; }
    [[nodiscard]] quantile_bound_side side() const noexcept { return side_; }

private:
    struct side_params {
        bool enabled;
        double sigma2;  // variance proxy per observation
        double alpha;   // this side's crossing probability
        double rho;     // mixture precision
    };

    static side_params disabled() noexcept { return side_params{false, 0.0, 0.0, 0.0}; }

    static side_params make_side(double sigma2, double alpha, double t_opt) {
        return side_params{true, sigma2, alpha,
                           normal_mixture_rho(sigma2 * t_opt, alpha, sides::one_sided)};
    }

    [[nodiscard]] static double radius(const side_params& s, double t) {
        return one_sided_normal_mixture_boundary(s.sigma2 * t, s.rho, s.alpha);
    }

    double p_;
    double alpha_;
    quantile_bound_side side_;
    side_params upper_{};
    side_params lower_{};
};

}  // namespace stats
CANARYGATE_NAMESPACE_END
