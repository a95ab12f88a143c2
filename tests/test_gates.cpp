// SPDX-License-Identifier: MIT
// Gates on simulated rollouts: false fails at the null boundary stay within
// the budget however often we look (tolerance from a Clopper-Pearson bound on
// the run count), real regressions are caught, good candidates pass, and every
// verdict carries its evidence.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "canarygate/gates.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/testing/window_builder.hpp"

using namespace canarygate;
using namespace canarygate::testing;
using Catch::Matchers::Contains;

#include "gate_simulation.hpp"

TEST_CASE("real regressions are caught", "[gates][detection]") {
    struct cell {
        gate_config gate;
        void (*regress)(scenario_config&);
    };
    const cell cells[] = {
        {gate_of(signal::cost, 1.2), [](scenario_config& c) { c.candidate_regression.cost = 2.0; }},
        {gate_of(signal::refusal_rate, 2.0), [](scenario_config& c) { c.candidate_regression.refusal = 5.0; }},
        {gate_of(signal::error_rate, 2.0), [](scenario_config& c) {
             c.model.error_rate = 0.02;
             c.candidate_regression.error = 5.0;
         }},
        {gate_of(signal::latency, 1.5), [](scenario_config& c) { c.candidate_regression.latency = 3.0; }},
        {gate_of(signal::ttft, 1.5), [](scenario_config& c) { c.candidate_regression.latency = 3.0; }},
        {gate_of(signal::output_length, 1.5, 0.5), [](scenario_config& c) { c.candidate_regression.output_length = 2.5; }},
        {gate_of(signal::feedback_rate, 1.5), [](scenario_config& c) {
             c.model.feedback_probability = 0.2;
             c.model.feedback_delay_median_s = 60;
             c.candidate_regression.thumbs_down = 4.0;
         }},
    };
    for (const auto& c : cells) {
        auto cfg = small_canary(0.2);
        c.regress(cfg);
        int caught = 0;
        for (std::uint64_t seed = 1; seed <= 10; ++seed) {
            const auto r = run_gate(c.gate, cfg, seed, 8 * hour_ns, 5 * minute_ns);
            caught += r.fail_at ? 1 : 0;
            if (r.fail_at) {
                CHECK(r.last.decision == verdict::fail);
                CHECK(r.last.evidence.log_e_value >= r.last.evidence.log_fail_threshold);
                CHECK_THAT(r.last.reason, Contains("regression beyond"));
            }
        }
        CAPTURE(c.gate.display_name());
        CHECK(caught >= 9);
    }
}

TEST_CASE("the shape gate sees a distribution shift beyond its tolerance", "[gates][detection]") {
    gate_config shape;
    shape.metric = signal::output_shape;
    shape.ks_tolerance = 0.1;
    auto cfg = small_canary(0.2);
    cfg.candidate_regression.output_length = 2.0;  // KS distance ~0.37 for sigma 0.7
    const auto r = run_gate(shape, cfg, 3, 8 * hour_ns, 5 * minute_ns);
    REQUIRE(r.fail_at.has_value());
    CHECK(r.last.evidence.estimate > 0.3);
    CHECK(std::isnan(r.last.evidence.log_e_value));
    CHECK_THAT(r.last.reason, Contains("outside both confidence bands"));
    // Identical versions: passes (the distance bound falls below tolerance).
    const auto same = run_gate(shape, small_canary(0.5), 4, 8 * hour_ns, 15 * minute_ns);
    CHECK_FALSE(same.fail_at.has_value());
    CHECK(same.pass_at.has_value());
}

TEST_CASE("good candidates pass with an interval inside the limit", "[gates][pass]") {
    const gate_config gates[] = {gate_of(signal::cost, 1.2), gate_of(signal::refusal_rate, 2.0),
                                 gate_of(signal::latency, 1.5), gate_of(signal::output_length, 1.5, 0.5)};
    for (const auto& g : gates) {
        const auto r = run_gate(g, small_canary(0.5), 5, 8 * hour_ns, 15 * minute_ns);
        CAPTURE(g.display_name(), r.last.reason);
        CHECK_FALSE(r.fail_at.has_value());
        REQUIRE(r.pass_at.has_value());
    }
}

TEST_CASE("evidence: interval, counts and the reason line", "[gates][evidence]") {
    auto cfg = small_canary(0.3);
    cfg.candidate_regression.refusal = 1.0;
    scenario s(cfg, 11);
    window_builder builder;
    gate_state state;
    const gate_config g = gate_of(signal::refusal_rate, 2.0);
    gate_result r;
    for (int i = 1; i <= 24; ++i) {
        s.run(i * 15 * minute_ns, [&](const request_event& e) { builder.add(e); }, [&](const feedback_arrival& f) { builder.add(f); });
        const snapshot inc = builder.take((i - 1) * 15 * minute_ns, i * 15 * minute_ns);
        r = evaluate_gate(g, state, *inc.find_arm("baseline"), *inc.find_arm("candidate"), 0.05, 0.05);
    }
    const auto& ev = r.evidence;
    CHECK(ev.candidate_samples > 0);
    CHECK(ev.baseline_samples > ev.candidate_samples);
    CHECK(ev.candidate_events > 0);
    CHECK(ev.lower <= ev.estimate);
    CHECK(ev.estimate <= ev.upper);
    CHECK(ev.lower < 1.0);  // the truth (ratio 1) is inside
    CHECK(ev.upper > 1.0);
    CHECK(r.decision == verdict::pass);
    CHECK_THAT(r.reason, Contains("refusal_rate ratio") && Contains("is within limit 2"));
    CHECK(r.name == "refusal_rate");
    CHECK(gate_of(signal::latency, 1.5).display_name() == "latency_p99");
}

