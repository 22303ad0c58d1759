"""Adding an activation: every row of _spec.SPECS has everything it needs.

A new function is its formulas, one ``_spec.py`` row and its independent reference in
the tests; everything else is generated (README.md, "Adding a function").  Each test
here names, for one row, what is still missing and how to add it, so that the first
test run after adding a row reads as a checklist.  The checks read files only
(``missing()`` below), so ``tests/test_adding_a_function.py`` runs them on a copy of
the repository too.
"""

from __future__ import annotations

import ast
import functools
import re
import runpy
from pathlib import Path
from typing import List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "activations"

#: Where the tests of each kind live: elementwise-shaped rows have a row in
#: tests/reference.py (which the accuracy, special-value, layout, ... tests iterate);
#: the other kinds are tested by a module of their own that must name the function.
TESTED_IN = {"prelu": "test_prelu.py", "softmax": "test_softmax.py", "gated": "test_gated.py"}
REFERENCE_KINDS = ("elementwise", "rrelu")


def _string_keys(path: Path, name: str) -> set:
    """The string keys of the dict literal assigned to ``name`` in ``path``."""
    for node in ast.parse(path.read_text()).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == name and isinstance(node.value, ast.Dict):
            return {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
    raise AssertionError(f"{path.name} has no dict {name}")


def _first_strings(path: Path, name: str) -> set:
    """The first element of each tuple in the list literal ``name`` in ``path``."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return {elt.elts[0].value for elt in node.value.elts
                    if isinstance(elt, ast.Tuple) and isinstance(elt.elts[0], ast.Constant)}
    raise AssertionError(f"{path.name} has no list {name}")


@functools.lru_cache(maxsize=None)
def _spec_module(root: Path) -> dict:
    return runpy.run_path(str(root / "src" / "activations" / "_spec.py"))


@functools.lru_cache(maxsize=None)
def _reference_names(root: Path) -> frozenset:
    """Names with a row in tests/reference.py (which imports no part of the package)."""
    return frozenset(runpy.run_path(str(root / "tests" / "reference.py"))["REFERENCES"])


def _self_check_names(root: Path) -> set:
    """Names with a reference in the self-check of ``python -m activations``."""
    return _string_keys(root / "src" / "activations" / "_check" / "references.py", "REFERENCES")


def _formula_defined(formulas: str, fn: str) -> bool:
    return re.search(rf"^cdef inline [^\n]*\b{fn}\(", formulas, re.M) is not None


def missing(spec, root: Path = ROOT) -> List[str]:
    """What the row ``spec`` still lacks, each item saying where to add it."""
    pkg = root / "src" / "activations"
    tests = root / "tests"
    name, kind = spec.name, spec.kind
    out: List[str] = []
    module = _spec_module(root)
    if kind not in module["KINDS"]:
        out.append(f"kind {kind!r} is not one of _spec.KINDS (and has no template in "
                   "tools/gen_functions.py)")
    # formulas: one cdef inline function per op and direction (_elementwise.pxi.tp)
    formulas = (pkg / "_formulas.pxd").read_text()
    ops = {row[0]: row[1] for row in module["kernel_ops"]()}
    for op in spec.ops:
        if kind == "gated":
            wanted = [f"{op}_gate", f"{op}_gate_grad_a", f"{op}_gate_grad_b"]
        else:
            wanted = [f"{op}_forward", f"{op}_backward"]
            if ops.get(op):
                wanted.append(f"{op}_backward_from_output")
        out += [f"formula {fn} in _formulas.pxd" for fn in wanted
                if not _formula_defined(formulas, fn)]
    if kind in ("elementwise", "rrelu", "gated") and not spec.ops:
        out.append("its kernel ops (Spec.ops) in _spec.py")
    kernel_params = [k for k in spec.params if k not in ("axis", "weight", "training", "seed")]
    if kind in ("elementwise", "rrelu", "gated") and kernel_params and spec.kernel_args is None:
        out.append("a kernel_args mapper for its parameters in _spec.py")
    # the tests' independent reference
    if kind in REFERENCE_KINDS:
        if name not in _reference_names(root):
            out.append("a reference row (mpmath/float64) in tests/reference.py")
        if name not in _first_strings(tests / "test_special_values.py", "ROWS"):
            out.append("its special values (+-0, +-inf, large |x|) in "
                       "tests/test_special_values.py ROWS")
    elif not re.search(rf"\b{name}\b", (tests / TESTED_IN[kind]).read_text()):
        out.append(f"tests of {name} in tests/{TESTED_IN[kind]}")
    if not re.search(r"\bx\b", spec.torch or ""):
        out.append("the PyTorch expression it matches (Spec.torch, over x) in _spec.py")
    if name not in _self_check_names(root):
        out.append("its reference in the self-check and the benchmark (REFERENCES in "
                   "src/activations/_check/references.py)")
    # generated files: rerun the generators
    if not re.search(rf"^def {name}\(", (pkg / "_functions.py").read_text(), re.M):
        out.append("its functions in _functions.py: run python tools/gen_functions.py")
    if not re.search(rf"^def {name}\(", (pkg / "__init__.pyi").read_text(), re.M):
        out.append("its type stub: run python tools/gen_stubs.py")
    if not re.search(rf"^\| `{name}`[ |]", (root / "README.md").read_text(), re.M):
        out.append("its README.md table row: run python tools/gen_readme_table.py")
    # the C API: rows are appended by hand (their order is the ABI), the rest generated
    rows = module["C_API_ROWS"]
    wanted_rows = [name] + ([(name, "bias")] if kind == "elementwise" else []) \
        + ([(name, "masked")] if kind == "softmax" else [])
    out += [f"{row!r} appended to C_API_ROWS in _spec.py" for row in wanted_rows
            if row not in rows]
    if not re.search(rf"\b{name}_f32\b", (pkg / "include" / "activations.h").read_text()):
        out.append("its C entries: run python tools/gen_capi.py")
    abi = (tests / "capi" / "abi.txt").read_text()
    if not re.search(rf"^\d+ {name}_f32 ", abi, re.M):
        out.append("its C entries recorded: run python tools/gen_capi.py --record-abi")
    return out


def _specs():
    from activations import _spec
    return _spec.SPECS


@pytest.mark.parametrize("spec", _specs(), ids=lambda s: s.name)
def test_row_is_complete(spec):
    lacking = missing(spec)
    assert not lacking, f"{spec.name} lacks:\n  " + "\n  ".join(lacking)


def test_no_test_reference_without_a_row():
    names = {spec.name for spec in _specs()}
    assert _reference_names(ROOT) <= names, "tests/reference.py has rows for unknown names"
    special = _first_strings(ROOT / "tests" / "test_special_values.py", "ROWS")
    assert special <= names, "test_special_values.py has rows for unknown names"


def _first_missing(items: List[str]) -> Optional[str]:
    return items[0] if items else None


def test_missing_names_what_a_bare_row_lacks():
    """A row with nothing but itself is told every piece (the check can fail)."""
    from dataclasses import replace
    bare = replace(_specs()[0], name="bare_activation", ops=("bare_activation",))
    lacking = missing(bare)
    for piece in ("_formulas.pxd", "tests/reference.py", "test_special_values.py",
                  "_check/references.py", "gen_functions.py", "gen_stubs.py", "gen_readme_table.py",
                  "C_API_ROWS", "gen_capi.py", "--record-abi"):
        assert any(piece in item for item in lacking), f"{piece} not named: {lacking}"
