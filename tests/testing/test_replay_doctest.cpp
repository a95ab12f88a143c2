// SPDX-License-Identifier: MIT
// The request log (integration/request_log.hpp) and its replay (testing/
// replay.hpp): what the writer writes the reader reads back exactly; every
// malformed line is an error with its line and field; nothing is dropped
// without a count; recorded traffic replays with the regression it is told;
// a replayed log drives a policy test and an A/A calibration. (The
// statistics, that an injected regression moves its signals by exactly the
// asked ratios in expectation and that an A/A log's splits raise false
// alarms at most at alpha, are test_replay_calibration_doctest.cpp's, label
// calibration.)
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <canarygate/testing/doctest.hpp>

#include "canarygate/integration/request_log.hpp"
#include "canarygate/testing/replay.hpp"
#include "support/generated_request_log.hpp"
#include "support/short_rollout.hpp"

namespace {

namespace cg = canarygate;
namespace kit = canarygate::testkit;

using test_support::generated_log;
const std::string& baseline_model = test_support::log_baseline_model;
const std::string& candidate_model = test_support::log_candidate_model;

cg::request_log read(const std::string& text, cg::request_log_options options = {}) {
    std::istringstream in(text);
    return cg::read_request_log(in, options);
}

/// The problem a malformed log is rejected with.
cg::request_log_problem rejection(const std::string& text, cg::request_log_options options = {}) {
    try {
        (void)read(text, options);
    } catch (const cg::request_log_error& e) {
        return e.problem();
    }
    FAIL("the log was accepted: " << text);
    return {};
}

const std::string good_request =
    R"({"type":"request","time_ns":5,"arm":"baseline","request_id":"a","latency_ns":1,)"
    R"("input_tokens":2,"output_tokens":3,"cost_nano_usd":4,"outcome":"ok"})";

}  // namespace

TEST_CASE("the writer's log reads back exactly") {
    std::ostringstream text;
    cg::request_outcome o;
    o.latency_ns = 812'000'000;
    o.ttft_ns = 350'000'000;
    o.input_tokens = 1200;
    o.output_tokens = 350;
    o.cost_nano_usd = (std::uint64_t{1} << 53) + 1;  // above 2^53: written as a string
    o.category = cg::outcome::refusal_structured;
    cg::request_outcome no_ttft;
    no_ttft.category = cg::outcome::server_error;
    {
        cg::request_log_writer log(text);
        log.request(1'767'225'600'123'456'789, cg::arm_role::candidate, candidate_model,
                    "req-\"17\"\n", o, 0.01);
        log.request(1'767'225'600'223'456'789, cg::arm_role::shadow, "", "req-\"17\"\n", no_ttft);
        log.feedback(1'767'225'900'000'000'000, "req-\"17\"\n", {cg::feedback_kind::score, -7});
        // The feedback, 5 minutes later, pushed the requests out of the
        // reorder window (1 s); it waits for flush().
        CHECK(log.stats().buffered == 1);
        CHECK(log.flush());
        const cg::request_log_writer_stats st = log.stats();
        CHECK(st.requests == 2);
        CHECK(st.feedback == 1);
        CHECK(st.raised_times == 0);
        CHECK(st.failed == 0);
    }
    CHECK(
        text.str().starts_with(R"({"type":"header","format":"canarygate.request_log","version":1})"
                               "\n"));
    CHECK(text.str().find(R"("time_ns":"1767225600123456789")") != std::string::npos);

    const cg::request_log log = read(text.str());
    REQUIRE(log.requests.size() == 2);
    REQUIRE(log.feedback.size() == 1);
    CHECK(log.lines == 4);
    CHECK(log.skipped.empty());
    CHECK_FALSE(log.sorted);
    const cg::logged_request& r = log.requests[0];
    CHECK(r.time_ns == 1'767'225'600'123'456'789);
    CHECK(r.arm == cg::arm_role::candidate);
    CHECK(r.model == candidate_model);
    CHECK(r.request_id == "req-\"17\"\n");
    CHECK(r.outcome.latency_ns == o.latency_ns);
    CHECK(r.outcome.ttft_ns == o.ttft_ns);
    CHECK(r.outcome.input_tokens == 1200);
    CHECK(r.outcome.output_tokens == 350);
    CHECK(r.outcome.cost_nano_usd == o.cost_nano_usd);
    CHECK(r.outcome.category == cg::outcome::refusal_structured);
    REQUIRE(r.candidate_share.has_value());
    CHECK(*r.candidate_share == 0.01);
    CHECK(r.line == 2);
    CHECK(log.requests[1].arm == cg::arm_role::shadow);
    CHECK(log.requests[1].outcome.ttft_ns == cg::request_outcome::absent);
    CHECK_FALSE(log.requests[1].candidate_share.has_value());
    CHECK(log.feedback[0].event.kind == cg::feedback_kind::score);
    CHECK(log.feedback[0].event.score == -7);
    CHECK(log.feedback[0].request_id == "req-\"17\"\n");
}

