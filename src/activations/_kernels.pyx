# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, embedsignature=True
"""The compiled core of `activations`: elementwise kernels and their entry points.

Design:
 1. Formulas live in _formulas.pxd (one inline nogil function per formula and
    direction), elementary math in _vmath.h; nothing here knows any formula.
 2. One loop per kernel shape.  The elementwise chunk loops are generated from a
    table (_elementwise.pxi.tp, rows from _spec.py); one driver, `run_elementwise`,
    splits any chunk loop over OpenMP threads.
 3. The same source is compiled once per SIMD level (this file as `_kernels`, the
    SSE2 baseline; `_kernels_avx2.pyx` and `_kernels_avx512.pyx` include it with
    other compiler flags) and `_dispatch.py` imports the best one the CPU runs.
 4. Entry points take ndarrays and read them through the NumPy C-API, so a call on a
    small array costs little more than a ufunc call.  They accept only the plain case
    (exact ndarray, native float32/float64, C-contiguous, aligned, matching `out`)
    and return NotImplemented for anything else; the Python layer then validates
    (raising the documented errors before anything is written) and normalizes.
 5. Threads: below PARALLEL_MIN_ELEMENTS a plain serial loop runs (entering an
    OpenMP region costs about 1 us even for one thread); above it a static split
    into one contiguous block per thread.  Elementwise results do not depend on the
    split: every element is computed by the same code, vector body or scalar tail
    alike (-ffp-contract=off keeps them bit-identical).
"""

cimport cython
from cython cimport floating
from cython.parallel cimport prange
cimport numpy as cnp

from activations._formulas cimport *

cnp.import_array()

# ------------------------------------------------------------------ OpenMP shim
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define ACT_HAVE_OPENMP 1
    #else
    #define ACT_HAVE_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    static void omp_set_num_threads(int n) { (void)n; }
    #endif
    #ifndef ACT_SIMD_LEVEL
    #define ACT_SIMD_LEVEL "baseline"
    #endif

    /* CPU features, as the compiler's runtime sees them (CPUID plus the OS's
       XSAVE state for AVX and AVX-512 registers). */
    static int act_cpu_has(int level) {
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        if (level == 1) return avx2;
        if (level == 2) return avx2 && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd");
        return 1;
    #else
        return level == 0;
    #endif
    }
    """
    const int ACT_HAVE_OPENMP
    const char* ACT_SIMD_LEVEL
    int omp_get_max_threads() noexcept nogil
    void omp_set_num_threads(int) noexcept nogil
    int act_cpu_has(int level) noexcept nogil

cdef enum Direction:
    FORWARD = 0
    BACKWARD = 1
    BACKWARD_FROM_OUTPUT = 2

include "_elementwise.pxi"

#: Smallest element count for which a parallel region is entered.  2 threads start
#: to pay off between 2**12 and 2**15 elements for the cheapest kernels
#: (shared/PERF-NOTES.md); confirmed by `python benchmarks/bench.py --threads-scan`.
cdef Py_ssize_t PARALLEL_MIN_ELEMENTS = 1 << 15

#: Block sizes are rounded to this many elements (one or more cache lines).
cdef Py_ssize_t BLOCK_ALIGN = 64

SIMD_LEVEL = ACT_SIMD_LEVEL.decode()
OPENMP = bool(ACT_HAVE_OPENMP)


# ------------------------------------------------------------------ threads

def get_num_threads():
    """Threads a kernel may use: OpenMP's `omp_get_max_threads()`."""
    return omp_get_max_threads()


def set_num_threads(int n):
    """Set OpenMP's thread count (`omp_set_num_threads`) for calls from this thread."""
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    omp_set_num_threads(n)


def cpu_supports(str level):
    """Whether this CPU (and OS) runs code built for `level` ("baseline", "avx2", "avx512")."""
    return bool(act_cpu_has({"baseline": 0, "avx2": 1, "avx512": 2}[level]))


# ------------------------------------------------------------------ the driver

cdef inline Py_ssize_t block_size(Py_ssize_t n, int nblocks) noexcept nogil:
    cdef Py_ssize_t block = (n + nblocks - 1) // nblocks
    return (block + BLOCK_ALIGN - 1) // BLOCK_ALIGN * BLOCK_ALIGN


