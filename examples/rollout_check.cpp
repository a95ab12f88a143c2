// SPDX-License-Identifier: MIT
// End to end on simulated traffic: requests go through the real recorder,
// late feedback through a feedback_tracker (by request id, counted in the
// cohort of the split its request was routed at), a collector on a manual
// clock turns them into cumulative snapshots, and the lesson's default
// policy judges them every 15 minutes. The candidate costs
// 60 % more per request than the baseline (the gate allows 1.2x), so the
// policy must roll it back, name the cost gate, and never blame another.
// The README's "Gates and policies" block is the region marked `judge`.
//
// Usage: canarygate_rollout_check [cost multiplier, default 1.6]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

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
    const cg::arm_id arms[] = {rec.add_arm("baseline", "sha256:9f00"),
                               rec.add_arm("candidate", "sha256:ab12")};
    cg::basic_collector<cg::recorder, cg::manual_clock> collector(rec);

    // The inference servers, simulated: 600 requests/min, a 10 % canary
    // whose candidate costs `cost_ratio` x the baseline.
    t::scenario_config traffic;
    traffic.traffic.requests_per_minute = 600;
    traffic.stages = {{0, 0.10}};
    traffic.candidate_regression.cost = cost_ratio;
    t::scenario servers(traffic, 2026);
    // Late feedback: the server remembers each response's request id with
    // its arm and the split it was routed at; feedback arriving later (a
    // webhook, retried or not) is attributed by id, once per kind.
    cg::feedback_tracker tracker(
        {.capacity = std::size_t{1} << 20, .ttl_ns = 6 * cg::hour_ns, .ring_capacity = 1 << 14});
    const auto arm_name = [&](cg::arm_id a) {
        const cg::arm_info info = rec.arm(a);
        return std::pair{info.role, info.model_version};
    };
    const auto record = [&](const cg::request_event& e) {
        const cg::arm_id arm = arms[e.arm == cg::arm_role::candidate ? 1 : 0];
        rec.record(arm, e.outcome);
        tracker.remember(std::to_string(e.request_id), arm, e.time_ns, /*candidate_share=*/0.10);
    };
    const auto feedback = [&](const cg::feedback_arrival& f) {
        (void)tracker.feedback(std::to_string(f.request_id), {f.kind}, f.time_ns);
    };

    // --8<-- [start:judge]
    const cg::policy policy(cg::default_policy());
    cg::policy_state state;  // carried from check to check, stage to stage
    cg::policy_report report;
    for (std::int64_t now = 15 * cg::minute_ns; now <= 8 * cg::hour_ns; now += 15 * cg::minute_ns) {
        servers.run(now, record, feedback);  // the inference servers record meanwhile
        collector.clock().set(now);
        collector.tick();
        tracker.tick(now);
        // every check: the totals since start (requests from the recorder,
        // feedback by cohort from the tracker) and the configured split
        cg::snapshot totals = collector.cumulative();
        tracker.add_to(totals, arm_name);
        report = policy.evaluate(state, totals, /*candidate_share=*/0.10);
        std::printf("t=%3lld min  %-10s %s\n", static_cast<long long>(now / cg::minute_ns),
                    std::string(cg::name(report.decision)).c_str(), report.summary.c_str());
        if (report.decision == cg::verdict::fail) break;  // roll back
    }
    // report.decision: pass | keep_going | fail | invalid | no_regression_detected
    // report.gates[2].reason: "cost ratio 1.63 (CI 1.52-1.73, asymptotic): regression beyond limit 1.2 ..."
    // --8<-- [end:judge]
    std::printf("\nevidence at the last check:\n");
    for (const auto& g : report.gates)
        std::printf("  %-10s %s\n", std::string(cg::name(g.decision)).c_str(), g.reason.c_str());

    // Self-check, so this example fails its test if the pipeline misjudges.
    bool only_cost_failed = report.decision == cg::verdict::fail;
    for (const auto& g : report.gates) {
        const bool is_cost = g.metric == cg::signal::cost;
        if ((g.decision == cg::verdict::fail) != is_cost) only_cost_failed = false;
    }
    const cg::feedback_tracker_stats fb = tracker.stats();
    if (!fb.balanced() || fb.counted == 0 || fb.map.ring_full != 0 || fb.map.overflow_full != 0 ||
        fb.map.unknown_id != 0) {
        std::fprintf(stderr, "feedback was lost, or none was counted\n");
        return 1;
    }
    if (cost_ratio >= 1.5 && !only_cost_failed) {
        std::fprintf(stderr, "expected a roll-back by the cost gate alone\n");
        return 1;
    }
    return 0;
}
