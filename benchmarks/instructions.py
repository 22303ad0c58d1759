#!/usr/bin/env python
"""Instructions per element of every contestant, counted by Valgrind (callgrind).

    python benchmarks/instructions.py --functions sigmoid,gelu --dtypes f32
    python benchmarks/instructions.py --functions softmax --contestants ours,onnxrt
    python benchmarks/instructions.py --functions elu --contestants ours \
        --kinds ordinary,denormal_in
    python benchmarks/instructions.py --misses bench.json --json counts.json   # what a report needs

Timings on a shared machine are noisy; executed instructions are not.  This counts them
for the same calls benchmarks/bench.py times (its problems and contestants: ours, NumPy,
PyTorch, ONNX Runtime, one thread; ordinary inputs, or bench.py's other input kinds), to
say what bounds a kernel: an exact method that executes 2x the peer's instructions
cannot be as fast on the same core, and a slowdown on subnormal inputs with the same
count is the time of microcode assists, not of a slower path.  Valgrind emulates the
CPU (up to AVX2; the package's dispatcher picks the level it reports, printed first), so
the figures are those of the avx2 level.

How: the script runs itself under ``valgrind --tool=callgrind --dump-before=getppid``;
the inner run calls ``os.getppid()`` between cases, so callgrind writes one profile part
per case.  Each case runs CALLS calls at two sizes after a warm-up call (ONNX Runtime's
session, PyTorch's first-call setup); (Ir(n2) - Ir(n1)) / (CALLS (n2 - n1)) is the
per-element count, the per-call Python and dispatch cost cancelling out.  The gated
functions count elements of x (both halves), as bench.py does.  About a minute per
dozen cases, plus PyTorch's import under Valgrind when it is a contestant.

The blocked loops' software prefetch is switched at import by a timing (_kernels.pyx,
``probe_hardware_streams``), which under Valgrind reads slow and would switch it on
where this machine runs without it (1-2% more instructions on every blocked loop): the
inner run pins it to what the import chose here, outside Valgrind.  So are the subnormal
detours (``probe_subnormal_arithmetic``), which decide which blocks run their rare
predicates and tiny forms: under Callgrind every operation slows and the probe's ratio
shrinks (5.6 against 55 outside on an Intel Xeon), so a core a little above the
threshold outside would count the loops it does not run.

``--misses RUN.json`` counts exactly what tools/gen_speed_report.py needs for that run:
the cells the speed targets (benchmarks/speed_targets.py) find missed, ours and the peer
for targets 1-2, ours on the input kind and on ordinary inputs for target 5, ours for
every function of target 3 with the static mix of its inner loops at the run's SIMD
level (tools/kernel_mix.py; objdump of the built module) and the clock the OS reports.
``--worst N`` keeps the N furthest-off misses of each target, ``--targets 3,5`` those
targets only.
"""

from __future__ import annotations

import argparse
import functools
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
from typing import List, Optional, Tuple

Case = Tuple[str, str, str, str, str]   # function, direction, dtype, contestant, input kind
#: the input kind of a per-call case: instructions per call on 16 float32 elements (speed
#: target 6), less an empty call; its contestant "np.tanh" is np.tanh(x, out=x)
PER_CALL = "per_call_16"

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = (1 << 12, 1 << 16)
CALLS = 3
#: calls per part of a PER_CALL case: a call's count varies with the interpreter's state
#: by a few hundred instructions, which many calls average out
PER_CALL_CALLS = 30


def inner(cases, out_path, prefetch: Optional[bool] = None,
          detours: Optional[bool] = None) -> None:
    """Under Valgrind: warm each case up, then time CALLS calls at each size, a marker
    (getppid, a profile dump) before each.  `prefetch`, `detours`: the blocked loops'
    software prefetch and the subnormal detours as the import outside Valgrind set them
    (None: as the import here sets them)."""
    sys.path.insert(0, HERE)
    import numpy as np
    import bench
    from activations._check import peers_optional

    if any(c[3] == "torch" for c in cases):
        bench.torch = peers_optional.import_torch()
        bench.TORCH = peers_optional.torch_peers(bench.torch) if bench.torch else {}
    if any(c[3] == "onnxrt" for c in cases):
        bench.ONNX = peers_optional.OnnxPeers.load()
    bench.set_threads(1)
    import activations as act
    from activations import _functions
    if prefetch is not None:
        _functions._K._set_software_prefetch(prefetch)
    if detours is not None:
        _functions._K._set_subnormal_detours(detours)
    done = []
    # the first case runs twice and its first figures are dropped (outer()): a run's
    # first calls into a library count one-time work (ONNX Runtime: up to 1.5 more
    # instructions per element for its first operator)
    for name, direction, dt, who, kind in cases[:1] + cases:
        thunks = []
        for n in ((16,) if kind == PER_CALL else SIZES):
            p = bench.build_problem(name, bench.DTYPES[dt], n,
                                    "ordinary" if kind == PER_CALL else kind)
            try:
                thunks.append(functools.partial(np.tanh, p.x, out=p.x) if who == "np.tanh"
                              else bench.contestant(who, p, direction, 1))
                if thunks[-1] is not None:
                    thunks[-1]()
            except Exception:
                thunks[-1] = None
        if kind == PER_CALL:
            thunks.insert(0, _empty_call)
        if any(t is None for t in thunks):
            continue
        os.getppid()                # dump: setup and warm-up end here
        for t in thunks:
            for _ in range(PER_CALL_CALLS if kind == PER_CALL else CALLS):
                t()
            os.getppid()            # dump: one part per size
        done.append((name, direction, dt, who, kind))
    with open(out_path, "w") as f:
        json.dump(dict(cases=done, simd_level=act.simd_level()), f)


