// SPDX-License-Identifier: MIT
// End to end on simulated traffic: requests go through the real recorder,
// a collector on a manual clock turns them into cumulative snapshots, and the
// lesson's default policy judges them every 15 minutes. The candidate costs
// 60 % more per request than the baseline (the gate allows 1.2x), so the
// policy must roll it back, name the cost gate, and never blame another.
//
// Usage: canarygate_rollout_check [cost multiplier, default 1.6]
#include <cstdio>
#include <cstdlib>
#include <string>

#include <canarygate/canarygate.hpp>
#include <canarygate/testing/scenario.hpp>

int main(int argc, char** argv) {
    namespace cg = canarygate;
    namespace t = canarygate::testkit;
    const double cost_ratio = argc > 1 ? std::strtod(argv[1], nullptr) : 1.6;
    if (!(cost_ratio > 0 && cost_ratio < 100)) {
        std::fprintf(stderr, "canarygate_rollout_check: cost multiplier '%s' must be in (0, 100)\n",
                     argv[1]);
        return 2;
    }

    cg::recorder rec;
    const cg::arm_id arms[] = {rec.add_arm("baseline", "model-a"),
                               rec.add_arm("candidate", "model-b")};
    cg::basic_collector<cg::recorder, cg::manual_clock> collector(rec);

    t::scenario_config traffic;
    traffic.traffic.requests_per_minute = 600;  // 3000 requests per 5 minutes
    traffic.stages = {{0, 0.10}};               // a 10 % canary
    traffic.candidate_regression.cost = cost_ratio;
    t::scenario scenario(traffic, 2026);

    auto policy_config = cg::default_policy();
    policy_config.tuning.intervals = true;
    const cg::policy policy(policy_config);
    cg::policy_state state;

    constexpr std::int64_t check = 15 * cg::minute_ns;
    cg::policy_report report;
    std::int64_t now = 0;
    for (now = check; now <= 8 * cg::hour_ns; now += check) {
        scenario.run(
            now,
            [&](const cg::request_event& r) {
                rec.record(arms[r.arm == cg::arm_role::candidate ? 1 : 0], r.outcome);
            },
            [&](const cg::feedback_arrival& f) {
                rec.record_feedback(arms[f.arm == cg::arm_role::candidate ? 1 : 0], f.kind);
            });
        collector.clock().set(now);
        collector.tick();
        report = policy.evaluate(state, collector.cumulative(), 0.10);
        std::printf("t=%3lld min  %-8s %s\n", static_cast<long long>(now / cg::minute_ns),
                    std::string(cg::name(report.decision)).c_str(), report.summary.c_str());
        if (report.decision == cg::verdict::fail || report.decision == cg::verdict::invalid) break;
    }
    std::printf("\nevidence at the last check:\n");
    for (const auto& g : report.gates)
        std::printf("  %-9s %s\n", std::string(cg::name(g.decision)).c_str(), g.reason.c_str());

    // Self-check, so this example fails its test if the pipeline misjudges.
    bool only_cost_failed = report.decision == cg::verdict::fail;
    for (const auto& g : report.gates) {
        const bool is_cost = g.metric == cg::signal::cost;
        if ((g.decision == cg::verdict::fail) != is_cost) only_cost_failed = false;
    }
    if (cost_ratio >= 1.5 && !only_cost_failed) {
        std::fprintf(stderr, "expected a roll-back by the cost gate alone\n");
        return 1;
    }
    return 0;
}
