"""Property-based tests (Hypothesis) over the whole contract of docs/api.md.

Random shapes, layouts (contiguous, transposed, strided, byte-swapped, read-only),
dtypes, parameters (valid and invalid) and `out` choices (none, fresh, in place,
wrong dtype / shape / layout, read-only, partially overlapping an input).  Every call
either raises a documented error (TypeError, ValueError, AxisError) having written
nothing, or returns the reference value: NumPy float64 formulas (tests/reference.py
for the elementwise functions, written here for the others), within a tolerance
loose enough for every function's stated accuracy and tight enough that an unwritten
or misplaced element fails.  Bounded: a few hundred examples, well under a minute.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import activations as act
from activations import _spec
from cases import REFERENCES

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

try:
    from numpy.exceptions import AxisError
except ImportError:  # numpy < 1.25
    from numpy import AxisError

DOCUMENTED = (TypeError, ValueError, AxisError)
SENTINEL = 7.25
KIND = {s.name: s.kind for s in _spec.SPECS}
ELEMENTWISE = sorted(n for n in act.names() if KIND[n] == "elementwise" and n in REFERENCES)
PROPERTY_SETTINGS = settings(max_examples=100, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.data_too_large])


# ------------------------------------------------------------------ strategies

@st.composite
def arrays(draw, dtype, shape):
    """Values in [-6, 6] (special values have tests of their own) in a random layout
    holding those values: C order, transposed, a strided slice, byte-swapped,
    read-only."""
    size = int(np.prod(shape))
    values = draw(st.lists(st.floats(-6, 6, width=32), min_size=size, max_size=size))
    base = np.array(values, dtype=np.float64).reshape(shape).astype(dtype)
    layout = draw(st.sampled_from(["c", "transposed", "strided", "swapped", "read-only"]))
    if layout == "transposed" and base.ndim >= 2:
        arr = np.ascontiguousarray(base.T).T
    elif layout == "strided":
        wide = np.zeros(shape[:-1] + (2 * shape[-1],) if shape else (2,), dtype)
        arr = wide[..., ::2] if shape else wide[::2].reshape(())
        arr[...] = base
    elif layout == "swapped":
        arr = base.astype(base.dtype.newbyteorder())
    else:
        arr = base.copy()
        if layout == "read-only":
            arr.flags.writeable = False
    assert np.array_equal(arr, base)
    return arr


shapes = st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple)
dtypes = st.sampled_from([np.float32, np.float64])


def _param_value(draw, default):
    """A parameter value: mostly valid, sometimes invalid in a documented way."""
    kind = draw(st.sampled_from(["valid"] * 6 + ["nan", "inf", "string", "huge", "negative"]))
    if kind == "valid":
        return draw(st.floats(0.05, 3.0)) if default is not None else draw(st.floats(-2, 2))
    return {"nan": float("nan"), "inf": float("inf"), "string": "0.5", "huge": 1e300,
            "negative": -0.5}[kind]


@st.composite
def out_choice(draw, shape, dtype, inputs):
    """(out, description): None, a fresh array, an input itself, or a bad one."""
    kind = draw(st.sampled_from(["none", "none", "fresh", "fresh", "same", "float16", "shape",
                                 "read-only", "strided", "overlap"]))
    if kind == "none":
        return None, kind
    if kind == "fresh":
        return np.full(shape, SENTINEL, dtype), kind
    if kind == "same":
        same = [a for a in inputs if a.shape == shape and a.dtype == dtype
                and a.flags.c_contiguous and a.flags.writeable and a.dtype.isnative]
        return (same[0] if same else None), kind
    if kind == "float16":
        return np.full(shape, SENTINEL, np.float16), kind
    if kind == "shape":
        return np.full(tuple(shape) + (2,), SENTINEL, dtype), kind
    if kind == "read-only":
        out = np.full(shape, SENTINEL, dtype)
        out.flags.writeable = False
        return out, kind
    if kind == "strided":
        size = int(np.prod(shape))
        if size < 2:
            return None, "none"
        return np.full(2 * size, SENTINEL, dtype)[::2].reshape(shape), kind
    # overlap: out shares memory with an input without being it (here: a shifted
    # view of a copy of the first input, which then is the input passed)
    return "overlap", kind


def _check(call, inputs, out, expected_fn, rtol, atol):
    """Run `call(inputs, out)`; a documented error must leave out and the inputs
    untouched, a result must match expected_fn()."""
    snapshots = [np.array(a, copy=True) for a in inputs]
    out_before = None if out is None else np.array(out, copy=True)
    try:
        res = call(inputs, out)
    except DOCUMENTED:
        if out is not None:
            np.testing.assert_array_equal(out, out_before)
        for a, before in zip(inputs, snapshots):
            if out is None or not np.shares_memory(a, out):
                np.testing.assert_array_equal(a, before)
        return
    expected = expected_fn(snapshots)
    if out is not None:
        assert res is out
    res = np.asarray(res, dtype=np.float64)
    np.testing.assert_allclose(res, expected, rtol=rtol, atol=atol)


def _tolerance(dtype):
    return (2e-5, 1e-5) if dtype == np.float32 else (1e-9, 1e-12)


def _overlapping(x, shape, dtype, shift):
    """A copy of x placed in a buffer, and an out of `shape` starting `shift` elements
    later in the same buffer (partially overlapping x when both are non-empty)."""
    size = max(x.size, int(np.prod(shape)))
    buf = np.zeros(size + shift, dtype)
    xv = buf[:x.size].reshape(x.shape)
    xv[...] = x
    return xv, buf[shift:shift + int(np.prod(shape))].reshape(shape)


# ------------------------------------------------------------------ elementwise

@PROPERTY_SETTINGS
@given(data=st.data(), name=st.sampled_from(ELEMENTWISE), dtype=dtypes, shape=shapes,
       backward=st.booleans())
def test_elementwise_contract(data, name, dtype, shape, backward):
    ref = REFERENCES[name]
    spec = next(s for s in _spec.SPECS if s.name == name)
    params = {}
    for k, default in spec.params.items():
        if k == "approximate":
            params[k] = data.draw(st.sampled_from(["none", "tanh"]))
        elif k == "value":
            params[k] = data.draw(st.floats(-3, 3))
        elif data.draw(st.booleans()) or default is None:
            params[k] = _param_value(data.draw, default)
    x = data.draw(arrays(dtype, shape))
    g = data.draw(arrays(dtype, shape))
    out, kind = data.draw(out_choice(shape, dtype, [g] if backward else [x]))
    if isinstance(out, str):  # "overlap"
        shift = data.draw(st.integers(1, 3))
        if backward:
            g, out = _overlapping(g, shape, dtype, shift)
        else:
            x, out = _overlapping(x, shape, dtype, shift)
    fn = act.get(name)

    def call(inputs, out):
        if backward:
            return fn.backward(inputs[0], inputs[1], out=out, **params)
        return fn.forward(inputs[0], out=out, **params)

    def expected(snap):
        p = ref.effective({k: v for k, v in params.items()}, dtype)
        xs = snap[-1].astype(np.float64)
        if backward:
            return snap[0].astype(np.float64) * ref.derivative_np(xs, p)
        return ref.forward_np(xs, p)

    rtol, atol = _tolerance(dtype)
    if name in ("softplus", "celu", "elu", "swish") or backward:
        atol *= 10  # large or small parameters scale the derivative and its rounding
        rtol *= 10
    _check(call, [g, x] if backward else [x], out, expected, rtol, atol)


# ------------------------------------------------------------------ softmax family

def _softmax_np(x, axis, name):
    z = -x if name == "softmin" else x
    m = np.max(z, axis=axis, keepdims=True) if z.size else z
    e = np.exp(z - m)
    s = np.sum(e, axis=axis, keepdims=True)
    return (z - m - np.log(s)) if name == "log_softmax" else e / s


@PROPERTY_SETTINGS
@given(data=st.data(), name=st.sampled_from(["softmax", "log_softmax", "softmin"]),
       dtype=dtypes, shape=shapes, backward=st.booleans(),
       axis=st.one_of(st.integers(-4, 3), st.just(2**63), st.just("a")))
def test_softmax_contract(data, name, dtype, shape, backward, axis):
    x = data.draw(arrays(dtype, shape))
    g = data.draw(arrays(dtype, shape))
    out, kind = data.draw(out_choice(shape, dtype, [g] if backward else [x]))
    if isinstance(out, str):  # "overlap"
        x, out = _overlapping(x, shape, dtype, data.draw(st.integers(1, 3)))
    fn = act.get(name)

    def call(inputs, out):
        if backward:
            return fn.backward(inputs[0], inputs[1], axis=axis, out=out)
        return fn.forward(inputs[0], axis=axis, out=out)

    def expected(snap):
        xs = snap[-1].astype(np.float64)
        ax = axis if xs.ndim else None
        if xs.ndim == 0:
            xs = xs.reshape(1)
            ax = 0
        y = _softmax_np(xs, ax, name)
        if not backward:
            return y.reshape(snap[-1].shape)
        gs = snap[0].astype(np.float64).reshape(xs.shape)
        if name == "log_softmax":
            res = gs - np.exp(y) * np.sum(gs, axis=ax, keepdims=True)
        else:
            sign = -1.0 if name == "softmin" else 1.0
            res = sign * y * (gs - np.sum(gs * y, axis=ax, keepdims=True))
        return res.reshape(snap[-1].shape)

    rtol, atol = _tolerance(dtype)
    _check(call, [g, x] if backward else [x], out, expected, rtol * 10, atol * 10)


# ------------------------------------------------------------------ gated

def _gelu(z):
    return 0.5 * z * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0))) if z.size else z


@PROPERTY_SETTINGS
@given(data=st.data(), name=st.sampled_from(["glu", "swiglu", "geglu"]), dtype=dtypes,
       shape=shapes.filter(lambda s: len(s) >= 1), axis=st.integers(-3, 2))
def test_gated_forward_contract(data, name, dtype, shape, axis):
    shape = tuple(2 * d if i == axis % len(shape) and data.draw(st.booleans()) else d
                  for i, d in enumerate(shape))
    x = data.draw(arrays(dtype, shape))
    half = None
    if -len(shape) <= axis < len(shape):
        ax = axis % len(shape)
        half = shape[:ax] + (shape[ax] // 2,) + shape[ax + 1:]
    out, kind = data.draw(out_choice(half or shape, dtype, []))
    if isinstance(out, str):  # "overlap"
        x, out = _overlapping(x, half or shape, dtype, data.draw(st.integers(0, 3)))
        if not x.size:
            out = None
    fn = act.get(name)

    def expected(snap):
        xs = snap[0].astype(np.float64)
        a, b = np.split(xs, 2, axis=axis)
        if name == "glu":
            return a / (1.0 + np.exp(-b))
        if name == "swiglu":
            return a / (1.0 + np.exp(-a)) * b
        return _gelu(a) * b

    rtol, atol = _tolerance(dtype)
    _check(lambda inputs, out: fn.forward(inputs[0], axis=axis, out=out), [x], out,
           expected, rtol * 10, atol * 10)


# ------------------------------------------------------------------ prelu

@PROPERTY_SETTINGS
@given(data=st.data(), dtype=dtypes, shape=shapes, axis=st.integers(-3, 3),
       shared=st.booleans())
def test_prelu_forward_contract(data, dtype, shape, axis, shared):
    x = data.draw(arrays(dtype, shape))
    ax = 0 if len(shape) <= 1 and axis == 1 else axis
    channels = 1 if shared or not shape or not -len(shape) <= ax < len(shape) else shape[ax]
    if data.draw(st.integers(0, 9)) == 0:
        channels += 1    # a wrong length now and then
    w = np.array(data.draw(st.lists(st.floats(0, 1), min_size=channels, max_size=channels)))
    out, kind = data.draw(out_choice(shape, dtype, [x]))
    if isinstance(out, str):  # "overlap"
        x, out = _overlapping(x, shape, dtype, data.draw(st.integers(1, 3)))

    def expected(snap):
        xs = snap[0].astype(np.float64)
        wd = w.astype(dtype).astype(np.float64)
        if wd.size != 1:  # one weight per channel along ax (none for 0 channels)
            bshape = [1] * xs.ndim
            bshape[ax] = wd.size
            wd = wd.reshape(bshape)
        return np.where(xs > 0, xs, wd * xs)

    rtol, atol = _tolerance(dtype)
    _check(lambda inputs, out: act.prelu(inputs[0], w, axis=axis, out=out), [x], out,
           expected, rtol, atol)
