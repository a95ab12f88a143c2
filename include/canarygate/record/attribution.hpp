// SPDX-License-Identifier: MIT
/// \file
/// Late-feedback attribution: a bounded, time-limited map from request id to
/// (arm, model version, response time, candidate share), filled by request
/// threads without a lock and read by one owner thread when user feedback
/// arrives. For the whole pipeline in one object (a writer per thread kept
/// for you, counts per arm and cohort, a delay estimate), see
/// canarygate/record/feedback_tracker.hpp.
///
/// User feedback (thumbs up/down, tickets, scores) arrives minutes to hours
/// after the response, keyed by an id minted with it: Langfuse `traceId`,
/// LangSmith `run_id`, Helicone `requestId`, Portkey `trace_id`. The request
/// thread calls `writer::remember(id, {arm, model_version, time}, share)` after
/// the response; the owner (the collector thread, or whoever holds the owner's
/// lock) calls `drain()` on every tick and `resolve()` /
/// `resolve_or_defer()` when feedback arrives.
///
/// Example:
/// \code
///   canarygate::attribution_map map({.capacity = 1'000'000, .ttl_ns = 3 * canarygate::hour_ns});
///   // request thread (one writer per thread, kept for the thread's life):
///   auto w = map.make_writer();
///   w.remember("run-7f3a", {candidate_arm, model_version, response_time_ns}, candidate_share);
///   // feedback handler, under the owner's mutex:
///   auto r = map.resolve_or_defer("run-7f3a", {canarygate::feedback_kind::thumbs_down}, now_ns);
///   if (r.status == canarygate::resolve_status::resolved)
///       count_thumbs_down(r.value.arm, r.value.candidate_share_ppm);  // its cohort
///   // collector tick, under the same mutex:
///   map.drain(now_ns, [&](const canarygate::attribution& a, const canarygate::feedback_event& f) {
///       count_feedback(a.arm, f);  // feedback that arrived before its request was remembered
///   });
/// \endcode
///
/// **Ids and collisions.** An id is any byte string (a UUID in text, 16 raw
/// bytes of a 128-bit id, ...); remember and resolve must see the same bytes.
/// It is reduced to a 128-bit key by SipHash-2-4-128 under a 128-bit seed
/// (random per map unless configured), so the keys of distinct ids are
/// independent and uniform even for ids chosen by an adversary who does not
/// know the seed. With n records stored, a newly remembered id shares its key
/// with one of them with probability at most n / 2¹²⁸ (2⁻⁹⁷ at the maximum
/// capacity 2³¹; a billion requests a second for a century makes that 2⁻³⁵
/// in all), and so does feedback for an id that was never remembered. Should
/// it happen anyway, it behaves like a repeated id: the second remember is
/// dropped and counted `duplicate`, and feedback for either id goes to the
/// first one's arm (feedback for an unremembered id would be misattributed).
///
/// **Where entries go and what is counted.** remember() rejects a candidate
/// share that is not in [0, 1] (`rejected_share`, nothing stored), then
/// pushes into the writer's own single-producer ring (or, when the ring pool
/// was exhausted, into a shared slot array); a full ring drops the entry,
/// counted. drain() moves ring entries into the map: oldest first out when
/// full (`evicted`), TTL reached (`expired`, or `retired` if feedback was
/// attributed to it), id already present (`duplicate`). Every remember() call
/// lands in exactly one of: rejected_share, ring_full, overflow_full,
/// in_flight, duplicate, live, evicted, expired, retired; every feedback
/// lookup in exactly one of: resolved, resolved_late, expired_id, unknown_id,
/// pending_full, pending, duplicate_feedback. See attribution_stats.
///
/// **Idempotent feedback.** Feedback APIs retry their webhooks, so the map
/// attributes at most one piece of feedback per (request, kind) in its
/// lifetime: a record keeps a bit per feedback_kind, and one more for lookups
/// that name no kind (resolve(id, now)). A lookup whose bit is already set is
/// answered `duplicate_feedback` and counted so, not attributed again; so is
/// feedback parked for a (request, kind) already parked, and parked feedback
/// whose (request, kind) was attributed meanwhile. A request can therefore
/// receive one thumbs-up, one thumbs-down, one ticket and one score; a
/// second score for the same request (a user who changes a rating) counts as
/// a duplicate. Remembering the same id again does not reset its bits (the
/// second remember is a `duplicate`); once its record has left the map, the
/// id is unknown.
///
/// **Feedback before its request.** resolve() drains the rings first, so
/// feedback never misses a request that was remembered before the lookup.
/// Feedback that truly precedes remember() (Langfuse scores can arrive before
/// the trace) is parked by resolve_or_defer() in a bounded pending list,
/// retried on every drain() for `pending_ttl_ns`, then counted `unknown_id`.
///
/// **Shadow traffic.** Remember only the response the user saw: a shadow copy
/// remembered under the same id would be a duplicate, or win the race.
#pragma once

