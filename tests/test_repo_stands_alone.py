"""The repository stands alone: comments and docs cite files in it, never documents
outside it, and say what is rather than what was (no issue numbers)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("src", "tests", "benchmarks", "tools", "docs", "setup.py", "README.md", ".ci")
FORBIDDEN = re.compile(r"\.\./shared|\bshared/(API|PERF|STYLE)|(?<!docs/)\bAPI\.md|PERF-NOTES"
                       r"|\bissue #\d")
SUFFIXES = {".py", ".pyx", ".pxd", ".pxi", ".tp", ".h", ".md", ".toml", ".pyi", ""}


def _files():
    for top in CHECKED:
        path = ROOT / top
        if path.is_file():
            yield path
        elif path.is_dir():
            for f in path.rglob("*"):
                if (f.is_file() and f.suffix in SUFFIXES and "egg-info" not in str(f)
                        and "__pycache__" not in str(f) and f.name != Path(__file__).name):
                    yield f


def test_no_citation_outside_the_repository():
    if not (ROOT / "src" / "activations").is_dir():
        pytest.skip("not run from a checkout")
    bad = []
    for f in _files():
        for k, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            if FORBIDDEN.search(line):
                bad.append(f"{f.relative_to(ROOT)}:{k}: {line.strip()}")
    assert not bad, "\n".join(bad)
