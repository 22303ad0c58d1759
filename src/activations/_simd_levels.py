"""The SIMD levels the kernels are compiled for, in one table.

Each level is the same kernel source (_kernels.pyx) compiled into a module of its own
with its own compiler flags; a CPU runs a level when it (and the OS) has every feature
the level lists.  Read by setup.py (which levels to build, with which flags: it runs
this file, as it runs _spec.py, before the package exists), by _dispatch.py (the
modules, widest usable first), by the CPU check (_kernels.cpu_supports, whose C side
setup.py generates from the features listed here) and by tools/check_vectorized.py
(a level's flags, to recompile its C file with a vectorization report).
tests/test_simd_levels.py fails when they disagree.  Standard library only.
"""

from typing import NamedTuple, Tuple


class SimdLevel(NamedTuple):
    name: str
    #: the compiled module in the package (its .pyx includes _kernels.pyx)
    module: str
    #: GCC/Clang flags beyond COMMON_FLAGS; a level with flags is x86-64 only
    flags: Tuple[str, ...]
    #: what the CPU must support, as GCC's __builtin_cpu_supports names it
    cpu_features: Tuple[str, ...]


#: Narrowest first.  The baseline (SSE2 on x86-64, the platform default elsewhere) is
#: built everywhere and is the dispatcher's fallback; nothing is built with
#: -march=native.
LEVELS: Tuple[SimdLevel, ...] = (
    SimdLevel("baseline", "_kernels", (), ()),
    SimdLevel("avx2", "_kernels_avx2", ("-mavx2", "-mfma"), ("avx2", "fma")),
    SimdLevel("avx512", "_kernels_avx512",
              ("-mavx2", "-mfma", "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl",
               "-mavx512cd", "-mprefer-vector-width=512"),
              ("avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd")),
)

#: Flags every level gets.  -fno-trapping-math lets GCC if-convert the branch-free
#: selects (without it the loops do not vectorize: docs/performance-notes.md);
#: -fno-math-errno lets it inline what libm would otherwise set errno for;
#: -ffp-contract=off leaves fused multiply-adds to the explicit ACT_FMA of _vmath.h;
#: -fopenmp-simd honours `#pragma omp simd` (vectorized reductions in a fixed lane
#: order) without the OpenMP runtime, so serial builds vectorize the same.  Never
#: -ffast-math.
COMMON_FLAGS: Tuple[str, ...] = ("-O3", "-fno-math-errno", "-fno-trapping-math",
                                 "-ffp-contract=off", "-fopenmp-simd")

#: Cython's `cdef inline` functions are only hints to GCC, which leaves large ones (the
#: formulas) out of line in big functions such as the generated op switch, and a loop
#: that calls a function does not vectorize: force them inline.
INLINE_MACRO: Tuple[str, str] = ("CYTHON_INLINE", "inline __attribute__((always_inline))")


def level(name: str) -> SimdLevel:
    """The level called `name`; ValueError for an unknown one."""
    for lv in LEVELS:
        if lv.name == name:
            return lv
    raise ValueError(f"unknown SIMD level {name!r}; known: {[lv.name for lv in LEVELS]}")


def cpu_feature_macro() -> str:
    """The C text of ACT_CPU_FEATURES, the body of act_cpu_feature in _kernels.pyx: one
    test per feature any level needs (__builtin_cpu_supports takes only a literal)."""
    features = sorted({f for lv in LEVELS for f in lv.cpu_features})
    return " ".join(f'ACT_CPU_FEATURE("{f}")' for f in features)
