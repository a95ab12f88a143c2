// SPDX-License-Identifier: MIT
// Naive comparators (canarygate/testing/naive.hpp): the semantics of each option, the
// Hodges-Lehmann / Mann-Whitney arithmetic against brute force, each comparator
// firing on an obvious regression, and -- by simulation, with Clopper-Pearson
// tolerances -- per-window thresholds and the re-checked fixed-sample test
// false-alarming far more often than the gates at the null boundary.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "canarygate/gates/gate.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/testing/naive.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/window/event_window.hpp"
#include "support/gate_simulation.hpp"

using namespace canarygate;
using namespace canarygate::testkit;
namespace nv = canarygate::naive;

namespace {

// An arm with `requests` requests and mean cost `mean` (nano-USD).
arm_snapshot cost_arm(const char* role, std::uint64_t requests, std::uint64_t mean) {
    arm_snapshot a(role, "");
    a.add_counter(series::requests, requests);
    a.add_counter(series::cost_sum, requests * mean);
    a.add_counter(series::cost_sum_squares, requests * mean * mean);
    return a;
}

nv::window_threshold_config cost_threshold(double k) {
    nv::window_threshold_config c;
    c.metric.metric = signal::cost;
    c.multiplier = k;
    return c;
}

struct sim_outcome {
    bool gate_failed = false;
    bool argo_failed = false;
    bool repeated_failed = false;
    bool kayenta_failed = false;
};

// One rollout: gate and naive comparators on the same increments.
sim_outcome simulate(const gate& gate, const nv::metric_spec& metric, const scenario_config& cfg,
                     std::uint64_t seed, std::int64_t horizon, std::int64_t step) {
    scenario s(cfg, seed);
    event_window builder;
    gate_state gs = gate.make_state();
    const double k = *gate.tested_limit();
    gate_tuning tuning;
    tuning.intervals = false;
    nv::window_threshold_config argo;
    argo.metric = metric;
    argo.multiplier = k;
    nv::window_threshold_state argo_state;
    nv::repeated_fixed_test_config rz;
    rz.metric = metric;
    rz.multiplier = k;
    nv::repeated_fixed_test_state rz_state;
    nv::kayenta_config ky;
    ky.metric = metric;
    ky.allowed_increase = k;
    nv::kayenta_state ky_state;
    sim_outcome out;
    for (std::int64_t t = step; t <= horizon; t += step) {
        s.run(
            t, [&](const request_event& r) { builder.add(r); },
            [&](const feedback_arrival& f) { builder.add(f); });
        const snapshot inc = builder.take(t - step, t);
        const arm_snapshot& b = *inc.find_arm("baseline");
        const arm_snapshot& c = *inc.find_arm("candidate");
        out.gate_failed |= gate.evaluate(gs, b, c, 0.05, 0.05, tuning).decision == verdict::fail;
        out.argo_failed |= nv::evaluate(argo, argo_state, b, c).decision == verdict::fail;
        out.repeated_failed |= nv::evaluate(rz, rz_state, b, c).decision == verdict::fail;
        out.kayenta_failed |= nv::evaluate(ky, ky_state, b, c).decision == verdict::fail;
    }
    return out;
}

scenario_config canary(double share, double rpm = 300) {
    scenario_config cfg;
    cfg.traffic.requests_per_minute = rpm;
    cfg.stages = {{0, share}};
    return cfg;
}

}  // namespace

