// SPDX-License-Identifier: MIT
/// \file
/// `quantile_gate`: "the candidate's q-quantile of latency, time to first
/// token or output length is at most k × the baseline's".
///
/// Q_c(q) <= x0 exactly when P(X_c > x0) <= 1 - q, so with x0 = k' × an
/// anytime-valid upper bound on the baseline quantile from earlier windows
/// (half the gate's alpha), the gate becomes a test of a Bernoulli rate on
/// the candidate requests above x0: a truncated beta-binomial mixture
/// e-value. k' is k rounded up to the bucket grid (k' = b^m >= k), so x0 is a
/// bucket edge and exceedances are counted exactly; only buckets wholly
/// above x0 count. Both roundings are conservative. Pass side and interval:
/// quantile confidence sequences on both arms.
///
/// Example:
/// \code
///   canarygate::quantile_gate_config c;   // latency, P99, multiplier 1.5
///   const canarygate::quantile_gate p99(c);
///   canarygate::quantile_gate::state st;
///   auto r = p99.evaluate(st, baseline_increment, candidate_increment, 0.05 / 9, 0.05);
/// \endcode
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/gates/detail/batch.hpp"
#include "canarygate/gates/detail/quantile_bounds.hpp"
#include "canarygate/gates/gate_common.hpp"
#include "canarygate/gates/signal.hpp"
#include "canarygate/gates/verdict.hpp"
#include "canarygate/stats/beta_binomial.hpp"
#include "canarygate/stats/quantile_bound.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Configuration of a quantile gate.
struct quantile_gate_config : gate_common {
    /// latency, ttft or output_length.
    signal metric = signal::latency;
    /// The null is exactly "candidate quantile <= multiplier × baseline
    /// quantile"; at least 1 (only an increase is a regression here).
    double multiplier = 1.5;
    /// The quantile, in (0, 1).
    double quantile = 0.99;
    /// Batch mode (> 0): see rate_gate_config::batch_window_ns.
    std::int64_t batch_window_ns = 0;
};

/// A gate on a quantile. Immutable; see the file comment.
class quantile_gate {
public:
    using config_type = quantile_gate_config;

    /// What the gate accumulates over a rollout: both arms' cumulative
    /// histograms and the exceedances counted so far. Plain copyable data.
    struct state {
        detail::cumulative_histograms histograms;
        std::uint64_t exceedances = 0;
        std::uint64_t exceedance_trials = 0;
        detail::batch_state batch;
        std::uint64_t checks = 0;
    };

    /// The name a gate gets when its configuration leaves `name` empty: the
    /// signal and the quantile in percent ("latency_p99", "ttft_p99.9").
    [[nodiscard]] static std::string default_name(const quantile_gate_config& c) {
        return detail::quantile_gate_name(c.metric, c.quantile);
    }

    /// Validates; throws std::invalid_argument naming the field and value.
    explicit quantile_gate(quantile_gate_config config) : config_(std::move(config)) {
        if (config_.name.empty()) config_.name = default_name(config_);
        const std::string where = "canarygate::quantile_gate '" + config_.name + "'";
        if (!is_quantile_signal(config_.metric)) {
            detail::throw_invalid_argument(
                where + ": metric = " + detail::describe_signal(config_.metric) +
                " is not a quantile signal (latency, ttft, output_length)");
        }
        detail::validate_multiplier(config_.multiplier, direction::increase, where,
                                    /*has_direction=*/false);
        if (!(config_.quantile > 0.0 && config_.quantile < 1.0)) {
            detail::throw_bad_field(where, "quantile", config_.quantile, "must be in (0, 1)");
        }
        detail::validate_common(config_, where);
        detail::validate_batch_window(config_.batch_window_ns, where);
    }

    [[nodiscard]] const quantile_gate_config& config() const noexcept { return config_; }
    [[nodiscard]] const std::string& name() const noexcept { return config_.name; }
    [[nodiscard]] signal metric() const noexcept { return config_.metric; }
    [[nodiscard]] double tested_limit() const noexcept { return config_.multiplier; }

