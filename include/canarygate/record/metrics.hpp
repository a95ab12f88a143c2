// SPDX-License-Identifier: MIT
/// \file
/// Metrics: what the recorder counts for each request, as templated
/// accumulators that plug together.
///
/// A *metric* is a type that owns a fixed number of `std::uint64_t` counters
/// per arm and says how a record changes them and how they become named
/// series through a `series_output` (an `arm_snapshot` in practice).
/// Because every metric's state is plain u64 counters, the recorder's
/// shards, the collector's deltas, time slots, windows and merges are
/// generic: adding a metric never touches them.
///
/// A metric `M` for records of type `Record` has (all static; only
/// `export_to` and one of the two `record` hooks are required):
///
/// - `scalar_count`: counters for sums and counts, accumulated as `wide_uint`
///   (128 bits) in slots, windows and totals.
/// - `array_count`: counters for histogram buckets, accumulated as u64 (they
///   count records, which never reach 2^64).
/// - `reasons`: `std::array<std::string_view, N>`, why a record may be
///   rejected; exported as "rejected.<reason>".
/// - `validate<Traits>(const Record&) noexcept -> reject_mask`: bit i set when
///   the record fails `reasons[i]` (a non-template `validate(const Record&)`
///   works too).
/// - `record(const Sink& c, const Record&) noexcept`: adds to the counters,
///   `c.add(i, d)` for scalar i, `c.add_array(j, d)` for array counter j.
/// - `validate_feedback<Traits>(const feedback_event&)` and
///   `record_feedback(const Sink&, const feedback_event&)`: the same for late
///   user feedback.
/// - `export_to(const metric_values&, series_output&)`: writes the metric's
///   series from its accumulated counters.
///
/// The rules that keep the arithmetic exact: a record adds at most 2^32 + 1 to
/// each counter (split larger values into 32-bit limbs with `add_split` and
/// `add_square`, recombined by `metric_values::split_sum` and `square_sum`),
/// and `record` only adds (the sink is single-writer; it cannot subtract or
/// take a maximum). Then the collector's modulo-2^64 deltas are exact while
/// fewer than 2^31 records (all threads together) arrive between two
/// collector ticks: 2 billion per tick, orders of magnitude above any
/// inference server's request rate.
///
/// Example: a tool-call counter reading a field of the user's own record type.
/// \code
///   struct my_request : canarygate::request_outcome { std::uint32_t tool_calls = 0; };
///
///   struct tool_calls_metric {
///       static constexpr std::size_t scalar_count = 1;
///       static constexpr std::array<std::string_view, 1> reasons = {"tool_calls_absurd"};
///       static constexpr canarygate::reject_mask validate(const my_request& r) noexcept {
///           return r.tool_calls > 1000 ? 1 : 0;
///       }
///       template <class Sink>
///       static void record(const Sink& c, const my_request& r) noexcept {
///           c.add(0, r.tool_calls);
///       }
///       static void export_to(const canarygate::metric_values& v,
///                             canarygate::series_output& out) {
///           out.add_counter("tool_calls.sum", v.scalar(0));
///       }
///   };
///   using my_metrics = canarygate::extend_metrics<canarygate::default_metrics, tool_calls_metric>;
///   canarygate::basic_recorder<my_request, my_metrics> recorder;
/// \endcode
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "canarygate/core/config.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/core/wide_uint.hpp"
#include "canarygate/record/outcome.hpp"
#include "canarygate/record/series.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Bit i set: the record fails reason i of the metric that returned it.
using reject_mask = std::uint64_t;

// --- Durations given as double seconds ------------------------------------------

/// Values `ns_from_seconds` returns for inputs it cannot convert. They lie
/// above every latency limit, so the recorder rejects them, each with its own
/// reason ("latency_nan", "ttft_negative", ...). `request_outcome::absent`
/// (the largest u64) is not among them.
namespace duration_sentinel {
inline constexpr std::uint64_t nan = request_outcome::absent - 1;
inline constexpr std::uint64_t negative = request_outcome::absent - 2;
inline constexpr std::uint64_t infinite = request_outcome::absent - 3;
/// Finite but at least 2^63 ns (292 years): rejected as absurd.
inline constexpr std::uint64_t too_large = request_outcome::absent - 4;
}  // namespace duration_sentinel

