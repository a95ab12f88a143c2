// SPDX-License-Identifier: MIT
// Prometheus text exposition: a small parser of format 0.0.4 reads the output
// back and checks what promtool does not (family blocks, HELP/TYPE once and
// first, unique series, histogram structure), label escaping round trips,
// value formatting, and that every number matches the snapshot exactly.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "canarygate/integration/prometheus.hpp"
#include "support/prometheus_test_snapshot.hpp"

using canarygate::exp_histogram;
using canarygate::exposition_options;
using canarygate::snapshot;
using canarygate::to_prometheus;
using canarygate::wide_uint;
using Catch::Matchers::Contains;

namespace {

// --- A parser of the text format, strict where the format is ----------------

using label_set = std::vector<std::pair<std::string, std::string>>;

struct sample {
    std::string name;
    label_set labels;   // in the order written, values unescaped
    std::string value;  // as written
    std::size_t line = 0;
};

struct family_info {
    std::string type;
    std::string help;  // unescaped
    int type_lines = 0;
    int help_lines = 0;
    std::size_t samples = 0;
};

struct document {
    std::vector<sample> samples;
    std::map<std::string, family_info> families;
    std::vector<std::string> problems;  // empty when well formed

    void problem(std::size_t line, const std::string& what) {
        problems.push_back("line " + std::to_string(line) + ": " + what);
    }
};

const std::regex metric_name_re("[a-zA-Z_][a-zA-Z0-9_]*");  // no colons: no recording rules here
const std::regex label_name_re("[a-zA-Z_][a-zA-Z0-9_]*");
const std::regex integer_re("0|[1-9][0-9]*");
// Exact decimals as written for seconds and dollars: no exponent, no trailing zero.
const std::regex exact_decimal_re("-?(0|[1-9][0-9]*)(\\.[0-9]*[1-9])?");

bool is_histogram_suffix(std::string_view name, std::string_view& base) {
    for (const std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        if (name.size() > suffix.size() && name.ends_with(suffix)) {
            base = name.substr(0, name.size() - suffix.size());
            return true;
        }
    }
    return false;
}

// The family a sample belongs to: its own name, or a histogram's base name.
std::string family_of(const document& doc, const std::string& name) {
    std::string_view base;
    if (is_histogram_suffix(name, base)) {
        const auto it = doc.families.find(std::string(base));
        if (it != doc.families.end() && it->second.type == "histogram") return std::string(base);
    }
    return name;
}

double parse_float(const std::string& text) {
    if (text == "+Inf") return std::numeric_limits<double>::infinity();
    if (text == "-Inf") return -std::numeric_limits<double>::infinity();
    if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) {
        throw std::invalid_argument("not a float: '" + text + "'");
    }
    return v;
}

