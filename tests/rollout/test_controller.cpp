// SPDX-License-Identifier: MIT
// The rollout controller: every transition of the state machine (stage kind
// × policy decision × dwell / minimum requests met or not × maximum duration
// reached or not × max-duration rule × operator command) against an
// expectation written as a priority list; the operator paths; validation;
// and end-to-end runs on generated traffic (a good candidate completes, a
// cost regression is rolled back, a shadow-only spike is caught before any
// user sees the candidate, a routing bug holds with an alarm and never rolls
// back).
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "canarygate/gates/default_policy.hpp"
#include "canarygate/rollout/controller.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/window/event_window.hpp"
#include "support/rollout_simulation.hpp"

namespace controller_tests {

using namespace canarygate;

using rollout_simulation::digest_of;

controller_config base_config() {
    controller_config c;
    c.policy = default_policy();
    c.shadow_policy = default_shadow_policy();
    c.ab = ab_test_config{.metric = ab_metric::rate("refusals", "outcome.refusal_provider", false)};
    c.baseline_digest = digest_of('a');
    c.candidate_digest = digest_of('b');
    return c;
}

constexpr std::int64_t dwell = 10 * minute_ns;
constexpr std::int64_t max_duration = 60 * minute_ns;
constexpr std::uint64_t min_requests = 1000;

rollout_stage stage_of(stage_kind kind, max_duration_rule rule) {
    rollout_stage s;
    s.kind = kind;
    s.weights = kind == stage_kind::shadow
                    ? routing_weights{.baseline = 1, .candidate = 0, .shadow_ppm = 100'000}
                    : routing_weights{.baseline = 90, .candidate = 10};
    s.min_dwell_ns = dwell;
    s.min_candidate_requests = min_requests;
    s.max_duration_ns = max_duration;
    s.at_max = rule;
    return s;
}

policy_report report_of(verdict v) {
    policy_report r;
    r.decision = v;
    r.summary = std::string(name(v)) + " (synthetic report)";
    return r;
}

enum class command_case { none, pause, resume_from_paused, abort, promote_now };

const char* command_name(command_case c) {
    switch (c) {
        case command_case::none:
            return "none";
        case command_case::pause:
            return "pause";
        case command_case::resume_from_paused:
            return "resume_from_paused";
        case command_case::abort:
            return "abort";
        case command_case::promote_now:
            return "promote_now";
    }
    return "?";
}

struct expectation {
    rollout_action action;
    rollout_phase phase;
    bool alarm = false;
};

// The specification, as a priority list: operator abort / promote, then a
// failing policy, then a broken split, then pause, then pass with its
// conditions, then the deadline's rule, else hold.
expectation expected(bool last, verdict decision, bool dwell_met, bool requests_met, bool at_max,
                     max_duration_rule rule, command_case cmd, std::optional<ab_outcome> ab) {
    if (cmd == command_case::abort) return {rollout_action::roll_back, rollout_phase::rolled_back};
    if (cmd == command_case::promote_now)
        return {rollout_action::promote, rollout_phase::completed};
    if (decision == verdict::fail) return {rollout_action::roll_back, rollout_phase::rolled_back};
    const rollout_phase held =
        cmd == command_case::pause ? rollout_phase::paused : rollout_phase::running;
    if (decision == verdict::invalid) return {rollout_action::hold, held, true};
    if (cmd == command_case::pause) return {rollout_action::hold, rollout_phase::paused};
    const expectation forward =
        last ? expectation{rollout_action::complete, rollout_phase::completed}
             : expectation{rollout_action::advance, rollout_phase::running};
    const expectation awaiting{rollout_action::hold, rollout_phase::awaiting_human};
    if (ab) {
        // An A/B stage: the comparison decides, the guardrails only veto.
        if (*ab == ab_outcome::candidate_worse)
            return {rollout_action::roll_back, rollout_phase::rolled_back};
        if (*ab == ab_outcome::candidate_better && dwell_met && requests_met) return forward;
        if (at_max) {
            if (rule == max_duration_rule::roll_back)
                return {rollout_action::roll_back, rollout_phase::rolled_back};
            if (rule == max_duration_rule::advance && decision != verdict::keep_going)
                return forward;
            return awaiting;
        }
        return {rollout_action::hold, rollout_phase::running};
    }
    if (decision == verdict::pass && dwell_met && requests_met) return forward;
    if (at_max) {
        switch (rule) {
            case max_duration_rule::roll_back:
                return {rollout_action::roll_back, rollout_phase::rolled_back};
            case max_duration_rule::advance:
                if (decision == verdict::pass || decision == verdict::no_regression_detected)
                    return forward;
                // keep_going at the deadline: a non-critical gate failed.
                return {rollout_action::hold, rollout_phase::awaiting_human};
            case max_duration_rule::hold:
                return {rollout_action::hold, rollout_phase::awaiting_human};
        }
    }
    return {rollout_action::hold, rollout_phase::running};
}

TEST_CASE("every transition of the state machine") {
    struct position {
        stage_kind kind;
        bool last;
    };
    const position positions[] = {{stage_kind::shadow, false},
                                  {stage_kind::canary, false},
                                  {stage_kind::canary, true},
                                  {stage_kind::ab_test, false},
                                  {stage_kind::ab_test, true}};
    const std::vector<std::optional<ab_outcome>> no_ab = {std::nullopt};
    const std::vector<std::optional<ab_outcome>> ab_outcomes = {
        ab_outcome::undecided, ab_outcome::candidate_better, ab_outcome::candidate_worse,
        ab_outcome::no_difference_shown};
    const verdict decisions[] = {verdict::pass, verdict::keep_going, verdict::fail,
                                 verdict::invalid, verdict::no_regression_detected};
    struct timing {
        std::int64_t now;
        bool dwell_met;
        bool at_max;
    };
    // A maximum duration shorter than the dwell is refused by validation, so
    // "at the maximum but dwell not met" cannot occur.
    const timing timings[] = {
        {5 * minute_ns, false, false}, {30 * minute_ns, true, false}, {max_duration, true, true}};
    const max_duration_rule rules[] = {max_duration_rule::hold, max_duration_rule::roll_back,
                                       max_duration_rule::advance};
    const command_case commands[] = {command_case::none, command_case::pause,
                                     command_case::resume_from_paused, command_case::abort,
                                     command_case::promote_now};
    std::size_t combinations = 0;
    for (const auto& pos : positions) {
        for (const verdict decision : decisions) {
            for (const auto& time : timings) {
                for (const bool requests_met : {false, true}) {
                    for (const auto rule : rules) {
                        for (const auto cmd : commands) {
                            for (const auto ab :
                                 pos.kind == stage_kind::ab_test ? ab_outcomes : no_ab) {
                                controller_config config = base_config();
                                config.stages = {stage_of(pos.kind, rule)};
                                if (!pos.last)
                                    config.stages.push_back(stage_of(stage_kind::canary, rule));
                                if (pos.kind == stage_kind::canary && pos.last)
                                    config.stages[0].weights = {75, 25};
                                rollout_controller controller(config, 0);
                                if (cmd == command_case::pause ||
                                    cmd == command_case::resume_from_paused) {
                                    controller.submit({operator_command_kind::pause, "alice",
                                                       "checking a dashboard", 0});
                                }
                                if (cmd == command_case::resume_from_paused) {
                                    (void)controller.decide(minute_ns,
                                                            report_of(verdict::keep_going), {0});
                                    REQUIRE(controller.state().phase == rollout_phase::paused);
                                    controller.submit({operator_command_kind::resume, "alice",
                                                       "dashboard fine", 0});
                                }
                                if (cmd == command_case::abort)
                                    controller.submit(
                                        {operator_command_kind::abort, "bob", "pager", 0});
                                if (cmd == command_case::promote_now)
                                    controller.submit(
                                        {operator_command_kind::promote_now, "carol", "hotfix", 0});

                                const routing_weights before = controller.weights();
                                const stage_progress progress{requests_met ? min_requests
                                                                           : min_requests - 1};
                                ab_result ab_report;
                                if (ab) ab_report.outcome = *ab;
                                const step_result r =
                                    controller.decide(time.now, report_of(decision), progress,
                                                      nullptr, ab ? &ab_report : nullptr);
                                const expectation e =
                                    expected(pos.last, decision, time.dwell_met, requests_met,
                                             time.at_max, rule, cmd, ab);
                                CAPTURE(name(pos.kind), pos.last, name(decision), time.now,
                                        requests_met, name(rule), command_name(cmd),
                                        ab ? name(*ab) : "-", r.reason);
                                CHECK(r.action == e.action);
                                CHECK(r.phase == e.phase);
                                CHECK(controller.state().phase == e.phase);
                                CHECK(r.alarm == e.alarm);
                                CHECK(r.dwell_met == time.dwell_met);
                                CHECK(r.requests_met == requests_met);
                                CHECK(r.at_max_duration == time.at_max);
                                // The weights follow the action.
                                switch (e.action) {
                                    case rollout_action::roll_back:
                                        CHECK(r.weights == routing_weights{1, 0, 0});
                                        CHECK(controller.state().rollback_digest ==
                                              config.baseline_digest);
                                        break;
                                    case rollout_action::promote:
                                    case rollout_action::complete:
                                        CHECK(r.weights == routing_weights{0, 1, 0});
                                        break;
                                    case rollout_action::advance:
                                        CHECK(r.weights == config.stages[1].weights);
                                        CHECK(controller.state().stage == 1);
                                        CHECK(controller.state().stage_started_ns == time.now);
                                        break;
                                    case rollout_action::hold:
                                        CHECK(r.weights == before);
                                        CHECK(controller.state().stage == 0);
                                        break;
                                }
                                CHECK(r.weights == controller.weights());
                                CHECK(controller.state().pending_commands.empty());
                                ++combinations;
                            }
                        }
                    }
                }
            }
        }
    }
    // Shadow and canary positions, then A/B ones with four comparison outcomes.
    CHECK(combinations == 3 * 5 * 3 * 2 * 3 * 5 + 2 * 4 * 5 * 3 * 2 * 3 * 5);
}

TEST_CASE("awaiting a human: only a command moves it; resume starts a new period") {
    controller_config config = base_config();
    config.stages = {stage_of(stage_kind::canary, max_duration_rule::hold),
                     stage_of(stage_kind::canary, max_duration_rule::hold)};
    rollout_controller c(config, 0);
    auto r = c.decide(max_duration, report_of(verdict::no_regression_detected), {5000});
    CHECK(r.phase == rollout_phase::awaiting_human);
    // Evidence that arrives later does not advance it by itself.
    r = c.decide(max_duration + 5 * minute_ns, report_of(verdict::pass), {6000});
    CHECK(r.action == rollout_action::hold);
    CHECK(r.phase == rollout_phase::awaiting_human);
    // Repeated holds keep the reason the phase began with; it never grows.
    for (int i = 0; i < 50; ++i)
        r = c.decide(max_duration + (6 + i) * minute_ns / 10, report_of(verdict::keep_going),
                     {6000});
    CHECK(r.reason.find("awaiting a human; awaiting") == std::string::npos);
    CHECK(c.state().reason.size() < 300);
    // A fail still rolls back.
    {
        rollout_controller c2(config, 0);
        (void)c2.decide(max_duration, report_of(verdict::keep_going), {5000});
        REQUIRE(c2.state().phase == rollout_phase::awaiting_human);
        CHECK(c2.decide(max_duration + minute_ns, report_of(verdict::fail), {5000}).action ==
              rollout_action::roll_back);
    }
    // Resume: a new max_duration period from now; a pass then advances.
    c.submit(
        {operator_command_kind::resume, "dana", "keep collecting", max_duration + 6 * minute_ns});
    r = c.decide(max_duration + 10 * minute_ns, report_of(verdict::keep_going), {6500});
    CHECK(r.phase == rollout_phase::running);
    CHECK(r.action == rollout_action::hold);
    CHECK_FALSE(r.at_max_duration);
    CHECK(c.state().stage_deadline_ns == 2 * max_duration + 10 * minute_ns);
    REQUIRE(r.commands.size() == 1);
    CHECK(r.commands[0].who == "dana");
    r = c.decide(max_duration + 15 * minute_ns, report_of(verdict::pass), {7000});
    CHECK(r.action == rollout_action::advance);
}

TEST_CASE("an alarm holds, is reported, and clears when the split is fine again") {
    controller_config config = base_config();
    config.stages = {stage_of(stage_kind::canary, max_duration_rule::hold)};
    rollout_controller c(config, 0);
    for (int i = 1; i <= 20; ++i) {
        const auto r = c.decide(i * 5 * minute_ns, report_of(verdict::invalid), {100'000});
        CHECK(r.action == rollout_action::hold);
        CHECK(r.alarm);
    }
    CHECK(c.state().phase ==
          rollout_phase::running);  // never rolled back, never awaiting at the deadline
    const auto r = c.decide(101 * minute_ns, report_of(verdict::keep_going), {100'000});
    CHECK_FALSE(r.alarm);
}

TEST_CASE("a finished rollout ignores later commands and says so") {
    controller_config config = base_config();
    config.stages = {stage_of(stage_kind::canary, max_duration_rule::hold)};
    rollout_controller c(config, 0);
    c.submit({operator_command_kind::abort, "erin", "bad answers in support tickets", 0});
    auto r = c.decide(minute_ns, report_of(verdict::keep_going), {0});
    CHECK(r.action == rollout_action::roll_back);
    CHECK_THAT(r.reason,
               Catch::Matchers::Contains("abort by erin: bad answers in support tickets"));
    c.submit({operator_command_kind::promote_now, "frank", "", 0});
    snapshot empty;
    r = c.step(2 * minute_ns, empty);
    CHECK(r.action == rollout_action::hold);
    CHECK(r.phase == rollout_phase::rolled_back);
    CHECK(r.weights == routing_weights{1, 0, 0});
    REQUIRE(r.commands.size() == 1);
    CHECK_THAT(r.reason, Catch::Matchers::Contains("commands ignored"));
    CHECK_THAT(c.state().reason, Catch::Matchers::Contains("abort by erin"));
}

TEST_CASE("a paired shadow fail rolls back; a paired pass alone does not advance") {
    controller_config config = base_config();
    config.paired_shadow = paired_test_config{};
    config.stages = {stage_of(stage_kind::shadow, max_duration_rule::hold),
                     stage_of(stage_kind::canary, max_duration_rule::hold)};
    paired_result fail;
    fail.decision = verdict::fail;
    fail.summary = "paired shadow fail after 40 pairs (synthetic)";
    paired_result pass;
    pass.decision = verdict::pass;
    {
        rollout_controller c(config, 0);
        const auto r = c.decide(30 * minute_ns, report_of(verdict::pass), {min_requests}, &fail);
        CHECK(r.action == rollout_action::roll_back);
        CHECK_THAT(r.reason, Catch::Matchers::Contains("paired shadow fail after 40 pairs"));
        REQUIRE(r.paired);
        CHECK(r.paired->decision == verdict::fail);
    }
    {
        rollout_controller c(config, 0);
        CHECK(c.decide(30 * minute_ns, report_of(verdict::keep_going), {min_requests}, &pass)
                  .action == rollout_action::hold);
        CHECK(c.decide(35 * minute_ns, report_of(verdict::pass), {min_requests}, &pass).action ==
              rollout_action::advance);
    }
    // Through step(): the paired counts of a +60 % cost shadow roll it back
    // at the first check, long before the unpaired gates could.
    rollout_controller c(config, 0);
    paired_counts counts;
    counts.pairs = 60;
    counts.cost.above = 58;
    counts.cost.below = 2;
    counts.output_length.below = 60;
    snapshot empty;
    const auto r = c.step(5 * minute_ns, empty, &counts);
    CHECK(r.action == rollout_action::roll_back);
    CHECK(c.state().paired_evidence.checks == 1);
}

TEST_CASE("bad controller configurations name the field and the value") {
    using Catch::Matchers::Contains;
    controller_config c = base_config();
    CHECK_THROWS_WITH((void)rollout_controller(c, 0), Contains("stages.size() = 0"));
    c.stages = {stage_of(stage_kind::canary, max_duration_rule::hold)};
    c.stages[0].weights = {0, 1};
    CHECK_THROWS_WITH((void)rollout_controller(c, 0),
                      Contains("stages[0].weights = {baseline 0, candidate 1}"));
    c.stages[0] = stage_of(stage_kind::canary, max_duration_rule::hold);
    c.stages[0].max_duration_ns = minute_ns;
    CHECK_THROWS_WITH((void)rollout_controller(c, 0),
                      Contains("stages[0].max_duration_ns = 60000000000"));
    c.stages = {stage_of(stage_kind::shadow, max_duration_rule::hold)};
    CHECK_THROWS_WITH((void)rollout_controller(c, 0),
                      Contains("the last stage must be a canary or A/B stage"));
    c.stages = {stage_of(stage_kind::canary, max_duration_rule::hold)};
    c.candidate_digest = "sha256:XYZ";
    CHECK_THROWS_WITH((void)rollout_controller(c, 0), Contains("candidate_digest = 'sha256:XYZ'"));
    c = base_config();
    c.stages = {stage_of(stage_kind::shadow, max_duration_rule::hold),
                stage_of(stage_kind::canary, max_duration_rule::hold)};
    c.shadow_policy.reset();
    CHECK_THROWS_WITH((void)rollout_controller(c, 0), Contains("shadow_policy is not set"));
    // A saved state that does not fit the configuration.
    c = base_config();
    c.stages = {stage_of(stage_kind::canary, max_duration_rule::hold)};
    rollout_state saved;
    saved.stage = 3;
    saved.baseline_digest = c.baseline_digest;
    saved.candidate_digest = c.candidate_digest;
    CHECK_THROWS_WITH((void)rollout_controller(c, saved), Contains("state.stage = 3"));
}

// --- End to end on generated traffic ---------------------------------------

using rollout_simulation::busy_service;
using rollout_simulation::drive;
using rollout_simulation::realistic_config;
using rollout_simulation::run_summary;

TEST_CASE(
    "end to end: a good candidate completes; a cost regression is rolled back before users see "
    "it") {
    const controller_config config = realistic_config();
    const run_summary good = drive(config, busy_service(), 1, 12 * hour_ns);
    CAPTURE(good.steps.back().reason);
    CHECK(good.phase == rollout_phase::completed);
    std::size_t advances = 0;
    for (const auto& s : good.steps) advances += s.action == rollout_action::advance;
    CHECK(advances == config.stages.size() - 1);

    // +60 % cost: the shadow stage's cost gate fails; no user request ever
    // reached the candidate.
    testkit::scenario_config costly = busy_service();
    costly.candidate_regression.cost = 1.6;
    const run_summary bad = drive(config, costly, 2, 12 * hour_ns);
    CAPTURE(bad.steps.back().reason);
    CHECK(bad.phase == rollout_phase::rolled_back);
    CHECK(bad.steps.back().stage == 0);
    CHECK(bad.candidate_requests == 0);
    CHECK(bad.shadow_requests > 0);
    REQUIRE(bad.steps.back().report);
    const gate_result* cost = bad.steps.back().report->find("cost");
    REQUIRE(cost != nullptr);
    CHECK(cost->decision == verdict::fail);
}

TEST_CASE("end to end: an A/B stage advances a better candidate and rolls back a worse one") {
    // Lower refusal rate is better; the guardrails (default policy) stay on.
    const controller_config config = rollout_simulation::ab_config();

    testkit::scenario_config better = busy_service();
    better.candidate_regression.refusal = 0.5;
    const run_summary good = drive(config, better, 8, 24 * hour_ns);
    CAPTURE(good.steps.back().reason);
    bool advanced_by_ab = false;
    for (const auto& s : good.steps) {
        if (s.stage == 1 && s.action == rollout_action::advance) {
            REQUIRE(s.ab);
            advanced_by_ab = s.ab->outcome == ab_outcome::candidate_better;
        }
    }
    CHECK(advanced_by_ab);
    CHECK(good.phase == rollout_phase::completed);

    testkit::scenario_config worse = busy_service();
    worse.candidate_regression.refusal = 1.6;  // inside the 2x guardrail: only the A/B sees it
    const run_summary bad = drive(config, worse, 9, 24 * hour_ns);
    CAPTURE(bad.steps.back().reason);
    CHECK(bad.phase == rollout_phase::rolled_back);
    CHECK(bad.steps.back().stage == 1);
    REQUIRE(bad.steps.back().ab);
    CHECK(bad.steps.back().ab->outcome == ab_outcome::candidate_worse);
}

TEST_CASE("end to end: a routing bug holds with an alarm and is never rolled back") {
    controller_config config = realistic_config();
    config.stages.erase(config.stages.begin());  // canary stages only
    testkit::scenario_config broken = busy_service();
    broken.split_mismatch = 1.3;  // the candidate gets 30 % more than configured
    const run_summary r = drive(config, broken, 3, 6 * hour_ns);
    CHECK(r.phase != rollout_phase::rolled_back);
    std::size_t alarms = 0;
    for (const auto& s : r.steps) {
        alarms += s.alarm;
        CHECK(s.action != rollout_action::roll_back);
    }
    CHECK(alarms > 0);
}

TEST_CASE(
    "a controller restarted from its saved state before every check decides as one that never "
    "stopped") {
    const controller_config config = realistic_config();
    testkit::scenario_config traffic = busy_service();
    traffic.candidate_regression.refusal = 3.0;  // caught in the shadow stage or later
    for (const std::uint64_t seed : {4U, 5U}) {
        const run_summary straight = drive(config, traffic, seed, 12 * hour_ns);
        const run_summary restarted =
            drive(config, traffic, seed, 12 * hour_ns, [&](const rollout_controller& c) {
                rollout_state copy = c.state();
                return std::make_unique<rollout_controller>(config, std::move(copy));
            });
        REQUIRE(straight.steps.size() == restarted.steps.size());
        for (std::size_t i = 0; i < straight.steps.size(); ++i) {
            const auto& a = straight.steps[i];
            const auto& b = restarted.steps[i];
            CAPTURE(seed, i, a.reason, b.reason);
            CHECK(a.action == b.action);
            CHECK(a.weights == b.weights);
            CHECK(a.reason == b.reason);
            REQUIRE(a.report.has_value() == b.report.has_value());
            if (a.report) CHECK(a.report->summary == b.report->summary);
        }
        CHECK(straight.phase == rollout_phase::rolled_back);
    }
}

}  // namespace controller_tests
