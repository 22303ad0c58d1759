"""The fused forms (docs/api.md, "Fused forms"): f(x + bias) with its bias gradient, and
softmax(scale * x + mask) for the softmax family.

References are computed here from the unfused expression: x + bias rounded in the
dtype (as NumPy rounds it), then tests/reference.py's float64 / mpmath formulas; the
bias gradient against a float64 ``math.fsum``; the softmax family against mpmath rows
of z = scale * x + mask rounded in the dtype.  Central differences check both
gradients.  Bit-identity with the plain function of the rounded sum checks that the
fused loops evaluate the same formulas.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from numpy.exceptions import AxisError

import activations as act
from activations import _spec
from cases import call_params, dtype_params, grads_like, reference, same_bits
from reference import F32, F64, mp_values, softmax_backward_mp, softmax_forward_mp, ulp_error
from test_accuracy import bound
from test_softmax import BACKWARD_BOUND, FORWARD_BOUND

inf, nan = np.inf, np.nan
KIND = {s.name: s.kind for s in _spec.SPECS}
BIAS_NAMES = tuple(n for n in act.names() if KIND[n] == "elementwise")
OPENMP = bool(act._functions._K.OPENMP)


def bias_names():
    return [pytest.param(n, id=n) for n in BIAS_NAMES]


def _with_bias(x, bias, bias_axis):
    """x + bias (bias along bias_axis, or one value), rounded in the dtype by NumPy."""
    if bias.size == 1 or x.ndim == 0:
        return x + bias.reshape(())
    shape = [1] * x.ndim
    shape[bias_axis] = bias.size
    return x + bias.reshape(shape)


def _data(shape, dtype, seed=0, lo=-6.0, hi=6.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(lo, hi, shape).astype(dtype)


#: (id, x shape, bias_axis, bias length): the last axis (the fast path), a middle and a
#: first axis (runs sharing one bias value), a length-1 bias, 1-D and 0-d x, empty x,
#: columns wider than one tile (2048) and a tail.
LAYOUTS = [
    ("rows", (37, 300), -1, 300),
    ("wide-rows", (5, 4099), 1, 4099),
    ("middle", (3, 7, 129), 1, 7),
    ("first", (6, 5, 3), 0, 6),
    ("scalar-bias", (9, 31), -1, 1),
    ("1d", (1001,), 0, 1001),
    ("0d", (), -1, 1),
    ("empty-rows", (0, 5), -1, 5),
    ("empty-cols", (4, 0), 0, 4),
]


def layout_params():
    return [pytest.param(shape, axis, length, id=lid) for lid, shape, axis, length in LAYOUTS]


# ============================================================ bias: values

@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("shape, bias_axis, length", layout_params())
@pytest.mark.parametrize("name", bias_names())
def test_bias_is_plain_function_of_rounded_sum(name, shape, bias_axis, length, dtype):
    """f(x, bias=b) == f(x + b) bit for bit, and so is the backward from x."""
    fn = act.get(name)
    p = call_params(name)
    x = _data(shape, dtype)
    b = _data((length,), dtype, seed=1, lo=-2, hi=2)
    xb = _with_bias(x, b, bias_axis)
    assert same_bits(fn.forward(x, bias=b, bias_axis=bias_axis, **p), fn.forward(xb, **p))
    g = grads_like(x)
    assert same_bits(fn.backward(g, x, bias=b, bias_axis=bias_axis, **p),
                     fn.backward(g, xb, **p))


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name", bias_names())
def test_bias_accuracy_against_reference(name, dtype):
    """Max ulp error of f(x + b) and grad * f'(x + b) against the float64 / mpmath
    reference evaluated at the dtype-rounded sum, within the function's own bounds."""
    ref = reference(name)
    params = call_params(name)
    p = ref.effective(params, dtype)
    n = 4000 if dtype == F32 else 300
    x = _data((n // 50, 50), dtype, seed=2, lo=-ref.core_range, hi=ref.core_range)
    b = _data((50,), dtype, seed=3, lo=-3, hi=3)
    xb = _with_bias(x, b, -1)
    g = grads_like(x)
    fn = act.get(name)
    y = fn.forward(x, bias=b, **params)
    gx = fn.backward(g, x, bias=b, **params)
    with np.errstate(all="ignore"):
        if dtype == F32:
            x64 = xb.astype(np.float64)
            y_hi, y_lo = ref.forward_np(x64, p), None
            g_hi, g_lo = g.astype(np.float64) * ref.derivative_np(x64, p), None
            scale = (np.abs(g.astype(np.float64)) * ref.derivative_scale_np(x64, p)
                     if ref.derivative_scale_np else None)
        else:
            y_hi, y_lo = mp_values(ref.forward_mp, xb, p)
            g_hi, g_lo = mp_values(ref.derivative_mp, xb, p, factor=g)
            scale = None
            if ref.derivative_scale_mp:
                s_hi, _ = mp_values(ref.derivative_scale_mp, xb, p)
                scale = np.abs(g.astype(np.float64)) * s_hi
    assert ulp_error(y, y_hi, y_lo).max() <= bound(name, "forward", dtype)
    assert ulp_error(gx, g_hi, g_lo, scale).max() <= bound(name, "backward", dtype)


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("shape, bias_axis, length", layout_params() + [
    pytest.param((2000, 70), -1, 70, id="row-groups"),      # partial sums of 3 row groups
    pytest.param((3, 40_000), -1, 40_000, id="col-blocks")])  # 3 groups x 20 column blocks
def test_grad_bias_is_the_sum_of_the_gradient(shape, bias_axis, length, dtype):
    """grad_bias = the returned gradient summed over every axis but bias_axis, within
    one ulp of the exact (math.fsum) sum, plus the float64 rounding of the terms."""
    x = _data(shape, dtype)
    b = _data((length,), dtype, seed=1, lo=-2, hi=2)
    g = grads_like(x)
    gb = np.full(length, nan, dtype)
    gx = act.gelu_backward(g, x, bias=b, bias_axis=bias_axis, grad_bias=gb)
    ax = bias_axis % max(x.ndim, 1)
    terms = (gx.reshape(-1, 1) if length == 1 or x.ndim == 0
             else np.moveaxis(gx, ax, 0).reshape(length, -1).T)
    for c in range(length):
        col = terms[:, c].astype(np.float64)
        exact = math.fsum(col)
        err = abs(float(gb[c]) - exact)
        allowed = float(np.spacing(dtype.type(abs(exact)))) + 1e-15 * float(np.abs(col).sum())
        assert err <= allowed, (c, float(gb[c]), exact)


@pytest.mark.parametrize("dtype", dtype_params())
def test_grad_bias_central_differences(dtype):
    """d/db of L = sum(w * gelu(x + b)) by 4th-order central differences (float64
    arithmetic on a float64 x) against grad_bias from grad = w."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-3, 3, (40, 6))
    b = rng.uniform(-1, 1, 6)
    w = rng.uniform(-1, 1, x.shape)
    gb = np.empty(6)
    act.gelu_backward(w, x, bias=b, grad_bias=gb)

    def loss(bb):
        return float(np.sum(w * act.gelu(x, bias=bb)))
    h = 1e-3
    for c in range(6):
        e = np.zeros(6)
        e[c] = h
        fd = (-loss(b + 2 * e) + 8 * loss(b + e) - 8 * loss(b - e) + loss(b - 2 * e)) / (12 * h)
        assert abs(fd - gb[c]) <= 1e-8 * max(1.0, abs(fd)), (c, fd, gb[c])
    # the dtype under test: the same sums from its own gradient, to its precision
    xd, bd, wd = x.astype(dtype), b.astype(dtype), w.astype(dtype)
    gbd = np.empty(6, dtype)
    gx = act.gelu_backward(wd, xd, bias=bd, grad_bias=gbd)
    np.testing.assert_allclose(gbd, gx.astype(np.float64).sum(0), rtol=1e-6 if dtype == F32 else 1e-13)


@pytest.mark.parametrize("dtype", dtype_params())
def test_bias_special_values(dtype):
    """NaN in the bias makes its column NaN (forward, gradient and grad_bias); +-inf
    sums give the limits; x + b rounds exactly as NumPy's (-0 + 0 = +0)."""
    x = np.array([[0.0, -0.0, 1.0, -2.0, inf, -inf, nan, 3.0]] * 3, dtype)
    b = np.array([nan, 0.0, inf, -inf, 1.0, -1.0, 0.0, -0.0], dtype)
    y = act.sigmoid(x, bias=b)
    ref = np.array([nan, 0.5, 1.0, 0.0, 1.0, 0.0, nan, 1 / (1 + math.exp(-3))])
    assert np.isnan(y[:, 0]).all() and np.isnan(y[:, 6]).all()
    ok = ~np.isnan(ref)
    assert ulp_error(y[:, ok], np.broadcast_to(ref[ok], (3, ok.sum()))).max() <= 4.0
    g = np.ones_like(x)
    gb = np.empty_like(b)
    gx = act.sigmoid_backward(g, x, bias=b, grad_bias=gb)
    assert np.isnan(gx[:, 0]).all() and np.isnan(gb[0]) and np.isnan(gb[6])
    assert gb[2] == 0 and gb[3] == 0 and gb[4] == 0 and gb[5] == 0   # sigmoid'(+-inf) = 0
    assert same_bits(act.relu(x, bias=b)[:, 1], np.zeros(3, dtype))    # -0 + 0 = +0


@pytest.mark.parametrize("dtype", dtype_params())
def test_bias_layouts_and_in_place(dtype):
    """Non-contiguous x and bias, a Fortran-order x, out=x (forward) and out=grad
    (backward) give the same bits as the contiguous, out-of-place call."""
    x = _data((64, 48), dtype)
    b = _data((96,), dtype, seed=1)[::2]         # a strided bias
    g = grads_like(x)
    want = act.swish(x, bias=np.ascontiguousarray(b))
    want_g = np.empty(48, dtype)
    want_gx = act.swish_backward(g, x, bias=np.ascontiguousarray(b), grad_bias=want_g)
    assert same_bits(act.swish(x, bias=b), want)
    assert same_bits(act.swish(np.asfortranarray(x), bias=b), want)
    xt = np.ascontiguousarray(x.T).T            # a transposed view
    assert same_bits(act.swish(xt, bias=b), want)
    xi = x.copy()
    assert act.swish(xi, bias=b, out=xi) is xi and same_bits(xi, want)
    gi, gb = g.copy(), np.empty(48, dtype)
    assert act.swish_backward(gi, x, bias=b, grad_bias=gb, out=gi) is gi
    assert same_bits(gi, want_gx) and same_bits(gb, want_g)
    # the bias itself as out's storage: the result is still f(x + b)
    xb = np.concatenate([x.ravel(), b])
    xv, bv = xb[:x.size].reshape(x.shape), xb[x.size:]
    assert same_bits(act.swish(xv, bias=bv, out=xv), want)


@pytest.mark.parametrize("dtype", dtype_params())
def test_bias_backward_from_y(dtype):
    """From y the bias is not needed (and not used); grad_bias is the sum of the
    gradient, as from x."""
    x = _data((50, 20), dtype, lo=-2, hi=2)      # y well away from 1: 1 - y keeps its digits
    b = _data((20,), dtype, seed=1, lo=-1, hi=1)
    g = grads_like(x)
    y = act.sigmoid(x, bias=b)
    gb_x, gb_y, gb_none = (np.empty(20, dtype) for _ in range(3))
    gx = act.sigmoid_backward(g, x, bias=b, grad_bias=gb_x)
    gy = act.sigmoid_backward(g, y=y, bias=b, grad_bias=gb_y)
    assert same_bits(gy, act.sigmoid_backward(g, y=y))
    assert same_bits(act.sigmoid_backward(g, y=y, grad_bias=gb_none), gy)
    assert same_bits(gb_y, gb_none)
    tol = 1e-5 if dtype == F32 else 1e-13
    np.testing.assert_allclose(gx, gy, rtol=tol, atol=tol)
    np.testing.assert_allclose(gb_x, gb_y, rtol=tol, atol=50 * tol)


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("shape, bias_axis, length", [
    ((300, 1000), -1, 1000), ((40, 3, 2000), 1, 3), ((150_001,), 0, 1), ((3, 60_000), 1, 60_000)])
def test_bias_identical_for_1_2_3_threads(shape, bias_axis, length, dtype, restore_threads):
    x = _data(shape, dtype)
    b = _data((length,), dtype, seed=1, lo=-1, hi=1)
    g = grads_like(x)
    results = []
    for n in (1, 2, 3):
        act.set_num_threads(n)
        gb = np.empty(length, dtype)
        results.append((act.gelu(x, bias=b, bias_axis=bias_axis),
                        act.gelu_backward(g, x, bias=b, bias_axis=bias_axis, grad_bias=gb),
                        act.relu_backward(g, y=act.relu(x), grad_bias=gb.copy(),
                                          bias_axis=bias_axis)
                        if length > 1 else None, gb))
    for other in results[1:]:
        for a, c in zip(results[0], other):
            assert a is None or same_bits(a, c)


# ============================================================ bias: errors

def _errors_setup(dtype=F32):
    x = _data((4, 5), dtype)
    return x, grads_like(x), np.zeros(5, dtype)


@pytest.mark.parametrize("kwargs, exc", [
    (dict(bias=np.zeros(4, np.float32)), ValueError),           # wrong length
    (dict(bias=np.zeros(5, np.float64)), TypeError),            # wrong dtype
    (dict(bias=np.zeros(5, np.int32)), TypeError),
    (dict(bias=np.zeros((1, 5), np.float32)), ValueError),      # wrong rank
    (dict(bias=np.zeros(5, np.float32), bias_axis=2), AxisError),
    (dict(bias=np.zeros(5, np.float32), bias_axis=1.0), TypeError),
], ids=["length", "dtype", "int-dtype", "rank", "axis-range", "axis-type"])
def test_bias_errors_before_writing(kwargs, exc):
    x, g, _ = _errors_setup()
    out = np.full_like(x, 7.0)
    with pytest.raises(exc):
        act.gelu(x, out=out, **kwargs)
    with pytest.raises(exc):
        act.gelu_backward(g, x, out=out, **kwargs)
    assert (out == 7.0).all()


@pytest.mark.parametrize("grad_bias, exc", [
    (np.zeros(4, np.float32), ValueError),
    (np.zeros((5, 1), np.float32), ValueError),
    (np.zeros(5, np.float64), TypeError),
    (np.zeros(10, np.float32)[::2], ValueError),
    ([0.0] * 5, TypeError),
], ids=["length", "rank", "dtype", "strided", "list"])
def test_grad_bias_errors_before_writing(grad_bias, exc):
    x, g, b = _errors_setup()
    out = np.full_like(x, 7.0)
    with pytest.raises(exc):
        act.gelu_backward(g, x, bias=b, grad_bias=grad_bias, out=out)
    assert (out == 7.0).all()
    ro = np.zeros(5, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        act.gelu_backward(g, x, bias=b, grad_bias=ro, out=out)
    with pytest.raises(ValueError):   # grad_bias inside grad
        act.gelu_backward(g, x, bias=b, grad_bias=g[0], out=out)
    assert (out == 7.0).all()


# ============================================================ softmax family

def _logits(x, scale, mask, kind):
    """z = (-1 for softmin) * scale * x + mask, rounded in x's dtype; -inf where a
    bool mask is False."""
    t = x.dtype.type
    z = (t(-1) if kind == "softmin" else t(1)) * (t(scale) * x)
    if mask is None:
        return z
    if mask.dtype == np.bool_:
        return np.where(mask, z, t(-inf))
    return z + mask


def _masks(shape, dtype, rng):
    rows, cols = shape
    pad = rng.random((rows, 1)) < 0.7
    pad[1] = False                               # an all-masked (padding) row
    causal = np.zeros(cols, bool)
    causal[: cols // 2 + 1] = True
    full = rng.random(shape) < 0.5
    full[2] = False
    fmask = np.where(rng.random(shape) < 0.3, -inf, rng.normal(0, 1, shape)).astype(dtype)
    fmask[3] = -inf
    frow = np.where(np.arange(cols) % 3 == 0, -inf, 0.0).astype(dtype)[None, :]
    return {"pad": pad, "causal": causal, "full": full, "float-full": fmask, "float-row": frow,
            "none": None}


MASK_IDS = ("pad", "causal", "full", "float-full", "float-row", "none")


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("scale", [1.0, 0.125, -2.0, 0.0], ids=lambda s: f"scale={s:g}")
@pytest.mark.parametrize("mask_id", MASK_IDS)
@pytest.mark.parametrize("kind", ["softmax", "log_softmax", "softmin"])
def test_masked_softmax_against_mpmath(kind, mask_id, scale, dtype):
    if mask_id == "none" and scale == 1.0:
        pytest.skip("the plain function (test_softmax.py)")
    rng = np.random.default_rng(7)
    shape = (6, 40)
    x = rng.normal(0, 4, shape).astype(dtype)
    mask = _masks(shape, dtype, rng)[mask_id]
    fwd, bwd = getattr(act, kind), getattr(act, f"{kind}_backward")
    z = _logits(x, scale, mask, kind)
    base = "log_softmax" if kind == "log_softmax" else "softmax"
    excluded_rows = np.all(z == -inf, axis=-1)
    hi, lo = softmax_forward_mp(z, base)
    hi[excluded_rows] = -inf if kind == "log_softmax" else 0.0
    lo[excluded_rows] = 0.0
    y = fwd(x, scale=scale, mask=mask)
    assert ulp_error(y, hi, lo).max() <= FORWARD_BOUND[dtype]
    g = grads_like(x)
    # log_softmax: an excluded log-probability is the constant -inf, so its upstream
    # gradient does not enter the row sum (and its own gradient is 0)
    g_kept = np.where(z == -inf, 0, g).astype(dtype) if kind == "log_softmax" else g
    ghi, glo, gscale = softmax_backward_mp(z, g_kept, base)
    sgn = -scale if kind == "softmin" else scale
    ghi, glo, gscale = ghi * sgn, glo * sgn, gscale * abs(sgn)
    ghi[excluded_rows] = 0.0
    glo[excluded_rows] = 0.0
    for got in (bwd(g, x, scale=scale, mask=mask), bwd(g, y=y, scale=scale, mask=mask)):
        # one more rounding (the product by scale): half an ulp of the value
        err = ulp_error(got, ghi, glo, gscale)
        assert err.max() <= BACKWARD_BOUND[dtype] + 0.5, (kind, mask_id, scale)
    assert not np.isnan(y).any() and not np.isnan(bwd(g, x, scale=scale, mask=mask)).any()


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("kind", ["softmax", "log_softmax", "softmin"])
def test_neutral_mask_gives_the_plain_bits(kind, dtype):
    """An all-True bool mask or a zero float mask leave z = x: the plain row kernel's
    bits (the fused path reuses it unchanged)."""
    x = _data((9, 1000), dtype, lo=-30, hi=30)
    fwd = getattr(act, kind)
    plain = fwd(x)
    assert same_bits(fwd(x, mask=np.ones(1000, bool)), plain)
    assert same_bits(fwd(x, mask=np.zeros((9, 1), dtype)), plain)
    assert same_bits(fwd(x, scale=1, mask=None), plain)      # an int 1 is the default


@pytest.mark.parametrize("dtype", dtype_params())
def test_masked_softmax_other_axis_broadcast_views_and_in_place(dtype):
    rng = np.random.default_rng(3)
    x = rng.normal(0, 2, (4, 50, 6)).astype(dtype)
    mask = rng.random((4, 50, 1)) < 0.6          # along axis 1: per (batch, position)
    want = np.moveaxis(act.softmax(np.moveaxis(x, 1, -1), scale=0.5,
                                   mask=np.moveaxis(mask, 1, -1)), -1, 1)
    assert same_bits(act.softmax(x, axis=1, scale=0.5, mask=mask), want)
    # a zero-stride broadcast view of the mask, a read-only one, and out=x
    bm = np.broadcast_to(mask, x.shape)
    assert same_bits(act.softmax(x, axis=1, scale=0.5, mask=bm), want)
    xi = x.copy()
    assert act.softmax(xi, axis=1, scale=0.5, mask=mask, out=xi) is xi and same_bits(xi, want)
    x2 = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    m2 = np.moveaxis(mask, 1, -1)
    want2 = act.log_softmax(x2, scale=0.5, mask=m2)
    assert same_bits(act.log_softmax(x2.copy(order="F"), scale=0.5, mask=m2), want2)
    g = grads_like(x2)
    gi = g.copy()
    want_g = act.log_softmax_backward(g, x2, scale=0.5, mask=m2)
    assert act.log_softmax_backward(gi, x2, scale=0.5, mask=m2, out=gi) is gi
    assert same_bits(gi, want_g)


def test_masked_softmax_gradient_central_differences():
    """dL/dx of L = sum(w * softmax(s * x + m)) by central differences (float64)."""
    rng = np.random.default_rng(11)
    x = rng.normal(0, 1, (3, 7))
    m = np.where(rng.random((3, 7)) < 0.3, -inf, rng.normal(0, 1, (3, 7)))
    m[:, 0] = 0.0
    w = rng.normal(0, 1, (3, 7))
    for kind in ("softmax", "log_softmax", "softmin"):
        fwd, bwd = getattr(act, kind), getattr(act, f"{kind}_backward")
        gx = bwd(w, x, scale=-1.5, mask=m)
        h = 1e-5
        for idx in np.ndindex(x.shape):
            e = np.zeros_like(x)
            e[idx] = h
            lp = fwd(x + e, scale=-1.5, mask=m)
            lm = fwd(x - e, scale=-1.5, mask=m)
            fin = np.isfinite(lp)       # log_softmax's excluded entries are -inf
            fd = np.sum(w[fin] * (lp[fin] - lm[fin])) / (2 * h)
            assert abs(fd - gx[idx]) <= 1e-7 * max(1.0, abs(fd)), (kind, idx, fd, gx[idx])


@pytest.mark.parametrize("dtype", dtype_params())
def test_masked_softmax_identical_for_1_2_3_threads(dtype, restore_threads):
    rng = np.random.default_rng(2)
    x = rng.normal(0, 3, (300, 1024)).astype(dtype)
    mask = rng.random((300, 1)) < 0.8
    g = grads_like(x)
    long_x = rng.normal(0, 3, (2, 40_000)).astype(dtype)
    long_m = rng.random(40_000) < 0.5
    results = []
    for n in (1, 2, 3):
        act.set_num_threads(n)
        results.append((act.softmax(x, scale=0.3, mask=mask),
                        act.log_softmax_backward(g, x, scale=0.3, mask=mask),
                        act.softmin(long_x, mask=long_m)))
    for other in results[1:]:
        for a, c in zip(results[0], other):
            assert same_bits(a, c)


@pytest.mark.parametrize("kwargs, exc", [
    (dict(mask=np.zeros((3, 1), bool)), ValueError),             # does not broadcast
    (dict(mask=np.zeros(7, bool)), ValueError),
    (dict(mask=np.zeros((4, 5), np.float64)), TypeError),         # another float dtype
    (dict(mask=np.zeros((4, 5), np.int8)), TypeError),
    (dict(scale=inf), ValueError),
    (dict(scale=nan), ValueError),
    (dict(scale="2"), TypeError),
    (dict(scale=np.ones(2)), TypeError),
    (dict(mask=np.zeros(5, bool), axis=2), AxisError),
], ids=["mask-rows", "mask-cols", "mask-f64", "mask-int", "scale-inf", "scale-nan",
        "scale-str", "scale-array", "axis"])
def test_fused_softmax_errors_before_writing(kwargs, exc):
    x, g, _ = _errors_setup()
    for kind in ("softmax", "log_softmax", "softmin"):
        out = np.full_like(x, 7.0)
        with pytest.raises(exc):
            getattr(act, kind)(x, out=out, **kwargs)
        with pytest.raises(exc):
            getattr(act, f"{kind}_backward")(g, x, out=out, **kwargs)
        assert (out == 7.0).all()


@pytest.mark.parametrize("dtype", dtype_params())
def test_fused_forms_give_a_numpy_scalar_for_0d_input(dtype):
    """docs/api.md: a 0-d input without out gives a NumPy scalar of its dtype, as ufuncs
    do; the fused keywords do not change that (with out, out itself comes back)."""
    t = np.dtype(dtype).type
    x, g, b = np.array(0.5, dtype), np.array(1.5, dtype), np.array([0.25], dtype)
    calls = {
        "bias": lambda: act.sigmoid(x, bias=b),
        "bias-backward": lambda: act.sigmoid_backward(g, x, bias=b),
        "grad_bias": lambda: act.sigmoid_backward(g, x, grad_bias=np.zeros(1, dtype)),
        "bias-backward-y": lambda: act.sigmoid_backward(g, y=x, bias=b),
        "scale": lambda: act.softmax(x, scale=2.0),
        "mask": lambda: act.log_softmax(x, mask=np.array(True)),
        "scale-backward": lambda: act.softmin_backward(g, x, scale=2.0),
        "scale-backward-y": lambda: act.softmax_backward(g, y=x, scale=2.0),
    }
    expected = {"bias": 1 / (1 + np.exp(-0.75)),
                "bias-backward": 1.5 / (1 + np.exp(-0.75)) / (1 + np.exp(0.75)),
                "grad_bias": 1.5 / (1 + np.exp(-0.5)) / (1 + np.exp(0.5)),
                "bias-backward-y": 1.5 * 0.5 * 0.5, "scale": 1.0, "mask": 0.0,
                "scale-backward": 0.0, "scale-backward-y": 1.5 * 0.5 * 0.5 * 2.0}
    for name, call in calls.items():
        r = call()
        assert isinstance(r, t), (name, type(r))
        assert np.isclose(float(r), expected[name], rtol=1e-6), (name, r)
    out = np.empty((), dtype)
    assert act.sigmoid(x, bias=b, out=out) is out


@pytest.mark.parametrize("scale", [1e300, -1e39], ids=["1e300", "-1e39"])
def test_fused_softmax_scale_finite_in_float32(scale):
    """docs/api.md: parameter checks hold after the conversion to the array's dtype, so
    a scale finite as a Python float but inf as float32 raises ValueError (it would
    make every row NaN); float64 data takes it."""
    x = np.linspace(-3, 3, 20).reshape(4, 5)
    for kind in ("softmax", "log_softmax", "softmin"):
        fwd, bwd = getattr(act, kind), getattr(act, f"{kind}_backward")
        x32 = x.astype(np.float32)
        out = np.full_like(x32, 7.0)
        with pytest.raises(ValueError, match="scale must be finite"):
            fwd(x32, scale=scale, out=out)
        with pytest.raises(ValueError, match="scale must be finite"):
            bwd(np.ones_like(x32), x32, scale=scale, out=out)
        with pytest.raises(ValueError, match="scale must be finite"):
            bwd(np.ones_like(x32), y=x32, scale=scale, out=out)
        assert (out == 7.0).all()
        assert np.isfinite(fwd(x, scale=scale) if kind != "log_softmax"
                           else np.exp(fwd(x, scale=scale))).all()


# ============================================================ everywhere else

def test_registry_lists_the_fused_keywords():
    for name in act.names():
        entry = act.get(name)
        want = {"elementwise": ("bias", "bias_axis"), "softmax": ("scale", "mask")}.get(
            KIND[name], ())
        assert entry.fused == want, name
        assert not set(entry.fused) & set(entry.params), name
        fwd = inspect.signature(entry.forward).parameters
        bwd = inspect.signature(entry.backward).parameters
        for kw in entry.fused:
            assert fwd[kw].kind is inspect.Parameter.KEYWORD_ONLY, (name, kw)
            assert kw in bwd, (name, kw)
        if "bias" in entry.fused:
            assert "grad_bias" in bwd


@pytest.mark.parametrize("dtype", dtype_params())
def test_all_minus_inf_rows_in_the_fused_form_only(dtype):
    """A row of all -inf: NaN from the plain call (as PyTorch), 0 / -inf and a zero
    gradient from the fused form, also with a scale and no mask."""
    x = np.array([[-inf, -inf, -inf], [0.0, 1.0, -inf]], dtype)
    g = np.ones_like(x)
    assert np.isnan(act.softmax(x)[0]).all()
    for kind, empty in (("softmax", 0.0), ("log_softmax", -inf), ("softmin", 0.0)):
        fwd, bwd = getattr(act, kind), getattr(act, f"{kind}_backward")
        xk = -x if kind == "softmin" else x
        for kw in (dict(scale=2.0), dict(mask=np.ones(3, bool))):
            y = fwd(xk, **kw)
            assert (y[0] == empty).all() and not np.isnan(y).any(), (kind, kw)
            assert (bwd(g, xk, **kw)[0] == 0).all()
            assert (bwd(g, y=y, **kw)[0] == 0).all()


@pytest.mark.parametrize("name", [n for n in act.names() if "bias_axis" in act.get(n).fused])
def test_bias_axis_without_bias_is_checked(name):
    """A bias_axis without bias has no effect, but out of range (or not an integer) it is
    most likely a mistake: the error of a bias_axis with a bias (docs/api.md)."""
    fwd, bwd = getattr(act, name), getattr(act, f"{name}_backward")
    x = np.linspace(-2, 2, 12).reshape(3, 4)
    g = np.ones_like(x)
    params = call_params(name)
    for bad, err in ((5, AxisError), (-3, AxisError), (1.0, TypeError), ("0", TypeError)):
        with pytest.raises(err):
            fwd(x, bias_axis=bad, **params)
        with pytest.raises(err):
            bwd(g, x, bias_axis=bad, **params)
        if "y" in act.get(name).backward_takes:
            with pytest.raises(err):
                bwd(g, y=fwd(x, **params), bias_axis=bad, **params)
    for good in (0, 1, -2, np.int64(1)):
        assert same_bits(fwd(x, bias_axis=good, **params), fwd(x, **params))
        assert same_bits(bwd(g, x, bias_axis=good, **params), bwd(g, x, **params))
