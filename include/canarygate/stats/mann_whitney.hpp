// SPDX-License-Identifier: MIT
/// \file
/// The Mann–Whitney (Wilcoxon rank-sum) test and its confidence interval for
/// a location shift, with the semantics of R's wilcox.test(exact = FALSE,
/// correct = TRUE) -- the statistics behind Kayenta's judge. Fixed-sample
/// references like those of fixed_sample.hpp: not valid under repeated looks.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include <boost/math/distributions/normal.hpp>
#include <boost/math/special_functions/erf.hpp>

#include "canarygate/core/config.hpp"
#include "canarygate/stats/detail/brent_zero.hpp"
#include "canarygate/stats/detail/math.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace stats {

/// Alternative hypothesis of a rank test (R's `alternative`).
enum class alternative {
    two_sided,
    less,     ///< x tends to be smaller than y
    greater,  ///< x tends to be larger than y
};

/// Result of mann_whitney_u_test.
struct mann_whitney_result {
    double u;  ///< W of R's wilcox.test: sum of x's ranks - n_x (n_x + 1) / 2
    double z;  ///< standardised statistic after the continuity correction
    double p_value;
};

/// Mann-Whitney U (Wilcoxon rank-sum) test with the normal approximation,
/// tie correction and optional continuity correction, with the semantics of
/// R's wilcox.test(x, y, exact = FALSE, correct = continuity) -- the test
/// Kayenta's comparator runs:
/// z = (W - n_x n_y / 2 - CORRECTION) / SIGMA,
/// SIGMA^2 = n_x n_y / 12 * (N + 1 - sum(t^3 - t) / (N (N - 1))) over tie
/// groups of size t, CORRECTION = 0.5 sign(W - n_x n_y / 2) (two-sided),
/// +0.5 (greater), -0.5 (less), 0 without continuity correction; p from the
/// normal CDF, two-sided 2 min(Phi(z), 1 - Phi(z)) capped at 1.
/// Deviation from R: when every value is tied (SIGMA = 0) R returns NaN; this
/// returns z = 0, p = 1.
///
/// Preconditions (std::invalid_argument otherwise): both samples non-empty;
/// no NaN. Complexity O(N log N), allocates O(N).
[[nodiscard]] inline mann_whitney_result mann_whitney_u_test(
    std::span<const double> x, std::span<const double> y, alternative alt = alternative::two_sided,
    bool continuity = true) {
    constexpr const char* where = "mann_whitney_u_test";
    if (x.empty() || y.empty()) {
        detail::fail_argument(where, x.empty() ? "x.size()" : "y.size()", std::uint64_t{0},
                              "must be at least 1");
    }
    std::vector<std::pair<double, bool>> all;  // (value, from x)
    all.reserve(x.size() + y.size());
    for (const double v : x) {
        if (std::isnan(v)) {
            detail::fail_argument(where, "x value", v, "is NaN");
        }
        all.emplace_back(v, true);
    }
    for (const double v : y) {
        if (std::isnan(v)) {
            detail::fail_argument(where, "y value", v, "is NaN");
        }
        all.emplace_back(v, false);
    }
    std::sort(all.begin(), all.end(),
              [](const auto& l, const auto& r) { return l.first < r.first; });
    double rank_sum_x = 0.0;
    double tie_term = 0.0;  // sum over tie groups of t^3 - t
    for (std::size_t i = 0; i < all.size();) {
        std::size_t j = i;
        while (j < all.size() && all[j].first == all[i].first) {
            ++j;
        }
        const double t = static_cast<double>(j - i);
        const double mid_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
        for (std::size_t m = i; m < j; ++m) {
            if (all[m].second) {
                rank_sum_x += mid_rank;
            }
        }
        tie_term += t * t * t - t;
        i = j;
    }
    const double nx = static_cast<double>(x.size());
    const double ny = static_cast<double>(y.size());
    const double n = nx + ny;
    const double w = rank_sum_x - nx * (nx + 1.0) / 2.0;
    const double centred = w - nx * ny / 2.0;
    const double sigma2 = nx * ny / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if (!(sigma2 > 0.0)) {
        return mann_whitney_result{w, 0.0, 1.0};
    }
    double correction = 0.0;
    if (continuity) {
        switch (alt) {
            case alternative::two_sided:
                correction = centred > 0.0 ? 0.5 : (centred < 0.0 ? -0.5 : 0.0);
                break;
            case alternative::greater:
                correction = 0.5;
                break;
            case alternative::less:
                correction = -0.5;
                break;
        }
    }
    const double z = (centred - correction) / std::sqrt(sigma2);
    constexpr double inv_sqrt2 = 0.70710678118654752440;
    const double lower_tail = 0.5 * boost::math::erfc(-z * inv_sqrt2);  // Phi(z)
    const double upper_tail = 0.5 * boost::math::erfc(z * inv_sqrt2);   // 1 - Phi(z)
    double p = 0.0;
    switch (alt) {
        case alternative::two_sided:
            p = 2.0 * std::min(lower_tail, upper_tail);
            break;
        case alternative::greater:
            p = upper_tail;
            break;
        case alternative::less:
            p = lower_tail;
            break;
    }
    return mann_whitney_result{w, z, std::min(p, 1.0)};
}

