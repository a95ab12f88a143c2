// SPDX-License-Identifier: MIT
// What the simulation benchmarks (calibration, batch_calibration,
// rate_certification) share: their command line, their thread pool and the
// number formats of their tables. Command lines are parsed by CLI11 (Debian's
// libcli11-dev): unknown options, missing values and values that are not
// positive numbers are rejected with a message naming the option and value.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

namespace canarygate_bench {

/// Accepts a whole number in [low, high] written in decimal digits; rejects
/// anything else ("-5", "1.5", "abc", out of range) naming the value.
inline CLI::Validator whole_number_in(std::uint64_t low, std::uint64_t high) {
    const std::string range = "[" + std::to_string(low) + ", " + std::to_string(high) + "]";
    return CLI::Validator(
        [low, high, range](std::string& value) -> std::string {
            // At most 19 digits: below 2^64, so stoull cannot overflow.
            const bool digits = !value.empty() && value.size() <= 19 &&
                                std::all_of(value.begin(), value.end(),
                                            [](char c) { return c >= '0' && c <= '9'; });
            const std::uint64_t x = digits ? std::stoull(value) : 0;
            if (digits && x >= low && x <= high) return {};
            return "must be a whole number in " + range + ", got '" + value + "'";
        },
        range);
}

/// Accepts a finite number > 0 ("0", "-1", "inf", "nan", "1x" are rejected).
inline const CLI::Validator positive_number(
    [](std::string& value) -> std::string {
        char* end = nullptr;
        const double x = std::strtod(value.c_str(), &end);
        const bool parsed = !value.empty() && end == value.c_str() + value.size();
        return parsed && std::isfinite(x) && x > 0
                   ? std::string()
                   : "must be a finite number > 0, got '" + value + "'";
    },
    "POSITIVE");

/// The options every simulation benchmark takes, with the program's default
/// run counts.
struct run_options {
    std::filesystem::path out;
    std::uint64_t runs;
    std::uint64_t detect_runs;
    unsigned threads = 2;
    bool smoke = false;

    run_options(std::uint64_t default_runs, std::uint64_t default_detect_runs)
        : runs(default_runs), detect_runs(default_detect_runs) {}

    /// Adds --out (required), --runs, --detect-runs (1 to 10^9), --threads
    /// (1 to 1024) and --smoke to `app`.
    void add_to(CLI::App& app) {
        app.add_option("--out", out, "directory the tables are written to")->required();
        app.add_option("--runs", runs, "runs per false-alarm cell")
            ->check(whole_number_in(1, 1'000'000'000))
            ->capture_default_str();
        app.add_option("--detect-runs", detect_runs, "runs per detection cell")
            ->check(whole_number_in(1, 1'000'000'000))
            ->capture_default_str();
        app.add_option("--threads", threads, "worker threads")
            ->check(whole_number_in(1, 1024))
            ->capture_default_str();
        app.add_flag("--smoke", smoke, "a few runs only: checks that the program works (CTest)");
    }
};

/// Calls fn(i) for every i in [0, items) from `threads` threads; returns when
/// all calls have returned. fn must synchronise what it shares.
template <class F>
void parallel_for(std::size_t items, unsigned threads, F fn) {
    // Relaxed: the counter only hands out indices; what fn writes reaches the
    // caller through fn's own synchronisation or through join().
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        for (std::size_t i = next.fetch_add(1, std::memory_order_relaxed); i < items;
             i = next.fetch_add(1, std::memory_order_relaxed)) {
            fn(i);
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < std::max(threads, 1U); ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
}

/// x with `decimals` digits after the point ("-" for NaN). A literal format
/// string: -Wformat-nonliteral (from -Wformat=2) checks every call.
inline std::string fixed(double x, int decimals) {
    if (std::isnan(x)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
    return buf;
}

/// The share x as a percentage with `decimals` digits ("-" for NaN).
inline std::string percent(double x, int decimals) {
    return std::isnan(x) ? "-" : fixed(100 * x, decimals) + " %";
}

}  // namespace canarygate_bench
