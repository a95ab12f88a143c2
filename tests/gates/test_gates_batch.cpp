// SPDX-License-Identifier: MIT
// Batch mode (window-level observations) and the fixed-sample references in
// a gate's evidence: batching by the clock, refusal of bad input without
// touching the state, decisions on clear cases, and the references checked
// against Boost's Clopper-Pearson bounds and a direct Fieller computation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <variant>

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/normal.hpp>

#include "canarygate/gates/gate.hpp"
#include "canarygate/gates/policy.hpp"
#include "canarygate/window/event_window.hpp"
#include "support/gate_simulation.hpp"

using namespace canarygate;
using namespace canarygate::testkit;
using Catch::Matchers::Contains;

using namespace gate_simulation;  // gate_of, small_canary, run_gate, ...

namespace {

// One increment: `n_c` candidate and `n_b` baseline requests with the given
// costs, and `refusals_c` / `refusals_b` of them refused.
snapshot increment(std::uint64_t n_c, std::uint64_t cost_c, std::uint64_t refusals_c,
                   std::uint64_t n_b, std::uint64_t cost_b, std::uint64_t refusals_b,
                   std::int64_t end_ns) {
    event_window b;
    std::uint64_t id = 0;
    auto add = [&](arm_role arm, std::uint64_t n, std::uint64_t cost, std::uint64_t refusals) {
        for (std::uint64_t i = 0; i < n; ++i) {
            request_outcome o;
            o.latency_ns = 500'000'000;
            o.output_tokens = 100;
            o.cost_nano_usd = cost + (i % 7);  // a little spread, so variances are positive
            o.category = i < refusals ? outcome::refusal_structured : outcome::ok;
            b.add(request_event{end_ns, arm, ++id, o});
        }
    };
    add(arm_role::candidate, n_c, cost_c, refusals_c);
    add(arm_role::baseline, n_b, cost_b, refusals_b);
    return b.take(end_ns - minute_ns, end_ns);
}

template <class Gate>
gate_result feed(const Gate& g, typename Gate::state& st, const snapshot& s, std::int64_t end_ns) {
    return g.evaluate(st, *s.find_arm("baseline"), *s.find_arm("candidate"), 0.05, 0.05, {},
                      end_ns);
}

mean_gate cost_batch_gate(std::int64_t window_ns) {
    mean_gate_config c;
    c.batch_window_ns = window_ns;
    return mean_gate(c);
}

// A cost or refusal gate in batch mode.
gate batch_gate(signal s, double k, std::int64_t window_ns) {
    if (s == signal::cost) {
        mean_gate_config c;
        c.multiplier = k;
        c.batch_window_ns = window_ns;
        return mean_gate(c);
    }
    rate_gate_config c;
    c.metric = s;
    c.multiplier = k;
    c.batch_window_ns = window_ns;
    return rate_gate(c);
}

std::uint64_t checks_of(const gate_state& s) {
    return std::visit([](const auto& x) { return x.checks; }, s);
}

}  // namespace

TEST_CASE("batch mode: configuration errors name the field", "[gates][batch]") {
    CHECK_THROWS_WITH(cost_batch_gate(-1),
                      Contains("batch_window_ns = -1") && Contains("must be >= 0"));
    quantile_gate_config q;
    q.batch_window_ns = minute_ns;
    CHECK_NOTHROW(quantile_gate(q));
    // The shape gate has no batch mode: shape_gate_config has no such field.
}

TEST_CASE("batch mode: bad input is refused and leaves the state as it was", "[gates][batch]") {
    const auto g = cost_batch_gate(5 * minute_ns);
    mean_gate::state st;
    const snapshot s = increment(10, 100, 0, 1000, 100, 0, 6 * minute_ns);
    // No time: batch mode cannot place the increment.
    CHECK_THROWS_WITH(g.evaluate(st, *s.find_arm("baseline"), *s.find_arm("candidate"), 0.05, 0.05),
                      Contains("needs the increment's end time"));
    CHECK(st.checks == 0);
    CHECK_FALSE(st.batch.open.has_value());
    feed(g, st, s, 11 * minute_ns);  // batch 2
    const auto before = st.checks;
    const double baseline_n = st.sums.baseline_n;
    CHECK_THROWS_WITH(feed(g, st, s, 4 * minute_ns), Contains("before the open batch 2"));
    CHECK(st.checks == before);
    CHECK(st.sums.baseline_n == baseline_n);
    REQUIRE(st.batch.open.has_value());
    CHECK(st.batch.open->index == 2);
}

