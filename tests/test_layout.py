"""Memory layout and the out= contract: in place, strides, N-d, 0-d, empty, tails.

Every result is compared bitwise with the same computation on a fresh C-contiguous
copy (the kernels are elementwise, so layout must not change a single bit).
"""

from __future__ import annotations

import numpy as np
import pytest

import activations as act
from cases import NAMES, call_params, dtype_params, function_defaults, same_bits

# (mode, call(name, arrays...)): forward, backward from x, backward from y
MODES = ["forward", "backward_x", "backward_y"]


def _takes_y(name):
    return "y" in act.get(name).backward_takes


def _mode_params():
    out = []
    for name in NAMES:
        for mode in MODES:
            if mode == "backward_y" and not _takes_y(name):
                continue
            out.append(pytest.param(name, mode, id=f"{name}-{mode}"))
    return out


def _inputs(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-6, 6, shape).astype(dtype)
    g = rng.uniform(-2, 2, shape).astype(dtype)
    return x, g


def _call(name, mode, x, g, out=None):
    """The operation under test; for backward_y, x is taken as the y given."""
    fn = act.get(name)
    p = call_params(name)
    if mode == "forward":
        return fn.forward(x, out=out, **p)
    if mode == "backward_x":
        return fn.backward(g, x, out=out, **p)
    return fn.backward(g, y=x, out=out, **p)


def _y_like(name, x):
    """A valid forward output to feed as y (same layout as x)."""
    y = np.empty_like(x)
    y[...] = act.get(name).forward(np.ascontiguousarray(x), **call_params(name))
    return y


def _expected(name, mode, x, g):
    return _call(name, mode, np.ascontiguousarray(x).copy(), np.ascontiguousarray(g).copy())


def _assert_bitwise(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    assert same_bits(a, b)


# ------------------------------------------------------------------- out=None

@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, mode", _mode_params())
def test_new_output_and_inputs_untouched(name, mode, dtype):
    x, g = _inputs((7, 9), dtype)
    if mode == "backward_y":
        x = _y_like(name, x)
    x0, g0 = x.copy(), g.copy()
    res = _call(name, mode, x, g)
    assert type(res) is np.ndarray and res.dtype == dtype and res.shape == x.shape
    assert res.flags.c_contiguous and res.flags.writeable
    assert not np.shares_memory(res, x) and not np.shares_memory(res, g)
    _assert_bitwise(x, x0)
    _assert_bitwise(g, g0)


# ------------------------------------------------------------------- in place

def _target_params():
    return [pytest.param(*p.values, t, id=f"{p.id}-out={t}") for p in _mode_params()
            for t in ("input", "grad", "separate") if not (t == "grad" and p.values[1] == "forward")]


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, mode, target", _target_params())
def test_out_argument(name, mode, target, dtype):
    n = 100_003 if target == "input" else 1001  # in place above the parallel threshold too
    x, g = _inputs((n,), dtype, seed=3)
    if mode == "backward_y":
        x = _y_like(name, x)
    expected = _expected(name, mode, x, g)
    out = {"input": x, "grad": g, "separate": np.full_like(x, 123.0)}[target]
    res = _call(name, mode, x, g, out=out)
    assert res is out
    assert np.shares_memory(res, out)
    _assert_bitwise(out, expected)


def test_in_place_forward_then_backward_from_y():
    # the workflow docs/api.md gives y for: forward in place, then backward from its y
    x = np.linspace(-5, 5, 1001)
    g = np.linspace(1, 2, 1001)
    expected = act.tanh_backward(g, y=act.tanh(x))  # out of place
    buf = x.copy()
    y = act.tanh(buf, out=buf)
    assert y is buf
    gx = act.tanh_backward(g, y=y, out=g)
    assert gx is g
    np.testing.assert_array_equal(gx, expected)
    np.testing.assert_allclose(gx, act.tanh_backward(np.linspace(1, 2, 1001), x), rtol=1e-10)


# ------------------------------------------------------------------- layouts

def _views(dtype):
    """(id, view) pairs of non-contiguous / N-d inputs over a random base."""
    base = np.random.default_rng(5).uniform(-6, 6, 4 * 5 * 6 * 7).astype(dtype)
    b4 = base.reshape(4, 5, 6, 7)
    return [
        ("step2", base[::2]),
        ("step3-offset1", base[1::3]),
        ("reversed", base[::-1]),
        ("step-4", base[::-4]),
        ("2d-transposed", base[:30 * 28].reshape(30, 28).T),
        ("2d-fortran", np.asfortranarray(base[:30 * 28].reshape(30, 28))),
        ("4d-sliced", b4[:, 1:4, ::2, ::-1]),
        ("4d-swapaxes", b4.swapaxes(1, 3)),
        ("3d", base.reshape(20, 6, 7)),
    ]


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, mode", _mode_params())
def test_non_contiguous_inputs(name, mode, dtype):
    for vid, v in _views(dtype):
        x = _y_like(name, v) if mode == "backward_y" else v
        g = np.random.default_rng(9).uniform(-2, 2, v.shape).astype(dtype)[...]
        g_view = np.flip(g, axis=0)  # a non-contiguous grad as well
        expected = _expected(name, mode, x, g_view)
        res = _call(name, mode, x, g_view)
        assert res.flags.c_contiguous, vid
        assert res.dtype == np.dtype(dtype).newbyteorder("=") or res.dtype == dtype, vid
        assert same_bits(res, expected), vid


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, mode", _mode_params())
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (1,), (1, 1, 1)],
                         ids=["0d", "empty", "empty-3d", "len1", "1x1x1"])
