"""glu, swiglu, geglu: x split along ``axis`` into halves a (first) and b
(second); the forward has half the size, the backward returns the gradient for the
whole x.  References compose the elementwise rows of tests/reference.py (mpmath for
float64, NumPy float64 for float32):

    glu    = a * sigmoid(b)   d/da = sigmoid(b),     d/db = a * sigmoid'(b)
    swiglu = silu(a) * b      d/da = b * silu'(a),   d/db = silu(a)
    geglu  = gelu(a) * b      d/da = b * gelu'(a),   d/db = gelu(a)
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import activations as act
from cases import dtype_params, same_bits
from reference import F32, F64, REFERENCES, mp, ulp_error

#: (name, params, inner activation, its params) -- the gate of a and of b
GATES = [
    ("glu", {}, "sigmoid", {}),
    ("swiglu", {}, "swish", {}),
    ("geglu", {}, "gelu", {}),
    ("geglu", {"approximate": "tanh"}, "gelu", {"approximate": "tanh"}),
]

#: ulps: the inner function's error (gelu float64 <= 5, swish, sigmoid a few) plus the
#: product's rounding; the backward in ulps of its terms
FORWARD_BOUND = {F32: 2.5, F64: 6.0}   # measured 2.18 (float32)
BACKWARD_BOUND = {F32: 4.0, F64: 7.0}  # measured 3.38 (float32 swiglu)


def gate_params():
    return [pytest.param(n, p, f, fp, id=n + ("-tanh" if p else "")) for n, p, f, fp in GATES]


def _fn(name):
    return getattr(act, name), getattr(act, f"{name}_backward")


def _split(x, axis):
    h = x.shape[axis] // 2
    return np.take(x, np.arange(h), axis=axis), np.take(x, np.arange(h, 2 * h), axis=axis)


def gate_reference(name, inner, iparams, x, g, axis):
    """(forward hi, grad hi, grad scale) as float64 arrays."""
    ref = REFERENCES[inner]
    p = ref.effective(iparams, x.dtype)
    a, b = (v.astype(np.float64) for v in _split(x, axis))
    gg = g.astype(np.float64)
    act_on = b if name == "glu" else a   # the argument of the nonlinearity
    other = a if name == "glu" else b    # the linear factor
    if x.dtype == F32:
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            f = ref.forward_np(act_on, p)
            d = ref.derivative_np(act_on, p)
            ds = ref.derivative_scale_np(act_on, p) if ref.derivative_scale_np else np.abs(d)
        out = other * f
        grad_act = gg * other * d        # g * d out / d(act_on): g * other exact
        grad_other = gg * f
    else:
        def ev(fn, v):
            return [fn(mp.mpf(float(t)), p) for t in v.ravel()]

        def product(*factors):
            # in mpmath: a float64 product of a subnormal would be rounded twice
            return np.array([float(mp.fprod([mp.mpf(float(v)) if not isinstance(v, mp.mpf)
                                             else v for v in vs]))
                             for vs in zip(*factors)]).reshape(act_on.shape)
        f_mp = ev(ref.forward_mp, act_on)
        d_mp = ev(ref.derivative_mp, act_on)
        d = np.array([float(v) for v in d_mp]).reshape(act_on.shape)
        ds = (np.array([float(ref.derivative_scale_mp(mp.mpf(float(t)), p))
                        for t in act_on.ravel()]).reshape(act_on.shape)
              if ref.derivative_scale_mp else np.abs(d))
        out = product(other.ravel(), f_mp)
        grad_act = product(gg.ravel(), other.ravel(), d_mp)
        grad_other = product(gg.ravel(), f_mp)
    scale_act = np.abs(gg * other) * ds
    if name == "glu":
        ga, gb, sa, sb = grad_other, grad_act, np.abs(grad_other), scale_act
    else:
        ga, gb, sa, sb = grad_act, grad_other, scale_act, np.abs(grad_other)
    return (out, np.concatenate([ga, gb], axis=axis), np.concatenate([sa, sb], axis=axis))


SHAPES = [
    ("last-axis-32x64", (32, 64), -1),
    ("last-axis-odd-half-5x46", (5, 46), -1),
    ("axis0-10x7", (10, 7), 0),
    ("middle-axis-3x8x5", (3, 8, 5), 1),
    ("middle-axis-negative-3x8x5", (3, 8, 5), -2),
    ("first-of-3d-6x4x3", (6, 4, 3), 0),
    ("1d-40", (40,), 0),
    ("length-2", (4, 2), -1),
    ("empty-across", (0, 6), -1),
    ("empty-along", (3, 0), -1),
]


def _data(shape, axis, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3, shape).astype(dtype)
    half = list(shape)
    half[axis] //= 2
    g = rng.uniform(-2, 2, half).astype(dtype)
    return x, g


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("sid, shape, axis", SHAPES, ids=[s[0] for s in SHAPES])
@pytest.mark.parametrize("name, params, inner, iparams", gate_params())
def test_against_reference(name, params, inner, iparams, sid, shape, axis, dtype):
    x, g = _data(shape, axis, dtype)
    fwd, bwd = _fn(name)
    y = fwd(x, axis=axis, **params)
    gx = bwd(g, x, axis=axis, **params)
    assert y.shape == g.shape and y.dtype == dtype and y.flags.c_contiguous
    assert gx.shape == x.shape and gx.dtype == dtype
    if x.size == 0:
        return
    hi, ghi, gscale = gate_reference(name, inner, iparams, x, g, axis)
    err = ulp_error(y, hi)
    assert err.max() <= FORWARD_BOUND[dtype], (x.ravel()[np.argmax(err)], err.max())
    gerr = ulp_error(gx, ghi, None, gscale)
    assert gerr.max() <= BACKWARD_BOUND[dtype], gerr.max()


def test_geglu_float32_far_tail_times_large_factors():
    """float32 geglu where gelu(a) and gelu'(a) underflow by themselves (a < -15) but
    their products with a large b (and g b) are float32 numbers: against the float64
    reference, forward and both gradients, in one block with ordinary lanes (the far
    tail is the exact path of geglu's per-block fast path)."""
    a = np.array([-15.5, -16.0, -17.25, -18.0, -19.0, -19.5, -20.5, -23.5, -30.0, -40.0,
                  0.5, -1.0], np.float32)
    b = np.array([3e38, -1e30, 2e35, 1e33, -3e36, 3e38, 3e38, 2e20, 3e38, 3e38, 1.0, 2.0],
                 np.float32)
    g = np.array([1.0, 2.0, -0.5, 3e38, 1.0, -1e10, 3e38, 1.0, 3e38, 3e38, 1.0, 1.0],
                 np.float32)
    x = np.stack([a, b], axis=-1).reshape(-1, 2)   # axis -1: a then b per row
    y = act.geglu(x)[:, 0]
    gx = act.geglu_backward(g[:, None], x)
    hi, ghi, gscale = gate_reference("geglu", "gelu", {}, x, g[:, None], -1)
    assert np.count_nonzero(hi[:9]) == 9, "the cases must not all underflow"
    err = ulp_error(y, hi[:, 0])
    assert err.max() <= FORWARD_BOUND[F32], (a[np.argmax(err)], y, hi[:, 0])
    gerr = ulp_error(gx, ghi, None, gscale)
    assert gerr.max() <= BACKWARD_BOUND[F32], (gerr, gx, ghi)


def _tiny_values(dtype, n, rng):
    """Subnormals over the whole range (random significands, the smallest and largest
    too), normals within 2**24 of the smallest, +-0; both signs."""
    fi = np.finfo(dtype)
    top = 2 ** (fi.nmant)
    m = rng.integers(1, top, n).astype(np.float64)
    m[::7] = rng.integers(1, 64, m[::7].size)
    m[1::11] = top - rng.integers(1, 64, m[1::11].size)
    v = m * float(fi.smallest_subnormal)
    normal = rng.random(n) < 0.3
    v[normal] = (rng.uniform(1, 2, normal.sum()) * 2.0 ** rng.integers(0, 25, normal.sum())
                 * float(fi.smallest_normal))
    v[3::53] = 0.0
    v *= rng.choice([-1.0, 1.0], n)
    return v.astype(dtype)


def _grads(dtype, n, rng, kmin, kmax):
    """+-2**k times a random significand, k uniform in [kmin, kmax], and +-0."""
    g = (rng.uniform(1, 2, n) * 2.0 ** rng.integers(kmin, kmax + 1, n)
         * rng.choice([-1.0, 1.0], n))
    g[5::61] = 0.0
    g[6::67] = -0.0
    return g.astype(dtype)


def _tiny_gate_rows(dtype, seed):
    """Rows (a | b, g) of tiny inputs times grads of every magnitude: the products whose
    intermediate roundings would land in the subnormal range.  Rows of a few fast-path
    blocks, so that tiny, fast and exact blocks all run."""
    rng = np.random.default_rng(seed)
    fi = np.finfo(dtype)
    n = 2 * act._functions._K.FAST_PATH_BLOCK + 7
    emax = fi.maxexp - 1

    def tiny():
        return _tiny_values(dtype, n, rng)

    def ordinary():
        return (rng.standard_normal(n) * 3).astype(dtype)

    def huge():     # times a grad below 1 it stays finite
        v = rng.uniform(1, 2, n) * 2.0 ** rng.integers(1, emax, n)
        return (v * rng.choice([-1.0, 1.0], n)).astype(dtype)

    plain = lambda: _grads(dtype, n, rng, -60, 59)       # the tiny blocks' grads
    every = lambda: _grads(dtype, n, rng, -60, 60)
    small = lambda: _grads(dtype, n, rng, -60, -1)
    rows = [(tiny(), tiny(), plain()), (tiny(), tiny(), every()),
            (tiny(), ordinary(), every()), (ordinary(), tiny(), every()),
            (huge(), ordinary(), small()), (ordinary(), huge(), small()),
            (huge(), tiny(), small()), (tiny(), huge(), small())]
    x = np.stack([np.concatenate([a, b]) for a, b, _ in rows])
    g = np.stack([g for _, _, g in rows])
    return x, g


_TINY_REFERENCES = {}


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params, inner, iparams", gate_params())
def test_backward_tiny_inputs_times_grads_of_every_magnitude(name, params, inner, iparams,
                                                            dtype, simd_level):
    """Subnormal and tiny normal a and b with grads 2**-60 ... 2**60 (and tiny grads with
    huge a or b): every gradient within the bound of a reference rounded once, so no
    path (tiny, fast or exact blocks) rounds an intermediate product into the subnormal
    range before a factor that scales its error up."""
    x, g = _tiny_gate_rows(dtype, seed=21)
    key = (name, tuple(params.items()), np.dtype(dtype).name)
    if key not in _TINY_REFERENCES:
        _TINY_REFERENCES[key] = gate_reference(name, inner, iparams, x, g, -1)
    _, ghi, gscale = _TINY_REFERENCES[key]
    gx = _fn(name)[1](g, x, axis=-1, **params)
    gerr = ulp_error(gx, ghi, None, gscale)
    worst = np.unravel_index(np.argmax(gerr), gerr.shape)
    h = x.shape[1] // 2
    lane = worst[1] % h
    assert gerr.max() <= BACKWARD_BOUND[dtype], (
        gerr.max(), worst, x[worst[0], lane], x[worst[0], h + lane], g[worst[0], lane],
        gx[worst], ghi[worst])


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params, inner, iparams", gate_params())
def test_special_values(name, params, inner, iparams, dtype):
    # a and b paired: NaN anywhere gives NaN; limits at +-inf where the product is defined
    a = np.array([np.nan, 1.0, -np.inf, np.inf, 0.0, 2.0], dtype)
    b = np.array([1.0, np.nan, 2.0, 2.0, 3.0, -1.0], dtype)
    x = np.concatenate([a, b])
    fwd, bwd = _fn(name)
    y = fwd(x, **params)
    assert np.isnan(y[:2]).all() and not np.isnan(y[2:]).any(), y
    gx = bwd(np.ones(6, dtype), x, **params)
    # a NaN reaches the partial derivatives whose formula holds it: glu's d/da =
    # sigmoid(b) does not hold a, swiglu's / geglu's d/db = f(a) does not hold b
    ga, gb = gx[:6], gx[6:]
    if name == "glu":
        assert np.isfinite(ga[0]) and np.isnan(gb[0]) and np.isnan(ga[1]) and np.isnan(gb[1]), gx
    else:
        assert np.isnan(ga[0]) and np.isnan(gb[0]) and np.isnan(ga[1]) and np.isfinite(gb[1]), gx
    assert not np.isnan(gx[[4, 5, 10, 11]]).any(), gx
    if name == "glu":
        assert y[4] == 0 and y[3] == np.inf and y[2] == -np.inf
    else:  # silu(-inf) = gelu(-inf) = 0 (-0), times 2
        assert y[2] == 0 and y[3] == np.inf and y[4] == 0


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params, inner, iparams", gate_params())
def test_non_last_axis_equals_moved_last_axis(name, params, inner, iparams, dtype):
    # each output element is one a, b pair: the axis only changes the layout, bitwise
    x, g = _data((3, 10, 7), 1, dtype, seed=2)
    fwd, bwd = _fn(name)
    xm = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    gm = np.ascontiguousarray(np.moveaxis(g, 1, -1))
    assert same_bits(fwd(x, axis=1, **params), np.moveaxis(fwd(xm, **params), -1, 1).copy())
    assert same_bits(bwd(g, x, axis=1, **params),
                     np.moveaxis(bwd(gm, xm, **params), -1, 1).copy())
    # and non-contiguous inputs give the same bits as contiguous ones
    xt = np.asfortranarray(x)
    assert same_bits(fwd(xt, axis=1, **params), fwd(x, axis=1, **params))


@pytest.mark.parametrize("shape, axis", [((4, 2 * 40000), -1), ((2, 2 * 500, 100), 1),
                                         ((1, 2 * 2 ** 17), -1)],
                         ids=["last-4x80000", "middle-2x1000x100", "one-long-row"])
@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params, inner, iparams", gate_params())
def test_identical_for_1_2_3_threads(name, params, inner, iparams, dtype, shape, axis,
                                     restore_threads):
    x, g = _data(shape, axis, dtype, seed=3)
    fwd, bwd = _fn(name)
    res = []
    for n in (1, 2, 3):
        act.set_num_threads(n)
        res.append((fwd(x, axis=axis, **params), bwd(g, x, axis=axis, **params)))
    for k in range(2):
        assert same_bits(res[0][k], res[1][k]) and same_bits(res[0][k], res[2][k]), k


#: _gated.pxi's GATE_PREFETCH_MIN_BYTES: a call whose x is this large prefetches each
#: next unit's runs (out of cache); smaller ones do not
PREFETCH_MIN_BYTES = 1 << 24


@pytest.mark.parametrize("shape, axis", [((-1, 2 * 512), -1), ((-1, 2 * 8, 64), 1),
                                         ((-1, 2 * 24000), -1)],
                         ids=["rows-of-1024", "middle-16x64", "rows-past-a-block"])
@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params, inner, iparams", gate_params())
def test_call_past_the_prefetch_size_equals_its_parts(name, params, inner, iparams, dtype,
                                                      shape, axis, restore_threads):
    """A call large enough to prefetch gives the bits of its parts (slices along the
    first axis, each under the size), forward and backward, 1 and 2 threads."""
    n = PREFETCH_MIN_BYTES // np.dtype(dtype).itemsize
    x, g = _data((-(-n // math.prod(shape[1:])),) + shape[1:], axis, dtype, seed=5)
    assert x.nbytes >= PREFETCH_MIN_BYTES
    fwd, bwd = _fn(name)
    parts = np.array_split(np.arange(x.shape[0]), 8)
    assert max(len(p) for p in parts) * x.nbytes // x.shape[0] < PREFETCH_MIN_BYTES
    act.set_num_threads(1)
    want_y = np.concatenate([fwd(x[p], axis=axis, **params) for p in parts])
    want_d = np.concatenate([bwd(g[p], x[p], axis=axis, **params) for p in parts])
    for threads in (1, 2):
        act.set_num_threads(threads)
        assert same_bits(fwd(x, axis=axis, **params), want_y), threads
        assert same_bits(bwd(g, x, axis=axis, **params), want_d), threads


@pytest.mark.parametrize("name, params, inner, iparams", gate_params())
def test_out_argument(name, params, inner, iparams):
    x, g = _data((6, 20), -1, np.float64, seed=4)
    fwd, bwd = _fn(name)
    out = np.empty((6, 10))
    assert fwd(x, out=out, **params) is out and same_bits(out, fwd(x, **params))
    gout = np.empty_like(x)
    assert bwd(g, x, out=gout, **params) is gout and same_bits(gout, bwd(g, x, **params))


BUG_GATED_OUT_IS_X = (
    "gated backward with out=x (x's shape, so accepted) is silently wrong: the kernel "
    "writes d/da over a before reading a for d/db.  docs/api.md: an out sharing memory with "
    "an input must give the correct result or raise ValueError.  Reproducer: x = "
    "np.array([[1., 2.]]); act.glu_backward(np.ones((1, 1)), x.copy()) -> "
    "[[0.8808, 0.1050]] but act.glu_backward(np.ones((1, 1)), x, out=x) -> "
    "[[0.8808, 0.0925]] (swiglu: 0.7311 vs 1.6044)")


@pytest.mark.parametrize("name, params, inner, iparams", gate_params())
def test_backward_out_is_x(name, params, inner, iparams):
    x, g = _data((6, 20), -1, np.float64, seed=4)
    fwd, bwd = _fn(name)
    expected = bwd(g, x, **params)
    xin = x.copy()
    try:
        res = bwd(g, xin, out=xin, **params)  # the gradient over x itself
    except ValueError:
        np.testing.assert_array_equal(xin, x)  # refused before anything is written
        return
    assert res is xin
    assert same_bits(xin, expected)


@pytest.mark.parametrize("name, params, inner, iparams", gate_params())
def test_errors(name, params, inner, iparams):
    fwd, bwd = _fn(name)
    x = np.ones((4, 6))
    with pytest.raises(ValueError):
        fwd(np.ones((4, 5)), **params)                     # odd length along the axis
    with pytest.raises(ValueError):
        fwd(np.ones((3, 6)), axis=0, **params)
    with pytest.raises(ValueError):
        bwd(np.ones((4, 2)), np.ones((4, 5)), **params)
    with pytest.raises(ValueError):
        fwd(np.float64(1.0), **params)                     # 0-d: nothing to split
    with pytest.raises(ValueError):
        bwd(np.float64(1.0), np.float64(1.0), **params)
    with pytest.raises(ValueError):
        bwd(np.ones((4, 6)), x, **params)                  # grad must be half of x
    with pytest.raises(ValueError):
        bwd(np.ones((2, 6)), x, **params)
    with pytest.raises(TypeError):
        bwd(np.ones((4, 3), np.float32), x, **params)      # no silent cast
    with pytest.raises(TypeError):
        bwd(np.ones((4, 3)), y=x, **params)                # x only
    out = np.full((4, 6), 7.0)
    with pytest.raises(ValueError):
        fwd(x, out=out, **params)                          # out must be half size
    with pytest.raises(ValueError):
        bwd(np.ones((4, 3)), x, out=np.empty((4, 3)), **params)  # out must be x's shape
    assert (out == 7.0).all()
    from numpy.exceptions import AxisError
    with pytest.raises(AxisError):
        fwd(x, axis=2, **params)
    with pytest.raises(TypeError):
        fwd(x.astype(np.int32), **params)


def test_geglu_approximate_must_be_known():
    with pytest.raises(ValueError):
        act.geglu(np.ones(4), approximate="erf")
    with pytest.raises(ValueError):
        act.geglu_backward(np.ones(2), np.ones(4), approximate="fast")


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("axis", [-1, 1, 0])
@pytest.mark.parametrize("name, params, inner, iparams", gate_params())
def test_matches_torch(name, params, inner, iparams, axis, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, g = _data((4, 6, 8), axis, dtype, seed=5)
    t = torch.tensor(x, requires_grad=True)
    a, b = torch.chunk(t, 2, dim=axis)
    if name == "glu":
        ty = F.glu(t, dim=axis)
    elif name == "swiglu":
        ty = F.silu(a) * b
    else:
        ty = F.gelu(a, approximate=params.get("approximate", "none")) * b
    ty.backward(torch.tensor(g))
    fwd, bwd = _fn(name)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(fwd(x, axis=axis, **params), ty.detach().numpy(),
                               rtol=16 * eps, atol=16 * eps * 9)
    np.testing.assert_allclose(bwd(g, x, axis=axis, **params), t.grad.numpy(),
                               rtol=16 * eps, atol=32 * eps * 9)


# ---------------------------------------------------------- products that overflow
# The backward's g * other * f'(act_on) where g * other alone overflows the dtype but the
# whole product is finite or rounds to 0 (or truly overflows: inf).  The reference is
# the exact product in mpmath, rounded once.  Lanes sit among ordinary ones in rows of a
# few fast-path blocks, so that fast, saturated and exact blocks all see them.

def _overflow_pairs(dtype):
    """(other, g) pairs whose product overflows the dtype: both near the top, one
    huge and one moderate, the product just past the top; both signs."""
    fi = np.finfo(dtype)
    top, half = float(fi.max), 2.0 ** (fi.maxexp // 2)
    return [(0.9 * top, 0.9 * top), (-0.9 * top, 0.7 * top), (0.6 * top, -3.0),
            (1.5 * half, 1.25 * half), (-1.7 * 2.0 ** (0.3 * fi.maxexp), 1.3 * 2.0 ** (0.75 * fi.maxexp))]


def _act_on_values(name, params, dtype):
    """The nonlinearity's arguments: saturated (huge, +-inf) and in the exp's band,
    where f' is far below 1 but g * other * f' is not (none near swish's root -1.28).
    float64 stops where f' leaves float64's range by 2**-512 (_formulas.pxd, "Products
    of two inputs that overflow": the documented limit): gelu' a little past -37 (the
    tanh form's, steeper, past -21), silu' and sigmoid' past -1050."""
    band = [-300.0, -100.0, -50.0, -30.0, -20.0, -3.0, -0.5, 0.5, 3.0, 20.0, 100.0, 300.0]
    band += [-200.0, -250.0, -280.0] if dtype == F32 else [-700.0, -1000.0]
    if dtype == F64 and name == "geglu":
        band = [v for v in band if v >= (-20.0 if params else -30.0)]
    return band + [-5000.0, 5000.0, -1e30, 1e30, -np.inf, np.inf]


def _overflow_rows(name, params, dtype):
    """Rows (x = a | b, g) and the special lanes' (row, lane) positions: row 0 the band
    and saturated arguments in the first block, row 1 only saturated arguments in the
    first block and ordinary arguments in the second (both with products that
    overflow), row 2 zeros, infinities and NaN among them; ordinary lanes elsewhere."""
    rng = np.random.default_rng(5)
    n = 2 * act._functions._K.FAST_PATH_BLOCK + 7
    pairs = _overflow_pairs(dtype)
    vals = _act_on_values(name, params, dtype)
    sat = [v for v in vals if abs(v) > 2000.0 or (dtype == F32 and abs(v) > 256.0)]
    top = float(np.finfo(dtype).max)
    tiny = float(np.finfo(dtype).smallest_normal) * 4.0   # times 2**-512: 0
    ordinary = [float(v) for v in rng.standard_normal(n) * 3]
    lanes = [[(v, o, g) for v in vals for o, g in pairs],
             [(v, o, g) for v in sat for o, g in pairs]
             + [(ordinary[k], o, g) for k in range(40) for o, g in pairs[:1]],
             [(v, o, g) for v in (-np.inf, np.inf, -1e30, 1e30, -100.0, 3.0)
              for o, g in ((0.0, 0.9 * top), (0.9 * top, 0.0), (-0.0, 2.0), (0.9 * top, -0.0),
                           (np.nan, 0.9 * top), (0.9 * top, np.nan))]
             + [(v, o, g) for v in (-np.inf, np.inf, -3.0, 3.0)
                for o, g in ((np.inf, 2.0), (-2.0, np.inf), (np.inf, -np.inf),
                             (-np.inf, tiny), (tiny, np.inf))]
             + [(np.nan, 0.9 * top, 0.9 * top), (np.nan, 0.0, 1.0)]]
    starts = [3, 3, 3]
    rows_a, rows_b, rows_g, where = [], [], [], []
    for r, (row, start) in enumerate(zip(lanes, starts)):
        act_on = np.array(ordinary, np.float64)
        other = (rng.standard_normal(n) * 3)
        g = rng.uniform(-2, 2, n)
        for k, (v, o, gv) in enumerate(row):
            if r == 1 and k >= len(row) - 40:       # ordinary arguments: the second block
                lane = act._functions._K.FAST_PATH_BLOCK + 9 + (k - len(row) + 40)
            else:
                lane = start + k
            act_on[lane], other[lane], g[lane] = v, o, gv
            where.append((r, lane))
        a, b = (other, act_on) if name == "glu" else (act_on, other)
        rows_a.append(a)
        rows_b.append(b)
        rows_g.append(g)
    x = np.concatenate([np.array(rows_a), np.array(rows_b)], axis=1).astype(dtype)
    return x, np.array(rows_g).astype(dtype), where


def _exact_gate_grads(name, inner, iparams, dtype, a, b, g):
    """(grad_a, grad_b, their term scales) of one lane in mpmath, as float64 (beyond
    float64's range: inf; the scale 0, the reference's own ulp, where it leaves the
    dtype's range).  NaN where an operand of the gradient's own formula is NaN (glu's
    d/da does not hold a, the others' d/db not b: test_special_values) or an input
    infinity meets a zero factor (inf * 0).  (Input infinities only meet f and f' at
    +-inf and moderate arguments here: where f' underflows in the dtype, g = inf gives
    what the elementwise backward gives, NaN.)"""
    ref = REFERENCES[inner]
    p = ref.effective(iparams, dtype)
    act_on, other = (b, a) if name == "glu" else (a, b)
    if math.isnan(act_on) or math.isnan(g):
        return math.nan, math.nan, 0.0, 0.0
    t, gg = mp.mpf(act_on), mp.mpf(g)
    o = mp.mpf(0) if math.isnan(other) else mp.mpf(other)
    f, d = ref.forward_mp(t, p), ref.derivative_mp(t, p)
    ds = ref.derivative_scale_mp(t, p) if ref.derivative_scale_mp else abs(d)
    if mp.isinf(t) and inner == "gelu":     # the limits (its reference's far tail is tiny)
        f, d = (t, mp.mpf(1)) if t > 0 else (mp.mpf(0), mp.mpf(0))
    grad_act = mp.fprod([gg, o, d])      # mpmath: inf * 0 is NaN
    grad_other = gg * f
    top = float(np.finfo(dtype).max)

    def fl(v):
        return math.nan if mp.isnan(v) else float(v)

    def sc(v):
        v = fl(v)
        return v if abs(v) <= top else 0.0     # 0: the ulp of the reference itself

    s_act = sc(abs(gg) * abs(o) * ds) if not (mp.isinf(gg) or mp.isinf(o)) else 0.0
    s_other = sc(abs(grad_other)) if not mp.isnan(grad_other) else 0.0
    if math.isnan(other):
        grad_act = mp.mpf("nan")
    if name == "glu":
        return fl(grad_other), fl(grad_act), s_other, s_act
    return fl(grad_act), fl(grad_other), s_act, s_other


_OVERFLOW_REFERENCES = {}


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name, params, inner, iparams", gate_params())
def test_backward_where_grad_times_factor_overflows(name, params, inner, iparams, dtype,
                                                    simd_level):
    """g * b (swiglu, geglu; glu: g * a) beyond the dtype's range, times f'(a) far below
    1 (the band), 0 or 1 (saturated, +-inf): each gradient the exact product rounded
    once, within the backward's bound; inf only where that product truly overflows; NaN
    only from a NaN operand or an input infinity times a zero factor (g = inf at
    a = -inf: silu'(-inf) = 0).  In blocks with ordinary lanes, whose gradients are
    checked too."""
    key = (name, tuple(params.items()), np.dtype(dtype).name)
    x, g, where = _overflow_rows(name, params, dtype)
    if key not in _OVERFLOW_REFERENCES:
        h = x.shape[1] // 2
        ghi = np.empty(x.shape)
        gscale = np.empty(x.shape)
        cache = {}
        for r in range(x.shape[0]):
            for lane in range(h):
                args = (float(x[r, lane]), float(x[r, h + lane]), float(g[r, lane]))
                if args not in cache:
                    cache[args] = _exact_gate_grads(name, inner, iparams, dtype, *args)
                ga, gb, sa, sb = cache[args]
                ghi[r, lane], ghi[r, h + lane] = ga, gb
                gscale[r, lane], gscale[r, h + lane] = sa, sb
        _OVERFLOW_REFERENCES[key] = ghi, gscale
    ghi, gscale = _OVERFLOW_REFERENCES[key]
    h = x.shape[1] // 2
    assert len(where) > 100
    gx = _fn(name)[1](g, x, axis=-1, **params)
    gerr = ulp_error(gx, ghi, None, gscale)
    worst = np.unravel_index(np.argmax(gerr), gerr.shape)
    lane = worst[1] % h
    assert gerr.max() <= BACKWARD_BOUND[dtype], (
        gerr.max(), worst, x[worst[0], lane], x[worst[0], h + lane], g[worst[0], lane],
        gx[worst], ghi[worst])
    # the references that are not 0 nor inf: most of the band lanes must be finite
    # and nonzero, so that the test checks more than the limits
    band = ghi[0, :h] if name != "glu" else ghi[0, h:]
    assert np.count_nonzero(np.isfinite(band) & (band != 0)) > 30
