"""Write docs/speed-targets.md: every speed-target cell a run misses, its figures and
the measured reason, and target 3's roofline table.

    python tools/gen_speed_report.py RUN.json                   # counts, then writes the doc
    python tools/gen_speed_report.py RUN.json --counts C.json   # reuse (or make) C.json
    python tools/gen_speed_report.py RUN.json --no-measure      # reasons left uncounted
    python tools/gen_speed_report.py RUN.json --print           # print, write nothing

RUN.json is a benchmarks/bench.py run; what it is held to is benchmarks/speed_targets.py
(every miss of every target, with its figures).  The reasons are measurements: the
instructions per element that benchmarks/instructions.py counts for exactly these cells
(``--misses RUN.json``; made first when the counts file is missing, minutes under
Valgrind), and the static mix of target 3's kernels and of the elementwise cells targets 1 and 2
miss that it records (tools/kernel_mix.py).
A peer miss reads "more instructions: N vs M" when ours executes more than the peer
(the exact method's cost, its error beside), otherwise the time goes elsewhere: ours'
time at 2^16 beside this size's, ours and the peer against the time the static mix of
ours' loop needs on its busiest unit at the run's level (the mix, not the count, sets
the speed of a vector loop), and at 2^24 float32 against the memory pass; a
value-dependent miss reads "same instructions" (the time is per-instruction cost:
microcode assists) or "a slower path runs: N vs M"; a small-array miss sets
instructions per call beside np.tanh's.  The roofline row sets the
in-place (forward) or two-read-one-write (backward) memory pass beside the divider's and
the vector ports' cycles per element (kernel_mix.bound_cycles at the clock the OS
reports), names the largest as the bound and gives the ratio to it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "speed-targets.md")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import speed_targets  # noqa: E402  (the targets' one definition)
import kernel_mix  # noqa: E402  (the roofline's cycle model)
import gen_readme_perf  # noqa: E402  (the run's command line)
from instructions import PER_CALL  # noqa: E402  (the per-call count's input kind)

PASS_LABELS = {"inplace": "in-place pass", "copy": "read-write pass",
               "two_in_one_out": "2-read-1-write pass"}
SUBNORMAL_KINDS = ("denormal_in", "underflow")


def _f(v: Optional[float], digits: int = 2) -> str:
    return "–" if v is None or v != v else f"{v:.{digits}f}"


def _ulp(u: Optional[float]) -> str:
    if u is None or u != u:
        return "–"
    return f"{u:.2g}" if u < 1e4 else f"{u:.1e}"


class Counts:
    """The instruction counts and static mixes of benchmarks/instructions.py --misses."""

    def __init__(self, data):
        """`data`: one instructions.py JSON, a list of them (merged; a later file wins),
        or None."""
        parts = [] if data is None else [data] if isinstance(data, dict) else list(data)
        self.level = self.mix_level = self.mhz = None
        self.rows, self.mix = {}, {}
        for d in parts:
            self.level = d.get("simd_level") or self.level
            self.rows.update({(r["function"], r["direction"], r["dtype"], r["contestant"],
                               r.get("kind", "ordinary")): r["instructions_per_element"]
                              for r in d.get("rows", ())})
            mix = d.get("static_mix") or {}
            if mix.get("rows"):
                self.mix_level, self.mhz = mix.get("level"), mix.get("cpu_mhz")
                self.mix.update({(r["function"], r["direction"], r.get("dtype", "f32")):
                                 r["ordinary"]
                                 for r in mix["rows"]})

    def get(self, function, direction, dtype, who, kind="ordinary") -> Optional[float]:
        return self.rows.get((function, direction, dtype, who, kind))


# ------------------------------------------------------------------ reasons

def compute_bound_ns(counts: Counts, function: str, direction: str, dtype: str):
    """(ns per element, unit) the static mix of ours' loop needs on its busiest unit
    (kernel_mix.bound_cycles at the clock the OS reports), or None without a mix."""
    mix = counts.mix.get((function, direction, dtype))
    if not mix or not counts.mhz:
        return None
    cycles = kernel_mix.bound_cycles(mix)
    unit = max(cycles, key=cycles.get)
    return cycles[unit] / (counts.mhz / 1000), unit


def peer_reason(fig: dict, counts: Counts, ours_at_16: Optional[float],
                passes: Optional[dict] = None) -> str:
    """Why ours is slower than a peer in one cell, from the instruction counts; when the
    count does not say: ours' time at 2^16 against this size, where ours and the peer
    stand against ours' compute bound at the run's level (the static mix), and at 2^24
    float32 against the run's memory pass of the same shape."""
    a = counts.get(fig["function"], fig["direction"], fig["dtype"], "ours")
    b = counts.get(fig["function"], fig["direction"], fig["dtype"], fig["peer"])
    if a is None or b is None:
        return "not counted"
    r = a / b
    if r > speed_targets.NOISE:
        text = f"more instructions: {a:.1f} vs {b:.1f} per element ({r:.2f}×)"
    else:
        text = f"not the count ({a:.1f} vs {b:.1f} instructions per element, {r:.2f}×)"
    # the time ratio beyond the count's: ours slower at this size than in cache
    if ours_at_16 and fig["n"] > 1 << 16 and fig["ratio"] > speed_targets.NOISE * r \
            and fig["ours_ns"] > speed_targets.NOISE * ours_at_16:
        text += (f"; ours {fig['ours_ns']:.2f} ns at {speed_targets.exp2(fig['n'])} against "
                 f"{ours_at_16:.2f} at 2^16")
    if r <= speed_targets.NOISE:
        bound = compute_bound_ns(counts, fig["function"], fig["direction"], fig["dtype"])
        if bound:
            ns, unit = bound
            text += (f"; ours' {counts.mix_level} loop needs {ns:.2f} ns on its {unit}: "
                     f"ours at {fig['ours_ns'] / ns:.2f}×, the peer at "
                     f"{fig['peer_ns'] / ns:.2f}× that")
        shape = "copy" if fig["direction"] == "fwd" else "two_in_one_out"
        p = (passes or {}).get(shape)
        if p and fig["n"] == 1 << 24 and fig["dtype"] == "f32":
            text += (f"; the {PASS_LABELS[shape]} {p:.2f} ns: ours at "
                     f"{fig['ours_ns'] / p:.2f}×, the peer at {fig['peer_ns'] / p:.2f}×")
    return text


