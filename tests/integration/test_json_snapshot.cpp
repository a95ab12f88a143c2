// SPDX-License-Identifier: MIT
// JSON form of snapshots and histograms (json.hpp, nlohmann-json): exact round
// trips, the number-or-string rule for integers, and malformed documents
// rejected with the JSON Pointer of the bad value.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "canarygate/integration/json.hpp"
#include "canarygate/window/codec.hpp"
#include "support/codec_fixtures.hpp"
#include "support/counting_new.hpp"

using canarygate::decode_error;
using canarygate::exp_histogram;
using canarygate::histogram_layout;
using canarygate::parse_snapshot;
using canarygate::snapshot;
using canarygate::snapshot_from_json;
using canarygate::wide_uint;
using Catch::Matchers::Contains;
using codec_fixtures::u64_max;
using json = nlohmann::json;

namespace {

struct rejection {
    std::string message;
    std::string pointer;
    std::size_t offset = decode_error::no_offset;
};

rejection reject(const std::function<void()>& f) {
    try {
        f();
    } catch (const decode_error& e) {
        return {e.what(), e.json_pointer(), e.offset()};
    }
    return {"accepted", "", 0};
}

rejection reject_document(const json& j) {
    return reject([&] { (void)j.get<snapshot>(); });
}

// A small valid document to break in one place at a time.
json small_document() {
    snapshot s(10, 20);
    s.add_counter("dropped", 3);
    exp_histogram h(histogram_layout(0, 0, 4));  // bucket indices 0..3
    h.add_to_bucket(1, 2);
    h.add_to_bucket(2, 1);
    auto& a = s.arm("baseline", "v1");
    a.add_counter("requests", 3);
    a.add_histogram("latency_ns", h);
    s.arm("candidate", "v2");
    return json(s);
}

void check_round_trip(const snapshot& s) {
    const json j = s;
    CHECK(j.get<snapshot>() == s);
    const std::string text = j.dump();
    CHECK(parse_snapshot(text) == s);
    CHECK(json(parse_snapshot(text)).dump() == text);  // deterministic text
    CHECK(parse_snapshot(j.dump(2)) == s);
}

}  // namespace

TEST_CASE("JSON round trips are exact", "[json]") {
    check_round_trip(snapshot{});
    check_round_trip(snapshot(-7, 7));
    check_round_trip(codec_fixtures::typical_window(1));
    check_round_trip(codec_fixtures::corner_snapshot(false));
    snapshot merged;
    merged.merge(codec_fixtures::typical_window(1)).merge(codec_fixtures::typical_window(2));
    check_round_trip(merged);
}

TEST_CASE("the JSON document has the documented shape", "[json]") {
    const json j = small_document();
    CHECK(j["format"] == "canarygate.snapshot");
    CHECK(j["version"] == 1);
    CHECK(j["window_start_ns"] == 10);
    CHECK(j["sources"] == 1);
    CHECK(j["counters"] == json{{"dropped", 3}});
    REQUIRE(j["arms"].size() == 2);
    const json& baseline = j["arms"][0];
    CHECK(baseline["arm"] == "baseline");
    CHECK(baseline["model_version"] == "v1");
    CHECK(baseline["histograms"]["latency_ns"] ==
          json::parse(R"({"scale": 0, "min_exponent": 0, "max_exponent": 4, "zero": 0,
                          "underflow": 0, "overflow": 0, "rejected": 0,
                          "spans": [{"index": 1, "counts": [2, 1]}]})"));
    CHECK(j["arms"][1]["histograms"] == json::object());
}

