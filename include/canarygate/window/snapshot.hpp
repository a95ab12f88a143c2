// SPDX-License-Identifier: MIT
/// \file
/// Snapshots: what one window of traffic looked like, per arm, as named exact
/// counters and histograms. The collector produces them, gates read them,
/// codecs serialise them, and `merge` combines the replicas of a fleet exactly.
///
/// The model is deliberately generic: a metric contributes named series
/// ("cost_nano_usd.sum", "latency_ns", ...), so a user-defined metric travels
/// through merge, serialisation and exposition without library changes. The
/// names of the default metrics are in `canarygate::series`.
///
/// Example:
/// \code
///   canarygate::snapshot fleet = replica_a;       // copies
///   fleet.merge(replica_b);                       // exact; windows are united
///   const auto* candidate = fleet.find_arm("candidate");
///   double mean_cost = candidate->counter(canarygate::series::cost_sum).to_double() /
///                      candidate->counter(canarygate::series::requests).to_double();
/// \endcode
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/core/wide_uint.hpp"
#include "canarygate/record/series.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// One arm's traffic over one window: named exact counters and histograms.
///
/// A missing series reads as zero (an empty histogram for histograms), so
/// snapshots from recorders with different metric sets still merge.
class arm_snapshot {
public:
    arm_snapshot() = default;
    arm_snapshot(std::string arm, std::string model_version)
        : arm_(std::move(arm)), model_version_(std::move(model_version)) {}

    /// Role of the arm: "baseline", "candidate", "shadow", or a user's name.
    [[nodiscard]] const std::string& arm() const noexcept { return arm_; }
    /// Model version or digest the arm served ("" when not given).
    [[nodiscard]] const std::string& model_version() const noexcept { return model_version_; }

    /// The counter's value, or 0 when absent.
    [[nodiscard]] wide_uint counter(std::string_view name) const {
        const auto it = counters_.find(name);
        return it == counters_.end() ? wide_uint{} : it->second;
    }
    /// The histogram, or nullptr when absent.
    [[nodiscard]] const exp_histogram* histogram(std::string_view name) const {
        const auto it = histograms_.find(name);
        return it == histograms_.end() ? nullptr : &it->second;
    }
    [[nodiscard]] const std::map<std::string, wide_uint, std::less<>>& counters() const noexcept {
        return counters_;
    }
    [[nodiscard]] const std::map<std::string, exp_histogram, std::less<>>& histograms()
        const noexcept {
        return histograms_;
    }

    /// Adds `value` to a counter, creating it at zero first. Throws
    /// std::invalid_argument naming the counter and the arm, and changes
    /// nothing, when the sum would pass 2^128 - 1.
    void add_counter(std::string_view name, wide_uint value) {
        if (auto why = counter_overflow(name, value)) {
            detail::throw_invalid_argument("canarygate::arm_snapshot::add_counter: " + *why);
        }
        auto it = counters_.find(name);
        if (it == counters_.end()) it = counters_.emplace(std::string(name), wide_uint{}).first;
        it->second += value;
    }
    /// Adds a histogram into the named one (created empty with the same layout
    /// first). When the layouts differ only in scale, the finer side is
    /// downscaled so the sum stays exact. Throws std::invalid_argument naming
    /// the series and the arm, and changes nothing, when the ranges differ or
    /// a count would pass 2^64 - 1 (exp_histogram::merge_coarsening_refusal).
    void add_histogram(std::string_view name, const exp_histogram& h) {
        auto it = histograms_.find(name);
        if (it == histograms_.end()) {
            histograms_.emplace(std::string(name), h);
            return;
        }
        if (auto why = histogram_refusal(name, it->second, h)) {
            detail::throw_invalid_argument("canarygate::arm_snapshot::add_histogram: " + *why);
        }
        it->second.merge_coarsening(h);
    }

