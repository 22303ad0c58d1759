"""The self-check's rows of the functions along an axis: the softmax family (plain and
the fused scale/mask form) and the gated family (cells and context: ``checks.py``)."""

from __future__ import annotations

from typing import List, Tuple

import numpy as np

import activations as act
from activations._check import references as R
from activations._check.checks import DTYPES, Cell, Context, Row, grad_like, measure
from activations._check.ldmath import LD
from activations._check.ulp import dtype_tag


def softmax_inputs(shape: Tuple[int, ...], axis: int, dtype: np.dtype) -> np.ndarray:
    """Random rows (scale 5), plus rows with huge values (stability), -inf entries,
    all -inf (NaN), a NaN, a +inf, one dominant entry (log_softmax near 0), and
    equal entries."""
    rng = np.random.default_rng(17)
    x = rng.standard_normal(shape) * 5
    xm = np.moveaxis(x, axis, -1)  # a view: rows along the last axis
    rows = [xm[(0,) * (xm.ndim - 2) + (i,)] for i in range(min(8, xm.shape[-2]))]
    rows[0][...] += 1e4                       # large: exp would overflow unshifted
    rows[1][::3] = -np.inf                    # -inf entries: probability 0
    rows[2][...] = -np.inf                    # all -inf: NaN (as PyTorch)
    rows[3][...] = rng.standard_normal(rows[3].shape) * 0.01
    rows[3][4] = 60.0                         # one entry dominates: log_softmax ~ -tiny
    rows[4][...] = 1.5                        # all equal
    rows[5][7] = np.nan                       # NaN: NaN row
    rows[6][...] *= 1e-30                     # tiny differences
    with np.errstate(all="ignore"):
        return x.astype(dtype)


def check_softmax(name: str, ref: R.Softmax, ctx: Context) -> List[Row]:
    """Forward, backward from x and backward from y, along the last and a middle axis.

    Forward errors are ULPs at the reference; the backward y * (grad - sum(grad * y))
    (softmax, softmin) and grad - exp(y) * sum(grad) (log_softmax) are differences,
    counted in ULPs of their larger term."""
    entry = act.get(name)
    rows: List[Row] = []
    quick = ctx.quick
    configs = (((32, 257) if quick else (128, 1025), -1), ((4, 33, 40) if quick else (8, 65, 96), 1))
    for shape, axis in configs:
        label = f"{name} axis={axis}"
        cells: List[Cell] = []
        for dtype in DTYPES:
            tag = dtype_tag(dtype)

            def refs(shape=shape, axis=axis, dtype=dtype):
                x = softmax_inputs(shape, axis, dtype)
                g = grad_like(x, dtype, 19)
                y_want, y_unit = ref.forward(x.astype(LD), axis)
                with np.errstate(all="ignore"):
                    y = y_want.astype(dtype)
                # from x: the exact y; from y: the rounded y the caller holds
                dx, dx_unit = ref.backward(g.astype(LD), y_want, axis)
                dy, dy_unit = ref.backward(g.astype(LD), y.astype(LD), axis)
                return x, g, y, y_want, y_unit, dx, dx_unit, dy, dy_unit

            x, g, y, y_want, y_unit, dx, dx_unit, dy, dy_unit = ctx.cached((label, tag), refs)
            cells.append(measure(name, f"{tag} fwd", lambda: entry.forward(x, axis=axis), y_want,
                                 x, dtype, y_unit))
            cells.append(measure(name, f"{tag} bwd x", lambda: entry.backward(g, x, axis=axis),
                                 dx, x, dtype, dx_unit))
            cells.append(measure(name, f"{tag} bwd y", lambda: entry.backward(g, y=y, axis=axis),
                                 dy, y, dtype, dy_unit))
        rows.append((label, cells))
    return rows + check_softmax_masked(name, ctx)


