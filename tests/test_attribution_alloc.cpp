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

#include "canarygate/attribution.hpp"

// ThreadSanitizer's runtime defines the global operator new and delete
// itself (statically linked with clang), so the replacement is left out
// there: TSan runs this file for its data races only. Every other build
// counts.
#if defined(__SANITIZE_THREAD__)
#define ATTRIBUTION_TEST_COUNTS_NEW 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ATTRIBUTION_TEST_COUNTS_NEW 0
#endif
#endif
#ifndef ATTRIBUTION_TEST_COUNTS_NEW
#define ATTRIBUTION_TEST_COUNTS_NEW 1
#endif

namespace {
std::atomic<std::uint64_t> allocations{0};

#if ATTRIBUTION_TEST_COUNTS_NEW

void* counted_allocation(std::size_t size, std::size_t alignment) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (size == 0) size = 1;
    void* p = alignment <= alignof(std::max_align_t)
                  ? std::malloc(size)
                  : std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}
#endif
}  // namespace

#if ATTRIBUTION_TEST_COUNTS_NEW
void* operator new(std::size_t size) { return counted_allocation(size, 0); }
void* operator new[](std::size_t size) { return counted_allocation(size, 0); }
void* operator new(std::size_t size, std::align_val_t a) {
    return counted_allocation(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a) {
    return counted_allocation(size, static_cast<std::size_t>(a));
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    try {
        return counted_allocation(size, 0);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    try {
        return counted_allocation(size, 0);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#endif

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

    const std::uint64_t before = allocations.load();
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
    const std::uint64_t after = allocations.load();

    if (ATTRIBUTION_TEST_COUNTS_NEW) {
        CHECK(after - before == 0);
    } else {
        WARN("operator new is not counted in this build (ThreadSanitizer)");
    }
    CHECK(stats.ring_full > 0);
    CHECK(stats.overflow_full > 0);
    CHECK(stats.pending_full > 0);
    CHECK(stats.balanced());
    CHECK(delivered == 1);
}
