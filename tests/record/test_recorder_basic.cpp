// SPDX-License-Identifier: MIT
// What one request records: counters, exact sums (sums of squares past 2^64
// included), histograms identical to exp_histogram's, feedback, arm
// registration, writer handles and the seconds helper.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "canarygate/record/recorder.hpp"
#include "canarygate/window/collector.hpp"
#include "support/recorder_helpers.hpp"

namespace {

using test_support::histogram_of;
using test_support::totals_of;

using canarygate::arm_id;
using canarygate::feedback_kind;
using canarygate::outcome;
using canarygate::request_outcome;
using canarygate::wide_uint;
namespace series = canarygate::series;

__extension__ typedef unsigned __int128 u128;  // test oracle only

wide_uint to_wide(u128 v) {
    return {static_cast<std::uint64_t>(v >> 64), static_cast<std::uint64_t>(v)};
}

struct one_shard : canarygate::recorder_traits {
    static constexpr std::size_t max_shards = 1;
};

// A fresh collector on a manual clock reads everything recorded so far.

// The named histogram; fails the test (throws) when it is missing.

request_outcome make_outcome(std::uint64_t latency, std::uint64_t ttft, std::uint64_t in,
                             std::uint64_t out, std::uint64_t cost, outcome category) {
    request_outcome r;
    r.latency_ns = latency;
    r.ttft_ns = ttft;
    r.input_tokens = in;
    r.output_tokens = out;
    r.cost_nano_usd = cost;
    r.category = category;
    return r;
}

}  // namespace

TEST_CASE("a recorded request shows up in every default series", "[recorder]") {
    canarygate::recorder rec;
    const arm_id baseline = rec.add_arm("baseline", "sha256:9f00");
    const arm_id candidate = rec.add_arm("candidate", "sha256:ab12");
    CHECK(baseline.value == 0);
    CHECK(candidate.value == 1);

    std::vector<request_outcome> sent;
    for (std::uint64_t i = 0; i < 500; ++i) {
        sent.push_back(make_outcome(1'000'000 + i * 7919 * 1000,
                                    i % 3 == 0 ? request_outcome::absent : 50'000 + i * 1000,
                                    100 + i, i % 50, 1'000 + i * i * 37,
                                    static_cast<outcome>(i % canarygate::outcome_count)));
    }
    for (const auto& r : sent) CHECK(rec.record(candidate, r));
    CHECK(rec.record(baseline, sent[0]));

    const canarygate::snapshot s = totals_of(rec);
    REQUIRE(s.arms().size() == 2);
    const auto* c = s.find_arm("candidate");
    REQUIRE(c != nullptr);
    CHECK(c->model_version() == "sha256:ab12");

    u128 latency_sum = 0, ttft_sum = 0, in_sum = 0, out_sum = 0, out_sq = 0, cost_sum = 0,
         cost_sq = 0;
    std::uint64_t per_outcome[canarygate::outcome_count] = {};
    canarygate::exp_histogram latency(canarygate::latency_ns_layout),
        ttft(canarygate::latency_ns_layout), in(canarygate::tokens_layout),
        out(canarygate::tokens_layout), cost(canarygate::cost_nano_usd_layout);
    for (const auto& r : sent) {
        latency_sum += r.latency_ns;
        if (r.ttft_ns != request_outcome::absent) {
            ttft_sum += r.ttft_ns;
            ttft.record(r.ttft_ns);
        }
        in_sum += r.input_tokens;
        out_sum += r.output_tokens;
        out_sq += u128{r.output_tokens} * r.output_tokens;
        cost_sum += r.cost_nano_usd;
        cost_sq += u128{r.cost_nano_usd} * r.cost_nano_usd;
        ++per_outcome[static_cast<std::size_t>(r.category)];
        latency.record(r.latency_ns);
        in.record(r.input_tokens);
        out.record(r.output_tokens);
        cost.record(r.cost_nano_usd);
    }
    CHECK(c->counter(series::requests) == wide_uint{500});
    CHECK(c->counter(series::latency_sum) == to_wide(latency_sum));
    CHECK(c->counter(series::ttft_sum) == to_wide(ttft_sum));
    CHECK(c->counter(series::input_tokens_sum) == to_wide(in_sum));
    CHECK(c->counter(series::output_tokens_sum) == to_wide(out_sum));
    CHECK(c->counter(series::output_tokens_sum_squares) == to_wide(out_sq));
    CHECK(c->counter(series::cost_sum) == to_wide(cost_sum));
    CHECK(c->counter(series::cost_sum_squares) == to_wide(cost_sq));
    for (std::size_t o = 0; o < canarygate::outcome_count; ++o) {
        const std::string name = std::string(series::outcome_prefix) +
                                 std::string(canarygate::name(static_cast<outcome>(o)));
        CHECK(c->counter(name) == wide_uint{per_outcome[o]});
    }
    // Bucket for bucket the same as the histogram value type.
    CHECK(histogram_of(*c, series::latency) == latency);
    CHECK(histogram_of(*c, series::ttft) == ttft);
    CHECK(histogram_of(*c, series::input_tokens) == in);
    CHECK(histogram_of(*c, series::output_tokens) == out);
    CHECK(histogram_of(*c, series::cost) == cost);
    CHECK(histogram_of(*c, series::ttft).count() == 500 - 167);  // i % 3 == 0 has no TTFT

    const auto* b = s.find_arm("baseline");
    REQUIRE(b != nullptr);
    CHECK(b->counter(series::requests) == wide_uint{1});
    CHECK(histogram_of(*b, series::latency).count() == 1);
}

