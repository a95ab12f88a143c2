// SPDX-License-Identifier: MIT
// The controller's state as JSON: a controller restarted from the text it
// saved after every check decides exactly as one that never stopped (same
// audit lines, byte for byte); pending commands survive a restart; bad
// documents are refused with the JSON Pointer; the audit log is one JSON line
// per decision with every gate's evidence.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "canarygate/integration/json_rollout.hpp"
#include "support/rollout_simulation.hpp"

namespace json_rollout_tests {

using namespace canarygate;
using rollout_simulation::busy_service;
using rollout_simulation::drive;
using rollout_simulation::realistic_config;
using rollout_simulation::run_summary;

controller_config config_with_paired() {
    controller_config c = realistic_config();
    c.paired_shadow = paired_test_config{};
    return c;
}

TEST_CASE(
    "a controller resumed from its JSON after every check decides as one that never stopped") {
    const controller_config config = config_with_paired();
    struct traffic_case {
        const char* name;
        testkit::scenario_config traffic;
    };
    std::vector<traffic_case> cases;
    cases.push_back({"good candidate", busy_service()});
    testkit::scenario_config refusals = busy_service();
    refusals.candidate_regression.refusal = 3.0;
    cases.push_back({"refusals x3", refusals});
    testkit::scenario_config latency = busy_service();
    latency.candidate_regression.latency = 1.8;
    cases.push_back({"latency x1.8", latency});
    for (const auto& tc : cases) {
        std::vector<std::string> straight_audit;
        const run_summary straight =
            drive(config, tc.traffic, 21, 12 * hour_ns, {},
                  [&](const step_result& r) { straight_audit.push_back(audit_line(r)); });
        std::vector<std::string> resumed_audit;
        std::size_t restarts = 0;
        const run_summary resumed = drive(
            config, tc.traffic, 21, 12 * hour_ns,
            [&](const rollout_controller& c) {
                const std::string text = rollout_state_to_json(c.state()).dump();
                rollout_state back = parse_rollout_state(text, config);
                // Writing what was read gives the same text.
                CHECK(rollout_state_to_json(back).dump() == text);
                ++restarts;
                return std::make_unique<rollout_controller>(config, std::move(back));
            },
            [&](const step_result& r) { resumed_audit.push_back(audit_line(r)); });
        CAPTURE(tc.name, straight.steps.back().reason);
        CHECK(restarts == resumed.steps.size());
        REQUIRE(straight_audit.size() == resumed_audit.size());
        for (std::size_t i = 0; i < straight_audit.size(); ++i) {
            CAPTURE(i);
            CHECK(straight_audit[i] == resumed_audit[i]);
        }
        CHECK(straight.phase == resumed.phase);
        CHECK(straight.phase != rollout_phase::running);  // every case reached a decision
    }
}

TEST_CASE(
    "an A/B stage resumed from its JSON after every check decides as one that never stopped") {
    const controller_config config = rollout_simulation::ab_config();
    for (const double refusal : {0.5, 1.6}) {
        testkit::scenario_config traffic = busy_service();
        traffic.candidate_regression.refusal = refusal;
        std::vector<std::string> straight_audit;
        const run_summary straight =
            drive(config, traffic, 31, 24 * hour_ns, {},
                  [&](const step_result& r) { straight_audit.push_back(audit_line(r)); });
        std::vector<std::string> resumed_audit;
        const run_summary resumed = drive(
            config, traffic, 31, 24 * hour_ns,
            [&](const rollout_controller& c) {
                const std::string text = rollout_state_to_json(c.state()).dump();
                return std::make_unique<rollout_controller>(config,
                                                            parse_rollout_state(text, config));
            },
            [&](const step_result& r) { resumed_audit.push_back(audit_line(r)); });
        CAPTURE(refusal, straight.steps.back().reason);
        CHECK(straight_audit == resumed_audit);
        CHECK(straight.phase ==
              (refusal < 1 ? rollout_phase::completed : rollout_phase::rolled_back));
        bool ab_seen = false;
        for (const auto& line : straight_audit)
            ab_seen = ab_seen || nlohmann::json::parse(line)["ab"].is_object();
        CHECK(ab_seen);
    }
}

TEST_CASE("pending operator commands and a paired test's evidence survive a restart") {
    controller_config config = config_with_paired();
    rollout_controller c(config, 0);
    paired_counts counts;
    counts.pairs = 12;
    counts.cost.above = 7;
    counts.cost.below = 5;
    counts.output_length.below = 12;
    snapshot empty;
    (void)c.step(5 * minute_ns, empty, &counts);
    c.submit({operator_command_kind::pause, "alice", "a \"quoted\" reason\nover two lines", 42});
    const std::string text = rollout_state_to_json(c.state()).dump(2);
    rollout_controller back(config, parse_rollout_state(text, config));
    REQUIRE(back.state().pending_commands.size() == 1);
    CHECK(back.state().pending_commands[0] == c.state().pending_commands[0]);
    CHECK(back.state().paired_evidence.previous == counts);
    CHECK(back.state().paired_evidence.cost.fail_side.log_e_value() ==
          c.state().paired_evidence.cost.fail_side.log_e_value());
    const auto r = back.step(10 * minute_ns, empty, &counts);
    CHECK(r.phase == rollout_phase::paused);
    REQUIRE(r.commands.size() == 1);
    CHECK(r.commands[0].why == "a \"quoted\" reason\nover two lines");
}

TEST_CASE("bad rollout-state documents are refused with the pointer of the bad value") {
    using Catch::Matchers::Contains;
    const controller_config config = config_with_paired();
    const rollout_controller c(config, 0);
    const nlohmann::json good = rollout_state_to_json(c.state());
    const auto refused = [&](nlohmann::json j) -> std::string {
        try {
            (void)rollout_state_from_json(j, config);
        } catch (const decode_error& e) {
            return e.what();
        }
        return "accepted";
    };
    nlohmann::json j = good;
    j["phase"] = "exploded";
    CHECK_THAT(refused(j), Contains("/phase") && Contains("rolled_back"));
    j = good;
    j["stage"] = 9;
    CHECK_THAT(refused(j), Contains("/stage") && Contains("does not exist"));
    j = good;
    j["surprise"] = 1;
    CHECK_THAT(refused(j), Contains("unknown key"));
    j = good;
    j.erase("alarm");
    CHECK_THAT(refused(j), Contains("missing key") && Contains("alarm"));
    j = good;
    j["pending_commands"] = nlohmann::json::array(
        {nlohmann::json{{"kind", "reboot"}, {"who", "x"}, {"why", ""}, {"submitted_ns", 0}}});
    CHECK_THAT(refused(j), Contains("/pending_commands/0/kind"));
    j = good;
    j["paired_evidence"]["cost"]["fail_side"]["windows"] = -1;
    CHECK_THAT(refused(j), Contains("/paired_evidence/cost/fail_side/windows"));
    // Evidence of another policy: a shadow policy with one gate fewer (the
    // controller starts in the shadow stage).
    controller_config other = config;
    other.shadow_policy->gates.pop_back();
    rollout_controller stepped(other, 0);
    snapshot totals;
    (void)stepped.step(5 * minute_ns, totals);
    CHECK_THAT(refused(rollout_state_to_json(stepped.state())), Contains("/shadow_evidence"));
    // Truncated text.
    const std::string text = good.dump();
    CHECK_THROWS_AS((void)parse_rollout_state(text.substr(0, text.size() / 2), config),
                    decode_error);
    // Digests are checked when the controller resumes.
    j = good;
    j["candidate_digest"] = rollout_simulation::digest_of('c');
    CHECK_THROWS_WITH((void)rollout_controller(config, rollout_state_from_json(j, config)),
                      Contains("digests differ"));
}

TEST_CASE("the audit log: one JSON line per decision, with every gate's evidence") {
    const controller_config config = config_with_paired();
    testkit::scenario_config costly = busy_service();
    costly.candidate_regression.cost = 1.6;
    std::vector<std::string> lines;
    const run_summary r = drive(config, costly, 7, 6 * hour_ns, {},
                                [&](const step_result& s) { lines.push_back(audit_line(s)); });
    REQUIRE(r.phase == rollout_phase::rolled_back);
    REQUIRE_FALSE(lines.empty());
    for (const auto& line : lines) CHECK(line.find('\n') == std::string::npos);
    const nlohmann::json last = nlohmann::json::parse(lines.back());
    CHECK(last["action"] == "roll_back");
    CHECK(last["phase"] == "rolled_back");
    CHECK(last["decision"] == "fail");
    CHECK(last["weights"]["candidate"] == 0);
    CHECK(last["stage_name"] == "shadow 20 %");
    CHECK(last["reason"].get<std::string>().find(rollout_simulation::digest_of('a')) !=
          std::string::npos);
    bool cost_failed = false;
    for (const auto& g : last["gates"]) {
        CHECK(g.contains("log_e_value"));
        CHECK(g.contains("estimate"));
        CHECK(g.contains("candidate_samples"));
        if (g["name"] == "cost") {
            cost_failed = g["decision"] == "fail";
            CHECK(g["log_e_value"].get<double>() >= g["log_fail_threshold"].get<double>());
            CHECK(g["estimate"].get<double>() > 1.2);
        }
    }
    CHECK(cost_failed);
    CHECK(last["srm"]["configured_share"].get<double>() > 0.0);
}

}  // namespace json_rollout_tests
