// SPDX-License-Identifier: MIT
/// \file
/// The policy testing kit: unit-test a rollout policy the way the question
/// is asked — "with our traffic, does a +60 % cost regression halt by the
/// 10 % stage in at least 95 % of seeds, and does a good candidate still
/// reach 100 %?" — on a simulated clock, through the real router, recorder,
/// collector and controller (testing/simulation.hpp), against generated
/// traffic or a replayed request log (testing/replay.hpp).
///
/// A claim about a rate is decided by its Clopper–Pearson bounds, never by
/// a point estimate: it PASSES when the seeds show the claim (one-sided
/// bound beyond the threshold), FAILS as refuted when they show the
/// opposite, and FAILS as undecided when the seeds cannot tell — a policy
/// sitting on its own threshold. By default a claim runs the fewest seeds
/// that could show it, and four times as many if those were not enough,
/// spending half of the error budget on each look: a claim that is false
/// passes with probability at most 1 − confidence (5 %), and so does a true
/// claim get refuted. The seeds are fixed (a test is reproducible); the
/// guarantee is over the choice of seeds, which no lucky pick can beat.
///
/// Every result carries a report that explains it — the claim, the count,
/// the bounds, how the seeds ended, and for a failure the trace of a seed
/// where the claim did not hold: which gate, what evidence, at which stage,
/// at what time. The doctest and Catch2 adapters print it
/// (canarygate/testing/doctest.hpp, canarygate/testing/catch2.hpp).
///
/// Example:
/// \code
///   namespace kit = canarygate::testkit;
///   kit::rollout_test test(my_rollout());                 // controller_config
///   test.requests_per_minute(600).inject({.cost = 1.6});
///   const kit::claim_result r = test.expect(kit::halts_by("canary 10 %")).in_at_least(0.95);
///   if (!r) std::fputs(r.report.c_str(), stderr);
/// \endcode
#pragma once

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "canarygate/core/clock.hpp"
#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/mix.hpp"
#include "canarygate/rollout/controller.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/testing/replay.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/testing/simulation.hpp"
#include "canarygate/testing/simulation_suite.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace testkit {

/// A stage of the rollout under test, by its display name
/// (controller_config::stage_name: "shadow 20 %", "canary 10 %", or the
/// stage's own name) or by its index.
using stage_ref = std::variant<std::string, std::size_t>;

/// What must hold for one simulated rollout.
struct outcome_check {
    /// Reads like the question: "halts by canary 10 %".
    std::string description;
    std::function<bool(const simulation_result&, const controller_config&)> holds;
};

