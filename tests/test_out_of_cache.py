"""The out-of-cache forms (_spec.OUT_OF_CACHE_FORMS): a call of at least
OUT_OF_CACHE_MIN_BYTES an operand (_kernels.pyx) runs relu's and threshold's backward
by integer arithmetic instead of a select (docs/performance-notes.md "Cheap backwards
out of cache").  Such a call must give the bits of its parts (each under the size, so
each runs the select) and of a reference computed here, special values included, at
every SIMD level, 1 and 2 threads, in place and out of place."""

from __future__ import annotations

import numpy as np
import pytest

import activations as act
from activations import _spec

#: _kernels.pyx's OUT_OF_CACHE_MIN_BYTES: a call with an operand this large runs the
#: out-of-cache forms; smaller ones do not
OUT_OF_CACHE_MIN_BYTES = act._functions._K.OUT_OF_CACHE_BYTES

UINT = {np.float32: np.uint32, np.float64: np.uint64}


def test_the_table():
    """Each out-of-cache form has its test here."""
    assert dict(_spec.OUT_OF_CACHE_FORMS) == {
        "relu": ("backward", "backward_from_output"), "threshold": ("backward",)}


def _specials(dtype, threshold):
    """+-0, +-inf, NaNs of both signs with payloads, subnormals, the largest finite
    values, the threshold and its neighbours (in the dtype), and values around 1."""
    f = np.finfo(dtype)
    u = UINT[dtype]
    bits = 8 * np.dtype(dtype).itemsize
    exp_all = (u(1) << u(bits - 1)) - (u(1) << u(f.nmant))      # +inf's bits
    nans = [exp_all | u(1), exp_all | u(3), exp_all | (u(1) << u(f.nmant - 1)),
            exp_all | ((u(1) << u(f.nmant)) - u(1))]
    nans += [n | (u(1) << u(bits - 1)) for n in nans]
    with np.errstate(over="ignore"):
        t = dtype(threshold)
    vals = [0.0, -0.0, np.inf, -np.inf, f.smallest_subnormal, -f.smallest_subnormal,
            f.tiny, -f.tiny, f.tiny / 2, -f.tiny / 2, f.max, -f.max, 1.0, -1.0, 0.5, -0.5,
            t, np.nextafter(t, dtype(np.inf)), np.nextafter(t, dtype(-np.inf)), -t]
    return np.concatenate([np.array(vals, dtype=dtype), np.array(nans, dtype=u).view(dtype)])


def _data(dtype, threshold, seed):
    """An x past the size: the special values tiled, then random values of every
    magnitude, shuffled; g alike (its NaNs and infs must pass through where x > t)."""
    n = OUT_OF_CACHE_MIN_BYTES // np.dtype(dtype).itemsize + 37
    rng = np.random.default_rng(seed)
    sp = _specials(dtype, threshold)
    x = np.empty(n, dtype)
    k = n // 4
    x[:k] = np.resize(sp, k)
    x[k:2 * k] = rng.standard_normal(k).astype(dtype)
    x[2 * k:] = rng.integers(0, np.iinfo(UINT[dtype]).max, n - 2 * k, dtype=UINT[dtype],
                             endpoint=True).view(dtype)
    rng.shuffle(x)
    g = rng.standard_normal(n).astype(dtype)
    g[::97] = np.resize(sp, g[::97].size)
    return x, g


def _reference(g, x, threshold):
    """g where x > threshold, +0 where x <= threshold, x (its bits) where x is NaN."""
    with np.errstate(over="ignore", invalid="ignore"):
        t = x.dtype.type(threshold)
        keep = x > t
    r = np.where(keep, g, x.dtype.type(0))
    return np.where(np.isnan(x), x, r)


def _cases():
    """(label, call(g, x, out) -> the backward, threshold)"""
    rows = [("relu", lambda g, x, **kw: act.relu_backward(g, x, **kw), 0.0),
            ("relu from y", lambda g, x, **kw: act.relu_backward(g, y=x, **kw), 0.0)]
    # 1e300: float64 only (float32 data rejects it: +inf after rounding, docs/api.md)
    for t in (0.0, -0.0, 0.5, -1.5, 1e-40, -1e-310, 3e38, 1e300):
        rows.append((f"threshold {t!r}",
                     lambda g, x, t=t, **kw: act.threshold_backward(g, x, threshold=t,
                                                                   value=-1.0, **kw), t))
    return rows


CASES = _cases()


def _bits(a):
    return a.view(UINT[a.dtype.type])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("label, call, threshold", CASES, ids=[c[0] for c in CASES])
def test_call_past_the_size_equals_its_parts(label, call, threshold, dtype, simd_level,
                                             restore_threads):
    """The whole call (out-of-cache form) against its eight slices (each under the size,
    the select), bit for bit, NaN payloads included, and against the reference; 1 and 2
    threads; out of place, in place on g and on x."""
    if abs(threshold) > float(np.finfo(dtype).max):
        with pytest.raises(ValueError, match="finite"):
            call(np.ones(2, dtype), np.ones(2, dtype))
        return
    x, g = _data(dtype, threshold, seed=11)
    assert x.nbytes >= OUT_OF_CACHE_MIN_BYTES
    parts = np.array_split(np.arange(x.size), 8)
    assert max(len(p) for p in parts) * x.itemsize < OUT_OF_CACHE_MIN_BYTES
    act.set_num_threads(1)
    want = np.concatenate([call(g[p[0]:p[-1] + 1], x[p[0]:p[-1] + 1]) for p in parts])
    assert np.array_equal(_bits(want), _bits(_reference(g, x, threshold))), label
    for threads in (1, 2):
        act.set_num_threads(threads)
        assert np.array_equal(_bits(call(g, x)), _bits(want)), (label, threads)
        out = np.empty_like(x)
        assert call(g, x, out=out) is out and np.array_equal(_bits(out), _bits(want)), threads
        g2 = g.copy()
        call(g2, x, out=g2)
        assert np.array_equal(_bits(g2), _bits(want)), ("in place on g", threads)
        x2 = x.copy()
        call(g, x2, out=x2)
        assert np.array_equal(_bits(x2), _bits(want)), ("in place on x", threads)

