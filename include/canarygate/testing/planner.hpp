// SPDX-License-Identifier: MIT
/// \file
/// The rollout planner: before a rollout starts, how long each stage must
/// dwell, how soon each gate would catch a regression there, and which
/// gates cannot decide at all at that stage's traffic — and a markdown
/// runbook built from those numbers.
///
/// **How a prediction is made.** For every stage, the planner runs the
/// policy's own gates (the real code, not a formula) on the *expected*
/// traffic of that stage: requests arrive evenly at the configured rate and
/// are split exactly at the stage's share; every response's latency, time to
/// first token, cost and length is a quantile of the baseline's distribution
/// (drawn once from the response model) at a low-discrepancy point, so any
/// stretch of requests has almost exactly the distribution's shape; errors,
/// refusals and feedback occur at exactly their rates; feedback arrives after
/// the delay distribution's quantiles. On that noise-free path, the first
/// check at which a gate passes on a candidate as good as the baseline is
/// the predicted time to pass. The expected path crosses a gate's fail
/// threshold when the *mean* random path would; real rollouts cross
/// earlier, since noise carries some paths over early and a crossing is
/// never taken back. So the log e-value's fluctuation around its expected
/// path is modelled as a Gaussian random walk whose variance grows at twice
/// its drift (as a log-likelihood ratio's does), looked at only at the
/// checks, and the predicted detection is the first check by which half of
/// such walks have crossed: a *median*; half of real rollouts take longer.
///
/// Where it is off: (1) candidate-only run-to-run noise is not modelled (use
/// batch mode and expect slower decisions); (2) decisions within a few
/// checks are quantised to the check interval; (3) the shape gate is a band
/// test without an e-value: its prediction is the expected path's own
/// crossing, up to a third later than the median; (4) where few events
/// decide (rate gates at small stages) single rollouts spread by a factor of
/// two or more around the median; (5) each stage is planned as if the
/// rollout sat there from the start, without the evidence earlier stages
/// hand on (the controller carries it), so later stages decide a little
/// sooner than predicted. The planner-versus-simulator test
/// (tests/testing/test_planner_vs_simulator.cpp) measures the error per gate
/// and stage.
///
/// Example:
/// \code
///   canarygate::testkit::plan_request req;
///   req.rollout = canarygate::testkit::default_rollout();
///   req.traffic.requests_per_minute = 600;
///   const auto plan = canarygate::testkit::plan_rollout(req);
///   std::fputs(canarygate::testkit::render_runbook(plan).c_str(), stdout);
/// \endcode
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/math/special_functions/erf.hpp>

#include "canarygate/core/clock.hpp"
#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/gates/policy.hpp"
#include "canarygate/rollout/controller.hpp"
#include "canarygate/testing/random.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/testing/simulation.hpp"
#include "canarygate/testing/simulation_suite.hpp"
#include "canarygate/window/event_window.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace testkit {

struct plan_request {
    /// The rollout to plan: stages (weights, dwell, maximum duration) and
    /// policies.
    controller_config rollout;
    /// The service's traffic (requests per minute over all arms).
    traffic_model traffic;
    /// The baseline's figures: error, refusal and feedback rates, latency,
    /// cost and length spread, feedback delay.
    response_model baseline;
    /// The regression each gate is asked to catch: this factor times the
    /// gate's multiplier (1.5: a P99 limit of 1.5 x is tested at 2.25 x).
    /// The shape gate: a length shift whose Kolmogorov–Smirnov distance is
    /// this factor times its tolerance.
    double regression_factor = 1.5;
    /// Risk tolerance: the false roll-back probability you accept (checked
    /// against the policy's alpha_fail), the most users (requests served by
    /// the candidate) a bad model may reach before it is caught, and the
    /// longest the whole rollout may take.
    double max_false_rollback = 0.05;
    std::uint64_t max_users_exposed = 20'000;
    std::int64_t max_rollout_ns = 24 * hour_ns;
    /// The controller's check interval.
    std::int64_t check_interval_ns = 5 * minute_ns;
    /// How far the planner follows one stage (at least every stage's
    /// maximum duration).
    std::int64_t horizon_ns = 12 * hour_ns;
    /// Seed of the response-model sample the quantiles are read from.
    std::uint64_t seed = 2026;

    /// Throws std::invalid_argument naming the field and its value.
    void validate() const {
        constexpr std::string_view where = "canarygate::testkit::plan_request";
        rollout.validate();
        scenario_config probe;
        probe.traffic = traffic;
        probe.model = baseline;
        probe.validate();
        if (!(regression_factor > 1.0) || std::isinf(regression_factor))
            canarygate::detail::throw_bad_field(where, "regression_factor", regression_factor,
                                                "must be > 1 and finite");
        if (!(max_false_rollback > 0.0 && max_false_rollback < 1.0))
            canarygate::detail::throw_bad_field(where, "max_false_rollback", max_false_rollback,
                                                "must be in (0, 1)");
        if (check_interval_ns <= 0)
            canarygate::detail::throw_bad_field(where, "check_interval_ns", check_interval_ns,
                                                "must be positive");
        if (horizon_ns < check_interval_ns)
            canarygate::detail::throw_bad_field(where, "horizon_ns", horizon_ns,
                                                "must be at least check_interval_ns");
        if (max_rollout_ns <= 0)
            canarygate::detail::throw_bad_field(where, "max_rollout_ns", max_rollout_ns,
                                                "must be positive");
    }
};

/// Whether a gate decides at a stage.
enum class gate_capability : std::uint8_t {
    decides,        ///< median detection within the stage's budget
    marginal,       ///< median detection within twice the budget: some rollouts decide in time
    cannot_decide,  ///< median detection beyond twice the budget (or never in the horizon)
    not_modelled    ///< the planner cannot generate this gate's regression
};

