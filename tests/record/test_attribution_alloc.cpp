// SPDX-License-Identifier: MIT
// The attribution map allocates everything in its constructor: remember() on
// the request path (ring and slow path alike, with or without a share, refused
// or not) never allocates, and neither do the owner's drain, resolve (typed or
// not), resolve_or_defer (duplicates included) and stats. Neither do the
// feedback tracker's remember() (after the thread's first call), feedback()
// and tick(). Proved with a counting replacement of the global operator new.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>

#include "canarygate/record/attribution.hpp"
#include "canarygate/record/feedback_tracker.hpp"
#include "support/counting_new.hpp"

TEST_CASE("remember() and the owner's operations never allocate", "[attribution][allocation]") {
    canarygate::attribution_config c;
    c.capacity = 64;
    c.ttl_ns = 1'000'000;
    c.writer_rings = 1;
    c.ring_capacity = 32;
    c.overflow_capacity = 8;
    c.pending_capacity = 4;
    c.seed = canarygate::hash_seed{3, 4};
    canarygate::attribution_map map(c);
    // Ids prepared before counting; long enough that a std::string copy would
    // allocate.
    std::string ids[100];
    for (int i = 0; i < 100; ++i)
        ids[i] = "0b7e5c2a-9f41-4d8e-a3c6-" + std::to_string(100'000'000'000 + i);

    auto ring_writer = map.make_writer();
    auto slow_writer = map.make_writer();
    REQUIRE(ring_writer.has_ring());
    REQUIRE_FALSE(slow_writer.has_ring());
    int delivered = 0;
    const auto sink = [&delivered](const canarygate::attribution&,
                                   const canarygate::feedback_event&) { ++delivered; };

    if (counting_new::active) {
        // Positive control: the counter does see an allocation.
        const std::uint64_t control = counting_new::count();
        const std::string copy = ids[0];
        REQUIRE(counting_new::count() > control);
    }
    const std::uint64_t before = counting_new::count();
    for (int i = 0; i < 100; ++i) {
        // Past the ring's and the slow path's capacity: the drop path too.
        (void)ring_writer.remember(ids[i], {canarygate::arm_id{1}, 2, i});
        (void)slow_writer.remember(ids[i], {canarygate::arm_id{0}, 2, i});
        (void)ring_writer.remember(map.key_of(ids[i]), {canarygate::arm_id{1}, 2, i});
    }
    (void)map.resolve_or_defer("not-yet", canarygate::feedback_event{}, 0);
    (void)map.drain(10, sink);  // its request is still unknown
    (void)ring_writer.remember("not-yet", {canarygate::arm_id{1}, 2, 12});
    (void)map.drain(20, sink);  // delivered
    (void)map.resolve(ids[5], 20);
    (void)map.resolve(ids[5], 20);  // a duplicate
    (void)map.resolve(ids[5], canarygate::feedback_kind::ticket, 20);
    (void)map.resolve("unknown", 20);
    (void)ring_writer.remember("shared", {canarygate::arm_id{1}, 2, 20}, 0.25);
    (void)ring_writer.remember("refused", {canarygate::arm_id{1}, 2, 20}, -1.0);
    (void)map.resolve_or_defer("parked", canarygate::feedback_event{}, 20);
    (void)map.resolve_or_defer("parked", canarygate::feedback_event{}, 20);  // a duplicate
    for (int i = 0; i < 10; ++i)
        (void)map.resolve_or_defer(ids[50 + i], canarygate::feedback_event{}, 20);
    (void)map.drain(120'000'000'000, sink);  // expiry and pending timeouts
    const auto stats = map.stats();
    auto again = map.make_writer();  // slow path again: no allocation either
    const std::uint64_t after = counting_new::count();

    if (counting_new::active) {
        CHECK(after - before == 0);
    } else {
        WARN("operator new is not counted in this build (its sanitizer runtime owns it)");
    }
    CHECK(stats.ring_full > 0);
    CHECK(stats.overflow_full > 0);
    CHECK(stats.pending_full > 0);
    CHECK(stats.duplicate_feedback > 0);
    CHECK(stats.rejected_share == 1);
    CHECK(stats.balanced());
    CHECK(delivered == 1);
}

TEST_CASE("the feedback tracker's remember, feedback and tick never allocate once warm",
          "[feedback_tracker][allocation]") {
    canarygate::attribution_config c;
    c.capacity = 64;
    c.ttl_ns = 1'000'000'000;
    c.writer_rings = 1;
    c.ring_capacity = 32;
    c.pending_capacity = 4;
    c.seed = canarygate::hash_seed{3, 4};
    canarygate::feedback_tracker tracker(c);
    std::string ids[20];
    for (int i = 0; i < 20; ++i)
        ids[i] = "0b7e5c2a-9f41-4d8e-a3c6-" + std::to_string(100'000'000'000 + i);
    // The thread's first call claims a ring and may register the cache's
    // destructor (an allocation the runtime makes once per thread).
    (void)tracker.remember("warm-up", canarygate::arm_id{0}, 0, 0.5);

    const std::uint64_t before = counting_new::count();
    (void)tracker.feedback("early", {canarygate::feedback_kind::thumbs_down}, 1);  // parked
    for (int i = 0; i < 20; ++i)
        (void)tracker.remember(ids[i], canarygate::arm_id{1}, i, i % 2 == 0 ? 0.1 : 0.2);
    (void)tracker.remember("early", canarygate::arm_id{1}, 0, 0.1);
    (void)tracker.remember("bad", canarygate::arm_id{1}, 0, 2.0);  // refused
    for (int i = 0; i < 20; ++i) {
        (void)tracker.feedback(ids[i], {canarygate::feedback_kind::thumbs_down}, 100 + i);
        (void)tracker.feedback(ids[i], {canarygate::feedback_kind::thumbs_down}, 100 + i);
    }
    (void)tracker.feedback(ids[0], {canarygate::feedback_kind::score, 5}, 200);
    (void)tracker.feedback(ids[0], {static_cast<canarygate::feedback_kind>(9), 0}, 200);
    (void)tracker.tick(300);
    const auto stats = tracker.stats();
    const std::uint64_t after = counting_new::count();

    if (counting_new::active) {
        CHECK(after - before == 0);
    } else {
        WARN("operator new is not counted in this build (its sanitizer runtime owns it)");
    }
    CHECK(stats.counted == 22);
    CHECK(stats.map.duplicate_feedback == 20);
    CHECK(stats.rejected_feedback == 1);
    CHECK(stats.balanced());
}
