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
/// offending value. `parse_snapshot` reads JSON text and also rejects
/// duplicate object keys, which nlohmann::json::parse silently collapses.
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

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <set>
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

/// Parses JSON text into a snapshot. Throws decode_error with the byte
/// offset for a syntax error (nlohmann's message included; a number beyond
/// the range of double has no offset, its text is quoted), the JSON Pointer
/// of the object for a duplicate key, and as from_json for an invalid
/// document.
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

/// Where a reader is in a document: a chain of stack frames, rendered as a
/// JSON Pointer only when an error is reported.
struct json_path {
    const json_path* parent = nullptr;
    std::string_view key;
    std::size_t index = 0;
    bool is_index = false;

    [[nodiscard]] json_path operator/(std::string_view child) const noexcept {
        return {this, child, 0, false};
    }
    [[nodiscard]] json_path operator/(std::size_t child) const noexcept {
        return {this, {}, child, true};
    }

    [[nodiscard]] std::string pointer() const {
        if (parent == nullptr) return {};
        std::string result = parent->pointer();
        if (is_index) {
            result += '/' + std::to_string(index);
        } else {
            append_pointer_token(result, key);
        }
        return result;
    }
};

[[noreturn]] inline void json_fail(const std::string& reason, std::string pointer) {
    raise(decode_error(reason, std::move(pointer)));
}

[[noreturn]] inline void json_fail(const std::string& reason, const json_path& path) {
    json_fail(reason, path.pointer());
}

