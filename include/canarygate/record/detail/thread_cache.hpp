// SPDX-License-Identifier: MIT
/// \file
/// The per-thread cache behind `basic_recorder` and `basic_feedback_tracker`:
/// each thread keeps, for the last few objects it used, whatever it claimed
/// from them (a shard, a ring writer), so the request path needs no handle
/// from the caller and no lock.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "canarygate/core/config.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace detail {

/// One thread's entries, most recently used first. `Entry` has a member
/// `std::uint64_t owner` (the owning object's id, never reused; 0 = empty),
/// `bool abandoned() const noexcept` (its owner is gone) and
/// `void release() noexcept` (gives the claim back, or drops it if the owner
/// is gone; leaves the entry empty). Used through a function-local
/// `thread_local` of each user; at thread exit every claim is released.
template <class Entry, std::size_t Size>
struct thread_lru_cache {
    static_assert(Size >= 1, "a thread cache needs at least one entry");
    std::array<Entry, Size> entries{};

    thread_lru_cache() = default;
    thread_lru_cache(const thread_lru_cache&) = delete;
    thread_lru_cache& operator=(const thread_lru_cache&) = delete;
    ~thread_lru_cache() {
        for (Entry& e : entries) e.release();
    }

    /// The entry of `owner`: the front one on the fast path; otherwise found
    /// or claimed (`claim(Entry&)` fills an empty entry; `owner` is set
    /// here) in an empty entry, one whose owner is gone, or else the least
    /// recently used one, released first. Moved to the front. Wait-free and
    /// allocation-free if `claim` is.
    template <class Claim>
    Entry& find_or_claim(std::uint64_t owner, Claim&& claim) noexcept {
        if (entries[0].owner == owner) [[likely]]
            return entries[0];
        return find_or_claim_slow(owner, claim);
    }

private:
    // Out of line: the request path inlines only the check above.
    template <class Claim>
    CANARYGATE_NOINLINE Entry& find_or_claim_slow(std::uint64_t owner, Claim& claim) noexcept {
        auto it = std::find_if(entries.begin(), entries.end(),
                               [&](const Entry& x) { return x.owner == owner; });
        if (it == entries.end()) {
            it = std::find_if(entries.begin(), entries.end(),
                              [](const Entry& x) { return x.owner == 0 || x.abandoned(); });
            if (it == entries.end()) it = entries.end() - 1;
            it->release();
            claim(*it);
            it->owner = owner;
        }
        std::rotate(entries.begin(), it, it + 1);
        return entries.front();
    }
};

}  // namespace detail
CANARYGATE_NAMESPACE_END
