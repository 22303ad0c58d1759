"""PyTorch as an extra reference (skipped when torch is not installed).

Forward against ``torch.nn.functional`` and backward against autograd, float32 and
float64, on ranges where PyTorch is itself accurate (docs/api.md: where PyTorch is inexact
or gives NaN at +-inf, the exact value wins, and tests/reference.py rules); plus the
conventions PyTorch fixes: derivatives at kinks and the sign of zero.
"""

from __future__ import annotations

import numpy as np
import pytest

import activations as act
from activations._spec import SPECS as _SPEC_ROWS
from cases import NAMES, dtype_params, function_params, reference
from reference import REQUIRED_PARAMS, ulp_error, ulp_of

torch = pytest.importorskip("torch")
F = torch.nn.functional
SPECS = {spec.name: spec for spec in _SPEC_ROWS}


def torch_fn(name, params):
    """The PyTorch function ``name`` matches: its row's ``torch`` expression
    (activations/_spec.py) over ``params``, with the row's defaults for the rest."""
    spec = SPECS[name]
    values = {**spec.params, **REQUIRED_PARAMS.get(name, {}), **params}
    return eval(f"lambda x: {spec.torch}", {"torch": torch, "F": F, **values})


def torch_float32_constant_error(name, params, dtype, g):
    """PyTorch 2.13's float64 hardsigmoid backward multiplies by 1/6 rounded to float32
    (0.16666667163372040), and its float64 celu backward uses 1/alpha rounded to
    float32 (celu'(0) = 1.00000004 for alpha = 1.3): a relative error ~2**-25 of its
    own in those cases (ours are exact: test_accuracy.py)."""
    if np.dtype(dtype) == np.float64 and (
            name == "hard_sigmoid"
            or (name == "celu" and float(np.float32(1 / params.get("alpha", 1.0)))
                != 1 / params.get("alpha", 1.0))):
        return 2.0 ** -23 * np.abs(g.astype(np.float64))
    return 0.0


def _torch_values(name, params, x, g):
    t = torch.tensor(x, requires_grad=True)
    y = torch_fn(name, params)(t)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("name", [spec.name for spec in _SPEC_ROWS])
