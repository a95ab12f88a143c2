// SPDX-License-Identifier: MIT
// Binary codec on bad input: every truncation is rejected, every single-byte
// corruption is rejected or decodes to a valid snapshot whose canonical
// encoding is exactly the corrupted bytes, and each specific defect is
// rejected with a message that names it and its byte offset.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "canarygate/window/codec.hpp"
#include "support/codec_fixtures.hpp"

using canarygate::decode;
using canarygate::decode_error;
using canarygate::encode;
using canarygate::snapshot;
using canarygate::wide_uint;
using Catch::Matchers::Contains;
using codec_fixtures::u64_max;

namespace {

using bytes = std::vector<std::uint8_t>;

// Builds raw encodings field by field, to express defects encode never makes.
class doc {
public:
    doc& raw(std::initializer_list<std::uint8_t> b) {
        out.insert(out.end(), b);
        return *this;
    }
    doc& varint(std::uint64_t v) {
        canarygate::detail::byte_writer w(out);
        w.varint(v);
        w.finish();
        return *this;
    }
    doc& wide(wide_uint v) {
        canarygate::detail::byte_writer w(out);
        w.varint(v);
        w.finish();
        return *this;
    }
    doc& zz(std::int64_t v) { return varint(canarygate::detail::zigzag(v)); }
    doc& str(std::string_view s) {
        varint(s.size());
        out.insert(out.end(), s.begin(), s.end());
        return *this;
    }
    doc& fixed(std::int64_t v) {
        canarygate::detail::byte_writer w(out);
        w.fixed64(v);
        w.finish();
        return *this;
    }
    // Magic, version, flags, window [0, 10), one source.
    doc& header(std::uint8_t version = 1, std::uint8_t flags = 0) {
        return raw({0x43, 0x47, 0x53, 0x4e, version, flags}).fixed(0).fixed(10).varint(1);
    }
    bytes out;
};

struct histogram_fields {
    std::uint64_t scale = 0;
    std::int64_t min_exponent = 0;
    std::int64_t max_exponent = 4;  // scale 0: 4 buckets
    std::uint64_t zero = 0, underflow = 0, overflow = 0, rejected = 0;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;  // (offset, length)
    std::vector<wide_uint> deltas;                               // zig-zagged
};

// A snapshot with no recorder-wide counters and one arm "a"@"" holding the
// single histogram "h".
bytes with_histogram(const histogram_fields& f) {
    doc d;
    d.header().varint(0).varint(1).str("a").str("").varint(0).varint(1).str("h");
    d.varint(f.scale).zz(f.min_exponent).zz(f.max_exponent);
    d.varint(f.zero).varint(f.underflow).varint(f.overflow).varint(f.rejected);
    d.varint(f.spans.size());
    for (const auto& [offset, length] : f.spans) d.varint(offset).varint(length);
    for (const auto& delta : f.deltas) d.wide(delta);
    return d.out;
}

wide_uint zz(std::int64_t delta) { return canarygate::detail::zigzag(delta); }

struct rejection {
    std::string message;
    std::size_t offset = 0;
};

rejection reject(std::span<const std::uint8_t> input,
                 const canarygate::decode_limits& limits = {}) {
    try {
        (void)decode(input, limits);
    } catch (const decode_error& e) {
        return {e.what(), e.offset()};
    }
    return {"accepted", 0};
}

// What the corruption tests require of any input: rejected with an offset
// inside the input, or a valid snapshot whose canonical encoding is exactly
// the input (so the decoder accepted nothing it would not have written).
enum class outcome { rejected, accepted, broken };
outcome judge(std::span<const std::uint8_t> input) {
    snapshot s;
    try {
        s = decode(input);
    } catch (const decode_error& e) {
        return e.offset() <= input.size() ? outcome::rejected : outcome::broken;
    }
    const bytes again = encode(s);
    const bool same = std::equal(again.begin(), again.end(), input.begin(), input.end());
    return same && decode(again) == s ? outcome::accepted : outcome::broken;
}

}  // namespace

