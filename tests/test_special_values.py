"""Special inputs: signed zeros, infinities, NaN, denormals, exp overflow edges, huge values.

Expected values are written out here (limits at +-inf, PyTorch's sign of zero, exact
values where PyTorch overflows or gives NaN: docs/api.md "Special values").  Zeros are
compared with their sign in the forward; other finite values within 1 ulp of the
value rounded to the dtype.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import activations as act
from cases import (NAMES, backward, dtype_params, forward, function_params, params_id,
                   reference)
from reference import F32, F64, SELU_ALPHA, SELU_SCALE, mp, mp_values, rounded, ulp_error

inf, nan = math.inf, math.nan
LN2 = math.log(2.0)
SA = float(SELU_SCALE * SELU_ALPHA)  # scale * alpha (float64; rounded per dtype below)
SCALE = float(SELU_SCALE)

# (name, params, x, forward, derivative); a value "slope" etc. is rounded per dtype.
# x values are exact in both dtypes.
ROWS = [
    ("sigmoid", {}, 0.0, 0.5, 0.25), ("sigmoid", {}, -0.0, 0.5, 0.25),
    ("sigmoid", {}, inf, 1.0, 0.0), ("sigmoid", {}, -inf, 0.0, 0.0),
    ("sigmoid", {}, 1e4, 1.0, 0.0), ("sigmoid", {}, -1e4, 0.0, 0.0),
    ("tanh", {}, 0.0, 0.0, 1.0), ("tanh", {}, -0.0, -0.0, 1.0),
    ("tanh", {}, inf, 1.0, 0.0), ("tanh", {}, -inf, -1.0, 0.0),
    ("tanh", {}, 1e4, 1.0, 0.0), ("tanh", {}, -1e4, -1.0, 0.0),
    ("relu", {}, 0.0, 0.0, 0.0), ("relu", {}, -0.0, -0.0, 0.0),  # relu'(0) = 0
    ("relu", {}, inf, inf, 1.0), ("relu", {}, -inf, 0.0, 0.0), ("relu", {}, -1.0, 0.0, 0.0),
    ("leaky_relu", {}, 0.0, 0.0, 0.01), ("leaky_relu", {}, -0.0, -0.0, 0.01),
    ("leaky_relu", {}, inf, inf, 1.0), ("leaky_relu", {}, -inf, -inf, 0.01),
    ("leaky_relu", {"negative_slope": 0.0}, -1.0, -0.0, 0.0),
    ("rrelu", {}, 0.0, 0.0, (1 / 8 + 1 / 3) / 2), ("rrelu", {}, -0.0, -0.0, (1 / 8 + 1 / 3) / 2),
    ("rrelu", {}, inf, inf, 1.0), ("rrelu", {}, -inf, -inf, (1 / 8 + 1 / 3) / 2),
    ("elu", {}, 0.0, 0.0, 1.0), ("elu", {}, -0.0, -0.0, 1.0),
    ("elu", {}, inf, inf, 1.0), ("elu", {}, -inf, -1.0, 0.0), ("elu", {}, -1e4, -1.0, 0.0),
    ("elu", {"alpha": 2.5}, 0.0, 0.0, 2.5), ("elu", {"alpha": 2.5}, -0.0, -0.0, 2.5),  # elu'(0) = alpha
    ("elu", {"alpha": 2.5}, -inf, -2.5, 0.0),
    ("selu", {}, 0.0, 0.0, SA), ("selu", {}, -0.0, -0.0, SA),
    ("selu", {}, inf, inf, SCALE), ("selu", {}, -inf, -SA, 0.0), ("selu", {}, -1e4, -SA, 0.0),
    ("softsign", {}, 0.0, 0.0, 1.0), ("softsign", {}, -0.0, -0.0, 1.0),
    ("softsign", {}, inf, 1.0, 0.0), ("softsign", {}, -inf, -1.0, 0.0),
    ("softplus", {}, 0.0, LN2, 0.5), ("softplus", {}, -0.0, LN2, 0.5),
    ("softplus", {}, inf, inf, 1.0), ("softplus", {}, -inf, 0.0, 0.0),
    ("softplus", {}, 1e4, 1e4, 1.0), ("softplus", {}, -1e4, 0.0, 0.0),
    ("softplus", {}, 21.0, 21.0, 1.0),  # beta * x > threshold: x itself, derivative 1
    ("softplus", {"beta": -1.5}, -inf, -inf, 1.0), ("softplus", {"beta": -1.5}, inf, -0.0, 0.0),
    ("swish", {}, 0.0, 0.0, 0.5), ("swish", {}, -0.0, -0.0, 0.5),
    ("swish", {}, inf, inf, 1.0), ("swish", {}, -inf, -0.0, 0.0),  # not NaN (docs/api.md)
    ("swish", {}, 1e4, 1e4, 1.0), ("swish", {}, -1e4, -0.0, 0.0),
    ("hard_swish", {}, 0.0, 0.0, 0.5), ("hard_swish", {}, -0.0, -0.0, 0.5),
    ("hard_swish", {}, inf, inf, 1.0), ("hard_swish", {}, -inf, -0.0, 0.0),
    ("hard_swish", {}, -3.0, -0.0, 0.0), ("hard_swish", {}, 3.0, 3.0, 1.0),  # PyTorch 2.13 kinks
    ("hard_swish", {}, -1e30, -0.0, 0.0), ("hard_swish", {}, 1e30, 1e30, 1.0),
    ("hard_swish", {}, 3e38, 3e38, 1.0),  # PyTorch's x * 6 / 6 overflows in float32
    # the rest of the family -----------------------------------------------------------
    ("relu6", {}, 0.0, 0.0, 0.0), ("relu6", {}, -0.0, -0.0, 0.0),  # relu6'(0) = 0
    ("relu6", {}, 6.0, 6.0, 0.0), ("relu6", {}, 3.0, 3.0, 1.0),    # relu6'(6) = 0
    ("relu6", {}, inf, 6.0, 0.0), ("relu6", {}, -inf, 0.0, 0.0), ("relu6", {}, 1e30, 6.0, 0.0),
    ("hard_sigmoid", {}, 0.0, 0.5, 1 / 6), ("hard_sigmoid", {}, -0.0, 0.5, 1 / 6),
    ("hard_sigmoid", {}, -3.0, 0.0, 0.0), ("hard_sigmoid", {}, 3.0, 1.0, 0.0),  # 0 at +-3
    ("hard_sigmoid", {}, inf, 1.0, 0.0), ("hard_sigmoid", {}, -inf, 0.0, 0.0),
    ("hard_tanh", {}, 0.0, 0.0, 1.0), ("hard_tanh", {}, -0.0, -0.0, 1.0),
    ("hard_tanh", {}, -1.0, -1.0, 0.0), ("hard_tanh", {}, 1.0, 1.0, 0.0),  # 0 at both ends
    ("hard_tanh", {}, inf, 1.0, 0.0), ("hard_tanh", {}, -inf, -1.0, 0.0),
    ("hard_tanh", {"min_val": -2.5, "max_val": 0.75}, -2.5, -2.5, 0.0),
    ("hard_tanh", {"min_val": -2.5, "max_val": 0.75}, 0.75, 0.75, 0.0),
    ("hard_tanh", {"min_val": -2.5, "max_val": 0.75}, inf, 0.75, 0.0),
    ("gelu", {}, 0.0, 0.0, 0.5), ("gelu", {}, -0.0, -0.0, 0.5),
    ("gelu", {}, inf, inf, 1.0), ("gelu", {}, -inf, -0.0, 0.0),  # PyTorch: NaN
    ("gelu", {}, 1e4, 1e4, 1.0), ("gelu", {}, -1e4, -0.0, 0.0), ("gelu", {}, -40.0, -0.0, 0.0),
    ("gelu", {"approximate": "tanh"}, 0.0, 0.0, 0.5), ("gelu", {"approximate": "tanh"}, -0.0, -0.0, 0.5),
    ("gelu", {"approximate": "tanh"}, inf, inf, 1.0), ("gelu", {"approximate": "tanh"}, -inf, -0.0, 0.0),
    ("gelu", {"approximate": "tanh"}, 1e4, 1e4, 1.0), ("gelu", {"approximate": "tanh"}, -1e4, -0.0, 0.0),
    ("mish", {}, 0.0, 0.0, 0.6), ("mish", {}, -0.0, -0.0, 0.6),  # tanh(log 2) = 3/5
    ("mish", {}, inf, inf, 1.0), ("mish", {}, -inf, -0.0, 0.0),  # PyTorch: NaN
    ("mish", {}, 1e4, 1e4, 1.0), ("mish", {}, -1e4, -0.0, 0.0),  # never NaN
    ("celu", {}, 0.0, 0.0, 1.0), ("celu", {}, -0.0, -0.0, 1.0),  # celu'(0) = exp(0 / alpha)
    ("celu", {}, inf, inf, 1.0), ("celu", {}, -inf, -1.0, 0.0), ("celu", {}, -1e4, -1.0, 0.0),
    ("celu", {"alpha": 2.5}, 0.0, 0.0, 1.0), ("celu", {"alpha": 2.5}, -inf, -2.5, 0.0),
    ("log_sigmoid", {}, 0.0, -LN2, 0.5), ("log_sigmoid", {}, -0.0, -LN2, 0.5),
    ("log_sigmoid", {}, inf, 0.0, 0.0), ("log_sigmoid", {}, -inf, -inf, 1.0),
    ("log_sigmoid", {}, 1e4, 0.0, 0.0), ("log_sigmoid", {}, -1e4, -1e4, 1.0),
    # tanhshrink is odd: -0 keeps its sign (PyTorch's x - tanh(x) gives +0 there)
    ("tanhshrink", {}, 0.0, 0.0, 0.0), ("tanhshrink", {}, -0.0, -0.0, 0.0),
    ("tanhshrink", {}, inf, inf, 1.0), ("tanhshrink", {}, -inf, -inf, 1.0),
    ("tanhshrink", {}, 1e4, 9999.0, 1.0), ("tanhshrink", {}, -1e4, -9999.0, 1.0),
    ("softshrink", {}, 0.0, 0.0, 0.0), ("softshrink", {}, -0.0, -0.0, 0.0),
    ("softshrink", {}, 0.5, 0.0, 0.0), ("softshrink", {}, -0.5, -0.0, 0.0),  # closed dead zone
    ("softshrink", {}, 1.0, 0.5, 1.0), ("softshrink", {}, -1.0, -0.5, 1.0),
    ("softshrink", {}, inf, inf, 1.0), ("softshrink", {}, -inf, -inf, 1.0),
    ("hardshrink", {}, 0.0, 0.0, 0.0), ("hardshrink", {}, -0.0, 0.0, 0.0),
    ("hardshrink", {}, 0.5, 0.0, 0.0), ("hardshrink", {}, -0.5, 0.0, 0.0),
    ("hardshrink", {}, 0.75, 0.75, 1.0), ("hardshrink", {}, -0.75, -0.75, 1.0),
    ("hardshrink", {}, inf, inf, 1.0), ("hardshrink", {}, -inf, -inf, 1.0),
    ("threshold", {"threshold": 0.5, "value": -2.0}, 0.5, -2.0, 0.0),  # x <= threshold
    ("threshold", {"threshold": 0.5, "value": -2.0}, 0.75, 0.75, 1.0),
    ("threshold", {"threshold": 0.5, "value": -2.0}, inf, inf, 1.0),
    ("threshold", {"threshold": 0.5, "value": -2.0}, -inf, -2.0, 0.0),
    ("threshold", {"threshold": 0.0, "value": 0.0}, -0.0, 0.0, 0.0),
    ("threshold", {"threshold": -1.0, "value": 1.0}, -inf, 1.0, 0.0),
]

# Formerly a strict xfail (NaN from -inf * 0), fixed on main in dd37c38: the limit of
# 0 * x for x -> -inf, with the sign of 0 * x for negative x (as leaky_relu(-1) above).
ROWS += [
    ("leaky_relu", {"negative_slope": 0.0}, -inf, -0.0, 0.0),
    ("rrelu", {"lower": 0.0, "upper": 0.0}, -inf, -0.0, 0.0),
]


def _row_id(row):
    name, params, x, _, _ = row
    ps = params_id(params)
    return f"{name}[{ps}]({x!r})" if params else f"{name}({x!r})"


def _check(got, expected, dtype, what, sign=True):
    got = got.item()
    if math.isnan(expected):
        assert math.isnan(got), f"{what}: got {got!r}, expected NaN"
    elif expected == 0 or math.isinf(expected) or abs(expected) == 1:
        assert got == expected, f"{what}: got {got!r}, expected {expected!r}"
        if sign and expected == 0:
            assert math.copysign(1, got) == math.copysign(1, expected), (
                f"{what}: got {got!r}, expected {expected!r} (sign of zero)")
    else:
        err = ulp_error(np.array([got], dtype), np.array([expected]))[0]
        assert err <= 1.0, f"{what}: got {got!r}, expected {expected!r} ({err:.3g} ulp)"


def _run_row(row, dtype):
    name, params, x0, fwd, der = row
    x = np.array([x0], dtype)
    assert x[0] == x0 or math.isnan(x0)
    g = np.ones_like(x)
    _check(forward(name, x, params), fwd, dtype, f"{name}({x0!r})")
    # the sign of a zero derivative is not specified
    _check(backward(name, g, x, params), der, dtype, f"{name}'({x0!r})", sign=False)


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("row", ROWS, ids=[_row_id(r) for r in ROWS])
def test_special_value(row, dtype, simd_level):
    if row[2] == 3e38 and dtype == F32:
        row = row[:2] + (float(np.float32(3e38)),) * 2 + row[4:]
    _run_row(row, dtype)


def test_every_function_has_special_rows():
    assert {r[0] for r in ROWS} == set(NAMES)


# ----------------------------------------------------------------------------- NaN

@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params", function_params())
def test_nan_propagates(name, params, dtype, simd_level):
    x = np.array([nan, -nan, 1.0, nan, -2.0, nan, 0.0, nan] * 5, dtype)  # vector body + tail
    isnan = np.isnan(x)
    g = np.full_like(x, 0.75)
    y = forward(name, x, params)
    assert np.array_equal(np.isnan(y), isnan), f"forward: {y}"
    gx = backward(name, g, x, params)
    assert np.array_equal(np.isnan(gx), isnan), f"backward from x: {gx}"
    if "y" in act.get(name).backward_takes:
        ok = not ((name == "leaky_relu" and params.get("negative_slope", 0.01) <= 0)
                  or (name in ("elu", "celu") and params.get("alpha", 1.0) <= 0))
        if ok:
            gy = act.get(name).backward(g, y=y, **params)
            assert np.array_equal(np.isnan(gy), isnan), f"backward from y: {gy}"


# ------------------------------------------------------------ edges and denormals

@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params", function_params())
def test_finite_at_exp_overflow_edges(name, params, dtype):
    # exp overflows past 88.72 (float32) and 709.78 (float64); every function here
    # grows at most linearly, so forward and derivative stay finite (no inf/NaN
    # from an overflowing intermediate)
    edges = [88.0, 89.0, 103.0, 104.0, 709.0, 710.0, 745.0, 746.0, 1e4]
    x = np.array(edges + [-e for e in edges], dtype)
    y = forward(name, x, params)
    gx = backward(name, np.ones_like(x), x, params)
    assert np.isfinite(y).all(), dict(zip(x.tolist(), y.tolist()))
    assert np.isfinite(gx).all(), dict(zip(x.tolist(), gx.tolist()))


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params", function_params())
def test_denormal_inputs(name, params, dtype, simd_level):
    # no flush to zero: against mpmath, with the smallest subnormal as the ulp
    ref = reference(name)
    p = ref.effective(params, dtype)
    info = np.finfo(dtype)
    k = np.array([1, 2, 3, 5, 1000, 2 ** 20], np.float64)
    mags = np.concatenate([k * float(info.smallest_subnormal), [float(info.tiny) / 2]])
    x = np.concatenate([mags, -mags]).astype(dtype)
    fw_hi, fw_lo = mp_values(ref.forward_mp, x, p)
    d_hi, d_lo = mp_values(ref.derivative_mp, x, p)
    y = forward(name, x, params)
    gx = backward(name, np.ones_like(x), x, params)
    # 2 ulp: a product with a rounded constant (selu's scale * alpha is 1.06 ulp off
    # in float64) plus the final rounding
    assert ulp_error(y, fw_hi, fw_lo).max() <= 2.0, (x, y, fw_hi)
    assert ulp_error(gx, d_hi, d_lo).max() <= 2.0, (x, gx, d_hi)
    # odd functions keep the sign (and a nonzero value: no flush)
    if ref.odd:
        assert (np.signbit(y) == np.signbit(x)).all() and (y != 0).all()


def _correctly_rounded(value, dtype):
    """The mpmath ``value`` rounded to nearest in ``dtype``, subnormals included (no
    double rounding through float64: the two neighbours are compared in mpmath)."""
    t = np.dtype(dtype).type
    guess = t(float(value))
    below = np.nextafter(guess, t(-np.inf))
    above = np.nextafter(guess, t(np.inf))
    return min((below, guess, above), key=lambda c: abs(mp.mpf(float(c)) - value))


@pytest.mark.parametrize("dtype, x", [(F64, 725.0), (F64, 735.0), (F32, 100.0), (F32, 95.5)])
def test_log_sigmoid_subnormal_results_correctly_rounded(dtype, x, simd_level):
    # -log1p(exp(-x)) is subnormal here; SciPy's log_expit tests expect the correctly
    # rounded value (log1p(e) = e for a subnormal e must not round e / 2 on the way)
    want = _correctly_rounded(-mp.log1p(mp.exp(-mp.mpf(x))), dtype)
    got = act.log_sigmoid(np.array([x], dtype))[0]
    assert got == want, (x, got, want)
    sp = act.softplus(np.array([-x], dtype))[0]
    assert sp == -want, (x, sp, -want)
