// SPDX-License-Identifier: MIT
// The simulator's engine, its suite over seeds and its SVG timeline: the
// rollout runs through the real router, recorder, collector and controller;
// the same seed gives the same traffic whichever judge decides; decisions,
// users exposed and alarms are what the pipeline did.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "canarygate/gates/default_policy.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/testing/simulation.hpp"
#include "canarygate/testing/simulation_suite.hpp"
#include "canarygate/testing/timeline_svg.hpp"

using namespace canarygate;
using namespace canarygate::testkit;
using Catch::Matchers::Contains;

namespace simulation_test {

// The default rollout on 600 requests/minute, traced.
simulation_config base_config() {
    simulation_config c;
    c.rollout = default_rollout();
    c.traffic.traffic.requests_per_minute = 600;
    c.horizon_ns = 12 * hour_ns;
    return c;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace simulation_test

using simulation_test::base_config;
using simulation_test::contains;

TEST_CASE("a shadow-stage cost spike is rolled back by the cost gate before any user sees it",
          "[simulation]") {
    simulation_config c = base_config();
    c.traffic.candidate_regression.cost = 1.6;
    const simulation_result r = simulate(c, 11);
    CHECK(r.outcome == simulation_outcome::rolled_back);
    CHECK(r.stage == 0);
    CHECK(r.stage_name == "shadow 20 %");
    CHECK(r.triggers == std::vector<std::string>{"cost"});
    CHECK(r.candidate_requests == 0);  // no user served by the candidate
    CHECK(r.shadow_requests > 500);    // the mirror carried the evidence
    REQUIRE_FALSE(r.steps.empty());
    CHECK(r.steps.back().action == rollout_action::roll_back);
    CHECK(r.steps.back().weights.candidate == 0);
    CHECK(r.steps.back().weights.shadow_ppm == 0);
    CHECK(r.decided_at_ns == r.steps.back().at_ns);
    // The cost gate's evidence crossed its threshold at the decision.
    bool crossed = false;
    for (const auto& g : r.steps.back().gates) {
        if (r.gate_names[g.gate] == "cost")
            crossed = g.log_e_value >= g.log_fail_threshold && g.decision == verdict::fail;
    }
    CHECK(crossed);
}

TEST_CASE("a good candidate walks every stage to 100 %, with the users it served counted",
          "[simulation]") {
    const simulation_config c = base_config();
    const simulation_result r = simulate(c, 5);
    CHECK(r.outcome == simulation_outcome::completed);
    CHECK(r.stage == c.rollout.stages.size());
    CHECK(r.stage_name == "100 %");
    CHECK(r.triggers.empty());
    // Every stage was visited in order, advancing one at a time.
    std::size_t advances = 0;
    std::size_t stage = 0;
    for (const auto& s : r.steps) {
        CHECK(s.stage == stage);
        if (s.action == rollout_action::advance) {
            ++advances;
            ++stage;
            CHECK(s.weights == c.rollout.stages[stage].weights);
        }
    }
    CHECK(advances == c.rollout.stages.size() - 1);
    CHECK(r.steps.back().action == rollout_action::complete);
    // The candidate served roughly its share of each stage's traffic: the
    // counter is the sum over the stages, well above the 1 % stage alone.
    CHECK(r.candidate_requests > 10'000);
    CHECK(r.steps.back().candidate_requests == r.candidate_requests);
    // Late feedback went through the tracker, almost all of it attributed.
    CHECK(r.feedback_counted > 1000);
    CHECK(r.feedback_unattributed * 100 < r.feedback_counted);
}

TEST_CASE("the same seed gives the same traffic to both judges; each run is deterministic",
          "[simulation]") {
    simulation_config c = base_config();
    c.traffic.candidate_regression.refusal = 3.0;
    c.keep_trace = false;
    const simulation_result a = simulate(c, 3);
    const simulation_result b = simulate(c, 3);
    CHECK(a.decided_at_ns == b.decided_at_ns);
    CHECK(a.candidate_requests == b.candidate_requests);
    CHECK(a.shadow_requests == b.shadow_requests);
    CHECK(a.triggers == b.triggers);
    CHECK(a.steps.empty());  // keep_trace off
    c.judge = judge_kind::naive;
    const simulation_result n = simulate(c, 3);
    CHECK(n.judge == judge_kind::naive);
    // Up to the first decision both judges saw the same arrivals: in the
    // shadow stage (no candidate traffic) the baseline counts agree while
    // both are still there.
    if (n.decided_at_ns == a.decided_at_ns) {
        CHECK(n.baseline_requests == a.baseline_requests);
    }
    CHECK(n.outcome == simulation_outcome::rolled_back);
    CHECK_FALSE(n.triggers.empty());
    CHECK(n.reason == "3 failed checks");
}

TEST_CASE("a routing bug raises the sample-ratio alarm and holds; it never rolls back",
          "[simulation]") {
    simulation_config c = base_config();
    c.routing_fault = 2.0;
    c.horizon_ns = 4 * hour_ns;
    const simulation_result r = simulate(c, 21);
    CHECK(r.first_alarm_ns > 0);
    CHECK(r.outcome == simulation_outcome::held);
    CHECK(r.halted_at_ns > 0);
    CHECK(r.halted_at_ns <= r.first_alarm_ns + c.check_interval_ns);
    CHECK(r.candidate_requests_at_halt <= r.candidate_requests);
    bool alarm_in_trace = false;
    for (const auto& s : r.steps) {
        alarm_in_trace = alarm_in_trace || s.alarm;
        CHECK(s.action != rollout_action::roll_back);
    }
    CHECK(alarm_in_trace);
    // Without the fault, the same seed raises no alarm.
    c.routing_fault = 1.0;
    CHECK(simulate(c, 21).first_alarm_ns == -1);
}

TEST_CASE("a scheduled error burst is caught after it starts, by the error gate", "[simulation]") {
    simulation_config c = base_config();
    regression burst;
    burst.error = 30.0;
    c.regression_changes = {{70 * minute_ns, burst}, {85 * minute_ns, regression{}}};
    const simulation_result r = simulate(c, 8);
    CHECK(r.outcome == simulation_outcome::rolled_back);
    CHECK(r.decided_at_ns > 70 * minute_ns);
    CHECK(contains(r.triggers, "error_rate"));
}

TEST_CASE("an advisory gate's fail holds the rollout and is reported as holding it",
          "[simulation]") {
    simulation_config c = base_config();
    c.traffic.candidate_regression.thumbs_down = 4.0;
    c.keep_trace = false;
    const simulation_result r = simulate(c, 2);
    CHECK(r.outcome == simulation_outcome::held);
    CHECK(contains(r.holding_gates, "feedback_rate"));
    CHECK(r.halted_at_ns > 0);
}

TEST_CASE("a bad simulation configuration names the field and the value", "[simulation]") {
    simulation_config c = base_config();
    c.routing_fault = 0;
    CHECK_THROWS_WITH(simulate(c, 1), Contains("routing_fault") && Contains("0"));
    c = base_config();
    c.horizon_ns = minute_ns;
    CHECK_THROWS_WITH(simulate(c, 1), Contains("horizon_ns"));
    c = base_config();
    regression bad;
    bad.cost = -1;
    c.regression_changes = {{0, bad}};
    CHECK_THROWS_WITH(simulate(c, 1), Contains("candidate_regression.cost"));
    c = base_config();
    c.regression_changes = {{2 * hour_ns, regression{}}, {hour_ns, regression{}}};
    CHECK_THROWS_WITH(simulate(c, 1), Contains("regression_changes[1].at_ns"));
    c = base_config();
    c.judge = judge_kind::naive;
    c.failed_checks_limit = 0;
    CHECK_THROWS_WITH(simulate(c, 1), Contains("failed_checks_limit"));
    c = base_config();
    c.rollout.stages.clear();
    CHECK_THROWS_WITH(simulate(c, 1), Contains("stages"));
}

TEST_CASE("scenario::set_router decides the arm without touching the random stream",
          "[simulation][scenario]") {
    scenario_config cfg;
    cfg.traffic.requests_per_minute = 300;
    // No regression: the arms' responses have the same distribution, so
    // the same seed must give identical responses whatever the routing.
    std::vector<request_event> all_baseline, all_candidate;
    for (const arm_role arm : {arm_role::baseline, arm_role::candidate}) {
        scenario s(cfg, 77);
        s.set_router([arm](std::uint64_t) { return routed_request{arm, false, 0.5}; });
        auto& out = arm == arm_role::baseline ? all_baseline : all_candidate;
        s.run(
            hour_ns, [&](const request_event& e) { out.push_back(e); },
            [](const feedback_arrival& f) { CHECK(f.candidate_share == 0.5); });
    }
    REQUIRE(all_baseline.size() == all_candidate.size());
    REQUIRE(all_baseline.size() > 10'000);
    for (std::size_t i = 0; i < all_baseline.size(); ++i) {
        CHECK(all_baseline[i].arm == arm_role::baseline);
        CHECK(all_candidate[i].arm == arm_role::candidate);
        REQUIRE(all_baseline[i].time_ns == all_candidate[i].time_ns);
        REQUIRE(all_baseline[i].outcome.latency_ns == all_candidate[i].outcome.latency_ns);
        REQUIRE(all_baseline[i].outcome.cost_nano_usd == all_candidate[i].outcome.cost_nano_usd);
    }
    // A shadow copy follows its baseline request, with the next id.
    scenario s(cfg, 78);
    s.set_router([](std::uint64_t id) {
        return routed_request{arm_role::baseline, id % 2 == 1, 0.0};
    });
    std::vector<request_event> events;
    s.run(
        10 * minute_ns, [&](const request_event& e) { events.push_back(e); },
        [](const feedback_arrival&) {});
    for (std::size_t i = 0; i + 1 < events.size(); ++i) {
        if (events[i + 1].arm != arm_role::shadow) continue;
        CHECK(events[i].arm == arm_role::baseline);
        CHECK(events[i + 1].request_id == events[i].request_id + 1);
        CHECK(events[i + 1].time_ns == events[i].time_ns);
    }
}

TEST_CASE("scenario::set_regression applies from now on and rejects a bad value unchanged",
          "[simulation][scenario]") {
    scenario_config cfg;
    cfg.stages = {{0, 1.0}};  // every request to the candidate
    scenario s(cfg, 4);
    regression r;
    r.refusal = -2;
    CHECK_THROWS_WITH(s.set_regression(r), Contains("candidate_regression.refusal"));
    CHECK(s.config().candidate_regression.refusal == 1.0);
    r.refusal = 1.0;
    r.error = 190.0;  // 0.5 % x 190: 95 % of the candidate's requests fail
    s.run(
        10 * minute_ns, [](const request_event&) {}, [](const feedback_arrival&) {});
    s.set_regression(r);
    std::uint64_t requests = 0, errors = 0;
    s.run(
        20 * minute_ns,
        [&](const request_event& e) {
            ++requests;
            errors += e.outcome.category == outcome::server_error;
        },
        [](const feedback_arrival&) {});
    CHECK(requests > 1000);
    // 95 % expected, sd 0.3 % at this count.
    CHECK(errors > requests * 9 / 10);
}

TEST_CASE(
    "the suite is deterministic whatever the thread count, and checks expectations on "
    "the interval",
    "[simulation]") {
    simulation_config quick = base_config();
    quick.horizon_ns = 2 * hour_ns;
    simulation_case bad{"bad", "cost 1.6", quick, case_expectation::reaches_full};
    bad.config.traffic.candidate_regression.cost = 1.6;
    simulation_case good{"good", "as good", quick, case_expectation::not_rolled_back};
    const std::vector<simulation_case> cases{bad, good};
    const auto one = run_suite(cases, 3, 1);
    const auto two = run_suite(cases, 3, 2);
    REQUIRE(one.size() == 2);
    for (std::size_t c = 0; c < 2; ++c) {
        CHECK(one[c].canarygate.rolled_back.hits == two[c].canarygate.rolled_back.hits);
        CHECK(one[c].naive.rolled_back.hits == two[c].naive.rolled_back.hits);
        const double m1 = one[c].canarygate.median_decision_minutes;
        const double m2 = two[c].canarygate.median_decision_minutes;
        CHECK((m1 == m2 || (std::isnan(m1) && std::isnan(m2))));
        for (std::size_t s = 0; s < 3; ++s) {
            CHECK(one[c].canarygate.results[s].decided_at_ns ==
                  two[c].canarygate.results[s].decided_at_ns);
        }
    }
    // A bad candidate "expected" to reach 100 %: refuted by its interval
    // (0 of 3 completed: the upper bound is 0.71 < 0.95).
    CHECK_FALSE(one[0].expectation_met);
    CHECK_THAT(one[0].expectation_note, Contains("completed: 0 of 3"));
    CHECK(one[0].canarygate.rolled_back.hits == 3);
    CHECK(one[0].canarygate.caught_before_users.hits == 3);
    CHECK(one[1].expectation_met);
    const std::string table = format_table(one);
    CHECK_THAT(table, Contains("NOT MET"));
    CHECK_THAT(table, Contains("canarygate"));
    CHECK_THAT(table, Contains("naive"));
    CHECK_THROWS_WITH(run_suite(cases, 0), Contains("seeds"));
}

TEST_CASE("estimate_rate is the two-sided 95 % Clopper-Pearson interval", "[simulation]") {
    // Reference values: scipy.stats.beta.ppf(0.025, 3, 48) and
    // beta.ppf(0.975, 4, 47) for 3 of 50.
    const rate_estimate r = estimate_rate(3, 50);
    CHECK(r.rate == Approx(0.06));
    CHECK(r.lower == Approx(0.012548).epsilon(1e-3));
    CHECK(r.upper == Approx(0.165485).epsilon(1e-3));
    const rate_estimate none = estimate_rate(0, 50);
    CHECK(none.lower == 0.0);
    CHECK(none.upper == Approx(0.071121).epsilon(1e-3));
}

TEST_CASE("the timeline SVG draws traffic, every gate's evidence, both judges' decisions",
          "[simulation][svg]") {
    simulation_config c = base_config();
    c.traffic.candidate_regression.cost = 1.6;
    const simulation_result ours = simulate(c, 11);
    c.judge = judge_kind::naive;
    const simulation_result naive = simulate(c, 11);
    const std::string svg = timeline_svg(ours, &naive, c.rollout, "cost <+60 %> & more");
    CHECK(svg.rfind("<?xml", 0) == 0);
    CHECK_THAT(svg, Contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK_THAT(svg, Contains("cost &lt;+60 %&gt; &amp; more"));  // escaped
    CHECK_THAT(svg, Contains("candidate traffic (%)"));
    CHECK_THAT(svg, Contains("time since the rollout started (minutes)"));
    CHECK_THAT(svg, Contains("fail threshold"));
    CHECK_THAT(svg, Contains(">roll back<"));
    CHECK_THAT(svg, Contains("naive: roll back"));
    CHECK_THAT(svg, Contains(">cost<"));  // the cost gate's legend entry
    CHECK(svg.find("</svg>") != std::string::npos);
    CHECK(svg.find("nan") == std::string::npos);
    CHECK(svg.find("inf") == std::string::npos);
}
