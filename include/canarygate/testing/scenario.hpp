// SPDX-License-Identifier: MIT
/// \file
/// Seeded, reproducible LLM traffic for a baseline and a candidate: the
/// scenarios that canarygate's calibration benchmark runs and that users run
/// to unit-test their own rollout policies.
///
/// One request's story: it arrives (Poisson, with an optional diurnal cycle
/// shared by both arms), is routed to the candidate with the stage's share
/// (possibly mismatched, to test sample-ratio checks), gets an output length
/// from a log-normal body with a spike at the token limit, a latency that
/// grows with that length (time to first token + per-token time, plus a
/// Pareto queueing tail), a zero-inflated cost from its tokens, an outcome
/// (refusal, server error, truncation at the limit) and, for a few requests,
/// user feedback that arrives much later (log-normal delay).
///
/// Regressions are multipliers that act on one signal each, so a scenario at
/// "cost × 1.2" has a true candidate/baseline mean-cost ratio of exactly 1.2
/// and every latency quantile ratio stays 1 — the ground truth a gate's
/// calibration needs. Candidate-only window noise (the lesson's run-to-run
/// variation) multiplies latency and cost by a mean-one log-normal factor
/// that changes every noise window: it breaks independence without moving the
/// long-run ratio.
///
/// Example:
/// \code
///   canarygate::testkit::scenario_config cfg;
///   cfg.candidate_regression.cost = 1.25;         // the lesson's +25 % cost
///   canarygate::testkit::scenario s(cfg, 7);
///   s.run(8 * canarygate::hour_ns,
///         [&](const canarygate::request_event& r) { /* record it */ },
///         [&](const canarygate::feedback_arrival& f) { /* attribute it */ });
/// \endcode
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <numbers>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "canarygate/core/clock.hpp"
#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/gates/signal.hpp"
#include "canarygate/record/event.hpp"
#include "canarygate/record/outcome.hpp"
#include "canarygate/testing/random.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace testkit {

/// Arrival of all traffic (both arms together).
struct traffic_model {
    /// Mean arrival rate over a day, all arms.
    double requests_per_minute = 600;
    /// Relative amplitude of a 24-hour sine cycle shared by both arms, in [0, 1).
    double diurnal_amplitude = 0.0;
    /// Hour of the day (from time 0) at which the rate peaks.
    double diurnal_peak_hour = 14.0;
};

/// From `start_ns` on, the candidate gets `candidate_share` of the traffic.
struct stage {
    std::int64_t start_ns = 0;
    double candidate_share = 0.01;
};

/// How one arm behaves. Defaults describe a mid-sized chat model.
struct response_model {
    double output_tokens_median = 350;
    double output_tokens_sigma = 0.7;
    std::uint64_t max_tokens = 4096;       ///< longer answers are cut here (outcome truncated)
    double max_tokens_probability = 0.01;  ///< extra mass exactly at the limit (runaway answers)
    double input_tokens_median = 1200;
    double input_tokens_sigma = 0.9;
    double ttft_median_s = 0.35;
    double ttft_sigma = 0.5;
    double per_token_median_s = 0.012;
    double per_token_sigma = 0.25;
    double tail_probability = 0.02;       ///< share of requests that queue
    double tail_alpha = 1.8;              ///< Pareto shape of the queueing factor (>= 1)
    double input_price_nano_usd = 150;    ///< per token ($0.15 per million)
    double output_price_nano_usd = 600;   ///< per token ($0.60 per million)
    double zero_cost_probability = 0.05;  ///< free tier, full cache hits
    double refusal_rate = 0.02;
    double error_rate = 0.005;           ///< server errors
    double feedback_probability = 0.03;  ///< share of requests that ever get feedback
    double thumbs_down_share = 0.2;      ///< of those, the share that is a thumbs-down
    double feedback_delay_median_s = 600;
    double feedback_delay_sigma = 1.2;
};

/// Where an external router sent one request (scenario::set_router).
struct routed_request {
    arm_role arm = arm_role::baseline;  ///< baseline or candidate
    bool shadow_copy = false;           ///< mirror a baseline request to the shadow arm
    /// The candidate's share the caller believes is in force: recorded with
    /// the request's late feedback (its cohort).
    double candidate_share = 0.0;
};

