// SPDX-License-Identifier: MIT
// JSON form of a policy's accumulated evidence (json_state.hpp): a policy
// restarted from its saved state after any check takes the same decisions,
// bit for bit, as one that never stopped; doubles (NaN, infinities, -0,
// subnormals) round trip exactly; the text is deterministic; malformed
// documents and states of another policy are refused with the JSON Pointer
// of the bad value.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "canarygate/gates/default_policy.hpp"
#include "canarygate/gates/gate.hpp"
#include "canarygate/gates/policy.hpp"
#include "canarygate/integration/json.hpp"
#include "canarygate/integration/json_state.hpp"
#include "canarygate/testing/random.hpp"
#include "canarygate/testing/scenario.hpp"
#include "canarygate/window/event_window.hpp"

namespace json_state_test {

using namespace canarygate;
using namespace canarygate::testkit;
using Catch::Matchers::Contains;
using json = nlohmann::json;

[[nodiscard]] std::uint64_t bits(double x) { return std::bit_cast<std::uint64_t>(x); }

[[nodiscard]] std::string text_of(const policy_state& s) { return policy_state_to_json(s).dump(); }

// The first difference between two reports, bit for bit ("" when none).
[[nodiscard]] std::string report_difference(const policy_report& a, const policy_report& b) {
    auto same = [](double x, double y) { return bits(x) == bits(y); };
    if (a.decision != b.decision) return "decision";
    if (a.check != b.check) return "check";
    if (a.summary != b.summary) return "summary: '" + a.summary + "' vs '" + b.summary + "'";
    if (a.warnings != b.warnings) return "warnings";
    const srm_evidence& x = a.srm;
    const srm_evidence& y = b.srm;
    if (!same(x.configured_share, y.configured_share) ||
        !same(x.observed_share, y.observed_share) || x.candidate_requests != y.candidate_requests ||
        x.baseline_requests != y.baseline_requests ||
        !same(x.log_bayes_factor, y.log_bayes_factor) || !same(x.log_threshold, y.log_threshold) ||
        x.mismatch != y.mismatch) {
        return "srm";
    }
    if (a.gates.size() != b.gates.size()) return "gate count";
    for (std::size_t i = 0; i < a.gates.size(); ++i) {
        const gate_result& g = a.gates[i];
        const gate_result& h = b.gates[i];
        const std::string where = "gate " + g.name + ": ";
        if (g.name != h.name || g.metric != h.metric || g.critical != h.critical)
            return where + "identity";
        if (g.decision != h.decision) return where + "decision";
        if (g.reason != h.reason) return where + "reason: '" + g.reason + "' vs '" + h.reason + "'";
        const gate_evidence& e = g.evidence;
        const gate_evidence& f = h.evidence;
        const std::pair<double, double> doubles[] = {{e.log_e_value, f.log_e_value},
                                                     {e.log_fail_threshold, f.log_fail_threshold},
                                                     {e.alpha_fail, f.alpha_fail},
                                                     {e.estimate, f.estimate},
                                                     {e.lower, f.lower},
                                                     {e.upper, f.upper},
                                                     {e.fixed_lower, f.fixed_lower},
                                                     {e.fixed_upper, f.fixed_upper}};
        for (std::size_t k = 0; k < std::size(doubles); ++k) {
            if (!same(doubles[k].first, doubles[k].second))
                return where + "evidence double #" + std::to_string(k);
        }
        if (e.interval_computed != f.interval_computed ||
            e.asymptotic_interval != f.asymptotic_interval || e.fixed_method != f.fixed_method ||
            e.batches != f.batches || e.candidate_samples != f.candidate_samples ||
            e.baseline_samples != f.baseline_samples || e.candidate_events != f.candidate_events ||
            e.baseline_events != f.baseline_events) {
            return where + "evidence counts or flags";
        }
    }
    return "";
}

// The cumulative totals a recorder would hand the controller at each check.
struct traffic {
    std::vector<snapshot> totals;
    std::vector<double> shares;
    std::vector<bool> at_max;
};

traffic make_traffic(const scenario_config& cfg, std::uint64_t seed, int checks,
                     std::int64_t step) {
    scenario s(cfg, seed);
    event_window builder;
    snapshot totals;
    traffic out;
    for (int k = 1; k <= checks; ++k) {
        const std::int64_t t = k * step;
        s.run(
            t, [&](const request_event& r) { builder.add(r); },
            [&](const feedback_arrival& f) { builder.add(f); });
        totals.merge(builder.take(t - step, t));
        out.totals.push_back(totals);
        out.shares.push_back(s.candidate_share(t - 1));
        out.at_max.push_back(k == checks);
    }
    return out;
}

// Every kind and mode: the default gates, then batch-mode rate, mean and
// quantile gates, a delay-weighted feedback gate and a decrease gate.
policy_config every_mode_policy() {
    policy_config p = default_policy();
    rate_gate_config errors;
    errors.metric = signal::error_rate;
    errors.name = "error_rate_batch";
    errors.batch_window_ns = 20 * minute_ns;
    p.gates.emplace_back(rate_gate(errors));
    mean_gate_config cost;
    cost.name = "cost_batch";
    cost.batch_window_ns = 20 * minute_ns;
    p.gates.emplace_back(mean_gate(cost));
    quantile_gate_config latency;
    latency.name = "latency_p90_batch";
    latency.quantile = 0.9;
    latency.batch_window_ns = 30 * minute_ns;
    p.gates.emplace_back(quantile_gate(latency));
    rate_gate_config delayed;
    delayed.metric = signal::feedback_rate;
    delayed.name = "feedback_delayed";
    delayed.multiplier = 1.5;
    delayed.feedback_delay_median_s = 60;
    delayed.feedback_delay_sigma = 1.2;
    p.gates.emplace_back(rate_gate(delayed));
    rate_gate_config thumbs_up;
    thumbs_up.metric = signal::feedback_rate;
    thumbs_up.feedback = feedback_kind::thumbs_up;
    thumbs_up.multiplier = 0.8;
    thumbs_up.worse = direction::decrease;
    p.gates.emplace_back(rate_gate(thumbs_up));
    return p;
}

scenario_config ramp(double first_share, double second_share) {
    scenario_config cfg;
    cfg.traffic.requests_per_minute = 300;
    cfg.stages = {{0, first_share}, {2 * hour_ns, second_share}};
    cfg.model.feedback_probability = 0.2;
    cfg.model.feedback_delay_median_s = 60;
    cfg.candidate_window_noise = 0.05;
    return cfg;
}

struct resume_outcome {
    std::vector<verdict> decisions;
    std::size_t resumed_runs = 0;
};

// Runs `p` over the traffic without stopping (copy A), saving its state after
// every check. Then, for every check k (and before the first), restores a
// copy from the saved text and runs it to the end: every later report must
// equal A's bit for bit, and its state's text A's at every check.
resume_outcome check_resumes(const policy& p, const traffic& t) {
    const std::size_t n = t.totals.size();
    std::vector<policy_report> reports;
    std::vector<std::string> saved;  // saved[k]: the state before check k
    policy_state a;
    for (std::size_t k = 0; k < n; ++k) {
        saved.push_back(text_of(a));
        reports.push_back(p.evaluate(a, t.totals[k], t.shares[k], t.at_max[k]));
    }
    saved.push_back(text_of(a));

    resume_outcome out;
    for (const auto& r : reports) out.decisions.push_back(r.decision);
    for (std::size_t k = 0; k <= n; ++k) {
        CAPTURE(k);
        // Through text, as a controller's file would carry it.
        policy_state b = parse_policy_state(saved[k], p);
        REQUIRE(text_of(b) == saved[k]);  // save(restore(save(s))) == save(s)
        // Through a DOM and nlohmann's ADL hook, and indented text.
        const json dom = json::parse(saved[k]);
        CHECK(text_of(dom.get<policy_state>()) == saved[k]);
        CHECK(text_of(policy_state_from_json(dom, p)) == saved[k]);
        CHECK(text_of(parse_policy_state(dom.dump(2))) == saved[k]);
        for (std::size_t j = k; j < n; ++j) {
            CAPTURE(j);
            const policy_report r = p.evaluate(b, t.totals[j], t.shares[j], t.at_max[j]);
            const std::string difference = report_difference(reports[j], r);
            REQUIRE(difference.empty());
            REQUIRE(text_of(b) == saved[j + 1]);
        }
        ++out.resumed_runs;
    }
    return out;
}

// A state of the every-mode policy after a short ramp with a regression:
// open batches, served requests, cohorts, histograms, both e-processes.
policy_state sample_state(const policy& p, int checks = 8) {
    auto cfg = ramp(0.2, 0.4);
    cfg.candidate_regression.refusal = 3.0;
    const traffic t = make_traffic(cfg, 11, checks, 10 * minute_ns);
    policy_state s;
    for (std::size_t k = 0; k < t.totals.size(); ++k)
        (void)p.evaluate(s, t.totals[k], t.shares[k], t.at_max[k]);
    return s;
}

struct rejection {
    std::string message;
    std::string pointer;
    std::size_t offset = decode_error::no_offset;
};

rejection reject(const std::function<void()>& f) {
    try {
        f();
    } catch (const decode_error& e) {
        return {e.what(), e.json_pointer(), e.offset()};
    }
    return {"accepted", "", 0};
}

rejection reject_document(const json& j, const policy* p = nullptr) {
    return reject([&] {
        if (p != nullptr) {
            (void)policy_state_from_json(j, *p);
        } else {
            (void)policy_state_from_json(j);
        }
    });
}

// Index of the first gate of kind `Kind` in the policy.
template <class Kind>
std::size_t first_of(const policy& p) {
    const auto& gates = p.config().gates;
    for (std::size_t i = 0; i < gates.size(); ++i) {
        if (std::holds_alternative<Kind>(gates[i].kind())) return i;
    }
    FAIL("no gate of that kind");
    return 0;
}

TEST_CASE("a policy resumed from its saved state after any check decides as one that never stopped",
          "[json][state]") {
    SECTION("the default policy, a good candidate on a ramp") {
        const policy p(default_policy());
        const traffic t = make_traffic(ramp(0.1, 0.3), 1, 20, 10 * minute_ns);
        const auto out = check_resumes(p, t);
        CHECK(out.resumed_runs == 21);
    }
    SECTION("the default policy, a regression that fails critical gates") {
        const policy p(default_policy());
        auto cfg = ramp(0.2, 0.4);
        cfg.candidate_regression.cost = 2.0;
        cfg.candidate_regression.refusal = 3.0;
        cfg.candidate_regression.latency = 2.0;
        const traffic t = make_traffic(cfg, 2, 20, 10 * minute_ns);
        const auto out = check_resumes(p, t);
        CHECK(std::count(out.decisions.begin(), out.decisions.end(), verdict::fail) > 0);
    }
    SECTION("every kind and mode: batch, delay-weighted, decrease, with a regression") {
        const policy p(every_mode_policy());
        auto cfg = ramp(0.2, 0.4);
        cfg.candidate_regression.refusal = 3.0;
        cfg.candidate_regression.thumbs_down = 3.0;
        cfg.candidate_regression.output_length = 1.6;
        const traffic t = make_traffic(cfg, 3, 24, 10 * minute_ns);
        const auto out = check_resumes(p, t);
        CHECK(std::count(out.decisions.begin(), out.decisions.end(), verdict::fail) > 0);
        // The state really holds what the modes accumulate.
        policy_state s;
        for (std::size_t k = 0; k < t.totals.size(); ++k)
            (void)p.evaluate(s, t.totals[k], t.shares[k], t.at_max[k]);
        const auto& mean_batch = std::get<mean_gate::state>(s.gates[10]);
        CHECK(mean_batch.batch.batches > 0);
        CHECK(mean_batch.batch.open.has_value());
        const auto& quantile_batch = std::get<quantile_gate::state>(s.gates[11]);
        CHECK(quantile_batch.batch.open.has_value());
        CHECK(quantile_batch.batch.open->fail_edge_valid);
        const auto& delayed = std::get<rate_gate::state>(s.gates[12]);
        CHECK(delayed.served.size() == t.totals.size());
        CHECK(delayed.previous_end_ns.has_value());
        CHECK(std::get<rate_gate::state>(s.gates[8]).cohorts_seen);
        CHECK(s.previous_totals.has_value());
    }
    SECTION("with an invalid check (a restarted recorder) and without intervals") {
        policy_config c = every_mode_policy();
        c.tuning.intervals = false;
        const policy p(c);
        traffic t = make_traffic(ramp(0.1, 0.3), 4, 16, 10 * minute_ns);
        const std::vector<snapshot> original = t.totals;
        // The recorder restarts before check 6: totals start over.
        snapshot restarted;
        for (std::size_t k = 6; k < t.totals.size(); ++k) {
            snapshot increment = original[k];
            REQUIRE_FALSE(increment.try_subtract(original[k - 1]).has_value());
            restarted.merge(increment);
            t.totals[k] = restarted;
        }
        const auto out = check_resumes(p, t);
        CHECK(out.decisions[6] == verdict::invalid);
    }
}

TEST_CASE("doubles round trip exactly: NaN, infinities, -0, subnormals, every bit pattern",
          "[json][state]") {
    using canarygate::detail::json_double_text;
    using canarygate::detail::parse_json_double;
    constexpr double inf = std::numeric_limits<double>::infinity();
    const double quiet = std::numeric_limits<double>::quiet_NaN();
    const double payload = std::bit_cast<double>(std::uint64_t{0x7ff0000000000123});
    const double negative_payload = std::bit_cast<double>(std::uint64_t{0xfff4000000000001});
    CHECK(json_double_text(quiet) == "nan");
    CHECK(json_double_text(-quiet) == "-nan");
    CHECK(json_double_text(payload) == "nan(0x7ff0000000000123)");
    CHECK(json_double_text(inf) == "inf");
    CHECK(json_double_text(-inf) == "-inf");
    CHECK(json_double_text(-0.0) == "-0");
    CHECK(json_double_text(0.1) == "0.1");
    CHECK(json_double_text(5e-324) == "5e-324");
    const double specials[] = {0.0,
                               -0.0,
                               inf,
                               -inf,
                               quiet,
                               -quiet,
                               0.0 / std::sqrt(0.0),  // what the hardware makes
                               payload,
                               negative_payload,
                               std::numeric_limits<double>::denorm_min(),
                               -std::numeric_limits<double>::denorm_min(),
                               std::numeric_limits<double>::min(),
                               std::nextafter(std::numeric_limits<double>::min(), 0.0),
                               std::numeric_limits<double>::max(),
                               -std::numeric_limits<double>::max(),
                               std::numeric_limits<double>::epsilon(),
                               1.0 / 3.0,
                               0.1 + 0.2,
                               9007199254740993.0,
                               1e23};
    for (const double x : specials) {
        const std::string text = json_double_text(x);
        CAPTURE(text);
        const auto back = parse_json_double(text);
        REQUIRE(back.has_value());
        CHECK(bits(*back) == bits(x));
    }
    // Random bit patterns: every class of double, uniformly over exponents.
    random_source rng(2024);
    for (int i = 0; i < 200000; ++i) {
        const double x = std::bit_cast<double>(rng.next());
        const auto back = parse_json_double(json_double_text(x));
        REQUIRE(back.has_value());
        REQUIRE(bits(*back) == bits(x));
    }
    // What readers refuse: from_chars' own spellings, signs, spaces, junk.
    for (const char* bad :
         {"", "+1", " 1", "1 ", "infinity", "INF", "NaN", "nan(abc)", "nan(0x7ff0000000000000)",
          "nan(0x7FF8000000000001)", "0x1p3", "1e999", "1,5", "--1", "1e", "."}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_json_double(bad).has_value());
    }
    CHECK(parse_json_double("0.10") == 0.1);
    CHECK(parse_json_double("1E5") == 1e5);
}

