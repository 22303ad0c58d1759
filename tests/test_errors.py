"""Every bad input docs/api.md lists raises the named error before anything is written.

``out`` is filled with a sentinel first and must still hold it after the error.
"""

from __future__ import annotations

import numpy as np
import pytest

import activations as act
from cases import NAMES, call_params

SENTINEL = 7.25

MODES = [pytest.param(n, m, id=f"{n}-{m}") for n in NAMES
         for m in ("forward", "backward_x", "backward_y")
         if m != "backward_y" or "y" in act.get(n).backward_takes]


def _call(name, mode, x, g=None, out=None, **params):
    fn = act.get(name)
    params = {**call_params(name), **params}
    if mode == "forward":
        return fn.forward(x, out=out, **params)
    if g is None:
        g = np.ones(np.shape(x), np.asarray(x).dtype if np.asarray(x).dtype.kind == "f" else float)
    if mode == "backward_x":
        return fn.backward(g, x, out=out, **params)
    return fn.backward(g, y=x, out=out, **params)


def _sentinel(shape=(5,), dtype=np.float64):
    return np.full(shape, SENTINEL, dtype)


def _untouched(out):
    return bool((out == SENTINEL).all())


BAD_DTYPES = [np.int32, np.int64, np.uint8, np.bool_, np.float16, np.complex64,
              np.complex128, object, np.longdouble]


@pytest.mark.parametrize("bad", BAD_DTYPES, ids=[np.dtype(d).name for d in BAD_DTYPES])
@pytest.mark.parametrize("name, mode", MODES)
def test_unsupported_input_dtype(name, mode, bad):
    x = np.array([0.5, -1.0, 2.0, 0.0, 1.0]).astype(bad)
    out = _sentinel()
    g = np.ones(5)
    with pytest.raises(TypeError) as exc:
        _call(name, mode, x, g, out=out)
    msg = str(exc.value)
    assert np.dtype(bad).name in msg and "float32" in msg and "float64" in msg, msg
    assert _untouched(out)


@pytest.mark.parametrize("bad", [np.int64, np.float16, np.complex128, np.bool_],
                         ids=["int64", "float16", "complex128", "bool"])
@pytest.mark.parametrize("name, mode", [m for m in MODES if m.values[1] != "forward"])
def test_unsupported_grad_dtype(name, mode, bad):
    x = np.linspace(-1, 1, 5)
    out = _sentinel()
    with pytest.raises(TypeError) as exc:
        _call(name, mode, x, np.ones(5).astype(bad), out=out)
    assert np.dtype(bad).name in str(exc.value)
    assert _untouched(out)


@pytest.mark.parametrize("name, mode", [m for m in MODES if m.values[1] != "forward"])
def test_grad_dtype_and_shape_mismatch(name, mode):
    x = np.linspace(-1, 1, 6)
    out = _sentinel((6,))
    with pytest.raises(TypeError):
        _call(name, mode, x, np.ones(6, np.float32), out=out)  # no silent cast
    with pytest.raises(TypeError):
        _call(name, mode, x.astype(np.float32), np.ones(6), out=out.astype(np.float32))
    with pytest.raises(ValueError):
        _call(name, mode, x, np.ones(5), out=out)
    with pytest.raises(ValueError):
        _call(name, mode, x, np.ones((6, 1)), out=out)  # no broadcasting
    assert _untouched(out)


def _bad_outs():
    buf = np.full(10, SENTINEL)
    ro = np.full(5, SENTINEL)
    ro.flags.writeable = False
    unaligned = np.zeros(5 * 8 + 1, np.uint8)[1:].view(np.float64)
    unaligned[...] = SENTINEL
    return [
        ("shape-4", np.full(4, SENTINEL), ValueError),
        ("shape-5x1", np.full((5, 1), SENTINEL), ValueError),
        ("shape-0d", np.full((), SENTINEL), ValueError),
        ("dtype-float32", np.full(5, SENTINEL, np.float32), TypeError),
        ("dtype-int64", np.full(5, 7, np.int64), TypeError),
        ("strided", buf[::2], ValueError),
        ("reversed", np.full(5, SENTINEL)[::-1], ValueError),
        ("read-only", ro, ValueError),
        ("byteswapped", np.full(5, SENTINEL).astype(">f8" if np.little_endian else "<f8"),
         TypeError),
        ("unaligned", unaligned, ValueError),
    ]


