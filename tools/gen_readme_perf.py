"""Rewrite README.md's performance figures from one `benchmarks/bench.py` JSON.

    python tools/gen_readme_perf.py RESULTS.json           # rewrite the block in README.md
    python tools/gen_readme_perf.py RESULTS.json --check   # exit 1 if README.md differs
    python tools/gen_readme_perf.py RESULTS.json --print   # print the block only

The block sits between ``<!-- perf:begin -->`` and ``<!-- perf:end -->``; everything
outside the markers is left alone.  It holds: the machine line (CPU, SIMD level,
versions, date, and the bench.py command that the JSON's configuration stands for);
the table of every function and direction at float32, 2^20 elements, one thread, ordinary
inputs, with the four contestants and the fastest in bold; and the target lines that the
JSON supports: cells where ours is at least as fast as the fastest peer, the geometric
mean of the speedup over the fastest peer (1 thread, 2^16/2^20/2^24 as measured, every
dtype), one call on 16 elements against ``np.tanh(x, out=x)``, the 2^24 memory-pass
ratios, 2 threads against 1, and the worst value-dependent slowdown.

Only the JSON is read (never bench.py or the package): the per-cell list ``cells`` is
the source of the table and of the speed targets; the sections that compare against
something that is not a cell (the np.tanh call, the memory passes, the thread speedups)
are found in ``targets`` by their keys, whatever their number.  A line whose data the
run lacks is left out.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import sys
from typing import Dict, Iterable, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
BEGIN, END = "<!-- perf:begin -->", "<!-- perf:end -->"

CONTESTANTS = ("ours", "numpy", "torch", "onnxrt")
HEADERS = {"ours": "ours", "numpy": "NumPy", "torch": "PyTorch", "onnxrt": "ONNX Runtime"}
TABLE_N, TABLE_DTYPE, TABLE_THREADS = 1 << 20, "f32", 1
TARGET_SIZES = (1 << 16, 1 << 20, 1 << 24)

Key = Tuple[str, str, str, int, int, str, str]  # function, direction, dtype, n, threads, who, kind


def load(path: str) -> dict:
    with open(path) as f:
        report = json.load(f)
    if not isinstance(report.get("cells"), list) or "machine" not in report:
        raise SystemExit(f"{path}: not a benchmarks/bench.py JSON (no 'cells' or 'machine')")
    return report


def index(cells: Iterable[dict]) -> Dict[Key, dict]:
    return {(c["function"], c["direction"], c["dtype"], int(c["n"]), int(c["threads"]),
             c["contestant"], c.get("kind", "ordinary")): c for c in cells}


def ns(c: Optional[dict]) -> Optional[float]:
    return None if c is None else c.get("ns_per_element")


def _exp2(n: int) -> str:
    return f"2^{int(math.log2(n))}"


# ------------------------------------------------------------------ machine line

def command(report: dict) -> str:
    """The bench.py command line that the JSON's configuration stands for."""
    cfg = report.get("config", {})
    args = ["python benchmarks/bench.py"]
    if cfg.get("quick"):
        args.append("--quick")
    fns = cfg.get("functions")
    default_fns = {c["function"] for c in report["cells"]}
    if fns and set(fns) != default_fns:
        args.append("--functions " + ",".join(fns))
    if cfg.get("dtypes") and list(cfg["dtypes"]) != ["f32", "f64"]:
        args.append("--dtypes " + ",".join(cfg["dtypes"]))
    if cfg.get("sizes") and not cfg.get("quick"):
        args.append("--sizes " + ",".join(str(int(math.log2(n))) for n in cfg["sizes"]))
    if cfg.get("threads") and not cfg.get("quick"):
        args.append("--threads " + ",".join(map(str, cfg["threads"])))
    return " ".join(args)


def machine_line(report: dict) -> str:
    m = report["machine"]
    date = str(m.get("date", "?"))
    try:
        d = datetime.datetime.fromisoformat(date)
        date = d.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        pass
    peers = ", ".join(f"{label} {m[k]}" for k, label in
                      (("numpy", "NumPy"), ("torch", "PyTorch"), ("onnxruntime", "ONNX Runtime"))
                      if m.get(k))
    load = m.get("loadavg_start")
    load_s = f"; load average {load[0]:.1f} at the start" if load else ""
    elapsed = report.get("elapsed_s")
    took = f", {elapsed / 60:.0f} minutes" if elapsed else ""
    return (f"Figures from `{command(report)}` ({date}{took}) on {m.get('cpu_model', '?')} "
            f"({m.get('cpus_available', '?')} CPUs available{load_s}: a shared machine's "
            f"timings are noisy, read ratios), activations {m.get('activations', '?')} at the "
            f"{m.get('simd_level', '?')} level, {peers}, Python {m.get('python', '?')}; medians, "
            f"ns per element, float32, {_exp2(TABLE_N)} elements, one thread (fastest in bold; "
            f"PyTorch backwards through their ATen ops, ONNX Runtime forward-only, with IO "
            f"binding; – where a contestant lacks the function):")


