// SPDX-License-Identifier: MIT
/// \file
/// What the quantile and shape gates read off histograms: thresholds on the
/// bucket grid, confidence bounds at a rank, and the running cumulative
/// histograms of both arms.
#pragma once

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
#include "canarygate/gates/gate_common.hpp"
#include "canarygate/gates/verdict.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/stats/quantile_bound.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace detail {

/// An upper bound on a value, read off a histogram: 0, the bucket edge b^J,
/// or none (the value lies in overflow: no finite bound).
struct edge_bound {
    enum kind_type { zero, edge, none } kind;
    std::int64_t exponent;  ///< J when kind == edge
};

/// The upper edge of the slot holding the 1-based rank r: b^J for a bucket
/// (J = its index + 1) or for underflow (J = first_index(), b^J = 2^min).
[[nodiscard]] inline edge_bound upper_edge_of_rank(const exp_histogram& h, std::uint64_t rank) {
    const rank_location where = h.locate_rank(rank);
    switch (where.region) {
        case quantile_region::zero:
            return {edge_bound::zero, 0};
        case quantile_region::underflow:
            return {edge_bound::edge, h.layout().first_index()};
        case quantile_region::in_range:
            return {edge_bound::edge, where.bucket + 1};
        default:
            return {edge_bound::none, 0};
    }
}

/// Steps m of the bucket grid at `scale` (growth b = 2^(2^-scale)) with
/// b^m >= k (the smallest such m) or b^m <= k (the largest): multiplying a
/// bucket edge b^J by b^m gives the edge b^(J+m).
[[nodiscard]] inline std::int64_t grid_steps_at_least(double k, int scale) {
    const double per_octave = std::ldexp(1.0, scale);
    auto m = static_cast<std::int64_t>(std::ceil(std::log2(k) * per_octave));
    while (std::exp2(static_cast<double>(m) / per_octave) < k) ++m;
    return m;
}
[[nodiscard]] inline std::int64_t grid_steps_at_most(double k, int scale) {
    const double per_octave = std::ldexp(1.0, scale);
    auto m = static_cast<std::int64_t>(std::floor(std::log2(k) * per_octave));
    while (std::exp2(static_cast<double>(m) / per_octave) > k) --m;
    return m;
}

/// An edge exponent J at `from_scale` carried to the coarser `to_scale`:
/// rounded up (a higher threshold) or down (a lower one) to an edge there.
[[nodiscard]] inline std::int64_t coarsen_edge(std::int64_t exponent, int from_scale, int to_scale,
                                               bool round_up) {
    const std::int64_t factor = std::int64_t{1} << (from_scale - to_scale);
    std::int64_t q = exponent / factor;  // truncates toward zero
    const std::int64_t r = exponent % factor;
    if (r != 0 && (round_up == (r > 0))) q += round_up ? 1 : -1;
    return q;
}

/// Accumulates `increment` into the optional cumulative histogram.
inline void accumulate(std::optional<exp_histogram>& total, const exp_histogram* increment) {
    if (increment == nullptr) return;
    if (!total) {
        total = *increment;
        return;
    }
    total->merge_coarsening(*increment);
}

/// Both arms' histograms of one signal at a common scale.
struct aligned_pair {
    exp_histogram candidate;
    exp_histogram baseline;
};

/// Both arms' cumulative histograms of one signal over a rollout (the
/// quantile and shape gates' state).
struct cumulative_histograms {
    std::optional<exp_histogram> candidate;
    std::optional<exp_histogram> baseline;

    /// Adds one increment's histograms (either may be absent).
    void add(const exp_histogram* candidate_increment, const exp_histogram* baseline_increment) {
        accumulate(candidate, candidate_increment);
        accumulate(baseline, baseline_increment);
    }
    /// Throws std::invalid_argument (nothing changes) unless the increments'
    /// histograms and the running totals all share one range: the gates
    /// compare the arms slot by slot.
    void check(const std::string& gate_name, std::string_view series_name,
               const exp_histogram* candidate_increment,
               const exp_histogram* baseline_increment) const {
        const std::pair<const char*, const exp_histogram*> all[] = {
            {"candidate running total", candidate ? &*candidate : nullptr},
            {"baseline running total", baseline ? &*baseline : nullptr},
            {"candidate increment", candidate_increment},
            {"baseline increment", baseline_increment}};
        const std::pair<const char*, const exp_histogram*>* first = nullptr;
        for (const auto& h : all) {
            if (h.second == nullptr) continue;
            if (first == nullptr) {
                first = &h;
            } else if (!first->second->layout().same_range(h.second->layout())) {
                throw_invalid_argument("canarygate::gate '" + gate_name + "': histogram '" +
                                       std::string(series_name) + "' has another range in the " +
                                       h.first + " (" + h.second->layout().describe() +
                                       ") than in the " + first->first + " (" +
                                       first->second->layout().describe() + ")");
            }
        }
    }

