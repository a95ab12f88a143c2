#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Reference values for the canarygate::stats tests.

Writes a C++ header to stdout. Regenerate with (from the repository root):

    /usr/bin/python3 tools/stats_reference.py > tests/generated/stats_reference_values.hpp

Needs python3-scipy (Debian 12: scipy 1.10). Every value is computed by a
route independent of the C++ code where one exists:
  - beta-binomial and normal-mixture e-values: numerical integration of the
    mixture (scipy.integrate.quad, scaled in log space), cross-checked here
    against closed forms (60-digit Decimal lgamma, scipy's cephes betainc);
  - sample-ratio mismatch: 60-digit Decimal lgamma;
  - Clopper-Pearson: scipy.stats.beta.ppf; Mann-Whitney:
    scipy.stats.mannwhitneyu(method='asymptotic', use_continuity=...);
  - the DKW radius and the quantile ranks: the constructions documented in
    the headers, re-implemented with scipy's root finders.
"""
import math
import sys
import warnings
from decimal import Decimal, getcontext

import numpy as np
import scipy
from scipy import integrate, optimize, special, stats

getcontext().prec = 60
# quad's round-off warnings are expected at epsrel = 1e-13; every quadrature
# below is checked instead (against a closed form or a second set of breaks).
warnings.simplefilter("ignore", integrate.IntegrationWarning)

# ---------------------------------------------------------------- helpers

_BERNOULLI = [  # B_2k for k = 1..12
    Decimal(1) / 6, Decimal(-1) / 30, Decimal(1) / 42, Decimal(-1) / 30, Decimal(5) / 66,
    Decimal(-691) / 2730, Decimal(7) / 6, Decimal(-3617) / 510, Decimal(43867) / 798,
    Decimal(-174611) / 330, Decimal(854513) / 138, Decimal(-236364091) / 2730,
]
_HALF_LN_2PI = (Decimal(2) * Decimal("3.14159265358979323846264338327950288419716939937510582097494")).ln() / 2


def dlgamma(z):
    """ln Gamma(z) to ~50 digits for z > 0 (Decimal), by Stirling's series."""
    z = Decimal(z)
    shift = Decimal(0)
    while z < 60:
        shift += z.ln()
        z += 1
    s = (z - Decimal("0.5")) * z.ln() - z + _HALF_LN_2PI
    zpow = z
    z2 = z * z
    for k, b in enumerate(_BERNOULLI, start=1):
        s += b / (2 * k * (2 * k - 1) * zpow)
        zpow *= z2
    return s - shift


def dlog_beta_power_ratio(a, b, s, f, x):
    """ln B(a+s, b+f) - s ln x - f ln(1-x) in 60-digit arithmetic."""
    a, b, s, f, x = (Decimal(v) for v in (a, b, s, f, x))
    return (dlgamma(a + s) + dlgamma(b + f) - dlgamma(a + b + s + f)
            - s * x.ln() - f * (1 - x).ln())


def log_quad_positive(logf, lo, hi, centre, scale, alg_beta=None, peak=None, regular=None):
    """ln int_lo^hi exp(logf(p)) dp for a unimodal integrand peaked at
    `centre` with width `scale`, scaled by the peak value. With alg_beta, the
    integrand is exp(regular(p)) (hi - p)^alg_beta and the last piece uses
    quad's algebraic weight."""
    if peak is None:
        peak = logf(centre)
    g = lambda p: math.exp(logf(p) - peak)
    cuts = {lo, hi}
    if lo < centre < hi:
        cuts.add(centre)
    m = 0.5
    while m * scale < (hi - lo):  # geometric breaks: every piece is well resolved
        for sgn in (-1.0, 1.0):
            c = centre + sgn * m * scale
            if lo < c < hi:
                cuts.add(c)
        m *= 2.0
    cuts = sorted(cuts)
    total = 0.0
    for l, h in zip(cuts[:-1], cuts[1:]):
        if alg_beta is not None and h == hi:
            # integrand has the factor (hi - p)^alg_beta; quad's algebraic weight
            gg = lambda p: math.exp(regular(p) - peak)
            val, _ = integrate.quad(gg, l, h, weight="alg", wvar=(0.0, alg_beta),
                                    epsabs=0.0, epsrel=1e-13, limit=400)
        else:
            val, _ = integrate.quad(g, l, h, epsabs=0.0, epsrel=1e-13, limit=400)
        total += val
    return math.log(total) + peak


def log_tail_integral_quad(a, b, s, f, x, widen=1.0):
    """ln int_x^1 p^(a-1) (1-p)^(b-1) (p/x)^s ((1-p)/(1-x))^f dp by quadrature
    over u = p - x, so that ln(p/x) = log1p(u/x) keeps full precision even at
    s = 1e10 (`widen` scales the break points, to check the result does not
    depend on them)."""
    ap, bp = a + s, b + f
    top = 1.0 - x

    def logf(u):
        return ((a - 1) * math.log(x + u) + (b - 1) * math.log(top - u)
                + (s * math.log1p(u / x) if s else 0.0)
                + (f * math.log1p(-u / top) if f else 0.0))

    if bp < 1.0:
        # integrable singularity at p = 1: handled by quad's algebraic weight
        # the regular part exp(logf(u)) / (top - u)^(bp - 1) is monotone
        reg = lambda u: (a - 1) * math.log(x + u) + (s * math.log1p(u / x) if s else 0.0)
        return log_quad_positive(logf, 0.0, top, 0.5 * top, top, alg_beta=bp - 1.0,
                                 peak=max(reg(0.0), reg(top)), regular=reg)
    if ap > 1.0 and bp > 1.0:
        mode = (ap - 1) / (ap + bp - 2)
    else:
        mode = x if ap <= 1.0 else 1.0
    mode = min(max(mode, x), 1.0)
    sd = math.sqrt(max(mode * (1 - mode), 1e-300) / (ap + bp + 1))
    if mode <= x:
        # decreasing on [x, 1]: the scale is 1 / |h'(x)|
        slope = abs((ap - 1) / x - (bp - 1) / (1 - x))
        scale = min(sd, 1.0 / slope) if slope > 0 else sd
        centre = 0.0
    else:
        scale, centre = sd, min(mode - x, top)
    return log_quad_positive(logf, 0.0, top, centre, scale * widen)


def beta_binomial_log_e(s, n, p0, a, b):
    num = log_tail_integral_quad(a, b, float(s), float(n - s), p0)
    den = log_tail_integral_quad(a, b, 0.0, 0.0, p0)
    quad_value = num - den
    # the quadrature must not depend on where the break points are
    num2 = log_tail_integral_quad(a, b, float(s), float(n - s), p0, widen=0.37)
    den2 = log_tail_integral_quad(a, b, 0.0, 0.0, p0, widen=0.37)
    assert abs((num2 - den2) - quad_value) <= 1e-9 * max(1.0, abs(quad_value)), (s, n, p0, quad_value, num2 - den2)
    # cross-check with the closed form where cephes' betainc is reliable: not
    # underflowed, and parameters below 1e7 (at 1e9 cephes is off by 20 %)
    ic = special.betainc(b + (n - s), a + s, 1.0 - p0)  # Ic(a+S, b+F; p0)
    ic0 = special.betainc(b, a, 1.0 - p0)
    if ic > 1e-290 and ic0 > 1e-290 and max(a + s, b + n - s) < 1e7:
        closed = (float(dlog_beta_power_ratio(a, b, s, n - s, p0)) + math.log(ic)
                  - float(dlog_beta_power_ratio(a, b, 0, 0, p0)) - math.log(ic0))
        assert abs(closed - quad_value) <= 1e-8 * max(1.0, abs(closed)), (s, n, p0, closed, quad_value)
    return quad_value


def one_sided_log_mixture_quad(s, v, rho):
    """ln int_0^inf exp(l s - l^2 v / 2) 2 sqrt(rho / 2 pi) exp(-rho l^2 / 2) dl."""
    w = v + rho
    lstar = max(0.0, s / w)
    peak = lstar * s - lstar * lstar * w / 2
    f = lambda l: math.exp(l * s - l * l * w / 2 - peak)
    sd = 1 / math.sqrt(w)
    pieces = [0.0] + [lstar + k * sd for k in (1, 5, 20, 60) if lstar + k * sd > 0]
    if lstar > 0:
        pieces += [max(0.0, lstar - k * sd) for k in (1, 5, 20, 60)] + [lstar]
    pieces = sorted(set(pieces))
    total = sum(integrate.quad(f, l, h, epsabs=0.0, epsrel=1e-13, limit=200)[0]
                for l, h in zip(pieces[:-1], pieces[1:]))
    total += integrate.quad(f, pieces[-1], np.inf, epsabs=0.0, epsrel=1e-13)[0]
    return math.log(total) + peak + math.log(2 * math.sqrt(rho / (2 * math.pi)))


def one_sided_log_mixture_closed(s, v, rho):
    w = v + rho
    return 0.5 * math.log(4 * rho / w) + s * s / (2 * w) + special.log_ndtr(s / math.sqrt(w))


def best_rho(v_opt, alpha, one_sided):
    a = 2 * alpha if one_sided else alpha
    two_l = 2 * math.log(1 / a)
    return v_opt / (two_l + math.log1p(two_l))


def one_sided_boundary(v, rho, alpha):
    thr = math.log(1 / alpha)
    hi = math.sqrt((v + rho) * (math.log1p(v / rho) + 2 * thr)) + 1.0
    return optimize.brentq(lambda s: one_sided_log_mixture_closed(s, v, rho) - thr,
                           0.0, hi, xtol=1e-14, rtol=1e-15, maxiter=500)


def two_sided_boundary(v, rho, alpha):
    return math.sqrt((v + rho) * (math.log1p(v / rho) + 2 * math.log(1 / alpha)))


def quantile_ranks(p, alpha, t_opt, side, t):
    side_alpha = alpha / 2 if side == "both" else alpha
    lower, upper = 0, t + 1
    if side in ("both", "upper"):
        var = p * (1 - p) if p >= 0.5 else 0.25
        u = one_sided_boundary(var * t, best_rho(var * t_opt, side_alpha, True), side_alpha)
        x = t * p + u
        upper = t + 1 if x >= t else math.floor(x) + 1
    if side in ("both", "lower"):
        var = p * (1 - p) if p <= 0.5 else 0.25
        u = one_sided_boundary(var * t, best_rho(var * t_opt, side_alpha, True), side_alpha)
        y = t * p - u
        lower = 0 if y < 0 else math.floor(y) + 1
    return lower, upper


def doob_massart_log_bound(a, n):
    sigma = math.sqrt(n) / 2
    z0 = math.sqrt(n * math.log(2) / 2)
    t1 = 4 * a * (z0 - a) / n
    t2 = (math.log(4 * math.sqrt(2 * math.pi) * a / math.sqrt(n)) - 2 * a * a / n
          + stats.norm.logcdf((a - z0) / sigma))
    return np.logaddexp(t1, t2)


def sequential_dkw_radius(t, alpha):
    k = t.bit_length() - 1
    n = 2.0 ** (k + 1) - 1
    log_alpha_k = math.log(alpha) - math.log(special.zeta(1.4)) - 1.4 * math.log(k + 1)
    z0 = math.sqrt(n * math.log(2) / 2)
    hi = z0 + 10 * math.sqrt(n * (1 - log_alpha_k))
    a = optimize.brentq(lambda a: doob_massart_log_bound(a, n) - log_alpha_k, z0, hi,
                        xtol=1e-13, rtol=1e-15)
    return min(1.0, a / t)


def srm_two(nc, nb, rho, kappa):
    a, b = kappa * rho, kappa * (1 - rho)
    return float(dlog_beta_power_ratio(a, b, nc, nb, rho) - dlog_beta_power_ratio(a, b, 0, 0, rho))


def srm_multi(counts, weights, kappa):
    tot = sum(weights)
    rhos = [Decimal(w) / Decimal(tot) for w in weights]
    kappa = Decimal(kappa)
    n = sum(counts)
    r = dlgamma(kappa) - dlgamma(kappa + n)
    for c, rho in zip(counts, rhos):
        if c:
            r += dlgamma(kappa * rho + c) - dlgamma(kappa * rho) - c * rho.ln()
    return float(r)


def fieller(mn, vn, md, vd, alpha):
    z = stats.norm.isf(alpha / 2)
    a = md * md - z * z * vd
    b = mn * md
    c = mn * mn - z * z * vn
    roots = np.sort(np.roots([a, -2 * b, c]).real)
    kind = "bounded" if a > 0 else ("exclusive" if b * b - a * c > 0 else "unbounded")
    if kind == "unbounded":
        return kind, -math.inf, math.inf
    return kind, float(roots[0]), float(roots[1])


# ---------------------------------------------------------------- output

def fmt(x):
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, (int, np.integer)):
        return f"{int(x)}u"
    if math.isinf(x):
        return ("-" if x < 0 else "") + "std::numeric_limits<double>::infinity()"
    return repr(float(x))


