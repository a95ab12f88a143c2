// SPDX-License-Identifier: MIT
// The attribution map allocates everything in its constructor: remember() on
// the request path (ring and slow path alike) never allocates, and neither do
// the owner's drain, resolve, resolve_or_defer and stats. Proved with a
// counting replacement of the global operator new.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>

#include "canarygate/record/attribution.hpp"
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
    (void)map.resolve("unknown", 20);
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
    CHECK(stats.balanced());
    CHECK(delivered == 1);
}
