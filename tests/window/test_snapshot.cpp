// SPDX-License-Identifier: MIT
// Snapshots: exact wide counters, merge across replicas (commutative,
// associative, strong guarantee on error, scale mismatch handled by
// downscaling), and the outcome taxonomy they are keyed by.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

#include "canarygate/core/clock.hpp"
#include "canarygate/record/outcome.hpp"
#include "canarygate/window/snapshot.hpp"

using canarygate::arm_snapshot;
using canarygate::exp_histogram;
using canarygate::snapshot;
using canarygate::wide_uint;
using Catch::Matchers::Contains;

namespace {

snapshot replica(std::uint64_t seed, std::int64_t start, std::int64_t end, int scale = 5) {
    std::mt19937_64 rng(seed);
    std::lognormal_distribution<double> latency(std::log(6e8), 0.5);
    snapshot s(start, end);
    for (const char* arm : {"baseline", "candidate"}) {
        auto& a = s.arm(arm, std::string(arm) == "candidate" ? "sha256:c4nd" : "sha256:ba5e");
        exp_histogram h(canarygate::latency_ns_layout.downscaled(scale));
        std::uint64_t sum = 0;
        const std::uint64_t n = 100 + rng() % 900;
        for (std::uint64_t i = 0; i < n; ++i) {
            const auto v = static_cast<std::uint64_t>(latency(rng));
            h.record(v);
            sum += v;
        }
        a.add_counter(canarygate::series::requests, n);
        a.add_counter(canarygate::series::latency_sum, sum);
        a.add_histogram(canarygate::series::latency, h);
    }
    s.add_counter("feedback.unknown_id", rng() % 5);
    return s;
}

// The named histogram, failing the test (not dereferencing null) when absent.
const exp_histogram& hist(const arm_snapshot* arm, std::string_view name) {
    REQUIRE(arm != nullptr);
    const exp_histogram* h = arm->histogram(name);
    REQUIRE(h != nullptr);
    return *h;
}

const arm_snapshot& arm_of(const snapshot& s, std::string_view role) {
    const arm_snapshot* a = s.find_arm(role);
    REQUIRE(a != nullptr);
    return *a;
}

}  // namespace

TEST_CASE("wide_uint is exact past 64 bits", "[snapshot]") {
    wide_uint a(~std::uint64_t{0});
    a += 1;
    CHECK(a.high == 1);
    CHECK(a.low == 0);
    CHECK(a.to_string() == "18446744073709551616");
    CHECK(wide_uint(~std::uint64_t{0}, ~std::uint64_t{0}).to_string() ==
          "340282366920938463463374607431768211455");
    CHECK(wide_uint(12345).to_string() == "12345");
    CHECK(wide_uint(0).to_string() == "0");
    a -= 1;  // borrows from the high word
    CHECK(a == wide_uint(~std::uint64_t{0}));
    a -= wide_uint(1, 0);  // wraps modulo 2^128 like an unsigned integer
    CHECK(a == wide_uint(~std::uint64_t{0}, ~std::uint64_t{0}));
    CHECK(wide_uint(1, 0) > wide_uint(~std::uint64_t{0}));
    CHECK(wide_uint(3, 5).to_double() == Approx(3 * 18446744073709551616.0));
    CHECK(wide_uint(7).fits_u64());
    CHECK_FALSE(wide_uint(1, 0).fits_u64());
}

