"""Defects found by probing the package as a demanding user would, kept out.

Each group names the contract it checks (docs/api.md); expected values come from
NumPy float64 formulas or an independent generator written here, never from the
package.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import activations as act
from activations import _spec, _threadstate
from cases import same_bits

try:
    from numpy.exceptions import AxisError
except ImportError:  # numpy < 1.25
    from numpy import AxisError

OPENMP = bool(act._functions._K.OPENMP)
SPECS = {s.name: s for s in _spec.SPECS}
SENTINEL = 7.25


# ------------------------------------------------------------------ calls of every kind

def _calls():
    """name -> (call(out) -> result, out shape, {input name: array}) for one call of
    each function kind and direction that takes an `out` (inputs 4 x 6, float64)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-3, 3, (4, 6))
    g = rng.uniform(-1, 1, (4, 6))
    gh = rng.uniform(-1, 1, (4, 3))
    w = rng.uniform(0.1, 0.9, 6)
    calls = {
        "sigmoid": (lambda out, x=x: act.sigmoid(x, out=out), (4, 6), {"x": x}),
        "sigmoid_backward": (lambda out, g=g, x=x: act.sigmoid_backward(g, x, out=out),
                             (4, 6), {"grad": g, "x": x}),
        "prelu": (lambda out, x=x, w=w: act.prelu(x, w, out=out), (4, 6), {"x": x, "weight": w}),
        "prelu_backward": (lambda out, g=g, x=x, w=w: act.prelu_backward(g, x, w, axis=1,
                                                                         out=out)[0],
                           (4, 6), {"grad": g, "x": x, "weight": w}),
        "rrelu_training": (lambda out, x=x: act.rrelu(x, training=True, seed=3, out=out),
                           (4, 6), {"x": x}),
        "rrelu_training_backward": (
            lambda out, g=g, x=x: act.rrelu_backward(g, x, training=True, seed=3, out=out),
            (4, 6), {"grad": g, "x": x}),
    }
    for name in ("softmax", "log_softmax", "softmin"):
        fn = act.get(name)
        y = fn.forward(x)
        calls[name] = (lambda out, fn=fn, x=x: fn.forward(x, out=out), (4, 6), {"x": x})
        calls[f"{name}_backward_x"] = (lambda out, fn=fn, g=g, x=x: fn.backward(g, x, out=out),
                                       (4, 6), {"grad": g, "x": x})
        calls[f"{name}_backward_y"] = (lambda out, fn=fn, g=g, y=y: fn.backward(g, y=y, out=out),
                                       (4, 6), {"grad": g, "y": y})
    for name in ("glu", "swiglu", "geglu"):
        fn = act.get(name)
        calls[name] = (lambda out, fn=fn, x=x: fn.forward(x, out=out), (4, 3), {"x": x})
        calls[f"{name}_backward"] = (lambda out, fn=fn, gh=gh, x=x: fn.backward(gh, x, out=out),
                                     (4, 6), {"grad": gh, "x": x})
    return calls


CALLS = sorted(_calls())


def _bad_outs(shape):
    ro = np.full(shape, SENTINEL)
    ro.flags.writeable = False
    wide = np.full((shape[0], 2 * shape[1]), SENTINEL)
    return {
        "shape": (np.full((shape[0] + 1,) + shape[1:], SENTINEL), ValueError),
        "flat": (np.full(int(np.prod(shape)), SENTINEL), ValueError),
        "float32": (np.full(shape, SENTINEL, np.float32), TypeError),
        "int64": (np.full(shape, 7, np.int64), TypeError),
        "strided": (wide[:, ::2], ValueError),
        "fortran": (np.asfortranarray(np.full(shape, SENTINEL)), ValueError),
        "read-only": (ro, ValueError),
        "list": (np.full(shape, SENTINEL).tolist(), TypeError),
    }


BAD_OUT_CASES = ["shape", "flat", "float32", "int64", "strided", "fortran", "read-only",
                 "list"]


