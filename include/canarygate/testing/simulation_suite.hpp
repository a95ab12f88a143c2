// SPDX-License-Identifier: MIT
/// \file
/// The simulator's scenarios run over many seeds: for each, how often the
/// rollout completes, is rolled back or is held, where and by which gate,
/// how long it took and how many users the candidate served before the
/// decision — every rate with its 95 % Clopper–Pearson interval, for
/// canarygate's controller and for the naive controller on the same traffic
/// (testing/simulation.hpp).
///
/// `default_rollout()` and `default_cases()` are the simulator's default run
/// (examples/simulate.cpp, `scripts/demo`): a good candidate, a noisy one,
/// the lesson's regressions, a shadow-only cost spike, a routing bug, a case
/// on the null boundary, and the lesson's exercises.
///
/// Example:
/// \code
///   namespace tk = canarygate::testkit;
///   const auto cases = tk::default_cases(tk::default_rollout(), 600);
///   const auto summaries = tk::run_suite(cases, /*seeds=*/50, /*threads=*/2);
///   std::fputs(tk::format_table(summaries).c_str(), stdout);
/// \endcode
#pragma once

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "canarygate/core/clock.hpp"
#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/gates/default_policy.hpp"
#include "canarygate/rollout/controller.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/testing/simulation.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace testkit {

/// What a case must show, checked against the Clopper–Pearson interval of
/// its rate (so neither a lucky nor an unlucky seed decides).
enum class case_expectation : std::uint8_t {
    reaches_full,        ///< completes in at least 95 % of seeds
    rolled_back,         ///< rolled back in at least 90 % of seeds
    halted,              ///< rolled back, or held by a failed gate, in at least 90 %
    caught_in_shadow,    ///< rolled back in a shadow stage, no user exposed, in >= 90 %
    alarm_not_rollback,  ///< the sample-ratio alarm in >= 90 %, never rolled back by it
    not_rolled_back,     ///< on the null boundary: rolled back in at most alpha_fail (5 %)
    reported             ///< no claim: the figures answer a question
};

[[nodiscard]] constexpr std::string_view name(case_expectation e) noexcept {
    switch (e) {
        case case_expectation::reaches_full:
            return "reaches 100 % in >= 95 %";
        case case_expectation::rolled_back:
            return "rolled back in >= 90 %";
        case case_expectation::halted:
            return "rolled back or held by a gate in >= 90 %";
        case case_expectation::caught_in_shadow:
            return "caught in shadow, 0 users, in >= 90 %";
        case case_expectation::alarm_not_rollback:
            return "alarm in >= 90 %, no roll-back";
        case case_expectation::not_rolled_back:
            return "rolled back in <= 5 %";
        case case_expectation::reported:
            return "reported";
    }
    return "unknown";
}

struct simulation_case {
    std::string name;
    std::string description;
    simulation_config config;  ///< its judge is set per run
    case_expectation expect = case_expectation::reported;
};

/// A rate with its two-sided 95 % Clopper–Pearson interval.
struct rate_estimate {
    std::uint64_t hits = 0;
    std::uint64_t runs = 0;
    double rate = 0.0;
    double lower = 0.0;
    double upper = 1.0;
};

[[nodiscard]] inline rate_estimate estimate_rate(std::uint64_t hits, std::uint64_t runs) {
    rate_estimate r{hits, runs, 0.0, 0.0, 1.0};
    if (runs == 0) return r;
    r.rate = static_cast<double>(hits) / static_cast<double>(runs);
    const auto ci = stats::clopper_pearson_interval(hits, runs, 0.05);
    r.lower = ci.lower;
    r.upper = ci.upper;
    return r;
}

