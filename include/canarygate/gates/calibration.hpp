// SPDX-License-Identifier: MIT
/// \file
/// A/A calibration: how noisy is the comparison between identical versions?
///
/// `aa_calibration` takes a stream of request and feedback events of ONE
/// version (a recorded request log replayed, or canarygate::testkit::scenario
/// traffic), splits it by a hash of the request id into a pseudo-candidate
/// (the canary's share) and a pseudo-baseline, for S independent hash seeds,
/// runs a policy on every split with a check at a fixed cadence, and reports
/// per gate and for the policy:
/// - false alarms: splits in which the gate (the policy) ever failed, the
///   rate and its one-sided Clopper–Pearson 95 % upper bound;
/// - the noise floor NF_99: the 99th percentile over splits of the gate's
///   end-of-run ratio estimate (gate_result::evidence.estimate; the KS
///   distance for the shape gate, baseline/candidate for decrease gates);
///   `aa_report::noise_floor()` plugs into policy::noise_floor_warnings;
/// - over-dispersion φ per signal (see `aa_dispersion`).
///
/// Statistical caveats, stated once:
/// - Each split's decisions carry the gates' guarantee, but the S splits are
///   NOT independent: they reshuffle the same requests. The Clopper–Pearson
///   bound treats them as independent, so it is optimistic; the splits
///   estimate the false-alarm rate *of this stream*, not over streams.
/// - A split by request id puts both pseudo-arms on the same pods, at the
///   same time: noise shared by the whole stream within a window (load,
///   cache warmth) hits both pseudo-arms alike and cancels in a concurrent
///   comparison — calibration shows φ ≈ 1 there, correctly. Noise that only
///   the real candidate gets (its own pods or GPUs) cannot appear in a hash
///   split of one version's traffic. To measure it, replay a real A/A
///   deployment (the baseline version deployed as the canary) with
///   `split_mode::recorded_arms`, and combine several such runs with
///   `combine()`.
///
/// Example:
/// \code
///   canarygate::aa_calibration_config cfg;
///   cfg.policy = canarygate::default_policy();
///   cfg.candidate_share = 0.01;
///   canarygate::aa_calibration cal(cfg);
///   for (const auto& e : request_log) cal.add(e);    // time order
///   const auto report = cal.finish(end_ns);
///   const canarygate::policy p(cfg.policy);
///   for (const auto& w : p.noise_floor_warnings(report.noise_floor())) std::puts(w.c_str());
/// \endcode
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "canarygate/core/clock.hpp"
#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/mix.hpp"
#include "canarygate/gates/default_policy.hpp"
#include "canarygate/gates/gate_common.hpp"
#include "canarygate/gates/policy.hpp"
#include "canarygate/gates/signal.hpp"
#include "canarygate/record/event.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/window/event_window.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// How pseudo-arms are formed.
enum class split_mode : std::uint8_t {
    /// Hash of the request id with each split's seed: S independent splits of
    /// one version's traffic. Arm labels of the events are ignored (shadow
    /// events are dropped).
    request_hash,
    /// The events' own arm labels (a real A/A deployment replayed); one split.
    recorded_arms,
};

struct aa_calibration_config {
    /// The policy run on every split. Its arm names must be "baseline" and
    /// "candidate" (the names event_window writes).
    policy_config policy = default_policy();
    /// The pseudo-candidate's share of the stream, in (0, 1); also the share
    /// the policy's sample-ratio check expects.
    double candidate_share = 0.01;
    /// Number of hash splits S (request_hash mode); 1 in recorded_arms mode.
    std::size_t splits = 200;
    split_mode mode = split_mode::request_hash;
    /// Checks at start_ns + i * check_interval_ns, i = 1, 2, ...
    std::int64_t check_interval_ns = 5 * minute_ns;
    std::int64_t start_ns = 0;
    /// Hash seeds are derived from this.
    std::uint64_t seed = 0x5eed;