def _empty_call() -> None:
    pass


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
    (inner()): setup and warm-up, the small size, the large size (a PER_CALL case: the
    empty calls, the calls; per call).  A case run twice keeps its last figures."""
    rows = {}
    for i, case in enumerate(cases):
        small, large = totals[3 * i + 1], totals[3 * i + 2]
        per_call = len(case) > 4 and case[4] == PER_CALL     # small: the empty calls
        rows[case] = (large - small) / (PER_CALL_CALLS if per_call
                                        else CALLS * (SIZES[1] - SIZES[0]))
    return rows


ALL_TARGETS = (1, 2, 3, 5, 6)


def cases_for_misses(report: dict, worst: Optional[int] = None,
                     targets=ALL_TARGETS) -> List[Case]:
    """The cases a speed-target report of `report` (a bench.py JSON) joins: per target,
    its misses (the `worst` furthest off, or all), and every function of target 3.
    Target 6's misses count per call (PER_CALL), np.tanh's beside."""
    import speed_targets
    cases = []
    for v in speed_targets.evaluate(report):
        if v.number not in targets:
            continue
        misses = v.misses if worst is None else v.misses[:worst]
        for m in misses:
            f = m.figures
            if v.number in (1, 2):
                cases += [(f["function"], f["direction"], f["dtype"], who, "ordinary")
                          for who in ("ours", f["peer"])]
            elif v.number == 5:
                cases += [(f["function"], f["direction"], f["dtype"], "ours", kind)
                          for kind in ("ordinary", f["kind"])]
            elif v.number == 6:
                cases += [(f["function"], f["direction"], "f32", "ours", PER_CALL),
                          ("tanh", "fwd", "f32", "np.tanh", PER_CALL)]
    rows = ((report.get("sections") or {}).get("memory") or {}).get("rows") or ()
    cases += [(r["function"], d, "f32", "ours", "ordinary") for r in rows
              if r["function"] in speed_targets.HARDWARE_BOUNDS and 3 in targets
              for d in ("fwd", "bwd")]
    return list(dict.fromkeys(cases))


def static_mixes(report: dict, targets=ALL_TARGETS) -> dict:
    """The static mix of the loops at the run's SIMD level (tools/kernel_mix.py), with
    the clock /proc/cpuinfo reports, of target 3's functions (float32, both directions)
    and of the elementwise cells targets 1 and 2 miss; {} without a build."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
    sys.path.insert(0, HERE)
    import bench
    import kernel_mix
    import speed_targets
    from activations import _simd_levels, _spec
    specs = {s.name: s for s in _spec.SPECS}
    level = report.get("machine", {}).get("simd_level", "avx512")
    backward_from = report.get("config", {}).get("backward_from", {})
    rows = ((report.get("sections") or {}).get("memory") or {}).get("rows") or ()
    wanted = [(r["function"], d, "f32") for r in rows if 3 in targets
              and r["function"] in speed_targets.HARDWARE_BOUNDS for d in ("fwd", "bwd")]
    wanted += [(m.figures["function"], m.figures["direction"], m.figures["dtype"])
               for v in speed_targets.evaluate(report) if v.number in (1, 2)
               and v.number in targets for m in v.misses]
    cases = []
    for name, direction, dtype in dict.fromkeys(wanted):
        spec = specs.get(bench.function_of(name))
        if spec is None or not spec.kernel_args:
            continue                    # the softmax family, gated, prelu: no elementwise op
        op = spec.kernel_args(**bench.explicit_params(name))[0]
        from_y = backward_from.get(name, "x") == "y"
        formula = ("forward" if direction == "fwd" else
                   "backward_from_output" if from_y else "backward")
        cases.append((name, direction, dtype, op, formula))
    try:
        mixes = kernel_mix.kernel_mixes(cases, _simd_levels.level(level).module)
    except (FileNotFoundError, OSError, subprocess.CalledProcessError) as e:
        print(f"no static mix: {e}", file=sys.stderr)
        return {}
    mhz = None
    try:
        with open("/proc/cpuinfo") as f:
            mhz = next(float(ln.split(":")[1]) for ln in f if ln.startswith("cpu MHz"))
    except (OSError, StopIteration, ValueError):
        pass
    return dict(level=level, cpu_mhz=mhz, rows=mixes)


