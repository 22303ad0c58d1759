"""The C-level API without a compiler: generated files up to date, the table's entries
equal to the released ones (tests/capi/abi.txt), the C parameter rules and kernel
choices of _spec.py agreeing with the Python layer, and the package's exports
(get_include, the capsule, cython_api).  tests/capi/test_consumers.py compiles callers."""

from __future__ import annotations

import ctypes
import importlib.util
import inspect
import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import activations as act
from activations import _spec

ROOT = Path(__file__).resolve().parents[1]


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


GEN = _load("gen_capi", ROOT / "tools" / "gen_capi.py")
SPECS = {s.name: s for s in _spec.SPECS}


def test_generated_files_are_up_to_date():
    stale = [os.path.relpath(path, ROOT) for path, text in GEN.render().items()
             if not os.path.exists(path) or open(path).read() != text]
    assert not stale, f"stale: {stale}; run `python tools/gen_capi.py` and commit"


def test_table_entries_are_the_released_ones():
    """The table only grows at its end: every released entry keeps its index, name and
    signature, and every entry is recorded (python tools/gen_capi.py --record-abi)."""
    released = (ROOT / "tests" / "capi" / "abi.txt").read_text().splitlines()
    current = GEN.abi_lines(GEN.entries())
    assert current[:len(released)] == released, "released C API entries changed: an ABI break"
    assert current == released, ("new C API entries are not in tests/capi/abi.txt: "
                                 "run `python tools/gen_capi.py --record-abi`")


def test_every_function_has_a_row_once():
    plain = [r for r in _spec.C_API_ROWS if isinstance(r, str)]
    assert sorted(plain) == sorted(SPECS), "each function needs one C_API_ROWS row"
    fused = [r for r in _spec.C_API_ROWS if not isinstance(r, str)]
    assert len(fused) == len(set(fused))
    # a fused row for each function whose Python form takes the fused keyword
    for form, keyword in (("bias", "bias"), ("masked", "mask")):
        takes = sorted(name for name in SPECS
                       if keyword in inspect.signature(getattr(act, name)).parameters)
        assert takes and sorted(f for f, fm in fused if fm == form) == takes, form
    assert {fm for _, fm in fused} == {"bias", "masked"}
    for table in (_spec.C_API_CHECKS, _spec.C_API_CHECKS_FROM_OUTPUT, _spec.C_API_OP):
        assert set(table) <= set(SPECS)


def test_entry_names_follow_the_contract():
    names = [e.name for e in GEN.entries()]
    assert len(names) == len(set(names))
    for s in _spec.SPECS:
        for dt in ("f32", "f64"):
            assert f"{s.name}_{dt}" in names and f"{s.name}_backward_{dt}" in names
            assert (f"{s.name}_backward_y_{dt}" in names) == ("y" in s.backward_takes)
    for row in _spec.C_API_ROWS:
        if isinstance(row, str):
            continue
        func, form = row
        for dt in ("f32", "f64"):
            assert f"{func}_{form}_{dt}" in names and f"{func}_{form}_backward_{dt}" in names
            # from y the bias form adds nothing to x: no entry (the plain one serves)
            assert (f"{func}_{form}_backward_y_{dt}" in names) == (form == "masked")
    header = (Path(act.get_include()) / "activations.h").read_text()
    for alias, func in GEN.aliases(GEN.load_spec()):
        assert f"act_{alias}_f32(" in header and f"act_{alias}_backward_f64(" in header


# ---------------------------------------------------------------- parameter rules

GRID = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 0.001, -0.001, math.inf, -math.inf, math.nan]
APPROXIMATE = {0: "none", 1: "tanh", 2: "tanhh", -1: "exact"}


def _c_accepts(rules, params) -> bool:
    return all(eval(rule, {"isfinite": math.isfinite}, dict(params)) for rule in rules)


def _python_accepts(call) -> bool:
    try:
        call()
    except ValueError:
        return False
    return True


def _param_grid(name):
    keys = [k for k in SPECS[name].params if k not in _spec.C_API_NOT_PARAMS]
    values = []
    for k in keys:
        if k == "approximate":
            values.append(list(APPROXIMATE))
        elif k == "training":
            values.append([0, 1])
        elif k == "seed":
            values.append([3])
        else:
            values.append(GRID)
    for combo in itertools.product(*values):
        yield dict(zip(keys, combo))


