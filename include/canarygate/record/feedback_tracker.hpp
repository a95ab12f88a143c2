// SPDX-License-Identifier: MIT
/// \file
/// `basic_feedback_tracker`: late user feedback, from request id to the
/// counters the feedback gate reads, in one object.
///
/// It bundles the attribution map (record/attribution.hpp), a writer per
/// request thread kept for you in a thread-local cache (as the recorder keeps
/// its shards), the owner's lock, de-duplicated resolution with parking of
/// early feedback, and cumulative feedback counts per arm, kind and cohort
/// (the candidate's share when the request was routed, series.hpp's
/// feedback_cohort). It also estimates the feedback delay, for the rate
/// gate's `feedback_delay_median_s` and `feedback_delay_sigma`.
///
/// Example:
/// \code
///   canarygate::feedback_tracker tracker({.capacity = 1'000'000, .ttl_ns = 3 * canarygate::hour_ns});
///   // request thread, after the response (lock-free, no writer to keep):
///   tracker.remember("run-7f3a", candidate_arm, response_time_ns, candidate_share);
///   // feedback webhook (blocking: the tracker's mutex):
///   auto r = tracker.feedback("run-7f3a", {canarygate::feedback_kind::thumbs_down}, now_ns);
///   // r.status: counted, duplicate (a retried webhook), deferred (early), ...
///   // collector tick:
///   tracker.tick(now_ns);
///   canarygate::snapshot totals = collector.cumulative();
///   tracker.add_to(totals, [&](canarygate::arm_id a) {
///       const auto info = rec.arm(a);
///       return std::pair{info.role, info.model_version};
///   });
/// \endcode
///
/// **Counts.** The tracker replaces recorder::record_feedback for feedback
/// that goes through it: add_to() writes the arm's `feedback.<kind>` totals,
/// the two score sums and the `feedback.<kind>.by_share.<ppm>` cohort
/// counters, all cumulative since the tracker was made, into a snapshot of
/// totals (collector.cumulative()), plus the map's and the tracker's own
/// counters as recorder-wide counters. Do not also call record_feedback for
/// the same events, nor add_counters() with the map's stats: they would be
/// counted twice. For windowed increments, subtract the previous totals
/// (snapshot::subtract), as for any cumulative snapshot.
///
/// **Threads.** remember() from any thread; everything else from any thread
/// too, serialised by an internal mutex. Threads that called remember() may
/// outlive the tracker: their cached writer is abandoned, without touching
/// the destroyed map, when the thread exits or reuses the cache entry. A
/// thread that exits gives its ring back to the pool. Destroying the tracker
/// while another thread is inside one of its member functions is a data race,
/// as for any object.
///
/// Reasons not to use this: one mutex serialises feedback, tick and the
/// queries (feedback is rare next to requests, but a server that resolves
/// millions of feedback events a second should own an attribution_map and
/// shard it); each thread keeps a ring until it exits, so writer_rings
/// should cover the request threads alive at once; and feedback is counted
/// once per (request, kind): a second score for a request is a duplicate.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/record/attribution.hpp"
#include "canarygate/record/detail/thread_cache.hpp"
#include "canarygate/record/outcome.hpp"
#include "canarygate/record/recorder.hpp"  // recorder_traits: the same limits
#include "canarygate/record/series.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Tuning and validation limits of a feedback tracker, in one place. To
/// change one, derive and hide it (as recorder_traits).
struct feedback_tracker_traits {
    /// Arms counted: arm ids 0 .. max_arms - 1 (the recorder's ids).
    /// remember() refuses a larger id (counted rejected_arm). At most 256.
    static constexpr std::size_t max_arms = recorder_traits::max_arms;
    /// Distinct candidate shares (cohorts) counted over the tracker's life;
    /// feedback of a further share is counted in its kind's total only
    /// (cohort_overflow), where the gate judges it like feedback of no
    /// known cohort. A ramp uses a handful; the cohorts are never forgotten,
    /// so use one tracker per rollout.
    static constexpr std::size_t max_cohorts = 64;
    /// Trackers a thread can remember into through its thread-local cache
    /// before it gives back the least recently used one's writer.
    static constexpr std::size_t thread_cache_size = recorder_traits::thread_cache_size;
    /// |score| above this is rejected, as the recorder rejects it.
    static constexpr std::uint64_t max_feedback_score = recorder_traits::max_feedback_score;
    /// The delay histogram: log-spaced bins from delay_min_s over
    /// delay_decades decades (1 ms to 1e6 s, 11.6 days), delay_bins_per_decade
    /// bins a decade (each 3.7 % wide). Delays outside are clamped into the
    /// first or last bin.
    static constexpr double delay_min_s = 1e-3;
    static constexpr std::size_t delay_decades = 9;
    static constexpr std::size_t delay_bins_per_decade = 64;
};

