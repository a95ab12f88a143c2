// SPDX-License-Identifier: MIT
/// \file
/// Brent's root finder ("zero", Brent 1973, ch. 4) in the exact form of R's
/// uniroot (zeroin.c) and of Kayenta's port of it. The rank-shift interval of
/// mann_whitney.hpp must reproduce R's and Kayenta's numbers, and those
/// depend on the iterates: the absolute tolerance (1e-4) is coarse next to
/// data such as error rates, so a different solver (Boost's TOMS 748, say)
/// would stop at a different point inside the same tolerance and miss the
/// published values.
#pragma once

#include <cmath>

#include "canarygate/core/config.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace stats::detail {

/// A zero of f in [lower, upper], given f(lower) and f(upper) of opposite
/// signs (or one of them 0), to within 4 eps |x| + tolerance: each step takes
/// the inverse quadratic (or secant) interpolation when it falls well inside
/// the bracket and shrinks it fast enough, and bisects otherwise. Returns the
/// best iterate after max_iterations steps if it has not converged (R does
/// the same and warns). f is called at most max_iterations times.
template <class F>
[[nodiscard]] double brent_zero(double lower, double upper, double f_lower, double f_upper, F&& f,
                                double tolerance, int max_iterations) {
    constexpr double epsilon = 2.220446049250313e-16;  // DBL_EPSILON, as in R
    if (f_lower == 0.0) return lower;
    if (f_upper == 0.0) return upper;
    // b: the best estimate; a: the previous one; c: the point that keeps the
    // root bracketed between b and c.
    double a = lower, b = upper, c = lower;
    double fa = f_lower, fb = f_upper, fc = f_lower;
    for (int left = max_iterations + 1; left > 0; --left) {
        const double previous_step = b - a;
        if (std::fabs(fc) < std::fabs(fb)) {
            // Make b the point with the smaller |f|.
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        const double tolerance_here = 2 * epsilon * std::fabs(b) + tolerance / 2;
        double step = (c - b) / 2;  // bisection
        if (std::fabs(step) <= tolerance_here || fb == 0.0) return b;
        if (std::fabs(previous_step) >= tolerance_here && std::fabs(fa) > std::fabs(fb)) {
            // Interpolation, as the fraction p / q with the division deferred.
            const double cb = c - b;
            double p = 0;
            double q = 0;
            if (a == c) {
                // Two distinct points: the secant.
                const double t1 = fb / fa;
                p = cb * t1;
                q = 1.0 - t1;
            } else {
                // Three: inverse quadratic interpolation.
                const double qa = fa / fc;
                const double t1 = fb / fc;
                const double t2 = fb / fa;
                p = t2 * (cb * qa * (qa - t1) - (b - a) * (t1 - 1.0));
                q = (qa - 1.0) * (t1 - 1.0) * (t2 - 1.0);
            }
            if (p > 0.0) {
                q = -q;
            } else {
                p = -p;
            }
            // Accept it if b + p/q lies well inside [b, c] and the step is
            // less than half the one before last (else bisection shrinks the
            // bracket faster).
            if (p < 0.75 * cb * q - std::fabs(tolerance_here * q) / 2 &&
                p < std::fabs(previous_step * q / 2)) {
                step = p / q;
            }
        }
        if (std::fabs(step) < tolerance_here) step = step > 0.0 ? tolerance_here : -tolerance_here;
        a = b;
        fa = fb;
        b += step;
        fb = f(b);
        if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) {
            // Keep the root between b and c.
            c = a;
            fc = fa;
        }
    }
    return b;
}

}  // namespace stats::detail
CANARYGATE_NAMESPACE_END