TEST_CASE("integers above 2^53 are decimal strings, below are numbers", "[json]") {
    snapshot s(codec_fixtures::window_start, codec_fixtures::window_start + 1);
    s.add_counter("at_limit", std::uint64_t{1} << 53);
    s.add_counter("above_limit", (std::uint64_t{1} << 53) + 1);
    s.add_counter("u64_max", u64_max);
    s.add_counter("wide", wide_uint{u64_max, u64_max});
    snapshot negative(-(std::int64_t{1} << 60), 0);
    const json j = s;
    CHECK(j["counters"]["at_limit"] == 9007199254740992U);
    CHECK(j["counters"]["above_limit"] == "9007199254740993");
    CHECK(j["counters"]["u64_max"] == "18446744073709551615");
    CHECK(j["counters"]["wide"] == "340282366920938463463374607431768211455");
    CHECK(j["window_start_ns"] == "1767225600000000000");
    CHECK(json(negative)["window_start_ns"] == "-1152921504606846976");
    CHECK(json(negative)["window_end_ns"] == 0);
    check_round_trip(s);
    check_round_trip(negative);

    // Readers accept either form for any value in range.
    json lenient = small_document();
    lenient["counters"]["dropped"] = "3";
    lenient["counters"]["big"] = u64_max;  // a JSON number beyond 2^53: exact in nlohmann
    lenient["window_start_ns"] = "10";
    lenient["window_end_ns"] = "-0x";
    CHECK_THAT(reject_document(lenient).message, Contains("expected a decimal integer string"));
    lenient["window_end_ns"] = 20;
    const snapshot read = lenient.get<snapshot>();
    CHECK(read.counter("dropped") == wide_uint{3});
    CHECK(read.counter("big") == wide_uint{u64_max});
}