/// Seconds (as servers and OpenTelemetry report them) to integer
/// nanoseconds, rounded to nearest. NaN, negative values (but -0.0),
/// infinities and values of 2^63 ns or more become `duration_sentinel`
/// values, which the recorder rejects and counts per reason. Wait-free.
///
/// \code
///   request_outcome r;
///   r.latency_ns = canarygate::ns_from_seconds(0.734);   // 734'000'000
///   r.ttft_ns = canarygate::ns_from_seconds(ttft_s);     // NaN -> rejected as "ttft_nan"
/// \endcode
[[nodiscard]] constexpr std::uint64_t ns_from_seconds(double seconds) noexcept {
    if (seconds != seconds) return duration_sentinel::nan;
    if (seconds < 0.0) return duration_sentinel::negative;
    if (seconds == std::numeric_limits<double>::infinity()) return duration_sentinel::infinite;
    const double ns = seconds * 1e9 + 0.5;
    if (ns >= 9223372036854775808.0) return duration_sentinel::too_large;  // 2^63
    return static_cast<std::uint64_t>(ns);
}

// --- Building blocks for metrics ---------------------------------------------------

/// Counters a histogram with `layout` takes in a metric's array counters:
/// zero, underflow, every bucket, overflow.
[[nodiscard]] constexpr std::size_t histogram_counter_count(
    const histogram_layout& layout) noexcept {
    return layout.bucket_count() + 3;
}

/// Array counter (relative to the histogram's first) that counts `value`:
/// 0 for zero, 1 for underflow, 2 + k for bucket first_index() + k, the last
/// for overflow. Same buckets as `exp_histogram::record(std::uint64_t)`.
/// Wait-free, branch-free; with a constant layout everything but two table
/// loads folds into constants.
[[nodiscard]] CANARYGATE_ALWAYS_INLINE constexpr std::size_t histogram_counter_slot(
    const histogram_layout& layout, std::uint64_t value) noexcept {
    // value | (value == 0) keeps the index's precondition (value > 0); the
    // select below discards that lane for zero.
    const std::uint64_t nonzero = static_cast<std::uint64_t>(value != 0);
    const std::int64_t index = canarygate::bucket_index(value | (nonzero ^ 1), layout.scale());
    // histogram_layout::slot_of, inline, shifted by one for the zero counter:
    // 1 underflow, 2 + k bucket k, bucket_count + 2 overflow.
    const std::int64_t last = static_cast<std::int64_t>(layout.bucket_count()) + 2;
    std::int64_t slot = index - layout.first_index() + 2;
    slot = slot < 1 ? 1 : slot;
    slot = slot > last ? last : slot;
    // Zero: the mask clears the slot without a branch.
    return static_cast<std::size_t>(slot) & static_cast<std::size_t>(0 - nonzero);
}

/// Adds `value` as two 32-bit limbs to scalar counters `first` and
/// `first + 1`, so each advances by less than 2^32. Read back with
/// `metric_values::split_sum(first)`.
template <class Sink>
CANARYGATE_ALWAYS_INLINE void add_split(const Sink& sink, std::size_t first,
                                        std::uint64_t value) noexcept {
    sink.add(first, value & 0xffffffffU);
    sink.add(first + 1, value >> 32);
}

/// Adds value^2 (value < 2^48, so value^2 < 2^96) as three 32-bit limbs to
/// scalar counters `first` .. `first + 2`, each advancing by at most
/// 2^32 + 1, without 128-bit arithmetic. Read back with
/// `metric_values::square_sum(first)`.
template <class Sink>
CANARYGATE_ALWAYS_INLINE void add_square(const Sink& sink, std::size_t first,
                                         std::uint64_t value) noexcept {
    // value = hi 2^32 + lo with hi < 2^16:
    // value^2 = lo^2 + 2 lo hi 2^32 + hi^2 2^64.
    const std::uint64_t lo = value & 0xffffffffU;
    const std::uint64_t hi = value >> 32;
    const std::uint64_t lo_square = lo * lo;                                 // < 2^64
    const std::uint64_t cross = 2 * lo * hi;                                 // < 2^49
    const std::uint64_t middle = (lo_square >> 32) + (cross & 0xffffffffU);  // < 2^33
    sink.add(first, lo_square & 0xffffffffU);
    sink.add(first + 1, middle & 0xffffffffU);
    sink.add(first + 2, (middle >> 32) + (cross >> 32) + hi * hi);  // <= 2^32 + 1
}

namespace detail {
[[nodiscard]] constexpr wide_uint shift_left_32(wide_uint v) noexcept {
    return {(v.high << 32) | (v.low >> 32), v.low << 32};
}
}  // namespace detail

/// One arm's accumulated counters of one metric, as `export_to` sees them:
/// exact `wide_uint` scalars and u64 array counters.
class metric_values {
public:
    constexpr metric_values(std::span<const wide_uint> scalars,
                            std::span<const std::uint64_t> arrays) noexcept
        : scalars_(scalars), arrays_(arrays) {}

    /// Scalar counter i (0 when out of range).
    [[nodiscard]] constexpr wide_uint scalar(std::size_t i) const noexcept {
        return i < scalars_.size() ? scalars_[i] : wide_uint{};
    }
    [[nodiscard]] constexpr std::span<const wide_uint> scalars() const noexcept { return scalars_; }
    [[nodiscard]] constexpr std::span<const std::uint64_t> arrays() const noexcept {
        return arrays_;
    }

