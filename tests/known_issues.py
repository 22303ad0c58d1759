"""Input regions where the implementation is known to miss the accuracy contract.

The accuracy tests exclude these regions (so that everything else stays guarded) and
``test_known_issues.py`` checks exactly these regions under ``xfail(strict=True)``:
when a bug is fixed its xfail test passes, which fails the run until the xfail and
the exclusion here are removed together.
"""

from __future__ import annotations

import numpy as np

from reference import F32, mp


def _product_inexact(x: np.ndarray, beta: float, dtype) -> np.ndarray:
    """Whether ``beta * x`` is not exactly representable in ``dtype``."""
    x64 = x.astype(np.float64)
    if np.dtype(dtype) == F32:
        z = x64 * beta  # exact in float64 (24 + 24 bits)
        return z.astype(np.float32).astype(np.float64) != z
    out = np.empty(x.shape, bool)
    b = mp.mpf(beta)
    for i, v in enumerate(x64.ravel()):
        out.flat[i] = mp.mpf(float(v)) * b != mp.mpf(float(v * beta))
    return out


def scaled_argument_region(name, p, x):
    """Bug 1: softplus rounds ``z = beta * x`` to the dtype before exp, so where
    the product is inexact the result carries a relative error up to |z| * eps / 2,
    i.e. ~|z| / 2 ulp (the exact value is the contract, API.md).  Region: product
    inexact and |z| > 2 (below that the extra error is < 1 ulp)."""
    if name != "softplus":  # swish had the same bug, fixed on main (fbde3ba)
        return np.zeros(x.shape, bool)
    beta = p["beta"]
    z = np.abs(x.astype(np.float64) * beta)
    big = z > 2.0
    mask = np.zeros(x.shape, bool)
    if big.any():
        mask[big] = _product_inexact(x[big], beta, p["dtype"])
    return mask


def swish_huge_argument_region(name, p, x):
    """Bug 3 (main, fbde3ba): swish with a beta for which beta * x is inexact
    (e.g. 1.702) gives NaN or wrong values for huge |x|: float32
    swish(-1e22, beta=1.702) = NaN and swish_backward at x = +-1e22 NaN; float64
    swish(-1e30, beta=1.702) = -3.1e-275 (exact: -0), NaN from ~|x| > 2.6e40.
    Region: product inexact and |beta x| > 1e6 (float32) / 1e15 (float64)."""
    if name != "swish":
        return np.zeros(x.shape, bool)
    big_at = 1e6 if np.dtype(p["dtype"]) == F32 else 1e15
    z = np.abs(x.astype(np.float64) * p["beta"])
    big = z > big_at
    mask = np.zeros(x.shape, bool)
    if big.any():
        mask[big] = _product_inexact(x[big], p["beta"], p["dtype"])
    return mask


REGIONS = (scaled_argument_region, swish_huge_argument_region)


def known_issue_mask(name, p, x):
    mask = np.zeros(x.shape, bool)
    with np.errstate(over="ignore", invalid="ignore"):  # beta * x may overflow: fine
        for region in REGIONS:
            mask |= region(name, p, x)
    return mask