    /// Throws std::invalid_argument naming the field and the bad value.
    void validate() const {
        policy.validate();
        constexpr std::string_view where = "canarygate::aa_calibration_config";
        if (!(candidate_share > 0.0 && candidate_share < 1.0)) {
            detail::throw_bad_field(where, "candidate_share", candidate_share, "must be in (0, 1)");
        }
        if (splits == 0) detail::throw_bad_field(where, "splits", splits, "must be at least 1");
        if (check_interval_ns <= 0)
            detail::throw_bad_field(where, "check_interval_ns", check_interval_ns,
                                    "must be positive");
        if (policy.baseline_arm != "baseline" || policy.candidate_arm != "candidate") {
            detail::throw_invalid_argument("canarygate::aa_calibration_config: policy arms '" +
                                           policy.baseline_arm + "' / '" + policy.candidate_arm +
                                           "' must be 'baseline' / 'candidate'");
        }
    }
};

/// One gate over all splits.
struct aa_gate_report {
    std::string name;
    signal metric = signal::latency;
    bool critical = true;
    double alpha = 0.0;              ///< the gate's Bonferroni share of alpha_fail
    std::uint64_t false_alarms = 0;  ///< splits where the gate ever failed
    std::uint64_t runs = 0;          ///< splits
    double rate = 0.0;               ///< false_alarms / runs
    double rate_upper_95 = 1.0;      ///< one-sided Clopper–Pearson 95 % upper bound
    double noise_floor_99 =
        std::numeric_limits<double>::quiet_NaN();  ///< NF_99 of the end estimate
    std::vector<double> end_estimates;             ///< one per split (NaN: no estimate)
};

/// Over-dispersion of one signal between the pseudo-arms, per window
/// (= check interval). φ = 1 is what the i.i.d. model predicts; φ ≫ 1 means
/// requests within a window are not independent across the arms (switch the
/// gate to window-level "batch" observations).
///
/// What is computed, per split, then averaged over splits:
/// - cost: L_w = ln(mean_c,w / mean_b,w) for windows where both arms have
///   positive cost; φ = sample variance of L_w / mean over w of
///   (CV_c² / n_c,w + CV_b² / n_b,w), CV the arm's coefficient of variation
///   of cost over the whole run (delta method);
/// - latency, ttft, output_length: L_w = difference of the arms' mean log
///   value in window w (log of the histogram bucket's geometric midpoint;
///   zero values skipped); φ = sample variance of L_w / mean of
///   (s_c² / n_c,w + s_b² / n_b,w), s² the arm's variance of log values over
///   the whole run;
/// - error, refusal, feedback rates: Pearson's dispersion of the per-window
///   event split. Given E_w events in window w, the i.i.d. (Poisson) model
///   makes the candidate's share Binomial(E_w, p_w), p_w = n_c,w / (n_c,w +
///   n_b,w) (the A/A ratio is 1); φ = Σ_w (e_c,w − E_w p_w)² / (E_w p_w (1 −
///   p_w)) / W over the W windows with E_w > 0. For large counts this is the
///   variance of the log ratio over 1/e_c + 1/e_b; unlike the log ratio it is
///   defined for windows with no candidate event (most windows of a 1 %
///   canary). Feedback is attributed to its request's window of arrival.
/// Under the i.i.d. model φ ≈ 1 with relative standard deviation about
/// sqrt(2 / W) per split.
struct aa_dispersion {
    signal metric = signal::cost;
    double phi = std::numeric_limits<double>::quiet_NaN();
    double windows = 0;      ///< mean number of windows used per split
    std::size_t splits = 0;  ///< splits with at least 2 usable windows
};

struct aa_report {
    std::vector<aa_gate_report> gates;  ///< in the policy's gate order
    std::uint64_t runs = 0;
    /// Splits where the policy's decision was `fail` (a critical gate failed).
    std::uint64_t policy_false_alarms = 0;
    double policy_rate = 0.0;
    double policy_rate_upper_95 = 1.0;
    /// Splits where any gate failed (critical or advisory: roll back or hold).
    std::uint64_t any_gate_false_alarms = 0;
    /// Splits where the sample-ratio check ever said `invalid`.
    std::uint64_t srm_invalid = 0;
    std::vector<aa_dispersion> dispersion;
    std::uint64_t checks = 0;  ///< checks per split

    /// NF_99 per gate, in gate order: policy::noise_floor_warnings' argument.
    [[nodiscard]] std::vector<double> noise_floor() const {
        std::vector<double> nf;
        for (const auto& g : gates) nf.push_back(g.noise_floor_99);
        return nf;
    }
};

