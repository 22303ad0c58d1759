#!/usr/bin/env python
"""Benchmark `activations` against plain NumPy, PyTorch CPU and ONNX Runtime.

Design:
 1. Data-driven.  The functions come from ``activations.names()`` and
    ``activations.get(name)``; the peers (NumPy, PyTorch, an ONNX operator), the
    long-double references and the ULP measure are the package's checking core
    (``activations/_check/``: ``peers.py``, ``peers_optional.py``, ``references.py``,
    ``ulp.py``), shared with ``python -m activations``.  A function without a peer is
    still benchmarked (ours only); this file holds only what is particular to it:
    ``FROM_Y`` (backwards timed from the forward output) and ``PARAMS`` (values for
    required parameters).
 2. One timing core (``activations/_check/timing.py``): warm-up, a loop count
    calibrated so that one sample (batch) lasts ``sample_ms``, ``repeats`` samples timed
    with perf_counter_ns; the median is reported with the min/max spread.  Tiny arrays
    loop many calls per sample.  The contestants of one one-thread grid row (function,
    direction, dtype, size) take their samples in turn on the same buffers
    (``interleaved_batches``), and so do the input kinds of the value-dependence table,
    each kind's values copied into one set of buffers before its batch: a drift of the
    clock, a burst of load or the pages a buffer landed on reaches all of them alike.
 3. Every contestant writes into an output buffer allocated once per problem
    (forwards out of place, ``out=``; no contestant works in place, so the input
    values never drift between calls).  PyTorch uses the ``out=`` overloads of its
    ATen ops, backwards through the ATen backward ops (no autograd); ONNX Runtime runs
    a one-node model with IO binding onto the same NumPy buffers (no copies).
    NumPy ufuncs are single-threaded: they are timed once and shown in every
    thread column.
 4. One reporting path: every measurement is a ``Cell`` in ``RESULTS``; the grid
    table, the JSON and the PNG read from it.  The speed targets are judged from the
    JSON by ``benchmarks/speed_targets.py`` alone (printed at the end here, and in
    README's performance section by tools/gen_readme_perf.py).  They are information:
    this script never fails because something is slow.
 5. Cells against peers report medians.  The value-dependence cells, the 16-element
    calls and the thread speedups compare two of our own timings, and use the fastest
    sample of each (a shared machine's background load stalls parallel regions for
    milliseconds, which says nothing about the kernel); the medians stay in the JSON.
 6. ``VARIANTS`` benchmarks a function with other parameters under its own label
    (gelu's tanh form), the label being the self-check's row name and the peers' key.

Run ``python benchmarks/bench.py --help``; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import functools
import json
import math
import os
import platform
import statistics
import sys
import time
from types import SimpleNamespace
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

import activations as act  # before torch: docs/performance-notes.md "one OpenMP runtime per process"
from activations._check import peers, peers_optional, references, ulp
from activations._check.timing import Budget, interleaved_batches, measure

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import speed_targets  # noqa: E402  (benchmarks/speed_targets.py: what the runs are held to)

#: the optional peers, loaded by main() unless --no-torch / --no-onnx
torch = None
TORCH: Dict[str, peers.Peer] = {}
ONNX: Optional[peers_optional.OnnxPeers] = None

np.seterr(all="ignore")  # peers overflow in exp() on purpose; the results are checked
DTYPES = {"f32": np.float32, "f64": np.float64}
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# ============================================================== problems (inputs)

#: value classes for the value-dependence target: name -> (low, high) magnitudes per dtype,
#: or a generator.  "ordinary" is the distribution every speed cell uses.
INPUT_KINDS = ("ordinary", "denormal_in", "underflow", "inf_nan", "huge")


def make_x(kind: str, n: int, dtype, rng) -> np.ndarray:
    fi = np.finfo(dtype)
    if kind == "ordinary":        # N(0, 3): both branches of every kink, some saturation
        return (rng.standard_normal(n) * 3).astype(dtype)
    sign = np.where(rng.random(n) < 0.5, -1, 1)
    if kind == "denormal_in":     # subnormal inputs
        return (sign * fi.smallest_subnormal * rng.integers(1, 2**20, n)).astype(dtype)
    if kind == "underflow":       # exp() of these is subnormal or 0: -104..-87 / -745..-708
        lo, hi = (87.0, 104.0) if dtype == np.float32 else (708.0, 745.0)
        return (-rng.uniform(lo, hi, n)).astype(dtype)
    if kind == "inf_nan":
        return rng.choice(np.array([np.inf, -np.inf, np.nan], dtype=dtype), n)
    if kind == "huge":            # 1e30..max / 1e300..max, both signs
        e_lo, e_hi = (30, 38.5) if dtype == np.float32 else (300, 308.2)
        return (sign * 10.0 ** rng.uniform(e_lo, e_hi, n)).astype(dtype)
    raise ValueError(kind)


@dataclasses.dataclass
class Problem:
    """Inputs and output buffers of one (function, dtype, size, input kind)."""
    name: str
    dtype: type
    n: int
    kind: str
    x: np.ndarray
    g: np.ndarray                 # dL/dy, shaped like y
    y: np.ndarray                 # forward output (ours), for backward-from-y
    o_fwd: np.ndarray             # forward output buffer
    o_bwd: np.ndarray             # backward output buffer (shaped like x)
    args: tuple                   # extra positional arguments (prelu's weight)
    params: dict                  # every keyword parameter, defaults filled in
    overrides: dict               # keyword parameters passed explicitly (PARAMS)
    _torch: Optional[SimpleNamespace] = None

    @property
    def t(self) -> SimpleNamespace:
        """The same buffers as torch tensors (shared memory)."""
        if self._torch is None:
            conv = lambda a: torch.from_numpy(a) if isinstance(a, np.ndarray) else a  # noqa: E731
            self._torch = SimpleNamespace(
                x=conv(self.x), g=conv(self.g), y=conv(self.y), o_fwd=conv(self.o_fwd),
                o_bwd=conv(self.o_bwd), args=tuple(conv(a) for a in self.args),
                w=conv(self.args[0]) if self.args else None, params=self.params)
        return self._torch

    @property
    def w(self):
        return self.args[0] if self.args else None


def shapes(layout: str, n: int) -> Tuple[tuple, tuple, Optional[tuple]]:
    """(x shape, y shape, weight shape) of a problem of n input elements."""
    if layout == "rows":              # softmax-like: rows of 1024 (docs/performance-notes.md)
        r = min(n, 1024)
        return (n // r, r), (n // r, r), None
    if layout == "gated":             # glu-like: rows of 1024, output half as wide
        r = min(n, 1024)
        return (n // r, r), (n // r, r // 2), None
    if layout == "channels":          # prelu: 64 channels on axis 1, one weight each
        c = min(n, 64)
        return (n // c, c), (n // c, c), (c,)
    return (n,), (n,), None


#: Every buffer of a problem starts at a fixed offset past a 4096-byte boundary, slot *
#: PLACE_STEP bytes (x 0, g 1, y 2, the outputs 3), so that no two are within 1 KiB of
#: each other modulo 4096.  An output that starts a few cache lines after an input
#: modulo 4096 makes the loads of the next vectors wait on the stores of this one (4K
#: aliasing: tanh, relu6 and hard_sigmoid forward 1.4-1.5x slower with the output 64
#: bytes past the input, docs/performance-notes.md "Buffer placement"); left to the
#: allocator, the placement differs from problem to problem, and speed target 5's
#: ratios between input kinds (different problems) measured it instead of the values.
PAGE = 4096
PLACE_STEP = 1024


def placed(shape, dtype, slot: int) -> np.ndarray:
    """An uninitialised array of `shape` whose data starts slot * PLACE_STEP bytes past
    a 4096-byte boundary."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(nbytes + 2 * PAGE, np.uint8)
    start = (-raw.ctypes.data) % PAGE + slot * PLACE_STEP
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def placed_copy(a: np.ndarray, slot: int) -> np.ndarray:
    out = placed(a.shape, a.dtype, slot)
    out[...] = a
    return out