// Parses `text`, recording every deviation from format 0.0.4 (and from the
// rules we hold ourselves to) in `problems`.
document parse(std::string_view text) {
    document doc;
    if (text.empty() || text.back() != '\n') doc.problem(0, "document does not end with a newline");
    std::string current;  // family of the latest HELP / TYPE line
    std::set<std::string> finished;
    std::size_t line_number = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t eol = text.find('\n', pos);
        const std::string_view line =
            text.substr(pos, eol == std::string_view::npos ? text.npos : eol - pos);
        pos = eol == std::string_view::npos ? text.size() : eol + 1;
        ++line_number;
        if (line.empty()) {
            doc.problem(line_number, "empty line");
            continue;
        }
        if (line.find('\r') != line.npos) doc.problem(line_number, "carriage return");
        if (line.front() == '#') {
            const bool help = line.starts_with("# HELP ");
            const bool type = line.starts_with("# TYPE ");
            if (!help && !type) continue;  // a plain comment
            const std::string_view rest = line.substr(7);
            const std::size_t space = rest.find(' ');
            const std::string name(rest.substr(0, space));
            const std::string_view argument = space == rest.npos ? "" : rest.substr(space + 1);
            if (!std::regex_match(name, metric_name_re))
                doc.problem(line_number, "bad metric name " + name);
            if (name != current) {
                if (!current.empty()) finished.insert(current);
                if (finished.count(name) != 0)
                    doc.problem(line_number, "family " + name + " reopened");
                current = name;
            }
            family_info& family = doc.families[name];
            if (family.samples != 0) doc.problem(line_number, "HELP/TYPE after samples of " + name);
            if (help) {
                ++family.help_lines;
                std::string unescaped;
                for (std::size_t i = 0; i < argument.size(); ++i) {
                    if (argument[i] == '\\' && i + 1 < argument.size()) {
                        const char next = argument[++i];
                        if (next == 'n') {
                            unescaped += '\n';
                        } else if (next == '\\') {
                            unescaped += '\\';
                        } else {
                            doc.problem(line_number, "bad escape in HELP");
                        }
                    } else {
                        unescaped += argument[i];
                    }
                }
                family.help = unescaped;
            } else {
                ++family.type_lines;
                family.type = std::string(argument);
                static const std::set<std::string> types = {"counter", "gauge", "histogram",
                                                            "summary", "untyped"};
                if (types.count(family.type) == 0)
                    doc.problem(line_number, "bad type " + family.type);
            }
            continue;
        }
        sample s;
        s.line = line_number;
        std::size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
        s.name = std::string(line.substr(0, i));
        if (!std::regex_match(s.name, metric_name_re))
            doc.problem(line_number, "bad metric name " + s.name);
        if (i < line.size() && line[i] == '{') {
            ++i;
            while (i < line.size() && line[i] != '}') {
                std::size_t eq = line.find('=', i);
                if (eq == line.npos) {
                    doc.problem(line_number, "label without '='");
                    break;
                }
                std::string label(line.substr(i, eq - i));
                if (!std::regex_match(label, label_name_re) || label.starts_with("__")) {
                    doc.problem(line_number, "bad label name " + label);
                }
                i = eq + 1;
                if (i >= line.size() || line[i] != '"') {
                    doc.problem(line_number, "label value not quoted");
                    break;
                }
                ++i;
                std::string value;
                bool closed = false;
                while (i < line.size()) {
                    const char c = line[i++];
                    if (c == '"') {
                        closed = true;
                        break;
                    }
                    if (c == '\\') {
                        const char next = i < line.size() ? line[i++] : '\0';
                        if (next == 'n') {
                            value += '\n';
                        } else if (next == '\\' || next == '"') {
                            value += next;
                        } else {
                            doc.problem(line_number, "bad escape in label value");
                        }
                    } else {
                        value += c;
                    }
                }
                if (!closed) doc.problem(line_number, "unterminated label value");
                for (const auto& [existing, unused] : s.labels) {
                    if (existing == label) doc.problem(line_number, "label " + label + " repeated");
                }
                s.labels.emplace_back(std::move(label), std::move(value));
                if (i < line.size() && line[i] == ',') ++i;
            }
            if (i >= line.size()) {
                doc.problem(line_number, "unterminated label set");
                continue;
            }
            ++i;  // '}'
        }
        if (i >= line.size() || line[i] != ' ') {
            doc.problem(line_number, "no space before the value");
            continue;
        }
        s.value = std::string(line.substr(i + 1));
        if (s.value.find(' ') != std::string::npos)
            doc.problem(line_number, "timestamp or trailing text");
        try {
            (void)parse_float(s.value);
        } catch (const std::invalid_argument& e) {
            doc.problem(line_number, e.what());
        }
        const std::string family = family_of(doc, s.name);
        const auto it = doc.families.find(family);
        if (it == doc.families.end() || it->second.type_lines == 0) {
            doc.problem(line_number, "sample of " + family + " before its TYPE");
        } else {
            ++it->second.samples;
        }
        if (family != current)
            doc.problem(line_number, "sample of " + family + " outside its block");
        doc.samples.push_back(std::move(s));
    }
    return doc;
}

// Labels without `le`, sorted: the identity of a histogram's series.
label_set identity(label_set labels, bool drop_le) {
    if (drop_le) {
        labels.erase(std::remove_if(labels.begin(), labels.end(),
                                    [](const auto& l) { return l.first == "le"; }),
                     labels.end());
    }
    std::sort(labels.begin(), labels.end());
    return labels;
}

