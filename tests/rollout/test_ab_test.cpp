// SPDX-License-Identifier: MIT
// The A/B test of a primary metric: the rate test at k = 1 is an e-value on
// both sides (exact enumeration) and mirrors itself when the arms swap; the
// increments of cumulative snapshots, refusals of shrinking ones; A/A
// calibration over many seeded runs (no difference declared above alpha,
// neither sign above alpha / 2); power in both directions for rates and
// means, never the wrong sign; no_difference_shown at the maximum duration;
// validation messages; coverage of the anytime-valid interval.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string>
#include <vector>

#include "canarygate/rollout/ab_test.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/window/event_window.hpp"
#include "support/build_kind.hpp"
#include "support/statistics.hpp"

namespace ab_test_tests {

using namespace canarygate;
using namespace canarygate::testkit;

// Sanitizer and unoptimised builds run the simulations with a tenth of the
// runs (tolerances come from the run counts, so the checks stay valid); the
// optimised builds run them in full.
constexpr bool slow_build = test_support::sanitized_build || !test_support::optimized_build;

constexpr int scaled_runs(int runs) { return slow_build ? runs / 10 : runs; }

ab_metric refusals() { return ab_metric::rate("refusals", "outcome.refusal_provider", false); }
ab_metric thumbs_down() { return ab_metric::rate("thumbs_down", "feedback.thumbs_down", false); }
ab_metric thumbs_up() { return ab_metric::rate("thumbs_up", "feedback.thumbs_up", true); }
ab_metric cost() {
    return ab_metric::mean("cost", "cost_nano_usd.sum", "cost_nano_usd.sum_sq", false);
}
ab_metric output_tokens(bool higher_is_better) {
    return ab_metric::mean("output_tokens", "output_tokens.sum", "output_tokens.sum_sq",
                           higher_is_better);
}

ab_test make_test(ab_metric m, bool intervals, double alpha = 0.05) {
    ab_test_config c{.metric = std::move(m), .alpha = alpha};
    c.compute_interval = intervals;
    return ab_test(std::move(c));
}

// A fixed 50 % split: the A/B stage.
scenario_config ab_traffic(double requests_per_minute) {
    scenario_config cfg;
    cfg.traffic.requests_per_minute = requests_per_minute;
    cfg.stages = {{0, 0.5}};
    return cfg;
}

// Runs one scenario and calls on_check(t, cumulative) every check_ns until
// horizon_ns or until it returns false.
template <class OnCheck>
void simulate(const scenario_config& cfg, std::uint64_t seed, std::int64_t horizon_ns,
              std::int64_t check_ns, OnCheck&& on_check) {
    scenario s(cfg, seed);
    event_window window;
    snapshot cumulative;
    for (std::int64_t t = check_ns; t <= horizon_ns; t += check_ns) {
        s.run(
            t, [&](const request_event& r) { window.add(r); },
            [&](const feedback_arrival& f) { window.add(f); });
        cumulative.merge(window.take(t - check_ns, t));
        if (!on_check(t, cumulative)) return;
    }
}

snapshot counters_snapshot(std::int64_t end_ns, std::uint64_t base_requests,
                           std::uint64_t base_events, std::uint64_t cand_requests,
                           std::uint64_t cand_events,
                           const std::string& counter = "outcome.refusal_provider") {
    snapshot s(0, end_ns);
    s.arm("baseline").add_counter("requests", base_requests);
    s.arm("baseline").add_counter(counter, base_events);
    s.arm("candidate").add_counter("requests", cand_requests);
    s.arm("candidate").add_counter(counter, cand_events);
    return s;
}

bool is_declared(ab_outcome o) {
    return o == ab_outcome::candidate_better || o == ab_outcome::candidate_worse;
}

// Process CPU time in seconds (the simulations are single-threaded; wall time
// depends on whatever else the machine runs).
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

double binomial_pmf(unsigned n, unsigned k, double p) {
    return std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0) +
                    k * std::log(p) + (n - k) * std::log1p(-p));
}

