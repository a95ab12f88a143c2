// SPDX-License-Identifier: MIT
/// \file
/// Optional integration header: needs nlohmann-json >= 3.11 (CMake:
/// canarygate::json). The request log: one JSON object per line (JSON
/// Lines), written by an inference server next to its recorder and read back
/// to replay real traffic through a rollout policy (canarygate/testing/
/// replay.hpp) or to calibrate on it (aa_calibration).
///
/// ## Format, version 1
///
/// ```
/// {"type":"header","format":"canarygate.request_log","version":1}
/// {"type":"request","time_ns":"1767225600123000000","arm":"candidate","model":"sha256:ab12",
///  "request_id":"req-17","latency_ns":812000000,"ttft_ns":350000000,"input_tokens":1200,
///  "output_tokens":350,"cost_nano_usd":390000,"outcome":"ok","candidate_share":0.01}
/// {"type":"feedback","time_ns":"1767226200000000000","request_id":"req-17",
///  "feedback":"thumbs_down"}
/// ```
/// (each object on one line). The header line is optional; if present it is
/// first. A request line is written when the request ended; `arm` is
/// "baseline", "candidate" or "shadow" (a mirrored copy, which carries the
/// request id of the user's request it copies); `outcome` is a name of
/// canarygate::outcome; `model`, `ttft_ns` (streamed responses) and
/// `candidate_share` (the candidate's share of traffic when the request was
/// routed) are optional. A feedback line is written when the feedback
/// arrived; `feedback` is a name of canarygate::feedback_kind, and `score`
/// (an integer) is required for "score" and not allowed otherwise.
///
/// Integers are JSON numbers up to 2^53 and decimal strings above (so
/// JavaScript reads them exactly: nanoseconds since the epoch are above);
/// readers accept either form, and reject fractions, exponents and negative
/// values. Every line is in time order (`time_ns` never decreases); a reader
/// refuses a log out of order unless asked to sort it. Unknown keys,
/// duplicate keys, missing required keys and values of the wrong type are
/// errors naming the line and the field: nothing is skipped silently.
///
/// Example:
/// \code
///   std::ofstream file("requests.jsonl");
///   canarygate::request_log_writer log(file);
///   // in a request thread, after recording the response:
///   log.request(now_ns, canarygate::arm_role::candidate, "sha256:ab12", request_id, outcome);
///   // when feedback arrives:
///   log.feedback(now_ns, request_id, {canarygate::feedback_kind::thumbs_down});
///
///   std::ifstream in("requests.jsonl");
///   const canarygate::request_log entries = canarygate::read_request_log(in);
/// \endcode
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <limits>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/record/event.hpp"
#include "canarygate/record/outcome.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// A request line.
struct logged_request {
    std::int64_t time_ns = 0;
    arm_role arm = arm_role::baseline;
    std::string model;
    std::string request_id;
    request_outcome outcome;
    std::optional<double> candidate_share;
    std::size_t line = 0;  ///< 1-based line number in the log
};

/// A feedback line.
struct logged_feedback {
    std::int64_t time_ns = 0;
    std::string request_id;
    feedback_event event;
    std::size_t line = 0;
};

/// A line a reader could not use: where, which field ("" for the line as a
/// whole), and why.
struct request_log_problem {
    std::size_t line = 0;
    std::string field;
    std::string message;
};

/// What read_request_log found, in time order.
struct request_log {
    std::vector<logged_request> requests;
    std::vector<logged_feedback> feedback;
    std::size_t lines = 0;        ///< lines read, blank ones included
    std::size_t blank_lines = 0;  ///< empty or whitespace-only lines
    bool sorted = false;          ///< the reader had to sort it (sort_by_time)
    /// Lines left out under skip_malformed (empty otherwise: the reader throws).
    std::vector<request_log_problem> skipped;
};

struct request_log_options {
    /// A log whose times go backwards is an error; with this set it is sorted
    /// by time instead (stable: lines with the same time keep their order).
    bool sort_by_time = false;
    /// Malformed lines are an error; with this set they are left out and
    /// listed in request_log::skipped instead.
    bool skip_malformed = false;
    /// Longer lines are malformed (a log is not a place for a megabyte of
    /// prompt). Checked once the line is read: it bounds what is parsed,
    /// not what std::getline holds.
    std::size_t max_line_bytes = 64 * 1024;
};

