// SPDX-License-Identifier: MIT
/// \file
/// The rollout controller: a deterministic state machine that walks a
/// candidate through its stages (shadow, canary weights, optionally an A/B
/// stage), judges each check with the policy, and says what the router must
/// do.
///
/// - `step(now, totals)` evaluates the stage's policy on the cumulative
///   snapshot and returns an action with the routing weights to apply and
///   the report behind it. Time is an argument (nanoseconds on the caller's
///   clock), so a test drives it with a manual clock and a simulation runs it
///   faster than real time.
/// - A critical gate's `fail` rolls back at once: candidate weight 0, shadow
///   off, the baseline's model digest pinned as the roll-back target. A
///   sample-ratio mismatch (`invalid`) holds and raises an alarm; it never
///   rolls back, since the comparison itself is broken, not the candidate.
///   `keep_going` holds. `pass` advances once the stage's minimum dwell time
///   and minimum candidate requests are met.
/// - At a stage's maximum duration the policy is asked once more with the
///   clock run out; what then happens to a candidate that has not proved
///   itself is the stage's `at_max` rule: hold for a human (the default, as
///   Argo Rollouts' Inconclusive), roll back, or advance on
///   `no_regression_detected`. Nothing reaches 100 % by the clock alone
///   unless the configuration says so.
/// - Operator commands (pause, resume, abort, promote now) are queued with
///   who and why and applied, in order, at the next step. A paused rollout
///   keeps judging: a fail still rolls it back.
/// - The evidence of the canary stages is one `policy_state` carried from
///   stage to stage (the anytime-valid tests do not restart); the shadow
///   stage has its own, since it compares another arm. A shadow stage may
///   also run the paired test (rollout/shadow_pairs.hpp): its fail rolls
///   back too.
/// - An A/B stage keeps the policy's gates as guardrails (their fail rolls
///   back) and lets the A/B comparison (rollout/ab_test.hpp) decide: better
///   advances, worse rolls back, no difference at the deadline follows the
///   stage's rule.
/// - The state saves to JSON and back exactly, and each step is one audit
///   line: integration/json_rollout.hpp.
///
/// 100 % is not a stage: with no baseline traffic left there is nothing to
/// compare with. Passing the last stage completes the rollout and routes
/// every request to the candidate.
///
/// Example:
/// \code
///   canarygate::controller_config config;
///   config.stages = canarygate::canary_stages({1, 10, 25, 50, 75}, 30 * canarygate::minute_ns);
///   config.policy = canarygate::default_policy();
///   config.shadow_policy = canarygate::default_shadow_policy();  // for shadow stages
///   config.baseline_digest = "sha256:...";  config.candidate_digest = "sha256:...";
///   canarygate::rollout_controller controller(config, clock_now);
///   router.set_weights(controller.weights());
///   every five minutes:
///       const auto result = controller.step(clock_now, collector.cumulative());
///       router.set_weights(result.weights);      // a roll-back is this one store
/// \endcode
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "canarygate/core/clock.hpp"
#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/gates/policy.hpp"
#include "canarygate/gates/verdict.hpp"
#include "canarygate/record/series.hpp"
#include "canarygate/rollout/ab_test.hpp"
#include "canarygate/rollout/router.hpp"
#include "canarygate/rollout/shadow_pairs.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

enum class stage_kind : std::uint8_t {
    shadow,  ///< no user sees the candidate; a fraction of requests is mirrored to it
    canary,  ///< the candidate serves its weight of user traffic
    ab_test  ///< a fixed split judged by the A/B comparison, guardrail gates active
};

[[nodiscard]] constexpr std::string_view name(stage_kind k) noexcept {
    switch (k) {
        case stage_kind::shadow:
            return "shadow";
        case stage_kind::canary:
            return "canary";
        case stage_kind::ab_test:
            return "A/B";
    }
    return "unknown";
}

/// What a stage does when its maximum duration runs out before the policy
/// passed it.
enum class max_duration_rule : std::uint8_t {
    hold,       ///< wait for a human (resume, promote now, abort): the default
    roll_back,  ///< treat "not proven in time" as a failure
    advance     ///< advance on no_regression_detected (never on invalid or fail)
};

[[nodiscard]] constexpr std::string_view name(max_duration_rule r) noexcept {
    switch (r) {
        case max_duration_rule::hold:
            return "hold";
        case max_duration_rule::roll_back:
            return "roll_back";
        case max_duration_rule::advance:
            return "advance";
    }
    return "unknown";
}

