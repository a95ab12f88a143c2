// SPDX-License-Identifier: MIT
// The scenario generator must deliver the ground truth it promises: rates,
// ratios, splits and timing as configured. Tolerances are derived from the
// sample sizes (z = 5 standard errors), not tuned to a seed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "canarygate/testing/scenario.hpp"

using namespace canarygate;
using namespace canarygate::testkit;
using canarygate::outcome;
using Catch::Matchers::Contains;

namespace {

constexpr double z = 5.0;

struct arm_sample {
    std::vector<double> latency;
    std::vector<double> cost;
    std::vector<double> output_tokens;
    std::uint64_t requests = 0;
    std::uint64_t refusals = 0;
    std::uint64_t errors = 0;
    std::uint64_t truncated = 0;
    std::uint64_t feedback = 0;
    std::uint64_t thumbs_down = 0;
};

struct collected {
    arm_sample arms[3];
    std::int64_t last_time = -1;
    bool time_ordered = true;
    std::uint64_t shadow_feedback = 0;
    std::uint64_t feedback_before_request = 0;
    std::vector<std::int64_t> request_time_by_id{0};
};

collected collect(const scenario_config& cfg, std::uint64_t seed, std::int64_t horizon) {
    collected c;
    scenario s(cfg, seed);
    auto check_time = [&](std::int64_t t) {
        if (t < c.last_time) c.time_ordered = false;
        c.last_time = t;
    };
    s.run(
        horizon,
        [&](const request_event& r) {
            check_time(r.time_ns);
            auto& a = c.arms[static_cast<int>(r.arm)];
            ++a.requests;
            a.latency.push_back(static_cast<double>(r.outcome.latency_ns));
            a.cost.push_back(static_cast<double>(r.outcome.cost_nano_usd));
            a.output_tokens.push_back(static_cast<double>(r.outcome.output_tokens));
            a.refusals += canarygate::is_refusal(r.outcome.category) ? 1U : 0U;
            a.errors += r.outcome.category == outcome::server_error ? 1U : 0U;
            a.truncated += r.outcome.category == outcome::truncated ? 1U : 0U;
            if (r.request_id >= c.request_time_by_id.size())
                c.request_time_by_id.resize(r.request_id + 1, -1);
            c.request_time_by_id[r.request_id] = r.time_ns;
        },
        [&](const feedback_arrival& f) {
            check_time(f.time_ns);
            auto& a = c.arms[static_cast<int>(f.arm)];
            ++a.feedback;
            a.thumbs_down += f.kind == canarygate::feedback_kind::thumbs_down ? 1U : 0U;
            c.shadow_feedback += f.arm == arm_role::shadow ? 1U : 0U;
            if (f.request_id >= c.request_time_by_id.size() ||
                c.request_time_by_id[f.request_id] < 0 ||
                c.request_time_by_id[f.request_id] > f.time_ns) {
                ++c.feedback_before_request;
            }
        });
    return c;
}

double mean(const std::vector<double>& v) {
    double s = 0;
    for (const double x : v) s += x;
    return s / static_cast<double>(v.size());
}

double variance(const std::vector<double>& v) {
    const double m = mean(v);
    double s = 0;
    for (const double x : v) s += (x - m) * (x - m);
    return s / static_cast<double>(v.size() - 1);
}

double quantile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

// |observed proportion - p| within z binomial standard errors.
void check_rate(std::uint64_t events, std::uint64_t n, double p) {
    const double observed = static_cast<double>(events) / static_cast<double>(n);
    const double se = std::sqrt(p * (1 - p) / static_cast<double>(n));
    CAPTURE(events, n, p, observed, se);
    CHECK(std::fabs(observed - p) <= z * se + 1e-12);
}

scenario_config half_split() {
    scenario_config cfg;
    cfg.stages = {{0, 0.5}};
    cfg.traffic.requests_per_minute = 1000;
    return cfg;
}

}  // namespace

