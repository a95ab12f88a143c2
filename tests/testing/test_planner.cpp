// SPDX-License-Identifier: MIT
// The planner: its predictions follow from the traffic and the policy as a
// reader of the runbook would expect (more traffic decides sooner, rare
// events decide late or never at small stages), its runbook says what the
// issue asks, and bad requests name the field.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include <boost/math/distributions/normal.hpp>

#include "canarygate/testing/planner.hpp"

using namespace canarygate;
using namespace canarygate::testkit;
using Catch::Matchers::Contains;

namespace planner_test {

// Stage budgets are 1 and 2 hours: a 4-hour horizon covers twice each,
// which is all the verdicts need (and keeps the sanitizer builds quick).
plan_request request(double requests_per_minute) {
    plan_request r;
    r.rollout = default_rollout();
    r.traffic.requests_per_minute = requests_per_minute;
    r.horizon_ns = 4 * hour_ns;
    return r;
}

// The default rollout's plan at 600 requests/minute, made once.
const rollout_plan& default_plan() {
    static const rollout_plan plan = plan_rollout(request(600));
    return plan;
}

const gate_plan& find(const stage_plan& s, const std::string& gate) {
    for (const auto& g : s.gates)
        if (g.gate == gate) return g;
    FAIL("no gate " << gate << " at " << s.name);
    throw;
}

}  // namespace planner_test

using planner_test::default_plan;
using planner_test::find;
using planner_test::request;

TEST_CASE("the plan of the default rollout at 600 requests/minute", "[planner]") {
    const rollout_plan& plan = default_plan();
    REQUIRE(plan.stages.size() == 6);
    const stage_plan& shadow = plan.stages[0];
    const stage_plan& one = plan.stages[1];
    const stage_plan& ten = plan.stages[2];
    CHECK(shadow.name == "shadow 20 %");
    CHECK(one.name == "canary 1 %");
    // Traffic per stage: 36,000 requests an hour in all.
    CHECK(one.candidate_requests_per_hour == Approx(360));
    CHECK(ten.candidate_requests_per_hour == Approx(3600));
    CHECK(shadow.candidate_requests_per_hour == Approx(7200));
    CHECK(find(ten, "error_rate").candidate_events_per_hour == Approx(18));
    CHECK(find(ten, "feedback_rate").candidate_events_per_hour == Approx(3600 * 0.03 * 0.2));
    // The shadow stage exposes nobody.
    for (const auto& g : shadow.gates) CHECK(g.users_at_detect == 0.0);
    // Thumbs-down at 1 %: two events an hour; it cannot decide there, and
    // the traffic it would need is a lower bound above today's.
    const gate_plan& feedback = find(one, "feedback_rate");
    CHECK(feedback.capability == gate_capability::cannot_decide);
    CHECK(feedback.needed_requests_per_minute > 600);
    // Cost decides at every canary stage; a cost regression is caught
    // sooner at 10 % than at 1 %.
    for (std::size_t s = 1; s < plan.stages.size(); ++s) {
        CHECK(find(plan.stages[s], "cost").capability == gate_capability::decides);
    }
    REQUIRE(find(one, "cost").detect_ns);
    REQUIRE(find(ten, "cost").detect_ns);
    CHECK(*find(ten, "cost").detect_ns <= *find(one, "cost").detect_ns);
    // The planned regression is 1.5 x each gate's limit.
    CHECK(find(one, "latency_p99").tested_ratio == Approx(2.25));
    CHECK(find(one, "cost").tested_ratio == Approx(1.8));
    CHECK(find(one, "error_rate").tested_ratio == Approx(3.0));
    // Dwell: at least the configured minimum; the plan's duration adds them.
    std::int64_t sum = 0;
    for (std::size_t s = 0; s < plan.stages.size(); ++s) {
        CHECK(plan.stages[s].recommended_dwell_ns >= plan.request.rollout.stages[s].min_dwell_ns);
        sum += plan.stages[s].recommended_dwell_ns;
    }
    CHECK(plan.expected_duration_ns == sum);
}

