// SPDX-License-Identifier: MIT
/// \file
/// Internal numerics shared by the statistics headers: argument checks with
/// messages that name the bad value, log-space helpers, and a log-space upper
/// incomplete beta function that does not underflow.
#pragma once

#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>

#include <boost/math/special_functions/beta.hpp>
#include <boost/math/special_functions/erf.hpp>
#include <boost/math/special_functions/gamma.hpp>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace stats::detail {

/// Reports a violated precondition: throws std::invalid_argument whose message
/// names the function, the argument and its value (aborts when exceptions are
/// disabled).
[[noreturn]] inline void fail_argument(const char* message) {
    canarygate::detail::throw_invalid_argument(message);
}

[[noreturn]] inline void fail_argument(const char* where, const char* name, double value,
                                       const char* requirement) {
    fail_argument((std::string("canarygate::stats::") + where + ": " + name + " = " +
                   canarygate::detail::to_text(value) + " " + requirement)
                      .c_str());
}

[[noreturn]] inline void fail_argument(const char* where, const char* name, std::uint64_t value,
                                       const char* requirement) {
    fail_argument((std::string("canarygate::stats::") + where + ": " + name + " = " +
                   std::to_string(value) + " " + requirement)
                      .c_str());
}

/// Checks 0 < x < 1 (NaN fails).
inline void require_open_unit(const char* where, const char* name, double x) {
    if (!(x > 0.0 && x < 1.0)) {
        fail_argument(where, name, x, "is outside (0, 1)");
    }
}

/// Checks x > 0 and finite (NaN fails).
inline void require_positive_finite(const char* where, const char* name, double x) {
    if (!(x > 0.0 && x < std::numeric_limits<double>::infinity())) {
        fail_argument(where, name, x, "is not a finite positive number");
    }
}

/// Checks x >= 0 and finite (NaN fails).
inline void require_nonnegative_finite(const char* where, const char* name, double x) {
    if (!(x >= 0.0 && x < std::numeric_limits<double>::infinity())) {
        fail_argument(where, name, x, "is not a finite non-negative number");
    }
}

/// Checks that x is finite (NaN fails).
inline void require_finite(const char* where, const char* name, double x) {
    if (!std::isfinite(x)) {
        fail_argument(where, name, x, "is not finite");
    }
}

/// The exact conversion of a count to double for counts below 2^53 (larger
/// counts are rounded to the nearest double, which is harmless here).
[[nodiscard]] constexpr double to_double(std::uint64_t n) noexcept {
    return static_cast<double>(n);
}

/// ln(sum_i exp(x_i)) without overflow; -inf for an empty span or all -inf.
[[nodiscard]] inline double log_sum_exp(std::span<const double> xs) noexcept {
    double largest = -std::numeric_limits<double>::infinity();
    for (const double x : xs) {
        largest = x > largest ? x : largest;
    }
    if (!(largest > -std::numeric_limits<double>::infinity()) || std::isinf(largest)) {
        return largest;
    }
    double sum = 0.0;
    for (const double x : xs) {
        sum += std::exp(x - largest);
    }
    return largest + std::log(sum);
}

/// ln Phi(z), the log of the standard normal CDF, accurate in both tails.
[[nodiscard]] inline double log_normal_cdf(double z) noexcept {
    constexpr double inv_sqrt2 = 0.70710678118654752440;
    constexpr double half_log_2pi = 0.91893853320467274178;
    if (z > 0.0) {
        // Phi(z) = 1 - erfc(z/sqrt2)/2: log1p keeps the tiny upper tail.
        return std::log1p(-0.5 * boost::math::erfc(z * inv_sqrt2));
    }
    if (z > -30.0) {
        return std::log(0.5 * boost::math::erfc(-z * inv_sqrt2));
    }
    // Laplace's continued fraction for the Mills ratio,
    // Phi(z) = phi(z) / (|z| + 1/(|z| + 2/(|z| + 3/(|z| + ...)))), evaluated
    // backwards; at |z| >= 30 sixty terms are exact to double precision.
    const double w = -z;
    double r = w;
    for (int k = 60; k >= 1; --k) {
        r = w + static_cast<double>(k) / r;
    }
    return -0.5 * z * z - half_log_2pi - std::log(r);
}

