# Constants that more than one kernel family uses, in one place.  _kernels.pyx (and so
# every family it includes) cimports them by name.

# The most dimensions an ndarray can have, as the NumPy headers of the build say (64
# on NumPy 2, 32 on NumPy 1: never less than what the NumPy in use allows).
from numpy cimport NPY_MAXDIMS as MAX_RANK

cdef enum:
    # Independent partial sums of a fixed-order reduction (vectorizable; the order of
    # the additions depends on the length only).  The stepped loops spell 8 as a
    # literal: Cython emits a C loop only for a literal step.
    LANES = 8
    # Elements per block of the per-block fast paths (_elementwise.pxi.tp, _formulas.pxd
    # "Per-block fast paths"): 256 ran ordinary data 3-7% faster than 64 (AVX2 EPYC,
    # 2026-12-02, docs/performance-notes.md "Per-block fast path"); one rare lane sends
    # at most 255 others to the exact formulas.
    FAST_BLOCK = 256
    # The most blocks a run of rare blocks sends to the exact formulas unchecked.
    FAST_STREAK = 63
    # How far ahead of its block a blocked elementwise loop prefetches its inputs, in
    # elements (_elementwise.pxi.tp prefetch_ahead): one, two or four blocks ran alike,
    # the current block alone slower (Sapphire Rapids, 2026-12-02,
    # docs/performance-notes.md "Arrays out of cache").  Only on a core that does not
    # stream memory ahead by itself (_kernels.pyx, probe_hardware_streams).
    PREFETCH_AHEAD = 512
    # Calls on fewer elements keep the GIL, as NumPy's ufuncs do below 500: releasing
    # and retaking it costs about 300 instructions, 60-80 ns, more than a 16-element
    # kernel (docs/performance-notes.md "Small arrays").
    NOGIL_MIN_ELEMENTS = 512

# The thread thresholds: below them a plain serial loop runs (a parallel region costs
# microseconds even when idle).  Set by `python benchmarks/bench.py --threads-scan`
# (2-core AMD EPYC, AVX-512, 2026-11-27, thresholds lowered to 0 for the scan):
# entering a region and waking the second thread costs ~3-4 us here, so compute-bound
# kernels (sigmoid: 2 threads 0.85x at 2**13, 1.17x at 2**14, 1.44x at 2**15) go
# parallel from 2**14 elements and memory-bound ones (relu: 0.89x at 2**16, 1.45x at
# 2**17) from 2**17.  C variables, not constants: _kernels._set_parallel_thresholds
# changes them for benchmarks (each SIMD level's module has its own pair).
cdef extern from *:
    """
    static Py_ssize_t act_parallel_min_elements = (Py_ssize_t)1 << 14;
    static Py_ssize_t act_parallel_min_memory_bound = (Py_ssize_t)1 << 17;
    """
    Py_ssize_t PARALLEL_MIN_ELEMENTS "act_parallel_min_elements"
    Py_ssize_t PARALLEL_MIN_MEMORY_BOUND "act_parallel_min_memory_bound"
