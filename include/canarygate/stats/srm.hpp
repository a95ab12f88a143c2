// SPDX-License-Identifier: MIT
/// \file
/// Sample-ratio mismatch: an anytime-valid Bayes factor that the observed
/// arm counts follow the configured traffic split (Lindon & Malek,
/// "Anytime-valid inference for multinomial count data", NeurIPS 2022: the
/// Dirichlet-multinomial test).
///
/// Under H0 each request goes to arm i with probability rho_i, independently.
/// The Bayes factor of the Dirichlet(kappa rho) mixture against H0,
///
///     BF = [B(kappa rho + N) / B(kappa rho)] / prod_i rho_i^(N_i),
///     B(v) = prod_i Gamma(v_i) / Gamma(sum_i v_i),
///
/// is the mixture over theta ~ Dirichlet(kappa rho) of the likelihood ratios
/// prod_i (theta_i / rho_i)^(N_i), each a non-negative martingale with mean 1
/// under H0; so BF is one too and P_H0(exists t: BF_t >= 1/alpha) <= alpha.
/// Crossing 1/alpha means the comparison is invalid (not a failure of the
/// candidate).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include <boost/math/special_functions/gamma.hpp>

#include "canarygate/core/config.hpp"
#include "canarygate/stats/detail/math.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace stats {

/// Default Dirichlet concentration kappa of srm_log_bayes_factor.
inline constexpr double default_srm_concentration = 100.0;

/// Log Bayes factor of sample-ratio mismatch for two arms:
/// ln BF = ln B(kappa rho_c + N_c, kappa rho_b + N_b) - ln B(kappa rho_c, kappa rho_b)
///         - N_c ln rho_c - N_b ln rho_b,   rho_b = 1 - rho_c
/// (docs/statistics.md, "Sample-ratio mismatch"). Computed without lgamma
/// cancellation (detail::log_beta_power_ratio), finite for all counts;
/// 0 for N_c = N_b = 0.
///
/// Preconditions (std::invalid_argument otherwise): 0 < rho_candidate < 1;
/// kappa > 0 finite.
///
/// Example: \code
/// double log_bf = canarygate::stats::srm_log_bayes_factor(130, 9870, 0.01);
/// bool invalid = log_bf >= std::log(1 / 0.001);
/// \endcode
[[nodiscard]] inline double srm_log_bayes_factor(std::uint64_t n_candidate,
                                                 std::uint64_t n_baseline, double rho_candidate,
                                                 double kappa = default_srm_concentration) {
    constexpr const char* where = "srm_log_bayes_factor";
    detail::require_open_unit(where, "rho_candidate", rho_candidate);
    detail::require_positive_finite(where, "kappa", kappa);
    if (n_candidate == 0 && n_baseline == 0) {
        return 0.0;
    }
    const double a = kappa * rho_candidate;
    const double b = kappa * (1.0 - rho_candidate);
    return detail::log_beta_power_ratio(a, b, detail::to_double(n_candidate),
                                        detail::to_double(n_baseline), rho_candidate) -
           detail::log_beta(a, b);
}

/// Log Bayes factor of sample-ratio mismatch for k >= 2 arms (Dirichlet-
/// multinomial): ln BF = sum_i [lnGamma(a_i + N_i) - lnGamma(a_i) - N_i ln rho_i]
/// - lnGamma(A + N) + lnGamma(A), a_i = kappa rho_i, A = kappa, N = sum N_i.
/// `split` holds the configured weights, normalised here (e.g. {1, 99}).
/// Uses lgamma differences: absolute rounding about 1e-16 N ln N (1e-6 at
/// N = 1e9), negligible against any decision threshold.
///
/// Preconditions (std::invalid_argument otherwise): counts.size() ==
/// split.size() >= 2; every weight finite and > 0; kappa > 0 finite.
[[nodiscard]] inline double srm_log_bayes_factor(std::span<const std::uint64_t> counts,
                                                 std::span<const double> split,
                                                 double kappa = default_srm_concentration) {
    constexpr const char* where = "srm_log_bayes_factor";
    if (counts.size() != split.size() || counts.size() < 2) {
        detail::fail_argument(where, "counts.size()", static_cast<std::uint64_t>(counts.size()),
                              "must equal split.size() and be at least 2");
    }
    detail::require_positive_finite(where, "kappa", kappa);
    double total_weight = 0.0;
    for (const double w : split) {
        detail::require_positive_finite(where, "split weight", w);
        total_weight += w;
    }
    double result = 0.0;
    double n_total = 0.0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        if (counts[i] == 0) {
            continue;
        }
        const double rho = split[i] / total_weight;
        const double a = kappa * rho;
        const double n = detail::to_double(counts[i]);
        result += boost::math::lgamma(a + n) - boost::math::lgamma(a) - n * std::log(rho);
        n_total += n;
    }
    if (n_total == 0.0) {
        return 0.0;
    }
    return result - boost::math::lgamma(kappa + n_total) + boost::math::lgamma(kappa);
}

}  // namespace stats
CANARYGATE_NAMESPACE_END
