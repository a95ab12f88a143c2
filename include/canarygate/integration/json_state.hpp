// SPDX-License-Identifier: MIT
/// \file
/// Optional integration header (component canarygate::json, nlohmann-json >=
/// 3.11, like json.hpp): the JSON form of a `policy_state`, the evidence a
/// policy accumulates over a rollout, so that a controller stopped between
/// two checks and restarted from its saved state takes the same decisions,
/// bit for bit, as one that never stopped. Not included by canarygate.hpp.
///
/// Writing captures every member of every gate state and of every e-process
/// inside, recursively; reading restores them exactly, so
/// `policy_state_from_json(policy_state_to_json(s))` equals `s` in every bit
/// of every field and writing it again gives the same text. Reading validates
/// like json.hpp (every key required, unknown keys rejected) and throws
/// canarygate::decode_error with the JSON Pointer of the offending value.
/// Given the policy the state will be used with, reading also checks that
/// the state belongs to it: one state per gate (or none: a fresh state), of
/// the gate's kind, and a rate gate's e-processes at the gate's ratio. (A
/// policy silently starts over from fresh gate states when the count
/// differs, which would throw the evidence away.)
///
/// Example:
/// \code
///   std::string saved = canarygate::policy_state_to_json(state).dump();
///   // ... stop, restart ...
///   canarygate::policy_state state = canarygate::parse_policy_state(saved, policy);
/// \endcode
///
/// ## Document, version 1
///
/// ```
/// {
///   "format": "canarygate.policy_state", "version": 1,
///   "gates": [                            // one per gate of the policy, in its order
///     { "kind": "mean_gate", "checks": 12,
///       "betting": { "max_lambda": "0.5", "initial_lambda": "0", "log_e_value": "1.25",
///                    "sum_y": "-3.5", "sum_y2": "40.125", "count": 3100, "windows": 11 },
///       "sums": { "candidate_n": "3100", "candidate_sum": "...", "candidate_sum_sq": "...",
///                 "baseline_n": "...", "baseline_sum": "...", "baseline_sum_sq": "..." },
///       "batch": { "open": null, "betting": { ... }, "batches": 0,
///                  "lower_windows": "0", "lower_sum": "0", "lower_sum_sq": "0",
///                  "upper_windows": "0", "upper_sum": "0", "upper_sum_sq": "0" } },
///     ... ],
///   "previous_totals": null,              // or a snapshot document (json.hpp)
///   "stage_share": "0.1", "stage_candidate_requests": 310, "stage_baseline_requests": 2790,
///   "checks": 12 }
/// ```
///
/// - Floating-point values (every `double` of the state) are JSON strings:
///   the shortest decimal that reads back to the same double
///   (std::to_chars / std::from_chars, which the standard guarantees to round
///   trip: "0.1", "1e-300", "5e-324", "-0"), or "inf", "-inf", "nan" (the
///   quiet NaN std::numeric_limits<double>::quiet_NaN()), "-nan" (the same
///   with the sign bit: what an invalid operation yields on x86-64), or, for
///   any other NaN, "nan(0x" + its 16 hexadecimal bits + ")". JSON numbers
///   cannot hold infinities, NaNs or a negative zero, and a string keeps
///   every reader from rounding. Readers take any decimal std::from_chars
///   reads completely ("0.10", "1E5"), without sign '+' or spaces.
/// - Integers follow json.hpp: JSON numbers up to 2^53, decimal strings
///   above (readers take either form); int-sized fields (edge_scale) are
///   numbers. Booleans are JSON booleans; an absent optional is null.
/// - Gate states are objects tagged by "kind": "rate_gate", "mean_gate",
///   "quantile_gate" or "shape_gate", the alternatives of gate_state in this
///   order; each holds its kind's members, named as in the C++ structs:
///   - rate_gate: checks, windows [{candidate_exposure, baseline_exposure,
///     candidate_events, baseline_events}], fail_process, pass_process (null,
///     or {k, theta [5], log_likelihood_ratios [5], windows}), served
///     [{midpoint_ns, candidate, baseline}], previous_end_ns (null or an
///     integer), sums, batch, cohorts_seen;
///   - mean_gate: checks, betting, sums, batch;
///   - quantile_gate: checks, histograms {candidate, baseline} (null or a
///     histogram object of json.hpp), exceedances, exceedance_trials, batch;
///   - shape_gate: checks, histograms, candidate_sum, candidate_sum_squares,
///     baseline_sum, baseline_sum_squares (integers up to 2^128 - 1).
///   `betting` is {max_lambda, initial_lambda, log_e_value, sum_y, sum_y2,
///   count, windows}; `sums` {candidate_n, candidate_sum, candidate_sum_sq,
///   baseline_n, baseline_sum, baseline_sum_sq}; `batch` {open, betting,
///   batches, lower_windows, lower_sum, lower_sum_sq, upper_windows,
///   upper_sum, upper_sum_sq}, its `open` null or {index, candidate_n,
///   fail_sum, pass_sum, fail_bound, pass_bound, fail_edge, pass_edge,
///   edge_scale, fail_edge_valid, pass_edge_valid}.
/// - Beyond types, reading checks what continuing from the state relies on:
///   what the e-processes' constructors check (max_lambda in (0, 1), k > 0,
///   theta >= k), counts and sums that evaluate() converts to integers
///   finite and >= 0, both or neither of a rate gate's processes, an edge
///   scale a histogram can have, both cumulative histograms of one range.
/// - nlohmann writes objects with their keys sorted, so the text of a state
///   is deterministic: writing what was read gives the same text.
///
/// A state document nested in a larger one (a controller's) is read with
/// `policy_state_json_options::pointer_prefix`, so errors name the pointer
/// from the outer document's root. Built without exceptions, an error aborts
/// with its message (an error inside the snapshot or a histogram then names
/// the pointer inside that value only).
///
/// Adding a member to a gate state or an e-process means adding it here
/// (tests/integration/test_json_state.cpp checks the sizes of the structs).
#pragma once

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/core/wide_uint.hpp"
#include "canarygate/gates/gate.hpp"
#include "canarygate/gates/mean_gate.hpp"
#include "canarygate/gates/policy.hpp"
#include "canarygate/gates/quantile_gate.hpp"
#include "canarygate/gates/rate_gate.hpp"
#include "canarygate/gates/shape_gate.hpp"
#include "canarygate/integration/json.hpp"
#include "canarygate/stats/beta_binomial.hpp"
#include "canarygate/stats/betting.hpp"
#include "canarygate/window/codec.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Value of the "format" member of a policy-state document.
inline constexpr std::string_view policy_state_json_format = "canarygate.policy_state";
/// Value of the "version" member written, and the only one read.
inline constexpr int policy_state_json_version = 1;
/// Deepest nesting parse_policy_state accepts (a document needs 9: the
/// snapshot inside previous_totals is the deepest part).
inline constexpr std::size_t policy_state_max_json_depth = 32;