TEST_CASE("malformed documents are rejected with the JSON Pointer of the bad value", "[json]") {
    struct defect {
        const char* name;
        std::function<void(json&)> apply;
        const char* pointer;
        const char* fragment;
    };
    const std::vector<defect> defects = {
        {"not an object", [](json& j) { j = json::array(); }, "",
         "expected an object, found a value of type array"},
        {"wrong format", [](json& j) { j["format"] = "prometheus"; }, "/format",
         "expected \"canarygate.snapshot\""},
        {"future version", [](json& j) { j["version"] = 2; }, "/version",
         "version 2 is newer than the version this reader knows (1)"},
        {"version as a string", [](json& j) { j["version"] = "1"; }, "/version",
         "expected an integer number, found the string \"1\""},
        {"missing key", [](json& j) { j.erase("sources"); }, "", "missing key 'sources'"},
        {"unknown key", [](json& j) { j["arms"][0]["histograms"]["latency_ns"]["overfow"] = 1; },
         "/arms/0/histograms/latency_ns/overfow", "unknown key 'overfow'"},
        {"negative counter", [](json& j) { j["arms"][0]["counters"]["requests"] = -1; },
         "/arms/0/counters/requests", "must not be negative"},
        {"fractional counter", [](json& j) { j["counters"]["dropped"] = 1.5; }, "/counters/dropped",
         "expected a nonnegative integer (a JSON number, or a decimal string), found the number "
         "1.5"},
        {"counter with a leading zero", [](json& j) { j["counters"]["dropped"] = "03"; },
         "/counters/dropped", "expected a decimal string of at most 2^128 - 1"},
        {"counter beyond 2^128 - 1",
         [](json& j) { j["counters"]["dropped"] = "340282366920938463463374607431768211456"; },
         "/counters/dropped", "expected a decimal string of at most 2^128 - 1"},
        {"sources beyond 2^64 - 1", [](json& j) { j["sources"] = "18446744073709551616"; },
         "/sources", "exceeds 2^64 - 1"},
        {"window end before start", [](json& j) { j["window_end_ns"] = 9; }, "/window_end_ns",
         "window_end_ns = 9 is before window_start_ns = 10"},
        {"timestamp beyond int64", [](json& j) { j["window_end_ns"] = "9223372036854775808"; },
         "/window_end_ns", "outside the signed 64-bit range"},
        {"empty counter name", [](json& j) { j["counters"][""] = 1; }, "/counters/",
         "counter name is empty"},
        {"long arm name", [](json& j) { j["arms"][0]["arm"] = std::string(257, 'a'); },
         "/arms/0/arm", "name is longer than max_name_bytes (256)"},
        {"arm name not a string", [](json& j) { j["arms"][1]["arm"] = 7; }, "/arms/1/arm",
         "expected a string, found the number 7"},
        {"duplicate arm", [](json& j) { j["arms"][1] = j["arms"][0]; }, "/arms/1",
         "duplicate arm 'baseline'@'v1'"},
        {"unsorted arms", [](json& j) { std::swap(j["arms"][0], j["arms"][1]); }, "/arms/1",
         "arms are not sorted by (arm, model_version): 'baseline'@'v1' follows 'candidate'@'v2'"},
        {"arms not an array", [](json& j) { j["arms"] = json::object(); }, "/arms",
         "expected an array"},
        {"invalid scale", [](json& j) { j["arms"][0]["histograms"]["latency_ns"]["scale"] = 9; },
         "/arms/0/histograms/latency_ns",
         "invalid layout: canarygate::histogram_layout: scale = 9 must be in [0, 8]"},
        {"exponent beyond int",
         [](json& j) { j["arms"][0]["histograms"]["latency_ns"]["min_exponent"] = 1LL << 40; },
         "/arms/0/histograms/latency_ns/min_exponent",
         "1099511627776 is outside [-2147483648, 2147483647]"},
        {"span past the range",
         [](json& j) {
             j["arms"][0]["histograms"]["latency_ns"]["spans"][0]["counts"] = {1, 2, 3, 4};
         },
         "/arms/0/histograms/latency_ns/spans/0/counts",
         "span of 4 buckets from index 1 ends past the layout's last bucket (index 3"},
        {"span index below the range",
         [](json& j) { j["arms"][0]["histograms"]["latency_ns"]["spans"][0]["index"] = -1; },
         "/arms/0/histograms/latency_ns/spans/0/index", "-1 is outside [0, 3]"},
        {"overlapping spans",
         [](json& j) {
             j["arms"][0]["histograms"]["latency_ns"]["spans"].push_back(
                 {{"index", 2}, {"counts", {1}}});
         },
         "/arms/0/histograms/latency_ns/spans/1/index",
         "span starts at bucket index 2, before the end of the previous span (3): spans must be in "
         "increasing order and must not overlap"},
        {"decreasing spans",
         [](json& j) {
             auto& spans = j["arms"][0]["histograms"]["latency_ns"]["spans"];
             spans = {{{"index", 3}, {"counts", {1}}}, {{"index", 0}, {"counts", {1}}}};
         },
         "/arms/0/histograms/latency_ns/spans/1/index", "before the end of the previous span (4)"},
        {"empty span",
         [](json& j) {
             j["arms"][0]["histograms"]["latency_ns"]["spans"][0]["counts"] = json::array();
         },
         "/arms/0/histograms/latency_ns/spans/0/counts", "span is empty"},
        {"bucket count as float",
         [](json& j) { j["arms"][0]["histograms"]["latency_ns"]["spans"][0]["counts"][1] = 1.0; },
         "/arms/0/histograms/latency_ns/spans/0/counts/1", "found the number 1.0"},
        {"total beyond 2^64 - 1",
         [](json& j) { j["arms"][0]["histograms"]["latency_ns"]["zero"] = "18446744073709551615"; },
         "/arms/0/histograms/latency_ns/spans/0/counts/0",
         "histogram holds more than 2^64 - 1 values in total"},
        {"pointer escaping", [](json& j) { j["counters"]["a/b~c"] = true; }, "/counters/a~1b~0c",
         "found a value of type boolean"},
    };
    for (const auto& d : defects) {
        CAPTURE(d.name);
        json j = small_document();
        d.apply(j);
        const rejection r = reject_document(j);
        CHECK_THAT(r.message, Contains(d.fragment));
        CHECK(r.pointer == d.pointer);
        CHECK_THAT(r.message, Contains("(at \"" + std::string(d.pointer) + "\""));
        CHECK(r.offset == decode_error::no_offset);
    }
}

