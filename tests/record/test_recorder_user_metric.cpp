// SPDX-License-Identifier: MIT
// A user adds a metric without touching the library: a tool-call counter and
// histogram reading a field of the user's own record type, with its own
// rejection reason, recorded next to the default metrics; and a recorder
// with a metric set of the user's choosing.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "canarygate/record/metrics.hpp"
#include "canarygate/record/recorder.hpp"
#include "canarygate/window/collector.hpp"
#include "support/recorder_helpers.hpp"

namespace {

using test_support::histogram_of;

using canarygate::wide_uint;

// The embedder's record: the standard outcome plus what it cares about.
struct agent_request : canarygate::request_outcome {
    std::uint32_t tool_calls = 0;
    bool cache_hit = false;
};

// Tool calls per request: a sum, a histogram (scale 2 over (1, 2^10]), and a
// rejection when an agent loop obviously ran away.
struct tool_calls_metric {
    static constexpr canarygate::histogram_layout layout{2, 0, 10};
    static constexpr std::size_t scalar_count = 1;
    static constexpr std::size_t array_count = canarygate::histogram_counter_count(layout);
    static constexpr std::array<std::string_view, 1> reasons = {"tool_calls_absurd"};

    static constexpr canarygate::reject_mask validate(const agent_request& r) noexcept {
        return r.tool_calls > 500 ? 1 : 0;
    }
    template <class Sink>
    static void record(const Sink& c, const agent_request& r) noexcept {
        c.add(0, r.tool_calls);
        c.add_array(canarygate::histogram_counter_slot(layout, r.tool_calls), 1);
    }
    static void export_to(const canarygate::metric_values& v, canarygate::series_output& out) {
        out.add_counter("tool_calls.sum", v.scalar(0));
        out.add_histogram("tool_calls", v.histogram(layout));
    }
};

// A counter only: cache hits.
struct cache_hits_metric {
    static constexpr std::size_t scalar_count = 1;
    template <class Sink>
    static void record(const Sink& c, const agent_request& r) noexcept {
        c.add(0, r.cache_hit ? 1 : 0);
    }
    static void export_to(const canarygate::metric_values& v, canarygate::series_output& out) {
        out.add_counter("cache_hits", v.scalar(0));
    }
};

// Feedback only, using the traits-templated validation form: counts tickets
// weighted by 10 (a made-up severity) and rejects nothing.
struct weighted_tickets_metric {
    static constexpr std::size_t scalar_count = 1;
    template <class Sink>
    static void record_feedback(const Sink& c, const canarygate::feedback_event& f) noexcept {
        if (f.kind == canarygate::feedback_kind::ticket) c.add(0, 10);
    }
    static void export_to(const canarygate::metric_values& v, canarygate::series_output& out) {
        out.add_counter("tickets.weighted", v.scalar(0));
    }
};

using agent_metrics = canarygate::extend_metrics<canarygate::default_metrics, tool_calls_metric,
                                                 cache_hits_metric, weighted_tickets_metric>;
using agent_recorder = canarygate::basic_recorder<agent_request, agent_metrics>;

static_assert(agent_metrics::metric_count == canarygate::default_metrics::metric_count + 3);
static_assert(agent_metrics::reason_count == canarygate::default_metrics::reason_count + 1);
static_assert(agent_metrics::reasons.back() == "tool_calls_absurd");
static_assert(agent_metrics::array_count ==
              canarygate::default_metrics::array_count + tool_calls_metric::array_count);

}  // namespace

TEST_CASE("a user metric reads the user's record type next to the defaults", "[recorder][metric]") {
    agent_recorder rec;
    const auto arm = rec.add_arm("candidate", "sha256:ab12");
    canarygate::exp_histogram expected(tool_calls_metric::layout);
    std::uint64_t sum = 0, hits = 0;
    for (std::uint32_t i = 0; i < 300; ++i) {
        agent_request r;
        r.latency_ns = 1'000'000'000;
        r.tool_calls = i % 37;
        r.cache_hit = i % 4 == 0;
        CHECK(rec.record(arm, r));
        sum += r.tool_calls;
        hits += r.cache_hit ? 1 : 0;
        expected.record(std::uint64_t{r.tool_calls});
    }
    agent_request runaway;
    runaway.tool_calls = 501;
    CHECK_FALSE(rec.record(arm, runaway));
    CHECK(rec.record_feedback(arm, canarygate::feedback_kind::ticket));

    canarygate::basic_collector<agent_recorder, canarygate::manual_clock> col(rec);
    col.tick();
    const auto s = col.cumulative();
    const auto* a = s.find_arm("candidate");
    REQUIRE(a != nullptr);
    CHECK(a->counter("tool_calls.sum") == wide_uint{sum});
    CHECK(histogram_of(*a, "tool_calls") == expected);
    CHECK(a->counter("cache_hits") == wide_uint{hits});
    CHECK(a->counter("rejected.tool_calls_absurd") == wide_uint{1});
    CHECK(a->counter("tickets.weighted") == wide_uint{10});
    CHECK(a->counter("feedback.ticket") == wide_uint{1});
    // The defaults still work, and the rejected record touched none of them.
    CHECK(a->counter(canarygate::series::requests) == wide_uint{300});
    CHECK(histogram_of(*a, canarygate::series::latency).count() == 300);
}

