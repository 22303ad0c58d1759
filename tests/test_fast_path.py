"""Per-block fast paths (src/activations/_formulas.pxd, "Per-block fast paths").

The ops of _spec.FAST_PATHS run in blocks of FAST_BLOCK elements: a block whose inputs
are all ordinary takes the fast formula, a block with one rare lane the exact formula
for all its lanes.  Here: dense N(0, 3) arrays many blocks long (every block fast),
then the same arrays with one rare lane in every other block (those blocks exact), in
place and out of place, at every SIMD level.  Both runs are checked against the
independent references of tests/reference.py within test_accuracy.py's bounds (for
the gates their documented bounds, README's 4 / 6 ulp (float64 geglu 5 / 12); test_gated.py's tighter float32 forward bound
holds on its small shapes, while dense N(0, 3) data reach 3.4 ulp in swiglu's and glu's
formulas, which the fast paths reproduce bit for bit), and the ordinary lanes of the exact blocks must equal
the fast blocks' results bit for bit: that is what makes the block split (and so the
thread count) invisible.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import activations as act
from activations import _spec
from activations._check.ulp import bound as documented_bound
from cases import backward, dtype_params, forward, reference_values, same_bits
from reference import F32, ulp_error
from test_accuracy import bound
from test_gated import gate_reference

ROOT = Path(__file__).resolve().parents[1]
K = act._functions._K
BLOCK = K.FAST_PATH_BLOCK
BLOCKS = 8

#: (function, params, direction) for every elementwise (op, direction) with a fast path
ELEMENTWISE = [
    ("sigmoid", {}, "forward"),
    ("sigmoid", {}, "backward"),
    ("log_sigmoid", {}, "forward"),
    ("log_sigmoid", {}, "backward"),
    ("swish", {}, "forward"),                  # op silu
    ("swish", {}, "backward"),
    ("swish", {"beta": 1.7}, "forward"),       # op swish (beta * x and its rounding error)
    ("swish", {"beta": 1.7}, "backward"),
    ("softplus", {}, "forward"),
    ("softplus", {"beta": 0.3, "threshold": 5.0}, "forward"),
    ("softplus", {}, "backward"),
    ("softplus", {"beta": 0.3, "threshold": 5.0}, "backward"),
    ("elu", {}, "backward"),
    ("elu", {"alpha": 0.7}, "backward"),
    ("selu", {}, "backward"),
    ("celu", {}, "backward"),
    ("celu", {"alpha": 2.0}, "backward"),
]
GATED = [("glu", "forward"), ("glu", "backward"), ("swiglu", "forward"), ("swiglu", "backward"),
         ("geglu", "forward"), ("geglu", "backward")]

#: inputs that make a lane rare (an exp argument past -60 / -600, a tiny factor of a
#: sigmoid with a negative argument, infinities) or that may go either way (NaN)
RARE = {
    np.dtype(np.float32): [-95.0, -70.0, 95.0, -1e-20, -3e-39, 2e-30, -np.inf, np.inf, np.nan],
    np.dtype(np.float64): [-720.0, -650.0, 720.0, -1e-60, -3e-310, 2e-200, -np.inf, np.inf,
                           np.nan],
}


def _covered():
    """The (op, direction) pairs the cases above reach."""
    seen = {("sigmoid", "backward_from_output")}        # test_sigmoid_from_output_blocks
    for name, params, direction in ELEMENTWISE:
        op = _spec.SPECS[[s.name for s in _spec.SPECS].index(name)].kernel_args(**params)[0]
        seen.add((op, direction))
    for name, direction in GATED:
        seen.add((name, "gate" if direction == "forward" else "gate_grad"))
    return seen


def test_table_and_module_and_formulas_agree():
    """Every fast path of the table is built, has its formulas, and is tested here."""
    assert K.FAST_PATHS == _spec.FAST_PATHS, "rebuild: the module predates _spec.FAST_PATHS"
    formulas = (ROOT / "src" / "activations" / "_formulas.pxd").read_text()
    wanted = set()
    for op, directions in _spec.FAST_PATHS.items():
        for d in directions:
            assert (op, d) in _covered(), f"no test of {op}'s {d} fast path"
            outs = ("_a", "_b") if d == "gate_grad" else ("",)
            wanted |= {f"{op}_{d}_rare"} | {f"{op}_{d}{o}_fast" for o in outs}
    for op, directions in _spec.FAST_UNIT.items():      # the blocks for a = 1
        for d in directions:
            assert d in _spec.FAST_PATHS.get(op, ()) and d in ("forward", "backward"), (op, d)
            wanted |= {f"{op}_{d}_unit_rare", f"{op}_{d}_unit_fast"}
    for op, directions in _spec.FAST_SAT_PATHS.items():
        assert set(directions) <= set(_spec.FAST_PATHS[op]), op
        for d in directions:
            outs = ("_a", "_b") if d == "gate_grad" else ("",)
            wanted |= {f"{op}_{d}_band_rare"} | {f"{op}_{d}{o}_sat" for o in outs}
            if d in _spec.FAST_UNIT.get(op, ()):           # the a = 1 blocks' second pass
                wanted.add(f"{op}_{d}_unit_band_rare")
    for op, directions in _spec.FAST_SAT_RUNS.items():
        assert set(directions) <= set(_spec.FAST_SAT_PATHS[op]), op
        for d in directions:
            outs = ("_a", "_b") if d == "gate_grad" else ("",)
            wanted |= {f"{op}_{d}_sat_lane", f"{op}_{d}_lim_lane"} | {f"{op}_{d}{o}_lim" for o in outs}
    for op, directions in _spec.WIDE_PATHS.items():
        assert set(directions) <= set(_spec.FAST_SAT_PATHS[op]), op
        for d in directions:
            outs = ("_a", "_b") if d == "gate_grad" else ("",)
            wanted |= {f"{op}_{d}_wide_rare"} | {f"{op}_{d}{o}_wide" for o in outs}
    for op, directions in _spec.TINY_PLAIN_GATES.items():
        for d in directions:
            outs = ("_a", "_b") if d == "gate_grad" else ("",)
            wanted |= {f"{op}_{d}{o}_tiny_plain" for o in outs}
    missing = [fn for fn in sorted(wanted)
               if not re.search(rf"^cdef inline [^\n]*\b{fn}\(", formulas, re.M)]
    assert not missing, f"formulas missing from _formulas.pxd: {missing}"


def _ordinary(dtype, n, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    g = (rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n)).astype(dtype)
    return x, g


def _rare_lanes(n, seed):
    """One lane in every other block, at varying offsets (first and last lanes too)."""
    rng = np.random.default_rng(seed)
    starts = np.arange(0, n, 2 * BLOCK)
    offsets = rng.integers(0, BLOCK, starts.size)
    offsets[:2] = (0, BLOCK - 1)
    lanes = np.minimum(starts + offsets, n - 1)
    exact_block = np.zeros(n, bool)
    for s in starts:
        exact_block[s:s + BLOCK] = True
    return lanes, exact_block


def _gate_call(name, direction, g):
    """The gate's call on the input x (rows, 2 half) along its last axis: the forward, or
    the backward with grad g, in place (out=x) where asked."""
    fwd, bwd = getattr(act, name), getattr(act, f"{name}_backward")

    def run(xv, in_place=False):
        if direction == "forward":
            return fwd(xv, axis=-1)
        return bwd(g, xv, axis=-1, out=xv) if in_place else bwd(g, xv, axis=-1)
    return run


def _other_lanes(half, lanes, direction):
    """The output lanes of a gate's call other than `lanes` of each row (backward: in
    both gradients)."""
    keep = np.ones(half, bool)
    keep[lanes] = False
    return np.concatenate([keep, keep]) if direction == "backward" else keep


def _gate_sampled(name, inner, direction, dtype, out, a, b, g, finite, stride):
    """(got, want, scale, bound) of a gate's output `out` on every `stride`-th lane where
    `finite`, against the independent references (gate_reference: float64 / mpmath),
    with the function's documented bound; backward: both gradients, the a half first."""
    half = a.shape[1]
    sample = np.flatnonzero(finite.ravel())[::stride]
    xs = np.concatenate([a.ravel()[sample], b.ravel()[sample]])
    with np.errstate(all="ignore"):
        hi, ghi, gscale = gate_reference(name, inner, {}, xs, g.ravel()[sample], -1)
    limit = documented_bound(name, dtype, "fwd" if direction == "forward" else "bwd")
    if direction == "forward":
        return out.ravel()[sample], hi, None, limit
    got = np.concatenate([out[:, :half].ravel()[sample], out[:, half:].ravel()[sample]])
    return got, ghi, gscale, limit


def _elementwise_call(name, params, direction, x, g, in_place):
    """The forward of x, or the backward of (g, x); in place writes over x or g."""
    if direction == "forward":
        return forward(name, x, params, out=x) if in_place else forward(name, x, params)
    return backward(name, g, x, params, out=g) if in_place else backward(name, g, x, params)


def _check(got, hi, lo, scale, limit, what, finite):
    """Max ulp error on the lanes with finite inputs (infinities and NaN: their limits
    are test_special_values.py's)."""
    err = np.where(finite, ulp_error(got, hi, lo, scale), 0.0)
    assert err.max() <= limit, f"{what}: {err.max():.3f} ulp (bound {limit}) at lane {err.argmax()}"


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params, direction", ELEMENTWISE,
                         ids=[f"{n}-{'-'.join(map(str, p.values())) or 'default'}-{d}"
                              for n, p, d in ELEMENTWISE])
