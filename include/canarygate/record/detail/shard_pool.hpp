// SPDX-License-Identifier: MIT
/// \file
/// The recorder's pool of per-thread shards: cache-line aligned blocks of
/// cumulative u64 counters, each written by one thread at a time, plus one
/// shared overflow shard for when the pool runs out.
///
/// Shard life cycle (the state word of each shard, on its own cache line):
///
/// ```
///            claim: CAS (5)                    release: store (1)
///   free ──────────────────────► owned ─────────────────────────► orphaned
///    ▲                             ▲                                 │ │
///    │                             └──── adopt: CAS (4) ─────────────┘ │
///    │  fold done: store (3)                                           │
///    └──────────────────────── folding ◄──── collector: CAS (2) ───────┘
/// ```
///
/// Memory-order tags (numbers used in every comment that names them):
///  (1) release  writer gives the shard up: publishes all its counter stores.
///               Pairs with (2) and (4).
///  (2) acquire  the collector takes an orphan to fold it: after (1), so it
///               reads the final counter values. Pairs with (1).
///  (3) release  the collector frees a folded shard: publishes the zeroed
///               counters. Pairs with (5).
///  (4) acquire  a writer adopts an orphan and continues its cumulative
///               counters: must read the previous owner's final values.
///               Pairs with (1).
///  (5) acquire  a writer claims a free shard: must read the zeros the
///               collector stored, not older values. Pairs with (3).
/// Everything else is relaxed, and says why at the use.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "canarygate/core/config.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace detail {

/// One counter. Single-writer updates are a relaxed load and a relaxed store
/// (mov/add/mov on x86-64: no lock prefix, no fence).
using counter_cell = std::atomic<std::uint64_t>;
static_assert(counter_cell::is_always_lock_free, "u64 atomics must be lock-free");
static_assert(sizeof(counter_cell) == sizeof(std::uint64_t), "a counter is 8 bytes");
static_assert(cache_line_size % sizeof(counter_cell) == 0);

/// Counters per cache line.
inline constexpr std::size_t cells_per_line = cache_line_size / sizeof(counter_cell);

[[nodiscard]] constexpr std::size_t round_up_to_line(std::size_t cells) noexcept {
    return (cells + cells_per_line - 1) / cells_per_line * cells_per_line;
}

/// Recorder-wide counters at the start of every shard (one cache line).
inline constexpr std::size_t global_unknown_arm = 0;       ///< records/feedback for unknown arm ids
inline constexpr std::size_t global_overflow_records = 1;  ///< written through the overflow shard
inline constexpr std::size_t global_overflow_writers = 2;  ///< writers that got the overflow shard
inline constexpr std::size_t global_count = 3;
inline constexpr std::size_t global_stride = round_up_to_line(global_count);

enum class shard_state : std::uint32_t { free = 0, owned = 1, orphaned = 2, folding = 3 };

/// A shard's state word, alone on its cache line: the collector's loads and
/// CASes never share a line with a writer's counters.
struct alignas(cache_line_size) shard_control {
    std::atomic<shard_state> state{shard_state::free};
};
static_assert(sizeof(shard_control) == cache_line_size);
static_assert(alignof(shard_control) == cache_line_size);
static_assert(std::atomic<shard_state>::is_always_lock_free);

/// Writes one arm's counters of one shard. `Shared` is the overflow shard,
/// written by many threads with fetch_add; otherwise the calling thread owns
/// the shard and is the only writer of every counter. Wait-free.
template <bool Shared>
class shard_sink {
public:
    CANARYGATE_ALWAYS_INLINE constexpr shard_sink(counter_cell* scalars,
                                                  counter_cell* arrays) noexcept
        : scalars_(scalars), arrays_(arrays) {}

    /// Adds d to scalar counter i.
    CANARYGATE_ALWAYS_INLINE void add(std::size_t i, std::uint64_t d) const noexcept {
        bump(scalars_[i], d);
    }
    /// Adds d to array counter i.
    CANARYGATE_ALWAYS_INLINE void add_array(std::size_t i, std::uint64_t d) const noexcept {
        bump(arrays_[i], d);
    }
    /// The same sink shifted to one metric's counters.
    [[nodiscard]] CANARYGATE_ALWAYS_INLINE constexpr shard_sink offset(
        std::size_t scalar_offset, std::size_t array_offset) const noexcept {
        return {scalars_ + scalar_offset, arrays_ + array_offset};
    }

