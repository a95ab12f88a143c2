// SPDX-License-Identifier: MIT
// The main() of every Google Benchmark program here: runs the benchmarks the
// program registered, then the reports it registered (ratios to baselines
// measured in the same run).
#include <benchmark/benchmark.h>

#include "ratio_reporter.hpp"

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    ratio_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    for (const perf::report_function report : perf::reports()) report(reporter);
    return 0;
}
