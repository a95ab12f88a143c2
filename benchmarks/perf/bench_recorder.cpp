// SPDX-License-Identifier: MIT
// Recorder hot path and collector tick. Every figure that matters is a ratio
// to a baseline measured in the same run on the same data (this machine is
// shared; absolute nanoseconds drift):
//
//   floor/hot, floor/cold   the same 20 counter updates as one full record
//                           (15 sums and counts, 5 buckets at a cheap
//                           data-dependent index) into plain thread-local u64
//                           arrays laid out like an arm: no validation, no
//                           bucket index, no atomics
//   floor/same_code_plain   the recorder's own metric code (validation, exact
//                           bucket index, limbs) into plain non-atomic arrays
//   record/writer           basic_recorder::writer::record of a full outcome
//                           (latency, TTFT, tokens, cost, outcome), hot cache
//   record/thread_local     basic_recorder::record (thread-local shard cache)
//   record/writer_cold      128 recorders x 4 arms cycled at random, so the
//                           touched lines come from L3/DRAM; against floor/cold
//   tls/executable,         one non-inlined call of record() from this
//   tls/shared_object       executable, and the same call compiled into a
//                           shared object (-fPIC: __tls_get_addr)
//   tick/64_shards          collector tick over 64 claimed shards x 2 arms
//   peers, 1 and 2 threads  the same full outcome recorded into: a shared
//                           arm of atomic counters (fetch_add), a mutex-
//                           protected arm, Boost.Histogram with thread_safe
//                           counters (+ atomic sums), prometheus-cpp
//                           Histogram::Observe + Counter::Increment,
//                           Boost.Accumulators extended P^2 behind a mutex
//
// After the runs, a table of ratios and the memory per shard are printed.
// Use --benchmark_repetitions=N for medians.
#include <cstddef>
#include <cstdint>

#include "canarygate/record/recorder.hpp"
#include "ratio_reporter.hpp"

#if defined(CANARYGATE_BENCH_RECORDER_DSO)
// Compiled a second time into a shared object: the same record() call, but
// the recorder's thread_local is reached through __tls_get_addr.
extern "C" __attribute__((visibility("default"))) bool canarygate_bench_dso_record(
    canarygate::recorder& rec, canarygate::arm_id arm, const canarygate::request_outcome& r) {
    return rec.record(arm, r);
}
#else

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/accumulators/accumulators.hpp>
#include <boost/accumulators/statistics/extended_p_square.hpp>
#include <boost/accumulators/statistics/stats.hpp>
#include <boost/histogram.hpp>

#include "canarygate/window/collector.hpp"

#if defined(CANARYGATE_BENCH_PROMETHEUS_CPP)
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#endif

extern "C" bool canarygate_bench_dso_record(canarygate::recorder& rec, canarygate::arm_id arm,
                                            const canarygate::request_outcome& r);

