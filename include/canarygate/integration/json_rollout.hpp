// SPDX-License-Identifier: MIT
/// \file
/// Optional integration header (component canarygate::json, nlohmann-json
/// >= 3.11): the rollout controller's state as JSON, to stop a controller and
/// resume it exactly, and its audit log, one JSON line per decision.
///
/// Resuming:
/// \code
///   save(canarygate::rollout_state_to_json(controller.state()).dump());   // after each step
///   ...
///   auto state = canarygate::parse_rollout_state(read_file(), config);    // validates against config
///   canarygate::rollout_controller controller(config, std::move(state));
/// \endcode
/// A controller restarted from the text saved after a step decides exactly
/// as one that never stopped (same actions, reasons and reports, bit for
/// bit: tests/integration/test_json_rollout.cpp drives both side by side).
///
/// ## State document, version 1
///
/// ```
/// { "format": "canarygate.rollout_state", "version": 1,
///   "phase": "running", "stage": 2, "stage_started_ns": "1767225600000000000",
///   "stage_deadline_ns": 0, "stage_start_requests": 5120,
///   "canary_evidence": { policy-state document (json_state.hpp) },
///   "shadow_evidence": { policy-state document },
///   "ab_evidence": { the A/B comparison's state: previous counters, its two rate
///                    e-processes, rate windows, mean sums, the outcome once decided },
///   "paired_evidence": { "cost": {"fail_side": G, "pass_side": G}, "output_length": {...},
///                        "previous": {"pairs": 0, "cost": {"above": 0, "below": 0, "ties": 0},
///                                     "output_length": {...}}, "checks": 0 },
///   "baseline_digest": "sha256:…", "candidate_digest": "sha256:…", "rollback_digest": "sha256:…",
///   "pending_commands": [ {"kind": "pause", "who": "alice", "why": "…", "submitted_ns": 0} ],
///   "alarm": false, "steps": 17, "reason": "…" }
/// ```
/// G is a Bernoulli grid e-process: {"log_likelihood_ratios": [5 exact
/// doubles], "windows": n}. Doubles, integers and errors follow
/// json_state.hpp (exact decimal strings; decode_error with the JSON Pointer;
/// unknown keys rejected). Enumerations are spelled as their enumerators.
///
/// ## Audit log
///
/// `audit_record(result)` is the answer to "why did it roll back at 03:12?":
/// time, stage, action, phase, the policy's decision and summary, every
/// gate's decision, e-value, threshold, ratio estimate, interval and counts,
/// the sample-ratio evidence, the paired shadow test, the commands applied,
/// and the reason. `audit_line(result)` is that record on one line (JSON
/// Lines), for a file or a log pipeline. Unlike the state, the audit log is
/// for people and tools such as jq: finite doubles are JSON numbers (17
/// significant digits), infinities and NaN the strings "inf", "-inf", "nan".
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "canarygate/core/config.hpp"
#include "canarygate/integration/json.hpp"
#include "canarygate/integration/json_state.hpp"
#include "canarygate/rollout/ab_test.hpp"
#include "canarygate/rollout/controller.hpp"
#include "canarygate/rollout/shadow_pairs.hpp"

CANARYGATE_NAMESPACE_BEGIN

inline constexpr std::string_view rollout_state_json_format = "canarygate.rollout_state";
inline constexpr int rollout_state_json_version = 1;

/// The version-1 document of a controller's state.
[[nodiscard]] inline nlohmann::json rollout_state_to_json(const rollout_state& s);

/// Reads a state document and checks it against the configuration the
/// controller will run with: the evidence belongs to its policies (gate
/// count, kinds and tested ratios), the stage exists. Throws decode_error
/// naming the JSON Pointer of the first bad value. (The controller's resume
/// constructor checks the digests.)
[[nodiscard]] inline rollout_state rollout_state_from_json(const nlohmann::json& j,
                                                           const controller_config& config);
/// Parses JSON text (duplicate keys and deep nesting refused, as
/// parse_policy_state), then as rollout_state_from_json.
[[nodiscard]] inline rollout_state parse_rollout_state(std::string_view json_text,
                                                       const controller_config& config);

