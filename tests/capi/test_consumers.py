"""Consumers of the C-level API, built against the installed package in a temporary
directory: a Cython extension (every entry, pointer and typed-memoryview forms in
``with nogil`` and pointer forms in a ``prange``, bit-for-bit against the Python API on
float32 and float64, in place too), README.md's Cython and C examples, and a C program
that embeds Python and calls the kernels from several pthreads.

They need a C compiler and Cython, so they run only when ACTIVATIONS_CAPI_CONSUMERS=1
(``.ci/run`` sets it in its consumer stages); otherwise they are skipped.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest

import activations as act

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (tests/capi/harness.py)

pytestmark = pytest.mark.skipif(os.environ.get("ACTIVATIONS_CAPI_CONSUMERS", "0") in ("", "0"),
                                reason="consumer builds need a compiler: set ACTIVATIONS_CAPI_CONSUMERS=1")

GEN = harness.load_gen_capi()
TABLE = GEN.entries()
DT = {"f32": np.float32, "f64": np.float64}

#: Parameter sets per function (C values; None: the function has no parameters).  More
#: than one set where a parameter selects another kernel (swish's beta = 1 is SiLU's).
PARAMS = {
    "leaky_relu": [{"negative_slope": 0.25}],
    "rrelu": [{"lower": 0.125, "upper": 0.375, "training": 0, "seed": 0},
              {"lower": 0.125, "upper": 0.375, "training": 1, "seed": 12345}],
    "elu": [{"alpha": 1.5}],
    "softplus": [{"beta": 2.0, "threshold": 10.0}],
    "swish": [{"beta": 1.0}, {"beta": 1.5}],
    "hard_tanh": [{"min_val": -0.5, "max_val": 2.0}],
    "gelu": [{"approximate": 0}, {"approximate": 1}],
    "celu": [{"alpha": 0.75}],
    "softshrink": [{"lambd": 0.25}],
    "hardshrink": [{"lambd": 0.25}],
    "geglu": [{"approximate": 0}, {"approximate": 1}],
    "threshold": [{"threshold": 0.125, "value": -2.0}],
}

#: Variants of the fused forms (keys with "_" choose the case; the rest are C
#: parameters): a mask or none, with scale 1 (the plain family when there is no mask,
#: but from y the backward of a masked forward) and other scales; the bias gradient
#: asked for or skipped (a null grad_bias).
FORM_PARAMS = {
    "masked": [{"scale": 0.125, "_mask": True}, {"scale": 1.0, "_mask": True},
               {"scale": 1.0, "_mask": False}, {"scale": -2.0, "_mask": False}],
    "bias": [{"_grad_bias": True}, {"_grad_bias": False}],
}


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    workdir = harness.build(tmp_path_factory.mktemp("capi"))
    sys.path.insert(0, str(workdir))
    yield workdir
    sys.path.remove(str(workdir))


@pytest.fixture(scope="session")
def cy(built):
    return importlib.import_module("cython_harness")


def python_params(func, params):
    """The Python API's keywords for C parameter values."""
    out = {}
    for k, v in params.items():
        if k.startswith("_"):
            continue
        if k == "approximate":
            out[k] = ("none", "tanh")[v]
        elif k == "training":
            out[k] = bool(v)
        else:
            out[k] = v
    return out


def inputs(e, rng, big):
    """(arrays by argument name, sizes by name, the Python API's result by output name)."""
    dtype = DT[e.suffix]
    py = getattr(act, e.func)
    pyb = getattr(act, f"{e.func}_backward")

    def data(shape):
        x = rng.standard_normal(shape) * 4
        flat = x.reshape(-1)
        flat[:8] = [0.0, -0.0, np.inf, -np.inf, 1e-30, -1e-30, 30.0, -30.0][:flat.size]
        return np.ascontiguousarray(x, dtype=dtype)

    if e.kind in ("elementwise", "rrelu") and not e.form:
        n = (1 << 17) + 3 if big else 1000
        shape, sizes = (n,), {"n": n}
    elif e.kind in ("softmax", "gated") or e.form:
        rows, cols = ((70, 2050) if big else (5, 38))
        shape, sizes = (rows, cols), {"rows": rows, "cols": cols}
    else:  # prelu
        outer, channels, inner = ((8, 3, 6001) if big else (4, 3, 7))
        shape, sizes = (outer, channels, inner), {"outer": outer, "channels": channels,
                                                  "inner": inner}
    x = data(shape)
    return x, sizes, py, pyb, data


