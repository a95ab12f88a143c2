// SPDX-License-Identifier: MIT
// The planner's predictions against the simulator: for every gate and
// stage of the default rollout at 600 requests/minute, the simulator runs
// the real pipeline on random traffic with the planner's regression, 40
// seeds per stage, checks every 2 minutes, and the planner's predicted
// median detection time must lie within 35 % of the simulated median (or
// one check interval, the comparison's resolution); where the planner says a gate cannot decide,
// fewer than 20 % of the simulated rollouts may detect within the stage's
// budget. Run in the optimised CI build (label calibration); the table is
// printed.
#include <catch2/catch.hpp>

#include <iostream>

#include "canarygate/testing/planner.hpp"

using namespace canarygate;
using namespace canarygate::testkit;

TEST_CASE("planner predictions match the simulator per gate and stage", "[planner][simulation]") {
    plan_request req;
    req.rollout = default_rollout();
    req.traffic.requests_per_minute = 600;
    // Stage budgets of 1 h (shadow, 1 %) and 2 h; 4 h covers twice each.
    // Checks every 2 minutes: the comparison's resolution is one check, and
    // at 5 minutes a gate that decides in 25 minutes would be compared to
    // within 20 % by the grid alone.
    req.horizon_ns = 4 * hour_ns;
    req.check_interval_ns = 2 * minute_ns;
    const rollout_plan plan = plan_rollout(req);
    const auto rows = check_plan(plan, 40);
    std::cout << format_plan_check(rows) << std::flush;
    std::size_t compared = 0, cannot = 0;
    for (const auto& r : rows) {
        if (!r.compared) continue;
        ++compared;
        cannot += r.capability == gate_capability::cannot_decide;
        INFO(r.stage << " / " << r.gate << ": planner " << name(r.capability) << ", predicted "
                     << testkit::detail::duration_text(r.predicted_ns) << ", simulated median "
                     << testkit::detail::duration_text(r.simulated_median_ns)
                     << ", detected within budget " << r.detected_within_budget.hits << "/"
                     << r.detected_within_budget.runs);
        CHECK(r.agrees);
    }
    // Most of the 53 gate-stage pairs are compared, including some that
    // cannot decide.
    CHECK(compared >= 45);
    CHECK(cannot >= 3);
}
