// SPDX-License-Identifier: MIT
/// \file
/// `shape_gate`: "the candidate's output-length distribution is within a
/// Kolmogorov–Smirnov distance δ of the baseline's".
///
/// Both arms get a time-uniform DKW confidence band (valid at every check);
/// the gate fails when the KS distance, read at bucket edges (a lower bound
/// on the continuous distance), exceeds δ by more than both bands, and
/// passes when the distance plus the largest single-bucket mass plus both
/// bands is below δ. The bucket-mass term is dropped when every output of
/// both arms has one and the same length (exact sums show it), so identical
/// degenerate distributions can pass. A band test, not an e-process: it
/// reports no e-value.
///
/// Example:
/// \code
///   const canarygate::shape_gate shape(canarygate::shape_gate_config{});  // KS <= 0.1
///   canarygate::shape_gate::state st;
///   auto r = shape.evaluate(st, baseline_increment, candidate_increment, 0.05 / 9, 0.05);
/// \endcode
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/core/wide_uint.hpp"
#include "canarygate/gates/detail/quantile_bounds.hpp"
#include "canarygate/gates/gate_common.hpp"
#include "canarygate/gates/signal.hpp"
#include "canarygate/gates/verdict.hpp"
#include "canarygate/record/series.hpp"
#include "canarygate/stats/sequential_ks.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Configuration of a shape gate.
struct shape_gate_config : gate_common {
    /// output_shape (the output-token histogram).
    signal metric = signal::output_shape;
    /// The largest acceptable Kolmogorov–Smirnov distance δ, in (0, 1).
    double ks_tolerance = 0.1;
};

/// A gate on the shape of a distribution. Immutable; see the file comment.
class shape_gate {
public:
    using config_type = shape_gate_config;

    /// Both arms' cumulative histograms, and the exact sums of the values
    /// and their squares (to recognise identical point masses). Plain
    /// copyable data.
    struct state {
        detail::cumulative_histograms histograms;
        wide_uint candidate_sum, candidate_sum_squares;
        wide_uint baseline_sum, baseline_sum_squares;
        std::uint64_t checks = 0;
    };

    /// The name a gate gets when its configuration leaves `name` empty.
    [[nodiscard]] static std::string default_name(const shape_gate_config& c) {
        return std::string(canarygate::name(c.metric));
    }

    /// Validates; throws std::invalid_argument naming the field and value.
    explicit shape_gate(shape_gate_config config) : config_(std::move(config)) {
        if (config_.name.empty()) config_.name = default_name(config_);
        const std::string where = "canarygate::shape_gate '" + config_.name + "'";
        if (config_.metric != signal::output_shape) {
            detail::throw_invalid_argument(where +
                                           ": metric = " + detail::describe_signal(config_.metric) +
                                           " is not a shape signal (output_shape)");
        }
        if (!(config_.ks_tolerance > 0.0 && config_.ks_tolerance < 1.0)) {
            detail::throw_bad_field(where, "ks_tolerance", config_.ks_tolerance,
                                    "must be in (0, 1)");
        }
        detail::validate_common(config_, where);
    }

    [[nodiscard]] const shape_gate_config& config() const noexcept { return config_; }
    [[nodiscard]] const std::string& name() const noexcept { return config_.name; }
    [[nodiscard]] signal metric() const noexcept { return config_.metric; }

    /// Throws std::invalid_argument (nothing changes) unless the arms'
    /// histograms have one range, the range of the running totals.
    void check_increment(const state& s, const arm_snapshot& baseline_increment,
                         const arm_snapshot& candidate_increment,
                         std::optional<std::int64_t> /*increment_end_ns*/) const {
        const std::string_view series_name = detail::histogram_series(config_.metric);
        s.histograms.check(name(), series_name, candidate_increment.histogram(series_name),
                           baseline_increment.histogram(series_name));
    }