TEST_CASE("every truncation of a valid encoding is rejected", "[codec][reject]") {
    for (const snapshot& s :
         {snapshot{}, codec_fixtures::small_snapshot(), codec_fixtures::typical_window(3),
          codec_fixtures::corner_snapshot()}) {
        const bytes encoded = encode(s);
        std::size_t accepted = 0;
        std::size_t offset_outside = 0;
        for (std::size_t n = 0; n < encoded.size(); ++n) {
            const rejection r = reject(std::span(encoded).first(n));
            accepted += r.message == "accepted" ? 1U : 0U;
            offset_outside += r.offset > n ? 1U : 0U;
        }
        CAPTURE(encoded.size());
        CHECK(accepted == 0);
        CHECK(offset_outside == 0);
    }
    CHECK_THAT(reject(bytes{}).message, Contains("input truncated in the magic bytes"));
}

TEST_CASE("every single-byte corruption is rejected or decodes canonically", "[codec][reject]") {
    struct input {
        const char* name;
        bytes encoded;
        std::vector<std::uint8_t> masks;  // XOR masks tried at every position
    };
    std::vector<std::uint8_t> all_masks;
    for (int m = 1; m < 256; ++m) all_masks.push_back(static_cast<std::uint8_t>(m));
    const std::vector<std::uint8_t> some_masks = {0x01, 0x02, 0x04, 0x08, 0x10,
                                                  0x20, 0x40, 0x80, 0xff, 0x7f};
    const std::vector<input> inputs = {
        {"small snapshot", encode(codec_fixtures::small_snapshot()), all_masks},
        {"typical latency window", encode(codec_fixtures::typical_window(4, true)), some_masks},
        {"corner snapshot", encode(codec_fixtures::corner_snapshot()), some_masks},
    };
    for (const auto& [name, encoded, masks] : inputs) {
        std::size_t counts[3] = {0, 0, 0};
        bytes corrupted = encoded;
        for (std::size_t i = 0; i < encoded.size(); ++i) {
            for (const std::uint8_t mask : masks) {
                corrupted[i] = static_cast<std::uint8_t>(encoded[i] ^ mask);
                ++counts[static_cast<std::size_t>(judge(corrupted))];
            }
            corrupted[i] = encoded[i];
        }
        std::printf(
            "%s (%zu bytes): %zu corruptions rejected, %zu decoded to another valid snapshot\n",
            name, encoded.size(), counts[0], counts[1]);
        CAPTURE(name);
        CHECK(counts[static_cast<std::size_t>(outcome::broken)] == 0);
        CHECK(counts[static_cast<std::size_t>(outcome::rejected)] > 0);
    }
}

TEST_CASE("random bytes after a valid header never crash the decoder", "[codec][reject]") {
    std::mt19937_64 rng(99);
    std::size_t broken = 0;
    for (int trial = 0; trial < 20000; ++trial) {
        doc d;
        d.header();
        const auto length = static_cast<std::size_t>(rng() % 64);
        for (std::size_t i = 0; i < length; ++i) {
            // Mostly small values, so counts and lengths are often plausible.
            const std::uint64_t r = rng();
            d.out.push_back(static_cast<std::uint8_t>(r % 4 == 0 ? r >> 8 : (r >> 8) % 8));
        }
        broken += judge(d.out) == outcome::broken ? 1U : 0U;
    }
    CHECK(broken == 0);
}

