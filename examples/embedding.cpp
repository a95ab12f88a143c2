// SPDX-License-Identifier: MIT
// canarygate inside an inference server: the reference program for
// embedders. It plays a multi-threaded server in simulated time and shows
// where each piece of canarygate sits:
//
//   request threads (workers)          controller thread (every simulated minute)
//   ------------------------           -------------------------------------------
//   d = router.route(user id)          collector.tick(now); tracker.tick(now)
//   serve on d.target's model          totals = collector.cumulative()
//   writer.record(arm, outcome)        tracker.add_to(totals, ...)
//   if d.shadow: serve a copy on the   r = controller.step(now, totals)
//     candidate, record it as shadow   router.set_weights(r.weights)   <- the live flip
//   tracker.remember(request id, arm,  print r
//     response time, candidate share)
//   later: tracker.feedback(id, ...)
//
// Four workers share ONE router (flagd `fractional` bucketing, sticky by user
// id), ONE recorder (each worker owns a writer: its own shard of counters)
// and ONE feedback tracker. Each request is served by a simulated baseline or
// candidate model (the response model of testkit::scenario: log-normal
// lengths, latency growing with length, a Pareto queueing tail, zero-inflated
// cost, refusals, errors), drawn from a seeded random source per worker.
// A few requests get a thumbs-up or thumbs-down minutes later; the worker
// that served the request delivers it (some webhooks twice, as retries do,
// and a few with request ids this server never saw).
//
// The rollout: a shadow stage (20 % of the baseline's requests are mirrored
// to the candidate, whose answers are recorded as the arm "shadow" and never
// shown), then canary stages at 10, 25 and 50 %. The canary stages are judged
// by default_policy(), the shadow stage by the same gates comparing
// "baseline" with "shadow". A stage that stays undecided advances at its
// maximum duration (at_max = advance: "no regression detected", weaker than
// a pass), so a good candidate completes in about two simulated hours; a
// regression that a critical gate proves rolls back at once; a failed
// non-critical gate (TTFT, feedback) holds the stage for a human. At 400
// requests a minute a cost or output-length regression is proven within
// minutes, but P99 latency needs far more traffic: a candidate 1.6x slower
// at P99 completes here (try --regression latency=1.6). Production stages
// dwell for hours, not minutes.
//
// Simulated time is lock-step so that a run is reproducible (same seed, same
// decisions, whatever the thread scheduling or a sanitizer's slowdown): the
// controller opens a minute by advancing a shared atomic clock; every worker
// serves its share of that minute (100 requests, stamped with the clock) and
// reports back; then the controller checks and opens the next minute. A real
// server never waits for its controller: there, the router's weights are the
// only coupling, and a flip lands between two requests of a running thread.
//
// Output, per case, one line per decision:
//   t=  10 min                 shadow 20 %   hold      gates ..PP.P..   policy keep_going
// the simulated time of the check, the stage judged, the action, one
// character per gate of the stage's policy (in the order listed at the top:
// P pass, . undecided, F fail, n no regression detected at the maximum
// duration, ! invalid) and the controller's reason. A run of identical holds
// is printed once, with its time span and count. Then each gate's evidence
// behind the last decision, the conservation checks and expectations (each
// "ok" or "VIOLATED") and a summary: the outcome and the requests each arm
// served.
//
// Usage: canarygate_embedding [--seed S] [--log FILE]
//            a good candidate (expect completed), then cost x1.6 (expect rolled
//            back in the shadow stage, before any user saw the candidate)
//        canarygate_embedding --regression NAME=X[,NAME=X...] [--expect completed|rolled_back]
//            [--seed S]
//            one candidate with these regressions
// Regressions: latency, cost, refusal, error, output_length, thumbs_down
// (candidate / baseline multipliers, as testkit::regression). --log FILE
// writes the first case's request log (JSON Lines, request_log_writer: every
// request, shadow copy and feedback, as a server would log them), which the
// testing kit replays (docs/testing.md). Exit status: 0
// when every expectation and conservation check holds, 1 otherwise, 2 for a
// bad command line.
#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <canarygate/canarygate.hpp>
#include <canarygate/rollout/controller.hpp>
#include <canarygate/rollout/router.hpp>
#include <canarygate/testing/random.hpp>
#include <canarygate/testing/scenario.hpp>
#if CANARYGATE_EXAMPLE_REQUEST_LOG
#include <canarygate/integration/request_log.hpp>
#endif