@pytest.mark.parametrize("case", BAD_OUT_CASES)
@pytest.mark.parametrize("name", CALLS)
def test_bad_out_every_kind(name, case):
    """The bad-`out` matrix for every kind: the documented error, nothing written."""
    call, shape, _ = _calls()[name]
    out, err = _bad_outs(shape)[case]
    before = np.array(out, copy=True)
    with pytest.raises(err):
        call(out)
    np.testing.assert_array_equal(np.asarray(out), before)


def _overlap_cases():
    out = []
    for name in CALLS:
        for which in _calls()[name][2]:
            for shift in (1, -1, 5):
                out.append(pytest.param(name, which, shift, id=f"{name}-{which}-{shift}"))
    return out


@pytest.mark.parametrize("name, which, shift", _overlap_cases())
def test_partial_overlap_every_input(name, which, shift):
    """`out` sharing memory with any input (x, grad, y, prelu's weight) without being
    it: ValueError with nothing written, or the correct result."""
    call, shape, inputs = _calls()[name]
    src = inputs[which]
    expected = np.array(call(None), copy=True)
    n_in, n_out = src.size, int(np.prod(shape))
    buf = np.zeros(max(n_in, n_out) + abs(shift))
    lo, hi = (0, shift) if shift > 0 else (-shift, 0)
    view = buf[lo:lo + n_in].reshape(src.shape)
    view[...] = src
    out = buf[hi:hi + n_out].reshape(shape)
    # rebuild the call on the overlapping input
    inputs_over = dict(inputs, **{which: view})
    call_over = _rebind(name, inputs_over)
    before = buf.copy()
    try:
        res = call_over(out)
    except ValueError as exc:
        assert "overlap" in str(exc), exc
        np.testing.assert_array_equal(buf, before)
        return
    assert res is out
    np.testing.assert_array_equal(out, expected)


def _rebind(name, arrays):
    """The call of `name` on the given input arrays."""
    x = arrays.get("x")
    if name == "prelu":
        return lambda out: act.prelu(x, arrays["weight"], out=out)
    if name == "prelu_backward":
        return lambda out: act.prelu_backward(arrays["grad"], x, arrays["weight"], out=out)[0]
    if name == "rrelu_training":
        return lambda out: act.rrelu(x, training=True, seed=3, out=out)
    if name == "rrelu_training_backward":
        return lambda out: act.rrelu_backward(arrays["grad"], x, training=True, seed=3, out=out)
    if name == "sigmoid":
        return lambda out: act.sigmoid(x, out=out)
    if name == "sigmoid_backward":
        return lambda out: act.sigmoid_backward(arrays["grad"], x, out=out)
    base, _, mode = name.partition("_backward")
    fn = act.get(base)
    if not name.endswith(("_backward", "_backward_x", "_backward_y")):
        return lambda out: fn.forward(x, out=out)
    if mode == "_y":
        return lambda out: fn.backward(arrays["grad"], y=arrays["y"], out=out)
    return lambda out: fn.backward(arrays["grad"], x, out=out)


def test_prelu_out_overlapping_weight():
    """The reported case: out's first row is the weight."""
    buf = np.zeros(12)
    w = buf[:4]
    w[:] = [.5, .25, 2, 3]
    with pytest.raises(ValueError, match="weight"):
        act.prelu(-np.ones((3, 4)), w, out=buf.reshape(3, 4))
    np.testing.assert_array_equal(buf, [.5, .25, 2, 3] + [0.0] * 8)


# ------------------------------------------------------------------ signed zeros

def _zero_cases():
    """(name, params with a zero, reference(x, params)) for parameters where the sign
    of a zero changes the result."""
    return [
        ("threshold", "value", {"threshold": 0.5},
         lambda x, p: np.where(x > p["threshold"], x, p["value"])),
        ("threshold", "threshold", {"value": 2.0},
         lambda x, p: np.where(x > p["threshold"], x, p["value"])),
        # (the backward: the forward's a * x is a signed zero either way for a = +-0)
        ("leaky_relu_backward", "negative_slope", {},
         lambda x, p: np.where(x > 0, 1.0, p["negative_slope"])),
        ("hard_tanh", "min_val", {"max_val": 1.0},
         lambda x, p: np.where(x < p["min_val"], p["min_val"],
                               np.where(x > p["max_val"], p["max_val"], x))),
        ("hard_tanh", "max_val", {"min_val": -1.0},
         lambda x, p: np.where(x < p["min_val"], p["min_val"],
                               np.where(x > p["max_val"], p["max_val"], x))),
        ("elu", "alpha", {}, lambda x, p: np.where(x > 0, x, p["alpha"] * np.expm1(x))),
    ]


