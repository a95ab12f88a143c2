// SPDX-License-Identifier: MIT
/// \file
/// Gates: anytime-valid, ratio-native tests of "candidate ≤ k × baseline" for
/// the five signals of an LLM rollout.
///
/// A gate is a small immutable configuration (`gate_config`). Its evidence
/// accumulates in a `gate_state` that the controller carries from check to
/// check and across traffic stages; `evaluate_gate(config, state, baseline,
/// candidate, alpha_fail, alpha_pass)` feeds the state the traffic of one
/// increment (what happened since the previous check, see
/// snapshot::subtract) and returns a `gate_result`: `fail`, `pass` or
/// `continue`, with its evidence. Each gate's false-fail probability is at
/// most `alpha_fail` over the whole rollout, however often it is checked
/// (Ville's inequality on an e-process whose null is exactly the user's
/// multiplier).
///
/// The tests (see `reference/statistics.md`):
/// - rates (errors, refusals, thumbs-down): given the events of a window,
///   each is the candidate's with probability ≤ k n_c / (k n_c + n_b) under
///   the null; a grid mixture of likelihood ratios over the windows (valid
///   across traffic ramps). Exact, nonparametric, both sides.
/// - mean cost: a betting e-process against k × an upper confidence bound
///   on the baseline mean from earlier windows (fail side: nonparametric);
///   the pass side and the interval use normal-mixture confidence sequences
///   on both means (asymptotic: reported as such).
/// - quantiles (latency, TTFT, output length): candidate requests above
///   x0 = k' × an anytime-valid upper bound of the baseline quantile from
///   earlier windows, k' = k rounded up to the bucket grid so that x0 is a
///   bucket edge and exceedances are counted exactly; a truncated
///   beta-binomial mixture on the exceedance count. Pass side and interval
///   from quantile confidence sequences on both arms.
/// - output-length shape: time-uniform DKW bands on both arms; fail when the
///   Kolmogorov–Smirnov distance exceeds the tolerance by more than both
///   bands.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numbers>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "canarygate/config.hpp"
#include "canarygate/histogram.hpp"
#include "canarygate/outcome.hpp"
#include "canarygate/snapshot.hpp"
#include "canarygate/stats/beta_binomial.hpp"
#include "canarygate/stats/betting.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/stats/invert.hpp"
#include "canarygate/stats/normal_mixture.hpp"
#include "canarygate/stats/quantile_bound.hpp"
#include "canarygate/stats/sequential_ks.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// What a gate measures.
enum class signal : std::uint8_t {
    latency,        ///< end-to-end latency quantile
    ttft,           ///< time-to-first-token quantile
    cost,           ///< mean cost per request
    error_rate,     ///< server errors and timeouts per request
    refusal_rate,   ///< refusals (any origin) per request
    output_length,  ///< output-token quantile
    output_shape,   ///< output-token distribution shape (Kolmogorov–Smirnov)
    feedback_rate,  ///< negative feedback (thumbs-down by default) per request
};

[[nodiscard]] constexpr std::string_view name(signal s) noexcept {
    constexpr std::array<std::string_view, 8> names = {
        "latency", "ttft", "cost", "error_rate", "refusal_rate", "output_length", "output_shape",
        "feedback_rate"};
    const auto i = static_cast<std::size_t>(s);
    return i < names.size() ? names[i] : std::string_view("invalid");
}

/// Which change is a regression.
enum class direction : std::uint8_t {
    increase,  ///< candidate above k × baseline is bad (latency, cost, errors, ...)
    decrease,  ///< candidate below k × baseline is bad (k < 1; e.g. thumbs-up rate)
};

/// A gate's or a policy's decision at one check.
enum class verdict : std::uint8_t {
    pass,             ///< every needed bound is inside the tolerance: may advance
    keep_going,       ///< not enough evidence yet ("continue")
    fail,             ///< regression shown at the error budget: roll back
    invalid,          ///< the comparison itself is broken (sample-ratio mismatch)
    no_regression,    ///< stage's maximum duration reached undecided: weaker than pass
};

/// "pass", "continue", "fail", "invalid", "no_regression_detected".
[[nodiscard]] constexpr std::string_view name(verdict v) noexcept {
    constexpr std::array<std::string_view, 5> names = {"pass", "continue", "fail", "invalid",
                                                       "no_regression_detected"};
    const auto i = static_cast<std::size_t>(v);
    return i < names.size() ? names[i] : std::string_view("invalid");
}

/// Configuration of one gate. Validated by `validate()` (the policy calls it).
struct gate_config {
    signal metric = signal::latency;
    /// The null hypothesis is exactly "candidate ≤ multiplier × baseline"
    /// (≥ for direction::decrease). For the shape gate: unused.
    double multiplier = 1.5;
    direction worse = direction::increase;
    /// Quantile for latency / ttft / output_length, in (0, 1).
    double quantile = 0.99;
    /// Weight of this gate in the policy's error budget (Bonferroni split).
    double budget_weight = 1.0;
    /// Candidate events needed before the gate may fail (operational guard;
    /// events = the rate's events, exceedances, or requests for cost/shape).
    std::uint64_t min_events = 0;
    /// A failing critical gate rolls back; a failing non-critical one holds.
    bool critical = true;
    /// Shape gate: the largest acceptable Kolmogorov–Smirnov distance.
    double ks_tolerance = 0.1;
    /// Feedback gate: which feedback counts as negative.
    feedback_kind feedback = feedback_kind::thumbs_down;
    /// Batch mode, for signals that A/A calibration shows over-dispersed
    /// (aa_dispersion::phi clearly above 1). 0 (default): every request is an
    /// observation, which assumes the candidate's requests are independent
    /// given the arm. > 0: window-level observations: the candidate's traffic
    /// in each batch window [j w, (j + 1) w) of the clock (w = this value, by
    /// the increments' end times) is ONE observation (its mean), so the fail
    /// side stays valid under any dependence between requests of a window
    /// (noise shared by the candidate's pods, batch occupancy, warm caches).
    /// Slower to decide, and its evidence lags by one batch (a batch counts
    /// once it is closed). Choose w at least as long as the noise lasts.
    /// Cost, rate and quantile gates only.
    std::int64_t batch_window_ns = 0;
    /// Feedback gate: the delay from a request to its feedback, log-normal
    /// with this median (seconds; measure it from attribution) and log
    /// standard deviation. 0 (default): a window's feedback events are judged
    /// against the requests of that same window, which is exact while the
    /// split stays constant, conservative while the candidate's share grows
    /// and ANTI-conservative while it shrinks (feedback from a 50 % stage
    /// arriving during a 5 % stage looks like a regression). > 0: each
    /// window's events are judged against the exposure expected to produce
    /// them, sum over earlier increments of requests x P(delay lands in this
    /// window), valid on any ramp if both arms share this delay distribution.
    double feedback_delay_median_s = 0;
    double feedback_delay_sigma = 1.0;
    /// Display name; derived from the fields when empty ("latency_p99").
    std::string label;

