// SPDX-License-Identifier: MIT
// How fast a request log (canarygate/integration/request_log.hpp, JSON Lines)
// can be read, and what share of a replay the reading is: the measurement
// behind the choice of JSON parser for the replay reader (nlohmann-json's SAX
// interface, already a dependency, or simdjson's On Demand API).
//
//   canarygate_replay_throughput [--hours H=24] [--replay-hours R=10] [--repeat N=5]
//                                [--only LETTERS=abcdefg] (D: (d') from the file)
//
// The log: canarygate::testkit::scenario traffic at 600 requests/min for H
// simulated hours, 5 % of it on the candidate, every request and feedback
// written through request_log_writer (model digests "sha256:" + 64 hex
// digits, request ids "req-<n>", candidate_share 0.05, times from 2026-01-01).
// It is kept in memory and also written to a temporary file (removed at exit).
//
// Measurements on the same log, each repeated N times in turn (a, b, ..., a,
// b, ...: drift on a shared machine spreads over all of them), reporting the
// median:
//   (a) lines only: std::getline over an istringstream (the I/O floor)
//   (b) bare parse: nlohmann::json::parse of each line into a DOM
//   (c) nlohmann SAX with a handler that only counts events (nlohmann's floor)
//   (d) read_request_log: the reader (SAX parse, validation, conversion)
//   (e) load_log(read_request_log(...)): the reader and the replay's loading;
//       (d) and (e) share their runs: (d) is the first part of each
//   (f) simdjson On Demand: each line padded, every field visited, numbers and
//       strings converted into the same request_log as (d), without (d)'s
//       checks (required, forbidden and duplicate keys, ranges, time order);
//       compiled only when CMake found simdjson (CANARYGATE_BENCH_SIMDJSON)
//   (g) one replay: simulate() of default_rollout() over the loaded log for R
//       simulated hours (the log is read and loaded once, outside the clock)
// plus (a'): (a) reading the temporary file (page cache) through an
// std::ifstream, and on request (--only D) (d') likewise. The istringstream's
// copy of the log and the opening of the file are not timed; neither is the
// destruction of a result, except the request_log that (e) discards, as a
// replay does.
//
// Before timing, (f)'s request_log is compared with (d)'s field by field:
// the program exits 1 if they differ, or if a run's result differs from the
// first run's. No timing is asserted.
//
// For instruction counts (stable on a noisy machine), run one measurement at
// a time under callgrind and collect only its work function, e.g.
//   valgrind --tool=callgrind --toggle-collect='*work_sax_floor*'
//            canarygate_replay_throughput --hours 0.5 --repeat 1 --only c
// (work_lines, work_bare_parse, work_sax_floor, work_read, work_load,
// work_simdjson, work_replay).
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#if CANARYGATE_BENCH_SIMDJSON
#include <simdjson.h>
#endif

#include "canarygate/core/clock.hpp"
#include "canarygate/integration/request_log.hpp"
#include "canarygate/record/event.hpp"
#include "canarygate/record/outcome.hpp"
#include "canarygate/testing/replay.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/testing/simulation.hpp"
#include "canarygate/testing/simulation_suite.hpp"

