// SPDX-License-Identifier: MIT
/// \file
/// `basic_collector`: turns a recorder's shards into time slots, rolling
/// windows and cumulative totals, and produces `snapshot`s.
///
/// At every tick the collector reads every owned or orphaned shard (relaxed
/// loads; an acquire CAS before folding an orphan), sums them with the
/// recorder's retired base, and takes the difference to its previous sum
/// modulo 2^64. That delta goes into the open time slot and the totals as
/// exact `wide_uint`s (bucket counts as u64). When the clock passes a slot
/// boundary the slot is sealed into a ring, and every window's running sum
/// gains the new slot and loses the one that left it, exactly.
///
/// Slots are aligned to multiples of `slot_length` on the clock's epoch, so
/// the windows of every replica of a fleet line up and merge.
///
/// Clock readings must lie in [-2^62, 2^62] ns (`collector_clock_limit_ns`:
/// about 146 years either side of the epoch, 1824 to 2116 on the Unix
/// epoch), which keeps every slot bound and slot index computation within 64
/// bits for any slot length. A reading outside it (a broken clock, an
/// uninitialised time source) is counted in "collector.clock_out_of_range"
/// and does not move time; the tick still reads the shards into the open
/// slot, so no record is lost or misplaced.
///
/// Example (caller-driven, as in tests):
/// \code
///   canarygate::recorder rec;
///   auto arm = rec.add_arm("candidate", "sha256:ab12");
///   canarygate::basic_collector<canarygate::recorder, canarygate::manual_clock> col(rec);
///   rec.record(arm, outcome);
///   col.clock().advance(std::chrono::seconds(10));
///   col.tick();                                       // seals slot [0 s, 10 s)
///   canarygate::snapshot five_minutes = col.window(0);
/// \endcode
///
/// Or with a background thread, reading published snapshots elsewhere:
/// \code
///   canarygate::collector<canarygate::recorder> col(rec);
///   col.start(std::chrono::seconds(1));
///   std::shared_ptr<const canarygate::collector_snapshots> s = col.latest();
/// \endcode
///
/// Exactness: the cumulative snapshot equals everything recorded, and every record lands in
/// exactly one slot. A tick may miss records in flight (a record half written
/// when its shard was read); they appear, whole, at the next tick. Counters
/// wrap modulo 2^64 in the shards; the collector's delta of a counter (its
/// retired base plus every live shard, against the previous tick's sum) is
/// exact while the counter's true total advances by less than 2^64 between
/// two ticks. Every default counter advances by at most 2^32 + 1 per record,
/// so that holds while fewer than 2^31 records (all threads together) arrive
/// between two ticks: two billion per tick, where an inference server sees
/// thousands per second. Windows and totals are exact modulo 2^128 (scalars)
/// and 2^64 (bucket counts, i.e. records).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "canarygate/core/clock.hpp"
#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/record/metrics.hpp"
#include "canarygate/record/recorder.hpp"
#include "canarygate/record/series.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// How a collector slices time. Checked at construction.
struct collector_config {
    /// Length of a time slot: the granularity of windows.
    std::chrono::nanoseconds slot_length = std::chrono::seconds(10);
    /// Rolling windows, each a positive multiple of slot_length. Windows
    /// cover sealed slots only: the most recent `length` of complete slots.
    std::vector<std::chrono::nanoseconds> windows = {std::chrono::minutes(5),
                                                     std::chrono::minutes(15)};
    /// Build every window's and the cumulative snapshot at each tick and publish
    /// them for latest(). Off: only window() / cumulative() on demand.
    bool publish = true;
};

/// The largest |clock reading| a collector uses, 2^62 ns (about 146 years).
/// Why this bound: with |t| <= 2^62, the start of t's slot, floor(t / L) * L,
/// is at least -2^62 - L + 1 > -2^63 for any slot length L <= 2^62 (and -L
/// for longer ones), the end of a sealed slot is at most the latest reading,
/// and a slot index plus a ring length (at most 10^6 slots) stays far from
/// 2^63. So no slot arithmetic overflows, whatever slot_length and windows
/// the configuration admits (jumps are measured as index + ring, never as a
/// difference of indices, which can reach 2^63 with 1 ns slots).
inline constexpr std::int64_t collector_clock_limit_ns = std::int64_t{1} << 62;