    /// The label, or a derived one.
    [[nodiscard]] std::string display_name() const {
        if (!label.empty()) return label;
        std::string n(canarygate::name(metric));
        if (metric == signal::latency || metric == signal::ttft || metric == signal::output_length) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "_p%g", quantile * 100);
            n += buf;
        }
        return n;
    }

    /// Throws std::invalid_argument naming the field and its value.
    void validate() const {
        const std::string where = "canarygate::gate_config '" + display_name() + "': ";
        auto fail = [&](const char* field, double value, const char* rule) {
            detail::throw_invalid_argument(where + field + " = " + std::to_string(value) + " " + rule);
        };
        if (static_cast<std::size_t>(metric) > 7) fail("metric", static_cast<double>(metric), "is not a signal");
        if (metric != signal::output_shape) {
            if (!(multiplier > 0.0) || std::isinf(multiplier)) fail("multiplier", multiplier, "must be positive and finite");
            if (worse == direction::increase && multiplier < 1.0) {
                fail("multiplier", multiplier, "must be >= 1 for direction::increase");
            }
            if (worse == direction::decrease && multiplier > 1.0) {
                fail("multiplier", multiplier, "must be <= 1 for direction::decrease");
            }
        }
        if (is_quantile() && !(quantile > 0.0 && quantile < 1.0)) fail("quantile", quantile, "must be in (0, 1)");
        if (!(budget_weight > 0.0) || std::isinf(budget_weight)) fail("budget_weight", budget_weight, "must be positive and finite");
        if (metric == signal::output_shape && !(ks_tolerance > 0.0 && ks_tolerance < 1.0)) {
            fail("ks_tolerance", ks_tolerance, "must be in (0, 1)");
        }
        if (worse == direction::decrease && (is_quantile() || metric == signal::output_shape)) {
            fail("worse", 1, "(decrease) is supported for rate and cost gates only");
        }
        if (batch_window_ns < 0) fail("batch_window_ns", static_cast<double>(batch_window_ns), "must be >= 0");
        if (!(feedback_delay_median_s >= 0.0) || std::isinf(feedback_delay_median_s)) {
            fail("feedback_delay_median_s", feedback_delay_median_s, "must be >= 0 and finite");
        }
        if (feedback_delay_median_s > 0.0) {
            if (metric != signal::feedback_rate) {
                fail("feedback_delay_median_s", feedback_delay_median_s, "applies to feedback_rate gates only");
            }
            if (!(feedback_delay_sigma > 0.0) || std::isinf(feedback_delay_sigma)) {
                fail("feedback_delay_sigma", feedback_delay_sigma, "must be positive and finite");
            }
            if (batch_window_ns > 0) {
                fail("feedback_delay_median_s", feedback_delay_median_s, "cannot be combined with batch mode");
            }
        }
        if (batch_window_ns > 0 && metric == signal::output_shape) {
            fail("batch_window_ns", static_cast<double>(batch_window_ns),
                 "(batch mode) is supported for cost, rate and quantile gates only");
        }
    }

    [[nodiscard]] bool is_quantile() const noexcept {
        return metric == signal::latency || metric == signal::ttft || metric == signal::output_length;
    }
    [[nodiscard]] bool is_rate() const noexcept {
        return metric == signal::error_rate || metric == signal::refusal_rate ||
               metric == signal::feedback_rate;
    }
};

/// The evidence behind a verdict.
struct gate_evidence {
    /// Log of the fail-side e-value (ln E; fail when ≥ log_fail_threshold).
    /// NaN for the shape gate, which is a band test, not an e-process.
    double log_e_value = 0.0;
    double log_fail_threshold = 0.0;
    /// Point estimate of the candidate/baseline ratio (KS distance for the
    /// shape gate); NaN when there is no data yet.
    double estimate = std::numeric_limits<double>::quiet_NaN();
    /// Anytime-valid interval at the pass level (lower may be 0, upper +inf).
    double lower = 0.0;
    double upper = std::numeric_limits<double>::infinity();
    /// True when the interval (and so the pass decision) is asymptotic
    /// (normal-mixture bounds on means) rather than exact.
    bool asymptotic_interval = false;
    /// Fixed-sample reference interval for the ratio at the pass level, for
    /// reporting beside the anytime-valid one: valid only for ONE look planned
    /// in advance, never for decisions under repeated checks. Rates:
    /// Clopper–Pearson on the candidate's share of the events, mapped to the
    /// rate ratio (cumulative exposures); cost: Fieller's interval for the
    /// ratio of means; quantiles: distribution-free order-statistic
    /// intervals of both arms' quantiles (alpha_pass / 2 each), divided
    /// crosswise. NaN where there is none (shape, batch mode, too little
    /// data, gate_tuning::intervals off); upper is +inf when the data do not
    /// bound it.
    double fixed_lower = std::numeric_limits<double>::quiet_NaN();
    double fixed_upper = std::numeric_limits<double>::quiet_NaN();
    /// "clopper-pearson", "fieller", "order-statistic", or empty.
    std::string_view fixed_method;
    /// Batch mode: closed batches that contributed to the fail side.
    std::uint64_t batches = 0;
    std::uint64_t candidate_samples = 0;
    std::uint64_t baseline_samples = 0;
    std::uint64_t candidate_events = 0;
    std::uint64_t baseline_events = 0;
};

struct gate_result {
    std::string name;
    signal metric = signal::latency;
    bool critical = true;
    verdict decision = verdict::keep_going;
    gate_evidence evidence;
    /// One line a human reads: "latency_p99 ratio <= 1.62 (CI 1.55-1.71) > 1.5 after 412 ...".
    std::string reason;
};

