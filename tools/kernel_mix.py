"""Static instruction mix of an elementwise kernel's inner loops, from the built module.

    python tools/kernel_mix.py sigmoid:fwd sigmoid:bwd_y silu:bwd --level avx512
    python tools/kernel_mix.py gelu_tanh:fwd --level avx2 --dtype f64 --json mix.json

For one (kernel op, direction, dtype) it finds the loops of the level's elementwise
chunk the way tools/check_vectorized.py finds them (the formula's call sites in the
level's generated .c file, `out[i] = ...NAME_DIRECTION(...)`), then, in `objdump -d -l
--inlines` of the built module (which carries the build's -g line tables), the innermost
loops (a backward jump and its target) holding instructions inlined from such a call
site.  Of each role (`exact`; with a per-block fast path `_fast` and the predicate
`_rare`) the main loop is the one with the widest vectors, then the most of those
instructions; its instructions are counted per element (the elements one iteration
does: the bytes it stores, or its widest register's lanes when it stores nothing) as
divides/square roots, FMAs and other vector ops (SSE, AVX and AVX-512 forms alike;
loads and stores apart).  On ordinary inputs the fast path runs with its predicate, so
the `ordinary` mix is fast + rare where a fast path exists (the fast loop alone where it
holds the predicate too, _spec.FAST_ONE_PASS), exact otherwise.  The .c
file must be the one the module was built from (pip install -e . keeps both).

`bound_cycles` turns a mix into cycles per element on a core with two vector ports
(FMA and other vector ops: ops / 2) and a divider (`DIVIDER_CYCLES`); speed target 3's
roofline (tools/gen_speed_report.py) sets these beside the memory pass.  The softmax
family's row kernels are several passes without a formula call site: not located here.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "src", "activations")

#: reciprocal throughput (cycles per instruction) of the divider on the Golden Cove /
#: Sapphire Rapids core, by mnemonic (SSE name; the VEX/EVEX form adds a "v") and
#: register width in bytes (scalar forms: 16); the model's only per-instruction constants
DIVIDER_CYCLES = {
    "divps": {16: 3.0, 32: 5.0, 64: 10.0}, "divpd": {16: 4.0, 32: 8.0, 64: 16.0},
    "sqrtps": {16: 3.0, 32: 6.0, 64: 12.0}, "sqrtpd": {16: 4.5, 32: 9.0, 64: 18.0},
    "divss": {16: 3.0}, "divsd": {16: 4.0}, "sqrtss": {16: 3.0}, "sqrtsd": {16: 4.5},
}
#: vector ports that take FMAs and the other vector ops (512-bit: ports 0 and 5)
VECTOR_PORTS = 2
DTYPE_BYTES = {"f32": 4, "f64": 8}
DIRECTIONS = {"fwd": "forward", "bwd": "backward", "bwd_y": "backward_from_output"}
REG_BYTES = {"x": 16, "y": 32, "z": 64}

_INSN = re.compile(r"^\s+([0-9a-f]+):\t(\S+)\s*(.*)$")
_LOC = re.compile(r"^(?:inlined by )?(\S+?):(\d+)(?: \(discriminator \d+\))?(?: \(.*\))?$")
_JUMP_TARGET = re.compile(r"^([0-9a-f]+) <")


def module_paths(level_module: str, pkg: str = PKG) -> Tuple[str, str]:
    """(the built .so, its generated .c) of a level's module."""
    so = sorted(glob.glob(os.path.join(pkg, level_module + ".*.so")))
    c = os.path.join(pkg, level_module + ".c")
    if not so or not os.path.exists(c):
        raise FileNotFoundError(f"{level_module}: build the package in place first "
                                f"(pip install -e . keeps {level_module}.c and the .so)")
    return so[0], c


def call_sites(c_lines: List[str], op: str, formula_dir: str, dtype: str,
               variant: str = "") -> Dict[str, List[int]]:
    """{role: [line numbers]} of the chunk loops' call sites of op's formula (1-based),
    `out[i] = ` sites (not the bias tile loops, `orow[j]`), check_vectorized's pattern.
    variant "_unit": the fast and rare sites of the blocks for a = 1 (_spec.FAST_UNIT)."""
    fuse = "0" if dtype == "f32" else "1"
    base = rf"__pyx_fuse_{fuse}__pyx_f_11activations_9_formulas_{op}_{formula_dir}"
    roles = {"exact": re.compile(r"\(__pyx_v_out\[__pyx_v_i\]\) = " + base + r"\("),
             "fast": re.compile(r"\(__pyx_v_out\[__pyx_v_i\]\) = " + base + variant + r"_fast\("),
             "rare": re.compile(r"__pyx_t_\d+ = " + base + variant + r"_rare\(.*\[__pyx_v_i\]")}
    sites = {role: [i for i, ln in enumerate(c_lines, 1) if rx.search(ln)]
             for role, rx in roles.items()}
    # the predicate's compare may carry the line of the select that ORs it (`if (t)`,
    # up to `rare = t`) rather than the call's: those lines are the site too
    rare = []
    for i in sites["rare"]:
        j = i
        while j < min(len(c_lines), i + 12) and "__pyx_v_rare = " not in c_lines[j - 1]:
            j += 1
        rare += range(i, j + 1)
    sites["rare"] = rare
    return sites