TEST_CASE("more traffic decides sooner", "[planner]") {
    // One stage, 10 %, at 600 and at 2,400 requests/minute.
    const auto plan_at = [](double rpm) {
        plan_request r = request(rpm);
        r.rollout.stages = {r.rollout.stages[2]};
        return plan_rollout(r);
    };
    const rollout_plan slow = plan_at(600);
    const rollout_plan busy = plan_at(2400);
    const gate_plan& slow_error = find(slow.stages[0], "error_rate");
    const gate_plan& busy_error = find(busy.stages[0], "error_rate");
    REQUIRE(busy_error.detect_ns);
    CHECK((!slow_error.detect_ns || *busy_error.detect_ns < *slow_error.detect_ns));
    CHECK(busy_error.capability == gate_capability::decides);
    CHECK(busy.stages[0].candidate_requests_per_hour ==
          Approx(4 * slow.stages[0].candidate_requests_per_hour));
    REQUIRE(find(busy.stages[0], "latency_p99").detect_ns);
    REQUIRE(find(slow.stages[0], "latency_p99").detect_ns);
    CHECK(*find(busy.stages[0], "latency_p99").detect_ns <
          *find(slow.stages[0], "latency_p99").detect_ns);
}

TEST_CASE("the shape gate is planned at a length shift of the right distance", "[planner]") {
    // A log-normal length shifted by f moves the Kolmogorov-Smirnov
    // distance to 2 Phi(ln f / (2 sigma)) - 1.
    const boost::math::normal_distribution<> n;
    for (const double d : {0.05, 0.15, 0.4}) {
        for (const double sigma : {0.3, 0.7, 1.2}) {
            const double f = testkit::detail::length_factor_for_ks(d, sigma);
            CHECK(2 * boost::math::cdf(n, std::log(f) / (2 * sigma)) - 1 ==
                  Approx(d).epsilon(1e-9));
        }
    }
}

TEST_CASE("risk tolerance turns into warnings", "[planner]") {
    plan_request r = request(600);
    r.rollout.stages = {r.rollout.stages[1], r.rollout.stages[2]};  // 1 % and 10 %
    r.max_users_exposed = 100;
    r.max_rollout_ns = hour_ns;
    r.max_false_rollback = 0.01;
    const rollout_plan plan = plan_rollout(r);
    std::string all;
    for (const auto& w : plan.warnings) all += w + "\n";
    CHECK_THAT(all, Contains("alpha_fail 0.05 exceeds the false roll-back budget 0.01"));
    CHECK_THAT(all, Contains("beyond the 60 min allowed"));
    CHECK_THAT(all, Contains("more than the 100 allowed"));
}

TEST_CASE("the runbook has the plan, the gates, roll-back, alerts and what to do per verdict",
          "[planner]") {
    const std::string md = render_runbook(default_plan());
    for (const char* section :
         {"# Rollout runbook", "## The plan", "## Gates per stage",
          "## Roll-back (target: under 60 s end to end)", "## Alerts", "## On each verdict",
          "### shadow 20 %", "### canary 75 %", "| 7 | 100 % |", "`keep_going` (continue)",
          "`invalid`", "`no_regression_detected`", "cannot decide: needs more than",
          "CanarygateShadowCostSpike"}) {
        CHECK_THAT(md, Contains(section));
    }
}

TEST_CASE("a bad plan request names the field and the value", "[planner]") {
    plan_request r = request(600);
    r.regression_factor = 1.0;
    CHECK_THROWS_WITH(plan_rollout(r), Contains("regression_factor") && Contains("1"));
    r = request(600);
    r.horizon_ns = 0;
    CHECK_THROWS_WITH(plan_rollout(r), Contains("horizon_ns"));
    r = request(-5);
    CHECK_THROWS_WITH(plan_rollout(r), Contains("traffic.requests_per_minute"));
    r = request(600);
    r.baseline.error_rate = 2;
    CHECK_THROWS_WITH(plan_rollout(r), Contains("model.error_rate"));
    r = request(600);
    r.max_false_rollback = 0;
    CHECK_THROWS_WITH(plan_rollout(r), Contains("max_false_rollback"));
    CHECK_THROWS_WITH(check_plan(default_plan(), 0), Contains("seeds"));
}
