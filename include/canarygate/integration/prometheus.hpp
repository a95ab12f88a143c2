// SPDX-License-Identifier: MIT
/// \file
/// Prometheus text exposition (format 0.0.4) of a canarygate snapshot: exact
/// counters per arm, classic histograms derived from the fine exponential
/// ones, recorder-wide counters and the snapshot's window. No dependency.
///
/// Serve the snapshot the collector accumulates *since start*: Prometheus
/// counters must only grow, and windows are taken in PromQL (`rate`,
/// `increase`, `histogram_quantile`). A sliding-window snapshot shrinks when
/// old slots expire, which Prometheus would read as counter resets.
///
/// Example (an HTTP handler for `/metrics`):
/// \code
///   canarygate::exposition_options options;
///   options.constant_labels = {{"service", "chat-api"}};
///   options.buckets = canarygate::histogram_buckets::opentelemetry();
///   options.validate();                      // at configuration time: throws on bad labels
///   ...
///   response.set_content(canarygate::to_prometheus(collector.cumulative(), options),
///                        std::string(canarygate::prometheus_content_type));
/// \endcode
///
/// ## Families
///
/// Prefix "canarygate"; every per-arm family has the labels `arm` and
/// `model_version` after the constant labels.
///
/// | family | type | source |
/// |---|---|---|
/// | `canarygate_window_start_seconds`, `_window_end_seconds` | gauge | snapshot window |
/// | `canarygate_snapshot_sources` | gauge | `snapshot::sources()` |
/// | `canarygate_requests_total{outcome}` | counter | `outcome.<name>`; the remainder of `requests` as `unclassified` |
/// | `canarygate_feedback_total{kind}` | counter | `feedback.<kind>` |
/// | `canarygate_rejections_total{reason}` | counter | `rejected.<reason>`; histogram rejects as `<series>.invalid` |
/// | `canarygate_request_duration_seconds` | histogram | `latency_ns`, `latency_ns.sum` |
/// | `canarygate_time_to_first_token_seconds` | histogram | `ttft_ns`, `ttft_ns.sum` |
/// | `canarygate_request_input_tokens` | histogram | `input_tokens`, `input_tokens.sum` |
/// | `canarygate_request_output_tokens` | histogram | `output_tokens`, `output_tokens.sum` |
/// | `canarygate_request_cost_usd` | histogram | `cost_nano_usd`, `cost_nano_usd.sum` |
/// | `canarygate_series_total{series}` | counter | every other per-arm counter, raw name |
/// | `canarygate_series_values{series}` | histogram | every other per-arm histogram, native unit |
/// | `canarygate_recorder_<name>_total` | counter | each recorder-wide counter |
///
/// ## Classic buckets from the fine histogram
///
/// A fine bucket (b^i, b^(i+1)] counts towards `le` only when its upper edge
/// b^(i+1) <= le, so every cumulative count is a lower bound: it is the exact
/// count at the largest fine edge e <= le, and e > le / b. Hence
/// N(le / b) <= reported <= N(le), where N(x) counts the values <= x: the
/// error is at most the one fine bucket that straddles `le` (relative width
/// b - 1 = 2.2 % at scale 5). Boundaries that are powers of two in the
/// histogram's native unit (nanoseconds, tokens, nano-USD) are fine edges and
/// exact (`classic_buckets::powers_of_two`, the OpenTelemetry token preset).
/// Outside the fine range the bound weakens: below `min_value()` only zeros
/// are counted, and values in overflow reach `+Inf` only.
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/record/outcome.hpp"
#include "canarygate/record/series.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// The HTTP `Content-Type` of the text exposition format 0.0.4.
inline constexpr std::string_view prometheus_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

namespace detail::prometheus_text {

[[nodiscard]] constexpr bool is_name_start(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
[[nodiscard]] constexpr bool is_name_char(char c) noexcept {
    return is_name_start(c) || (c >= '0' && c <= '9');
}
/// [a-zA-Z_][a-zA-Z0-9_]*: a label name, and a metric name without colons.
[[nodiscard]] constexpr bool is_valid_name(std::string_view s) noexcept {
    if (s.empty() || !is_name_start(s.front())) return false;
    return std::all_of(s.begin(), s.end(), is_name_char);
}

/// Well-formed UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
[[nodiscard]] constexpr bool is_valid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto lead = static_cast<unsigned char>(s[i]);
        if (lead < 0x80U) {
            ++i;
            continue;
        }
        std::size_t length = 0;
        std::uint32_t code = 0;
        std::uint32_t smallest = 0;
        if ((lead & 0xE0U) == 0xC0U) {
            length = 2;
            code = lead & 0x1FU;
            smallest = 0x80U;
        } else if ((lead & 0xF0U) == 0xE0U) {
            length = 3;
            code = lead & 0x0FU;
            smallest = 0x800U;
        } else if ((lead & 0xF8U) == 0xF0U) {
            length = 4;
            code = lead & 0x07U;
            smallest = 0x10000U;
        } else {
            return false;
        }
        if (s.size() - i < length) return false;
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(s[i + k]);
            if ((next & 0xC0U) != 0x80U) return false;
            code = (code << 6) | (next & 0x3FU);
        }
        if (code < smallest || code > 0x10FFFFU || (code >= 0xD800U && code <= 0xDFFFU)) {
            return false;
        }
        i += length;
    }
    return true;
}

/// Escaping of format 0.0.4: backslash and line feed always, the double
/// quote too inside a label value (HELP text keeps it).
inline void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
    for (const char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && escape_quote) {
            out += "\\\"";
        } else {
            out += c;
        }
    }
}
inline void append_label_value(std::string& out, std::string_view value) {
    append_escaped(out, value, true);
}
inline void append_help_text(std::string& out, std::string_view text) {
    append_escaped(out, text, false);
}