/// What a value is, for "expected ..., found ..." messages (long strings cut).
[[nodiscard]] inline std::string json_kind(const nlohmann::json& j) {
    if (j.is_number()) return "the number " + j.dump();
    if (j.is_string()) {
        // replace: a document built in C++ may hold invalid UTF-8.
        std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (text.size() > 80) text = text.substr(0, 72) + "...(cut)";
        return "the string " + text;
    }
    return std::string("a value of type ") + j.type_name();
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

[[nodiscard]] inline wide_uint json_read_wide(const nlohmann::json& j, const json_path& path,
                                              const char* range = "2^128 - 1") {
    // nlohmann parses nonnegative integers as unsigned, but a json built from
    // a signed C++ integer holds a signed one.
    if (j.is_number_unsigned()) return j.get<std::uint64_t>();
    if (j.is_number_integer()) {
        if (j.get<std::int64_t>() < 0)
            json_fail("must not be negative, found " + json_kind(j), path);
        return static_cast<std::uint64_t>(j.get<std::int64_t>());
    }
    if (j.is_string()) {
        wide_uint value;
        if (parse_decimal(j.get_ref<const std::string&>(), value)) return value;
        json_fail(std::string("expected a decimal string of at most ") + range +
                      " (digits only, no leading zero), found " + json_kind(j),
                  path);
    }
    json_fail("expected a nonnegative integer (a JSON number, or a decimal string), found " +
                  json_kind(j),
              path);
}

[[nodiscard]] inline std::uint64_t json_read_u64(const nlohmann::json& j, const json_path& path) {
    const wide_uint value = json_read_wide(j, path, "2^64 - 1");
    if (value.high != 0) json_fail("exceeds 2^64 - 1: " + value.to_string(), path);
    return value.low;
}

[[nodiscard]] inline std::int64_t json_read_i64(const nlohmann::json& j, const json_path& path) {
    if (j.is_number_integer() && !j.is_number_unsigned()) return j.get<std::int64_t>();
    bool negative = false;
    wide_uint magnitude;
    if (j.is_number_unsigned()) {
        magnitude = j.get<std::uint64_t>();
    } else if (j.is_string()) {
        std::string_view text = j.get_ref<const std::string&>();
        negative = !text.empty() && text.front() == '-';
        if (negative) text.remove_prefix(1);
        if (!parse_decimal(text, magnitude) || (negative && magnitude == wide_uint{})) {
            json_fail("expected a decimal integer string, found " + json_kind(j), path);
        }
    } else {
        json_fail("expected an integer (a JSON number, or a decimal string), found " + json_kind(j),
                  path);
    }
    const std::uint64_t limit = std::uint64_t{1} << 63;  // |INT64_MIN|
    if (magnitude.high != 0 || magnitude.low > limit || (!negative && magnitude.low == limit)) {
        json_fail("is outside the signed 64-bit range", path);
    }
    return negative ? static_cast<std::int64_t>(std::uint64_t{0} - magnitude.low)
                    : static_cast<std::int64_t>(magnitude.low);
}

/// An `int` written as a JSON number (layout fields, bucket indices, version).
[[nodiscard]] inline std::int64_t json_read_number(const nlohmann::json& j, const json_path& path,
                                                   std::int64_t low, std::int64_t high) {
    if (!j.is_number_integer())
        json_fail("expected an integer number, found " + json_kind(j), path);
    const bool in_range =
        (!j.is_number_unsigned() ||
         j.get<std::uint64_t>() <=
             static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) &&
        j.get<std::int64_t>() >= low && j.get<std::int64_t>() <= high;
    if (!in_range) {
        json_fail(
            j.dump() + " is outside [" + std::to_string(low) + ", " + std::to_string(high) + "]",
            path);
    }
    return j.get<std::int64_t>();
}

[[nodiscard]] inline const std::string& json_read_name(const nlohmann::json& j,
                                                       const json_path& path, bool may_be_empty) {
    if (!j.is_string()) json_fail("expected a string, found " + json_kind(j), path);
    const auto& name = j.get_ref<const std::string&>();
    if (const char* problem = name_problem(name, may_be_empty))
        json_fail(std::string("name ") + problem, path);
    return name;
}

/// Checks that `j` is an object with exactly the `keys`.
inline void json_expect_object(const nlohmann::json& j, const json_path& path,
                               std::initializer_list<std::string_view> keys) {
    if (!j.is_object()) json_fail("expected an object, found " + json_kind(j), path);
    for (const auto& [key, value] : j.items()) {
        bool known = false;
        for (const std::string_view k : keys) known = known || k == key;
        if (!known) json_fail("unknown key " + printable_name(key), path / std::string_view(key));
    }
    for (const std::string_view k : keys) {
        if (!j.contains(k)) json_fail("missing key " + printable_name(k), path);
    }
}

[[nodiscard]] inline const nlohmann::json& json_expect_array(const nlohmann::json& j,
                                                             const json_path& path) {
    if (!j.is_array()) json_fail("expected an array, found " + json_kind(j), path);
    return j;
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

/// Reads a histogram; `bucket_budget` is what decode_limits still allows.
template <class Allocator>
[[nodiscard]] basic_exp_histogram<Allocator> histogram_from_json(const nlohmann::json& j,
                                                                 const json_path& path,
                                                                 std::size_t& bucket_budget,
                                                                 const Allocator& allocator) {
    json_expect_object(j, path,
                       {"scale", "min_exponent", "max_exponent", "zero", "underflow", "overflow",
                        "rejected", "spans"});
    constexpr std::int64_t int_min = std::numeric_limits<int>::min();
    constexpr std::int64_t int_max = std::numeric_limits<int>::max();
    const auto scale =
        static_cast<int>(json_read_number(j["scale"], path / "scale", int_min, int_max));
    const auto min_exponent = static_cast<int>(
        json_read_number(j["min_exponent"], path / "min_exponent", int_min, int_max));
    const auto max_exponent = static_cast<int>(
        json_read_number(j["max_exponent"], path / "max_exponent", int_min, int_max));
    if (auto why = histogram_layout::problem(scale, min_exponent, max_exponent)) {
        json_fail("invalid layout: canarygate::histogram_layout: " + *why, path);
    }
    const histogram_layout layout(scale, min_exponent, max_exponent);
    if (layout.bucket_count() > bucket_budget) {
        json_fail("layout " + layout.describe() + " has " + std::to_string(layout.bucket_count()) +
                      " buckets, more than decode_limits::max_total_buckets still allows (" +
                      std::to_string(bucket_budget) + ")",
                  path);
    }
    bucket_budget -= layout.bucket_count();

    basic_exp_histogram<Allocator> h(layout, allocator);
    std::uint64_t total = 0;
    const auto add_total = [&](std::uint64_t count, const json_path& where) {
        if (!add_u64(total, count))
            json_fail("histogram holds more than 2^64 - 1 values in total", where);
    };
    const std::uint64_t zero = json_read_u64(j["zero"], path / "zero");
    const std::uint64_t underflow = json_read_u64(j["underflow"], path / "underflow");
    const std::uint64_t overflow = json_read_u64(j["overflow"], path / "overflow");
    add_total(zero, path / "zero");
    add_total(underflow, path / "underflow");
    add_total(overflow, path / "overflow");
    h.add_zero(zero);
    h.add_underflow(underflow);
    h.add_overflow(overflow);
    h.add_rejected(json_read_u64(j["rejected"], path / "rejected"));

    const json_path spans_path = path / "spans";
    const nlohmann::json& spans = json_expect_array(j["spans"], spans_path);
    std::int64_t next_free = layout.first_index();  // first index a span may start at
    for (std::size_t s = 0; s < spans.size(); ++s) {
        const json_path span_path = spans_path / s;
        const nlohmann::json& span = spans[s];
        json_expect_object(span, span_path, {"index", "counts"});
        const std::int64_t first = json_read_number(span["index"], span_path / "index",
                                                    layout.first_index(), layout.last_index());
        if (first < next_free) {
            json_fail("span starts at bucket index " + std::to_string(first) +
                          ", before the end of the previous span (" + std::to_string(next_free) +
                          "): spans must be in increasing order and must not overlap",
                      span_path / "index");
        }
        const json_path counts_path = span_path / "counts";
        const nlohmann::json& counts = json_expect_array(span["counts"], counts_path);
        if (counts.empty()) json_fail("span is empty", counts_path);
        if (counts.size() - 1 > static_cast<std::uint64_t>(layout.last_index() - first)) {
            json_fail("span of " + std::to_string(counts.size()) + " buckets from index " +
                          std::to_string(first) + " ends past the layout's last bucket (index " +
                          std::to_string(layout.last_index()) + ", " + layout.describe() + ")",
                      counts_path);
        }
        for (std::size_t k = 0; k < counts.size(); ++k) {
            const json_path count_path = counts_path / k;
            const std::uint64_t count = json_read_u64(counts[k], count_path);
            add_total(count, count_path);
            h.add_to_bucket(first + static_cast<std::int64_t>(k), count);
        }
        next_free = first + static_cast<std::int64_t>(counts.size());
    }
    return h;
}

inline nlohmann::json counters_to_json(
    const std::map<std::string, wide_uint, std::less<>>& counters) {
    auto j = nlohmann::json::object();
    for (const auto& [name, value] : counters) j[name] = json_integer(value);
    return j;
}

template <class Add>
void counters_from_json(const nlohmann::json& j, const json_path& path, Add&& add) {
    if (!j.is_object()) json_fail("expected an object, found " + json_kind(j), path);
    for (const auto& [name, value] : j.items()) {
        const json_path counter_path = path / std::string_view(name);
        if (const char* problem = name_problem(name, false)) {
            json_fail(std::string("counter name ") + problem, counter_path);
        }
        add(name, json_read_wide(value, counter_path));
    }
}

[[nodiscard]] inline snapshot read_snapshot_json(const nlohmann::json& j,
                                                 const decode_limits& limits) {
    const json_path root;
    json_expect_object(
        j, root,
        {"format", "version", "window_start_ns", "window_end_ns", "sources", "counters", "arms"});
    const nlohmann::json& format = j["format"];
    if (!format.is_string() || format.get_ref<const std::string&>() != snapshot_json_format) {
        json_fail("expected \"canarygate.snapshot\", found " + json_kind(format), root / "format");
    }
    const std::int64_t version =
        json_read_number(j["version"], root / "version", 0, std::numeric_limits<int>::max());
    if (version != snapshot_json_version) {
        json_fail("version " + std::to_string(version) +
                      (version > snapshot_json_version ? " is newer than" : " is not") +
                      " the version this reader knows (1)",
                  root / "version");
    }
    const std::int64_t start = json_read_i64(j["window_start_ns"], root / "window_start_ns");
    const std::int64_t end = json_read_i64(j["window_end_ns"], root / "window_end_ns");
    if (end < start) {
        json_fail("window_end_ns = " + std::to_string(end) +
                      " is before window_start_ns = " + std::to_string(start),
                  root / "window_end_ns");
    }
    snapshot result(start, end);
    result.set_sources(json_read_u64(j["sources"], root / "sources"));
    counters_from_json(
        j["counters"], root / "counters",
        [&](const std::string& name, wide_uint value) { result.add_counter(name, value); });

    const json_path arms_path = root / "arms";
    const nlohmann::json& arms = json_expect_array(j["arms"], arms_path);
    std::size_t bucket_budget = limits.max_total_buckets;
    for (std::size_t i = 0; i < arms.size(); ++i) {
        const json_path arm_path = arms_path / i;
        const nlohmann::json& a = arms[i];
        json_expect_object(a, arm_path, {"arm", "model_version", "counters", "histograms"});
        const std::string& name = json_read_name(a["arm"], arm_path / "arm", false);
        const std::string& version_name =
            json_read_name(a["model_version"], arm_path / "model_version", true);
        if (i > 0) {
            const auto& previous = result.arms().back();
            const auto order = std::pair<std::string_view, std::string_view>(
                                   previous.arm(), previous.model_version()) <=>
                               std::pair<std::string_view, std::string_view>(name, version_name);
            if (order == 0)
                json_fail(
                    "duplicate arm " + printable_name(name) + "@" + printable_name(version_name),
                    arm_path);
            if (order > 0) {
                json_fail("arms are not sorted by (arm, model_version): " + printable_name(name) +
                              "@" + printable_name(version_name) + " follows " +
                              printable_name(previous.arm()) + "@" +
                              printable_name(previous.model_version()),
                          arm_path);
            }
        }
        arm_snapshot& arm = result.arm(name, version_name);
        counters_from_json(
            a["counters"], arm_path / "counters",
            [&](const std::string& counter, wide_uint value) { arm.add_counter(counter, value); });
        const json_path histograms_path = arm_path / "histograms";
        const nlohmann::json& histograms = a["histograms"];
        if (!histograms.is_object()) {
            json_fail("expected an object, found " + json_kind(histograms), histograms_path);
        }
        for (const auto& [series, value] : histograms.items()) {
            const json_path series_path = histograms_path / std::string_view(series);
            if (const char* problem = name_problem(series, false)) {
                json_fail(std::string("histogram name ") + problem, series_path);
            }
            arm.add_histogram(series, histogram_from_json(value, series_path, bucket_budget,
                                                          std::allocator<std::uint64_t>()));
        }
    }
    return result;
}

/// nlohmann::json::parse callback that rejects duplicate object keys (the
/// parser itself keeps the last), reporting the JSON Pointer of the object.
class duplicate_key_check {
public:
    bool operator()(int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using event_type = nlohmann::json::parse_event_t;
        switch (event) {
            case event_type::object_start:
            case event_type::array_start:
                enter_element();
                stack_.push_back(frame{event == event_type::object_start, {}, {}, 0});
                break;
            case event_type::object_end:
            case event_type::array_end:
                stack_.pop_back();
                break;
            case event_type::key: {
                frame& top = stack_.back();
                const auto& key = parsed.get_ref<const std::string&>();
                if (!top.keys.insert(key).second) {
                    std::string pointer;
                    for (std::size_t i = 0; i + 1 < stack_.size(); ++i)
                        append_token(pointer, stack_[i]);
                    json_fail("duplicate key " + printable_name(key), std::move(pointer));
                }
                top.key = key;
                break;
            }
            case event_type::value:
                enter_element();
                break;
        }
        return true;
    }

private:
    struct frame {
        bool object;
        std::set<std::string, std::less<>> keys;
        std::string key;       // current member (objects)
        std::size_t elements;  // elements begun so far (arrays)
    };

    void enter_element() {
        if (!stack_.empty() && !stack_.back().object) ++stack_.back().elements;
    }
    static void append_token(std::string& pointer, const frame& f) {
        if (f.object) {
            append_pointer_token(pointer, f.key);
        } else {
            pointer += '/' + std::to_string(f.elements - 1);
        }
    }

    std::vector<frame> stack_;
};

}  // namespace detail

// --- Definitions --------------------------------------------------------------

template <class Allocator>
void to_json(nlohmann::json& j, const basic_exp_histogram<Allocator>& h) {
    detail::histogram_to_json(j, h);
}

template <class Allocator>
void from_json(const nlohmann::json& j, basic_exp_histogram<Allocator>& h) {
    std::size_t budget = decode_limits{}.max_total_buckets;
    h = detail::histogram_from_json(j, detail::json_path{}, budget, h.get_allocator());
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
    s = detail::read_snapshot_json(j, decode_limits{});
}

inline snapshot snapshot_from_json(const nlohmann::json& j, const decode_limits& limits) {
    return detail::read_snapshot_json(j, limits);
}

inline snapshot parse_snapshot(std::string_view json_text, const decode_limits& limits) {
    nlohmann::json j;
#if CANARYGATE_HAS_EXCEPTIONS()
    try {
        j = nlohmann::json::parse(json_text.begin(), json_text.end(),
                                  detail::duplicate_key_check{});
    } catch (const nlohmann::json::parse_error& e) {
        // e.byte counts from 1 (the last byte read).
        throw decode_error(std::string("JSON syntax error: ") + e.what(),
                           e.byte == 0 ? 0 : e.byte - 1);
    } catch (const nlohmann::json::exception& e) {
        // A number beyond double's range ("1e400") is out_of_range (406),
        // without a position; nlohmann's message quotes the number.
        throw decode_error(std::string("JSON syntax error: ") + e.what(), decode_error::no_offset);
    }
#else
    j = nlohmann::json::parse(json_text.begin(), json_text.end(),
                              detail::duplicate_key_check{});  // aborts on error
#endif
    return detail::read_snapshot_json(j, limits);
}

CANARYGATE_NAMESPACE_END