/// A malformed request log, at a line and field.
class request_log_error : public std::runtime_error {
public:
    explicit request_log_error(request_log_problem problem)
        : std::runtime_error(
              "canarygate request log, line " + std::to_string(problem.line) +
              (problem.field.empty() ? std::string() : ", field \"" + problem.field + "\"") + ": " +
              problem.message),
          problem_(std::move(problem)) {}
    [[nodiscard]] const request_log_problem& problem() const noexcept { return problem_; }

private:
    request_log_problem problem_;
};

namespace detail {

enum class log_key : std::uint8_t {
    type,
    format,
    version,
    time_ns,
    arm,
    model,
    request_id,
    latency_ns,
    ttft_ns,
    input_tokens,
    output_tokens,
    cost_nano_usd,
    outcome,
    candidate_share,
    feedback,
    score,
};
inline constexpr std::size_t log_key_count = 16;
inline constexpr std::array<std::string_view, log_key_count> log_key_names = {
    "type",       "format",          "version",  "time_ns",      "arm",           "model",
    "request_id", "latency_ns",      "ttft_ns",  "input_tokens", "output_tokens", "cost_nano_usd",
    "outcome",    "candidate_share", "feedback", "score"};

/// A JSON scalar as the line held it.
struct log_value {
    enum class kind : std::uint8_t {
        absent,
        null,
        boolean,
        negative,
        unsigned_int,
        floating,
        text
    };
    kind type = kind::absent;
    std::uint64_t u = 0;
    std::int64_t i = 0;
    double d = 0.0;
    std::string s;
};

/// nlohmann's SAX interface over one line: a flat object of scalars, no
/// DOM. Stops at the first problem, which it keeps.
class log_line_parser {
public:
    using json = nlohmann::json;
    std::array<log_value, log_key_count> values;
    std::string problem_field;
    std::string problem;

    void reset() {
        for (auto& v : values) {
            v.type = log_value::kind::absent;
            v.s.clear();
        }
        problem_field.clear();
        problem.clear();
        depth_ = 0;
        current_ = nullptr;
    }

    bool null() {
        return scalar([](log_value& v) { v.type = log_value::kind::null; });
    }
    bool boolean(bool) {
        return scalar([](log_value& v) { v.type = log_value::kind::boolean; });
    }
    bool number_integer(json::number_integer_t x) {
        return scalar([&](log_value& v) {
            v.type = x < 0 ? log_value::kind::negative : log_value::kind::unsigned_int;
            v.i = x;
            v.u = static_cast<std::uint64_t>(x);
        });
    }
    bool number_unsigned(json::number_unsigned_t x) {
        return scalar([&](log_value& v) {
            v.type = log_value::kind::unsigned_int;
            v.u = x;
            v.i = x > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                      ? std::numeric_limits<std::int64_t>::max()
                      : static_cast<std::int64_t>(x);
        });
    }
    bool number_float(json::number_float_t x, const json::string_t&) {
        return scalar([&](log_value& v) {
            v.type = log_value::kind::floating;
            v.d = x;
        });
    }
    bool string(json::string_t& x) {
        return scalar([&](log_value& v) {
            v.type = log_value::kind::text;
            v.s.assign(x);  // into the buffer of earlier lines: no allocation per line
        });
    }
    bool binary(json::binary_t&) { return fail("", "binary values are not JSON text"); }
    bool start_object(std::size_t) {
        if (depth_++ == 0) return true;
        return fail(std::string(current_name_), "must be a string or a number, not an object");
    }
    bool end_object() {
        --depth_;
        return true;
    }
    bool start_array(std::size_t) {
        if (depth_ == 0) return fail("", "a line must be a JSON object, not an array");
        return fail(std::string(current_name_), "must be a string or a number, not an array");
    }
    bool end_array() { return true; }
    bool key(json::string_t& k) {
        current_ = nullptr;
        for (std::size_t i = 0; i < log_key_count; ++i) {
            if (log_key_names[i] == k) {
                current_name_ = log_key_names[i];
                if (values[i].type != log_value::kind::absent)
                    return fail(k, "appears twice in the object");
                current_ = &values[i];
                return true;
            }
        }
        return fail(k, "is not a field of the request log (a typo?)");
    }
    bool parse_error(std::size_t position, const std::string&,
                     const nlohmann::detail::exception& e) {
        // nlohmann's message: "[json.exception.parse_error.101] parse error at line 1, column 7:
        // syntax error while parsing value - invalid literal; last read: '12x'".
        std::string what = e.what();
        const auto colon = what.find(": ");
        return fail("", "not valid JSON at byte " + std::to_string(position) + " (" +
                            (colon == std::string::npos ? what : what.substr(colon + 2)) + ")");
    }

private:
    template <class Set>
    bool scalar(Set set) {
        if (depth_ == 0) return fail("", "a line must be a JSON object");
        if (current_ == nullptr) return fail("", "a value without a key");
        set(*current_);
        if (current_->type == log_value::kind::absent) current_->type = log_value::kind::null;
        current_ = nullptr;
        return true;
    }
    bool fail(const std::string& field, std::string why) {
        if (problem.empty()) {
            problem_field = field;
            problem = std::move(why);
        }
        return false;
    }