TEST_CASE("a metric set without the defaults", "[recorder][metric]") {
    using lean = canarygate::metric_set<canarygate::requests_metric, tool_calls_metric>;
    using lean_recorder = canarygate::basic_recorder<agent_request, lean>;
    static_assert(lean_recorder::arm_scalar_count == 1 + 1 + 1);  // requests, sum, one reason
    static_assert(lean_recorder::arm_array_count == tool_calls_metric::array_count);
    lean_recorder rec;
    const auto arm = rec.add_arm("candidate");
    agent_request r;
    r.tool_calls = 3;
    r.latency_ns = ~0ULL;  // no latency metric here: nothing rejects it
    CHECK(rec.record(arm, r));
    CHECK(rec.record_feedback(
        arm,
        canarygate::feedback_kind::thumbs_up));  // no feedback metric: accepted, nothing counted
    canarygate::basic_collector<lean_recorder, canarygate::manual_clock> col(rec);
    col.tick();
    const auto s = col.cumulative();
    const auto* a = s.find_arm("candidate");
    REQUIRE(a != nullptr);
    CHECK(a->counter(canarygate::series::requests) == wide_uint{1});
    CHECK(a->counter("tool_calls.sum") == wide_uint{3});
    CHECK(a->histogram(canarygate::series::latency) == nullptr);
    CHECK(a->counters().size() == 3);
}

TEST_CASE("metric building blocks", "[recorder][metric]") {
    // histogram_counter_slot puts values in exp_histogram's buckets.
    constexpr auto layout = canarygate::latency_ns_layout;
    STATIC_REQUIRE(canarygate::histogram_counter_slot(layout, 0) == 0);
    STATIC_REQUIRE(canarygate::histogram_counter_slot(layout, 1) == 1);  // underflow
    STATIC_REQUIRE(canarygate::histogram_counter_slot(layout, 1ULL << 16) ==
                   1);  // edge is inclusive
    STATIC_REQUIRE(canarygate::histogram_counter_slot(layout, (1ULL << 16) + 1) == 2);
    STATIC_REQUIRE(canarygate::histogram_counter_slot(layout, 1ULL << 41) == 801);
    STATIC_REQUIRE(canarygate::histogram_counter_slot(layout, (1ULL << 41) + 1) ==
                   802);  // overflow
    STATIC_REQUIRE(canarygate::histogram_counter_slot(layout, ~0ULL) == 802);
    STATIC_REQUIRE(canarygate::histogram_counter_count(layout) == 803);

    // add_square splits x^2 into limbs that each stay within 2^32 + 1.
    struct capture {
        std::uint64_t* limbs;
        constexpr void add(std::size_t i, std::uint64_t d) const noexcept { limbs[i] += d; }
    };
    for (const std::uint64_t x :
         {0ULL, 1ULL, 0xffffffffULL, 0x100000000ULL, (1ULL << 48) - 1, 123'456'789'012'345ULL}) {
        std::uint64_t limbs[3] = {};
        canarygate::add_square(capture{limbs}, 0, x);
        CHECK(limbs[0] < (1ULL << 32));
        CHECK(limbs[1] < (1ULL << 32));
        CHECK(limbs[2] <= (1ULL << 32) + 1);
        const wide_uint scalars[3] = {limbs[0], limbs[1], limbs[2]};
        const canarygate::metric_values v(scalars, {});
        __extension__ const unsigned __int128 square = static_cast<unsigned __int128>(x) * x;
        CHECK(v.square_sum(0) == wide_uint(static_cast<std::uint64_t>(square >> 64),
                                           static_cast<std::uint64_t>(square)));
    }
}