namespace detail {

/// The index of a stage; std::invalid_argument listing the stages if none
/// has that name.
inline std::size_t resolve(const stage_ref& ref, const controller_config& rollout) {
    std::string known;
    for (std::size_t i = 0; i < rollout.stages.size(); ++i) {
        if (const auto* index = std::get_if<std::size_t>(&ref)) {
            if (*index == i) return i;
        } else if (rollout.stage_name(i) == std::get<std::string>(ref)) {
            return i;
        }
        known += (i == 0 ? "\"" : ", \"") + rollout.stage_name(i) + "\"";
    }
    const std::string asked = std::holds_alternative<std::string>(ref)
                                  ? "\"" + std::get<std::string>(ref) + "\""
                                  : std::to_string(std::get<std::size_t>(ref));
    canarygate::detail::throw_invalid_argument("canarygate::testkit: the rollout has no stage " +
                                               asked + "; its stages are " + known);
}

inline std::string describe(const stage_ref& ref) {
    if (const auto* name = std::get_if<std::string>(&ref)) return *name;
    return "stage " + std::to_string(std::get<std::size_t>(ref));
}

/// "1 h 35 min", "35 min", "20 s".
inline std::string duration(std::int64_t ns) {
    char text[48];
    const double minutes = static_cast<double>(ns) / static_cast<double>(minute_ns);
    if (minutes < 1.0) {
        std::snprintf(text, sizeof text, "%.0f s", static_cast<double>(ns) / 1e9);
    } else if (minutes < 60.0) {
        std::snprintf(text, sizeof text, "%.0f min", minutes);
    } else {
        const auto whole = static_cast<std::int64_t>(std::llround(minutes));
        std::snprintf(text, sizeof text, "%" PRId64 " h %02" PRId64 " min", whole / 60, whole % 60);
    }
    return text;
}

/// "2:05": hours and minutes, for tables.
inline std::string clock_time(std::int64_t ns) {
    const auto minutes = static_cast<std::int64_t>(
        std::llround(static_cast<double>(ns) / static_cast<double>(minute_ns)));
    char text[32];
    std::snprintf(text, sizeof text, "%" PRId64 ":%02" PRId64, minutes / 60, minutes % 60);
    return text;
}

/// The users the candidate served before its rollout was halted or rolled
/// back (or, if neither, in the whole run).
inline std::uint64_t exposed(const simulation_result& r) {
    if (r.outcome == simulation_outcome::held && r.halted_at_ns >= 0)
        return r.candidate_requests_at_halt;
    return r.candidate_requests;
}

/// A gate of the policy that judges a stage of this kind, by name: its
/// signal and its multiplier (the limit on the candidate/baseline ratio;
/// none for the shape gate).
struct gate_facts {
    signal metric = signal::latency;
    std::optional<double> limit;
};

inline std::optional<gate_facts> find_gate(const controller_config& rollout, stage_kind kind,
                                           const std::string& name) {
    const policy_config& policy = kind == stage_kind::shadow && rollout.shadow_policy
                                      ? *rollout.shadow_policy
                                      : rollout.policy;
    for (const gate& g : policy.gates) {
        if (g.name() != name) continue;
        return gate_facts{g.metric(),
                          std::visit(
                              [](const auto& of_kind) -> std::optional<double> {
                                  if constexpr (requires { of_kind.config().multiplier; }) {
                                      return of_kind.config().multiplier;
                                  } else {
                                      return std::nullopt;
                                  }
                              },
                              g.kind())};
    }
    return std::nullopt;
}

}  // namespace detail

/// Rolled back at or before the stage, or held there by a failing gate or
/// the sample-ratio alarm (a halt a human resolves): the candidate's share
/// stopped growing by then.
[[nodiscard]] inline outcome_check halts_by(stage_ref stage) {
    const std::string text = "halts by " + detail::describe(stage);
    return {text, [stage](const simulation_result& r, const controller_config& c) {
                const std::size_t s = detail::resolve(stage, c);
                if (r.outcome == simulation_outcome::rolled_back) return r.stage <= s;
                return r.outcome == simulation_outcome::held && r.halted_at_ns >= 0 && r.stage <= s;
            }};
}

/// Rolled back at or before the stage.
[[nodiscard]] inline outcome_check rolls_back_by(stage_ref stage) {
    const std::string text = "is rolled back by " + detail::describe(stage);
    return {text, [stage](const simulation_result& r, const controller_config& c) {
                return r.outcome == simulation_outcome::rolled_back &&
                       r.stage <= detail::resolve(stage, c);
            }};
}

/// Rolled back, at any stage.
[[nodiscard]] inline outcome_check rolls_back() {
    return {"is rolled back",
            [](const simulation_result& r, const controller_config&) { return r.rolled_back(); }};
}

/// Reaches 100 % before the test's horizon.
[[nodiscard]] inline outcome_check completes() {
    return {"reaches 100 %",
            [](const simulation_result& r, const controller_config&) { return r.completed(); }};
}

/// Reaches 100 % within this time of the rollout's start.
[[nodiscard]] inline outcome_check completes_within(std::int64_t ns) {
    return {"reaches 100 % within " + detail::duration(ns),
            [ns](const simulation_result& r, const controller_config&) {
                return r.completed() && r.decided_at_ns <= ns;
            }};
}