[[nodiscard]] constexpr std::string_view name(gate_capability c) noexcept {
    switch (c) {
        case gate_capability::decides:
            return "decides";
        case gate_capability::marginal:
            return "marginal";
        case gate_capability::cannot_decide:
            return "cannot decide";
        case gate_capability::not_modelled:
            return "not modelled";
    }
    return "unknown";
}

struct gate_plan {
    std::string gate;
    signal metric = signal::latency;
    bool critical = true;
    /// The candidate/baseline ratio planned for (KS distance for the shape
    /// gate) and the ratio of the signal that makes it.
    double tested_ratio = 0.0;
    double signal_factor = 1.0;
    /// Predicted median time from the stage's start to the gate's fail on
    /// that regression, and to its pass on a candidate as good as the
    /// baseline; nullopt: not within the horizon.
    std::optional<std::int64_t> detect_ns;
    std::optional<std::int64_t> pass_ns;
    /// Users (requests served by the candidate) by the predicted detection.
    double users_at_detect = 0.0;
    /// The candidate's events of this gate's kind per hour at this stage:
    /// requests for latency, cost and length gates; errors, refusals or
    /// thumbs-down for the rate gates.
    double candidate_events_per_hour = 0.0;
    gate_capability capability = gate_capability::cannot_decide;
    /// For a gate that does not decide within the stage's budget: the
    /// traffic (requests per minute, all arms) at which its median detection
    /// would, assuming the time to detect scales inversely with traffic; a
    /// lower bound ("more than") when it does not detect within the horizon.
    double needed_requests_per_minute = 0.0;
    bool needed_is_lower_bound = false;
};

struct stage_plan {
    std::string name;
    stage_kind kind = stage_kind::canary;
    double share = 0.0;  ///< the candidate's (or shadow's) share of the two compared arms
    double candidate_requests_per_hour = 0.0;
    double baseline_requests_per_hour = 0.0;
    /// The stage's time budget: its maximum duration, at most half the
    /// planner's horizon (so that "cannot decide", beyond twice the budget,
    /// is seen within the horizon).
    std::int64_t budget_ns = 0;
    /// Predicted time for the whole policy to pass on a good candidate;
    /// nullopt: not within the horizon (the stage ends by its maximum
    /// duration and its at_max rule).
    std::optional<std::int64_t> policy_pass_ns;
    /// The dwell to configure: at least the stage's min_dwell, and long
    /// enough for every critical gate that decides here to pass.
    std::int64_t recommended_dwell_ns = 0;
    std::vector<gate_plan> gates;
};

struct rollout_plan {
    plan_request request;
    std::vector<stage_plan> stages;
    /// Sum of the recommended dwells (the time a good candidate needs).
    std::int64_t expected_duration_ns = 0;
    /// Where the plan breaks the risk tolerance, or needs a human's eye.
    std::vector<std::string> warnings;
};

namespace detail {

/// Radical inverse of i in `base`: a low-discrepancy sequence in [0, 1).
inline double radical_inverse(std::uint64_t i, std::uint64_t base) {
    double inv = 1.0 / static_cast<double>(base), f = inv, r = 0.0;
    while (i > 0) {
        r += f * static_cast<double>(i % base);
        i /= base;
        f *= inv;
    }
    return r;
}

/// One arm's marginal distributions, sorted, from the response model.
struct marginals {
    std::vector<double> latency_ns, ttft_ns, cost, output_tokens, input_tokens;
    std::uint64_t max_tokens = 0;