def case(e, params, rng, big):
    """Arrays for the call, the expected outputs (Python API), and the output names."""
    x, sizes, py, pyb, data = inputs(e, rng, big)
    kw = python_params(e.func, params)
    if e.kind == "prelu":
        weight = np.asarray([0.25, -0.5, 2.0], dtype=x.dtype)
        sizes["weight_len"] = 3
        if e.direction == "forward":
            return {"x": x, "weight": weight, "out": np.empty_like(x)}, sizes, \
                {"out": act.prelu(x, weight, axis=1)}
        grad = data(x.shape)
        gx, gw = act.prelu_backward(grad, x, weight, axis=1)
        return {"grad": grad, "x": x, "weight": weight, "grad_x": np.empty_like(x),
                "grad_weight": np.empty_like(weight)}, sizes, {"grad_x": gx, "grad_weight": gw}
    if e.form == "bias":
        bias = data((x.shape[1],))
        if e.direction == "forward":
            return {"x": x, "bias": bias, "out": np.empty_like(x)}, sizes, \
                {"out": py(x, bias=bias, **kw)}
        grad = data(x.shape)
        gb = np.empty_like(bias) if params["_grad_bias"] else None
        want = {"out": pyb(grad, x, bias=bias, grad_bias=gb, **kw)}
        if gb is not None:
            want["grad_bias"] = gb
        return {"grad": grad, "x": x, "bias": bias, "out": np.empty_like(x),
                "grad_bias": None if gb is None else np.empty_like(gb)}, sizes, want
    if e.form == "masked":
        mask = None
        if params["_mask"]:
            mask = np.where(rng.random(x.shape) < 0.25, -np.inf, rng.standard_normal(x.shape))
            mask[1] = -np.inf   # a row masked out entirely
            mask = mask.astype(x.dtype)
        kw = {"scale": params["scale"], "mask": mask}
        if e.direction == "forward":
            return {"x": x, "mask": mask, "out": np.empty_like(x)}, sizes, {"out": py(x, **kw)}
        grad = data(x.shape)
        if e.direction == "backward":
            return {"grad": grad, "x": x, "mask": mask, "out": np.empty_like(x)}, sizes, \
                {"out": pyb(grad, x, **kw)}
        y = py(x, **kw)
        # from y the C entry is the backward of a masked forward: the Python call with a
        # mask (which it does not read), whatever the scale
        kw["mask"] = np.zeros(x.shape, x.dtype)
        return {"grad": grad, "y": y, "out": np.empty_like(x)}, sizes, {"out": pyb(grad, y=y, **kw)}
    if e.direction == "forward":
        y = py(x, **kw)
        return {"x": x, "out": np.empty_like(y)}, sizes, {"out": y}
    if e.kind == "gated":
        grad = data(py(x, **kw).shape)
        return {"grad": grad, "x": x, "out": np.empty_like(x)}, sizes, \
            {"out": pyb(grad, x, **kw)}
    grad = data(x.shape)
    if e.direction == "backward":
        return {"grad": grad, "x": x, "out": np.empty_like(x)}, sizes, {"out": pyb(grad, x, **kw)}
    y = py(x, **kw)
    return {"grad": grad, "y": y, "out": np.empty_like(x)}, sizes, {"out": pyb(grad, y=y, **kw)}


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def entry_cases():
    for e in TABLE:
        variants = [{**p, **f} for p in PARAMS.get(e.func, [{}])
                    for f in FORM_PARAMS.get(e.form, [{}])]
        if e.form == "bias" and e.direction == "forward":
            variants = [p for p in variants if p.get("_grad_bias", True)]
        for k, params in enumerate(variants):
            yield pytest.param(e, params, id=f"{e.name}-{k}")