@pytest.mark.parametrize("case", [c[0] for c in _bad_outs()])
@pytest.mark.parametrize("name, mode", MODES)
def test_bad_out(name, mode, case):
    _, out, err = next(c for c in _bad_outs() if c[0] == case)
    x = np.linspace(-1, 1, 5)
    with pytest.raises(err):
        _call(name, mode, x, out=out)
    assert (out == (7 if out.dtype.kind == "i" else SENTINEL)).all()


@pytest.mark.parametrize("name, mode", MODES)
def test_out_fortran_order_and_non_ndarray(name, mode):
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    out = np.asfortranarray(np.full((3, 4), SENTINEL))
    with pytest.raises(ValueError):
        _call(name, mode, x, out=out)
    assert _untouched(out)
    with pytest.raises((TypeError, ValueError)):
        _call(name, mode, np.linspace(-1, 1, 3), out=[0.0, 0.0, 0.0])


OVERLAP_CASES = [pytest.param(*m.values, w, id=f"{m.id}-{w}") for m in MODES
                 for w in ("x", "grad") if not (w == "grad" and m.values[1] == "forward")]


@pytest.mark.parametrize("shift", [1, -1, 3])
@pytest.mark.parametrize("name, mode, which", OVERLAP_CASES)
def test_partial_overlap(name, mode, which, shift):
    """out shares memory with an input without being it: ValueError, out untouched, or
    the correct result (never a silently wrong one)."""
    n = 1000
    rng = np.random.default_rng(0)
    buf = rng.uniform(-4, 4, n + abs(shift))
    if mode == "backward_y":
        buf = act.get(name).forward(buf, **call_params(name))
    other = rng.uniform(-2, 2, n)
    lo, hi = (0, abs(shift)) if shift > 0 else (abs(shift), 0)
    inp, out = buf[lo:lo + n], buf[hi:hi + n]
    x, g = (inp, other) if which == "x" else (other, inp)
    if mode == "forward":
        expected = act.get(name).forward(x.copy(), **call_params(name))
    else:
        expected = _call(name, mode, x.copy(), g.copy())
    before = buf.copy()
    try:
        res = _call(name, mode, x, g, out=out)
    except ValueError:
        np.testing.assert_array_equal(buf, before)
        return
    assert res is out
    np.testing.assert_array_equal(out, expected)


# ------------------------------------------------------------------ parameters

BAD_PARAMS = [
    ("softplus", {"beta": 0.0}), ("softplus", {"beta": -0.0}),
    ("softplus", {"threshold": float("inf")}), ("softplus", {"threshold": float("nan")}),
    ("softplus", {"threshold": -float("inf")}),
    ("rrelu", {"lower": 0.5, "upper": 0.25}), ("rrelu", {"lower": -0.1, "upper": 0.2}),
    ("rrelu", {"lower": 0.2, "upper": 1.5}), ("rrelu", {"lower": float("nan"), "upper": 0.2}),
]


@pytest.mark.parametrize("mode", ["forward", "backward_x"])
@pytest.mark.parametrize("name, params", BAD_PARAMS,
                         ids=[f"{n}-{','.join(f'{k}={v}' for k, v in p.items())}"
                              for n, p in BAD_PARAMS])
def test_invalid_parameters(name, params, mode):
    x = np.linspace(-1, 1, 5)
    out = _sentinel()
    with pytest.raises(ValueError):
        _call(name, mode, x, out=out, **params)
    assert _untouched(out)


@pytest.mark.parametrize("name", [n for n in NAMES if act.get(n).params])
def test_parameters_are_keyword_only(name):
    fn = act.get(name)
    with pytest.raises(TypeError):
        fn.forward(np.ones(3), *fn.params.values())