TEST_CASE("merging replicas is exact, commutative and associative", "[snapshot]") {
    const auto a = replica(1, 0, 300'000'000'000);
    const auto b = replica(2, 1'000'000'000, 301'000'000'000);
    const auto c = replica(3, 2'000'000'000, 302'000'000'000);
    snapshot ab = a;
    ab.merge(b);
    snapshot ba = b;
    ba.merge(a);
    CHECK(ab == ba);
    snapshot ab_c = ab;
    ab_c.merge(c);
    snapshot bc = b;
    bc.merge(c);
    snapshot a_bc = a;
    a_bc.merge(bc);
    CHECK(ab_c == a_bc);
    CHECK(ab_c.sources() == 3);
    CHECK(ab_c.window_start_ns() == 0);
    CHECK(ab_c.window_end_ns() == 302'000'000'000);
    const auto& cand = arm_of(ab_c, "candidate");
    CHECK(cand.model_version() == "sha256:c4nd");
    CHECK(cand.counter(canarygate::series::requests) ==
          arm_of(a, "candidate").counter(canarygate::series::requests) +
              arm_of(b, "candidate").counter(canarygate::series::requests) +
              arm_of(c, "candidate").counter(canarygate::series::requests));
    CHECK(hist(&cand, canarygate::series::latency).count() ==
          cand.counter(canarygate::series::requests).low);
    CHECK(ab_c.counter("feedback.unknown_id") == a.counter("feedback.unknown_id") +
                                                     b.counter("feedback.unknown_id") +
                                                     c.counter("feedback.unknown_id"));
}

TEST_CASE("an empty accumulator takes the window of the first snapshot", "[snapshot]") {
    snapshot fleet;
    CHECK(fleet.sources() == 0);
    const auto a = replica(4, 500, 900);
    fleet.merge(a);
    CHECK(fleet == a);
}

TEST_CASE("a replica at a coarser scale is merged by downscaling the finer side", "[snapshot]") {
    const auto fine = replica(5, 0, 10, 5);
    const auto coarse = replica(6, 0, 10, 3);
    snapshot merged = fine;
    merged.merge(coarse);
    const auto& h = hist(merged.find_arm("baseline"), canarygate::series::latency);
    CHECK(h.layout().scale() == 3);
    auto expected = hist(fine.find_arm("baseline"), canarygate::series::latency).downscale(3);
    expected.merge(hist(coarse.find_arm("baseline"), canarygate::series::latency));
    CHECK(h == expected);
    // And in the other order.
    snapshot other = coarse;
    other.merge(fine);
    CHECK(other == merged);
}

TEST_CASE("incompatible merges fail clearly and change nothing", "[snapshot]") {
    auto a = replica(7, 0, 10);
    const auto before = a;
    snapshot b(0, 10);
    b.arm("baseline", "sha256:ba5e")
        .add_histogram(canarygate::series::latency,
                       exp_histogram(canarygate::histogram_layout(5, 10, 41)));
    CHECK_THROWS_WITH((void)a.merge(b),
                      Contains("histogram 'latency_ns' of arm 'baseline': ranges differ"));
    CHECK(a == before);

    arm_snapshot x("candidate", "v1");
    const arm_snapshot y("candidate", "v2");
    CHECK_THROWS_WITH(x.merge(y), Contains("'candidate'@'v1' vs 'candidate'@'v2'"));
    CHECK_THROWS_WITH((void)snapshot(10, 5), Contains("window_end_ns = 5"));
}

TEST_CASE("missing series read as zero; arms stay sorted", "[snapshot]") {
    snapshot s(0, 1);
    s.arm("shadow");
    s.arm("baseline");
    s.arm("candidate", "b");
    s.arm("candidate", "a");
    REQUIRE(s.arms().size() == 4);
    CHECK(s.arms()[0].arm() == "baseline");
    CHECK(s.arms()[1].model_version() == "a");
    CHECK(s.arms()[2].model_version() == "b");
    CHECK(s.arms()[3].arm() == "shadow");
    CHECK(&s.arm("candidate", "a") == &s.arms()[1]);  // found, not duplicated
    CHECK(s.arms()[0].counter("anything") == wide_uint{});
    CHECK(s.arms()[0].histogram("anything") == nullptr);
    CHECK(s.find_arm("nobody") == nullptr);
}

TEST_CASE("outcome taxonomy", "[outcome]") {
    using canarygate::outcome;
    for (std::size_t i = 0; i < canarygate::outcome_count; ++i) {
        const auto o = static_cast<outcome>(i);
        CHECK(canarygate::outcome_from_name(canarygate::name(o)) == o);
    }
    CHECK(canarygate::name(static_cast<outcome>(200)) == "unknown");
    CHECK(canarygate::name(static_cast<canarygate::feedback_kind>(9)) == "unknown");
    CHECK_FALSE(canarygate::outcome_from_name("refusal").has_value());
    CHECK(canarygate::is_refusal(outcome::refusal_classifier));
    CHECK_FALSE(canarygate::is_refusal(outcome::server_error));
    CHECK(canarygate::is_error(outcome::timeout));
    CHECK_FALSE(canarygate::is_error(outcome::client_error));
    CHECK_FALSE(canarygate::is_error(outcome::aborted));
    CHECK(canarygate::name(canarygate::feedback_kind::thumbs_down) == "thumbs_down");
}

TEST_CASE("subtracting an earlier cumulative snapshot leaves the increment", "[snapshot]") {
    const auto first = replica(8, 0, 60);
    const auto second = replica(9, 60, 120);
    snapshot cumulative = first;
    cumulative.merge(second);
    snapshot increment = cumulative;
    increment.subtract(first);
    CHECK(increment.window_start_ns() == 60);
    CHECK(increment.window_end_ns() == 120);
    for (const auto& arm : second.arms()) {
        const auto& got = increment.arm(arm.arm(), arm.model_version());
        CHECK(got.counters() == arm.counters());
        CHECK(hist(&got, canarygate::series::latency) == hist(&arm, canarygate::series::latency));
    }
    CHECK(increment.counter("feedback.unknown_id") == second.counter("feedback.unknown_id"));

    // Not an earlier state: refused, nothing changed.
    snapshot wrong = first;
    const auto before = wrong;
    CHECK_THROWS_WITH((void)wrong.subtract(cumulative),
                      Contains("would go negative") || Contains("ends at"));
    CHECK(wrong == before);
    snapshot later_end = second;
    CHECK_THROWS_WITH((void)later_end.subtract(replica(10, 0, 500)), Contains("ends at 500 ns"));
    snapshot missing(0, 200);
    CHECK_THROWS_WITH((void)missing.subtract(first), Contains("missing from the later snapshot"));
}

TEST_CASE("subtracting an earlier finer histogram from a coarsened total is exact",
          "[snapshot][subtract]") {
    // The total was merged with a coarser source after `earlier` was taken:
    // it is at scale 4, `earlier` at scale 5. Merging downscales; so does
    // subtracting.
    exp_histogram fine(canarygate::histogram_layout(5, 0, 40));
    exp_histogram coarse(canarygate::histogram_layout(4, 0, 40));
    for (int i = 1; i <= 500; ++i) fine.record(37.0 * i);
    for (int i = 1; i <= 300; ++i) coarse.record(53.0 * i);
    snapshot earlier(0, canarygate::minute_ns);
    earlier.arm("baseline").add_histogram(canarygate::series::latency, fine);
    snapshot total = earlier;
    snapshot later(canarygate::minute_ns, 2 * canarygate::minute_ns);
    later.arm("baseline").add_histogram(canarygate::series::latency, coarse);
    total.merge(later);
    REQUIRE(total.find_arm("baseline")->histogram(canarygate::series::latency)->layout().scale() ==
            4);
    snapshot difference = total;
    REQUIRE_NOTHROW(difference.subtract(earlier));
    const exp_histogram* left =
        difference.find_arm("baseline")->histogram(canarygate::series::latency);
    REQUIRE(left != nullptr);
    CHECK(*left == coarse);
    CHECK(difference.window_start_ns() == canarygate::minute_ns);
}

TEST_CASE("a refused histogram subtraction names the arm and the series", "[snapshot][subtract]") {
    exp_histogram three(canarygate::histogram_layout(5, 0, 40)),
        four(canarygate::histogram_layout(5, 0, 40));
    three.record(1000.0, 3);
    four.record(1000.0, 4);
    snapshot later(0, 2 * canarygate::minute_ns), earlier(0, canarygate::minute_ns);
    later.arm("candidate", "v2").add_histogram(canarygate::series::ttft, three);
    earlier.arm("candidate", "v2").add_histogram(canarygate::series::ttft, four);
    const snapshot before = later;
    const auto why = later.try_subtract(earlier);
    REQUIRE(why);
    CHECK_THAT(*why, Contains("histogram 'ttft_ns' of arm 'candidate'") &&
                         Contains("would go negative (3 - 4)"));
    CHECK(later == before);
}

namespace {

constexpr std::uint64_t two_to_63 = std::uint64_t{1} << 63;

// A snapshot whose candidate arm holds `count` copies of `value` in its TTFT
// histogram.
snapshot with_ttft(std::uint64_t value, std::uint64_t count, int scale = 5) {
    snapshot s(0, canarygate::minute_ns);
    exp_histogram h(canarygate::latency_ns_layout.downscaled(scale));
    h.record(value, count);
    s.arm("candidate", "v2").add_histogram(canarygate::series::ttft, h);
    return s;
}

// The count of the candidate's TTFT histogram (a checked lookup: GCC -O2
// warns about dereferencing a lookup that may be null).
std::uint64_t ttft_count(const snapshot& s) {
    const canarygate::arm_snapshot* arm = s.find_arm("candidate");
    REQUIRE(arm != nullptr);
    const exp_histogram* h = arm->histogram(canarygate::series::ttft);
    REQUIRE(h != nullptr);
    return h->count();
}

std::string merge_message(snapshot& target, const snapshot& other) {
    try {
        target.merge(other);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "no exception";
}

}  // namespace

TEST_CASE("a merge whose histogram slot would pass 2^64 is refused, naming arm and series",
          "[snapshot][merge][overflow]") {
    snapshot a = with_ttft(1'000'000, two_to_63);
    const snapshot b = with_ttft(1'000'000, two_to_63);
    const snapshot before = a;
    CHECK_THAT(merge_message(a, b),
               Contains("canarygate::snapshot::merge: ") &&
                   Contains("histogram 'ttft_ns' of arm 'candidate'") &&
                   Contains("would overflow (9223372036854775808 + 9223372036854775808)"));
    CHECK(a == before);
    CHECK(ttft_count(a) == two_to_63);
    // At different scales too (the finer side would be downscaled first).
    snapshot fine = with_ttft(1'000'000, two_to_63, 5);
    const snapshot fine_before = fine;
    CHECK_THAT(merge_message(fine, with_ttft(1'000'000, two_to_63, 3)),
               Contains("histogram 'ttft_ns' of arm 'candidate'") && Contains("would overflow"));
    CHECK(fine == fine_before);
}

TEST_CASE("a merge whose histogram total would pass 2^64 is refused",
          "[snapshot][merge][overflow]") {
    snapshot a = with_ttft(1'000'000, two_to_63);
    const snapshot before = a;
    CHECK_THAT(merge_message(a, with_ttft(2'000'000'000, two_to_63)),
               Contains("histogram 'ttft_ns' of arm 'candidate'") &&
                   Contains("the total count would overflow"));
    CHECK(a == before);
    // 2^64 - 1 in total merges.
    a.merge(with_ttft(2'000'000'000, two_to_63 - 1));
    CHECK(ttft_count(a) == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("a merge whose counter would pass 2^128 is refused", "[snapshot][merge][overflow]") {
    const wide_uint top(~std::uint64_t{0}, ~std::uint64_t{0});
    snapshot a(0, 10);
    a.arm("candidate", "v2").add_counter(canarygate::series::requests, top);
    a.add_counter("feedback.unknown_id", top);
    snapshot per_arm(0, 10);
    per_arm.arm("candidate", "v2").add_counter(canarygate::series::requests, 1);
    snapshot global(0, 10);
    global.add_counter("feedback.unknown_id", 1);
    const snapshot before = a;
    CHECK_THAT(merge_message(a, per_arm),
               Contains("counter 'requests' of arm 'candidate' would overflow (" + top.to_string() +
                        " + 1)"));
    CHECK(a == before);
    CHECK_THAT(merge_message(a, global), Contains("counter 'feedback.unknown_id' would overflow (" +
                                                  top.to_string() + " + 1)"));
    CHECK(a == before);
}

TEST_CASE("a merge whose sources would pass 2^64 - 1 is refused", "[snapshot][merge][overflow]") {
    const std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
    snapshot fleet(0, 10);
    fleet.set_sources(most);
    const snapshot before = fleet;
    CHECK_THAT(merge_message(fleet, snapshot(5, 20)),
               Contains("canarygate::snapshot::merge: sources would overflow (" +
                        std::to_string(most) + " + 1)"));
    CHECK(fleet == before);
    CHECK(fleet.sources() == most);
    CHECK(fleet.window_end_ns() == 10);
    // Into an empty accumulator it still merges, sources and window included.
    snapshot empty;
    empty.merge(fleet);
    CHECK(empty == fleet);
    empty.merge(snapshot());  // adding an empty accumulator adds nothing
    CHECK(empty == fleet);
}
