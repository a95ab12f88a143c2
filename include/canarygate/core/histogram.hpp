// SPDX-License-Identifier: MIT
/// \file
/// `exp_histogram`: a log-bucket histogram with integer counts, exact merge,
/// exact subtraction and a guaranteed relative error on every quantile.
///
/// Buckets follow the OpenTelemetry exponential histogram (`scale`) and the
/// Prometheus native histogram (`schema`) definition: base b = 2^(2^-scale),
/// bucket i holds (b^i, b^(i+1)] (upper edge inclusive). A layout fixes the
/// scale and the range (2^min_exponent, 2^max_exponent]; zero, values below the
/// range (underflow), above it (overflow) and rejected inputs (NaN, negative,
/// infinite) each have their own counter, so nothing is ever dropped silently.
///
/// Example:
/// \code
///   canarygate::exp_histogram latency;            // integer nanoseconds, scale 5
///   latency.record(std::uint64_t{1'250'000});     // 1.25 ms
///   auto p99 = latency.quantile(0.99);
///   // p99.value is within latency.layout().relative_error() (1.08 %) of the
///   // true P99 when p99.region == canarygate::quantile_region::in_range.
/// \endcode
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/core/detail/bucket_index.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/wide_uint.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// The absolute index i of the bucket (b^i, b^(i+1)], b = 2^(2^-scale), that
/// holds the integer `value` (the OpenTelemetry exponential / Prometheus
/// native histogram index), exact: a bit scan, one table lookup and one
/// comparison against exact 64-bit boundaries, no `log`. Precondition:
/// value > 0 and 0 <= scale <= histogram_layout::max_scale. Wait-free.
[[nodiscard]] CANARYGATE_ALWAYS_INLINE constexpr std::int64_t bucket_index(std::uint64_t value,
                                                                           int scale) noexcept {
    return detail::bucket_index(value, scale);
}

/// Scale and range of an exponential histogram.
///
/// Immutable value. The buckets cover (2^min_exponent, 2^max_exponent] with
/// 2^scale buckets per power of two; the relative error of a quantile estimate
/// is at most (b - 1) / (b + 1), b = 2^(2^-scale): 4.3 % at scale 3, 1.08 % at
/// scale 5, 0.54 % at scale 6.
class histogram_layout {
public:
    /// Largest supported scale (the lookup tables go up to it; Prometheus
    /// native histograms stop at 8 too).
    static constexpr int max_scale = detail::max_table_scale;
    /// Exponents are limited to the normal range of `double`. The widest
    /// layout, scale 8 over the whole range, has 523,520 buckets (4 MiB).
    static constexpr int min_supported_exponent = -1022;
    static constexpr int max_supported_exponent = 1023;

    /// Checks every field; throws std::invalid_argument naming the field and
    /// its value when one is out of range (the message of `problem`).
    constexpr histogram_layout(int scale, int min_exponent, int max_exponent)
        : scale_(scale), min_exponent_(min_exponent), max_exponent_(max_exponent) {
        if (!valid(scale, min_exponent, max_exponent)) {
            detail::throw_invalid_argument("canarygate::histogram_layout: " +
                                           *problem(scale, min_exponent, max_exponent));
        }
        // Only now is the shift by `scale` known to be defined.
        first_index_ = std::int64_t{min_exponent} * (std::int64_t{1} << scale);
        slot_limit_ = (std::int64_t{max_exponent} - min_exponent) * (std::int64_t{1} << scale) + 1;
    }

