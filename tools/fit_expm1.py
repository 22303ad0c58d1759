"""Coefficients of the expm1 kernel polynomial in _vmath.h.

expm1(r) = r + r^2 * P(r) for |r| <= ln2/2 (after Cody-Waite reduction).  P is the
Chebyshev interpolant of (expm1(r) - r) / r^2 on [-ln2/2, ln2/2] (near-minimax),
computed with mpmath; this prints the coefficients and the max relative error of
r + r^2 P(r) with the coefficients rounded to each dtype (and, for float32 degree 4,
that of 1 + r + r^2 P(r) against exp(r)).

    python tools/fit_expm1.py
"""
import mpmath as mp

import chebfit
import numpy as np

mp.mp.dps = 50
HALF_LN2 = mp.log(2) / 2 * (1 + mp.mpf("1e-6"))   # a hair wider than the reduction range


def target(r):
    if abs(r) < mp.mpf("1e-20"):
        return mp.mpf(1) / 2 + r / 6   # the series; the quotient cancels here
    return (mp.expm1(r) - r) / r**2


def fit(degree):
    return chebfit.interpolate(target, -HALF_LN2, HALF_LN2, degree)


def max_rel_error(coeffs, rnd, samples=3000):
    worst = 0
    for k in range(-samples, samples + 1):
        r = HALF_LN2 * k / samples
        if r == 0:
            continue
        p = mp.mpf(0)
        for c in reversed(coeffs):
            p = p * r + rnd(c)
        q = r + r * r * p
        worst = max(worst, abs(q / mp.expm1(r) - 1))
    return worst


def max_exp_error(coeffs, rnd, samples=3000):
    worst = 0
    for k in range(-samples, samples + 1):
        r = HALF_LN2 * k / samples
        p = mp.mpf(0)
        for c in reversed(coeffs):
            p = p * r + rnd(c)
        worst = max(worst, abs((1 + r + r * r * p) / mp.exp(r) - 1))
    return worst


if __name__ == "__main__":
    f32 = lambda c: mp.mpf(float(np.float32(float(c))))
    f64 = lambda c: mp.mpf(float(c))
    # "double for float32": act_exp_for_f32_d, double coefficients, float32 ulps
    for name, rnd, eps, degrees in (("float32", f32, 2.0**-24, (3, 4, 5)),
                                    ("float64", f64, 2.0**-53, (8, 9, 10, 11)),
                                    ("double for float32", f64, 2.0**-24, (4, 5, 6))):
        for d in degrees:
            c = fit(d)
            print(f"{name} degree {d}: max rel error {float(max_rel_error(c, rnd) / eps):.3f} ulp")
            print("   ", ", ".join(repr(float(rnd(v))) for v in c))
    # act_two_exp_2y_f (_vmath.h) takes float32 degree 4 for exp(r) = 1 + q: its error
    # against exp(r), not expm1(r), is what counts there
    c = fit(4)
    print(f"float32 degree 4 as exp: max rel error of 1 + q "
          f"{float(max_exp_error(c, f32) / 2.0**-24):.3f} ulp")
