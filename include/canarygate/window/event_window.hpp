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
#include <optional>
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

    /// Records feedback under the arm of the request it is about and, when
    /// its candidate share is known, in its cohort (series.hpp,
    /// feedback_cohort). Same rules; a candidate share outside [0, 1] is
    /// rejected and counted as "rejected.feedback_share". Up to `max_cohorts`
    /// cohorts per arm and window; feedback beyond them is counted in the
    /// total only (judged as feedback of no known cohort) and as
    /// "feedback.cohort_overflow".
    bool add(const feedback_arrival& f) noexcept {
        if (f.candidate_share && !feedback_cohort::valid_share(*f.candidate_share)) {
            ++rejected_feedback_share_;
            return false;
        }
        arm_counters* a = arm_for(f.arm);
        if (a == nullptr) return false;
        a->used = true;
        if (Metrics::template record_feedback<Traits>(a->sink(), feedback_event{f.kind, 0}) != 0)
            return false;
        if (f.candidate_share &&
            !a->count_cohort(f.kind, feedback_cohort::to_ppm(*f.candidate_share))) {
            ++cohort_overflow_;
        }
        return true;
    }

    /// Cohorts kept per arm and window (see add(feedback_arrival)).
    static constexpr std::size_t max_cohorts = 64;

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
            arm_snapshot& arm = s.arm(name(role));
            arm_snapshot_output out(arm);
            Metrics::export_arm(metric_values(a.scalars, a.arrays), out);
            for (const cohort_count& c : a.cohorts)
                arm.add_counter(feedback_cohort::series_name(c.kind, c.ppm), c.count);
        }
        s.add_counter(series::rejected_unknown_arm, unknown_arm_);
        if (rejected_feedback_share_ != 0)
            s.add_counter(series::rejected_feedback_share, rejected_feedback_share_);
        if (cohort_overflow_ != 0) s.add_counter("feedback.cohort_overflow", cohort_overflow_);
        for (arm_counters& a : arms_) a.clear();
        unknown_arm_ = 0;
        rejected_feedback_share_ = 0;
        cohort_overflow_ = 0;
        return s;
    }

private:
    struct cohort_count {
        feedback_kind kind;
        std::uint32_t ppm;
        std::uint64_t count;
    };

    struct arm_counters {
        bool used = false;
        std::array<wide_uint, Metrics::scalar_count> scalars{};
        std::array<std::uint64_t, Metrics::array_count> arrays{};
        // Up to max_cohorts (kind, share) pairs; the capacity is reserved, so
        // counting never allocates.
        std::vector<cohort_count> cohorts;

        arm_counters() { cohorts.reserve(max_cohorts); }
        arm_counters(const arm_counters& other)
            : used(other.used), scalars(other.scalars), arrays(other.arrays) {
            cohorts.reserve(max_cohorts);
            cohorts.assign(other.cohorts.begin(), other.cohorts.end());
        }
        arm_counters& operator=(const arm_counters&) = default;  // keeps the larger capacity

        [[nodiscard]] plain_sink sink() noexcept { return {scalars.data(), arrays.data()}; }
        // False when the table is full.
        bool count_cohort(feedback_kind kind, std::uint32_t ppm) noexcept {
            for (cohort_count& c : cohorts) {
                if (c.kind == kind && c.ppm == ppm) {
                    ++c.count;
                    return true;
                }
            }
            if (cohorts.size() >= max_cohorts) return false;
            cohorts.push_back({kind, ppm, 1});  // within the reserved capacity
            return true;
        }
        void clear() noexcept {
            used = false;
            scalars.fill(wide_uint{});
            arrays.fill(0);
            cohorts.clear();
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
    std::uint64_t rejected_feedback_share_ = 0;
    std::uint64_t cohort_overflow_ = 0;
};

/// The event window of the default metrics and limits.
using event_window = basic_event_window<>;

CANARYGATE_NAMESPACE_END