/// One judge's results for one case over all seeds.
struct judge_summary {
    judge_kind judge = judge_kind::canarygate;
    std::uint64_t runs = 0;
    rate_estimate completed;
    rate_estimate rolled_back;
    rate_estimate held;
    rate_estimate alarmed;              ///< the sample-ratio alarm was raised
    rate_estimate caught_before_users;  ///< rolled back with no user served by the candidate
    rate_estimate halted;               ///< rolled back, or held by a failed gate
    /// Medians over the runs that ended (completed or rolled back) or were
    /// halted (held by a failed gate or the alarm, from the check the halt
    /// began): minutes from the start, and requests the candidate served
    /// users by then. NaN if none.
    double median_decision_minutes = 0.0;
    double median_users_exposed = 0.0;
    double median_alarm_minutes = 0.0;  ///< over the runs that raised the alarm
    /// Where the runs ended (stage name → runs) and what rolled them back
    /// (gate or check name → runs; "hold: <gate>" for a failed advisory
    /// gate holding a rollout at the horizon).
    std::map<std::string, std::uint64_t> stages;
    std::map<std::string, std::uint64_t> triggers;
    std::vector<simulation_result> results;  ///< one per seed, in seed order, without traces
};

struct case_summary {
    std::string name;
    std::string description;
    case_expectation expect = case_expectation::reported;
    judge_summary canarygate;
    judge_summary naive;
    /// The expectation checked on canarygate's rates; the reason when it is not met.
    bool expectation_met = true;
    std::string expectation_note;
};

/// The seed of run i of a case: independent across cases and runs.
[[nodiscard]] inline std::uint64_t suite_seed(std::size_t case_index, std::size_t run) {
    return mix64(0xC0FFEE + 1'000'003 * static_cast<std::uint64_t>(case_index) + run);
}

namespace detail {

/// A configuration as a seed sweep runs it: decisions only. The reported
/// intervals, the costliest part of a check, never change a decision
/// (gate_tuning), and no per-step trace is kept.
inline simulation_config sweep_config(simulation_config config) {
    config.keep_trace = false;
    config.rollout.policy.tuning.intervals = false;
    if (config.rollout.shadow_policy) config.rollout.shadow_policy->tuning.intervals = false;
    return config;
}

/// Runs job(0) ... job(jobs - 1) on `threads` threads (0: one per core),
/// the caller's included. The first exception a job throws is rethrown on
/// the caller's thread once all have stopped (configurations are validated
/// before: what can still go wrong is running out of memory).
inline void run_parallel(std::size_t jobs, std::size_t threads,
                         const std::function<void(std::size_t)>& job) {
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    const auto work = [&] {
        while (true) {
            // relaxed: the counter only hands out distinct job numbers; what
            // the jobs write is published to the caller by the threads' join.
            const std::size_t j = next.fetch_add(1, std::memory_order_relaxed);
            if (j >= jobs) return;
            CANARYGATE_TRY { job(j); }
            CANARYGATE_CATCH(...) {
                const std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
            }
        }
    };
    if (threads == 0) threads = std::max(1U, std::thread::hardware_concurrency());
    threads = std::max<std::size_t>(1, std::min(threads, jobs));
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);
}

