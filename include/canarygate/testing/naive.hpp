// SPDX-License-Identifier: MIT
/// \file
/// Naive comparators, for side-by-side evaluation only: what Argo Rollouts,
/// Flagger and Kayenta do today, run over the same snapshot increments and
/// the same series as canarygate's gates. NONE of them controls its false
/// alarm rate under repeated looks; the calibration benchmark
/// (benchmarks/simulation/calibration.cpp) measures by how much. Do not gate a rollout
/// on them.
///
/// Every comparator is a small configuration, a plain-data state carried
/// from check to check, and `evaluate(config, state, baseline_increment,
/// candidate_increment)` returning a `naive::result` whose decision is
/// `verdict::fail`, `verdict::keep_going` or (where the product has the
/// notion) `verdict::pass`.
///
/// The statistic of a window (one increment), per signal, as the gates read
/// it:
/// - error / refusal / feedback rate: the same `outcome.*` / `feedback.*`
///   counters as the gates, divided by `requests`;
/// - cost: `cost_nano_usd.sum` / `requests` (mean cost per request);
/// - latency / ttft / output_length: the histogram's quantile estimate
///   (`exp_histogram::quantile(q).value`).
/// The output-shape (KS) gate has no naive counterpart.
///
/// Example:
/// \code
///   namespace nv = canarygate::naive;
///   nv::window_threshold_config argo;           // Argo Rollouts: failureLimit 0
///   argo.metric.metric = canarygate::signal::latency;
///   argo.multiplier = 1.5;                      // canary P99 > 1.5 x stable P99
///   nv::window_threshold_state st;
///   auto r = nv::evaluate(argo, st, *increment.find_arm("baseline"), *increment.find_arm("candidate"));
///   if (r.decision == canarygate::verdict::fail) { /* what Argo would do: abort */ }
/// \endcode
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <boost/math/distributions/normal.hpp>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/core/mix.hpp"
#include "canarygate/gates/signal.hpp"
#include "canarygate/gates/verdict.hpp"
#include "canarygate/record/series.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/stats/mann_whitney.hpp"
#include "canarygate/testing/random.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace naive {

/// What a naive comparator looks at: a signal (not output_shape), the
/// quantile for latency / ttft / output_length, the feedback kind for
/// feedback_rate.
struct metric_spec {
    signal metric = signal::latency;
    double quantile = 0.99;
    feedback_kind feedback = feedback_kind::thumbs_down;

    /// Throws std::invalid_argument naming the field and the bad value.
    void validate(const char* where) const {
        if (metric == signal::output_shape || static_cast<std::size_t>(metric) >= signal_count) {
            canarygate::detail::throw_invalid_argument(
                std::string(where) + ": metric = " + std::string(canarygate::name(metric)) +
                " has no naive comparator");
        }
        if (is_quantile() && !(quantile > 0.0 && quantile < 1.0)) {
            canarygate::detail::throw_bad_field(where, "quantile", quantile, "must be in (0, 1)");
        }
    }
    [[nodiscard]] bool is_quantile() const noexcept { return is_quantile_signal(metric); }
    [[nodiscard]] bool is_rate() const noexcept { return is_rate_signal(metric); }
};

/// A comparator's decision at one check and the figures behind it.
struct result {
    verdict decision = verdict::keep_going;
    /// The statistic compared: candidate and baseline window values
    /// (window_threshold, kayenta: means of the points), or the test's z
    /// (repeated_fixed_test, in `candidate_value`; baseline_value unused).
    double candidate_value = std::numeric_limits<double>::quiet_NaN();
    double baseline_value = std::numeric_limits<double>::quiet_NaN();
    /// True when this check was skipped (too little data).
    bool skipped = false;
};

