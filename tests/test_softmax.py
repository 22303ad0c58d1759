"""softmax, log_softmax and softmin: along any axis, forward and
backward from x and from y, against mpmath row references (tests/reference.py).

Accuracy is measured in ulps of the dtype at the reference value; a backward value
is a difference (g_i - sum(g y)), so its bound is in ulps of the magnitude of its
terms (``scale``), as for the elementwise derivatives with roots.
"""

from __future__ import annotations

import functools
import zlib

import numpy as np
import pytest
from numpy.exceptions import AxisError

import activations as act
from cases import dtype_params, same_bits
from reference import F32, F64, SOFTMAX_KINDS, softmax_backward_mp, softmax_forward_mp, ulp_error

inf, nan = np.inf, np.nan

#: Bounds in ulps, per dtype (measured maxima in the comments).  Forward: exp (with the
#: max subtraction's rounding error folded in), the sum, one division; float32 sums in
#: double, float64's sum adds its own rounding, growing slowly with the row length
#: (8 lanes, fixed blocks).  log_softmax: (x - max) - log(sum), no cancellation (both
#: terms <= 0).  Backward: in ulps of the terms (reference.softmax_backward_mp).
FORWARD_BOUND = {F32: 2.5, F64: 5.0}     # 2.12 / 4.66 (a row of 20000)
BACKWARD_BOUND = {F32: 3.5, F64: 6.0}    # 2.96 / 5.30
#: float64 along a non-last axis (the column path): the sum over the axis is sequential,
#: so its error grows with the length (known issue, test_column_path_float64_accuracy):
#: measured 7.5 (forward) and 8.7 (backward from y) ulp for a length of 300
COLUMN_F64_BOUND = 10.0


def kind_params():
    return [pytest.param(k, id=k) for k in SOFTMAX_KINDS]


def fns(kind):
    return getattr(act, kind), getattr(act, f"{kind}_backward")


# ------------------------------------------------------------------- data

def _cases():
    """(id, shape, axis, generator(rng, dtype) -> x) of the accuracy grid."""
    def normal(shape, s):
        return lambda rng, dt: rng.normal(0.0, s, shape)

    def wide(shape):
        # spans the exp underflow band of either dtype: many probabilities tiny/denormal
        return lambda rng, dt: rng.uniform(-110.0 if dt == F32 else -760.0, 5.0, shape)

    def dominant(rng, dt):
        # one entry dominates: the log-probability of the maximum is close to 0 and must
        # come from log1p (float32 [0, -30, -40] -> -9.358048e-14)
        base = np.array([[0.0, -30.0, -40.0], [5.0, -25.0, -35.0], [0.0, -17.0, -16.5],
                         [1.0, 1.0, -60.0], [0.0, -1e-3, -50.0], [0.0, -88.0, -104.0]])
        return np.concatenate([base, base[:, ::-1]])

    def ties(rng, dt):
        return np.repeat(rng.normal(0, 2, (6, 1)), 9, axis=1) + np.array([0.0] * 8 + [-3.0])

    def large(rng, dt):
        big = 3e38 if dt == F32 else 1.7e308
        return np.array([[1e4, 1e4 - 1], [-1e4, -1e4 - 1], [big, big], [big, -big],
                         [-big, -big], [1e30, 1e30 + 1e24]])

    def subnormal(rng, dt):
        # rows whose maximum is subnormal or below 2^-100 / 2^-960 (where the exp loops
        # flush tiny differences), mixed with ordinary and tiny normal entries; row 3 has
        # a normal maximum and subnormal entries
        s = float(np.finfo(dt).smallest_subnormal)
        tiny = 2.0 ** (-110 if dt == F32 else -970)
        x = rng.integers(-2**20, 2**20, (8, 16)) * s
        x[1, :4] = [-1.0, -30.0, tiny, -tiny]
        x[2, 0] = tiny
        x[3, :3] = [2.0 ** (-90 if dt == F32 else -900), -0.5, 0.0]
        x[4] = 0.0
        x[4, 5] = s
        return x

    return [
        ("normal-40x17", (40, 17), -1, normal((40, 17), 3.0)),
        ("subnormal-8x16", (8, 16), -1, subnormal),
        ("normal-7x64-axis0", (7, 64), 0, normal((7, 64), 3.0)),
        ("wide-12x33", (12, 33), -1, wide((12, 33))),
        ("dominant", (12, 3), -1, dominant),
        ("ties", (6, 9), -1, ties),
        ("large-values", (6, 2), 1, large),
        ("one-row-1x300", (1, 300), -1, normal((1, 300), 10.0)),
        ("long-row-1x20000", (1, 20000), -1, normal((1, 20000), 4.0)),
        ("column-3x300x5-axis1", (3, 300, 5), 1, normal((3, 300, 5), 3.0)),
        ("column-2x3x4-axis0", (2, 3, 4), 0, normal((2, 3, 4), 3.0)),
        ("column-4x5x6-axis-2", (4, 5, 6), -2, normal((4, 5, 6), 3.0)),
        ("column-3x20x130-axis1", (3, 20, 130), 1, normal((3, 20, 130), 3.0)),  # > 1 tile
        ("single-element", (1,), 0, normal((1,), 3.0)),
        ("zero-d", (), -1, normal((), 3.0)),
    ]