TEST_CASE("ab_test rate test at k = 1 is an e-value on both sides for per-request events",
          "[ab_test]") {
    // One window: n_c and n_b requests, each with an event independently with
    // probability p_c or p_b. Enumerating every (e_c, e_b), the expected
    // e-value of H0+ (r_c <= r_b) is at most 1 whenever p_c <= p_b, and that
    // of H0- whenever p_c >= p_b: the conditional construction with k = 1 is
    // exact for Bernoulli events, on both sides (arms swapped).
    const struct { unsigned n_c, n_b; } sizes[] = {{5, 7}, {12, 3}, {20, 20}};
    const struct {
        double p_c, p_b;
    } rates[] = {{0.3, 0.3}, {0.05, 0.05}, {0.1, 0.3}, {0.6, 0.6}, {0.2, 0.25}};
    for (const auto& n : sizes) {
        for (const auto& p : rates) {
            for (const bool swapped : {false, true}) {
                // swapped: the same rates with the arms exchanged, judged by H0-.
                const double pc = swapped ? p.p_b : p.p_c;
                const double pb = swapped ? p.p_c : p.p_b;
                double expected = 0;
                for (unsigned ec = 0; ec <= n.n_c; ++ec) {
                    for (unsigned eb = 0; eb <= n.n_b; ++eb) {
                        const double prob =
                            binomial_pmf(n.n_c, ec, pc) * binomial_pmf(n.n_b, eb, pb);
                        const ab_test t = make_test(refusals(), false);
                        ab_test::state st;
                        const auto r = t.evaluate(st, counters_snapshot(60, n.n_b, eb, n.n_c, ec));
                        expected += prob * std::exp(swapped ? r.log_e_lower : r.log_e_higher);
                    }
                }
                CAPTURE(n.n_c, n.n_b, pc, pb, swapped, expected);
                CHECK(expected <= 1.0 + 1e-9);
            }
        }
    }
}

TEST_CASE("ab_test swapping the arms mirrors both sides", "[ab_test]") {
    for (const bool mean : {false, true}) {
        ab_test_config c{.metric = mean ? cost() : refusals()};
        ab_test_config swapped = c;
        swapped.baseline_arm = "candidate";
        swapped.candidate_arm = "baseline";
        const ab_test t(c);
        const ab_test u(swapped);
        ab_test::state st, su;
        ab_result r, q;
        // Three increments with different splits and rates.
        const std::uint64_t base[3][2] = {{1000, 20}, {2500, 41}, {4000, 90}};
        const std::uint64_t cand[3][2] = {{900, 35}, {2000, 70}, {3300, 130}};
        for (int i = 0; i < 3; ++i) {
            snapshot s = counters_snapshot(60 * (i + 1), base[i][0], base[i][1], cand[i][0],
                                           cand[i][1], mean ? "cost_nano_usd.sum" : "x");
            if (mean) {
                s.arm("baseline").add_counter("cost_nano_usd.sum_sq", base[i][1] * 3 + 7);
                s.arm("candidate").add_counter("cost_nano_usd.sum_sq", cand[i][1] * 3 + 11);
            } else {
                s = counters_snapshot(60 * (i + 1), base[i][0], base[i][1], cand[i][0], cand[i][1]);
            }
            r = t.evaluate(st, s);
            q = u.evaluate(su, s);
        }
        CAPTURE(mean, r.reason, q.reason);
        CHECK(r.log_e_higher == Approx(q.log_e_lower).margin(1e-12));
        CHECK(r.log_e_lower == Approx(q.log_e_higher).margin(1e-12));
        CHECK(r.ratio == Approx(1.0 / q.ratio));
        REQUIRE(r.interval_computed);
        REQUIRE(q.interval_computed);
        CHECK(r.ratio_lower == Approx(1.0 / q.ratio_upper).epsilon(1e-6));
        CHECK(r.ratio_upper == Approx(1.0 / q.ratio_lower).epsilon(1e-6));
        CHECK(r.ratio_lower < r.ratio);
        CHECK(r.ratio < r.ratio_upper);
        CHECK(r.asymptotic == mean);
        if (mean) {
            CHECK(r.difference_lower == Approx(-q.difference_upper));
            CHECK(r.difference_upper == Approx(-q.difference_lower));
        }
    }
}

