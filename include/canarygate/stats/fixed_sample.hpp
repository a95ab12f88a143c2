// SPDX-License-Identifier: MIT
/// \file
/// Fixed-sample references, for reports and for the side-by-side comparison
/// with the tools people use today. None of these is valid under repeated
/// looks; the gates use the anytime-valid tests of the other headers.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/special_functions/erf.hpp>

#include "canarygate/core/config.hpp"
#include "canarygate/stats/detail/math.hpp"
#include "canarygate/stats/mann_whitney.hpp"  // the rank test, kept with its interval

CANARYGATE_NAMESPACE_BEGIN
namespace stats {

/// A two-sided interval for a proportion.
struct proportion_interval {
    double lower;
    double upper;
};

/// Clopper-Pearson exact interval for a binomial proportion at confidence
/// 1 - alpha (alpha/2 per side; Clopper & Pearson, Biometrika 1934), from
/// boost::math::binomial_distribution's find_lower/upper_bound_on_p. Lower is
/// 0 when successes = 0, upper is 1 when successes = trials; [0, 1] for
/// trials = 0.
///
/// Preconditions (std::invalid_argument otherwise): successes <= trials;
/// 0 < alpha < 1.
[[nodiscard]] inline proportion_interval clopper_pearson_interval(std::uint64_t successes,
                                                                  std::uint64_t trials,
                                                                  double alpha) {
    constexpr const char* where = "clopper_pearson_interval";
    detail::require_open_unit(where, "alpha", alpha);
    if (successes > trials) {
        detail::fail_argument(where, "successes", successes, "exceeds trials");
    }
    if (trials == 0) {
        return proportion_interval{0.0, 1.0};
    }
    using binomial = boost::math::binomial_distribution<double>;
    const double n = detail::to_double(trials);
    const double k = detail::to_double(successes);
    const double lower = successes == 0 ? 0.0 : binomial::find_lower_bound_on_p(n, k, alpha / 2.0);
    const double upper =
        successes == trials ? 1.0 : binomial::find_upper_bound_on_p(n, k, alpha / 2.0);
    return proportion_interval{lower, upper};
}

/// One-sided Clopper–Pearson upper bound at confidence 1 − alpha: the
/// largest rate p with P(Binomial(trials, p) <= successes) >= alpha. 1 for
/// trials = 0. What a simulation reports beside an observed false-alarm rate.
[[nodiscard]] inline double clopper_pearson_upper(std::uint64_t successes, std::uint64_t trials,
                                                  double alpha = 0.05) {
    if (trials == 0) return 1.0;
    return clopper_pearson_interval(successes, trials, 2 * alpha).upper;
}

/// The nearest-rank p-quantile of the values that are not NaN (NaN when
/// none is): the ceil(p n)-th smallest, at least the first.
[[nodiscard]] inline double nearest_rank_quantile(std::vector<double> values, double p) {
    values.erase(
        std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }),
        values.end());
    if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(values.begin(), values.end());
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size())));
    return values[std::min(values.size(), std::max<std::size_t>(rank, 1)) - 1];
}

/// 1-based order-statistic ranks of a distribution-free interval for a
/// quantile: lower = 0 means "no lower bound", upper = n + 1 "no upper
/// bound".
struct quantile_rank_interval {
    std::uint64_t lower;
    std::uint64_t upper;
};

