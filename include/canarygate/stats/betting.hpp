// SPDX-License-Identifier: MIT
/// \file
/// Betting e-process for H0: E[X_i | past] <= m_i, X_i >= 0, from per-window
/// aggregates (Waudby-Smith & Ramdas, "Estimating means of bounded random
/// variables by betting", JRSS-B 2024, with the aGRAPA-style bet of
/// docs/statistics.md and the Fan, Grama & Liu (2015) lower bound on ln(1 + x)).
///
/// With y_i = X_i / m_i - 1 >= -1 and bets lambda_i in [0, c], c < 1, chosen
/// from the past only, the wealth K_t = prod_i (1 + lambda_i y_i) is a
/// non-negative supermartingale under H0 (E[1 + lambda_i y_i | past] <= 1),
/// so P_H0(exists t: K_t >= 1/alpha) <= alpha (Ville). With one bet lambda_w
/// per window and only (n_w, sum y, sum y^2) known, we track the lower bound
///
///     ln L_t = sum_w [lambda_w sum_{i in w} y_i - psi(lambda_w) sum_{i in w} y_i^2],
///     psi(lambda) = -ln(1 - lambda) - lambda,
///
/// which satisfies L_t <= K_t, so rejecting when L_t >= 1/alpha is still
/// valid.
///
/// Proof of ln(1 + lambda y) >= lambda y - psi(lambda) y^2 for y >= -1,
/// 0 <= lambda < 1 (Fan, Grama & Liu, "Exponential inequalities for
/// martingales with applications", Electron. J. Probab. 2015, as used by
/// Waudby-Smith & Ramdas; the proof here is self-contained):
/// for x > -1, ln(1 + x) - x = -int_0^x s/(1+s) ds = -x^2 int_0^1 u/(1+xu) du
/// (substitute s = xu), so f(x) = (ln(1+x) - x)/x^2 = -int_0^1 u/(1+xu) du
/// (f(0) = -1/2). For each u in (0, 1], 1 + xu > 0 grows with x, so
/// -u/(1+xu) grows with x: f is non-decreasing on (-1, inf). For lambda = 0
/// the claim is 0 >= 0. For 0 < lambda < 1 put x = lambda y >= -lambda > -1:
/// f(lambda y) >= f(-lambda) = (ln(1-lambda) + lambda)/lambda^2
/// = -psi(lambda)/lambda^2, and multiplying by x^2 = lambda^2 y^2 >= 0,
/// ln(1 + lambda y) - lambda y >= -psi(lambda) y^2.  QED
#pragma once

#include <cmath>
#include <cstdint>

#include "canarygate/core/config.hpp"
#include "canarygate/stats/detail/math.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace stats {

/// psi(lambda) = -ln(1 - lambda) - lambda, the penalty of the betting lower
/// bound; >= lambda^2/2, accurate for tiny lambda (series below 1e-3).
///
/// Precondition: 0 <= lambda < 1 (std::invalid_argument otherwise).
[[nodiscard]] inline double betting_psi(double lambda) {
    if (!(lambda >= 0.0 && lambda < 1.0)) {
        detail::fail_argument("betting_psi", "lambda", lambda, "is outside [0, 1)");
    }
    if (lambda < 1e-3) {
        // sum_{k>=2} lambda^k / k; the terms past lambda^8 are < 1e-27 lambda^2.
        double term = lambda * lambda;
        double sum = 0.0;
        for (int k = 2; k <= 8; ++k) {
            sum += term / static_cast<double>(k);
            term *= lambda;
        }
        return sum;
    }
    return -std::log1p(-lambda) - lambda;
}

/// Per-window sums of the standardised observations y_i = X_i / m - 1.
struct window_sums {
    std::uint64_t n;  ///< observations in the window
    double sum_y;     ///< sum of y_i (>= -n)
    double sum_y2;    ///< sum of y_i^2
};