/// What feedback() did with a piece of feedback.
enum class feedback_status : std::uint8_t {
    counted,       ///< attributed to its request's arm (and cohort) and counted
    duplicate,     ///< this (request, kind) was counted or parked already: a retry, ignored
    deferred,      ///< its request is not known yet: parked; a later tick() counts it
    expired_id,    ///< its request is past the TTL: not counted
    unknown_id,    ///< its request is unknown (never remembered, evicted, forgotten)
    pending_full,  ///< its request is unknown and the pending list is full: dropped
    rejected,      ///< invalid kind, or |score| above max_feedback_score: not looked up
};

[[nodiscard]] constexpr std::string_view name(feedback_status s) noexcept {
    constexpr std::array<std::string_view, 7> names = {
        "counted", "duplicate", "deferred", "expired_id", "unknown_id", "pending_full", "rejected"};
    const auto i = static_cast<std::size_t>(s);
    return i < names.size() ? names[i] : std::string_view("unknown");
}

struct feedback_result {
    feedback_status status = feedback_status::unknown_id;
    /// The request's attribution when it is known (counted, expired_id, a
    /// duplicate of counted feedback).
    attribution value{};
};

/// The feedback delay (response sent -> feedback received) fitted as a
/// log-normal, in the units of rate_gate_config's `feedback_delay_median_s`
/// and `feedback_delay_sigma`. Robust: the median of the delays, and sigma =
/// 1.4826 x the median absolute deviation of their natural logarithms (the
/// MAD of a normal is 0.6745 sigma), both read from a histogram of log-delays
/// with linear interpolation inside a bin. Standard errors for n log-normal
/// delays: ln(median) 1.2533 sigma / sqrt(n), sigma 1.166 sigma / sqrt(n);
/// the bins add at most half a bin (1.8 % of the median) of rounding.
///
/// Only feedback that was counted contributes (not duplicates, not feedback
/// past the TTL), so delays beyond the map's TTL are missing and a long
/// tail is underestimated: keep the TTL well above the delays you expect.
struct feedback_delay_estimate {
    std::uint64_t count = 0;  ///< delays measured; 0: median_s and sigma are 0
    double median_s = 0;      ///< the median delay, seconds
    double sigma = 0;         ///< the log-normal sigma (of the natural log of the delay)
};

/// Counters of a feedback tracker: the map's, and its own.
///
/// Conservation (exact within one stats() call; balanced() checks it):
///   feedback() calls = map.lookups + rejected_feedback
///   counted = map.resolved + map.resolved_late
///   counted = in_cohort + share_unknown + cohort_overflow
/// and remember() calls = map's remember() calls (see attribution_stats) +
/// rejected_arm; delay_estimate().count = counted - delay_nonpositive.
struct feedback_tracker_stats {
    attribution_stats map;                ///< the attribution map's counters
    std::uint64_t rejected_arm = 0;       ///< remember() with an arm id >= max_arms: nothing stored
    std::uint64_t feedback_calls = 0;     ///< feedback() calls
    std::uint64_t rejected_feedback = 0;  ///< feedback() with an invalid kind or absurd score
    std::uint64_t counted = 0;            ///< feedback counted for an arm (now or by tick())
    std::uint64_t in_cohort = 0;          ///< ... and in its request's cohort
    std::uint64_t share_unknown = 0;      ///< ... whose request had no known share
    std::uint64_t cohort_overflow = 0;    ///< ... whose share found max_cohorts shares in use
    std::uint64_t delay_nonpositive = 0;  ///< ... received no later than its response (skew)