    int depth_ = 0;
    log_value* current_ = nullptr;
    std::string_view current_name_;  // a log_key_names entry
};

/// One parsed line, converted; problems are thrown as request_log_problem
/// values through `fail`.
class log_line_converter {
public:
    explicit log_line_converter(log_line_parser& p, std::size_t line) : p_(p), line_(line) {}

    [[nodiscard]] bool has(log_key k) const {
        return p_.values[static_cast<std::size_t>(k)].type != log_value::kind::absent;
    }
    [[nodiscard]] static std::string_view key_name(log_key k) {
        return log_key_names[static_cast<std::size_t>(k)];
    }
    [[nodiscard]] std::optional<request_log_problem> problem() const { return problem_; }

    const std::string& text(log_key k) {
        static const std::string none;
        const log_value& v = value(k);
        if (v.type != log_value::kind::text) return wrong(k, "must be a string"), none;
        return v.s;
    }
    std::uint64_t integer(log_key k) {
        const log_value& v = value(k);
        if (v.type == log_value::kind::unsigned_int) return v.u;
        if (v.type == log_value::kind::text) {
            std::uint64_t x = 0;
            const char* first = v.s.data();
            const char* last = first + v.s.size();
            const auto r = std::from_chars(first, last, x);
            const bool leading_zero = v.s.size() > 1 && v.s[0] == '0';
            if (!v.s.empty() && !leading_zero && r.ec == std::errc() && r.ptr == last) return x;
            return wrong(k, "must be a nonnegative integer, got the string \"" + v.s + "\""), 0;
        }
        if (v.type == log_value::kind::negative)
            return wrong(k, "must be a nonnegative integer, got " + std::to_string(v.i)), 0;
        if (v.type == log_value::kind::floating)
            return wrong(k, "must be an integer (no fraction or exponent), got " + fmt(v.d)), 0;
        return wrong(k, "must be a nonnegative integer"), 0;
    }
    std::int64_t signed_integer(log_key k) {
        const log_value& v = value(k);
        if (v.type == log_value::kind::negative) return v.i;
        if (v.type == log_value::kind::unsigned_int) {
            if (v.u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                return wrong(k, "is too large"), 0;
            return v.i;
        }
        return wrong(k, "must be an integer"), 0;
    }
    double number(log_key k) {
        const log_value& v = value(k);
        if (v.type == log_value::kind::floating) return v.d;
        if (v.type == log_value::kind::unsigned_int) return static_cast<double>(v.u);
        if (v.type == log_value::kind::negative) return static_cast<double>(v.i);
        return wrong(k, "must be a number"), 0.0;
    }
    void wrong(log_key k, std::string why) {
        if (!problem_)
            problem_ = request_log_problem{line_, std::string(key_name(k)), std::move(why)};
    }
    void require(log_key k, std::string_view type) {
        if (!has(k)) wrong(k, "is required in a " + std::string(type) + " line and missing");
    }
    void forbid(log_key k, std::string_view type) {
        if (has(k)) wrong(k, "does not belong in a " + std::string(type) + " line");
    }

    static std::string fmt(double x) {
        char buf[32];
        const auto r = std::to_chars(buf, buf + sizeof buf, x);
        return std::string(buf, r.ptr);
    }

private:
    const log_value& value(log_key k) const { return p_.values[static_cast<std::size_t>(k)]; }

    log_line_parser& p_;
    std::size_t line_;
    std::optional<request_log_problem> problem_;
};

inline constexpr std::uint64_t exact_json_integer = std::uint64_t{1} << 53;

}  // namespace detail

/// Reads a request log (see the file comment). Throws request_log_error at
/// the first malformed line (line number, field, reason) unless
/// `skip_malformed`, and at the first line whose time goes backwards unless
/// `sort_by_time`.
[[nodiscard]] inline request_log read_request_log(std::istream& in,
                                                  const request_log_options& options = {}) {
    using detail::log_key;
    request_log log;
    detail::log_line_parser parser;
    std::string line;
    std::int64_t last_time = std::numeric_limits<std::int64_t>::min();
    std::size_t last_time_line = 0;
    std::size_t content_lines = 0;
    bool out_of_order = false;
    const auto report = [&](request_log_problem p) {
        if (!options.skip_malformed) detail::raise(request_log_error(std::move(p)));
        log.skipped.push_back(std::move(p));
    };
    while (std::getline(in, line)) {
        const std::size_t number = ++log.lines;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) {
            ++log.blank_lines;
            continue;
        }
        ++content_lines;  // a header must be the first of these
        if (line.size() > options.max_line_bytes) {
            report({number, "",
                    "is " + std::to_string(line.size()) +
                        " bytes long, more than max_line_bytes = " +
                        std::to_string(options.max_line_bytes)});
            continue;
        }
        parser.reset();
        const bool parsed = nlohmann::json::sax_parse(line, &parser) && parser.problem.empty();
        if (!parsed) {
            report({number, parser.problem_field,
                    parser.problem.empty() ? "not valid JSON" : parser.problem});
            continue;
        }
        detail::log_line_converter c(parser, number);
        c.require(log_key::type, "any");
        static const std::string no_type;
        const std::string& type = c.has(log_key::type) ? c.text(log_key::type) : no_type;
        if (auto p = c.problem()) {
            report(std::move(*p));
            continue;
        }
        if (type == "header") {
            c.require(log_key::format, type);
            c.require(log_key::version, type);
            for (std::size_t k = 0; k < detail::log_key_count; ++k) {
                const auto key = static_cast<log_key>(k);
                if (key != log_key::type && key != log_key::format && key != log_key::version)
                    c.forbid(key, type);
            }
            if (!c.problem() && c.text(log_key::format) != "canarygate.request_log")
                c.wrong(log_key::format, "must be \"canarygate.request_log\"");
            if (!c.problem() && c.integer(log_key::version) != 1)
                c.wrong(log_key::version, "must be 1 (the version this reader understands)");
            if (!c.problem() && content_lines != 1)
                c.wrong(log_key::type, "a header must be the first line");
            if (auto p = c.problem()) report(std::move(*p));
            continue;
        }
        if (type != "request" && type != "feedback") {
            c.wrong(log_key::type,
                    "must be \"request\", \"feedback\" or \"header\", got \"" + type + "\"");
            report(*c.problem());
            continue;
        }
        c.require(log_key::time_ns, type);
        c.require(log_key::request_id, type);
        c.forbid(log_key::format, type);
        c.forbid(log_key::version, type);
        std::int64_t time_ns = 0;
        std::string request_id;
        if (!c.problem()) {
            const std::uint64_t t = c.integer(log_key::time_ns);
            if (t > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                c.wrong(log_key::time_ns, "is beyond 2^63 - 1 nanoseconds");
            time_ns = static_cast<std::int64_t>(t);
            request_id = c.text(log_key::request_id);
            if (!c.problem() && request_id.empty())
                c.wrong(log_key::request_id, "must not be empty");
        }
        if (type == "request") {
            logged_request r;
            for (const log_key k :
                 {log_key::arm, log_key::latency_ns, log_key::input_tokens, log_key::output_tokens,
                  log_key::cost_nano_usd, log_key::outcome})
                c.require(k, type);
            c.forbid(log_key::feedback, type);
            c.forbid(log_key::score, type);
            if (!c.problem()) {
                const std::string& arm = c.text(log_key::arm);
                if (arm == "baseline") {
                    r.arm = arm_role::baseline;
                } else if (arm == "candidate") {
                    r.arm = arm_role::candidate;
                } else if (arm == "shadow") {
                    r.arm = arm_role::shadow;
                } else if (!c.problem()) {
                    c.wrong(
                        log_key::arm,
                        "must be \"baseline\", \"candidate\" or \"shadow\", got \"" + arm + "\"");
                }
            }
            if (!c.problem() && c.has(log_key::model)) r.model = c.text(log_key::model);
            if (!c.problem()) {
                r.outcome.latency_ns = c.integer(log_key::latency_ns);
                if (c.has(log_key::ttft_ns)) r.outcome.ttft_ns = c.integer(log_key::ttft_ns);
                r.outcome.input_tokens = c.integer(log_key::input_tokens);
                r.outcome.output_tokens = c.integer(log_key::output_tokens);
                r.outcome.cost_nano_usd = c.integer(log_key::cost_nano_usd);
            }
            if (!c.problem() && c.has(log_key::ttft_ns) &&
                r.outcome.ttft_ns == request_outcome::absent)
                c.wrong(log_key::ttft_ns, "is the reserved value 2^64 - 1");
            if (!c.problem()) {
                const std::string& o = c.text(log_key::outcome);
                if (const auto category = outcome_from_name(o)) {
                    r.outcome.category = *category;
                } else if (!c.problem()) {
                    c.wrong(log_key::outcome, "\"" + o +
                                                  "\" is not an outcome (\"ok\", \"truncated\", "
                                                  "\"refusal_provider\", \"server_error\", ...)");
                }
            }
            if (!c.problem() && c.has(log_key::candidate_share)) {
                const double share = c.number(log_key::candidate_share);
                if (!c.problem() && !(share >= 0.0 && share <= 1.0))
                    c.wrong(log_key::candidate_share,
                            "must be in [0, 1], got " + detail::log_line_converter::fmt(share));
                r.candidate_share = share;
            }
            if (auto p = c.problem()) {
                report(std::move(*p));
                continue;
            }
            r.time_ns = time_ns;
            r.request_id = std::move(request_id);
            r.line = number;
            log.requests.push_back(std::move(r));
        } else {
            logged_feedback f;
            c.require(log_key::feedback, type);
            for (const log_key k :
                 {log_key::arm, log_key::model, log_key::latency_ns, log_key::ttft_ns,
                  log_key::input_tokens, log_key::output_tokens, log_key::cost_nano_usd,
                  log_key::outcome, log_key::candidate_share})
                c.forbid(k, type);
            if (!c.problem()) {
                const std::string& kind = c.text(log_key::feedback);
                bool known = false;
                for (std::size_t k = 0; k < feedback_kind_count; ++k) {
                    if (name(static_cast<feedback_kind>(k)) == kind) {
                        f.event.kind = static_cast<feedback_kind>(k);
                        known = true;
                    }
                }
                if (!known && !c.problem())
                    c.wrong(
                        log_key::feedback,
                        "must be \"thumbs_up\", \"thumbs_down\", \"ticket\" or \"score\", got \"" +
                            kind + "\"");
            }
            if (!c.problem()) {
                if (f.event.kind == feedback_kind::score) {
                    c.require(log_key::score, "score feedback");
                    if (!c.problem()) f.event.score = c.signed_integer(log_key::score);
                } else {
                    c.forbid(log_key::score, name(f.event.kind));
                }
            }
            if (auto p = c.problem()) {
                report(std::move(*p));
                continue;
            }
            f.time_ns = time_ns;
            f.request_id = std::move(request_id);
            f.line = number;
            log.feedback.push_back(std::move(f));
        }
        if (time_ns < last_time) {
            if (!options.sort_by_time) {
                // Not skippable: the line is well-formed, the log is not.
                detail::raise(request_log_error(request_log_problem{
                    number, "time_ns",
                    std::to_string(time_ns) + " is before line " + std::to_string(last_time_line) +
                        "'s " + std::to_string(last_time) +
                        ": the log is not in time order (read it with sort_by_time to sort it)"}));
            }
            out_of_order = true;
        } else {
            last_time = time_ns;
            last_time_line = number;
        }
    }
    if (out_of_order) {
        const auto by_time = [](const auto& a, const auto& b) { return a.time_ns < b.time_ns; };
        std::stable_sort(log.requests.begin(), log.requests.end(), by_time);
        std::stable_sort(log.feedback.begin(), log.feedback.end(), by_time);
        log.sorted = true;
    }
    return log;
}

/// What a request_log_writer has written.
struct request_log_writer_stats {
    std::uint64_t requests = 0;
    std::uint64_t feedback = 0;
    /// Lines that came later than the reorder window allows — their time
    /// was before a line already written — and were written with that
    /// line's time instead, and the largest such raise: the log stays in
    /// time order, and the change is visible here.
    std::uint64_t raised_times = 0;
    std::int64_t largest_raise_ns = 0;
    /// Lines the stream refused (it was in a failed state): lost, counted.
    std::uint64_t failed = 0;
    /// Times before 0 (written as 0) and candidate shares that were not a
    /// number (NaN: written without the share; outside [0, 1]: clamped).
    std::uint64_t negative_times = 0;
    std::uint64_t bad_shares = 0;
    /// Lines waiting in the reorder window (written by flush()).
    std::uint64_t buffered = 0;
};

struct request_log_writer_options {
    /// Write a header line first (not when appending to an existing log).
    bool write_header = true;
    /// Request threads finish out of order: a line is held until a line
    /// this much later has arrived, and the held lines are written in time
    /// order. A line later than that is written with the time of the last
    /// line written (counted: raised_times). 0 writes every line at once.
    std::int64_t reorder_window_ns = 1'000'000'000;
};

/// Writes the request log of a running service (see the file comment). Call
/// it from any thread, after the recorder has the request: each line is
/// formatted outside the lock; under it, lines wait in a small reorder
/// window and leave it in time order, so the log is always in time order
/// although request threads finish out of order. The times are the
/// caller's (nanoseconds, the recorder's clock). flush() (and the
/// destructor) writes what is waiting. Thread-safe; the stream must outlive
/// the writer.
class request_log_writer {
public:
    explicit request_log_writer(std::ostream& out, request_log_writer_options options = {})
        : out_(out), options_(options) {
        if (options_.reorder_window_ns < 0)
            detail::throw_bad_field("canarygate::request_log_writer", "reorder_window_ns",
                                    options_.reorder_window_ns, "must be >= 0");
        if (options_.write_header) {
            constexpr std::string_view header =
                "{\"type\":\"header\",\"format\":\"canarygate.request_log\",\"version\":1}\n";
            out_.write(header.data(), static_cast<std::streamsize>(header.size()));
            if (!out_) ++stats_.failed;
        }
    }
    request_log_writer(const request_log_writer&) = delete;
    request_log_writer& operator=(const request_log_writer&) = delete;
    ~request_log_writer() {
        CANARYGATE_TRY { flush(); }
        CANARYGATE_CATCH(...) {}  // a destructor must not throw; flush() counts what it lost
    }

