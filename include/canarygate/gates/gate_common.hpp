// SPDX-License-Identifier: MIT
/// \file
/// What every gate kind shares: the common configuration fields
/// (`gate_common`), the tuning that moves no guarantee (`gate_tuning`), and
/// the pieces of a check that do not depend on the kind: validation of the
/// common fields, the start of a result, and the one reason line.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "canarygate/core/clock.hpp"
#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/gates/signal.hpp"
#include "canarygate/gates/verdict.hpp"
#include "canarygate/stats/normal_mixture.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// The fields every gate has, whatever its kind. Each kind's configuration
/// derives from it (rate_gate_config, mean_gate_config, ...).
struct gate_common {
    /// Stable name: it keys the gate's result in reports
    /// (policy_report::find) and must be unique within a policy. Derived
    /// from the signal when empty ("latency_p99", "cost", "output_shape",
    /// ...: see each kind's default_name); 1 to 64 letters, digits, '_',
    /// '-' or '.'.
    std::string name;
    /// A failing critical gate rolls back; a failing non-critical one holds
    /// the rollout for a human.
    bool critical = true;
    /// Weight of this gate in the policy's error budget (Bonferroni split).
    double budget_weight = 1.0;
    /// Candidate events needed before the gate may fail (an operational
    /// guard; events = the rate's events, exceedances, or requests for the
    /// mean and shape gates).
    std::uint64_t min_events = 0;
};

/// Tuning that does not change validity, only where bounds are tightest.
struct gate_tuning {
    /// Baseline observations at which baseline bounds are tightest.
    double baseline_n_opt = 100'000;
    /// Candidate observations at which candidate bounds are tightest.
    double candidate_n_opt = 2'000;
    /// Compute the rate gates' intervals (by inverting the test over every
    /// stored window: the costliest part of a check) and the fixed-sample
    /// references of every gate. Simulations that only need decisions switch
    /// it off; decisions do not depend on it.
    bool intervals = true;
    /// Batch mode: closed batches at which window-level bounds are tightest.
    double batch_n_opt = 50;
    /// Batch mode: closed batches needed before the pass side may pass (its
    /// bounds plug in the batches' sample variance, unreliable over a few).
    std::uint64_t batch_min_batches_to_pass = 12;

    /// Throws std::invalid_argument naming the field ("tuning.baseline_n_opt")
    /// and its value: the *_n_opt fields must be positive and finite.
    void validate(std::string_view where) const {
        const std::pair<const char*, double> fields[] = {
            {"tuning.baseline_n_opt", baseline_n_opt},
            {"tuning.candidate_n_opt", candidate_n_opt},
            {"tuning.batch_n_opt", batch_n_opt}};
        for (const auto& [field, value] : fields) {
            if (!(value > 0.0) || std::isinf(value))
                detail::throw_bad_field(where, field, value, "must be positive and finite");
        }
    }
};

namespace detail {

/// The longest gate name validate_common accepts.
inline constexpr std::size_t max_gate_name_length = 64;

/// "1.23", "inf", "n/a": three significant digits for reasons.
[[nodiscard]] inline std::string format_ratio(double x) {
    if (std::isinf(x)) return "inf";
    if (std::isnan(x)) return "n/a";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", x);
    return buf;
}

/// A signal's name, with its number when it is not one ("unknown (17)").
[[nodiscard]] inline std::string describe_signal(signal s) {
    if (static_cast<std::size_t>(s) < signal_count) return std::string(name(s));
    return "unknown (" + std::to_string(static_cast<int>(s)) + ")";
}

/// "latency_p99": a signal's name with the quantile in percent.
[[nodiscard]] inline std::string quantile_gate_name(signal s, double quantile) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "_p%g", quantile * 100);
    return std::string(name(s)) + buf;
}

