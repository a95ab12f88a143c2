// SPDX-License-Identifier: MIT
// The attribution map, single-threaded with explicit timestamps: late
// feedback reaches the right arm; unknown, expired, evicted, duplicate and
// dropped ids are each counted in their own counter; feedback that arrives
// before its request is parked and delivered; configuration errors name the
// field.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "canarygate/core/clock.hpp"
#include "canarygate/record/attribution.hpp"
#include "canarygate/window/snapshot.hpp"

namespace {

using canarygate::arm_id;
using canarygate::attribution;
using canarygate::attribution_config;
using canarygate::attribution_map;
using canarygate::attribution_stats;
using canarygate::feedback_event;
using canarygate::feedback_kind;
using canarygate::request_key;
using canarygate::resolve_status;

using canarygate::hour_ns;
using canarygate::second_ns;
constexpr arm_id baseline_id{0};
constexpr arm_id candidate_id{1};

attribution_config small_config() {
    attribution_config c;
    c.capacity = 8;
    c.ttl_ns = hour_ns;
    c.writer_rings = 2;
    c.ring_capacity = 16;
    c.overflow_capacity = 4;
    c.pending_capacity = 4;
    c.pending_ttl_ns = 60 * second_ns;
    c.seed = canarygate::hash_seed{1, 2};
    return c;
}

// Remembers nothing, asserts nothing: a drain() for maps with no parked feedback.
constexpr auto no_late = [](const attribution&, const feedback_event&) {
    FAIL("unexpected late feedback");
};

struct late_log {
    std::vector<std::pair<attribution, feedback_event>> delivered;
    auto sink() {
        return
            [this](const attribution& a, const feedback_event& f) { delivered.emplace_back(a, f); };
    }
};

std::string id_of(int i) { return "trace-" + std::to_string(i); }

}  // namespace

// The request path and the owner's lookups never throw.
static_assert(noexcept(std::declval<attribution_map::writer&>().remember(std::string_view{},
                                                                         attribution{})));
static_assert(noexcept(std::declval<attribution_map::writer&>().remember(request_key{},
                                                                         attribution{})));
static_assert(noexcept(std::declval<attribution_map&>().make_writer()));
static_assert(noexcept(std::declval<attribution_map&>().resolve(std::string_view{}, 0)));
static_assert(noexcept(std::declval<attribution_map&>().resolve_or_defer(std::string_view{},
                                                                         feedback_event{}, 0)));
static_assert(noexcept(std::declval<const attribution_map&>().stats()));
static_assert(std::is_nothrow_move_constructible_v<attribution_map::writer>);
static_assert(!std::is_copy_constructible_v<attribution_map::writer>);
static_assert(!std::is_copy_constructible_v<attribution_map>);

TEST_CASE("late feedback is attributed to the arm and model that answered", "[attribution]") {
    attribution_map map(small_config());
    auto w = map.make_writer();
    CHECK(w.has_ring());
    CHECK(w.remember("run-a", {baseline_id, 7, 100}));
    CHECK(w.remember("run-b", {candidate_id, 8, 200}));
    CHECK(map.drain(300, no_late) == 2);

    // Half an hour_ns later: within the TTL.
    const auto b = map.resolve("run-b", 200 + hour_ns / 2);
    CHECK(b.status == resolve_status::resolved);
    CHECK(b.value == attribution{candidate_id, 8, 200});
    const auto a = map.resolve("run-a", 200 + hour_ns / 2);
    CHECK(a.status == resolve_status::resolved);
    CHECK(a.value == attribution{baseline_id, 7, 100});
    // The same lookup again is a retry: answered (with the attribution) but
    // counted apart, not attributed twice (test_attribution_dedup.cpp).
    const auto again = map.resolve("run-b", 200 + hour_ns / 2);
    CHECK(again.status == resolve_status::duplicate_feedback);
    CHECK(again.value == attribution{candidate_id, 8, 200});

    const attribution_stats s = map.stats();
    CHECK(s.remembered == 2);
    CHECK(s.live == 2);
    CHECK(s.lookups == 3);
    CHECK(s.resolved == 2);
    CHECK(s.duplicate_feedback == 1);
    CHECK(s.balanced());
}