    /// Logs a finished request (the time it ended). Returns false if the
    /// stream refused a line this call wrote (see stats().failed).
    bool request(std::int64_t time_ns, arm_role arm, std::string_view model,
                 std::string_view request_id, const request_outcome& o,
                 std::optional<double> candidate_share = std::nullopt) {
        std::string line;
        line.reserve(256);
        line += "\"arm\":\"";
        line += name(arm);
        line += "\",";
        if (!model.empty()) {
            line += "\"model\":";
            quoted(line, model);
            line += ',';
        }
        line += "\"request_id\":";
        quoted(line, request_id);
        field(line, "latency_ns", o.latency_ns);
        if (o.ttft_ns != request_outcome::absent) field(line, "ttft_ns", o.ttft_ns);
        field(line, "input_tokens", o.input_tokens);
        field(line, "output_tokens", o.output_tokens);
        field(line, "cost_nano_usd", o.cost_nano_usd);
        line += ",\"outcome\":\"";
        line += name(o.category);
        line += '"';
        bool bad_share = false;
        if (candidate_share) {
            const double share = *candidate_share;
            bad_share = !(share >= 0.0 && share <= 1.0);
            if (!std::isnan(share)) {  // NaN has no JSON form: the share is left out
                line += ",\"candidate_share\":";
                chars(line, std::clamp(share, 0.0, 1.0));
            }
        }
        line += "}\n";
        return put({time_ns, 0, true, std::move(line)}, bad_share);
    }