/// Candidate / baseline ratios, each acting on its own signal only.
struct regression {
    double latency = 1.0;  ///< every latency quantile (end to end and TTFT)
    /// The slow tail only: the latency of the requests that queue (generated
    /// traffic: the model's tail_probability share; recorded traffic: the
    /// requests at or above the arm's (1 - tail_probability) latency
    /// quantile) is multiplied again by this factor.
    double latency_tail = 1.0;
    double cost = 1.0;           ///< mean cost per request
    double refusal = 1.0;        ///< refusal rate
    double error = 1.0;          ///< server-error rate
    double output_length = 1.0;  ///< output-token quantiles (latency and cost unchanged)
    double thumbs_down = 1.0;    ///< thumbs-down rate per request
};

/// The factor by which `r` moves the candidate's `s` (the output length's
/// for the shape gate; latency × latency_tail for latency and time to first
/// token, an upper bound: the tail factor moves high quantiles only).
[[nodiscard]] constexpr double factor_on(const regression& r, signal s) noexcept {
    switch (s) {
        case signal::latency:
        case signal::ttft:
            return r.latency * r.latency_tail;
        case signal::cost:
            return r.cost;
        case signal::error_rate:
            return r.error;
        case signal::refusal_rate:
            return r.refusal;
        case signal::feedback_rate:
            return r.thumbs_down;
        case signal::output_length:
        case signal::output_shape:
            break;
    }
    return r.output_length;
}

/// Feedback a recorded request got, and how long after the request.
struct recorded_feedback {
    std::int64_t delay_ns = 0;
    feedback_event event;
};

/// One response of a real service (testing/replay.hpp builds these from a
/// request log); its feedback is `recorded_traffic::feedback[feedback_first
/// .. feedback_first + feedback_count)`.
struct recorded_response {
    request_outcome outcome;
    std::uint32_t feedback_first = 0;
    std::uint32_t feedback_count = 0;
};

/// Traffic recorded from a real service, replayed by a scenario instead of
/// the traffic and response models: requests arrive at the recorded times
/// (repeating every `period_ns`), whoever routes them, and each one's
/// response — with its feedback, at its recorded delay — is drawn at random
/// (with replacement, from the seed) from the responses its arm recorded. The
/// candidate's regression acts on the drawn responses ("what if"). Without
/// candidate responses the candidate draws from the baseline's: an A/A
/// replay, into which a regression can be injected.
struct recorded_traffic {
    /// Arrival times of the users' requests (not shadow copies), from 0,
    /// sorted.
    std::vector<std::int64_t> arrivals_ns;
    /// The arrivals repeat with this period; greater than the last arrival.
    std::int64_t period_ns = 0;
    std::vector<recorded_response> baseline;
    std::vector<recorded_response> candidate;
    /// Shadow copies draw from these if any, else from the candidate's.
    std::vector<recorded_response> shadow;
    std::vector<recorded_feedback> feedback;

    /// The pool an arm draws from.
    [[nodiscard]] const std::vector<recorded_response>& pool(arm_role arm) const noexcept {
        if (arm == arm_role::baseline) return baseline;
        if (arm == arm_role::shadow && !shadow.empty()) return shadow;
        return candidate.empty() ? baseline : candidate;
    }
};

struct scenario_config {
    traffic_model traffic;
    /// Traffic schedule, sorted by start; the first stage starts at 0.
    std::vector<stage> stages = {stage{}};
    response_model model;
    regression candidate_regression;
    /// Standard deviation of the log of the candidate-only noise factor
    /// (0.1 ≈ the lesson's "up to 15 %" run-to-run variation).
    double candidate_window_noise = 0.0;
    std::int64_t noise_window_ns = 5 * minute_ns;
    /// The candidate really gets share × split_mismatch (1 = as configured).
    double split_mismatch = 1.0;
    /// Share of baseline requests also mirrored to a shadow arm. The copies
    /// are served by the candidate's model: its regression and noise apply.
    double shadow_share = 0.0;
    /// Replay recorded traffic instead of `traffic` and `model` (whose
    /// tail_probability alone still applies: it defines latency_tail's
    /// tail). Shared, not copied, between scenarios: many seeds replay one
    /// log.
    std::shared_ptr<const recorded_traffic> recorded;