CASES = {c[0]: c[1:] for c in _cases()}


def case_params():
    return [pytest.param(cid, id=cid) for cid in CASES]


@functools.lru_cache(maxsize=None)
def _data(cid, dtype_name, kind):
    """(x, axis, g, forward hi/lo, backward hi/lo/scale), references cached."""
    shape, axis, gen = CASES[cid]
    dt = np.dtype(dtype_name)
    rng = np.random.default_rng(zlib.crc32(cid.encode()))
    with np.errstate(over="ignore"):
        x = np.asarray(gen(rng, dt), np.float64).reshape(shape).astype(dt)
    g = (rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)).astype(dt)
    fwd = softmax_forward_mp(x, kind, axis)
    bwd = softmax_backward_mp(x, g, kind, axis)
    return x, axis, g, fwd, bwd


def _is_column(shape, axis):
    dims = shape or (1,)
    return int(np.prod(dims[axis % len(dims) + 1:])) > 1


def forward_bound(dtype, shape, axis):
    if dtype == F64 and _is_column(shape, axis):
        return COLUMN_F64_BOUND
    return FORWARD_BOUND[dtype]


def backward_bound(dtype, shape, axis):
    if dtype == F64 and _is_column(shape, axis):
        return COLUMN_F64_BOUND
    return BACKWARD_BOUND[dtype]


def describe(x, got, ref, err, k=4):
    flat = np.argsort(err, axis=None)[::-1][:k]
    idx = [np.unravel_index(i, err.shape) for i in flat]
    return "\n".join(f"  at {i}: x={x[i]!r} got={got[i]!r} ref={ref[i]!r} err={err[i]:.3g} ulp"
                     for i in idx)


# ------------------------------------------------------------------- accuracy

@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("cid", case_params())
@pytest.mark.parametrize("kind", kind_params())
def test_forward_max_ulp(kind, cid, dtype):
    x, axis, _, (hi, lo), _ = _data(cid, dtype.name, kind)
    got = fns(kind)[0](x, axis=axis)
    assert got.shape == x.shape and got.dtype == dtype
    err = ulp_error(got, hi, lo)
    assert err.max() <= forward_bound(dtype, x.shape, axis), describe(x, got, hi, err)


