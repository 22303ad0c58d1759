"""Choose, at import, the compiled kernel module for the widest SIMD level this CPU runs.

setup.py compiles the same kernel source once per level of the table in
_simd_levels.py; this module imports the best one that was built and that the CPU
(and OS) supports.
The environment variable ``ACTIVATIONS_SIMD`` (``avx512``, ``avx2`` or ``baseline``)
forces a lower level, e.g. to compare levels or to work around a CPU problem; a
level the CPU cannot run is refused with a warning and the best one is used.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import warnings
from types import ModuleType
from typing import Tuple

from activations._simd_levels import LEVELS as _TABLE

#: Levels from widest to narrowest (the table in _simd_levels.py, reversed).
LEVELS: Tuple[str, ...] = tuple(lv.name for lv in reversed(_TABLE))
MODULE_OF_LEVEL = {lv.name: lv.module for lv in _TABLE}
ENV_VAR = "ACTIVATIONS_SIMD"


def _import(level: str) -> ModuleType:
    return importlib.import_module(f"activations.{MODULE_OF_LEVEL[level]}")


def compiled_levels() -> Tuple[str, ...]:
    """Levels whose module was built (widest first).

    Found without importing: a module built for a wider level than the CPU runs may
    execute its instructions as soon as it is loaded (its module initialization is
    compiled with the same flags), so only ``load`` imports, after the CPU check.
    """
    return tuple(lv for lv in LEVELS
                 if importlib.util.find_spec(f"activations.{MODULE_OF_LEVEL[lv]}") is not None)


def supported_levels() -> Tuple[str, ...]:
    """Levels that were built and that this CPU runs (widest first)."""
    baseline = _import("baseline")
    return tuple(lv for lv in compiled_levels() if baseline.cpu_supports(lv))


def choose_level(requested: str | None = None) -> str:
    """The level to use: ``requested`` (or $ACTIVATIONS_SIMD) if runnable, else the best."""
    usable = supported_levels()
    if requested is None:
        requested = os.environ.get(ENV_VAR, "").strip().lower() or None
    if requested is None:
        return usable[0]
    if requested not in LEVELS:
        warnings.warn(f"{ENV_VAR}={requested!r} is not one of {LEVELS}; using {usable[0]!r}",
                      RuntimeWarning, stacklevel=2)
        return usable[0]
    if requested not in usable:
        warnings.warn(f"{ENV_VAR}={requested!r}: this build or CPU does not support it "
                      f"(usable: {usable}); using {usable[0]!r}", RuntimeWarning, stacklevel=2)
        return usable[0]
    return requested


def load(level: str) -> ModuleType:
    """The kernel module of ``level`` (which must be in ``supported_levels()``)."""
    if level not in supported_levels():
        raise ValueError(f"SIMD level {level!r} is not usable here; usable: {supported_levels()}")
    return _import(level)
