// SPDX-License-Identifier: MIT
// The traffic router on the request path, and how fast a flip reaches it.
// Every per-decision figure is a ratio to a baseline measured in the same run
// (this machine is shared; absolute nanoseconds drift). Keys are 16 Ki
// distinct UUIDs in text (36 characters), visited in turn so that the hash
// outputs, and so the bucket and shadow branches, are not learnt by the
// branch predictor. Weights 90 / 10 with a 10 % shadow fraction: both arms and
// the shadow test are taken.
//
//   floor/murmur3           canarygate::murmur3_32("", key): the hash of the
//                           key alone, the least any decision costs
//   floor/murmur3_nonascii  the same over the non-ASCII keys' bytes
//   route/flagd_utf8        router::route, flagd_fractional, utf8_bytes (the
//                           default): flag key ‖ key
//   route/flagd_js          flagd_fractional, flagd_javascript, ASCII key: the
//                           same hash as utf8_bytes, by the same byte path
//   route/unleash           unleash_rollout: group id ‖ ":" ‖ key
//   route/nonascii_utf8     a 36-character key whose first 8 characters are
//                           Greek letters (44 bytes), flagd, utf8_bytes
//   route/nonascii_js       the same key under flagd_javascript: UTF-8
//                           decoding, one push per UTF-16 code unit
//
// The packed word against the obvious alternative, at 1 and 2 threads (wall
// time per decision per thread; the threads share one router, as request
// threads do):
//   mt/packed_word             router::route: one acquire load of the packed
//                              64-bit weights
//   mt/atomic_shared_ptr       the weights as an immutable struct published
//                              through std::atomic<std::shared_ptr<const T>>,
//                              then the router's own hash, bucket_target and
//                              shadow_bucket. libstdc++ 12 is not lock-free
//                              here: a load spins for the lock bit kept in the
//                              low bit of the control-block pointer (a CAS on
//                              the atomic, then a fetch_sub to unlock), adds a
//                              reference on the control block and drops it
//                              when the copy dies: four atomic read-modify-
//                              writes on two cache lines that every request
//                              thread writes.
//   mt/shared_ptr_mutex_pool   the C++11 free functions on a plain shared_ptr
//                              (std::atomic_load_explicit): libstdc++ locks
//                              one of a pool of mutexes chosen by the address
//
// Flip visibility: from just before set_weights' store to the moment each of
// N threads spinning on route() has made a decision under the new weights
// (max over the threads), N = 1, 2, 4, 8, over CANARYGATE_BENCH_FLIPS flips
// (default 2,000; the CTest smoke run sets 20). Median, p99 and max per N;
// the benchmark's time column is the median. With --benchmark_repetitions
// the printed table holds the last repetition (the counters hold each).
//
// After the runs, the ratios and the flip table are printed. Use
// --benchmark_repetitions=N for medians of the per-decision rows.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "canarygate/rollout/murmur3.hpp"
#include "canarygate/rollout/router.hpp"
#include "ratio_reporter.hpp"
#include "uuid_keys.hpp"