@pytest.mark.parametrize("source", ["x", "y"])
@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("cid", case_params())
@pytest.mark.parametrize("kind", kind_params())
def test_backward_max_ulp(kind, cid, dtype, source):
    x, axis, g, _, (hi, lo, scale) = _data(cid, dtype.name, kind)
    fwd, bwd = fns(kind)
    # from y: y carries the forward's rounding, which moves the result by up to that
    # much of the terms; measured within the same bound as from x
    got = bwd(g, x, axis=axis) if source == "x" else bwd(g, y=fwd(x, axis=axis), axis=axis)
    bound = backward_bound(dtype, x.shape, axis)
    assert got.shape == x.shape and got.dtype == dtype
    err = ulp_error(got, hi, lo, scale)
    assert err.max() <= bound, describe(x, got, hi, err)


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("kind", kind_params())
def test_backward_from_x_and_from_y_agree(kind, dtype):
    rng = np.random.default_rng(3)
    x = rng.normal(0, 4, (50, 31)).astype(dtype)
    x[3, 5] = inf if kind == "softmin" else -inf  # probability 0: 0 or grad_i either way
    g = rng.uniform(-2, 2, x.shape).astype(dtype)
    fwd, bwd = fns(kind)
    from_x = bwd(g, x)
    from_y = bwd(g, y=fwd(x))
    # both within their bounds of the terms (test_backward_max_ulp): agree to ~10 eps
    _, _, scale = softmax_backward_mp(x, g, kind)
    tol = 12 * np.finfo(dtype).eps * scale
    assert (np.abs(from_x.astype(float) - from_y.astype(float)) <= tol).all()
    assert from_x[3, 5] == from_y[3, 5]


def test_log_softmax_dominant_entry_via_log1p():
    # the naive log(softmax) gives 0 (or a wrong tiny value) here
    x = np.array([0.0, -30.0, -40.0], np.float32)
    y = act.log_softmax(x)
    exact = -np.log1p(np.exp(-30.0) + np.exp(-40.0))  # float64: accurate to ~1e-16 rel
    assert y[0] != 0
    assert ulp_error(y[:1], np.array([exact]))[0] <= 1.0, (y[0], exact)
    assert y[0] == pytest.approx(-9.358048e-14, rel=1e-6)
    assert (y[1:] == np.array([-30.0, -40.0], np.float32)).all()  # -30 - 9e-14 rounds to -30


@pytest.mark.parametrize("dtype", dtype_params())
def test_softmin_is_softmax_of_negated_input(dtype):
    x = np.random.default_rng(5).normal(0, 3, (9, 14)).astype(dtype)
    g = np.random.default_rng(6).uniform(-1, 1, x.shape).astype(dtype)
    for axis in (0, 1, -1):
        assert same_bits(act.softmin(x, axis=axis), act.softmax(-x, axis=axis))
        assert same_bits(act.softmin_backward(g, x, axis=axis),
                         -act.softmax_backward(g, -x, axis=axis))


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("kind", ["softmax", "softmin"])
def test_probabilities_sum_to_one(kind, dtype):
    x = np.random.default_rng(8).normal(0, 5, (100, 257)).astype(dtype)
    s = fns(kind)[0](x).astype(np.float64).sum(axis=-1)
    assert np.abs(s - 1).max() <= 257 * np.finfo(dtype).eps


# ------------------------------------------------------------------- edge cases (PyTorch)