/// Builds window_sums from raw aggregates (n, sum x, sum x^2) of non-negative
/// observations and the window's null mean bound m:
/// sum y = sum x / m - n, sum y^2 = sum x^2 / m^2 - 2 sum x / m + n.
/// Rounding in the second difference is repaired by raising sum y^2 to at
/// least (sum y)^2 / n (Cauchy-Schwarz), which only lowers the e-value.
///
/// Preconditions (std::invalid_argument otherwise): m > 0 finite; sum_x and
/// sum_x2 finite and >= 0.
[[nodiscard]] inline window_sums standardized_window_sums(std::uint64_t n, double sum_x,
                                                          double sum_x2, double m) {
    constexpr const char* where = "standardized_window_sums";
    detail::require_positive_finite(where, "m", m);
    detail::require_nonnegative_finite(where, "sum_x", sum_x);
    detail::require_nonnegative_finite(where, "sum_x2", sum_x2);
    if (n == 0) {
        return window_sums{0, 0.0, 0.0};
    }
    const double nd = detail::to_double(n);
    const double r = sum_x / m;
    const double sum_y = r - nd;
    double sum_y2 = sum_x2 / (m * m) - 2.0 * r + nd;
    const double floor_y2 = sum_y * sum_y / nd;
    sum_y2 = sum_y2 < floor_y2 ? floor_y2 : sum_y2;
    return window_sums{n, sum_y, sum_y2};
}

/// The betting e-process of this file, one bet per window: a small state
/// object with O(1) update and queries, no allocation.
///
/// The bet for the next window is the predictable aGRAPA-style choice
/// lambda = clip(ybar / (s^2 + ybar^2), 0, c) from all earlier windows, where
/// ybar and s^2 are their mean and (population) variance of y; since
/// s^2 + ybar^2 = mean(y^2) this is clip(sum y / sum y^2, 0, c). Before any
/// observation (or while sum y^2 = 0) the bet is `initial_lambda` (default 0:
/// the first window only informs the bet).
///
/// Not thread-safe.
///
/// Example: \code
/// canarygate::stats::betting_e_process e;   // c = 0.5
/// for (auto& w : windows)                   // per window: n, sum x, sum x^2, m = k * baseline UCB
///     e.update(canarygate::stats::standardized_window_sums(w.n, w.sum_x, w.sum_x2, w.m));
/// bool fail = e.log_e_value() >= std::log(1 / alpha);
/// \endcode
class betting_e_process {
public:
    /// Preconditions (std::invalid_argument otherwise): 0 < max_lambda < 1;
    /// 0 <= initial_lambda <= max_lambda.
    explicit betting_e_process(double max_lambda = 0.5, double initial_lambda = 0.0)
        : max_lambda_(max_lambda), initial_lambda_(initial_lambda) {
        constexpr const char* where = "betting_e_process";
        detail::require_open_unit(where, "max_lambda", max_lambda);
        if (!(initial_lambda >= 0.0 && initial_lambda <= max_lambda)) {
            detail::fail_argument(where, "initial_lambda", initial_lambda,
                                  "is outside [0, max_lambda]");
        }
    }

    /// Adds one window with its sums of y_i = X_i / m_w - 1, using the bet
    /// next_lambda() fixed before the window was seen. A window with n_w = 0
    /// changes nothing.
    ///
    /// Preconditions (std::invalid_argument otherwise, state unchanged):
    /// sum_y and sum_y2 finite; sum_y >= -n_w (y_i >= -1 as X_i >= 0);
    /// sum_y2 >= 0.
    void update(std::uint64_t n_w, double sum_y, double sum_y2) {
        constexpr const char* where = "betting_e_process::update";
        detail::require_finite(where, "sum_y", sum_y);
        detail::require_nonnegative_finite(where, "sum_y2", sum_y2);
        const double nd = detail::to_double(n_w);
        // 1e-12 relative slack for rounding in sum x / m - n.
        if (sum_y < -nd * (1.0 + 1e-12)) {
            detail::fail_argument(where, "sum_y", sum_y, "is below -n_w (some X_i < 0)");
        }
        if (n_w == 0) {
            if (sum_y != 0.0 || sum_y2 != 0.0) {
                detail::fail_argument(where, "sum_y", sum_y, "is not 0 in a window with n_w = 0");
            }
            return;
        }
        const double lambda = next_lambda();
        log_e_ += lambda * sum_y - betting_psi(lambda) * sum_y2;
        n_ += n_w;
        sum_y_ += sum_y;
        sum_y2_ += sum_y2;
        ++windows_;
    }