TEST_CASE("NaN, infinities, -0 and subnormals in a state survive a round trip bit for bit",
          "[json][state]") {
    const policy p(every_mode_policy());
    policy_state s = sample_state(p);
    constexpr double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double hardware_nan = 0.0 / std::sqrt(0.0);
    s.stage_share = hardware_nan;
    auto& mean = std::get<mean_gate::state>(s.gates[2]);
    mean.betting = stats::betting_e_process::restore({0.5, 0.25, -0.0, -inf, nan, 7, 3});
    mean.batch.lower_sum = inf;
    mean.batch.upper_sum_sq = std::numeric_limits<double>::denorm_min();
    mean.batch.open = detail::open_batch{-5, -0.0, nan, inf, -inf, 1e-310, -3, 4, 2, true, false};
    auto& rate = std::get<rate_gate::state>(s.gates[3]);
    REQUIRE(rate.fail_process.has_value());
    auto saved = rate.fail_process->save();
    saved.grid.log_likelihood_ratios = {-inf, inf, nan, -0.0,
                                        std::bit_cast<double>(std::uint64_t{0x7ff0000000000123})};
    rate.fail_process = stats::rate_ratio_e_process<5>::restore(saved);
    rate.served.push_back({-0.0, nan, inf});
    rate.windows.push_back({std::numeric_limits<double>::denorm_min(), -0.0, 0.0, 1.0});

    const std::string text = text_of(s);
    CHECK_THAT(text, Contains("\"stage_share\":\"-nan\"") || Contains("\"stage_share\":\"nan\""));
    CHECK_THAT(text, Contains("\"-inf\"") && Contains("\"5e-324\"") && Contains("\"-0\"") &&
                         Contains("nan(0x7ff0000000000123)"));
    const policy_state back = parse_policy_state(text, p);
    CHECK(text_of(back) == text);
    CHECK(bits(back.stage_share) == bits(hardware_nan));
    const auto& m = std::get<mean_gate::state>(back.gates[2]);
    const auto b = m.betting.save();
    CHECK(bits(b.log_e_value) == bits(-0.0));
    CHECK(bits(b.sum_y) == bits(-inf));
    CHECK(bits(b.sum_y2) == bits(nan));
    CHECK(b.initial_lambda == 0.25);
    CHECK(b.count == 7);
    CHECK(b.windows == 3);
    REQUIRE(m.batch.open.has_value());
    CHECK(bits(m.batch.open->candidate_n) == bits(-0.0));
    CHECK(bits(m.batch.open->fail_bound) == bits(-inf));
    CHECK(m.batch.open->pass_bound == 1e-310);  // subnormal
    CHECK(m.batch.open->index == -5);
    CHECK(m.batch.open->fail_edge == -3);
    const auto& r = std::get<rate_gate::state>(back.gates[3]);
    const auto lr = r.fail_process->save().grid.log_likelihood_ratios;
    CHECK(bits(lr[4]) == 0x7ff0000000000123U);
    CHECK(bits(r.served.back().candidate) == bits(nan));
    CHECK(bits(r.windows.back().baseline_exposure) == bits(-0.0));
    // The sums of the shape gate are exact 128-bit integers.
    auto& shape = std::get<shape_gate::state>(s.gates[7]);
    shape.candidate_sum_squares = wide_uint{~std::uint64_t{0}, ~std::uint64_t{0}};
    shape.baseline_sum = wide_uint{1, 0};
    const policy_state wide = parse_policy_state(text_of(s));
    CHECK(std::get<shape_gate::state>(wide.gates[7]).candidate_sum_squares ==
          shape.candidate_sum_squares);
    CHECK(std::get<shape_gate::state>(wide.gates[7]).baseline_sum == shape.baseline_sum);
    CHECK_THAT(text_of(s), Contains("\"340282366920938463463374607431768211455\""));
}