def parse_objdump(text: str, c_name: str):
    """[(address, mnemonic, operands, {lines of c_name in the inline chain})]."""
    insns, inner, chain, open_block = [], None, [], False
    for ln in text.splitlines():
        m = _INSN.match(ln)
        if m:
            lines = {int(l) for f, l in ([inner] if inner else []) + chain
                     if os.path.basename(f) == c_name}
            insns.append((int(m.group(1), 16), m.group(2), m.group(3), lines))
            open_block = False
            continue
        loc = _LOC.match(ln.strip())
        if not loc:
            continue
        if not open_block:
            chain, open_block = [], True
        if ln.startswith("inlined by"):
            chain.append((loc.group(1), loc.group(2)))
        else:
            inner = (loc.group(1), loc.group(2))
    return insns


def loops(insns) -> List[Tuple[int, int]]:
    """(first index, last index) of every backward jump's range that holds no other."""
    where = {a: i for i, (a, *_rest) in enumerate(insns)}
    found = []
    for i, (addr, mnem, ops, _) in enumerate(insns):
        if mnem.startswith("j") and mnem != "jmpq" or mnem == "jmp":
            t = _JUMP_TARGET.match(ops)
            if t and int(t.group(1), 16) <= addr and int(t.group(1), 16) in where:
                found.append((where[int(t.group(1), 16)], i))
    return [r for r in found if not any(o != r and r[0] <= o[0] and o[1] <= r[1]
                                        for o in found)]


def _reg_bytes(ops: str) -> int:
    widths = [REG_BYTES[w] for w in re.findall(r"%([xyz])mm\d+", ops)]
    return max(widths, default=0)


def _stored_bytes(mnem: str, ops: str) -> int:
    """Bytes a move from a vector register to memory writes (0 for anything else; a
    spill to the stack is no output)."""
    if "mov" not in mnem or not re.search(r"%[xyz]mm\d+,\s*\S*\(", ops) \
            or re.search(r"\(%r[sb]p", ops):
        return 0
    scalar = {"movss": 4, "movsd": 8, "movd": 4, "movq": 8}
    return scalar.get(mnem[1:] if mnem.startswith("v") else mnem, _reg_bytes(ops))


def count(body, dtype: str) -> dict:
    """A loop body's instructions per element: divider, fma, other vector ops (SSE,
    AVX or AVX-512 forms alike; loads and stores apart)."""
    size = DTYPE_BYTES[dtype]
    stored = sum(_stored_bytes(mnem, ops) for mnem, ops in body)
    widest = max((_reg_bytes(ops) for _, ops in body), default=0)
    elements = (stored or widest or size) / size
    divider = fma = other = 0
    cycles = 0.0
    for mnem, ops in body:
        sse = mnem[1:] if mnem.startswith("v") and mnem[1:] in DIVIDER_CYCLES else mnem
        if sse in DIVIDER_CYCLES:
            divider += 1
            table = DIVIDER_CYCLES[sse]
            cycles += table.get(_reg_bytes(ops), max(table.values()))
        elif re.match(r"vf(n?)m(add|sub)", mnem):
            fma += 1
        elif "mov" in mnem and "(" in ops:
            continue                                # a load or a store: not a vector port
        elif re.search(r"%[xyz]mm\d+|%k\d", ops) and not mnem.startswith("kmov"):
            other += 1
    return dict(elements_per_iteration=elements, divider=divider / elements,
                fma=fma / elements, other_vector=other / elements,
                divider_cycles=cycles / elements, instructions=len(body) / elements)