TEST_CASE("the writer keeps the log in time order across threads, and counts what it must raise") {
    std::ostringstream text;
    std::atomic<std::int64_t> clock{0};
    {
        cg::request_log_writer log(text, {.reorder_window_ns = 1'000});
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 2000; ++i) {
                    // relaxed: only the values matter (a stand-in for a shared
                    // wall clock); the writer's mutex orders the lines.
                    const std::int64_t now = clock.fetch_add(1, std::memory_order_relaxed);
                    cg::request_outcome o;
                    o.latency_ns = static_cast<std::uint64_t>(now);
                    log.request(now, cg::arm_role::baseline, "",
                                std::to_string(t) + "-" + std::to_string(i), o);
                }
            });
        }
        for (auto& th : threads) th.join();
        CHECK(log.flush());
        const auto st = log.stats();
        CHECK(st.requests == 8000);
        CHECK(st.buffered == 0);
        // A raise never exceeds what the window could not absorb.
        INFO("raised " << st.raised_times << ", largest " << st.largest_raise_ns);
    }
    const cg::request_log log = read(text.str());  // in order: no sort needed
    CHECK(log.requests.size() == 8000);
}

TEST_CASE("a late line beyond the reorder window is raised to the last time written, counted") {
    std::ostringstream text;
    cg::request_log_writer log(text, {.write_header = false, .reorder_window_ns = 10});
    cg::request_outcome o;
    log.request(100, cg::arm_role::baseline, "", "a", o);
    log.request(200, cg::arm_role::baseline, "", "b", o);  // writes "a" (100 <= 200 - 10)
    log.request(150, cg::arm_role::baseline, "", "c", o);  // writes "c" (150 <= 200 - 10)
    log.request(300, cg::arm_role::baseline, "", "d", o);  // writes "b" (200 <= 300 - 10)
    log.request(120, cg::arm_role::baseline, "", "e", o);  // 200 already written: raised
    CHECK(log.flush());
    const auto st = log.stats();
    CHECK(st.raised_times == 1);
    CHECK(st.largest_raise_ns == 80);
    const cg::request_log back = read(text.str());
    REQUIRE(back.requests.size() == 5);
    CHECK(back.requests[0].request_id == "a");
    CHECK(back.requests[1].request_id == "c");
    CHECK(back.requests[2].request_id == "b");
    CHECK(back.requests[3].request_id == "e");
    CHECK(back.requests[3].time_ns == 200);
    CHECK(back.requests[4].request_id == "d");
}