def build_problem(name: str, dtype, n: int, kind: str = "ordinary") -> Problem:
    entry, overrides = act.get(function_of(name)), explicit_params(name)
    rng = np.random.default_rng(n + 7 * INPUT_KINDS.index(kind))
    xs, ys, ws = shapes(LAYOUTS.get(function_of(name), "flat"), n)
    x = placed_copy(make_x(kind, n, dtype, rng).reshape(xs), 0)
    args = (np.full(ws, 0.25, dtype),) if ws else ()
    params = {**entry.params, **overrides}
    g = placed_copy(rng.standard_normal(int(np.prod(ys))).astype(dtype).reshape(ys), 1)
    try:
        y = np.asarray(entry.forward(x, *args, **overrides))
    except Exception:  # a broken forward still leaves the backward measurable from x
        y = np.zeros(ys, dtype)
    return Problem(name, dtype, n, kind, x, g, placed_copy(y, 2), placed(ys, dtype, 3),
                   placed(xs, dtype, 3), args, params, dict(overrides))


#: layout of each function, from its kind in the package's own table
LAYOUTS = {s.name: {"softmax": "rows", "gated": "gated", "prelu": "channels"}.get(s.kind, "flat")
           for s in getattr(getattr(act, "_spec", None), "SPECS", ())}

#: functions whose backward (ours and every peer) is timed from the forward output y
FROM_Y = frozenset({"sigmoid", "tanh", "softmax", "log_softmax"})

#: explicit keyword parameters per function: values for required ones
PARAMS: Dict[str, dict] = {"threshold": {"threshold": 0.0, "value": -1.0}}

#: benchmarked variants of a function: label (the self-check's row name, which is also
#: the peers' key) -> (function, its parameters)
VARIANTS: Dict[str, Tuple[str, dict]] = {
    "gelu approximate='tanh'": ("gelu", {"approximate": "tanh"}),
}


def function_of(name: str) -> str:
    """The package function a benchmarked name (a function or a VARIANTS label) calls."""
    return VARIANTS[name][0] if name in VARIANTS else name


def explicit_params(name: str) -> dict:
    base = function_of(name)
    return {**PARAMS.get(base, {}), **(VARIANTS[name][1] if name in VARIANTS else {})}


def with_variants(names: List[str]) -> List[str]:
    """`names`, each followed by its variants."""
    return [v for n in names for v in [n] + [k for k, (f, _) in VARIANTS.items() if f == n]]


# ============================================================== contestants

def backward_input(name: str) -> str:
    """'y' when FROM_Y asks for backward from the output and the function allows it."""
    return "y" if name in FROM_Y and "y" in act.get(function_of(name)).backward_takes else "x"


def ours(p: Problem, direction: str) -> Callable:
    entry = act.get(function_of(p.name))
    if direction == "fwd":
        return functools.partial(entry.forward, p.x, *p.args, out=p.o_fwd, **p.overrides)
    if backward_input(p.name) == "y":
        return functools.partial(entry.backward, p.g, y=p.y, out=p.o_bwd, **p.overrides)
    return functools.partial(entry.backward, p.g, p.x, *p.args, out=p.o_bwd, **p.overrides)


def _peer_call(table: Dict[str, peers.Peer], name: str, direction: str) -> Optional[Callable]:
    """The peer's forward, or its backward from the input backward_input(name) picks."""
    peer = table.get(name)
    if peer is None:
        return None
    if direction == "fwd":
        return peer.fwd
    return peer.bwd_from_y if backward_input(name) == "y" else peer.bwd