inline double median_of(std::vector<double> v) {
    if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

inline judge_summary summarize(judge_kind judge, std::vector<simulation_result> results) {
    judge_summary s;
    s.judge = judge;
    s.runs = results.size();
    std::uint64_t completed = 0, rolled = 0, held = 0, alarmed = 0, before_users = 0, halted = 0;
    std::vector<double> minutes, users, alarm_minutes;
    for (const auto& r : results) {
        completed += r.completed();
        rolled += r.rolled_back();
        held += r.outcome == simulation_outcome::held;
        if (r.first_alarm_ns >= 0) {
            ++alarmed;
            alarm_minutes.push_back(static_cast<double>(r.first_alarm_ns) / minute_ns);
        }
        before_users += r.rolled_back() && r.candidate_requests == 0;
        if (r.decided_at_ns >= 0) {
            minutes.push_back(static_cast<double>(r.decided_at_ns) / minute_ns);
            users.push_back(static_cast<double>(r.candidate_requests));
        } else if (r.halted_at_ns >= 0) {
            minutes.push_back(static_cast<double>(r.halted_at_ns) / minute_ns);
            users.push_back(static_cast<double>(r.candidate_requests_at_halt));
        }
        halted += r.rolled_back() || !r.holding_gates.empty();
        ++s.stages[r.stage_name];
        for (const auto& t : r.triggers) ++s.triggers[t];
        for (const auto& t : r.holding_gates) ++s.triggers["hold: " + t];
    }
    s.completed = estimate_rate(completed, s.runs);
    s.rolled_back = estimate_rate(rolled, s.runs);
    s.held = estimate_rate(held, s.runs);
    s.alarmed = estimate_rate(alarmed, s.runs);
    s.caught_before_users = estimate_rate(before_users, s.runs);
    s.halted = estimate_rate(halted, s.runs);
    s.median_decision_minutes = median_of(std::move(minutes));
    s.median_users_exposed = median_of(std::move(users));
    s.median_alarm_minutes = median_of(std::move(alarm_minutes));
    s.results = std::move(results);
    return s;
}

inline void check_expectation(case_summary& c, double alpha_fail) {
    const judge_summary& s = c.canarygate;
    char buf[200];
    const auto fail = [&](const char* what, const rate_estimate& r) {
        c.expectation_met = false;
        std::snprintf(buf, sizeof buf, "%s: %" PRIu64 " of %" PRIu64 " (95 %% CI %.3f-%.3f)", what,
                      r.hits, r.runs, r.lower, r.upper);
        c.expectation_note = buf;
    };
    // A claim "rate >= x" is refuted when the whole interval lies below x;
    // "rate <= x" when it lies above.
    switch (c.expect) {
        case case_expectation::reaches_full:
            if (s.completed.upper < 0.95) fail("completed", s.completed);
            break;
        case case_expectation::rolled_back:
            if (s.rolled_back.upper < 0.90) fail("rolled back", s.rolled_back);
            break;
        case case_expectation::halted:
            if (s.halted.upper < 0.90) fail("rolled back or held by a gate", s.halted);
            break;
        case case_expectation::caught_in_shadow:
            if (s.caught_before_users.upper < 0.90)
                fail("rolled back before any user", s.caught_before_users);
            break;
        case case_expectation::alarm_not_rollback:
            if (s.alarmed.upper < 0.90) fail("alarm raised", s.alarmed);
            if (s.rolled_back.lower > alpha_fail) fail("rolled back", s.rolled_back);
            break;
        case case_expectation::not_rolled_back:
            if (s.rolled_back.lower > alpha_fail) fail("rolled back", s.rolled_back);
            break;
        case case_expectation::reported:
            break;
    }
}

}  // namespace detail

/// Runs one configuration once per seed (canarygate or naive, as
/// `config.judge` says) on `threads` threads (0: one per core), as a seed
/// sweep does (detail::sweep_config: decisions, no trace). Results are in
/// the order of `seeds` and do not depend on the thread count.
[[nodiscard]] inline std::vector<simulation_result> simulate_seeds(
    const simulation_config& config, const std::vector<std::uint64_t>& seeds,
    std::size_t threads = 0) {
    config.validate();
    const simulation_config sweep = detail::sweep_config(config);
    std::vector<simulation_result> results(seeds.size());
    detail::run_parallel(seeds.size(), threads,
                         [&](std::size_t j) { results[j] = simulate(sweep, seeds[j]); });
    return results;
}