TEST_CASE("same seed, same traffic; different seed, different traffic", "[scenario]") {
    const auto cfg = half_split();
    const auto a = collect(cfg, 1, 10 * minute_ns);
    const auto b = collect(cfg, 1, 10 * minute_ns);
    const auto c = collect(cfg, 2, 10 * minute_ns);
    CHECK(a.arms[1].latency == b.arms[1].latency);
    CHECK(a.arms[0].cost == b.arms[0].cost);
    CHECK(a.arms[1].latency != c.arms[1].latency);
    // Running in several pieces gives the same stream as one run.
    scenario whole(cfg, 9);
    scenario pieces(cfg, 9);
    std::vector<std::uint64_t> w;
    std::vector<std::uint64_t> p;
    auto ignore = [](const feedback_arrival&) {};
    whole.run(
        30 * minute_ns, [&](const request_event& r) { w.push_back(r.outcome.latency_ns); }, ignore);
    for (int k = 1; k <= 30; ++k) {
        pieces.run(
            k * minute_ns, [&](const request_event& r) { p.push_back(r.outcome.latency_ns); },
            ignore);
    }
    CHECK(w == p);
    CHECK(pieces.now_ns() == 30 * minute_ns);
}

TEST_CASE("rates, split and ordering are as configured", "[scenario]") {
    auto cfg = half_split();
    // Short feedback delays, so that feedback still in flight at the horizon
    // (~70 s of requests out of 4 h) cannot bias the feedback rate.
    cfg.model.feedback_delay_median_s = 60;
    cfg.model.feedback_delay_sigma = 0.3;
    const auto c = collect(cfg, 3, 4 * hour_ns);
    const auto& base = c.arms[0];
    const auto& cand = c.arms[1];
    const std::uint64_t n = base.requests + cand.requests;
    // Poisson arrivals: count within z sqrt(mean) of the mean.
    const double expected = 1000.0 * 240;
    CHECK(std::fabs(static_cast<double>(n) - expected) <= z * std::sqrt(expected));
    check_rate(cand.requests, n, 0.5);
    check_rate(base.refusals, base.requests, cfg.model.refusal_rate);
    check_rate(cand.errors, cand.requests, cfg.model.error_rate);
    check_rate(base.feedback, base.requests, cfg.model.feedback_probability);
    check_rate(cand.thumbs_down, cand.feedback, cfg.model.thumbs_down_share);
    CHECK(c.time_ordered);
    CHECK(c.feedback_before_request == 0);
    CHECK(c.arms[2].requests == 0);
}

TEST_CASE("regressions act on their own signal with the exact ratio", "[scenario]") {
    auto cfg = half_split();
    cfg.candidate_regression.cost = 1.25;
    cfg.candidate_regression.latency = 1.5;
    cfg.candidate_regression.refusal = 2.0;
    cfg.candidate_regression.thumbs_down = 1.5;
    cfg.model.feedback_delay_median_s = 60;
    cfg.model.feedback_delay_sigma = 0.3;
    const auto c = collect(cfg, 4, 6 * hour_ns);
    const auto& base = c.arms[0];
    const auto& cand = c.arms[1];

    // Mean cost ratio: delta-method standard error of the ratio of means.
    const double mb = mean(base.cost);
    const double mc = mean(cand.cost);
    const double ratio = mc / mb;
    const double se =
        ratio * std::sqrt(variance(cand.cost) / (mc * mc * static_cast<double>(cand.cost.size())) +
                          variance(base.cost) / (mb * mb * static_cast<double>(base.cost.size())));
    CAPTURE(ratio, se);
    CHECK(std::fabs(ratio - 1.25) <= z * se);

    // Latency quantiles scale by 1.5 (checked at the median and P90, where
    // the sample quantile's error is small; tolerance from the sample size).
    for (const double q : {0.5, 0.9}) {
        const double r = quantile(cand.latency, q) / quantile(base.latency, q);
        CAPTURE(q, r);
        CHECK(r == Approx(1.5).epsilon(0.03));
    }
    // Output length unchanged.
    CHECK(quantile(cand.output_tokens, 0.5) ==
          Approx(quantile(base.output_tokens, 0.5)).epsilon(0.03));
    check_rate(cand.refusals, cand.requests, 2 * cfg.model.refusal_rate);
    check_rate(cand.thumbs_down, cand.feedback, 1.5 * cfg.model.thumbs_down_share);
    check_rate(base.refusals, base.requests, cfg.model.refusal_rate);
}

