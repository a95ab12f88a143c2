// SPDX-License-Identifier: MIT
/// \file
/// The optional A/B stage of a rollout: an anytime-valid, TWO-SIDED
/// comparison of one primary metric between two genuinely different models
/// served at a fixed split, while the policy's guardrail gates stay active.
///
/// What. The canary gates ask "is the candidate worse than k × the baseline?"
/// (a one-sided question with a tolerance). An A/B stage asks "which of the
/// two is better on this metric, and by how much?": `ab_test` judges the
/// cumulative snapshots the controller already collects and answers
/// - `candidate_better` / `candidate_worse`: a difference of that sign is
///   shown at level alpha (the test stops: the outcome stays from then on);
/// - `undecided`: not yet;
/// - `no_difference_shown`: the stage's maximum duration ran out undecided.
///   This is NOT "equal": the interval in the result says how large a
///   difference the data still allow.
/// Which sign is "better" comes from the metric (`higher_is_better`).
///
/// Why a separate test. Re-running a fixed-sample two-sided 5 % test at every
/// check declares a difference between identical models in 37 % of 8-hour
/// stages checked every 5 minutes (docs/statistics.md, "Why repeated looks
/// need special tests"). Here the probability of declaring a difference of
/// either sign when there is none is at most alpha over unlimited looks, and
/// the probability of declaring the wrong sign when there is one is at most
/// alpha / 2.
///
/// The metric (`ab_metric`) is read from snapshot counters, per arm:
/// - a rate: a counter of events over the arm's "requests", e.g.
///   "outcome.refusal_classifier", "feedback.thumbs_up" or a user counter;
/// - a mean: a sum counter and its sum-of-squares counter over "requests",
///   e.g. "cost_nano_usd.sum" / "cost_nano_usd.sum_sq", "output_tokens.sum" /
///   "output_tokens.sum_sq", or a user's quality-score sums.
///
/// Construction (both sides, each at alpha / 2). Two one-sided tests run side
/// by side: H0+ "candidate <= baseline" (its e-value `log_e_higher` grows
/// when the candidate's metric is higher) and H0- "candidate >= baseline"
/// (`log_e_lower`). A side is declared when its e-value reaches 2 / alpha. If
/// the arms are equal both nulls hold, and by Ville's inequality each
/// e-process ever reaches 2 / alpha with probability at most alpha / 2: a
/// difference of either sign is declared with probability at most alpha. If
/// they differ, only the null of the wrong sign holds: the wrong sign is
/// declared with probability at most alpha / 2.
///
/// - Rates: the conditional event-label test of the rate gates
///   (stats::rate_ratio_e_process) with k = 1. Given a window's events, each
///   is the candidate's with probability n_c / (n_c + n_b) when the rates are
///   equal (n = the window's requests), less under H0+; the unknown baseline
///   rate cancels. The alternatives are the ratios ab_rate_multipliers
///   (1.05 ... 3), mixed with equal weights; H0- is the same process with the
///   arms swapped. EXACT (non-asymptotic) when each request has at most one
///   event (given the window's total, the candidate's count is then
///   hypergeometric, which Hoeffding's convex-order inequality puts below the
///   binomial the likelihood ratios are built for; at k = 1 "rate ratio <= 1"
///   and "odds ratio <= 1" coincide) or when events are Poisson with rate
///   proportional to requests. Counters that count several events per request
///   with extra dispersion (a user's "tool_calls.sum") are better compared
///   as a mean. Feedback arrives after its request: when the numerator has
///   feedback cohort counters ("<numerator>.by_share.<ppm>", series.hpp),
///   each cohort's events are judged against the split in force when their
///   requests were routed, which is exact under any delay; feedback of no
///   known cohort is judged against the window's requests, which is close to
///   exact while the split stays fixed (as it does in an A/B stage). The
///   interval for the rate ratio inverts both tests over theta in
///   [10^-3, 10^3] (replaying the stored windows), at alpha / 2 per side.
/// - Means: a normal-mixture confidence sequence (Howard et al. 2021) on the
///   difference, built from each window's two means: with a window's counts
///   n_c, n_b and sums S_c, S_b, the statistic
///   d_w = h_w (S_c / n_c - S_b / n_b), h_w = n_c n_b / (n_c + n_b), has mean
///   h_w (mu_c - mu_b) whatever the baseline mean, and variance
///   h_w (n_b sigma_c^2 + n_c sigma_b^2) / (n_c + n_b). Their sum over windows
///   is a martingale (plus the drift) with a known variance process; the
///   one-sided normal mixture over it, with each arm's sample variance
///   plugged in, gives both e-values and the interval for the difference in
///   closed form. The ratio's interval comes from the same construction with
///   d_w(theta) = h_w (S_c / n_c - theta S_b / n_b) (and the arms swapped for
///   the upper end), whose e-value is monotone in theta for non-negative
///   values. ASYMPTOTIC (plug-in variances and a Gaussian approximation, as
///   the mean gate's pass side): `asymptotic` is set in the result and the
///   reason says so; `min_requests` keeps the first few plug-in variances
///   from deciding. Windows without a request in one of the arms add nothing
///   to the comparison.
///
/// Assumptions (both kinds): requests are assigned to the arms independently
/// of their outcomes (a hash router) and are independent given the window;
/// the split is what the policy's sample-ratio check says it is (a mismatch
/// is the guardrails' `invalid`, and the comparison should not be trusted
/// then). The policy's gates are NOT part of this test: they keep their own
/// budget (alpha_fail) and decisions; the stage's false-decision risks add
/// up (a false roll-back and a false A/B declaration: at most
/// alpha_fail + alpha).
///
/// Example:
/// \code
///   canarygate::ab_test_config c{
///       .metric = canarygate::ab_metric::rate("refusals", "outcome.refusal_classifier",
///                                             /*higher_is_better=*/false)};
///   const canarygate::ab_test ab(c);
///   canarygate::ab_test::state st;                   // carried between checks
///   every five minutes:
///       auto report = policy.evaluate(policy_state, totals, 0.5);   // guardrails
///       if (report.decision == canarygate::verdict::fail) roll_back(report.summary);
///       auto r = ab.evaluate(st, totals, clock_ran_out);
///       if (r.outcome != canarygate::ab_outcome::undecided) stop_the_ab_stage(r.reason);
/// \endcode
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/wide_uint.hpp"
#include "canarygate/gates/gate_common.hpp"
#include "canarygate/record/series.hpp"
#include "canarygate/stats/beta_binomial.hpp"
#include "canarygate/stats/invert.hpp"
#include "canarygate/stats/normal_mixture.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// How a primary metric is formed from an arm's counters.
enum class ab_metric_kind : std::uint8_t {
    rate,  ///< events counter / "requests"
    mean,  ///< sum counter / "requests", with its sum of squares for the variance
};