    /// Why `merge(other)` would refuse, or nullopt when it can: the arms
    /// differ, a histogram's range differs, or a sum would overflow (a
    /// counter past 2^128 - 1, a histogram count or total count past
    /// 2^64 - 1). Names the arm and the series ("histogram 'ttft_ns' of arm
    /// 'candidate': the total count would overflow (... + ...)").
    /// O(series * buckets).
    [[nodiscard]] std::optional<std::string> merge_refusal(const arm_snapshot& other) const {
        if (other.arm_ != arm_ || other.model_version_ != model_version_) return arms_differ(other);
        for (const auto& [name, value] : other.counters_) {
            if (auto why = counter_overflow(name, value)) return why;
        }
        for (const auto& [name, h] : other.histograms_) {
            const exp_histogram* mine = histogram(name);
            if (mine == nullptr) continue;
            if (auto why = histogram_refusal(name, *mine, h)) return why;
        }
        return std::nullopt;
    }

    /// Adds every series of `other`. Exact: throws std::invalid_argument when
    /// merge_refusal() says why (different arm or model version, a range that
    /// differs, a sum that would overflow). Strong guarantee: on any error
    /// `*this` is unchanged.
    void merge(const arm_snapshot& other) {
        if (auto why = merge_refusal(other)) {
            detail::throw_invalid_argument("canarygate::arm_snapshot::merge: " + *why);
        }
        arm_snapshot result = *this;
        result.merge_checked(other);
        *this = std::move(result);
    }

    /// Why `subtract(earlier)` would refuse, or nullopt when it can. Names
    /// the arm and the series. O(series).
    [[nodiscard]] std::optional<std::string> subtract_refusal(const arm_snapshot& earlier) const {
        if (earlier.arm_ != arm_ || earlier.model_version_ != model_version_)
            return arms_differ(earlier);
        for (const auto& [name, value] : earlier.counters_) {
            const wide_uint have = counter(name);
            if (have < value) {
                return "counter '" + name + "' of arm '" + arm_ + "' would go negative (" +
                       have.to_string() + " - " + value.to_string() + ")";
            }
        }
        for (const auto& [name, h] : earlier.histograms_) {
            const exp_histogram* mine = histogram(name);
            if (mine == nullptr) {
                if (h.empty() && h.rejected_count() == 0) continue;
                return "histogram '" + name + "' of arm '" + arm_ +
                       "' is missing from the later snapshot";
            }
            if (auto why = mine->subtract_coarsening_refusal(h))
                return "histogram '" + name + "' of arm '" + arm_ + "': " + *why;
        }
        return std::nullopt;
    }

    /// Removes `earlier` (an earlier cumulative snapshot of the same arm), so
    /// that `*this` holds only what happened in between. Exact; a histogram
    /// coarsened since `earlier` was taken is subtracted at the coarser scale
    /// (exp_histogram::subtract_coarsening). Throws std::invalid_argument,
    /// leaving `*this` unchanged, when the arms differ, a counter or
    /// histogram bucket would go negative, or a histogram's range differs
    /// (see subtract_refusal). Strong guarantee, std::bad_alloc included.
    void subtract(const arm_snapshot& earlier) {
        if (auto why = subtract_refusal(earlier)) {
            detail::throw_invalid_argument("canarygate::arm_snapshot::subtract: " + *why);
        }
        arm_snapshot result = *this;
        result.subtract_checked(earlier);
        *this = std::move(result);
    }

    friend bool operator==(const arm_snapshot&, const arm_snapshot&) = default;

private:
    friend class snapshot;

    [[nodiscard]] std::string arms_differ(const arm_snapshot& other) const {
        return "arms differ ('" + arm_ + "'@'" + model_version_ + "' vs '" + other.arm_ + "'@'" +
               other.model_version_ + "')";
    }

