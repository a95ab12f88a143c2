// SPDX-License-Identifier: MIT
/// \file
/// Series: how recorded traffic is named once it leaves the recorder. A metric
/// writes named exact counters ("cost_nano_usd.sum") and histograms
/// ("latency_ns") through a `series_output`; snapshots, codecs, the
/// Prometheus exposition and the gates read them by these names. The names
/// of the default metrics are in `canarygate::series`.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "canarygate/core/config.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/core/wide_uint.hpp"
#include "canarygate/record/outcome.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Names of the series the default metrics produce. Counters are exact
/// wide_uint values; histograms are exp_histogram. Units are in the names.
namespace series {
// Counters, per arm.
inline constexpr std::string_view requests = "requests";
inline constexpr std::string_view latency_sum = "latency_ns.sum";
inline constexpr std::string_view ttft_sum = "ttft_ns.sum";
inline constexpr std::string_view input_tokens_sum = "input_tokens.sum";
inline constexpr std::string_view output_tokens_sum = "output_tokens.sum";
inline constexpr std::string_view output_tokens_sum_squares = "output_tokens.sum_sq";
inline constexpr std::string_view cost_sum = "cost_nano_usd.sum";
inline constexpr std::string_view cost_sum_squares = "cost_nano_usd.sum_sq";
/// Prefix of the per-category outcome counters: "outcome.ok", "outcome.refusal_provider", ...
inline constexpr std::string_view outcome_prefix = "outcome.";
/// Prefix of the per-kind feedback counters: "feedback.thumbs_down", ...
inline constexpr std::string_view feedback_prefix = "feedback.";
/// Prefix of the per-reason rejection counters: "rejected.latency_nan", ...
inline constexpr std::string_view rejected_prefix = "rejected.";
/// The count of `feedback_kind::score` events is "feedback.score"; these are
/// the sums of positive scores and of the magnitudes of negative ones, so the
/// mean score is (positive - negative) / count.
inline constexpr std::string_view feedback_score_positive_sum = "feedback.score.sum_positive";
inline constexpr std::string_view feedback_score_negative_sum = "feedback.score.sum_negative";
// Recorder-wide counters (snapshot::counter).
/// Records and feedback for an arm id the recorder never issued.
inline constexpr std::string_view rejected_unknown_arm = "rejected.unknown_arm";
/// Records and feedback written through the shared overflow shard because
/// the pool of per-thread shards was exhausted.
inline constexpr std::string_view overflow_records = "recorder.overflow_records";
/// Writers (explicit or thread-local) that found no free shard.
inline constexpr std::string_view overflow_writers = "recorder.overflow_writers";
/// Collector ticks whose clock reading went backwards.
inline constexpr std::string_view clock_backwards = "collector.clock_backwards";
/// Collector ticks whose clock reading was outside the range a collector
/// uses (collector_clock_limit_ns, 2^62 ns either side of the epoch):
/// counted, ignored for time.
inline constexpr std::string_view clock_out_of_range = "collector.clock_out_of_range";
// Histograms, per arm.
inline constexpr std::string_view latency = "latency_ns";
inline constexpr std::string_view ttft = "ttft_ns";
inline constexpr std::string_view input_tokens = "input_tokens";
inline constexpr std::string_view output_tokens = "output_tokens";
inline constexpr std::string_view cost = "cost_nano_usd";
/// Feedback events whose candidate share was not a number in [0, 1]
/// (recorder-wide; the event is dropped).
inline constexpr std::string_view rejected_feedback_share = "rejected.feedback_share";
}  // namespace series

/// Feedback cohorts. The feedback gate judges a piece of feedback against the
/// traffic split in force when its *request* was routed: the candidate's
/// share of the two compared arms then. Feedback whose share is known is
/// therefore also counted per cohort, per arm:
/// "feedback.thumbs_down.by_share.100000" holds the thumbs-down about
/// requests routed while the candidate had 10 % (shares in millionths, 0 to
/// 1,000,000). The kind's total ("feedback.thumbs_down") counts every event;
/// the total minus the cohorts is the feedback of no known cohort.
namespace feedback_cohort {

/// A share in millionths, the resolution cohorts keep.
inline constexpr std::uint32_t one_million = 1'000'000;

/// True for a share the cohorts accept: a number in [0, 1].
[[nodiscard]] constexpr bool valid_share(double share) noexcept {
    return share >= 0.0 && share <= 1.0;  // NaN fails
}

/// The share in millionths, rounded to nearest. Precondition: valid_share.
[[nodiscard]] inline std::uint32_t to_ppm(double share) noexcept {
    return static_cast<std::uint32_t>(std::lround(share * one_million));
}

/// "feedback.<kind>.by_share." : the prefix of a kind's cohort counters.
[[nodiscard]] inline std::string prefix(feedback_kind kind) {
    return std::string(series::feedback_prefix) + std::string(name(kind)) + ".by_share.";
}

/// The counter of the cohort at `ppm` millionths.
[[nodiscard]] inline std::string series_name(feedback_kind kind, std::uint32_t ppm) {
    return prefix(kind) + std::to_string(ppm);
}

/// The share in millionths that the part of a cohort counter's name after
/// prefix() spells ("100000"), or nullopt for anything else (a bad name in a
/// decoded snapshot: no sign, no leading zero, at most 1,000,000).
[[nodiscard]] inline std::optional<std::uint32_t> parse(std::string_view suffix) noexcept {
    std::uint32_t value = 0;
    const auto [end, ec] = std::from_chars(suffix.data(), suffix.data() + suffix.size(), value);
    if (suffix.empty() || ec != std::errc{} || end != suffix.data() + suffix.size() ||
        value > one_million || (suffix.size() > 1 && suffix.front() == '0')) {
        return std::nullopt;
    }
    return value;
}

}  // namespace feedback_cohort

/// Where a metric writes its series: one arm of one window. The window layer
/// implements it for `arm_snapshot`; a metric only adds.
///
/// \code
///   static void export_to(const canarygate::metric_values& v, canarygate::series_output& out) {
///       out.add_counter("tool_calls.sum", v.scalar(0));
///   }
/// \endcode
class series_output {
public:
    /// Adds `value` to the named counter (created at zero).
    virtual void add_counter(std::string_view name, wide_uint value) = 0;
    /// Adds `h` into the named histogram (created empty with h's layout).
    virtual void add_histogram(std::string_view name, const exp_histogram& h) = 0;

protected:
    series_output() = default;
    series_output(const series_output&) = default;
    series_output& operator=(const series_output&) = default;
    ~series_output() = default;
};

CANARYGATE_NAMESPACE_END
