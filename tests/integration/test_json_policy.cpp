// SPDX-License-Identifier: MIT
// Policy files (integration/json_policy.hpp): policies built in C++ survive
// policy_text → parse_policy field by field and the canonical text is a fixed
// point; non-canonical input reads to the same policy; every bad document is
// refused with a policy_error naming its path and the offending value;
// durations read and write in whole units; a flagd flag file's default
// variant is the selected policy and every variant is validated.
#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>

#include "canarygate/gates/default_policy.hpp"
#include "canarygate/integration/json_policy.hpp"
#include "canarygate/rollout/controller.hpp"

namespace json_policy_tests {

namespace cg = canarygate;
using ojson = nlohmann::ordered_json;

namespace {

const std::string policy_file_digest_a = "sha256:" + std::string(64, 'a');
const std::string policy_file_digest_b = "sha256:" + std::string(64, 'b');
const std::string policy_file_digest_c =
    "sha256:fda784c9e59187d2bc6e2b16c733a13f0d4ecb27435207be1c9ed6b574fcc8cb";

// --- Configurations built in C++ ---

// The simulator's default rollout (testkit::default_rollout() of
// testing/simulation_suite.hpp, rebuilt here: that header's
// testkit::detail makes `detail::` ambiguous for test_json_state.cpp in the
// unity build): a shadow stage (with shadow_policy) and five canary stages
// with max durations and at_max rules.
cg::controller_config policy_file_default_rollout() {
    cg::controller_config c;
    c.policy = cg::default_policy();
    c.shadow_policy = cg::default_shadow_policy();
    c.baseline_digest = policy_file_digest_a;
    c.candidate_digest = policy_file_digest_b;
    cg::rollout_stage shadow;
    shadow.kind = cg::stage_kind::shadow;
    shadow.weights = {.baseline = 1, .candidate = 0, .shadow_ppm = 200'000};
    shadow.min_dwell_ns = 30 * cg::minute_ns;
    shadow.max_duration_ns = cg::hour_ns;
    shadow.at_max = cg::max_duration_rule::advance;
    c.stages = {shadow};
    for (const std::uint32_t percent : {1U, 10U, 25U, 50U, 75U}) {
        cg::rollout_stage s;
        s.weights = {.baseline = 100 - percent, .candidate = percent};
        s.min_dwell_ns = 30 * cg::minute_ns;
        s.max_duration_ns = percent == 1 ? cg::hour_ns : 2 * cg::hour_ns;
        s.at_max = cg::max_duration_rule::advance;
        c.stages.push_back(s);
    }
    return c;
}

// The default rollout with a paired shadow test.
cg::rollout_policy policy_file_shadow_policy() {
    cg::rollout_policy p;
    p.rollout = policy_file_default_rollout();
    cg::paired_test_config paired;
    paired.limits.cost = 1.3;
    paired.limits.output_length = 1.75;
    paired.alpha_fail = 0.02;
    paired.alpha_pass = 0.1;
    p.rollout.paired_shadow = paired;
    return p;
}

// A canary stage, then an A/B stage judged by `metric`; arms named in the
// policy (the ab section takes them from it), non-default alphas and tuning.
cg::rollout_policy policy_file_ab_policy(cg::ab_metric metric) {
    cg::rollout_policy p;
    p.action = cg::policy_action::hold;
    cg::controller_config& c = p.rollout;
    c.baseline_digest = policy_file_digest_c;
    c.candidate_digest = policy_file_digest_b;
    cg::rollout_stage canary;
    canary.name = "canary-5";
    canary.weights = {.baseline = 95, .candidate = 5};
    canary.min_dwell_ns = 45 * cg::minute_ns;
    canary.min_candidate_requests = 2'000;
    canary.max_duration_ns = 3 * cg::hour_ns;
    canary.at_max = cg::max_duration_rule::roll_back;
    cg::rollout_stage ab;
    ab.kind = cg::stage_kind::ab_test;
    ab.name = "A/B 50 %";
    ab.weights = {.baseline = 1, .candidate = 1};
    ab.min_dwell_ns = 2 * cg::hour_ns;
    ab.min_candidate_requests = 50'000;
    ab.max_duration_ns = 24 * cg::hour_ns;
    ab.at_max = cg::max_duration_rule::hold;
    c.stages = {canary, ab};
    c.policy = cg::default_policy();
    c.policy.baseline_arm = "control";
    c.policy.candidate_arm = "treatment";
    c.policy.alpha_fail = 0.02;
    c.policy.alpha_pass = 0.1;
    c.policy.srm_alpha = 0.0005;
    c.policy.srm_concentration = 50.0;
    c.policy.tuning.baseline_n_opt = 50'000;
    c.policy.tuning.candidate_n_opt = 3'000;
    c.policy.tuning.intervals = false;
    c.policy.tuning.batch_n_opt = 40;
    c.policy.tuning.batch_min_batches_to_pass = 8;
    cg::ab_test_config abc{.metric = std::move(metric)};
    abc.alpha = 0.1;
    abc.baseline_arm = "control";
    abc.candidate_arm = "treatment";
    abc.min_requests = 500;
    abc.compute_interval = false;
    abc.mean_n_opt = 20'000;
    c.ab = abc;
    return p;
}

cg::rollout_policy policy_file_ab_rate_policy() {
    return policy_file_ab_policy(
        cg::ab_metric::rate("thumbs_up", "feedback.thumbs_up", /*higher_is_better=*/true));
}

cg::rollout_policy policy_file_ab_mean_policy() {
    return policy_file_ab_policy(cg::ab_metric::mean("cost", "cost_nano_usd.sum",
                                                     "cost_nano_usd.sum_sq",
                                                     /*higher_is_better=*/false));
}

// Gates with batch windows, their own names, advisory (critical false),
// budget weights, minimum events, a delayed thumbs-up feedback gate where a
// decrease is worse, and flagd routing.
cg::policy_config policy_file_custom_gates() {
    cg::policy_config p;
    cg::quantile_gate_config ttft;
    ttft.metric = cg::signal::ttft;
    ttft.name = "ttft.p95";
    ttft.quantile = 0.95;
    ttft.multiplier = 1.25;
    ttft.batch_window_ns = cg::minute_ns;
    ttft.critical = false;
    ttft.budget_weight = 0.5;
    p.gates.emplace_back(cg::quantile_gate(ttft));
    cg::quantile_gate_config latency;  // the default name: latency_p99.9
    latency.quantile = 0.999;
    latency.multiplier = 2.0;
    latency.min_events = 20;
    p.gates.emplace_back(cg::quantile_gate(latency));
    cg::mean_gate_config cost;
    cost.name = "cost-per-request";
    cost.multiplier = 1.1;
    cost.batch_window_ns = 90 * cg::minute_ns;
    cost.budget_weight = 2.0;
    p.gates.emplace_back(cg::mean_gate(cost));
    cg::rate_gate_config refusals;
    refusals.metric = cg::signal::refusal_rate;
    refusals.name = "refusals";
    refusals.multiplier = 3.0;
    refusals.batch_window_ns = 5 * cg::minute_ns;
    refusals.min_events = 10;
    p.gates.emplace_back(cg::rate_gate(refusals));
    cg::rate_gate_config thumbs_up;
    thumbs_up.metric = cg::signal::feedback_rate;
    thumbs_up.name = "thumbs_up";
    thumbs_up.feedback = cg::feedback_kind::thumbs_up;
    thumbs_up.worse = cg::direction::decrease;
    thumbs_up.multiplier = 0.8;
    thumbs_up.feedback_delay_median_s = 90.0;
    thumbs_up.feedback_delay_sigma = 0.75;
    thumbs_up.critical = false;
    thumbs_up.min_events = 4;
    p.gates.emplace_back(cg::rate_gate(thumbs_up));
    cg::rate_gate_config tickets;
    tickets.metric = cg::signal::feedback_rate;
    tickets.name = "tickets";
    tickets.feedback = cg::feedback_kind::ticket;
    tickets.multiplier = 1.5;
    tickets.feedback_delay_sigma = 1.25;  // written even without a delay median
    p.gates.emplace_back(cg::rate_gate(tickets));
    cg::shape_gate_config shape;
    shape.name = "shape";
    shape.ks_tolerance = 0.2;
    shape.critical = false;
    p.gates.emplace_back(cg::shape_gate(shape));
    return p;
}

cg::rollout_policy policy_file_flagd_policy() {
    cg::rollout_policy p;
    p.rollout.baseline_digest = policy_file_digest_a;
    p.rollout.candidate_digest = policy_file_digest_c;
    p.rollout.stages = cg::canary_stages({2, 20, 60}, 15 * cg::minute_ns);
    p.rollout.stages[1].min_candidate_requests = 1'000;
    p.rollout.stages[2].weights = {.baseline = 600, .candidate = 900};
    p.rollout.policy = policy_file_custom_gates();
    p.routing = cg::router_config{.scheme = cg::bucketing::flagd_fractional,
                                  .flag_key = "chat-model",
                                  .hashing = cg::key_hashing::flagd_javascript,
                                  .order = cg::arm_order::candidate_first};
    return p;
}

cg::rollout_policy policy_file_unleash_policy() {
    cg::rollout_policy p;
    p.rollout.baseline_digest = policy_file_digest_b;
    p.rollout.candidate_digest = policy_file_digest_a;
    p.rollout.stages = cg::canary_stages({5, 25, 50}, 250 * 1'000'000);
    p.rollout.policy = cg::default_policy();
    p.rollout.shadow_policy = cg::default_shadow_policy("mirror");
    cg::rollout_stage shadow;  // baseline 100: the weights of every stage sum to 100
    shadow.kind = cg::stage_kind::shadow;
    shadow.weights = {.baseline = 100, .candidate = 0, .shadow_ppm = 1'000'000};
    shadow.min_dwell_ns = 10 * cg::minute_ns;
    p.rollout.stages.insert(p.rollout.stages.begin(), shadow);
    p.routing = cg::router_config{.scheme = cg::bucketing::unleash_rollout,
                                  .flag_key = "",
                                  .hashing = cg::key_hashing::unleash_javascript,
                                  .order = cg::arm_order::baseline_first};
    p.action = cg::policy_action::roll_back;
    return p;
}

// --- Field-by-field comparison ---

void policy_file_check_same_gate(const cg::gate& a, const cg::gate& b) {
    INFO("gate " << a.name());
    CHECK(a.name() == b.name());
    CHECK(a.metric() == b.metric());
    CHECK(a.kind_name() == b.kind_name());
    CHECK(a.critical() == b.critical());
    CHECK(a.budget_weight() == b.budget_weight());
    CHECK(a.common().min_events == b.common().min_events);
    CHECK(a.batch_window_ns() == b.batch_window_ns());
    REQUIRE(a.kind().index() == b.kind().index());
    std::visit(
        [&](const auto& ka) {
            using kind = std::decay_t<decltype(ka)>;
            const auto& ca = ka.config();
            const auto& cb = std::get<kind>(b.kind()).config();
            CHECK(ca.metric == cb.metric);
            if constexpr (std::is_same_v<kind, cg::quantile_gate>) {
                CHECK(ca.quantile == cb.quantile);
                CHECK(ca.multiplier == cb.multiplier);
            } else if constexpr (std::is_same_v<kind, cg::mean_gate>) {
                CHECK(ca.multiplier == cb.multiplier);
                CHECK(ca.worse == cb.worse);
            } else if constexpr (std::is_same_v<kind, cg::rate_gate>) {
                CHECK(ca.multiplier == cb.multiplier);
                CHECK(ca.worse == cb.worse);
                if (ca.metric == cg::signal::feedback_rate) {
                    CHECK(ca.feedback == cb.feedback);
                    CHECK(ca.feedback_delay_median_s == cb.feedback_delay_median_s);
                    CHECK(ca.feedback_delay_sigma == cb.feedback_delay_sigma);
                }
            } else {
                CHECK(ca.ks_tolerance == cb.ks_tolerance);
            }
        },
        a.kind());
}

void policy_file_check_same_policy_config(const cg::policy_config& a, const cg::policy_config& b) {
    CHECK(a.baseline_arm == b.baseline_arm);
    CHECK(a.candidate_arm == b.candidate_arm);
    CHECK(a.alpha_fail == b.alpha_fail);
    CHECK(a.alpha_pass == b.alpha_pass);
    CHECK(a.srm_alpha == b.srm_alpha);
    CHECK(a.srm_concentration == b.srm_concentration);
    CHECK(a.tuning.baseline_n_opt == b.tuning.baseline_n_opt);
    CHECK(a.tuning.candidate_n_opt == b.tuning.candidate_n_opt);
    CHECK(a.tuning.intervals == b.tuning.intervals);
    CHECK(a.tuning.batch_n_opt == b.tuning.batch_n_opt);
    CHECK(a.tuning.batch_min_batches_to_pass == b.tuning.batch_min_batches_to_pass);
    REQUIRE(a.gates.size() == b.gates.size());
    for (std::size_t i = 0; i < a.gates.size(); ++i)
        policy_file_check_same_gate(a.gates[i], b.gates[i]);
}

void policy_file_check_same(const cg::rollout_policy& a, const cg::rollout_policy& b) {
    CHECK(a.action == b.action);
    CHECK(a.rollout.baseline_digest == b.rollout.baseline_digest);
    CHECK(a.rollout.candidate_digest == b.rollout.candidate_digest);
    REQUIRE(a.routing.has_value() == b.routing.has_value());
    if (a.routing) {
        CHECK(a.routing->scheme == b.routing->scheme);
        CHECK(a.routing->flag_key == b.routing->flag_key);
        CHECK(a.routing->hashing == b.routing->hashing);
        CHECK(a.routing->order == b.routing->order);
    }
    REQUIRE(a.rollout.stages.size() == b.rollout.stages.size());
    for (std::size_t i = 0; i < a.rollout.stages.size(); ++i) {
        INFO("stage " << i);
        const cg::rollout_stage& sa = a.rollout.stages[i];
        const cg::rollout_stage& sb = b.rollout.stages[i];
        CHECK(sa.name == sb.name);
        CHECK(sa.kind == sb.kind);
        CHECK(sa.weights == sb.weights);
        CHECK(sa.min_dwell_ns == sb.min_dwell_ns);
        CHECK(sa.min_candidate_requests == sb.min_candidate_requests);
        CHECK(sa.max_duration_ns == sb.max_duration_ns);
        CHECK(sa.at_max == sb.at_max);
    }
    policy_file_check_same_policy_config(a.rollout.policy, b.rollout.policy);
    REQUIRE(a.rollout.shadow_policy.has_value() == b.rollout.shadow_policy.has_value());
    if (a.rollout.shadow_policy)
        policy_file_check_same_policy_config(*a.rollout.shadow_policy, *b.rollout.shadow_policy);
    REQUIRE(a.rollout.paired_shadow.has_value() == b.rollout.paired_shadow.has_value());
    if (a.rollout.paired_shadow) {
        CHECK(a.rollout.paired_shadow->limits.cost == b.rollout.paired_shadow->limits.cost);
        CHECK(a.rollout.paired_shadow->limits.output_length ==
              b.rollout.paired_shadow->limits.output_length);
        CHECK(a.rollout.paired_shadow->alpha_fail == b.rollout.paired_shadow->alpha_fail);
        CHECK(a.rollout.paired_shadow->alpha_pass == b.rollout.paired_shadow->alpha_pass);
    }
    REQUIRE(a.rollout.ab.has_value() == b.rollout.ab.has_value());
    if (a.rollout.ab) {
        CHECK(a.rollout.ab->metric == b.rollout.ab->metric);
        CHECK(a.rollout.ab->alpha == b.rollout.ab->alpha);
        CHECK(a.rollout.ab->baseline_arm == b.rollout.ab->baseline_arm);
        CHECK(a.rollout.ab->candidate_arm == b.rollout.ab->candidate_arm);
        CHECK(a.rollout.ab->min_requests == b.rollout.ab->min_requests);
        CHECK(a.rollout.ab->compute_interval == b.rollout.ab->compute_interval);
        CHECK(a.rollout.ab->mean_n_opt == b.rollout.ab->mean_n_opt);
    }
}

// --- Errors ---

std::optional<cg::policy_error> policy_file_error_of(const std::string& text) {
    try {
        (void)cg::parse_policy(text);
    } catch (const cg::policy_error& e) {
        return e;
    }
    return std::nullopt;
}

// parse_policy(text) must throw a policy_error at `path` whose message
// contains `fragment`; returns the message.
std::string policy_file_expect_error(const std::string& text, const std::string& path,
                                     const std::string& fragment) {
    INFO("expected error at '" << path << "' containing '" << fragment << "'");
    const std::optional<cg::policy_error> e = policy_file_error_of(text);
    REQUIRE(e.has_value());
    CHECK(e->path() == path);
    CHECK_THAT(e->message(), Catch::Matchers::Contains(fragment));
    CHECK(std::string(e->what()) == (path.empty() ? "(document)" : path) + ": " + e->message());
    return e->message();
}

// The base document of the error tests: stages[0] shadow, stages[1] canary,
// stages[2] A/B; gates[0] latency_p99 (quantile), [1] cost (mean),
// [2] error_rate (rate), [3] output_shape (shape), [4] feedback_rate;
// routing, shadow_policy, paired_shadow and ab all present.
cg::rollout_policy policy_file_error_base() {
    cg::rollout_policy p;
    cg::controller_config& c = p.rollout;
    c.baseline_digest = policy_file_digest_a;
    c.candidate_digest = policy_file_digest_b;
    cg::rollout_stage shadow;
    shadow.kind = cg::stage_kind::shadow;
    shadow.weights = {.baseline = 1, .candidate = 0, .shadow_ppm = 100'000};
    cg::rollout_stage canary;
    canary.weights = {.baseline = 90, .candidate = 10};
    canary.min_dwell_ns = 30 * cg::minute_ns;
    cg::rollout_stage ab;
    ab.kind = cg::stage_kind::ab_test;
    ab.weights = {.baseline = 50, .candidate = 50};
    c.stages = {shadow, canary, ab};
    const cg::policy_config defaults = cg::default_policy();
    c.policy.gates = {defaults.gates[0], defaults.gates[2], defaults.gates[3], defaults.gates[7],
                      defaults.gates[8]};
    c.shadow_policy = cg::default_shadow_policy();
    c.paired_shadow = cg::paired_test_config{};
    c.ab = cg::ab_test_config{.metric = cg::ab_metric::rate("refusals", "refusals", false)};
    p.routing = cg::router_config{.scheme = cg::bucketing::flagd_fractional,
                                  .flag_key = "chat-model",
                                  .hashing = cg::key_hashing::utf8_bytes,
                                  .order = cg::arm_order::baseline_first};
    return p;
}

// The base document, edited.
std::string policy_file_edited(const std::function<void(ojson&)>& edit) {
    ojson j = cg::policy_to_json(policy_file_error_base());
    edit(j);
    return j.dump(2);
}

// A flag file: flag `key` with the given variants and default variant, and
// another flag whose variants are plain booleans.
std::string policy_file_flag_file(const std::string& key, const ojson& variants,
                                  const std::string& default_variant,
                                  const std::function<void(ojson&)>& edit_flag = {}) {
    ojson flag;
    flag["state"] = "ENABLED";
    flag["variants"] = variants;
    flag["defaultVariant"] = default_variant;
    flag["targeting"] = ojson::object();
    if (edit_flag) edit_flag(flag);
    ojson other;
    other["state"] = "ENABLED";
    other["variants"] = {{"on", true}, {"off", false}};
    other["defaultVariant"] = "on";
    ojson greeting;
    greeting["state"] = "ENABLED";
    greeting["variants"] = {{"formal", "Good day"}, {"casual", "hi"}};
    greeting["defaultVariant"] = "casual";
    ojson file;
    file["$schema"] = "https://flagd.dev/schema/v0/flags.json";
    file["flags"]["dark-mode"] = other;
    file["flags"][key] = flag;
    file["flags"]["greeting"] = greeting;
    return file.dump(2);
}

std::optional<cg::policy_error> policy_file_flag_error_of(const std::string& text,
                                                          const std::string& key) {
    try {
        (void)cg::parse_policy_flag(text, key);
    } catch (const cg::policy_error& e) {
        return e;
    }
    return std::nullopt;
}

}  // namespace

// --- Round trips ---

TEST_CASE(
    "policy files: a policy written and read back is the same policy, its text a fixed "
    "point") {
    struct round_trip_case {
        const char* name;
        cg::rollout_policy policy;
    };
    const round_trip_case cases[] = {
        {"default_rollout with shadow and paired test", policy_file_shadow_policy()},
        {"A/B stage, rate metric", policy_file_ab_rate_policy()},
        {"A/B stage, mean metric", policy_file_ab_mean_policy()},
        {"flagd routing, custom gates", policy_file_flagd_policy()},
        {"Unleash routing", policy_file_unleash_policy()},
    };
    for (const auto& tc : cases) {
        INFO(tc.name);
        REQUIRE_NOTHROW(tc.policy.validate());
        const std::string text = cg::policy_text(tc.policy);
        CHECK(text.back() == '\n');
        CHECK(text == cg::policy_to_json(tc.policy).dump(2) + "\n");
        const cg::rollout_policy back = cg::parse_policy(text);
        CHECK(cg::policy_text(back) == text);
        policy_file_check_same(tc.policy, back);
        // The DOM reader reads the same.
        const cg::rollout_policy from_dom =
            cg::policy_from_json(nlohmann::json::parse(text), "unused");
        CHECK(cg::policy_text(from_dom) == text);
    }
}

TEST_CASE("policy files: the canonical text writes every key in the documented order") {
    const std::string text = cg::policy_text(policy_file_shadow_policy());
    const char* keys[] = {"\"format\": \"canarygate.policy\"",
                          "\"version\": 1",
                          "\"action\": \"run\"",
                          "\"models\"",
                          "\"stages\"",
                          "\"kind\": \"shadow\"",
                          "\"shadow_ppm\": 200000",
                          "\"min_dwell\": \"30m\"",
                          "\"max_duration\": \"1h\"",
                          "\"at_max\": \"advance\"",
                          "\"policy\"",
                          "\"srm_concentration\": 100.0",
                          "\"tuning\"",
                          "\"batch_min_batches_to_pass\": 12",
                          "\"gates\"",
                          "\"name\": \"latency_p99\"",
                          "\"shadow_policy\"",
                          "\"candidate_arm\": \"shadow\"",
                          "\"paired_shadow\"",
                          "\"output_length\": 1.75"};
    std::size_t at = 0;
    for (const char* key : keys) {
        INFO(key);
        const std::size_t found = text.find(key, at);
        REQUIRE(found != std::string::npos);
        at = found;
    }
    CHECK(text.find("\"routing\"") == std::string::npos);  // unset: not written
    CHECK(text.find("\"ab\"") == std::string::npos);
    CHECK(text.starts_with("{\n  \"format\": \"canarygate.policy\",\n  \"version\": 1,\n"));

    const std::string flagd = cg::policy_text(policy_file_flagd_policy());
    CHECK_THAT(flagd, Catch::Matchers::Contains("\"routing\": {\n    \"scheme\": "
                                                "\"flagd_fractional\",\n    \"flag_key\": "
                                                "\"chat-model\",\n    \"hashing\": "
                                                "\"flagd_javascript\",\n    \"order\": "
                                                "\"candidate_first\"\n  }"));
    CHECK_THAT(flagd, Catch::Matchers::Contains("\"feedback\": \"thumbs_up\""));
    CHECK_THAT(flagd, Catch::Matchers::Contains("\"feedback_delay_median\": \"1m30s\""));
    CHECK_THAT(flagd, Catch::Matchers::Contains("\"worse\": \"decrease\""));
    CHECK_THAT(flagd, Catch::Matchers::Contains("\"name\": \"latency_p99.9\""));
    const std::string ab = cg::policy_text(policy_file_ab_rate_policy());
    CHECK_THAT(ab, Catch::Matchers::Contains("\"kind\": \"ab_test\""));
    CHECK_THAT(ab, Catch::Matchers::Contains("\"name\": \"A/B 50 %\""));
    CHECK(ab.find("sum_squares_counter") == std::string::npos);  // a rate metric has none
    CHECK_THAT(cg::policy_text(policy_file_ab_mean_policy()),
               Catch::Matchers::Contains("\"sum_squares_counter\": \"cost_nano_usd.sum_sq\""));
}

TEST_CASE("policy files: non-canonical input reads to the policy of its canonical form") {
    // Keys in another order, defaults left out, integers for doubles,
    // "1h0m" for "1h".
    const std::string text = R"({
  "policy": {
    "gates": [
      {"multiplier": 3, "signal": "error_rate"},
      {"quantile": 0.95, "signal": "latency", "multiplier": 2},
      {"signal": "cost", "worse": "decrease", "multiplier": 1},
      {"signal": "output_shape"}
    ],
    "srm_concentration": 40,
    "tuning": {"batch_n_opt": 30}
  },
  "stages": [
    {"weights": {"candidate": 5, "baseline": 95}, "min_dwell": "1h0m"},
    {"at_max": "roll_back", "max_duration": "2h", "weights": {"candidate": 1, "baseline": 1}}
  ],
  "models": {"candidate": ")" +
                             policy_file_digest_b + R"(", "baseline": ")" + policy_file_digest_a +
                             R"("},
  "version": 1,
  "format": "canarygate.policy"
}
)";
    cg::rollout_policy expected;
    expected.rollout.baseline_digest = policy_file_digest_a;
    expected.rollout.candidate_digest = policy_file_digest_b;
    cg::rollout_stage first;
    first.weights = {.baseline = 95, .candidate = 5};
    first.min_dwell_ns = cg::hour_ns;
    cg::rollout_stage second;
    second.weights = {.baseline = 1, .candidate = 1};
    second.max_duration_ns = 2 * cg::hour_ns;
    second.at_max = cg::max_duration_rule::roll_back;
    expected.rollout.stages = {first, second};
    cg::rate_gate_config errors;
    errors.multiplier = 3.0;
    cg::quantile_gate_config latency;
    latency.quantile = 0.95;
    latency.multiplier = 2.0;
    cg::mean_gate_config cost;
    cost.worse = cg::direction::decrease;
    cost.multiplier = 1.0;
    expected.rollout.policy.gates = {cg::rate_gate(errors), cg::quantile_gate(latency),
                                     cg::mean_gate(cost), cg::shape_gate(cg::shape_gate_config{})};
    expected.rollout.policy.srm_concentration = 40.0;
    expected.rollout.policy.tuning.batch_n_opt = 30.0;

