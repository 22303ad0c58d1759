"""The public functions are a generated, committed module (src/activations/_functions.py).

Fails when a row of _spec.py changes without ``python tools/gen_functions.py``, and
checks that what is public is that module's code: a reader can open every function,
and a traceback points into it.  The build compiles the module with Cython (setup.py):
each public function's code object names the file and the line of its ``def``, and
the compiled module must be the committed source's (rebuilt after it changed).
"""

import ast
import inspect
import itertools
from pathlib import Path

import numpy as np
import pytest

import activations
from tools_loader import load_tool
from activations import _functions, _spec

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "src" / "activations" / "_functions.py"
SOURCE = Path(_functions.__file__).with_name("_functions.py")  # beside the compiled module


def _load_generator():
    return load_tool("gen_functions")


def test_committed_module_is_what_the_generator_writes_now():
    assert MODULE.read_text() == _load_generator().render(), (
        "src/activations/_functions.py is stale: run `python tools/gen_functions.py` "
        "and commit it")


@pytest.mark.parametrize("name", [s.name for s in _spec.SPECS])
def test_public_functions_are_the_generated_ones(name):
    forward, backward = _functions.FUNCTIONS[name]
    for fn, public in ((forward, name), (backward, f"{name}_backward")):
        assert getattr(activations, public) is fn
        assert fn.__name__ == fn.__qualname__ == public
        assert fn.__module__ == "activations"
        # the source beside the imported module: the checkout's, or the installed copy
        code = fn.__code__
        assert Path(code.co_filename).parts[-2:] == ("activations", "_functions.py")
        assert SOURCE.read_text().splitlines()[code.co_firstlineno - 1].startswith(
            f"def {public}(")
        assert fn.__doc__ and fn.__doc__.startswith(
            spec_doc_start(name, backward=fn is backward))


def test_the_public_functions_are_compiled():
    # a plain Python function would cost a frame and its keyword handling per call
    assert Path(_functions.__file__).suffix in (".so", ".pyd"), _functions.__file__
    assert not inspect.isfunction(activations.softmax)


def test_the_compiled_module_is_the_source_beside_it():
    # _functions.py regenerated without a rebuild leaves the old compiled module in use
    tree = ast.parse(SOURCE.read_text())
    assert _functions.__doc__ == ast.get_docstring(tree, clean=False)
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert defs
    for node in defs:
        fn = getattr(_functions, node.name)
        assert (fn.__code__.co_firstlineno, fn.__doc__) == (
            node.lineno, ast.get_docstring(node, clean=False)), node.name


def test_a_traceback_points_into_the_module():
    with pytest.raises(TypeError) as info:
        activations.softmax([1.0, 2.0], axis=0.5)
    # a compiled function's frame is named by its qualified name
    frames = [(Path(e.path).name, e.name.split(".")[-1]) for e in info.traceback]
    assert ("_functions.py", "softmax") in frames, frames


def _required_keyword_cases():
    """(public name, function, the required keyword-only parameters) per function that
    has some."""
    cases = []
    for name in activations.names():
        entry = activations.get(name)
        for fn, public in ((entry.forward, name), (entry.backward, f"{name}_backward")):
            required = [p.name for p in inspect.signature(fn).parameters.values()
                        if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
            if required:
                cases.append((public, fn, required))
    return cases


@pytest.mark.parametrize("public, fn, required", _required_keyword_cases(),
                         ids=[c[0] for c in _required_keyword_cases()])
def test_a_missing_required_keyword_is_worded_as_python_words_it(public, fn, required):
    """The message for each subset of missing required keyword-only parameters is the
    interpreter's own, for a Python function of the same signature (the reference)."""
    sig = inspect.signature(fn)
    namespace = {}
    exec(f"def {public}{sig}:\n    pass\n", namespace)
    reference = namespace[public]
    positional = [np.ones(3) for p in sig.parameters.values()
                  if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty]
    for given in itertools.chain.from_iterable(
            itertools.combinations(required, k) for k in range(len(required))):
        kwargs = {k: 0.5 for k in given}
        with pytest.raises(TypeError) as want:
            reference(*positional, **kwargs)
        out = np.full(3, np.nan)
        with pytest.raises(TypeError) as got:
            fn(*positional, out=out, **kwargs)
        assert str(got.value) == str(want.value)
        assert np.isnan(out).all()


def spec_doc_start(name, backward):
    spec = {s.name: s for s in _spec.SPECS}[name]
    if not backward:
        return spec.summary
    return "Gradients of prelu" if spec.kind == "prelu" else f"Gradient of {name}:"


def test_every_kind_has_a_template():
    assert set(_load_generator().TEMPLATES) == set(_spec.KINDS)
    assert {s.kind for s in _spec.SPECS} <= set(_spec.KINDS)