/// "rate", "mean"; "unknown" for a value outside the enum.
[[nodiscard]] constexpr std::string_view name(ab_metric_kind k) noexcept {
    return k == ab_metric_kind::rate   ? std::string_view("rate")
           : k == ab_metric_kind::mean ? std::string_view("mean")
                                       : std::string_view("unknown");
}

/// The primary metric of an A/B test. Validated when constructed (and
/// immutable): use ab_metric::rate or ab_metric::mean.
///
/// Example:
/// \code
///   auto thumbs_up = canarygate::ab_metric::rate("thumbs_up", "feedback.thumbs_up", true);
///   auto cost = canarygate::ab_metric::mean("cost", "cost_nano_usd.sum",
///                                           "cost_nano_usd.sum_sq", false);
/// \endcode
class ab_metric {
public:
    /// Throws std::invalid_argument naming the field and its value: `name`
    /// must be 1 to 64 letters, digits, '_', '-' or '.'; `counter` (and, for a
    /// mean, `sum_squares_counter`) non-empty and not "requests"; a mean's two
    /// counters different; a rate's `sum_squares_counter` empty; `kind` one of
    /// ab_metric_kind's.
    ab_metric(ab_metric_kind kind, std::string name, std::string counter,
              std::string sum_squares_counter, bool higher_is_better)
        : kind_(kind),
          name_(std::move(name)),
          counter_(std::move(counter)),
          sum_squares_(std::move(sum_squares_counter)),
          higher_is_better_(higher_is_better) {
        validate();
    }

    /// A rate: `events_counter` per request (e.g. "outcome.refusal_classifier").
    [[nodiscard]] static ab_metric rate(std::string name, std::string events_counter,
                                        bool higher_is_better) {
        return ab_metric(ab_metric_kind::rate, std::move(name), std::move(events_counter), "",
                         higher_is_better);
    }
    /// A mean per request: `sum_counter` / requests, with `sum_squares_counter`
    /// for its variance (e.g. "cost_nano_usd.sum", "cost_nano_usd.sum_sq").
    [[nodiscard]] static ab_metric mean(std::string name, std::string sum_counter,
                                        std::string sum_squares_counter, bool higher_is_better) {
        return ab_metric(ab_metric_kind::mean, std::move(name), std::move(sum_counter),
                         std::move(sum_squares_counter), higher_is_better);
    }

    [[nodiscard]] ab_metric_kind kind() const noexcept { return kind_; }
    /// Keys the result and its reason ("refusals", "cost").
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    /// A rate's events counter, or a mean's sum counter.
    [[nodiscard]] const std::string& counter() const noexcept { return counter_; }
    /// A mean's sum-of-squares counter ("" for a rate).
    [[nodiscard]] const std::string& sum_squares_counter() const noexcept { return sum_squares_; }
    /// Whether a higher value of the metric is the better one (thumbs-up,
    /// a quality score) or the worse one (refusals, cost).
    [[nodiscard]] bool higher_is_better() const noexcept { return higher_is_better_; }