TEST_CASE("an unknown id is counted apart", "[attribution]") {
    attribution_map map(small_config());
    auto w = map.make_writer();
    w.remember("known", {baseline_id, 0, 0});
    const auto r = map.resolve("never-seen", 10);
    CHECK(r.status == resolve_status::unknown_id);
    const attribution_stats s = map.stats();
    CHECK(s.unknown_id == 1);
    CHECK(s.resolved == 0);
    CHECK(s.balanced());

    // The counters travel with a snapshot (to codecs and Prometheus); the
    // gauges (levels such as `attribution.live`) do not.
    canarygate::snapshot totals(0, 10);
    canarygate::add_counters(s, totals);
    CHECK(totals.counter("feedback.unknown_id") == canarygate::wide_uint(1));
    CHECK(totals.counter("attribution.remembered") == canarygate::wide_uint(1));
    CHECK(totals.counters().count("attribution.live") == 0);
    canarygate::add_counters(s, totals);  // adds, like every counter
    CHECK(totals.counter("feedback.unknown_id") == canarygate::wide_uint(2));
}

TEST_CASE("an id past its TTL reads expired, then ages out of memory", "[attribution]") {
    attribution_map map(small_config());
    auto w = map.make_writer();
    w.remember("used", {candidate_id, 3, 1000});
    w.remember("unused", {baseline_id, 3, 1000});

    CHECK(map.resolve("used", 1000 + hour_ns - 1).status == resolve_status::resolved);
    // At exactly the TTL the request is no longer attributable; the answer
    // still carries its attribution for diagnostics. (Another kind: the same
    // untyped lookup again would be a duplicate, whatever the time.)
    const auto r = map.resolve("used", feedback_kind::thumbs_down, 1000 + hour_ns);
    CHECK(r.status == resolve_status::expired_id);
    CHECK(r.value.arm == candidate_id);
    CHECK(map.resolve("unused", 1000 + 2 * hour_ns).status == resolve_status::expired_id);

    attribution_stats s = map.stats();
    CHECK(s.live == 0);
    CHECK(s.retired == 1);  // expired after feedback was attributed
    CHECK(s.expired == 1);  // expired unused
    CHECK(s.expired_id == 2);
    CHECK(s.resolved == 1);
    CHECK(s.balanced());

    // The dead records make room for new ones without counting an eviction;
    // after that their ids are unknown.
    for (int i = 0; i < 8; ++i) w.remember(id_of(i), {baseline_id, 0, 3 * hour_ns});
    map.drain(3 * hour_ns, no_late);
    s = map.stats();
    CHECK(s.evicted == 0);
    CHECK(s.live == 8);
    CHECK(map.resolve("used", 3 * hour_ns).status == resolve_status::unknown_id);
    CHECK(map.stats().balanced());
}

TEST_CASE("an entry already past its TTL when drained reads expired", "[attribution]") {
    // The owner stalled for longer than the TTL (or the clocks disagree).
    attribution_map map(small_config());
    auto w = map.make_writer();
    w.remember("stale", {baseline_id, 0, 0});
    map.drain(2 * hour_ns, no_late);
    attribution_stats s = map.stats();
    CHECK(s.expired == 1);
    CHECK(s.live == 0);
    CHECK(map.resolve("stale", 2 * hour_ns).status == resolve_status::expired_id);
    // The same, for feedback that is answered at once.
    w.remember("stale-2", {baseline_id, 0, 0});
    CHECK(map.resolve_or_defer("stale-2", feedback_event{}, 2 * hour_ns).status ==
          resolve_status::expired_id);
    s = map.stats();
    CHECK(s.expired == 2);
    CHECK(s.pending == 0);
    CHECK(s.balanced());
}