/// How to read a policy-state document.
struct policy_state_json_options {
    /// When set, the state must belong to this policy: as many gate states
    /// as it has gates (or none), each of its gate's kind, and a rate gate's
    /// e-processes at its tested ratio. The policy must outlive the call.
    const policy* expected_policy = nullptr;
    /// JSON Pointer of the document inside a larger one ("" = the root):
    /// prefixed to every pointer an error names.
    std::string pointer_prefix;
    /// Limits for the snapshot in previous_totals (see decode_limits).
    decode_limits limits;
};

/// The version-1 document of `s` (see the file comment). Never throws but
/// for allocation failure (and nlohmann's type_error 316 on dump() for arm or
/// series names that are not UTF-8, as for snapshots).
[[nodiscard]] inline nlohmann::json policy_state_to_json(const policy_state& s);

/// Reads a document written by policy_state_to_json; throws decode_error
/// with the JSON Pointer of the first bad value.
[[nodiscard]] inline policy_state policy_state_from_json(const nlohmann::json& j);
/// Reads a document and checks that the state belongs to `p` (see
/// policy_state_json_options::expected_policy).
[[nodiscard]] inline policy_state policy_state_from_json(const nlohmann::json& j, const policy& p);
[[nodiscard]] inline policy_state policy_state_from_json(const nlohmann::json& j,
                                                         const policy_state_json_options& options);

/// Parses JSON text into a state: as policy_state_from_json, plus
/// decode_error with the byte offset for a syntax error (a truncated file),
/// the pointer of the object for a duplicate key (which nlohmann::json::parse
/// would silently collapse), and nesting deeper than
/// policy_state_max_json_depth. Builds a DOM first (memory: a small multiple
/// of the text).
[[nodiscard]] inline policy_state parse_policy_state(std::string_view json_text,
                                                     const policy_state_json_options& options = {});
[[nodiscard]] inline policy_state parse_policy_state(std::string_view json_text, const policy& p);

/// nlohmann's ADL hooks: `nlohmann::json j = state;`, `j.get<canarygate::policy_state>()`.
inline void to_json(nlohmann::json& j, const policy_state& s) { j = policy_state_to_json(s); }
inline void from_json(const nlohmann::json& j, policy_state& s) { s = policy_state_from_json(j); }

// --- Implementation -----------------------------------------------------------