    /// Throws std::invalid_argument (nothing changes) when evaluate() cannot
    /// take the increment: in batch mode it must end (`increment_end_ns`) no
    /// earlier than the open batch; the arms' histograms must have one range,
    /// the range of the running totals.
    void check_increment(const state& s, const arm_snapshot& baseline_increment,
                         const arm_snapshot& candidate_increment,
                         std::optional<std::int64_t> increment_end_ns) const {
        detail::check_batch(name(), config_.batch_window_ns, s.batch, increment_end_ns);
        const std::string_view series_name = detail::histogram_series(config_.metric);
        s.histograms.check(name(), series_name, candidate_increment.histogram(series_name),
                           baseline_increment.histogram(series_name));
    }

    /// Feeds one increment into `s` and decides; see rate_gate::evaluate.
    gate_result evaluate(state& s, const arm_snapshot& baseline_increment,
                         const arm_snapshot& candidate_increment, double alpha_fail,
                         double alpha_pass, const gate_tuning& tuning = {},
                         std::optional<std::int64_t> increment_end_ns = std::nullopt) const {
        check_increment(s, baseline_increment, candidate_increment, increment_end_ns);
        gate_result result = detail::start_result(config_, config_.metric, alpha_fail);
        ++s.checks;
        const std::string_view series_name = detail::histogram_series(config_.metric);
        const exp_histogram* cand_h = candidate_increment.histogram(series_name);
        const exp_histogram* base_h = baseline_increment.histogram(series_name);
        if (config_.batch_window_ns > 0) {
            evaluate_batch(s, cand_h, base_h, alpha_fail, alpha_pass, tuning,
                           detail::floor_div(*increment_end_ns, config_.batch_window_ns), result);
        } else {
            evaluate_per_request(s, cand_h, base_h, alpha_fail, alpha_pass, tuning, result);
        }
        result.reason =
            detail::reason_line(result, {" ratio ", detail::ratio_target(config_.multiplier, false),
                                         config_.batch_window_ns > 0});
        return result;
    }

private:
    void evaluate_per_request(state& s, const exp_histogram* cand_h, const exp_histogram* base_h,
                              double alpha_fail, double alpha_pass, const gate_tuning& tuning,
                              gate_result& result) const {
        gate_evidence& ev = result.evidence;
        const double k = config_.multiplier;
        // Exceedances of this window against the bound from earlier windows.
        if (cand_h != nullptr && !cand_h->empty() && s.histograms.baseline &&
            !s.histograms.baseline->empty()) {
            exp_histogram baseline_so_far = *s.histograms.baseline;
            exp_histogram window = *cand_h;
            align_scales(baseline_so_far, window);
            const stats::quantile_confidence_sequence cs(config_.quantile, alpha_fail / 2,
                                                         tuning.baseline_n_opt,
                                                         stats::quantile_bound_side::upper);
            const std::uint64_t t = baseline_so_far.count();
            const auto rank = cs.ranks(t).upper;
            const auto bound = rank <= t ? detail::upper_edge_of_rank(baseline_so_far, rank)
                                         : detail::edge_bound{detail::edge_bound::none, 0};
            if (bound.kind == detail::edge_bound::zero) {
                // Baseline quantile bound 0: every positive value exceeds k x 0.
                s.exceedances += window.count() - window.zero_count();
                s.exceedance_trials += window.count();
            } else if (bound.kind == detail::edge_bound::edge) {
                // k' = b^m >= k, the smallest grid multiplier not below k,
                // so that x0 = k' b^J = b^(J+m) is itself a bucket edge.
                const std::int64_t m = detail::grid_steps_at_least(k, window.layout().scale());
                s.exceedances += window.count_above_edge(bound.exponent + m);
                s.exceedance_trials += window.count();
            }
            // No bound yet (too little baseline, or in overflow): this
            // window's candidate requests are not used (still valid).
        }
        s.histograms.add(cand_h, base_h);
        const double p0 = 1.0 - config_.quantile;
        ev.log_e_value = stats::beta_binomial_log_e_value(s.exceedances, s.exceedance_trials, p0);
        ev.log_fail_threshold = std::log(2.0 / alpha_fail);
        ev.candidate_events = s.exceedances;
        detail::quantile_estimate(config_.quantile, s.histograms, alpha_pass, tuning, ev);
        if (tuning.intervals) {
            detail::quantile_fixed_reference(config_.quantile, s.histograms, alpha_pass, ev);
        }
        if (ev.log_e_value >= ev.log_fail_threshold && s.exceedances >= config_.min_events) {
            result.decision = verdict::fail;
        } else if (ev.upper < k) {
            result.decision = verdict::pass;
        }
    }

