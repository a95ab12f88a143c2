// SPDX-License-Identifier: MIT
/// \file
/// SipHash-2-4 with a 128-bit output (Aumasson and Bernstein, "SipHash: a fast
/// short-input PRF", 2012; the reference implementation's `siphash` with
/// `outlen == 16`). Used to turn a request id of any length into a 128-bit
/// key under a secret 128-bit seed. Tested against the reference vectors.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "canarygate/core/config.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace detail {

/// The two 64-bit halves of a SipHash output: `low` is the first eight output
/// bytes read little-endian, `high` the last eight.
struct siphash128_result {
    std::uint64_t low;
    std::uint64_t high;
};

class siphash_state {
public:
    constexpr siphash_state(std::uint64_t k0, std::uint64_t k1) noexcept
        : v0_(k0 ^ 0x736f6d6570736575U),
          v1_(k1 ^ 0x646f72616e646f6dU ^ 0xeeU),  // 0xee: the 128-bit output variant
          v2_(k0 ^ 0x6c7967656e657261U),
          v3_(k1 ^ 0x7465646279746573U) {}

    constexpr void compress(std::uint64_t m) noexcept {
        v3_ ^= m;
        round();
        round();
        v0_ ^= m;
    }

    constexpr siphash128_result finish(std::uint64_t last_block) noexcept {
        compress(last_block);
        v2_ ^= 0xeeU;
        for (int i = 0; i < 4; ++i) round();
        const std::uint64_t low = v0_ ^ v1_ ^ v2_ ^ v3_;
        v1_ ^= 0xddU;
        for (int i = 0; i < 4; ++i) round();
        return {low, v0_ ^ v1_ ^ v2_ ^ v3_};
    }

private:
    constexpr void round() noexcept {
        v0_ += v1_;
        v1_ = std::rotl(v1_, 13);
        v1_ ^= v0_;
        v0_ = std::rotl(v0_, 32);
        v2_ += v3_;
        v3_ = std::rotl(v3_, 16);
        v3_ ^= v2_;
        v0_ += v3_;
        v3_ = std::rotl(v3_, 21);
        v3_ ^= v0_;
        v2_ += v1_;
        v1_ = std::rotl(v1_, 17);
        v1_ ^= v2_;
        v2_ = std::rotl(v2_, 32);
    }

    std::uint64_t v0_, v1_, v2_, v3_;
};

/// Little-endian load of `n` <= 8 bytes (independent of the host's byte order,
/// so keys agree across architectures).
constexpr std::uint64_t load_le(const char* p, std::size_t n) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        v |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    }
    return v;
}

/// Little-endian load of 8 bytes: one unaligned load on little-endian hosts
/// at run time (the byte loop is not always folded into one).
constexpr std::uint64_t load_le64(const char* p) noexcept {
    if (!std::is_constant_evaluated() && std::endian::native == std::endian::little) {
        std::uint64_t v;
        std::memcpy(&v, p, sizeof v);
        return v;
    }
    return load_le(p, 8);
}

/// SipHash-2-4-128 of `bytes` under the key (k0, k1), where k0 and k1 are the
/// first and last eight key bytes read little-endian. Wait-free, O(size).
constexpr siphash128_result siphash24_128(std::uint64_t k0, std::uint64_t k1,
                                          std::string_view bytes) noexcept {
    siphash_state state(k0, k1);
    const char* p = bytes.data();
    const std::size_t n = bytes.size();
    const std::size_t full = n & ~std::size_t{7};
    for (std::size_t i = 0; i < full; i += 8) state.compress(load_le64(p + i));
    const std::uint64_t last = (std::uint64_t{n} << 56) | load_le(p + full, n - full);
    return state.finish(last);
}

}  // namespace detail
CANARYGATE_NAMESPACE_END
