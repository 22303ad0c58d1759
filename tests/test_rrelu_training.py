"""rrelu with training=True: per-element slopes a_i ~ U(lower, upper) from a
counter-based generator keyed by (seed, flat index i).

The slopes are read back as y / x on negative inputs (x = -1 gives a_i exactly in
float64).  Checked: range, mean, variance, a Kolmogorov-Smirnov test (scipy, skipped
without it), dependence on the seed alone (not on threads, layout or the call),
the backward regenerating the same slopes, and the argument rules.
"""

from __future__ import annotations

import numpy as np
import pytest

import activations as act
from cases import dtype_params, same_bits

N = 1_000_000


def slopes(lower, upper, seed, n=N, dtype=np.float64):
    x = -np.ones(n, dtype)
    return -act.rrelu(x, lower=lower, upper=upper, training=True, seed=seed).astype(np.float64)


@pytest.mark.parametrize("lower, upper", [(1 / 8, 1 / 3), (0.0, 1.0), (0.3, 0.31)])
def test_slopes_uniform_in_range(lower, upper):
    a = slopes(lower, upper, seed=123)
    w = upper - lower
    assert a.min() >= lower and a.max() <= upper
    assert a.min() < lower + 1e-4 * w and a.max() > upper - 1e-4 * w  # the whole range
    # mean w/2 and variance w^2/12, each within ~6 standard errors
    assert abs(a.mean() - (lower + upper) / 2) < 6 * w / np.sqrt(12 * N)
    assert abs(a.var() - w * w / 12) < 6 * w * w * np.sqrt(1 / 180) / np.sqrt(N)
    # no lattice: many distinct values
    assert np.unique(a[:10000]).size > 9990


@pytest.mark.parametrize("seed", [0, 1, 2 ** 40 + 7])
def test_kolmogorov_smirnov(seed):
    stats = pytest.importorskip("scipy.stats")
    lower, upper = 0.1, 0.4
    a = slopes(lower, upper, seed)
    res = stats.kstest(a, "uniform", args=(lower, upper - lower))
    assert res.pvalue > 1e-3, res
    # neighbours independent: the correlation of consecutive slopes is ~0
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 6 / np.sqrt(N)


@pytest.mark.parametrize("dtype", dtype_params())
def test_depends_on_seed_only(dtype, restore_threads):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 2, 300_001).astype(dtype)
    kw = dict(lower=0.1, upper=0.3, training=True)
    ref = act.rrelu(x, seed=42, **kw)
    assert same_bits(ref, act.rrelu(x, seed=42, **kw))              # same seed, same result
    assert not np.array_equal(ref, act.rrelu(x, seed=43, **kw))     # another seed differs
    neg = x < 0
    assert np.mean(ref[neg] != act.rrelu(x, seed=43, **kw)[neg]) > 0.99
    for n in (1, 2, 3):
        act.set_num_threads(n)
        assert same_bits(act.rrelu(x, seed=42, **kw), ref), f"{n} threads"
        assert same_bits(act.rrelu_backward(np.ones_like(x), x, seed=42, **kw),
                         act.rrelu_backward(np.ones_like(x), x, seed=42, **kw))
    # flat C-order index: a 2-D view of the same data gets the same slopes
    assert same_bits(act.rrelu(x[:300_000].reshape(600, 500), seed=42, **kw).ravel(),
                     ref[:300_000])
    # a Python int seed of any size is accepted (reduced to 64 bits)
    act.rrelu(x[:10], seed=2 ** 70, **kw)
    act.rrelu(x[:10], seed=np.int64(-5), **kw)


@pytest.mark.parametrize("dtype", dtype_params())
def test_backward_regenerates_the_slopes(dtype, restore_threads):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 2, 200_003).astype(dtype)
    x[::101] = 0.0
    kw = dict(lower=0.05, upper=0.6, training=True, seed=7)
    y = act.rrelu(x, **kw)
    g = rng.uniform(0.5, 2, x.shape).astype(dtype)
    gx = act.rrelu_backward(g, x, **kw)
    pos, neg, zero = x > 0, x < 0, x == 0
    assert same_bits(y[pos], x[pos]) and same_bits(gx[pos], g[pos])  # pass through
    # the slope a_i = y_i / x_i (float64: exact from y = a_i x_i rounded once; compare
    # with the dtype's rounding of a_i * g_i)
    a_from_y = act.rrelu(-np.ones_like(x), **kw).astype(np.float64) * -1
    np.testing.assert_array_equal(y[neg], (a_from_y[neg].astype(dtype) * x[neg]))
    np.testing.assert_array_equal(gx[neg], (a_from_y[neg].astype(dtype) * g[neg]))
    assert (y[neg] < 0).all() and (y[neg] >= 0.6 * x[neg] * (1 + 1e-6)).all()
    # x = 0: the negative side, slope a_i (as PyTorch: 1 only where x > 0)
    assert (gx[zero] == a_from_y[zero].astype(dtype) * g[zero]).all()
    act.set_num_threads(1)
    assert same_bits(act.rrelu_backward(g, x, **kw), gx)


@pytest.mark.parametrize("dtype", dtype_params())
def test_special_values(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0], dtype)
    kw = dict(lower=0.1, upper=0.3, training=True, seed=3)
    y = act.rrelu(x, **kw)
    assert np.isnan(y[0]) and y[1] == np.inf and y[2] == -np.inf
    assert y[3] == 0 and y[4] == 0 and np.signbit(y[4])
    gx = act.rrelu_backward(np.ones_like(x), x, **kw)
    assert np.isnan(gx[0]) and gx[1] == 1 and 0.1 <= gx[2] <= 0.3
    # lower == upper == 0: the limit 0 at -inf, not NaN
    y0 = act.rrelu(x, lower=0.0, upper=0.0, training=True, seed=3)
    assert y0[2] == 0 and np.isnan(y0[0])