TEST_CASE("header defects are rejected by name", "[codec][reject]") {
    bytes valid = encode(snapshot(0, 10));
    SECTION("bad magic") {
        bytes b = valid;
        b[1] = 'X';
        const rejection r = reject(b);
        CHECK_THAT(r.message, Contains("bad magic bytes 43 58 53 4e") &&
                                  Contains("not a canarygate snapshot"));
        CHECK(r.offset == 0);
        CHECK_THAT(reject(bytes{'{', '"'}).message, Contains("bad magic bytes 7b 22"));
    }
    SECTION("a future format version") {
        bytes b = valid;
        b[4] = 2;
        const rejection r = reject(b);
        CHECK_THAT(r.message,
                   Contains("format version 2 is newer than the version this decoder reads (1)"));
        CHECK(r.offset == 4);
    }
    SECTION("format version 0") {
        bytes b = valid;
        b[4] = 0;
        CHECK_THAT(reject(b).message, Contains("format version 0 is not"));
    }
    SECTION("unknown flags") {
        bytes b = valid;
        b[5] = 0x01;
        const rejection r = reject(b);
        CHECK_THAT(r.message, Contains("unknown flags 1"));
        CHECK(r.offset == 5);
    }
    SECTION("a window that ends before it starts") {
        doc d;
        d.raw({0x43, 0x47, 0x53, 0x4e, 1, 0}).fixed(10).fixed(9).varint(1).varint(0).varint(0);
        const rejection r = reject(d.out);
        CHECK_THAT(r.message, Contains("window_end_ns = 9 is before window_start_ns = 10"));
        CHECK(r.offset == 6);
    }
    SECTION("trailing bytes") {
        bytes b = valid;
        b.push_back(0);
        b.push_back(0);
        const rejection r = reject(b);
        CHECK_THAT(r.message, Contains("2 trailing byte(s) after the last arm"));
        CHECK(r.offset == valid.size());
    }
    SECTION("a non-minimal varint") {
        doc d;
        d.raw({0x43, 0x47, 0x53, 0x4e, 1, 0})
            .fixed(0)
            .fixed(0)
            .raw({0x81, 0x00})
            .varint(0)
            .varint(0);
        const rejection r = reject(d.out);
        CHECK_THAT(r.message, Contains("sources is a non-minimal varint"));
        CHECK(r.offset == 22);
    }
    SECTION("a varint beyond 64 bits") {
        doc d;
        d.raw({0x43, 0x47, 0x53, 0x4e, 1, 0}).fixed(0).fixed(0);
        d.raw({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}).varint(0).varint(0);
        CHECK_THAT(reject(d.out).message, Contains("sources does not fit in 64 bits"));
    }
}

TEST_CASE("hostile lengths and counts are rejected before any allocation", "[codec][reject]") {
    SECTION("a huge arm count") {
        doc d;
        d.header().varint(0).varint(std::uint64_t{1} << 62);
        const rejection r = reject(d.out);
        CHECK_THAT(r.message, Contains("arm count 4611686018427387904 needs at least 5 bytes each, "
                                       "but only 0 bytes follow"));
        CHECK(r.offset == 24);
    }
    SECTION("a huge counter count") {
        doc d;
        d.header().varint(u64_max).str("x").varint(1);
        CHECK_THAT(reject(d.out).message,
                   Contains("counter count 18446744073709551615 needs at least 3 bytes each"));
    }
    SECTION("a huge name length") {
        doc d;
        d.header().varint(1).varint(std::uint64_t{1} << 40).raw({'x', 1});
        CHECK_THAT(reject(d.out).message,
                   Contains("counter name length 1099511627776 exceeds max_name_bytes (256)"));
    }
    SECTION("a name length beyond the input") {
        doc d;
        d.header().varint(1).varint(200).raw({'x', 'y', 1});
        CHECK_THAT(reject(d.out).message,
                   Contains("input truncated in counter name: 200 bytes declared, 3 left"));
    }
    SECTION("a huge span count") {
        histogram_fields f;
        bytes b = with_histogram(f);
        b.back() = 0x7f;  // span count 127 with nothing after it
        CHECK_THAT(reject(b).message,
                   Contains("histogram 'h': span count 127 needs at least 3 bytes each"));
    }
    SECTION("a huge span length") {
        histogram_fields f;
        f.spans = {{0, u64_max}};
        f.deltas = {zz(1)};
        CHECK_THAT(reject(with_histogram(f)).message,
                   Contains("span #0 (offset 0, length 18446744073709551615) ends past"));
    }
    SECTION("a huge span offset") {
        histogram_fields f;
        f.spans = {{0, 1}, {u64_max, 1}};
        f.deltas = {zz(1), zz(0)};
        CHECK_THAT(reject(with_histogram(f)).message,
                   Contains("span #1 (offset 18446744073709551615, length 1) ends past"));
    }
    SECTION("layouts beyond decode_limits") {
        const bytes b = encode(codec_fixtures::typical_window(1, true));  // 2 x 800 buckets
        CHECK_NOTHROW(decode(b, canarygate::decode_limits{1600}));
        const rejection r = reject(b, canarygate::decode_limits{1599});
        CHECK_THAT(r.message,
                   Contains("arm #1 'candidate'@'llama-3.3-70b-instruct@2024-12-06': histogram "
                            "'latency_ns': layout scale 5, (2^16, 2^41] has 800 buckets") &&
                       Contains("(800) that exceeds decode_limits::max_total_buckets = 1599"));
        // The widest layout is 523,520 buckets: admitted by the default limits.
        histogram_fields f;
        f.scale = 8;
        f.min_exponent = -1022;
        f.max_exponent = 1023;
        CHECK_NOTHROW(decode(with_histogram(f)));
    }
}