/// Distribution-free fixed-sample interval for the q-quantile xi_q of a
/// continuous distribution from n observations, at confidence 1 - alpha
/// (alpha/2 per side): P(X_(r) <= xi_q) = P(Binomial(n, q) >= r), so the
/// lower rank is the largest r with P(Binomial(n, q) <= r - 1) <= alpha/2 and
/// the upper rank the smallest u with P(Binomial(n, q) <= u - 1) >= 1 -
/// alpha/2 (the binomial order-statistic interval, e.g. Conover, "Practical
/// Nonparametric Statistics", 3.2). Binary search on Boost's binomial cdf.
///
/// Preconditions (std::invalid_argument otherwise): 0 < q < 1; 0 < alpha < 1.
[[nodiscard]] inline quantile_rank_interval quantile_order_statistic_ranks(std::uint64_t n,
                                                                           double q, double alpha) {
    constexpr const char* where = "quantile_order_statistic_ranks";
    detail::require_open_unit(where, "q", q);
    detail::require_open_unit(where, "alpha", alpha);
    if (n == 0) {
        return quantile_rank_interval{0, 1};
    }
    const boost::math::binomial_distribution<double> b(detail::to_double(n), q);
    // F(r) = P(Binomial <= r), non-decreasing in r = 0..n.
    auto cdf = [&](std::uint64_t r) { return boost::math::cdf(b, detail::to_double(r)); };
    // Smallest r in [0, n] with F(r) >= target, or n + 1 if none.
    auto first_at_least = [&](double target) {
        std::uint64_t lo = 0;
        std::uint64_t hi = n + 1;
        while (lo < hi) {
            const std::uint64_t mid = lo + (hi - lo) / 2;
            if (mid <= n && cdf(mid) >= target) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return lo;
    };
    // Lower: the largest r with F(r - 1) <= alpha/2; F(r - 1) > alpha/2 first
    // at r - 1 = first_above, so r = first_above (0 when even F(0) > alpha/2).
    const std::uint64_t first_above = first_at_least(std::nextafter(alpha / 2.0, 1.0));
    const std::uint64_t lower = first_above;
    // Upper: the smallest u with F(u - 1) >= 1 - alpha/2.
    const std::uint64_t at = first_at_least(1.0 - alpha / 2.0);
    const std::uint64_t upper = at >= n + 1 ? n + 1 : at + 1;
    return quantile_rank_interval{lower, std::min(upper, n + 1)};
}

/// The shape of a Fieller confidence set.
enum class fieller_kind {
    bounded,    ///< [lower, upper]: the denominator is clearly non-zero
    exclusive,  ///< (-inf, lower] U [upper, +inf); one of them may be infinite,
                ///< then the set is a single half-line
    unbounded,  ///< the whole real line: the data do not bound the ratio
};

/// A Fieller confidence set for a ratio of means; lower/upper are infinite
/// for fieller_kind::unbounded. Never NaN.
struct fieller_interval {
    fieller_kind kind;
    double lower;
    double upper;
};

/// Fieller's confidence set (Fieller, J. R. Stat. Soc. B 1954) at confidence
/// 1 - alpha for theta = mu_num / mu_den from independent, approximately
/// normal estimates: {theta : (m_n - theta m_d)^2 <= z^2 (v_n + theta^2 v_d)},
/// z the normal 1 - alpha/2 quantile, v_n and v_d the variances of the mean
/// estimates (squared standard errors). With A = m_d^2 - z^2 v_d,
/// B = m_n m_d, C = m_n^2 - z^2 v_n and D = B^2 - A C: A > 0 gives a bounded
/// interval (then D >= 0), A < 0 and D > 0 the two rays outside the roots,
/// A < 0 and D <= 0 the whole line; A = 0 a half-line or the whole line.
///
/// Preconditions (std::invalid_argument otherwise): means finite; variances
/// finite and >= 0; not both mean_den = 0 and var_mean_den = 0 (the ratio
/// would be infinite); 0 < alpha < 1.
[[nodiscard]] inline fieller_interval fieller_ratio_interval(double mean_num, double var_mean_num,
                                                             double mean_den, double var_mean_den,
                                                             double alpha) {
    constexpr const char* where = "fieller_ratio_interval";
    detail::require_finite(where, "mean_num", mean_num);
    detail::require_finite(where, "mean_den", mean_den);
    detail::require_nonnegative_finite(where, "var_mean_num", var_mean_num);
    detail::require_nonnegative_finite(where, "var_mean_den", var_mean_den);
    detail::require_open_unit(where, "alpha", alpha);
    if (mean_den == 0.0 && var_mean_den == 0.0) {
        detail::fail_argument(where, "mean_den", mean_den, "is exactly 0 with no variance");
    }
    constexpr double inf = std::numeric_limits<double>::infinity();
    const double z = boost::math::quantile(
        boost::math::complement(boost::math::normal_distribution<double>(), alpha / 2.0));
    const double z2 = z * z;
    const double a = mean_den * mean_den - z2 * var_mean_den;
    const double b = mean_num * mean_den;
    const double c = mean_num * mean_num - z2 * var_mean_num;
    if (a == 0.0) {
        // -2 b theta + c <= 0.
        if (b > 0.0) {
            return fieller_interval{fieller_kind::exclusive, -inf, c / (2.0 * b)};
        }
        if (b < 0.0) {
            return fieller_interval{fieller_kind::exclusive, c / (2.0 * b), inf};
        }
        return fieller_interval{fieller_kind::unbounded, -inf, inf};  // c <= 0 here
    }
    const double d = b * b - a * c;
    if (a < 0.0 && !(d > 0.0)) {
        return fieller_interval{fieller_kind::unbounded, -inf, inf};
    }
    // Roots of a theta^2 - 2 b theta + c, in the cancellation-free form.
    const double sqrt_d = std::sqrt(d > 0.0 ? d : 0.0);
    const double q = b >= 0.0 ? b + sqrt_d : b - sqrt_d;
    double r1 = q / a;
    double r2 = q != 0.0 ? c / q : r1;
    if (r1 > r2) {
        std::swap(r1, r2);
    }
    return fieller_interval{a > 0.0 ? fieller_kind::bounded : fieller_kind::exclusive, r1, r2};
}

/// A test statistic and its p-value.
struct z_test_result {
    double z;
    double p_value;
};

/// Two-sided one-sample z-test of H0: mu = mu0: z = (mean - mu0) / se,
/// p = 2 (1 - Phi(|z|)) = erfc(|z| / sqrt 2).
///
/// Preconditions (std::invalid_argument otherwise): mean and mu0 finite;
/// standard_error > 0 finite.
[[nodiscard]] inline z_test_result one_sample_z_test(double mean, double standard_error,
                                                     double mu0) {
    constexpr const char* where = "one_sample_z_test";
    detail::require_finite(where, "mean", mean);
    detail::require_finite(where, "mu0", mu0);
    detail::require_positive_finite(where, "standard_error", standard_error);
    const double z = (mean - mu0) / standard_error;
    return z_test_result{z, boost::math::erfc(std::fabs(z) * 0.70710678118654752440)};
}

}  // namespace stats
CANARYGATE_NAMESPACE_END
