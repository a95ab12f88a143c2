// SPDX-License-Identifier: MIT
// The thread-local convenience path: several recorders in one process, more
// recorders than the thread cache holds, thread exit handing the shard back,
// and a recorder that dies before the threads that recorded into it.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "canarygate/record/recorder.hpp"
#include "canarygate/window/collector.hpp"
#include "support/recorder_helpers.hpp"

namespace {

using test_support::outcome_with_latency;
using test_support::totals_of;

using canarygate::arm_id;
using canarygate::request_outcome;
using canarygate::wide_uint;
namespace series = canarygate::series;

wide_uint requests_of(canarygate::recorder& rec) {
    const auto s = totals_of(rec);
    const auto* a = s.find_arm("candidate");
    return a == nullptr ? wide_uint{} : a->counter(series::requests);
}

// A one-shot gate between two threads.
class gate {
public:
    void open() {
        {
            const std::lock_guard lock(m_);
            open_ = true;
        }
        cv_.notify_all();
    }
    void wait() {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return open_; });
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    bool open_ = false;
};

}  // namespace

TEST_CASE("several recorders in one thread keep their counts apart", "[recorder][tls]") {
    canarygate::recorder a, b, c;
    for (auto* r : {&a, &b, &c}) (void)r->add_arm("candidate");
    for (std::uint64_t i = 0; i < 1000; ++i) {
        a.record(arm_id{0}, outcome_with_latency(i));
        if (i % 2 == 0) b.record(arm_id{0}, outcome_with_latency(i));
        if (i % 5 == 0) c.record(arm_id{0}, outcome_with_latency(i));
    }
    CHECK(a.shards_in_use() == 1);
    CHECK(b.shards_in_use() == 1);
    CHECK(requests_of(a) == wide_uint{1000});
    CHECK(requests_of(b) == wide_uint{500});
    CHECK(requests_of(c) == wide_uint{200});
}

TEST_CASE("more recorders than cache entries: evicted shards are handed back", "[recorder][tls]") {
    constexpr std::size_t n = canarygate::recorder_traits::thread_cache_size * 2 + 1;
    std::vector<std::unique_ptr<canarygate::recorder>> recs;
    for (std::size_t i = 0; i < n; ++i) {
        recs.push_back(std::make_unique<canarygate::recorder>());
        (void)recs.back()->add_arm("candidate");
    }
    constexpr std::uint64_t rounds = 300;
    std::thread t([&] {
        for (std::uint64_t round = 0; round < rounds; ++round) {
            for (auto& r : recs) r->record(arm_id{0}, outcome_with_latency(round));
        }
    });
    t.join();
    for (auto& r : recs) {
        // Every eviction orphaned a shard that the next claim adopted: one
        // shard per recorder at most, however often the entry was evicted.
        CHECK(r->shards_in_use() == 1);
        CHECK(requests_of(*r) == wide_uint{rounds});
        CHECK(r->shards_in_use() == 0);  // the thread exited: folded and freed
    }
}

TEST_CASE("thread exit orphans the shard and the collector folds it", "[recorder][tls]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    canarygate::basic_collector<canarygate::recorder, canarygate::manual_clock> col(rec);
    std::thread([&] {
        for (int i = 0; i < 100; ++i) rec.record(arm, outcome_with_latency(1000));
    }).join();
    CHECK(rec.shards_in_use() == 1);  // orphaned
    col.tick();
    CHECK(rec.shards_in_use() == 0);  // folded into the retired base, freed
    std::size_t in_use = 0;
    std::thread([&] {
        for (int i = 0; i < 50; ++i) rec.record(arm, outcome_with_latency(1000));
        in_use = rec.shards_in_use();  // read after join
    }).join();
    CHECK(in_use == 1);  // reused the freed shard
    col.tick();
    const auto s = col.cumulative();
    CHECK(s.find_arm("candidate")->counter(series::requests) == wide_uint{150});
    CHECK(s.find_arm("candidate")->counter(series::latency_sum) == wide_uint{150'000});
}

TEST_CASE("a recorder may die before the threads that recorded into it",
          "[recorder][tls][lifetime]") {
    auto first = std::make_unique<canarygate::recorder>();
    (void)first->add_arm("candidate");
    gate recorded, destroyed;
    std::unique_ptr<canarygate::recorder> second;
    std::thread t([&] {
        for (int i = 0; i < 10; ++i) first->record(arm_id{0}, outcome_with_latency(5));
        recorded.open();
        destroyed.wait();
        // This thread's cache still has an entry for the dead recorder; the
        // new one (possibly at the same address) must not match it.
        for (int i = 0; i < 20; ++i) second->record(arm_id{0}, outcome_with_latency(7));
    });  // exit: releasing the dead recorder's entry must not touch freed memory
    recorded.wait();
    first.reset();
    second = std::make_unique<canarygate::recorder>();
    (void)second->add_arm("candidate");
    destroyed.open();
    t.join();
    CHECK(requests_of(*second) == wide_uint{20});
    CHECK(second->shards_in_use() == 0);
}

TEST_CASE("the main thread's cache and many short-lived threads", "[recorder][tls]") {
    canarygate::recorder rec;
    const arm_id arm = rec.add_arm("candidate");
    rec.record(arm, outcome_with_latency(1));
    for (int wave = 0; wave < 10; ++wave) {
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&] {
                for (int i = 0; i < 100; ++i) rec.record(arm, outcome_with_latency(2));
            });
        }
        for (auto& t : threads) t.join();
    }
    CHECK(rec.shards_in_use() <= canarygate::recorder_traits::max_shards);
    const auto s = totals_of(rec);
    CHECK(s.find_arm("candidate")->counter(series::requests) == wide_uint{1 + 10 * 8 * 100});
    CHECK(s.counter(series::overflow_writers) == wide_uint{0});
}