struct rollout_stage {
    stage_kind kind = stage_kind::canary;
    /// Canary and A/B: both weights positive (the candidate's share is in
    /// (0, 1)). Shadow: candidate weight 0 and shadow_ppm > 0.
    routing_weights weights{.baseline = 99, .candidate = 1};
    /// Shortest time in the stage before a pass may advance it.
    std::int64_t min_dwell_ns = 0;
    /// Fewest requests the stage's candidate arm (the shadow arm in a shadow
    /// stage) must serve in the stage before a pass may advance it.
    std::uint64_t min_candidate_requests = 0;
    /// 0: none.
    std::int64_t max_duration_ns = 0;
    max_duration_rule at_max = max_duration_rule::hold;
    /// For logs and the audit trail ("canary 10 %"); empty: derived.
    std::string name;
};

/// Canary stages at the given candidate percentages (e.g. {1, 10, 25, 50,
/// 75}), each with the same dwell, no request minimum and no maximum.
[[nodiscard]] inline std::vector<rollout_stage> canary_stages(
    std::initializer_list<std::uint32_t> percents, std::int64_t min_dwell_ns) {
    std::vector<rollout_stage> stages;
    for (const std::uint32_t p : percents) {
        rollout_stage s;
        s.weights = {.baseline = 100 - p, .candidate = p};
        s.min_dwell_ns = min_dwell_ns;
        stages.push_back(s);
    }
    return stages;
}

namespace detail {
/// A model's content digest: "sha256:" and 64 lowercase hex digits.
[[nodiscard]] constexpr bool is_model_digest(std::string_view digest) noexcept {
    constexpr std::string_view prefix = "sha256:";
    if (digest.size() != prefix.size() + 64 || !digest.starts_with(prefix)) return false;
    for (const char c : digest.substr(prefix.size())) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}
}  // namespace detail

struct controller_config {
    /// In order; at least one.
    std::vector<rollout_stage> stages;
    /// The canary stages' policy (arms baseline_arm / candidate_arm).
    policy_config policy;
    /// The shadow stages' policy: its candidate_arm is the arm the mirrored
    /// requests are recorded as (e.g. "shadow"). Required when a stage is a
    /// shadow stage.
    std::optional<policy_config> shadow_policy;
    /// The paired shadow test (rollout/shadow_pairs.hpp): in a shadow stage,
    /// its fail rolls back like the policy's. Its alpha_fail adds to the
    /// shadow policy's. Unset: no paired test.
    std::optional<paired_test_config> paired_shadow;
    /// The A/B comparison of an A/B stage (rollout/ab_test.hpp): its arms
    /// must be the policy's, whose gates stay active as guardrails. In an
    /// A/B stage the candidate advances when the comparison shows it better
    /// (and the stage's dwell and minimum requests are met), is rolled back
    /// when it shows it worse, and at the maximum duration with no
    /// difference shown the stage's at_max rule applies. Required when a
    /// stage is an A/B stage.
    std::optional<ab_test_config> ab;
    /// Content digests of the models ("sha256:" and 64 lowercase hex digits).
    std::string baseline_digest;
    std::string candidate_digest;

