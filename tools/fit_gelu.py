#!/usr/bin/env python3
"""Coefficients of the normal-tail polynomial in src/activations/_gelu.h (reproducible).

The header computes the upper tail of the standard normal distribution,
Q(a) = Phi(-a) = erfc(a / sqrt(2)) / 2 for a = |x| >= 0, as

    Q(a) = exp(-a^2 / 2) * P(t) / (K + a),      t = (K + B*a) / (K + a),

with the Moebius map t of [0, AMAX] onto [1, -1] (Boyd's rational-Chebyshev mapping
of the half line, shifted so that the whole range used is [-1, 1]) and P a polynomial.
The function fitted, P(t) = erfcx(a / sqrt(2)) * (K + a) / 2, is analytic at both
ends (it tends to K/2 at a = 0 and to 1/sqrt(2 pi) * (K+a)/a as a -> oo), so its
Chebyshev coefficients decay geometrically.  K and B are rounded to the dtype first, and
the map is fitted with those rounded values, so the map that the C code evaluates is the
one fitted.

Method: weighted least squares for the relative error on 3*(degree+1) Chebyshev nodes
(mpmath, mp.dps = 40), refined by Lawson iterations towards minimax; then the
coefficients are rounded to the dtype one at a time from the constant term upwards,
refitting the remaining ones after each rounding (so the rounding of the early,
large coefficients is absorbed by the later ones).  The printed error is the max
relative error of P (rounded coefficients, exact arithmetic) over a dense grid.

The float32 functions also need exp(-a^2/2) to ~1e-10 only (their result is rounded to
float32 once): with a^2 + 2 n ln2 = s, |s| <= ln2, exp(-a^2/2) = 2^n exp(-s/2), and
exp(-s/2) is a degree-7 polynomial E(s) fitted here the same way (relative error, Lawson,
greedy rounding).

Usage: python tools/fit_gelu.py [--search]    (prints the C coefficient tables)
"""
import re
import sys

import mpmath as mp
import numpy as np

mp.mp.dps = 40

# dtype -> (a_max: beyond it Q(a)*a and its derivative underflow to 0 even for the
#           gradient, rounded to the dtype; K; degree)
CONFIG = {
    "f": dict(amax=15.0, K=3.0, deg=10),
    "d": dict(amax=39.0, K=4.0, deg=22),
}


def rnd(v, dt):
    """Every constant is a double: the float32 functions evaluate in double (one
    rounding to float32 at the end), so "f" only sets a looser accuracy target."""
    return float(v)


def target(a):
    """erfcx(a/sqrt2)/2 = exp(a^2/2) Q(a)"""
    z = a / mp.sqrt(2)
    return mp.exp(z * z) * mp.erfc(z) / 2


def mapping(dt, K, amax):
    K = rnd(K, dt)
    B = rnd(-(2 * mp.mpf(K) + amax) / amax, dt)
    return K, B


def a_of_t(t, K, B):
    return K * (1 - t) / (t - B)


def g_of_t(t, K, B):
    a = a_of_t(t, K, B)
    return target(a) * (K + a)


def fit(dt, K, B, deg, fixed=(), nodes=None, gvals=None, lawson=30):
    """Relative least squares (with Lawson reweighting) for the coefficients not in
    `fixed` (a tuple of the first len(fixed) coefficients, already rounded)."""
    m = len(nodes)
    nf = len(fixed)
    w = [mp.mpf(1)] * m
    best = None
    for _ in range(max(1, lawson)):
        A = mp.matrix(m, deg + 1 - nf)
        y = mp.matrix(m, 1)
        for i, (t, gv) in enumerate(zip(nodes, gvals)):
            s = mp.sqrt(w[i]) / gv
            fixed_part = sum(c * t**j for j, c in enumerate(fixed))
            y[i] = (gv - fixed_part) * s
            for j in range(nf, deg + 1):
                A[i, j - nf] = t**j * s
        c, _ = mp.qr_solve(A, y)
        coeffs = list(fixed) + [c[j] for j in range(deg + 1 - nf)]
        err = [abs(mp.polyval(coeffs[::-1], t) / gv - 1) for t, gv in zip(nodes, gvals)]
        emax = max(err)
        if best is None or emax < best[1]:
            best = (coeffs, emax)
        tot = sum(wi * ei for wi, ei in zip(w, err))
        w = [wi * ei / tot for wi, ei in zip(w, err)]
        w = [wi if wi > 0 else mp.mpf(1e-30) for wi in w]
    return best[0]


def build(dt, K, amax, deg, lawson=30):
    K, B = mapping(dt, K, amax)
    m = 3 * (deg + 1)
    nodes = [mp.cos(mp.pi * (i + mp.mpf(0.5)) / m) for i in range(m)]
    nodes = [mp.mpf(1), mp.mpf(-1)] + nodes
    gvals = [g_of_t(t, K, B) for t in nodes]
    coeffs = fit(dt, K, B, deg, (), nodes, gvals, lawson)
    fixed = []
    for j in range(deg + 1):
        fixed.append(mp.mpf(rnd(coeffs[j], dt)))
        if j < deg:
            coeffs = fit(dt, K, B, deg, tuple(fixed), nodes, gvals, lawson=8)
    return K, B, [float(c) for c in fixed]


#: the float32 exp polynomial: exp(-s/2) on |s| <= EXP_HALF_S (ln 2, plus the slack of
#: a reduction whose n is rounded from a double product)
EXP_HALF_DEG = 7
EXP_HALF_S = mp.mpf("0.6932")