    friend bool operator==(const ab_metric&, const ab_metric&) = default;

private:
    void validate() const {
        constexpr std::string_view where = "canarygate::ab_metric";
        const bool name_ok = !name_.empty() && name_.size() <= detail::max_gate_name_length &&
                             std::all_of(name_.begin(), name_.end(), [](char c) {
                                 return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                        (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
                             });
        if (!name_ok) {
            detail::throw_bad_field(where, "name", name_,
                                    "must be 1 to 64 letters, digits, '_', '-' or '.'");
        }
        if (kind_ != ab_metric_kind::rate && kind_ != ab_metric_kind::mean) {
            detail::throw_bad_field(where, "kind", static_cast<int>(kind_),
                                    "is not an ab_metric_kind (rate or mean)");
        }
        const std::string who = std::string(where) + " '" + name_ + "'";
        auto check_counter = [&](std::string_view field, const std::string& value) {
            if (value.empty()) detail::throw_bad_field(who, field, value, "must not be empty");
            if (value == series::requests) {
                detail::throw_bad_field(who, field, value,
                                        "is the denominator of every metric; name the counter of "
                                        "the events or values");
            }
        };
        check_counter("counter", counter_);
        if (kind_ == ab_metric_kind::rate) {
            if (!sum_squares_.empty()) {
                detail::throw_bad_field(who, "sum_squares_counter", sum_squares_,
                                        "must be empty for a rate metric");
            }
        } else {
            check_counter("sum_squares_counter", sum_squares_);
            if (sum_squares_ == counter_) {
                detail::throw_bad_field(who, "sum_squares_counter", sum_squares_,
                                        "must differ from the sum counter");
            }
        }
    }

    ab_metric_kind kind_;
    std::string name_;
    std::string counter_;
    std::string sum_squares_;
    bool higher_is_better_;
};

/// Configuration of an A/B test.
///
/// \code
///   canarygate::ab_test_config c{.metric = canarygate::ab_metric::mean(
///                                    "cost", "cost_nano_usd.sum", "cost_nano_usd.sum_sq", false),
///                                .alpha = 0.05};
/// \endcode
struct ab_test_config {
    ab_metric metric;
    /// Probability of declaring a difference of either sign between equal
    /// arms, over the whole stage however often it is checked (alpha / 2 per
    /// side; the wrong sign has probability at most alpha / 2).
    double alpha = 0.05;
    std::string baseline_arm = "baseline";
    std::string candidate_arm = "candidate";
    /// Requests each arm needs before a difference may be declared: an
    /// operational guard that can only make declarations rarer. It matters
    /// for the mean test, whose plug-in variances are unreliable over a few
    /// requests.
    std::uint64_t min_requests = 100;
    /// Compute the anytime-valid interval at every check. The rate interval
    /// replays every stored window (the costliest part of a check); the
    /// outcome never depends on it, so simulations that only need outcomes
    /// switch it off (the rate windows are then not stored either).
    bool compute_interval = true;
    /// Means: the effective number of observations (sum of
    /// n_c n_b / (n_c + n_b) over windows; about a quarter of all requests at
    /// a 50 % split) at which the normal-mixture boundary is tightest.
    /// Tuning only: any positive value keeps the guarantee.
    double mean_n_opt = 10'000;

