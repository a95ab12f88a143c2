// SPDX-License-Identifier: MIT
/// \file
/// Optional integration header: needs nlohmann-json >= 3.11 (Debian 12:
/// nlohmann-json3-dev). CMake: link the component target canarygate::json
/// (`find_package(canarygate COMPONENTS json)` finds nlohmann-json too). Not
/// included by canarygate.hpp.
///
/// JSON form of snapshots and histograms, for tools, dashboards and audit
/// logs; the compact form for the wire is codec.hpp. `to_json` / `from_json`
/// are found by nlohmann's ADL lookup, so `nlohmann::json j = snap;` and
/// `j.get<canarygate::snapshot>()` work. Reading validates like the binary
/// decoder and throws canarygate::decode_error with the JSON Pointer of the
/// offending value.
///
/// `parse_snapshot` reads JSON text in one streaming pass (nlohmann's SAX
/// parser) without building a DOM: it keeps only what the snapshot will
/// hold, so its memory is bounded by `decode_limits` (series, bucket counts,
/// nesting depth) and stays within a small multiple of the input (a DOM
/// costs 9 to 27 times the text). It refuses a value the schema does not
/// expect where it stands -- `[[[[...` fails at its first byte -- and
/// duplicate object keys, which nlohmann::json::parse silently collapses.
/// Allocation failure becomes a decode_error. Reading a DOM (`from_json`)
/// serialises it and runs the same reader, so the two cannot disagree.
///
/// Example:
/// \code
///   std::string text = nlohmann::json(fleet).dump();
///   canarygate::snapshot back = canarygate::parse_snapshot(text);   // == fleet
/// \endcode
///
/// ## Document, version 1
///
/// ```
/// {
///   "format": "canarygate.snapshot", "version": 1,
///   "window_start_ns": "1767225600000000000", "window_end_ns": "1767225900000000000",
///   "sources": 1,
///   "counters": { "feedback.unknown_request": 2 },
///   "arms": [                                   // sorted by (arm, model_version), unique
///     { "arm": "baseline", "model_version": "v7",
///       "counters": { "requests": 3000, "latency_ns.sum": 1820000000000 },
///       "histograms": {
///         "latency_ns": { "scale": 5, "min_exponent": 16, "max_exponent": 41,
///                         "zero": 0, "underflow": 0, "overflow": 0, "rejected": 0,
///                         "spans": [ { "index": 922, "counts": [1, 3, 2] } ] } } } ] }
/// ```
///
/// - Integers (counters, counts, times, `sources`) are JSON numbers when their
///   magnitude is at most 2^53, so every JSON reader (JavaScript's included)
///   reads them exactly, and decimal strings above (timestamps in nanoseconds
///   since the epoch, sums beyond 2^53, wide counters up to 2^128 - 1).
///   Readers accept either form for any value in range; numbers with a
///   fraction or an exponent are rejected.
/// - A span is a run of buckets: `index` is the absolute bucket index of its
///   first bucket (bucket i holds (b^i, b^(i+1)], b = 2^(2^-scale)), `counts`
///   the bucket counts. Writers emit the maximal runs of non-empty buckets;
///   readers also accept zero counts and adjacent spans, but spans must be
///   non-empty, in increasing order, non-overlapping and inside the layout.
/// - Every key is required and unknown keys are rejected (typos do not pass
///   silently). Names follow the binary rules: 1..256 bytes, model versions
///   0..256.
/// - Names are written as JSON strings; nlohmann's dump() throws
///   nlohmann::json::type_error (316) for names that are not valid UTF-8 (the
///   binary format accepts any bytes).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/window/codec.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Value of the "format" member of a snapshot document.
inline constexpr std::string_view snapshot_json_format = "canarygate.snapshot";
/// Value of the "version" member written, and the only one read.
inline constexpr int snapshot_json_version = 1;

/// Writes `h` as a JSON object (see the file comment). Never throws but for
/// allocation failure.
template <class Allocator>
void to_json(nlohmann::json& j, const basic_exp_histogram<Allocator>& h);

/// Reads a histogram written by to_json; throws decode_error with the JSON
/// Pointer of the bad value. `h` keeps its allocator and is unchanged on error.
template <class Allocator>
void from_json(const nlohmann::json& j, basic_exp_histogram<Allocator>& h);

/// Writes `s` as a version-1 snapshot document (see the file comment).
inline void to_json(nlohmann::json& j, const snapshot& s);

/// Reads a snapshot document with the default decode_limits; throws
/// decode_error with the JSON Pointer of the first bad value. `s` is
/// unchanged on error.
inline void from_json(const nlohmann::json& j, snapshot& s);

/// Reads a snapshot document with explicit limits (see from_json).
[[nodiscard]] inline snapshot snapshot_from_json(const nlohmann::json& j,
                                                 const decode_limits& limits = {});

