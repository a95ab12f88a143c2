// SPDX-License-Identifier: MIT
/// \file
/// E-values for "the success probability is at most p0": the truncated
/// beta-binomial mixture (constant p0) and a grid mixture of likelihood ratios
/// (p0 that changes from window to window, e.g. during a traffic ramp).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "canarygate/core/config.hpp"
#include "canarygate/stats/detail/math.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace stats {

/// Parameters of a Beta(a, b) prior.
struct beta_prior {
    double a;
    double b;
};

/// The default prior of the beta-binomial e-test: Beta(a, a (1 - p0) / p0),
/// whose mean is p0 (b = 49.5 for p0 = 0.01 and a = 0.5).
///
/// Preconditions: 0 < p0 < 1, a > 0 finite (std::invalid_argument otherwise).
[[nodiscard]] inline beta_prior default_beta_prior(double p0, double a = 0.5) {
    detail::require_open_unit("default_beta_prior", "p0", p0);
    detail::require_positive_finite("default_beta_prior", "a", a);
    return beta_prior{a, a * (1.0 - p0) / p0};
}

/// Log e-value of the truncated beta-binomial mixture against
/// H0: p <= p0, after `successes` successes in `trials` Bernoulli trials.
///
/// E = int_{p0}^1 p^S (1-p)^(n-S) pi(p) dp / (p0^S (1-p0)^(n-S)), where pi is
/// the Beta(a, b) density restricted to [p0, 1] and renormalised; in closed
/// form (docs/statistics.md, "Quantile gates"; the
/// one-sided beta-binomial mixture of Howard, Ramdas, McAuliffe & Sekhon,
/// Ann. Statist. 2021, with the prior truncated to the alternative)
///
///     E = B(a+S, b+n-S) Ic(a+S, b+n-S; p0) / (B(a, b) Ic(a, b; p0))
///         / (p0^S (1-p0)^(n-S)),       Ic(a, b; x) = 1 - I_x(a, b).
///
/// Validity: for every p' >= p0 the likelihood ratio
/// (p'/p0)^S ((1-p')/(1-p0))^(n-S) has one-step expectation
/// p p'/p0 + (1-p)(1-p')/(1-p0) <= 1 under any p <= p0 (linear in p, equal to
/// 1 at p0, non-decreasing in p), so it is a non-negative supermartingale;
/// so is any mixture over p' >= p0, and by Ville's inequality
/// P_H0(E ever >= 1/alpha) <= alpha. An untruncated prior would put mass on
/// p' < p0, whose ratios are not supermartingales for p < p0.
///
/// Computed in log space without lgamma cancellation (see
/// detail::log_tail_integral); when Ic of the posterior underflows the
/// continued fraction is evaluated in log space, so the result is finite for
/// every finite input (S = 0, S = n, n = 0 gives exactly 0, huge n). The value
/// is non-decreasing in S for fixed n.
///
/// Preconditions (std::invalid_argument otherwise): successes <= trials,
/// 0 < p0 < 1, prior.a and prior.b finite and > 0.
///
/// Complexity: a few special-function evaluations (plus a continued fraction
/// of tens of terms in the underflow case): microseconds up to n ~ 1e9, 1 ms at
/// n = 1e12; beyond that Boost's ibetac grows like sqrt(n) near the bulk
/// (0.15 s at n = 2^60).
///
/// Example: \code
/// namespace cs = canarygate::stats;
/// double log_e = cs::beta_binomial_log_e_value(12, 400, 0.01, cs::default_beta_prior(0.01));
/// bool reject = log_e >= std::log(1 / 0.05);
/// \endcode
[[nodiscard]] inline double beta_binomial_log_e_value(std::uint64_t successes, std::uint64_t trials,
                                                      double p0, beta_prior prior) {
    constexpr const char* where = "beta_binomial_log_e_value";
    detail::require_open_unit(where, "p0", p0);
    detail::require_positive_finite(where, "prior.a", prior.a);
    detail::require_positive_finite(where, "prior.b", prior.b);
    if (successes > trials) {
        detail::fail_argument(where, "successes", successes, "exceeds trials");
    }
    if (trials == 0) {
        return 0.0;
    }
    const double s = detail::to_double(successes);
    const double f = detail::to_double(trials - successes);
    return detail::log_tail_integral(prior.a, prior.b, s, f, p0) -
           detail::log_tail_integral(prior.a, prior.b, 0.0, 0.0, p0);
}

/// beta_binomial_log_e_value with the default prior default_beta_prior(p0).
[[nodiscard]] inline double beta_binomial_log_e_value(std::uint64_t successes, std::uint64_t trials,
                                                      double p0) {
    return beta_binomial_log_e_value(successes, trials, p0, default_beta_prior(p0));
}