    // "counter 'requests' of arm 'candidate' would overflow (a + b)", or
    // nullopt when `value` can be added to the counter.
    [[nodiscard]] std::optional<std::string> counter_overflow(std::string_view name,
                                                              wide_uint value) const {
        const wide_uint have = counter(name);
        if (have + value >= have) return std::nullopt;
        return "counter '" + std::string(name) + "' of arm '" + arm_ + "' would overflow (" +
               have.to_string() + " + " + value.to_string() + ")";
    }

    [[nodiscard]] std::optional<std::string> histogram_refusal(std::string_view name,
                                                               const exp_histogram& mine,
                                                               const exp_histogram& added) const {
        if (auto why = mine.merge_coarsening_refusal(added)) {
            return "histogram '" + std::string(name) + "' of arm '" + arm_ + "': " + *why;
        }
        return std::nullopt;
    }

    // merge() after merge_refusal() found nothing wrong: can fail only by
    // std::bad_alloc (a new series, a downscaled histogram), so callers run
    // it on a copy.
    void merge_checked(const arm_snapshot& other) {
        for (const auto& [name, value] : other.counters_) counters_[name] += value;
        for (const auto& [name, h] : other.histograms_) {
            if (auto it = histograms_.find(name); it != histograms_.end()) {
                it->second.merge_coarsening(h);
            } else {
                histograms_.emplace(name, h);
            }
        }
    }

    // subtract() after subtract_refusal() found nothing wrong: can fail only
    // by std::bad_alloc (a counter created at zero, a downscaled histogram),
    // so callers run it on a copy.
    void subtract_checked(const arm_snapshot& earlier) {
        for (const auto& [name, value] : earlier.counters_) counters_[name] -= value;
        for (const auto& [name, h] : earlier.histograms_) {
            if (auto it = histograms_.find(name); it != histograms_.end())
                it->second.subtract_coarsening(h);
        }
    }

    std::string arm_;
    std::string model_version_;
    std::map<std::string, wide_uint, std::less<>> counters_;
    std::map<std::string, exp_histogram, std::less<>> histograms_;
};

/// All arms of one window [window_start_ns, window_end_ns), plus
/// recorder-wide counters that belong to no arm (feedback for unknown
/// request ids, evicted attributions, pool exhaustion, ...).
///
/// Times are nanoseconds on the recorder's injected clock (usually the Unix
/// epoch). `sources` counts the snapshots merged into this one (1 for a
/// single recorder, 0 for a default-constructed empty accumulator), so a
/// controller can check that every replica reported.
///
/// Merging is exact or refused: a counter past 2^128 - 1, a histogram count
/// or total count past 2^64 - 1, or `sources` past 2^64 - 1 throws
/// std::invalid_argument naming what would overflow (and the arm and series)
/// with both values, and the target is unchanged.
class snapshot {
public:
    snapshot() = default;
    snapshot(std::int64_t window_start_ns, std::int64_t window_end_ns)
        : start_(window_start_ns), end_(window_end_ns), sources_(1) {
        if (window_end_ns < window_start_ns) {
            detail::throw_invalid_argument(
                "canarygate::snapshot: window_end_ns = " + std::to_string(window_end_ns) +
                " is before window_start_ns = " + std::to_string(window_start_ns));
        }
    }

    [[nodiscard]] std::int64_t window_start_ns() const noexcept { return start_; }
    [[nodiscard]] std::int64_t window_end_ns() const noexcept { return end_; }
    [[nodiscard]] std::uint64_t sources() const noexcept { return sources_; }
    /// Arms sorted by (arm, model_version).
    [[nodiscard]] const std::vector<arm_snapshot>& arms() const noexcept { return arms_; }
    /// The first arm with this role, or nullptr.
    [[nodiscard]] const arm_snapshot* find_arm(std::string_view arm) const noexcept {
        for (const auto& a : arms_) {
            if (a.arm() == arm) return &a;
        }
        return nullptr;
    }
    /// The arm with this role and model version, or nullptr.
    [[nodiscard]] const arm_snapshot* find_arm(std::string_view arm,
                                               std::string_view model_version) const noexcept {
        for (const auto& a : arms_) {
            if (a.arm() == arm && a.model_version() == model_version) return &a;
        }
        return nullptr;
    }
    /// Recorder-wide counters (see class comment).
    [[nodiscard]] const std::map<std::string, wide_uint, std::less<>>& counters() const noexcept {
        return counters_;
    }
    [[nodiscard]] wide_uint counter(std::string_view name) const {
        const auto it = counters_.find(name);
        return it == counters_.end() ? wide_uint{} : it->second;
    }

