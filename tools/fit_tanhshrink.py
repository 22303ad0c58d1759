"""Coefficients of tanhshrink(x) = x - tanh(x) = x^3 * P(x^2) for |x| <= 1.

x - tanh(x) cancels for small |x| (to x^3/3), so _formulas.pxd evaluates this
polynomial there and x - tanh(x) only above 1, where the cancellation costs at most
a factor 1/(1 - tanh(1)) = 4.2.  float64's P is the Chebyshev interpolant of
(x - tanh x)/x^3 in u = x^2 on [0, 1] (near-minimax), computed with mpmath;
float32's is a minimax fit with its coefficients rounded one at a time (float32_fit);
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


def float32_fit(degree, samples=3000, sweeps=200):
    """Float32 coefficients of degree `degree`, rounded one at a time from the constant
    term up, each time refitting the free ones to the rest: a minimax fit of the
    relative error (Lawson's reweighted least squares, float64, at Chebyshev points of
    [0, 1]).  Degree 7 this way (0.50 ulp, the rounding of 1/3 most of it) replaces the
    Chebyshev interpolant's degree 8 (0.54 ulp), whose degree 7 rounded loses 1.24."""
    import numpy as np
    u = np.array([0.5 - 0.5 * np.cos(np.pi * (k + 0.5) / samples) for k in range(samples)])
    t = np.array([float(target(mp.mpf(v))) for v in u])
    fixed = {}
    for _ in range(degree + 1):
        free = [j for j in range(degree + 1) if j not in fixed]
        rest = t - sum(c * u**j for j, c in fixed.items())
        a = np.stack([u**j / t for j in free], 1)
        b = rest / t
        w = np.ones(samples) / samples
        for _ in range(sweeps):
            sw = np.sqrt(w)
            c = np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)[0]
            w = w * np.abs(a @ c - b)
            w /= w.sum()
        fixed[free[0]] = float(np.float32(c[0]))
    return [mp.mpf(fixed[j]) for j in range(degree + 1)]


if __name__ == "__main__":
    import numpy as np
    f32 = lambda c: mp.mpf(float(np.float32(float(c))))
    coeffs = float32_fit(7)
    err = max_rel_error(coeffs, f32)
    print(f"float32 (act_tanhshrink_poly_f): degree 7, max relative error {float(err):.3e}"
          f" = {float(err / 2.0**-24):.3f} ulp")
    for c in coeffs:
        print(f"    {float(c)!r},")
    for name, degree, rnd, eps in (("float32 Chebyshev", 8, f32, 2.0**-24),
                                   ("float64", 15, lambda c: mp.mpf(float(c)), 2.0**-53)):
        coeffs = chebyshev_fit(degree)
        err = max_rel_error(coeffs, rnd)
        print(f"{name}: degree {degree}, max relative error {float(err):.3e} = {float(err / eps):.3f} ulp")
        for c in coeffs:
            print(f"    {float(c)!r},")
