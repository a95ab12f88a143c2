// SPDX-License-Identifier: MIT
// The policy over whole simulated rollouts: budget split, fail on a critical
// regression, invalid on a sample-ratio mismatch, hold on an advisory fail,
// the weaker "no regression detected" at max duration, cumulative input, and
// the noise-floor check.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <variant>

#include "canarygate/gates/default_policy.hpp"
#include "canarygate/gates/policy.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/window/event_window.hpp"

using namespace canarygate;
using namespace canarygate::testkit;
using Catch::Matchers::Contains;

namespace {

struct rollout {
    policy_report last;
    std::int64_t decided_at = -1;
};

// Checks the policy every 15 minutes until a terminal verdict or the horizon.
rollout run_policy(const policy& p, const scenario_config& cfg, std::uint64_t seed,
                   std::int64_t horizon, bool cumulative = false) {
    scenario s(cfg, seed);
    event_window builder;
    policy_state state;
    snapshot totals;
    rollout out;
    constexpr std::int64_t step = 15 * minute_ns;
    for (std::int64_t t = step; t <= horizon; t += step) {
        s.run(
            t, [&](const request_event& r) { builder.add(r); },
            [&](const feedback_arrival& f) { builder.add(f); });
        const snapshot inc = builder.take(t - step, t);
        const bool last_check = t + step > horizon;
        if (cumulative) {
            totals.merge(inc);
            out.last = p.evaluate(state, totals, s.candidate_share(t - 1), last_check);
        } else {
            out.last = p.evaluate_increment(state, inc, s.candidate_share(t - 1), last_check);
        }
        if (out.last.decision == verdict::fail || out.last.decision == verdict::invalid) {
            out.decided_at = t;
            break;
        }
    }
    return out;
}

scenario_config canary(double share) {
    scenario_config cfg;
    cfg.traffic.requests_per_minute = 300;
    cfg.stages = {{0, share}};
    return cfg;
}

policy fast_default() {
    auto cfg = default_policy();
    cfg.tuning.intervals = false;
    return policy(cfg);
}

}  // namespace

TEST_CASE("the default policy follows the lesson", "[policy]") {
    const policy p(default_policy());
    REQUIRE(p.config().gates.size() == 9);
    double total = 0;
    for (const double a : p.gate_alpha()) {
        CHECK(a == Approx(0.05 / 9));
        total += a;
    }
    CHECK(total == Approx(0.05));
    const auto& gates = p.config().gates;
    const char* names[] = {"latency_p99",       "ttft_p99",     "cost",
                           "error_rate",        "refusal_rate", "output_length_p50",
                           "output_length_p90", "output_shape", "feedback_rate"};
    for (std::size_t i = 0; i < gates.size(); ++i) CHECK(gates[i].name() == names[i]);
    CHECK(gates[0].tested_limit() == 1.5);
    CHECK(std::get<quantile_gate>(gates[0].kind()).config().quantile == 0.99);
    CHECK(gates[2].metric() == signal::cost);
    CHECK(gates[2].tested_limit() == 1.2);
    CHECK(gates[3].tested_limit() == 2.0);
    CHECK(std::get<rate_gate>(gates[3].kind()).config().min_events == 4);
    CHECK(std::get<shape_gate>(gates[7].kind()).config().ks_tolerance == 0.1);
    CHECK_FALSE(gates[1].critical());  // TTFT: advisory
    CHECK_FALSE(gates[8].critical());  // feedback: advisory
}

TEST_CASE("a good candidate is not rolled back and eventually passes", "[policy]") {
    const policy p = fast_default();
    int passes = 0;
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
        auto cfg = canary(0.5);
        cfg.model.feedback_probability = 0.2;
        cfg.model.feedback_delay_median_s = 60;
        const auto r = run_policy(p, cfg, seed, 12 * hour_ns);
        CAPTURE(seed, r.last.summary);
        CHECK(r.last.decision != verdict::fail);
        CHECK(r.last.decision != verdict::invalid);
        passes += r.last.decision == verdict::pass ? 1 : 0;
    }
    CHECK(passes >= 4);
}

TEST_CASE("a critical regression rolls back and says which gate", "[policy]") {
    auto cfg = canary(0.1);
    cfg.candidate_regression.cost = 2.0;
    const auto r = run_policy(fast_default(), cfg, 3, 8 * hour_ns);
    REQUIRE(r.last.decision == verdict::fail);
    CHECK_THAT(r.last.summary, Contains("fail: cost ratio"));
    CHECK(r.last.gates.size() == 9);
}

TEST_CASE("a sample-ratio mismatch is invalid, never a fail", "[policy]") {
    auto cfg = canary(0.1);
    cfg.split_mismatch = 1.5;             // the router sends 15 %, not 10 %
    cfg.candidate_regression.cost = 2.0;  // even with a real regression
    const auto r = run_policy(fast_default(), cfg, 4, 8 * hour_ns);
    REQUIRE(r.last.decision == verdict::invalid);
    CHECK_THAT(r.last.summary, Contains("sample-ratio mismatch"));
    CHECK(r.last.srm.mismatch);
    CHECK(r.last.srm.observed_share > 0.12);
}

