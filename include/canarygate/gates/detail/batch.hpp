// SPDX-License-Identifier: MIT
/// \file
/// Batch mode, shared by the rate, mean and quantile gates
/// (`batch_window_ns` > 0): one observation per closed batch window.
///
/// Fail side, valid under any dependence within a batch: a betting
/// e-process on x_w / m_w, where x_w is the batch's candidate mean (cost
/// per request, events per request, or the share of requests above the
/// quantile threshold x0 = k' x an upper bound of the baseline quantile) and
/// m_w its null bound fixed when the batch opened (k x an upper bound of the
/// baseline mean, or 1 - q), so that E[x_w | past] <= m_w under H0 whatever
/// happens inside the batch; half of alpha_fail goes to the baseline bound
/// (normal mixture, asymptotic in the baseline's size for cost and rates;
/// exact for quantiles). Pass side and interval: normal-mixture bounds over
/// the batches (asymptotic in their number) on x_w / (k x a lower bound of
/// the baseline mean), or for quantiles on the share above k'' x a lower
/// bound of the baseline quantile over 1 - q; a quantile gate's interval is
/// the per-request one (informational: it assumes independent requests).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "canarygate/core/config.hpp"
#include "canarygate/gates/gate_common.hpp"
#include "canarygate/gates/verdict.hpp"
#include "canarygate/stats/betting.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace detail {

/// The open batch: its null bounds were fixed from the baseline seen before
/// it opened (predictable); the candidate's traffic in it so far.
struct open_batch {
    std::int64_t index = 0;
    double candidate_n = 0;
    double fail_sum = 0;         // events, cost or exceedances above the fail threshold
    double pass_sum = 0;         // exceedances above the pass threshold (quantile gates)
    double fail_bound = 0;       // null bound on the candidate mean (0: none yet)
    double pass_bound = 0;       // k x a lower bound on the baseline mean (0: none yet)
    std::int64_t fail_edge = 0;  // quantile gates: thresholds as bucket-edge exponents
    std::int64_t pass_edge = 0;
    int edge_scale = 0;  // ... at this histogram scale
    bool fail_edge_valid = false;
    bool pass_edge_valid = false;
};

/// A batch-mode gate's evidence: the open batch and the closed ones.
struct batch_state {
    std::optional<open_batch> open;
    /// Bets up to 0.8 of the wealth per batch: the exact factor 1 + lambda y
    /// is used, so large bets are not penalised by the per-request bound.
    stats::betting_e_process betting{0.8};
    std::uint64_t batches = 0;
    // Per closed batch: x / fail_bound (interval's lower side) and
    // x / pass_bound (pass side, interval's upper side): count, sum, sum of squares.
    double lower_windows = 0, lower_sum = 0, lower_sum_sq = 0;
    double upper_windows = 0, upper_sum = 0, upper_sum_sq = 0;

    /// The open batch's index, if a batch is open.
    [[nodiscard]] std::optional<std::int64_t> open_index() const noexcept {
        return open ? std::optional<std::int64_t>(open->index) : std::nullopt;
    }
};

/// Throws (naming the gate) when a batch-mode gate (batch_window_ns > 0)
/// cannot take an increment ending at `end`: no end time, or one before the
/// open batch. Per-request gates (0) take any increment.
inline void check_batch(const std::string& gate_name, std::int64_t batch_window_ns,
                        const batch_state& s, std::optional<std::int64_t> end) {
    if (batch_window_ns > 0) (void)batch_index_of(gate_name, batch_window_ns, end, s.open_index());
}

/// An increment of batch `index` closes the open batch when it is an
/// earlier one: its mean becomes one observation of the fail side (and of
/// the pass side once it has a bound).
inline void close_batch_before(batch_state& s, std::int64_t index, bool quantile) {
    if (!s.open || s.open->index == index) return;
    const open_batch& b = *s.open;
    if (b.candidate_n > 0) {
        const double x = b.fail_sum / b.candidate_n;
        if (b.fail_bound > 0) {
            s.betting.update_single(x / b.fail_bound - 1.0);
            ++s.batches;
            const double r = x / b.fail_bound;
            s.lower_windows += 1;
            s.lower_sum += r;
            s.lower_sum_sq += r * r;
        }
        if (b.pass_bound > 0) {
            const double r = (quantile ? b.pass_sum / b.candidate_n : x) / b.pass_bound;
            s.upper_windows += 1;
            s.upper_sum += r;
            s.upper_sum_sq += r * r;
        }
    }
    s.open.reset();
}

