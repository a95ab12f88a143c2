// SPDX-License-Identifier: MIT
// The README's "Gates and policies": a controller judges the recorder's
// totals at every check with the default policy, carrying the evidence from
// check to check. Here the recorder is fed from the scenario generator and
// the collector runs on a manual clock, so the run is fast and repeatable.
// Built and run as a test.
#include <cstdio>
#include <string>

#include <canarygate/canarygate.hpp>
#include <canarygate/testing/scenario.hpp>

int main() {
    namespace cg = canarygate;
    cg::recorder rec;
    const cg::arm_id arms[] = {rec.add_arm("baseline", "sha256:9f00"),
                               rec.add_arm("candidate", "sha256:ab12")};
    cg::basic_collector<cg::recorder, cg::manual_clock> collector(rec);
    cg::testkit::scenario_config traffic;
    traffic.stages = {{0, 0.10}};                // a 10 % canary
    traffic.candidate_regression.refusal = 4.0;  // that refuses 4 x as often
    cg::testkit::scenario servers(traffic, 11);  // simulated inference servers
    const auto record = [&](const cg::request_event& e) {
        rec.record(arms[e.arm == cg::arm_role::candidate], e.outcome);
    };
    const auto feedback = [&](const cg::feedback_arrival& f) {
        rec.record_feedback(arms[f.arm == cg::arm_role::candidate], f.kind);
    };

    // --8<-- [start:judge]
    const cg::policy policy(cg::default_policy());
    cg::policy_state state;  // carried from check to check, stage to stage
    cg::policy_report report;
    for (std::int64_t now = 5 * cg::minute_ns; now <= 8 * cg::hour_ns; now += 5 * cg::minute_ns) {
        servers.run(now, record, feedback);  // the inference servers record meanwhile
        collector.clock().set(now);
        collector.tick();
        // every check: the recorder's totals since start and the configured split
        report = policy.evaluate(state, collector.cumulative(), /*candidate_share=*/0.10);
        if (report.decision == cg::verdict::fail) break;  // roll back
    }
    // report.decision: pass | keep_going | fail | invalid | no_regression_detected
    // report.gates[i].reason: "refusal_rate ratio 4.1 (CI 2.6-6.5): regression beyond limit 2 shown ..."
    // --8<-- [end:judge]
    std::printf("%s: %s\n", std::string(cg::name(report.decision)).c_str(), report.summary.c_str());
    return report.decision == cg::verdict::fail ? 0 : 1;
}
