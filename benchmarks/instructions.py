#!/usr/bin/env python
"""Instructions per element of every contestant, counted by Valgrind (callgrind).

    python benchmarks/instructions.py --functions sigmoid,gelu --dtypes f32
    python benchmarks/instructions.py --functions softmax --contestants ours,onnxrt

Timings on a shared machine are noisy; executed instructions are not.  This counts them
for the same calls benchmarks/bench.py times (its problems and contestants: ours, NumPy,
PyTorch, ONNX Runtime, one thread, ordinary inputs), to say what bounds a kernel: an
exact method that executes 2x the peer's instructions cannot be as fast on the same
core.  Valgrind emulates the CPU (up to AVX2; the package's dispatcher picks the level
it reports, printed first), so the figures are those of the avx2 level.

How: the script runs itself under ``valgrind --tool=callgrind --dump-before=getppid``;
the inner run calls ``os.getppid()`` between cases, so callgrind writes one profile part
per case.  Each case runs CALLS calls at two sizes after a warm-up call (ONNX Runtime's
session, PyTorch's first-call setup); (Ir(n2) - Ir(n1)) / (CALLS (n2 - n1)) is the
per-element count, the per-call Python and dispatch cost cancelling out.  The gated
functions count elements of x (both halves), as bench.py does.  About a minute per
dozen cases, plus PyTorch's import under Valgrind when it is a contestant.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = (1 << 12, 1 << 16)
CALLS = 3


def inner(cases, out_path) -> None:
    """Under Valgrind: warm each case up, then time CALLS calls at each size, a marker
    (getppid, a profile dump) before each."""
    sys.path.insert(0, HERE)
    import numpy as np
    import bench
    from activations._check import peers_optional

    if any(who == "torch" for *_, who in cases):
        bench.torch = peers_optional.import_torch()
        bench.TORCH = peers_optional.torch_peers(bench.torch) if bench.torch else {}
    if any(who == "onnxrt" for *_, who in cases):
        bench.ONNX = peers_optional.OnnxPeers.load()
    bench.set_threads(1)
    import activations as act
    done = []
    # the first case runs twice and its first figures are dropped (outer()): a run's
    # first calls into a library count one-time work (ONNX Runtime: up to 1.5 more
    # instructions per element for its first operator)
    for name, direction, dt, who in cases[:1] + cases:
        thunks = []
        for n in SIZES:
            p = bench.build_problem(name, bench.DTYPES[dt], n)
            try:
                thunks.append(bench.contestant(who, p, direction, 1))
                if thunks[-1] is not None:
                    thunks[-1]()
            except Exception:
                thunks[-1] = None
        if any(t is None for t in thunks):
            continue
        os.getppid()                # dump: setup and warm-up end here
        for t in thunks:
            for _ in range(CALLS):
                t()
            os.getppid()            # dump: one part per size
        done.append((name, direction, dt, who))
    with open(out_path, "w") as f:
        json.dump(dict(cases=done, simd_level=act.simd_level()), f)


def part_totals(prefix: str):
    """Ir of each dumped part, in dump order."""
    parts = []
    for path in glob.glob(prefix + ".*"):
        m = re.search(r"\.(\d+)$", path)
        if not m:
            continue
        with open(path) as f:
            total = next((int(ln.split()[1]) for ln in f if ln.startswith(("totals:", "summary:"))),
                         None)
        parts.append((int(m.group(1)), total))
    return [t for _, t in sorted(parts)]


def per_element(totals, cases):
    """{case: instructions per element} from the parts' totals: three parts per case
    (inner()): setup and warm-up, the small size, the large size.  A case run twice
    keeps its last figures."""
    rows = {}
    for i, case in enumerate(cases):
        small, large = totals[3 * i + 1], totals[3 * i + 2]
        rows[case] = (large - small) / (CALLS * (SIZES[1] - SIZES[0]))
    return rows


def outer(args) -> int:
    sys.path.insert(0, HERE)
    cases = [(f, d, dt, who) for f in args.functions.split(",") for d in ("fwd", "bwd")
             for dt in args.dtypes.split(",") for who in args.contestants.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        prefix, meta = os.path.join(tmp, "cg.out"), os.path.join(tmp, "cases.json")
        cmd = ["valgrind", "--tool=callgrind", "--dump-before=getppid",
               f"--callgrind-out-file={prefix}", sys.executable, os.path.abspath(__file__),
               "--inner", meta, "--cases", json.dumps(cases)]
        print("running: " + " ".join(cmd[:4]) + " ... (minutes)", flush=True)
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0 or not os.path.exists(meta):
            print(run.stderr[-3000:], file=sys.stderr)
            return 1
        with open(meta) as f:
            info = json.load(f)
        rows = per_element(part_totals(prefix), [tuple(c) for c in info["cases"]])
    print(f"level {info['simd_level']}; instructions per element, (Ir(2^16) - Ir(2^12)) / "
          f"({CALLS} calls x (2^16 - 2^12)), one thread, ordinary inputs")
    who_all = args.contestants.split(",")
    print(f"{'function':26s} dir dtype " + " ".join(f"{w:>8s}" for w in who_all))
    for f in args.functions.split(","):
        for d in ("fwd", "bwd"):
            for dt in args.dtypes.split(","):
                vals = [rows.get((f, d, dt, w)) for w in who_all]
                if all(v is None for v in vals):
                    continue
                print(f"{f:26s} {d} {dt:5s} " + " ".join(
                    f"{'-' if v is None else f'{v:8.2f}'}" for v in vals))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(simd_level=info["simd_level"], sizes=SIZES, calls=CALLS,
                           rows=[dict(function=k[0], direction=k[1], dtype=k[2], contestant=k[3],
                                      instructions_per_element=v) for k, v in rows.items()]),
                      f, indent=1)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--functions", default="sigmoid,tanh,swish,gelu,softmax")
    ap.add_argument("--dtypes", default="f32")
    ap.add_argument("--contestants", default="ours,numpy,torch,onnxrt")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    ap.add_argument("--cases", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.inner:
        inner([tuple(c) for c in json.loads(args.cases)], args.inner)
        return 0
    return outer(args)


if __name__ == "__main__":
    sys.exit(main())