def test_elementwise_fast_and_exact_blocks(name, params, direction, dtype, simd_level):
    n = BLOCKS * BLOCK + 5                      # a partial last block
    x, g = _ordinary(dtype, n, seed=3)
    lanes, exact_block = _rare_lanes(n, seed=4)
    values = np.array(RARE[np.dtype(dtype)], dtype)
    xr, gr = x.copy(), g.copy()
    xr[lanes] = values[np.arange(lanes.size) % values.size]
    if direction == "backward":
        # a tiny grad is rare for softplus (a tiny factor of sigmoid(z), z < 0) and
        # ordinary for swish: both ways are checked
        tiny = np.array(1e-30 if dtype == F32 else 1e-200, dtype)
        gr[lanes[1::3]] = tiny
        xr[lanes[1::3]] = -1.5

    def run(xv, gv, in_place):
        return _elementwise_call(name, params, direction, xv, gv, in_place)

    fast = run(x, g, False)
    exact = run(xr, gr, False)
    rare = np.zeros(n, bool)
    rare[lanes] = True
    plain = exact_block & ~rare
    assert same_bits(exact[plain], fast[plain]), "exact and fast formulas differ"
    assert same_bits(exact[~exact_block], fast[~exact_block])
    assert same_bits(run(xr.copy(), gr.copy(), True), exact), "in place"
    limit = bound(name, direction, dtype)
    for xv, gv, got, what in ((x, g, fast, "fast blocks"), (xr, gr, exact, "exact blocks")):
        hi, lo, scale = reference_values(name, params, dtype, direction, xv,
                                         None if direction == "forward" else gv)
        _check(got, hi, lo, scale, limit, f"{name}{params} {direction} {what}",
               np.isfinite(xv) & np.isfinite(gv))


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, direction", GATED, ids=[f"{n}-{d}" for n, d in GATED])
def test_gated_fast_and_exact_blocks(name, direction, dtype, simd_level):
    half = BLOCKS * BLOCK + 5
    rows = 2
    x, _ = _ordinary(dtype, rows * 2 * half, seed=5)
    x = x.reshape(rows, 2 * half)
    g, _ = _ordinary(dtype, rows * half, seed=6)
    g = g.reshape(rows, half)
    lanes, exact_block = _rare_lanes(half, seed=7)
    values = np.array(RARE[np.dtype(dtype)], dtype)
    xr, gr = x.copy(), g.copy()
    # rare values in a (row 0) and in b (row 1); a tiny grad in some of the other lanes
    xr[0, lanes] = values[np.arange(lanes.size) % values.size]
    xr[1, half + lanes] = values[np.arange(lanes.size) % values.size]
    if direction == "backward":
        gr[:, lanes[1::3]] = np.array(1e-30 if dtype == F32 else 1e-200, dtype)
    fwd, bwd = getattr(act, name), getattr(act, f"{name}_backward")

    def run(xv, gv, in_place):
        if direction == "forward":
            return fwd(xv, axis=-1)
        return bwd(gv, xv, axis=-1, out=xv) if in_place else bwd(gv, xv, axis=-1)

    fast = run(x, g, False)
    exact = run(xr, gr, False)
    if direction == "forward":
        plain = np.broadcast_to(exact_block, (rows, half)).copy()
        plain[:, lanes] = False
        plain_f = np.broadcast_to(~exact_block, (rows, half))
    else:
        both = np.concatenate([exact_block, exact_block])
        plain = np.broadcast_to(both, (rows, 2 * half)).copy()
        plain[:, lanes] = plain[:, half + lanes] = False
        plain_f = np.broadcast_to(~both, (rows, 2 * half))
    assert same_bits(exact[plain], fast[plain]), "exact and fast formulas differ"
    assert same_bits(exact[plain_f], fast[plain_f])
    if direction == "backward":
        assert same_bits(run(xr.copy(), gr, True), exact), "in place"
    inner = {"glu": "sigmoid", "swiglu": "swish", "geglu": "gelu"}[name]
    for xv, gv, got, what in ((x, g, fast, "fast blocks"), (xr, gr, exact, "exact blocks")):
        hi, ghi, gscale = gate_reference(name, inner, {}, xv, gv, -1)
        finite = np.isfinite(xv[:, :half]) & np.isfinite(xv[:, half:]) & np.isfinite(gv)
        # the documented bounds of the gates (README "Accuracy": 4 / 6 ulp, float64
        # geglu 5 / 12), as activations._check.ulp states them
        limit = documented_bound(name, dtype, "fwd" if direction == "forward" else "bwd")
        if direction == "forward":
            _check(got, hi, None, None, limit, f"{name} {what}", finite)
        else:
            _check(got, ghi, None, gscale, limit, f"{name}' {what}",
                   np.concatenate([finite, finite], axis=-1))


@pytest.mark.parametrize("blocks", [1, 2, 4])
@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, direction", GATED, ids=[f"{n}-{d}" for n, d in GATED])
def test_gated_rows_carry_the_next_rows_check(name, direction, dtype, blocks, simd_level,
                                              restore_threads):
    """One thread's contiguous rows of a whole number of blocks: a row's last fast block
    ORs the next row's first block's predicate (gated_rows_chunk), which that block takes
    instead of a pass of its own.  Clean rows, each followed by a row whose first block
    holds ONE rare value (in a, in b, or a tiny grad) at its first, last or a middle
    lane, and a row with one in its last block: every row's bits are those of the row
    called alone (where nothing is carried), so a carried predicate that misses the
    next row's a, b or g (its first block then run fast) fails here."""
    act.set_num_threads(1)
    half = blocks * BLOCK
    values = list(RARE[np.dtype(dtype)])
    # (where, value): a rare value in the next row's a, in its b, a tiny grad
    dirty = [("a", v) for v in values] + [("b", v) for v in values]
    if direction == "backward":
        dirty += [("g", 1e-30 if dtype == F32 else 1e-200), ("g", np.inf)]
    if name == "geglu" and dtype == F32:
        # float32 geglu's rare lanes are a < -15 (_formulas.pxd geglu_gate_rare), where
        # gelu(a) underflows and only a huge b makes the product differ from the fast
        # form's; float64 geglu has no rare lanes
        dirty += [("ab", (-16.0, 3e38))]
    rows = 2 * len(dirty) + 2
    x, _ = _ordinary(dtype, rows * 2 * half, seed=11)
    x = x.reshape(rows, 2 * half)
    g, _ = _ordinary(dtype, rows * half, seed=12)
    g = g.reshape(rows, half)
    rng = np.random.default_rng(13)
    for k, (where, value) in enumerate(dirty):
        r = 2 * k + 1                      # after the clean row 2 k
        lane = (0, BLOCK - 1, int(rng.integers(1, BLOCK - 1)))[k % 3]
        if where == "g":
            g[r, lane] = value
        elif where == "ab":
            x[r, lane], x[r, lane + half] = value
        else:
            x[r, lane + (half if where == "b" else 0)] = value
    # a rare value in the last block of the row before the last (a pass of the last row's own)
    x[rows - 2, half - 1] = values[0]
    run = _gate_call(name, direction, g)
    whole = run(x)
    for r in range(rows):
        alone = _gate_call(name, direction, g[r:r + 1])(x[r:r + 1])
        assert same_bits(whole[r:r + 1], alone), f"row {r}"
    if direction == "backward":
        assert same_bits(run(x.copy(), in_place=True), whole), "in place"


# ------------------------------------------------------- saturated inputs, from y
# Past |z| > FAST_SAT (256 / 2048) the fast formulas select the exact formulas' limits
# (_formulas.pxd "Per-block fast paths"), so huge inputs and infinities run fast blocks.
# Here: arrays of such inputs (both signs, NaN, a few ordinary) many blocks long, and
# the same with one input of the band FAST_EXP_MIN < |z| <= FAST_SAT in every other
# block (those blocks exact): bit for bit the same on every other lane.

#: the saturated inputs; the band input that makes a block exact is -100 / -700 as z
SATURATED = {
    np.dtype(np.float32): [300.0, -300.0, 1e30, -1e30, 3.4e38, -3.4e38, np.inf, -np.inf,
                           np.nan],
    np.dtype(np.float64): [2100.0, -2100.0, 1e300, -1e300, 1.7e308, -1.7e308, np.inf,
                           -np.inf, np.nan],
}


def _band_input(name, params, dtype):
    """An x whose exp argument z (beta x for swish and softplus, x / alpha for celu)
    lies in the band the exact formulas keep."""
    z = -100.0 if np.dtype(dtype) == F32 else -700.0
    if name == "celu":
        return z * params.get("alpha", 1.0)
    return z / params.get("beta", 1.0)


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params, direction", ELEMENTWISE,
                         ids=[f"{n}-{'-'.join(map(str, p.values())) or 'default'}-{d}"
                              for n, p, d in ELEMENTWISE])
def test_saturated_inputs_fast_and_exact_blocks(name, params, direction, dtype, simd_level):
    n = BLOCKS * BLOCK + 5
    rng = np.random.default_rng(15)
    values = np.array(SATURATED[np.dtype(dtype)], dtype)
    x = values[rng.integers(0, values.size, n)]
    ordinary, g = _ordinary(dtype, n, seed=16)
    x[::7] = ordinary[::7]
    g[::5] = np.array([np.inf, 1e30 if dtype == F32 else 1e300, 0.0, -0.0, np.nan], dtype)[
        np.arange(g[::5].size) % 5]
    lanes, exact_block = _rare_lanes(n, seed=17)
    xr = x.copy()
    xr[lanes] = _band_input(name, params, dtype)
    fast = _elementwise_call(name, params, direction, x, g, False)
    exact = _elementwise_call(name, params, direction, xr, g, False)
    keep = np.ones(n, bool)
    keep[lanes] = False
    assert same_bits(exact[keep], fast[keep]), "saturated lanes differ between fast and exact blocks"
    assert same_bits(_elementwise_call(name, params, direction, xr.copy(), g.copy(), True),
                     exact), "in place"