TEST_CASE("batch mode: a batch counts once, when a later batch starts", "[gates][batch]") {
    const auto g = cost_batch_gate(5 * minute_ns);
    mean_gate::state st;
    // Minute 1: opens batch 0 with no baseline yet (no null bound: it can
    // never be an observation); minutes 6..9 fill batch 1, bounded by the
    // baseline of minute 1.
    feed(g, st, increment(10, 100, 0, 5000, 100, 0, 1 * minute_ns), 1 * minute_ns);
    gate_result r;
    for (int m = 6; m <= 9; ++m)
        r = feed(g, st, increment(10, 100, 0, 5000, 100, 0, m * minute_ns), m * minute_ns);
    CHECK(r.evidence.batches == 0);  // batch 0 had no bound, batch 1 is still open
    REQUIRE(st.batch.open.has_value());
    CHECK(st.batch.open->index == 1);
    CHECK(st.batch.open->candidate_n == 40);
    CHECK(st.batch.open->fail_bound > 0);
    r = feed(g, st, increment(10, 100, 0, 5000, 100, 0, 10 * minute_ns), 10 * minute_ns);
    CHECK(r.evidence.batches == 1);  // minute 10 starts batch 2 and closes batch 1
    CHECK(st.batch.open->index == 2);
    CHECK(st.batch.open->candidate_n == 10);
    CHECK_THAT(r.reason, Contains("in 1 closed batches"));
    // A batch without candidate traffic is not an observation.
    r = feed(g, st, increment(0, 100, 0, 5000, 100, 0, 16 * minute_ns), 16 * minute_ns);
    CHECK(r.evidence.batches == 2);
    r = feed(g, st, increment(10, 100, 0, 5000, 100, 0, 21 * minute_ns), 21 * minute_ns);
    CHECK(r.evidence.batches == 2);
    CHECK(r.evidence.asymptotic_interval);
    CHECK(std::isnan(r.evidence.fixed_lower));  // no fixed-sample reference in batch mode
}

TEST_CASE("batch mode: clear regressions fail, equal versions pass", "[gates][batch]") {
    for (const signal s : {signal::cost, signal::refusal_rate}) {
        const double k = s == signal::cost ? 1.2 : 2.0;
        const gate g = batch_gate(s, k, 5 * minute_ns);
        gate_state bad = g.make_state();
        gate_state same = g.make_state();
        gate_result r_bad;
        gate_result r_same;
        for (int m = 1; m <= 24 * 60 && r_bad.decision != verdict::fail; ++m) {
            const bool cost = s == signal::cost;
            // Regression: cost x3, refusals 30 % vs 5 %.
            r_bad = feed(g, bad,
                         increment(40, cost ? 300 : 100, cost ? 0 : 12, 400, 100, cost ? 0 : 20,
                                   m * minute_ns),
                         m * minute_ns);
        }
        for (int m = 1; m <= 24 * 60 && r_same.decision != verdict::pass; ++m) {
            r_same =
                feed(g, same, increment(40, 100, 2, 400, 100, 20, m * minute_ns), m * minute_ns);
        }
        CAPTURE(name(s), r_bad.reason, r_same.reason);
        CHECK(r_bad.decision == verdict::fail);
        CHECK(r_bad.evidence.log_e_value >= r_bad.evidence.log_fail_threshold);
        CHECK(r_bad.evidence.lower > k);  // the interval lies above the limit
        CHECK_THAT(r_bad.reason, Contains("regression beyond"));
        CHECK(r_same.decision == verdict::pass);
        CHECK(r_same.evidence.upper < k);
        CHECK(r_same.evidence.batches >= 12);  // the pass side waits for enough batches
    }
}

TEST_CASE("batch mode runs inside a policy, on the snapshots' clock", "[gates][batch][policy]") {
    policy_config cfg;
    // Two cost gates: names must differ.
    cfg.gates = {
        batch_gate(signal::cost, 1.2, 5 * minute_ns).with([](auto& c) { c.name = "cost_batch"; }),
        gate_simulation::gate_of(signal::cost, 1.2)};
    const policy p(cfg);
    policy_state st;
    policy_report report;
    for (int m = 1; m <= 60; ++m) {
        report = p.evaluate_increment(st, increment(10, 100, 0, 990, 100, 0, m * minute_ns), 0.01);
    }
    CHECK(report.gates[0].evidence.batches ==
          11);  // batches 1..11 closed (batch 0 had no baseline yet)
    CHECK(report.gates[1].evidence.batches == 0);
    // An increment before the open batch is refused before any gate changes.
    const auto checks = checks_of(st.gates[1]);
    CHECK_THROWS_WITH(
        p.evaluate_increment(st, increment(10, 100, 0, 990, 100, 0, 2 * minute_ns), 0.01),
        Contains("before the open batch"));
    CHECK(checks_of(st.gates[1]) == checks);
}