/// What a tick publishes: one snapshot per configured window (same order)
/// and the cumulative one (everything since the recorder started). Immutable
/// once published.
struct collector_snapshots {
    std::int64_t tick_ns = 0;
    std::vector<snapshot> windows;
    snapshot cumulative;
};

/// Reads a recorder's shards into slots, windows and totals. See the file
/// comment.
///
/// \tparam Recorder a basic_recorder instantiation.
/// \tparam Clock    a clock_source (clock.hpp): std::chrono::system_clock by
///                  default; manual_clock in tests.
///
/// Clock readings: time only moves forward. A reading earlier than the
/// latest one is counted in "collector.clock_backwards"; a reading outside
/// [-collector_clock_limit_ns, collector_clock_limit_ns] (2^62 ns) is counted
/// in "collector.clock_out_of_range" (and only there). Either way the tick
/// reads the shards into the open slot and seals nothing; before the first
/// reading in range, what was read waits in the slot that reading opens.
///
/// Thread safety: every member is blocking (one internal mutex), so ticks
/// from a background thread and queries from another thread are serialised.
/// One collector per recorder (the second throws): only it folds the shards
/// of exited threads. The recorder must outlive the collector.
template <class Recorder, class Clock = std::chrono::system_clock>
class basic_collector {
    static_assert(clock_source<Clock>,
                  "Clock needs now() returning ns, a duration or a time_point");

public:
    using recorder_type = Recorder;
    using clock_type = Clock;

    /// Attaches to `source`. Blocking, allocates. Throws
    /// std::invalid_argument naming the field for a bad configuration
    /// (slot_length <= 0, a window <= 0 or not a multiple of slot_length,
    /// more than 10^6 slots in a window), and std::logic_error when the
    /// recorder already has a collector.
    explicit basic_collector(Recorder& source, collector_config settings = {},
                             Clock time_source = Clock{})
        : recorder_(source), config_(std::move(settings)), clock_(std::move(time_source)) {
        validate(config_);
        slot_ns_ = config_.slot_length.count();
        std::int64_t ring = 1;
        for (const auto w : config_.windows) {
            windows_.push_back(window_state{w.count() / slot_ns_, make_block()});
            ring = std::max(ring, w.count() / slot_ns_);
        }
        ring_.resize(static_cast<std::size_t>(ring));
        open_ = make_block();
        totals_ = make_block();
        current_.assign(flat_size, 0);
        last_.assign(flat_size, 0);
        // (6) acquire: pairs with (7) in a previous collector's destructor, so
        // this one reads the retired base that collector left behind.
        if (recorder_.collector_attached_.exchange(true, std::memory_order_acquire)) {
            detail::throw_logic_error(
                "canarygate::basic_collector: the recorder already has a collector");
        }
    }
    basic_collector(const basic_collector&) = delete;
    basic_collector& operator=(const basic_collector&) = delete;

    /// Stops the background thread (if any) and detaches. Blocking.
    ~basic_collector() {
        stop();
        // (7) release: publishes the retired base to the next collector (6).
        recorder_.collector_attached_.store(false, std::memory_order_release);
    }

    /// Reads the clock, then tick(now). Blocking.
    void tick() { tick(now_ns(clock_)); }

