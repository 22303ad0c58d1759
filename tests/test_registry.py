"""The registry (names, get, aliases) and the completeness of the test tables."""

from __future__ import annotations

import inspect
import pathlib
import re

import numpy as np
import pytest

import activations as act
from cases import KIND, NAMES
from reference import ALIASES, REFERENCES

SEED_SET = ("sigmoid", "tanh", "relu", "leaky_relu", "rrelu", "elu", "selu", "softsign",
            "softplus", "swish", "hard_swish")


def test_names_is_a_tuple_of_canonical_names():
    names = act.names()
    assert isinstance(names, tuple) and len(set(names)) == len(names)
    assert set(SEED_SET) <= set(names)
    assert not set(ALIASES) & set(names)  # aliases are not canonical names


#: Functions whose tests are not built on reference.py's elementwise rows: different
#: signatures (prelu's weight and grad_weight, softmax's axis and row-wise reductions,
#: the gated halves).  Only these kinds may be missing from the reference table, and
#: only under a name listed here, with the module that tests them.
OTHER_KINDS = {"prelu": "prelu", "softmax": "softmax", "log_softmax": "softmax",
               "softmin": "softmax", "glu": "gated", "swiglu": "gated", "geglu": "gated"}
TESTED_IN = {"prelu": "test_prelu.py", "softmax": "test_softmax.py", "gated": "test_gated.py"}


def test_every_function_is_covered():
    # a new function without a reference row (and so without accuracy, special-value,
    # layout, ... tests) fails here
    missing = [n for n in act.names() if n not in REFERENCES and n not in OTHER_KINDS]
    assert not missing, f"add rows to tests/reference.py for {missing}"
    assert not set(REFERENCES) - set(act.names()), "reference rows for unknown names"
    here = pathlib.Path(__file__).parent
    for name, kind in OTHER_KINDS.items():
        if name in act.names():
            assert KIND[name] == kind, f"{name} is now {KIND[name]}: give it a reference row"
            module = (here / TESTED_IN[kind]).read_text()
            assert re.search(rf"\b{name}\b", module), f"{TESTED_IN[kind]} does not test {name}"
    # rrelu's training mode has its own module too
    assert "training=True" in (here / "test_rrelu_training.py").read_text()


def test_covered_names_are_the_elementwise_ones():
    assert set(NAMES) == {n for n in act.names() if KIND[n] in ("elementwise", "rrelu")}
    assert set(NAMES) == set(REFERENCES)


@pytest.mark.parametrize("name", NAMES)
def test_get_fields(name):
    entry = act.get(name)
    assert entry.name == name
    assert entry.forward is getattr(act, name)
    assert entry.backward is getattr(act, f"{name}_backward")
    assert isinstance(entry.params, dict)
    assert set(entry.backward_takes) in ({"x"}, {"x", "y"})
    ref = REFERENCES[name]
    assert ("y" in entry.backward_takes) == ref.takes_y
    # params and defaults as docs/api.md (and the reference) have them
    assert entry.params == ref.defaults
    fsig = inspect.signature(entry.forward)
    # a required parameter (None in .params) has no default in the signature
    signature_default = {k: inspect.Parameter.empty if v is None else v
                         for k, v in entry.params.items()}
    for k, v in signature_default.items():
        assert fsig.parameters[k].kind is inspect.Parameter.KEYWORD_ONLY
        assert fsig.parameters[k].default == v
    assert fsig.parameters["out"].default is None
    bsig = inspect.signature(entry.backward)
    assert list(bsig.parameters)[:2] == ["grad", "x"]
    for k, v in signature_default.items():
        assert bsig.parameters[k].default == v


@pytest.mark.parametrize("alias, name", sorted(ALIASES.items()))
def test_aliases_are_the_same_objects(alias, name):
    assert getattr(act, alias) is getattr(act, name)
    assert getattr(act, f"{alias}_backward") is getattr(act, f"{name}_backward")
    assert act.get(alias) is act.get(name)
    assert alias in act.get(name).aliases


def test_silu_is_swish():
    assert act.silu is act.swish and act.hswish is act.hard_swish


@pytest.mark.parametrize("bad", ["nope", "Sigmoid", "", "relu6x"])
def test_unknown_name_raises_keyerror_listing_names(bad):
    with pytest.raises(KeyError) as exc:
        act.get(bad)
    msg = str(exc.value)
    for name in act.names():
        assert name in msg


def test_public_names_exported():
    for name in act.names():
        assert name in act.__all__ and f"{name}_backward" in act.__all__
        assert callable(getattr(act, name)) and callable(getattr(act, f"{name}_backward"))


def test_reference_param_sets_are_accepted():
    # every parameter set the accuracy grid uses is valid for the package
    for name, ref in REFERENCES.items():
        for params in ref.param_sets:
            act.get(name).forward(np.ones(2), **params)