/// One decision of the controller as a JSON object (see the file comment).
[[nodiscard]] inline nlohmann::json audit_record(const step_result& r);
/// The policy's part of an audit record: decision, check, summary,
/// warnings, every gate's evidence and the sample-ratio check (what
/// `canarygate judge --json` prints).
[[nodiscard]] inline nlohmann::json report_record(const policy_report& p);
/// The same on one line, without a trailing newline.
[[nodiscard]] inline std::string audit_line(const step_result& r) { return audit_record(r).dump(); }

// --- Implementation -----------------------------------------------------------

namespace detail::rollout_json {

using json = nlohmann::json;
namespace sj = state_json;

template <class Enum, std::size_t N>
[[nodiscard]] Enum read_enum(const json& v, const std::string& pointer,
                             const std::array<Enum, N>& values, std::string_view what) {
    if (v.is_string()) {
        const auto& text = v.get_ref<const std::string&>();
        for (const Enum e : values) {
            if (name(e) == text) return e;
        }
    }
    std::string allowed;
    for (const Enum e : values) allowed += (allowed.empty() ? "" : ", ") + std::string(name(e));
    sj::fail(pointer,
             "expected " + std::string(what) + " (" + allowed + "), found " + sj::describe(v));
}

inline constexpr std::array<rollout_phase, 5> phases = {
    rollout_phase::running, rollout_phase::paused, rollout_phase::awaiting_human,
    rollout_phase::rolled_back, rollout_phase::completed};
inline constexpr std::array<operator_command_kind, 4> command_kinds = {
    operator_command_kind::pause, operator_command_kind::resume, operator_command_kind::abort,
    operator_command_kind::promote_now};

[[nodiscard]] inline json write_grid(const stats::bernoulli_grid_e_process<5>& p) {
    const auto s = p.save();
    return json{{"log_likelihood_ratios", sj::numbers(s.log_likelihood_ratios)},
                {"windows", sj::count(s.windows)}};
}
[[nodiscard]] inline json write_side(const paired_side_counts& c) {
    return json{
        {"above", sj::count(c.above)}, {"below", sj::count(c.below)}, {"ties", sj::count(c.ties)}};
}
[[nodiscard]] inline json write_paired(const paired_test_state& s) {
    const auto metric = [](const paired_metric_state& m) {
        return json{{"fail_side", write_grid(m.fail_side)}, {"pass_side", write_grid(m.pass_side)}};
    };
    return json{{"cost", metric(s.cost)},
                {"output_length", metric(s.output_length)},
                {"previous", json{{"pairs", sj::count(s.previous.pairs)},
                                  {"cost", write_side(s.previous.cost)},
                                  {"output_length", write_side(s.previous.output_length)}}},
                {"checks", sj::count(s.checks)}};
}

[[nodiscard]] inline stats::bernoulli_grid_e_process<5> read_grid(const json& j,
                                                                  const std::string& pointer) {
    const sj::object_reader o(j, pointer, {"log_likelihood_ratios", "windows"});
    stats::bernoulli_grid_e_process<5>::saved s;
    s.log_likelihood_ratios =
        sj::read_doubles<5>(o["log_likelihood_ratios"], o.at("log_likelihood_ratios"));
    s.windows = o.u64("windows");
    return stats::bernoulli_grid_e_process<5>::restore(s);
}
[[nodiscard]] inline paired_side_counts read_side(const json& j, const std::string& pointer) {
    const sj::object_reader o(j, pointer, {"above", "below", "ties"});
    return {o.u64("above"), o.u64("below"), o.u64("ties")};
}
[[nodiscard]] inline paired_test_state read_paired(const json& j, const std::string& pointer) {
    const sj::object_reader o(j, pointer, {"cost", "output_length", "previous", "checks"});
    const auto metric = [&](std::string_view key) {
        const sj::object_reader m(o[key], o.at(key), {"fail_side", "pass_side"});
        return paired_metric_state{read_grid(m["fail_side"], m.at("fail_side")),
                                   read_grid(m["pass_side"], m.at("pass_side"))};
    };
    paired_test_state s;
    s.cost = metric("cost");
    s.output_length = metric("output_length");
    const sj::object_reader p(o["previous"], o.at("previous"), {"pairs", "cost", "output_length"});
    s.previous.pairs = p.u64("pairs");
    s.previous.cost = read_side(p["cost"], p.at("cost"));
    s.previous.output_length = read_side(p["output_length"], p.at("output_length"));
    s.checks = o.u64("checks");
    return s;
}

inline constexpr std::array<ab_outcome, 4> ab_outcomes = {
    ab_outcome::candidate_better, ab_outcome::candidate_worse, ab_outcome::undecided,
    ab_outcome::no_difference_shown};

[[nodiscard]] inline json write_counters(const std::map<std::string, wide_uint, std::less<>>& m) {
    json j = json::object();
    for (const auto& [key, value] : m) j[key] = json_integer(value);
    return j;
}

[[nodiscard]] inline json write_ab(const ab_test::state& s) {
    const auto write_totals = [](const std::optional<ab_test::state::totals>& t) -> json {
        if (!t) return nullptr;
        return json{{"baseline", write_counters(t->baseline)},
                    {"candidate", write_counters(t->candidate)},
                    {"window_end_ns", json_integer(t->window_end_ns)}};
    };
    json windows = json::array();
    for (const auto& w : s.windows) {
        windows.push_back(json{{"candidate_exposure", sj::number(w.candidate_exposure)},
                               {"baseline_exposure", sj::number(w.baseline_exposure)},
                               {"candidate_events", sj::count(w.candidate_events)},
                               {"baseline_events", sj::count(w.baseline_events)}});
    }
    using process = std::optional<ab_test::rate_process>;
    return json{{"previous", write_totals(s.previous)},
                {"origin", write_totals(s.origin)},
                {"higher", sj::write(process(s.higher))},
                {"lower", sj::write(process(s.lower))},
                {"windows", std::move(windows)},
                {"mean_candidate", sj::number(s.mean_candidate)},
                {"mean_baseline", sj::number(s.mean_baseline)},
                {"mean_h", sj::number(s.mean_h)},
                {"mean_a", sj::number(s.mean_a)},
                {"mean_b", sj::number(s.mean_b)},
                {"decided", s.decided ? json(std::string(name(*s.decided))) : json(nullptr)},
                {"decided_at_check", sj::count(s.decided_at_check)},
                {"checks", sj::count(s.checks)}};
}

[[nodiscard]] inline std::map<std::string, wide_uint, std::less<>> read_counters(
    const json& j, const std::string& pointer) {
    if (!j.is_object())
        sj::fail(pointer, "expected an object of counters, found " + sj::describe(j));
    std::map<std::string, wide_uint, std::less<>> m;
    for (const auto& item : j.items()) {
        m.emplace(item.key(),
                  sj::read_wide(item.value(), sj::child(pointer, item.key()), "2^128 - 1"));
    }
    return m;
}

[[nodiscard]] inline ab_test::state read_ab(const json& j, const std::string& pointer) {
    const sj::object_reader o(
        j, pointer,
        {"previous", "origin", "higher", "lower", "windows", "mean_candidate", "mean_baseline",
         "mean_h", "mean_a", "mean_b", "decided", "decided_at_check", "checks"});
    const auto read_totals = [&](std::string_view key) -> std::optional<ab_test::state::totals> {
        if (o[key].is_null()) return std::nullopt;
        const sj::object_reader p(o[key], o.at(key), {"baseline", "candidate", "window_end_ns"});
        ab_test::state::totals t;
        t.baseline = read_counters(p["baseline"], p.at("baseline"));
        t.candidate = read_counters(p["candidate"], p.at("candidate"));
        t.window_end_ns = p.i64("window_end_ns");
        return t;
    };
    ab_test::state s;
    s.previous = read_totals("previous");
    s.origin = read_totals("origin");
    constexpr std::size_t J = ab_rate_multipliers.size();
    const auto process = [&](std::string_view key) {
        auto p = sj::read_rate_process<J>(o[key], o.at(key));
        if (!p) sj::fail(o.at(key), "expected an e-process, found null");
        if (p->save().k != 1.0)
            sj::fail(o.at(key), "an A/B comparison's processes test the ratio 1");
        return *p;
    };
    s.higher = process("higher");
    s.lower = process("lower");
    const json& windows = sj::read_array(o["windows"], o.at("windows"));
    for (std::size_t i = 0; i < windows.size(); ++i) {
        const sj::object_reader w(
            windows[i], sj::child(o.at("windows"), i),
            {"candidate_exposure", "baseline_exposure", "candidate_events", "baseline_events"});
        s.windows.push_back({w.real("candidate_exposure"), w.real("baseline_exposure"),
                             w.u64("candidate_events"), w.u64("baseline_events")});
    }
    s.mean_candidate = o.real("mean_candidate");
    s.mean_baseline = o.real("mean_baseline");
    s.mean_h = o.real("mean_h");
    s.mean_a = o.real("mean_a");
    s.mean_b = o.real("mean_b");
    if (!o["decided"].is_null())
        s.decided = read_enum(o["decided"], o.at("decided"), ab_outcomes, "an A/B outcome");
    s.decided_at_check = o.u64("decided_at_check");
    s.checks = o.u64("checks");
    return s;
}

[[nodiscard]] inline std::string read_string(const json& v, const std::string& pointer) {
    if (!v.is_string()) sj::fail(pointer, "expected a string, found " + sj::describe(v));
    return v.get<std::string>();
}

[[nodiscard]] inline rollout_state read_state(const json& j, const controller_config& config,
                                              const std::string& prefix) {
    const sj::object_reader o(
        j, prefix,
        {"format", "version", "phase", "stage", "stage_started_ns", "stage_deadline_ns",
         "stage_start_requests", "canary_evidence", "shadow_evidence", "paired_evidence",
         "ab_evidence", "baseline_digest", "candidate_digest", "rollback_digest",
         "pending_commands", "alarm", "steps", "reason"});
    if (o["format"] != rollout_state_json_format)
        sj::fail(o.at("format"),
                 "expected \"canarygate.rollout_state\", found " + sj::describe(o["format"]));
    if (o["version"] != rollout_state_json_version)
        sj::fail(o.at("version"), "expected version 1, found " + sj::describe(o["version"]));
    rollout_state s;
    s.phase = read_enum(o["phase"], o.at("phase"), phases, "a rollout phase");
    s.stage = static_cast<std::size_t>(o.u64("stage"));
    if (s.stage >= config.stages.size()) {
        sj::fail(o.at("stage"), "stage " + std::to_string(s.stage) +
                                    " does not exist: the configuration has " +
                                    std::to_string(config.stages.size()) + " stages");
    }
    s.stage_started_ns = o.i64("stage_started_ns");
    s.stage_deadline_ns = o.i64("stage_deadline_ns");
    s.stage_start_requests = o.i64("stage_start_requests");
    if (s.stage_start_requests < -1)
        sj::fail(o.at("stage_start_requests"), "must be -1 (not seen yet) or >= 0");
    const policy canary(config.policy);
    policy_state_json_options canary_options;
    canary_options.expected_policy = &canary;
    canary_options.pointer_prefix = o.at("canary_evidence");
    s.canary_evidence = policy_state_from_json(o["canary_evidence"], canary_options);
    policy_state_json_options shadow_options;
    shadow_options.pointer_prefix = o.at("shadow_evidence");
    if (config.shadow_policy) {
        const policy shadow(*config.shadow_policy);
        shadow_options.expected_policy = &shadow;
        s.shadow_evidence = policy_state_from_json(o["shadow_evidence"], shadow_options);
    } else {
        s.shadow_evidence = policy_state_from_json(o["shadow_evidence"], shadow_options);
        if (!s.shadow_evidence.gates.empty())
            sj::fail(o.at("shadow_evidence"),
                     "holds shadow evidence but the configuration has no shadow_policy");
    }
    s.paired_evidence = sj::nested(o.at("paired_evidence"), [&] {
        return read_paired(o["paired_evidence"], o.at("paired_evidence"));
    });
    s.ab_evidence = sj::nested(o.at("ab_evidence"),
                               [&] { return read_ab(o["ab_evidence"], o.at("ab_evidence")); });
    s.baseline_digest = read_string(o["baseline_digest"], o.at("baseline_digest"));
    s.candidate_digest = read_string(o["candidate_digest"], o.at("candidate_digest"));
    s.rollback_digest = read_string(o["rollback_digest"], o.at("rollback_digest"));
    const json& commands = sj::read_array(o["pending_commands"], o.at("pending_commands"));
    for (std::size_t i = 0; i < commands.size(); ++i) {
        const std::string at = sj::child(o.at("pending_commands"), i);
        const sj::object_reader c(commands[i], at, {"kind", "who", "why", "submitted_ns"});
        s.pending_commands.push_back(
            {read_enum(c["kind"], c.at("kind"), command_kinds, "an operator command"),
             read_string(c["who"], c.at("who")), read_string(c["why"], c.at("why")),
             c.i64("submitted_ns")});
    }
    s.alarm = o.boolean("alarm");
    s.steps = o.u64("steps");
    s.reason = read_string(o["reason"], o.at("reason"));
    return s;
}

/// A double for people: a number when finite, else "inf", "-inf", "nan".
[[nodiscard]] inline json readable(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return v;
}

[[nodiscard]] inline json write_gate(const gate_result& g) {
    const gate_evidence& e = g.evidence;
    json j{{"name", g.name},
           {"signal", std::string(name(g.metric))},
           {"critical", g.critical},
           {"decision", std::string(name(g.decision))},
           {"log_e_value", readable(e.log_e_value)},
           {"log_fail_threshold", readable(e.log_fail_threshold)},
           {"alpha_fail", readable(e.alpha_fail)},
           {"estimate", readable(e.estimate)},
           {"candidate_samples", e.candidate_samples},
           {"baseline_samples", e.baseline_samples},
           {"candidate_events", e.candidate_events},
           {"baseline_events", e.baseline_events},
           {"reason", g.reason}};
    if (e.interval_computed) {
        j["interval"] = json{{"lower", readable(e.lower)},
                             {"upper", readable(e.upper)},
                             {"asymptotic", e.asymptotic_interval}};
    } else {
        j["interval"] = nullptr;
    }
    if (e.batches != 0) j["batches"] = e.batches;
    return j;
}

[[nodiscard]] inline json write_paired_result(const paired_result& p) {
    const auto metric = [](const paired_metric_result& m) {
        return json{{"decision", std::string(name(m.decision))},
                    {"limit", readable(m.limit)},
                    {"log_e_fail", readable(m.log_e_fail)},
                    {"log_e_pass", readable(m.log_e_pass)},
                    {"above", m.counts.above},
                    {"below", m.counts.below},
                    {"ties", m.counts.ties},
                    {"share_above", readable(m.share_above)}};
    };
    return json{{"decision", std::string(name(p.decision))},
                {"pairs", p.pairs},
                {"cost", metric(p.cost)},
                {"output_length", metric(p.output_length)},
                {"summary", p.summary}};
}

}  // namespace detail::rollout_json