    const cg::rollout_policy read = cg::parse_policy(text);
    policy_file_check_same(expected, read);
    const std::string canonical = cg::policy_text(read);
    CHECK(canonical == cg::policy_text(expected));
    CHECK(canonical != text);
    CHECK_THAT(canonical, Catch::Matchers::Contains("\"multiplier\": 3.0"));
    CHECK_THAT(canonical, Catch::Matchers::Contains("\"min_dwell\": \"1h\""));
    CHECK_THAT(canonical, Catch::Matchers::Contains("\"name\": \"latency_p95\""));
    policy_file_check_same(read, cg::parse_policy(canonical));
    CHECK(read.action == cg::policy_action::run);
    CHECK_FALSE(read.routing.has_value());
    CHECK_FALSE(read.rollout.shadow_policy.has_value());
    CHECK_FALSE(read.rollout.ab.has_value());

    // A shadow stage's candidate weight defaults to 0, a canary stage's to 1.
    const std::string shadow_text = policy_file_edited([](ojson& j) {
        j["stages"][0]["weights"].erase("candidate");
        j["stages"][1]["weights"].erase("candidate");
        j["stages"][1]["weights"]["baseline"] = 3;
    });
    const cg::rollout_policy shadow_read = cg::parse_policy(shadow_text);
    CHECK(shadow_read.rollout.stages[0].weights.candidate == 0);
    CHECK(shadow_read.rollout.stages[1].weights.candidate == 1);
    CHECK(shadow_read.rollout.stages[1].weights.baseline == 3);
}

TEST_CASE("policy files: the action is the switch a flip turns") {
    CHECK(cg::name(cg::policy_action::run) == "run");
    CHECK(cg::name(cg::policy_action::hold) == "hold");
    CHECK(cg::name(cg::policy_action::roll_back) == "roll_back");
    for (const auto action :
         {cg::policy_action::run, cg::policy_action::hold, cg::policy_action::roll_back}) {
        cg::rollout_policy p = policy_file_shadow_policy();
        p.action = action;
        const std::string text = cg::policy_text(p);
        CHECK_THAT(text, Catch::Matchers::Contains("\"action\": \"" +
                                                   std::string(cg::name(action)) + "\""));
        CHECK(cg::parse_policy(text).action == action);
    }
}

// --- Durations ---

TEST_CASE("policy files: durations are whole units, written largest first") {
    auto min_dwell_of = [](const std::string& duration) {
        return cg::parse_policy(
                   policy_file_edited([&](ojson& j) { j["stages"][1]["min_dwell"] = duration; }))
            .rollout.stages[1]
            .min_dwell_ns;
    };
    CHECK(min_dwell_of("1h30m") == 90 * cg::minute_ns);
    CHECK(min_dwell_of("250ms") == 250'000'000);
    CHECK(min_dwell_of("0s") == 0);
    CHECK(min_dwell_of("1h0m") == cg::hour_ns);
    CHECK(min_dwell_of("90m") == 90 * cg::minute_ns);
    CHECK(min_dwell_of("1m30s500ms") == 90'500'000'000);
    CHECK(min_dwell_of("2us7ns") == 2'007);
    CHECK(min_dwell_of("36h") == 36 * cg::hour_ns);

    auto written = [](std::int64_t ns) {
        cg::rollout_policy p = policy_file_error_base();
        p.rollout.stages[1].min_dwell_ns = ns;
        const std::string text = cg::policy_text(p);
        const std::string key = "\"min_dwell\": \"";
        const std::size_t at = text.find(key, text.find("\"kind\": \"canary\""));
        REQUIRE(at != std::string::npos);
        const std::size_t from = at + key.size();
        return text.substr(from, text.find('"', from) - from);
    };
    CHECK(written(5'400 * cg::second_ns) == "1h30m");
    CHECK(written(250'000'000) == "250ms");
    CHECK(written(0) == "0s");
    CHECK(written(cg::hour_ns) == "1h");
    CHECK(written(90 * cg::minute_ns + 1) == "1h30m1ns");
    CHECK(written(25 * cg::hour_ns + 1'000) == "25h1us");
    CHECK(written(61 * cg::second_ns) == "1m1s");

    // A batch window is a duration too.
    const cg::rollout_policy batch = cg::parse_policy(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][0]["batch_window"] = "250ms"; }));
    CHECK(batch.rollout.policy.gates[0].batch_window_ns() == 250'000'000);
    CHECK_THAT(cg::policy_text(batch), Catch::Matchers::Contains("\"batch_window\": \"250ms\""));
}

// --- Errors ---

TEST_CASE("policy files: unknown and missing keys are errors at their path") {
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["colour"] = "blue"; }), "colour",
                             "unknown key");
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["stages"][1]["dwell"] = "30m"; }),
                             "stages[1].dwell", "unknown key");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][0]["treshold"] = 1.5; }),
        "policy.gates[0].treshold", "unknown key");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["tuning"]["n_opt"] = 10; }),
        "policy.tuning.n_opt", "unknown key");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["shadow_policy"]["gates"][1]["colour"] = 1; }),
        "shadow_policy.gates[1].colour", "unknown key");
    // The unknown-key message lists what the object takes.
    const std::string listed =
        policy_file_expect_error(policy_file_edited([](ojson& j) { j["stages"][1]["weight"] = 1; }),
                                 "stages[1].weight", "min_dwell");
    CHECK_THAT(listed, Catch::Matchers::Contains("at_max"));

    for (const char* key : {"format", "version", "models", "stages", "policy"}) {
        INFO(key);
        policy_file_expect_error(policy_file_edited([&](ojson& j) { j.erase(key); }), "",
                                 "missing key '" + std::string(key) + "'");
    }
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["policy"].erase("gates"); }),
                             "policy", "missing key 'gates'");
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["stages"][1].erase("weights"); }),
                             "stages[1]", "missing key 'weights'");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][1].erase("signal"); }),
        "policy.gates[1]", "missing key 'signal'");
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["models"].erase("candidate"); }),
                             "models", "missing key 'candidate'");
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["stages"] = ojson::array(); }),
                             "stages", "non-empty array");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"] = ojson::array(); }), "policy.gates",
        "non-empty array");
    // The feedback keys belong to feedback_rate gates only.
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][2]["feedback"] = "thumbs_up"; }),
        "policy.gates[2].feedback", "unknown key");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][0]["worse"] = "increase"; }),
        "policy.gates[0].worse", "unknown key");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][3]["multiplier"] = 1.5; }),
        "policy.gates[3].multiplier", "unknown key");
}