/// Runs every case over `seeds` seeds with both judges, on `threads`
/// threads (0: the hardware's). Deterministic: the same cases and seeds give
/// the same summaries whatever the thread count.
[[nodiscard]] inline std::vector<case_summary> run_suite(const std::vector<simulation_case>& cases,
                                                         std::size_t seeds,
                                                         std::size_t threads = 0) {
    if (seeds == 0) {
        canarygate::detail::throw_bad_field("canarygate::testkit::run_suite", "seeds", seeds,
                                            "must be at least 1");
    }
    for (const auto& c : cases) c.config.validate();
    const std::size_t jobs = cases.size() * seeds * 2;
    std::vector<simulation_result> results(jobs);
    detail::run_parallel(jobs, threads, [&](std::size_t j) {
        const std::size_t c = j / (seeds * 2);
        const std::size_t run = (j / 2) % seeds;
        simulation_config config = detail::sweep_config(cases[c].config);
        config.judge = j % 2 == 0 ? judge_kind::canarygate : judge_kind::naive;
        results[j] = simulate(config, suite_seed(c, run));
    });

    std::vector<case_summary> out;
    for (std::size_t c = 0; c < cases.size(); ++c) {
        std::vector<simulation_result> ours, theirs;
        for (std::size_t run = 0; run < seeds; ++run) {
            ours.push_back(std::move(results[(c * seeds + run) * 2]));
            theirs.push_back(std::move(results[(c * seeds + run) * 2 + 1]));
        }
        case_summary s;
        s.name = cases[c].name;
        s.description = cases[c].description;
        s.expect = cases[c].expect;
        s.canarygate = detail::summarize(judge_kind::canarygate, std::move(ours));
        s.naive = detail::summarize(judge_kind::naive, std::move(theirs));
        detail::check_expectation(s, cases[c].config.rollout.policy.alpha_fail);
        out.push_back(std::move(s));
    }
    return out;
}

