// SPDX-License-Identifier: MIT
// Histogram micro-benchmarks. Every figure that matters is a ratio to a floor
// measured in the same run on the same data, because this machine is shared
// and absolute nanoseconds drift from run to run:
//   floor            plain increment of a counter array at a data-dependent slot
//   index/table      canarygate's exact bit + table index
//   index/log        ceil(log(v) / log(b)) - 1 (inexact near edges)
//   index/frexp      frexp exponent + log2 of the mantissa (inexact near edges)
//   record/u64       exp_histogram::record(std::uint64_t)
//   record/double    exp_histogram::record(double)
//   p2/record        Boost.Accumulators extended P^2 (P50, P90, P99)
// After the runs a ratio table and the P99 error of each estimator on the
// same data are printed. Pass --benchmark_repetitions=N to use medians.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <boost/accumulators/accumulators.hpp>
#include <boost/accumulators/statistics/extended_p_square.hpp>
#include <boost/accumulators/statistics/stats.hpp>

#include "canarygate/core/histogram.hpp"
#include "ratio_reporter.hpp"

namespace {

constexpr std::size_t data_size = 1 << 16;  // 512 KiB of u64: stays in L2

// Log-normal body (median 600 ms) with a 4 % Pareto tail, in nanoseconds.
const std::vector<std::uint64_t>& latency_data() {
    static const std::vector<std::uint64_t> data = [] {
        std::mt19937_64 rng(123);
        std::lognormal_distribution<double> body(std::log(0.6), 0.45);
        std::uniform_real_distribution<double> u(0.0, 1.0);
        std::vector<std::uint64_t> v(data_size);
        for (auto& x : v) {
            double s = body(rng);
            if (u(rng) < 0.04) s = std::min(2.0 * std::pow(1.0 - u(rng), -1 / 1.6), 1200.0);
            x = static_cast<std::uint64_t>(std::llround(s * 1e9));
        }
        return v;
    }();
    return data;
}

const std::vector<double>& latency_data_double() {
    static const std::vector<double> data = [] {
        std::vector<double> v;
        for (const auto x : latency_data()) v.push_back(static_cast<double>(x));
        return v;
    }();
    return data;
}

void bm_floor_increment(benchmark::State& state) {
    const auto& data = latency_data();
    std::vector<std::uint64_t> counts(1024, 0);
    std::size_t i = 0;
    for (auto _ : state) {
        ++counts[data[i] & 1023];
        i = (i + 1) & (data_size - 1);
    }
    benchmark::DoNotOptimize(counts.data());
    benchmark::ClobberMemory();
}
BENCHMARK(bm_floor_increment)->Name("floor");

// The index benchmarks increment a counter at the computed index, exactly like
// the floor, so "ratio - 1" is the cost of computing the index.
template <class IndexFunction>
void run_index_benchmark(benchmark::State& state, IndexFunction index_of) {
    const auto& data = latency_data();
    std::vector<std::uint64_t> counts(1024, 0);
    std::size_t i = 0;
    for (auto _ : state) {
        ++counts[static_cast<std::size_t>(index_of(data[i])) & 1023];
        i = (i + 1) & (data_size - 1);
    }
    benchmark::DoNotOptimize(counts.data());
    benchmark::ClobberMemory();
}

void bm_index_table(benchmark::State& state) {
    run_index_benchmark(state,
                        [](std::uint64_t v) { return canarygate::detail::bucket_index(v, 5); });
}
BENCHMARK(bm_index_table)->Name("index/table");

void bm_index_log(benchmark::State& state) {
    const double inverse_log_base = 32.0 / std::log(2.0);
    run_index_benchmark(state, [inverse_log_base](std::uint64_t v) {
        return static_cast<std::int64_t>(
                   std::ceil(std::log(static_cast<double>(v)) * inverse_log_base)) -
               1;
    });
}
BENCHMARK(bm_index_log)->Name("index/log");

void bm_index_frexp(benchmark::State& state) {
    run_index_benchmark(state, [](std::uint64_t v) {
        int exponent = 0;
        const double mantissa = std::frexp(static_cast<double>(v), &exponent);  // [0.5, 1)
        return static_cast<std::int64_t>(exponent - 1) * 32 +
               static_cast<std::int64_t>(std::ceil(std::log2(2 * mantissa) * 32)) - 1;
    });
}
BENCHMARK(bm_index_frexp)->Name("index/frexp");

void bm_record_u64(benchmark::State& state) {
    const auto& data = latency_data();
    canarygate::exp_histogram h;
    std::size_t i = 0;
    for (auto _ : state) {
        h.record(data[i]);
        i = (i + 1) & (data_size - 1);
    }
    benchmark::DoNotOptimize(h.buckets().data());
    benchmark::ClobberMemory();
}
BENCHMARK(bm_record_u64)->Name("record/u64");

void bm_record_double(benchmark::State& state) {
    const auto& data = latency_data_double();
    canarygate::exp_histogram h;
    std::size_t i = 0;
    for (auto _ : state) {
        h.record(data[i]);
        i = (i + 1) & (data_size - 1);
    }
    benchmark::DoNotOptimize(h.buckets().data());
    benchmark::ClobberMemory();
}
BENCHMARK(bm_record_double)->Name("record/double");

using p2_accumulator = boost::accumulators::accumulator_set<
    double, boost::accumulators::stats<boost::accumulators::tag::extended_p_square>>;
constexpr double p2_probabilities[] = {0.5, 0.9, 0.99};

void bm_p2_record(benchmark::State& state) {
    const auto& data = latency_data_double();
    p2_accumulator acc(boost::accumulators::extended_p_square_probabilities = p2_probabilities);
    std::size_t i = 0;
    for (auto _ : state) {
        acc(data[i]);
        i = (i + 1) & (data_size - 1);
    }
    benchmark::DoNotOptimize(boost::accumulators::extended_p_square(acc)[2]);
}
BENCHMARK(bm_p2_record)->Name("p2/record");

// Relative P99 error of each estimator on the benchmark data set.
void print_accuracy() {
    auto sorted = latency_data();
    std::sort(sorted.begin(), sorted.end());
    const double exact = static_cast<double>(
        sorted[static_cast<std::size_t>(0.99 * static_cast<double>(sorted.size() - 1))]);
    canarygate::exp_histogram h;
    p2_accumulator acc(boost::accumulators::extended_p_square_probabilities = p2_probabilities);
    for (const auto v : latency_data()) {
        h.record(v);
        acc(static_cast<double>(v));
    }
    const double hist = h.quantile(0.99).value;
    const double p2 = boost::accumulators::extended_p_square(acc)[2];
    std::printf("\nP99 on the same %zu values: exact %.3f ms\n", sorted.size(), exact / 1e6);
    std::printf("  exp_histogram  %.3f ms  relative error %.3f %% (guaranteed <= %.3f %%)\n",
                hist / 1e6, 100 * std::fabs(hist - exact) / exact,
                100 * h.layout().relative_error());
    std::printf("  extended P^2   %.3f ms  relative error %.3f %% (no guarantee)\n", p2 / 1e6,
                100 * std::fabs(p2 - exact) / exact);
}

void report(const ratio_reporter& reporter) {
    const double floor = reporter.time_of("floor").cpu;
    std::printf("\nratios to the floor (plain counter increment, %.2f ns/op CPU, same run):\n",
                floor);
    for (const char* name :
         {"index/table", "index/log", "index/frexp", "record/u64", "record/double", "p2/record"}) {
        const double t = reporter.time_of(name).cpu;
        if (std::isnan(t)) continue;  // filtered out
        std::printf("  %-14s %7.2f ns/op  %5.2fx floor\n", name, t, t / floor);
    }
    const double index_table = reporter.time_of("index/table").cpu;
    const double index_log = reporter.time_of("index/log").cpu;
    if (!std::isnan(index_table) && !std::isnan(index_log)) {
        std::printf("  index/log is %.2fx index/table\n", index_log / index_table);
    }
    print_accuracy();
}
CANARYGATE_PERF_REPORT(report);

}  // namespace