TEST_CASE("an advisory gate's fail holds instead of rolling back", "[policy]") {
    auto pc = default_policy();
    pc.tuning.intervals = false;
    for (auto& g : pc.gates) g = g.with([](auto& c) { c.critical = c.metric != signal::cost; });
    const policy p(pc);
    auto cfg = canary(0.2);
    cfg.candidate_regression.cost = 3.0;
    const auto r = run_policy(p, cfg, 5, 4 * hour_ns);
    CHECK(r.last.decision == verdict::keep_going);
    CHECK_THAT(r.last.summary, Contains("hold for a human") && Contains("cost"));
}

TEST_CASE("undecided at max duration is reported as weaker than pass", "[policy]") {
    // A 1 % canary for one hour cannot decide the P99 or the length shape.
    const auto r = run_policy(fast_default(), canary(0.01), 6, hour_ns);
    CHECK(r.last.decision == verdict::no_regression_detected);
    CHECK(name(r.last.decision) == "no_regression_detected");
    CHECK_THAT(r.last.summary, Contains("weaker than pass") && Contains("latency_p99"));
}

TEST_CASE("cumulative snapshots give the same verdicts as increments", "[policy]") {
    auto cfg = canary(0.2);
    cfg.candidate_regression.refusal = 4.0;
    const auto by_increment = run_policy(fast_default(), cfg, 7, 6 * hour_ns, false);
    const auto by_totals = run_policy(fast_default(), cfg, 7, 6 * hour_ns, true);
    CHECK(by_increment.decided_at == by_totals.decided_at);
    CHECK(by_increment.last.decision == by_totals.last.decision);
    REQUIRE(by_increment.last.gates.size() == by_totals.last.gates.size());
    for (std::size_t i = 0; i < by_totals.last.gates.size(); ++i) {
        const double a = by_increment.last.gates[i].evidence.log_e_value;
        const double b = by_totals.last.gates[i].evidence.log_e_value;
        CAPTURE(by_totals.last.gates[i].name);
        CHECK(std::isnan(a) == std::isnan(b));  // the shape gate has no e-value
        if (!std::isnan(a)) CHECK(a == Approx(b).margin(1e-9));
    }
}

TEST_CASE("a restarted recorder makes the check invalid, then recovers", "[policy]") {
    const policy p = fast_default();
    policy_state state;
    event_window b;
    scenario s(canary(0.2), 8);
    auto feed = [&](std::int64_t t) {
        s.run(
            t, [&](const request_event& r) { b.add(r); },
            [&](const feedback_arrival& f) { b.add(f); });
    };
    feed(hour_ns);
    const snapshot first = b.take(0, hour_ns);
    (void)p.evaluate(state, first, 0.2);
    feed(2 * hour_ns);
    const snapshot restarted = b.take(hour_ns, 2 * hour_ns);  // smaller than `first`
    const auto r = p.evaluate(state, restarted, 0.2);
    CHECK(r.decision == verdict::invalid);
    CHECK_THAT(r.summary, Contains("recorder restarted"));
    CHECK_NOTHROW(p.evaluate(state, restarted, 0.2));
}

TEST_CASE("noise-floor warnings and configuration errors", "[policy]") {
    const policy p(default_policy());
    std::vector<double> floor(9, std::nan(""));
    floor[2] = 1.25;  // cost: identical versions reach 1.25 x
    floor[0] = 1.1;   // latency: fine
    const auto w = p.noise_floor_warnings(floor);
    REQUIRE(w.size() == 1);
    CHECK_THAT(
        w[0], Contains("cost: multiplier 1.2 is at or below the measured noise floor NF99 = 1.25"));

    policy_config bad = default_policy();
    bad.alpha_fail = 0;
    CHECK_THROWS_WITH(policy(bad), Contains("alpha_fail = 0"));
    bad = default_policy();
    bad.candidate_arm = "baseline";
    CHECK_THROWS_WITH(policy(bad), Contains("must be non-empty and different"));
    rate_gate_config errors;
    errors.multiplier = -2;
    CHECK_THROWS_WITH(rate_gate(errors), Contains("'error_rate': multiplier = -2 "));
    bad = default_policy();
    bad.gates.clear();
    CHECK_THROWS_WITH(policy(bad), Contains("gates.size() = 0 must be at least 1"));
    policy_state state;
    CHECK_THROWS_WITH(p.evaluate_increment(state, snapshot(0, 1), 0.0),
                      Contains("candidate_share = 0"));
}