    /// Throws std::invalid_argument naming the field and its value.
    void validate() const {
        constexpr std::string_view where = "canarygate::controller_config";
        if (stages.empty())
            detail::throw_bad_field(where, "stages.size()", stages.size(), "must be at least 1");
        for (std::size_t i = 0; i < stages.size(); ++i) {
            const rollout_stage& s = stages[i];
            const std::string field = "stages[" + std::to_string(i) + "]";
            if (s.kind != stage_kind::shadow && s.kind != stage_kind::canary &&
                s.kind != stage_kind::ab_test)
                detail::throw_bad_field(where, field + ".kind", static_cast<int>(s.kind),
                                        "is not a stage_kind");
            if (s.kind != stage_kind::shadow &&
                (s.weights.baseline == 0 || s.weights.candidate == 0)) {
                detail::throw_invalid_argument(
                    std::string(where) + ": " + field + ".weights = {baseline " +
                    std::to_string(s.weights.baseline) + ", candidate " +
                    std::to_string(s.weights.candidate) +
                    "}: a canary or A/B stage needs both arms (100 % is not a "
                    "stage: passing the last stage "
                    "completes the rollout)");
            }
            if (s.kind == stage_kind::shadow &&
                (s.weights.candidate != 0 || s.weights.shadow_ppm == 0)) {
                detail::throw_invalid_argument(std::string(where) + ": " + field +
                                               ": a shadow stage needs weights.candidate = 0 and "
                                               "weights.shadow_ppm > 0, got candidate " +
                                               std::to_string(s.weights.candidate) +
                                               ", shadow_ppm " +
                                               std::to_string(s.weights.shadow_ppm));
            }
            if (s.kind == stage_kind::shadow && !shadow_policy) {
                detail::throw_invalid_argument(std::string(where) + ": " + field +
                                               " is a shadow stage but shadow_policy is not set");
            }
            if (s.kind == stage_kind::ab_test && !ab) {
                detail::throw_invalid_argument(std::string(where) + ": " + field +
                                               " is an A/B stage but ab is not set");
            }
            if (s.weights.baseline > max_routing_weight ||
                s.weights.candidate > max_routing_weight || s.weights.shadow_ppm > shadow_scale) {
                detail::throw_invalid_argument(
                    std::string(where) + ": " + field +
                    ".weights exceed the router's limits (weights <= 2097151, "
                    "shadow_ppm <= 1000000)");
            }
            if (s.min_dwell_ns < 0)
                detail::throw_bad_field(where, field + ".min_dwell_ns", s.min_dwell_ns,
                                        "must be >= 0");
            if (s.max_duration_ns < 0)
                detail::throw_bad_field(where, field + ".max_duration_ns", s.max_duration_ns,
                                        "must be >= 0 (0: none)");
            if (s.max_duration_ns > 0 && s.max_duration_ns < s.min_dwell_ns) {
                detail::throw_bad_field(
                    where, field + ".max_duration_ns", s.max_duration_ns,
                    "must be 0 or at least min_dwell_ns (" + std::to_string(s.min_dwell_ns) + ")");
            }
            if (s.at_max != max_duration_rule::hold && s.at_max != max_duration_rule::roll_back &&
                s.at_max != max_duration_rule::advance) {
                detail::throw_bad_field(where, field + ".at_max", static_cast<int>(s.at_max),
                                        "is not a max_duration_rule");
            }
        }
        if (stages.back().kind == stage_kind::shadow) {
            detail::throw_invalid_argument(
                std::string(where) + ": stages[" + std::to_string(stages.size() - 1) +
                "] is a shadow stage; the last stage must be a canary or A/B stage, so that "
                "users meet the candidate at a share before it gets all of them");
        }
        policy.validate();
        if (shadow_policy) {
            shadow_policy->validate();
            if (shadow_policy->baseline_arm != policy.baseline_arm) {
                detail::throw_invalid_argument(
                    std::string(where) + ": shadow_policy.baseline_arm '" +
                    shadow_policy->baseline_arm + "' differs from policy.baseline_arm '" +
                    policy.baseline_arm + "'");
            }
            if (shadow_policy->candidate_arm == policy.candidate_arm) {
                detail::throw_invalid_argument(
                    std::string(where) + ": shadow_policy.candidate_arm '" +
                    shadow_policy->candidate_arm +
                    "' must name the shadow arm, not the canary's candidate arm");
            }
        }
        if (paired_shadow) paired_shadow->validate();
        if (ab) {
            (void)ab_test(*ab);  // validates the comparison's own fields
            if (ab->baseline_arm != policy.baseline_arm ||
                ab->candidate_arm != policy.candidate_arm) {
                detail::throw_invalid_argument(
                    std::string(where) + ": ab compares '" + ab->candidate_arm + "' with '" +
                    ab->baseline_arm + "' but the policy's guardrails compare '" +
                    policy.candidate_arm + "' with '" + policy.baseline_arm +
                    "': an A/B stage judges one pair of arms");
            }
        }
        check_digest(where, "baseline_digest", baseline_digest);
        check_digest(where, "candidate_digest", candidate_digest);
    }

