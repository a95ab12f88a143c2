// SPDX-License-Identifier: MIT
// Certifies the false-alarm rate of the rate gates (error, refusal,
// thumbs-down) at their null boundary with enough runs that the one-sided
// Clopper-Pearson 95 % upper bound can fall below 1.5 x the gate's alpha
// share, which 2,000 runs cannot do for a test whose real rate is near alpha.
//
//   canarygate_rate_certification --out DIR [--runs N=40000] [--detect-runs M=20000]
//                                 [--threads T=2] [--smoke]
//
// Why a separate program: the rate gates read three counters per arm and
// increment (requests, events, thumbs-down arrivals), so their law can be
// drawn at the level of counts, ~100x faster than request by request: 40,000
// 24-hour runs per canary share fit in minutes (wall time in run.txt). The
// counts follow the law of canarygate::testkit::scenario with its default
// response_model exactly: Poisson arrivals split between the arms (so
// independent per-arm Poisson counts, drawn per minute), each request a
// refusal with probability r * k or an error with probability e * k
// (exclusive, as in the scenario), independently feedback with probability
// 0.03 of which a share 0.2 * k is a thumbs-down, arriving after a log-normal
// delay (median 600 s, sigma 1.2) from a uniform time within its minute. Both arms sit exactly on
// the boundary (candidate rates = k x baseline), the worst case of every gate's null. The gates are
// the ones of default_policy(), driven through rate_gate::evaluate() with the policy's Bonferroni shares,
// as the policy drives them.
//
// A second part measures detection at 1.5 x k (1 % and 10 % canaries, checks
// every 5 min for 8 h) for the gate as shipped and for the sequential oracle
// that knows the true ratio (see simulate_detection).
//
// Writes DIR/rate_certification.md, DIR/rate_certification.csv and
// DIR/rate_detection.csv, and checks the simulated counts of the first part
// against their expectations (exit 1 if they disagree).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <boost/math/distributions/lognormal.hpp>

#include "canarygate/gates/calibration.hpp"
#include "canarygate/gates/default_policy.hpp"
#include "canarygate/gates/gate.hpp"
#include "canarygate/gates/policy.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/testing/scenario.hpp"
#include "simulation_support.hpp"

namespace {

using namespace canarygate;
using namespace canarygate_bench;

constexpr std::int64_t never = -1;
const std::vector<std::int64_t> cadences_min = {1, 5, 15};
const std::vector<std::int64_t> horizons_min = {60, 8 * 60, 24 * 60};

struct certified_gate {
    canarygate::rate_gate gate;
    double alpha;       // the policy's Bonferroni share
    double alpha_pass;  // the policy's pass level
    gate_tuning tuning;
};

std::vector<certified_gate> rate_gates() {
    policy_config cfg = default_policy();
    // Intervals are reporting only (decisions do not depend on them) and
    // replay every stored window at each check: off, as in calibration.cpp.
    cfg.tuning.intervals = false;
    const policy p(cfg);
    std::vector<certified_gate> out;
    for (std::size_t g = 0; g < cfg.gates.size(); ++g) {
        if (const auto* rate = std::get_if<canarygate::rate_gate>(&cfg.gates[g].kind()))
            out.push_back({*rate, p.gate_alpha()[g], cfg.alpha_pass, cfg.tuning});
    }
    return out;
}

// Per-arm counts of one minute (events as counted by the gates).
struct arm_minute {
    std::uint64_t requests = 0, refusals = 0, errors = 0, thumbs_down_arrivals = 0;

