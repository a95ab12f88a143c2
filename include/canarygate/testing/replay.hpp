// SPDX-License-Identifier: MIT
/// \file
/// Real traffic for the testing kit: a request log (canarygate/integration/
/// request_log.hpp, written by `request_log_writer` in a running service)
/// turned into recorded traffic that a scenario replays through a policy and
/// a controller, and into the event stream an A/A calibration reads.
///
/// How a log is replayed: the users' requests arrive at their logged times
/// (relative to the first, repeating after the log's span if the rollout
/// lasts longer); the rollout's own router sends each one to an arm; the
/// response — latency, tokens, cost, outcome and the feedback it got, at its
/// logged delay — is drawn with replacement from the responses that arm's
/// model gave in the log. The log's own split does not matter, only its
/// response distributions do; a log with no candidate requests replays as
/// an A/A (the candidate draws from the baseline's responses). A regression
/// set on the scenario (`candidate_regression`, e.g. cost × 1.6, latency_tail
/// × 2, refusal × 3) acts on the candidate's drawn responses: a "what if" on
/// real traffic.
///
/// Example:
/// \code
///   std::ifstream in("requests.jsonl");
///   const auto log = canarygate::testkit::load_log(canarygate::read_request_log(in));
///   canarygate::testkit::simulation_config sim = ...;
///   sim.traffic.recorded = log.traffic;
///   sim.traffic.candidate_regression.cost = 1.6;
///   const auto result = canarygate::testkit::simulate(sim, 1);
/// \endcode
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/gates/calibration.hpp"
#include "canarygate/integration/request_log.hpp"
#include "canarygate/record/event.hpp"
#include "canarygate/testing/scenario.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace testkit {

/// What a log held and what became of it. Nothing is dropped without a
/// count here.
struct log_summary {
    std::uint64_t baseline_requests = 0;
    std::uint64_t candidate_requests = 0;
    std::uint64_t shadow_requests = 0;
    std::uint64_t feedback = 0;
    /// Feedback whose request is not in the log (it predates the log's
    /// start): not replayed.
    std::uint64_t feedback_without_request = 0;
    /// A second piece of feedback of the same kind about the same request (a
    /// retried webhook): not replayed, as a feedback_tracker would not count
    /// it (one per request and kind; see record/attribution.hpp).
    std::uint64_t duplicate_feedback = 0;
    /// First request to last line.
    std::int64_t span_ns = 0;
    /// The models the log names for each arm (the first seen; empty if none).
    std::string baseline_model;
    std::string candidate_model;
};

/// A request log, ready to replay.
struct loaded_log {
    /// For scenario_config::recorded.
    std::shared_ptr<const recorded_traffic> traffic;
    /// Every request and feedback line as events, in time order, with times
    /// from the first request and request ids numbered in log order (for
    /// aa_calibration: `for (auto& e : log.requests) cal.add(e);` ...).
    std::vector<request_event> requests;
    std::vector<feedback_arrival> feedback;
    log_summary summary;
};

