// SPDX-License-Identifier: MIT
// Snapshot serialisation speed. Every figure that matters is a ratio to a
// baseline measured in the same run on the same data (machines are shared
// and absolute nanoseconds drift; the table after the run uses CPU time,
// which other processes inflate less than wall time):
//   memcpy          copy of the encoded bytes into a preallocated buffer (floor
//                   for encode and decode: bytes/s of plain memory traffic)
//   copy            snapshot copy construction (floor for merge, which copies,
//                   and for decode, which builds the same maps and arrays)
//   encode          canarygate::encode into a reused buffer
//   encode/fresh    canarygate::encode returning a new vector
//   decode          canarygate::decode
//   merge           copy of replica A, then merge(replica B)
//   json/dump       nlohmann::json(s).dump()
//   json/parse      canarygate::parse_snapshot(text)
// Each runs on a typical 5-minute window of a 1 % canary (30 + 3,000
// requests, every default metric) and on a busy one (3,000 + 300,000). Bytes
// per second always count the binary encoding's size, so MB/s compare
// directly with memcpy. Pass --benchmark_repetitions=N to use medians.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "canarygate/integration/json.hpp"
#include "canarygate/window/codec.hpp"
#include "ratio_reporter.hpp"
#include "support/codec_fixtures.hpp"

namespace {

struct workload {
    canarygate::snapshot a;  // replica A
    canarygate::snapshot b;  // replica B, same arms
    std::vector<std::uint8_t> bytes;
    std::string json_text;
};

const workload& data(std::int64_t which) {
    static const workload typical = [] {
        workload w{codec_fixtures::typical_window(1), codec_fixtures::typical_window(2), {}, {}};
        w.bytes = canarygate::encode(w.a);
        w.json_text = nlohmann::json(w.a).dump();
        return w;
    }();
    static const workload busy = [] {
        workload w{codec_fixtures::typical_window(1, false, 3000, 300'000),
                   codec_fixtures::typical_window(2, false, 3000, 300'000),
                   {},
                   {}};
        w.bytes = canarygate::encode(w.a);
        w.json_text = nlohmann::json(w.a).dump();
        return w;
    }();
    return which == 0 ? typical : busy;
}

void set_bytes(benchmark::State& state, const workload& w) {
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(w.bytes.size()));
    state.counters["encoded_bytes"] = static_cast<double>(w.bytes.size());
}

void bm_memcpy(benchmark::State& state) {
    const workload& w = data(state.range(0));
    std::vector<std::uint8_t> out(w.bytes.size());
    for (auto _ : state) {
        std::memcpy(out.data(), w.bytes.data(), w.bytes.size());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    set_bytes(state, w);
}
BENCHMARK(bm_memcpy)->Name("memcpy")->Arg(0)->Arg(1);

void bm_copy(benchmark::State& state) {
    const workload& w = data(state.range(0));
    for (auto _ : state) {
        canarygate::snapshot copy = w.a;
        benchmark::DoNotOptimize(&copy);
    }
    set_bytes(state, w);
}
BENCHMARK(bm_copy)->Name("copy")->Arg(0)->Arg(1);

void bm_encode(benchmark::State& state) {
    const workload& w = data(state.range(0));
    std::vector<std::uint8_t> out;
    out.reserve(w.bytes.size());
    for (auto _ : state) {
        out.clear();
        canarygate::encode(w.a, out);
        benchmark::DoNotOptimize(out.data());
    }
    set_bytes(state, w);
}
BENCHMARK(bm_encode)->Name("encode")->Arg(0)->Arg(1);

void bm_encode_fresh(benchmark::State& state) {
    const workload& w = data(state.range(0));
    for (auto _ : state) {
        auto out = canarygate::encode(w.a);
        benchmark::DoNotOptimize(out.data());
    }
    set_bytes(state, w);
}
BENCHMARK(bm_encode_fresh)->Name("encode/fresh")->Arg(0)->Arg(1);

void bm_decode(benchmark::State& state) {
    const workload& w = data(state.range(0));
    for (auto _ : state) {
        canarygate::snapshot s = canarygate::decode(w.bytes);
        benchmark::DoNotOptimize(&s);
    }
    set_bytes(state, w);
}
BENCHMARK(bm_decode)->Name("decode")->Arg(0)->Arg(1);

void bm_merge(benchmark::State& state) {
    const workload& w = data(state.range(0));
    for (auto _ : state) {
        canarygate::snapshot merged = w.a;
        merged.merge(w.b);
        benchmark::DoNotOptimize(&merged);
    }
    set_bytes(state, w);
}
BENCHMARK(bm_merge)->Name("merge")->Arg(0)->Arg(1);

void bm_json_dump(benchmark::State& state) {
    const workload& w = data(state.range(0));
    for (auto _ : state) {
        std::string text = nlohmann::json(w.a).dump();
        benchmark::DoNotOptimize(text.data());
    }
    set_bytes(state, w);
}
BENCHMARK(bm_json_dump)->Name("json/dump")->Arg(0)->Arg(1);

void bm_json_parse(benchmark::State& state) {
    const workload& w = data(state.range(0));
    for (auto _ : state) {
        canarygate::snapshot s = canarygate::parse_snapshot(w.json_text);
        benchmark::DoNotOptimize(&s);
    }
    set_bytes(state, w);
}
BENCHMARK(bm_json_parse)->Name("json/parse")->Arg(0)->Arg(1);

void report(const ratio_reporter& reporter) {
    for (const std::int64_t which : {0, 1}) {
        const workload& w = data(which);
        const std::string arg = "/" + std::to_string(which);
        const double memcpy_ns = reporter.time_of("memcpy" + arg).cpu;
        const double copy_ns = reporter.time_of("copy" + arg).cpu;
        std::printf(
            "\n%s window: %zu bytes binary, %zu bytes JSON; CPU time per snapshot, same run:\n",
            which == 0 ? "typical (30 + 3,000 requests)" : "busy (3,000 + 300,000 requests)",
            w.bytes.size(), w.json_text.size());
        std::printf("  %-13s %10.0f ns  %8.0f MB/s\n", "memcpy", memcpy_ns,
                    static_cast<double>(w.bytes.size()) / memcpy_ns * 1e3);
        for (const char* name : {"encode", "encode/fresh", "decode", "json/dump", "json/parse"}) {
            const double t = reporter.time_of(name + arg).cpu;
            if (std::isnan(t)) continue;  // filtered out
            std::printf("  %-13s %10.0f ns  %8.1f MB/s  %8.1fx memcpy  %6.2fx copy\n", name, t,
                        static_cast<double>(w.bytes.size()) / t * 1e3, t / memcpy_ns, t / copy_ns);
        }
        const double merge_ns = reporter.time_of("merge" + arg).cpu;
        if (!std::isnan(merge_ns) && !std::isnan(copy_ns)) {
            std::printf("  %-13s %10.0f ns  (copy alone %.0f ns: merging adds %.2fx a copy)\n",
                        "merge", merge_ns, copy_ns, (merge_ns - copy_ns) / copy_ns);
        }
    }
}
CANARYGATE_PERF_REPORT(report);

}  // namespace
