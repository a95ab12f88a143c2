// SPDX-License-Identifier: MIT
/// \file
/// A rollout simulated end to end through the real library, on a simulated
/// clock: generated traffic (testing/scenario.hpp) is routed request by
/// request by the real `router`, recorded by the real `recorder` (late
/// feedback through a `feedback_tracker`, by request id), turned into
/// cumulative snapshots by a `collector`, and judged at every check by a
/// `rollout_controller`, whose weights go back to the router — the loop an
/// inference server and its rollout controller run, minus the wall clock.
///
/// The same traffic (same seed: same arrivals, same responses) can instead
/// be judged by a naive controller, what Argo Rollouts and Flagger do today:
/// per-window thresholds on each signal (testing/naive.hpp's
/// window_threshold), a rollback after a number of failed checks, and a
/// stage advancing when its dwell has passed. Nothing else differs.
///
/// Example:
/// \code
///   canarygate::testkit::simulation_config sim;
///   sim.rollout.stages = canarygate::canary_stages({1, 10, 25, 50, 75}, 30 * canarygate::minute_ns);
///   sim.rollout.policy = canarygate::default_policy();
///   sim.rollout.baseline_digest = "sha256:...";  sim.rollout.candidate_digest = "sha256:...";
///   sim.traffic.candidate_regression.cost = 1.6;
///   const auto r = canarygate::testkit::simulate(sim, /*seed=*/7);
///   // r.outcome == rolled_back, r.stage_name == "canary 1 %", r.triggers == {"cost"}, ...
/// \endcode
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "canarygate/core/clock.hpp"
#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/record/feedback_tracker.hpp"
#include "canarygate/record/recorder.hpp"
#include "canarygate/rollout/controller.hpp"
#include "canarygate/rollout/router.hpp"
#include "canarygate/testing/naive.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/window/collector.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace testkit {

/// From `at_ns` on, the candidate's regression is `value` (a burst of errors
/// that starts and ends, a fix deployed mid-rollout).
struct regression_change {
    std::int64_t at_ns = 0;
    regression value;
};

/// One per-window threshold of the naive controller.
struct naive_check {
    std::string name;
    naive::window_threshold_config threshold;
};

/// What Argo Rollouts' and Flagger's analyses do with the lesson's limits:
/// each check compares the last window's statistic of each signal (P99
/// latency, mean cost, error and refusal rates, P90 output length,
/// thumbs-down rate) with multiplier × the baseline's, skipping windows where
/// an arm has fewer than 20 requests; a check with any signal over its limit
/// is a failed check.
[[nodiscard]] inline std::vector<naive_check> flagger_style_checks() {
    auto check = [](std::string name, signal s, double q, double k) {
        naive_check c;
        c.name = std::move(name);
        c.threshold.metric.metric = s;
        c.threshold.metric.quantile = q;
        c.threshold.multiplier = k;
        c.threshold.min_requests = 20;
        // Counting is the controller's (failed checks across signals), so
        // the comparator itself never stops.
        c.threshold.failure_limit = std::numeric_limits<std::uint64_t>::max();
        return c;
    };
    return {check("latency_p99", signal::latency, 0.99, 1.5),
            check("cost", signal::cost, 0.5, 1.2),
            check("error_rate", signal::error_rate, 0.5, 2.0),
            check("refusal_rate", signal::refusal_rate, 0.5, 2.0),
            check("output_length_p90", signal::output_length, 0.9, 1.5),
            check("thumbs_down_rate", signal::feedback_rate, 0.5, 1.5)};
}

/// Who decides the rollout in a simulation.
enum class judge_kind : std::uint8_t {
    canarygate,  ///< the rollout_controller and its policies
    naive        ///< per-window thresholds and a failed-check limit (Argo Rollouts / Flagger)
};

[[nodiscard]] constexpr std::string_view name(judge_kind j) noexcept {
    return j == judge_kind::canarygate ? "canarygate" : "naive";
}