/// The simulator's default rollout: a shadow stage mirroring 20 % of the
/// baseline's requests, then canary 1, 10, 25, 50 and 75 %. Each stage
/// dwells at least 30 minutes; the shadow and 1 % stages at most an hour
/// and the others two, after which a stage with no regression detected
/// advances (at_max = advance: the evidence the small stages cannot give,
/// the larger ones gather, and every gate stays armed to the end).
[[nodiscard]] inline controller_config default_rollout() {
    controller_config c;
    c.policy = default_policy();
    c.shadow_policy = default_shadow_policy();
    c.baseline_digest = "sha256:" + std::string(64, 'a');
    c.candidate_digest = "sha256:" + std::string(64, 'b');
    rollout_stage shadow;
    shadow.kind = stage_kind::shadow;
    shadow.weights = {.baseline = 1, .candidate = 0, .shadow_ppm = 200'000};
    shadow.min_dwell_ns = 30 * minute_ns;
    shadow.max_duration_ns = hour_ns;
    shadow.at_max = max_duration_rule::advance;
    c.stages = {shadow};
    for (const std::uint32_t p : {1U, 10U, 25U, 50U, 75U}) {
        rollout_stage s;
        s.weights = {.baseline = 100 - p, .candidate = p};
        s.min_dwell_ns = 30 * minute_ns;
        s.max_duration_ns = p == 1 ? hour_ns : 2 * hour_ns;
        s.at_max = max_duration_rule::advance;
        c.stages.push_back(s);
    }
    return c;
}

/// `policy` with the multiplier of every gate on `metric` set to `k`.
[[nodiscard]] inline policy_config with_multiplier(policy_config policy, signal metric, double k) {
    for (auto& g : policy.gates) {
        if (g.metric() != metric) continue;
        g = g.with([&](auto& c) {
            if constexpr (requires { c.multiplier; }) c.multiplier = k;
        });
    }
    return policy;
}

/// `policy` with batch mode (batch_window_ns = window) on the named gates.
[[nodiscard]] inline policy_config with_batch_mode(policy_config policy,
                                                   const std::vector<std::string>& gate_names,
                                                   std::int64_t window_ns) {
    for (auto& g : policy.gates) {
        if (std::find(gate_names.begin(), gate_names.end(), g.name()) == gate_names.end()) continue;
        g = g.with([&](auto& c) {
            if constexpr (requires { c.batch_window_ns; }) c.batch_window_ns = window_ns;
        });
    }
    return policy;
}

/// `config` with the cost gates' limit set to `k` in the canary policy and,
/// if there is one, the shadow policy.
inline void set_cost_limit(simulation_config& config, double k) {
    config.rollout.policy = with_multiplier(config.rollout.policy, signal::cost, k);
    if (config.rollout.shadow_policy) {
        config.rollout.shadow_policy =
            with_multiplier(*config.rollout.shadow_policy, signal::cost, k);
    }
}

/// The default run's cases on `rollout` at `requests_per_minute`.
/// `noisy_batch_gates`: the gates the A/A advice puts in batch mode for the
/// noisy candidate (see examples/simulate.cpp, which derives them).
[[nodiscard]] inline std::vector<simulation_case> default_cases(
    const controller_config& rollout, double requests_per_minute,
    const std::vector<std::string>& noisy_batch_gates = {}) {
    simulation_config base;
    base.rollout = rollout;
    base.traffic.traffic.requests_per_minute = requests_per_minute;
    base.horizon_ns = 12 * hour_ns;
    std::vector<simulation_case> cases;
    const auto add = [&](std::string name, std::string description, case_expectation expect,
                         auto&& edit) {
        simulation_case c{std::move(name), std::move(description), base, expect};
        edit(c.config);
        cases.push_back(std::move(c));
    };
    add("good", "the candidate is as good as the baseline", case_expectation::reaches_full,
        [](simulation_config&) {});
    add("noisy_good",
        "as good, with 10 % candidate-only run-to-run noise on latency and cost "
        "(batch mode where the A/A advice says so)",
        case_expectation::reaches_full, [&](simulation_config& c) {
            c.traffic.candidate_window_noise = 0.10;
            c.rollout.policy =
                with_batch_mode(c.rollout.policy, noisy_batch_gates, c.traffic.noise_window_ns);
            if (c.rollout.shadow_policy) {
                c.rollout.shadow_policy = with_batch_mode(
                    *c.rollout.shadow_policy, noisy_batch_gates, c.traffic.noise_window_ns);
            }
        });
    add("cost_1.25", "cost per request +25 % (limit 1.2 x): exercise 1", case_expectation::reported,
        [](simulation_config& c) { c.traffic.candidate_regression.cost = 1.25; });
    add("cost_1.25_limit_1.1", "cost +25 % against a tighter limit, 1.1 x",
        case_expectation::rolled_back, [](simulation_config& c) {
            c.traffic.candidate_regression.cost = 1.25;
            set_cost_limit(c, 1.1);
        });
    add("latency_2x", "every latency quantile 2 x (P99 limit 1.5 x)", case_expectation::rolled_back,
        [](simulation_config& c) { c.traffic.candidate_regression.latency = 2.0; });
    add("refusals_3x", "refusal rate 3 x (limit 2 x)", case_expectation::rolled_back,
        [](simulation_config& c) { c.traffic.candidate_regression.refusal = 3.0; });
    add("longer_answers", "answers 30 % longer (no-shift gate on the output length)",
        case_expectation::rolled_back,
        [](simulation_config& c) { c.traffic.candidate_regression.output_length = 1.3; });
    add("thumbs_down_2.5x", "thumbs-down rate 2.5 x (limit 1.5 x), feedback minutes to hours late",
        case_expectation::halted,
        [](simulation_config& c) { c.traffic.candidate_regression.thumbs_down = 2.5; });
    add("error_burst", "hard errors x 30 (15 % of requests) for 15 minutes from minute 70",
        case_expectation::rolled_back, [](simulation_config& c) {
            regression burst;
            burst.error = 30.0;
            c.regression_changes = {{70 * minute_ns, burst}, {85 * minute_ns, regression{}}};
        });
    add("shadow_cost_1.4", "cost +40 %: the shadow stage must catch it before any user sees it",
        case_expectation::caught_in_shadow,
        [](simulation_config& c) { c.traffic.candidate_regression.cost = 1.4; });
    add("routing_bug", "the router gives the candidate twice its weight (a routing bug)",
        case_expectation::alarm_not_rollback, [](simulation_config& c) { c.routing_fault = 2.0; });
    add("boundary_cost_1.2", "cost exactly at the 1.2 x limit: the null boundary",
        case_expectation::not_rolled_back,
        [](simulation_config& c) { c.traffic.candidate_regression.cost = 1.2; });
    add("cost_1.18_limit_1.2", "exercise 2: +18 % cost (for +3 % accuracy) under a 1.2 x policy",
        case_expectation::reported,
        [](simulation_config& c) { c.traffic.candidate_regression.cost = 1.18; });
    add("cost_1.18_limit_1.15", "exercise 2: the same under a 1.15 x policy",
        case_expectation::reported, [](simulation_config& c) {
            c.traffic.candidate_regression.cost = 1.18;
            set_cost_limit(c, 1.15);
        });
    return cases;
}

namespace detail {

inline std::string rate_cell(const rate_estimate& r) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%3.0f%% [%2.0f-%3.0f]", 100 * r.rate, 100 * r.lower,
                  100 * r.upper);
    return buf;
}

