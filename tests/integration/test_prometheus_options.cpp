// SPDX-License-Identifier: MIT
// Exposition options: the prefix and constant labels are validated (found at
// configuration time, with messages naming the field and the bad value), and
// a valid configuration shows up in every series.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "canarygate/integration/prometheus.hpp"

using canarygate::exposition_options;
using canarygate::prometheus_label;
using Catch::Matchers::Contains;

namespace {

std::string validation_error(const exposition_options& options) {
    try {
        options.validate();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "valid";
}

exposition_options with_labels(std::vector<prometheus_label> labels) {
    exposition_options options;
    options.constant_labels = std::move(labels);
    return options;
}

exposition_options with_prefix(std::string prefix) {
    exposition_options options;
    options.prefix = std::move(prefix);
    return options;
}

}  // namespace

TEST_CASE("valid options pass", "[prometheus][options]") {
    CHECK(validation_error({}) == "valid");
    CHECK(validation_error(with_prefix("llm_gate")) == "valid");
    CHECK(validation_error(with_prefix("_private")) == "valid");
    CHECK(validation_error(with_labels(
              {{"service", "chat"}, {"_shard", ""}, {"Region2", "eu \"west\"\n"}})) == "valid");
}

TEST_CASE("a bad prefix is refused with its value", "[prometheus][options]") {
    for (const char* prefix :
         {"", "9lives", "can:ary", "can-ary", "__canary", "can ary", "canary\n"}) {
        INFO(prefix);
        const std::string error = validation_error(with_prefix(prefix));
        CHECK_THAT(error, Contains("canarygate::exposition_options: prefix = \"" +
                                   std::string(prefix) + "\""));
    }
}

TEST_CASE("bad constant label names are refused with field and value", "[prometheus][options]") {
    CHECK_THAT(validation_error(with_labels({{"ok", "1"}, {"1st", "x"}})),
               Contains("constant_labels[1].name = \"1st\"") && Contains("[a-zA-Z_]"));
    CHECK_THAT(validation_error(with_labels({{"", "x"}})),
               Contains("constant_labels[0].name = \"\""));
    CHECK_THAT(validation_error(with_labels({{"a-b", "x"}})),
               Contains("constant_labels[0].name = \"a-b\""));
    CHECK_THAT(validation_error(with_labels({{"a:b", "x"}})),
               Contains("constant_labels[0].name = \"a:b\""));
    CHECK_THAT(validation_error(with_labels({{"__name__", "x"}})),
               Contains("constant_labels[0].name = \"__name__\"") && Contains("reserves"));
    CHECK_THAT(validation_error(with_labels({{"team", "a"}, {"team", "b"}})),
               Contains("constant_labels[1].name = \"team\" repeats constant_labels[0].name"));
    for (const char* own : {"arm", "model_version", "outcome", "kind", "reason", "series",
                            "counter", "le", "quantile"}) {
        INFO(own);
        CHECK_THAT(validation_error(with_labels({{own, "x"}})),
                   Contains(std::string("\"") + own + "\" is a label the exposition sets itself"));
    }
    CHECK_THAT(validation_error(with_labels({{"team", "caf\xe9"}})),  // Latin-1, not UTF-8
               Contains("constant_labels[0].value (label \"team\") is not valid UTF-8"));
}

TEST_CASE("to_prometheus validates its options and writes nothing when they are bad",
          "[prometheus][options]") {
    const canarygate::snapshot snap(0, 1);
    std::string out = "untouched";
    CHECK_THROWS_AS(canarygate::append_prometheus(out, snap, with_prefix("bad-prefix")),
                    std::invalid_argument);
    CHECK(out == "untouched");
    CHECK_THROWS_AS((void)canarygate::to_prometheus(snap, with_labels({{"le", "1"}})),
                    std::invalid_argument);
}

TEST_CASE("prefix and constant labels appear on every series", "[prometheus][options]") {
    canarygate::snapshot snap(0, 1);
    snap.arm("baseline").add_counter("requests", 2);
    snap.add_counter("feedback.unknown_id", 1);
    exposition_options options = with_labels({{"service", "chat"}, {"region", "eu"}});
    options.prefix = "llm";
    const std::string text = canarygate::to_prometheus(snap, options);
    std::size_t samples = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t eol = text.find('\n', pos);
        const std::string line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (line.starts_with("#")) {
            CHECK(line.substr(7, 4) == "llm_");
            continue;
        }
        ++samples;
        INFO(line);
        CHECK(line.starts_with("llm_"));
        CHECK(line.find("{service=\"chat\",region=\"eu\"") != std::string::npos);
    }
    CHECK(samples ==
          3 + 10 + 1);  // window gauges, outcomes (unclassified included), recorder counter
}
