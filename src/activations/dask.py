"""Every activation on Dask arrays: ``activations.dask.NAME`` and ``NAME_backward``.

Install with ``pip install "activations[dask]"``.  Each function has the signature of
its in-memory twin (``activations.NAME``) without ``out=``, takes ``dask.array``
arrays (any array-like becomes a one-chunk Dask array) and returns Dask arrays,
lazily: nothing is computed until the caller computes.  Every check of the arguments
(dtypes, shapes, parameters, axes) runs when the graph is built, through the in-memory
functions' own validation, so an invalid call raises at once.

How each kind is split (README "Beyond one machine"):

  1. Elementwise functions (and rrelu in eval mode): one in-memory call per chunk;
     bit-identical to the in-memory call on the whole array.
  2. rrelu in training mode: element i of the whole array (flat C order) gets the
     slope keyed by (seed, i), so each chunk runs the kernel with its rows' global
     flat indices: bit-identical to the in-memory call, whatever the chunking.
  3. softmax, log_softmax, softmin: when the axis is one chunk, one in-memory call per
     chunk (bit-identical).  When it is split, a two-stage reduction without
     rechunking: the row maximum (exact under any grouping), then per-chunk partial
     sums from the kernel's own block code, combined in chunk order with compensated
     (two-sum) float64 additions, then each chunk written from the row's totals by
     the kernel's own write code.  Only the grouping of the additions differs from
     the in-memory call (whose sums follow fixed blocks of the whole row), so results
     may differ in the last bits; they are held to the in-memory accuracy bounds.
     Along the last axis the chunks are read in place; along another axis each chunk
     is moved to rows (one transposed copy of the chunk, in and out).
  4. glu, swiglu, geglu: the halves a and b are sliced apart and aligned chunk by
     chunk (wherever the chunk boundaries fall), each pair runs the in-memory kernel;
     the backward's gradients for a and b are joined along the axis again.  The
     gate is elementwise in (a, b): bit-identical.
  5. prelu: the weight is sliced per chunk along its axis (bit-identical forward and
     grad_x); grad_weight's per-chunk float64 partial sums (exact products for
     float32) are combined in a fixed order with compensated additions and rounded
     once: deterministic for a given chunking, within the in-memory bounds.

Threads: inside a task the kernels run on ``get_threads_per_task()`` threads (1 by
default: the scheduler already runs one task per core), through a limit that applies
to the worker thread running the task only.  The count in force when the graph is
built travels with its tasks, so it holds on any scheduler, distributed included.
"""

from __future__ import annotations

import inspect
from typing import Callable, Dict, Tuple

import numpy as np

try:
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised without Dask only
    raise ImportError('activations.dask needs Dask: pip install "activations[dask]"') from exc

import activations as _act

from . import _fallback, _functions, _spec, _validation
from ._fallback import BACKWARD, BACKWARD_FROM_OUTPUT, FORWARD
from ._threads import thread_limit

_threads_per_task = 1


def set_threads_per_task(n: int) -> None:
    """Threads each task's kernel call may use (default 1), for graphs built from now on."""
    global _threads_per_task
    n = int(n)
    if n < 1:
        raise ValueError(f"set_threads_per_task: n must be >= 1, got {n}")
    _threads_per_task = n


def get_threads_per_task() -> int:
    """Threads each task's kernel call may use (see set_threads_per_task)."""
    return _threads_per_task


# ------------------------------------------------------------------ helpers

def _as_dask(value):
    return value if isinstance(value, da.Array) else da.asarray(value)


def _aligned(*arrays):
    """Arrays of one shape rechunked to common chunks (map_blocks pairs blocks by index)."""
    if len(arrays) == 1:
        return list(arrays)
    ind = tuple(range(arrays[0].ndim))
    return list(da.core.unify_chunks(*[a_or_i for a in arrays for a_or_i in (a, ind)])[1])


def _meta(ndim: int, dtype) -> np.ndarray:
    return np.empty((0,) * ndim, dtype)


def _probe(arr, keep_axis=None) -> np.ndarray:
    """A tiny in-memory stand-in of ``arr`` for validation by the in-memory function:
    its dtype and ndim, every length 1 (0 stays 0) except the axis ``keep_axis``."""
    shape = tuple(d if (i == keep_axis or d == 0) else 1 for i, d in enumerate(arr.shape))
    return np.zeros(shape, arr.dtype)