    /// Copies of both at the coarser of their scales, when both hold values.
    [[nodiscard]] std::optional<aligned_pair> aligned() const {
        if (!candidate || !baseline || candidate->empty() || baseline->empty()) return std::nullopt;
        aligned_pair p{*candidate, *baseline};
        align_scales(p.candidate, p.baseline);
        return p;
    }
};

/// The quantile gates' point estimate and anytime-valid interval of the
/// ratio of quantiles, from both arms' cumulative histograms.
inline void quantile_estimate(double quantile, const cumulative_histograms& histograms,
                              double alpha_pass, const gate_tuning& tuning, gate_evidence& ev) {
    const auto p = histograms.aligned();
    if (!p) return;
    const exp_histogram& c = p->candidate;
    const exp_histogram& b = p->baseline;
    ev.candidate_samples = c.count();
    ev.baseline_samples = b.count();
    const double qc = c.quantile(quantile).value;
    const double qb = b.quantile(quantile).value;
    if (qb > 0) ev.estimate = qc / qb;
    const stats::quantile_confidence_sequence cs_c(quantile, alpha_pass, tuning.candidate_n_opt);
    const stats::quantile_confidence_sequence cs_b(quantile, alpha_pass, tuning.baseline_n_opt);
    const auto rc = cs_c.ranks(c.count());
    const auto rb = cs_b.ranks(b.count());
    constexpr double inf = std::numeric_limits<double>::infinity();
    const double c_upper = rc.upper <= c.count() ? c.interval_at_rank(rc.upper).second : inf;
    const double c_lower = rc.lower >= 1 ? c.interval_at_rank(rc.lower).first : 0.0;
    const double b_upper = rb.upper <= b.count() ? b.interval_at_rank(rb.upper).second : inf;
    const double b_lower = rb.lower >= 1 ? b.interval_at_rank(rb.lower).first : 0.0;
    ev.interval_computed = true;
    ev.upper = b_lower > 0 ? c_upper / b_lower : inf;
    ev.lower = std::isfinite(b_upper) && b_upper > 0 ? c_lower / b_upper : 0.0;
}

/// The quantile gates' fixed-sample reference: distribution-free
/// order-statistic intervals for both arms' quantiles at alpha_pass / 2 each
/// (so both hold together with probability >= 1 - alpha_pass), read off the
/// histograms outward to bucket edges, divided crosswise.
inline void quantile_fixed_reference(double quantile, const cumulative_histograms& histograms,
                                     double alpha_pass, gate_evidence& ev) {
    const auto p = histograms.aligned();
    if (!p) return;
    const exp_histogram& c = p->candidate;
    const exp_histogram& b = p->baseline;
    constexpr double inf = std::numeric_limits<double>::infinity();
    const auto rc = stats::quantile_order_statistic_ranks(c.count(), quantile, alpha_pass / 2);
    const auto rb = stats::quantile_order_statistic_ranks(b.count(), quantile, alpha_pass / 2);
    const double c_lower = rc.lower >= 1 ? c.interval_at_rank(rc.lower).first : 0.0;
    const double c_upper = rc.upper <= c.count() ? c.interval_at_rank(rc.upper).second : inf;
    const double b_lower = rb.lower >= 1 ? b.interval_at_rank(rb.lower).first : 0.0;
    const double b_upper = rb.upper <= b.count() ? b.interval_at_rank(rb.upper).second : inf;
    ev.fixed_lower = std::isfinite(b_upper) && b_upper > 0 ? c_lower / b_upper : 0.0;
    ev.fixed_upper = b_lower > 0 ? c_upper / b_lower : inf;
    ev.fixed_method = "order-statistic";
}

}  // namespace detail
CANARYGATE_NAMESPACE_END