@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("kind", kind_params())
def test_all_minus_inf_row_is_nan(kind, dtype):
    worst = inf if kind == "softmin" else -inf  # softmin negates
    x = np.array([[worst] * 5, [1.0, 2.0, 3.0, 4.0, 5.0]], dtype)
    fwd, bwd = fns(kind)
    y = fwd(x)
    assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()
    g = np.ones_like(x)
    assert np.isnan(bwd(g, x)[0]).all()
    assert np.isfinite(bwd(g, x)[1]).all()


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
def test_minus_inf_entries(kind, dtype, axis):
    x = np.array([[0.5, -inf, 2.0, -inf], [-1.0, 3.0, -inf, 0.0], [1.0, 2.0, 3.0, 4.0]], dtype)
    if axis == 0:
        x = np.ascontiguousarray(x.T)  # the same rows, normalized along axis 0
    fwd, bwd = fns(kind)
    y = fwd(x, axis=axis)
    ninf = np.isneginf(x)
    if kind == "softmax":
        assert (y[ninf] == 0).all()
    else:
        assert np.isneginf(y[ninf]).all()
    assert np.isfinite(y[~ninf]).all()
    g = np.random.default_rng(2).uniform(0.5, 2, x.shape).astype(dtype)
    for gx in (bwd(g, x, axis=axis), bwd(g, y=y, axis=axis)):
        if kind == "softmax":
            assert (gx[ninf] == 0).all()  # zero gradient at probability 0
        else:
            np.testing.assert_array_equal(gx[ninf], g[ninf])  # grad_i - 0 * sum(grad)
        assert np.isfinite(gx).all()


@pytest.mark.parametrize("bad", [nan, inf], ids=["nan", "inf"])
@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("kind", kind_params())
def test_nan_or_plus_inf_makes_the_row_nan(kind, dtype, bad):
    if kind == "softmin" and bad == inf:
        bad = -inf  # softmin(x) = softmax(-x): -inf in x is softmax's +inf
    x = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]], dtype)
    x[0, 2] = bad
    fwd, bwd = fns(kind)
    y = fwd(x)
    assert np.isnan(y[0]).all(), y
    assert np.isfinite(y[1]).all()
    g = np.ones_like(x)
    assert np.isnan(bwd(g, x)[0]).all()
    assert np.isfinite(bwd(g, x)[1]).all()
    # column path too
    yt = fwd(np.ascontiguousarray(x.T), axis=0)
    assert np.isnan(yt[:, 0]).all() and np.isfinite(yt[:, 1]).all()


@pytest.mark.parametrize("dtype", dtype_params())
def test_no_overflow_for_large_inputs(dtype):
    x = np.array([1e4, 1e4 - 1], dtype)
    p = 1 / (1 + np.exp(-1.0))
    np.testing.assert_allclose(act.softmax(x), [p, 1 - p], rtol=4 * np.finfo(dtype).eps)
    np.testing.assert_allclose(act.log_softmax(x), [-np.log1p(np.exp(-1.0)),
                                                    -1 - np.log1p(np.exp(-1.0))],
                               rtol=4 * np.finfo(dtype).eps)
    big = np.finfo(dtype).max
    np.testing.assert_array_equal(act.softmax(np.array([big, big, -big], dtype)), [0.5, 0.5, 0])
    np.testing.assert_array_equal(act.softmin(np.array([-big, -big, big], dtype)), [0.5, 0.5, 0])


BUG_COLUMN_SUM = (
    "float64 softmax along a non-last axis (the column path, inner > 1) sums each column "
    "sequentially over the axis, so the error grows with its length: "
    "act.softmax(np.random.default_rng(0).normal(0, 3, (10000, 2)), axis=0) is 21 ulp "
    "off, the same data along the last axis 3.4 ulp (float32 sums in double: 1.9)")


def test_column_path_float64_accuracy():
    x = np.random.default_rng(0).normal(0, 3, (10000, 2))
    hi, lo = softmax_forward_mp(x, "softmax", 0)
    assert ulp_error(act.softmax(x, axis=0), hi, lo).max() <= FORWARD_BOUND[F64]


# ------------------------------------------------------------------- shapes