    [[nodiscard]] constexpr bool balanced() const noexcept {
        return map.balanced() && feedback_calls == map.lookups + rejected_feedback &&
               counted == map.resolved + map.resolved_late &&
               counted == in_cohort + share_unknown + cohort_overflow;
    }
    friend constexpr bool operator==(const feedback_tracker_stats&,
                                     const feedback_tracker_stats&) noexcept = default;
};

/// Calls `f(std::string_view name, std::uint64_t value, stat_kind kind)` for
/// every field of `s`: the map's (for_each_stat of attribution_stats), then
/// the tracker's own ("attribution.rejected_arm", "feedback.received",
/// "feedback.rejected", "feedback.counted", "feedback.in_cohort",
/// "feedback.share_unknown", "feedback.cohort_overflow",
/// "feedback.delay_nonpositive"; all counters).
template <class F>
void for_each_stat(const feedback_tracker_stats& s, F&& f) {
    for_each_stat(s.map, f);
    using k = stat_kind;
    f("attribution.rejected_arm", s.rejected_arm, k::counter);
    f("feedback.received", s.feedback_calls, k::counter);
    f("feedback.rejected", s.rejected_feedback, k::counter);
    f("feedback.counted", s.counted, k::counter);
    f("feedback.in_cohort", s.in_cohort, k::counter);
    f("feedback.share_unknown", s.share_unknown, k::counter);
    f("feedback.cohort_overflow", s.cohort_overflow, k::counter);
    f("feedback.delay_nonpositive", s.delay_nonpositive, k::counter);
}

/// Late feedback from request id to per-arm, per-cohort counts. See the file
/// comment.
///
/// \tparam Traits limits and sizes (feedback_tracker_traits).
template <class Traits = feedback_tracker_traits>
class basic_feedback_tracker {
    static_assert(Traits::max_arms >= 1 && Traits::max_arms <= 256,
                  "Traits::max_arms must be in [1, 256] (arm_id is 8 bits)");
    static_assert(Traits::max_cohorts >= 1, "Traits::max_cohorts must be at least 1");
    static_assert(Traits::thread_cache_size >= 1, "Traits::thread_cache_size must be at least 1");
    static_assert(Traits::delay_min_s > 0 && Traits::delay_decades >= 1 &&
                      Traits::delay_bins_per_decade >= 1,
                  "the delay histogram needs a positive range and bins");

public:
    using traits_type = Traits;

    /// Allocates the attribution map (see attribution_config and
    /// attribution_map::memory_bytes()), the cohort table and the delay
    /// histogram. Throws std::invalid_argument naming the field and its
    /// value when `config` is invalid, std::bad_alloc when memory is short.
    explicit basic_feedback_tracker(const attribution_config& config)
        : state_(std::make_shared<shared_state>(config)),
          // Relaxed: uniqueness is all that matters; no data hangs off the id.
          id_(next_tracker_id().fetch_add(1, std::memory_order_relaxed)),
          cohort_counts_(Traits::max_cohorts * Traits::max_arms * feedback_kind_count, 0),
          delay_bins_(delay_bin_count, 0) {}

    basic_feedback_tracker(const basic_feedback_tracker&) = delete;
    basic_feedback_tracker& operator=(const basic_feedback_tracker&) = delete;
    /// Threads that used the tracker may still be alive (see the file comment).
    ~basic_feedback_tracker() = default;

    /// The map's configuration, with the seed actually used filled in.
    [[nodiscard]] const attribution_config& config() const noexcept { return state_->map.config(); }

