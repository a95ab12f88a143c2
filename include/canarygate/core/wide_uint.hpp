// SPDX-License-Identifier: MIT
/// \file
/// `wide_uint`: the exact unsigned 128-bit integer that sums of nanoseconds,
/// costs and their squares are kept in, from the collector's windows to
/// snapshots, codecs and gates.
#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <string>

#include "canarygate/core/config.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// An exact unsigned 128-bit sum (sums of nanoseconds and sums of squared
/// costs overflow 64 bits over long windows). Addition and subtraction wrap
/// modulo 2^128 like unsigned integers; the collector only subtracts what it
/// added before, so wrapping never happens in practice.
struct wide_uint {
    std::uint64_t high = 0;
    std::uint64_t low = 0;

    constexpr wide_uint() noexcept = default;
    constexpr wide_uint(std::uint64_t value) noexcept : low(value) {}  // NOLINT: implicit by design
    constexpr wide_uint(std::uint64_t high_word, std::uint64_t low_word) noexcept
        : high(high_word), low(low_word) {}

    constexpr wide_uint& operator+=(wide_uint other) noexcept {
        const std::uint64_t sum = low + other.low;
        high += other.high + static_cast<std::uint64_t>(sum < low);
        low = sum;
        return *this;
    }
    constexpr wide_uint& operator-=(wide_uint other) noexcept {
        const std::uint64_t difference = low - other.low;
        high -= other.high + static_cast<std::uint64_t>(low < other.low);
        low = difference;
        return *this;
    }
    /// The 256-bit product, as eight 32-bit limbs (least significant first):
    /// schoolbook multiplication, every partial sum below 2^64.
    [[nodiscard]] static constexpr std::array<std::uint32_t, 8> full_product(wide_uint a,
                                                                             wide_uint b) noexcept {
        const std::uint64_t x[4] = {a.low & 0xffffffffU, a.low >> 32, a.high & 0xffffffffU,
                                    a.high >> 32};
        const std::uint64_t y[4] = {b.low & 0xffffffffU, b.low >> 32, b.high & 0xffffffffU,
                                    b.high >> 32};
        std::array<std::uint32_t, 8> out{};
        for (std::size_t i = 0; i < 4; ++i) {
            std::uint64_t carry = 0;
            for (std::size_t j = 0; j < 4; ++j) {
                // (2^32 - 1)^2 + 2 (2^32 - 1) < 2^64: no overflow.
                const std::uint64_t t = x[i] * y[j] + out[i + j] + carry;
                out[i + j] = static_cast<std::uint32_t>(t);
                carry = t >> 32;
            }
            out[i + 4] = static_cast<std::uint32_t>(carry);
        }
        return out;
    }
    friend constexpr wide_uint operator+(wide_uint a, wide_uint b) noexcept { return a += b; }
    friend constexpr wide_uint operator-(wide_uint a, wide_uint b) noexcept { return a -= b; }
    friend constexpr bool operator==(wide_uint, wide_uint) noexcept = default;
    friend constexpr std::strong_ordering operator<=>(wide_uint a, wide_uint b) noexcept {
        if (auto c = a.high <=> b.high; c != 0) return c;
        return a.low <=> b.low;
    }
    /// True when the value fits in 64 bits.
    [[nodiscard]] constexpr bool fits_u64() const noexcept { return high == 0; }
    /// The value as a double (rounded; exact below 2^53).
    [[nodiscard]] constexpr double to_double() const noexcept {
        return static_cast<double>(high) * 18446744073709551616.0 + static_cast<double>(low);
    }
    /// True when a * b == c * d, exactly (the 256-bit products compared
    /// limb by limb): an exact test of a ratio or a variance on exact sums.
    [[nodiscard]] friend constexpr bool products_equal(wide_uint a, wide_uint b, wide_uint c,
                                                       wide_uint d) noexcept {
        return full_product(a, b) == full_product(c, d);
    }

    /// Decimal digits, exact (for JSON and reports).
    [[nodiscard]] std::string to_string() const {
        if (high == 0) return std::to_string(low);
        // Repeated division by 10 over four 32-bit limbs: every partial
        // dividend is below 10 * 2^32, so 64-bit arithmetic is exact.
        std::uint64_t limbs[4] = {high >> 32, high & 0xffffffffU, low >> 32, low & 0xffffffffU};
        std::string digits;
        bool nonzero = true;
        while (nonzero) {
            std::uint64_t remainder = 0;
            nonzero = false;
            for (auto& limb : limbs) {
                const std::uint64_t dividend = (remainder << 32) | limb;
                limb = dividend / 10;
                remainder = dividend % 10;
                nonzero = nonzero || limb != 0;
            }
            digits.push_back(static_cast<char>('0' + remainder));
        }
        std::reverse(digits.begin(), digits.end());
        return digits;
    }
};

CANARYGATE_NAMESPACE_END
