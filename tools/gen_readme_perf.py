"""Rewrite README.md's performance figures from one `benchmarks/bench.py` JSON.

    python tools/gen_readme_perf.py RESULTS.json           # rewrite the block in README.md
    python tools/gen_readme_perf.py RESULTS.json --check   # exit 1 if README.md differs
    python tools/gen_readme_perf.py RESULTS.json --print   # print the block only

The block sits between ``<!-- perf:begin -->`` and ``<!-- perf:end -->``; everything
outside the markers is left alone.  It holds: the machine line (CPU, SIMD level,
versions, date, and the bench.py command that the JSON's configuration stands for);
the table of every function and direction at float32, 2^20 elements, one thread, ordinary
inputs, with the four contestants and the fastest in bold; and one line per speed target
as ``benchmarks/speed_targets.py`` judges the run (the targets' one definition, shared
with bench.py's summary), then the thread speedups.

Only the JSON is read (never bench.py or the package).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import sys
from typing import Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import speed_targets  # noqa: E402  (the targets' one definition)
BEGIN, END = "<!-- perf:begin -->", "<!-- perf:end -->"

CONTESTANTS = ("ours", "numpy", "torch", "onnxrt")
HEADERS = {"ours": "ours", "numpy": "NumPy", "torch": "PyTorch", "onnxrt": "ONNX Runtime"}
TABLE_N, TABLE_DTYPE, TABLE_THREADS = 1 << 20, "f32", 1
Key = speed_targets.Key


def load(path: str) -> dict:
    with open(path) as f:
        report = json.load(f)
    if not isinstance(report.get("cells"), list) or "machine" not in report:
        raise SystemExit(f"{path}: not a benchmarks/bench.py JSON (no 'cells' or 'machine')")
    return report


index = speed_targets.index


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

def target_lines(report: dict) -> List[str]:
    """One line per speed target, as benchmarks/speed_targets.py judges the run (a
    target the run has no data for is left out), then the thread speedups."""
    lines = [f"- {v.line(show=6)}" for v in speed_targets.evaluate(report)
             if v.passed is not None]
    threads = speed_targets.threads_line(report)
    return lines + ([f"- {threads}"] if threads else [])


def render(report: dict) -> str:
    cells = index(report["cells"])
    functions = list(dict.fromkeys(report.get("config", {}).get("functions")
                                   or [c["function"] for c in report["cells"]]))
    parts = [machine_line(report), "", table(cells, functions), ""]
    lines = target_lines(report)
    if lines:
        parts += ["Against the speed targets (`benchmarks/speed_targets.py`), from the same "
                  "run:", ""] + lines + [""]
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