    /// The sum written by `add_split(first)`: limb0 + limb1 * 2^32, exact.
    [[nodiscard]] constexpr wide_uint split_sum(std::size_t first) const noexcept {
        return scalar(first) + detail::shift_left_32(scalar(first + 1));
    }
    /// The sum of squares written by `add_square(first)`:
    /// limb0 + limb1 * 2^32 + limb2 * 2^64, exact modulo 2^128.
    [[nodiscard]] constexpr wide_uint square_sum(std::size_t first) const noexcept {
        const wide_uint top = scalar(first + 2);
        return scalar(first) + detail::shift_left_32(scalar(first + 1)) + wide_uint{top.low, 0};
    }

    /// The histogram counted by `histogram_counter_slot` in array counters
    /// [first, first + histogram_counter_count(layout)). Allocates.
    [[nodiscard]] exp_histogram histogram(const histogram_layout& layout,
                                          std::size_t first = 0) const {
        exp_histogram h(layout);
        const std::size_t n = histogram_counter_count(layout);
        if (first + n > arrays_.size()) return h;
        const std::uint64_t* c = arrays_.data() + first;
        h.add_zero(c[0]);
        h.add_underflow(c[1]);
        for (std::size_t k = 0; k + 3 < n; ++k) {
            h.add_to_bucket(layout.first_index() + static_cast<std::int64_t>(k), c[2 + k]);
        }
        h.add_overflow(c[n - 1]);
        return h;
    }

private:
    std::span<const wide_uint> scalars_;
    std::span<const std::uint64_t> arrays_;
};

/// A sink over plain (non-atomic) counters, for one thread that owns them:
/// the single-threaded recording path (window/event_window.hpp) and the
/// benchmarks' floor run the metrics' own code through it. `Scalar` is
/// std::uint64_t (as in a shard: modulo 2^64) or wide_uint (exact for any
/// number of records); array counters are u64.
template <class Scalar>
class basic_plain_sink {
public:
    constexpr basic_plain_sink(Scalar* scalars, std::uint64_t* arrays) noexcept
        : scalars_(scalars), arrays_(arrays) {}
    /// Adds d to scalar counter i.
    CANARYGATE_ALWAYS_INLINE constexpr void add(std::size_t i, std::uint64_t d) const noexcept {
        scalars_[i] += d;
    }
    /// Adds d to array counter i.
    CANARYGATE_ALWAYS_INLINE constexpr void add_array(std::size_t i,
                                                      std::uint64_t d) const noexcept {
        arrays_[i] += d;
    }
    /// The same sink shifted to one metric's counters.
    [[nodiscard]] CANARYGATE_ALWAYS_INLINE constexpr basic_plain_sink offset(
        std::size_t scalar_offset, std::size_t array_offset) const noexcept {
        return {scalars_ + scalar_offset, arrays_ + array_offset};
    }

private:
    Scalar* scalars_;
    std::uint64_t* arrays_;
};

/// Exact plain sink: scalars as wide_uint.
using plain_sink = basic_plain_sink<wide_uint>;

// --- The default metrics -----------------------------------------------------------

/// Default layout for cost in integer nano-USD: (1 nano-USD, 2^40 nano-USD
/// = 1,099 USD] at scale 4 (2.17 % relative error), 640 buckets. The mean
/// comes from the exact sum, not from the buckets.
inline constexpr histogram_layout cost_nano_usd_layout{4, 0, 40};

/// Accepted requests: "requests".
struct requests_metric {
    static constexpr std::size_t scalar_count = 1;
    template <class Sink>
    static void record(const Sink& c, const request_outcome&) noexcept {
        c.add(0, 1);
    }
    static void export_to(const metric_values& v, series_output& out) {
        out.add_counter(series::requests, v.scalar(0));
    }
};

/// One counter per outcome category: "outcome.ok", "outcome.truncated", ...
/// Rejects a category outside the enum ("outcome_invalid").
struct outcome_metric {
    static constexpr std::size_t scalar_count = outcome_count;
    static constexpr std::array<std::string_view, 1> reasons = {"outcome_invalid"};
    CANARYGATE_ALWAYS_INLINE static constexpr reject_mask validate(
        const request_outcome& r) noexcept {
        return static_cast<reject_mask>(static_cast<std::size_t>(r.category) >= outcome_count);
    }
    template <class Sink>
    CANARYGATE_ALWAYS_INLINE static void record(const Sink& c, const request_outcome& r) noexcept {
        c.add(static_cast<std::size_t>(r.category), 1);
    }
    static void export_to(const metric_values& v, series_output& out) {
        std::string name(series::outcome_prefix);
        const std::size_t prefix = name.size();
        for (std::size_t i = 0; i < outcome_count; ++i) {
            name.resize(prefix);
            name += canarygate::name(static_cast<outcome>(i));
            out.add_counter(name, v.scalar(i));
        }
    }
};