/// The candidate served at most this many user requests before it was
/// halted or rolled back (shadow copies are not shown to users and do not
/// count).
[[nodiscard]] inline outcome_check exposes_at_most(std::uint64_t requests) {
    return {"exposes at most " + std::to_string(requests) + " user requests",
            [requests](const simulation_result& r, const controller_config&) {
                return !r.completed() && detail::exposed(r) <= requests;
            }};
}

/// The gate (by its name in the policy: "cost", "latency_p99", ...) is among
/// those that rolled the candidate back or hold it.
[[nodiscard]] inline outcome_check caught_by(std::string gate) {
    return {"is caught by " + gate, [gate](const simulation_result& r, const controller_config&) {
                const auto named = [&](const std::vector<std::string>& v) {
                    return std::find(v.begin(), v.end(), gate) != v.end();
                };
                return (r.rolled_back() && named(r.triggers)) ||
                       (r.outcome == simulation_outcome::held && named(r.holding_gates));
            }};
}

[[nodiscard]] inline outcome_check operator&&(outcome_check a, outcome_check b) {
    return {
        a.description + " and " + b.description,
        [a = std::move(a.holds), b = std::move(b.holds)](
            const simulation_result& r, const controller_config& c) { return a(r, c) && b(r, c); }};
}

[[nodiscard]] inline outcome_check operator||(outcome_check a, outcome_check b) {
    return {
        a.description + " or " + b.description,
        [a = std::move(a.holds), b = std::move(b.holds)](
            const simulation_result& r, const controller_config& c) { return a(r, c) || b(r, c); }};
}

[[nodiscard]] inline outcome_check operator!(outcome_check a) {
    return {"not (" + a.description + ")",
            [a = std::move(a.holds)](const simulation_result& r, const controller_config& c) {
                return !a(r, c);
            }};
}

