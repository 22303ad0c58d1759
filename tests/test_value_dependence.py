"""Formulas that keep slow operations away from the values that make them slow.

A division with a subnormal operand and a product that underflows take 1.8-2.2x the time
of ordinary ones on AMD Zen 4 (microcode assists on Intel cores), also in masked-off
lanes, so some exact formulas select a harmless operand in those lanes and the known
result back (_formulas.pxd: softsign; docs/performance-notes.md "Value-dependent
operations on Zen 4").  These tests check that the results are still the formulas'
IEEE roundings, bit for bit, on subnormal, tiny, huge, infinite, NaN and signed-zero
inputs, alone and mixed with ordinary values in one block, at every SIMD level, with
the subnormal detours (the tiny blocks) on and off, for 1 and 2 threads.  The
references are NumPy's float32/float64 arithmetic of the definitions, and exact
rational values where the formulas select a result.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import activations as act
from cases import dtype_params, same_bits
from reference import F32

#: the thresholds of _formulas.pxd's softsign: 2**-80 (the forward's guard), 2**-60
#: (its select), 2**76 / 2**538 (the backward's r = +0)
EDGES = {np.dtype(np.float32): (2.0 ** -80, 2.0 ** -60, 2.0 ** 76),
         np.dtype(np.float64): (2.0 ** -80, 2.0 ** -60, 2.0 ** 538)}


def _special_values(dtype):
    """Every kind of value the guarded lanes see, both signs."""
    dtype = np.dtype(dtype)
    fi = np.finfo(dtype)
    sub = fi.smallest_subnormal
    mags = [0.0, sub, 2 * sub, 3 * sub, sub * 2 ** 20, fi.smallest_normal - sub,
            fi.smallest_normal, fi.smallest_normal * 1.5, 1e-30, 0.5, 1.0, 3.0, 1e30,
            fi.max, np.inf]
    for e in EDGES[dtype]:
        e = dtype.type(e)
        mags += [np.nextafter(e, dtype.type(0)), e, np.nextafter(e, dtype.type(np.inf))]
    mags = np.array(mags, dtype)
    values = np.concatenate([mags, -mags, np.array([np.nan], dtype)])
    rng = np.random.default_rng(5)
    # subnormals of every magnitude, as bench.py's denormal_in kind
    bits = np.uint32 if dtype == F32 else np.uint64
    mant = rng.integers(1, 2 ** (fi.nmant), 200, dtype=np.int64).astype(bits)
    subs = mant.view(dtype) * np.where(rng.random(200) < 0.5, -1, 1).astype(dtype)
    huge = (np.where(rng.random(200) < 0.5, -1, 1) * 10.0 ** rng.uniform(
        30 if dtype == F32 else 300, 38.5 if dtype == F32 else 308.2, 200)).astype(dtype)
    return np.concatenate([values, subs, huge])


def _inputs(dtype):
    """Blocks of one kind (subnormal, huge) and blocks mixing every kind with ordinary
    values, 4099 elements (several loop blocks and a scalar tail)."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(7)
    special = _special_values(dtype)
    n = 4099
    ordinary = (rng.standard_normal(n) * 3).astype(dtype)
    mixed = ordinary.copy()
    where = rng.choice(n, 3 * special.size, replace=False)
    mixed[where] = np.resize(special, where.size)
    fi = np.finfo(dtype)
    subnormal = (np.where(rng.random(n) < 0.5, -1, 1) * fi.smallest_subnormal
                 * rng.integers(1, 2 ** 20, n)).astype(dtype)
    subnormal[::97] = 0.0
    subnormal[1::97] = -0.0
    huge = (np.where(rng.random(n) < 0.5, -1, 1) * 10.0 ** rng.uniform(
        30 if dtype == F32 else 300, 38.5 if dtype == F32 else 308.2, n)).astype(dtype)
    return {"special": special, "mixed": mixed, "subnormal": subnormal, "huge": huge}