def check_softmax_masked(name: str, ctx: Context) -> List[Row]:
    """The fused form (README "Fused forms"): scale 1/8 and a bool padding mask that
    excludes whole rows; the reference is the plain one of z = scale * x (softmin:
    -(scale * x)) rounded in the dtype, -inf where masked, with excluded rows 0 / -inf
    and their gradient 0."""
    entry = act.get(name)
    shape = (32, 257) if ctx.quick else (128, 1025)
    scale = 0.125
    keep = np.arange(shape[0])[:, None] % 5 != 3
    cells: List[Cell] = []
    for dtype in DTYPES:
        tag = dtype_tag(dtype)

        def refs(dtype=dtype):
            x = softmax_inputs(shape, -1, dtype)
            g = grad_like(x, dtype, 19)
            with np.errstate(all="ignore"):
                sx = dtype.type(scale) * x
                z = np.where(keep, -sx if name == "softmin" else sx, -np.inf).astype(LD)
            base = R.Softmax("log_softmax" if name == "log_softmax" else "softmax")
            kept = ~np.all(z == -np.inf, axis=-1, keepdims=True)   # rows not all excluded
            y_want, y_unit = base.forward(z, -1)
            y_want = np.where(kept, y_want, -np.inf if base.kind == "log_softmax" else 0)
            sign = -scale if name == "softmin" else scale
            # an excluded entry's upstream gradient stays out of log_softmax's row sum
            g_kept = np.where(z == -np.inf, 0, g.astype(LD))
            dx, dx_unit = base.backward(g_kept, y_want, -1)
            dx, dx_unit = np.where(kept, sign * dx, 0), abs(sign) * dx_unit
            return x, g, y_want, y_unit, dx, dx_unit

        x, g, y_want, y_unit, dx, dx_unit = ctx.cached((f"{name} masked", tag), refs)
        cells.append(measure(name, f"{tag} fwd", lambda: entry.forward(x, scale=scale, mask=keep),
                             y_want, x, dtype, y_unit))
        cells.append(measure(name, f"{tag} bwd x",
                             lambda: entry.backward(g, x, scale=scale, mask=keep), dx, x,
                             dtype, dx_unit))
    return [(f"{name} scale, mask", cells)]


def check_gated(name: str, ref: R.Gated, ctx: Context) -> List[Row]:
    """Forward and backward of a gated function: x split into a (the elementwise check
    inputs: specials, extremes, dense grid) and b (random, scale 3, a few specials),
    along the last axis and along a middle axis.  d/da near a root of the gate's
    derivative (swish' at -1.278, gelu' at -0.752) is counted in ULPs of its terms."""
    entry = act.get(name)
    rows: List[Row] = []
    for pset in ref.param_sets:
        for axis in (-1, 1):
            label = f"{name} axis={axis}" + "".join(f" {k}={v!r}" for k, v in pset.items())
            cells: List[Cell] = []
            for dtype in DTYPES:
                tag = dtype_tag(dtype)
                flat = ctx.inputs[dtype]
                if axis == -1:
                    k = 64
                    a = flat[:flat.size // k * k].reshape(-1, k)
                else:
                    a = flat[:(512 if ctx.quick else 4096) * 3].reshape(-1, 3, 16)
                rng = np.random.default_rng(23)
                b = rng.standard_normal(a.shape) * 3
                b.flat[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30]
                b = b.astype(dtype)
                x = np.ascontiguousarray(np.concatenate([a, b], axis=1))

                def refs(a=a, b=b, dtype=dtype):
                    g = grad_like(a, dtype, 29)
                    a_ld, b_ld, g_ld = a.astype(LD), b.astype(LD), g.astype(LD)
                    with np.errstate(all="ignore"):
                        f, da, da_terms, db = ref.values(a_ld, b_ld,
                                                         pset.get("approximate", "none"))
                        want_dx = np.concatenate([g_ld * da, g_ld * db], axis=1)
                        unit = None
                        if da_terms is not None:
                            unit = np.concatenate([np.abs(g_ld) * da_terms,
                                                   np.zeros_like(db)], axis=1)
                    return g, f * np.ones_like(a_ld), want_dx, unit

                g, want_y, want_dx, unit = ctx.cached((label, tag), refs)
                cells.append(measure(name, f"{tag} fwd",
                                     lambda: entry.forward(x, axis=axis, **pset),
                                     want_y, a, dtype))
                cells.append(measure(name, f"{tag} bwd x",
                                     lambda: entry.backward(g, x, axis=axis, **pset),
                                     want_dx, x, dtype, unit))
            rows.append((label, cells))
    return rows
