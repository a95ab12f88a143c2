// SPDX-License-Identifier: MIT
/// \file
/// `rate_gate`: "the candidate's rate of errors, refusals or negative
/// feedback per request is at most k × the baseline's".
///
/// Given the events of a window, each is the candidate's with probability at
/// most k n_c / (k n_c + n_b) under the null (n = requests, or exposure, per
/// arm): the unknown baseline rate and any time variation both arms share
/// cancel exactly. The e-process is a grid mixture of likelihood ratios over
/// the windows at k × {1.25, 1.5, 2, 3, 5}, valid across traffic ramps
/// because every window carries its own split. Exact and nonparametric on
/// both sides; the pass side tests the reverse null with the arms swapped.
///
/// Example:
/// \code
///   canarygate::rate_gate_config c;
///   c.metric = canarygate::signal::refusal_rate;
///   c.multiplier = 2.0;
///   c.min_events = 4;
///   const canarygate::rate_gate refusals(c);
///   canarygate::rate_gate::state st;
///   auto r = refusals.evaluate(st, baseline_increment, candidate_increment, 0.05 / 9, 0.05);
/// \endcode
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/gates/detail/batch.hpp"
#include "canarygate/gates/gate_common.hpp"
#include "canarygate/gates/signal.hpp"
#include "canarygate/gates/verdict.hpp"
#include "canarygate/record/outcome.hpp"
#include "canarygate/record/series.hpp"
#include "canarygate/stats/beta_binomial.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/stats/invert.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Configuration of a rate gate.
struct rate_gate_config : gate_common {
    /// error_rate, refusal_rate or feedback_rate.
    signal metric = signal::error_rate;
    /// The null is exactly "candidate rate <= multiplier × baseline rate"
    /// (>= for direction::decrease, e.g. a thumbs-up rate with 0.8).
    double multiplier = 2.0;
    direction worse = direction::increase;
    /// Feedback gates: which feedback counts.
    feedback_kind feedback = feedback_kind::thumbs_down;
    /// Batch mode (> 0): every batch window [j w, (j + 1) w) of the clock is
    /// ONE observation (its mean), which keeps the fail side valid under any
    /// dependence between the requests of a window; for signals that A/A
    /// calibration shows over-dispersed. Slower; evidence lags one batch.
    std::int64_t batch_window_ns = 0;
    /// Feedback gates: the delay from a request to its feedback, log-normal
    /// with this median (seconds) and log standard deviation. 0 (default):
    /// a window's feedback events are judged against the requests of that
    /// same window, which is exact while the split stays constant,
    /// conservative while the candidate's share grows and ANTI-conservative
    /// while it shrinks. > 0: each window's events are judged against the
    /// exposure expected to produce them (earlier requests × the chance that
    /// their feedback lands in this window), valid on any ramp if both arms
    /// share this delay distribution.
    double feedback_delay_median_s = 0;
    double feedback_delay_sigma = 1.0;
};

/// A gate on a rate per request. Immutable; see the file comment.
class rate_gate {
public:
    using config_type = rate_gate_config;

    /// What the gate accumulates over a rollout: every window's aggregates
    /// (replayed to invert the test for the interval) and the two running
    /// e-processes at the gate's k. Plain copyable data.
    struct state {
        struct window {
            double candidate_exposure;  // requests, or delay-weighted requests
            double baseline_exposure;
            double candidate_events;
            double baseline_events;
        };
        std::vector<window> windows;
        std::optional<stats::rate_ratio_e_process<5>> fail_process;  // H0: r_c <= k r_b
        std::optional<stats::rate_ratio_e_process<5>>
            pass_process;  // H0: r_c >= k r_b (arms swapped)
        // Delay-weighted feedback: each increment's requests at the midpoint
        // of its time span, spread over later windows by the delay.
        struct served_requests {
            double midpoint_ns;
            double candidate;
            double baseline;
        };
        std::vector<served_requests> served;
        std::optional<std::int64_t> previous_end_ns;
        detail::mean_sums sums;  // requests (and, in batch mode, events)
        detail::batch_state batch;
        std::uint64_t checks = 0;
        /// Feedback cohorts have been judged (windows then mix exposure units:
        /// the estimate is the conditional MLE).
        bool cohorts_seen = false;
    };

