// SPDX-License-Identifier: MIT
/// \file
/// `basic_event_window`: the single-threaded way from events to snapshots.
///
/// Traffic generators, request-log replays and A/A calibration produce events
/// (record/event.hpp) one at a time on one thread, and cut them into snapshot
/// increments at each check. This class records them with the recorder's own
/// metric code (`Metrics::record` with its validation and limits, through a
/// plain non-atomic sink) and exports them with the same `export_arm` the
/// collector uses, so a simulation measures exactly the pipeline production
/// runs, minus the threads: same buckets, same exact sums, same rejections
/// counted under the same reasons.
///
/// Example:
/// \code
///   canarygate::event_window window;
///   window.add(canarygate::request_event{t, canarygate::arm_role::candidate, id, outcome});
///   canarygate::snapshot increment = window.take(check_start_ns, check_end_ns);
/// \endcode
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/core/wide_uint.hpp"
#include "canarygate/record/event.hpp"
#include "canarygate/record/metrics.hpp"
#include "canarygate/record/recorder.hpp"
#include "canarygate/record/series.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Accumulates the events of one window, per arm role, until `take()`.
///
/// \tparam Metrics a metric_set over request_outcome (default_metrics).
/// \tparam Traits  the recorder's limits (recorder_traits): what is rejected.
///
/// Not thread-safe. Memory: the counters of the three roles (about 70 KiB
/// with the default metrics), allocated once.
template <class Metrics = default_metrics, class Traits = recorder_traits>
class basic_event_window {
    static_assert(Metrics::template accepts<request_outcome>,
                  "every metric needs export_to and record(request_outcome) or record_feedback");

public:
    basic_event_window() : arms_(arm_role_count) {}

    /// Records a finished request under its arm role, validated as the
    /// recorder validates it: a bad record is counted under its first
    /// rejection reason and nothing else. Returns false when rejected (or
    /// when the role is not one of arm_role's: counted as
    /// "rejected.unknown_arm"). No allocation.
    bool add(const request_event& e) noexcept {
        arm_counters* a = arm_for(e.arm);
        if (a == nullptr) return false;
        a->used = true;
        return Metrics::template record<Traits>(a->sink(), e.outcome) == 0;
    }

    /// Records feedback under the arm of the request it is about. Same rules.
    bool add(const feedback_arrival& f) noexcept {
        arm_counters* a = arm_for(f.arm);
        if (a == nullptr) return false;
        a->used = true;
        return Metrics::template record_feedback<Traits>(a->sink(), feedback_event{f.kind, 0}) == 0;
    }

    /// The window [start_ns, end_ns) as a snapshot: baseline and candidate
    /// always, shadow when it saw an event; arms named by name(arm_role),
    /// without a model version. Then starts a new window. Allocates; throws
    /// std::invalid_argument when end_ns < start_ns (nothing is lost then).
    [[nodiscard]] snapshot take(std::int64_t start_ns, std::int64_t end_ns) {
        snapshot s(start_ns, end_ns);
        for (std::size_t i = 0; i < arms_.size(); ++i) {
            arm_counters& a = arms_[i];
            const auto role = static_cast<arm_role>(i);
            if (!a.used && role == arm_role::shadow) continue;
            arm_snapshot_output out(s.arm(name(role)));
            Metrics::export_arm(metric_values(a.scalars, a.arrays), out);
        }
        s.add_counter(series::rejected_unknown_arm, unknown_arm_);
        for (arm_counters& a : arms_) a.clear();
        unknown_arm_ = 0;
        return s;
    }

private:
    struct arm_counters {
        bool used = false;
        std::array<wide_uint, Metrics::scalar_count> scalars{};
        std::array<std::uint64_t, Metrics::array_count> arrays{};

        [[nodiscard]] plain_sink sink() noexcept { return {scalars.data(), arrays.data()}; }
        void clear() noexcept {
            used = false;
            scalars.fill(wide_uint{});
            arrays.fill(0);
        }
    };

    [[nodiscard]] arm_counters* arm_for(arm_role role) noexcept {
        const auto i = static_cast<std::size_t>(role);
        if (i >= arms_.size()) {
            ++unknown_arm_;
            return nullptr;
        }
        return &arms_[i];
    }

    std::vector<arm_counters> arms_;  // indexed by arm_role
    std::uint64_t unknown_arm_ = 0;
};

/// The event window of the default metrics and limits.
using event_window = basic_event_window<>;

CANARYGATE_NAMESPACE_END