    arm_minute& operator+=(const arm_minute& o) noexcept {
        requests += o.requests;
        refusals += o.refusals;
        errors += o.errors;
        thumbs_down_arrivals += o.thumbs_down_arrivals;
        return *this;
    }
};

struct arm_law {
    double requests_per_minute;
    double refusal, error, thumbs_down;  // per request
};

// One arm's 24 h (or shorter) of minutes. Poisson splitting: each request of
// a Poisson stream falls independently into one cell (outcome refusal / error
// / other) x (thumbs-down or not), so the six cell counts are independent
// Poisson variables and the arm's counters are sums of them. Only
// std::poisson_distribution is used: libstdc++ 12's binomial_distribution is
// biased in its n p >= 8 branch for small p (mean 11.897 instead of 11.880
// for n 594, p 0.02: 22 standard errors over 2e7 draws; +0.25 % at n p 8.1),
// which the law check below caught.
void draw_arm(const arm_law& law, std::int64_t minutes, std::mt19937_64& rng,
              std::vector<arm_minute>& out) {
    const testkit::response_model m;
    const double other = 1.0 - law.refusal - law.error;
    const double rate = law.requests_per_minute;
    auto poisson = [&](double mean) { return std::poisson_distribution<std::uint64_t>(mean); };
    // [outcome: refusal, error, other][thumbs-down: no, yes]
    std::poisson_distribution<std::uint64_t> cell[3][2] = {
        {poisson(rate * law.refusal * (1 - law.thumbs_down)),
         poisson(rate * law.refusal * law.thumbs_down)},
        {poisson(rate * law.error * (1 - law.thumbs_down)),
         poisson(rate * law.error * law.thumbs_down)},
        {poisson(rate * other * (1 - law.thumbs_down)), poisson(rate * other * law.thumbs_down)}};
    std::uniform_real_distribution<double> within(0.0, 1.0);
    std::normal_distribution<double> z;
    for (std::int64_t t = 0; t < minutes; ++t) {
        std::uint64_t n[3][2];
        for (std::size_t o = 0; o < 3; ++o) {
            for (std::size_t d = 0; d < 2; ++d) n[o][d] = cell[o][d](rng);
        }
        auto& row = out[static_cast<std::size_t>(t)];
        row.refusals = n[0][0] + n[0][1];
        row.errors = n[1][0] + n[1][1];
        row.requests = row.refusals + row.errors + n[2][0] + n[2][1];
        const std::uint64_t downs = n[0][1] + n[1][1] + n[2][1];
        for (std::uint64_t i = 0; i < downs; ++i) {
            const double delay_min =
                m.feedback_delay_median_s * std::exp(m.feedback_delay_sigma * z(rng)) / 60.0;
            const double arrival = static_cast<double>(t) + within(rng) + delay_min;
            if (arrival < static_cast<double>(minutes)) {
                ++out[static_cast<std::size_t>(arrival)].thumbs_down_arrivals;
            }
        }
    }
}

arm_snapshot increment(const std::vector<arm_minute>& minutes, std::int64_t from, std::int64_t to) {
    arm_minute sum;
    for (std::int64_t t = from; t < to; ++t) sum += minutes[static_cast<std::size_t>(t)];
    arm_snapshot a;
    a.add_counter(series::requests, wide_uint{sum.requests});
    a.add_counter(
        std::string(series::outcome_prefix) + std::string(name(outcome::refusal_provider)),
        wide_uint{sum.refusals});
    a.add_counter(std::string(series::outcome_prefix) + std::string(name(outcome::server_error)),
                  wide_uint{sum.errors});
    a.add_counter(
        std::string(series::feedback_prefix) + std::string(name(feedback_kind::thumbs_down)),
        wide_uint{sum.thumbs_down_arrivals});
    return a;
}

struct run_result {
    // first_fail[gate][cadence], minutes or never
    std::vector<std::vector<std::int64_t>> first_fail;
    // totals over the run, per arm (0 baseline, 1 candidate), for the law check
    std::array<arm_minute, 2> totals{};
};

// Baseline and candidate laws with every rate gate's candidate at `r_over_k`
// times its k (1: exactly at the boundary); each multiplier acts on its own
// counter.
std::array<arm_law, 2> laws_at(const std::vector<certified_gate>& gates, double share, double rpm,
                               double r_over_k) {
    const testkit::response_model m;
    double k_error = 1, k_refusal = 1, k_down = 1;
    for (const auto& g : gates) {
        const double ratio = g.gate.config().multiplier * r_over_k;
        if (g.gate.metric() == signal::error_rate) k_error = ratio;
        if (g.gate.metric() == signal::refusal_rate) k_refusal = ratio;
        if (g.gate.metric() == signal::feedback_rate) k_down = ratio;
    }
    return {arm_law{rpm * (1 - share), m.refusal_rate, m.error_rate,
                    m.feedback_probability * m.thumbs_down_share},
            arm_law{rpm * share, m.refusal_rate * k_refusal, m.error_rate * k_error,
                    m.feedback_probability * std::min(1.0, m.thumbs_down_share * k_down)}};
}

run_result simulate(const std::vector<certified_gate>& gates, double share, double rpm,
                    std::int64_t minutes, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const std::array<arm_law, 2> laws = laws_at(gates, share, rpm, 1.0);
    std::array<std::vector<arm_minute>, 2> arms;
    for (auto& a : arms) a.assign(static_cast<std::size_t>(minutes), arm_minute{});
    draw_arm(laws[0], minutes, rng, arms[0]);
    draw_arm(laws[1], minutes, rng, arms[1]);

    run_result out;
    out.first_fail.assign(gates.size(), std::vector<std::int64_t>(cadences_min.size(), never));
    for (std::size_t c = 0; c < cadences_min.size(); ++c) {
        const std::int64_t step = cadences_min[c];
        std::vector<canarygate::rate_gate::state> states(gates.size());
        for (std::int64_t t = step; t <= minutes; t += step) {
            const arm_snapshot b = increment(arms[0], t - step, t);
            const arm_snapshot cand = increment(arms[1], t - step, t);
            for (std::size_t g = 0; g < gates.size(); ++g) {
                if (out.first_fail[g][c] != never)
                    continue;  // a rollout counts once, at its first fail
                const gate_result r = gates[g].gate.evaluate(states[g], b, cand, gates[g].alpha,
                                                             gates[g].alpha_pass, gates[g].tuning);
                if (r.decision == verdict::fail) out.first_fail[g][c] = t;
            }
        }
    }
    for (std::size_t a = 0; a < 2; ++a) {
        for (const auto& r : arms[a]) out.totals[a] += r;
    }
    return out;
}

// Detection at r_over_k x k, checks every 5 min for 8 h: does the gate as
// shipped fail, and does the sequential oracle? The oracle is the one-point
// likelihood-ratio e-process at the true ratio (rate_ratio_e_process<1>),
// with the gate's threshold 1/alpha and min_events: what the grid mixture
// would be if it knew the alternative in advance.
struct detection_result {
    std::vector<bool> gate, oracle;  // per rate gate
};

detection_result simulate_detection(const std::vector<certified_gate>& gates, double share,
                                    double rpm, double r_over_k, std::uint64_t seed) {
    constexpr std::int64_t minutes = 8 * 60;
    constexpr std::int64_t step = 5;
    std::mt19937_64 rng(seed);
    const std::array<arm_law, 2> laws = laws_at(gates, share, rpm, r_over_k);
    std::array<std::vector<arm_minute>, 2> arms;
    for (auto& a : arms) a.assign(static_cast<std::size_t>(minutes), arm_minute{});
    draw_arm(laws[0], minutes, rng, arms[0]);
    draw_arm(laws[1], minutes, rng, arms[1]);

    detection_result out{std::vector<bool>(gates.size(), false),
                         std::vector<bool>(gates.size(), false)};
    std::vector<canarygate::rate_gate::state> states(gates.size());
    std::vector<stats::rate_ratio_e_process<1>> oracle;
    std::vector<double> oracle_candidate_events(gates.size(), 0.0);
    for (const auto& g : gates)
        oracle.emplace_back(g.gate.config().multiplier, std::array<double, 1>{r_over_k});
    for (std::int64_t t = step; t <= minutes; t += step) {
        const arm_snapshot b = increment(arms[0], t - step, t);
        const arm_snapshot cand = increment(arms[1], t - step, t);
        for (std::size_t g = 0; g < gates.size(); ++g) {
            const certified_gate& gate = gates[g];
            if (!out.gate[g]) {
                const gate_result r = gate.gate.evaluate(states[g], b, cand, gate.alpha,
                                                         gate.alpha_pass, gate.tuning);
                out.gate[g] = r.decision == verdict::fail;
            }
            if (!out.oracle[g]) {
                const double ce =
                    detail::rate_events(gate.gate.metric(), gate.gate.config().feedback, cand);
                const double be =
                    detail::rate_events(gate.gate.metric(), gate.gate.config().feedback, b);
                const double nc = cand.counter(series::requests).to_double();
                const double nb = b.counter(series::requests).to_double();
                if (ce + be > 0 && nc > 0 && nb > 0) {
                    oracle[g].update(static_cast<std::uint64_t>(ce),
                                     static_cast<std::uint64_t>(ce + be), nc, nb);
                }
                oracle_candidate_events[g] += ce;
                out.oracle[g] = oracle[g].log_e_value() >= std::log(1.0 / gate.alpha) &&
                                oracle_candidate_events[g] >=
                                    static_cast<double>(gate.gate.config().min_events);
            }
        }
    }
    return out;
}

std::string pct(double x) { return percent(x, 3); }

}  // namespace