TEST_CASE("ab_test feeds increments of cumulative snapshots and refuses shrinking ones",
          "[ab_test]") {
    const ab_test t = make_test(refusals(), true);
    // Two cumulative snapshots against the increments fed one by one.
    ab_test::state cumulative_state;
    (void)t.evaluate(cumulative_state, counters_snapshot(60, 1000, 10, 1000, 30));
    const auto r = t.evaluate(cumulative_state, counters_snapshot(120, 3000, 25, 2900, 80));

    ab_test::rate_process higher(1.0, ab_rate_multipliers);
    higher.update(30, 40, 1000, 1000);
    higher.update(50, 65, 1900, 2000);
    ab_test::rate_process lower(1.0, ab_rate_multipliers);
    lower.update(10, 40, 1000, 1000);
    lower.update(15, 65, 2000, 1900);
    CHECK(r.log_e_higher == Approx(higher.log_e_value()).margin(1e-12));
    CHECK(r.log_e_lower == Approx(lower.log_e_value()).margin(1e-12));
    CHECK(r.candidate_requests == 2900);
    CHECK(r.baseline_requests == 3000);
    CHECK(r.candidate_total == 80);
    CHECK(r.baseline_total == 25);
    CHECK(r.ratio == Approx((80.0 / 2900) / (25.0 / 3000)));
    CHECK(r.difference == Approx(80.0 / 2900 - 25.0 / 3000));
    CHECK(r.check == 2);
    CHECK(std::isnan(r.difference_lower));

    // A counter that went down: refused, state unchanged.
    const ab_test::state before = cumulative_state;
    try {
        (void)t.evaluate(cumulative_state, counters_snapshot(180, 2000, 30, 3500, 90));
        FAIL("expected std::invalid_argument");
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        CAPTURE(what);
        CHECK(what.find("'requests'") != std::string::npos);
        CHECK(what.find("'baseline'") != std::string::npos);
        CHECK(what.find("3000 -> 2000") != std::string::npos);
    }
    CHECK(cumulative_state.checks == before.checks);
    CHECK(cumulative_state.windows.size() == before.windows.size());
    CHECK(cumulative_state.higher.log_e_value() == before.higher.log_e_value());
    CHECK(cumulative_state.previous->baseline == before.previous->baseline);
    // A snapshot ending before the previous one: refused too.
    CHECK_THROWS_AS(t.evaluate(cumulative_state, counters_snapshot(100, 4000, 30, 3500, 90)),
                    std::invalid_argument);
    CHECK(cumulative_state.checks == before.checks);
    // Missing arms read as no traffic.
    ab_test::state empty;
    const auto e = t.evaluate(empty, snapshot(0, 60));
    CHECK(e.outcome == ab_outcome::undecided);
    CHECK(e.log_e_higher == 0.0);
    CHECK(std::isnan(e.ratio));
}

TEST_CASE("ab_test started mid-rollout counts only the traffic since start", "[ab_test]") {
    const ab_test t = make_test(refusals(), true);
    // An earlier stage: 3,000 baseline and 300 candidate requests.
    ab_test::state s;
    t.start(s, counters_snapshot(60, 3000, 30, 300, 9));
    const auto r = t.evaluate(s, counters_snapshot(120, 3080, 32, 380, 10));
    CHECK(r.baseline_requests == 80);
    CHECK(r.candidate_requests == 80);
    CHECK(r.baseline_total == 2);
    CHECK(r.candidate_total == 1);
    CHECK(r.ratio == Approx(0.5));
    CHECK(r.outcome == ab_outcome::undecided);  // 80 < min_requests: nothing declared yet
    CHECK(s.origin.has_value());
}

TEST_CASE("ab_test feedback cohorts are judged against their routing share", "[ab_test]") {
    // The requests of this window were split 1:9 but the feedback is about
    // requests routed at 50 %: judged by its cohort, 30 vs 30 thumbs-down is
    // no evidence; judged against the window's requests it would be.
    const ab_test t = make_test(thumbs_down(), false);
    ab_test::state st;
    snapshot s(0, 60);
    s.arm("baseline").add_counter("requests", 9000);
    s.arm("candidate").add_counter("requests", 1000);
    s.arm("baseline").add_counter("feedback.thumbs_down", 30);
    s.arm("candidate").add_counter("feedback.thumbs_down", 30);
    s.arm("baseline")
        .add_counter(feedback_cohort::series_name(feedback_kind::thumbs_down, 500000), 30);
    s.arm("candidate")
        .add_counter(feedback_cohort::series_name(feedback_kind::thumbs_down, 500000), 30);
    const auto r = t.evaluate(st, s);
    ab_test::rate_process expected(1.0, ab_rate_multipliers);
    expected.update(30, 60, 0.5, 0.5);
    CHECK(r.log_e_higher == Approx(expected.log_e_value()).margin(1e-12));
    CHECK(r.log_e_higher < 0.0);
}

