// SPDX-License-Identifier: MIT
// A counting replacement of every global operator new, for the tests that
// prove a path never allocates or bound the memory it holds. The replacements themselves are defined once
// per test program, in support/counting_new.cpp: link it into every test
// program whose tests include this header (tests/CMakeLists.txt does).
//
// Sanitizer runtimes that define operator new themselves (clang's static
// ASan/TSan/MSan runtimes; ThreadSanitizer with either compiler) cannot take
// the replacement: there `counting_new::active` is false, nothing is
// replaced, and the tests say so with WARN instead of checking. GCC's
// AddressSanitizer (a shared runtime) and plain builds count.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include <malloc.h>  // malloc_usable_size (glibc)

#if defined(__SANITIZE_THREAD__)
#define CANARYGATE_TEST_COUNTING_NEW 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer) || \
    __has_feature(memory_sanitizer)
#define CANARYGATE_TEST_COUNTING_NEW 0
#endif
#endif
#ifndef CANARYGATE_TEST_COUNTING_NEW
#define CANARYGATE_TEST_COUNTING_NEW 1
#endif

namespace counting_new {

inline constexpr bool active = CANARYGATE_TEST_COUNTING_NEW != 0;

inline std::atomic<std::uint64_t> allocations{0};
// Bytes held (malloc_usable_size of every live block), their high-water mark
// since reset_peak(), and a cap (0: none) beyond which operator new throws
// std::bad_alloc. All relaxed: the tests read them in the thread that made
// the measured calls, and a cap is set and cleared around single-threaded code.
inline std::atomic<std::uint64_t> live{0};
inline std::atomic<std::uint64_t> peak{0};
inline std::atomic<std::uint64_t> cap{0};

/// Bytes currently allocated through operator new.
inline std::uint64_t live_bytes() noexcept { return live.load(std::memory_order_relaxed); }
/// Starts a new high-water mark at the bytes held now; returns them.
inline std::uint64_t reset_peak() noexcept {
    const std::uint64_t now = live_bytes();
    peak.store(now, std::memory_order_relaxed);
    return now;
}
/// Most bytes held since reset_peak().
inline std::uint64_t peak_bytes() noexcept { return peak.load(std::memory_order_relaxed); }

/// While alive, operator new throws std::bad_alloc once more than `bytes`
/// would be held.
class allocation_cap {
public:
    explicit allocation_cap(std::uint64_t bytes) noexcept {
        cap.store(bytes, std::memory_order_relaxed);
    }
    ~allocation_cap() { cap.store(0, std::memory_order_relaxed); }
    allocation_cap(const allocation_cap&) = delete;
    allocation_cap& operator=(const allocation_cap&) = delete;
};

inline void note_allocated(void* p) noexcept {
    const std::uint64_t size = malloc_usable_size(p);
    const std::uint64_t now = live.fetch_add(size, std::memory_order_relaxed) + size;
    std::uint64_t high = peak.load(std::memory_order_relaxed);
    while (now > high && !peak.compare_exchange_weak(high, now, std::memory_order_relaxed)) {
    }
}

inline void release(void* p) noexcept {
    if (p == nullptr) return;
    live.fetch_sub(malloc_usable_size(p), std::memory_order_relaxed);
    std::free(p);
}

/// Allocations so far. Relaxed: the tests read it in the thread that made
/// the measured calls, or after joining the threads that did.
inline std::uint64_t count() noexcept { return allocations.load(std::memory_order_relaxed); }

inline void* allocate(std::size_t size, std::size_t alignment) {
    allocations.fetch_add(1, std::memory_order_relaxed);  // relaxed: see count()
    if (size == 0) size = 1;
    const std::uint64_t limit = cap.load(std::memory_order_relaxed);
    if (limit != 0 && live_bytes() + size > limit) throw std::bad_alloc();
    void* p = alignment <= alignof(std::max_align_t)
                  ? std::malloc(size)
                  : std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    if (p == nullptr) throw std::bad_alloc();
    note_allocated(p);
    return p;
}

inline void* allocate_nothrow(std::size_t size, std::size_t alignment) noexcept {
    try {
        return allocate(size, alignment);
    } catch (...) {
        return nullptr;
    }
}

}  // namespace counting_new
