// SPDX-License-Identifier: MIT
// The statistics of replayed traffic (testing/replay.hpp), label
// calibration (the optimised build; the sanitizer builds run the same code
// through test_replay_doctest.cpp on shorter logs): a regression injected
// into recorded traffic moves its signals by exactly the asked ratios in
// expectation, and an A/A log's splits raise false alarms at most at the
// gates' alpha.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "canarygate/integration/request_log.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/testing/replay.hpp"
#include "support/generated_request_log.hpp"

namespace {

namespace cg = canarygate;
namespace kit = canarygate::testkit;

/// An A/A request log (no candidate) of generated traffic, `hours` at `rpm`,
/// read back as the replay loads it.
kit::loaded_log aa_log(double hours, double rpm, std::uint64_t seed) {
    std::istringstream in(test_support::generated_log(hours, rpm, 0.0, seed));
    return kit::load_log(cg::read_request_log(in));
}

}  // namespace

// Recorded traffic with a regression: the candidate's responses are the
// baseline's (an A/A log) with the regression applied, so the mean-cost and
// rate ratios are the asked ones in expectation. Tolerances: five standard
// errors of each estimate at this run's counts.
TEST_CASE("a regression injected into recorded traffic moves exactly its signals") {
    const kit::loaded_log log = aa_log(2.0, 600, 5);
    REQUIRE(log.summary.candidate_requests == 0);
    kit::scenario_config cfg;
    cfg.recorded = log.traffic;
    cfg.stages = {{0, 0.5}};
    cfg.candidate_regression = {.cost = 1.6, .refusal = 3.0, .thumbs_down = 2.0};
    kit::scenario s(cfg, 11);
    struct arm_sums {
        double n = 0, cost = 0, cost2 = 0, refusals = 0, thumbs = 0, down = 0;
    } arms[2];
    std::vector<cg::arm_role> arm_of;
    s.run(
        16 * cg::hour_ns,
        [&](const cg::request_event& e) {
            arm_sums& a = arms[e.arm == cg::arm_role::candidate ? 1 : 0];
            const auto c = static_cast<double>(e.outcome.cost_nano_usd);
            a.n += 1;
            a.cost += c;
            a.cost2 += c * c;
            a.refusals += cg::is_refusal(e.outcome.category) ? 1 : 0;
        },
        [&](const cg::feedback_arrival& f) {
            arm_sums& a = arms[f.arm == cg::arm_role::candidate ? 1 : 0];
            a.thumbs += 1;
            a.down += f.kind == cg::feedback_kind::thumbs_down ? 1 : 0;
        });
    REQUIRE(arms[0].n > 250'000);
    const auto ratio_of_means = [&](double k) {
        const double mb = arms[0].cost / arms[0].n, mc = arms[1].cost / arms[1].n;
        const double vb = arms[0].cost2 / arms[0].n - mb * mb;
        const double vc = arms[1].cost2 / arms[1].n - mc * mc;
        const double ratio = mc / mb;
        // Delta method: se(ratio)^2 = ratio^2 (vc / (n mc^2) + vb / (n mb^2)).
        const double se =
            ratio * std::sqrt(vc / (arms[1].n * mc * mc) + vb / (arms[0].n * mb * mb));
        CHECK(std::abs(ratio - k) < 5 * se);
    };
    ratio_of_means(1.6);
    const auto rate_ratio = [](double kb, double nb, double kc, double nc, double k) {
        const double rb = kb / nb, rc = kc / nc;
        const double se = (rc / rb) * std::sqrt(1 / kc + 1 / kb);  // Poisson counts
        CHECK(std::abs(rc / rb - k) < 5 * se);
    };
    rate_ratio(arms[0].refusals, arms[0].n, arms[1].refusals, arms[1].n, 3.0);
    rate_ratio(arms[0].down, arms[0].thumbs, arms[1].down, arms[1].thumbs, 2.0);

    // (A rate of zero cannot be multiplied: test_replay_doctest.cpp checks
    // that error in every build.)
}

TEST_CASE("an A/A log calibrates a policy: false alarms at most at alpha over 40 splits") {
    const kit::loaded_log log = aa_log(4.0, 600, 33);
    cg::aa_calibration_config config;
    config.splits = 40;
    config.candidate_share = 0.1;
    const cg::aa_report report = kit::calibrate_on_log(log, config);
    CHECK(report.runs == 40);
    CHECK(report.checks >= 47);  // every 5 minutes of a 4-hour log
    // The gates' guarantee: a false alarm in at most alpha_fail (5 %) of
    // splits. 40 splits: refuted only if even the upper bound says so.
    CHECK(cg::stats::clopper_pearson_interval(report.policy_false_alarms, report.runs, 0.05).lower <
          0.05);
    CHECK(report.noise_floor().size() == config.policy.gates.size());
}
