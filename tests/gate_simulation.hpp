// SPDX-License-Identifier: MIT
// Shared by the gate tests: run one gate over a simulated rollout.
#pragma once

#include <catch2/catch.hpp>

#include <boost/math/distributions/binomial.hpp>
#include <cstdint>
#include <optional>

#include "canarygate/gates.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/testing/window_builder.hpp"

namespace gate_simulation {

using namespace canarygate;
using namespace canarygate::testing;

struct run_outcome {
    std::optional<std::int64_t> fail_at;
    std::optional<std::int64_t> pass_at;
    gate_result last;
};

// Runs one scenario, checking the gate every `check_ns` until `horizon_ns` or
// the first fail. Stops at the first fail only (pass is recorded, the run goes
// on, so a later false fail would still be counted).
inline run_outcome run_gate(const gate_config& gate, const scenario_config& cfg, std::uint64_t seed,
                     std::int64_t horizon_ns, std::int64_t check_ns, double alpha_fail = 0.05,
                     double alpha_pass = 0.05) {
    scenario s(cfg, seed);
    window_builder builder;
    gate_state state;
    run_outcome out;
    gate_tuning tuning;
    tuning.intervals = false;
    for (std::int64_t t = check_ns; t <= horizon_ns; t += check_ns) {
        s.run(t, [&](const request_event& r) { builder.add(r); }, [&](const feedback_arrival& f) { builder.add(f); });
        const snapshot inc = builder.take(t - check_ns, t);
        const auto* base = inc.find_arm("baseline");
        const auto* cand = inc.find_arm("candidate");
        REQUIRE(base != nullptr);
        REQUIRE(cand != nullptr);
        out.last = evaluate_gate(gate, state, *base, *cand, alpha_fail, alpha_pass, tuning, t);
        if (out.last.decision == verdict::pass && !out.pass_at) out.pass_at = t;
        if (out.last.decision == verdict::fail) {
            out.fail_at = t;
            break;
        }
    }
    return out;
}

// Fails the test only when we can be confident the true rate exceeds alpha:
// the lower end of a two-sided 99 % Clopper-Pearson interval is above it.
inline void check_false_fail_rate(std::uint64_t fails, std::uint64_t runs, double alpha) {
    const double lower = boost::math::binomial_distribution<>::find_lower_bound_on_p(
        static_cast<double>(runs), static_cast<double>(fails), 0.005);
    CAPTURE(fails, runs, alpha, lower);
    CHECK(lower <= alpha);
}

inline scenario_config small_canary(double share = 0.1) {
    scenario_config cfg;
    cfg.traffic.requests_per_minute = 300;
    cfg.stages = {{0, share}};
    return cfg;
}

inline gate_config gate_of(signal s, double k, double q = 0.99) {
    gate_config g;
    g.metric = s;
    g.multiplier = k;
    g.quantile = q;
    return g;
}

}  // namespace gate_simulation

using namespace gate_simulation;
