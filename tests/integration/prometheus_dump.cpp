// SPDX-License-Identifier: MIT
// Prints the Prometheus exposition of a realistic snapshot (baseline,
// candidate and shadow arms) for `promtool check metrics`, which reads it on
// stdin in the CTest test prometheus_promtool_check.
//
// Usage: prometheus_dump [vllm | opentelemetry | powers_of_two]
#include <exception>
#include <iostream>
#include <string_view>

#include "canarygate/integration/prometheus.hpp"
#include "support/prometheus_test_snapshot.hpp"

namespace {

int dump(std::string_view preset) {
    canarygate::exposition_options options;
    if (preset == "vllm") {
        options.buckets = canarygate::histogram_buckets::vllm();
    } else if (preset == "opentelemetry") {
        options.buckets = canarygate::histogram_buckets::opentelemetry();
    } else if (preset == "powers_of_two") {
        options.buckets = canarygate::histogram_buckets::powers_of_two();
    } else {
        std::cerr << "prometheus_dump: unknown preset '" << preset
                  << "' (expected vllm, opentelemetry or powers_of_two)\n";
        return 2;
    }
    options.constant_labels = {{"service", "chat-api"}, {"cluster", "eu-west-1"}};
    // The candidate's version carries a quote and a backslash, so promtool
    // also reads escaped label values.
    const auto snap = prometheus_test::realistic_snapshot(20240611, R"(llama-3.3-70b "ft" C:\v2)");
    std::cout << canarygate::to_prometheus(snap, options);
    return std::cout.flush() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return dump(argc > 1 ? argv[1] : "vllm");
    } catch (const std::exception& e) {
        std::cerr << "prometheus_dump: " << e.what() << '\n';
        return 1;
    }
}
