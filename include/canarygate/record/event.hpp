// SPDX-License-Identifier: MIT
/// \file
/// Events: one finished request or one piece of late feedback, with its time,
/// arm and request id. The recorder itself never sees them (it takes an arm id
/// and an outcome, and never reads a clock); they are what traffic generators
/// produce, request logs hold and simulations, A/A calibration and replays
/// feed through the single-threaded recording path (window/event_window.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "canarygate/core/config.hpp"
#include "canarygate/record/outcome.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Which arm an event belongs to.
enum class arm_role : std::uint8_t {
    baseline,   ///< the model in production
    candidate,  ///< the model being rolled out, serving users
    shadow,     ///< a mirrored copy to the candidate: recorded, never shown to users
};

inline constexpr std::size_t arm_role_count = 3;

/// The role's name as snapshots spell it: "baseline", "candidate", "shadow";
/// "unknown" for a value outside the enum.
[[nodiscard]] constexpr std::string_view name(arm_role r) noexcept {
    switch (r) {
        case arm_role::baseline:
            return "baseline";
        case arm_role::candidate:
            return "candidate";
        case arm_role::shadow:
            return "shadow";
    }
    return "unknown";
}

/// A finished request: when it ended (ns on the caller's clock), the arm that
/// served it, its id, and what the server measured.
struct request_event {
    std::int64_t time_ns = 0;
    arm_role arm = arm_role::baseline;
    std::uint64_t request_id = 0;
    request_outcome outcome;
};

/// Feedback about an earlier request, when it arrived, already attributed to
/// the request's arm.
struct feedback_arrival {
    std::int64_t time_ns = 0;
    arm_role arm = arm_role::baseline;
    std::uint64_t request_id = 0;
    feedback_kind kind = feedback_kind::thumbs_up;
    /// The candidate's share of the traffic (between the two compared arms)
    /// when the request was routed, if known: its feedback cohort (see
    /// series.hpp, feedback_cohort). The feedback gate judges the event
    /// against that split, which keeps it exact on a traffic ramp whatever
    /// the feedback's delay.
    std::optional<double> candidate_share;
};

CANARYGATE_NAMESPACE_END