def test_torch_expression_of_every_row(name):
    """Each row's ``torch`` expression is the function (float64, default parameters;
    prelu with a weight per channel along axis 1)."""
    x = np.random.default_rng(5).uniform(-4, 4, (3, 4, 6))
    params, call = {}, {}
    if name == "prelu":
        weight = np.array([0.25, -0.5, 1.5, 0.0])
        params, call = {"weight": torch.tensor(weight)}, {"weight": weight}
    want = torch_fn(name, params)(torch.tensor(x)).numpy()
    got = act.get(name).forward(x, **REQUIRED_PARAMS.get(name, {}), **call)
    # the expression, not its accuracy (test_matches_torch bounds that in ULPs)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-10,
                               err_msg=f"{name}: check its torch= in _spec.py")


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params", function_params())
def test_matches_torch(name, params, dtype):
    rng = np.random.default_rng(0)
    # moderate range: PyTorch's forward formulas are accurate here (no x * beta
    # rounding amplified by exp at large |beta x|, no subnormal intermediates)
    x = np.concatenate([rng.uniform(-8, 8, 20000), np.linspace(-3.5, 3.5, 1001)]).astype(dtype)
    g = rng.uniform(0.5, 2.0, x.size).astype(dtype)
    ty, tg = _torch_values(name, params, x, g)
    y = act.get(name).forward(x, **params)
    gx = act.get(name).backward(g, x, **params)
    fwd_bound = 8.0
    if name in ("swish", "softplus") and params.get("beta", 1.0) != 1.0:
        # PyTorch's t * sigmoid(b * t) and log1p(exp(b * t)) / b round b * t: ~|b x| / 2
        # ulp of their own (ours are exact: test_accuracy.py)
        fwd_bound += 0.5 * 8.0 * abs(params["beta"])
    fwd_scale = None
    if name in ("gelu", "tanhshrink"):
        # PyTorch's x/2 (1 + erf(x/sqrt2)) (and the tanh form's 1 + tanh(...)) cancel
        # for negative x, and x - tanh(x) near 0: its error is a few eps of |x|, not of
        # the value (ours are exact there: test_accuracy.py)
        fwd_scale = np.abs(x.astype(np.float64))
    assert ulp_error(y, ty.astype(np.float64), scale=fwd_scale).max() <= fwd_bound
    # PyTorch's autograd takes several derivatives from the output (tanh: 1 - y**2,
    # sigmoid: y * (1 - y)), which cancel; and swish', hard_swish' have roots.  So
    # agreement is asked to a few eps of the terms (|grad| * max(1, terms)), not in
    # ulps of the value: exactness is test_accuracy.py's job.
    eps = float(np.finfo(dtype).eps)
    ref = reference(name)
    terms = np.ones(x.size)
    if ref.derivative_scale_np is not None:
        terms = np.maximum(1.0, ref.derivative_scale_np(x.astype(np.float64),
                                                         ref.effective(params, dtype)))
    # swish with beta != 1 goes through PyTorch's t * sigmoid(b * t), whose autograd
    # forms 1 - s from s (cancelling where s ~ 1) and rounds b * t: looser there
    k = 32 if (name == "swish" and params.get("beta", 1.0) != 1.0) else 8
    if name == "gelu" and params.get("approximate") == "tanh":
        k = 32  # PyTorch rounds the cubic inner argument in the dtype: ~|x^3| eps of its own
    tol = k * eps * np.abs(g.astype(np.float64)) * terms
    tol = np.maximum(tol, torch_float32_constant_error(name, params, dtype, g))
    if ref.from_y_slope_np is not None:
        # plus the conditioning of a from-output derivative: |d f'/dy| * 2 ulp(y)
        y64 = y.astype(np.float64)
        p = ref.effective(params, dtype)
        tol += (np.abs(g.astype(np.float64)) * np.abs(ref.from_y_slope_np(y64, p))
                * 2 * ulp_of(y64, dtype))
    diff = np.abs(gx.astype(np.float64) - tg.astype(np.float64))
    assert (diff <= tol).all(), (x[np.argmax(diff / tol)], gx[np.argmax(diff / tol)],
                                 tg[np.argmax(diff / tol)])


# where PyTorch fixes a convention: the kinks (added per function) and zero of either sign
KINK_POINTS = [0.0, -0.0, 1e-30, -1e-30]


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params", function_params())
def test_kinks_and_signed_zeros_match_torch(name, params, dtype):
    x = np.array(KINK_POINTS + [float(k) for k in reference(name).kinks(
        reference(name).effective(params, dtype))], dtype)
    g = np.ones_like(x)
    ty, tg = _torch_values(name, params, x, g)
    y = act.get(name).forward(x, **params)
    gx = act.get(name).backward(g, x, **params)
    assert ulp_error(y, ty.astype(np.float64)).max() <= 4.0, (x, y, ty)
    g_tol = torch_float32_constant_error(name, params, dtype, g)
    assert ((ulp_error(gx, tg.astype(np.float64)) <= 4.0)
            | (np.abs(gx - tg) <= g_tol)).all(), (x, gx, tg)
    if name == "elu" and params.get("alpha", 1.0) < 0:
        # not compared: with a negative alpha, PyTorch 2.13 gives elu(+0) = +0 and
        # elu(-0) = -0, we give alpha * expm1(+-0) = -+0 (docs/api.md is silent there)
        return
    zeros = (ty == 0)
    if name == "tanhshrink":
        # not compared: tanhshrink is odd and gives -0 for x <= -0 where the value
        # underflows; PyTorch's x - tanh(x) rounds the difference x - x to +0
        # (test_special_values pins tanhshrink(-0) = -0)
        zeros &= ~np.signbit(x)
    assert (np.signbit(y[zeros]) == np.signbit(ty[zeros])).all(), (x, y, ty)