struct simulation_config {
    /// The rollout: stages, policies, digests. The naive controller uses the
    /// same stages, advancing each after its min_dwell_ns.
    controller_config rollout;
    /// Both arms' traffic and the candidate's regression. Its stages,
    /// shadow_share and split_mismatch are not used: the router splits.
    scenario_config traffic;
    /// Changes of the candidate's regression over time, sorted by at_ns.
    std::vector<regression_change> regression_changes;
    /// A routing bug: the router is given the controller's candidate weight
    /// times this factor (1: no bug), while the controller and the feedback
    /// cohorts believe the configured weights. The sample-ratio check should
    /// notice.
    double routing_fault = 1.0;
    /// Routing: the flag key and the bucketing scheme (the request id, in
    /// decimal, is the routing key).
    router_config routing{.flag_key = "llm-rollout"};
    std::int64_t check_interval_ns = 5 * minute_ns;
    /// The simulation stops here if the rollout has not ended.
    std::int64_t horizon_ns = 24 * hour_ns;
    judge_kind judge = judge_kind::canarygate;
    /// The naive controller's checks and its rollback rule: roll back at the
    /// failed_checks_limit-th failed check (Flagger's `threshold`).
    std::vector<naive_check> naive_checks = flagger_style_checks();
    std::uint64_t failed_checks_limit = 3;
    /// Keep every step's gate evidence in the result (for plots); off, only
    /// the outcome is kept (for runs over many seeds).
    bool keep_trace = true;

    /// Throws std::invalid_argument naming the field and its value.
    void validate() const {
        constexpr std::string_view where = "canarygate::testkit::simulation_config";
        rollout.validate();
        traffic.validate();
        for (std::size_t i = 0; i < regression_changes.size(); ++i) {
            const std::string field = "regression_changes[" + std::to_string(i) + "].at_ns";
            if (regression_changes[i].at_ns < 0)
                canarygate::detail::throw_bad_field(where, field, regression_changes[i].at_ns,
                                                    "must be >= 0");
            if (i > 0 && regression_changes[i].at_ns < regression_changes[i - 1].at_ns)
                canarygate::detail::throw_bad_field(where, field, regression_changes[i].at_ns,
                                                    "must not be before the previous change");
            scenario_config probe = traffic;
            probe.candidate_regression = regression_changes[i].value;
            probe.validate();
        }
        if (!(routing_fault > 0.0) || std::isinf(routing_fault))
            canarygate::detail::throw_bad_field(where, "routing_fault", routing_fault,
                                                "must be positive and finite");
        routing.validate();
        if (check_interval_ns <= 0)
            canarygate::detail::throw_bad_field(where, "check_interval_ns", check_interval_ns,
                                                "must be positive");
        if (horizon_ns < check_interval_ns)
            canarygate::detail::throw_bad_field(where, "horizon_ns", horizon_ns,
                                                "must be at least check_interval_ns");
        if (judge != judge_kind::canarygate && judge != judge_kind::naive)
            canarygate::detail::throw_bad_field(where, "judge", static_cast<int>(judge),
                                                "is not a judge_kind");
        if (judge == judge_kind::naive) {
            if (naive_checks.empty())
                canarygate::detail::throw_bad_field(where, "naive_checks.size()",
                                                    naive_checks.size(),
                                                    "must be at least 1 for the naive judge");
            for (const auto& c : naive_checks) c.threshold.validate();
            if (failed_checks_limit == 0)
                canarygate::detail::throw_bad_field(where, "failed_checks_limit",
                                                    failed_checks_limit, "must be at least 1");
        }
    }
};

/// How a simulated rollout ended.
enum class simulation_outcome : std::uint8_t {
    completed,    ///< the candidate reached 100 %
    rolled_back,  ///< the candidate was rolled back
    held          ///< still undecided at the horizon (holding, awaiting a human, or alarmed)
};

[[nodiscard]] constexpr std::string_view name(simulation_outcome o) noexcept {
    switch (o) {
        case simulation_outcome::completed:
            return "completed";
        case simulation_outcome::rolled_back:
            return "rolled_back";
        case simulation_outcome::held:
            return "held";
    }
    return "unknown";
}

