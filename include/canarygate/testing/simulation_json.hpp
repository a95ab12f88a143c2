// SPDX-License-Identifier: MIT
/// \file
/// The simulator's results as JSON (nlohmann::ordered_json, keys in a
/// stable order), for `scripts/demo --json`, `canarygate simulate --json`
/// and `canarygate replay --json`: a rate with its interval, a judge's
/// summary over seeds, and one run's steps.
#pragma once

#include <cmath>
#include <string>

#include "canarygate/core/clock.hpp"
#include "canarygate/core/config.hpp"
#include "canarygate/integration/json.hpp"  // nlohmann-json, through the integration layer
#include "canarygate/testing/simulation.hpp"
#include "canarygate/testing/simulation_suite.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace testkit {

/// NaN (nothing to report) as null; a number otherwise.
[[nodiscard]] inline nlohmann::ordered_json number_or_null(double x) {
    return std::isnan(x) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(x);
}

/// {"hits", "runs", "rate", "ci95": [lower, upper]}.
[[nodiscard]] inline nlohmann::ordered_json rate_json(const rate_estimate& r) {
    return {{"hits", r.hits}, {"runs", r.runs}, {"rate", r.rate}, {"ci95", {r.lower, r.upper}}};
}

/// A judge's results over its seeds: outcome rates, medians, where the runs
/// ended and what decided them.
[[nodiscard]] inline nlohmann::ordered_json summary_json(const judge_summary& s) {
    return {{"runs", s.runs},
            {"completed", rate_json(s.completed)},
            {"rolled_back", rate_json(s.rolled_back)},
            {"held", rate_json(s.held)},
            {"halted", rate_json(s.halted)},
            {"alarmed", rate_json(s.alarmed)},
            {"caught_before_users", rate_json(s.caught_before_users)},
            {"median_decision_minutes", number_or_null(s.median_decision_minutes)},
            {"median_users_exposed", number_or_null(s.median_users_exposed)},
            {"median_alarm_minutes", number_or_null(s.median_alarm_minutes)},
            {"ended_at", s.stages},
            {"decided_by", s.triggers}};
}

/// One run's checks: minute, stage, action, decision, weights, alarm,
/// candidate requests and every gate's ln E against its threshold.
[[nodiscard]] inline nlohmann::ordered_json steps_json(const simulation_result& r) {
    nlohmann::ordered_json steps = nlohmann::ordered_json::array();
    for (const auto& s : r.steps) {
        nlohmann::ordered_json gates = nlohmann::ordered_json::object();
        for (const auto& g : s.gates) {
            gates[r.gate_names[g.gate]] = {{"log_e", number_or_null(g.log_e_value)},
                                           {"log_threshold", g.log_fail_threshold},
                                           {"decision", std::string(name(g.decision))}};
        }
        steps.push_back({{"minute", s.at_ns / minute_ns},
                         {"stage", s.stage},
                         {"action", std::string(name(s.action))},
                         {"decision", std::string(name(s.decision))},
                         {"candidate_percent", 100.0 * s.weights.candidate_share()},
                         {"shadow_ppm", s.weights.shadow_ppm},
                         {"alarm", s.alarm},
                         {"candidate_requests", s.candidate_requests},
                         {"gates", gates}});
    }
    return steps;
}

}  // namespace testkit
CANARYGATE_NAMESPACE_END