namespace {

using namespace canarygate;
namespace tk = canarygate::testkit;
using clock_type = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// The log.

constexpr std::int64_t epoch_ns = 1'767'225'600'000'000'000;  // 2026-01-01T00:00Z
constexpr double log_candidate_share = 0.05;
constexpr std::uint64_t log_seed = 20260101;

/// "sha256:" + 64 hex digits, deterministic in `salt` (splitmix64).
std::string digest(std::uint64_t salt) {
    std::string out = "sha256:";
    std::uint64_t x = salt;
    for (int word = 0; word < 4; ++word) {
        x += 0x9e3779b97f4a7c15ULL;
        std::uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        for (int nibble = 15; nibble >= 0; --nibble)
            out += "0123456789abcdef"[(z >> (4 * nibble)) & 0xf];
    }
    return out;
}

struct generated_log {
    std::string text;
    std::uint64_t lines = 0;
    std::uint64_t requests = 0;
    std::uint64_t feedback = 0;
    std::uint64_t raised_times = 0;
};

generated_log generate_log(double hours) {
    tk::scenario_config cfg;
    cfg.traffic.requests_per_minute = 600;
    cfg.stages = {tk::stage{0, log_candidate_share}};
    cfg.shadow_share = 0.0;
    tk::scenario traffic(cfg, log_seed);
    const std::string baseline_model = digest(1);
    const std::string candidate_model = digest(2);

    std::ostringstream out;
    request_log_writer writer(out);  // with the header line
    std::string id;
    const auto request_id = [&](std::uint64_t n) -> const std::string& {
        id = "req-";
        id += std::to_string(n);
        return id;
    };
    traffic.run(
        static_cast<std::int64_t>(std::llround(hours * static_cast<double>(hour_ns))),
        [&](const request_event& r) {
            writer.request(epoch_ns + r.time_ns, r.arm,
                           r.arm == arm_role::baseline ? baseline_model : candidate_model,
                           request_id(r.request_id), r.outcome, log_candidate_share);
        },
        [&](const feedback_arrival& f) {
            writer.feedback(epoch_ns + f.time_ns, request_id(f.request_id),
                            feedback_event{f.kind, 0});
        });
    writer.flush();  // the lines still in the writer's reorder window
    const request_log_writer_stats stats = writer.stats();
    generated_log log;
    log.text = std::move(out).str();
    log.requests = stats.requests;
    log.feedback = stats.feedback;
    log.lines = 1 + stats.requests + stats.feedback;  // the header line
    log.raised_times = stats.raised_times;
    if (stats.failed != 0) throw std::runtime_error("the request log writer failed");
    return log;
}

// ---------------------------------------------------------------------------
// The work, one function per measurement (not inlined: callgrind's
// --toggle-collect names them). Each returns what it produced; the caller
// reduces it to a number (so nothing is optimised away) outside the clock.

struct line_count {
    std::uint64_t lines = 0;
    std::uint64_t bytes = 0;
};

[[gnu::noinline]] line_count work_lines(std::istream& in) {
    line_count n;
    std::string line;
    while (std::getline(in, line)) {
        ++n.lines;
        n.bytes += line.size();
    }
    return n;
}

[[gnu::noinline]] std::uint64_t work_bare_parse(std::istream& in) {
    std::uint64_t members = 0;
    std::string line;
    while (std::getline(in, line)) {
        const nlohmann::json j = nlohmann::json::parse(line);
        members += j.size();
    }
    return members;
}

/// A SAX handler that accepts everything and only counts the events.
struct counting_sax {
    using json = nlohmann::json;
    std::uint64_t events = 0;

    bool null() { return count(); }
    bool boolean(bool) { return count(); }
    bool number_integer(json::number_integer_t) { return count(); }
    bool number_unsigned(json::number_unsigned_t) { return count(); }
    bool number_float(json::number_float_t, const json::string_t&) { return count(); }
    bool string(json::string_t&) { return count(); }
    bool binary(json::binary_t&) { return count(); }
    bool start_object(std::size_t) { return count(); }
    bool end_object() { return count(); }
    bool start_array(std::size_t) { return count(); }
    bool end_array() { return count(); }
    bool key(json::string_t&) { return count(); }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
        return false;
    }

private:
    bool count() {
        ++events;
        return true;
    }
};

[[gnu::noinline]] std::uint64_t work_sax_floor(std::istream& in) {
    counting_sax handler;
    std::string line;
    while (std::getline(in, line)) {
        if (!nlohmann::json::sax_parse(line, &handler))
            throw std::runtime_error("nlohmann SAX: a line did not parse");
    }
    return handler.events;
}

[[gnu::noinline]] request_log work_read(std::istream& in) { return read_request_log(in); }

/// Takes the log by value: it is destroyed here, as in
/// `load_log(read_request_log(in))`.
[[gnu::noinline]] tk::loaded_log work_load(request_log log) { return tk::load_log(log); }

[[gnu::noinline]] tk::simulation_result work_replay(const tk::simulation_config& sim) {
    return tk::simulate(sim, 1);
}

#if CANARYGATE_BENCH_SIMDJSON