@pytest.mark.parametrize("e, params", list(entry_cases()))
def test_every_entry_matches_the_python_api(cy, e, params):
    call = getattr(cy, f"call_{e.name}")
    rng = np.random.default_rng(zlib.crc32(e.name.encode()))
    for big in (False, True):
        arrays, sizes, expected = case(e, params, rng, big)
        for form in (harness.FORM_POINTER, harness.FORM_MEMORYVIEW, harness.FORM_PRANGE):
            for nthreads in ((0, 1, 2) if form != harness.FORM_PRANGE else (1,)):
                for name in expected:
                    arrays[name][...] = np.nan
                status = call(arrays, sizes, params, nthreads, form)
                if status == harness.NO_PRANGE:
                    continue
                assert status == 0, (e.name, form, nthreads)
                for name, want in expected.items():
                    assert same_bits(arrays[name], want), (e.name, name, form, nthreads, big)
        # in place: out is x (forward) or grad (backward), where the shapes allow it
        if e.kind == "gated" and e.direction == "forward":
            continue
        src = {"forward": "x", "backward": "grad", "backward_y": "grad"}[e.direction]
        if e.kind == "gated":
            src = "x"  # the backward's out has x's shape
        dst = "grad_x" if e.kind == "prelu" and e.direction != "forward" else "out"
        for form in (harness.FORM_POINTER, harness.FORM_MEMORYVIEW):
            inplace = dict(arrays)
            inplace[src] = arrays[src].copy()
            inplace[dst] = inplace[src]
            for name in expected:
                if name != dst:
                    inplace[name] = np.empty_like(expected[name])
            assert call(inplace, sizes, params, 0, form) == 0
            for name, want in expected.items():
                assert same_bits(inplace[name], want), (e.name, "in place", name, form)


def test_invalid_calls_return_status_and_write_nothing(cy):
    x = np.linspace(-3, 3, 16, dtype=np.float32)
    out = np.full_like(x, 7.0)
    A, S = {"x": x, "out": out}, {"n": 16}
    assert cy.call_softplus_f32(A, S, {"beta": 0.0, "threshold": 20.0}, 1, 0) == -1
    assert cy.call_softplus_f32(A, S, {"beta": 1.0, "threshold": np.inf}, 1, 0) == -1
    assert cy.call_sigmoid_f32(A, S, {}, -1, 0) == -1                 # nthreads < 0
    assert cy.call_sigmoid_f32(A, {"n": -1}, {}, 1, 0) == -2
    assert cy.call_rrelu_f32(A, S, {"lower": 0.5, "upper": 0.25, "training": 0, "seed": 0},
                             1, 0) == -1
    assert cy.call_leaky_relu_backward_y_f32({"grad": x, "y": x, "out": out}, S,
                                             {"negative_slope": 0.0}, 1, 0) == -1
    g = np.ones((2, 3), np.float32)
    assert cy.call_glu_f32({"x": g, "out": np.empty((2, 1), np.float32)},
                           {"rows": 2, "cols": 3}, {}, 1, 0) == -2
    xp = np.ones((2, 3, 4), np.float32)
    assert cy.call_prelu_f32({"x": xp, "weight": np.ones(2, np.float32), "out": np.empty_like(xp)},
                             {"outer": 2, "channels": 3, "inner": 4, "weight_len": 2},
                             {}, 1, 0) == -2
    m = x.reshape(2, 8)
    mo = out.reshape(2, 8)
    M = {"rows": 2, "cols": 8}
    for scale in (np.inf, -np.inf, np.nan):   # the Python layer's rule: a finite scale
        assert cy.call_softmax_masked_f32({"x": m, "mask": None, "out": mo}, M,
                                          {"scale": scale}, 1, 0) == -1
        assert cy.call_log_softmax_masked_backward_y_f32({"grad": m, "y": m, "out": mo}, M,
                                                         {"scale": scale}, 1, 0) == -1
    assert cy.call_softmin_masked_f32({"x": m, "mask": None, "out": mo}, {"rows": 2, "cols": -8},
                                      {"scale": 0.5}, 1, 0) == -2
    assert cy.call_softmax_masked_backward_f32({"grad": m, "x": None, "mask": None, "out": mo}, M,
                                               {"scale": 0.5}, 1, 0) == -3
    assert cy.call_sigmoid_bias_f32({"x": m, "bias": None, "out": mo}, M, {}, 1, 0) == -3
    assert cy.call_elu_bias_backward_f32({"grad": m, "x": m, "bias": m[0], "out": mo,
                                          "grad_bias": None}, M, {"alpha": np.nan}, 1, 0) == -1
    assert cy.call_relu_bias_f32({"x": m, "bias": m[0], "out": mo}, M, {}, -1, 0) == -1
    assert np.all(out == 7.0)
    # memoryview forms: mismatched shapes
    assert cy.call_sigmoid_f32({"x": x, "out": np.empty(15, np.float32)}, S, {}, 1, 1) == -2
    assert cy.call_sigmoid_bias_f32({"x": m, "bias": np.ones(7, np.float32), "out": mo},
                                    M, {}, 1, 1) == -2
    assert cy.call_tanh_bias_backward_f32({"grad": m, "x": m, "bias": m[0], "out": mo,
                                           "grad_bias": np.ones(9, np.float32)}, M, {}, 1, 1) == -2
    assert cy.call_softmax_masked_f32({"x": m, "mask": np.zeros((2, 7), np.float32), "out": mo},
                                      M, {"scale": 1.0}, 1, 1) == -2
    assert np.all(out == 7.0)


