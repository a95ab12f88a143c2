// SPDX-License-Identifier: MIT
// Shared by the controller tests: a rollout driven end to end on generated
// traffic, the scenario playing the router (its split follows the
// controller's weights), checked every five simulated minutes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "canarygate/gates/default_policy.hpp"
#include "canarygate/rollout/controller.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/window/event_window.hpp"

namespace rollout_simulation {

using namespace canarygate;

struct run_summary {
    std::vector<step_result> steps;
    rollout_phase phase = rollout_phase::running;
    std::uint64_t candidate_requests = 0;  // users served by the candidate
    std::uint64_t shadow_requests = 0;
};

// Replaces the controller before a step (a process that stopped and
// resumed), or leaves it alone when empty.
using restart_hook = std::function<std::unique_ptr<rollout_controller>(const rollout_controller&)>;

inline std::string digest_of(char c) { return "sha256:" + std::string(64, c); }

inline run_summary drive(const controller_config& config, testkit::scenario_config traffic,
                         std::uint64_t seed, std::int64_t horizon_ns,
                         const restart_hook& restart = {},
                         const std::function<void(const step_result&)>& on_step = {}) {
    constexpr std::int64_t check_ns = 5 * minute_ns;
    auto controller = std::make_unique<rollout_controller>(config, 0);
    const auto apply = [](testkit::scenario& s, const routing_weights& w) {
        s.set_split(w.candidate_share(), w.shadow_ppm / 1e6);
    };
    testkit::scenario s(std::move(traffic), seed);
    apply(s, controller->weights());
    event_window window;
    snapshot totals;
    run_summary out;
    for (std::int64_t t = check_ns; t <= horizon_ns; t += check_ns) {
        s.run(
            t,
            [&](const request_event& r) {
                out.candidate_requests += r.arm == arm_role::candidate;
                out.shadow_requests += r.arm == arm_role::shadow;
                (void)window.add(r);
            },
            [&](const feedback_arrival& f) { (void)window.add(f); });
        totals.merge(window.take(t - check_ns, t));
        if (restart) controller = restart(*controller);
        out.steps.push_back(controller->step(t, totals));
        if (on_step) on_step(out.steps.back());
        apply(s, out.steps.back().weights);
        out.phase = out.steps.back().phase;
        if (out.phase == rollout_phase::rolled_back || out.phase == rollout_phase::completed) break;
    }
    return out;
}

// Shadow 20 %, then canary 10, 25, 50 %: 30 minutes' dwell each, two hours
// at most, advancing on no_regression_detected at the deadline.
inline controller_config realistic_config() {
    controller_config c;
    c.policy = default_policy();
    c.shadow_policy = default_shadow_policy();
    c.baseline_digest = digest_of('a');
    c.candidate_digest = digest_of('b');
    rollout_stage shadow;
    shadow.kind = stage_kind::shadow;
    shadow.weights = {.baseline = 1, .candidate = 0, .shadow_ppm = 200'000};
    shadow.min_dwell_ns = 30 * minute_ns;
    shadow.max_duration_ns = 2 * hour_ns;
    shadow.at_max = max_duration_rule::advance;
    c.stages = {shadow};
    for (const std::uint32_t p : {10U, 25U, 50U}) {
        rollout_stage s;
        s.weights = {.baseline = 100 - p, .candidate = p};
        s.min_dwell_ns = 30 * minute_ns;
        s.max_duration_ns = 2 * hour_ns;
        s.at_max = max_duration_rule::advance;
        c.stages.push_back(s);
    }
    return c;
}

// Canary 10 %, an A/B stage at 50 % judged on the refusal rate (lower is
// better, the default policy as guardrails), canary 75 %.
inline controller_config ab_config() {
    controller_config config = realistic_config();
    config.ab =
        ab_test_config{.metric = ab_metric::rate("refusals", "outcome.refusal_provider", false)};
    rollout_stage ab_stage;
    ab_stage.kind = stage_kind::ab_test;
    ab_stage.weights = {.baseline = 50, .candidate = 50};
    ab_stage.min_dwell_ns = 30 * minute_ns;
    ab_stage.max_duration_ns = 6 * hour_ns;
    rollout_stage last = config.stages.back();
    last.weights = {.baseline = 25, .candidate = 75};
    config.stages = {config.stages[1], ab_stage, last};
    return config;
}

inline testkit::scenario_config busy_service() {
    testkit::scenario_config t;
    t.traffic.requests_per_minute = 2000;
    return t;
}

}  // namespace rollout_simulation