    [[nodiscard]] static double at(const std::vector<double>& sorted, double u) {
        const auto i = std::min(sorted.size() - 1,
                                static_cast<std::size_t>(u * static_cast<double>(sorted.size())));
        return sorted[i];
    }
};

inline marginals sample_marginals(const plan_request& req) {
    scenario_config cfg;
    cfg.traffic = req.traffic;
    cfg.model = req.baseline;
    cfg.model.feedback_probability = 0;
    cfg.stages = {stage{0, 0.0}};
    scenario s(cfg, req.seed);
    marginals m;
    m.max_tokens = req.baseline.max_tokens;
    constexpr std::size_t pool = std::size_t{1} << 16;
    const double per_ns = req.traffic.requests_per_minute / static_cast<double>(minute_ns);
    const auto until = static_cast<std::int64_t>(1.02 * static_cast<double>(pool) / per_ns) + 1;
    s.run(
        until,
        [&](const request_event& e) {
            if (m.latency_ns.size() >= pool) return;
            m.latency_ns.push_back(static_cast<double>(e.outcome.latency_ns));
            m.ttft_ns.push_back(static_cast<double>(e.outcome.ttft_ns));
            m.cost.push_back(static_cast<double>(e.outcome.cost_nano_usd));
            m.output_tokens.push_back(static_cast<double>(e.outcome.output_tokens));
            m.input_tokens.push_back(static_cast<double>(e.outcome.input_tokens));
        },
        [](const feedback_arrival&) {});
    for (auto* v : {&m.latency_ns, &m.ttft_ns, &m.cost, &m.output_tokens, &m.input_tokens})
        std::sort(v->begin(), v->end());
    return m;
}

/// The factor on each signal in one expected-path run.
struct signal_factors {
    double latency = 1, ttft = 1, cost = 1, output_length = 1, error = 1, refusal = 1,
           thumbs_down = 1;
};

/// The factor of `f` that scales signal `s` (the shape gate's is the
/// output length's).
inline double& factor_of(signal_factors& f, signal s) noexcept {
    switch (s) {
        case signal::latency:
            return f.latency;
        case signal::ttft:
            return f.ttft;
        case signal::cost:
            return f.cost;
        case signal::error_rate:
            return f.error;
        case signal::refusal_rate:
            return f.refusal;
        case signal::feedback_rate:
            return f.thumbs_down;
        case signal::output_length:
        case signal::output_shape:
            break;
    }
    return f.output_length;
}

/// The first check at which each gate failed and passed.
struct path_outcome {
    std::vector<std::optional<std::int64_t>> fail, pass;
    std::optional<std::int64_t> policy_pass;
};

/// The median check at which a gate fails, from its log e-value on the
/// expected path, `mean_path[k]` at check k + 1.
///
/// The expected path crosses the threshold a where the *mean* random path
/// does. The median random path crosses earlier: noise makes some paths
/// cross early, and a crossing, once made, is never taken back. For a
/// log-likelihood-ratio-like e-process (and the mixtures the gates use), the
/// log e-value fluctuates around its mean like a random walk whose variance
/// grows at twice its drift. So: random walks with the mean path's
/// increments and Gaussian noise of variance 2 x each (positive) increment,
/// looked at only at the checks, as the controller does; the prediction is
/// the first check by which half of them have crossed. With decisions after
/// a few checks this is the expected path's own check; with many, the
/// continuous first passage's median (inverse Gaussian), about 0.86 of the
/// mean path's time at a = ln 360.
inline std::optional<std::size_t> median_fail_check(const std::vector<double>& mean_path,
                                                    double log_threshold) {
    // 4001 walks: the median crossing probability is resolved to about 1 %.
    constexpr std::size_t walks = 4001;
    random_source rng(0x9a7e);  // fixed: a plan is reproducible
    std::vector<std::size_t> first(walks, mean_path.size());
    for (std::size_t w = 0; w < walks; ++w) {
        double noise = 0.0, previous = 0.0;
        for (std::size_t k = 0; k < mean_path.size(); ++k) {
            const double drift = mean_path[k] - previous;
            previous = mean_path[k];
            if (drift > 0) noise += std::sqrt(2.0 * drift) * rng.normal();
            if (mean_path[k] + noise >= log_threshold) {
                first[w] = k;
                break;
            }
        }
    }
    std::nth_element(first.begin(), first.begin() + walks / 2, first.end());
    const std::size_t median = first[walks / 2];
    if (median == mean_path.size()) return std::nullopt;
    return median;
}

/// Runs `policy` over the expected path of one stage.
inline path_outcome expected_path(const plan_request& req, const marginals& m,
                                  const policy_config& policy_cfg, bool shadow, double share,
                                  const signal_factors& f) {
    policy_config cfg = policy_cfg;
    cfg.tuning.intervals = false;  // decisions only
    for (auto& g : cfg.gates) g = g.with([](auto& c) { c.critical = true; });
    const policy judge(cfg);
    policy_state state;
    event_window window;
    snapshot totals;
    path_outcome out;
    std::vector<std::vector<double>> mean_path(cfg.gates.size());
    std::vector<double> thresholds(cfg.gates.size(), 0.0);
    out.fail.resize(cfg.gates.size());
    out.pass.resize(cfg.gates.size());

    const response_model& b = req.baseline;
    const double rate_per_ns = req.traffic.requests_per_minute / static_cast<double>(minute_ns);
    // Shadow: every request is the baseline's, and a share f/(1+f) of the
    // compared pairs are mirrored copies; canary: the candidate's share.
    const double mirror = shadow ? share / (1.0 - share) : 0.0;
    struct arm_state {
        std::uint64_t n = 0;
        double error_acc = 0.5, refusal_acc = 0.5, feedback_acc = 0.5, down_acc = 0.5;
        std::uint64_t feedback = 0;
    };
    arm_state arms[3];
    struct pending {
        std::int64_t at;
        feedback_arrival event;
        bool operator>(const pending& o) const { return at > o.at; }
    };
    std::priority_queue<pending, std::vector<pending>, std::greater<>> feedback;
    std::uint64_t id = 0;
    double split_acc = 0.0, mirror_acc = 0.0;

    const auto emit = [&](std::int64_t t, arm_role role, bool candidate_model) {
        arm_state& a = arms[static_cast<std::size_t>(role)];
        const double u = radical_inverse(a.n + 1, 2);
        ++a.n;
        const signal_factors none;
        const signal_factors& r = candidate_model ? f : none;
        request_outcome o;
        o.latency_ns =
            static_cast<std::uint64_t>(std::llround(marginals::at(m.latency_ns, u) * r.latency));
        o.ttft_ns = static_cast<std::uint64_t>(std::llround(marginals::at(m.ttft_ns, u) * r.ttft));
        o.cost_nano_usd =
            static_cast<std::uint64_t>(std::llround(marginals::at(m.cost, u) * r.cost));
        const double tokens = marginals::at(m.output_tokens, u);
        o.output_tokens =
            static_cast<std::uint64_t>(std::max(1.0, std::round(tokens * r.output_length)));
        o.input_tokens = static_cast<std::uint64_t>(marginals::at(m.input_tokens, u));
        a.refusal_acc += b.refusal_rate * r.refusal;
        a.error_acc += b.error_rate * r.error;
        if (a.refusal_acc >= 1.0) {
            a.refusal_acc -= 1.0;
            o.category = outcome::refusal_provider;
        } else if (a.error_acc >= 1.0) {
            a.error_acc -= 1.0;
            o.category = outcome::server_error;
        } else {
            o.category =
                tokens >= static_cast<double>(m.max_tokens) ? outcome::truncated : outcome::ok;
        }
        const std::uint64_t rid = ++id;
        (void)window.add(request_event{t, role, rid, o});
        if (role == arm_role::shadow) return;
        a.feedback_acc += b.feedback_probability;
        if (a.feedback_acc < 1.0) return;
        a.feedback_acc -= 1.0;
        a.down_acc += std::min(1.0, b.thumbs_down_share * r.thumbs_down);
        feedback_kind kind = feedback_kind::thumbs_up;
        if (a.down_acc >= 1.0) {
            a.down_acc -= 1.0;
            kind = feedback_kind::thumbs_down;
        }
        const double v = radical_inverse(++a.feedback, 3);
        const double z =
            std::sqrt(2.0) * boost::math::erf_inv(2.0 * std::clamp(v, 1e-9, 1 - 1e-9) - 1.0);
        const double delay_s = std::min(
            b.feedback_delay_median_s * std::exp(b.feedback_delay_sigma * z), 30.0 * 86400.0);
        const std::int64_t at = t + static_cast<std::int64_t>(delay_s * 1e9);
        feedback.push({at, feedback_arrival{at, role, rid, kind, shadow ? 0.0 : share}});
    };

    std::int64_t next_request = 0;
    std::uint64_t requests = 0;
    for (std::int64_t t = req.check_interval_ns; t <= req.horizon_ns; t += req.check_interval_ns) {
        while (true) {
            next_request = static_cast<std::int64_t>(static_cast<double>(requests) / rate_per_ns);
            if (next_request >= t) break;
            while (!feedback.empty() && feedback.top().at < next_request) {
                (void)window.add(feedback.top().event);
                feedback.pop();
            }
            ++requests;
            if (shadow) {
                emit(next_request, arm_role::baseline, false);
                mirror_acc += mirror;
                if (mirror_acc >= 1.0) {
                    mirror_acc -= 1.0;
                    emit(next_request, arm_role::shadow, true);
                }
            } else {
                // Bresenham: exactly `share` of the requests, evenly spread.
                split_acc += share;
                if (split_acc >= 1.0) {
                    split_acc -= 1.0;
                    emit(next_request, arm_role::candidate, true);
                } else {
                    emit(next_request, arm_role::baseline, false);
                }
            }
        }
        while (!feedback.empty() && feedback.top().at < t) {
            (void)window.add(feedback.top().event);
            feedback.pop();
        }
        totals.merge(window.take(t - req.check_interval_ns, t));
        const policy_report report = judge.evaluate(state, totals, share);
        for (std::size_t g = 0; g < report.gates.size(); ++g) {
            const gate_evidence& ev = report.gates[g].evidence;
            if (report.gates[g].decision == verdict::fail && !out.fail[g]) out.fail[g] = t;
            mean_path[g].push_back(ev.log_e_value);
            thresholds[g] = ev.log_fail_threshold;
            if (report.gates[g].decision == verdict::pass && !out.pass[g]) out.pass[g] = t;
        }
        if (report.decision == verdict::pass && !out.policy_pass) out.policy_pass = t;
    }
    // Gates with an e-value: the median first passage, not the mean path's.
    for (std::size_t g = 0; g < cfg.gates.size(); ++g) {
        const auto& path = mean_path[g];
        if (path.empty() ||
            std::any_of(path.begin(), path.end(), [](double x) { return std::isnan(x); }))
            continue;
        if (const auto k = median_fail_check(path, thresholds[g]))
            out.fail[g] = static_cast<std::int64_t>(*k + 1) * req.check_interval_ns;
        else
            out.fail[g] = std::nullopt;
    }
    return out;
}

/// The output-length factor whose shift of a log-normal length moves the
/// Kolmogorov–Smirnov distance to `distance`: 2 Phi(ln f / (2 sigma)) - 1.
inline double length_factor_for_ks(double distance, double sigma) {
    const double z = std::sqrt(2.0) * boost::math::erf_inv(distance);
    return std::exp(2.0 * sigma * z);
}

/// snprintf into a std::string (the runbook's lines).
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
inline std::string
printf_string(const char* format, ...) {
    std::va_list args;
    va_start(args, format);
    std::va_list copy;
    va_copy(copy, args);
    const int n = std::vsnprintf(nullptr, 0, format, copy);
    va_end(copy);
    std::string out(n > 0 ? static_cast<std::size_t>(n) : 0, '\0');
    if (n > 0) (void)std::vsnprintf(out.data(), out.size() + 1, format, args);
    va_end(args);
    return out;
}

inline std::string duration_text(std::optional<std::int64_t> ns) {
    if (!ns) return "-";
    char b[32];
    const double minutes = static_cast<double>(*ns) / minute_ns;
    if (minutes < 120)
        std::snprintf(b, sizeof b, "%.0f min", minutes);
    else
        std::snprintf(b, sizeof b, "%.1f h", minutes / 60);
    return b;
}

}  // namespace detail