/// R's `wdiff` in wilcox.test, the function whose roots are the confidence
/// interval and the estimate of the shift d in "x - d is distributed like y":
/// the rank-sum statistic of x - d against y, centred, continuity-corrected
/// and standardised, minus a normal quantile:
///   f(d, q) = (dz - 0.5 sign(dz)) / sigma(d) - q,
///   dz = (rank sum of x - d in the pooled sample) - n_x (n_x + 1) / 2 - n_x n_y / 2,
///   sigma(d)^2 = n_x n_y / 12 (N + 1 - sum(t^3 - t) / (N (N - 1))),
/// with average ranks and the tie groups t of the pooled sample *at this
/// shift* (R and Kayenta re-rank x - d at every d; ties that appear or vanish
/// as x slides past y change sigma). Non-increasing in d, up to the small
/// changes of sigma.
///
/// Built from the two samples once (sorted, O(N log N)); each evaluation is
/// a merge, O(number of distinct values), without allocating. Bit-for-bit
/// the arithmetic of R and Kayenta: dz and the tie sum are exact sums of
/// half-integers and integers, sigma follows their order of operations.
class rank_shift_statistic {
public:
    /// Preconditions (std::invalid_argument otherwise): both samples
    /// non-empty; every value finite.
    rank_shift_statistic(std::span<const double> x, std::span<const double> y)
        : x_(distinct_values("x.size()", "x value", x)),
          y_(distinct_values("y.size()", "y value", y)),
          x_size_(static_cast<double>(x.size())),
          y_size_(static_cast<double>(y.size())) {}

    /// f(shift, quantile) above. Throws std::invalid_argument when every
    /// observation of the pooled sample is tied at this shift (sigma = 0;
    /// R and Kayenta stop there too).
    [[nodiscard]] double operator()(double shift, double quantile = 0.0) const {
        double pairs_above = 0;  // #{x_i - d > y_j} + #{x_i - d = y_j} / 2
        double tie_sum = 0;      // sum over tie groups of t^3 - t
        std::size_t j = 0;
        double y_below = 0;  // count of y values below the current x - d
        for (std::size_t i = 0; i < x_.size();) {
            // x values may coincide once shifted (x_i - d rounds): merge them.
            const double value = x_[i].value - shift;
            double x_count = 0;
            while (i < x_.size() && x_[i].value - shift == value) x_count += x_[i++].count;
            while (j < y_.size() && y_[j].value < value) {
                tie_sum += cube_minus(y_[j].count);
                y_below += y_[j++].count;
            }
            double y_equal = 0;
            if (j < y_.size() && y_[j].value == value) {
                y_equal = y_[j].count;
                y_below += y_[j++].count;
            }
            pairs_above += x_count * (y_below - y_equal) + x_count * y_equal / 2;
            tie_sum += cube_minus(x_count + y_equal);
        }
        for (; j < y_.size(); ++j) tie_sum += cube_minus(y_[j].count);
        const double dz = pairs_above - x_size_ * y_size_ / 2;
        const double n = x_size_ + y_size_;
        const double sigma =
            std::sqrt((x_size_ * y_size_ / 12) * ((n + 1) - tie_sum / (n * (n - 1))));
        if (sigma == 0.0) {
            detail::fail_argument(
                "canarygate::stats::rank_shift_statistic: every observation is tied at "
                "this shift, the rank-sum statistic has no spread");
        }
        const double correction = dz > 0 ? 0.5 : (dz < 0 ? -0.5 : 0.0);
        return (dz - correction) / sigma - quantile;
    }

    /// The root of f(., quantile) as R's and Kayenta's interval bounds take
    /// it: smallest_shift() when f is already <= 0 there, largest_shift()
    /// when f is still >= 0 there, else Brent's method between them
    /// (detail/brent_zero.hpp) with an absolute `tolerance` (R's and
    /// Kayenta's 1e-4) and at most 1000 iterations.
    [[nodiscard]] double root(double quantile, double tolerance = 1e-4) const {
        const double f_smallest = (*this)(smallest_shift(), quantile);
        const double f_largest = (*this)(largest_shift(), quantile);
        if (f_smallest <= 0) return smallest_shift();
        if (f_largest >= 0) return largest_shift();
        return solve(quantile, f_smallest, f_largest, tolerance);
    }

