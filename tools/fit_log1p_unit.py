"""Coefficients of act_log1p_unit in _vmath.h: log1p(e) for 0 <= e <= 1.

With s = e / (2 + e) in [0, 1/3], log1p(e) = 2 atanh(s) = 2s + 2s w M(w), w = s^2 in
[0, 1/9], M(w) = (atanh(sqrt w)/sqrt w - 1)/w = 1/3 + w/5 + w^2/7 + ...  M is the
Chebyshev interpolant on [0, 1/9] (near-minimax), computed with mpmath.  (One
division and a short polynomial: cheaper than the general log1p, which the softplus
family does not need, since its argument exp(-|z|) lies in [0, 1].)

    python tools/fit_log1p_unit.py
"""
import mpmath as mp

import chebfit
import numpy as np

mp.mp.dps = 50
W_MAX = mp.mpf(1) / 9


def target(w):
    if w < mp.mpf("1e-30"):
        return mp.mpf(1) / 3 + w / 5
    r = mp.sqrt(w)
    return (mp.atanh(r) / r - 1) / w


def fit(degree):
    return chebfit.interpolate(target, 0, W_MAX, degree)


def max_rel_error(coeffs, rnd, samples=4000):
    worst = 0
    for k in range(1, samples + 1):
        e = mp.mpf(k) / samples
        s = e / (2 + e)
        w = s * s
        m = mp.mpf(0)
        for c in reversed(coeffs):
            m = m * w + rnd(c)
        worst = max(worst, abs((2 * s + 2 * s * w * m) / mp.log1p(e) - 1))
    return worst


if __name__ == "__main__":
    f32 = lambda c: mp.mpf(float(np.float32(float(c))))
    f64 = lambda c: mp.mpf(float(c))
    for name, rnd, eps, degrees in (("float32", f32, 2.0**-24, (2, 3, 4)),
                                    ("float64", f64, 2.0**-53, (6, 7, 8, 9))):
        for d in degrees:
            c = fit(d)
            print(f"{name} degree {d}: {float(max_rel_error(c, rnd) / eps):.3f} ulp:",
                  ", ".join(repr(float(rnd(v))) for v in c))
