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
    """Bug 1: softplus and swish round ``z = beta * x`` to the dtype before exp, so where
    the product is inexact the result carries a relative error up to |z| * eps / 2,
    i.e. ~|z| / 2 ulp (the exact value is the contract, API.md).  Region: product
    inexact and |z| > 2 (below that the extra error is < 1 ulp)."""
    if name not in ("softplus", "swish"):
        return np.zeros(x.shape, bool)
    beta = p["beta"]
    z = np.abs(x.astype(np.float64) * beta)
    big = z > 2.0
    mask = np.zeros(x.shape, bool)
    if big.any():
        mask[big] = _product_inexact(x[big], beta, p["dtype"])
    return mask


def swish_subnormal_sigmoid_region(name, p, x):
    """Bug 2: swish forms s = sigmoid(beta * x) first; where s is subnormal it keeps
    only a few bits, and x * s (and the derivative s * (1 + z * (1 - s))) multiplies
    that absolute error by |x| (up to ~104 in float32, ~745 in float64): tens to
    hundreds of ulps, where the contract asks for a few ulps also for subnormal
    results.  Region: s below the smallest normal of the dtype, |beta x| > 8 (the
    amplification exceeds the bound only there)."""
    if name != "swish":
        return np.zeros(x.shape, bool)
    tiny = float(np.finfo(p["dtype"]).tiny)
    z = x.astype(np.float64) * p["beta"]
    return (z < np.log(tiny)) & (np.abs(x.astype(np.float64)) > 8.0)


REGIONS = (scaled_argument_region, swish_subnormal_sigmoid_region)


def known_issue_mask(name, p, x):
    mask = np.zeros(x.shape, bool)
    with np.errstate(over="ignore", invalid="ignore"):  # beta * x may overflow: fine
        for region in REGIONS:
            mask |= region(name, p, x)
    return mask