def test_small_and_empty_shapes(name, mode, shape, dtype):
    x, g = _inputs(shape, dtype, seed=2)
    if mode == "backward_y":
        x = _y_like(name, x)
    res = _call(name, mode, x, g)
    # docs/api.md: a 0-d input without out gives a NumPy scalar, as ufuncs do
    kind = np.generic if shape == () else np.ndarray
    assert isinstance(res, kind) and res.shape == shape and res.dtype == dtype
    out = np.empty(shape, dtype)
    assert _call(name, mode, x, g, out=out) is out
    _assert_bitwise(out, res)
    if x.size:
        # compare with the value computed inside a longer array
        long_x = np.concatenate([x.ravel(), np.zeros(40, dtype)])
        long_g = np.concatenate([g.ravel(), np.ones(40, dtype)])
        assert np.array_equal(res.ravel(), _call(name, mode, long_x, long_g)[: x.size],
                              equal_nan=True)


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, mode", _mode_params())
def test_every_length_and_offset(name, mode, dtype, simd_level):
    # SIMD tails: every length 1..33 at offsets 0..3 elements, compared with the
    # result over the whole array (the same element must give the same bits)
    x, g = _inputs((40,), dtype, seed=4)
    x[::5] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 3.0][: x[::5].size]
    if mode == "backward_y":
        x = _y_like(name, x)
    whole = _call(name, mode, x, g)
    for offset in range(4):
        for n in range(1, 34):
            if offset + n > x.size:
                break
            xs = x[offset:offset + n].copy()
            gs = g[offset:offset + n].copy()
            res = _call(name, mode, xs, gs)
            assert same_bits(res, whole[offset:offset + n]), (offset, n)
            # strided versions of the same elements, both directions
            for step in (2, 3, -1, -2):
                idx = np.arange(offset, offset + n)[:: 1 if step > 0 else -1]
                xx = np.zeros(abs(step) * n, dtype)
                gg = np.zeros(abs(step) * n, dtype)
                xx[:: abs(step)] = x[idx]
                gg[:: abs(step)] = g[idx]
                xv, gv = (xx[:: abs(step)], gg[:: abs(step)])
                if step < 0:
                    xv, gv = xv[::-1], gv[::-1]
                    idx = idx[::-1]
                res = _call(name, mode, xv, gv)
                assert same_bits(res, whole[idx]), (offset, n, step)


