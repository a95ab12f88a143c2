// SPDX-License-Identifier: MIT
// Naive comparators (canarygate/testing/naive.hpp): the semantics of each option, the
// classifier of Kayenta's judge (high, low, its degenerate cases), each comparator
// firing on an obvious regression, and -- by simulation, with Clopper-Pearson
// tolerances -- per-window thresholds and the re-checked fixed-sample test
// false-alarming far more often than the gates at the null boundary.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "canarygate/gates/gate.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/stats/mann_whitney.hpp"
#include "canarygate/testing/naive.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/window/event_window.hpp"
#include "support/gate_simulation.hpp"

using namespace canarygate;
using namespace canarygate::testkit;
namespace nv = canarygate::naive;

using namespace gate_simulation;  // gate_of, small_canary, run_gate, ...

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

// Feeds one point per arm per check (the window's mean cost) to a Kayenta
// judge; returns the decision after the last pair.
verdict kayenta_on(const nv::kayenta_config& cfg, nv::kayenta_state& st,
                   const std::vector<std::uint64_t>& candidate,
                   const std::vector<std::uint64_t>& baseline) {
    verdict last = verdict::keep_going;
    for (std::size_t i = 0; i < candidate.size(); ++i) {
        last = nv::evaluate(cfg, st, cost_arm("baseline", 100, baseline[i]),
                            cost_arm("candidate", 100, candidate[i]))
                   .decision;
    }
    return last;
}

nv::kayenta_config kayenta_cost() {
    nv::kayenta_config cfg;
    cfg.metric.metric = signal::cost;
    return cfg;
}

TEST_CASE("kayenta: the classifier of Kayenta's judge", "[naive]") {
    const std::vector<std::uint64_t> low = {100, 102, 98, 101, 99, 103, 97, 100};
    const std::vector<std::uint64_t> high = {150, 153, 147, 151, 149, 152, 148, 150};
    SECTION("high: the interval above 0.25 |estimate| and the mean ratio at the threshold") {
        auto cfg = kayenta_cost();
        cfg.allowed_increase = 1.5;
        nv::kayenta_state st;
        std::size_t checks = 0;
        while (nv::evaluate(cfg, st, cost_arm("baseline", 100, low[checks]),
                            cost_arm("candidate", 100, high[checks]))
                   .decision != verdict::fail) {
            REQUIRE(++checks < low.size());
        }
        CHECK(st.classification == nv::kayenta_classification::high);
        // Its interval is stats::wilcoxon_shift_interval's on the points so far.
        const std::vector<double> x(st.candidate_points), y(st.baseline_points);
        const auto interval = stats::wilcoxon_shift_interval(x, y, 0.98);
        CHECK(st.lower == interval.lower);
        CHECK(st.estimate == interval.estimate);
        CHECK(st.lower > 0.25 * std::fabs(st.estimate));
    }
    SECTION("an effect size below allowed_increase is not high") {
        auto cfg = kayenta_cost();
        cfg.allowed_increase = 1.6;  // the ratio is about 1.5
        nv::kayenta_state st;
        CHECK(kayenta_on(cfg, st, high, low) == verdict::keep_going);
        CHECK(st.classification == nv::kayenta_classification::pass);
    }
    SECTION("low: Kayenta's default direction is either") {
        nv::kayenta_state st;
        CHECK(kayenta_on(kayenta_cost(), st, low, high) == verdict::fail);
        CHECK(st.classification == nv::kayenta_classification::low);
        CHECK(st.upper < -0.25 * std::fabs(st.estimate));
        auto increase_only = kayenta_cost();
        increase_only.direction = nv::kayenta_direction::increase;
        nv::kayenta_state st2;
        CHECK(kayenta_on(increase_only, st2, low, high) == verdict::keep_going);
        auto decrease_only = kayenta_cost();
        decrease_only.direction = nv::kayenta_direction::decrease;
        nv::kayenta_state st3;
        CHECK(kayenta_on(decrease_only, st3, high, low) == verdict::keep_going);
    }
    SECTION("a zero baseline mean makes the effect size NaN, which is ignored: high") {
        auto cfg = kayenta_cost();
        cfg.allowed_increase = 1.5;
        nv::kayenta_state st;
        const std::vector<std::uint64_t> zeros(high.size(), 0);
        CHECK(kayenta_on(cfg, st, high, zeros) == verdict::fail);
        CHECK(st.classification == nv::kayenta_classification::high);
    }
    SECTION("identical data passes, however it is ordered") {
        nv::kayenta_state st;
        std::vector<std::uint64_t> reversed(low.rbegin(), low.rend());
        CHECK(kayenta_on(kayenta_cost(), st, low, reversed) == verdict::keep_going);
        CHECK(std::isnan(st.estimate));
        const std::vector<std::uint64_t> sevens(8, 7);
        nv::kayenta_state st2;
        CHECK(kayenta_on(kayenta_cost(), st2, sevens, sevens) == verdict::keep_going);
    }
    SECTION("single-valued arms get Kayenta's noise, then an interval") {
        auto cfg = kayenta_cost();
        cfg.allowed_increase = 1.5;
        nv::kayenta_state st;
        const std::vector<std::uint64_t> twos(8, 200), ones(8, 100);
        CHECK(kayenta_on(cfg, st, twos, ones) == verdict::fail);  // no "all tied" error
        CHECK(st.estimate == Approx(100.0).margin(0.1));
    }
    SECTION("too few points: skipped; failure is sticky") {
        nv::kayenta_state st;
        const auto r = nv::evaluate(kayenta_cost(), st, cost_arm("baseline", 100, 1),
                                    cost_arm("candidate", 100, 9));
        CHECK(r.skipped);
        nv::kayenta_state failed;
        (void)kayenta_on(kayenta_cost(), failed, high, low);
        REQUIRE(failed.failed);
        CHECK(kayenta_on(kayenta_cost(), failed, low, low) == verdict::fail);
    }
    SECTION("bad configuration names the field") {
        auto cfg = kayenta_cost();
        cfg.allowed_decrease = 0;
        CHECK_THROWS_WITH(cfg.validate(), Catch::Contains("allowed_decrease"));
        cfg = kayenta_cost();
        cfg.confidence = 1;
        CHECK_THROWS_WITH(cfg.validate(), Catch::Contains("confidence"));
    }
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