#include <array>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/record/detail/attribution_pending.hpp"
#include "canarygate/record/detail/attribution_queue.hpp"
#include "canarygate/record/detail/attribution_siphash.hpp"
#include "canarygate/record/detail/attribution_table.hpp"
#include "canarygate/record/outcome.hpp"  // arm_id, feedback_event (the default payload)
#include "canarygate/record/series.hpp"   // feedback_cohort: share validation and rounding

CANARYGATE_NAMESPACE_BEGIN

/// The 128-bit key of SipHash-2-4: k0 and k1 are the first and last eight key
/// bytes read little-endian (the reference implementation's byte order).
struct hash_seed {
    std::uint64_t k0 = 0;
    std::uint64_t k1 = 0;

    /// A seed from std::random_device. Throws what std::random_device throws
    /// when no entropy source is available.
    [[nodiscard]] static hash_seed random() {
        std::random_device device;
        const auto word = [&device] {
            return (std::uint64_t{device()} << 32) | std::uint64_t{device()};
        };
        const std::uint64_t k0 = word();
        return {k0, word()};
    }
    friend constexpr bool operator==(hash_seed, hash_seed) noexcept = default;
};

/// The keyed hash of a request id: SipHash-2-4-128 of its bytes under `seed`,
/// `low` = the first eight output bytes read little-endian, `high` the last
/// eight. Wait-free, no allocation, O(id.size()).
[[nodiscard]] constexpr request_key hash_request_id(std::string_view id, hash_seed seed) noexcept {
    const auto h = detail::siphash24_128(seed.k0, seed.k1, id);
    return {h.low, h.high};
}

/// What a request is attributed to.
struct attribution {
    arm_id arm{};
    /// The embedder's id of the model version that answered (an index into
    /// its table of model digests, a deployment generation, ...).
    std::uint32_t model_version = 0;
    /// When the response was sent, in the embedder's clock (nanoseconds);
    /// the TTL runs from it.
    std::int64_t response_time_ns = 0;
    /// The candidate's share of the traffic between the compared arms when
    /// the request was routed, in millionths (0 to 1,000,000, as
    /// feedback_cohort::to_ppm rounds it): the feedback cohort of this
    /// request's feedback (see series.hpp). nullopt when unknown.
    /// remember() rejects a value above 1,000,000 (counted rejected_share).
    std::optional<std::uint32_t> candidate_share_ppm = std::nullopt;
    friend constexpr bool operator==(const attribution&, const attribution&) noexcept = default;
};

/// Sizes and limits of an attribution map; every field is checked by
/// validate() (called by the map's constructor).
///
/// Sizing: `capacity` >= peak requests per second x `ttl_ns` keeps every
/// request attributable for its whole TTL; `ring_capacity` >= peak requests
/// per second of one thread x the drain interval (with a margin) keeps
/// ring_full at zero; `writer_rings` >= the number of request threads keeps
/// them all off the shared slow path. Memory: see memory_bytes().
struct attribution_config {
    static constexpr std::size_t max_capacity = detail::attribution_table::max_capacity;
    static constexpr std::size_t max_writer_rings = std::size_t{1} << 16;
    static constexpr std::size_t max_ring_capacity = std::size_t{1} << 24;
    static constexpr std::size_t max_overflow_capacity = std::size_t{1} << 20;
    static constexpr std::size_t max_pending_capacity = std::size_t{1} << 20;

    /// Records kept, in [1, 2^31]. Required (0 is rejected).
    std::size_t capacity = 0;
    /// How long a request stays attributable after its response, > 0.
    /// Required. LangSmith's presigned feedback links expire after 3 h.
    std::int64_t ttl_ns = 0;
    /// Rings allocated up front, one per writer handle alive at a time, in
    /// [1, 2^16]. Writers beyond them share the slow path.
    std::size_t writer_rings = 32;
    /// Entries per ring, a power of two in [2, 2^24].
    std::size_t ring_capacity = 1024;
    /// Slots of the shared slow path, a power of two in [1, 2^20].
    std::size_t overflow_capacity = 64;
    /// Feedback parked while its request is unknown, in [0, 2^20]; 0 turns
    /// parking off (resolve_or_defer() then behaves like resolve()).
    std::size_t pending_capacity = 1024;
    /// How long parked feedback waits for its request, > 0 when parking is on.
    std::int64_t pending_ttl_ns = 60'000'000'000;
    /// SipHash seed; a random one (std::random_device) when empty.
    std::optional<hash_seed> seed = std::nullopt;

