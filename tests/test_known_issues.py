"""Regression tests for fixed implementation bugs (formerly strict xfails), one each.

Each test checks the accuracy contract (docs/api.md: "correct to a few ULP", "the exact
value wins", subnormal results not flushed) on exactly the region that
known_issues.py excludes from test_accuracy.py.  (Fixed on main and removed from
here: swish's rounded beta * x and its subnormal sigmoid (fbde3ba), swish's NaN for huge
|x| with an inexact beta * x and softplus's forward with an inexact beta * x (dd37c38);
the accuracy grid checks them everywhere now.)  A fix makes the test pass, which
strict xfail reports as a failure: then remove the mark here and the region there.
"""

from __future__ import annotations

import numpy as np
import pytest

import activations as act
from cases import backward, forward
from known_issues import (celu_scaled_argument_region, scaled_argument_region,
                          softplus_subnormal_region)
from reference import F32, F64, REFERENCES, mp_values, ulp_error

BUG_SCALED_ARGUMENT = (
    "softplus_backward rounds z = beta * x to the dtype before sigmoid(z): relative error "
    "~|z| * eps / 2 where the product is inexact (e.g. float32 softplus_backward(1, "
    "-27.36417, beta=3) is 48 ulp off); the exact value is the contract (the forward "
    "was fixed on main in dd37c38)")

def _region_points(region, name, params, dtype, lo, hi, n=4000, seed=3):
    ref = REFERENCES[name]
    p = ref.effective(params, dtype)
    x = np.random.default_rng(seed).uniform(lo, hi, n).astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        x = x[region(name, p, x, "backward")]
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


@pytest.mark.parametrize("direction", ["backward"])
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


def test_scaled_argument_minimal_reproducer():
    x = np.array([-27.36417], np.float32)
    got = act.softplus_backward(np.ones_like(x), x, beta=3.0, threshold=10.0)
    # sigmoid(3 x) with the float32-rounded beta (3 is exact) and exact 3 * x
    exact = 1.0 / (1.0 + np.exp(-3.0 * x.astype(np.float64)))
    assert float(ulp_error(got, exact).max()) <= 6.0, (got, exact)


def test_softplus_forward_scaled_argument_fixed():
    # bug 1's forward half, fixed on main (dd37c38): guarded here with its reproducer
    x = np.array([-27.36417], np.float32)
    got = act.softplus(x, beta=3.0, threshold=10.0)
    exact = np.logaddexp(0.0, 3.0 * x.astype(np.float64)) / 3.0
    assert float(ulp_error(got, exact).max()) <= 4.0, (got, exact)


def test_swish_huge_argument_fixed():
    # formerly bug 3, fixed on main (dd37c38); the accuracy grid covers it as well
    assert act.swish(np.array([-1e22], np.float32), beta=1.702)[0] == 0.0
    assert act.swish(np.array([-1e30]), beta=1.702)[0] == 0.0
    g = act.swish_backward(np.ones(2, np.float32), np.array([1e22, -1e22], np.float32), beta=1.702)
    assert g.tolist() == [1.0, 0.0]


BUG_CELU_SCALED_ARGUMENT = (
    "celu_backward rounds z = x / alpha to the dtype before exp(z): relative error "
    "~|z| * eps / 2 where the quotient is inexact (alpha=1.3: float32 "
    "celu_backward(1, x=-95.34989) is 63 ulp off, float64 at x=-709 482 ulp); the "
    "exact value (of the dtype-rounded alpha) is the contract")


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_celu_scaled_argument_is_exact(dtype):
    lo = -100.0 if dtype == F32 else -740.0
    x, p = _region_points(celu_scaled_argument_region, "celu", {"alpha": 1.3}, dtype,
                          lo, -3.0, n=600)
    assert _max_err("celu", {"alpha": 1.3}, dtype, "backward", x, p) <= 6.0


def test_celu_scaled_argument_minimal_reproducer():
    x = np.array([-95.34989], np.float32)
    got = act.celu_backward(np.ones_like(x), x, alpha=1.3)
    alpha = float(np.float32(1.3))   # the dtype-rounded parameter, x / alpha exact
    exact = np.exp(x.astype(np.float64) / alpha)
    assert float(ulp_error(got, exact).max()) <= 6.0, (got, exact)


BUG_SOFTPLUS_SUBNORMAL = (
    "float32 softplus with beta < 1 whose result is subnormal is up to ~5 subnormal ulps "
    "off or flushed to 0 (since main 86aa46b): act.softplus(np.float32([-331.84897, "
    "-343.37344]), beta=0.3, threshold=5.0) -> [1.86e-43, 0], exact [1.9356e-43, 6.1e-45]")


def test_softplus_subnormal_result():
    params = {"beta": 0.3, "threshold": 5.0}
    p = REFERENCES["softplus"].effective(params, F32)
    x = np.random.default_rng(5).uniform(-345, -290, 4000).astype(np.float32)
    x = x[softplus_subnormal_region("softplus", p, x, "forward")]
    assert x.size > 10
    assert _max_err("softplus", params, F32, "forward", x, p) <= 4.0


def test_softplus_subnormal_minimal_reproducer():
    x = np.array([-331.84897, -343.37344], np.float32)
    got = act.softplus(x, beta=0.3, threshold=5.0)
    beta = float(np.float32(0.3))
    exact = np.logaddexp(0.0, beta * x.astype(np.float64)) / beta
    assert float(ulp_error(got, exact).max()) <= 4.0, (got, exact)