TEST_CASE("a full map evicts the oldest records first, counted", "[attribution]") {
    attribution_map map(small_config());  // capacity 8
    auto w = map.make_writer();
    for (int i = 0; i < 11; ++i)
        w.remember(id_of(i), {i % 2 == 0 ? baseline_id : candidate_id, 0, i});
    map.drain(20, no_late);

    attribution_stats s = map.stats();
    CHECK(s.evicted == 3);
    CHECK(s.live == 8);
    for (int i = 0; i < 3; ++i)
        CHECK(map.resolve(id_of(i), 30).status == resolve_status::unknown_id);
    for (int i = 3; i < 11; ++i) {
        const auto r = map.resolve(id_of(i), 30);
        CHECK(r.status == resolve_status::resolved);
        CHECK(r.value.arm == (i % 2 == 0 ? baseline_id : candidate_id));
    }
    s = map.stats();
    CHECK(s.unknown_id == 3);
    CHECK(s.resolved == 8);
    CHECK(s.balanced());
}

TEST_CASE("eviction keeps the index consistent over many wraps", "[attribution]") {
    // Capacity 5 gives an index of 16 slots; thousands of inserts and
    // evictions exercise backward-shift deletion across the wrap.
    attribution_config c = small_config();
    c.capacity = 5;
    c.ring_capacity = 8;
    attribution_map map(c);
    auto w = map.make_writer();
    for (int i = 0; i < 5000; ++i) {
        REQUIRE(w.remember(id_of(i), {arm_id{static_cast<std::uint8_t>(i % 3)},
                                      static_cast<std::uint32_t>(i), i}));
        if (i % 7 == 6) map.drain(i, no_late);
        if (i % 11 == 10) {
            // The five newest drained ids resolve; the one before them is gone.
            map.drain(i, no_late);
            for (int j = i - 4; j <= i; ++j) {
                const auto r = map.resolve(id_of(j), i);
                REQUIRE(r.status == resolve_status::resolved);
                REQUIRE(r.value.model_version == static_cast<std::uint32_t>(j));
            }
            REQUIRE(map.resolve(id_of(i - 5), i).status == resolve_status::unknown_id);
        }
    }
    map.drain(5000, no_late);
    const attribution_stats s = map.stats();
    CHECK(s.remembered == 5000);
    CHECK(s.live == 5);
    CHECK(s.evicted + s.retired + s.expired == 4995);
    CHECK(s.balanced());
}

TEST_CASE("a full ring drops the entry and counts it", "[attribution]") {
    attribution_map map(small_config());  // rings of 16
    auto w = map.make_writer();
    int accepted = 0;
    for (int i = 0; i < 20; ++i) accepted += w.remember(id_of(i), {baseline_id, 0, i}) ? 1 : 0;
    CHECK(accepted == 16);
    attribution_stats s = map.stats();
    CHECK(s.ring_full == 4);
    CHECK(s.remembered == 16);
    CHECK(s.in_flight == 16);
    CHECK(s.balanced());

    map.drain(100, no_late);
    // Drained: room again.
    CHECK(w.remember(id_of(100), {baseline_id, 0, 100}));
    CHECK(map.resolve(id_of(15), 100).status == resolve_status::resolved);
    CHECK(map.resolve(id_of(16), 100).status == resolve_status::unknown_id);  // dropped
    s = map.stats();
    CHECK(s.in_flight == 0);
    CHECK(s.live == 8);
    CHECK(s.evicted == 9);
    CHECK(s.balanced());
}

TEST_CASE("feedback right after remember is found without a drain", "[attribution]") {
    attribution_map map(small_config());
    auto w = map.make_writer();
    w.remember("fresh", {candidate_id, 1, 50});
    CHECK(map.stats().in_flight == 1);
    const auto r = map.resolve("fresh", 51);  // resolve drains the rings first
    CHECK(r.status == resolve_status::resolved);
    CHECK(r.value.arm == candidate_id);
}