TEST_CASE("histogram defects are rejected by name", "[codec][reject]") {
    histogram_fields f;  // scale 0, (2^0, 2^4]: 4 buckets, indices 0..3
    SECTION("an invalid layout") {
        f.scale = 9;
        CHECK_THAT(reject(with_histogram(f)).message,
                   Contains("histogram 'h': invalid layout: canarygate::histogram_layout: scale = "
                            "9 must be in [0, 8]"));
        f.scale = std::uint64_t{1} << 40;
        CHECK_THAT(reject(with_histogram(f)).message,
                   Contains("scale = 1099511627776 is out of range"));
        f.scale = 0;
        f.max_exponent = 0;
        CHECK_THAT(reject(with_histogram(f)).message,
                   Contains("max_exponent = 0 must be greater than min_exponent"));
        f.min_exponent = -1023;
        CHECK_THAT(reject(with_histogram(f)).message,
                   Contains("min_exponent = -1023 must be in [-1022, 1023]"));
    }
    SECTION("a span past the layout's range") {
        f.spans = {{2, 3}};
        f.deltas = {zz(1), zz(0), zz(0)};
        const bytes b = with_histogram(f);
        const rejection r = reject(b);
        CHECK_THAT(r.message, Contains("span #0 (offset 2, length 3) ends past the layout's 4 "
                                       "buckets (scale 0, (2^0, 2^4])"));
        CHECK(r.offset == b.size() - 5);
        f.spans = {{0, 1}, {1, 1}, {1, 1}};  // buckets 0, 2, 4: one too far
        f.deltas = {zz(1), zz(0), zz(0)};
        CHECK_THAT(reject(with_histogram(f)).message,
                   Contains("span #2 (offset 1, length 1) ends past"));
    }
    SECTION("spans that overlap or touch") {
        // Offsets after the first are gaps, so an overlap cannot be written;
        // a gap of 0 (touching spans) is not the canonical maximal run.
        f.spans = {{0, 1}, {0, 1}};
        f.deltas = {zz(1), zz(1)};
        CHECK_THAT(reject(with_histogram(f)).message, Contains("span #1 touches the previous one"));
    }
    SECTION("an empty span") {
        f.spans = {{1, 0}};
        f.deltas = {zz(1)};
        CHECK_THAT(reject(with_histogram(f)).message, Contains("span #0 is empty"));
    }
    SECTION("spans with more buckets than bytes left for their counts") {
        f.spans = {{0, 4}};
        f.deltas = {zz(1), zz(1)};
        CHECK_THAT(reject(with_histogram(f)).message,
                   Contains("spans hold 4 buckets but only 2 bytes follow"));
    }
    SECTION("zero, negative and overflowing bucket counts") {
        f.spans = {{0, 2}};
        f.deltas = {zz(0), zz(1)};
        CHECK_THAT(reject(with_histogram(f)).message,
                   Contains("bucket count is zero (spans list only non-empty buckets)"));
        f.deltas = {zz(5), zz(-5)};
        CHECK_THAT(reject(with_histogram(f)).message, Contains("bucket count is zero"));
        f.deltas = {zz(5), zz(-6)};
        CHECK_THAT(reject(with_histogram(f)).message, Contains("bucket count would be negative"));
        f.deltas = {canarygate::detail::zigzag_difference(0, u64_max), zz(1)};
        CHECK_THAT(reject(with_histogram(f)).message, Contains("bucket count exceeds 2^64 - 1"));
        f.deltas = {wide_uint{2, 0}, zz(1)};  // zz = 2^65: +2^64
        CHECK_THAT(reject(with_histogram(f)).message,
                   Contains("bucket count delta does not fit in 65 bits"));
        f.spans = {{0, 1}};
        f.deltas = {canarygate::detail::zigzag_difference(0, u64_max)};
        CHECK(decode(with_histogram(f)).arms()[0].histogram("h")->buckets()[0] == u64_max);
    }
    SECTION("a histogram holding more than 2^64 - 1 values") {
        f.zero = u64_max;
        f.spans = {{3, 1}};
        f.deltas = {zz(1)};
        CHECK_THAT(reject(with_histogram(f)).message,
                   Contains("histogram holds more than 2^64 - 1 values in total"));
        f.spans = {};
        f.deltas = {};
        f.overflow = 1;
        CHECK_THAT(reject(with_histogram(f)).message,
                   Contains("zero + underflow + overflow counts exceed 2^64 - 1"));
        f.overflow = 0;
        f.rejected = u64_max;  // rejected inputs are not part of the count
        CHECK_NOTHROW(decode(with_histogram(f)));
    }
}