def value_reason(fig: dict, counts: Counts) -> str:
    """Why ours is slower on an input kind than on ordinary inputs."""
    a = counts.get(fig["function"], fig["direction"], fig["dtype"], "ours")
    b = counts.get(fig["function"], fig["direction"], fig["dtype"], "ours", fig["kind"])
    if a is None or b is None:
        return "not counted"
    r = b / a
    cost = ("microcode assists on subnormals" if fig["kind"] in SUBNORMAL_KINDS
            else "per-instruction cost on these values")
    if r <= speed_targets.NOISE:
        return f"same instructions ({b:.1f} vs {a:.1f} per element): the time is {cost}"
    text = f"a slower path runs: {b:.1f} vs {a:.1f} instructions per element ({r:.2f}×)"
    if fig["ratio"] > speed_targets.VALUE_RATIO * r:
        text += f"; the rest of {fig['ratio']:.2f}× is {cost}"
    return text


def roofline(report: dict, counts: Counts) -> List[dict]:
    """Target 3's rows (speed_targets.hardware_rows) with the instructions per element,
    the static mix, each bound in ns, the largest (what bounds it) and the ratio to it."""
    ghz = counts.mhz / 1000 if counts.mhz else None
    rows = []
    for row in speed_targets.hardware_rows((report.get("sections") or {}).get("memory")):
        limits = {"memory": row["pass_ns"]}
        mix = counts.mix.get((row["function"], row["direction"], "f32"))
        if mix and ghz:
            limits.update({k: c / ghz for k, c in kernel_mix.bound_cycles(mix).items()})
        by = max(limits, key=limits.get) if len(limits) > 1 else "memory (no mix)"
        limits.setdefault(by, row["pass_ns"])
        rows.append(dict(row, instructions=counts.get(row["function"], row["direction"], "f32",
                                                      "ours"),
                         mix=mix, limits=limits, bound_by=by,
                         bound_ratio=row["ours_ns"] / limits[by]))
    return rows


# ------------------------------------------------------------------ the document

def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(r) + " |" for r in rows])


def _ours_at_16(report: dict) -> Dict[tuple, float]:
    return {(c["function"], c["direction"], c["dtype"]): c["ns_per_element"]
            for c in report.get("cells", ()) if c["contestant"] == "ours" and c["n"] == 1 << 16
            and int(c["threads"]) == 1 and c.get("kind", "ordinary") == "ordinary"
            and c.get("ns_per_element") is not None}


