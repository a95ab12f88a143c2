// SPDX-License-Identifier: MIT
// A request log of generated traffic, written as a server writes it
// (request_log_writer), for the replay tests (test_replay_doctest.cpp and
// test_replay_calibration_doctest.cpp).
#pragma once

#include <cstdint>
#include <sstream>
#include <string>

#include "canarygate/integration/request_log.hpp"
#include "canarygate/testing/scenario.hpp"

namespace test_support {

inline const std::string log_baseline_model = "sha256:" + std::string(64, 'a');
inline const std::string log_candidate_model = "sha256:" + std::string(64, 'b');

/// `hours` of traffic at `rpm`, the candidate taking `share` of it (0: an
/// A/A log of the baseline alone), with `candidate` applied to its answers.
inline std::string generated_log(double hours, double rpm, double share, std::uint64_t seed,
                                 canarygate::testkit::regression candidate = {}) {
    namespace cg = canarygate;
    cg::testkit::scenario_config cfg;
    cfg.traffic.requests_per_minute = rpm;
    cfg.stages = {{0, share}};
    cfg.candidate_regression = candidate;
    cg::testkit::scenario traffic(cfg, seed);
    std::ostringstream text;
    {
        cg::request_log_writer log(text);
        constexpr std::int64_t epoch = 1'767'225'600'000'000'000;  // 2026-01-01, above 2^53
        traffic.run(
            static_cast<std::int64_t>(hours * static_cast<double>(cg::hour_ns)),
            [&](const cg::request_event& e) {
                log.request(
                    epoch + e.time_ns, e.arm,
                    e.arm == cg::arm_role::baseline ? log_baseline_model : log_candidate_model,
                    "req-" + std::to_string(e.request_id), e.outcome, share);
            },
            [&](const cg::feedback_arrival& f) {
                log.feedback(epoch + f.time_ns, "req-" + std::to_string(f.request_id), {f.kind});
            });
    }  // the destructor writes what waits in the reorder window
    return text.str();
}

}  // namespace test_support