def numpy_peer(p: Problem, direction: str) -> Optional[Callable]:
    expr = _peer_call(peers.NUMPY, p.name, direction)
    return None if expr is None else functools.partial(expr, p)


def torch_peer(p: Problem, direction: str) -> Optional[Callable]:
    expr = _peer_call(TORCH, p.name, direction)
    return None if expr is None else functools.partial(expr, p.t)


def onnx_peer(p: Problem, direction: str, threads: int) -> Optional[Callable]:
    """A one-node ONNX model run with IO binding onto p's buffers (forward only)."""
    return None if direction != "fwd" or ONNX is None else ONNX.forward(p, threads)


def contestant(name: str, p: Problem, direction: str, threads: int) -> Optional[Callable]:
    if name == "ours":
        return ours(p, direction)
    if name == "numpy":
        return numpy_peer(p, direction)
    if name == "torch":
        return torch_peer(p, direction)
    if name == "onnxrt":
        return onnx_peer(p, direction, threads)
    raise ValueError(name)


CONTESTANTS = ("ours", "numpy", "torch", "onnxrt")
PEER_NAMES = CONTESTANTS[1:]


def set_threads(n: int) -> None:
    act.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


# ============================================================== results store

@dataclasses.dataclass
class Cell:
    function: str
    direction: str
    dtype: str
    n: int
    threads: int
    contestant: str
    kind: str
    ns_per_element: Optional[float]
    ns_min: Optional[float] = None
    ns_max: Optional[float] = None
    loops: int = 0
    repeats: int = 0
    note: str = ""
    ordinary_ns: Optional[float] = None  # special input kinds: ns_min on ordinary inputs,
                                         # timed in turn with this kind (values_section)


RESULTS: Dict[tuple, Cell] = {}
_PROBLEMS: "collections.OrderedDict[tuple, Problem]" = collections.OrderedDict()


def problem(name, dtype, n, kind="ordinary") -> Problem:
    key = (name, dtype, n, kind)
    if key not in _PROBLEMS:
        if len(_PROBLEMS) >= 3:  # keep memory bounded (2**24 float64 is 128 MB an array)
            _PROBLEMS.popitem(last=False)
        _PROBLEMS[key] = build_problem(name, dtype, n, kind)
    _PROBLEMS.move_to_end(key)
    return _PROBLEMS[key]


def cell(name, direction, dt, n, threads, who, budget, kind="ordinary") -> Cell:
    """The measurement of one cell, taken on first request (memoized)."""
    threads_key = 1 if who == "numpy" else threads  # NumPy ufuncs are single-threaded
    key = (name, direction, dt, n, threads_key, who, kind)
    if key in RESULTS:
        return RESULTS[key]
    if kind == "ordinary" and threads == 1:
        measure_row(name, direction, dt, n, budget)
        if key in RESULTS:
            return RESULTS[key]
    p = problem(name, DTYPES[dt], n, kind)
    set_threads(threads)
    try:
        thunk = contestant(who, p, direction, threads)
        if thunk is None:
            c = Cell(name, direction, dt, n, threads_key, who, kind, None, note="no peer")
        else:
            t = measure(thunk, n, budget)
            c = Cell(name, direction, dt, n, threads_key, who, kind, t.median, t.lo, t.hi, t.loops,
                     t.repeats)
    except Exception as exc:  # report a broken call, keep going
        c = Cell(name, direction, dt, n, threads_key, who, kind, None,
                 note=f"error: {type(exc).__name__}: {exc}"[:200])
    RESULTS[key] = c
    return c


def measure_row(name, direction, dt, n, budget) -> None:
    """Every contestant not yet measured of one (function, direction, dtype, size) on
    ordinary inputs, one thread, timed in turn on the same buffers (interleaved_batches:
    budget.repeats rounds of a sample_ms batch each), so that a drift of the clock or a
    burst of load between two contestants' cells cannot pass for a difference between
    them.  One thread only: a peer's thread pool, left spinning after its batch, would
    hold the core that a multi-threaded contestant's next batch needs (cell() times the
    cells of more threads alone).  A contestant whose call fails is reported as such and
    left out."""
    p = problem(name, DTYPES[dt], n)
    set_threads(1)
    thunks = {}
    for who in CONTESTANTS:
        key = (name, direction, dt, n, 1, who, "ordinary")
        if key in RESULTS:
            continue
        try:
            thunk = contestant(who, p, direction, 1)
            if thunk is not None:
                thunk()
        except Exception as exc:  # report a broken call, keep going
            RESULTS[key] = Cell(*key, None, note=f"error: {type(exc).__name__}: {exc}"[:200])
            continue
        if thunk is None:
            RESULTS[key] = Cell(*key, None, note="no peer")
        else:
            thunks[key] = thunk
    if not thunks:
        return
    times = interleaved_batches(thunks, n, budget, rounds=budget.repeats,
                                batch_ms=budget.sample_ms)
    for key, t in times.items():
        RESULTS[key] = Cell(*key, t.median, t.lo, t.hi, t.loops, t.repeats)


def fastest_peer(name, direction, dt, n, threads, budget) -> Optional[Cell]:
    cells = [cell(name, direction, dt, n, threads, who, budget) for who in PEER_NAMES]
    cells = [c for c in cells if c.ns_per_element is not None]
    return min(cells, key=lambda c: c.ns_per_element) if cells else None


# ============================================================== accuracy (max ULP)

def as_array(result) -> np.ndarray:
    """A contestant's result as a NumPy array (prelu's backward: grad_x of the pair)."""
    if isinstance(result, tuple):
        result = result[0]
    if torch is not None and isinstance(result, torch.Tensor):
        result = result.numpy()
    return np.asarray(result)