TEST_CASE("policy files: format, version and enumerations are checked with the value found") {
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["format"] = "canarygate.policies"; }), "format",
        "got \"canarygate.policies\"");
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["version"] = 2; }), "version",
                             "got 2");
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["version"] = "1"; }), "version",
                             "got \"1\"");

    struct enum_case {
        const char* path;
        const char* value;
        std::function<void(ojson&, const char*)> edit;
    };
    const enum_case cases[] = {
        {"action", "rollback", [](ojson& j, const char* v) { j["action"] = v; }},
        {"stages[1].kind", "blue_green",
         [](ojson& j, const char* v) { j["stages"][1]["kind"] = v; }},
        {"stages[2].at_max", "promote",
         [](ojson& j, const char* v) { j["stages"][2]["at_max"] = v; }},
        {"policy.gates[0].signal", "latency_p99",
         [](ojson& j, const char* v) { j["policy"]["gates"][0]["signal"] = v; }},
        {"policy.gates[2].worse", "higher",
         [](ojson& j, const char* v) { j["policy"]["gates"][2]["worse"] = v; }},
        {"policy.gates[1].worse", "lower",
         [](ojson& j, const char* v) { j["policy"]["gates"][1]["worse"] = v; }},
        {"policy.gates[4].feedback", "thumbs_sideways",
         [](ojson& j, const char* v) { j["policy"]["gates"][4]["feedback"] = v; }},
        {"routing.scheme", "random", [](ojson& j, const char* v) { j["routing"]["scheme"] = v; }},
        {"routing.hashing", "md5", [](ojson& j, const char* v) { j["routing"]["hashing"] = v; }},
        {"routing.order", "random_first",
         [](ojson& j, const char* v) { j["routing"]["order"] = v; }},
        {"ab.metric.kind", "median",
         [](ojson& j, const char* v) { j["ab"]["metric"]["kind"] = v; }},
    };
    for (const auto& c : cases) {
        INFO(c.path);
        const std::string message =
            policy_file_expect_error(policy_file_edited([&](ojson& j) { c.edit(j, c.value); }),
                                     c.path, "got \"" + std::string(c.value) + "\"");
        CHECK(message.starts_with("must be one of \""));
    }
    // The enumerations name their options.
    const std::string action =
        policy_file_expect_error(policy_file_edited([](ojson& j) { j["action"] = "rollback"; }),
                                 "action", "\"run\", \"hold\", \"roll_back\"");
    CHECK(action == "must be one of \"run\", \"hold\", \"roll_back\", got \"rollback\"");
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["action"] = 2; }), "action",
                             "got 2");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][0]["signal"] = 7; }),
        "policy.gates[0].signal", "got 7");
}