    /// Throws std::invalid_argument naming the field and its value.
    void validate() const {
        constexpr std::string_view where = "canarygate::ab_test_config";
        if (!(alpha > 0.0 && alpha < 1.0))
            detail::throw_bad_field(where, "alpha", alpha, "must be in (0, 1)");
        if (baseline_arm.empty())
            detail::throw_bad_field(where, "baseline_arm", baseline_arm, "must not be empty");
        if (candidate_arm.empty())
            detail::throw_bad_field(where, "candidate_arm", candidate_arm, "must not be empty");
        if (baseline_arm == candidate_arm) {
            detail::throw_bad_field(where, "candidate_arm", candidate_arm,
                                    "must differ from baseline_arm");
        }
        if (!(mean_n_opt > 0.0) || std::isinf(mean_n_opt))
            detail::throw_bad_field(where, "mean_n_opt", mean_n_opt, "must be positive and finite");
    }
};

/// What an A/B check concludes.
enum class ab_outcome : std::uint8_t {
    candidate_better,     ///< a difference in the candidate's favour is shown (final)
    candidate_worse,      ///< a difference in the baseline's favour is shown (final)
    undecided,            ///< not yet: keep the stage going
    no_difference_shown,  ///< maximum duration reached undecided: NOT "equal" (see the interval)
};

/// "candidate_better", "candidate_worse", "undecided", "no_difference_shown";
/// "unknown" for a value outside the enum.
[[nodiscard]] constexpr std::string_view name(ab_outcome o) noexcept {
    constexpr std::array<std::string_view, 4> names = {"candidate_better", "candidate_worse",
                                                       "undecided", "no_difference_shown"};
    const auto i = static_cast<std::size_t>(o);
    return i < names.size() ? names[i] : std::string_view("unknown");
}

/// The outcome of one A/B check and the evidence behind it. Ratios and
/// differences are candidate / baseline and candidate - baseline.
struct ab_result {
    ab_outcome outcome = ab_outcome::undecided;
    std::string metric;  ///< ab_metric::name()
    ab_metric_kind kind = ab_metric_kind::rate;
    /// Per arm, over all traffic so far: the rate (events per request) or the
    /// mean per request. NaN without requests.
    double candidate_value = std::numeric_limits<double>::quiet_NaN();
    double baseline_value = std::numeric_limits<double>::quiet_NaN();
    /// candidate_value / baseline_value (NaN without data, inf when only the
    /// baseline's value is 0) and candidate_value - baseline_value.
    double ratio = std::numeric_limits<double>::quiet_NaN();
    double difference = std::numeric_limits<double>::quiet_NaN();
    /// Anytime-valid interval for the true ratio at level alpha (alpha / 2
    /// per side): it holds at every check at once. lower may be 0 and upper
    /// +inf. Meaningful only when interval_computed.
    double ratio_lower = 0.0;
    double ratio_upper = std::numeric_limits<double>::infinity();
    /// Means only: the same for the difference (NaN for rates).
    double difference_lower = std::numeric_limits<double>::quiet_NaN();
    double difference_upper = std::numeric_limits<double>::quiet_NaN();
    bool interval_computed = false;
    /// True for the mean test (plug-in variances: asymptotic), false for the
    /// exact rate test.
    bool asymptotic = false;
    /// ln of the e-value against H0+ "candidate <= baseline" (grows when the
    /// candidate's metric is higher) and against H0- "candidate >= baseline".
    double log_e_higher = 0.0;
    double log_e_lower = 0.0;
    /// ln(2 / alpha): a side is declared when its log e-value reaches it.
    double log_threshold = 0.0;
    std::uint64_t candidate_requests = 0;
    std::uint64_t baseline_requests = 0;
    /// Each arm's total of the metric's counter: events (rate) or the sum of
    /// values (mean).
    double candidate_total = 0.0;
    double baseline_total = 0.0;
    /// The check this result belongs to (1 for the first) and the check at
    /// which a difference was declared (0 while none is).
    std::uint64_t check = 0;
    std::uint64_t decided_at_check = 0;
    /// One line for a human.
    std::string reason;
};

/// The alternatives of the rate test: candidate/baseline (or, for the other
/// side, baseline/candidate) rate ratios mixed with equal weights.
inline constexpr std::array<double, 6> ab_rate_multipliers{1.05, 1.1, 1.25, 1.5, 2.0, 3.0};

/// The A/B comparison of one metric. Immutable; the evidence lives in
/// ab_test::state. See the file comment.
class ab_test {
public:
    using rate_process = stats::rate_ratio_e_process<ab_rate_multipliers.size()>;

    /// What a test accumulates over a stage: the counters it read from the
    /// previous cumulative snapshot and the evidence. Copyable plain data; the
    /// caller carries it from check to check (and may persist it).
    struct state {
        /// The counters read at the previous check (cumulative), per arm.
        struct totals {
            std::map<std::string, wide_uint, std::less<>> baseline;
            std::map<std::string, wide_uint, std::less<>> candidate;
            std::int64_t window_end_ns = 0;
        };
        std::optional<totals> previous;
        /// The counters when start() began the evidence: the point
        /// estimates, variances and request counts are taken since then.
        std::optional<totals> origin;

        /// Rates: one window of the event-label test.
        struct rate_window {
            double candidate_exposure;  // requests, or the cohort's routing share
            double baseline_exposure;
            std::uint64_t candidate_events;
            std::uint64_t baseline_events;
        };
        /// H0+: r_c <= r_b, and H0-: r_b <= r_c (arms swapped).
        rate_process higher{1.0, ab_rate_multipliers};
        rate_process lower{1.0, ab_rate_multipliers};
        /// Windows with events (kept for the interval when compute_interval).
        std::vector<rate_window> windows;

        /// Means: sums over windows with requests in both arms, with
        /// h = n_c n_b / N, N = n_c + n_b: sum of n_b S_c / N, of n_c S_b / N,
        /// of h, of h n_b / N and of h n_c / N.
        double mean_candidate = 0.0;
        double mean_baseline = 0.0;
        double mean_h = 0.0;
        double mean_a = 0.0;
        double mean_b = 0.0;

        /// The outcome once a difference is declared, and when.
        std::optional<ab_outcome> decided;
        std::uint64_t decided_at_check = 0;
        std::uint64_t checks = 0;
    };

    /// Validates the configuration (std::invalid_argument names the field).
    explicit ab_test(ab_test_config config) : config_(std::move(config)) {
        config_.validate();
        rho_ = stats::normal_mixture_rho(config_.mean_n_opt, config_.alpha / 2,
                                         stats::sides::one_sided);
    }

    [[nodiscard]] const ab_test_config& config() const noexcept { return config_; }
    [[nodiscard]] const ab_metric& metric() const noexcept { return config_.metric; }
    /// ln(2 / alpha), the threshold of each side.
    [[nodiscard]] double log_threshold() const noexcept { return std::log(2.0 / config_.alpha); }