ACCURACY: Dict[tuple, float] = {}
ACCURACY_N = 1 << 16


def accuracy(name, direction, dt, who, threads=1) -> float:
    """Max ULP error of a contestant on the ordinary inputs of size ACCURACY_N."""
    key = (name, direction, dt, who)
    if key in ACCURACY:
        return ACCURACY[key]
    dtype = DTYPES[dt]
    value = float("nan")
    if function_of(name) in references.REFERENCES:
        p = problem(name, dtype, ACCURACY_N)
        set_threads(threads)
        try:
            thunk = contestant(who, p, direction, threads)
            want = None if thunk is None else references.expected(
                function_of(name), direction, dtype, p.x, p.g, p.y, p.w, p.params,
                from_y=backward_input(name) == "y")
            if want is not None:
                values, unit = want
                value = ulp.max_ulp(as_array(thunk()), values, dtype, unit)
        except Exception:
            value = float("nan")
    ACCURACY[key] = value
    return value


# ============================================================== sections

def grid(fns, dts, sizes, thread_counts, budget, out=print):
    """Measure every cell and print one line per (function, direction, dtype, size, threads)."""
    out(f"\n== grid: ns/element (median), x = peer time / ours time (>1: ours faster)")
    for name in fns:
        for dt in dts:
            for n in sizes:
                for direction in ("fwd", "bwd"):
                    for th in thread_counts:
                        parts = []
                        base = cell(name, direction, dt, n, th, "ours", budget)
                        for who in CONTESTANTS:
                            c = cell(name, direction, dt, n, th, who, budget)
                            parts.append(_fmt_cell(c, base))
                        out(f"{name:12s} {direction} {dt} 2^{int(math.log2(n)):<2d} T{th}  "
                            + "  ".join(parts))


def _fmt_cell(c: Cell, base: Cell) -> str:
    if c.ns_per_element is None:
        return f"{c.contestant} {'ERR' if c.note.startswith('error') else '-'}"
    s = f"{c.contestant} {c.ns_per_element:.3g}"
    if c.contestant != "ours" and base.ns_per_element:
        s += f" ({c.ns_per_element / base.ns_per_element:.2f}x)"
    return s


def peer_cells(fns, dts, budget, sizes=speed_targets.TARGET_SIZES, out=print) -> None:
    """Every contestant at the target sizes, 1 thread, and each one's max ULP (the
    speed targets 1, 2 and 4 read them from the cells; speed_targets.py)."""
    out("\n== one thread against every peer (ns/el, [max ULP on 2^16 ordinary inputs])")
    for name in fns:
        for direction in ("fwd", "bwd"):
            for dt in dts:
                ulps = {who: accuracy(name, direction, dt, who) for who in CONTESTANTS}
                for n in sizes:
                    mine = cell(name, direction, dt, n, 1, "ours", budget)
                    best = fastest_peer(name, direction, dt, n, 1, budget)
                    rivals = "  ".join(
                        f"{who} {_ns(cell(name, direction, dt, n, 1, who, budget))}"
                        f"[{_ulp(ulps[who])}]" for who in PEER_NAMES)
                    ratio = (f"{best.ns_per_element / mine.ns_per_element:.2f}x"
                             if best and mine.ns_per_element else "-")
                    out(f"{name:12s} {direction} {dt} {speed_targets.exp2(n):5s} ours {_ns(mine)}"
                        f"[{_ulp(ulps['ours'])}]  {rivals}  fastest peer/ours {ratio}")


def _ns(c: Cell) -> str:
    return "-" if c.ns_per_element is None else f"{c.ns_per_element:.3g}"


def _spread(c: Cell) -> str:
    return "-" if c.ns_min is None else f"{c.ns_min:.3g}..{c.ns_max:.3g}"


def _ulp(u: float) -> str:
    return "-" if u != u else (f"{u:.1f}" if u < 1e4 else f"{u:.1e}")


def memory_passes(n: int, budget: Budget) -> Dict[str, dict]:
    """The fastest simple memory pass of each shape (float32, 1 thread).

    "inplace": read x, write x; "copy": read x, write another buffer (what an
    out-of-place forward moves); "two_in_one_out": read a and b, write c (a backward).
    """
    set_threads(1)
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    shapes_ = {
        "inplace": {"np.multiply(x, 1, out=x)": lambda: np.multiply(a, 1, out=a),
                    "np.negative(x, out=x)": lambda: np.negative(a, out=a)},
        "copy": {"np.copyto(o, x)": lambda: np.copyto(c, a),
                 "np.negative(x, out=o)": lambda: np.negative(a, out=c)},
        "two_in_one_out": {"np.add(a, b, out=c)": lambda: np.add(a, b, out=c)},
    }
    if torch is not None:
        ta, tb, tc = map(torch.from_numpy, (a, b, c))
        shapes_["inplace"]["torch x.mul_(1)"] = lambda: ta.mul_(1)
        shapes_["copy"]["torch o.copy_(x)"] = lambda: tc.copy_(ta)
        shapes_["two_in_one_out"]["torch.add(a, b, out=c)"] = lambda: torch.add(ta, tb, out=tc)
    result = {}
    for shape, passes in shapes_.items():
        times = {k: measure(f, n, budget).median for k, f in passes.items()}
        best = min(times, key=times.get)
        result[shape] = {"all": times, "fastest": best, "ns_per_element": times[best]}
    return result


