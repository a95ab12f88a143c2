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
#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "canarygate/config.hpp"
#include "canarygate/histogram.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// An exact unsigned 128-bit sum (sums of nanoseconds and sums of squared
/// costs overflow 64 bits over long windows). Addition and subtraction wrap
/// modulo 2^128 like unsigned integers; the collector only subtracts what it
/// added before, so wrapping never happens in practice.
struct wide_uint {
    std::uint64_t high = 0;
    std::uint64_t low = 0;

    constexpr wide_uint() noexcept = default;
    constexpr wide_uint(std::uint64_t value) noexcept : low(value) {}  // NOLINT: implicit by design
    constexpr wide_uint(std::uint64_t high_word, std::uint64_t low_word) noexcept
        : high(high_word), low(low_word) {}

    constexpr wide_uint& operator+=(wide_uint other) noexcept {
        const std::uint64_t sum = low + other.low;
        high += other.high + static_cast<std::uint64_t>(sum < low);
        low = sum;
        return *this;
    }
    constexpr wide_uint& operator-=(wide_uint other) noexcept {
        const std::uint64_t difference = low - other.low;
        high -= other.high + static_cast<std::uint64_t>(low < other.low);
        low = difference;
        return *this;
    }
    friend constexpr wide_uint operator+(wide_uint a, wide_uint b) noexcept { return a += b; }
    friend constexpr wide_uint operator-(wide_uint a, wide_uint b) noexcept { return a -= b; }
    friend constexpr bool operator==(wide_uint, wide_uint) noexcept = default;
    friend constexpr std::strong_ordering operator<=>(wide_uint a, wide_uint b) noexcept {
        if (auto c = a.high <=> b.high; c != 0) return c;
        return a.low <=> b.low;
    }
    /// True when the value fits in 64 bits.
    [[nodiscard]] constexpr bool fits_u64() const noexcept { return high == 0; }
    /// The value as a double (rounded; exact below 2^53).
    [[nodiscard]] constexpr double to_double() const noexcept {
        return static_cast<double>(high) * 18446744073709551616.0 + static_cast<double>(low);
    }
    /// Decimal digits, exact (for JSON and reports).
    [[nodiscard]] std::string to_string() const {
        if (high == 0) return std::to_string(low);
        // Repeated division by 10 over four 32-bit limbs: every partial
        // dividend is below 10 * 2^32, so 64-bit arithmetic is exact.
        std::uint64_t limbs[4] = {high >> 32, high & 0xffffffffU, low >> 32, low & 0xffffffffU};
        std::string digits;
        bool nonzero = true;
        while (nonzero) {
            std::uint64_t remainder = 0;
            nonzero = false;
            for (auto& limb : limbs) {
                const std::uint64_t dividend = (remainder << 32) | limb;
                limb = dividend / 10;
                remainder = dividend % 10;
                nonzero = nonzero || limb != 0;
            }
            digits.push_back(static_cast<char>('0' + remainder));
        }
        std::reverse(digits.begin(), digits.end());
        return digits;
    }
};