    /// Throws std::invalid_argument naming the first bad field and its value.
    void validate() const {
        check_range("capacity", capacity, 1, max_capacity);
        if (ttl_ns <= 0) fail("ttl_ns", std::to_string(ttl_ns), "must be > 0");
        check_range("writer_rings", writer_rings, 1, max_writer_rings);
        check_power_of_two("ring_capacity", ring_capacity, 2, max_ring_capacity);
        check_power_of_two("overflow_capacity", overflow_capacity, 1, max_overflow_capacity);
        check_range("pending_capacity", pending_capacity, 0, max_pending_capacity);
        if (pending_capacity > 0 && pending_ttl_ns <= 0) {
            fail("pending_ttl_ns", std::to_string(pending_ttl_ns),
                 "must be > 0 when pending_capacity > 0");
        }
    }

private:
    [[noreturn]] static void fail(const char* field, const std::string& value,
                                  const std::string& rule) {
        detail::throw_invalid_argument("canarygate::attribution_config: " + std::string(field) +
                                       " = " + value + " " + rule);
    }
    static void check_range(const char* field, std::size_t value, std::size_t lo, std::size_t hi) {
        if (value < lo || value > hi) {
            fail(field, std::to_string(value),
                 "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
        }
    }
    static void check_power_of_two(const char* field, std::size_t value, std::size_t lo,
                                   std::size_t hi) {
        if (value < lo || value > hi || (value & (value - 1)) != 0) {
            fail(field, std::to_string(value),
                 "must be a power of two in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "]");
        }
    }
};

/// The answer to a feedback lookup.
enum class resolve_status : std::uint8_t {
    resolved,      ///< the request is known and within its TTL: attribute the feedback
    expired_id,    ///< the request is known but its TTL has passed: do not attribute
    unknown_id,    ///< never remembered, evicted, or forgotten long after expiry
    deferred,      ///< unknown for now; parked, delivered by a later drain() if its request comes
    pending_full,  ///< unknown, and the pending list is full: dropped
    /// Feedback of this kind was already attributed to the request (or is
    /// already parked for it): a retry. Not attributed again; counted.
    duplicate_feedback,
};

[[nodiscard]] constexpr std::string_view name(resolve_status s) noexcept {
    constexpr std::array<std::string_view, 6> names = {
        "resolved", "expired_id", "unknown_id", "deferred", "pending_full", "duplicate_feedback"};
    const auto i = static_cast<std::size_t>(s);
    return i < names.size() ? names[i] : std::string_view("unknown");
}

struct resolution {
    resolve_status status = resolve_status::unknown_id;
    /// The request's attribution when status is resolved or expired_id, and
    /// when it is duplicate_feedback for a known request (empty for a
    /// duplicate of parked feedback).
    attribution value{};
};

/// Counters of an attribution map, read by stats(). Counters only grow;
/// the three gauges (in_flight, live, pending) are levels at the read.
///
/// Conservation (exact within one stats() call):
///   remembered = in_flight + duplicate + live + evicted + expired + retired
///   remember() calls = remembered + ring_full + overflow_full + rejected_share
///   lookups = resolved + resolved_late + expired_id + unknown_id + pending_full + pending
///             + duplicate_feedback
struct attribution_stats {
    std::uint64_t remembered = 0;           ///< accepted by remember() (ring or slow path)
    std::uint64_t rejected_share = 0;       ///< refused by remember(): share not in [0, 1]
    std::uint64_t ring_full = 0;            ///< dropped by remember(): the writer's ring was full
    std::uint64_t overflow_full = 0;        ///< dropped by remember() on the slow path: slot busy
    std::uint64_t overflow_remembered = 0;  ///< accepted on the slow path (part of remembered)
    std::uint64_t overflow_writers = 0;     ///< writer handles that found the ring pool exhausted
    std::uint64_t in_flight = 0;            ///< gauge: remembered, not drained yet
    std::uint64_t duplicate = 0;            ///< drained with an id already stored: dropped
    std::uint64_t live = 0;                 ///< gauge: stored, not yet marked expired
    std::uint64_t evicted = 0;              ///< dropped, oldest first, to make room before TTL
    std::uint64_t expired = 0;              ///< reached TTL with no feedback attributed
    std::uint64_t retired = 0;              ///< reached TTL after feedback was attributed
    std::uint64_t lookups = 0;              ///< resolve() and resolve_or_defer() calls
    std::uint64_t resolved = 0;             ///< lookups answered resolved
    std::uint64_t resolved_late = 0;        ///< parked feedback delivered by drain()
    std::uint64_t expired_id = 0;  ///< lookups (immediate or parked) that found an expired request
    std::uint64_t unknown_id =
        0;  ///< lookups that found nothing (parked ones after pending_ttl_ns)
    std::uint64_t pending_full = 0;  ///< feedback dropped because the pending list was full
    std::uint64_t pending = 0;       ///< gauge: parked feedback waiting
    /// Feedback (immediate or parked) whose (request, kind) was already
    /// attributed or parked: not attributed again.
    std::uint64_t duplicate_feedback = 0;