@pytest.mark.parametrize("name, pname, fixed, ref", _zero_cases(),
                         ids=[f"{c[0]}-{c[1]}" for c in _zero_cases()])
def test_results_do_not_depend_on_call_history(name, pname, fixed, ref):
    """0.0 and -0.0 are equal dict keys; the parameter cache must keep them apart."""
    base, backward, _ = name.partition("_backward")
    fn = act.get(base).forward
    if backward:
        fn = lambda x, **p: act.get(base).backward(np.ones_like(x), x, **p)  # noqa: E731
    x = np.array([-2.0, -0.5, -0.0, 0.0, 0.25, 3.0])
    for order in ((0.0, -0.0, 0.0), (-0.0, 0.0, -0.0)):
        for zero in order:
            params = dict(fixed, **{pname: zero})
            assert same_bits(fn(x, **params), ref(x, params)), (order, zero)


# ------------------------------------------------------------------ float32 parameters

FLOAT32_BAD = [
    ("softplus", {"beta": 1e300}), ("softplus", {"beta": 1e-50}),
    ("softplus", {"threshold": 1e39}), ("leaky_relu", {"negative_slope": 1e300}),
    ("leaky_relu", {"negative_slope": -1e39}), ("elu", {"alpha": 1e300}),
    ("celu", {"alpha": 1e-50}), ("celu", {"alpha": 1e300}), ("swish", {"beta": 1e39}),
    ("hard_tanh", {"min_val": -1e300}), ("softshrink", {"lambd": 1e300}),
    ("hardshrink", {"lambd": 1e300}), ("threshold", {"threshold": 1e300, "value": 0.0}),
]


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("name, params", FLOAT32_BAD,
                         ids=[f"{n}-{','.join(p)}" for n, p in FLOAT32_BAD])
def test_parameters_checked_after_conversion_to_float32(name, params, direction):
    """A parameter that is valid as a float64 but not after conversion to float32
    (infinite, or zero where zero is refused) raises ValueError naming it, for float32
    data only; float64 data takes it."""
    fn = act.get(name)
    x32 = np.array([-1.0, 0.0, 1.0], np.float32)
    out = np.full(3, SENTINEL, np.float32)
    bad_name = next(k for k in params if k != "value")
    with pytest.raises(ValueError, match=bad_name):
        if direction == "forward":
            fn.forward(x32, out=out, **params)
        else:
            fn.backward(np.ones(3, np.float32), x32, out=out, **params)
    assert (out == SENTINEL).all()
    res = fn.forward(x32.astype(np.float64), **params)   # float64: valid
    assert not np.isnan(res).any()


@pytest.mark.parametrize("name, params", [("leaky_relu", {"negative_slope": 1e-50}),
                                          ("elu", {"alpha": 1e-50}), ("celu", {"alpha": 1e-50})])
def test_backward_from_y_checked_after_conversion_to_float32(name, params):
    """A slope or alpha that is positive in float64 but 0 in float32: y no longer
    determines x, so backward from float32 y raises; from float64 y it works."""
    fn = act.get(name)
    y32 = np.array([-1e-3, 0.5], np.float32)
    if name == "celu":  # alpha = 1e-50 in float32 is 0: refused even forward
        pytest.raises(ValueError, fn.forward, y32, **params)
    with pytest.raises(ValueError, match="alpha must be non-zero" if name == "celu"
                       else "backward from y"):
        fn.backward(np.ones(2, np.float32), y=y32, **params)
    fn.backward(np.ones(2), y=y32.astype(np.float64), **params)


