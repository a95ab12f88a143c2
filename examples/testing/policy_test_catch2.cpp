// SPDX-License-Identifier: MIT
// Unit tests of a rollout policy with Catch2 and canarygate's testing kit
// (docs/testing.md): against generated traffic, and against a request log
// that an inference server wrote (examples/embedding.cpp --log), replayed.
//
// Built and run as the CTest test example_policy_test_catch2. Built with
// CANARYGATE_EXAMPLE_BROKEN_POLICY (cost limit 5x instead of 1.2x) it must
// fail, explaining why: the test example_policy_test_broken_catch2.
// --8<-- [start:setup]
#define CATCH_CONFIG_MAIN  // in one file of the test program
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include <canarygate/testing/catch2.hpp>

namespace cg = canarygate;
namespace kit = canarygate::testkit;
// --8<-- [end:setup]

// The policy under test: the default one, or, built with
// CANARYGATE_EXAMPLE_BROKEN_POLICY, one whose cost gate allows 5x.
cg::policy_config our_policy() {
#ifdef CANARYGATE_EXAMPLE_BROKEN_POLICY
    return kit::with_multiplier(cg::default_policy(), cg::signal::cost, 5.0);
#else
    return cg::default_policy();
#endif
}

// --8<-- [start:rollout]
// The rollout under test: canary stages at 1, 10, 25, 50 and 75 %, each at
// least 30 minutes, moving on after 2 hours if nothing was shown.
cg::controller_config my_rollout() {
    cg::controller_config rollout;
    rollout.stages = cg::canary_stages({1, 10, 25, 50, 75}, 30 * cg::minute_ns);
    for (auto& stage : rollout.stages) {
        stage.max_duration_ns = 2 * cg::hour_ns;
        stage.at_max = cg::max_duration_rule::advance;
    }
    rollout.policy = our_policy();
    return rollout;
}
// --8<-- [end:rollout]

// --8<-- [start:generated]
TEST_CASE("a +60 % cost regression halts by the 10 % stage") {
    kit::rollout_test test(my_rollout());
    test.requests_per_minute(600).inject({.cost = 1.6});
    CANARYGATE_CHECK(test.expect(kit::halts_by("canary 10 %")).in_at_least(0.95));
}

TEST_CASE("a good candidate reaches 100 % within 12 hours") {
    kit::rollout_test test(my_rollout());
    test.requests_per_minute(600);
    CANARYGATE_CHECK(test.expect(kit::completes_within(12 * cg::hour_ns)).in_at_least(0.95));
}
// --8<-- [end:generated]

// --8<-- [start:replayed]
TEST_CASE("on our own traffic, a +60 % cost regression halts by the 10 % stage") {
    const char* path = std::getenv("CANARYGATE_REQUEST_LOG");  // a server's request log
    std::ifstream file(path != nullptr ? path : "requests.jsonl");
    if (!file.is_open()) FAIL("no request log: run canarygate_embedding --log requests.jsonl");
    const kit::loaded_log log = kit::load_log(cg::read_request_log(file));

    kit::rollout_test test(my_rollout());
    test.replay(log).inject({.cost = 1.6});
    CANARYGATE_CHECK(test.expect(kit::halts_by("canary 10 %")).in_at_least(0.95));

    kit::rollout_test unchanged(my_rollout());
    unchanged.replay(log);
    CANARYGATE_CHECK(unchanged.expect(kit::completes()).in_at_least(0.95));
}
// --8<-- [end:replayed]
