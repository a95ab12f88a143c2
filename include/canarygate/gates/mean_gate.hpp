// SPDX-License-Identifier: MIT
/// \file
/// `mean_gate`: "the candidate's mean per request (cost) is at most k × the
/// baseline's".
///
/// Fail side: a betting e-process against k × an anytime-valid upper bound
/// on the baseline mean from earlier windows (half the gate's alpha goes to
/// that bound, so the gate fails at 2 / alpha), valid for any nonnegative
/// values with no bound on them. Pass side and interval: normal-mixture
/// confidence sequences on both means (asymptotic, and reported as such).
///
/// Example:
/// \code
///   canarygate::mean_gate_config c;   // cost, multiplier 1.2
///   const canarygate::mean_gate cost(c);
///   canarygate::mean_gate::state st;
///   auto r = cost.evaluate(st, baseline_increment, candidate_increment, 0.05 / 9, 0.05);
/// \endcode
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/gates/detail/batch.hpp"
#include "canarygate/gates/gate_common.hpp"
#include "canarygate/gates/signal.hpp"
#include "canarygate/gates/verdict.hpp"
#include "canarygate/stats/betting.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Configuration of a mean gate.
struct mean_gate_config : gate_common {
    /// cost (mean nano-USD per request: "cost_nano_usd.sum" / "requests").
    signal metric = signal::cost;
    /// The null is exactly "candidate mean <= multiplier × baseline mean"
    /// (>= for direction::decrease).
    double multiplier = 1.2;
    direction worse = direction::increase;
    /// Batch mode (> 0): see rate_gate_config::batch_window_ns.
    std::int64_t batch_window_ns = 0;
};

/// A gate on a mean per request. Immutable; see the file comment.
class mean_gate {
public:
    using config_type = mean_gate_config;

    /// What the gate accumulates over a rollout. Plain copyable data.
    struct state {
        stats::betting_e_process betting{0.5};
        detail::mean_sums sums;
        detail::batch_state batch;
        std::uint64_t checks = 0;
    };

    /// The name a gate gets when its configuration leaves `name` empty.
    [[nodiscard]] static std::string default_name(const mean_gate_config& c) {
        return std::string(canarygate::name(c.metric));
    }

    /// Validates; throws std::invalid_argument naming the field and value.
    explicit mean_gate(mean_gate_config config) : config_(std::move(config)) {
        if (config_.name.empty()) config_.name = default_name(config_);
        const std::string where = "canarygate::mean_gate '" + config_.name + "'";
        if (config_.metric != signal::cost) {
            detail::throw_invalid_argument(where +
                                           ": metric = " + detail::describe_signal(config_.metric) +
                                           " is not a mean signal (cost)");
        }
        detail::validate_multiplier(config_.multiplier, config_.worse, where);
        detail::validate_common(config_, where);
        detail::validate_batch_window(config_.batch_window_ns, where);
    }

    [[nodiscard]] const mean_gate_config& config() const noexcept { return config_; }
    [[nodiscard]] const std::string& name() const noexcept { return config_.name; }
    [[nodiscard]] signal metric() const noexcept { return config_.metric; }
    /// The limit as tested: k, or 1/k (baseline/candidate) for a decrease.
    [[nodiscard]] double tested_limit() const noexcept {
        return config_.worse == direction::decrease ? 1.0 / config_.multiplier : config_.multiplier;
    }

    /// Throws std::invalid_argument (nothing changes) when evaluate() cannot
    /// take an increment ending at `increment_end_ns` (batch mode needs it,
    /// and it must not lie before the open batch).
    void check_increment(const state& s, const arm_snapshot& /*baseline_increment*/,
                         const arm_snapshot& /*candidate_increment*/,
                         std::optional<std::int64_t> increment_end_ns) const {
        detail::check_batch(name(), config_.batch_window_ns, s.batch, increment_end_ns);
    }

