"""Build the Cython kernels of `activations`.

What this adds to a plain setuptools build:
 1. Generates src/activations/_elementwise.pxi from _elementwise.pxi.tp and the op
    table in src/activations/_spec.py (Tempita, shipped with Cython).
 2. Compiles the kernel source once per SIMD level: `_kernels` (baseline, SSE2 on
    x86-64), `_kernels_avx2` (AVX2+FMA) and `_kernels_avx512` (AVX-512 F/BW/DQ/VL/CD),
    the last two on x86-64 only.  `_dispatch.py` picks one at import.  Nothing is
    built with -march=native or -ffast-math.
 3. Probes the compiler for OpenMP (a compile-and-link test with the flags of the
    real build, CFLAGS and LDFLAGS included) and fails, showing the compiler's error,
    when it has none: a serial package is built only when ACTIVATIONS_NO_OPENMP=1
    asks for one.
 4. Builds `_threadstate` (the process-wide thread count, see _threadstate.pyx),
    once, shared by every SIMD level's module.
 5. Writes _build_info.py (compiler, flags, OpenMP, SIMD levels) for show_config().

Environment switches (build time):
    ACTIVATIONS_NO_OPENMP=1          build without OpenMP (single-threaded kernels)
    ACTIVATIONS_SIMD_LEVELS=a,b      build only these levels (e.g. "baseline" for a
                                     quick development build); default: all
"""

import os
import platform
import runpy
import shlex
import shutil
import sys
import sysconfig
import tempfile
import textwrap

import numpy as np
from Cython.Build import cythonize
from Cython.Tempita import Template
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(HERE, "src", "activations")

# Flags every level gets.  -fno-trapping-math lets GCC if-convert the branch-free
# selects (without it the loops do not vectorize: docs/performance-notes.md);
# -fno-math-errno lets it inline what libm would otherwise set errno for;
# -ffp-contract=off leaves fused multiply-adds to the explicit ACT_FMA of _vmath.h;
# -fopenmp-simd honours `#pragma omp simd` (vectorized reductions in a fixed lane
# order) without the OpenMP runtime, so serial builds vectorize the same.
COMMON_FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off",
                "-fopenmp-simd"]
# Cython's `cdef inline` functions are only hints to GCC, which leaves large ones (the
# formulas) out of line in big functions such as the generated op switch, and a loop
# that calls a function does not vectorize: force them inline.
INLINE_MACRO = ("CYTHON_INLINE", "inline __attribute__((always_inline))")

# Per-level flags (x86-64 only; the baseline gets none beyond the platform default).
SIMD_FLAGS = {
    "baseline": [],
    "avx2": ["-mavx2", "-mfma"],
    "avx512": ["-mavx2", "-mfma", "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl",
               "-mavx512cd", "-mprefer-vector-width=512"],
}
MODULE_OF_LEVEL = {"baseline": "_kernels", "avx2": "_kernels_avx2", "avx512": "_kernels_avx512"}

OPENMP_PROBE = textwrap.dedent("""\
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 ? 0 : 1;
    }
    """)


def is_x86_64():
    machine = (sysconfig.get_platform() + " " + platform.machine()).lower()
    return any(tag in machine for tag in ("x86_64", "amd64"))


def selected_levels():
    levels = ["baseline", "avx2", "avx512"] if is_x86_64() else ["baseline"]
    wanted = os.environ.get("ACTIVATIONS_SIMD_LEVELS", "").strip()
    if wanted:
        asked = [w.strip() for w in wanted.split(",") if w.strip()]
        unknown = sorted(set(asked) - set(SIMD_FLAGS))
        if unknown:
            sys.exit(f"ACTIVATIONS_SIMD_LEVELS: unknown level(s) {unknown}; known: {list(SIMD_FLAGS)}")
        levels = [lv for lv in levels if lv in asked]
        if "baseline" not in levels:
            levels.insert(0, "baseline")  # the dispatcher's fallback is always built
    return levels


def generate_elementwise_pxi():
    """_elementwise.pxi from its template and the op table in _spec.py."""
    spec = runpy.run_path(os.path.join(PKG, "_spec.py"))
    template_path = os.path.join(PKG, "_elementwise.pxi.tp")
    with open(template_path) as fh:
        template = Template(fh.read(), name=template_path)
    ops = [(op_id,) + tuple(row) for op_id, row in enumerate(spec["kernel_ops"]())]
    gates = list(enumerate(spec["gate_ops"]()))
    text = template.substitute(OPS=ops, GATES=gates)
    target = os.path.join(PKG, "_elementwise.pxi")
    if not os.path.exists(target) or open(target).read() != text:
        with open(target, "w") as fh:
            fh.write(text)


