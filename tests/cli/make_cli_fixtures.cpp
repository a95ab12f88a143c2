// SPDX-License-Identifier: MIT
// Writes the files the command-line tool's tests run on (tests/cli/cli.cmake)
// into the directory given: a small policy and snapshots for every verdict
// of `canarygate judge`, recorded through the real recorder and collector
// from integer-only pseudo-random traffic (the same bytes on every
// compiler), plus a corrupt snapshot.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <canarygate/integration/json.hpp>
#include <canarygate/integration/json_policy.hpp>
#include <canarygate/integration/request_log.hpp>
#include <canarygate/record.hpp>
#include <canarygate/window/codec.hpp>

namespace {

namespace cg = canarygate;

struct arm_traffic {
    std::uint64_t requests = 0;
    std::uint64_t cost_percent = 100;  // of the baseline's cost
    std::uint64_t errors_per_mille = 10;
};

// Baseline and candidate traffic recorded into one cumulative snapshot.
cg::snapshot record(const arm_traffic& baseline, const arm_traffic& candidate, std::uint64_t seed) {
    cg::recorder rec;
    const auto arms =
        std::vector{rec.add_arm("baseline", "sha256:b0"), rec.add_arm("candidate", "sha256:c1")};
    cg::basic_collector<cg::recorder, cg::manual_clock> collector(rec);
    std::mt19937_64 rng(seed);  // its output sequence is fixed by the standard
    const arm_traffic* traffic[] = {&baseline, &candidate};
    for (std::size_t a = 0; a < 2; ++a) {
        for (std::uint64_t i = 0; i < traffic[a]->requests; ++i) {
            cg::request_outcome r;
            r.latency_ns = 400'000'000 + rng() % 800'000'000;  // 0.4 to 1.2 s
            r.ttft_ns = 50'000'000 + rng() % 100'000'000;
            r.input_tokens = 200 + rng() % 800;
            r.output_tokens = 50 + rng() % 400;
            r.cost_nano_usd = (1'000'000 + rng() % 2'000'000) * traffic[a]->cost_percent / 100;
            r.category = rng() % 1000 < traffic[a]->errors_per_mille ? cg::outcome::server_error
                                                                     : cg::outcome::ok;
            rec.record(arms[a], r);
        }
    }
    collector.tick();
    return collector.latest()->cumulative;
}

// One arm of `s` alone (a replica that served only it).
cg::snapshot only(const cg::snapshot& s, const char* arm) {
    cg::snapshot out(s.window_start_ns(), s.window_end_ns());
    const cg::arm_snapshot* a = s.find_arm(arm);
    cg::arm_snapshot& copy = out.arm(a->arm(), a->model_version());
    copy.merge(*a);
    return out;
}

void write(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
    if (!out) {
        std::fprintf(stderr, "make_cli_fixtures: cannot write %s\n", path.c_str());
        std::exit(1);
    }
}

void write_binary(const std::string& path, const cg::snapshot& s) {
    const std::vector<std::uint8_t> bytes = cg::encode(s);
    write(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_cli_fixtures DIRECTORY\n");
        return 2;
    }
    const std::string dir = std::string(argv[1]) + "/";

    // A policy of three gates over one 50 % canary stage.
    cg::rollout_policy p;
    cg::rollout_stage stage;
    stage.weights = {.baseline = 50, .candidate = 50};
    p.rollout.stages = {stage};
    cg::quantile_gate_config latency;  // P99 <= 1.5 x
    cg::mean_gate_config cost;         // cost <= 1.2 x
    cg::rate_gate_config errors;       // errors <= 2 x
    errors.min_events = 4;
    p.rollout.policy.gates = {cg::quantile_gate(latency), cg::mean_gate(cost),
                              cg::rate_gate(errors)};
    p.rollout.baseline_digest = "sha256:" + std::string(64, 'b');
    p.rollout.candidate_digest = "sha256:" + std::string(64, 'c');
    write(dir + "policy.json", cg::policy_text(p));

    // pass: the same model, 40,000 requests a side; fail: 4 x the errors;
    // continue: too few requests to decide; split: 50 % configured, 1 in 5
    // served by the candidate.
    const cg::snapshot pass = record({40'000}, {40'000}, 1);
    write_binary(dir + "pass.snap", pass);
    write_binary(dir + "pass-baseline.snap", only(pass, "baseline"));
    std::string candidate_json = nlohmann::json(only(pass, "candidate")).dump() + "\n";
    write(dir + "pass-candidate.json", candidate_json);
    // The same arm from a replica that runs another model version.
    candidate_json.replace(candidate_json.find("sha256:c1"), 9, "sha256:c2");
    write(dir + "other-version.json", candidate_json);
    write_binary(dir + "fail.snap", record({4'000}, {4'000, 100, 40}, 2));
    write_binary(dir + "continue.snap", record({60}, {60}, 3));
    write_binary(dir + "split.snap", record({8'000}, {2'000}, 4));

    // The policy as a flagd flag file with a roll-back variant, and a policy
    // with a gate that cannot be.
    cg::policy_flag flag;
    flag.key = "chat-rollout-policy";
    flag.default_variant = "rollout";
    flag.variants.emplace("rollout", p);
    cg::rollout_policy rollback = p;
    rollback.action = cg::policy_action::roll_back;
    flag.variants.emplace("rollback", rollback);
    write(dir + "flags.json", cg::policy_flag_text(flag));
    std::string bad = cg::policy_text(p);
    const std::size_t cost_gate = bad.find("\"signal\": \"cost\"");
    bad.replace(bad.find("\"multiplier\": 1.2", cost_gate), 17, "\"multiplier\": 0.8");
    write(dir + "bad-policy.json", bad);
    write(dir + "compact-policy.json",
          cg::policy_to_json(p).dump() + "\n");  // valid, not canonical
    // judge --evidence starts afresh in every run of the tests.
    std::remove((dir + "evidence.json").c_str());

    // An hour of recorded traffic, 10 % on the candidate, as a request log.
    std::ostringstream log;
    {
        cg::request_log_writer writer(log);
        std::mt19937_64 rng(5);
        for (std::int64_t i = 0; i < 6000; ++i) {
            const bool to_candidate = rng() % 10 == 0;
            cg::request_outcome r;
            r.latency_ns = 400'000'000 + rng() % 800'000'000;
            r.output_tokens = 50 + rng() % 400;
            r.input_tokens = 300;
            r.cost_nano_usd = 1'000'000 + rng() % 2'000'000;
            r.category = rng() % 100 == 0 ? cg::outcome::server_error : cg::outcome::ok;
            (void)writer.request(
                i * 600'000'000, to_candidate ? cg::arm_role::candidate : cg::arm_role::baseline,
                to_candidate ? "sha256:c1" : "sha256:b0", "r" + std::to_string(i), r, 0.1);
        }
    }
    write(dir + "requests.jsonl", log.str());
    write(dir + "bad-requests.jsonl", "{\"not\": \"a request log\"}\n");

    // A corrupt snapshot: the pass snapshot cut short.
    std::vector<std::uint8_t> bytes = cg::encode(pass);
    bytes.resize(bytes.size() / 2);
    write(dir + "corrupt.snap", std::string(bytes.begin(), bytes.end()));
    std::printf("make_cli_fixtures: wrote the fixtures into %s\n", dir.c_str());
    return 0;
}
