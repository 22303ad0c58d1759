"""Input regions where the implementation was known to miss the accuracy contract.

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


def scaled_argument_region(name, p, x, direction):
    """Bug 1: softplus_backward rounds ``z = beta * x`` to the dtype before exp, so where
    the product is inexact the result carries a relative error up to |z| * eps / 2,
    i.e. ~|z| / 2 ulp (the exact value is the contract, docs/api.md).  Region: product
    inexact and |z| > 2 (below that the extra error is < 1 ulp)."""
    if name != "softplus" or direction != "backward":
        # swish had the same bug, fixed on main (fbde3ba); softplus's forward was
        # fixed on main (dd37c38), its backward (sigmoid(beta * x)) still rounds z
        return np.zeros(x.shape, bool)
    beta = p["beta"]
    z = np.abs(x.astype(np.float64) * beta)
    big = z > 2.0
    mask = np.zeros(x.shape, bool)
    if big.any():
        mask[big] = _product_inexact(x[big], beta, p["dtype"])
    return mask


def _quotient_inexact(x: np.ndarray, alpha: float, dtype) -> np.ndarray:
    """Whether ``x / alpha`` is not exactly representable in ``dtype``."""
    x64 = x.astype(np.float64)
    if np.dtype(dtype) == F32:
        q = (x64 / alpha).astype(np.float32).astype(np.float64)
        return q * alpha != x64  # q * alpha is exact in float64 (24 + 24 bits)
    out = np.empty(x.shape, bool)
    a = mp.mpf(alpha)
    for i, v in enumerate(x64.ravel()):
        out.flat[i] = mp.mpf(float(v / alpha)) * a != mp.mpf(float(v))
    return out


def celu_scaled_argument_region(name, p, x, direction):
    """Bug 4: celu_backward rounds ``z = x / alpha`` to the dtype before exp(z) (as
    softplus, bug 1), so where the quotient is inexact exp(z) carries a relative error
    up to |z| * eps / 2: float32 celu_backward(1, x=-95.34989, alpha=1.3) is 63 ulp
    off, float64 at x = -709 (alpha=1.3) 482 ulp.  Region: x < 0, quotient inexact and
    |z| > 2, backward only (the forward, alpha * expm1(z), is insensitive there)."""
    if name != "celu" or direction != "backward":
        return np.zeros(x.shape, bool)
    alpha = p["alpha"]
    z = x.astype(np.float64) / alpha
    big = (x < 0) & (np.abs(z) > 2.0)
    mask = np.zeros(x.shape, bool)
    if big.any():
        mask[big] = _quotient_inexact(x[big], alpha, p["dtype"])
    return mask


def softplus_subnormal_region(name, p, x, direction):
    """Bug 5 (main 86aa46b, the new softplus log1p): float32 softplus with beta < 1
    whose result is subnormal is up to ~5 subnormal ulps off (or flushed to 0):
    softplus(np.float32(-331.84897), beta=0.3, threshold=5) = 1.86e-43, exact
    1.9356e-43; at x = -343.37344 it gives 0 (exact 6.1e-45).  Region: float32
    forward, beta < 1, exact result below float32's smallest normal."""
    if name != "softplus" or direction != "forward" or np.dtype(p["dtype"]) != F32:
        return np.zeros(x.shape, bool)
    if not 0 < p["beta"] < 1:
        return np.zeros(x.shape, bool)
    with np.errstate(under="ignore", over="ignore"):
        value = np.logaddexp(0.0, p["beta"] * x.astype(np.float64)) / p["beta"]
    return value < float(np.finfo(np.float32).tiny)


#: Regions still excluded from the accuracy grid.  Empty: the three bugs below were
#: fixed (their region functions stay, as the inputs of the regression tests in
#: test_known_issues.py).
REGIONS = ()


def known_issue_mask(name, p, x, direction=None):
    """Where ``direction`` ("forward", "backward"; None: either) is known to be off."""
    mask = np.zeros(x.shape, bool)
    with np.errstate(over="ignore", invalid="ignore"):  # beta * x may overflow: fine
        for region in REGIONS:
            for d in ((direction,) if direction else ("forward", "backward")):
                mask |= region(name, p, x, d)
    return mask