namespace {

namespace cg = canarygate;
namespace tk = canarygate::testkit;

// --- The simulated deployment ---------------------------------------------------

constexpr std::size_t worker_count = 4;
// 400 requests per simulated minute in all: a rollout of about two simulated
// hours is some 50,000 requests, a few seconds under ThreadSanitizer.
constexpr std::uint64_t requests_per_worker_minute = 100;
// User ids are drawn uniformly from a large population, so few users repeat
// and the sticky split behaves like an independent one. The sample-ratio
// check counts requests as if they were independent: with 10 users sending a
// tenth of the traffic, whichever side of the split they land on gets more
// than its share, and this rollout holds on a sample-ratio alarm for hours.
constexpr std::uint64_t user_population = 1'000'000;
// The controller stops a rollout that has not ended by then (it would be
// awaiting a human), and lets traffic run this long after the last decision,
// to show the flipped weights serving.
constexpr std::int64_t give_up_ns = 4 * cg::hour_ns;
constexpr std::int64_t tail_ns = 2 * cg::minute_ns;
// Late feedback: webhooks retried (delivered twice), and feedback about
// request ids this server never served (another replica's, or forged), per
// worker and minute.
constexpr double retry_probability = 0.05;
constexpr double ghost_probability = 0.05;
// How long parked feedback (its request not yet known) waits before it
// counts as unknown.
constexpr std::int64_t pending_ttl_ns = 2 * cg::minute_ns;
// Feedback delays are capped well below the tracker's TTL, so no feedback in
// this simulation expires and the expected attributions are exact.
constexpr std::int64_t max_feedback_delay_ns = 6 * cg::hour_ns;
constexpr std::int64_t attribution_ttl_ns = 12 * cg::hour_ns;

const std::string baseline_digest = "sha256:" + std::string(64, 'a');
const std::string candidate_digest = "sha256:" + std::string(64, 'b');

// The arms, in the order they are registered with the recorder.
enum arm_index : std::size_t { baseline_arm, candidate_arm, shadow_arm, arm_count };
constexpr std::array<std::string_view, arm_count> arm_roles = {"baseline", "candidate", "shadow"};

cg::controller_config rollout_config() {
    cg::controller_config c;
    cg::rollout_stage shadow;
    shadow.kind = cg::stage_kind::shadow;
    shadow.weights = {.baseline = 1, .candidate = 0, .shadow_ppm = 200'000};
    shadow.min_dwell_ns = 10 * cg::minute_ns;
    shadow.min_candidate_requests = 500;
    shadow.max_duration_ns = 40 * cg::minute_ns;
    shadow.at_max = cg::max_duration_rule::advance;
    c.stages = {shadow};
    for (const std::uint32_t percent : {10U, 25U, 50U}) {
        cg::rollout_stage s;
        s.weights = {.baseline = 100 - percent, .candidate = percent};
        s.min_dwell_ns = 10 * cg::minute_ns;
        s.min_candidate_requests = 500;
        s.max_duration_ns = 25 * cg::minute_ns;
        s.at_max = cg::max_duration_rule::advance;
        c.stages.push_back(s);
    }
    c.policy = cg::default_policy();
    // The shadow stage compares the baseline with the mirrored copies: the
    // same gates but the feedback gate, since no user ever sees a shadow
    // answer to rate it.
    c.shadow_policy = cg::default_shadow_policy(std::string(arm_roles[shadow_arm]));
    c.baseline_digest = baseline_digest;
    c.candidate_digest = candidate_digest;
    return c;
}

// --- The simulated models --------------------------------------------------------

// One response of a model, drawn as testkit::scenario draws it (the same
// response_model and regression, no noise), minus the scenario's arrival
// process and routing, which the workers and the router replace.
cg::request_outcome serve(const tk::response_model& m, const tk::regression& r,
                          tk::random_source& rng) {
    return tk::draw_response(m, r, /*noise=*/1.0, rng);
}

// --- Shared server state -----------------------------------------------------------

// What the threads share. Everything here is safe to use from any thread
// (router, recorder, tracker: see their headers); the three atomics are the
// simulation's own pacing.
struct server {
    explicit server(const cg::routing_weights& initial)
        : router({.scheme = cg::bucketing::flagd_fractional, .flag_key = "chat-model-rollout"},
                 initial),
          // Room for every request of a run (up to give_up_ns: 96,000), so
          // none is evicted before its feedback arrives.
          tracker({.capacity = std::size_t{1} << 17,
                   .ttl_ns = attribution_ttl_ns,
                   .ring_capacity = 1024,  // a worker remembers 100 requests between ticks
                   .pending_ttl_ns = pending_ttl_ns,
                   .seed = cg::hash_seed{0x5eed, 0xfeed}}) {
        arms[baseline_arm] = recorder.add_arm(arm_roles[baseline_arm], baseline_digest);
        arms[candidate_arm] = recorder.add_arm(arm_roles[candidate_arm], candidate_digest);
        // Mirrored copies are answered by the candidate's model.
        arms[shadow_arm] = recorder.add_arm(arm_roles[shadow_arm], candidate_digest);
    }

    cg::router router;
    cg::recorder recorder;
    cg::feedback_tracker tracker;
    std::array<cg::arm_id, arm_count> arms{};
#if CANARYGATE_EXAMPLE_REQUEST_LOG
    // --log: every request and feedback, as JSON Lines, for replaying this
    // traffic through another policy (canarygate/testing/replay.hpp).
    cg::request_log_writer* log = nullptr;
#endif

    // The simulated clock: the start of the minute being served, in ns.
    // Written by the controller only: a release store (then notify_all) that
    // opens the next minute, after it has ticked, judged and flipped the
    // router. Workers read it with acquire loads (and an acquire wait), so
    // everything the controller did before opening a minute (set_weights, a
    // stop request) happens-before every request of that minute: each minute
    // is routed with exactly the weights decided at its start, which is what
    // makes the run reproducible.
    std::atomic<std::int64_t> clock{0};
    // Worker-minutes served so far. Each worker adds one with a release
    // fetch_add after its last record(), remember() and feedback() of the
    // minute; the controller reads it with acquire loads (and an acquire
    // wait) until all have reported, so that every record of the minute
    // happens-before its collector tick and lands in that check's totals.
    std::atomic<std::uint64_t> worker_minutes{0};
    // Set by the controller before the release store of `clock` that wakes
    // the workers for the last time; relaxed on both sides, because a worker
    // reads it only after its acquire load of that clock value, which orders
    // the store before the load.
    std::atomic<bool> stopping{false};
};

// --- Request threads ---------------------------------------------------------------

// A worker's own counts, read by the main thread after join(): the ground
// truth the conservation checks compare canarygate's counters with.
struct worker_tally {
    std::uint64_t generated = 0;
    std::array<std::uint64_t, 2> routed{};  // baseline, candidate
    std::uint64_t shadow_copies = 0;
    std::array<std::uint64_t, arm_count> rejected_records{};
    std::uint64_t remember_failed = 0;
    std::uint64_t feedback_sent = 0;  // tracker.feedback() calls
    std::uint64_t feedback_retries = 0;
    std::uint64_t feedback_ghosts = 0;
    std::uint64_t feedback_in_flight = 0;  // scheduled, not yet due when the run ended
    // Feedback that must be attributed, by (cohort: the candidate's share in
    // millionths when its request was routed, arm, kind).
    std::map<std::tuple<std::uint32_t, std::size_t, cg::feedback_kind>, std::uint64_t> expected;
};

struct pending_feedback {
    std::int64_t arrival_ns = 0;
    std::string request_id;
    cg::feedback_kind kind = cg::feedback_kind::thumbs_up;
    std::size_t arm = baseline_arm;
    std::uint32_t share_ppm = 0;
    // Earliest first in a std::priority_queue (a max-heap).
    friend bool operator<(const pending_feedback& a, const pending_feedback& b) {
        return a.arrival_ns > b.arrival_ns;
    }
};

void run_worker(server& s, std::size_t index, std::uint64_t seed, const tk::response_model& model,
                const tk::regression& candidate_regression, worker_tally& tally) {
    tk::random_source rng(seed);
    const tk::regression no_regression{};
    // A request thread that records a lot keeps an explicit writer: its own
    // shard, no thread-local lookup per record.
    cg::recorder::writer writer = s.recorder.make_writer();
    std::priority_queue<pending_feedback> feedback_queue;
    std::uint64_t sequence = 0;
    std::uint64_t ghosts = 0;
    char request_id[48];
    char user_key[32];

    const auto deliver = [&](const pending_feedback& f) {
        // The webhook: any thread, blocking (the tracker's mutex). Stamped
        // with its simulated arrival time.
        (void)s.tracker.feedback(f.request_id, {f.kind}, f.arrival_ns);
#if CANARYGATE_EXAMPLE_REQUEST_LOG
        if (s.log != nullptr) s.log->feedback(f.arrival_ns, f.request_id, {f.kind});
#endif
        ++tally.feedback_sent;
    };

    // acquire: see server::clock.
    std::int64_t minute = s.clock.load(std::memory_order_acquire);
    while (true) {
        // relaxed: see server::stopping.
        if (s.stopping.load(std::memory_order_relaxed)) break;

        // Feedback that arrived before this minute, about requests served
        // in earlier minutes (their ids reached the map at the last tick).
        while (!feedback_queue.empty() && feedback_queue.top().arrival_ns < minute) {
            const pending_feedback f = feedback_queue.top();
            feedback_queue.pop();
            deliver(f);
            ++tally.expected[{f.share_ppm, f.arm, f.kind}];
            if (rng.bernoulli(retry_probability)) {  // the same webhook, retried: a duplicate
                deliver(f);
                ++tally.feedback_retries;
            }
        }
        if (rng.bernoulli(ghost_probability)) {  // an id nobody remembered: parked, then unknown
            std::snprintf(request_id, sizeof request_id, "ghost-%zu-%llu", index,
                          static_cast<unsigned long long>(ghosts++));
            deliver({minute, request_id, cg::feedback_kind::thumbs_down, baseline_arm, 0});
            ++tally.feedback_ghosts;
        }

        for (std::uint64_t i = 0; i < requests_per_worker_minute; ++i) {
            const std::int64_t arrival =
                minute + static_cast<std::int64_t>(i) * cg::minute_ns /
                             static_cast<std::int64_t>(requests_per_worker_minute);
            std::snprintf(request_id, sizeof request_id, "req-%zu-%llu", index,
                          static_cast<unsigned long long>(sequence++));
            std::snprintf(user_key, sizeof user_key, "user-%llu",
                          static_cast<unsigned long long>(rng.next() % user_population));
            ++tally.generated;

            cg::request_outcome copy;  // the shadow copy's answer, if any (for --log)
            // --8<-- [start:request]
            // The decision carries the weights it was made with: the split
            // to remember for the request's late feedback, even if a flip
            // lands right after it.
            const cg::route_decision d = s.router.route(user_key);
            const double share = d.weights.candidate_share();
            const std::size_t arm =
                d.target == cg::route_target::candidate ? candidate_arm : baseline_arm;
            ++tally.routed[arm];

            const cg::request_outcome out =
                serve(model, arm == candidate_arm ? candidate_regression : no_regression, rng);
            if (!writer.record(s.arms[arm], out)) ++tally.rejected_records[arm];
            if (d.shadow) {
                // The mirrored copy: served by the candidate's model, recorded
                // under its own arm, never shown to the user (no feedback).
                copy = serve(model, candidate_regression, rng);
                if (!writer.record(s.arms[shadow_arm], copy)) ++tally.rejected_records[shadow_arm];
                ++tally.shadow_copies;
            }
            const std::int64_t response_ns = arrival + static_cast<std::int64_t>(out.latency_ns);
            if (!s.tracker.remember(request_id, s.arms[arm], response_ns, share))
                ++tally.remember_failed;
                // --8<-- [end:request]
#if CANARYGATE_EXAMPLE_REQUEST_LOG
            if (s.log != nullptr) {
                s.log->request(
                    response_ns,
                    arm == candidate_arm ? cg::arm_role::candidate : cg::arm_role::baseline,
                    arm == candidate_arm ? candidate_digest : baseline_digest, request_id, out,
                    share);
                if (d.shadow)
                    s.log->request(arrival + static_cast<std::int64_t>(copy.latency_ns),
                                   cg::arm_role::shadow, candidate_digest, request_id, copy, share);
            }
#endif

            // Will this user give feedback, and when?
            if (rng.bernoulli(model.feedback_probability)) {
                const tk::regression& r =
                    arm == candidate_arm ? candidate_regression : no_regression;
                const double down = std::min(1.0, model.thumbs_down_share * r.thumbs_down);
                const cg::feedback_kind kind = rng.bernoulli(down) ? cg::feedback_kind::thumbs_down
                                                                   : cg::feedback_kind::thumbs_up;
                const double delay_s =
                    rng.lognormal_median(model.feedback_delay_median_s, model.feedback_delay_sigma);
                const auto delay_ns =
                    std::min(static_cast<std::int64_t>(delay_s * 1e9), max_feedback_delay_ns);
                feedback_queue.push({response_ns + delay_ns, request_id, kind, arm,
                                     cg::feedback_cohort::to_ppm(share)});
            }
        }

        // release: see server::worker_minutes.
        s.worker_minutes.fetch_add(1, std::memory_order_release);
        s.worker_minutes.notify_one();
        // acquire: see server::clock. Sleeps until the controller opens the
        // next minute.
        s.clock.wait(minute, std::memory_order_acquire);
        minute = s.clock.load(std::memory_order_acquire);
    }
    tally.feedback_in_flight = feedback_queue.size();
}

// --- The controller thread ---------------------------------------------------------

// One character per gate: P pass, . keep_going, F fail, ! invalid, n no
// regression detected.
std::string gate_string(const cg::step_result& r) {
    std::string g;
    if (!r.report) return g;
    for (const auto& gate : r.report->gates) {
        switch (gate.decision) {
            case cg::verdict::pass:
                g += 'P';
                break;
            case cg::verdict::keep_going:
                g += '.';
                break;
            case cg::verdict::fail:
                g += 'F';
                break;
            case cg::verdict::invalid:
                g += '!';
                break;
            case cg::verdict::no_regression_detected:
                g += 'n';
                break;
        }
    }
    return g;
}

// Prints decisions, one line each, folding a run of identical holds into one
// line with its time span and count.
class decision_log {
public:
    void add(const cg::step_result& r) {
        const std::string gates = gate_string(r);
        const std::string reason = r.reason;
        const bool same = held_ > 0 && r.action == cg::rollout_action::hold &&
                          r.stage_name == stage_ && reason == reason_ && gates == gates_;
        if (same) {
            ++held_;
            last_ns_ = r.at_ns;
            return;
        }
        flush();
        if (r.action == cg::rollout_action::hold) {
            held_ = 1;
            first_ns_ = last_ns_ = r.at_ns;
            stage_ = r.stage_name;
            reason_ = reason;
            gates_ = gates;
            return;
        }
        print(r.at_ns, r.at_ns, 1, r.stage_name, r.action, gates, reason);
    }
    void flush() {
        if (held_ > 0)
            print(first_ns_, last_ns_, held_, stage_, cg::rollout_action::hold, gates_, reason_);
        held_ = 0;
    }

private:
    static void print(std::int64_t from, std::int64_t to, std::uint64_t count,
                      const std::string& stage, cg::rollout_action action, const std::string& gates,
                      const std::string& reason) {
        char when[64];
        if (count == 1) {
            std::snprintf(when, sizeof when, "t=%4lld min",
                          static_cast<long long>(from / cg::minute_ns));
        } else {
            std::snprintf(when, sizeof when, "t=%4lld-%lld min (%llu checks)",
                          static_cast<long long>(from / cg::minute_ns),
                          static_cast<long long>(to / cg::minute_ns),
                          static_cast<unsigned long long>(count));
        }
        std::printf("  %-26s %-13s %-9s gates %-9s  %s\n", when, stage.c_str(),
                    std::string(cg::name(action)).c_str(), gates.c_str(), reason.c_str());
    }

    std::uint64_t held_ = 0;
    std::int64_t first_ns_ = 0;
    std::int64_t last_ns_ = 0;
    std::string stage_;
    std::string reason_;
    std::string gates_;
};

struct controller_outcome {
    cg::rollout_phase phase = cg::rollout_phase::running;
    std::size_t stage = 0;  // the stage judged at the last decision
    std::string stage_name;
    std::string reason;
    std::optional<cg::policy_report> report;  // behind the last decision
    cg::routing_weights final_weights;
    std::int64_t decided_ns = 0;  // the last decision
    std::int64_t end_ns = 0;      // the end of traffic
    std::string error;            // an exception the controller thread caught
};

using sim_collector = cg::basic_collector<cg::recorder, cg::manual_clock>;

void run_controller(server& s, cg::rollout_controller& controller, sim_collector& collector,
                    controller_outcome& outcome) {
    const auto arm_name = [&](cg::arm_id a) {
        const cg::arm_info info = s.recorder.arm(a);
        return std::pair{info.role, info.model_version};
    };
    decision_log log;
    std::optional<std::int64_t> ended_ns;
    std::int64_t now = 0;
    bool stop = false;
    for (std::uint64_t minute = 1; !stop; ++minute) {
        const std::uint64_t all_served = minute * worker_count;
        // acquire: see server::worker_minutes.
        for (std::uint64_t v = s.worker_minutes.load(std::memory_order_acquire); v < all_served;
             v = s.worker_minutes.load(std::memory_order_acquire)) {
            s.worker_minutes.wait(v, std::memory_order_acquire);
        }
        now = static_cast<std::int64_t>(minute) * cg::minute_ns;
        try {
            // The check. The collector runs on the simulated clock: tick(now)
            // takes the time as an argument (its manual_clock is not used).
            collector.tick(now);
            s.tracker.tick(now);  // before add_to: moves remembered ids into the map
            if (!ended_ns) {
                // --8<-- [start:check]
                cg::snapshot totals = collector.cumulative();
                s.tracker.add_to(totals, arm_name);  // feedback, by arm and cohort
                const cg::step_result r = controller.step(now, totals);
                s.router.set_weights(r.weights);  // one release store: the live flip
                // --8<-- [end:check]
                log.add(r);
                outcome.phase = r.phase;
                outcome.stage = r.stage;
                outcome.stage_name = r.stage_name;
                outcome.reason = r.reason;
                outcome.report = r.report;
                outcome.decided_ns = now;
                if (r.phase == cg::rollout_phase::rolled_back ||
                    r.phase == cg::rollout_phase::completed) {
                    ended_ns = now;
                }
            }
        } catch (const std::exception& e) {
            // Never leave the workers waiting for a minute that will not come.
            outcome.error = e.what();
            ended_ns = now - tail_ns;
        }
        stop = (ended_ns && now >= *ended_ns + tail_ns) || now >= give_up_ns;
        // relaxed: see server::stopping (published by the release store below).
        if (stop) s.stopping.store(true, std::memory_order_relaxed);
        // release: see server::clock. Opens the next minute (or ends the run).
        s.clock.store(now, std::memory_order_release);
        s.clock.notify_all();
    }
    log.flush();
    if (!ended_ns) {
        std::printf("  t=%4lld min  gave up: the rollout is still %s\n",
                    static_cast<long long>(now / cg::minute_ns),
                    std::string(cg::name(outcome.phase)).c_str());
    }
    outcome.final_weights = controller.weights();
    outcome.end_ns = now;
}

// --- One rollout, end to end ---------------------------------------------------------

struct rollout_case {
    std::string name;
    tk::regression regression;
    std::optional<cg::rollout_phase> expect;
    // Rolled back in the shadow stage, before any user saw the candidate.
    bool expect_caught_in_shadow = false;
};

struct check_list {
    bool all_ok = true;
    void check(bool ok, const std::string& what) {
        std::printf("  %-8s %s\n", ok ? "ok" : "VIOLATED", what.c_str());
        all_ok = all_ok && ok;
    }
};

std::string u64(std::uint64_t v) { return std::to_string(v); }

bool run_case(const rollout_case& c, std::uint64_t seed, const std::string& log_path) {
    const auto wall_start = std::chrono::steady_clock::now();
    const cg::controller_config config = rollout_config();
    std::printf(
        "== %s: candidate regression latency x%g, cost x%g, refusal x%g, error x%g, "
        "output length x%g, thumbs-down x%g; seed %llu\n",
        c.name.c_str(), c.regression.latency, c.regression.cost, c.regression.refusal,
        c.regression.error, c.regression.output_length, c.regression.thumbs_down,
        static_cast<unsigned long long>(seed));

    cg::rollout_controller controller(config, /*start_ns=*/0);
    server s(controller.weights());
#if CANARYGATE_EXAMPLE_REQUEST_LOG
    std::ofstream log_file;
    std::optional<cg::request_log_writer> log;
    if (!log_path.empty()) {
        log_file.open(log_path);
        if (!log_file) {
            std::fprintf(stderr, "canarygate_embedding: cannot write %s\n", log_path.c_str());
            return false;
        }
        // A worker logs a request when it serves it, with the time its
        // response ends, which a slow response puts minutes ahead of the
        // others (a real server logs when the response ends, in time
        // order). A line waits up to an hour of simulated time for earlier
        // ones, so the log comes out in order; lines later than that would
        // be counted as raised.
        log.emplace(log_file, cg::request_log_writer_options{.reorder_window_ns = cg::hour_ns});
        s.log = &*log;
    }
#else
    if (!log_path.empty()) {
        std::fprintf(stderr, "canarygate_embedding: built without nlohmann-json: no --log\n");
        return false;
    }
#endif
    sim_collector collector(s.recorder, {.slot_length = std::chrono::minutes(1),
                                         .windows = {},  // the controller reads totals only
                                         .publish = false});
    const tk::response_model model;  // testkit's mid-sized chat model, for both arms

    std::array<worker_tally, worker_count> tallies{};
    controller_outcome outcome;
    {
        tk::random_source seeder(seed);
        std::vector<std::thread> workers;
        for (std::size_t w = 0; w < worker_count; ++w) {
            workers.emplace_back(run_worker, std::ref(s), w, seeder.next(), std::cref(model),
                                 std::cref(c.regression), std::ref(tallies[w]));
        }
        std::thread controller_thread(run_controller, std::ref(s), std::ref(controller),
                                      std::ref(collector), std::ref(outcome));
        controller_thread.join();
        for (auto& t : workers) t.join();
    }
#if CANARYGATE_EXAMPLE_REQUEST_LOG
    if (log) {
        log->flush();
        const cg::request_log_writer_stats st = log->stats();
        std::printf(
            "  request log %s: %llu requests, %llu feedback lines, %llu times raised "
            "(largest %.1f s), %llu lost\n",
            log_path.c_str(), static_cast<unsigned long long>(st.requests),
            static_cast<unsigned long long>(st.feedback),
            static_cast<unsigned long long>(st.raised_times),
            static_cast<double>(st.largest_raise_ns) / 1e9,
            static_cast<unsigned long long>(st.failed));
        if (st.failed != 0) return false;
    }
#endif
    // The threads are gone: their writers' shards are orphaned, and the last
    // tick folds them. Then parked feedback either found its request or ran
    // out of time (unknown).
    collector.tick(outcome.end_ns);
    s.tracker.tick(outcome.end_ns + 2 * pending_ttl_ns);
    const cg::snapshot totals = collector.cumulative();
    const cg::feedback_tracker_stats fb = s.tracker.stats();

    worker_tally sum;
    for (const auto& t : tallies) {
        sum.generated += t.generated;
        for (std::size_t a = 0; a < 2; ++a) sum.routed[a] += t.routed[a];
        for (const auto& [cohort, n] : t.expected) sum.expected[cohort] += n;
        for (std::size_t a = 0; a < arm_count; ++a)
            sum.rejected_records[a] += t.rejected_records[a];
        sum.shadow_copies += t.shadow_copies;
        sum.remember_failed += t.remember_failed;
        sum.feedback_sent += t.feedback_sent;
        sum.feedback_retries += t.feedback_retries;
        sum.feedback_ghosts += t.feedback_ghosts;
        sum.feedback_in_flight += t.feedback_in_flight;
    }
    const auto recorded = [&](std::size_t arm) -> std::uint64_t {
        const cg::arm_snapshot* a = totals.find_arm(arm_roles[arm]);
        return a == nullptr ? 0 : a->counter(cg::series::requests).low;
    };
    const std::array<std::uint64_t, arm_count> served = {sum.routed[0], sum.routed[1],
                                                         sum.shadow_copies};

    if (outcome.report) {
        std::printf("evidence behind the last decision:\n");
        for (const auto& g : outcome.report->gates) {
            std::printf("  %-10s %s\n", std::string(cg::name(g.decision)).c_str(),
                        g.reason.c_str());
        }
    }
    std::printf("conservation:\n");
    check_list checks;
    if (!outcome.error.empty()) checks.check(false, "controller: " + outcome.error);
    checks.check(sum.routed[0] + sum.routed[1] == sum.generated,
                 "every request routed once: " + u64(sum.generated) + " generated = " +
                     u64(sum.routed[0]) + " baseline + " + u64(sum.routed[1]) + " candidate");
    for (std::size_t a = 0; a < arm_count; ++a) {
        checks.check(
            recorded(a) + sum.rejected_records[a] == served[a] && sum.rejected_records[a] == 0,
            "recorded once, arm " + std::string(arm_roles[a]) + ": collector " + u64(recorded(a)) +
                " = workers " + u64(served[a]) +
                (a == shadow_arm ? " shadow copies" : " requests") + " (rejected " +
                u64(sum.rejected_records[a]) + ")");
    }
    checks.check(fb.map.remembered == sum.generated && sum.remember_failed == 0 &&
                     fb.map.evicted == 0 && fb.map.duplicate == 0,
                 "every request id remembered once: " + u64(fb.map.remembered) + " of " +
                     u64(sum.generated) + " (failed " + u64(sum.remember_failed) + ", evicted " +
                     u64(fb.map.evicted) + ")");
    const std::uint64_t rejected = fb.map.duplicate_feedback + fb.map.unknown_id +
                                   fb.map.expired_id + fb.map.pending_full + fb.rejected_feedback;
    checks.check(fb.balanced() && fb.map.pending == 0 && fb.feedback_calls == sum.feedback_sent &&
                     fb.counted + rejected == sum.feedback_sent,
                 "no feedback lost: " + u64(sum.feedback_sent) + " sent = " + u64(fb.counted) +
                     " attributed + " + u64(rejected) + " rejected (" +
                     u64(fb.map.duplicate_feedback) + " duplicate, " + u64(fb.map.unknown_id) +
                     " unknown id, " + u64(fb.map.expired_id) + " expired); " +
                     u64(sum.feedback_in_flight) + " not yet due at the end");
    checks.check(fb.map.duplicate_feedback == sum.feedback_retries &&
                     fb.map.unknown_id == sum.feedback_ghosts,
                 "rejections as sent: " + u64(sum.feedback_retries) + " retries, " +
                     u64(sum.feedback_ghosts) + " unknown ids");
    // Per cohort (the share the request was routed at), arm and kind; then
    // per arm and kind over all cohorts.
    bool right_cohort = fb.in_cohort == fb.counted;
    std::set<std::uint32_t> cohorts;
    std::array<std::array<std::uint64_t, cg::feedback_kind_count>, 2> want_by_arm{};
    for (const auto& [cohort, want] : sum.expected) {
        const auto& [ppm, arm, kind] = cohort;
        right_cohort = right_cohort && s.tracker.count(s.arms[arm], kind, ppm) == want;
        want_by_arm[arm][static_cast<std::size_t>(kind)] += want;
        cohorts.insert(ppm);
    }
    std::string shares;
    for (const std::uint32_t ppm : cohorts)
        shares += (shares.empty() ? "" : ", ") + std::to_string(ppm / 10'000) + " %";
    std::string by_arm;
    for (std::size_t a = 0; a < 2; ++a) {
        for (const auto kind : {cg::feedback_kind::thumbs_up, cg::feedback_kind::thumbs_down}) {
            const std::uint64_t got = s.tracker.count(s.arms[a], kind);
            const std::uint64_t want = want_by_arm[a][static_cast<std::size_t>(kind)];
            right_cohort = right_cohort && got == want;
            by_arm += (by_arm.empty() ? "" : ", ") + std::string(arm_roles[a]) + " " +
                      std::string(cg::name(kind)) + " " + u64(got) + "/" + u64(want);
        }
    }
    checks.check(right_cohort,
                 "feedback attributed to the arm that served it, in the cohort "
                 "of its routing share (" +
                     shares + "); attributed/expected: " + by_arm);
    const cg::routing_weights rw = s.router.weights();
    checks.check(rw == outcome.final_weights,
                 "router weights {" + u64(rw.baseline) + ", " + u64(rw.candidate) + ", shadow " +
                     u64(rw.shadow_ppm) + " ppm} = the controller's final weights");

    std::printf("expectations:\n");
    bool expected = true;
    if (c.expect) {
        const bool ok = outcome.phase == *c.expect;
        checks.check(ok, "outcome " + std::string(cg::name(outcome.phase)) + ", expected " +
                             std::string(cg::name(*c.expect)));
        expected = ok;
    }
    if (c.expect_caught_in_shadow) {
        const bool ok = config.stages[outcome.stage].kind == cg::stage_kind::shadow &&
                        sum.routed[candidate_arm] == 0 && sum.shadow_copies > 0;
        checks.check(ok, "caught in the shadow stage: " + u64(sum.routed[candidate_arm]) +
                             " user requests served by the candidate, " + u64(sum.shadow_copies) +
                             " shadow copies judged");
        expected = expected && ok;
    }
    if (!c.expect && !c.expect_caught_in_shadow) std::printf("  (none)\n");

    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    std::printf(
        "summary: %s in %s at t=%lld min; baseline served %llu, candidate %llu user "
        "requests, %llu shadow copies; %llu feedback attributed; %.2f s wall\n\n",
        std::string(cg::name(outcome.phase)).c_str(), outcome.stage_name.c_str(),
        static_cast<long long>(outcome.decided_ns / cg::minute_ns),
        static_cast<unsigned long long>(sum.routed[baseline_arm]),
        static_cast<unsigned long long>(sum.routed[candidate_arm]),
        static_cast<unsigned long long>(sum.shadow_copies),
        static_cast<unsigned long long>(fb.counted), wall_s);
    return checks.all_ok && expected;
}

// --- Command line --------------------------------------------------------------------

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "canarygate_embedding: %s\n", message.c_str());
    std::fprintf(stderr,
                 "usage: canarygate_embedding [--regression NAME=X[,NAME=X...]] "
                 "[--expect completed|rolled_back] [--seed S] [--log FILE]\n"
                 "  NAME: latency, cost, refusal, error, output_length, thumbs_down\n");
    std::exit(2);
}

template <class T>
T parse_number(std::string_view what, std::string_view text) {
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size())
        usage_error(std::string(what) + " expects a number, got '" + std::string(text) + "'");
    return value;
}

