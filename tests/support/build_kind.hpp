// SPDX-License-Identifier: MIT
// Whether this test program is a slow build (a sanitizer, or no
// optimisation): stress and simulation tests scale their work down there.
#pragma once

namespace test_support {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool sanitized_build = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
inline constexpr bool sanitized_build = true;
#else
inline constexpr bool sanitized_build = false;
#endif
#else
inline constexpr bool sanitized_build = false;
#endif

#if defined(__OPTIMIZE__)
inline constexpr bool optimized_build = true;
#else
inline constexpr bool optimized_build = false;
#endif

}  // namespace test_support