    /// The stage's display name: its own, or "shadow 5 %" / "canary 10 %".
    [[nodiscard]] std::string stage_name(std::size_t i) const {
        const rollout_stage& s = stages.at(i);
        if (!s.name.empty()) return s.name;
        const double percent = s.kind == stage_kind::shadow ? s.weights.shadow_ppm / 1e4
                                                            : 100.0 * s.weights.candidate_share();
        char text[48];
        std::snprintf(text, sizeof text, "%s %g %%", std::string(name(s.kind)).c_str(), percent);
        return text;
    }

private:
    static void check_digest(std::string_view where, std::string_view field,
                             const std::string& digest) {
        if (!detail::is_model_digest(digest))
            detail::throw_bad_field(where, field, digest,
                                    "must be 'sha256:' and 64 lowercase hex digits");
    }
};

enum class rollout_phase : std::uint8_t {
    running,         ///< judging the current stage
    paused,          ///< an operator paused it: judged, never advanced
    awaiting_human,  ///< a stage ran out of time undecided (at_max = hold)
    rolled_back,     ///< terminal: the baseline serves everything
    completed        ///< terminal: the candidate serves everything
};

[[nodiscard]] constexpr std::string_view name(rollout_phase p) noexcept {
    switch (p) {
        case rollout_phase::running:
            return "running";
        case rollout_phase::paused:
            return "paused";
        case rollout_phase::awaiting_human:
            return "awaiting_human";
        case rollout_phase::rolled_back:
            return "rolled_back";
        case rollout_phase::completed:
            return "completed";
    }
    return "unknown";
}

enum class rollout_action : std::uint8_t {
    hold,       ///< keep the current weights
    advance,    ///< move to the next stage's weights
    roll_back,  ///< candidate weight 0, shadow off
    promote,    ///< an operator promoted the candidate to 100 %
    complete    ///< the last stage passed: the candidate serves 100 %
};

[[nodiscard]] constexpr std::string_view name(rollout_action a) noexcept {
    switch (a) {
        case rollout_action::hold:
            return "hold";
        case rollout_action::advance:
            return "advance";
        case rollout_action::roll_back:
            return "roll_back";
        case rollout_action::promote:
            return "promote";
        case rollout_action::complete:
            return "complete";
    }
    return "unknown";
}

enum class operator_command_kind : std::uint8_t { pause, resume, abort, promote_now };

[[nodiscard]] constexpr std::string_view name(operator_command_kind k) noexcept {
    switch (k) {
        case operator_command_kind::pause:
            return "pause";
        case operator_command_kind::resume:
            return "resume";
        case operator_command_kind::abort:
            return "abort";
        case operator_command_kind::promote_now:
            return "promote_now";
    }
    return "unknown";
}

struct operator_command {
    operator_command_kind kind = operator_command_kind::pause;
    std::string who;
    std::string why;
    std::int64_t submitted_ns = 0;
    friend bool operator==(const operator_command&, const operator_command&) = default;
};

/// Everything the controller knows; plain data, saved and restored whole
/// (integration/json_rollout.hpp) to resume a stopped controller.
struct rollout_state {
    rollout_phase phase = rollout_phase::running;
    std::size_t stage = 0;
    std::int64_t stage_started_ns = 0;
    /// When the stage's maximum duration runs out (a resume after a hold
    /// starts a new period); 0: none.
    std::int64_t stage_deadline_ns = 0;
    /// The stage arm's requests in the cumulative totals when the stage
    /// began (-1: not seen yet; the stage's first step sets it).
    std::int64_t stage_start_requests = -1;
    policy_state canary_evidence;
    policy_state shadow_evidence;
    paired_test_state paired_evidence;
    ab_test::state ab_evidence;
    /// What each arm serves and what a roll-back returns to.
    std::string baseline_digest;
    std::string candidate_digest;
    std::string rollback_digest;
    std::vector<operator_command> pending_commands;
    /// The last sample-ratio check failed and nobody has seen it pass since.
    bool alarm = false;
    std::uint64_t steps = 0;
    /// Why the phase is what it is (the last decision's reason).
    std::string reason;
};

/// What one step decided.
struct step_result {
    std::int64_t at_ns = 0;
    rollout_action action = rollout_action::hold;
    /// The weights the router must have after this step.
    routing_weights weights;
    /// The stage before the step (its index and name) and after it.
    std::size_t stage = 0;
    std::string stage_name;
    std::size_t next_stage = 0;
    rollout_phase phase = rollout_phase::running;
    /// The policy's report at this step (none once the rollout has ended).
    std::optional<policy_report> report;
    /// The paired shadow test's result, in a shadow stage that has one.
    std::optional<paired_result> paired;
    /// The A/B comparison's result, in an A/B stage.
    std::optional<ab_result> ab;
    /// Commands applied at this step, in order.
    std::vector<operator_command> commands;
    bool alarm = false;
    bool dwell_met = false;
    bool requests_met = false;
    bool at_max_duration = false;
    /// The stage arm's requests in this stage so far.
    std::uint64_t stage_requests = 0;
    std::string reason;
};