void parse_regression(std::string_view spec, tk::regression& r) {
    while (!spec.empty()) {
        const std::size_t comma = spec.find(',');
        const std::string_view item = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
        const std::size_t eq = item.find('=');
        if (eq == std::string_view::npos)
            usage_error("--regression expects NAME=X, got '" + std::string(item) + "'");
        const std::string_view key = item.substr(0, eq);
        const double x = parse_number<double>(key, item.substr(eq + 1));
        // A multiplier of latency, cost or length must be positive; of a rate
        // it may be 0 (the candidate never refuses, say).
        const bool rate = key == "refusal" || key == "error" || key == "thumbs_down";
        if (!((rate ? x >= 0 : x > 0) && x <= 100))
            usage_error(std::string(key) + " = " + std::string(item.substr(eq + 1)) +
                        (rate ? " is outside [0, 100]" : " is outside (0, 100]"));
        if (key == "latency") {
            r.latency = x;
        } else if (key == "cost") {
            r.cost = x;
        } else if (key == "refusal") {
            r.refusal = x;
        } else if (key == "error") {
            r.error = x;
        } else if (key == "output_length") {
            r.output_length = x;
        } else if (key == "thumbs_down") {
            r.thumbs_down = x;
        } else {
            usage_error("unknown regression '" + std::string(key) + "'");
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t seed = 2026;
    std::optional<tk::regression> regression;  // --regression: one custom case
    std::optional<cg::rollout_phase> expect;
    std::string log_path;  // --log: the first case's request log
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") usage_error("help requested");
        if (i + 1 >= argc) usage_error("missing value after " + std::string(flag));
        const std::string_view value = argv[++i];
        if (flag == "--regression") {
            if (!regression) regression.emplace();
            parse_regression(value, *regression);
        } else if (flag == "--expect") {
            if (value == "completed") {
                expect = cg::rollout_phase::completed;
            } else if (value == "rolled_back") {
                expect = cg::rollout_phase::rolled_back;
            } else {
                usage_error("--expect takes completed or rolled_back, got '" + std::string(value) +
                            "'");
            }
        } else if (flag == "--seed") {
            seed = parse_number<std::uint64_t>(flag, value);
        } else if (flag == "--log") {
            log_path = value;
        } else {
            usage_error("unknown option " + std::string(flag));
        }
    }

    std::vector<rollout_case> cases;
    if (regression) {
        cases.push_back({"custom", *regression, expect, false});
    } else {
        if (expect) usage_error("--expect applies to a --regression case");
        tk::regression costly;
        costly.cost = 1.6;  // the cost gate allows 1.2x
        cases.push_back({"good candidate", {}, cg::rollout_phase::completed, false});
        cases.push_back({"cost x1.6", costly, cg::rollout_phase::rolled_back, true});
    }

    const cg::controller_config config = rollout_config();
    std::printf(
        "canarygate embedding: %zu request threads x %llu requests per simulated minute, "
        "one controller thread checking every simulated minute\nstages:",
        worker_count, static_cast<unsigned long long>(requests_per_worker_minute));
    for (std::size_t i = 0; i < config.stages.size(); ++i)
        std::printf("%s %s", i == 0 ? "" : ",", config.stage_name(i).c_str());
    std::printf("\ngates, canary stages:");
    for (const auto& g : config.policy.gates) std::printf(" %s", g.name().c_str());
    std::printf("\ngates, shadow stage: ");
    for (const auto& g : config.shadow_policy->gates) std::printf(" %s", g.name().c_str());
    std::printf("\n\n");

    bool ok = true;
    for (std::size_t i = 0; i < cases.size(); ++i)
        ok = run_case(cases[i], seed, i == 0 ? log_path : std::string()) && ok;
    std::printf("%s\n", ok ? "all checks passed" : "SOME CHECKS FAILED");
    return ok ? 0 : 1;
}