// The request log's keys, in the order of a request line.
enum class key : std::uint8_t {
    type,
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
    format,
    version,
    unknown,
};
constexpr std::array<std::string_view, 16> key_names = {
    "type",     "time_ns",      "arm",           "model",         "request_id", "latency_ns",
    "ttft_ns",  "input_tokens", "output_tokens", "cost_nano_usd", "outcome",    "candidate_share",
    "feedback", "score",        "format",        "version"};

key key_of(std::string_view name) {
    for (std::size_t i = 0; i < key_names.size(); ++i) {
        if (key_names[i] == name) return static_cast<key>(i);
    }
    return key::unknown;
}

[[noreturn]] void simdjson_failed(std::size_t line, simdjson::error_code e) {
    throw std::runtime_error("simdjson: line " + std::to_string(line) + ": " +
                             simdjson::error_message(e));
}

/// A number, or a decimal string (the log's integers above 2^53).
simdjson::error_code integer(simdjson::ondemand::value& v, std::uint64_t& out) {
    simdjson::ondemand::json_type type{};
    if (const auto e = v.type().get(type)) return e;
    if (type != simdjson::ondemand::json_type::string) return v.get_uint64().get(out);
    std::string_view s;
    if (const auto e = v.get_string().get(s)) return e;
    const char* last = s.data() + s.size();
    const auto r = std::from_chars(s.data(), last, out);
    return !s.empty() && r.ec == std::errc() && r.ptr == last ? simdjson::SUCCESS
                                                              : simdjson::NUMBER_ERROR;
}

/// One line's fields. The string views point into the parser's string
/// buffer: valid until the next line.
struct simdjson_fields {
    std::string_view type, arm, model, request_id, outcome, feedback, format;
    std::uint64_t time_ns = 0, version = 0;
    request_outcome o;
    std::optional<double> candidate_share;
    std::int64_t score = 0;
};

simdjson::error_code visit(simdjson::ondemand::object& object, simdjson_fields& f) {
    for (auto item : object) {
        simdjson::ondemand::field field;
        if (const auto e = std::move(item).get(field)) return e;
        std::string_view name;
        if (const auto e = field.unescaped_key().get(name)) return e;
        simdjson::ondemand::value& v = field.value();
        simdjson::error_code e = simdjson::SUCCESS;
        switch (key_of(name)) {
            case key::type:
                e = v.get_string().get(f.type);
                break;
            case key::time_ns:
                e = integer(v, f.time_ns);
                break;
            case key::arm:
                e = v.get_string().get(f.arm);
                break;
            case key::model:
                e = v.get_string().get(f.model);
                break;
            case key::request_id:
                e = v.get_string().get(f.request_id);
                break;
            case key::latency_ns:
                e = integer(v, f.o.latency_ns);
                break;
            case key::ttft_ns:
                e = integer(v, f.o.ttft_ns);
                break;
            case key::input_tokens:
                e = integer(v, f.o.input_tokens);
                break;
            case key::output_tokens:
                e = integer(v, f.o.output_tokens);
                break;
            case key::cost_nano_usd:
                e = integer(v, f.o.cost_nano_usd);
                break;
            case key::outcome:
                e = v.get_string().get(f.outcome);
                break;
            case key::candidate_share: {
                double share = 0.0;
                e = v.get_double().get(share);
                f.candidate_share = share;
                break;
            }
            case key::feedback:
                e = v.get_string().get(f.feedback);
                break;
            case key::score:
                e = v.get_int64().get(f.score);
                break;
            case key::format:
                e = v.get_string().get(f.format);
                break;
            case key::version:
                e = integer(v, f.version);
                break;
            case key::unknown:
                e = simdjson::NO_SUCH_FIELD;
                break;
        }
        if (e) return e;
    }
    return simdjson::SUCCESS;
}

