#!/usr/bin/env python3
"""Accuracy, special values, vectorization and speed of src/activations/_gelu.h.

Builds gelu_loops.c at three SIMD levels (the package's flags: -O3 -fno-math-errno
-fno-trapping-math -ffp-contract=off, never -ffast-math), loads it with ctypes, and
  --vec      checks with -fopt-info-vec-optimized that every loop is vectorized
  --f32      max ULP error of each float32 function over ~5e6 sampled inputs plus every
             float32 in the critical ranges; reference: float64 formulas (scipy ndtr /
             expit), whose error is < 1e-6 float32 ulp there
  --f64      max ULP error of each float64 function against mpmath (mp.dps = 50) over
             N random inputs (--n, default 25000 per function and region set)
  --special  exact expected values at +-0, +-inf, NaN, denormals, +-MAX
  --torch    the same ULP measure for torch.nn.functional.gelu and its autograd
  --bench    ns/element at 2**20 elements, each level
Accuracy and speed are measured at every level this CPU runs.  Both dtypes use FMA where
the level has it (_vmath.h's exp, the series near 0, float32's polynomials): results may
differ in the last bit across levels (float64: counted; float32 results rarely), each
level within the bounds.  Usage:
  python tools/gelu_check/check_gelu.py --vec --special --f32 --f64 --torch --bench
"""
import argparse
import ctypes
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SRC = os.path.join(HERE, "gelu_loops.c")
INC = os.path.join(ROOT, "src", "activations")
BASE = ["gcc", "-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off",
        "-shared", "-fPIC", "-I", INC]
LEVELS = {
    "sse2": [],
    "avx2": ["-mavx2", "-mfma"],
    "avx512": ["-mavx512f", "-mavx512dq", "-mavx512vl", "-mavx512bw",
               "-mprefer-vector-width=512"],
}


def _runnable_levels():
    """The levels this CPU can run (an AVX-512 build dies with SIGILL elsewhere)."""
    try:
        flags = set(open("/proc/cpuinfo").read().split())
    except OSError:
        flags = set()
    ok = ["sse2"]
    if {"avx2", "fma"} <= flags:
        ok.append("avx2")
    if {"avx512f", "avx512dq", "avx512vl", "avx512bw"} <= flags:
        ok.append("avx512")
    return ok


RUNNABLE = _runnable_levels()
BEST = RUNNABLE[-1]
FUNCS = ["gelu", "gelu_grad", "gelu_tanh", "gelu_tanh_grad", "ndtr"]
TMP = tempfile.mkdtemp(prefix="gelu_check_")


def build(level, extra=()):
    so = os.path.join(TMP, f"gelu_{level}.so")
    cmd = BASE + LEVELS[level] + list(extra) + [SRC, "-o", so]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(r.stderr)
    return so, r.stderr


_libs = {}


def lib(level=BEST):
    if level not in _libs:
        _libs[level] = ctypes.CDLL(build(level)[0])
    return _libs[level]


def run(name, x, level=BEST):
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    suf = "f" if x.dtype == np.float32 else "d"
    fn = getattr(lib(level), f"{name}_{suf}")
    fn(x.ctypes.data_as(ctypes.c_void_p), y.ctypes.data_as(ctypes.c_void_p),
       ctypes.c_long(x.size))
    return y


# ----------------------------------------------------------------- ULP measure
def ulp_err(y, ref, dtype):
    """|y - ref| in ulps of the dtype at ref (ref in higher precision, as float64 or
    as an (mpf-derived) float64 pair); the ulp of the binade of |ref|, denormal floor."""
    if dtype == np.float32:
        p, emin = 24, -126
    else:
        p, emin = 53, -1022
    ref = np.asarray(ref, dtype=np.float64)
    a = np.abs(ref)
    with np.errstate(divide="ignore"):
        e = np.floor(np.log2(np.where(a > 0, a, 1.0)))
    e = np.maximum(e, emin)
    ulp = np.ldexp(1.0, (e - (p - 1)).astype(int))
    return np.abs(y.astype(np.float64) - ref) / ulp


# ----------------------------------------------------------------- float32 references
def ref32(name, x):
    from scipy.special import expit, ndtr
    x = x.astype(np.float64)
    phi = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
    if name == "gelu":
        return x * ndtr(x)
    if name == "ndtr":
        return ndtr(x)
    if name == "gelu_grad":
        return ndtr(x) + x * phi, np.maximum(ndtr(x), np.abs(x * phi))
    A, C = 0.044715, np.sqrt(2 / np.pi)
    w = 2 * C * (x + A * x**3)
    s = expit(w)
    if name == "gelu_tanh":
        return x * s
    if name == "gelu_tanh_grad":
        term = x * 2 * C * (1 + 3 * A * x * x) * s * expit(-w)
        return s + term, np.maximum(s, np.abs(term))
    raise KeyError(name)