TEST_CASE("window_threshold: Argo failureLimit, Flagger threshold, consecutive mode", "[naive]") {
    const arm_snapshot base = cost_arm("baseline", 1000, 100);
    const arm_snapshot bad = cost_arm("candidate", 50, 130);   // 1.3 x > 1.2
    const arm_snapshot good = cost_arm("candidate", 50, 110);  // 1.1 x
    const arm_snapshot tiny = cost_arm("candidate", 5, 500);   // too few requests

    SECTION("Argo default: the first failed measurement fails") {
        const auto cfg = cost_threshold(1.2);
        nv::window_threshold_state st;
        CHECK(nv::evaluate(cfg, st, base, good).decision == verdict::keep_going);
        const auto r = nv::evaluate(cfg, st, base, bad);
        CHECK(r.decision == verdict::fail);
        CHECK(r.candidate_value == Approx(130));
        CHECK(r.baseline_value == Approx(100));
        CHECK(nv::evaluate(cfg, st, base, good).decision == verdict::fail);  // sticky
    }
    SECTION("Flagger threshold 3 = failure_limit 2, cumulative") {
        auto cfg = cost_threshold(1.2);
        cfg.failure_limit = 2;
        nv::window_threshold_state st;
        CHECK(nv::evaluate(cfg, st, base, bad).decision == verdict::keep_going);
        CHECK(nv::evaluate(cfg, st, base, good).decision == verdict::keep_going);
        CHECK(nv::evaluate(cfg, st, base, bad).decision == verdict::keep_going);
        CHECK(nv::evaluate(cfg, st, base, bad).decision == verdict::fail);
        CHECK(st.failed == 3);
    }
    SECTION("consecutive: a good window resets the count") {
        auto cfg = cost_threshold(1.2);
        cfg.failure_limit = 1;
        cfg.consecutive = true;
        nv::window_threshold_state st;
        CHECK(nv::evaluate(cfg, st, base, bad).decision == verdict::keep_going);
        CHECK(nv::evaluate(cfg, st, base, good).decision == verdict::keep_going);
        CHECK(nv::evaluate(cfg, st, base, bad).decision == verdict::keep_going);
        CHECK(nv::evaluate(cfg, st, base, bad).decision == verdict::fail);
    }
    SECTION("min_requests skips small windows; no_data_fails counts them (Flagger)") {
        auto cfg = cost_threshold(1.2);
        cfg.min_requests = 20;
        nv::window_threshold_state st;
        const auto r = nv::evaluate(cfg, st, base, tiny);
        CHECK(r.skipped);
        CHECK(r.decision == verdict::keep_going);
        CHECK(st.skipped == 1);
        cfg.no_data_fails = true;
        nv::window_threshold_state st2;
        CHECK(nv::evaluate(cfg, st2, base, tiny).decision == verdict::fail);
    }
    SECTION("absolute floor and Argo count -> pass") {
        auto cfg = cost_threshold(1.2);
        cfg.absolute_floor = 200;  // 130 is above 1.2 x 100 but below the floor
        cfg.measurements = 2;
        nv::window_threshold_state st;
        CHECK(nv::evaluate(cfg, st, base, bad).decision == verdict::keep_going);
        CHECK(nv::evaluate(cfg, st, base, bad).decision == verdict::pass);
    }
    SECTION("configuration errors name the field") {
        nv::window_threshold_config cfg;
        cfg.metric.metric = signal::output_shape;
        CHECK_THROWS_WITH(cfg.validate(), Catch::Contains("metric = output_shape"));
        auto c2 = cost_threshold(-1);
        CHECK_THROWS_WITH(c2.validate(), Catch::Contains("multiplier = -1"));
    }
}

TEST_CASE("repeated_fixed_test: the z statistics", "[naive]") {
    SECTION("cost: Welch z in Fieller's difference form") {
        nv::repeated_fixed_test_config cfg;
        cfg.metric.metric = signal::cost;
        cfg.multiplier = 1.2;
        nv::repeated_fixed_test_state st;
        // Candidate 100 requests at 150 (+-0), baseline 1000 at 100 (+-0) plus a spread.
        arm_snapshot c("candidate", "");
        c.add_counter(series::requests, 100);
        c.add_counter(series::cost_sum, 15000);
        c.add_counter(series::cost_sum_squares, 100 * (150 * 150 + 50 * 50));  // sd ~50
        arm_snapshot b = cost_arm("baseline", 1000, 100);
        const auto r = nv::evaluate(cfg, st, b, c);
        const double vc = (100.0 * (150 * 150 + 50 * 50) - 15000.0 * 150) / 99;
        CHECK(r.candidate_value == Approx((150 - 120) / std::sqrt(vc / 100)).epsilon(1e-9));
        CHECK(r.decision == verdict::fail);
    }
    SECTION("rates: log-ratio delta method") {
        nv::repeated_fixed_test_config cfg;
        cfg.metric.metric = signal::refusal_rate;
        cfg.multiplier = 2.0;
        nv::repeated_fixed_test_state st;
        arm_snapshot c("candidate", ""), b("baseline", "");
        c.add_counter(series::requests, 1000);
        c.add_counter("outcome.refusal_provider", 50);
        b.add_counter(series::requests, 10000);
        b.add_counter("outcome.refusal_provider", 200);
        const auto r = nv::evaluate(cfg, st, b, c);
        const double se = std::sqrt(1.0 / 50 - 1.0 / 1000 + 1.0 / 200 - 1.0 / 10000);
        CHECK(r.candidate_value == Approx((std::log(2.5) - std::log(2.0)) / se).epsilon(1e-9));
        CHECK(r.decision == verdict::keep_going);  // z ~ 1.42 < 1.645
    }
}