/// What one gate has accumulated over a rollout. Carried by the controller;
/// never shared between gates. Plain data (copyable, so a controller can
/// persist it).
struct gate_state {
    struct rate_window {
        double candidate_exposure;  // requests, or delay-weighted requests (feedback_delay_median_s)
        double baseline_exposure;
        double candidate_events;
        double baseline_events;
    };
    // Rate gates: every window's aggregates (replayed to invert the test for
    // the interval) and the two running e-processes at the gate's k.
    std::vector<rate_window> rate_windows;
    std::optional<stats::rate_ratio_e_process<5>> rate_fail;  // H0: r_c <= k r_b
    std::optional<stats::rate_ratio_e_process<5>> rate_pass;  // H0: r_c >= k r_b (arms swapped)
    // Feedback gates with a delay model: each increment's requests at the
    // midpoint of its time span, spread over later windows by the delay.
    struct served_requests {
        double midpoint_ns;
        double candidate;
        double baseline;
    };
    std::vector<served_requests> served;
    std::optional<std::int64_t> previous_end_ns;
    // Cost gate.
    stats::betting_e_process betting{0.5};
    double candidate_n = 0, candidate_sum = 0, candidate_sum_sq = 0;
    double baseline_n = 0, baseline_sum = 0, baseline_sum_sq = 0;
    // Quantile and shape gates: cumulative histograms of both arms.
    std::optional<exp_histogram> candidate_histogram;
    std::optional<exp_histogram> baseline_histogram;
    std::uint64_t exceedances = 0;
    std::uint64_t exceedance_trials = 0;
    // Batch mode: the open batch, whose null bounds were fixed from the
    // baseline seen before it opened (predictable), and the closed batches'
    // evidence: a betting e-process on the fail side, window-level sums of
    // the normalised means for the pass side and the interval.
    struct open_batch {
        std::int64_t index = 0;
        double candidate_n = 0;
        double fail_sum = 0;    // events, cost or exceedances above the fail threshold
        double pass_sum = 0;    // exceedances above the pass threshold (quantile gates)
        double fail_bound = 0;  // null bound on the candidate mean (0: none yet)
        double pass_bound = 0;  // k x a lower bound on the baseline mean (0: none yet)
        std::int64_t fail_edge = 0;  // quantile gates: thresholds as bucket-edge exponents
        std::int64_t pass_edge = 0;
        int edge_scale = 0;          // ... at this histogram scale
        bool fail_edge_valid = false;
        bool pass_edge_valid = false;
    };
    std::optional<open_batch> batch;
    // Bets up to 0.8 of the wealth per batch: the exact factor 1 + lambda y
    // is used, so large bets are not penalised by the per-request bound.
    stats::betting_e_process batch_betting{0.8};
    std::uint64_t batches = 0;
    // Per closed batch: x / fail_bound (interval's lower side) and
    // x / pass_bound (pass side, interval's upper side): count, sum, sum of squares.
    double lower_windows = 0, lower_sum = 0, lower_sum_sq = 0;
    double upper_windows = 0, upper_sum = 0, upper_sum_sq = 0;
    // Every gate: the last decision's check count.
    std::uint64_t checks = 0;
};

namespace detail {

inline double to_double(wide_uint w) noexcept { return w.to_double(); }

/// Events of a rate gate in one arm's increment.
inline double rate_events(const gate_config& g, const arm_snapshot& a) {
    double events = 0;
    if (g.metric == signal::feedback_rate) {
        return to_double(a.counter(std::string(series::feedback_prefix) + std::string(name(g.feedback))));
    }
    for (std::size_t i = 0; i < outcome_count; ++i) {
        const auto o = static_cast<outcome>(i);
        const bool counted = g.metric == signal::error_rate ? is_error(o) : is_refusal(o);
        if (counted) events += to_double(a.counter(std::string(series::outcome_prefix) + std::string(name(o))));
    }
    return events;
}

inline std::string_view histogram_series(signal s) noexcept {
    switch (s) {
        case signal::latency: return series::latency;
        case signal::ttft: return series::ttft;
        default: return series::output_tokens;
    }
}

/// Grid-mixture log e-value of H0: r_c <= theta r_b over the stored windows,
/// with the arms' roles optionally swapped (for the reverse null).
inline double rate_log_e(const std::vector<gate_state::rate_window>& windows, double theta, bool swap) {
    stats::rate_ratio_e_process<5> process(theta);
    for (const auto& w : windows) {
        const double ce = swap ? w.baseline_events : w.candidate_events;
        const double be = swap ? w.candidate_events : w.baseline_events;
        const double cn = swap ? w.baseline_exposure : w.candidate_exposure;
        const double bn = swap ? w.candidate_exposure : w.baseline_exposure;
        if (cn <= 0 || bn <= 0 || ce + be <= 0) continue;
        process.update(static_cast<std::uint64_t>(ce), static_cast<std::uint64_t>(ce + be), cn, bn);
    }
    return process.log_e_value();
}

/// The counter slot index (0 underflow .. bucket_count + 1 overflow) holding
/// the 1-based rank r of a histogram, or nullopt for the zero bucket.
struct ranked_slot {
    bool zero;
    std::size_t slot;
};

inline ranked_slot slot_of_rank(const exp_histogram& h, std::uint64_t rank) {
    std::uint64_t seen = h.zero_count();
    if (rank <= seen) return {true, 0};
    seen += h.underflow_count();
    if (rank <= seen) return {false, 0};
    const auto buckets = h.buckets();
    for (std::size_t k = 0; k < buckets.size(); ++k) {
        seen += buckets[k];
        if (rank <= seen) return {false, k + 1};
    }
    return {false, buckets.size() + 1};
}

/// An upper bound on a value, read off a histogram: 0, the bucket edge b^J,
/// or none (the rank lies in overflow: no finite bound).
struct edge_bound {
    enum kind_type { zero, edge, none } kind;
    std::int64_t exponent;  ///< J when kind == edge
};

/// Upper edge of the slot holding the 1-based rank r.
inline edge_bound upper_edge_of_rank(const exp_histogram& h, std::uint64_t rank) {
    const auto r = slot_of_rank(h, rank);
    if (r.zero) return {edge_bound::zero, 0};
    const auto& layout = h.layout();
    if (r.slot == layout.bucket_count() + 1) return {edge_bound::none, 0};
    // Slot s >= 1 is bucket first + s - 1 with upper edge b^(first + s);
    // slot 0 (underflow) has upper edge 2^min = b^first: the same formula.
    return {edge_bound::edge, layout.first_index() + static_cast<std::int64_t>(r.slot)};
}

/// Value bounds of the slot holding rank r: (lower, upper].
inline std::pair<double, double> value_bounds_of_rank(const exp_histogram& h, std::uint64_t rank) {
    const auto r = slot_of_rank(h, rank);
    if (r.zero) return {0.0, 0.0};
    const auto& layout = h.layout();
    if (r.slot == 0) return {0.0, layout.min_value()};
    if (r.slot == layout.bucket_count() + 1) return {layout.max_value(), std::numeric_limits<double>::infinity()};
    const std::int64_t index = layout.first_index() + static_cast<std::int64_t>(r.slot) - 1;
    return {layout.lower_edge(index), layout.upper_edge(index)};
}

/// Accepted values strictly above b^J (exactly: whole slots whose lower edge
/// is >= b^J; a slot straddling b^J cannot occur because b^J is an edge).
inline std::uint64_t count_above_edge(const exp_histogram& h, std::int64_t edge_exponent) {
    const auto& layout = h.layout();
    const auto buckets = h.buckets();
    std::uint64_t above = 0;
    // Bucket with absolute index i covers (b^i, b^(i+1)]: above b^J iff i >= J.
    const std::int64_t first = layout.first_index();
    for (std::size_t k = 0; k < buckets.size(); ++k) {
        if (first + static_cast<std::int64_t>(k) >= edge_exponent) above += buckets[k];
    }
    // Overflow values exceed 2^max = b^(last + 1) >= b^J when J <= last + 1.
    if (edge_exponent <= layout.last_index() + 1) above += h.overflow_count();
    // Underflow values lie in (0, 2^min]: whether they exceed b^J < 2^min is
    // unknown, so they are not counted (conservative).
    return above;
}

/// Brings two histograms to a common scale (the coarser); ranges must agree.
inline void align_scales(exp_histogram& a, exp_histogram& b) {
    if (a.layout().scale() > b.layout().scale()) a = a.downscale(b.layout().scale());
    if (b.layout().scale() > a.layout().scale()) b = b.downscale(a.layout().scale());
}

/// Accumulates `increment` into the optional cumulative histogram.
inline void accumulate(std::optional<exp_histogram>& total, const exp_histogram* increment) {
    if (increment == nullptr) return;
    if (!total) {
        total = *increment;
        return;
    }
    exp_histogram inc = *increment;
    align_scales(*total, inc);
    total->merge(inc);
}

/// One-sided normal-mixture bound on a mean from (n, sum, sum of squares):
/// mean ± sd * u(n) / n, tuned for n_opt observations. Asymptotic (plug-in
/// standard deviation). Returns {lower, upper}.
inline std::pair<double, double> mean_bounds(double n, double sum, double sum_sq, double alpha, double n_opt) {
    if (n < 2) return {0.0, std::numeric_limits<double>::infinity()};
    const double mean = sum / n;
    const double var = std::max(0.0, (sum_sq - sum * sum / n) / (n - 1));
    const double sd = std::sqrt(var);
    const double rho = stats::normal_mixture_rho(n_opt, alpha, stats::sides::one_sided);
    const double u = stats::one_sided_normal_mixture_boundary(n, rho, alpha);
    const double half = sd * u / n;
    return {std::max(0.0, mean - half), mean + half};
}

/// Steps m of the bucket grid at `scale` (growth b = 2^(2^-scale)) with
/// b^m >= k (the smallest such m) or b^m <= k (the largest): multiplying a
/// bucket edge b^J by b^m gives the edge b^(J+m).
inline std::int64_t grid_steps_at_least(double k, int scale) {
    const double per_octave = std::ldexp(1.0, scale);
    auto m = static_cast<std::int64_t>(std::ceil(std::log2(k) * per_octave));
    while (std::exp2(static_cast<double>(m) / per_octave) < k) ++m;
    return m;
}
inline std::int64_t grid_steps_at_most(double k, int scale) {
    const double per_octave = std::ldexp(1.0, scale);
    auto m = static_cast<std::int64_t>(std::floor(std::log2(k) * per_octave));
    while (std::exp2(static_cast<double>(m) / per_octave) > k) --m;
    return m;
}

/// An edge exponent J at `from_scale` carried to the coarser `to_scale`:
/// rounded up (a higher threshold) or down (a lower one) to an edge there.
inline std::int64_t coarsen_edge(std::int64_t exponent, int from_scale, int to_scale, bool round_up) {
    const std::int64_t factor = std::int64_t{1} << (from_scale - to_scale);
    std::int64_t q = exponent / factor;  // truncates toward zero
    const std::int64_t r = exponent % factor;
    if (r != 0 && (round_up == (r > 0))) q += round_up ? 1 : -1;
    return q;
}

inline std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
    const std::int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/// The "mean" signal of a cost or rate gate in one arm's increment: its sum
/// and sum of squares (rates: events of one request are 0 or 1, so the sum
/// of squares is the number of events; several negative feedbacks on one
/// request make that an undercount, which only matters for the asymptotic
/// baseline bound).
inline std::pair<double, double> mean_signal_sums(const gate_config& g, const arm_snapshot& a) {
    if (g.metric == signal::cost) {
        return {to_double(a.counter(series::cost_sum)), to_double(a.counter(series::cost_sum_squares))};
    }
    const double events = rate_events(g, a);
    return {events, events};
}

/// The exposures behind the feedback of the increment ending at `end_ns`
/// (gate_config::feedback_delay_median_s): records this increment's requests
/// in `state.served`, then sums every served increment's requests times the
/// probability that a log-normal delay from its midpoint lands in this
/// increment's span (previous end, end]. Returns {candidate, baseline}.
inline std::pair<double, double> delayed_exposure(const gate_config& g, gate_state& state, std::int64_t end_ns,
                                                  double candidate_requests, double baseline_requests) {
    const double end = static_cast<double>(end_ns);
    const double start = state.previous_end_ns ? static_cast<double>(*state.previous_end_ns) : end;
    state.previous_end_ns = end_ns;
    state.served.push_back({(start + end) / 2, candidate_requests, baseline_requests});
    const double median_ns = g.feedback_delay_median_s * 1e9;
    const double scale = g.feedback_delay_sigma * std::numbers::sqrt2;
    auto cdf = [&](double delay_ns) {
        return delay_ns <= 0 ? 0.0 : 0.5 * std::erfc(-std::log(delay_ns / median_ns) / scale);
    };
    double c = 0;
    double b = 0;
    for (const auto& s : state.served) {
        const double w = cdf(end - s.midpoint_ns) - cdf(start - s.midpoint_ns);
        c += s.candidate * w;
        b += s.baseline * w;
    }
    return {c, b};
}

inline std::string format_ratio(double x) {
    if (std::isinf(x)) return "inf";
    if (std::isnan(x)) return "n/a";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", x);
    return buf;
}

}  // namespace detail

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
};