TEST_CASE("the state document has the documented shape", "[json][state]") {
    const policy p(every_mode_policy());
    const json j = policy_state_to_json(sample_state(p));
    CHECK(j["format"] == "canarygate.policy_state");
    CHECK(j["version"] == 1);
    CHECK(j["gates"].size() == p.config().gates.size());
    CHECK(j["gates"][0]["kind"] == "quantile_gate");
    CHECK(j["gates"][2]["kind"] == "mean_gate");
    CHECK(j["gates"][3]["kind"] == "rate_gate");
    CHECK(j["gates"][7]["kind"] == "shape_gate");
    CHECK(j["gates"][3]["fail_process"]["theta"].size() == 5);
    CHECK(j["gates"][3]["sums"]["candidate_n"].is_string());
    CHECK(j["gates"][3]["checks"].is_number_unsigned());
    CHECK(j["gates"][0]["histograms"]["candidate"]["scale"].is_number());
    CHECK(j["previous_totals"]["format"] == "canarygate.snapshot");
    CHECK(j["stage_share"] == "0.2");
    // A fresh state: no gates yet, no totals, the stage share's sentinel.
    const json fresh = policy_state{};
    CHECK(fresh.dump() ==
          R"({"checks":0,"format":"canarygate.policy_state","gates":[],"previous_totals":null,)"
          R"("stage_baseline_requests":0,"stage_candidate_requests":0,"stage_share":"-1",)"
          R"("version":1})");
    CHECK(text_of(parse_policy_state(fresh.dump(), p)) == fresh.dump());
}