namespace detail {

/// One arm's window statistic and its sample size (requests).
struct window_stat {
    double value = std::numeric_limits<double>::quiet_NaN();  ///< NaN: no data
    double requests = 0;
    double events = 0;  ///< rate numerators (rates only)
};

inline window_stat read(const metric_spec& m, const arm_snapshot& a) {
    window_stat s;
    s.requests = canarygate::detail::to_double(a.counter(series::requests));
    if (m.is_rate()) {
        s.events = canarygate::detail::rate_events(m.metric, m.feedback, a);
        if (s.requests > 0) s.value = s.events / s.requests;
    } else if (m.metric == signal::cost) {
        if (s.requests > 0)
            s.value = canarygate::detail::to_double(a.counter(series::cost_sum)) / s.requests;
    } else {
        const exp_histogram* h = a.histogram(canarygate::detail::histogram_series(m.metric));
        if (h != nullptr && !h->empty()) s.value = h->quantile(m.quantile).value;
    }
    return s;
}

/// Number of values in `h` above x, interpolating log-linearly inside the
/// bucket that straddles x (an unbiased-as-possible reading; the gates
/// instead count whole buckets only, conservatively).
inline double count_above(const exp_histogram& h, double x) {
    if (!(x >= 0.0)) return static_cast<double>(h.count());
    const auto& layout = h.layout();
    double above = static_cast<double>(h.overflow_count());
    if (x < layout.min_value()) {
        above += static_cast<double>(h.underflow_count());  // values in (0, min]: count as above
    }
    const auto buckets = h.buckets();
    for (std::size_t k = 0; k < buckets.size(); ++k) {
        if (buckets[k] == 0) continue;
        const std::int64_t index = layout.first_index() + static_cast<std::int64_t>(k);
        const double lo = layout.lower_edge(index);
        const double hi = layout.upper_edge(index);
        if (lo >= x) {
            above += static_cast<double>(buckets[k]);
        } else if (hi > x) {
            above += static_cast<double>(buckets[k]) * std::log(hi / x) / std::log(hi / lo);
        }
    }
    return above;  // the zero bucket is never above x >= 0
}

inline double normal_upper_quantile(double alpha) {
    return boost::math::quantile(
        boost::math::complement(boost::math::normal_distribution<double>(), alpha));
}

}  // namespace detail

// ---------------------------------------------------------------------------
// (a) Per-window threshold: Argo Rollouts / Flagger.
// ---------------------------------------------------------------------------

/// "candidate window statistic > k × baseline window statistic" is a failed
/// check (Argo Rollouts' hand-written PromQL `canary > k * stable`, Flagger's
/// custom metric `{{ target }}` vs `{{ target }}-primary`), per increment.
///
/// Options and the product semantics they mirror:
/// - `failure_limit` = 0 (Argo Rollouts' default `failureLimit: 0`): the first
///   failed measurement fails the run. Argo fails when failed measurements
///   > failureLimit. Flagger's `threshold: t` (default 1, cumulative over the
///   whole analysis) is `failure_limit = t - 1` with `consecutive = false`.
/// - `consecutive = true`: only failed checks in a row count (the
///   consecutive-failure limit requested in argo-rollouts#4792; Argo has it
///   for *errors* only, `consecutiveErrorLimit`). A passing check resets the
///   run; skipped windows neither count nor reset.
/// - `absolute_floor`: the candidate statistic must also exceed this value
///   to count as a failure (the hand-written noise guard of
///   argo-rollouts#1107: `canary > (1+0.2)·stable` and above a floor).
/// - `min_requests`: windows where either arm has fewer requests are skipped
///   ("skip below 20 requests per window"); `no_data_fails` makes a skipped
///   window a failed check instead (Flagger: no data is a failed check).
/// - `measurements` > 0: after that many measured windows without failing,
///   the verdict is `pass` (Argo's `count`); 0 = never pass.
struct window_threshold_config {
    metric_spec metric;
    double multiplier = 1.5;
    double absolute_floor = 0.0;
    std::uint64_t min_requests = 0;
    std::uint64_t failure_limit = 0;
    bool consecutive = false;
    bool no_data_fails = false;
    std::uint64_t measurements = 0;

    void validate() const {
        metric.validate("canarygate::naive::window_threshold_config");
        if (!(multiplier > 0.0) || std::isinf(multiplier)) {
            canarygate::detail::throw_bad_field("canarygate::naive::window_threshold_config",
                                                "multiplier", multiplier,
                                                "must be positive and finite");
        }
    }
};

