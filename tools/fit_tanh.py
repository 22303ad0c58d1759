"""Coefficients of the small-|x| branch of tanh in _formulas.pxd.

tanh(x) = x + x^3 P(x^2) for |x| <= 1, P the Chebyshev interpolant of
(tanh(x) - x) / x^3 in u = x^2 on [0, 1] (near-minimax), computed with mpmath.
Above 1, tanh|x| = (1 - t) / (1 + t), t = exp(-2|x|) <= 0.136, has no cancellation.

    python tools/fit_tanh.py
"""
import mpmath as mp

import chebfit
import numpy as np

mp.mp.dps = 60


def target(u):
    if u < mp.mpf("1e-30"):
        return -mp.mpf(1) / 3 + 2 * u / 15
    x = mp.sqrt(u)
    return (mp.tanh(x) - x) / x**3


def fit(degree):
    return chebfit.interpolate(target, 0, 1, degree)


def max_rel_error(coeffs, rnd, samples=4000):
    worst = 0
    for k in range(1, samples + 1):
        u = mp.mpf(k) / samples
        x = mp.sqrt(u)
        p = mp.mpf(0)
        for c in reversed(coeffs):
            p = p * u + rnd(c)
        worst = max(worst, abs((x + x**3 * p) / mp.tanh(x) - 1))
    return worst


if __name__ == "__main__":
    f32 = lambda c: mp.mpf(float(np.float32(float(c))))
    f64 = lambda c: mp.mpf(float(c))
    for name, rnd, eps, degrees in (("float32", f32, 2.0**-24, (5, 6, 7)),
                                    ("float64", f64, 2.0**-53, (12, 13, 14))):
        for d in degrees:
            c = fit(d)
            print(f"{name} degree {d}: {float(max_rel_error(c, rnd) / eps):.3f} ulp:",
                  ", ".join(repr(float(rnd(v))) for v in c))