int main(int argc, char** argv) {
    run_options opt(40000, 20000);
    CLI::App app{
        "The rate gates' false alarms at their null boundary, certified; detection against the "
        "oracle",
        "canarygate_rate_certification"};
    opt.add_to(app);
    CLI11_PARSE(app, argc, argv);
    const std::filesystem::path& out_dir = opt.out;
    const unsigned threads = opt.threads;
    const std::uint64_t runs = opt.smoke ? std::min<std::uint64_t>(opt.runs, 40) : opt.runs;
    const std::uint64_t detect_runs =
        opt.smoke ? std::min<std::uint64_t>(opt.detect_runs, 40) : opt.detect_runs;
    const double rpm = 600;
    std::filesystem::create_directories(out_dir);

    const std::vector<certified_gate> gates = rate_gates();
    const std::vector<double> shares = {0.01, 0.10};
    const std::int64_t minutes = horizons_min.back();
    // fails[share][gate][cadence][horizon]
    std::vector<std::vector<std::vector<std::vector<std::uint64_t>>>> fails(
        shares.size(), std::vector<std::vector<std::vector<std::uint64_t>>>(
                           gates.size(), std::vector<std::vector<std::uint64_t>>(
                                             cadences_min.size(),
                                             std::vector<std::uint64_t>(horizons_min.size(), 0))));
    std::vector<std::array<std::array<double, 4>, 2>> totals(
        shares.size());  // [share][arm][counter]
    std::mutex merge;
    const auto start = std::chrono::steady_clock::now();
    parallel_for(runs * shares.size(), threads, [&](std::uint64_t i) {
        const std::size_t s = i / runs;
        const std::uint64_t run = i % runs;
        const run_result r = simulate(gates, shares[s], rpm, minutes,
                                      0x7a7e'0000'0000ULL + s * 1'000'000'000ULL + run);
        const std::lock_guard lock(merge);
        for (std::size_t g = 0; g < gates.size(); ++g) {
            for (std::size_t c = 0; c < cadences_min.size(); ++c) {
                const std::int64_t f = r.first_fail[g][c];
                for (std::size_t h = 0; h < horizons_min.size(); ++h) {
                    if (f != never && f <= horizons_min[h]) ++fails[s][g][c][h];
                }
            }
        }
        for (std::size_t a = 0; a < 2; ++a) {
            totals[s][a][0] += static_cast<double>(r.totals[a].requests);
            totals[s][a][1] += static_cast<double>(r.totals[a].refusals);
            totals[s][a][2] += static_cast<double>(r.totals[a].errors);
            totals[s][a][3] += static_cast<double>(r.totals[a].thumbs_down_arrivals);
        }
        if ((i + 1) % 2000 == 0) {
            const double el =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            std::fprintf(stderr, "%llu / %llu runs, %.0f s\n",
                         static_cast<unsigned long long>(i + 1),
                         static_cast<unsigned long long>(runs * shares.size()), el);
        }
    });
    // Detection at 1.5 x k: [share][gate] detections by the gate and by the oracle.
    constexpr double detect_ratio = 1.5;
    std::vector<std::vector<std::array<std::uint64_t, 2>>> detected(
        shares.size(), std::vector<std::array<std::uint64_t, 2>>(gates.size(), {0, 0}));
    parallel_for(detect_runs * shares.size(), threads, [&](std::uint64_t i) {
        const std::size_t s = i / detect_runs;
        const detection_result r =
            simulate_detection(gates, shares[s], rpm, detect_ratio,
                               0xde7e'0000'0000ULL + s * 1'000'000'000ULL + i % detect_runs);
        const std::lock_guard lock(merge);
        for (std::size_t g = 0; g < gates.size(); ++g) {
            if (r.gate[g]) ++detected[s][g][0];
            if (r.oracle[g]) ++detected[s][g][1];
        }
    });
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    // The law check: mean counts per run against their expectations. Relative
    // tolerance 5 standard errors of a Poisson total (each total is a sum of
    // independent Poisson-like counts), so a wiring mistake fails loudly.
    const testkit::response_model m;
    bool law_ok = true;
    std::ostringstream law_table;
    for (std::size_t s = 0; s < shares.size(); ++s) {
        for (std::size_t a = 0; a < 2; ++a) {
            const arm_law law = laws_at(gates, shares[s], rpm, 1.0)[a];
            const double n = law.requests_per_minute * static_cast<double>(minutes);
            // Thumbs-down arrivals by the end: each request served at u minutes
            // before the end arrives in time with probability F(u).
            const boost::math::lognormal_distribution<double> delay(
                std::log(m.feedback_delay_median_s / 60.0), m.feedback_delay_sigma);
            double arrived = 0;  // integral of F over [0, minutes], midpoint rule
            const int steps = 200000;
            for (int i = 0; i < steps; ++i) {
                const double u = (i + 0.5) * static_cast<double>(minutes) / steps;
                arrived += boost::math::cdf(delay, u);
            }
            arrived /= steps;
            const std::array<double, 4> expected = {n, n * law.refusal, n * law.error,
                                                    n * law.thumbs_down * arrived};
            const char* what[4] = {"requests", "refusals", "errors", "thumbs-down arrivals"};
            for (std::size_t q = 0; q < 4; ++q) {
                const double mean = totals[s][a][q] / static_cast<double>(runs);
                const double se = std::sqrt(expected[q] / static_cast<double>(runs));
                const bool ok = std::abs(mean - expected[q]) <= 5 * se;
                law_ok = law_ok && ok;
                law_table << "| " << fixed(100 * shares[s], 0) << " % | "
                          << (a == 0 ? "baseline" : "candidate") << " | " << what[q] << " | "
                          << fixed(mean, 2) << " | " << fixed(expected[q], 2) << " | "
                          << (ok ? "ok" : "**MISMATCH**") << " |\n";
            }
        }
    }

    std::ostringstream md, csv;
    md << "# Rate gates: false alarms at the null boundary, certified\n\n"
       << "Generated by `benchmarks/simulation/rate_certification.cpp` (see `run.txt` for the "
          "command and "
          "wall time). "
       << runs << " runs per cell, every rate gate of default_policy() exactly at its boundary "
       << "(candidate rate = k x baseline), 600 requests/min, checks every 1 / 5 / 15 min, "
          "horizons 1 / 8 / 24 h. "
       << "Counts are drawn per minute from the law of the scenario generator (see the program's "
          "header); the "
       << "gates are driven through rate_gate::evaluate() with their Bonferroni shares. A run "
          "counts "
          "once, at its first "
       << "fail. `ub` is the one-sided Clopper-Pearson 95 % upper bound; target: rate <= alpha and "
          "ub <= 1.5 alpha.\n\n"
       << "| gate | alpha | canary share | every | 1 h | 8 h | 24 h | ub <= 1.5 alpha "
          "|\n|---|---|---|---|---|---|---|---|\n";
    csv << "gate,alpha,canary_share,every_min,horizon_min,runs,fails,rate,cp95_upper\n";
    std::uint64_t over = 0;
    double worst_ub_ratio = 0;
    std::string worst;
    for (std::size_t g = 0; g < gates.size(); ++g) {
        for (std::size_t s = 0; s < shares.size(); ++s) {
            for (std::size_t c = 0; c < cadences_min.size(); ++c) {
                const double alpha = gates[g].alpha;
                md << "| " << gates[g].gate.name() << " | " << fixed(alpha, 5) << " | "
                   << fixed(100 * shares[s], 0) << " % | " << cadences_min[c] << " min |";
                bool row_ok = true;
                for (std::size_t h = 0; h < horizons_min.size(); ++h) {
                    const std::uint64_t f = fails[s][g][c][h];
                    const double rate = static_cast<double>(f) / static_cast<double>(runs);
                    const double ub = stats::clopper_pearson_upper(f, runs);
                    const bool ok = rate <= alpha && ub <= 1.5 * alpha;
                    row_ok = row_ok && ok;
                    if (!ok) ++over;
                    if (ub / alpha > worst_ub_ratio) {
                        worst_ub_ratio = ub / alpha;
                        worst = gates[g].gate.name() + ", " + fixed(100 * shares[s], 0) +
                                " % canary, every " + std::to_string(cadences_min[c]) + " min, " +
                                std::to_string(horizons_min[h] / 60) + " h: " + pct(rate) +
                                " (ub " + pct(ub) + ")";
                    }
                    md << " " << pct(rate) << " (ub " << pct(ub) << ")" << (ok ? "" : " **over**")
                       << " |";
                    csv << gates[g].gate.name() << ',' << alpha << ',' << shares[s] << ','
                        << cadences_min[c] << ',' << horizons_min[h] << ',' << runs << ',' << f
                        << ',' << rate << ',' << ub << '\n';
                }
                md << (row_ok ? " yes" : " **no**") << " |\n";
            }
        }
    }
    md << "\nCells over target: " << over << " of "
       << gates.size() * shares.size() * cadences_min.size() * horizons_min.size()
       << ". Highest upper bound relative to alpha: " << fixed(worst_ub_ratio, 2) << " x, " << worst
       << ".\n\n"
       << "## Detection at 1.5 x k against the sequential oracle\n\n"
       << "Every rate gate's candidate at 1.5 x its k, checks every 5 min for 8 h, " << detect_runs
       << " runs per canary share (same law). The oracle is the one-point likelihood-ratio "
          "e-process at the true "
       << "ratio with the gate's threshold 1/alpha and minimum events: the gate's grid mixture if "
          "it knew the "
       << "alternative in advance. The gap between them is what not knowing the alternative costs; "
          "the oracle's "
       << "own shortfall is what looking at any time with this statistic costs. Detection "
          "probabilities with "
       << "Clopper-Pearson 95 % intervals.\n\n"
       << "| gate | canary share | gate as shipped | oracle |\n|---|---|---|---|\n";
    std::ostringstream detect_csv;
    detect_csv << "gate,canary_share,ratio_over_k,runs,detected_gate,detected_oracle\n";
    for (std::size_t g = 0; g < gates.size(); ++g) {
        for (std::size_t s = 0; s < shares.size(); ++s) {
            md << "| " << gates[g].gate.name() << " | " << fixed(100 * shares[s], 0) << " % |";
            for (const std::uint64_t d : detected[s][g]) {
                const auto ci = stats::clopper_pearson_interval(d, detect_runs, 0.05);
                md << " "
                   << fixed(100 * static_cast<double>(d) / static_cast<double>(detect_runs), 2)
                   << " % (" << fixed(100 * ci.lower, 2) << "-" << fixed(100 * ci.upper, 2)
                   << ") |";
            }
            md << "\n";
            detect_csv << gates[g].gate.name() << ',' << shares[s] << ',' << detect_ratio << ','
                       << detect_runs << ',' << detected[s][g][0] << ',' << detected[s][g][1]
                       << '\n';
        }
    }
    md << "\n## Law check (mean per run against expectation, tolerance 5 standard errors)\n\n"
       << "| canary share | arm | count | simulated | expected | |\n|---|---|---|---|---|---|\n"
       << law_table.str() << "\nWall time in the run loops: " << fixed(wall, 0) << " s on "
       << threads << " threads.\n";
    std::ofstream(out_dir / "rate_certification.md") << md.str();
    std::ofstream(out_dir / "rate_certification.csv") << csv.str();
    std::ofstream(out_dir / "rate_detection.csv") << detect_csv.str();
    std::printf("%s", md.str().c_str());
    if (!law_ok) {
        std::fprintf(stderr,
                     "canarygate_rate_certification: simulated counts disagree with the law (see "
                     "the table)\n");
        return 1;
    }
    return 0;
}