// Every rule of the format and of our exposition that promtool does not check.
void check_invariants(document& doc) {
    std::set<std::pair<std::string, label_set>> seen;
    for (const sample& s : doc.samples) {
        if (!seen.emplace(s.name, identity(s.labels, false)).second) {
            doc.problem(s.line, "duplicate series " + s.name);
        }
    }
    for (const auto& [name, family] : doc.families) {
        if (family.help_lines != 1)
            doc.problem(0, name + ": HELP lines: " + std::to_string(family.help_lines));
        if (family.type_lines != 1)
            doc.problem(0, name + ": TYPE lines: " + std::to_string(family.type_lines));
        if (family.samples == 0) doc.problem(0, name + ": no samples");
        if (family.type == "counter" && !name.ends_with("_total"))
            doc.problem(0, name + ": counter without _total");
        if (family.type != "counter" && name.ends_with("_total"))
            doc.problem(0, name + ": _total on a " + family.type);
    }
    // Histograms: per series, buckets strictly increasing in le and ending at
    // +Inf, counts cumulative, +Inf == _count, _sum present.
    struct histogram_series {
        std::vector<std::pair<double, std::string>> buckets;  // le, value text
        std::string sum, count;
        std::size_t line = 0;
    };
    std::map<std::pair<std::string, label_set>, histogram_series> histograms;
    for (const sample& s : doc.samples) {
        const std::string family = family_of(doc, s.name);
        const auto& info = doc.families[family];
        if (info.type == "counter" || s.name.ends_with("_bucket") || s.name.ends_with("_count")) {
            if (!std::regex_match(s.value, integer_re))
                doc.problem(s.line, "count not an integer: " + s.value);
        }
        if (info.type != "histogram") {
            for (const auto& [label, value] : s.labels) {
                if (label == "le") doc.problem(s.line, "le on a " + info.type);
            }
            continue;
        }
        histogram_series& h = histograms[{family, identity(s.labels, true)}];
        h.line = s.line;
        if (s.name == family + "_bucket") {
            const auto le = std::find_if(s.labels.begin(), s.labels.end(),
                                         [](const auto& l) { return l.first == "le"; });
            if (le == s.labels.end()) {
                doc.problem(s.line, "bucket without le");
                continue;
            }
            h.buckets.emplace_back(parse_float(le->second), s.value);
        } else if (s.name == family + "_sum") {
            h.sum = s.value;
        } else if (s.name == family + "_count") {
            h.count = s.value;
        } else {
            doc.problem(s.line, "sample " + s.name + " in histogram " + family);
        }
    }
    for (const auto& [key, h] : histograms) {
        const std::string where = key.first;
        if (h.buckets.empty() ||
            h.buckets.back().first != std::numeric_limits<double>::infinity()) {
            doc.problem(h.line, where + ": no +Inf bucket last");
        }
        for (std::size_t k = 1; k < h.buckets.size(); ++k) {
            if (!(h.buckets[k].first > h.buckets[k - 1].first))
                doc.problem(h.line, where + ": le not increasing");
            if (std::stoull(h.buckets[k].second) < std::stoull(h.buckets[k - 1].second)) {
                doc.problem(h.line, where + ": bucket counts decrease");
            }
        }
        if (h.count.empty()) doc.problem(h.line, where + ": no _count");
        if (h.sum.empty()) doc.problem(h.line, where + ": no _sum");
        if (!h.buckets.empty() && h.buckets.back().second != h.count) {
            doc.problem(h.line, where + ": +Inf bucket " + h.buckets.back().second + " != _count " +
                                    h.count);
        }
    }
}

document parse_and_check(const std::string& text) {
    document doc = parse(text);
    check_invariants(doc);
    return doc;
}

void require_well_formed(document& doc) {
    for (const std::string& p : doc.problems) UNSCOPED_INFO(p);
    REQUIRE(doc.problems.empty());
}

std::string label_value(const sample& s, std::string_view name) {
    for (const auto& [label, value] : s.labels) {
        if (label == name) return value;
    }
    return "<absent>";
}

// The samples named `name` whose labels include every (label, value) given.
std::vector<const sample*> find(
    const document& doc, std::string_view name,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels = {}) {
    std::vector<const sample*> found;
    for (const sample& s : doc.samples) {
        if (s.name != name) continue;
        const bool all = std::all_of(labels.begin(), labels.end(), [&](const auto& l) {
            return label_value(s, l.first) == l.second;
        });
        if (all) found.push_back(&s);
    }
    return found;
}

const sample& only(
    const document& doc, std::string_view name,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels = {}) {
    const auto found = find(doc, name, labels);
    INFO(name);
    REQUIRE(found.size() == 1);
    return *found.front();
}

// An exact decimal "12.5" shifted right by `decimals` digits, as an integer
// string ("12500000000" for 9): how the test reads seconds back into
// nanoseconds without trusting floating point.
std::string unshift(const std::string& text, std::size_t decimals) {
    const std::size_t dot = text.find('.');
    std::string integer = text.substr(0, dot);
    std::string fraction = dot == std::string::npos ? "" : text.substr(dot + 1);
    REQUIRE(fraction.size() <= decimals);
    fraction.append(decimals - fraction.size(), '0');
    std::string digits = integer + fraction;
    const std::size_t first = digits.find_first_not_of('0');
    return first == std::string::npos ? "0" : digits.substr(first);
}

}  // namespace