#: the gates' inputs of the saturated kind besides SATURATED: float32 geglu's a below
#: its far series' clamp (-37), where the fast formulas select the clamped value
GATE_SATURATED_EXTRA = {"geglu": {np.dtype(np.float32): [-37.5, -50.0, -95.0, -1e5]}}
#: the gate argument that makes a block exact (glu: b, swiglu and geglu: a): the band
#: FAST_EXP_MIN < -z <= FAST_SAT, for float32 geglu [-37, -15); float64 geglu has no
#: rare blocks (both paths compute one formula)
GATE_BAND = {"glu": (-100.0, -700.0), "swiglu": (-100.0, -700.0), "geglu": (-20.0, -20.0)}


#: the blocks of test_saturated_gates_fast_and_exact_blocks's runs: saturated (first lane
#: saturated), saturated with an ordinary first lane, ordinary, saturated with one band lane
#: (and "L", saturated in every gate argument: _saturated_runs puts them among the S)
RUN_BLOCKS = "SFOB"
#: the B blocks' band lane: one whose sat formula (the fast one's clamped exp) would not
#: give the exact bits (float32 geglu: its series' range)
RUN_BAND = {"glu": (-100.0, -740.0), "swiglu": (-100.0, -740.0), "geglu": (-20.0, -20.0)}