    // Batch mode (gates/detail/batch.hpp): the batch's observation is the
    // share of its candidate requests above the fail threshold.
    void evaluate_batch(state& s, const exp_histogram* cand_h, const exp_histogram* base_h,
                        double alpha_fail, double alpha_pass, const gate_tuning& tuning,
                        std::int64_t index, gate_result& result) const {
        gate_evidence& ev = result.evidence;
        const double k = config_.multiplier;
        const double p0 = 1.0 - config_.quantile;
        detail::close_batch_before(s.batch, index, true);
        if (!s.batch.open)
            s.batch.open = open_batch(s, index, k, p0, alpha_fail, alpha_pass, tuning);

        detail::open_batch& open = *s.batch.open;
        if (cand_h != nullptr && !open.fail_edge_valid && !open.pass_edge_valid) {
            open.candidate_n +=
                static_cast<double>(cand_h->count());  // no threshold yet: nothing to count
        } else if (cand_h != nullptr && !cand_h->empty()) {
            // The thresholds are edges at the scale the baseline had when the
            // batch opened; a finer window is brought down to it, a coarser
            // one gets the thresholds rounded outward (never toward the null).
            const int edge_scale = open.edge_scale;
            exp_histogram window = *cand_h;
            if (window.layout().scale() > edge_scale) window = window.downscale(edge_scale);
            const int scale = window.layout().scale();
            open.candidate_n += static_cast<double>(window.count());
            if (open.fail_edge_valid) {
                const auto above = window.count_above_edge(
                    detail::coarsen_edge(open.fail_edge, edge_scale, scale, true));
                open.fail_sum += static_cast<double>(above);
                s.exceedances += above;
            }
            if (open.pass_edge_valid) {
                open.pass_sum += static_cast<double>(window.count_above_edge(
                    detail::coarsen_edge(open.pass_edge, edge_scale, scale, false)));
            }
        }
        s.histograms.add(cand_h, base_h);

        const auto upper_mean = detail::batch_evidence(s.batch, alpha_fail, alpha_pass, tuning, ev);
        detail::quantile_estimate(config_.quantile, s.histograms, alpha_pass, tuning, ev);
        ev.candidate_events = s.exceedances;
        result.decision =
            detail::batch_decision(s.batch, ev, static_cast<double>(s.exceedances),
                                   config_.min_events, upper_mean.second < 1.0, tuning);
    }

    // A new batch fixes its thresholds from the baseline seen so far: the
    // fail edge k' x an upper bound of the baseline quantile, the pass edge
    // k'' x a lower bound (k'' = k rounded down to the grid).
    [[nodiscard]] detail::open_batch open_batch(const state& s, std::int64_t index, double k,
                                                double p0, double alpha_fail, double alpha_pass,
                                                const gate_tuning& tuning) const {
        detail::open_batch b;
        b.index = index;
        if (!s.histograms.baseline || s.histograms.baseline->empty()) return b;
        const exp_histogram& h = *s.histograms.baseline;
        const int scale = h.layout().scale();
        b.edge_scale = scale;
        const std::uint64_t t = h.count();
        const stats::quantile_confidence_sequence up(config_.quantile, alpha_fail / 2,
                                                     tuning.baseline_n_opt,
                                                     stats::quantile_bound_side::upper);
        const auto r_up = up.ranks(t).upper;
        if (r_up <= t) {
            const auto e = detail::upper_edge_of_rank(h, r_up);
            if (e.kind == detail::edge_bound::edge) {
                b.fail_edge = e.exponent + detail::grid_steps_at_least(k, scale);
                b.fail_edge_valid = true;
                b.fail_bound = p0;
            }
        }
        const stats::quantile_confidence_sequence low(config_.quantile, alpha_pass / 2,
                                                      tuning.baseline_n_opt,
                                                      stats::quantile_bound_side::lower);
        const auto r_low = low.ranks(t).lower;
        if (r_low >= 1) {
            const rank_location where = h.locate_rank(r_low);
            if (where.region == quantile_region::in_range) {
                // The lower edge of that bucket is b^bucket.
                b.pass_edge = where.bucket + detail::grid_steps_at_most(k, scale);
                b.pass_edge_valid = true;
                b.pass_bound = p0;
            }
        }
        return b;
    }

    quantile_gate_config config_;
};

CANARYGATE_NAMESPACE_END