TEST_CASE("every member of the states is in the format (sizes change when members are added)",
          "[json][state]") {
#if defined(__x86_64__) && defined(__GLIBCXX__) && !defined(_GLIBCXX_DEBUG)
    // If one of these fails, a member was added to (or removed from) a
    // struct: write and read it in integration/json_state.hpp, then update
    // the size here.
    CHECK(sizeof(policy_state) == 160);
    CHECK(sizeof(rate_gate::state) == 528);
    CHECK(sizeof(rate_gate::state::window) == 32);
    CHECK(sizeof(rate_gate::state::served_requests) == 24);
    CHECK(sizeof(mean_gate::state) == 304);
    CHECK(sizeof(quantile_gate::state) == 376);
    CHECK(sizeof(shape_gate::state) == 232);
    CHECK(sizeof(detail::mean_sums) == 48);
    CHECK(sizeof(detail::batch_state) == 192);
    CHECK(sizeof(detail::open_batch) == 72);
    CHECK(sizeof(detail::cumulative_histograms) == 160);
    CHECK(sizeof(stats::betting_e_process) == 56);
    CHECK(sizeof(stats::rate_ratio_e_process<5>) == 96);
    CHECK(sizeof(stats::bernoulli_grid_e_process<5>) == 48);
#endif
    CHECK(std::variant_size_v<gate_state> == 4);
}