SHAPES = [
    ("one-row", (1, 7), -1), ("one-column", (7, 1), -1), ("one-column-axis0", (7, 1), 0),
    ("one-element", (1,), 0), ("1x1x1", (1, 1, 1), 1), ("0d", (), -1), ("0d-axis0", (), 0),
    ("empty", (0,), -1), ("empty-along", (3, 0), -1), ("empty-across", (0, 5), -1),
    ("empty-across-axis0", (0, 5), 1), ("empty-mid", (2, 0, 3), 1), ("empty-mid-axis2", (2, 0, 3), 2),
    ("many-short-rows", (2000, 3), -1), ("trailing-ones", (4, 6, 1, 1), 1),
]


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("kind", kind_params())
@pytest.mark.parametrize("sid, shape, axis", SHAPES, ids=[s[0] for s in SHAPES])
def test_shapes(kind, sid, shape, axis, dtype):
    rng = np.random.default_rng(4)
    x = rng.normal(0, 3, shape).astype(dtype)
    g = rng.uniform(-2, 2, shape).astype(dtype)
    fwd, bwd = fns(kind)
    y = fwd(x, axis=axis)
    gx = bwd(g, x, axis=axis)
    gy = bwd(g, y=y, axis=axis)
    for r in (y, gx, gy):  # a 0-d x gives NumPy scalars, as ufuncs do
        assert isinstance(r, np.generic if shape == () else np.ndarray)
        assert r.shape == shape and r.dtype == dtype
    if x.size == 0:
        return
    hi, lo = softmax_forward_mp(x, kind, axis)
    assert ulp_error(y, hi, lo).max() <= forward_bound(dtype, shape, axis)
    bhi, blo, scale = softmax_backward_mp(x, g, kind, axis)
    assert ulp_error(gx, bhi, blo, scale).max() <= backward_bound(dtype, shape, axis)
    length = (shape or (1,))[axis]
    if length == 1:
        # a single entry: probability 1 (log 0), gradient 0 exactly
        assert (y == (0 if kind == "log_softmax" else 1)).all()
        assert (gx == 0).all() and (gy == 0).all()


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("kind", kind_params())
def test_column_path_matches_row_path(kind, dtype):
    # axis=1 of (3, 300, 5) (inner > 1) against the same data moved to the last axis
    x = np.random.default_rng(9).normal(0, 3, (3, 300, 5)).astype(dtype)
    g = np.random.default_rng(10).uniform(-2, 2, x.shape).astype(dtype)
    fwd, bwd = fns(kind)
    moved = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    gmoved = np.ascontiguousarray(np.moveaxis(g, 1, -1))
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(fwd(x, axis=1), np.moveaxis(fwd(moved), -1, 1),
                               rtol=8 * eps, atol=0)
    np.testing.assert_allclose(bwd(g, x, axis=1), np.moveaxis(bwd(gmoved, moved), -1, 1),
                               rtol=4 * eps, atol=16 * eps * float(np.abs(g).max()))


@pytest.mark.parametrize("kind", kind_params())
def test_non_contiguous_input(kind):
    base = np.random.default_rng(11).normal(0, 3, (20, 30))
    fwd, bwd = fns(kind)
    for view in (base[::2, ::3], base.T, base[:, ::-1]):
        for axis in (0, 1):
            assert same_bits(fwd(view, axis=axis), fwd(np.ascontiguousarray(view), axis=axis))
            g = np.ones_like(view)
            assert same_bits(bwd(g, view, axis=axis),
                             bwd(g, np.ascontiguousarray(view), axis=axis))


# ------------------------------------------------------------------- in place