    /// The name a gate gets when its configuration leaves `name` empty: the
    /// signal's name ("error_rate"), for feedback gates on another kind than
    /// thumbs-down with the kind appended ("feedback_rate_thumbs_up").
    [[nodiscard]] static std::string default_name(const rate_gate_config& c) {
        std::string n(canarygate::name(c.metric));
        if (c.metric == signal::feedback_rate && c.feedback != feedback_kind::thumbs_down)
            n += "_" + std::string(canarygate::name(c.feedback));
        return n;
    }

    /// Validates; throws std::invalid_argument naming the field and value.
    explicit rate_gate(rate_gate_config config) : config_(std::move(config)) {
        if (config_.name.empty()) config_.name = default_name(config_);
        const std::string where = "canarygate::rate_gate '" + config_.name + "'";
        if (!is_rate_signal(config_.metric)) {
            detail::throw_invalid_argument(
                where + ": metric = " + detail::describe_signal(config_.metric) +
                " is not a rate signal (error_rate, refusal_rate, feedback_rate)");
        }
        detail::validate_multiplier(config_.multiplier, config_.worse, where);
        detail::validate_common(config_, where);
        detail::validate_batch_window(config_.batch_window_ns, where);
        if (static_cast<std::size_t>(config_.feedback) >= feedback_kind_count) {
            detail::throw_bad_field(where, "feedback", static_cast<int>(config_.feedback),
                                    "is not a feedback kind");
        }
        const double median = config_.feedback_delay_median_s;
        if (!(median >= 0.0) || std::isinf(median)) {
            detail::throw_bad_field(where, "feedback_delay_median_s", median,
                                    "must be >= 0 and finite");
        }
        if (median > 0.0) {
            if (config_.metric != signal::feedback_rate) {
                detail::throw_bad_field(where, "feedback_delay_median_s", median,
                                        "applies to feedback_rate gates only");
            }
            if (!(config_.feedback_delay_sigma > 0.0) || std::isinf(config_.feedback_delay_sigma)) {
                detail::throw_bad_field(where, "feedback_delay_sigma", config_.feedback_delay_sigma,
                                        "must be positive and finite");
            }
            if (config_.batch_window_ns > 0) {
                detail::throw_bad_field(where, "feedback_delay_median_s", median,
                                        "cannot be combined with batch mode");
            }
        }
    }

    [[nodiscard]] const rate_gate_config& config() const noexcept { return config_; }
    [[nodiscard]] const std::string& name() const noexcept { return config_.name; }
    [[nodiscard]] signal metric() const noexcept { return config_.metric; }
    /// The limit as tested: k, or 1/k (baseline/candidate) for a decrease.
    [[nodiscard]] double tested_limit() const noexcept {
        return config_.worse == direction::decrease ? 1.0 / config_.multiplier : config_.multiplier;
    }

    /// Throws std::invalid_argument (nothing changes) when evaluate() cannot
    /// take an increment ending at `increment_end_ns`: batch mode and the
    /// delay model need that time, and it must not go back.
    void check_increment(const state& s, const arm_snapshot& /*baseline_increment*/,
                         const arm_snapshot& /*candidate_increment*/,
                         std::optional<std::int64_t> increment_end_ns) const {
        if (delay_weighted()) {
            if (!increment_end_ns) {
                detail::throw_invalid_argument(
                    "canarygate::gate '" + name() +
                    "': feedback_delay_median_s needs the increment's end time "
                    "(increment_end_ns; a policy passes the snapshot's window_end_ns)");
            }
            if (s.previous_end_ns && *increment_end_ns < *s.previous_end_ns) {
                detail::throw_invalid_argument(
                    "canarygate::gate '" + name() +
                    "': the increment's end time (increment_end_ns; a policy passes the "
                    "snapshot's window_end_ns) = " +
                    std::to_string(*increment_end_ns) + " is before the previous increment's end " +
                    std::to_string(*s.previous_end_ns));
            }
        }
        detail::check_batch(name(), config_.batch_window_ns, s.batch, increment_end_ns);
    }

