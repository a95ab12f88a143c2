// SPDX-License-Identifier: MIT
/// \file
/// The library's one 64-bit mixer: SplitMix64's output function (Steele, Lea,
/// Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014).
/// Used to derive independent seeds (traffic generators, A/A calibration's
/// hash splits); not a keyed hash: request ids that users or attackers
/// choose go through SipHash (record/attribution.hpp).
#pragma once

#include <cstdint>

#include "canarygate/core/config.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// The (n + 1)-th output of a SplitMix64 generator started at `x` - n golden
/// gammas: mixes x + 0x9e3779b97f4a7c15 into 64 well-distributed bits. A
/// bijection on 64-bit integers.
[[nodiscard]] constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/// One step of a SplitMix64 generator whose state is `state`.
[[nodiscard]] constexpr std::uint64_t splitmix64_next(std::uint64_t& state) noexcept {
    const std::uint64_t out = mix64(state);
    state += 0x9e3779b97f4a7c15ULL;
    return out;
}

CANARYGATE_NAMESPACE_END
