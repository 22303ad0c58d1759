"""The self-check's rows of each kind of function (the driver is ``selfcheck.py``).

Each checker returns rows ``(label, [Cell, ...])``; a cell holds the max error in ULPs
of one dtype and direction ("f32 fwd", "f64 bwd x", "f64 bwd y") against the
references of ``references.py``.  Reference values are computed once per run (the
context's cache) and reused at every SIMD level: they do not depend on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

import activations as act
from activations._check import references as R
from activations._check.ldmath import LD
from activations._check.ulp import bound, dtype_tag, ulp_errors

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass
class Cell:
    label: str
    max_ulp: Optional[float] = None  # None: not applicable
    detail: str = ""
    failed: bool = False


#: One line of the table: a label ("gelu approximate='tanh'", "softmax axis=1") and
#: its cells.
Row = Tuple[str, List[Cell]]


@dataclass
class Context:
    """What every checker reads: the run's size, the elementwise inputs per dtype, and
    the reference values already computed (by (row label, dtype tag))."""
    quick: bool
    inputs: Dict[np.dtype, np.ndarray]
    cache: Dict[Tuple[str, str], tuple] = field(default_factory=dict)

    def cached(self, key, compute):
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


def _worst(x, got, ref, err) -> str:
    i = int(np.argmax(err))
    return f"x={x.flat[i]!r} got={got.flat[i]!r} expected={float(ref.flat[i])!r} ({err.flat[i]:.3g} ULP)"


def measure(function: str, label: str, call: Callable, want: np.ndarray, shown: np.ndarray,
            dtype: np.dtype, unit: Optional[np.ndarray] = None) -> Cell:
    """Run `call`, compare with `want` (long double) in ULPs; a Cell either way."""
    try:
        got = np.asarray(call())
    except Exception as exc:  # report, do not stop the check
        return Cell(label, None, f"raised {type(exc).__name__}: {exc}", True)
    if got.dtype != dtype or got.shape != want.shape:
        return Cell(label, None, f"returned {got.dtype} {got.shape}, expected {dtype} {want.shape}",
                    True)
    err = ulp_errors(got, want, dtype, unit)
    worst = float(np.max(err)) if err.size else 0.0
    failed = not worst <= bound(function, dtype, "fwd" if "fwd" in label else "bwd")
    return Cell(label, worst, _worst(shown, got, want, err) if failed else "", failed)


def grad_like(x: np.ndarray, dtype: np.dtype, seed: int) -> np.ndarray:
    """An upstream gradient: magnitudes in [0.5, 2), random signs."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.5, 2.0, x.shape) * rng.choice([-1.0, 1.0], x.shape)).astype(dtype)


def _param_label(name: str, ref: R.Elementwise, pset: dict) -> str:
    if len(ref.param_sets) <= 1:
        return name
    return name + " " + " ".join(f"{k}={v!r}" for k, v in pset.items())


def check_elementwise(name: str, ref: R.Elementwise, ctx: Context) -> List[Row]:
    entry = act.get(name)
    rows: List[Row] = []
    for pset in ref.param_sets:
        call_params = {**entry.params, **ref.params, **pset}
        label = _param_label(name, ref, pset)
        missing = [k for k, v in call_params.items() if v is None]
        if missing:
            rows.append((label, [Cell("f32 fwd", None,
                                      f"no check value for required parameter(s) {missing}",
                                      True)]))
            continue
        cells: List[Cell] = []
        for dtype in DTYPES:
            x = ctx.inputs[dtype]
            tag = dtype_tag(dtype)
            rp = R.ref_params(call_params, dtype)

            def refs(x=x, dtype=dtype, rp=rp):
                x_ld = x.astype(LD)
                g = grad_like(x, dtype, 7)
                g_ld = g.astype(LD)
                want_y = ref.evaluate("f", x_ld, dtype, rp)
                want_dx = g_ld * ref.evaluate("dx", x_ld, dtype, rp)
                unit_dx = (None if ref.dx_terms is None else
                           g_ld * ref.evaluate("dx_terms", x_ld, dtype, rp))
                with np.errstate(all="ignore"):
                    y = want_y.astype(dtype)  # the forward output, from the reference
                want_dy = unit_dy = None
                if ref.dy is not None:
                    want_dy = g_ld * ref.evaluate("dy", y.astype(LD), dtype, rp)
                    if ref.dy_terms is not None:
                        unit_dy = g_ld * ref.evaluate("dy_terms", y.astype(LD), dtype, rp)
                return g, want_y, want_dx, unit_dx, y, want_dy, unit_dy

            g, want_y, want_dx, unit_dx, y, want_dy, unit_dy = ctx.cached((label, tag), refs)
            cells.append(measure(name, f"{tag} fwd", lambda: entry.forward(x, **call_params),
                                 want_y, x, dtype))
            cells.append(measure(name, f"{tag} bwd x",
                                 lambda: entry.backward(g, x, **call_params),
                                 want_dx, x, dtype, unit_dx))
            if "y" in entry.backward_takes:
                if want_dy is None:
                    cells.append(Cell(f"{tag} bwd y", None, "no reference for backward from y",
                                      True))
                else:
                    cells.append(measure(name, f"{tag} bwd y",
                                         lambda: entry.backward(g, y=y, **call_params),
                                         want_dy, y, dtype, unit_dy))
        rows.append((label, cells))
    return rows


