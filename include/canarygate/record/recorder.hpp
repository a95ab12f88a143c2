// SPDX-License-Identifier: MIT
/// \file
/// `basic_recorder`: the per-request hot path an inference server calls once
/// per request, and later once per piece of user feedback.
///
/// Each writer thread owns one shard of cumulative u64 counters, taken from a
/// pool allocated up front, so every counter has a single writer and an
/// update is a relaxed load and a relaxed store: no lock prefix, no fence, no
/// clock read, no allocation, noexcept. A `basic_collector` (collector.hpp)
/// turns the shards into time slots, windows and snapshots.
///
/// Example:
/// \code
///   canarygate::recorder rec;
///   const auto baseline = rec.add_arm("baseline", "sha256:9f00");
///   const auto candidate = rec.add_arm("candidate", "sha256:ab12");
///
///   // in a request thread, after the response:
///   canarygate::request_outcome r;
///   r.latency_ns = 734'000'000;
///   r.ttft_ns = 81'000'000;
///   r.input_tokens = 812;
///   r.output_tokens = 245;
///   r.cost_nano_usd = 1'930'000;   // 0.00193 USD
///   rec.record(candidate, r);       // thread-local shard
///
///   // or, in a thread that records a lot, an explicit writer (no TLS lookup):
///   auto writer = rec.make_writer();
///   writer.record(baseline, r);
/// \endcode
///
/// Reasons not to use this: memory is reserved up front (max_shards + 1
/// shards of every counter of every arm: see `shard_bytes`), a thread that
/// records for many recorders cycles through a small thread-local cache, and
/// values are only visible to readers after the collector's next tick.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/record/detail/shard_pool.hpp"
#include "canarygate/record/detail/thread_cache.hpp"
#include "canarygate/record/metrics.hpp"
#include "canarygate/record/outcome.hpp"
#include "canarygate/record/pricing.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Tuning and validation limits of a recorder, in one place. To change one,
/// derive and hide it:
/// \code
///   struct small_traits : canarygate::recorder_traits {
///       static constexpr std::size_t max_shards = 8;
///   };
/// \endcode
struct recorder_traits {
    /// Per-thread shards in the pool. Threads beyond this (alive at once)
    /// share the overflow shard (fetch_add, counted). Memory:
    /// (max_shards + 1) * shard_bytes.
    static constexpr std::size_t max_shards = 64;
    /// Arms that can be registered (baseline, candidate, shadow, ...). Every
    /// shard reserves counters for all of them. At most 255.
    static constexpr std::size_t max_arms = 4;
    /// Recorders a thread can record into through the thread-local path
    /// before it gives back the least recently used one's shard.
    static constexpr std::size_t thread_cache_size = 4;
    /// Latency or TTFT above this is rejected as absurd: one day.
    static constexpr std::uint64_t max_latency_ns = 86'400'000'000'000;
    /// Input or output token counts above this are rejected: 10 M. Below 2^32.
    static constexpr std::uint64_t max_tokens = 10'000'000;
    /// Costs above this are rejected as "cost_absurd": the library's one cost
    /// limit, canarygate::max_cost_nano_usd (pricing.hpp) = 2^48 - 1 nano-USD
    /// ($281,474.98), the largest whose square splits into three 32-bit
    /// limbs. Every cost pricing.hpp computes is at most 2e14 nano-USD, so it
    /// is accepted. A derived traits may lower it (priced costs above the
    /// lower limit are then rejected too), never raise it.
    static constexpr std::uint64_t max_cost_nano_usd = canarygate::max_cost_nano_usd;
    /// |score| above this is rejected. Below 2^32.
    static constexpr std::uint64_t max_feedback_score = 1'000'000'000;
};

/// A registered arm: its role and the model version it serves.
struct arm_info {
    std::string role;
    std::string model_version;
    friend bool operator==(const arm_info&, const arm_info&) = default;
};

template <class Recorder, class Clock>
class basic_collector;