def test_training_false_is_leaky_relu_with_the_mean_slope():
    x = np.random.default_rng(2).normal(0, 3, 1001)
    for lower, upper in [(1 / 8, 1 / 3), (0.1, 0.3), (0.0, 1.0)]:
        slope = (lower + upper) / 2
        assert same_bits(act.rrelu(x, lower=lower, upper=upper, training=False, seed=9),
                         act.leaky_relu(x, negative_slope=slope))
        g = np.ones_like(x)
        assert same_bits(act.rrelu_backward(g, x, lower=lower, upper=upper, seed=9),
                         act.leaky_relu_backward(g, x, negative_slope=slope))
    # the default is training=False
    assert same_bits(act.rrelu(x), act.leaky_relu(x, negative_slope=(1 / 8 + 1 / 3) / 2))


@pytest.mark.parametrize("fn", ["forward", "backward"])
def test_argument_errors(fn):
    x = np.linspace(-1, 1, 5)
    out = np.full_like(x, 7.0)

    def call(**kw):
        if fn == "forward":
            return act.rrelu(x, training=True, out=out, **kw)
        return act.rrelu_backward(np.ones_like(x), x, training=True, out=out, **kw)

    for bad in [dict(lower=0.5, upper=0.25), dict(lower=-0.1, upper=0.2),
                dict(lower=0.2, upper=1.5), dict(lower=float("nan"), upper=0.2)]:
        with pytest.raises(ValueError):
            call(**bad)
    for seed in [1.0, "1", None, True, np.float64(3.0)]:
        with pytest.raises(TypeError):
            call(seed=seed)
    with pytest.raises(TypeError):
        act.rrelu(x.astype(np.int32), training=True)
    with pytest.raises(TypeError):
        act.rrelu_backward(np.ones_like(x), y=x, training=True)
    assert (out == 7.0).all()


def test_out_in_place():
    x0 = np.random.default_rng(3).normal(0, 1, 100_000)
    kw = dict(training=True, seed=11)
    y_ref = act.rrelu(x0, **kw)
    x = x0.copy()
    assert act.rrelu(x, out=x, **kw) is x and same_bits(x, y_ref)
    g = np.ones_like(x0)
    ref_g = act.rrelu_backward(g.copy(), x0, **kw)
    assert act.rrelu_backward(g, x0, out=g, **kw) is g and same_bits(g, ref_g)


def splitmix64_uniform(seed, n):
    """u_i in [0, 1) for i = 0 .. n-1, as README.md describes the generator: the top 52
    bits of SplitMix64's (i+1)-th output from state ``seed`` (Steele, Lea & Flood 2014),
    over [0, 1).  NumPy's uint64 arithmetic wraps as the generator's does."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (np.arange(n, dtype=np.uint64) + np.uint64(1)) \
            * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(12)).astype(np.float64) / 2.0 ** 52


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("training", [False, True], ids=["eval", "training"])
def test_bounds_converted_to_the_dtype(dtype, training):
    """docs/api.md, "Parameters": lower and upper are converted to the array's dtype
    before use, as the C API's `T lower, T upper` receive them (bit-identical to
    Python).  (0.05, 0.6): float32((0.05 + 0.6) / 2) is not the float32 mean of
    float32(0.05) and float32(0.6)."""
    lower, upper, seed = 0.05, 0.6, 99
    dtype = np.dtype(dtype).type
    x = -np.random.default_rng(4).uniform(0.5, 4.0, 20_000).astype(dtype)
    lo, hi = float(dtype(lower)), float(dtype(upper))
    if training:
        slope = (lo + (hi - lo) * splitmix64_uniform(seed, x.size)).astype(dtype)
    else:
        slope = np.full(x.size, dtype((lo + hi) / 2))
    # a product of two values of the dtype, exact in float64 for float32, rounded once
    expected = (x.astype(np.float64) * slope.astype(np.float64)).astype(dtype) \
        if dtype == np.float32 else x * slope
    kw = dict(lower=lower, upper=upper, training=training, seed=seed)
    assert same_bits(act.rrelu(x, **kw), expected)
    g = np.ones_like(x)
    assert same_bits(act.rrelu_backward(g, x, **kw), slope)


@pytest.mark.parametrize("fn", ["forward", "backward"])
@pytest.mark.parametrize("training", ["yes", "False", "", None, 1.0, 1 + 0j])
def test_training_must_be_a_flag(fn, training):
    """training is a bool (or an integer): a string is no flag ("False" would be true),
    and a TypeError names the function and the parameter (docs/api.md)."""
    x = np.linspace(-2, 2, 64)
    out = np.full_like(x, 7.0)
    with pytest.raises(TypeError, match=r"rrelu(_backward)?: training"):
        if fn == "forward":
            act.rrelu(x, training=training, out=out)
        else:
            act.rrelu_backward(np.ones_like(x), x, training=training, out=out)
    assert (out == 7.0).all()
    for flag in (np.bool_(True), 1, np.int8(0)):
        assert same_bits(act.rrelu(x, training=flag), act.rrelu(x, training=bool(flag)))


@pytest.mark.parametrize("seed", ["1", None, 1.0])
def test_seed_is_checked_in_eval_mode_too(seed):
    """An invalid seed raises whatever training is: it must not wait for training=True."""
    x = np.linspace(-2, 2, 8)
    with pytest.raises(TypeError, match="rrelu: seed"):
        act.rrelu(x, seed=seed)
    with pytest.raises(TypeError, match="rrelu_backward: seed"):
        act.rrelu_backward(np.ones_like(x), x, seed=seed)