struct window_threshold_state {
    std::uint64_t measured = 0;       ///< windows compared
    std::uint64_t skipped = 0;        ///< windows below min_requests / without data
    std::uint64_t failed = 0;         ///< failed checks, cumulative
    std::uint64_t failed_in_row = 0;  ///< failed checks in a row
    bool done = false;                ///< a fail or pass was returned: sticky
    verdict final_decision = verdict::keep_going;
};

/// One check of the per-window threshold. O(buckets) for quantiles, O(1)
/// otherwise. Sticky: once failed (or passed), stays so.
inline result evaluate(const window_threshold_config& config, window_threshold_state& state,
                       const arm_snapshot& baseline_increment,
                       const arm_snapshot& candidate_increment) {
    result r;
    if (state.done) {
        r.decision = state.final_decision;
        return r;
    }
    const auto c = detail::read(config.metric, candidate_increment);
    const auto b = detail::read(config.metric, baseline_increment);
    r.candidate_value = c.value;
    r.baseline_value = b.value;
    const auto min_n = static_cast<double>(config.min_requests);
    const bool no_data =
        std::isnan(c.value) || std::isnan(b.value) || c.requests < min_n || b.requests < min_n;
    bool failed_check = false;
    if (no_data) {
        r.skipped = true;
        ++state.skipped;
        if (!config.no_data_fails) return r;
        failed_check = true;
    } else {
        ++state.measured;
        failed_check = c.value > config.multiplier * b.value && c.value > config.absolute_floor;
    }
    if (failed_check) {
        ++state.failed;
        ++state.failed_in_row;
    } else {
        state.failed_in_row = 0;
    }
    const std::uint64_t count = config.consecutive ? state.failed_in_row : state.failed;
    if (count > config.failure_limit) {
        r.decision = verdict::fail;
    } else if (config.measurements > 0 && state.measured >= config.measurements) {
        r.decision = verdict::pass;
    }
    if (r.decision != verdict::keep_going) {
        state.done = true;
        state.final_decision = r.decision;
    }
    return r;
}

// ---------------------------------------------------------------------------
// (b) A fixed-sample test re-run at every check ("peeking").
// ---------------------------------------------------------------------------

/// At every check, a one-sided fixed-sample test of H0 "candidate ≤ k ×
/// baseline" on the cumulative data at level `alpha`; fail when it rejects.
/// Valid for ONE look; re-run at every check its false-fail probability
/// grows with the number of looks (docs/statistics.md: 5 % → 31 % over 96 looks).
///
/// - rates: log-ratio delta method, z = (ln(r̂_c / r̂_b) − ln k) / se,
///   se² = 1/e_c − 1/n_c + 1/e_b − 1/n_b (needs e_c, e_b > 0);
/// - cost: Welch-style z on the cumulative means in Fieller's difference
///   form, z = (m_c − k m_b) / sqrt(s_c²/n_c + k² s_b²/n_b);
/// - quantiles: x0 = k × the baseline's cumulative sample quantile; z-test
///   of the candidate's exceedance proportion above x0 against 1 − q,
///   z = (p̂ − (1 − q)) / sqrt(q (1 − q) / n_c) (exceedances interpolated
///   log-linearly inside the bucket that straddles x0).
/// `min_requests`: no test until the candidate has this many requests.
struct repeated_fixed_test_config {
    metric_spec metric;
    double multiplier = 1.5;
    double alpha = 0.05;
    std::uint64_t min_requests = 30;

    void validate() const {
        metric.validate("canarygate::naive::repeated_fixed_test_config");
        if (!(multiplier > 0.0) || std::isinf(multiplier)) {
            canarygate::detail::throw_bad_field("canarygate::naive::repeated_fixed_test_config",
                                                "multiplier", multiplier,
                                                "must be positive and finite");
        }
        if (!(alpha > 0.0 && alpha < 1.0)) {
            canarygate::detail::throw_bad_field("canarygate::naive::repeated_fixed_test_config",
                                                "alpha", alpha, "must be in (0, 1)");
        }
    }
};

struct repeated_fixed_test_state {
    double n_c = 0, n_b = 0;                          // requests
    double e_c = 0, e_b = 0;                          // rate events
    double sum_c = 0, sum_b = 0, sq_c = 0, sq_b = 0;  // cost
    std::optional<exp_histogram> hist_c, hist_b;      // quantiles
    bool failed = false;
};