inline nlohmann::json rollout_state_to_json(const rollout_state& s) {
    namespace rj = detail::rollout_json;
    namespace sj = detail::state_json;
    nlohmann::json commands = nlohmann::json::array();
    for (const auto& c : s.pending_commands) {
        commands.push_back(nlohmann::json{{"kind", std::string(name(c.kind))},
                                          {"who", c.who},
                                          {"why", c.why},
                                          {"submitted_ns", detail::json_integer(c.submitted_ns)}});
    }
    return nlohmann::json{{"format", rollout_state_json_format},
                          {"version", rollout_state_json_version},
                          {"phase", std::string(name(s.phase))},
                          {"stage", sj::count(s.stage)},
                          {"stage_started_ns", detail::json_integer(s.stage_started_ns)},
                          {"stage_deadline_ns", detail::json_integer(s.stage_deadline_ns)},
                          {"stage_start_requests", detail::json_integer(s.stage_start_requests)},
                          {"canary_evidence", policy_state_to_json(s.canary_evidence)},
                          {"shadow_evidence", policy_state_to_json(s.shadow_evidence)},
                          {"paired_evidence", rj::write_paired(s.paired_evidence)},
                          {"ab_evidence", rj::write_ab(s.ab_evidence)},
                          {"baseline_digest", s.baseline_digest},
                          {"candidate_digest", s.candidate_digest},
                          {"rollback_digest", s.rollback_digest},
                          {"pending_commands", std::move(commands)},
                          {"alarm", s.alarm},
                          {"steps", sj::count(s.steps)},
                          {"reason", s.reason}};
}