    /// True when the two conservation laws above that involve only these
    /// fields hold: nothing remembered or looked up went uncounted.
    [[nodiscard]] constexpr bool balanced() const noexcept {
        return remembered == in_flight + duplicate + live + evicted + expired + retired &&
               lookups == resolved + resolved_late + expired_id + unknown_id + pending_full +
                              pending + duplicate_feedback;
    }

    friend constexpr bool operator==(const attribution_stats&,
                                     const attribution_stats&) noexcept = default;
};

enum class stat_kind : std::uint8_t { counter, gauge };

/// Calls `f(std::string_view name, std::uint64_t value, stat_kind kind)` for
/// every field of `s`, with the series names to export ("attribution.ring_full",
/// "feedback.unknown_id", ...).
template <class F>
void for_each_stat(const attribution_stats& s, F&& f) {
    using k = stat_kind;
    f("attribution.remembered", s.remembered, k::counter);
    f("attribution.rejected_share", s.rejected_share, k::counter);
    f("attribution.ring_full", s.ring_full, k::counter);
    f("attribution.overflow_full", s.overflow_full, k::counter);
    f("attribution.overflow_remembered", s.overflow_remembered, k::counter);
    f("attribution.overflow_writers", s.overflow_writers, k::counter);
    f("attribution.in_flight", s.in_flight, k::gauge);
    f("attribution.duplicate", s.duplicate, k::counter);
    f("attribution.live", s.live, k::gauge);
    f("attribution.evicted", s.evicted, k::counter);
    f("attribution.expired", s.expired, k::counter);
    f("attribution.retired", s.retired, k::counter);
    f("feedback.lookups", s.lookups, k::counter);
    f("feedback.resolved", s.resolved, k::counter);
    f("feedback.resolved_late", s.resolved_late, k::counter);
    f("feedback.expired_id", s.expired_id, k::counter);
    f("feedback.unknown_id", s.unknown_id, k::counter);
    f("feedback.pending_full", s.pending_full, k::counter);
    f("feedback.pending", s.pending, k::gauge);
    f("feedback.duplicate", s.duplicate_feedback, k::counter);
}

/// Adds every counter of `s` (not the gauges, which are levels, not events)
/// to the recorder-wide counters of `into`, under the names of
/// for_each_stat, so that unknown, expired, evicted and dropped feedback
/// travels with the snapshot to codecs and Prometheus. Use it on snapshots
/// that hold totals since start (e.g. collector.cumulative()), with the
/// map's stats() read at the same time. `into` is anything with
/// `add_counter(std::string_view, std::uint64_t)`: a `snapshot`.
template <class Counters>
requires requires(Counters& c, std::string_view name, std::uint64_t value) {
    c.add_counter(name, value);
}
void add_counters(const attribution_stats& s, Counters& into) {
    for_each_stat(s, [&](std::string_view name, std::uint64_t value, stat_kind kind) {
        if (kind == stat_kind::counter) into.add_counter(name, value);
    });
}

static_assert(feedback_cohort::one_million < detail::share_unknown,
              "every share in millionths has a code distinct from 'unknown'");

template <class Traits>
class basic_feedback_tracker;

/// A bounded, time-limited map request id -> attribution, written lock-free by
/// request threads and read by one owner.
///
/// Threads: make_writer() and key_of() from any thread; a writer's
/// remember() from the thread using that writer; everything else (drain,
/// resolve, resolve_or_defer, stats) from one thread at a time, the owner:
/// the collector thread, or any thread holding a mutex the embedder keeps
/// for it. The request path never needs that mutex. All memory is allocated
/// by the constructor; nothing allocates afterwards.
///
/// \tparam Payload what resolve_or_defer() parks and drain() hands back;
///         trivially copyable. The default is the recorder's
///         feedback_event, so a drained one goes straight to
///         recorder::record_feedback(arm, kind, score). A payload with a
///         member `kind` convertible to feedback_kind is de-duplicated per
///         kind; any other payload as one untyped piece of feedback per
///         request (see "Idempotent feedback" in the file comment).
template <class Payload = feedback_event>
class basic_attribution_map {
    static_assert(std::is_trivially_copyable_v<Payload> && std::is_default_constructible_v<Payload>,
                  "the payload is copied into a preallocated pending list");

public:
    using payload_type = Payload;