    /// Throws std::invalid_argument naming the field and its value.
    void validate() const {
        auto fail = [](const std::string& field, auto value, const char* rule) {
            canarygate::detail::throw_bad_field("canarygate::testkit::scenario", field, value,
                                                rule);
        };
        auto probability = [&](const char* field, double p) {
            if (!(p >= 0.0 && p <= 1.0)) fail(field, p, "must be in [0, 1]");
        };
        auto positive = [&](const char* field, double x) {
            if (!(x > 0.0) || std::isinf(x)) fail(field, x, "must be positive and finite");
        };
        auto nonnegative = [&](const char* field, double x) {
            if (!(x >= 0.0) || std::isinf(x)) fail(field, x, "must be nonnegative and finite");
        };
        const auto& t = traffic;
        positive("traffic.requests_per_minute", t.requests_per_minute);
        if (!(t.diurnal_amplitude >= 0.0 && t.diurnal_amplitude < 1.0)) {
            fail("traffic.diurnal_amplitude", t.diurnal_amplitude, "must be in [0, 1)");
        }
        if (stages.empty()) fail("stages.size()", stages.size(), "must be at least 1");
        if (stages.front().start_ns != 0) {
            fail("stages[0].start_ns", stages.front().start_ns, "must be 0");
        }
        for (std::size_t i = 0; i < stages.size(); ++i) {
            const auto& s = stages[i];
            probability(("stages[" + std::to_string(i) + "].candidate_share").c_str(),
                        s.candidate_share);
            if (i > 0 && s.start_ns <= stages[i - 1].start_ns) {
                fail("stages[" + std::to_string(i) + "].start_ns", s.start_ns,
                     "must be after the previous stage's start");
            }
            if (s.candidate_share * split_mismatch > 1.0) {
                fail("split_mismatch", split_mismatch,
                     "makes a candidate share above 1 in some stage");
            }
        }
        const auto& m = model;
        positive("model.output_tokens_median", m.output_tokens_median);
        nonnegative("model.output_tokens_sigma", m.output_tokens_sigma);
        if (m.max_tokens == 0) fail("model.max_tokens", m.max_tokens, "must be at least 1");
        probability("model.max_tokens_probability", m.max_tokens_probability);
        positive("model.input_tokens_median", m.input_tokens_median);
        nonnegative("model.input_tokens_sigma", m.input_tokens_sigma);
        positive("model.ttft_median_s", m.ttft_median_s);
        nonnegative("model.ttft_sigma", m.ttft_sigma);
        positive("model.per_token_median_s", m.per_token_median_s);
        nonnegative("model.per_token_sigma", m.per_token_sigma);
        probability("model.tail_probability", m.tail_probability);
        if (!(m.tail_alpha >= 1.0) || std::isinf(m.tail_alpha)) {
            fail("model.tail_alpha", m.tail_alpha, "must be at least 1 and finite");
        }
        nonnegative("model.input_price_nano_usd", m.input_price_nano_usd);
        nonnegative("model.output_price_nano_usd", m.output_price_nano_usd);
        probability("model.zero_cost_probability", m.zero_cost_probability);
        probability("model.refusal_rate", m.refusal_rate);
        probability("model.error_rate", m.error_rate);
        probability("model.feedback_probability", m.feedback_probability);
        probability("model.thumbs_down_share", m.thumbs_down_share);
        positive("model.feedback_delay_median_s", m.feedback_delay_median_s);
        nonnegative("model.feedback_delay_sigma", m.feedback_delay_sigma);
        const auto& r = candidate_regression;
        positive("candidate_regression.latency", r.latency);
        positive("candidate_regression.latency_tail", r.latency_tail);
        positive("candidate_regression.cost", r.cost);
        nonnegative("candidate_regression.refusal", r.refusal);
        nonnegative("candidate_regression.error", r.error);
        positive("candidate_regression.output_length", r.output_length);
        nonnegative("candidate_regression.thumbs_down", r.thumbs_down);
        probability("candidate refusal rate (model.refusal_rate x candidate_regression.refusal)",
                    m.refusal_rate * r.refusal);
        probability("candidate error rate (model.error_rate x candidate_regression.error)",
                    m.error_rate * r.error);
        if (m.refusal_rate * std::max(r.refusal, 1.0) + m.error_rate * std::max(r.error, 1.0) >
            1.0) {
            fail("model.refusal_rate + model.error_rate", m.refusal_rate + m.error_rate,
                 "exceeds 1 for one of the arms");
        }
        probability(
            "candidate thumbs-down share (model.thumbs_down_share x "
            "candidate_regression.thumbs_down)",
            m.thumbs_down_share * r.thumbs_down);
        nonnegative("candidate_window_noise", candidate_window_noise);
        if (noise_window_ns <= 0) {
            fail("noise_window_ns", noise_window_ns, "must be positive");
        }
        positive("split_mismatch", split_mismatch);
        probability("shadow_share", shadow_share);
        if (recorded) validate_recorded(*recorded);
    }

private:
    void validate_recorded(const recorded_traffic& rec) const;
};