namespace detail {

/// Mean and variance of ln(value) over a histogram (bucket geometric
/// midpoints; zero bucket skipped): {n, sum, sum of squares}.
struct log_moments {
    double n = 0, sum = 0, sum_sq = 0;
    void add(const exp_histogram& h) {
        const auto& layout = h.layout();
        const auto buckets = h.buckets();
        const double half_step = std::log(layout.base()) / 2;
        for (std::size_t k = 0; k < buckets.size(); ++k) {
            if (buckets[k] == 0) continue;
            const double x =
                std::log(layout.lower_edge(layout.first_index() + static_cast<std::int64_t>(k))) +
                half_step;
            const auto c = static_cast<double>(buckets[k]);
            n += c;
            sum += c * x;
            sum_sq += c * x * x;
        }
        if (h.underflow_count() > 0) {
            const double x = std::log(layout.min_value());
            const auto c = static_cast<double>(h.underflow_count());
            n += c;
            sum += c * x;
            sum_sq += c * x * x;
        }
        if (h.overflow_count() > 0) {
            const double x = std::log(layout.max_value());
            const auto c = static_cast<double>(h.overflow_count());
            n += c;
            sum += c * x;
            sum_sq += c * x * x;
        }
    }
    [[nodiscard]] double mean() const { return sum / n; }
    [[nodiscard]] double variance() const {
        return n > 1 ? std::max(0.0, (sum_sq - sum * sum / n) / (n - 1)) : 0.0;
    }
};

/// Per-split accumulator of the dispersion figures.
struct dispersion_accumulator {
    // Mean-type signals: per window L_w, n_c, n_b; run-wide variances per arm.
    struct window {
        double l, n_c, n_b;
    };
    std::vector<window> windows;
    double c_n = 0, c_sum = 0, c_sq = 0, b_n = 0, b_sum = 0,
           b_sq = 0;  // cost or log values, run-wide
    // Rate signals: Pearson sum.
    double pearson = 0;
    double rate_windows = 0;

    [[nodiscard]] double mean_type_phi(bool coefficient_of_variation) const {
        if (windows.size() < 2 || c_n < 2 || b_n < 2)
            return std::numeric_limits<double>::quiet_NaN();
        const double mc = c_sum / c_n, mb = b_sum / b_n;
        double vc = std::max(0.0, (c_sq - c_sum * mc) / (c_n - 1));
        double vb = std::max(0.0, (b_sq - b_sum * mb) / (b_n - 1));
        if (coefficient_of_variation) {
            vc /= mc * mc;
            vb /= mb * mb;
        }
        double mean_l = 0;
        for (const auto& w : windows) mean_l += w.l;
        mean_l /= static_cast<double>(windows.size());
        double var_l = 0, predicted = 0;
        for (const auto& w : windows) {
            var_l += (w.l - mean_l) * (w.l - mean_l);
            predicted += vc / w.n_c + vb / w.n_b;
        }
        var_l /= static_cast<double>(windows.size() - 1);
        predicted /= static_cast<double>(windows.size());
        return predicted > 0 ? var_l / predicted : std::numeric_limits<double>::quiet_NaN();
    }
};

}  // namespace detail

/// Runs a policy on S hash splits of one version's event stream. Feed events
/// in time order with `add`, then call `finish`. Not thread-safe; memory
/// O(S × (histograms of one window + the policy state)); time per event
/// O(S), per check O(S × gates).
class aa_calibration {
public:
    /// Validates the configuration (std::invalid_argument names the field).
    explicit aa_calibration(aa_calibration_config config)
        : config_(std::move(config)), policy_(config_.policy) {
        config_.validate();
        if (config_.mode == split_mode::recorded_arms) config_.splits = 1;
        splits_.resize(config_.splits);
        for (std::size_t s = 0; s < splits_.size(); ++s) {
            splits_[s].seed = mix64(config_.seed + 0x1000 * (s + 1));
            splits_[s].gate_failed.assign(config_.policy.gates.size(), false);
            splits_[s].dispersion.resize(signal_count);
        }
        next_check_ = config_.start_ns + config_.check_interval_ns;
    }

    [[nodiscard]] const aa_calibration_config& config() const noexcept { return config_; }

    /// Adds a finished request (time order; events before start_ns are ignored).
    void add(const request_event& e) {
        if (e.time_ns < config_.start_ns || e.arm == arm_role::shadow) return;
        advance(e.time_ns);
        for (auto& s : splits_) {
            request_event r = e;
            r.arm = arm_of(s, e.request_id, e.arm);
            s.builder.add(r);
        }
    }