    [[nodiscard]] constexpr int scale() const noexcept { return scale_; }
    [[nodiscard]] constexpr int min_exponent() const noexcept { return min_exponent_; }
    [[nodiscard]] constexpr int max_exponent() const noexcept { return max_exponent_; }
    /// Buckets inside the range (not counting zero, underflow, overflow).
    [[nodiscard]] constexpr std::size_t bucket_count() const noexcept {
        return static_cast<std::size_t>(slot_limit_ - 1);
    }
    /// Index of the first in-range bucket, (2^min_exponent, 2^min_exponent * b].
    [[nodiscard]] constexpr std::int64_t first_index() const noexcept { return first_index_; }
    /// Index of the last in-range bucket, whose upper edge is 2^max_exponent.
    [[nodiscard]] constexpr std::int64_t last_index() const noexcept {
        return first_index_ + slot_limit_ - 2;
    }
    /// Counter slot of a bucket index in a histogram's array: 0 = underflow,
    /// 1 + (index - first_index()) in range, bucket_count() + 1 = overflow.
    /// Clamping sends out-of-range indices to the edge slots without a branch.
    [[nodiscard]] constexpr std::size_t slot_of(std::int64_t index) const noexcept {
        return static_cast<std::size_t>(
            std::clamp<std::int64_t>(index - first_index_ + 1, 0, slot_limit_));
    }
    /// b = 2^(2^-scale).
    [[nodiscard]] double base() const noexcept { return std::exp2(std::ldexp(1.0, -scale_)); }
    /// Bound on |estimate - true| / true for an in-range quantile: (b-1)/(b+1).
    [[nodiscard]] double relative_error() const noexcept {
        const double b = base();
        return (b - 1.0) / (b + 1.0);
    }
    /// Lower edge of the range: values <= it go to underflow (or zero).
    [[nodiscard]] double min_value() const noexcept { return std::ldexp(1.0, min_exponent_); }
    /// Upper edge of the range: values above it go to overflow.
    [[nodiscard]] double max_value() const noexcept { return std::ldexp(1.0, max_exponent_); }
    /// Exclusive lower edge b^index of the bucket with absolute index `index`.
    [[nodiscard]] double lower_edge(std::int64_t index) const noexcept {
        return std::exp2(std::ldexp(static_cast<double>(index), -scale_));
    }
    /// Inclusive upper edge b^(index+1).
    [[nodiscard]] double upper_edge(std::int64_t index) const noexcept {
        return lower_edge(index + 1);
    }
    /// The same range at a coarser scale (exact: every bucket nests in one
    /// coarser bucket). Throws std::invalid_argument unless
    /// 0 <= new_scale <= scale().
    [[nodiscard]] histogram_layout downscaled(int new_scale) const {
        if (new_scale < 0 || new_scale > scale_) {
            detail::throw_bad_field(
                "canarygate::histogram_layout::downscaled", "new_scale", new_scale,
                "must be in [0, " + std::to_string(scale_) + "] (downscaling only coarsens)");
        }
        return {new_scale, min_exponent_, max_exponent_};
    }

    friend constexpr bool operator==(const histogram_layout&, const histogram_layout&) = default;

    /// Same range (min and max exponent), whatever the scales: what merging
    /// and comparing two histograms need.
    [[nodiscard]] constexpr bool same_range(const histogram_layout& other) const noexcept {
        return min_exponent_ == other.min_exponent_ && max_exponent_ == other.max_exponent_;
    }

    /// "scale 5, (2^16, 2^41]": for error messages and reports.
    [[nodiscard]] std::string describe() const {
        return "scale " + std::to_string(scale_) + ", (2^" + std::to_string(min_exponent_) +
               ", 2^" + std::to_string(max_exponent_) + "]";
    }

    /// True when the three fields make a layout.
    [[nodiscard]] static constexpr bool valid(int scale, int min_exponent,
                                              int max_exponent) noexcept {
        return scale >= 0 && scale <= max_scale && min_exponent >= min_supported_exponent &&
               min_exponent <= max_supported_exponent && max_exponent > min_exponent &&
               max_exponent <= max_supported_exponent;
    }
    /// What is wrong with the fields ("scale = 9 must be in [0, 8]"), or
    /// nullopt when they make a layout: for decoders that report instead of
    /// throwing.
    [[nodiscard]] static std::optional<std::string> problem(int scale, int min_exponent,
                                                            int max_exponent) {
        if (scale < 0 || scale > max_scale) {
            return "scale = " + std::to_string(scale) + " must be in [0, " +
                   std::to_string(max_scale) + "]";
        }
        if (min_exponent < min_supported_exponent || min_exponent > max_supported_exponent) {
            return "min_exponent = " + std::to_string(min_exponent) + " must be in [-1022, 1023]";
        }
        if (max_exponent <= min_exponent || max_exponent > max_supported_exponent) {
            return "max_exponent = " + std::to_string(max_exponent) +
                   " must be greater than min_exponent (" + std::to_string(min_exponent) +
                   ") and at most 1023";
        }
        return std::nullopt;
    }

private:
    int scale_;
    int min_exponent_;
    int max_exponent_;
    // Derived from the three above, kept because record() uses them on every
    // call: the first in-range index and the overflow slot's position.
    std::int64_t first_index_ = 0;
    std::int64_t slot_limit_ = 0;
};

/// Default for latency in integer nanoseconds: (65.5 µs, 36.6 min] at 1.08 %
/// relative error, 800 buckets.
inline constexpr histogram_layout latency_ns_layout{5, 16, 41};
/// Default for token counts (output length): (1, 2^20] tokens at 2.17 %
/// relative error; a single token lands in underflow = (0, 1], exactly 1.
inline constexpr histogram_layout tokens_layout{4, 0, 20};