def check_bias(name: str, ref: R.Elementwise, ctx: Context) -> List[Row]:
    """The bias form (README "Fused forms"): f(x, bias=b) and its backward from x against
    the reference at x + b rounded in the dtype, with the default parameters."""
    entry = act.get(name)
    call_params = {**entry.params, **ref.params}
    if any(v is None for v in call_params.values()):
        return []
    cells: List[Cell] = []
    for dtype in DTYPES:
        n = ctx.inputs[dtype].size // 16 * 16
        x = ctx.inputs[dtype][:n].reshape(-1, 16)
        b = np.linspace(-2, 2, 16).astype(dtype)          # exact in either dtype
        tag = dtype_tag(dtype)
        rp = R.ref_params(call_params, dtype)

        def refs(x=x, b=b, dtype=dtype, rp=rp):
            with np.errstate(all="ignore"):
                xb = (x + b).astype(LD)                   # the sum rounded as NumPy rounds it
            g = grad_like(x, dtype, 7)
            want_dx = g.astype(LD) * ref.evaluate("dx", xb, dtype, rp)
            unit = (None if ref.dx_terms is None else
                    g.astype(LD) * ref.evaluate("dx_terms", xb, dtype, rp))
            return g, ref.evaluate("f", xb, dtype, rp), want_dx, unit

        g, want_y, want_dx, unit_dx = ctx.cached((f"{name} bias", tag), refs)
        cells.append(measure(name, f"{tag} fwd", lambda: entry.forward(x, bias=b, **call_params),
                             want_y, x, dtype))
        cells.append(measure(name, f"{tag} bwd x",
                             lambda: entry.backward(g, x, bias=b, **call_params),
                             want_dx, x, dtype, unit_dx))
    return [(f"{name} bias", cells)]


