// SPDX-License-Identifier: MIT
// Idempotent feedback: a retried webhook for the same (request id, kind) is
// attributed once and counted as duplicate_feedback, whether it comes after
// the first was resolved, while the first is parked, or after the first was
// delivered late; different kinds of the same request are each attributed
// once; every lookup stays in exactly one counter (balanced()). Also the
// record's packing: keys that differ only in the bit the record lends to its
// flags stay distinct, through lookups and evictions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "canarygate/core/clock.hpp"
#include "canarygate/record/attribution.hpp"

namespace dedup_test {

using canarygate::arm_id;
using canarygate::attribution;
using canarygate::attribution_config;
using canarygate::attribution_map;
using canarygate::attribution_stats;
using canarygate::feedback_event;
using canarygate::feedback_kind;
using canarygate::hour_ns;
using canarygate::request_key;
using canarygate::resolve_status;
using canarygate::second_ns;

constexpr arm_id candidate_id{1};
constexpr feedback_event thumbs_down{feedback_kind::thumbs_down, 0};
constexpr feedback_event thumbs_up{feedback_kind::thumbs_up, 0};

attribution_config config(std::size_t capacity = 8, std::size_t pending = 4) {
    attribution_config c;
    c.capacity = capacity;
    c.ttl_ns = hour_ns;
    c.writer_rings = 2;
    c.ring_capacity = 64;
    c.overflow_capacity = 4;
    c.pending_capacity = pending;
    c.pending_ttl_ns = 60 * second_ns;
    c.seed = canarygate::hash_seed{7, 8};
    return c;
}

struct late_log {
    std::vector<std::pair<attribution, feedback_event>> delivered;
    auto sink() {
        return
            [this](const attribution& a, const feedback_event& f) { delivered.emplace_back(a, f); };
    }
};

TEST_CASE("a retried feedback is attributed once and counted as a duplicate", "[attribution]") {
    attribution_map map(config());
    auto w = map.make_writer();
    w.remember("run-a", {candidate_id, 4, 100});

    // The webhook, then its two retries.
    int attributed = 0;
    for (int call = 0; call < 3; ++call) {
        const auto r = map.resolve_or_defer("run-a", thumbs_down, 200 + call);
        if (r.status == resolve_status::resolved) ++attributed;
        if (call > 0) {
            CHECK(r.status == resolve_status::duplicate_feedback);
            CHECK(r.value == attribution{candidate_id, 4, 100});  // for the caller's log
        }
    }
    CHECK(attributed == 1);
    const attribution_stats s = map.stats();
    CHECK(s.lookups == 3);
    CHECK(s.resolved == 1);
    CHECK(s.duplicate_feedback == 2);
    CHECK(s.balanced());
    // The typed lookup without a payload shares the kind's bit.
    CHECK(map.resolve("run-a", feedback_kind::thumbs_down, 300).status ==
          resolve_status::duplicate_feedback);
    CHECK(map.stats().balanced());
}

TEST_CASE("different kinds for the same request are each attributed once", "[attribution]") {
    attribution_map map(config());
    auto w = map.make_writer();
    w.remember("run-b", {candidate_id, 0, 0});
    const feedback_event kinds[] = {
        thumbs_up, thumbs_down, {feedback_kind::ticket, 0}, {feedback_kind::score, 7}};
    for (const feedback_event& f : kinds)
        CHECK(map.resolve_or_defer("run-b", f, 10).status == resolve_status::resolved);
    // Lookups that name no kind have a bit of their own.
    CHECK(map.resolve("run-b", 10).status == resolve_status::resolved);
    for (const feedback_event& f : kinds)
        CHECK(map.resolve_or_defer("run-b", f, 11).status == resolve_status::duplicate_feedback);
    CHECK(map.resolve("run-b", 11).status == resolve_status::duplicate_feedback);
    // A second score (a changed rating) is a duplicate too: one per kind.
    CHECK(map.resolve_or_defer("run-b", {feedback_kind::score, -3}, 12).status ==
          resolve_status::duplicate_feedback);
    // A kind outside the enum counts as untyped.
    CHECK(map.resolve_or_defer("run-b", {static_cast<feedback_kind>(9), 0}, 12).status ==
          resolve_status::duplicate_feedback);

    const attribution_stats s = map.stats();
    CHECK(s.resolved == 5);
    CHECK(s.duplicate_feedback == 7);
    CHECK(s.lookups == 12);
    CHECK(s.balanced());
    // Feedback was attributed: at the TTL the record is retired, once.
    (void)map.drain(hour_ns, [](const attribution&, const feedback_event&) {});
    CHECK(map.stats().retired == 1);
    CHECK(map.stats().expired == 0);
}

TEST_CASE("the same early feedback parked twice is delivered once", "[attribution]") {
    attribution_map map(config());
    auto w = map.make_writer();
    late_log log;

    CHECK(map.resolve_or_defer("early", thumbs_down, 10).status == resolve_status::deferred);
    const auto retry = map.resolve_or_defer("early", thumbs_down, 11);
    CHECK(retry.status == resolve_status::duplicate_feedback);
    CHECK(retry.value == attribution{});  // its request is not known yet
    // Another kind for the same request is parked beside it.
    CHECK(map.resolve_or_defer("early", thumbs_up, 12).status == resolve_status::deferred);
    CHECK(map.stats().pending == 2);

    w.remember("early", {candidate_id, 3, 20});
    map.drain(30, log.sink());
    REQUIRE(log.delivered.size() == 2);
    CHECK(log.delivered[0].second.kind != log.delivered[1].second.kind);
    // A retry after the delivery is a duplicate too.
    CHECK(map.resolve_or_defer("early", thumbs_down, 40).status ==
          resolve_status::duplicate_feedback);

    const attribution_stats s = map.stats();
    CHECK(s.pending == 0);
    CHECK(s.resolved_late == 2);
    CHECK(s.duplicate_feedback == 2);
    CHECK(s.lookups == 4);
    CHECK(s.balanced());
}

TEST_CASE("parked feedback attributed meanwhile by a retry is not delivered again",
          "[attribution]") {
    attribution_map map(config());
    auto w = map.make_writer();
    late_log log;
    CHECK(map.resolve_or_defer("x", thumbs_down, 10).status == resolve_status::deferred);
    w.remember("x", {candidate_id, 0, 15});
    // A lookup drains the ring (so "x" is known) but does not retry parked
    // feedback; the retry of "x" then resolves at once...
    CHECK(map.resolve("other", 20).status == resolve_status::unknown_id);
    CHECK(map.resolve_or_defer("x", thumbs_down, 21).status == resolve_status::resolved);
    // ...and the parked copy is a duplicate when the next drain finds it.
    map.drain(30, log.sink());
    CHECK(log.delivered.empty());
    const attribution_stats s = map.stats();
    CHECK(s.resolved == 1);
    CHECK(s.resolved_late == 0);
    CHECK(s.duplicate_feedback == 1);
    CHECK(s.unknown_id == 1);
    CHECK(s.pending == 0);
    CHECK(s.balanced());
}

TEST_CASE("a retry after the TTL is a duplicate, not feedback lost to the TTL", "[attribution]") {
    attribution_map map(config());
    auto w = map.make_writer();
    w.remember("slow", {candidate_id, 0, 0});
    CHECK(map.resolve_or_defer("slow", thumbs_down, hour_ns - 1).status ==
          resolve_status::resolved);
    CHECK(map.resolve_or_defer("slow", thumbs_down, hour_ns + 1).status ==
          resolve_status::duplicate_feedback);
    // New feedback of another kind is past the TTL.
    CHECK(map.resolve_or_defer("slow", thumbs_up, hour_ns + 1).status ==
          resolve_status::expired_id);
    const attribution_stats s = map.stats();
    CHECK(s.resolved == 1);
    CHECK(s.duplicate_feedback == 1);
    CHECK(s.expired_id == 1);
    CHECK(s.retired == 1);
    CHECK(s.balanced());
}

TEST_CASE("a payload without a kind is de-duplicated as one piece of feedback per request",
          "[attribution]") {
    struct ticket {
        std::uint32_t number;
    };
    canarygate::basic_attribution_map<ticket> map(config());
    auto w = map.make_writer();
    CHECK(map.resolve_or_defer("t", ticket{1}, 0).status == resolve_status::deferred);
    CHECK(map.resolve_or_defer("t", ticket{2}, 0).status == resolve_status::duplicate_feedback);
    w.remember("t", {candidate_id, 0, 1});
    int delivered = 0;
    map.drain(2, [&](const attribution&, const ticket& t) {
        CHECK(t.number == 1);
        ++delivered;
    });
    CHECK(delivered == 1);
    CHECK(map.resolve("t", 3).status == resolve_status::duplicate_feedback);
    CHECK(map.stats().balanced());
}

TEST_CASE("the pending index agrees with a reference set through parks and removals",
          "[attribution]") {
    // Pending capacity 8 (an index of 16 slots); ids from a small pool so that
    // duplicates, removals and index wrap-around are frequent. Parked feedback
    // leaves only by timing out (no request is ever remembered), which the
    // reference reproduces.
    attribution_map map(config(8, 8));
    std::mt19937 rng(20240611);
    std::uniform_int_distribution<int> pick_id(0, 11);
    std::uniform_int_distribution<int> pick_kind(0, 3);
    std::vector<std::pair<std::pair<int, int>, std::int64_t>> parked;  // ((id, kind), time)
    std::int64_t now = 0;
    std::uint64_t mismatches = 0;
    for (int step = 0; step < 20'000; ++step) {
        now += second_ns;
        const int id = pick_id(rng);
        const int kind = pick_kind(rng);
        const auto r = map.resolve_or_defer("id-" + std::to_string(id),
                                            {static_cast<feedback_kind>(kind), 0}, now);
        bool known = false;
        for (const auto& p : parked) known = known || p.first == std::pair{id, kind};
        const resolve_status want = known                ? resolve_status::duplicate_feedback
                                    : parked.size() == 8 ? resolve_status::pending_full
                                                         : resolve_status::deferred;
        if (r.status != want) ++mismatches;
        if (want == resolve_status::deferred) parked.push_back({{id, kind}, now});
        if (step % 5 == 4) {
            // Parked 60 s or longer ago: timed out.
            map.drain(now, [](const attribution&, const feedback_event&) {});
            std::erase_if(parked, [&](const auto& p) { return now - p.second >= 60 * second_ns; });
            if (map.stats().pending != parked.size()) ++mismatches;
        }
    }
    CHECK(mismatches == 0);
    const attribution_stats s = map.stats();
    CHECK(s.duplicate_feedback > 1000);
    CHECK(s.pending_full > 100);
    CHECK(s.balanced());
}

TEST_CASE("keys that differ only in the record's borrowed bit stay distinct", "[attribution]") {
    // The record keeps 127 bits of the key and the index slot's hash the
    // 128th (bit 0 of key.low). Pairs of keys that differ only there must be
    // told apart, their feedback bits kept apart, and eviction (which finds a
    // record's slot from a home known up to that bit) must keep the index
    // consistent across many wraps.
    attribution_map map(config(6));  // index of 16 slots
    auto w = map.make_writer();
    std::uint64_t mismatches = 0;
    const auto key = [](int i, int low_bit) {
        return request_key{(static_cast<std::uint64_t>(i) * std::uint64_t{0x9E3779B97F4A7C15} &
                            ~std::uint64_t{1}) |
                               static_cast<std::uint64_t>(low_bit),
                           static_cast<std::uint64_t>(i)};
    };
    for (int i = 0; i < 3000; ++i) {
        REQUIRE(w.remember(key(i, 0), {arm_id{0}, static_cast<std::uint32_t>(2 * i), i}));
        REQUIRE(w.remember(key(i, 1), {arm_id{1}, static_cast<std::uint32_t>(2 * i + 1), i}));
        map.drain(i, [](const attribution&, const feedback_event&) {});
        // The newest three pairs resolve to their own attribution, and the
        // ticket of one member of a pair does not mark the other.
        for (int j = std::max(0, i - 2); j <= i; ++j) {
            for (int b = 0; b < 2; ++b) {
                const auto r = map.resolve(key(j, b), feedback_kind::ticket, i);
                const bool first = j == i;
                const resolve_status want =
                    first ? resolve_status::resolved : resolve_status::duplicate_feedback;
                if (r.status != want ||
                    r.value.model_version != static_cast<std::uint32_t>(2 * j + b)) {
                    ++mismatches;
                }
            }
        }
        if (i >= 3 && map.resolve(key(i - 3, i % 2), i).status != resolve_status::unknown_id)
            ++mismatches;  // evicted
    }
    CHECK(mismatches == 0);
    const attribution_stats s = map.stats();
    CHECK(s.duplicate == 0);
    CHECK(s.live == 6);
    CHECK(s.evicted == 6000 - 6);
    CHECK(s.balanced());
}

}  // namespace dedup_test