TEST_CASE("names and arms out of order, duplicated or empty are rejected", "[codec][reject]") {
    auto arm = [](doc& d, std::string_view name, std::string_view version) {
        d.str(name).str(version).varint(0).varint(0);
    };
    SECTION("duplicate arm") {
        doc d;
        d.header().varint(0).varint(2);
        arm(d, "baseline", "v1");
        const std::size_t second = d.out.size();
        arm(d, "baseline", "v1");
        const rejection r = reject(d.out);
        CHECK_THAT(r.message, Contains("arm #1 'baseline'@'v1': duplicate arm"));
        CHECK(r.offset == second);
    }
    SECTION("unsorted arms") {
        doc d;
        d.header().varint(0).varint(3);
        arm(d, "baseline", "v1");
        arm(d, "candidate", "v2");
        arm(d, "candidate", "v10");  // "v10" < "v2" bytewise
        CHECK_THAT(reject(d.out).message,
                   Contains("arm #2 'candidate'@'v10': arms are not sorted by (arm, "
                            "model_version): this one follows 'candidate'@'v2'"));
    }
    SECTION("an empty arm name; an empty model version is fine") {
        doc d;
        d.header().varint(0).varint(1);
        arm(d, "", "v1");
        CHECK_THAT(reject(d.out).message, Contains("arm name is empty"));
        doc ok;
        ok.header().varint(0).varint(1);
        arm(ok, "a", "");
        CHECK_NOTHROW(decode(ok.out));
    }
    SECTION("duplicate and unsorted counter names") {
        doc d;
        d.header().varint(2).str("requests").varint(1).str("requests").varint(2).varint(0);
        CHECK_THAT(reject(d.out).message, Contains("counter 'requests': duplicate name"));
        doc u;
        u.header().varint(2).str("b").varint(1).str("a").varint(2).varint(0);
        CHECK_THAT(reject(u.out).message,
                   Contains("counter 'a': names are not sorted: this one follows 'b'"));
        doc e;
        e.header().varint(1).str("").varint(1).varint(0);
        CHECK_THAT(reject(e.out).message, Contains("counter name is empty"));
    }
    SECTION("duplicate histogram names") {
        doc d;
        d.header().varint(0).varint(1).str("a").str("").varint(0).varint(2);
        for (int i = 0; i < 2; ++i) d.str("h").varint(0).zz(0).zz(4).raw({0, 0, 0, 0, 0});
        CHECK_THAT(reject(d.out).message, Contains("arm #0 'a'@'': histogram 'h': duplicate name"));
    }
    SECTION("counter values beyond 128 bits") {
        doc d;
        d.header().varint(1).str("c");
        for (int i = 0; i < 18; ++i) d.raw({0xff});
        d.raw({0x04}).varint(0);  // bit 128 set
        CHECK_THAT(reject(d.out).message, Contains("counter 'c': value does not fit in 128 bits"));
    }
    SECTION("names printed safely") {
        doc d;
        d.header().varint(2).str("z").varint(1).str("\x01\xff'").varint(1).varint(0);
        CHECK_THAT(reject(d.out).message,
                   Contains("counter '\\x01\\xff\\x27': names are not sorted"));
    }
}
