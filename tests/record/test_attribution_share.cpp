// SPDX-License-Identifier: MIT
// The candidate's share at routing travels with a remembered request: given
// in millionths or as a fraction, it comes back from resolve() and from a
// late drain() in millionths (feedback_cohort::to_ppm), or as nullopt when
// unknown; a share outside [0, 1] (or NaN) is refused, counted and not
// stored, on the ring and on the slow path alike.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <optional>

#include "canarygate/core/clock.hpp"
#include "canarygate/record/attribution.hpp"
#include "canarygate/record/series.hpp"

namespace share_test {

using canarygate::arm_id;
using canarygate::attribution;
using canarygate::attribution_config;
using canarygate::attribution_map;
using canarygate::feedback_event;
using canarygate::resolve_status;

attribution_config config() {
    attribution_config c;
    c.capacity = 16;
    c.ttl_ns = canarygate::hour_ns;
    c.writer_rings = 1;
    c.ring_capacity = 16;
    c.overflow_capacity = 4;
    c.pending_capacity = 4;
    c.seed = canarygate::hash_seed{5, 6};
    return c;
}

constexpr arm_id candidate_id{1};

// The packed forms keep every share code, and the feedback bits do not
// touch it.
static_assert([] {
    using canarygate::detail::attribution_entry;
    using canarygate::detail::attribution_record;
    for (const std::uint32_t code :
         {0U, 1U, 65'535U, 65'536U, 999'999U, 1'000'000U, canarygate::detail::share_unknown}) {
        const auto e =
            attribution_entry::make({0xFFFF'FFFF'FFFF'FFFFULL, 3}, -5, 7, arm_id{255}, code);
        if (e.share_code() != code) return false;
        attribution_record r = attribution_record::make(e);
        if (r.share_code() != code || r.attributed() != 0) return false;
        r.attribute(0x1F);  // every kind and untyped
        if (r.share_code() != code || r.attributed() != 0x1F) return false;
        if (r.arm != arm_id{255} || r.model_version != 7 || r.response_time_ns != -5) return false;
        if (!r.same_key({0xFFFF'FFFF'FFFF'FFFFULL, 3})) return false;
    }
    return true;
}());

TEST_CASE("the candidate share at routing is returned with the attribution", "[attribution]") {
    attribution_map map(config());
    auto w = map.make_writer();
    CHECK(w.remember("tenth", {candidate_id, 1, 10}, 0.1));
    CHECK(w.remember("given-ppm", {candidate_id, 1, 10, 250'000U}));
    CHECK(w.remember("none", {candidate_id, 1, 10}));
    CHECK(w.remember("zero", {candidate_id, 1, 10}, 0.0));
    CHECK(w.remember("all", {candidate_id, 1, 10}, 1.0));
    CHECK(w.remember("rounded", {candidate_id, 1, 10}, 0.1234567));
    // The fraction replaces a share already in the attribution.
    CHECK(w.remember("replaced", {candidate_id, 1, 10, 5U}, 0.5));

    const auto share_of = [&](const char* id) {
        const auto r = map.resolve(id, 20);
        CHECK(r.status == resolve_status::resolved);
        return r.value.candidate_share_ppm;
    };
    CHECK(share_of("tenth") == 100'000U);
    CHECK(share_of("given-ppm") == 250'000U);
    CHECK(share_of("none") == std::nullopt);
    CHECK(share_of("zero") == 0U);
    CHECK(share_of("all") == 1'000'000U);
    CHECK(share_of("rounded") == canarygate::feedback_cohort::to_ppm(0.1234567));
    CHECK(share_of("replaced") == 500'000U);
    // The whole attribution round-trips.
    CHECK(map.resolve("given-ppm", 21).value == attribution{candidate_id, 1, 10, 250'000U});

    // Late delivery carries it too.
    CHECK(map.resolve_or_defer("late", feedback_event{}, 30).status == resolve_status::deferred);
    CHECK(w.remember("late", {candidate_id, 2, 31}, 0.75));
    std::optional<std::uint32_t> late_share;
    map.drain(40, [&](const attribution& a, const feedback_event&) {
        late_share = a.candidate_share_ppm;
    });
    CHECK(late_share == 750'000U);
    CHECK(map.stats().rejected_share == 0);
}

TEST_CASE("a share outside [0, 1] is refused, counted and not stored", "[attribution]") {
    attribution_map map(config());
    auto ring = map.make_writer();
    auto slow = map.make_writer();  // one ring: the slow path
    REQUIRE(ring.has_ring());
    REQUIRE_FALSE(slow.has_ring());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    CHECK_FALSE(ring.remember("nan", {candidate_id, 0, 1}, nan));
    CHECK_FALSE(ring.remember("negative", {candidate_id, 0, 1}, -0.1));
    CHECK_FALSE(ring.remember("above", {candidate_id, 0, 1}, 1.0000001));
    CHECK_FALSE(ring.remember("inf", {candidate_id, 0, 1}, inf));
    CHECK_FALSE(ring.remember("ppm", {candidate_id, 0, 1, 1'000'001U}));
    CHECK_FALSE(ring.remember(map.key_of("key"), {candidate_id, 0, 1}, -inf));
    CHECK_FALSE(slow.remember("slow-nan", {candidate_id, 0, 1}, nan));
    CHECK_FALSE(slow.remember("slow-ppm", {candidate_id, 0, 1, 4'000'000'000U}));
    CHECK(slow.remember("slow-ok", {candidate_id, 0, 1}, 0.5));

    const auto s = map.stats();
    CHECK(s.rejected_share == 8);
    CHECK(s.remembered == 1);
    CHECK(s.ring_full == 0);
    CHECK(s.overflow_full == 0);
    for (const char* id : {"nan", "negative", "above", "inf", "ppm", "key", "slow-nan", "slow-ppm"})
        CHECK(map.resolve(id, 2).status == resolve_status::unknown_id);
    CHECK(map.resolve("slow-ok", 2).value.candidate_share_ppm == 500'000U);
    CHECK(map.stats().balanced());
}

}  // namespace share_test
