// SPDX-License-Identifier: MIT
/// \file
/// Exact base-2 exponential bucket index without `log`: bit extraction, one
/// table lookup and one correction. Shared by the histogram value type and the
/// recorder's hot path, so both put every value in the same bucket.
#pragma once

#include <bit>
#include <cstdint>

#include "canarygate/core/config.hpp"
#include "canarygate/core/detail/bucket_tables.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace detail {

/// Index i of the bucket (b^i, b^(i+1)], b = 2^(2^-scale), that holds the
/// positive value (1 + fraction / 2^64) * 2^exponent.
///
/// Sub-bucket j of the octave satisfies bound[j] < fraction <= bound[j+1] in
/// exact Q0.64 arithmetic (no boundary but the octave's own power of two is a
/// dyadic rational, so "<" and "<=" only differ there). The table has twice
/// as many cells as sub-buckets, so a cell holds at most one boundary and one
/// comparison corrects the looked-up guess. A power of two (fraction 0) is the
/// inclusive upper edge of the last bucket of the previous octave.
///
/// Precondition: 0 <= scale <= max_table_scale. Wait-free, branch-free;
/// forced inline so that a constant scale folds into the table addresses.
[[nodiscard]] CANARYGATE_ALWAYS_INLINE constexpr std::int64_t bucket_index_from_parts(
    std::int64_t exponent, std::uint64_t fraction, int scale) noexcept {
    const std::uint64_t* bound = bound_table + bound_offset[scale];
    const std::uint16_t* lut = lut_table + lut_offset[scale];
    std::uint64_t sub = lut[fraction >> (63 - scale)];
    sub += static_cast<std::uint64_t>(fraction > bound[sub + 1]);
    return exponent * (std::int64_t{1} << scale) + static_cast<std::int64_t>(sub) -
           static_cast<std::int64_t>(fraction == 0);
}

/// Bucket index of an integer value. Precondition: value > 0.
[[nodiscard]] CANARYGATE_ALWAYS_INLINE constexpr std::int64_t bucket_index(std::uint64_t value,
                                                                           int scale) noexcept {
    const int leading = std::countl_zero(value);
    // Two shifts: a single shift by leading + 1 would be by 64 when value == 1.
    const std::uint64_t fraction = (value << leading) << 1;
    return bucket_index_from_parts(63 - leading, fraction, scale);
}

/// Bucket index of a positive, finite, normal double (exponent field 1..2046).
[[nodiscard]] CANARYGATE_ALWAYS_INLINE constexpr std::int64_t bucket_index_normal(
    double value, int scale) noexcept {
    const auto bits = std::bit_cast<std::uint64_t>(value);
    const auto biased = static_cast<std::int64_t>((bits >> 52) & 0x7ffU);
    return bucket_index_from_parts(biased - 1023, bits << 12, scale);
}

}  // namespace detail
CANARYGATE_NAMESPACE_END