def test_threshold_value_may_overflow_float32():
    """`value` is only copied to the output: inf (from 1e300 in float32) is its value."""
    x = np.array([-1.0, 2.0], np.float32)
    res = act.threshold(x, threshold=0.5, value=1e300)
    assert res[0] == np.inf and res[1] == 2.0


# ------------------------------------------------------------------ axis

AXIS_CALLS = {
    "softmax": lambda ax: act.softmax(np.ones((2, 3)), axis=ax),
    "log_softmax_backward": lambda ax: act.log_softmax_backward(np.ones((2, 3)), np.ones((2, 3)),
                                                                axis=ax),
    "softmin_backward_y": lambda ax: act.softmin_backward(np.ones((2, 3)), y=np.ones((2, 3)) / 3,
                                                          axis=ax),
    "glu": lambda ax: act.glu(np.ones((2, 4)), axis=ax),
    "geglu_backward": lambda ax: act.geglu_backward(np.ones((2, 2)), np.ones((2, 4)), axis=ax),
    "prelu": lambda ax: act.prelu(np.ones((2, 3)), [1.0], axis=ax),
    "prelu_backward": lambda ax: act.prelu_backward(np.ones((2, 3)), np.ones((2, 3)), [1.0],
                                                    axis=ax),
    "prelu-0d": lambda ax: act.prelu(np.array(-1.0), [0.5], axis=ax),
}


@pytest.mark.parametrize("axis", [2**63, -2**63 - 1, 2**64, 99, -99, np.int64(2**62)])
@pytest.mark.parametrize("name", sorted(AXIS_CALLS))
def test_axis_out_of_range_raises_axis_error(name, axis):
    with pytest.raises(AxisError):
        AXIS_CALLS[name](axis)


@pytest.mark.parametrize("axis", ["a", 1.0, None, True])
@pytest.mark.parametrize("name", sorted(AXIS_CALLS))
def test_axis_not_an_integer_raises_type_error(name, axis):
    with pytest.raises(TypeError, match="axis"):
        AXIS_CALLS[name](axis)


@pytest.mark.parametrize("axis", [1, 0, -1])
def test_prelu_0d_axis(axis):
    """A 0-d x counts as one element along one axis; the default axis 1 means 0 (as
    for 1-D x)."""
    assert act.prelu(np.array(-1.0), [0.5], axis=axis) == -0.5


# ------------------------------------------------------------------ messages

def _param_functions():
    return [(s.name, p) for s in _spec.SPECS for p, v in s.params.items()
            if (isinstance(v, float) or v is _spec.REQUIRED) and s.kind in ("elementwise", "rrelu")]


def _valid_params(name):
    return {"threshold": {"threshold": 0.5, "value": 0.0}}.get(name, {})


@pytest.mark.parametrize("bad", ["0.3", b"1", 1j, None, [0.3]])
@pytest.mark.parametrize("name, pname", _param_functions(),
                         ids=[f"{n}-{p}" for n, p in _param_functions()])
def test_non_numbers_raise_type_error_naming_function_and_parameter(name, pname, bad):
    fn = act.get(name)
    params = dict(_valid_params(name), **{pname: bad})
    out = np.full(3, SENTINEL)
    with pytest.raises(TypeError) as exc:
        fn.forward(np.ones(3), out=out, **params)
    assert name in str(exc.value) and pname in str(exc.value), exc.value
    assert (out == SENTINEL).all()


def test_missing_required_parameters_are_named():
    with pytest.raises(TypeError, match=r"threshold\(\).*'threshold' and 'value'"):
        act.threshold(np.ones(3))
    with pytest.raises(TypeError, match=r"threshold_backward\(\).*'value'"):
        act.threshold_backward(np.ones(3), np.ones(3), threshold=0.5)


@pytest.mark.parametrize("name", [n for n in act.names()])
def test_missing_arguments_name_the_function(name):
    """Python's own messages for a missing argument start with the public name (no
    `_make_...<locals>` prefixes)."""
    entry = act.get(name)
    for fn, public in ((entry.forward, name), (entry.backward, f"{name}_backward")):
        with pytest.raises(TypeError) as exc:
            fn()
        assert str(exc.value).startswith(f"{public}()"), exc.value