def check_rrelu_training(ctx: Context) -> List[Row]:
    """Slopes are keyed by (seed, flat index) only, so rrelu(-1) reads them out exactly
    (y_i = -a_i); then rrelu(x) must be x_i * a_i and rrelu_backward(g, x) must be
    g_i * a_i (x_i <= 0) or g_i: the backward regenerates the forward's slopes.  The
    slopes must lie in [lower, upper] (as rounded to the dtype), their mean must be
    (lower + upper) / 2 within 6 standard errors, and another seed must draw others."""
    rows: List[Row] = []
    for lower, upper, seed in ((1 / 8, 1 / 3, 20240611), (0.0, 1.0, 2**70 + 5)):
        params = dict(lower=lower, upper=upper, training=True, seed=seed)
        label = f"rrelu training lower={lower:.3g} upper={upper:.3g}"
        cells: List[Cell] = []
        for dtype in DTYPES:
            x = ctx.inputs[dtype]
            tag = dtype_tag(dtype)
            g = grad_like(x, dtype, 11)
            try:
                slopes = -act.rrelu(-np.ones_like(x), **params)
                other = -act.rrelu(-np.ones_like(x), **dict(params, seed=seed + 1))
            except Exception as exc:
                cells.append(Cell(f"{tag} fwd", None, f"raised {type(exc).__name__}: {exc}", True))
                continue
            lo, hi = LD(dtype.type(lower)), LD(dtype.type(upper))
            a = slopes.astype(LD)
            n = a.size
            sigma = (float(upper) - float(lower)) / math.sqrt(12 * n)
            problems = []
            outside = ~((a >= lo) & (a <= hi))
            if outside.any():
                i = int(np.argmax(outside))
                problems.append(f"slope a[{i}]={slopes[i]!r} outside [{lower}, {upper}]")
            if abs(float(np.mean(a)) - (lower + upper) / 2) > 6 * sigma + 1e-12:
                problems.append(f"mean slope {float(np.mean(a))!r}, expected {(lower + upper) / 2!r}")
            if upper > lower and np.array_equal(slopes, other):
                problems.append("seed and seed + 1 drew the same slopes")
            x_ld, g_ld = x.astype(LD), g.astype(LD)
            with np.errstate(all="ignore"):
                want_y = np.where(x >= 0, x_ld, x_ld * a)
                want_dx = np.where(np.isnan(x), np.nan, np.where(x > 0, g_ld, g_ld * a))
            cell = measure("rrelu", f"{tag} fwd", lambda: act.rrelu(x, **params), want_y, x, dtype)
            if problems:
                cell = Cell(cell.label, cell.max_ulp,
                            "; ".join(problems + ([cell.detail] if cell.detail else [])), True)
            cells.append(cell)
            cells.append(measure("rrelu", f"{tag} bwd x",
                                 lambda: act.rrelu_backward(g, x, **params), want_dx, x, dtype))
        rows.append((label, cells))
    return rows


def check_prelu(ref: R.Prelu, ctx: Context) -> List[Row]:
    """prelu forward and backward, grad_weight included, for a per-channel weight
    (channels along axis 1 of a 3-d array) and a shared length-1 weight."""
    rows: List[Row] = []
    shape = (16, 8, 33) if ctx.quick else (64, 8, 33)
    rng = np.random.default_rng(5)
    base = rng.standard_normal(shape) * 4
    base[:, :, 0] = 0.0
    base[:, :, 1] = -0.0
    base[0, :, 2] = 1e-300
    base[1, :, 2] = -1e-42
    weights = {
        "weight[8]": (np.array([0.25, -0.5, 0.0, 1.0, 3.0, 1e-3, -2.0, 0.1]), 1),
        "weight[1]": (np.array([0.2]), 1),
        "weight[33] axis=-1": (np.linspace(-1, 1, 33), -1),
    }
    for wlabel, (w, axis) in weights.items():
        label = f"prelu {wlabel}"
        cells: List[Cell] = []
        grad_cells: List[Cell] = []
        for dtype in DTYPES:
            tag = dtype_tag(dtype)
            with np.errstate(all="ignore"):
                x = base.astype(dtype)
            wd = w.astype(dtype)
            g = grad_like(x, dtype, 13)
            x_ld, g_ld = x.astype(LD), g.astype(LD)
            wb = R.broadcast_weight(wd.astype(LD), x.ndim, axis)
            sum_axes = tuple(i for i in range(x.ndim) if w.size == 1 or i != axis % x.ndim)
            want_gw, unit_gw = ref.grad_weight(g_ld, x_ld, sum_axes)
            cells.append(measure("prelu", f"{tag} fwd", lambda: act.prelu(x, wd, axis=axis),
                                 ref.forward(x_ld, wb), x, dtype))
            result: Dict[str, object] = {}

            def backward():
                if "r" not in result:
                    result["r"] = act.prelu_backward(g, x, wd, axis=axis)
                return result["r"]
            cells.append(measure("prelu", f"{tag} bwd x", lambda: backward()[0],
                                 ref.backward(g_ld, x_ld, wb), x, dtype))
            grad_cells.append(measure("prelu", f"{tag} bwd x", lambda: backward()[1], want_gw,
                                      np.arange(w.size), dtype, unit_gw))
        rows.append((label, cells))
        rows.append((f"prelu {wlabel} grad_weight", grad_cells))
    return rows