/// One gate's evidence at one step.
struct gate_point {
    std::size_t gate = 0;  ///< index into simulation_result::gate_names
    double log_e_value = 0.0;
    double log_fail_threshold = 0.0;
    verdict decision = verdict::keep_going;
    /// The gate's point estimate (candidate/baseline ratio; KS distance for
    /// the shape gate; the window's ratio for a naive check); NaN: no data.
    double estimate = std::numeric_limits<double>::quiet_NaN();
};

/// One check.
struct simulation_step {
    std::int64_t at_ns = 0;
    std::size_t stage = 0;  ///< the stage judged (before the step's action)
    stage_kind kind = stage_kind::canary;
    rollout_action action = rollout_action::hold;
    /// The policy's decision (canarygate) or this check's (naive: fail for a
    /// failed check, else keep_going).
    verdict decision = verdict::keep_going;
    routing_weights weights;  ///< after the step
    bool alarm = false;       ///< a sample-ratio mismatch is being reported
    std::vector<gate_point> gates;
    /// Requests the candidate had served users by this step.
    std::uint64_t candidate_requests = 0;
};

struct simulation_result {
    judge_kind judge = judge_kind::canarygate;
    simulation_outcome outcome = simulation_outcome::held;
    /// The stage where the rollout ended or was at the horizon;
    /// rollout.stages.size() once completed.
    std::size_t stage = 0;
    std::string stage_name;
    /// Time of the roll-back or completion; -1 while held.
    std::int64_t decided_at_ns = -1;
    /// A held rollout: the check since which a gate has been failing or the
    /// sample-ratio alarm raised without a break (the halt a human is asked
    /// to resolve), and the candidate's requests by then; -1 / 0 otherwise.
    std::int64_t halted_at_ns = -1;
    std::uint64_t candidate_requests_at_halt = 0;
    /// What rolled the candidate back: the failing gates' names (canarygate:
    /// critical gates, "paired_shadow_test", "ab_test"; naive: the checks
    /// over their limit at the last failed check).
    std::vector<std::string> triggers;
    /// A held rollout: the gates failing at its last step (advisory gates
    /// hold a rollout for a human instead of rolling it back).
    std::vector<std::string> holding_gates;
    /// The failing gates' own one-line reasons (gate_result::reason) at the
    /// step that rolled the candidate back, or at the last step of a held
    /// rollout: what a person reads to see why.
    std::vector<std::string> reasons;
    /// The first step that raised the sample-ratio alarm; -1: never.
    std::int64_t first_alarm_ns = -1;
    /// Requests the candidate served users before the decision (or the
    /// horizon): the users exposed to it. Shadow copies are not shown to
    /// anyone and are counted apart.
    std::uint64_t candidate_requests = 0;
    std::uint64_t shadow_requests = 0;
    std::uint64_t baseline_requests = 0;
    /// The controller's reason for its last step.
    std::string reason;
    /// Names of the gates in the trace (canary and shadow policies, or the
    /// naive checks), and the steps (keep_trace).
    std::vector<std::string> gate_names;
    std::vector<simulation_step> steps;
    /// Feedback the tracker could not attribute (its request was evicted or
    /// its delay exceeded the tracker's time to live): counted, not hidden.
    std::uint64_t feedback_unattributed = 0;
    std::uint64_t feedback_counted = 0;

    [[nodiscard]] bool rolled_back() const noexcept {
        return outcome == simulation_outcome::rolled_back;
    }
    [[nodiscard]] bool completed() const noexcept {
        return outcome == simulation_outcome::completed;
    }
};