    /// Feeds one increment (the traffic since the previous check) into `s`
    /// and decides. `alpha_fail`: this gate's share of the false-fail budget;
    /// `alpha_pass`: the level of the pass decision and of the interval;
    /// `increment_end_ns`: the increment's end on the controller's clock
    /// (needed by batch mode and the delay model). Throws as check_increment
    /// does, before anything changes.
    gate_result evaluate(state& s, const arm_snapshot& baseline_increment,
                         const arm_snapshot& candidate_increment, double alpha_fail,
                         double alpha_pass, const gate_tuning& tuning = {},
                         std::optional<std::int64_t> increment_end_ns = std::nullopt) const {
        check_increment(s, baseline_increment, candidate_increment, increment_end_ns);
        // A "decrease" gate tests the swapped comparison: baseline <= (1/k) candidate.
        const bool swap = config_.worse == direction::decrease;
        const arm_snapshot& base = swap ? candidate_increment : baseline_increment;
        const arm_snapshot& cand = swap ? baseline_increment : candidate_increment;
        const double k = tested_limit();

        gate_result result = detail::start_result(config_, config_.metric, alpha_fail);
        ++s.checks;
        const double cand_requests = detail::to_double(cand.counter(series::requests));
        const double base_requests = detail::to_double(base.counter(series::requests));
        const double ce = detail::rate_events(config_.metric, config_.feedback, cand);
        const double be = detail::rate_events(config_.metric, config_.feedback, base);
        if (config_.batch_window_ns > 0) {
            const std::int64_t index =
                detail::floor_div(*increment_end_ns, config_.batch_window_ns);
            // Events of one request are 0 or 1, so the sum of squares is the
            // number of events (several negative feedbacks on one request
            // make that an undercount, which only matters for the asymptotic
            // baseline bound).
            detail::evaluate_mean_batch(s.batch, s.sums, {ce, ce}, {be, be}, cand_requests,
                                        base_requests, k, false, alpha_fail, alpha_pass, tuning,
                                        index, config_.min_events, result);
        } else {
            evaluate_per_request(s, ce, be, cand_requests, base_requests, k, alpha_fail, alpha_pass,
                                 tuning, increment_end_ns, read_cohorts(cand, base, ce, be),
                                 result);
        }
        result.reason = detail::reason_line(
            result, {" ratio ", detail::ratio_target(k, swap), config_.batch_window_ns > 0});
        return result;
    }

private:
    [[nodiscard]] bool delay_weighted() const noexcept {
        return config_.feedback_delay_median_s > 0;
    }

    /// One feedback cohort of an increment: events about requests routed
    /// while the (true) candidate had `share`; nullopt for the events of no
    /// known cohort (the kind's total minus its cohorts).
    struct cohort {
        std::optional<double> share;
        double candidate_events = 0;
        double baseline_events = 0;
    };
    struct cohorts {
        bool present = false;  // the increment carries cohort counters
        std::vector<cohort> list;
    };