TEST_CASE("ab_test A/A calibration: no difference declared above alpha", "[ab_test][calibration]") {
    // 400 runs of 5 hours at a fixed 50 % split, 300 requests a minute,
    // checked every 5 minutes (60 looks); four metrics judged on the same
    // traffic: two rates (one from delayed feedback) and two means.
    constexpr int runs = scaled_runs(400);
    constexpr double alpha = 0.05;
    const std::vector<ab_test> tests = {make_test(refusals(), false),
                                        make_test(thumbs_down(), false), make_test(cost(), false),
                                        make_test(output_tokens(false), false)};
    std::vector<std::uint64_t> declared(tests.size()), better(tests.size()), worse(tests.size());
    const double start = cpu_seconds();
    for (int run = 0; run < runs; ++run) {
        std::vector<ab_test::state> states(tests.size());
        std::vector<bool> done(tests.size());
        simulate(ab_traffic(300), 0xab0000 + static_cast<std::uint64_t>(run), 5 * hour_ns,
                 5 * minute_ns, [&](std::int64_t, const snapshot& totals) {
                     for (std::size_t i = 0; i < tests.size(); ++i) {
                         const auto r = tests[i].evaluate(states[i], totals);
                         if (is_declared(r.outcome) && !done[i]) {
                             done[i] = true;
                             ++declared[i];
                             ++(r.outcome == ab_outcome::candidate_better ? better[i] : worse[i]);
                         }
                     }
                     return true;
                 });
    }
    const double elapsed = cpu_seconds() - start;
    for (std::size_t i = 0; i < tests.size(); ++i) {
        const std::string metric = tests[i].metric().name();
        CAPTURE(metric, declared[i], better[i], worse[i], runs, elapsed);
        CHECK(test_support::rate_not_above(declared[i], runs, alpha));
        CHECK(test_support::rate_not_above(better[i], runs, alpha / 2));
        CHECK(test_support::rate_not_above(worse[i], runs, alpha / 2));
        std::printf("ab_test A/A %-14s declared %3llu / %d (better %llu, worse %llu)\n",
                    metric.c_str(), static_cast<unsigned long long>(declared[i]), runs,
                    static_cast<unsigned long long>(better[i]),
                    static_cast<unsigned long long>(worse[i]));
    }
    std::printf("ab_test A/A: %d runs in %.2f s CPU\n", runs, elapsed);
}

TEST_CASE("ab_test power: real differences are found with the right sign", "[ab_test]") {
    constexpr int runs = scaled_runs(100);
    struct expectation {
        ab_metric metric;
        ab_outcome expected;
    };
    struct setting {
        const char* name;
        regression reg;
        std::vector<expectation> tests;
    };
    regression worse_rates_cheaper;
    worse_rates_cheaper.refusal = 2.0;
    worse_rates_cheaper.thumbs_down = 2.5;
    worse_rates_cheaper.cost = 0.7;
    regression better_rates_dearer;
    better_rates_dearer.refusal = 0.5;
    better_rates_dearer.cost = 1.3;
    better_rates_dearer.output_length = 0.8;
    const std::vector<setting> settings = {
        {"refusal x2, thumbs-down x2.5, cost x0.7",
         worse_rates_cheaper,
         {{refusals(), ab_outcome::candidate_worse},
          {thumbs_down(), ab_outcome::candidate_worse},
          // thumbs-up falls to 0.5 / 0.8 of the baseline's: higher is better.
          {thumbs_up(), ab_outcome::candidate_worse},
          {cost(), ab_outcome::candidate_better}}},
        {"refusal x0.5, cost x1.3, output length x0.8",
         better_rates_dearer,
         {{refusals(), ab_outcome::candidate_better},
          {cost(), ab_outcome::candidate_worse},
          // A metric where higher is better, falling.
          {output_tokens(true), ab_outcome::candidate_worse}}},
    };
    const double start = cpu_seconds();
    for (const auto& set : settings) {
        std::vector<ab_test> tests;
        for (const auto& e : set.tests) tests.push_back(make_test(e.metric, false));
        std::vector<std::uint64_t> right(tests.size()), wrong(tests.size());
        std::vector<double> hours(tests.size());
        scenario_config cfg = ab_traffic(300);
        cfg.candidate_regression = set.reg;
        for (int run = 0; run < runs; ++run) {
            std::vector<ab_test::state> states(tests.size());
            std::vector<bool> done(tests.size());
            simulate(cfg, 0xb0000 + static_cast<std::uint64_t>(run), 6 * hour_ns, 5 * minute_ns,
                     [&](std::int64_t t, const snapshot& totals) {
                         bool all = true;
                         for (std::size_t i = 0; i < tests.size(); ++i) {
                             if (done[i]) continue;
                             const auto r = tests[i].evaluate(states[i], totals);
                             if (is_declared(r.outcome)) {
                                 done[i] = true;
                                 ++(r.outcome == set.tests[i].expected ? right[i] : wrong[i]);
                                 hours[i] += static_cast<double>(t) / hour_ns;
                             }
                             all = all && done[i];
                         }
                         return !all;  // every test decided: stop the run
                     });
        }
        for (std::size_t i = 0; i < tests.size(); ++i) {
            const std::string metric = tests[i].metric().name();
            const std::uint64_t missed = runs - right[i] - wrong[i];
            CAPTURE(set.name, metric, right[i], wrong[i], missed);
            CHECK(wrong[i] == 0);
            CHECK(test_support::rate_not_above(missed, runs, 0.02));
            std::printf(
                "ab_test power [%s] %-14s right %3llu wrong %llu missed %llu, mean %.2f h\n",
                set.name, metric.c_str(), static_cast<unsigned long long>(right[i]),
                static_cast<unsigned long long>(wrong[i]), static_cast<unsigned long long>(missed),
                right[i] > 0 ? hours[i] / static_cast<double>(right[i]) : 0.0);
        }
    }
    std::printf("ab_test power: %.2f s CPU\n", cpu_seconds() - start);
}

