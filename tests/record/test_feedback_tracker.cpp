// SPDX-License-Identifier: MIT
// The feedback tracker: request threads remember ids through hidden
// per-thread writers while the owner takes feedback and ticks; feedback is
// counted once per (request, kind), per arm and per cohort (the candidate's
// share at routing), and written into a snapshot under the series the rate
// gate reads; bad input is refused and counted; threads may outlive the
// tracker; exiting threads give their rings back; the delay estimate
// recovers a known log-normal within a tolerance derived from the sample
// size. The concurrent cases are meant to run under TSan and ASan.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <latch>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "canarygate/core/clock.hpp"
#include "canarygate/record/feedback_tracker.hpp"
#include "canarygate/record/series.hpp"
#include "canarygate/window/snapshot.hpp"

namespace tracker_test {

using canarygate::arm_id;
using canarygate::attribution;
using canarygate::attribution_config;
using canarygate::feedback_event;
using canarygate::feedback_kind;
using canarygate::feedback_status;
using canarygate::feedback_tracker;
using canarygate::hour_ns;
using canarygate::second_ns;

attribution_config config(std::size_t rings = 4) {
    attribution_config c;
    c.capacity = 1 << 14;
    c.ttl_ns = hour_ns;
    c.writer_rings = rings;
    // Room for every id of the concurrent test in one ring: a thread that
    // exits gives its ring back with whatever the owner has not drained
    // yet, and a thread that starts when no ring is drained takes such a
    // ring (on 2 cores the writers often run one after another).
    c.ring_capacity = 8192;
    c.overflow_capacity = 64;
    c.pending_capacity = 8192;
    c.pending_ttl_ns = 600 * second_ns;
    c.seed = canarygate::hash_seed{11, 12};
    return c;
}

std::string id_of(int t, int i) { return "t" + std::to_string(t) + "-" + std::to_string(i); }

// Thread t routes with candidate share 0.1, 0.25, 0.5, or unknown (t = 3).
std::optional<std::uint32_t> share_ppm_of(int t) {
    constexpr std::uint32_t shares[] = {100'000, 250'000, 500'000};
    return t < 3 ? std::optional<std::uint32_t>(shares[t]) : std::nullopt;
}
arm_id arm_of(int t, int i) { return arm_id{static_cast<std::uint8_t>((t + i) % 2)}; }

static_assert(noexcept(std::declval<feedback_tracker&>().remember(std::string_view{}, arm_id{}, 0,
                                                                  0.5)));
static_assert(noexcept(std::declval<feedback_tracker&>().remember(std::string_view{},
                                                                  attribution{})));
static_assert(!std::is_copy_constructible_v<feedback_tracker>);

TEST_CASE("threads remember while the owner takes feedback: counted once per arm, kind, cohort",
          "[feedback_tracker][concurrency]") {
    constexpr int threads = 4;
    constexpr int ids = 2000;
    feedback_tracker tracker(config());
    std::latch start(threads + 1);
    std::atomic<int> refused{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < threads; ++t) {
        writers.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < ids; ++i) {
                const std::string id = id_of(t, i);
                const auto ppm = share_ppm_of(t);
                const bool ok = ppm ? tracker.remember(id, arm_of(t, i), i, *ppm / 1e6)
                                    : tracker.remember(id, attribution{arm_of(t, i), 7, i});
                // Relaxed: a count checked after the join.
                if (!ok) refused.fetch_add(1, std::memory_order_relaxed);
            }
        });
    }

    // The owner, concurrently: thumbs-down for every third id and a retry of
    // it, a ticket for every fifth; often before the id is remembered (then
    // parked and counted by a later tick).
    std::int64_t now = second_ns;
    std::map<feedback_status, int> answers;
    int sent = 0;
    start.arrive_and_wait();
    for (int i = 0; i < ids; ++i) {
        for (int t = 0; t < threads; ++t) {
            const std::string id = id_of(t, i);
            if (i % 3 == 0) {
                ++answers[tracker.feedback(id, {feedback_kind::thumbs_down}, ++now).status];
                ++answers[tracker.feedback(id, {feedback_kind::thumbs_down}, ++now).status];
                sent += 2;
            }
            if (i % 5 == 0) {
                ++answers[tracker.feedback(id, {feedback_kind::ticket}, ++now).status];
                ++sent;
            }
            if (sent % 64 == 0) tracker.tick(now);
        }
    }
    for (auto& w : writers) w.join();
    tracker.tick(++now);

    const int down_ids = (ids + 2) / 3;
    const int ticket_ids = (ids + 4) / 5;
    CHECK(refused.load() == 0);
    // Which copy of a retried thumbs-down is the duplicate depends on timing
    // (the retry, if the request arrived in between, or the parked first
    // copy at the next tick); the totals do not.
    CHECK(answers[feedback_status::counted] + answers[feedback_status::deferred] +
              answers[feedback_status::duplicate] ==
          sent);
    CHECK(answers[feedback_status::unknown_id] == 0);
    CHECK(answers[feedback_status::pending_full] == 0);

    const auto s = tracker.stats();
    CHECK(s.balanced());
    CHECK(s.map.remembered == std::uint64_t{threads * ids});
    CHECK(s.map.pending == 0);
    CHECK(s.map.in_flight == 0);
    CHECK(s.feedback_calls == static_cast<std::uint64_t>(sent));
    CHECK(s.counted == static_cast<std::uint64_t>((down_ids + ticket_ids) * threads));
    CHECK(s.map.duplicate_feedback == static_cast<std::uint64_t>(down_ids * threads));
    CHECK(s.share_unknown == static_cast<std::uint64_t>(down_ids + ticket_ids));  // thread 3
    CHECK(s.in_cohort == static_cast<std::uint64_t>((down_ids + ticket_ids) * 3));
    CHECK(s.map.overflow_writers == 0);

    // The expected counts, per arm, kind and cohort.
    std::map<std::pair<int, int>, std::uint64_t> totals;                   // (arm, kind)
    std::map<std::tuple<int, int, std::uint32_t>, std::uint64_t> cohorts;  // (arm, kind, ppm)
    for (int t = 0; t < threads; ++t) {
        for (int i = 0; i < ids; ++i) {
            const int arm = arm_of(t, i).value;
            for (const auto& [kind, every] :
                 {std::pair{feedback_kind::thumbs_down, 3}, std::pair{feedback_kind::ticket, 5}}) {
                if (i % every != 0) continue;
                ++totals[{arm, static_cast<int>(kind)}];
                if (const auto ppm = share_ppm_of(t))
                    ++cohorts[{arm, static_cast<int>(kind), *ppm}];
            }
        }
    }
    for (const auto& [key, n] : totals) {
        CHECK(tracker.count(arm_id{static_cast<std::uint8_t>(key.first)},
                            static_cast<feedback_kind>(key.second)) == n);
    }
    for (const auto& [key, n] : cohorts) {
        const auto [arm, kind, ppm] = key;
        CHECK(tracker.count(arm_id{static_cast<std::uint8_t>(arm)},
                            static_cast<feedback_kind>(kind), ppm) == n);
    }
    CHECK(tracker.count(arm_id{0}, feedback_kind::thumbs_up) == 0);

    // The same counts in a snapshot, under the names the rate gate reads.
    canarygate::snapshot snap(0, now);
    tracker.add_to(snap, [](arm_id a) { return a.value == 0 ? "baseline" : "candidate"; });
    const char* roles[] = {"baseline", "candidate"};
    for (const auto& [key, n] : totals) {
        const auto* arm = snap.find_arm(roles[key.first]);
        REQUIRE(arm != nullptr);
        const std::string total =
            std::string(canarygate::series::feedback_prefix) +
            std::string(canarygate::name(static_cast<feedback_kind>(key.second)));
        CHECK(arm->counter(total) == canarygate::wide_uint(n));
    }
    std::uint64_t cohort_counters = 0;
    for (const auto& [key, n] : cohorts) {
        const auto [arm, kind, ppm] = key;
        const std::string name =
            canarygate::feedback_cohort::series_name(static_cast<feedback_kind>(kind), ppm);
        CHECK(snap.find_arm(roles[arm])->counter(name) == canarygate::wide_uint(n));
        ++cohort_counters;
    }
    std::uint64_t seen = 0;
    tracker.for_each_count([&](arm_id, std::string_view name, std::uint64_t) {
        seen += name.find(".by_share.") != std::string_view::npos ? 1U : 0U;
    });
    CHECK(seen == cohort_counters);
    CHECK(snap.counter("feedback.duplicate") == canarygate::wide_uint(s.map.duplicate_feedback));
    CHECK(snap.counter("feedback.counted") == canarygate::wide_uint(s.counted));
    CHECK(snap.counter("feedback.received") == canarygate::wide_uint(s.feedback_calls));
    CHECK(snap.counters().count("feedback.pending") == 0);  // a gauge
}