    /// The feedback cohorts of this gate's kind in both arms. `cand` and
    /// `base` are the arms as tested (swapped for a decrease gate); `ce` and
    /// `be` their totals of the kind. A counter name that does not parse is
    /// ignored: its events stay in the remainder, judged like uncohorted ones.
    [[nodiscard]] cohorts read_cohorts(const arm_snapshot& cand, const arm_snapshot& base,
                                       double ce, double be) const {
        cohorts out;
        if (config_.metric != signal::feedback_rate) return out;
        const std::string prefix = feedback_cohort::prefix(config_.feedback);
        double remainder[2] = {ce, be};
        auto add = [&](const arm_snapshot& arm, int side) {
            for (auto it = arm.counters().lower_bound(prefix);
                 it != arm.counters().end() && it->first.starts_with(prefix); ++it) {
                const auto ppm =
                    feedback_cohort::parse(std::string_view(it->first).substr(prefix.size()));
                if (!ppm) continue;
                out.present = true;
                const double share = static_cast<double>(*ppm) / feedback_cohort::one_million;
                auto c = std::find_if(out.list.begin(), out.list.end(),
                                      [&](const cohort& x) { return x.share == share; });
                if (c == out.list.end()) c = out.list.insert(out.list.end(), cohort{share});
                const double events = detail::to_double(it->second);
                (side == 0 ? c->candidate_events : c->baseline_events) += events;
                remainder[side] -= events;
            }
        };
        add(cand, 0);
        add(base, 1);
        // Totals below their cohorts (counters from different sources, or a
        // corrupt snapshot) leave no remainder rather than a negative one.
        out.list.push_back(
            cohort{std::nullopt, std::max(0.0, remainder[0]), std::max(0.0, remainder[1])});
        return out;
    }

