"""README.md's table of functions is what tools/gen_readme_table.py writes now."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_function_table_is_current():
    spec = importlib.util.spec_from_file_location(
        "gen_readme_table", ROOT / "tools" / "gen_readme_table.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = (ROOT / "README.md").read_text()
    assert gen.rewrite(text) == text, (
        "README.md's function table is stale: run `python tools/gen_readme_table.py`")
