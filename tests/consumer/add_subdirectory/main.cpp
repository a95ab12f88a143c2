// SPDX-License-Identifier: MIT
// A minimal consumer: includes the umbrella header, prints the version and
// records one value. Exit code 0 means the package works.
#include <cstdint>
#include <iostream>

#include <canarygate/canarygate.hpp>

int main() {
    std::cout << "canarygate " << canarygate::version.major << '.' << canarygate::version.minor
              << '.' << canarygate::version.patch << '\n';
    canarygate::exp_histogram h;
    h.record(std::uint64_t{1000000});
    return h.count() == 1 ? 0 : 1;
}