    /// Judges a cumulative snapshot (e.g. the recorder's totals since the
    /// stage began): the increment since the previous call is added to the
    /// evidence. `at_max_duration`: the stage's clock ran out, so an
    /// undecided test reports no_difference_shown. A missing arm reads as
    /// no traffic.
    ///
    /// Throws std::invalid_argument, leaving `s` as it was, when the snapshot
    /// is not a continuation of the previous one: a counter the test reads
    /// went down (a restarted recorder: start a new state) or the snapshot
    /// ends before the previous one.
    ab_result evaluate(state& s, const snapshot& cumulative, bool at_max_duration = false) const {
        state::totals now;
        now.window_end_ns = cumulative.window_end_ns();
        now.baseline = read_counters(cumulative.find_arm(config_.baseline_arm));
        now.candidate = read_counters(cumulative.find_arm(config_.candidate_arm));
        if (s.previous && now.window_end_ns < s.previous->window_end_ns) {
            detail::throw_invalid_argument(
                "canarygate::ab_test::evaluate: the cumulative snapshot ends at " +
                std::to_string(now.window_end_ns) + " ns, before the previous one (" +
                std::to_string(s.previous->window_end_ns) +
                " ns); pass cumulative snapshots in order");
        }
        const auto base_inc = increment(now.baseline, s.previous ? &s.previous->baseline : nullptr,
                                        config_.baseline_arm);
        const auto cand_inc = increment(
            now.candidate, s.previous ? &s.previous->candidate : nullptr, config_.candidate_arm);

        // Everything below works on a copy and is committed at the end, so an
        // error leaves `s` unchanged.
        state next = s;
        ++next.checks;
        if (config_.metric.kind() == ab_metric_kind::rate) {
            add_rate_increment(next, base_inc, cand_inc);
        } else {
            add_mean_increment(next, base_inc, cand_inc);
        }
        next.previous = std::move(now);

        ab_result r = judge(next, at_max_duration);
        s = std::move(next);
        return r;
    }

    /// Starts the evidence at a cumulative snapshot without judging it: the
    /// next evaluate() sees only the traffic after it. For a stage that
    /// begins after traffic at other splits (the controller calls it when an
    /// A/B stage starts).
    void start(state& s, const snapshot& cumulative) const {
        state::totals now;
        now.window_end_ns = cumulative.window_end_ns();
        now.baseline = read_counters(cumulative.find_arm(config_.baseline_arm));
        now.candidate = read_counters(cumulative.find_arm(config_.candidate_arm));
        s.origin = now;
        s.previous = std::move(now);
    }

private:
    using counter_map = std::map<std::string, wide_uint, std::less<>>;

    [[nodiscard]] std::string cohort_prefix() const {
        return config_.metric.counter() + ".by_share.";
    }

    /// The counters this test reads from one arm (absent arm: none).
    [[nodiscard]] counter_map read_counters(const arm_snapshot* arm) const {
        counter_map out;
        if (arm == nullptr) return out;
        const auto& all = arm->counters();
        auto take = [&](std::string_view key) {
            if (const auto it = all.find(key); it != all.end()) out.emplace(it->first, it->second);
        };
        take(series::requests);
        take(config_.metric.counter());
        if (config_.metric.kind() == ab_metric_kind::mean) {
            take(config_.metric.sum_squares_counter());
        } else {
            const std::string prefix = cohort_prefix();
            for (auto it = all.lower_bound(prefix);
                 it != all.end() && it->first.starts_with(prefix); ++it) {
                out.emplace(it->first, it->second);
            }
        }
        return out;
    }

    /// now - previous, counter by counter; throws when one went down.
    [[nodiscard]] static counter_map increment(const counter_map& now, const counter_map* previous,
                                               const std::string& arm) {
        counter_map out = now;
        if (previous == nullptr) return out;
        for (const auto& [key, before] : *previous) {
            const auto it = out.find(key);
            const wide_uint have = it == out.end() ? wide_uint{} : it->second;
            if (have < before) {
                detail::throw_invalid_argument(
                    "canarygate::ab_test::evaluate: counter '" + key + "' of arm '" + arm +
                    "' went down (" + before.to_string() + " -> " + have.to_string() +
                    "): the cumulative snapshot is not a continuation of the previous one "
                    "(recorder restarted?); start a new state");
            }
            if (it != out.end()) it->second -= before;
        }
        return out;
    }

    [[nodiscard]] static wide_uint get(const counter_map& m, std::string_view key) {
        const auto it = m.find(key);
        return it == m.end() ? wide_uint{} : it->second;
    }
    [[nodiscard]] static double get_double(const counter_map& m, std::string_view key) {
        return get(m, key).to_double();
    }
    /// The counter as a count (saturating at 2^64 - 1: no real count gets there).
    [[nodiscard]] static std::uint64_t get_count(const counter_map& m, std::string_view key) {
        const wide_uint w = get(m, key);
        return w.fits_u64() ? w.low : std::numeric_limits<std::uint64_t>::max();
    }