namespace detail {

// --- Floating-point values as exact strings ---

inline constexpr std::uint64_t double_sign_bit = std::uint64_t{1} << 63;
inline constexpr std::uint64_t canonical_nan_bits =
    std::bit_cast<std::uint64_t>(std::numeric_limits<double>::quiet_NaN());

/// The exact text of `value` (see the file comment).
[[nodiscard]] inline std::string json_double_text(double value) {
    if (std::isnan(value)) {
        const auto bits = std::bit_cast<std::uint64_t>(value);
        if (bits == canonical_nan_bits) return "nan";
        if (bits == (canonical_nan_bits | double_sign_bit)) return "-nan";
        std::string text = "nan(0x";
        for (int shift = 60; shift >= 0; shift -= 4)
            text += "0123456789abcdef"[(bits >> static_cast<unsigned>(shift)) & 0xfU];
        return text + ")";
    }
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

/// The double json_double_text wrote (or any decimal std::from_chars reads
/// completely, without '+', spaces or its own spellings of inf and nan);
/// nullopt otherwise.
[[nodiscard]] inline std::optional<double> parse_json_double(std::string_view text) {
    if (text == "nan") return std::bit_cast<double>(canonical_nan_bits);
    if (text == "-nan") return std::bit_cast<double>(canonical_nan_bits | double_sign_bit);
    if (text == "inf") return std::numeric_limits<double>::infinity();
    if (text == "-inf") return -std::numeric_limits<double>::infinity();
    constexpr std::string_view nan_open = "nan(0x";
    if (text.starts_with(nan_open)) {
        if (text.size() != nan_open.size() + 17 || text.back() != ')') return std::nullopt;
        std::uint64_t bits = 0;
        for (const char c : text.substr(nan_open.size(), 16)) {
            unsigned digit = 0;
            if (c >= '0' && c <= '9') {
                digit = static_cast<unsigned>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                digit = static_cast<unsigned>(c - 'a') + 10U;
            } else {
                return std::nullopt;
            }
            bits = (bits << 4) | digit;
        }
        const auto value = std::bit_cast<double>(bits);
        if (!std::isnan(value)) return std::nullopt;
        return value;
    }
    // Digits, point, exponent and signs only: from_chars would also take
    // "infinity", "NAN" or "nan(abc)".
    if (text.empty()) return std::nullopt;
    for (const char c : text) {
        const bool allowed =
            (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+';
        if (!allowed) return std::nullopt;
    }
    if (text.front() == '+') return std::nullopt;
    double value = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (result.ec != std::errc{} || result.ptr != text.data() + text.size()) return std::nullopt;
    return value;
}

namespace state_json {

using json = nlohmann::json;

[[nodiscard]] inline json number(double value) { return json_double_text(value); }
[[nodiscard]] inline json count(std::uint64_t value) { return json_integer(wide_uint{value}); }

template <std::size_t J>
[[nodiscard]] json numbers(const std::array<double, J>& values) {
    auto a = json::array();
    for (const double v : values) a.push_back(number(v));
    return a;
}

// --- Writing ---

[[nodiscard]] inline json write(const stats::betting_e_process& p) {
    const auto s = p.save();
    return json{
        {"max_lambda", number(s.max_lambda)},   {"initial_lambda", number(s.initial_lambda)},
        {"log_e_value", number(s.log_e_value)}, {"sum_y", number(s.sum_y)},
        {"sum_y2", number(s.sum_y2)},           {"count", count(s.count)},
        {"windows", count(s.windows)}};
}

template <std::size_t J>
[[nodiscard]] json write(const std::optional<stats::rate_ratio_e_process<J>>& p) {
    if (!p) return nullptr;
    const auto s = p->save();
    return json{{"k", number(s.k)},
                {"theta", numbers(s.theta)},
                {"log_likelihood_ratios", numbers(s.grid.log_likelihood_ratios)},
                {"windows", count(s.grid.windows)}};
}

[[nodiscard]] inline json write(const mean_sums& s) {
    return json{{"candidate_n", number(s.candidate_n)},
                {"candidate_sum", number(s.candidate_sum)},
                {"candidate_sum_sq", number(s.candidate_sum_sq)},
                {"baseline_n", number(s.baseline_n)},
                {"baseline_sum", number(s.baseline_sum)},
                {"baseline_sum_sq", number(s.baseline_sum_sq)}};
}

[[nodiscard]] inline json write(const batch_state& s) {
    json open = nullptr;
    if (s.open) {
        const open_batch& b = *s.open;
        open = json{{"index", json_integer(b.index)},
                    {"candidate_n", number(b.candidate_n)},
                    {"fail_sum", number(b.fail_sum)},
                    {"pass_sum", number(b.pass_sum)},
                    {"fail_bound", number(b.fail_bound)},
                    {"pass_bound", number(b.pass_bound)},
                    {"fail_edge", json_integer(b.fail_edge)},
                    {"pass_edge", json_integer(b.pass_edge)},
                    {"edge_scale", b.edge_scale},
                    {"fail_edge_valid", b.fail_edge_valid},
                    {"pass_edge_valid", b.pass_edge_valid}};
    }
    return json{{"open", std::move(open)},
                {"betting", write(s.betting)},
                {"batches", count(s.batches)},
                {"lower_windows", number(s.lower_windows)},
                {"lower_sum", number(s.lower_sum)},
                {"lower_sum_sq", number(s.lower_sum_sq)},
                {"upper_windows", number(s.upper_windows)},
                {"upper_sum", number(s.upper_sum)},
                {"upper_sum_sq", number(s.upper_sum_sq)}};
}

[[nodiscard]] inline json write(const cumulative_histograms& h) {
    return json{{"candidate", h.candidate ? json(*h.candidate) : json(nullptr)},
                {"baseline", h.baseline ? json(*h.baseline) : json(nullptr)}};
}

[[nodiscard]] inline json write(const rate_gate::state& s) {
    auto windows = json::array();
    for (const auto& w : s.windows) {
        windows.push_back({{"candidate_exposure", number(w.candidate_exposure)},
                           {"baseline_exposure", number(w.baseline_exposure)},
                           {"candidate_events", number(w.candidate_events)},
                           {"baseline_events", number(w.baseline_events)}});
    }
    auto served = json::array();
    for (const auto& r : s.served) {
        served.push_back({{"midpoint_ns", number(r.midpoint_ns)},
                          {"candidate", number(r.candidate)},
                          {"baseline", number(r.baseline)}});
    }
    return json{{"kind", "rate_gate"},
                {"checks", count(s.checks)},
                {"windows", std::move(windows)},
                {"fail_process", write(s.fail_process)},
                {"pass_process", write(s.pass_process)},
                {"served", std::move(served)},
                {"previous_end_ns", s.previous_end_ns ? json_integer(*s.previous_end_ns) : json()},
                {"sums", write(s.sums)},
                {"batch", write(s.batch)},
                {"cohorts_seen", s.cohorts_seen}};
}

[[nodiscard]] inline json write(const mean_gate::state& s) {
    return json{{"kind", "mean_gate"},
                {"checks", count(s.checks)},
                {"betting", write(s.betting)},
                {"sums", write(s.sums)},
                {"batch", write(s.batch)}};
}

[[nodiscard]] inline json write(const quantile_gate::state& s) {
    return json{{"kind", "quantile_gate"},
                {"checks", count(s.checks)},
                {"histograms", write(s.histograms)},
                {"exceedances", count(s.exceedances)},
                {"exceedance_trials", count(s.exceedance_trials)},
                {"batch", write(s.batch)}};
}

[[nodiscard]] inline json write(const shape_gate::state& s) {
    return json{{"kind", "shape_gate"},
                {"checks", count(s.checks)},
                {"histograms", write(s.histograms)},
                {"candidate_sum", json_integer(s.candidate_sum)},
                {"candidate_sum_squares", json_integer(s.candidate_sum_squares)},
                {"baseline_sum", json_integer(s.baseline_sum)},
                {"baseline_sum_squares", json_integer(s.baseline_sum_squares)}};
}

/// The names of gate_state's alternatives, in its order (the "kind" tag).
inline constexpr std::array<std::string_view, 4> gate_state_kinds = {"rate_gate", "mean_gate",
                                                                     "quantile_gate", "shape_gate"};
static_assert(gate_state_kinds.size() == std::variant_size_v<gate_state>);
static_assert(std::variant_size_v<gate_state> == std::variant_size_v<gate_kind>);

// --- Reading ---

/// What a DOM value is, for "expected ..., found ..." (as json.hpp's reader
/// says it; long strings cut).
[[nodiscard]] inline std::string describe(const json& v) {
    switch (v.type()) {
        case json::value_t::number_integer:
            return "the number " + std::to_string(v.get<std::int64_t>());
        case json::value_t::number_unsigned:
            return "the number " + std::to_string(v.get<std::uint64_t>());
        case json::value_t::number_float:
            return "the number " + v.dump();
        case json::value_t::string: {
            std::string quoted = v.dump(-1, ' ', false, json::error_handler_t::replace);
            if (quoted.size() > 80) quoted = quoted.substr(0, 72) + "...(cut)";
            return "the string " + quoted;
        }
        default:
            return std::string("a value of type ") + v.type_name();
    }
}

[[noreturn]] inline void fail(const std::string& pointer, const std::string& reason) {
    raise(decode_error(reason, pointer));
}

[[nodiscard]] inline std::string child(const std::string& pointer, std::string_view key) {
    std::string p = pointer;
    append_pointer_token(p, key);
    return p;
}
[[nodiscard]] inline std::string child(const std::string& pointer, std::size_t index) {
    return pointer + '/' + std::to_string(index);
}

/// The reason of a decode_error about a JSON document, without the
/// "canarygate::from_json: " head and the " (at ...)" tail its constructor added.
[[nodiscard]] inline std::string decode_error_reason(const decode_error& e) {
    const std::string what = e.what();
    const std::string_view head = "canarygate::from_json: ";
    const std::string tail = " (at \"" + e.json_pointer() + "\"" +
                             (e.json_pointer().empty() ? ", the document root)" : ")");
    if (e.offset() == decode_error::no_offset && what.starts_with(head) && what.ends_with(tail) &&
        what.size() >= head.size() + tail.size()) {
        return what.substr(head.size(), what.size() - head.size() - tail.size());
    }
    return what;
}

/// Runs `read` (json.hpp's readers, a restore()); a decode_error it throws
/// is raised again with `pointer` prefixed to its pointer, an
/// std::invalid_argument as a decode_error at `pointer`. Without exceptions
/// the error aborts from where it arose.
template <class Body>
auto nested(const std::string& pointer, Body&& body) -> decltype(body()) {
#if CANARYGATE_HAS_EXCEPTIONS()
    try {
        return body();
    } catch (const decode_error& e) {
        raise(decode_error(decode_error_reason(e), pointer + e.json_pointer()));
    } catch (const std::invalid_argument& e) {
        raise(decode_error(e.what(), pointer));
    }
#else
    (void)pointer;
    return body();
#endif
}

/// An object with a fixed set of keys, every one required.
class object_reader {
public:
    object_reader(const json& j, std::string pointer, std::initializer_list<std::string_view> keys)
        : j_(j), pointer_(std::move(pointer)) {
        if (!j.is_object()) fail(pointer_, "expected an object, found " + describe(j));
        for (const auto& item : j.items()) {
            bool known = false;
            for (const std::string_view k : keys) known = known || item.key() == k;
            if (!known)
                fail(child(pointer_, item.key()), "unknown key " + printable_name(item.key()));
        }
        for (const std::string_view k : keys) {
            if (!j.contains(std::string(k))) fail(pointer_, "missing key " + printable_name(k));
        }
    }

    /// The member `key` (one of the keys the constructor checked).
    [[nodiscard]] const json& operator[](std::string_view key) const {
        return j_[std::string(key)];
    }
    [[nodiscard]] std::string at(std::string_view key) const { return child(pointer_, key); }
    [[nodiscard]] const std::string& pointer() const noexcept { return pointer_; }

    // Members of the types the format uses.
    [[nodiscard]] double real(std::string_view key) const;
    [[nodiscard]] std::uint64_t u64(std::string_view key) const;
    [[nodiscard]] std::int64_t i64(std::string_view key) const;
    [[nodiscard]] wide_uint wide(std::string_view key) const;
    [[nodiscard]] bool boolean(std::string_view key) const;

private:
    const json& j_;
    std::string pointer_;
};

[[nodiscard]] inline double read_double(const json& v, const std::string& pointer) {
    if (v.is_string()) {
        if (const auto value = parse_json_double(v.get_ref<const std::string&>())) return *value;
    }
    fail(pointer,
         "expected a floating-point number written as a string (a decimal such as \"0.25\" or "
         "\"1e-300\", \"inf\", \"-inf\", \"nan\", \"-nan\"), found " +
             describe(v));
}

[[nodiscard]] inline wide_uint read_wide(const json& v, const std::string& pointer,
                                         const char* range) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer()) {
        const auto value = v.get<std::int64_t>();
        if (value < 0) fail(pointer, "must not be negative, found " + describe(v));
        return static_cast<std::uint64_t>(value);
    }
    if (v.is_string()) {
        wide_uint value;
        if (parse_decimal(v.get_ref<const std::string&>(), value)) return value;
        fail(pointer, std::string("expected a decimal string of at most ") + range +
                          " (digits only, no leading zero), found " + describe(v));
    }
    fail(pointer, "expected a nonnegative integer (a JSON number, or a decimal string), found " +
                      describe(v));
}

[[nodiscard]] inline std::uint64_t read_u64(const json& v, const std::string& pointer) {
    const wide_uint value = read_wide(v, pointer, "2^64 - 1");
    if (value.high != 0) fail(pointer, "exceeds 2^64 - 1: " + value.to_string());
    return value.low;
}

[[nodiscard]] inline std::int64_t read_i64(const json& v, const std::string& pointer) {
    if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<std::int64_t>();
    bool negative = false;
    wide_uint magnitude;
    if (v.is_number_unsigned()) {
        magnitude = v.get<std::uint64_t>();
    } else if (v.is_string()) {
        std::string_view text = v.get_ref<const std::string&>();
        negative = !text.empty() && text.front() == '-';
        if (negative) text.remove_prefix(1);
        if (!parse_decimal(text, magnitude) || (negative && magnitude == wide_uint{}))
            fail(pointer, "expected a decimal integer string, found " + describe(v));
    } else {
        fail(pointer,
             "expected an integer (a JSON number, or a decimal string), found " + describe(v));
    }
    const std::uint64_t limit = std::uint64_t{1} << 63;  // |INT64_MIN|
    if (magnitude.high != 0 || magnitude.low > limit || (!negative && magnitude.low == limit))
        fail(pointer, "is outside the signed 64-bit range");
    return negative ? static_cast<std::int64_t>(std::uint64_t{0} - magnitude.low)
                    : static_cast<std::int64_t>(magnitude.low);
}

[[nodiscard]] inline int read_int(const json& v, const std::string& pointer, int low, int high) {
    if (!v.is_number_integer()) fail(pointer, "expected an integer number, found " + describe(v));
    const bool fits = !v.is_number_unsigned() ||
                      v.get<std::uint64_t>() <=
                          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    const std::int64_t value = fits ? v.get<std::int64_t>() : 0;
    if (!fits || value < low || value > high) {
        fail(pointer,
             v.dump() + " is outside [" + std::to_string(low) + ", " + std::to_string(high) + "]");
    }
    return static_cast<int>(value);
}

[[nodiscard]] inline bool read_bool(const json& v, const std::string& pointer) {
    if (!v.is_boolean()) fail(pointer, "expected a boolean, found " + describe(v));
    return v.get<bool>();
}

[[nodiscard]] inline const json& read_array(const json& v, const std::string& pointer) {
    if (!v.is_array()) fail(pointer, "expected an array, found " + describe(v));
    return v;
}

template <std::size_t J>
[[nodiscard]] std::array<double, J> read_doubles(const json& v, const std::string& pointer) {
    (void)read_array(v, pointer);
    if (v.size() != J) {
        fail(pointer, "expected an array of " + std::to_string(J) + " values, found " +
                          std::to_string(v.size()));
    }
    std::array<double, J> out{};
    for (std::size_t i = 0; i < J; ++i) out[i] = read_double(v[i], child(pointer, i));
    return out;
}

inline double object_reader::real(std::string_view key) const {
    return read_double((*this)[key], at(key));
}
inline std::uint64_t object_reader::u64(std::string_view key) const {
    return read_u64((*this)[key], at(key));
}
inline std::int64_t object_reader::i64(std::string_view key) const {
    return read_i64((*this)[key], at(key));
}
inline wide_uint object_reader::wide(std::string_view key) const {
    return read_wide((*this)[key], at(key), "2^128 - 1");
}
inline bool object_reader::boolean(std::string_view key) const {
    return read_bool((*this)[key], at(key));
}

/// A count (requests, events: evaluate() converts them to integers) or a
/// sum of nonnegative values: >= 0, and below 2^64 or finite.
inline double read_amount(const object_reader& o, std::string_view key, bool is_count) {
    const double value = o.real(key);
    if (is_count && !(value >= 0.0 && value < 0x1p64))
        fail(o.at(key), json_double_text(value) + " must be >= 0 and below 2^64 (a count)");
    if (!(value >= 0.0 && value < std::numeric_limits<double>::infinity()))
        fail(o.at(key), json_double_text(value) + " must be >= 0 and finite (a sum)");
    return value;
}

[[nodiscard]] inline stats::betting_e_process read_betting(const json& j,
                                                           const std::string& pointer) {
    const object_reader o(
        j, pointer,
        {"max_lambda", "initial_lambda", "log_e_value", "sum_y", "sum_y2", "count", "windows"});
    stats::betting_e_process::saved s;
    s.max_lambda = o.real("max_lambda");
    s.initial_lambda = o.real("initial_lambda");
    s.log_e_value = o.real("log_e_value");
    s.sum_y = o.real("sum_y");
    s.sum_y2 = o.real("sum_y2");
    s.count = o.u64("count");
    s.windows = o.u64("windows");
    return nested(pointer, [&] { return stats::betting_e_process::restore(s); });
}

template <std::size_t J>
[[nodiscard]] std::optional<stats::rate_ratio_e_process<J>> read_rate_process(
    const json& j, const std::string& pointer) {
    if (j.is_null()) return std::nullopt;
    const object_reader o(j, pointer, {"k", "theta", "log_likelihood_ratios", "windows"});
    typename stats::rate_ratio_e_process<J>::saved s;
    s.k = o.real("k");
    s.theta = read_doubles<J>(o["theta"], o.at("theta"));
    s.grid.log_likelihood_ratios =
        read_doubles<J>(o["log_likelihood_ratios"], o.at("log_likelihood_ratios"));
    s.grid.windows = o.u64("windows");
    return nested(pointer, [&] { return stats::rate_ratio_e_process<J>::restore(s); });
}

[[nodiscard]] inline mean_sums read_sums(const json& j, const std::string& pointer) {
    const object_reader o(j, pointer,
                          {"candidate_n", "candidate_sum", "candidate_sum_sq", "baseline_n",
                           "baseline_sum", "baseline_sum_sq"});
    mean_sums s;
    s.candidate_n = read_amount(o, "candidate_n", true);
    s.candidate_sum = read_amount(o, "candidate_sum", false);
    s.candidate_sum_sq = read_amount(o, "candidate_sum_sq", false);
    s.baseline_n = read_amount(o, "baseline_n", true);
    s.baseline_sum = read_amount(o, "baseline_sum", false);
    s.baseline_sum_sq = read_amount(o, "baseline_sum_sq", false);
    return s;
}

[[nodiscard]] inline batch_state read_batch(const json& j, const std::string& pointer) {
    const object_reader o(j, pointer,
                          {"open", "betting", "batches", "lower_windows", "lower_sum",
                           "lower_sum_sq", "upper_windows", "upper_sum", "upper_sum_sq"});
    batch_state s;
    if (!o["open"].is_null()) {
        const object_reader b(
            o["open"], o.at("open"),
            {"index", "candidate_n", "fail_sum", "pass_sum", "fail_bound", "pass_bound",
             "fail_edge", "pass_edge", "edge_scale", "fail_edge_valid", "pass_edge_valid"});
        open_batch ob;
        ob.index = b.i64("index");
        ob.candidate_n = b.real("candidate_n");
        ob.fail_sum = b.real("fail_sum");
        ob.pass_sum = b.real("pass_sum");
        ob.fail_bound = b.real("fail_bound");
        ob.pass_bound = b.real("pass_bound");
        ob.fail_edge = b.i64("fail_edge");
        ob.pass_edge = b.i64("pass_edge");
        ob.edge_scale =
            read_int(b["edge_scale"], b.at("edge_scale"), 0, histogram_layout::max_scale);
        ob.fail_edge_valid = b.boolean("fail_edge_valid");
        ob.pass_edge_valid = b.boolean("pass_edge_valid");
        s.open = ob;
    }
    s.betting = read_betting(o["betting"], o.at("betting"));
    s.batches = o.u64("batches");
    s.lower_windows = o.real("lower_windows");
    s.lower_sum = o.real("lower_sum");
    s.lower_sum_sq = o.real("lower_sum_sq");
    s.upper_windows = o.real("upper_windows");
    s.upper_sum = o.real("upper_sum");
    s.upper_sum_sq = o.real("upper_sum_sq");
    return s;
}

[[nodiscard]] inline cumulative_histograms read_histograms(const json& j,
                                                           const std::string& pointer) {
    const object_reader o(j, pointer, {"candidate", "baseline"});
    cumulative_histograms h;
    for (const std::string_view arm :
         {std::string_view("candidate"), std::string_view("baseline")}) {
        if (o[arm].is_null()) continue;
        exp_histogram arm_total;
        nested(o.at(arm), [&] { from_json(o[arm], arm_total); });
        (arm == "candidate" ? h.candidate : h.baseline) = std::move(arm_total);
    }
    if (h.candidate && h.baseline && !h.candidate->layout().same_range(h.baseline->layout())) {
        fail(o.at("baseline"), "has another range (" + h.baseline->layout().describe() +
                                   ") than the candidate's (" + h.candidate->layout().describe() +
                                   "): the gates compare the arms slot by slot");
    }
    return h;
}

[[nodiscard]] inline rate_gate::state read_rate_state(const json& j, const std::string& pointer) {
    const object_reader o(j, pointer,
                          {"kind", "checks", "windows", "fail_process", "pass_process", "served",
                           "previous_end_ns", "sums", "batch", "cohorts_seen"});
    rate_gate::state s;
    s.checks = o.u64("checks");
    const json& windows = read_array(o["windows"], o.at("windows"));
    s.windows.reserve(windows.size());
    for (std::size_t i = 0; i < windows.size(); ++i) {
        const object_reader w(
            windows[i], child(o.at("windows"), i),
            {"candidate_exposure", "baseline_exposure", "candidate_events", "baseline_events"});
        s.windows.push_back({read_amount(w, "candidate_exposure", false),
                             read_amount(w, "baseline_exposure", false),
                             read_amount(w, "candidate_events", true),
                             read_amount(w, "baseline_events", true)});
    }
    s.fail_process = read_rate_process<5>(o["fail_process"], o.at("fail_process"));
    s.pass_process = read_rate_process<5>(o["pass_process"], o.at("pass_process"));
    if (s.fail_process.has_value() != s.pass_process.has_value()) {
        fail(o.at(s.fail_process ? "pass_process" : "fail_process"),
             "is null while the other process is not: a rate gate has both or neither");
    }
    const json& served = read_array(o["served"], o.at("served"));
    s.served.reserve(served.size());
    for (std::size_t i = 0; i < served.size(); ++i) {
        const object_reader r(served[i], child(o.at("served"), i),
                              {"midpoint_ns", "candidate", "baseline"});
        s.served.push_back({r.real("midpoint_ns"), r.real("candidate"), r.real("baseline")});
    }
    if (!o["previous_end_ns"].is_null()) s.previous_end_ns = o.i64("previous_end_ns");
    s.sums = read_sums(o["sums"], o.at("sums"));
    s.batch = read_batch(o["batch"], o.at("batch"));
    s.cohorts_seen = o.boolean("cohorts_seen");
    return s;
}

[[nodiscard]] inline mean_gate::state read_mean_state(const json& j, const std::string& pointer) {
    const object_reader o(j, pointer, {"kind", "checks", "betting", "sums", "batch"});
    mean_gate::state s;
    s.checks = o.u64("checks");
    s.betting = read_betting(o["betting"], o.at("betting"));
    s.sums = read_sums(o["sums"], o.at("sums"));
    s.batch = read_batch(o["batch"], o.at("batch"));
    return s;
}

[[nodiscard]] inline quantile_gate::state read_quantile_state(const json& j,
                                                              const std::string& pointer) {
    const object_reader o(
        j, pointer, {"kind", "checks", "histograms", "exceedances", "exceedance_trials", "batch"});
    quantile_gate::state s;
    s.checks = o.u64("checks");
    s.histograms = read_histograms(o["histograms"], o.at("histograms"));
    s.exceedances = o.u64("exceedances");
    s.exceedance_trials = o.u64("exceedance_trials");
    s.batch = read_batch(o["batch"], o.at("batch"));
    return s;
}

[[nodiscard]] inline shape_gate::state read_shape_state(const json& j, const std::string& pointer) {
    const object_reader o(j, pointer,
                          {"kind", "checks", "histograms", "candidate_sum", "candidate_sum_squares",
                           "baseline_sum", "baseline_sum_squares"});
    shape_gate::state s;
    s.checks = o.u64("checks");
    s.histograms = read_histograms(o["histograms"], o.at("histograms"));
    s.candidate_sum = o.wide("candidate_sum");
    s.candidate_sum_squares = o.wide("candidate_sum_squares");
    s.baseline_sum = o.wide("baseline_sum");
    s.baseline_sum_squares = o.wide("baseline_sum_squares");
    return s;
}

[[nodiscard]] inline gate_state read_gate_state(const json& j, const std::string& pointer) {
    if (!j.is_object()) fail(pointer, "expected an object, found " + describe(j));
    if (!j.contains("kind")) fail(pointer, "missing key 'kind'");
    const json& kind = j["kind"];
    const std::string kind_pointer = child(pointer, "kind");
    if (!kind.is_string()) fail(kind_pointer, "expected a string, found " + describe(kind));
    const auto& name = kind.get_ref<const std::string&>();
    if (name == gate_state_kinds[0]) return read_rate_state(j, pointer);
    if (name == gate_state_kinds[1]) return read_mean_state(j, pointer);
    if (name == gate_state_kinds[2]) return read_quantile_state(j, pointer);
    if (name == gate_state_kinds[3]) return read_shape_state(j, pointer);
    fail(kind_pointer, "unknown gate kind " + describe(kind) +
                           " (expected \"rate_gate\", \"mean_gate\", \"quantile_gate\" or "
                           "\"shape_gate\")");
}

/// Throws decode_error (at the gate's pointer) unless `s` belongs to `p`.
inline void check_against(const policy_state& s, const policy& p, const std::string& pointer) {
    const auto& gates = p.config().gates;
    const std::string gates_pointer = child(pointer, "gates");
    if (!s.gates.empty() && s.gates.size() != gates.size()) {
        fail(gates_pointer, "holds " + std::to_string(s.gates.size()) +
                                " gate states, but the policy has " + std::to_string(gates.size()) +
                                " gates (a policy would start over from fresh states and "
                                "lose this evidence)");
    }
    for (std::size_t i = 0; i < s.gates.size(); ++i) {
        const std::string here = child(gates_pointer, i);
        const gate& g = gates[i];
        if (s.gates[i].index() != g.kind().index()) {
            fail(child(here, "kind"), "is a " + std::string(gate_state_kinds[s.gates[i].index()]) +
                                          " state, but the policy's gate " + std::to_string(i) +
                                          " " + printable_name(g.name()) + " is a " +
                                          g.kind_name());
        }
        // A rate gate makes its processes at its tested ratio k (the pass
        // side at 1 / k) on its first check, and keeps them.
        const auto check_k = [&](const char* member, const stats::rate_ratio_e_process<5>& process,
                                 double k) {
            if (process.k() == k) return;
            fail(child(child(here, member), "k"),
                 json_double_text(process.k()) + " is not the ratio " + json_double_text(k) +
                     " the policy's gate " + std::to_string(i) + " " + printable_name(g.name()) +
                     " tests (its multiplier or direction changed)");
        };
        if (const auto* r = std::get_if<rate_gate::state>(&s.gates[i]); r && r->fail_process) {
            const double k = *g.tested_limit();
            check_k("fail_process", *r->fail_process, k);
            check_k("pass_process", *r->pass_process, 1.0 / k);
        }
    }
}

[[nodiscard]] inline policy_state read_document(const json& j,
                                                const policy_state_json_options& options) {
    const std::string& root = options.pointer_prefix;
    const object_reader o(j, root,
                          {"format", "version", "gates", "previous_totals", "stage_share",
                           "stage_candidate_requests", "stage_baseline_requests", "checks"});
    if (!o["format"].is_string() ||
        o["format"].get_ref<const std::string&>() != policy_state_json_format) {
        fail(o.at("format"),
             "expected \"canarygate.policy_state\", found " + describe(o["format"]));
    }
    const int version = read_int(o["version"], o.at("version"), 0, std::numeric_limits<int>::max());
    if (version != policy_state_json_version) {
        fail(o.at("version"),
             "version " + std::to_string(version) +
                 (version > policy_state_json_version ? " is newer than" : " is not") +
                 " the version this reader knows (1)");
    }
    policy_state s;
    const json& gates = read_array(o["gates"], o.at("gates"));
    s.gates.reserve(gates.size());
    for (std::size_t i = 0; i < gates.size(); ++i)
        s.gates.push_back(read_gate_state(gates[i], child(o.at("gates"), i)));
    if (!o["previous_totals"].is_null()) {
        s.previous_totals = nested(o.at("previous_totals"), [&] {
            return snapshot_from_json(o["previous_totals"], options.limits);
        });
    }
    s.stage_share = o.real("stage_share");
    s.stage_candidate_requests = o.u64("stage_candidate_requests");
    s.stage_baseline_requests = o.u64("stage_baseline_requests");
    s.checks = o.u64("checks");
    if (options.expected_policy != nullptr) check_against(s, *options.expected_policy, root);
    return s;
}

/// Builds a DOM from nlohmann's SAX events, refusing duplicate keys and
/// nesting deeper than policy_state_max_json_depth, with decode_error.
class dom_builder {
public:
    using number_integer_t = json::number_integer_t;
    using number_unsigned_t = json::number_unsigned_t;
    using number_float_t = json::number_float_t;
    using string_t = json::string_t;
    using binary_t = json::binary_t;

    explicit dom_builder(std::string prefix) : prefix_(std::move(prefix)) {}

    bool null() { return value(nullptr); }
    bool boolean(bool v) { return value(v); }
    bool number_integer(number_integer_t v) { return value(v); }
    bool number_unsigned(number_unsigned_t v) { return value(v); }
    bool number_float(number_float_t v, const string_t&) { return value(v); }
    bool string(string_t& v) { return value(std::move(v)); }
    bool binary(binary_t& v) { return value(json::binary(std::move(v))); }
    bool start_object(std::size_t) { return open(json::object(), true); }
    bool start_array(std::size_t) { return open(json::array(), false); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool key(string_t& name) {
        frame& f = stack_.back();
        if (f.container->contains(name)) {
            fail(pointer(stack_.size() - 1), "duplicate key " + printable_name(name));
        }
        f.key = name;
        return true;
    }
    bool parse_error(std::size_t position, const std::string&,
                     const nlohmann::detail::exception& e) {
        raise(decode_error(std::string("JSON syntax error: ") + e.what(),
                           position == 0 ? 0 : position - 1));
    }

    [[nodiscard]] json& result() noexcept { return root_; }

private:
    struct frame {
        json* container;
        bool object;
        std::string key;
        std::size_t elements = 0;
    };

    [[nodiscard]] std::string pointer(std::size_t frames) const {
        std::string p = prefix_;
        for (std::size_t i = 0; i < frames; ++i) {
            const frame& f = stack_[i];
            p = f.object ? child(p, f.key) : child(p, f.elements - 1);
        }
        return p;
    }

    // Places `v` where the parser stands; returns it.
    json* place(json&& v) {
        if (stack_.empty()) {
            root_ = std::move(v);
            return &root_;
        }
        frame& f = stack_.back();
        if (f.object) return &((*f.container)[f.key] = std::move(v));
        ++f.elements;
        f.container->push_back(std::move(v));
        return &f.container->back();
    }
    bool value(json&& v) {
        (void)place(std::move(v));
        return true;
    }
    bool open(json&& container, bool object) {
        if (stack_.size() + 1 > policy_state_max_json_depth) {
            fail(pointer(stack_.size()), "nesting deeper than policy_state_max_json_depth (" +
                                             std::to_string(policy_state_max_json_depth) + ")");
        }
        json* placed = place(std::move(container));
        stack_.push_back(frame{placed, object, {}, 0});
        return true;
    }
    bool close() {
        stack_.pop_back();
        return true;
    }

    std::string prefix_;
    json root_;
    std::vector<frame> stack_;
};

}  // namespace state_json
}  // namespace detail

// --- Definitions --------------------------------------------------------------

inline nlohmann::json policy_state_to_json(const policy_state& s) {
    namespace sj = detail::state_json;
    auto gates = nlohmann::json::array();
    for (const gate_state& g : s.gates)
        gates.push_back(std::visit([](const auto& state) { return sj::write(state); }, g));
    return nlohmann::json{{"format", policy_state_json_format},
                          {"version", policy_state_json_version},
                          {"gates", std::move(gates)},
                          {"previous_totals", s.previous_totals ? nlohmann::json(*s.previous_totals)
                                                                : nlohmann::json()},
                          {"stage_share", sj::number(s.stage_share)},
                          {"stage_candidate_requests", sj::count(s.stage_candidate_requests)},
                          {"stage_baseline_requests", sj::count(s.stage_baseline_requests)},
                          {"checks", sj::count(s.checks)}};
}

inline policy_state policy_state_from_json(const nlohmann::json& j) {
    return detail::state_json::read_document(j, policy_state_json_options{});
}

inline policy_state policy_state_from_json(const nlohmann::json& j, const policy& p) {
    policy_state_json_options options;
    options.expected_policy = &p;
    return detail::state_json::read_document(j, options);
}

inline policy_state policy_state_from_json(const nlohmann::json& j,
                                           const policy_state_json_options& options) {
    return detail::state_json::read_document(j, options);
}

inline policy_state parse_policy_state(std::string_view json_text,
                                       const policy_state_json_options& options) {
    detail::state_json::dom_builder builder(options.pointer_prefix);
    (void)nlohmann::json::sax_parse(json_text.begin(), json_text.end(), &builder);
    return detail::state_json::read_document(builder.result(), options);
}

inline policy_state parse_policy_state(std::string_view json_text, const policy& p) {
    policy_state_json_options options;
    options.expected_policy = &p;
    return parse_policy_state(json_text, options);
}

CANARYGATE_NAMESPACE_END
