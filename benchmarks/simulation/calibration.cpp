// SPDX-License-Identifier: MIT
// The calibration benchmark: the evaluation protocol of
// reference/statistics.md, run on canarygate::testkit::scenario traffic.
//
//   canarygate_calibration --out DIR [--runs N] [--detect-runs M] [--threads T]
//                          [--horizon-hours H] [--rpm R] [--smoke]
//
// 1. False alarms at the null boundary (every gate at true ratio exactly k)
//    and at ratio 1, for every gate of default_policy() and the policy, with
//    checks every 1 / 5 / 15 min and horizons 1 / 8 / 24 h (nested: one 24 h
//    run answers all three horizons; one event stream feeds all three
//    cadences), N runs per cell, rate and one-sided Clopper-Pearson 95 %
//    upper bound; the naive comparators (canarygate/testing/naive.hpp) in the same
//    runs.
// 2. Detection at true ratio / k in {1.1, 1.25, 1.5, 2, 3} and the lesson's
//    named regressions, checks every 5 min for 8 h, M runs per cell:
//    probability of detection by 8 h, median and 90th-percentile delay in
//    minutes and in canary requests; time to pass at ratio 1.
// Regressions act on one signal each, so one scenario puts every gate at its
// own boundary (or at its own ratio / k) at once. Exception: the output-shape
// gate (KS <= 0.1) is violated by the 1.5x length scaling that puts the length
// quantile gates at their boundary; its boundary (length x 1.194: KS 0.1 on
// the log-normal body) has its own scenario, which is also the policy's
// boundary (length quantile gates inside their null there).
// 3. Detection limits: for the P99 and refusal gates at 1.5 x k, the power by
//    the horizon of the most powerful level-alpha test that is told the
//    baseline exactly (Neyman-Pearson at the horizon, randomised). Any valid
//    test, sequential or not, rejects by the horizon with probability at most
//    this: its rejection by then is an event of null probability <= alpha.
//    With --limits-only, only this part runs (seconds).
//
// Writes DIR/calibration.md, DIR/calibration.csv and DIR/detection_limits.md.
// Not a Google Benchmark: a plain program; CTest smoke-runs it with --smoke.
#include "canarygate/gates/calibration.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/normal.hpp>

#include "canarygate/gates/default_policy.hpp"
#include "canarygate/gates/gate.hpp"
#include "canarygate/gates/policy.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/testing/naive.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/window/event_window.hpp"
#include "simulation_support.hpp"

namespace {

using namespace canarygate;
using namespace canarygate::testkit;
using canarygate::stats::clopper_pearson_upper;
using canarygate::stats::nearest_rank_quantile;
using canarygate_bench::fixed;
using canarygate_bench::percent;
namespace nv = canarygate::naive;

// ---- what is measured --------------------------------------------------------

struct naive_metric {
    std::string name;
    nv::metric_spec spec;
    double k;
};

std::vector<naive_metric> naive_metrics() {
    auto m = [](std::string n, signal s, double q, double k) {
        nv::metric_spec spec;
        spec.metric = s;
        spec.quantile = q;
        return naive_metric{std::move(n), spec, k};
    };
    return {m("latency_p99", signal::latency, 0.99, 1.5),
            m("cost", signal::cost, 0.5, 1.2),
            m("error_rate", signal::error_rate, 0.5, 2.0),
            m("refusal_rate", signal::refusal_rate, 0.5, 2.0),
            m("output_length_p90", signal::output_length, 0.9, 1.5),
            m("feedback_rate", signal::feedback_rate, 0.5, 1.5)};
}

// Naive comparator variants, per metric.
enum naive_kind : std::size_t {
    argo = 0,
    guarded,
    repeated_z,
    kayenta,
    kayenta_either,
    naive_kinds
};
constexpr const char* naive_kind_name[naive_kinds] = {
    "window>k (Argo failureLimit 0)",
    "window>k, >=20 req/window, 3 failed checks (Flagger threshold 3)",
    "repeated one-sided z, alpha 0.05",
    "Kayenta's Mann-Whitney classifier, 98%, direction increase, allowedIncrease k",
    "the same with Kayenta's default direction either (decreases fail too)"};
constexpr const char* naive_kind_short[naive_kinds] = {"argo", "flagger3", "repeated_z", "kayenta",
                                                       "kayenta_either"};

// Detectors: policy gates (G), policy critical fail, policy any gate, naive (6 x 4).
struct detector {
    std::string name;
    std::string kind;  // "gate", "policy", "naive"
    double alpha;      // target (gate: Bonferroni share; policy: alpha_fail; naive: nominal)
    std::string metric;
};

struct layout {
    policy_config policy_cfg;
    std::vector<double> gate_alpha;
    std::vector<naive_metric> nm = naive_metrics();
    std::vector<detector> detectors;
    std::size_t gates = 0;
    std::size_t policy_fail = 0, policy_any = 0, naive_begin = 0;