    /// The arm with this role and model version, created empty if absent.
    /// The reference stays valid until the next call that creates an arm
    /// (arms live in a sorted vector).
    arm_snapshot& arm(std::string_view arm, std::string_view model_version = {}) {
        const auto key = [](const arm_snapshot& a) {
            return std::pair<std::string_view, std::string_view>(a.arm(), a.model_version());
        };
        const std::pair<std::string_view, std::string_view> wanted(arm, model_version);
        auto it =
            std::lower_bound(arms_.begin(), arms_.end(), wanted,
                             [&](const arm_snapshot& a, const auto& w) { return key(a) < w; });
        if (it == arms_.end() || key(*it) != wanted) {
            it = arms_.insert(it, arm_snapshot(std::string(arm), std::string(model_version)));
        }
        return *it;
    }
    /// Adds `value` to a recorder-wide counter, creating it at zero first.
    /// Throws std::invalid_argument naming the counter, and changes nothing,
    /// when the sum would pass 2^128 - 1.
    void add_counter(std::string_view name, wide_uint value) {
        if (auto why = counter_overflow(name, value)) {
            detail::throw_invalid_argument("canarygate::snapshot::add_counter: " + *why);
        }
        auto it = counters_.find(name);
        if (it == counters_.end()) it = counters_.emplace(std::string(name), wide_uint{}).first;
        it->second += value;
    }
    /// Used by decoders to restore a merged snapshot's provenance.
    void set_sources(std::uint64_t sources) noexcept { sources_ = sources; }

    /// Why `merge(other)` would refuse, or nullopt when it can: a histogram
    /// range that differs, or a sum that would overflow (a counter past
    /// 2^128 - 1, a histogram count or total count past 2^64 - 1, `sources`
    /// past 2^64 - 1). Names the arm and the series, as subtraction does.
    /// O(series * buckets).
    [[nodiscard]] std::optional<std::string> merge_refusal(const snapshot& other) const {
        for (const auto& a : other.arms_) {
            const arm_snapshot* mine = find_arm(a.arm(), a.model_version());
            if (mine == nullptr) continue;
            if (auto why = mine->merge_refusal(a)) return why;
        }
        for (const auto& [name, value] : other.counters_) {
            if (auto why = counter_overflow(name, value)) return why;
        }
        if (sources_ + other.sources_ < sources_) {
            return "sources would overflow (" + std::to_string(sources_) + " + " +
                   std::to_string(other.sources_) + ")";
        }
        return std::nullopt;
    }

    /// Adds another snapshot exactly: arms are matched by (arm, model
    /// version), counters added, histograms added (the finer scale
    /// downscaled), the window becomes the union of both windows and
    /// `sources` adds up. Throws std::invalid_argument when merge_refusal()
    /// says why (a histogram range that differs, a sum that would overflow).
    /// Strong guarantee, std::bad_alloc included: on error `*this` is
    /// unchanged.
    snapshot& merge(const snapshot& other) {
        if (auto why = merge_refusal(other)) {
            detail::throw_invalid_argument("canarygate::snapshot::merge: " + *why);
        }
        // Only allocation can fail from here on: work on a copy.
        snapshot result = *this;
        for (const auto& a : other.arms_) result.arm(a.arm(), a.model_version()).merge_checked(a);
        for (const auto& [name, value] : other.counters_) result.counters_[name] += value;
        if (sources_ == 0) {
            result.start_ = other.start_;
            result.end_ = other.end_;
        } else if (other.sources_ != 0) {
            result.start_ = std::min(start_, other.start_);
            result.end_ = std::max(end_, other.end_);
        }
        result.sources_ = sources_ + other.sources_;
        *this = std::move(result);
        return *this;
    }