[[gnu::noinline]] request_log work_simdjson(std::istream& in) {
    request_log log;
    simdjson::ondemand::parser parser;
    std::string line;
    line.reserve(1024);
    while (std::getline(in, line)) {
        const std::size_t number = ++log.lines;
        if (line.empty()) {
            ++log.blank_lines;
            continue;
        }
        // getline keeps the string's capacity: the padding is its spare room.
        if (line.capacity() < line.size() + simdjson::SIMDJSON_PADDING)
            line.reserve(line.size() + simdjson::SIMDJSON_PADDING);
        simdjson::ondemand::document doc;
        simdjson::ondemand::object object;
        simdjson_fields f;
        if (const auto e = parser
                               .iterate(simdjson::padded_string_view(line.data(), line.size(),
                                                                     line.capacity()))
                               .get(doc))
            simdjson_failed(number, e);
        if (const auto e = doc.get_object().get(object)) simdjson_failed(number, e);
        if (const auto e = visit(object, f)) simdjson_failed(number, e);

        if (f.type == "request") {
            logged_request& r = log.requests.emplace_back();
            r.time_ns = static_cast<std::int64_t>(f.time_ns);
            r.arm = f.arm == "candidate" ? arm_role::candidate
                    : f.arm == "shadow"  ? arm_role::shadow
                                         : arm_role::baseline;
            r.model = f.model;
            r.request_id = f.request_id;
            r.outcome = f.o;
            r.outcome.category = outcome_from_name(f.outcome).value_or(outcome::ok);
            r.candidate_share = f.candidate_share;
            r.line = number;
        } else if (f.type == "feedback") {
            logged_feedback& x = log.feedback.emplace_back();
            x.time_ns = static_cast<std::int64_t>(f.time_ns);
            x.request_id = f.request_id;
            for (std::size_t k = 0; k < feedback_kind_count; ++k) {
                if (name(static_cast<feedback_kind>(k)) == f.feedback)
                    x.event.kind = static_cast<feedback_kind>(k);
            }
            x.event.score = f.score;
            x.line = number;
        }
    }
    return log;
}

/// (f) read what (d) read: every request and feedback line, field by field.
bool same_log(const request_log& a, const request_log& b, std::string& why) {
    if (a.requests.size() != b.requests.size() || a.feedback.size() != b.feedback.size() ||
        a.lines != b.lines) {
        why = "different numbers of lines, requests or feedback";
        return false;
    }
    for (std::size_t i = 0; i < a.requests.size(); ++i) {
        const logged_request& x = a.requests[i];
        const logged_request& y = b.requests[i];
        const bool same = x.time_ns == y.time_ns && x.arm == y.arm && x.model == y.model &&
                          x.request_id == y.request_id &&
                          x.outcome.latency_ns == y.outcome.latency_ns &&
                          x.outcome.ttft_ns == y.outcome.ttft_ns &&
                          x.outcome.input_tokens == y.outcome.input_tokens &&
                          x.outcome.output_tokens == y.outcome.output_tokens &&
                          x.outcome.cost_nano_usd == y.outcome.cost_nano_usd &&
                          x.outcome.category == y.outcome.category &&
                          x.candidate_share == y.candidate_share && x.line == y.line;
        if (!same) {
            why = "request line " + std::to_string(x.line) + " differs";
            return false;
        }
    }
    for (std::size_t i = 0; i < a.feedback.size(); ++i) {
        const logged_feedback& x = a.feedback[i];
        const logged_feedback& y = b.feedback[i];
        if (x.time_ns != y.time_ns || x.request_id != y.request_id ||
            x.event.kind != y.event.kind || x.event.score != y.event.score || x.line != y.line) {
            why = "feedback line " + std::to_string(x.line) + " differs";
            return false;
        }
    }
    return true;
}

#endif  // CANARYGATE_BENCH_SIMDJSON

// ---------------------------------------------------------------------------
// Measuring.

std::uint64_t reduce(const line_count& n) { return n.lines * 1'000'003 + n.bytes; }
std::uint64_t reduce(std::uint64_t n) { return n; }
std::uint64_t reduce(const request_log& log) {
    std::uint64_t sum = log.lines;
    for (const logged_request& r : log.requests) sum += r.outcome.latency_ns + r.model.size();
    for (const logged_feedback& f : log.feedback) sum += static_cast<std::uint64_t>(f.event.kind);
    return sum;
}
std::uint64_t reduce(const tk::loaded_log& log) {
    return log.requests.size() * 1'000'003 + log.feedback.size() + log.traffic->baseline.size() +
           log.traffic->candidate.size();
}
std::uint64_t reduce(const tk::simulation_result& r) {
    return r.baseline_requests + r.candidate_requests + r.shadow_requests;
}