def mix(insns, sites: Dict[str, List[int]], dtype: str) -> Optional[dict]:
    """{'roles': {role: count()}, 'ordinary': summed mix} or None when no loop holds a
    call site."""
    all_loops = loops(insns)
    roles, chosen = {}, {}
    for role, lines in sites.items():
        if not lines:
            continue
        wanted = set(lines)
        best, best_key = None, (0, 0)
        for lo, hi in all_loops:
            hits = sum(1 for k in range(lo, hi + 1) if insns[k][3] & wanted)
            key = (max(_reg_bytes(insns[k][2]) for k in range(lo, hi + 1)), hits)
            if hits and key > best_key:     # the widest vectors, then the most of the site
                best, best_key = (lo, hi), key
        if best:
            body = [(insns[k][1], insns[k][2]) for k in range(best[0], best[1] + 1)]
            roles[role] = count(body, dtype)
            chosen[role] = best
    if not roles:
        return None
    path = ("fast", "rare") if "fast" in roles else ("exact",)
    # a one-pass block (_spec.FAST_ONE_PASS): the fast loop holds the predicate too,
    # and is all that ordinary data runs
    one_pass = "fast" in chosen and any(
        insns[k][3] & set(sites["rare"]) for k in range(chosen["fast"][0], chosen["fast"][1] + 1))
    summed = ("fast",) if one_pass else path
    keys = ("divider", "fma", "other_vector", "divider_cycles", "instructions")
    ordinary = {k: sum(roles[r][k] for r in summed if r in roles) for k in keys}
    ordinary["path"] = "+".join(r for r in path if r in roles)
    return dict(roles=roles, ordinary=ordinary)


def bound_cycles(m: dict) -> Dict[str, float]:
    """Cycles per element each unit needs for a mix: {'divider', 'vector ports'}."""
    return {"divider": m["divider_cycles"],
            "vector ports": (m["fma"] + m["other_vector"] + m["divider"]) / VECTOR_PORTS}


def disassemble(so: str, level_module: str, dtype: str) -> str:
    """The level's elementwise chunk and its outlined loops (plain `..._loop` and one-pass
    `..._blocks`, see _elementwise.pxi.tp), one objdump each (it takes one symbol a run)."""
    fuse = "0" if dtype == "f32" else "1"
    prefix = f"__pyx_fuse_{fuse}__pyx_f_11activations_{len(level_module)}{level_module}_"
    names = subprocess.run(["nm", "--defined-only", so], capture_output=True, text=True,
                           check=True).stdout.split()
    syms = [prefix + "elementwise_chunk"] + sorted(     # GCC's clones: _loop.isra.0
        n for n in names if n.startswith(prefix) and n.split(".")[0].endswith(("_loop", "_blocks")))
    return "".join(subprocess.run(["objdump", "-d", "-l", "--inlines", "--no-show-raw-insn",
                                   f"--disassemble={sym}", so], capture_output=True,
                                  text=True, check=True).stdout for sym in syms)


def kernel_mixes(cases, level_module: str, pkg: str = PKG) -> List[dict]:
    """[{function, direction, dtype, op, level_module, roles, ordinary}] for cases of
    (function, direction, dtype, op, formula direction): `function` and `direction` label
    the row, `op` (the kernel op _spec's kernel_args picks, e.g. swish with beta 1 runs
    "silu") and the formula direction ("forward", "backward", "backward_from_output")
    find the loops.  A case whose loops are not found is left out."""
    so, c = module_paths(level_module, pkg)
    with open(c) as f:
        c_lines = f.read().splitlines()
    parsed = {}
    rows = []
    for function, direction, dtype, op, formula_dir in cases:
        if dtype not in parsed:
            parsed[dtype] = parse_objdump(disassemble(so, level_module, dtype),
                                          os.path.basename(c))
        # the blocks for a = 1 where the op has them (_spec.FAST_UNIT): the default
        # parameters', which the benchmarks use (softplus's beta)
        sites = call_sites(c_lines, op, formula_dir, dtype, "_unit")
        if not sites["fast"]:
            sites = call_sites(c_lines, op, formula_dir, dtype)
        m = mix(parsed[dtype], sites, dtype)
        if m:
            rows.append(dict(function=function, direction=direction, dtype=dtype, op=op,
                             level_module=level_module, **m))
    return rows


def main(argv=None) -> int:
    sys.path.insert(0, PKG)
    import _simd_levels  # noqa: E402  (the levels' one table)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="+", help="OP:fwd|bwd|bwd_y (kernel ops: _spec.py)")
    ap.add_argument("--level", default="avx512")
    ap.add_argument("--dtype", default="f32")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    cases = []
    for spec in args.cases:
        op, d = spec.rsplit(":", 1)
        cases.append((op, "bwd" if d == "bwd_y" else d, args.dtype, op, DIRECTIONS[d]))
    rows = kernel_mixes(cases, _simd_levels.level(args.level).module)
    print(f"{'function':26s} dir  path       div/el   fma/el  other/el  instr/el  "
          f"div cyc/el  port cyc/el")
    for r in rows:
        o = r["ordinary"]
        b = bound_cycles(o)
        print(f"{r['function']:26s} {r['direction']}  {o['path']:9s} {o['divider']:7.3f} "
              f"{o['fma']:8.3f} {o['other_vector']:9.3f} {o['instructions']:9.3f} "
              f"{b['divider']:11.3f} {b['vector ports']:12.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
