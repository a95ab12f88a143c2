// SPDX-License-Identifier: MIT
/// \file
/// What a gate measures (`signal`), which way is worse (`direction`), and how
/// a signal is read off an arm's snapshot: the series names of the default
/// metrics (record/series.hpp) turned into events, sums and histograms.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "canarygate/core/config.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/core/wide_uint.hpp"
#include "canarygate/record/outcome.hpp"
#include "canarygate/record/series.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// What a gate measures.
enum class signal : std::uint8_t {
    latency,        ///< end-to-end latency quantile
    ttft,           ///< time-to-first-token quantile
    cost,           ///< mean cost per request
    error_rate,     ///< server errors and timeouts per request
    refusal_rate,   ///< refusals (any origin) per request
    output_length,  ///< output-token quantile
    output_shape,   ///< output-token distribution shape (Kolmogorov–Smirnov)
    feedback_rate,  ///< negative feedback (thumbs-down by default) per request
};

/// Number of signals: every value of `signal` is below it.
inline constexpr std::size_t signal_count = 8;

/// "latency", "ttft", "cost", "error_rate", "refusal_rate", "output_length",
/// "output_shape", "feedback_rate"; "unknown" for a value outside the enum.
[[nodiscard]] constexpr std::string_view name(signal s) noexcept {
    constexpr std::array<std::string_view, signal_count> names = {
        "latency",      "ttft",          "cost",         "error_rate",
        "refusal_rate", "output_length", "output_shape", "feedback_rate"};
    const auto i = static_cast<std::size_t>(s);
    return i < names.size() ? names[i] : std::string_view("unknown");
}

/// Latency, TTFT and output length: gates on a quantile.
[[nodiscard]] constexpr bool is_quantile_signal(signal s) noexcept {
    return s == signal::latency || s == signal::ttft || s == signal::output_length;
}
/// Errors, refusals and feedback: gates on events per request.
[[nodiscard]] constexpr bool is_rate_signal(signal s) noexcept {
    return s == signal::error_rate || s == signal::refusal_rate || s == signal::feedback_rate;
}

/// Which change is a regression.
enum class direction : std::uint8_t {
    increase,  ///< candidate above k × baseline is bad (latency, cost, errors, ...)
    decrease,  ///< candidate below k × baseline is bad (k < 1; e.g. thumbs-up rate)
};

namespace detail {

[[nodiscard]] inline double to_double(wide_uint w) noexcept { return w.to_double(); }

/// The histogram series a quantile or shape signal reads.
[[nodiscard]] constexpr std::string_view histogram_series(signal s) noexcept {
    switch (s) {
        case signal::latency:
            return series::latency;
        case signal::ttft:
            return series::ttft;
        default:
            return series::output_tokens;
    }
}

/// Events of a rate signal in one arm's increment: errors (is_error),
/// refusals (is_refusal) or feedback of kind `feedback`.
[[nodiscard]] inline double rate_events(signal s, feedback_kind feedback, const arm_snapshot& a) {
    if (s == signal::feedback_rate) {
        return to_double(
            a.counter(std::string(series::feedback_prefix) + std::string(name(feedback))));
    }
    double events = 0;
    for (std::size_t i = 0; i < outcome_count; ++i) {
        const auto o = static_cast<outcome>(i);
        const bool counted = s == signal::error_rate ? is_error(o) : is_refusal(o);
        if (counted)
            events +=
                to_double(a.counter(std::string(series::outcome_prefix) + std::string(name(o))));
    }
    return events;
}

}  // namespace detail
CANARYGATE_NAMESPACE_END