    /// Reads every shard, adds the deltas to the open slot and the totals,
    /// and seals slots up to the one holding `now` (ns; see the file
    /// comment). A reading earlier than the latest one is counted
    /// ("collector.clock_backwards") and its deltas go to the open slot;
    /// time never moves back. A reading outside [-collector_clock_limit_ns,
    /// collector_clock_limit_ns] is counted ("collector.clock_out_of_range")
    /// and treated the same way; before the first reading in range starts
    /// the slots, its deltas wait in the open slot. A jump forward by any
    /// amount costs at most one ring of empty slots. Blocking; O(shards in
    /// use * counters per arm * arms + min(slots passed, ring)). Throws
    /// std::bad_alloc when sealing or publishing cannot allocate; the counts
    /// stay consistent (a slot that could not be sealed is sealed by the
    /// next tick).
    void tick(std::int64_t now) {
        const std::lock_guard lock(mutex_);
        refresh_arms();
        const bool in_range = now >= -collector_clock_limit_ns && now <= collector_clock_limit_ns;
        // Only computed in range: see collector_clock_limit_ns.
        const std::int64_t slot = in_range ? detail::floor_div(now, slot_ns_) : 0;
        if (!started_ && in_range) {
            started_ = true;
            open_index_ = slot;
            first_index_ = slot;
            latest_ns_ = now;
        }
        read_shards();
        if (!in_range) {
            open_.scalars[global_clock_out_of_range] += 1;
            totals_.scalars[global_clock_out_of_range] += 1;
        } else if (now < latest_ns_) {
            open_.scalars[global_clock_backwards] += 1;
            totals_.scalars[global_clock_backwards] += 1;
        } else {
            latest_ns_ = now;
            if (slot > open_index_) advance_to(slot);
        }
        ++ticks_;
        if (config_.publish) {
            auto published = std::make_shared<collector_snapshots>();
            published->tick_ns = latest_ns_;
            for (std::size_t w = 0; w < windows_.size(); ++w) {
                published->windows.push_back(window_locked(w));
            }
            published->cumulative = cumulative_locked();
            // Still under mutex_: publications happen in tick order.
            const std::lock_guard publish_lock(published_mutex_);
            published_ = std::move(published);
        }
    }

    /// Window `i` (in config().windows order) over the sealed slots, with its
    /// bounds in ns: [start of its oldest slot, end of the newest sealed
    /// slot). Empty, with start == end, before the first slot is sealed.
    /// Blocking, allocates. Throws std::out_of_range for a bad index.
    [[nodiscard]] snapshot window(std::size_t i) const {
        const std::lock_guard lock(mutex_);
        if (i >= windows_.size()) {
            detail::throw_out_of_range(
                "canarygate::basic_collector::window: index " + std::to_string(i) +
                " >= " + std::to_string(windows_.size()) + " configured windows");
        }
        return window_locked(i);
    }

    /// Everything the recorder ever recorded, as read by the latest tick (the
    /// open slot included; records made before the first tick count in the
    /// first slot). Counters only grow: serve this one to Prometheus.
    /// Bounds: [start of the first slot, latest tick]. Blocking, allocates.
    [[nodiscard]] snapshot cumulative() const {
        const std::lock_guard lock(mutex_);
        return cumulative_locked();
    }

    /// The snapshots the latest tick published (config().publish), or
    /// nullptr before the first. Blocking only for a pointer copy; the
    /// result is immutable and safe to keep in any thread.
    [[nodiscard]] std::shared_ptr<const collector_snapshots> latest() const {
        const std::lock_guard lock(published_mutex_);
        return published_;
    }

    /// Starts a background thread that ticks every `interval` (steady time)
    /// until stop() or destruction. Errors in a tick (std::bad_alloc) are
    /// counted in background_errors() and the thread goes on. Throws
    /// std::invalid_argument for interval <= 0, std::logic_error when already
    /// running, std::system_error when no thread can be started.
    void start(std::chrono::nanoseconds interval = std::chrono::seconds(1)) {
        if (interval <= std::chrono::nanoseconds::zero()) {
            detail::throw_invalid_argument("canarygate::basic_collector::start: interval = " +
                                           std::to_string(interval.count()) +
                                           " ns must be positive");
        }
        const std::lock_guard lock(thread_mutex_);
        if (thread_.joinable()) {
            detail::throw_logic_error("canarygate::basic_collector::start: already running");
        }
        thread_ = std::jthread([this, interval](std::stop_token stop) { run(stop, interval); });
    }