/// One check: accumulates the increment, then tests the cumulative data.
/// O(buckets) for quantiles, O(1) otherwise. Sticky once failed.
inline result evaluate(const repeated_fixed_test_config& config, repeated_fixed_test_state& state,
                       const arm_snapshot& baseline_increment,
                       const arm_snapshot& candidate_increment) {
    result r;
    const auto& m = config.metric;
    const auto c = detail::read(m, candidate_increment);
    const auto b = detail::read(m, baseline_increment);
    state.n_c += c.requests;
    state.n_b += b.requests;
    const double k = config.multiplier;
    double z = std::numeric_limits<double>::quiet_NaN();
    if (m.is_rate()) {
        state.e_c += c.events;
        state.e_b += b.events;
        if (state.e_c > 0 && state.e_b > 0) {
            const double se2 =
                1.0 / state.e_c - 1.0 / state.n_c + 1.0 / state.e_b - 1.0 / state.n_b;
            const double lr = std::log((state.e_c / state.n_c) / (state.e_b / state.n_b));
            if (se2 > 0) z = (lr - std::log(k)) / std::sqrt(se2);
        }
    } else if (m.metric == signal::cost) {
        const double sc =
            canarygate::detail::to_double(candidate_increment.counter(series::cost_sum));
        const double sb =
            canarygate::detail::to_double(baseline_increment.counter(series::cost_sum));
        state.sum_c += sc;
        state.sum_b += sb;
        state.sq_c +=
            canarygate::detail::to_double(candidate_increment.counter(series::cost_sum_squares));
        state.sq_b +=
            canarygate::detail::to_double(baseline_increment.counter(series::cost_sum_squares));
        if (state.n_c >= 2 && state.n_b >= 2) {
            const double mc = state.sum_c / state.n_c;
            const double mb = state.sum_b / state.n_b;
            const double vc = std::max(0.0, (state.sq_c - state.sum_c * mc) / (state.n_c - 1));
            const double vb = std::max(0.0, (state.sq_b - state.sum_b * mb) / (state.n_b - 1));
            const double se = std::sqrt(vc / state.n_c + k * k * vb / state.n_b);
            if (se > 0) z = (mc - k * mb) / se;
        }
    } else {
        const auto series_name = canarygate::detail::histogram_series(m.metric);
        auto accumulate = [](std::optional<exp_histogram>& total, const exp_histogram* increment) {
            if (increment == nullptr) return;
            if (total) {
                total->merge_coarsening(*increment);
            } else {
                total = *increment;
            }
        };
        accumulate(state.hist_c, candidate_increment.histogram(series_name));
        accumulate(state.hist_b, baseline_increment.histogram(series_name));
        if (state.hist_c && state.hist_b && !state.hist_c->empty() && !state.hist_b->empty()) {
            const double x0 = k * state.hist_b->quantile(m.quantile).value;
            const double n = static_cast<double>(state.hist_c->count());
            const double p_hat = detail::count_above(*state.hist_c, x0) / n;
            const double p0 = 1.0 - m.quantile;
            z = (p_hat - p0) / std::sqrt(p0 * (1.0 - p0) / n);
        }
    }
    r.candidate_value = z;
    if (state.failed) {
        r.decision = verdict::fail;
        return r;
    }
    if (state.n_c < static_cast<double>(config.min_requests) || std::isnan(z)) {
        r.skipped = true;
        return r;
    }
    if (z > detail::normal_upper_quantile(config.alpha)) {
        state.failed = true;
        r.decision = verdict::fail;
    }
    return r;
}

// ---------------------------------------------------------------------------
// (c) Kayenta's NetflixACAJudge, one metric.
// ---------------------------------------------------------------------------

/// Which changes of a metric Kayenta flags (its `direction`; default either).
enum class kayenta_direction { increase, decrease, either };

/// Kayenta's classification of a metric at one judgement.
enum class kayenta_classification { pass, high, low };