def _axis(fname: str, ndim: int, axis) -> int:
    _validation.axis_split(fname, (1,) * ndim, axis)  # raises AxisError / TypeError
    return int(axis) % max(ndim, 1)


def _plain(block: np.ndarray) -> np.ndarray:
    """block as the kernel entries take it: aligned and C-contiguous (a block that
    arrived from another process may sit unaligned in its message buffer)."""
    return np.require(block, requirements="CA")


def _rows_view(block: np.ndarray, axis: int) -> np.ndarray:
    """block as C-contiguous (rows, n) with n its length along axis (the last axis:
    no copy; another axis: a transposed copy of this chunk)."""
    moved = _plain(np.moveaxis(block, axis, -1))
    n = moved.shape[-1] if moved.ndim else 1
    return moved.reshape(int(np.prod(moved.shape[:-1], dtype=np.int64)), n)


def _from_rows(rows: np.ndarray, block_shape, axis: int) -> np.ndarray:
    moved_shape = tuple(np.delete(np.asarray(block_shape, dtype=np.int64), axis)) \
        + (block_shape[axis],)
    return np.moveaxis(rows.reshape(moved_shape), -1, axis)


def _compensated_sum(parts: np.ndarray) -> np.ndarray:
    """Sum of parts[0], parts[1], ... (float64, along the first axis, in that order),
    each addition's exact rounding error (two-sum) kept and added back at the end."""
    total = np.zeros(parts.shape[1:], np.float64)
    comp = np.zeros(parts.shape[1:], np.float64)
    for part in parts:
        t = total + part
        b = t - total
        comp += (total - (t - b)) + (part - b)
        total = t
    return total + comp


# ------------------------------------------------------------------ block functions
# Module-level, so that tasks pickle by reference; each runs one in-memory call.

def _call_block(*blocks, fname: str, keywords: Tuple[str, ...], params: Dict, threads: int):
    """activations.<fname>(*positional blocks, **{keyword: block}, **params)."""
    npos = len(blocks) - len(keywords)
    kwargs = dict(zip(keywords, blocks[npos:]), **params)
    with thread_limit(threads):
        return getattr(_act, fname)(*blocks[:npos], **kwargs)


def _rrelu_block(*blocks, lower: float, upper: float, seed: int, threads: int,
                 block_info=None):
    """rrelu training on one chunk (blocks = (x,) or (grad, x)), each row given its
    flat index in the whole array."""
    info = block_info[0]
    shape = tuple(info["shape"])
    starts = [lo for lo, _ in info["array-location"]]
    arrays = [_plain(b) for b in blocks]
    out = np.empty(arrays[-1].shape, arrays[-1].dtype)
    if out.size == 0:
        return out
    if out.ndim == 0:
        rows_first = np.zeros(1, np.int64)
        cols = 1
    else:
        strides = np.ones(len(shape), np.int64)
        for k in range(len(shape) - 2, -1, -1):
            strides[k] = strides[k + 1] * shape[k + 1]
        first = np.asarray(starts[-1], np.int64).reshape(())
        for k in range(out.ndim - 1):
            index = (starts[k] + np.arange(out.shape[k], dtype=np.int64)) * strides[k]
            first = np.add.outer(first, index) if k else index + first
        rows_first = np.ascontiguousarray(np.reshape(first, -1), np.int64)
        cols = out.shape[-1]
    rows = out.size // cols
    flat = [a.reshape(rows, cols) for a in arrays]
    with thread_limit(threads):
        _functions._K.rrelu_training_rows_entry(
            0 if len(flat) == 1 else 1, flat[0], flat[1] if len(flat) == 2 else None,
            out.reshape(rows, cols), rows_first, lower, upper, seed)
    return out


def _softmax_partials_block(in1, in2=None, m=None, *, mode: int, axis: int, flip: float,
                            threads: int):
    """One chunk's partial statistics (ones, small, dot) per row: the chunk's shape
    with length 1 along axis, and a trailing axis of 3."""
    rows1 = _rows_view(in1, axis)
    rows2 = _rows_view(in2, axis) if in2 is not None else None
    mflat = _plain(m).reshape(-1) if m is not None else None
    stats = np.empty((rows1.shape[0], 3), np.float64)
    with thread_limit(threads):
        _functions._K.softmax_chunk(False, mode, rows1, rows2, None, mflat, stats, flip)
    shape = list(in1.shape)
    shape[axis] = 1
    other = tuple(np.delete(np.asarray(shape, np.int64), axis))
    return np.moveaxis(stats.reshape(other + (1, 3)), -2, axis)