TEST_CASE("a decrease gate catches a drop", "[gates]") {
    // Thumbs-up rate must not fall below half the baseline's.
    gate_config g;
    g.metric = signal::feedback_rate;
    g.feedback = feedback_kind::thumbs_up;
    g.multiplier = 0.5;
    g.worse = direction::decrease;
    auto cfg = small_canary(0.3);
    cfg.model.feedback_probability = 0.3;
    cfg.model.feedback_delay_median_s = 30;
    cfg.model.thumbs_down_share = 0.1;
    cfg.candidate_regression.thumbs_down = 9.0;  // thumbs-up share 0.9 -> 0.1
    const auto r = run_gate(g, cfg, 12, 8 * hour_ns, 5 * minute_ns);
    CHECK(r.fail_at.has_value());
    CHECK_THAT(r.last.reason, Contains("baseline/candidate limit 2"));
}

TEST_CASE("invalid gate configurations name the field", "[gates]") {
    gate_config g;
    g.multiplier = 0.8;
    CHECK_THROWS_WITH(g.validate(), Contains("multiplier = 0.8") && Contains("direction::increase"));
    g = {};
    g.quantile = 1.0;
    CHECK_THROWS_WITH(g.validate(), Contains("quantile = 1"));
    g = {};
    g.metric = signal::output_shape;
    g.ks_tolerance = 0;
    CHECK_THROWS_WITH(g.validate(), Contains("ks_tolerance = 0"));
    g = {};
    g.budget_weight = -1;
    CHECK_THROWS_WITH(g.validate(), Contains("budget_weight = -1"));
    g = {};
    g.worse = direction::decrease;
    g.multiplier = 0.5;
    CHECK_THROWS_WITH(g.validate(), Contains("rate and cost gates only"));
    CHECK_NOTHROW(gate_of(signal::cost, 1.2).validate());
    g = gate_of(signal::feedback_rate, 1.5);
    g.feedback_delay_median_s = -5;
    CHECK_THROWS_WITH(g.validate(), Contains("feedback_delay_median_s = -5"));
    g.feedback_delay_median_s = 600;
    g.feedback_delay_sigma = 0;
    CHECK_THROWS_WITH(g.validate(), Contains("feedback_delay_sigma = 0"));
    g.feedback_delay_sigma = 1.2;
    CHECK_NOTHROW(g.validate());
    g.batch_window_ns = 5 * minute_ns;
    CHECK_THROWS_WITH(g.validate(), Contains("cannot be combined with batch mode"));
    g = gate_of(signal::refusal_rate, 2.0);
    g.feedback_delay_median_s = 600;
    CHECK_THROWS_WITH(g.validate(), Contains("applies to feedback_rate gates only"));
}

TEST_CASE("a delay-weighted feedback gate needs the clock and refuses going back", "[gates]") {
    gate_config g = gate_of(signal::feedback_rate, 1.5);
    g.feedback_delay_median_s = 600;
    auto cfg = small_canary(0.3);
    scenario s(cfg, 5);
    window_builder builder;
    s.run(10 * minute_ns, [&](const request_event& e) { builder.add(e); }, [&](const feedback_arrival& f) { builder.add(f); });
    const snapshot inc = builder.take(0, 10 * minute_ns);
    gate_state st;
    CHECK_THROWS_WITH(evaluate_gate(g, st, *inc.find_arm("baseline"), *inc.find_arm("candidate"), 0.05, 0.05),
                      Contains("needs increment_end_ns"));
    CHECK(st.checks == 0);
    const auto r = evaluate_gate(g, st, *inc.find_arm("baseline"), *inc.find_arm("candidate"), 0.05, 0.05, {},
                                 10 * minute_ns);
    // The first increment has no span before it: its own feedback has no
    // exposure yet, and its requests are remembered for later windows.
    REQUIRE(st.served.size() == 1);
    CHECK(st.served.front().candidate > 0);
    CHECK(r.evidence.candidate_samples == static_cast<std::uint64_t>(st.served.front().candidate));
    CHECK_THROWS_WITH(evaluate_gate(g, st, *inc.find_arm("baseline"), *inc.find_arm("candidate"), 0.05, 0.05, {},
                                    5 * minute_ns),
                      Contains("before the previous increment's end"));
    CHECK(st.checks == 1);
    CHECK(st.served.size() == 1);
}