    // ---- rates -------------------------------------------------------------

    void add_rate_increment(state& s, const counter_map& base, const counter_map& cand) const {
        const double n_c = get_double(cand, series::requests);
        const double n_b = get_double(base, series::requests);
        std::uint64_t rem_c = get_count(cand, config_.metric.counter());
        std::uint64_t rem_b = get_count(base, config_.metric.counter());
        std::vector<state::rate_window> added;
        // Feedback cohorts: events about requests routed while the candidate
        // had `share`, judged against (share, 1 - share).
        struct cohort {
            std::uint32_t ppm;
            std::uint64_t candidate = 0;
            std::uint64_t baseline = 0;
        };
        std::vector<cohort> cohorts;
        const std::string prefix = cohort_prefix();
        auto collect = [&](const counter_map& arm, bool is_candidate, std::uint64_t& remainder) {
            for (auto it = arm.lower_bound(prefix);
                 it != arm.end() && it->first.starts_with(prefix); ++it) {
                const auto ppm =
                    feedback_cohort::parse(std::string_view(it->first).substr(prefix.size()));
                if (!ppm) continue;  // not a cohort counter: its events stay in the remainder
                const std::uint64_t events = it->second.fits_u64()
                                                 ? it->second.low
                                                 : std::numeric_limits<std::uint64_t>::max();
                auto c = std::find_if(cohorts.begin(), cohorts.end(),
                                      [&](const cohort& x) { return x.ppm == *ppm; });
                if (c == cohorts.end()) c = cohorts.insert(cohorts.end(), cohort{*ppm});
                (is_candidate ? c->candidate : c->baseline) += events;
                // Totals below their cohorts (a corrupt snapshot) leave no remainder.
                remainder -= std::min(remainder, events);
            }
        };
        collect(cand, true, rem_c);
        collect(base, false, rem_b);
        for (const cohort& c : cohorts) {
            // Shares of 0 or 1 say nothing about the ratio.
            if (c.ppm == 0 || c.ppm >= feedback_cohort::one_million) continue;
            const double share =
                static_cast<double>(c.ppm) / static_cast<double>(feedback_cohort::one_million);
            added.push_back({share, 1.0 - share, c.candidate, c.baseline});
        }
        added.push_back({n_c, n_b, rem_c, rem_b});
        for (const auto& w : added) {
            if (!(w.candidate_exposure > 0 && w.baseline_exposure > 0)) continue;
            if (w.candidate_events + w.baseline_events == 0) continue;
            const std::uint64_t total = w.candidate_events + w.baseline_events;
            s.higher.update(w.candidate_events, total, w.candidate_exposure, w.baseline_exposure);
            s.lower.update(w.baseline_events, total, w.baseline_exposure, w.candidate_exposure);
            if (config_.compute_interval) s.windows.push_back(w);
        }
    }

    /// ln E over the stored windows of H0: r_c <= theta r_b (swap = false)
    /// or H0: r_b <= theta r_c (swap = true).
    [[nodiscard]] static double rate_log_e(const std::vector<state::rate_window>& windows,
                                           double theta, bool swap) {
        rate_process p(theta, ab_rate_multipliers);
        for (const auto& w : windows) {
            const std::uint64_t total = w.candidate_events + w.baseline_events;
            if (swap) {
                p.update(w.baseline_events, total, w.baseline_exposure, w.candidate_exposure);
            } else {
                p.update(w.candidate_events, total, w.candidate_exposure, w.baseline_exposure);
            }
        }
        return p.log_e_value();
    }

    // ---- means -------------------------------------------------------------

    static void add_mean_increment_sums(state& s, double n_c, double sum_c, double n_b,
                                        double sum_b) {
        if (!(n_c > 0 && n_b > 0)) return;
        const double n = n_c + n_b;
        const double h = n_c * n_b / n;
        s.mean_candidate += n_b * sum_c / n;  // h * mean_c
        s.mean_baseline += n_c * sum_b / n;   // h * mean_b
        s.mean_h += h;
        s.mean_a += h * n_b / n;  // h^2 / n_c: the candidate's variance weight
        s.mean_b += h * n_c / n;  // h^2 / n_b: the baseline's
    }

    void add_mean_increment(state& s, const counter_map& base, const counter_map& cand) const {
        add_mean_increment_sums(
            s, get_double(cand, series::requests), get_double(cand, config_.metric.counter()),
            get_double(base, series::requests), get_double(base, config_.metric.counter()));
    }

    /// Sample variance from (n, sum, sum of squares); 0 below two values.
    [[nodiscard]] static double sample_variance(double n, double sum, double sum_sq) noexcept {
        if (n < 2) return 0.0;
        return std::max(0.0, (sum_sq - sum * (sum / n)) / (n - 1));
    }