TEST_CASE("kayenta: Hodges-Lehmann estimate and interval match brute force", "[naive]") {
    const std::vector<double> x = {1.0, 2.5, 3.0, 3.0, 7.0, 8.5, 9.0, 12.0};
    const std::vector<double> y = {0.5, 1.0, 1.5, 2.0, 2.0, 3.5};
    std::vector<double> diffs;
    for (const double a : x) {
        for (const double b : y) diffs.push_back(a - b);
    }
    std::sort(diffs.begin(), diffs.end());
    for (std::size_t r = 1; r <= diffs.size(); ++r) {
        CAPTURE(r);
        CHECK(nv::detail::pairwise_order_statistic(x, y, static_cast<double>(r)) ==
              Approx(diffs[r - 1]).margin(1e-9));
    }
    // Tie-corrected sigma agrees with the statistic behind mann_whitney_u_test.
    const auto mw = stats::mann_whitney_u_test(x, y, stats::alternative::two_sided, false);
    const double centred = mw.u - 48.0 / 2;
    CHECK(centred / nv::detail::rank_sum_sigma(x, y) == Approx(mw.z).epsilon(1e-12));
}

TEST_CASE("each naive comparator fires on an obvious regression", "[naive][detection]") {
    struct cell {
        gate tested;
        nv::metric_spec metric;
        void (*regress)(scenario_config&);
    };
    auto spec = [](signal s, double q) {
        nv::metric_spec m;
        m.metric = s;
        m.quantile = q;
        return m;
    };

    const cell cells[] = {
        {gate_of(signal::cost, 1.2, 0.5), spec(signal::cost, 0.5),
         [](scenario_config& c) { c.candidate_regression.cost = 3.0; }},
        {gate_of(signal::latency, 1.5, 0.99), spec(signal::latency, 0.99),
         [](scenario_config& c) { c.candidate_regression.latency = 4.0; }},
        {gate_of(signal::refusal_rate, 2.0, 0.5), spec(signal::refusal_rate, 0.5),
         [](scenario_config& c) { c.candidate_regression.refusal = 8.0; }},
    };
    for (const auto& c : cells) {
        auto cfg = canary(0.2);
        c.regress(cfg);
        const auto r = simulate(c.tested, c.metric, cfg, 17, 4 * hour_ns, 5 * minute_ns);
        CAPTURE(c.tested.name());
        CHECK(r.gate_failed);
        CHECK(r.argo_failed);
        CHECK(r.repeated_failed);
        CHECK(r.kayenta_failed);
    }
}

TEST_CASE("naive comparators false-alarm far more than the gates at the null boundary",
          "[naive][calibration]") {
    // Mean cost exactly at k = 1.2, 10 % canary at 300 requests/min (150
    // canary requests per 5 min), checked every 5 min for 4 h: 48 looks.
    // Tolerances are 99 % Clopper-Pearson bounds on the run counts, so the
    // test cannot pass by luck: the naive lower bound must exceed 3 x the
    // gate's upper bound.
    nv::metric_spec cost;
    cost.metric = signal::cost;
    const gate g = mean_gate(mean_gate_config{});  // cost <= 1.2 x
    auto cfg = canary(0.1);
    cfg.candidate_regression.cost = 1.2;
    constexpr std::uint64_t runs = 80;
    std::uint64_t gate_fails = 0, argo_fails = 0, repeated_fails = 0;
    for (std::uint64_t seed = 1; seed <= runs; ++seed) {
        const auto r = simulate(g, cost, cfg, 1000 + seed, 4 * hour_ns, 5 * minute_ns);
        gate_fails += r.gate_failed ? 1U : 0U;
        argo_fails += r.argo_failed ? 1U : 0U;
        repeated_fails += r.repeated_failed ? 1U : 0U;
    }
    const auto gate_ci = stats::clopper_pearson_interval(gate_fails, runs, 0.01);
    const auto argo_ci = stats::clopper_pearson_interval(argo_fails, runs, 0.01);
    const auto rep_ci = stats::clopper_pearson_interval(repeated_fails, runs, 0.01);
    CAPTURE(gate_fails, argo_fails, repeated_fails, gate_ci.upper, argo_ci.lower, rep_ci.lower);
    CHECK(argo_ci.lower > 3 * gate_ci.upper);
    // The re-checked one-sided 5 % test is far above its nominal level.
    CHECK(rep_ci.lower > 0.05);
}