    /// update(s.n, s.sum_y, s.sum_y2).
    void update(const window_sums& s) { update(s.n, s.sum_y, s.sum_y2); }

    /// Adds ONE observation y = X / m - 1 with its exact wealth factor
    /// 1 + lambda y (no lower bound is needed when the window is a single
    /// observation, e.g. a batch-mode gate's batch mean), using the bet
    /// next_lambda() fixed before it was seen.
    ///
    /// Precondition (std::invalid_argument otherwise, state unchanged): y
    /// finite and >= -1.
    void update_single(double y) {
        constexpr const char* where = "betting_e_process::update_single";
        detail::require_finite(where, "y", y);
        if (y < -1.0 - 1e-12) {
            detail::fail_argument(where, "y", y, "is below -1 (X < 0)");
        }
        const double lambda = next_lambda();
        // 1 + lambda y >= 1 - lambda > 0 for y >= -1 and lambda <= max_lambda < 1.
        log_e_ += std::log1p(lambda * (y < -1.0 ? -1.0 : y));
        n_ += 1;
        sum_y_ += y;
        sum_y2_ += y * y;
        ++windows_;
    }

    /// ln L_t, a lower bound on the log wealth; 0 before any window.
    [[nodiscard]] double log_e_value() const noexcept { return log_e_; }

    /// The bet the next window will use.
    [[nodiscard]] double next_lambda() const noexcept {
        if (!(sum_y2_ > 0.0)) {
            return initial_lambda_;
        }
        const double raw = sum_y_ / sum_y2_;
        return raw < 0.0 ? 0.0 : (raw > max_lambda_ ? max_lambda_ : raw);
    }

    /// Observations and windows seen.
    [[nodiscard]] std::uint64_t count() const noexcept { return n_; }
    [[nodiscard]] std::uint64_t windows() const noexcept { return windows_; }
    [[nodiscard]] double max_lambda() const noexcept { return max_lambda_; }

    /// Every member, for saving a process and resuming it exactly
    /// (integration/json_state.hpp): restore(save()) continues bit for bit
    /// as this process would.
    struct saved {
        double max_lambda = 0.5;
        double initial_lambda = 0.0;
        double log_e_value = 0.0;
        double sum_y = 0.0;
        double sum_y2 = 0.0;
        std::uint64_t count = 0;
        std::uint64_t windows = 0;
    };
    [[nodiscard]] saved save() const noexcept {
        return saved{max_lambda_, initial_lambda_, log_e_, sum_y_, sum_y2_, n_, windows_};
    }
    /// The process `s` describes. Preconditions as the constructor's on
    /// max_lambda and initial_lambda (std::invalid_argument otherwise); the
    /// sums are taken as they are.
    [[nodiscard]] static betting_e_process restore(const saved& s) {
        betting_e_process p(s.max_lambda, s.initial_lambda);
        p.log_e_ = s.log_e_value;
        p.sum_y_ = s.sum_y;
        p.sum_y2_ = s.sum_y2;
        p.n_ = s.count;
        p.windows_ = s.windows;
        return p;
    }

private:
    double max_lambda_;
    double initial_lambda_;
    double log_e_ = 0.0;
    double sum_y_ = 0.0;
    double sum_y2_ = 0.0;
    std::uint64_t n_ = 0;
    std::uint64_t windows_ = 0;
};

}  // namespace stats
CANARYGATE_NAMESPACE_END