/// The per-request recorder. See the file comment.
///
/// \tparam Record  what a request records: request_outcome or a type derived
///                 from it that user metrics read.
/// \tparam Metrics a metric_set (metrics.hpp): default_metrics, or extended.
/// \tparam Traits  limits and sizes (recorder_traits).
///
/// Thread safety: record(), record_feedback() and make_writer() may be called
/// from any thread concurrently; add_arm() and the queries are serialised by
/// a mutex. The recorder must outlive its collector; writers and thread-local
/// caches may outlive it (they share the shard pool).
template <class Record = request_outcome, class Metrics = default_metrics,
          class Traits = recorder_traits>
class basic_recorder {
    static_assert(Metrics::template accepts<Record>,
                  "every metric needs export_to and record(Record) or record_feedback");
    static_assert(Traits::max_shards >= 1, "Traits::max_shards must be at least 1");
    static_assert(Traits::max_arms >= 1 && Traits::max_arms <= 255,
                  "Traits::max_arms must be in [1, 255] (arm_id is 8 bits)");
    static_assert(Traits::thread_cache_size >= 1, "Traits::thread_cache_size must be at least 1");
    static_assert(Traits::max_tokens < (std::uint64_t{1} << 32),
                  "Traits::max_tokens must be below 2^32 (squares are split in two limbs)");
    static_assert(Traits::max_latency_ns < duration_sentinel::too_large,
                  "Traits::max_latency_ns must be below the ns_from_seconds sentinels");

public:
    using record_type = Record;
    using metrics_type = Metrics;
    using traits_type = Traits;

    // --- Layout (static_asserted; see tests/test_recorder_layout.cpp) -----------------
    /// Scalar counters per arm (metric sums and counts, then one per
    /// rejection reason).
    static constexpr std::size_t arm_scalar_count = Metrics::scalar_count;
    /// Array (histogram bucket) counters per arm, right after the scalars.
    static constexpr std::size_t arm_array_count = Metrics::array_count;
    /// Counters between two arms of a shard: a whole number of cache lines.
    static constexpr std::size_t arm_stride =
        detail::round_up_to_line(arm_scalar_count + arm_array_count);
    /// Counters per shard: one line of recorder-wide counters, then every arm.
    static constexpr std::size_t shard_cells =
        detail::global_stride + Traits::max_arms * arm_stride;
    /// Bytes per shard.
    static constexpr std::size_t shard_bytes = shard_cells * sizeof(detail::counter_cell);
    /// Bytes of counters the pool reserves (owned shards + overflow shard).
    static constexpr std::size_t pool_bytes = (Traits::max_shards + 1) * shard_bytes;

    static_assert(arm_stride % detail::cells_per_line == 0);
    static_assert(shard_cells % detail::cells_per_line == 0);
    static_assert(shard_bytes % cache_line_size == 0, "shards start on a cache line");

    class writer;

    /// Allocates and zeroes the shard pool (`pool_bytes`). Throws
    /// std::bad_alloc.
    basic_recorder()
        : pool_(std::make_shared<detail::shard_pool>(Traits::max_shards, shard_cells)),
          // relaxed: uniqueness is all that matters; no data hangs off the id.
          id_(next_recorder_id().fetch_add(1, std::memory_order_relaxed)) {
        arms_.reserve(Traits::max_arms);
    }
    basic_recorder(const basic_recorder&) = delete;
    basic_recorder& operator=(const basic_recorder&) = delete;
    ~basic_recorder() = default;