def _at_line_offset(n, dtype, offset):
    """n zeros of dtype starting `offset` elements past a 64-byte cache line."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros((n + 2 * 64 // itemsize) * itemsize, np.uint8)
    start = (-raw.ctypes.data) % 64 + offset * itemsize
    return raw[start:start + n * itemsize].view(dtype)


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, mode", _mode_params())
def test_out_at_every_offset_from_a_cache_line(name, mode, dtype):
    # a long chunk may start its stores at a cache line (_kernels.pyx, task_range; the
    # backward from y too, _spec.MEMORY_BOUND_FROM_OUTPUT): wherever out and the inputs
    # start, every element keeps its bits
    n = 5003
    x, g = _inputs((n,), dtype, seed=6)
    x[::97] = np.inf
    x[1::89] = np.nan
    if mode == "backward_y":
        x = _y_like(name, x)
    whole = _call(name, mode, x, g)
    for offset in range(64 // np.dtype(dtype).itemsize):
        xs, gs, out = (_at_line_offset(n, dtype, offset) for _ in range(3))
        xs[...] = x
        gs[...] = g
        assert same_bits(_call(name, mode, xs, gs, out=out), whole), offset


@pytest.mark.parametrize("name", function_defaults())
def test_array_likes(name):
    fn = act.get(name)
    p = call_params(name)
    res = fn.forward([0.5, -1.0, 2.0], **p)
    assert isinstance(res, np.ndarray) and res.dtype == np.float64
    np.testing.assert_array_equal(res, fn.forward(np.array([0.5, -1.0, 2.0]), **p))
    res0 = fn.forward(np.float32(0.5), **p)
    assert isinstance(res0, np.float32)   # a scalar in, a NumPy scalar out
    res_py = fn.forward(0.5, **p)
    assert isinstance(res_py, np.float64)
    gx = fn.backward([1.0, 1.0, 1.0], [0.5, -1.0, 2.0], **p)
    np.testing.assert_array_equal(gx, fn.backward(np.ones(3), np.array([0.5, -1.0, 2.0]), **p))


# ------------------------------------- byte-swapped and unaligned inputs (fixed bugs)
# Both were strict xfails (the messages below), fixed on main in dd37c38.

FIXED_BYTESWAPPED = (
    "a non-native byte order float32/float64 x is refused: _validation.as_input tests "
    "`arr.dtype not in (float32, float64)`, and dtype('>f4') != dtype('<f4'), so "
    "act.sigmoid(np.zeros(3, '>f4')) raises 'TypeError: x has dtype >f4; supported "
    "dtypes are float32 and float64' (the byte-swap branch after it is never reached)")

FIXED_UNALIGNED = (
    "a C-contiguous but unaligned x is not copied (np.ascontiguousarray returns it as "
    "is), so the kernel refuses it and the call raises 'RuntimeError: internal error: "
    "validated arguments were refused': act.sigmoid(np.frombuffer(bytes(13), "
    "np.float32, offset=1))")


def _odd_buffer(kind, arr):
    if kind == "byteswapped":
        return arr.astype(arr.dtype.newbyteorder())
    raw = np.frombuffer(b"\0" + arr.tobytes(), dtype=arr.dtype, offset=1)
    assert not raw.flags.aligned and raw.flags.c_contiguous
    return raw


@pytest.mark.parametrize("kind", ["byteswapped", "unaligned"])
@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, mode", [p for p in _mode_params()
                                        if p.values[0] in ("sigmoid", "swish")])
def test_byteswapped_or_unaligned_inputs(name, mode, dtype, kind):
    x, g = _inputs((37,), dtype, seed=8)
    if mode == "backward_y":
        x = _y_like(name, x)
    expected = _expected(name, mode, x, g)
    res = _call(name, mode, _odd_buffer(kind, x), _odd_buffer(kind, g))
    assert np.array_equal(res, expected, equal_nan=True)
