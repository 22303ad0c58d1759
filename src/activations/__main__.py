"""``python -m activations``: self-check every registered function, then benchmark it.

Design:
 1. Everything is driven by the registry (``activations.names()`` / ``get(name)``), so a
    function added to ``_spec.py`` is checked and benchmarked without edits here; one
    that this file has no reference for is reported as a FAIL ("no reference"), so an
    omission is visible rather than silently skipped.
 2. Expected values are computed here, independently of the package: small reference
    formulas per function name, evaluated with NumPy in ``np.longdouble`` (80-bit
    extended on x86-64, 64-bit mantissa) from inputs that are exactly representable in
    the tested dtype, with parameters first rounded to that dtype (API.md: parameters
    are converted to the array's dtype).  Each formula is written in a numerically
    stable form so that the reference itself is good to far below one float64 ULP.
 3. Errors are measured in ULPs of the dtype at the correctly rounded reference value
    (NumPy's ``test_umath_accuracy`` style); NaN must match NaN and an infinity must
    match the same infinity.
 4. The benchmark measures, it never asserts: medians of several repeats, in
    nanoseconds per element, next to the NumPy expression a competent user writes.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

import activations as act
from activations import _dispatch

LD = np.longdouble

#: A cell passes when its max error is at most this many ULPs: API.md promises
#: "correct to a few ULP"; NumPy's own accuracy tests allow 1-4 ULP per function.
TOLERANCE_ULP = 4.0

#: Checked at every SIMD level the build and CPU support, not only the chosen one.
CHECK_ALL_LEVELS = True


#: Exit status when the self-check finds a failure (1 is Python's own status for an
#: uncaught error and 2 argparse's, so a caller can tell a crash from a FAIL).
EXIT_CHECK_FAILED = 3


def say(*args, **kwargs) -> None:
    print(*args, **kwargs, flush=True)


# ============================================================ reference formulas
# Every function below takes long-double arrays (and long-double parameters) and is
# exact to well below a float64 ULP.  ``_nanpass(x, v)`` keeps NaN inputs NaN where a
# `where` would otherwise drop them.

def _nanpass(x, value):
    return np.where(np.isnan(x), x, value)


def _sigmoid(z):
    """1 / (1 + exp(-z)) without cancellation or overflow on either side."""
    e = np.exp(-np.abs(z))
    return _nanpass(z, np.where(z >= 0, 1 / (1 + e), e / (1 + e)))


def _sigmoid_prime(z):
    e = np.exp(-np.abs(z))
    return e / ((1 + e) * (1 + e))


def _softplus0(z):
    """log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _clip(x, lo, hi):
    return _nanpass(x, np.minimum(np.maximum(x, lo), hi))


def _where_inf(x, pos, neg, other):
    """`other`, but `pos` at x = +inf and `neg` at x = -inf (limits a formula misses)."""
    return np.where(np.isposinf(x), pos, np.where(np.isneginf(x), neg, other))


def _tanhshrink(x):
    # x - tanh(x) cancels near 0: there the Taylor series of tanh, whose first
    # omitted term is below 1e-17 relative for |x| < 0.1 (A. & S. 4.5.64).
    coef = [1 / 3, -2 / 15, 17 / 315, -62 / 2835, 1382 / 155925, -21844 / 6081075,
            929569 / 638512875]
    x2 = x * x
    series = np.zeros_like(x)
    for c in reversed(coef):
        series = series * x2 + LD(c)
    series = series * x2 * x
    return np.where(np.abs(x) < 0.1, series, x - np.tanh(x))


def _gelu_none(x):
    # Phi(x) = erfc(-x / sqrt(2)) / 2; NumPy has no erfc, so math.erfc (double, about
    # 1 ULP): the float64 column of gelu is then only checked to about 1 ULP.
    erfc = np.frompyfunc(lambda v: math.erfc(-float(v) / math.sqrt(2.0)), 1, 1)
    phi_cdf = erfc(x).astype(LD) / 2
    return phi_cdf


_SQRT_2_OVER_PI = LD("0.79788456080286535587989211986876373")
_GELU_TANH_C = LD("0.044715")


