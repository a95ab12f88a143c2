// SPDX-License-Identifier: MIT
// Quantile accuracy against exact order statistics: every in-range estimate
// must be within the layout's relative error (b-1)/(b+1) of the true quantile
// (rank floor(q (n-1)) of the sorted data), for a single stream and after
// merging 64 parts. The worst observed error per quantile is printed so that
// releases can quote it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "canarygate/core/histogram.hpp"

using canarygate::exp_histogram;
using canarygate::histogram_layout;
using canarygate::quantile_region;

namespace {

constexpr double quantiles[] = {0.5, 0.9, 0.95, 0.99, 0.999};

// Worst relative error per (data set, quantile) at the default layout,
// printed at exit so that a release can quote it.
std::map<std::pair<std::string, double>, double>& worst_error() {
    static std::map<std::pair<std::string, double>, double> worst;
    return worst;
}

struct report_at_exit {
    report_at_exit(const report_at_exit&) = delete;
    report_at_exit& operator=(const report_at_exit&) = delete;
    // Touch the map first so it is destroyed after this reporter.
    report_at_exit() { (void)worst_error(); }
    ~report_at_exit() {
        std::printf("worst observed relative error at the default layout (bound %.4f%%):\n",
                    100 * canarygate::latency_ns_layout.relative_error());
        for (const auto& [key, e] : worst_error()) {
            std::printf("  %-40s P%-6g %.4f%%\n", key.first.c_str(), 100 * key.second, 100 * e);
        }
    }
} const reporter;

std::uint64_t to_ns(double seconds) {
    return static_cast<std::uint64_t>(std::llround(seconds * 1e9));
}

// Checks every listed quantile of `h` against the exact order statistic of `data`.
template <class T>
void check_quantiles(const exp_histogram& h, std::vector<T> data, const std::string& name) {
    std::sort(data.begin(), data.end());
    REQUIRE(h.count() == data.size());
    const double bound = h.layout().relative_error();
    for (const double q : quantiles) {
        const auto rank = static_cast<std::size_t>(
            std::floor(static_cast<long double>(q) * static_cast<long double>(data.size() - 1)));
        const auto exact = static_cast<double>(data[rank]);
        const auto est = h.quantile(q);
        CAPTURE(name, q, exact, est.value, est.lower, est.upper);
        // Whatever the region, the true value lies in (lower, upper].
        if (est.region == quantile_region::zero) {
            CHECK(exact == 0.0);
            continue;
        }
        CHECK(exact > est.lower);
        CHECK(exact <= est.upper);
        if (est.region == quantile_region::in_range) {
            const double error = std::fabs(est.value - exact) / exact;
            // 1e-12 absorbs the rounding of the double edge computation.
            CHECK(error <= bound * (1 + 1e-12));
            if (h.layout() == canarygate::latency_ns_layout) {
                double& worst = worst_error()[{name.substr(0, name.find(" (")), q}];
                worst = std::max(worst, error);
            }
        }
    }
}

// Records the data once whole and once split round-robin into 64 parts that
// are then merged; both must give identical histograms and pass the bound.
void check_stream_and_merge(const std::vector<std::uint64_t>& data, const std::string& name,
                            histogram_layout layout = canarygate::latency_ns_layout) {
    exp_histogram whole(layout);
    std::vector<exp_histogram> parts(64, exp_histogram(layout));
    for (std::size_t i = 0; i < data.size(); ++i) {
        whole.record(data[i]);
        parts[i % parts.size()].record(data[i]);
    }
    exp_histogram merged(layout);
    for (const auto& p : parts) merged.merge(p);
    CHECK(merged == whole);
    check_quantiles(whole, data, name + " (single stream)");
    check_quantiles(merged, data, name + " (64 merged parts)");
}

std::vector<std::uint64_t> lognormal_ns(std::mt19937_64& rng, std::size_t n, double median_s,
                                        double sigma) {
    std::lognormal_distribution<double> d(std::log(median_s), sigma);
    std::vector<std::uint64_t> out(n);
    for (auto& v : out) v = to_ns(d(rng));
    return out;
}

}  // namespace

