"""The out-of-cache forms (_spec.OUT_OF_CACHE_FORMS): a call of at least
OUT_OF_CACHE_MIN_BYTES an operand (_kernels.pyx) runs relu's and threshold's backward
by integer arithmetic instead of a select (docs/performance-notes.md "Cheap backwards
out of cache").  Such a call must give the bits of its parts (each under the size, so
each runs the select) and of a reference computed here, special values included, at
every SIMD level, 1 and 2 threads, in place and out of place.  And the blocks' own
predicate passes (_spec.OUT_OF_CACHE_OWN_PASS, float32 calls of at least
OWN_PASS_MIN_BYTES an operand): the bits of the parts, which look ahead.  And the
softmax forwards over rows that prefetch the next row (SOFTMAX_PREFETCH_BYTES of x): the
bits of the parts, which do not."""

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



# ---------------------------------------------------------------- the blocks' own pass
# The float32 blocked loops of _spec.OUT_OF_CACHE_OWN_PASS give each block its own
# predicate pass in a call of at least OWN_PASS_MIN_BYTES an operand (_kernels.pyx), where
# below it a block ORs the next one's predicate in its formula's loop
# (docs/performance-notes.md "The look-ahead out of cache").  The
# predicate only picks between formulas that agree where the fast one runs, so the whole
# call must give its parts' bits on blocks of every tier: runs of ordinary blocks (the
# look-ahead's), single rare lanes at a block's first, last or any place, deep-negative
# and underflowing blocks, saturated, tiny and huge blocks, special values.

#: (public function, parameters, direction): every (op, direction) of the table
OWN_PASS_CALLS = [
    ("sigmoid", {}, "forward"), ("sigmoid", {}, "backward"),
    ("swish", {}, "forward"), ("swish", {}, "backward"),
    ("swish", {"beta": 1.7}, "forward"), ("swish", {"beta": 1.7}, "backward"),
    ("softplus", {}, "forward"), ("softplus", {}, "backward"),
    ("softplus", {"beta": 0.5}, "backward"),
    ("log_sigmoid", {}, "forward"), ("log_sigmoid", {}, "backward"),
    ("elu", {}, "backward"), ("selu", {}, "backward"), ("celu", {"alpha": 0.7}, "backward"),
]


def _kernel_op(name, params):
    """The kernel op of a public function's call (swish with beta 1: silu)."""
    return "silu" if name == "swish" and params.get("beta", 1.0) == 1.0 else name


def test_own_pass_table_is_tested():
    tested = {(_kernel_op(n, p), d) for n, p, d in OWN_PASS_CALLS}
    listed = {(op, d) for op, ds in _spec.OUT_OF_CACHE_OWN_PASS.items() for d in ds}
    assert listed <= tested, "untested"
    # and only loops with the look-ahead: a fast path, not one pass
    for op, d in listed:
        assert d in _spec.FAST_PATHS.get(op, ()), (op, d)
        assert d not in _spec.FAST_ONE_PASS.get(op, ()), (op, d)


#: _kernels.pyx's OWN_PASS_MIN_BYTES
OWN_PASS_MIN_BYTES = act._functions._K.OWN_PASS_BYTES


