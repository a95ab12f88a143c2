// SPDX-License-Identifier: MIT
/// \file
/// The owner's side of an attribution map: a fixed-capacity FIFO of records
/// (oldest first) indexed by an open-addressing hash table with linear
/// probing and backward-shift deletion (no tombstones). Single-threaded.
///
/// Record life: inserted live; at its TTL the expiry sweep marks it dead
/// (counted `expired` if it was never resolved, `retired` if it was); a dead
/// record stays findable, so late feedback for it reads "expired" rather than
/// "unknown", until its slot is needed. When the FIFO is full the oldest
/// record is dropped: a dead one silently (already counted), a live one
/// counted `evicted`.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/record/detail/attribution_queue.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace detail {

/// True when a response at `time_ns` is at least `ttl_ns` old at `now_ns`.
/// Exact for every pair of int64 timestamps (no signed overflow); a response
/// time after `now_ns` (clock skew between threads) is not expired.
[[nodiscard]] constexpr bool attribution_expired(std::int64_t time_ns, std::int64_t now_ns,
                                                 std::int64_t ttl_ns) noexcept {
    // now >= time, so the unsigned difference is the exact elapsed time.
    return now_ns >= time_ns &&
           static_cast<std::uint64_t>(now_ns) - static_cast<std::uint64_t>(time_ns) >=
               static_cast<std::uint64_t>(ttl_ns);
}

struct attribution_record {
    request_key key;
    std::int64_t response_time_ns;
    std::uint32_t model_version;
    arm_id arm;
    bool resolved;  ///< feedback was attributed to it at least once
};
static_assert(sizeof(attribution_record) == 32);

class attribution_table {
public:
    /// Largest capacity: record positions and the empty marker fit in 32 bits.
    static constexpr std::size_t max_capacity = std::size_t{1} << 31;

    /// Allocates `capacity` records and an index of bit_ceil(2 capacity)
    /// slots (load factor <= 1/2). Precondition: 1 <= capacity <= max_capacity.
    attribution_table(std::size_t capacity, std::int64_t ttl_ns)
        : records_(capacity),
          index_(std::bit_ceil(2 * capacity), index_slot{}),
          index_mask_(index_.size() - 1),
          ttl_ns_(ttl_ns) {}

    /// Stores the entry unless its key is already stored (counted
    /// `duplicate`: the first remembered wins; returns false). Makes room by
    /// dropping the oldest record when full. An entry already past its TTL is
    /// stored too, so feedback for it reads "expired"; the next expire() call
    /// that reaches it counts it. O(1) expected.
    bool insert(const attribution_entry& e, std::int64_t now_ns) noexcept {
        const std::uint32_t hash = hash_of(e.key);
        if (find(e.key, hash) != nullptr) {
            ++duplicate_;
            return false;
        }
        if (size_ == records_.size()) {
            expire(now_ns);  // a dead record goes first, uncounted
            drop_oldest();
        }
        const std::size_t pos = wrap(first_ + size_);
        records_[pos] = {e.key, e.response_time_ns, e.model_version, e.arm, false};
        ++size_;
        std::size_t i = hash & index_mask_;
        while (index_[i].pos != empty_pos) i = (i + 1) & index_mask_;
        index_[i] = {static_cast<std::uint32_t>(pos), hash};
        return true;
    }

    /// Marks every record at the front that reached its TTL as dead. Records
    /// arrive in drain order, which is response-time order up to the drain
    /// interval, so one that arrived out of order is marked when it reaches
    /// the front (lookups check the TTL themselves). Amortised O(1).
    void expire(std::int64_t now_ns) noexcept {
        while (dead_ < size_) {
            const attribution_record& r = records_[wrap(first_ + dead_)];
            if (!attribution_expired(r.response_time_ns, now_ns, ttl_ns_)) break;
            ++(r.resolved ? retired_ : expired_);
            ++dead_;
        }
    }

    /// The stored record with this key (live or dead), or nullptr. O(1) expected.
    [[nodiscard]] attribution_record* find(request_key key) noexcept {
        return find(key, hash_of(key));
    }

    [[nodiscard]] bool expired(const attribution_record& r, std::int64_t now_ns) const noexcept {
        return attribution_expired(r.response_time_ns, now_ns, ttl_ns_);
    }

    [[nodiscard]] std::size_t capacity() const noexcept { return records_.size(); }
    /// Records not yet marked dead (a record drained out of time order is
    /// marked when it reaches the front).
    [[nodiscard]] std::uint64_t live() const noexcept { return size_ - dead_; }
    [[nodiscard]] std::uint64_t duplicate() const noexcept { return duplicate_; }
    [[nodiscard]] std::uint64_t evicted() const noexcept { return evicted_; }
    [[nodiscard]] std::uint64_t expired() const noexcept { return expired_; }
    [[nodiscard]] std::uint64_t retired() const noexcept { return retired_; }
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return records_.size() * sizeof(attribution_record) + index_.size() * sizeof(index_slot);
    }

private:
    static constexpr std::uint32_t empty_pos = std::numeric_limits<std::uint32_t>::max();

    // The slot keeps 32 hash bits: its home slot (hash & mask) for deletion
    // without touching the record, and a filter on lookups.
    struct index_slot {
        std::uint32_t pos = empty_pos;
        std::uint32_t hash = 0;
    };

    // The key is already a keyed hash of the id: any 32 bits of it are uniform.
    static constexpr std::uint32_t hash_of(request_key key) noexcept {
        return static_cast<std::uint32_t>(key.low);
    }

    [[nodiscard]] std::size_t wrap(std::size_t pos) const noexcept {
        return pos >= records_.size() ? pos - records_.size() : pos;
    }

    attribution_record* find(request_key key, std::uint32_t hash) noexcept {
        for (std::size_t i = hash & index_mask_;; i = (i + 1) & index_mask_) {
            const index_slot s = index_[i];
            if (s.pos == empty_pos) return nullptr;
            if (s.hash == hash && records_[s.pos].key == key) return &records_[s.pos];
        }
    }

    void drop_oldest() noexcept {
        const std::size_t pos = first_;
        std::size_t hole = hash_of(records_[pos].key) & index_mask_;
        while (index_[hole].pos != pos) hole = (hole + 1) & index_mask_;
        // Backward-shift deletion: pull later members of the probe run into
        // the hole unless their home lies cyclically in (hole, j].
        for (std::size_t j = (hole + 1) & index_mask_; index_[j].pos != empty_pos;
             j = (j + 1) & index_mask_) {
            const std::size_t home = index_[j].hash & index_mask_;
            if (((j - home) & index_mask_) >= ((j - hole) & index_mask_)) {
                index_[hole] = index_[j];
                hole = j;
            }
        }
        index_[hole] = index_slot{};
        first_ = wrap(first_ + 1);
        --size_;
        if (dead_ > 0) {
            --dead_;
        } else {
            ++evicted_;
        }
    }

    std::vector<attribution_record> records_;  // circular FIFO
    std::vector<index_slot> index_;
    std::size_t index_mask_;
    std::int64_t ttl_ns_;
    std::size_t first_ = 0;  // position of the oldest record
    std::size_t size_ = 0;   // records stored, dead ones included
    std::size_t dead_ = 0;   // records [first_, first_ + dead_) are past their TTL
    std::uint64_t duplicate_ = 0;
    std::uint64_t evicted_ = 0;
    std::uint64_t expired_ = 0;
    std::uint64_t retired_ = 0;
};

}  // namespace detail
CANARYGATE_NAMESPACE_END