TEST_CASE("a realistic snapshot exposes a well-formed document with every family", "[prometheus]") {
    const snapshot snap = prometheus_test::realistic_snapshot();
    for (const auto& [preset, buckets] :
         {std::pair{"vllm", canarygate::histogram_buckets::vllm()},
          std::pair{"opentelemetry", canarygate::histogram_buckets::opentelemetry()},
          std::pair{"powers_of_two", canarygate::histogram_buckets::powers_of_two()}}) {
        SECTION(preset) {
            exposition_options options;
            options.buckets = buckets;
            options.constant_labels = {{"service", "chat-api"}};
            const std::string text = to_prometheus(snap, options);
            document doc = parse_and_check(text);
            require_well_formed(doc);

            const std::map<std::string, std::string> expected = {
                {"canarygate_window_start_seconds", "gauge"},
                {"canarygate_window_end_seconds", "gauge"},
                {"canarygate_snapshot_sources", "gauge"},
                {"canarygate_requests_total", "counter"},
                {"canarygate_feedback_total", "counter"},
                {"canarygate_rejections_total", "counter"},
                {"canarygate_request_duration_seconds", "histogram"},
                {"canarygate_time_to_first_token_seconds", "histogram"},
                {"canarygate_request_input_tokens", "histogram"},
                {"canarygate_request_output_tokens", "histogram"},
                {"canarygate_request_cost_usd", "histogram"},
                {"canarygate_series_total", "counter"},
                {"canarygate_series_values", "histogram"},
                {"canarygate_recorder_feedback_unknown_request_id_total", "counter"},
                {"canarygate_recorder_feedback_expired_request_id_total", "counter"},
                {"canarygate_recorder_pool_overflow_writes_total", "counter"},
            };
            std::map<std::string, std::string> got;
            for (const auto& [name, family] : doc.families) got[name] = family.type;
            CHECK(got == expected);

            // Every sample carries the constant label first; per-arm ones then arm, model_version.
            for (const sample& s : doc.samples) {
                REQUIRE_FALSE(s.labels.empty());
                CHECK(s.labels.front() ==
                      std::pair<std::string, std::string>{"service", "chat-api"});
                if (s.name.find("_recorder_") == std::string::npos &&
                    s.name.find("_window_") == std::string::npos &&
                    s.name.find("_snapshot_") == std::string::npos) {
                    REQUIRE(s.labels.size() >= 3);
                    CHECK(s.labels[1].first == "arm");
                    CHECK(s.labels[2].first == "model_version");
                }
            }
            CHECK(std::set<std::string>{"baseline", "candidate", "shadow"} == [&] {
                std::set<std::string> arms;
                for (const sample& s : doc.samples) {
                    if (s.name == "canarygate_requests_total") arms.insert(label_value(s, "arm"));
                }
                return arms;
            }());
        }
    }
}

TEST_CASE("counters match the snapshot exactly", "[prometheus]") {
    const snapshot snap = prometheus_test::realistic_snapshot();
    document doc = parse_and_check(to_prometheus(snap));
    require_well_formed(doc);
    for (const auto& arm : snap.arms()) {
        INFO(arm.arm());
        const std::pair<std::string_view, std::string_view> a{"arm", arm.arm()};
        // Outcomes: one series per category, summing to the request count.
        wide_uint total;
        for (std::size_t k = 0; k < canarygate::outcome_count; ++k) {
            const auto category = canarygate::name(static_cast<canarygate::outcome>(k));
            const sample& s = only(doc, "canarygate_requests_total", {a, {"outcome", category}});
            CHECK(s.value == arm.counter("outcome." + std::string(category)).to_string());
            total += wide_uint(std::stoull(s.value));
        }
        CHECK(total == arm.counter(canarygate::series::requests));
        CHECK(find(doc, "canarygate_requests_total", {a, {"outcome", "unclassified"}}).empty());
        // Feedback: all four kinds, zero for the shadow arm.
        for (const char* kind : {"thumbs_up", "thumbs_down", "ticket", "score"}) {
            CHECK(only(doc, "canarygate_feedback_total", {a, {"kind", kind}}).value ==
                  arm.counter(std::string("feedback.") + kind).to_string());
        }
        CHECK(only(doc, "canarygate_rejections_total", {a, {"reason", "latency_nan"}}).value ==
              arm.counter("rejected.latency_nan").to_string());
        CHECK(only(doc, "canarygate_rejections_total", {a, {"reason", "cost_negative"}}).value ==
              "0");
        // The sums of squares are not histogram sums: they travel under their raw names.
        CHECK(only(doc, "canarygate_series_total", {a, {"series", "output_tokens.sum_sq"}}).value ==
              arm.counter(canarygate::series::output_tokens_sum_squares).to_string());
        CHECK(only(doc, "canarygate_series_total", {a, {"series", "cost_nano_usd.sum_sq"}}).value ==
              arm.counter(canarygate::series::cost_sum_squares).to_string());
        CHECK(find(doc, "canarygate_series_total", {a, {"series", "latency_ns.sum"}}).empty());
        CHECK(find(doc, "canarygate_series_total", {a, {"series", "requests"}}).empty());
    }
    CHECK(only(doc, "canarygate_feedback_total", {{"arm", "shadow"}, {"kind", "thumbs_down"}})
              .value == "0");
    CHECK(only(doc, "canarygate_recorder_feedback_unknown_request_id_total").value == "17");
    CHECK(only(doc, "canarygate_recorder_pool_overflow_writes_total").value == "0");
    CHECK(only(doc, "canarygate_window_start_seconds").value == "1718096400");
    CHECK(only(doc, "canarygate_window_end_seconds").value == "1718100000");
    CHECK(only(doc, "canarygate_snapshot_sources").value == "1");
}