def test_cython_api_follows_the_simd_level(cy):
    """After _set_simd_level, the Cython API runs the new level (bit-identical to the
    Python API at that level: FMA and non-FMA levels can differ in the last bit)."""
    from activations import _dispatch
    level = act.simd_level()
    x = np.linspace(-20, 20, 4099).astype(np.float32)
    try:
        for lv in _dispatch.supported_levels():
            act._set_simd_level(lv)
            out = np.empty_like(x)
            assert cy.call_gelu_f32({"x": x, "out": out}, {"n": x.size}, {"approximate": 0}, 1, 0) == 0
            assert same_bits(out, act.gelu(x)), lv
    finally:
        act._set_simd_level(level)


def fake_capsule(abi_version, table_size):
    """A capsule named activations._C_API holding only a table header."""
    buf = (ctypes.c_uint32 * 2)(abi_version, table_size)
    new = ctypes.pythonapi.PyCapsule_New
    new.restype = ctypes.py_object
    new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    name = ctypes.c_char_p(b"activations._C_API")
    return new(ctypes.addressof(buf), name, None), (buf, name)


@pytest.mark.parametrize("abi, size", [(2, 1000), (1, 3)])
def test_import_refuses_another_abi_or_an_older_table(built, abi, size):
    example_c = importlib.import_module("example_c")
    from activations import cython_api
    capsule, keep = fake_capsule(abi, size)
    real = act._C_API
    try:
        act._C_API = capsule
        with pytest.raises(ImportError, match="activations C API"):
            example_c.import_table()
        with pytest.raises(ImportError, match="ABI version"):
            cython_api._bind(capsule)
    finally:
        act._C_API = real
    example_c.import_table()


def test_readme_c_example(built):
    example_c = importlib.import_module("example_c")
    for dtype in (np.float32, np.float64):
        x = np.linspace(-6, 6, 1001).astype(dtype)
        for approximate, name in ((0, "none"), (1, "tanh")):
            out = np.empty_like(x)
            assert example_c.gelu(x, out, approximate) == 0
            assert same_bits(out, act.gelu(x, approximate=name))
        assert example_c.gelu(x, x.copy(), 2) == -1
        y = x.copy()
        assert example_c.gelu(y, y, 0) == 0 and same_bits(y, act.gelu(x))


def test_readme_cython_example(built):
    example = importlib.import_module("example_cython")
    x = np.random.default_rng(1).standard_normal((64, 513)).astype(np.float32)
    out = np.empty_like(x)
    assert example.sigmoid_rows(x, out) == 0
    assert same_bits(out, act.sigmoid(x))
    y = x.astype(np.float64).reshape(-1)
    want = act.softplus(y, beta=0.5)
    example.softplus_inplace(y, 0.5)
    assert same_bits(y, want)
    with pytest.raises(ValueError, match="status -1"):
        example.softplus_inplace(y, 0.0)


def test_embedded_python_calls_from_pthreads(built):
    exe = harness.build_embed(built)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    res = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=300)
    print(res.stdout, res.stderr)
    assert res.returncode == 0 and "embed: ok" in res.stdout, res.stdout + res.stderr


def test_huge_nthreads_is_bounded(cy):
    # nthreads beyond what set_num_threads accepts would make OpenMP fail to create
    # threads (the process dies): the C API bounds it the same way, results unchanged.
    x = np.linspace(-3, 3, 1 << 18, dtype=np.float32)
    want = act.sigmoid(x)
    out = np.empty_like(x)
    assert cy.call_sigmoid_f32({"x": x, "out": out}, {"n": x.size}, {}, 100000, 0) == 0
    assert same_bits(out, want)
