// SPDX-License-Identifier: MIT
// Gates on simulated rollouts: false fails at the null boundary stay within
// the budget however often we look (tolerance from a Clopper-Pearson bound on
// the run count), real regressions are caught, good candidates pass, and every
// verdict carries its evidence.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <variant>

#include "canarygate/gates/gate.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/window/event_window.hpp"
#include "support/gate_simulation.hpp"

using namespace canarygate;
using namespace canarygate::testkit;
using Catch::Matchers::Contains;

using namespace gate_simulation;  // gate_of, small_canary, run_gate, ...

TEST_CASE("real regressions are caught", "[gates][detection]") {
    struct cell {
        gate tested;
        void (*regress)(scenario_config&);
    };
    const cell cells[] = {
        {gate_of(signal::cost, 1.2), [](scenario_config& c) { c.candidate_regression.cost = 2.0; }},
        {gate_of(signal::refusal_rate, 2.0),
         [](scenario_config& c) { c.candidate_regression.refusal = 5.0; }},
        {gate_of(signal::error_rate, 2.0),
         [](scenario_config& c) {
             c.model.error_rate = 0.02;
             c.candidate_regression.error = 5.0;
         }},
        {gate_of(signal::latency, 1.5),
         [](scenario_config& c) { c.candidate_regression.latency = 3.0; }},
        {gate_of(signal::ttft, 1.5),
         [](scenario_config& c) { c.candidate_regression.latency = 3.0; }},
        {gate_of(signal::output_length, 1.5, 0.5),
         [](scenario_config& c) { c.candidate_regression.output_length = 2.5; }},
        {gate_of(signal::feedback_rate, 1.5),
         [](scenario_config& c) {
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
            const auto r = run_gate(c.tested, cfg, seed, 8 * hour_ns, 5 * minute_ns);
            caught += r.fail_at ? 1 : 0;
            if (r.fail_at) {
                CHECK(r.last.decision == verdict::fail);
                CHECK(r.last.evidence.log_e_value >= r.last.evidence.log_fail_threshold);
                CHECK_THAT(r.last.reason, Contains("regression beyond"));
            }
        }
        CAPTURE(c.tested.name());
        CHECK(caught >= 9);
    }
}

TEST_CASE("the shape gate sees a distribution shift beyond its tolerance", "[gates][detection]") {
    const shape_gate shape(shape_gate_config{});  // KS tolerance 0.1
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
    const gate gates[] = {gate_of(signal::cost, 1.2), gate_of(signal::refusal_rate, 2.0),
                          gate_of(signal::latency, 1.5), gate_of(signal::output_length, 1.5, 0.5)};
    for (const auto& g : gates) {
        const auto r = run_gate(g, small_canary(0.5), 5, 8 * hour_ns, 15 * minute_ns);
        CAPTURE(g.name(), r.last.reason);
        CHECK_FALSE(r.fail_at.has_value());
        REQUIRE(r.pass_at.has_value());
    }
}

TEST_CASE("evidence: interval, counts and the reason line", "[gates][evidence]") {
    auto cfg = small_canary(0.3);
    cfg.candidate_regression.refusal = 1.0;
    scenario s(cfg, 11);
    event_window builder;
    const gate g = gate_of(signal::refusal_rate, 2.0);
    gate_state state = g.make_state();
    gate_result r;
    for (int i = 1; i <= 24; ++i) {
        s.run(
            i * 15 * minute_ns, [&](const request_event& e) { builder.add(e); },
            [&](const feedback_arrival& f) { builder.add(f); });
        const snapshot inc = builder.take((i - 1) * 15 * minute_ns, i * 15 * minute_ns);
        r = g.evaluate(state, *inc.find_arm("baseline"), *inc.find_arm("candidate"), 0.05, 0.05);
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
    CHECK(gate_of(signal::latency, 1.5).name() == "latency_p99");
    CHECK(gate_of(signal::output_length, 1.5, 0.5).name() == "output_length_p50");
}

TEST_CASE("a decrease gate catches a drop", "[gates]") {
    // Thumbs-up rate must not fall below half the baseline's.
    rate_gate_config g;
    g.metric = signal::feedback_rate;
    g.feedback = feedback_kind::thumbs_up;
    g.multiplier = 0.5;
    g.worse = direction::decrease;
    auto cfg = small_canary(0.3);
    cfg.model.feedback_probability = 0.3;
    cfg.model.feedback_delay_median_s = 30;
    cfg.model.thumbs_down_share = 0.1;
    cfg.candidate_regression.thumbs_down = 9.0;  // thumbs-up share 0.9 -> 0.1
    const auto r = run_gate(rate_gate(g), cfg, 12, 8 * hour_ns, 5 * minute_ns);
    CHECK(r.fail_at.has_value());
    CHECK_THAT(r.last.reason, Contains("baseline/candidate limit 2"));
}

TEST_CASE("invalid gate configurations name the field", "[gates]") {
    quantile_gate_config q;
    q.multiplier = 0.8;
    CHECK_THROWS_WITH(quantile_gate(q),
                      Contains("multiplier = 0.8") && Contains("tests an increase"));
    q = {};
    q.quantile = 1.0;
    CHECK_THROWS_WITH(quantile_gate(q), Contains("quantile = 1 ") && Contains("'latency_p100'"));
    q = {};
    q.metric = signal::cost;
    CHECK_THROWS_WITH(quantile_gate(q), Contains("metric = cost is not a quantile signal"));
    shape_gate_config shape;
    shape.ks_tolerance = 0;
    CHECK_THROWS_WITH(shape_gate(shape), Contains("ks_tolerance = 0 "));
    mean_gate_config m;
    m.budget_weight = -1;
    CHECK_THROWS_WITH(mean_gate(m), Contains("canarygate::mean_gate 'cost': budget_weight = -1 "));
    m = {};
    m.metric = signal::latency;
    CHECK_THROWS_WITH(mean_gate(m), Contains("is not a mean signal"));
    m = {};
    m.worse = direction::decrease;
    CHECK_THROWS_WITH(mean_gate(m),
                      Contains("multiplier = 1.2 must be <= 1 for direction::decrease"));
    m.multiplier = 0.5;
    CHECK_NOTHROW(mean_gate(m));
    rate_gate_config r;
    r.metric = signal::feedback_rate;
    r.feedback_delay_median_s = -5;
    CHECK_THROWS_WITH(rate_gate(r), Contains("feedback_delay_median_s = -5 "));
    r.feedback_delay_median_s = 600;
    r.feedback_delay_sigma = 0;
    CHECK_THROWS_WITH(rate_gate(r), Contains("feedback_delay_sigma = 0 "));
    r.feedback_delay_sigma = 1.2;
    CHECK_NOTHROW(rate_gate(r));
    r.batch_window_ns = 5 * minute_ns;
    CHECK_THROWS_WITH(rate_gate(r), Contains("cannot be combined with batch mode"));
    r = {};
    r.metric = signal::refusal_rate;
    r.feedback_delay_median_s = 600;
    CHECK_THROWS_WITH(rate_gate(r), Contains("applies to feedback_rate gates only"));
    r = {};
    r.metric = signal::output_shape;
    CHECK_THROWS_WITH(rate_gate(r), Contains("metric = output_shape is not a rate signal"));
    r = {};
    r.multiplier = std::numeric_limits<double>::infinity();
    CHECK_THROWS_WITH(rate_gate(r), Contains("multiplier = inf must be positive and finite"));
}

TEST_CASE("names: out-of-range values are 'unknown', never a real name", "[gates]") {
    // "invalid" is a verdict of its own; a corrupt value must not read as it.
    CHECK(name(verdict::invalid) == "invalid");
    CHECK(name(verdict::keep_going) == "keep_going");
    CHECK(name(verdict::no_regression_detected) == "no_regression_detected");
    CHECK(name(verdict::pass) == "pass");
    CHECK(name(verdict::fail) == "fail");
    CHECK(name(static_cast<verdict>(verdict_count)) == "unknown");
    CHECK(name(static_cast<signal>(signal_count)) == "unknown");
    for (std::size_t i = 0; i < signal_count; ++i) CHECK(name(static_cast<signal>(i)) != "unknown");
}

TEST_CASE("the closed set of gate kinds forwards to the kind it holds", "[gates]") {
    const gate rate = gate_of(signal::refusal_rate, 2.0);
    const gate shape = gate_of(signal::output_shape, 0.1);
    CHECK(std::holds_alternative<rate_gate>(rate.kind()));
    CHECK(std::holds_alternative<shape_gate>(shape.kind()));
    CHECK(rate.name() == "refusal_rate");
    CHECK(rate.metric() == signal::refusal_rate);
    CHECK(rate.tested_limit() == 2.0);
    CHECK_FALSE(shape.tested_limit().has_value());
    CHECK(shape.batch_window_ns() == 0);
    CHECK(std::holds_alternative<rate_gate::state>(rate.make_state()));
    CHECK(std::holds_alternative<shape_gate::state>(shape.make_state()));
    // A state of another kind is refused, never silently reset.
    gate_state wrong = shape.make_state();
    const arm_snapshot none;
    CHECK_THROWS_WITH(rate.evaluate(wrong, none, none, 0.05, 0.05),
                      Contains("another kind of gate"));
    CHECK(std::get<shape_gate::state>(wrong).checks == 0);
    rate_gate_config up;
    up.metric = signal::feedback_rate;
    up.worse = direction::decrease;
    up.multiplier = 0.8;
    CHECK(gate(rate_gate(up)).tested_limit() == 1.25);
}

TEST_CASE("a delay-weighted feedback gate needs the clock and refuses going back", "[gates]") {
    rate_gate_config config;
    config.metric = signal::feedback_rate;
    config.multiplier = 1.5;
    config.feedback_delay_median_s = 600;
    const rate_gate g(config);
    auto cfg = small_canary(0.3);
    scenario s(cfg, 5);
    event_window builder;
    s.run(
        10 * minute_ns, [&](const request_event& e) { builder.add(e); },
        [&](const feedback_arrival& f) { builder.add(f); });
    const snapshot inc = builder.take(0, 10 * minute_ns);
    rate_gate::state st;
    CHECK_THROWS_WITH(
        g.evaluate(st, *inc.find_arm("baseline"), *inc.find_arm("candidate"), 0.05, 0.05),
        Contains("needs the increment's end time"));
    CHECK(st.checks == 0);
    const auto r = g.evaluate(st, *inc.find_arm("baseline"), *inc.find_arm("candidate"), 0.05, 0.05,
                              {}, 10 * minute_ns);
    // The first increment has no span before it: its own feedback has no
    // exposure yet, and its requests are remembered for later windows.
    REQUIRE(st.served.size() == 1);
    CHECK(st.served.front().candidate > 0);
    CHECK(r.evidence.candidate_samples == static_cast<std::uint64_t>(st.served.front().candidate));
    CHECK_THROWS_WITH(g.evaluate(st, *inc.find_arm("baseline"), *inc.find_arm("candidate"), 0.05,
                                 0.05, {}, 5 * minute_ns),
                      Contains("before the previous increment's end"));
    CHECK(st.checks == 1);
    CHECK(st.served.size() == 1);
}

namespace {

// An arm whose every output has `tokens` tokens: `n` requests.
arm_snapshot constant_length_arm(const char* role, std::uint64_t n, std::uint64_t tokens) {
    arm_snapshot a(role, "");
    exp_histogram h(tokens_layout);
    h.record(tokens, n);
    a.add_counter(series::requests, n);
    a.add_histogram(series::output_tokens, h);
    a.add_counter(series::output_tokens_sum, n * tokens);
    a.add_counter(series::output_tokens_sum_squares, n * tokens * tokens);
    return a;
}

}  // namespace

TEST_CASE("the shape gate passes identical degenerate distributions", "[gates][shape]") {
    // Every output 256 tokens in both arms: the whole mass sits in one
    // bucket, so the bucket-mass term alone kept the upper bound at 1.
    const shape_gate shape(shape_gate_config{});
    shape_gate::state st;
    const auto r = shape.evaluate(st, constant_length_arm("baseline", 20'000, 256),
                                  constant_length_arm("candidate", 2'000, 256), 0.05 / 9, 0.05);
    CHECK(r.decision == verdict::pass);
    CHECK(r.evidence.estimate == 0.0);
    CHECK(r.evidence.upper < 0.1);
    // Same bucket, different lengths (256 and 257 share a bucket at the
    // default scale): the exact sums tell them apart, no pass.
    shape_gate::state st2;
    const auto close = shape.evaluate(st2, constant_length_arm("baseline", 20'000, 256),
                                      constant_length_arm("candidate", 2'000, 257), 0.05 / 9, 0.05);
    CHECK(close.decision != verdict::pass);
    CHECK(close.evidence.upper == 1.0);
}

TEST_CASE("reason lines: intervals off, KS bounds, where the threshold comes from",
          "[gates][evidence]") {
    gate_tuning no_intervals;
    no_intervals.intervals = false;
    const gate refusals = gate_of(signal::refusal_rate, 2.0);
    gate_state st = refusals.make_state();
    arm_snapshot b("baseline", ""), c("candidate", "");
    b.add_counter(series::requests, 100'000);
    b.add_counter("outcome.refusal_provider", 100);
    c.add_counter(series::requests, 10'000);
    c.add_counter("outcome.refusal_provider", 200);  // 20 x the baseline rate
    const auto failing = refusals.evaluate(st, b, c, 0.05 / 9, 0.05, no_intervals);
    REQUIRE(failing.decision == verdict::fail);
    CHECK_THAT(failing.reason, Contains("(interval not computed)") && !Contains("CI 0-inf"));
    // A rate gate's threshold is 1/alpha; a mean or quantile gate's 2/alpha.
    CHECK_THAT(failing.reason, Contains(">= 180 = 1/alpha, alpha 0.00556 this gate's share"));
    gate_state st2 = refusals.make_state();
    const auto with_interval = refusals.evaluate(st2, b, c, 0.05 / 9, 0.05);
    CHECK_THAT(with_interval.reason, Contains("(CI ") && !Contains("not computed"));

    const gate cost = gate_of(signal::cost, 1.2);
    gate_state cs = cost.make_state();
    arm_snapshot cb("baseline", ""), cc("candidate", "");
    for (int i = 0; i < 40; ++i) {
        // Baseline before candidate: each window's bound uses the baseline so far.
        cb = arm_snapshot("baseline", "");
        cb.add_counter(series::requests, 1000);
        cb.add_counter(series::cost_sum, 1000 * 1000);
        cb.add_counter(series::cost_sum_squares, 1000 * 1'010'000);
        cc = arm_snapshot("candidate", "");
        cc.add_counter(series::requests, 100);
        cc.add_counter(series::cost_sum, 100 * 3000);
        cc.add_counter(series::cost_sum_squares, 100 * 9'030'000);
        const auto r = cost.evaluate(cs, cb, cc, 0.05 / 9, 0.05);
        if (r.decision == verdict::fail) {
            CHECK_THAT(r.reason, Contains(">= 360 = 2/alpha") &&
                                     Contains("half of it spent on the baseline's bound"));
            break;
        }
        REQUIRE(i < 39);
    }

    // The shape gate: a KS distance and its bounds within [0, 1].
    const shape_gate shape(shape_gate_config{});
    shape_gate::state ss;
    const auto none = shape.evaluate(ss, arm_snapshot("baseline", ""),
                                     arm_snapshot("candidate", ""), 0.05 / 9, 0.05);
    CHECK_THAT(none.reason, Contains("not estimated yet (interval not computed)"));
    const auto some = shape.evaluate(ss, constant_length_arm("baseline", 50, 256),
                                     constant_length_arm("candidate", 5, 300), 0.05 / 9, 0.05);
    CHECK_THAT(some.reason, Contains("KS distance 1 (CI ") && !Contains("inf"));
}