    layout() {
        policy_cfg = default_policy();
        policy_cfg.tuning.intervals = false;
        const policy p(policy_cfg);
        gate_alpha = p.gate_alpha();
        gates = policy_cfg.gates.size();
        for (std::size_t g = 0; g < gates; ++g) {
            detectors.push_back(
                {policy_cfg.gates[g].name() + (policy_cfg.gates[g].critical() ? "" : " (advisory)"),
                 "gate", gate_alpha[g], std::string(name(policy_cfg.gates[g].metric()))});
        }
        policy_fail = detectors.size();
        detectors.push_back(
            {"policy: roll back (critical gate fails)", "policy", policy_cfg.alpha_fail, "policy"});
        policy_any = detectors.size();
        detectors.push_back({"policy: roll back or hold (any gate fails)", "policy",
                             policy_cfg.alpha_fail, "policy"});
        naive_begin = detectors.size();
        for (const auto& m : nm) {
            for (std::size_t v = 0; v < naive_kinds; ++v) {
                detectors.push_back({m.name + " " + naive_kind_short[v], "naive", 0.05, m.name});
            }
        }
    }
    [[nodiscard]] std::size_t naive_index(std::size_t metric, std::size_t kind) const {
        return naive_begin + metric * naive_kinds + kind;
    }
};

const layout& the_layout() {
    static const layout l;
    return l;
}

// ---- one simulated rollout -------------------------------------------------------

constexpr std::int64_t never = -1;

struct cadence_result {
    std::vector<std::int64_t> fail_min;  // per detector, minutes, or never
    std::vector<double> fail_requests;   // candidate requests at the failing check
    std::vector<std::int64_t> pass_min;  // gates + policy_fail slot (policy pass), or never
    std::vector<std::vector<bool>>
        end_reject;  // [horizon][naive metric]: one fixed test at the horizon
    bool srm_invalid = false;
};

struct cadence_run {
    std::int64_t step_min;
    event_window builder;
    policy_state pstate;
    std::vector<nv::window_threshold_state> argo, guarded;
    std::vector<nv::repeated_fixed_test_state> rz;
    std::vector<nv::kayenta_state> ky, ky_either;
    double candidate_requests = 0;
    cadence_result out;
};

struct run_spec {
    scenario_config scenario;
    std::vector<std::int64_t> cadences_min;
    std::vector<std::int64_t> horizons_min;  // sorted; last = run length
};

std::vector<cadence_result> simulate(const run_spec& spec, std::uint64_t seed) {
    const layout& L = the_layout();
    const policy pol(L.policy_cfg);
    const std::size_t D = L.detectors.size();
    const std::size_t M = L.nm.size();
    std::vector<cadence_run> runs;
    runs.reserve(spec.cadences_min.size());
    for (const auto c : spec.cadences_min) {
        cadence_run r;
        r.step_min = c;
        r.argo.resize(M);
        r.guarded.resize(M);
        r.rz.resize(M);
        r.ky.resize(M);
        r.ky_either.resize(M);
        r.out.fail_min.assign(D, never);
        r.out.fail_requests.assign(D, 0);
        r.out.pass_min.assign(L.gates + 1, never);
        r.out.end_reject.assign(spec.horizons_min.size(), std::vector<bool>(M, false));
        runs.push_back(std::move(r));
    }
    std::vector<nv::window_threshold_config> argo_cfg(M), guarded_cfg(M);
    std::vector<nv::repeated_fixed_test_config> rz_cfg(M);
    std::vector<nv::kayenta_config> ky_cfg(M), ky_either_cfg(M);
    for (std::size_t m = 0; m < M; ++m) {
        argo_cfg[m].metric = L.nm[m].spec;
        argo_cfg[m].multiplier = L.nm[m].k;
        guarded_cfg[m] = argo_cfg[m];
        guarded_cfg[m].min_requests = 20;
        guarded_cfg[m].failure_limit = 2;
        rz_cfg[m].metric = L.nm[m].spec;
        rz_cfg[m].multiplier = L.nm[m].k;
        rz_cfg[m].alpha = 0.05;
        ky_cfg[m].metric = L.nm[m].spec;
        ky_cfg[m].allowed_increase = L.nm[m].k;
        ky_either_cfg[m] = ky_cfg[m];
        ky_cfg[m].direction = nv::kayenta_direction::increase;
    }
    const double z05 = boost::math::quantile(
        boost::math::complement(boost::math::normal_distribution<double>(), 0.05));
    scenario sc(spec.scenario, seed);
    const double share = spec.scenario.stages.front().candidate_share;
    const std::int64_t end_min = spec.horizons_min.back();
    for (std::int64_t t = 1; t <= end_min; ++t) {
        sc.run(
            t * minute_ns,
            [&](const request_event& e) {
                for (auto& r : runs) r.builder.add(e);
            },
            [&](const feedback_arrival& e) {
                for (auto& r : runs) r.builder.add(e);
            });
        for (auto& r : runs) {
            if (t % r.step_min != 0) continue;
            const snapshot inc = r.builder.take((t - r.step_min) * minute_ns, t * minute_ns);
            const arm_snapshot& b = *inc.find_arm("baseline");
            const arm_snapshot& c = *inc.find_arm("candidate");
            r.candidate_requests += c.counter(series::requests).to_double();
            const policy_report rep = pol.evaluate_increment(r.pstate, inc, share);
            auto mark_fail = [&](std::size_t d) {
                if (r.out.fail_min[d] == never) {
                    r.out.fail_min[d] = t;
                    r.out.fail_requests[d] = r.candidate_requests;
                }
            };
            bool any = false;
            for (std::size_t g = 0; g < L.gates; ++g) {
                if (rep.gates[g].decision == verdict::fail) {
                    mark_fail(g);
                    any = true;
                }
                if (rep.gates[g].decision == verdict::pass && r.out.pass_min[g] == never)
                    r.out.pass_min[g] = t;
            }
            if (rep.decision == verdict::fail) mark_fail(L.policy_fail);
            if (any) mark_fail(L.policy_any);
            if (rep.decision == verdict::pass && r.out.pass_min[L.gates] == never)
                r.out.pass_min[L.gates] = t;
            if (rep.decision == verdict::invalid) r.out.srm_invalid = true;
            for (std::size_t m = 0; m < M; ++m) {
                if (nv::evaluate(argo_cfg[m], r.argo[m], b, c).decision == verdict::fail)
                    mark_fail(L.naive_index(m, argo));
                if (nv::evaluate(guarded_cfg[m], r.guarded[m], b, c).decision == verdict::fail) {
                    mark_fail(L.naive_index(m, guarded));
                }
                const auto z = nv::evaluate(rz_cfg[m], r.rz[m], b, c);
                if (z.decision == verdict::fail) mark_fail(L.naive_index(m, repeated_z));
                if (nv::evaluate(ky_cfg[m], r.ky[m], b, c).decision == verdict::fail)
                    mark_fail(L.naive_index(m, kayenta));
                if (nv::evaluate(ky_either_cfg[m], r.ky_either[m], b, c).decision == verdict::fail)
                    mark_fail(L.naive_index(m, kayenta_either));
                for (std::size_t h = 0; h < spec.horizons_min.size(); ++h) {
                    if (spec.horizons_min[h] == t) r.out.end_reject[h][m] = z.candidate_value > z05;
                }
            }
        }
    }
    std::vector<cadence_result> out;
    for (auto& r : runs) out.push_back(std::move(r.out));
    return out;
}

// ---- jobs ------------------------------------------------------------------------

struct job {
    std::string table;     // "null" or "detection"
    std::string scenario;  // e.g. "boundary", "ratio 1", "1.5 x k", "named"
    double share;
    run_spec spec;
    std::uint64_t runs;
    std::uint64_t seed_base;
    // results[cadence][run]
    std::vector<std::vector<cadence_result>> results;
    std::vector<bool> detectors_apply;  // which detectors this scenario judges
};

scenario_config traffic(double share, double rpm) {
    scenario_config cfg;
    cfg.traffic.requests_per_minute = rpm;
    cfg.stages = {stage{0, share}};
    return cfg;
}

void at_ratio(scenario_config& c, double r_over_k, double length_ratio = -1) {
    auto& g = c.candidate_regression;
    g.cost = 1.2 * r_over_k;
    g.error = 2.0 * r_over_k;
    g.refusal = 2.0 * r_over_k;
    g.latency = 1.5 * r_over_k;
    g.output_length = length_ratio > 0 ? length_ratio : 1.5 * r_over_k;
    g.thumbs_down = 1.5 * r_over_k;
}

double shape_boundary_length_ratio(double sigma) {
    // KS distance of a log-normal body (99 % of the mass) scaled by r:
    // 0.99 (2 Phi(ln r / (2 sigma)) - 1) = 0.1.
    const boost::math::normal_distribution<double> n;
    return std::exp(2 * sigma * boost::math::quantile(n, (1 + 0.1 / 0.99) / 2));
}

// ---- statistics of the results ----------------------------------------------------

// x with two significant digits ("-" for NaN).
std::string significant2(double x) {
    if (std::isnan(x)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2g", x);
    return buf;
}

std::string pct(double x) { return percent(x, 2); }

// ---- detection limits ------------------------------------------------------------

// Power of the randomised Neyman-Pearson test of p0 against p1 > p0 at level
// alpha on S ~ Binomial(n, p): reject when S > c, and with probability gamma
// when S = c, with c and gamma making the size exactly alpha.
double neyman_pearson_power(std::uint64_t n, double p0, double p1, double alpha) {
    const boost::math::binomial_distribution<double> null(static_cast<double>(n), p0);
    const boost::math::binomial_distribution<double> alt(static_cast<double>(n), p1);
    auto above = [](const auto& d, double c) {
        return boost::math::cdf(boost::math::complement(d, c));
    };
    double c = std::floor(static_cast<double>(n) * p0);
    while (above(null, c) > alpha) c += 1;
    while (c > 0 && above(null, c - 1) <= alpha) c -= 1;
    const double gamma = (alpha - above(null, c)) / boost::math::pdf(null, c);
    return above(alt, c) + gamma * boost::math::pdf(alt, c);
}

// detection_limits.md: the measured share of baseline latencies above
// q99 / 1.5 (what a candidate 2.25 x slower everywhere puts above 1.5 x the
// baseline P99), then the Neyman-Pearson bound per cell.
std::string detection_limits(double rpm, double gate_alpha) {
    scenario_config cfg;
    cfg.traffic.requests_per_minute = rpm;
    cfg.stages = {stage{0, 0.0}};
    scenario sc(cfg, 424242);
    std::vector<double> latency;
    sc.run(
        24 * hour_ns,
        [&](const request_event& e) {
            latency.push_back(static_cast<double>(e.outcome.latency_ns));
        },
        [](const feedback_arrival&) {});
    std::sort(latency.begin(), latency.end());
    const double q99 =
        latency[static_cast<std::size_t>(0.99 * static_cast<double>(latency.size()))];
    const double p99_alt =
        static_cast<double>(latency.end() -
                            std::upper_bound(latency.begin(), latency.end(), q99 / 1.5)) /
        static_cast<double>(latency.size());
    const double refusal = response_model{}.refusal_rate;
    std::ostringstream md;
    md << "# Detection limits: what any valid test can do by 8 h\n\n"
       << "Generated by `benchmarks/simulation/calibration.cpp` (`--limits-only`, see `run.txt`). "
          "For a regression at "
       << "1.5 x k, the most powerful level-alpha test at the 8-hour horizon that is told the "
          "baseline exactly "
       << "(Neyman-Pearson, randomised) detects with the probability below. Any valid test, "
          "sequential or not, "
       << "detects by 8 h with at most this probability: its rejection by then is an event of null "
          "probability "
       << "<= alpha. canarygate's gates do not know the baseline and may be checked at any time, "
          "so they stay "
       << "below these bounds.\n\n"
       << "- P99 gate (k 1.5): a candidate 2.25 x slower everywhere has " << pct(p99_alt)
       << " of its requests above 1.5 x the baseline P99 (measured on " << latency.size()
       << " simulated baseline requests, 24 h of the default scenario), against 1 % at the null "
          "boundary.\n"
       << "- Refusal gate (k 2): baseline refusal rate " << pct(refusal) << ", candidate "
       << pct(2 * refusal) << " at the null boundary and " << pct(3 * refusal) << " at 1.5 x k.\n\n"
       << "| gate | canary share | canary requests in 8 h | bound at the gate's alpha share "
       << fixed(gate_alpha, 4) << " | bound at alpha 0.05 |\n|---|---|---|---|---|\n";
    for (const double share : {0.01, 0.10}) {
        const auto n = static_cast<std::uint64_t>(std::llround(rpm * 480 * share));
        md << "| latency_p99 | " << pct(share) << " | " << n << " | "
           << pct(neyman_pearson_power(n, 0.01, p99_alt, gate_alpha)) << " | "
           << pct(neyman_pearson_power(n, 0.01, p99_alt, 0.05)) << " |\n";
        md << "| refusal_rate | " << pct(share) << " | " << n << " | "
           << pct(neyman_pearson_power(n, 2 * refusal, 3 * refusal, gate_alpha)) << " | "
           << pct(neyman_pearson_power(n, 2 * refusal, 3 * refusal, 0.05)) << " |\n";
    }
    md << "\nCompare with the detection tables of `calibration.md` (share of rollouts failed by 8 "
          "h at 1.5 x k).\n";
    return md.str();
}

struct options : canarygate_bench::run_options {
    options() : run_options(2000, 500) {}
    double rpm = 600;
    std::int64_t horizon_hours = 24;
    bool limits_only = false;
};

}  // namespace

int main(int argc, char** argv) {
    options opt;
    CLI::App app{
        "The calibration benchmark: false alarms, detection and detection limits of the gates",
        "canarygate_calibration"};
    opt.add_to(app);
    app.add_option("--horizon-hours", opt.horizon_hours, "longest horizon of the false-alarm cells")
        ->check(canarygate_bench::whole_number_in(1, 24 * 365))
        ->capture_default_str();
    app.add_option("--rpm", opt.rpm, "requests per minute, both arms")
        ->check(canarygate_bench::positive_number)
        ->capture_default_str();
    app.add_flag("--limits-only", opt.limits_only, "write detection_limits.md only (seconds)");
    CLI11_PARSE(app, argc, argv);
    if (opt.smoke) {
        opt.runs = std::min<std::uint64_t>(opt.runs, 4);
        opt.detect_runs = std::min<std::uint64_t>(opt.detect_runs, 4);
        opt.horizon_hours = 1;
    }
    std::filesystem::create_directories(opt.out);

    const layout& L = the_layout();
    {
        const std::string limits = detection_limits(opt.rpm, L.gate_alpha.front());
        std::ofstream(opt.out / "detection_limits.md") << limits;
        if (opt.limits_only) {
            std::printf("%s", limits.c_str());
            return 0;
        }
    }
    const std::size_t D = L.detectors.size();
    std::vector<std::int64_t> horizons = {60, 8 * 60, 24 * 60};
    horizons.erase(std::remove_if(horizons.begin(), horizons.end(),
                                  [&](std::int64_t h) { return h > opt.horizon_hours * 60; }),
                   horizons.end());
    if (horizons.empty() || horizons.back() != opt.horizon_hours * 60)
        horizons.push_back(opt.horizon_hours * 60);
    const std::vector<std::int64_t> null_cadences = {1, 5, 15};
    const std::int64_t detect_horizon = std::min<std::int64_t>(8 * 60, opt.horizon_hours * 60);
    const double shape_r = shape_boundary_length_ratio(response_model{}.output_tokens_sigma);

    std::vector<job> jobs;
    std::uint64_t seed = 1;
    auto applies = [&](std::initializer_list<const char*> excluded_gates, bool policy_applies) {
        std::vector<bool> a(D, true);
        for (std::size_t g = 0; g < L.gates; ++g) {
            for (const char* e : excluded_gates) {
                if (L.policy_cfg.gates[g].name() == e) a[g] = false;
            }
        }
        a[L.policy_fail] = a[L.policy_any] = policy_applies;
        return a;
    };
    for (const double share : {0.01, 0.10}) {
        // Null: every gate at its boundary except shape (length x1.5 violates it).
        job b{"null",   "boundary (every gate at ratio k)",
              share,    {traffic(share, opt.rpm), null_cadences, horizons},
              opt.runs, seed,
              {},       applies({"output_shape"}, false)};
        at_ratio(b.spec.scenario, 1.0);
        // Shape and policy boundary: length x1.194 (KS 0.1); length quantiles inside.
        job s{"null",   "policy boundary (length x" + fixed(shape_r, 3) + ": KS at 0.1)",
              share,    {traffic(share, opt.rpm), null_cadences, horizons},
              opt.runs, seed + 1'000'000,
              {},       std::vector<bool>(D, false)};
        at_ratio(s.spec.scenario, 1.0, shape_r);
        s.detectors_apply = applies({}, true);
        // The naive comparators for length look at p90 with k 1.5: inside their null here; judged in "boundary".
        for (std::size_t d = L.naive_begin; d < D; ++d)
            s.detectors_apply[d] = L.detectors[d].metric != "output_length_p90";
        job one{"null",   "ratio 1 (identical versions)",
                share,    {traffic(share, opt.rpm), null_cadences, horizons},
                opt.runs, seed + 2'000'000,
                {},       applies({}, true)};
        jobs.push_back(std::move(b));
        jobs.push_back(std::move(s));
        jobs.push_back(std::move(one));
        seed += 3'000'000;
        for (const double r : {1.1, 1.25, 1.5, 2.0, 3.0}) {
            job d{"detection",
                  significant2(r) + " x k",
                  share,
                  {traffic(share, opt.rpm), {5}, {detect_horizon}},
                  opt.detect_runs,
                  seed,
                  {},
                  applies({}, false)};
            at_ratio(d.spec.scenario, r);
            jobs.push_back(std::move(d));
            seed += 1'000'000;
        }
        job n{"detection",
              "named: +25 % cost, +50 % P99, 2x refusals, length x1.5, thumbs-down x1.5",
              share,
              {traffic(share, opt.rpm), {5}, {detect_horizon}},
              opt.detect_runs,
              seed,
              {},
              applies({}, false)};
        auto& g = n.spec.scenario.candidate_regression;
        g.cost = 1.25;
        g.latency = 1.5;
        g.refusal = 2.0;
        g.output_length = 1.5;
        g.thumbs_down = 1.5;
        jobs.push_back(std::move(n));
        seed += 1'000'000;
    }

    // Work items: (job, chunk of runs).
    struct item {
        std::size_t job;
        std::uint64_t first, count;
    };
    std::vector<item> items;
    double total_cost = 0;  // in simulated canary-hours x cadences, for progress
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        jobs[j].results.assign(jobs[j].spec.cadences_min.size(),
                               std::vector<cadence_result>(jobs[j].runs));
        const std::uint64_t chunk = 25;
        for (std::uint64_t f = 0; f < jobs[j].runs; f += chunk)
            items.push_back({j, f, std::min(chunk, jobs[j].runs - f)});
        total_cost += static_cast<double>(jobs[j].runs) *
                      static_cast<double>(jobs[j].spec.horizons_min.back()) *
                      (1.0 + 0.3 * static_cast<double>(jobs[j].spec.cadences_min.size()));
    }
    // Longest items first (null jobs), so the threads finish together.
    std::stable_sort(items.begin(), items.end(), [&](const item& a, const item& b) {
        return jobs[a.job].spec.horizons_min.back() *
                   static_cast<std::int64_t>(jobs[a.job].spec.cadences_min.size()) >
               jobs[b.job].spec.horizons_min.back() *
                   static_cast<std::int64_t>(jobs[b.job].spec.cadences_min.size());
    });
    std::mutex print_mutex;
    double done_cost = 0;
    const auto start = std::chrono::steady_clock::now();
    std::fprintf(
        stderr,
        "calibration: %zu jobs, %zu work items, %u threads, runs %llu (null) / %llu (detection)\n",
        jobs.size(), items.size(), opt.threads, static_cast<unsigned long long>(opt.runs),
        static_cast<unsigned long long>(opt.detect_runs));
    canarygate_bench::parallel_for(items.size(), opt.threads, [&](std::size_t i) {
        const item it = items[i];
        job& jb = jobs[it.job];
        for (std::uint64_t r = it.first; r < it.first + it.count; ++r) {
            auto res = simulate(jb.spec, jb.seed_base + r);
            // Each (job, run) slot has one writer: no lock needed for the results.
            for (std::size_t c = 0; c < res.size(); ++c) jb.results[c][r] = std::move(res[c]);
        }
        const std::lock_guard<std::mutex> lock(print_mutex);
        done_cost += static_cast<double>(it.count) *
                     static_cast<double>(jb.spec.horizons_min.back()) *
                     (1.0 + 0.3 * static_cast<double>(jb.spec.cadences_min.size()));
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double frac = done_cost / total_cost;
        std::fprintf(stderr, "\r  %5.1f %% done, %6.0f s elapsed, ~%6.0f s left   ", 100 * frac,
                     elapsed, elapsed / frac * (1 - frac));
        std::fflush(stderr);
    });
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\ncalibration: done in %.0f s\n", wall);