/// What a simulated rollout did, for a person: how it ended, when, where,
/// which gates decided and on what evidence, how many users it exposed, and
/// (if the trace was kept) its stages over time with, in each, the gate that
/// came closest to failing — among the gates on the signals `injected`
/// moves, if given.
[[nodiscard]] inline std::string explain(const simulation_result& r,
                                         const controller_config& rollout,
                                         const regression* injected = nullptr) {
    std::string out;
    char line[512];
    const auto when = [](std::int64_t t) { return detail::duration(t); };
    switch (r.outcome) {
        case simulation_outcome::completed:
            std::snprintf(line, sizeof line, "reached 100 %% after %s",
                          when(r.decided_at_ns).c_str());
            out += line;
            break;
        case simulation_outcome::rolled_back:
            std::snprintf(line, sizeof line, "rolled back at %s after %s, by %s",
                          r.stage_name.c_str(), when(r.decided_at_ns).c_str(),
                          r.triggers.empty() ? "?" : r.triggers.front().c_str());
            out += line;
            for (std::size_t i = 1; i < r.triggers.size(); ++i) out += " and " + r.triggers[i];
            break;
        case simulation_outcome::held:
            if (r.halted_at_ns >= 0) {
                std::snprintf(line, sizeof line, "halted at %s since %s (held for a person)",
                              r.stage_name.c_str(), when(r.halted_at_ns).c_str());
            } else {
                std::snprintf(line, sizeof line, "still at %s when the run ended",
                              r.stage_name.c_str());
            }
            out += line;
            break;
    }
    std::snprintf(
        line, sizeof line,
        "\n  users exposed: the candidate served %" PRIu64 " requests before %s\n",
        detail::exposed(r),
        r.outcome == simulation_outcome::held && r.halted_at_ns < 0 ? "the end" : "the decision");
    out += line;
    for (const std::string& reason : r.reasons) out += "  because: " + reason + "\n";
    if (r.first_alarm_ns >= 0)
        out += "  sample-ratio alarm first raised after " + when(r.first_alarm_ns) + "\n";
    if (r.steps.empty()) return out;

    // Stages over time, and per stage the gate that came closest to
    // failing: by its evidence (ln E against its fail threshold), and among
    // gates without evidence against the candidate, by its ratio estimate
    // against its limit. With a regression injected, only the gates on the
    // signals it moves compete: the ones the reader asks about.
    bool any_injected = false;
    if (injected != nullptr) {
        std::string moved;
        const auto add = [&](std::string_view what, double f) {
            if (f == 1.0) return;
            char item[64];
            std::snprintf(item, sizeof item, "%s%.*s x %.3g", moved.empty() ? "" : ", ",
                          static_cast<int>(what.size()), what.data(), f);
            moved += item;
            any_injected = true;
        };
        add("latency", injected->latency);
        add("latency tail", injected->latency_tail);
        add("cost", injected->cost);
        add("error rate", injected->error);
        add("refusal rate", injected->refusal);
        add("output length", injected->output_length);
        add("thumbs-down rate", injected->thumbs_down);
        if (any_injected) out += "  injected into the candidate: " + moved + "\n";
    }
    struct stage_run {
        std::size_t stage;
        std::int64_t from, to;
        std::size_t gate = static_cast<std::size_t>(-1);
        double evidence = -1.0, closeness = -1.0, log_e = 0, threshold = 0, estimate = 0;
        std::optional<double> limit = std::nullopt;
    };
    std::vector<stage_run> runs;
    std::int64_t previous = 0;
    for (const simulation_step& s : r.steps) {
        if (runs.empty() || runs.back().stage != s.stage)
            runs.push_back({s.stage, previous, s.at_ns});
        stage_run& run = runs.back();
        run.to = s.at_ns;
        for (const gate_point& g : s.gates) {
            if (!std::isfinite(g.log_e_value) || g.log_fail_threshold <= 0 ||
                g.gate >= r.gate_names.size())
                continue;
            const auto facts = detail::find_gate(rollout, s.kind, r.gate_names[g.gate]);
            if (any_injected && (!facts || factor_on(*injected, facts->metric) == 1.0)) continue;
            const std::optional<double> limit = facts ? facts->limit : std::nullopt;
            const double evidence = std::max(g.log_e_value, 0.0) / g.log_fail_threshold;
            const double closeness = limit && std::isfinite(g.estimate) ? g.estimate / *limit : 0.0;
            if (evidence > run.evidence ||
                (evidence == run.evidence && closeness > run.closeness)) {
                run.evidence = evidence;
                run.closeness = closeness;
                run.gate = g.gate;
                run.log_e = g.log_e_value;
                run.threshold = g.log_fail_threshold;
                run.estimate = g.estimate;
                run.limit = limit;
            }
        }
        previous = s.at_ns;
    }
    out +=
        "  stages (h:mm from the start); in each, the gate closest to failing:\n"
        "  its ln E / fail threshold, its ratio estimate (limit: its multiplier)\n";
    for (const stage_run& run : runs) {
        std::snprintf(line, sizeof line, "    %-13s %5s-%-5s",
                      rollout.stage_name(run.stage).c_str(), detail::clock_time(run.from).c_str(),
                      detail::clock_time(run.to).c_str());
        out += line;
        if (run.gate < r.gate_names.size()) {
            std::snprintf(line, sizeof line, "  %s ln E %.2f/%.2f, ratio %.3g",
                          r.gate_names[run.gate].c_str(), run.log_e, run.threshold, run.estimate);
            out += line;
            if (run.limit) {
                std::snprintf(line, sizeof line, " (limit %.3g)", *run.limit);
                out += line;
            }
        }
        out += "\n";
    }
    return out;
}

/// The answer to a claim: passed or not, and a report that says why.
struct claim_result {
    bool passed = false;
    /// "halts by canary 10 % in at least 95 % of seeds"
    std::string claim;
    /// How the seeds ended, the bounds, and for a failure the trace of a
    /// seed where the outcome check did not hold.
    std::string report;
    std::uint64_t holds = 0;  ///< seeds where the outcome check held
    std::uint64_t seeds = 0;  ///< seeds run
    explicit operator bool() const noexcept { return passed; }
};

class expectation;