@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("kind", kind_params())
def test_in_place(kind, dtype, axis):
    rng = np.random.default_rng(12)
    x0 = rng.normal(0, 3, (64, 129)).astype(dtype)
    g0 = rng.uniform(-2, 2, x0.shape).astype(dtype)
    fwd, bwd = fns(kind)
    y_ref = fwd(x0, axis=axis)
    gx_ref = bwd(g0, x0, axis=axis)
    gy_ref = bwd(g0, y=y_ref, axis=axis)
    x = x0.copy()
    res = fwd(x, axis=axis, out=x)  # forward in place: out=x
    assert res is x and np.shares_memory(res, x)
    assert same_bits(x, y_ref)
    g = g0.copy()
    res = bwd(g, x0, axis=axis, out=g)  # backward in place: out=grad
    assert res is g and same_bits(g, gx_ref)
    g = g0.copy()
    y = y_ref.copy()
    res = bwd(g, y=y, axis=axis, out=g)
    assert res is g and same_bits(g, gy_ref)
    y = y_ref.copy()
    res = bwd(g0, y=y, axis=axis, out=y)  # out = y itself
    assert res is y and same_bits(y, gy_ref)


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("kind", kind_params())
def test_backward_same_bits_wherever_out_starts(kind, dtype):
    # the backward's write pass stores from a cache line of out on (its head by
    # itself): rows starting at every element offset within a line, inputs and output
    # shifted together or only the output, give the bits of an aligned call
    rng = np.random.default_rng(13)
    n_rows, length = 3, 1000   # rows start at different offsets within a line, too
    x = rng.normal(0, 3, (n_rows, length)).astype(dtype)
    x[1, ::7] = rng.uniform(-200.0, -100.0, x[1, ::7].shape)   # a row outside exp's normal range
    g = rng.uniform(-2, 2, x.shape).astype(dtype)
    fwd, bwd = fns(kind)
    y = fwd(x)
    ref_y, ref_x = bwd(g, y=y), bwd(g, x)
    per_line = 64 // x.itemsize
    for shift in range(per_line + 1):
        buf = np.empty(x.size + per_line, dtype)
        out = buf[shift:shift + x.size].reshape(x.shape)
        ins = [np.empty(x.size + per_line, dtype)[shift:shift + x.size].reshape(x.shape)
               for _ in range(3)]
        for a, v in zip(ins, (g, y, x)):
            a[...] = v
        assert same_bits(bwd(g, y=y, out=out), ref_y), shift
        assert same_bits(bwd(ins[0], y=ins[1], out=out), ref_y), shift
        assert same_bits(bwd(ins[0], ins[2], out=out), ref_x), shift