TEST_CASE("every malformed line is an error naming its line and field") {
    const auto line_of = [](const std::string& text) { return rejection(text).line; };
    struct bad {
        std::string text;
        std::string field;
        std::string says;
    };
    const std::vector<bad> cases = {
        {"{\"type\":\"request\"", "", "not valid JSON"},
        {"[1,2]", "", "must be a JSON object"},
        {"{\"type\":\"request\",\"time_ns\":5}", "request_id", "is required in a request line"},
        {R"({"type":"request","time_ns":5,"arm":"canary","request_id":"a","latency_ns":1,)"
         R"("input_tokens":2,"output_tokens":3,"cost_nano_usd":4,"outcome":"ok"})",
         "arm", "\"canary\""},
        {R"({"type":"request","time_ns":5,"arm":"baseline","request_id":"a","latency_ns":1.5,)"
         R"("input_tokens":2,"output_tokens":3,"cost_nano_usd":4,"outcome":"ok"})",
         "latency_ns", "no fraction or exponent"},
        {R"({"type":"request","time_ns":5,"arm":"baseline","request_id":"a","latency_ns":-1,)"
         R"("input_tokens":2,"output_tokens":3,"cost_nano_usd":4,"outcome":"ok"})",
         "latency_ns", "nonnegative"},
        {R"({"type":"request","time_ns":"5x","arm":"baseline","request_id":"a","latency_ns":1,)"
         R"("input_tokens":2,"output_tokens":3,"cost_nano_usd":4,"outcome":"ok"})",
         "time_ns", "\"5x\""},
        {R"({"type":"request","time_ns":5,"arm":"baseline","request_id":"a","latency_ns":1,)"
         R"("input_tokens":2,"output_tokens":3,"cost_nano_usd":4,"outcome":"fine"})",
         "outcome", "\"fine\" is not an outcome"},
        {R"({"type":"request","time_ns":5,"arm":"baseline","request_id":"a","latency_ns":1,)"
         R"("input_tokens":2,"output_tokens":3,"cost_nano_usd":4,"outcome":"ok","candidate_share":2})",
         "candidate_share", "[0, 1]"},
        {R"({"type":"request","time_ns":5,"arm":"baseline","request_id":"a","latency_ns":1,)"
         R"("input_tokens":2,"output_tokens":3,"cost_nano_usd":4,"outcome":"ok","lantency":1})",
         "lantency", "a typo?"},
        {R"({"type":"request","type":"request"})", "type", "appears twice"},
        {R"({"type":"feedback","time_ns":5,"request_id":"a","feedback":"thumbs_up","score":3})",
         "score", "does not belong"},
        {R"({"type":"feedback","time_ns":5,"request_id":"a","feedback":"score"})", "score",
         "is required"},
        {R"({"type":"feedback","time_ns":5,"request_id":"","feedback":"thumbs_up"})", "request_id",
         "must not be empty"},
        {R"({"type":"feedback","time_ns":{"s":5},"request_id":"a","feedback":"thumbs_up"})",
         "time_ns", "not an object"},
        {R"({"type":"header","format":"canarygate.request_log","version":2})", "version",
         "must be 1"},
        {R"({"type":"metrics"})", "type", "\"metrics\""},
    };
    for (const bad& c : cases) {
        CAPTURE(c.text);
        // The bad line is the third, after a header and a good line.
        const std::string text =
            R"({"type":"header","format":"canarygate.request_log","version":1})"
            "\n" +
            good_request + "\n" + c.text + "\n";
        const cg::request_log_problem p = rejection(text);
        CHECK(p.line == 3);
        CHECK(p.field == c.field);
        CHECK(p.message.find(c.says) != std::string::npos);
        // The message of the exception names both.
        try {
            (void)read(text);
        } catch (const cg::request_log_error& e) {
            const std::string what = e.what();
            CHECK(what.find("line 3") != std::string::npos);
            if (!c.field.empty()) CHECK(what.find("\"" + c.field + "\"") != std::string::npos);
        }
    }
    // A header that is not first.
    CHECK(line_of(good_request + "\n" +
                  R"({"type":"header","format":"canarygate.request_log","version":1})") == 2);
    // A line longer than the limit.
    cg::request_log_options small;
    small.max_line_bytes = 50;
    CHECK(rejection(good_request, small).message.find("max_line_bytes = 50") != std::string::npos);
}

TEST_CASE("skip_malformed lists the lines it left out; blank lines are counted") {
    const std::string text = good_request + "\n\n   \nnot json\n" + good_request + "\r\n";
    cg::request_log_options options;
    options.skip_malformed = true;
    const cg::request_log log = read(text, options);
    CHECK(log.requests.size() == 2);
    CHECK(log.lines == 5);
    CHECK(log.blank_lines == 2);
    REQUIRE(log.skipped.size() == 1);
    CHECK(log.skipped[0].line == 4);
    CHECK(log.skipped[0].message.find("not valid JSON") != std::string::npos);
}

