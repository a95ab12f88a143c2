// SPDX-License-Identifier: MIT
// The bucket index must be exact: every value lands in the bucket (b^i, b^(i+1)]
// that real arithmetic puts it in. Checked around every edge of the default
// latency layout against thresholds computed with 80-digit decimals
// (tools/gen_bucket_tables.py), and on random inputs at every scale against a
// long double log2 reference wherever that reference is unambiguous.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>

#include "canarygate/core/detail/bucket_index.hpp"
#include "canarygate/core/histogram.hpp"
#include "generated/bucket_boundaries.hpp"

using canarygate::detail::bucket_index;
using canarygate::detail::bucket_index_normal;

namespace {

// Index by the definition, in long double: the i with b^i < v <= b^(i+1),
// i.e. ceil(log2(v) * 2^s) - 1. Returns false when log2(v) * 2^s is too close
// to an integer for long double to decide.
bool reference_index(long double v, int scale, std::int64_t& out) {
    const long double t = std::log2(v) * std::ldexp(1.0L, scale);
    const long double nearest = std::round(t);
    const long double tolerance =
        64 * std::numeric_limits<long double>::epsilon() * std::max(1.0L, std::fabs(t));
    if (std::fabs(t - nearest) < tolerance) {
        // Only an exact power of two can sit on an edge; decide it exactly.
        int e = 0;
        if (std::frexp(v, &e) == 0.5L && scale >= 0) {
            out = static_cast<std::int64_t>(e - 1) * (std::int64_t{1} << scale) - 1;
            return true;
        }
        return false;
    }
    out = static_cast<std::int64_t>(std::ceil(t)) - 1;
    return true;
}

}  // namespace

TEST_CASE("every integer edge of the default latency layout", "[index]") {
    constexpr int scale = 5;
    std::size_t checked = 0;
    for (const auto& edge : canarygate_test::integer_edges) {
        const std::uint64_t t = edge.floor_value;  // largest integer <= b^i
        CAPTURE(edge.index, t);
        // t and a few below are <= b^i: bucket i-1. t+1 and above: bucket i.
        for (std::uint64_t d = 0; d < 4; ++d) {
            CHECK(bucket_index(t - d, scale) == edge.index - 1);
            CHECK(bucket_index(t + 1 + d, scale) == edge.index);
        }
        ++checked;
    }
    CHECK(checked == 25 * 32 + 1);
}

TEST_CASE("double edges of a seconds layout", "[index]") {
    constexpr int scale = 5;
    for (const auto& edge : canarygate_test::double_edges) {
        // Largest double <= b^i, built exactly from its parts.
        const double below =
            std::ldexp(1.0 + std::ldexp(static_cast<double>(edge.mantissa), -52), edge.exponent);
        const double above = std::nextafter(below, 2 * below);
        CAPTURE(edge.index, below);
        CHECK(bucket_index_normal(below, scale) == edge.index - 1);
        CHECK(bucket_index_normal(above, scale) == edge.index);
        CHECK(bucket_index_normal(std::nextafter(below, 0.0), scale) == edge.index - 1);
    }
}

TEST_CASE("integer edges at every scale against long double", "[index]") {
    std::size_t edges = 0;
    std::size_t decided = 0;
    for (int scale = 0; scale <= canarygate::histogram_layout::max_scale; ++scale) {
        const std::int64_t per_octave = std::int64_t{1} << scale;
        // Up to 2^50 the long double edge is accurate to far below one unit.
        for (std::int64_t i = per_octave; i <= 50 * per_octave; ++i) {
            const long double edge = std::exp2(static_cast<long double>(i) / per_octave);
            const long double t = std::floor(edge);
            const long double frac = edge - t;
            if (i % per_octave != 0 && (frac < 1e-3L || frac > 1 - 1e-3L)) continue;
            const auto v = static_cast<std::uint64_t>(t);
            CAPTURE(scale, i, v);
            if (bucket_index(v, scale) != i - 1) {
                // Narrow buckets below ~2^scale hold no integer at all: v may
                // then belong to an earlier bucket; check it against the definition.
                std::int64_t expected = 0;
                REQUIRE(reference_index(static_cast<long double>(v), scale, expected));
                CHECK(bucket_index(v, scale) == expected);
            }
            std::int64_t expected_above = 0;
            // v + 1 can sit closer to the edge than long double resolves.
            if (reference_index(static_cast<long double>(v + 1), scale, expected_above)) {
                CHECK(bucket_index(v + 1, scale) == expected_above);
                ++decided;
            }
            ++edges;
        }
    }
    CHECK(decided > edges * 99 / 100);
}

TEST_CASE("random integers and doubles against long double log2", "[index]") {
    std::mt19937_64 rng(20261124);
    std::size_t compared = 0;
    for (int scale = 0; scale <= canarygate::histogram_layout::max_scale; ++scale) {
        for (int k = 0; k < 40000; ++k) {
            // Uniform bit length, then uniform bits: covers every octave.
            const int bits = 1 + static_cast<int>(rng() % 64);
            std::uint64_t v = rng() >> (64 - bits);
            v |= std::uint64_t{1} << (bits - 1);
            std::int64_t expected = 0;
            if (reference_index(static_cast<long double>(v), scale, expected)) {
                REQUIRE(bucket_index(v, scale) == expected);
                ++compared;
            }
            // A double in [2^-60, 2^60), including non-integers.
            const double x = std::ldexp(1.0 + std::ldexp(static_cast<double>(rng() >> 12), -52),
                                        static_cast<int>(rng() % 121) - 60);
            if (reference_index(static_cast<long double>(x), scale, expected)) {
                REQUIRE(bucket_index_normal(x, scale) == expected);
                ++compared;
            }
        }
    }
    CHECK(compared > 9 * 2 * 40000 * 99 / 100);
}

TEST_CASE("powers of two are upper edges at every scale", "[index]") {
    for (int scale = 0; scale <= canarygate::histogram_layout::max_scale; ++scale) {
        for (int e = 0; e < 64; ++e) {
            const std::uint64_t v = std::uint64_t{1} << e;
            CAPTURE(scale, e);
            CHECK(bucket_index(v, scale) == e * (std::int64_t{1} << scale) - 1);
            // v + 1 is in the first bucket of the next octave, or further up
            // when buckets are narrower than one unit (small v, fine scale).
            std::int64_t above = 0;
            if (e > 0 && reference_index(static_cast<long double>(v + 1), scale, above)) {
                CHECK(above >= e * (std::int64_t{1} << scale));
                CHECK(bucket_index(v + 1, scale) == above);
            }
            CHECK(bucket_index_normal(std::ldexp(1.0, e - 30), scale) ==
                  (e - 30) * (std::int64_t{1} << scale) - 1);
        }
        CHECK(bucket_index(~std::uint64_t{0}, scale) == 64 * (std::int64_t{1} << scale) - 1);
    }
}

TEST_CASE("integer and double paths agree", "[index]") {
    std::mt19937_64 rng(7);
    for (int k = 0; k < 200000; ++k) {
        const std::uint64_t v = 1 + (rng() >> (rng() % 11));  // < 2^53: exact as double
        const std::uint64_t small = v >> 11;
        if (small == 0) continue;
        const int scale = static_cast<int>(k % 9);
        REQUIRE(bucket_index(small, scale) ==
                bucket_index_normal(static_cast<double>(small), scale));
    }
}
