// SPDX-License-Identifier: MIT
// The request-id hash: SipHash-2-4-128 against the reference vectors of
// Aumasson and Bernstein (veorq/SipHash, vectors.h: key 00..0f, message
// 00 01 02 .. of length n), and the properties the attribution map relies on.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <utility>

#include "canarygate/record/attribution.hpp"

namespace {

using canarygate::hash_request_id;
using canarygate::hash_seed;
using canarygate::request_key;

// Key bytes 00 01 .. 0f read little-endian.
constexpr hash_seed reference_seed{0x0706050403020100U, 0x0f0e0d0c0b0a0908U};

std::string reference_message(std::size_t n) {
    std::string m(n, '\0');
    for (std::size_t i = 0; i < n; ++i) m[i] = static_cast<char>(i);
    return m;
}

std::array<unsigned char, 16> bytes_of(request_key k) {
    std::array<unsigned char, 16> b{};
    for (std::size_t i = 0; i < 8; ++i) {
        b[i] = static_cast<unsigned char>(k.low >> (8 * i));
        b[8 + i] = static_cast<unsigned char>(k.high >> (8 * i));
    }
    return b;
}

using vector16 = std::array<unsigned char, 16>;

}  // namespace

TEST_CASE("SipHash-2-4-128 matches the reference vectors", "[attribution][hash]") {
    // vectors_sip128[n] for the message lengths n that exercise every path:
    // empty, a partial block, exactly one and two blocks, one block plus one
    // byte, the longest (63 bytes: seven blocks + seven bytes).
    const std::pair<std::size_t, vector16> vectors[] = {
        {0,
         {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02,
          0x93}},
        {1,
         {0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59, 0x11, 0x9b, 0x22, 0xfc,
          0x45}},
        {7,
         {0xa1, 0xf1, 0xeb, 0xbe, 0xd8, 0xdb, 0xc1, 0x53, 0xc0, 0xb8, 0x4a, 0xa6, 0x1f, 0xf0, 0x82,
          0x39}},
        {8,
         {0x3b, 0x62, 0xa9, 0xba, 0x62, 0x58, 0xf5, 0x61, 0x0f, 0x83, 0xe2, 0x64, 0xf3, 0x14, 0x97,
          0xb4}},
        {15,
         {0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11, 0x7e, 0x08, 0xec, 0x0f, 0x97, 0xcf, 0xc3,
          0xd9}},
        {16,
         {0x6e, 0xe2, 0xa4, 0xca, 0x67, 0xb0, 0x54, 0xbb, 0xfd, 0x33, 0x15, 0xbf, 0x85, 0x23, 0x05,
          0x77}},
        {63,
         {0x51, 0x50, 0xd1, 0x77, 0x2f, 0x50, 0x83, 0x4a, 0x50, 0x3e, 0x06, 0x9a, 0x97, 0x3f, 0xbd,
          0x7c}},
    };
    for (const auto& [length, expected] : vectors) {
        INFO("message length " << length);
        CHECK(bytes_of(hash_request_id(reference_message(length), reference_seed)) == expected);
    }
}

TEST_CASE("the hash is usable at compile time and depends on every byte and the seed",
          "[attribution][hash]") {
    constexpr request_key k = hash_request_id("run-7f3a", reference_seed);
    static_assert(k == hash_request_id("run-7f3a", reference_seed));
    STATIC_REQUIRE_FALSE(k == hash_request_id("run-7f3b", reference_seed));
    CHECK_FALSE(k == hash_request_id("run-7f3a", hash_seed{1, 2}));
    // Binary ids: embedded zero bytes count, and so does the length.
    CHECK_FALSE(hash_request_id(std::string("\0\0", 2), reference_seed) ==
                hash_request_id(std::string("\0", 1), reference_seed));
}

TEST_CASE("no collisions among 200,000 UUID-like ids", "[attribution][hash]") {
    // 128-bit keys: the chance of any collision here is about 2^-93.
    std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
    char id[] = "00000000-7f3a-4c1e-9b2d-5e8f00000000";
    std::size_t collisions = 0;
    for (std::uint32_t i = 0; i < 200'000; ++i) {
        for (std::size_t d = 0; d < 8; ++d) id[d] = "0123456789abcdef"[(i >> (4 * d)) & 15U];
        const request_key k = hash_request_id(id, reference_seed);
        if (!seen.emplace(k.low, k.high).second) ++collisions;
    }
    CHECK(collisions == 0);
}

TEST_CASE("a random seed is random", "[attribution][hash]") {
    const hash_seed a = hash_seed::random();
    const hash_seed b = hash_seed::random();
    CHECK_FALSE(a == b);  // fails with probability 2^-128
}
