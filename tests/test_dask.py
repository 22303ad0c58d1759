"""activations.dask: every function and direction on Dask arrays, on the threaded
scheduler and on a two-process dask.distributed LocalCluster (loopback).

Chunkings split the reduced, gated or channel axis unevenly.  Elementwise functions,
rrelu in training mode, the gated family and prelu's y / grad_x must equal the
in-memory functions bit for bit; the softmax family along a split axis and prelu's
grad_weight are checked against the independent references and bounds of
tests/test_softmax.py and tests/test_prelu.py (their sums are grouped by chunk).
"""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import activations as act  # noqa: E402
import activations.dask as ad  # noqa: E402
from activations import _spec  # noqa: E402
from cases import same_bits  # noqa: E402
from reference import softmax_backward_mp, softmax_forward_mp, ulp_error  # noqa: E402
from test_prelu import prelu_reference  # noqa: E402
from test_softmax import backward_bound, forward_bound  # noqa: E402

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]
KIND = {spec.name: spec.kind for spec in _spec.SPECS}
SCHEDULERS = ["threads", "distributed"]


@pytest.fixture(scope="module")
def cluster_client():
    """Two worker processes, one thread each, on the loopback interface."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture(params=SCHEDULERS)
def compute(request):
    """compute(*dask_arrays_or_tuples) -> the computed values, on one scheduler."""
    if request.param == "threads":
        run = lambda *arrays: dask.compute(*arrays, scheduler="threads")  # noqa: E731
    else:
        client = request.getfixturevalue("cluster_client")
        run = lambda *arrays: dask.compute(*arrays, scheduler=client.get)  # noqa: E731
    run.scheduler = request.param
    return run


def dtypes_for(compute):
    """Both dtypes on the threaded scheduler; float32 on the cluster, where each task
    costs milliseconds (every function and direction still runs there)."""
    return DTYPES if compute.scheduler == "threads" else DTYPES[:1]


def chunked(x, chunks):
    return da.from_array(x, chunks=chunks)


def params_of(name):
    """Parameters for a call: defaults, and values for the required ones."""
    required = {"threshold": 0.3, "value": -2.0}
    return {k: (required[k] if v is None else v) for k, v in act.get(name).params.items()}


# ------------------------------------------------------------------ elementwise

ELEMENTWISE = [n for n in act.names() if KIND[n] in ("elementwise", "rrelu")]


def test_elementwise_bit_identical(compute):
    rng = np.random.default_rng(0)
    lazy, expected = [], []
    for dtype in dtypes_for(compute):
        x = (rng.standard_normal((23, 37)) * 4).astype(dtype)
        x[0, :6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 3.0]
        g = rng.uniform(-2, 2, x.shape).astype(dtype)
        chunks = ((9, 14), (10, 27))
        X, G = chunked(x, chunks), chunked(g, chunks)
        for name in ELEMENTWISE:
            p = params_of(name)
            entry = act.get(name)
            lazy += [getattr(ad, name)(X, **p), getattr(ad, f"{name}_backward")(G, X, **p)]
            expected += [entry.forward(x, **p), entry.backward(g, x, **p)]
            if "y" in entry.backward_takes:
                y = entry.forward(x, **p)
                lazy.append(getattr(ad, f"{name}_backward")(G, y=chunked(y, chunks), **p))
                expected.append(entry.backward(g, y=y, **p))
        # grad chunked unlike x: the blocks are paired after rechunking to common chunks
        lazy.append(ad.tanh_backward(chunked(g, ((12, 11), (3, 34))), X))
        expected.append(act.tanh_backward(g, x))
    for got, want in zip(compute(*lazy), expected):
        assert got.dtype == want.dtype and same_bits(got, want)


def test_aliases_are_the_same_functions():
    for spec in _spec.SPECS:
        for alias in spec.aliases:
            assert getattr(ad, alias) is getattr(ad, spec.name)
            assert getattr(ad, f"{alias}_backward") is getattr(ad, f"{spec.name}_backward")


# ------------------------------------------------------------------ rrelu training

def test_rrelu_training_draws_the_in_memory_slopes(compute):
    rng = np.random.default_rng(1)
    kw = dict(lower=0.05, upper=0.9, training=True, seed=2**70 + 12345)
    lazy, expected = [], []
    for dtype in dtypes_for(compute):
        x = rng.standard_normal((5, 9, 13)).astype(dtype)
        g = rng.uniform(-2, 2, x.shape).astype(dtype)
        X = chunked(x, ((2, 3), (4, 1, 4), (6, 7)))      # chunks along every axis
        G = chunked(g, (5, 3, 5))                        # and grad's unlike x's
        x1 = rng.standard_normal(40).astype(dtype)
        lazy += [ad.rrelu(X, **kw), ad.rrelu_backward(G, X, **kw),
                 ad.rrelu(chunked(x1, (7, 30, 3)), **kw),
                 ad.rrelu(chunked(x1[:1].reshape(()), ()), **kw)]
        expected += [act.rrelu(x, **kw), act.rrelu_backward(g, x, **kw), act.rrelu(x1, **kw),
                     act.rrelu(x1[:1].reshape(()), **kw)]
    for got, want in zip(compute(*lazy), expected):
        assert same_bits(np.asarray(got), np.asarray(want))


# ------------------------------------------------------------------ softmax family

SOFTMAX = [n for n in act.names() if KIND[n] == "softmax"]
#: (id, x generator, axis, chunks): the softmax axis split into uneven chunks
SOFTMAX_CASES = [
    ("rows-split-last-axis", lambda rng: rng.normal(0, 4, (5, 300)), -1, (5, (100, 37, 163))),
    ("middle-axis-split", lambda rng: rng.normal(0, 3, (3, 40, 6)), 1, (3, (13, 27), 6)),
    ("dominant-entry", lambda rng: np.array([[0.0, -30.0, -40.0], [5.0, -25.0, -35.0],
                                             [-40.0, -30.0, 0.0]]), -1, (2, (1, 2))),
    ("wide-range", lambda rng: rng.uniform(-700.0, 5.0, (4, 50)), -1, (4, (25, 1, 24))),
    ("rows-and-axis-split", lambda rng: rng.normal(0, 4, (6, 70)), 0, ((2, 3, 1), (30, 40))),
]
#: the distributed runs cover every function and direction with the first two cases
#: (each task costs milliseconds there); the threaded scheduler runs them all
SOFTMAX_RUNS = [("threads", c) for c in SOFTMAX_CASES] + \
    [("distributed", c) for c in SOFTMAX_CASES[:2]]


@pytest.mark.parametrize("compute, case", SOFTMAX_RUNS, indirect=["compute"],
                         ids=[f"{sched}-{case[0]}" for sched, case in SOFTMAX_RUNS])
def test_softmax_family_along_a_split_axis(compute, case):
    _, make, axis, chunks = case
    rng = np.random.default_rng(2)
    lazy, data = [], []
    for dtype in dtypes_for(compute):
        with np.errstate(under="ignore"):
            x = np.asarray(make(rng), np.float64).astype(dtype)
        g = (rng.uniform(0.5, 2.0, x.shape) * rng.choice([-1.0, 1.0], x.shape)).astype(dtype)
        X, G = chunked(x, chunks), chunked(g, chunks)
        assert X.numblocks[axis] > 1
        for kind in SOFTMAX:
            y = getattr(act, kind)(x, axis=axis)
            fwd, bwd = getattr(ad, kind), getattr(ad, f"{kind}_backward")
            lazy += [fwd(X, axis=axis), bwd(G, X, axis=axis),
                     bwd(G, y=chunked(y, chunks), axis=axis)]
            data.append((kind, x, g))
    got = compute(*lazy)
    for k, (kind, x, g) in enumerate(data):
        got_y, got_gx, got_gy = got[3 * k: 3 * k + 3]
        hi, lo = softmax_forward_mp(x, kind, axis)
        err = ulp_error(got_y, hi, lo)
        assert err.max() <= forward_bound(x.dtype, x.shape, axis), (kind, x.dtype, err.max())
        bhi, blo, scale = softmax_backward_mp(x, g, kind, axis)
        for got_g in (got_gx, got_gy):
            err = ulp_error(got_g, bhi, blo, scale)
            assert err.max() <= backward_bound(x.dtype, x.shape, axis), (kind, x.dtype, err.max())
    # the combine order is fixed: the same chunking gives the same bits again
    assert all(same_bits(a, b) for a, b in zip(dask.compute(*lazy, scheduler="sync"), got))


@pytest.mark.parametrize("kind", SOFTMAX)
def test_softmax_family_edge_rows_across_chunks(compute, kind):
    inf, nan = np.inf, np.nan
    x = np.array([[-inf, -inf, -inf, -inf],      # all -inf: NaN, as PyTorch
                  [1.0, -inf, 2.0, -inf],        # -inf entries: probability 0
                  [1.0, 2.0, nan, 0.0],          # NaN anywhere: a NaN row
                  [1.0, 2.0, 3.0, inf],          # +inf: a NaN row
                  [3e38, 3e38, -3e38, 1.0]], np.float32)
    g = np.linspace(-1, 1, x.size, dtype=np.float32).reshape(x.shape)
    X, G = chunked(x, (2, (1, 2, 1))), chunked(g, (2, (1, 2, 1)))
    with np.errstate(invalid="ignore", over="ignore"):
        want = (getattr(act, kind)(x), getattr(act, f"{kind}_backward")(g, x))
    got = compute(getattr(ad, kind)(X), getattr(ad, f"{kind}_backward")(G, X))
    for a, b in zip(got, want):
        assert np.array_equal(np.isnan(a), np.isnan(b))
        assert np.array_equal(np.isinf(a), np.isinf(b))
        finite = np.isfinite(b)
        assert np.allclose(a[finite], b[finite], rtol=4e-7, atol=0)


@pytest.mark.parametrize("kind", SOFTMAX)
def test_softmax_family_unsplit_axis_is_bit_identical(compute, kind):
    rng = np.random.default_rng(3)
    x = rng.normal(0, 3, (30, 17)).astype(np.float32)
    g = rng.uniform(-1, 1, x.shape).astype(np.float32)
    X, G = chunked(x, (7, 17)), chunked(g, (11, 17))
    got = compute(getattr(ad, kind)(X), getattr(ad, f"{kind}_backward")(G, X))
    want = (getattr(act, kind)(x), getattr(act, f"{kind}_backward")(g, x))
    assert all(same_bits(a, b) for a, b in zip(got, want))


# ------------------------------------------------------------------ gated

GATED = [n for n in act.names() if KIND[n] == "gated"]


def test_gated_halves_in_different_chunks(compute):
    rng = np.random.default_rng(4)
    lazy, expected = [], []
    for dtype, name in ((dtype, name) for dtype in dtypes_for(compute) for name in GATED):
        x = (rng.standard_normal((7, 46)) * 3).astype(dtype)
        for extra in ([{}] if name != "geglu" else [{"approximate": "none"},
                                                     {"approximate": "tanh"}]):
            for axis, xs, chunks in ((-1, x, (7, (5, 30, 11))), (0, x[:6].T.copy(), ((5, 30, 11), 6))):
                X = chunked(xs, chunks)
                y = getattr(ad, name)(X, axis=axis, **extra)
                g = rng.uniform(-2, 2, y.shape).astype(dtype)
                # grad chunked as the forward's output (one case below: unlike it)
                lazy += [y, getattr(ad, f"{name}_backward")(chunked(g, y.chunks), X, axis=axis,
                                                           **extra)]
                expected += [getattr(act, name)(xs, axis=axis, **extra),
                             getattr(act, f"{name}_backward")(g, xs, axis=axis, **extra)]
    lazy.append(ad.glu_backward(chunked(g, 4), X, axis=axis))
    expected.append(act.glu_backward(g, xs, axis=axis))
    for got, want in zip(compute(*lazy), expected):
        assert got.shape == want.shape and same_bits(got, want)


# ------------------------------------------------------------------ prelu

PRELU_LAYOUTS = [
    # (x shape, weight length, axis, chunks)
    ((6, 10, 7), 10, 1, (6, (3, 6, 1), 7)),
    ((20, 9), 9, -1, ((7, 13), (2, 7))),
    ((20, 9), 1, 1, (6, 4)),
    ((15,), 15, 1, ((4, 11),)),
]


def test_prelu_weight_sliced_per_chunk(compute):
    rng = np.random.default_rng(5)
    lazy, expected = [], []
    for dtype, (shape, wlen, axis, chunks) in ((d, c) for d in dtypes_for(compute)
                                               for c in PRELU_LAYOUTS):
        x = rng.standard_normal(shape).astype(dtype)
        w = rng.uniform(0, 0.5, wlen).astype(dtype)
        g = rng.uniform(-2, 2, shape).astype(dtype)
        X = chunked(x, chunks)
        lazy += [ad.prelu(X, w, axis=axis), ad.prelu_backward(chunked(g, chunks), X, w, axis=axis)]
        expected.append((x, w, g, axis))
    got = compute(*lazy)
    for k, (x, w, g, axis) in enumerate(expected):
        y, (gx, gw) = got[2 * k], got[2 * k + 1]
        assert same_bits(y, act.prelu(x, w, axis=axis))
        assert same_bits(gx, act.prelu_backward(g, x, w, axis=axis)[0])
        ax = 0 if (x.ndim == 1 and axis == 1) else axis
        _, _, ref_gw, mag = prelu_reference(x, w, g, ax)
        # tests/test_prelu.py's bound: float32 the exact sum rounded, float64 a few eps
        tol = (np.finfo(x.dtype).eps if x.dtype == np.float32 else 1e-13) * mag
        assert gw.dtype == x.dtype and gw.shape == (w.size,)
        assert (np.abs(gw.astype(np.float64) - ref_gw) <= tol + 1e-300).all(), (gw, ref_gw)


# ------------------------------------------------------------------ threads, laziness

def test_tasks_run_single_threaded_by_default_and_configurable(monkeypatch):
    seen = []
    real = ad.thread_limit

    def recording(n):
        seen.append(n)
        return real(n)

    monkeypatch.setattr(ad, "thread_limit", recording)
    X = chunked(np.linspace(-3, 3, 600).reshape(20, 30), (7, (10, 20)))
    assert ad.get_threads_per_task() == 1
    dask.compute(ad.gelu(X), ad.softmax(X), ad.glu(X), scheduler="threads")
    assert seen and set(seen) == {1}
    seen.clear()
    try:
        ad.set_threads_per_task(2)
        lazy = ad.gelu(X)
    finally:
        ad.set_threads_per_task(1)
    lazy.compute(scheduler="threads")    # the count in force when the graph was built
    assert seen and set(seen) == {2}
    with pytest.raises(ValueError):
        ad.set_threads_per_task(0)


def test_nothing_is_computed_until_asked():
    def never(block):
        raise AssertionError("computed while building the graph")

    X = da.map_blocks(never, da.zeros((8, 6), chunks=(4, 3), dtype=np.float32),
                      dtype=np.float32, meta=np.empty((0, 0), np.float32))
    w = np.full(6, 0.25, np.float32)
    for name in act.names():
        kind = KIND[name]
        if kind == "prelu":
            getattr(ad, name)(X, w)
            getattr(ad, f"{name}_backward")(X, X, w)
        else:
            p = params_of(name)
            out = getattr(ad, name)(X, **p)
            getattr(ad, f"{name}_backward")(out if kind != "gated" else X[:, :3], X, **p)
    assert isinstance(ad.rrelu(X, training=True), da.Array)


def test_errors_raise_when_the_graph_is_built():
    from numpy.exceptions import AxisError
    X = chunked(np.zeros((4, 6), np.float32), 3)
    with pytest.raises(TypeError, match="dtype"):
        ad.sigmoid(chunked(np.zeros(4, np.int64), 2))
    with pytest.raises(ValueError):
        ad.softplus(X, beta=0.0)
    with pytest.raises(ValueError):
        ad.rrelu(X, lower=0.5, upper=0.1, training=True)
    with pytest.raises(AxisError):
        ad.softmax(X, axis=2)
    with pytest.raises(ValueError, match="even"):
        ad.glu(chunked(np.zeros((4, 5), np.float32), 2))
    with pytest.raises(ValueError):
        ad.glu_backward(chunked(np.zeros((4, 2), np.float32), 2), X)
    with pytest.raises(ValueError):
        ad.prelu(X, np.ones(5, np.float32), axis=1)
    with pytest.raises(ValueError):
        ad.sigmoid_backward(chunked(np.zeros((4, 5), np.float32), 2), X)
    with pytest.raises(TypeError):
        ad.sigmoid_backward(X.astype(np.float64), X)
    with pytest.raises(TypeError):
        ad.gelu_backward(X, y=X)
    with pytest.raises(TypeError):
        ad.sigmoid(X, out=None)   # no out=: the result is a new lazy array


def test_signatures_and_pickling_by_reference():
    for name in act.names():
        entry = act.get(name)
        assert pickle.loads(pickle.dumps(entry)) is entry
        for suffix, twin in (("", entry.forward), ("_backward", entry.backward)):
            fn = getattr(ad, name + suffix)
            assert fn.__module__ == "activations.dask" and fn.__qualname__ == name + suffix
            assert pickle.loads(pickle.dumps(fn)) is fn
            assert pickle.loads(pickle.dumps(twin)) is twin
            left_out = {"out", "grad_bias", *getattr(entry, "fused", ())}  # not on Dask
            want = [p for p in inspect.signature(twin).parameters.values()
                    if p.name not in left_out]
            assert list(inspect.signature(fn).parameters.values()) == want
