// SPDX-License-Identifier: MIT
// The `canarygate` command-line tool: judge snapshots against a policy file,
// merge and inspect snapshots, validate policy files, and run the planner,
// the simulator, request-log replay and A/A calibration. `canarygate --help`
// lists the commands; README.md documents them and their exit codes.
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <canarygate/gates/policy.hpp>
#include <canarygate/integration/json.hpp>
#include <canarygate/integration/json_rollout.hpp>
#include <canarygate/integration/json_state.hpp>
#include <canarygate/version.hpp>
#include <canarygate/window/codec.hpp>
#include <unistd.h>

#include "cli.hpp"

namespace canarygate_cli {

namespace cg = canarygate;

std::string read_file(const std::string& path) {
    // A directory or a device (/dev/zero) is refused by name, never read.
    std::error_code error;
    const auto status = std::filesystem::status(path, error);
    if (!error && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
        throw input_error(path + ": is not a regular file");
    if (!error && std::filesystem::is_regular_file(status) &&
        std::filesystem::file_size(path, error) > max_input_bytes) {
        throw input_error(path + ": is larger than " + std::to_string(max_input_bytes >> 20) +
                          " MiB, the most an input file may be");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error(path + ": cannot open: " + std::strerror(errno));
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (in.bad()) throw input_error(path + ": cannot read: " + std::strerror(errno));
    return std::move(bytes).str();
}

void write_file(const std::string& path, const std::string& bytes) {
    if (path == "-") {
        std::cout << bytes << std::flush;
        if (!std::cout) throw input_error("standard output: cannot write");
        return;
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
    out.close();
    if (!out) throw input_error(path + ": cannot write: " + std::strerror(errno));
}

void check_writable(const std::string& path) {
    if (path == "-" || path.empty()) return;
    std::ofstream out(path, std::ios::binary | std::ios::app);
    if (!out) throw input_error(path + ": cannot write: " + std::strerror(errno));
}

cg::snapshot read_snapshot(const std::string& path) {
    const std::string bytes = read_file(path);
    const bool binary =
        bytes.size() >= 4 &&
        std::equal(std::begin(cg::detail::snapshot_magic), std::end(cg::detail::snapshot_magic),
                   bytes.begin(),
                   [](std::uint8_t m, char c) { return m == static_cast<std::uint8_t>(c); });
    try {
        if (binary) {
            return cg::decode(
                std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
        }
        return cg::parse_snapshot(bytes);
    } catch (const cg::decode_error& e) {
        throw input_error(path + ": not a valid " + (binary ? "binary" : "JSON") +
                          " snapshot: " + e.what());
    } catch (const std::invalid_argument& e) {
        throw input_error(path + ": not a valid snapshot: " + e.what());
    }
}

cg::snapshot read_snapshots(const std::vector<std::string>& paths) {
    cg::snapshot total;
    total.set_sources(0);
    for (const std::string& path : paths) {
        const cg::snapshot s = read_snapshot(path);
        if (const auto why = total.merge_refusal(s))
            throw input_error(path + ": cannot be merged with the files before it: " + *why);
        total.merge(s);
    }
    return total;
}

void refuse_flag_file_without_key(const std::string& path, const std::string& text,
                                  const std::string& flag_key) {
    if (!flag_key.empty()) return;
    try {
        if (cg::is_flag_file(text))
            throw input_error(path +
                              ": is a flagd flag file; name the policy flag with --flag KEY");
    } catch (const cg::policy_error&) {
        // Not JSON, or not an object: the policy reader says so, with the position.
    }
}

cg::rollout_policy read_policy(const std::string& path, const std::string& flag_key) {
    const std::string text = read_file(path);
    refuse_flag_file_without_key(path, text, flag_key);
    try {
        if (!flag_key.empty()) return cg::parse_policy_flag(text, flag_key).selected();
        return cg::parse_policy(text);
    } catch (const cg::policy_error& e) {
        throw input_error(path + ": " + e.what());
    }
}

std::string json_text(const nlohmann::json& j, int indent, const std::string& what) {
    try {
        return j.dump(indent);
    } catch (const nlohmann::json::type_error& e) {
        // dump() refuses names that are not UTF-8 (integration/json.hpp).
        throw input_error(what +
                          ": cannot be written as JSON (a name is not UTF-8; the binary "
                          "format keeps it): " +
                          e.what());
    }
}

namespace {

// --- judge ----------------------------------------------------------------------

struct judge_options {
    std::string policy;
    std::string flag;
    std::vector<std::string> snapshots;
    std::string state;
    std::string evidence;
    std::optional<std::size_t> stage;
    std::optional<double> share;
    bool shadow = false;
    bool at_max_duration = false;
    bool json = false;
};

/// `x` with `digits` significant digits ("%.*g"), or with `decimals`
/// decimals when fixed; "-" for NaN.
std::string number_text(double x, int digits = 3, bool fixed = false) {
    if (std::isnan(x)) return "-";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    char buffer[32];
    if (fixed) {
        std::snprintf(buffer, sizeof buffer, "%.*f", digits, x);
    } else {
        std::snprintf(buffer, sizeof buffer, "%.*g", digits, x);
    }
    return buffer;
}

std::string judge_table(const cg::policy_report& report, const cg::policy& policy, double share) {
    std::ostringstream out;
    out << "verdict: " << cg::name(report.decision) << "\n" << report.summary << "\n\n";
    char line[256];
    std::snprintf(line, sizeof line, "%-22s %-9s %-10s %-7s %-17s %-7s %-17s %s\n", "gate",
                  "critical", "decision", "ratio", "interval", "limit", "ln E / threshold",
                  "samples cand/base");
    out << line;
    for (std::size_t i = 0; i < report.gates.size(); ++i) {
        const cg::gate_result& g = report.gates[i];
        const cg::gate_evidence& ev = g.evidence;
        const auto limit = policy.config().gates[i].tested_limit();
        const std::string interval =
            ev.interval_computed ? "(" + number_text(ev.lower) + ", " + number_text(ev.upper) + ")"
                                 : std::string("-");
        const std::string evidence = number_text(ev.log_e_value, 2, true) + " / " +
                                     number_text(ev.log_fail_threshold, 2, true);
        std::snprintf(line, sizeof line,
                      "%-22s %-9s %-10s %-7s %-17s %-7s %-17s %" PRIu64 "/%" PRIu64 "\n",
                      g.name.c_str(), g.critical ? "yes" : "no",
                      std::string(cg::name(g.decision)).c_str(), number_text(ev.estimate).c_str(),
                      interval.c_str(), limit ? number_text(*limit).c_str() : "-", evidence.c_str(),
                      ev.candidate_samples, ev.baseline_samples);
        out << line;
    }
    std::snprintf(line, sizeof line,
                  "\nsplit: configured candidate share %s, observed %s (%" PRIu64
                  " candidate / %" PRIu64 " baseline requests), ln BF %s / threshold %s%s\n",
                  number_text(share, 4).c_str(), number_text(report.srm.observed_share, 4).c_str(),
                  report.srm.candidate_requests, report.srm.baseline_requests,
                  number_text(report.srm.log_bayes_factor, 2, true).c_str(),
                  number_text(report.srm.log_threshold, 2, true).c_str(),
                  report.srm.mismatch ? ": MISMATCH" : "");
    out << line;
    for (const std::string& w : report.warnings) out << "warning: " << w << "\n";
    out << "\nreasons:\n";
    for (const cg::gate_result& g : report.gates) out << "  " << g.reason << "\n";
    return out.str();
}

int run_judge(const judge_options& o) {
    const cg::rollout_policy file = read_policy(o.policy, o.flag);
    const cg::controller_config& config = file.rollout;
    if (o.shadow && !config.shadow_policy)
        throw input_error(o.policy + ": --shadow: the policy has no shadow_policy");
    const cg::policy policy(o.shadow ? *config.shadow_policy : config.policy);

    // A decode_error or std::invalid_argument from reading `path` as `what`.
    const auto not_a = [](const std::string& path, const std::string& what, const auto& read) {
        try {
            return read();
        } catch (const std::exception& e) {
            if (dynamic_cast<const input_error*>(&e) != nullptr) throw;
            throw input_error(path + ": not " + what + ": " + e.what());
        }
    };
    cg::policy_state state;
    std::optional<std::size_t> stage = o.stage;
    if (!o.state.empty()) {
        const cg::rollout_state saved = not_a(o.state, "a controller state of this policy", [&] {
            return cg::parse_rollout_state(read_file(o.state), config);
        });
        state = o.shadow ? saved.shadow_evidence : saved.canary_evidence;
        const bool shadow_stage = config.stages.at(saved.stage).kind == cg::stage_kind::shadow;
        if (!stage && shadow_stage != o.shadow) {
            throw input_error(o.state + ": the saved rollout is in stage " +
                              std::to_string(saved.stage) + " (" + config.stage_name(saved.stage) +
                              "), not a " + (o.shadow ? "shadow" : "canary or A/B") +
                              " stage: name the stage with --stage or the share with --share");
        }
        if (!stage) stage = saved.stage;
    }
    if (!o.evidence.empty() && std::filesystem::exists(o.evidence)) {
        state = not_a(o.evidence, "the evidence of this policy",
                      [&] { return cg::parse_policy_state(read_file(o.evidence), policy); });
    }
    if (o.snapshots.empty() && !state.previous_totals)
        throw input_error("judge: no evidence: give snapshot files, or --state with a saved state");
    const cg::snapshot totals =
        o.snapshots.empty() ? *state.previous_totals : read_snapshots(o.snapshots);

    // The configured share: --share, else the stage's (--stage, the saved
    // state's, or the first stage of the judged kind).
    double share = 0;
    if (o.share) {
        share = *o.share;
    } else {
        if (!stage) {
            for (std::size_t i = 0; i < config.stages.size() && !stage; ++i) {
                if ((config.stages[i].kind == cg::stage_kind::shadow) == o.shadow) stage = i;
            }
        }
        if (!stage || *stage >= config.stages.size()) {
            throw input_error(o.policy + ": --stage " + (stage ? std::to_string(*stage) : "?") +
                              ": the policy has stages 0 to " +
                              std::to_string(config.stages.size() - 1));
        }
        const cg::rollout_stage& s = config.stages[*stage];
        share = s.kind == cg::stage_kind::shadow
                    ? static_cast<double>(s.weights.shadow_ppm) / cg::shadow_scale
                    : s.weights.candidate_share();
        if (share >= 1.0) share = 0.999999;  // a 100 % mirror: the SRM check needs (0, 1)
    }
    std::string present;
    for (const auto& a : totals.arms()) present += (present.empty() ? "" : ", ") + a.arm();
    for (const std::string& arm : {policy.config().baseline_arm, policy.config().candidate_arm}) {
        if (totals.find_arm(arm) == nullptr) {
            throw input_error("judge: the snapshots have no arm '" + arm +
                              "' (arms: " + (present.empty() ? "none" : present) + ")");
        }
        // Two model versions under one arm would be judged as one of them.
        std::size_t versions = 0;
        for (const auto& a : totals.arms()) versions += a.arm() == arm ? 1U : 0U;
        if (versions > 1) {
            throw input_error("judge: arm '" + arm + "' has " + std::to_string(versions) +
                              " model versions in the snapshots; judge one version at a time");
        }
    }
    cg::policy_report report;
    try {
        report = policy.evaluate(state, totals, share, o.at_max_duration);
    } catch (const std::invalid_argument& e) {
        throw input_error(std::string("judge: the snapshots cannot be judged: ") + e.what());
    }
    if (!o.evidence.empty()) write_file(o.evidence, cg::policy_state_to_json(state).dump() + "\n");
    if (o.json) {
        nlohmann::json j = cg::report_record(report);
        j["configured_share"] = share;
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << judge_table(report, policy, share);
    }
    switch (report.decision) {
        case cg::verdict::pass:
            return exit_pass;
        case cg::verdict::fail:
            return exit_fail;
        default:
            return exit_continue;
    }
}

// --- merge, inspect -------------------------------------------------------------

std::string inspect_text(const cg::snapshot& s) {
    std::ostringstream out;
    out << "window [" << s.window_start_ns() << ", " << s.window_end_ns() << "] ns, " << s.sources()
        << " source(s), " << s.arms().size() << " arm(s)\n";
    char line[256];
    for (const cg::arm_snapshot& a : s.arms()) {
        out << "\narm '" << a.arm() << "'"
            << (a.model_version().empty() ? "" : " model '" + a.model_version() + "'") << "\n";
        std::size_t zero = 0;
        for (const auto& [name, value] : a.counters()) {
            if (value == cg::wide_uint{}) {
                ++zero;
            } else {
                out << "  " << name << " = " << value.to_string() << "\n";
            }
        }
        if (zero > 0) out << "  (" << zero << " more counters are 0)\n";
        for (const auto& [name, h] : a.histograms()) {
            std::snprintf(line, sizeof line, "  %s: %" PRIu64 " values, relative error %.3g %%\n",
                          name.c_str(), h.count(), 100 * h.layout().relative_error());
            out << line;
            for (const double q : {0.5, 0.9, 0.99}) {
                const cg::quantile_estimate e = h.quantile(q);
                std::snprintf(line, sizeof line, "    p%-4g %-12s in (%s, %s]%s\n", 100 * q,
                              number_text(e.value, 6).c_str(), number_text(e.lower, 6).c_str(),
                              number_text(e.upper, 6).c_str(),
                              e.region == cg::quantile_region::in_range ||
                                      e.region == cg::quantile_region::zero
                                  ? ""
                              : e.region == cg::quantile_region::empty     ? " (empty)"
                              : e.region == cg::quantile_region::underflow ? " (below the range)"
                                                                           : " (above the range)");
                out << line;
            }
        }
    }
    if (!s.counters().empty()) out << "\nsnapshot counters\n";
    for (const auto& [name, value] : s.counters())
        out << "  " << name << " = " << value.to_string() << "\n";
    return out.str();
}

}  // namespace

command add_judge(CLI::App& app) {
    auto o = std::make_shared<judge_options>();
    CLI::App* c =
        app.add_subcommand("judge", "Judge baseline and candidate snapshots against a policy file");
    c->footer(
        "Snapshot files are binary or JSON; several (replicas) are merged exactly.\n"
        "Exit codes: 0 pass, 1 fail (roll back), 2 keep going / no regression detected /\n"
        "invalid split, 3 bad input, 4 usage, 5 internal error.");
    c->add_option("--policy", o->policy, "policy document, or flagd flag file with --flag")
        ->required();
    c->add_option("--flag", o->flag, "the policy flag's key in a flagd flag file");
    c->add_option("snapshots", o->snapshots, "snapshot files (binary or JSON), merged");
    auto* state = c->add_option(
        "--state", o->state,
        "a saved controller state (its evidence continues; its stage is the default)");
    auto* stage = c->add_option("--stage", o->stage,
                                "the stage whose configured split is checked (index from 0; "
                                "default: the first stage of the judged kind)")
                      ->check(CLI::NonNegativeNumber);
    c->add_option("--share", o->share, "the candidate's configured share, in (0, 1)")
        ->excludes(stage)
        ->check(CLI::Validator(
            [](std::string& text) {
                const double x = std::strtod(text.c_str(), nullptr);
                return x > 0.0 && x < 1.0 ? std::string()
                                          : "must be a number in (0, 1), got " + text;
            },
            "in (0, 1)"));
    c->add_option("--evidence", o->evidence,
                  "the gates' evidence so far: read if the file exists, written back after "
                  "judging (run judge at every check with the same file, as a controller would)")
        ->excludes(state);
    c->add_flag("--shadow", o->shadow, "judge with the shadow policy (shadow arm vs baseline)");
    c->add_flag("--at-max-duration", o->at_max_duration,
                "the stage's time is up: an undecided gate that is not failing gives "
                "no_regression_detected (exit 2), weaker than pass");
    c->add_flag("--json", o->json, "the report as JSON instead of a table");
    return [o] { return run_judge(*o); };
}

command add_merge(CLI::App& app) {
    struct options {
        std::vector<std::string> inputs;
        std::string output;
        std::string format = "binary";
    };
    auto o = std::make_shared<options>();
    CLI::App* c = app.add_subcommand("merge", "Merge replica snapshots into one, exactly");
    c->footer("Counts add and histograms merge bucket by bucket. Exit codes: 0, 3 bad input.");
    c->add_option("snapshots", o->inputs, "snapshot files (binary or JSON)")->required();
    c->add_option("-o,--output", o->output, "the merged snapshot's file ('-': standard output)")
        ->required();
    c->add_option("--format", o->format, "binary (default) or json")
        ->check(CLI::IsMember({"binary", "json"}));
    return [o] {
        check_writable(o->output);
        const cg::snapshot merged = read_snapshots(o->inputs);
        if (o->format == "json") {
            write_file(o->output, json_text(nlohmann::json(merged), -1, "merge") + "\n");
        } else {
            if (o->output == "-" && isatty(1))
                throw input_error(
                    "merge: binary output to a terminal; use -o FILE or --format json");
            const std::vector<std::uint8_t> bytes = cg::encode(merged);
            write_file(o->output, std::string(bytes.begin(), bytes.end()));
        }
        std::cerr << "merged " << o->inputs.size() << " file(s): " << merged.arms().size()
                  << " arm(s), " << merged.sources() << " source(s)\n";
        return exit_pass;
    };
}

command add_inspect(CLI::App& app) {
    struct options {
        std::vector<std::string> inputs;
        bool json = false;
    };
    auto o = std::make_shared<options>();
    CLI::App* c = app.add_subcommand("inspect", "Show a snapshot's arms, counters and quantiles");
    c->footer(
        "Quantiles p50, p90, p99, each with the interval (lower, upper] that holds the true\n"
        "value. Several files are merged first. Exit codes: 0, 3 bad input.");
    c->add_option("snapshots", o->inputs, "snapshot files (binary or JSON)")->required();
    c->add_flag("--json", o->json, "print the (merged) snapshot as JSON");
    return [o] {
        const cg::snapshot s = read_snapshots(o->inputs);
        if (o->json) {
            std::cout << json_text(nlohmann::json(s), 2, "inspect") << "\n";
        } else {
            std::cout << inspect_text(s);
        }
        return exit_pass;
    };
}

command add_validate(CLI::App& app) {
    struct options {
        std::string file;
        std::string flag;
        bool canonical = false;
        bool check_canonical = false;
    };
    auto o = std::make_shared<options>();
    CLI::App* c = app.add_subcommand("validate", "Check a policy document or a flagd flag file");
    c->footer(
        "A flag file's every variant is checked. Exit codes: 0 valid, 3 invalid (one line\n"
        "naming the file, the field and the value), 4 usage.");
    c->add_option("file", o->file, "policy document or flagd flag file")->required();
    auto* print = c->add_flag("--canonical", o->canonical,
                              "print the policy in canonical form (a flag: its default variant)");
    auto* flag_option = c->add_option("--flag", o->flag, "in a flag file, the policy flag's key");
    c->add_flag("--check-canonical", o->check_canonical,
                "also fail (exit 3) when a policy document is not in canonical form (not "
                "for flag files, which hold other flags too)")
        ->excludes(print)
        ->excludes(flag_option);
    return [o] {
        const std::string text = read_file(o->file);
        try {
            refuse_flag_file_without_key(o->file, text, o->flag);
            if (!o->flag.empty()) {
                const cg::policy_flag flag = cg::parse_policy_flag(text, o->flag);
                if (o->canonical) {
                    std::cout << cg::policy_text(flag.selected());
                } else {
                    std::cout << o->file << ": flag '" << flag.key
                              << "' is valid: " << flag.variants.size() << " variant(s), default '"
                              << flag.default_variant << "' (action "
                              << cg::name(flag.selected().action) << ", "
                              << flag.selected().rollout.stages.size() << " stages)\n";
                }
                return exit_pass;
            }
            const cg::rollout_policy p = cg::parse_policy(text);
            const std::string canonical = cg::policy_text(p);
            if (o->canonical) {
                std::cout << canonical;
                return exit_pass;
            }
            if (o->check_canonical && canonical != text) {
                throw input_error(o->file +
                                  ": valid, but not in canonical form (canarygate validate "
                                  "--canonical prints it)");
            }
            std::cout << o->file << ": valid policy: " << p.rollout.stages.size() << " stages, "
                      << p.rollout.policy.gates.size() << " gates, action " << cg::name(p.action)
                      << (canonical == text ? ", canonical form" : "") << "\n";
            return exit_pass;
        } catch (const cg::policy_error& e) {
            throw input_error(o->file + ": " + e.what());
        }
    };
}

}  // namespace canarygate_cli

int main(int argc, char** argv) {
    namespace cli = canarygate_cli;
    CLI::App app("canarygate: judge, plan and test LLM rollouts", "canarygate");
    app.footer(
        "Exit codes: 0 pass (judge) or success, 1 fail (judge: roll back), 2 keep going /\n"
        "no regression detected / invalid split (judge), 3 bad input, 4 usage, 5 internal\n"
        "error. `canarygate COMMAND --help` describes each command.");
    app.set_version_flag("--version", "canarygate " + std::to_string(CANARYGATE_VERSION_MAJOR) +
                                          "." + std::to_string(CANARYGATE_VERSION_MINOR) + "." +
                                          std::to_string(CANARYGATE_VERSION_PATCH));
    app.require_subcommand(1);
    app.fallthrough(false);
    std::vector<std::pair<CLI::App*, cli::command>> commands;
    const auto add = [&](cli::command (*make)(CLI::App&)) {
        cli::command run = make(app);
        commands.emplace_back(app.get_subcommands({}).back(), std::move(run));
    };
    add(cli::add_judge);
    add(cli::add_merge);
    add(cli::add_inspect);
    add(cli::add_validate);
    add(cli::add_plan);
    add(cli::add_simulate);
    add(cli::add_replay);
    add(cli::add_calibrate);
    // CLI11 would take an unknown command for a stray argument.
    if (argc > 1 && argv[1][0] != '-') {
        std::string names;
        bool known = false;
        for (const auto& [sub, run] : commands) {
            known = known || sub->get_name() == argv[1];
            names += (names.empty() ? "" : ", ") + sub->get_name();
        }
        if (!known) {
            std::cerr << "canarygate: unknown command '" << argv[1] << "' (commands: " << names
                      << ")\n";
            return cli::exit_usage;
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "canarygate: " << e.what() << "\n(canarygate --help lists the commands; "
                  << "canarygate COMMAND --help their options)\n";
        return cli::exit_usage;
    }
    try {
        for (auto& [sub, run] : commands) {
            if (sub->parsed()) return run();
        }
        std::cerr << "canarygate: no command given (canarygate --help lists them)\n";
        return cli::exit_usage;
    } catch (const cli::input_error& e) {
        std::cerr << "canarygate: " << e.what() << "\n";
        return cli::exit_bad_input;
    } catch (const std::exception& e) {
        std::cerr << "canarygate: internal error (please report it): " << e.what() << "\n";
        return cli::exit_internal;
    }
}