def f32_inputs(rng):
    f32 = np.float32
    parts = {
        "uniform[-20,10]": rng.uniform(-20, 10, 2_000_000).astype(f32),
        "log-spaced +-[1e-45,3e38]": (np.exp(rng.uniform(np.log(1e-45), np.log(3e38), 2_000_000))
                                      * rng.choice([-1, 1], 2_000_000)).astype(f32),
        "uniform[-6,6]": rng.uniform(-6, 6, 1_000_000).astype(f32),
    }
    def every(lo, hi):
        a, b = np.array([lo, hi], f32).view(np.int32)  # negative floats: a > b as ints
        lo_i, hi_i = min(a, b), max(a, b)
        return np.arange(lo_i, hi_i + 1, dtype=np.int32).view(f32)
    parts["every f32 in [-14.5,-12.5] (denormal gelu)"] = every(-14.5, -12.5)
    parts["every f32 in [-11.5,-10] (denormal tanh form)"] = every(-11.5, -10.0)
    parts["every f32 in [-0.80,-0.70] (derivative roots)"] = every(-0.80, -0.70)
    parts["every f32 in [0.5,1)"] = every(0.5, np.nextafter(f32(1), f32(0)))
    return parts


def check_f32(args):
    rng = np.random.default_rng(1)
    parts = f32_inputs(rng)
    print("float32: max ULP error (reference float64 scipy formulas)")
    for name in FUNCS:
        worst = {}
        for label, x in parts.items():
            with np.errstate(all="ignore"):
                ref = ref32(name, x)
            # float32 uses FMA where the level has it: every runnable level is measured
            for level in RUNNABLE:
                y = run(name, x, level)
                if isinstance(ref, tuple):          # derivative: relative and root-scaled
                    r, mag = ref
                    e = ulp_err(y, r, np.float32)
                    ea = np.abs(y - r) / ulp_of(mag, np.float32)
                    near = np.abs(x + 0.7518) < 0.01
                    upd(worst, "rel (|x+0.752|>=0.01)", e[~near], x[~near])
                    upd(worst, "rel near root", e[near], x[near])
                    upd(worst, "abs/ulp(max term)", ea, x)
                else:
                    upd(worst, "rel", ulp_err(y, ref, np.float32), x)
        for k, (v, xv) in worst.items():
            print(f"  {name:15s} {k:24s} {v:8.3f} ulp  at x = {xv!r}")


def ulp_of(a, dtype):
    return ulp_err(np.zeros_like(a), np.abs(a), dtype) ** -1 * np.abs(a) if False else \
        np.ldexp(1.0, (np.maximum(np.floor(np.log2(np.where(np.abs(a) > 0, np.abs(a), 1.0))),
                                  -126 if dtype == np.float32 else -1022)
                       - (23 if dtype == np.float32 else 52)).astype(int))


def upd(worst, key, e, x):
    if e.size == 0:
        return
    e = np.where(np.isnan(e), 0, e)
    i = int(np.argmax(e))
    if key not in worst or e[i] > worst[key][0]:
        worst[key] = (float(e[i]), float(x[i]))


# ----------------------------------------------------------------- float64 / mpmath
def mp_ref(name, x):
    import mpmath as mp
    mp.mp.dps = 50
    X = mp.mpf(x)
    if name in ("gelu", "gelu_grad", "ndtr") and abs(x) > 60:
        # mp.ncdf is unreliable far out; the float64 values are the limits there
        lim = {"gelu": (x if x > 0 else -0.0), "gelu_grad": (1.0 if x > 0 else -0.0),
               "ndtr": (1.0 if x > 0 else 0.0)}[name]
        return lim, abs(lim)
    if name in ("gelu", "gelu_grad", "ndtr"):
        Phi = mp.ncdf(X)
        phi = mp.npdf(X)
        if name == "gelu":
            return float(X * Phi), 0.0
        if name == "ndtr":
            return float(Phi), 0.0
        return float(Phi + X * phi), float(max(Phi, abs(X * phi)))
    A, C = mp.mpf("0.044715"), mp.sqrt(2 / mp.pi)
    w = 2 * C * (X + A * X**3)
    s = 1 / (1 + mp.exp(-w))
    if name == "gelu_tanh":
        return float(X * s), 0.0
    term = X * 2 * C * (1 + 3 * A * X * X) * s * (1 / (1 + mp.exp(w)))
    return float(s + term), float(max(s, abs(term)))