TEST_CASE("malformed state documents are rejected with the JSON Pointer of the bad value",
          "[json][state]") {
    const policy p(every_mode_policy());
    const json good = policy_state_to_json(sample_state(p));
    REQUIRE(reject_document(good, &p).message == "accepted");
    auto broken = [&](const std::function<void(json&)>& edit) {
        json j = good;
        edit(j);
        return reject_document(j);
    };

    SECTION("unknown keys, at the root and deep inside") {
        auto r = broken([](json& j) { j["extra"] = 1; });
        CHECK(r.pointer == "/extra");
        CHECK_THAT(r.message, Contains("unknown key 'extra'") && Contains("(at \"/extra\")"));
        r = broken([](json& j) { j["gates"][2]["betting"]["bogus"] = "1"; });
        CHECK(r.pointer == "/gates/2/betting/bogus");
        r = broken([](json& j) { j["gates"][10]["batch"]["open"]["x/y"] = true; });
        CHECK(r.pointer == "/gates/10/batch/open/x~1y");
    }
    SECTION("missing keys") {
        auto r = broken([](json& j) { j["gates"][0].erase("exceedances"); });
        CHECK(r.pointer == "/gates/0");
        CHECK_THAT(r.message, Contains("missing key 'exceedances'"));
        r = broken([](json& j) { j.erase("stage_share"); });
        CHECK(r.pointer == "");
        CHECK_THAT(r.message, Contains("missing key 'stage_share'") && Contains("document root"));
        r = broken([](json& j) { j["gates"][4].erase("kind"); });
        CHECK(r.pointer == "/gates/4");
        CHECK_THAT(r.message, Contains("missing key 'kind'"));
    }
    SECTION("wrong types") {
        auto r = broken([](json& j) { j["stage_share"] = 0.4; });  // a number, not a string
        CHECK(r.pointer == "/stage_share");
        CHECK_THAT(r.message, Contains("expected a floating-point number written as a string") &&
                                  Contains("found the number 0.4"));
        r = broken([](json& j) { j["gates"][3]["checks"] = "three"; });
        CHECK(r.pointer == "/gates/3/checks");
        CHECK_THAT(r.message, Contains("expected a decimal string"));
        r = broken([](json& j) { j["gates"][3]["cohorts_seen"] = 1; });
        CHECK(r.pointer == "/gates/3/cohorts_seen");
        CHECK_THAT(r.message, Contains("expected a boolean, found the number 1"));
        r = broken([](json& j) { j["gates"][3]["windows"] = json::object(); });
        CHECK(r.pointer == "/gates/3/windows");
        CHECK_THAT(r.message, Contains("expected an array, found a value of type object"));
        r = broken([](json& j) { j["gates"][3]["fail_process"]["theta"].erase(4); });
        CHECK(r.pointer == "/gates/3/fail_process/theta");
        CHECK_THAT(r.message, Contains("expected an array of 5 values, found 4"));
        r = broken([](json& j) { j["gates"][3]["sums"]["candidate_n"] = "1.5.2"; });
        CHECK(r.pointer == "/gates/3/sums/candidate_n");
        r = broken([](json& j) { j["gates"] = json::object(); });
        CHECK(r.pointer == "/gates");
        r = broken([](json& j) { j["gates"][5] = "quantile_gate"; });
        CHECK(r.pointer == "/gates/5");
        CHECK_THAT(r.message, Contains("expected an object"));
    }
    SECTION("an unknown kind of gate state") {
        auto r = broken([](json& j) { j["gates"][1]["kind"] = "median_gate"; });
        CHECK(r.pointer == "/gates/1/kind");
        CHECK_THAT(r.message, Contains("unknown gate kind the string \"median_gate\""));
        r = broken([](json& j) { j["gates"][1]["kind"] = 2; });
        CHECK(r.pointer == "/gates/1/kind");
        // A known kind with another kind's members.
        r = broken([](json& j) { j["gates"][1]["kind"] = "mean_gate"; });
        CHECK(r.pointer == "/gates/1/exceedance_trials");
        CHECK_THAT(r.message, Contains("unknown key 'exceedance_trials'"));
    }
    SECTION("format and version") {
        auto r = broken([](json& j) { j["format"] = "canarygate.snapshot"; });
        CHECK(r.pointer == "/format");
        r = broken([](json& j) { j["version"] = 2; });
        CHECK(r.pointer == "/version");
        CHECK_THAT(r.message, Contains("version 2 is newer than the version this reader knows"));
    }
    SECTION("values continuing would trip on") {
        auto r = broken([](json& j) { j["gates"][2]["betting"]["max_lambda"] = "1.5"; });
        CHECK(r.pointer == "/gates/2/betting");
        CHECK_THAT(r.message, Contains("max_lambda = 1.5 is outside (0, 1)"));
        r = broken([](json& j) { j["gates"][3]["fail_process"]["theta"][0] = "0.5"; });
        CHECK(r.pointer == "/gates/3/fail_process");
        CHECK_THAT(r.message, Contains("theta = 0.5 is not finite and >= k"));
        r = broken([](json& j) { j["gates"][3]["pass_process"] = nullptr; });
        CHECK(r.pointer == "/gates/3/pass_process");
        r = broken([](json& j) { j["gates"][3]["windows"][0]["candidate_events"] = "-1"; });
        CHECK(r.pointer == "/gates/3/windows/0/candidate_events");
        CHECK_THAT(r.message, Contains("-1 must be >= 0 and below 2^64"));
        r = broken([](json& j) { j["gates"][2]["sums"]["baseline_sum_sq"] = "nan"; });
        CHECK(r.pointer == "/gates/2/sums/baseline_sum_sq");
        r = broken([](json& j) { j["gates"][11]["batch"]["open"]["edge_scale"] = 99; });
        CHECK(r.pointer == "/gates/11/batch/open/edge_scale");
        r = broken([](json& j) {
            j["gates"][0]["histograms"]["baseline"]["min_exponent"] =
                j["gates"][0]["histograms"]["baseline"]["min_exponent"].get<int>() - 1;
        });
        CHECK(r.pointer == "/gates/0/histograms/baseline");
        CHECK_THAT(r.message, Contains("has another range"));
    }
    SECTION("errors inside the snapshot and the histograms name the whole path") {
        auto r =
            broken([](json& j) { j["previous_totals"]["arms"][0]["counters"]["requests"] = -1; });
        CHECK(r.pointer == "/previous_totals/arms/0/counters/requests");
        CHECK_THAT(r.message, Contains("must not be negative") &&
                                  Contains("(at \"/previous_totals/arms/0/counters/requests\")"));
        CHECK_THAT(r.message, !Contains("(at \"/arms"));
        r = broken(
            [](json& j) { j["gates"][0]["histograms"]["candidate"]["spans"][0]["index"] = -1; });
        CHECK(r.pointer == "/gates/0/histograms/candidate/spans/0/index");
        r = broken([](json& j) { j["previous_totals"]["unexpected"] = 0; });
        CHECK(r.pointer == "/previous_totals/unexpected");
    }
    SECTION("a document nested in a larger one") {
        json j = good;
        j["gates"][6]["checks"] = -4;
        policy_state_json_options options;
        options.pointer_prefix = "/canary_evidence";
        const auto r = reject([&] { (void)policy_state_from_json(j, options); });
        CHECK(r.pointer == "/canary_evidence/gates/6/checks");
        const auto t = reject([&] { (void)parse_policy_state(R"({"a":1,"a":2})", options); });
        CHECK(t.pointer == "/canary_evidence");
    }
}