def _softmax_totals_block(partials, *, axis: int, divide_dot: bool):
    """The rows' totals (s, log_s, dot) from the chunks' partials, concatenated along
    axis in chunk order: compensated sums in that order, then as softmax_row does."""
    parts = np.moveaxis(partials, axis, 0)
    ones = np.sum(parts[..., 0], axis=0)            # counts: exact in any order
    small = _compensated_sum(parts[..., 1])
    dot = _compensated_sum(parts[..., 2])
    s = ones + small
    with np.errstate(invalid="ignore", divide="ignore"):
        log_s = np.log1p((ones - 1.0) + small)
        if divide_dot:
            dot = dot / s
    return np.stack([s, log_s, dot], axis=-1)


def _softmax_write_block(in1, in2=None, m=None, totals=None, *, mode: int, axis: int,
                         flip: float, threads: int):
    """One chunk of the result from its rows' maxima and totals."""
    rows1 = _rows_view(in1, axis)
    rows2 = _rows_view(in2, axis) if in2 is not None else None
    mflat = _plain(m).reshape(-1) if m is not None else None
    out = np.empty(rows1.shape, in1.dtype)
    stats = _plain(totals).reshape(-1, 3)
    with thread_limit(threads):
        _functions._K.softmax_chunk(True, mode, rows1, rows2, out, mflat, stats, flip)
    return _from_rows(out, in1.shape, axis)


def _gated_forward_block(a, b, *, fname: str, axis: int, params: Dict, threads: int):
    with thread_limit(threads):
        return getattr(_act, fname)(np.concatenate([a, b], axis=axis), axis=axis, **params)


def _gated_backward_block(grad, a, b, *, fname: str, axis: int, params: Dict, threads: int):
    """The gradients for a and b stacked along a new first axis."""
    with thread_limit(threads):
        full = getattr(_act, fname)(grad, np.concatenate([a, b], axis=axis), axis=axis,
                                    **params)
    return np.stack(np.split(full, 2, axis=axis))


def _prelu_grad_weight_partial(grad, x, *, axis):
    """One chunk's float64 sums of x*grad over x <= 0 (as the kernel's terms), per
    channel along axis (axis None: one shared weight), kept with length 1 elsewhere."""
    terms = np.where(x > 0, 0.0, x.astype(np.float64) * grad.astype(np.float64))
    reduce = tuple(k for k in range(x.ndim) if k != axis)
    return np.sum(terms, axis=reduce, keepdims=True)


def _prelu_grad_weight_total(partials, *, axis, dtype_out):
    """grad_weight from every chunk's partials (concatenated in chunk order), rounded
    once to the data's dtype (axis None: one shared weight, returned 0-d)."""
    if axis is None:
        return np.asarray(_compensated_sum(np.reshape(partials, (-1, 1)))[0], dtype_out)
    parts = np.moveaxis(partials, axis, -1)
    return _compensated_sum(parts.reshape(-1, parts.shape[-1])).astype(dtype_out)


# ------------------------------------------------------------------ per kind

def _elementwise(fname, direction, args, params, threads):
    """One in-memory call per chunk of the arrays in args (name -> dask array)."""
    names = tuple(args)
    positional = 1 if direction == "backward" else len(names)
    arrays = _aligned(*[args[k] for k in names])
    return da.map_blocks(_call_block, *arrays, dtype=arrays[-1].dtype,
                         meta=_meta(arrays[-1].ndim, arrays[-1].dtype), fname=fname,
                         keywords=names[positional:], params=params, threads=threads)


def _backward_input(fname, grad, x, y, takes_y):
    which, value = _validation.exactly_one(fname, x, y, takes_y)
    grad, value = _as_dask(grad), _as_dask(value)
    _validation.match(fname, "grad", grad, which, value)
    return which, grad, value