TEST_CASE("ab_test at the maximum duration an undecided test shows no difference", "[ab_test]") {
    scenario_config cfg = ab_traffic(300);
    cfg.candidate_regression.refusal = 3.0;
    const ab_test same = make_test(cost(), true);         // no cost difference
    const ab_test refused = make_test(refusals(), true);  // refusals x3
    ab_test::state same_state, refused_state;
    ab_result last_same, last_refused;
    const std::int64_t horizon = 90 * minute_ns;
    simulate(cfg, 42, horizon, 5 * minute_ns, [&](std::int64_t t, const snapshot& totals) {
        const bool at_max = t == horizon;
        last_same = same.evaluate(same_state, totals, at_max);
        last_refused = refused.evaluate(refused_state, totals, at_max);
        if (!at_max) CHECK(last_same.outcome == ab_outcome::undecided);
        return true;
    });
    CAPTURE(last_same.reason, last_refused.reason);
    CHECK(last_same.outcome == ab_outcome::no_difference_shown);
    CHECK(last_same.decided_at_check == 0);
    CHECK(last_same.check == 18);
    CHECK(last_same.reason.find("no difference shown") != std::string::npos);
    CHECK(last_same.reason.find("asymptotic") != std::string::npos);
    REQUIRE(last_same.interval_computed);
    CHECK(last_same.ratio_lower < 1.0);
    CHECK(last_same.ratio_upper > 1.0);
    CHECK(last_same.difference_lower < 0.0);
    CHECK(last_same.difference_upper > 0.0);
    // A declared difference stays declared, at the maximum duration too.
    CHECK(last_refused.outcome == ab_outcome::candidate_worse);
    CHECK(last_refused.decided_at_check > 0);
    CHECK(last_refused.decided_at_check < last_refused.check);
    CHECK(last_refused.reason.find("candidate worse (declared at check") != std::string::npos);
    CHECK(last_refused.ratio_lower > 1.0);
    CHECK(last_refused.log_e_higher >= last_refused.log_threshold);
    CHECK(last_refused.log_threshold == Approx(std::log(2.0 / 0.05)));
}