cdef bint run_elementwise(int direction, int op, const floating* in1, const floating* in2,
                          floating* out, Py_ssize_t n, double a_, double b_) noexcept nogil:
    """Run one elementwise kernel over n elements, threaded above the threshold."""
    cdef floating a = <floating>a_   # parameters rounded to the dtype (API.md)
    cdef floating b = <floating>b_
    cdef int nthreads = omp_get_max_threads()
    cdef Py_ssize_t block, k, start, stop
    if not elementwise_chunk(direction, op, in1, in2, out, 0, a, b):
        return False  # unknown (op, direction): nothing written
    if nthreads <= 1 or n < PARALLEL_MIN_ELEMENTS:
        return elementwise_chunk(direction, op, in1, in2, out, n, a, b)
    block = block_size(n, nthreads)
    for k in prange(nthreads, schedule='static', num_threads=nthreads):
        start = k * block
        stop = min(n, start + block)
        if start < stop:
            elementwise_chunk(direction, op, in1 + start,
                              in2 + start if in2 != NULL else NULL,
                              out + start, stop - start, a, b)
    return True


# ------------------------------------------------------------------ entry points

cdef inline bint is_plain(object arr, int typenum):
    """An exact ndarray of `typenum`, native byte order, aligned, C-contiguous."""
    if not cnp.PyArray_CheckExact(arr):
        return False
    cdef cnp.ndarray a = <cnp.ndarray>arr
    return (cnp.PyArray_TYPE(a) == typenum and cnp.PyArray_IS_C_CONTIGUOUS(a)
            and cnp.PyArray_ISALIGNED(a) and cnp.PyArray_ISNOTSWAPPED(a))


cdef inline bint same_shape(cnp.ndarray a, cnp.ndarray b):
    return cnp.PyArray_SAMESHAPE(a, b)


cdef inline bint same_or_disjoint(cnp.ndarray a, cnp.ndarray b):
    """Two equally sized C-contiguous arrays are the same buffer or do not overlap."""
    cdef char* pa = cnp.PyArray_BYTES(a)
    cdef char* pb = cnp.PyArray_BYTES(b)
    cdef Py_ssize_t nbytes = cnp.PyArray_NBYTES(a)
    return pa == pb or nbytes == 0 or pa + nbytes <= pb or pb + nbytes <= pa


def elementwise(int direction, int op, object in1, object in2, object out,
                double a, double b):
    """Run elementwise kernel `op` in `direction` (0 forward, 1 backward from x,
    2 backward from y) and return the array written.

    forward: in1 = x, in2 = None; backward: in1 = grad, in2 = x or y.  Returns
    NotImplemented, having written nothing, unless every array is plain (see
    `is_plain`), shapes and dtypes match, and `out` is None, or writeable and the
    same buffer as an input or disjoint from them.
    """
    if not cnp.PyArray_CheckExact(in1):
        return NotImplemented
    cdef cnp.ndarray arr1 = <cnp.ndarray>in1
    cdef cnp.ndarray arr2 = None
    cdef cnp.ndarray res
    cdef int typenum = cnp.PyArray_TYPE(arr1)
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        return NotImplemented
    if not is_plain(arr1, typenum):
        return NotImplemented
    if direction != FORWARD:
        if not is_plain(in2, typenum):
            return NotImplemented
        arr2 = <cnp.ndarray>in2
        if not same_shape(arr1, arr2):
            return NotImplemented
    if out is None:
        res = <cnp.ndarray>cnp.PyArray_EMPTY(cnp.PyArray_NDIM(arr1), cnp.PyArray_DIMS(arr1),
                                             typenum, 0)
    else:
        if not is_plain(out, typenum):
            return NotImplemented
        res = <cnp.ndarray>out
        if not (cnp.PyArray_ISWRITEABLE(res) and same_shape(res, arr1)
                and same_or_disjoint(res, arr1)
                and (arr2 is None or same_or_disjoint(res, arr2))):
            return NotImplemented
    cdef Py_ssize_t n = cnp.PyArray_SIZE(arr1)
    cdef bint ok
    cdef const void* p2 = cnp.PyArray_DATA(arr2) if arr2 is not None else NULL
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            ok = run_elementwise(direction, op, <const float*>cnp.PyArray_DATA(arr1),
                                 <const float*>p2, <float*>cnp.PyArray_DATA(res), n, a, b)
        else:
            ok = run_elementwise(direction, op, <const double*>cnp.PyArray_DATA(arr1),
                                 <const double*>p2, <double*>cnp.PyArray_DATA(res), n, a, b)
    if not ok:
        raise ValueError(f"no elementwise kernel for op {op} in direction {direction}")
    return res