TEST_CASE("parse_snapshot rejects syntax errors with the byte offset and duplicate keys",
          "[json]") {
    const rejection syntax =
        reject([] { (void)parse_snapshot(R"({"format": "canarygate.snapshot",)"); });
    CHECK_THAT(syntax.message, Contains("JSON syntax error") && Contains("(at byte 33)"));
    CHECK(syntax.offset == 33);

    // nlohmann reports a number beyond double's range as out_of_range (406),
    // not as a parse_error (found by fuzz_decode_json).
    const rejection huge_number = reject([] { (void)parse_snapshot(R"({"version": 1e400})"); });
    CHECK_THAT(huge_number.message,
               Contains("JSON syntax error") && Contains("number overflow parsing '1e400'"));
    CHECK(huge_number.offset == 16);  // the number's last byte

    const rejection invalid_utf8 = reject([] { (void)parse_snapshot("{\"format\": \"\xff\"}"); });
    CHECK_THAT(invalid_utf8.message,
               Contains("JSON syntax error") && Contains("invalid string: ill-formed UTF-8"));

    std::string text = small_document().dump();
    const std::string key = "\"requests\":3";
    const auto at = text.find(key);
    REQUIRE(at != std::string::npos);
    text.insert(at, key + ",");  // "requests" twice in the first arm's counters
    const rejection duplicate = reject([&] { (void)parse_snapshot(text); });
    CHECK_THAT(duplicate.message, Contains("duplicate key 'requests'"));
    CHECK(duplicate.pointer == "/arms/0/counters");
    // nlohmann::json::parse keeps the last value silently: from_json cannot see it.
    CHECK_NOTHROW(json::parse(text).get<snapshot>());

    const rejection top = reject([] { (void)parse_snapshot(R"({"version": 1, "version": 1})"); });
    CHECK_THAT(top.message, Contains("duplicate key 'version'") && Contains("the document root"));
    const rejection nested = reject([] {
        (void)parse_snapshot(R"({"arms": [{"histograms": {"h": {"scale": 1, "scale": 2}}}]})");
    });
    CHECK_THAT(nested.message, Contains("duplicate key 'scale'"));
    CHECK(nested.pointer == "/arms/0/histograms/h");
}

TEST_CASE("JSON reading refuses what the schema does not expect where it stands", "[json]") {
    // The reader streams: a container or value the schema has no place for
    // is refused where it appears, before anything after it is read.
    const rejection array_root = reject([] { (void)parse_snapshot("[1, 2]"); });
    CHECK_THAT(array_root.message, Contains("expected an object, found a value of type array"));
    CHECK(array_root.pointer.empty());

    const rejection deep_counts = reject([] {
        (void)parse_snapshot(
            R"({"arms": [{"histograms": {"h": {"spans": [{"counts": [1, [[[[0]]]]]}]}}}]})");
    });
    CHECK_THAT(deep_counts.message, Contains("found a value of type array"));
    CHECK(deep_counts.pointer == "/arms/0/histograms/h/spans/0/counts/1");

    const rejection counter_object =
        reject([] { (void)parse_snapshot(R"({"counters": {"requests": {"a": 1}}})"); });
    CHECK_THAT(counter_object.message, Contains("found a value of type object"));
    CHECK(counter_object.pointer == "/counters/requests");

    // A scalar where the schema wants a container, at every such key (an
    // arm's "counters" and "histograms" once went to its model_version).
    struct scalar_case {
        const char* document;
        const char* pointer;
    };
    const scalar_case scalars[] = {
        {R"({"counters": 1})", "/counters"},
        {R"({"arms": "x"})", "/arms"},
        {R"({"arms": [1]})", "/arms/0"},
        {R"({"arms": [{"arm": "a", "model_version": "v1", "counters": "zzz"}]})",
         "/arms/0/counters"},
        {R"({"arms": [{"arm": "a", "model_version": "v1", "histograms": "yyy"}]})",
         "/arms/0/histograms"},
        {R"({"arms": [{"histograms": {"h": 2}}]})", "/arms/0/histograms/h"},
        {R"({"arms": [{"histograms": {"h": {"spans": 3}}}]})", "/arms/0/histograms/h/spans"},
        {R"({"arms": [{"histograms": {"h": {"spans": [4]}}}]})", "/arms/0/histograms/h/spans/0"},
        {R"({"arms": [{"histograms": {"h": {"spans": [{"counts": 5}]}}}]})",
         "/arms/0/histograms/h/spans/0/counts"},
    };
    for (const scalar_case& c : scalars) {
        INFO(c.document);
        const rejection r = reject([&] { (void)parse_snapshot(c.document); });
        CHECK_THAT(r.message, Contains("expected an"));
        CHECK(r.pointer == c.pointer);
    }
}

