// SPDX-License-Identifier: MIT
// Classic Prometheus buckets derived from the fine exponential histogram: the
// presets, the conservative counting rule and its error bound against exact
// counts of the raw data, exactness at powers of two, and the validation of
// bucket bounds.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "canarygate/integration/prometheus.hpp"

using canarygate::classic_buckets;
using canarygate::exp_histogram;
using canarygate::histogram_layout;
using Catch::Matchers::Contains;

namespace {

// Raw integer values and the histogram they were recorded into.
struct sample_data {
    std::vector<std::uint64_t> values;  // sorted
    exp_histogram histogram;

    // N(x): how many values are <= x (x >= 0).
    [[nodiscard]] std::uint64_t at_most(double x) const {
        if (x >= 18446744073709551616.0) return values.size();
        const auto bound = static_cast<std::uint64_t>(std::floor(x));
        return static_cast<std::uint64_t>(std::upper_bound(values.begin(), values.end(), bound) -
                                          values.begin());
    }
};

// Heavy-tailed latencies in ns around 1 s, plus zeros, values below the fine
// range (underflow) and above it (overflow).
sample_data latency_data(histogram_layout layout, std::uint64_t seed, std::size_t n) {
    sample_data d{{}, exp_histogram(layout)};
    std::mt19937_64 rng(seed);
    std::lognormal_distribution<double> latency(std::log(1e9), 1.6);
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t v = static_cast<std::uint64_t>(latency(rng));
        if (i % 101 == 0) v = 0;
        if (i % 211 == 0) v = 1000 + i;                      // below 2^16 ns
        if (i % 307 == 0) v = (std::uint64_t{1} << 42) + i;  // above 2^41 ns
        d.values.push_back(v);
        d.histogram.record(v);
    }
    std::sort(d.values.begin(), d.values.end());
    return d;
}

std::vector<std::uint64_t> all_latency_bounds(std::uint64_t seed) {
    std::vector<std::uint64_t> bounds;
    for (const auto& preset :
         {classic_buckets::vllm_e2e(), classic_buckets::vllm_ttft(),
          classic_buckets::vllm_inter_token(), classic_buckets::otel_duration(),
          classic_buckets::otel_ttft(), classic_buckets::powers_of_two(10, 50)}) {
        bounds.insert(bounds.end(), preset.upper_bounds().begin(), preset.upper_bounds().end());
    }
    // Log-uniform integers across and beyond the fine range (2^16, 2^41] ns.
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> exponent(10.0, 45.0);
    for (int i = 0; i < 400; ++i)
        bounds.push_back(static_cast<std::uint64_t>(std::exp2(exponent(rng))));
    bounds.push_back(0);
    std::sort(bounds.begin(), bounds.end());
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    return bounds;
}

