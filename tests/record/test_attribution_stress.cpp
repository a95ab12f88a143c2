// SPDX-License-Identifier: MIT
// Concurrency stress (label `concurrency`, run under TSan in CI): four writer
// threads remember ids through three rings and the shared slow path (one
// writer hands its ring back midway, and the slow-path writer tries to take
// it), while the owner (this thread) drains, resolves and parks feedback.
// Rings and slow-path slots are small, so some remember() calls find them
// full; a writer then retries once. Every request carries a candidate share
// (half given in millionths, half as a fraction), and a few an invalid one
// (NaN: refused, counted). The owner's lookups repeat ids, so some are
// duplicates (counted apart, not attributed twice).
// After the join every id is either resolvable to the arm, model and share
// that remembered it, or accounted for in exactly one counter.
#include <catch2/catch.hpp>

#include <atomic>
#include <charconv>
#include <cstdint>
#include <latch>
#include <limits>
#include <random>
#include <string_view>
#include <thread>
#include <vector>

#include "canarygate/record/attribution.hpp"

namespace {

constexpr int writers = 4;
constexpr int ids_per_writer = 12'000;

struct id_buffer {
    char text[32];
    std::string_view view;
};

// "w<t>-<i>" without allocating.
id_buffer id_of(int t, int i) {
    id_buffer b{};
    char* p = b.text;
    *p++ = 'w';
    p = std::to_chars(p, b.text + sizeof b.text, t).ptr;
    *p++ = '-';
    p = std::to_chars(p, b.text + sizeof b.text, i).ptr;
    b.view = std::string_view(b.text, static_cast<std::size_t>(p - b.text));
    return b;
}

canarygate::attribution expected(int t, int i) {
    return {canarygate::arm_id{static_cast<std::uint8_t>((t + i) % 2)},
            static_cast<std::uint32_t>(t), i,
            static_cast<std::uint32_t>((t * 7919 + i * 131) % 1'000'001)};
}

// Every 997th id is remembered with a NaN share: refused, counted.
bool bad_share(int i) { return i % 997 == 13; }

}  // namespace