    CANARYGATE_ALWAYS_INLINE static void bump(counter_cell& c, std::uint64_t d) noexcept {
        if constexpr (Shared) {
            // relaxed: a pure count. Nothing is published through it; the
            // collector's reads need no order between counters (a record
            // half-read at one tick is complete at the next), and the RMW
            // alone makes concurrent adds exact.
            c.fetch_add(d, std::memory_order_relaxed);
        } else {
            // relaxed: this thread is the counter's only writer, so the load
            // returns its own last store (or the final value of the previous
            // owner, ordered by (4)/(5) at claim time), and no other thread
            // ever writes it concurrently. The collector's concurrent relaxed
            // reads see some recent value; deltas are exact whichever.
            c.store(c.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
        }
    }

private:
    counter_cell* scalars_;
    counter_cell* arrays_;
};

/// Cache-line aligned array of zeroed counters, allocated once.
class counter_storage {
public:
    explicit counter_storage(std::size_t cells) : cells_(cells) {
        void* raw =
            ::operator new (cells * sizeof(counter_cell), std::align_val_t{cache_line_size});
        data_ = static_cast<counter_cell*>(raw);
        for (std::size_t i = 0; i < cells; ++i)
            ::new (static_cast<void*>(data_ + i)) counter_cell(0);
    }
    counter_storage(const counter_storage&) = delete;
    counter_storage& operator=(const counter_storage&) = delete;
    ~counter_storage() {
        // std::atomic<u64> is trivially destructible: no destructor calls.
        ::operator delete (static_cast<void*>(data_), std::align_val_t{cache_line_size});
    }
    [[nodiscard]] counter_cell* data() const noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return cells_; }

private:
    counter_cell* data_ = nullptr;
    std::size_t cells_ = 0;
};
static_assert(std::is_trivially_destructible_v<counter_cell>);

/// The shards of one recorder, shared (std::shared_ptr) by the recorder, its
/// writers and the thread-local caches that hold a shard, so a writer or a
/// thread that outlives the recorder releases into live memory.
class shard_pool {
public:
    /// `max_shards` owned shards plus the overflow shard, each `shard_cells`
    /// counters (a multiple of a cache line). Throws std::bad_alloc.
    shard_pool(std::size_t max_shards, std::size_t shard_cells)
        : max_shards_(max_shards),
          shard_cells_(shard_cells),
          storage_((max_shards + 1) * shard_cells),
          controls_(std::make_unique<shard_control[]>(max_shards)),
          retired_base_(shard_cells, 0) {}

    [[nodiscard]] std::size_t max_shards() const noexcept { return max_shards_; }
    /// Index of the overflow shard (== max_shards()).
    [[nodiscard]] std::size_t overflow_index() const noexcept { return max_shards_; }
    [[nodiscard]] std::size_t shard_cells() const noexcept { return shard_cells_; }
    /// First counter of shard i (0 <= i <= max_shards(); the last is overflow).
    [[nodiscard]] counter_cell* shard(std::size_t i) const noexcept {
        return storage_.data() + i * shard_cells_;
    }
    /// State word of owned shard i (< max_shards()).
    [[nodiscard]] std::atomic<shard_state>& state(std::size_t i) const noexcept {
        return controls_[i].state;
    }

    /// Takes a shard for the calling thread: an orphan not yet folded (its
    /// counts continue: the collector's deltas do not care who writes), else
    /// a free one (zeroed), else the overflow shard (counted in
    /// global_overflow_writers). Orphans first keeps the set of live shards,
    /// and so the collector's tick, small when threads come and go. Wait-free:
    /// at most 2 * max_shards() loads and CASes, none retried.
    [[nodiscard]] std::size_t claim() noexcept {
        for (const shard_state from : {shard_state::orphaned, shard_state::free}) {
            for (std::size_t i = 0; i < max_shards_; ++i) {
                std::atomic<shard_state>& s = controls_[i].state;
                // relaxed: only a filter that spares a CAS on busy shards; the
                // CAS below re-checks the state and carries the ordering.
                if (s.load(std::memory_order_relaxed) != from) continue;
                shard_state expected = from;
                // (5) acquire for a free shard: pairs with (3), so this thread
                // reads the collector's zeros. (4) acquire for an orphan:
                // pairs with (1), so this thread continues from the previous
                // owner's final values. Failure: relaxed, nothing was read.
                if (s.compare_exchange_strong(expected, shard_state::owned,
                                              std::memory_order_acquire,
                                              std::memory_order_relaxed)) {
                    return i;
                }
            }
        }
        shard_sink<true>::bump(shard(max_shards_)[global_overflow_writers], 1);
        return max_shards_;
    }

    /// Gives shard i back: the collector folds its final counts into the
    /// retired base at its next tick (or another writer adopts it first).
    /// No-op for the overflow shard. Wait-free.
    void release(std::size_t i) noexcept {
        if (i >= max_shards_) return;
        // (1) release: publishes every counter store this thread made, for
        // the collector's fold (2) or the next owner's adoption (4).
        controls_[i].state.store(shard_state::orphaned, std::memory_order_release);
    }

    /// Shards currently owned or orphaned (a racy diagnostic). Wait-free.
    [[nodiscard]] std::size_t shards_in_use() const noexcept {
        std::size_t n = 0;
        for (std::size_t i = 0; i < max_shards_; ++i) {
            // relaxed: a statistic; nothing is read through it.
            n += static_cast<std::size_t>(controls_[i].state.load(std::memory_order_relaxed) !=
                                          shard_state::free);
        }
        return n;
    }

    /// Registered arms; the hot path rejects ids at or above it.
    std::atomic<std::uint32_t> arm_count{0};

    /// Counts of folded shards, per shard cell, modulo 2^64. Only the attached
    /// collector touches it (see basic_recorder's collector attachment).
    [[nodiscard]] std::vector<std::uint64_t>& retired_base() noexcept { return retired_base_; }

private:
    std::size_t max_shards_;
    std::size_t shard_cells_;
    counter_storage storage_;
    std::unique_ptr<shard_control[]> controls_;
    std::vector<std::uint64_t> retired_base_;
};

}  // namespace detail
CANARYGATE_NAMESPACE_END