    /// Feeds one increment into `s` and decides; see rate_gate::evaluate.
    gate_result evaluate(state& s, const arm_snapshot& baseline_increment,
                         const arm_snapshot& candidate_increment, double alpha_fail,
                         double alpha_pass, const gate_tuning& tuning = {},
                         std::optional<std::int64_t> increment_end_ns = std::nullopt) const {
        check_increment(s, baseline_increment, candidate_increment, increment_end_ns);
        const bool swap = config_.worse == direction::decrease;
        const arm_snapshot& base = swap ? candidate_increment : baseline_increment;
        const arm_snapshot& cand = swap ? baseline_increment : candidate_increment;
        const double k = tested_limit();

        gate_result result = detail::start_result(config_, config_.metric, alpha_fail);
        ++s.checks;
        const double cand_requests = detail::to_double(cand.counter(series::requests));
        const double base_requests = detail::to_double(base.counter(series::requests));
        const std::pair<double, double> c{
            detail::to_double(cand.counter(series::cost_sum)),
            detail::to_double(cand.counter(series::cost_sum_squares))};
        const std::pair<double, double> b{
            detail::to_double(base.counter(series::cost_sum)),
            detail::to_double(base.counter(series::cost_sum_squares))};
        if (config_.batch_window_ns > 0) {
            const std::int64_t index =
                detail::floor_div(*increment_end_ns, config_.batch_window_ns);
            detail::evaluate_mean_batch(s.batch, s.sums, c, b, cand_requests, base_requests, k,
                                        true, alpha_fail, alpha_pass, tuning, index,
                                        config_.min_events, result);
        } else {
            evaluate_per_request(s, c, b, cand_requests, base_requests, k, alpha_fail, alpha_pass,
                                 tuning, result);
        }
        result.reason = detail::reason_line(
            result, {" ratio ", detail::ratio_target(k, swap), config_.batch_window_ns > 0});
        return result;
    }

private:
    void evaluate_per_request(state& s, std::pair<double, double> c, std::pair<double, double> b,
                              double n_c, double base_requests, double k, double alpha_fail,
                              double alpha_pass, const gate_tuning& tuning,
                              gate_result& result) const {
        gate_evidence& ev = result.evidence;
        detail::mean_sums& t = s.sums;
        // The window's null mean bound comes from the baseline BEFORE this
        // window (predictable), at half the gate's budget.
        const auto base_bounds = detail::mean_bounds(
            t.baseline_n, t.baseline_sum, t.baseline_sum_sq, alpha_fail / 2, tuning.baseline_n_opt);
        if (n_c > 0 && std::isfinite(base_bounds.second) && base_bounds.second > 0) {
            const double m = k * base_bounds.second;
            s.betting.update(stats::standardized_window_sums(static_cast<std::uint64_t>(n_c),
                                                             c.first, c.second, m));
        }
        t.add(n_c, c, base_requests, b);
        ev.candidate_samples = ev.candidate_events = static_cast<std::uint64_t>(t.candidate_n);
        ev.baseline_samples = ev.baseline_events = static_cast<std::uint64_t>(t.baseline_n);
        ev.log_e_value = s.betting.log_e_value();
        ev.log_fail_threshold = std::log(2.0 / alpha_fail);
        if (t.candidate_n > 0 && t.baseline_sum > 0) {
            ev.estimate = (t.candidate_sum / t.candidate_n) / (t.baseline_sum / t.baseline_n);
        }
        const auto cb = detail::mean_bounds(t.candidate_n, t.candidate_sum, t.candidate_sum_sq,
                                            alpha_pass / 2, tuning.candidate_n_opt);
        const auto bb = detail::mean_bounds(t.baseline_n, t.baseline_sum, t.baseline_sum_sq,
                                            alpha_pass / 2, tuning.baseline_n_opt);
        ev.asymptotic_interval = true;
        ev.lower = std::isfinite(bb.second) && bb.second > 0 ? cb.first / bb.second : 0.0;
        ev.upper = bb.first > 0 ? cb.second / bb.first : std::numeric_limits<double>::infinity();
        ev.interval_computed = true;
        if (tuning.intervals && t.candidate_n >= 2 && t.baseline_n >= 2 && t.baseline_sum > 0) {
            auto mean_and_variance_of_mean = [](double n, double sum, double sum_sq) {
                const double mean = sum / n;
                return std::pair{mean, std::max(0.0, (sum_sq - sum * mean) / (n - 1)) / n};
            };
            const auto mc =
                mean_and_variance_of_mean(t.candidate_n, t.candidate_sum, t.candidate_sum_sq);
            const auto mb =
                mean_and_variance_of_mean(t.baseline_n, t.baseline_sum, t.baseline_sum_sq);
            const auto f =
                stats::fieller_ratio_interval(mc.first, mc.second, mb.first, mb.second, alpha_pass);
            const bool bounded = f.kind == stats::fieller_kind::bounded;
            ev.fixed_lower = bounded ? std::max(0.0, f.lower) : 0.0;
            ev.fixed_upper = bounded ? f.upper : std::numeric_limits<double>::infinity();
            ev.fixed_method = "fieller";
        }
        if (ev.log_e_value >= ev.log_fail_threshold &&
            t.candidate_n >= static_cast<double>(config_.min_events)) {
            result.decision = verdict::fail;
        } else if (ev.upper < k) {
            result.decision = verdict::pass;
        }
    }

    mean_gate_config config_;
};

CANARYGATE_NAMESPACE_END