# ------------------------------------------------------------------ scalars

def _scalar_calls():
    """name -> (call(v, one), reference(v)); `one` is a gradient of 1 of v's dtype."""
    return {
        "sigmoid": (lambda v, one: act.sigmoid(v), lambda v: 1 / (1 + math.exp(-v))),
        "sigmoid_backward": (lambda v, one: act.sigmoid_backward(one, v),
                             lambda v: math.exp(-v) / (1 + math.exp(-v)) ** 2),
        "tanh_backward_y": (lambda v, one: act.tanh_backward(one, y=type(one)(math.tanh(v))),
                            lambda v: 1 - math.tanh(v) ** 2),
        "leaky_relu": (lambda v, one: act.leaky_relu(v, negative_slope=0.5),
                       lambda v: v if v > 0 else 0.5 * v),
        "rrelu": (lambda v, one: act.rrelu(v), lambda v: v if v > 0 else v * (1 / 8 + 1 / 3) / 2),
        "softmax": (lambda v, one: act.softmax(v), lambda v: 1.0),
        "log_softmax_backward": (lambda v, one: act.log_softmax_backward(one, v), lambda v: 0.0),
        "prelu": (lambda v, one: act.prelu(v, [0.5]), lambda v: v if v > 0 else 0.5 * v),
        "prelu_backward": (lambda v, one: act.prelu_backward(one, v, [0.5])[0],
                           lambda v: 1.0 if v > 0 else 0.5),
    }


@pytest.mark.parametrize("kind", ["python", "float64", "float32", "0d"])
@pytest.mark.parametrize("name", sorted(_scalar_calls()))
def test_scalar_in_scalar_out(name, kind):
    """A scalar or 0-d input without `out` gives a NumPy scalar of its dtype."""
    call, ref = _scalar_calls()[name]
    v = -0.75
    arg = {"python": v, "float64": np.float64(v), "float32": np.float32(v),
           "0d": np.array(v)}[kind]
    dtype = np.float32 if kind == "float32" else np.float64
    res = call(arg, dtype(1.0))
    assert isinstance(res, np.generic) and not isinstance(res, np.ndarray), type(res)
    assert res.dtype == dtype
    assert res == pytest.approx(ref(v), rel=1e-6, abs=1e-7)


def test_0d_with_out_returns_out():
    out = np.empty(())
    assert act.sigmoid(np.array(0.0), out=out) is out
    assert act.softmax(np.array(2.0), out=out) is out


# ------------------------------------------------------------------ thread splits

#: Element counts around each parallel threshold (2**14 compute-bound, 2**17
#: memory-bound) and odd multiples of the 64-element block alignment.
SPLIT_SIZES = [(1 << 14) - 1, 1 << 14, (1 << 14) + 1, 64 * 257, 64 * 257 + 1, (1 << 16) + 1,
               (1 << 17) - 1, 1 << 17, (1 << 17) + 1, 64 * 2049, 64 * 2049 - 1]