def _passes(report: dict) -> Dict[str, float]:
    """The run's 2^24 float32 memory passes, ns per element by shape."""
    memory = (report.get("sections") or {}).get("memory") or {}
    return {shape: p["ns_per_element"] for shape, p in (memory.get("passes") or {}).items()
            if p.get("ns_per_element")}


def peer_section(v: speed_targets.Verdict, report: dict, counts: Counts) -> List[str]:
    at16 = _ours_at_16(report)
    passes = _passes(report)
    rows = []
    for m in v.misses:
        f = m.figures
        rows.append([f["function"], f["direction"], f["dtype"], speed_targets.exp2(f["n"]),
                     speed_targets.PEER_LABELS[f["peer"]], _f(f["ours_ns"]), _f(f["peer_ns"]),
                     f"{f['ratio']:.2f}×", _ulp(f["ours_ulp"]), _ulp(f["peer_ulp"]),
                     _f(counts.get(f["function"], f["direction"], f["dtype"], "ours"), 1),
                     _f(counts.get(f["function"], f["direction"], f["dtype"], f["peer"]), 1),
                     peer_reason(f, counts, at16.get((f["function"], f["direction"],
                                                      f["dtype"])), passes)])
    return _table(["function", "dir", "dtype", "n", "peer", "ours ns", "peer ns", "ours/peer",
                   "ULP ours", "ULP peer", "instr/el ours", "instr/el peer", "reason"], rows)


def roofline_section(rows: List[dict]) -> List[str]:
    out = []
    for r in rows:
        mix = r["mix"] or {}
        limits = r["limits"]
        out.append([r["function"], r["direction"], _f(r["ours_ns"]),
                    f"{PASS_LABELS[r['pass_name']]} {_f(r['pass_ns'])}",
                    f"{r['ratio']:.2f}× ({'met' if r['met'] else 'missed'}, "
                    f"bound {r['bound']:g}×)",
                    _f(r["instructions"], 1), _f(mix.get("divider"), 3), _f(mix.get("fma"), 3),
                    _f(mix.get("other_vector"), 3), _f(limits.get("divider"), 3),
                    _f(limits.get("vector ports"), 3), r["bound_by"],
                    f"{r['bound_ratio']:.2f}×"])
    return _table(["function", "dir", "ns/el", "memory pass ns/el", "× pass", "instr/el",
                   "div+sqrt/el", "FMA/el", "other vector/el", "divider ns/el",
                   "vector ports ns/el", "bound by", "× bound"], out)


def value_section(v: speed_targets.Verdict, counts: Counts) -> List[str]:
    rows = []
    for m in v.misses:
        f = m.figures
        rows.append([f["function"], f["direction"], f["dtype"], f["kind"],
                     _f(f["ordinary_ns"]), _f(f["ours_ns"]), f"{f['ratio']:.2f}×",
                     _f(counts.get(f["function"], f["direction"], f["dtype"], "ours"), 1),
                     _f(counts.get(f["function"], f["direction"], f["dtype"], "ours",
                                   f["kind"]), 1),
                     value_reason(f, counts)])
    return _table(["function", "dir", "dtype", "inputs", "ordinary ns", "these ns", "ratio",
                   "instr/el ordinary", "instr/el these", "reason"], rows)


def small_reason(fig: dict, counts: Counts) -> str:
    """Why one call on 16 elements is slower than np.tanh's, from instructions per call."""
    a = counts.get(fig["function"], fig["direction"], "f32", "ours", PER_CALL)
    b = counts.get("tanh", "fwd", "f32", "np.tanh", PER_CALL)
    if a is None or b is None:
        return "not counted"
    r = a / b
    if r > speed_targets.NOISE:
        return f"more instructions per call: {a:.0f} vs {b:.0f} ({r:.2f}×)"
    return f"not the count ({a:.0f} vs {b:.0f} instructions per call, {r:.2f}×)"


def small_section(v: speed_targets.Verdict, counts: Counts) -> List[str]:
    rows = [[m.figures["function"], m.figures["direction"],
             _f(m.figures["ours_ns_per_call"], 0), _f(m.figures["np_tanh_ns_per_call"], 0),
             f"{m.figures['ratio']:.2f}×",
             _f(counts.get(m.figures["function"], m.figures["direction"], "f32", "ours",
                           PER_CALL), 0),
             _f(counts.get("tanh", "fwd", "f32", "np.tanh", PER_CALL), 0),
             small_reason(m.figures, counts)] for m in v.misses]
    return _table(["function", "dir", "ours ns/call", "np.tanh ns/call", "ratio",
                   "instr/call ours", "instr/call np.tanh", "reason"], rows)