    /// A request thread's handle: its own ring, claimed from the pool with one
    /// CAS and given back by the destructor. Keep one per thread for the
    /// thread's life; it must not outlive the map. Movable, not copyable.
    class writer {
    public:
        /// A detached handle; remember() must not be called on it.
        writer() noexcept = default;
        writer(writer&& other) noexcept
            : ring_(std::exchange(other.ring_, nullptr)),
              overflow_(std::exchange(other.overflow_, nullptr)),
              seed_(other.seed_) {}
        writer& operator=(writer&& other) noexcept {
            if (this != &other) {
                reset();
                ring_ = std::exchange(other.ring_, nullptr);
                overflow_ = std::exchange(other.overflow_, nullptr);
                seed_ = other.seed_;
            }
            return *this;
        }
        writer(const writer&) = delete;
        writer& operator=(const writer&) = delete;
        ~writer() { reset(); }

        /// Makes `id` attributable to `a`. Returns false when the entry was
        /// dropped because the ring (or slow-path slot) was full, or refused
        /// because a.candidate_share_ppm is above 1,000,000; either is
        /// counted (ring_full / overflow_full, rejected_share). Wait-free; no
        /// lock prefix on the ring path (x86-64: plain loads and stores), no
        /// allocation, no clock read. Precondition: attached (made by
        /// make_writer()).
        bool remember(std::string_view id, const attribution& a) noexcept {
            if (a.candidate_share_ppm && *a.candidate_share_ppm > feedback_cohort::one_million)
                return reject();
            return push(hash_request_id(id, seed_), a);
        }
        /// As above, for an id already hashed with the map's key_of().
        bool remember(request_key key, const attribution& a) noexcept {
            if (a.candidate_share_ppm && *a.candidate_share_ppm > feedback_cohort::one_million)
                return reject();
            return push(key, a);
        }
        /// As above, with the candidate's share of traffic at routing as a
        /// fraction, kept in millionths (feedback_cohort::to_ppm; it replaces
        /// a.candidate_share_ppm). A share outside [0, 1], or NaN, refuses the
        /// entry: counted rejected_share, nothing stored, returns false.
        bool remember(std::string_view id, attribution a, double candidate_share) noexcept {
            if (!feedback_cohort::valid_share(candidate_share)) return reject();
            a.candidate_share_ppm = feedback_cohort::to_ppm(candidate_share);
            return push(hash_request_id(id, seed_), a);
        }
        bool remember(request_key key, attribution a, double candidate_share) noexcept {
            if (!feedback_cohort::valid_share(candidate_share)) return reject();
            a.candidate_share_ppm = feedback_cohort::to_ppm(candidate_share);
            return push(key, a);
        }

        /// True when the handle owns a ring; false on the shared slow path
        /// (pool exhausted) or when detached. Wait-free.
        [[nodiscard]] bool has_ring() const noexcept { return ring_ != nullptr; }
        [[nodiscard]] bool attached() const noexcept {
            return ring_ != nullptr || overflow_ != nullptr;
        }

        /// Gives the ring back (entries already pushed stay for the next
        /// drain) and detaches. Wait-free.
        void reset() noexcept {
            if (ring_ != nullptr) ring_->release();
            ring_ = nullptr;
            overflow_ = nullptr;
        }

    private:
        friend class basic_attribution_map;
        template <class>
        friend class basic_feedback_tracker;

        writer(detail::attribution_ring* ring, detail::attribution_overflow* overflow,
               hash_seed seed) noexcept
            : ring_(ring), overflow_(overflow), seed_(seed) {}

        // Precondition: a.candidate_share_ppm is empty or <= one million.
        // Inlined: the request path; GCC otherwise keeps it out of line
        // (measured side by side: remember/key 2.6-2.9 ns inlined, 4.8 ns not).
        CANARYGATE_ALWAYS_INLINE bool push(request_key key, const attribution& a) noexcept {
            assert(attached());
            const auto e = detail::attribution_entry::make(
                key, a.response_time_ns, a.model_version, a.arm,
                a.candidate_share_ppm ? *a.candidate_share_ppm : detail::share_unknown);
            return ring_ != nullptr ? ring_->push(e) : overflow_->push(e);
        }
        bool reject() noexcept {
            assert(attached());
            if (ring_ != nullptr) {
                ring_->count_rejected();
            } else {
                overflow_->count_rejected();
            }
            return false;
        }
        // Detaches without touching the ring: for a feedback_tracker's
        // thread cache whose map is already gone (its destructor gave every
        // ring back).
        void abandon() noexcept {
            ring_ = nullptr;
            overflow_ = nullptr;
        }

