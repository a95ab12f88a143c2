// SPDX-License-Identifier: MIT
// The shard layout: cache-line aligned shards, arms and state words, the
// recorder-wide line first, and the scalars a request touches packed in the
// arm's first lines. Mostly compile-time; the alignment of real storage is
// checked at run time.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "canarygate/record/detail/shard_pool.hpp"
#include "canarygate/record/recorder.hpp"

namespace {
namespace cg = canarygate;
using default_recorder = cg::recorder;

static_assert(cg::cache_line_size == 64);
static_assert(cg::detail::cells_per_line == 8);
static_assert(sizeof(cg::detail::counter_cell) == 8);
static_assert(cg::detail::counter_cell::is_always_lock_free);
static_assert(sizeof(cg::detail::shard_control) == cg::cache_line_size);
static_assert(alignof(cg::detail::shard_control) == cg::cache_line_size);
static_assert(cg::detail::global_stride == cg::detail::cells_per_line);
static_assert(cg::detail::global_count <= cg::detail::global_stride);

// Every arm block and every shard starts on a cache line.
static_assert(default_recorder::arm_stride % cg::detail::cells_per_line == 0);
static_assert(default_recorder::shard_cells % cg::detail::cells_per_line == 0);
static_assert(default_recorder::shard_bytes % cg::cache_line_size == 0);
static_assert(default_recorder::arm_stride >=
              default_recorder::arm_scalar_count + default_recorder::arm_array_count);
static_assert(default_recorder::arm_stride < default_recorder::arm_scalar_count +
                                                 default_recorder::arm_array_count +
                                                 cg::detail::cells_per_line);
static_assert(default_recorder::shard_cells ==
              cg::detail::global_stride +
                  cg::recorder_traits::max_arms * default_recorder::arm_stride);
static_assert(default_recorder::pool_bytes ==
              (cg::recorder_traits::max_shards + 1) * default_recorder::shard_bytes);

// Default metric set: 29 metric scalars + 15 reasons; 5 histograms.
static_assert(cg::default_metrics::metric_scalar_count == 29);
static_assert(cg::default_metrics::scalar_count == 44);
static_assert(cg::default_metrics::array_count == 803 + 803 + 323 + 323 + 643);
static_assert(default_recorder::arm_stride == 2944);  // 23,552 bytes per arm
static_assert(default_recorder::shard_bytes == 94'272);
// The scalars a request writes (requests, outcome, the five metrics' sums)
// are cells 0..22 of the arm: three cache lines.
static_assert(cg::default_metrics::scalar_offsets[7] == 23);  // feedback starts after them
static_assert((cg::default_metrics::scalar_offsets[7] + cg::detail::cells_per_line - 1) /
                  cg::detail::cells_per_line ==
              3);
}  // namespace

TEST_CASE("pool storage is cache-line aligned", "[recorder][layout]") {
    cg::detail::shard_pool pool(3, default_recorder::shard_cells);
    for (std::size_t s = 0; s <= pool.max_shards(); ++s) {
        CHECK(reinterpret_cast<std::uintptr_t>(pool.shard(s)) % cg::cache_line_size == 0);
        for (std::size_t a = 0; a < cg::recorder_traits::max_arms; ++a) {
            const auto* arm =
                pool.shard(s) + cg::detail::global_stride + a * default_recorder::arm_stride;
            CHECK(reinterpret_cast<std::uintptr_t>(arm) % cg::cache_line_size == 0);
        }
    }
    for (std::size_t s = 0; s < pool.max_shards(); ++s) {
        CHECK(reinterpret_cast<std::uintptr_t>(&pool.state(s)) % cg::cache_line_size == 0);
    }
    // Counters start at zero.
    for (std::size_t c = 0; c < (pool.max_shards() + 1) * pool.shard_cells(); ++c) {
        REQUIRE(pool.shard(0)[c].load(std::memory_order_relaxed) == 0);
    }
}