TEST_CASE("gate names: derived, re-derived by with(), unique in a policy, found in reports",
          "[policy][names]") {
    quantile_gate_config q;
    const gate p99 = quantile_gate(q);
    CHECK(p99.name() == "latency_p99");
    // A derived name follows the edited configuration ...
    CHECK(p99.with([](quantile_gate_config& c) { c.quantile = 0.5; }).name() == "latency_p50");
    rate_gate_config thumbs;
    thumbs.metric = signal::feedback_rate;
    const gate down = rate_gate(thumbs);
    CHECK(down.name() == "feedback_rate");
    CHECK(down.with([](rate_gate_config& c) { c.feedback = feedback_kind::thumbs_up; }).name() ==
          "feedback_rate_thumbs_up");
    CHECK(down.with([](rate_gate_config& c) { c.metric = signal::error_rate; }).name() ==
          "error_rate");
    // ... a name that was set stays, and an edit may set one.
    const gate named = p99.with([](auto& c) { c.name = "p99_chat"; });
    CHECK(named.with([](quantile_gate_config& c) { c.quantile = 0.5; }).name() == "p99_chat");
    CHECK_THROWS_WITH(p99.with([](auto& c) { c.name = "has space"; }),
                      Contains("name 'has space' must be 1 to 64 letters"));

    policy_config cfg = default_policy();
    cfg.gates.push_back(cfg.gates.front());
    CHECK_THROWS_WITH(policy(cfg), Contains("are both named 'latency_p99'"));
    cfg.gates.back() = cfg.gates.back().with([](auto& c) { c.name = "latency_p99_again"; });
    CHECK_NOTHROW(policy(cfg));

    const auto r = run_policy(fast_default(), canary(0.2), 3, hour_ns);
    const gate_result* cost = r.last.find("cost");
    REQUIRE(cost != nullptr);
    CHECK(cost->metric == signal::cost);
    CHECK(r.last.find("output_length_p50") != r.last.find("output_length_p90"));
    CHECK(r.last.find("no_such_gate") == nullptr);
}

TEST_CASE("policy configuration: tuning fields are validated by name", "[policy]") {
    policy_config cfg = default_policy();
    cfg.tuning.baseline_n_opt = 0;
    CHECK_THROWS_WITH(policy(cfg), Contains("tuning.baseline_n_opt = 0 must be positive"));
    cfg = default_policy();
    cfg.tuning.batch_n_opt = std::nan("");
    CHECK_THROWS_WITH(policy(cfg), Contains("tuning.batch_n_opt = nan"));
}

TEST_CASE("a refused call leaves the policy state as it was", "[policy]") {
    const policy p = fast_default();
    event_window b;
    scenario s(canary(0.2), 11);
    auto feed = [&](std::int64_t t) {
        s.run(
            t, [&](const request_event& r) { b.add(r); },
            [&](const feedback_arrival& f) { b.add(f); });
    };
    feed(30 * minute_ns);
    snapshot totals = b.take(0, 30 * minute_ns);
    policy_state state;
    (void)p.evaluate(state, totals, 0.2);
    feed(hour_ns);
    totals.merge(b.take(30 * minute_ns, hour_ns));
    const policy_state before = state;
    // A bad share is refused before the totals are remembered: the next call
    // judges the whole half hour, nothing is lost.
    CHECK_THROWS_WITH(p.evaluate(state, totals, 1.5), Contains("candidate_share = 1.5"));
    CHECK(state.checks == before.checks);
    CHECK(state.previous_totals == before.previous_totals);
    const auto report = p.evaluate(state, totals, 0.2);
    const auto reference = [&] {
        policy_state again = before;
        return p.evaluate(again, totals, 0.2);
    }();
    CHECK(report.find("cost")->evidence.candidate_samples ==
          reference.find("cost")->evidence.candidate_samples);
    CHECK(report.srm.candidate_requests == reference.srm.candidate_requests);
}

TEST_CASE("histograms of different ranges in the two arms are refused before any gate runs",
          "[policy]") {
    // Used to read past the end of the narrower histogram (ASan).
    snapshot inc(0, minute_ns);
    exp_histogram wide(histogram_layout(4, 0, 40));
    exp_histogram narrow(histogram_layout(4, 0, 20));
    for (int i = 1; i < 200; ++i) {
        wide.record(100.0 * i);
        narrow.record(100.0 * i);
    }
    auto& base = inc.arm("baseline");
    base.add_counter(series::requests, 199);
    base.add_histogram(series::output_tokens, wide);
    base.add_histogram(series::latency, wide);
    auto& cand = inc.arm("candidate");
    cand.add_counter(series::requests, 199);
    cand.add_histogram(series::output_tokens, narrow);
    cand.add_histogram(series::latency, wide);
    const policy p = fast_default();
    policy_state state;
    CHECK_THROWS_WITH(p.evaluate_increment(state, inc, 0.5),
                      Contains("histogram 'output_tokens' has another range"));
    CHECK(state.checks == 0);
    CHECK(state.gates.empty());
    exp_histogram a = wide, c = narrow;
    CHECK_THROWS_WITH(align_scales(a, c), Contains("ranges differ"));
}

TEST_CASE("gate::with an edit of another kind's configuration says so", "[policy][names]") {
    const gate cost = mean_gate(mean_gate_config{});
    CHECK(cost.kind_name() == "mean_gate");
    CHECK_THROWS_WITH(cost.with([](quantile_gate_config& c) { c.quantile = 0.5; }),
                      Contains("gate 'cost' is a mean_gate; the edit takes another kind's"));
}