def outer(args) -> int:
    sys.path.insert(0, HERE)
    mixes = {}
    if args.misses:
        with open(args.misses) as f:
            report = json.load(f)
        targets = tuple(int(t) for t in args.targets.split(","))
        cases = cases_for_misses(report, args.worst, targets)
        mixes = static_mixes(report, targets)
    else:
        cases = [(f, d, dt, who, kind) for f in args.functions.split(",")
                 for d in ("fwd", "bwd") for dt in args.dtypes.split(",")
                 for who in args.contestants.split(",") for kind in args.kinds.split(",")]
    print(f"{len(cases)} cases", flush=True)
    from activations import _functions
    prefetch = "on" if _functions._K.software_prefetch_on() else "off"
    detours = "on" if _functions._K.subnormal_detours_on() else "off"
    with tempfile.TemporaryDirectory() as tmp:
        prefix, meta = os.path.join(tmp, "cg.out"), os.path.join(tmp, "cases.json")
        cmd = ["valgrind", "--tool=callgrind", "--dump-before=getppid",
               f"--callgrind-out-file={prefix}", sys.executable, os.path.abspath(__file__),
               "--inner", meta, "--cases", json.dumps(cases), "--prefetch", prefetch,
               "--detours", detours]
        print("running: " + " ".join(cmd[:4]) + " ... (minutes)", flush=True)
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0 or not os.path.exists(meta):
            print(run.stderr[-3000:], file=sys.stderr)
            return 1
        with open(meta) as f:
            info = json.load(f)
        rows = per_element(part_totals(prefix), [tuple(c) for c in info["cases"]])
    print(f"level {info['simd_level']}, subnormal detours {detours}, software prefetch "
          f"{prefetch}; instructions per element, (Ir(2^16) - Ir(2^12)) / "
          f"({CALLS} calls x (2^16 - 2^12)), one thread; {PER_CALL}: per call, less an "
          f"empty call")
    who_all = list(dict.fromkeys(c[3] for c in cases))
    print(f"{'function':26s} dir dtype {'inputs':12s}" + " ".join(f"{w:>8s}" for w in who_all))
    for f, d, dt, kind in dict.fromkeys((c[0], c[1], c[2], c[4]) for c in cases):
        vals = [rows.get((f, d, dt, w, kind)) for w in who_all]
        if all(v is None for v in vals):
            continue
        print(f"{f:26s} {d} {dt:5s} {kind:12s}" + " ".join(
            f"{'-':>8s}" if v is None else f"{v:8.2f}" for v in vals))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(simd_level=info["simd_level"], sizes=SIZES, calls=CALLS,
                           rows=[dict(function=k[0], direction=k[1], dtype=k[2], contestant=k[3],
                                      kind=k[4], instructions_per_element=v)
                                 for k, v in rows.items()],
                           static_mix=mixes), f, indent=1)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--functions", default="sigmoid,tanh,swish,gelu,softmax")
    ap.add_argument("--dtypes", default="f32")
    ap.add_argument("--contestants", default="ours,numpy,torch,onnxrt")
    ap.add_argument("--kinds", default="ordinary",
                    help="input kinds (bench.INPUT_KINDS), e.g. ordinary,denormal_in")
    ap.add_argument("--misses", metavar="RUN.json",
                    help="count the cases a speed-target report of this bench.py run needs")
    ap.add_argument("--worst", type=int, help="with --misses: the N furthest off per target")
    ap.add_argument("--targets", default=",".join(map(str, ALL_TARGETS)),
                    help="with --misses: these targets only, e.g. 3,5")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    ap.add_argument("--cases", help=argparse.SUPPRESS)
    ap.add_argument("--prefetch", choices=("on", "off"), help=argparse.SUPPRESS)
    ap.add_argument("--detours", choices=("on", "off"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.inner:
        inner([tuple(c) for c in json.loads(args.cases)], args.inner,
              None if args.prefetch is None else args.prefetch == "on",
              None if args.detours is None else args.detours == "on")
        return 0
    return outer(args)


if __name__ == "__main__":
    sys.exit(main())