    /// Makes request `id` attributable to `arm`, answered at
    /// `response_time_ns` while the candidate had `candidate_share` of the
    /// traffic (a fraction in [0, 1], kept in millionths: its feedback
    /// cohort). Returns false, counted, when the arm id is >= max_arms
    /// (rejected_arm), the share is not in [0, 1] or NaN (rejected_share), or
    /// the thread's ring is full (ring_full / overflow_full). Any thread.
    /// Wait-free and allocation-free after the thread's first call for this
    /// tracker; that call claims a ring (at most writer_rings CAS) and may
    /// allocate once (the runtime registers the cache's destructor for thread
    /// exit). Do not call it from a thread_local destructor.
    bool remember(std::string_view id, arm_id arm, std::int64_t response_time_ns,
                  double candidate_share) noexcept {
        if (arm.value >= Traits::max_arms) return reject_arm();
        return entry_for_this_thread().writer.remember(id, attribution{arm, 0, response_time_ns},
                                                       candidate_share);
    }
    /// As above with the whole attribution (model version, share in
    /// millionths or unknown). Same guarantees.
    bool remember(std::string_view id, const attribution& a) noexcept {
        if (a.arm.value >= Traits::max_arms) return reject_arm();
        return entry_for_this_thread().writer.remember(id, a);
    }

    /// Takes one piece of feedback about request `id`, received at `now_ns`:
    /// counted for the request's arm, kind and cohort if the request is
    /// known and within its TTL; ignored and counted as a duplicate if the
    /// same (request, kind) was counted or parked before; parked if the
    /// request is not known yet (a later tick() counts it); otherwise
    /// counted as expired, unknown or dropped. An invalid kind or a score
    /// beyond max_feedback_score is rejected (counted) before any lookup.
    /// Any thread. Blocking (the tracker's mutex); no allocation.
    feedback_result feedback(std::string_view id, const feedback_event& f, std::int64_t now_ns) {
        const request_key key = state_->map.key_of(id);  // hashed outside the lock
        const std::lock_guard lock(mutex_);
        ++feedback_calls_;
        if (!valid(f)) {
            ++rejected_feedback_;
            return {feedback_status::rejected, {}};
        }
        const resolution r =
            state_->map.resolve_or_defer(key, parked_feedback{f.kind, f.score, now_ns}, now_ns);
        switch (r.status) {
            case resolve_status::resolved:
                tally(r.value, f.kind, f.score, now_ns);
                return {feedback_status::counted, r.value};
            case resolve_status::duplicate_feedback:
                return {feedback_status::duplicate, r.value};
            case resolve_status::deferred:
                return {feedback_status::deferred, r.value};
            case resolve_status::expired_id:
                return {feedback_status::expired_id, r.value};
            case resolve_status::pending_full:
                return {feedback_status::pending_full, r.value};
            case resolve_status::unknown_id:
                break;
        }
        return {feedback_status::unknown_id, r.value};
    }

    /// The owner's tick: moves remembered requests into the map, expires
    /// old ones, and counts parked feedback whose request has arrived (its
    /// delay measured from when it was received). Call it on every collector
    /// tick, before add_to(). Returns the requests moved. Any thread.
    /// Blocking (the tracker's mutex); no allocation.
    std::size_t tick(std::int64_t now_ns) {
        const std::lock_guard lock(mutex_);
        return state_->map.drain(now_ns, [this](const attribution& a, const parked_feedback& p) {
            tally(a, p.kind, p.score, p.arrival_ns);
        });
    }

    /// Every counter; see feedback_tracker_stats. Blocking, no allocation.
    [[nodiscard]] feedback_tracker_stats stats() const {
        const std::lock_guard lock(mutex_);
        return stats_locked();
    }

