// SPDX-License-Identifier: MIT
/// \file
/// The two queues between request threads and the owner of an attribution
/// map: a single-producer single-consumer ring per writer handle (the fast
/// path) and a small multi-producer slot array for writers that found the
/// ring pool exhausted (the slow path). Both are bounded; a full queue drops
/// the entry and the caller counts it. See canarygate/record/attribution.hpp.
///
/// Memory-order tags used in the comments:
///   (C1)..(C2)  claiming and releasing a ring's producer role
///   (R1)..(R5)  the SPSC ring (head published by the writer, tail by the owner)
///   (O1)..(O5)  the overflow slots
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

#include "canarygate/core/config.hpp"
#include "canarygate/record/outcome.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// A request id reduced to 128 bits by a keyed hash (see
/// basic_attribution_map::key_of). Two ids are the same request for the map
/// exactly when their keys are equal.
struct request_key {
    std::uint64_t low = 0;
    std::uint64_t high = 0;
    friend constexpr bool operator==(request_key, request_key) noexcept = default;
};

namespace detail {

/// The candidate share of a request as the map stores it: millionths in
/// [0, 1'000'000], or share_unknown. 20 bits.
inline constexpr std::uint32_t share_unknown = (std::uint32_t{1} << 20) - 1;

/// What a request thread hands to the owner: 32 bytes, two per cache line.
/// The 20-bit share code (share_unknown or millionths) is split over the
/// two bytes after `arm` that were padding: its bits 16..19 in share_high,
/// bits 0..15 in share_low.
struct attribution_entry {
    request_key key;
    std::int64_t response_time_ns;
    std::uint32_t model_version;
    arm_id arm;
    std::uint8_t share_high;
    std::uint16_t share_low;

    [[nodiscard]] static constexpr attribution_entry make(request_key key,
                                                          std::int64_t response_time_ns,
                                                          std::uint32_t model_version, arm_id arm,
                                                          std::uint32_t share_code) noexcept {
        return {key,
                response_time_ns,
                model_version,
                arm,
                static_cast<std::uint8_t>(share_code >> 16),
                static_cast<std::uint16_t>(share_code & 0xFFFFU)};
    }
    [[nodiscard]] constexpr std::uint32_t share_code() const noexcept {
        return (std::uint32_t{share_high} << 16) | share_low;
    }

    /// Copies `e` into this slot with one scalar store per field. GCC 12 at
    /// -O2 turns a plain copy of the two key words (held in registers) into
    /// two 8-byte stores to the stack and a 16-byte reload, which defeats
    /// store forwarding and made a push cost 13 ns instead of 2 (measured by
    /// bench_attribution). Relaxed atomic stores are never merged that way;
    /// they need no order of their own: the release in (R3) / (O3) publishes
    /// the slot, and the consumer reads it only after the matching acquire.
    void assign(const attribution_entry& e) noexcept {
        std::atomic_ref<std::uint64_t>(key.low).store(e.key.low, std::memory_order_relaxed);
        std::atomic_ref<std::uint64_t>(key.high).store(e.key.high, std::memory_order_relaxed);
        response_time_ns = e.response_time_ns;
        model_version = e.model_version;
        arm = e.arm;
        share_high = e.share_high;
        share_low = e.share_low;
    }
};
static_assert(sizeof(attribution_entry) == 32);
static_assert(std::is_trivially_copyable_v<attribution_entry>);
static_assert(alignof(request_key) >= std::atomic_ref<std::uint64_t>::required_alignment);

/// An array of T aligned to the cache line, allocated once.
template <class T>
class cache_aligned_array {
public:
    cache_aligned_array() = default;
    explicit cache_aligned_array(std::size_t n)
        : data_(static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{cache_line_size}))),
          size_(n) {
        for (std::size_t i = 0; i < n; ++i) ::new (static_cast<void*>(data_ + i)) T();
    }
    cache_aligned_array(const cache_aligned_array&) = delete;
    cache_aligned_array& operator=(const cache_aligned_array&) = delete;
    ~cache_aligned_array() {
        for (std::size_t i = 0; i < size_; ++i) data_[i].~T();
        ::operator delete (data_, std::align_val_t{cache_line_size});
    }
    [[nodiscard]] T& operator[](std::size_t i) noexcept { return data_[i]; }
    [[nodiscard]] const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    [[nodiscard]] T* data() noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
};

