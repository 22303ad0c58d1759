"""Adding an activation takes its three pieces, and the generators do the rest.

In a temporary copy of the repository, a throwaway function is added as README.md
("Adding a function") says: a ``_spec.py`` row, its reference in the tests (and in the
self-check), then the generators.  The copy then has a complete row
(``test_completeness.missing`` finds nothing), every generator's ``--check`` passes,
and the copy's package has the new public pair.

Nothing is compiled: the throwaway row reuses the kernel op of leaky_relu (as rrelu
does), so the copy's kernel op table is unchanged and the built kernel modules are
linked into it (not the compiled public functions: the copy runs its regenerated
_functions.py uncompiled).  A new op's formulas are what the build turns into loops; that
``missing`` names absent formulas is checked in test_completeness.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import activations
from test_completeness import missing

ROOT = Path(__file__).resolve().parents[1]
NAME = "leaky_relu_fifth"

ROW = f'''    Spec("{NAME}", "elementwise", "Leaky ReLU of slope 1/5 (a test's throwaway row).",
         "x if x > 0 else slope * x", "1 if x > 0 else slope",
         torch="F.leaky_relu(x, slope)",
         params={{"slope": 0.2}}, ops=("leaky_relu",),
         kernel_args=lambda slope=0.2: ("leaky_relu", _finite("{NAME}", "slope", slope), 0.0),
         memory_bound=True),
'''
TEST_REFERENCE = f'''
_add(Reference(
    "{NAME}", **_leaky("slope"),
    param_sets=({{}}, {{"slope": 0.5}}), defaults={{"slope": 0.2}},
    effective=_eff({{"slope": 0.2}}),
))
'''
SPECIAL_ROWS = f'''    ("{NAME}", {{}}, 0.0, 0.0, 0.2), ("{NAME}", {{}}, -inf, -inf, 0.2),
'''
SELF_CHECK_REFERENCE = f'''    "{NAME}": Elementwise(lambda x, slope: np.where(x > 0, x, slope * x),
                      lambda x, slope: _step(x > 0, x) + _step(x <= 0, x, slope)),
'''
GENERATORS = (["tools/gen_functions.py"], ["tools/gen_stubs.py"], ["tools/gen_readme_table.py"],
              ["tools/gen_capi.py"], ["tools/gen_capi.py", "--record-abi"])


def _insert_after(path: Path, marker: str, text: str) -> None:
    source = path.read_text()
    at = source.index(marker) + len(marker)
    path.write_text(source[:at] + text + source[at:])


def _insert_before_close(path: Path, opening: str, text: str) -> None:
    """``text`` as the last entry of the tuple literal that starts with ``opening``."""
    source = path.read_text()
    close = source.index("\n)\n", source.index(opening)) + 1
    path.write_text(source[:close] + text + source[close:])


def _copy_repository(target: Path) -> Path:
    """The sources the generators and checks read, with the built modules linked in."""
    skip = shutil.ignore_patterns("__pycache__", "*.so", "*.pyd", "*.c", "*.html", "build")
    for folder in ("src", "tools", "tests"):
        shutil.copytree(ROOT / folder, target / folder, ignore=skip)
    shutil.copy(ROOT / "README.md", target / "README.md")
    built = Path(activations.__file__).resolve().parent
    for module in list(built.glob("*.so")) + list(built.glob("*.pyd")):
        if module.name.split(".")[0] != "_functions":  # the copy regenerates its source
            (target / "src" / "activations" / module.name).symlink_to(module)
    libs = built.parent / "activations.libs"   # a repaired wheel's libgomp ($ORIGIN/..)
    if libs.is_dir():
        (target / "src" / "activations.libs").symlink_to(libs)
    return target


def _run(copy: Path, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(copy / "src"))
    done = subprocess.run([sys.executable, *args], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="links the built modules")
def test_a_new_row_needs_only_its_pieces_and_the_generators(tmp_path):
    copy = _copy_repository(tmp_path / "repo")
    pkg = copy / "src" / "activations"
    # the row, and its C entries appended (the table's order is the ABI)
    _insert_before_close(pkg / "_spec.py", "SPECS: Tuple[Spec, ...] = (", ROW)
    _insert_before_close(pkg / "_spec.py", "C_API_ROWS:",
                         f'    "{NAME}", ("{NAME}", "bias"),\n')
    # its independent reference, in the tests and in the self-check
    with open(copy / "tests" / "reference.py", "a") as fh:
        fh.write(TEST_REFERENCE)
    _insert_after(copy / "tests" / "test_special_values.py", "ROWS = [\n", SPECIAL_ROWS)
    _insert_after(pkg / "_check" / "references.py", "REFERENCES: Dict[str, Reference] = {\n",
                  SELF_CHECK_REFERENCE)

    import runpy
    row = next(s for s in runpy.run_path(str(pkg / "_spec.py"))["SPECS"] if s.name == NAME)
    before = missing(row, copy)
    assert any("gen_functions.py" in item for item in before), before

    for generator in GENERATORS:
        _run(copy, *generator)
    assert missing(row, copy) == []
    for generator in GENERATORS[:4]:
        _run(copy, generator[0], "--check")
    out = _run(copy, "-c", (
        "import numpy as np, activations as a\n"
        f"assert a.__file__.startswith({str(copy)!r}), a.__file__\n"
        "x = np.array([-2.0, 0.0, 3.0])\n"
        f"print(a.{NAME}(x).tolist(), a.{NAME}_backward(np.ones(3), x, slope=0.5).tolist(),\n"
        f"      a.get({NAME!r}).params)\n"))
    assert out.split() == ["[-0.4,", "0.0,", "3.0]", "[0.5,", "0.5,", "1.0]", "{'slope':", "0.2}"]
