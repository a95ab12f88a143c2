// SPDX-License-Identifier: MIT
// The README's quick start: record latencies, read P99 with its guarantee.
// --8<-- [start:quick_start]
#include <cstdint>
#include <cstdio>

#include <canarygate/record.hpp>

int main() {
    canarygate::exp_histogram latency;  // integer nanoseconds, 1.08 % relative error
    for (std::uint64_t ms = 1; ms <= 1000; ++ms) latency.record(ms * 1'000'000);

    const canarygate::quantile_estimate p99 = latency.quantile(0.99);
    std::printf("P99 = %.1f ms (true value in (%.1f, %.1f] ms, error <= %.2f %%)\n",
                p99.value / 1e6, p99.lower / 1e6, p99.upper / 1e6,
                100 * latency.layout().relative_error());
    // The exact lower empirical P99 of 1..1000 ms, 990 ms, lies in the interval.
    return p99.bounded() && p99.lower < 990e6 && p99.upper >= 990e6 ? 0 : 1;
}
// --8<-- [end:quick_start]