TEST_CASE("policy files: values out of range are refused with the value found") {
    // Multipliers and their direction.
    CHECK(policy_file_expect_error(
              policy_file_edited([](ojson& j) { j["policy"]["gates"][2]["multiplier"] = 0.8; }),
              "policy.gates[2].multiplier",
              "got 0.8") == "must be >= 1 when worse is increase, got 0.8");
    CHECK(policy_file_expect_error(
              policy_file_edited([](ojson& j) { j["policy"]["gates"][1]["multiplier"] = 0.8; }),
              "policy.gates[1].multiplier",
              "got 0.8") == "must be >= 1 when worse is increase, got 0.8");
    CHECK(policy_file_expect_error(policy_file_edited([](ojson& j) {
                                       j["policy"]["gates"][2]["worse"] = "decrease";
                                       j["policy"]["gates"][2]["multiplier"] = 1.2;
                                   }),
                                   "policy.gates[2].multiplier",
                                   "got 1.2") == "must be <= 1 when worse is decrease, got 1.2");
    CHECK(policy_file_expect_error(policy_file_edited([](ojson& j) {
                                       j["policy"]["gates"][1]["worse"] = "decrease";
                                       j["policy"]["gates"][1]["multiplier"] = 1.2;
                                   }),
                                   "policy.gates[1].multiplier",
                                   "got 1.2") == "must be <= 1 when worse is decrease, got 1.2");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][0]["multiplier"] = 0.8; }),
        "policy.gates[0].multiplier", "got 0.8");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][2]["multiplier"] = 0; }),
        "policy.gates[2].multiplier", "got 0");
    // The multiplier's direction is checked in shadow_policy too.
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["shadow_policy"]["gates"][3]["multiplier"] = 0.5; }),
        "shadow_policy.gates[3].multiplier", "must be >= 1 when worse is increase, got 0.5");

    // Open intervals.
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][0]["quantile"] = 1; }),
        "policy.gates[0].quantile", "must be in (0, 1), got 1");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][0]["quantile"] = 0; }),
        "policy.gates[0].quantile", "must be in (0, 1), got 0");
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["policy"]["alpha_fail"] = 0; }),
                             "policy.alpha_fail", "must be in (0, 1), got 0");
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["policy"]["alpha_fail"] = 1; }),
                             "policy.alpha_fail", "must be in (0, 1), got 1");
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["policy"]["alpha_pass"] = 0.5; }),
                             "policy.alpha_pass", "must be in (0, 0.5), got 0.5");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["paired_shadow"]["alpha_pass"] = 0.5; }),
        "paired_shadow.alpha_pass", "got 0.5");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["paired_shadow"]["limits"]["cost"] = 0.9; }),
        "paired_shadow.limits.cost", "got 0.9");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][3]["ks_tolerance"] = 1; }),
        "policy.gates[3].ks_tolerance", "must be in (0, 1), got 1");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["tuning"]["batch_n_opt"] = -3; }),
        "policy.tuning.batch_n_opt", "got -3");
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["ab"]["alpha"] = 1.5; }),
                             "ab.alpha", "got 1.5");

    // Integer fields: limits, sign, 2^53, fractions, strings.
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["stages"][1]["weights"]["candidate"] = 2097152; }),
        "stages[1].weights.candidate", "must be in [0, 2097151], got 2097152");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["stages"][0]["weights"]["shadow_ppm"] = 1000001; }),
        "stages[0].weights.shadow_ppm", "must be in [0, 1000000], got 1000001");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][2]["min_events"] = -1; }),
        "policy.gates[2].min_events", "got -1");
    policy_file_expect_error(policy_file_edited([](ojson& j) {
                                 j["policy"]["gates"][2]["min_events"] = std::uint64_t{1} << 53;
                             }),
                             "policy.gates[2].min_events",
                             "must be in [0, 9007199254740991], got 9007199254740992");
    // 2^53 - 1 is the largest count a document holds.
    const cg::rollout_policy largest = cg::parse_policy(policy_file_edited(
        [](ojson& j) { j["policy"]["gates"][2]["min_events"] = (std::uint64_t{1} << 53) - 1; }));
    CHECK(largest.rollout.policy.gates[2].common().min_events == (std::uint64_t{1} << 53) - 1);
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["stages"][1]["min_candidate_requests"] = 2.5; }),
        "stages[1].min_candidate_requests", "expected an integer, found the number 2.5");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][0]["min_events"] = 4.0; }),
        "policy.gates[0].min_events", "expected an integer");
    policy_file_expect_error(policy_file_edited([](ojson& j) {
                                 j["policy"]["tuning"]["batch_min_batches_to_pass"] = "12";
                             }),
                             "policy.tuning.batch_min_batches_to_pass", "\"12\"");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][0]["critical"] = "yes"; }),
        "policy.gates[0].critical", "\"yes\"");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][0]["budget_weight"] = "1"; }),
        "policy.gates[0].budget_weight", "expected a number, found the string \"1\"");
}

