"""Backward from the forward output y (docs/api.md: functions marked "x or y").

Two properties:
1. correct as a function of the y given: ``backward(grad, y=y)`` is compared with
   grad * f'(x) written through y (reference ``from_y_*``), evaluated at that very y;
2. consistent with backward from x, within a tolerance scaled by the conditioning:
   y carries the forward's rounding (up to the forward bound, 4 ulp(y)), which moves
   f'(x(y)) by |d f'/dy| * 4 ulp(y).  So where y rounds heavily (sigmoid and tanh
   near saturation, elu/selu for very negative x where y + alpha cancels) the
   y-backward is less accurate than the x-backward, as PyTorch's is;
   ``test_y_backward_loses_accuracy_where_y_rounds`` documents one such case.
"""

from __future__ import annotations

import numpy as np
import pytest

import activations as act
from cases import (NAMES, backward, call_params, case, dtype_params, forward, function_params,
                   grads_like, reference, sweep)
from known_issues import known_issue_mask
from reference import F32, F64, REFERENCES, mp_values, ulp_error, ulp_of

Y_NAMES = [n for n in NAMES if "y" in act.get(n).backward_takes]
X_ONLY_NAMES = [n for n in NAMES if "y" not in act.get(n).backward_takes]


def _y_determines_x(name, params):
    """False where docs/api.md has backward from y raise ValueError (tested below)."""
    if name == "leaky_relu":
        return params.get("negative_slope", 0.01) > 0
    if name in ("elu", "celu"):
        return params.get("alpha", 1.0) > 0
    return True


def y_params():
    return [p for p in function_params()
            if p.values[0] in Y_NAMES and _y_determines_x(*p.values)]


