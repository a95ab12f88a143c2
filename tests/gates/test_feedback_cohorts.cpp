// SPDX-License-Identifier: MIT
// The feedback gate on a traffic ramp. Feedback lands minutes after its
// request, so the feedback arriving in a window comes from requests routed
// at an earlier, smaller split; judged against the requests of the window it
// lands in, a real regression looks like an improvement. Feedback cohorts
// (the split when each request was routed) make the test exact. Counts are
// the expected ones, deterministic: no seed can make these tests pass.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "canarygate/gates/default_policy.hpp"
#include "canarygate/gates/policy.hpp"
#include "canarygate/gates/rate_gate.hpp"
#include "canarygate/window/event_window.hpp"

using namespace canarygate;

namespace {

// 10,000 requests a minute; the candidate's share goes 1 -> 10 -> 25 -> 50 %
// for 30 minutes each; 1 % of baseline requests get a thumbs-down, and
// `ratio` times that of the candidate's, exactly 20 minutes later.
struct ramp {
    static constexpr std::int64_t requests_per_minute = 10'000;
    static constexpr std::int64_t delay_minutes = 20;
    static constexpr double shares[4] = {0.01, 0.10, 0.25, 0.50};
    double ratio = 2.0;

    static double share_at(std::int64_t minute) {
        return shares[std::min<std::int64_t>(minute / 30, 3)];
    }

    // Minute `minute`'s events through an event_window: its requests, and
    // the thumbs-down about the requests of minute - 20.
    void feed(event_window& w, std::int64_t minute, bool record_share) const {
        const std::int64_t t = minute * minute_ns;
        request_outcome ok;
        ok.latency_ns = 1'000'000'000;
        ok.input_tokens = 100;
        ok.output_tokens = 100;
        ok.cost_nano_usd = 1000;
        const auto candidate_requests = std::llround(requests_per_minute * share_at(minute));
        for (std::int64_t i = 0; i < requests_per_minute; ++i) {
            const arm_role arm = i < candidate_requests ? arm_role::candidate : arm_role::baseline;
            (void)w.add(request_event{t, arm, static_cast<std::uint64_t>(i), ok});
        }
        if (minute < delay_minutes) return;
        const double routed_share = share_at(minute - delay_minutes);
        const auto routed_candidate = std::llround(requests_per_minute * routed_share);
        const auto candidate_down =
            std::llround(static_cast<double>(routed_candidate) * 0.01 * ratio);
        const auto baseline_down =
            std::llround(static_cast<double>(requests_per_minute - routed_candidate) * 0.01);
        std::optional<double> share;
        if (record_share) share = routed_share;
        for (std::int64_t i = 0; i < candidate_down + baseline_down; ++i) {
            const arm_role arm = i < candidate_down ? arm_role::candidate : arm_role::baseline;
            REQUIRE(w.add(feedback_arrival{t, arm, static_cast<std::uint64_t>(i),
                                           feedback_kind::thumbs_down, share}));
        }
    }
};

// The default policy's feedback gate (thumbs-down <= 1.5 x), checked every
// minute for two hours; its decision at the first fail or pass, else the last.
verdict run_feedback_gate(const ramp& r, bool record_share) {
    policy_config cfg = default_policy();
    cfg.tuning.intervals = false;
    const policy p(cfg);
    policy_state st;
    event_window w;
    verdict last = verdict::keep_going;
    for (std::int64_t minute = 0; minute < 120; ++minute) {
        r.feed(w, minute, record_share);
        const snapshot inc = w.take(minute * minute_ns, (minute + 1) * minute_ns);
        const auto report = p.evaluate_increment(st, inc, ramp::share_at(minute));
        const gate_result* g = report.find("feedback_rate");
        REQUIRE(g != nullptr);
        last = g->decision;
        if (last == verdict::fail || last == verdict::pass) break;
    }
    return last;
}

}  // namespace

TEST_CASE("feedback on a ramp: a 2x thumbs-down regression fails by its cohorts",
          "[gates][feedback][ramp]") {
    CHECK(run_feedback_gate(ramp{2.0}, true) == verdict::fail);
}