    /// Feedback of `kind` counted for `arm` since the tracker was made (all
    /// cohorts and none). Blocking.
    [[nodiscard]] std::uint64_t count(arm_id arm, feedback_kind kind) const {
        if (arm.value >= Traits::max_arms || !valid_kind(kind)) return 0;
        const std::lock_guard lock(mutex_);
        return arms_[arm.value].totals[static_cast<std::size_t>(kind)];
    }
    /// Feedback of `kind` counted for `arm` in the cohort of requests routed
    /// while the candidate had `share_ppm` millionths of the traffic. Blocking.
    [[nodiscard]] std::uint64_t count(arm_id arm, feedback_kind kind,
                                      std::uint32_t share_ppm) const {
        if (arm.value >= Traits::max_arms || !valid_kind(kind)) return 0;
        const std::lock_guard lock(mutex_);
        for (std::size_t c = 0; c < cohort_count_; ++c) {
            if (cohort_ppm_[c] == share_ppm) return cohort_counts_[cohort_index(c, arm, kind)];
        }
        return 0;
    }

    /// The feedback delay fitted as a log-normal (see
    /// feedback_delay_estimate). Blocking; allocates a copy of the histogram
    /// (Traits::delay_decades x delay_bins_per_decade counters), and works
    /// outside the lock.
    [[nodiscard]] feedback_delay_estimate delay_estimate() const {
        std::vector<std::uint64_t> bins;
        {
            const std::lock_guard lock(mutex_);
            bins = delay_bins_;
        }
        return estimate_delay(bins);
    }

    /// Calls `f(arm_id arm, std::string_view series, std::uint64_t value)`
    /// for every series add_to() writes to an arm: for each arm with counted
    /// feedback, `feedback.<kind>` for every kind, the two score sums
    /// (series::feedback_score_positive_sum / negative_sum), and
    /// `feedback.<kind>.by_share.<ppm>` (feedback_cohort::series_name) for
    /// every nonzero cohort. Cumulative since the tracker was made. The
    /// counts are copied under the lock and `f` is called outside it.
    /// Blocking; allocates.
    template <class F>
    void for_each_count(F&& f) const {
        const counts c = copy().first;
        visit(c, [&](arm_id arm, const auto& write) {
            write([&](std::string_view series, std::uint64_t value) { f(arm, series, value); });
        });
    }

    /// Adds the tracker's cumulative counts into `s`, a snapshot of totals
    /// since start (collector.cumulative()), read at the same time: the
    /// series of for_each_count() to the arm `arm_name(arm_id)` names, and
    /// every counter of stats() (for_each_stat; not the gauges) to the
    /// recorder-wide counters. `arm_name` returns the arm's role (anything
    /// `s.arm(...)` takes), or a pair (role, model version) as a collector
    /// names its arms. `Snapshot` is anything with `arm(...)` returning an
    /// object with `add_counter(std::string_view, std::uint64_t)`, and
    /// `add_counter(std::string_view, std::uint64_t)` itself: a `snapshot`.
    /// Call it once per snapshot (the counts are totals). Blocking;
    /// allocates.
    template <class Snapshot, class ArmName>
    void add_to(Snapshot& s, ArmName&& arm_name) const {
        const auto copied = copy();
        visit(copied.first, [&](arm_id arm, const auto& write) {
            const auto label = arm_name(arm);
            auto& target = arm_of(s, label);
            write([&](std::string_view series, std::uint64_t value) {
                target.add_counter(series, value);
            });
        });
        for_each_stat(copied.second, [&](std::string_view n, std::uint64_t value, stat_kind kind) {
            if (kind == stat_kind::counter) s.add_counter(n, value);
        });
    }

private:
    // What the map parks: the event and when it was received (for the delay).
    struct parked_feedback {
        feedback_kind kind = feedback_kind::thumbs_up;
        std::int64_t score = 0;
        std::int64_t arrival_ns = 0;
    };
    using map_type = basic_attribution_map<parked_feedback>;

    // The map, shared with the threads' caches (weakly): a cache entry locks
    // it only to give its ring back, so a thread that outlives the tracker
    // finds it expired and abandons its writer.
    struct shared_state {
        map_type map;
        explicit shared_state(const attribution_config& config) : map(config) {}
        shared_state(const shared_state&) = delete;
        shared_state& operator=(const shared_state&) = delete;
        // Runs when the last owner lets go (the tracker, or a thread giving
        // its ring back after the tracker was destroyed). Threads that still
        // cache a writer will abandon it without touching the map (their
        // weak pointer has expired), so every ring is given back here.
        ~shared_state() { basic_feedback_tracker::release_rings(map); }
    };