TEST_CASE("policy files: durations and digests that are not one are refused") {
    for (const char* bad : {"10 m", "1.5h", "", "10", "-1s", "1d", "h", "1H", "30m "}) {
        INFO("min_dwell \"" << bad << "\"");
        const std::string message = policy_file_expect_error(
            policy_file_edited([&](ojson& j) { j["stages"][1]["min_dwell"] = bad; }),
            "stages[1].min_dwell", "\"" + std::string(bad) + "\"");
        CHECK(message.starts_with("expected a duration"));
    }
    // Well-formed, but beyond 64-bit nanoseconds: said so.
    for (const char* too_long : {"9999999999999999999h", "2562048h", "9223372036854775808ns",
                                 "2562047h47m16s854ms775us808ns"}) {
        INFO("min_dwell \"" << too_long << "\"");
        const std::string message = policy_file_expect_error(
            policy_file_edited([&](ojson& j) { j["stages"][1]["min_dwell"] = too_long; }),
            "stages[1].min_dwell", "\"" + std::string(too_long) + "\"");
        CHECK(message.starts_with("exceeds 2^63 - 1 ns"));
    }
    // The largest duration, in one unit and in several.
    for (const char* largest : {"9223372036854775807ns", "2562047h47m16s854ms775us807ns"}) {
        INFO("min_dwell \"" << largest << "\"");
        CHECK(cg::parse_policy(
                  policy_file_edited([&](ojson& j) { j["stages"][1]["min_dwell"] = largest; }))
                  .rollout.stages[1]
                  .min_dwell_ns == std::numeric_limits<std::int64_t>::max());
    }
    // 2562047h is the largest whole number of hours in 64-bit nanoseconds.
    CHECK(cg::parse_policy(
              policy_file_edited([](ojson& j) { j["stages"][1]["min_dwell"] = "2562047h"; }))
              .rollout.stages[1]
              .min_dwell_ns == 2'562'047 * cg::hour_ns);
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["stages"][1]["max_duration"] = 600; }),
        "stages[1].max_duration", "found the number 600");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][1]["batch_window"] = "5 m"; }),
        "policy.gates[1].batch_window", "\"5 m\"");

    const std::string upper = "sha256:" + std::string(64, 'A');
    policy_file_expect_error(policy_file_edited([&](ojson& j) { j["models"]["baseline"] = upper; }),
                             "models.baseline", "got \"" + upper + "\"");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["models"]["candidate"] = "sha256:abc123"; }),
        "models.candidate", "got \"sha256:abc123\"");
    const std::string no_prefix = "sha512:" + std::string(64, 'a');
    policy_file_expect_error(
        policy_file_edited([&](ojson& j) { j["models"]["candidate"] = no_prefix; }),
        "models.candidate", no_prefix);
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["models"]["baseline"] = 1; }),
                             "models.baseline", "found the number 1");
}