def _make_elementwise(entry) -> Tuple[Callable, Callable]:
    name = entry.name
    takes_y = "y" in entry.backward_takes

    def forward(x, **params):
        x = _as_dask(x)
        getattr(_act, name)(_probe(x), **params)
        return _elementwise(name, "forward", {"x": x}, params, _threads_per_task)

    def backward(grad, x=None, *, y=None, **params):
        fname = f"{name}_backward"
        which, grad, value = _backward_input(fname, grad, x, y, takes_y)
        getattr(_act, fname)(_probe(grad), **{which: _probe(value)}, **params)
        return _elementwise(fname, "backward", {"grad": grad, which: value}, params,
                            _threads_per_task)

    return forward, backward


def _make_rrelu(entry) -> Tuple[Callable, Callable]:

    def chunked(fname, arrays, lower, upper, training, seed):
        if not training:
            params = dict(lower=lower, upper=upper, training=False, seed=seed)
            names = ("x",) if len(arrays) == 1 else ("grad", "x")
            return _elementwise(fname, "forward" if len(arrays) == 1 else "backward",
                                dict(zip(names, arrays)), params, _threads_per_task)
        arrays = _aligned(*arrays)
        lo, hi = _fallback.rrelu_bounds_in(lower, upper, arrays[-1].dtype)
        return da.map_blocks(_rrelu_block, *arrays, dtype=arrays[-1].dtype,
                             meta=_meta(arrays[-1].ndim, arrays[-1].dtype), lower=lo,
                             upper=hi, seed=_fallback.seed64(fname, seed),
                             threads=_threads_per_task)

    def rrelu(x, *, lower=1 / 8, upper=1 / 3, training=False, seed=0):
        x = _as_dask(x)
        _act.rrelu(_probe(x), lower=lower, upper=upper, training=training, seed=seed)
        return chunked("rrelu", [x], lower, upper, training, seed)

    def rrelu_backward(grad, x=None, *, y=None, lower=1 / 8, upper=1 / 3, training=False,
                       seed=0):
        _, grad, x = _backward_input("rrelu_backward", grad, x, y, False)
        _act.rrelu_backward(_probe(grad), _probe(x), lower=lower, upper=upper,
                            training=training, seed=seed)
        return chunked("rrelu_backward", [grad, x], lower, upper, training, seed)

    return rrelu, rrelu_backward


def _make_softmax(entry) -> Tuple[Callable, Callable]:
    name = entry.name
    base, flip = ("softmax", -1.0) if name == "softmin" else (name, 1.0)
    modes = _fallback.softmax_modes(name)

    def two_stage(direction, in1, in2, x, axis):
        """direction: a Direction; in1 = x or grad, in2 = None, x or y; x: the array
        whose row maxima the mode needs (None from y)."""
        mode = modes[direction]
        nd = in1.ndim
        ind = tuple(range(nd))
        ind_rows = tuple(k for k in ind if k != axis)
        m = None
        if x is not None:  # max is exact: any grouping gives the in-memory maximum
            m = da.max(x, axis=axis) if flip > 0 else -da.min(x, axis=axis)
        # blockwise's (array, index) pairs; (None, None) passes None to the block
        args = [in1, ind, in2, ind if in2 is not None else None,
                m, ind_rows if m is not None else None]
        kwargs = dict(mode=mode, axis=axis, flip=flip, threads=_threads_per_task)
        partials = da.blockwise(_softmax_partials_block, ind + (nd,), *args,
                                new_axes={nd: 3}, adjust_chunks={axis: 1}, dtype=np.float64,
                                meta=_meta(nd + 1, np.float64), **kwargs)
        totals = da.blockwise(_softmax_totals_block, ind_rows + (nd,), partials, ind + (nd,),
                              concatenate=True, dtype=np.float64, meta=_meta(nd, np.float64),
                              axis=axis, divide_dot=base == "softmax" and direction == BACKWARD)
        return da.blockwise(_softmax_write_block, ind, *args, totals, ind_rows + (nd,),
                            concatenate=True, dtype=in1.dtype, meta=_meta(nd, in1.dtype),
                            **kwargs)

    def forward(x, *, axis=-1):
        x = _as_dask(x)
        getattr(_act, name)(_probe(x), axis=axis)
        ax = _axis(name, x.ndim, axis)
        if x.ndim == 0 or x.numblocks[ax] == 1:
            return _elementwise(name, "forward", {"x": x}, {"axis": axis}, _threads_per_task)
        return two_stage(FORWARD, x, None, x, ax)

    def backward(grad, x=None, *, y=None, axis=-1):
        fname = f"{name}_backward"
        which, grad, value = _backward_input(fname, grad, x, y, True)
        getattr(_act, fname)(_probe(grad), **{which: _probe(value)}, axis=axis)
        ax = _axis(fname, value.ndim, axis)
        if value.ndim == 0 or (grad.numblocks[ax] == 1 and value.numblocks[ax] == 1):
            return _elementwise(fname, "backward", {"grad": grad, which: value},
                                {"axis": axis}, _threads_per_task)
        return two_stage(BACKWARD if which == "x" else BACKWARD_FROM_OUTPUT, grad, value,
                         value if which == "x" else None, ax)

    return forward, backward