/// What a regression multiplies in a pool of recorded responses.
struct recorded_rates {
    std::uint64_t responses = 0;
    std::uint64_t refusals = 0;
    std::uint64_t errors = 0;
    std::uint64_t thumbs = 0;  ///< thumbs-up and thumbs-down events
    std::uint64_t thumbs_down = 0;

    [[nodiscard]] double refusal_rate() const noexcept {
        return static_cast<double>(refusals) / static_cast<double>(responses);
    }
    [[nodiscard]] double error_rate() const noexcept {
        return static_cast<double>(errors) / static_cast<double>(responses);
    }
    [[nodiscard]] double thumbs_down_share() const noexcept {
        return thumbs == 0 ? 0.0 : static_cast<double>(thumbs_down) / static_cast<double>(thumbs);
    }
};

[[nodiscard]] inline recorded_rates rates_of(const std::vector<recorded_response>& pool,
                                             const std::vector<recorded_feedback>& feedback) {
    recorded_rates r;
    r.responses = pool.size();
    for (const recorded_response& x : pool) {
        r.refusals += is_refusal(x.outcome.category);
        r.errors += is_error(x.outcome.category);
        for (std::uint32_t i = 0; i < x.feedback_count; ++i) {
            const feedback_kind k = feedback[x.feedback_first + i].event.kind;
            r.thumbs += k == feedback_kind::thumbs_up || k == feedback_kind::thumbs_down;
            r.thumbs_down += k == feedback_kind::thumbs_down;
        }
    }
    return r;
}

inline void scenario_config::validate_recorded(const recorded_traffic& rec) const {
    auto fail = [](const std::string& field, auto value, const char* rule) {
        canarygate::detail::throw_bad_field("canarygate::testkit::scenario", field, value, rule);
    };
    if (rec.arrivals_ns.empty()) fail("recorded.arrivals_ns.size()", 0, "must be at least 1");
    if (rec.arrivals_ns.front() < 0)
        fail("recorded.arrivals_ns[0]", rec.arrivals_ns.front(), "must be >= 0");
    for (std::size_t i = 1; i < rec.arrivals_ns.size(); ++i) {
        if (rec.arrivals_ns[i] < rec.arrivals_ns[i - 1])
            fail("recorded.arrivals_ns[" + std::to_string(i) + "]", rec.arrivals_ns[i],
                 "must not be before the previous arrival");
    }
    if (rec.period_ns <= rec.arrivals_ns.back())
        fail("recorded.period_ns", rec.period_ns, "must be greater than the last arrival");
    if (rec.baseline.empty()) fail("recorded.baseline.size()", 0, "must be at least 1");
    const auto check_pool = [&](const char* name, const std::vector<recorded_response>& pool) {
        for (std::size_t i = 0; i < pool.size(); ++i) {
            const std::uint64_t end =
                std::uint64_t{pool[i].feedback_first} + pool[i].feedback_count;
            if (end > rec.feedback.size())
                fail(std::string("recorded.") + name + "[" + std::to_string(i) + "].feedback_count",
                     pool[i].feedback_count, "points past the end of recorded.feedback");
        }
    };
    check_pool("baseline", rec.baseline);
    check_pool("candidate", rec.candidate);
    check_pool("shadow", rec.shadow);
    for (std::size_t i = 0; i < rec.feedback.size(); ++i) {
        if (rec.feedback[i].delay_ns < 0)
            fail("recorded.feedback[" + std::to_string(i) + "].delay_ns", rec.feedback[i].delay_ns,
                 "must be >= 0");
    }
    // A regression multiplies the candidate's recorded rates: a rate of zero
    // cannot be multiplied, and a product above one is impossible. Either
    // would leave the "what if" silently weaker than asked.
    const recorded_rates p = rates_of(rec.pool(arm_role::candidate), rec.feedback);
    const regression& r = candidate_regression;
    const auto multipliable = [&](const char* field, double factor, std::uint64_t count,
                                  const char* what) {
        if (factor != 1.0 && count == 0)
            fail(field, factor,
                 (std::string("multiplies a rate of 0: the recorded candidate (or baseline) has "
                              "no ") +
                  what)
                     .c_str());
    };
    multipliable("candidate_regression.refusal", r.refusal, p.refusals, "refusals");
    multipliable("candidate_regression.error", r.error, p.errors, "server errors");
    multipliable("candidate_regression.thumbs_down", r.thumbs_down, p.thumbs_down,
                 "thumbs-down feedback");
    if (p.refusal_rate() * std::max(r.refusal, 1.0) + p.error_rate() * std::max(r.error, 1.0) > 1.0)
        fail("candidate_regression.refusal and .error", r.refusal * r.error,
             "make the recorded refusal + error rate exceed 1");
    if (p.thumbs_down_share() * r.thumbs_down > 1.0)
        fail("candidate_regression.thumbs_down", r.thumbs_down,
             "makes the recorded thumbs-down share exceed 1");
}

