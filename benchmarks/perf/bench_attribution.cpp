// SPDX-License-Identifier: MIT
// Attribution micro-benchmarks. The figure that matters is the request-path
// cost of writer::remember() as a ratio to baselines measured in the same run
// (this machine is shared; absolute nanoseconds drift):
//   floor              plain store of a 32-byte entry into a thread-local array
//                      (of the ring's size, written in the same order)
//   hash/id            SipHash-2-4-128 of a 36-character id alone
//   remember/key       writer::remember(request_key, ...) : the ring push
//   remember/id        writer::remember(std::string_view, ...) : hash + push
//   mutex_map/key      std::mutex + std::unordered_map<std::uint64_t, ...>::emplace
//   mutex_map/string   std::mutex + std::unordered_map<std::string, ...>::emplace
//                      (what a naive implementation does on the request path)
// and the owner's side, for sizing the collector tick:
//   owner/drain        remember/key plus its share of a drain every 1,024 entries
//   owner/resolve      resolve(std::string_view) on a full map (32 rings polled)
// The ring and the maps are emptied outside the timed region (PauseTiming
// once every 65,536 entries). Pass --benchmark_repetitions=N to use medians.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "canarygate/record/attribution.hpp"
#include "ratio_reporter.hpp"
#include "uuid_keys.hpp"