TEST_CASE("length regression moves output tokens only", "[scenario]") {
    auto cfg = half_split();
    cfg.candidate_regression.output_length = 1.4;
    const auto c = collect(cfg, 5, 3 * hour_ns);
    CHECK(quantile(c.arms[1].output_tokens, 0.5) / quantile(c.arms[0].output_tokens, 0.5) ==
          Approx(1.4).epsilon(0.04));
    CHECK(quantile(c.arms[1].latency, 0.5) / quantile(c.arms[0].latency, 0.5) ==
          Approx(1.0).epsilon(0.03));
}

TEST_CASE("stages, mismatch, shadow and diurnal load", "[scenario]") {
    scenario_config cfg;
    cfg.traffic.requests_per_minute = 1000;
    cfg.stages = {{0, 0.01}, {hour_ns, 0.10}, {2 * hour_ns, 0.25}};
    cfg.split_mismatch = 1.2;
    cfg.shadow_share = 0.05;
    scenario s(cfg, 6);
    std::uint64_t per_stage[3][2] = {};
    std::uint64_t shadow = 0;
    s.run(
        3 * hour_ns,
        [&](const request_event& r) {
            if (r.arm == arm_role::shadow) {
                ++shadow;
                return;
            }
            ++per_stage[r.time_ns / hour_ns][static_cast<int>(r.arm)];
        },
        [](const feedback_arrival&) {});
    const double shares[3] = {0.01, 0.10, 0.25};
    std::uint64_t baseline_total = 0;
    for (int k = 0; k < 3; ++k) {
        check_rate(per_stage[k][1], per_stage[k][0] + per_stage[k][1], shares[k] * 1.2);
        baseline_total += per_stage[k][0];
    }
    check_rate(shadow, baseline_total, 0.05);
    CHECK(s.candidate_share(90 * minute_ns) == 0.10);

    scenario_config day;
    day.traffic.requests_per_minute = 200;
    day.traffic.diurnal_amplitude = 0.5;
    day.traffic.diurnal_peak_hour = 12;
    scenario d(day, 7);
    std::vector<double> per_hour(24, 0.0);
    d.run(
        24 * hour_ns,
        [&](const request_event& r) {
            per_hour[static_cast<std::size_t>(r.time_ns / hour_ns)] += 1;
        },
        [](const feedback_arrival&) {});
    // Hour 12 carries rate (1 + 0.5), hour 0 (1 - 0.5): a 3x ratio.
    const double peak = per_hour[11] + per_hour[12];
    const double trough = per_hour[23] + per_hour[0];
    CHECK(peak / trough == Approx(3.0).epsilon(0.12));
}