TEST_CASE("policy files: a delayed feedback gate is not in batch mode") {
    CHECK(policy_file_expect_error(policy_file_edited([](ojson& j) {
                                       j["policy"]["gates"][4]["feedback_delay_median"] = "2m";
                                       j["policy"]["gates"][4]["batch_window"] = "5m";
                                   }),
                                   "policy.gates[4].feedback_delay_median", "batch_window") ==
          "cannot be combined with a batch_window (batch mode)");
    // Either alone is fine.
    const cg::rollout_policy delayed = cg::parse_policy(policy_file_edited([](ojson& j) {
        j["policy"]["gates"][4]["feedback_delay_median"] = "2m";
        j["policy"]["gates"][4]["feedback_delay_sigma"] = 0.5;
    }));
    const auto& feedback_gate =
        std::get<cg::rate_gate>(delayed.rollout.policy.gates[4].kind()).config();
    CHECK(feedback_gate.feedback_delay_median_s == 120.0);
    CHECK(feedback_gate.feedback_delay_sigma == 0.5);
    CHECK(feedback_gate.batch_window_ns == 0);
    const cg::rollout_policy batched = cg::parse_policy(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][4]["batch_window"] = "5m"; }));
    CHECK(batched.rollout.policy.gates[4].batch_window_ns() == 5 * cg::minute_ns);
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][4]["feedback_delay_sigma"] = 0; }),
        "policy.gates[4].feedback_delay_sigma", "got 0");
}

TEST_CASE("policy files: duplicate keys and syntax errors") {
    const std::string text = cg::policy_text(policy_file_error_base());
    // A second "name" in gates[1] (the cost gate).
    const std::string cost_name = "\"name\": \"cost\",";
    const std::size_t at = text.find(cost_name);
    REQUIRE(at != std::string::npos);
    std::string duplicate_in_gate = text;
    duplicate_in_gate.insert(at + cost_name.size(), " \"name\": \"cost2\",");
    const std::string gate_message =
        policy_file_expect_error(duplicate_in_gate, "policy.gates[1]", "duplicate key");
    CHECK_THAT(gate_message, Catch::Matchers::Contains("name"));
    // A second "action" at the root.
    std::string duplicate_at_root = text;
    duplicate_at_root.insert(1, " \"action\": \"hold\",");
    const std::string root_message =
        policy_file_expect_error(duplicate_at_root, "", "duplicate key");
    CHECK_THAT(root_message, Catch::Matchers::Contains("action"));
    // In a stage's weights.
    std::string duplicate_in_weights = text;
    const std::string shadow_ppm = "\"shadow_ppm\": 100000";
    duplicate_in_weights.insert(duplicate_in_weights.find(shadow_ppm) + shadow_ppm.size(),
                                ", \"shadow_ppm\": 5");
    CHECK_THAT(policy_file_expect_error(duplicate_in_weights, "stages[0].weights", "duplicate key"),
               Catch::Matchers::Contains("shadow_ppm"));

    // Syntax errors: the message names line and column.
    const std::string trailing_comma =
        "{\n  \"format\": \"canarygate.policy\",\n  \"version\": 1,\n}\n";
    const std::string syntax = policy_file_expect_error(trailing_comma, "", "not valid JSON");
    CHECK(syntax.starts_with("not valid JSON"));
    CHECK_THAT(syntax, Catch::Matchers::Contains("line 4, column 1"));
    const std::string truncated = text.substr(0, text.size() / 2);
    const std::string truncated_message = policy_file_expect_error(truncated, "", "line ");
    CHECK(truncated_message.starts_with("not valid JSON"));
    CHECK_THAT(truncated_message, Catch::Matchers::Contains("column "));
    CHECK(policy_file_expect_error("", "", "not valid JSON").starts_with("not valid JSON"));

    // Not an object.
    policy_file_expect_error("[1, 2]", "", "expected an object");
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["policy"] = 3; }), "policy",
                             "expected an object, found the number 3");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][2] = "error_rate"; }),
        "policy.gates[2]", "\"error_rate\"");
}

