// SPDX-License-Identifier: MIT
// Binary codec: exact round trips, the canonical (deterministic) encoding,
// golden encodings that pin format versions 2 and 1, the CRC-32C of version
// 2, version 1 still read, merge after decode, what encode refuses, and the
// size of a typical 5-minute window.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "canarygate/window/codec.hpp"
#include "canarygate/window/detail/crc32c.hpp"
#include "support/codec_fixtures.hpp"

using canarygate::decode;
using canarygate::encode;
using canarygate::exp_histogram;
using canarygate::histogram_layout;
using canarygate::snapshot;
using canarygate::wide_uint;
using Catch::Matchers::Contains;
using codec_fixtures::u64_max;

namespace {

using bytes = std::vector<std::uint8_t>;

// The error contract: one exception type for binary and JSON input, caught
// as std::runtime_error too; encode and decode allocate, so may throw.
static_assert(std::is_base_of_v<std::runtime_error, canarygate::decode_error>);
static_assert(std::is_nothrow_copy_constructible_v<canarygate::decode_error>);
static_assert(!noexcept(encode(std::declval<const snapshot&>())));
static_assert(!noexcept(decode(std::declval<std::span<const std::uint8_t>>())));

// decode(encode(s)) == s, and the encoding is canonical: re-encoding the
// decoded snapshot gives the same bytes.
bytes check_round_trip(const snapshot& s) {
    const bytes encoded = encode(s);
    const snapshot decoded = decode(encoded);
    CHECK(decoded == s);
    CHECK(encode(decoded) == encoded);
    return encoded;
}

// The version 1 form of a version 2 encoding: the same body with version
// byte 1, without the CRC-32C trailer.
bytes to_version_1(bytes encoded) {
    REQUIRE(encoded.size() >= 29);
    REQUIRE(encoded[4] == 2);
    encoded[4] = 1;
    encoded.resize(encoded.size() - 4);
    return encoded;
}

std::uint32_t crc_trailer(const bytes& encoded) {
    REQUIRE(encoded.size() >= 4);
    std::uint32_t crc = 0;
    for (std::size_t i = encoded.size(); i-- > encoded.size() - 4;) crc = (crc << 8) | encoded[i];
    return crc;
}

std::string invalid_argument_message(const snapshot& s) {
    try {
        (void)encode(s);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "no exception";
}

}  // namespace

TEST_CASE("CRC-32C: the catalogue check value and the RFC 3720 vectors", "[codec][crc]") {
    using canarygate::detail::crc32c;
    using canarygate::detail::crc32c_update;
    constexpr std::uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
    static_assert(crc32c(check) == 0xE3069283U);  // constexpr
    CHECK(crc32c(check) == 0xE3069283U);
    CHECK(crc32c(std::span<const std::uint8_t>()) == 0);
    // iSCSI (RFC 3720, B.4): 32 bytes of zeros, of ones, ascending, descending.
    bytes zeros(32, 0x00), ones(32, 0xff), ascending(32), descending(32);
    for (std::size_t i = 0; i < 32; ++i) {
        ascending[i] = static_cast<std::uint8_t>(i);
        descending[i] = static_cast<std::uint8_t>(31 - i);
    }
    CHECK(crc32c(zeros) == 0x8A9136AAU);
    CHECK(crc32c(ones) == 0x62A8AB43U);
    CHECK(crc32c(ascending) == 0x46DD794EU);
    CHECK(crc32c(descending) == 0x113FDB5CU);
    // The 8-byte and 1-byte steps agree: the CRC of a real encoding, in two
    // pieces split anywhere, against a bit-at-a-time reference.
    const bytes encoded = encode(codec_fixtures::small_snapshot());
    std::uint32_t reference = 0xFFFFFFFFU;
    for (const std::uint8_t b : encoded) {
        reference ^= b;
        for (int bit = 0; bit < 8; ++bit)
            reference = (reference >> 1) ^ ((reference & 1U) * 0x82F63B78U);
    }
    reference = ~reference;
    std::size_t mismatches = 0;
    for (std::size_t split = 0; split <= encoded.size(); ++split) {
        const std::span<const std::uint8_t> all(encoded);
        const std::uint32_t crc =
            ~crc32c_update(crc32c_update(0xFFFFFFFFU, all.first(split)), all.subspan(split));
        mismatches += crc == reference ? 0U : 1U;
    }
    CHECK(mismatches == 0);
    CHECK(crc32c(encoded) == reference);
}

TEST_CASE("an empty snapshot round-trips in 29 bytes", "[codec]") {
    const bytes encoded = check_round_trip(snapshot{});
    const bytes expected = {0x43, 0x47, 0x53, 0x4e, 2, 0,        // magic, version, flags
                            0,    0,    0,    0,    0, 0, 0, 0,  // window_start_ns
                            0,    0,    0,    0,    0, 0, 0, 0,  // window_end_ns
                            0,    0,    0,                       // sources, counters, arms
                            0xef, 0xda, 0x27, 0x44};             // CRC-32C 0x4427daef
    CHECK(encoded == expected);
    CHECK(decode(encoded).sources() == 0);
    CHECK(canarygate::snapshot_format_version == 2);
    CHECK(canarygate::oldest_snapshot_format_version == 1);
}

TEST_CASE("the golden encoding pins format versions 2 and 1 byte for byte", "[codec]") {
    snapshot s(1, 2);
    s.add_counter("n", 300);
    exp_histogram h(histogram_layout(0, -1, 2));  // buckets -1, 0, 1
    h.add_zero(1);
    h.add_overflow(2);
    h.add_to_bucket(-1, 5);
    h.add_to_bucket(1, 3);
    s.arm("a").add_histogram("h", h);
    const bytes expected = {
        0x43, 0x47, 0x53, 0x4e, 0x02, 0x00,        // "CGSN", version 2, flags 0
        0x01, 0,    0,    0,    0,    0,    0, 0,  // window_start_ns = 1
        0x02, 0,    0,    0,    0,    0,    0, 0,  // window_end_ns = 2
        0x01,                                      // sources = 1
        0x01, 0x01, 'n',  0xac, 0x02,              // 1 counter: "n" = 300
        0x01,                                      // 1 arm
        0x01, 'a',  0x00,                          // "a" @ ""
        0x00,                                      // no counters
        0x01, 0x01, 'h',                           // 1 histogram "h"
        0x00, 0x01, 0x04,                          // scale 0, zz(-1), zz(2)
        0x01, 0x00, 0x02, 0x00,                    // zero, underflow, overflow, rejected
        0x02, 0x00, 0x01, 0x01, 0x01,              // spans [0, 1], [gap 1, 1]
        0x0a, 0x03,                                // deltas zz(+5), zz(-2)
        0x9f, 0xdc, 0xa6, 0xac,                    // CRC-32C 0xaca6dc9f of the above
    };
    CHECK(encode(s) == expected);
    CHECK(decode(expected) == s);
    CHECK(crc_trailer(expected) == 0xaca6dc9fU);

    // Version 1, as canarygate wrote it before the checksum: the same body
    // with version byte 1 and no trailer. Still read, to the same snapshot.
    bytes version_1(expected.begin(), expected.end() - 4);
    version_1[4] = 0x01;
    CHECK(decode(version_1) == s);
    CHECK(encode(decode(version_1)) == expected);
}

TEST_CASE("version 2 is version 1 plus the CRC-32C of its bytes; both decode alike", "[codec]") {
    snapshot three_arms(codec_fixtures::window_start,
                        codec_fixtures::window_start + codec_fixtures::five_minutes);
    codec_fixtures::record_arm(three_arms, "baseline", "v1", 3000, 800, 1);
    codec_fixtures::record_arm(three_arms, "candidate", "v2", 300, 850, 2);
    codec_fixtures::record_arm(three_arms, "shadow", "v3", 30, 900, 3);
    for (const snapshot& s :
         {snapshot{}, codec_fixtures::small_snapshot(), codec_fixtures::typical_window(7),
          codec_fixtures::corner_snapshot(), three_arms}) {
        const bytes encoded = check_round_trip(s);
        CAPTURE(encoded.size());
        CHECK(encoded[4] == canarygate::snapshot_format_version);
        CHECK(crc_trailer(encoded) ==
              canarygate::detail::crc32c(std::span(encoded).first(encoded.size() - 4)));
        const bytes version_1 = to_version_1(encoded);
        CHECK(decode(version_1) == s);
        CHECK(encode(decode(version_1)) == encoded);  // re-encoded as version 2
    }
}

TEST_CASE("a snapshot with every corner of the format round-trips", "[codec]") {
    const snapshot s = codec_fixtures::corner_snapshot();
    check_round_trip(s);
    const snapshot decoded = decode(encode(s));
    CHECK(decoded.counter("widest") == wide_uint{u64_max, u64_max});
    CHECK(decoded.sources() == 7);
    CHECK(decoded.window_start_ns() == -5);
    const auto* edges = decoded.arms()[2].histogram("edges");
    REQUIRE(edges != nullptr);
    CHECK(edges->count() == u64_max);
}

TEST_CASE("histograms round-trip at every scale and with negative exponents", "[codec]") {
    for (int scale = 0; scale <= histogram_layout::max_scale; ++scale) {
        for (const auto& [low, high] : {std::pair{-20, -2}, std::pair{-3, 4}, std::pair{0, 20},
                                        std::pair{16, 41}, std::pair{1000, 1023}}) {
            CAPTURE(scale, low, high);
            std::mt19937_64 rng(static_cast<std::uint64_t>(scale * 1000 + low));
            // Spread over the whole range, with some underflow and overflow.
            const double ln2 = std::log(2.0);
            std::lognormal_distribution<double> d(0.5 * (low + high) * ln2,
                                                  0.3 * (high - low) * ln2);
            exp_histogram h(histogram_layout(scale, low, high));
            h.add_zero(static_cast<std::uint64_t>(scale));
            h.add_rejected(2);
            for (int i = 0; i < 2000; ++i) h.record(d(rng));
            snapshot s(0, 10);
            s.arm("a", "b").add_histogram("h", h);
            check_round_trip(s);
        }
    }
}

TEST_CASE("wide counters round-trip at every varint length", "[codec]") {
    snapshot s(0, 1);
    auto& a = s.arm("x");
    for (int bit = 0; bit < 128; ++bit) {
        const wide_uint power = bit < 64 ? wide_uint{0, std::uint64_t{1} << bit}
                                         : wide_uint{std::uint64_t{1} << (bit - 64), 0};
        a.add_counter("p" + std::to_string(1000 + bit), power);
        a.add_counter("m" + std::to_string(1000 + bit), power - wide_uint{1});
    }
    a.add_counter("max", wide_uint{u64_max, u64_max});
    check_round_trip(s);
    // 2^128 - 1 takes 19 bytes: 18 full groups of 7 bits and a final 2 bits.
    snapshot one(0, 0);
    one.add_counter("c", wide_uint{u64_max, u64_max});
    CHECK(encode(one).size() == 25 + 2 + 19 + 4);
}

TEST_CASE("many arms round-trip in (arm, model_version) order", "[codec]") {
    snapshot s(100, 200);
    for (int i = 0; i < 200; ++i) {
        auto& a = s.arm("arm" + std::to_string(i % 17), "v" + std::to_string(i));
        a.add_counter("requests", static_cast<std::uint64_t>(i));
        exp_histogram h(canarygate::tokens_layout);
        h.record(static_cast<std::uint64_t>(i + 1), static_cast<std::uint64_t>(i + 1));
        a.add_histogram("output_tokens", h);
    }
    check_round_trip(s);
    CHECK(decode(encode(s)).arms().size() == 200);
}

TEST_CASE("encoding is deterministic: insertion order and copies do not matter", "[codec]") {
    const snapshot a = codec_fixtures::typical_window(5);
    // Build the same content in another order.
    snapshot b(a.window_start_ns(), a.window_end_ns());
    for (auto it = a.arms().rbegin(); it != a.arms().rend(); ++it) {
        auto& arm = b.arm(it->arm(), it->model_version());
        for (auto c = it->histograms().rbegin(); c != it->histograms().rend(); ++c)
            arm.add_histogram(c->first, c->second);
        for (auto c = it->counters().rbegin(); c != it->counters().rend(); ++c)
            arm.add_counter(c->first, c->second);
    }
    for (const auto& [name, value] : a.counters()) b.add_counter(name, value);
    REQUIRE(a == b);
    CHECK(encode(a) == encode(b));
    CHECK(encode(a) == encode(snapshot(a)));
}

TEST_CASE("encode appends to a buffer; decode of the appended part is exact", "[codec]") {
    const snapshot s = codec_fixtures::typical_window(2);
    bytes buffer = {1, 2, 3};
    canarygate::encode(s, buffer);
    const bytes alone = encode(s);
    REQUIRE(buffer.size() == 3 + alone.size());
    CHECK(bytes(buffer.begin() + 3, buffer.end()) == alone);
    CHECK(decode(std::span(buffer).subspan(3)) == s);
}

TEST_CASE("decoded replicas merge exactly like the originals", "[codec][merge]") {
    const snapshot a = codec_fixtures::typical_window(10);
    const snapshot b = codec_fixtures::typical_window(11);
    snapshot c(codec_fixtures::window_start + codec_fixtures::five_minutes,
               codec_fixtures::window_start + 2 * codec_fixtures::five_minutes);
    codec_fixtures::record_arm(c, "shadow", "llama-4", 500, 900, 12);

    snapshot direct;
    direct.merge(a).merge(b).merge(c);
    snapshot via_bytes;
    for (const snapshot* s : {&a, &b, static_cast<const snapshot*>(&c)})
        via_bytes.merge(decode(encode(*s)));
    CHECK(via_bytes == direct);
    CHECK(via_bytes.sources() == 3);
    // The merged snapshot round-trips too (sources and the united window kept).
    check_round_trip(direct);
}

TEST_CASE("encode refuses what the format cannot carry and leaves the buffer as it was",
          "[codec]") {
    bytes buffer = {9, 9};
    SECTION("an empty counter name") {
        snapshot s(0, 1);
        s.arm("a").add_counter("", 1);
        CHECK_THAT(invalid_argument_message(s), Contains("counter ''") && Contains("is empty"));
        CHECK_THROWS_AS(canarygate::encode(s, buffer), std::invalid_argument);
    }
    SECTION("an empty arm name") {
        snapshot s(0, 1);
        s.arm("");
        CHECK_THAT(invalid_argument_message(s), Contains("arm ''") && Contains("is empty"));
        CHECK_THROWS_AS(canarygate::encode(s, buffer), std::invalid_argument);
    }
    SECTION("a name longer than 256 bytes") {
        snapshot s(0, 1);
        s.add_counter(std::string(256, 'x'), 1);
        CHECK_NOTHROW(encode(s));
        s.add_counter(std::string(257, 'y'), 1);
        CHECK_THAT(invalid_argument_message(s), Contains("longer than max_name_bytes"));
        CHECK_THROWS_AS(canarygate::encode(s, buffer), std::invalid_argument);
    }
    SECTION("a model version longer than 256 bytes") {
        snapshot s(0, 1);
        s.arm("a", std::string(257, 'v'));
        CHECK_THAT(invalid_argument_message(s), Contains("model version"));
        CHECK_THROWS_AS(canarygate::encode(s, buffer), std::invalid_argument);
    }
    SECTION("a histogram holding more than 2^64 - 1 values") {
        snapshot s(0, 1);
        exp_histogram h;
        h.add_zero(u64_max);
        h.add_to_bucket(700, 1);
        s.arm("a", "v").add_histogram("latency_ns", h);
        CHECK_THAT(invalid_argument_message(s),
                   Contains("histogram 'latency_ns' of arm 'a'@'v'") && Contains("2^64 - 1"));
        CHECK_THROWS_AS(canarygate::encode(s, buffer), std::invalid_argument);
    }
    CHECK(buffer == bytes{9, 9});
}

TEST_CASE("size of a typical 5-minute window", "[codec][size]") {
    // 1 % canary: 30 candidate + 3,000 baseline requests, log-normal latency.
    const snapshot latency = codec_fixtures::typical_window(1, true);
    const snapshot full = codec_fixtures::typical_window(1, false);
    const bytes latency_bytes = check_round_trip(latency);
    const bytes full_bytes = check_round_trip(full);

    // Dense: every bucket as 8 bytes, what a naive dump of the histograms takes.
    auto dense = [](const snapshot& s) {
        std::size_t n = 0;
        for (const auto& a : s.arms()) {
            for (const auto& [name, h] : a.histograms()) n += 8 * (h.layout().bucket_count() + 4);
        }
        return n;
    };
    std::printf(
        "\nSerialised size of a 5-minute window, 2 arms (30 canary + 3,000 baseline "
        "requests, log-normal latency):\n"
        "  latency histogram + 2 counters per arm: %zu bytes (dense buckets: %zu bytes)\n"
        "  all default metrics (5 histograms + 12 counters per arm): %zu bytes "
        "(dense buckets: %zu bytes)\n",
        latency_bytes.size(), dense(latency), full_bytes.size(), dense(full));
    // Guard rails against an accidental blow-up of the format, not targets.
    CHECK(latency_bytes.size() < 600);
    CHECK(full_bytes.size() < 3000);
}