        detail::attribution_ring* ring_ = nullptr;
        detail::attribution_overflow* overflow_ = nullptr;
        hash_seed seed_{};
    };

    /// Allocates everything: the record table, the ring pool, the slow-path
    /// slots and the pending list with its index. Throws
    /// std::invalid_argument naming the field and its value when `config` is
    /// invalid (see attribution_config::validate()), std::bad_alloc when
    /// memory is short.
    explicit basic_attribution_map(const attribution_config& config)
        : config_(checked(config)),
          seed_(*config_.seed),
          table_(config_.capacity, config_.ttl_ns),
          rings_(config_.writer_rings),
          ring_entries_(config_.writer_rings * config_.ring_capacity),
          overflow_(config_.overflow_capacity),
          pending_(config_.pending_capacity) {
        for (std::size_t i = 0; i < rings_.size(); ++i) {
            rings_[i].attach(ring_entries_.data() + i * config_.ring_capacity,
                             config_.ring_capacity);
        }
    }

    basic_attribution_map(const basic_attribution_map&) = delete;
    basic_attribution_map& operator=(const basic_attribution_map&) = delete;

    /// Precondition: no writer is attached any more.
    ~basic_attribution_map() {
#ifndef NDEBUG
        for (std::size_t i = 0; i < rings_.size(); ++i) assert(!rings_[i].claimed());
#endif
    }

    /// The configuration, with the seed actually used filled in.
    [[nodiscard]] const attribution_config& config() const noexcept { return config_; }

    /// A writer for the calling thread: a free ring of the pool, preferring
    /// one the owner has drained (a thread that exits gives its ring back
    /// with whatever the owner has not drained yet, which the next claimant
    /// would otherwise inherit while drained rings sit idle), or the shared
    /// slow path when every ring is taken (counted in overflow_writers). Any
    /// thread. Wait-free: at most two passes, one CAS per ring and pass.
    [[nodiscard]] writer make_writer() noexcept {
        for (std::size_t i = 0; i < rings_.size(); ++i) {
            if (rings_[i].looks_drained() && rings_[i].try_claim())
                return writer(&rings_[i], nullptr, seed_);
        }
        for (std::size_t i = 0; i < rings_.size(); ++i) {
            if (rings_[i].try_claim()) return writer(&rings_[i], nullptr, seed_);
        }
        // Relaxed: a statistic.
        overflow_writers_.fetch_add(1, std::memory_order_relaxed);
        return writer(nullptr, &overflow_, seed_);
    }

    /// The key remember() and resolve() use for `id`. Any thread; wait-free.
    [[nodiscard]] request_key key_of(std::string_view id) const noexcept {
        return hash_request_id(id, seed_);
    }

    /// Owner's tick: moves every remembered entry into the map, marks records
    /// past their TTL, and retries parked feedback: for each whose request is
    /// now known and within TTL, calls `on_late(const attribution&, const
    /// Payload&)` (counted resolved_late); parked feedback whose (request,
    /// kind) was attributed meanwhile counts duplicate_feedback, parked
    /// feedback whose request has expired counts expired_id, and feedback
    /// parked longer than pending_ttl_ns counts unknown_id. Returns the
    /// number of entries moved. Owner only. Wait-free as long as `on_late`
    /// is (bounded work, no lock, no allocation): O(entries moved + rings +
    /// slow-path slots + parked feedback), about 50 ns per entry moved. If
    /// `on_late` throws, the exception propagates; the feedback it was given
    /// counts as delivered and the remaining parked feedback stays parked.
    template <class OnLate>
    std::size_t drain(std::int64_t now_ns, OnLate&& on_late) {
        const std::size_t moved = collect(now_ns);
        for (std::size_t i = 0; i < pending_.size();) {
            const auto p = pending_[i];
            detail::attribution_record* r = table_.find(p.key);
            if (r == nullptr &&
                !detail::attribution_expired(p.arrival_ns, now_ns, config_.pending_ttl_ns)) {
                ++i;
                continue;
            }
            pending_.erase(i);  // the last entry moves to i: look at i again
            const detail::feedback_mask bit = detail::payload_feedback_bit(p.payload);
            if (r == nullptr) {
                ++unknown_id_;
            } else if ((r->attributed() & bit) != 0) {
                // Attributed by a lookup after this feedback was parked (its
                // request was drained by that lookup, then a retry came).
                ++duplicate_feedback_;
            } else if (table_.expired(*r, now_ns)) {
                ++expired_id_;
            } else {
                r->attribute(bit);
                ++resolved_late_;
                on_late(attribution_of(*r), p.payload);
            }
        }
        return moved;
    }