    /// Registers an arm: its role ("baseline", "candidate", "shadow", ...)
    /// and model version or digest. Configuration, not hot path: blocking
    /// (mutex), allocates. Throws std::invalid_argument for an empty role, a
    /// (role, version) pair already registered, or more than Traits::max_arms
    /// arms.
    arm_id add_arm(std::string_view role, std::string_view model_version = {}) {
        const std::lock_guard lock(arms_mutex_);
        if (role.empty()) {
            detail::throw_invalid_argument("canarygate::basic_recorder::add_arm: role is empty");
        }
        for (const arm_info& a : arms_) {
            if (a.role == role && a.model_version == model_version) {
                detail::throw_invalid_argument(
                    "canarygate::basic_recorder::add_arm: arm '" + std::string(role) + "'@'" +
                    std::string(model_version) + "' is already registered");
            }
        }
        if (arms_.size() >= Traits::max_arms) {
            detail::throw_invalid_argument(
                "canarygate::basic_recorder::add_arm: cannot add '" + std::string(role) +
                "': Traits::max_arms = " + std::to_string(Traits::max_arms) +
                " arms are already registered");
        }
        arms_.push_back({std::string(role), std::string(model_version)});
        const auto id = static_cast<std::uint8_t>(arms_.size() - 1);
        // relaxed: an arm id reaches a recording thread only through the
        // caller's own synchronisation after this returns, which orders this
        // store before that thread's load. A thread that saw an older count
        // could only hold an id it was never given.
        pool_->arm_count.store(static_cast<std::uint32_t>(arms_.size()), std::memory_order_relaxed);
        return arm_id{id};
    }

    /// Number of registered arms. Wait-free.
    [[nodiscard]] std::size_t arm_count() const noexcept {
        // relaxed: a count for the caller; see add_arm.
        return pool_->arm_count.load(std::memory_order_relaxed);
    }
    /// Role and version of a registered arm. Throws std::invalid_argument for
    /// an id this recorder did not issue. Blocking.
    [[nodiscard]] arm_info arm(arm_id id) const {
        const std::lock_guard lock(arms_mutex_);
        if (id.value >= arms_.size()) {
            detail::throw_invalid_argument("canarygate::basic_recorder::arm: unknown arm id " +
                                           std::to_string(id.value));
        }
        return arms_[id.value];
    }
    /// Every registered arm, in id order. Blocking, allocates.
    [[nodiscard]] std::vector<arm_info> arms() const {
        const std::lock_guard lock(arms_mutex_);
        return arms_;
    }

    /// Records one request through the calling thread's cached shard.
    /// Returns false when it was rejected (counted under its reason, or under
    /// "rejected.unknown_arm" for an id this recorder did not issue).
    ///
    /// Wait-free and allocation-free after the thread's first call for this
    /// recorder. The first call claims a shard (at most 2 * max_shards CAS
    /// attempts) and may allocate once: the C++ runtime registers the cache's
    /// destructor for thread exit (and, in a dlopen-ed shared object,
    /// allocates its TLS block). Every call reads a thread_local: a
    /// segment-register access in an executable, a call to __tls_get_addr in
    /// a shared object (a few ns more; see benchmarks/perf/bench_recorder.cpp).
    /// A thread that records a lot should use make_writer() instead. A thread
    /// that found the pool exhausted keeps the overflow shard until it exits
    /// or its cache entry is evicted. Do not call it from a thread_local
    /// destructor (the cache may already be gone).
    bool record(arm_id arm, const Record& r) noexcept {
        const thread_entry& e = entry_for_this_thread();
        return write_record(*pool_, e.shard, e.shared, arm, r);
    }

    /// Records one piece of late user feedback for a request of `arm` (the
    /// feedback attribution map resolves the request id to the arm). The
    /// score is read only for feedback_kind::score. Same guarantees as
    /// record().
    bool record_feedback(arm_id arm, feedback_kind kind, std::int64_t score = 0) noexcept {
        return record_feedback(arm, feedback_event{kind, score});
    }
    /// The same, with the event as the attribution map hands it back.
    bool record_feedback(arm_id arm, const feedback_event& f) noexcept {
        const thread_entry& e = entry_for_this_thread();
        return write_feedback(*pool_, e.shard, e.shared, arm, f);
    }

