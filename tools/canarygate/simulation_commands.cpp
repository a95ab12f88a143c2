// SPDX-License-Identifier: MIT
// The commands that run a policy on simulated traffic: plan (the planner's
// runbook), simulate (generated traffic, the lesson's regressions), replay
// (a recorded request log) and calibrate (A/A calibration on a log).
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <canarygate/gates/calibration.hpp>
#include <canarygate/integration/request_log.hpp>
#include <canarygate/testing/kit.hpp>
#include <canarygate/testing/planner.hpp>
#include <canarygate/testing/replay.hpp>
#include <canarygate/testing/simulation_json.hpp>
#include <canarygate/testing/simulation_suite.hpp>

#include "cli.hpp"

namespace canarygate_cli {

namespace cg = canarygate;
namespace tk = canarygate::testkit;

namespace {

/// The policy file's rollout, or the default rollout without one.
cg::controller_config rollout_of(const std::string& policy, const std::string& flag) {
    if (policy.empty()) return tk::default_rollout();
    return read_policy(policy, flag).rollout;
}

/// "cost=1.4,latency=2" → a regression; input_error naming the bad part.
cg::testkit::regression parse_regression(const std::string& text) {
    tk::regression r;
    std::stringstream parts(text);
    std::string part;
    while (std::getline(parts, part, ',')) {
        const std::size_t eq = part.find('=');
        const std::string key = part.substr(0, eq);
        double* field = key == "latency"         ? &r.latency
                        : key == "latency_tail"  ? &r.latency_tail
                        : key == "cost"          ? &r.cost
                        : key == "refusal"       ? &r.refusal
                        : key == "error"         ? &r.error
                        : key == "output_length" ? &r.output_length
                        : key == "thumbs_down"   ? &r.thumbs_down
                                                 : nullptr;
        if (field == nullptr || eq == std::string::npos) {
            throw input_error("'" + part +
                              "': expected SIGNAL=FACTOR with SIGNAL one of latency, "
                              "latency_tail, cost, refusal, error, output_length, thumbs_down");
        }
        char* end = nullptr;
        const std::string value = part.substr(eq + 1);
        const double x = std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0' || !(x > 0) || std::isinf(x))
            throw input_error("'" + part + "': the factor must be a positive number");
        *field = x;
    }
    return r;
}

/// --inject's values checked while the command line is read: a bad one is
/// a usage error (exit 4), like any other bad option value.
CLI::Validator regression_validator() {
    return CLI::Validator(
        [](std::string& text) {
            try {
                (void)parse_regression(text);
                return std::string();
            } catch (const input_error& e) {
                return std::string(e.what());
            }
        },
        "SIGNAL=FACTOR[,...]");
}

std::string minutes_text(double m) {
    if (std::isnan(m)) return "-";
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.0f", m);
    return buffer;
}

/// One row of the outcome table: a scenario over its seeds.
struct scenario_row {
    std::string name;
    tk::judge_summary summary;
};

std::string outcome_table(const std::vector<scenario_row>& rows) {
    std::ostringstream out;
    char line[512];
    std::snprintf(line, sizeof line, "%-16s %-20s %-20s %-20s %-6s %-8s %-22s %s\n", "scenario",
                  "completed", "rolled back", "held", "min", "users", "ended at (top)",
                  "decided by (top)");
    out << line;
    for (const scenario_row& r : rows) {
        const tk::judge_summary& s = r.summary;
        std::snprintf(line, sizeof line, "%-16s %-20s %-20s %-20s %-6s %-8s %-22s %s\n",
                      r.name.c_str(), tk::detail::rate_cell(s.completed).c_str(),
                      tk::detail::rate_cell(s.rolled_back).c_str(),
                      tk::detail::rate_cell(s.held).c_str(),
                      minutes_text(s.median_decision_minutes).c_str(),
                      minutes_text(s.median_users_exposed).c_str(),
                      tk::detail::top_of(s.stages, s.runs).c_str(),
                      tk::detail::top_of(s.triggers, s.runs).c_str());
        out << line;
    }
    out << "rates: share of seeds [95 % Clopper-Pearson interval]; min, users: medians to the "
           "decision (requests the candidate served users by then)\n";
    return out.str();
}

void write_json_rows(const std::string& path, const std::vector<scenario_row>& rows,
                     std::size_t seeds) {
    nlohmann::ordered_json j;
    j["seeds"] = seeds;
    nlohmann::ordered_json scenarios = nlohmann::ordered_json::array();
    for (const scenario_row& r : rows)
        scenarios.push_back({{"name", r.name}, {"canarygate", tk::summary_json(r.summary)}});
    j["scenarios"] = std::move(scenarios);
    write_file(path, j.dump(2) + "\n");
}

/// Runs `test` over `seeds` seeds and summarises.
tk::judge_summary run_seeds(const tk::rollout_test& test, std::size_t seeds, std::size_t threads) {
    std::vector<std::uint64_t> seed_list;
    for (std::size_t i = 0; i < seeds; ++i) seed_list.push_back(tk::rollout_test::seed(i));
    return tk::detail::summarize(tk::judge_kind::canarygate,
                                 tk::simulate_seeds(test.config(), seed_list, threads));
}

}  // namespace

command add_plan(CLI::App& app) {
    struct options {
        std::string policy, flag, out;
        double requests_per_minute = 600;
        double feedback_delay_minutes = 10;
        double check_interval_minutes = 5;
        std::size_t check = 0;
    };
    auto o = std::make_shared<options>();
    CLI::App* c =
        app.add_subcommand("plan", "The planner's runbook for a policy at a service's traffic");
    c->footer(
        "Per stage: the requests and time each gate needs to catch a regression, the users\n"
        "exposed, and the risks. Exit codes: 0, 1 when --check finds a prediction the\n"
        "simulator refutes, 3 bad input.");
    c->add_option("--policy", o->policy, "policy file (default: the built-in default rollout)");
    c->add_option("--flag", o->flag, "the policy flag's key in a flagd flag file");
    c->add_option("--requests-per-minute", o->requests_per_minute,
                  "the service's traffic, all arms (default 600)")
        ->check(CLI::Range(1.0, 1e7));
    c->add_option("--feedback-delay-minutes", o->feedback_delay_minutes,
                  "median delay of user feedback (default 10)")
        ->check(CLI::Range(0.01, 1e5));
    c->add_option("--check-interval-minutes", o->check_interval_minutes,
                  "the controller's check interval (default 5)")
        ->check(CLI::Range(0.1, 1440.0));
    c->add_option("--check", o->check, "also simulate each stage SEEDS times and compare")
        ->check(CLI::Range(1, 10'000));
    c->add_option("-o,--output", o->out, "write the runbook to FILE instead of standard output");
    return [o] {
        check_writable(o->out);
        tk::plan_request req;
        req.rollout = rollout_of(o->policy, o->flag);
        req.traffic.requests_per_minute = o->requests_per_minute;
        req.baseline.feedback_delay_median_s = 60 * o->feedback_delay_minutes;
        req.check_interval_ns = static_cast<std::int64_t>(o->check_interval_minutes * 60e9);
        tk::rollout_plan plan;
        try {
            plan = tk::plan_rollout(req);
        } catch (const std::invalid_argument& e) {
            throw input_error(std::string("plan: the planner cannot plan this rollout: ") +
                              e.what());
        }
        std::string md = tk::render_runbook(plan);
        bool agrees = true;
        if (o->check > 0) {
            const auto rows = tk::check_plan(plan, o->check);
            md += "\n## The planner against the simulator\n\n";
            md += tk::format_plan_check(rows);
            for (const auto& r : rows) agrees = agrees && r.agrees;
        }
        write_file(o->out.empty() ? "-" : o->out, md);
        return agrees ? exit_pass : exit_fail;
    };
}

command add_simulate(CLI::App& app) {
    struct options {
        std::string policy, flag, json;
        std::size_t seeds = 20;
        double requests_per_minute = 600;
        std::size_t threads = 0;
        std::vector<std::string> inject;
    };
    auto o = std::make_shared<options>();
    CLI::App* c = app.add_subcommand(
        "simulate", "Run a policy on generated traffic, with and without regressions");
    c->footer(
        "Through the real router, recorder, collector and controller on a simulated clock:\n"
        "a good candidate and the lesson's regressions (or --inject), each over many seeds.\n"
        "Exit codes: 0, 3 bad input.");
    c->add_option("--policy", o->policy, "policy file (default: the built-in default rollout)");
    c->add_option("--flag", o->flag, "the policy flag's key in a flagd flag file");
    c->add_option("--seeds", o->seeds, "seeds per scenario (default 20)")
        ->check(CLI::Range(1, 100'000));
    c->add_option("--requests-per-minute", o->requests_per_minute,
                  "traffic of the simulated service (default 600)")
        ->check(CLI::Range(10.0, 1e6));
    c->add_option("--threads", o->threads, "worker threads (default 0: all cores)")
        ->check(CLI::Range(0, 1024));
    c->add_option("--inject", o->inject,
                  "a scenario of your own, e.g. cost=1.4,latency=1.2 (repeatable); replaces the "
                  "default scenarios")
        ->check(regression_validator());
    c->add_option("--json", o->json, "also write the results as JSON to FILE ('-': stdout)");
    return [o] {
        check_writable(o->json);
        tk::rollout_test test(rollout_of(o->policy, o->flag));
        test.requests_per_minute(o->requests_per_minute);
        std::vector<std::pair<std::string, tk::regression>> scenarios;
        if (o->inject.empty()) {
            scenarios = {{"good", {}},
                         {"latency_x2", {.latency = 2.0}},
                         {"cost_x1.4", {.cost = 1.4}},
                         {"errors_x3", {.error = 3.0}},
                         {"refusals_x3", {.refusal = 3.0}},
                         {"length_x1.5", {.output_length = 1.5}},
                         {"thumbs_down_x2", {.thumbs_down = 2.0}}};
        } else {
            for (const std::string& text : o->inject)
                scenarios.emplace_back(text, parse_regression(text));
        }
        std::vector<scenario_row> rows;
        for (const auto& [name, r] : scenarios) {
            test.inject(r);
            rows.push_back({name, run_seeds(test, o->seeds, o->threads)});
        }
        if (o->json != "-") {
            std::cout << "canarygate simulate: " << o->seeds << " seeds per scenario, "
                      << o->requests_per_minute << " requests/min\n"
                      << outcome_table(rows);
        }
        if (!o->json.empty()) write_json_rows(o->json, rows, o->seeds);
        return exit_pass;
    };
}

namespace {

tk::loaded_log read_log(const std::string& path, bool sort, bool skip_malformed) {
    std::istringstream in(read_file(path));
    try {
        const cg::request_log log =
            cg::read_request_log(in, {.sort_by_time = sort, .skip_malformed = skip_malformed});
        if (!log.skipped.empty())
            std::cerr << path << ": skipped " << log.skipped.size() << " malformed line(s)\n";
        return tk::load_log(log);
    } catch (const cg::request_log_error& e) {
        throw input_error(path + ": " + e.what());
    } catch (const std::invalid_argument& e) {
        throw input_error(path + ": " + e.what());
    }
}

}  // namespace

command add_replay(CLI::App& app) {
    struct options {
        std::string policy, flag, log, json;
        std::size_t seeds = 20;
        std::size_t threads = 0;
        std::vector<std::string> inject;
        bool sort = false;
        bool skip_malformed = false;
    };
    auto o = std::make_shared<options>();
    CLI::App* c = app.add_subcommand("replay", "Run a policy on a recorded request log");
    c->footer(
        "The log (JSON Lines, written by request_log_writer): its arrivals and responses\n"
        "resampled per seed, as recorded and with --inject regressions on the candidate.\n"
        "Exit codes: 0, 3 bad input.");
    c->add_option("--policy", o->policy, "policy file")->required();
    c->add_option("--flag", o->flag, "the policy flag's key in a flagd flag file");
    c->add_option("log", o->log, "the request log")->required();
    c->add_option("--seeds", o->seeds, "seeds per scenario (default 20)")
        ->check(CLI::Range(1, 100'000));
    c->add_option("--threads", o->threads, "worker threads (default 0: all cores)")
        ->check(CLI::Range(0, 1024));
    c->add_option("--inject", o->inject,
                  "a what-if scenario, e.g. cost=1.4 (repeatable); 'as recorded' always runs")
        ->check(regression_validator());
    c->add_flag("--sort", o->sort, "sort a log whose times go backwards instead of refusing it");
    c->add_flag("--skip-malformed", o->skip_malformed,
                "leave out malformed lines (counted) instead of refusing the log");
    c->add_option("--json", o->json, "also write the results as JSON to FILE ('-': stdout)");
    return [o] {
        check_writable(o->json);
        const cg::controller_config rollout = read_policy(o->policy, o->flag).rollout;
        const tk::loaded_log log = read_log(o->log, o->sort, o->skip_malformed);
        tk::rollout_test test(rollout);
        test.replay(log);
        std::vector<std::pair<std::string, tk::regression>> scenarios = {{"as recorded", {}}};
        for (const std::string& text : o->inject)
            scenarios.emplace_back(text, parse_regression(text));
        std::vector<scenario_row> rows;
        for (const auto& [name, r] : scenarios) {
            try {
                test.inject(r);
            } catch (const std::invalid_argument& e) {
                throw input_error("--inject '" + name + "': " + e.what());
            }
            rows.push_back({name, run_seeds(test, o->seeds, o->threads)});
        }
        if (o->json != "-") {
            const tk::log_summary& s = log.summary;
            std::cout << "canarygate replay: " << o->log << ": "
                      << s.baseline_requests + s.candidate_requests + s.shadow_requests
                      << " requests, " << s.feedback << " feedback events over "
                      << minutes_text(static_cast<double>(s.span_ns) / 6e10) << " min; " << o->seeds
                      << " seeds per scenario\n"
                      << outcome_table(rows);
        }
        if (!o->json.empty()) write_json_rows(o->json, rows, o->seeds);
        return exit_pass;
    };
}

command add_calibrate(CLI::App& app) {
    struct options {
        std::string policy, flag, log;
        std::size_t splits = 200;
        double share = 0.01;
        double check_interval_minutes = 5;
    };
    auto o = std::make_shared<options>();
    CLI::App* c = app.add_subcommand("calibrate", "A/A calibration of a policy on a recorded log");
    c->footer(
        "The log (one model version) is split many ways into two arms of the same model;\n"
        "each gate's false-alarm rate is measured against its budget. Exit codes: 0, 3 bad\n"
        "input.");
    c->add_option("log", o->log, "the request log")->required();
    c->add_option("--policy", o->policy,
                  "policy file whose canary policy is calibrated (default: the default policy)");
    c->add_option("--flag", o->flag, "the policy flag's key in a flagd flag file");
    c->add_option("--splits", o->splits, "A/A splits (default 200)")->check(CLI::Range(1, 100'000));
    c->add_option("--share", o->share, "the candidate's share in each split (default 0.01)")
        ->check(CLI::Range(1e-6, 0.5));
    c->add_option("--check-interval-minutes", o->check_interval_minutes,
                  "the controller's check interval (default 5)")
        ->check(CLI::Range(0.1, 1440.0));
    return [o] {
        cg::aa_calibration_config config;
        if (!o->policy.empty()) {
            config.policy = read_policy(o->policy, o->flag).rollout.policy;
            // The two arms of an A/A split are made up: name them as the
            // calibration does, whatever the policy calls its arms.
            config.policy.baseline_arm = "baseline";
            config.policy.candidate_arm = "candidate";
        }
        config.splits = o->splits;
        config.candidate_share = o->share;
        config.check_interval_ns = static_cast<std::int64_t>(o->check_interval_minutes * 60e9);
        const tk::loaded_log log = read_log(o->log, false, false);
        cg::aa_report report;
        try {
            report = tk::calibrate_on_log(log, config);
        } catch (const std::invalid_argument& e) {
            throw input_error("calibrate: " + std::string(e.what()));
        }
        char line[256];
        std::printf("canarygate calibrate: %s: %" PRIu64
                    " A/A splits at a %.4g candidate share, "
                    "%" PRIu64 " checks each\n",
                    o->log.c_str(), report.runs, o->share, report.checks);
        std::snprintf(line, sizeof line, "%-22s %-14s %-10s %-12s %s\n", "gate", "false alarms",
                      "rate", "95 % upper", "noise floor (99 %)");
        std::fputs(line, stdout);
        for (const cg::aa_gate_report& g : report.gates) {
            std::printf("%-22s %-14s %-10.4f %-12.4f %.4g\n", g.name.c_str(),
                        (std::to_string(g.false_alarms) + "/" + std::to_string(g.runs)).c_str(),
                        g.rate, g.rate_upper_95, g.noise_floor_99);
        }
        std::printf("policy: %" PRIu64 "/%" PRIu64
                    " splits rolled back (rate %.4f, 95 %% upper "
                    "%.4f) against alpha_fail %.4g; %" PRIu64 " splits flagged a split mismatch\n",
                    report.policy_false_alarms, report.runs, report.policy_rate,
                    report.policy_rate_upper_95, config.policy.alpha_fail, report.srm_invalid);
        for (const std::string& advice : cg::batch_mode_advice(config.policy, report))
            std::printf("advice: %s\n", advice.c_str());
        return exit_pass;
    };
}

}  // namespace canarygate_cli