inline void append_uint(std::string& out, std::uint64_t value) {
    std::array<char, 20> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    out.append(buffer.data(), result.ptr);
}

/// The nonnegative integer `digits` divided by 10^decimals, exactly, without
/// trailing zeros or exponent: ("1500000000", 9) -> "1.5", ("123", 9) ->
/// "0.000000123".
inline void append_shifted_decimal(std::string& out, std::string_view digits,
                                   std::size_t decimals) {
    if (decimals == 0) {
        out += digits;
        return;
    }
    const std::size_t integer_digits = digits.size() > decimals ? digits.size() - decimals : 0;
    const std::size_t padding = digits.size() < decimals ? decimals - digits.size() : 0;
    std::string_view fraction = digits.substr(integer_digits);
    while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
    if (integer_digits == 0) {
        out += '0';
    } else {
        out += digits.substr(0, integer_digits);
    }
    if (fraction.empty()) return;
    out += '.';
    out.append(padding, '0');
    out += fraction;
}

/// A double in the format's float syntax: shortest round-trip digits, NaN, +Inf, -Inf.
inline void append_double(std::string& out, double value) {
    if (std::isnan(value)) {
        out += "NaN";
    } else if (std::isinf(value)) {
        out += value > 0.0 ? "+Inf" : "-Inf";
    } else {
        std::array<char, 32> buffer{};
        const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
        out.append(buffer.data(), result.ptr);
    }
}

/// `text` for an error message: printable ASCII kept, every other byte as
/// \xNN, so a message never carries invalid UTF-8 or control characters.
[[nodiscard]] inline std::string printable(std::string_view text) {
    constexpr std::string_view hex = "0123456789abcdef";
    std::string result;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20U && byte < 0x7FU && c != '\\') {
            result += c;
        } else {
            result += "\\x";
            result += hex[byte >> 4];
            result += hex[byte & 0xFU];
        }
    }
    return result;
}

/// A double for an error message (shortest round-trip digits).
[[nodiscard]] inline std::string number_text(double value) {
    std::string text;
    append_double(text, value);
    return text;
}

}  // namespace detail::prometheus_text

/// Upper bounds of a classic Prometheus histogram, in the fine histogram's
/// native integer unit (nanoseconds, tokens, nano-USD), strictly increasing.
///
/// Immutable value, validated at construction. Integers keep both the
/// counting and the `le` labels exact: 1'000'000 ns is printed `le="0.001"`
/// by exact decimal shifting, never by floating-point formatting. The `+Inf`
/// bucket is implicit. Bounds stop at 2^53 so they convert to `double`
/// exactly when compared with bucket edges.
class classic_buckets {
public:
    static constexpr std::uint64_t max_bound = std::uint64_t{1} << 53;

    /// No finite bound: only the `+Inf` bucket.
    classic_buckets() = default;

    /// Bounds in the native unit. Throws std::invalid_argument naming the
    /// offending position unless strictly increasing and <= max_bound.
    explicit classic_buckets(std::vector<std::uint64_t> upper_bounds)
        : bounds_(std::move(upper_bounds)) {
        for (std::size_t k = 0; k < bounds_.size(); ++k) {
            if (bounds_[k] > max_bound) {
                fail("upper_bounds[" + std::to_string(k) + "] = " + std::to_string(bounds_[k]) +
                     " exceeds 2^53");
            }
            if (k > 0 && bounds_[k] <= bounds_[k - 1]) {
                fail("upper_bounds[" + std::to_string(k) + "] = " + std::to_string(bounds_[k]) +
                     " is not greater than upper_bounds[" + std::to_string(k - 1) +
                     "] = " + std::to_string(bounds_[k - 1]));
            }
        }
    }