def _tier_data(dtype, seed, nbytes=OWN_PASS_MIN_BYTES):
    """x and g of nbytes and a few elements more, in blocks of FAST_PATH_BLOCK of drawn kinds (half of them
    ordinary, in runs), each kind a tier or a rare lane's place."""
    block = act._functions._K.FAST_PATH_BLOCK
    n = nbytes // np.dtype(dtype).itemsize + 37
    rng = np.random.default_rng(seed)
    f32 = dtype == np.float32
    sp = _specials(dtype, 0.0)
    extra = np.array([-1e4, 1e4, 100.0, -100.0, 30.0, -30.0, 88.7, -87.3, -103.9, 709.0,
                      -708.5, -745.0, 2.0 ** 60, -(2.0 ** 60)], np.float64)
    with np.errstate(over="ignore"):
        sp = np.concatenate([sp, extra.astype(dtype)])
    deep, far, sub = (64.0, 300.0, (87.0, 104.0)) if f32 else (640.0, 3000.0, (708.0, 745.0))
    x = (3 * rng.standard_normal(n)).astype(dtype)
    nblocks = n // block
    kinds = rng.integers(0, 16, nblocks)
    kinds[rng.random(nblocks) < 0.5] = 0       # ordinary, often several in a row
    for k in range(nblocks):
        s = slice(k * block, (k + 1) * block)
        kind = kinds[k]
        if kind == 1:
            x[k * block + rng.integers(block)] = rng.choice(sp)
        elif kind == 2:
            x[k * block] = rng.choice(sp)
        elif kind == 3:
            x[(k + 1) * block - 1] = rng.choice(sp)
        elif kind == 4:                          # deep negative
            x[s] = -rng.uniform(deep * 1.001, far, block)
        elif kind == 5:                          # underflowing results
            x[s] = -rng.uniform(*sub, block)
        elif kind == 6:                          # saturated, both signs
            x[s] = rng.choice([-1.0, 1.0], block) * rng.uniform(20.0, far, block)
        elif kind == 7:                          # tiny: subnormal and zero
            x[s] = (rng.standard_normal(block) * np.finfo(dtype).smallest_subnormal * 1000)
        elif kind == 8:                          # huge |x| of both signs
            x[s] = rng.choice([-1.0, 1.0], block) * np.exp(rng.uniform(0, 80, block))
        elif kind == 9:                          # special values throughout
            x[s] = rng.choice(sp, block)
        elif kind == 10:                         # deep negative with one ordinary lane
            x[s] = -rng.uniform(deep * 1.001, far, block)
            x[k * block + rng.integers(block)] = rng.standard_normal()
    g = rng.standard_normal(n).astype(dtype)
    g[::97] = np.resize(sp, g[::97].size)
    g[5::1013] = np.array(2.0 ** 100, dtype)
    g[7::331] = -0.0
    return x, g


_TIER_DATA = {}


def _same(a, b):
    """The same bits, NaNs aside: NaN at the same places, of any payload (which of two NaN
    operands a formula's arithmetic passes on depends on the compiled code; docs/api.md
    promises a NaN)."""
    nan = np.isnan(a)
    return np.array_equal(nan, np.isnan(b)) and np.array_equal(_bits(a)[~nan], _bits(b)[~nan])


@pytest.mark.parametrize("name, params, direction", OWN_PASS_CALLS,
                         ids=[f"{n}-{'-'.join(map(str, p.values())) or 'default'}-{d}"
                              for n, p, d in OWN_PASS_CALLS])
def test_own_pass_past_the_size_equals_its_parts(name, params, direction, simd_level,
                                                  restore_threads):
    """The whole float32 call (each block its own predicate pass) against its eight
    slices (each under the size: the look-ahead), bit for bit but NaN payloads; 1 and 2
    threads, the subnormal detours on and off, out of place and in place."""
    if not _TIER_DATA:
        _TIER_DATA["f32"] = _tier_data(np.float32, seed=17)
    x, g = _TIER_DATA["f32"]
    fn = getattr(act, name if direction == "forward" else name + "_backward")
    call = ((lambda x, g, **kw: fn(x, **params, **kw)) if direction == "forward"
            else (lambda x, g, **kw: fn(g, x, **params, **kw)))
    parts = np.array_split(np.arange(x.size), 8)
    assert x.nbytes >= OWN_PASS_MIN_BYTES
    assert max(len(p) for p in parts) * x.itemsize < OWN_PASS_MIN_BYTES
    kernels = act._functions._K
    before = kernels._set_subnormal_detours(True)
    try:
        for detours in (True, False):
            kernels._set_subnormal_detours(detours)
            act.set_num_threads(1)
            with np.errstate(all="ignore"):
                want = np.concatenate([call(x[p[0]:p[-1] + 1], g[p[0]:p[-1] + 1])
                                       for p in parts])
                for threads in (1, 2):
                    act.set_num_threads(threads)
                    got = call(x, g)
                    assert _same(got, want), (detours, threads)
                    x2 = x.copy()
                    call(x2, g, out=x2)
                    assert _same(x2, want), ("in place on x", detours, threads)
                    if direction == "backward":
                        g2 = g.copy()
                        call(x, g2, out=g2)
                        assert _same(g2, want), ("in place on g", detours, threads)
    finally:
        kernels._set_subnormal_detours(before)


