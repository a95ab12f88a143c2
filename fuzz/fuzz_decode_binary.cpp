// SPDX-License-Identifier: MIT
// libFuzzer target: canarygate::decode on arbitrary bytes, format versions 1
// and 2.
//
// Anything may be rejected with decode_error (whose offset must lie inside
// the input); whatever decodes must be a valid snapshot whose canonical
// encoding is exactly the input (for version 1 input: the encoding's version
// 1 form, version byte 1 and no CRC-32C trailer), and that re-encoding must
// decode to the same snapshot. The histogram queries run on every decoded
// histogram, so the fuzzer also checks that they accept anything decode
// accepts. Any other exception, a sanitizer report or an abort is a crash.
//
// Each input is decoded as it is, and then, if it claims version 1 or 2, its
// body (the input without the trailer for version 2) is decoded twice more:
// as version 1, and as version 2 with the CRC-32C recomputed. Why:
//  - The checksum is checked before the parser runs, and a mutation of a
//    version 2 input passes it once in 2^32: without the fix-up, mutations
//    of version 2 inputs would explore the CRC comparison and never the
//    parser behind it. (Version 1 inputs, and mutations that turn the
//    version byte into 1, still reach the parser, but only through version
//    1's end of input; the fix-up runs the version 2 path itself, where the
//    parser stops before the trailer.)
//  - Both versions share one parser, so they must agree exactly on every
//    body: both reject it with the same message at the same offset, or both
//    decode the same snapshot. A version-dependent slip (an end-of-input or
//    trailing-byte check that counts the trailer) shows up as a difference.
// The price: two parses per input instead of one (about a third of the
// executions per second of decoding the input alone).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "canarygate/window/codec.hpp"
#include "canarygate/window/detail/crc32c.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_decode_binary: %s\n", what);
    std::abort();
}

// Smaller than the defaults (2^21 buckets, 2^16 series) so each input runs
// fast; the limit checks themselves are exercised the same way.
constexpr canarygate::decode_limits limits = [] {
    canarygate::decode_limits l;
    l.max_total_buckets = std::size_t{1} << 16;
    l.max_series = std::size_t{1} << 12;
    return l;
}();

constexpr std::size_t version_byte = 4;
constexpr std::size_t crc_bytes = 4;
// Magic, version, flags: a version 2 input must also hold its trailer.
constexpr std::size_t header_bytes = 6;

struct outcome {
    std::optional<canarygate::snapshot> snapshot;  // empty: rejected
    std::string error;
    std::size_t offset = 0;
};

// Decodes `input`, checks what any input must satisfy, returns the outcome.
outcome check(std::span<const std::uint8_t> input) {
    outcome result;
    try {
        result.snapshot = canarygate::decode(input, limits);
    } catch (const canarygate::decode_error& e) {
        if (e.offset() > input.size()) fail("decode_error offset past the end of the input");
        result.error = e.what();
        result.offset = e.offset();
        return result;
    }
    const canarygate::snapshot& s = *result.snapshot;
    std::vector<std::uint8_t> again = canarygate::encode(s);
    if (again.size() < header_bytes + crc_bytes ||
        again[version_byte] != canarygate::snapshot_format_version) {
        fail("encode wrote something other than the current format version");
    }
    if (input[version_byte] == 1) {  // accepted, so the header is there
        again[version_byte] = 1;
        again.resize(again.size() - crc_bytes);
    }
    if (!std::equal(again.begin(), again.end(), input.begin(), input.end())) {
        fail("decode accepted a non-canonical encoding (encode(decode(b)) != b)");
    }
    if (!(canarygate::decode(again, limits) == s)) fail("decode(encode(s)) != s");
    for (const auto& arm : s.arms()) {
        for (const auto& [name, h] : arm.histograms()) {
            if (h.count() < h.zero_count()) fail("count() below zero_count()");
            for (const double q : {0.0, 0.5, 0.99, 1.0}) (void)h.quantile(q);
            (void)h.rank(1000.0);
            (void)h.max_bound();
            (void)h.min_bound();
        }
    }
    return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);
    const outcome as_is = check(input);

    if (size <= version_byte) return 0;
    const std::uint8_t version = input[version_byte];
    if (version != 1 && version != 2) return 0;
    if (version == 2 && size < header_bytes + crc_bytes) return 0;
    const std::span<const std::uint8_t> body = input.first(size - (version == 2 ? crc_bytes : 0));
    // Shorter bodies are rejected with different messages by design (no
    // room for the flags; no room for a trailer after them).
    if (body.size() < header_bytes) return 0;

    std::vector<std::uint8_t> as_version_1(body.begin(), body.end());
    as_version_1[version_byte] = 1;
    std::vector<std::uint8_t> as_version_2(body.begin(), body.end());
    as_version_2[version_byte] = 2;
    std::uint32_t crc = canarygate::detail::crc32c(as_version_2);
    for (std::size_t i = 0; i < crc_bytes; ++i, crc >>= 8)
        as_version_2.push_back(static_cast<std::uint8_t>(crc));

    // The input itself is one of the two when its CRC (version 2) matched
    // or it is version 1: no need to decode it again.
    const bool input_is_v2_form =
        version == 2 &&
        std::equal(as_version_2.begin(), as_version_2.end(), input.begin(), input.end());
    const outcome v1 = version == 1 ? as_is : check(as_version_1);
    const outcome v2 = input_is_v2_form ? as_is : check(as_version_2);
    if (v1.snapshot.has_value() != v2.snapshot.has_value()) {
        fail("versions 1 and 2 disagree on whether the same body is valid");
    }
    if (v1.snapshot ? !(*v1.snapshot == *v2.snapshot)
                    : v1.error != v2.error || v1.offset != v2.offset) {
        fail("versions 1 and 2 decode the same body differently");
    }
    if (version == 2 && !input_is_v2_form && as_is.snapshot) {
        fail("a version 2 input with a wrong CRC-32C was accepted");
    }
    return 0;
}