/// What decide() needs besides the report: the stage's progress.
struct stage_progress {
    std::uint64_t requests = 0;
};

class rollout_controller {
public:
    /// Starts a rollout at `start_ns` in its first stage. Validates the
    /// configuration (std::invalid_argument names the field).
    rollout_controller(controller_config config, std::int64_t start_ns)
        : config_(validated(std::move(config))),
          canary_policy_(config_.policy),
          shadow_policy_(make_shadow_policy(config_)),
          paired_test_(make_paired_test(config_)),
          ab_test_(make_ab_test(config_)) {
        state_.stage_started_ns = start_ns;
        state_.stage_deadline_ns = deadline(0, start_ns);
        state_.baseline_digest = config_.baseline_digest;
        state_.candidate_digest = config_.candidate_digest;
        state_.rollback_digest = config_.baseline_digest;
        state_.reason = "started in " + config_.stage_name(0);
    }

    /// Resumes from a saved state. Throws std::invalid_argument when the
    /// state does not fit the configuration (stage index, digests).
    rollout_controller(controller_config config, rollout_state saved)
        : config_(validated(std::move(config))),
          canary_policy_(config_.policy),
          shadow_policy_(make_shadow_policy(config_)),
          paired_test_(make_paired_test(config_)),
          ab_test_(make_ab_test(config_)),
          state_(std::move(saved)) {
        constexpr std::string_view where = "canarygate::rollout_controller (resume)";
        if (state_.stage >= config_.stages.size())
            detail::throw_bad_field(where, "state.stage", state_.stage,
                                    "is past the configuration's last stage (" +
                                        std::to_string(config_.stages.size() - 1) + ")");
        if (state_.baseline_digest != config_.baseline_digest ||
            state_.candidate_digest != config_.candidate_digest) {
            detail::throw_invalid_argument(
                std::string(where) +
                ": the saved state's digests differ from the configuration's "
                "(state: baseline " +
                state_.baseline_digest + ", candidate " + state_.candidate_digest + ")");
        }
    }

    [[nodiscard]] const controller_config& config() const noexcept { return config_; }
    [[nodiscard]] const rollout_state& state() const noexcept { return state_; }
    [[nodiscard]] const rollout_stage& current_stage() const noexcept {
        return config_.stages[state_.stage];
    }

    /// The weights the router must have now.
    [[nodiscard]] routing_weights weights() const noexcept {
        switch (state_.phase) {
            case rollout_phase::rolled_back:
                return {.baseline = 1, .candidate = 0, .shadow_ppm = 0};
            case rollout_phase::completed:
                return {.baseline = 0, .candidate = 1, .shadow_ppm = 0};
            default:
                return current_stage().weights;
        }
    }

    /// Queues an operator command; it takes effect at the next step.
    void submit(operator_command command) { state_.pending_commands.push_back(std::move(command)); }