def _gelu(x, approximate="none"):
    if approximate == "tanh":
        u = _SQRT_2_OVER_PI * (x + _GELU_TANH_C * x * x * x)
        val = x * _sigmoid(2 * u)  # 0.5 * (1 + tanh(u)) = sigmoid(2u)
    else:
        val = x * _gelu_none(x)
    return _where_inf(x, np.inf, 0, val)


def _gelu_prime(x, approximate="none"):
    if approximate == "tanh":
        u = _SQRT_2_OVER_PI * (x + _GELU_TANH_C * x * x * x)
        du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_TANH_C * x * x)
        val = _sigmoid(2 * u) + x * 2 * du * _sigmoid_prime(2 * u)
    else:
        pdf = np.exp(-x * x / 2) / LD("2.5066282746310005024157652848110453")
        val = _gelu_none(x) + x * pdf
    return _where_inf(x, 1, 0, val)


def _mish(x):
    return _where_inf(x, np.inf, 0, x * np.tanh(_softplus0(x)))


def _mish_prime(x):
    sp = _softplus0(x)
    sech2 = 1 / np.cosh(sp) ** 2
    return _where_inf(x, 1, 0, np.tanh(sp) + x * sech2 * _sigmoid(x))


def _step(cond, x, one=1):
    """`one` where cond, 0 elsewhere, NaN where x is NaN (the derivative of a kink)."""
    return _nanpass(x, np.where(cond, one, 0))


SELU_SCALE = LD("1.0507009873554804934193349852946")
SELU_ALPHA = LD("1.6732632423543772848170429916717")


@dataclass
class Ref:
    """Reference formulas of one function: forward f(x), derivative in x, derivative in y."""

    f: Callable
    dx: Callable
    dy: Optional[Callable] = None
    #: parameters to check with, overriding the registry's defaults (and giving
    #: values to required ones)
    params: Dict[str, object] = field(default_factory=dict)
    #: for a derivative in y of the form y + c (elu, selu, celu): the magnitude of
    #: the terms, |y|.  Where y + c cancels (y near its asymptote -c) the answer is
    #: only determined to about one ULP of |y|, since c itself is rounded to the
    #: dtype; errors there are counted in ULPs of |grad * y| instead of the result.
    dy_terms: Optional[Callable] = None