namespace detail {

/// The quantile gates' point estimate and anytime-valid interval of the
/// ratio of quantiles, from both arms' cumulative histograms.
inline void quantile_estimate(const gate_config& config, const gate_state& state, double alpha_pass,
                              const gate_tuning& tuning, gate_evidence& ev) {
    if (!state.candidate_histogram || !state.baseline_histogram || state.candidate_histogram->empty() ||
        state.baseline_histogram->empty()) {
        return;
    }
    exp_histogram c = *state.candidate_histogram;
    exp_histogram b = *state.baseline_histogram;
    align_scales(c, b);
    ev.candidate_samples = c.count();
    ev.baseline_samples = b.count();
    const double qc = c.quantile(config.quantile).value;
    const double qb = b.quantile(config.quantile).value;
    if (qb > 0) ev.estimate = qc / qb;
    const stats::quantile_confidence_sequence cs_c(config.quantile, alpha_pass, tuning.candidate_n_opt);
    const stats::quantile_confidence_sequence cs_b(config.quantile, alpha_pass, tuning.baseline_n_opt);
    const auto rc = cs_c.ranks(c.count());
    const auto rb = cs_b.ranks(b.count());
    constexpr double inf = std::numeric_limits<double>::infinity();
    const double c_upper = rc.upper <= c.count() ? value_bounds_of_rank(c, rc.upper).second : inf;
    const double c_lower = rc.lower >= 1 ? value_bounds_of_rank(c, rc.lower).first : 0.0;
    const double b_upper = rb.upper <= b.count() ? value_bounds_of_rank(b, rb.upper).second : inf;
    const double b_lower = rb.lower >= 1 ? value_bounds_of_rank(b, rb.lower).first : 0.0;
    ev.upper = b_lower > 0 ? c_upper / b_lower : inf;
    ev.lower = std::isfinite(b_upper) && b_upper > 0 ? c_lower / b_upper : 0.0;
}

/// The quantile gates' fixed-sample reference: distribution-free
/// order-statistic intervals for both arms' quantiles at alpha_pass / 2 each
/// (so both hold together with probability >= 1 - alpha_pass), read off the
/// histograms outward to bucket edges, divided crosswise.
inline void quantile_fixed_reference(const gate_config& config, const gate_state& state, double alpha_pass,
                                     gate_evidence& ev) {
    if (!state.candidate_histogram || !state.baseline_histogram || state.candidate_histogram->empty() ||
        state.baseline_histogram->empty()) {
        return;
    }
    exp_histogram c = *state.candidate_histogram;
    exp_histogram b = *state.baseline_histogram;
    align_scales(c, b);
    constexpr double inf = std::numeric_limits<double>::infinity();
    const auto rc = stats::quantile_order_statistic_ranks(c.count(), config.quantile, alpha_pass / 2);
    const auto rb = stats::quantile_order_statistic_ranks(b.count(), config.quantile, alpha_pass / 2);
    const double c_lower = rc.lower >= 1 ? value_bounds_of_rank(c, rc.lower).first : 0.0;
    const double c_upper = rc.upper <= c.count() ? value_bounds_of_rank(c, rc.upper).second : inf;
    const double b_lower = rb.lower >= 1 ? value_bounds_of_rank(b, rb.lower).first : 0.0;
    const double b_upper = rb.upper <= b.count() ? value_bounds_of_rank(b, rb.upper).second : inf;
    ev.fixed_lower = std::isfinite(b_upper) && b_upper > 0 ? c_lower / b_upper : 0.0;
    ev.fixed_upper = b_lower > 0 ? c_upper / b_lower : inf;
    ev.fixed_method = "order-statistic";
}

/// Batch mode of evaluate_gate (gate_config::batch_window_ns > 0): one
/// observation per closed batch window. Fail side, valid under any
/// dependence within a batch: the betting e-process on x_w / m_w, where x_w
/// is the batch's candidate mean (cost per request, events per request, or
/// the share of requests above the quantile threshold x0 = k' x an upper
/// bound of the baseline quantile) and m_w its null bound fixed when the
/// batch opened (k x an upper bound of the baseline mean, or 1 - q), so that
/// E[x_w | past] <= m_w under H0 whatever happens inside the batch; half of
/// alpha_fail goes to the baseline bound (normal mixture, asymptotic in the
/// baseline's size for cost and rates; exact for quantiles). Pass side and
/// interval: normal-mixture bounds over the batches (asymptotic in their
/// number) on x_w / (k x a lower bound of the baseline mean), or for
/// quantiles on the share above k'' x a lower bound of the baseline quantile
/// over 1 - q; a quantile gate's interval is the per-request one
/// (informational: it assumes independent requests).
inline void evaluate_batch(const gate_config& config, gate_state& state, const arm_snapshot& base,
                           const arm_snapshot& cand, double k, double alpha_fail, double alpha_pass,
                           const gate_tuning& tuning, std::int64_t batch_index, gate_result& result) {
    gate_evidence& ev = result.evidence;
    constexpr double inf = std::numeric_limits<double>::infinity();
    const bool quantile = config.is_quantile();
    const double p0 = 1.0 - config.quantile;

    // 1. A later batch index closes the open batch: it becomes one observation.
    if (state.batch && state.batch->index != batch_index) {
        const gate_state::open_batch& b = *state.batch;
        if (b.candidate_n > 0) {
            const double x = b.fail_sum / b.candidate_n;
            if (b.fail_bound > 0) {
                state.batch_betting.update_single(x / b.fail_bound - 1.0);
                ++state.batches;
                const double r = x / b.fail_bound;
                state.lower_windows += 1;
                state.lower_sum += r;
                state.lower_sum_sq += r * r;
            }
            if (b.pass_bound > 0) {
                const double r = (quantile ? b.pass_sum / b.candidate_n : x) / b.pass_bound;
                state.upper_windows += 1;
                state.upper_sum += r;
                state.upper_sum_sq += r * r;
            }
        }
        state.batch.reset();
    }

    // 2. A new batch fixes its null bounds from the baseline seen so far.
    if (!state.batch) {
        gate_state::open_batch b;
        b.index = batch_index;
        if (quantile) {
            if (state.baseline_histogram && !state.baseline_histogram->empty()) {
                const exp_histogram& h = *state.baseline_histogram;
                const int scale = h.layout().scale();
                b.edge_scale = scale;
                const std::uint64_t t = h.count();
                const stats::quantile_confidence_sequence up(config.quantile, alpha_fail / 2, tuning.baseline_n_opt,
                                                             stats::quantile_bound_side::upper);
                const auto r_up = up.ranks(t).upper;
                if (r_up <= t) {
                    const auto e = upper_edge_of_rank(h, r_up);
                    if (e.kind == edge_bound::edge) {
                        b.fail_edge = e.exponent + grid_steps_at_least(k, scale);
                        b.fail_edge_valid = true;
                        b.fail_bound = p0;
                    }
                }
                const stats::quantile_confidence_sequence low(config.quantile, alpha_pass / 2, tuning.baseline_n_opt,
                                                              stats::quantile_bound_side::lower);
                const auto r_low = low.ranks(t).lower;
                if (r_low >= 1) {
                    const auto slot = slot_of_rank(h, r_low);
                    if (!slot.zero && slot.slot >= 1 && slot.slot <= h.layout().bucket_count()) {
                        // Lower edge of bucket first + slot - 1 is b^(first + slot - 1).
                        b.pass_edge = h.layout().first_index() + static_cast<std::int64_t>(slot.slot) - 1 +
                                      grid_steps_at_most(k, scale);
                        b.pass_edge_valid = true;
                        b.pass_bound = p0;
                    }
                }
            }
        } else {
            const auto fail_b = mean_bounds(state.baseline_n, state.baseline_sum, state.baseline_sum_sq,
                                            alpha_fail / 2, tuning.baseline_n_opt);
            if (std::isfinite(fail_b.second) && fail_b.second > 0) b.fail_bound = k * fail_b.second;
            const auto pass_b = mean_bounds(state.baseline_n, state.baseline_sum, state.baseline_sum_sq,
                                            alpha_pass / 2, tuning.baseline_n_opt);
            if (pass_b.first > 0) b.pass_bound = k * pass_b.first;
        }
        state.batch = b;
    }

    // 3. This increment joins the open batch; the arms' totals grow.
    gate_state::open_batch& open = *state.batch;
    if (quantile) {
        const std::string_view series_name = histogram_series(config.metric);
        const exp_histogram* cand_h = cand.histogram(series_name);
        if (cand_h != nullptr && !open.fail_edge_valid && !open.pass_edge_valid) {
            open.candidate_n += static_cast<double>(cand_h->count());  // no threshold yet: nothing to count
        } else if (cand_h != nullptr && !cand_h->empty()) {
            // The thresholds are edges at the scale the baseline had when the
            // batch opened; a finer window is brought down to it, a coarser
            // one gets the thresholds rounded outward (never toward the null).
            const int edge_scale = open.edge_scale;
            exp_histogram window = *cand_h;
            if (window.layout().scale() > edge_scale) window = window.downscale(edge_scale);
            const int s = window.layout().scale();
            open.candidate_n += static_cast<double>(window.count());
            if (open.fail_edge_valid) {
                const auto above = count_above_edge(window, coarsen_edge(open.fail_edge, edge_scale, s, true));
                open.fail_sum += static_cast<double>(above);
                state.exceedances += above;
            }
            if (open.pass_edge_valid) {
                open.pass_sum +=
                    static_cast<double>(count_above_edge(window, coarsen_edge(open.pass_edge, edge_scale, s, false)));
            }
        }
        accumulate(state.candidate_histogram, cand_h);
        accumulate(state.baseline_histogram, base.histogram(series_name));
    } else {
        const double n_c = to_double(cand.counter(series::requests));
        const auto c = mean_signal_sums(config, cand);
        const auto b = mean_signal_sums(config, base);
        open.candidate_n += n_c;
        open.fail_sum += c.first;
        state.candidate_n += n_c;
        state.candidate_sum += c.first;
        state.candidate_sum_sq += c.second;
        state.baseline_n += to_double(base.counter(series::requests));
        state.baseline_sum += b.first;
        state.baseline_sum_sq += b.second;
    }

    // 4. Evidence and decision.
    ev.log_e_value = state.batch_betting.log_e_value();
    ev.log_fail_threshold = std::log(2.0 / alpha_fail);
    ev.batches = state.batches;
    ev.asymptotic_interval = true;
    const auto upper_mean = mean_bounds(state.upper_windows, state.upper_sum, state.upper_sum_sq, alpha_pass / 2,
                                        tuning.batch_n_opt);
    double events = 0;
    bool pass = false;
    if (quantile) {
        quantile_estimate(config, state, alpha_pass, tuning, ev);
        ev.candidate_events = state.exceedances;
        events = static_cast<double>(state.exceedances);
        pass = upper_mean.second < 1.0;
    } else {
        ev.candidate_samples = static_cast<std::uint64_t>(state.candidate_n);
        ev.baseline_samples = static_cast<std::uint64_t>(state.baseline_n);
        const bool cost = config.metric == signal::cost;
        ev.candidate_events = cost ? ev.candidate_samples : static_cast<std::uint64_t>(state.candidate_sum);
        ev.baseline_events = cost ? ev.baseline_samples : static_cast<std::uint64_t>(state.baseline_sum);
        events = cost ? state.candidate_n : state.candidate_sum;
        if (state.candidate_n > 0 && state.baseline_n > 0 && state.baseline_sum > 0) {
            ev.estimate = (state.candidate_sum / state.candidate_n) / (state.baseline_sum / state.baseline_n);
        }
        const auto lower_mean = mean_bounds(state.lower_windows, state.lower_sum, state.lower_sum_sq,
                                            alpha_pass / 2, tuning.batch_n_opt);
        ev.lower = k * lower_mean.first;
        ev.upper = std::isfinite(upper_mean.second) ? k * upper_mean.second : inf;
        pass = ev.upper < k;
    }
    if (ev.log_e_value >= ev.log_fail_threshold && events >= static_cast<double>(config.min_events)) {
        result.decision = verdict::fail;
    } else if (pass && state.upper_windows >= static_cast<double>(tuning.batch_min_batches_to_pass)) {
        result.decision = verdict::pass;
    }
}

}  // namespace detail