namespace {

namespace cg = canarygate;
using cg::request_outcome;

constexpr std::size_t data_size = 1 << 14;  // 16 Ki outcomes = 768 KiB
constexpr std::size_t data_mask = data_size - 1;

// Log-normal latencies (median 700 ms) with a 4 % Pareto tail, TTFT a
// fraction of them (absent for 10 %), log-normal token counts, cost from a
// price table, outcomes mostly ok.
const std::vector<request_outcome>& outcomes() {
    static const std::vector<request_outcome> data = [] {
        std::mt19937_64 rng(2024);
        std::lognormal_distribution<double> latency_s(std::log(0.7), 0.5);
        std::lognormal_distribution<double> in_tokens(std::log(900.0), 0.8);
        std::lognormal_distribution<double> out_tokens(std::log(250.0), 0.9);
        std::uniform_real_distribution<double> u(0.0, 1.0);
        std::vector<request_outcome> v(data_size);
        for (auto& r : v) {
            double s = latency_s(rng);
            if (u(rng) < 0.04) s = std::min(2.0 * std::pow(1.0 - u(rng), -1 / 1.6), 1200.0);
            r.latency_ns = static_cast<std::uint64_t>(s * 1e9);
            r.ttft_ns = u(rng) < 0.1 ? request_outcome::absent
                                     : static_cast<std::uint64_t>(s * 1e9 * (0.05 + 0.2 * u(rng)));
            r.input_tokens =
                std::min<std::uint64_t>(static_cast<std::uint64_t>(in_tokens(rng)), 200'000);
            r.output_tokens =
                std::min<std::uint64_t>(static_cast<std::uint64_t>(out_tokens(rng)), 32'000);
            // 2.5 USD / M input, 10 USD / M output tokens, in nano-USD.
            r.cost_nano_usd = r.input_tokens * 2'500 + r.output_tokens * 10'000;
            const double o = u(rng);
            r.category = o < 0.93   ? cg::outcome::ok
                         : o < 0.96 ? cg::outcome::truncated
                         : o < 0.98 ? cg::outcome::refusal_provider
                                    : cg::outcome::server_error;
        }
        return v;
    }();
    return data;
}

// --- The floor: the same counter traffic into plain thread-local arrays ----------

constexpr std::size_t arm_cells = cg::recorder::arm_stride;
// Where the default metric set puts the five histograms in an arm.
constexpr std::size_t region[5] = {
    cg::recorder::arm_scalar_count, cg::recorder::arm_scalar_count + 803,
    cg::recorder::arm_scalar_count + 2 * 803, cg::recorder::arm_scalar_count + 2 * 803 + 323,
    cg::recorder::arm_scalar_count + 2 * 803 + 2 * 323};

// 15 sums and counts + 5 bucket increments, plain (non-atomic) adds.
inline void floor_record(std::uint64_t* arm, const request_outcome& r) noexcept {
    arm[0] += 1;
    arm[1 + static_cast<std::size_t>(r.category)] += 1;
    arm[10] += r.latency_ns & 0xffffffffU;
    arm[11] += r.latency_ns >> 32;
    arm[12] += r.ttft_ns & 0xffffffffU;
    arm[13] += r.ttft_ns >> 32;
    arm[14] += r.input_tokens;
    arm[15] += r.output_tokens;
    arm[16] += r.output_tokens;
    arm[17] += r.output_tokens >> 1;
    arm[18] += r.cost_nano_usd & 0xffffffffU;
    arm[19] += r.cost_nano_usd >> 32;
    arm[20] += r.cost_nano_usd;
    arm[21] += r.cost_nano_usd >> 3;
    arm[22] += r.cost_nano_usd >> 7;
    arm[region[0] + ((r.latency_ns >> 20) & 511)] += 1;
    arm[region[1] + ((r.ttft_ns >> 18) & 511)] += 1;
    arm[region[2] + (r.input_tokens & 255)] += 1;
    arm[region[3] + (r.output_tokens & 255)] += 1;
    arm[region[4] + ((r.cost_nano_usd >> 10) & 511)] += 1;
}

thread_local std::array<std::uint64_t, arm_cells> floor_arm{};

void bm_floor_hot(benchmark::State& state) {
    const auto& data = outcomes();
    std::uint64_t* arm = floor_arm.data();
    std::size_t i = 0;
    for (auto _ : state) {
        floor_record(arm, data[i]);
        i = (i + 1) & data_mask;
    }
    benchmark::DoNotOptimize(arm);
    benchmark::ClobberMemory();
}
BENCHMARK(bm_floor_hot)->Name("floor/hot");

// The recorder's own metric code (validation, exact bucket index, limbs)
// through a plain, non-atomic sink over u64 counters laid out as in a shard:
// record/writer against this is what the relaxed atomics and the shard
// lookup cost.
using plain_sink = cg::basic_plain_sink<std::uint64_t>;

void bm_floor_same_code(benchmark::State& state) {
    const auto& data = outcomes();
    std::uint64_t* arm = floor_arm.data();
    const plain_sink sink(arm, arm + cg::recorder::arm_scalar_count);
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(cg::default_metrics::record<cg::recorder_traits>(sink, data[i]));
        i = (i + 1) & data_mask;
    }
    benchmark::DoNotOptimize(arm);
    benchmark::ClobberMemory();
}
BENCHMARK(bm_floor_same_code)->Name("floor/same_code_plain");

// --- canarygate, hot -----------------------------------------------------------------

cg::recorder& shared_recorder() {
    static cg::recorder rec;
    static const bool armed = [] {
        (void)rec.add_arm("baseline", "v1");
        (void)rec.add_arm("candidate", "v2");
        return true;
    }();
    (void)armed;
    return rec;
}

void bm_record_writer(benchmark::State& state) {
    const auto& data = outcomes();
    auto writer = shared_recorder().make_writer();
    const cg::arm_id arm{1};
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(writer.record(arm, data[i]));
        i = (i + 1) & data_mask;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_record_writer)->Name("record/writer");

void bm_record_thread_local(benchmark::State& state) {
    const auto& data = outcomes();
    cg::recorder& rec = shared_recorder();
    const cg::arm_id arm{1};
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(rec.record(arm, data[i]));
        i = (i + 1) & data_mask;
    }
}
BENCHMARK(bm_record_thread_local)->Name("record/thread_local");

// --- Thread-local access from an executable and from a shared object -------------

[[gnu::noinline]] bool exe_record(cg::recorder& rec, cg::arm_id arm, const request_outcome& r) {
    return rec.record(arm, r);
}

void bm_tls_executable(benchmark::State& state) {
    const auto& data = outcomes();
    cg::recorder& rec = shared_recorder();
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(exe_record(rec, cg::arm_id{1}, data[i]));
        i = (i + 1) & data_mask;
    }
}
BENCHMARK(bm_tls_executable)->Name("tls/executable");