REFERENCES: Dict[str, Ref] = {
    "sigmoid": Ref(_sigmoid, _sigmoid_prime, lambda y: y * (1 - y)),
    "tanh": Ref(np.tanh, lambda x: 1 / np.cosh(x) ** 2, lambda y: (1 - y) * (1 + y)),
    "relu": Ref(lambda x: _nanpass(x, np.maximum(x, 0)),
                lambda x: _step(x > 0, x), lambda y: _step(y > 0, y)),
    "leaky_relu": Ref(lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
                      lambda x, negative_slope: _step(x > 0, x) + _step(x <= 0, x, negative_slope),
                      lambda y, negative_slope: _step(y > 0, y) + _step(y <= 0, y, negative_slope)),
    # training=False only: the fixed slope (lower + upper) / 2, computed as PyTorch does
    # (in double, then used in the array's dtype); training draws are not referenced.
    "rrelu": Ref(lambda x, lower, upper, training, seed: np.where(x >= 0, x, x * _rrelu_slope(x, lower, upper)),
                 lambda x, lower, upper, training, seed:
                     _step(x > 0, x) + _step(x <= 0, x, _rrelu_slope(x, lower, upper))),
    "elu": Ref(lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x)),
               lambda x, alpha: _step(x > 0, x) + _step(x <= 0, x, 1) * alpha * np.exp(np.minimum(x, 0)),
               lambda y, alpha: _nanpass(y, np.where(y > 0, 1, y + alpha)),
               dy_terms=lambda y, alpha: np.abs(y)),
    "selu": Ref(lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
                lambda x: SELU_SCALE * (_step(x > 0, x) + _step(x <= 0, x) * SELU_ALPHA * np.exp(np.minimum(x, 0))),
                lambda y: _nanpass(y, np.where(y > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA)),
                dy_terms=lambda y: np.abs(y)),
    "softsign": Ref(lambda x: _where_inf(x, 1, -1, x / (1 + np.abs(x))),
                    lambda x: 1 / (1 + np.abs(x)) ** 2,
                    lambda y: (1 - np.abs(y)) ** 2),
    # The branch `beta * x > threshold` is decided on the product rounded to the
    # array's dtype, as PyTorch does (the two sides differ by about exp(-threshold)).
    "softplus": Ref(lambda x, beta, threshold: np.where(_rounded(x * beta, x) > threshold, x,
                                                                  _softplus0(x * beta) / beta),
                    lambda x, beta, threshold: np.where(_rounded(x * beta, x) > threshold, 1,
                                                        _sigmoid(x * beta)),
                    lambda y, beta, threshold: _nanpass(y, np.where(_rounded(y * beta, y) > threshold, 1,
                                                                   -np.expm1(-y * beta)))),
    "swish": Ref(lambda x, beta: _where_inf(x * beta, np.inf * np.sign(beta), 0, x * _sigmoid(x * beta)),
                 lambda x, beta: _where_inf(x * beta, 1, 0,
                                            _sigmoid(x * beta) * (1 + x * beta * _sigmoid(-x * beta)))),
    "hard_swish": Ref(lambda x: _where_inf(x, np.inf, 0, x * np.minimum(np.maximum(x + 3, 0), 6) / 6),
                      lambda x: _nanpass(x, np.where(x <= -3, 0, np.where(x >= 3, 1, (2 * x + 3) / 6)))),
    # ---- the rest of the family (API.md), checked as soon as they are registered
    "relu6": Ref(lambda x: _clip(x, 0, 6), lambda x: _step((x > 0) & (x < 6), x),
                 lambda y: _step((y > 0) & (y < 6), y)),
    "hard_sigmoid": Ref(lambda x: _clip(x + 3, 0, 6) / 6,
                        lambda x: _step((x > -3) & (x < 3), x, LD(1) / 6),
                        lambda y: _step((y > 0) & (y < 1), y, LD(1) / 6)),
    "hard_tanh": Ref(lambda x, min_val, max_val: _clip(x, min_val, max_val),
                     lambda x, min_val, max_val: _step((x > min_val) & (x < max_val), x),
                     lambda y, min_val, max_val: _step((y > min_val) & (y < max_val), y)),
    "gelu": Ref(_gelu, _gelu_prime),
    "mish": Ref(_mish, _mish_prime),
    "celu": Ref(lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x / alpha)),
                lambda x, alpha: _step(x > 0, x) + _step(x <= 0, x) * np.exp(np.minimum(x, 0) / alpha),
                lambda y, alpha: _nanpass(y, np.where(y > 0, 1, y / alpha + 1)),
                dy_terms=lambda y, alpha: np.abs(y / alpha)),
    "log_sigmoid": Ref(lambda x: np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))),
                       lambda x: _sigmoid(-x), lambda y: -np.expm1(y)),
    "tanhshrink": Ref(_tanhshrink, lambda x: np.tanh(x) ** 2),
    "softshrink": Ref(lambda x, lambd: _nanpass(x, np.where(x > lambd, x - lambd,
                                                            np.where(x < -lambd, x + lambd, 0))),
                      lambda x, lambd: _step(np.abs(x) > lambd, x)),
    "hardshrink": Ref(lambda x, lambd: _nanpass(x, np.where(np.abs(x) > lambd, x, 0)),
                      lambda x, lambd: _step(np.abs(x) > lambd, x)),
    "threshold": Ref(lambda x, threshold, value: _nanpass(x, np.where(x > threshold, x, value)),
                     lambda x, threshold, value: _step(x > threshold, x),
                     params={"threshold": 0.5, "value": -2.0}),
}


def _rrelu_slope(x, lower, upper):
    return LD(_dtype_under_test.type((float(lower) + float(upper)) / 2))


def _rounded(v, like):
    """`v` rounded to the dtype under test (for branch decisions made in that dtype)."""
    return v.astype(_dtype_under_test).astype(LD)


#: The dtype being checked (set by run_reference; read by _rounded and _rrelu_slope).
_dtype_under_test: np.dtype = np.dtype(np.float64)


def run_reference(fn: Callable, arr_ld: np.ndarray, dtype: np.dtype, params: dict):
    global _dtype_under_test
    _dtype_under_test = dtype
    with np.errstate(all="ignore"):
        return np.asarray(fn(arr_ld, **params), dtype=LD) * np.ones_like(arr_ld)


# ============================================================ inputs and ULPs