    static void release_rings(map_type& map) noexcept { map.release_abandoned_rings(); }

    // --- The thread-local cache (as basic_recorder's) ------------------------------

    struct thread_entry {
        std::uint64_t owner = 0;  // tracker id; 0 = empty
        typename map_type::writer writer;
        // Keeps the map alive only while giving the ring back (lock()); a
        // tracker that died leaves an expired pointer and an id no live
        // tracker has.
        std::weak_ptr<shared_state> state;

        [[nodiscard]] bool abandoned() const noexcept { return state.expired(); }
        void release() noexcept {
            if (owner != 0) {
                if (const auto s = state.lock()) {
                    writer.reset();  // the ring goes back to the pool
                } else {
                    basic_feedback_tracker::abandon(writer);  // the map is gone
                }
            }
            owner = 0;
            state.reset();
        }
    };

    static void abandon(typename map_type::writer& w) noexcept { w.abandon(); }

    using thread_cache = detail::thread_lru_cache<thread_entry, Traits::thread_cache_size>;

    thread_entry& entry_for_this_thread() noexcept {
        // Thread exit releases every claim: each ring goes back to its pool,
        // or is abandoned with its dead tracker.
        thread_local thread_cache cache;
        return cache.find_or_claim(id_, [this](thread_entry& e) noexcept {
            e.writer = state_->map.make_writer();
            e.state = state_;
        });
    }

    static std::atomic<std::uint64_t>& next_tracker_id() noexcept {
        static std::atomic<std::uint64_t> next{1};  // 0 marks an empty cache entry
        return next;
    }

    bool reject_arm() noexcept {
        // Relaxed: a counter, read for statistics only (any thread adds).
        rejected_arm_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }

    // --- Counting (under the mutex) ------------------------------------------------

    static constexpr std::size_t delay_bin_count =
        Traits::delay_decades * Traits::delay_bins_per_decade;

    struct arm_counts {
        std::array<std::uint64_t, feedback_kind_count> totals{};
        std::uint64_t score_positive = 0;
        std::uint64_t score_negative = 0;
    };

    // A copy of the counts, for for_each_count and add_to.
    struct counts {
        std::array<arm_counts, Traits::max_arms> arms{};
        std::vector<std::uint32_t> cohort_ppm;
        std::vector<std::uint64_t> cohort_counts;
    };

    [[nodiscard]] static constexpr bool valid_kind(feedback_kind kind) noexcept {
        return static_cast<std::size_t>(kind) < feedback_kind_count;
    }
    [[nodiscard]] static constexpr std::uint64_t magnitude(std::int64_t v) noexcept {
        // Unsigned negation: exact for INT64_MIN too.
        return v < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(v)
                     : static_cast<std::uint64_t>(v);
    }
    // The recorder's rules (feedback_metric::validate_feedback).
    [[nodiscard]] static constexpr bool valid(const feedback_event& f) noexcept {
        return valid_kind(f.kind) &&
               (f.kind != feedback_kind::score || magnitude(f.score) <= Traits::max_feedback_score);
    }

    [[nodiscard]] static constexpr std::size_t cohort_index(std::size_t cohort, arm_id arm,
                                                            feedback_kind kind) noexcept {
        return (cohort * Traits::max_arms + arm.value) * feedback_kind_count +
               static_cast<std::size_t>(kind);
    }