TEST_CASE("early feedback is counted by a later tick, once, with its delay from receipt",
          "[feedback_tracker]") {
    feedback_tracker tracker(config());
    CHECK(tracker.feedback("early", {feedback_kind::thumbs_down}, 10 * second_ns).status ==
          feedback_status::deferred);
    CHECK(tracker.feedback("early", {feedback_kind::thumbs_down}, 11 * second_ns).status ==
          feedback_status::duplicate);
    CHECK(tracker.remember("early", arm_id{1}, 0, 0.2));
    CHECK(tracker.tick(50 * second_ns) == 1);
    CHECK(tracker.count(arm_id{1}, feedback_kind::thumbs_down) == 1);
    CHECK(tracker.count(arm_id{1}, feedback_kind::thumbs_down, 200'000) == 1);
    CHECK(tracker.feedback("early", {feedback_kind::thumbs_down}, 60 * second_ns).status ==
          feedback_status::duplicate);
    // Received at 10 s for a response at 0: one delay of 10 s (not the
    // tick's 50 s), within one bin of the histogram.
    const auto d = tracker.delay_estimate();
    CHECK(d.count == 1);
    CHECK(std::abs(std::log(d.median_s / 10.0)) <= std::log(10.0) / 64);
    const auto s = tracker.stats();
    CHECK(s.counted == 1);
    CHECK(s.map.resolved_late == 1);
    CHECK(s.map.duplicate_feedback == 2);
    CHECK(s.balanced());
}

TEST_CASE("the tracker refuses bad input and counts it", "[feedback_tracker]") {
    feedback_tracker tracker(config());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK_FALSE(tracker.remember("bad-share", arm_id{0}, 0, nan));
    CHECK_FALSE(tracker.remember("bad-share-2", arm_id{0}, 0, 1.5));
    CHECK_FALSE(tracker.remember("bad-arm", arm_id{4}, 0, 0.5));  // max_arms = 4
    CHECK_FALSE(tracker.remember("bad-arm-2", attribution{arm_id{200}, 0, 0}));
    CHECK(tracker.remember("good", arm_id{3}, 0, 0.5));
    CHECK(tracker.feedback("good", {static_cast<feedback_kind>(7)}, 1).status ==
          feedback_status::rejected);
    CHECK(tracker.feedback("good", {feedback_kind::score, 1'000'000'001}, 1).status ==
          feedback_status::rejected);
    CHECK(tracker
              .feedback("good", {feedback_kind::score, std::numeric_limits<std::int64_t>::min()}, 1)
              .status == feedback_status::rejected);
    CHECK(tracker.feedback("bad-arm", {feedback_kind::thumbs_up}, 1).status ==
          feedback_status::deferred);  // never stored: parked, then times out
    // Rejected feedback does not use up the kind: the valid score counts.
    const auto r = tracker.feedback("good", {feedback_kind::score, -1'000'000'000}, 1);
    CHECK(r.status == feedback_status::counted);
    CHECK(r.value.arm == arm_id{3});
    CHECK(r.value.candidate_share_ppm == 500'000U);

    const auto s = tracker.stats();
    CHECK(s.rejected_arm == 2);
    CHECK(s.map.rejected_share == 2);
    CHECK(s.map.remembered == 1);
    CHECK(s.rejected_feedback == 3);
    CHECK(s.feedback_calls == 5);
    CHECK(s.map.lookups == 2);
    CHECK(s.balanced());

    canarygate::snapshot snap(0, 1);
    tracker.add_to(snap, [](arm_id) { return std::pair<std::string, std::string>{"cand", "v2"}; });
    const auto* arm = snap.find_arm("cand", "v2");
    REQUIRE(arm != nullptr);
    CHECK(arm->counter("feedback.score") == canarygate::wide_uint(1));
    CHECK(arm->counter(canarygate::series::feedback_score_negative_sum) ==
          canarygate::wide_uint(1'000'000'000));
    CHECK(arm->counter("feedback.score.by_share.500000") == canarygate::wide_uint(1));
    CHECK(snap.counter("attribution.rejected_arm") == canarygate::wide_uint(2));
    CHECK(snap.counter("attribution.rejected_share") == canarygate::wide_uint(2));
    CHECK(snap.counter("feedback.rejected") == canarygate::wide_uint(3));
}

TEST_CASE("a tracker may die before the threads that used it", "[feedback_tracker][concurrency]") {
    // A thread remembers into A1, A2 and B; both A die while it lives. It
    // then remembers into C, which reuses a dead tracker's cache entry (the
    // writer is abandoned, the dead map untouched), and exits holding the
    // other dead entry (abandoned at exit) and B's and C's writers (their
    // rings go back to the pools). Under ASan a touch of a dead map is a
    // heap-use-after-free.
    auto a1 = std::make_unique<feedback_tracker>(config(1));
    auto a2 = std::make_unique<feedback_tracker>(config(1));
    feedback_tracker b(config(1));
    feedback_tracker c(config(1));
    std::latch used(1);
    std::latch destroyed(1);
    int accepted = 0;  // written by the thread, read after the join
    std::thread user([&] {
        accepted += a1->remember("x", arm_id{0}, 1, 0.5) ? 1 : 0;
        accepted += a2->remember("x", arm_id{0}, 1, 0.5) ? 1 : 0;
        accepted += b.remember("y", arm_id{1}, 1, 0.5) ? 1 : 0;
        used.count_down();
        destroyed.wait();
        accepted += c.remember("y", arm_id{1}, 1, 0.5) ? 1 : 0;
    });
    used.wait();
    a1.reset();
    a2.reset();
    destroyed.count_down();
    user.join();
    CHECK(accepted == 4);
    // The exited thread gave B's and C's rings back: this thread claims them.
    for (feedback_tracker* t : {&b, &c}) {
        CHECK(t->remember("z", arm_id{1}, 2, 0.5));
        CHECK(t->stats().map.overflow_writers == 0);
        CHECK(t->feedback("y", {feedback_kind::thumbs_up}, 3).status == feedback_status::counted);
        CHECK(t->feedback("z", {feedback_kind::thumbs_up}, 3).status == feedback_status::counted);
    }
}

TEST_CASE("a thread's cache gives back the least recently used tracker's ring",
          "[feedback_tracker]") {
    // Default thread_cache_size 4: a fifth tracker evicts the first.
    std::vector<std::unique_ptr<feedback_tracker>> trackers;
    for (int k = 0; k < 5; ++k) trackers.push_back(std::make_unique<feedback_tracker>(config(1)));
    for (auto& t : trackers) CHECK(t->remember("a", arm_id{0}, 0, 0.5));
    bool has_ring = false;
    std::thread([&] {
        (void)trackers[0]->remember("b", arm_id{0}, 0, 0.5);
        has_ring = trackers[0]->stats().map.overflow_writers == 0;
    }).join();
    CHECK(has_ring);
    std::thread([&] { (void)trackers[4]->remember("b", arm_id{0}, 0, 0.5); }).join();
    CHECK(trackers[4]->stats().map.overflow_writers == 1);  // still held by this thread
}

TEST_CASE("the delay estimate recovers a known log-normal", "[feedback_tracker]") {
    // n delays with ln(delay) ~ Normal(ln 300 s, 1.2). Tolerances: 5 standard
    // errors (ln median 1.2533 sigma / sqrt(n), sigma 1.166 sigma / sqrt(n);
    // two-sided 6e-7 each), plus the histogram's rounding: the interpolated
    // median lies in the bin of the exact one (one bin, ln(10) / 64), the MAD
    // within two bins, times 1.4826 for sigma.
    constexpr int n = 50'000;
    constexpr double median_s = 300.0;
    constexpr double sigma = 1.2;
    attribution_config c = config();
    c.capacity = 1 << 16;
    c.ttl_ns = std::int64_t{1} << 60;
    c.ring_capacity = 1 << 16;
    feedback_tracker tracker(c);
    std::mt19937_64 rng(987654321);
    std::normal_distribution<double> z;
    for (int i = 0; i < n; ++i) REQUIRE(tracker.remember(id_of(0, i), arm_id{1}, i, 0.5));
    for (int i = 0; i < n; ++i) {
        const double delay_s = median_s * std::exp(sigma * z(rng));
        const auto received = i + static_cast<std::int64_t>(std::llround(delay_s * 1e9));
        REQUIRE(tracker.feedback(id_of(0, i), {feedback_kind::thumbs_up}, received).status ==
                feedback_status::counted);
    }
    const auto d = tracker.delay_estimate();
    const double bin = std::log(10.0) / 64;
    const double tol_median = 5 * 1.2533 * sigma / std::sqrt(double{n}) + bin;
    const double tol_sigma = 5 * 1.166 * sigma / std::sqrt(double{n}) + 1.4826 * 2 * bin;
    INFO("median " << d.median_s << " s, sigma " << d.sigma);
    CHECK(d.count == std::uint64_t{n});
    CHECK(std::abs(std::log(d.median_s / median_s)) <= tol_median);
    CHECK(std::abs(d.sigma - sigma) <= tol_sigma);
    CHECK(tracker.stats().delay_nonpositive == 0);

    // Feedback received before its response (clock skew) is left out, counted.
    CHECK(tracker.remember("skewed", arm_id{1}, 1'000'000, 0.5));
    CHECK(tracker.feedback("skewed", {feedback_kind::thumbs_up}, 999'999).status ==
          feedback_status::counted);
    CHECK(tracker.stats().delay_nonpositive == 1);
    CHECK(tracker.delay_estimate().count == std::uint64_t{n});
    CHECK(feedback_tracker(config()).delay_estimate().count == 0);
}

}  // namespace tracker_test