    /// One check: judges the cumulative snapshot `totals` (the recorder's or
    /// collector's totals since the start) with the current stage's policy
    /// and decides. Throws std::invalid_argument, changing nothing, when the
    /// policy refuses the snapshot (see policy::evaluate).
    step_result step(std::int64_t now_ns, const snapshot& totals,
                     const paired_counts* pairs = nullptr) {
        if (terminal()) return finished_step(now_ns);
        const rollout_stage& stage = current_stage();
        const bool shadow = stage.kind == stage_kind::shadow;
        const policy& judge = shadow ? *shadow_policy_ : canary_policy_;
        const std::string& arm = judge.config().candidate_arm;
        const std::uint64_t arm_requests = requests_of(totals, arm);
        policy_state evidence = shadow ? state_.shadow_evidence : state_.canary_evidence;
        const bool at_max = deadline_reached(now_ns);
        const policy_report report = judge.evaluate(evidence, totals, stage_share(stage), at_max);
        std::optional<paired_result> paired;
        paired_test_state paired_evidence = state_.paired_evidence;
        if (shadow && paired_test_ && pairs != nullptr)
            paired = paired_test_->evaluate(paired_evidence, *pairs);
        std::optional<ab_result> ab;
        ab_test::state ab_evidence = state_.ab_evidence;
        if (stage.kind == stage_kind::ab_test) ab = ab_test_->evaluate(ab_evidence, totals, at_max);
        // Every test accepted its input: commit the evidence.
        (shadow ? state_.shadow_evidence : state_.canary_evidence) = std::move(evidence);
        state_.paired_evidence = std::move(paired_evidence);
        state_.ab_evidence = std::move(ab_evidence);
        if (state_.stage_start_requests < 0)
            state_.stage_start_requests = static_cast<std::int64_t>(arm_requests);
        const auto start = static_cast<std::uint64_t>(state_.stage_start_requests);
        const stage_progress progress{arm_requests > start ? arm_requests - start : 0};
        step_result result =
            decide(now_ns, report, progress, paired ? &*paired : nullptr, ab ? &*ab : nullptr);
        if (result.action == rollout_action::advance) {
            // The new stage counts from these totals, in its own arm (a
            // shadow stage's arm is not the canary's).
            const bool next_shadow = current_stage().kind == stage_kind::shadow;
            const policy& next = next_shadow ? *shadow_policy_ : canary_policy_;
            state_.stage_start_requests =
                static_cast<std::int64_t>(requests_of(totals, next.config().candidate_arm));
            // A policy that judges for the first time (the canary after the
            // shadow stage) starts from these totals too: the traffic before
            // was routed by another split and belongs to the other policy.
            policy_state& next_evidence =
                next_shadow ? state_.shadow_evidence : state_.canary_evidence;
            if (next_shadow != shadow) next_evidence.previous_totals = totals;
            // An A/B comparison judges its own stage's fixed split only.
            if (current_stage().kind == stage_kind::ab_test) {
                state_.ab_evidence = ab_test::state{};
                ab_test_->start(state_.ab_evidence, totals);
            }
        }
        return result;
    }