TEST_CASE("sums and sums of squares stay exact at the largest accepted values",
          "[recorder][exact]") {
    canarygate::recorder rec;
    const arm_id a = rec.add_arm("candidate");
    constexpr std::uint64_t max_cost = canarygate::recorder_traits::max_cost_nano_usd;  // 2^48 - 1
    constexpr std::uint64_t max_tokens = canarygate::recorder_traits::max_tokens;
    constexpr std::uint64_t max_latency = canarygate::recorder_traits::max_latency_ns;
    constexpr int n = 100'000;  // sum of squares ~ 2^112.6: far past 2^64
    auto w = rec.make_writer();
    const auto r =
        make_outcome(max_latency, max_latency, max_tokens, max_tokens, max_cost, outcome::ok);
    for (int i = 0; i < n; ++i) REQUIRE(w.record(a, r));
    // A couple of values whose limbs carry: 2^32 - 1, 2^32, 2^48 - 2^16.
    const std::vector<std::uint64_t> odd = {0xffffffffU, 0x100000000U,
                                            (std::uint64_t{1} << 48) - 65536, 0, 1};
    for (const std::uint64_t cost : odd) {
        REQUIRE(w.record(a, make_outcome(0, 0, 0, 0, cost, outcome::ok)));
    }

    u128 cost_sum = u128{max_cost} * n, cost_sq = u128{max_cost} * max_cost * n;
    for (const std::uint64_t cost : odd) {
        cost_sum += cost;
        cost_sq += u128{cost} * cost;
    }
    const auto s = totals_of(rec);
    const auto* c = s.find_arm("candidate");
    REQUIRE(c != nullptr);
    CHECK(c->counter(series::cost_sum) == to_wide(cost_sum));
    CHECK(c->counter(series::cost_sum_squares) == to_wide(cost_sq));
    CHECK(c->counter(series::latency_sum) == to_wide(u128{max_latency} * n));
    CHECK(c->counter(series::ttft_sum) == to_wide(u128{max_latency} * n));
    CHECK(c->counter(series::output_tokens_sum_squares) ==
          to_wide(u128{max_tokens} * max_tokens * n));
    CHECK(c->counter(series::requests) == wide_uint{n + odd.size()});
    CHECK(c->counter(series::cost_sum_squares).high != 0);  // really past 64 bits
}

