// SPDX-License-Identifier: MIT
// The testing kit's Catch2 adapter (canarygate/testing/catch2.hpp): a claim
// the policy meets passes as one assertion; one it does not meet fails the
// test with its report. (The kit itself is tested with doctest:
// test_kit_doctest.cpp.)
#include <catch2/catch.hpp>

#include <string>

#include <canarygate/testing/catch2.hpp>

#include "support/short_rollout.hpp"

namespace {

namespace kit = canarygate::testkit;

/// A +60 % cost regression under the given cost limit. Under a limit of 5 it
/// is never caught and every seed runs its whole rollout; no request rate
/// changes that, so those tests run at 100 requests a minute (cheap under
/// the sanitizers), the others at 600.
kit::rollout_test cost_regression(double cost_limit, double requests_per_minute = 600) {
    kit::rollout_test test(test_support::short_rollout(cost_limit));
    test.requests_per_minute(requests_per_minute).inject({.cost = 1.6});
    return test;
}

}  // namespace

TEST_CASE("Catch2 adapter: a claim the policy meets passes", "[testing][kit]") {
    const kit::rollout_test test = cost_regression(1.2);
    CANARYGATE_CHECK(test.expect(kit::halts_by("canary 5 %")).in_at_least(0.9));
    CANARYGATE_REQUIRE(test.expect(kit::caught_by("cost")).on_seed(5));
}

// [!shouldfail]: Catch2 counts this test as passed only if it fails — the
// adapter turns a refuted claim into a failed assertion.
TEST_CASE("Catch2 adapter: a claim the policy does not meet fails", "[testing][kit][!shouldfail]") {
    const kit::rollout_test test = cost_regression(5.0, 100);
    CANARYGATE_CHECK(test.expect(kit::halts_by("canary 5 %")).in_at_least(0.9));
}

TEST_CASE("Catch2 adapter: the report a failure prints explains it", "[testing][kit]") {
    const kit::claim_result r =
        cost_regression(5.0, 100).expect(kit::halts_by("canary 5 %")).in_at_least(0.9);
    REQUIRE_FALSE(r.passed);
    CHECK_THAT(r.report, Catch::Contains("REFUTED") && Catch::Contains("cost x 1.6") &&
                             Catch::Contains("(limit 5)"));
}
