// SPDX-License-Identifier: MIT
// libFuzzer target: canarygate::decode on arbitrary bytes.
//
// Anything may be rejected with decode_error (whose offset must lie inside
// the input); whatever decodes must be a valid snapshot whose canonical
// encoding is exactly the input, and that re-encoding must decode to the
// same snapshot. The histogram queries run on every decoded histogram, so
// the fuzzer also checks that they accept anything decode accepts. Any other
// exception, a sanitizer report or an abort is a crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "canarygate/window/codec.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_decode_binary: %s\n", what);
    std::abort();
}

// Smaller than the default (2^21) so each input runs fast; the limit check
// itself is exercised the same way.
constexpr canarygate::decode_limits limits{std::size_t{1} << 16};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);
    canarygate::snapshot s;
    try {
        s = canarygate::decode(input, limits);
    } catch (const canarygate::decode_error& e) {
        if (e.offset() > size) fail("decode_error offset past the end of the input");
        return 0;
    }
    const std::vector<std::uint8_t> again = canarygate::encode(s);
    if (!std::equal(again.begin(), again.end(), input.begin(), input.end())) {
        fail("decode accepted a non-canonical encoding (encode(decode(b)) != b)");
    }
    if (!(canarygate::decode(again, limits) == s)) fail("decode(encode(s)) != s");
    for (const auto& arm : s.arms()) {
        for (const auto& [name, h] : arm.histograms()) {
            if (h.count() < h.zero_count()) fail("count() below zero_count()");
            for (const double q : {0.0, 0.5, 0.99, 1.0}) (void)h.quantile(q);
            (void)h.rank(1000.0);
            (void)h.min_bound();
            (void)h.max_bound();
        }
    }
    return 0;
}