/// Kayenta's MannWhitneyClassifier on the per-window values of one metric
/// (one point per window and arm, like Kayenta's per-step time series; the
/// points of every window since the start, i.e. a growing analysis window).
/// Windows where an arm has no value (no requests; no histogram data) give
/// NaN points, removed (Kayenta's default NaN strategy). At each check:
///  1. identical data in both arms (as sorted lists), or a single value
///     across both, is `pass`;
///  2. when each arm holds a single value (two different ones), Gaussian
///     noise of standard deviation 1e-5 x that value is added to each arm, as
///     Kayenta does (seeded here from `noise_seed` and the check number);
///  3. stats::wilcoxon_shift_interval(candidate, baseline, confidence) gives
///     the interval [lower, upper] of the shift and its estimate, exactly as
///     Kayenta's MannWhitney (R's wilcox.test);
///  4. the effect size is the mean ratio candidate / baseline, NaN when
///     either mean is 0 (then it is ignored);
///  5. high when the direction allows increases, lower > tolerance x
///     |estimate| and (the effect size is NaN or >= allowed_increase); else
///     low when the direction allows decreases, upper < -tolerance x
///     |estimate| and (NaN or <= allowed_decrease); else pass.
/// high or low -> `fail` (the metric is critical: Kayenta's interim
/// judgement ends the run; sticky). No pass verdict: Kayenta's last
/// judgement decides, which the controller makes at its stage end.
///
/// The defaults are Kayenta's (judge NetflixACAJudge: confidence 0.98,
/// tolerance 0.25 of the estimate, direction either, effect-size thresholds
/// 1.0); the benchmarks set allowed_increase to the gate's multiplier.
/// Cost per check: O(W log W) for W points when the effect size leaves a
/// classification possible (two root searches of about 20-60 steps, O(W)
/// each), O(W) otherwise.
struct kayenta_config {
    metric_spec metric;
    kayenta_direction direction = kayenta_direction::either;
    /// High needs mean(candidate) / mean(baseline) >= this (Kayenta's
    /// effectSize allowedIncrease).
    double allowed_increase = 1.0;
    /// Low needs mean(candidate) / mean(baseline) <= this (allowedDecrease).
    double allowed_decrease = 1.0;
    double confidence = 0.98;
    /// Fraction of |estimate| the interval must clear (hard-coded in Kayenta).
    double tolerance = 0.25;
    /// Points per arm needed before judging (Kayenta warns below 50 but
    /// judges anyway: default 3).
    std::size_t min_points = 3;
    /// Seed of the noise of step 2 (Kayenta's is unseeded).
    std::uint64_t noise_seed = 0x6b6179656e7461;

    void validate() const {
        constexpr const char* where = "canarygate::naive::kayenta_config";
        metric.validate(where);
        if (!(confidence > 0.0 && confidence < 1.0)) {
            canarygate::detail::throw_bad_field(where, "confidence", confidence,
                                                "must be in (0, 1)");
        }
        if (!(allowed_increase > 0.0 && std::isfinite(allowed_increase))) {
            canarygate::detail::throw_bad_field(where, "allowed_increase", allowed_increase,
                                                "must be finite and > 0");
        }
        if (!(allowed_decrease > 0.0 && std::isfinite(allowed_decrease))) {
            canarygate::detail::throw_bad_field(where, "allowed_decrease", allowed_decrease,
                                                "must be finite and > 0");
        }
        if (!(tolerance >= 0.0 && std::isfinite(tolerance))) {
            canarygate::detail::throw_bad_field(where, "tolerance", tolerance,
                                                "must be finite and >= 0");
        }
        if (min_points == 0) {
            canarygate::detail::throw_bad_field(where, "min_points", std::uint64_t{0},
                                                "must be at least 1");
        }
    }
};

struct kayenta_state {
    std::vector<double> candidate_points;  ///< sorted
    std::vector<double> baseline_points;   ///< sorted
    double candidate_sum = 0, baseline_sum = 0;
    std::uint64_t checks = 0;
    bool failed = false;
    /// The last judgement: its classification, and the estimate and
    /// interval when they were computed (NaN otherwise).
    kayenta_classification classification = kayenta_classification::pass;
    double estimate = std::numeric_limits<double>::quiet_NaN();
    double lower = std::numeric_limits<double>::quiet_NaN();
    double upper = std::numeric_limits<double>::quiet_NaN();
};