    // ---- report --------------------------------------------------------------------
    std::ofstream csv(opt.out / "calibration.csv");
    csv << "table,scenario,canary_share,cadence_min,horizon_h,detector,kind,target_alpha,runs,"
           "events,rate,"
           "cp_upper_95,median_delay_min,p90_delay_min,median_delay_canary_requests,p90_delay_"
           "canary_requests\n";
    std::ostringstream md;
    md << "# Calibration benchmark\n\n"
       << "Generated by `benchmarks/simulation/calibration.cpp` (see `run.txt` for the command, "
          "machine and wall time). "
       << "Traffic: " << opt.rpm << " requests/min in total, canary share 1 % ("
       << fixed(opt.rpm * 5 * 0.01, 0)
       << " canary requests per 5 min) and 10 %; default_policy() (9 gates, "
       << "alpha_fail 0.05 split by Bonferroni: " << fixed(L.gate_alpha.front(), 4)
       << " per gate); "
       << "gate_tuning.intervals = false (decisions do not depend on it).\n\n"
       << "Rates are per rollout (a run counts once, at its first fail); `ub` is the one-sided "
          "Clopper-Pearson 95 % "
       << "upper bound. Gate target: rate <= its alpha share and ub <= 1.5 x that; policy target: "
          "0.05. "
       << "Naive comparators have no error control: their nominal level is shown for reference. "
          "Naive variants: ";
    for (std::size_t v = 0; v < naive_kinds; ++v)
        md << (v ? "; " : "") << "`" << naive_kind_short[v] << "` = " << naive_kind_name[v];
    md << " (each with the metric's default k).\n\n";