TEST_CASE("log-normal latency", "[accuracy]") {
    std::mt19937_64 rng(1);
    for (const double sigma : {0.3, 0.6, 1.0}) {
        check_stream_and_merge(lognormal_ns(rng, 200000, 0.8, sigma),
                               "lognormal sigma " + std::to_string(sigma));
    }
}

TEST_CASE("log-normal body with a Pareto tail", "[accuracy]") {
    std::mt19937_64 rng(2);
    std::lognormal_distribution<double> body(std::log(0.5), 0.5);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<std::uint64_t> data(300000);
    for (auto& v : data) {
        // 5 % of requests from a Pareto(alpha 1.5, x_m 2 s) tail, capped at 30 min.
        const double s =
            u(rng) < 0.05 ? std::min(2.0 * std::pow(1.0 - u(rng), -1.0 / 1.5), 1800.0) : body(rng);
        v = to_ns(s);
    }
    check_stream_and_merge(data, "lognormal + pareto tail");
}

TEST_CASE("bimodal latency (cache hits and long generations)", "[accuracy]") {
    std::mt19937_64 rng(3);
    auto fast = lognormal_ns(rng, 150000, 0.05, 0.3);
    const auto slow = lognormal_ns(rng, 50000, 8.0, 0.4);
    fast.insert(fast.end(), slow.begin(), slow.end());
    std::shuffle(fast.begin(), fast.end(), rng);
    check_stream_and_merge(fast, "bimodal");
}

TEST_CASE("adversarial: identical values, bucket edges, range ends", "[accuracy]") {
    check_stream_and_merge(std::vector<std::uint64_t>(100000, 1'000'000), "all identical");

    // Values exactly on and next to bucket edges of the default layout.
    std::vector<std::uint64_t> edges;
    const auto& layout = canarygate::latency_ns_layout;
    for (std::int64_t i = layout.first_index() + 1; i <= layout.last_index(); ++i) {
        const auto e = static_cast<std::uint64_t>(std::floor(layout.lower_edge(i)));
        for (const std::uint64_t v : {e - 1, e, e + 1, e + 2}) edges.push_back(v);
    }
    for (int e = 17; e <= 41; ++e) edges.push_back(std::uint64_t{1} << e);
    check_stream_and_merge(edges, "bucket edges");

    // Values at and beyond the range ends: quantiles report the region honestly.
    std::vector<std::uint64_t> ends;
    for (int k = 0; k < 1000; ++k) {
        ends.push_back(0);
        ends.push_back(1);
        ends.push_back(std::uint64_t{1} << 16);  // upper edge of underflow
        ends.push_back((std::uint64_t{1} << 16) + 1);
        ends.push_back(std::uint64_t{1} << 41);  // last in-range value
        ends.push_back((std::uint64_t{1} << 41) + 1);
        ends.push_back(~std::uint64_t{0});
    }
    check_stream_and_merge(ends, "range ends");
    exp_histogram h;
    for (const auto v : ends) h.record(v);
    CHECK(h.zero_count() == 1000);
    CHECK(h.underflow_count() == 2000);
    CHECK(h.overflow_count() == 2000);
    CHECK(h.quantile(0.0).region == quantile_region::zero);
    CHECK(h.quantile(0.2).region == quantile_region::underflow);
    CHECK(h.quantile(1.0).region == quantile_region::overflow);
    CHECK(h.quantile(1.0).value == layout.max_value());
    CHECK(h.quantile(1.0).upper == std::numeric_limits<double>::infinity());
}

TEST_CASE("double inputs in seconds", "[accuracy]") {
    const histogram_layout seconds(5, -20, 12);
    std::mt19937_64 rng(4);
    std::lognormal_distribution<double> d(std::log(0.3), 0.8);
    std::vector<double> data(100000);
    exp_histogram h(seconds);
    for (auto& v : data) {
        v = d(rng);
        REQUIRE(h.record(v));
    }
    check_quantiles(h, data, "seconds as double");
}

TEST_CASE("bound holds at every scale", "[accuracy]") {
    std::mt19937_64 rng(5);
    const auto data = lognormal_ns(rng, 50000, 0.2, 1.2);
    for (int scale = 0; scale <= histogram_layout::max_scale; ++scale) {
        exp_histogram h(histogram_layout(scale, 10, 45));
        for (const auto v : data) h.record(v);
        check_quantiles(h, data, "scale " + std::to_string(scale));
    }
}