namespace detail {

/// Kayenta's noise for a degenerate arm: each value plus N(0, (1e-5 v)^2),
/// v the arm's value.
inline std::vector<double> with_kayenta_noise(const std::vector<double>& values,
                                              testkit::random_source& random) {
    const double sd = std::fabs(values.front()) * 1e-5;
    std::vector<double> noisy(values);
    for (double& v : noisy) v += sd * random.normal();
    return noisy;
}

}  // namespace detail

/// One interval judgement. Sticky once failed.
inline result evaluate(const kayenta_config& config, kayenta_state& state,
                       const arm_snapshot& baseline_increment,
                       const arm_snapshot& candidate_increment) {
    result r;
    const auto c = detail::read(config.metric, candidate_increment);
    const auto b = detail::read(config.metric, baseline_increment);
    auto insert_sorted = [](std::vector<double>& v, double x) {
        v.insert(std::upper_bound(v.begin(), v.end(), x), x);
    };
    if (!std::isnan(c.value)) {
        insert_sorted(state.candidate_points, c.value);
        state.candidate_sum += c.value;
    }
    if (!std::isnan(b.value)) {
        insert_sorted(state.baseline_points, b.value);
        state.baseline_sum += b.value;
    }
    ++state.checks;
    const auto& x = state.candidate_points;
    const auto& y = state.baseline_points;
    if (state.failed) {
        r.decision = verdict::fail;
        return r;
    }
    if (x.size() < config.min_points || y.size() < config.min_points) {
        r.skipped = true;
        return r;
    }
    const double mean_c = state.candidate_sum / static_cast<double>(x.size());
    const double mean_b = state.baseline_sum / static_cast<double>(y.size());
    r.candidate_value = mean_c;
    r.baseline_value = mean_b;
    state.classification = kayenta_classification::pass;
    state.estimate = state.lower = state.upper = std::numeric_limits<double>::quiet_NaN();
    const bool single_x = x.front() == x.back();
    const bool single_y = y.front() == y.back();
    if (x == y || (single_x && single_y && x.front() == y.front())) return r;
    const double effect =
        mean_b == 0.0 || mean_c == 0.0 ? std::numeric_limits<double>::quiet_NaN() : mean_c / mean_b;
    const bool high_possible = config.direction != kayenta_direction::decrease &&
                               (std::isnan(effect) || effect >= config.allowed_increase);
    const bool low_possible = config.direction != kayenta_direction::increase &&
                              (std::isnan(effect) || effect <= config.allowed_decrease);
    // The effect size alone rules both out: the interval cannot change that.
    if (!high_possible && !low_possible) return r;
    std::vector<double> noisy_x, noisy_y;
    if (single_x && single_y) {
        testkit::random_source random(config.noise_seed ^ mix64(state.checks));
        noisy_x = detail::with_kayenta_noise(x, random);
        noisy_y = detail::with_kayenta_noise(y, random);
    }
    const stats::rank_shift_statistic f(noisy_x.empty() ? x : noisy_x,
                                        noisy_y.empty() ? y : noisy_y);
    const double z = detail::normal_upper_quantile((1.0 - config.confidence) / 2.0);
    // High needs lower > tolerance |estimate| >= 0, low needs upper < 0: a
    // bound on the wrong side of 0 settles it without the estimate.
    const double lower = high_possible ? f.root(z) : std::numeric_limits<double>::quiet_NaN();
    const double upper = low_possible ? f.root(-z) : std::numeric_limits<double>::quiet_NaN();
    if (!(lower > 0.0) && !(upper < 0.0)) return r;
    state.lower = lower;
    state.upper = upper;
    state.estimate = f.centre();
    const double margin = config.tolerance * std::fabs(state.estimate);
    if (lower > margin) {
        state.classification = kayenta_classification::high;
    } else if (upper < -margin) {
        state.classification = kayenta_classification::low;
    }
    if (state.classification != kayenta_classification::pass) {
        state.failed = true;
        r.decision = verdict::fail;
    }
    return r;
}

}  // namespace naive
CANARYGATE_NAMESPACE_END
