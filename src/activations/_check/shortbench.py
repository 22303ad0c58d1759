"""The short benchmark of ``python -m activations``: every function (and each further
parameter set the self-check uses) against the NumPy expression of ``peers.NUMPY``.

It measures, it never asserts: medians of several samples (``timing.py``), in
nanoseconds per element, one thread and all threads.
"""

from __future__ import annotations

import time
from typing import Callable, List, Tuple

import numpy as np

import activations as act
from activations import _config
from activations._check import references as R
from activations._check import say
from activations._check.peers import NUMPY, Operands
from activations._check.selfcheck import spec_kind
from activations._check.timing import Budget, measure

#: softmax, gated and prelu problems: rows of ROW elements (the function's axis last)
ROW = 256


def bench_rows() -> List[Tuple[str, str, dict]]:
    """(label, name, keyword parameters) of every benchmark row: each function with its
    defaults (a required parameter takes its check value) and each further parameter
    set the check uses (gelu's and geglu's tanh form)."""
    rows = []
    for name in act.names():
        entry = act.get(name)
        ref = R.REFERENCES.get(name)
        psets = getattr(ref, "param_sets", ({},))
        check_params = getattr(ref, "params", {})
        for pset in psets:
            params = {k: v for k, v in entry.params.items() if v is not None}
            params.update({k: v for k, v in check_params.items() if k in entry.params})
            params.update(pset)
            params.pop("weight", None)
            label = name if pset == {k: entry.params.get(k) for k in pset} or len(psets) == 1 \
                else name + " " + " ".join(f"{k}={v!r}" for k, v in pset.items())
            rows.append((label, name, params))
    return rows


def bench_case(name: str, params: dict, dtype, n: int, rng) -> Tuple[Callable, Callable, Operands]:
    """(our forward, our backward, the operands for the peers)."""
    entry = act.get(name)
    kind = spec_kind(name)
    w = None
    if kind in ("elementwise", "rrelu"):
        x = (rng.standard_normal(n) * 3).astype(dtype)
        g = rng.standard_normal(n).astype(dtype)
    else:
        x = (rng.standard_normal((n // ROW, ROW)) * 3).astype(dtype)
        g = rng.standard_normal((n // ROW, ROW // 2) if kind == "gated" else x.shape).astype(dtype)
    ops = Operands(x, g, np.empty_like(g), np.empty_like(x), params)
    if kind == "prelu":
        ops.w = w = np.linspace(0.01, 0.3, ROW).astype(dtype)
    weight = () if w is None else (w,)
    return (lambda: entry.forward(x, *weight, **params, out=ops.o_fwd),
            lambda: entry.backward(g, x, *weight, **params, out=ops.o_bwd), ops)


def benchmark(quick: bool, out: Callable = say) -> None:
    n_all = act.get_num_threads()
    sizes = (2 ** 16,) if quick else (2 ** 16, 2 ** 20)
    dtypes = (np.float32,) if quick else (np.float32, np.float64)
    repeats = 3 if quick else 5
    budget = Budget(sample_ms=1.0, repeats=repeats, long_repeats=repeats)
    out(f"== benchmark: ns/element, median of {repeats}; 'x np' = NumPy time / activations "
        "time (> 1: faster than NumPy); numpy '-': no NumPy peer (exact gelu: NumPy has no erf)")
    out(f"   CPU: {_config._cpu_model()}; SIMD: {act.simd_level()}; threads: {n_all} "
        f"(1T = set_num_threads(1), {n_all}T = all); activations {act.__version__}, "
        f"NumPy {np.__version__}; softmax, prelu and gated: rows of {ROW}")
    rows = bench_rows()
    width = max(14, max(len(label) for label, _, _ in rows) + 1)
    out(f"{'function':<{width}}{'dir':>4}{'dtype':>8}{'n':>9}{'numpy':>9}{'1T':>9}"
        f"{'x np':>7}{f'{n_all}T':>9}{'x np':>7}")
    rng = np.random.default_rng(0)
    t_start = time.perf_counter()
    try:
        for label, name, params in rows:
            peer = NUMPY.get(label)
            for direction in ("fwd", "bwd"):
                for dtype in dtypes:
                    for n in sizes:
                        if n > 2 ** 16 and dtype != np.float32:
                            continue  # float64 at 2**16 only: keeps the main job short
                        try:
                            fwd, bwd, ops = bench_case(name, params, dtype, n, rng)
                            ours = fwd if direction == "fwd" else bwd
                            expr = getattr(peer, direction) if peer else None
                            with np.errstate(all="ignore"):
                                t_np = (measure(lambda: expr(ops), n, budget).median
                                        if expr else None)
                            act.set_num_threads(1)
                            t_1 = measure(ours, n, budget).median
                            act.set_num_threads(n_all)
                            t_n = measure(ours, n, budget).median
                        except Exception as exc:
                            act.set_num_threads(n_all)
                            out(f"{label:<{width}}{direction:>4}  skipped: {type(exc).__name__}: {exc}")
                            break
                        ratio = lambda t: f"{t_np / t:7.2f}" if t_np else f"{'-':>7}"  # noqa: E731
                        out(f"{label:<{width}}{direction:>4}{np.dtype(dtype).name:>8}{n:>9}"
                            f"{f'{t_np:9.3f}' if t_np else '-':>9}{t_1:9.3f}{ratio(t_1)}"
                            f"{t_n:9.3f}{ratio(t_n)}")
    finally:
        act.set_num_threads(n_all)
    out(f"== benchmark: {len(rows)} rows in {time.perf_counter() - t_start:.1f} s")