/// Bounded single-producer single-consumer ring of attribution entries, after
/// rigtorp::SPSCQueue: the producer keeps a cached copy of the consumer's
/// index and reads the shared one only when the ring looks full, so a push
/// touches no line the consumer writes. Indices count pushes and pops since
/// construction (64-bit, never wrap in practice); slot = index & mask.
///
/// Producer: whichever thread holds the claim (one at a time; the claim
/// hand-over orders successive producers, see try_claim / release).
/// Consumer: the map's owner.
class attribution_ring {
public:
    attribution_ring() = default;
    attribution_ring(const attribution_ring&) = delete;
    attribution_ring& operator=(const attribution_ring&) = delete;

    /// Called once by the map's constructor, before any thread can see the ring.
    void attach(attribution_entry* entries, std::size_t capacity) noexcept {
        producer_.entries = entries;
        producer_.mask = capacity - 1;
    }

    /// Takes the producer role. Wait-free (one CAS, no retry).
    [[nodiscard]] bool try_claim() noexcept {
        bool expected = false;
        // The relaxed load only skips a CAS on a ring that is visibly taken;
        // a stale answer costs a failed CAS or a skipped ring, never safety.
        // (C1) acquire on success: pairs with the release in (C2) of the
        // previous holder, so its plain write of cached_tail and its stores to
        // head and dropped happen before this holder's reads of them.
        // Relaxed on failure: nothing is read.
        return !producer_.claimed.load(std::memory_order_relaxed) &&
               producer_.claimed.compare_exchange_strong(expected, true, std::memory_order_acquire,
                                                         std::memory_order_relaxed);
    }
    /// Gives the producer role back. Wait-free.
    void release() noexcept {
        // (C2) release: pairs with (C1); hands the producer-side state over.
        producer_.claimed.store(false, std::memory_order_release);
    }
    /// True when every entry pushed so far looked drained. Any thread: a
    /// hint for choosing among free rings, so both loads are relaxed (a
    /// stale answer only picks a fuller ring, never breaks the hand-over,
    /// which try_claim's CAS orders).
    [[nodiscard]] bool looks_drained() const noexcept {
        return producer_.head.load(std::memory_order_relaxed) ==
               consumer_.tail.load(std::memory_order_relaxed);
    }
    [[nodiscard]] bool claimed() const noexcept {
        // Relaxed: a diagnostic read (the destructor's assertion), no data
        // is published through it.
        return producer_.claimed.load(std::memory_order_relaxed);
    }

    /// Appends an entry; false (and counted in dropped()) when the ring is
    /// full. Producer only. Wait-free, no lock prefix, no allocation.
    bool push(const attribution_entry& entry) noexcept {
        auto& p = producer_;
        // (R1) relaxed: only the producer writes head.
        const std::uint64_t head = p.head.load(std::memory_order_relaxed);
        if (head - p.cached_tail > p.mask) {
            // (R2) acquire: pairs with the release in (R5). The consumer's
            // reads of the slots it freed happen before our overwrite below.
            p.cached_tail = consumer_.tail.load(std::memory_order_acquire);
            if (head - p.cached_tail > p.mask) {
                // Relaxed load + store: dropped has one writer (the producer);
                // readers only want a count, nothing is published through it.
                p.dropped.store(p.dropped.load(std::memory_order_relaxed) + 1,
                                std::memory_order_relaxed);
                return false;
            }
        }
        p.entries[head & p.mask].assign(entry);
        // (R3) release: pairs with the acquire in (R4); publishes the entry
        // written just above.
        p.head.store(head + 1, std::memory_order_release);
        return true;
    }

