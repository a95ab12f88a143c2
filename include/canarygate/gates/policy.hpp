// SPDX-License-Identifier: MIT
/// \file
/// Policies: the gates of a rollout judged together.
///
/// A policy splits the false-roll-back budget `alpha_fail` (default 5 % for
/// the whole rollout, whatever the number of checks) across its gates by
/// Bonferroni, checks that traffic is split as configured (a sample-ratio
/// mismatch makes the verdict `invalid`, never `fail`), and decides:
/// - `fail`: a critical gate showed a regression → roll back;
/// - `invalid`: the split is not what was configured → fix routing first;
/// - `pass`: every gate's anytime-valid bound is inside its limit → advance
///   (intersection–union: no multiplicity adjustment is needed);
/// - `no_regression_detected`: the stage reached its maximum duration
///   undecided; reported as weaker than pass;
/// - `keep_going` otherwise (including a failed non-critical gate, which holds
///   the rollout for a human instead of rolling it back).
///
/// Example (default_policy() is in default_policy.hpp):
/// \code
///   const canarygate::policy p(canarygate::default_policy());
///   canarygate::policy_state state;                  // carried by the controller
///   auto report = p.evaluate(state, recorder_totals, /*candidate_share=*/0.10);
///   if (report.decision == canarygate::verdict::fail) roll_back(report.summary);
/// \endcode
#pragma once

#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/gates/gate.hpp"
#include "canarygate/gates/gate_common.hpp"
#include "canarygate/gates/verdict.hpp"
#include "canarygate/stats/srm.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

struct policy_config {
    std::vector<gate> gates;
    /// Probability of a false roll-back over the whole rollout.
    double alpha_fail = 0.05;
    /// Level of each gate's pass decision and interval.
    double alpha_pass = 0.05;
    /// Level of the sample-ratio-mismatch check, per stage.
    double srm_alpha = 0.001;
    /// Dirichlet concentration of the SRM Bayes factor (Lindon & Malek).
    double srm_concentration = 100.0;
    std::string baseline_arm = "baseline";
    std::string candidate_arm = "candidate";
    gate_tuning tuning;

    /// Throws std::invalid_argument naming the field and its value. (Every
    /// gate validated itself when it was constructed.)
    void validate() const {
        constexpr std::string_view where = "canarygate::policy_config";
        if (gates.empty())
            detail::throw_bad_field(where, "gates.size()", gates.size(), "must be at least 1");
        if (!(alpha_fail > 0.0 && alpha_fail < 1.0))
            detail::throw_bad_field(where, "alpha_fail", alpha_fail, "must be in (0, 1)");
        if (!(alpha_pass > 0.0 && alpha_pass < 0.5))
            detail::throw_bad_field(where, "alpha_pass", alpha_pass, "must be in (0, 0.5)");
        if (!(srm_alpha > 0.0 && srm_alpha < 1.0))
            detail::throw_bad_field(where, "srm_alpha", srm_alpha, "must be in (0, 1)");
        if (!(srm_concentration > 0.0) || std::isinf(srm_concentration)) {
            detail::throw_bad_field(where, "srm_concentration", srm_concentration,
                                    "must be positive and finite");
        }
        tuning.validate(where);
        for (std::size_t i = 0; i < gates.size(); ++i) {
            for (std::size_t j = 0; j < i; ++j) {
                if (gates[i].name() == gates[j].name()) {
                    detail::throw_invalid_argument(
                        "canarygate::policy_config: gates[" + std::to_string(j) + "] and gates[" +
                        std::to_string(i) + "] are both named '" + gates[i].name() +
                        "'; names key reports and must be unique (set gate_common::name)");
                }
            }
        }
        if (baseline_arm.empty() || candidate_arm.empty() || baseline_arm == candidate_arm) {
            detail::throw_invalid_argument("canarygate::policy_config: baseline_arm '" +
                                           baseline_arm + "' and candidate_arm '" + candidate_arm +
                                           "' must be non-empty and different");
        }
    }
};

/// The sample-ratio check's evidence for the current stage.
struct srm_evidence {
    double configured_share = 0.0;
    double observed_share = std::numeric_limits<double>::quiet_NaN();
    std::uint64_t candidate_requests = 0;
    std::uint64_t baseline_requests = 0;
    double log_bayes_factor = 0.0;
    double log_threshold = 0.0;
    bool mismatch = false;
};

struct policy_report {
    verdict decision = verdict::keep_going;
    std::vector<gate_result> gates;
    srm_evidence srm;
    /// Things a human should know that do not change the decision.
    std::vector<std::string> warnings;
    /// One paragraph: the decision and the gate(s) behind it.
    std::string summary;
    std::uint64_t check = 0;