# ------------------------------------------------------------------ the table

def table(cells: Dict[Key, dict], functions: List[str]) -> str:
    rows = ["| function | dir | " + " | ".join(HEADERS[w] for w in CONTESTANTS) + " |",
            "|---|---|" + "---|" * len(CONTESTANTS)]
    for name in functions:
        for direction in ("fwd", "bwd"):
            times = {w: ns(cells.get((name, direction, TABLE_DTYPE, TABLE_N,
                                      1 if w == "numpy" else TABLE_THREADS, w, "ordinary")))
                     for w in CONTESTANTS}
            if times["ours"] is None and all(t is None for t in times.values()):
                continue
            best = min((t for t in times.values() if t is not None), default=None)
            fmt = [("–" if t is None else (f"**{t:.2f}**" if t == best else f"{t:.2f}"))
                   for t in times.values()]
            rows.append(f"| {name} | {direction} | " + " | ".join(fmt) + " |")
    return "\n".join(rows)


# ------------------------------------------------------------------ target lines

def speed_cells(cells: Dict[Key, dict]) -> List[Tuple[Key, float, float, str]]:
    """(key, ours, fastest peer, its name) for every 1-thread ordinary cell at the target
    sizes that has both."""
    out = []
    for key, c in cells.items():
        name, direction, dt, n, th, who, kind = key
        if who != "ours" or th != 1 or kind != "ordinary" or n not in TARGET_SIZES:
            continue
        mine = ns(c)
        peers = [(ns(cells.get((name, direction, dt, n, 1, w, kind))), w) for w in CONTESTANTS[1:]]
        peers = [(t, w) for t, w in peers if t is not None]
        if mine is None or not peers:
            continue
        t, w = min(peers)
        out.append((key, mine, t, w))
    return out


def find_section(targets: dict, *keys: str) -> Optional[dict]:
    """The target section (a dict) that has all of `keys`, whatever its name."""
    for section in (targets or {}).values():
        if isinstance(section, dict) and all(k in section for k in keys):
            return section
    return None


def value_ratios(cells: Dict[Key, dict]) -> List[Tuple[str, str, str, str, float]]:
    """(function, direction, dtype, kind, fastest sample / fastest ordinary sample), ours,
    1 thread, every size measured on special inputs."""
    out = []
    for key, c in cells.items():
        name, direction, dt, n, th, who, kind = key
        if who != "ours" or th != 1 or kind == "ordinary" or not c.get("ns_min"):
            continue
        base = cells.get((name, direction, dt, n, th, who, "ordinary"))
        if base and base.get("ns_min"):
            out.append((name, direction, dt, kind, c["ns_min"] / base["ns_min"]))
    return out


