// SPDX-License-Identifier: MIT
// A counting replacement of every global operator new, for the tests that
// prove a path never allocates. The replacements themselves are defined once
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

/// Allocations so far. Relaxed: the tests read it in the thread that made
/// the measured calls, or after joining the threads that did.
inline std::uint64_t count() noexcept { return allocations.load(std::memory_order_relaxed); }

inline void* allocate(std::size_t size, std::size_t alignment) {
    allocations.fetch_add(1, std::memory_order_relaxed);  // relaxed: see count()
    if (size == 0) size = 1;
    void* p = alignment <= alignof(std::max_align_t)
                  ? std::malloc(size)
                  : std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    if (p == nullptr) throw std::bad_alloc();
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