/// Where a quantile fell.
enum class quantile_region {
    empty,      ///< no values recorded; the estimate is NaN
    zero,       ///< the quantile is exactly 0
    underflow,  ///< in (0, min_value]; only that interval is known
    in_range,   ///< within relative_error() of the estimate
    overflow,   ///< above max_value; only the lower bound is known
};

/// A quantile estimate and what is known about the true quantile.
struct quantile_estimate {
    /// The estimate: the bucket's geometric midpoint 2 b^(i+1) / (b+1) in
    /// range, 0 for zero, min_value() for underflow, max_value() for overflow,
    /// NaN when empty.
    double value;
    /// The true quantile lies in (lower, upper] (both 0 in the zero region).
    double lower;
    double upper;
    quantile_region region;

    /// True when `value` carries the layout's relative-error guarantee (or is exact).
    [[nodiscard]] constexpr bool bounded() const noexcept {
        return region == quantile_region::in_range || region == quantile_region::zero;
    }
};

/// Bounds on how many recorded values are <= x.
struct rank_bounds {
    std::uint64_t lower;
    std::uint64_t upper;
};

/// Where a value of a given rank lies (see basic_exp_histogram::locate_rank):
/// its region and, for quantile_region::in_range, its bucket's absolute index.
struct rank_location {
    quantile_region region;
    std::int64_t bucket;
};

/// Log-bucket histogram over nonnegative values with integer counts.
///
/// A value type: copyable, movable, comparable with `==`. It owns one array
/// of bucket_count() + 2 counters, allocated once at construction with
/// `Allocator`; recording never allocates. Not thread-safe (the recorder
/// shards give one writer per thread and merge into this type).
///
/// Counts are 64-bit. The hot path (record(), the add_ functions) wraps past
/// 2^64 - 1 like an unsigned integer and never throws; merge(),
/// merge_coarsening() and downscale() are exact or refuse: a counter or the
/// total count() that would pass 2^64 - 1 throws std::invalid_argument naming
/// it and both values, and nothing changes.
///
/// \tparam Allocator allocator of std::uint64_t used for the counters.
template <class Allocator = std::allocator<std::uint64_t>>
class basic_exp_histogram {
public:
    using allocator_type = Allocator;

    /// An empty histogram with the default latency layout (nanoseconds).
    basic_exp_histogram() : basic_exp_histogram(latency_ns_layout) {}
    /// An empty histogram; allocates bucket_count() + 2 counters once.
    explicit basic_exp_histogram(histogram_layout layout, const Allocator& allocator = Allocator())
        : layout_(layout), slots_(layout.bucket_count() + 2, 0, allocator) {}

    [[nodiscard]] const histogram_layout& layout() const noexcept { return layout_; }
    [[nodiscard]] allocator_type get_allocator() const { return slots_.get_allocator(); }

    /// Records `count` copies of an integer value. Wait-free, no allocation.
    void record(std::uint64_t value, std::uint64_t count = 1) noexcept {
        if (value == 0) {
            zero_ += count;
            return;
        }
        slots_[slot_of(detail::bucket_index(value, layout_.scale()))] += count;
    }

    /// Records `count` copies of a floating-point value. NaN, negative values
    /// and infinities are counted in rejected_count() and return false;
    /// -0.0 counts as zero. Wait-free, no allocation.
    bool record(double value, std::uint64_t count = 1) noexcept {
        if (!(value >= 0.0) || value == std::numeric_limits<double>::infinity()) {
            rejected_ += count;
            return false;
        }
        if (value == 0.0) {
            zero_ += count;
        } else if (value < std::numeric_limits<double>::min()) {
            // Subnormal: below every supported range (min_exponent >= -1022).
            slots_.front() += count;
        } else {
            slots_[slot_of(detail::bucket_index_normal(value, layout_.scale()))] += count;
        }
        return true;
    }

    /// Adds `count` to the bucket with absolute index `index` (as produced by
    /// the recorder's shards). Indices outside the range go to under/overflow.
    void add_to_bucket(std::int64_t index, std::uint64_t count) noexcept {
        slots_[slot_of(index)] += count;
    }
    void add_zero(std::uint64_t count) noexcept { zero_ += count; }
    // The slots are never empty (bucket_count() + 2 of them); the test only
    // tells GCC so, which otherwise warns of a null dereference
    // (-Wnull-dereference) where these inline into a decoder.
    void add_underflow(std::uint64_t count) noexcept {
        if (!slots_.empty()) slots_.front() += count;
    }
    void add_overflow(std::uint64_t count) noexcept {
        if (!slots_.empty()) slots_.back() += count;
    }
    void add_rejected(std::uint64_t count) noexcept { rejected_ += count; }

