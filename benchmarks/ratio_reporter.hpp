// SPDX-License-Identifier: MIT
// Shared by the Google Benchmark programs: the usual console output, plus the
// time per iteration of every benchmark kept by name (the median when
// --benchmark_repetitions is given), so that each program can print its
// figures as ratios to baselines measured in the same run.
#pragma once

#include <benchmark/benchmark.h>

#include <cmath>
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

private:
    std::map<std::string, times> medians_;
    std::map<std::string, times> singles_;
};
