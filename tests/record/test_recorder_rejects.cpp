// SPDX-License-Identifier: MIT
// Bad values are rejected and counted per reason per arm, never dropped
// silently; a rejected record records nothing else.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "canarygate/record/pricing.hpp"
#include "canarygate/record/recorder.hpp"
#include "canarygate/window/collector.hpp"
#include "support/recorder_helpers.hpp"

namespace {

using test_support::totals_of;

using canarygate::arm_id;
using canarygate::feedback_kind;
using canarygate::ns_from_seconds;
using canarygate::outcome;
using canarygate::request_outcome;
using canarygate::wide_uint;
namespace series = canarygate::series;

request_outcome valid() {
    request_outcome r;
    r.latency_ns = 900'000'000;
    r.ttft_ns = 120'000'000;
    r.input_tokens = 1000;
    r.output_tokens = 300;
    r.cost_nano_usd = 2'500'000;
    return r;
}

std::string rejected(std::string_view reason) {
    return std::string(series::rejected_prefix) + std::string(reason);
}

struct reject_case {
    const char* reason;
    request_outcome record;
};

std::vector<reject_case> cases() {
    constexpr std::uint64_t day = canarygate::recorder_traits::max_latency_ns;
    std::vector<reject_case> v;
    auto with = [](auto change) {
        request_outcome r = valid();
        change(r);
        return r;
    };
    v.push_back({"latency_nan",
                 with([](request_outcome& r) { r.latency_ns = ns_from_seconds(std::nan("")); })});
    v.push_back({"latency_negative",
                 with([](request_outcome& r) { r.latency_ns = ns_from_seconds(-0.5); })});
    v.push_back({"latency_infinite", with([](request_outcome& r) {
                     r.latency_ns = ns_from_seconds(std::numeric_limits<double>::infinity());
                 })});
    v.push_back({"latency_absurd", with([&](request_outcome& r) { r.latency_ns = day + 1; })});
    v.push_back({"latency_absurd",
                 with([](request_outcome& r) { r.latency_ns = ns_from_seconds(1e300); })});
    v.push_back({"latency_absurd",
                 with([](request_outcome& r) { r.latency_ns = request_outcome::absent; })});
    v.push_back(
        {"ttft_nan", with([](request_outcome& r) { r.ttft_ns = ns_from_seconds(std::nan("")); })});
    v.push_back(
        {"ttft_negative", with([](request_outcome& r) { r.ttft_ns = ns_from_seconds(-1.0); })});
    v.push_back(
        {"ttft_infinite", with([](request_outcome& r) { r.ttft_ns = ns_from_seconds(HUGE_VAL); })});
    v.push_back({"ttft_absurd", with([&](request_outcome& r) {
                     r.latency_ns = day;
                     r.ttft_ns = day + 1;
                 })});
    v.push_back(
        {"ttft_exceeds_latency", with([](request_outcome& r) { r.ttft_ns = r.latency_ns + 1; })});
    v.push_back(
        {"input_tokens_absurd", with([](request_outcome& r) { r.input_tokens = 10'000'001; })});
    v.push_back(
        {"output_tokens_absurd", with([](request_outcome& r) { r.output_tokens = 1ULL << 40; })});
    v.push_back({"cost_absurd", with([](request_outcome& r) { r.cost_nano_usd = 1ULL << 48; })});
    v.push_back({"cost_absurd", with([](request_outcome& r) { r.cost_nano_usd = ~0ULL; })});
    v.push_back({"outcome_invalid",
                 with([](request_outcome& r) { r.category = static_cast<outcome>(9); })});
    v.push_back({"outcome_invalid",
                 with([](request_outcome& r) { r.category = static_cast<outcome>(255); })});
    return v;
}

}  // namespace