TEST_CASE(
    "histograms: counts from the fine histogram, exact sums in base units, le from the preset",
    "[prometheus]") {
    const snapshot snap = prometheus_test::realistic_snapshot();
    exposition_options options;  // vLLM preset
    document doc = parse_and_check(to_prometheus(snap, options));
    require_well_formed(doc);

    struct family {
        const char* name;
        std::string_view series;
        std::size_t decimals;
        const canarygate::classic_buckets& buckets;
    };
    const family families[] = {
        {"canarygate_request_duration_seconds", canarygate::series::latency, 9,
         options.buckets.latency},
        {"canarygate_time_to_first_token_seconds", canarygate::series::ttft, 9,
         options.buckets.ttft},
        {"canarygate_request_input_tokens", canarygate::series::input_tokens, 0,
         options.buckets.input_tokens},
        {"canarygate_request_output_tokens", canarygate::series::output_tokens, 0,
         options.buckets.output_tokens},
        {"canarygate_request_cost_usd", canarygate::series::cost, 9, options.buckets.cost},
    };
    for (const auto& arm : snap.arms()) {
        for (const family& f : families) {
            INFO(arm.arm() << " " << f.name);
            const std::pair<std::string_view, std::string_view> a{"arm", arm.arm()};
            const exp_histogram& h = *arm.histogram(f.series);
            const auto buckets = find(doc, std::string(f.name) + "_bucket", {a});
            REQUIRE(buckets.size() == f.buckets.size() + 1);
            const auto expected = canarygate::classic_bucket_counts(h, f.buckets);
            for (std::size_t k = 0; k < f.buckets.size(); ++k) {
                // le read back exactly: "0.001" -> 1'000'000 ns.
                CHECK(unshift(label_value(*buckets[k], "le"), f.decimals) ==
                      std::to_string(f.buckets.upper_bounds()[k]));
                CHECK(std::regex_match(label_value(*buckets[k], "le"), exact_decimal_re));
                CHECK(buckets[k]->value == std::to_string(expected[k]));
            }
            CHECK(label_value(*buckets.back(), "le") == "+Inf");
            CHECK(buckets.back()->value == std::to_string(h.count()));
            const sample& sum = only(doc, std::string(f.name) + "_sum", {a});
            CHECK(std::regex_match(sum.value, exact_decimal_re));
            CHECK(unshift(sum.value, f.decimals) ==
                  arm.counter(std::string(f.series) + ".sum").to_string());
            CHECK(only(doc, std::string(f.name) + "_count", {a}).value ==
                  std::to_string(h.count()));
        }
        // A histogram the library does not know: power-of-two bounds in its native unit.
        const std::pair<std::string_view, std::string_view> a{"arm", arm.arm()};
        const auto other =
            find(doc, "canarygate_series_values_bucket", {a, {"series", "queue_wait_ns"}});
        REQUIRE(other.size() == 41 - 16 + 1 + 1);
        CHECK(label_value(*other.front(), "le") == "65536");
        CHECK(label_value(*other[other.size() - 2], "le") == "2199023255552");
        CHECK(only(doc, "canarygate_series_values_sum", {a, {"series", "queue_wait_ns"}}).value ==
              arm.counter("queue_wait_ns.sum").to_string());
    }
    // Families read as the presets promise.
    CHECK(label_value(*find(doc, "canarygate_time_to_first_token_seconds_bucket").front(), "le") ==
          "0.001");
    CHECK(label_value(*find(doc, "canarygate_request_cost_usd_bucket").front(), "le") == "0.00001");
}

TEST_CASE("label values with quotes, backslashes, newlines and UTF-8 round trip", "[prometheus]") {
    const std::vector<std::pair<std::string, std::string>> arms = {
        {"quote\"d", "v\"1\""},
        {"back\\slash", "C:\\models\\v2\\"},
        {"new\nline", "line1\nline2\n"},
        {"all\\\"\n\\n", ""},
        {"金丝雀 🐤", "é"},
        {"baseline", "v1"},
        {"baseline", "v1 "},  // same role, another version: another series
    };
    snapshot snap(0, 1'000'000'000);
    for (const auto& [arm, version] : arms) {
        auto& a = snap.arm(arm, version);
        a.add_counter("outcome.ok", 3);
        a.add_counter("requests", 3);
        a.add_counter("feedback.\"odd\"\\kind\n", 1);
        exp_histogram h;
        h.record(std::uint64_t{5'000'000});
        a.add_histogram(canarygate::series::latency, h);
    }
    snap.add_counter("weird \"recorder\"\\counter\nname", 2);
    exposition_options options;
    options.constant_labels = {{"team", "a \"b\" \\c\nd"}};
    const std::string text = to_prometheus(snap, options);
    document doc = parse_and_check(text);
    require_well_formed(doc);

    for (const auto& [arm, version] : arms) {
        const auto found = find(doc, "canarygate_requests_total",
                                {{"arm", arm}, {"model_version", version}, {"outcome", "ok"}});
        INFO(arm);
        REQUIRE(found.size() == 1);
        CHECK(label_value(*found.front(), "team") == "a \"b\" \\c\nd");
        CHECK(only(doc, "canarygate_feedback_total",
                   {{"arm", arm}, {"model_version", version}, {"kind", "\"odd\"\\kind\n"}})
                  .value == "1");
        CHECK(only(doc, "canarygate_request_duration_seconds_count",
                   {{"arm", arm}, {"model_version", version}})
                  .value == "1");
    }
    // A raw newline never reaches the document except as a line end.
    CHECK(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) ==
          doc.samples.size() + 2 * doc.families.size());
    // The recorder counter's family name is sanitized; its HELP keeps the name, escaped.
    const auto& recorder =
        doc.families.at("canarygate_recorder_weird__recorder__counter_name_total");
    CHECK_THAT(recorder.help, Contains("weird \"recorder\"\\counter\nname"));
}