def check_inputs(dtype: np.dtype, rng: np.random.Generator, quick: bool) -> np.ndarray:
    """Special values, the dtype's extremes, a dense grid over the interesting range,
    magnitudes over the whole exponent range, and random normal values."""
    fi = np.finfo(dtype)
    tiny_sub = fi.smallest_subnormal
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, tiny_sub, -tiny_sub, fi.tiny, -fi.tiny,
                fi.max, -fi.max, 1.0, -1.0, 0.5, -0.5, 3.0, -3.0, 6.0, -6.0, 20.0, -20.0,
                88.72, 89.0, -87.3, -103.9, 709.78, 710.0, -708.4, -745.1, 1e-8, -1e-8]
    n = 2001 if quick else 20001
    grid = np.linspace(-40, 40, n)
    with np.errstate(over="ignore"):
        mags = np.logspace(math.log10(tiny_sub), math.log10(fi.max), n // 4, dtype=np.float64
                           if dtype == np.float32 else LD)
    parts = [np.array(specials), grid, mags, -mags, rng.standard_normal(n) * 5,
             rng.standard_normal(n) * 0.01]
    with np.errstate(over="ignore"):
        x = np.concatenate([np.asarray(p, dtype=LD).astype(dtype) for p in parts])
    return x


def ulp_errors(got: np.ndarray, ref: np.ndarray, dtype: np.dtype,
               unit_of: Optional[np.ndarray] = None) -> np.ndarray:
    """|got - ref| in ULPs of `dtype` at the rounded reference (or at the larger
    magnitude `unit_of`, where given); inf on a NaN or infinity mismatch."""
    with np.errstate(all="ignore"):
        rounded = ref.astype(dtype)
        got_ld = got.astype(LD)
        magnitude = np.abs(rounded)
        if unit_of is not None:
            terms = np.abs(unit_of).astype(dtype)
            magnitude = np.where(np.isfinite(terms), np.fmax(magnitude, terms), magnitude)
        spacing = np.spacing(magnitude).astype(LD)
        err = np.abs(got_ld - ref) / spacing
        same = (got == rounded) | (np.isnan(got) & np.isnan(ref))
        err = np.where(same, 0.0, err)
        err = np.where(np.isnan(err), np.inf, err)
    return err


@dataclass
class Cell:
    label: str
    max_ulp: Optional[float] = None  # None: not applicable
    detail: str = ""
    failed: bool = False


def _worst(x, got, ref, err) -> str:
    i = int(np.argmax(err))
    return f"x={x[i]!r} got={got[i]!r} expected={float(ref[i])!r} ({err[i]:.3g} ULP)"


def check_function(name: str, rng: np.random.Generator, quick: bool,
                   inputs: Dict[np.dtype, np.ndarray]) -> Tuple[List[Cell], Optional[str]]:
    """The cells (dtype x direction) of one function, or a reason it could not be checked."""
    entry = act.get(name)
    ref = REFERENCES.get(name)
    if ref is None:
        return [], "no reference"
    call_params = dict(entry.params)
    call_params.update(ref.params)
    missing = [k for k, v in call_params.items() if v is None]
    if missing:
        return [], f"no check value for required parameter(s) {missing}"
    cells: List[Cell] = []
    for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        x = inputs[dtype]
        x_ld = x.astype(LD)
        ref_params = {k: (LD(dtype.type(v)) if isinstance(v, float) else v)
                      for k, v in call_params.items()}
        g = (rng.uniform(0.5, 2.0, x.shape) * rng.choice([-1.0, 1.0], x.shape)).astype(dtype)
        g_ld = g.astype(LD)
        tag = "f32" if dtype == np.float32 else "f64"
        want_y = run_reference(ref.f, x_ld, dtype, ref_params)
        cases = [(f"{tag} fwd", lambda: entry.forward(x, **call_params), want_y, x, None)]
        want_dx = g_ld * run_reference(ref.dx, x_ld, dtype, ref_params)
        cases.append((f"{tag} bwd x", lambda: entry.backward(g, x, **call_params), want_dx, x,
                      None))
        if "y" in entry.backward_takes:
            if ref.dy is None:
                cells.append(Cell(f"{tag} bwd y", None, "no reference for backward from y", True))
            else:
                with np.errstate(all="ignore"):
                    y = want_y.astype(dtype)  # the forward output, from the reference
                want_dy = g_ld * run_reference(ref.dy, y.astype(LD), dtype, ref_params)
                unit = (None if ref.dy_terms is None else
                        g_ld * run_reference(ref.dy_terms, y.astype(LD), dtype, ref_params))
                cases.append((f"{tag} bwd y",
                              lambda y=y: entry.backward(g, y=y, **call_params), want_dy, y,
                              unit))
        for label, call, want, shown, unit in cases:
            try:
                got = np.asarray(call())
            except Exception as exc:  # report, do not stop the check
                cells.append(Cell(label, None, f"raised {type(exc).__name__}: {exc}", True))
                continue
            if got.dtype != dtype or got.shape != x.shape:
                cells.append(Cell(label, None, f"returned {got.dtype} {got.shape}", True))
                continue
            err = ulp_errors(got, want, dtype, unit)
            worst = float(np.max(err))
            failed = not worst <= TOLERANCE_ULP
            cells.append(Cell(label, worst, _worst(shown, got, want, err) if failed else "", failed))
    return cells, None


