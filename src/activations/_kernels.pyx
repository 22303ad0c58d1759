# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, embedsignature=True
"""The compiled core of `activations`: the driver, the threads, and the kernel families.

Design:
 1. Formulas live in _formulas.pxd (one inline nogil function per formula and
    direction), elementary math in _vmath.h; nothing here knows any formula.
 2. One loop per kernel shape.  The elementwise chunk loops are generated from a
    table (_elementwise.pxi.tp, rows from _spec.py); one driver, `run_elementwise`,
    splits any chunk loop over OpenMP threads.
 3. The same source is compiled once per SIMD level (this file as `_kernels`, the
    SSE2 baseline; `_kernels_avx2.pyx` and `_kernels_avx512.pyx` include it with
    other compiler flags) and `_dispatch.py` imports the best one the CPU runs.
 4. Each family (elementwise: _elementwise_entry.pxi; rrelu, softmax,
    softmax_masked, bias, prelu, gated: _<family>.pxi) keeps its Python entry points
    beside its loops.  They take ndarrays and read them through the NumPy C-API, so
    a call on a small array costs little more than a ufunc call.  They accept only
    the plain case (exact ndarray, native float32/float64, C-contiguous, aligned,
    matching `out`: the checks of _plain.pxi) and return NotImplemented for anything
    else; the Python layer then validates (raising the documented errors before
    anything is written) and normalizes.
 5. C-level callers (Cython's cython_api.pxd, C's include/activations.h) reach the
    same drivers through a table of function pointers (_capi.pxi), exported as the
    capsule C_API: pointers and sizes in, a status code out, no Python object.
 6. Threads: below a size threshold (PARALLEL_MIN_ELEMENTS, or
    PARALLEL_MIN_MEMORY_BOUND for memory-bound ops: _constants.pxd, with the
    measurement behind them) a plain serial loop runs (a parallel region costs
    microseconds even when idle); above it a static split into one contiguous block
    per thread.  Elementwise results do not depend on the split: every element is
    computed by the same code, vector body or scalar tail alike (-ffp-contract=off
    keeps them bit-identical).
"""

cimport cython
from cython cimport floating
from cython.parallel cimport prange
cimport numpy as cnp
from libc.stdint cimport uint64_t, int64_t, uintptr_t
from libc.stdlib cimport calloc, free
from cpython.pystate cimport PyThreadState

import time

from activations._constants cimport (FAST_BLOCK, FAST_STREAK, LANES, MAX_RANK, NOGIL_MIN_ELEMENTS,
                                     PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_MEMORY_BOUND,
                                     PREFETCH_AHEAD)
from activations._formulas cimport *
from activations._threadstate cimport bounded_num_threads, default_num_threads
from activations._vmath cimport (vexp, vexp_hilo, vexp_normal, vexp_normal_min, vexp_zero_below, vinf, vrange_run,
                                 two_sum_err, exact_error, vtiny_mul_by, vmul_once)

cnp.import_array()

from activations import _simd_levels as simd_levels