    /// A writer handle that owns one shard until it is destroyed (then the
    /// shard is orphaned and its counts folded by the collector). Falls back
    /// to the shared overflow shard when the pool is exhausted. Wait-free (at
    /// most 2 * max_shards CAS attempts), allocation-free.
    [[nodiscard]] writer make_writer() noexcept { return writer(pool_); }

    /// Shards owned or orphaned right now (a racy diagnostic). Wait-free.
    [[nodiscard]] std::size_t shards_in_use() const noexcept { return pool_->shards_in_use(); }

    /// An explicit writer: one thread's own shard. Movable, not copyable; use
    /// it from one thread at a time (hand it over with synchronisation).
    /// A moved-from writer may only be destroyed or assigned to.
    class writer {
    public:
        /// Moves the shard's ownership (not its counts). Wait-free.
        writer(writer&& other) noexcept
            : pool_(std::move(other.pool_)),
              shard_(std::exchange(other.shard_, nullptr)),
              index_(other.index_),
              shared_(other.shared_) {}
        /// Orphans this writer's shard, then takes `other`'s. Wait-free.
        writer& operator=(writer&& other) noexcept {
            if (this != &other) {
                release();
                pool_ = std::move(other.pool_);
                shard_ = std::exchange(other.shard_, nullptr);
                index_ = other.index_;
                shared_ = other.shared_;
            }
            return *this;
        }
        writer(const writer&) = delete;
        writer& operator=(const writer&) = delete;
        /// Orphans the shard (release store); its counts are kept. Wait-free.
        ~writer() { release(); }

        /// Records one request. Wait-free, allocation-free, noexcept. Returns
        /// false when rejected (counted).
        bool record(arm_id arm, const Record& r) noexcept {
            return write_record(*pool_, shard_, shared_, arm, r);
        }
        /// Records late feedback. Wait-free, allocation-free, noexcept.
        bool record_feedback(arm_id arm, feedback_kind kind, std::int64_t score = 0) noexcept {
            return record_feedback(arm, feedback_event{kind, score});
        }
        /// The same, with the event as the attribution map hands it back.
        bool record_feedback(arm_id arm, const feedback_event& f) noexcept {
            return write_feedback(*pool_, shard_, shared_, arm, f);
        }
        /// True when the pool was exhausted and this writer shares the
        /// overflow shard (fetch_add). Wait-free.
        [[nodiscard]] bool uses_overflow_shard() const noexcept { return shared_; }

    private:
        friend class basic_recorder;
        explicit writer(const std::shared_ptr<detail::shard_pool>& pool) noexcept
            : pool_(pool), index_(pool->claim()) {
            shard_ = pool->shard(index_);
            shared_ = index_ == pool->overflow_index();
        }
        void release() noexcept {
            // A moved-from writer has no pool (and no shard).
            if (pool_) pool_->release(index_);
            shard_ = nullptr;
            pool_.reset();
        }

        std::shared_ptr<detail::shard_pool> pool_;
        detail::counter_cell* shard_ = nullptr;
        std::size_t index_ = 0;
        bool shared_ = false;
    };

private:
    template <class R, class C>
    friend class basic_collector;

    // --- The write path ------------------------------------------------------------

    template <bool Shared>
    [[nodiscard]] static detail::shard_sink<Shared> arm_sink(detail::counter_cell* shard,
                                                             arm_id arm) noexcept {
        detail::counter_cell* base = shard + detail::global_stride + arm.value * arm_stride;
        return {base, base + arm_scalar_count};
    }

    // The fast path: an owned shard and a registered arm. Everything below is
    // forced inline into one straight-line function, so the sink's pointers
    // and the record's fields stay in registers: GCC treats every atomic
    // store as a possible write to memory whose address escaped, and reloads
    // anything reached through a pointer after each one.
    static bool write_record(const detail::shard_pool& pool, detail::counter_cell* shard,
                             bool shared, arm_id arm, const Record& r) noexcept {
        // relaxed: see add_arm. An id at or above the count was never issued
        // to this thread, and its counters exist anyway (max_arms reserved).
        const std::uint32_t arms = pool.arm_count.load(std::memory_order_relaxed);
        if (shared || arm.value >= arms) [[unlikely]] {
            return write_record_slow(shard, shared, arm.value < arms, arm, r);
        }
        return Metrics::template record<Traits>(arm_sink<false>(shard, arm), r) == 0;
    }