    /// Number of accepted values: zero + underflow + buckets + overflow. O(buckets).
    [[nodiscard]] std::uint64_t count() const noexcept {
        std::uint64_t total = zero_;
        for (const std::uint64_t c : slots_) total += c;
        return total;
    }
    [[nodiscard]] bool empty() const noexcept { return count() == 0; }
    [[nodiscard]] std::uint64_t zero_count() const noexcept { return zero_; }
    [[nodiscard]] std::uint64_t underflow_count() const noexcept { return slots_.front(); }
    [[nodiscard]] std::uint64_t overflow_count() const noexcept { return slots_.back(); }
    /// Inputs refused by record(double): NaN, negative, infinite.
    [[nodiscard]] std::uint64_t rejected_count() const noexcept { return rejected_; }
    /// Counts of the in-range buckets; element k has absolute index
    /// layout().first_index() + k.
    [[nodiscard]] std::span<const std::uint64_t> buckets() const noexcept {
        return {slots_.data() + 1, layout_.bucket_count()};
    }

    /// Estimate of the q-quantile, q in [0, 1]: the value of rank
    /// floor(q (n - 1)) (0-based) among the n recorded values, i.e. the lower
    /// empirical quantile. In range, |value - true| <= relative_error() * true.
    /// Throws std::invalid_argument when q is NaN or outside [0, 1]. O(buckets).
    [[nodiscard]] quantile_estimate quantile(double q) const {
        if (!(q >= 0.0 && q <= 1.0)) {
            detail::throw_bad_field("canarygate::exp_histogram::quantile", "q", q,
                                    "must be in [0, 1]");
        }
        const std::uint64_t n = count();
        if (n == 0) {
            const double nan = std::numeric_limits<double>::quiet_NaN();
            return {nan, nan, nan, quantile_region::empty};
        }
        // floor(q (n-1)) in long double: exact for every n below 2^64 at the
        // precision q itself carries.
        const auto rank = static_cast<std::uint64_t>(
            std::floor(static_cast<long double>(q) * static_cast<long double>(n - 1)));
        if (rank < zero_) return {0.0, 0.0, 0.0, quantile_region::zero};
        std::uint64_t seen = zero_;
        std::size_t slot = 0;
        for (; slot + 1 < slots_.size(); ++slot) {
            seen += slots_[slot];
            if (seen > rank) break;
        }
        return estimate_for_slot(slot);
    }

    /// Bounds on the number of recorded values <= x (exact when x is 0, a
    /// power of two, or outside every non-empty bucket). Throws
    /// std::invalid_argument for NaN. O(buckets).
    [[nodiscard]] rank_bounds rank(double x) const {
        if (std::isnan(x)) {
            detail::throw_invalid_argument("canarygate::exp_histogram::rank: x is NaN");
        }
        if (x < 0.0) return {0, 0};
        if (x == 0.0) return {zero_, zero_};
        if (x == std::numeric_limits<double>::infinity()) {
            const std::uint64_t n = count();
            return {n, n};
        }
        const std::size_t slot = x < std::numeric_limits<double>::min()
                                     ? 0
                                     : slot_of(detail::bucket_index_normal(x, layout_.scale()));
        std::uint64_t below = zero_;
        for (std::size_t s = 0; s < slot; ++s) below += slots_[s];
        // Every value in x's own slot is <= x exactly when x is that slot's
        // inclusive upper edge; only powers of two can be edges.
        const bool on_upper_edge =
            slot + 1 < slots_.size() && is_power_of_two(x) && x == slot_upper_edge(slot);
        if (on_upper_edge) return {below + slots_[slot], below + slots_[slot]};
        return {below, below + slots_[slot]};
    }

    /// Interval (lower, upper] holding the smallest recorded value; empty when
    /// nothing was recorded. {0, 0} when a zero was recorded.
    [[nodiscard]] std::optional<std::pair<double, double>> min_bound() const {
        if (zero_ > 0) return std::pair{0.0, 0.0};
        for (std::size_t s = 0; s < slots_.size(); ++s) {
            if (slots_[s] != 0) return slot_interval(s);
        }
        return std::nullopt;
    }
    /// Interval (lower, upper] holding the largest recorded value.
    [[nodiscard]] std::optional<std::pair<double, double>> max_bound() const {
        for (std::size_t s = slots_.size(); s-- > 0;) {
            if (slots_[s] != 0) return slot_interval(s);
        }
        if (zero_ > 0) return std::pair{0.0, 0.0};
        return std::nullopt;
    }