    /// Looks up the request `id` at `now_ns`, after draining the rings (so a
    /// request remembered before this call is found), for feedback that
    /// names no kind: the first such lookup of a request within its TTL is
    /// answered resolved, later ones duplicate_feedback. Counts the answer
    /// (resolved, expired_id, unknown_id or duplicate_feedback). Owner only.
    /// Wait-free (bounded work, no lock, no allocation): O(rings + entries
    /// drained + |id|).
    resolution resolve(std::string_view id, std::int64_t now_ns) noexcept {
        return resolve(key_of(id), now_ns);
    }
    resolution resolve(request_key key, std::int64_t now_ns) noexcept {
        return resolve_bit(key, detail::feedback_untyped, now_ns);
    }
    /// As above, for feedback of kind `kind`: the first lookup of each kind
    /// resolves, later ones of the same kind are duplicate_feedback. (A value
    /// outside the enum counts as untyped.)
    resolution resolve(std::string_view id, feedback_kind kind, std::int64_t now_ns) noexcept {
        return resolve(key_of(id), kind, now_ns);
    }
    resolution resolve(request_key key, feedback_kind kind, std::int64_t now_ns) noexcept {
        return resolve_bit(key, detail::feedback_bit(kind), now_ns);
    }

    /// As resolve(), for `payload`'s kind (see the class comment), but
    /// feedback for an unknown id is parked (status deferred) with `payload`
    /// until a drain() finds its request, answered duplicate_feedback when
    /// the same (id, kind) is already parked, or dropped with status
    /// pending_full when the pending list is full. With pending_capacity 0
    /// an unknown id is answered unknown_id. Owner only. Wait-free (bounded
    /// work, no lock, no allocation), like resolve().
    resolution resolve_or_defer(std::string_view id, const Payload& payload,
                                std::int64_t now_ns) noexcept {
        return resolve_or_defer(key_of(id), payload, now_ns);
    }
    resolution resolve_or_defer(request_key key, const Payload& payload,
                                std::int64_t now_ns) noexcept {
        collect(now_ns);
        ++lookups_;
        const detail::feedback_mask bit = detail::payload_feedback_bit(payload);
        resolution r = lookup(key, bit, now_ns);
        if (r.status != resolve_status::unknown_id) return r;
        if (config_.pending_capacity == 0) {
            ++unknown_id_;
        } else if (pending_.contains(key, bit)) {
            ++duplicate_feedback_;
            r.status = resolve_status::duplicate_feedback;
        } else if (pending_.full()) {
            ++pending_full_;
            r.status = resolve_status::pending_full;
        } else {
            pending_.push({key, now_ns, payload});  // capacity reserved: never allocates
            r.status = resolve_status::deferred;
        }
        return r;
    }

    /// Every counter; see attribution_stats for the conservation laws. Owner
    /// only (writer-side counters are read with relaxed loads and may lag
    /// remember() calls in flight). Wait-free, O(rings).
    [[nodiscard]] attribution_stats stats() const noexcept {
        attribution_stats s;
        for (std::size_t i = 0; i < rings_.size(); ++i) {
            const std::uint64_t pushed = rings_[i].pushed();
            s.remembered += pushed;
            s.in_flight += pushed - rings_[i].popped();
            s.ring_full += rings_[i].dropped();
            s.rejected_share += rings_[i].rejected();
        }
        s.overflow_remembered = overflow_.pushed();
        s.remembered += s.overflow_remembered;
        s.in_flight += s.overflow_remembered - overflow_.drained();
        s.overflow_full = overflow_.dropped();
        s.rejected_share += overflow_.rejected();
        // Relaxed: a statistic.
        s.overflow_writers = overflow_writers_.load(std::memory_order_relaxed);
        s.duplicate = table_.duplicate();
        s.live = table_.live();
        s.evicted = table_.evicted();
        s.expired = table_.expired();
        s.retired = table_.retired();
        s.lookups = lookups_;
        s.resolved = resolved_;
        s.resolved_late = resolved_late_;
        s.expired_id = expired_id_;
        s.unknown_id = unknown_id_;
        s.pending_full = pending_full_;
        s.pending = pending_.size();
        s.duplicate_feedback = duplicate_feedback_;
        return s;
    }