TEST_CASE("every bad value is rejected under its own reason", "[recorder][reject]") {
    for (const reject_case& c : cases()) {
        INFO("reason " << c.reason);
        canarygate::recorder rec;
        const arm_id a = rec.add_arm("candidate", "v2");
        CHECK_FALSE(rec.record(a, c.record));
        CHECK(rec.record(a, valid()));  // the arm keeps working
        const auto s = totals_of(rec);
        const auto* arm = s.find_arm("candidate");
        REQUIRE(arm != nullptr);
        CHECK(arm->counter(rejected(c.reason)) == wide_uint{1});
        // Nothing of the rejected record was recorded: only the valid one.
        CHECK(arm->counter(series::requests) == wide_uint{1});
        CHECK(arm->counter(series::latency_sum) == wide_uint{valid().latency_ns});
        CHECK(arm->counter(series::ttft_sum) == wide_uint{valid().ttft_ns});
        CHECK(arm->counter(series::cost_sum) == wide_uint{valid().cost_nano_usd});
        CHECK(arm->counter(series::input_tokens_sum) == wide_uint{valid().input_tokens});
        CHECK(arm->counter("outcome.ok") == wide_uint{1});
        wide_uint all_rejects{};
        for (const auto& [name, value] : arm->counters()) {
            if (name.rfind(series::rejected_prefix, 0) == 0) all_rejects += value;
        }
        CHECK(all_rejects == wide_uint{1});  // counted once, under one reason
    }
}

TEST_CASE("every reason is exported, zeros included", "[recorder][reject]") {
    canarygate::recorder rec;
    (void)rec.add_arm("baseline");
    const auto s = totals_of(rec);
    const auto* arm = s.find_arm("baseline");
    REQUIRE(arm != nullptr);
    for (const std::string_view reason : canarygate::default_metrics::reasons) {
        CHECK(arm->counters().count(rejected(reason)) == 1);
    }
    CHECK(canarygate::default_metrics::reason_count == 15);
}

TEST_CASE("a record failing several checks counts under the first reason only",
          "[recorder][reject]") {
    canarygate::recorder rec;
    const arm_id a = rec.add_arm("candidate");
    request_outcome r = valid();
    r.category = static_cast<outcome>(42);  // outcome_invalid (declared first)
    r.latency_ns = ns_from_seconds(std::nan(""));
    r.cost_nano_usd = ~0ULL;
    CHECK_FALSE(rec.record(a, r));
    r.category = outcome::ok;  // now latency_nan comes first
    CHECK_FALSE(rec.record(a, r));
    const auto s = totals_of(rec);
    const auto* arm = s.find_arm("candidate");
    REQUIRE(arm != nullptr);
    CHECK(arm->counter(rejected("outcome_invalid")) == wide_uint{1});
    CHECK(arm->counter(rejected("latency_nan")) == wide_uint{1});
    CHECK(arm->counter(rejected("latency_absurd")) == wide_uint{0});
    CHECK(arm->counter(rejected("cost_absurd")) == wide_uint{0});
}

TEST_CASE("boundary values are accepted", "[recorder][reject]") {
    canarygate::recorder rec;
    const arm_id a = rec.add_arm("candidate");
    request_outcome r = valid();
    r.latency_ns = canarygate::recorder_traits::max_latency_ns;
    r.ttft_ns = r.latency_ns;  // ttft == latency is fine
    r.input_tokens = canarygate::recorder_traits::max_tokens;
    r.output_tokens = canarygate::recorder_traits::max_tokens;
    r.cost_nano_usd = (1ULL << 48) - 1;
    CHECK(rec.record(a, r));
    r = valid();
    r.latency_ns = 0;
    r.ttft_ns = 0;
    r.input_tokens = 0;
    r.output_tokens = 0;
    r.cost_nano_usd = 0;
    CHECK(rec.record(a, r));
    r.ttft_ns = request_outcome::absent;  // absent TTFT is not a rejection
    CHECK(rec.record(a, r));
    for (std::size_t o = 0; o < canarygate::outcome_count; ++o) {
        r.category = static_cast<outcome>(o);
        CHECK(rec.record(a, r));
    }
    const auto s = totals_of(rec);
    CHECK(s.find_arm("candidate")->counter(series::requests) ==
          wide_uint{3 + canarygate::outcome_count});
}

TEST_CASE("unknown arm ids are counted recorder-wide", "[recorder][reject]") {
    canarygate::recorder rec;
    const arm_id a = rec.add_arm("candidate");
    CHECK_FALSE(rec.record(arm_id{1}, valid()));
    CHECK_FALSE(rec.record(arm_id{200}, valid()));
    CHECK_FALSE(rec.record_feedback(arm_id{3}, feedback_kind::thumbs_down));
    auto w = rec.make_writer();
    CHECK_FALSE(w.record(arm_id{1}, valid()));
    CHECK(w.record(a, valid()));
    const auto s = totals_of(rec);
    CHECK(s.counter(series::rejected_unknown_arm) == wide_uint{4});
    CHECK(s.find_arm("candidate")->counter(series::requests) == wide_uint{1});
}