/// Grid of alternatives of rate_ratio_e_process: k times these multipliers.
inline constexpr std::array<double, 5> default_ratio_multipliers{1.25, 1.5, 2.0, 3.0, 5.0};

/// Grid-mixture e-process for a Bernoulli probability whose null bound p0 may
/// change between windows: E = (1/J) sum_j prod_windows LR_j, with
/// LR_j = (p_j/p0)^S ((1-p_j)/(1-p0))^(n-S) per window (docs/statistics.md,
/// "Rate gates"; a finite mixture of likelihood-ratio martingales, see Ramdas,
/// Grünwald, Vovk & Shafer, Stat. Sci. 2023).
///
/// Validity needs p_j >= p0 in every window (checked): each LR_j is then a
/// supermartingale under any p <= p0 (see beta_binomial_log_e_value), and so
/// is their average.
///
/// Not thread-safe; update is O(J), queries O(J).
template <std::size_t J>
class bernoulli_grid_e_process {
    static_assert(J >= 1, "at least one alternative");

public:
    /// Adds one window: `successes` of `trials` events, null bound p0 and the
    /// window's J alternatives. A window with no trials changes nothing.
    ///
    /// Preconditions (std::invalid_argument otherwise, state unchanged):
    /// successes <= trials; 0 < p0 < 1; p0 <= alternatives[j] < 1.
    void update(std::uint64_t successes, std::uint64_t trials, double p0,
                const std::array<double, J>& alternatives) {
        constexpr const char* where = "bernoulli_grid_e_process::update";
        if (successes > trials) {
            detail::fail_argument(where, "successes", successes, "exceeds trials");
        }
        detail::require_open_unit(where, "p0", p0);
        for (const double p : alternatives) {
            if (!(p >= p0 && p < 1.0)) {
                detail::fail_argument(where, "alternative", p, "is outside [p0, 1)");
            }
        }
        if (trials == 0) {
            return;
        }
        const double s = detail::to_double(successes);
        const double f = detail::to_double(trials - successes);
        const double log_p0 = std::log(p0);
        const double log_q0 = std::log1p(-p0);
        for (std::size_t j = 0; j < J; ++j) {
            const double p = alternatives[j];
            // s ln(p/p0) + f ln((1-p)/(1-p0)); each factor is 0 when its count is.
            double term = 0.0;
            if (successes != 0) {
                term += s * (std::log(p) - log_p0);
            }
            if (f != 0.0) {
                term += f * (std::log1p(-p) - log_q0);
            }
            log_lr_[j] += term;
        }
        ++windows_;
    }

    /// ln E = ln mean_j exp(log LR_j), by log-sum-exp. 0 before any window.
    [[nodiscard]] double log_e_value() const noexcept {
        return detail::log_sum_exp(std::span<const double>(log_lr_)) -
               std::log(static_cast<double>(J));
    }

    /// The log likelihood ratio accumulated by each alternative.
    [[nodiscard]] std::span<const double, J> log_likelihood_ratios() const noexcept {
        return std::span<const double, J>(log_lr_);
    }

    /// Number of windows with at least one trial.
    [[nodiscard]] std::uint64_t windows() const noexcept { return windows_; }

    /// Every member, for saving a process and resuming it exactly
    /// (integration/json_state.hpp): restore(save()) continues bit for bit.
    struct saved {
        std::array<double, J> log_likelihood_ratios{};
        std::uint64_t windows = 0;
    };
    [[nodiscard]] saved save() const noexcept { return saved{log_lr_, windows_}; }
    [[nodiscard]] static bernoulli_grid_e_process restore(const saved& s) noexcept {
        bernoulli_grid_e_process p;
        p.log_lr_ = s.log_likelihood_ratios;
        p.windows_ = s.windows;
        return p;
    }

private:
    std::array<double, J> log_lr_{};
    std::uint64_t windows_ = 0;
};

/// E-process for the event-rate gate H0: r_c <= k r_b, conditional on the
/// total number of events in each window (docs/statistics.md, "Rate gates").
///
/// Given exposures n_c, n_b of a window (requests, or exposure-weighted
/// requests), each of its events is the candidate's with probability
/// theta n_c / (theta n_c + n_b) <= p0 = k n_c / (k n_c + n_b) under H0
/// (theta = r_c / r_b); the unknown baseline rate cancels. The alternatives are
/// theta_j = k * multipliers[j] (default 1.25, 1.5, 2, 3, 5), mixed with equal
/// weights by bernoulli_grid_e_process.
///
/// Not thread-safe; update is O(J).
///
/// Example: \code
/// canarygate::stats::rate_ratio_e_process<> gate(2.0);   // H0: r_c <= 2 r_b
/// gate.update(3, 40, 100.0, 9900.0);  // 3 of 40 refusals came from the canary
/// bool fail = gate.log_e_value() >= std::log(1 / 0.05);
/// \endcode
template <std::size_t J = 5>
class rate_ratio_e_process {
public:
    /// Preconditions (std::invalid_argument otherwise): k > 0 finite; every
    /// multiplier finite and >= 1.
    rate_ratio_e_process(double k, const std::array<double, J>& multipliers) : k_(k) {
        constexpr const char* where = "rate_ratio_e_process";
        detail::require_positive_finite(where, "k", k);
        for (std::size_t j = 0; j < J; ++j) {
            const double m = multipliers[j];
            if (!(m >= 1.0 && std::isfinite(m))) {
                detail::fail_argument(where, "multiplier", m, "is not finite and >= 1");
            }
            theta_[j] = k * m;
        }
    }