TEST_CASE("policy files: the rules that tie fields together are the structs' own") {
    // A shadow stage without a shadow policy.
    const std::string no_shadow_policy = policy_file_expect_error(
        policy_file_edited([](ojson& j) { j.erase("shadow_policy"); }), "", "stages[0]");
    CHECK_THAT(no_shadow_policy, Catch::Matchers::Contains("shadow_policy"));
    // The last stage a shadow stage.
    const std::string last_shadow = policy_file_expect_error(policy_file_edited([](ojson& j) {
                                                                 const ojson shadow =
                                                                     j["stages"][0];
                                                                 j["stages"].erase(2);
                                                                 j["stages"].erase(0);
                                                                 j["stages"].push_back(shadow);
                                                             }),
                                                             "", "stages[1]");
    CHECK_THAT(last_shadow, Catch::Matchers::Contains("last stage"));
    // Two gates with one name.
    const std::string same_name = policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["gates"][1]["name"] = "latency_p99"; }),
        "policy", "gates[0] and gates[1]");
    CHECK_THAT(same_name, Catch::Matchers::Contains("'latency_p99'"));
    // Derived names clash too: two latency gates at the same quantile.
    policy_file_expect_error(
        policy_file_edited([](ojson& j) {
            j["shadow_policy"]["gates"][1] = {{"signal", "latency"}, {"multiplier", 2}};
        }),
        "shadow_policy", "'latency_p99'");
    // A canary stage with candidate weight 0.
    const std::string no_candidate = policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["stages"][1]["weights"]["candidate"] = 0; }), "",
        "stages[1].weights");
    CHECK_THAT(no_candidate, Catch::Matchers::Contains("candidate 0"));
    // An A/B stage without an ab section.
    CHECK_THAT(policy_file_expect_error(policy_file_edited([](ojson& j) { j.erase("ab"); }), "",
                                        "stages[2]"),
               Catch::Matchers::Contains("ab is not set"));
    // Unleash routing: every stage's weights sum to 100.
    const std::string unleash = policy_file_expect_error(
        [] {
            ojson j = cg::policy_to_json(policy_file_unleash_policy());
            j["stages"][2]["weights"]["baseline"] = 70;
            return j.dump();
        }(),
        "", "stages[2].weights total");
    CHECK_THAT(unleash, Catch::Matchers::Contains("unleash_rollout"));
    CHECK_THAT(unleash, Catch::Matchers::Contains("95"));
    // The base document's shadow stage (baseline 1) under Unleash routing.
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["routing"]["scheme"] = "unleash_rollout"; }), "",
        "stages[0].weights total");
    // flagd routing needs a flag key; hashing must fit the scheme.
    policy_file_expect_error(policy_file_edited([](ojson& j) { j["routing"]["flag_key"] = ""; }),
                             "routing.flag_key", "must be non-empty");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["routing"]["hashing"] = "unleash_javascript"; }),
        "routing.hashing", "unleash_javascript");
    // Arms: the shadow policy compares another arm with the same baseline.
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["shadow_policy"]["candidate_arm"] = "candidate"; }), "",
        "shadow_policy.candidate_arm");
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["policy"]["candidate_arm"] = "baseline"; }), "policy",
        "'baseline'");
    // A rate A/B metric has no sum of squares counter.
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["ab"]["metric"]["sum_squares_counter"] = "x.sq"; }),
        "ab.metric.sum_squares_counter", "mean metric only");
    // max_duration shorter than min_dwell.
    policy_file_expect_error(
        policy_file_edited([](ojson& j) { j["stages"][1]["max_duration"] = "10m"; }),
        "stages[1].max_duration", "at least min_dwell (\"30m\"), got \"10m\"");
}

TEST_CASE("policy files: policy_from_json prefixes its path to every error") {
    const auto error_of = [](const std::function<void(ojson&)>& edit, const std::string& prefix) {
        const nlohmann::json j = nlohmann::json::parse(policy_file_edited(edit));
        try {
            (void)cg::policy_from_json(j, prefix);
        } catch (const cg::policy_error& e) {
            return std::optional<cg::policy_error>(e);
        }
        return std::optional<cg::policy_error>();
    };
    const auto kind = error_of([](ojson& j) { j["stages"][1]["kind"] = "blue"; }, "doc");
    REQUIRE(kind.has_value());
    CHECK(kind->path() == "doc.stages[1].kind");
    CHECK(std::string(kind->what()) == "doc.stages[1].kind: " + kind->message());
    const auto cross = error_of([](ojson& j) { j.erase("shadow_policy"); }, "doc");
    REQUIRE(cross.has_value());
    CHECK(cross->path() == "doc");
    const auto root = error_of([](ojson& j) { j.erase("format"); }, "");
    REQUIRE(root.has_value());
    CHECK(root->path().empty());
    CHECK(std::string(root->what()) == "(document): missing key 'format'");
}

TEST_CASE("policy files: rollout_policy::validate and writing an invalid policy") {
    CHECK_NOTHROW(policy_file_error_base().validate());
    CHECK_NOTHROW(policy_file_unleash_policy().validate());

    cg::rollout_policy unleash = policy_file_unleash_policy();
    unleash.rollout.stages[1].weights = {.baseline = 90, .candidate = 5};
    CHECK_THROWS_WITH(unleash.validate(), Catch::Matchers::Contains("stages[1].weights total") &&
                                              Catch::Matchers::Contains("95"));
    CHECK_THROWS_AS(cg::policy_to_json(unleash), std::invalid_argument);
    CHECK_THROWS_AS(cg::policy_text(unleash), std::invalid_argument);

    CHECK_THROWS_AS(cg::policy_to_json(cg::rollout_policy{}), std::invalid_argument);  // no stages

    cg::rollout_policy no_flag_key = policy_file_flagd_policy();
    no_flag_key.routing->flag_key.clear();
    CHECK_THROWS_WITH(cg::policy_to_json(no_flag_key), Catch::Matchers::Contains("flag_key"));

    cg::rollout_policy bad_digest = policy_file_shadow_policy();
    bad_digest.rollout.candidate_digest = "sha256:ABC";
    CHECK_THROWS_WITH(cg::policy_text(bad_digest), Catch::Matchers::Contains("candidate_digest"));

    cg::rollout_policy shadow_last = policy_file_shadow_policy();
    shadow_last.rollout.stages.erase(shadow_last.rollout.stages.begin() + 1,
                                     shadow_last.rollout.stages.end());
    CHECK_THROWS_AS(cg::policy_to_json(shadow_last), std::invalid_argument);
}

// --- flagd flag files ---