/// Lentz's evaluation of the continued fraction of the incomplete beta
/// function (Numerical Recipes, 3rd ed., sec. 6.4):
/// I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * cf(a, b, x). It converges quickly
/// for x < (a+1)/(a+b+2) and, more slowly, for every x in [0, 1).
[[nodiscard]] inline double beta_continued_fraction(double a, double b, double x) noexcept {
    constexpr double tiny = 1e-300;
    constexpr double eps = 1e-16;
    constexpr std::uint64_t max_terms = 2'000'000;
    const double qab = a + b;
    const double qap = a + 1.0;
    const double qam = a - 1.0;
    double c = 1.0;
    double d = 1.0 - qab * x / qap;
    if (std::fabs(d) < tiny) {
        d = tiny;
    }
    d = 1.0 / d;
    double h = d;
    for (std::uint64_t m = 1; m <= max_terms; ++m) {
        const double dm = to_double(m);
        const double m2 = 2.0 * dm;
        double aa = dm * (b - dm) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = std::fabs(d) < tiny ? tiny : d;
        c = 1.0 + aa / c;
        c = std::fabs(c) < tiny ? tiny : c;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + dm) * (qab + dm) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = std::fabs(d) < tiny ? tiny : d;
        c = 1.0 + aa / c;
        c = std::fabs(c) < tiny ? tiny : c;
        d = 1.0 / d;
        const double del = d * c;
        h *= del;
        if (std::fabs(del - 1.0) < eps) {
            break;
        }
    }
    return h;
}

/// ln[ B(a+S, b+F) / (x^S (1-x)^F) ] for a, b > 0, S, F >= 0, 0 < x < 1,
/// without the catastrophic cancellation of an lgamma difference (which
/// loses about |ln B| * 1e-16, i.e. 1e-3 at n = 1e12): when the Beta(a+S, b+F)
/// density f at x is a normal number, ln B(a+S, b+F) = (a+S-1) ln x +
/// (b+F-1) ln(1-x) - ln f(x) and the powers of the data cancel exactly, leaving
/// (a-1) ln x + (b-1) ln(1-x) - ln f(x), where Boost evaluates f with its
/// carefully scaled power terms. When f(x) underflows, x is far from the bulk
/// of Beta(a+S, b+F), the log-likelihood terms dominate and the lgamma
/// rounding is negligible next to them.
[[nodiscard]] inline double log_beta_power_ratio(double a, double b, double s, double f, double x) {
    const double log_x = std::log(x);
    const double log_1mx = std::log1p(-x);
    const double ap = a + s;
    const double bp = b + f;
    const double density = boost::math::ibeta_derivative(ap, bp, x);
    if (density > std::numeric_limits<double>::min() && std::isfinite(density)) {
        return (a - 1.0) * log_x + (b - 1.0) * log_1mx - std::log(density);
    }
    return boost::math::lgamma(ap) + boost::math::lgamma(bp) - boost::math::lgamma(ap + bp) -
           s * log_x - f * log_1mx;
}

/// ln B(a, b) by lgamma.
[[nodiscard]] inline double log_beta(double a, double b) {
    return boost::math::lgamma(a) + boost::math::lgamma(b) - boost::math::lgamma(a + b);
}

/// Below this, boost::math::ibetac is treated as underflowed and the
/// continued fraction is used in log space instead.
inline constexpr double ibetac_underflow = 1e-290;

/// ln[ B(a+S, b+F) * Ic(a+S, b+F; x) / (x^S (1-x)^F) ] for a, b > 0,
/// S, F >= 0, 0 < x < 1, where Ic(a, b; x) = 1 - I_x(a, b).
///
/// This is the log of the integral  int_x^1 p^(a-1) (1-p)^(b-1)
/// (p/x)^S ((1-p)/(1-x))^F dp,  the building block of the truncated
/// beta-binomial mixture, computed without cancellation or underflow:
///  - Ic not underflowed: log_beta_power_ratio + ln Ic;
///  - Ic underflowed (x far in the upper tail of Beta(a', b'), a' = a+S,
///    b' = b+F): by the continued fraction (NR sec. 6.4, applied to
///    Ic(a', b'; x) = I_(1-x)(b', a')),
///    B(a', b') Ic(a', b'; x) = x^a' (1-x)^b' cf(b', a', 1-x) / b', so the
///    powers of the data cancel exactly and the result is
///    a ln x + b ln(1-x) - ln b' + ln cf(b', a', 1-x). Deep in the tail the
///    fraction converges in tens of terms.
[[nodiscard]] inline double log_tail_integral(double a, double b, double s, double f, double x) {
    const double ap = a + s;
    const double bp = b + f;
    const double ic = boost::math::ibetac(ap, bp, x);
    if (ic > ibetac_underflow) {
        return log_beta_power_ratio(a, b, s, f, x) + std::log(ic);
    }
    const double cf = beta_continued_fraction(bp, ap, 1.0 - x);
    return a * std::log(x) + b * std::log1p(-x) - std::log(bp) + std::log(cf);
}

}  // namespace stats::detail
CANARYGATE_NAMESPACE_END
