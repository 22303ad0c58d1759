"""activations: fast, exact neural-network activation functions for NumPy arrays.

Every activation has a forward ``activations.NAME(x, *, params, out=None)`` and a
backward ``activations.NAME_backward(grad, x=None, *, y=None, params, out=None)``
for float32 and float64 arrays of any shape, in place where asked.  The kernels are
Cython/OpenMP, compiled for several SIMD levels, the widest one the CPU runs chosen
at import.  See README.md and the docstrings; ``python -m activations`` self-checks.
"""

from __future__ import annotations

import os as _os
import sys as _sys

from . import _dispatch, _functions, _registry, _spec
from ._config import show_config
from ._registry import Activation, get, names
from ._threads import get_num_threads, set_num_threads
from ._version import __version__

_functions.bind_kernels(_dispatch.load(_dispatch.choose_level()))

#: The C-level table of function pointers of the SIMD level in use, a capsule named
#: "activations._C_API" (include/activations.h, README.md "From Cython and C").
_C_API = _functions._K.C_API

for _spec_row in _spec.SPECS:
    _fwd, _bwd = _functions.FUNCTIONS[_spec_row.name]
    _registry.register(_spec_row, _fwd, _bwd)
    globals()[_spec_row.name] = _fwd
    globals()[f"{_spec_row.name}_backward"] = _bwd
    for _alias in _spec_row.aliases:
        globals()[_alias] = _fwd
        globals()[f"{_alias}_backward"] = _bwd
del _spec_row, _fwd, _bwd


def simd_level() -> str:
    """The SIMD level of the kernels in use: "avx512", "avx2" or "baseline"."""
    return _functions._K.SIMD_LEVEL


def _set_simd_level(level: str) -> None:
    """Switch the kernels to another compiled SIMD level (tests and benchmarks).

    ``_C_API`` becomes the new level's table and ``activations.cython_api`` calls
    through it; a C program that imported the table before keeps the old level's
    (both stay valid: kernel modules are never unloaded).
    """
    global _C_API
    _functions.bind_kernels(_dispatch.load(level))
    _C_API = _functions._K.C_API
    cython_api = _sys.modules.get("activations.cython_api")
    if cython_api is not None:
        cython_api._bind(_C_API)


def get_include() -> str:
    """The directory of ``activations.h``, the C API's header (for ``-I``; Cython
    callers need no include path: ``from activations cimport cython_api``)."""
    return _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "include")


__all__ = ["Activation", "get", "get_include", "names", "get_num_threads", "set_num_threads", "simd_level",
           "show_config", "__version__"] + [n for s in _spec.SPECS for n in (s.name, f"{s.name}_backward",
                                                               *s.aliases,
                                                               *(f"{a}_backward" for a in s.aliases))]