def _mp_batch(args):
    name, xs = args
    return [_safe(mp_ref, name, float(v)) for v in xs]


def _safe(f, name, v):
    try:
        return f(name, v)
    except OverflowError:      # |result| beyond float64: only at x = +-huge, gelu ~ x
        return (v, abs(v))


def f64_inputs(rng, n):
    parts = {
        "uniform[-40,10]": rng.uniform(-40, 10, n),
        "log-spaced +-[1e-300,1e300]": np.exp(rng.uniform(np.log(1e-300), np.log(1e300), n // 2))
        * rng.choice([-1, 1], n // 2),
        "uniform[-6,6]": rng.uniform(-6, 6, n),
        "uniform[-40,-37] (denormal gelu)": rng.uniform(-40, -37, n // 2),
        "uniform[-23,-20] (denormal tanh form)": rng.uniform(-23, -20, n // 2),
        "uniform[-0.8,-0.7] (roots)": rng.uniform(-0.8, -0.7, n // 2),
    }
    return parts


def check_f64(args):
    from multiprocessing import Pool
    rng = np.random.default_rng(2)
    parts = f64_inputs(rng, args.n)
    print(f"float64: max ULP error (reference mpmath, dps=50), "
          f"{sum(len(v) for v in parts.values())} inputs per function")
    with Pool(os.cpu_count()) as pool:
        for name in FUNCS:
            worst = {}
            for label, x in parts.items():
                y = run(name, x)
                for level in RUNNABLE[:-1]:
                    other = run(name, x, level)
                    differ = y.view(np.int64) != other.view(np.int64)
                    if differ.any():
                        print(f"  {name} f64: {level} differs from {BEST} in the last bits "
                              f"on {int(differ.sum())} of {x.size} ({label})")
                chunks = np.array_split(x, 64)
                res = [r for part in pool.map(_mp_batch, [(name, c) for c in chunks]) for r in part]
                ref = np.array([r[0] for r in res])
                mag = np.array([r[1] for r in res])
                e = ulp_err(y, ref, np.float64)
                if name.endswith("grad"):
                    near = np.abs(x + 0.7518) < 0.01
                    upd(worst, "rel (|x+0.752|>=0.01)", e[~near], x[~near])
                    upd(worst, "rel near root", e[near], x[near])
                    upd(worst, "abs/ulp(max term)", np.abs(y - ref) / ulp_of(mag, np.float64), x)
                else:
                    upd(worst, "rel", e, x)
            for k, (v, xv) in worst.items():
                print(f"  {name:15s} {k:24s} {v:8.3f} ulp  at x = {xv!r}")


# ----------------------------------------------------------------- special values
def check_special(args):
    bad = 0
    for dt in (np.float32, np.float64):
        fi = np.finfo(dt)
        tiny = fi.smallest_subnormal
        inf, nan = dt(np.inf), dt(np.nan)
        cases = [
            # x: (gelu, gelu_grad, gelu_tanh, gelu_tanh_grad, ndtr); None: not checked here
            (0.0, (0.0, 0.5, 0.0, 0.5, 0.5)),
            (-0.0, (-0.0, 0.5, -0.0, 0.5, 0.5)),
            (inf, (inf, 1.0, inf, 1.0, 1.0)),
            (-inf, (-0.0, -0.0, -0.0, -0.0, 0.0)),
            (tiny, (None, 0.5, None, 0.5, 0.5)),
            (-tiny, (None, 0.5, None, 0.5, 0.5)),
            (fi.max, (fi.max, 1.0, fi.max, 1.0, 1.0)),
            (-fi.max, (-0.0, -0.0, -0.0, -0.0, 0.0)),
            (fi.tiny, (None, 0.5, None, 0.5, 0.5)),
        ]
        xs = np.array([c[0] for c in cases] + [nan], dt)
        for j, name in enumerate(FUNCS):
            y = run(name, xs)
            for i, (x, exp) in enumerate(cases):
                e = exp[j]
                if e is None:
                    continue
                ok = (y[i] == e) and (np.signbit(y[i]) == np.signbit(dt(e)))
                if not ok:
                    bad += 1
                    print(f"  !! {dt.__name__} {name}({x!r}) = {y[i]!r}, expected {e!r}")
            if not np.isnan(y[-1]):
                bad += 1
                print(f"  !! {dt.__name__} {name}(nan) = {y[-1]!r}")
        # sign of underflowed results and monotone tails
        for name in ("gelu", "gelu_tanh"):
            x = np.array([-20, -50, -1e10] if dt == np.float32 else [-60, -1e10, -1e300], dt)
            y = run(name, x)
            if not (np.all(y == 0) and np.all(np.signbit(y))):
                bad += 1
                print(f"  !! {dt.__name__} {name} underflow sign: {y}")
    print(f"special values: {'all as expected' if not bad else f'{bad} mismatches'}")


# ----------------------------------------------------------------- torch
def check_torch(args):
    import torch
    rng = np.random.default_rng(1)
    print("torch (F.gelu / autograd) max ULP error, same references:")
    parts32 = f32_inputs(rng)
    x32 = np.concatenate(list(parts32.values()))
    for approx in ("none", "tanh"):
        t = torch.from_numpy(x32.copy()).requires_grad_(True)
        y = torch.nn.functional.gelu(t, approximate=approx)
        y.sum().backward()
        fname = "gelu" if approx == "none" else "gelu_tanh"
        with np.errstate(all="ignore"):
            e = ulp_err(y.detach().numpy(), ref32(fname, x32), np.float32)
            gref, mag = ref32(fname + "_grad", x32)
            g = t.grad.numpy()
            eg = ulp_err(g, gref, np.float32)
            ea = np.abs(g - gref) / ulp_of(mag, np.float32)
        near = np.abs(x32 + 0.7518) < 0.01
        w = {}
        upd(w, f"{fname} f32", e, x32)
        upd(w, f"{fname}_grad f32 rel(off root)", eg[~near], x32[~near])
        upd(w, f"{fname}_grad f32 abs/ulp(max)", ea, x32)
        for k, (v, xv) in w.items():
            print(f"  torch {k:32s} {v:12.3f} ulp at x = {xv!r}")
    rng = np.random.default_rng(2)
    x64 = np.concatenate(list(f64_inputs(rng, min(args.n, 4000)).values()))
    for approx, fname in (("none", "gelu"), ("tanh", "gelu_tanh")):
        t = torch.from_numpy(x64.copy()).requires_grad_(True)
        y = torch.nn.functional.gelu(t, approximate=approx)
        y.sum().backward()
        ref = np.array([mp_ref(fname, v)[0] for v in x64])
        gr = np.array([mp_ref(fname + "_grad", v) for v in x64])
        near = np.abs(x64 + 0.7518) < 0.01
        w = {}
        with np.errstate(all="ignore"):
            upd(w, f"{fname} f64", ulp_err(y.detach().numpy(), ref, np.float64), x64)
            eg = ulp_err(t.grad.numpy(), gr[:, 0], np.float64)
            upd(w, f"{fname}_grad f64 rel(off root)", eg[~near], x64[~near])
        for k, (v, xv) in w.items():
            print(f"  torch {k:32s} {v:12.3g} ulp at x = {xv!r}")


# ----------------------------------------------------------------- vectorization, bench
def check_vec(args):
    for level in LEVELS:
        _, err = build(level, ["-fopt-info-vec-optimized"])
        lines = [l for l in err.splitlines() if "loop vectorized" in l and "gelu_loops.c" in l]
        loops = sorted({l.split(":")[1] for l in lines}, key=int)
        print(f"{level:7s}: vectorized loops at gelu_loops.c lines {', '.join(loops)}")


def bench(args):
    n = 1 << 20
    rng = np.random.default_rng(3)
    print(f"ns/element, {n} elements, best of 30, inputs uniform in [-8, 8]")
    print(f"  {'function':16s}" + "".join(f"{lv + ' f32':>12s}{lv + ' f64':>12s}" for lv in RUNNABLE))
    for name in FUNCS:
        row = f"  {name:16s}"
        for level in RUNNABLE:
            L = lib(level)
            for dt, suf in ((np.float32, "f"), (np.float64, "d")):
                x = rng.uniform(-8, 8, n).astype(dt)
                y = np.empty_like(x)
                fn = getattr(L, f"bench_{name}_{suf}")
                fn.restype = ctypes.c_double
                t = fn(x.ctypes.data_as(ctypes.c_void_p), y.ctypes.data_as(ctypes.c_void_p),
                       ctypes.c_long(n), ctypes.c_int(30))
                row += f"{t:12.3f}"
        print(row, flush=True)


def main():
    ap = argparse.ArgumentParser()
    for flag in ("vec", "special", "f32", "f64", "torch", "bench"):
        ap.add_argument("--" + flag, action="store_true")
    ap.add_argument("--n", type=int, default=25000)
    args = ap.parse_args()
    if args.vec:
        check_vec(args)
    if args.special:
        check_special(args)
    if args.f32:
        check_f32(args)
    if args.f64:
        check_f64(args)
    if args.torch:
        check_torch(args)
    if args.bench:
        bench(args)


if __name__ == "__main__":
    main()