    void evaluate_per_request(state& s, double ce, double be, double cand_requests,
                              double base_requests, double k, double alpha_fail, double alpha_pass,
                              const gate_tuning& tuning,
                              std::optional<std::int64_t> increment_end_ns, const cohorts& by_share,
                              gate_result& result) const {
        gate_evidence& ev = result.evidence;
        const double log_fail = std::log(1.0 / alpha_fail);
        const double log_pass = std::log(1.0 / alpha_pass);
        double cand_exposure = cand_requests;
        double base_exposure = base_requests;
        if (delay_weighted()) {
            const auto exposure =
                delayed_exposure(s, *increment_end_ns, cand_requests, base_requests);
            cand_exposure = exposure.first;
            base_exposure = exposure.second;
        }
        // The windows this increment adds: one (events against the requests,
        // or the delay-weighted exposure), or with feedback cohorts one per
        // known share -- exposures (share, 1 - share): the split when those
        // requests were routed -- plus the unknown cohort judged as before.
        // Cohorts replace the kind's total, which is then not read.
        std::vector<state::window> added;
        if (!by_share.present) {
            added.push_back({cand_exposure, base_exposure, ce, be});
        } else {
            s.cohorts_seen = true;
            for (const cohort& c : by_share.list) {
                if (!c.share) {
                    added.push_back(
                        {cand_exposure, base_exposure, c.candidate_events, c.baseline_events});
                } else if (*c.share > 0.0 && *c.share < 1.0) {
                    // A decrease gate swapped the arms: the "candidate" then
                    // had 1 - share. Shares of 0 or 1 say nothing about the ratio.
                    const double mine =
                        config_.worse == direction::decrease ? 1.0 - *c.share : *c.share;
                    added.push_back({mine, 1.0 - mine, c.candidate_events, c.baseline_events});
                }
            }
        }
        s.windows.insert(s.windows.end(), added.begin(), added.end());
        s.sums.candidate_n += cand_requests;
        s.sums.baseline_n += base_requests;
        double n_c = 0, n_b = 0, e_c = 0, e_b = 0;
        for (const auto& w : s.windows) {
            n_c += w.candidate_exposure;
            n_b += w.baseline_exposure;
            e_c += w.candidate_events;
            e_b += w.baseline_events;
        }
        ev.candidate_samples = static_cast<std::uint64_t>(s.sums.candidate_n);
        ev.baseline_samples = static_cast<std::uint64_t>(s.sums.baseline_n);
        ev.candidate_events = static_cast<std::uint64_t>(e_c);
        ev.baseline_events = static_cast<std::uint64_t>(e_b);
        if (!s.fail_process) {
            s.fail_process.emplace(k);
            s.pass_process.emplace(1.0 / k);
        }
        for (const auto& w : added) {
            if (w.candidate_exposure > 0 && w.baseline_exposure > 0 &&
                w.candidate_events + w.baseline_events > 0) {
                const auto c_events = static_cast<std::uint64_t>(w.candidate_events);
                const auto b_events = static_cast<std::uint64_t>(w.baseline_events);
                s.fail_process->update(c_events, c_events + b_events, w.candidate_exposure,
                                       w.baseline_exposure);
                s.pass_process->update(b_events, c_events + b_events, w.baseline_exposure,
                                       w.candidate_exposure);
            }
        }
        ev.log_e_value = s.fail_process->log_e_value();
        if (s.cohorts_seen) {
            ev.estimate = conditional_mle(s.windows);
        } else {
            if (n_c > 0 && n_b > 0 && e_b > 0) ev.estimate = (e_c / n_c) / (e_b / n_b);
            if (n_c > 0 && n_b > 0 && e_c > 0 && e_b == 0)
                ev.estimate = std::numeric_limits<double>::infinity();
        }
        if (tuning.intervals) {
            // Invert both one-sided tests over theta in [1e-3, 1e3]: replays
            // the stored windows, O(windows) per evaluation.
            auto high = [&](double theta) { return log_e_over_windows(s.windows, theta, false); };
            auto low = [&](double theta) {
                return log_e_over_windows(s.windows, 1.0 / theta, true);
            };
            const auto lo = stats::lower_confidence_bound(high, log_pass, 1e-3, 1e3);
            const auto hi = stats::upper_confidence_bound(low, log_pass, 1e-3, 1e3);
            ev.interval_computed = true;
            ev.lower = lo.status == stats::inversion_status::at_lower_limit ? 0.0 : lo.bound;
            ev.upper = hi.status == stats::inversion_status::at_upper_limit
                           ? std::numeric_limits<double>::infinity()
                           : hi.bound;
        }
        // The fixed-sample reference pools the windows: only meaningful while
        // they share one exposure unit (not once feedback cohorts of several
        // shares, or cohorts and requests, are mixed).
        if (tuning.intervals && n_c > 0 && n_b > 0 && e_c + e_b > 0 &&
            (!s.cohorts_seen || one_split(s.windows))) {
            // Candidate share of the events p = theta n_c / (theta n_c + n_b),
            // so theta = p / (1 - p) x n_b / n_c.
            const auto cp = stats::clopper_pearson_interval(
                static_cast<std::uint64_t>(e_c), static_cast<std::uint64_t>(e_c + e_b), alpha_pass);
            const double scale = n_b / n_c;
            ev.fixed_lower = cp.lower / (1.0 - cp.lower) * scale;
            ev.fixed_upper = cp.upper < 1.0 ? cp.upper / (1.0 - cp.upper) * scale
                                            : std::numeric_limits<double>::infinity();
            ev.fixed_method = "clopper-pearson";
        }
        const bool pass = s.pass_process->log_e_value() >= log_pass;
        if (ev.log_e_value >= log_fail && e_c >= static_cast<double>(config_.min_events)) {
            result.decision = verdict::fail;
        } else if (pass) {
            result.decision = verdict::pass;
        }
    }