namespace detail {
/// Reasons bits 0..3 for a duration: nan, negative, infinite (the
/// ns_from_seconds sentinels) and absurd (above the limit; the sentinels and
/// `absent` are above every limit too, but the first bit set wins).
[[nodiscard]] CANARYGATE_ALWAYS_INLINE constexpr reject_mask duration_reject_mask(
    std::uint64_t ns, std::uint64_t limit) noexcept {
    // Every reason implies ns > limit (the sentinels lie above every limit):
    // one well-predicted branch on the hot path.
    if (ns <= limit) [[likely]]
        return 0;
    return static_cast<reject_mask>(ns == duration_sentinel::nan) |
           static_cast<reject_mask>(ns == duration_sentinel::negative) << 1 |
           static_cast<reject_mask>(ns == duration_sentinel::infinite) << 2 |
           static_cast<reject_mask>(ns > limit) << 3;
}
}  // namespace detail

/// End-to-end latency: histogram "latency_ns" (latency_ns_layout) and exact
/// sum "latency_ns.sum". Rejects "latency_nan", "latency_negative",
/// "latency_infinite" (from ns_from_seconds) and "latency_absurd" (above
/// Traits::max_latency_ns, or `absent`).
struct latency_metric {
    static constexpr histogram_layout layout = latency_ns_layout;
    static constexpr std::size_t scalar_count = 2;  // sum as two 32-bit limbs
    static constexpr std::size_t array_count = histogram_counter_count(layout);
    static constexpr std::array<std::string_view, 4> reasons = {
        "latency_nan", "latency_negative", "latency_infinite", "latency_absurd"};
    template <class Traits>
    CANARYGATE_ALWAYS_INLINE static constexpr reject_mask validate(
        const request_outcome& r) noexcept {
        return detail::duration_reject_mask(r.latency_ns, Traits::max_latency_ns);
    }
    template <class Sink>
    CANARYGATE_ALWAYS_INLINE static void record(const Sink& c, const request_outcome& r) noexcept {
        add_split(c, 0, r.latency_ns);
        c.add_array(histogram_counter_slot(layout, r.latency_ns), 1);
    }
    static void export_to(const metric_values& v, series_output& out) {
        out.add_counter(series::latency_sum, v.split_sum(0));
        out.add_histogram(series::latency, v.histogram(layout));
    }
};

/// Time to first token, when present (not `request_outcome::absent`):
/// histogram "ttft_ns" and sum "ttft_ns.sum"; its count is the histogram's.
/// Rejects "ttft_nan", "ttft_negative", "ttft_infinite", "ttft_absurd" and
/// "ttft_exceeds_latency" (both valid, ttft > latency).
struct ttft_metric {
    static constexpr histogram_layout layout = latency_ns_layout;
    static constexpr std::size_t scalar_count = 2;
    static constexpr std::size_t array_count = histogram_counter_count(layout);
    static constexpr std::array<std::string_view, 5> reasons = {
        "ttft_nan", "ttft_negative", "ttft_infinite", "ttft_absurd", "ttft_exceeds_latency"};
    template <class Traits>
    CANARYGATE_ALWAYS_INLINE static constexpr reject_mask validate(
        const request_outcome& r) noexcept {
        const std::uint64_t limit = Traits::max_latency_ns;
        if (r.ttft_ns == request_outcome::absent) return 0;
        const reject_mask exceeds =
            static_cast<reject_mask>(r.ttft_ns <= limit && r.latency_ns <= limit &&
                                     r.ttft_ns > r.latency_ns)
            << 4;
        return detail::duration_reject_mask(r.ttft_ns, limit) | exceeds;
    }
    template <class Sink>
    CANARYGATE_ALWAYS_INLINE static void record(const Sink& c, const request_outcome& r) noexcept {
        if (r.ttft_ns == request_outcome::absent) return;
        add_split(c, 0, r.ttft_ns);
        c.add_array(histogram_counter_slot(layout, r.ttft_ns), 1);
    }
    static void export_to(const metric_values& v, series_output& out) {
        out.add_counter(series::ttft_sum, v.split_sum(0));
        out.add_histogram(series::ttft, v.histogram(layout));
    }
};