def build_exp_half(deg=EXP_HALF_DEG, lawson=30):
    """E(s) ~ exp(-s/2) on [-EXP_HALF_S, EXP_HALF_S], relative error, coefficients
    rounded to double greedily (as build)."""
    m = 6 * (deg + 1)
    nodes = [EXP_HALF_S * mp.cos(mp.pi * (i + mp.mpf(0.5)) / m) for i in range(m)]
    nodes = [EXP_HALF_S, -EXP_HALF_S] + nodes
    gvals = [mp.exp(-s / 2) for s in nodes]
    coeffs = fit("f", None, None, deg, (), nodes, gvals, lawson)
    fixed = []
    for j in range(deg + 1):
        fixed.append(mp.mpf(float(coeffs[j])))
        if j < deg:
            coeffs = fit("f", None, None, deg, tuple(fixed), nodes, gvals, lawson=8)
    return [float(c) for c in fixed]


def max_rel_err_exp_half(coeffs, n=4000):
    cs = [mp.mpf(c) for c in coeffs[::-1]]
    return max(abs(mp.polyval(cs, s) * mp.exp(s / 2) - 1)
               for s in (EXP_HALF_S * mp.mpf(i) / n for i in range(-n, n + 1)))


def emit_exp_half(coeffs, err):
    n = len(coeffs) - 1
    print(f"/* f: exp(-s/2) for |s| <= ln 2, degree {n}, max relative error {float(err):.3g} "
          f"({float(err) / 2.0**-24:.4f} float32 ulp) */")
    for j, c in enumerate(coeffs):
        print(f"#define ACT_GELU_E{j}_F {chex(c, 'f')} /* {c!r} */")
    print("ACT_INLINE double act_gelu_exp_half_f(double s)\n{")
    print(f"    double p = ACT_GELU_E{n}_F;")
    for j in range(n - 1, -1, -1):
        print(f"    p = ACT_FMA_D(p, s, ACT_GELU_E{j}_F);")
    print("    return p;\n}\n")


def max_rel_err(dt, K, B, coeffs, n=3000):
    e = 0
    for i in range(n + 1):
        t = mp.cos(mp.pi * i / n)
        g = g_of_t(t, K, B)
        p = mp.polyval([mp.mpf(c) for c in coeffs[::-1]], t)
        e = max(e, abs(p / g - 1))
    return e


def chex(v, dt):
    h = float(v).hex()
    m = re.match(r"(-?0x1\.)([0-9a-f]*?)0*p(.*)", h)
    h = f"{m.group(1)}{m.group(2) or '0'}p{m.group(3)}" if m else h
    return h


def emit(dt, K, B, coeffs, err):
    eps = 2.0**-24 if dt == "f" else 2.0**-53
    D = "F" if dt == "f" else "D"
    ulpname = "float32 ulp" if dt == "f" else "ulp"
    print(f"/* {dt}: degree {len(coeffs)-1}, max relative error of P {float(err):.3g} "
          f"({float(err)/eps:.4f} {ulpname}) */")
    print(f"#define ACT_GELU_K_{D} {chex(K, dt)}")
    print(f"#define ACT_GELU_B_{D} {chex(B, dt)}")
    for j, c in enumerate(coeffs):
        print(f"#define ACT_GELU_P{j}_{D} {chex(c, dt)} /* {c!r} */")
    n = len(coeffs) - 1
    print(f"ACT_INLINE double act_gelu_poly_{dt}(double t)\n{{")
    if dt == "f":
        # float32: two Horner chains in t^2 (even and odd coefficients), half the
        # dependent steps of one chain for one more multiplication (their sum cancels
        # up to ~3x near t = -1: harmless against the 1e-9 of this P)
        print("    double u = t * t;")
        for name, first in (("even", 0), ("odd", 1)):
            js = list(range(first, n + 1, 2))
            print(f"    double {name} = ACT_GELU_P{js[-1]}_{D};")
            for j in js[-2::-1]:
                print(f"    {name} = ACT_FMA_D({name}, u, ACT_GELU_P{j}_{D});")
        print("    return ACT_FMA_D(odd, t, even);\n}\n")
        return
    # float64: one Horner chain in t (the even/odd split measured 5 ulp in gelu's tail
    # against 4)
    print(f"    double p = ACT_GELU_P{n}_{D};")
    for j in range(n - 1, -1, -1):
        print(f"    p = ACT_FMA_D(p, t, ACT_GELU_P{j}_{D});")
    print("    return p;\n}\n")


def main():
    if "--search" in sys.argv:
        dt = sys.argv[sys.argv.index("--search") + 1]
        degs = [int(v) for v in sys.argv[sys.argv.index("--search") + 2].split(",")]
        Ks = [float(v) for v in sys.argv[sys.argv.index("--search") + 3].split(",")]
        amax = CONFIG[dt]["amax"]
        for deg in degs:
            for K in Ks:
                Kr, B, c = build(dt, K, amax, deg, lawson=10)
                e = max_rel_err(dt, Kr, B, c, n=600)
                eps = 2.0**-24 if dt == "f" else 2.0**-53
                print(f"{dt} deg={deg} K={K}: {float(e):.3g} = {float(e)/eps:.3f} ulp", flush=True)
        return
    for dt, cfg in CONFIG.items():
        K, B, c = build(dt, cfg["K"], cfg["amax"], cfg["deg"])
        emit(dt, K, B, c, max_rel_err(dt, K, B, c))
        if dt == "f":
            e = build_exp_half()
            emit_exp_half(e, max_rel_err_exp_half(e))


if __name__ == "__main__":
    main()