    /// With the default multipliers {1.25, 1.5, 2, 3, 5}.
    explicit rate_ratio_e_process(double k) requires(J == 5)
        : rate_ratio_e_process(k, default_ratio_multipliers) {}

    /// Adds one window: `candidate_events` of its `total_events` events came
    /// from the candidate, whose exposure was `candidate_exposure` against the
    /// baseline's `baseline_exposure`. A window without events changes nothing.
    ///
    /// Preconditions (std::invalid_argument otherwise, state unchanged):
    /// candidate_events <= total_events; exposures finite and > 0 when
    /// total_events > 0.
    void update(std::uint64_t candidate_events, std::uint64_t total_events,
                double candidate_exposure, double baseline_exposure) {
        constexpr const char* where = "rate_ratio_e_process::update";
        if (candidate_events > total_events) {
            detail::fail_argument(where, "candidate_events", candidate_events,
                                  "exceeds total_events");
        }
        if (total_events == 0) {
            return;
        }
        detail::require_positive_finite(where, "candidate_exposure", candidate_exposure);
        detail::require_positive_finite(where, "baseline_exposure", baseline_exposure);
        const double p0 = share(k_, candidate_exposure, baseline_exposure);
        if (!(p0 > 0.0 && p0 < 1.0)) {
            detail::fail_argument(where, "candidate_exposure / baseline_exposure",
                                  candidate_exposure / baseline_exposure,
                                  "makes the null share k n_c / (k n_c + n_b) round to 0 or 1");
        }
        std::array<double, J> alternatives{};
        for (std::size_t j = 0; j < J; ++j) {
            // theta_j >= k makes p_j >= p0; the clamps keep p0 <= p_j < 1 after
            // rounding. Any alternative in [p0, 1) keeps the test valid.
            const double p = share(theta_[j], candidate_exposure, baseline_exposure);
            alternatives[j] = p < p0 ? p0 : (p < 1.0 ? p : std::nextafter(1.0, 0.0));
        }
        grid_.update(candidate_events, total_events, p0, alternatives);
    }

    /// ln E; 0 before any event.
    [[nodiscard]] double log_e_value() const noexcept { return grid_.log_e_value(); }

    /// The underlying grid (per-alternative log likelihood ratios).
    [[nodiscard]] const bernoulli_grid_e_process<J>& grid() const noexcept { return grid_; }

    /// The null ratio k.
    [[nodiscard]] double k() const noexcept { return k_; }

    /// Every member, for saving a process and resuming it exactly
    /// (integration/json_state.hpp): the alternatives theta_j = k x
    /// multiplier_j as computed, and the grid. restore(save()) continues bit
    /// for bit.
    struct saved {
        double k = 1.0;
        std::array<double, J> theta{};
        typename bernoulli_grid_e_process<J>::saved grid;
    };
    [[nodiscard]] saved save() const noexcept { return saved{k_, theta_, grid_.save()}; }
    /// The process `s` describes. Preconditions (std::invalid_argument
    /// otherwise): k > 0 finite; every theta_j finite and >= k (what the
    /// constructor guarantees).
    [[nodiscard]] static rate_ratio_e_process restore(const saved& s) {
        std::array<double, J> ones{};
        ones.fill(1.0);
        rate_ratio_e_process p(s.k, ones);  // checks k
        for (const double theta : s.theta) {
            if (!(theta >= s.k && std::isfinite(theta))) {
                detail::fail_argument("rate_ratio_e_process::restore", "theta", theta,
                                      "is not finite and >= k");
            }
        }
        p.theta_ = s.theta;
        p.grid_ = bernoulli_grid_e_process<J>::restore(s.grid);
        return p;
    }

private:
    /// theta n_c / (theta n_c + n_b), written to stay accurate when one
    /// exposure dwarfs the other.
    [[nodiscard]] static double share(double theta, double n_c, double n_b) noexcept {
        const double c = theta * n_c;
        return c / (c + n_b);
    }

    double k_;
    std::array<double, J> theta_{};
    bernoulli_grid_e_process<J> grid_{};
};

}  // namespace stats
CANARYGATE_NAMESPACE_END