void bm_tls_shared_object(benchmark::State& state) {
    const auto& data = outcomes();
    cg::recorder& rec = shared_recorder();
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(canarygate_bench_dso_record(rec, cg::arm_id{1}, data[i]));
        i = (i + 1) & data_mask;
    }
}
BENCHMARK(bm_tls_shared_object)->Name("tls/shared_object");

// --- Cold cache: many recorders and arms cycled ----------------------------------

struct cold_traits : cg::recorder_traits {
    static constexpr std::size_t max_shards = 1;
};
using cold_recorder = cg::basic_recorder<request_outcome, cg::default_metrics, cold_traits>;
constexpr std::size_t cold_recorders = 128;
constexpr std::size_t cold_arms =
    cold_recorders * cg::recorder_traits::max_arms;  // 512 arms, 12 MB

// Random (recorder, arm) per record, the same sequence for floor and record.
const std::vector<std::uint32_t>& cold_sequence() {
    static const std::vector<std::uint32_t> seq = [] {
        std::mt19937 rng(7);
        std::vector<std::uint32_t> v(data_size);
        for (auto& x : v) x = static_cast<std::uint32_t>(rng() % cold_arms);
        return v;
    }();
    return seq;
}

void bm_floor_cold(benchmark::State& state) {
    const auto& data = outcomes();
    const auto& seq = cold_sequence();
    std::vector<std::uint64_t> arms(cold_arms * arm_cells, 0);
    std::size_t i = 0;
    for (auto _ : state) {
        floor_record(arms.data() + seq[i] * arm_cells, data[i]);
        i = (i + 1) & data_mask;
    }
    benchmark::DoNotOptimize(arms.data());
    benchmark::ClobberMemory();
}
BENCHMARK(bm_floor_cold)->Name("floor/cold");