def _split_runs(n):
    """name -> (call(out) on n-ish elements, out shape) for every kernel family."""
    rng = np.random.default_rng(n)
    x = rng.uniform(-4, 4, n)
    g = rng.uniform(-1, 1, n)
    even = n - n % 2
    cols = 64 * 3 + 1
    rows = max(1, n // cols)
    m = x[:rows * cols].reshape(rows, cols)
    gm = g[:rows * cols].reshape(rows, cols)
    w = rng.uniform(0.1, 0.9, cols)
    xe = x[:even].reshape(2, even // 2) if even // 2 % 2 == 0 else x[:even].reshape(1, even)
    ge = g[:xe.size // 2].reshape(xe.shape[0], xe.shape[1] // 2)
    return {
        "sigmoid": (lambda out: act.sigmoid(x, out=out), x.shape),
        "relu": (lambda out: act.relu(x, out=out), x.shape),
        "hard_tanh_backward": (lambda out: act.hard_tanh_backward(g, x, out=out), x.shape),
        "rrelu_training": (lambda out: act.rrelu(x, training=True, seed=9, out=out), x.shape),
        "softmax_row": (lambda out: act.softmax(x, out=out), x.shape),
        "softmax_rows": (lambda out: act.softmax(m, out=out), m.shape),
        "log_softmax_axis0": (lambda out: act.log_softmax(m, axis=0, out=out), m.shape),
        "softmax_backward_cols": (lambda out: act.softmax_backward(gm, m, axis=0, out=out),
                                  m.shape),
        "prelu": (lambda out: act.prelu(m, w, out=out), m.shape),
        "prelu_shared": (lambda out: act.prelu(x, [0.25], out=out), x.shape),
        "prelu_backward": (lambda out: act.prelu_backward(gm, m, w, out=out)[0], m.shape),
        "glu": (lambda out: act.glu(xe, out=out), ge.shape),
        "swiglu_backward": (lambda out: act.swiglu_backward(ge, xe, out=out), xe.shape),
    }


@pytest.fixture
def no_load_cap():
    old = _threadstate._set_load_adaptive(False)
    yield
    _threadstate._set_load_adaptive(old)


@pytest.mark.skipif(not OPENMP, reason="serial build: no thread split")
@pytest.mark.parametrize("n", SPLIT_SIZES)
def test_thread_splits_write_every_element(n, restore_threads, no_load_cap):
    """Every element of `out` (pre-filled with NaN, inputs finite) is written, and
    equal to the one-thread result, for 2 and 3 threads."""
    runs = _split_runs(n)
    for name, (call, shape) in runs.items():
        act.set_num_threads(1)
        expected = call(None)
        for threads in (2, 3):
            act.set_num_threads(threads)
            out = np.full(shape, np.nan)
            res = call(out)
            assert not np.isnan(res).any(), f"{name}, {threads} threads: unwritten elements"
            assert same_bits(res, expected), f"{name}, {threads} threads"


# ------------------------------------------------------------------ rrelu generator

MASK64 = (1 << 64) - 1


def _splitmix64_slopes(seed, indices, lower, upper):
    """SplitMix64 (Steele, Lea & Flood 2014): output i+1 from state `seed`, its top 52
    bits as u in [0, 1), slope = lower + (upper - lower) * u -- written with Python
    integers, independently of the package."""
    out = []
    for i in indices:
        z = (seed + (i + 1) * 0x9E3779B97F4A7C15) & MASK64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        u = (z >> 12) / 2.0**52
        out.append(lower + (upper - lower) * u)
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 42, 43, 2**63 + 5, 2**64 - 1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rrelu_slopes_known_answer(seed, dtype):
    lower, upper = 0.1, 0.3
    n = 3000
    idx = list(range(40)) + list(range(n - 40, n))
    x = -np.ones(n, dtype)
    y = act.rrelu(x, lower=lower, upper=upper, training=True, seed=seed)
    # the bounds converted to the dtype before use (docs/api.md), as the C entries take them
    expected = _splitmix64_slopes(seed, idx, float(dtype(lower)), float(dtype(upper))).astype(dtype)
    np.testing.assert_array_equal(-y[idx], expected)
    gx = act.rrelu_backward(np.ones(n, dtype), x, lower=lower, upper=upper, training=True,
                            seed=seed)
    np.testing.assert_array_equal(gx[idx], expected)


def test_rrelu_nearby_seeds_unrelated():
    """Seeds 42 and 43 give unrelated streams (not one shifted by a few elements)."""
    n = 20000
    x = -np.ones(n)
    a = -act.rrelu(x, lower=0.0, upper=1.0, training=True, seed=42)
    b = -act.rrelu(x, lower=0.0, upper=1.0, training=True, seed=43)
    for shift in range(-3, 4):
        lo, hi = max(0, shift), n + min(0, shift)
        same = np.mean(a[lo:hi] == b[lo - shift:hi - shift])
        assert same < 0.01, f"shift {shift}: {same:.3f} equal"
        corr = np.corrcoef(a[lo:hi], b[lo - shift:hi - shift])[0, 1]
        assert abs(corr) < 0.05, f"shift {shift}: correlation {corr:.3f}"