def _ours_in_place(name: str, n: int, budget: Budget) -> Optional[float]:
    """ours forward with out=x at n float32 elements, 1 thread: median ns per element of
    single calls, the buffer restored from the problem's x (untimed) before each.  Applied
    again and again to its own output, the input would drift (gelu and mish shrink
    negative values towards the subnormal range, where they cost microcode assists)."""
    set_threads(1)
    p = problem(name, np.float32, n)
    x = p.x.copy()
    call = functools.partial(act.get(function_of(name)).forward, x, *p.args, out=x,
                             **p.overrides)
    try:
        call()  # warm-up: page faults, lazy initialization
    except Exception:
        return None
    samples = []
    for _ in range(max(budget.repeats, budget.long_repeats)):
        np.copyto(x, p.x)
        t0 = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - t0) / n)
    return statistics.median(samples)


def memory_section(fns, budget, out=print) -> dict:
    """Elementwise and softmax-family functions at 2**24 float32, 1 thread, against a
    pure memory pass: the forward in place against "inplace", the backward against
    "two_in_one_out" (speed target 3)."""
    n = 1 << 24
    passes = memory_passes(n, budget)
    out("\n== 2^24 f32 T1 against the fastest memory pass of the same shape")
    for shape, r in passes.items():
        out(f"{shape:15s} reference: {r['fastest']} = {r['ns_per_element']:.3g} ns/el  (of "
            + ", ".join(f"{k} {v:.3g}" for k, v in r["all"].items()) + ")")
    rows = []
    for name in fns:
        if LAYOUTS.get(function_of(name), "flat") not in ("flat", "rows"):
            continue  # the gated and channel layouts have no pass of the same shape
        inplace = _ours_in_place(name, n, budget)
        copy = cell(name, "fwd", "f32", n, 1, "ours", budget).ns_per_element
        bwd = cell(name, "bwd", "f32", n, 1, "ours", budget).ns_per_element
        ratio = lambda t, shape: "-" if t is None else f"{t / passes[shape]['ns_per_element']:.2f}x"  # noqa
        out(f"{name:12s} fwd in place {ratio(inplace, 'inplace')} (out of place "
            f"{ratio(copy, 'copy')} of copy), bwd {ratio(bwd, 'two_in_one_out')}")
        rows.append(dict(function=name, forward_in_place_ns=inplace,
                         forward_out_of_place_ns=copy, backward_ns=bwd))
    return {"passes": passes, "rows": rows}


THREAD_FUNCTIONS = ("sigmoid", "tanh", "elu", "selu", "softplus", "swish", "softmax")


def threads_section(fns, budget, out=print) -> dict:
    """2 threads against 1 at 2**22 float32 (information; median and fastest samples)."""
    n, rows = 1 << 22, []
    out(f"\n== 2 threads against 1 at 2^22 f32 ({CPUS} CPUs available)")
    if CPUS < 2:
        out("n/a: one CPU")
        return {"rows": rows}
    for name in [f for f in THREAD_FUNCTIONS if f in fns]:
        for direction in ("fwd", "bwd"):
            one = cell(name, direction, "f32", n, 1, "ours", budget)
            two = cell(name, direction, "f32", n, 2, "ours", budget)
            s = (one.ns_per_element / two.ns_per_element
                 if one.ns_per_element and two.ns_per_element else None)
            best = one.ns_min / two.ns_min if one.ns_min and two.ns_min else None
            out(f"{name:12s} {direction} T1 {_ns(one)} T2 {_ns(two)} ns/el "
                f"(T2 spread {_spread(two)}) speedup {'-' if s is None else f'{s:.2f}'}x "
                f"(fastest samples: {'-' if best is None else f'{best:.2f}'}x)")
            rows.append(dict(function=name, direction=direction, speedup=s,
                             speedup_of_fastest_samples=best))
    return {"rows": rows}


def small_section(fns, budget, out=print) -> dict:
    """One call on 16 float32 elements against np.tanh(x, out=x) (speed target 6): each
    function and direction timed in turn with np.tanh (interleaved_batches), fastest
    batches; the table's np.tanh is the median of those."""
    n = 16
    set_threads(CPUS)  # small arrays must stay serial whatever the setting
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    tanh = lambda: np.tanh(x, out=x)  # noqa: E731
    rows = []
    for name in fns:
        for direction in ("fwd", "bwd"):
            try:
                thunk = ours(problem(name, np.float32, n), direction)
                t = interleaved_batches({"np.tanh": tanh, "ours": thunk}, n, budget)
            except Exception as exc:  # report a broken call, keep going
                out(f"{name:12s} {direction} error: {type(exc).__name__}: {exc}"[:200])
                rows.append(dict(function=name, direction=direction, ns_per_call=None))
                continue
            per_call, base = t["ours"].lo * n, t["np.tanh"].lo * n
            rows.append(dict(function=name, direction=direction, ns_per_call=per_call,
                             np_tanh_ns_per_call=base))
    bases = [r["np_tanh_ns_per_call"] for r in rows if r["ns_per_call"] is not None]
    base = statistics.median(bases) if bases else None
    out(f"\n== one call on 16 f32 elements against np.tanh(x, out=x), each timed in turn with "
        f"it ({CPUS} threads allowed; fastest batches; np.tanh median {base or 0:.0f} ns)")
    for r in rows:
        if r["ns_per_call"] is not None:
            out(f"{r['function']:12s} {r['direction']} {r['ns_per_call']:.0f} ns/call = "
                f"{r['ns_per_call'] / r['np_tanh_ns_per_call']:.2f}x "
                f"(np.tanh {r['np_tanh_ns_per_call']:.0f})")
    return {"np_tanh_ns_per_call": base, "rows": rows}


def load_values(dst: Problem, src: Problem) -> None:
    """Copy src's input values (x, g and y) into dst's buffers."""
    for field in ("x", "g", "y"):
        np.copyto(getattr(dst, field), getattr(src, field))