    /// Bytes allocated by the constructor: 48 per record (32 + a 2x index of
    /// 8-byte slots, rounded up to a power of two), 32 per ring entry + 128
    /// per ring, 64 per slow-path slot, and the pending list (its entries
    /// and a 2x index of 8-byte slots, rounded up to a power of two).
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return table_.memory_bytes() + rings_.size() * sizeof(detail::attribution_ring) +
               ring_entries_.size() * sizeof(detail::attribution_entry) +
               config_.overflow_capacity * cache_line_size + pending_.memory_bytes();
    }

private:
    template <class>
    friend class basic_feedback_tracker;

    static attribution_config checked(attribution_config config) {
        config.validate();
        if (!config.seed) config.seed = hash_seed::random();
        return config;
    }

    static attribution attribution_of(const detail::attribution_record& r) noexcept {
        const std::uint32_t share = r.share_code();
        return {
            r.arm, r.model_version, r.response_time_ns,
            share == detail::share_unknown ? std::nullopt : std::optional<std::uint32_t>(share)};
    }

    std::size_t collect(std::int64_t now_ns) noexcept {
        table_.expire(now_ns);
        const auto insert = [this, now_ns](const detail::attribution_entry& e) noexcept {
            (void)table_.insert(e, now_ns);
        };
        std::size_t moved = 0;
        for (std::size_t i = 0; i < rings_.size(); ++i) moved += rings_[i].drain(insert);
        moved += overflow_.drain(insert);
        // Again after the inserts: entries that arrived past their TTL (the
        // owner stalled, or clock skew) are counted now if they are at the front.
        if (moved != 0) table_.expire(now_ns);
        return moved;
    }

    resolution resolve_bit(request_key key, detail::feedback_mask bit,
                           std::int64_t now_ns) noexcept {
        collect(now_ns);
        ++lookups_;
        const resolution r = lookup(key, bit, now_ns);
        if (r.status == resolve_status::unknown_id) ++unknown_id_;
        return r;
    }

    // Finds the record; counts resolved, duplicate_feedback and expired_id,
    // leaves unknown_id to the caller (which may park instead). A duplicate
    // is recognised before the TTL: a retry that comes after the TTL is
    // still the feedback already counted, not feedback lost to the TTL.
    resolution lookup(request_key key, detail::feedback_mask bit, std::int64_t now_ns) noexcept {
        detail::attribution_record* r = table_.find(key);
        if (r == nullptr) return {resolve_status::unknown_id, {}};
        if ((r->attributed() & bit) != 0) {
            ++duplicate_feedback_;
            return {resolve_status::duplicate_feedback, attribution_of(*r)};
        }
        if (table_.expired(*r, now_ns)) {
            ++expired_id_;
            return {resolve_status::expired_id, attribution_of(*r)};
        }
        r->attribute(bit);
        ++resolved_;
        return {resolve_status::resolved, attribution_of(*r)};
    }

    // For a feedback_tracker whose map is being destroyed while threads
    // still cache writers of it: gives every ring back, so the destructor's
    // check holds. Those writers are abandoned, never used again (their
    // tracker is gone; see feedback_tracker.hpp).
    void release_abandoned_rings() noexcept {
        for (std::size_t i = 0; i < rings_.size(); ++i) rings_[i].release();
    }

    attribution_config config_;
    hash_seed seed_;
    detail::attribution_table table_;
    detail::cache_aligned_array<detail::attribution_ring> rings_;
    detail::cache_aligned_array<detail::attribution_entry> ring_entries_;
    detail::attribution_overflow overflow_;
    detail::attribution_pending<Payload> pending_;
    // Owner-only counters (plain: one thread at a time touches them).
    std::uint64_t lookups_ = 0;
    std::uint64_t resolved_ = 0;
    std::uint64_t resolved_late_ = 0;
    std::uint64_t expired_id_ = 0;
    std::uint64_t unknown_id_ = 0;
    std::uint64_t pending_full_ = 0;
    std::uint64_t duplicate_feedback_ = 0;
    // Written by make_writer() from any thread; its own line keeps those
    // rare writes away from the owner's fields.
    alignas(cache_line_size) std::atomic<std::uint64_t> overflow_writers_{0};
};

/// The map with the default payload (canarygate::feedback_event).
using attribution_map = basic_attribution_map<feedback_event>;

CANARYGATE_NAMESPACE_END