    /// The state machine itself, given the policy's report for this step, the
    /// stage's progress and the paired shadow test's result (if any):
    /// applies the queued commands, then decides; a paired fail rolls back
    /// like the policy's, a paired pass changes nothing (advancing needs
    /// the policy's pass). step() is evaluate + decide; tests drive decide()
    /// with any report.
    step_result decide(std::int64_t now_ns, const policy_report& report, stage_progress progress,
                       const paired_result* paired = nullptr, const ab_result* ab = nullptr) {
        step_result r;
        r.at_ns = now_ns;
        r.stage = state_.stage;
        r.stage_name = config_.stage_name(state_.stage);
        r.report = report;
        if (paired != nullptr) r.paired = *paired;
        if (ab != nullptr) r.ab = *ab;
        r.stage_requests = progress.requests;
        ++state_.steps;
        if (terminal()) return finish(r, rollout_action::hold, state_.reason, false);

        const rollout_stage& stage = current_stage();
        r.dwell_met = now_ns - state_.stage_started_ns >= stage.min_dwell_ns;
        r.requests_met = progress.requests >= stage.min_candidate_requests;
        r.at_max_duration = deadline_reached(now_ns);

        // Operator commands first, in the order they were given.
        std::vector<operator_command> commands = std::move(state_.pending_commands);
        state_.pending_commands.clear();
        for (auto& c : commands) {
            const std::string by =
                std::string(name(c.kind)) + " by " + c.who + (c.why.empty() ? "" : ": " + c.why);
            r.commands.push_back(c);
            switch (c.kind) {
                case operator_command_kind::abort:
                    return roll_back(r, "operator " + by);
                case operator_command_kind::promote_now:
                    state_.phase = rollout_phase::completed;
                    return finish(r, rollout_action::promote, "operator " + by);
                case operator_command_kind::pause:
                    state_.phase = rollout_phase::paused;
                    state_.reason = "operator " + by;
                    break;
                case operator_command_kind::resume:
                    if (state_.phase == rollout_phase::awaiting_human) {
                        // A new period of max_duration from now: the human
                        // chose to keep waiting for evidence.
                        state_.stage_deadline_ns = deadline(state_.stage, now_ns);
                        r.at_max_duration = deadline_reached(now_ns);
                    }
                    state_.phase = rollout_phase::running;
                    state_.reason = "operator " + by;
                    break;
            }
        }

        const verdict decision = report.decision;
        // The summary starts with the decision ("fail: cost ratio ...").
        if (decision == verdict::fail) return roll_back(r, "policy " + report.summary);
        if (paired != nullptr && paired->decision == verdict::fail)
            return roll_back(r, paired->summary);
        if (decision == verdict::invalid) {
            state_.alarm = true;
            return finish(r, rollout_action::hold,
                          "alarm, holding (never a roll-back): policy " + report.summary);
        }
        state_.alarm = false;
        if (state_.phase == rollout_phase::paused)
            return finish(r, rollout_action::hold, "paused; " + state_.reason, false);
        if (state_.phase == rollout_phase::awaiting_human)
            return finish(r, rollout_action::hold, "awaiting a human; " + state_.reason, false);

        if (stage.kind == stage_kind::ab_test) return decide_ab(r, stage, report, ab);
        const bool may_advance = decision == verdict::pass && r.dwell_met && r.requests_met;
        if (may_advance)
            return advance(r, "policy pass, dwell and minimum requests met: " + report.summary);
        if (r.at_max_duration) {
            const std::string why =
                "maximum duration reached undecided (" + std::string(name(decision)) +
                (decision == verdict::pass ? ", minimum requests or dwell not met" : "") + ")";
            switch (stage.at_max) {
                case max_duration_rule::roll_back:
                    return roll_back(r, why + "; at_max = roll_back");
                case max_duration_rule::advance:
                    if (decision == verdict::no_regression_detected || decision == verdict::pass)
                        return advance(r, why + "; at_max = advance");
                    // keep_going at the deadline: a non-critical gate failed
                    // and the policy asks for a human; advancing past it
                    // would ignore the failure, holding silently would hide it.
                    state_.phase = rollout_phase::awaiting_human;
                    return finish(r, rollout_action::hold,
                                  why + "; a gate asks for a human (resume, promote now, abort): " +
                                      report.summary);
                case max_duration_rule::hold:
                    state_.phase = rollout_phase::awaiting_human;
                    return finish(r, rollout_action::hold,
                                  why + "; awaiting a human (resume, promote now, abort)");
            }
        }
        if (decision != verdict::pass)
            return finish(r, rollout_action::hold, "policy " + report.summary);
        std::string why = "policy pass; waiting for ";
        if (!r.dwell_met) why += "the minimum dwell";
        if (!r.dwell_met && !r.requests_met) why += " and ";
        if (!r.requests_met) why += "the minimum requests";
        return finish(r, rollout_action::hold, why);
    }

private:
    /// An A/B stage, after the commands and the guardrails' fail and alarm:
    /// the comparison decides; its "no difference shown" at the deadline
    /// goes to the stage's at_max rule.
    step_result decide_ab(step_result& r, const rollout_stage& stage, const policy_report& report,
                          const ab_result* ab) {
        const ab_outcome outcome = ab != nullptr ? ab->outcome : ab_outcome::undecided;
        const std::string what =
            ab != nullptr ? "A/B " + ab->reason : std::string("A/B not judged");
        if (outcome == ab_outcome::candidate_worse) return roll_back(r, what);
        if (outcome == ab_outcome::candidate_better && r.dwell_met && r.requests_met)
            return advance(r, what);
        if (r.at_max_duration) {
            const std::string why =
                "maximum duration reached (" + std::string(name(outcome)) + "); " + what;
            switch (stage.at_max) {
                case max_duration_rule::roll_back:
                    return roll_back(r, why + "; at_max = roll_back");
                case max_duration_rule::advance:
                    // A failed advisory guardrail asks for a human first.
                    if (report.decision != verdict::keep_going)
                        return advance(r, why + "; at_max = advance");
                    break;
                case max_duration_rule::hold:
                    break;
            }
            state_.phase = rollout_phase::awaiting_human;
            return finish(r, rollout_action::hold,
                          why + "; awaiting a human (resume, promote now, abort)");
        }
        if (outcome == ab_outcome::candidate_better)
            return finish(r, rollout_action::hold,
                          what + "; waiting for the minimum dwell or requests");
        return finish(r, rollout_action::hold, what + "; guardrails: " + report.summary);
    }

