"""The speed targets, judged from one `benchmarks/bench.py` run's JSON.

bench.py measures; this module alone says what the measurements are held to, so that
bench.py's summary and README's performance lines (tools/gen_readme_perf.py) cannot
disagree.  It reads only the JSON's ``cells`` (one per function, direction, dtype, size,
threads, contestant, input kind), ``accuracy`` (max ULP per contestant) and
``sections`` (``memory``: 2^24 passes and our in-place forwards; ``small``: one call on
16 elements and ``np.tanh``'s; ``threads``: 2 threads against 1).

The targets, every one at one thread, medians unless said:
 1. never slower than PyTorch or plain NumPy, within 5% noise, in any cell (every
    function, direction, dtype, size 2^16/2^20/2^24);
 2. at or ahead of ONNX Runtime on every forward it has (5% noise), its ULP beside;
 3. near the hardware at 2^24 float32: the listed forwards within BOUND x an in-place
    memory pass, their backwards within BOUND x a two-read-one-write pass;
 4. geometric mean of the speedup over the fastest peer >= 1.5 across those cells;
 5. no value-dependent slowdown: on every special input kind within 1.25x of the same
    cell on ordinary inputs (fastest batches, timed in turn with them);
 6. small arrays: the softmax family and the gated functions on 16 float32 elements
    within 1.25x of ``np.tanh(x, out=x)`` (fastest batches, each timed in turn with it).
A target a run has no data for is reported as n/a.  Each miss carries its figures
(``Miss.figures``), which tools/gen_speed_report.py lays out with the measured reasons.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, Iterable, List, Optional, Tuple

NOISE = 1.05
TARGET_SIZES = (1 << 16, 1 << 20, 1 << 24)
NOT_SLOWER_THAN = ("torch", "numpy")
PEERS = ("numpy", "torch", "onnxrt")
PEER_LABELS = {"numpy": "NumPy", "torch": "PyTorch", "onnxrt": "ONNX Runtime"}
#: target 3: function -> bound, in multiples of the memory pass of the same shape
HARDWARE_BOUNDS = {name: 2.0 for name in (
    "sigmoid", "tanh", "swish", "elu", "selu", "softplus", "gelu", "gelu approximate='tanh'",
    "softmax", "log_softmax", "softmin")}
HARDWARE_BOUNDS["mish"] = 3.0
GEOMEAN = 1.5
VALUE_RATIO = 1.25
SMALL_RATIO = 1.25
SMALL_FUNCTIONS = ("softmax", "log_softmax", "softmin", "glu", "swiglu", "geglu")

Key = Tuple[str, str, str, int, int, str, str]  # function, direction, dtype, n, threads, who, kind


def index(cells: Iterable[dict]) -> Dict[Key, dict]:
    return {(c["function"], c["direction"], c["dtype"], int(c["n"]), int(c["threads"]),
             c["contestant"], c.get("kind", "ordinary")): c for c in cells}


def exp2(n: int) -> str:
    return f"2^{int(math.log2(n))}"


@dataclasses.dataclass
class Miss:
    off: float                      # how far off: the ratio over the bound (1 = on it)
    text: str                       # one phrase with the figures, for the target's line
    figures: dict                   # the cell and its figures, named (one dict per miss)


def _sorted(misses: List[Miss]) -> List[Miss]:
    """Worst first."""
    return sorted(misses, key=lambda m: (m.off, m.text), reverse=True)


@dataclasses.dataclass
class Verdict:
    number: int
    title: str
    passed: Optional[bool]          # None: the run has no data for it
    summary: str                    # one sentence with the figures
    misses: List[Miss]              # worst first

    def line(self, show: Optional[int] = None) -> str:
        """'Target N, title: **met|not met|n/a**. summary[ Furthest off: misses].'"""
        state = "n/a" if self.passed is None else ("met" if self.passed else "not met")
        text = f"Target {self.number}, {self.title}: **{state}**. {self.summary}"
        if self.misses:
            shown = self.misses if show is None else self.misses[:show]
            text += (" Furthest off: " + "; ".join(m.text for m in shown)
                     + ("; …" if len(shown) < len(self.misses) else "") + ".")
        return text


def _one_thread(cells: Dict[Key, dict]):
    """(name, direction, dtype, n) -> {contestant: ns} of the ordinary 1-thread cells at
    the target sizes that ours has."""
    table: Dict[tuple, Dict[str, float]] = {}
    for (name, direction, dt, n, th, who, kind), c in cells.items():
        t = c.get("ns_per_element")
        if th == 1 and kind == "ordinary" and n in TARGET_SIZES and t is not None:
            table.setdefault((name, direction, dt, n), {})[who] = t
    return {k: v for k, v in table.items() if "ours" in v}


def _cell_name(k) -> str:
    return f"{k[0]} {k[1]} {k[2]} {exp2(k[3])}"


def _ulp_text(accuracy: Dict[tuple, float], name, direction, dt, who) -> str:
    u = accuracy.get((name, direction, dt, who))
    if u is None or u != u:
        return ""
    return f" [{u:.2g} ULP]" if u < 1e4 else f" [{u:.1e} ULP]"


def _peer_figures(k, t, who, ratio, accuracy) -> dict:
    name, direction, dt, n = k
    return dict(function=name, direction=direction, dtype=dt, n=n, peer=who,
                ours_ns=t["ours"], peer_ns=t[who], ratio=ratio,
                ours_ulp=accuracy.get((name, direction, dt, "ours")),
                peer_ulp=accuracy.get((name, direction, dt, who)))


def not_slower(table, accuracy) -> Verdict:
    misses, compared = [], 0
    for k, t in table.items():
        for who in NOT_SLOWER_THAN:
            if who in t:
                compared += 1
                r = t["ours"] / t[who]
                if r > NOISE:
                    misses.append(Miss(r, f"{_cell_name(k)} ours {t['ours']:.2f} vs "
                                          f"{PEER_LABELS[who]} {t[who]:.2f} ns ({r:.2f}×)",
                                       _peer_figures(k, t, who, r, accuracy)))
    misses = _sorted(misses)
    return Verdict(1, "never slower than PyTorch or NumPy (5% noise)",
                   None if not compared else not misses,
                   f"{compared - len(misses)} of {compared} (cell, peer) pairs pass.", misses)


def ahead_of_onnx(table, accuracy) -> Verdict:
    misses, compared = [], 0
    for k, t in table.items():
        if k[1] != "fwd" or "onnxrt" not in t:
            continue
        compared += 1
        r = t["ours"] / t["onnxrt"]
        if r > NOISE:
            misses.append(Miss(r, f"{_cell_name(k)} ours {t['ours']:.2f}"
                                  f"{_ulp_text(accuracy, k[0], 'fwd', k[2], 'ours')} vs "
                                  f"{t['onnxrt']:.2f}"
                                  f"{_ulp_text(accuracy, k[0], 'fwd', k[2], 'onnxrt')}"
                                  f" ns ({r:.2f}×)",
                               _peer_figures(k, t, "onnxrt", r, accuracy)))
    misses = _sorted(misses)
    return Verdict(2, "at or ahead of ONNX Runtime on its forwards (5% noise)",
                   None if not compared else not misses,
                   f"{compared - len(misses)} of {compared} forward cells pass.", misses)


#: target 3: direction -> (the memory section's time of ours, the pass it is held to)
HARDWARE_PASSES = {"fwd": ("forward_in_place_ns", "inplace"),
                   "bwd": ("backward_ns", "two_in_one_out")}


def hardware_rows(memory: Optional[dict]) -> List[dict]:
    """Target 3's cells, met or not: function, direction, ours_ns, pass_name,
    pass_ns, ratio (ours / pass), bound, met."""
    if not memory or not memory.get("rows"):
        return []
    rows = []
    for row in memory["rows"]:
        bound = HARDWARE_BOUNDS.get(row["function"])
        if bound is None:
            continue
        for direction, (key, shape) in HARDWARE_PASSES.items():
            t = row.get(key)
            if t is None:
                continue
            ref = memory["passes"][shape]["ns_per_element"]
            rows.append(dict(function=row["function"], direction=direction, dtype="f32",
                             n=1 << 24, ours_ns=t, pass_name=shape, pass_ns=ref, ratio=t / ref,
                             bound=bound, met=t / ref <= bound))
    return rows


def near_hardware(memory: Optional[dict]) -> Verdict:
    title = "near the hardware (2^24 float32)"
    rows = hardware_rows(memory)
    if not memory or not memory.get("rows"):
        return Verdict(3, title, None, "Not measured in this run.", [])
    passes = memory["passes"]
    inplace = passes["inplace"]["ns_per_element"]
    two_one = passes["two_in_one_out"]["ns_per_element"]
    misses = _sorted([Miss(r["ratio"] / r["bound"], f"{r['function']} {r['direction']} "
                                                     f"{r['ours_ns']:.2f} ns = {r['ratio']:.2f}× "
                                                     f"(bound {r['bound']:g}×)", r)
                      for r in rows if not r["met"]])
    return Verdict(3, title, None if not rows else not misses,
                   f"{len(rows) - len(misses)} of {len(rows)} within their bound (in-place pass "
                   f"{inplace:.2f} ns, two-read-one-write pass {two_one:.2f} ns per element; "
                   f"bound 2×, mish 3×).", misses)


def geomean(table) -> Verdict:
    speedups = [min(v for w, v in t.items() if w in PEERS) / t["ours"]
                for t in table.values() if any(w in PEERS for w in t)]
    if not speedups:
        return Verdict(4, "geometric mean over the fastest peer", None, "No peer cells.", [])
    geo = math.exp(sum(map(math.log, speedups)) / len(speedups))
    wins = sum(1 for s in speedups if s >= 1)
    return Verdict(4, f"geometric mean over the fastest peer ≥ {GEOMEAN}×", geo >= GEOMEAN,
                   f"{geo:.2f}× across {len(speedups)} cells; at least as fast as the fastest "
                   f"peer in {wins} of them.", [])


def value_dependence(cells: Dict[Key, dict]) -> Verdict:
    misses, checked = [], 0
    for (name, direction, dt, n, th, who, kind), c in cells.items():
        if who != "ours" or th != 1 or kind == "ordinary" or not c.get("ns_min"):
            continue
        # the ordinary inputs timed in turn with this kind where the run has them
        base = c.get("ordinary_ns") or (cells.get((name, direction, dt, n, th, who, "ordinary"))
                                        or {}).get("ns_min")
        if not base:
            continue
        checked += 1
        r = c["ns_min"] / base
        if r > VALUE_RATIO:
            misses.append(Miss(r, f"{name} {direction} {dt} {kind} {r:.2f}×",
                               dict(function=name, direction=direction, dtype=dt, n=n,
                                    kind=kind, ours_ns=c["ns_min"],
                                    ordinary_ns=base, ratio=r)))
    misses = _sorted(misses)
    return Verdict(5, f"no value-dependent slowdown (≤ {VALUE_RATIO}× ordinary inputs)",
                   None if not checked else not misses,
                   f"{checked - len(misses)} of {checked} (function, direction, dtype, input "
                   f"kind) cells pass.", misses)


def small_arrays(small: Optional[dict]) -> Verdict:
    title = f"small arrays (16 float32 elements, ≤ {SMALL_RATIO}× np.tanh(x, out=x))"
    if not small or not small.get("rows"):
        return Verdict(6, title, None, "Not measured in this run.", [])
    rows = [r for r in small["rows"] if r["function"] in SMALL_FUNCTIONS and r.get("ns_per_call")]
    # each row's np.tanh timed in turn with it where the run has it, else the run's one
    base = {id(r): r.get("np_tanh_ns_per_call") or small["np_tanh_ns_per_call"] for r in rows}
    ratio = {id(r): r["ns_per_call"] / base[id(r)] for r in rows}
    misses = _sorted([Miss(ratio[id(r)],
                           f"{r['function']} {r['direction']} {ratio[id(r)]:.2f}×",
                           dict(function=r["function"], direction=r["direction"], dtype="f32",
                                n=16, ours_ns_per_call=r["ns_per_call"],
                                np_tanh_ns_per_call=base[id(r)], ratio=ratio[id(r)]))
                      for r in rows if ratio[id(r)] > SMALL_RATIO])
    ratios = list(ratio.values())
    return Verdict(6, title, None if not rows else not misses,
                   f"The softmax family and the gated functions: {min(ratios):.2f}–"
                   f"{max(ratios):.2f}× ({small['np_tanh_ns_per_call']:.0f} ns per np.tanh "
                   f"call); {len(rows) - len(misses)} of {len(rows)} pass." if rows else "",
                   misses)


def evaluate(report: dict) -> List[Verdict]:
    cells = index(report.get("cells", ()))
    accuracy = {(a["function"], a["direction"], a["dtype"], a["contestant"]): a["max_ulp"]
                for a in report.get("accuracy", ())}
    sections = report.get("sections") or {}
    table = _one_thread(cells)
    return [not_slower(table, accuracy), ahead_of_onnx(table, accuracy),
            near_hardware(sections.get("memory")), geomean(table), value_dependence(cells),
            small_arrays(sections.get("small"))]


def threads_line(report: dict) -> Optional[str]:
    rows = ((report.get("sections") or {}).get("threads") or {}).get("rows") or []
    parts = ", ".join(f"{r['function']} {r['direction']} {r['speedup']:.2f}×"
                      for r in rows if r.get("speedup"))
    return f"Threads, 2 against 1 at 2^22 float32: {parts}." if parts else None