    /// The maximum-likelihood ratio theta given each window's event split:
    /// the root of sum_w [c_w - (c_w + b_w) theta n_c / (theta n_c + n_b)],
    /// decreasing in theta (bisection on log theta); with one exposure ratio
    /// it is the pooled (e_c / n_c) / (e_b / n_b). 0 without candidate events,
    /// inf without baseline ones, NaN without events.
    [[nodiscard]] static double conditional_mle(const std::vector<state::window>& windows) {
        double c = 0, b = 0;
        for (const auto& w : windows) {
            if (w.candidate_exposure <= 0 || w.baseline_exposure <= 0) continue;
            c += w.candidate_events;
            b += w.baseline_events;
        }
        if (c + b == 0) return std::numeric_limits<double>::quiet_NaN();
        if (c == 0) return 0.0;
        if (b == 0) return std::numeric_limits<double>::infinity();
        auto score = [&](double theta) {
            double expected = 0;
            for (const auto& w : windows) {
                if (w.candidate_exposure <= 0 || w.baseline_exposure <= 0) continue;
                const double tn = theta * w.candidate_exposure;
                expected +=
                    (w.candidate_events + w.baseline_events) * tn / (tn + w.baseline_exposure);
            }
            return c - expected;
        };
        double lo = -30.0, hi = 30.0;  // log theta: e^-30 .. e^30 brackets any finite data
        for (int i = 0; i < 100 && hi - lo > 1e-12; ++i) {
            const double mid = (lo + hi) / 2;
            (score(std::exp(mid)) > 0 ? lo : hi) = mid;
        }
        return std::exp((lo + hi) / 2);
    }

    /// True when every window with events has the same exposure ratio.
    [[nodiscard]] static bool one_split(const std::vector<state::window>& windows) {
        double first = std::numeric_limits<double>::quiet_NaN();
        for (const auto& w : windows) {
            if (w.candidate_events + w.baseline_events <= 0 || w.baseline_exposure <= 0) continue;
            const double ratio = w.candidate_exposure / w.baseline_exposure;
            if (std::isnan(first)) {
                first = ratio;
            } else if (std::fabs(ratio - first) > 1e-12 * first) {
                return false;
            }
        }
        return true;
    }

    /// Grid-mixture log e-value of H0: r_c <= theta r_b over the stored
    /// windows, with the arms' roles optionally swapped (the reverse null).
    [[nodiscard]] static double log_e_over_windows(const std::vector<state::window>& windows,
                                                   double theta, bool swap) {
        stats::rate_ratio_e_process<5> process(theta);
        for (const auto& w : windows) {
            const double ce = swap ? w.baseline_events : w.candidate_events;
            const double be = swap ? w.candidate_events : w.baseline_events;
            const double cn = swap ? w.baseline_exposure : w.candidate_exposure;
            const double bn = swap ? w.candidate_exposure : w.baseline_exposure;
            if (cn <= 0 || bn <= 0 || ce + be <= 0) continue;
            process.update(static_cast<std::uint64_t>(ce), static_cast<std::uint64_t>(ce + be), cn,
                           bn);
        }
        return process.log_e_value();
    }

    /// The exposures behind the feedback of the increment ending at `end_ns`:
    /// records this increment's requests in `s.served`, then sums every served
    /// increment's requests times the probability that a log-normal delay
    /// from its midpoint lands in this increment's span (previous end, end].
    /// Returns {candidate, baseline}.
    [[nodiscard]] std::pair<double, double> delayed_exposure(state& s, std::int64_t end_ns,
                                                             double candidate_requests,
                                                             double baseline_requests) const {
        const double end = static_cast<double>(end_ns);
        const double start = s.previous_end_ns ? static_cast<double>(*s.previous_end_ns) : end;
        s.previous_end_ns = end_ns;
        s.served.push_back({(start + end) / 2, candidate_requests, baseline_requests});
        const double median_ns = config_.feedback_delay_median_s * 1e9;
        const double scale = config_.feedback_delay_sigma * std::numbers::sqrt2;
        auto cdf = [&](double delay_ns) {
            return delay_ns <= 0 ? 0.0 : 0.5 * std::erfc(-std::log(delay_ns / median_ns) / scale);
        };
        double c = 0;
        double b = 0;
        for (const auto& served : s.served) {
            const double w = cdf(end - served.midpoint_ns) - cdf(start - served.midpoint_ns);
            c += served.candidate * w;
            b += served.baseline * w;
        }
        return {c, b};
    }

    rate_gate_config config_;
};

CANARYGATE_NAMESPACE_END