/// A rollout under test: the rollout (stages, policies, digests), both
/// arms' traffic and the regression injected into the candidate. Defaults:
/// 600 requests per minute of the testkit's default response model, no
/// regression, a check every 5 minutes, 24 hours at most, 0.95 confidence.
class rollout_test {
public:
    /// Validates the rollout (std::invalid_argument names the field), as
    /// every setter validates its value. Empty digests get placeholders (a
    /// test has no real models).
    explicit rollout_test(controller_config rollout) {
        if (rollout.baseline_digest.empty())
            rollout.baseline_digest = "sha256:" + std::string(64, 'a');
        if (rollout.candidate_digest.empty())
            rollout.candidate_digest = "sha256:" + std::string(64, 'b');
        rollout.validate();
        config_.rollout = std::move(rollout);
    }

    /// All arms' requests per minute (generated traffic).
    rollout_test& requests_per_minute(double rpm) {
        return change([&](simulation_config& c) { c.traffic.traffic.requests_per_minute = rpm; });
    }
    /// How both models behave before any regression (generated traffic).
    rollout_test& responses(const response_model& model) {
        return change([&](simulation_config& c) { c.traffic.model = model; });
    }
    /// The candidate's regression: each field a candidate/baseline ratio.
    rollout_test& inject(const regression& r) {
        return change([&](simulation_config& c) { c.traffic.candidate_regression = r; });
    }
    /// Candidate-only noise that changes every 5 minutes (log-normal sd).
    rollout_test& candidate_noise(double sd) {
        return change([&](simulation_config& c) { c.traffic.candidate_window_noise = sd; });
    }
    /// Replays a request log instead of generated traffic (testing/
    /// replay.hpp); inject() then acts on its candidate's responses.
    rollout_test& replay(const loaded_log& log) {
        return change([&](simulation_config& c) { c.traffic.recorded = log.traffic; });
    }
    rollout_test& check_every(std::int64_t ns) {
        return change([&](simulation_config& c) { c.check_interval_ns = ns; });
    }
    /// The run stops here if the rollout has not ended (outcome held).
    rollout_test& run_for_at_most(std::int64_t ns) {
        return change([&](simulation_config& c) { c.horizon_ns = ns; });
    }
    /// The confidence of rate claims, in (0.5, 1): 1 − the chance that a
    /// claim's verdict is wrong (each way).
    rollout_test& confidence(double c) {
        if (!(c > 0.5 && c < 1.0))
            canarygate::detail::throw_bad_field("canarygate::testkit::rollout_test", "confidence",
                                                c, "must be in (0.5, 1)");
        confidence_ = c;
        return *this;
    }
    /// Threads for seed sweeps (0: one per core).
    rollout_test& threads(std::size_t n) {
        threads_ = n;
        return *this;
    }
    /// Everything else (routing, the naive judge, regression changes over
    /// time, a routing fault): the simulator's configuration.
    [[nodiscard]] simulation_config& config() noexcept { return config_; }
    [[nodiscard]] const simulation_config& config() const noexcept { return config_; }
    [[nodiscard]] double confidence() const noexcept { return confidence_; }
    [[nodiscard]] std::size_t threads() const noexcept { return threads_; }

    /// One rollout, with its trace (explain() reads it).
    [[nodiscard]] simulation_result run(std::uint64_t seed) const {
        return simulate(config_, seed);
    }

    /// The i-th seed of this test's claims: fixed, so a test is reproducible.
    [[nodiscard]] static std::uint64_t seed(std::size_t i) noexcept {
        return mix64(0x7e57'5eed + static_cast<std::uint64_t>(i));
    }

    /// The check, waiting for its quantifier (in_at_least, in_at_most, on_seed).
    [[nodiscard]] expectation expect(outcome_check check) const;

private:
    /// Applies `edit` to a copy and keeps it only if it validates: a bad
    /// value throws std::invalid_argument naming the field, and the test is
    /// unchanged.
    template <class Edit>
    rollout_test& change(Edit edit) {
        simulation_config changed = config_;
        edit(changed);
        changed.validate();
        config_ = std::move(changed);
        return *this;
    }

    simulation_config config_;
    double confidence_ = 0.95;
    std::size_t threads_ = 0;
};

/// An outcome check bound to a rollout test, waiting for its quantifier.
class expectation {
public:
    expectation(rollout_test test, outcome_check check)
        : test_(std::move(test)), check_(std::move(check)) {}