COLUMNS = ("f32 fwd", "f32 bwd x", "f32 bwd y", "f64 fwd", "f64 bwd x", "f64 bwd y")


def self_check(quick: bool) -> bool:
    levels = _dispatch.supported_levels() if CHECK_ALL_LEVELS else (act.simd_level(),)
    active = act.simd_level()
    levels = (active,) + tuple(lv for lv in levels if lv != active)
    say(f"== self-check: {len(act.names())} functions x float32/float64 x forward/backward "
        f"against long-double references; max error in ULPs, ok <= {TOLERANCE_ULP:g} ULP")
    rng = np.random.default_rng(20240611)
    inputs = {np.dtype(t): check_inputs(np.dtype(t), rng, quick) for t in (np.float32, np.float64)}
    say(f"   {inputs[np.dtype(np.float32)].size} inputs per dtype (specials, extremes, "
        "grid, magnitudes, random)")
    all_ok = True
    try:
        for level in levels:
            act._set_simd_level(level)
            width = max(len(n) for n in act.names()) + 2
            detailed = level == active
            if detailed:
                say(f"-- SIMD level {level} (in use)")
                say("function".ljust(width) + "".join(c.rjust(11) for c in COLUMNS) + "  status")
            failures: List[str] = []
            worst_level = 0.0
            for name in act.names():
                cells, reason = check_function(name, np.random.default_rng(7), quick, inputs)
                if reason is not None:
                    failures.append(f"{name}: {reason}")
                    if detailed:
                        say(name.ljust(width) + f"  FAIL ({reason})")
                    continue
                by_label = {c.label: c for c in cells}
                row = name.ljust(width)
                for col in COLUMNS:
                    c = by_label.get(col)
                    if c is None:
                        text = "-"
                    elif c.max_ulp is None:
                        text = "ERR"
                    else:
                        text = f"{c.max_ulp:.2f}" if c.max_ulp < 1e6 else f"{c.max_ulp:.1e}"
                        worst_level = max(worst_level, c.max_ulp)
                    row += text.rjust(11)
                bad = [c for c in cells if c.failed]
                row += "  " + ("FAIL" if bad else "ok")
                failures += [f"{name} {c.label}: {c.detail}" for c in bad]
                if detailed:
                    say(row)
            if not detailed:
                say(f"-- SIMD level {level}: " + ("all ok" if not failures else
                                                  f"{len(failures)} FAIL") +
                    f" (max {worst_level:.2f} ULP)")
            for f in failures:
                say(f"   FAIL [{level}] {f}")
            all_ok = all_ok and not failures
    finally:
        act._set_simd_level(active)
    say("== self-check: " + ("all ok" if all_ok else "FAILED"))
    return all_ok


# ============================================================ benchmark
# The NumPy expression a competent user writes for each function (x, grad g,
# preallocated out o), with the registry's default parameters.  Python-float
# scalars keep the array's dtype (NEP 50).

def _np_sigmoid(x, o):
    return np.divide(1, 1 + np.exp(-x), out=o)


