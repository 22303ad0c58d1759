"""No leaks: the resident set stays flat over 10**5 calls of each function, error
paths included (a leaked reference per call, even of a 16-element array, would grow
it by megabytes)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import activations as act
from activations import _spec
from cases import call_params

KIND = {s.name: s.kind for s in _spec.SPECS}
CALLS_PER_FUNCTION = 100_000
#: Allowed growth: allocator noise, far below a leak of one small object per call.
MAX_GROWTH_BYTES = 2 << 20


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def _calls(name):
    """Callables for one function: forward, backward, and calls that raise."""
    fn = act.get(name)
    x = np.linspace(-2, 2, 16)
    out = np.empty(16)
    if KIND[name] == "prelu":
        w = np.array([0.25])
        return [lambda: fn.forward(x, w, out=out), lambda: fn.backward(x, x, w),
                lambda: fn.forward(x, np.ones(3)), lambda: fn.forward(x.astype(int), w)]
    if KIND[name] == "gated":
        g = np.ones(8)
        return [lambda: fn.forward(x), lambda: fn.backward(g, x, out=out),
                lambda: fn.forward(x[:15]), lambda: fn.backward(g, x, axis=5)]
    p = call_params(name)
    if KIND[name] == "softmax":
        bad = [lambda: fn.forward(x, axis=2), lambda: fn.forward(x, out=np.empty(3))]
    else:
        bad = [lambda: fn.forward(x.astype(np.int32), **p),
               lambda: fn.forward(x, out=np.empty(16, np.float32), **p)]
    return [lambda: fn.forward(x, out=out, **p), lambda: fn.backward(x, x, **p),
            lambda: fn.forward([0.5, 1.0], **p)] + bad


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
@pytest.mark.parametrize("name", act.names())
def test_rss_flat(name):
    calls = _calls(name)
    rounds = CALLS_PER_FUNCTION // len(calls)

    def run(n):
        for _ in range(n):
            for call in calls:
                try:
                    call()
                except (TypeError, ValueError):
                    pass

    run(rounds // 10)   # warm-up: caches, free lists, first-call allocations
    before = _rss_bytes()
    run(rounds)
    growth = _rss_bytes() - before
    assert growth < MAX_GROWTH_BYTES, f"{name}: RSS grew by {growth / 1e6:.1f} MB"
