// SPDX-License-Identifier: MIT
// The rollout the testing kit's own tests run: short, so that a claim of
// dozens of whole simulated rollouts stays cheap (also under sanitizers).
#pragma once

#include "canarygate/gates/default_policy.hpp"
#include "canarygate/rollout/controller.hpp"
#include "canarygate/testing/simulation_suite.hpp"

namespace test_support {

/// Canary stages at 5 % and 50 %, at least 20 minutes each, moving on after
/// an hour if nothing was shown; the default policy with the cost gate's
/// limit set to `cost_limit`.
inline canarygate::controller_config short_rollout(double cost_limit = 1.2) {
    namespace cg = canarygate;
    cg::controller_config rollout;
    rollout.stages = cg::canary_stages({5, 50}, 20 * cg::minute_ns);
    for (auto& stage : rollout.stages) {
        stage.max_duration_ns = cg::hour_ns;
        stage.at_max = cg::max_duration_rule::advance;
    }
    rollout.policy =
        cg::testkit::with_multiplier(cg::default_policy(), cg::signal::cost, cost_limit);
    return rollout;
}

}  // namespace test_support