    /// Logs feedback about an earlier request (the time it arrived).
    /// Returns false if the stream refused a line this call wrote.
    bool feedback(std::int64_t time_ns, std::string_view request_id, const feedback_event& f) {
        std::string line;
        line.reserve(128);
        line += "\"request_id\":";
        quoted(line, request_id);
        line += ",\"feedback\":\"";
        line += name(f.kind);
        line += '"';
        if (f.kind == feedback_kind::score) {
            line += ",\"score\":";
            chars(line, f.score);
        }
        line += "}\n";
        return put({time_ns, 0, false, std::move(line)});
    }

    /// Writes every waiting line and flushes the stream. Returns false if
    /// the stream refused a line.
    bool flush() {
        const std::lock_guard lock(mutex_);
        bool ok = true;
        while (!waiting_.empty()) ok = write_oldest() && ok;
        out_.flush();
        return ok;
    }

    [[nodiscard]] request_log_writer_stats stats() const {
        const std::lock_guard lock(mutex_);
        request_log_writer_stats s = stats_;
        s.buffered = waiting_.size();
        return s;
    }

private:
    /// A formatted line without its type and time, which are prefixed when
    /// it is written (the time may still be raised).
    struct pending_line {
        std::int64_t time_ns;
        std::uint64_t sequence;  // arrival order: ties keep it
        bool request;
        std::string body;
        friend bool operator>(const pending_line& a, const pending_line& b) {
            return a.time_ns != b.time_ns ? a.time_ns > b.time_ns : a.sequence > b.sequence;
        }
    };