/// One response of a model: what a scenario's request gets from the arm
/// that serves it (see the file comment), with the candidate's regression
/// `r` (none for the baseline) and a noise factor on latency and cost (1:
/// none). Exposed for programs that play an inference server and draw their
/// own responses (examples/embedding.cpp); the draws, and so the results for
/// a seed, are the scenario's.
[[nodiscard]] inline request_outcome draw_response(const response_model& m, const regression& r,
                                                   double noise, random_source& rng) {
    request_outcome out;
    // Output length: body or runaway spike, cut at the limit.
    double tokens =
        rng.bernoulli(m.max_tokens_probability)
            ? static_cast<double>(m.max_tokens)
            : std::ceil(rng.lognormal_median(m.output_tokens_median, m.output_tokens_sigma));
    const auto max_tokens = static_cast<double>(m.max_tokens);
    const bool truncated = tokens >= max_tokens;
    tokens = std::min(tokens, max_tokens);
    const double input =
        std::ceil(rng.lognormal_median(m.input_tokens_median, m.input_tokens_sigma));
    out.input_tokens = static_cast<std::uint64_t>(input);
    // The length regression scales reported tokens only (see file comment).
    out.output_tokens =
        static_cast<std::uint64_t>(std::max(1.0, std::round(tokens * r.output_length)));

    // Latency grows with the (unregressed) length; queueing adds a tail.
    const double ttft = rng.lognormal_median(m.ttft_median_s, m.ttft_sigma);
    const double per_token = rng.lognormal_median(m.per_token_median_s, m.per_token_sigma);
    double latency = ttft + tokens * per_token;
    double queueing = 1.0;
    if (rng.bernoulli(m.tail_probability))
        queueing = rng.pareto(1.0, m.tail_alpha) * r.latency_tail;
    latency *= queueing * r.latency * noise;
    const double ttft_total = ttft * queueing * r.latency * noise;
    out.latency_ns = static_cast<std::uint64_t>(std::llround(latency * 1e9));
    out.ttft_ns = static_cast<std::uint64_t>(std::llround(ttft_total * 1e9));

    double cost = input * m.input_price_nano_usd + tokens * m.output_price_nano_usd;
    if (rng.bernoulli(m.zero_cost_probability)) cost = 0;
    out.cost_nano_usd = static_cast<std::uint64_t>(std::llround(cost * r.cost * noise));

    const double u = rng.uniform();
    const double refusal = m.refusal_rate * r.refusal;
    const double error = m.error_rate * r.error;
    if (u < refusal) {
        out.category = outcome::refusal_provider;
    } else if (u < refusal + error) {
        out.category = outcome::server_error;
    } else {
        out.category = truncated ? outcome::truncated : outcome::ok;
    }

    return out;
}

/// A traffic generator. Deterministic for a given configuration and seed.
/// Not thread-safe; cheap to construct (run many in parallel, one each).
class scenario {
public:
    /// Validates the configuration: throws std::invalid_argument naming the
    /// field and its value.
    scenario(scenario_config config, std::uint64_t seed) : config_(std::move(config)), rng_(seed) {
        config_.validate();
        if (config_.recorded) prepare_recorded();
        const double peak =
            config_.traffic.requests_per_minute * (1 + config_.traffic.diurnal_amplitude);
        max_rate_per_ns_ = peak / static_cast<double>(minute_ns);
        noise_factor_ = draw_noise_factor();
    }

    [[nodiscard]] const scenario_config& config() const noexcept { return config_; }
    /// Time up to which traffic has been generated.
    [[nodiscard]] std::int64_t now_ns() const noexcept { return now_; }

    /// The configured candidate share at time t (before any mismatch).
    [[nodiscard]] double candidate_share(std::int64_t t) const noexcept {
        double share = config_.stages.front().candidate_share;
        for (const auto& s : config_.stages) {
            if (s.start_ns <= t) share = s.candidate_share;
        }
        return share;
    }