    // Counts one attributed piece of feedback (valid kind, arm < max_arms:
    // remember() refused the others). Caller holds the mutex.
    void tally(const attribution& a, feedback_kind kind, std::int64_t score,
               std::int64_t received_ns) noexcept {
        arm_counts& arm = arms_[a.arm.value];
        ++arm.totals[static_cast<std::size_t>(kind)];
        if (kind == feedback_kind::score) {
            (score < 0 ? arm.score_negative : arm.score_positive) += magnitude(score);
        }
        ++counted_;
        if (!a.candidate_share_ppm) {
            ++share_unknown_;
        } else {
            const std::uint32_t ppm = *a.candidate_share_ppm;
            std::size_t c = 0;
            while (c < cohort_count_ && cohort_ppm_[c] != ppm) ++c;
            if (c == cohort_count_ && cohort_count_ < Traits::max_cohorts) {
                cohort_ppm_[cohort_count_++] = ppm;
            }
            if (c < cohort_count_) {
                ++cohort_counts_[cohort_index(c, a.arm, kind)];
                ++in_cohort_;
            } else {
                ++cohort_overflow_;
            }
        }
        // The delay, response sent -> feedback received. Exact in unsigned
        // arithmetic for every pair of timestamps (received > response).
        if (received_ns > a.response_time_ns) {
            const std::uint64_t delay_ns = static_cast<std::uint64_t>(received_ns) -
                                           static_cast<std::uint64_t>(a.response_time_ns);
            ++delay_bins_[delay_bin(delay_ns)];
        } else {
            ++delay_nonpositive_;
        }
    }

    // log10 of the histogram's lower edge, and the width of a bin in log10.
    static double delay_log_lo() noexcept { return std::log10(Traits::delay_min_s); }
    static constexpr double delay_bin_width =
        1.0 / static_cast<double>(Traits::delay_bins_per_decade);

    [[nodiscard]] static std::size_t delay_bin(std::uint64_t delay_ns) noexcept {
        const double x = std::log10(static_cast<double>(delay_ns) * 1e-9);
        const double pos = (x - delay_log_lo()) / delay_bin_width;
        if (!(pos > 0.0)) return 0;
        if (pos >= static_cast<double>(delay_bin_count)) return delay_bin_count - 1;
        return static_cast<std::size_t>(pos);
    }

    // Median and MAD of the log10-delays from the histogram: F(x), the count
    // below x, is linear inside a bin; both are found by bisection on it.
    [[nodiscard]] static feedback_delay_estimate estimate_delay(
        const std::vector<std::uint64_t>& bins) {
        std::vector<double> below(bins.size() + 1, 0.0);  // below[i]: samples in bins < i
        for (std::size_t i = 0; i < bins.size(); ++i)
            below[i + 1] = below[i] + static_cast<double>(bins[i]);
        const double n = below.back();
        if (n == 0.0) return {};
        const double lo = delay_log_lo();
        const double hi = lo + static_cast<double>(bins.size()) * delay_bin_width;
        const auto cdf = [&](double x) {
            if (x <= lo) return 0.0;
            if (x >= hi) return n;
            const double pos = (x - lo) / delay_bin_width;
            const auto i = std::min(static_cast<std::size_t>(pos), bins.size() - 1);
            return below[i] + static_cast<double>(bins[i]) * (pos - static_cast<double>(i));
        };
        // The smallest x in [a, b] with g(x) >= half (g nondecreasing).
        const auto solve = [&](double a, double b, const auto& g) {
            for (int k = 0; k < 100 && b - a > 1e-12; ++k) {
                const double mid = 0.5 * (a + b);
                (g(mid) >= 0.5 * n ? b : a) = mid;
            }
            return 0.5 * (a + b);
        };
        const double median = solve(lo, hi, cdf);
        const double mad =
            solve(0.0, hi - lo, [&](double d) { return cdf(median + d) - cdf(median - d); });
        constexpr double mad_to_sigma = 1.482602218505602;  // 1 / Phi^-1(3/4)
        return {static_cast<std::uint64_t>(n), std::pow(10.0, median),
                mad_to_sigma * mad * std::log(10.0)};
    }

