// SPDX-License-Identifier: MIT
/// \file
/// The owner's list of parked feedback (feedback that arrived before its
/// request was remembered; see canarygate/record/attribution.hpp), with an
/// index by (request key, feedback bit), so that the same feedback parked
/// twice (a retried webhook) is recognised in O(1) expected instead of a scan
/// of up to 2^20 entries. Bounded: the entries and the index are allocated by
/// the constructor, nothing allocates afterwards. Single-threaded (the owner).
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/record/detail/attribution_queue.hpp"
#include "canarygate/record/detail/attribution_table.hpp"
#include "canarygate/record/outcome.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace detail {

/// The feedback bit of a parked payload: its kind's bit when it has a member
/// `kind` convertible to feedback_kind (feedback_event does), else
/// feedback_untyped (one piece of feedback per request).
template <class Payload>
[[nodiscard]] constexpr feedback_mask payload_feedback_bit(const Payload& p) noexcept {
    if constexpr (requires {
                      { p.kind } -> std::convertible_to<feedback_kind>;
                  }) {
        return feedback_bit(static_cast<feedback_kind>(p.kind));
    } else {
        (void)p;
        return feedback_untyped;
    }
}

template <class Payload>
class attribution_pending {
public:
    struct entry {
        request_key key;
        std::int64_t arrival_ns;
        Payload payload;
    };

    /// Reserves `capacity` entries and an index of bit_ceil(2 capacity) slots
    /// (load factor <= 1/2; none when capacity is 0). Precondition:
    /// capacity < 2^32.
    explicit attribution_pending(std::size_t capacity)
        : index_(capacity == 0 ? 0 : std::bit_ceil(2 * capacity), index_slot{}),
          index_mask_(index_.empty() ? 0 : index_.size() - 1),
          capacity_(capacity) {
        entries_.reserve(capacity);
    }

    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] bool full() const noexcept { return entries_.size() == capacity_; }
    [[nodiscard]] const entry& operator[](std::size_t i) const noexcept { return entries_[i]; }

    /// True when feedback with this key and bit is parked. O(1) expected.
    [[nodiscard]] bool contains(request_key key, feedback_mask bit) const noexcept {
        if (index_.empty()) return false;
        const std::uint32_t hash = hash_of(key);
        for (std::size_t i = hash & index_mask_;; i = (i + 1) & index_mask_) {
            const index_slot s = index_[i];
            if (s.pos == empty_pos) return false;
            if (s.hash == hash && entries_[s.pos].key == key &&
                payload_feedback_bit(entries_[s.pos].payload) == bit) {
                return true;
            }
        }
    }

    /// Parks `e`. Precondition: !full(). O(1) expected; never allocates
    /// (the capacity is reserved).
    void push(const entry& e) noexcept {
        const std::size_t pos = entries_.size();
        entries_.push_back(e);
        const std::uint32_t hash = hash_of(e.key);
        std::size_t i = hash & index_mask_;
        while (index_[i].pos != empty_pos) i = (i + 1) & index_mask_;
        index_[i] = {static_cast<std::uint32_t>(pos), hash};
    }

    /// Removes entry `i`; the last entry takes its place (so a loop that
    /// erases at i must look at i again). O(1) expected.
    void erase(std::size_t i) noexcept {
        remove_slot(slot_of(i));
        const std::size_t last = entries_.size() - 1;
        if (i != last) {
            index_[slot_of(last)].pos = static_cast<std::uint32_t>(i);
            entries_[i] = entries_[last];
        }
        entries_.pop_back();
    }

    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return entries_.capacity() * sizeof(entry) + index_.size() * sizeof(index_slot);
    }

private:
    static constexpr std::uint32_t empty_pos = std::numeric_limits<std::uint32_t>::max();

    struct index_slot {
        std::uint32_t pos = empty_pos;
        std::uint32_t hash = 0;
    };

    // The key is a keyed hash of the id: any 32 bits of it are uniform. The
    // kinds of one request share a home slot (at most five of them).
    static constexpr std::uint32_t hash_of(request_key key) noexcept {
        return static_cast<std::uint32_t>(key.low);
    }

    // The index slot that points at entry `pos` (it exists).
    [[nodiscard]] std::size_t slot_of(std::size_t pos) const noexcept {
        std::size_t i = hash_of(entries_[pos].key) & index_mask_;
        while (index_[i].pos != pos) i = (i + 1) & index_mask_;
        return i;
    }

    // Backward-shift deletion, as in attribution_table::drop_oldest: pull
    // later members of the probe run into the hole unless their home lies
    // cyclically in (hole, j].
    void remove_slot(std::size_t hole) noexcept {
        for (std::size_t j = (hole + 1) & index_mask_; index_[j].pos != empty_pos;
             j = (j + 1) & index_mask_) {
            const std::size_t home = index_[j].hash & index_mask_;
            if (((j - home) & index_mask_) >= ((j - hole) & index_mask_)) {
                index_[hole] = index_[j];
                hole = j;
            }
        }
        index_[hole] = index_slot{};
    }

    std::vector<entry> entries_;
    std::vector<index_slot> index_;
    std::size_t index_mask_;
    std::size_t capacity_;
};

}  // namespace detail
CANARYGATE_NAMESPACE_END