    static void quoted(std::string& line, std::string_view s) {
        // nlohmann escapes; invalid UTF-8 becomes U+FFFD instead of throwing.
        line += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    static void field(std::string& line, std::string_view key, std::uint64_t value) {
        line += ",\"";
        line += key;
        line += "\":";
        integer(line, value);
    }
    /// A number's shortest decimal form (to_chars: round-trips exactly).
    template <class Number>
    static void chars(std::string& line, Number value) {
        char buf[32];
        const auto r = std::to_chars(buf, buf + sizeof buf, value);
        line.append(buf, static_cast<std::size_t>(r.ptr - buf));
    }
    static void integer(std::string& line, std::uint64_t value) {
        const bool exact = value <= detail::exact_json_integer;
        if (!exact) line += '"';
        chars(line, value);
        if (!exact) line += '"';
    }

    bool put(pending_line line, bool bad_share = false) {
        const std::lock_guard lock(mutex_);
        stats_.bad_shares += bad_share ? 1 : 0;
        if (line.time_ns < 0) {
            ++stats_.negative_times;
            line.time_ns = 0;
        }
        line.sequence = sequence_++;
        newest_ns_ = std::max(newest_ns_, line.time_ns);
        waiting_.push_back(std::move(line));
        std::push_heap(waiting_.begin(), waiting_.end(), std::greater<>{});
        bool ok = true;
        while (!waiting_.empty() &&
               waiting_.front().time_ns <= newest_ns_ - options_.reorder_window_ns)
            ok = write_oldest() && ok;
        return ok;
    }

    /// Writes the oldest waiting line (the lock is held).
    bool write_oldest() {
        std::pop_heap(waiting_.begin(), waiting_.end(), std::greater<>{});
        pending_line line = std::move(waiting_.back());
        waiting_.pop_back();
        if (line.time_ns < written_ns_) {
            ++stats_.raised_times;
            stats_.largest_raise_ns = std::max(stats_.largest_raise_ns, written_ns_ - line.time_ns);
            line.time_ns = written_ns_;
        }
        written_ns_ = line.time_ns;
        std::string text = line.request ? "{\"type\":\"request\",\"time_ns\":"
                                        : "{\"type\":\"feedback\",\"time_ns\":";
        integer(text, static_cast<std::uint64_t>(line.time_ns));
        text += ',';
        text += line.body;
        if (out_) out_.write(text.data(), static_cast<std::streamsize>(text.size()));
        if (!out_) {
            ++stats_.failed;
            return false;
        }
        ++(line.request ? stats_.requests : stats_.feedback);
        return true;
    }

    std::ostream& out_;
    request_log_writer_options options_;
    mutable std::mutex mutex_;
    std::vector<pending_line> waiting_;  // a min-heap by (time, sequence)
    std::uint64_t sequence_ = 0;
    std::int64_t newest_ns_ = 0;
    std::int64_t written_ns_ = 0;
    request_log_writer_stats stats_;
};

CANARYGATE_NAMESPACE_END
