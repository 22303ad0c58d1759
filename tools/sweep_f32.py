#!/usr/bin/env python3
"""Max-ULP error of every float32 elementwise function over every float32 input.

Sweeps float32 bit patterns -- all 2**32 of them with ``--stride 1``, else every
``stride``-th magnitude pattern of each sign (an odd stride reaches every low mantissa
bit pattern) -- for each elementwise function (default parameters, and EXTRA_ROWS)
and direction:

  fwd    f(x)
  bwd    f'(x) (grad = 1; near a root of f' in ulps of its larger term, as the tests)
  bwd_y  f'(x) computed from y = f(x) (for the functions whose backward takes y), at
         the y the forward returned

against NumPy float64 references of tests/reference.py (written from the mathematical
definitions, independent of the kernels; a float64 value is ~2**-29 float32 ulp from
the truth).  Memory stays small: the inputs are made and checked in chunks.  Errors are
ulps of float32 at the reference (tests/reference.py: ``ulp_error``); a NaN where NaN is
due counts 0.  Inputs in the regions of tests/known_issues.py are left out (and
counted), as in the tests, and so are +-inf where the float64 formula gives NaN
(inf * 0; tests/test_special_values.py checks those limits).

    python tools/sweep_f32.py                       # every 2**32 pattern (hours)
    python tools/sweep_f32.py --stride 251          # the README table's stride
    python tools/sweep_f32.py --stride 8 --max-abs 110 --only mish,swish
    python tools/sweep_f32.py --stride 251 --readme # also rewrite README.md's table

Runs at the SIMD level the package chose (``--level`` to pick another it supports).
tests/test_sweep_f32.py runs a coarser stride of the same sweep in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import activations as act  # noqa: E402
from activations import _spec  # noqa: E402
from known_issues import known_issue_mask  # noqa: E402
from reference import F32, REFERENCES, REQUIRED_PARAMS, ulp_error  # noqa: E402

README = os.path.join(ROOT, "README.md")
BEGIN, END = "<!-- f32-sweep:begin -->", "<!-- f32-sweep:end -->"
DIRECTIONS = ("fwd", "bwd", "bwd_y")
NAN_MAGNITUDE = 0x7FFFFFFF        # the last magnitude pattern (a NaN)
SPECIAL_MAGNITUDES = (0x00000001, 0x00800000, 0x7F7FFFFF, 0x7F800000, 0x7FC00000)


#: rows beyond each function's defaults: label -> (name, parameters)
EXTRA_ROWS = {"gelu approximate='tanh'": ("gelu", {"approximate": "tanh"})}


def elementwise_names():
    kind = {s.name: s.kind for s in _spec.SPECS}
    return [n for n in act.names() if kind.get(n) == "elementwise" and n in REFERENCES]


def rows():
    """label -> (name, parameters): every elementwise function with its defaults, then
    EXTRA_ROWS."""
    out = {n: (n, dict(REQUIRED_PARAMS.get(n, {}))) for n in elementwise_names()}
    out.update(EXTRA_ROWS)
    return out


def directions_of(name):
    return [d for d in DIRECTIONS if d != "bwd_y" or "y" in act.get(name).backward_takes]


def magnitude_limit(max_abs):
    """The largest magnitude bit pattern swept: |x| <= max_abs (NaNs included when
    max_abs is inf or NaN: then every pattern)."""
    if not np.isfinite(max_abs):
        return NAN_MAGNITUDE
    return int(np.array(max_abs, np.float32).view(np.uint32))


def inputs(stride, max_abs, chunk):
    """float32 chunks: magnitudes m = 0, stride, 2 stride, ... <= limit, each as +x
    and -x (2 * ceil((limit + 1) / stride) inputs), and SPECIAL_MAGNITUDES."""
    limit = magnitude_limit(max_abs)
    count = limit // stride + 1
    for start in range(0, count, chunk):
        m = np.arange(start, min(start + chunk, count), dtype=np.uint64) * stride
        m = m.astype(np.uint32)
        if start == 0:  # always: the smallest subnormal and normal, max, inf, a NaN
            special = np.array(SPECIAL_MAGNITUDES, np.uint32)
            m = np.concatenate([m, special[special <= limit]])
        yield np.concatenate([m, m | np.uint32(0x80000000)]).view(np.float32)


def measure(name, direction, x, params=None):
    """(errors in ulps, the inputs measured, how many were left out as known issues)."""
    params = dict(REQUIRED_PARAMS.get(name, {})) if params is None else params
    ref = REFERENCES[name]
    p = ref.effective(params, F32)
    fn = act.get(name)
    scale = None
    with np.errstate(all="ignore"):
        if direction == "fwd":
            got = fn.forward(x, **params)
            hi = ref.forward_np(x.astype(np.float64), p)
        elif direction == "bwd":
            got = fn.backward(np.ones_like(x), x, **params)
            x64 = x.astype(np.float64)
            hi = ref.derivative_np(x64, p)
            if ref.derivative_scale_np is not None:
                scale = ref.derivative_scale_np(x64, p)
        else:  # bwd_y: at the y the forward gave (finite ones: y determines x there)
            y = fn.forward(x, **params)
            keep = np.isfinite(y)
            x, y = x[keep], y[keep]
            got = fn.backward(np.ones_like(y), y=y, **params)
            y64 = y.astype(np.float64)
            hi = ref.from_y_np(y64, p)
            if ref.from_y_scale_np is not None:
                scale = ref.from_y_scale_np(y64, p)
        err = ulp_error(got, hi, None, scale)
    # NaN in, NaN out (docs/api.md); the float64 references need not propagate NaN
    err = np.where(np.isnan(x), np.where(np.isnan(got), 0.0, np.inf), err)
    kd = "forward" if direction == "fwd" else "backward"
    excluded = known_issue_mask(name, p, x, kd) if direction != "bwd_y" else np.zeros(x.shape, bool)
    # +-inf where the float64 formula has no value (inf * 0): the limits there are
    # tests/test_special_values.py's
    excluded |= np.isinf(x) & np.isnan(hi)
    return np.where(excluded, 0.0, err), x, int(excluded.sum())


def sweep(name, direction, stride, max_abs=np.inf, chunk=1 << 22, progress=None, params=None):
    """Max error over the sweep: dict(max_ulp, at, count, excluded)."""
    worst, at, count, excluded = 0.0, float("nan"), 0, 0
    for xs in inputs(stride, max_abs, chunk):
        err, xm, n_ex = measure(name, direction, xs, params)
        count += xs.size
        excluded += n_ex
        if err.size:
            i = int(np.argmax(err))
            if err[i] > worst:
                worst, at = float(err[i]), float(xm[i])
        if progress:
            progress(count)
    return {"max_ulp": worst, "at": at, "count": count, "excluded": excluded}


def render_table(results, command, level, when):
    order = list(rows())
    lines = ["| function | f32 fwd | f32 bwd x | f32 bwd y |", "|---|---|---|---|"]
    for label in sorted(results, key=order.index):
        cells = []
        for d in DIRECTIONS:
            r = results[label].get(d)
            cells.append("-" if r is None else f"{r['max_ulp']:.2f}" + (
                f" (x={r['at']:.4g})" if r["max_ulp"] > 0 else ""))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    n = next(iter(next(iter(results.values())).values()))["count"]
    note = (f"Generated by `{command}` on {when}, at the {level} level: {n:,} float32 inputs "
            "per cell; the worst input in parentheses. Do not edit by hand.")
    return "\n".join(lines) + "\n\n" + note


def rewrite_readme(block):
    with open(README) as fh:
        text = fh.read()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md lacks the markers {BEGIN} ... {END}")
    with open(README, "w") as fh:
        fh.write(text[:start + len(BEGIN)] + "\n" + block + "\n" + text[end:])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stride", type=int, default=1,
                    help="sweep every STRIDE-th magnitude bit pattern (1: all 2**32 inputs)")
    ap.add_argument("--max-abs", type=float, default=np.inf,
                    help="only |x| <= MAX_ABS (default: every pattern, NaNs and infs too)")
    ap.add_argument("--only", default="", help="comma-separated function names")
    ap.add_argument("--directions", default=",".join(DIRECTIONS))
    ap.add_argument("--level", default=None, help="SIMD level (default: the one chosen)")
    ap.add_argument("--chunk", type=int, default=1 << 22)
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--readme", action="store_true",
                    help="rewrite the table between the f32-sweep markers of README.md")
    args = ap.parse_args(argv)
    if args.level:
        act._set_simd_level(args.level)
    table = rows()
    labels = [l for l in table if not args.only or table[l][0] in args.only.split(",")]
    wanted = args.directions.split(",")
    total = 2 * (magnitude_limit(args.max_abs) // args.stride + 1)
    print(f"float32 sweep: stride {args.stride}, |x| <= {args.max_abs}, {total:,} inputs per "
          f"cell, level {act.simd_level()}", file=sys.stderr)
    results = {}
    t0 = time.time()
    for label in labels:
        name, params = table[label]
        results[label] = {}
        for d in directions_of(name):
            if d not in wanted:
                continue
            t1 = time.time()

            def progress(done, label=label, d=d, t1=t1):
                print(f"\r  {label:14s} {d:6s} {100 * done / total:5.1f}%  "
                      f"{time.time() - t1:6.1f} s", end="", file=sys.stderr, flush=True)

            r = sweep(name, d, args.stride, args.max_abs, args.chunk,
                      progress if sys.stderr.isatty() else None, params)
            results[label][d] = r
            print(f"\r  {label:14s} {d:6s} max {r['max_ulp']:8.3f} ulp at x = {r['at']!r}"
                  + (f"  ({r['excluded']} inputs left out)" if r["excluded"] else "")
                  + f"  [{time.time() - t1:.1f} s]", file=sys.stderr, flush=True)
    print(f"done in {time.time() - t0:.0f} s", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"stride": args.stride, "max_abs": args.max_abs,
                       "level": act.simd_level(), "results": results}, fh, indent=1)
    cmd = "python tools/sweep_f32.py --stride %d%s%s --readme" % (
        args.stride, "" if not np.isfinite(args.max_abs) else f" --max-abs {args.max_abs:g}",
        f" --only {args.only}" if args.only else "")
    block = render_table(results, cmd, act.simd_level(), time.strftime("%Y-%m-%d", time.gmtime()))
    print(block)
    if args.readme:
        rewrite_readme(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