/// Plans `req.rollout` (see the file comment for how). Validates the
/// request (std::invalid_argument names the field).
[[nodiscard]] inline rollout_plan plan_rollout(const plan_request& req) {
    req.validate();
    rollout_plan plan;
    plan.request = req;
    const detail::marginals m = detail::sample_marginals(req);
    const controller_config& rc = req.rollout;
    const double rpm = req.traffic.requests_per_minute;

    for (std::size_t stage_index = 0; stage_index < rc.stages.size(); ++stage_index) {
        const rollout_stage& st = rc.stages[stage_index];
        const bool shadow = st.kind == stage_kind::shadow;
        const policy_config& pc = shadow ? *rc.shadow_policy : rc.policy;
        stage_plan sp;
        sp.name = rc.stage_name(stage_index);
        sp.kind = st.kind;
        sp.share = shadow ? (st.weights.shadow_ppm / 1e6) / (1.0 + st.weights.shadow_ppm / 1e6)
                          : st.weights.candidate_share();
        sp.candidate_requests_per_hour =
            shadow ? rpm * 60 * st.weights.shadow_ppm / 1e6 : rpm * 60 * sp.share;
        sp.baseline_requests_per_hour = shadow ? rpm * 60 : rpm * 60 * (1 - sp.share);
        sp.budget_ns = st.max_duration_ns > 0 ? std::min(st.max_duration_ns, req.horizon_ns / 2)
                                              : req.horizon_ns / 2;

        // Group the gates into runs whose regressions do not collide: each
        // run scales every signal at most one way.
        struct run {
            detail::signal_factors f;
            std::vector<bool> set = std::vector<bool>(signal_count, false);
            std::vector<std::size_t> gates;
        };
        std::vector<run> runs;
        sp.gates.resize(pc.gates.size());
        for (std::size_t i = 0; i < pc.gates.size(); ++i) {
            const gate& g = pc.gates[i];
            gate_plan& gp = sp.gates[i];
            gp.gate = g.name();
            gp.metric = g.metric();
            gp.critical = g.critical();
            signal target = g.metric();
            double factor = 1.0;
            if (g.metric() == signal::output_shape) {
                const auto& shape = std::get<shape_gate>(g.kind()).config();
                gp.tested_ratio = std::min(0.99, req.regression_factor * shape.ks_tolerance);
                factor =
                    detail::length_factor_for_ks(gp.tested_ratio, req.baseline.output_tokens_sigma);
                target = signal::output_length;
            } else {
                const double limit = g.tested_limit().value_or(1.0);
                gp.tested_ratio =
                    limit >= 1.0 ? limit * req.regression_factor : limit / req.regression_factor;
                factor = gp.tested_ratio;
            }
            gp.signal_factor = factor;
            bool modelled = true;
            if (g.metric() == signal::feedback_rate) {
                const auto* rate = std::get_if<rate_gate>(&g.kind());
                modelled = rate != nullptr && rate->config().feedback == feedback_kind::thumbs_down;
            }
            if (!modelled) {
                gp.capability = gate_capability::not_modelled;
                continue;
            }
            const auto slot = static_cast<std::size_t>(target);
            // A run takes the gate if it leaves the gate's signal alone or
            // already scales it by the same factor.
            auto placed = std::find_if(runs.begin(), runs.end(), [&](run& r) {
                return !r.set[slot] || detail::factor_of(r.f, target) == factor;
            });
            if (placed == runs.end()) {
                runs.emplace_back();
                placed = runs.end() - 1;
            }
            placed->set[slot] = true;
            placed->gates.push_back(i);
            detail::factor_of(placed->f, target) = factor;
        }
        for (const run& r : runs) {
            const auto path = detail::expected_path(req, m, pc, shadow, sp.share, r.f);
            for (const std::size_t i : r.gates) sp.gates[i].detect_ns = path.fail[i];
        }
        const auto null_path = detail::expected_path(req, m, pc, shadow, sp.share, {});
        sp.policy_pass_ns = null_path.policy_pass;

        std::int64_t dwell = st.min_dwell_ns;
        for (std::size_t i = 0; i < sp.gates.size(); ++i) {
            gate_plan& gp = sp.gates[i];
            gp.pass_ns = null_path.pass[i];
            const double per_request = [&] {
                switch (gp.metric) {
                    case signal::error_rate:
                        return req.baseline.error_rate;
                    case signal::refusal_rate:
                        return req.baseline.refusal_rate;
                    case signal::feedback_rate:
                        return req.baseline.feedback_probability * req.baseline.thumbs_down_share;
                    default:
                        return 1.0;
                }
            }();
            gp.candidate_events_per_hour = sp.candidate_requests_per_hour * per_request;
            if (gp.capability == gate_capability::not_modelled) continue;
            if (gp.detect_ns) {
                gp.users_at_detect = shadow ? 0.0
                                            : sp.candidate_requests_per_hour *
                                                  static_cast<double>(*gp.detect_ns) / hour_ns;
                gp.capability = *gp.detect_ns <= sp.budget_ns ? gate_capability::decides
                                : *gp.detect_ns <= 2 * sp.budget_ns
                                    ? gate_capability::marginal
                                    : gate_capability::cannot_decide;
                if (gp.capability != gate_capability::decides) {
                    gp.needed_requests_per_minute = rpm * static_cast<double>(*gp.detect_ns) /
                                                    static_cast<double>(sp.budget_ns);
                }
            } else {
                gp.capability = gate_capability::cannot_decide;
                gp.needed_requests_per_minute =
                    rpm * static_cast<double>(req.horizon_ns) / static_cast<double>(sp.budget_ns);
                gp.needed_is_lower_bound = true;
            }
            if (gp.critical && gp.capability == gate_capability::decides && gp.pass_ns)
                dwell = std::max(dwell, std::min(*gp.pass_ns, sp.budget_ns));
        }
        sp.recommended_dwell_ns = dwell;
        plan.expected_duration_ns += dwell;
        plan.stages.push_back(std::move(sp));
    }

    // Risk tolerance.
    char buf[512];
    if (rc.policy.alpha_fail > req.max_false_rollback) {
        std::snprintf(buf, sizeof buf,
                      "the policy's alpha_fail %.3g exceeds the false roll-back budget %.3g: lower "
                      "alpha_fail",
                      rc.policy.alpha_fail, req.max_false_rollback);
        plan.warnings.emplace_back(buf);
    }
    if (plan.expected_duration_ns > req.max_rollout_ns) {
        std::snprintf(buf, sizeof buf,
                      "a good candidate needs about %s, beyond the %s allowed: fewer or larger "
                      "stages, or more traffic",
                      detail::duration_text(plan.expected_duration_ns).c_str(),
                      detail::duration_text(req.max_rollout_ns).c_str());
        plan.warnings.emplace_back(buf);
    }
    for (std::size_t s = 0; s < plan.stages.size(); ++s) {
        for (const gate_plan& gp : plan.stages[s].gates) {
            if (!gp.critical || gp.capability != gate_capability::decides) continue;
            if (gp.users_at_detect > static_cast<double>(req.max_users_exposed)) {
                char what[64];
                if (gp.metric == signal::output_shape)
                    std::snprintf(what, sizeof what, "a shift of KS distance %.3g",
                                  gp.tested_ratio);
                else
                    std::snprintf(what, sizeof what, "a %.3g x regression", gp.tested_ratio);
                std::snprintf(buf, sizeof buf,
                              "%s: the candidate serves about %.0f users before %s catches %s, "
                              "more than the %llu allowed",
                              plan.stages[s].name.c_str(), gp.users_at_detect, gp.gate.c_str(),
                              what, static_cast<unsigned long long>(req.max_users_exposed));
                plan.warnings.emplace_back(buf);
            }
        }
    }
    return plan;
}