void bm_record_writer_cold(benchmark::State& state) {
    const auto& data = outcomes();
    const auto& seq = cold_sequence();
    std::vector<std::unique_ptr<cold_recorder>> recs;
    std::vector<cold_recorder::writer> writers;
    for (std::size_t r = 0; r < cold_recorders; ++r) {
        recs.push_back(std::make_unique<cold_recorder>());
        for (std::size_t a = 0; a < cg::recorder_traits::max_arms; ++a) {
            (void)recs.back()->add_arm("arm" + std::to_string(a));
        }
        writers.push_back(recs.back()->make_writer());
    }
    std::size_t i = 0;
    for (auto _ : state) {
        const std::uint32_t k = seq[i];
        benchmark::DoNotOptimize(
            writers[k >> 2].record(cg::arm_id{static_cast<std::uint8_t>(k & 3)}, data[i]));
        i = (i + 1) & data_mask;
    }
}
BENCHMARK(bm_record_writer_cold)->Name("record/writer_cold");

// --- Collector tick ------------------------------------------------------------

void bm_tick(benchmark::State& state) {
    cg::recorder rec;
    (void)rec.add_arm("baseline");
    (void)rec.add_arm("candidate");
    std::vector<cg::recorder::writer> writers;
    for (std::size_t s = 0; s < cg::recorder_traits::max_shards; ++s)
        writers.push_back(rec.make_writer());
    cg::collector_config cfg;
    cfg.slot_length = std::chrono::seconds(10);
    cfg.windows = {std::chrono::minutes(5), std::chrono::minutes(15)};
    cfg.publish = state.range(0) != 0;
    cg::basic_collector<cg::recorder, cg::manual_clock> col(rec, cfg);
    const auto& data = outcomes();
    std::size_t i = 0;
    for (auto _ : state) {
        state.PauseTiming();
        for (auto& w : writers) {  // 100 records per shard per tick
            for (int k = 0; k < 100; ++k) {
                w.record(cg::arm_id{static_cast<std::uint8_t>(k & 1)}, data[i]);
                i = (i + 1) & data_mask;
            }
        }
        col.clock().advance(std::chrono::seconds(1));  // seals a slot every 10 ticks
        state.ResumeTiming();
        col.tick();
    }
}
BENCHMARK(bm_tick)->Name("tick/64_shards")->Arg(0)->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_tick)->Name("tick/64_shards_publish")->Arg(1)->Unit(benchmark::kMicrosecond);

// --- Peers at 1 and 2 threads ------------------------------------------------------