def render(report: dict, counts_data: Optional[dict]) -> str:
    counts = Counts(counts_data)
    m = report.get("machine", {})
    lines = ["# Speed targets: every missed cell and its measured reason", "",
             "Generated by `tools/gen_speed_report.py` from one `benchmarks/bench.py` run and "
             "the instruction counts `benchmarks/instructions.py --misses` makes for it; do "
             "not edit by hand. The targets are those of `benchmarks/speed_targets.py` "
             "(benchmarks/README.md, \"Speed targets\").", "",
             f"Run: `{gen_readme_perf.command(report)}`, {m.get('date', '?')}, "
             f"{m.get('cpu_model', '?')}, {m.get('cpus_available', '?')} CPUs, activations "
             f"{m.get('activations', '?')} at the {m.get('simd_level', '?')} level; medians, "
             f"ns per element, one thread.",
             ""]
    if counts.rows:
        lines += [f"Instructions per element (instr/el): Valgrind's callgrind at the "
                  f"{counts.level} level (the widest it emulates), ordinary inputs unless "
                  f"said, every contestant the same way.", ""]
    else:
        lines += ["No instruction counts were given: the reasons read \"not counted\".", ""]
    for v in speed_targets.evaluate(report):
        state = "n/a" if v.passed is None else ("met" if v.passed else "not met")
        lines += [f"## Target {v.number}, {v.title}: {state}", "", v.summary, ""]
        if v.number in (1, 2) and v.misses:
            lines += [f"Every miss ({len(v.misses)}), worst first:", ""]
            lines += peer_section(v, report, counts) + [""]
        elif v.number == 3 and v.passed is not None:
            rows = roofline(report, counts)
            clock = (f"{counts.mhz:.0f} MHz as /proc/cpuinfo reports" if counts.mhz
                     else "no clock recorded")
            lines += [f"Roofline, 2^24 float32: the forward in place against the in-place "
                      f"pass, the backward against the two-read-one-write pass. The mix is "
                      f"static, per element, of the kernel's inner loops at the "
                      f"{counts.mix_level or '?'} level on ordinary inputs (tools/"
                      f"kernel_mix.py; the fast path and its predicate where there is one); "
                      f"divider and vector ports in ns at {clock} "
                      f"(kernel_mix.bound_cycles). \"bound by\" is the largest of memory, "
                      f"divider and vector ports (\"memory (no mix)\" where the loops were "
                      f"not located: the softmax family's row passes); a ratio under 1 says "
                      f"the core ran faster than this model (a clock above the reported "
                      f"one).", ""]
            lines += roofline_section(rows) + [""]
        elif v.number == 5 and v.misses:
            lines += [f"Every miss ({len(v.misses)}), worst first (fastest batches, each kind timed in turn with ordinary inputs, 2^16):", ""]
            lines += value_section(v, counts) + [""]
        elif v.number == 6 and v.misses:
            lines += ["Every miss, worst first (instructions per call on 16 elements, less "
                      "an empty call):", ""]
            lines += small_section(v, counts) + [""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="a benchmarks/bench.py JSON")
    ap.add_argument("--counts", action="append",
                    help="benchmarks/instructions.py --misses JSON (default: RUN.counts.json "
                         "beside the run; made when missing); repeat to merge several")
    ap.add_argument("--no-measure", action="store_true",
                    help="do not run instructions.py when the counts file is missing")
    ap.add_argument("--worst", type=int, help="count only the N furthest-off misses per target")
    ap.add_argument("--out", default=DOC)
    ap.add_argument("--print", action="store_true", help="print the document, write nothing")
    args = ap.parse_args(argv)
    report = gen_readme_perf.load(args.json)
    paths = args.counts or [os.path.splitext(args.json)[0] + ".counts.json"]
    if len(paths) == 1 and not os.path.exists(paths[0]) and not args.no_measure:
        cmd = [sys.executable, os.path.join(ROOT, "benchmarks", "instructions.py"),
               "--misses", args.json, "--json", paths[0]]
        if args.worst:
            cmd += ["--worst", str(args.worst)]
        if subprocess.run(cmd).returncode != 0:
            return 1
    counts = []
    for path in paths:
        if os.path.exists(path):
            with open(path) as f:
                counts.append(json.load(f))
    text = render(report, counts)
    if args.print:
        print(text, end="")
        return 0
    with open(args.out, "w") as f:
        f.write(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