/// One gate at one stage: the planner's prediction beside the simulator's
/// measurement of the same regression at the same stage.
struct plan_check_row {
    std::string stage;
    std::string gate;
    gate_capability capability = gate_capability::cannot_decide;
    std::int64_t budget_ns = 0;
    std::optional<std::int64_t> predicted_ns;
    /// Median first-fail time over the seeds (a seed without a fail within
    /// the horizon counts as later than all); nullopt when the median is
    /// beyond the horizon.
    std::optional<std::int64_t> simulated_median_ns;
    /// Seeds whose gate failed within the stage's budget.
    rate_estimate detected_within_budget;
    /// The claim checked and whether it held: for `decides` and `marginal`
    /// predictions inside 80 % of the simulated horizon, |predicted − simulated| <=
    /// 35 % of the simulated median or one check interval (the comparison's
    /// resolution); for `cannot decide`, detection within the budget in
    /// under 20 % of seeds. relative_error = (predicted − simulated) /
    /// simulated.
    bool compared = false;
    bool agrees = true;
    double relative_error = std::numeric_limits<double>::quiet_NaN();
};

/// Runs the simulator (testing/simulation.hpp, the real pipeline on random
/// traffic) at every stage of `req`'s rollout with the planner's regressions
/// and compares each gate's median detection time with the plan. Each stage
/// is simulated as the planner plans it: the rollout sits at that stage
/// from the start, and every gate is made advisory so that one gate's fail
/// does not end the run before the others decide; for three times the
/// largest stage budget (at most the planner's horizon).
[[nodiscard]] inline std::vector<plan_check_row> check_plan(const rollout_plan& plan,
                                                            std::size_t seeds,
                                                            std::size_t threads = 0) {
    if (seeds == 0) {
        canarygate::detail::throw_bad_field("canarygate::testkit::check_plan", "seeds", seeds,
                                            "must be at least 1");
    }
    const plan_request& req = plan.request;
    // Simulated as far as the comparison needs: three times the largest
    // stage budget (every decides or marginal prediction lies within twice
    // its budget), at most the planner's horizon.
    std::int64_t horizon = 0;
    for (const auto& sp : plan.stages) horizon = std::max(horizon, 3 * sp.budget_ns);
    horizon = std::min(horizon, req.horizon_ns);
    // One simulated configuration per stage and regression (the planner's
    // run grouping is repeated: gates sharing a signal factor share a run).
    struct job {
        std::size_t stage;
        regression r;
        std::vector<std::size_t> gates;
    };
    std::vector<job> jobs;
    for (std::size_t s = 0; s < plan.stages.size(); ++s) {
        const stage_plan& sp = plan.stages[s];
        for (std::size_t g = 0; g < sp.gates.size(); ++g) {
            const gate_plan& gp = sp.gates[g];
            if (gp.capability == gate_capability::not_modelled) continue;
            regression r;
            switch (gp.metric) {
                case signal::latency:
                case signal::ttft:
                    r.latency = gp.signal_factor;
                    break;
                case signal::cost:
                    r.cost = gp.signal_factor;
                    break;
                case signal::error_rate:
                    r.error = gp.signal_factor;
                    break;
                case signal::refusal_rate:
                    r.refusal = gp.signal_factor;
                    break;
                case signal::output_length:
                case signal::output_shape:
                    r.output_length = gp.signal_factor;
                    break;
                case signal::feedback_rate:
                    r.thumbs_down = gp.signal_factor;
                    break;
            }
            auto same = std::find_if(jobs.begin(), jobs.end(), [&](const job& j) {
                return j.stage == s && j.r.latency == r.latency && j.r.cost == r.cost &&
                       j.r.error == r.error && j.r.refusal == r.refusal &&
                       j.r.output_length == r.output_length && j.r.thumbs_down == r.thumbs_down;
            });
            if (same == jobs.end()) {
                jobs.push_back({s, r, {}});
                same = jobs.end() - 1;
            }
            same->gates.push_back(g);
        }
    }
    // first_fail[job][seed][gate of the stage]
    std::vector<std::vector<std::vector<std::optional<std::int64_t>>>> first_fail(jobs.size());
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        first_fail[j].assign(seeds, std::vector<std::optional<std::int64_t>>(
                                        plan.stages[jobs[j].stage].gates.size()));
    }
    // The simulated configurations, validated here, on the caller's thread.
    const auto advisory = [](policy_config p) {
        for (auto& g : p.gates) g = g.with([](auto& c) { c.critical = false; });
        p.tuning.intervals = false;
        return p;
    };
    std::vector<simulation_config> configs;
    for (const job& jb : jobs) {
        simulation_config sim;
        sim.rollout = req.rollout;
        rollout_stage only = req.rollout.stages[jb.stage];
        only.min_dwell_ns = horizon + 1;  // never advances
        only.max_duration_ns = 0;
        sim.rollout.stages = {only};
        // A shadow stage cannot be the last: a canary stage follows that
        // the run never reaches.
        if (only.kind == stage_kind::shadow) sim.rollout.stages.push_back(rollout_stage{});
        sim.rollout.policy = advisory(sim.rollout.policy);
        if (sim.rollout.shadow_policy)
            sim.rollout.shadow_policy = advisory(*sim.rollout.shadow_policy);
        sim.traffic.traffic = req.traffic;
        sim.traffic.model = req.baseline;
        sim.traffic.candidate_regression = jb.r;
        sim.check_interval_ns = req.check_interval_ns;
        sim.horizon_ns = horizon;
        sim.validate();
        configs.push_back(std::move(sim));
    }
    std::atomic<std::size_t> next{0};
    const std::size_t total = jobs.size() * seeds;
    const auto work = [&] {
        while (true) {
            // relaxed: distinct job numbers only; join publishes the results.
            const std::size_t k = next.fetch_add(1, std::memory_order_relaxed);
            if (k >= total) return;
            const job& jb = jobs[k / seeds];
            const std::size_t seed = k % seeds;
            const simulation_result res =
                simulate(configs[k / seeds], suite_seed(7000 + k / seeds, seed));
            const rollout_stage& st = req.rollout.stages[jb.stage];
            const policy_config& pc =
                st.kind == stage_kind::shadow ? *req.rollout.shadow_policy : req.rollout.policy;
            for (const simulation_step& step : res.steps) {
                for (const gate_point& p : step.gates) {
                    if (p.decision != verdict::fail) continue;
                    const std::string& gname = res.gate_names[p.gate];
                    for (std::size_t g = 0; g < pc.gates.size(); ++g) {
                        if (pc.gates[g].name() == gname && !first_fail[k / seeds][seed][g])
                            first_fail[k / seeds][seed][g] = step.at_ns;
                    }
                }
            }
        }
    };
    if (threads == 0) threads = std::max(1U, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < std::min(threads, total); ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();

    std::vector<plan_check_row> rows;
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        const stage_plan& sp = plan.stages[jobs[j].stage];
        for (const std::size_t g : jobs[j].gates) {
            const gate_plan& gp = sp.gates[g];
            plan_check_row row;
            row.stage = sp.name;
            row.gate = gp.gate;
            row.capability = gp.capability;
            row.budget_ns = sp.budget_ns;
            row.predicted_ns = gp.detect_ns;
            std::vector<std::int64_t> times;
            std::uint64_t in_budget = 0;
            for (std::size_t seed = 0; seed < seeds; ++seed) {
                const auto& t = first_fail[j][seed][g];
                times.push_back(t ? *t : std::numeric_limits<std::int64_t>::max());
                in_budget += t && *t <= sp.budget_ns;
            }
            std::sort(times.begin(), times.end());
            // The lower median: a seed count that is even never averages
            // a detection with "never".
            const std::int64_t median = times[(times.size() - 1) / 2];
            if (median != std::numeric_limits<std::int64_t>::max())
                row.simulated_median_ns = median;
            row.detected_within_budget = estimate_rate(in_budget, seeds);
            if (gp.capability == gate_capability::cannot_decide) {
                row.compared = true;
                row.agrees = row.detected_within_budget.rate < 0.20;
            } else if (gp.detect_ns && *gp.detect_ns <= horizon * 4 / 5) {
                row.compared = true;
                if (!row.simulated_median_ns) {
                    row.agrees = false;
                } else {
                    // Against the simulated median, the quantity predicted.
                    const double pred = static_cast<double>(*gp.detect_ns);
                    const double sim = static_cast<double>(*row.simulated_median_ns);
                    row.relative_error = (pred - sim) / sim;
                    row.agrees = std::abs(pred - sim) <=
                                 std::max(0.35 * sim, static_cast<double>(req.check_interval_ns));
                }
            }
            rows.push_back(std::move(row));
        }
    }
    return rows;
}