/// Parses JSON text into a snapshot, streaming (no DOM). Throws decode_error
/// with the byte offset for a syntax error (nlohmann's message included), the
/// JSON Pointer of the object for a duplicate key, as from_json for an
/// invalid document, and for input beyond `limits` (nesting deeper than
/// max_json_depth, more series than max_series, more bucket counts than
/// max_total_buckets) or an allocation failure. Memory: O(input) at most,
/// in practice the snapshot being built plus one histogram's counts.
///
/// Example: `auto s = canarygate::parse_snapshot(R"({"format": ...})");`
[[nodiscard]] inline snapshot parse_snapshot(std::string_view json_text,
                                             const decode_limits& limits = {});

// --- Implementation -----------------------------------------------------------

namespace detail {

/// Largest magnitude written as a JSON number: every double holds it exactly.
inline constexpr std::uint64_t json_exact_integer_limit = std::uint64_t{1} << 53;

/// Appends `token` to a JSON Pointer, escaping '~' and '/' (RFC 6901).
inline void append_pointer_token(std::string& pointer, std::string_view token) {
    pointer += '/';
    for (const char c : token) {
        if (c == '~') {
            pointer += "~0";
        } else if (c == '/') {
            pointer += "~1";
        } else {
            pointer += c;
        }
    }
}

[[nodiscard]] inline nlohmann::json json_integer(wide_uint value) {
    if (value.high == 0 && value.low <= json_exact_integer_limit) return value.low;
    return value.to_string();
}

[[nodiscard]] inline nlohmann::json json_integer(std::int64_t value) {
    const std::uint64_t magnitude = value < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(value)
                                              : static_cast<std::uint64_t>(value);
    if (magnitude <= json_exact_integer_limit) return value;
    return std::to_string(value);
}

/// A decimal string of digits, no sign, no leading zero (but "0"), at most
/// 2^128 - 1; false otherwise.
[[nodiscard]] inline bool parse_decimal(std::string_view digits, wide_uint& out) noexcept {
    if (digits.empty() || (digits.size() > 1 && digits.front() == '0')) return false;
    constexpr wide_uint max_before_times_ten{0x1999999999999999U, 0x9999999999999999U};
    wide_uint value;
    for (const char c : digits) {
        if (c < '0' || c > '9') return false;
        if (value > max_before_times_ten) return false;
        const wide_uint times_eight{(value.high << 3) | (value.low >> 61), value.low << 3};
        const wide_uint times_two{(value.high << 1) | (value.low >> 63), value.low << 1};
        const wide_uint times_ten = times_eight + times_two;  // <= 2^128 - 6: no wrap
        value = times_ten + wide_uint{static_cast<std::uint64_t>(c - '0')};
        if (value < times_ten) return false;  // wrapped past 2^128 - 1
    }
    out = value;
    return true;
}

template <class Allocator>
void histogram_to_json(nlohmann::json& j, const basic_exp_histogram<Allocator>& h) {
    const histogram_layout& layout = h.layout();
    j = nlohmann::json::object();
    j["scale"] = layout.scale();
    j["min_exponent"] = layout.min_exponent();
    j["max_exponent"] = layout.max_exponent();
    j["zero"] = json_integer(wide_uint{h.zero_count()});
    j["underflow"] = json_integer(wide_uint{h.underflow_count()});
    j["overflow"] = json_integer(wide_uint{h.overflow_count()});
    j["rejected"] = json_integer(wide_uint{h.rejected_count()});
    auto spans = nlohmann::json::array();
    const std::span<const std::uint64_t> buckets = h.buckets();
    for_each_nonzero_run(buckets, [&](std::size_t first, std::size_t length) {
        auto counts = nlohmann::json::array();
        for (std::size_t k = first; k < first + length; ++k)
            counts.push_back(json_integer(wide_uint{buckets[k]}));
        spans.push_back({{"index", layout.first_index() + static_cast<std::int64_t>(first)},
                         {"counts", std::move(counts)}});
    });
    j["spans"] = std::move(spans);
}

inline nlohmann::json counters_to_json(
    const std::map<std::string, wide_uint, std::less<>>& counters) {
    auto j = nlohmann::json::object();
    for (const auto& [name, value] : counters) j[name] = json_integer(value);
    return j;
}

/// One scalar as the SAX parser hands it over (strings and the literal of a
/// floating-point number are views, valid during the call).
struct json_scalar {
    enum class type { null, boolean, signed_integer, unsigned_integer, floating, string };
    type kind = type::null;
    bool boolean = false;
    std::int64_t signed_value = 0;
    std::uint64_t unsigned_value = 0;
    std::string_view text;