/// Turns a read log into recorded traffic and events. Throws
/// request_log_error (line, field) for what a line-by-line reader cannot
/// see: a user request id logged twice, feedback before its request, a log
/// without baseline requests.
[[nodiscard]] inline loaded_log load_log(const request_log& log) {
    loaded_log out;
    log_summary& s = out.summary;
    const auto problem = [](std::size_t line, const char* field, std::string why) {
        canarygate::detail::raise(
            request_log_error(request_log_problem{line, field, std::move(why)}));
    };
    if (log.requests.empty()) problem(log.lines, "", "the log has no request lines");
    const std::int64_t start = log.requests.front().time_ns;

    // Users' requests by id (shadow copies carry their user request's id).
    struct where {
        std::size_t index;  // in log.requests
        arm_role arm;
        std::uint32_t pool_index;
        std::uint8_t kinds_seen = 0;  // a bit per feedback_kind
    };
    std::unordered_map<std::string, where> by_id;
    by_id.reserve(log.requests.size());
    auto traffic = std::make_shared<recorded_traffic>();
    std::vector<std::int64_t>& arrivals = traffic->arrivals_ns;
    for (std::size_t i = 0; i < log.requests.size(); ++i) {
        const logged_request& r = log.requests[i];
        out.requests.push_back(request_event{r.time_ns - start, r.arm, i, r.outcome});
        std::vector<recorded_response>& pool = r.arm == arm_role::baseline    ? traffic->baseline
                                               : r.arm == arm_role::candidate ? traffic->candidate
                                                                              : traffic->shadow;
        if (pool.size() >= std::numeric_limits<std::uint32_t>::max())
            problem(r.line, "", "the log has more than 2^32 - 1 requests of one arm");
        const auto pool_index = static_cast<std::uint32_t>(pool.size());
        pool.push_back(recorded_response{r.outcome, 0, 0});
        if (r.arm == arm_role::shadow) {
            ++s.shadow_requests;
            if (s.candidate_model.empty()) s.candidate_model = r.model;
            continue;
        }
        arrivals.push_back(r.time_ns - start);
        if (r.arm == arm_role::baseline) {
            ++s.baseline_requests;
            if (s.baseline_model.empty()) s.baseline_model = r.model;
        } else {
            ++s.candidate_requests;
            if (s.candidate_model.empty()) s.candidate_model = r.model;
        }
        const auto [it, inserted] = by_id.try_emplace(r.request_id, where{i, r.arm, pool_index});
        if (!inserted)
            problem(r.line, "request_id",
                    "\"" + r.request_id + "\" was already logged for a user's request at line " +
                        std::to_string(log.requests[it->second.index].line));
    }
    if (s.baseline_requests == 0)
        problem(log.lines, "arm", "the log has no baseline requests: nothing to compare with");

    // Feedback, grouped by its request: count, place, fill.
    std::vector<std::pair<const logged_feedback*, const where*>> attributed;
    attributed.reserve(log.feedback.size());
    for (const logged_feedback& f : log.feedback) {
        ++s.feedback;
        const auto it = by_id.find(f.request_id);
        if (it == by_id.end()) {
            ++s.feedback_without_request;
            continue;
        }
        const logged_request& r = log.requests[it->second.index];
        if (f.time_ns < r.time_ns)
            problem(f.line, "time_ns",
                    "the feedback is before its request (line " + std::to_string(r.line) + ")");
        const auto bit = static_cast<std::uint8_t>(1U << static_cast<unsigned>(f.event.kind));
        if ((it->second.kinds_seen & bit) != 0) {
            ++s.duplicate_feedback;
            continue;
        }
        it->second.kinds_seen |= bit;
        attributed.emplace_back(&f, &it->second);
        out.feedback.push_back(feedback_arrival{f.time_ns - start, r.arm, it->second.index,
                                                f.event.kind, r.candidate_share});
    }
    // Stable by request: each request's feedback stays in time order.
    std::stable_sort(attributed.begin(), attributed.end(), [](const auto& a, const auto& b) {
        return a.second->index < b.second->index;
    });
    for (const auto& [f, w] : attributed) {
        std::vector<recorded_response>& pool =
            w->arm == arm_role::baseline ? traffic->baseline : traffic->candidate;
        recorded_response& x = pool[w->pool_index];
        if (x.feedback_count == 0)
            x.feedback_first = static_cast<std::uint32_t>(traffic->feedback.size());
        ++x.feedback_count;
        traffic->feedback.push_back(
            recorded_feedback{f->time_ns - log.requests[w->index].time_ns, f->event});
    }

    // Repeat after the span plus one mean gap, so the seam looks like any
    // other stretch of the log.
    const std::int64_t last = arrivals.back();
    const auto n = static_cast<std::int64_t>(arrivals.size());
    traffic->period_ns = last + std::max<std::int64_t>(1, n > 1 ? last / (n - 1) : second_ns);
    std::int64_t end = log.requests.back().time_ns;
    if (!log.feedback.empty()) end = std::max(end, log.feedback.back().time_ns);
    s.span_ns = end - start;
    out.traffic = std::move(traffic);
    return out;
}

/// An A/A calibration of `config.policy` on a log: the log's events in time
/// order into aa_calibration (split_mode::request_hash splits one version's
/// traffic — an A/A log or the baseline's side of any log; recorded_arms
/// uses the log's own arms, for a real A/A deployment).
[[nodiscard]] inline aa_report calibrate_on_log(const loaded_log& log,
                                                const aa_calibration_config& config) {
    aa_calibration calibration(config);
    std::size_t f = 0;
    std::int64_t end = 0;
    for (const request_event& r : log.requests) {
        while (f < log.feedback.size() && log.feedback[f].time_ns <= r.time_ns) {
            calibration.add(log.feedback[f]);
            end = std::max(end, log.feedback[f++].time_ns);
        }
        calibration.add(r);
        end = std::max(end, r.time_ns);
    }
    for (; f < log.feedback.size(); ++f) {
        calibration.add(log.feedback[f]);
        end = std::max(end, log.feedback[f].time_ns);
    }
    return calibration.finish(end);
}

}  // namespace testkit
CANARYGATE_NAMESPACE_END