/// Feeds one increment (the traffic since the previous check) into `state`
/// and decides. `alpha_fail`: this gate's share of the false-fail budget;
/// `alpha_pass`: the level of the pass decision and of the interval.
///
/// `increment_end_ns`: the end of the increment on the controller's clock
/// (snapshot::window_end_ns()); needed only by batch-mode gates, which group
/// increments into batch windows by it, and by delay-weighted feedback gates.
///
/// Precondition: `config.validate()` passed; 0 < alpha < 1. Throws
/// std::invalid_argument (state unchanged) when such a gate gets no
/// `increment_end_ns` or one that goes back in time, and when histogram
/// ranges of the two arms differ.
inline gate_result evaluate_gate(const gate_config& config, gate_state& state,
                                 const arm_snapshot& baseline_increment,
                                 const arm_snapshot& candidate_increment, double alpha_fail,
                                 double alpha_pass, const gate_tuning& tuning = {},
                                 std::optional<std::int64_t> increment_end_ns = std::nullopt) {
    // A "decrease" gate tests the swapped comparison: baseline <= (1/k) candidate.
    const bool swap = config.worse == direction::decrease;
    const arm_snapshot& base = swap ? candidate_increment : baseline_increment;
    const arm_snapshot& cand = swap ? baseline_increment : candidate_increment;
    const double k = swap ? 1.0 / config.multiplier : config.multiplier;

    const bool delay_weighted = config.is_rate() && config.feedback_delay_median_s > 0;
    if (delay_weighted) {
        if (!increment_end_ns) {
            detail::throw_invalid_argument("canarygate::evaluate_gate '" + config.display_name() +
                                           "': feedback_delay_median_s needs increment_end_ns, the increment's end "
                                           "time");
        }
        if (state.previous_end_ns && *increment_end_ns < *state.previous_end_ns) {
            detail::throw_invalid_argument("canarygate::evaluate_gate '" + config.display_name() +
                                           "': increment_end_ns = " + std::to_string(*increment_end_ns) +
                                           " is before the previous increment's end " +
                                           std::to_string(*state.previous_end_ns));
        }
    }
    std::int64_t batch_index = 0;
    if (config.batch_window_ns > 0) {
        if (!increment_end_ns) {
            detail::throw_invalid_argument("canarygate::evaluate_gate '" + config.display_name() +
                                           "': batch mode (batch_window_ns = " +
                                           std::to_string(config.batch_window_ns) +
                                           ") needs increment_end_ns, the increment's end time");
        }
        batch_index = detail::floor_div(*increment_end_ns, config.batch_window_ns);
        if (state.batch && batch_index < state.batch->index) {
            detail::throw_invalid_argument("canarygate::evaluate_gate '" + config.display_name() +
                                           "': increment_end_ns = " + std::to_string(*increment_end_ns) +
                                           " is in batch " + std::to_string(batch_index) +
                                           ", before the open batch " + std::to_string(state.batch->index));
        }
    }

    gate_result result;
    result.name = config.display_name();
    result.metric = config.metric;
    result.critical = config.critical;
    ++state.checks;
    gate_evidence& ev = result.evidence;
    const double log_fail = std::log(1.0 / alpha_fail);
    const double log_pass = std::log(1.0 / alpha_pass);
    ev.log_fail_threshold = log_fail;

    const double cand_requests = detail::to_double(cand.counter(series::requests));
    const double base_requests = detail::to_double(base.counter(series::requests));

    if (config.batch_window_ns > 0) {
        detail::evaluate_batch(config, state, base, cand, k, alpha_fail, alpha_pass, tuning, batch_index, result);
    } else if (config.is_rate()) {
        const double ce = detail::rate_events(config, cand);
        const double be = detail::rate_events(config, base);
        double cand_exposure = cand_requests;
        double base_exposure = base_requests;
        if (delay_weighted) {
            const auto exposure = detail::delayed_exposure(config, state, *increment_end_ns, cand_requests, base_requests);
            cand_exposure = exposure.first;
            base_exposure = exposure.second;
        }
        state.rate_windows.push_back({cand_exposure, base_exposure, ce, be});
        state.candidate_n += cand_requests;
        state.baseline_n += base_requests;
        double n_c = 0, n_b = 0, e_c = 0, e_b = 0;
        for (const auto& w : state.rate_windows) {
            n_c += w.candidate_exposure;
            n_b += w.baseline_exposure;
            e_c += w.candidate_events;
            e_b += w.baseline_events;
        }
        ev.candidate_samples = static_cast<std::uint64_t>(state.candidate_n);
        ev.baseline_samples = static_cast<std::uint64_t>(state.baseline_n);
        ev.candidate_events = static_cast<std::uint64_t>(e_c);
        ev.baseline_events = static_cast<std::uint64_t>(e_b);
        if (!state.rate_fail) {
            state.rate_fail.emplace(k);
            state.rate_pass.emplace(1.0 / k);
        }
        if (cand_exposure > 0 && base_exposure > 0 && ce + be > 0) {
            const auto c_events = static_cast<std::uint64_t>(ce);
            const auto b_events = static_cast<std::uint64_t>(be);
            state.rate_fail->update(c_events, c_events + b_events, cand_exposure, base_exposure);
            state.rate_pass->update(b_events, c_events + b_events, base_exposure, cand_exposure);
        }
        ev.log_e_value = state.rate_fail->log_e_value();
        if (n_c > 0 && n_b > 0 && e_b > 0) ev.estimate = (e_c / n_c) / (e_b / n_b);
        if (n_c > 0 && n_b > 0 && e_c > 0 && e_b == 0) ev.estimate = std::numeric_limits<double>::infinity();
        if (tuning.intervals) {
            // Invert both one-sided tests over theta in [1e-3, 1e3]: replays
            // the stored windows, O(windows) per evaluation.
            auto high = [&](double theta) { return detail::rate_log_e(state.rate_windows, theta, false); };
            auto low = [&](double theta) { return detail::rate_log_e(state.rate_windows, 1.0 / theta, true); };
            const auto lo = stats::lower_confidence_bound(high, log_pass, 1e-3, 1e3);
            const auto hi = stats::upper_confidence_bound(low, log_pass, 1e-3, 1e3);
            ev.lower = lo.status == stats::inversion_status::at_lower_limit ? 0.0 : lo.bound;
            ev.upper = hi.status == stats::inversion_status::at_upper_limit ? std::numeric_limits<double>::infinity()
                                                                            : hi.bound;
        }
        if (tuning.intervals && n_c > 0 && n_b > 0 && e_c + e_b > 0) {
            // Candidate share of the events p = theta n_c / (theta n_c + n_b),
            // so theta = p / (1 - p) x n_b / n_c.
            const auto cp = stats::clopper_pearson_interval(static_cast<std::uint64_t>(e_c),
                                                            static_cast<std::uint64_t>(e_c + e_b), alpha_pass);
            const double scale = n_b / n_c;
            ev.fixed_lower = cp.lower / (1.0 - cp.lower) * scale;
            ev.fixed_upper = cp.upper < 1.0 ? cp.upper / (1.0 - cp.upper) * scale
                                            : std::numeric_limits<double>::infinity();
            ev.fixed_method = "clopper-pearson";
        }
        const bool pass = state.rate_pass->log_e_value() >= log_pass;
        if (ev.log_e_value >= log_fail && e_c >= static_cast<double>(config.min_events)) {
            result.decision = verdict::fail;
        } else if (pass) {
            result.decision = verdict::pass;
        }
    } else if (config.metric == signal::cost) {
        const double n_c = cand_requests;
        const double sum_c = detail::to_double(cand.counter(series::cost_sum));
        const double sq_c = detail::to_double(cand.counter(series::cost_sum_squares));
        // The window's null mean bound comes from the baseline BEFORE this
        // window (predictable), at half the gate's budget.
        const auto base_bounds = detail::mean_bounds(state.baseline_n, state.baseline_sum, state.baseline_sum_sq,
                                                     alpha_fail / 2, tuning.baseline_n_opt);
        if (n_c > 0 && std::isfinite(base_bounds.second) && base_bounds.second > 0) {
            const double m = k * base_bounds.second;
            state.betting.update(stats::standardized_window_sums(static_cast<std::uint64_t>(n_c), sum_c, sq_c, m));
        }
        state.candidate_n += n_c;
        state.candidate_sum += sum_c;
        state.candidate_sum_sq += sq_c;
        state.baseline_n += base_requests;
        state.baseline_sum += detail::to_double(base.counter(series::cost_sum));
        state.baseline_sum_sq += detail::to_double(base.counter(series::cost_sum_squares));
        ev.candidate_samples = ev.candidate_events = static_cast<std::uint64_t>(state.candidate_n);
        ev.baseline_samples = ev.baseline_events = static_cast<std::uint64_t>(state.baseline_n);
        ev.log_e_value = state.betting.log_e_value();
        ev.log_fail_threshold = std::log(2.0 / alpha_fail);
        if (state.candidate_n > 0 && state.baseline_sum > 0) {
            ev.estimate = (state.candidate_sum / state.candidate_n) / (state.baseline_sum / state.baseline_n);
        }
        const auto c = detail::mean_bounds(state.candidate_n, state.candidate_sum, state.candidate_sum_sq,
                                           alpha_pass / 2, tuning.candidate_n_opt);
        const auto b = detail::mean_bounds(state.baseline_n, state.baseline_sum, state.baseline_sum_sq,
                                           alpha_pass / 2, tuning.baseline_n_opt);
        ev.asymptotic_interval = true;
        ev.lower = std::isfinite(b.second) && b.second > 0 ? c.first / b.second : 0.0;
        ev.upper = b.first > 0 ? c.second / b.first : std::numeric_limits<double>::infinity();
        if (tuning.intervals && state.candidate_n >= 2 && state.baseline_n >= 2 && state.baseline_sum > 0) {
            auto mean_and_variance_of_mean = [](double n, double sum, double sum_sq) {
                const double mean = sum / n;
                return std::pair{mean, std::max(0.0, (sum_sq - sum * mean) / (n - 1)) / n};
            };
            const auto mc = mean_and_variance_of_mean(state.candidate_n, state.candidate_sum, state.candidate_sum_sq);
            const auto mb = mean_and_variance_of_mean(state.baseline_n, state.baseline_sum, state.baseline_sum_sq);
            const auto f = stats::fieller_ratio_interval(mc.first, mc.second, mb.first, mb.second, alpha_pass);
            const bool bounded = f.kind == stats::fieller_kind::bounded;
            ev.fixed_lower = bounded ? std::max(0.0, f.lower) : 0.0;
            ev.fixed_upper = bounded ? f.upper : std::numeric_limits<double>::infinity();
            ev.fixed_method = "fieller";
        }
        if (ev.log_e_value >= ev.log_fail_threshold && state.candidate_n >= static_cast<double>(config.min_events)) {
            result.decision = verdict::fail;
        } else if (ev.upper < k) {
            result.decision = verdict::pass;
        }
    } else {
        // Quantile and shape gates share the cumulative histograms.
        const std::string_view series_name = detail::histogram_series(config.metric);
        const exp_histogram* cand_h = cand.histogram(series_name);
        const exp_histogram* base_h = base.histogram(series_name);
        if (config.is_quantile()) {
            // Exceedances of this window against the bound from earlier windows.
            if (cand_h != nullptr && !cand_h->empty() && state.baseline_histogram && !state.baseline_histogram->empty()) {
                exp_histogram baseline_so_far = *state.baseline_histogram;
                exp_histogram window = *cand_h;
                detail::align_scales(baseline_so_far, window);
                const stats::quantile_confidence_sequence cs(config.quantile, alpha_fail / 2, tuning.baseline_n_opt,
                                                             stats::quantile_bound_side::upper);
                const std::uint64_t t = baseline_so_far.count();
                const auto rank = cs.ranks(t).upper;
                const auto bound = rank <= t ? detail::upper_edge_of_rank(baseline_so_far, rank)
                                             : detail::edge_bound{detail::edge_bound::none, 0};
                if (bound.kind == detail::edge_bound::zero) {
                    // Baseline quantile bound 0: every positive value exceeds k x 0.
                    state.exceedances += window.count() - window.zero_count();
                    state.exceedance_trials += window.count();
                } else if (bound.kind == detail::edge_bound::edge) {
                    // k' = b^m >= k, the smallest grid multiplier not below k,
                    // so that x0 = k' b^J = b^(J+m) is itself a bucket edge.
                    const std::int64_t m = detail::grid_steps_at_least(k, window.layout().scale());
                    state.exceedances += detail::count_above_edge(window, bound.exponent + m);
                    state.exceedance_trials += window.count();
                }
                // No bound yet (too little baseline, or in overflow): this
                // window's candidate requests are not used (still valid).
            }
            detail::accumulate(state.candidate_histogram, cand_h);
            detail::accumulate(state.baseline_histogram, base_h);
            const double p0 = 1.0 - config.quantile;
            ev.log_e_value = stats::beta_binomial_log_e_value(state.exceedances, state.exceedance_trials, p0);
            ev.log_fail_threshold = std::log(2.0 / alpha_fail);
            ev.candidate_events = state.exceedances;
            detail::quantile_estimate(config, state, alpha_pass, tuning, ev);
            if (tuning.intervals) detail::quantile_fixed_reference(config, state, alpha_pass, ev);
            if (ev.log_e_value >= ev.log_fail_threshold && state.exceedances >= config.min_events) {
                result.decision = verdict::fail;
            } else if (ev.upper < k) {
                result.decision = verdict::pass;
            }
        } else {
            // Shape: KS distance at bucket edges with time-uniform DKW bands.
            detail::accumulate(state.candidate_histogram, cand_h);
            detail::accumulate(state.baseline_histogram, base_h);
            if (state.candidate_histogram && state.baseline_histogram && !state.candidate_histogram->empty() &&
                !state.baseline_histogram->empty()) {
                exp_histogram c = *state.candidate_histogram;
                exp_histogram b = *state.baseline_histogram;
                detail::align_scales(c, b);
                const double nc = static_cast<double>(c.count());
                const double nb = static_cast<double>(b.count());
                // Walk the slots in order: zero, underflow, buckets, overflow.
                double fc = static_cast<double>(c.zero_count()) / nc;
                double fb = static_cast<double>(b.zero_count()) / nb;
                double d_edges = std::fabs(fc - fb);
                double max_mass = std::max(fc, fb);
                auto step = [&](std::uint64_t cc, std::uint64_t bc) {
                    const double mc = static_cast<double>(cc) / nc;
                    const double mb = static_cast<double>(bc) / nb;
                    fc += mc;
                    fb += mb;
                    d_edges = std::max(d_edges, std::fabs(fc - fb));
                    max_mass = std::max({max_mass, mc, mb});
                };
                step(c.underflow_count(), b.underflow_count());
                const auto cb = c.buckets();
                const auto bb = b.buckets();
                for (std::size_t i = 0; i < cb.size(); ++i) step(cb[i], bb[i]);
                step(c.overflow_count(), b.overflow_count());
                ev.candidate_samples = ev.candidate_events = c.count();
                ev.baseline_samples = b.count();
                ev.estimate = d_edges;
                const double eps_fail = stats::sequential_dkw_radius(c.count(), alpha_fail / 2) +
                                        stats::sequential_dkw_radius(b.count(), alpha_fail / 2);
                const double eps_pass = stats::sequential_dkw_radius(c.count(), alpha_pass / 2) +
                                        stats::sequential_dkw_radius(b.count(), alpha_pass / 2);
                ev.lower = std::max(0.0, d_edges - eps_pass);
                ev.upper = std::min(1.0, d_edges + max_mass + eps_pass);
                // A band test, not an e-process: no e-value to report.
                const double margin = d_edges - eps_fail - config.ks_tolerance;
                ev.log_e_value = std::numeric_limits<double>::quiet_NaN();
                if (margin > 0 && c.count() >= config.min_events) {
                    result.decision = verdict::fail;
                } else if (ev.upper < config.ks_tolerance) {
                    result.decision = verdict::pass;
                }
            }
        }
    }

    // The reason line.
    const std::string n = result.name;
    const std::string samples = std::to_string(ev.candidate_samples) + " candidate / " +
                                std::to_string(ev.baseline_samples) + " baseline samples" +
                                (config.batch_window_ns > 0 ? " in " + std::to_string(ev.batches) + " closed batches"
                                                            : std::string());
    const std::string interval = "(CI " + detail::format_ratio(ev.lower) + "-" + detail::format_ratio(ev.upper) +
                                 (ev.asymptotic_interval ? ", asymptotic)" : ")");
    const std::string target = config.metric == signal::output_shape
                                   ? "KS tolerance " + detail::format_ratio(config.ks_tolerance)
                                   : std::string(swap ? "baseline/candidate limit " : "limit ") + detail::format_ratio(k);
    const std::string what = config.metric == signal::output_shape ? " KS distance " : " ratio ";
    switch (result.decision) {
        case verdict::fail:
            result.reason = n + what + detail::format_ratio(ev.estimate) + " " + interval + ": regression beyond " +
                            target + " shown (" +
                            (std::isnan(ev.log_e_value)
                                 ? std::string("outside both confidence bands")
                                 : "e-value " + detail::format_ratio(std::exp(std::min(ev.log_e_value, 700.0))) +
                                       " >= " + detail::format_ratio(std::exp(ev.log_fail_threshold))) +
                            ") after " + samples;
            break;
        case verdict::pass:
            result.reason = n + what + detail::format_ratio(ev.estimate) + " " + interval + " is within " + target +
                            " after " + samples;
            break;
        default:
            result.reason = n + what + detail::format_ratio(ev.estimate) + " " + interval + ": not yet decided against " +
                            target + " after " + samples;
            break;
    }
    return result;
}

CANARYGATE_NAMESPACE_END