    /// Standardised statistic of H0: mu_x <= theta mu_y from the window sums
    /// t_x = sum h mean_x, t_y = sum h mean_y and the variance weights:
    /// (t_x - theta t_y) sqrt(H / (var_x w_x + theta^2 var_y w_y)).
    [[nodiscard]] static double mean_z(double t_x, double t_y, double var_x, double w_x,
                                       double var_y, double w_y, double h, double theta) noexcept {
        const double v = var_x * w_x + theta * theta * var_y * w_y;
        return (t_x - theta * t_y) * std::sqrt(h / v);
    }

    // ---- judging -----------------------------------------------------------

    [[nodiscard]] ab_result judge(state& s, bool at_max_duration) const {
        const ab_metric& m = config_.metric;
        // The counters since the evidence began (start(), or the first
        // check): what the estimates and minimum requests are about.
        state::totals t = *s.previous;
        if (s.origin) {
            t.baseline = increment(t.baseline, &s.origin->baseline, config_.baseline_arm);
            t.candidate = increment(t.candidate, &s.origin->candidate, config_.candidate_arm);
        }
        ab_result r;
        r.metric = m.name();
        r.kind = m.kind();
        r.check = s.checks;
        r.log_threshold = log_threshold();
        r.asymptotic = m.kind() == ab_metric_kind::mean;
        r.candidate_requests = get_count(t.candidate, series::requests);
        r.baseline_requests = get_count(t.baseline, series::requests);
        r.candidate_total = get_double(t.candidate, m.counter());
        r.baseline_total = get_double(t.baseline, m.counter());
        const double n_c = get_double(t.candidate, series::requests);
        const double n_b = get_double(t.baseline, series::requests);
        if (n_c > 0) r.candidate_value = r.candidate_total / n_c;
        if (n_b > 0) r.baseline_value = r.baseline_total / n_b;
        if (n_c > 0 && n_b > 0) {
            r.difference = r.candidate_value - r.baseline_value;
            if (r.baseline_value > 0) {
                r.ratio = r.candidate_value / r.baseline_value;
            } else if (r.candidate_value > 0) {
                r.ratio = std::numeric_limits<double>::infinity();
            }
        }

        if (m.kind() == ab_metric_kind::rate) {
            judge_rate(s, r);
        } else {
            judge_mean(s, t, r, n_c, n_b);
        }

        if (!s.decided) {
            const bool enough = r.candidate_requests >= config_.min_requests &&
                                r.baseline_requests >= config_.min_requests;
            const bool higher = r.log_e_higher >= r.log_threshold;
            const bool lower = r.log_e_lower >= r.log_threshold;
            if (enough && (higher || lower)) {
                // Both at once is possible only when the two tests disagree
                // by chance: the stronger evidence speaks.
                const bool is_higher = higher && (!lower || r.log_e_higher >= r.log_e_lower);
                s.decided = is_higher == m.higher_is_better() ? ab_outcome::candidate_better
                                                              : ab_outcome::candidate_worse;
                s.decided_at_check = s.checks;
            }
        }
        if (s.decided) {
            r.outcome = *s.decided;
            r.decided_at_check = s.decided_at_check;
        } else {
            r.outcome = at_max_duration ? ab_outcome::no_difference_shown : ab_outcome::undecided;
        }
        r.reason = reason_line(r);
        return r;
    }

    void judge_rate(const state& s, ab_result& r) const {
        r.log_e_higher = s.higher.log_e_value();
        r.log_e_lower = s.lower.log_e_value();
        if (!config_.compute_interval) return;
        constexpr double lo = 1e-3;
        constexpr double hi = 1e3;
        const double threshold = r.log_threshold;
        // Lower end: H0(theta): r_c <= theta r_b, non-increasing in theta.
        const auto low_end = stats::lower_confidence_bound(
            [&](double theta) { return rate_log_e(s.windows, theta, false); }, threshold, lo, hi);
        // Upper end: H0(theta): r_c >= theta r_b, i.e. r_b <= r_c / theta:
        // the swapped process at 1 / theta, non-decreasing in theta.
        const auto high_end = stats::upper_confidence_bound(
            [&](double theta) { return rate_log_e(s.windows, 1.0 / theta, true); }, threshold, lo,
            hi);
        r.ratio_lower =
            low_end.status == stats::inversion_status::at_lower_limit ? 0.0 : low_end.bound;
        r.ratio_upper = high_end.status == stats::inversion_status::at_upper_limit
                            ? std::numeric_limits<double>::infinity()
                            : high_end.bound;
        r.interval_computed = true;
    }

