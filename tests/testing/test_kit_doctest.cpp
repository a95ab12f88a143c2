// SPDX-License-Identifier: MIT
// The policy testing kit (testing/kit.hpp) and its doctest adapter: claims
// decided by Clopper-Pearson bounds, their error rates, the reports that
// explain a failure, stage names, and the adapter's pass and fail paths.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <canarygate/testing/doctest.hpp>

#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/testing/random.hpp"
#include "support/short_rollout.hpp"

namespace {

namespace cg = canarygate;
namespace kit = canarygate::testkit;

using test_support::short_rollout;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("a claim the policy meets is shown, and one it cannot meet is refuted, with reasons") {
    kit::rollout_test test(short_rollout());
    test.requests_per_minute(600).inject({.cost = 1.6});
    const kit::claim_result halts = test.expect(kit::halts_by("canary 5 %")).in_at_least(0.9);
    CHECK_MESSAGE(halts.passed, halts.report);
    CHECK(contains(halts.report, "SHOWN"));
    CHECK(contains(halts.report, "gates that rolled back or held: cost"));
    // The default plan: the fewest seeds with which all holding shows the
    // claim at alpha / 2 = 2.5 %: 0.9^n <= 0.025, n = 36.
    CHECK(halts.seeds == 36);
    CHECK(contains(halts.report, "seeds: 36, then 144 if undecided"));

    // The same regression under a cost limit of 5: never caught.
    // (At 100 requests a minute: every one of these seeds runs its whole
    // rollout, and no rate lets a limit of 5 catch a factor of 1.6.)
    kit::rollout_test broken(short_rollout(5.0));
    broken.requests_per_minute(100).inject({.cost = 1.6});
    const kit::claim_result missed = broken.expect(kit::halts_by("canary 5 %")).in_at_least(0.9);
    CHECK_FALSE(missed.passed);
    CHECK(missed.holds == 0);
    CHECK(contains(missed.report, "halts by canary 5 % in at least 90 % of seeds: REFUTED"));
    // The trace of a seed that did not halt: the injected signal's gate, its
    // evidence and its limit, stage by stage.
    CHECK(contains(missed.report, "injected into the candidate: cost x 1.6"));
    CHECK(contains(missed.report, "(limit 5)"));
    CHECK(contains(missed.report, "canary 5 %"));
    CHECK(contains(missed.report, "reached 100 % after"));
}

TEST_CASE("in_at_most: a good candidate is rarely rolled back") {
    kit::rollout_test test(short_rollout());
    test.requests_per_minute(300);
    const kit::claim_result r = test.expect(kit::rolls_back()).in_at_most(0.1);
    CHECK_MESSAGE(r.passed, r.report);
    CHECK(contains(r.report, "is rolled back in at most 10 % of seeds: SHOWN"));
}

TEST_CASE("outcome checks combine and read like the question") {
    const auto check = kit::halts_by("canary 5 %") && !kit::completes();
    CHECK(check.description == "halts by canary 5 % and not (reaches 100 %)");
    const auto either = kit::rolls_back_by(std::size_t{0}) || kit::caught_by("cost");
    CHECK(either.description == "is rolled back by stage 0 or is caught by cost");

    kit::rollout_test test(short_rollout());
    test.requests_per_minute(600).inject({.cost = 1.6});
    const cg::testkit::simulation_result r = test.run(7);
    REQUIRE(r.rolled_back());
    CHECK(check.holds(r, test.config().rollout));
    CHECK(either.holds(r, test.config().rollout));
    CHECK(kit::caught_by("cost").holds(r, test.config().rollout));
    CHECK_FALSE(kit::caught_by("latency_p99").holds(r, test.config().rollout));
    CHECK(kit::exposes_at_most(r.candidate_requests).holds(r, test.config().rollout));
    CHECK_FALSE(kit::exposes_at_most(r.candidate_requests - 1).holds(r, test.config().rollout));
    CHECK_FALSE(kit::completes_within(24 * cg::hour_ns).holds(r, test.config().rollout));

    // One seed, with its trace: the gate, its reason, the stage, the time.
    const kit::claim_result one = test.expect(kit::rolls_back()).on_seed(7);
    CHECK(one.passed);
    CHECK(contains(one.report, "rolled back at canary 5 % after"));
    CHECK(contains(one.report, "by cost"));
    CHECK(contains(one.report, "because: cost ratio"));
    CHECK(contains(one.report, "users exposed: the candidate served"));
}

TEST_CASE("bad claims are errors, not failed tests") {
    kit::rollout_test test(short_rollout());
    const auto no_such_stage = test.expect(kit::halts_by("canary 10 %"));
    try {
        (void)no_such_stage.in_at_least(0.95);
        FAIL("expected std::invalid_argument");
    } catch (const std::invalid_argument& e) {
        CHECK(contains(e.what(), "no stage \"canary 10 %\""));
        CHECK(contains(e.what(), "\"canary 5 %\", \"canary 50 %\""));
    }
    CHECK_THROWS_AS((void)test.expect(kit::completes()).in_at_least(1.0), std::invalid_argument);
    CHECK_THROWS_AS((void)test.expect(kit::completes()).in_at_most(0.0), std::invalid_argument);
    CHECK_THROWS_AS(test.confidence(0.4), std::invalid_argument);
    // A setter's bad value names the field and leaves the test as it was.
    CHECK_THROWS_WITH_AS(test.requests_per_minute(-5),
                         doctest::Contains("traffic.requests_per_minute"), std::invalid_argument);
    CHECK(test.config().traffic.traffic.requests_per_minute == 600);
    CHECK_THROWS_WITH_AS(test.inject({.cost = 0}), doctest::Contains("candidate_regression.cost"),
                         std::invalid_argument);
    CHECK(test.config().traffic.candidate_regression.cost == 1.0);
    cg::controller_config empty;
    CHECK_THROWS_AS(kit::rollout_test{empty}, std::invalid_argument);
}

TEST_CASE("an expectation keeps its own copy of the test") {
    const auto make = [] {
        kit::rollout_test test(short_rollout());
        test.requests_per_minute(600).inject({.cost = 1.6});
        return test.expect(kit::rolls_back());
    };
    const kit::expectation e = make();  // the test it came from is gone
    CHECK(e.on_seed(3).passed);
}

// The decision rule itself, with Bernoulli outcomes instead of rollouts:
// at the claim's boundary (a true rate exactly at the share) a claim is
// shown with probability at most alpha, and the opposite claim refuted with
// at most alpha; far from it the verdict is right almost always.
TEST_CASE("the sequential Clopper-Pearson rule keeps its error rates") {
    constexpr std::size_t trials = 4000;
    cg::testkit::random_source rng(2026);
    const auto run_rule = [&](double true_rate, double share, bool at_least) {
        return kit::detail::decide_rate(share, at_least, 0, 0.05, [&](std::size_t n) {
            std::uint64_t held = 0;
            for (std::size_t i = 0; i < n; ++i) held += rng.bernoulli(true_rate) ? 1U : 0U;
            return held;
        });
    };
    using kind = kit::detail::rate_decision::kind;
    // A claim "in at least 95 %" that is false (the rate is 94.8 %, or just
    // at 95 % for the refutation side): shown in at most 5 % of trials. The
    // test asserts that the 99.9 % lower Clopper-Pearson bound of the
    // observed error rate stays below 5 %, so it fails only when the rule is
    // really worse than its promise.
    for (const double share : {0.95, 0.8}) {
        std::uint64_t false_shown = 0, false_refuted = 0, true_shown = 0;
        for (std::size_t t = 0; t < trials; ++t) {
            false_shown += run_rule(share - 0.002, share, true).verdict == kind::shown;
            false_refuted += run_rule(share, share, true).verdict == kind::refuted;
        }
        for (std::size_t t = 0; t < 200; ++t)
            true_shown += run_rule(1.0, share, true).verdict == kind::shown;
        const auto bound = [&](std::uint64_t k) {
            return cg::stats::clopper_pearson_interval(k, trials, 0.002).lower;
        };
        INFO("share " << share << ": falsely shown " << false_shown << ", falsely refuted "
                      << false_refuted << " of " << trials);
        CHECK(bound(false_shown) < 0.05);
        CHECK(bound(false_refuted) < 0.05);
        // A policy that always meets the claim is shown at the first look.
        CHECK(true_shown == 200);
    }
    // "At most": symmetric.
    std::uint64_t false_shown = 0;
    for (std::size_t t = 0; t < trials; ++t)
        false_shown += run_rule(0.052, 0.05, false).verdict == kind::shown;
    CHECK(cg::stats::clopper_pearson_interval(false_shown, trials, 0.002).lower < 0.05);
    // A rate far from the share is decided at the first look.
    const auto far = run_rule(0.5, 0.95, true);
    CHECK(far.verdict == kind::refuted);
    CHECK(far.runs == far.first);
    // An explicit seed count: one look at the full alpha.
    const auto fixed = kit::detail::decide_rate(
        0.9, true, 100, 0.05, [](std::size_t n) { return static_cast<std::uint64_t>(n); });
    CHECK(fixed.runs == 100);
    CHECK(fixed.level == doctest::Approx(0.05));
    CHECK(fixed.verdict == kind::shown);
}

TEST_CASE("the adapter passes a claim the policy meets") {
    kit::rollout_test test(short_rollout());
    test.requests_per_minute(600).inject({.cost = 1.6});
    CANARYGATE_CHECK(test.expect(kit::rolls_back_by("canary 5 %")).in_at_least(0.9));
    CANARYGATE_REQUIRE(test.expect(kit::rolls_back()).on_seed(11));
}

// doctest's should_fail: this test case passes only if its assertion fails,
// which proves that CANARYGATE_CHECK reports a failed claim as a failure.
TEST_CASE("the adapter fails a claim the policy does not meet" * doctest::should_fail()) {
    kit::rollout_test test(short_rollout(5.0));
    test.requests_per_minute(100).inject({.cost = 1.6});
    CANARYGATE_CHECK(test.expect(kit::halts_by("canary 5 %")).in_at_least(0.9));
}