class BuildExt(build_ext):
    """build_ext with an OpenMP probe and a build-info module."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:  # compile the SIMD-level modules side by side
            self.parallel = os.cpu_count() or 1

    def openmp_flags(self):
        if os.environ.get("ACTIVATIONS_NO_OPENMP", "") not in ("", "0"):
            print("activations: ACTIVATIONS_NO_OPENMP set: building WITHOUT OpenMP "
                  "(kernels run single-threaded)", file=sys.stderr)
            return None
        if self.compiler.compiler_type == "msvc":
            candidates = [(["/openmp"], [])]
        else:
            candidates = [(["-fopenmp"], ["-fopenmp"])]
        errors = []
        for cflags, ldflags in candidates:
            error = self.probe(cflags, ldflags)
            if error is None:
                return cflags, ldflags
            errors.append(f"{' '.join(cflags)}: {error}")
        # pip hides a build's warnings: a package silently built serial would look
        # fine and run on one thread, so fail instead.
        raise SystemExit(
            "activations: the compiler cannot build and link an OpenMP program with the "
            "flags of this build (CFLAGS/LDFLAGS included):\n  " + "\n  ".join(errors)
            + "\nFix the compiler flags, or set ACTIVATIONS_NO_OPENMP=1 to build a serial "
            "package (kernels on one thread).")

    def probe(self, cflags, ldflags):
        """None if OpenMP compiles and links, else the error.  The executable's link
        line gets CFLAGS and LDFLAGS as the extensions' link line does (distutils
        leaves them off link_executable's), so flags that need the linker too
        (-fsanitize=..., -flto) are probed as they will be used."""
        tmp = tempfile.mkdtemp()
        env_flags = shlex.split(os.environ.get("CFLAGS", "")) + shlex.split(
            os.environ.get("LDFLAGS", ""))
        try:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as fh:
                fh.write(OPENMP_PROBE)
            objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
            self.compiler.link_executable(objs, "probe", output_dir=tmp,
                                          extra_postargs=ldflags + env_flags)
            return None
        except Exception as exc:  # CompileError, LinkError: the compiler's message
            return str(exc) or type(exc).__name__
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def build_extensions(self):
        omp = self.openmp_flags()
        for ext in self.extensions:
            if omp is not None:
                ext.extra_compile_args += omp[0]
                ext.extra_link_args += omp[1]
        self.write_build_info(omp is not None)
        # distutils skips a module whose output is newer than its sources, so switching
        # ACTIVATIONS_NO_OPENMP (or CFLAGS) between builds in one tree would silently
        # reuse the other build's binaries: rebuild all when the configuration changed.
        stamp = os.path.join(self.build_temp, "activations-build-config.txt")
        config = repr((omp, LEVELS, COMMON_FLAGS, os.environ.get("CFLAGS", ""),
                       os.environ.get("LDFLAGS", "")))
        old = open(stamp).read() if os.path.exists(stamp) else None
        if old != config:
            self.force = True
        super().build_extensions()
        os.makedirs(self.build_temp, exist_ok=True)
        with open(stamp, "w") as fh:
            fh.write(config)

    def write_build_info(self, openmp):
        compiler = getattr(self.compiler, "compiler_so", None) or [self.compiler.compiler_type]
        info = {
            "compiler": " ".join(compiler[:1]),
            "compiler_version": compiler_version(compiler[0]),
            "common_flags": COMMON_FLAGS,
            "simd_flags": {lv: SIMD_FLAGS[lv] for lv in LEVELS},
            "openmp": openmp,
            "simd_levels": LEVELS,
        }
        text = ('"""Written by setup.py at build time -- do not edit."""\n'
                f"BUILD_INFO = {info!r}\n")
        targets = [os.path.join(PKG, "_build_info.py")]
        if not self.inplace:
            targets.append(os.path.join(self.build_lib, "activations", "_build_info.py"))
        for path in targets:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:
                fh.write(text)


def compiler_version(exe):
    import subprocess
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0].strip() if out.stdout else ""
    except Exception:
        return ""


generate_elementwise_pxi()
LEVELS = selected_levels()

extensions = [
    Extension(
        f"activations.{MODULE_OF_LEVEL[level]}",
        sources=[f"src/activations/{MODULE_OF_LEVEL[level]}.pyx"],
        include_dirs=[np.get_include(), PKG],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                       ("ACT_SIMD_LEVEL", f'"{level}"'), INLINE_MACRO],
        extra_compile_args=COMMON_FLAGS + SIMD_FLAGS[level],
        extra_link_args=[],
    )
    for level in LEVELS
] + [
    # the process-wide thread state, one module for every level (_threadstate.pyx)
    Extension("activations._threadstate", sources=["src/activations/_threadstate.pyx"],
              extra_compile_args=[], extra_link_args=[]),
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["src"],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