TEST_CASE("a log out of time order is an error unless it is to be sorted") {
    const std::string late =
        R"({"type":"feedback","time_ns":9,"request_id":"a","feedback":"thumbs_up"})";
    const std::string early =
        R"({"type":"request","time_ns":3,"arm":"baseline","request_id":"b","latency_ns":1,)"
        R"("input_tokens":2,"output_tokens":3,"cost_nano_usd":4,"outcome":"ok"})";
    const std::string text = good_request + "\n" + late + "\n" + early + "\n";
    const cg::request_log_problem p = rejection(text);
    CHECK(p.line == 3);
    CHECK(p.field == "time_ns");
    CHECK(p.message.find("before line 2's 9") != std::string::npos);
    CHECK(p.message.find("sort_by_time") != std::string::npos);
    // Out of order is not a malformed line: skipping does not hide it.
    cg::request_log_options skip;
    skip.skip_malformed = true;
    CHECK(rejection(text, skip).field == "time_ns");

    cg::request_log_options sort;
    sort.sort_by_time = true;
    const cg::request_log log = read(text, sort);
    CHECK(log.sorted);
    REQUIRE(log.requests.size() == 2);
    CHECK(log.requests[0].request_id == "b");
    CHECK(log.requests[1].request_id == "a");
}

TEST_CASE("load_log: what a line-by-line reader cannot see") {
    const auto load = [](const std::string& text) { return kit::load_log(read(text)); };
    const auto request = [](int t, const char* arm, const char* id) {
        return std::string(R"({"type":"request","time_ns":)") + std::to_string(t) + R"(,"arm":")" +
               arm + R"(","request_id":")" + id +
               R"(","latency_ns":1,"input_tokens":2,"output_tokens":3,"cost_nano_usd":4,"outcome":"ok"})" +
               "\n";
    };
    const auto feedback = [](int t, const char* id, const char* kind) {
        return std::string(R"({"type":"feedback","time_ns":)") + std::to_string(t) +
               R"(,"request_id":")" + id + R"(","feedback":")" + kind + "\"}\n";
    };
    // A user request id twice.
    try {
        (void)load(request(1, "baseline", "x") + request(2, "candidate", "x"));
        FAIL("a duplicate request id was accepted");
    } catch (const cg::request_log_error& e) {
        CHECK(e.problem().line == 2);
        CHECK(e.problem().field == "request_id");
        CHECK(e.problem().message.find("line 1") != std::string::npos);
    }
    // A shadow copy shares its user request's id; that is no duplicate.
    const kit::loaded_log ok =
        load(request(1, "baseline", "x") + request(2, "shadow", "x") +
             feedback(3, "x", "thumbs_down") + feedback(4, "x", "thumbs_down") +
             feedback(5, "gone", "thumbs_up") + feedback(6, "x", "thumbs_up"));
    CHECK(ok.summary.baseline_requests == 1);
    CHECK(ok.summary.shadow_requests == 1);
    CHECK(ok.summary.feedback == 4);
    CHECK(ok.summary.duplicate_feedback == 1);        // the retried thumbs-down
    CHECK(ok.summary.feedback_without_request == 1);  // "gone"
    REQUIRE(ok.traffic->baseline.size() == 1);
    CHECK(ok.traffic->baseline[0].feedback_count == 2);  // thumbs-down, thumbs-up
    CHECK(ok.traffic->shadow.size() == 1);
    CHECK(ok.feedback.size() == 2);
    CHECK(ok.traffic->arrivals_ns == std::vector<std::int64_t>{0});
    CHECK(ok.summary.span_ns == 5);

    // Feedback before its request (a sorted log can hold it).
    cg::request_log_options sort;
    sort.sort_by_time = true;
    std::istringstream in(request(5, "baseline", "x") + feedback(2, "x", "thumbs_up"));
    try {
        (void)kit::load_log(cg::read_request_log(in, sort));
        FAIL("feedback before its request was accepted");
    } catch (const cg::request_log_error& e) {
        CHECK(e.problem().field == "time_ns");
        CHECK(e.problem().message.find("before its request") != std::string::npos);
    }
    // Nothing to compare with.
    CHECK_THROWS_AS((void)load(request(1, "candidate", "y")), cg::request_log_error);
}

