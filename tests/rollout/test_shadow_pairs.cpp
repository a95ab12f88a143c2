// SPDX-License-Identifier: MIT
// The paired shadow test: its counts, its false-fail rate at the null
// boundary (tolerance from the run count), and how much more sensitive it is
// than the unpaired mean-cost gate on the same requests.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "canarygate/gates/gate.hpp"
#include "canarygate/rollout/shadow_pairs.hpp"
#include "canarygate/testing/random.hpp"
#include "canarygate/window/event_window.hpp"
#include "support/statistics.hpp"

namespace shadow_pairs_tests {

using namespace canarygate;

// One mirrored request: the baseline's cost varies by prompt (log-normal,
// sigma 1: a factor of 2.7 either way is common), the candidate's answer to
// the same prompt costs `ratio` times as much, times its own per-request
// variation (median 1, sigma `pair_sigma`). Output lengths the same way.
struct pair_source {
    testkit::random_source rng;
    double ratio;
    double pair_sigma;

    std::pair<request_outcome, request_outcome> next() {
        request_outcome base;
        base.cost_nano_usd =
            static_cast<std::uint64_t>(std::llround(rng.lognormal_median(400'000, 1.0)));
        base.output_tokens =
            static_cast<std::uint64_t>(std::llround(rng.lognormal_median(350, 0.7)));
        base.latency_ns = 1'000'000'000;
        request_outcome shadow = base;
        shadow.cost_nano_usd = static_cast<std::uint64_t>(std::llround(
            static_cast<double>(base.cost_nano_usd) * ratio * std::exp(pair_sigma * rng.normal())));
        shadow.output_tokens = static_cast<std::uint64_t>(std::llround(
            static_cast<double>(base.output_tokens) * std::exp(pair_sigma * rng.normal())));
        return {base, shadow};
    }
};

TEST_CASE("pairs are classified against the limit and counted once") {
    CHECK(paired_shadow_recorder::classify(121, 100, 1.2) == 1);
    CHECK(paired_shadow_recorder::classify(119, 100, 1.2) == -1);
    CHECK(paired_shadow_recorder::classify(120, 100, 1.2) == 0);
    CHECK(paired_shadow_recorder::classify(0, 0, 1.2) == 0);
    CHECK(paired_shadow_recorder::classify(1, 0, 1.2) == 1);

    paired_shadow_recorder recorder({.cost = 1.2, .output_length = 1.5});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&recorder, t] {
            request_outcome b;
            request_outcome s;
            b.cost_nano_usd = 100;
            b.output_tokens = 100;
            for (int i = 0; i < 10'000; ++i) {
                s.cost_nano_usd = static_cast<std::uint64_t>(100 + (i + t) % 40);  // 100..139
                s.output_tokens = 150;                                             // a tie at 1.5
                recorder.record(b, s);
            }
        });
    }
    for (auto& th : threads) th.join();
    const paired_counts c = recorder.counts();
    CHECK(c.pairs == 40'000);
    CHECK(c.cost.above + c.cost.below + c.cost.ties == 40'000);
    CHECK(c.cost.ties == 1'000);    // 120 exactly
    CHECK(c.cost.above == 19'000);  // 121..139
    CHECK(c.output_length.ties == 40'000);
    CHECK_THROWS_WITH((void)paired_shadow_recorder({.cost = 0.9, .output_length = 1.5}),
                      Catch::Matchers::Contains("limits.cost = 0.9"));
}

// Feeds pairs in checks of `per_check` until `max_pairs`; returns the number
// of pairs at the first fail, or 0.
std::uint64_t pairs_to_fail_paired(pair_source src, const paired_test& test,
                                   std::uint64_t per_check, std::uint64_t max_pairs) {
    paired_shadow_recorder recorder(test.config().limits);
    paired_test_state state;
    for (std::uint64_t n = per_check; n <= max_pairs; n += per_check) {
        for (std::uint64_t i = 0; i < per_check; ++i) {
            const auto [b, s] = src.next();
            recorder.record(b, s);
        }
        if (test.evaluate(state, recorder.counts()).decision == verdict::fail) return n;
    }
    return 0;
}

// The same pairs, unpaired: the mean-cost gate on two arms.
std::uint64_t pairs_to_fail_unpaired(pair_source src, double limit, double alpha_fail,
                                     std::uint64_t per_check, std::uint64_t max_pairs) {
    mean_gate_config c;
    c.multiplier = limit;
    const gate g{mean_gate(c)};
    gate_state state = g.make_state();
    gate_tuning tuning;
    tuning.intervals = false;
    event_window window;
    std::uint64_t id = 0;
    std::int64_t t = 0;
    for (std::uint64_t n = per_check; n <= max_pairs; n += per_check) {
        for (std::uint64_t i = 0; i < per_check; ++i) {
            const auto [b, s] = src.next();
            (void)window.add(request_event{t, arm_role::baseline, ++id, b});
            (void)window.add(request_event{t, arm_role::candidate, ++id, s});
        }
        const snapshot inc = window.take(t, t + 1);
        t += 1;
        const arm_snapshot* base = inc.find_arm("baseline");
        const arm_snapshot* cand = inc.find_arm("candidate");
        REQUIRE(base != nullptr);
        REQUIRE(cand != nullptr);
        if (g.evaluate(state, *base, *cand, alpha_fail, 0.05, tuning).decision == verdict::fail)
            return n;
    }
    return 0;
}

TEST_CASE("at the null boundary the paired test fails falsely at most at alpha_fail") {
    // The per-request ratio's median is exactly the limit: above and below
    // are equally likely. Both metrics sit on the boundary; the test's budget
    // for the two together is alpha_fail.
    const paired_test test(
        {.limits = {.cost = 1.2, .output_length = 1.0}, .alpha_fail = 0.05, .alpha_pass = 0.05});
    constexpr std::uint64_t runs = 400;
    std::uint64_t fails = 0;
    for (std::uint64_t seed = 1; seed <= runs; ++seed) {
        const pair_source src{testkit::random_source(seed), 1.2, 0.2};
        fails += pairs_to_fail_paired(src, test, 50, 5'000) != 0;
    }
    CAPTURE(fails, runs);
    CHECK(test_support::rate_not_above(fails, runs, 0.05));
}

TEST_CASE("paired is far more sensitive than unpaired on the same requests") {
    // +40 % cost against a 1.2 limit, per-request model variation sigma 0.2
    // against prompt variation sigma 1.
    const paired_test test(
        {.limits = {.cost = 1.2, .output_length = 1.5}, .alpha_fail = 0.01, .alpha_pass = 0.05});
    std::vector<double> paired;
    std::vector<double> unpaired;
    for (std::uint64_t seed = 1; seed <= 15; ++seed) {
        const pair_source src{testkit::random_source(1000 + seed), 1.4, 0.2};
        const std::uint64_t p = pairs_to_fail_paired(src, test, 10, 200'000);
        const std::uint64_t u = pairs_to_fail_unpaired(src, 1.2, 0.01 / 2, 500, 200'000);
        REQUIRE(p != 0);  // always caught
        paired.push_back(static_cast<double>(p));
        unpaired.push_back(u == 0 ? 200'000.0 : static_cast<double>(u));
    }
    std::sort(paired.begin(), paired.end());
    std::sort(unpaired.begin(), unpaired.end());
    const double paired_median = paired[paired.size() / 2];
    const double unpaired_median = unpaired[unpaired.size() / 2];
    WARN("pairs to a fail at cost x1.4 (limit 1.2), median of 15 seeds: paired "
         << paired_median << ", unpaired " << unpaired_median << " ("
         << unpaired_median / paired_median << "x as many)");
    CHECK(unpaired_median >= 10 * paired_median);
}

TEST_CASE("a count that goes back is refused and changes nothing") {
    const paired_test test;
    paired_test_state state;
    paired_counts c;
    c.pairs = 10;
    c.cost.above = 10;
    c.output_length.below = 10;
    (void)test.evaluate(state, c);
    paired_counts earlier = c;
    earlier.pairs = 5;
    CHECK_THROWS_WITH((void)test.evaluate(state, earlier), Catch::Matchers::Contains("went back"));
    CHECK(state.previous == c);
    CHECK(state.checks == 1);
}

}  // namespace shadow_pairs_tests