TEST_CASE("parse_policy_state rejects truncated text, duplicate keys and deep nesting",
          "[json][state]") {
    const policy p(every_mode_policy());
    const std::string text = text_of(sample_state(p, 3));
    for (const std::size_t cut :
         {std::size_t{0}, std::size_t{1}, text.size() / 3, text.size() / 2, text.size() - 1}) {
        CAPTURE(cut);
        const auto r = reject([&] { (void)parse_policy_state(text.substr(0, cut), p); });
        CHECK_THAT(r.message, Contains("JSON syntax error"));
        CHECK(r.offset != decode_error::no_offset);
        CHECK(r.offset <= cut);
    }
    json j = json::parse(text);
    std::string dup = j.dump();
    const std::string key = "\"exceedances\":";
    const auto at = dup.find(key);
    REQUIRE(at != std::string::npos);
    dup.insert(at, key + "0,");
    auto r = reject([&] { (void)parse_policy_state(dup); });
    CHECK(r.pointer == "/gates/0");
    CHECK_THAT(r.message, Contains("duplicate key 'exceedances'"));
    const std::string deep = std::string(40, '[') + std::string(40, ']');
    r = reject([&] { (void)parse_policy_state(deep); });
    CHECK_THAT(r.message, Contains("nesting deeper than policy_state_max_json_depth (32)"));
    r = reject([&] { (void)parse_policy_state("[]"); });
    CHECK(r.pointer == "");
    CHECK_THAT(r.message, Contains("expected an object, found a value of type array"));
}

