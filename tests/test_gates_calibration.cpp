// SPDX-License-Identifier: MIT
// Reduced calibration run (the full one is benchmarks/calibration): each gate
// at its exact null boundary, checked every 5 minutes for 4 hours, must keep
// its false-fail rate within the budget. The test fails only when a 99 %
// Clopper-Pearson interval on the observed rate lies above alpha, so it can
// fail, but not by bad luck of one seed. Labelled `calibration`: it runs in
// the optimised builds, not under the sanitizers (too slow there).
#include <catch2/catch.hpp>

#include <cstdio>

#include "gate_simulation.hpp"

TEST_CASE("false fails at the null boundary stay within the budget", "[gates][calibration]") {
    // Every gate at its exact boundary (true ratio = k), checked every 5 min
    // for 4 h: 48 looks, where a naive re-checked test would be far above alpha.
    struct cell {
        gate_config gate;
        void (*boundary)(scenario_config&);
    };
    const cell cells[] = {
        {gate_of(signal::cost, 1.2), [](scenario_config& c) { c.candidate_regression.cost = 1.2; }},
        {gate_of(signal::refusal_rate, 2.0), [](scenario_config& c) { c.candidate_regression.refusal = 2.0; }},
        {gate_of(signal::latency, 1.5), [](scenario_config& c) { c.candidate_regression.latency = 1.5; }},
        {gate_of(signal::output_length, 1.5, 0.9), [](scenario_config& c) { c.candidate_regression.output_length = 1.5; }},
    };
    constexpr std::uint64_t runs = 150;
    for (const auto& c : cells) {
        auto cfg = small_canary(0.2);
        c.boundary(cfg);
        std::uint64_t fails = 0;
        for (std::uint64_t seed = 1; seed <= runs; ++seed) {
            fails += run_gate(c.gate, cfg, seed, 4 * hour_ns, 5 * minute_ns).fail_at ? 1U : 0U;
        }
        CAPTURE(c.gate.display_name());
        std::printf("%-22s %3llu false fails in %llu runs (alpha 0.05)\n", c.gate.display_name().c_str(),
                    static_cast<unsigned long long>(fails), static_cast<unsigned long long>(runs));
        check_false_fail_rate(fails, runs, 0.05);
    }
}