TEST_CASE("set_split changes the split from now on; shadow copies behave as the candidate",
          "[scenario]") {
    scenario_config cfg;
    cfg.traffic.requests_per_minute = 1000;
    cfg.stages = {{0, 0.0}, {hour_ns, 0.5}};  // the second stage is dropped by set_split
    cfg.candidate_regression.refusal = 3.0;
    scenario s(cfg, 11);
    std::uint64_t counts[2][3] = {};  // [phase][arm]: requests
    std::uint64_t shadow_refusals = 0;
    int phase = 0;
    const auto on_request = [&](const request_event& r) {
        ++counts[phase][static_cast<int>(r.arm)];
        if (r.arm == arm_role::shadow && is_refusal(r.outcome.category)) ++shadow_refusals;
    };
    s.set_split(0.0, 0.5);  // a shadow stage: no user on the candidate
    s.run(30 * minute_ns, on_request, [](const feedback_arrival&) {});
    phase = 1;
    s.set_split(0.1, 0.0);  // a 10 % canary, shadow off
    s.run(2 * hour_ns, on_request, [](const feedback_arrival&) {});
    CHECK(counts[0][static_cast<int>(arm_role::candidate)] == 0);
    check_rate(counts[0][static_cast<int>(arm_role::shadow)],
               counts[0][static_cast<int>(arm_role::baseline)], 0.5);
    check_rate(shadow_refusals, counts[0][static_cast<int>(arm_role::shadow)],
               3.0 * cfg.model.refusal_rate);
    CHECK(counts[1][static_cast<int>(arm_role::shadow)] == 0);
    check_rate(counts[1][static_cast<int>(arm_role::candidate)],
               counts[1][static_cast<int>(arm_role::candidate)] +
                   counts[1][static_cast<int>(arm_role::baseline)],
               0.1);
    CHECK(s.candidate_share(90 * minute_ns) == 0.1);
    CHECK_THROWS_WITH(s.set_split(1.5, 0.0), Catch::Matchers::Contains("candidate_share = 1.5"));
    CHECK_THROWS_WITH(s.set_split(0.5, -1.0), Catch::Matchers::Contains("shadow_share = -1"));
}

TEST_CASE("candidate window noise varies windows without moving the mean", "[scenario]") {
    auto cfg = half_split();
    cfg.candidate_window_noise = 0.15;
    scenario s(cfg, 8);
    std::vector<double> sums[2];
    std::vector<double> counts[2];
    s.run(
        12 * hour_ns,
        [&](const request_event& r) {
            const auto w = static_cast<std::size_t>(r.time_ns / cfg.noise_window_ns);
            const int a = static_cast<int>(r.arm);
            if (sums[a].size() <= w) {
                sums[a].resize(w + 1, 0.0);
                counts[a].resize(w + 1, 0.0);
            }
            sums[a][w] += static_cast<double>(r.outcome.cost_nano_usd);
            counts[a][w] += 1;
        },
        [](const feedback_arrival&) {});
    std::vector<double> window_means[2];
    double total[2] = {0, 0};
    double n[2] = {0, 0};
    for (int a = 0; a < 2; ++a) {
        for (std::size_t w = 0; w < sums[a].size(); ++w) {
            window_means[a].push_back(sums[a][w] / counts[a][w]);
            total[a] += sums[a][w];
            n[a] += counts[a][w];
        }
    }
    const double cv_base = std::sqrt(variance(window_means[0])) / mean(window_means[0]);
    const double cv_cand = std::sqrt(variance(window_means[1])) / mean(window_means[1]);
    CAPTURE(cv_base, cv_cand);
    CHECK(cv_cand > 1.3 * cv_base);
    CHECK((total[1] / n[1]) / (total[0] / n[0]) == Approx(1.0).epsilon(0.04));
}

TEST_CASE("invalid configurations name the field and the value", "[scenario]") {
    scenario_config cfg;
    cfg.model.refusal_rate = 1.5;
    CHECK_THROWS_WITH(scenario(cfg, 1), Contains("model.refusal_rate = 1.5"));
    cfg = {};
    cfg.stages = {{0, 0.1}, {0, 0.2}};
    CHECK_THROWS_WITH(scenario(cfg, 1), Contains("stages[1].start_ns"));
    cfg = {};
    cfg.traffic.requests_per_minute = std::nan("");
    CHECK_THROWS_WITH(scenario(cfg, 1), Contains("traffic.requests_per_minute = nan"));
    cfg = {};
    cfg.stages = {{0, 0.9}};
    cfg.split_mismatch = 1.5;
    CHECK_THROWS_WITH(scenario(cfg, 1), Contains("split_mismatch = 1.5"));
    cfg = {};
    cfg.candidate_regression.refusal = 100;
    CHECK_THROWS_WITH(scenario(cfg, 1), Contains("candidate refusal rate"));
}