    // The overflow shard (fetch_add, counted) or an unknown arm.
    CANARYGATE_NOINLINE static bool write_record_slow(detail::counter_cell* shard, bool shared,
                                                      bool known, arm_id arm,
                                                      const Record& r) noexcept {
        if (shared) {
            detail::shard_sink<true>::bump(shard[detail::global_overflow_records], 1);
            if (!known) {
                detail::shard_sink<true>::bump(shard[detail::global_unknown_arm], 1);
                return false;
            }
            return Metrics::template record<Traits>(arm_sink<true>(shard, arm), r) == 0;
        }
        detail::shard_sink<false>::bump(shard[detail::global_unknown_arm], 1);
        return false;
    }

    static bool write_feedback(const detail::shard_pool& pool, detail::counter_cell* shard,
                               bool shared, arm_id arm, const feedback_event& f) noexcept {
        // relaxed: see write_record.
        const bool known = arm.value < pool.arm_count.load(std::memory_order_relaxed);
        if (shared) [[unlikely]] {
            detail::shard_sink<true>::bump(shard[detail::global_overflow_records], 1);
            if (!known) {
                detail::shard_sink<true>::bump(shard[detail::global_unknown_arm], 1);
                return false;
            }
            return Metrics::template record_feedback<Traits>(arm_sink<true>(shard, arm), f) == 0;
        }
        if (!known) [[unlikely]] {
            detail::shard_sink<false>::bump(shard[detail::global_unknown_arm], 1);
            return false;
        }
        return Metrics::template record_feedback<Traits>(arm_sink<false>(shard, arm), f) == 0;
    }

    // --- The thread-local cache ----------------------------------------------------

    struct thread_entry {
        std::uint64_t owner = 0;  // recorder id; 0 = empty
        detail::counter_cell* shard = nullptr;
        std::size_t index = 0;
        bool shared = false;
        // Keeps the pool alive only while releasing (lock()); a recorder that
        // died leaves an expired pointer and an id no live recorder has.
        std::weak_ptr<detail::shard_pool> pool;

        [[nodiscard]] bool abandoned() const noexcept { return pool.expired(); }
        void release() noexcept {
            if (owner != 0) {
                if (const auto p = pool.lock()) p->release(index);
            }
            owner = 0;
            shard = nullptr;
            pool.reset();
        }
    };

    using thread_cache = detail::thread_lru_cache<thread_entry, Traits::thread_cache_size>;

    const thread_entry& entry_for_this_thread() noexcept {
        // Thread exit releases every claim: each shard this thread holds is
        // orphaned, so the collector folds its counts; nothing is lost.
        thread_local thread_cache cache;
        return cache.find_or_claim(id_, [this](thread_entry& e) noexcept {
            e.index = pool_->claim();
            e.shard = pool_->shard(e.index);
            e.shared = e.index == pool_->overflow_index();
            e.pool = pool_;
        });
    }

    static std::atomic<std::uint64_t>& next_recorder_id() noexcept {
        static std::atomic<std::uint64_t> next{1};  // 0 marks an empty cache entry
        return next;
    }

    std::shared_ptr<detail::shard_pool> pool_;
    std::uint64_t id_;
    mutable std::mutex arms_mutex_;
    std::vector<arm_info> arms_;
    // Set while a collector is attached: at most one reads (and folds) the
    // shards. See basic_collector.
    std::atomic<bool> collector_attached_{false};
};

/// The recorder with the default record type, metrics and traits.
using recorder = basic_recorder<>;

CANARYGATE_NAMESPACE_END