inline std::string top_of(const std::map<std::string, std::uint64_t>& counts, std::uint64_t runs) {
    std::vector<std::pair<std::uint64_t, std::string>> v;
    for (const auto& [k, n] : counts) v.emplace_back(n, k);
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::string out;
    for (std::size_t i = 0; i < v.size() && i < 2; ++i) {
        if (!out.empty()) out += ", ";
        const double percent = 100.0 * static_cast<double>(v[i].first) / static_cast<double>(runs);
        char buf[96];
        // A share that rounds to 0 % still happened: "<1%".
        if (percent < 0.5)
            std::snprintf(buf, sizeof buf, "%s <1%%", v[i].second.c_str());
        else
            std::snprintf(buf, sizeof buf, "%s %.0f%%", v[i].second.c_str(), percent);
        out += buf;
    }
    return out.empty() ? "-" : out;
}

inline std::string whole(double x) {
    if (std::isnan(x)) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", x);
    return buf;
}

}  // namespace detail

/// The terminal table: per case, both judges' completion and roll-back
/// rates with their 95 % intervals, median minutes and users exposed to
/// the decision, where the runs ended and what rolled them back.
[[nodiscard]] inline std::string format_table(const std::vector<case_summary>& cases) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "%-21s %-10s %-15s %-15s %-15s %6s %8s  %-30s %s\n", "case",
                  "judge", "completed", "rolled back", "held", "min", "users",
                  "ended at (share of runs)", "decided by");
    out += line;
    out += std::string(160, '-') + "\n";
    for (const auto& c : cases) {
        for (const judge_summary* s : {&c.canarygate, &c.naive}) {
            std::snprintf(
                line, sizeof line, "%-21s %-10s %-15s %-15s %-15s %6s %8s  %-30s %s\n",
                s == &c.canarygate ? c.name.c_str() : "", std::string(name(s->judge)).c_str(),
                detail::rate_cell(s->completed).c_str(), detail::rate_cell(s->rolled_back).c_str(),
                detail::rate_cell(s->held).c_str(),
                detail::whole(s->median_decision_minutes).c_str(),
                detail::whole(s->median_users_exposed).c_str(),
                detail::top_of(s->stages, s->runs).c_str(),
                detail::top_of(s->triggers, s->runs).c_str());
            out += line;
        }
        if (c.canarygate.alarmed.hits > 0 || c.naive.alarmed.hits > 0 ||
            c.expect == case_expectation::alarm_not_rollback) {
            std::snprintf(line, sizeof line,
                          "%-21s sample-ratio alarm: canarygate %s (median minute %s); naive: "
                          "none (no such check)\n",
                          "", detail::rate_cell(c.canarygate.alarmed).c_str(),
                          detail::whole(c.canarygate.median_alarm_minutes).c_str());
            out += line;
        }
        std::snprintf(line, sizeof line, "%-21s expectation: %s: %s%s\n", "",
                      std::string(name(c.expect)).c_str(),
                      c.expect == case_expectation::reported ? "-"
                      : c.expectation_met                    ? "met"
                                                             : "NOT MET, ",
                      c.expectation_note.c_str());
        out += line;
    }
    return out;
}

}  // namespace testkit
CANARYGATE_NAMESPACE_END
