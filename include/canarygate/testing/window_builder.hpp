// SPDX-License-Identifier: MIT
/// \file
/// Turns request and feedback events (from a scenario or a replayed request
/// log) into snapshot increments with the default series, single-threaded and
/// without a clock: the fastest way to drive gates and policies in tests and
/// simulations.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "canarygate/config.hpp"
#include "canarygate/histogram.hpp"
#include "canarygate/outcome.hpp"
#include "canarygate/snapshot.hpp"
#include "canarygate/testing/scenario.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace testing {

/// Role name used in snapshots: "baseline", "candidate", "shadow".
[[nodiscard]] constexpr std::string_view name(arm_role r) noexcept {
    switch (r) {
        case arm_role::baseline: return "baseline";
        case arm_role::candidate: return "candidate";
        case arm_role::shadow: return "shadow";
    }
    return "invalid";
}

/// Accumulates events until `take()` returns them as one snapshot increment.
class window_builder {
public:
    window_builder() { reset(); }

    /// Adds a finished request to its arm.
    void add(const request_event& r) {
        auto& a = arms_[static_cast<std::size_t>(r.arm)];
        const request_outcome& o = r.outcome;
        a.requests += 1;
        a.outcomes[static_cast<std::size_t>(o.category)] += 1;
        a.latency.record(o.latency_ns);
        a.latency_sum += o.latency_ns;
        if (o.ttft_ns != request_outcome::absent) {
            a.ttft.record(o.ttft_ns);
            a.ttft_sum += o.ttft_ns;
        }
        a.input_tokens.record(o.input_tokens);
        a.input_sum += o.input_tokens;
        a.output_tokens.record(o.output_tokens);
        a.output_sum += o.output_tokens;
        a.output_sum_sq += square(o.output_tokens);
        a.cost.record(o.cost_nano_usd);
        a.cost_sum += o.cost_nano_usd;
        a.cost_sum_sq += square(o.cost_nano_usd);
        a.used = true;
    }

    /// Adds feedback to the arm that served the request.
    void add(const feedback_arrival& f) {
        auto& a = arms_[static_cast<std::size_t>(f.arm)];
        a.feedback[static_cast<std::size_t>(f.kind)] += 1;
        a.used = true;
    }

    /// The increment [start_ns, end_ns) with every arm that saw an event
    /// since the last take (baseline and candidate always present), and
    /// starts a new one.
    [[nodiscard]] snapshot take(std::int64_t start_ns, std::int64_t end_ns) {
        snapshot s(start_ns, end_ns);
        for (std::size_t i = 0; i < arms_.size(); ++i) {
            const auto& a = arms_[i];
            const auto role = static_cast<arm_role>(i);
            if (!a.used && role == arm_role::shadow) continue;
            auto& out = s.arm(name(role));
            out.add_counter(series::requests, a.requests);
            for (std::size_t o = 0; o < outcome_count; ++o) {
                out.add_counter(std::string(series::outcome_prefix) + std::string(canarygate::name(static_cast<outcome>(o))),
                                a.outcomes[o]);
            }
            for (std::size_t k = 0; k < feedback_kind_count; ++k) {
                out.add_counter(std::string(series::feedback_prefix) + std::string(canarygate::name(static_cast<feedback_kind>(k))),
                                a.feedback[k]);
            }
            out.add_counter(series::latency_sum, a.latency_sum);
            out.add_counter(series::ttft_sum, a.ttft_sum);
            out.add_counter(series::input_tokens_sum, a.input_sum);
            out.add_counter(series::output_tokens_sum, a.output_sum);
            out.add_counter(series::output_tokens_sum_squares, a.output_sum_sq);
            out.add_counter(series::cost_sum, a.cost_sum);
            out.add_counter(series::cost_sum_squares, a.cost_sum_sq);
            out.add_histogram(series::latency, a.latency);
            out.add_histogram(series::ttft, a.ttft);
            out.add_histogram(series::input_tokens, a.input_tokens);
            out.add_histogram(series::output_tokens, a.output_tokens);
            out.add_histogram(series::cost, a.cost);
        }
        reset();
        return s;
    }

    /// Layout of the cost histogram: nano-USD, (1, 2^40] at scale 4.
    static constexpr histogram_layout cost_layout{4, 0, 40};

private:
    struct arm_totals {
        bool used = false;
        std::uint64_t requests = 0;
        std::array<std::uint64_t, outcome_count> outcomes{};
        std::array<std::uint64_t, feedback_kind_count> feedback{};
        wide_uint latency_sum, ttft_sum, input_sum, output_sum, output_sum_sq, cost_sum, cost_sum_sq;
        exp_histogram latency{latency_ns_layout};
        exp_histogram ttft{latency_ns_layout};
        exp_histogram input_tokens{tokens_layout};
        exp_histogram output_tokens{tokens_layout};
        exp_histogram cost{cost_layout};
    };

    static wide_uint square(std::uint64_t x) noexcept {
        // 64 x 64 -> 128 bits from 32-bit halves.
        const std::uint64_t lo = x & 0xffffffffU;
        const std::uint64_t hi = x >> 32;
        const std::uint64_t lo_lo = lo * lo;
        const std::uint64_t cross = lo * hi;  // appears twice
        const std::uint64_t hi_hi = hi * hi;
        wide_uint result(hi_hi, lo_lo);
        result += wide_uint(cross >> 31, cross << 33);  // 2 * cross * 2^32
        return result;
    }

    void reset() {
        for (auto& a : arms_) a = arm_totals{};
    }

    std::array<arm_totals, 3> arms_;
};

}  // namespace testing
CANARYGATE_NAMESPACE_END
