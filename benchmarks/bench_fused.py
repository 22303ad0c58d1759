#!/usr/bin/env python
"""Benchmark the fused forms against the unfused sequences they replace.

    python benchmarks/bench_fused.py                  # everything, 1 thread
    python benchmarks/bench_fused.py --quick          # fewer repetitions and functions
    python benchmarks/bench_fused.py --threads 2 --repeats 15 --json fused.json

Design:
 1. Bias forms at 2**24 float32 values laid out as (2**14, 1024) with the bias along
    the last axis: ``f(x, bias=b, out=o)`` against the two-pass sequence
    ``np.add(x, b, out=t); f(t, out=o)`` (our own kernel after NumPy's add: the cost of
    the extra pass, nothing else), against the plain ``f(x, out=o)`` alone (the fused
    call should cost about the same), and against PyTorch's ``F.f(x + b)`` when
    torch is importable.  Backward: ``f_backward(g, x, bias=b, grad_bias=gb, out=o)``
    against ``add; f_backward; o.sum(axis=0)``.
 2. Softmax family on (rows, 1024) float32 with a bool padding mask of shape (rows, 1)
    (one row in eight masked out) and a scale: the fused call against the plain
    softmax of the same x (the fused call's target: within 1.2x), the NumPy sequence
    ``np.where(mask, x * s, -inf)`` then our softmax, and PyTorch's
    ``torch.softmax(x * s + m, -1)`` (additive float mask) and
    ``masked_fill`` then softmax.
 3. Timing: every variant of one problem is timed in turn within each repetition
    (interleaved, so that a burst of background load hits all of them alike), each
    sample one call; the table shows the median over the repetitions, in ms per call,
    with the ratio of medians.  Every contestant writes into a buffer allocated once
    (except PyTorch's expressions, which allocate as users write them).
 4. It measures; it never asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

import numpy as np

import activations as act  # before torch: one OpenMP runtime (docs/performance-notes.md)
from activations._check.timing import interleaved

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # optional peer
    torch = None

ROWS, COLS = 1 << 14, 1024
#: the PyTorch expression of f(x + b), where torch has the function
TORCH_BIAS = {
    "sigmoid": lambda x, b: torch.sigmoid(x + b),
    "tanh": lambda x, b: torch.tanh(x + b),
    "relu": lambda x, b: F.relu(x + b),
    "leaky_relu": lambda x, b: F.leaky_relu(x + b),
    "elu": lambda x, b: F.elu(x + b),
    "selu": lambda x, b: F.selu(x + b),
    "softsign": lambda x, b: F.softsign(x + b),
    "softplus": lambda x, b: F.softplus(x + b),
    "swish": lambda x, b: F.silu(x + b),
    "hard_swish": lambda x, b: F.hardswish(x + b),
    "relu6": lambda x, b: F.relu6(x + b),
    "hard_sigmoid": lambda x, b: F.hardsigmoid(x + b),
    "hard_tanh": lambda x, b: F.hardtanh(x + b),
    "gelu": lambda x, b: F.gelu(x + b),
    "mish": lambda x, b: F.mish(x + b),
    "celu": lambda x, b: F.celu(x + b),
    "log_sigmoid": lambda x, b: F.logsigmoid(x + b),
    "tanhshrink": lambda x, b: F.tanhshrink(x + b),
    "softshrink": lambda x, b: F.softshrink(x + b),
    "hardshrink": lambda x, b: F.hardshrink(x + b),
    "threshold": lambda x, b: F.threshold(x + b, 0.5, -2.0),
}
REQUIRED = {"threshold": {"threshold": 0.5, "value": -2.0}}
QUICK_NAMES = ("relu", "leaky_relu", "hard_swish", "sigmoid", "gelu", "swish")


def bias_problems(names, repeats: int, rows: int) -> List[dict]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, COLS), dtype=np.float32)
    b = rng.standard_normal(COLS, dtype=np.float32)
    g = rng.standard_normal((rows, COLS), dtype=np.float32)
    o, t = np.empty_like(x), np.empty_like(x)
    gb = np.empty_like(b)
    xt = bt = None
    if torch is not None:
        xt, bt = torch.from_numpy(x), torch.from_numpy(b)
    results = []
    for name in names:
        fn = act.get(name)
        p = REQUIRED.get(name, {})
        fwd = {
            "fused": lambda: fn.forward(x, bias=b, out=o, **p),
            "numpy add + ours": lambda: (np.add(x, b, out=t), fn.forward(t, out=o, **p)),
            "plain alone": lambda: fn.forward(x, out=o, **p),
        }
        if xt is not None and name in TORCH_BIAS:
            fwd["torch f(x + b)"] = lambda: TORCH_BIAS[name](xt, bt)
        bwd = {
            "fused": lambda: fn.backward(g, x, bias=b, grad_bias=gb, out=o, **p),
            "numpy add + ours": lambda: (np.add(x, b, out=t), fn.backward(g, t, out=o, **p),
                                         o.sum(axis=0)),
            "plain alone": lambda: fn.backward(g, x, out=o, **p),
        }
        for direction, variants in (("forward", fwd), ("backward", bwd)):
            med = interleaved(variants, repeats)
            results.append({"function": name, "direction": direction,
                            "memory_bound": name in MEMORY_BOUND, "ms": {
                                k: v * 1e3 for k, v in med.items()}})
            report_bias(results[-1])
    return results


def softmax_problems(repeats: int, rows: int) -> List[dict]:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((rows, COLS), dtype=np.float32)
    keep = np.ones((rows, 1), bool)
    keep[::8] = False                       # one row in eight is padding
    scale = 1 / 32
    o = np.empty_like(x)
    additive = np.where(keep, 0, -np.inf).astype(np.float32)
    results = []
    for kind in ("softmax", "log_softmax", "softmin"):
        fwd = getattr(act, kind)
        variants = {
            "fused": lambda: fwd(x, scale=scale, mask=keep, out=o),
            "plain alone": lambda: fwd(x, out=o),
            "numpy where + ours": lambda: fwd(np.where(keep, x * np.float32(scale), -np.inf)
                                              .astype(np.float32), out=o),
        }
        if torch is not None and kind == "softmax":
            xt, mt = torch.from_numpy(x), torch.from_numpy(additive)
            kt = torch.from_numpy(~keep)
            variants["torch softmax(x*s+m)"] = lambda: torch.softmax(xt * scale + mt, -1)
            variants["torch masked_fill+softmax"] = lambda: torch.softmax(
                (xt * scale).masked_fill(kt, float("-inf")), -1)
        med = interleaved(variants, repeats)
        results.append({"function": kind, "direction": "forward", "ms": {
            k: v * 1e3 for k, v in med.items()}})
        report_softmax(results[-1])
    return results


MEMORY_BOUND = set()


def report_bias(row: dict) -> None:
    ms = row["ms"]
    two_pass = ms["numpy add + ours"] / ms["fused"]
    vs_plain = ms["fused"] / ms["plain alone"]
    torch_cell = (f"{ms['torch f(x + b)']:8.2f}" if "torch f(x + b)" in ms else "       -")
    print(f"| {row['function']:<13}| {row['direction']:<9}| {ms['fused']:8.2f} | "
          f"{ms['numpy add + ours']:8.2f} | {two_pass:5.2f}x | {ms['plain alone']:8.2f} | "
          f"{vs_plain:5.2f}x | {torch_cell} | {'memory' if row['memory_bound'] else 'compute'} |",
          flush=True)


def report_softmax(row: dict) -> None:
    ms = row["ms"]
    cells = " | ".join(f"{k} {v:.2f}" for k, v in ms.items() if k != "fused")
    print(f"| {row['function']:<12}| {ms['fused']:8.2f} | {ms['fused'] / ms['plain alone']:5.2f}x"
          f" | {cells} |", flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    from activations import _spec
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for us and PyTorch")
    parser.add_argument("--repeats", type=int, default=11, help="interleaved repetitions")
    parser.add_argument("--quick", action="store_true",
                        help=f"{', '.join(QUICK_NAMES)} only, 5 repetitions")
    parser.add_argument("--rows", type=int, default=ROWS, help="rows of 1024 values (2**14)")
    parser.add_argument("--only", choices=("bias", "softmax"), help="one half of the benchmark")
    parser.add_argument("--json", help="also write the medians to this file")
    args = parser.parse_args(argv)
    repeats = 5 if args.quick else args.repeats
    MEMORY_BOUND.update(s.name for s in _spec.SPECS if s.memory_bound)
    names = QUICK_NAMES if args.quick else tuple(
        n for n in act.names() if act.get(n).fused == ("bias", "bias_axis"))
    act.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"activations {act.__version__} ({act.simd_level()}), float32 ({args.rows}, {COLS}), "
          f"{args.threads} thread(s), median of {repeats} interleaved calls, ms per call; "
          f"torch {torch.__version__ if torch is not None else 'not installed'}")
    results = []
    if args.only != "softmax":
        print("\n| function     | direction| fused    | add+f    | gain   | f alone  | "
              "fused/f | torch    | kind    |\n|---|---|---|---|---|---|---|---|---|")
        results += bias_problems(names, repeats, args.rows)
    if args.only != "bias":
        print("\n| function    | fused    | /plain | others (ms) |\n|---|---|---|---|")
        results += softmax_problems(repeats, args.rows)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"threads": args.threads, "rows": args.rows, "cols": COLS,
                       "repeats": repeats, "results": results}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