def _grads(dtype, n, seed):
    rng = np.random.default_rng(seed)
    g = (rng.standard_normal(n) * 2).astype(dtype)
    g[::13] = -g[::13]
    g[5::41] = np.inf
    g[7::43] = np.nan
    g[11::47] = np.finfo(dtype).smallest_subnormal * 3
    g[17::53] = -0.0
    return g


def _softsign_reference(x):
    one = x.dtype.type(1)
    with np.errstate(invalid="ignore"):
        y = x / (one + np.abs(x))
    return np.where(np.isinf(x), np.copysign(one, x), y)


def _softsign_backward_reference(g, x):
    one = x.dtype.type(1)
    r = one / (one + np.abs(x))
    with np.errstate(under="ignore", invalid="ignore"):
        return (g * r) * r


@pytest.mark.parametrize("detours", [True, False], ids=["detours_on", "detours_off"])
@pytest.mark.parametrize("dtype", dtype_params())
def test_softsign_bits(dtype, detours, simd_level, restore_threads):
    kernels = act._functions._K
    old = kernels._set_subnormal_detours(detours)
    try:
        for kind, x in _inputs(dtype).items():
            g = _grads(dtype, x.size, seed=len(kind))
            want_y = _softsign_reference(x)
            want_g = _softsign_backward_reference(g, x)
            for threads in (1, 2):
                act.set_num_threads(threads)
                assert same_bits(act.softsign(x), want_y), (kind, threads)
                assert same_bits(act.softsign_backward(g, x), want_g), (kind, threads)
    finally:
        kernels._set_subnormal_detours(old)