inline rollout_state rollout_state_from_json(const nlohmann::json& j,
                                             const controller_config& config) {
    return detail::rollout_json::read_state(j, config, "");
}

inline rollout_state parse_rollout_state(std::string_view json_text,
                                         const controller_config& config) {
    detail::state_json::dom_builder builder("");
    (void)nlohmann::json::sax_parse(json_text.begin(), json_text.end(), &builder);
    return detail::rollout_json::read_state(builder.result(), config, "");
}

inline nlohmann::json report_record(const policy_report& p) {
    namespace rj = detail::rollout_json;
    nlohmann::json gates = nlohmann::json::array();
    for (const auto& g : p.gates) gates.push_back(rj::write_gate(g));
    return nlohmann::json{
        {"decision", std::string(name(p.decision))},
        {"check", p.check},
        {"summary", p.summary},
        {"warnings", p.warnings},
        {"gates", std::move(gates)},
        {"srm", nlohmann::json{{"configured_share", rj::readable(p.srm.configured_share)},
                               {"observed_share", rj::readable(p.srm.observed_share)},
                               {"candidate_requests", p.srm.candidate_requests},
                               {"baseline_requests", p.srm.baseline_requests},
                               {"log_bayes_factor", rj::readable(p.srm.log_bayes_factor)},
                               {"log_threshold", rj::readable(p.srm.log_threshold)},
                               {"mismatch", p.srm.mismatch}}}};
}

