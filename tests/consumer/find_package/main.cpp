// SPDX-License-Identifier: MIT
// A consumer of the installed package: the umbrella header, the inference
// server's umbrella and the json component. Exit code 0 means they work.
#include <cstdint>
#include <iostream>

#include <canarygate/canarygate.hpp>
#include <canarygate/integration/json.hpp>
#include <canarygate/record.hpp>

int main() {
    std::cout << "canarygate " << canarygate::version.major << '.' << canarygate::version.minor
              << '.' << canarygate::version.patch << '\n';
    canarygate::snapshot s(0, 1'000'000'000);
    s.arm("candidate").add_counter(canarygate::series::requests, 7);
    const canarygate::snapshot back = canarygate::parse_snapshot(nlohmann::json(s).dump());
    canarygate::exp_histogram h;
    h.record(std::uint64_t{1000000});
    return h.count() == 1 && back == s ? 0 : 1;
}