    /// Adds feedback; it goes to the pseudo-arm its request went to.
    void add(const feedback_arrival& e) {
        if (e.time_ns < config_.start_ns || e.arm == arm_role::shadow) return;
        advance(e.time_ns);
        for (auto& s : splits_) {
            feedback_arrival f = e;
            f.arm = arm_of(s, e.request_id, e.arm);
            s.builder.add(f);
        }
    }

    /// Runs the checks up to end_ns (the last one at the last multiple of the
    /// cadence ≤ end_ns) and reports. Call once.
    [[nodiscard]] aa_report finish(std::int64_t end_ns) {
        while (next_check_ <= end_ns) check();
        return report();
    }

private:
    struct split {
        std::uint64_t seed = 0;
        event_window builder;
        policy_state state;
        std::vector<bool> gate_failed;
        std::vector<double> last_estimate;
        bool policy_failed = false;
        bool any_failed = false;
        bool srm_invalid = false;
        std::vector<detail::dispersion_accumulator> dispersion;
    };

    [[nodiscard]] arm_role arm_of(const split& s, std::uint64_t request_id,
                                  arm_role recorded) const {
        if (config_.mode == split_mode::recorded_arms) return recorded;
        const std::uint64_t h = mix64(request_id ^ s.seed);
        const double u = static_cast<double>(h >> 11) * 0x1.0p-53;
        return u < config_.candidate_share ? arm_role::candidate : arm_role::baseline;
    }

    void advance(std::int64_t t) {
        while (t >= next_check_) check();
    }

    void check() {
        const std::int64_t end = next_check_;
        const std::int64_t start = end - config_.check_interval_ns;
        for (auto& s : splits_) {
            const snapshot inc = s.builder.take(start, end);
            const policy_report rep =
                policy_.evaluate_increment(s.state, inc, config_.candidate_share);
            if (rep.decision == verdict::fail) s.policy_failed = true;
            if (rep.decision == verdict::invalid) s.srm_invalid = true;
            s.last_estimate.resize(rep.gates.size());
            for (std::size_t g = 0; g < rep.gates.size(); ++g) {
                if (rep.gates[g].decision == verdict::fail) {
                    s.gate_failed[g] = true;
                    s.any_failed = true;
                }
                s.last_estimate[g] = rep.gates[g].evidence.estimate;
            }
            const arm_snapshot* b = inc.find_arm("baseline");
            const arm_snapshot* c = inc.find_arm("candidate");
            if (b != nullptr && c != nullptr) accumulate_dispersion(s, *b, *c);
        }
        ++checks_;
        next_check_ += config_.check_interval_ns;
    }

    static void accumulate_dispersion(split& s, const arm_snapshot& b, const arm_snapshot& c) {
        using detail::to_double;
        const double n_c = to_double(c.counter(series::requests));
        const double n_b = to_double(b.counter(series::requests));
        if (n_c <= 0 || n_b <= 0) return;
        // Cost.
        {
            auto& d = s.dispersion[static_cast<std::size_t>(signal::cost)];
            const double sc = to_double(c.counter(series::cost_sum));
            const double sb = to_double(b.counter(series::cost_sum));
            d.c_n += n_c;
            d.c_sum += sc;
            d.c_sq += to_double(c.counter(series::cost_sum_squares));
            d.b_n += n_b;
            d.b_sum += sb;
            d.b_sq += to_double(b.counter(series::cost_sum_squares));
            if (sc > 0 && sb > 0)
                d.windows.push_back({std::log((sc / n_c) / (sb / n_b)), n_c, n_b});
        }
        // Quantile signals: mean log value.
        for (const signal q : {signal::latency, signal::ttft, signal::output_length}) {
            const exp_histogram* hc = c.histogram(detail::histogram_series(q));
            const exp_histogram* hb = b.histogram(detail::histogram_series(q));
            if (hc == nullptr || hb == nullptr) continue;
            detail::log_moments mc, mb;
            mc.add(*hc);
            mb.add(*hb);
            auto& d = s.dispersion[static_cast<std::size_t>(q)];
            d.c_n += mc.n;
            d.c_sum += mc.sum;
            d.c_sq += mc.sum_sq;
            d.b_n += mb.n;
            d.b_sum += mb.sum;
            d.b_sq += mb.sum_sq;
            if (mc.n > 0 && mb.n > 0) d.windows.push_back({mc.mean() - mb.mean(), mc.n, mb.n});
        }
        // Rates: Pearson dispersion of the event split.
        for (const signal r : {signal::error_rate, signal::refusal_rate, signal::feedback_rate}) {
            const double ec = detail::rate_events(r, feedback_kind::thumbs_down, c);
            const double eb = detail::rate_events(r, feedback_kind::thumbs_down, b);
            const double e = ec + eb;
            if (e <= 0) continue;
            const double p = n_c / (n_c + n_b);
            auto& d = s.dispersion[static_cast<std::size_t>(r)];
            d.pearson += (ec - e * p) * (ec - e * p) / (e * p * (1 - p));
            d.rate_windows += 1;
        }
    }