    /// What happened between `earlier` and this snapshot, both cumulative
    /// (e.g. the recorder's totals at two checks): every counter and
    /// histogram minus its earlier value; the window becomes
    /// [earlier.window_end_ns(), window_end_ns()). Gates feed on these
    /// disjoint increments. Throws std::invalid_argument, leaving `*this`
    /// unchanged, when anything would go negative (`earlier` is not an
    /// earlier state of the same source), an arm of `earlier` is missing, or
    /// `earlier` ends after this snapshot.
    snapshot& subtract(const snapshot& earlier) {
        if (auto why = try_subtract(earlier))
            detail::throw_invalid_argument("canarygate::snapshot::subtract: " + *why);
        return *this;
    }

    /// subtract() that reports instead of throwing: on refusal returns the
    /// reason and leaves `*this` unchanged; nullopt when done. Strong
    /// guarantee against std::bad_alloc too (the work is done on a copy).
    [[nodiscard]] std::optional<std::string> try_subtract(const snapshot& earlier) {
        if (earlier.end_ > end_) {
            return "the earlier snapshot ends at " + std::to_string(earlier.end_) +
                   " ns, after this one (" + std::to_string(end_) + " ns)";
        }
        for (const auto& a : earlier.arms_) {
            const arm_snapshot* mine = find_arm(a.arm(), a.model_version());
            if (mine == nullptr) {
                return "arm '" + a.arm() + "'@'" + a.model_version() +
                       "' is missing from the later snapshot";
            }
            if (auto why = mine->subtract_refusal(a)) return why;
        }
        for (const auto& [name, value] : earlier.counters_) {
            const wide_uint have = counter(name);
            if (have < value) {
                return "counter '" + name + "' would go negative (" + have.to_string() + " - " +
                       value.to_string() + ")";
            }
        }
        // Only allocation can fail from here on: work on a copy.
        snapshot result = *this;
        for (const auto& a : earlier.arms_)
            result.arm(a.arm(), a.model_version()).subtract_checked(a);
        for (const auto& [name, value] : earlier.counters_) result.counters_[name] -= value;
        result.start_ = earlier.end_;
        *this = std::move(result);
        return std::nullopt;
    }

    friend bool operator==(const snapshot&, const snapshot&) = default;

private:
    // "counter 'feedback.unknown_id' would overflow (a + b)", or nullopt.
    [[nodiscard]] std::optional<std::string> counter_overflow(std::string_view name,
                                                              wide_uint value) const {
        const wide_uint have = counter(name);
        if (have + value >= have) return std::nullopt;
        return "counter '" + std::string(name) + "' would overflow (" + have.to_string() + " + " +
               value.to_string() + ")";
    }

    std::int64_t start_ = 0;
    std::int64_t end_ = 0;
    // 0 for a default-constructed snapshot: an empty accumulator whose window
    // is taken from the first snapshot merged into it.
    std::uint64_t sources_ = 0;
    std::vector<arm_snapshot> arms_;
    std::map<std::string, wide_uint, std::less<>> counters_;
};

/// The `series_output` of one arm_snapshot: what the collector hands the
/// metrics' export_to.
class arm_snapshot_output final : public series_output {
public:
    explicit arm_snapshot_output(arm_snapshot& arm) noexcept : arm_(arm) {}
    void add_counter(std::string_view name, wide_uint value) override {
        arm_.add_counter(name, value);
    }
    void add_histogram(std::string_view name, const exp_histogram& h) override {
        arm_.add_histogram(name, h);
    }

private:
    arm_snapshot& arm_;
};

CANARYGATE_NAMESPACE_END