def emit_table(out, type_name, fields, name, rows):
    out.append(f"struct {type_name} {{")
    for ctype, fname in fields:
        out.append(f"    {ctype} {fname};")
    out.append("};")
    out.append(f"inline constexpr {type_name} {name}[] = {{")
    for r in rows:
        out.append("    {" + ", ".join(fmt(v) if not isinstance(v, str) else v for v in r) + "},")
    out.append("};")
    out.append("")


def main():
    out = []
    out.append("// SPDX-License-Identifier: MIT")
    out.append("// GENERATED FILE -- do not edit. Regenerate from the repository root with:")
    out.append("//     /usr/bin/python3 tools/stats_reference.py > tests/generated/stats_reference_values.hpp")
    out.append(f"// (python {sys.version.split()[0]}, scipy {scipy.__version__})")
    out.append("#pragma once")
    out.append("")
    out.append("#include <cstdint>")
    out.append("#include <limits>")
    out.append("")
    out.append("namespace canarygate_test::reference {")
    out.append("")

    # --- beta-binomial
    cases = []
    def dflt(p0, a=0.5):
        return a, a * (1 - p0) / p0
    for (s, n, p0) in [
        (0, 10, 0.01), (1, 10, 0.01), (5, 100, 0.01), (12, 400, 0.01), (30, 1000, 0.01),
        (100, 3000, 0.01), (0, 3000, 0.01), (3000, 3000, 0.01), (10, 10, 0.01),
        (50, 100, 0.5), (100, 100, 0.5), (0, 100, 0.5), (3, 1000, 1e-6), (0, 1000, 1e-6),
        (0, 1_000_000, 0.01), (5000, 1_000_000, 0.01), (9000, 1_000_000, 0.01),
        (10100, 1_000_000, 0.01), (10_000_000, 1_000_000_000, 0.01),
        (10_010_000, 1_000_000_000, 0.01), (9_000_000, 1_000_000_000, 0.01),
        (0, 1_000_000_000, 0.01), (10_000_000_000, 1_000_000_000_000, 0.01),
        (10_000_500_000, 1_000_000_000_000, 0.01),
        (5, 20, 0.999), (20, 20, 0.999), (0, 20, 0.999), (50, 50, 1 - 1e-9),
        (0, 1_000_000, 1e-9), (2, 1_000_000, 1e-9), (7, 100, 0.02), (4, 30, 0.0196078431372549),
    ]:
        a, b = dflt(p0)
        cases.append((s, n, p0, a, b))
    for (s, n, p0, a, b) in [(5, 100, 0.01, 1.0, 1.0), (12, 400, 0.01, 2.0, 30.0),
                             (0, 1_000_000, 0.01, 1.0, 1.0), (40, 60, 0.3, 3.0, 0.7)]:
        cases.append((s, n, p0, a, b))
    rows = []
    for (s, n, p0, a, b) in cases:
        rows.append((s, n, p0, a, b, beta_binomial_log_e(s, n, p0, a, b)))
    emit_table(out, "beta_binomial_case",
               [("std::uint64_t", "successes"), ("std::uint64_t", "trials"), ("double", "p0"),
                ("double", "a"), ("double", "b"), ("double", "log_e")],
               "beta_binomial_cases", rows)

    # --- normal mixture
    rows = []
    for (s, v, rho) in [(0.0, 10.0, 1.0), (3.0, 10.0, 1.0), (-3.0, 10.0, 1.0), (10.0, 100.0, 5.0),
                        (50.0, 100.0, 5.0), (-40.0, 100.0, 5.0), (1e3, 1e5, 2e3), (0.5, 0.0, 0.1),
                        (-200.0, 100.0, 1.0)]:
        q = one_sided_log_mixture_quad(s, v, rho)
        c = one_sided_log_mixture_closed(s, v, rho)
        assert abs(q - c) <= 1e-9 * max(1.0, abs(c)), (s, v, rho, q, c)
        rows.append((s, v, rho, q))
    emit_table(out, "one_sided_mixture_case",
               [("double", "s"), ("double", "v"), ("double", "rho"), ("double", "log_e")],
               "one_sided_mixture_cases", rows)
    rows = []
    for (v, v_opt, alpha) in [(0.0, 100.0, 0.05), (10.0, 100.0, 0.05), (100.0, 100.0, 0.05),
                              (1e4, 100.0, 0.05), (1e6, 1e4, 0.001), (3.0, 1.0, 0.4)]:
        rho1 = best_rho(v_opt, alpha, True)
        rho2 = best_rho(v_opt, alpha, False)
        rows.append((v, v_opt, alpha, rho1, rho2, one_sided_boundary(v, rho1, alpha),
                     two_sided_boundary(v, rho2, alpha)))
    emit_table(out, "mixture_boundary_case",
               [("double", "v"), ("double", "v_opt"), ("double", "alpha"), ("double", "rho_one_sided"),
                ("double", "rho_two_sided"), ("double", "one_sided"), ("double", "two_sided")],
               "mixture_boundary_cases", rows)

    # --- quantile ranks
    rows = []
    for (p, alpha, t_opt, side) in [(0.99, 0.025, 10000.0, "upper"), (0.99, 0.05, 1000.0, "both"),
                                    (0.5, 0.05, 1000.0, "both"), (0.9, 0.01, 100000.0, "both"),
                                    (0.1, 0.05, 500.0, "lower"), (0.95, 0.05, 2000.0, "both")]:
        for t in (1, 10, 50, 100, 1000, 12345, 1_000_000):
            lo, hi = quantile_ranks(p, alpha, t_opt, side, t)
            rows.append((p, alpha, t_opt, "canarygate::stats::quantile_bound_side::" + side, t, lo, hi))
    out.append("}  // namespace canarygate_test::reference")
    out.append('#include "canarygate/stats/quantile_bound.hpp"')
    out.append("namespace canarygate_test::reference {")
    emit_table(out, "quantile_rank_case",
               [("double", "p"), ("double", "alpha"), ("double", "t_opt"),
                ("canarygate::stats::quantile_bound_side", "side"), ("std::uint64_t", "t"),
                ("std::uint64_t", "lower"), ("std::uint64_t", "upper")],
               "quantile_rank_cases", rows)

    # --- DKW
    rows = []
    for alpha in (0.05, 0.01):
        for t in (1, 2, 3, 10, 31, 100, 1000, 1023, 1024, 12345, 1_000_000, 10**12):
            rows.append((t, alpha, sequential_dkw_radius(t, alpha),
                         min(1.0, math.sqrt(math.log(2 / alpha) / (2 * t)))))
    emit_table(out, "dkw_case",
               [("std::uint64_t", "t"), ("double", "alpha"), ("double", "sequential"), ("double", "fixed")],
               "dkw_cases", rows)

    # --- SRM
    rows = []
    for (nc, nb, rho, kappa) in [(0, 1, 0.01, 100.0), (1, 0, 0.01, 100.0), (10, 990, 0.01, 100.0),
                                 (20, 980, 0.01, 100.0), (130, 9870, 0.01, 100.0),
                                 (500, 500, 0.5, 100.0), (600, 400, 0.5, 100.0),
                                 (10_000_000, 990_000_000, 0.01, 100.0),
                                 (10_050_000, 989_950_000, 0.01, 100.0), (5, 5, 0.2, 10.0)]:
        rows.append((nc, nb, rho, kappa, srm_two(nc, nb, rho, kappa)))
    emit_table(out, "srm_two_case",
               [("std::uint64_t", "n_candidate"), ("std::uint64_t", "n_baseline"), ("double", "rho"),
                ("double", "kappa"), ("double", "log_bf")],
               "srm_two_cases", rows)
    rows = []
    for (counts, weights, kappa) in [([10, 990], [1.0, 99.0], 100.0), ([120, 130, 750], [1.0, 1.0, 6.0], 100.0),
                                     ([0, 0, 5], [1.0, 2.0, 3.0], 50.0), ([100, 100, 100, 100], [1.0] * 4, 100.0),
                                     ([1000, 1300, 1000, 1000], [1.0] * 4, 100.0)]:
        k = len(counts)
        padded_c = counts + [0] * (4 - k)
        padded_w = weights + [0.0] * (4 - k)
        rows.append(tuple([k] + padded_c + padded_w + [kappa, srm_multi(counts, weights, kappa)]))
    emit_table(out, "srm_multi_case",
               [("std::uint64_t", "arms"), ("std::uint64_t", "c0"), ("std::uint64_t", "c1"),
                ("std::uint64_t", "c2"), ("std::uint64_t", "c3"), ("double", "w0"), ("double", "w1"),
                ("double", "w2"), ("double", "w3"), ("double", "kappa"), ("double", "log_bf")],
               "srm_multi_cases", rows)

    # --- Clopper-Pearson
    rows = []
    for (k, n, alpha) in [(0, 10, 0.05), (10, 10, 0.05), (3, 10, 0.05), (1, 1000, 0.05),
                          (50, 100, 0.01), (999, 1000, 0.1), (123456, 1000000, 0.05)]:
        lo = 0.0 if k == 0 else stats.beta.ppf(alpha / 2, k, n - k + 1)
        hi = 1.0 if k == n else stats.beta.ppf(1 - alpha / 2, k + 1, n - k)
        rows.append((k, n, alpha, lo, hi))
    emit_table(out, "clopper_pearson_case",
               [("std::uint64_t", "successes"), ("std::uint64_t", "trials"), ("double", "alpha"),
                ("double", "lower"), ("double", "upper")],
               "clopper_pearson_cases", rows)

    # --- Fieller
    rows = []
    for (mn, vn, md, vd, alpha) in [(12.0, 1.0, 10.0, 0.5, 0.05), (1.0, 0.04, 0.3, 0.04, 0.05),
                                    (1.0, 0.04, 0.1, 0.04, 0.05), (-5.0, 2.0, 4.0, 1.0, 0.1),
                                    (0.1, 1.0, 0.1, 1.0, 0.05)]:
        kind, lo, hi = fieller(mn, vn, md, vd, alpha)
        rows.append((mn, vn, md, vd, alpha, "canarygate::stats::fieller_kind::" + kind, lo, hi))
    out.append("}  // namespace canarygate_test::reference")
    out.append('#include "canarygate/stats/fixed_sample.hpp"')
    out.append("namespace canarygate_test::reference {")
    emit_table(out, "fieller_case",
               [("double", "mean_num"), ("double", "var_num"), ("double", "mean_den"), ("double", "var_den"),
                ("double", "alpha"), ("canarygate::stats::fieller_kind", "kind"), ("double", "lower"),
                ("double", "upper")],
               "fieller_cases", rows)

    # --- Mann-Whitney (fixed samples, with ties)
    mw_x = [1.2, 3.4, 3.4, 5.0, 7.7, 2.2, 9.1, 3.4, 6.0, 0.5, 4.4, 4.4]
    mw_y = [2.0, 3.4, 8.8, 10.1, 4.4, 12.0, 6.5, 7.0, 9.9, 3.3, 11.0]
    rng = np.random.default_rng(20240601)
    big_x = list(np.round(rng.lognormal(0.0, 0.6, 60), 1))
    big_y = list(np.round(rng.lognormal(0.2, 0.6, 75), 1))
    out.append(f"inline constexpr double mw_x[] = {{{', '.join(repr(float(v)) for v in mw_x)}}};")
    out.append(f"inline constexpr double mw_y[] = {{{', '.join(repr(float(v)) for v in mw_y)}}};")
    out.append(f"inline constexpr double mw_big_x[] = {{{', '.join(repr(float(v)) for v in big_x)}}};")
    out.append(f"inline constexpr double mw_big_y[] = {{{', '.join(repr(float(v)) for v in big_y)}}};")
    # W exactly at its mean: R applies no continuity correction (sign(0) = 0)
    centre_x, centre_y = [1.0, 4.0], [2.0, 3.0]
    out.append(f"inline constexpr double mw_centre_x[] = {{{', '.join(repr(v) for v in centre_x)}}};")
    out.append(f"inline constexpr double mw_centre_y[] = {{{', '.join(repr(v) for v in centre_y)}}};")
    out.append("")
    rows = []
    for which, (x, y) in (("0", (mw_x, mw_y)), ("1", (big_x, big_y)), ("2", (centre_x, centre_y))):
        for alt in ("two-sided", "less", "greater"):
            for cont in (True, False):
                r = stats.mannwhitneyu(x, y, alternative=alt, method="asymptotic", use_continuity=cont)
                rows.append((int(which), "canarygate::stats::alternative::" + alt.replace("-", "_"),
                             cont, float(r.statistic), float(r.pvalue)))
    emit_table(out, "mann_whitney_case",
               [("std::uint64_t", "sample"), ("canarygate::stats::alternative", "alt"),
                ("bool", "continuity"), ("double", "u"), ("double", "p_value")],
               "mann_whitney_cases", rows)

    # --- z-test
    rows = []
    for (m, se, mu0) in [(1.0, 0.5, 0.0), (-3.0, 1.0, 0.0), (10.0, 2.0, 10.0), (0.0, 0.1, 4.0)]:
        z = (m - mu0) / se
        rows.append((m, se, mu0, z, 2 * stats.norm.sf(abs(z))))
    emit_table(out, "z_test_case",
               [("double", "mean"), ("double", "se"), ("double", "mu0"), ("double", "z"), ("double", "p_value")],
               "z_test_cases", rows)

    out.append("}  // namespace canarygate_test::reference")
    print("\n".join(out))


if __name__ == "__main__":
    main()