TEST_CASE("feedback before its request is parked and delivered by a later drain", "[attribution]") {
    attribution_map map(small_config());
    auto w = map.make_writer();
    late_log log;

    // A Langfuse score that beats its trace.
    const feedback_event score{feedback_kind::score, -4};
    CHECK(map.resolve_or_defer("early", score, 10).status == resolve_status::deferred);
    CHECK(map.stats().pending == 1);
    map.drain(20, log.sink());
    CHECK(log.delivered.empty());  // its request is still unknown

    w.remember("early", {candidate_id, 9, 30});
    map.drain(40, log.sink());
    REQUIRE(log.delivered.size() == 1);
    CHECK(log.delivered[0].first == attribution{candidate_id, 9, 30});
    CHECK(log.delivered[0].second.kind == feedback_kind::score);
    CHECK(log.delivered[0].second.score == -4);

    const attribution_stats s = map.stats();
    CHECK(s.pending == 0);
    CHECK(s.resolved_late == 1);
    CHECK(s.resolved == 0);
    CHECK(s.balanced());
    // The record counts as resolved: at its TTL it is retired, not expired.
    map.drain(30 + hour_ns, log.sink());
    CHECK(map.stats().retired == 1);
}

TEST_CASE("resolve_or_defer answers known ids at once", "[attribution]") {
    attribution_map map(small_config());
    auto w = map.make_writer();
    w.remember("known", {baseline_id, 2, 5});
    const auto r = map.resolve_or_defer("known", feedback_event{feedback_kind::thumbs_up, 0}, 6);
    CHECK(r.status == resolve_status::resolved);
    CHECK(r.value.arm == baseline_id);
    w.remember("old", {baseline_id, 2, 5});
    map.drain(6, no_late);
    CHECK(map.resolve_or_defer("old", feedback_event{}, 5 + hour_ns).status ==
          resolve_status::expired_id);
    CHECK(map.stats().pending == 0);
}

TEST_CASE("parked feedback gives up after pending_ttl_ns, counted unknown", "[attribution]") {
    attribution_map map(small_config());  // pending_ttl 60 s
    late_log log;
    CHECK(map.resolve_or_defer("ghost", feedback_event{}, 0).status == resolve_status::deferred);
    map.drain(60 * second_ns - 1, log.sink());
    CHECK(map.stats().pending == 1);
    map.drain(60 * second_ns, log.sink());
    const attribution_stats s = map.stats();
    CHECK(s.pending == 0);
    CHECK(s.unknown_id == 1);
    CHECK(log.delivered.empty());
    CHECK(s.balanced());
}

TEST_CASE("parked feedback whose request has expired by the next drain counts expired_id",
          "[attribution]") {
    attribution_map map(small_config());  // TTL 1 h
    auto w = map.make_writer();
    late_log log;
    const std::int64_t now = 10 * hour_ns;
    CHECK(map.resolve_or_defer("slow-trace", feedback_event{}, now).status ==
          resolve_status::deferred);
    // Its request was answered almost an hour_ns ago and is remembered only now;
    // another lookup drains it while it is still live...
    w.remember("slow-trace", {baseline_id, 0, now - hour_ns + 5 * second_ns});
    CHECK(map.resolve("unrelated", now).status == resolve_status::unknown_id);
    CHECK(map.stats().live == 1);
    // ...but by the next drain its TTL has passed: the parked feedback is not
    // attributed.
    map.drain(now + 10 * second_ns, log.sink());
    CHECK(log.delivered.empty());
    const attribution_stats s = map.stats();
    CHECK(s.expired_id == 1);
    CHECK(s.expired == 1);
    CHECK(s.pending == 0);
    CHECK(s.balanced());
}

TEST_CASE("parked feedback whose request arrives already expired counts expired_id",
          "[attribution]") {
    attribution_map map(small_config());
    auto w = map.make_writer();
    late_log log;
    CHECK(map.resolve_or_defer("stale-trace", feedback_event{}, 2 * hour_ns).status ==
          resolve_status::deferred);
    w.remember("stale-trace", {baseline_id, 0, hour_ns - 1});
    map.drain(2 * hour_ns, log.sink());  // past its TTL on arrival
    const attribution_stats s = map.stats();
    CHECK(log.delivered.empty());
    CHECK(s.expired == 1);
    CHECK(s.expired_id == 1);
    CHECK(s.pending == 0);
    CHECK(s.balanced());
}

