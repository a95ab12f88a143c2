// SPDX-License-Identifier: MIT
// Snapshots shared by the codec and JSON tests: a realistic 5-minute window
// and a snapshot that exercises every corner of the format.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "canarygate/core/histogram.hpp"
#include "canarygate/window/snapshot.hpp"

namespace codec_fixtures {

using canarygate::exp_histogram;
using canarygate::histogram_layout;
using canarygate::snapshot;
using canarygate::wide_uint;

inline constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();
/// 2026-01-01T00:00:00Z in nanoseconds since the epoch.
inline constexpr std::int64_t window_start = 1'767'225'600'000'000'000;
inline constexpr std::int64_t five_minutes = 300'000'000'000;

/// Layout of the cost histogram in the fixtures: (1 µUSD, ~1.1 USD] in nano-USD.
inline constexpr histogram_layout cost_layout{4, 10, 30};

/// Records one arm's traffic: log-normal end-to-end latency (median
/// `median_ms`), time to first token, token counts and cost, outcome
/// counters. With `latency_only`, just the request count and the latency
/// histogram.
inline void record_arm(snapshot& s, const std::string& arm, const std::string& version,
                       std::uint64_t requests, double median_ms, std::uint64_t seed,
                       bool latency_only = false) {
    std::mt19937_64 rng(seed);
    std::lognormal_distribution<double> latency_s(std::log(median_ms / 1000.0), 0.5);
    std::lognormal_distribution<double> ttft_share(std::log(0.3), 0.3);
    std::lognormal_distribution<double> output_tokens(std::log(250.0), 0.8);
    std::lognormal_distribution<double> input_tokens(std::log(800.0), 1.0);
    std::uniform_real_distribution<double> u(0.0, 1.0);

    exp_histogram latency(canarygate::latency_ns_layout);
    exp_histogram ttft(canarygate::latency_ns_layout);
    exp_histogram output(canarygate::tokens_layout);
    exp_histogram input(canarygate::tokens_layout);
    exp_histogram cost(cost_layout);
    wide_uint latency_sum, ttft_sum, input_sum, output_sum, output_sq, cost_sum, cost_sq;
    std::uint64_t errors = 0, refusals = 0, thumbs_down = 0;
    for (std::uint64_t i = 0; i < requests; ++i) {
        const auto latency_ns = static_cast<std::uint64_t>(latency_s(rng) * 1e9);
        const auto ttft_ns = static_cast<std::uint64_t>(static_cast<double>(latency_ns) *
                                                        std::min(1.0, ttft_share(rng)));
        const auto out = static_cast<std::uint64_t>(output_tokens(rng)) + 1;
        const auto in = static_cast<std::uint64_t>(input_tokens(rng)) + 1;
        const std::uint64_t cost_nano = in * 3'000 + out * 15'000;  // $3 / $15 per M tokens
        latency.record(latency_ns);
        latency_sum += latency_ns;
        if (latency_only) continue;
        ttft.record(ttft_ns);
        output.record(out);
        input.record(in);
        cost.record(cost_nano);
        ttft_sum += ttft_ns;
        input_sum += in;
        output_sum += out;
        output_sq += out * out;
        cost_sum += cost_nano;
        cost_sq += cost_nano * cost_nano;
        const double r = u(rng);
        errors += r < 0.01 ? 1U : 0U;
        refusals += r >= 0.01 && r < 0.03 ? 1U : 0U;
        thumbs_down += u(rng) < 0.02 ? 1U : 0U;
    }
    auto& a = s.arm(arm, version);
    a.add_counter(canarygate::series::requests, requests);
    a.add_counter(canarygate::series::latency_sum, latency_sum);
    a.add_histogram(canarygate::series::latency, latency);
    if (latency_only) return;
    a.add_counter(canarygate::series::ttft_sum, ttft_sum);
    a.add_counter(canarygate::series::input_tokens_sum, input_sum);
    a.add_counter(canarygate::series::output_tokens_sum, output_sum);
    a.add_counter(canarygate::series::output_tokens_sum_squares, output_sq);
    a.add_counter(canarygate::series::cost_sum, cost_sum);
    a.add_counter(canarygate::series::cost_sum_squares, cost_sq);
    a.add_counter("outcome.ok", requests - errors - refusals);
    a.add_counter("outcome.error", errors);
    a.add_counter("outcome.refusal_provider", refusals);
    a.add_counter("feedback.thumbs_down", thumbs_down);
    a.add_histogram(canarygate::series::ttft, ttft);
    a.add_histogram(canarygate::series::output_tokens, output);
    a.add_histogram(canarygate::series::input_tokens, input);
    a.add_histogram(canarygate::series::cost, cost);
}

/// A typical 5-minute window of a 1 % canary: 30 candidate and 3,000 baseline
/// requests, every default metric (or only latency).
inline snapshot typical_window(std::uint64_t seed = 1, bool latency_only = false,
                               std::uint64_t canary = 30, std::uint64_t baseline = 3000) {
    snapshot s(window_start, window_start + five_minutes);
    record_arm(s, "baseline", "llama-3.1-70b-instruct@2024-07-23", baseline, 800, seed,
               latency_only);
    record_arm(s, "candidate", "llama-3.3-70b-instruct@2024-12-06", canary, 850, seed + 1000,
               latency_only);
    if (!latency_only) s.add_counter("feedback.unknown_request", 2);
    return s;
}

/// A small snapshot touching every section of the format:
/// a recorder-wide counter, two arms, a histogram with zero and overflow
/// counts and two spans.
inline snapshot small_snapshot() {
    snapshot s(1, 2);
    s.add_counter("n", 300);
    exp_histogram h(histogram_layout(0, -1, 2));  // buckets -1, 0, 1
    h.add_zero(1);
    h.add_to_bucket(2, 2);  // overflow
    h.add_to_bucket(-1, 5);
    h.add_to_bucket(1, 3);
    s.arm("a").add_histogram("h", h);
    s.arm("b", "v").add_counter("requests", 8);
    return s;
}

/// Every corner of the format: recorder-wide counters, wide counters beyond
/// 2^64, an empty model version, names with bytes outside ASCII, scales 0..8,
/// negative exponents, zero / underflow / overflow / rejected counts, counts
/// at the edges of u64, several arms with the same role. `non_utf8_name` adds
/// a counter whose name is not valid UTF-8 (fine in binary; JSON text cannot
/// carry it).
inline snapshot corner_snapshot(bool non_utf8_name = true) {
    snapshot s(-5, 1'000'000'000'000'000'000);
    s.set_sources(7);
    s.add_counter("pool_exhausted", 0);
    s.add_counter("evicted", u64_max);
    s.add_counter("wide", wide_uint{1, 0});                // 2^64
    s.add_counter("widest", wide_uint{u64_max, u64_max});  // 2^128 - 1
    s.add_counter(std::string("bytes\x01\0\x7f", 8), 42);  // control bytes, NUL included
    if (non_utf8_name) s.add_counter("\xff\xfe", 1);
    // snapshot::arm() may insert into a vector: take each reference just
    // before using it.
    s.arm("baseline", "").add_counter("requests", 1);
    for (int scale = 0; scale <= histogram_layout::max_scale; ++scale) {
        exp_histogram h(histogram_layout(scale, -3 - scale, 5 + scale));
        h.add_zero(3);
        // Through add_to_bucket, which clamps to the underflow / overflow slots:
        // add_underflow / add_overflow on a runtime layout trip GCC 12's
        // -Wnull-dereference at -O2 (vector::front/back of a vector it cannot
        // prove non-empty).
        h.add_to_bucket(h.layout().first_index() - 1, static_cast<std::uint64_t>(scale));
        h.add_to_bucket(h.layout().last_index() + 1, 11);
        h.add_rejected(u64_max);  // not part of count(): any value goes
        const std::int64_t first = h.layout().first_index();
        const std::int64_t last = h.layout().last_index();
        h.add_to_bucket(first, 1);  // first bucket
        h.add_to_bucket(last, 5);   // last bucket
        h.add_to_bucket(first + 2, 300);
        h.add_to_bucket(first + 3, 2);  // run of 2, large step down
        if (last - first > 8) h.add_to_bucket(last - 2, 1'000'000);
        s.arm("candidate", "v1").add_histogram("h" + std::to_string(scale), h);
    }
    // Counts at the edges of u64 (the total stays at most 2^64 - 1).
    exp_histogram edges(histogram_layout(0, -1022, 1023));
    edges.add_to_bucket(-1022, u64_max - 2);
    edges.add_to_bucket(-1020, 1);
    edges.add_to_bucket(1022, 1);
    auto& c2 = s.arm("candidate", "v2");
    c2.add_histogram("edges", edges);
    exp_histogram empty(canarygate::latency_ns_layout);
    c2.add_histogram("empty", empty);
    c2.add_counter("requests", wide_uint{0x0123456789abcdefU, 0xfedcba9876543210U});
    s.arm("\xce\xbb-arm", "sha256:" + std::string(64, 'a'));  // an empty arm; UTF-8 name
    return s;
}

}  // namespace codec_fixtures
