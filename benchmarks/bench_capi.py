"""Time a call through the C-level API against the same call through the Python API.

    python benchmarks/bench_capi.py                 # 16 and 2**20 float32 elements
    python benchmarks/bench_capi.py --sizes 4,16,20 --repeats 9

Builds, in a temporary directory and against the installed package, the Cython consumer
of tests/capi (tests/capi/harness.py) plus a small timing module that calls
``cython_api`` pointer and typed-memoryview forms in a C loop without the GIL, then
prints, per function and size, the median time per call of

  - ``python``:  ``activations.NAME(x, out=out)`` (timeit loop),
  - ``pointer``: ``ca.NAME_f32(x, out, n, 0)`` in a C loop,
  - ``memoryview``: ``ca.NAME(x, out, ..., 0)`` in a C loop,

and the ratios pointer / python.  Repetitions are interleaved (python, pointer,
memoryview, python, ...) and the medians reported with their spread: the machine may be
shared.  Needs a C compiler and Cython.  It measures; it never asserts.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import timeit
from pathlib import Path

import numpy as np

import activations as act

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "capi"))
import harness  # noqa: E402  (tests/capi/harness.py: builds the consumers)

TIMING_MODULE = '''\
# cython: language_level=3, boundscheck=False, wraparound=False
"""C loops over cython_api calls (written by benchmarks/bench_capi.py)."""
from libc.stdint cimport int64_t
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC
from activations cimport cython_api as ca

cdef double now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9

def calls(str name, bint memoryview, float[::1] x, float[::1] out, int64_t reps):
    """Seconds per call of the pointer form (or the typed-memoryview form), nthreads = 0."""
    cdef int64_t r
    cdef double t0, t1
    cdef int which = ("sigmoid", "gelu", "softplus").index(name)
    with nogil:
        t0 = now()
        for r in range(reps):
            if which == 0:
                if memoryview:
                    ca.sigmoid(x, out, 0)
                else:
                    ca.sigmoid_f32(&x[0], &out[0], x.shape[0], 0)
            elif which == 1:
                if memoryview:
                    ca.gelu(x, out, 0, 0)
                else:
                    ca.gelu_f32(&x[0], &out[0], x.shape[0], 0, 0)
            elif memoryview:
                ca.softplus(x, out, 2.0, 20.0, 0)
            else:
                ca.softplus_f32(&x[0], &out[0], x.shape[0], 2.0, 20.0, 0)
        t1 = now()
    return (t1 - t0) / reps
'''

PYTHON_CALLS = {
    "sigmoid": lambda x, out: act.sigmoid(x, out=out),
    "gelu": lambda x, out: act.gelu(x, out=out),
    "softplus": lambda x, out: act.softplus(x, beta=2.0, out=out),
}


def reps_for(n: int) -> int:
    return max(5, int(2e6 // max(n, 16)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4,20", help="log2 sizes (default 4,20: 16 and 2**20)")
    parser.add_argument("--functions", default="sigmoid,gelu,softplus")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repetitions")
    parser.add_argument("--workdir", help="build directory (default: a temporary one)")
    args = parser.parse_args(argv)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-capi-"))
    harness.build(workdir, modules=("cython_harness", "bench_loops"),
                  extra={"bench_loops.pyx": TIMING_MODULE})
    sys.path.insert(0, str(workdir))
    loops = importlib.import_module("bench_loops")
    cy = importlib.import_module("cython_harness")

    print(f"activations {act.__version__}, SIMD {act.simd_level()}, threads "
          f"{act.get_num_threads()}, load average {os.getloadavg()[0]:.2f}; "
          f"float32, seconds per call, median of {args.repeats} interleaved repetitions")
    print(f"{'function':<10} {'n':>8} {'python':>10} {'pointer':>10} {'memoryview':>10} "
          f"{'harness':>10} {'pointer/python':>15} {'spread (ptr)':>13}")
    for name in args.functions.split(","):
        for log2 in (int(s) for s in args.sizes.split(",")):
            n = 1 << log2
            x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
            out = np.empty_like(x)
            reps = reps_for(n)
            fn = PYTHON_CALLS[name]
            call = getattr(cy, f"call_{name}_f32")
            params = {"sigmoid": {}, "gelu": {"approximate": 0},
                      "softplus": {"beta": 2.0, "threshold": 20.0}}[name]
            arrays, sizes = {"x": x, "out": out}, {"n": n}
            times = {"python": [], "pointer": [], "memoryview": [], "harness": []}
            for _ in range(args.repeats):
                times["python"].append(timeit.timeit(lambda: fn(x, out), number=reps) / reps)
                times["pointer"].append(loops.calls(name, False, x, out, reps))
                times["memoryview"].append(loops.calls(name, True, x, out, reps))
                times["harness"].append(timeit.timeit(
                    lambda: call(arrays, sizes, params, 0, 0), number=reps) / reps)
            med = {k: statistics.median(v) for k, v in times.items()}
            spread = (min(times["pointer"]), max(times["pointer"]))
            # same values either way (checked by tests/capi); this only times them
            print(f"{name:<10} {n:>8} {med['python']:>10.3g} {med['pointer']:>10.3g} "
                  f"{med['memoryview']:>10.3g} {med['harness']:>10.3g} "
                  f"{med['pointer'] / med['python']:>15.3f} "
                  f"{spread[0]:>6.3g}-{spread[1]:<6.3g}")
    print("harness: the tests' Cython consumer called from Python (dict arguments): the "
          "Python-to-Cython call overhead, for scale")
    return 0


if __name__ == "__main__":
    sys.exit(main())