    // Null tables.
    md << "## 1. False alarms (null hypotheses true)\n\n";
    std::vector<std::string> worst_lines;
    double worst_gate_ratio = 0, worst_policy = 0;
    std::string worst_gate_cell, worst_policy_cell;
    for (const auto& jb : jobs) {
        if (jb.table != "null") continue;
        md << "### " << jb.scenario << ", canary share " << pct(jb.share) << ", " << jb.runs
           << " runs per cell\n\n";
        md << "| detector | target |";
        for (const auto c : jb.spec.cadences_min) {
            for (const auto h : jb.spec.horizons_min)
                md << " every " << c << " min, " << h / 60 << " h |";
        }
        md << "\n|---|---|";
        for (std::size_t i = 0; i < jb.spec.cadences_min.size() * jb.spec.horizons_min.size(); ++i)
            md << "---|";
        md << "\n";
        for (std::size_t d = 0; d < D; ++d) {
            if (!jb.detectors_apply[d]) continue;
            const auto& det = L.detectors[d];
            md << "| " << det.name << " | "
               << (det.kind == "naive" ? "(none)" : fixed(det.alpha, 4)) << " |";
            for (std::size_t c = 0; c < jb.spec.cadences_min.size(); ++c) {
                for (const auto h : jb.spec.horizons_min) {
                    std::uint64_t fails = 0;
                    for (const auto& r : jb.results[c])
                        fails += (r.fail_min[d] != never && r.fail_min[d] <= h) ? 1U : 0U;
                    const double rate = static_cast<double>(fails) / static_cast<double>(jb.runs);
                    const double ub = clopper_pearson_upper(fails, jb.runs);
                    const bool ok =
                        det.kind == "naive" || (rate <= det.alpha && ub <= 1.5 * det.alpha);
                    md << " " << pct(rate) << " (ub " << pct(ub) << ")" << (ok ? "" : " **over**")
                       << " |";
                    csv << "null,\"" << jb.scenario << "\"," << jb.share << ","
                        << jb.spec.cadences_min[c] << "," << h / 60 << ",\"" << det.name << "\","
                        << det.kind << "," << det.alpha << "," << jb.runs << "," << fails << ","
                        << rate << "," << ub << ",,,,\n";
                    const std::string cell =
                        det.name + " / " + jb.scenario + " / share " + pct(jb.share) + " / every " +
                        std::to_string(jb.spec.cadences_min[c]) + " min / " +
                        std::to_string(h / 60) + " h: " + pct(rate) + " (ub " + pct(ub) + ")";
                    if (det.kind == "gate" && rate / det.alpha > worst_gate_ratio) {
                        worst_gate_ratio = rate / det.alpha;
                        worst_gate_cell = cell + ", alpha " + fixed(det.alpha, 4);
                    }
                    if (d == L.policy_any && rate > worst_policy) {
                        worst_policy = rate;
                        worst_policy_cell = cell;
                    }
                }
            }
            md << "\n";
        }
        // One fixed-sample test at the end (the naive z-test looked at once).
        md << "\nOne fixed-sample one-sided z-test (alpha 0.05) at the horizon only, every-"
           << jb.spec.cadences_min.front() << "-min increments: ";
        for (std::size_t m = 0; m < L.nm.size(); ++m) {
            if (!jb.detectors_apply[L.naive_index(m, 0)]) continue;
            md << L.nm[m].name << " ";
            for (std::size_t h = 0; h < jb.spec.horizons_min.size(); ++h) {
                std::uint64_t rej = 0;
                for (const auto& r : jb.results[0]) rej += r.end_reject[h][m] ? 1U : 0U;
                md << (h ? "/" : "")
                   << pct(static_cast<double>(rej) / static_cast<double>(jb.runs));
                csv << "null_fixed_end,\"" << jb.scenario << "\"," << jb.share << ","
                    << jb.spec.cadences_min.front() << "," << jb.spec.horizons_min[h] / 60 << ",\""
                    << L.nm[m].name << " fixed z at end\",naive,0.05," << jb.runs << "," << rej
                    << "," << static_cast<double>(rej) / static_cast<double>(jb.runs) << ","
                    << clopper_pearson_upper(rej, jb.runs) << ",,,,\n";
            }
            md << " (" << jb.spec.horizons_min.size() << " horizons); ";
        }
        std::uint64_t srm = 0;
        for (const auto& r : jb.results[0]) srm += r.srm_invalid ? 1U : 0U;
        md << "\nSample-ratio check said `invalid` in " << srm << " of " << jb.runs << " runs.\n\n";
        // Time to pass at ratio 1.
        if (jb.scenario.rfind("ratio 1", 0) == 0) {
            md << "Time to pass (identical versions), checks every " << jb.spec.cadences_min[1]
               << " min: share of runs passing by the horizon, median / 90th percentile minutes to "
                  "the first pass:\n\n"
               << "| gate | passed by " << jb.spec.horizons_min.back() / 60
               << " h | median min | p90 min |\n|---|---|---|---|\n";
            for (std::size_t g = 0; g <= L.gates; ++g) {
                std::vector<double> t;
                for (const auto& r : jb.results[1]) {
                    if (r.pass_min[g] != never) t.push_back(static_cast<double>(r.pass_min[g]));
                }
                const std::string nm =
                    g < L.gates ? L.detectors[g].name : "policy (every gate passes)";
                md << "| " << nm << " | "
                   << pct(static_cast<double>(t.size()) / static_cast<double>(jb.runs)) << " | "
                   << fixed(nearest_rank_quantile(t, 0.5), 0) << " | "
                   << fixed(nearest_rank_quantile(t, 0.9), 0) << " |\n";
                csv << "time_to_pass,\"" << jb.scenario << "\"," << jb.share << ","
                    << jb.spec.cadences_min[1] << "," << jb.spec.horizons_min.back() / 60 << ",\""
                    << nm << "\",pass,," << jb.runs << "," << t.size() << ","
                    << static_cast<double>(t.size()) / static_cast<double>(jb.runs) << ",,"
                    << nearest_rank_quantile(t, 0.5) << "," << nearest_rank_quantile(t, 0.9)
                    << ",,\n";
            }
            md << "\n";
        }
    }