TEST_CASE(
    "fixed-sample references: Clopper-Pearson for rates, Fieller for cost, order statistics for "
    "quantiles",
    "[gates][evidence]") {
    // Refusals: 30 of 1000 candidate requests, 150 of 10000 baseline ones.
    const gate refusals = gate_simulation::gate_of(signal::refusal_rate, 2.0);
    gate_state rate_state = refusals.make_state();
    const auto rate =
        feed(refusals, rate_state, increment(1000, 100, 30, 10000, 100, 150, minute_ns), minute_ns);
    using binomial = boost::math::binomial_distribution<double>;
    const double p_lo = binomial::find_lower_bound_on_p(180, 30, 0.025);
    const double p_hi = binomial::find_upper_bound_on_p(180, 30, 0.025);
    CHECK(rate.evidence.fixed_method == "clopper-pearson");
    CHECK(rate.evidence.fixed_lower == Approx(p_lo / (1 - p_lo) * 10.0).epsilon(1e-12));
    CHECK(rate.evidence.fixed_upper == Approx(p_hi / (1 - p_hi) * 10.0).epsilon(1e-12));
    CHECK(rate.evidence.fixed_lower < 2.0);  // the estimate (2.0) is inside
    CHECK(rate.evidence.fixed_upper > 2.0);
    // The anytime-valid interval pays for looking at any time: it is wider.
    CHECK(rate.evidence.lower <= rate.evidence.fixed_lower);
    CHECK(rate.evidence.upper >= rate.evidence.fixed_upper);

    // Cost: candidate values 300..306 (mean 303), baseline 100..106 (mean 103).
    const gate cost_gate = gate_simulation::gate_of(signal::cost, 1.2);
    gate_state cost_state = cost_gate.make_state();
    const auto cost =
        feed(cost_gate, cost_state, increment(700, 300, 0, 7000, 100, 0, minute_ns), minute_ns);
    // Offsets 0..6 repeated: population variance 4, so the variances of the
    // means are 4 n / (n - 1) / n = 4 / (n - 1).
    const double vc = 4.0 / 699;
    const double vb = 4.0 / 6999;
    const double z = boost::math::quantile(boost::math::complement(boost::math::normal(), 0.025));
    // Roots of (303 - t 103)^2 = z^2 (vc + t^2 vb).
    const double a = 103.0 * 103.0 - z * z * vb;
    const double b = 303.0 * 103.0;
    const double c = 303.0 * 303.0 - z * z * vc;
    const double d = std::sqrt(b * b - a * c);
    CHECK(cost.evidence.fixed_method == "fieller");
    CHECK(cost.evidence.fixed_lower == Approx((b - d) / a).epsilon(1e-9));
    CHECK(cost.evidence.fixed_upper == Approx((b + d) / a).epsilon(1e-9));

    // Quantile gates: every request at 0.5 s, so both order-statistic
    // intervals lie in the bucket holding 0.5 s and the reference is that
    // bucket's edges divided crosswise.
    const gate p99 = gate_simulation::gate_of(signal::latency, 1.5);
    gate_state q_state = p99.make_state();
    const auto q = feed(p99, q_state, increment(700, 300, 0, 7000, 100, 0, minute_ns), minute_ns);
    exp_histogram one(latency_ns_layout);
    one.record(std::uint64_t{500'000'000});
    const auto buckets = one.buckets();
    const auto slot =
        static_cast<std::int64_t>(std::find(buckets.begin(), buckets.end(), 1U) - buckets.begin());
    const std::int64_t index = one.layout().first_index() + slot;
    const double lo = one.layout().lower_edge(index);
    const double hi = one.layout().upper_edge(index);
    CHECK(q.evidence.fixed_method == "order-statistic");
    CHECK(q.evidence.fixed_lower == Approx(lo / hi));
    CHECK(q.evidence.fixed_upper == Approx(hi / lo));
    // The shape gate has none.
    const shape_gate shape(shape_gate_config{});
    shape_gate::state shape_state;
    const auto sh =
        feed(shape, shape_state, increment(700, 300, 0, 7000, 100, 0, minute_ns), minute_ns);
    CHECK(std::isnan(sh.evidence.fixed_lower));
    CHECK(sh.evidence.fixed_method.empty());
}

TEST_CASE("batch mode on quantile gates: a slow candidate fails, an equal one does not",
          "[gates][batch]") {
    for (const signal s : {signal::latency, signal::output_length}) {
        quantile_gate_config c;
        c.metric = s;
        c.quantile = s == signal::latency ? 0.99 : 0.9;
        c.batch_window_ns = 5 * minute_ns;
        const gate g = quantile_gate(c);
        auto slow = gate_simulation::small_canary(0.2);
        if (s == signal::latency)
            slow.candidate_regression.latency = 3.0;
        else
            slow.candidate_regression.output_length = 3.0;
        const auto bad = gate_simulation::run_gate(g, slow, 21, 8 * hour_ns, minute_ns);
        CAPTURE(name(s), bad.last.reason);
        REQUIRE(bad.fail_at.has_value());
        CHECK(bad.last.evidence.batches >= 3);
        CHECK(bad.last.evidence.candidate_events > 0);  // exceedances above the fail threshold
        const auto same = gate_simulation::run_gate(g, gate_simulation::small_canary(0.2), 22,
                                                    4 * hour_ns, minute_ns);
        CHECK_FALSE(same.fail_at.has_value());
    }
}