    /// Passes every published entry to `consume` in push order, then frees
    /// their slots. Consumer only. Returns the number of entries. Wait-free
    /// (bounded by the ring's capacity).
    template <class Consume>
    std::uint64_t drain(Consume&& consume) {
        // Relaxed: only the consumer writes tail.
        const std::uint64_t tail = consumer_.tail.load(std::memory_order_relaxed);
        // (R4) acquire: pairs with the release in (R3); every entry below
        // head is fully written.
        const std::uint64_t head = producer_.head.load(std::memory_order_acquire);
        for (std::uint64_t i = tail; i != head; ++i) consume(producer_.entries[i & producer_.mask]);
        if (head != tail) {
            // (R5) release: pairs with the acquire in (R2); our reads of the
            // slots happen before the producer reuses them.
            consumer_.tail.store(head, std::memory_order_release);
        }
        return head - tail;
    }

    /// Entries accepted since construction. Any thread; relaxed (a counter:
    /// may lag the producer by the pushes in flight).
    [[nodiscard]] std::uint64_t pushed() const noexcept {
        return producer_.head.load(std::memory_order_relaxed);
    }
    /// Entries handed to the consumer. Consumer only (relaxed: its own index).
    [[nodiscard]] std::uint64_t popped() const noexcept {
        return consumer_.tail.load(std::memory_order_relaxed);
    }
    /// Entries refused because the ring was full. Any thread; relaxed counter.
    [[nodiscard]] std::uint64_t dropped() const noexcept {
        return producer_.dropped.load(std::memory_order_relaxed);
    }

    /// Counts an entry the writer refused before pushing (an invalid
    /// candidate share). Producer only. Wait-free, no lock prefix.
    void count_rejected() noexcept {
        // Relaxed load + store: one writer (the producer), like dropped;
        // readers only want a count. The claim hand-over (C1)/(C2) orders
        // successive producers' updates.
        producer_.rejected.store(producer_.rejected.load(std::memory_order_relaxed) + 1,
                                 std::memory_order_relaxed);
    }
    /// Entries refused by count_rejected(). Any thread; relaxed counter.
    [[nodiscard]] std::uint64_t rejected() const noexcept {
        return producer_.rejected.load(std::memory_order_relaxed);
    }

private:
    // Everything the producer touches on a push, on one line. The consumer
    // reads head (and the read-only entries/mask) from it.
    struct alignas(cache_line_size) producer_side {
        std::atomic<std::uint64_t> head{0};
        std::atomic<std::uint64_t> dropped{0};
        std::atomic<std::uint64_t> rejected{0};
        std::uint64_t cached_tail = 0;  // the producer's copy of consumer_side::tail
        attribution_entry* entries = nullptr;
        std::uint64_t mask = 0;
        std::atomic<bool> claimed{false};
    };
    // Written only by the consumer; read by the producer when the ring looks full.
    struct alignas(cache_line_size) consumer_side {
        std::atomic<std::uint64_t> tail{0};
    };
    static_assert(sizeof(producer_side) == cache_line_size);
    static_assert(sizeof(consumer_side) == cache_line_size);

    producer_side producer_;
    consumer_side consumer_;
};
static_assert(alignof(attribution_ring) == cache_line_size);
static_assert(sizeof(attribution_ring) == 2 * cache_line_size);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

/// The slow path: a bounded multi-producer single-consumer array of slots for
/// writers that found the ring pool exhausted. A producer takes a ticket with
/// fetch_add and makes one attempt on that slot; a busy slot (not yet drained,
/// or being written by a producer a lap ahead) drops the entry, counted. The
/// consumer scans every slot. Entries from different producers may be drained
/// out of push order; the map does not depend on it.
class attribution_overflow {
public:
    explicit attribution_overflow(std::size_t capacity) : slots_(capacity), mask_(capacity - 1) {}