TEST_CASE("value formatting: integers without exponent, exact decimals, shortest floats",
          "[prometheus]") {
    namespace text = canarygate::detail::prometheus_text;
    SECTION("exact decimal shift") {
        const auto shifted = [](std::string_view digits, std::size_t decimals) {
            std::string out;
            text::append_shifted_decimal(out, digits, decimals);
            return out;
        };
        CHECK(shifted("0", 9) == "0");
        CHECK(shifted("1", 9) == "0.000000001");
        CHECK(shifted("1000000", 9) == "0.001");
        CHECK(shifted("1500000000", 9) == "1.5");
        CHECK(shifted("1073741824", 9) == "1.073741824");
        CHECK(shifted("7680000000000", 9) == "7680");
        CHECK(shifted("67108864", 0) == "67108864");
        CHECK(shifted("340282366920938463463374607431768211455", 9) ==
              "340282366920938463463374607431.768211455");
    }
    SECTION("floats") {
        const auto formatted = [](double v) {
            std::string out;
            text::append_double(out, v);
            return out;
        };
        CHECK(formatted(0.1) == "0.1");
        CHECK(formatted(0.125) == "0.125");
        CHECK(formatted(65536.0) == "65536");
        CHECK(formatted(1e21) == "1e+21");
        CHECK(formatted(std::numeric_limits<double>::infinity()) == "+Inf");
        CHECK(formatted(-std::numeric_limits<double>::infinity()) == "-Inf");
        CHECK(formatted(std::numeric_limits<double>::quiet_NaN()) == "NaN");
        // Shortest digits still round-trip.
        const double third = 1.0 / 3.0;
        CHECK(std::strtod(formatted(third).c_str(), nullptr) == third);
    }
    SECTION("counts beyond 2^53 and sums beyond 2^64 stay exact") {
        snapshot snap(-1'500'000'000, 0);
        auto& a = snap.arm("baseline");
        exp_histogram h;
        h.add_zero(std::uint64_t{1} << 63);
        h.add_overflow(12345);
        a.add_histogram(canarygate::series::latency, h);
        a.add_counter(canarygate::series::latency_sum, wide_uint(3, 5));  // 3 * 2^64 + 5 ns
        a.add_counter("outcome.ok", wide_uint(1, 0));                     // 2^64
        document doc = parse_and_check(to_prometheus(snap));
        require_well_formed(doc);
        CHECK(only(doc, "canarygate_request_duration_seconds_count").value ==
              "9223372036854788153");
        CHECK(only(doc, "canarygate_request_duration_seconds_bucket", {{"le", "+Inf"}}).value ==
              "9223372036854788153");
        // Overflow reaches +Inf only; zeros are in every bucket.
        CHECK(only(doc, "canarygate_request_duration_seconds_bucket", {{"le", "7680"}}).value ==
              "9223372036854775808");
        CHECK(only(doc, "canarygate_request_duration_seconds_sum").value ==
              "55340232221.128654853");
        CHECK(only(doc, "canarygate_requests_total", {{"outcome", "ok"}}).value ==
              "18446744073709551616");
        CHECK(only(doc, "canarygate_window_start_seconds").value == "-1.5");
        CHECK(only(doc, "canarygate_window_end_seconds").value == "0");
    }
}

TEST_CASE("a histogram without its sum counter gets an estimated _sum within the fine error",
          "[prometheus]") {
    snapshot snap(0, 1);
    auto& a = snap.arm("baseline");
    exp_histogram h;
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> d(std::log(8e8), 0.7);
    double exact = 0.0;
    for (int i = 0; i < 5000; ++i) {
        const auto v = static_cast<std::uint64_t>(d(rng));
        h.record(v);
        exact += static_cast<double>(v);
    }
    a.add_histogram(canarygate::series::latency, h);
    document doc = parse_and_check(to_prometheus(snap));
    require_well_formed(doc);
    const double estimate = parse_float(only(doc, "canarygate_request_duration_seconds_sum").value);
    CHECK(std::abs(estimate - exact / 1e9) <= h.layout().relative_error() * exact / 1e9);
}

TEST_CASE("requests no outcome counter classifies are exposed as outcome=\"unclassified\"",
          "[prometheus]") {
    snapshot snap(0, 1);
    auto& a = snap.arm("baseline");
    a.add_counter("requests", 10);
    a.add_counter("outcome.ok", 6);
    a.add_counter("outcome.timeout", 1);
    a.add_counter("outcome.cancelled_by_policy", 1);  // a category the library does not know
    snap.arm("candidate").add_counter("requests", 4);
    document doc = parse_and_check(to_prometheus(snap));
    require_well_formed(doc);
    CHECK(only(doc, "canarygate_requests_total", {{"arm", "baseline"}, {"outcome", "unclassified"}})
              .value == "2");
    CHECK(only(doc, "canarygate_requests_total",
               {{"arm", "baseline"}, {"outcome", "cancelled_by_policy"}})
              .value == "1");
    CHECK(
        only(doc, "canarygate_requests_total", {{"arm", "candidate"}, {"outcome", "unclassified"}})
            .value == "4");
    CHECK(only(doc, "canarygate_requests_total",
               {{"arm", "candidate"}, {"outcome", "cancelled_by_policy"}})
              .value == "0");
    // Nothing else: no feedback, rejection or histogram family without data.
    CHECK(doc.families.count("canarygate_feedback_total") == 0);
    CHECK(doc.families.count("canarygate_rejections_total") == 0);
    CHECK(doc.families.count("canarygate_request_duration_seconds") == 0);
}

TEST_CASE("arms missing a series get zeros, so every arm has the same series", "[prometheus]") {
    snapshot snap(0, 1);
    exp_histogram tokens(canarygate::tokens_layout);
    tokens.record(std::uint64_t{300});
    snap.arm("baseline").add_histogram(canarygate::series::output_tokens, tokens);
    snap.arm("baseline").add_histogram("gpu_seconds", tokens);
    snap.arm("candidate").add_counter("feedback.thumbs_up", 1);
    exp_histogram bad;
    bad.record(std::numeric_limits<double>::quiet_NaN());
    snap.arm("shadow").add_histogram(canarygate::series::ttft, bad);
    document doc = parse_and_check(to_prometheus(snap));
    require_well_formed(doc);
    for (const char* arm : {"baseline", "candidate", "shadow"}) {
        INFO(arm);
        CHECK(find(doc, "canarygate_request_output_tokens_bucket", {{"arm", arm}}).size() ==
              canarygate::classic_buckets::vllm_tokens().size() + 1);
        CHECK(find(doc, "canarygate_series_values_count", {{"arm", arm}, {"series", "gpu_seconds"}})
                  .size() == 1);
        CHECK(find(doc, "canarygate_feedback_total", {{"arm", arm}}).size() == 4);
        CHECK(
            find(doc, "canarygate_rejections_total", {{"arm", arm}, {"reason", "ttft_ns.invalid"}})
                .size() == 1);
    }
    CHECK(only(doc, "canarygate_request_output_tokens_count", {{"arm", "candidate"}}).value == "0");
    CHECK(only(doc, "canarygate_request_output_tokens_sum", {{"arm", "candidate"}}).value == "0");
    CHECK(
        only(doc, "canarygate_rejections_total", {{"arm", "shadow"}, {"reason", "ttft_ns.invalid"}})
            .value == "1");
    CHECK(only(doc, "canarygate_time_to_first_token_seconds_count", {{"arm", "shadow"}}).value ==
          "0");
}

TEST_CASE("recorder-wide counters: one family each, colliding names told apart by a label",
          "[prometheus]") {
    snapshot snap(0, 1);
    snap.add_counter("attribution.evicted", 3);
    snap.add_counter("attribution_evicted", 4);   // maps to the same family name
    snap.add_counter("pool.exhausted_total", 1);  // "_total" is not doubled
    snap.add_counter("", 2);
    exposition_options options;
    options.prefix = "llm_gate";
    document doc = parse_and_check(to_prometheus(snap, options));
    require_well_formed(doc);
    CHECK(only(doc, "llm_gate_recorder_attribution_evicted_total",
               {{"counter", "attribution.evicted"}})
              .value == "3");
    CHECK(only(doc, "llm_gate_recorder_attribution_evicted_total",
               {{"counter", "attribution_evicted"}})
              .value == "4");
    CHECK(label_value(only(doc, "llm_gate_recorder_pool_exhausted_total"), "counter") ==
          "<absent>");
    CHECK(only(doc, "llm_gate_recorder_unnamed_total").value == "2");
    CHECK(doc.families.count("llm_gate_window_start_seconds") == 1);
}

TEST_CASE("an empty snapshot is a valid document with the window gauges only", "[prometheus]") {
    const std::string text = to_prometheus(snapshot{});
    document doc = parse_and_check(text);
    require_well_formed(doc);
    CHECK(doc.families.size() == 3);
    CHECK(only(doc, "canarygate_snapshot_sources").value == "0");
    CHECK(text.back() == '\n');
}

TEST_CASE("append_prometheus appends, and leaves the string unchanged when it throws",
          "[prometheus]") {
    std::string out = "# previous document\n";
    const snapshot snap = prometheus_test::realistic_snapshot(1);
    canarygate::append_prometheus(out, snap);
    CHECK(out.starts_with("# previous document\n# HELP canarygate_window_start_seconds "));
    CHECK(out.substr(20) == to_prometheus(snap));

    snapshot bad = snap;
    bad.arm("ca\xffndidate", "v2").add_counter("requests", 1);
    std::string unchanged = "keep me";
    try {
        canarygate::append_prometheus(unchanged, bad);
        FAIL("no exception");
    } catch (const std::invalid_argument& e) {
        CHECK_THAT(e.what(), Contains("arm()") && Contains("ca\\xffndidate") && Contains("UTF-8"));
    }
    CHECK(unchanged == "keep me");

    snapshot bad_counter(0, 1);
    bad_counter.arm("baseline").add_counter("outcome.\xc0\xaf", 1);  // overlong '/'
    CHECK_THROWS_AS((void)to_prometheus(bad_counter), std::invalid_argument);
    snapshot bad_recorder(0, 1);
    bad_recorder.add_counter("\xed\xa0\x80", 1);  // a UTF-16 surrogate
    CHECK_THROWS_AS((void)to_prometheus(bad_recorder), std::invalid_argument);
}

TEST_CASE("the content type is format 0.0.4 in UTF-8", "[prometheus]") {
    STATIC_REQUIRE(canarygate::prometheus_content_type ==
                   "text/plain; version=0.0.4; charset=utf-8");
}

TEST_CASE("the test's checker catches broken documents", "[prometheus][checker]") {
    const std::string help_type = "# HELP h_seconds H.\n# TYPE h_seconds histogram\n";
    const std::string good =
        help_type +
        "h_seconds_bucket{a=\"x\",le=\"1\"} 1\nh_seconds_bucket{a=\"x\",le=\"+Inf\"} 2\n"
        "h_seconds_sum{a=\"x\"} 3.5\nh_seconds_count{a=\"x\"} 2\n";
    {
        document doc = parse_and_check(good);
        require_well_formed(doc);
    }
    const std::pair<const char*, std::string> broken[] = {
        {"no final newline", good.substr(0, good.size() - 1)},
        {"+Inf != _count",
         help_type + "h_seconds_bucket{le=\"+Inf\"} 2\nh_seconds_sum 1\nh_seconds_count 3\n"},
        {"counts decrease",
         help_type + "h_seconds_bucket{le=\"1\"} 2\nh_seconds_bucket{le=\"2\"} 1\n"
                     "h_seconds_bucket{le=\"+Inf\"} 2\nh_seconds_sum 1\nh_seconds_count 2\n"},
        {"le not increasing",
         help_type + "h_seconds_bucket{le=\"2\"} 1\nh_seconds_bucket{le=\"1\"} 1\n"
                     "h_seconds_bucket{le=\"+Inf\"} 1\nh_seconds_sum 1\nh_seconds_count 1\n"},
        {"no +Inf",
         help_type + "h_seconds_bucket{le=\"1\"} 1\nh_seconds_sum 1\nh_seconds_count 1\n"},
        {"no _sum", help_type + "h_seconds_bucket{le=\"+Inf\"} 1\nh_seconds_count 1\n"},
        {"duplicate series",
         "# HELP c_total C.\n# TYPE c_total counter\nc_total{a=\"1\",b=\"2\"} "
         "1\nc_total{b=\"2\",a=\"1\"} 1\n"},
        {"TYPE twice",
         "# HELP c_total C.\n# TYPE c_total counter\n# TYPE c_total counter\nc_total 1\n"},
        {"no HELP", "# TYPE c_total counter\nc_total 1\n"},
        {"sample before TYPE", "c_total 1\n# HELP c_total C.\n# TYPE c_total counter\n"},
        {"family reopened",
         "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n# HELP b B.\n# TYPE b gauge\nb 1\n"
         "# HELP a_total A.\n# TYPE a_total counter\n"},
        {"samples interleaved",
         "# HELP a_total A.\n# TYPE a_total counter\n# HELP b B.\n# TYPE b gauge\na_total 1\nb "
         "1\n"},
        {"counter without _total", "# HELP c C.\n# TYPE c counter\nc 1\n"},
        {"count with exponent", "# HELP c_total C.\n# TYPE c_total counter\nc_total 1e+06\n"},
        {"colon in name", "# HELP a:b A.\n# TYPE a:b gauge\na:b 1\n"},
        {"bad escape", "# HELP g G.\n# TYPE g gauge\ng{a=\"\\t\"} 1\n"},
        {"reserved label", "# HELP g G.\n# TYPE g gauge\ng{__a=\"x\"} 1\n"},
        {"repeated label", "# HELP g G.\n# TYPE g gauge\ng{a=\"x\",a=\"y\"} 1\n"},
        {"le on a gauge", "# HELP g G.\n# TYPE g gauge\ng{le=\"1\"} 1\n"},
        {"bad value", "# HELP g G.\n# TYPE g gauge\ng 1,5\n"},
        {"empty line", "# HELP g G.\n# TYPE g gauge\n\ng 1\n"},
    };
    for (const auto& [what, text] : broken) {
        INFO(what);
        CHECK_FALSE(parse_and_check(text).problems.empty());
    }
}