    /// The root of f(., 0), the shift that centres the statistic: R's and
    /// Kayenta's estimate, taken by Brent's method without the end-point
    /// rule of root() (R and Kayenta do not apply it; f(smallest_shift(), 0)
    /// >= 0 >= f(largest_shift(), 0) holds whenever sigma > 0).
    [[nodiscard]] double centre(double tolerance = 1e-4) const {
        return solve(0.0, (*this)(smallest_shift(), 0.0), (*this)(largest_shift(), 0.0), tolerance);
    }

    /// min(x) - max(y) and max(x) - min(y): the shifts beyond which the ranks
    /// no longer change, the search range of the roots.
    [[nodiscard]] double smallest_shift() const noexcept {
        return x_.front().value - y_.back().value;
    }
    [[nodiscard]] double largest_shift() const noexcept {
        return x_.back().value - y_.front().value;
    }

private:
    struct group {
        double value;
        double count;
    };

    double solve(double quantile, double f_smallest, double f_largest, double tolerance) const {
        detail::require_positive_finite("rank_shift_statistic", "tolerance", tolerance);
        constexpr int max_iterations = 1000;  // R's uniroot default, Kayenta's
        return detail::brent_zero(
            smallest_shift(), largest_shift(), f_smallest, f_largest,
            [&](double d) { return (*this)(d, quantile); }, tolerance, max_iterations);
    }
    static double cube_minus(double t) noexcept { return t * t * t - t; }

    static std::vector<group> distinct_values(const char* size_name, const char* value_name,
                                              std::span<const double> sample) {
        if (sample.empty()) {
            detail::fail_argument("rank_shift_statistic", size_name, std::uint64_t{0},
                                  "must be at least 1");
        }
        std::vector<double> sorted(sample.begin(), sample.end());
        for (const double v : sorted) {
            detail::require_finite("rank_shift_statistic", value_name, v);
        }
        std::sort(sorted.begin(), sorted.end());
        std::vector<group> groups;
        for (const double v : sorted) {
            if (groups.empty() || groups.back().value != v) {
                groups.push_back(group{v, 1});
            } else {
                groups.back().count += 1;
            }
        }
        return groups;
    }

    std::vector<group> x_;
    std::vector<group> y_;
    double x_size_;
    double y_size_;
};

/// A confidence interval for a location shift and its point estimate.
struct shift_interval {
    double lower;
    double upper;
    double estimate;
};

/// The confidence interval and estimate of the shift d = "x minus y" that R's
/// wilcox.test(x, y, conf.int = TRUE, exact = FALSE, correct = TRUE,
/// conf.level = confidence) reports, and Kayenta's MannWhitney computes with
/// x the experiment and y the control:
///  - lower = the root in d of f(d, z), upper = the root of f(d, -z), with
///    f = rank_shift_statistic and z the normal 1 - (1 - confidence) / 2
///    quantile; a bound is min(x) - max(y) when f is already <= 0 there, and
///    max(x) - min(y) when f is still >= 0 there;
///  - estimate = the root of f(d, 0): the shift that centres the rank-sum
///    statistic, R's estimate of the Hodges–Lehmann shift (the median of the
///    pairwise differences x_i - y_j, up to the continuity correction and the
///    tolerance).
/// Roots by Brent's method exactly as R's uniroot (detail/brent_zero.hpp)
/// with R's and Kayenta's absolute tolerance 1e-4 and 1000 iterations. The
/// tolerance is absolute: on data of order 1e-4 or smaller (error rates,
/// say) the bounds are no better than about +-1e-4, and lower may even
/// exceed upper -- as in R and Kayenta, whose published values this
/// reproduces (tests/stats/test_stats_mann_whitney.cpp ties it out against
/// Kayenta's test suite).
///
/// Preconditions (std::invalid_argument otherwise): both samples non-empty
/// and finite; 0 < confidence < 1; tolerance > 0; not every value of x and
/// of y the same (then every shift ties all observations and no interval
/// exists; Kayenta's classifier adds noise first, see naive.hpp).
/// Complexity O(N log N) plus O(distinct values) per root-finder step.
[[nodiscard]] inline shift_interval wilcoxon_shift_interval(std::span<const double> x,
                                                            std::span<const double> y,
                                                            double confidence = 0.95,
                                                            double tolerance = 1e-4) {
    constexpr const char* where = "wilcoxon_shift_interval";
    detail::require_open_unit(where, "confidence", confidence);
    detail::require_positive_finite(where, "tolerance", tolerance);
    const rank_shift_statistic f(x, y);
    const double z = boost::math::quantile(boost::math::complement(
        boost::math::normal_distribution<double>(), (1.0 - confidence) / 2.0));
    return shift_interval{f.root(z, tolerance), f.root(-z, tolerance), f.centre(tolerance)};
}

}  // namespace stats
CANARYGATE_NAMESPACE_END