    /// Where the r-th smallest recorded value (1-based rank) lies: its
    /// region and, in range, the absolute index of its bucket. The gates
    /// read confidence bounds off a histogram with it. Precondition:
    /// 1 <= rank <= count(). O(buckets).
    [[nodiscard]] rank_location locate_rank(std::uint64_t rank) const noexcept {
        std::uint64_t seen = zero_;
        if (rank <= seen) return {quantile_region::zero, 0};
        for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
            seen += slots_[slot];
            if (rank <= seen) {
                if (slot == 0) return {quantile_region::underflow, 0};
                if (slot + 1 < slots_.size()) return {quantile_region::in_range, slot_index(slot)};
                break;
            }
        }
        return {quantile_region::overflow, 0};
    }

    /// The interval (lower, upper] that holds the r-th smallest recorded
    /// value: {0, 0} for a zero, (0, 2^min] in underflow, (2^max, inf) in
    /// overflow. Precondition: 1 <= rank <= count(). O(buckets).
    [[nodiscard]] std::pair<double, double> interval_at_rank(std::uint64_t rank) const noexcept {
        const rank_location where = locate_rank(rank);
        switch (where.region) {
            case quantile_region::zero:
                return {0.0, 0.0};
            case quantile_region::underflow:
                return slot_interval(0);
            case quantile_region::in_range:
                return {layout_.lower_edge(where.bucket), layout_.upper_edge(where.bucket)};
            default:
                return slot_interval(slots_.size() - 1);
        }
    }

    /// How many recorded values certainly exceed the bucket edge b^edge
    /// (the upper edge of bucket edge - 1): every bucket with index >= edge,
    /// and overflow when edge <= last_index() + 1. Exact for an edge inside
    /// the range; values in underflow are never counted, since whether they
    /// exceed an edge below 2^min is unknown (a lower bound, never an
    /// overcount). O(buckets).
    [[nodiscard]] std::uint64_t count_above_edge(std::int64_t edge) const noexcept {
        std::uint64_t above = 0;
        const std::int64_t first = layout_.first_index();
        for (std::size_t k = 0; k < layout_.bucket_count(); ++k) {
            if (first + static_cast<std::int64_t>(k) >= edge) above += slots_[k + 1];
        }
        if (edge <= layout_.last_index() + 1) above += slots_.back();
        return above;
    }

    /// Why merge(other) would refuse ("bucket (1.02e+06, 1.04e+06] would
    /// overflow (9223372036854775808 + 9223372036854775808)", "the total count
    /// would overflow (...)"), or nullopt when it can: the layouts differ, or
    /// a counter (bucket, zero, underflow, overflow, rejected) or the total
    /// count() would pass 2^64 - 1. O(buckets); allocates only to describe a
    /// refusal.
    [[nodiscard]] std::optional<std::string> merge_refusal(const basic_exp_histogram& other) const {
        if (!(layout_ == other.layout_)) return layout_mismatch(other);
        if (!sum_overflows(other)) return std::nullopt;
        return describe_overflow(other);
    }

    /// Adds every count of `other`. Exact: throws std::invalid_argument,
    /// leaving `*this` unchanged, when the layouts differ (downscale the finer
    /// one first) or a counter or the total count would pass 2^64 - 1 (see
    /// merge_refusal). O(buckets): one carry check per counter, then the sum.
    basic_exp_histogram& merge(const basic_exp_histogram& other) {
        if (const auto why = merge_refusal(other)) {
            detail::throw_invalid_argument("canarygate::exp_histogram::merge: " + *why);
        }
        add_counts(other);
        return *this;
    }
    basic_exp_histogram& operator+=(const basic_exp_histogram& other) { return merge(other); }

    /// Why merge_coarsening(other) would refuse, or nullopt when it can: the
    /// ranges differ, or a count of the sum at the coarser of the two scales
    /// would pass 2^64 - 1. O(buckets); allocates the downscaled copy when the
    /// scales differ.
    [[nodiscard]] std::optional<std::string> merge_coarsening_refusal(
        const basic_exp_histogram& other) const {
        if (!layout_.same_range(other.layout_)) return ranges_differ(other);
        const int scale = std::min(layout_.scale(), other.layout_.scale());
        if (layout_.scale() == other.layout_.scale()) return merge_refusal(other);
        const bool mine_finer = layout_.scale() > scale;
        const basic_exp_histogram& finer = mine_finer ? *this : other;
        basic_exp_histogram coarse(finer.layout_.downscaled(scale), finer.get_allocator());
        if (auto why = finer.coarsen_into(coarse)) return why;
        return mine_finer ? coarse.merge_refusal(other) : merge_refusal(coarse);
    }

    /// Adds `other` after bringing both to the coarser of their two scales
    /// (downscaling is exact, so the sum is too; the result keeps the coarser
    /// scale). Throws std::invalid_argument, leaving `*this` unchanged (scale
    /// included), when the ranges differ or a count would pass 2^64 - 1 (see
    /// merge_coarsening_refusal).
    basic_exp_histogram& merge_coarsening(const basic_exp_histogram& other) {
        if (layout_.scale() == other.layout_.scale() || !layout_.same_range(other.layout_)) {
            if (const auto why = merge_coarsening_refusal(other)) {
                detail::throw_invalid_argument("canarygate::exp_histogram::merge_coarsening: " +
                                               *why);
            }
            add_counts(other);
            return *this;
        }
        // The scales differ: downscale the finer side once, check the sum,
        // then commit.
        const int scale = std::min(layout_.scale(), other.layout_.scale());
        const auto refuse = [](const std::string& why) {
            detail::throw_invalid_argument("canarygate::exp_histogram::merge_coarsening: " + why);
        };
        if (layout_.scale() > scale) {
            basic_exp_histogram coarse(layout_.downscaled(scale), get_allocator());
            if (const auto why = coarsen_into(coarse)) refuse(*why);
            if (const auto why = coarse.merge_refusal(other)) refuse(*why);
            coarse.add_counts(other);
            *this = std::move(coarse);
            return *this;
        }
        basic_exp_histogram coarse(other.layout_.downscaled(scale), get_allocator());
        if (const auto why = other.coarsen_into(coarse)) refuse(*why);
        if (const auto why = merge_refusal(coarse)) refuse(*why);
        add_counts(coarse);
        return *this;
    }

    /// Why subtract(other) would refuse ("bucket (1.02e+06, 1.04e+06] would
    /// go negative (3 - 4)"), or nullopt when it can. O(buckets).
    [[nodiscard]] std::optional<std::string> subtract_refusal(
        const basic_exp_histogram& other) const {
        if (!(layout_ == other.layout_)) return layout_mismatch(other);
        auto refuse = [](const std::string& what, std::uint64_t have, std::uint64_t take) {
            return what + " would go negative (" + std::to_string(have) + " - " +
                   std::to_string(take) + ")";
        };
        for (std::size_t s = 0; s < slots_.size(); ++s) {
            if (other.slots_[s] > slots_[s])
                return refuse(describe_slot(s), slots_[s], other.slots_[s]);
        }
        if (other.zero_ > zero_) return refuse("the zero count", zero_, other.zero_);
        if (other.rejected_ > rejected_)
            return refuse("the rejected count", rejected_, other.rejected_);
        return std::nullopt;
    }

    /// Removes every count of `other` (sliding windows: total - expired slot).
    /// Exact. Throws std::invalid_argument, leaving `*this` unchanged, when the
    /// layouts differ or any counter would go negative (see subtract_refusal).
    basic_exp_histogram& subtract(const basic_exp_histogram& other) {
        if (const auto why = subtract_refusal(other)) {
            detail::throw_invalid_argument("canarygate::exp_histogram::subtract: " + *why);
        }
        for (std::size_t s = 0; s < slots_.size(); ++s) slots_[s] -= other.slots_[s];
        zero_ -= other.zero_;
        rejected_ -= other.rejected_;
        return *this;
    }
    basic_exp_histogram& operator-=(const basic_exp_histogram& other) { return subtract(other); }

    /// Why subtract_coarsening(other) would refuse, or nullopt when it can:
    /// the ranges differ, or a count of the two at the coarser of their
    /// scales would go negative.
    [[nodiscard]] std::optional<std::string> subtract_coarsening_refusal(
        const basic_exp_histogram& other) const {
        if (!layout_.same_range(other.layout_)) return ranges_differ(other);
        const int scale = std::min(layout_.scale(), other.layout_.scale());
        if (layout_.scale() == scale && other.layout_.scale() == scale)
            return subtract_refusal(other);
        return downscale(scale).subtract_refusal(other.downscale(scale));
    }

    /// subtract() after bringing both to the coarser of their scales, as
    /// merge_coarsening() does for a sum: a cumulative histogram that was
    /// coarsened since `other` was taken still gives the exact difference, at
    /// its coarser scale. Throws std::invalid_argument, leaving `*this`
    /// unchanged, when subtract_coarsening_refusal() says why.
    basic_exp_histogram& subtract_coarsening(const basic_exp_histogram& other) {
        if (const auto why = subtract_coarsening_refusal(other)) {
            detail::throw_invalid_argument("canarygate::exp_histogram::subtract_coarsening: " +
                                           *why);
        }
        const int scale = std::min(layout_.scale(), other.layout_.scale());
        if (layout_.scale() > scale) *this = downscale(scale);
        if (other.layout_.scale() > scale) return subtract(other.downscale(scale));
        return subtract(other);
    }

    /// The same counts at a coarser scale: bucket i goes to i >> (scale -
    /// new_scale). Exact; the result keeps the (coarser) error guarantee.
    /// Throws std::invalid_argument unless 0 <= new_scale <= scale, or when a
    /// coarser bucket would pass 2^64 - 1 (only when the total count already
    /// does: record() and the add_ functions wrap like unsigned integers).
    [[nodiscard]] basic_exp_histogram downscale(int new_scale) const {
        basic_exp_histogram result(layout_.downscaled(new_scale), get_allocator());
        if (const auto why = coarsen_into(result)) {
            detail::throw_invalid_argument("canarygate::exp_histogram::downscale: " + *why);
        }
        return result;
    }

    /// Resets every counter; keeps the layout and the storage.
    void clear() noexcept {
        std::fill(slots_.begin(), slots_.end(), std::uint64_t{0});
        zero_ = 0;
        rejected_ = 0;
    }

    /// Same layout and identical counters (rejected included).
    friend bool operator==(const basic_exp_histogram& a, const basic_exp_histogram& b) {
        return a.layout_ == b.layout_ && a.zero_ == b.zero_ && a.rejected_ == b.rejected_ &&
               a.slots_ == b.slots_;
    }