TEST_CASE("a full pending list drops feedback, counted", "[attribution]") {
    attribution_map map(small_config());  // 4 pending
    for (int i = 0; i < 4; ++i) {
        CHECK(map.resolve_or_defer(id_of(i), feedback_event{}, 0).status ==
              resolve_status::deferred);
    }
    CHECK(map.resolve_or_defer(id_of(4), feedback_event{}, 0).status ==
          resolve_status::pending_full);
    const attribution_stats s = map.stats();
    CHECK(s.pending == 4);
    CHECK(s.pending_full == 1);
    CHECK(s.balanced());
}

TEST_CASE("with parking off, resolve_or_defer counts unknown ids at once", "[attribution]") {
    attribution_config c = small_config();
    c.pending_capacity = 0;
    c.pending_ttl_ns = 0;  // irrelevant when parking is off
    attribution_map map(c);
    CHECK(map.resolve_or_defer("x", feedback_event{}, 0).status == resolve_status::unknown_id);
    CHECK(map.stats().unknown_id == 1);
}

TEST_CASE("id collisions behave as a repeated id: the first remembered wins, counted",
          "[attribution]") {
    // Two different ids whose keys collide (probability <= n^2 / 2^129 for
    // SipHash-128; forced here through the key overload).
    attribution_map map(small_config());
    auto w = map.make_writer();
    const request_key shared = map.key_of("id-one");
    CHECK(w.remember(shared, {baseline_id, 1, 10}));   // "id-one"
    CHECK(w.remember(shared, {candidate_id, 2, 11}));  // "id-two", colliding
    map.drain(20, no_late);
    const auto r = map.resolve(shared, 20);
    CHECK(r.status == resolve_status::resolved);
    CHECK(r.value == attribution{baseline_id, 1, 10});
    const attribution_stats s = map.stats();
    CHECK(s.duplicate == 1);
    CHECK(s.live == 1);
    CHECK(s.balanced());

    // The string overload and the key overload agree (the second lookup is
    // a duplicate, answered with the same attribution).
    const auto again = map.resolve("id-one", 20);
    CHECK(again.status == resolve_status::duplicate_feedback);
    CHECK(again.value == attribution{baseline_id, 1, 10});
    // The same id remembered twice (a retry) is the same case.
    w.remember("retried", {candidate_id, 0, 12});
    w.remember("retried", {candidate_id, 0, 13});
    map.drain(20, no_late);
    CHECK(map.stats().duplicate == 2);
}

TEST_CASE("writers claim rings from the pool and fall back to the counted slow path",
          "[attribution]") {
    attribution_map map(small_config());  // 2 rings, 4 overflow slots
    auto w1 = map.make_writer();
    auto w2 = map.make_writer();
    auto w3 = map.make_writer();
    CHECK(w1.has_ring());
    CHECK(w2.has_ring());
    CHECK_FALSE(w3.has_ring());
    CHECK(w3.attached());
    CHECK(map.stats().overflow_writers == 1);

    int accepted = 0;
    for (int i = 0; i < 6; ++i) accepted += w3.remember(id_of(i), {candidate_id, 0, i}) ? 1 : 0;
    CHECK(accepted == 4);
    attribution_stats s = map.stats();
    CHECK(s.overflow_remembered == 4);
    CHECK(s.overflow_full == 2);
    CHECK(s.in_flight == 4);
    CHECK(s.balanced());
    CHECK(map.resolve(id_of(3), 10).value.arm == candidate_id);
    CHECK(map.resolve(id_of(4), 10).status == resolve_status::unknown_id);  // dropped
    s = map.stats();
    CHECK(s.in_flight == 0);
    CHECK(s.live == 4);
    CHECK(s.balanced());

    // A released ring is claimed again; its undrained entries are kept.
    w1.remember("from-w1", {baseline_id, 0, 10});
    w1 = attribution_map::writer{};
    CHECK_FALSE(w1.attached());
    auto w4 = map.make_writer();
    CHECK(w4.has_ring());
    w4.remember("from-w4", {candidate_id, 0, 10});
    CHECK(map.resolve("from-w1", 11).value.arm == baseline_id);
    CHECK(map.resolve("from-w4", 11).value.arm == candidate_id);

    // Moving a writer moves the claim.
    auto moved = std::move(w2);
    CHECK_FALSE(w2.attached());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    CHECK(moved.has_ring());
    CHECK_FALSE(map.make_writer().has_ring());
    CHECK(map.stats().overflow_writers == 2);
}

