"""``activations.show_config()``: what was built, how, and what runs here.

The build half comes from ``_build_info.py``, which setup.py writes at build time
(compiler, flags, OpenMP on/off, SIMD levels compiled); the run-time half is asked of
the loaded kernels (SIMD level chosen, thread count) and of the dynamic loader (which
OpenMP runtime library the kernels are actually bound to -- in a wheel repaired by
auditwheel, the copy of libgomp bundled in ``activations.libs/``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys
from typing import Any, Dict, Optional

#: Function names that an OpenMP runtime exports (any one identifies the library).
_OMP_SYMBOLS = ("omp_get_max_threads", "omp_get_num_threads")


def _dladdr_path(address: int) -> Optional[str]:
    """The file of the shared object that holds ``address`` (dladdr), or None."""

    class DlInfo(ctypes.Structure):
        _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                    ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]

    for libname in (None, ctypes.util.find_library("dl")):
        try:
            dladdr = ctypes.CDLL(libname).dladdr
        except (OSError, AttributeError):
            continue
        dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
        dladdr.restype = ctypes.c_int
        info = DlInfo()
        if dladdr(ctypes.c_void_p(address), ctypes.byref(info)) and info.dli_fname:
            return os.fsdecode(info.dli_fname)
    return None


def openmp_runtime(kernels) -> Optional[str]:
    """Path of the OpenMP runtime library that the kernel module ``kernels`` uses.

    Looks ``omp_get_max_threads`` up through the module's own handle, so the loader
    searches the module and its dependencies -- exactly the copy its calls go to, even
    when another OpenMP runtime is loaded in the process too -- then asks dladdr which
    file that symbol lives in.  None for a serial build or where this does not work
    (non-ELF platforms).
    """
    if not getattr(kernels, "OPENMP", False):
        return None
    try:
        handle = ctypes.CDLL(kernels.__file__)
    except OSError:
        return None
    for symbol in _OMP_SYMBOLS:
        try:
            fn = getattr(handle, symbol)
        except AttributeError:
            continue
        path = _dladdr_path(ctypes.cast(fn, ctypes.c_void_p).value)
        if path:
            return os.path.realpath(path)
    return None


def _runtime_name(path: str) -> str:
    base = os.path.basename(path).lower()
    if "gomp" in base:
        return "GNU libgomp"
    if "iomp" in base:
        return "Intel OpenMP (libiomp)"
    if "omp" in base:
        return "LLVM OpenMP (libomp)"
    if base.startswith("vcomp"):
        return "MSVC OpenMP (vcomp)"
    return "OpenMP runtime"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def config() -> Dict[str, Any]:
    """Everything show_config() prints, as a dict (for tests and tools)."""
    import numpy as np

    import activations as act
    from activations import _dispatch, _functions

    try:
        from activations._build_info import BUILD_INFO
    except ImportError:  # a source tree that was never built through setup.py
        BUILD_INFO = {}
    kernels = _functions._K
    runtime = openmp_runtime(kernels)
    pkg_dir = os.path.dirname(os.path.realpath(act.__file__))
    libs_dir = os.path.join(os.path.dirname(pkg_dir), "activations.libs")
    return {
        "version": act.__version__,
        "location": pkg_dir,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "compiler": BUILD_INFO.get("compiler"),
        "compiler_version": BUILD_INFO.get("compiler_version"),
        "common_flags": BUILD_INFO.get("common_flags"),
        "simd_flags": BUILD_INFO.get("simd_flags"),
        "openmp_built": BUILD_INFO.get("openmp"),
        "openmp": bool(getattr(kernels, "OPENMP", False)),
        "openmp_runtime": runtime,
        "openmp_runtime_name": _runtime_name(runtime) if runtime else None,
        "openmp_runtime_bundled": bool(runtime) and runtime.startswith(libs_dir + os.sep),
        "num_threads": act.get_num_threads(),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "cpu_count": os.cpu_count(),
        "simd_levels_built": list(BUILD_INFO.get("simd_levels") or _dispatch.compiled_levels()),
        "simd_levels_usable": list(_dispatch.supported_levels()),
        "simd_level": act.simd_level(),
        "simd_env": os.environ.get(_dispatch.ENV_VAR),
        "hardware_stream_ns": kernels.HARDWARE_STREAM_NS,
        "software_prefetch": kernels.software_prefetch_on(),
        "subnormal_mul_ratio": kernels.SUBNORMAL_MUL_RATIO,
        "subnormal_detours": kernels.subnormal_detours_on(),
    }


def show_config(file=None) -> None:
    """Print the version, how the package was built and what it uses at run time.

    Version; the compiler and flags of the build; whether OpenMP is on and which
    runtime library the kernels are bound to (bundled with the wheel or the system's);
    the thread count; the SIMD levels compiled in, those this CPU runs and the one
    chosen at import; whether the blocked loops prefetch (off on a core that streams
    memory ahead by itself, docs/performance-notes.md) and whether the cheap loops
    detour around subnormal arithmetic (tiny blocks, rare blocks: off on a core where
    it is not slow).  ``python -m activations --config`` prints the same.
    """
    c = config()
    out = file if file is not None else sys.stdout

    def say(key: str, value: Any) -> None:
        print(f"{key + ':':<22}{value}", file=out)

    say("activations", f"{c['version']}  ({c['location']})")
    say("Python", f"{c['python']}, NumPy {c['numpy']}, {c['platform']}")
    say("CPU", c["cpu"])
    if c["compiler"] is None:
        say("build", "no build info (_build_info.py missing: not built by setup.py)")
    else:
        say("compiler", f"{c['compiler']}  ({c['compiler_version'] or 'version unknown'})")
        say("flags (all levels)", " ".join(c["common_flags"] or []) or "-")
        for level, flags in (c["simd_flags"] or {}).items():
            say(f"flags ({level})", " ".join(flags) or "(platform default)")
    if c["openmp"]:
        where = ("bundled with the wheel" if c["openmp_runtime_bundled"] else "system")
        runtime = (f"{c['openmp_runtime_name']}, {where}: {c['openmp_runtime']}"
                   if c["openmp_runtime"] else "unknown (could not locate the library)")
        say("OpenMP", "on")
        say("OpenMP runtime", runtime)
    else:
        say("OpenMP", "off (serial build: kernels run on one thread)")
    say("threads", f"{c['num_threads']}  (OMP_NUM_THREADS={c['omp_num_threads_env']!r}, "
                   f"CPUs: {c['cpu_count']})")
    say("SIMD levels built", ", ".join(c["simd_levels_built"]))
    say("SIMD levels usable", ", ".join(c["simd_levels_usable"]))
    say("SIMD level in use", f"{c['simd_level']}  (ACTIVATIONS_SIMD={c['simd_env']!r})")
    ns = c["hardware_stream_ns"]
    probe = ("not measured" if ns is None else
             f"consecutive cache lines {ns:.1f} ns each at import")
    say("software prefetch", f"{'on' if c['software_prefetch'] else 'off'}  ({probe})")
    ratio = c["subnormal_mul_ratio"]
    probe = ("not measured" if ratio is None else
             f"a multiply on subnormals {ratio:.2f}x the time of normal ones at import")
    say("subnormal detours", f"{'on' if c['subnormal_detours'] else 'off'}  ({probe})")
    out.flush()