    /// Stops the background thread and waits for it. Blocking.
    void stop() noexcept {
        const std::lock_guard lock(thread_mutex_);
        if (!thread_.joinable()) return;
        thread_.request_stop();
        thread_.join();
        thread_ = std::jthread();
    }

    /// True while a background thread runs. Blocking.
    [[nodiscard]] bool running() const {
        const std::lock_guard lock(thread_mutex_);
        return thread_.joinable();
    }

    /// Ticks so far. Blocking.
    [[nodiscard]] std::uint64_t ticks() const {
        const std::lock_guard lock(mutex_);
        return ticks_;
    }
    /// Background ticks that threw (and were skipped). Wait-free.
    [[nodiscard]] std::uint64_t background_errors() const noexcept {
        // relaxed: a statistic.
        return background_errors_.load(std::memory_order_relaxed);
    }

    /// The injected clock (e.g. to advance a manual_clock). Wait-free. Only
    /// clocks that are safe to read concurrently (manual_clock, chrono
    /// clocks) may be moved while a background thread runs.
    [[nodiscard]] Clock& clock() noexcept { return clock_; }
    /// The configuration, as given. Wait-free.
    [[nodiscard]] const collector_config& config() const noexcept { return config_; }

    /// Bytes held by the ring of sealed slots (they are sparse: only
    /// non-zero counters are kept). Blocking.
    [[nodiscard]] std::size_t ring_bytes() const {
        const std::lock_guard lock(mutex_);
        std::size_t bytes = 0;
        for (const auto& s : ring_) {
            bytes += s.scalars.capacity() * sizeof(s.scalars[0]) +
                     s.arrays.capacity() * sizeof(s.arrays[0]);
        }
        return bytes + scratch_.scalars.capacity() * sizeof(scratch_.scalars[0]) +
               scratch_.arrays.capacity() * sizeof(scratch_.arrays[0]);
    }

private:
    using metrics = typename Recorder::metrics_type;
    static constexpr std::size_t max_arms = Recorder::traits_type::max_arms;
    static constexpr std::size_t scalars_per_arm = Recorder::arm_scalar_count;
    static constexpr std::size_t arrays_per_arm = Recorder::arm_array_count;
    static constexpr std::size_t cells_per_arm = scalars_per_arm + arrays_per_arm;
    // Recorder-wide scalars of a block: the shards' global line, then the
    // collector's own.
    static constexpr std::size_t global_clock_backwards = detail::global_count;
    static constexpr std::size_t global_clock_out_of_range = detail::global_count + 1;
    static constexpr std::size_t block_globals = detail::global_count + 2;
    // The flat reading of all shards: the shards' globals, then each arm's
    // scalars and arrays (the shard layout without padding).
    static constexpr std::size_t flat_size = detail::global_count + max_arms * cells_per_arm;

    // Dense accumulators: recorder-wide scalars, then max_arms blocks of
    // scalars_per_arm; and max_arms blocks of arrays_per_arm bucket counts.
    struct block {
        std::vector<wide_uint> scalars;
        std::vector<std::uint64_t> arrays;
    };
    // A sealed slot, sparse: (index into block, value) of non-zero counters.
    struct sealed_slot {
        std::int64_t index = std::numeric_limits<std::int64_t>::min();  // none
        std::vector<std::pair<std::uint32_t, wide_uint>> scalars;
        std::vector<std::pair<std::uint32_t, std::uint64_t>> arrays;
    };
    struct window_state {
        std::int64_t slots;
        block sum;
    };

