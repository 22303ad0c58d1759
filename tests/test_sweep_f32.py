"""Float32 bit-pattern sweeps of every elementwise function (tools/sweep_f32.py).

Denser than test_accuracy.py's samples and spread evenly over the bit patterns: every
8191st magnitude pattern of both signs over the whole range (524,354 inputs per cell,
infinities and NaNs included), and every 1021st over |x| <= 110, where the exp-based
functions change regime (2,180,810 inputs per cell).  At the default SIMD level (the
per-level checks are test_accuracy.py's); bounds are test_accuracy.py's, and 6 ulp for
the backward from y (test_backward_from_y.py's).  README's float32 table is the same
sweep at a finer stride.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from test_accuracy import bound
from reference import F32

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("sweep_f32", ROOT / "tools" / "sweep_f32.py")
sweep_f32 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sweep_f32)

#: (stride, max |x|)
SWEEPS = {"all": (8191, float("inf")), "core": (1021, 110.0)}
Y_BOUND = 6.0


def cells():
    return [pytest.param(label, d, id=f"{label}-{d}")
            for label, (name, _) in sweep_f32.rows().items()
            for d in sweep_f32.directions_of(name)]


@pytest.mark.parametrize("region", sorted(SWEEPS))
@pytest.mark.parametrize("label, direction", cells())
def test_float32_sweep_within_bound(label, direction, region):
    name, params = sweep_f32.rows()[label]
    stride, max_abs = SWEEPS[region]
    r = sweep_f32.sweep(name, direction, stride, max_abs, params=params)
    limit = Y_BOUND if direction == "bwd_y" else bound(
        name, "forward" if direction == "fwd" else "backward", F32)
    assert r["max_ulp"] <= limit, (
        f"{label} {direction}: {r['max_ulp']:.3f} ulp at x = {r['at']!r} "
        f"(bound {limit}; {r['count']} inputs, stride {stride}, |x| <= {max_abs})")