    /// Holds in at least `share` of seeds (0 < share < 1). `seeds` = 0: the
    /// default sequential plan (see the file comment); otherwise exactly
    /// that many seeds, one look.
    [[nodiscard]] claim_result in_at_least(double share, std::size_t seeds = 0) const;
    /// Holds in at most `share` of seeds (0 < share < 1): "rolls back a good
    /// candidate in at most 5 %".
    [[nodiscard]] claim_result in_at_most(double share, std::size_t seeds = 0) const;
    /// Holds on this one seed; the report is the seed's trace. For stepping
    /// through one rollout, not for claims about a policy.
    [[nodiscard]] claim_result on_seed(std::uint64_t seed) const;

private:
    [[nodiscard]] claim_result rate(double share, bool at_least, std::size_t seeds) const;

    rollout_test test_;  // a copy: an expectation may outlive the test it came from
    outcome_check check_;
};

inline expectation rollout_test::expect(outcome_check check) const {
    return {*this, std::move(check)};
}

namespace detail {

/// Seeds a one-look claim needs to be shown when every seed agrees: the
/// smallest n with bound^n <= level (bound = the share for "at least", 1 −
/// share for "at most"); at least 20.
inline std::size_t seeds_to_show(double share, bool at_least, double level) {
    const double q = at_least ? share : 1.0 - share;
    const double n = std::ceil(std::log(level) / std::log(q) - 1e-9);
    return std::max<std::size_t>(20, static_cast<std::size_t>(n));
}

/// A rate claim's verdict after its looks.
struct rate_decision {
    enum class kind : std::uint8_t { shown, refuted, undecided };
    kind verdict = kind::undecided;
    std::uint64_t holds = 0;  ///< seeds where the outcome check held
    std::uint64_t runs = 0;   ///< seeds run
    double lower = 0.0;       ///< one-sided Clopper-Pearson bounds at `level`
    double upper = 1.0;
    double level = 0.0;     ///< the error spent per look and side
    std::size_t first = 0;  ///< seeds of the first look
};

/// The decision behind in_at_least / in_at_most. `seeds` = 0: the
/// sequential plan — n seeds (seeds_to_show at alpha / 2), then 4 n in all
/// if undecided, each look spending alpha / 2 (Bonferroni over the two
/// looks); otherwise exactly `seeds`, one look at alpha. At each look the
/// claim is shown if its one-sided Clopper-Pearson bound at that level is
/// beyond the share, refuted if the other bound is short of it. So a false
/// claim is shown, and a true one refuted, each with probability at most
/// alpha. `run(n)` runs n more seeds and returns in how many the outcome
/// check held.
template <class Run>
rate_decision decide_rate(double share, bool at_least, std::size_t seeds, double alpha, Run&& run) {
    rate_decision d;
    const std::size_t looks = seeds == 0 ? 2 : 1;
    d.level = alpha / static_cast<double>(looks);
    d.first = seeds == 0 ? seeds_to_show(share, at_least, d.level) : seeds;
    for (std::size_t look = 0; look < looks; ++look) {
        const std::size_t target = look == 0 ? d.first : 4 * d.first;
        d.holds += run(target - static_cast<std::size_t>(d.runs));
        d.runs = target;
        // One-sided bounds at `level`: the two-sided interval at 2 level.
        const auto ci = stats::clopper_pearson_interval(d.holds, d.runs, 2 * d.level);
        d.lower = ci.lower;
        d.upper = ci.upper;
        const bool shown = at_least ? d.lower >= share : d.upper <= share;
        const bool refuted = at_least ? d.upper < share : d.lower > share;
        d.verdict = shown     ? rate_decision::kind::shown
                    : refuted ? rate_decision::kind::refuted
                              : rate_decision::kind::undecided;
        if (d.verdict != rate_decision::kind::undecided) break;
    }
    return d;
}

inline std::string percent(double x) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g %%", 100.0 * x);
    return text;
}

}  // namespace detail