def _softsign_huge_blocks(dtype):
    """(g, x, passing) of 4099 elements (16 whole blocks of 256 and a tail): blocks of
    huge |x| whose (g r) r underflows to +-0 in every lane, the huge tier of softsign's
    backward (_formulas.pxd: a block whose first |x| is at least 2**24 / 2**53, every
    lane with |g| < (c x)**2, c = 2**-76 / 2**-538), and blocks where one lane (at a
    varying place) or every lane leaves it: NaN x, inf, NaN or the largest g, |g| at and
    around the bound; lanes of x at and below 2**24 / 2**53 with small g stay in it.
    `passing`: the blocks meant to run the tier."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(11)
    fi = np.finfo(dtype)
    n, block = 4099, 256
    lo, c = (24, 2.0 ** -76) if dtype == F32 else (53, 2.0 ** -538)
    top = np.log2(float(fi.max))
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    # past 2**90 (2**552) the bound exceeds 2**28, far above these grads
    x = (sign * 2.0 ** rng.uniform(lo + 66 if dtype == F32 else 552, top, n)).astype(dtype)
    g = (rng.standard_normal(n) * 4).astype(dtype)
    g[::7] *= dtype.type(2.0 ** 20)
    g[5::31] = 0.0
    g[6::37] = -0.0
    g[9::41] = fi.smallest_subnormal

    def lane(b):
        return b * block + (37 * b) % block

    x[lane(1)] = dtype.type(2.0 ** lo) * (1 - fi.epsneg)          # below the first
    g[lane(1)] = fi.smallest_subnormal                            # lane's threshold
    x[lane(2)] = dtype.type(2.0 ** lo)
    g[lane(2)] = fi.smallest_normal
    g[lane(3)] = np.inf
    g[lane(4)] = np.nan
    x[lane(5)] = np.nan
    g[lane(6)] = fi.max                                           # (g r) r normal
    g[lane(7)] = -np.inf
    # |g| at, just under and just over the bound, whole blocks
    for b, step in ((8, 0), (9, -1), (10, 1), (11, -2)):
        s = slice(b * block, (b + 1) * block)
        p = np.abs(x[s]) * dtype.type(c)
        gb = p * p
        for _ in range(abs(step)):
            gb = np.nextafter(gb, dtype.type(np.inf) if step > 0 else dtype.type(0))
        g[s] = gb * np.where(rng.random(block) < 0.5, -1, 1).astype(dtype)
    x[12 * block:13 * block:3] = np.copysign(dtype.type(np.inf), x[12 * block:13 * block:3])
    s = slice(13 * block, 14 * block)                             # x near the threshold
    x[s] = (2.0 ** rng.uniform(lo, lo + 1, block)).astype(dtype)
    g[s] = (rng.standard_normal(block) * 2.0 ** (-130 if dtype == F32 else -1020)).astype(dtype)
    # small |x| with grads just under the bound in a block that the tier runs (|x| > 2.8
    # / 2 for a nonzero g: _formulas.pxd)
    small = np.array([3.0, -4.0, 6.0, 1e5, -1e9], dtype)
    at = 14 * block + 1 + np.arange(small.size) * 17
    x[at] = small
    with np.errstate(under="ignore"):
        p = np.abs(small) * dtype.type(c)
        bd = p * p
    g[at] = np.nextafter(bd, dtype.type(0)) * np.array([1, -1, 1, -1, 1], dtype)
    passing = [0, 1, 2, 9, 11, 12, 13, 14, 15]
    return g, x, passing


@pytest.mark.parametrize("dtype", dtype_params())
def test_softsign_backward_huge_blocks(dtype, simd_level, restore_threads):
    """softsign's backward runs whole blocks of huge |x| by its known zero (_spec.HUGE_PATHS):
    the results are still (g r) r's roundings, bit for bit, in those blocks and in
    blocks that one lane takes back to the exact formula."""
    g, x, passing = _softsign_huge_blocks(dtype)
    want = _softsign_backward_reference(g, x)
    assert not np.any(want.reshape(-1)[:16 * 256].reshape(16, 256)[passing])
    assert np.count_nonzero(want) > 0                    # g = max's lane: normal
    for threads in (1, 2):
        act.set_num_threads(threads)
        assert same_bits(act.softsign_backward(g, x), want), threads
        out = g.copy()                                   # in place: the grad's buffer
        act.softsign_backward(out, x, out=out)
        assert same_bits(out, want), threads


def test_huge_paths_are_tested():
    """Each huge tier (_spec.HUGE_PATHS) has its block test here."""
    from activations import _spec
    assert dict(_spec.HUGE_PATHS) == {"softsign": ("backward",)}


@pytest.mark.parametrize("dtype", dtype_params())
def test_softsign_selected_results_are_exact(dtype):
    """Where the forward selects a result instead of computing it, that result is the
    correctly rounded value of the definition: x itself below 2**-60 (x / (1 + |x|)
    differs from x by less than |x| 2**-60, far below half an ulp of x).  (The backward
    selects nothing: (g r) r, r = 1 / (1 + |x|), at every x; test_softsign_bits.)"""
    dtype = np.dtype(dtype)
    fi = np.finfo(dtype)
    x = np.array([fi.smallest_subnormal, fi.smallest_normal, 2.0 ** -61, 2.0 ** -60 * 0.75],
                 dtype)
    x = np.concatenate([x, -x, np.array([0.0, -0.0], dtype)])
    y = act.softsign(x)
    assert same_bits(y, x)
    for v in x[np.abs(x) > 0]:                  # the definition, exactly, rounds to x
        exact = Fraction(float(v)) / (1 + abs(Fraction(float(v))))
        half_ulp = Fraction(float(np.spacing(abs(v)))) / 2
        assert abs(exact - Fraction(float(v))) < half_ulp


def _rounded_mp(f, x, dtype):
    """f of every element of x (mpmath), rounded to dtype."""
    from reference import MP_DPS, mp
    with mp.workdps(MP_DPS):
        return np.array([np.nan if np.isnan(v) else float(f(mp.mpf(float(v))))
                         for v in x], np.float64).astype(dtype)


def _saturated_lanes(dtype, limit, below):
    """The lanes of _inputs' blocks whose results the saturated forms give, |x| > limit
    (huge, infinite) and NaN, and those with |x| < below (signed zeros, subnormals), in
    every block kind (alone and mixed with ordinary values), as (kind, block, mask)."""
    for kind, x in _inputs(dtype).items():
        with np.errstate(invalid="ignore"):
            mask = ~(np.abs(x) <= limit) | (np.abs(x) < below)
        yield kind, x, mask


@pytest.mark.parametrize("dtype", dtype_params())
def test_log_sigmoid_saturated_lanes(dtype, simd_level, restore_threads):
    """log_sigmoid's fast blocks take t = 0 past |x| > FAST_SAT (_formulas.pxd
    log_sigmoid_forward_fast), so that the clamped exp's products in log1p do not
    underflow: there the result is min(x, 0), the definition rounded (mpmath; the
    negative tiny value at x > FAST_SAT rounds to a zero, compared by value)."""
    from reference import REFERENCES
    ref = REFERENCES["log_sigmoid"]
    p = ref.effective({}, dtype)
    for kind, x, mask in _saturated_lanes(dtype, 256.0, np.finfo(dtype).smallest_normal):
        want = _rounded_mp(lambda v: ref.forward_mp(v, p), x[mask], dtype)
        for threads in (1, 2):
            act.set_num_threads(threads)
            got = act.log_sigmoid(x)[mask]
            assert np.array_equal(got, want, equal_nan=True), (kind, threads)


def test_gelu_float64_clamped_tail(simd_level, restore_threads):
    """float64 gelu clamps |x| at 46.125, where its exp factor is +0 (_gelu.h
    ACT_GELU_AMAX_D): past |x| = 39 the results are the definition's limits, rounded
    (mpmath), with their signs: gelu(-x) = -0, gelu(x) = x, gelu' = -0 / 1, and geglu's
    gate gelu(a) b; also at signed zeros (subnormal x, whose x/2 may be a tie that
    the definition's x^2 term breaks, is left to test_accuracy's bounds)."""
    from reference import REFERENCES
    ref = REFERENCES["gelu"]
    dtype = np.dtype(np.float64)
    p = ref.effective({}, dtype)
    edge = np.array([38.5, 39.0, 39.5, 46.0, 46.125, 46.25, 60.0, 745.0], dtype)
    for kind, x, mask in _saturated_lanes(dtype, 39.0, np.finfo(dtype).smallest_subnormal):
        x = np.concatenate([x, edge, -edge])
        mask = np.concatenate([mask, np.ones(2 * edge.size, bool)])
        g = _grads(dtype, x.size, seed=3)
        g[~np.isfinite(g)] = 1.5
        want_y = _rounded_mp(lambda v: ref.forward_mp(v, p), x[mask], dtype)
        want_d = _rounded_mp(lambda v: ref.derivative_mp(v, p), x[mask], dtype)
        zero = x[mask] == 0                     # mpmath has no -0: x * Phi(x) = x there
        want_y[zero] = x[mask][zero]
        with np.errstate(invalid="ignore", over="ignore", under="ignore"):
            want_g = g[mask] * want_d
        for threads in (1, 2):
            act.set_num_threads(threads)
            assert same_bits(act.gelu(x)[mask], want_y), (kind, threads)
            assert same_bits(act.gelu_backward(g, x)[mask], want_g), (kind, threads)
            # geglu: gelu(a) * b with b = 2.5, past |a| = 39 and NaN (below |a| < 1 it
            # takes Phi(a) (a b) instead)
            far = mask & ~(np.abs(x) < 1.0)
            gate = act.geglu(np.concatenate([x, np.full(x.size, 2.5, dtype)])[None, :])[0]
            with np.errstate(over="ignore", invalid="ignore"):
                want_gate = want_y[far[mask]] * dtype.type(2.5)
            assert same_bits(gate[far], want_gate), (kind, threads)