    [[nodiscard]] bool is_integer() const noexcept {
        return kind == type::signed_integer || kind == type::unsigned_integer;
    }
    /// What the value is, for "expected ..., found ..." messages (long
    /// strings cut).
    [[nodiscard]] std::string describe() const {
        switch (kind) {
            case type::signed_integer:
                return "the number " + std::to_string(signed_value);
            case type::unsigned_integer:
                return "the number " + std::to_string(unsigned_value);
            case type::floating:
                return "the number " + std::string(text);
            case type::string: {
                std::string quoted =
                    nlohmann::json(std::string(text))
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
                if (quoted.size() > 80) quoted = quoted.substr(0, 72) + "...(cut)";
                return "the string " + quoted;
            }
            case type::boolean:
                return "a value of type boolean";
            case type::null:
                break;
        }
        return "a value of type null";
    }
};

// What snapshot_sax_reader keeps while reading (defined outside it: default
// member initialisers of a nested class are not usable inside the class).

// A span as read: its index and the number of its counts (the counts of a
// histogram's spans follow one another in the reader's counts_). 32 bytes:
// every span holds at least one count (an empty one is refused when it
// closes), so spans are bounded by decode_limits::max_total_buckets.
struct json_span_data {
    std::int64_t index = 0;            // when index_fits
    std::uint64_t unsigned_index = 0;  // when not: an integer beyond int64
    std::size_t length = 0;
    bool index_fits = true;

    [[nodiscard]] std::string index_text() const {
        return index_fits ? std::to_string(index) : std::to_string(unsigned_index);
    }
};
struct json_histogram_data {
    std::optional<int> scale, min_exponent, max_exponent;
    std::uint64_t zero = 0, underflow = 0, overflow = 0, rejected = 0;
    std::vector<json_span_data> spans;
};
struct json_arm_data {
    std::string arm, model_version;
    std::map<std::string, wide_uint, std::less<>> counters;
    std::map<std::string, exp_histogram, std::less<>> histograms;
};
struct json_document_data {
    std::int64_t version = 0, start = 0, end = 0;
    std::uint64_t sources = 0;
    std::map<std::string, wide_uint, std::less<>> counters;
    std::vector<json_arm_data> arms;
};

/// Reads a snapshot document (or, with `histogram_only`, one histogram
/// object) from nlohmann's SAX events, validating as it goes. Nothing is
/// built but the result: names, counters and bucket counts, bounded by
/// decode_limits (max_series names, max_total_buckets bucket counts, at most
/// max_json_depth levels of nesting -- the schema needs 8, and a container
/// the schema does not expect is refused at once). Errors are decode_error
/// with the JSON Pointer of the offending value, or the byte offset of a
/// syntax error.
class snapshot_sax_reader {
public:
    using number_integer_t = nlohmann::json::number_integer_t;
    using number_unsigned_t = nlohmann::json::number_unsigned_t;
    using number_float_t = nlohmann::json::number_float_t;
    using string_t = nlohmann::json::string_t;
    using binary_t = nlohmann::json::binary_t;

    snapshot_sax_reader(const decode_limits& limits, bool histogram_only)
        : limits_(limits),
          bucket_budget_(limits.max_total_buckets),
          histogram_only_(histogram_only) {}

