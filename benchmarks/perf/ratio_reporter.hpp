// SPDX-License-Identifier: MIT
// Shared by the Google Benchmark programs: the usual console output, plus the
// time per iteration of every benchmark kept by name (the median when
// --benchmark_repetitions is given), so that each program can print its
// figures as ratios to baselines measured in the same run; and the one main()
// (perf_main.cpp) that runs the benchmarks and then every report a program's
// source registered with CANARYGATE_PERF_REPORT.
#pragma once

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

class ratio_reporter : public benchmark::ConsoleReporter {
public:
    /// Wall-clock and CPU time per iteration, in the benchmark's time unit.
    /// CPU time is the steadier of the two on a shared machine.
    struct times {
        double real = std::nan("");
        double cpu = std::nan("");
    };

    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& run : runs) {
            const std::string name = run.run_name.str();
            const times t{run.GetAdjustedRealTime(), run.GetAdjustedCPUTime()};
            if (run.run_type == Run::RT_Aggregate) {
                if (run.aggregate_name == "median") medians_[name] = t;
            } else if (medians_.count(name) == 0) {
                singles_[name] = t;
            }
        }
    }

    /// The median if repetitions were run, else the single run; NaN when the
    /// benchmark was filtered out.
    [[nodiscard]] times time_of(const std::string& name) const {
        if (const auto it = medians_.find(name); it != medians_.end()) return it->second;
        if (const auto it = singles_.find(name); it != singles_.end()) return it->second;
        return {};
    }

    /// Prints "<name>  <t> ns/op  <t / base>x <what>" in CPU time; nothing
    /// when either benchmark was filtered out.
    void print_ratio(const std::string& name, const std::string& base, const char* what) const {
        const double t = time_of(name).cpu;
        const double b = time_of(base).cpu;
        if (std::isnan(t) || std::isnan(b)) return;
        std::printf("  %-24s %9.2f ns/op  %6.2fx %s\n", name.c_str(), t, t / b, what);
    }

private:
    std::map<std::string, times> medians_;
    std::map<std::string, times> singles_;
};

namespace perf {

/// What a benchmark program prints after the runs, from the reporter's times.
using report_function = void (*)(const ratio_reporter&);

inline std::vector<report_function>& reports() {
    static std::vector<report_function> all;
    return all;
}

struct report_registration {
    explicit report_registration(report_function f) { reports().push_back(f); }
};

}  // namespace perf

/// Registers `function` (void(const ratio_reporter&)) to run after the
/// benchmarks of the program it is linked into.
#define CANARYGATE_PERF_REPORT(function) \
    static const ::perf::report_registration canarygate_perf_report_##function { function }
