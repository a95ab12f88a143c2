// SPDX-License-Identifier: MIT
// canarygate demo: a baseline and a candidate model serve a realistic latency
// stream (log-normal body, Pareto tail); both are recorded into exponential
// histograms, and P50/P95/P99/P99.9 are printed beside the exact order
// statistics with the guaranteed error bound. Until the canary simulator
// lands, this is the project's main job.
//
// Usage: canarygate_demo [--requests N] [--seed S] [--candidate-slowdown F]
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <canarygate/record.hpp>

namespace {

struct options {
    std::uint64_t requests = 200'000;
    std::uint64_t seed = 42;
    double candidate_slowdown = 1.3;  // the candidate's tail is 30 % slower
};

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "canarygate_demo: %s\n", message.c_str());
    std::fprintf(stderr,
                 "usage: canarygate_demo [--requests N (1..100000000)] [--seed S] "
                 "[--candidate-slowdown F (0.1..10)]\n");
    std::exit(2);
}

template <class T>
T parse_number(std::string_view flag, std::string_view text) {
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        usage_error(std::string(flag) + " expects a number, got '" + std::string(text) + "'");
    }
    return value;
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") usage_error("help requested");
        if (i + 1 >= argc) usage_error("missing value after " + std::string(flag));
        const std::string_view value = argv[++i];
        if (flag == "--requests") {
            o.requests = parse_number<std::uint64_t>(flag, value);
            if (o.requests < 1 || o.requests > 100'000'000) {
                usage_error("--requests = " + std::string(value) + " is outside 1..100000000");
            }
        } else if (flag == "--seed") {
            o.seed = parse_number<std::uint64_t>(flag, value);
        } else if (flag == "--candidate-slowdown") {
            o.candidate_slowdown = parse_number<double>(flag, value);
            if (!(o.candidate_slowdown >= 0.1 && o.candidate_slowdown <= 10)) {
                usage_error("--candidate-slowdown = " + std::string(value) + " is outside 0.1..10");
            }
        } else {
            usage_error("unknown option " + std::string(flag));
        }
    }
    return o;
}

// One request's end-to-end latency in nanoseconds: a log-normal body (median
// 600 ms) and, for 4 % of requests, a Pareto(alpha 1.6) tail from 2 s (long
// generations, queueing), capped at 20 minutes.
std::uint64_t draw_latency_ns(std::mt19937_64& rng, double tail_scale) {
    std::lognormal_distribution<double> body(std::log(0.6), 0.45);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    double seconds = body(rng);
    if (u(rng) < 0.04)
        seconds = std::min(tail_scale * 2.0 * std::pow(1.0 - u(rng), -1 / 1.6), 1200.0);
    return static_cast<std::uint64_t>(std::llround(seconds * 1e9));
}

struct arm_result {
    const char* name;
    canarygate::exp_histogram histogram;
    std::vector<std::uint64_t> exact;
};

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse(argc, argv);
    std::mt19937_64 rng(opt.seed);
    arm_result arms[] = {{"baseline", {}, {}}, {"candidate", {}, {}}};
    for (auto& arm : arms) arm.exact.reserve(opt.requests);
    for (std::uint64_t i = 0; i < opt.requests; ++i) {
        for (std::size_t a = 0; a < 2; ++a) {
            const auto v = draw_latency_ns(rng, a == 0 ? 1.0 : opt.candidate_slowdown);
            arms[a].histogram.record(v);
            arms[a].exact.push_back(v);
        }
    }

    const double bound = canarygate::latency_ns_layout.relative_error();
    std::printf(
        "canarygate %d.%d.%d demo: %llu requests per arm, seed %llu, candidate tail x%.2f\n",
        canarygate::version.major, canarygate::version.minor, canarygate::version.patch,
        static_cast<unsigned long long>(opt.requests), static_cast<unsigned long long>(opt.seed),
        opt.candidate_slowdown);
    std::printf(
        "histogram: %s, %zu buckets, %zu bytes of counters per arm, guaranteed relative "
        "error %.3f %%\n\n",
        canarygate::latency_ns_layout.describe().c_str(),
        canarygate::latency_ns_layout.bucket_count(),
        (canarygate::latency_ns_layout.bucket_count() + 2) * sizeof(std::uint64_t), 100 * bound);
    std::printf("%-10s %-6s %14s %14s %10s %10s  %s\n", "arm", "q", "exact (ms)", "estimate (ms)",
                "error", "bound", "true value lies in (ms)");

    bool all_within = true;
    double p99[2] = {0, 0};
    for (std::size_t a = 0; a < 2; ++a) {
        auto& arm = arms[a];
        std::sort(arm.exact.begin(), arm.exact.end());
        for (const double q : {0.5, 0.95, 0.99, 0.999}) {
            const auto rank =
                static_cast<std::size_t>(std::floor(q * static_cast<double>(arm.exact.size() - 1)));
            const double exact = static_cast<double>(arm.exact[rank]);
            const auto est = arm.histogram.quantile(q);
            const double error = std::fabs(est.value - exact) / exact;
            const bool ok = !est.bounded() || error <= bound * (1 + 1e-12);
            all_within = all_within && ok;
            if (q == 0.99) p99[a] = est.value;
            std::printf("%-10s P%-5g %14.3f %14.3f %9.4f%% %9.4f%%  (%.3f, %.3f]%s\n", arm.name,
                        100 * q, exact / 1e6, est.value / 1e6, 100 * error, 100 * bound,
                        est.lower / 1e6, est.upper / 1e6, ok ? "" : "  <-- BOUND VIOLATED");
        }
    }
    std::printf("\ncandidate / baseline P99 = %.3f (the lesson's gate fails above 1.5)\n",
                p99[1] / p99[0]);
    std::printf("every in-range estimate within its bound: %s\n", all_within ? "yes" : "NO");
    return all_within ? 0 : 1;
}