/// Prompt tokens: histogram "input_tokens" (tokens_layout) and sum
/// "input_tokens.sum". Rejects "input_tokens_absurd" (> Traits::max_tokens).
struct input_tokens_metric {
    static constexpr histogram_layout layout = tokens_layout;
    static constexpr std::size_t scalar_count = 1;  // tokens < 2^32 (checked by the recorder)
    static constexpr std::size_t array_count = histogram_counter_count(layout);
    static constexpr std::array<std::string_view, 1> reasons = {"input_tokens_absurd"};
    template <class Traits>
    CANARYGATE_ALWAYS_INLINE static constexpr reject_mask validate(
        const request_outcome& r) noexcept {
        return static_cast<reject_mask>(r.input_tokens > Traits::max_tokens);
    }
    template <class Sink>
    CANARYGATE_ALWAYS_INLINE static void record(const Sink& c, const request_outcome& r) noexcept {
        c.add(0, r.input_tokens);
        c.add_array(histogram_counter_slot(layout, r.input_tokens), 1);
    }
    static void export_to(const metric_values& v, series_output& out) {
        out.add_counter(series::input_tokens_sum, v.scalar(0));
        out.add_histogram(series::input_tokens, v.histogram(layout));
    }
};

/// Generated tokens: histogram "output_tokens", sum "output_tokens.sum" and
/// sum of squares "output_tokens.sum_sq" (for the variance of the mean
/// length). Rejects "output_tokens_absurd" (> Traits::max_tokens).
struct output_tokens_metric {
    static constexpr histogram_layout layout = tokens_layout;
    static constexpr std::size_t scalar_count = 3;  // sum, square as two limbs
    static constexpr std::size_t array_count = histogram_counter_count(layout);
    static constexpr std::array<std::string_view, 1> reasons = {"output_tokens_absurd"};
    template <class Traits>
    CANARYGATE_ALWAYS_INLINE static constexpr reject_mask validate(
        const request_outcome& r) noexcept {
        return static_cast<reject_mask>(r.output_tokens > Traits::max_tokens);
    }
    template <class Sink>
    CANARYGATE_ALWAYS_INLINE static void record(const Sink& c, const request_outcome& r) noexcept {
        c.add(0, r.output_tokens);
        add_split(c, 1, r.output_tokens * r.output_tokens);  // tokens < 2^32: no overflow
        c.add_array(histogram_counter_slot(layout, r.output_tokens), 1);
    }
    static void export_to(const metric_values& v, series_output& out) {
        out.add_counter(series::output_tokens_sum, v.scalar(0));
        out.add_counter(series::output_tokens_sum_squares, v.split_sum(1));
        out.add_histogram(series::output_tokens, v.histogram(layout));
    }
};

/// Cost in nano-USD: histogram "cost_nano_usd" (cost_nano_usd_layout), exact
/// sum "cost_nano_usd.sum" and sum of squares "cost_nano_usd.sum_sq".
/// Rejects "cost_absurd" (> Traits::max_cost_nano_usd, at most 2^48 - 1 =
/// 281,475 USD so the square fits three 32-bit limbs).
struct cost_metric {
    static constexpr histogram_layout layout = cost_nano_usd_layout;
    static constexpr std::size_t scalar_count = 5;  // sum: 2 limbs, square: 3 limbs
    static constexpr std::size_t array_count = histogram_counter_count(layout);
    static constexpr std::array<std::string_view, 1> reasons = {"cost_absurd"};
    template <class Traits>
    CANARYGATE_ALWAYS_INLINE static constexpr reject_mask validate(
        const request_outcome& r) noexcept {
        static_assert(Traits::max_cost_nano_usd < (std::uint64_t{1} << 48),
                      "Traits::max_cost_nano_usd must be below 2^48 (three-limb square)");
        return static_cast<reject_mask>(r.cost_nano_usd > Traits::max_cost_nano_usd);
    }
    template <class Sink>
    CANARYGATE_ALWAYS_INLINE static void record(const Sink& c, const request_outcome& r) noexcept {
        add_split(c, 0, r.cost_nano_usd);
        add_square(c, 2, r.cost_nano_usd);
        c.add_array(histogram_counter_slot(layout, r.cost_nano_usd), 1);
    }
    static void export_to(const metric_values& v, series_output& out) {
        out.add_counter(series::cost_sum, v.split_sum(0));
        out.add_counter(series::cost_sum_squares, v.square_sum(2));
        out.add_histogram(series::cost, v.histogram(layout));
    }
};