/// The batch evidence every kind reports: the fail side's e-value and
/// threshold (half the gate's alpha went to the baseline bound), the closed
/// batches; returns the normal-mixture bounds of the pass side's mean.
inline std::pair<double, double> batch_evidence(const batch_state& s, double alpha_fail,
                                                double alpha_pass, const gate_tuning& tuning,
                                                gate_evidence& ev) {
    ev.log_e_value = s.betting.log_e_value();
    ev.log_fail_threshold = std::log(2.0 / alpha_fail);
    ev.batches = s.batches;
    ev.asymptotic_interval = true;
    return mean_bounds(s.upper_windows, s.upper_sum, s.upper_sum_sq, alpha_pass / 2,
                       tuning.batch_n_opt);
}

/// fail when the e-value crossed (and enough events were seen), pass when
/// the pass side holds over enough closed batches, else keep_going.
[[nodiscard]] inline verdict batch_decision(const batch_state& s, const gate_evidence& ev,
                                            double events, std::uint64_t min_events, bool pass,
                                            const gate_tuning& tuning) {
    if (ev.log_e_value >= ev.log_fail_threshold && events >= static_cast<double>(min_events))
        return verdict::fail;
    if (pass && s.upper_windows >= static_cast<double>(tuning.batch_min_batches_to_pass))
        return verdict::pass;
    return verdict::keep_going;
}

/// Batch mode of a mean-type gate (rate or cost): `candidate` and
/// `baseline` are the increment's (sum, sum of squares) of the signal,
/// `candidate_requests` / `baseline_requests` its requests; k the tested
/// limit. `requests_are_events`: the gate's events are its requests (cost).
inline void evaluate_mean_batch(batch_state& s, mean_sums& sums,
                                std::pair<double, double> candidate,
                                std::pair<double, double> baseline, double candidate_requests,
                                double baseline_requests, double k, bool requests_are_events,
                                double alpha_fail, double alpha_pass, const gate_tuning& tuning,
                                std::int64_t index, std::uint64_t min_events, gate_result& result) {
    gate_evidence& ev = result.evidence;
    close_batch_before(s, index, false);
    if (!s.open) {
        open_batch b;
        b.index = index;
        const auto fail_b = mean_bounds(sums.baseline_n, sums.baseline_sum, sums.baseline_sum_sq,
                                        alpha_fail / 2, tuning.baseline_n_opt);
        if (std::isfinite(fail_b.second) && fail_b.second > 0) b.fail_bound = k * fail_b.second;
        const auto pass_b = mean_bounds(sums.baseline_n, sums.baseline_sum, sums.baseline_sum_sq,
                                        alpha_pass / 2, tuning.baseline_n_opt);
        if (pass_b.first > 0) b.pass_bound = k * pass_b.first;
        s.open = b;
    }
    open_batch& open = *s.open;
    open.candidate_n += candidate_requests;
    open.fail_sum += candidate.first;
    sums.add(candidate_requests, candidate, baseline_requests, baseline);

    const auto upper_mean = batch_evidence(s, alpha_fail, alpha_pass, tuning, ev);
    ev.candidate_samples = static_cast<std::uint64_t>(sums.candidate_n);
    ev.baseline_samples = static_cast<std::uint64_t>(sums.baseline_n);
    ev.candidate_events =
        requests_are_events ? ev.candidate_samples : static_cast<std::uint64_t>(sums.candidate_sum);
    ev.baseline_events =
        requests_are_events ? ev.baseline_samples : static_cast<std::uint64_t>(sums.baseline_sum);
    const double events = requests_are_events ? sums.candidate_n : sums.candidate_sum;
    if (sums.candidate_n > 0 && sums.baseline_n > 0 && sums.baseline_sum > 0) {
        ev.estimate =
            (sums.candidate_sum / sums.candidate_n) / (sums.baseline_sum / sums.baseline_n);
    }
    const auto lower_mean = mean_bounds(s.lower_windows, s.lower_sum, s.lower_sum_sq,
                                        alpha_pass / 2, tuning.batch_n_opt);
    ev.interval_computed = true;
    ev.lower = k * lower_mean.first;
    ev.upper = std::isfinite(upper_mean.second) ? k * upper_mean.second
                                                : std::numeric_limits<double>::infinity();
    result.decision = batch_decision(s, ev, events, min_events, ev.upper < k, tuning);
}

}  // namespace detail
CANARYGATE_NAMESPACE_END