def values_section(fns, dts, budget, n=1 << 16, out=print) -> None:
    """Every special input kind against ordinary inputs, ours, 1 thread: the five kinds
    of a (function, dtype, direction) timed in turn, round after round
    (interleaved_batches), so that drift and bursts of load hit them alike; fastest
    batches.  Speed target 5 reads each special cell's ns_min against its ordinary_ns.

    Every kind runs in one set of buffers, its values copied in before each of its
    batches (untimed): two sets of buffers, placed alike modulo 4096, still differ by
    their pages.  On an Intel Xeon VM the float64 backwards of relu, tanh, leaky_relu,
    rrelu and softshrink read 0.68-1.36x ordinary, each kind in its own buffers, from one
    allocation to the next, and 0.99-1.02x (medians) with both in one set
    (docs/performance-notes.md "Target 5's kinds in one set of buffers")."""
    out(f"\n== value dependence, ours, 2^{int(math.log2(n))} T1 (fastest batch / fastest "
        f"batch on ordinary inputs, timed in turn)")
    specials = INPUT_KINDS[1:]
    out("                          " + "  ".join(f"{k:>11s}" for k in specials))
    set_threads(1)
    for name in fns:
        for dt in dts:
            problems = {kind: build_problem(name, DTYPES[dt], n, kind) for kind in INPUT_KINDS}
            buffers = build_problem(name, DTYPES[dt], n)  # every kind's values run here
            setup = {k: functools.partial(load_values, buffers, p) for k, p in problems.items()}
            for direction in ("fwd", "bwd"):
                ratios = []
                try:
                    thunks = {k: ours(buffers, direction) for k in problems}
                    times = (interleaved_batches(thunks, n, budget, setup=setup)
                             if None not in thunks.values() else None)
                except Exception as exc:  # report a broken call, keep going
                    times, note = None, f"error: {type(exc).__name__}: {exc}"[:200]
                else:
                    note = "" if times else "no call"
                base = times["ordinary"].lo if times else None
                for kind in specials:
                    key = (name, direction, dt, n, 1, "ours", kind)
                    t = times[kind] if times else None
                    RESULTS[key] = (Cell(*key, t.median, t.lo, t.hi, t.loops, t.repeats,
                                         ordinary_ns=base) if t else
                                    Cell(*key, None, note=note))
                    ratios.append(t.lo / base if t else None)
                out(f"{name:12s} {direction} {dt}  " + "  ".join(
                    f"{'-' if r is None else f'{r:.2f}':>11s}" for r in ratios))


def threads_scan(budget, out=print) -> dict:
    """Time relu (cheap) and sigmoid (expensive) forwards, f32, 2**10..2**18, 1 vs 2 threads.

    The crossover is read from the fastest sample of each cell (min): on a shared
    machine a parallel region can stall for milliseconds when another process holds a
    core, which says nothing about the kernel; the medians are printed beside.
    The package's parallel thresholds are lowered to 0 for the scan (and restored), so
    every 2-thread cell really runs threaded; the scan also models where threading
    pays: the fixed cost c of a parallel region (c = T2 - T1/2), threading paying once
    T1(n) / 2 > c.  These crossovers set PARALLEL_MIN_ELEMENTS (compute-bound kernels,
    sigmoid) and PARALLEL_MIN_MEMORY_BOUND (relu) in src/activations/_constants.pxd.
    """
    out("\n== threads scan: ours, f32 forward, ns per call: min T1, min T2, min T1/T2 "
        "(median T1/T2)")
    report = {}
    kernels = act._functions._K
    saved = kernels._set_parallel_thresholds(0, 0)
    try:
        _threads_scan_rows(budget, out, report)
    finally:
        kernels._set_parallel_thresholds(*saved)
    return report


def _threads_scan_rows(budget, out, report) -> None:
    for name in ("relu", "sigmoid"):
        if name not in act.names():
            continue
        rows = []
        for e in range(10, 19):
            n = 1 << e
            c1 = cell(name, "fwd", "f32", n, 1, "ours", budget)
            c2 = cell(name, "fwd", "f32", n, 2, "ours", budget)
            t1, t2 = c1.ns_min * n, c2.ns_min * n
            med = c1.ns_per_element / c2.ns_per_element
            rows.append(dict(n=n, t1_ns=t1, t2_ns=t2, speedup=t1 / t2, median_speedup=med))
            out(f"{name:8s} 2^{e:<2d} {t1:10.0f} {t2:10.0f}  {t1 / t2:5.2f}x  ({med:.2f}x)")
        parallel = [r for r in rows if r["speedup"] > 1.15]  # sizes that visibly ran threaded
        cost = statistics.median(r["t2_ns"] - r["t1_ns"] / 2 for r in parallel) if parallel else None
        measured = next((r["n"] for i, r in enumerate(rows)
                         if all(q["speedup"] > 1.05 for q in rows[i:])), None)
        # model: T1/2 + cost < T1  <=>  T1 > 2 cost, T1 per element taken from the largest size
        per_el = rows[-1]["t1_ns"] / rows[-1]["n"]
        model = None if cost is None else max(2 * cost / per_el, 1.0)
        out(f"{name}: measured crossover (T2 faster from here up) = "
            f"{'-' if measured is None else f'2^{int(math.log2(measured))}'}; "
            f"parallel-region cost ~ {'-' if cost is None else f'{cost:.0f} ns'}; "
            f"model crossover ~ {'-' if model is None else f'{model:.0f} elements (2^{math.log2(model):.1f})'}")
        report[name] = dict(rows=rows, measured_crossover=measured, region_cost_ns=cost,
                            model_crossover=model)


# ============================================================== under load

#: --under-load's default functions: one of each cost class and kernel family.
UNDER_LOAD_FUNCTIONS = ("sigmoid", "relu", "gelu", "softmax", "glu", "prelu")


