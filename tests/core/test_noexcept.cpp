// SPDX-License-Identifier: MIT
// Locks down which operations are noexcept (the hot path) and which may throw
// (configuration errors, queries with invalid arguments). Compile-time only.
#include <catch2/catch.hpp>

#include <cstdint>
#include <type_traits>
#include <utility>

#include "canarygate/canarygate.hpp"

namespace {
using canarygate::exp_histogram;
using canarygate::histogram_layout;

// Unevaluated operands only: nothing here runs.
#define H std::declval<exp_histogram&>()

static_assert(noexcept(H.record(std::uint64_t{1})));
static_assert(noexcept(H.record(std::uint64_t{1}, std::uint64_t{2})));
static_assert(noexcept(H.record(1.0)));
static_assert(noexcept(H.add_to_bucket(std::int64_t{0}, std::uint64_t{1})));
static_assert(noexcept(H.count()));
static_assert(noexcept(H.buckets()));
static_assert(noexcept(H.clear()));
static_assert(std::is_nothrow_move_constructible_v<exp_histogram>);
static_assert(std::is_nothrow_move_assignable_v<exp_histogram>);
static_assert(std::is_copy_constructible_v<exp_histogram>);
static_assert(std::is_nothrow_copy_constructible_v<histogram_layout>);
static_assert(std::is_trivially_copyable_v<histogram_layout>);

// Invalid arguments throw: these must not be noexcept.
static_assert(!noexcept(H.quantile(0.5)));
static_assert(!noexcept(H.merge(H)));
static_assert(!noexcept(H.subtract(H)));
static_assert(!noexcept(H.downscale(1)));
static_assert(!noexcept(histogram_layout(5, 0, 1)));

// The quantile and rank results are plain aggregates.
static_assert(std::is_trivially_copyable_v<canarygate::quantile_estimate>);
static_assert(std::is_trivially_copyable_v<canarygate::rank_bounds>);
#undef H
}  // namespace

TEST_CASE("noexcept contract is checked at compile time", "[noexcept]") {
    SUCCEED("the static_asserts above compiled");
}