    /// Generates every request in [now_ns(), until_ns) and every feedback
    /// event due before until_ns, in time order, then sets now_ns() to
    /// until_ns. `on_request(const request_event&)`,
    /// `on_feedback(const feedback_arrival&)`.
    template <class OnRequest, class OnFeedback>
    void run(std::int64_t until_ns, OnRequest&& on_request, OnFeedback&& on_feedback) {
        while (true) {
            if (!next_arrival_valid_) {
                next_arrival_ = config_.recorded
                                    ? next_recorded_arrival()
                                    : next_arrival_ + static_cast<std::int64_t>(std::ceil(
                                                          rng_.exponential(max_rate_per_ns_)));
                next_arrival_valid_ = true;
            }
            const std::int64_t t = next_arrival_;
            if (t >= until_ns) break;
            flush_feedback(t, on_feedback);
            next_arrival_valid_ = false;
            // Thinning: accept with rate(t) / max rate for the diurnal cycle.
            if (!config_.recorded && !rng_.bernoulli(rate_fraction(t))) continue;
            generate_request(t, on_request);
        }
        flush_feedback(until_ns, on_feedback);
        now_ = until_ns;
    }

    /// Changes the split from now_ns() on, as a rollout controller does when
    /// it advances or rolls back: the candidate's share of requests, and the
    /// share of baseline requests mirrored to the shadow arm. Later stages of
    /// the configured schedule are dropped; traffic already generated keeps
    /// its split. Throws std::invalid_argument for a share outside [0, 1].
    void set_split(double candidate_share, double shadow_share) {
        constexpr std::string_view where = "canarygate::testkit::scenario::set_split";
        if (!(candidate_share >= 0.0 && candidate_share <= 1.0))
            canarygate::detail::throw_bad_field(where, "candidate_share", candidate_share,
                                                "must be in [0, 1]");
        if (!(shadow_share >= 0.0 && shadow_share <= 1.0))
            canarygate::detail::throw_bad_field(where, "shadow_share", shadow_share,
                                                "must be in [0, 1]");
        std::erase_if(config_.stages, [&](const stage& st) { return st.start_ns >= now_; });
        config_.stages.push_back({now_, candidate_share});
        config_.shadow_share = shadow_share;
    }

    /// Hands the split to `route` from now_ns() on: it is called once per
    /// request with the request's id (a stand-in for the sticky routing key)
    /// and decides the arm and the shadow copy, as a real router does; the
    /// configured shares and split_mismatch no longer apply. The scenario
    /// then draws no random numbers for the split, so the same seed gives the
    /// same arrivals and the same responses whatever the router decides. An
    /// empty function restores the configured split.
    void set_router(std::function<routed_request(std::uint64_t request_id)> route) {
        router_ = std::move(route);
    }

    /// Changes the candidate's regression from now_ns() on (a burst of
    /// errors that starts and stops, a fix deployed mid-rollout). Validated
    /// as the configuration is; on a bad value nothing changes.
    void set_regression(const regression& r) {
        scenario_config changed = config_;
        changed.candidate_regression = r;
        changed.validate();  // throws before anything changes
        config_.candidate_regression = r;
    }

    /// Feedback generated but not yet due.
    [[nodiscard]] std::size_t pending_feedback() const noexcept { return pending_.size(); }

private:
    struct pending_feedback_event {
        feedback_arrival event;
        friend bool operator>(const pending_feedback_event& a, const pending_feedback_event& b) {
            return a.event.time_ns > b.event.time_ns ||
                   (a.event.time_ns == b.event.time_ns && a.event.request_id > b.event.request_id);
        }
    };

    void prepare_recorded() {
        const recorded_traffic& rec = *config_.recorded;
        const auto tail_threshold = [&](const std::vector<recorded_response>& pool) {
            std::vector<std::uint64_t> latencies;
            latencies.reserve(pool.size());
            for (const auto& x : pool) latencies.push_back(x.outcome.latency_ns);
            const double q = 1.0 - config_.model.tail_probability;
            const auto k = std::min(
                latencies.size() - 1,
                static_cast<std::size_t>(std::floor(q * static_cast<double>(latencies.size()))));
            std::nth_element(latencies.begin(), latencies.begin() + static_cast<std::ptrdiff_t>(k),
                             latencies.end());
            return latencies[k];
        };
        for (const arm_role arm : {arm_role::baseline, arm_role::candidate, arm_role::shadow}) {
            const auto i = static_cast<std::size_t>(arm);
            tail_ns_[i] = tail_threshold(rec.pool(arm));
            rates_[i] = rates_of(rec.pool(arm), rec.feedback);
        }
    }

