// SPDX-License-Identifier: MIT
/// \file
/// MurmurHash3 x86 32-bit (Austin Appleby, public domain algorithm) as the
/// router needs it: over a fixed prefix (flag key, group id) followed by the
/// request's key, without concatenating them, and in the three ways the
/// reference implementations read a string:
/// - `utf8_bytes`: the bytes as given. flagd's Go daemon (twmb/murmur3 over
///   a Go string) and Unleash's Rust core (yggdrasil) hash this way.
/// - `flagd_javascript`: what `imurmurhash` 0.1.4, used by
///   `@openfeature/flagd-core`, computes for the JavaScript string the bytes
///   decode to. It reads UTF-16 code units, not bytes: a full block of four
///   units u0..u3 is the word u0 ^ u1<<8 ^ u2<<16 ^ (u3 & 0xff)<<24 ^ u3>>8
///   (units above 0xff spill into the next byte lane), a tail of one to three
///   units is u0 ^ u1<<8 ^ u2<<16 and is mixed in only when that word is
///   positive as a signed 32-bit integer (JavaScript's `if (k1 > 0)`), and the
///   length mixed in is the number of code units.
/// - `unleash_javascript`: what `murmurhash3js` 3.0.1, used by the Unleash
///   Node SDK, computes: the low byte of each UTF-16 code unit, length in code
///   units.
/// For ASCII all three agree with the standard hash of the bytes (the
/// routing is then identical in every implementation); they differ for any
/// other character. Bytes that are not valid UTF-8 are decoded as Node's
/// `Buffer#toString("utf8")` and the WHATWG Encoding Standard decode them:
/// each maximal invalid subpart becomes one U+FFFD.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "canarygate/core/config.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// How the router turns a key's bytes into the hash input; see the file
/// comment of rollout/murmur3.hpp.
enum class key_hashing : std::uint8_t {
    utf8_bytes,         ///< the bytes as given (flagd's Go daemon, Unleash's Rust core)
    flagd_javascript,   ///< as @openfeature/flagd-core (imurmurhash) hashes the decoded string
    unleash_javascript  ///< as the Unleash Node SDK (murmurhash3js) hashes the decoded string
};

namespace detail {

[[nodiscard]] constexpr std::uint32_t rotl32(std::uint32_t x, int r) noexcept {
    return (x << r) | (x >> (32 - r));
}

/// The block scramble of MurmurHash3 x86 32.
[[nodiscard]] constexpr std::uint32_t murmur3_scramble(std::uint32_t k) noexcept {
    k *= 0xcc9e2d51U;
    k = rotl32(k, 15);
    return k * 0x1b873593U;
}

[[nodiscard]] constexpr std::uint32_t murmur3_fmix(std::uint32_t h) noexcept {
    h ^= h >> 16;
    h *= 0x85ebca6bU;
    h ^= h >> 13;
    h *= 0xc2b2ae35U;
    return h ^ (h >> 16);
}

/// MurmurHash3 x86 32 fed piecewise: `append` the pieces, then `finish`.
/// Its state is a few integers, so a copy taken after the fixed prefix is a
/// ready start for every key (the router keeps one). The unit type is a byte
/// for utf8_bytes and unleash_javascript, a UTF-16 code unit for
/// flagd_javascript (see block_word).
class murmur3_stream {
public:
    explicit constexpr murmur3_stream(std::uint32_t seed = 0) noexcept : h_(seed) {}

    /// Makes push() take UTF-16 code units and combine them as imurmurhash
    /// does (flagd_javascript). Call before the first push.
    constexpr void use_flagd_units() noexcept { flagd_units_ = true; }

    /// Appends bytes, each one hashed as one unit (a byte below 0x80 is the
    /// same unit in every reading).
    constexpr void append_bytes(std::string_view bytes) noexcept {
        const char* p = bytes.data();
        std::size_t n = bytes.size();
        for (; pending_ != 0 && n != 0; --n) push(static_cast<unsigned char>(*p++));
        // Whole blocks straight from the input: the hot path.
        const std::size_t blocks = n / 4;
        for (std::size_t b = 0; b < blocks; ++b, p += 4) {
            mix_block(std::uint32_t{static_cast<unsigned char>(p[0])} |
                      std::uint32_t{static_cast<unsigned char>(p[1])} << 8 |
                      std::uint32_t{static_cast<unsigned char>(p[2])} << 16 |
                      std::uint32_t{static_cast<unsigned char>(p[3])} << 24);
        }
        length_ += static_cast<std::uint32_t>(blocks * 4);
        for (n -= blocks * 4; n != 0; --n) push(static_cast<unsigned char>(*p++));
    }

    /// Appends one unit (a byte, or a UTF-16 code unit in flagd_javascript).
    constexpr void push(std::uint32_t unit) noexcept {
        // Bytes fill their lane of the tail word. imurmurhash's 16-bit
        // units spill their high byte into the next lane, combined by XOR:
        // u0 ^ u1 << 8 ^ u2 << 16 ^ u3 << 24 (mod 2^32).
        tail_ ^= unit << (8 * pending_);
        ++length_;
        if (++pending_ == 4) {
            // The 4th unit's high byte has no lane above it: imurmurhash
            // XORs it into the bottom one.
            mix_block(flagd_units_ ? tail_ ^ (unit >> 8) : tail_);
            tail_ = 0;
            pending_ = 0;
        }
    }