/// Late user feedback: "feedback.thumbs_up", "feedback.thumbs_down",
/// "feedback.ticket", "feedback.score" (count of scores) and the two
/// nonnegative score sums (series::feedback_score_positive_sum /
/// negative_sum). Rejects "feedback_kind_invalid" and
/// "feedback_score_absurd" (|score| > Traits::max_feedback_score).
struct feedback_metric {
    static constexpr std::size_t scalar_count = feedback_kind_count + 2;
    static constexpr std::array<std::string_view, 2> reasons = {"feedback_kind_invalid",
                                                                "feedback_score_absurd"};
    [[nodiscard]] static constexpr std::uint64_t magnitude(std::int64_t score) noexcept {
        // In unsigned arithmetic: |INT64_MIN| has no int64 representation.
        const auto bits = static_cast<std::uint64_t>(score);
        return score < 0 ? 0 - bits : bits;
    }
    template <class Traits>
    static constexpr reject_mask validate_feedback(const feedback_event& f) noexcept {
        static_assert(Traits::max_feedback_score < (std::uint64_t{1} << 32),
                      "Traits::max_feedback_score must be below 2^32");
        const bool invalid = static_cast<std::size_t>(f.kind) >= feedback_kind_count;
        const bool absurd =
            f.kind == feedback_kind::score && magnitude(f.score) > Traits::max_feedback_score;
        return static_cast<reject_mask>(invalid) | static_cast<reject_mask>(absurd) << 1;
    }
    template <class Sink>
    static void record_feedback(const Sink& c, const feedback_event& f) noexcept {
        c.add(static_cast<std::size_t>(f.kind), 1);
        if (f.kind == feedback_kind::score) {
            c.add(f.score < 0 ? feedback_kind_count + 1 : feedback_kind_count, magnitude(f.score));
        }
    }
    static void export_to(const metric_values& v, series_output& out) {
        std::string name(series::feedback_prefix);
        const std::size_t prefix = name.size();
        for (std::size_t i = 0; i < feedback_kind_count; ++i) {
            name.resize(prefix);
            name += canarygate::name(static_cast<feedback_kind>(i));
            out.add_counter(name, v.scalar(i));
        }
        out.add_counter(series::feedback_score_positive_sum, v.scalar(feedback_kind_count));
        out.add_counter(series::feedback_score_negative_sum, v.scalar(feedback_kind_count + 1));
    }
};

// --- Plugging metrics together ------------------------------------------------------

namespace detail {
template <class M>
[[nodiscard]] consteval std::size_t metric_scalar_count() {
    if constexpr (requires { M::scalar_count; }) {
        return M::scalar_count;
    } else {
        return 0;
    }
}
template <class M>
[[nodiscard]] consteval std::size_t metric_array_count() {
    if constexpr (requires { M::array_count; }) {
        return M::array_count;
    } else {
        return 0;
    }
}
template <class M>
[[nodiscard]] consteval std::size_t metric_reason_count() {
    if constexpr (requires { M::reasons; }) {
        return std::size(M::reasons);
    } else {
        return 0;
    }
}

template <std::size_t N>
[[nodiscard]] consteval std::array<std::size_t, N + 1> prefix_sums(
    const std::array<std::size_t, N>& sizes) {
    std::array<std::size_t, N + 1> sums{};
    for (std::size_t i = 0; i < N; ++i) sums[i + 1] = sums[i] + sizes[i];
    return sums;
}

template <class M, class Traits, class Record>
[[nodiscard]] CANARYGATE_ALWAYS_INLINE constexpr reject_mask validate_record(
    const Record& r) noexcept {
    if constexpr (requires { M::template validate<Traits>(r); }) {
        static_assert(noexcept(M::template validate<Traits>(r)), "validate must be noexcept");
        return M::template validate<Traits>(r);
    } else if constexpr (requires { M::validate(r); }) {
        static_assert(noexcept(M::validate(r)), "validate must be noexcept");
        return M::validate(r);
    } else {
        return 0;
    }
}

template <class M, class Traits>
[[nodiscard]] constexpr reject_mask validate_feedback_event(const feedback_event& f) noexcept {
    if constexpr (requires { M::template validate_feedback<Traits>(f); }) {
        static_assert(noexcept(M::template validate_feedback<Traits>(f)),
                      "validate_feedback must be noexcept");
        return M::template validate_feedback<Traits>(f);
    } else if constexpr (requires { M::validate_feedback(f); }) {
        static_assert(noexcept(M::validate_feedback(f)), "validate_feedback must be noexcept");
        return M::validate_feedback(f);
    } else {
        return 0;
    }
}

/// A sink that writes nothing: compile-time checks of metrics.
struct null_sink {
    constexpr void add(std::size_t, std::uint64_t) const noexcept {}
    constexpr void add_array(std::size_t, std::uint64_t) const noexcept {}
    [[nodiscard]] constexpr null_sink offset(std::size_t, std::size_t) const noexcept { return {}; }
};

template <class M, class Record>
[[nodiscard]] consteval bool metric_accepts() {
    constexpr bool records = requires(const null_sink& s, const Record& r) { M::record(s, r); };
    constexpr bool feedback = requires(const null_sink& s, const feedback_event& f) {
        M::record_feedback(s, f);
    };
    constexpr bool exports = requires(const metric_values& v, series_output& out) {
        M::export_to(v, out);
    };
    return (records || feedback) && exports;
}
}  // namespace detail