/// The comparison as a markdown table.
[[nodiscard]] inline std::string format_plan_check(const std::vector<plan_check_row>& rows) {
    std::string md =
        "| stage | gate | planner | predicted detect | simulated median | error | detected "
        "within budget (95 % CI) | agrees |\n|---|---|---|---|---|---|---|---|\n";
    char buf[512];
    for (const auto& r : rows) {
        std::string error = "-";
        if (!std::isnan(r.relative_error)) {
            char e[32];
            std::snprintf(e, sizeof e, "%+.0f %%", 100 * r.relative_error);
            error = e;
        }
        std::snprintf(buf, sizeof buf,
                      "| %s | %s | %s | %s | %s | %s | %.0f %% (%.0f-%.0f %%) | %s |\n",
                      r.stage.c_str(), r.gate.c_str(), std::string(name(r.capability)).c_str(),
                      detail::duration_text(r.predicted_ns).c_str(),
                      detail::duration_text(r.simulated_median_ns).c_str(), error.c_str(),
                      100 * r.detected_within_budget.rate, 100 * r.detected_within_budget.lower,
                      100 * r.detected_within_budget.upper,
                      !r.compared ? "not compared"
                      : r.agrees  ? "yes"
                                  : "NO");
        md += buf;
    }
    return md;
}

