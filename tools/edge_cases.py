"""Drive every function through the edge cases of memory handling (for sanitizers).

    python tools/edge_cases.py

Every function and direction on lengths 0..70 (every SIMD tail), at offsets into a
buffer, with strided and reversed inputs, in place, with partially overlapping
`out`, byte-swapped and read-only inputs, 0-d and multi-axis shapes, special
values, huge and tiny parameters, and sizes above the parallel thresholds on 1, 2
and 3 threads.  Each call must return or raise the documented TypeError /
ValueError / AxisError; anything else, or a sanitizer report (the CI runs this under
AddressSanitizer and UBSan), fails.  Prints a count and exits 0.
"""

from __future__ import annotations

import sys

import numpy as np

import activations as act
from activations import _spec

try:
    from numpy.exceptions import AxisError
except ImportError:  # numpy < 1.25
    from numpy import AxisError

DOCUMENTED = (TypeError, ValueError, AxisError)
KIND = {s.name: s.kind for s in _spec.SPECS}
SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310, -1e-40, 3e38, -3e38, 1e308, 88.7, -104.0]
PARAMS = {
    "leaky_relu": [{}, {"negative_slope": 0.0}, {"negative_slope": -2.0},
                   {"negative_slope": 1e300}, {"negative_slope": 1e-300}],
    "elu": [{}, {"alpha": 1e300}, {"alpha": -1e-300}, {"alpha": 0.0}],
    "celu": [{}, {"alpha": 1e-300}, {"alpha": 1e300}],
    "softplus": [{}, {"beta": 1e300, "threshold": 1e300}, {"beta": -1e-300}],
    "swish": [{}, {"beta": 1e300}, {"beta": -3.0}],
    "hard_tanh": [{}, {"min_val": -1e300, "max_val": 1e300}],
    "softshrink": [{}, {"lambd": 1e300}], "hardshrink": [{}, {"lambd": 0.0}],
    "threshold": [{"threshold": 0.5, "value": np.nan}, {"threshold": -1e300, "value": 1e300}],
    "rrelu": [{}, {"training": True, "seed": 2**64 - 1}, {"lower": 0.0, "upper": 1.0,
                                                         "training": True}],
    "gelu": [{}, {"approximate": "tanh"}], "geglu": [{}, {"approximate": "tanh"}],
}
calls = 0


def attempt(fn, *args, **kw):
    global calls
    calls += 1
    try:
        return fn(*args, **kw)
    except DOCUMENTED:
        return None


def run(name, x, g, params, out_kinds=("none", "same", "overlap")):
    entry = act.get(name)
    extra = (np.full(x.shape[1] if x.ndim > 1 else 1, 0.25, x.dtype),) if KIND[name] == "prelu" else ()
    for out_kind in out_kinds:
        xs = np.array(x, copy=True)
        if out_kind == "none":
            attempt(entry.forward, xs, *extra, **params)
            attempt(entry.backward, g, xs, *extra, **params)
            if "y" in entry.backward_takes:
                attempt(entry.backward, g, y=xs, **params)
        elif out_kind == "same" and KIND[name] != "gated":
            attempt(entry.forward, xs, *extra, out=xs, **params)
            gs = np.array(g, copy=True)
            attempt(entry.backward, gs, xs, *extra, out=gs, **params)
        elif out_kind == "overlap" and x.size > 1:
            buf = np.concatenate([x.ravel(), np.zeros(3, x.dtype)])
            inp, out = buf[:x.size].reshape(x.shape), buf[3:3 + x.size].reshape(x.shape)
            attempt(entry.forward, inp, *extra, out=out, **params)
            attempt(entry.backward, g, inp, *extra, out=out, **params)


def main() -> int:
    rng = np.random.default_rng(0)
    for name in act.names():
        for params in PARAMS.get(name, [{}]):
            for dtype in (np.float32, np.float64):
                for n in range(0, 71):
                    base = rng.uniform(-10, 10, n + 8)
                    base[::7] = np.resize(SPECIALS, base[::7].size)
                    with np.errstate(over="ignore"):
                        base = base.astype(dtype)
                    for offset in (0, 1, 3):
                        x = base[offset:offset + n]
                        g = np.ones_like(x)
                        if KIND[name] == "gated":
                            g = g[: n // 2]
                        run(name, x, g, params, ("none", "same") if offset else
                            ("none", "same", "overlap"))
                    if n in (0, 1, 17, 64, 70):
                        x = base[:n]
                        g = np.ones_like(x)[: n // 2 if KIND[name] == "gated" else n]
                        run(name, base[: 2 * (n // 2)][::2], g[: n // 2] if KIND[name] != "gated"
                            else g[: n // 4], params, ("none",))                    # strided
                        run(name, x[::-1], g[::-1], params, ("none",))               # reversed
                        run(name, x.astype(x.dtype.newbyteorder()), g, params, ("none",))
                        ro = x.copy()
                        ro.flags.writeable = False
                        run(name, ro, g, params, ("none",))
                        attempt(act.get(name).forward, x, out=ro, **params)           # read-only out
                # shapes: 0-d, 2-D, 3-D with each axis
                for shape in ((), (3, 4), (2, 3, 6), (0, 4), (5, 0)):
                    x = rng.uniform(-5, 5, shape).astype(dtype)
                    g = np.ones_like(x)
                    for axis in (-1, 0, 1, 2, 2**63) if KIND[name] in ("softmax", "gated", "prelu") \
                            else (None,):
                        kw = dict(params) if axis is None else dict(params, axis=axis)
                        if KIND[name] == "gated":
                            attempt(act.get(name).forward, x, **kw)
                        else:
                            run(name, x, g, kw, ("none", "same"))
        # above the parallel thresholds, 1..3 threads
        rows = (1 << 15) + 3                                    # 4 * rows > 2**17
        shaped = KIND[name] in ("softmax", "gated", "prelu")
        x = rng.uniform(-10, 10, (rows, 4) if shaped else 4 * rows + 1).astype(np.float32)
        g = np.ones((rows, 2) if KIND[name] == "gated" else x.shape, np.float32)
        for threads in (1, 2, 3):
            act.set_num_threads(threads)
            run(name, x, g, PARAMS.get(name, [{}])[0], ("none", "same"))
        act.set_num_threads(act._threads._threadstate.openmp_default())
    print(f"edge cases: {calls} calls, no crash")
    return 0


if __name__ == "__main__":
    sys.exit(main())