/// Names of the series the default metrics produce. Counters are exact
/// wide_uint values; histograms are exp_histogram. Units are in the names.
namespace series {
// Counters, per arm.
inline constexpr std::string_view requests = "requests";
inline constexpr std::string_view latency_sum = "latency_ns.sum";
inline constexpr std::string_view ttft_sum = "ttft_ns.sum";
inline constexpr std::string_view input_tokens_sum = "input_tokens.sum";
inline constexpr std::string_view output_tokens_sum = "output_tokens.sum";
inline constexpr std::string_view output_tokens_sum_squares = "output_tokens.sum_sq";
inline constexpr std::string_view cost_sum = "cost_nano_usd.sum";
inline constexpr std::string_view cost_sum_squares = "cost_nano_usd.sum_sq";
/// Prefix of the per-category outcome counters: "outcome.ok", "outcome.refusal_provider", ...
inline constexpr std::string_view outcome_prefix = "outcome.";
/// Prefix of the per-kind feedback counters: "feedback.thumbs_down", ...
inline constexpr std::string_view feedback_prefix = "feedback.";
/// Prefix of the per-reason rejection counters: "rejected.latency_nan", ...
inline constexpr std::string_view rejected_prefix = "rejected.";
/// The count of `feedback_kind::score` events is "feedback.score"; these are
/// the sums of positive scores and of the magnitudes of negative ones, so the
/// mean score is (positive - negative) / count.
inline constexpr std::string_view feedback_score_positive_sum = "feedback.score.sum_positive";
inline constexpr std::string_view feedback_score_negative_sum = "feedback.score.sum_negative";
// Recorder-wide counters (snapshot::counter).
/// Records and feedback for an arm id the recorder never issued.
inline constexpr std::string_view rejected_unknown_arm = "rejected.unknown_arm";
/// Records and feedback written through the shared overflow shard because
/// the pool of per-thread shards was exhausted.
inline constexpr std::string_view overflow_records = "recorder.overflow_records";
/// Writers (explicit or thread-local) that found no free shard.
inline constexpr std::string_view overflow_writers = "recorder.overflow_writers";
/// Collector ticks whose clock reading went backwards.
inline constexpr std::string_view clock_backwards = "collector.clock_backwards";
// Histograms, per arm.
inline constexpr std::string_view latency = "latency_ns";
inline constexpr std::string_view ttft = "ttft_ns";
inline constexpr std::string_view input_tokens = "input_tokens";
inline constexpr std::string_view output_tokens = "output_tokens";
inline constexpr std::string_view cost = "cost_nano_usd";
}  // namespace series

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

    /// Adds `value` to a counter, creating it at zero first.
    void add_counter(std::string_view name, wide_uint value) {
        auto it = counters_.find(name);
        if (it == counters_.end()) it = counters_.emplace(std::string(name), wide_uint{}).first;
        it->second += value;
    }
    /// Adds a histogram into the named one (created empty with the same layout
    /// first). When the layouts differ only in scale, the finer side is
    /// downscaled so the sum stays exact; a different range throws
    /// std::invalid_argument naming the series, and nothing changes.
    void add_histogram(std::string_view name, const exp_histogram& h) {
        auto it = histograms_.find(name);
        if (it == histograms_.end()) {
            histograms_.emplace(std::string(name), h);
            return;
        }
        exp_histogram& mine = it->second;
        const histogram_layout& a = mine.layout();
        const histogram_layout& b = h.layout();
        if (a.min_exponent() != b.min_exponent() || a.max_exponent() != b.max_exponent()) {
            detail::throw_invalid_argument("canarygate::arm_snapshot: histogram '" +
                                           std::string(name) + "' ranges differ (" + a.describe() +
                                           " vs " + b.describe() + ")");
        }
        if (a.scale() > b.scale()) mine = mine.downscale(b.scale());
        if (mine.layout().scale() < b.scale()) {
            mine.merge(h.downscale(mine.layout().scale()));
        } else {
            mine.merge(h);
        }
    }

    /// Adds every series of `other` (same arm and model version required;
    /// throws std::invalid_argument otherwise). Strong guarantee: on any error
    /// `*this` is unchanged.
    void merge(const arm_snapshot& other) {
        require_same_arm(other, "merge");
        arm_snapshot result = *this;
        for (const auto& [name, value] : other.counters_) result.add_counter(name, value);
        for (const auto& [name, h] : other.histograms_) result.add_histogram(name, h);
        *this = std::move(result);
    }

    /// Removes `earlier` (an earlier cumulative snapshot of the same arm), so
    /// that `*this` holds only what happened in between. Exact. Throws
    /// std::invalid_argument, leaving `*this` unchanged, when the arms
    /// differ, a counter or histogram bucket would go negative, or a
    /// histogram layout differs.
    void subtract(const arm_snapshot& earlier) {
        require_same_arm(earlier, "subtract");
        arm_snapshot result = *this;
        for (const auto& [name, value] : earlier.counters_) {
            auto it = result.counters_.find(name);
            const wide_uint have = it == result.counters_.end() ? wide_uint{} : it->second;
            if (have < value) {
                detail::throw_invalid_argument(
                    "canarygate::arm_snapshot::subtract: counter '" + name + "' of arm '" + arm_ +
                    "' would go negative (" + have.to_string() + " - " + value.to_string() + ")");
            }
            result.counters_[name] = have - value;
        }
        for (const auto& [name, h] : earlier.histograms_) {
            auto it = result.histograms_.find(name);
            if (it == result.histograms_.end()) {
                if (h.empty() && h.rejected_count() == 0) continue;
                detail::throw_invalid_argument("canarygate::arm_snapshot::subtract: histogram '" +
                                               name + "' of arm '" + arm_ +
                                               "' is missing from the later snapshot");
            }
            it->second.subtract(h);
        }
        *this = std::move(result);
    }

    friend bool operator==(const arm_snapshot&, const arm_snapshot&) = default;

