"""Coefficients of the small-|x| branch of float64 gelu in src/activations/_gelu.h.

Phi(x) = 1/2 + x S(x^2) for |x| <= 1, S the Chebyshev interpolant of
(Phi(sqrt u) - 1/2) / sqrt u on u in [0, 1] (near-minimax; Phi is entire, so a short
polynomial suffices), computed with mpmath.  Near 0 this keeps gelu(x) = x Phi(x)
and gelu'(x) = Phi(x) + x phi(x) within ~1.5 ulp, where the tail-ratio evaluation of
_gelu.h (built for the tails) gathers ~5 ulp of rounding.

    python tools/fit_ndtr_small.py
"""
import mpmath as mp

import chebfit

mp.mp.dps = 50


def target(u):
    if u < mp.mpf("1e-30"):
        return 1 / mp.sqrt(2 * mp.pi) * (1 - u / 6)
    x = mp.sqrt(u)
    return (mp.ncdf(x) - mp.mpf(1) / 2) / x


def fit(degree):
    return chebfit.interpolate(target, 0, 1, degree)


def max_rel_error(coeffs, samples=3000):
    worst = 0
    for k in range(1, samples + 1):
        u = mp.mpf(k) / samples
        p = mp.mpf(0)
        for c in reversed(coeffs):
            p = p * u + mp.mpf(float(c))
        worst = max(worst, abs(p / target(u) - 1))
    return worst


if __name__ == "__main__":
    for d in (10, 11, 12, 13):
        c = fit(d)
        print(f"float64 degree {d}: S relative error {float(max_rel_error(c) / 2.0**-53):.3f} ulp:",
              ", ".join(repr(float(v)) for v in c))