TEST_CASE("feedback on a ramp without cohorts is fooled: the 2x regression passes",
          "[gates][feedback][ramp]") {
    // What the gate did before cohorts, and still does for feedback whose
    // routing split nobody recorded: the reason cohorts are the default.
    CHECK(run_feedback_gate(ramp{2.0}, false) == verdict::pass);
}

TEST_CASE("feedback on a ramp: at the limit and below, cohorts never fail",
          "[gates][feedback][ramp]") {
    CHECK(run_feedback_gate(ramp{1.5}, true) != verdict::fail);
    CHECK(run_feedback_gate(ramp{1.0}, true) != verdict::fail);
}

TEST_CASE("feedback cohorts: counters, the conditional test and its estimate",
          "[gates][feedback]") {
    event_window w;
    (void)w.add(feedback_arrival{0, arm_role::candidate, 1, feedback_kind::thumbs_down, 0.1});
    (void)w.add(feedback_arrival{0, arm_role::baseline, 2, feedback_kind::thumbs_down, 0.1});
    (void)w.add(feedback_arrival{0, arm_role::baseline, 3, feedback_kind::thumbs_down, 0.25});
    (void)w.add(feedback_arrival{0, arm_role::baseline, 4, feedback_kind::thumbs_up, {}});
    CHECK_FALSE(w.add(feedback_arrival{0, arm_role::baseline, 5, feedback_kind::thumbs_up, 1.5}));
    const snapshot s = w.take(0, minute_ns);
    const arm_snapshot& c = *s.find_arm("candidate");
    const arm_snapshot& b = *s.find_arm("baseline");
    CHECK(c.counter("feedback.thumbs_down.by_share.100000") == 1U);
    CHECK(b.counter("feedback.thumbs_down.by_share.100000") == 1U);
    CHECK(b.counter("feedback.thumbs_down.by_share.250000") == 1U);
    CHECK(b.counter("feedback.thumbs_up") == 1U);  // no share: in the total only
    CHECK(b.counters().count("feedback.thumbs_up.by_share.") == 0);
    CHECK(b.counter("feedback.thumbs_down") == 2U);  // the totals count every event
    CHECK(s.counter(series::rejected_feedback_share) == 1U);

    // One cohort at share 0.2 with 30 candidate and 40 baseline events: the
    // estimate is (30 / 0.2) / (40 / 0.8) = 3, the conditional MLE.
    rate_gate_config cfg;
    cfg.metric = signal::feedback_rate;
    cfg.multiplier = 1.5;
    const rate_gate g(cfg);
    rate_gate::state st;
    arm_snapshot cand("candidate", ""), base("baseline", "");
    cand.add_counter(series::requests, 100);
    base.add_counter(series::requests, 900);
    cand.add_counter("feedback.thumbs_down.by_share.200000", 30);
    base.add_counter("feedback.thumbs_down.by_share.200000", 40);
    auto r = g.evaluate(st, base, cand, 0.05, 0.05);
    CHECK(r.evidence.estimate == Approx(3.0).epsilon(1e-9));
    CHECK(r.evidence.candidate_events == 30);
    // The e-process: each event is the candidate's with probability
    // 1.5 * 0.2 / (1.5 * 0.2 + 0.8) under the null, whatever the window's
    // request counts say (100 / 900 here).
    stats::rate_ratio_e_process<5> reference(1.5);
    reference.update(30, 70, 0.2, 0.8);
    CHECK(r.evidence.log_e_value == Approx(reference.log_e_value()).epsilon(1e-12));
    // A second share: the estimate solves the score equation across both.
    arm_snapshot cand2("candidate", ""), base2("baseline", "");
    cand2.add_counter("feedback.thumbs_down.by_share.500000", 10);
    base2.add_counter("feedback.thumbs_down.by_share.500000", 5);
    r = g.evaluate(st, base2, cand2, 0.05, 0.05);
    const double theta = r.evidence.estimate;
    const double score =
        40 - 70 * theta * 0.2 / (theta * 0.2 + 0.8) - 15 * theta * 0.5 / (theta * 0.5 + 0.5);
    CHECK(std::fabs(score) < 1e-6);
    CHECK(std::isnan(r.evidence.fixed_lower));  // no pooled reference across splits
}
