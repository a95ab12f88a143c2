// SPDX-License-Identifier: MIT
// Reduced calibration run (the full one is benchmarks/calibration): each gate
// at its exact null boundary, checked every 5 minutes for 4 hours, must keep
// its false-fail rate within the budget. The test fails only when a 99 %
// Clopper-Pearson interval on the observed rate lies above alpha, so it can
// fail, but not by bad luck of one seed. Labelled `calibration`: it runs in
// the optimised builds, not under the sanitizers (too slow there).
#include <catch2/catch.hpp>

#include <cstdio>

#include "support/gate_simulation.hpp"

TEST_CASE("false fails at the null boundary stay within the budget", "[gates][calibration]") {
    // Every gate at its exact boundary (true ratio = k), checked every 5 min
    // for 4 h: 48 looks, where a naive re-checked test would be far above alpha.
    struct cell {
        gate tested;
        void (*boundary)(scenario_config&);
    };
    const cell cells[] = {
        {gate_of(signal::cost, 1.2), [](scenario_config& c) { c.candidate_regression.cost = 1.2; }},
        {gate_of(signal::refusal_rate, 2.0),
         [](scenario_config& c) { c.candidate_regression.refusal = 2.0; }},
        {gate_of(signal::latency, 1.5),
         [](scenario_config& c) { c.candidate_regression.latency = 1.5; }},
        {gate_of(signal::output_length, 1.5, 0.9),
         [](scenario_config& c) { c.candidate_regression.output_length = 1.5; }},
    };
    constexpr std::uint64_t runs = 150;
    for (const auto& c : cells) {
        auto cfg = small_canary(0.2);
        c.boundary(cfg);
        std::uint64_t fails = 0;
        for (std::uint64_t seed = 1; seed <= runs; ++seed) {
            fails += run_gate(c.tested, cfg, seed, 4 * hour_ns, 5 * minute_ns).fail_at ? 1U : 0U;
        }
        CAPTURE(c.tested.name());
        std::printf("%-22s %3llu false fails in %llu runs (alpha 0.05)\n", c.tested.name().c_str(),
                    static_cast<unsigned long long>(fails), static_cast<unsigned long long>(runs));
        check_false_fail_rate(fails, runs, 0.05);
    }
}

using namespace gate_simulation;  // gate_of, small_canary, run_gate, ...

TEST_CASE("batch mode keeps the budget under candidate-only window noise",
          "[gates][calibration][batch]") {
    // The candidate's latency and cost share a log-normal factor (sd 0.3,
    // mean 1) per 5-minute window, as when its pods run hot or cold: the
    // long-run cost ratio is exactly k, but requests of a window are not
    // independent. Per-request evidence mistakes the noise for a regression;
    // one observation per 5-minute batch does not.
    auto cfg = small_canary(0.1);
    cfg.candidate_regression.cost = 1.2;
    cfg.candidate_window_noise = 0.3;
    cfg.noise_window_ns = 5 * minute_ns;
    mean_gate_config batch_config;
    batch_config.batch_window_ns = 5 * minute_ns;
    const gate per_request = mean_gate(mean_gate_config{});  // cost <= 1.2 x
    const gate batch = mean_gate(batch_config);
    constexpr std::uint64_t runs = 100;
    std::uint64_t fails_per_request = 0;
    std::uint64_t fails_batch = 0;
    for (std::uint64_t seed = 1; seed <= runs; ++seed) {
        fails_per_request +=
            run_gate(per_request, cfg, seed, 8 * hour_ns, 5 * minute_ns).fail_at ? 1U : 0U;
        fails_batch += run_gate(batch, cfg, seed, 8 * hour_ns, 5 * minute_ns).fail_at ? 1U : 0U;
    }
    std::printf(
        "window noise 0.3, cost at k: per-request %llu, batch %llu false fails in %llu runs (alpha "
        "0.05)\n",
        static_cast<unsigned long long>(fails_per_request),
        static_cast<unsigned long long>(fails_batch), static_cast<unsigned long long>(runs));
    check_false_fail_rate(fails_batch, runs, 0.05);
    // The reason batch mode exists: here per-request evidence is clearly
    // above its budget (lower end of a 99 % Clopper-Pearson interval > alpha).
    CHECK_FALSE(test_support::rate_not_above(fails_per_request, runs, 0.05));
}

TEST_CASE(
    "feedback cohorts, or the delay model, keep the feedback gate valid when the split shrinks",
    "[gates][calibration]") {
    // 50 % of traffic for 2 h, then 5 %; thumbs-down exactly k = 1.5 x the
    // baseline's, feedback on 20 % of requests after a log-normal delay
    // (median 30 min). Judged against the requests of the window it lands
    // in, the feedback of the 50 % stage arriving in the 5 % stage looks like
    // a huge regression. Cohorts judge each event against the split its
    // request was routed at (exact, whatever the delay); without them, the
    // delay model weights the exposure that produced it.
    auto cfg = small_canary(0.5);
    cfg.stages = {{0, 0.5}, {2 * hour_ns, 0.05}};
    cfg.model.feedback_probability = 0.2;
    cfg.model.feedback_delay_median_s = 1800;
    cfg.model.feedback_delay_sigma = 0.8;
    cfg.candidate_regression.thumbs_down = 1.5;
    rate_gate_config feedback;
    feedback.metric = signal::feedback_rate;
    feedback.multiplier = 1.5;
    const gate plain = rate_gate(feedback);
    feedback.feedback_delay_median_s = 1800;
    feedback.feedback_delay_sigma = 0.8;
    const gate weighted = rate_gate(feedback);
    constexpr std::uint64_t runs = 100;
    std::uint64_t fails_cohorts = 0, fails_unweighted = 0, fails_weighted = 0;
    for (std::uint64_t seed = 1; seed <= runs; ++seed) {
        auto fails = [&](const gate& g, bool cohorts) {
            return run_gate(g, cfg, seed, 6 * hour_ns, 5 * minute_ns, 0.05, 0.05, cohorts).fail_at
                       ? 1U
                       : 0U;
        };
        fails_cohorts += fails(plain, true);
        fails_unweighted += fails(plain, false);
        fails_weighted += fails(weighted, false);
    }
    std::printf(
        "ramp 50 %% -> 5 %%, thumbs-down at k: cohorts %llu, totals unweighted %llu, totals "
        "delay-weighted %llu false fails in %llu runs\n",
        static_cast<unsigned long long>(fails_cohorts),
        static_cast<unsigned long long>(fails_unweighted),
        static_cast<unsigned long long>(fails_weighted), static_cast<unsigned long long>(runs));
    check_false_fail_rate(fails_cohorts, runs, 0.05);
    check_false_fail_rate(fails_weighted, runs, 0.05);
    CHECK(fails_unweighted > runs / 2);
}