struct measurement {
    char id = ' ';            // the letter of --only
    std::string label;        // "(a)  lines only ..."
    std::uint64_t units = 0;  // lines (a-f) or replayed requests (g) per run
    std::vector<double> seconds;
    std::optional<std::uint64_t> check;  // the reduced result of the first run

    /// Records one run; false if its result differs from the first run's.
    bool add(double s, std::uint64_t reduced) {
        seconds.push_back(s);
        if (check && *check != reduced) return false;
        check = reduced;
        return true;
    }
    [[nodiscard]] double median() const {
        std::vector<double> s = seconds;
        std::sort(s.begin(), s.end());
        const std::size_t n = s.size();
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }
};

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

/// Times `work(in)` on a fresh stream made by `open` (not timed); the result
/// is reduced and destroyed after the clock stops.
template <class Open, class Work>
std::pair<double, std::uint64_t> timed(Open open, Work work) {
    auto in = open();
    const auto start = clock_type::now();
    const auto result = work(*in);
    const auto stop = clock_type::now();
    return {seconds_between(start, stop), reduce(result)};
}

std::string with_commas(double x) {
    const auto n = static_cast<std::uint64_t>(std::llround(x));
    std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    double hours = 24;
    double replay_hours = 10;
    unsigned repeat = 5;
    std::string only = "abcdefg";  // and D: (d') from the file
    CLI::App app{"canarygate replay throughput: how fast a request log is read, by which parser"};
    app.add_option("--hours", hours, "simulated hours of traffic in the log (600 requests/min)")
        ->check(CLI::Range(0.01, 240.0));
    app.add_option("--replay-hours", replay_hours, "simulated hours of the replay (g)")
        ->check(CLI::Range(0.1, 240.0));
    app.add_option("--repeat", repeat, "runs of each measurement (the median is reported)")
        ->check(CLI::Range(1U, 101U));
    app.add_option("--only", only,
                   "the measurements to run, by letter: a-g, and D for (d') (not by default)");
    CLI11_PARSE(app, argc, argv);
    if (only.empty() || only.find_first_not_of("abcdefgD") != std::string::npos) {
        std::fprintf(stderr, "--only: letters a to g and D, got '%s'\n", only.c_str());
        return 2;
    }
    const auto wanted = [&](char c) { return only.find(c) != std::string::npos; };

    try {
        std::printf(
            "canarygate replay throughput: %g h of traffic at 600 requests/min, %u run(s) "
            "each, median reported\n",
            hours, repeat);
        const auto generation_start = clock_type::now();
        const generated_log log = generate_log(hours);
        const double generation_s =
            std::chrono::duration<double>(clock_type::now() - generation_start).count();
        const std::string& text = log.text;
        const auto path = std::filesystem::temp_directory_path() /
                          ("canarygate_replay_throughput_" +
                           std::to_string(clock_type::now().time_since_epoch().count()) + ".jsonl");
        {
            std::ofstream file(path, std::ios::binary);
            file.write(text.data(), static_cast<std::streamsize>(text.size()));
            if (!file) throw std::runtime_error("cannot write " + path.string());
        }
        struct remove_at_exit {
            std::filesystem::path p;
            ~remove_at_exit() {
                std::error_code ignored;
                std::filesystem::remove(p, ignored);
            }
        } const cleanup{path};
        const double mb = static_cast<double>(text.size()) / 1e6;
        std::printf(
            "log: %s lines (%s requests, %s feedback, 1 header), %.1f MB, %.0f bytes/line; "
            "generated in %.1f s; %" PRIu64 " times raised by the writer\n",
            with_commas(static_cast<double>(log.lines)).c_str(),
            with_commas(static_cast<double>(log.requests)).c_str(),
            with_commas(static_cast<double>(log.feedback)).c_str(), mb,
            static_cast<double>(text.size()) / static_cast<double>(log.lines), generation_s,
            log.raised_times);

        const auto memory = [&] { return std::make_unique<std::istringstream>(text); };
        const auto file = [&] {
            auto in = std::make_unique<std::ifstream>(path, std::ios::binary);
            if (!*in) throw std::runtime_error("cannot open " + path.string());
            return in;
        };

        // Read once outside any clock: the replay's input, and what (f) must
        // reproduce.
        std::optional<tk::simulation_config> sim;
        {
            std::istringstream in(text);
            const request_log expected = read_request_log(in);
#if CANARYGATE_BENCH_SIMDJSON
            std::printf(
                "simdjson %d.%d.%d: structural indexing by the runtime-selected '%s' kernel; "
                "On Demand (inlined here) built for '%s' (the compiler's -march decides)\n",
                int{simdjson::SIMDJSON_VERSION_MAJOR}, int{simdjson::SIMDJSON_VERSION_MINOR},
                int{simdjson::SIMDJSON_VERSION_REVISION},
                simdjson::get_active_implementation()->name().c_str(),
                // This file's, not the library's simdjson::builtin_implementation().
                SIMDJSON_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION));
            if (wanted('f')) {
                std::istringstream again(text);
                const request_log got = work_simdjson(again);
                std::string why;
                if (!same_log(expected, got, why)) {
                    std::fprintf(stderr, "(f) and (d) disagree: %s\n", why.c_str());
                    return 1;
                }
                std::printf(
                    "check: (f) read the same %s requests and %s feedback as (d), field by "
                    "field\n",
                    with_commas(static_cast<double>(got.requests.size())).c_str(),
                    with_commas(static_cast<double>(got.feedback.size())).c_str());
            }
#else
            std::printf(
                "simdjson: not measured (CMake did not find it; install libsimdjson-dev "
                "and re-run cmake)\n");
#endif
            if (wanted('g')) {
                sim.emplace();
                sim->rollout = tk::default_rollout();
                sim->traffic.recorded = tk::load_log(expected).traffic;
                sim->horizon_ns = static_cast<std::int64_t>(
                    std::llround(replay_hours * static_cast<double>(hour_ns)));
            }
        }

        // The measurements, in table order, and the runs that fill them, in
        // run order. (d) and (e) share their runs: each times
        // read_request_log, then load_log on its result (and the
        // request_log's destruction, as load_log(read_request_log(in))
        // does); (d) is the first part, (e) the whole.
        std::vector<measurement> m;
        std::vector<std::function<bool()>> runs;
        const auto add = [&](char id, std::string label, std::uint64_t units) -> std::size_t {
            if (!wanted(id)) return std::string::npos;
            m.push_back(measurement{id, std::move(label), units, {}, {}});
            return m.size() - 1;
        };
        const auto add_timed = [&](char id, std::string label, auto run) {
            const std::size_t i = add(id, std::move(label), log.lines);
            if (i == std::string::npos) return;
            runs.push_back([&m, i, run] {
                const auto [s, reduced] = run();
                return m[i].add(s, reduced);
            });
        };
        add_timed('a', "(a)  lines only (getline, istringstream)",
                  [&] { return timed(memory, work_lines); });
        add_timed('a', "(a') lines only (getline, ifstream)",
                  [&] { return timed(file, work_lines); });
        add_timed('b', "(b)  nlohmann DOM parse per line",
                  [&] { return timed(memory, work_bare_parse); });
        add_timed('c', "(c)  nlohmann SAX, counting handler",
                  [&] { return timed(memory, work_sax_floor); });
        const std::size_t d = add('d', "(d)  read_request_log", log.lines);
        add_timed('D', "(d') read_request_log (ifstream)", [&] { return timed(file, work_read); });
        const std::size_t e = add('e', "(e)  read_request_log + load_log", log.lines);
        if (d != std::string::npos || e != std::string::npos) {
            runs.push_back([&m, d, e, &memory] {
                auto in = memory();
                const auto start = clock_type::now();
                request_log read = work_read(*in);
                const auto middle = clock_type::now();
                const std::uint64_t reduced_read = reduce(read);
                const auto resume = clock_type::now();
                const tk::loaded_log loaded = work_load(std::move(read));
                const auto stop = clock_type::now();
                bool same = true;
                if (d != std::string::npos)
                    same = m[d].add(seconds_between(start, middle), reduced_read);
                if (e != std::string::npos)
                    same = m[e].add(seconds_between(start, middle) + seconds_between(resume, stop),
                                    reduce(loaded)) &&
                           same;
                return same;
            });
        }
#if CANARYGATE_BENCH_SIMDJSON
        add_timed('f', "(f)  simdjson On Demand, same output",
                  [&] { return timed(memory, work_simdjson); });
#endif
        tk::simulation_result replayed;
        if (sim) {
            char label[64];
            std::snprintf(label, sizeof label, "(g)  replay: simulate %g h", replay_hours);
            const std::size_t g = add('g', label, 0);
            runs.push_back([&m, g, &sim, &replayed] {
                const auto start = clock_type::now();
                replayed = work_replay(*sim);
                const auto stop = clock_type::now();
                m[g].units = reduce(replayed);  // requests replayed, all arms
                return m[g].add(seconds_between(start, stop), reduce(replayed));
            });
        }

        const auto run_start = clock_type::now();
        for (unsigned rep = 0; rep < repeat; ++rep) {
            for (const auto& run : runs) {
                if (!run()) {
                    std::fprintf(stderr, "run %u produced a result different from run 1's\n",
                                 rep + 1);
                    return 1;
                }
            }
        }
        const double run_s = seconds_between(run_start, clock_type::now());

        const auto find = [&](std::string_view prefix) -> const measurement* {
            for (const measurement& x : m) {
                if (x.label.rfind(prefix, 0) == 0) return &x;
            }
            return nullptr;
        };
        const measurement* base = find("(b) ");
        std::printf(
            "\n| measurement | median s | min s | max s | lines/s | MB/s | ns/line | "
            "time (b) / time |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (const measurement& x : m) {
            const double med = x.median();
            const auto [lo, hi] = std::minmax_element(x.seconds.begin(), x.seconds.end());
            const double per_s = static_cast<double>(x.units) / med;
            char ratio[32] = "-";
            if (base != nullptr) std::snprintf(ratio, sizeof ratio, "%.2fx", base->median() / med);
            if (x.id == 'g') {
                std::printf(
                    "| %s | %.3f | %.3f | %.3f | %s replayed requests/s | - | %.0f "
                    "ns/request | %s |\n",
                    x.label.c_str(), med, *lo, *hi, with_commas(per_s).c_str(), 1e9 / per_s, ratio);
            } else {
                std::printf("| %s | %.3f | %.3f | %.3f | %s | %.0f | %.0f | %s |\n",
                            x.label.c_str(), med, *lo, *hi, with_commas(per_s).c_str(), mb / med,
                            1e9 / per_s, ratio);
            }
        }

        // The parse's share of an end-to-end replay: read and load the log
        // (e), then simulate (g).
        const measurement* md = find("(d) ");
        const measurement* me = find("(e) ");
        const measurement* mg = find("(g) ");
        if (mg != nullptr) {
            std::printf(
                "\n(g) replayed %s requests (all arms) in %.3f s: the rollout %s at %.2f h "
                "(horizon %g h)\n",
                with_commas(static_cast<double>(mg->units)).c_str(), mg->median(),
                std::string(tk::name(replayed.outcome)).c_str(),
                static_cast<double>(replayed.decided_at_ns >= 0 ? replayed.decided_at_ns
                                                                : sim->horizon_ns) /
                    static_cast<double>(hour_ns),
                replay_hours);
        }
        if (md != nullptr && me != nullptr && mg != nullptr) {
            const double total = me->median() + mg->median();
            std::printf(
                "end-to-end replay = (e) + (g) = %.3f s: read_request_log (d) %.1f %%, "
                "load_log (e - d) %.1f %%, simulate (g) %.1f %%\n",
                total, 100 * md->median() / total, 100 * (me->median() - md->median()) / total,
                100 * mg->median() / total);
#if CANARYGATE_BENCH_SIMDJSON
            if (const measurement* mf = find("(f) ")) {
                const double with_f = total - md->median() + mf->median();
                std::printf("with (f) in place of (d): %.3f s, %.1f %% less\n", with_f,
                            100 * (total - with_f) / total);
            }
#endif
        }
        std::printf("\nmeasured in %.1f s\n", run_s);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "canarygate_replay_throughput: %s\n", ex.what());
        return 1;
    }
    return 0;
}
