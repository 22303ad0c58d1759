"""Coefficients of tanhshrink(x) = x - tanh(x) = x^3 * P(x^2) for |x| <= 1.

x - tanh(x) cancels for small |x| (to x^3/3), so _formulas.pxd evaluates this
polynomial there and x - tanh(x) only above 1, where the cancellation costs at most
a factor 1/(1 - tanh(1)) = 4.2.  P is the Chebyshev interpolant of
(x - tanh x)/x^3 in u = x^2 on [0, 1] (near-minimax), computed with mpmath;
re-run this script to reproduce the constants and their max relative error.

    python tools/fit_tanhshrink.py
"""
import mpmath as mp

import chebfit

mp.mp.dps = 60


def target(u):
    if u == 0:
        return mp.mpf(1) / 3
    x = mp.sqrt(u)
    return (x - mp.tanh(x)) / x**3


def chebyshev_fit(degree, lo=0.0, hi=1.0):
    return chebfit.interpolate(target, lo, hi, degree)


def max_rel_error(coeffs, dtype_round, samples=4000):
    worst = 0
    for k in range(samples + 1):
        u = mp.mpf(k) / samples
        p = mp.mpf(0)
        for c in reversed(coeffs):
            p = p * u + dtype_round(c)
        worst = max(worst, abs(p / target(u) - 1))
    return worst


if __name__ == "__main__":
    import numpy as np
    for name, degree, rnd, eps in (("float32", 8, lambda c: mp.mpf(float(np.float32(float(c)))), 2.0**-24),
                                   ("float64", 15, lambda c: mp.mpf(float(c)), 2.0**-53)):
        coeffs = chebyshev_fit(degree)
        err = max_rel_error(coeffs, rnd)
        print(f"{name}: degree {degree}, max relative error {float(err):.3e} = {float(err / eps):.3f} ulp")
        for c in coeffs:
            print(f"    {float(c)!r},")