inline nlohmann::json audit_record(const step_result& r) {
    namespace rj = detail::rollout_json;
    nlohmann::json j{{"time_ns", r.at_ns},
                     {"stage", r.stage},
                     {"stage_name", r.stage_name},
                     {"next_stage", r.next_stage},
                     {"action", std::string(name(r.action))},
                     {"phase", std::string(name(r.phase))},
                     {"weights", nlohmann::json{{"baseline", r.weights.baseline},
                                                {"candidate", r.weights.candidate},
                                                {"shadow_ppm", r.weights.shadow_ppm}}},
                     {"alarm", r.alarm},
                     {"dwell_met", r.dwell_met},
                     {"requests_met", r.requests_met},
                     {"at_max_duration", r.at_max_duration},
                     {"stage_requests", r.stage_requests},
                     {"reason", r.reason}};
    nlohmann::json commands = nlohmann::json::array();
    for (const auto& c : r.commands) {
        commands.push_back(nlohmann::json{{"kind", std::string(name(c.kind))},
                                          {"who", c.who},
                                          {"why", c.why},
                                          {"submitted_ns", c.submitted_ns}});
    }
    j["commands"] = std::move(commands);
    if (r.report) {
        nlohmann::json report = report_record(*r.report);
        for (auto& [key, value] : report.items()) j[key] = std::move(value);
    } else {
        j["decision"] = nullptr;
    }
    j["paired"] = r.paired ? rj::write_paired_result(*r.paired) : nlohmann::json(nullptr);
    if (r.ab) {
        const ab_result& a = *r.ab;
        j["ab"] = nlohmann::json{{"outcome", std::string(name(a.outcome))},
                                 {"metric", a.metric},
                                 {"ratio", rj::readable(a.ratio)},
                                 {"difference", rj::readable(a.difference)},
                                 {"ratio_lower", rj::readable(a.ratio_lower)},
                                 {"ratio_upper", rj::readable(a.ratio_upper)},
                                 {"log_e_higher", rj::readable(a.log_e_higher)},
                                 {"log_e_lower", rj::readable(a.log_e_lower)},
                                 {"log_threshold", rj::readable(a.log_threshold)},
                                 {"candidate_requests", a.candidate_requests},
                                 {"baseline_requests", a.baseline_requests},
                                 {"asymptotic", a.asymptotic},
                                 {"reason", a.reason}};
    } else {
        j["ab"] = nullptr;
    }
    return j;
}

CANARYGATE_NAMESPACE_END
