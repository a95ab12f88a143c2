// SPDX-License-Identifier: MIT
// Built with -fno-exceptions (tests/build_checks.cmake): the recorder, the
// collector on a manual clock and the default policy run as usual; a bad
// configuration (argument `bad-config`) aborts with the message an exception
// would have carried.
#include <chrono>
#include <cstdio>
#include <string_view>

#include "canarygate/canarygate.hpp"

int main(int argc, char** argv) {
    using namespace canarygate;
    policy_config config = default_policy();
    if (argc > 1 && std::string_view(argv[1]) == "bad-config") config.alpha_fail = 1.5;
    const policy judge(config);  // aborts here on a bad configuration

    recorder rec;
    const arm_id baseline = rec.add_arm("baseline", "sha256:b");
    const arm_id candidate = rec.add_arm("candidate", "sha256:c");
    basic_collector<recorder, manual_clock> collector(rec);
    policy_state state;
    policy_report report;
    for (int minute = 1; minute <= 240 && report.decision != verdict::fail; ++minute) {
        for (int i = 0; i < 100; ++i) {
            request_outcome r;
            r.latency_ns = 400'000'000 + static_cast<std::uint64_t>(i) * 1'000'000;
            r.output_tokens = 200 + static_cast<std::uint64_t>(i);
            const bool to_candidate = i % 5 == 0;  // a 20 % canary
            r.cost_nano_usd =
                (to_candidate ? 2'000'000 : 1'000'000) + static_cast<std::uint64_t>(i) * 1000;
            rec.record(to_candidate ? candidate : baseline, r);
        }
        collector.clock().advance(std::chrono::minutes(1));
        collector.tick();
        if (minute % 5 == 0) report = judge.evaluate(state, collector.cumulative(), 0.2);
    }
    std::printf("decision: %s (%s)\n", std::string(name(report.decision)).c_str(),
                report.summary.c_str());
    return report.decision == verdict::fail ? 0 : 1;
}
