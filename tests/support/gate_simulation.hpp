// SPDX-License-Identifier: MIT
// Shared by the gate tests: run one gate over a simulated rollout.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>

#include "canarygate/gates/gate.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/window/event_window.hpp"
#include "support/statistics.hpp"

namespace gate_simulation {

using namespace canarygate;
using namespace canarygate::testkit;

struct run_outcome {
    std::optional<std::int64_t> fail_at;
    std::optional<std::int64_t> pass_at;
    gate_result last;
};

// Runs one scenario, checking the gate every `check_ns` until `horizon_ns` or
// the first fail. Stops at the first fail only (pass is recorded, the run goes
// on, so a later false fail would still be counted).
// feedback_cohorts = false drops the routing share of every feedback event:
// the gate then sees only the totals, as it did before feedback cohorts.
inline run_outcome run_gate(const gate& g, const scenario_config& cfg, std::uint64_t seed,
                            std::int64_t horizon_ns, std::int64_t check_ns,
                            double alpha_fail = 0.05, double alpha_pass = 0.05,
                            bool feedback_cohorts = true) {
    scenario s(cfg, seed);
    event_window window;
    gate_state state = g.make_state();
    run_outcome out;
    gate_tuning tuning;
    tuning.intervals = false;
    for (std::int64_t t = check_ns; t <= horizon_ns; t += check_ns) {
        s.run(
            t, [&](const request_event& r) { window.add(r); },
            [&](feedback_arrival f) {
                if (!feedback_cohorts) f.candidate_share.reset();
                window.add(f);
            });
        const snapshot inc = window.take(t - check_ns, t);
        const auto* base = inc.find_arm("baseline");
        const auto* cand = inc.find_arm("candidate");
        REQUIRE(base != nullptr);
        REQUIRE(cand != nullptr);
        out.last = g.evaluate(state, *base, *cand, alpha_fail, alpha_pass, tuning, t);
        if (out.last.decision == verdict::pass && !out.pass_at) out.pass_at = t;
        if (out.last.decision == verdict::fail) {
            out.fail_at = t;
            break;
        }
    }
    return out;
}

// Fails the test only when we can be confident the true rate exceeds alpha
// (test_support::rate_not_above).
inline void check_false_fail_rate(std::uint64_t fails, std::uint64_t runs, double alpha) {
    CAPTURE(fails, runs, alpha);
    CHECK(test_support::rate_not_above(fails, runs, alpha));
}

inline scenario_config small_canary(double share = 0.1) {
    scenario_config cfg;
    cfg.traffic.requests_per_minute = 300;
    cfg.stages = {{0, share}};
    return cfg;
}

// A gate of the kind the signal needs, with multiplier k (quantile q for
// quantile signals).
inline gate gate_of(signal s, double k, double q = 0.99) {
    if (is_quantile_signal(s)) {
        quantile_gate_config c;
        c.metric = s;
        c.multiplier = k;
        c.quantile = q;
        return quantile_gate(c);
    }
    if (is_rate_signal(s)) {
        rate_gate_config c;
        c.metric = s;
        c.multiplier = k;
        return rate_gate(c);
    }
    if (s == signal::cost) {
        mean_gate_config c;
        c.multiplier = k;
        return mean_gate(c);
    }
    shape_gate_config c;
    c.ks_tolerance = k;
    return shape_gate(c);
}

}  // namespace gate_simulation
