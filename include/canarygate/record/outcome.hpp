// SPDX-License-Identifier: MIT
/// \file
/// What one request records: its arm, its outcome category, latencies, token
/// counts and cost, and the kinds of user feedback that arrive later.
///
/// The outcome taxonomy follows what providers and servers report
/// (`docs/ecosystem.md`): OpenAI `finish_reason: "content_filter"` and
/// `message.refusal`, Anthropic `stop_reason: "refusal"`, Gemini
/// `finishReason: "SAFETY"`, vLLM `finished_reason=length|abort|error`, and
/// plain-text refusals found by the embedder's own classifier.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "canarygate/core/config.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// How a request ended. One category per request.
enum class outcome : std::uint8_t {
    ok,                ///< a normal, complete answer
    truncated,         ///< stopped at the token limit (`finish_reason: "length"`)
    refusal_provider,  ///< the provider refused (content filter, `stop_reason: "refusal"`, SAFETY)
    refusal_structured,  ///< the model refused in a structured field (`message.refusal`)
    refusal_classifier,  ///< the embedder's classifier flagged a plain-text refusal
    client_error,        ///< the request was invalid (4xx): not the model's fault
    server_error,        ///< the server or model failed (5xx, vLLM `error`)
    aborted,             ///< the client went away or cancelled
    timeout,             ///< no answer within the deadline
};

inline constexpr std::size_t outcome_count = 9;

/// Stable lowercase name, used in series names ("outcome.refusal_provider")
/// and in serialised snapshots.
[[nodiscard]] constexpr std::string_view name(outcome o) noexcept {
    constexpr std::array<std::string_view, outcome_count> names = {"ok",
                                                                   "truncated",
                                                                   "refusal_provider",
                                                                   "refusal_structured",
                                                                   "refusal_classifier",
                                                                   "client_error",
                                                                   "server_error",
                                                                   "aborted",
                                                                   "timeout"};
    const auto i = static_cast<std::size_t>(o);
    return i < names.size() ? names[i] : std::string_view("unknown");
}

/// The category with this name, if any.
[[nodiscard]] constexpr std::optional<outcome> outcome_from_name(std::string_view n) noexcept {
    for (std::size_t i = 0; i < outcome_count; ++i) {
        if (name(static_cast<outcome>(i)) == n) return static_cast<outcome>(i);
    }
    return std::nullopt;
}

/// Refusals of any origin: what the refusal-rate gate counts.
[[nodiscard]] constexpr bool is_refusal(outcome o) noexcept {
    return o == outcome::refusal_provider || o == outcome::refusal_structured ||
           o == outcome::refusal_classifier;
}

/// Failures the candidate is answerable for: what the error-rate gate counts.
/// Client errors (bad requests) and aborts (the user left) are excluded: they
/// say nothing about the model and would dilute a real regression.
[[nodiscard]] constexpr bool is_error(outcome o) noexcept {
    return o == outcome::server_error || o == outcome::timeout;
}

/// Late user feedback about a request, keyed by its request id.
enum class feedback_kind : std::uint8_t {
    thumbs_up,
    thumbs_down,
    ticket,  ///< a support ticket or complaint filed about the answer
    score,   ///< a numeric rating (Portkey -10..10, Langfuse scores)
};

inline constexpr std::size_t feedback_kind_count = 4;

[[nodiscard]] constexpr std::string_view name(feedback_kind k) noexcept {
    constexpr std::array<std::string_view, feedback_kind_count> names = {"thumbs_up", "thumbs_down",
                                                                         "ticket", "score"};
    const auto i = static_cast<std::size_t>(k);
    return i < names.size() ? names[i] : std::string_view("unknown");
}

/// Late user feedback about one request. The score is read only for
/// `feedback_kind::score`; fractional ratings should be scaled to integers by
/// the caller (e.g. 0.75 -> 750 milli-points).
struct feedback_event {
    feedback_kind kind = feedback_kind::thumbs_up;
    std::int64_t score = 0;
};

/// Index of an arm registered with a recorder (baseline, candidate, shadow,
/// or more). Cheap to copy; valid only for the recorder that issued it.
struct arm_id {
    std::uint8_t value = 0;
    friend constexpr bool operator==(arm_id, arm_id) noexcept = default;
};

/// One finished request, as the inference server measured it.
///
/// All quantities are integers so that sums merge exactly: nanoseconds,
/// tokens, nano-USD (1e-9 USD). The caller measured the latencies; the
/// recorder never reads a clock.
struct request_outcome {
    /// Marks an optional field as absent (e.g. no time to first token for a
    /// non-streaming request).
    static constexpr std::uint64_t absent = std::numeric_limits<std::uint64_t>::max();

    std::uint64_t latency_ns = 0;     ///< end to end
    std::uint64_t ttft_ns = absent;   ///< time to first token, if streamed
    std::uint64_t input_tokens = 0;   ///< all prompt tokens, cached ones included
    std::uint64_t output_tokens = 0;  ///< generated tokens, reasoning included
    std::uint64_t cost_nano_usd = 0;  ///< see canarygate/record/pricing.hpp
    outcome category = outcome::ok;
};

CANARYGATE_NAMESPACE_END