TEST_CASE("policy files: a flagd flag's default variant is the selected policy") {
    const cg::rollout_policy rollout = policy_file_flagd_policy();
    cg::rollout_policy rollback = rollout;
    rollback.action = cg::policy_action::roll_back;
    const std::string rollout_text = cg::policy_text(rollout);
    const std::string rollback_text = cg::policy_text(rollback);
    const ojson variants = {{"rollout", ojson::parse(rollout_text)},
                            {"rollback", ojson::parse(rollback_text)}};
    const std::string key = "chat-rollout-policy";

    const std::string file = policy_file_flag_file(key, variants, "rollout");
    CHECK(cg::is_flag_file(file));
    CHECK_FALSE(cg::is_flag_file(rollout_text));
    CHECK_THROWS_AS(cg::is_flag_file("[1]"), cg::policy_error);
    CHECK_THROWS_AS(cg::is_flag_file("{"), cg::policy_error);

    const cg::policy_flag flag = cg::parse_policy_flag(file, key);
    CHECK(flag.key == key);
    CHECK(flag.default_variant == "rollout");
    REQUIRE(flag.variants.size() == 2);
    CHECK(flag.selected().action == cg::policy_action::run);
    CHECK(cg::policy_text(flag.selected()) == rollout_text);
    policy_file_check_same(flag.selected(), cg::parse_policy(rollout_text));
    policy_file_check_same(flag.selected(), rollout);
    CHECK(cg::policy_text(flag.variants.at("rollback")) == rollback_text);

    // Flipping the default variant flips the policy.
    const cg::policy_flag flipped =
        cg::parse_policy_flag(policy_file_flag_file(key, variants, "rollback"), key);
    CHECK(flipped.default_variant == "rollback");
    CHECK(flipped.selected().action == cg::policy_action::roll_back);
    CHECK(cg::policy_text(flipped.selected()) == rollback_text);
    policy_file_check_same(flipped.selected(), rollback);

    // Metadata is allowed and targeting may be left out.
    const cg::policy_flag bare =
        cg::parse_policy_flag(policy_file_flag_file(key, variants, "rollout",
                                                    [](ojson& f) {
                                                        f.erase("targeting");
                                                        f["metadata"] = {{"owner", "ml-platform"}};
                                                    }),
                              key);
    CHECK(cg::policy_text(bare.selected()) == rollout_text);
}

TEST_CASE("policy files: flag files that cannot be read") {
    const cg::rollout_policy rollout = policy_file_error_base();
    cg::rollout_policy rollback = rollout;
    rollback.action = cg::policy_action::roll_back;
    const ojson variants = {{"rollout", cg::policy_to_json(rollout)},
                            {"rollback", cg::policy_to_json(rollback)}};
    const std::string key = "chat-rollout-policy";

    auto expect = [&](const std::string& text, const std::string& path,
                      const std::string& fragment) {
        INFO("expected error at '" << path << "' containing '" << fragment << "'");
        const std::optional<cg::policy_error> e = policy_file_flag_error_of(text, key);
        REQUIRE(e.has_value());
        CHECK(e->path() == path);
        CHECK_THAT(e->message(), Catch::Matchers::Contains(fragment));
        return e->message();
    };

    // No such flag: the message lists the flags present.
    const std::string file = policy_file_flag_file("other-policy", variants, "rollout");
    const std::string missing = expect(file, "flags", "'" + key + "'");
    CHECK_THAT(missing, Catch::Matchers::Contains("dark-mode"));
    CHECK_THAT(missing, Catch::Matchers::Contains("greeting"));
    CHECK_THAT(missing, Catch::Matchers::Contains("other-policy"));
    expect(R"({"flags": {}})", "flags", "none");

    expect(
        policy_file_flag_file(key, variants, "rollout", [](ojson& f) { f["state"] = "DISABLED"; }),
        "flags." + key + ".state", "\"DISABLED\"");
    expect(policy_file_flag_file(key, variants, "rollout", [](ojson& f) { f.erase("state"); }),
           "flags." + key, "missing key 'state'");
    expect(policy_file_flag_file(
               key, variants, "rollout",
               [](ojson& f) {
                   f["targeting"] = {{"if", {{{"var", "tier"}}, "rollback", "rollout"}}};
               }),
           "flags." + key + ".targeting", "targeting");
    expect(policy_file_flag_file(key, variants, "roll-back"), "flags." + key + ".defaultVariant",
           "\"roll-back\"");
    expect(policy_file_flag_file(key, variants, "rollout",
                                 [](ojson& f) { f.erase("defaultVariant"); }),
           "flags." + key, "missing key 'defaultVariant'");
    expect(policy_file_flag_file(key, variants, "rollout",
                                 [](ojson& f) { f["variants"] = ojson::object(); }),
           "flags." + key + ".variants", "non-empty object");
    expect(policy_file_flag_file(key, variants, "rollout", [](ojson& f) { f["rules"] = 1; }),
           "flags." + key + ".rules", "unknown key");

    // An invalid policy in a variant that is not the default is refused too,
    // at its path inside the file.
    ojson bad = variants;
    bad["rollback"]["stages"][1]["kind"] = "blue_green";
    expect(policy_file_flag_file(key, bad, "rollout"),
           "flags." + key + ".variants.rollback.stages[1].kind", "\"blue_green\"");
    ojson bad_gate = variants;
    bad_gate["rollback"]["policy"]["gates"][2]["multiplier"] = 0.8;
    CHECK(expect(policy_file_flag_file(key, bad_gate, "rollout"),
                 "flags." + key + ".variants.rollback.policy.gates[2].multiplier",
                 "got 0.8") == "must be >= 1 when worse is increase, got 0.8");
    // A variant that is not a policy at all.
    ojson boolean = variants;
    boolean["off"] = false;
    expect(policy_file_flag_file(key, boolean, "rollout"), "flags." + key + ".variants.off",
           "expected an object");

    // Not a flag file.
    expect(cg::policy_text(rollout), "flags", "\"flags\" object");
    expect(R"({"flags": []})", "flags", "\"flags\" object");
    expect("[]", "", "expected a flagd flag file");
    const std::string syntax = expect("{\"flags\": {", "", "not valid JSON");
    CHECK_THAT(syntax, Catch::Matchers::Contains("line 1"));
    // A duplicate key inside a variant: the variant's object is named.
    std::string duplicate = policy_file_flag_file(key, variants, "rollout");
    const std::string format = "\"format\": \"canarygate.policy\",";
    duplicate.insert(duplicate.find(format) + format.size(), " \"version\": 1,");
    const std::string duplicate_message =
        expect(duplicate, "flags." + key + ".variants.rollout", "duplicate key");
    CHECK_THAT(duplicate_message, Catch::Matchers::Contains("version"));
}

TEST_CASE("policy files: a $schema for editors is kept and written back first") {
    cg::rollout_policy p = policy_file_flagd_policy();
    p.json_schema = "./schema/policy.schema.json";
    const std::string text = cg::policy_text(p);
    CHECK(text.rfind("{\n  \"$schema\": \"./schema/policy.schema.json\",\n  \"format\"", 0) == 0);
    const cg::rollout_policy read = cg::parse_policy(text);
    CHECK(read.json_schema == "./schema/policy.schema.json");
    CHECK(cg::policy_text(read) == text);
    // Without one, none is written.
    p.json_schema.clear();
    CHECK(cg::policy_text(p).find("$schema") == std::string::npos);
    // A $schema that is not a string is refused at its path.
    std::string bad = text;
    bad.replace(bad.find("\"./schema/policy.schema.json\""), 29, "42");
    try {
        (void)cg::parse_policy(bad);
        FAIL("a numeric $schema was accepted");
    } catch (const cg::policy_error& e) {
        CHECK(e.path() == "$schema");
        CHECK_THAT(e.message(), Catch::Matchers::Contains("expected a string"));
    }
}

}  // namespace json_policy_tests