TEST_CASE("bad feedback is rejected per reason", "[recorder][reject][feedback]") {
    canarygate::recorder rec;
    const arm_id a = rec.add_arm("candidate");
    CHECK_FALSE(rec.record_feedback(a, static_cast<feedback_kind>(4)));
    CHECK_FALSE(rec.record_feedback(a, feedback_kind::score, 1'000'000'001));
    CHECK_FALSE(
        rec.record_feedback(a, feedback_kind::score, std::numeric_limits<std::int64_t>::min()));
    CHECK(rec.record_feedback(a, feedback_kind::score, 1'000'000'000));
    CHECK(rec.record_feedback(a, feedback_kind::ticket, std::numeric_limits<std::int64_t>::min()));
    const auto s = totals_of(rec);
    const auto* arm = s.find_arm("candidate");
    REQUIRE(arm != nullptr);
    CHECK(arm->counter(rejected("feedback_kind_invalid")) == wide_uint{1});
    CHECK(arm->counter(rejected("feedback_score_absurd")) == wide_uint{2});
    CHECK(arm->counter("feedback.score") == wide_uint{1});
    CHECK(arm->counter(series::feedback_score_positive_sum) == wide_uint{1'000'000'000});
    CHECK(arm->counter(series::feedback_score_negative_sum) == wide_uint{0});
    CHECK(arm->counter("feedback.ticket") == wide_uint{1});
}

namespace {
struct strict_traits : canarygate::recorder_traits {
    static constexpr std::uint64_t max_latency_ns = 60'000'000'000;  // one minute
    static constexpr std::uint64_t max_tokens = 1000;
    static constexpr std::uint64_t max_cost_nano_usd = 1'000'000'000;  // 1 USD
};
}  // namespace

TEST_CASE("limits come from the traits", "[recorder][reject][traits]") {
    canarygate::basic_recorder<request_outcome, canarygate::default_metrics, strict_traits> rec;
    const arm_id a = rec.add_arm("candidate");
    request_outcome r = valid();
    r.latency_ns = 60'000'000'001;
    CHECK_FALSE(rec.record(a, r));
    r = valid();
    r.output_tokens = 1001;
    CHECK_FALSE(rec.record(a, r));
    r = valid();
    r.cost_nano_usd = 1'000'000'001;
    CHECK_FALSE(rec.record(a, r));
    const auto s = totals_of(rec);
    const auto* arm = s.find_arm("candidate");
    REQUIRE(arm != nullptr);
    CHECK(arm->counter(rejected("latency_absurd")) == wide_uint{1});
    CHECK(arm->counter(rejected("output_tokens_absurd")) == wide_uint{1});
    CHECK(arm->counter(rejected("cost_absurd")) == wide_uint{1});
}

TEST_CASE("the dearest request pricing admits is accepted by the recorder",
          "[recorder][reject][pricing]") {
    using canarygate::usage;
    constexpr std::uint64_t p = canarygate::max_price_pico_usd_per_token;
    const canarygate::price_table dearest(
        "dearest", 0,
        {.input = p, .cached_input = p, .cache_write = p, .output = p, .reasoning = p});
    // The most tokens the factories admit on each side (bisection: the
    // admitted counts are an interval [0, limit]).
    const auto most = [](bool input_side) {
        std::uint64_t low = 0;
        std::uint64_t high = std::uint64_t{1} << 40;
        while (low < high) {
            const std::uint64_t mid = low + (high - low + 1) / 2;
            const auto u = input_side ? usage::try_from_anthropic(mid, 0, 0, 0)
                                      : usage::try_from_anthropic(0, 0, 0, mid);
            if (u) {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        return low;
    };
    const usage u = usage::from_anthropic(most(true), 0, 0, most(false));
    canarygate::recorder rec;
    const arm_id a = rec.add_arm("candidate");
    request_outcome r = valid();
    r.input_tokens = u.input_tokens();
    r.output_tokens = u.output_tokens();
    r.cost_nano_usd = canarygate::cost_nano_usd(dearest, u);
    CAPTURE(r.input_tokens, r.output_tokens, r.cost_nano_usd);
    CHECK(rec.record(a, r));
    const auto s = totals_of(rec);
    const auto* arm = s.find_arm("candidate");
    REQUIRE(arm != nullptr);
    CHECK(arm->counter(series::requests) == wide_uint{1});
    CHECK(arm->counter(series::cost_sum) == wide_uint{r.cost_nano_usd});
}