    [[nodiscard]] constexpr std::uint32_t finish() const noexcept {
        std::uint32_t h = h_;
        if (pending_ != 0) {
            // imurmurhash mixes the tail only when it is positive as an
            // int32; standard murmur3 always does, but a zero tail changes
            // nothing there and byte tails never reach bit 31, so the rule
            // matters only for flagd_javascript's 16-bit units.
            const std::uint32_t k = tail_;
            const bool mixed = !flagd_units_ || (k != 0 && (k & 0x80000000U) == 0);
            if (mixed) h ^= murmur3_scramble(k);
        }
        return murmur3_fmix(h ^ length_);
    }

private:
    constexpr void mix_block(std::uint32_t k) noexcept {
        h_ ^= murmur3_scramble(k);
        h_ = rotl32(h_, 13);
        h_ = h_ * 5 + 0xe6546b64U;
    }

    std::uint32_t h_;
    std::uint32_t length_ = 0;  // in units, modulo 2^32 as in every implementation
    std::uint32_t tail_ = 0;    // the pending units, each XORed in at 8 x its position
    unsigned pending_ = 0;
    bool flagd_units_ = false;
};

/// Decodes UTF-8 into code points as the WHATWG Encoding Standard's UTF-8
/// decoder does (and so Node's Buffer#toString("utf8")): every maximal
/// subpart of an ill-formed sequence becomes one U+FFFD. Calls
/// `emit(code_point)` for each.
template <class Emit>
constexpr void decode_utf8_whatwg(std::string_view bytes, Emit&& emit) {
    constexpr std::uint32_t replacement = 0xFFFD;
    std::uint32_t code_point = 0;
    unsigned needed = 0;
    unsigned seen = 0;
    unsigned lower = 0x80;
    unsigned upper = 0xBF;
    std::size_t i = 0;
    while (i < bytes.size()) {
        const unsigned byte = static_cast<unsigned char>(bytes[i]);
        if (needed == 0) {
            ++i;
            if (byte <= 0x7F) {
                emit(byte);
            } else if (byte >= 0xC2 && byte <= 0xDF) {
                needed = 1;
                code_point = byte & 0x1FU;
            } else if (byte >= 0xE0 && byte <= 0xEF) {
                if (byte == 0xE0) lower = 0xA0;
                if (byte == 0xED) upper = 0x9F;
                needed = 2;
                code_point = byte & 0x0FU;
            } else if (byte >= 0xF0 && byte <= 0xF4) {
                if (byte == 0xF0) lower = 0x90;
                if (byte == 0xF4) upper = 0x8F;
                needed = 3;
                code_point = byte & 0x07U;
            } else {
                emit(replacement);
            }
            continue;
        }
        if (byte < lower || byte > upper) {
            // The sequence ends here; this byte is read again as a new start.
            code_point = 0;
            needed = 0;
            seen = 0;
            lower = 0x80;
            upper = 0xBF;
            emit(replacement);
            continue;
        }
        ++i;
        lower = 0x80;
        upper = 0xBF;
        code_point = (code_point << 6) | (byte & 0x3FU);
        if (++seen == needed) {
            emit(code_point);
            code_point = 0;
            needed = 0;
            seen = 0;
        }
    }
    if (needed != 0) emit(replacement);
}

/// Appends `bytes` to `stream` as `hashing` reads a string (see the file
/// comment). Wait-free and allocation-free; linear in the key's length.
constexpr void append_key(murmur3_stream& stream, std::string_view bytes,
                          key_hashing hashing) noexcept {
    if (hashing == key_hashing::utf8_bytes) {
        stream.append_bytes(bytes);
        return;
    }
    bool ascii = true;
    for (const char c : bytes) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    // ASCII: one byte is one code unit below 0x80, and every reading agrees.
    if (ascii) {
        stream.append_bytes(bytes);
        return;
    }
    const bool low_byte = hashing == key_hashing::unleash_javascript;
    decode_utf8_whatwg(bytes, [&](std::uint32_t code_point) {
        const auto push_unit = [&](std::uint32_t unit) {
            stream.push(low_byte ? unit & 0xFFU : unit);
        };
        if (code_point <= 0xFFFF) {
            push_unit(code_point);
        } else {  // a surrogate pair, as JavaScript strings hold it
            const std::uint32_t v = code_point - 0x10000;
            push_unit(0xD800 + (v >> 10));
            push_unit(0xDC00 + (v & 0x3FF));
        }
    });
}

}  // namespace detail

/// MurmurHash3 x86 32-bit of `prefix` followed by `key`, with `seed`, read as
/// `hashing` says. E.g. flagd's fractional bucket input is
/// murmur3_32("flag-key", "user-7", 0).
[[nodiscard]] constexpr std::uint32_t murmur3_32(
    std::string_view prefix, std::string_view key, std::uint32_t seed = 0,
    key_hashing hashing = key_hashing::utf8_bytes) noexcept {
    detail::murmur3_stream stream(seed);
    if (hashing == key_hashing::flagd_javascript) stream.use_flagd_units();
    detail::append_key(stream, prefix, hashing);
    detail::append_key(stream, key, hashing);
    return stream.finish();
}

CANARYGATE_NAMESPACE_END