    /// The result of the gate named `name`, or nullptr.
    [[nodiscard]] const gate_result* find(std::string_view name) const noexcept {
        for (const auto& g : gates) {
            if (g.name == name) return &g;
        }
        return nullptr;
    }
};

/// What a policy has accumulated over one rollout: the gates' evidence, the
/// last cumulative snapshot seen, and the current stage's split counts.
/// Copyable plain data; the controller persists it between checks.
struct policy_state {
    std::vector<gate_state> gates;  // one per gate, of the gate's kind
    std::optional<snapshot> previous_totals;
    double stage_share = -1.0;
    std::uint64_t stage_candidate_requests = 0;
    std::uint64_t stage_baseline_requests = 0;
    std::uint64_t checks = 0;
};

class policy {
public:
    /// Validates the configuration (std::invalid_argument names the field).
    explicit policy(policy_config config) : config_(std::move(config)) {
        config_.validate();
        double total_weight = 0;
        for (const auto& g : config_.gates) total_weight += g.budget_weight();
        for (const auto& g : config_.gates)
            gate_alpha_.push_back(config_.alpha_fail * g.budget_weight() / total_weight);
    }

    [[nodiscard]] const policy_config& config() const noexcept { return config_; }
    /// Each gate's share of alpha_fail (Bonferroni by budget_weight).
    [[nodiscard]] const std::vector<double>& gate_alpha() const noexcept { return gate_alpha_; }

    /// Judges a cumulative snapshot (e.g. the recorder's totals since start):
    /// the increment since the previous call is fed to every gate.
    /// `candidate_share`: the configured share of traffic the candidate gets
    /// now (a change starts a new stage for the sample-ratio check).
    /// `at_max_duration`: the controller's stage clock ran out.
    ///
    /// A cumulative snapshot smaller than the previous one (a restarted
    /// recorder) yields `invalid` with the reason, and becomes the new base.
    ///
    /// Throws std::invalid_argument, leaving `state` as it was, for a share
    /// outside (0, 1) or an increment a gate cannot take (see
    /// evaluate_increment).
    policy_report evaluate(policy_state& state, const snapshot& cumulative, double candidate_share,
                           bool at_max_duration = false) const {
        require_share(candidate_share);
        snapshot increment = cumulative;
        if (state.previous_totals) {
            if (const auto why = increment.try_subtract(*state.previous_totals)) {
                state.previous_totals = cumulative;
                policy_report report;
                report.decision = verdict::invalid;
                report.check = ++state.checks;
                report.summary =
                    "invalid: the cumulative snapshot is not a continuation of the previous one "
                    "(recorder restarted?): canarygate::snapshot::subtract: " +
                    *why;
                return report;
            }
        }
        policy_report report =
            evaluate_increment(state, increment, candidate_share, at_max_duration);
        // Only now: an increment that was refused must be offered again.
        state.previous_totals = cumulative;
        return report;
    }