# ------------------------------------------------------------------ OpenMP shim
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define ACT_HAVE_OPENMP 1
    #else
    #define ACT_HAVE_OPENMP 0
    #endif
    #ifndef ACT_SIMD_LEVEL
    #define ACT_SIMD_LEVEL "baseline"
    #endif

    /* Whether the CPU (and OS) has a feature, as the compiler's runtime sees it (CPUID
       plus the OS's XSAVE state for AVX and AVX-512 registers): 1 or 0, -1 for a name
       this build does not know.  The names are the CPU features of the SIMD level
       table (_simd_levels.py), which setup.py passes as ACT_CPU_FEATURES: one
       ACT_CPU_FEATURE("name") each, since __builtin_cpu_supports takes only a
       literal. */
    #include <string.h>
    #ifndef ACT_CPU_FEATURES
    #define ACT_CPU_FEATURES
    #endif
    static int act_cpu_feature(const char* name) {
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        #define ACT_CPU_FEATURE(f) if (strcmp(name, f) == 0) return __builtin_cpu_supports(f) != 0;
        ACT_CPU_FEATURES
        #undef ACT_CPU_FEATURE
        return -1;
    #else
        (void)name;
        return 0;  /* the table's features are x86's */
    #endif
    }
    """
    const int ACT_HAVE_OPENMP
    const char* ACT_SIMD_LEVEL
    int act_cpu_feature(const char* name) noexcept nogil

#: Which pass a kernel runs, named once for the kernels and the Python layer (a cpdef
#: enum: exported as activations._kernels.Direction, an IntEnum).
cpdef enum Direction:
    FORWARD = 0               # x -> y
    BACKWARD = 1              # grad, x -> grad * f'(x)
    BACKWARD_FROM_OUTPUT = 2  # grad, y -> grad * f'(x), f' written in terms of y

#: Block sizes are rounded to this many elements (one or more cache lines).
cdef Py_ssize_t BLOCK_ALIGN = 64

#: The `op` of an ElementwiseTask that runs rrelu in training mode (not a table op).
cdef int OP_RRELU_TRAINING = -1

cdef extern from *:
    # a function's return type that keeps GCC from inlining it (the plain elementwise
    # loops, _elementwise.pxi.tp plain_loops); void: no local of that type
    ctypedef void outlined_void "__attribute__((noinline)) void"

include "_plain.pxi"
include "_elementwise.pxi"
include "_elementwise_entry.pxi"
include "_rrelu.pxi"
include "_softmax.pxi"
include "_softmax_masked.pxi"
include "_bias.pxi"
include "_prelu.pxi"
include "_gated.pxi"
include "_capi.pxi"

SIMD_LEVEL = ACT_SIMD_LEVEL.decode()
OPENMP = bool(ACT_HAVE_OPENMP)


# ------------------------------------------------------------------ threads

# `default_num_threads()` is the thread count of a call that names none: every driver
# (run_elementwise, run_softmax, run_prelu, run_gated) takes its count as an argument,
# and the entry points of the Python API pass this one (`call_num_threads` in
# _plain.pxi: 1 for a call too small to go parallel).  It lives in _threadstate.pyx,
# one module for every SIMD level, so the process-wide setting is one value.


def _set_parallel_thresholds(Py_ssize_t compute_bound, Py_ssize_t memory_bound):
    """Set the two parallel-region thresholds; returns the old pair (benchmarks only)."""
    global PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_MEMORY_BOUND
    old = (PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_MEMORY_BOUND)
    PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_MEMORY_BOUND = compute_bound, memory_bound
    return old


# The blocked elementwise loops prefetch their inputs two blocks ahead (prefetch_ahead
# in _elementwise.pxi.tp) for cores that do not stream memory ahead by themselves (a
# Sapphire Rapids virtual machine: 55 ns per consecutive cache line, a full memory
# latency).  A core whose hardware prefetcher streams consecutive lines (2-5 ns per line,
# AMD EPYC Zen 4, against 108 in random order) runs the cheap loops slower with them:
# docs/performance-notes.md "Software prefetch on a core that streams".  So each module
# measures its core once at import, a walk of PROBE_LINES consecutive lines flushed from
# every cache, best of PROBE_TRIALS (under 1 ms), and prefetches unless the walk took at
# most STREAMED_NS_PER_LINE per line.  Speed only: the results are the same bits either
# way (tests/test_fast_path.py).  A preempted walk reads slow, which keeps the prefetch.
cdef enum:
    PROBE_LINES = 2048
    PROBE_TRIALS = 3
STREAMED_NS_PER_LINE = 20.0


def probe_hardware_streams():
    """Nanoseconds per line of the import-time walk (see above), or None where this
    build cannot flush a cache line."""
    cdef char* raw = <char*>calloc(PROBE_LINES + 1, CACHE_LINE)
    if raw == NULL:
        return None
    cdef char* lines = raw + to_cache_line(raw, 1)
    cdef Py_ssize_t k
    cdef const void* end
    for k in range(PROBE_LINES):
        (<void**>(lines + k * CACHE_LINE))[0] = lines + (k + 1) * CACHE_LINE if k + 1 < PROBE_LINES else NULL
    best = None
    try:
        for _ in range(PROBE_TRIALS):
            if not act_flush_lines(lines, PROBE_LINES):
                return None
            t0 = time.perf_counter_ns()
            end = act_walk_lines(lines)
            ns = (time.perf_counter_ns() - t0) / PROBE_LINES
            if end != NULL:  # never (the chain ends in NULL): keeps the walk
                return None
            best = ns if best is None or ns < best else best
        return best
    finally:
        free(raw)


def software_prefetch_on():
    """Whether the blocked loops prefetch their inputs on this core (see above)."""
    return bool(software_prefetch)


cdef bint swap_switch(int* flag, bint on) noexcept:
    """Set one of the loops' C switches (_elementwise.pxi) to `on`; returns its old
    setting."""
    old = flag[0] != 0
    flag[0] = on
    return old


def _set_software_prefetch(bint on):
    """Turn the blocked loops' prefetch on or off; returns the old setting (tests and
    benchmarks)."""
    return swap_switch(&software_prefetch, on)


#: ns per line of the import-time walk (None: not measured) and whether the blocked
#: loops prefetch on this core (see above).
HARDWARE_STREAM_NS = probe_hardware_streams()
_set_software_prefetch(HARDWARE_STREAM_NS is None or HARDWARE_STREAM_NS > STREAMED_NS_PER_LINE)


# The tiny blocks (_formulas.pxd "tiny blocks", the tiny gate blocks, prelu's) send
# blocks of subnormal and zero inputs to forms that do no subnormal arithmetic, because on
# Intel cores a multiply, FMA or convert with a subnormal operand or result takes a
# microcode assist for the whole vector (Sapphire Rapids: 0.022 -> 2.16 ns per element,
# 98x).  AMD Zen 4 takes none (a multiply on subnormals at the time of one on normal
# numbers, 1.0x), and there the tiny forms of the cheap ops (_spec.TINY_FOR_ASSISTS,
# prelu) cost more than the exact formulas they stand for: docs/performance-notes.md
# "Tiny blocks on a core without assists"; sigmoid's backward from y tests its blocks
# for subnormal y only to keep the arithmetic normal (_spec.RARE_FOR_ASSISTS).  So each
# module times a pass of x * 0.75 over SUBNORMAL_PROBE_N subnormal floats against the
# same pass over normal floats at import (SUBNORMAL_PROBE_PASSES passes per timing, best
# of SUBNORMAL_PROBE_TRIALS each, interleaved; about 0.1 ms) and keeps those detours
# (`subnormal_detours`) only where the ratio exceeds SUBNORMAL_SLOW_RATIO (Zen 4
# 1.0-1.1, Sapphire Rapids 98; the tiny forms cost those ops 2.5-5.4x an ordinary block
# on Zen 4).  Speed only: the detours give the same bits (tests/test_fast_path.py).  A
# preempted subnormal timing reads slow, which keeps the detours.
cdef extern from *:
    """
    /* `passes` passes of out[i] = x[i] * c over n floats (vectorized at the module's
       level), each forced to run by a compiler barrier: probe_subnormal_arithmetic's
       loop. */
    static void act_scale_passes(const float* x, float* out, Py_ssize_t n, float c,
                                 int passes) {
        for (int p = 0; p < passes; p++) {
            for (Py_ssize_t i = 0; i < n; i++) out[i] = x[i] * c;
    #if defined(__GNUC__) || defined(__clang__)
            __asm__ __volatile__("" : : "r"(out) : "memory");
    #endif
        }
    }
    """
    void act_scale_passes(const float* x, float* out, Py_ssize_t n, float c,
                          int passes) noexcept nogil

cdef enum:
    SUBNORMAL_PROBE_N = 1024
    SUBNORMAL_PROBE_PASSES = 16
    SUBNORMAL_PROBE_TRIALS = 5
SUBNORMAL_SLOW_RATIO = 2.0


def probe_subnormal_arithmetic():
    """Time of the import-time multiply passes on subnormal floats over that on normal
    ones (see above), or None where it could not be measured."""
    cdef float* buf = <float*>calloc(3 * SUBNORMAL_PROBE_N, sizeof(float))
    if buf == NULL:
        return None
    cdef float* normal = buf
    cdef float* subnormal = buf + SUBNORMAL_PROBE_N
    cdef float* out = buf + 2 * SUBNORMAL_PROBE_N
    cdef float* x
    cdef Py_ssize_t i
    for i in range(SUBNORMAL_PROBE_N):
        # odd significands of both signs; 0.75 * subnormal stays subnormal (or 2^-149)
        normal[i] = (1.0 + (2 * i + 1) / (4.0 * SUBNORMAL_PROBE_N)) * (1 - 2 * (i & 1))
        subnormal[i] = <float>((i * 2654435761 % 8388607 + 1) * 1.401298464324817e-45 * (1 - 2 * (i & 1)))
    best = [None, None]
    try:
        act_scale_passes(normal, out, SUBNORMAL_PROBE_N, 0.75, 1)  # first touch
        for _ in range(SUBNORMAL_PROBE_TRIALS):
            for k in range(2):
                x = subnormal if k else normal
                t0 = time.perf_counter_ns()
                act_scale_passes(x, out, SUBNORMAL_PROBE_N, 0.75, SUBNORMAL_PROBE_PASSES)
                ns = time.perf_counter_ns() - t0
                best[k] = ns if best[k] is None or ns < best[k] else best[k]
        return None if best[0] <= 0 else best[1] / best[0]
    finally:
        free(buf)


def subnormal_detours_on():
    """Whether the cheap loops detour around subnormal arithmetic on this core (see
    above)."""
    return bool(subnormal_detours)


def _set_subnormal_detours(bint on):
    """Turn the detours on or off; returns the old setting (tests and benchmarks)."""
    return swap_switch(&subnormal_detours, on)


#: The import-time probe's subnormal / normal time ratio (None: not measured) and
#: whether the cheap loops detour around subnormal arithmetic on this core (see above).
SUBNORMAL_MUL_RATIO = probe_subnormal_arithmetic()
_set_subnormal_detours(SUBNORMAL_MUL_RATIO is None or SUBNORMAL_MUL_RATIO > SUBNORMAL_SLOW_RATIO)


def cpu_has_feature(str name):
    """Whether this CPU (and OS) has the feature `name` (a CPU feature of a level in
    _simd_levels.py, as GCC's __builtin_cpu_supports names it)."""
    cdef bytes encoded = name.encode()
    cdef int has = act_cpu_feature(encoded)
    if has < 0:
        raise ValueError(f"CPU feature {name!r} is not one this build checks "
                         "(the features of _simd_levels.LEVELS)")
    return bool(has)


def cpu_supports(str level):
    """Whether this CPU (and OS) runs code built for `level` (a name in
    _simd_levels.LEVELS): it has every feature the level needs."""
    return all(cpu_has_feature(f) for f in simd_levels.level(level).cpu_features)


# ------------------------------------------------------------------ the driver

cdef inline Py_ssize_t block_size(Py_ssize_t n, int nblocks) noexcept nogil:
    cdef Py_ssize_t block = (n + nblocks - 1) // nblocks
    return (block + BLOCK_ALIGN - 1) // BLOCK_ALIGN * BLOCK_ALIGN


cdef enum:
    # A memory-bound elementwise chunk (_spec.py's memory_bound and
    # MEMORY_BOUND_FROM_OUTPUT) at least this long
    # starts its stores at a cache line: its first up to 63 bytes go by themselves.  A vector store that straddles two lines
    # costs both (relu f32 2**24 out of place, Sapphire Rapids, 1 thread: output 16
    # bytes past a line 1.35 ns/element, on a line 1.02, NumPy 1.03 either way:
    # docs/performance-notes.md "Memory-bound kernels").
    ALIGNED_STORES_MIN = 4096
    CACHE_LINE = 64
    # A call of an op in _spec.OUT_OF_CACHE_FORMS with at least this many bytes in each
    # operand runs the op's out-of-cache form (elementwise_ooc_chunk) in every chunk:
    # the same bits by integer arithmetic, whose loads of g do not wait behind x's, and
    # more instructions, which cost where the operands stay in L3 (4 MiB each: relu
    # backward float64 1.075x; 8 MiB: 0.84x; docs/performance-notes.md "Cheap
    # backwards out of cache").  The whole call, not a thread's chunk: L3 is shared.
    OUT_OF_CACHE_MIN_BYTES = 8 * 1024 * 1024
    # A float32 call of an op in _spec.OUT_OF_CACHE_OWN_PASS with at least this many
    # bytes in each operand gives each block its own predicate pass (elementwise_chunk's
    # own_pass), the whole call deciding as above.  Not from 8 MiB: there, the operands
    # partly in the 32 MiB L3, silu forward took 1.10x its look-ahead's time
    # (docs/performance-notes.md "The look-ahead out of cache").
    OWN_PASS_MIN_BYTES = 16 * 1024 * 1024


# the sizes above which a call runs the out-of-cache forms and the blocks' own passes,
# for the tests
OUT_OF_CACHE_BYTES = OUT_OF_CACHE_MIN_BYTES
OWN_PASS_BYTES = OWN_PASS_MIN_BYTES
#: the size of x above which the softmax forwards over rows prefetch the next row
#: (_softmax.pxi), for the tests
SOFTMAX_PREFETCH_BYTES = SOFTMAX_PREFETCH_MIN_BYTES


cdef inline Py_ssize_t to_cache_line(const void* p, Py_ssize_t itemsize) noexcept nogil:
    """Elements of `itemsize` bytes from p (aligned to its items) to the next cache line."""
    return <Py_ssize_t>((-<uintptr_t>p) % CACHE_LINE) // itemsize


cdef struct ElementwiseTask:
    int direction
    int op              # a table op (_elementwise.pxi) or OP_RRELU_TRAINING
    double a, b         # the op's parameters (rrelu training: lower, upper)
    uint64_t seed       # rrelu training only


cdef inline bint task_range(const ElementwiseTask* t, const floating* in1, const floating* in2,
                            floating* out, Py_ssize_t start, Py_ssize_t stop,
                            bint out_of_cache, bint own_pass) noexcept nogil:
    """Elements start..stop of an elementwise-shaped task (`out_of_cache`: of a call of
    at least OUT_OF_CACHE_MIN_BYTES an operand; `own_pass`: a float32 one of at least
    OWN_PASS_MIN_BYTES)."""
    if t.op == OP_RRELU_TRAINING:
        rrelu_training_run(t.direction, in1 + start, in2 + start if in2 != NULL else NULL,
                           out + start, stop - start, <uint64_t>start, t.a, t.b, t.seed)
        return True
    # a long run's head up to a cache line of out goes first: every element is computed
    # by the same code wherever a chunk starts, so the results do not change
    cdef Py_ssize_t head = 0
    if stop - start >= ALIGNED_STORES_MIN and elementwise_stores_aligned(t.op, t.direction):
        head = to_cache_line(out + start, sizeof(floating))
        if head and not elementwise_chunk(t.direction, t.op, in1 + start,
                                          in2 + start if in2 != NULL else NULL, out + start,
                                          head, <floating>t.a, <floating>t.b, own_pass):
            return False
    # parameters rounded to the dtype (docs/api.md)
    if out_of_cache and elementwise_ooc_chunk(t.direction, t.op, in1 + start + head,
                                              in2 + start + head if in2 != NULL else NULL,
                                              out + start + head, stop - start - head,
                                              <floating>t.a, <floating>t.b):
        return True
    return elementwise_chunk(t.direction, t.op, in1 + start + head,
                             in2 + start + head if in2 != NULL else NULL,
                             out + start + head, stop - start - head, <floating>t.a,
                             <floating>t.b, own_pass)


cdef bint run_elementwise(const ElementwiseTask* t, const floating* in1, const floating* in2,
                          floating* out, Py_ssize_t n, int nthreads) noexcept nogil:
    """Run an elementwise-shaped task over n elements, on at most `nthreads` threads
    above the threshold."""
    cdef Py_ssize_t block, k, start
    cdef bint out_of_cache = n * <Py_ssize_t>sizeof(floating) >= OUT_OF_CACHE_MIN_BYTES
    cdef bint own_pass = ((sizeof(floating) == 4)
                          & (n * <Py_ssize_t>sizeof(floating) >= OWN_PASS_MIN_BYTES))
    if not task_range(t, in1, in2, out, 0, 0, False, False):
        return False  # unknown (op, direction): nothing written
    if nthreads <= 1 or n < (elementwise_parallel_min(t.op) if t.op >= 0 else PARALLEL_MIN_ELEMENTS):
        return task_range(t, in1, in2, out, 0, n, out_of_cache, own_pass)
    block = block_size(n, nthreads)
    for k in prange(nthreads, schedule='static', num_threads=nthreads):
        start = k * block
        if start < n:
            task_range(t, in1, in2, out, start, min(n, start + block), out_of_cache, own_pass)
    return True