bool is_power_of_two(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

TEST_CASE("presets hold the published boundaries", "[prometheus][buckets]") {
    using v = std::vector<std::uint64_t>;
    CHECK(classic_buckets::vllm_ttft().size() == 22);
    CHECK(classic_buckets::vllm_ttft().upper_bounds().front() == 1'000'000);         // 1 ms
    CHECK(classic_buckets::vllm_ttft().upper_bounds()[5] == 60'000'000);             // 0.06 s
    CHECK(classic_buckets::vllm_ttft().upper_bounds().back() == 2'560'000'000'000);  // 2560 s
    CHECK(classic_buckets::vllm_e2e().size() == 21);
    CHECK(classic_buckets::vllm_e2e().upper_bounds().front() == 300'000'000);
    CHECK(classic_buckets::vllm_e2e().upper_bounds().back() == 7'680'000'000'000);
    CHECK(classic_buckets::vllm_inter_token().size() == 19);
    CHECK(classic_buckets::vllm_tokens().upper_bounds() ==
          v{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10'000, 20'000, 50'000, 100'000,
            200'000, 500'000, 1'000'000});
    CHECK(classic_buckets::otel_duration().size() == 14);
    CHECK(classic_buckets::otel_duration().upper_bounds().front() == 10'000'000);     // 0.01 s
    CHECK(classic_buckets::otel_duration().upper_bounds().back() == 81'920'000'000);  // 81.92 s
    CHECK(classic_buckets::otel_ttft().size() == 16);
    CHECK(classic_buckets::otel_ttft().upper_bounds().back() == 10'000'000'000);
    CHECK(classic_buckets::otel_token_usage().upper_bounds() == v{1, 4, 16, 64, 256, 1024, 4096,
                                                                  16384, 65536, 262144, 1048576,
                                                                  4194304, 16777216, 67108864});
    CHECK(classic_buckets::cost_usd().size() == 19);
    CHECK(classic_buckets::cost_usd().upper_bounds().front() == 10'000);  // 10 micro-USD
    CHECK(classic_buckets::powers_of_two(3, 9, 3).upper_bounds() == v{8, 64, 512});
    CHECK(classic_buckets::powers_of_two(0, 53).upper_bounds().back() ==
          classic_buckets::max_bound);
    CHECK(classic_buckets().size() == 0);

    const auto pow2 = canarygate::histogram_buckets::powers_of_two();
    for (const classic_buckets* b :
         {&pow2.latency, &pow2.ttft, &pow2.input_tokens, &pow2.output_tokens, &pow2.cost}) {
        CHECK(std::all_of(b->upper_bounds().begin(), b->upper_bounds().end(), is_power_of_two));
    }
}

TEST_CASE("classic counts are lower bounds off by at most the straddling fine bucket",
          "[prometheus][buckets]") {
    // N(le / b) <= reported <= N(le) for every le in [min_value * b, max_value]:
    // the reported count is the exact count at a fine edge within a factor b
    // below le, so the boundary is off by less than the relative width b - 1.
    const auto scale = GENERATE(0, 2, 3, 5, 8);
    const histogram_layout layout(scale, 16, 41);
    const sample_data data = latency_data(layout, 1000 + static_cast<std::uint64_t>(scale), 30'000);
    const classic_buckets bounds(all_latency_bounds(static_cast<std::uint64_t>(scale)));
    const auto counts = canarygate::classic_bucket_counts(data.histogram, bounds);
    REQUIRE(counts.size() == bounds.size());
    const double b = layout.base();
    std::size_t straddled = 0;
    for (std::size_t k = 0; k < bounds.size(); ++k) {
        const std::uint64_t le = bounds.upper_bounds()[k];
        const auto t = static_cast<double>(le);
        INFO("scale " << scale << ", le = " << le << " ns");
        CHECK(counts[k] <= data.at_most(t));  // never more than the truth, anywhere
        if (k > 0) CHECK(counts[k] >= counts[k - 1]);
        if (t >= layout.min_value() * b && t <= layout.max_value()) {
            CHECK(counts[k] >= data.at_most(t / b));
            CHECK(data.at_most(t) - counts[k] <= data.at_most(t) - data.at_most(t / b));
            if (counts[k] != data.at_most(t)) ++straddled;
        }
        if (is_power_of_two(le) && t >= layout.min_value() && t <= layout.max_value()) {
            CHECK(counts[k] == data.at_most(t));  // fine edges: exact
        }
        if (t < layout.min_value()) CHECK(counts[k] == data.histogram.zero_count());
        if (t >= layout.max_value()) {
            // Overflow is only known to be above max_value: it reaches +Inf only.
            CHECK(counts[k] == data.histogram.count() - data.histogram.overflow_count());
        }
    }
    // The bound is not vacuous: with 30'000 values most bounds that are not
    // powers of two cut through a non-empty fine bucket.
    CHECK(straddled > 0);
}

TEST_CASE("power-of-two presets and the OpenTelemetry token buckets are exact",
          "[prometheus][buckets]") {
    const sample_data latency = latency_data(canarygate::latency_ns_layout, 99, 20'000);
    const auto pow2 = canarygate::histogram_buckets::powers_of_two();
    const auto counts = canarygate::classic_bucket_counts(latency.histogram, pow2.latency);
    for (std::size_t k = 0; k < counts.size(); ++k) {
        CHECK(counts[k] == latency.at_most(static_cast<double>(pow2.latency.upper_bounds()[k])));
    }

    // Token counts from 0 to 2^20 (the whole tokens_layout range).
    std::mt19937_64 rng(5);
    std::lognormal_distribution<double> tokens(std::log(300.0), 2.0);
    sample_data usage{{}, exp_histogram(canarygate::tokens_layout)};
    for (int i = 0; i < 20'000; ++i) {
        const auto v = std::min<std::uint64_t>(static_cast<std::uint64_t>(tokens(rng)), 1u << 20);
        usage.values.push_back(v);
        usage.histogram.record(v);
    }
    std::sort(usage.values.begin(), usage.values.end());
    const auto otel = classic_buckets::otel_token_usage();
    const auto token_counts = canarygate::classic_bucket_counts(usage.histogram, otel);
    for (std::size_t k = 0; k < token_counts.size(); ++k) {
        INFO("le = " << otel.upper_bounds()[k]);
        CHECK(token_counts[k] == usage.at_most(static_cast<double>(otel.upper_bounds()[k])));
    }
}

TEST_CASE("a boundary inside a fine bucket leaves the whole bucket out", "[prometheus][buckets]") {
    exp_histogram h;                            // scale 5: buckets 2.2 % wide
    const std::uint64_t value = 1'000'000'000;  // 1 s, inside (b^i, b^(i+1)] with b^(i+1) > 1 s
    h.record(value);
    h.record(std::uint64_t{0});
    const auto below =
        canarygate::classic_bucket_counts(h, classic_buckets::from_seconds({1.0, 1.1}));
    CHECK(below[0] == 1);  // the value 1 s itself is <= le="1", but its bucket reaches past 1 s
    CHECK(below[1] == 2);  // 1.1 s is past the bucket's upper edge (1.0 * b < 1.1)
    const auto upper_edge = h.quantile(1.0).upper;
    REQUIRE(upper_edge > 1e9);
    REQUIRE(upper_edge < 1e9 * h.layout().base());
}

TEST_CASE("classic bucket bounds are validated with messages that name the bound",
          "[prometheus][buckets]") {
    const auto message = [](auto&& make) -> std::string {
        try {
            (void)make();
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "no exception";
    };
    CHECK_THAT(message([] {
                   return classic_buckets({1, 5, 5});
               }),
               Contains("upper_bounds[2] = 5") && Contains("upper_bounds[1] = 5"));
    CHECK_THAT(message([] { return classic_buckets({3, 2}); }), Contains("upper_bounds[1] = 2"));
    CHECK_THAT(message([] {
                   return classic_buckets({1, (std::uint64_t{1} << 53) + 1});
               }),
               Contains("upper_bounds[1]") && Contains("2^53"));
    CHECK_THAT(message([] {
                   return classic_buckets::from_seconds({0.1, -0.5});
               }),
               Contains("values[1] = -0.5"));
    CHECK_THAT(message([] {
                   return classic_buckets::from_seconds({std::numeric_limits<double>::quiet_NaN()});
               }),
               Contains("values[0] = NaN"));
    CHECK_THAT(message([] {
                   return classic_buckets::from_usd({1.0, std::numeric_limits<double>::infinity()});
               }),
               Contains("values[1] = +Inf"));
    CHECK_THAT(message([] {
                   return classic_buckets::from_seconds({1e-10, 2e-10});
               }),
               Contains("upper_bounds[1] = 0"));  // both round to 0 ns
    CHECK_THAT(message([] { return classic_buckets::powers_of_two(-1, 3); }),
               Contains("first_exponent = -1"));
    CHECK_THAT(message([] { return classic_buckets::powers_of_two(4, 3); }),
               Contains("last_exponent = 3"));
    CHECK_THAT(message([] { return classic_buckets::powers_of_two(0, 54); }),
               Contains("last_exponent = 54"));
    CHECK_THAT(message([] { return classic_buckets::powers_of_two(0, 8, 0); }),
               Contains("step = 0"));
    CHECK_THAT(message([] {
                   const std::vector<double> values{1.0};
                   return classic_buckets::from_units(values, 0);
               }),
               Contains("native_per_unit = 0"));
    CHECK(classic_buckets::from_seconds({0.0, 0.5}).upper_bounds() ==
          std::vector<std::uint64_t>{0, 500'000'000});
}