def test_y_names_match_reference_table():
    assert set(Y_NAMES) == {n for n, r in REFERENCES.items() if r.takes_y}


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params", y_params())
def test_backward_from_given_y(name, params, dtype, simd_level):
    ref = reference(name)
    p = ref.effective(params, dtype)
    x = case(name, params, dtype, "forward")[0]
    y = forward(name, x, params)
    y = y[np.isfinite(y)]
    g = grads_like(y, seed=7)
    got = act.get(name).backward(g, y=y, **params)
    if dtype == F32:
        y64 = y.astype(np.float64)
        with np.errstate(over="ignore", under="ignore"):
            hi, lo = g * ref.from_y_np(y64, p), None
    else:
        sub = np.random.default_rng(0).choice(y.size, min(y.size, 1500), replace=False)
        y, g, got = y[sub], g[sub], got[sub]
        hi, lo = mp_values(ref.from_y_mp, y, p, factor=g)
    scale = None
    if ref.from_y_scale_np is not None:
        # selu: y + scale*alpha cancels as y -> -scale*alpha (x -> -inf); the constant
        # itself is rounded to the dtype, so the bound is k ulp of the terms there.
        scale = np.abs(g.astype(np.float64)) * ref.from_y_scale_np(y.astype(np.float64), p)
    err = ulp_error(got, hi, lo, scale)
    bad = err > 6.0
    assert not bad.any(), (
        f"{bad.sum()} bad; worst y={y[np.argmax(err)]!r} got={got[np.argmax(err)]!r} "
        f"ref={hi[np.argmax(err)]!r} err={err.max():.3g} ulp")


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params", y_params())
def test_backward_from_y_consistent_with_x(name, params, dtype):
    ref = reference(name)
    p = ref.effective(params, dtype)
    x = sweep(name, params, dtype, 20_000, 20_000, 10_000, seed=11)
    with np.errstate(over="ignore", invalid="ignore"):
        keep = ~known_issue_mask(name, p, x)  # y itself inaccurate there (known_issues.py)
    if name == "softplus":
        # Inherent, not a bug: just below the threshold, beta * y = log1p(exp(z)) =
        # z + log1p(exp(-z)) can land above it, where the y-side (which cannot know)
        # takes the pass-through derivative 1 instead of sigmoid(z).  Exclude that
        # window, z in (threshold - log1p(exp(-threshold)), threshold] (width
        # ~exp(-threshold): a few ulps of x for threshold 20, 0.7% for 5), with margin.
        with np.errstate(over="ignore", invalid="ignore"):
            z = x.astype(np.float64) * p["beta"]
        thr = p["threshold"]
        margin = 1e-6 * max(1.0, abs(thr))
        keep &= ~((z <= thr + margin) & (z + np.log1p(np.exp(-np.abs(z))) > thr - margin))
    if name == "hard_sigmoid":
        # Inherent, as softplus: (x + 3) / 6 rounds to 1 for x within an ulp below 3
        # (float64 x = 2.9999999999999996), where the y-side (y = 1: saturated) takes
        # the derivative 0 and the x-side 1/6.  Exclude [3 - 2 ulp(3), 3).
        below = np.nextafter(np.nextafter(np.dtype(dtype).type(3), 0), 0)
        keep &= ~((x >= below) & (x < 3))
    x = x[keep]
    g = grads_like(x, seed=5)
    y = forward(name, x, params)
    from_x = backward(name, g, x, params)
    from_y = act.get(name).backward(g, y=y, **params)
    y64 = y.astype(np.float64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        exact = g * ref.derivative_np(x.astype(np.float64), p)
        dy = 4.0 * ulp_of(y64, dtype)  # the forward's rounding of y (its bound)
        # the largest |d f'/dy| over [y - dy, y + dy]
        slope = np.maximum.reduce([np.abs(ref.from_y_slope_np(v, p))
                                   for v in (y64 - dy, y64, y64 + dy)])
        tol = 6.0 * ulp_of(exact, dtype) + np.abs(g.astype(np.float64)) * slope * dy
        diff = np.abs(from_y.astype(np.float64) - from_x.astype(np.float64))
    ok = (diff <= tol) | (from_x == from_y) | (np.isnan(from_x) & np.isnan(from_y))
    i = int(np.argmax(np.where(ok, 0, diff / np.where(tol > 0, tol, 1))))
    assert ok.all(), (f"{(~ok).sum()} inconsistent; e.g. x={x[i]!r} y={y[i]!r} "
                      f"from_x={from_x[i]!r} from_y={from_y[i]!r} tol={tol[i]!r}")


@pytest.mark.parametrize("dtype", dtype_params())
def test_y_backward_loses_accuracy_where_y_rounds(dtype):
    # sigmoid(40) rounds to 1 in either dtype, so y * (1 - y) = 0, whereas the exact
    # derivative (and the x-backward) is exp(-40) = 4.2e-18.  PyTorch's
    # sigmoid_backward(grad, output) behaves the same; the conditioning term
    # |1 - 2y| * ulp(y) of the consistency test covers it.
    x = np.array([40.0], dtype)
    y = act.sigmoid(x)
    assert y[0] == 1.0
    g = np.ones_like(x)
    assert act.sigmoid_backward(g, y=y)[0] == 0.0
    assert act.sigmoid_backward(g, x)[0] == pytest.approx(np.exp(-40.0), rel=1e-6)


# ------------------------------------------------------------------ argument rules

@pytest.mark.parametrize("name", X_ONLY_NAMES)
def test_x_only_functions_refuse_y(name):
    x = np.linspace(-2, 2, 7)
    g = np.ones_like(x)
    out = np.full_like(x, 7.0)
    with pytest.raises(TypeError):
        act.get(name).backward(g, y=x, out=out, **call_params(name))
    assert (out == 7.0).all()


@pytest.mark.parametrize("name", NAMES)
def test_both_x_and_y_raise(name):
    x = np.linspace(-2, 2, 7)
    g = np.ones_like(x)
    out = np.full_like(x, 7.0)
    with pytest.raises(TypeError):
        act.get(name).backward(g, x, y=x, out=out, **call_params(name))
    with pytest.raises(TypeError):
        act.get(name).backward(g, x=x, y=x, out=out, **call_params(name))
    assert (out == 7.0).all()


@pytest.mark.parametrize("name", NAMES)
def test_neither_x_nor_y_raises(name):
    g = np.ones(5)
    out = np.full_like(g, 7.0)
    with pytest.raises(TypeError):
        act.get(name).backward(g, out=out, **call_params(name))
    assert (out == 7.0).all()


@pytest.mark.parametrize("name, params", [
    pytest.param("leaky_relu", {"negative_slope": 0.0}, id="leaky_relu-slope0"),
    pytest.param("leaky_relu", {"negative_slope": -0.2}, id="leaky_relu-slope-0.2"),
    pytest.param("elu", {"alpha": 0.0}, id="elu-alpha0"),
    pytest.param("elu", {"alpha": -1.0}, id="elu-alpha-1"),
    pytest.param("celu", {"alpha": -1.0}, id="celu-alpha-1"),  # (alpha = 0 raises anyway)
    pytest.param("celu", {"alpha": -2.5}, id="celu-alpha-2.5"),
])
def test_backward_from_y_refused_when_y_does_not_determine_x(name, params):
    x = np.linspace(-2, 2, 9)
    g = np.ones_like(x)
    y = forward(name, x, params)
    out = np.full_like(x, 7.0)
    with pytest.raises(ValueError):
        act.get(name).backward(g, y=y, out=out, **params)
    assert (out == 7.0).all()
    # from x it is fine
    res = act.get(name).backward(g, x, **params)
    p = reference(name).effective(params, x.dtype)
    np.testing.assert_allclose(res, g * reference(name).derivative_np(x, p), rtol=4e-16)


def test_x_positional_or_keyword():
    x = np.linspace(-3, 3, 11)
    g = np.linspace(1, 2, 11)
    a = act.tanh_backward(g, x)
    b = act.tanh_backward(g, x=x)
    c = act.tanh_backward(grad=g, x=x)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