    [[nodiscard]] aa_report report() const {
        aa_report rep;
        rep.runs = splits_.size();
        rep.checks = checks_;
        const auto& gates = config_.policy.gates;
        for (std::size_t g = 0; g < gates.size(); ++g) {
            aa_gate_report gr;
            gr.name = gates[g].name();
            gr.metric = gates[g].metric();
            gr.critical = gates[g].critical();
            gr.alpha = policy_.gate_alpha()[g];
            gr.runs = rep.runs;
            for (const auto& s : splits_) {
                gr.false_alarms += s.gate_failed[g] ? 1U : 0U;
                gr.end_estimates.push_back(g < s.last_estimate.size()
                                               ? s.last_estimate[g]
                                               : std::numeric_limits<double>::quiet_NaN());
            }
            rep.gates.push_back(std::move(gr));
        }
        for (const auto& s : splits_) {
            rep.policy_false_alarms += s.policy_failed ? 1U : 0U;
            rep.any_gate_false_alarms += s.any_failed ? 1U : 0U;
            rep.srm_invalid += s.srm_invalid ? 1U : 0U;
        }
        for (const signal sig :
             {signal::latency, signal::ttft, signal::cost, signal::error_rate, signal::refusal_rate,
              signal::output_length, signal::feedback_rate}) {
            aa_dispersion d;
            d.metric = sig;
            double phi_sum = 0, windows = 0;
            for (const auto& s : splits_) {
                const auto& acc = s.dispersion[static_cast<std::size_t>(sig)];
                double phi = std::numeric_limits<double>::quiet_NaN();
                double w = 0;
                if (sig == signal::error_rate || sig == signal::refusal_rate ||
                    sig == signal::feedback_rate) {
                    if (acc.rate_windows >= 2) phi = acc.pearson / acc.rate_windows;
                    w = acc.rate_windows;
                } else {
                    phi = acc.mean_type_phi(sig == signal::cost);
                    w = static_cast<double>(acc.windows.size());
                }
                if (std::isnan(phi)) continue;
                phi_sum += phi;
                windows += w;
                ++d.splits;
            }
            if (d.splits > 0) {
                d.phi = phi_sum / static_cast<double>(d.splits);
                d.windows = windows / static_cast<double>(d.splits);
            }
            rep.dispersion.push_back(d);
        }
        finalize(rep);
        return rep;
    }

public:
    /// Recomputes rates, bounds and noise floors from the counts and the
    /// per-split end estimates (used by `combine`).
    static void finalize(aa_report& rep) {
        for (auto& g : rep.gates) {
            g.runs = rep.runs;
            g.rate = rep.runs > 0
                         ? static_cast<double>(g.false_alarms) / static_cast<double>(rep.runs)
                         : 0.0;
            g.rate_upper_95 = stats::clopper_pearson_upper(g.false_alarms, rep.runs);
            g.noise_floor_99 = stats::nearest_rank_quantile(g.end_estimates, 0.99);
        }
        rep.policy_rate = rep.runs > 0 ? static_cast<double>(rep.policy_false_alarms) /
                                             static_cast<double>(rep.runs)
                                       : 0.0;
        rep.policy_rate_upper_95 = stats::clopper_pearson_upper(rep.policy_false_alarms, rep.runs);
    }

private:
    aa_calibration_config config_;
    policy policy_;
    std::vector<split> splits_;
    std::int64_t next_check_ = 0;
    std::uint64_t checks_ = 0;
};