/// Checks the fields of gate_common; `where` names the gate in the message.
inline void validate_common(const gate_common& g, const std::string& where) {
    // Names key reports, JSON and metric labels: a small safe alphabet.
    const bool name_ok = !g.name.empty() && g.name.size() <= max_gate_name_length &&
                         std::all_of(g.name.begin(), g.name.end(), [](char c) {
                             return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
                         });
    if (!name_ok) {
        throw_invalid_argument(where + ": name '" + g.name + "' must be 1 to " +
                               std::to_string(max_gate_name_length) +
                               " letters, digits, '_', '-' or '.'");
    }
    if (!(g.budget_weight > 0.0) || std::isinf(g.budget_weight)) {
        throw_bad_field(where, "budget_weight", g.budget_weight, "must be positive and finite");
    }
}

/// Checks a multiplier for its direction: > 0 and finite, >= 1 when an
/// increase is worse, <= 1 when a decrease is.
inline void validate_multiplier(double multiplier, direction worse, const std::string& where,
                                bool has_direction = true) {
    if (!(multiplier > 0.0) || std::isinf(multiplier)) {
        throw_bad_field(where, "multiplier", multiplier, "must be positive and finite");
    }
    if (worse == direction::increase && multiplier < 1.0) {
        throw_bad_field(where, "multiplier", multiplier,
                        has_direction ? "must be >= 1 for direction::increase"
                                      : "must be >= 1 (this kind of gate tests an increase)");
    }
    if (worse == direction::decrease && multiplier > 1.0) {
        throw_bad_field(where, "multiplier", multiplier, "must be <= 1 for direction::decrease");
    }
    if (worse != direction::increase && worse != direction::decrease) {
        throw_bad_field(where, "worse", static_cast<int>(worse), "is not a direction");
    }
}

/// Batch windows: >= 0 (0 = per-request evidence).
inline void validate_batch_window(std::int64_t batch_window_ns, const std::string& where) {
    if (batch_window_ns < 0)
        throw_bad_field(where, "batch_window_ns", batch_window_ns, "must be >= 0");
}

/// The batch a batch-mode gate files an increment ending at `end` under, or
/// throws (naming the gate) when there is no end time or it lies before the
/// open batch `open_index`.
inline std::int64_t batch_index_of(const std::string& gate_name, std::int64_t batch_window_ns,
                                   std::optional<std::int64_t> end,
                                   std::optional<std::int64_t> open_index) {
    if (!end) {
        throw_invalid_argument(
            "canarygate::gate '" + gate_name +
            "': batch mode (batch_window_ns = " + std::to_string(batch_window_ns) +
            ") needs the increment's end time (increment_end_ns; a policy "
            "passes the snapshot's window_end_ns)");
    }
    const std::int64_t index = floor_div(*end, batch_window_ns);
    if (open_index && index < *open_index) {
        throw_invalid_argument("canarygate::gate '" + gate_name +
                               "': the increment's end time (increment_end_ns; a policy passes "
                               "the snapshot's window_end_ns) = " +
                               std::to_string(*end) + " is in batch " + std::to_string(index) +
                               ", before the open batch " + std::to_string(*open_index));
    }
    return index;
}

/// A result with the gate's identity filled in and the fail threshold
/// ln(1 / alpha_fail); every kind starts from it.
[[nodiscard]] inline gate_result start_result(const gate_common& g, signal metric,
                                              double alpha_fail) {
    gate_result result;
    result.name = g.name;
    result.metric = metric;
    result.critical = g.critical;
    result.evidence.log_fail_threshold = std::log(1.0 / alpha_fail);
    result.evidence.alpha_fail = alpha_fail;
    return result;
}

/// How a reason line names what is compared and against what.
struct reason_terms {
    std::string_view compared;  ///< " ratio " or " KS distance "
    std::string target;  ///< "limit 1.5", "baseline/candidate limit 1.25", "KS tolerance 0.1"
    bool batch = false;  ///< batch mode: samples are counted in closed batches
};

/// How a fail threshold came about: "180 = 1/alpha" or "360 = 2/alpha", with
/// alpha this gate's share of the budget and, for 2/alpha, where the other
/// half went.
[[nodiscard]] inline std::string threshold_text(const gate_evidence& ev) {
    const double threshold = std::exp(ev.log_fail_threshold);
    const bool halved = ev.alpha_fail > 0 && threshold * ev.alpha_fail > 1.5;
    return format_ratio(threshold) + (halved ? " = 2/alpha" : " = 1/alpha") + ", alpha " +
           format_ratio(ev.alpha_fail) + " this gate's share of the budget" +
           (halved ? ", half of it spent on the baseline's bound" : "");
}