    static controller_config validated(controller_config c) {
        c.validate();
        return c;
    }
    static std::optional<ab_test> make_ab_test(const controller_config& c) {
        if (!c.ab) return std::nullopt;
        return ab_test(*c.ab);
    }
    static std::optional<paired_test> make_paired_test(const controller_config& c) {
        if (!c.paired_shadow) return std::nullopt;
        return paired_test(*c.paired_shadow);
    }
    static std::optional<policy> make_shadow_policy(const controller_config& c) {
        if (!c.shadow_policy) return std::nullopt;
        return policy(*c.shadow_policy);
    }

    [[nodiscard]] bool terminal() const noexcept {
        return state_.phase == rollout_phase::rolled_back ||
               state_.phase == rollout_phase::completed;
    }
    [[nodiscard]] std::int64_t deadline(std::size_t stage, std::int64_t from_ns) const noexcept {
        const std::int64_t max = config_.stages[stage].max_duration_ns;
        return max > 0 ? from_ns + max : 0;
    }
    [[nodiscard]] bool deadline_reached(std::int64_t now_ns) const noexcept {
        return state_.stage_deadline_ns != 0 && now_ns >= state_.stage_deadline_ns;
    }
    /// The share the stage's policy expects its candidate arm to have among
    /// the two arms it compares. Shadow: f mirrored copies per baseline
    /// request give f / (1 + f).
    [[nodiscard]] static double stage_share(const rollout_stage& s) noexcept {
        if (s.kind == stage_kind::shadow) {
            const double f = s.weights.shadow_ppm / static_cast<double>(shadow_scale);
            return f / (1.0 + f);
        }
        return s.weights.candidate_share();
    }
    [[nodiscard]] static std::uint64_t requests_of(const snapshot& totals, std::string_view arm) {
        std::uint64_t n = 0;
        for (const auto& a : totals.arms()) {
            if (a.arm() != arm) continue;
            const wide_uint c = a.counter(series::requests);
            // Beyond 2^64 requests: saturate, never wrap.
            constexpr std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
            const std::uint64_t v = c.fits_u64() ? c.low : most;
            n = n > most - v ? most : n + v;
        }
        return n;
    }

    step_result finished_step(std::int64_t now_ns) {
        step_result r;
        r.at_ns = now_ns;
        r.stage = state_.stage;
        r.stage_name = config_.stage_name(state_.stage);
        ++state_.steps;
        std::vector<operator_command> commands = std::move(state_.pending_commands);
        state_.pending_commands.clear();
        r.commands = std::move(commands);
        return finish(r, rollout_action::hold,
                      "rollout " + std::string(name(state_.phase)) +
                          (r.commands.empty() ? "" : "; commands ignored") + ": " + state_.reason,
                      false);
    }
    /// Fills in the outcome; `remember`: the reason becomes the state's
    /// (not for the holds of a finished rollout, which keep why it ended).
    step_result finish(step_result& r, rollout_action action, std::string reason,
                       bool remember = true) {
        r.action = action;
        r.weights = weights();
        r.next_stage = state_.stage;
        r.phase = state_.phase;
        r.alarm = state_.alarm;
        if (remember) state_.reason = reason;
        r.reason = std::move(reason);
        return std::move(r);
    }
    step_result roll_back(step_result& r, std::string reason) {
        state_.phase = rollout_phase::rolled_back;
        state_.rollback_digest = config_.baseline_digest;
        return finish(r, rollout_action::roll_back,
                      std::move(reason) + "; serving " + config_.baseline_digest);
    }
    step_result advance(step_result& r, std::string reason) {
        if (state_.stage + 1 == config_.stages.size()) {
            state_.phase = rollout_phase::completed;
            return finish(r, rollout_action::complete,
                          std::move(reason) + "; last stage passed, candidate at 100 %");
        }
        ++state_.stage;
        state_.stage_started_ns = r.at_ns;
        state_.stage_deadline_ns = deadline(state_.stage, r.at_ns);
        state_.stage_start_requests = -1;
        return finish(r, rollout_action::advance,
                      std::move(reason) + "; now " + config_.stage_name(state_.stage));
    }

    controller_config config_;
    policy canary_policy_;
    std::optional<policy> shadow_policy_;
    std::optional<paired_test> paired_test_;
    std::optional<ab_test> ab_test_;
    rollout_state state_;
};

CANARYGATE_NAMESPACE_END
