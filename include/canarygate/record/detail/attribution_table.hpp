// SPDX-License-Identifier: MIT
/// \file
/// The owner's side of an attribution map: a fixed-capacity FIFO of records
/// (oldest first) indexed by an open-addressing hash table with linear
/// probing and backward-shift deletion (no tombstones). Single-threaded.
///
/// Record life: inserted live; at its TTL the expiry sweep marks it dead
/// (counted `expired` if no feedback was attributed to it, `retired` if some
/// was); a dead record stays findable, so late feedback for it reads
/// "expired" rather than "unknown", until its slot is needed. When the FIFO
/// is full the oldest record is dropped: a dead one silently (already
/// counted), a live one counted `evicted`.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/record/detail/attribution_queue.hpp"
#include "canarygate/record/outcome.hpp"

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

/// Which feedback a record has had attributed, one bit per kind: bit k for
/// feedback_kind k, and feedback_untyped for lookups that name no kind (see
/// basic_attribution_map::resolve). A second lookup whose bit is already set
/// is a duplicate.
using feedback_mask = std::uint8_t;
inline constexpr feedback_mask feedback_untyped = feedback_mask{1} << feedback_kind_count;
static_assert(feedback_kind_count <= 4,
              "attribution_record keeps one bit per feedback kind in four bits");

/// The bit of feedback of kind `k`; feedback_untyped for a value outside the enum.
[[nodiscard]] constexpr feedback_mask feedback_bit(feedback_kind k) noexcept {
    const auto i = static_cast<std::size_t>(k);
    return i < feedback_kind_count ? static_cast<feedback_mask>(feedback_mask{1} << i)
                                   : feedback_untyped;
}

/// A stored request: 32 bytes, the size of a ring entry, two per cache line.
///
/// Besides the entry's fields it keeps which feedback was attributed to it
/// (5 bits) and the 20-bit share code, 25 bits where the entry's padding
/// leaves 24. The 25th is bit 0 of the key's low word: the index slot that
/// points at the record keeps the key's low 32 bits (its hash), and every
/// lookup compares that hash before the record, so the record needs only
/// the key's other 127 bits to tell keys apart (same_key), and its home slot
/// is known up to that bit (home_hash). Bit 0 of key_low holds the untyped
/// flag; the kinds and the share's high bits share one byte.
struct attribution_record {
    std::uint64_t key_low;  ///< key.low with bit 0 replaced by the untyped flag
    std::uint64_t key_high;
    std::int64_t response_time_ns;
    std::uint32_t model_version;
    arm_id arm;
    std::uint8_t kinds_and_share_high;  ///< bits 0..3: kinds attributed; 4..7: share bits 16..19
    std::uint16_t share_low;            ///< share bits 0..15

    [[nodiscard]] static constexpr attribution_record make(const attribution_entry& e) noexcept {
        return {e.key.low & ~std::uint64_t{1},
                e.key.high,
                e.response_time_ns,
                e.model_version,
                e.arm,
                static_cast<std::uint8_t>(e.share_high << 4),
                e.share_low};
    }
    /// True when `key` equals the stored key in every bit but bit 0 of
    /// key.low, which the caller compared through the index slot's hash.
    [[nodiscard]] constexpr bool same_key(request_key key) const noexcept {
        return ((key_low ^ key.low) >> 1) == 0 && key_high == key.high;
    }
    /// The index hash (the key's low 32 bits) with bit 0 cleared.
    [[nodiscard]] constexpr std::uint32_t home_hash() const noexcept {
        return static_cast<std::uint32_t>(key_low) & ~std::uint32_t{1};
    }
    [[nodiscard]] constexpr std::uint32_t share_code() const noexcept {
        return ((std::uint32_t{kinds_and_share_high} >> 4) << 16) | share_low;
    }
    /// The feedback attributed so far (bit per kind, feedback_untyped).
    [[nodiscard]] constexpr feedback_mask attributed() const noexcept {
        return static_cast<feedback_mask>((kinds_and_share_high & 0x0FU) |
                                          ((key_low & 1U) != 0 ? feedback_untyped : 0U));
    }
    /// Records feedback of the kinds in `bits` as attributed.
    constexpr void attribute(feedback_mask bits) noexcept {
        kinds_and_share_high = static_cast<std::uint8_t>(kinds_and_share_high | (bits & 0x0FU));
        if ((bits & feedback_untyped) != 0) key_low |= 1U;
    }
};
static_assert(sizeof(attribution_record) == 32);
static_assert(std::is_trivially_copyable_v<attribution_record>);

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
        records_[pos] = attribution_record::make(e);
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
            ++(r.attributed() != 0 ? retired_ : expired_);
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
            // The slot's hash is the key's low 32 bits, bit 0 included; the
            // record holds the other 127 (see attribution_record).
            if (s.hash == hash && records_[s.pos].same_key(key)) return &records_[s.pos];
        }
    }

    void drop_oldest() noexcept {
        const std::size_t pos = first_;
        // The record knows its home slot up to bit 0 (see attribution_record):
        // start at the even candidate, at most one slot before the home, and
        // walk to the slot that points here (the probe run from the home to
        // it has no empty slot, and pos is matched exactly).
        std::size_t hole = records_[pos].home_hash() & index_mask_;
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