namespace {

namespace cg = canarygate;

constexpr std::size_t key_count = 1 << 14;
constexpr std::size_t key_mask = key_count - 1;

// 16 Ki UUIDs in text, e.g. "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b".
const std::vector<std::string>& ascii_keys() {
    static const std::vector<std::string> data = bench_support::uuid_texts(key_count, 11);
    return data;
}

// The same UUIDs with the 8 hex digits of the first group written as Greek
// letters (digit d -> U+03B1 + d, two UTF-8 bytes each, a UTF-16 code unit
// above 0xff): still 36 characters, 44 bytes, and non-ASCII, so
// flagd_javascript decodes them.
const std::vector<std::string>& non_ascii_keys() {
    static const std::vector<std::string> data = [] {
        std::vector<std::string> v;
        v.reserve(key_count);
        for (const std::string& ascii : ascii_keys()) {
            std::string key;
            for (std::size_t j = 0; j < 8; ++j) {
                const char c = ascii[j];
                const unsigned digit = c <= '9' ? static_cast<unsigned>(c - '0')
                                                : static_cast<unsigned>(c - 'a') + 10U;
                const unsigned code_point = 0x03B1U + digit;  // below 0x800: two bytes
                key.push_back(static_cast<char>(0xC0U | (code_point >> 6)));
                key.push_back(static_cast<char>(0x80U | (code_point & 0x3FU)));
            }
            key.append(ascii, 8);
            v.push_back(std::move(key));
        }
        return v;
    }();
    return data;
}

constexpr cg::routing_weights bench_weights{.baseline = 90, .candidate = 10, .shadow_ppm = 100'000};

cg::router_config config_of(cg::bucketing scheme, cg::key_hashing hashing) {
    cg::router_config c;
    c.scheme = scheme;
    c.flag_key = "chat-model-rollout";  // flagd's flag key, or Unleash's group id
    c.hashing = hashing;
    return c;
}

// Runs `decide` over the keys in turn; each thread starts elsewhere in them.
template <class Decide>
void run_keys(benchmark::State& state, const std::vector<std::string>& keys, Decide decide) {
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 4099;
    for (auto _ : state) {
        benchmark::DoNotOptimize(decide(std::string_view(keys[i & key_mask])));
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}

// --- The floor: murmur3 of the key alone ----------------------------------------------

void bm_floor_murmur3(benchmark::State& state) {
    run_keys(state, ascii_keys(), [](std::string_view key) { return cg::murmur3_32("", key); });
}
BENCHMARK(bm_floor_murmur3)->Name("floor/murmur3");

void bm_floor_murmur3_non_ascii(benchmark::State& state) {
    run_keys(state, non_ascii_keys(), [](std::string_view key) { return cg::murmur3_32("", key); });
}
BENCHMARK(bm_floor_murmur3_non_ascii)->Name("floor/murmur3_nonascii");

// --- One routing decision --------------------------------------------------------------

void run_route(benchmark::State& state, cg::bucketing scheme, cg::key_hashing hashing,
               const std::vector<std::string>& keys) {
    const cg::router r(config_of(scheme, hashing), bench_weights);
    run_keys(state, keys, [&r](std::string_view key) { return r.route(key); });
}

void bm_route_flagd_utf8(benchmark::State& state) {
    run_route(state, cg::bucketing::flagd_fractional, cg::key_hashing::utf8_bytes, ascii_keys());
}
BENCHMARK(bm_route_flagd_utf8)->Name("route/flagd_utf8");

void bm_route_flagd_js(benchmark::State& state) {
    run_route(state, cg::bucketing::flagd_fractional, cg::key_hashing::flagd_javascript,
              ascii_keys());
}
BENCHMARK(bm_route_flagd_js)->Name("route/flagd_js");

void bm_route_unleash(benchmark::State& state) {
    run_route(state, cg::bucketing::unleash_rollout, cg::key_hashing::utf8_bytes, ascii_keys());
}
BENCHMARK(bm_route_unleash)->Name("route/unleash");

void bm_route_flagd_utf8_non_ascii(benchmark::State& state) {
    run_route(state, cg::bucketing::flagd_fractional, cg::key_hashing::utf8_bytes,
              non_ascii_keys());
}
BENCHMARK(bm_route_flagd_utf8_non_ascii)->Name("route/nonascii_utf8");

void bm_route_flagd_js_non_ascii(benchmark::State& state) {
    run_route(state, cg::bucketing::flagd_fractional, cg::key_hashing::flagd_javascript,
              non_ascii_keys());
}
BENCHMARK(bm_route_flagd_js_non_ascii)->Name("route/nonascii_js");

// --- The packed word against a shared_ptr to an immutable state --------------------------

// What the packed word holds, as a struct that would be replaced whole on a
// flip.
struct routing_state {
    std::uint32_t baseline;
    std::uint32_t candidate;
    std::uint32_t shadow_ppm;
};

using shared_state = std::shared_ptr<const routing_state>;

// router::route with the weights read from `s` instead of the packed word:
// the router's own hash, bucket_target and shadow_bucket.
inline cg::route_decision route_with(const cg::router& r, const routing_state& s,
                                     std::string_view key) noexcept {
    const cg::routing_weights used{s.baseline, s.candidate, s.shadow_ppm};
    if (key.empty()) return {cg::route_target::baseline, s.shadow_ppm == cg::shadow_scale, used};
    const std::uint32_t h = r.hash(key);
    const cg::route_target target = r.bucket_target(h, s.baseline, s.candidate);
    const bool shadow = target == cg::route_target::baseline && s.shadow_ppm != 0 &&
                        cg::router::shadow_bucket(h) < s.shadow_ppm;
    return {target, shadow, used};
}

// Shared by every thread of a run, each on its own cache line so that one
// variant's traffic does not disturb another's.
struct alignas(cg::cache_line_size) shared_router {
    cg::router r{config_of(cg::bucketing::flagd_fractional, cg::key_hashing::utf8_bytes),
                 bench_weights};
};
struct alignas(cg::cache_line_size) shared_atomic_state {
    std::atomic<shared_state> state{std::make_shared<const routing_state>(
        routing_state{bench_weights.baseline, bench_weights.candidate, bench_weights.shadow_ppm})};
};
struct alignas(cg::cache_line_size) shared_plain_state {
    shared_state state = std::make_shared<const routing_state>(
        routing_state{bench_weights.baseline, bench_weights.candidate, bench_weights.shadow_ppm});
};

shared_router& the_router() {
    static shared_router r;
    return r;
}
shared_atomic_state& atomic_state() {
    static shared_atomic_state s;
    return s;
}
shared_plain_state& plain_state() {
    static shared_plain_state s;
    return s;
}

// The three variants decide alike on every key (else the comparison is void).
bool variants_agree() {
    static const bool agree = [] {
        const cg::router& r = the_router().r;
        // acquire: as in bm_atomic_shared_ptr (nothing is stored after the
        // construction, which happened before: any order would do).
        const shared_state s = atomic_state().state.load(std::memory_order_acquire);
        for (const std::string& key : ascii_keys()) {
            if (route_with(r, *s, key) != r.route(key)) return false;
            if (route_with(r, *plain_state().state, key) != r.route(key)) return false;
        }
        return true;
    }();
    return agree;
}

void bm_packed_word(benchmark::State& state) {
    const cg::router& r = the_router().r;
    run_keys(state, ascii_keys(), [&r](std::string_view key) { return r.route(key); });
}
BENCHMARK(bm_packed_word)->Name("mt/packed_word")->Threads(1)->Threads(2)->UseRealTime();

void bm_atomic_shared_ptr(benchmark::State& state) {
    if (!variants_agree()) {
        state.SkipWithError("the shared_ptr variant decides differently from router::route");
        return;
    }
    const cg::router& r = the_router().r;
    std::atomic<shared_state>& published = atomic_state().state;
    run_keys(state, ascii_keys(), [&r, &published](std::string_view key) {
        // acquire: pairs with the release store a flipping thread would
        // publish a new state with, so that the struct it points to is fully
        // visible (libstdc++ upgrades every load below seq_cst to acquire in
        // any case). The copy holds the state for the decision, as a request
        // thread must.
        const shared_state s = published.load(std::memory_order_acquire);
        return route_with(r, *s, key);
    });
    state.counters["is_always_lock_free"] = std::atomic<shared_state>::is_always_lock_free ? 1 : 0;
    state.counters["is_lock_free"] = published.is_lock_free() ? 1 : 0;
}
BENCHMARK(bm_atomic_shared_ptr)
    ->Name("mt/atomic_shared_ptr")
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

void bm_shared_ptr_mutex_pool(benchmark::State& state) {
    if (!variants_agree()) {
        state.SkipWithError("the shared_ptr variant decides differently from router::route");
        return;
    }
    const cg::router& r = the_router().r;
    const shared_state* published = &plain_state().state;
    run_keys(state, ascii_keys(), [&r, published](std::string_view key) {
        // acquire: as in bm_atomic_shared_ptr (libstdc++ ignores the order:
        // the pool mutex's lock and unlock order the access).
        const shared_state s = std::atomic_load_explicit(published, std::memory_order_acquire);
        return route_with(r, *s, key);
    });
    state.counters["is_lock_free"] = std::atomic_is_lock_free(published) ? 1 : 0;
}
BENCHMARK(bm_shared_ptr_mutex_pool)
    ->Name("mt/shared_ptr_mutex_pool")
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

// --- Flip visibility ---------------------------------------------------------------------
//
// A flipping thread alternates the weights between {1, 0} and {0, 1}: every
// key changes arm on every flip, so a spinning thread knows it routes under
// the new weights from its decision alone, as a request would. Each of N
// threads routes one fixed key in a loop and, on the first decision that
// differs from its previous one, records the steady clock into its own slot.
// The flipper reads the steady clock just before set_weights; the flip's
// visibility latency is the latest of the N recorded times minus that. The
// next flip waits until every thread has seen this one, so no thread ever
// skips a flip and each change of decision is the flip in progress.
//
// What the figure includes: the store's invalidation of the line every
// spinner holds, the spinner's reload, the rest of the route() in flight
// when the store landed (a decision begun just before it still sees the old
// weights) plus one full route(), and one clock read. Not pinned: with the
// flipper and N spinners on this 2-core machine (busier still with other
// jobs), N >= 2 oversubscribes the cores and a spinner waits for the
// scheduler to run it again; from N = 4 on (N = 8 above all) the figure is
// dominated by scheduling (time slices of milliseconds), not by the cache
// coherence that N = 1 shows. That is the honest figure for more busy
// request threads than cores; a pinned, idle machine gives the coherence
// cost at every N up to the core count.
//
// Nothing can hang: the spinners stop on a flag that the runner always sets
// (a destructor), a flip not seen by every thread within flip_timeout stops
// the run with an error, and a run stops after run_budget whatever the flip
// count.

constexpr std::string_view flip_key = "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b";
constexpr cg::routing_weights all_baseline{.baseline = 1, .candidate = 0, .shadow_ppm = 0};
constexpr cg::routing_weights all_candidate{.baseline = 0, .candidate = 1, .shadow_ppm = 0};
constexpr std::uint32_t default_flips = 2'000;
constexpr std::uint32_t max_flips = 1'000'000;
constexpr std::int64_t flip_timeout_ns = 2'000'000'000;  // 2 s
constexpr std::int64_t run_budget_ns = 60'000'000'000;   // 1 minute per N

std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// One spinner's report, alone on its cache line: the flipper polls it while
// the other spinners write theirs.
struct alignas(cg::cache_line_size) flip_slot {
    std::atomic<std::int64_t> seen_ns{0};      // when it first routed under the latest flip
    std::atomic<std::uint32_t> seen_flips{0};  // how many flips it has seen
};

struct flip_result {
    std::uint32_t requested = 0;
    std::uint32_t flips = 0;  // completed (fewer than requested if run_budget ran out)
    double median_ns = 0;
    double p99_ns = 0;
    double max_ns = 0;
    double min_ns = 0;
    bool timed_out = false;
};

// Filled by bm_flip_visibility, printed by report().
std::map<std::int64_t, flip_result>& flip_results() {
    static std::map<std::int64_t, flip_result> all;
    return all;
}

// The spinning threads; the destructor stops and joins them, however the run
// ends.
class spinners {
public:
    spinners() = default;
    spinners(const spinners&) = delete;
    spinners& operator=(const spinners&) = delete;
    ~spinners() {
        // relaxed: a request to stop, carrying no data; join() orders
        // everything the threads did before whatever follows it.
        stop_.store(true, std::memory_order_relaxed);
        for (std::thread& t : threads_) t.join();
    }

    void start(const cg::router& r, flip_slot& slot, std::atomic<std::size_t>& ready) {
        threads_.emplace_back([&r, &slot, &ready, this] {
            cg::route_target last = r.route(flip_key).target;
            // release: pairs with the flipper's acquire load of `ready`; the
            // route() above then happens before the first flip's store, so it
            // read the initial weights and `last` is the arm before flip 1.
            ready.fetch_add(1, std::memory_order_release);
            std::uint32_t seen = 0;
            // relaxed: see the destructor; a stale false costs one more loop.
            while (!stop_.load(std::memory_order_relaxed)) {
                const cg::route_target target = r.route(flip_key).target;
                if (target == last) continue;
                const std::int64_t t = now_ns();
                last = target;
                // relaxed: published by the release store of seen_flips.
                slot.seen_ns.store(t, std::memory_order_relaxed);
                // release: pairs with the flipper's acquire load, so that it
                // reads this flip's seen_ns, not the previous one's.
                slot.seen_flips.store(++seen, std::memory_order_release);
            }
        });
    }

private:
    std::atomic<bool> stop_{false};
    std::vector<std::thread> threads_;
};

// Returns false if a wait outlasted flip_timeout_ns.
template <class Done>
bool wait_until(std::int64_t since_ns, Done done) {
    while (!done()) {
        if (now_ns() - since_ns > flip_timeout_ns) return false;
        std::this_thread::yield();  // let an oversubscribed spinner run
    }
    return true;
}

flip_result run_flips(std::size_t n, std::uint32_t flips) {
    flip_result result;
    result.requested = flips;
    cg::router r(config_of(cg::bucketing::flagd_fractional, cg::key_hashing::utf8_bytes),
                 all_baseline);
    const auto slots = std::make_unique<flip_slot[]>(n);
    std::atomic<std::size_t> ready{0};
    std::vector<double> latencies;
    latencies.reserve(flips);
    {
        spinners threads;  // declared after what they use: joined first
        for (std::size_t i = 0; i < n; ++i) threads.start(r, slots[i], ready);
        // acquire: pairs with each spinner's release fetch_add (see there).
        if (!wait_until(now_ns(), [&] { return ready.load(std::memory_order_acquire) == n; })) {
            result.timed_out = true;
            return result;
        }
        const std::int64_t begin = now_ns();
        for (std::uint32_t k = 1; k <= flips; ++k) {
            const cg::routing_weights w = k % 2 == 1 ? all_candidate : all_baseline;
            const std::int64_t stored = now_ns();
            r.set_weights(w);  // the router's release store
            const bool seen = wait_until(stored, [&] {
                for (std::size_t i = 0; i < n; ++i) {
                    // acquire: pairs with the spinner's release store, so
                    // seen_ns below is the one it recorded for flip k.
                    if (slots[i].seen_flips.load(std::memory_order_acquire) != k) return false;
                }
                return true;
            });
            if (!seen) {
                result.timed_out = true;
                break;
            }
            std::int64_t latest = stored;
            for (std::size_t i = 0; i < n; ++i) {
                // relaxed: ordered by the acquire load of seen_flips above;
                // the spinner writes it again only after flip k + 1.
                latest = std::max(latest, slots[i].seen_ns.load(std::memory_order_relaxed));
            }
            latencies.push_back(static_cast<double>(latest - stored));
            if (now_ns() - begin > run_budget_ns) break;
        }
    }
    result.flips = static_cast<std::uint32_t>(latencies.size());
    if (latencies.empty()) return result;
    std::sort(latencies.begin(), latencies.end());
    const std::size_t count = latencies.size();
    // Nearest rank.
    const auto rank = [&](double q) {
        const auto r1 = static_cast<std::size_t>(std::ceil(q * static_cast<double>(count)));
        return latencies[std::clamp<std::size_t>(r1, 1, count) - 1];
    };
    result.median_ns = rank(0.5);
    result.p99_ns = rank(0.99);
    result.max_ns = latencies.back();
    result.min_ns = latencies.front();
    return result;
}

// CANARYGATE_BENCH_FLIPS, or default_flips when unset; 0 when malformed.
std::uint32_t flips_to_run() {
    const char* text = std::getenv("CANARYGATE_BENCH_FLIPS");  // NOLINT(concurrency-mt-unsafe)
    if (text == nullptr || *text == '\0') return default_flips;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text, &end, 10);
    if (*end != '\0' || v == 0 || v > max_flips) return 0;
    return static_cast<std::uint32_t>(v);
}

void bm_flip_visibility(benchmark::State& state) {
    const std::uint32_t flips = flips_to_run();
    if (flips == 0) {
        state.SkipWithError("CANARYGATE_BENCH_FLIPS must be a whole number from 1 to 1000000");
        return;
    }
    const auto n = static_cast<std::size_t>(state.range(0));
    flip_result result;
    for (auto _ : state) {
        result = run_flips(n, flips);
        // The time column: the median latency (the run's wall time means
        // nothing).
        state.SetIterationTime(result.median_ns * 1e-9);
    }
    if (result.timed_out) {
        state.SkipWithError("a flip was not seen by every spinning thread within 2 s");
        return;
    }
    flip_results()[state.range(0)] = result;
    state.counters["flips"] = result.flips;
    state.counters["median_ns"] = result.median_ns;
    state.counters["p99_ns"] = result.p99_ns;
    state.counters["max_ns"] = result.max_ns;
}
BENCHMARK(bm_flip_visibility)
    ->Name("flip/visibility")
    ->ArgName("spinners")
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Arg(8)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// --- Report ------------------------------------------------------------------------------

// Multi-threaded rows: wall and CPU time per decision per thread, each as a
// ratio to the baseline's (on a busy machine wall time includes the waits for
// a core; CPU time is the steadier of the two, and a spinning lock shows in
// both).
void print_mt_ratio(const std::string& name, ratio_reporter::times t, ratio_reporter::times base,
                    const char* base_name) {
    if (std::isnan(t.real) || std::isnan(base.real)) return;
    std::printf("  %-46s real %8.2f ns %6.2fx | cpu %8.2f ns %6.2fx  %s\n", name.c_str(), t.real,
                t.real / base.real, t.cpu, t.cpu / base.cpu, base_name);
}

void report(const ratio_reporter& reporter) {
    std::printf(
        "\nrouting decision, 36-character key, CPU time per decision, same run (weights 90/10, "
        "10 %% shadow):\n");
    reporter.print_ratio("route/flagd_utf8", "floor/murmur3", "floor/murmur3");
    reporter.print_ratio("route/flagd_js", "floor/murmur3", "floor/murmur3");
    reporter.print_ratio("route/unleash", "floor/murmur3", "floor/murmur3");
    reporter.print_ratio("route/nonascii_utf8", "floor/murmur3", "floor/murmur3");
    reporter.print_ratio("route/nonascii_js", "floor/murmur3", "floor/murmur3");
    reporter.print_ratio("floor/murmur3_nonascii", "floor/murmur3", "floor/murmur3");
    reporter.print_ratio("route/nonascii_utf8", "floor/murmur3_nonascii",
                         "floor/murmur3_nonascii (same 44 bytes)");
    reporter.print_ratio("route/nonascii_js", "floor/murmur3_nonascii",
                         "floor/murmur3_nonascii (same 44 bytes)");
    reporter.print_ratio("route/nonascii_js", "route/nonascii_utf8",
                         "route/nonascii_utf8 (the decode path's cost)");

    std::printf(
        "\nweights load: packed word against shared_ptr (time per decision per thread; ratio to "
        "the packed word at the same thread count):\n");
    for (const char* threads : {"threads:1", "threads:2"}) {
        const ratio_reporter::times ours =
            reporter.time_of(std::string("mt/packed_word/real_time/") + threads);
        for (const char* variant :
             {"mt/packed_word", "mt/atomic_shared_ptr", "mt/shared_ptr_mutex_pool"}) {
            const std::string name = std::string(variant) + "/real_time/" + threads;
            print_mt_ratio(name, reporter.time_of(name), ours, "mt/packed_word");
        }
    }
    const shared_state probe;
    std::printf(
        "  std::atomic<std::shared_ptr<T>>: is_always_lock_free %d, is_lock_free() %d; "
        "std::atomic_is_lock_free(const shared_ptr*) %d; std::atomic<std::uint64_t> "
        "is_always_lock_free %d\n",
        std::atomic<shared_state>::is_always_lock_free ? 1 : 0,
        atomic_state().state.is_lock_free() ? 1 : 0, std::atomic_is_lock_free(&probe) ? 1 : 0,
        std::atomic<std::uint64_t>::is_always_lock_free ? 1 : 0);

    if (!flip_results().empty()) {
        std::printf(
            "\nflip visibility: set_weights' store -> every spinning thread routed under the new "
            "weights (steady clock):\n");
        std::printf("  %9s %7s %12s %12s %12s %12s\n", "spinners", "flips", "min ns", "median ns",
                    "p99 ns", "max ns");
        for (const auto& [n, r] : flip_results()) {
            std::printf("  %9lld %7u %12.0f %12.0f %12.0f %12.0f%s\n", static_cast<long long>(n),
                        r.flips, r.min_ns, r.median_ns, r.p99_ns, r.max_ns,
                        r.flips < r.requested ? "  (stopped by the 1-minute budget)" : "");
        }
        std::printf(
            "  more spinners than free cores: the figure is the scheduler's (time slices), not "
            "the cache line's\n");
    }
    std::printf("hardware threads: %u\n", std::thread::hardware_concurrency());
}
CANARYGATE_PERF_REPORT(report);

}  // namespace