namespace detail {

/// The routing weights a buggy router applies: candidate × fault, rounded,
/// kept inside the router's range.
inline routing_weights faulty(routing_weights w, double fault) {
    if (fault == 1.0 || w.candidate == 0) return w;
    const double c = std::round(static_cast<double>(w.candidate) * fault);
    constexpr double most = 2'097'151;  // the router's largest weight
    w.candidate = static_cast<std::uint32_t>(std::clamp(c, 1.0, most));
    return w;
}

/// A request id in decimal, the routing and feedback key of a simulation.
struct decimal_key {
    explicit decimal_key(std::uint64_t id) noexcept {
        // 20 digits hold any 64-bit value: to_chars cannot fail here.
        length = static_cast<std::size_t>(std::to_chars(text, text + sizeof text, id).ptr - text);
    }
    [[nodiscard]] std::string_view view() const noexcept { return {text, length}; }
    char text[24] = {};
    std::size_t length = 0;
};

inline std::size_t name_index(std::vector<std::string>& names, const std::string& n) {
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == n) return i;
    }
    names.push_back(n);
    return names.size() - 1;
}

}  // namespace detail

/// Runs one simulated rollout. Deterministic for a configuration and seed.
/// Validates the configuration first (std::invalid_argument names the
/// field). `on_step`, if given, sees every step as it happens.
inline simulation_result simulate(const simulation_config& config, std::uint64_t seed,
                                  const std::function<void(const simulation_step&)>& on_step = {}) {
    config.validate();
    const controller_config& plan = config.rollout;
    simulation_result out;
    out.judge = config.judge;

    // The embedding server: a router, a recorder with the three arms, a
    // feedback tracker, a collector on the simulated clock.
    recorder rec;
    const arm_id baseline_arm = rec.add_arm(plan.policy.baseline_arm, plan.baseline_digest);
    const arm_id candidate_arm = rec.add_arm(plan.policy.candidate_arm, plan.candidate_digest);
    const std::string shadow_name =
        plan.shadow_policy ? plan.shadow_policy->candidate_arm : std::string("shadow");
    const arm_id shadow_arm = rec.add_arm(shadow_name, plan.candidate_digest);
    const arm_id arm_of[] = {baseline_arm, candidate_arm, shadow_arm};
    collector_config collector_settings;
    collector_settings.slot_length = std::chrono::nanoseconds(config.check_interval_ns);
    collector_settings.windows = {std::chrono::nanoseconds(config.check_interval_ns)};
    collector_settings.publish = false;
    basic_collector<recorder, manual_clock> collector(rec, collector_settings);
    // The tracker remembers a request for the time in which 99.5 % of its
    // feedback arrives (the model's log-normal delay); later feedback is
    // counted as unattributed, not hidden. Its capacity holds that many
    // minutes of requests at the peak rate, with room to spare.
    const response_model& model = config.traffic.model;
    const double ttl_s = std::max(
        3600.0, model.feedback_delay_median_s * std::exp(2.5758 * model.feedback_delay_sigma));
    const double requests_per_ttl = config.traffic.traffic.requests_per_minute *
                                    (1 + config.traffic.traffic.diurnal_amplitude) * ttl_s / 60;
    std::size_t capacity = 1024;
    while (static_cast<double>(capacity) < 1.25 * requests_per_ttl &&
           capacity < attribution_config::max_capacity)
        capacity *= 2;
    feedback_tracker tracker({.capacity = capacity,
                              .ttl_ns = static_cast<std::int64_t>(ttl_s * 1e9),
                              .ring_capacity = std::size_t{1} << 14});
    const auto arm_name = [&](arm_id a) {
        const arm_info info = rec.arm(a);
        return std::pair{info.role, info.model_version};
    };

    std::optional<rollout_controller> controller;
    if (config.judge == judge_kind::canarygate) controller.emplace(plan, 0);
    router route(config.routing, detail::faulty(plan.stages.front().weights, config.routing_fault));
    routing_weights believed = plan.stages.front().weights;  // what the controller set

    scenario traffic(config.traffic, seed);
    traffic.set_router([&](std::uint64_t id) {
        const route_decision d = route.route(detail::decimal_key(id).view());
        return routed_request{
            d.target == route_target::candidate ? arm_role::candidate : arm_role::baseline,
            d.shadow, believed.candidate_share()};
    });
    const auto on_request = [&](const request_event& e) {
        const auto role = static_cast<std::size_t>(e.arm);
        rec.record(arm_of[role], e.outcome);
        if (e.arm == arm_role::candidate) ++out.candidate_requests;
        if (e.arm == arm_role::shadow) ++out.shadow_requests;
        if (e.arm == arm_role::baseline) ++out.baseline_requests;
        if (e.arm != arm_role::shadow) {
            (void)tracker.remember(detail::decimal_key(e.request_id).view(), arm_of[role],
                                   e.time_ns, believed.candidate_share());
        }
    };
    const auto on_feedback = [&](const feedback_arrival& f) {
        (void)tracker.feedback(detail::decimal_key(f.request_id).view(), {f.kind}, f.time_ns);
    };
    const auto apply = [&](routing_weights w) {
        believed = w;
        route.set_weights(detail::faulty(w, config.routing_fault));
    };

    // The naive controller's state.
    std::size_t naive_stage = 0;
    std::int64_t naive_stage_start = 0;
    std::uint64_t naive_failed_checks = 0;
    std::vector<naive::window_threshold_state> naive_state(config.naive_checks.size());
    std::optional<snapshot> previous_totals;
    if (config.judge == judge_kind::naive) {
        for (const auto& c : config.naive_checks) detail::name_index(out.gate_names, c.name);
    }

    std::size_t next_change = 0;
    for (std::int64_t t = config.check_interval_ns; t <= config.horizon_ns;
         t += config.check_interval_ns) {
        // Traffic up to the check, switching the regression where scheduled.
        while (next_change < config.regression_changes.size() &&
               config.regression_changes[next_change].at_ns < t) {
            const auto& change = config.regression_changes[next_change++];
            traffic.run(std::max(change.at_ns, traffic.now_ns()), on_request, on_feedback);
            traffic.set_regression(change.value);
        }
        traffic.run(t, on_request, on_feedback);
        collector.clock().set(t);
        collector.tick(t);
        tracker.tick(t);
        snapshot totals = collector.cumulative();
        tracker.add_to(totals, arm_name);

        simulation_step step;
        step.at_ns = t;
        if (controller) {
            const step_result r = controller->step(t, totals);
            step.stage = r.stage;
            step.kind = plan.stages[std::min(r.stage, plan.stages.size() - 1)].kind;
            step.action = r.action;
            step.weights = r.weights;
            step.alarm = r.alarm;
            if (r.report) {
                step.decision = r.report->decision;
                for (const auto& g : r.report->gates) {
                    step.gates.push_back({detail::name_index(out.gate_names, g.name),
                                          g.evidence.log_e_value, g.evidence.log_fail_threshold,
                                          g.decision, g.evidence.estimate});
                }
            }
            if (r.alarm && out.first_alarm_ns < 0) out.first_alarm_ns = t;
            out.reason = r.reason;
            if (r.action == rollout_action::roll_back) {
                out.outcome = simulation_outcome::rolled_back;
                if (r.report) {
                    for (const auto& g : r.report->gates) {
                        if (g.decision == verdict::fail && g.critical) {
                            out.triggers.push_back(g.name);
                            out.reasons.push_back(g.reason);
                        }
                    }
                }
                if (r.paired && r.paired->decision == verdict::fail)
                    out.triggers.emplace_back("paired_shadow_test");
                if (r.ab && r.ab->outcome == ab_outcome::candidate_worse)
                    out.triggers.emplace_back("ab_test");
                if (out.triggers.empty()) out.triggers.emplace_back("operator");
                if (out.reasons.empty()) out.reasons.push_back(r.reason);
            }
            if (r.phase == rollout_phase::completed) out.outcome = simulation_outcome::completed;
            out.holding_gates.clear();
            if (r.action != rollout_action::roll_back) out.reasons.clear();
            if (r.report && r.action == rollout_action::hold) {
                for (const auto& g : r.report->gates) {
                    if (g.decision == verdict::fail) {
                        out.holding_gates.push_back(g.name);
                        out.reasons.push_back(g.reason);
                    }
                }
            }
            if (r.action == rollout_action::hold && r.alarm) out.reasons.push_back(r.reason);
            const bool halted =
                r.action == rollout_action::hold && (r.alarm || !out.holding_gates.empty());
            if (!halted) {
                out.halted_at_ns = -1;
            } else if (out.halted_at_ns < 0) {
                out.halted_at_ns = t;
                out.candidate_requests_at_halt = out.candidate_requests;
            }
            out.stage = r.phase == rollout_phase::completed ? plan.stages.size() : r.stage;
        } else {
            const rollout_stage& st = plan.stages[naive_stage];
            const std::string& c_name =
                st.kind == stage_kind::shadow ? shadow_name : plan.policy.candidate_arm;
            step.stage = naive_stage;
            step.kind = st.kind;
            const arm_snapshot* b = totals.find_arm(plan.policy.baseline_arm);
            const arm_snapshot* c = totals.find_arm(c_name);
            std::vector<std::string> over;
            if (b != nullptr && c != nullptr) {
                arm_snapshot b_inc = *b;
                arm_snapshot c_inc = *c;
                if (previous_totals) {
                    if (const arm_snapshot* pb = previous_totals->find_arm(b->arm()))
                        b_inc.subtract(*pb);
                    if (const arm_snapshot* pc = previous_totals->find_arm(c->arm()))
                        c_inc.subtract(*pc);
                }
                for (std::size_t k = 0; k < config.naive_checks.size(); ++k) {
                    const auto& check = config.naive_checks[k];
                    // Feedback is judged only where users see the candidate.
                    if (st.kind == stage_kind::shadow && check.threshold.metric.is_rate() &&
                        check.threshold.metric.metric == signal::feedback_rate)
                        continue;
                    const std::uint64_t before = naive_state[k].failed;
                    const naive::result r =
                        naive::evaluate(check.threshold, naive_state[k], b_inc, c_inc);
                    const bool failed = naive_state[k].failed > before;
                    if (failed) over.push_back(check.name);
                    // The trace's "evidence" of a naive check: the log of
                    // the window's ratio against the log of its limit.
                    const double ratio = r.candidate_value / r.baseline_value;
                    step.gates.push_back({k, std::log(ratio), std::log(check.threshold.multiplier),
                                          failed ? verdict::fail : verdict::keep_going, ratio});
                }
            }
            previous_totals = std::move(totals);
            step.decision = over.empty() ? verdict::keep_going : verdict::fail;
            naive_failed_checks += !over.empty();
            if (naive_failed_checks >= config.failed_checks_limit) {
                step.action = rollout_action::roll_back;
                out.outcome = simulation_outcome::rolled_back;
                out.triggers = over;
                step.weights = {.baseline = 1, .candidate = 0};
                out.reason = std::to_string(naive_failed_checks) + " failed checks";
            } else if (t - naive_stage_start >= st.min_dwell_ns) {
                naive_stage_start = t;
                ++naive_stage;
                if (naive_stage == plan.stages.size()) {
                    step.action = rollout_action::complete;
                    out.outcome = simulation_outcome::completed;
                    step.weights = {.baseline = 0, .candidate = 1};
                } else {
                    step.action = rollout_action::advance;
                    step.weights = plan.stages[naive_stage].weights;
                }
            } else {
                step.weights = st.weights;
            }
            out.stage = naive_stage;
        }
        step.candidate_requests = out.candidate_requests;
        if (on_step) on_step(step);
        apply(step.weights);
        const bool ended = out.outcome != simulation_outcome::held;
        if (ended) out.decided_at_ns = t;
        if (config.keep_trace) out.steps.push_back(std::move(step));
        if (ended) break;
    }
    if (out.outcome != simulation_outcome::held) out.halted_at_ns = -1;
    out.stage_name =
        out.stage < plan.stages.size() ? plan.stage_name(out.stage) : std::string("100 %");
    const feedback_tracker_stats fb = tracker.stats();
    out.feedback_counted = fb.counted;
    out.feedback_unattributed = fb.map.unknown_id + fb.map.expired_id;
    return out;
}

}  // namespace testkit
CANARYGATE_NAMESPACE_END