    std::int64_t next_recorded_arrival() noexcept {
        const recorded_traffic& rec = *config_.recorded;
        const std::size_t n = rec.arrivals_ns.size();
        const auto lap = static_cast<std::int64_t>(recorded_next_ / n);
        const std::int64_t t = rec.arrivals_ns[recorded_next_ % n] + lap * rec.period_ns;
        ++recorded_next_;
        return t;
    }

    /// A recorded response of `arm`'s model, with the candidate's regression
    /// applied (see recorded_traffic).
    template <class OnRequest>
    void emit_recorded(std::int64_t t, arm_role arm, double told_share, OnRequest& on_request) {
        const recorded_traffic& rec = *config_.recorded;
        const bool candidate = arm == arm_role::candidate || arm == arm_role::shadow;
        const auto& pool = rec.pool(arm);
        const recorded_rates& rates = rates_[static_cast<std::size_t>(arm)];
        const recorded_response& drawn =
            pool[static_cast<std::size_t>(rng_.uniform() * static_cast<double>(pool.size()))];
        request_outcome out = drawn.outcome;
        const std::uint64_t id = next_id_++;
        if (!candidate) {
            on_request(request_event{t, arm, id, out});
            push_recorded_feedback(t, arm, id, drawn, 1.0, rates, told_share);
            return;
        }
        const regression& r = config_.candidate_regression;
        const bool in_tail = out.latency_ns >= tail_ns_[static_cast<std::size_t>(arm)];
        const double latency_factor = r.latency * (in_tail ? r.latency_tail : 1.0) * noise_factor_;
        const auto scale = [](std::uint64_t x, double f) {
            return static_cast<std::uint64_t>(std::llround(static_cast<double>(x) * f));
        };
        out.latency_ns = scale(out.latency_ns, latency_factor);
        if (out.ttft_ns != request_outcome::absent)
            out.ttft_ns = scale(out.ttft_ns, latency_factor);
        out.cost_nano_usd = scale(out.cost_nano_usd, r.cost * noise_factor_);
        if (r.output_length != 1.0)
            out.output_tokens =
                std::max<std::uint64_t>(1, scale(out.output_tokens, r.output_length));
        // Rates: a factor below one turns that many of the failures into
        // answers; above one, turns enough answers into failures that the
        // rate is multiplied exactly (validated: the rates stay below one).
        const double p_refusal = rates.refusal_rate();
        const double p_error = rates.error_rate();
        const double answers = 1.0 - p_refusal - p_error;
        if (is_refusal(out.category)) {
            if (r.refusal < 1.0 && !rng_.bernoulli(r.refusal)) out.category = outcome::ok;
        } else if (is_error(out.category)) {
            if (r.error < 1.0 && !rng_.bernoulli(r.error)) out.category = outcome::ok;
        } else if ((r.refusal > 1.0 || r.error > 1.0) && answers > 0.0) {
            const double to_refusal = p_refusal * std::max(r.refusal - 1.0, 0.0) / answers;
            const double to_error = p_error * std::max(r.error - 1.0, 0.0) / answers;
            const double u = rng_.uniform();
            if (u < to_refusal) {
                out.category = outcome::refusal_provider;
            } else if (u < to_refusal + to_error) {
                out.category = outcome::server_error;
            }
        }
        on_request(request_event{t, arm, id, out});
        // Shadow answers are never shown to users: no feedback.
        if (arm == arm_role::candidate)
            push_recorded_feedback(t, arm, id, drawn, r.thumbs_down, rates, told_share);
    }

    void push_recorded_feedback(std::int64_t t, arm_role arm, std::uint64_t id,
                                const recorded_response& drawn, double thumbs_down_factor,
                                const recorded_rates& rates, double told_share) {
        const recorded_traffic& rec = *config_.recorded;
        const double down = rates.thumbs_down_share();
        for (std::uint32_t i = 0; i < drawn.feedback_count; ++i) {
            const recorded_feedback& f = rec.feedback[drawn.feedback_first + i];
            feedback_kind kind = f.event.kind;
            if (kind == feedback_kind::thumbs_down && thumbs_down_factor < 1.0 &&
                !rng_.bernoulli(thumbs_down_factor)) {
                kind = feedback_kind::thumbs_up;
            } else if (kind == feedback_kind::thumbs_up && thumbs_down_factor > 1.0 && down < 1.0 &&
                       rng_.bernoulli(down * (thumbs_down_factor - 1.0) / (1.0 - down))) {
                kind = feedback_kind::thumbs_down;
            }
            pending_.push({feedback_arrival{t + f.delay_ns, arm, id, kind, told_share}});
        }
    }

