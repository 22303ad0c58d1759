"""The committed type stub matches the package: regenerated text and every signature.

Fails when a function is added or changed without ``python tools/gen_stubs.py``.
"""

import ast
import inspect
from pathlib import Path

import pytest

import activations
from tools_loader import load_tool

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "src" / "activations" / "__init__.pyi"


def _load_generator():
    return load_tool("gen_stubs")


def _stub_tree():
    return ast.parse(STUB.read_text(), filename=str(STUB))


def _stub_functions():
    """name -> ast.FunctionDef, with `alias = name` assignments resolved."""
    tree = _stub_tree()
    defs = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Name)
                and node.value.id in defs):
            defs[node.targets[0].id] = defs[node.value.id]
    return defs


def _stub_params(fn: ast.FunctionDef):
    """(name, kind, default) per parameter; default is `...` when the stub elides it."""
    a = fn.args
    P = inspect.Parameter
    out = []
    positional = [(arg, P.POSITIONAL_ONLY) for arg in a.posonlyargs] + \
                 [(arg, P.POSITIONAL_OR_KEYWORD) for arg in a.args]
    pos_defaults = [P.empty] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for (arg, kind), default in zip(positional, pos_defaults):
        out.append((arg.arg, kind, default))
    if a.vararg is not None:
        out.append((a.vararg.arg, P.VAR_POSITIONAL, P.empty))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        out.append((arg.arg, P.KEYWORD_ONLY, P.empty if default is None else default))
    if a.kwarg is not None:
        out.append((a.kwarg.arg, P.VAR_KEYWORD, P.empty))
    result = []
    for name, kind, default in out:
        if isinstance(default, ast.AST):
            default = ast.literal_eval(default)  # `...` evaluates to Ellipsis
        result.append((name, kind, default))
    return result


def _runtime_params(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def _public_functions():
    # callable and not a class: the public activation functions are compiled (Cython's
    # functions, which inspect.isfunction does not count) and must all be compared
    names = sorted(n for n in activations.__all__
                   if callable(getattr(activations, n)) and not inspect.isclass(getattr(activations, n)))
    assert set(activations.names()) <= set(names)
    return names


def test_committed_stub_is_what_the_generator_writes_now():
    expected = _load_generator().render()
    assert STUB.read_text() == expected, (
        "src/activations/__init__.pyi is stale: run `python tools/gen_stubs.py` and commit it")


@pytest.mark.parametrize("name", _public_functions())
def test_stub_signature_matches_runtime(name):
    defs = _stub_functions()
    assert name in defs, f"{name} is public but has no stub: run `python tools/gen_stubs.py`"
    stub = _stub_params(defs[name])
    runtime = _runtime_params(getattr(activations, name))
    assert [(n, k) for n, k, _ in stub] == [(n, k) for n, k, _ in runtime], \
        f"{name}: stub parameters differ from inspect.signature"
    for (pname, _, s_default), (_, _, r_default) in zip(stub, runtime):
        if s_default is Ellipsis:  # elided in the stub: only its presence is checked
            assert r_default is not inspect.Parameter.empty, f"{name}({pname}) has no default"
            continue
        assert s_default == r_default, f"{name}({pname}): stub default {s_default!r}, " \
                                       f"runtime {r_default!r}"


def test_every_registered_function_and_alias_is_in_the_stub():
    defs = _stub_functions()
    for name in activations.names():
        entry = activations.get(name)
        for n in (name, *entry.aliases):
            assert n in defs and f"{n}_backward" in defs, f"{n} missing from the stub"


def test_stub_declares_the_module_api():
    tree = _stub_tree()
    declared = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef,
                                                                   ast.ClassDef))}
    declared |= {node.target.id for node in tree.body if isinstance(node, ast.AnnAssign)}
    for name in ("names", "get", "Activation", "get_num_threads", "set_num_threads",
                 "simd_level", "get_include", "__version__"):
        assert name in declared, f"{name} missing from the stub"