/// A set of metrics recorded together, laid out one after the other in each
/// arm's counters: every metric's scalars, then one scalar per rejection
/// reason (declaration order), then every metric's array counters.
///
/// A record is validated by every metric first; if any reason fires, only
/// the first reason (in declaration order) is counted, and nothing else, so
/// rejected records never skew rates. Otherwise every metric records it.
template <class... Metrics>
struct metric_set {
    static constexpr std::size_t metric_count = sizeof...(Metrics);

    static constexpr std::array<std::size_t, metric_count + 1> scalar_offsets = detail::prefix_sums(
        std::array<std::size_t, metric_count>{detail::metric_scalar_count<Metrics>()...});
    static constexpr std::array<std::size_t, metric_count + 1> array_offsets = detail::prefix_sums(
        std::array<std::size_t, metric_count>{detail::metric_array_count<Metrics>()...});
    static constexpr std::array<std::size_t, metric_count + 1> reason_offsets = detail::prefix_sums(
        std::array<std::size_t, metric_count>{detail::metric_reason_count<Metrics>()...});

    /// Rejection reasons of every metric, in order.
    static constexpr std::size_t reason_count = reason_offsets[metric_count];
    static_assert(reason_count <= 64, "at most 64 rejection reasons per metric set");

    /// Scalar counters per arm: the metrics' own, then one per reason.
    static constexpr std::size_t metric_scalar_count = scalar_offsets[metric_count];
    static constexpr std::size_t scalar_count = metric_scalar_count + reason_count;
    /// Array (histogram bucket) counters per arm.
    static constexpr std::size_t array_count = array_offsets[metric_count];

    static constexpr std::array<std::string_view, reason_count> reasons = [] {
        std::array<std::string_view, reason_count> all{};
        std::size_t i = 0;
        auto append = [&]<class M>() {
            if constexpr (detail::metric_reason_count<M>() > 0) {
                for (const std::string_view r : M::reasons) all[i++] = r;
            }
        };
        (append.template operator()<Metrics>(), ...);
        return all;
    }();
    static_assert(
        [] {
            for (std::size_t i = 0; i < reason_count; ++i) {
                for (std::size_t j = i + 1; j < reason_count; ++j) {
                    if (reasons[i] == reasons[j]) return false;
                }
            }
            return true;
        }(),
        "rejection reasons must be unique within a metric set");

    /// Scalar counter that counts `reasons[i]`.
    [[nodiscard]] static constexpr std::size_t reason_counter(std::size_t i) noexcept {
        return metric_scalar_count + i;
    }

    /// Mask over `reasons` of what `r` fails (0: accept). Wait-free.
    template <class Traits, class Record>
    [[nodiscard]] CANARYGATE_ALWAYS_INLINE static constexpr reject_mask validate(
        const Record& r) noexcept {
        return validate_all<Traits>(r, std::index_sequence_for<Metrics...>{});
    }
    template <class Traits>
    [[nodiscard]] static constexpr reject_mask validate_feedback(const feedback_event& f) noexcept {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return (reject_mask{0} | ... |
                    (detail::validate_feedback_event<nth<I>, Traits>(f) << reason_offsets[I]));
        }
        (std::index_sequence_for<Metrics...>{});
    }

    /// Validates, then records `r` or counts its first rejection reason.
    /// Returns the mask. Wait-free; `sink` decides how counters are written.
    template <class Traits, class Record, class Sink>
    CANARYGATE_ALWAYS_INLINE static reject_mask record(const Sink& sink, const Record& r) noexcept {
        // The fast path only asks whether anything is wrong (a few compares);
        // which reason comes first is worked out out of line.
        if (any_rejected<Traits>(r, std::index_sequence_for<Metrics...>{})) [[unlikely]] {
            return count_rejection<Traits>(sink, r);
        }
        record_all(sink, r, std::index_sequence_for<Metrics...>{});
        return 0;
    }
    template <class Traits, class Sink>
    static reject_mask record_feedback(const Sink& sink, const feedback_event& f) noexcept {
        const reject_mask rejected = validate_feedback<Traits>(f);
        if (rejected != 0) [[unlikely]] {
            sink.add(reason_counter(static_cast<std::size_t>(std::countr_zero(rejected))), 1);
            return rejected;
        }
        feedback_all(sink, f, std::index_sequence_for<Metrics...>{});
        return 0;
    }

    /// Writes every metric's series and one "rejected.<reason>" counter per
    /// reason (zeros included, so every series exists from the start).
    /// Allocates; throws what `out` throws.
    /// `values` spans the arm's scalar_count scalars and array_count arrays.
    static void export_arm(const metric_values& values, series_output& out) {
        for_each_metric([&]<std::size_t I, class M>() {
            const metric_values mine(
                values.scalars().subspan(scalar_offsets[I], detail::metric_scalar_count<M>()),
                values.arrays().subspan(array_offsets[I], detail::metric_array_count<M>()));
            M::export_to(mine, out);
            return reject_mask{0};
        });
        std::string name(series::rejected_prefix);
        const std::size_t prefix = name.size();
        for (std::size_t i = 0; i < reason_count; ++i) {
            name.resize(prefix);
            name += reasons[i];
            out.add_counter(name, values.scalar(reason_counter(i)));
        }
    }

    /// True when the metric set can record `Record`: every metric has
    /// export_to and at least one of record(Record) / record_feedback.
    template <class Record>
    static constexpr bool accepts = (detail::metric_accepts<Metrics, Record>() && ...);

