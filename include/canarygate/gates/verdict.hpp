// SPDX-License-Identifier: MIT
/// \file
/// What a gate or a policy decides at one check (`verdict`) and the evidence
/// behind it (`gate_evidence`, `gate_result`).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "canarygate/core/config.hpp"
#include "canarygate/gates/signal.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// A gate's or a policy's decision at one check. name() spells each as its
/// enumerator, and so do reports, JSON and the documentation.
enum class verdict : std::uint8_t {
    pass,                    ///< every needed bound is inside the tolerance: may advance
    keep_going,              ///< not enough evidence yet: keep the stage going (hold)
    fail,                    ///< regression shown at the error budget: roll back
    invalid,                 ///< the comparison itself is broken (sample-ratio mismatch)
    no_regression_detected,  ///< maximum duration reached undecided: weaker than pass
};

inline constexpr std::size_t verdict_count = 5;

/// "pass", "keep_going", "fail", "invalid", "no_regression_detected";
/// "unknown" for a value outside the enum (never "invalid", which is a
/// verdict of its own).
[[nodiscard]] constexpr std::string_view name(verdict v) noexcept {
    constexpr std::array<std::string_view, verdict_count> names = {
        "pass", "keep_going", "fail", "invalid", "no_regression_detected"};
    const auto i = static_cast<std::size_t>(v);
    return i < names.size() ? names[i] : std::string_view("unknown");
}

/// The evidence behind a verdict.
struct gate_evidence {
    /// Log of the fail-side e-value (ln E; fail when ≥ log_fail_threshold).
    /// NaN for the shape gate, which is a band test, not an e-process.
    double log_e_value = 0.0;
    /// ln(1 / alpha_fail) for the rate gates, whose test has no nuisance
    /// parameter; ln(2 / alpha_fail) for the mean, quantile and batch-mode
    /// gates, which spend half of alpha_fail on a bound for the baseline.
    double log_fail_threshold = 0.0;
    /// This gate's share of the policy's false-fail budget at this check.
    double alpha_fail = 0.0;
    /// Point estimate of the candidate/baseline ratio (KS distance for the
    /// shape gate); NaN when there is no data yet.
    double estimate = std::numeric_limits<double>::quiet_NaN();
    /// Anytime-valid interval at the pass level (lower may be 0, upper +inf;
    /// the shape gate's lies in [0, 1]). Meaningful only when
    /// interval_computed: the rate gates skip it under
    /// gate_tuning::intervals = false (their decisions do not use it).
    double lower = 0.0;
    double upper = std::numeric_limits<double>::infinity();
    bool interval_computed = false;
    /// True when the interval (and so the pass decision) is asymptotic
    /// (normal-mixture bounds on means) rather than exact.
    bool asymptotic_interval = false;
    /// Fixed-sample reference interval for the ratio at the pass level, for
    /// reporting beside the anytime-valid one: valid only for ONE look planned
    /// in advance, never for decisions under repeated checks. Rates:
    /// Clopper–Pearson on the candidate's share of the events, mapped to the
    /// rate ratio (cumulative exposures); cost: Fieller's interval for the
    /// ratio of means; quantiles: distribution-free order-statistic
    /// intervals of both arms' quantiles (alpha_pass / 2 each), divided
    /// crosswise. NaN where there is none (shape, batch mode, too little
    /// data, gate_tuning::intervals off); upper is +inf when the data do not
    /// bound it.
    double fixed_lower = std::numeric_limits<double>::quiet_NaN();
    double fixed_upper = std::numeric_limits<double>::quiet_NaN();
    /// "clopper-pearson", "fieller", "order-statistic", or empty.
    std::string_view fixed_method;
    /// Batch mode: closed batches that contributed to the fail side.
    std::uint64_t batches = 0;
    std::uint64_t candidate_samples = 0;
    std::uint64_t baseline_samples = 0;
    std::uint64_t candidate_events = 0;
    std::uint64_t baseline_events = 0;
};

struct gate_result {
    std::string name;
    signal metric = signal::latency;
    bool critical = true;
    verdict decision = verdict::keep_going;
    gate_evidence evidence;
    /// One line a human reads: "latency_p99 ratio <= 1.62 (CI 1.55-1.71) > 1.5 after 412 ...".
    std::string reason;
};

CANARYGATE_NAMESPACE_END
