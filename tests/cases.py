"""The test grid (function x parameters x dtype) and input samples, shared by the tests."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import activations as act
from reference import DTYPES, F32, F64, REFERENCES, REQUIRED_PARAMS, mp_values, rounded

from activations import _spec

#: kinds of rows these tests cover: elementwise functions, and rrelu (training=False is
#: leaky_relu with slope (lower + upper) / 2).  prelu, softmax, ... have other
#: signatures and need their own tests (see test_registry.test_every_function_is_covered).
COVERED_KINDS = ("elementwise", "rrelu")
KIND = {s.name: s.kind for s in _spec.SPECS}
NAMES = tuple(n for n in act.names() if KIND.get(n, "elementwise") in COVERED_KINDS)


def _value_id(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def params_id(params) -> str:
    return ",".join(f"{k}={_value_id(v)}" for k, v in params.items()) or "defaults"


def function_params():
    """pytest params (name, params) for every registered function and its parameter sets.

    A name without a reference row still appears (with defaults), so that every test
    built on this grid fails for it until a reference is written."""
    out = []
    for name in NAMES:
        ref = REFERENCES.get(name)
        for params in (ref.param_sets if ref else ({},)):
            out.append(pytest.param(name, params, id=f"{name}[{params_id(params)}]"))
    return out


def function_defaults():
    return [pytest.param(name, id=name) for name in NAMES]


def dtype_params():
    return [pytest.param(dt, id=dt.name) for dt in DTYPES]


def call_params(name):
    """The parameters a call "with the defaults" needs: {} except for functions with a
    required parameter (threshold), which get REQUIRED_PARAMS[name]."""
    return dict(REQUIRED_PARAMS.get(name, {}))


def forward(name, x, params=None, **kw):
    return act.get(name).forward(x, **(params or {}), **kw)


def backward(name, grad, x=None, params=None, **kw):
    return act.get(name).backward(grad, x, **(params or {}), **kw)


def reference(name):
    if name not in REFERENCES:
        pytest.fail(f"no reference for {name!r}: add a row to tests/reference.py")
    return REFERENCES[name]


# ------------------------------------------------------------------------ samples

def _finite_as(x: np.ndarray, dtype) -> np.ndarray:
    info = np.finfo(dtype)
    with np.errstate(over="ignore"):
        x = np.clip(x, -float(info.max), float(info.max)).astype(dtype)
    return x


def edge_points(name, params, dtype):
    """Hand-picked inputs: zeros, kinks and their neighbours, exp overflow edges,
    tiny/huge magnitudes (finite only)."""
    ref = reference(name)
    p = ref.effective(params, dtype)
    info = np.finfo(dtype)
    t = np.dtype(dtype).type
    pts = [0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 1.5, -1.5, 1.2785, -1.2785,
           88.0, 89.0, -88.0, -89.0, 103.9, -103.9, 104.0, -104.0,
           709.0, 710.0, -709.0, -710.0, 745.0, -745.0, 746.0, -746.0,
           20.0, 20.5, 1e4, -1e4, 1e30, -1e30,
           float(info.max), -float(info.max), float(info.tiny), -float(info.tiny),
           float(info.smallest_subnormal), -float(info.smallest_subnormal)]
    pts += list(ref.kinks(p))
    x = _finite_as(np.array(pts, np.float64), dtype)
    # 4 neighbours each side of every point
    nb = [x]
    up, down = x.copy(), x.copy()
    with np.errstate(over="ignore"):  # the neighbour of max is inf: dropped below
        for _ in range(4):
            up = np.nextafter(up, t(np.inf))
            down = np.nextafter(down, t(-np.inf))
            nb += [up, down]
    x = np.concatenate(nb)
    return x[np.isfinite(x)]


def sweep(name, params, dtype, n_core, n_log, n_edge_band, seed=0):
    """A mix of uniform samples on the function's core range, log-uniform magnitudes
    over the whole finite range (subnormals to max, both signs), uniform samples on
    the exp overflow/underflow bands, and ``edge_points``."""
    ref = reference(name)
    info = np.finfo(dtype)
    rng = np.random.default_rng(seed)
    r = ref.core_range
    core = rng.uniform(-r, r, n_core)
    lo = np.log10(float(info.smallest_subnormal))
    hi = np.log10(float(info.max))
    logmag = 10.0 ** rng.uniform(lo, hi, n_log) * rng.choice([-1.0, 1.0], n_log)
    band = 110.0 if dtype == F32 else 760.0  # past exp's overflow and denormal ends
    bands = rng.uniform(-band, band, n_edge_band)
    parts = [core, logmag, bands]
    x = _finite_as(np.concatenate(parts), dtype)
    return np.concatenate([x, edge_points(name, params, dtype)])


def grads_like(x: np.ndarray, seed=1) -> np.ndarray:
    """Upstream gradients in +-[0.5, 2): exact in either dtype, not all ones."""
    rng = np.random.default_rng(seed)
    g = rng.uniform(0.5, 2.0, x.shape) * rng.choice([-1.0, 1.0], x.shape)
    return g.astype(x.dtype)


def _key(params):
    return tuple(sorted(params.items()))


def reference_values(name, params, dtype, direction, x, g=None):
    """(ref_hi, ref_lo, scale) of ``name`` at x (and grad g for the backward): float32 in
    NumPy float64, float64 in mpmath (ref_lo its next digits); scale the derivative's
    term magnitude where it has a root (see ulp_error), else None."""
    dtype = np.dtype(dtype)
    ref = reference(name)
    p = ref.effective(params, dtype)
    if dtype == F32:
        x64 = x.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            if direction == "forward":
                return ref.forward_np(x64, p), None, None
            g64 = g.astype(np.float64)
            scale = (np.abs(g64) * ref.derivative_scale_np(x64, p)
                     if ref.derivative_scale_np else None)
            return g64 * ref.derivative_np(x64, p), None, scale
    if direction == "forward":
        hi, lo = mp_values(ref.forward_mp, x, p)
        return hi, lo, None
    hi, lo = mp_values(ref.derivative_mp, x, p, factor=g)
    scale = None
    if ref.derivative_scale_mp:
        s_hi, _ = mp_values(ref.derivative_scale_mp, x, p)
        scale = np.abs(g.astype(np.float64)) * s_hi
    return hi, lo, scale


@functools.lru_cache(maxsize=None)
def accuracy_case(name, params_key, dtype_name, direction):
    """(x, grad, ref_hi, ref_lo, scale) for the accuracy tests (cached across SIMD levels).

    float32: dense sweep (~2e5 points), references in NumPy float64;
    float64: ~2000 points, references in mpmath."""
    params = dict(params_key)
    dtype = np.dtype(dtype_name)
    if dtype == F32:
        x = sweep(name, params, dtype, 100_000, 60_000, 40_000)
    else:
        x = sweep(name, params, dtype, 900, 700, 300)
    g = None if direction == "forward" else grads_like(x)
    return (x, g) + reference_values(name, params, dtype, direction, x, g)


def case(name, params, dtype, direction):
    return accuracy_case(name, _key(params), np.dtype(dtype).name, direction)


def rounded_params(name, params, dtype):
    return {k: rounded(v, dtype) for k, v in params.items()}


def same_bits(a, b):
    """Bitwise equal (so -0.0 != 0.0), except that any NaN equals any NaN: the sign
    and payload of a NaN are not part of the contract (and do differ between the
    vector body and the scalar tail, e.g. swish_backward at x = NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    na, nb = np.isnan(a), np.isnan(b)
    return bool(np.array_equal(na, nb)) and a[~na].tobytes() == b[~nb].tobytes()
