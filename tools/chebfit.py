"""The shared fitting step of tools/fit_*.py: Chebyshev interpolation with mpmath.

Interpolating at the n Chebyshev nodes of [lo, hi] gives a polynomial within a small
factor of the minimax one; it is returned in the monomial basis, which the kernels
evaluate by Horner's rule.
"""
import mpmath as mp


def interpolate(target, lo, hi, degree):
    """Monomial coefficients (lowest first) of the degree-`degree` interpolant of
    `target` (an mpmath function) at the Chebyshev nodes of [lo, hi]."""
    n = degree + 1
    lo, hi = mp.mpf(lo), mp.mpf(hi)
    nodes = [(lo + hi) / 2 + (hi - lo) / 2 * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n)
             for k in range(n)]
    A = mp.matrix([[u**j for j in range(n)] for u in nodes])
    return list(mp.lu_solve(A, mp.matrix([target(u) for u in nodes])))