/// The one reason line of every gate, from its decision and evidence, e.g.
/// "cost ratio 1.61 (CI 1.38-1.9, asymptotic): regression beyond limit 1.2
/// shown (e-value 7.53e+07 >= 360 = 2/alpha, alpha 0.00556 this gate's
/// share of the budget, half of it spent on the baseline's bound) after 412
/// candidate / 40210 baseline samples". The interval reads "interval not
/// computed" when it was not (gate_tuning::intervals off), and a gate
/// without data yet says "no data yet".
[[nodiscard]] inline std::string reason_line(const gate_result& r, const reason_terms& terms) {
    const gate_evidence& ev = r.evidence;
    const std::string samples =
        std::to_string(ev.candidate_samples) + " candidate / " +
        std::to_string(ev.baseline_samples) + " baseline samples" +
        (terms.batch ? " in " + std::to_string(ev.batches) + " closed batches" : std::string());
    const std::string interval =
        ev.interval_computed ? "(CI " + format_ratio(ev.lower) + "-" + format_ratio(ev.upper) +
                                   (ev.asymptotic_interval ? ", asymptotic)" : ")")
                             : std::string("(interval not computed)");
    const std::string head =
        std::isnan(ev.estimate)
            ? r.name + std::string(terms.compared) + "not estimated yet " + interval
            : r.name + std::string(terms.compared) + format_ratio(ev.estimate) + " " + interval;
    switch (r.decision) {
        case verdict::fail:
            return head + ": regression beyond " + terms.target + " shown (" +
                   (std::isnan(ev.log_e_value)
                        ? std::string("outside both confidence bands")
                        : "e-value " + format_ratio(std::exp(std::min(ev.log_e_value, 700.0))) +
                              " >= " + threshold_text(ev)) +
                   ") after " + samples;
        case verdict::pass:
            return head + " is within " + terms.target + " after " + samples;
        default:
            return head + ": not yet decided against " + terms.target + " after " + samples;
    }
}

/// The target of a ratio gate's reason: "limit 1.5", or for a gate where a
/// decrease is worse (tested with the arms swapped) "baseline/candidate
/// limit 1.25".
[[nodiscard]] inline std::string ratio_target(double tested_limit, bool swapped) {
    return std::string(swapped ? "baseline/candidate limit " : "limit ") +
           format_ratio(tested_limit);
}

/// One-sided normal-mixture bound on a mean from (n, sum, sum of squares):
/// mean ± sd * u(n) / n, tuned for n_opt observations. Asymptotic (plug-in
/// standard deviation). Returns {lower, upper}.
[[nodiscard]] inline std::pair<double, double> mean_bounds(double n, double sum, double sum_sq,
                                                           double alpha, double n_opt) {
    if (n < 2) return {0.0, std::numeric_limits<double>::infinity()};
    const double mean = sum / n;
    const double var = std::max(0.0, (sum_sq - sum * sum / n) / (n - 1));
    const double sd = std::sqrt(var);
    const double rho = stats::normal_mixture_rho(n_opt, alpha, stats::sides::one_sided);
    const double u = stats::one_sided_normal_mixture_boundary(n, rho, alpha);
    const double half = sd * u / n;
    return {std::max(0.0, mean - half), mean + half};
}

/// Running sums of a mean-type signal (cost per request, events per
/// request) on both arms.
struct mean_sums {
    double candidate_n = 0, candidate_sum = 0, candidate_sum_sq = 0;
    double baseline_n = 0, baseline_sum = 0, baseline_sum_sq = 0;

    /// Adds an increment: each arm's observations and its (sum, sum of squares).
    void add(double n_c, std::pair<double, double> c, double n_b,
             std::pair<double, double> b) noexcept {
        candidate_n += n_c;
        candidate_sum += c.first;
        candidate_sum_sq += c.second;
        baseline_n += n_b;
        baseline_sum += b.first;
        baseline_sum_sq += b.second;
    }
};

}  // namespace detail
CANARYGATE_NAMESPACE_END
