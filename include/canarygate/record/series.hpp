// SPDX-License-Identifier: MIT
/// \file
/// Series: how recorded traffic is named once it leaves the recorder. A metric
/// writes named exact counters ("cost_nano_usd.sum") and histograms
/// ("latency_ns") through a `series_output`; snapshots, codecs, the
/// Prometheus exposition and the gates read them by these names. The names
/// of the default metrics are in `canarygate::series`.
#pragma once

#include <string_view>

#include "canarygate/core/config.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/core/wide_uint.hpp"

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
// Histograms, per arm.
inline constexpr std::string_view latency = "latency_ns";
inline constexpr std::string_view ttft = "ttft_ns";
inline constexpr std::string_view input_tokens = "input_tokens";
inline constexpr std::string_view output_tokens = "output_tokens";
inline constexpr std::string_view cost = "cost_nano_usd";
}  // namespace series

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