private:
    template <std::size_t I>
    using nth = std::tuple_element_t<I, std::tuple<Metrics...>>;

    // Bitwise | on the reject masks: no short-circuit branches.
    template <class Traits, class Record, std::size_t... I>
    CANARYGATE_ALWAYS_INLINE static constexpr bool any_rejected(
        const Record& r, std::index_sequence<I...>) noexcept {
        return (reject_mask{0} | ... | detail::validate_record<nth<I>, Traits>(r)) != 0;
    }
    template <class Traits, class Record, class Sink>
    CANARYGATE_NOINLINE static reject_mask count_rejection(const Sink& sink,
                                                           const Record& r) noexcept {
        const reject_mask rejected = validate<Traits>(r);
        sink.add(reason_counter(static_cast<std::size_t>(std::countr_zero(rejected))), 1);
        return rejected;
    }

    template <class Traits, class Record, std::size_t... I>
    CANARYGATE_ALWAYS_INLINE static constexpr reject_mask validate_all(
        const Record& r, std::index_sequence<I...>) noexcept {
        return (reject_mask{0} | ... |
                (detail::validate_record<nth<I>, Traits>(r) << reason_offsets[I]));
    }

    // Plain function templates rather than lambdas: the sink and the record
    // stay in registers instead of being reloaded through a closure after
    // every (atomic) counter store.
    template <std::size_t I, class Sink, class Record>
    CANARYGATE_ALWAYS_INLINE static void record_one(const Sink& sink, const Record& r) noexcept {
        using M = nth<I>;
        if constexpr (requires { M::record(sink.offset(0, 0), r); }) {
            static_assert(noexcept(M::record(sink.offset(0, 0), r)), "record must be noexcept");
            M::record(sink.offset(scalar_offsets[I], array_offsets[I]), r);
        }
    }
    template <class Sink, class Record, std::size_t... I>
    CANARYGATE_ALWAYS_INLINE static void record_all(const Sink& sink, const Record& r,
                                                    std::index_sequence<I...>) noexcept {
        (record_one<I>(sink, r), ...);
    }
    template <std::size_t I, class Sink>
    static void feedback_one(const Sink& sink, const feedback_event& f) noexcept {
        using M = nth<I>;
        if constexpr (requires { M::record_feedback(sink.offset(0, 0), f); }) {
            static_assert(noexcept(M::record_feedback(sink.offset(0, 0), f)),
                          "record_feedback must be noexcept");
            M::record_feedback(sink.offset(scalar_offsets[I], array_offsets[I]), f);
        }
    }
    template <class Sink, std::size_t... I>
    static void feedback_all(const Sink& sink, const feedback_event& f,
                             std::index_sequence<I...>) noexcept {
        (feedback_one<I>(sink, f), ...);
    }

    // Calls f.template operator()<I, M>() for every metric, ORing the results.
    template <class F>
    CANARYGATE_ALWAYS_INLINE static constexpr reject_mask for_each_metric(F&& f) {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return (reject_mask{0} | ... |
                    f.template operator()<I, std::tuple_element_t<I, std::tuple<Metrics...>>>());
        }
        (std::index_sequence_for<Metrics...>{});
    }
};

namespace detail {
template <class Set, class... More>
struct extend_metrics_impl;
template <class... Ms, class... More>
struct extend_metrics_impl<metric_set<Ms...>, More...> {
    using type = metric_set<Ms..., More...>;
};
}  // namespace detail

/// `Set` with `More` metrics appended: `extend_metrics<default_metrics, my_metric>`.
template <class Set, class... More>
using extend_metrics = typename detail::extend_metrics_impl<Set, More...>::type;

/// What the recorder counts by default (issue requirement 1). The scalars a
/// request touches (requests, outcome, sums) share the arm's first cache
/// lines; each histogram adds one more line per record.
using default_metrics =
    metric_set<requests_metric, outcome_metric, latency_metric, ttft_metric, input_tokens_metric,
               output_tokens_metric, cost_metric, feedback_metric>;

CANARYGATE_NAMESPACE_END
