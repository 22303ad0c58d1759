"""Determinism across thread counts (bit for bit) and SIMD levels, and concurrent calls.

Arrays have 150001 elements (above both parallel thresholds, 2**14 and 2**17; odd so the last
block has a vector tail) and mix ordinary values with zeros, infinities, NaNs,
denormals and huge values.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import activations as act
from activations import _dispatch
from cases import NAMES, call_params, dtype_params, same_bits
from conftest import DEFAULT_LEVEL

N = 150_001

#: A serial build (ACTIVATIONS_NO_OPENMP=1 or a compiler without OpenMP) has one
#: thread whatever set_num_threads asks; its results must still be deterministic.
OPENMP = bool(act._functions._K.OPENMP)


def _modes():
    return [pytest.param(n, m, id=f"{n}-{m}") for n in NAMES
            for m in ("forward", "backward_x", "backward_y")
            if m != "backward_y" or "y" in act.get(n).backward_takes]


def _data(dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-30, 30, N)
    x[::97] = rng.choice([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310, -1e-40, 3e38, -89.0,
                          709.5], x[::97].size)
    return x.astype(dtype), rng.uniform(-2, 2, N).astype(dtype)


def _run(name, mode, x, g, y=None):
    fn = act.get(name)
    p = call_params(name)
    if mode == "forward":
        return fn.forward(x, **p)
    if mode == "backward_x":
        return fn.backward(g, x, **p)
    return fn.backward(g, y=fn.forward(x, **p) if y is None else y, **p)


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, mode", _modes())
def test_identical_for_1_2_3_threads(name, mode, dtype, restore_threads):
    x, g = _data(dtype)
    results = []
    for n in (1, 2, 3):
        act.set_num_threads(n)
        assert act.get_num_threads() == (n if OPENMP else 1)
        results.append(_run(name, mode, x, g))
    assert same_bits(results[0], results[1]), "1 vs 2 threads"
    assert same_bits(results[0], results[2]), "1 vs 3 threads"


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, mode", _modes())
def test_identical_across_simd_levels(name, mode, dtype):
    levels = _dispatch.supported_levels()
    x, g = _data(dtype, seed=1)
    x, g = x[:4099], g[:4099]
    results = {}
    # backward from y: the same y at every level (a y that differs in its last bit
    # changes 1 - y by many of its ulps where y is close to 1)
    y = act.get(name).forward(x, **call_params(name)) if mode == "backward_y" else None
    try:
        for level in levels:
            act._set_simd_level(level)
            assert act.simd_level() == level
            results[level] = _run(name, mode, x, g, y)
    finally:
        act._set_simd_level(DEFAULT_LEVEL)
    # Levels with FMA (avx2, avx512) compute the same operations: bit-identical.  The
    # baseline evaluates the same formulas unfused (SSE2 has no FMA), so it may differ
    # in the last bits; it must agree within a few ulp of the larger of the two
    # values (backward: or of |grad|, the scale of the derivative's terms, where the
    # derivative has a root and cancels), with NaNs and infinities in the same places.
    fma_levels = [lv for lv in levels if lv != "baseline"]
    for level in fma_levels[1:]:
        assert same_bits(results[fma_levels[0]], results[level]), f"{fma_levels[0]} vs {level}"
    if "baseline" in results and fma_levels:
        a, b = results[fma_levels[0]], results["baseline"]
        assert np.array_equal(np.isnan(a), np.isnan(b))
        finite = np.isfinite(a) & np.isfinite(b)
        assert np.array_equal(a[~finite & ~np.isnan(a)], b[~finite & ~np.isnan(a)])
        scale = np.maximum(np.abs(a[finite]), np.abs(b[finite])).astype(dtype)
        ulp = np.spacing(scale).astype(np.float64)
        ulp = np.maximum(ulp, np.finfo(dtype).smallest_subnormal)
        if mode != "forward":
            ulp = np.maximum(ulp, np.spacing(np.abs(g[finite]).astype(dtype)).astype(np.float64))
        diff = np.abs(a[finite].astype(np.float64) - b[finite].astype(np.float64))
        assert np.all(diff <= 8 * ulp), f"baseline differs by {np.max(diff / ulp):.1f} ulp"


def test_supported_levels_include_baseline():
    levels = _dispatch.supported_levels()
    assert "baseline" in levels and act.simd_level() in levels


def test_set_num_threads_rejects_non_positive(restore_threads):
    with pytest.raises(ValueError):
        act.set_num_threads(0)
    assert act.get_num_threads() == restore_threads


@pytest.mark.skipif(not OPENMP, reason="serial build: no OpenMP runtime to limit")
def test_threadpoolctl_limits(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    act.set_num_threads(2)
    with threadpoolctl.threadpool_limits(1):
        assert act.get_num_threads() == 1
    assert act.get_num_threads() == 2


def test_concurrent_calls_from_python_threads():
    """Several Python threads call different functions at once (the kernels release
    the GIL); each checks its results against values computed beforehand."""
    jobs = []
    for i, name in enumerate(NAMES):
        for dtype in (np.float32, np.float64):
            x, g = _data(dtype, seed=10 + i)
            size = N if i % 2 else 5000  # parallel regions and serial loops at once
            x, g = x[:size], g[:size]
            jobs.append((name, x, g, _run(name, "forward", x, g), _run(name, "backward_x", x, g)))
    errors = []
    barrier = threading.Barrier(len(jobs))

    def work(job):
        name, x, g, fwd, bwd = job
        try:
            barrier.wait()
            for _ in range(5):
                out = np.empty_like(x)
                assert same_bits(act.get(name).forward(x, out=out, **call_params(name)), fwd), name
                assert same_bits(act.get(name).backward(g, x, **call_params(name)), bwd), name
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