    /// Bounds given in a base unit, each multiplied by `native_per_unit`
    /// (1'000'000'000 for seconds of a nanosecond histogram or USD of a
    /// nano-USD one) and rounded to the nearest integer. Throws
    /// std::invalid_argument for NaN, negative or infinite values, and when
    /// the rounded bounds are not strictly increasing.
    ///
    /// Example: `classic_buckets::from_units(std::vector{0.1, 0.5, 1.0}, 1'000'000'000)`.
    [[nodiscard]] static classic_buckets from_units(std::span<const double> values,
                                                    std::uint64_t native_per_unit) {
        if (native_per_unit == 0) fail("native_per_unit = 0 must be positive");
        std::vector<std::uint64_t> native;
        native.reserve(values.size());
        const auto limit = static_cast<double>(max_bound);
        for (std::size_t k = 0; k < values.size(); ++k) {
            const double scaled = std::nearbyint(values[k] * static_cast<double>(native_per_unit));
            if (!(values[k] >= 0.0) || !(scaled <= limit)) {
                fail("values[" + std::to_string(k) +
                     "] = " + detail::prometheus_text::number_text(values[k]) +
                     " must be finite, nonnegative and at most 2^53 native units");
            }
            native.push_back(static_cast<std::uint64_t>(scaled));
        }
        return classic_buckets(std::move(native));
    }
    /// Seconds, for a nanosecond histogram.
    [[nodiscard]] static classic_buckets from_seconds(std::initializer_list<double> seconds) {
        return from_units(std::span<const double>(seconds.begin(), seconds.size()), 1'000'000'000);
    }
    /// US dollars, for a nano-USD histogram.
    [[nodiscard]] static classic_buckets from_usd(std::initializer_list<double> usd) {
        return from_units(std::span<const double>(usd.begin(), usd.size()), 1'000'000'000);
    }

    /// 2^first_exponent, 2^(first_exponent + step), ... up to 2^last_exponent
    /// in the native unit: edges of every fine bucket layout, so the counts
    /// are exact. Throws std::invalid_argument unless
    /// 0 <= first_exponent <= last_exponent <= 53 and step >= 1.
    [[nodiscard]] static classic_buckets powers_of_two(int first_exponent, int last_exponent,
                                                       int step = 1) {
        if (first_exponent < 0 || first_exponent > 53) {
            fail("first_exponent = " + std::to_string(first_exponent) + " must be in [0, 53]");
        }
        if (last_exponent < first_exponent || last_exponent > 53) {
            fail("last_exponent = " + std::to_string(last_exponent) + " must be in [" +
                 std::to_string(first_exponent) + ", 53]");
        }
        if (step < 1) fail("step = " + std::to_string(step) + " must be at least 1");
        std::vector<std::uint64_t> bounds;
        for (int e = first_exponent; e <= last_exponent; e += step) {
            bounds.push_back(std::uint64_t{1} << e);
        }
        return classic_buckets(std::move(bounds));
    }

    /// vLLM `vllm:time_to_first_token_seconds` (22 bounds, 1 ms to 2560 s).
    [[nodiscard]] static classic_buckets vllm_ttft() {
        return from_seconds({0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                             0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                             20.0,  40.0,  80.0, 160.0, 640.0, 2560.0});
    }
    /// vLLM `vllm:inter_token_latency_seconds` (19 bounds, 10 ms to 80 s).
    [[nodiscard]] static classic_buckets vllm_inter_token() {
        return from_seconds({0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
                             2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0});
    }
    /// vLLM `vllm:e2e_request_latency_seconds` (21 bounds, 0.3 s to 7680 s).
    [[nodiscard]] static classic_buckets vllm_e2e() {
        return from_seconds({0.3,  0.5,   0.8,   1.0,   1.5,   2.0,    2.5,
                             5.0,  10.0,  15.0,  20.0,  30.0,  40.0,   50.0,
                             60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0});
    }
    /// vLLM's token-count buckets (`build_1_2_5_buckets`): 1, 2, 5, 10, ...,
    /// 1'000'000 tokens (vLLM stops at the model's context length).
    [[nodiscard]] static classic_buckets vllm_tokens() {
        std::vector<std::uint64_t> bounds;
        for (std::uint64_t decade = 1; decade <= 1'000'000; decade *= 10) {
            for (const std::uint64_t m : {1U, 2U, 5U}) {
                if (m * decade <= 1'000'000) bounds.push_back(m * decade);
            }
        }
        return classic_buckets(std::move(bounds));
    }
    /// OpenTelemetry GenAI `gen_ai.*.duration`: 0.01 s doubling to 81.92 s (14 bounds).
    [[nodiscard]] static classic_buckets otel_duration() {
        std::vector<std::uint64_t> bounds;
        for (int k = 0; k <= 13; ++k) bounds.push_back(std::uint64_t{10'000'000} << k);
        return classic_buckets(std::move(bounds));
    }
    /// OpenTelemetry GenAI `gen_ai.server.time_to_first_token` (16 bounds, 1 ms to 10 s).
    [[nodiscard]] static classic_buckets otel_ttft() {
        return from_seconds({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
                             2.5, 5.0, 7.5, 10.0});
    }
    /// OpenTelemetry GenAI `gen_ai.client.token.usage`: 1, 4, 16, ..., 4^13 =
    /// 67'108'864 tokens (14 bounds). Powers of two: exact.
    [[nodiscard]] static classic_buckets otel_token_usage() { return powers_of_two(0, 26, 2); }
    /// Cost per request, 1-2.5-5 per decade from 10 micro-USD to 10 USD (19
    /// bounds). Neither vLLM nor OpenTelemetry defines one.
    [[nodiscard]] static classic_buckets cost_usd() {
        return from_usd({0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                         0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0});
    }

    [[nodiscard]] const std::vector<std::uint64_t>& upper_bounds() const noexcept {
        return bounds_;
    }
    [[nodiscard]] std::size_t size() const noexcept { return bounds_.size(); }

    friend bool operator==(const classic_buckets&, const classic_buckets&) = default;

private:
    [[noreturn]] static void fail(const std::string& what) {
        detail::throw_invalid_argument("canarygate::classic_buckets: " + what);
    }

    std::vector<std::uint64_t> bounds_;
};

/// The classic bounds of each default histogram family. Pick a preset, then
/// change single fields if needed.
struct histogram_buckets {
    classic_buckets latency;        ///< `latency_ns`, nanoseconds
    classic_buckets ttft;           ///< `ttft_ns`, nanoseconds
    classic_buckets input_tokens;   ///< `input_tokens`
    classic_buckets output_tokens;  ///< `output_tokens`
    classic_buckets cost;           ///< `cost_nano_usd`, nano-USD

    /// vLLM's sets (end-to-end, TTFT, 1-2-5 tokens); cost 1-2.5-5 per decade.
    [[nodiscard]] static histogram_buckets vllm() {
        return {classic_buckets::vllm_e2e(), classic_buckets::vllm_ttft(),
                classic_buckets::vllm_tokens(), classic_buckets::vllm_tokens(),
                classic_buckets::cost_usd()};
    }
    /// OpenTelemetry GenAI semantic conventions (durations, TTFT, token
    /// usage); cost 1-2.5-5 per decade.
    [[nodiscard]] static histogram_buckets opentelemetry() {
        return {classic_buckets::otel_duration(), classic_buckets::otel_ttft(),
                classic_buckets::otel_token_usage(), classic_buckets::otel_token_usage(),
                classic_buckets::cost_usd()};
    }
    /// Exact counts everywhere: powers of two in the native units. Latency and
    /// TTFT 2^20 ns (1.05 ms) to 2^41 ns (36.6 min), tokens 1 to 2^20, cost
    /// 2^10 to 2^36 nano-USD (1.02 micro-USD to 68.7 USD) by factors of 4.
    [[nodiscard]] static histogram_buckets powers_of_two() {
        return {classic_buckets::powers_of_two(20, 41), classic_buckets::powers_of_two(20, 41),
                classic_buckets::powers_of_two(0, 20), classic_buckets::powers_of_two(0, 20),
                classic_buckets::powers_of_two(10, 36, 2)};
    }

    friend bool operator==(const histogram_buckets&, const histogram_buckets&) = default;
};

/// A label attached to every series of an exposition.
struct prometheus_label {
    std::string name;
    std::string value;
    friend bool operator==(const prometheus_label&, const prometheus_label&) = default;
};

/// How a snapshot is exposed.
struct exposition_options {
    /// Start of every family name: [a-zA-Z_][a-zA-Z0-9_]*, no colon (colons
    /// are for recording rules), not starting with "__".
    std::string prefix = "canarygate";
    /// Labels on every series, first in each label set, e.g. {"service",
    /// "chat-api"}. Names: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__",
    /// distinct, and none of the exposition's own (arm, model_version,
    /// outcome, kind, reason, series, counter, le, quantile). Values: any
    /// UTF-8; escaped on output.
    std::vector<prometheus_label> constant_labels;
    /// Classic bounds of the default histogram families.
    histogram_buckets buckets = histogram_buckets::vllm();

    /// Throws std::invalid_argument naming the field and its bad value.
    /// to_prometheus() calls it too; call it where the options are built to
    /// find errors at configuration time.
    void validate() const;
};

/// Cumulative counts of `h` at each bound of `buckets` (the `+Inf` count is
/// `h.count()`), by the rule in this file's comment: a fine bucket counts
/// towards a bound when its upper edge is <= the bound (`h.rank(bound).lower`),
/// so N(bound / b) <= counts[k] <= N(bound), exact at powers of two. O(fine
/// buckets x bounds).
template <class Allocator>
[[nodiscard]] inline std::vector<std::uint64_t> classic_bucket_counts(
    const basic_exp_histogram<Allocator>& h, const classic_buckets& buckets);

/// Appends the exposition of `snap` to `out`; on any exception `out` is left
/// as it was. Throws std::invalid_argument when the options are invalid or a
/// name that becomes a label value (arm, model version, counter suffix) is
/// not valid UTF-8. One reservation of `out`; O(series + fine buckets x
/// classic bounds).
inline void append_prometheus(std::string& out, const snapshot& snap,
                              const exposition_options& options = {});

/// The exposition of `snap` as a new string (see append_prometheus).
///
/// Example: `std::string body = canarygate::to_prometheus(cumulative_snapshot);`
[[nodiscard]] inline std::string to_prometheus(const snapshot& snap,
                                               const exposition_options& options = {});

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

namespace detail::prometheus_text {

/// Cumulative counts at increasing thresholds in the native unit (see
/// classic_bucket_counts): the histogram's own lower rank bound, which counts
/// exactly the zero, underflow and fine buckets lying entirely <= the
/// threshold (overflow never: it is only known to be above max_value()).
/// O(fine buckets) per threshold; a scrape is far off the hot path.
template <class Allocator>
void cumulative_counts(const basic_exp_histogram<Allocator>& h, std::span<const double> thresholds,
                       std::span<std::uint64_t> counts) {
    for (std::size_t k = 0; k < thresholds.size(); ++k) counts[k] = h.rank(thresholds[k]).lower;
}

/// Estimate of the sum when the snapshot has no `<series>.sum` counter:
/// bucket midpoints 2 b^(i+1) / (b + 1) (relative error <= (b-1)/(b+1) in
/// range), half of min_value() for underflow, max_value() for overflow (a
/// lower bound).
template <class Allocator>
[[nodiscard]] double estimated_sum(const basic_exp_histogram<Allocator>& h) {
    const histogram_layout& layout = h.layout();
    const double midpoint_factor = 2.0 / (layout.base() + 1.0);
    double sum = static_cast<double>(h.underflow_count()) * layout.min_value() * 0.5 +
                 static_cast<double>(h.overflow_count()) * layout.max_value();
    const auto buckets = h.buckets();
    for (std::size_t k = 0; k < buckets.size(); ++k) {
        if (buckets[k] != 0) {
            sum += static_cast<double>(buckets[k]) * midpoint_factor *
                   layout.upper_edge(layout.first_index() + static_cast<std::int64_t>(k));
        }
    }
    return sum;
}

/// Label names the exposition itself uses; constant labels may not take them.
inline constexpr std::array<std::string_view, 9> reserved_label_names = {
    "arm", "model_version", "outcome", "kind", "reason", "series", "counter", "le", "quantile"};

/// Recorder-wide counter name -> the middle of its family name: bytes outside
/// [a-zA-Z0-9_] become '_', a trailing "_total" is dropped (added back once).
[[nodiscard]] inline std::string sanitized_family_part(std::string_view raw) {
    std::string part;
    part.reserve(raw.size());
    for (const char c : raw) part += is_name_char(c) ? c : '_';
    if (part.size() >= 6 && part.compare(part.size() - 6, 6, "_total") == 0)
        part.resize(part.size() - 6);
    if (part.empty()) part = "unnamed";
    return part;
}

[[noreturn]] inline void fail(const std::string& what) {
    detail::throw_invalid_argument("canarygate::to_prometheus: " + what);
}

/// Throws unless `value` is valid UTF-8; `what` names it in the message.
inline void require_utf8(std::string_view value, std::string_view what) {
    if (!is_valid_utf8(value))
        fail(std::string(what) + " \"" + printable(value) + "\" is not valid UTF-8");
}

/// A default histogram family: which series feeds it and how it is shown.
struct known_histogram {
    std::string_view series;
    std::string_view family;
    std::string_view help;
    std::size_t decimals;  // native unit = 10^-decimals of the base unit
    classic_buckets histogram_buckets::*buckets;
};

inline constexpr std::array<known_histogram, 5> known_histograms = {{
    {series::latency, "request_duration_seconds",
     "End-to-end request latency in seconds, by arm and model version.", 9,
     &histogram_buckets::latency},
    {series::ttft, "time_to_first_token_seconds",
     "Time to first token in seconds of streamed requests, by arm and model version.", 9,
     &histogram_buckets::ttft},
    {series::input_tokens, "request_input_tokens",
     "Prompt tokens per request (cached included), by arm and model version.", 0,
     &histogram_buckets::input_tokens},
    {series::output_tokens, "request_output_tokens",
     "Generated tokens per request (reasoning included), by arm and model version.", 0,
     &histogram_buckets::output_tokens},
    {series::cost, "request_cost_usd", "Cost per request in US dollars, by arm and model version.",
     9, &histogram_buckets::cost},
}};

/// Suffix of a counter name after `prefix`, if it has that prefix.
[[nodiscard]] inline bool strip_prefix(std::string_view name, std::string_view prefix,
                                       std::string_view& rest) noexcept {
    if (name.substr(0, prefix.size()) != prefix) return false;
    rest = name.substr(prefix.size());
    return true;
}

/// The label values of a counter family over all arms: the known ones in
/// their fixed order, then every other one found, sorted.
struct labelled_counter_family {
    std::vector<std::string> values;
    bool present = false;  // some arm carries one of its series

    void add_known(std::string_view value) { values.emplace_back(value); }
    void add_found(std::set<std::string, std::less<>>& extra, std::string_view value) {
        present = true;
        if (std::find(values.begin(), values.end(), value) == values.end()) extra.emplace(value);
    }
    void finish(const std::set<std::string, std::less<>>& extra) {
        values.insert(values.end(), extra.begin(), extra.end());
    }
};

/// A histogram family to write: its name, the threshold of each bound in the
/// native unit, and each bound's `le` text (computed once for all arms).
struct histogram_plan {
    std::string_view series;
    std::string family;
    std::string_view help;
    std::size_t decimals = 0;
    std::vector<double> thresholds;
    std::vector<std::string> le_texts;
};

/// Native thresholds and `le` texts of configured classic bounds.
inline void fill_bounds(histogram_plan& plan, const classic_buckets& buckets) {
    for (const std::uint64_t bound : buckets.upper_bounds()) {
        plan.thresholds.push_back(static_cast<double>(bound));  // exact: bound <= 2^53
        std::string text;
        append_shifted_decimal(text, std::to_string(bound), plan.decimals);
        plan.le_texts.push_back(std::move(text));
    }
}

/// Bounds of a histogram of unknown unit: powers of two of its native unit
/// (fine edges, so exact) ending at 2^max_exponent, at most 32 of them.
inline void fill_power_of_two_bounds(histogram_plan& plan, const histogram_layout& layout) {
    const int span = layout.max_exponent() - layout.min_exponent();
    const int step = std::max(1, (span + 31) / 32);
    for (int e = layout.max_exponent() - span / step * step; e <= layout.max_exponent();
         e += step) {
        const double bound = std::ldexp(1.0, e);
        plan.thresholds.push_back(bound);
        std::string text;
        append_double(text, bound);
        plan.le_texts.push_back(std::move(text));
    }
}

/// Writes the text of one exposition. Everything that can be invalid is
/// checked before the first byte is written.
class writer {
public:
    writer(std::string& out, const snapshot& snap, const exposition_options& options)
        : out_(out), snap_(snap), options_(options) {}

    void run() {
        plan();
        out_.reserve(out_.size() + estimated_size());
        write_window();
        write_counter_family(outcomes_, "requests_total", "outcome",
                             "Requests finished, by arm, model version and outcome.",
                             [](const arm_snapshot& arm, std::string_view outcome_name) {
                                 return outcome_requests(arm, outcome_name);
                             });
        write_counter_family(
            feedback_, "feedback_total", "kind",
            "User feedback received, by arm, model version and kind.",
            [](const arm_snapshot& arm, std::string_view kind) {
                return arm.counter(std::string(series::feedback_prefix) + std::string(kind));
            });
        write_counter_family(
            rejections_, "rejections_total", "reason",
            "Recorded values rejected as invalid, by arm, model version and reason.",
            [](const arm_snapshot& arm, std::string_view reason) {
                return rejections(arm, reason);
            });
        for (const histogram_plan& h : histograms_) write_histogram_family(h, {});
        write_counter_family(
            other_counters_, "series_total", "series",
            "Other per-arm counters, by arm, model version and series name.",
            [](const arm_snapshot& arm, std::string_view counter) { return arm.counter(counter); });
        for (const histogram_plan& h : other_histograms_) write_histogram_family(h, "series");
        write_recorder_counters();
    }

private:
    // --- planning ---------------------------------------------------------

    void plan() {
        for (const prometheus_label& label : options_.constant_labels) {
            if (!constants_.empty()) constants_ += ',';
            constants_ += label.name;
            constants_ += "=\"";
            append_label_value(constants_, label.value);
            constants_ += '"';
        }
        const auto& arms = snap_.arms();
        arm_labels_.reserve(arms.size());
        for (std::size_t a = 0; a < arms.size(); ++a) {
            const arm_snapshot& arm = arms[a];
            require_utf8(arm.arm(), "arms[" + std::to_string(a) + "].arm()");
            require_utf8(arm.model_version(), "arms[" + std::to_string(a) + "].model_version()");
            std::string labels = constants_;
            if (!labels.empty()) labels += ',';
            labels += "arm=\"";
            append_label_value(labels, arm.arm());
            labels += "\",model_version=\"";
            append_label_value(labels, arm.model_version());
            labels += '"';
            arm_labels_.push_back(std::move(labels));
        }
        plan_histograms();
        plan_counters();
    }

    [[nodiscard]] bool is_known_histogram(std::string_view name) const noexcept {
        return std::any_of(known_histograms.begin(), known_histograms.end(),
                           [&](const known_histogram& k) { return k.series == name; });
    }

    void plan_histograms() {
        for (const known_histogram& known : known_histograms) {
            const bool present = std::any_of(
                snap_.arms().begin(), snap_.arms().end(),
                [&](const arm_snapshot& a) { return a.histogram(known.series) != nullptr; });
            if (!present) continue;
            histogram_plan h;
            h.series = known.series;
            h.family = options_.prefix + '_' + std::string(known.family);
            h.help = known.help;
            h.decimals = known.decimals;
            fill_bounds(h, options_.buckets.*known.buckets);
            histograms_.push_back(std::move(h));
        }
        // Other histograms share one family with a `series` label; each keeps
        // the bounds of the first arm that has it, so all arms agree.
        std::map<std::string_view, const histogram_layout*> others;
        for (const arm_snapshot& arm : snap_.arms()) {
            for (const auto& [name, h] : arm.histograms()) {
                if (!is_known_histogram(name)) others.emplace(name, &h.layout());
            }
        }
        for (const auto& [name, layout] : others) {
            require_utf8(name, "histogram name");
            histogram_plan h;
            h.series = name;
            h.family = options_.prefix + "_series_values";
            h.help =
                "Other per-arm histograms in their native unit, by arm, model version and "
                "series name.";
            fill_power_of_two_bounds(h, *layout);
            other_histograms_.push_back(std::move(h));
        }
    }

    [[nodiscard]] bool is_histogram_sum(std::string_view counter) const {
        constexpr std::string_view suffix = ".sum";
        if (counter.size() < suffix.size() ||
            counter.substr(counter.size() - suffix.size()) != suffix) {
            return false;
        }
        const std::string_view base = counter.substr(0, counter.size() - suffix.size());
        const auto matches = [&](const histogram_plan& h) { return h.series == base; };
        return std::any_of(histograms_.begin(), histograms_.end(), matches) ||
               std::any_of(other_histograms_.begin(), other_histograms_.end(), matches);
    }

    void plan_counters() {
        for (std::size_t i = 0; i < outcome_count; ++i)
            outcomes_.add_known(name(static_cast<outcome>(i)));
        for (std::size_t i = 0; i < feedback_kind_count; ++i) {
            feedback_.add_known(name(static_cast<feedback_kind>(i)));
        }
        std::set<std::string, std::less<>> extra_outcomes, extra_feedback, reasons, others;
        bool unclassified = false;
        outcomes_.present = !snap_.arms().empty();  // every arm has a request count, if only 0
        for (const arm_snapshot& arm : snap_.arms()) {
            for (const auto& [counter, value] : arm.counters()) {
                std::string_view rest;
                if (counter == series::requests) {
                    unclassified = unclassified || value > classified_requests(arm);
                } else if (strip_prefix(counter, series::outcome_prefix, rest)) {
                    require_utf8(counter, "outcome counter");
                    outcomes_.add_found(extra_outcomes, rest);
                } else if (strip_prefix(counter, series::feedback_prefix, rest)) {
                    require_utf8(counter, "feedback counter");
                    feedback_.add_found(extra_feedback, rest);
                } else if (strip_prefix(counter, series::rejected_prefix, rest)) {
                    require_utf8(counter, "rejection counter");
                    rejections_.add_found(reasons, rest);
                } else if (!is_histogram_sum(counter)) {
                    require_utf8(counter, "counter");
                    other_counters_.add_found(others, counter);
                }
            }
            for (const auto& [histogram, h] : arm.histograms()) {
                if (h.rejected_count() != 0) rejections_.add_found(reasons, histogram + ".invalid");
            }
        }
        if (unclassified) outcomes_.add_found(extra_outcomes, unclassified_outcome);
        outcomes_.finish(extra_outcomes);
        feedback_.finish(extra_feedback);
        rejections_.finish(reasons);
        other_counters_.finish(others);

        for (const auto& [counter, value] : snap_.counters()) {
            require_utf8(counter, "recorder-wide counter");
            recorder_families_[options_.prefix + "_recorder_" + sanitized_family_part(counter) +
                               "_total"]
                .emplace_back(counter, value);
        }
    }

    static constexpr std::string_view unclassified_outcome = "unclassified";

    [[nodiscard]] static wide_uint classified_requests(const arm_snapshot& arm) {
        wide_uint sum;
        for (const auto& [counter, value] : arm.counters()) {
            if (counter.starts_with(series::outcome_prefix)) sum += value;
        }
        return sum;
    }

    /// A generous bound on the output, so `out_` grows once.
    [[nodiscard]] std::size_t estimated_size() const {
        std::size_t longest_labels = 0;
        for (const std::string& labels : arm_labels_)
            longest_labels = std::max(longest_labels, labels.size());
        std::size_t per_arm_samples = outcomes_.values.size() + feedback_.values.size() +
                                      rejections_.values.size() + other_counters_.values.size();
        std::size_t families = 8 + recorder_families_.size();
        for (const auto* plans : {&histograms_, &other_histograms_}) {
            for (const histogram_plan& h : *plans) {
                per_arm_samples += h.thresholds.size() + 3;
                ++families;
            }
        }
        const std::size_t samples =
            snap_.arms().size() * per_arm_samples + snap_.counters().size() + 3;
        constexpr std::size_t per_family = 256;  // HELP and TYPE lines
        constexpr std::size_t per_sample = 112;  // name, extra label, le, value
        return families * per_family + samples * (longest_labels + per_sample);
    }

    // --- writing ------------------------------------------------------------

    void family_header(std::string_view name, std::string_view type, std::string_view help) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        append_help_text(out_, help);
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }

    /// `name{labels,extra="...",le="..."} ` up to the value. `labels` is
    /// already escaped; an empty extra name or le leaves that label out.
    void sample_start(std::string_view name, std::string_view suffix, std::string_view labels,
                      std::string_view extra_name, std::string_view extra_value,
                      std::string_view le) {
        out_ += name;
        out_ += suffix;
        if (!labels.empty() || !extra_name.empty() || !le.empty()) {
            out_ += '{';
            bool first = true;
            const auto separate = [&] {
                if (!first) out_ += ',';
                first = false;
            };
            if (!labels.empty()) {
                separate();
                out_ += labels;
            }
            if (!extra_name.empty()) {
                separate();
                out_ += extra_name;
                out_ += "=\"";
                append_label_value(out_, extra_value);
                out_ += '"';
            }
            if (!le.empty()) {
                separate();
                out_ += "le=\"";
                out_ += le;
                out_ += '"';
            }
            out_ += '}';
        }
        out_ += ' ';
    }

    void write_window() {
        const auto write_seconds = [&](std::string_view suffix, std::string_view help,
                                       std::int64_t ns) {
            const std::string name = options_.prefix + std::string(suffix);
            family_header(name, "gauge", help);
            sample_start(name, {}, constants_, {}, {}, {});
            // Magnitude in unsigned arithmetic: -INT64_MIN does not fit.
            const std::uint64_t magnitude = ns < 0
                                                ? std::uint64_t{0} - static_cast<std::uint64_t>(ns)
                                                : static_cast<std::uint64_t>(ns);
            if (ns < 0) out_ += '-';
            append_shifted_decimal(out_, std::to_string(magnitude), 9);
            out_ += '\n';
        };
        write_seconds("_window_start_seconds",
                      "Start of the snapshot's window, in seconds on the recorder's clock (usually "
                      "Unix time).",
                      snap_.window_start_ns());
        write_seconds(
            "_window_end_seconds",
            "End of the snapshot's window (exclusive), in seconds on the recorder's clock "
            "(usually Unix time).",
            snap_.window_end_ns());
        const std::string name = options_.prefix + "_snapshot_sources";
        family_header(name, "gauge",
                      "Number of snapshots (replicas, recorders) merged into this one.");
        sample_start(name, {}, constants_, {}, {}, {});
        append_uint(out_, snap_.sources());
        out_ += '\n';
    }

    template <class ValueOf>
    void write_counter_family(const labelled_counter_family& family, std::string_view suffix,
                              std::string_view label, std::string_view help, ValueOf value_of) {
        if (!family.present || arm_labels_.empty()) return;
        const std::string name = options_.prefix + '_' + std::string(suffix);
        family_header(name, "counter", help);
        for (std::size_t a = 0; a < arm_labels_.size(); ++a) {
            for (const std::string& value : family.values) {
                sample_start(name, {}, arm_labels_[a], label, value, {});
                out_ += value_of(snap_.arms()[a], value).to_string();
                out_ += '\n';
            }
        }
    }

    /// Requests with this outcome. "unclassified" also takes the requests
    /// that no outcome counter classifies, so the family sums to `requests`.
    [[nodiscard]] static wide_uint outcome_requests(const arm_snapshot& arm,
                                                    std::string_view outcome_name) {
        wide_uint total =
            arm.counter(std::string(series::outcome_prefix) + std::string(outcome_name));
        if (outcome_name == unclassified_outcome) {
            const wide_uint requests = arm.counter(series::requests);
            const wide_uint classified = classified_requests(arm);
            if (requests > classified) total += requests - classified;
        }
        return total;
    }

    /// Rejections counted by the recorder (`rejected.<reason>`) plus those a
    /// histogram counted itself, under reason "<series>.invalid".
    [[nodiscard]] static wide_uint rejections(const arm_snapshot& arm, std::string_view reason) {
        wide_uint total = arm.counter(std::string(series::rejected_prefix) + std::string(reason));
        constexpr std::string_view suffix = ".invalid";
        if (reason.ends_with(suffix)) {
            const exp_histogram* h = arm.histogram(reason.substr(0, reason.size() - suffix.size()));
            if (h != nullptr) total += h->rejected_count();
        }
        return total;
    }

    void write_histogram_family(const histogram_plan& plan, std::string_view label) {
        if (arm_labels_.empty()) return;
        // A family shared by several histograms (label "series") gets one header.
        if (plan.family != last_histogram_family_) {
            family_header(plan.family, "histogram", plan.help);
            last_histogram_family_ = plan.family;
        }
        std::vector<std::uint64_t> counts(plan.thresholds.size());
        const std::string sum_counter = std::string(plan.series) + ".sum";
        for (std::size_t a = 0; a < arm_labels_.size(); ++a) {
            const arm_snapshot& arm = snap_.arms()[a];
            const exp_histogram* h = arm.histogram(plan.series);
            std::uint64_t total = 0;
            if (h != nullptr) {
                cumulative_counts(*h, plan.thresholds, counts);
                total = h->count();
            } else {
                std::fill(counts.begin(), counts.end(), std::uint64_t{0});
            }
            for (std::size_t k = 0; k < counts.size(); ++k) {
                sample_start(plan.family, "_bucket", arm_labels_[a], label, plan.series,
                             plan.le_texts[k]);
                append_uint(out_, counts[k]);
                out_ += '\n';
            }
            sample_start(plan.family, "_bucket", arm_labels_[a], label, plan.series, "+Inf");
            append_uint(out_, total);
            out_ += '\n';

            sample_start(plan.family, "_sum", arm_labels_[a], label, plan.series, {});
            if (arm.counters().contains(sum_counter) || h == nullptr) {
                append_shifted_decimal(out_, arm.counter(sum_counter).to_string(), plan.decimals);
            } else {
                append_double(
                    out_, estimated_sum(*h) / std::pow(10.0, static_cast<double>(plan.decimals)));
            }
            out_ += '\n';

            sample_start(plan.family, "_count", arm_labels_[a], label, plan.series, {});
            append_uint(out_, total);
            out_ += '\n';
        }
    }

    void write_recorder_counters() {
        for (const auto& [family, members] : recorder_families_) {
            if (members.size() == 1) {
                family_header(family, "counter",
                              "Recorder-wide counter " + members.front().first +
                                  " (not attributed to any arm).");
            } else {
                // Names that differ only in characters a metric name cannot
                // hold share the family, told apart by a `counter` label.
                family_header(family, "counter",
                              "Recorder-wide counters whose names map to this family; the counter "
                              "label holds each name.");
            }
            for (const auto& [raw, value] : members) {
                sample_start(family, {}, constants_, members.size() == 1 ? "" : "counter", raw, {});
                out_ += value.to_string();
                out_ += '\n';
            }
        }
    }

    std::string& out_;
    const snapshot& snap_;
    const exposition_options& options_;

    std::string constants_;                // escaped constant labels, comma separated
    std::vector<std::string> arm_labels_;  // constants_ + arm + model_version
    labelled_counter_family outcomes_;
    labelled_counter_family feedback_;
    labelled_counter_family rejections_;
    labelled_counter_family other_counters_;
    std::vector<histogram_plan> histograms_;
    std::vector<histogram_plan> other_histograms_;
    std::map<std::string, std::vector<std::pair<std::string, wide_uint>>> recorder_families_;
    std::string last_histogram_family_;
};

/// Restores a string's size unless dismissed: the strong guarantee of
/// append_prometheus without try/catch (which -fno-exceptions forbids).
class size_guard {
public:
    explicit size_guard(std::string& s) noexcept : s_(s), size_(s.size()) {}
    size_guard(const size_guard&) = delete;
    size_guard& operator=(const size_guard&) = delete;
    ~size_guard() {
        if (armed_) s_.resize(size_);
    }
    void dismiss() noexcept { armed_ = false; }

private:
    std::string& s_;
    std::size_t size_;
    bool armed_ = true;
};

}  // namespace detail::prometheus_text

inline void exposition_options::validate() const {
    namespace text = detail::prometheus_text;
    const auto fail = [](const std::string& what) {
        detail::throw_invalid_argument("canarygate::exposition_options: " + what);
    };
    if (!text::is_valid_name(prefix) || prefix.starts_with("__")) {
        fail("prefix = \"" + prefix +
             "\" must match [a-zA-Z_][a-zA-Z0-9_]* (no colons) and not start with \"__\"");
    }
    for (std::size_t i = 0; i < constant_labels.size(); ++i) {
        const std::string field = "constant_labels[" + std::to_string(i) + "]";
        const std::string& label_name = constant_labels[i].name;
        if (!text::is_valid_name(label_name)) {
            fail(field + ".name = \"" + label_name + "\" must match [a-zA-Z_][a-zA-Z0-9_]*");
        }
        if (label_name.starts_with("__")) {
            fail(field + ".name = \"" + label_name +
                 "\" starts with \"__\", which Prometheus reserves");
        }
        if (std::find(text::reserved_label_names.begin(), text::reserved_label_names.end(),
                      label_name) != text::reserved_label_names.end()) {
            fail(field + ".name = \"" + label_name + "\" is a label the exposition sets itself");
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (constant_labels[j].name == label_name) {
                fail(field + ".name = \"" + label_name + "\" repeats constant_labels[" +
                     std::to_string(j) + "].name");
            }
        }
        if (!text::is_valid_utf8(constant_labels[i].value)) {
            fail(field + ".value (label \"" + label_name + "\") is not valid UTF-8");
        }
    }
}

template <class Allocator>
[[nodiscard]] inline std::vector<std::uint64_t> classic_bucket_counts(
    const basic_exp_histogram<Allocator>& h, const classic_buckets& buckets) {
    std::vector<double> thresholds;
    thresholds.reserve(buckets.size());
    for (const std::uint64_t bound : buckets.upper_bounds()) {
        thresholds.push_back(static_cast<double>(bound));  // exact: bound <= 2^53
    }
    std::vector<std::uint64_t> counts(thresholds.size());
    detail::prometheus_text::cumulative_counts(h, thresholds, counts);
    return counts;
}

inline void append_prometheus(std::string& out, const snapshot& snap,
                              const exposition_options& options) {
    options.validate();
    detail::prometheus_text::size_guard guard(out);
    detail::prometheus_text::writer(out, snap, options).run();
    guard.dismiss();
}

[[nodiscard]] inline std::string to_prometheus(const snapshot& snap,
                                               const exposition_options& options) {
    std::string out;
    append_prometheus(out, snap, options);
    return out;
}

CANARYGATE_NAMESPACE_END