TEST_CASE("decode_limits bound the nesting and the series of a JSON document", "[json]") {
    const snapshot s = codec_fixtures::typical_window(1, true);
    const std::string text = json(s).dump();
    // A snapshot document nests 8 deep: document, arms, arm, histograms,
    // histogram, spans, span, counts.
    canarygate::decode_limits depth;
    depth.max_json_depth = 8;
    CHECK(parse_snapshot(text, depth) == s);
    depth.max_json_depth = 7;
    const rejection too_deep = reject([&] { (void)parse_snapshot(text, depth); });
    CHECK_THAT(too_deep.message, Contains("nesting deeper than decode_limits::max_json_depth (7)"));
    CHECK(too_deep.pointer == "/arms/0/histograms/latency_ns/spans/0/counts");

    std::size_t series = s.counters().size();
    for (const auto& a : s.arms()) series += 1 + a.counters().size() + a.histograms().size();
    canarygate::decode_limits limits;
    limits.max_series = series;
    CHECK(parse_snapshot(text, limits) == s);
    CHECK(snapshot_from_json(json(s), limits) == s);
    limits.max_series = series - 1;
    const rejection too_many = reject([&] { (void)parse_snapshot(text, limits); });
    CHECK_THAT(too_many.message,
               Contains("more than decode_limits::max_series (" + std::to_string(series - 1) +
                        ") arms, counters and histograms"));
    const rejection too_many_dom = reject([&] { (void)snapshot_from_json(json(s), limits); });
    CHECK(too_many_dom.message == too_many.message);
}

