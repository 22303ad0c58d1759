"""Import a script of tools/ as a module, for the tests of the generators."""

import importlib
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def load_tool(name: str):
    """tools/NAME.py as a module (tools/ on sys.path: the generators share helpers there)."""
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    return importlib.import_module(name)