    // --- nlohmann SAX interface: every event either advances or throws. ---
    bool null() { return scalar({}); }
    bool boolean(bool value) {
        json_scalar v;
        v.kind = json_scalar::type::boolean;
        v.boolean = value;
        return scalar(v);
    }
    bool number_integer(number_integer_t value) {
        json_scalar v;
        v.kind = json_scalar::type::signed_integer;
        v.signed_value = value;
        return scalar(v);
    }
    bool number_unsigned(number_unsigned_t value) {
        json_scalar v;
        v.kind = json_scalar::type::unsigned_integer;
        v.unsigned_value = value;
        return scalar(v);
    }
    bool number_float(number_float_t, const string_t& literal) {
        json_scalar v;
        v.kind = json_scalar::type::floating;
        v.text = literal;
        return scalar(v);
    }
    bool string(string_t& value) {
        json_scalar v;
        v.kind = json_scalar::type::string;
        v.text = value;
        return scalar(v);
    }
    bool binary(binary_t&) { return scalar({}); }  // not produced by the JSON parser
    bool start_object(std::size_t) { return open(true); }
    bool start_array(std::size_t) { return open(false); }
    bool key(string_t& name) { return member(name); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool parse_error(std::size_t position, const std::string&,
                     const nlohmann::detail::exception& e) {
        // `position` counts the bytes read, so the last one read is at
        // position - 1: the offending byte (for a number beyond double's
        // range, out_of_range 406, the number's last byte).
        raise(decode_error(std::string("JSON syntax error: ") + e.what(),
                           position == 0 ? 0 : position - 1));
    }

    [[nodiscard]] snapshot take_snapshot() { return std::move(*result_); }
    [[nodiscard]] exp_histogram take_histogram() { return std::move(*histogram_result_); }

private:
    // What a container is, in the schema.
    enum class place : std::uint8_t {
        document,    // the root object of a snapshot document
        counters,    // name -> counter (recorder-wide, or an arm's)
        arms,        // array of arm objects
        arm,         // an arm object
        histograms,  // name -> histogram object
        histogram,   // a histogram object
        spans,       // array of span objects
        span,        // a span object
        counts,      // array of bucket counts
    };

    // Fixed keys of the objects with a schema, by bit position.
    static constexpr std::array<std::string_view, 7> document_keys = {
        "format", "version", "window_start_ns", "window_end_ns", "sources", "counters", "arms"};
    static constexpr std::array<std::string_view, 4> arm_keys = {"arm", "model_version", "counters",
                                                                 "histograms"};
    static constexpr std::array<std::string_view, 8> histogram_keys = {
        "scale",     "min_exponent", "max_exponent", "zero",
        "underflow", "overflow",     "rejected",     "spans"};
    static constexpr std::array<std::string_view, 2> span_keys = {"index", "counts"};

    struct frame {
        place kind;
        std::string key;           // objects: the member being read
        std::size_t elements = 0;  // arrays: elements begun
        std::uint32_t seen = 0;    // objects with a schema: keys read, by bit
        int field = -1;            // objects with a schema: the member's bit
    };

    // --- Paths and errors ---

    [[nodiscard]] std::string pointer(std::size_t frames) const {
        std::string p;
        for (std::size_t i = 0; i < frames && i < stack_.size(); ++i) {
            const frame& f = stack_[i];
            if (is_object(f.kind)) {
                append_pointer_token(p, f.key);
            } else {
                p += '/' + std::to_string(f.elements - 1);
            }
        }
        return p;
    }
    // The value being read (or the container just opened, before it is pushed).
    [[noreturn]] void fail_here(const std::string& reason) const {
        raise(decode_error(reason, pointer(stack_.size())));
    }
    // The container on top of the stack itself.
    [[noreturn]] void fail_container(const std::string& reason) const {
        raise(decode_error(reason, pointer(stack_.size() - 1)));
    }

    static bool is_object(place p) noexcept {
        return p != place::arms && p != place::spans && p != place::counts;
    }

    // --- Structure ---

    // The place a new container would take, where the parent expects one.
    [[nodiscard]] std::optional<place> child_place(bool object) const {
        if (stack_.empty()) {
            if (!object) return std::nullopt;
            return histogram_only_ ? place::histogram : place::document;
        }
        const frame& f = stack_.back();
        switch (f.kind) {
            case place::document:
                if (f.field == 5) return object ? std::optional(place::counters) : std::nullopt;
                if (f.field == 6) return object ? std::nullopt : std::optional(place::arms);
                return std::nullopt;
            case place::arms:
                return object ? std::optional(place::arm) : std::nullopt;
            case place::arm:
                if (f.field == 2) return object ? std::optional(place::counters) : std::nullopt;
                if (f.field == 3) return object ? std::optional(place::histograms) : std::nullopt;
                return std::nullopt;
            case place::histograms:
                return object ? std::optional(place::histogram) : std::nullopt;
            case place::histogram:
                if (f.field == 7) return object ? std::nullopt : std::optional(place::spans);
                return std::nullopt;
            case place::spans:
                return object ? std::optional(place::span) : std::nullopt;
            case place::span:
                if (f.field == 1) return object ? std::nullopt : std::optional(place::counts);
                return std::nullopt;
            default:
                return std::nullopt;
        }
    }

    // What the parent expects at this position, for the message when a
    // container arrives instead.
    [[nodiscard]] std::string expectation() const {
        if (stack_.empty()) return "an object";
        const frame& f = stack_.back();
        switch (f.kind) {
            case place::document:
                if (f.field == 0 || f.field == 2 || f.field == 3 || f.field == 4 || f.field == 1)
                    return scalar_expectation(f);
                return f.field == 6 ? "an array" : "an object";
            case place::arm:
                return f.field <= 1 ? "a string" : "an object";
            case place::histogram:
                return f.field == 7 ? "an array" : scalar_expectation(f);
            case place::span:
                return f.field == 1 ? "an array" : "an integer number";
            case place::arms:
            case place::spans:
            case place::histograms:
                return "an object";
            default:
                return scalar_expectation(f);
        }
    }
    [[nodiscard]] static std::string scalar_expectation(const frame& f) {
        switch (f.kind) {
            case place::document:
                if (f.field == 0) return "\"canarygate.snapshot\"";
                if (f.field == 1) return "an integer number";
                if (f.field == 4)
                    return "a nonnegative integer (a JSON number, or a decimal string)";
                return "an integer (a JSON number, or a decimal string)";
            case place::histogram:
                return f.field <= 2 ? "an integer number"
                                    : "a nonnegative integer (a JSON number, or a decimal string)";
            default:
                return "a nonnegative integer (a JSON number, or a decimal string)";
        }
    }

    bool open(bool object) {
        if (stack_.size() + 1 > limits_.max_json_depth) {
            fail_here("nesting deeper than decode_limits::max_json_depth (" +
                      std::to_string(limits_.max_json_depth) + ")");
        }
        if (!stack_.empty() && !is_object(stack_.back().kind)) ++stack_.back().elements;
        const auto p = child_place(object);
        if (!p) {
            fail_here("expected " + expectation() + ", found a value of type " +
                      (object ? "object" : "array"));
        }
        switch (*p) {
            case place::document:
                document_.emplace();
                break;
            case place::arm:
                arm_.emplace();
                count_entry();
                break;
            case place::histogram:
                histogram_.emplace();
                break;
            case place::span:
                histogram_->spans.emplace_back();
                break;
            default:
                break;
        }
        stack_.push_back(frame{*p, {}, 0, 0, -1});
        return true;
    }

    bool member(const std::string& name) {
        frame& f = stack_.back();
        f.key = name;
        const auto fixed = [&](const auto& keys) {
            for (std::size_t i = 0; i < keys.size(); ++i) {
                if (keys[i] == name) {
                    if ((f.seen >> i) & 1U) {
                        fail_container("duplicate key " + printable_name(name));
                    }
                    f.seen |= 1U << i;
                    f.field = static_cast<int>(i);
                    return;
                }
            }
            fail_here("unknown key " + printable_name(name));
        };
        switch (f.kind) {
            case place::document:
                fixed(document_keys);
                break;
            case place::arm:
                fixed(arm_keys);
                break;
            case place::histogram:
                fixed(histogram_keys);
                break;
            case place::span:
                fixed(span_keys);
                break;
            case place::counters:
                if (const char* problem = name_problem(name, false))
                    fail_here(std::string("counter name ") + problem);
                if (counters_here().count(name) != 0)
                    fail_container("duplicate key " + printable_name(name));
                break;
            case place::histograms:
                if (const char* problem = name_problem(name, false))
                    fail_here(std::string("histogram name ") + problem);
                if (arm_->histograms.count(name) != 0)
                    fail_container("duplicate key " + printable_name(name));
                count_entry();
                break;
            default:
                break;
        }
        return true;
    }

    std::map<std::string, wide_uint, std::less<>>& counters_here() {
        // The counters object's parent is the document or an arm.
        return stack_[stack_.size() - 2].kind == place::arm ? arm_->counters : document_->counters;
    }

    // Arms, counters and histograms are each one entry of max_series.
    void count_entry() {
        if (++entries_ > limits_.max_series) {
            fail_here("more than decode_limits::max_series (" + std::to_string(limits_.max_series) +
                      ") arms, counters and histograms");
        }
    }

    template <std::size_t N>
    void require_keys(const frame& f, const std::array<std::string_view, N>& keys) const {
        for (std::size_t i = 0; i < N; ++i) {
            if (((f.seen >> i) & 1U) == 0) fail_container("missing key " + printable_name(keys[i]));
        }
    }

    bool close() {
        frame& f = stack_.back();
        switch (f.kind) {
            case place::document:
                require_keys(f, document_keys);
                finish_document();
                break;
            case place::arm:
                require_keys(f, arm_keys);
                finish_arm();
                break;
            case place::histogram:
                require_keys(f, histogram_keys);
                finish_histogram();
                break;
            case place::span:
                require_keys(f, span_keys);
                if (histogram_->spans.back().length == 0)
                    raise(decode_error("span is empty", pointer(stack_.size() - 1) + "/counts"));
                break;
            default:
                break;
        }
        stack_.pop_back();
        return true;
    }

    // --- Scalars ---

    bool scalar(const json_scalar& v) {
        if (stack_.empty()) fail_here("expected an object, found " + v.describe());
        frame& f = stack_.back();
        if (!is_object(f.kind)) ++f.elements;
        switch (f.kind) {
            case place::document:
                document_scalar(f.field, v);
                break;
            case place::counters:
                counters_here().emplace(f.key, read_wide(v, "2^128 - 1"));
                count_entry();
                break;
            case place::arm:
                if (f.field > 1) fail_here("expected an object, found " + v.describe());
                (f.field == 0 ? arm_->arm : arm_->model_version) =
                    std::string(read_name(v, f.field == 1));
                break;
            case place::histogram:
                histogram_scalar(f.field, v);
                break;
            case place::span:
                span_index(v);
                break;
            case place::counts: {
                const std::uint64_t count = read_u64(v);
                if (bucket_counts_ == limits_.max_total_buckets) {
                    fail_here("more bucket counts than decode_limits::max_total_buckets (" +
                              std::to_string(limits_.max_total_buckets) + ")");
                }
                ++bucket_counts_;
                counts_.push_back(count);
                ++histogram_->spans.back().length;
                break;
            }
            default:  // arms, histograms, spans: containers only
                fail_here("expected an object, found " + v.describe());
        }
        return true;
    }

    void document_scalar(int field, const json_scalar& v) {
        switch (field) {
            case 0:
                if (v.kind != json_scalar::type::string || v.text != snapshot_json_format)
                    fail_here("expected \"canarygate.snapshot\", found " + v.describe());
                break;
            case 1: {
                const std::int64_t version = read_number(v, 0, std::numeric_limits<int>::max());
                if (version != snapshot_json_version) {
                    fail_here("version " + std::to_string(version) +
                              (version > snapshot_json_version ? " is newer than" : " is not") +
                              " the version this reader knows (1)");
                }
                document_->version = version;
                break;
            }
            case 2:
                document_->start = read_i64(v);
                break;
            case 3:
                document_->end = read_i64(v);
                break;
            case 4:
                document_->sources = read_u64(v);
                break;
            default:
                fail_here("expected " + expectation() + ", found " + v.describe());
        }
    }

    void histogram_scalar(int field, const json_scalar& v) {
        json_histogram_data& h = *histogram_;
        constexpr std::int64_t int_min = std::numeric_limits<int>::min();
        constexpr std::int64_t int_max = std::numeric_limits<int>::max();
        switch (field) {
            case 0:
                h.scale = static_cast<int>(read_number(v, int_min, int_max));
                break;
            case 1:
                h.min_exponent = static_cast<int>(read_number(v, int_min, int_max));
                break;
            case 2:
                h.max_exponent = static_cast<int>(read_number(v, int_min, int_max));
                break;
            case 3:
                h.zero = read_u64(v);
                break;
            case 4:
                h.underflow = read_u64(v);
                break;
            case 5:
                h.overflow = read_u64(v);
                break;
            case 6:
                h.rejected = read_u64(v);
                break;
            default:
                fail_here("expected an array, found " + v.describe());
        }
    }

    void span_index(const json_scalar& v) {
        json_span_data& s = histogram_->spans.back();
        if (stack_.back().field != 0) fail_here("expected an array, found " + v.describe());
        if (!v.is_integer()) fail_here("expected an integer number, found " + v.describe());
        if (v.kind == json_scalar::type::signed_integer) {
            s.index = v.signed_value;
        } else {
            s.index_fits = v.unsigned_value <=
                           static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
            s.index = s.index_fits ? static_cast<std::int64_t>(v.unsigned_value) : 0;
            s.unsigned_index = v.unsigned_value;
        }
    }

    // --- Values ---

    [[nodiscard]] wide_uint read_wide(const json_scalar& v, const char* range) const {
        if (v.kind == json_scalar::type::unsigned_integer) return v.unsigned_value;
        if (v.kind == json_scalar::type::signed_integer) {
            if (v.signed_value < 0) fail_here("must not be negative, found " + v.describe());
            return static_cast<std::uint64_t>(v.signed_value);
        }
        if (v.kind == json_scalar::type::string) {
            wide_uint value;
            if (parse_decimal(v.text, value)) return value;
            fail_here(std::string("expected a decimal string of at most ") + range +
                      " (digits only, no leading zero), found " + v.describe());
        }
        fail_here("expected a nonnegative integer (a JSON number, or a decimal string), found " +
                  v.describe());
    }

    [[nodiscard]] std::uint64_t read_u64(const json_scalar& v) const {
        const wide_uint value = read_wide(v, "2^64 - 1");
        if (value.high != 0) fail_here("exceeds 2^64 - 1: " + value.to_string());
        return value.low;
    }

    [[nodiscard]] std::int64_t read_i64(const json_scalar& v) const {
        if (v.kind == json_scalar::type::signed_integer) return v.signed_value;
        bool negative = false;
        wide_uint magnitude;
        if (v.kind == json_scalar::type::unsigned_integer) {
            magnitude = v.unsigned_value;
        } else if (v.kind == json_scalar::type::string) {
            std::string_view text = v.text;
            negative = !text.empty() && text.front() == '-';
            if (negative) text.remove_prefix(1);
            if (!parse_decimal(text, magnitude) || (negative && magnitude == wide_uint{}))
                fail_here("expected a decimal integer string, found " + v.describe());
        } else {
            fail_here("expected an integer (a JSON number, or a decimal string), found " +
                      v.describe());
        }
        const std::uint64_t limit = std::uint64_t{1} << 63;  // |INT64_MIN|
        if (magnitude.high != 0 || magnitude.low > limit || (!negative && magnitude.low == limit))
            fail_here("is outside the signed 64-bit range");
        return negative ? static_cast<std::int64_t>(std::uint64_t{0} - magnitude.low)
                        : static_cast<std::int64_t>(magnitude.low);
    }

    // An integer written as a JSON number, within [low, high].
    [[nodiscard]] std::int64_t read_number(const json_scalar& v, std::int64_t low,
                                           std::int64_t high) const {
        if (!v.is_integer()) fail_here("expected an integer number, found " + v.describe());
        const bool fits = v.kind == json_scalar::type::signed_integer ||
                          v.unsigned_value <=
                              static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        const std::int64_t value = v.kind == json_scalar::type::signed_integer
                                       ? v.signed_value
                                       : static_cast<std::int64_t>(v.unsigned_value);
        if (!fits || value < low || value > high) {
            fail_here((v.kind == json_scalar::type::signed_integer
                           ? std::to_string(v.signed_value)
                           : std::to_string(v.unsigned_value)) +
                      " is outside [" + std::to_string(low) + ", " + std::to_string(high) + "]");
        }
        return value;
    }

    [[nodiscard]] std::string_view read_name(const json_scalar& v, bool may_be_empty) const {
        if (v.kind != json_scalar::type::string)
            fail_here("expected a string, found " + v.describe());
        if (const char* problem = name_problem(v.text, may_be_empty))
            fail_here(std::string("name ") + problem);
        return v.text;
    }

    // --- Finishing objects ---

    // Builds the histogram of the object just closed. Checks in a fixed
    // order whatever the order of the members: the layout, the budget, the
    // edge counts, then the spans.
    void finish_histogram() {
        json_histogram_data& d = *histogram_;
        if (auto why = histogram_layout::problem(*d.scale, *d.min_exponent, *d.max_exponent))
            fail_container("invalid layout: canarygate::histogram_layout: " + *why);
        const histogram_layout layout(*d.scale, *d.min_exponent, *d.max_exponent);
        if (layout.bucket_count() > bucket_budget_) {
            fail_container("layout " + layout.describe() + " has " +
                           std::to_string(layout.bucket_count()) +
                           " buckets, more than decode_limits::max_total_buckets still allows (" +
                           std::to_string(bucket_budget_) + ")");
        }
        bucket_budget_ -= layout.bucket_count();
        exp_histogram h(layout);
        std::uint64_t total = 0;
        const std::size_t depth = stack_.size();
        const auto add_total = [&](std::uint64_t count, const std::string& where) {
            if (!add_u64(total, count))
                raise(decode_error("histogram holds more than 2^64 - 1 values in total", where));
        };
        const std::string here = pointer(depth - 1);
        add_total(d.zero, here + "/zero");
        add_total(d.underflow, here + "/underflow");
        add_total(d.overflow, here + "/overflow");
        h.add_zero(d.zero);
        h.add_underflow(d.underflow);
        h.add_overflow(d.overflow);
        h.add_rejected(d.rejected);
        std::int64_t next_free = layout.first_index();
        std::size_t first = 0;  // the span's first count in counts_
        for (std::size_t s = 0; s < d.spans.size(); ++s) {
            const json_span_data& span = d.spans[s];
            const std::string span_path = here + "/spans/" + std::to_string(s);
            if (!span.index_fits || span.index < layout.first_index() ||
                span.index > layout.last_index()) {
                raise(decode_error(span.index_text() + " is outside [" +
                                       std::to_string(layout.first_index()) + ", " +
                                       std::to_string(layout.last_index()) + "]",
                                   span_path + "/index"));
            }
            if (span.index < next_free) {
                raise(decode_error("span starts at bucket index " + std::to_string(span.index) +
                                       ", before the end of the previous span (" +
                                       std::to_string(next_free) +
                                       "): spans must be in increasing order and must not overlap",
                                   span_path + "/index"));
            }
            if (span.length - 1 > static_cast<std::uint64_t>(layout.last_index() - span.index)) {
                raise(decode_error(
                    "span of " + std::to_string(span.length) + " buckets from index " +
                        std::to_string(span.index) + " ends past the layout's last bucket (index " +
                        std::to_string(layout.last_index()) + ", " + layout.describe() + ")",
                    span_path + "/counts"));
            }
            for (std::size_t k = 0; k < span.length; ++k) {
                const std::uint64_t count = counts_[first + k];
                add_total(count, span_path + "/counts/" + std::to_string(k));
                h.add_to_bucket(span.index + static_cast<std::int64_t>(k), count);
            }
            next_free = span.index + static_cast<std::int64_t>(span.length);
            first += span.length;
        }
        counts_.clear();
        histogram_.reset();
        if (histogram_only_) {
            histogram_result_.emplace(std::move(h));
        } else {
            arm_->histograms.emplace(stack_[depth - 2].key, std::move(h));
        }
    }

    void finish_arm() {
        json_arm_data& a = *arm_;
        if (!document_->arms.empty()) {
            const json_arm_data& previous = document_->arms.back();
            const auto order =
                std::pair<std::string_view, std::string_view>(previous.arm,
                                                              previous.model_version) <=>
                std::pair<std::string_view, std::string_view>(a.arm, a.model_version);
            if (order == 0) {
                fail_container("duplicate arm " + printable_name(a.arm) + "@" +
                               printable_name(a.model_version));
            }
            if (order > 0) {
                fail_container(
                    "arms are not sorted by (arm, model_version): " + printable_name(a.arm) + "@" +
                    printable_name(a.model_version) + " follows " + printable_name(previous.arm) +
                    "@" + printable_name(previous.model_version));
            }
        }
        document_->arms.push_back(std::move(a));
        arm_.reset();
    }

    void finish_document() {
        json_document_data& d = *document_;
        if (d.end < d.start) {
            raise(decode_error("window_end_ns = " + std::to_string(d.end) +
                                   " is before window_start_ns = " + std::to_string(d.start),
                               "/window_end_ns"));
        }
        snapshot result(d.start, d.end);
        result.set_sources(d.sources);
        for (const auto& [name, value] : d.counters) result.add_counter(name, value);
        // Sorted and unique (checked): each arm is appended at the end.
        for (json_arm_data& a : d.arms) {
            arm_snapshot& arm = result.arm(a.arm, a.model_version);
            for (const auto& [name, value] : a.counters) arm.add_counter(name, value);
            for (auto& [name, h] : a.histograms) arm.add_histogram(name, h);
            a = json_arm_data{};  // free as we go
        }
        result_.emplace(std::move(result));
        document_.reset();
    }

    decode_limits limits_;
    std::size_t bucket_budget_;
    bool histogram_only_;
    std::vector<frame> stack_;
    std::optional<json_document_data> document_;
    std::optional<json_arm_data> arm_;
    std::optional<json_histogram_data> histogram_;
    std::vector<std::uint64_t> counts_;  // the open histogram's span counts
    std::size_t bucket_counts_ = 0;      // bucket counts read in the whole document
    std::size_t entries_ = 0;            // arms, counters and histograms
    std::optional<snapshot> result_;
    std::optional<exp_histogram> histogram_result_;
};

/// Runs the SAX reader over JSON text.
[[nodiscard]] inline snapshot_sax_reader read_json_text(std::string_view text,
                                                        const decode_limits& limits,
                                                        bool histogram_only) {
    snapshot_sax_reader reader(limits, histogram_only);
    (void)nlohmann::json::sax_parse(text.begin(), text.end(), &reader);
    return reader;
}

/// The text of a DOM value for the reader: one validator serves text and
/// DOM. A DOM built in C++ may hold strings that are not UTF-8, which no
/// JSON text can carry: refused.
[[nodiscard]] inline std::string json_text_of(const nlohmann::json& j) {
#if CANARYGATE_HAS_EXCEPTIONS()
    try {
        return j.dump();
    } catch (const nlohmann::json::type_error& e) {
        throw decode_error(
            std::string("the document holds a string that is not valid UTF-8: ") + e.what(),
            std::string());
    }
#else
    return j.dump();  // nlohmann aborts on a string that is not UTF-8
#endif
}

}  // namespace detail

// --- Definitions --------------------------------------------------------------

template <class Allocator>
void to_json(nlohmann::json& j, const basic_exp_histogram<Allocator>& h) {
    detail::histogram_to_json(j, h);
}

template <class Allocator>
void from_json(const nlohmann::json& j, basic_exp_histogram<Allocator>& h) {
    const exp_histogram read =
        detail::read_json_text(detail::json_text_of(j), decode_limits{}, true).take_histogram();
    basic_exp_histogram<Allocator> result(read.layout(), h.get_allocator());
    result.add_zero(read.zero_count());
    result.add_underflow(read.underflow_count());
    result.add_overflow(read.overflow_count());
    result.add_rejected(read.rejected_count());
    const std::span<const std::uint64_t> buckets = read.buckets();
    for (std::size_t k = 0; k < buckets.size(); ++k) {
        if (buckets[k] != 0) {
            result.add_to_bucket(read.layout().first_index() + static_cast<std::int64_t>(k),
                                 buckets[k]);
        }
    }
    h = std::move(result);
}

inline void to_json(nlohmann::json& j, const snapshot& s) {
    j = nlohmann::json::object();
    j["format"] = snapshot_json_format;
    j["version"] = snapshot_json_version;
    j["window_start_ns"] = detail::json_integer(s.window_start_ns());
    j["window_end_ns"] = detail::json_integer(s.window_end_ns());
    j["sources"] = detail::json_integer(wide_uint{s.sources()});
    j["counters"] = detail::counters_to_json(s.counters());
    auto arms = nlohmann::json::array();
    for (const arm_snapshot& a : s.arms()) {
        auto histograms = nlohmann::json::object();
        for (const auto& [name, h] : a.histograms()) histograms[name] = h;
        arms.push_back({{"arm", a.arm()},
                        {"model_version", a.model_version()},
                        {"counters", detail::counters_to_json(a.counters())},
                        {"histograms", std::move(histograms)}});
    }
    j["arms"] = std::move(arms);
}

inline void from_json(const nlohmann::json& j, snapshot& s) {
    s = snapshot_from_json(j, decode_limits{});
}

inline snapshot snapshot_from_json(const nlohmann::json& j, const decode_limits& limits) {
    return parse_snapshot(detail::json_text_of(j), limits);
}

inline snapshot parse_snapshot(std::string_view json_text, const decode_limits& limits) {
    CANARYGATE_TRY { return detail::read_json_text(json_text, limits, false).take_snapshot(); }
    CANARYGATE_CATCH(const std::bad_alloc&) {
        // Memory is bounded by the input's length and `limits`, so this is
        // the process running out, not a hostile input growing without end.
        detail::raise(decode_error("out of memory while reading a JSON snapshot of " +
                                       std::to_string(json_text.size()) + " bytes",
                                   decode_error::no_offset));
    }
}

CANARYGATE_NAMESPACE_END
