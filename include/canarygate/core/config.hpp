// SPDX-License-Identifier: MIT
/// \file
/// Namespace and feature macros shared by every canarygate header.
#pragma once

#include <cstddef>

/// The library's version namespace. Everything public lives in
/// `canarygate::CANARYGATE_ABI_NAMESPACE`, which is inline, so users write
/// `canarygate::exp_histogram` and mixing two major versions in one program
/// fails at link time instead of misbehaving at run time.
#define CANARYGATE_ABI_NAMESPACE v0

#define CANARYGATE_NAMESPACE_BEGIN \
    namespace canarygate {         \
    inline namespace CANARYGATE_ABI_NAMESPACE {
#define CANARYGATE_NAMESPACE_END \
    }                            \
    }

/// Forces inlining on the hot path, and keeps cold branches out of it. GCC 12
/// at -O2 left the recorder's single-writer counter update (load, add,
/// store) and the bucket index as out-of-line calls when they were used many
/// times in one function; forcing them inline made a full record several
/// times faster (see benchmarks/perf/bench_recorder.cpp).
#if defined(__GNUC__) || defined(__clang__)
#define CANARYGATE_ALWAYS_INLINE [[gnu::always_inline]] inline
#define CANARYGATE_NOINLINE [[gnu::noinline]]
#elif defined(_MSC_VER)
#define CANARYGATE_ALWAYS_INLINE __forceinline
#define CANARYGATE_NOINLINE __declspec(noinline)
#else
#define CANARYGATE_ALWAYS_INLINE inline
#define CANARYGATE_NOINLINE
#endif

/// 1 when exceptions are enabled. Configuration errors are reported by
/// exceptions (core/error.hpp), or abort with the same message when they are
/// disabled; the hot path never throws either way.
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define CANARYGATE_HAS_EXCEPTIONS() 1
#else
#define CANARYGATE_HAS_EXCEPTIONS() 0
#endif

CANARYGATE_NAMESPACE_BEGIN

/// Cache-line size used for padding. Our own constant: reading
/// `std::hardware_destructive_interference_size` in a header makes GCC 12 warn
/// (-Winterference-size) because its value can differ between translation
/// units. 64 bytes is right for x86-64 and most AArch64 cores.
inline constexpr std::size_t cache_line_size = 64;

CANARYGATE_NAMESPACE_END