TEST_CASE("JSON reading holds memory within a small multiple of the input", "[json][memory]") {
    if (!counting_new::active) {
        WARN("operator new is the sanitizer's here: memory not measured");
        return;
    }
    // Ten million '[': nlohmann's DOM parser with a duplicate-key check held
    // about 220 bytes per input byte (2.1 GiB). The streaming reader refuses
    // the first '[' (the root must be an object) and holds next to nothing.
    const std::string brackets(10'000'000, '[');
    std::uint64_t before = counting_new::reset_peak();
    const rejection r = reject([&] { (void)parse_snapshot(brackets); });
    CHECK_THAT(r.message, Contains("expected an object, found a value of type array"));
    CHECK(counting_new::peak_bytes() - before < 64 * 1024);

    // A valid document of 40 arms: what is held beyond the result itself is
    // one histogram's counts and the names being read.
    snapshot big(0, 300'000'000'000);
    for (int i = 0; i < 20; ++i) {
        const snapshot one = codec_fixtures::typical_window(static_cast<std::uint64_t>(i + 1));
        for (const auto& a : one.arms()) {
            auto& copy = big.arm(a.arm() + std::to_string(i), a.model_version());
            for (const auto& [name, value] : a.counters()) copy.add_counter(name, value);
            for (const auto& [name, h] : a.histograms()) copy.add_histogram(name, h);
        }
    }
    const std::string text = json(big).dump();
    before = counting_new::reset_peak();
    const snapshot back = parse_snapshot(text);
    const std::uint64_t held = counting_new::live_bytes() - before;  // the result
    const std::uint64_t peak = counting_new::peak_bytes() - before;
    CHECK(back == big);
    CHECK(peak <= held + text.size());
    WARN("JSON of " << text.size() << " bytes: the snapshot holds " << held
                    << " bytes, the read peaked at " << peak);

    // Empty spans are refused where they close: a million of them cannot
    // pile up (each once cost 64 bytes and a string until the histogram closed).
    std::string spans = R"({"arms": [{"histograms": {"h": {"spans": [)";
    for (int i = 0; i < 1'000'000; ++i) spans += R"({"index": 0, "counts": []},)";
    spans += "{}]}}}]}";
    before = counting_new::reset_peak();
    const rejection empty_span = reject([&] { (void)parse_snapshot(spans); });
    CHECK_THAT(empty_span.message, Contains("span is empty"));
    CHECK(empty_span.pointer == "/arms/0/histograms/h/spans/0/counts");
    CHECK(counting_new::peak_bytes() - before < 64 * 1024);

    // Allocation failure is a decode_error, not std::bad_alloc.
    before = counting_new::live_bytes();
    const rejection starved = reject([&] {
        const counting_new::allocation_cap cap(before + held / 2);
        (void)parse_snapshot(text);
    });
    CHECK_THAT(starved.message, Contains("out of memory while reading a JSON snapshot of " +
                                         std::to_string(text.size()) + " bytes"));
}

TEST_CASE("decode_limits bound the histograms a JSON document may declare", "[json]") {
    const std::string text =
        json(codec_fixtures::typical_window(1, true)).dump();  // 2 x 800 buckets
    CHECK_NOTHROW(parse_snapshot(text, canarygate::decode_limits{1600}));
    const rejection r =
        reject([&] { (void)parse_snapshot(text, canarygate::decode_limits{1599}); });
    CHECK_THAT(r.message, Contains("layout scale 5, (2^16, 2^41] has 800 buckets, more than "
                                   "decode_limits::max_total_buckets still allows (799)"));
    CHECK(r.pointer == "/arms/1/histograms/latency_ns");
}

TEST_CASE("histograms convert on their own", "[json]") {
    exp_histogram h(histogram_layout(3, -10, 10));
    h.record(0.0001);  // below 2^-10: underflow
    h.record(3.0, 7);
    h.record(-1.0);
    h.record(1e9);
    h.add_zero(2);
    const json j = h;
    CHECK(j.get<exp_histogram>() == h);
    CHECK(j["rejected"] == 1);
    CHECK(j["underflow"] == 1);
    CHECK(j["overflow"] == 1);

    // from_json leaves the target unchanged on error.
    exp_histogram target(canarygate::tokens_layout);
    target.record(std::uint64_t{5});
    const exp_histogram before = target;
    json bad = j;
    bad["spans"][0]["counts"][0] = "x";
    const rejection r = reject([&] { canarygate::from_json(bad, target); });
    CHECK(r.pointer == "/spans/0/counts/0");
    CHECK(target == before);
}

TEST_CASE("size of a typical 5-minute window in JSON", "[json][size]") {
    const snapshot latency = codec_fixtures::typical_window(1, true);
    const snapshot full = codec_fixtures::typical_window(1, false);
    std::printf(
        "\nJSON size of the same 5-minute windows (compact dump): latency only %zu bytes, "
        "all default metrics %zu bytes; binary: %zu and %zu bytes\n",
        json(latency).dump().size(), json(full).dump().size(), canarygate::encode(latency).size(),
        canarygate::encode(full).size());
    CHECK(json(full).dump().size() < 20000);
}
