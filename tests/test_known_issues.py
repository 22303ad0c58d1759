"""Suspected implementation bugs, one test each, under xfail(strict=True).

Each test checks the accuracy contract (API.md: "correct to a few ULP", "the exact
value wins", subnormal results not flushed) on exactly the region that
known_issues.py excludes from test_accuracy.py.  (Two more, swish's rounded beta * x
and its subnormal sigmoid, were caught here and fixed on main in fbde3ba; the
accuracy grid now checks swish everywhere.)  A fix makes the test pass, which
strict xfail reports as a failure: then remove the mark here and the region there.
"""

from __future__ import annotations

import numpy as np
import pytest

import activations as act
from cases import backward, forward
from known_issues import scaled_argument_region, swish_huge_argument_region
from reference import F32, F64, REFERENCES, mp_values, ulp_error

BUG_SCALED_ARGUMENT = (
    "softplus rounds z = beta * x to the dtype before exp(z): relative error "
    "~|z| * eps / 2 where the product is inexact (e.g. float32 softplus(-27.36417, "
    "beta=3) is 65 ulp off); the exact value is the contract")
def _region_points(region, name, params, dtype, lo, hi, n=4000, seed=3):
    ref = REFERENCES[name]
    p = ref.effective(params, dtype)
    x = np.random.default_rng(seed).uniform(lo, hi, n).astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        x = x[region(name, p, x)]
    assert x.size > 10, "the sample must hit the region"
    return x, p


def _max_err(name, params, dtype, direction, x, p):
    ref = REFERENCES[name]
    g = np.ones_like(x)
    if dtype == F32:
        x64 = x.astype(np.float64)
        with np.errstate(over="ignore", under="ignore"):
            hi = (ref.forward_np if direction == "forward" else ref.derivative_np)(x64, p)
        lo = None
    else:
        hi, lo = mp_values(ref.forward_mp if direction == "forward" else ref.derivative_mp,
                           x, p)
    got = forward(name, x, params) if direction == "forward" else backward(name, g, x, params)
    return float(ulp_error(got, hi, lo).max())


@pytest.mark.xfail(reason=BUG_SCALED_ARGUMENT, strict=True)
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("name, params, lo, hi", [
    pytest.param("softplus", {"beta": 3.0, "threshold": 10.0}, -34.0, -2.0, id="softplus-beta3"),
    pytest.param("softplus", {"beta": -1.5}, 2.0, 60.0, id="softplus-beta-1.5"),
])
def test_scaled_argument_is_exact(name, params, lo, hi, dtype, direction):
    if dtype == F64:
        lo, hi = lo * 8, hi * 8  # float64: larger |z| before the value underflows
    x, p = _region_points(scaled_argument_region, name, params, dtype, lo, hi, n=600)
    assert _max_err(name, params, dtype, direction, x, p) <= 4.0


@pytest.mark.xfail(reason=BUG_SCALED_ARGUMENT, strict=True)
def test_scaled_argument_minimal_reproducer():
    x = np.array([-27.36417], np.float32)
    got = act.softplus(x, beta=3.0, threshold=10.0)
    # log1p(exp(3 * x)) / 3 with the float32-rounded beta (3 is exact) and exact 3 * x
    exact = np.logaddexp(0.0, 3.0 * x.astype(np.float64)) / 3.0
    assert float(ulp_error(got, exact).max()) <= 4.0, (got, exact)


BUG_SWISH_HUGE = (
    "swish with an inexact beta * x (beta=1.702) is NaN or wrong for huge |x| since "
    "main fbde3ba: float32 act.swish(np.array([-1e22], np.float32), beta=1.702) -> "
    "[nan] (exact -0), swish_backward at +-1e22 -> nan (exact 1 / 0); float64 "
    "swish(-1e30, beta=1.702) -> -3.1e-275 (exact -0)")


@pytest.mark.xfail(reason=BUG_SWISH_HUGE, strict=True)
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_swish_huge_argument(dtype, direction):
    rng = np.random.default_rng(4)
    hi = 38 if dtype == F32 else 300
    mag = 10.0 ** rng.uniform(6, hi, 3000)
    x = (mag * rng.choice([-1.0, 1.0], mag.size)).astype(dtype)
    ref = REFERENCES["swish"]
    p = ref.effective({"beta": 1.702}, dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        x = x[swish_huge_argument_region("swish", p, x)]
    assert x.size > 10
    assert _max_err("swish", {"beta": 1.702}, dtype, direction, x, p) <= 4.0


@pytest.mark.xfail(reason=BUG_SWISH_HUGE, strict=True)
def test_swish_huge_argument_minimal_reproducer():
    y = act.swish(np.array([-1e22], np.float32), beta=1.702)
    assert y[0] == 0.0, y
