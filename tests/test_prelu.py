"""prelu / prelu_backward: one slope per channel along ``axis``.

The forward and grad_x are single roundings (w * x, w * g), so the float64 NumPy
reference (with the weight rounded to the dtype first) must match bit for bit.
grad_weight sums x * g over x <= 0 and all axes but ``axis``, accumulated in float64:
compared with an exact (math.fsum) sum with a tight tolerance.

Conventions (PyTorch): y = x if x > 0 else w x; dy/dx = 1 if x > 0 else w (w at 0);
dy/dw = 0 if x > 0 else x; NaN x gives NaN (and a NaN grad_weight for its channel).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.exceptions import AxisError

import activations as act
from cases import dtype_params, same_bits

inf, nan = np.inf, np.nan


def prelu_reference(x, w, g, axis):
    """(y, grad_x, grad_weight) in float64 from x, the dtype-rounded w, g."""
    x64 = np.asarray(x, np.float64)
    w64 = np.asarray(w, x.dtype).astype(np.float64)
    if x64.ndim == 0 or w64.size == 1:
        wb = np.full(x64.shape, w64.ravel()[0])
        red = None
    else:
        ax = axis % x64.ndim
        shape = [1] * x64.ndim
        shape[ax] = w64.size
        wb = np.broadcast_to(w64.reshape(shape), x64.shape)
        red = ax
    g64 = np.asarray(g, np.float64)
    y = np.where(x64 > 0, x64, wb * x64)
    gx = np.where(x64 > 0, g64, wb * g64)
    gx = np.where(np.isnan(x64), nan, gx)
    terms = np.where(x64 > 0, 0.0, x64 * g64)  # exact in float64 for float32 data
    if red is None:
        gw = np.array([math.fsum(terms.ravel())]) if not np.isnan(terms).any() else np.array([nan])
        mag = np.array([math.fsum(np.abs(terms).ravel())])
    else:
        moved = np.moveaxis(terms, red, 0).reshape(w64.size, -1)
        gw = np.array([math.fsum(r) if not np.isnan(r).any() else nan for r in moved])
        mag = np.array([math.fsum(np.abs(r)) for r in moved])
    return y, gx, gw, mag


def check(x, w, axis=None, g=None):
    kw = {} if axis is None else {"axis": axis}
    ax = 1 if axis is None else axis
    if x.ndim == 1 and ax == 1:
        ax = 0
    if g is None:
        g = np.random.default_rng(1).uniform(-2, 2, x.shape).astype(x.dtype)
    y = act.prelu(x, w, **kw)
    gx, gw = act.prelu_backward(g, x, w, **kw)
    ry, rgx, rgw, mag = prelu_reference(x, w, g, ax)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert gx.dtype == x.dtype and gx.shape == x.shape
    assert gw.dtype == x.dtype and gw.shape == (np.asarray(w).size,)
    assert same_bits(y, ry.astype(x.dtype)), "forward"
    assert same_bits(gx, rgx.astype(x.dtype)), "grad_x"
    # float64 accumulation: float32 results are the exact sum rounded (<= 1 ulp with
    # the accumulation error); float64 within a few eps of sum |x g|
    eps = np.finfo(x.dtype).eps
    tol = (eps if x.dtype == np.float32 else 1e-13) * mag
    assert np.array_equal(np.isnan(gw), np.isnan(rgw))
    ok = ~np.isnan(rgw)
    assert (np.abs(gw[ok].astype(np.float64) - rgw[ok]) <= tol[ok] + 1e-300).all(), (gw, rgw)
    return y, gx, gw


LAYOUTS = [
    # (id, x shape, weight length, axis or None for the default)
    ("1d-shared", (50,), 1, None),
    ("1d-per-channel-default-axis", (9,), 9, None),  # 1-D: the default axis 1 means 0
    ("2d-channels-axis1", (20, 6), 6, None),
    ("3d-channels-axis1", (4, 3, 37), 3, None),
    ("3d-shared", (4, 3, 37), 1, None),
    ("3d-axis-last", (2, 3, 40), 40, -1),
    ("3d-axis0", (5, 3, 4), 5, 0),
    ("3d-axis-3", (5, 3, 4), 5, -3),
    ("3d-axis-2", (5, 3, 4), 3, -2),
    ("4d-nchw", (2, 8, 5, 5), 8, 1),
    ("channels-last-2000x64", (2000, 64), 64, -1),
    ("0d", (), 1, None),
    ("empty", (0, 3), 3, None),
]


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("lid, shape, wlen, axis", LAYOUTS, ids=[c[0] for c in LAYOUTS])
def test_against_reference(lid, shape, wlen, axis, dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, shape).astype(dtype)
    if x.size:
        x.flat[::7] = 0.0
    w = rng.uniform(-0.5, 1.5, wlen)  # float64: converted to x's dtype
    check(x, w, axis)


@pytest.mark.parametrize("dtype", dtype_params())
def test_conventions_at_zero_inf_nan(dtype):
    x = np.array([[0.0, -0.0, 1.0, -1.0, inf, -inf, nan, 2.5]], dtype).T.copy()  # (8, 1)
    x = np.repeat(x, 2, axis=1)  # channels: 2, axis 1
    w = np.array([0.25, 3.0], dtype)
    g = np.full(x.shape, 2.0, dtype)
    y = act.prelu(x, w)
    gx, gw = act.prelu_backward(g, x, w)
    for c in range(2):
        assert y[0, c] == 0 and not np.signbit(y[0, c])      # w * +0
        assert y[1, c] == 0 and np.signbit(y[1, c])          # w * -0 (w > 0)
        assert y[4, c] == inf and y[5, c] == -inf and np.isnan(y[6, c])
        assert gx[0, c] == 2 * w[c] and gx[1, c] == 2 * w[c]  # dy/dx = w at 0
        assert gx[2, c] == 2 and gx[3, c] == 2 * w[c] and gx[4, c] == 2
        assert np.isnan(gx[6, c])
        assert np.isnan(gw[c])  # NaN x in every channel here
    x2 = x[[0, 1, 2, 3, 7]]
    gx2, gw2 = act.prelu_backward(g[:5], x2, w)
    np.testing.assert_array_equal(gw2, [-2.0, -2.0])  # dy/dw = x at x <= 0 (0 at 0)


def test_nan_only_poisons_its_channel():
    x = np.random.default_rng(2).normal(0, 1, (10, 3, 8))
    x[4, 1, 2] = nan
    gx, gw = act.prelu_backward(np.ones_like(x), x, np.array([0.1, 0.2, 0.3]))
    assert np.isnan(gw[1]) and np.isfinite(gw[[0, 2]]).all()
    assert np.isnan(gx).sum() == 1


@pytest.mark.parametrize("dtype", dtype_params())
def test_weight_converted_to_x_dtype(dtype):
    x = np.linspace(-3, 3, 24).reshape(2, 3, 4).astype(dtype)
    w64 = [0.1, 0.2, 0.3]
    w_cast = np.array(w64, dtype)
    assert same_bits(act.prelu(x, w64), act.prelu(x, w_cast))
    assert same_bits(act.prelu(x, np.array(w64, np.float16)),
                     act.prelu(x, np.array(w64, np.float16).astype(dtype)))
    g = np.ones_like(x)
    for a, b in zip(act.prelu_backward(g, x, w64), act.prelu_backward(g, x, w_cast)):
        assert same_bits(a, b)
    assert act.prelu(x, [1, 2, 3]).dtype == dtype  # integer weights too


def test_grad_weight_accumulated_in_float64():
    # float32 data whose float32 running sum would lose the small terms
    n = 1 << 20
    x = np.full(n, -1.0, np.float32)
    x[0] = -2.0 ** 24
    g = np.ones(n, np.float32)
    _, gw = act.prelu_backward(g, x, np.array([0.5], np.float32))
    assert gw[0] == np.float32(-(2.0 ** 24) - (n - 1))


@pytest.mark.parametrize("dtype", dtype_params())
def test_in_place(dtype):
    rng = np.random.default_rng(3)
    x0 = rng.normal(0, 2, (6, 4, 50)).astype(dtype)
    g0 = rng.uniform(-1, 1, x0.shape).astype(dtype)
    w = np.array([0.1, -0.2, 0.3, 1.5], dtype)
    y_ref = act.prelu(x0, w)
    gx_ref, gw_ref = act.prelu_backward(g0, x0, w)
    x = x0.copy()
    res = act.prelu(x, w, out=x)
    assert res is x and same_bits(x, y_ref)
    g = g0.copy()
    gx, gw = act.prelu_backward(g, x0, w, out=g)
    assert gx is g and np.shares_memory(gx, g)
    assert same_bits(gx, gx_ref) and same_bits(gw, gw_ref)
    out = np.empty_like(x0)
    assert act.prelu(x0, w, out=out) is out and same_bits(out, y_ref)


@pytest.mark.parametrize("shape, wlen, axis", [((3, 4, 100000), 4, 1), ((2000, 64), 64, -1),
                                               ((3, 4, 100000), 1, 1), ((50, 7, 300), 300, 2)],
                         ids=["nchw-3x4x100000", "channels-last-2000x64", "shared-weight",
                              "axis2"])
@pytest.mark.parametrize("dtype", dtype_params())
def test_identical_for_1_2_3_threads(shape, wlen, axis, dtype, restore_threads):
    rng = np.random.default_rng(4)
    x = rng.normal(0, 2, shape).astype(dtype)
    g = rng.uniform(-1, 1, shape).astype(dtype)
    w = rng.uniform(0, 1, wlen).astype(dtype)
    results = []
    for n in (1, 2, 3):
        act.set_num_threads(n)
        results.append((act.prelu(x, w, axis=axis),) + act.prelu_backward(g, x, w, axis=axis))
    for k in range(3):
        assert same_bits(results[0][k], results[1][k]), ("1 vs 2", k)
        assert same_bits(results[0][k], results[2][k]), ("1 vs 3", k)
    if shape == (2000, 64):
        check(x, w, axis, g)  # and right


@pytest.mark.parametrize("fn", ["forward", "backward"])
def test_errors(fn):
    x = np.ones((2, 3, 4))
    out = np.full_like(x, 7.0)

    def call(w, **kw):
        if fn == "forward":
            return act.prelu(x, w, out=out, **kw)
        return act.prelu_backward(np.ones_like(x), x, w, out=out, **kw)

    with pytest.raises(ValueError):
        call(np.ones(2))                   # neither 1 nor x.shape[1] = 3
    with pytest.raises(ValueError):
        call(np.ones(4))                   # x.shape[-1], but axis is 1
    with pytest.raises(ValueError):
        call(np.ones((3, 1)))              # not 1-D
    with pytest.raises(ValueError):
        call(np.ones((1, 1)))
    with pytest.raises(ValueError):
        call(np.ones(0))
    with pytest.raises(AxisError):
        call(np.ones(3), axis=3)
    with pytest.raises(AxisError):
        call(np.ones(3), axis=-4)
    with pytest.raises(TypeError):
        call(np.array(["a", "b", "c"]))
    assert (out == 7.0).all()
    with pytest.raises(ValueError):
        (act.prelu if fn == "forward" else
         (lambda v, w: act.prelu_backward(np.ones(()), v, w)))(np.float64(1.0), np.ones(2))
    if fn == "backward":
        with pytest.raises(ValueError):
            act.prelu_backward(np.ones((2, 3)), x, np.ones(3))  # grad shape
        with pytest.raises(TypeError):
            act.prelu_backward(np.ones(x.shape, np.float32), x, np.ones(3))


def test_0d_with_length_one_weight():
    y = act.prelu(np.float64(-2.0), [0.25])
    assert y.shape == () and y == -0.5
    gx, gw = act.prelu_backward(np.float64(3.0), np.float64(-2.0), [0.25])
    assert gx.shape == () and gx == 0.75 and gw.tolist() == [-6.0]


@pytest.mark.parametrize("dtype", dtype_params())
def test_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.normal(0, 2, (4, 3, 9)).astype(dtype)
    w = rng.uniform(0, 1, 3).astype(dtype)
    g = rng.uniform(-1, 1, x.shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.prelu(tx, tw)
    ty.backward(torch.tensor(g))
    y = act.prelu(x, w)
    gx, gw = act.prelu_backward(g, x, w)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(gx, tx.grad.numpy())
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", dtype_params())
def test_unaligned_weight(dtype):
    # a weight that sits unaligned in a buffer (as one unpickled from a message can)
    x = np.random.default_rng(7).standard_normal((4, 10)).astype(dtype)
    raw = np.zeros(dtype.itemsize * 10 + 1, np.uint8)
    w = np.frombuffer(raw[1:].data, dtype=dtype, count=10)
    assert not w.flags.aligned
    aligned = np.linspace(0.1, 0.9, 10).astype(dtype)
    raw[1:] = aligned.view(np.uint8)
    g = np.ones_like(x)
    assert same_bits(act.prelu(x, w), act.prelu(x, aligned))
    for got, want in zip(act.prelu_backward(g, x, w), act.prelu_backward(g, x, aligned)):
        assert same_bits(got, want)


def _tiny_x(dtype, shape, seed):
    """Subnormal values of both signs across the range, some +-0."""
    rng = np.random.default_rng(seed)
    top = 2 ** 23 if dtype == np.float32 else 2 ** 52
    m = rng.integers(1, top, int(np.prod(shape))).astype(np.float64)
    m[::5] = rng.integers(1, 64, m[::5].size)
    m[1::7] = top - rng.integers(1, 64, m[1::7].size)
    x = (m * rng.choice([-1.0, 1.0], m.size)).astype(dtype) * np.finfo(dtype).smallest_subnormal
    x[3::97] = 0.0
    x[4::97] = -0.0
    return x.reshape(shape)


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("shape, axis", [((40, 64), 1), ((2, 3, 8 * 256 + 5), 1)],
                         ids=["channels-last", "runs"])
def test_subnormal_inputs(shape, axis, dtype, detours_on):
    """Blocks of subnormal x (rows of channels, or blocks of a run) take the tiny path
    (_prelu.pxi): the forward and grad_weight's terms bit for bit the single roundings
    w * x and x * g of the reference, with ordinary lanes among them and without."""
    C = shape[axis]
    rng = np.random.default_rng(3)
    w = (rng.uniform(0.01, 4.0, C) * rng.choice([-1.0, 1.0], C)).astype(dtype)
    w[:3] = np.array([0.25, 2.0 ** 59, -(2.0 ** -59)], dtype)[:C]
    x = _tiny_x(dtype, shape, seed=4)
    g = rng.standard_normal(shape).astype(dtype)
    for xv in (x, np.where(rng.random(shape) < 0.002, np.array(1.5, dtype), x)):
        y, gx, _, _ = prelu_reference(xv, w, g, axis)
        assert same_bits(act.prelu(xv, w, axis=axis), y.astype(dtype))
        assert same_bits(act.prelu_backward(g, xv, w, axis=axis)[0], gx.astype(dtype))
    # grad_weight: one nonzero x per channel, so each sum is that one term exactly
    xs = np.zeros(shape, dtype) * np.where(rng.random(shape) < 0.5, -1, 1).astype(dtype)
    xs_c = np.moveaxis(xs, axis, 0)
    xt_c = np.moveaxis(x, axis, 0)
    for c in range(C):
        flat = xs_c[c].reshape(-1)
        flat[c % flat.size] = -abs(xt_c[c].reshape(-1)[c % flat.size])
        xs_c[c] = flat.reshape(xs_c[c].shape)
    gw = act.prelu_backward(g, xs, w, axis=axis)[1]
    terms = np.moveaxis(xs.astype(np.float64) * g.astype(np.float64), axis, 0)
    want = np.array([t[t != 0].sum() if np.any(t != 0) else 0.0 for t in terms.reshape(C, -1)])
    np.testing.assert_array_equal(gw, want.astype(dtype))


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("shape, axis", [((40, 64), 1), ((2, 3, 8 * 256 + 5), 1)],
                         ids=["channels-last", "runs"])
def test_subnormal_inputs_slopes_in_unit_range(shape, axis, dtype, detours_on):
    """Every slope in [+0, 1] (_prelu.pxi prelu_slopes_form: the tiny blocks' slope form,
    which takes zero and tiny slopes too): the forward bit for bit w * x rounded once,
    signed zeros included, with ordinary lanes among the subnormal ones and without."""
    C = shape[axis]
    rng = np.random.default_rng(5)
    w = rng.uniform(0.0, 1.0, C).astype(dtype)
    w[:3] = np.array([0.0, 1.0, 1e-30], dtype)[:C]
    x = _tiny_x(dtype, shape, seed=6)
    g = np.ones_like(x)
    for xv in (x, np.where(rng.random(shape) < 0.002, np.array(-1.5, dtype), x)):
        y = prelu_reference(xv, w, g, axis)[0]
        assert same_bits(act.prelu(xv, w, axis=axis), y.astype(dtype))
