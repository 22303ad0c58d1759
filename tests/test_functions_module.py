"""The public functions are a generated, committed module (src/activations/_functions.py).

Fails when a row of _spec.py changes without ``python tools/gen_functions.py``, and
checks that what is public is that module's code: a reader can open every function,
and a traceback points into it.
"""

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
        # the imported module's file: the checkout's, or the installed copy of it
        assert Path(inspect.getsourcefile(fn)).resolve() == Path(_functions.__file__).resolve()
        assert inspect.getsource(fn).startswith(f"def {public}(")
        assert fn.__doc__ and fn.__doc__.startswith(
            spec_doc_start(name, backward=fn is backward))


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