    [[nodiscard]] double rate_fraction(std::int64_t t) const noexcept {
        const double a = config_.traffic.diurnal_amplitude;
        if (a == 0.0) return 1.0;
        const double hours = static_cast<double>(t) / static_cast<double>(hour_ns);
        const double phase =
            2.0 * std::numbers::pi * (hours - config_.traffic.diurnal_peak_hour) / 24.0;
        return (1.0 + a * std::cos(phase)) / (1.0 + a);
    }

    double draw_noise_factor() noexcept {
        const double sd = config_.candidate_window_noise;
        // Mean one: E[exp(sd Z - sd²/2)] = 1, so the long-run ratio is unmoved.
        return sd == 0.0 ? 1.0 : std::exp(sd * rng_.normal() - sd * sd / 2);
    }

    template <class OnFeedback>
    void flush_feedback(std::int64_t until, OnFeedback& on_feedback) {
        while (!pending_.empty() && pending_.top().event.time_ns < until) {
            const feedback_arrival e = pending_.top().event;
            pending_.pop();
            on_feedback(e);
        }
    }

    template <class OnRequest>
    void generate_request(std::int64_t t, OnRequest& on_request) {
        const std::int64_t window = t / config_.noise_window_ns;
        if (window != noise_window_) {
            noise_window_ = window;
            noise_factor_ = draw_noise_factor();
        }
        if (router_) {
            const routed_request r = router_(next_id_);
            const bool candidate = r.arm == arm_role::candidate;
            emit(t, candidate ? arm_role::candidate : arm_role::baseline, r.candidate_share,
                 on_request);
            if (!candidate && r.shadow_copy) {
                emit(t, arm_role::shadow, r.candidate_share, on_request);
            }
            return;
        }
        const double share = candidate_share(t) * config_.split_mismatch;
        const arm_role arm = rng_.bernoulli(share) ? arm_role::candidate : arm_role::baseline;
        // The share the router was told at routing time (not the mismatched
        // one it applied): what an embedder records.
        emit(t, arm, candidate_share(t), on_request);
        if (arm == arm_role::baseline && config_.shadow_share > 0 &&
            rng_.bernoulli(config_.shadow_share)) {
            emit(t, arm_role::shadow, candidate_share(t), on_request);
        }
    }

    template <class OnRequest>
    void emit(std::int64_t t, arm_role arm, double told_share, OnRequest& on_request) {
        if (config_.recorded) {
            emit_recorded(t, arm, told_share, on_request);
            return;
        }
        const response_model& m = config_.model;
        // A shadow copy is the same kind of request served by the candidate's
        // model: it carries the candidate's regression and noise.
        const bool candidate = arm == arm_role::candidate || arm == arm_role::shadow;
        const regression none{};
        const regression& r = candidate ? config_.candidate_regression : none;
        const double noise = candidate ? noise_factor_ : 1.0;

        const request_outcome out = draw_response(m, r, noise, rng_);
        const std::uint64_t id = next_id_++;
        on_request(request_event{t, arm, id, out});

        // Shadow answers are never shown to users: no feedback.
        if (arm != arm_role::shadow && rng_.bernoulli(m.feedback_probability)) {
            const double down = std::min(1.0, m.thumbs_down_share * r.thumbs_down);
            const feedback_kind kind =
                rng_.bernoulli(down) ? feedback_kind::thumbs_down : feedback_kind::thumbs_up;
            const double delay_s =
                rng_.lognormal_median(m.feedback_delay_median_s, m.feedback_delay_sigma);
            const auto delay = static_cast<std::int64_t>(std::min(delay_s, 30.0 * 86400.0) * 1e9);
            pending_.push({feedback_arrival{t + delay, arm, id, kind, told_share}});
        }
    }

    scenario_config config_;
    random_source rng_;
    double max_rate_per_ns_ = 0;
    std::int64_t now_ = 0;
    std::int64_t next_arrival_ = 0;
    bool next_arrival_valid_ = false;
    std::uint64_t next_id_ = 1;
    std::int64_t noise_window_ = 0;
    double noise_factor_ = 1.0;
    std::priority_queue<pending_feedback_event, std::vector<pending_feedback_event>, std::greater<>>
        pending_;
    std::function<routed_request(std::uint64_t)> router_;
    // Recorded traffic: the next arrival's index (over laps), and per arm
    // (by arm_role) its pool's latency-tail threshold and rates.
    std::uint64_t recorded_next_ = 0;
    std::uint64_t tail_ns_[arm_role_count] = {};
    recorded_rates rates_[arm_role_count];
};

}  // namespace testkit
CANARYGATE_NAMESPACE_END