NUMPY_FORWARD: Dict[str, Callable] = {
    "sigmoid": _np_sigmoid,
    "tanh": lambda x, o: np.tanh(x, out=o),
    "relu": lambda x, o: np.maximum(x, 0, out=o),
    "leaky_relu": lambda x, o: np.copyto(o, np.where(x > 0, x, x * 0.01)),
    "rrelu": lambda x, o: np.copyto(o, np.where(x >= 0, x, x * ((1 / 8 + 1 / 3) / 2))),
    "elu": lambda x, o: np.copyto(o, np.where(x > 0, x, np.expm1(x))),
    "selu": lambda x, o: np.multiply(np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
                                     1.0507009873554805, out=o),
    "softsign": lambda x, o: np.divide(x, 1 + np.abs(x), out=o),
    "softplus": lambda x, o: np.logaddexp(0, x, out=o),
    "swish": lambda x, o: np.divide(x, 1 + np.exp(-x), out=o),
    "hard_swish": lambda x, o: np.divide(x * np.clip(x + 3, 0, 6), 6, out=o),
    "relu6": lambda x, o: np.clip(x, 0, 6, out=o),
    "hard_sigmoid": lambda x, o: np.divide(np.clip(x + 3, 0, 6), 6, out=o),
    "hard_tanh": lambda x, o: np.clip(x, -1, 1, out=o),
    "mish": lambda x, o: np.multiply(x, np.tanh(np.logaddexp(0, x)), out=o),
    "celu": lambda x, o: np.copyto(o, np.where(x > 0, x, np.expm1(x))),
    "log_sigmoid": lambda x, o: np.negative(np.logaddexp(0, -x), out=o),
    "tanhshrink": lambda x, o: np.subtract(x, np.tanh(x), out=o),
    "softshrink": lambda x, o: np.copyto(o, np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0))),
    "hardshrink": lambda x, o: np.copyto(o, np.where(np.abs(x) > 0.5, x, 0)),
}


def _np_sigmoid_bwd(g, x, o):
    s = 1 / (1 + np.exp(-x))
    return np.multiply(g, s * (1 - s), out=o)


def _np_swish_bwd(g, x, o):
    s = 1 / (1 + np.exp(-x))
    return np.multiply(g, s * (1 + x * (1 - s)), out=o)


def _np_tanh_bwd(g, x, o):
    t = np.tanh(x)
    return np.multiply(g, 1 - t * t, out=o)


def _np_softsign_bwd(g, x, o):
    d = 1 + np.abs(x)
    return np.divide(g, d * d, out=o)


NUMPY_BACKWARD: Dict[str, Callable] = {
    "sigmoid": _np_sigmoid_bwd,
    "tanh": _np_tanh_bwd,
    "relu": lambda g, x, o: np.multiply(g, x > 0, out=o),
    "leaky_relu": lambda g, x, o: np.copyto(o, np.where(x > 0, g, g * 0.01)),
    "rrelu": lambda g, x, o: np.copyto(o, np.where(x > 0, g, g * ((1 / 8 + 1 / 3) / 2))),
    "elu": lambda g, x, o: np.copyto(o, np.where(x > 0, g, g * np.exp(x))),
    "selu": lambda g, x, o: np.multiply(g, np.where(x > 0, 1.0507009873554805,
                                                    1.7580993408473766 * np.exp(x)), out=o),
    "softsign": _np_softsign_bwd,
    "softplus": lambda g, x, o: np.divide(g, 1 + np.exp(-x), out=o),
    "swish": _np_swish_bwd,
    "hard_swish": lambda g, x, o: np.multiply(
        g, np.where(x <= -3, 0, np.where(x >= 3, 1, (2 * x + 3) / 6)), out=o),
    "relu6": lambda g, x, o: np.multiply(g, (x > 0) & (x < 6), out=o),
    "hard_sigmoid": lambda g, x, o: np.multiply(g, np.where((x > -3) & (x < 3), 1 / 6, 0), out=o),
    "hard_tanh": lambda g, x, o: np.multiply(g, (x > -1) & (x < 1), out=o),
    "tanhshrink": lambda g, x, o: np.multiply(g, np.square(np.tanh(x)), out=o),
    "softshrink": lambda g, x, o: np.multiply(g, np.abs(x) > 0.5, out=o),
    "hardshrink": lambda g, x, o: np.multiply(g, np.abs(x) > 0.5, out=o),
}