/// The plan as a markdown runbook: the shadow -> canary -> 100 % plan, the
/// gate table per stage, the roll-back procedure, the alert rules, and what
/// to do on each verdict.
[[nodiscard]] inline std::string render_runbook(const rollout_plan& plan) {
    const plan_request& req = plan.request;
    std::string md;
    using detail::printf_string;
    md += "# Rollout runbook\n\n";
    md += printf_string(
        "Service: %.0f requests/minute. Baseline: errors %.2f %%, refusals %.2f %%, feedback on "
        "%.1f %% of requests (%.0f %% of it thumbs-down, median delay %.0f min). Checks every "
        "%.0f min. Each gate is planned against a regression of %.2g x its limit.\n\n",
        req.traffic.requests_per_minute, 100 * req.baseline.error_rate,
        100 * req.baseline.refusal_rate, 100 * req.baseline.feedback_probability,
        100 * req.baseline.thumbs_down_share, req.baseline.feedback_delay_median_s / 60,
        static_cast<double>(req.check_interval_ns) / minute_ns, req.regression_factor);
    md +=
        "Predictions are medians, from the policy's own gates run on the expected traffic of "
        "each stage (see \"How the planner predicts\" in the README): half of real rollouts "
        "take longer, and decisions that rest on few events (rate gates at small stages) "
        "vary most.\n\n";

    md += "## The plan\n\n";
    md +=
        "| # | stage | candidate requests/h | recommended dwell | stage budget | whole policy "
        "passes a good candidate after |\n|---|---|---|---|---|---|\n";
    for (std::size_t s = 0; s < plan.stages.size(); ++s) {
        const stage_plan& sp = plan.stages[s];
        md += printf_string(
            "| %zu | %s | %.0f | %s | %s | %s |\n", s + 1, sp.name.c_str(),
            sp.candidate_requests_per_hour, detail::duration_text(sp.recommended_dwell_ns).c_str(),
            detail::duration_text(sp.budget_ns).c_str(),
            sp.policy_pass_ns ? detail::duration_text(sp.policy_pass_ns).c_str()
                              : "not within the horizon: ends by its maximum duration");
    }
    md += printf_string(
        "| %zu | 100 %% | all | - | - | passing the last stage completes the rollout |\n\n",
        plan.stages.size() + 1);
    md += printf_string("A good candidate should need about %s in all.\n\n",
                        detail::duration_text(plan.expected_duration_ns).c_str());
    if (!plan.warnings.empty()) {
        md += "**Warnings**\n\n";
        for (const auto& w : plan.warnings) md += "- " + w + "\n";
        md += "\n";
    }

    md += "## Gates per stage\n\n";
    md +=
        "Detect: median time from the stage's start until the gate fails on the planned "
        "regression; users: requests served by the candidate by then. Pass: median time "
        "until it passes a good candidate. \"decides\": median detection within the stage's "
        "budget; \"marginal\": within twice the budget (some rollouts decide in time); "
        "\"cannot decide\": beyond that. Planned ratio: candidate/baseline (for "
        "output_shape, the Kolmogorov-Smirnov distance).\n\n";
    for (const stage_plan& sp : plan.stages) {
        md += printf_string("### %s\n\n", sp.name.c_str());
        md +=
            "| gate | critical | planned ratio | candidate events/h | detect | users by then | "
            "pass | verdict |\n|---|---|---|---|---|---|---|---|\n";
        for (const gate_plan& gp : sp.gates) {
            std::string verdict_text(name(gp.capability));
            if (gp.capability == gate_capability::marginal ||
                gp.capability == gate_capability::cannot_decide) {
                char need[96];
                std::snprintf(need, sizeof need, ": needs %s%.0f requests/min",
                              gp.needed_is_lower_bound ? "more than " : "",
                              gp.needed_requests_per_minute);
                verdict_text += need;
            }
            md += printf_string(
                "| %s | %s | %.3g | %.1f | %s | %s | %s | %s |\n", gp.gate.c_str(),
                gp.critical ? "yes" : "no (holds)", gp.tested_ratio, gp.candidate_events_per_hour,
                detail::duration_text(gp.detect_ns).c_str(),
                gp.detect_ns ? std::to_string(static_cast<long long>(gp.users_at_detect)).c_str()
                             : "-",
                detail::duration_text(gp.pass_ns).c_str(), verdict_text.c_str());
        }
        md += "\n";
    }

    md +=
        "## Roll-back (target: under 60 s end to end)\n\n"
        "1. The controller's step returns `roll_back`: it sets the router's weights to "
        "candidate 0, shadow off (one atomic store; routing threads see it within "
        "microseconds) and pins the baseline's model digest.\n"
        "2. Nothing is redeployed: the candidate's replicas stay up, unused, for the "
        "post-mortem.\n"
        "3. Where the controller runs outside the servers, it flips the policy file (or the "
        "flag in flagd) that the servers hot-reload; the roll-back then takes the file "
        "watcher's latency, not a deploy.\n"
        "4. Check the dashboards: candidate traffic at 0 within one scrape interval.\n\n"
        "What it needs: the router inside the serving process (or a flag the servers "
        "evaluate locally), checks at least every 30 s if the whole path must stay under "
        "60 s (with checks every ";
    md += printf_string("%.0f min the evidence waits up to that long before it is judged)",
                        static_cast<double>(req.check_interval_ns) / minute_ns);
    md += ", and no human in the loop for a critical gate's fail.\n\n";

    md +=
        "## Alerts\n\n"
        "- Shadow stage: `CanarygateShadowCostSpike` (shadow mean cost per request > 1.4 x "
        "the baseline's over 15 min, at least 200 shadow requests, for 10 min) and "
        "`CanarygateShadowErrorRateHigh` (shadow errors > 2 x, at least 10) from "
        "`examples/prometheus/shadow_alerts.yml`: warnings for a human; the shadow policy's "
        "gates decide.\n"
        "- The sample-ratio alarm (`invalid`): page the owner of the routing; the rollout "
        "holds until it clears.\n"
        "- A stage awaiting a human (`at_max = hold`) or a non-critical gate's fail: notify "
        "the rollout's owner.\n\n";

    md +=
        "## On each verdict\n\n"
        "- `pass`: the stage advances once its dwell and minimum requests are met. Nothing "
        "to do.\n"
        "- `keep_going` (continue): not enough evidence yet; the stage holds. If a stage "
        "stays here past its recommended dwell, check the table above: a gate that cannot "
        "decide at this stage will not, however long you wait.\n"
        "- `fail`: a critical gate showed a regression beyond its limit; the controller has "
        "rolled back. Read the gate's reason (ratio, interval, evidence) and fix the "
        "candidate; do not re-run the same candidate hoping for another result.\n"
        "- `invalid`: the traffic split is not what was configured (sample-ratio mismatch). "
        "The comparison is broken, not the candidate: fix the routing (sticky keys, a "
        "replica with stale weights, a load balancer in front) before trusting any gate. "
        "Never advance on `invalid`.\n"
        "- `no_regression_detected`: the stage ran out of time undecided. Weaker than "
        "`pass`: the gates that could not decide here are listed above; advance only if "
        "the later stages can decide them (the stage's `at_max` rule), otherwise hold and "
        "decide by hand.\n";
    return md;
}

}  // namespace testkit
CANARYGATE_NAMESPACE_END