    /// Judges one increment (the traffic since the previous check).
    ///
    /// Throws std::invalid_argument, leaving `state` as it was, for a share
    /// outside (0, 1) or an increment a gate cannot take: a batch-mode or
    /// delay-weighted gate needs the increment's end time and it must not go
    /// back; a quantile or shape gate needs histograms of one range in both
    /// arms and over time.
    policy_report evaluate_increment(policy_state& state, const snapshot& increment,
                                     double candidate_share, bool at_max_duration = false) const {
        require_share(candidate_share);
        const arm_snapshot empty_base(config_.baseline_arm, "");
        const arm_snapshot empty_cand(config_.candidate_arm, "");
        const arm_snapshot* base = increment.find_arm(config_.baseline_arm);
        const arm_snapshot* cand = increment.find_arm(config_.candidate_arm);
        std::vector<gate_state> fresh;
        if (state.gates.size() != config_.gates.size()) {
            for (const auto& g : config_.gates) fresh.push_back(g.make_state());
        }
        const std::vector<gate_state>& gate_states = fresh.empty() ? state.gates : fresh;
        // Every gate is asked before any state changes.
        for (std::size_t i = 0; i < config_.gates.size(); ++i) {
            config_.gates[i].check_increment(gate_states[i], base != nullptr ? *base : empty_base,
                                             cand != nullptr ? *cand : empty_cand,
                                             increment.window_end_ns());
        }
        if (!fresh.empty()) state.gates = std::move(fresh);
        policy_report report;
        report.check = ++state.checks;
        if (base == nullptr) {
            base = &empty_base;
            report.warnings.push_back("no '" + config_.baseline_arm + "' arm in this increment");
        }
        if (cand == nullptr) {
            cand = &empty_cand;
            report.warnings.push_back("no '" + config_.candidate_arm + "' arm in this increment");
        }

        // Sample-ratio mismatch, per stage.
        if (candidate_share != state.stage_share) {
            state.stage_share = candidate_share;
            state.stage_candidate_requests = 0;
            state.stage_baseline_requests = 0;
        }
        state.stage_candidate_requests += cand->counter(series::requests).low;
        state.stage_baseline_requests += base->counter(series::requests).low;
        srm_evidence& srm = report.srm;
        srm.configured_share = candidate_share;
        srm.candidate_requests = state.stage_candidate_requests;
        srm.baseline_requests = state.stage_baseline_requests;
        const std::uint64_t n = srm.candidate_requests + srm.baseline_requests;
        if (n > 0)
            srm.observed_share =
                static_cast<double>(srm.candidate_requests) / static_cast<double>(n);
        srm.log_bayes_factor =
            stats::srm_log_bayes_factor(srm.candidate_requests, srm.baseline_requests,
                                        candidate_share, config_.srm_concentration);
        srm.log_threshold = std::log(1.0 / config_.srm_alpha);
        srm.mismatch = srm.log_bayes_factor >= srm.log_threshold;

        // Every gate sees every increment, whatever the others decide, so
        // the evidence stays complete.
        bool critical_fail = false;
        bool advisory_fail = false;
        bool all_pass = true;
        for (std::size_t i = 0; i < config_.gates.size(); ++i) {
            gate_result r = config_.gates[i].evaluate(state.gates[i], *base, *cand, gate_alpha_[i],
                                                      config_.alpha_pass, config_.tuning,
                                                      increment.window_end_ns());
            critical_fail = critical_fail || (r.decision == verdict::fail && r.critical);
            advisory_fail = advisory_fail || (r.decision == verdict::fail && !r.critical);
            all_pass = all_pass && r.decision == verdict::pass;
            report.gates.push_back(std::move(r));
        }

        std::string failed;
        for (const auto& r : report.gates) {
            if (r.decision == verdict::fail) failed += (failed.empty() ? "" : "; ") + r.reason;
        }
        if (srm.mismatch) {
            report.decision = verdict::invalid;
            char buf[192];
            std::snprintf(
                buf, sizeof buf,
                "invalid: sample-ratio mismatch, candidate got %.4f of traffic, configured %.4f "
                "(%" PRIu64 " candidate / %" PRIu64 " baseline requests this stage)",
                srm.observed_share, candidate_share, srm.candidate_requests, srm.baseline_requests);
            report.summary = buf;
            if (!failed.empty()) report.warnings.push_back("gates that would fail: " + failed);
        } else if (critical_fail) {
            report.decision = verdict::fail;
            report.summary = "fail: " + failed;
        } else if (advisory_fail) {
            report.decision = verdict::keep_going;
            report.summary = "keep_going (hold for a human): non-critical gate failed: " + failed;
        } else if (all_pass) {
            report.decision = verdict::pass;
            report.summary = "pass: every gate's bound is within its limit";
        } else if (at_max_duration) {
            report.decision = verdict::no_regression_detected;
            report.summary =
                "no regression detected at the stage's maximum duration (weaker than pass: "
                "undecided gates: " +
                undecided(report) + ")";
        } else {
            report.decision = verdict::keep_going;
            report.summary = "keep_going: undecided gates: " + undecided(report);
        }
        return report;
    }

    /// Warnings for gates whose multiplier sits at or below the noise floor
    /// measured by A/A calibration (`noise_floor[i]` for gate i: the 99th
    /// percentile of the end-of-canary ratio between identical versions;
    /// NaN = not measured). Such a gate asks a question the system cannot
    /// answer; k is never inflated silently.
    [[nodiscard]] std::vector<std::string> noise_floor_warnings(
        const std::vector<double>& noise_floor) const {
        std::vector<std::string> warnings;
        for (std::size_t i = 0; i < config_.gates.size() && i < noise_floor.size(); ++i) {
            const auto& g = config_.gates[i];
            const std::optional<double> k = g.tested_limit();
            if (std::isnan(noise_floor[i]) || !k) continue;
            if (*k <= noise_floor[i]) {
                warnings.push_back(g.name() + ": multiplier " + detail::format_ratio(*k) +
                                   " is at or below the measured noise floor NF99 = " +
                                   detail::format_ratio(noise_floor[i]) +
                                   "; identical versions reach it, so a fail would be noise");
            }
        }
        return warnings;
    }

private:
    static void require_share(double candidate_share) {
        if (!(candidate_share > 0.0 && candidate_share < 1.0)) {
            detail::throw_bad_field("canarygate::policy::evaluate", "candidate_share",
                                    candidate_share, "must be in (0, 1)");
        }
    }

    static std::string undecided(const policy_report& report) {
        std::string names;
        for (const auto& r : report.gates) {
            if (r.decision != verdict::pass) names += (names.empty() ? "" : ", ") + r.name;
        }
        return names;
    }

    policy_config config_;
    std::vector<double> gate_alpha_;
};

CANARYGATE_NAMESPACE_END