    [[nodiscard]] feedback_tracker_stats stats_locked() const noexcept {
        feedback_tracker_stats s;
        s.map = state_->map.stats();
        // Relaxed: a statistic (added by remember() on any thread).
        s.rejected_arm = rejected_arm_.load(std::memory_order_relaxed);
        s.feedback_calls = feedback_calls_;
        s.rejected_feedback = rejected_feedback_;
        s.counted = counted_;
        s.in_cohort = in_cohort_;
        s.share_unknown = share_unknown_;
        s.cohort_overflow = cohort_overflow_;
        s.delay_nonpositive = delay_nonpositive_;
        return s;
    }

    [[nodiscard]] std::pair<counts, feedback_tracker_stats> copy() const {
        std::pair<counts, feedback_tracker_stats> out;
        out.first.cohort_ppm.reserve(Traits::max_cohorts);
        out.first.cohort_counts.reserve(cohort_counts_.size());
        const std::lock_guard lock(mutex_);
        out.first.arms = arms_;
        out.first.cohort_ppm.assign(cohort_ppm_.begin(), cohort_ppm_.begin() + cohort_count_);
        out.first.cohort_counts = cohort_counts_;
        out.second = stats_locked();
        return out;
    }

    // Calls on_arm(arm, write) for every arm with counted feedback, where
    // write(sink) calls sink(series, value) for each of the arm's series.
    template <class OnArm>
    static void visit(const counts& c, OnArm&& on_arm) {
        for (std::size_t a = 0; a < Traits::max_arms; ++a) {
            const arm_counts& ac = c.arms[a];
            std::uint64_t any = 0;
            for (const std::uint64_t t : ac.totals) any += t;
            if (any == 0) continue;
            const arm_id arm{static_cast<std::uint8_t>(a)};
            on_arm(arm, [&](const auto& sink) {
                std::string series_name;
                for (std::size_t k = 0; k < feedback_kind_count; ++k) {
                    series_name.assign(series::feedback_prefix);
                    series_name += name(static_cast<feedback_kind>(k));
                    sink(series_name, ac.totals[k]);
                }
                sink(series::feedback_score_positive_sum, ac.score_positive);
                sink(series::feedback_score_negative_sum, ac.score_negative);
                for (std::size_t ci = 0; ci < c.cohort_ppm.size(); ++ci) {
                    for (std::size_t k = 0; k < feedback_kind_count; ++k) {
                        const auto kind = static_cast<feedback_kind>(k);
                        const std::uint64_t v = c.cohort_counts[cohort_index(ci, arm, kind)];
                        if (v != 0) sink(feedback_cohort::series_name(kind, c.cohort_ppm[ci]), v);
                    }
                }
            });
        }
    }

    // The arm `name` names in `s`: a role, or a (role, model version) pair.
    template <class Snapshot, class Name>
    static decltype(auto) arm_of(Snapshot& s, const Name& name) {
        if constexpr (requires { s.arm(name.first, name.second); }) {
            return s.arm(name.first, name.second);
        } else {
            return s.arm(name);
        }
    }

    std::shared_ptr<shared_state> state_;
    std::uint64_t id_;
    mutable std::mutex mutex_;
    // Under mutex_:
    std::array<arm_counts, Traits::max_arms> arms_{};
    std::array<std::uint32_t, Traits::max_cohorts> cohort_ppm_{};
    std::size_t cohort_count_ = 0;
    std::vector<std::uint64_t> cohort_counts_;  // [cohort][arm][kind]
    std::vector<std::uint64_t> delay_bins_;
    std::uint64_t feedback_calls_ = 0;
    std::uint64_t rejected_feedback_ = 0;
    std::uint64_t counted_ = 0;
    std::uint64_t in_cohort_ = 0;
    std::uint64_t share_unknown_ = 0;
    std::uint64_t cohort_overflow_ = 0;
    std::uint64_t delay_nonpositive_ = 0;
    // Added by remember() on any thread; its own line keeps those rare
    // writes away from the fields above.
    alignas(cache_line_size) std::atomic<std::uint64_t> rejected_arm_{0};
};

/// The tracker with the default limits.
using feedback_tracker = basic_feedback_tracker<>;

CANARYGATE_NAMESPACE_END