def target_lines(report: dict, cells: Dict[Key, dict]) -> List[str]:
    lines = []
    sc = speed_cells(cells)
    if sc:
        wins = sum(1 for _, mine, best, _ in sc if mine <= best)
        geo = math.exp(sum(math.log(best / mine) for _, mine, best, _ in sc) / len(sc))
        sizes = sorted({k[3] for k, *_ in sc})
        dts = sorted({k[2] for k, *_ in sc})
        lines.append(f"- At least as fast as the fastest peer in {wins} of {len(sc)} cells "
                     f"(one thread, {'/'.join(_exp2(n) for n in sizes)} elements, "
                     f"{' and '.join(dts)}, forward and backward).")
        lines.append(f"- Geometric mean of the speedup over the fastest peer across those "
                     f"cells: {geo:.2f}× (target 1.5×).")
        losses = sorted(((best / mine, k, w) for k, mine, best, w in sc if mine > best * 1.05))
        if losses:
            worst = ", ".join(f"{k[0]} {k[1]} {k[2]} {_exp2(k[3])} ({r:.2f}× of {w})"
                              for r, k, w in losses[:6])
            lines.append(f"- Slower than a peer by more than 5% in {len(losses)} cells; the "
                         f"furthest behind: {worst}.")
    targets = report.get("targets") or {}
    small = find_section(targets, "np_tanh_ns_per_call", "cells")
    if small:
        ratios = [r["ratio"] for r in small["cells"] if r.get("ratio") is not None]
        if ratios:
            over = [r for r in small["cells"] if r.get("ratio") is not None and r["ratio"] > 1.25]
            over.sort(key=lambda r: -r["ratio"])
            lines.append(f"- Small arrays: one call on 16 float32 elements costs "
                         f"{min(ratios):.2f}–{max(ratios):.2f}× `np.tanh(x, out=x)` "
                         f"({small['np_tanh_ns_per_call']:.0f} ns); {len(over)} of "
                         f"{len(ratios)} above 1.25×"
                         + (": " + ", ".join(f"{r['function']} {r['direction']} "
                                             f"{r['ratio']:.2f}×" for r in over[:8])
                            + ("…" if len(over) > 8 else "") if over else "") + ".")
    memory = find_section(targets, "passes", "cells")
    if memory:
        rs = [(r["ratio"], r["function"], r["direction"]) for r in memory["cells"]
              if r.get("ratio") is not None]
        if rs:
            ref = memory["passes"]
            refs = ", ".join(f"{shape} {p['ns_per_element']:.2f} ns" for shape, p in ref.items())
            cheap = sorted(rs)[:3]
            dear = sorted(rs)[-3:]
            lines.append(f"- Memory bound, 2^24 float32, one thread (the fastest memory pass "
                         f"of each shape: {refs}): from {cheap[0][0]:.2f}× "
                         f"({cheap[0][1]} {cheap[0][2]}) to {dear[-1][0]:.2f}× "
                         f"({dear[-1][1]} {dear[-1][2]}) of the pass; "
                         f"{sum(1 for r in rs if r[0] <= 2)} of {len(rs)} within 2×.")
    threads = None
    for section in targets.values():
        rows = section.get("cells") if isinstance(section, dict) else None
        if rows and isinstance(rows, list) and isinstance(rows[0], dict) and "speedup" in rows[0]:
            threads = rows
    if threads:
        parts = ", ".join(f"{r['function']} {r['direction']} {r['speedup']:.2f}×"
                          for r in threads if r.get("speedup"))
        if parts:
            lines.append(f"- Threads, 2 vs 1 at 2^22 float32: {parts}.")
    vr = value_ratios(cells)
    if vr:
        over = sorted((r for r in vr if r[4] > 1.25), key=lambda r: -r[4])
        worst = max(vr, key=lambda r: r[4])
        lines.append(f"- Value dependence (ours, one thread, fastest samples, special inputs "
                     f"against N(0, 3)): worst {worst[4]:.2f}× ({worst[0]} {worst[1]} {worst[2]} "
                     f"on {worst[3]}); {len(over)} of {len(vr)} cells (function, direction, "
                     f"dtype, input kind) above 1.25×"
                     + (": " + ", ".join(f"{r[0]} {r[1]} {r[2]} {r[3]} {r[4]:.2f}×"
                                         for r in over[:8]) + ("…" if len(over) > 8 else "")
                        if over else "") + ".")
    return lines


def render(report: dict) -> str:
    cells = index(report["cells"])
    functions = list(dict.fromkeys(report.get("config", {}).get("functions")
                                   or [c["function"] for c in report["cells"]]))
    parts = [machine_line(report), "", table(cells, functions), ""]
    lines = target_lines(report, cells)
    if lines:
        parts += ["Against the targets, from the same run:", ""] + lines + [""]
    parts.append("Generated by `tools/gen_readme_perf.py` from the run's JSON; do not edit "
                 "by hand.")
    return "\n".join(parts)


def rewrite(text: str, block: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md lacks the markers {BEGIN} ... {END}")
    return text[:start + len(BEGIN)] + "\n" + block + "\n" + text[end:]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="a benchmarks/bench.py JSON (benchmarks/results/*.json)")
    ap.add_argument("--readme", default=README)
    ap.add_argument("--check", action="store_true", help="exit 1 if the README differs")
    ap.add_argument("--print", action="store_true", help="print the block, write nothing")
    args = ap.parse_args(argv)
    block = render(load(args.json))
    if args.print:
        print(block)
        return 0
    with open(args.readme) as f:
        text = f.read()
    new = rewrite(text, block)
    if args.check:
        if new != text:
            print(f"{args.readme}: performance block is stale; run tools/gen_readme_perf.py "
                  f"{args.json}", file=sys.stderr)
            return 1
        return 0
    if new != text:
        with open(args.readme, "w") as f:
            f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
