// SPDX-License-Identifier: MIT
// A realistic snapshot for the Prometheus exposition tests and for
// prometheus_dump (the promtool check): baseline, candidate and shadow arms
// with every default metric, generated from fixed seeds.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "canarygate/core/histogram.hpp"
#include "canarygate/record/outcome.hpp"
#include "canarygate/window/snapshot.hpp"

namespace prometheus_test {

/// What one arm's generated traffic looks like.
struct arm_traffic {
    const char* arm;
    const char* model_version;
    std::uint64_t requests;
    double median_latency_s;
    double refusal_rate;
    bool receives_feedback;  // shadow copies never do
};

/// Adds `traffic` to `snap`, drawing from `rng`. Every request records
/// latency, input and output tokens and cost; 80 % are streamed (TTFT).
inline void add_traffic(canarygate::snapshot& snap, const arm_traffic& traffic,
                        std::mt19937_64& rng) {
    namespace series = canarygate::series;
    using canarygate::wide_uint;
    canarygate::arm_snapshot& arm = snap.arm(traffic.arm, traffic.model_version);
    canarygate::exp_histogram latency(canarygate::latency_ns_layout);
    canarygate::exp_histogram ttft(canarygate::latency_ns_layout);
    canarygate::exp_histogram input_tokens(canarygate::tokens_layout);
    canarygate::exp_histogram output_tokens(canarygate::tokens_layout);
    // Cost in nano-USD: 1 nano-USD to 2^40 nano-USD (1100 USD).
    canarygate::exp_histogram cost(canarygate::histogram_layout(5, 0, 40));
    canarygate::exp_histogram queue_wait(canarygate::latency_ns_layout);

    std::lognormal_distribution<double> latency_s(std::log(traffic.median_latency_s), 0.6);
    std::lognormal_distribution<double> ttft_s(std::log(0.35), 0.8);
    std::lognormal_distribution<double> prompt(std::log(900.0), 1.0);
    std::lognormal_distribution<double> answer(std::log(280.0), 0.9);
    std::lognormal_distribution<double> wait_s(std::log(0.004), 1.2);
    std::uniform_real_distribution<double> unit(0.0, 1.0);

    std::uint64_t latency_sum = 0, ttft_sum = 0, input_sum = 0, output_sum = 0, cost_sum = 0,
                  wait_sum = 0;
    wide_uint output_sum_sq, cost_sum_sq;
    std::uint64_t by_outcome[canarygate::outcome_count] = {};
    for (std::uint64_t i = 0; i < traffic.requests; ++i) {
        const double u = unit(rng);
        canarygate::outcome category = canarygate::outcome::ok;
        if (u < traffic.refusal_rate) {
            category = canarygate::outcome::refusal_provider;
        } else if (u < traffic.refusal_rate * 1.3) {
            category = canarygate::outcome::refusal_classifier;
        } else if (u < traffic.refusal_rate * 1.3 + 0.02) {
            category = canarygate::outcome::truncated;
        } else if (u < traffic.refusal_rate * 1.3 + 0.025) {
            category = canarygate::outcome::server_error;
        } else if (u < traffic.refusal_rate * 1.3 + 0.027) {
            category = canarygate::outcome::client_error;
        } else if (u < traffic.refusal_rate * 1.3 + 0.028) {
            category = canarygate::outcome::timeout;
        }
        ++by_outcome[static_cast<std::size_t>(category)];

        const auto latency_ns = static_cast<std::uint64_t>(latency_s(rng) * 1e9);
        latency.record(latency_ns);
        latency_sum += latency_ns;
        if (unit(rng) < 0.8) {
            const auto ttft_ns = static_cast<std::uint64_t>(ttft_s(rng) * 1e9);
            ttft.record(ttft_ns);
            ttft_sum += ttft_ns;
        }
        const auto in = static_cast<std::uint64_t>(prompt(rng)) + 1;
        const auto out = category == canarygate::outcome::refusal_provider
                             ? std::uint64_t{0}
                             : static_cast<std::uint64_t>(answer(rng));
        input_tokens.record(in);
        output_tokens.record(out);
        input_sum += in;
        output_sum += out;
        output_sum_sq += wide_uint(out * out);
        // 0.60 USD per million input tokens, 2.40 USD per million output tokens.
        const std::uint64_t c = in * 600 + out * 2400;
        cost.record(c);
        cost_sum += c;
        cost_sum_sq += wide_uint(c * c);
        const auto wait_ns = static_cast<std::uint64_t>(wait_s(rng) * 1e9);
        queue_wait.record(wait_ns);
        wait_sum += wait_ns;
    }

    arm.add_counter(series::requests, traffic.requests);
    for (std::size_t k = 0; k < canarygate::outcome_count; ++k) {
        arm.add_counter(std::string(series::outcome_prefix) +
                            std::string(canarygate::name(static_cast<canarygate::outcome>(k))),
                        by_outcome[k]);
    }
    if (traffic.receives_feedback) {
        arm.add_counter("feedback.thumbs_up", traffic.requests / 40);
        arm.add_counter("feedback.thumbs_down", traffic.requests / 150);
        arm.add_counter("feedback.ticket", traffic.requests / 2000);
    }
    arm.add_counter("rejected.latency_nan", traffic.requests / 5000);
    arm.add_counter("rejected.cost_negative", 0);
    arm.add_histogram(series::latency, latency);
    arm.add_histogram(series::ttft, ttft);
    arm.add_histogram(series::input_tokens, input_tokens);
    arm.add_histogram(series::output_tokens, output_tokens);
    arm.add_histogram(series::cost, cost);
    arm.add_histogram("queue_wait_ns", queue_wait);
    arm.add_counter(series::latency_sum, latency_sum);
    arm.add_counter(series::ttft_sum, ttft_sum);
    arm.add_counter(series::input_tokens_sum, input_sum);
    arm.add_counter(series::output_tokens_sum, output_sum);
    arm.add_counter(series::output_tokens_sum_squares, output_sum_sq);
    arm.add_counter(series::cost_sum, cost_sum);
    arm.add_counter(series::cost_sum_squares, cost_sum_sq);
    arm.add_counter("queue_wait_ns.sum", wait_sum);
}

/// One hour of a 10 % canary with a full shadow copy, plus recorder-wide
/// counters. `candidate_version` may carry characters that need escaping.
inline canarygate::snapshot realistic_snapshot(
    std::uint64_t seed = 20240611,
    const char* candidate_version = "llama-3.3-70b-instruct@sha256:41ab09") {
    std::mt19937_64 rng(seed);
    // 2024-06-11T09:00:00Z to 10:00:00Z in Unix nanoseconds.
    canarygate::snapshot snap(1'718'096'400'000'000'000, 1'718'100'000'000'000'000);
    add_traffic(snap, {"baseline", "llama-3.1-70b-instruct@sha256:9f2c11", 9000, 1.8, 0.010, true},
                rng);
    add_traffic(snap, {"candidate", candidate_version, 1000, 2.1, 0.015, true}, rng);
    add_traffic(snap, {"shadow", candidate_version, 9000, 2.1, 0.015, false}, rng);
    snap.add_counter("feedback.unknown_request_id", 17);
    snap.add_counter("feedback.expired_request_id", 4);
    snap.add_counter("pool.overflow_writes", 0);
    return snap;
}

}  // namespace prometheus_test