def under_load(fns, sizes, budget, warmup_s: float, out=print) -> dict:
    """Calls under CPU load from other processes: for each function (float32 forward)
    and size, the one-thread time and the default-thread time (the package's load cap
    on, and off: what an OpenMP team does without it), interleaved and compared
    within each load.  Loads: none, then CPUS busy processes (measured right after they
    start, then again once they have run `warmup_s` seconds, so that the 1-minute load
    average has caught up), then 2 x CPUS.  Ratios above 1.5 are marked with '!'.
    """
    import subprocess
    from activations import _threadstate

    busy: List[subprocess.Popen] = []
    report: Dict[str, list] = {}
    default_threads = act.get_num_threads()

    def spawn(k):
        busy.extend(subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range(k))

    variants = ((1, True), (default_threads, True), (default_threads, False))

    def timed(thunk):
        """us per call of each variant: the median of single timed calls (a preempted
        call is an outlier the median ignores; a call that waits for a descheduled
        thread is the common case it reports), the variants interleaved in short
        batches (load changes by the second)."""
        thunk()
        act.set_num_threads(1)
        t0 = time.perf_counter_ns()
        thunk()
        per_batch = max(3, min(200, int(budget.sample_ms * 1e6 / max(time.perf_counter_ns() - t0, 1))))
        samples: Dict[tuple, list] = {v: [] for v in variants}
        for _ in range(budget.repeats):
            for threads, adaptive in variants:
                _threadstate._set_load_adaptive(adaptive)
                act.set_num_threads(threads)
                for _ in range(per_batch):
                    t0 = time.perf_counter_ns()
                    thunk()
                    samples[threads, adaptive].append((time.perf_counter_ns() - t0) / 1e3)
        return [statistics.median(samples[v]) for v in variants]

    def scenario(label):
        out(f"\n== under load: {label}; loadavg {os.getloadavg()[0]:.1f}; f32 forward, "
            f"us per call (median): 1 thread | {default_threads} threads with the load cap "
            f"(ratio) | without it (ratio)")
        rows = []
        for name in fns:
            for n in sizes:
                t1, tcap, traw = timed(ours(problem(name, np.float32, n), "fwd"))
                r_cap, r_raw = tcap / t1, traw / t1
                rows.append(dict(function=name, n=n, one_thread_us=t1, capped_us=tcap,
                                 uncapped_us=traw, capped_ratio=r_cap, uncapped_ratio=r_raw))
                out(f"{name:12s} 2^{int(math.log2(n)):<2d} {t1:10.1f} | {tcap:10.1f} "
                    f"({r_cap:4.2f}{'!' if r_cap > 1.5 else ' '}) | {traw:10.1f} "
                    f"({r_raw:5.2f}{'!' if r_raw > 1.5 else ' '})")
        worst = max(r["capped_ratio"] for r in rows)
        out(f"worst ratio with the load cap: {worst:.2f}; without: "
            f"{max(r['uncapped_ratio'] for r in rows):.2f}")
        report[label] = rows

    try:
        scenario("no added load")
        for total in (CPUS, 2 * CPUS):
            spawn(total - len(busy))
            started = time.monotonic()
            scenario(f"{total} busy processes, just started")
            time.sleep(max(0.0, warmup_s - (time.monotonic() - started)))
            scenario(f"{total} busy processes, running for {warmup_s:.0f} s")
    finally:
        for proc in busy:
            proc.kill()
        for proc in busy:
            proc.wait()
        _threadstate._set_load_adaptive(True)
        act.set_num_threads(default_threads)
    return report


# ============================================================== machine, JSON, PNG

def machine() -> dict:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                         model)
    except OSError:
        pass
    info = dict(cpu_model=model, cpus_available=CPUS, simd_level=act.simd_level(),
                activations=act.__version__, default_threads=act.get_num_threads(),
                numpy=np.__version__, python=platform.python_version(),
                platform=platform.platform(),
                torch=getattr(torch, "__version__", None),
                onnxruntime=ONNX.versions["onnxruntime"] if ONNX else None,
                onnx=ONNX.versions["onnx"] if ONNX else None,
                date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"))
    info["loadavg_start"] = os.getloadavg()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "ACTIVATIONS_SIMD"):
        info[var] = os.environ.get(var)
    return info