    static void validate(const collector_config& c) {
        if (c.slot_length <= std::chrono::nanoseconds::zero()) {
            detail::throw_invalid_argument("canarygate::collector_config: slot_length = " +
                                           std::to_string(c.slot_length.count()) +
                                           " ns must be positive");
        }
        for (std::size_t i = 0; i < c.windows.size(); ++i) {
            const std::int64_t w = c.windows[i].count();
            const std::string field = "canarygate::collector_config: windows[" + std::to_string(i) +
                                      "] = " + std::to_string(w) + " ns ";
            if (w <= 0) detail::throw_invalid_argument(field + "must be positive");
            if (w % c.slot_length.count() != 0) {
                detail::throw_invalid_argument(field + "is not a multiple of slot_length = " +
                                               std::to_string(c.slot_length.count()) + " ns");
            }
            if (w / c.slot_length.count() > 1'000'000) {
                detail::throw_invalid_argument(field + "spans more than 1000000 slots");
            }
        }
    }

    [[nodiscard]] static block make_block() {
        return {std::vector<wide_uint>(block_globals + max_arms * scalars_per_arm),
                std::vector<std::uint64_t>(max_arms * arrays_per_arm, 0)};
    }

    void run(const std::stop_token& stop, std::chrono::nanoseconds interval) {
        std::mutex wait_mutex;
        std::condition_variable_any wake;
        std::unique_lock wait_lock(wait_mutex);
        while (!stop.stop_requested()) {
            CANARYGATE_TRY { tick(); }
            CANARYGATE_CATCH(...) {
                // relaxed: a statistic.
                background_errors_.fetch_add(1, std::memory_order_relaxed);
            }
            // Returns early when stop is requested (the stop_token overload
            // registers a callback that notifies `wake`).
            wake.wait_for(wait_lock, stop, interval, [] { return false; });
        }
    }

    void refresh_arms() {
        if (recorder_.arm_count() != arms_.size()) arms_ = recorder_.arms();
    }

    // current_ = retired base + every live shard (mod 2^64); folds orphans;
    // then adds current_ - last_ to the open slot and the totals.
    void read_shards() {
        detail::shard_pool& pool = *recorder_.pool_;
        const std::vector<std::uint64_t>& base = pool.retired_base();
        const std::size_t arms = arms_.size();
        const std::size_t used = detail::global_count + arms * cells_per_arm;

        auto gather = [&](std::vector<std::uint64_t>& into, auto&& cell) {
            for (std::size_t g = 0; g < detail::global_count; ++g) into[g] += cell(g);
            for (std::size_t a = 0; a < arms; ++a) {
                const std::size_t from = detail::global_stride + a * Recorder::arm_stride;
                std::uint64_t* to = into.data() + detail::global_count + a * cells_per_arm;
                for (std::size_t k = 0; k < cells_per_arm; ++k) to[k] += cell(from + k);
            }
        };
        std::fill(current_.begin(), current_.begin() + static_cast<std::ptrdiff_t>(used), 0);
        gather(current_, [&](std::size_t c) { return base[c]; });

        for (std::size_t s = 0; s <= pool.max_shards(); ++s) {
            bool fold = false;
            if (s < pool.max_shards()) {
                std::atomic<detail::shard_state>& state = pool.state(s);
                // relaxed: decides only whether to read; a shard claimed just
                // after this load holds counts this tick misses and the next
                // one reads. Orphans are taken with the CAS (2) below.
                detail::shard_state st = state.load(std::memory_order_relaxed);
                if (st == detail::shard_state::free) continue;
                if (st == detail::shard_state::orphaned) {
                    // (2) acquire: pairs with the writer's release (1), so the
                    // reads below see the orphan's final counts. Failure (a
                    // writer adopted it first): relaxed, it is read as owned.
                    fold = state.compare_exchange_strong(st, detail::shard_state::folding,
                                                         std::memory_order_acquire,
                                                         std::memory_order_relaxed);
                }
            }
            detail::counter_cell* cells = pool.shard(s);
            gather(current_, [&](std::size_t c) {
                // relaxed: the owner may be writing; any value it stored is a
                // valid cumulative count, and deltas are taken per counter.
                return cells[c].load(std::memory_order_relaxed);
            });
            if (fold) fold_shard(pool, s);
        }

        for (std::size_t i = 0; i < used; ++i) {
            const std::uint64_t delta = current_[i] - last_[i];  // exact modulo 2^64
            last_[i] = current_[i];
            if (delta == 0) continue;
            add_flat(open_, i, delta);
            add_flat(totals_, i, delta);
        }
    }

