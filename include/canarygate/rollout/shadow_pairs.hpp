// SPDX-License-Identifier: MIT
/// \file
/// Paired shadow comparison: where the same request went to the baseline
/// (which answered the user) and, as a shadow copy, to the candidate, the two
/// answers' cost and output length are compared request by request.
///
/// Two independent streams differ by request as much as by model: cost per
/// request varies by a factor of several between prompts, so an unpaired test
/// of mean cost needs thousands of requests to see a 40 % rise. The ratio of
/// the two answers to one prompt cancels the prompt: it moves only with the
/// models. This test asks, for each pair, whether the candidate's value is
/// above `limit` × the baseline's, and runs an anytime-valid sign test on the
/// answers (a Bernoulli grid-mixture e-process, stats/beta_binomial.hpp,
/// with null bound 1/2):
/// - fail (roll back): the candidate is above the limit in more than half of
///   the pairs, i.e. the per-request ratio's median exceeds the limit, at
///   level alpha_fail (split evenly between cost and output length);
/// - pass: it is below the limit in more than half, at level alpha_pass for
///   each metric (intersection-union: no adjustment).
/// Pairs equal at the limit (and pairs where both values are 0) are ties and
/// carry no information, as in any sign test. The test is exact and needs no
/// assumption on the distributions, only that pairs are independent.
///
/// It judges the median request, not the mean: a candidate that costs more
/// on a few requests only shows in the policy's mean-cost gate, which keeps
/// running beside it. The controller (rollout/controller.hpp) uses a paired
/// fail to roll back in the shadow stage; advancing still needs the policy's
/// pass.
///
/// Recording: `paired_shadow_recorder::record(baseline, shadow)` once both
/// answers of a mirrored request are in. Wait-free (relaxed fetch_add on a
/// few counters): the shadow answer arrives off the user's request path.
#pragma once

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/gates/verdict.hpp"
#include "canarygate/record/outcome.hpp"
#include "canarygate/stats/beta_binomial.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// The per-request ratio limits of the paired test (candidate / baseline).
struct paired_limits {
    double cost = 1.2;
    double output_length = 1.5;

    void validate(std::string_view where) const {
        if (!(cost >= 1.0) || std::isinf(cost))
            detail::throw_bad_field(where, "limits.cost", cost, "must be >= 1 and finite");
        if (!(output_length >= 1.0) || std::isinf(output_length))
            detail::throw_bad_field(where, "limits.output_length", output_length,
                                    "must be >= 1 and finite");
    }
};

/// How many pairs had the candidate above, below or at its limit.
struct paired_side_counts {
    std::uint64_t above = 0;
    std::uint64_t below = 0;
    std::uint64_t ties = 0;
    friend bool operator==(const paired_side_counts&, const paired_side_counts&) = default;
};

struct paired_counts {
    std::uint64_t pairs = 0;
    paired_side_counts cost;
    paired_side_counts output_length;
    friend bool operator==(const paired_counts&, const paired_counts&) = default;
};

/// Counts pairs as they complete. Thread-safe and wait-free.
class paired_shadow_recorder {
public:
    explicit paired_shadow_recorder(paired_limits limits = {}) : limits_(limits) {
        limits_.validate("canarygate::paired_shadow_recorder");
    }

    [[nodiscard]] const paired_limits& limits() const noexcept { return limits_; }

    /// One mirrored request: the baseline's answer (the one the user got)
    /// and the candidate's answer to the shadow copy.
    void record(const request_outcome& baseline, const request_outcome& shadow) noexcept {
        // Relaxed throughout: each counter is an independent tally read by
        // counts() for a check; no other data is published through them, and
        // a check that misses a pair in flight sees it at the next one.
        pairs_.fetch_add(1, std::memory_order_relaxed);
        side(cost_, classify(shadow.cost_nano_usd, baseline.cost_nano_usd, limits_.cost));
        side(length_,
             classify(shadow.output_tokens, baseline.output_tokens, limits_.output_length));
    }

    /// The totals so far (each counter read once; relaxed, see record()).
    [[nodiscard]] paired_counts counts() const noexcept {
        paired_counts c;
        c.pairs = pairs_.load(std::memory_order_relaxed);
        c.cost = read(cost_);
        c.output_length = read(length_);
        return c;
    }

    /// -1 below the limit, 0 a tie, +1 above.
    [[nodiscard]] static int classify(std::uint64_t candidate, std::uint64_t baseline,
                                      double limit) noexcept {
        const double c = static_cast<double>(candidate);
        const double bound = limit * static_cast<double>(baseline);
        if (c > bound) return 1;
        if (c < bound) return -1;
        return 0;
    }

private:
    using tally = std::array<std::atomic<std::uint64_t>, 3>;  // below, tie, above
    static void side(tally& t, int sign) noexcept {
        t[static_cast<std::size_t>(sign + 1)].fetch_add(
            1, std::memory_order_relaxed);  // relaxed: see record()
    }
    static paired_side_counts read(const tally& t) noexcept {
        return {t[2].load(std::memory_order_relaxed), t[0].load(std::memory_order_relaxed),
                t[1].load(std::memory_order_relaxed)};
    }

    paired_limits limits_;
    std::atomic<std::uint64_t> pairs_{0};
    tally cost_{};
    tally length_{};
};

struct paired_test_config {
    paired_limits limits;
    /// False roll-backs over the whole shadow stage, both metrics together.
    /// Spent in addition to the shadow policy's own alpha_fail.
    double alpha_fail = 0.01;
    /// Level of each metric's pass.
    double alpha_pass = 0.05;