namespace {

constexpr std::size_t id_count = 1 << 16;
constexpr std::size_t id_mask = id_count - 1;

const std::vector<std::string>& ids() {
    static const std::vector<std::string> data = bench_support::uuid_texts(id_count, 7);
    return data;
}

canarygate::attribution_config bench_config() {
    canarygate::attribution_config c;
    c.capacity = id_count;
    c.ttl_ns = std::int64_t{1} << 60;
    c.ring_capacity = id_count;
    c.seed = canarygate::hash_seed{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
    return c;
}

canarygate::attribution attribution_for(std::size_t i) {
    return {canarygate::arm_id{static_cast<std::uint8_t>(i & 1)}, 3, static_cast<std::int64_t>(i)};
}

// The floor's array has the ring's size (64 Ki entries, 2 MiB), so both write
// the same sequential stream of lines; its element has the ring entry's layout
// but no initialisers, so the array needs no thread_local init guard.
struct floor_entry {
    std::uint64_t key_low;
    std::uint64_t key_high;
    std::int64_t response_time_ns;
    std::uint32_t model_version;
    std::uint8_t arm;
};
static_assert(sizeof(floor_entry) == sizeof(canarygate::detail::attribution_entry));
thread_local floor_entry floor_entries[id_count];

void bm_floor(benchmark::State& state) {
    std::vector<canarygate::request_key> keys(id_count);  // loaded like remember/key's
    std::size_t i = 0;
    for (auto _ : state) {
        const std::size_t k = i & id_mask;
        const auto a = attribution_for(i);
        floor_entries[k] = {keys[k].low, keys[k].high, a.response_time_ns, a.model_version,
                            a.arm.value};
        ++i;
    }
    benchmark::DoNotOptimize(&floor_entries[0]);
    benchmark::ClobberMemory();
}
BENCHMARK(bm_floor)->Name("floor");

void bm_hash(benchmark::State& state) {
    canarygate::attribution_map map(bench_config());
    const auto& id = ids();
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(map.key_of(id[i & id_mask]));
        ++i;
    }
}
BENCHMARK(bm_hash)->Name("hash/id");

template <bool ById>
void run_remember(benchmark::State& state) {
    canarygate::attribution_map map(bench_config());
    const auto& id = ids();
    std::vector<canarygate::request_key> keys;
    for (const auto& s : id) keys.push_back(map.key_of(s));
    auto writer = map.make_writer();
    std::size_t i = 0;
    std::uint64_t dropped = 0;
    for (auto _ : state) {
        const std::size_t k = i & id_mask;
        bool ok = false;
        if constexpr (ById) {
            ok = writer.remember(id[k], attribution_for(i));
        } else {
            ok = writer.remember(keys[k], attribution_for(i));
        }
        dropped += ok ? 0 : 1;
        if (++i % id_count == 0) {  // the ring is full: empty it, untimed
            state.PauseTiming();
            (void)map.drain(static_cast<std::int64_t>(i), [](const auto&, const auto&) {});
            state.ResumeTiming();
        }
    }
    if (dropped != 0) state.SkipWithError("the ring overflowed: the figure would include drops");
}
void bm_remember_key(benchmark::State& state) { run_remember<false>(state); }
void bm_remember_id(benchmark::State& state) { run_remember<true>(state); }
BENCHMARK(bm_remember_key)->Name("remember/key");
BENCHMARK(bm_remember_id)->Name("remember/id");

struct identity_hash {
    std::size_t operator()(std::uint64_t k) const noexcept { return static_cast<std::size_t>(k); }
};

template <class Map, class KeyOf>
void run_mutex_map(benchmark::State& state, KeyOf key_of) {
    std::mutex mutex;
    Map map;
    map.reserve(id_count);
    std::size_t i = 0;
    for (auto _ : state) {
        {
            std::lock_guard<std::mutex> lock(mutex);
            map.emplace(key_of(i & id_mask), attribution_for(i));
        }
        if (++i % id_count == 0) {
            state.PauseTiming();
            map.clear();
            state.ResumeTiming();
        }
    }
    benchmark::DoNotOptimize(map.size());
}

void bm_mutex_map_key(benchmark::State& state) {
    canarygate::attribution_map attribution(bench_config());
    std::vector<std::uint64_t> keys;
    for (const auto& s : ids()) keys.push_back(attribution.key_of(s).low);
    run_mutex_map<std::unordered_map<std::uint64_t, canarygate::attribution, identity_hash>>(
        state, [&keys](std::size_t k) { return keys[k]; });
}
BENCHMARK(bm_mutex_map_key)->Name("mutex_map/key");

void bm_mutex_map_string(benchmark::State& state) {
    const auto& id = ids();
    run_mutex_map<std::unordered_map<std::string, canarygate::attribution>>(
        state, [&id](std::size_t k) { return std::string(id[k]); });
}
BENCHMARK(bm_mutex_map_string)->Name("mutex_map/string");

void bm_owner_drain(benchmark::State& state) {
    // Half the ids fit: a key comes back 64 Ki entries later, long after its
    // record was evicted, so every drained entry is an insert plus an
    // eviction (the steady state of a full map).
    canarygate::attribution_config c = bench_config();
    c.capacity = id_count / 2;
    canarygate::attribution_map map(c);
    std::vector<canarygate::request_key> keys;
    for (const auto& s : ids()) keys.push_back(map.key_of(s));
    auto writer = map.make_writer();
    std::size_t i = 0;
    for (auto _ : state) {
        (void)writer.remember(keys[i & id_mask], attribution_for(i));
        if (++i % 1024 == 0)
            (void)map.drain(static_cast<std::int64_t>(i), [](const auto&, const auto&) {});
    }
    if (map.stats().duplicate != 0)
        state.SkipWithError("duplicates: the figure would not be inserts");
}
BENCHMARK(bm_owner_drain)->Name("owner/drain");

void bm_owner_resolve(benchmark::State& state) {
    canarygate::attribution_map map(bench_config());
    const auto& id = ids();
    {
        auto writer = map.make_writer();
        for (std::size_t i = 0; i < id_count; ++i) (void)writer.remember(id[i], attribution_for(i));
    }
    (void)map.drain(0, [](const auto&, const auto&) {});
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(map.resolve(id[i & id_mask], 1));
        i += 7919;  // a prime stride: no locality from one lookup to the next
    }
}
BENCHMARK(bm_owner_resolve)->Name("owner/resolve");

void report(const ratio_reporter& reporter) {
    std::printf("\nratios of CPU time per operation, same run:\n");
    reporter.print_ratio("hash/id", "floor", "floor");
    reporter.print_ratio("remember/key", "floor", "floor (plain thread-local store)");
    reporter.print_ratio("remember/id", "floor", "floor");
    reporter.print_ratio("mutex_map/key", "remember/key", "remember/key");
    reporter.print_ratio("mutex_map/string", "remember/id", "remember/id");
    reporter.print_ratio("owner/drain", "remember/key", "remember/key (push + its share of drain)");
    reporter.print_ratio("owner/resolve", "remember/id", "remember/id");
}
CANARYGATE_PERF_REPORT(report);

}  // namespace