@pytest.mark.parametrize("dtype", dtype_params())
def test_log_softmax_backward_from_y_below_exp_range(dtype):
    # log_softmax's backward from y takes exp(y) by vexp_normal where a run's every y is
    # in [-87, 0] / [-708, 0] (or NaN), and also, by a select of vexp's exact +0, where
    # the others are below -104 / -746 (rows that span more: huge inputs); a run with a
    # y between the two (-95 / -720: vexp's subnormal results) takes vexp.  Rows of
    # each, first and last lane (the one the kernel looks at before its passes) below
    # the range or in it, against the same rows with one lane moved between (vexp's
    # bits: every other lane the same), and against float64.
    f32 = dtype == F32
    t = np.dtype(dtype).type
    lowest, zero_below = (-87.0, -104.0) if f32 else (-708.0, -746.0)
    below = np.array([np.nextafter(t(zero_below), t(-np.inf)), zero_below - 1,
                      -1e30 if f32 else -1e300, -np.inf], dtype)
    rng = np.random.default_rng(23)
    rows, length = 8, 300
    y = rng.uniform(lowest, 0.0, (rows, length)).astype(dtype)
    y[:, 1::3] = rng.choice(below, y[:, 1::3].shape)
    y[:, 0] = np.where(np.arange(rows) % 2 == 0, below[0], t(lowest))
    y[:, -1] = np.where(np.arange(rows) // 2 % 2 == 0, below[1], t(lowest))
    y[3, 5] = nan
    # grads whose products with exp(y) show: tiny ones, and one large per row for sum(g)
    g = (rng.uniform(-2, 2, y.shape) * (2.0 ** (-120 if f32 else -1000))).astype(dtype)
    g[:, 7] = rng.uniform(100, 1000, rows).astype(dtype)
    gap = y.copy()
    gap[:, 11] = t(-95.0 if f32 else -720.0)       # this row's run takes vexp
    gap[1, 11] = np.nextafter(t(zero_below), t(0))
    gap[2, 11] = t(zero_below)
    gap[4, 11] = np.nextafter(t(lowest), t(-np.inf))
    bwd = act.log_softmax_backward
    out, out_gap = bwd(g, y=y), bwd(g, y=gap)
    # in place the range is checked before the write; out of place by the write pass,
    # a failed run written again: the same bits
    for yv, o in ((y, out), (gap, out_gap)):
        on_g, on_y = g.copy(), yv.copy()
        assert same_bits(bwd(on_g, y=yv, out=on_g), o)
        assert same_bits(bwd(g, y=on_y, out=on_y), o)
    keep = np.ones(y.shape, bool)
    keep[:, 11] = False
    assert same_bits(out[keep], out_gap[keep]), "the select's +0 and vexp's differ"
    dot = g.astype(F64).sum(axis=-1, keepdims=True)
    for yv, o in ((y, out), (gap, out_gap)):
        term = np.exp(yv.astype(F64)) * dot
        ref = g.astype(F64) - term
        finite = np.isfinite(ref)
        assert np.array_equal(np.isnan(o), ~finite)
        # in ulps of the terms; below zero_below, exp(y) sum(g) < 2^-150 * 2^10 (float32)
        tol = ((np.abs(g) + np.abs(term)) * np.finfo(dtype).eps * 4
               + (2.0 ** -137 if f32 else 2.0 ** -1060))
        with np.errstate(invalid="ignore"):
            assert np.all(np.abs(o.astype(F64) - ref)[finite] <= tol[finite])


# ------------------------------------------------------------------- threads

def _thread_results(kind, x, g, axis):
    fwd, bwd = fns(kind)
    out = []
    for n in (1, 2, 3):
        act.set_num_threads(n)
        assert act.get_num_threads() == (n if act._functions._K.OPENMP else 1)
        y = fwd(x, axis=axis)
        out.append((y, bwd(g, x, axis=axis), bwd(g, y=y, axis=axis)))
    return out


@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
def test_single_long_row_float32(kind, restore_threads):
    # 2**22 entries: several reduction blocks shared by the threads; bit-identical for
    # 1, 2, 3 threads, and accurate against a float64 reference
    n = 2 ** 22
    rng = np.random.default_rng(13)
    x = rng.normal(0, 4, n).astype(np.float32)
    x[::100_003] = 25.0  # a few large entries
    g = rng.uniform(-1, 1, n).astype(np.float32)
    res = _thread_results(kind, x, g, -1)
    for k in range(3):
        assert same_bits(res[0][k], res[1][k]) and same_bits(res[0][k], res[2][k]), k
    x64 = x.astype(np.float64)
    m = x64.max()
    d = x64 - m
    s = np.exp(d).sum()
    y, gx = res[0][0].astype(np.float64), res[0][1].astype(np.float64)
    eps = float(np.finfo(np.float32).eps)
    if kind == "softmax":
        ref = np.exp(d) / s
        np.testing.assert_allclose(y, ref, rtol=4 * eps, atol=0)
        ref_g = ref * (g - np.dot(g.astype(np.float64), ref))
        atol = 8 * eps * ref * (np.abs(g) + abs(np.dot(g.astype(np.float64), ref)))
    else:
        ref = d - np.log(s)
        np.testing.assert_allclose(y, ref, rtol=4 * eps, atol=0)
        ref_g = g - np.exp(ref) * g.astype(np.float64).sum()
        atol = 8 * eps * (np.abs(g) + np.exp(ref) * abs(g.astype(np.float64).sum()))
    assert (np.abs(gx - ref_g) <= atol).all()


@pytest.mark.parametrize("shape, axis", [((4096, 33), -1), ((20000, 5), -1),
                                         ((40, 300, 50), 1), ((300, 400), 0)],
                         ids=["rows-4096x33", "rows-20000x5", "column-40x300x50", "column-axis0"])
@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("kind", kind_params())
def test_many_rows_identical_for_1_2_3_threads(kind, dtype, shape, axis, restore_threads):
    rng = np.random.default_rng(14)
    x = rng.normal(0, 4, shape).astype(dtype)
    x.flat[::997] = -inf
    g = rng.uniform(-1, 1, shape).astype(dtype)
    res = _thread_results(kind, x, g, axis)
    for k in range(3):
        assert same_bits(res[0][k], res[1][k]), ("1 vs 2 threads", k)
        assert same_bits(res[0][k], res[2][k]), ("1 vs 3 threads", k)


# ------------------------------------------------------------------- errors

@pytest.mark.parametrize("axis", [2, -3, 5])
@pytest.mark.parametrize("kind", kind_params())
def test_axis_out_of_range(kind, axis):
    x = np.ones((3, 4))
    out = np.full_like(x, 7.0)
    fwd, bwd = fns(kind)
    with pytest.raises(AxisError):
        fwd(x, axis=axis, out=out)
    with pytest.raises(AxisError):
        bwd(np.ones_like(x), x, axis=axis, out=out)
    with pytest.raises(AxisError):
        bwd(np.ones_like(x), y=x, axis=axis, out=out)
    with pytest.raises(AxisError):
        fwd(np.float64(1.0), axis=1)  # 0-d: axis 0 or -1 only
    assert (out == 7.0).all()


@pytest.mark.parametrize("kind", kind_params())
def test_argument_errors(kind):
    fwd, bwd = fns(kind)
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    out = np.full_like(x, 7.0)
    with pytest.raises(TypeError):
        fwd(x.astype(np.int64))
    with pytest.raises(TypeError):
        fwd(x, axis=1.0)
    with pytest.raises(ValueError):
        fwd(x, out=np.empty((4, 3)))
    with pytest.raises(TypeError):
        fwd(x, out=np.empty((3, 4), np.float32))
    with pytest.raises(ValueError):
        bwd(np.ones((3, 3)), x, out=out)  # grad shape mismatch
    with pytest.raises(TypeError):
        bwd(np.ones((3, 4), np.float32), x, out=out)  # no silent cast
    with pytest.raises(TypeError):
        bwd(np.ones_like(x), x, y=x, out=out)  # both x and y
    with pytest.raises(TypeError):
        bwd(np.ones_like(x), out=out)  # neither
    assert (out == 7.0).all()


# ------------------------------------------------------------------- PyTorch

@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("kind", kind_params())
def test_matches_torch(kind, dtype, axis):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    tf = {"softmax": F.softmax, "log_softmax": F.log_softmax, "softmin": F.softmin}[kind]
    rng = np.random.default_rng(15)
    x = rng.normal(0, 4, (6, 50, 7)).astype(dtype)
    x[0, 3, :] = -inf if kind != "softmin" else inf  # all -inf along the last axis
    x[1, 4, 2] = -inf if kind != "softmin" else inf
    g = rng.uniform(-2, 2, x.shape).astype(dtype)
    t = torch.tensor(x, requires_grad=True)
    ty = tf(t, dim=axis)
    ty.backward(torch.tensor(g))
    ty, tg = ty.detach().numpy(), t.grad.numpy()
    fwd, bwd = fns(kind)
    y, gx = fwd(x, axis=axis), bwd(g, x, axis=axis)
    assert np.array_equal(np.isnan(y), np.isnan(ty))
    assert np.array_equal(np.isnan(gx), np.isnan(tg))
    ok = ~np.isnan(ty)
    assert (np.isneginf(y) == np.isneginf(ty)).all()
    fin = ok & np.isfinite(ty)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(y[fin], ty[fin], rtol=16 * eps, atol=16 * eps)
    okg = ~np.isnan(tg)
    np.testing.assert_allclose(gx[okg], tg[okg], rtol=0, atol=32 * eps * 2)