# ---------------------------------------------------------------- softmax rows prefetched
# The softmax-family forwards over rows (the last axis) prefetch the next row in a call
# whose x is at least SOFTMAX_PREFETCH_BYTES (_softmax.pxi, docs/performance-notes.md
# "Softmax forwards out of cache: the next row prefetched").  A prefetch reads nothing:
# the whole call must give its parts' bits, rows of every kind, each thread's last row
# included.

SOFTMAX_FORWARDS = [("softmax", act.softmax), ("log_softmax", act.log_softmax),
                    ("softmin", act.softmin)]


def _softmax_rows(dtype, row, seed):
    """Rows of `row` values, a few more than the prefetch size in all: N(0, 3) rows,
    and rows with -inf, NaN, +inf, huge and subnormal entries, all -inf, one dominant
    entry, all equal."""
    nbytes = act._functions._K.SOFTMAX_PREFETCH_BYTES
    rows = nbytes // (row * np.dtype(dtype).itemsize) + 3
    rng = np.random.default_rng(seed)
    x = (3 * rng.standard_normal((rows, row))).astype(dtype)
    f = np.finfo(dtype)
    kinds = rng.integers(0, 16, rows)
    kinds[rng.random(rows) < 0.5] = 0
    for r in np.nonzero(kinds)[0]:
        k = kinds[r]
        cols = rng.integers(0, row, 3)
        if k == 1:
            x[r, cols] = -np.inf
        elif k == 2:
            x[r, cols[0]] = np.nan
        elif k == 3:
            x[r, cols[0]] = np.inf
        elif k == 4:
            x[r] = rng.uniform(-1.0, 1.0, row) * (f.max / 4)
        elif k == 5:
            x[r] = rng.standard_normal(row) * f.smallest_subnormal * 1000
        elif k == 6:
            x[r] = -np.inf
        elif k == 7:
            x[r, cols[0]] = 200.0 if dtype == np.float32 else 2000.0
        elif k == 8:
            x[r] = 1.5
    return x


@pytest.mark.parametrize("row", [1024, 3000, 4096])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name, fn", SOFTMAX_FORWARDS, ids=[n for n, _ in SOFTMAX_FORWARDS])
def test_softmax_rows_past_the_prefetch_size_equal_their_parts(name, fn, dtype, row,
                                                               simd_level, restore_threads):
    """The whole call (each row prefetching the next) against its eight slices of rows
    (each under the size: no prefetch), bit for bit but NaN payloads; 1 and 2 threads,
    out of place and in place."""
    nbytes = act._functions._K.SOFTMAX_PREFETCH_BYTES
    x = _softmax_rows(dtype, row, seed=row)
    parts = np.array_split(np.arange(x.shape[0]), 8)
    assert x.nbytes >= nbytes
    assert max(len(p) for p in parts) * row * x.itemsize < nbytes
    act.set_num_threads(1)
    with np.errstate(all="ignore"):
        want = np.concatenate([fn(x[p[0]:p[-1] + 1], axis=-1) for p in parts])
        for threads in (1, 2):
            act.set_num_threads(threads)
            assert _same(fn(x, axis=-1), want), threads
            out = np.empty_like(x)
            assert fn(x, axis=-1, out=out) is out and _same(out, want), threads
            x2 = x.copy()
            fn(x2, axis=-1, out=x2)
            assert _same(x2, want), ("in place", threads)