def _python_kwargs(params):
    return {k: (APPROXIMATE[v] if k == "approximate" else bool(v) if k == "training" else v)
            for k, v in params.items()}


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
def test_c_scale_rule_accepts_and_rejects_what_python_does(name):
    x = np.linspace(-2, 2, 8).reshape(2, 4)
    mask = np.zeros_like(x)
    rules = _spec.C_API_FORM_CHECKS["masked"]
    for scale in GRID + [1e308, -1e-308]:
        py = _python_accepts(lambda: getattr(act, name)(x, scale=scale, mask=mask))
        assert _c_accepts(rules, {"scale": scale}) == py, (name, scale)
        py_b = _python_accepts(lambda: getattr(act, f"{name}_backward")(x, y=x, scale=scale))
        assert _c_accepts(rules, {"scale": scale}) == py_b, (name, scale)


@pytest.mark.parametrize("name", sorted(set(_spec.C_API_CHECKS) | set(_spec.C_API_CHECKS_FROM_OUTPUT)))
def test_c_rules_accept_and_reject_what_python_does(name):
    x = np.linspace(-2, 2, 8).reshape(2, 4)
    forward = getattr(act, name)
    backward = getattr(act, f"{name}_backward")
    rules = _spec.C_API_CHECKS.get(name, ())
    rules_y = rules + _spec.C_API_CHECKS_FROM_OUTPUT.get(name, ())
    grad = np.ones((2, 2) if SPECS[name].kind == "gated" else x.shape)
    for params in _param_grid(name):
        kw = _python_kwargs(params)
        py_fwd = _python_accepts(lambda: forward(x, **kw))
        assert _c_accepts(rules, params) == py_fwd, (name, params)
        assert _c_accepts(rules, params) == _python_accepts(
            lambda: backward(grad, x, **kw)), (name, params)
        if "y" in SPECS[name].backward_takes:
            assert _c_accepts(rules_y, params) == (py_fwd and _python_accepts(
                lambda: backward(grad, y=np.zeros_like(x), **kw))), (name, params)


@pytest.mark.parametrize("name", [s.name for s in _spec.SPECS
                                  if s.kind == "elementwise" and s.kernel_args is not None])
def test_c_kernel_choice_is_the_python_layers(name):
    """The op and arguments a C entry passes (gen_capi: C_API_OP or the first op; the
    float parameters in order) are those the Python layer's kernel_args returns."""
    s = SPECS[name]
    for params in _param_grid(name):
        if not _c_accepts(_spec.C_API_CHECKS.get(name, ()), params):
            continue
        op_name, a, b = s.kernel_args(**_python_kwargs(params))
        expr = _spec.C_API_OP.get(name)
        c_op = eval(expr, {}, dict(params)) if expr else s.ops[0]
        floats = [v for k, v in params.items()
                  if _spec.C_API_PARAM_TYPES.get(k, "T") == "T"] + [0.0, 0.0]
        assert (op_name, a, b) == (c_op, floats[0], floats[1]), (name, params)


# ---------------------------------------------------------------- exports

def test_capsule_is_the_table_of_the_level_in_use():
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    assert get_name(act._C_API) == b"activations._C_API"
    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    get_ptr.restype = ctypes.c_void_p
    get_ptr.argtypes = [ctypes.py_object, ctypes.c_char_p]
    header = (ctypes.c_uint32 * 2).from_address(get_ptr(act._C_API, b"activations._C_API"))
    assert (header[0], header[1]) == (GEN.ABI_VERSION, len(GEN.entries()))
    from activations import _functions
    assert act._C_API is _functions._K.C_API


def test_set_simd_level_rebinds_the_capsule():
    from activations import _dispatch, _functions
    level = act.simd_level()
    try:
        for lv in _dispatch.supported_levels():
            act._set_simd_level(lv)
            assert act._C_API is _functions._K.C_API and _functions._K.SIMD_LEVEL == lv
    finally:
        act._set_simd_level(level)


def test_get_include_and_command_line():
    inc = act.get_include()
    assert (Path(inc) / "activations.h").is_file()
    res = subprocess.run([sys.executable, "-m", "activations", "--include"],
                         capture_output=True, text=True, check=True)
    assert res.stdout.strip() == inc


def test_cimport_files_are_installed():
    pkg = Path(act.__file__).parent
    assert (pkg / "cython_api.pxd").is_file()
    from activations import cython_api
    assert callable(cython_api._bind)


def test_readme_examples_are_the_compiled_ones():
    """README.md's Cython and C examples are tests/capi's files, which the consumer
    tests compile and run."""
    readme = (ROOT / "README.md").read_text()
    for name, lang in (("example_cython.pyx", "cython"), ("example_c.c", "c")):
        text = (ROOT / "tests" / "capi" / name).read_text()
        assert f"```{lang}\n{text}```" in readme, f"README.md's copy of tests/capi/{name} differs"