TEST_CASE("a new writer prefers a drained ring to a free one still holding entries",
          "[attribution]") {
    // Found by a 4-thread test: threads that had run to completion gave back
    // rings the owner had not drained yet, the next threads claimed those
    // first, and dropped entries while drained rings sat idle.
    attribution_map map(small_config());  // 2 rings of 16
    auto loaded = map.make_writer();
    auto idle = map.make_writer();
    REQUIRE(loaded.has_ring());
    REQUIRE(idle.has_ring());
    for (int i = 0; i < 15; ++i) CHECK(loaded.remember(id_of(i), {baseline_id, 0, 1}));
    loaded = attribution_map::writer{};  // gives back a ring with 15 undrained entries
    idle = attribution_map::writer{};    // gives back an empty ring
    auto next = map.make_writer();
    REQUIRE(next.has_ring());
    int fit = 0;
    for (int i = 100; i < 116; ++i) fit += next.remember(id_of(i), {candidate_id, 0, 1}) ? 1 : 0;
    CHECK(fit == 16);  // the whole empty ring, not one slot of the loaded one
    // With only the loaded ring free, it is still claimed (nothing lost).
    auto last = map.make_writer();
    CHECK(last.has_ring());
    CHECK(last.remember(id_of(200), {candidate_id, 0, 1}));
    CHECK(map.resolve(id_of(14), 2).value.arm == baseline_id);
    CHECK(map.stats().ring_full == 0);
}

TEST_CASE("every stat has an export name", "[attribution]") {
    attribution_stats s;
    s.ring_full = 3;
    s.pending = 2;
    std::vector<std::string> names;
    std::uint64_t ring_full = 0;
    canarygate::stat_kind pending_kind = canarygate::stat_kind::counter;
    canarygate::for_each_stat(
        s, [&](std::string_view name, std::uint64_t value, canarygate::stat_kind kind) {
            names.emplace_back(name);
            if (name == "attribution.ring_full") ring_full = value;
            if (name == "feedback.pending") pending_kind = kind;
        });
    CHECK(names.size() == 20);
    CHECK(ring_full == 3);
    CHECK(pending_kind == canarygate::stat_kind::gauge);
    CHECK(std::find(names.begin(), names.end(), "feedback.unknown_id") != names.end());
    CHECK(std::find(names.begin(), names.end(), "feedback.expired_id") != names.end());
    CHECK(std::find(names.begin(), names.end(), "attribution.evicted") != names.end());
    CHECK(std::find(names.begin(), names.end(), "feedback.duplicate") != names.end());
    CHECK(std::find(names.begin(), names.end(), "attribution.rejected_share") != names.end());
}

TEST_CASE("configuration errors name the field and the value", "[attribution]") {
    const auto rejects = [](attribution_config c, const char* message) {
        INFO(message);
        CHECK_THROWS_WITH((void)attribution_map(c), Catch::Contains(message));
    };
    attribution_config c = small_config();
    c.capacity = 0;
    rejects(c, "capacity = 0 must be in [1, 2147483648]");
    c = small_config();
    c.capacity = (std::size_t{1} << 31) + 1;
    rejects(c, "capacity = 2147483649");
    c = small_config();
    c.ttl_ns = 0;
    rejects(c, "ttl_ns = 0 must be > 0");
    c = small_config();
    c.ttl_ns = -5;
    rejects(c, "ttl_ns = -5");
    c = small_config();
    c.writer_rings = 0;
    rejects(c, "writer_rings = 0");
    c = small_config();
    c.ring_capacity = 1000;
    rejects(c, "ring_capacity = 1000 must be a power of two in [2, 16777216]");
    c = small_config();
    c.ring_capacity = 1;
    rejects(c, "ring_capacity = 1");
    c = small_config();
    c.overflow_capacity = 0;
    rejects(c, "overflow_capacity = 0");
    c = small_config();
    c.pending_capacity = (std::size_t{1} << 20) + 1;
    rejects(c, "pending_capacity = 1048577");
    c = small_config();
    c.pending_ttl_ns = 0;
    rejects(c, "pending_ttl_ns = 0 must be > 0 when pending_capacity > 0");
    CHECK_THROWS_AS((void)attribution_map(attribution_config{}), std::invalid_argument);
}