inline claim_result expectation::on_seed(std::uint64_t seed) const {
    const simulation_result r = test_.run(seed);
    claim_result out;
    out.holds = check_.holds(r, test_.config().rollout) ? 1 : 0;
    out.seeds = 1;
    out.passed = out.holds == 1;
    out.claim = check_.description + " on seed " + std::to_string(seed);
    out.report = out.claim + ": " + (out.passed ? "holds" : "DOES NOT HOLD") + "\n" +
                 explain(r, test_.config().rollout, &test_.config().traffic.candidate_regression);
    return out;
}

inline claim_result expectation::in_at_least(double share, std::size_t seeds) const {
    return rate(share, true, seeds);
}

inline claim_result expectation::in_at_most(double share, std::size_t seeds) const {
    return rate(share, false, seeds);
}

inline claim_result expectation::rate(double share, bool at_least, std::size_t seeds) const {
    constexpr std::string_view where = "canarygate::testkit::expectation";
    if (!(share > 0.0 && share < 1.0))
        canarygate::detail::throw_bad_field(
            where, at_least ? "in_at_least(share)" : "in_at_most(share)", share,
            "must be in (0, 1): a rate of exactly 0 or 1 can never be shown by finitely many "
            "seeds");
    const controller_config& rollout = test_.config().rollout;
    // Resolve stage names now: a typo is an error, not a failed claim.
    (void)check_.holds(simulation_result{}, rollout);

    claim_result out;
    char text[640];
    std::snprintf(text, sizeof text, "%s in at %s %s of seeds", check_.description.c_str(),
                  at_least ? "least" : "most", detail::percent(share).c_str());
    out.claim = text;

    std::vector<simulation_result> results;
    std::vector<std::uint64_t> seed_list;
    std::vector<char> held;
    const detail::rate_decision decision = detail::decide_rate(
        share, at_least, seeds, 1.0 - test_.confidence(), [&](std::size_t more) {
            std::vector<std::uint64_t> batch_seeds;
            for (std::size_t i = 0; i < more; ++i)
                batch_seeds.push_back(rollout_test::seed(seed_list.size() + i));
            auto batch = simulate_seeds(test_.config(), batch_seeds, test_.threads());
            std::uint64_t holds = 0;
            for (std::size_t i = 0; i < batch.size(); ++i) {
                const bool h = check_.holds(batch[i], rollout);
                holds += h ? 1 : 0;
                held.push_back(h ? 1 : 0);
                seed_list.push_back(batch_seeds[i]);
                results.push_back(std::move(batch[i]));
            }
            return holds;
        });
    using verdict_kind = detail::rate_decision::kind;
    const verdict_kind verdict = decision.verdict;
    const double lower = decision.lower, upper = decision.upper, level = decision.level;
    const std::size_t first = decision.first;
    out.holds = decision.holds;
    out.seeds = decision.runs;
    out.passed = verdict == verdict_kind::shown;

    std::string& rep = out.report;
    const double observed = static_cast<double>(out.holds) / static_cast<double>(out.seeds);
    std::snprintf(text, sizeof text, "%s: %s\n  held in %" PRIu64 " of %" PRIu64 " seeds (%s)\n",
                  out.claim.c_str(),
                  verdict == verdict_kind::shown     ? "SHOWN"
                  : verdict == verdict_kind::refuted ? "REFUTED"
                                                     : "NOT SHOWN (undecided)",
                  out.holds, out.seeds, detail::percent(observed).c_str());
    rep += text;
    std::snprintf(text, sizeof text, "  one-sided %s Clopper-Pearson bounds: %s to %s\n",
                  detail::percent(1.0 - level).c_str(), detail::percent(lower).c_str(),
                  detail::percent(upper).c_str());
    rep += text;
    if (seeds == 0) {
        std::snprintf(text, sizeof text,
                      "  seeds: %zu, then %zu if undecided: the fewest that can show\n"
                      "  the claim at %s confidence, %s error budget per look\n",
                      first, 4 * first, detail::percent(test_.confidence()).c_str(),
                      detail::percent(level).c_str());
    } else {
        std::snprintf(text, sizeof text, "  seeds: %zu, as asked (one look)\n", seeds);
    }
    rep += text;
    if (verdict == verdict_kind::undecided) {
        rep +=
            "  the seeds cannot tell: the policy is close to the claimed rate.\n"
            "  Ask a weaker claim, or pass more seeds: in_at_" +
            std::string(at_least ? "least" : "most") + "(share, seeds).\n";
    }
    std::uint64_t done = 0, rolled = 0, held_count = 0, halted = 0;
    for (const auto& r : results) {
        done += r.completed();
        rolled += r.rolled_back();
        held_count += r.outcome == simulation_outcome::held;
        halted += r.outcome == simulation_outcome::held && r.halted_at_ns >= 0;
    }
    std::snprintf(text, sizeof text,
                  "  how the seeds ended: %" PRIu64 " reached 100 %%, %" PRIu64
                  " rolled back,\n  %" PRIu64 " held (%" PRIu64
                  " of them halted by a gate or alarm)\n",
                  done, rolled, held_count, halted);
    rep += text;
    // Where the rollouts ended (the stage each was rolled back, held or
    // completed at) and the users they exposed.
    std::vector<std::uint64_t> at_stage(rollout.stages.size() + 1, 0);
    std::vector<double> exposed;
    for (const auto& r : results) {
        ++at_stage[std::min(r.stage, rollout.stages.size())];
        exposed.push_back(static_cast<double>(detail::exposed(r)));
    }
    rep += "  where they ended:";
    for (std::size_t i = 0; i < at_stage.size(); ++i) {
        if (at_stage[i] == 0) continue;
        rep += " " + (i < rollout.stages.size() ? rollout.stage_name(i) : std::string("100 %")) +
               " (" + std::to_string(at_stage[i]) + ")";
    }
    std::snprintf(
        text, sizeof text,
        "\n  requests served by the candidate before each decision: median %.0f,\n  most %.0f\n",
        detail::median_of(exposed), *std::max_element(exposed.begin(), exposed.end()));
    rep += text;
    // The gates that decided, over all seeds.
    std::vector<std::pair<std::string, std::uint64_t>> deciders;
    for (const auto& r : results) {
        const auto& names = r.rolled_back() ? r.triggers : r.holding_gates;
        for (const auto& n : names) {
            auto it = std::find_if(deciders.begin(), deciders.end(),
                                   [&](const auto& d) { return d.first == n; });
            if (it == deciders.end()) {
                deciders.emplace_back(n, 1);
            } else {
                ++it->second;
            }
        }
    }
    if (!deciders.empty()) {
        rep += "  gates that rolled back or held:";
        for (const auto& [n, count] : deciders) rep += " " + n + " (" + std::to_string(count) + ")";
        rep += "\n";
    }
    // A seed that contradicts the claim ("at least": where it did not hold;
    // "at most": where it did), replayed with its trace.
    if (!out.passed) {
        for (std::size_t i = 0; i < results.size(); ++i) {
            const bool against = at_least ? held[i] == 0 : held[i] == 1;
            if (!against) continue;
            simulation_config traced = detail::sweep_config(test_.config());
            traced.keep_trace = true;
            const simulation_result r = simulate(traced, seed_list[i]);
            rep += "  for example, seed " + std::to_string(seed_list[i]) + ":\n  " +
                   explain(r, rollout, &test_.config().traffic.candidate_regression);
            break;
        }
    }
    return out;
}

}  // namespace testkit
CANARYGATE_NAMESPACE_END