    /// Wait-free: one fetch_add, one CAS attempt, one fetch_add, one store.
    bool push(const attribution_entry& entry) noexcept {
        // (O1) relaxed: the ticket only spreads producers over the slots; the
        // slot's state word below carries all synchronisation.
        const std::uint64_t ticket = counters_.next.fetch_add(1, std::memory_order_relaxed);
        slot& s = slots_[ticket & mask_];
        std::uint32_t expected = empty;
        // (O2) acquire on success: pairs with the release in (O5); the
        // consumer's read of the previous entry happens before our overwrite.
        // Relaxed on failure: we only count and leave.
        if (!s.state.compare_exchange_strong(expected, writing, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
            // Relaxed: a counter, read for statistics only.
            counters_.dropped.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        s.entry.assign(entry);
        // Relaxed, and before (O3): the consumer that sees the slot full (O4)
        // then also sees this increment, so drained <= pushed in every
        // statistic. The consumer also reads it (relaxed) to skip empty scans;
        // a stale read only delays an entry to the next drain.
        counters_.pushed.fetch_add(1, std::memory_order_relaxed);
        // (O3) release: pairs with the acquire in (O4); publishes the entry.
        s.state.store(full, std::memory_order_release);
        return true;
    }

    /// Passes every published entry to `consume` and frees its slot. Consumer
    /// only. Wait-free (one pass over the slots; skipped when nothing new
    /// was pushed since the last drain).
    template <class Consume>
    std::uint64_t drain(Consume&& consume) {
        // Relaxed: see the comment on pushed in push().
        if (counters_.pushed.load(std::memory_order_relaxed) == drained_) return 0;
        std::uint64_t n = 0;
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            slot& s = slots_[i];
            // (O4) acquire: pairs with the release in (O3).
            if (s.state.load(std::memory_order_acquire) != full) continue;
            consume(s.entry);
            // (O5) release: pairs with the acquire in (O2).
            s.state.store(empty, std::memory_order_release);
            ++n;
        }
        drained_ += n;
        return n;
    }

    /// Counts an entry a slow-path writer refused before pushing (an invalid
    /// candidate share). Any producer. Wait-free (one fetch_add).
    void count_rejected() noexcept {
        // Relaxed: a counter, read for statistics only.
        counters_.rejected.fetch_add(1, std::memory_order_relaxed);
    }

    /// Entries accepted / refused since construction. Any thread; relaxed counters.
    [[nodiscard]] std::uint64_t pushed() const noexcept {
        return counters_.pushed.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t dropped() const noexcept {
        return counters_.dropped.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t rejected() const noexcept {
        return counters_.rejected.load(std::memory_order_relaxed);
    }
    /// Entries handed to the consumer. Consumer only.
    [[nodiscard]] std::uint64_t drained() const noexcept { return drained_; }

private:
    static constexpr std::uint32_t empty = 0;
    static constexpr std::uint32_t writing = 1;
    static constexpr std::uint32_t full = 2;

    // One slot per line: concurrent producers on neighbouring slots do not
    // share a line.
    struct alignas(cache_line_size) slot {
        std::atomic<std::uint32_t> state{empty};
        attribution_entry entry{};
    };
    static_assert(sizeof(slot) == cache_line_size);

    struct alignas(cache_line_size) shared_counters {
        std::atomic<std::uint64_t> next{0};
        std::atomic<std::uint64_t> pushed{0};
        std::atomic<std::uint64_t> dropped{0};
        std::atomic<std::uint64_t> rejected{0};
    };
    static_assert(sizeof(shared_counters) == cache_line_size);

    cache_aligned_array<slot> slots_;
    std::size_t mask_;
    shared_counters counters_;
    std::uint64_t drained_ = 0;  // consumer only
};

}  // namespace detail
CANARYGATE_NAMESPACE_END