// The statistics of an injected regression (its ratios, exact in
// expectation) are test_replay_calibration_doctest.cpp's (label calibration:
// the optimised build). Here, under every preset, the mechanics: recorded
// traffic replays with a regression on both arms, and a rate of zero cannot
// be multiplied.
TEST_CASE("a regression is injected into recorded traffic; a rate of zero cannot be multiplied") {
    const kit::loaded_log log = kit::load_log(read(generated_log(0.5, 600, 0.0, 5)));
    REQUIRE(log.summary.candidate_requests == 0);
    kit::scenario_config cfg;
    cfg.recorded = log.traffic;
    cfg.stages = {{0, 0.5}};
    cfg.candidate_regression = {.cost = 1.6, .refusal = 3.0, .thumbs_down = 2.0};
    kit::scenario s(cfg, 11);
    std::uint64_t requests[2] = {0, 0};
    std::uint64_t feedback = 0;
    s.run(
        cg::hour_ns,
        [&](const cg::request_event& e) { ++requests[e.arm == cg::arm_role::candidate ? 1 : 0]; },
        [&](const cg::feedback_arrival&) { ++feedback; });
    // Half of an hour at 600 requests a minute on each arm.
    CHECK(requests[0] > 12'000);
    CHECK(requests[1] > 12'000);
    CHECK(feedback > 0);

    // A rate of zero cannot be multiplied: an error naming the field.
    kit::scenario_config none = cfg;
    auto empty = std::make_shared<kit::recorded_traffic>(*log.traffic);
    for (auto& r : empty->baseline) r.outcome.category = cg::outcome::ok;
    none.recorded = empty;
    none.candidate_regression = {.refusal = 3.0};
    CHECK_THROWS_WITH_AS(kit::scenario(none, 1), doctest::Contains("candidate_regression.refusal"),
                         std::invalid_argument);
}

TEST_CASE("a replayed log drives a policy test: good as recorded, caught with a regression") {
    const kit::loaded_log log = kit::load_log(read(generated_log(3.0, 400, 0.05, 21)));
    CHECK(log.summary.candidate_requests > 0);
    CHECK(log.summary.baseline_model == baseline_model);
    CHECK(log.summary.candidate_model == candidate_model);
    // The short rollout with the default policy's cost limit (1.2).
    const cg::controller_config rollout = test_support::short_rollout();

    kit::rollout_test good(rollout);
    good.replay(log);
    CANARYGATE_CHECK(good.expect(kit::completes()).in_at_least(0.9));

    kit::rollout_test costly(rollout);
    costly.replay(log).inject({.cost = 1.6});
    CANARYGATE_CHECK(
        costly.expect(kit::rolls_back_by("canary 5 %") && kit::caught_by("cost")).in_at_least(0.9));

    kit::rollout_test slow_tail(rollout);
    slow_tail.replay(log).inject({.latency_tail = 3.0});
    CANARYGATE_CHECK(slow_tail.expect(kit::halts_by("canary 50 %")).in_at_least(0.9));
}

// The A/A calibration's false-alarm rate over 40 splits of a 4-hour log is
// test_replay_calibration_doctest.cpp's (label calibration). Here, under
// every preset, the mechanics on a 1-hour log and 4 splits.
TEST_CASE("an A/A log calibrates a policy") {
    const kit::loaded_log log = kit::load_log(read(generated_log(1.0, 600, 0.0, 33)));
    cg::aa_calibration_config config;
    config.splits = 4;
    config.candidate_share = 0.1;
    const cg::aa_report report = kit::calibrate_on_log(log, config);
    CHECK(report.runs == 4);
    CHECK(report.checks >= 11);  // every 5 minutes of a 1-hour log
    CHECK(report.noise_floor().size() == config.policy.gates.size());
}