TEST_CASE("feedback kinds and signed scores", "[recorder][feedback]") {
    canarygate::recorder rec;
    const arm_id a = rec.add_arm("candidate", "v2");
    CHECK(rec.record_feedback(a, feedback_kind::thumbs_up));
    CHECK(rec.record_feedback(a, feedback_kind::thumbs_down));
    CHECK(rec.record_feedback(a, feedback_kind::thumbs_down, 999));  // score ignored
    CHECK(rec.record_feedback(a, feedback_kind::ticket));
    for (std::int64_t score = -10; score <= 10; ++score) {
        CHECK(rec.record_feedback(a, feedback_kind::score, score));
    }
    CHECK(rec.record_feedback(a, feedback_kind::score, -1'000'000'000));
    // As the attribution map hands feedback back: an event.
    CHECK(rec.record_feedback(a, canarygate::feedback_event{feedback_kind::ticket, 0}));
    auto w = rec.make_writer();
    CHECK(w.record_feedback(a, canarygate::feedback_event{feedback_kind::score, 0}));
    const auto s = totals_of(rec);
    const auto* c = s.find_arm("candidate");
    REQUIRE(c != nullptr);
    CHECK(c->counter("feedback.thumbs_up") == wide_uint{1});
    CHECK(c->counter("feedback.thumbs_down") == wide_uint{2});
    CHECK(c->counter("feedback.ticket") == wide_uint{2});
    CHECK(c->counter("feedback.score") == wide_uint{23});
    CHECK(c->counter(series::feedback_score_positive_sum) == wide_uint{55});
    CHECK(c->counter(series::feedback_score_negative_sum) == wide_uint{55 + 1'000'000'000});
    CHECK(c->counter(series::requests) == wide_uint{0});  // feedback is not a request
}

TEST_CASE("arm registration is checked configuration", "[recorder][arms]") {
    canarygate::recorder rec;
    CHECK_THROWS_WITH((void)rec.add_arm(""), Catch::Contains("role is empty"));
    const arm_id b = rec.add_arm("baseline", "v1");
    CHECK_THROWS_WITH((void)rec.add_arm("baseline", "v1"), Catch::Contains("already registered"));
    const arm_id b2 = rec.add_arm("baseline", "v2");  // same role, other version: allowed
    CHECK(b2.value == 1);
    (void)rec.add_arm("candidate", "v3");
    (void)rec.add_arm("shadow", "v3");
    CHECK(rec.arm_count() == canarygate::recorder_traits::max_arms);
    CHECK_THROWS_WITH((void)rec.add_arm("extra"), Catch::Contains("Traits::max_arms = 4"));
    CHECK(rec.arm(b) == canarygate::arm_info{"baseline", "v1"});
    CHECK_THROWS_AS((void)rec.arm(arm_id{9}), std::invalid_argument);
    CHECK(rec.arms().size() == 4);
}

TEST_CASE("writers own a shard until destroyed; counts survive the hand-back",
          "[recorder][writer]") {
    canarygate::recorder rec;
    const arm_id a = rec.add_arm("candidate");
    const auto r = make_outcome(2'000'000, 100'000, 10, 20, 3000, outcome::ok);
    {
        auto w1 = rec.make_writer();
        CHECK_FALSE(w1.uses_overflow_shard());
        CHECK(rec.shards_in_use() == 1);
        w1.record(a, r);
        auto w2 = std::move(w1);  // moves ownership, not the counts
        w2.record(a, r);
        CHECK(rec.shards_in_use() == 1);
        auto w3 = rec.make_writer();
        w3.record(a, r);
        CHECK(rec.shards_in_use() == 2);
        w3 = std::move(w2);  // w3's own shard is orphaned first
        w3.record(a, r);
    }
    // Both shards are orphaned (in use until a collector folds them).
    CHECK(rec.shards_in_use() == 2);
    {
        canarygate::basic_collector<canarygate::recorder, canarygate::manual_clock> col(rec);
        col.tick();
        CHECK(rec.shards_in_use() == 0);  // folded and freed
        CHECK(col.cumulative().find_arm("candidate")->counter(series::requests) == wide_uint{4});
        // A new writer gets a zeroed shard; the old counts stay in the base.
        auto w = rec.make_writer();
        w.record(a, r);
        col.tick();
        CHECK(col.cumulative().find_arm("candidate")->counter(series::requests) == wide_uint{5});
    }
}

TEST_CASE("an orphaned shard is adopted by the next writer with its counts", "[recorder][writer]") {
    canarygate::basic_recorder<request_outcome, canarygate::default_metrics, one_shard> rec;
    const arm_id a = rec.add_arm("candidate");
    const auto r = make_outcome(2'000'000, 100'000, 10, 20, 3000, outcome::ok);
    { rec.make_writer().record(a, r); }
    {
        auto w = rec.make_writer();  // no free shard, no collector yet: adopts the orphan
        CHECK_FALSE(w.uses_overflow_shard());
        w.record(a, r);
    }
    const auto s = totals_of(rec);
    CHECK(s.find_arm("candidate")->counter(series::requests) == wide_uint{2});
    CHECK(s.counter(series::overflow_writers) == wide_uint{0});
}

TEST_CASE("a writer may outlive its recorder", "[recorder][writer][lifetime]") {
    auto rec = std::make_unique<canarygate::recorder>();
    const arm_id a = rec->add_arm("candidate");
    auto w = rec->make_writer();
    rec.reset();  // the pool stays alive while the writer holds it
    // Accepted into memory nobody reads any more: no crash, no leak (ASan).
    CHECK(w.record(a, make_outcome(1, 1, 1, 1, 1, outcome::ok)));
}

TEST_CASE("seconds convert to nanoseconds; bad inputs become sentinels", "[recorder][seconds]") {
    using canarygate::ns_from_seconds;
    namespace sentinel = canarygate::duration_sentinel;
    CHECK(ns_from_seconds(0.734) == 734'000'000);
    CHECK(ns_from_seconds(0.0) == 0);
    CHECK(ns_from_seconds(-0.0) == 0);
    CHECK(ns_from_seconds(1e-10) == 0);
    CHECK(ns_from_seconds(1.5e-9) == 2);  // rounds to nearest
    CHECK(ns_from_seconds(86'400.0) == 86'400'000'000'000);
    CHECK(ns_from_seconds(std::nan("")) == sentinel::nan);
    CHECK(ns_from_seconds(-1e-9) == sentinel::negative);
    CHECK(ns_from_seconds(-std::numeric_limits<double>::infinity()) == sentinel::negative);
    CHECK(ns_from_seconds(std::numeric_limits<double>::infinity()) == sentinel::infinite);
    CHECK(ns_from_seconds(1e12) == sentinel::too_large);
    CHECK(ns_from_seconds(9.2e9) == 9'200'000'000'000'000'000ULL);
}
