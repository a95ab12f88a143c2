// SPDX-License-Identifier: MIT
/// \file
/// Byte-level primitives of the binary snapshot codec: minimal LEB128 varints
/// up to 128 bits, zig-zag mapping, fixed little-endian 64-bit words. The
/// writer appends to a byte vector; readers never read past `end` and report why they
/// stopped instead of throwing, so the decoder can name the field and offset.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/core/wide_uint.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace detail {

/// Appends bytes to a vector: grows it geometrically and writes through a
/// pointer (a push_back or insert per varint costs more than the encoding).
/// finish() trims the vector to what was written.
class byte_writer {
public:
    explicit byte_writer(std::vector<std::uint8_t>& out) noexcept : out_(out), size_(out.size()) {}

    /// Trims the vector to the bytes written so far.
    void finish() { out_.resize(size_); }

    void byte(std::uint8_t value) {
        *room(1) = value;
        ++size_;
    }

    void bytes(const void* data, std::size_t n) {
        if (n == 0) return;
        std::memcpy(room(n), data, n);
        size_ += n;
    }

    /// An unsigned LEB128 varint: 7 bits per byte, least significant group
    /// first, high bit set on every byte but the last (at most 10 bytes).
    void varint(std::uint64_t value) {
        std::uint8_t* const p = room(10);
        std::size_t n = 0;
        while (value >= 0x80) {
            p[n++] = static_cast<std::uint8_t>(value | 0x80);
            value >>= 7;
        }
        p[n++] = static_cast<std::uint8_t>(value);
        size_ += n;
    }

    /// A 128-bit value as an unsigned LEB128 varint (at most 19 bytes).
    void varint(wide_uint value) {
        if (value.high == 0) {
            varint(value.low);
            return;
        }
        std::uint8_t* const p = room(19);
        std::size_t n = 0;
        while (value.high != 0 || value.low >= 0x80) {
            p[n++] = static_cast<std::uint8_t>(value.low | 0x80);
            value.low = (value.low >> 7) | (value.high << 57);
            value.high >>= 7;
        }
        p[n++] = static_cast<std::uint8_t>(value.low);
        size_ += n;
    }

    /// The two's complement of `value`, least significant byte first.
    void fixed64(std::int64_t value) {
        auto bits = static_cast<std::uint64_t>(value);
        std::uint8_t* const p = room(8);
        for (std::size_t i = 0; i < 8; ++i) {
            p[i] = static_cast<std::uint8_t>(bits);
            bits >>= 8;
        }
        size_ += 8;
    }

private:
    // Room for n more bytes at data() + size_.
    std::uint8_t* room(std::size_t n) {
        if (out_.size() - size_ < n) out_.resize(std::max(size_ + n, 2 * out_.size()));
        return out_.data() + size_;
    }

    std::vector<std::uint8_t>& out_;
    std::size_t size_;  // bytes written; out_.size() may be larger until finish()
};

/// Zig-zag: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ... (small magnitudes, small varints).
[[nodiscard]] constexpr std::uint64_t zigzag(std::int64_t value) noexcept {
    return (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
}
[[nodiscard]] constexpr std::int64_t unzigzag(std::uint64_t value) noexcept {
    return static_cast<std::int64_t>(value >> 1) ^ -static_cast<std::int64_t>(value & 1);
}

/// Zig-zag of the difference `to - from` of two u64 counts, which needs 65
/// bits: 2 (to - from) when to >= from, 2 (from - to) - 1 otherwise.
[[nodiscard]] constexpr wide_uint zigzag_difference(std::uint64_t from, std::uint64_t to) noexcept {
    if (to >= from) {
        const std::uint64_t m = to - from;
        return {m >> 63, m << 1};
    }
    const std::uint64_t m = from - to;  // >= 1
    return wide_uint{m >> 63, m << 1} - wide_uint{1};
}

/// Why a read stopped.
enum class read_status {
    ok,
    truncated,    ///< the input ended inside the value
    too_large,    ///< more significant bits than the field allows
    not_minimal,  ///< a varint with a redundant final 0x00 group
};

/// Reads a minimal LEB128 varint of at most `max_bits` bits (1..128) at `p`,
/// advancing `p` only on success. Never reads at or past `end`.
[[nodiscard]] inline read_status read_varint(const std::uint8_t*& p, const std::uint8_t* end,
                                             int max_bits, wide_uint& out) noexcept {
    const std::uint8_t* q = p;
    wide_uint value;
    for (int shift = 0;; shift += 7) {
        if (q == end) return read_status::truncated;
        const std::uint8_t byte = *q++;
        const std::uint64_t group = byte & 0x7fU;
        // Bits of this group at or above max_bits must be zero.
        if (shift >= max_bits) {
            if (group != 0 || (byte & 0x80U) != 0) return read_status::too_large;
        } else if (max_bits - shift < 7 && (group >> (max_bits - shift)) != 0) {
            return read_status::too_large;
        }
        if (shift < 64) {
            value.low |= group << shift;
            if (shift > 57) value.high |= group >> (64 - shift);
        } else if (shift < 128) {
            value.high |= group << (shift - 64);
        }
        if ((byte & 0x80U) == 0) {
            // Only a one-byte varint may end in a zero group.
            if (byte == 0 && shift != 0) return read_status::not_minimal;
            out = value;
            p = q;
            return read_status::ok;
        }
    }
}

/// read_varint for values of at most 64 bits, with a one-byte fast path.
[[nodiscard]] inline read_status read_varint(const std::uint8_t*& p, const std::uint8_t* end,
                                             std::uint64_t& out) noexcept {
    if (p != end && *p < 0x80) {
        out = *p++;
        return read_status::ok;
    }
    wide_uint value;
    const read_status status = read_varint(p, end, 64, value);
    out = value.low;
    return status;
}

/// Reads the two's complement little-endian 64-bit word at `p`.
[[nodiscard]] inline read_status read_fixed64(const std::uint8_t*& p, const std::uint8_t* end,
                                              std::int64_t& out) noexcept {
    if (end - p < 8) return read_status::truncated;
    std::uint64_t bits = 0;
    for (int i = 7; i >= 0; --i) bits = (bits << 8) | p[i];
    out = static_cast<std::int64_t>(bits);
    p += 8;
    return read_status::ok;
}

}  // namespace detail
CANARYGATE_NAMESPACE_END