TEST_CASE("concurrent writers and owner: every id is resolvable or counted once",
          "[attribution][concurrency]") {
    canarygate::attribution_config c;
    c.capacity = 4096;  // far fewer than the 48,000 ids: evictions
    c.ttl_ns = std::int64_t{1} << 60;
    c.writer_rings = writers - 1;  // one writer starts on the slow path
    c.ring_capacity = 64;          // small: some ring_full
    c.overflow_capacity = 8;       // small: some overflow_full
    c.pending_capacity = 64;
    c.pending_ttl_ns = 1'000'000'000'000;
    c.seed = canarygate::hash_seed{0x1234, 0x5678};
    canarygate::attribution_map map(c);

    std::vector<std::vector<char>> accepted(writers, std::vector<char>(ids_per_writer, 0));
    std::vector<std::uint64_t> calls(writers, 0);
    std::atomic<int> finished{0};
    std::latch start(writers + 1);
    std::vector<std::thread> threads;
    for (int t = 0; t < writers; ++t) {
        threads.emplace_back([&, t] {
            // Every writer claims before any starts: one lands on the slow path.
            auto w = map.make_writer();
            start.arrive_and_wait();
            for (int i = 0; i < ids_per_writer; ++i) {
                if (t == 0 && i == ids_per_writer / 2) {
                    w.reset();  // hand the ring over...
                    std::this_thread::yield();
                    w = map.make_writer();  // ...and race the slow-path writer for one
                }
                if (!w.has_ring() && i % 1000 == 0) {
                    auto retry = map.make_writer();
                    if (retry.has_ring()) w = std::move(retry);
                }
                // A full ring drops the entry (counted); try once more after
                // giving the owner a chance to drain, as an embedder might.
                const auto id = id_of(t, i);
                bool ok = false;
                for (int attempt = 0; attempt < 2 && !ok; ++attempt) {
                    if (attempt > 0) std::this_thread::yield();
                    ++calls[static_cast<std::size_t>(t)];
                    canarygate::attribution a = expected(t, i);
                    if (bad_share(i)) {
                        a.candidate_share_ppm.reset();
                        (void)w.remember(id.view, a, std::numeric_limits<double>::quiet_NaN());
                        break;  // refused, not retried
                    }
                    if (i % 2 == 0) {
                        ok = w.remember(id.view, a);  // the share in millionths
                    } else {
                        const double share = *a.candidate_share_ppm / 1e6;
                        a.candidate_share_ppm.reset();
                        ok = w.remember(id.view, a, share);  // rounded back to the same ppm
                    }
                }
                accepted[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)] = ok ? 1 : 0;
            }
            // Relaxed: the join below orders everything the owner checks later.
            finished.fetch_add(1, std::memory_order_relaxed);
        });
    }

    // The owner: drains, resolves random ids, parks feedback for ids that may
    // not be remembered yet. Mismatches are counted here and checked after the
    // join (Catch2 assertions are not thread-safe; this is the main thread,
    // but counting keeps the loop fast).
    std::uint64_t owner_lookups = 0;
    std::uint64_t wrong = 0;
    std::uint64_t delivered = 0;
    std::uint64_t unbalanced = 0;
    const auto sink = [&](const canarygate::attribution& a, const canarygate::feedback_event& f) {
        const auto code = static_cast<int>(f.score);
        ++delivered;
        if (!(a == expected(code / ids_per_writer, code % ids_per_writer))) ++wrong;
    };
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> pick_writer(0, writers - 1);
    std::uniform_int_distribution<int> pick_id(0, ids_per_writer - 1);
    std::int64_t now = 0;
    start.arrive_and_wait();
    // Relaxed: a loop condition; the joins publish the writers' results.
    while (finished.load(std::memory_order_relaxed) < writers) {
        now += 1000;
        (void)map.drain(now, sink);
        for (int k = 0; k < 8; ++k) {
            const int t = pick_writer(rng);
            const int i = pick_id(rng);
            const auto r = map.resolve(id_of(t, i).view, now);
            ++owner_lookups;
            if (r.status == canarygate::resolve_status::resolved && !(r.value == expected(t, i)))
                ++wrong;
            if (r.status == canarygate::resolve_status::expired_id)
                ++wrong;  // the TTL is never reached
        }
        const int t = pick_writer(rng);
        const int i = pick_id(rng);
        const auto r = map.resolve_or_defer(
            id_of(t, i).view,
            {canarygate::feedback_kind::score, std::int64_t{t} * ids_per_writer + i}, now);
        ++owner_lookups;
        if (r.status == canarygate::resolve_status::resolved && !(r.value == expected(t, i)))
            ++wrong;
        if (!map.stats().balanced()) ++unbalanced;  // exact even while writers run
    }
    for (auto& th : threads) th.join();

    // Drain what is left and let parked feedback for ids that never came time out.
    (void)map.drain(now + 1, sink);
    (void)map.drain(now + 2 * c.pending_ttl_ns, sink);
    const canarygate::attribution_stats s = map.stats();
    INFO("remembered " << s.remembered << ", ring_full " << s.ring_full << ", overflow_full "
                       << s.overflow_full << ", evicted " << s.evicted << ", live " << s.live
                       << ", resolved " << s.resolved << ", resolved_late " << s.resolved_late
                       << ", unknown " << s.unknown_id << ", pending_full " << s.pending_full);
    CHECK(wrong == 0);
    CHECK(unbalanced == 0);
    CHECK(s.balanced());
    CHECK(s.in_flight == 0);
    CHECK(s.pending == 0);
    CHECK(delivered == s.resolved_late);
    CHECK(s.lookups == owner_lookups);
    CHECK(s.overflow_writers >= 1);
    CHECK(s.duplicate == 0);  // ids are unique
    CHECK(s.expired + s.retired == 0);

    // Every remember() call is accounted for once.
    std::uint64_t accepted_total = 0;
    for (const auto& row : accepted) {
        for (const char a : row) accepted_total += static_cast<std::uint64_t>(a);
    }
    std::uint64_t calls_total = 0;
    for (const std::uint64_t n : calls) calls_total += n;
    CHECK(accepted_total == s.remembered);
    CHECK(calls_total == s.remembered + s.ring_full + s.overflow_full + s.rejected_share);
    std::uint64_t bad = 0;
    for (int i = 0; i < ids_per_writer; ++i) bad += bad_share(i) ? 1U : 0U;
    CHECK(s.rejected_share == bad * writers);

    // Every accepted id is resolvable to its own attribution or was evicted;
    // every dropped id is unknown. An id the owner resolved above answers
    // duplicate_feedback, with its attribution.
    std::uint64_t resolvable = 0;
    std::uint64_t gone = 0;
    std::uint64_t mismatched = 0;
    for (int t = 0; t < writers; ++t) {
        for (int i = 0; i < ids_per_writer; ++i) {
            const auto r = map.resolve(id_of(t, i).view, now + 2 * c.pending_ttl_ns);
            const bool was_accepted =
                accepted[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)] != 0;
            if (r.status == canarygate::resolve_status::resolved ||
                r.status == canarygate::resolve_status::duplicate_feedback) {
                ++resolvable;
                if (!was_accepted || !(r.value == expected(t, i))) ++mismatched;
            } else if (r.status == canarygate::resolve_status::unknown_id) {
                if (was_accepted) ++gone;
            } else {
                ++mismatched;
            }
        }
    }
    CHECK(mismatched == 0);
    CHECK(resolvable == s.live);
    CHECK(map.stats().balanced());
    CHECK(gone == s.evicted);
    CHECK(s.live == c.capacity);
}