TEST_CASE("ab_test validation names the field and its value", "[ab_test]") {
    auto message_of = [](auto&& make) -> std::string {
        try {
            make();
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "(no exception)";
    };
    struct expected_error {
        std::string message;
        std::vector<std::string> parts;
    };
    const std::vector<expected_error> cases = {
        {message_of([] { (void)ab_metric::rate("", "outcome.refusal_provider", false); }),
         {"canarygate::ab_metric", "name = ''"}},
        {message_of([] { (void)ab_metric::rate("bad name", "outcome.refusal_provider", false); }),
         {"name = 'bad name'", "letters"}},
        {message_of([] { (void)ab_metric::rate("r", "", false); }), {"'r'", "counter = ''"}},
        {message_of([] { (void)ab_metric::rate("r", "requests", false); }),
         {"counter = 'requests'", "denominator"}},
        {message_of([] { (void)ab_metric::mean("c", "cost_nano_usd.sum", "", false); }),
         {"'c'", "sum_squares_counter = ''"}},
        {message_of([] { (void)ab_metric::mean("c", "x.sum", "x.sum", false); }),
         {"sum_squares_counter = 'x.sum'", "differ"}},
        {message_of([] { (void)ab_metric(ab_metric_kind::rate, "r", "x", "x.sum_sq", true); }),
         {"sum_squares_counter = 'x.sum_sq'", "rate"}},
        {message_of([] { (void)ab_metric(static_cast<ab_metric_kind>(7), "r", "x", "", true); }),
         {"kind = 7"}},
        {message_of([] { (void)ab_test(ab_test_config{.metric = refusals(), .alpha = 1.5}); }),
         {"canarygate::ab_test_config", "alpha = 1.5", "(0, 1)"}},
        {message_of([] { (void)ab_test(ab_test_config{.metric = refusals(), .alpha = 0.0}); }),
         {"alpha = 0 "}},
        {message_of([] {
             ab_test_config c{.metric = refusals()};
             c.candidate_arm = "baseline";
             (void)ab_test(c);
         }),
         {"candidate_arm = 'baseline'", "differ"}},
        {message_of([] {
             ab_test_config c{.metric = refusals()};
             c.baseline_arm = "";
             (void)ab_test(c);
         }),
         {"baseline_arm = ''"}},
        {message_of([] {
             ab_test_config c{.metric = cost()};
             c.mean_n_opt = -3;
             (void)ab_test(c);
         }),
         {"mean_n_opt = -3"}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.message);
        for (const auto& part : c.parts) CHECK(c.message.find(part) != std::string::npos);
    }
    CHECK(name(ab_outcome::no_difference_shown) == "no_difference_shown");
    CHECK(name(static_cast<ab_outcome>(9)) == "unknown");
    CHECK(name(ab_metric_kind::mean) == "mean");
}

TEST_CASE("ab_test the interval covers the true ratio at every check", "[ab_test][calibration]") {
    // A/B runs with known true ratios: refusals 1.5, thumbs-down 1.5 (so
    // thumbs-up 0.7 / 0.8 = 0.875), mean cost 0.8. A run misses when the
    // interval excludes the truth at ANY of its checks (every 10 minutes for
    // 4 hours); the anytime-valid interval misses in at most alpha of runs.
    constexpr int runs = scaled_runs(150);
    constexpr double alpha = 0.05;
    scenario_config cfg = ab_traffic(300);
    cfg.candidate_regression.refusal = 1.5;
    cfg.candidate_regression.thumbs_down = 1.5;
    cfg.candidate_regression.cost = 0.8;
    const std::vector<std::pair<ab_test, double>> tests = {
        {make_test(refusals(), true, alpha), 1.5},
        {make_test(thumbs_down(), true, alpha), 1.5},
        {make_test(thumbs_up(), true, alpha), 0.875},
        {make_test(cost(), true, alpha), 0.8}};
    std::vector<std::uint64_t> missed(tests.size());
    std::vector<double> final_width(tests.size());
    const double start = cpu_seconds();
    for (int run = 0; run < runs; ++run) {
        std::vector<ab_test::state> states(tests.size());
        std::vector<bool> miss(tests.size());
        simulate(cfg, 0xc0000 + static_cast<std::uint64_t>(run), 4 * hour_ns, 10 * minute_ns,
                 [&](std::int64_t t, const snapshot& totals) {
                     for (std::size_t i = 0; i < tests.size(); ++i) {
                         const auto r = tests[i].first.evaluate(states[i], totals);
                         REQUIRE(r.interval_computed);
                         const double truth = tests[i].second;
                         if (!(r.ratio_lower <= truth && truth <= r.ratio_upper)) miss[i] = true;
                         if (t == 4 * hour_ns) final_width[i] += r.ratio_upper / r.ratio_lower;
                     }
                     return true;
                 });
        for (std::size_t i = 0; i < tests.size(); ++i) missed[i] += miss[i] ? 1U : 0U;
    }
    for (std::size_t i = 0; i < tests.size(); ++i) {
        const std::string metric = tests[i].first.metric().name();
        CAPTURE(metric, missed[i], runs);
        CHECK(test_support::rate_not_above(missed[i], runs, alpha));
        std::printf("ab_test coverage %-14s missed %llu / %d, mean upper/lower at 4 h %.3f\n",
                    metric.c_str(), static_cast<unsigned long long>(missed[i]), runs,
                    final_width[i] / runs);
    }
    std::printf("ab_test coverage: %.2f s CPU\n", cpu_seconds() - start);
}

}  // namespace ab_test_tests