TEST_CASE("the seed is chosen at random unless given", "[attribution]") {
    attribution_config c = small_config();
    c.seed.reset();
    attribution_map a(c);
    attribution_map b(c);
    REQUIRE(a.config().seed.has_value());
    CHECK_FALSE(*a.config().seed == *b.config().seed);
    CHECK_FALSE(a.key_of("x") == b.key_of("x"));
    attribution_map fixed(small_config());
    CHECK(fixed.key_of("x") == canarygate::hash_request_id("x", canarygate::hash_seed{1, 2}));
}

TEST_CASE("memory_bytes accounts for every allocation", "[attribution]") {
    attribution_map map(small_config());
    // 8 records x 32 + 16 index slots x 8 + 2 rings x (128 + 16 x 32) + 4 x 64
    // + 4 pending x (16 + 8 + 16) + 8 pending index slots x 8.
    CHECK(map.memory_bytes() == 8 * 32 + 16 * 8 + 2 * (128 + 16 * 32) + 4 * 64 + 4 * 40 + 8 * 8);
}

TEST_CASE("a custom payload travels through the pending list", "[attribution]") {
    struct ticket {
        std::uint32_t ticket_number;
    };
    canarygate::basic_attribution_map<ticket> map(small_config());
    auto w = map.make_writer();
    CHECK(map.resolve_or_defer("t", ticket{4711}, 0).status == resolve_status::deferred);
    w.remember("t", {candidate_id, 0, 1});
    std::uint32_t got = 0;
    map.drain(2, [&](const attribution& a, const ticket& t) {
        CHECK(a.arm == candidate_id);
        got = t.ticket_number;
    });
    CHECK(got == 4711);
}

TEST_CASE("the header's example runs as written", "[attribution]") {
    using namespace canarygate;
    const arm_id candidate_arm{1};
    const std::uint32_t model_version = 2;
    const std::int64_t response_time_ns = 1'000;
    const double candidate_share = 0.1;
    std::int64_t now_ns = 2'000;
    int thumbs_down = 0;
    int late = 0;
    const auto count_thumbs_down = [&](arm_id arm, std::optional<std::uint32_t> share_ppm) {
        thumbs_down += arm == candidate_arm && share_ppm == 100'000U ? 1 : 0;
    };
    const auto count_feedback = [&](const attribution& a, const feedback_event&) {
        late += a.arm == candidate_arm ? 1 : 0;
    };

    attribution_map map({.capacity = 1'000'000, .ttl_ns = 3 * 3600 * 1'000'000'000LL});
    auto w = map.make_writer();
    w.remember("run-7f3a", {candidate_arm, model_version, response_time_ns}, candidate_share);
    auto r = map.resolve_or_defer("run-7f3a", {canarygate::feedback_kind::thumbs_down}, now_ns);
    if (r.status == canarygate::resolve_status::resolved)
        count_thumbs_down(r.value.arm, r.value.candidate_share_ppm);  // its cohort
    (void)map.resolve_or_defer("run-8b21", {canarygate::feedback_kind::thumbs_down}, now_ns);
    w.remember("run-8b21", {candidate_arm, model_version, now_ns});
    map.drain(now_ns, [&](const canarygate::attribution& a, const canarygate::feedback_event& f) {
        count_feedback(a, f);
    });
    CHECK(thumbs_down == 1);
    CHECK(late == 1);
}