    void validate() const {
        constexpr std::string_view where = "canarygate::paired_test_config";
        limits.validate(where);
        if (!(alpha_fail > 0.0 && alpha_fail < 1.0))
            detail::throw_bad_field(where, "alpha_fail", alpha_fail, "must be in (0, 1)");
        if (!(alpha_pass > 0.0 && alpha_pass < 0.5))
            detail::throw_bad_field(where, "alpha_pass", alpha_pass, "must be in (0, 0.5)");
    }
};

/// The sign test's alternatives for P(candidate above the limit): the
/// mixture spends its power from a slight to an overwhelming majority.
inline constexpr std::array<double, 5> paired_alternatives = {0.55, 0.6, 0.7, 0.8, 0.9};

/// One metric's accumulated evidence.
struct paired_metric_state {
    stats::bernoulli_grid_e_process<5> fail_side;  // successes: above the limit
    stats::bernoulli_grid_e_process<5> pass_side;  // successes: below it
};

struct paired_test_state {
    paired_metric_state cost;
    paired_metric_state output_length;
    /// The cumulative counts at the previous evaluation.
    paired_counts previous;
    std::uint64_t checks = 0;
};

struct paired_metric_result {
    std::string name;
    double limit = 0.0;
    verdict decision = verdict::keep_going;
    double log_e_fail = 0.0;
    double log_e_pass = 0.0;
    double log_fail_threshold = 0.0;
    double log_pass_threshold = 0.0;
    paired_side_counts counts;
    /// Share of the untied pairs where the candidate was above the limit
    /// (NaN before any).
    double share_above = std::nan("");
    std::string reason;
};

struct paired_result {
    verdict decision = verdict::keep_going;
    paired_metric_result cost;
    paired_metric_result output_length;
    std::uint64_t pairs = 0;
    std::string summary;
};

class paired_test {
public:
    explicit paired_test(paired_test_config config = {}) : config_(config) { config_.validate(); }

    [[nodiscard]] const paired_test_config& config() const noexcept { return config_; }

    /// Judges the cumulative counts: the pairs since the previous call are
    /// added to the evidence. Throws std::invalid_argument, leaving `state`
    /// as it was, when a count went backwards (a restarted recorder).
    paired_result evaluate(paired_test_state& state, const paired_counts& cumulative) const {
        const auto back = [](const paired_side_counts& now, const paired_side_counts& before) {
            return now.above < before.above || now.below < before.below || now.ties < before.ties;
        };
        if (cumulative.pairs < state.previous.pairs || back(cumulative.cost, state.previous.cost) ||
            back(cumulative.output_length, state.previous.output_length)) {
            detail::throw_invalid_argument(
                "canarygate::paired_test::evaluate: the cumulative counts went back (" +
                std::to_string(cumulative.pairs) + " pairs, previously " +
                std::to_string(state.previous.pairs) + "): was the recorder restarted?");
        }
        paired_result r;
        r.pairs = cumulative.pairs;
        const double fail_threshold = std::log(2.0 / config_.alpha_fail);
        const double pass_threshold = std::log(1.0 / config_.alpha_pass);
        r.cost = judge("cost", config_.limits.cost, state.cost, cumulative.cost,
                       state.previous.cost, fail_threshold, pass_threshold);
        r.output_length = judge("output_length", config_.limits.output_length, state.output_length,
                                cumulative.output_length, state.previous.output_length,
                                fail_threshold, pass_threshold);
        state.previous = cumulative;
        ++state.checks;
        if (r.cost.decision == verdict::fail || r.output_length.decision == verdict::fail) {
            r.decision = verdict::fail;
        } else if (r.cost.decision == verdict::pass && r.output_length.decision == verdict::pass) {
            r.decision = verdict::pass;
        }
        r.summary = "paired shadow " + std::string(name(r.decision)) + " after " +
                    std::to_string(r.pairs) + " pairs: " + r.cost.reason + "; " +
                    r.output_length.reason;
        return r;
    }

private:
    static paired_metric_result judge(const char* metric, double limit, paired_metric_state& s,
                                      const paired_side_counts& now,
                                      const paired_side_counts& before, double fail_threshold,
                                      double pass_threshold) {
        const std::uint64_t above = now.above - before.above;
        const std::uint64_t below = now.below - before.below;
        s.fail_side.update(above, above + below, 0.5, paired_alternatives);
        s.pass_side.update(below, above + below, 0.5, paired_alternatives);
        paired_metric_result m;
        m.name = metric;
        m.limit = limit;
        m.counts = now;
        m.log_e_fail = s.fail_side.log_e_value();
        m.log_e_pass = s.pass_side.log_e_value();
        m.log_fail_threshold = fail_threshold;
        m.log_pass_threshold = pass_threshold;
        const std::uint64_t untied = now.above + now.below;
        if (untied > 0)
            m.share_above = static_cast<double>(now.above) / static_cast<double>(untied);
        if (m.log_e_fail >= fail_threshold) {
            m.decision = verdict::fail;
        } else if (m.log_e_pass >= pass_threshold) {
            m.decision = verdict::pass;
        }
        char text[200];
        std::snprintf(text, sizeof text,
                      "%s: candidate above %g x baseline in %llu of %llu untied pairs (%.3g), ln E "
                      "%.2f / %.2f",
                      metric, limit, static_cast<unsigned long long>(now.above),
                      static_cast<unsigned long long>(untied), m.share_above,
                      m.decision == verdict::pass ? m.log_e_pass : m.log_e_fail,
                      m.decision == verdict::pass ? pass_threshold : fail_threshold);
        m.reason = std::string(text) + " -> " + std::string(name(m.decision));
        return m;
    }

    paired_test_config config_;
};

CANARYGATE_NAMESPACE_END