    void judge_mean(const state& s, const state::totals& t, ab_result& r, double n_c,
                    double n_b) const {
        const ab_metric& m = config_.metric;
        const double var_c = sample_variance(n_c, r.candidate_total,
                                             get_double(t.candidate, m.sum_squares_counter()));
        const double var_b =
            sample_variance(n_b, r.baseline_total, get_double(t.baseline, m.sum_squares_counter()));
        const double h = s.mean_h;
        const double v = var_c * s.mean_a + var_b * s.mean_b;
        if (!(h > 0 && v > 0) || !std::isfinite(v)) return;  // no evidence yet
        const double z =
            mean_z(s.mean_candidate, s.mean_baseline, var_c, s.mean_a, var_b, s.mean_b, h, 1.0);
        r.log_e_higher = stats::one_sided_normal_mixture_log_e(z, h, rho_);
        r.log_e_lower = stats::one_sided_normal_mixture_log_e(-z, h, rho_);
        if (!config_.compute_interval) return;
        const double threshold = r.log_threshold;
        // Difference: reject mu_c - mu_b <= delta when
        // (T - delta H) sqrt(H / v) >= u(H), so the interval is T/H -+ u sqrt(v/H) / H.
        const double u = stats::one_sided_normal_mixture_boundary(h, rho_, config_.alpha / 2);
        const double centre = (s.mean_candidate - s.mean_baseline) / h;
        const double half = u * std::sqrt(v / h) / h;
        r.difference_lower = centre - half;
        r.difference_upper = centre + half;
        // Ratio, lower end: H0(theta): mu_c <= theta mu_b. Upper end: the arms
        // swapped, H0(phi): mu_b <= phi mu_c, whose lower bound phi_L gives
        // theta <= 1 / phi_L. Both e-values are non-increasing in their
        // parameter for non-negative values (the statistic falls and its
        // variance grows).
        constexpr double lo = 1e-3;
        constexpr double hi = 1e3;
        auto e_ratio = [&](double t_x, double t_y, double var_x, double w_x, double var_y,
                           double w_y) {
            return [=, this](double theta) {
                const double vt = var_x * w_x + theta * theta * var_y * w_y;
                if (!(vt > 0)) return 0.0;
                return stats::one_sided_normal_mixture_log_e(
                    mean_z(t_x, t_y, var_x, w_x, var_y, w_y, h, theta), h, rho_);
            };
        };
        const auto low_end = stats::lower_confidence_bound(
            e_ratio(s.mean_candidate, s.mean_baseline, var_c, s.mean_a, var_b, s.mean_b), threshold,
            lo, hi);
        const auto phi = stats::lower_confidence_bound(
            e_ratio(s.mean_baseline, s.mean_candidate, var_b, s.mean_b, var_c, s.mean_a), threshold,
            lo, hi);
        r.ratio_lower =
            low_end.status == stats::inversion_status::at_lower_limit ? 0.0 : low_end.bound;
        r.ratio_upper = phi.status == stats::inversion_status::at_lower_limit
                            ? std::numeric_limits<double>::infinity()
                            : 1.0 / phi.bound;
        r.interval_computed = true;
    }

    [[nodiscard]] std::string reason_line(const ab_result& r) const {
        using detail::format_ratio;
        const ab_metric& m = config_.metric;
        std::string head = m.name() + " (" + std::string(name(m.kind())) + ", " +
                           (m.higher_is_better() ? "higher" : "lower") + " is better): ";
        const std::string values = "candidate " + format_ratio(r.candidate_value) +
                                   " vs baseline " + format_ratio(r.baseline_value);
        std::string interval;
        if (r.interval_computed) {
            interval =
                ", ratio CI " + format_ratio(r.ratio_lower) + "-" + format_ratio(r.ratio_upper);
            if (r.kind == ab_metric_kind::mean) {
                interval += ", difference CI " + format_ratio(r.difference_lower) + " to " +
                            format_ratio(r.difference_upper);
            }
            interval += r.asymptotic ? " (asymptotic)" : "";
        } else {
            interval = r.asymptotic ? " (interval not computed; asymptotic test)"
                                    : " (interval not computed)";
        }
        const std::string estimate =
            "ratio " + format_ratio(r.ratio) + interval + " [" + values + "]";
        const std::string evidence =
            "e-values " + format_ratio(std::exp(std::min(r.log_e_higher, 700.0))) +
            " (candidate higher) / " + format_ratio(std::exp(std::min(r.log_e_lower, 700.0))) +
            " (candidate lower), threshold " + format_ratio(std::exp(r.log_threshold)) +
            " = 2/alpha, alpha " + format_ratio(config_.alpha);
        const std::string counts = std::to_string(r.candidate_requests) + " candidate / " +
                                   std::to_string(r.baseline_requests) + " baseline requests";
        std::string what;
        switch (r.outcome) {
            case ab_outcome::candidate_better:
            case ab_outcome::candidate_worse:
                what = std::string(r.outcome == ab_outcome::candidate_better ? "candidate better"
                                                                             : "candidate worse") +
                       " (declared at check " + std::to_string(r.decided_at_check) + ")";
                break;
            case ab_outcome::no_difference_shown:
                what = "no difference shown at the maximum duration (not 'equal': see the CI)";
                break;
            default:
                what = "undecided";
                break;
        }
        return head + what + ": " + estimate + "; " + evidence + "; after " + counts;
    }

    ab_test_config config_;
    double rho_ = 1.0;
};

CANARYGATE_NAMESPACE_END