TEST_CASE("a state is checked against the policy it will be used with", "[json][state]") {
    const policy p(every_mode_policy());
    const json good = policy_state_to_json(sample_state(p));

    SECTION("a gate of another kind") {
        json j = good;
        std::swap(j["gates"][0], j["gates"][2]);  // quantile <-> mean
        const auto r = reject_document(j, &p);
        CHECK(r.pointer == "/gates/0/kind");
        CHECK_THAT(r.message, Contains("is a mean_gate state, but the policy's gate 0 "
                                       "'latency_p99' is a quantile_gate"));
        CHECK(reject_document(j).message == "accepted");  // without a policy: no check
        const auto t = reject([&] { (void)parse_policy_state(j.dump(), p); });
        CHECK(t.pointer == "/gates/0/kind");
    }
    SECTION("another number of gates") {
        json j = good;
        j["gates"].erase(j["gates"].size() - 1);
        const auto r = reject_document(j, &p);
        CHECK(r.pointer == "/gates");
        CHECK_THAT(r.message, Contains("holds 13 gate states, but the policy has 14 gates"));
        // No gate states at all is a fresh state: any policy takes it.
        j["gates"] = json::array();
        CHECK(reject_document(j, &p).message == "accepted");
    }
    SECTION("a rate gate whose ratio changed") {
        policy_config c = every_mode_policy();
        const std::size_t i = first_of<rate_gate>(p);
        c.gates[i] = c.gates[i].with([](rate_gate_config& g) { g.multiplier = 3.0; });
        const policy changed(c);
        const auto r = reject_document(good, &changed);
        CHECK(r.pointer == "/gates/" + std::to_string(i) + "/fail_process/k");
        CHECK_THAT(r.message, Contains("2 is not the ratio 3") && Contains("'error_rate'"));
    }
    SECTION("the policy's own states pass, and keep deciding") {
        const policy_state s = policy_state_from_json(good, p);
        CHECK(s.gates.size() == p.config().gates.size());
        CHECK(policy_state_to_json(s) == good);
    }
}

}  // namespace json_state_test