def _make_gated(entry) -> Tuple[Callable, Callable]:
    name = entry.name

    def halves(x, axis):
        ax = _axis(name, x.ndim, axis)
        half = x.shape[ax] // 2
        index = [slice(None)] * x.ndim
        index[ax] = slice(0, half)
        a = x[tuple(index)]
        index[ax] = slice(half, None)
        return ax, a, x[tuple(index)]

    def forward(x, *, axis=-1, **params):
        x = _as_dask(x)
        getattr(_act, name)(_probe(x, keep_axis=_axis(name, x.ndim, axis) if x.ndim else None),
                            axis=axis, **params)
        ax, a, b = halves(x, axis)
        ind = tuple(range(x.ndim))
        return da.blockwise(_gated_forward_block, ind, a, ind, b, ind, dtype=x.dtype,
                            meta=_meta(x.ndim, x.dtype), fname=name, axis=ax, params=params,
                            threads=_threads_per_task)

    def backward(grad, x=None, *, y=None, axis=-1, **params):
        fname = f"{name}_backward"
        _validation.exactly_one(fname, x, y, False)
        grad, x = _as_dask(grad), _as_dask(x)
        ax = _axis(fname, x.ndim, axis) if x.ndim else None
        probe_x = _probe(x, keep_axis=ax)
        probe_grad = _probe(grad, keep_axis=ax)
        if ax is not None and grad.ndim == x.ndim and x.shape[ax] % 2 == 0:
            half_shape = x.shape[:ax] + (x.shape[ax] // 2,) + x.shape[ax + 1:]
            if grad.shape != half_shape and grad.dtype == x.dtype:
                raise ValueError(f"{fname}: grad has shape {grad.shape}; expected {half_shape} "
                                 f"(x's shape {x.shape} halved along axis {axis})")
        getattr(_act, fname)(probe_grad, probe_x, axis=axis, **params)
        ax, a, b = halves(x, axis)
        ind = tuple(range(x.ndim))
        both = da.blockwise(_gated_backward_block, (x.ndim,) + ind, grad, ind, a, ind, b, ind,
                            new_axes={x.ndim: 2}, dtype=x.dtype,
                            meta=_meta(x.ndim + 1, x.dtype), fname=fname, axis=ax,
                            params=params, threads=_threads_per_task)
        return da.concatenate([both[0], both[1]], axis=ax)

    return forward, backward


def _make_prelu(entry) -> Tuple[Callable, Callable]:

    def layout(fname, x, weight, axis):
        """(channel axis or None for a shared weight, weight as an ndarray of x's
        dtype), validated by the in-memory function on a probe."""
        if isinstance(weight, da.Array):
            raise TypeError(f"{fname}: weight must be an in-memory array (one value per "
                            "channel), not a Dask array")
        ax = None
        if x.ndim:
            ax = 0 if (x.ndim == 1 and axis == 1) else _axis(fname, x.ndim, axis)
        w = _validation.as_parameter_array(fname, "weight", weight, x.dtype) \
            if x.dtype in _validation.SUPPORTED else weight
        return ax, w

    def prelu(x, weight, *, axis=1):
        x = _as_dask(x)
        ax, w = layout("prelu", x, weight, axis)
        _act.prelu(_probe(x, keep_axis=ax), w, axis=axis)
        if ax is None or w.size == 1:
            return da.map_blocks(_call_block, x, dtype=x.dtype, meta=_meta(x.ndim, x.dtype),
                                 fname="prelu", keywords=(), params={"weight": w, "axis": axis},
                                 threads=_threads_per_task)
        ind = tuple(range(x.ndim))
        wd = da.from_array(w, chunks=(x.chunks[ax],))
        return da.blockwise(_call_block, ind, x, ind, wd, (ax,), dtype=x.dtype,
                            meta=_meta(x.ndim, x.dtype), fname="prelu", keywords=(),
                            params={"axis": axis}, threads=_threads_per_task)

    def prelu_backward(grad, x, weight, *, axis=1):
        fname = "prelu_backward"
        grad, x = _as_dask(grad), _as_dask(x)
        ax, w = layout(fname, x, weight, axis)
        _validation.match(fname, "grad", grad, "x", x)
        _act.prelu_backward(_probe(grad, keep_axis=ax), _probe(x, keep_axis=ax), w, axis=axis)
        ind = tuple(range(x.ndim))
        shared = ax is None or w.size == 1
        if shared:
            grad, x = _aligned(grad, x)
            grad_x = da.map_blocks(_prelu_grad_x_block, grad, x, dtype=x.dtype,
                                   meta=_meta(x.ndim, x.dtype), weight=w, axis=axis,
                                   threads=_threads_per_task)
        else:  # blockwise aligns the chunks of grad, x and the weight's slices
            wd = da.from_array(w, chunks=(x.chunks[ax],))
            grad_x = da.blockwise(_prelu_grad_x_block, ind, grad, ind, x, ind, wd, (ax,),
                                  dtype=x.dtype, meta=_meta(x.ndim, x.dtype), axis=axis,
                                  threads=_threads_per_task)
        channel_axis = None if shared else ax
        partials = da.blockwise(
            _prelu_grad_weight_partial, ind, grad, ind, x, ind, dtype=np.float64,
            meta=_meta(x.ndim, np.float64), axis=channel_axis,
            adjust_chunks={k: 1 for k in ind if k != channel_axis})
        out_ind = () if shared else (channel_axis,)
        grad_weight = da.blockwise(
            _prelu_grad_weight_total, out_ind, partials, ind, concatenate=True,
            dtype=x.dtype, meta=_meta(len(out_ind), x.dtype), axis=channel_axis,
            dtype_out=x.dtype)
        return grad_x, (grad_weight.reshape(1) if shared else grad_weight)

    return prelu, prelu_backward


def _prelu_grad_x_block(grad, x, weight, *, axis, threads):
    with thread_limit(threads):
        return _act.prelu_backward(grad, x, weight, axis=axis)[0]


# ------------------------------------------------------------------ the public functions

_MAKERS = {"elementwise": _make_elementwise, "rrelu": _make_rrelu, "softmax": _make_softmax,
           "gated": _make_gated, "prelu": _make_prelu}


def _dask_parameters(entry, twin: Callable):
    """twin's parameters that the Dask functions take: all but out= and the fused
    keywords (bias, mask, ...: README "Fused forms"), which are not offered on Dask."""
    left_out = {"out", "grad_bias", *getattr(entry, "fused", ())}
    return [p for p in inspect.signature(twin).parameters.values() if p.name not in left_out]


def _public(impl: Callable, entry, twin: Callable, name: str) -> Callable:
    """A module-level function ``name`` with the signature of ``twin`` (see
    _dask_parameters) that calls ``impl`` with every argument by keyword."""
    signature = inspect.Signature(_dask_parameters(entry, twin))

    def function(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return impl(**bound.arguments)

    function.__name__ = function.__qualname__ = name
    function.__module__ = __name__
    function.__signature__ = signature  # type: ignore[attr-defined]
    function.__doc__ = (f"{twin.__name__} on Dask arrays, lazily; the same values as "
                        f"activations.{twin.__name__} (see its docstring and this module's)."
                        "\n\n" + (twin.__doc__ or ""))
    return function


def _build() -> Dict[str, Callable]:
    """NAME and NAME_backward for every name of the registry and its aliases."""
    kinds = {spec.name: spec.kind for spec in _spec.SPECS}
    made: Dict[str, Callable] = {}
    for name in _act.names():
        entry = _act.get(name)
        forward, backward = _MAKERS[kinds[name]](entry)
        made[name] = _public(forward, entry, entry.forward, name)
        made[f"{name}_backward"] = _public(backward, entry, entry.backward, f"{name}_backward")
        for alias in entry.aliases:
            made[alias], made[f"{alias}_backward"] = made[name], made[f"{name}_backward"]
    return made


globals().update(_build())

__all__ = ["get_threads_per_task", "set_threads_per_task"] + [
    n for name in _act.names() for fn in (name, *_act.get(name).aliases)
    for n in (fn, f"{fn}_backward")]