/// Pools reports of the same policy (e.g. several replayed A/A deployments in
/// recorded_arms mode): counts and end estimates are concatenated, φ is
/// averaged weighted by splits. Throws std::invalid_argument when the gate
/// lists differ.
[[nodiscard]] inline aa_report combine(const std::vector<aa_report>& reports) {
    aa_report out;
    if (reports.empty()) return out;
    out.gates = reports.front().gates;
    for (auto& g : out.gates) {
        g.false_alarms = 0;
        g.end_estimates.clear();
    }
    out.dispersion = reports.front().dispersion;
    std::vector<double> phi_sum(out.dispersion.size(), 0.0), w_sum(out.dispersion.size(), 0.0);
    for (auto& d : out.dispersion) d.splits = 0;
    for (const auto& r : reports) {
        if (r.gates.size() != out.gates.size()) {
            detail::throw_invalid_argument("canarygate::combine: reports have " +
                                           std::to_string(r.gates.size()) + " and " +
                                           std::to_string(out.gates.size()) + " gates");
        }
        out.runs += r.runs;
        out.checks = std::max(out.checks, r.checks);
        out.policy_false_alarms += r.policy_false_alarms;
        out.any_gate_false_alarms += r.any_gate_false_alarms;
        out.srm_invalid += r.srm_invalid;
        for (std::size_t g = 0; g < r.gates.size(); ++g) {
            out.gates[g].false_alarms += r.gates[g].false_alarms;
            out.gates[g].end_estimates.insert(out.gates[g].end_estimates.end(),
                                              r.gates[g].end_estimates.begin(),
                                              r.gates[g].end_estimates.end());
        }
        for (std::size_t i = 0; i < out.dispersion.size() && i < r.dispersion.size(); ++i) {
            const auto& d = r.dispersion[i];
            if (d.splits == 0 || std::isnan(d.phi)) continue;
            phi_sum[i] += d.phi * static_cast<double>(d.splits);
            w_sum[i] += d.windows * static_cast<double>(d.splits);
            out.dispersion[i].splits += d.splits;
        }
    }
    for (std::size_t i = 0; i < out.dispersion.size(); ++i) {
        auto& d = out.dispersion[i];
        d.phi = d.splits > 0 ? phi_sum[i] / static_cast<double>(d.splits)
                             : std::numeric_limits<double>::quiet_NaN();
        d.windows = d.splits > 0 ? w_sum[i] / static_cast<double>(d.splits) : 0.0;
    }
    aa_calibration::finalize(out);
    return out;
}

/// Advice from an A/A report: for every gate of `config` that uses
/// per-request evidence on a signal the report found over-dispersed, a line
/// recommending batch mode (the gate's batch_window_ns, at least as long as
/// the noise lasts). "Over-dispersed" means φ above 1 by more than three
/// standard deviations of one split's φ under the i.i.d. model,
/// 3 sqrt(2 / (W - 1)) for W windows: clear evidence, not noise in φ itself.
/// The shape gate follows the output-length φ and cannot batch, so it gets a
/// warning that its bands assume independent requests. Nothing is changed
/// silently: the caller decides.
[[nodiscard]] inline std::vector<std::string> batch_mode_advice(const policy_config& config,
                                                                const aa_report& report) {
    std::vector<std::string> advice;
    for (const auto& g : config.gates) {
        const signal measured =
            g.metric() == signal::output_shape ? signal::output_length : g.metric();
        for (const auto& d : report.dispersion) {
            if (d.metric != measured || std::isnan(d.phi) || d.windows < 3) continue;
            const double limit = 1.0 + 3.0 * std::sqrt(2.0 / (d.windows - 1.0));
            if (!(d.phi > limit) || g.batch_window_ns() > 0) continue;
            std::string line = g.name() +
                               ": A/A over-dispersion phi = " + detail::format_ratio(d.phi) +
                               " (i.i.d. model: 1, limit " + detail::format_ratio(limit) +
                               " over " + detail::format_ratio(d.windows) + " windows); ";
            line +=
                g.metric() == signal::output_shape
                    ? "its confidence bands assume independent requests, so its fails may be noise"
                    : "per-request evidence would take the noise for a regression: set "
                      "batch_window_ns "
                      "(batch mode) to at least the noise's duration";
            advice.push_back(std::move(line));
        }
    }
    return advice;
}

CANARYGATE_NAMESPACE_END
