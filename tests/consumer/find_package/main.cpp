// SPDX-License-Identifier: MIT
// A consumer of the installed package: the umbrella header, the inference
// server's umbrella, the json component and the testing kit. Exit code 0
// means they work.
#include <cstdint>
#include <iostream>

#include <canarygate/canarygate.hpp>
#include <canarygate/integration/json.hpp>
#include <canarygate/record.hpp>
#include <canarygate/testing/kit.hpp>

int main() {
    std::cout << "canarygate " << canarygate::version.major << '.' << canarygate::version.minor
              << '.' << canarygate::version.patch << '\n';
    canarygate::snapshot s(0, 1'000'000'000);
    s.arm("candidate").add_counter(canarygate::series::requests, 7);
    const canarygate::snapshot back = canarygate::parse_snapshot(nlohmann::json(s).dump());
    canarygate::exp_histogram h;
    h.record(std::uint64_t{1000000});
    // The testing kit: a +60 % cost regression is rolled back (one seed).
    canarygate::controller_config rollout;
    rollout.stages = canarygate::canary_stages({5}, 10 * canarygate::minute_ns);
    rollout.policy = canarygate::default_policy();
    canarygate::testkit::rollout_test test(rollout);
    test.inject({.cost = 1.6});
    const bool kit_works = test.expect(canarygate::testkit::rolls_back()).on_seed(1).passed;
    return h.count() == 1 && back == s && kit_works ? 0 : 1;
}