    // Moves an orphan's final counts (every arm, registered or not) into the
    // retired base, zeroes it and frees it for the next writer.
    static void fold_shard(detail::shard_pool& pool, std::size_t s) {
        std::vector<std::uint64_t>& base = pool.retired_base();
        detail::counter_cell* cells = pool.shard(s);
        for (std::size_t c = 0; c < pool.shard_cells(); ++c) {
            // relaxed: ordered after the owner's last store by (2); nobody
            // writes a shard in the folding state.
            base[c] += cells[c].load(std::memory_order_relaxed);
            // relaxed: published to the next owner by (3).
            cells[c].store(0, std::memory_order_relaxed);
        }
        // (3) release: pairs with a claimer's acquire (5), which then reads
        // the zeros above.
        pool.state(s).store(detail::shard_state::free, std::memory_order_release);
    }

    static void add_flat(block& b, std::size_t flat, std::uint64_t delta) {
        if (flat < detail::global_count) {
            b.scalars[flat] += delta;
            return;
        }
        const std::size_t arm = (flat - detail::global_count) / cells_per_arm;
        const std::size_t k = (flat - detail::global_count) % cells_per_arm;
        if (k < scalars_per_arm) {
            b.scalars[block_globals + arm * scalars_per_arm + k] += delta;
        } else {
            b.arrays[arm * arrays_per_arm + (k - scalars_per_arm)] += delta;
        }
    }

    // Seals slots open_index_ .. target - 1 and opens `target`.
    void advance_to(std::int64_t target) {
        seal(open_index_, true);
        const auto ring = static_cast<std::int64_t>(ring_.size());
        std::int64_t k = open_index_ + 1;
        // target > open_index_ + ring, not target - open_index_ > ring: with
        // 1 ns slots the difference of two indices in range can reach 2^63.
        if (target > open_index_ + ring) {
            // Every slot still in a window would expire before `target`: the
            // windows become empty and the ring holds nothing. O(ring).
            for (auto& w : windows_) clear_block(w.sum);
            for (auto& s : ring_) clear_slot(s);
            k = target;
            newest_sealed_ = target - 1;
            has_sealed_ = true;
        }
        for (; k < target; ++k) seal(k, false);
        open_index_ = target;
    }

    [[nodiscard]] std::size_t ring_position(std::int64_t slot) const noexcept {
        const auto ring = static_cast<std::int64_t>(ring_.size());
        return static_cast<std::size_t>(((slot % ring) + ring) % ring);
    }

    // Seals slot k: the open block when `with_data`, else an empty slot.
    // The only allocation (the sparse copy) happens before any state changes,
    // so std::bad_alloc leaves the collector as it was: the open slot keeps
    // its counts and the next tick seals it again.
    void seal(std::int64_t k, bool with_data) {
        scratch_.index = k;
        scratch_.scalars.clear();
        scratch_.arrays.clear();
        if (with_data) {
            for (std::size_t i = 0; i < open_.scalars.size(); ++i) {
                if (open_.scalars[i] != wide_uint{}) {
                    scratch_.scalars.emplace_back(static_cast<std::uint32_t>(i), open_.scalars[i]);
                }
            }
            for (std::size_t i = 0; i < open_.arrays.size(); ++i) {
                if (open_.arrays[i] != 0) {
                    scratch_.arrays.emplace_back(static_cast<std::uint32_t>(i), open_.arrays[i]);
                }
            }
        }
        // From here on nothing allocates.
        for (auto& w : windows_) {
            const std::int64_t expired = k - w.slots;
            if (expired < first_index_) continue;
            const sealed_slot& old = ring_[ring_position(expired)];
            if (old.index != expired) continue;
            for (const auto& [i, v] : old.scalars) w.sum.scalars[i] -= v;
            for (const auto& [i, v] : old.arrays) w.sum.arrays[i] -= v;
        }
        // The ring entry's old vectors become the next scratch (capacity kept).
        std::swap(ring_[ring_position(k)], scratch_);
        if (with_data) {
            const sealed_slot& slot = ring_[ring_position(k)];
            for (auto& w : windows_) {
                for (const auto& [i, v] : slot.scalars) w.sum.scalars[i] += v;
                for (const auto& [i, v] : slot.arrays) w.sum.arrays[i] += v;
            }
            clear_block(open_);
        }
        newest_sealed_ = k;
        has_sealed_ = true;
    }