    // Detection tables.
    md << "## 2. Detection (checks every 5 min, horizon " << detect_horizon / 60 << " h, "
       << opt.detect_runs << " runs per cell)\n\n"
       << "Each cell: probability of a fail by the horizon; median / 90th-percentile delay in "
          "minutes and [in canary "
       << "requests] among the detected runs. Ratios are true candidate/baseline ratios over each "
          "gate's own k "
       << "(P99 k 1.5, cost 1.2, errors and refusals 2, length 1.5, thumbs-down 1.5). The shape "
          "gate is judged on "
       << "the length scaling (KS > 0.1 for any length ratio above 1.19).\n\n";
    std::vector<std::string> headline;
    for (const double share : {0.01, 0.10}) {
        md << "### canary share " << pct(share) << "\n\n| detector |";
        std::vector<const job*> cols;
        for (const auto& jb : jobs) {
            if (jb.table == "detection" && jb.share == share) {
                cols.push_back(&jb);
                md << " "
                   << (jb.scenario.rfind("named", 0) == 0 ? std::string("named regressions")
                                                          : jb.scenario)
                   << " |";
            }
        }
        md << "\n|---|";
        for (std::size_t i = 0; i < cols.size(); ++i) md << "---|";
        md << "\n";
        for (std::size_t d = 0; d < D; ++d) {
            if (d == L.policy_fail || d == L.policy_any) continue;
            md << "| " << L.detectors[d].name << " |";
            for (const job* jb : cols) {
                std::vector<double> tmin, treq;
                for (const auto& r : jb->results[0]) {
                    if (r.fail_min[d] != never) {
                        tmin.push_back(static_cast<double>(r.fail_min[d]));
                        treq.push_back(r.fail_requests[d]);
                    }
                }
                const double p = static_cast<double>(tmin.size()) / static_cast<double>(jb->runs);
                const double min50 = nearest_rank_quantile(tmin, 0.5),
                             min90 = nearest_rank_quantile(tmin, 0.9);
                const double req50 = nearest_rank_quantile(treq, 0.5),
                             req90 = nearest_rank_quantile(treq, 0.9);
                md << " " << pct(p) << "; " << fixed(min50, 0) << " / " << fixed(min90, 0)
                   << " min [" << fixed(req50, 0) << " / " << fixed(req90, 0) << "] |";
                csv << "detection,\"" << jb->scenario << "\"," << share << ",5,"
                    << detect_horizon / 60 << ",\"" << L.detectors[d].name << "\","
                    << L.detectors[d].kind << "," << L.detectors[d].alpha << "," << jb->runs << ","
                    << tmin.size() << "," << p << ","
                    << clopper_pearson_upper(tmin.size(), jb->runs) << "," << min50 << "," << min90
                    << "," << req50 << "," << req90 << "\n";
                if (jb->scenario == "1.5 x k" && d < L.gates &&
                    (L.detectors[d].name == "latency_p99" || L.detectors[d].name == "cost" ||
                     L.detectors[d].name == "refusal_rate")) {
                    headline.push_back(
                        L.detectors[d].name + " at 1.5 x k, share " + pct(share) + ": " + pct(p) +
                        " detected by " + std::to_string(detect_horizon / 60) + " h, median " +
                        fixed(min50, 0) + " min (" + fixed(req50, 0) + " canary requests), p90 " +
                        fixed(min90, 0) + " min" + (p >= 0.95 ? "" : " **below 95 %**"));
                }
            }
            md << "\n";
        }
        md << "\n";
    }
    // Feedback note.
    const response_model rm{};
    md << "### Feedback: events per hour\n\n";
    for (const double share : {0.01, 0.10}) {
        const double canary_per_h = opt.rpm * 60 * share;
        md << "- canary share " << pct(share) << ": " << fixed(canary_per_h, 0)
           << " canary requests/h, "
           << fixed(canary_per_h * rm.feedback_probability * rm.thumbs_down_share, 1)
           << " thumbs-down events/h at the baseline rate (feedback on "
           << pct(rm.feedback_probability) << " of requests, " << pct(rm.thumbs_down_share)
           << " of it negative, median delay " << fixed(rm.feedback_delay_median_s / 60, 0)
           << " min). The gate needs at least 4 candidate events and, with the baseline ~"
           << fixed((1 - share) / share, 0)
           << "x larger, a few dozen candidate events to separate 1.5x from 2.25x.\n";
    }
    md << "\n## Headline\n\n- worst gate false-alarm cell (rate / its alpha share): "
       << worst_gate_cell
       << "\n- worst policy cell (any gate, roll back or hold): " << worst_policy_cell << "\n";
    for (const auto& h : headline) md << "- " << h << "\n";
    md << "\nWall time: " << fixed(wall, 0) << " s with " << opt.threads << " threads.\n";
    std::ofstream(opt.out / "calibration.md") << md.str();
    std::printf("%s", md.str().c_str());
    return 0;
}