private:
    // slots_[0] = underflow, slots_[1 + k] = bucket first_index() + k,
    // slots_.back() = overflow (see histogram_layout::slot_of).
    [[nodiscard]] std::size_t slot_of(std::int64_t index) const noexcept {
        return layout_.slot_of(index);
    }

    [[nodiscard]] std::int64_t slot_index(std::size_t slot) const noexcept {
        return layout_.first_index() + static_cast<std::int64_t>(slot) - 1;
    }

    [[nodiscard]] double slot_upper_edge(std::size_t slot) const noexcept {
        if (slot == 0) return layout_.min_value();
        if (slot + 1 == slots_.size()) return std::numeric_limits<double>::infinity();
        return layout_.upper_edge(slot_index(slot));
    }

    [[nodiscard]] std::pair<double, double> slot_interval(std::size_t slot) const noexcept {
        if (slot == 0) return {0.0, layout_.min_value()};
        if (slot + 1 == slots_.size()) {
            return {layout_.max_value(), std::numeric_limits<double>::infinity()};
        }
        return {layout_.lower_edge(slot_index(slot)), layout_.upper_edge(slot_index(slot))};
    }

    [[nodiscard]] quantile_estimate estimate_for_slot(std::size_t slot) const noexcept {
        const auto [lower, upper] = slot_interval(slot);
        if (slot == 0) return {upper, lower, upper, quantile_region::underflow};
        if (slot + 1 == slots_.size()) return {lower, lower, upper, quantile_region::overflow};
        // Geometric midpoint 2 b^(i+1) / (b+1): the worst relative error over
        // (b^i, b^(i+1)] is then (b-1)/(b+1) at both ends.
        return {2.0 * upper / (layout_.base() + 1.0), lower, upper, quantile_region::in_range};
    }

    static bool is_power_of_two(double x) noexcept {
        int exponent = 0;
        return std::frexp(x, &exponent) == 0.5;
    }

    // Adds `other`'s counters; the caller checked merge_refusal(other).
    void add_counts(const basic_exp_histogram& other) noexcept {
        for (std::size_t s = 0; s < slots_.size(); ++s) slots_[s] += other.slots_[s];
        zero_ += other.zero_;
        rejected_ += other.rejected_;
    }

    // True when adding `other` (same layout) would carry out of a counter or
    // out of the total count. The counters are nonnegative, so a total that
    // fits means every counter fits; the per-slot carry catches a slot that
    // wraps (the running total would then look small). Branch-free per slot.
    [[nodiscard]] bool sum_overflows(const basic_exp_histogram& other) const noexcept {
        std::uint64_t total = zero_ + other.zero_;
        std::uint64_t carry = static_cast<std::uint64_t>(total < zero_);
        for (std::size_t s = 0; s < slots_.size(); ++s) {
            const std::uint64_t slot = slots_[s] + other.slots_[s];
            const std::uint64_t next = total + slot;
            carry |= static_cast<std::uint64_t>(slot < slots_[s]) |
                     static_cast<std::uint64_t>(next < total);
            total = next;
        }
        const std::uint64_t rejected = rejected_ + other.rejected_;
        carry |= static_cast<std::uint64_t>(rejected < rejected_);
        return carry != 0;
    }

    // The refusal message once sum_overflows(other) said yes: the first
    // counter that overflows, else the total count.
    [[nodiscard]] std::string describe_overflow(const basic_exp_histogram& other) const {
        for (std::size_t s = 0; s < slots_.size(); ++s) {
            if (slots_[s] + other.slots_[s] < slots_[s])
                return overflow_text(describe_slot(s), slots_[s], other.slots_[s]);
        }
        if (zero_ + other.zero_ < zero_) return overflow_text("the zero count", zero_, other.zero_);
        if (rejected_ + other.rejected_ < rejected_)
            return overflow_text("the rejected count", rejected_, other.rejected_);
        return overflow_text("the total count", wide_total(), other.wide_total());
    }

    // zero + every slot, exactly (even when count() has wrapped).
    [[nodiscard]] wide_uint wide_total() const noexcept {
        wide_uint total = zero_;
        for (const std::uint64_t c : slots_) total += c;
        return total;
    }

    [[nodiscard]] static std::string overflow_text(const std::string& what, wide_uint have,
                                                   wide_uint add) {
        return what + " would overflow (" + have.to_string() + " + " + add.to_string() + ")";
    }

    // Fills `coarse` (empty, same range, scale <= ours) with our counts;
    // returns why not when a coarser bucket would pass 2^64 - 1 (`coarse` is
    // then partly filled: callers discard it).
    [[nodiscard]] std::optional<std::string> coarsen_into(basic_exp_histogram& coarse) const {
        const int shift = layout_.scale() - coarse.layout_.scale();
        const std::int64_t first = layout_.first_index();
        std::uint64_t carry = 0;
        for (std::size_t k = 0; k < layout_.bucket_count(); ++k) {
            // Arithmetic shift (C++20) floors negative indices too.
            std::uint64_t& to =
                coarse.slots_[coarse.slot_of((first + static_cast<std::int64_t>(k)) >> shift)];
            const std::uint64_t from = slots_[k + 1];
            carry |= static_cast<std::uint64_t>(to + from < from);
            to += from;
        }
        if (carry != 0) {
            // Slow path: find the first coarse bucket that overflows.
            std::fill(coarse.slots_.begin(), coarse.slots_.end(), std::uint64_t{0});
            for (std::size_t k = 0; k < layout_.bucket_count(); ++k) {
                const std::size_t slot =
                    coarse.slot_of((first + static_cast<std::int64_t>(k)) >> shift);
                const std::uint64_t from = slots_[k + 1];
                if (coarse.slots_[slot] + from < from) {
                    return overflow_text(coarse.describe_slot(slot), coarse.slots_[slot], from);
                }
                coarse.slots_[slot] += from;
            }
        }
        coarse.slots_.front() = slots_.front();
        coarse.slots_.back() = slots_.back();
        coarse.zero_ = zero_;
        coarse.rejected_ = rejected_;
        return std::nullopt;
    }

    [[nodiscard]] std::string ranges_differ(const basic_exp_histogram& other) const {
        return "ranges differ (" + layout_.describe() + " vs " + other.layout_.describe() + ")";
    }

    [[nodiscard]] std::string layout_mismatch(const basic_exp_histogram& other) const {
        return "layouts differ (" + layout_.describe() + " vs " + other.layout_.describe() +
               "); downscale the finer histogram first";
    }

    // "underflow (0, 65536]", "bucket (1.02e+06, 1.04e+06]", "overflow (2.2e+12, inf)".
    [[nodiscard]] std::string describe_slot(std::size_t slot) const {
        const auto [lower, upper] = slot_interval(slot);
        const char* kind = slot == 0                   ? "underflow"
                           : slot + 1 == slots_.size() ? "overflow"
                                                       : "bucket";
        char text[96];
        std::snprintf(text, sizeof text, "%s (%.6g, %.6g%s", kind, lower, upper,
                      slot + 1 == slots_.size() ? ")" : "]");
        return text;
    }

    histogram_layout layout_;
    std::vector<std::uint64_t, Allocator> slots_;
    std::uint64_t zero_ = 0;
    std::uint64_t rejected_ = 0;
};

/// The histogram with the standard allocator.
using exp_histogram = basic_exp_histogram<>;

/// Brings two histograms of the same range to the coarser of their scales
/// (exact). Throws std::invalid_argument when the ranges differ.
template <class Allocator>
void align_scales(basic_exp_histogram<Allocator>& a, basic_exp_histogram<Allocator>& b) {
    if (!a.layout().same_range(b.layout())) {
        detail::throw_invalid_argument("canarygate::align_scales: ranges differ (" +
                                       a.layout().describe() + " vs " + b.layout().describe() +
                                       ")");
    }
    if (a.layout().scale() > b.layout().scale()) a = a.downscale(b.layout().scale());
    if (b.layout().scale() > a.layout().scale()) b = b.downscale(a.layout().scale());
}

CANARYGATE_NAMESPACE_END