def _saturated_runs(rows, nblocks, seed):
    """Block kinds (RUN_BLOCKS) of `rows` runs of nblocks blocks: runs of saturated
    blocks of every length 1..8 (a run of the call starting with one in half the rows),
    S and L in turn (L first in every other row), each followed by one block of another
    kind, in turn."""
    rng = np.random.default_rng(seed)
    kinds, length, other = [], 0, 0
    for r in range(rows):
        row = [] if r % 2 == 0 else [RUN_BLOCKS[1 + r % 3]]
        while len(row) < nblocks:
            row += ["SL"[(j + r // 2) % 2] for j in range(1 + length % 8)] + [RUN_BLOCKS[1 + other % 3]]
            length += 1 + int(rng.integers(0, 2))
            other += 1
        kinds.append(row[:nblocks])
    return kinds


def _saturated_run_inputs(name, dtype, kinds, half, z_values, w_values, g_values, rng):
    """(x, g, band) of rows made of blocks of the given kinds (_saturated_runs), the last
    one partial: saturated blocks as in test_saturated_gates_fast_and_exact_blocks
    (every 7th lane ordinary), L blocks the same with every gate argument from z_values
    (the limit forms' blocks, NAME_DIR_lim) and tiny other factors and g in some lanes, a
    band lane in each B block (not its first), an ordinary first lane in each F block;
    `band` marks the B blocks' band lanes."""
    dt = np.dtype(dtype)
    rows = len(kinds)
    z = z_values[rng.integers(0, z_values.size, (rows, half))]
    w = w_values[rng.integers(0, w_values.size, (rows, half))]
    g = g_values[rng.integers(0, g_values.size, (rows, half))]
    oz, ow = (v.reshape(rows, half) for v in _ordinary(dtype, rows * half, seed=int(rng.integers(1 << 30))))
    og = _ordinary(dtype, rows * half, seed=int(rng.integers(1 << 30)))[1].reshape(rows, half)
    z[:, ::7], w[:, ::7], g[:, ::7] = oz[:, ::7], ow[:, ::7], og[:, ::7]
    band = np.zeros((rows, half), bool)
    fi = np.finfo(dtype)
    # a tiny factor is a band lane of glu's forward predicate at any negative b
    tiny = np.array([fi.smallest_subnormal, -fi.smallest_subnormal * 3, fi.tiny, -fi.tiny * 5,
                     1e-30 if dt == F32 else 1e-200], dtype)
    for r, row in enumerate(kinds):
        for k, kind in enumerate(row):
            s = slice(k * BLOCK, min(half, (k + 1) * BLOCK))
            if kind == "L":
                z[r, s] = z_values[rng.integers(0, z_values.size, s.stop - s.start)]
                w[r, s.start + 1:s.stop:5] = tiny[rng.integers(0, tiny.size, w[r, s.start + 1:s.stop:5].size)]
                g[r, s.start + 2:s.stop:6] = tiny[rng.integers(0, tiny.size, g[r, s.start + 2:s.stop:6].size)]
            elif kind == "O":
                z[r, s], w[r, s], g[r, s] = oz[r, s], ow[r, s], og[r, s]
            elif kind == "F":
                z[r, s.start], w[r, s.start], g[r, s.start] = 1.5, -2.0, 0.75
            elif kind == "B":
                lane = s.start + int(rng.integers(1, min(BLOCK, half - s.start)))
                z[r, lane] = RUN_BAND[name][0 if dt == F32 else 1]
                w[r, lane], g[r, lane] = 1.75, -1.25
                band[r, lane] = True
    a, b = (w, z) if name == "glu" else (z, w)
    return np.concatenate([a, b], axis=1), g, band


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, direction", GATED, ids=[f"{n}-{d}" for n, d in GATED])
def test_saturated_gates_fast_and_exact_blocks(name, direction, dtype, simd_level, restore_threads):
    """The gates' fast formulas select the exact ones' limits where the gate argument
    (glu: b, swiglu and geglu: a) is saturated, infinite or NaN, whatever the other
    factor and g (huge, so that a * b or g * a overflows, infinite, signed zeros, NaN):
    arrays of such lanes (and a few ordinary ones) many blocks long, and the same with
    one band input in every other block (those blocks exact), bit for bit the same on
    every other lane; the finite lanes within the documented bounds of the references
    (float64, mpmath)."""
    dt = np.dtype(dtype)
    half, rows = BLOCKS * BLOCK + 5, 2
    rng = np.random.default_rng(21)
    saturated = np.array(SATURATED[dt] + GATE_SATURATED_EXTRA.get(name, {}).get(dt, []), dtype)
    other = np.concatenate([saturated, np.array([0.0, -0.0, 1.5, -2.5], dtype)])
    huge = 1e30 if dt == F32 else 1e300
    g_values = np.array([np.inf, -np.inf, huge, -huge, 0.0, -0.0, np.nan, 1.25, -3.0], dtype)
    z = saturated[rng.integers(0, saturated.size, (rows, half))]
    w = other[rng.integers(0, other.size, (rows, half))]
    g = g_values[rng.integers(0, g_values.size, (rows, half))]
    # every 7th lane ordinary in all of a, b and g
    oz, ow = (v.reshape(rows, half) for v in _ordinary(dtype, rows * half, seed=22))
    og, _ = _ordinary(dtype, rows * half, seed=23)
    z[:, ::7], w[:, ::7], g[:, ::7] = oz[:, ::7], ow[:, ::7], og.reshape(rows, half)[:, ::7]
    a, b = (w, z) if name == "glu" else (z, w)
    x = np.concatenate([a, b], axis=1)
    lanes, exact_block = _rare_lanes(half, seed=24)
    xr = x.copy()
    band = GATE_BAND[name][0 if dt == F32 else 1]
    xr[:, (half if name == "glu" else 0) + lanes] = band
    run = _gate_call(name, direction, g)

    fast, exact = run(x), run(xr)
    keep = _other_lanes(half, lanes, direction)
    assert same_bits(exact[:, keep], fast[:, keep]), "saturated lanes differ between fast and exact blocks"
    if direction == "backward":
        assert same_bits(run(xr.copy(), True), exact), "in place"
    # a NaN gate argument gives NaN in the output and in its own gradient
    nan_z = np.isnan(z)
    if direction == "forward":
        assert np.isnan(fast[nan_z]).all()
    else:
        assert np.isnan(fast[:, half:][nan_z] if name == "glu" else fast[:, :half][nan_z]).all()
    inner = {"glu": "sigmoid", "swiglu": "swish", "geglu": "gelu"}[name]
    finite = np.isfinite(a) & np.isfinite(b) & np.isfinite(g)
    # the references in mpmath (float64) are slow at huge arguments: every 16th finite lane
    got, want, scale, limit = _gate_sampled(name, inner, direction, dtype, fast, a, b, g,
                                            finite, 1 if dt == F32 else 16)
    # a product beyond the dtype's range (g * b of huge factors) overflows, with its sign
    over = np.abs(want) > float(np.finfo(dtype).max)
    assert same_bits(got[over], np.copysign(np.inf, want[over]).astype(dtype)), "overflow"
    checked = ~over
    _check(got, want, None, scale, limit, f"{name} {direction} saturated", checked)

    # Runs of saturated blocks of every length (NAME_DIR_sat_blocks: one pass each while
    # a block's first lane is saturated), entered at a run's first lane too, mixed with
    # ordinary blocks, blocks with a band lane and saturated blocks with an ordinary
    # first lane; rows longer than the kernel's run units (GATE_BLOCK, 16384), the last
    # block partial; against the same rows with a band lane in every block (all exact),
    # bit for bit on every other lane, at 1 and 2 threads, in place too
    nblocks = 70
    half = nblocks * BLOCK + 37
    kinds = _saturated_runs(4, nblocks + 1, seed=25)
    # gate arguments past 2 FAST_SAT (or NaN): products that overflow there are no band
    # lanes, so that the S blocks are saturated ones
    far = saturated[~(np.abs(saturated) <= (512.0 if dt == F32 else 4096.0))]
    x, g, band = _saturated_run_inputs(name, dtype, kinds, half, far, other, g_values,
                                       np.random.default_rng(26))
    lanes = np.arange(0, half, BLOCK) + np.random.default_rng(27).integers(0, BLOCK, nblocks + 1)
    lanes = np.minimum(lanes, half - 1)
    xr = x.copy()
    xr[:, (half if name == "glu" else 0) + lanes] = GATE_BAND[name][0 if dt == F32 else 1]
    run = _gate_call(name, direction, g)
    keep = _other_lanes(half, lanes, direction)
    results = []
    for threads in (1, 2):
        act.set_num_threads(threads)
        fast, exact = run(x), run(xr)
        assert same_bits(exact[:, keep], fast[:, keep]), f"saturated runs differ from exact blocks ({threads} threads)"
        if direction == "backward":
            assert same_bits(run(x.copy(), True), fast), "in place"
        results.append(fast)
    assert same_bits(results[0], results[1]), "1 and 2 threads"


# ------------------------------------------------------- deep-negative gate blocks
# Blocks whose gate argument z (glu: b, swiglu: a) is below -DEEP_NEG in every lane, and
# whose factors of exp(z) are below 2^60 / 2^480, run the NAME_DIR_neg formulas (_spec.FAST_NEG_PATHS,
# _formulas.pxd "Per-block fast paths"): the exact formulas with 1 + exp(z) = 1 folded
# in.  Their results are subnormal or 0 for most such z (exp(z) below 2^-126 / 2^-1022).

#: -DEEP_NEG, and a z of the band above it (rare, not deep) that makes a block exact
DEEP_NEG = {np.dtype(np.float32): (-64.0, -62.0), np.dtype(np.float64): (-640.0, -620.0)}


def _deep_negative_gate_inputs(name, direction, dtype, half, rng):
    """(x, g): rows 0 and 1 deep-negative lanes, factors of exp(z) below 2**60 (row 1
    at the edges: just below -DEEP_NEG, past the scaled exp's clamp, -inf; signed zeros
    and subnormal factors, factors near a tie of the subnormal grid), row 2 the same
    mixed with lanes no deep-negative block takes (NaN, infinities, products that
    overflow, a factor of 2**60 / 2**480, z = -DEEP_NEG, ordinary z)."""
    dt = np.dtype(dtype)
    deep, _ = DEEP_NEG[dt]
    fi = np.finfo(dtype)
    f32 = dt == F32
    z = -rng.uniform(-deep, 150.0 if f32 else 750.0, (3, half))
    w = rng.standard_normal((3, half)) * 3 * 2.0 ** rng.integers(-20, 21, (3, half))
    g = rng.uniform(0.5, 2.0, (3, half)) * rng.choice([-1.0, 1.0], (3, half))
    edges = np.array([np.nextafter(dt.type(deep), dt.type(-np.inf)), deep - 1, -87.5, -103.9,
                      -104.1, -150.0, -300.0, -1e30, -np.inf] if f32 else
                     [np.nextafter(dt.type(deep), dt.type(-np.inf)), deep - 1, -708.5, -744.4,
                      -745.2, -760.0, -3000.0, -1e300, -np.inf], dtype)
    if name == "swiglu":        # a * b of 2**60 / 2**480 and more: not a deep-negative lane
        edges = edges[:-2]
    z[1, ::3] = edges[rng.integers(0, edges.size, z[1, ::3].shape)]
    small = np.array([0.0, -0.0, fi.smallest_subnormal, -fi.tiny, fi.tiny * 3], dtype)
    w[1, 1::5] = small[rng.integers(0, small.size, w[1, 1::5].shape)]
    # factors for which w exp(z) lies near k + 1/2 units of the subnormal grid
    zt = z[0, 2::7].astype(np.float64)
    k = rng.integers(1, 2 ** 20, zt.size) + 0.5
    with np.errstate(over="ignore", divide="ignore"):
        w[0, 2::7] = k * float(fi.smallest_subnormal) / np.exp(zt)
    w[0, 2::7][~np.isfinite(w[0, 2::7])] = 1.0
    z[2] = z[0]
    w[2], g[2] = w[0], g[0]
    big = 1e30 if f32 else 1e300
    specials = [(np.nan, None, None), (None, np.nan, None), (None, None, np.nan),
                (None, np.inf, None), (None, None, -np.inf), (None, big, None),
                (None, None, big), (deep, None, None), (1.5, None, None), (np.inf, None, None),
                (None, 2.0 ** (60 if f32 else 480), None)]
    for k, (zv, wv, gv) in enumerate(specials):
        for arr, v in ((z, zv), (w, wv), (g, gv)):
            if v is not None:
                arr[2, 3 + 11 * k::127] = v
    z, w, g = z.astype(dtype), w.astype(dtype), g.astype(dtype)
    a, b = (w, z) if name == "glu" else (z, w)
    return np.concatenate([a, b], axis=1), g


GATE_NEG = [(name, d) for name, d in GATED if name in _spec.FAST_NEG_PATHS]


def test_neg_table_is_tested():
    """Every deep-negative gate path is built from the formulas and tested here."""
    formulas = (ROOT / "src" / "activations" / "_formulas.pxd").read_text()
    for op, directions in _spec.FAST_NEG_PATHS.items():
        assert set(directions) <= set(_spec.FAST_SAT_PATHS[op]), op
        for d in directions:
            assert (op, "forward" if d == "gate" else "backward") in GATE_NEG, (op, d)
            outs = ("_a", "_b") if d == "gate_grad" else ("",)
            for fn in [f"{op}_{d}_neg_rare"] + [f"{op}_{d}{o}_neg" for o in outs]:
                assert re.search(rf"^cdef inline [^\n]*\b{fn}\(", formulas, re.M), fn


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, direction", GATE_NEG, ids=[f"{n}-{d}" for n, d in GATE_NEG])
def test_deep_negative_gate_blocks(name, direction, dtype, simd_level):
    """Arrays of deep-negative gate arguments many blocks long (rows of deep-negative
    blocks, and a row mixed with lanes that no such block takes), and the same with one
    band input just above -DEEP_NEG in every other block (then every block runs exact:
    the streaks after an exact block): bit for bit the same on every other lane, in
    place too; the finite lanes, subnormal results included, within the documented
    bounds of the independent references (float64, mpmath)."""
    dt = np.dtype(dtype)
    half = BLOCKS * BLOCK + 5
    rng = np.random.default_rng(41)
    x, g = _deep_negative_gate_inputs(name, direction, dtype, half, rng)
    lanes, _ = _rare_lanes(half, seed=42)
    xr = x.copy()
    xr[:, (half if name == "glu" else 0) + lanes] = DEEP_NEG[dt][1]
    run = _gate_call(name, direction, g)

    deep, exact = run(x), run(xr)
    keep = _other_lanes(half, lanes, direction)
    if direction == "backward":
        assert same_bits(run(x.copy(), True), deep), "in place"
    assert same_bits(exact[:, keep], deep[:, keep]), "deep-negative and exact blocks differ"
    a, b = x[:, :half], x[:, half:]
    w = a if name == "glu" else b
    finite = np.isfinite(a) & np.isfinite(b) & np.isfinite(g)
    # mpmath (float64) is slow: every 32nd finite lane there
    inner = {"glu": "sigmoid", "swiglu": "swish"}[name]
    got, want, scale, limit = _gate_sampled(name, inner, direction, dtype, deep, a, b, g,
                                            finite, 1 if dt == F32 else 32)
    tiny = np.abs(want) < float(np.finfo(dtype).tiny)
    assert tiny.sum() > want.size // 4, "too few subnormal results to test"
    _check(got, want, None, scale, limit, f"{name} {direction} deep-negative",
           np.ones(got.shape, bool))


#: (least, greatest) gate argument of test_big_factor_deep_gate_lanes: from the fast
#: range's edge past where exp(z) * 2**64 / 2**512 is subnormal (-131.7 / -1063) and
#: where it is 0 (-148.4 / -1100.9) to where even an overflowed product's result is
#: below half the least subnormal
BIG_DEEP_Z = {np.dtype(np.float32): (-290.0, -60.0), np.dtype(np.float64): (-2200.0, -600.0)}


def _big_factor_deep_inputs(name, direction, dtype, half, rng):
    """(x, g): gate arguments z swept over BIG_DEEP_Z, each lane's factors of exp(z)
    drawn so that its result (backward: in alternate lanes one gradient, then the
    other) is normal, subnormal or below half the least subnormal where the dtype's
    range allows: one factor up to the dtype's largest, a product of two (g * a, g * b)
    up to its square (overflowed)."""
    dt = np.dtype(dtype)
    fi = np.finfo(dtype)
    emax = float(np.log2(float(fi.max))) - 1          # times a significand in [1, 2)
    zlo, zhi = BIG_DEEP_Z[dt]
    z = rng.uniform(zlo, zhi, (2, half))
    # log2 of the wanted result: from 3 below the least subnormal to 30 above the least
    # normal
    r = rng.uniform(np.log2(float(fi.smallest_subnormal)) - 3, np.log2(float(fi.tiny)) + 30,
                    (2, half))
    need = r - z * np.log2(np.e)                      # log2 of the factor of exp(z)

    def factor(log2_mag):
        return (rng.choice([-1.0, 1.0], z.shape) * rng.uniform(1.0, 2.0, z.shape)
                * np.exp2(np.minimum(log2_mag, emax)))
    one = factor(np.zeros_like(z))                    # a factor in [1, 2)
    even = (np.arange(half) % 2 == 0)[None, :]
    if name == "glu":
        b = z
        if direction == "forward":
            a, g = factor(need), np.ones_like(z)
        else:
            # odd lanes: g * a (grad b's factor) of the wanted size; even: g (grad a's)
            a = np.where(even, one, factor(need / 2))
            g = np.where(even, factor(need), factor(need / 2))
    else:
        a = z
        if direction == "forward":
            b, g = factor(need - np.log2(-z)), np.ones_like(z)    # a * b
        else:
            # odd lanes: g * b (1 + a) (grad a's factor); even: a * g (grad b's)
            b = np.where(even, one, factor((need - np.log2(-1 - z)) / 2))
            g = np.where(even, factor(need - np.log2(-z)), factor((need - np.log2(-1 - z)) / 2))
    return np.concatenate([a, b], axis=1).astype(dtype), g.astype(dtype)


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, direction", GATE_NEG, ids=[f"{n}-{d}" for n, d in GATE_NEG])
def test_big_factor_deep_gate_lanes(name, direction, dtype, simd_level):
    """Factors of exp(z) of 2**60 / 2**480 and more (up to the dtype's largest, and
    products of two that overflow) at gate arguments z where exp(z) * 2**64 / 2**512 is
    subnormal or 0 (the wide forms' deep_big lanes, _formulas.pxd "Large factors at
    deep gate arguments"): within the documented bounds of the independent references
    (float64, mpmath), results that are normal, subnormal and below half the least
    subnormal (0) included; a row of them with ordinary lanes bit for bit the same."""
    dt = np.dtype(dtype)
    half = 2 * BLOCK + 3
    rng = np.random.default_rng(43)
    x, g = _big_factor_deep_inputs(name, direction, dtype, half, rng)
    run = _gate_call(name, direction, g)
    got_all = run(x)
    a, b = x[:, :half], x[:, half:]
    finite = np.isfinite(a) & np.isfinite(b) & np.isfinite(g)
    assert finite.all()
    inner = {"glu": "sigmoid", "swiglu": "swish"}[name]
    got, want, scale, limit = _gate_sampled(name, inner, direction, dtype, got_all, a, b, g,
                                            finite, 1 if dt == F32 else 3)
    fi = np.finfo(dtype)
    mag = np.abs(want)
    for what, sel in (("normal", mag >= float(fi.tiny)),
                      ("subnormal", (mag < float(fi.tiny)) & (mag >= float(fi.smallest_subnormal))),
                      # (float64's references round those to 0: every factor is finite
                      # and nonzero)
                      ("below half the least subnormal",
                       (mag < float(fi.smallest_subnormal) / 2) | (mag == 0))):
        assert sel.sum() >= want.size // 20, f"too few {what} results to test"
    _check(got, want, None, scale, limit, f"{name} {direction} big factor, deep z",
           np.ones(got.shape, bool))
    # the same lanes with the second block ordinary (it runs fast): per lane the same bits
    lanes = np.arange(BLOCK, 2 * BLOCK)
    mixed, gm = x.copy(), g.copy()
    mixed[:, lanes], mixed[:, half + lanes], gm[:, lanes] = 0.5, 0.5, 1.0
    out = _gate_call(name, direction, gm)(mixed)
    keep = _other_lanes(half, lanes, direction)
    assert same_bits(out[:, keep], got_all[:, keep]), "lanes differ with ordinary lanes in the row"


@pytest.mark.parametrize("dtype", dtype_params())
def test_sigmoid_from_output_blocks(dtype, detours_on):
    """sigmoid's backward from y is g (y (1 - y)) as rounded in the dtype, in fast blocks
    and in exact ones (0 < y < 2**-60 / 2**-500: subnormal y, results in the subnormal
    range), and with tiny, huge or infinite g, bit for bit, also in blocks whose every
    lane has |y| < 2**-60 (2**-500) and |g| < 2**32 (2**400); where |y| <= 2**-25
    (2**-54) that is g y rounded once (checked against exact rational products)."""
    from fractions import Fraction
    n = BLOCKS * BLOCK + 5
    x, g = _ordinary(dtype, n, seed=18)
    y = forward("sigmoid", x)
    info = np.finfo(dtype)
    rng = np.random.default_rng(19)
    m = rng.integers(1, 2 ** 23 if dtype == F32 else 2 ** 52, n)
    tiny_y = (m * rng.choice([-1.0, 1.0], n)).astype(dtype) * info.smallest_subnormal
    tiny_y[::3] = (rng.uniform(1.0, 4.0, tiny_y[::3].size) * float(info.tiny)).astype(dtype)
    tiny_y[1::7] = (rng.uniform(-1.0, 1.0, tiny_y[1::7].size) * 2.0 ** -25).astype(dtype)
    tiny_y[2::11] = 0.0
    tiny_g = g.copy()
    tiny_g[::4] = (g[::4] * float(info.tiny) * 2.0 ** -20).astype(dtype)   # subnormal
    tiny_g[1::13] = np.array(1e30 if dtype == F32 else 1e300, dtype)      # huge
    tiny_g[2::17] = np.inf
    lanes, exact_block = _rare_lanes(n, seed=20)
    one = np.dtype(dtype).type(1)
    # every |y| < 2**-60 (2**-500) and |g| < 2**32 (2**400): whole blocks of small lanes
    # (_spec.RARE_SMALL_PATHS), g y rounded once by other arithmetic; g from subnormal to
    # just under the bound (normal products from subnormal y too), ties (g = +-1.5 with
    # odd significands); then one lane past a bound, inf or NaN in every other block
    y_bound = 2.0 ** -60 if dtype == F32 else 2.0 ** -500
    g_bound = np.array(2.0 ** 32 if dtype == F32 else 2.0 ** 400, dtype)
    small_y = tiny_y.copy()
    small_y[1::7] = (rng.uniform(-1.0, 1.0, small_y[1::7].size) * y_bound).astype(dtype)
    small_g = g.copy()
    k_max = 31 if dtype == F32 else 399
    small_g[::5] = (g[::5] * 2.0 ** rng.integers(-40, k_max, small_g[::5].size)).astype(dtype)
    small_g[np.abs(small_g) >= g_bound] *= dtype.type(2.0 ** -8)
    small_g[1::9] = rng.choice([-1.5, 1.5], small_g[1::9].size)
    small_g[2::11] = np.nextafter(g_bound, np.array(0, dtype)) * rng.choice([-1.0, 1.0], small_g[2::11].size)
    small_g[3::13] = (g[3::13] * float(info.tiny) * 2.0 ** -20).astype(dtype)   # subnormal
    assert (np.abs(small_y) < y_bound).all() and (np.abs(small_g) < g_bound).all()
    past_g, past_y = small_g.copy(), small_y.copy()
    past_g[lanes[0::4]] = g_bound
    past_g[lanes[1::4]] = -np.inf
    past_g[lanes[2::4]] = np.nan
    past_y[lanes[3::4]] = np.array(y_bound, dtype)

    def expected(gv, yv):
        with np.errstate(all="ignore"):
            return gv * (yv * (one - yv))

    def run(gv, yv, out=None):
        return act.sigmoid_backward(gv, y=yv, out=out)

    cases = {
        "ordinary": (g, y),
        "one tiny y in every other block": (g, np.where(np.isin(np.arange(n), lanes), tiny_y, y)),
        "all tiny y": (g, tiny_y),
        "all tiny y, tiny and huge g": (tiny_g, tiny_y),
        "tiny g": (tiny_g, y),
        "all small y and g": (small_g, small_y),
        "small y and g, one lane past a bound in every other block": (past_g, past_y),
    }
    for what, (gv, yv) in cases.items():
        got = run(gv, yv)
        assert same_bits(got, expected(gv, yv)), what
        assert same_bits(run(gv.copy(), yv.copy(), out=None), got)
        yc = yv.copy()
        assert same_bits(run(gv, yc, out=yc), got), f"{what}: in place"
    # the small-y lanes: g y rounded once (y (1 - y) = y there)
    got = run(g, tiny_y)
    small = (np.abs(tiny_y) <= (2.0 ** -25 if dtype == F32 else 2.0 ** -54)) & (tiny_y != 0)
    for i in np.flatnonzero(small)[:400]:
        want = float(Fraction(float(g[i])) * Fraction(float(tiny_y[i])))
        assert same_bits(got[i:i + 1], np.array([want], dtype)), (i, g[i], tiny_y[i])
    got = run(small_g, small_y)
    for i in np.flatnonzero(small_y != 0)[::3][:600]:
        want = float(Fraction(float(small_g[i])) * Fraction(float(small_y[i])))
        assert same_bits(got[i:i + 1], np.array([want], dtype)), (i, small_g[i], small_y[i])


# ---------------------------------------------------------------- tiny blocks
# The ops of _spec.TINY_PATHS run a block whose inputs are all subnormal or zero by the
# first-order form (_formulas.pxd "tiny blocks"), once a per-call setup found it to give
# the exact formulas' bits.  Here: arrays of such inputs many blocks long (every block
# tiny), then the same with one ordinary lane in every other block (those blocks exact),
# in place and out of place, at every SIMD level; both against the references, and
# the tiny lanes of the exact blocks equal to the tiny blocks' bit for bit.  Parameters
# for which the first-order form does not hold (celu's alpha = 2: x / alpha is rounded
# before the product; a huge softplus beta) must keep the exact formulas.

#: (function, params) for every op of _spec.TINY_PATHS (both directions each)
TINY = [
    ("sigmoid", {}), ("tanh", {}), ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 3.7}),
    ("elu", {}), ("elu", {"alpha": 1.7}), ("selu", {}), ("softsign", {}), ("softplus", {}),
    ("softplus", {"beta": 0.3, "threshold": 5.0}), ("softplus", {"beta": 1e30}),
    ("swish", {}), ("swish", {"beta": 1.7}), ("hard_swish", {}), ("gelu", {}),
    ("gelu", {"approximate": "tanh"}), ("mish", {}), ("celu", {}), ("celu", {"alpha": 2.0}),
    ("log_sigmoid", {}), ("tanhshrink", {}),
]


def test_tiny_table_is_tested():
    assert K.TINY_PATHS == _spec.TINY_PATHS, "rebuild: the module predates _spec.TINY_PATHS"
    ops = {_spec.SPECS[[s.name for s in _spec.SPECS].index(name)].kernel_args(**params)[0]
           for name, params in TINY}
    elementwise = {op for op, d in _spec.TINY_PATHS.items() if "forward" in d}
    assert elementwise <= ops, f"untested: {elementwise - ops}"


def _tiny(dtype, n, seed):
    """Subnormal inputs of both signs over the whole range (the smallest and largest
    significands too), and some +-0."""
    rng = np.random.default_rng(seed)
    top = 2 ** 23 if dtype == F32 else 2 ** 52
    m = rng.integers(1, top, n).astype(np.float64)
    m[::5] = rng.integers(1, 64, m[::5].size)
    m[1::11] = top - rng.integers(1, 64, m[1::11].size)
    m[2::13] = 2 * rng.integers(0, top // 2, m[2::13].size) + 1         # odd
    x = (m * rng.choice([-1.0, 1.0], n)).astype(dtype) * np.finfo(dtype).smallest_subnormal
    x[3::97] = 0.0
    x[4::97] = -0.0
    return x


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("name, params", TINY,
                         ids=[f"{n}-{'-'.join(map(str, p.values())) or 'default'}"
                              for n, p in TINY])
def test_tiny_and_exact_blocks(name, params, direction, dtype, detours_on):
    n = BLOCKS * BLOCK + 5
    x = _tiny(dtype, n, seed=8)
    _, g = _ordinary(dtype, n, seed=9)
    g[5::17] = np.finfo(dtype).tiny * 3                     # a tiny but normal grad
    lanes, exact_block = _rare_lanes(n, seed=10)
    # one ordinary lane in every other block: those blocks exact
    _against_exact_blocks(name, params, direction, dtype, x, g, lanes, 1.5, "tiny",
                          np.ones(n, bool))


def _against_exact_blocks(name, params, direction, dtype, x, g, lanes, exact_lane, what,
                          checked):
    """x's blocks (of a tier: `what`) against the same rows with x[lanes] = exact_lane,
    which makes those lanes' blocks exact: the other lanes the same bits, in place too,
    and the `checked` ones within the documented bound of the references."""
    xm = x.copy()
    xm[lanes] = np.array(exact_lane, dtype)

    def run(xv, gv, in_place):
        return _elementwise_call(name, params, direction, xv, gv, in_place)

    got = run(x, g, False)
    exact = run(xm, g, False)
    plain = np.ones(x.size, bool)
    plain[lanes] = False
    assert same_bits(exact[plain], got[plain]), f"{what} and exact blocks differ"
    assert same_bits(run(x.copy(), g.copy(), True), got), "in place"
    hi, lo, scale = reference_values(name, params, dtype, direction, x,
                                     None if direction == "forward" else g)
    _check(got, hi, lo, scale, bound(name, direction, dtype),
           f"{name}{params} {direction} {what} blocks", checked)


# ---------------------------------------------------------------- deep-negative blocks
# The ops and directions of _spec.NEG_FORMS run a whole block whose lanes are all below
# -DEEP_NEG (-64 / -640; the exp's argument: beta x, x / alpha; softplus's forward -72 /
# -672) with their factors of exp below 2**60 / 2**480 by NAME_DIR_neg (_formulas.pxd:
# the exact formula with exp(x) folded in, its scale-down by integer operations).  As
# for the tiny blocks: such runs many blocks long (just below -DEEP_NEG, the range of
# subnormal results, past the scaled exp's clamp; the first half also -max, -inf and
# grads of 2**100, lanes that some ops' blocks leave to the other paths), then the same
# with a lane at -DEEP_NEG itself in every other block (those blocks exact); the other
# lanes must be the same bits, in place too, at every SIMD level, with the subnormal
# detours on and off (off: _spec.NEG_PLAIN's forms scale down by one FMA), and the
# finite ones within the documented bound of the references.

NEG_FORMS = [
    ("mish", {}, "forward"), ("mish", {}, "backward"),
    ("sigmoid", {}, "forward"), ("sigmoid", {}, "backward"),
    ("swish", {}, "forward"), ("swish", {}, "backward"),                  # op silu
    ("swish", {"beta": 1.7}, "forward"), ("swish", {"beta": 1.7}, "backward"),
    ("softplus", {}, "forward"), ("softplus", {"beta": 0.3, "threshold": 5.0}, "forward"),
    ("softplus", {}, "backward"), ("softplus", {"beta": 0.3, "threshold": 5.0}, "backward"),
    ("log_sigmoid", {}, "forward"), ("log_sigmoid", {}, "backward"),
    ("elu", {}, "backward"), ("elu", {"alpha": 0.7}, "backward"),
    ("selu", {}, "backward"),
    ("celu", {}, "backward"), ("celu", {"alpha": 2.0}, "backward"),
]


def _neg_op(name, params):
    """The kernel op of a public function's call (swish with the default beta: silu)."""
    return "silu" if name == "swish" and not params else name


def test_neg_forms_table_is_tested():
    tested = {(_neg_op(n, p), d) for n, p, d in NEG_FORMS}
    listed = {(op, d) for op, ds in _spec.NEG_FORMS.items() for d in ds}
    assert listed <= tested, "untested"


def _exp_scale(name, params):
    """x times this is the exp's argument (1 / alpha for celu)."""
    if name in ("swish", "softplus"):
        return params.get("beta", 1.0)
    if name == "celu":
        return 1.0 / params.get("alpha", 1.0)
    return 1.0


def _deep_negative(dtype, n, seed, deep=None, scale=1.0):
    """x with scale * x below -deep (default DEEP_NEG): -deep's neighbour, the range of
    subnormal results, on to far past the scaled exp's clamp; -inf and -max in the
    first half only."""
    rng = np.random.default_rng(seed)
    f32 = dtype == F32
    deep = deep or (64.0 if f32 else 640.0)
    far, sub = (160.0, (87.0, 104.0)) if f32 else (1200.0, (708.0, 745.0))
    z = -rng.uniform(deep, far, n)
    z[::3] = -rng.uniform(max(sub[0], deep), sub[1], z[::3].size)
    x = (z / scale).astype(dtype)
    edge = np.nextafter(np.array(-deep / scale, dtype), np.array(-np.inf, dtype))
    # a few ulps below -deep / scale, where scale * x rounded stays below -deep
    x[1::7] = edge if scale == 1.0 else edge * np.array(1 + 2.0 ** -18, dtype)
    half = n // 2
    x[2:half:89] = -np.inf
    x[3:half:97] = -np.finfo(dtype).max
    return x


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params, direction", NEG_FORMS,
                         ids=[f"{n}-{'-'.join(map(str, p.values())) or 'default'}-{d}"
                              for n, p, d in NEG_FORMS])
def test_deep_negative_and_exact_blocks(name, params, direction, dtype, simd_level, detours):
    if direction not in _spec.NEG_FORMS.get(_neg_op(name, params), ()):
        pytest.skip("no deep-negative blocks")
    n = BLOCKS * BLOCK + 5
    scale = _exp_scale(name, params)
    f32 = dtype == F32
    deep = (72.0 if f32 else 672.0) if (name, direction) == ("softplus", "forward") else None
    x = _deep_negative(dtype, n, seed=31, deep=deep, scale=scale)
    _, g = _ordinary(dtype, n, seed=32)
    g[5::17] = np.finfo(dtype).tiny * 3
    g[6:n // 2:19] = np.array(2.0 ** 100, dtype)
    g[7::23] = 0.0
    # large grads in the first half only: the sigmoid family's deep lanes refuse factors
    # of 2^60 / 2^480 and more (their blocks run exact), the second half's blocks stay deep
    g[8:n // 2:29] = -np.finfo(dtype).max
    g[9:n // 2:31] = np.array(2.0 ** 60, dtype)
    g[10::37] = np.array(2.0 ** -100, dtype)
    g[11::41] = -0.0
    lanes, _ = _rare_lanes(n, seed=33)
    # g * f'(x) is rounded once for any g by mish (_formulas.pxd grad_times_scaled_down)
    # down to x = -131.7 / -1063, where t_up = exp(x) 2^64 / 2^512 is itself subnormal
    # (test_subnormal_results.py test_mish_large_grads_deep): below, a large grad is
    # checked for bits only; the others at every x (_formulas.pxd "Large grads at
    # underflowing derivatives")
    t_up_subnormal = -131.7 if dtype == F32 else -1063.0
    once = (x >= t_up_subnormal) if name == "mish" else np.ones(x.shape, bool)
    checked = np.isfinite(x) & (once | (np.abs(g) < 2.0 ** 40))
    # -DEEP_NEG itself (the exp's argument) in every other block: those blocks exact
    _against_exact_blocks(name, params, direction, dtype, x, g, lanes,
                          (-64.0 if f32 else -640.0) / scale, "deep-negative", checked)


# softplus's backward takes deep lanes down to z = -2**24 / -2**52 (_formulas.pxd
# softplus_grad_low), past -FAST_SAT, where its exact formula is g * 0: blocks across
# -FAST_SAT (z spread over 0.6 to 1.2 FAST_SAT, a third of the lanes log-uniform from
# -DEEP_NEG to the bound) run deep, and must give the exact blocks' bits.

@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("params", [{}, {"beta": 0.3, "threshold": 5.0},
                                    {"beta": 1.7, "threshold": -100.0}],
                         ids=["default", "beta0.3", "beta1.7-threshold-100"])
def test_softplus_backward_deep_blocks_past_saturation(params, dtype, simd_level, detours):
    n = BLOCKS * BLOCK + 5
    f32 = dtype == F32
    sat, low, deep = (256.0, 2.0 ** 24, 64.0) if f32 else (2048.0, 2.0 ** 52, 640.0)
    scale = params.get("beta", 1.0)
    rng = np.random.default_rng(41)
    z = -rng.uniform(0.6 * sat, 1.2 * sat, n)
    z[::3] = -np.exp(rng.uniform(np.log(deep * 1.01), np.log(low), z[::3].size))
    x = (z / scale).astype(dtype)
    _, g = _ordinary(dtype, n, seed=42)
    g[5::17] = -0.0
    g[6::19] = 0.0
    lanes, _ = _rare_lanes(n, seed=43)
    _against_exact_blocks("softplus", params, "backward", dtype, x, g, lanes, -deep / scale,
                          "deep-negative", np.isfinite(x))


# softplus's backward predicate, one unsigned compare, also holds on blocks that its fast
# formula serves (_formulas.pxd mul_sigmoid_band_rare_pair): float32 z = beta x in
# [-60, -39), float64 grads of 2**-150 to 2**-87 at z < 0.  Such a block takes a second
# pass (_spec.FAST_SAT_PATHS, softplus_backward_band_rare: the float form) and, with no
# lane in the band (z in [-FAST_SAT, -60)) and no grad below FAST_TINY at z < 0, runs the
# fast formula.  Runs of such blocks, every other block with one lane that the second
# pass must catch (a band z, where the fast formula's exp is clamped; a tiny grad: g t
# rounded twice): every finite lane within the documented bound of the references, and
# the other lanes the same bits as those blocks without that lane, in place too.

@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("params", [{}, {"beta": 0.5}, {"beta": 2.0, "threshold": 5.0}],
                         ids=["default", "beta0.5", "beta2-threshold5"])
def test_softplus_backward_widened_predicate_blocks(params, dtype, simd_level, detours):
    n = BLOCKS * BLOCK + 5
    f32 = dtype == F32
    beta = params.get("beta", 1.0)
    rng = np.random.default_rng(51)
    _, g = _ordinary(dtype, n, seed=52)
    if f32:
        z = rng.uniform(-60.0, -39.0, n)
        z[::5] = np.nextafter(np.float32(-39.0), np.float32(-np.inf))
        band, tiny = -100.0, 2.0 ** -40                   # FAST_TINY = 2**-38
    else:
        z = rng.uniform(-40.0, -0.5, n)
        g = (np.where(rng.random(n) < 0.5, -1.0, 1.0)
             * 2.0 ** rng.uniform(-149.9, -87.1, n)).astype(dtype)
        band, tiny = -720.0, 2.0 ** -152                  # FAST_TINY = 2**-150
    x = (z / beta).astype(dtype)
    lanes, _ = _rare_lanes(n, seed=53)
    xr, gr = x.copy(), g.copy()
    xr[lanes[::2]] = np.array(band / beta, dtype)         # the band: exact blocks
    xr[lanes[1::2]] = np.array(-3.0 / beta, dtype)        # a tiny grad at z < 0: exact too
    gr[lanes[1::2]] = np.array(tiny, dtype)
    got = _elementwise_call("softplus", params, "backward", x, g, False)
    exact = _elementwise_call("softplus", params, "backward", xr, gr, False)
    plain = np.ones(n, bool)
    plain[lanes] = False
    assert same_bits(exact[plain], got[plain]), "fast and exact blocks differ"
    assert same_bits(_elementwise_call("softplus", params, "backward", xr.copy(), gr.copy(),
                                       True), exact), "in place"
    limit = bound("softplus", "backward", dtype)
    for xv, gv, res, what in ((x, g, got, "widened"), (xr, gr, exact, "band and tiny-grad")):
        hi, lo, scale = reference_values("softplus", params, dtype, "backward", xv, gv)
        _check(res, hi, lo, scale, limit, f"softplus{params} backward {what} blocks",
               np.isfinite(xv) & np.isfinite(gv))


# ---------------------------------------------------------------- tiny gate blocks
# The gates of _spec.TINY_PATHS run a block whose a and b are all subnormal or zero (and,
# backward, whose grads are zero or 2^-60 <= |g| <= 2^60) by their tiny forms
# (_formulas.pxd "tiny gate blocks").  As above: such runs many blocks long, then the
# same with one ordinary lane in a (row 0) and in b (row 1) of every other block (those
# blocks exact), and grads of every kind; the lanes of the exact blocks that are tiny
# must equal the tiny blocks' bit for bit; with the subnormal detours on and off (the
# plain forms of _spec.TINY_PLAIN_GATES).

TINY_GATED = [("glu", {}), ("swiglu", {}), ("geglu", {})]


def test_tiny_gate_table_is_tested():
    gates = {op for op, d in _spec.TINY_PATHS.items() if "gate" in d or "gate_grad" in d}
    assert gates <= {name for name, _ in TINY_GATED}, "untested tiny gate blocks"
    for op, directions in _spec.TINY_PLAIN_GATES.items():
        assert set(directions) <= set(_spec.TINY_PATHS[op]), op


@pytest.fixture(params=[True, False], ids=["detours", "plain"])
def detours(request):
    """The subnormal detours on and off (off: the gates' tiny blocks of
    _spec.TINY_PLAIN_GATES run their plain forms); restore the setting."""
    kernels = act._functions._K
    old = kernels._set_subnormal_detours(request.param)
    try:
        yield request.param
    finally:
        kernels._set_subnormal_detours(old)


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("name, params", TINY_GATED,
                         ids=[f"{n}-{'-'.join(p.values()) or 'default'}" for n, p in TINY_GATED])
def test_tiny_gate_and_exact_blocks(name, params, direction, dtype, simd_level, detours):
    half = BLOCKS * BLOCK + 5
    rows = 2
    x = _tiny(dtype, rows * 2 * half, seed=11).reshape(rows, 2 * half)
    _, g = _ordinary(dtype, rows * half, seed=12)
    g = g.reshape(rows, half)
    rng = np.random.default_rng(13)
    g[:, 7::29] = 0.0
    g[:, 8::31] = -0.0
    g[:, 9::37] = np.array(2.0 ** 59, dtype) * rng.choice([-1, 1], g[:, 9::37].shape)
    g[:, 10::41] = np.array(2.0 ** -59, dtype) * rng.choice([-1, 1], g[:, 10::41].shape)
    g[:, 11::43] = rng.uniform(1e-6, 1e6, g[:, 11::43].shape)
    g[0, 3 * BLOCK + 17] = np.finfo(dtype).tiny * 3        # a grad that is not plain:
    g[1, 5 * BLOCK + 3] = np.array(1e30, dtype)            # those blocks run exact
    lanes, exact_block = _rare_lanes(half, seed=14)
    xm = x.copy()
    xm[0, lanes] = np.array(1.5, dtype)
    xm[1, half + lanes] = np.array(-0.75, dtype)
    fwd, bwd = getattr(act, name), getattr(act, f"{name}_backward")

    def run(xv, gv, in_place):
        if direction == "forward":
            return fwd(xv, axis=-1, **params)
        if in_place:
            return bwd(gv, xv, axis=-1, out=xv, **params)
        return bwd(gv, xv, axis=-1, **params)

    tiny = run(x, g, False)
    exact = run(xm, g, False)
    # the exact blocks' lanes that are still tiny: a in row 1 and b in row 0 untouched
    untouched = np.ones(exact.shape, bool)
    if direction == "forward":
        untouched[:, lanes] = False
    else:
        untouched[:, lanes] = untouched[:, half + lanes] = False
    assert same_bits(exact[untouched], tiny[untouched]), "tiny and exact blocks differ"
    if direction == "backward":
        assert same_bits(run(x.copy(), g, True), tiny), "in place"
    inner = {"glu": "sigmoid", "swiglu": "swish", "geglu": "gelu"}[name]
    hi, ghi, gscale = gate_reference(name, inner, params, x, g, -1)
    limit = documented_bound(name, dtype, "fwd" if direction == "forward" else "bwd")
    if direction == "forward":
        _check(tiny, hi, None, None, limit, f"{name}{params} tiny blocks", np.ones(hi.shape, bool))
    else:
        _check(tiny, ghi, None, gscale, limit, f"{name}{params}' tiny blocks",
               np.ones(ghi.shape, bool))


# ---------------------------------------------------------------- software prefetch
# Whether the blocked loops prefetch is decided at import by a probe of the core
# (_kernels.pyx, probe_hardware_streams): on or off, every element is computed by the
# same code, so the bits must not change.  Arrays long enough for the prefetch to run
# (it reaches PREFETCH_AHEAD = 2 blocks on), with fast, exact and tiny blocks.

@pytest.mark.parametrize("dtype", dtype_params())
def test_software_prefetch_changes_no_bits(dtype, simd_level):
    kernels = act._functions._K
    assert kernels.HARDWARE_STREAM_NS is None or kernels.HARDWARE_STREAM_NS > 0
    n = BLOCKS * BLOCK + 5
    x, g = _ordinary(dtype, n, seed=13)
    x[2 * BLOCK:3 * BLOCK] = _tiny(dtype, BLOCK, seed=14)      # a tiny block
    x[5 * BLOCK + 7] = RARE[np.dtype(dtype)][0]                  # an exact block
    cases = [(name, params, d) for name, params, d in ELEMENTWISE]
    cases += [(name, params, d) for name, params in TINY for d in ("forward", "backward")]
    old = kernels._set_software_prefetch(True)
    try:
        for name, params, direction in cases:
            runs = []
            for on in (True, False, True):
                kernels._set_software_prefetch(on)
                runs.append(_elementwise_call(name, params, direction, x.copy(), g.copy(), False))
            assert same_bits(runs[0], runs[1]) and same_bits(runs[0], runs[2]), \
                f"{name}{params} {direction}: prefetch on and off differ"
    finally:
        kernels._set_software_prefetch(old)


# ---------------------------------------------------------------- subnormal detours
# Whether the ops of _spec.TINY_FOR_ASSISTS and prelu run their tiny blocks, and those of
# _spec.RARE_FOR_ASSISTS their rare-block test, is decided at import by a probe of the
# core (_kernels.pyx, probe_subnormal_arithmetic): on or off, the results are the same
# bits.  Every elementwise op with tiny blocks in both directions, sigmoid's backward
# from y, the gates and prelu (channels last and runs, with grad_weight), over runs of
# tiny blocks with exact blocks among them.

def test_assists_tables():
    for op, directions in _spec.TINY_FOR_ASSISTS.items():
        assert set(directions) <= set(_spec.TINY_PATHS[op]), op
    assert _spec.RARE_FOR_ASSISTS == {"sigmoid": ("backward_from_output",)}, \
        "a new op: add it to test_subnormal_detours_change_no_bits"
    for op, directions in _spec.RARE_FOR_ASSISTS.items():
        assert set(directions) <= set(_spec.FAST_PATHS[op]), op
    ops = {_spec.SPECS[[s.name for s in _spec.SPECS].index(name)].kernel_args(**params)[0]
           for name, params in TINY}
    assert set(_spec.TINY_FOR_ASSISTS) <= ops, "untested"


@pytest.mark.parametrize("dtype", dtype_params())
def test_subnormal_detours_change_no_bits(dtype, simd_level):
    kernels = act._functions._K
    ratio = kernels.SUBNORMAL_MUL_RATIO
    assert ratio is None or ratio > 0
    assert kernels.subnormal_detours_on() == (ratio is None or ratio > kernels.SUBNORMAL_SLOW_RATIO)
    n = BLOCKS * BLOCK + 5
    x = _tiny(dtype, n, seed=21)
    _, g = _ordinary(dtype, n, seed=22)
    g[5::17] = np.finfo(dtype).tiny * 3
    x[3 * BLOCK + 9] = np.array(1.5, dtype)                     # an exact block
    x[6 * BLOCK] = RARE[np.dtype(dtype)][0]                     # a rare one
    rng = np.random.default_rng(23)
    C = 64
    w = (rng.uniform(0.01, 4.0, C) * rng.choice([-1.0, 1.0], C)).astype(dtype)
    xc = x[:(n // C) * C].reshape(-1, C)
    xr = x[:3 * (n // 3)].reshape(3, 1, -1)
    calls = [(f"{name}{params} {d}", lambda name=name, params=params, d=d:
              _elementwise_call(name, params, d, x.copy(), g.copy(), False))
             for name, params in TINY for d in ("forward", "backward")]
    calls += [("rrelu", lambda: act.rrelu(x, training=False)),
              ("sigmoid' from y", lambda: act.sigmoid_backward(g, y=np.abs(x)))]
    for name, _ in TINY_GATED:
        xg = x[:4 * (n // 4)].reshape(2, -1)
        gg = g[:xg.size // 2].reshape(2, -1)
        calls += [(f"{name} forward", lambda name=name, xg=xg: getattr(act, name)(xg, axis=-1)),
                  (f"{name} backward", lambda name=name, xg=xg, gg=gg:
                   getattr(act, f"{name}_backward")(gg, xg, axis=-1))]
    calls += [("prelu channels last", lambda: act.prelu(xc, w, axis=1)),
              ("prelu' channels last", lambda: act.prelu_backward(np.ones_like(xc), xc, w, axis=1)),
              ("prelu runs", lambda: act.prelu(xr, w[:1], axis=1)),
              ("prelu' runs", lambda: act.prelu_backward(g[:xr.size].reshape(xr.shape), xr,
                                                         w[:1], axis=1))]
    old = kernels._set_subnormal_detours(True)
    try:
        for what, call in calls:
            runs = []
            for on in (True, False, True):
                kernels._set_subnormal_detours(on)
                got = call()
                runs.append(got if isinstance(got, tuple) else (got,))
            for a, b, c in zip(*runs):
                assert same_bits(a, b) and same_bits(a, c), f"{what}: detours on and off differ"
    finally:
        kernels._set_subnormal_detours(old)


def _softplus_special_inputs(dtype, n, seed):
    """(g, x) mixing ordinary values with every kind of input that softplus's backward
    fast blocks take (signed zeros, subnormal and tiny x, values at the threshold, at
    the fast range's edge and past FAST_SAT, huge, infinite and NaN x; zero, huge,
    infinite and NaN g), none that makes a block rare."""
    f32 = np.dtype(dtype) == F32
    info = np.finfo(dtype)
    rng = np.random.default_rng(seed)
    sat, edge = (256.0, 60.0) if f32 else (2048.0, 600.0)
    xs = [0.0, -0.0, float(info.smallest_subnormal), -float(info.smallest_subnormal),
          float(info.tiny) / 3, -float(info.tiny) / 3, float(info.tiny), 1e-30, -1e-30,
          20.0, np.nextafter(20.0, 0.0), np.nextafter(20.0, 99.0), -20.0, 30.0, -30.0, edge,
          edge * 0.99, -edge * 0.6, sat, -sat - 1, sat * 1.5, -sat * 1.5, sat * 40, -sat * 40,
          1e30, -1e30, float(info.max), -float(info.max), np.inf, -np.inf, np.nan]
    gs = [0.0, -0.0, 1e30, -1e30, float(info.max), np.inf, -np.inf, np.nan, 1.0, -3.0]
    x = (rng.standard_normal(n) * 5).astype(dtype)
    g = (rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n)).astype(dtype)
    pick = rng.random(n) < 0.5
    x[pick] = np.array(xs, dtype)[rng.integers(0, len(xs), pick.sum())]
    pick = rng.random(n) < 0.3
    g[pick] = np.array(gs, dtype)[rng.integers(0, len(gs), pick.sum())]
    return g, x


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("beta", [1.0, 0.5])
@pytest.mark.parametrize("threshold", [20.0, 1e4, -5.0])
def test_softplus_backward_fast_blocks_special_inputs(beta, threshold, dtype, simd_level):
    """softplus's backward fast blocks (beta = 1: the _unit forms, _spec.FAST_UNIT; other
    beta: the general ones) give the general exact formula's bits on every kind of
    input they take (threshold 1e4: z past FAST_SAT below the threshold too), and blocks
    with rare lanes (z in the exp's band, tiny g, subnormal g) give them too."""
    n = BLOCKS * BLOCK + 5
    params = {"beta": beta, "threshold": threshold}
    g, x = _softplus_special_inputs(dtype, n, seed=21)
    with np.errstate(over="ignore"):
        x = (x / np.dtype(dtype).type(beta)).astype(dtype)
    band = np.array((-100.0 if dtype == F32 else -700.0) / beta, dtype)
    lanes, _ = _rare_lanes(n, seed=22)
    starts = np.arange(0, n, BLOCK)
    every = np.minimum(starts + 7, n - 1)       # a band lane in every block: all exact
    keep = np.ones(n, bool)
    keep[every] = False
    xe, ge = x.copy(), g.copy()
    xe[every], ge[every] = band, 1.0
    fast = backward("softplus", g, x, params)
    exact = backward("softplus", ge, xe, params)
    assert same_bits(fast[keep], exact[keep]), "fast and exact blocks differ"
    # rare lanes of every kind in every other block: tiny and subnormal g at both
    # signs of z, z in the band
    info = np.finfo(dtype)
    xr, gr = x.copy(), g.copy()
    kinds = [(1e-30 if dtype == F32 else 1e-200, -1.5), (-float(info.smallest_subnormal), 2.0),
             (float(info.tiny) / 7, -0.25), (1.0, float(band))]
    for k, lane in enumerate(lanes):
        gr[lane], xr[lane] = kinds[k % len(kinds)]
    mixed = backward("softplus", gr, xr, params)
    xe, ge = xr.copy(), gr.copy()
    keep &= ~np.isin(np.arange(n), lanes)
    xe[every], ge[every] = band, 1.0
    exact = backward("softplus", ge, xe, params)
    assert same_bits(mixed[keep], exact[keep]), "blocks with rare lanes differ"
    assert same_bits(mixed[lanes], backward("softplus", gr[lanes].copy(), xr[lanes].copy(), params))
    inplace = gr.copy()
    assert same_bits(backward("softplus", inplace, xr, params, out=inplace), mixed), "in place"