// canarygate: one writer per thread.
void bm_peer_canarygate(benchmark::State& state) {
    const auto& data = outcomes();
    auto writer = shared_recorder().make_writer();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 4099;
    for (auto _ : state) {
        benchmark::DoNotOptimize(writer.record(cg::arm_id{1}, data[i & data_mask]));
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_peer_canarygate)->Name("peer/canarygate")->Threads(1)->Threads(2)->UseRealTime();

// The same counters, the same exact bucket index, one shared arm of atomics.
template <class Add>
inline void full_record(const request_outcome& r, Add add) noexcept {
    add(0, 1);
    add(1 + static_cast<std::size_t>(r.category), 1);
    add(10, r.latency_ns & 0xffffffffU);
    add(11, r.latency_ns >> 32);
    add(12, r.ttft_ns & 0xffffffffU);
    add(13, r.ttft_ns >> 32);
    add(14, r.input_tokens);
    add(15, r.output_tokens);
    add(16, (r.output_tokens * r.output_tokens) & 0xffffffffU);
    add(17, (r.output_tokens * r.output_tokens) >> 32);
    add(18, r.cost_nano_usd & 0xffffffffU);
    add(19, r.cost_nano_usd >> 32);
    add(20, r.cost_nano_usd * 3);
    add(21, r.cost_nano_usd >> 5);
    add(22, r.cost_nano_usd >> 7);
    add(region[0] + cg::histogram_counter_slot(cg::latency_ns_layout, r.latency_ns), 1);
    add(region[1] + cg::histogram_counter_slot(cg::latency_ns_layout, r.ttft_ns), 1);
    add(region[2] + cg::histogram_counter_slot(cg::tokens_layout, r.input_tokens), 1);
    add(region[3] + cg::histogram_counter_slot(cg::tokens_layout, r.output_tokens), 1);
    add(region[4] + cg::histogram_counter_slot(cg::cost_nano_usd_layout, r.cost_nano_usd), 1);
}

struct alignas(64) atomic_arm {
    std::array<std::atomic<std::uint64_t>, arm_cells> cells{};
};

void bm_peer_atomic(benchmark::State& state) {
    static atomic_arm arm;
    const auto& data = outcomes();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 4099;
    for (auto _ : state) {
        full_record(data[i & data_mask], [](std::size_t c, std::uint64_t d) {
            arm.cells[c].fetch_add(d, std::memory_order_relaxed);
        });
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_peer_atomic)->Name("peer/shared_atomic")->Threads(1)->Threads(2)->UseRealTime();

void bm_peer_mutex(benchmark::State& state) {
    static std::mutex m;
    static std::array<std::uint64_t, arm_cells> arm{};
    const auto& data = outcomes();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 4099;
    for (auto _ : state) {
        const std::lock_guard lock(m);
        full_record(data[i & data_mask], [](std::size_t c, std::uint64_t d) { arm[c] += d; });
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_peer_mutex)->Name("peer/mutex")->Threads(1)->Threads(2)->UseRealTime();

namespace bh = boost::histogram;
using log_axis = bh::axis::regular<double, bh::axis::transform::log>;
using atomic_storage = bh::dense_storage<bh::accumulators::thread_safe<std::uint64_t>>;
using boost_histogram = decltype(bh::make_histogram_with(atomic_storage(), log_axis(1, 1.0, 2.0)));

struct boost_peer {
    // Same ranges and bucket counts as canarygate's layouts; log() index.
    boost_histogram latency =
        bh::make_histogram_with(atomic_storage(), log_axis(800, 0x1p16, 0x1p41));
    boost_histogram ttft = bh::make_histogram_with(atomic_storage(), log_axis(800, 0x1p16, 0x1p41));
    boost_histogram in = bh::make_histogram_with(atomic_storage(), log_axis(320, 1.0, 0x1p20));
    boost_histogram out = bh::make_histogram_with(atomic_storage(), log_axis(320, 1.0, 0x1p20));
    boost_histogram cost = bh::make_histogram_with(atomic_storage(), log_axis(640, 1.0, 0x1p40));
    atomic_arm sums;
};

void bm_peer_boost_histogram(benchmark::State& state) {
    static boost_peer peer;
    const auto& data = outcomes();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 4099;
    for (auto _ : state) {
        const request_outcome& r = data[i & data_mask];
        peer.latency(static_cast<double>(r.latency_ns));
        if (r.ttft_ns != request_outcome::absent) peer.ttft(static_cast<double>(r.ttft_ns));
        peer.in(static_cast<double>(r.input_tokens));
        peer.out(static_cast<double>(r.output_tokens));
        peer.cost(static_cast<double>(r.cost_nano_usd));
        // The 15 sums and counts: atomic adds, as Boost.Histogram has none.
        full_record(r, [](std::size_t c, std::uint64_t d) {
            if (c < 24) peer.sums.cells[c].fetch_add(d, std::memory_order_relaxed);
        });
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_peer_boost_histogram)
    ->Name("peer/boost_histogram")
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

using p2_accumulator = boost::accumulators::accumulator_set<
    double, boost::accumulators::stats<boost::accumulators::tag::extended_p_square>>;
constexpr double p2_probabilities[] = {0.5, 0.9, 0.99};

struct p2_peer {
    std::mutex m;
    std::vector<p2_accumulator> acc;
    std::array<std::uint64_t, 24> sums{};
    p2_peer() {
        for (int k = 0; k < 5; ++k) {
            acc.emplace_back(boost::accumulators::extended_p_square_probabilities =
                                 p2_probabilities);
        }
    }
};

void bm_peer_p2(benchmark::State& state) {
    static p2_peer peer;
    const auto& data = outcomes();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 4099;
    for (auto _ : state) {
        const request_outcome& r = data[i & data_mask];
        const std::lock_guard lock(peer.m);  // P^2 is not thread-safe
        peer.acc[0](static_cast<double>(r.latency_ns));
        if (r.ttft_ns != request_outcome::absent) peer.acc[1](static_cast<double>(r.ttft_ns));
        peer.acc[2](static_cast<double>(r.input_tokens));
        peer.acc[3](static_cast<double>(r.output_tokens));
        peer.acc[4](static_cast<double>(r.cost_nano_usd));
        full_record(r, [](std::size_t c, std::uint64_t d) {
            if (c < 24) peer.sums[c] += d;
        });
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_peer_p2)->Name("peer/boost_p2")->Threads(1)->Threads(2)->UseRealTime();

#if defined(CANARYGATE_BENCH_PROMETHEUS_CPP)
struct prometheus_peer {
    prometheus::Registry registry;
    prometheus::Histogram* latency;
    prometheus::Histogram* ttft;
    prometheus::Histogram* in;
    prometheus::Histogram* out;
    prometheus::Histogram* cost;
    prometheus::Counter* requests;
    std::array<prometheus::Counter*, cg::outcome_count> outcome{};
    prometheus_peer() {
        // vLLM's bucket sets (reference/ecosystem.md); OpenTelemetry token buckets.
        const std::vector<double> e2e = {0.3, 0.5, 0.8, 1,  1.5, 2,   2.5, 5,   10,   15,  20,
                                         30,  40,  50,  60, 120, 240, 480, 960, 1920, 7680};
        const std::vector<double> ttft_b = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                            0.25,  0.5,   0.75, 1,    2.5,  5,    7.5,  10,
                                            20,    40,    80,   160,  640,  2560};
        std::vector<double> tokens;
        for (double b = 1; b <= 67108864; b *= 4) tokens.push_back(b);
        std::vector<double> usd;
        for (double b = 1e-6; b <= 100; b *= 2) usd.push_back(b);
        auto& h = prometheus::BuildHistogram().Name("llm_request").Register(registry);
        latency = &h.Add({{"series", "e2e_seconds"}}, e2e);
        ttft = &h.Add({{"series", "ttft_seconds"}}, ttft_b);
        in = &h.Add({{"series", "input_tokens"}}, tokens);
        out = &h.Add({{"series", "output_tokens"}}, tokens);
        cost = &h.Add({{"series", "cost_usd"}}, usd);
        auto& c = prometheus::BuildCounter().Name("llm_requests_total").Register(registry);
        requests = &c.Add({});
        auto& o = prometheus::BuildCounter().Name("llm_outcomes_total").Register(registry);
        for (std::size_t k = 0; k < cg::outcome_count; ++k) {
            outcome[k] = &o.Add({{"outcome", std::string(cg::name(static_cast<cg::outcome>(k)))}});
        }
    }
};

void bm_peer_prometheus(benchmark::State& state) {
    static prometheus_peer peer;
    const auto& data = outcomes();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 4099;
    for (auto _ : state) {
        const request_outcome& r = data[i & data_mask];
        peer.latency->Observe(static_cast<double>(r.latency_ns) * 1e-9);
        if (r.ttft_ns != request_outcome::absent)
            peer.ttft->Observe(static_cast<double>(r.ttft_ns) * 1e-9);
        peer.in->Observe(static_cast<double>(r.input_tokens));
        peer.out->Observe(static_cast<double>(r.output_tokens));
        peer.cost->Observe(static_cast<double>(r.cost_nano_usd) * 1e-9);
        peer.requests->Increment();
        peer.outcome[static_cast<std::size_t>(r.category)]->Increment();
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_peer_prometheus)->Name("peer/prometheus_cpp")->Threads(1)->Threads(2)->UseRealTime();
#endif

using times = ratio_reporter::times;

// Single-threaded rows: real and CPU time (the machine is shared: CPU time
// is the steadier of the two), each as a ratio to the baseline's.
void print_ratio(const char* label, times t, times base, const char* base_name) {
    if (std::isnan(t.real) || std::isnan(base.real)) return;
    std::printf("  %-30s real %8.2f ns %6.2fx | cpu %8.2f ns %6.2fx  %s\n", label, t.real,
                t.real / base.real, t.cpu, t.cpu / base.cpu, base_name);
}
// Multi-threaded rows: wall time per operation per thread.
void print_real_ratio(const char* label, double t, double base, const char* base_name) {
    if (std::isnan(t) || std::isnan(base)) return;
    std::printf("  %-42s %9.2f ns  %6.2fx %s\n", label, t, t / base, base_name);
}

void report(const ratio_reporter& reporter) {
    const auto t = [&](const std::string& name) { return reporter.time_of(name); };
    std::printf(
        "\nfull-outcome record (latency, TTFT, tokens, cost, outcome: 20 counter updates), same "
        "run:\n");
    print_ratio("record/writer", t("record/writer"), t("floor/hot"), "floor/hot");
    print_ratio("record/thread_local", t("record/thread_local"), t("floor/hot"), "floor/hot");
    print_ratio("floor/same_code_plain", t("floor/same_code_plain"), t("floor/hot"), "floor/hot");
    print_ratio("record/writer", t("record/writer"), t("floor/same_code_plain"),
                "floor/same_code_plain");
    print_ratio("record/writer_cold", t("record/writer_cold"), t("floor/cold"), "floor/cold");
    print_ratio("record/thread_local", t("record/thread_local"), t("record/writer"),
                "record/writer");
    print_ratio("tls/shared_object", t("tls/shared_object"), t("tls/executable"), "tls/executable");
    std::printf(
        "\npeers (same full outcome; wall time per op per thread; ratio to canarygate at the same "
        "thread count):\n");
    for (const char* threads : {"threads:1", "threads:2"}) {
        const double ours = t(std::string("peer/canarygate/real_time/") + threads).real;
        for (const char* peer : {"peer/canarygate", "peer/shared_atomic", "peer/mutex",
                                 "peer/boost_histogram", "peer/boost_p2", "peer/prometheus_cpp"}) {
            const std::string name = std::string(peer) + "/real_time/" + threads;
            print_real_ratio(name.c_str(), t(name).real, ours, "canarygate");
        }
    }
    const times tick = t("tick/64_shards");
    if (!std::isnan(tick.real)) {
        const double counters =
            64.0 * 2 * (cg::recorder::arm_scalar_count + cg::recorder::arm_array_count);
        std::printf(
            "\ncollector tick, 64 shards x 2 arms x %zu counters: real %.1f us, cpu %.1f us "
            "(%.2f ns cpu per counter read)\n",
            cg::recorder::arm_scalar_count + cg::recorder::arm_array_count, tick.real, tick.cpu,
            tick.cpu * 1000.0 / counters);
        const times publish = t("tick/64_shards_publish");
        if (!std::isnan(publish.real)) {
            std::printf(
                "  with publishing (2 windows + totals as snapshots): real %.1f us, cpu %.1f us\n",
                publish.real, publish.cpu);
        }
    }
    std::printf(
        "\nmemory: %zu B per arm, %zu B per shard (%zu arms), %zu B per recorder pool (%zu + 1 "
        "shards)\n",
        cg::recorder::arm_stride * sizeof(std::uint64_t), cg::recorder::shard_bytes,
        cg::recorder_traits::max_arms, cg::recorder::pool_bytes, cg::recorder_traits::max_shards);
    std::printf("hardware threads: %u\n", std::thread::hardware_concurrency());
}
CANARYGATE_PERF_REPORT(report);

}  // namespace
#endif