def draw_png(path: str, fns, sizes, dt="f32", threads=1) -> Optional[str]:
    """Throughput (Gelem/s) against size, one panel per function, one line per contestant."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no PNG"
    cols = min(4, len(fns))
    rows = math.ceil(len(fns) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    colors = dict(zip(CONTESTANTS, ("black", "tab:blue", "tab:red", "tab:green")))
    for ax, name in zip(axes.flat, fns):
        for who in CONTESTANTS:
            for direction, style in (("fwd", "-"), ("bwd", "--")):
                pts = sorted((c.n, 1 / c.ns_per_element) for c in RESULTS.values()
                             if c.function == name and c.dtype == dt and c.kind == "ordinary"
                             and c.direction == direction and c.contestant == who
                             and c.threads == (1 if who == "numpy" else threads)
                             and c.n in sizes
                             and c.ns_per_element)
                if len(pts) > 1:
                    ax.plot(*zip(*pts), style, color=colors[who], marker=".",
                            label=f"{who} {direction}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"{name} ({dt}, {threads} thread{'s' if threads > 1 else ''})")
        ax.set_xlabel("elements")
        ax.set_ylabel("Gelem/s")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(fns):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower right", ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return None


# ============================================================== main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="sizes 2^4, 2^16, 2^20, 1 thread, short samples, 2^24 memory passes skipped (< 2 minutes; "
                         "the full run adds 2^24)")
    ap.add_argument("--threads-scan", action="store_true",
                    help="only the 1-vs-2-thread scan of relu and sigmoid, 2^10..2^18")
    ap.add_argument("--under-load", action="store_true",
                    help="only the under-load table: 1 vs default threads with CPUS and 2 x CPUS "
                         "busy processes (sizes 2^12..2^22 step 2, a few functions unless "
                         "--functions; about 5 minutes)")
    ap.add_argument("--load-warmup", type=float, default=60.0,
                    help="--under-load: seconds the busy processes run before the second "
                         "measurement (default 60)")
    ap.add_argument("--functions", help="comma-separated names (default: activations.names())")
    ap.add_argument("--dtypes", default="f32,f64")
    ap.add_argument("--sizes", help="exponents, e.g. 4:24 (every one) or 4,10,16 (default 4:24)")
    ap.add_argument("--threads", help=f"thread counts, e.g. 1,{CPUS} (default: 1 and all)")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-onnx", action="store_true")
    ap.add_argument("--no-targets", action="store_true", help="grid only")
    ap.add_argument("--simd", help="force a SIMD level of the package (avx512, avx2, baseline)")
    ap.add_argument("--sample-ms", type=float, help="duration of one sample")
    ap.add_argument("--repeats", type=int, help="samples per cell")
    ap.add_argument("--json", help="also write the JSON here")
    ap.add_argument("--png", help="draw the PNG here (needs matplotlib)")
    return ap.parse_args(argv)


def exponents(spec: str) -> List[int]:
    if ":" in spec:
        lo, hi = map(int, spec.split(":"))
        return list(range(lo, hi + 1))
    return [int(s) for s in spec.split(",")]


def main(argv=None) -> int:
    global torch, TORCH, ONNX
    args = parse_args(argv)
    if not args.no_torch:
        torch = peers_optional.import_torch()
        TORCH = peers_optional.torch_peers(torch) if torch is not None else {}
    if not args.no_onnx:
        ONNX = peers_optional.OnnxPeers.load()
    if args.simd:
        act._set_simd_level(args.simd)
    fns = args.functions.split(",") if args.functions else with_variants(list(act.names()))
    dts = args.dtypes.split(",")
    quick = args.quick
    budget = Budget(sample_ms=args.sample_ms or (0.5 if quick else 5.0),
                    repeats=args.repeats or (5 if quick else 7),
                    long_repeats=3 if quick else 5)
    sizes = [1 << e for e in exponents(args.sizes or ("4,16,20" if quick else "4:24"))]
    threads = ([int(t) for t in args.threads.split(",")] if args.threads
               else ([1] if quick else sorted({1, CPUS})))
    lines: List[str] = []

    def out(s=""):
        print(s, flush=True)
        lines.append(s)

    info = machine()
    out("activations benchmark  " + "  ".join(f"{k}={v}" for k, v in info.items() if v))
    out(f"budget: {budget.sample_ms} ms/sample x {budget.repeats} repeats; "
        f"contestants write to preallocated out buffers; numpy is single-threaded")
    started = time.perf_counter()
    report: dict = {"machine": info, "config": dict(quick=quick, functions=fns, dtypes=dts,
                                                    sizes=sizes, threads=threads,
                                                    sample_ms=budget.sample_ms,
                                                    repeats=budget.repeats,
                                                    long_repeats=budget.long_repeats,
                                                    backward_from={f: backward_input(f)
                                                                   for f in fns})}
    if args.threads_scan:
        report["threads_scan"] = threads_scan(budget, out)
    elif args.under_load:
        report["under_load"] = under_load(
            fns if args.functions else [f for f in UNDER_LOAD_FUNCTIONS if f in act.names()],
            [1 << e for e in exponents(args.sizes or "12,14,16,18,20,22")],
            Budget(sample_ms=args.sample_ms or 10.0, repeats=args.repeats or 5),
            args.load_warmup, out)
    else:
        grid(fns, dts, sizes, threads, budget, out)
        if not args.no_targets:
            out("\n######## speed targets (information only: nothing here fails the run)")
            peer_cells(fns, dts, budget, out=out,
                       sizes=(1 << 16, 1 << 20) if quick else speed_targets.TARGET_SIZES)
            sections = report["sections"] = {}
            if quick:
                out("\n== 2^24 against a memory pass: skipped in --quick")
            else:
                sections["memory"] = memory_section(fns, budget, out)
            sections["threads"] = threads_section(fns, budget, out)
            sections["small"] = small_section(fns, budget, out)
            values_section(fns, dts, budget, out=out)
    report["cells"] = [dataclasses.asdict(c) for c in RESULTS.values()]
    report["accuracy"] = [dict(function=k[0], direction=k[1], dtype=k[2], contestant=k[3],
                               max_ulp=None if v != v else v) for k, v in ACCURACY.items()]
    if "sections" in report:
        out("\n######## speed targets, from the cells above (benchmarks/speed_targets.py)")
        for v in speed_targets.evaluate(report):
            out(v.line())
        line = speed_targets.threads_line(report)
        if line:
            out(line)
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    info["loadavg_end"] = os.getloadavg()
    out(f"\nelapsed {report['elapsed_s']} s; load average at start {info['loadavg_start']}, "
        f"at end {info['loadavg_end']} (other processes on the machine disturb the timings)")

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(results_dir, exist_ok=True)
    paths = [os.path.join(results_dir, f"{stamp}.json")] + ([args.json] if args.json else [])
    for path in paths:
        with open(path, "w") as f:
            json.dump(report, f, indent=1, default=str)
        out(f"wrote {path}")
    if args.png and not (args.threads_scan or args.under_load):
        problem_msg = draw_png(args.png, fns, sizes, threads=1)
        out(problem_msg or f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