    /// Feeds one increment into `s` and decides; see rate_gate::evaluate.
    /// `increment_end_ns` is not used.
    gate_result evaluate(state& s, const arm_snapshot& baseline_increment,
                         const arm_snapshot& candidate_increment, double alpha_fail,
                         double alpha_pass, const gate_tuning& = {},
                         std::optional<std::int64_t> increment_end_ns = std::nullopt) const {
        check_increment(s, baseline_increment, candidate_increment, increment_end_ns);
        gate_result result = detail::start_result(config_, config_.metric, alpha_fail);
        ++s.checks;
        gate_evidence& ev = result.evidence;
        const std::string_view series_name = detail::histogram_series(config_.metric);
        s.histograms.add(candidate_increment.histogram(series_name),
                         baseline_increment.histogram(series_name));
        s.candidate_sum += candidate_increment.counter(series::output_tokens_sum);
        s.candidate_sum_squares += candidate_increment.counter(series::output_tokens_sum_squares);
        s.baseline_sum += baseline_increment.counter(series::output_tokens_sum);
        s.baseline_sum_squares += baseline_increment.counter(series::output_tokens_sum_squares);
        if (const auto p = s.histograms.aligned()) {
            const exp_histogram& c = p->candidate;
            const exp_histogram& b = p->baseline;
            const double nc = static_cast<double>(c.count());
            const double nb = static_cast<double>(b.count());
            // Walk the slots in order: zero, underflow, buckets, overflow.
            double fc = static_cast<double>(c.zero_count()) / nc;
            double fb = static_cast<double>(b.zero_count()) / nb;
            double d_edges = std::fabs(fc - fb);
            double max_mass = std::max(fc, fb);
            auto step = [&](std::uint64_t cc, std::uint64_t bc) {
                const double mc = static_cast<double>(cc) / nc;
                const double mb = static_cast<double>(bc) / nb;
                fc += mc;
                fb += mb;
                d_edges = std::max(d_edges, std::fabs(fc - fb));
                max_mass = std::max({max_mass, mc, mb});
            };
            step(c.underflow_count(), b.underflow_count());
            const auto cb = c.buckets();
            const auto bb = b.buckets();
            for (std::size_t i = 0; i < cb.size(); ++i) step(cb[i], bb[i]);
            step(c.overflow_count(), b.overflow_count());
            ev.candidate_samples = ev.candidate_events = c.count();
            ev.baseline_samples = b.count();
            ev.estimate = d_edges;
            const double eps_fail = stats::sequential_dkw_radius(c.count(), alpha_fail / 2) +
                                    stats::sequential_dkw_radius(b.count(), alpha_fail / 2);
            const double eps_pass = stats::sequential_dkw_radius(c.count(), alpha_pass / 2) +
                                    stats::sequential_dkw_radius(b.count(), alpha_pass / 2);
            // Between bucket edges the empirical CDFs are unknown, so the
            // distance may exceed d_edges by the largest bucket mass -- unless
            // every value of both arms is one and the same number, which the
            // exact sums show: then the empirical CDFs coincide.
            const bool same_point_mass = identical_point_masses(s, c.count(), b.count());
            ev.interval_computed = true;
            ev.lower = std::max(0.0, d_edges - eps_pass);
            ev.upper = std::min(1.0, d_edges + (same_point_mass ? 0.0 : max_mass) + eps_pass);
            // A band test, not an e-process: no e-value to report.
            const double margin = d_edges - eps_fail - config_.ks_tolerance;
            ev.log_e_value = std::numeric_limits<double>::quiet_NaN();
            if (margin > 0 && c.count() >= config_.min_events) {
                result.decision = verdict::fail;
            } else if (ev.upper < config_.ks_tolerance) {
                result.decision = verdict::pass;
            }
        }
        result.reason = detail::reason_line(
            result,
            {" KS distance ", "KS tolerance " + detail::format_ratio(config_.ks_tolerance)});
        return result;
    }

private:
    /// True when every value of both arms is one and the same number: zero
    /// variance in each arm (n sum_sq == sum^2) and equal means
    /// (sum_c n_b == sum_b n_c), tested exactly on the 128-bit sums. The
    /// counts are the histograms'; sums from another set of records (some
    /// rejected) simply fail the test.
    [[nodiscard]] static bool identical_point_masses(const state& s, std::uint64_t n_c,
                                                     std::uint64_t n_b) noexcept {
        return n_c > 0 && n_b > 0 &&
               products_equal(n_c, s.candidate_sum_squares, s.candidate_sum, s.candidate_sum) &&
               products_equal(n_b, s.baseline_sum_squares, s.baseline_sum, s.baseline_sum) &&
               products_equal(s.candidate_sum, n_b, s.baseline_sum, n_c);
    }

    shape_gate_config config_;
};

CANARYGATE_NAMESPACE_END