private:
    void require_same_arm(const arm_snapshot& other, const char* operation) const {
        if (other.arm_ != arm_ || other.model_version_ != model_version_) {
            detail::throw_invalid_argument(std::string("canarygate::arm_snapshot::") + operation +
                                           ": arms differ ('" + arm_ + "'@'" + model_version_ +
                                           "' vs '" + other.arm_ + "'@'" + other.model_version_ +
                                           "')");
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
    /// Recorder-wide counters (see class comment).
    [[nodiscard]] const std::map<std::string, wide_uint, std::less<>>& counters() const noexcept {
        return counters_;
    }
    [[nodiscard]] wide_uint counter(std::string_view name) const {
        const auto it = counters_.find(name);
        return it == counters_.end() ? wide_uint{} : it->second;
    }

    /// The arm with this role and model version, created empty if absent.
    arm_snapshot& arm(std::string_view arm, std::string_view model_version = {}) {
        const auto key = [](const arm_snapshot& a) {
            return std::pair<std::string_view, std::string_view>(a.arm(), a.model_version());
        };
        const std::pair<std::string_view, std::string_view> wanted(arm, model_version);
        auto it = std::lower_bound(arms_.begin(), arms_.end(), wanted,
                                   [&](const arm_snapshot& a, const auto& w) { return key(a) < w; });
        if (it == arms_.end() || key(*it) != wanted) {
            it = arms_.insert(it, arm_snapshot(std::string(arm), std::string(model_version)));
        }
        return *it;
    }
    void add_counter(std::string_view name, wide_uint value) {
        auto it = counters_.find(name);
        if (it == counters_.end()) it = counters_.emplace(std::string(name), wide_uint{}).first;
        it->second += value;
    }
    /// Used by decoders to restore a merged snapshot's provenance.
    void set_sources(std::uint64_t sources) noexcept { sources_ = sources; }

    /// Adds another snapshot exactly: arms are matched by (arm, model
    /// version), counters added, histograms added (the finer scale
    /// downscaled), the window becomes the union of both windows and
    /// `sources` adds up. Strong guarantee: on error (histogram ranges that
    /// differ) `*this` is unchanged.
    snapshot& merge(const snapshot& other) {
        snapshot result = *this;
        for (const auto& a : other.arms_) result.arm(a.arm(), a.model_version()).merge(a);
        for (const auto& [name, value] : other.counters_) result.add_counter(name, value);
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
        if (earlier.end_ > end_) {
            detail::throw_invalid_argument(
                "canarygate::snapshot::subtract: the earlier snapshot ends at " +
                std::to_string(earlier.end_) + " ns, after this one (" + std::to_string(end_) +
                " ns)");
        }
        snapshot result = *this;
        for (const auto& a : earlier.arms_) {
            const auto it = std::find_if(result.arms_.begin(), result.arms_.end(), [&](const arm_snapshot& r) {
                return r.arm() == a.arm() && r.model_version() == a.model_version();
            });
            if (it == result.arms_.end()) {
                detail::throw_invalid_argument("canarygate::snapshot::subtract: arm '" + a.arm() +
                                               "'@'" + a.model_version() +
                                               "' is missing from the later snapshot");
            }
            it->subtract(a);
        }
        for (const auto& [name, value] : earlier.counters_) {
            const wide_uint have = result.counter(name);
            if (have < value) {
                detail::throw_invalid_argument("canarygate::snapshot::subtract: counter '" + name +
                                               "' would go negative (" + have.to_string() + " - " +
                                               value.to_string() + ")");
            }
            result.counters_[name] = have - value;
        }
        result.start_ = earlier.end_;
        *this = std::move(result);
        return *this;
    }

    friend bool operator==(const snapshot&, const snapshot&) = default;

private:
    std::int64_t start_ = 0;
    std::int64_t end_ = 0;
    // 0 for a default-constructed snapshot: an empty accumulator whose window
    // is taken from the first snapshot merged into it.
    std::uint64_t sources_ = 0;
    std::vector<arm_snapshot> arms_;
    std::map<std::string, wide_uint, std::less<>> counters_;
};

CANARYGATE_NAMESPACE_END
