// SPDX-License-Identifier: MIT
/// \file
/// `default_policy()`: the lesson's five signals with its multipliers, as a
/// policy_config to use as it is or to start from; `default_shadow_policy()`
/// for a shadow stage.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/gates/gate.hpp"
#include "canarygate/gates/mean_gate.hpp"
#include "canarygate/gates/policy.hpp"
#include "canarygate/gates/quantile_gate.hpp"
#include "canarygate/gates/rate_gate.hpp"
#include "canarygate/gates/shape_gate.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// The lesson's gates, in this order and with these names:
///
/// | name | gate | critical |
/// |---|---|---|
/// | latency_p99 | end-to-end P99 <= 1.5 x | yes |
/// | ttft_p99 | time to first token P99 <= 1.5 x | no (advisory) |
/// | cost | mean cost per request <= 1.2 x | yes |
/// | error_rate | server errors and timeouts <= 2 x (4 events first) | yes |
/// | refusal_rate | refusals of any origin <= 2 x (4 events first) | yes |
/// | output_length_p50 | output-token P50 <= 1.5 x | yes |
/// | output_length_p90 | output-token P90 <= 1.5 x | yes |
/// | output_shape | output-token KS distance <= 0.1 | yes |
/// | feedback_rate | thumbs-down per request <= 1.5 x (4 events first) | no: slow at small canaries |
///
/// A 5 % chance of a false roll-back over the whole rollout, split evenly.
[[nodiscard]] inline policy_config default_policy() {
    policy_config p;
    auto quantile = [&](signal s, double k, double q, bool critical) {
        quantile_gate_config g;
        g.metric = s;
        g.multiplier = k;
        g.quantile = q;
        g.critical = critical;
        p.gates.emplace_back(quantile_gate(g));
    };
    auto rate = [&](signal s, double k, bool critical) {
        rate_gate_config g;
        g.metric = s;
        g.multiplier = k;
        g.critical = critical;
        g.min_events = 4;
        p.gates.emplace_back(rate_gate(g));
    };
    quantile(signal::latency, 1.5, 0.99, true);
    quantile(signal::ttft, 1.5, 0.99, false);
    p.gates.emplace_back(mean_gate(mean_gate_config{}));
    rate(signal::error_rate, 2.0, true);
    rate(signal::refusal_rate, 2.0, true);
    quantile(signal::output_length, 1.5, 0.5, true);
    quantile(signal::output_length, 1.5, 0.9, true);
    p.gates.emplace_back(shape_gate(shape_gate_config{}));
    rate(signal::feedback_rate, 1.5, false);
    return p;
}

/// The policy of a shadow stage: default_policy() without the feedback gate
/// (users never see shadow answers, so that gate could never pass and would
/// hold the stage forever), comparing the arm `shadow_arm` with the baseline.
///
/// Latency caveat: shadow copies run on whatever capacity serves them, often
/// a smaller or busier pool than production, so a latency ratio measured in
/// shadow describes that pool as much as the model. Keep the latency gates
/// (a 2 x slowdown is worth a look wherever it comes from) or drop them by
/// name if your shadow capacity differs from production's.
[[nodiscard]] inline policy_config default_shadow_policy(std::string shadow_arm = "shadow") {
    policy_config p = default_policy();
    p.candidate_arm = std::move(shadow_arm);
    std::erase_if(p.gates, [](const gate& g) { return g.metric() == signal::feedback_rate; });
    return p;
}

CANARYGATE_NAMESPACE_END