def time_call(fn: Callable, repeats: int, min_seconds: float = 2e-3) -> float:
    """Median seconds per call over `repeats` timings of enough calls to last min_seconds."""
    fn()  # warm up (page faults, first-touch)
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(min_seconds / once))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def benchmark(quick: bool) -> None:
    n_all = act.get_num_threads()
    sizes = (2 ** 16,) if quick else (2 ** 16, 2 ** 20)
    dtypes = (np.float32,) if quick else (np.float32, np.float64)
    repeats = 3 if quick else 7
    say(f"== benchmark: ns/element, median of {repeats}; 'x np' = NumPy time / activations "
        "time (> 1: faster than NumPy)")
    say(f"   CPU: {cpu_model()}; SIMD: {act.simd_level()}; threads: {n_all} "
        f"(1T = set_num_threads(1), {n_all}T = all); activations {act.__version__}, "
        f"NumPy {np.__version__}")
    head = (f"{'function':<14}{'dir':>4}{'dtype':>8}{'n':>9}{'numpy':>9}{'1T':>9}"
            f"{'x np':>7}{f'{n_all}T':>9}{'x np':>7}")
    say(head)
    rng = np.random.default_rng(0)
    try:
        for name in act.names():
            entry = act.get(name)
            params = dict(entry.params)
            if any(v is None for v in params.values()):
                params.update(REFERENCES.get(name, Ref(None, None)).params)
            for direction in ("fwd", "bwd"):
                for dtype in dtypes:
                    for n in sizes:
                        x = (rng.standard_normal(n) * 3).astype(dtype)
                        g = rng.standard_normal(n).astype(dtype)
                        o = np.empty_like(x)
                        if direction == "fwd":
                            ours = lambda: entry.forward(x, **params, out=o)
                            ref = NUMPY_FORWARD.get(name)
                            theirs = (lambda: ref(x, o)) if ref else None
                        else:
                            ours = lambda: entry.backward(g, x, **params, out=o)
                            ref = NUMPY_BACKWARD.get(name)
                            theirs = (lambda: ref(g, x, o)) if ref else None
                        try:
                            with np.errstate(all="ignore"):
                                t_np = time_call(theirs, repeats) if theirs else None
                            act.set_num_threads(1)
                            t_1 = time_call(ours, repeats)
                            act.set_num_threads(n_all)
                            t_n = time_call(ours, repeats)
                        except Exception as exc:
                            act.set_num_threads(n_all)
                            say(f"{name:<14}{direction:>4}  skipped: {type(exc).__name__}: {exc}")
                            break
                        ns = lambda t: f"{t / n * 1e9:9.3f}"
                        ratio = lambda t: f"{t_np / t:7.2f}" if t_np else f"{'-':>7}"
                        say(f"{name:<14}{direction:>4}{np.dtype(dtype).name:>8}{n:>9}"
                            f"{ns(t_np) if t_np else '-':>9}{ns(t_1)}{ratio(t_1)}{ns(t_n)}{ratio(t_n)}")
    finally:
        act.set_num_threads(n_all)


# ============================================================ config

def show_config() -> None:
    """Same as ``activations.show_config()``."""
    act.show_config()


# ============================================================ main

def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m activations",
        description="Self-check every activation against long-double NumPy references "
                    "(max ULP error per dtype and direction), then benchmark each one "
                    "against the plain NumPy expression.  Exit status 3 if a check fails "
                    "(1 on a crash).")
    parser.add_argument("--quick", action="store_true",
                        help="fewer check inputs and a tiny benchmark (2**16 float32 only)")
    parser.add_argument("--check-only", action="store_true", help="skip the benchmark")
    parser.add_argument("--bench-only", action="store_true", help="skip the self-check")
    parser.add_argument("--config", action="store_true",
                        help="print build and configuration info and exit")
    args = parser.parse_args(argv)
    if args.config:
        show_config()
        return 0
    t0 = time.perf_counter()
    ok = True
    if not args.bench_only:
        ok = self_check(args.quick)
    if not args.check_only:
        benchmark(args.quick)
    say(f"== done in {time.perf_counter() - t0:.1f} s: self-check "
        + ("skipped" if args.bench_only else ("ok" if ok else "FAILED")))
    return 0 if ok else EXIT_CHECK_FAILED


if __name__ == "__main__":
    sys.exit(main())