    static void clear_block(block& b) {
        std::fill(b.scalars.begin(), b.scalars.end(), wide_uint{});
        std::fill(b.arrays.begin(), b.arrays.end(), std::uint64_t{0});
    }
    static void clear_slot(sealed_slot& s) {
        s.index = std::numeric_limits<std::int64_t>::min();
        s.scalars.clear();
        s.arrays.clear();
    }

    [[nodiscard]] snapshot window_locked(std::size_t i) const {
        const window_state& w = windows_[i];
        if (!has_sealed_) {
            const std::int64_t at = open_index_ * slot_ns_;
            return make_snapshot(w.sum, at, at);
        }
        const std::int64_t first = std::max(first_index_, newest_sealed_ - w.slots + 1);
        return make_snapshot(w.sum, first * slot_ns_, (newest_sealed_ + 1) * slot_ns_);
    }

    [[nodiscard]] snapshot cumulative_locked() const {
        if (!started_) return make_snapshot(totals_, 0, 0);
        return make_snapshot(totals_, first_index_ * slot_ns_,
                             std::max(latest_ns_, first_index_ * slot_ns_));
    }

    [[nodiscard]] snapshot make_snapshot(const block& b, std::int64_t start,
                                         std::int64_t end) const {
        snapshot s(start, end);
        for (std::size_t a = 0; a < arms_.size(); ++a) {
            arm_snapshot_output out(s.arm(arms_[a].role, arms_[a].model_version));
            const metric_values values(
                std::span<const wide_uint>(b.scalars.data() + block_globals + a * scalars_per_arm,
                                           scalars_per_arm),
                std::span<const std::uint64_t>(b.arrays.data() + a * arrays_per_arm,
                                               arrays_per_arm));
            metrics::export_arm(values, out);
        }
        s.add_counter(series::rejected_unknown_arm, b.scalars[detail::global_unknown_arm]);
        s.add_counter(series::overflow_records, b.scalars[detail::global_overflow_records]);
        s.add_counter(series::overflow_writers, b.scalars[detail::global_overflow_writers]);
        s.add_counter(series::clock_backwards, b.scalars[global_clock_backwards]);
        s.add_counter(series::clock_out_of_range, b.scalars[global_clock_out_of_range]);
        return s;
    }

    Recorder& recorder_;
    collector_config config_;
    Clock clock_;
    std::int64_t slot_ns_ = 0;

    mutable std::mutex mutex_;  // everything below, up to the published state
    std::vector<arm_info> arms_;
    std::vector<std::uint64_t> current_;
    std::vector<std::uint64_t> last_;
    block open_;
    block totals_;
    std::vector<window_state> windows_;
    std::vector<sealed_slot> ring_;
    sealed_slot scratch_;  // the next sealed slot is built here (see seal)
    bool started_ = false;
    bool has_sealed_ = false;
    std::int64_t first_index_ = 0;
    std::int64_t open_index_ = 0;
    std::int64_t newest_sealed_ = 0;
    std::int64_t latest_ns_ = 0;
    std::uint64_t ticks_ = 0;

    mutable std::mutex published_mutex_;
    std::shared_ptr<const collector_snapshots> published_;

    mutable std::mutex thread_mutex_;
    std::jthread thread_;
    std::atomic<std::uint64_t> background_errors_{0};
};

/// A collector on the system clock (the default for production).
template <class Recorder>
using collector = basic_collector<Recorder, std::chrono::system_clock>;

CANARYGATE_NAMESPACE_END
