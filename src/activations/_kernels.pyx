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
 5. C-level callers (Cython's cython_api.pxd, C's include/activations.h) reach the
    same drivers through a table of function pointers (_capi.pxi), exported as the
    capsule C_API: pointers and sizes in, a status code out, no Python object.
 6. Threads: below a size threshold (PARALLEL_MIN_ELEMENTS, or
    PARALLEL_MIN_MEMORY_BOUND for memory-bound ops) a plain serial loop runs (a
    parallel region costs microseconds even when idle); above it a static split
    into one contiguous block per thread.  Elementwise results do not depend on the
    split: every element is computed by the same code, vector body or scalar tail
    alike (-ffp-contract=off keeps them bit-identical).
"""

cimport cython
from cython cimport floating
from cython.parallel cimport prange
cimport numpy as cnp
from libc.stdint cimport uint64_t, int64_t
from libc.stdlib cimport calloc, free

from activations._formulas cimport *
from activations._threadstate cimport bounded_num_threads, default_num_threads
from activations._vmath cimport vexp, vexp_hilo, vinf, vmax_run, two_sum_err, exact_error, vsum_split

cnp.import_array()

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
    int act_cpu_has(int level) noexcept nogil

#: Which pass a kernel runs, named once for the kernels and the Python layer (a cpdef
#: enum: exported as activations._kernels.Direction, an IntEnum).
cpdef enum Direction:
    FORWARD = 0               # x -> y
    BACKWARD = 1              # grad, x -> grad * f'(x)
    BACKWARD_FROM_OUTPUT = 2  # grad, y -> grad * f'(x), f' written in terms of y

#: Smallest element count for which a parallel region is entered (entering one and
#: waking the second thread costs ~3-4 us here), set by
#: `python benchmarks/bench.py --threads-scan` (2-core AMD EPYC, AVX-512, 2026-11-27,
#: thresholds lowered to 0 for the scan): compute-bound kernels (sigmoid: 2 threads
#: 0.85x at 2**13, 1.17x at 2**14, 1.44x at 2**15) from 2**14 ...
cdef Py_ssize_t PARALLEL_MIN_ELEMENTS = 1 << 14
#: ... and memory-bound ones (relu: 0.89x at 2**16, 1.45x at 2**17) from 2**17.
cdef Py_ssize_t PARALLEL_MIN_MEMORY_BOUND = 1 << 17

#: Block sizes are rounded to this many elements (one or more cache lines).
cdef Py_ssize_t BLOCK_ALIGN = 64

#: The `op` of an ElementwiseTask that runs rrelu in training mode (not a table op).
cdef int OP_RRELU_TRAINING = -1

include "_elementwise.pxi"
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
# and the entry points of the Python API pass this one.  It lives in _threadstate.pyx,
# one module for every SIMD level, so the process-wide setting is one value.


def _set_parallel_thresholds(Py_ssize_t compute_bound, Py_ssize_t memory_bound):
    """Set the two parallel-region thresholds; returns the old pair (benchmarks only)."""
    global PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_MEMORY_BOUND
    old = (PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_MEMORY_BOUND)
    PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_MEMORY_BOUND = compute_bound, memory_bound
    return old


def cpu_supports(str level):
    """Whether this CPU (and OS) runs code built for `level` ("baseline", "avx2", "avx512")."""
    return bool(act_cpu_has({"baseline": 0, "avx2": 1, "avx512": 2}[level]))


# ------------------------------------------------------------------ the driver

cdef inline Py_ssize_t block_size(Py_ssize_t n, int nblocks) noexcept nogil:
    cdef Py_ssize_t block = (n + nblocks - 1) // nblocks
    return (block + BLOCK_ALIGN - 1) // BLOCK_ALIGN * BLOCK_ALIGN


cdef struct ElementwiseTask:
    int direction
    int op              # a table op (_elementwise.pxi) or OP_RRELU_TRAINING
    double a, b         # the op's parameters (rrelu training: lower, upper)
    uint64_t seed       # rrelu training only


cdef inline bint task_range(const ElementwiseTask* t, const floating* in1, const floating* in2,
                            floating* out, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    """Elements start..stop of an elementwise-shaped task."""
    if t.op == OP_RRELU_TRAINING:
        rrelu_training_run(t.direction, in1 + start, in2 + start if in2 != NULL else NULL,
                           out + start, stop - start, <uint64_t>start, t.a, t.b, t.seed)
        return True
    # parameters rounded to the dtype (docs/api.md)
    return elementwise_chunk(t.direction, t.op, in1 + start,
                             in2 + start if in2 != NULL else NULL,
                             out + start, stop - start, <floating>t.a, <floating>t.b)


cdef bint run_elementwise(const ElementwiseTask* t, const floating* in1, const floating* in2,
                          floating* out, Py_ssize_t n, int nthreads) noexcept nogil:
    """Run an elementwise-shaped task over n elements, on at most `nthreads` threads
    above the threshold."""
    cdef Py_ssize_t block, k, start
    if not task_range(t, in1, in2, out, 0, 0):
        return False  # unknown (op, direction): nothing written
    if nthreads <= 1 or n < (elementwise_parallel_min(t.op) if t.op >= 0 else PARALLEL_MIN_ELEMENTS):
        return task_range(t, in1, in2, out, 0, n)
    block = block_size(n, nthreads)
    for k in prange(nthreads, schedule='static', num_threads=nthreads):
        start = k * block
        if start < n:
            task_range(t, in1, in2, out, start, min(n, start + block))
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


cdef object prepare(int direction, object in1, object in2, object out, int* typenum):
    """The output array for (in1[, in2]) -> out if all are plain and compatible, else None.

    Plain: see `is_plain`; shapes and dtypes equal; `out` None (a new array is made),
    or writeable and the same buffer as each input or disjoint from it.
    """
    if not cnp.PyArray_CheckExact(in1):
        return None
    cdef cnp.ndarray arr1 = <cnp.ndarray>in1
    cdef cnp.ndarray arr2 = None
    cdef cnp.ndarray res
    typenum[0] = cnp.PyArray_TYPE(arr1)
    if typenum[0] != cnp.NPY_FLOAT and typenum[0] != cnp.NPY_DOUBLE:
        return None
    if not is_plain(arr1, typenum[0]):
        return None
    if direction != FORWARD:
        if not is_plain(in2, typenum[0]):
            return None
        arr2 = <cnp.ndarray>in2
        if not same_shape(arr1, arr2):
            return None
    if out is None:
        return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(arr1), cnp.PyArray_DIMS(arr1), typenum[0], 0)
    if not is_plain(out, typenum[0]):
        return None
    res = <cnp.ndarray>out
    if not (cnp.PyArray_ISWRITEABLE(res) and same_shape(res, arr1)
            and same_or_disjoint(res, arr1)
            and (arr2 is None or same_or_disjoint(res, arr2))):
        return None
    return res


cdef object run_task(ElementwiseTask* task, object in1, object in2, object out):
    cdef int typenum = 0
    cdef object prepared = prepare(task.direction, in1, in2, out, &typenum)
    if prepared is None:
        return NotImplemented
    cdef cnp.ndarray res = <cnp.ndarray>prepared
    cdef cnp.ndarray arr1 = <cnp.ndarray>in1
    cdef Py_ssize_t n = cnp.PyArray_SIZE(arr1)
    cdef const void* p1 = cnp.PyArray_DATA(arr1)
    cdef const void* p2 = cnp.PyArray_DATA(<cnp.ndarray>in2) if task.direction != FORWARD else NULL
    cdef void* po = cnp.PyArray_DATA(res)
    cdef bint ok
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            ok = run_elementwise(task, <const float*>p1, <const float*>p2, <float*>po, n,
                                 default_num_threads())
        else:
            ok = run_elementwise(task, <const double*>p1, <const double*>p2, <double*>po, n,
                                 default_num_threads())
    if not ok:
        raise ValueError(f"no elementwise kernel for op {task.op} in direction {task.direction}")
    # a 0-d result without `out` is returned as a NumPy scalar, as ufuncs do
    return res[()] if out is None and cnp.PyArray_NDIM(res) == 0 else res


def elementwise(int direction, int op, object in1, object in2, object out,
                double a, double b):
    """Run elementwise kernel `op` in `direction` (a Direction) and return the array
    written.

    forward: in1 = x, in2 = None; backward: in1 = grad, in2 = x or y.  Returns
    NotImplemented, having written nothing, unless every array is plain (see
    `prepare`).
    """
    cdef ElementwiseTask task
    task.direction = direction
    task.op = op
    task.a = a
    task.b = b
    task.seed = 0
    return run_task(&task, in1, in2, out)


def rrelu_training(int direction, object in1, object in2, object out, double lower,
                   double upper, uint64_t seed):
    """rrelu with training=True: forward (in1 = x) or backward (in1 = grad, in2 = x).

    Returns NotImplemented when the arrays are not plain (see `prepare`).
    """
    cdef ElementwiseTask task
    task.direction = direction
    task.op = OP_RRELU_TRAINING
    task.a = lower
    task.b = upper
    task.seed = seed
    return run_task(&task, in1, in2, out)


cdef int checked_typenum(tuple arrays) except -1:
    """The common typenum of validated arrays (the Python layer checked them)."""
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>arrays[0])
    for arr in arrays:
        if not is_plain(arr, typenum) or (typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE):
            raise ValueError("internal error: kernel arrays must be plain float32/float64 "
                             "of one dtype")
    return typenum


def softmax(int mode, cnp.ndarray in1, object in2, cnp.ndarray out, Py_ssize_t outer,
            Py_ssize_t length, Py_ssize_t inner, double flip):
    """Softmax-family kernel (see _softmax.pxi) over arrays validated by the Python layer:
    forward in1 = x; backward in1 = grad, in2 = x or y; all of outer*length*inner."""
    cdef tuple arrays = (in1, out) if in2 is None else (in1, in2, out)
    cdef int typenum = checked_typenum(arrays)
    for arr in arrays:
        if cnp.PyArray_SIZE(<cnp.ndarray>arr) != outer * length * inner:
            raise ValueError("internal error: softmax kernel shape mismatch")
    return softmax_checked(mode, typenum, in1, in2, out, outer, length, inner, flip)


cdef object softmax_checked(int mode, int typenum, cnp.ndarray in1, object in2, cnp.ndarray out,
                            Py_ssize_t outer, Py_ssize_t length, Py_ssize_t inner, double flip):
    """`softmax` on arrays already checked (plain, of `typenum`, of matching sizes): the
    fast path calls it directly, a Python-level call costing more than a 16-element row."""
    cdef const void* p1 = cnp.PyArray_DATA(in1)
    cdef const void* p2 = cnp.PyArray_DATA(<cnp.ndarray>in2) if in2 is not None else NULL
    cdef void* po = cnp.PyArray_DATA(out)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            run_softmax(mode, <const float*>p1, <const float*>p2, <float*>po, outer, length,
                        inner, <float>flip, default_num_threads())
        else:
            run_softmax(mode, <const double*>p1, <const double*>p2, <double*>po, outer, length,
                        inner, flip, default_num_threads())
    return out


def prelu(int direction, object grad, cnp.ndarray x, cnp.ndarray weight, cnp.ndarray out,
          object grad_weight, Py_ssize_t outer, Py_ssize_t channels, Py_ssize_t inner):
    """PReLU (see _prelu.pxi) over arrays validated by the Python layer.

    FORWARD: grad and grad_weight are None; BACKWARD: grad_weight (channels values)
    receives the weight gradient.  Returns out.
    """
    cdef bint backward = direction == BACKWARD
    cdef tuple arrays = (x, weight, out) + ((grad, grad_weight) if backward else ())
    cdef int typenum = checked_typenum(arrays)
    if (cnp.PyArray_SIZE(x) != outer * channels * inner or cnp.PyArray_SIZE(out) != cnp.PyArray_SIZE(x)
            or cnp.PyArray_SIZE(weight) != channels
            or (backward and (cnp.PyArray_SIZE(<cnp.ndarray>grad) != cnp.PyArray_SIZE(x)
                              or cnp.PyArray_SIZE(<cnp.ndarray>grad_weight) != channels))):
        raise ValueError("internal error: prelu kernel shape mismatch")
    cdef const void* pg = cnp.PyArray_DATA(<cnp.ndarray>grad) if backward else NULL
    cdef const void* px = cnp.PyArray_DATA(x)
    cdef const void* pw = cnp.PyArray_DATA(weight)
    cdef void* po = cnp.PyArray_DATA(out)
    cdef void* pgw = cnp.PyArray_DATA(<cnp.ndarray>grad_weight) if backward else NULL
    cdef bint ok
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            ok = run_prelu(backward, <const float*>pg, <const float*>px, <const float*>pw,
                           <float*>po, <float*>pgw, outer, channels, inner, default_num_threads())
        else:
            ok = run_prelu(backward, <const double*>pg, <const double*>px, <const double*>pw,
                           <double*>po, <double*>pgw, outer, channels, inner,
                           default_num_threads())
    if not ok:
        raise MemoryError("prelu_backward: cannot allocate the weight-gradient partial sums")
    return out


#: Modes of the softmax kernel, by (function, direction) -- see _softmax.pxi.
SOFTMAX_MODES = {
    ("softmax", FORWARD): SOFTMAX_FORWARD,
    ("softmax", BACKWARD): SOFTMAX_BACKWARD_X,
    ("softmax", BACKWARD_FROM_OUTPUT): SOFTMAX_BACKWARD_Y,
    ("log_softmax", FORWARD): LOG_SOFTMAX_FORWARD,
    ("log_softmax", BACKWARD): LOG_SOFTMAX_BACKWARD_X,
    ("log_softmax", BACKWARD_FROM_OUTPUT): LOG_SOFTMAX_BACKWARD_Y,
}


def gated(int direction, int op, cnp.ndarray x, object grad, cnp.ndarray out,
          Py_ssize_t outer, Py_ssize_t half, Py_ssize_t inner):
    """Gated kernel (see _gated.pxi) over arrays validated by the Python layer: x and
    (backward) out have outer*2*half*inner values, the forward out and grad
    outer*half*inner.  Returns out."""
    cdef tuple arrays = (x, out) if grad is None else (x, grad, out)
    cdef int typenum = checked_typenum(arrays)
    cdef Py_ssize_t full = outer * 2 * half * inner
    if (cnp.PyArray_SIZE(x) != full
            or cnp.PyArray_SIZE(out) != (full if direction != FORWARD else full // 2)
            or (grad is not None and cnp.PyArray_SIZE(<cnp.ndarray>grad) != full // 2)):
        raise ValueError("internal error: gated kernel shape mismatch")
    return gated_checked(direction, op, typenum, x, grad, out, outer, half, inner)


cdef object gated_checked(int direction, int op, int typenum, cnp.ndarray x, object grad,
                          cnp.ndarray out, Py_ssize_t outer, Py_ssize_t half, Py_ssize_t inner):
    """`gated` on arrays already checked (plain, of `typenum`, of matching sizes), for
    the fast path (see softmax_checked)."""
    cdef const void* px = cnp.PyArray_DATA(x)
    cdef const void* pg = cnp.PyArray_DATA(<cnp.ndarray>grad) if grad is not None else NULL
    cdef void* po = cnp.PyArray_DATA(out)
    cdef bint ok
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            ok = run_gated(direction, op, <const float*>px, <const float*>pg, <float*>po,
                           outer, half, inner, default_num_threads())
        else:
            ok = run_gated(direction, op, <const double*>px, <const double*>pg, <double*>po,
                           outer, half, inner, default_num_threads())
    if not ok:
        raise ValueError(f"no gated kernel for op {op} in direction {direction}")
    return out


def softmax_plain(int mode, object in1, object in2, object out, object axis, double flip):
    """The softmax kernel's fast path: plain arrays (see `prepare`; in2 is None for a
    forward) and an in-range int axis.  Returns NotImplemented, having written
    nothing, otherwise (the Python layer then validates and raises)."""
    cdef int typenum = 0
    cdef Py_ssize_t ax, nd, k, outer = 1, length = 1, inner = 1
    if type(axis) is not int:
        return NotImplemented
    cdef object prepared = prepare(FORWARD if in2 is None else BACKWARD, in1, in2, out, &typenum)
    if prepared is None:
        return NotImplemented
    cdef cnp.ndarray arr = <cnp.ndarray>in1
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(arr)
    nd = cnp.PyArray_NDIM(arr)
    try:
        ax = axis
    except OverflowError:  # beyond Py_ssize_t: the validating path raises AxisError
        return NotImplemented
    if ax < -max(nd, 1) or ax >= max(nd, 1):
        return NotImplemented
    if nd > 0:
        if ax < 0:
            ax += nd      # (C's %, under cdivision, keeps the sign)
        for k in range(nd):
            if k < ax:
                outer *= dims[k]
            elif k == ax:
                length = dims[k]
            else:
                inner *= dims[k]
    res = softmax_checked(mode, typenum, arr, in2, <cnp.ndarray>prepared, outer, length, inner,
                          flip)
    return res[()] if out is None and nd == 0 else res


cdef inline bint disjoint(cnp.ndarray a, cnp.ndarray b):
    """The byte ranges of two C-contiguous arrays do not intersect."""
    cdef char* pa = cnp.PyArray_BYTES(a)
    cdef char* pb = cnp.PyArray_BYTES(b)
    return (cnp.PyArray_NBYTES(a) == 0 or cnp.PyArray_NBYTES(b) == 0
            or pa + cnp.PyArray_NBYTES(a) <= pb or pb + cnp.PyArray_NBYTES(b) <= pa)


cdef object plain_out(object out, int typenum, int nd, cnp.npy_intp* dims):
    """`out` if it is a plain, writeable array of these dims (None: a new one), else None."""
    cdef int k
    if out is None:
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    if not is_plain(out, typenum) or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out) \
            or cnp.PyArray_NDIM(<cnp.ndarray>out) != nd:
        return None
    for k in range(nd):
        if cnp.PyArray_DIMS(<cnp.ndarray>out)[k] != dims[k]:
            return None
    return out


cdef int plain_axis(cnp.ndarray arr, object axis, Py_ssize_t* outer, Py_ssize_t* length,
                    Py_ssize_t* inner) except -2:
    """(outer, length, inner) around an in-range int `axis` of a >= 1-d array; -1 when
    the call must take the validating path (non-int or out-of-range axis, 0-d)."""
    cdef Py_ssize_t nd = cnp.PyArray_NDIM(arr), ax, k
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(arr)
    if type(axis) is not int or nd == 0:
        return -1
    try:
        ax = axis
    except OverflowError:  # beyond Py_ssize_t: the validating path raises AxisError
        return -1
    if ax < -nd or ax >= nd:
        return -1
    if ax < 0:
        ax += nd
    outer[0] = 1
    inner[0] = 1
    for k in range(nd):
        if k < ax:
            outer[0] *= dims[k]
        elif k == ax:
            length[0] = dims[k]
        else:
            inner[0] *= dims[k]
    return ax


def gated_plain(int direction, int op, object x, object grad, object out, object axis):
    """The gated kernel's fast path: plain x (and grad of x's shape halved along axis),
    an in-range int axis with an even length, out None or a plain writeable array of
    the result's shape that shares no memory with x or grad (the backward's out may be
    x itself).  NotImplemented otherwise (the Python layer then validates)."""
    cdef int typenum
    cdef Py_ssize_t outer = 1, length = 1, inner = 1, ax, k
    cdef cnp.npy_intp dims[32]
    if not cnp.PyArray_CheckExact(x):
        return NotImplemented
    cdef cnp.ndarray xa = <cnp.ndarray>x
    typenum = cnp.PyArray_TYPE(xa)
    if (typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE) or not is_plain(xa, typenum) \
            or cnp.PyArray_NDIM(xa) > 32:
        return NotImplemented
    ax = plain_axis(xa, axis, &outer, &length, &inner)
    if ax < 0 or length % 2:
        return NotImplemented
    for k in range(cnp.PyArray_NDIM(xa)):
        dims[k] = cnp.PyArray_DIMS(xa)[k] // 2 if k == ax else cnp.PyArray_DIMS(xa)[k]
    cdef cnp.ndarray ga
    cdef object res
    if direction != FORWARD:
        if not is_plain(grad, typenum):
            return NotImplemented
        ga = <cnp.ndarray>grad
        if cnp.PyArray_NDIM(ga) != cnp.PyArray_NDIM(xa):
            return NotImplemented
        for k in range(cnp.PyArray_NDIM(xa)):
            if cnp.PyArray_DIMS(ga)[k] != dims[k]:
                return NotImplemented
        res = plain_out(out, typenum, cnp.PyArray_NDIM(xa), cnp.PyArray_DIMS(xa))
        if res is None or not disjoint(<cnp.ndarray>res, ga) or not (
                res is x or disjoint(<cnp.ndarray>res, xa)):
            return NotImplemented
        return gated_checked(direction, op, typenum, xa, ga, <cnp.ndarray>res, outer,
                             length // 2, inner)
    res = plain_out(out, typenum, cnp.PyArray_NDIM(xa), dims)
    if res is None or not disjoint(<cnp.ndarray>res, xa):
        return NotImplemented
    return gated_checked(direction, op, typenum, xa, None, <cnp.ndarray>res, outer, length // 2,
                         inner)


def prelu_plain(int direction, object grad, object x, object weight, object axis,
                object out=None):
    """prelu's fast path: plain x (and grad of x's shape), a plain 1-D weight of x's
    dtype with length 1 or x.shape[axis], an in-range int axis (for 1-D x the default
    1 means 0), out None or a plain writeable array of x's shape that is x (forward),
    grad (backward) or disjoint from the inputs.  Returns out, (grad_x, grad_weight)
    when backward, or NotImplemented."""
    cdef bint backward = direction == BACKWARD
    cdef int typenum
    cdef Py_ssize_t outer = 1, channels = 1, inner = 1, ax
    if not cnp.PyArray_CheckExact(x):
        return NotImplemented
    cdef cnp.ndarray xa = <cnp.ndarray>x
    typenum = cnp.PyArray_TYPE(xa)
    if (typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE) or not is_plain(xa, typenum) \
            or not is_plain(weight, typenum) or cnp.PyArray_NDIM(<cnp.ndarray>weight) != 1:
        return NotImplemented
    cdef cnp.ndarray wa = <cnp.ndarray>weight
    if cnp.PyArray_NDIM(xa) == 1 and type(axis) is int and axis == 1:
        axis = 0
    ax = plain_axis(xa, axis, &outer, &channels, &inner)
    if ax < 0:
        return NotImplemented
    if cnp.PyArray_SIZE(wa) == 1:
        outer, channels, inner = 1, 1, cnp.PyArray_SIZE(xa)
    elif cnp.PyArray_SIZE(wa) != channels:
        return NotImplemented
    if backward and (not is_plain(grad, typenum) or not same_shape(<cnp.ndarray>grad, xa)):
        return NotImplemented
    cdef object res = plain_out(out, typenum, cnp.PyArray_NDIM(xa), cnp.PyArray_DIMS(xa))
    if res is None or not disjoint(<cnp.ndarray>res, wa):
        return NotImplemented
    if out is not None and not (same_or_disjoint(<cnp.ndarray>res, xa) and (
            not backward or same_or_disjoint(<cnp.ndarray>res, <cnp.ndarray>grad))):
        return NotImplemented
    if not backward:
        return prelu(FORWARD, None, xa, wa, <cnp.ndarray>res, None, outer, channels, inner)
    cdef object gw = cnp.PyArray_EMPTY(1, cnp.PyArray_DIMS(wa), typenum, 0)
    prelu(BACKWARD, grad, xa, wa, <cnp.ndarray>res, gw, outer, channels, inner)
    return res, gw


# ------------------------------------------------------------------ fused forms

def elementwise_bias(int direction, int op, cnp.ndarray in1, object in2, object bias,
                     cnp.ndarray out, object grad_bias, Py_ssize_t outer, Py_ssize_t length,
                     Py_ssize_t inner, double a, double b):
    """Bias + activation (see _bias.pxi) over arrays validated by the Python layer, all of
    outer*length*inner values but bias and grad_bias (length values, or None).

    FORWARD: out = f(in1 + bias); BACKWARD: out = in1 * f'(in2 + bias), grad_bias (if
    not None) = its sums; BACKWARD_FROM_OUTPUT: out already holds the gradient, only
    grad_bias is written (in1, in2, bias unused).  Returns out."""
    cdef tuple arrays = (out,) + tuple(arr for arr in (in1, in2, bias, grad_bias)
                                       if arr is not None and direction != BACKWARD_FROM_OUTPUT) \
        + ((grad_bias,) if direction == BACKWARD_FROM_OUTPUT else ())
    cdef int typenum = checked_typenum(arrays)
    cdef Py_ssize_t total = outer * length * inner
    if (cnp.PyArray_SIZE(out) != total or cnp.PyArray_SIZE(in1) != total
            or (in2 is not None and cnp.PyArray_SIZE(<cnp.ndarray>in2) != total)
            or (bias is not None and cnp.PyArray_SIZE(<cnp.ndarray>bias) != length)
            or (grad_bias is not None and cnp.PyArray_SIZE(<cnp.ndarray>grad_bias) != length)
            or (direction != BACKWARD_FROM_OUTPUT and bias is None)):
        raise ValueError("internal error: bias kernel shape mismatch")
    cdef const void* p1 = cnp.PyArray_DATA(in1)
    cdef const void* p2 = cnp.PyArray_DATA(<cnp.ndarray>in2) if in2 is not None else NULL
    cdef const void* pb = cnp.PyArray_DATA(<cnp.ndarray>bias) if bias is not None else NULL
    cdef void* po = cnp.PyArray_DATA(out)
    cdef void* pgb = cnp.PyArray_DATA(<cnp.ndarray>grad_bias) if grad_bias is not None else NULL
    cdef int status
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            status = run_elementwise_bias(direction, op, <const float*>p1, <const float*>p2,
                                          <const float*>pb, <float*>po, <float*>pgb, outer,
                                          length, inner, a, b, default_num_threads())
        else:
            status = run_elementwise_bias(direction, op, <const double*>p1, <const double*>p2,
                                          <const double*>pb, <double*>po, <double*>pgb, outer,
                                          length, inner, a, b, default_num_threads())
    if status == BIAS_NO_MEMORY:
        raise MemoryError("cannot allocate the bias-gradient partial sums")
    if status != BIAS_OK:
        raise ValueError(f"no elementwise kernel for op {op} in direction {direction}")
    return out


def softmax_masked(int mode, cnp.ndarray in1, object in2, cnp.ndarray out, Py_ssize_t rows,
                   Py_ssize_t length, double scale, double flip, object mask,
                   object mask_row_offset, Py_ssize_t mask_step):
    """The fused softmax family (see _softmax_masked.pxi) along the last axis of (rows,
    length) arrays validated by the Python layer.  mask: None, an array of the data's
    dtype (added) or of uint8/bool (keep where non-zero), read at
    mask_row_offset[r] (an int64 array of rows offsets, in elements) + j * mask_step."""
    cdef tuple arrays = (in1, out) if in2 is None else (in1, in2, out)
    cdef int typenum = checked_typenum(arrays)
    cdef cnp.ndarray m, offs
    cdef Py_ssize_t r, msize = 0
    cdef const void* pm = NULL
    cdef const unsigned char* pbm = NULL
    cdef const int64_t* poff = NULL
    for arr in arrays:
        if cnp.PyArray_SIZE(<cnp.ndarray>arr) != rows * length:
            raise ValueError("internal error: softmax kernel shape mismatch")
    if mask is not None:
        m = <cnp.ndarray>mask
        offs = <cnp.ndarray>mask_row_offset
        if not cnp.PyArray_IS_C_CONTIGUOUS(m) or not cnp.PyArray_ISALIGNED(m) \
                or cnp.PyArray_TYPE(offs) != cnp.NPY_INT64 or not is_plain(offs, cnp.NPY_INT64) \
                or cnp.PyArray_SIZE(offs) != rows or mask_step not in (0, 1):
            raise ValueError("internal error: softmax mask layout")
        msize = cnp.PyArray_SIZE(m)
        poff = <const int64_t*>cnp.PyArray_DATA(offs)
        for r in range(rows):   # every row's mask inside the mask's buffer
            if length and not (0 <= poff[r] and poff[r] + (length - 1) * mask_step < msize):
                raise ValueError("internal error: softmax mask offsets")
        if cnp.PyArray_TYPE(m) == cnp.NPY_BOOL or cnp.PyArray_TYPE(m) == cnp.NPY_UINT8:
            pbm = <const unsigned char*>cnp.PyArray_DATA(m)
        elif cnp.PyArray_TYPE(m) == typenum and cnp.PyArray_ISNOTSWAPPED(m):
            pm = cnp.PyArray_DATA(m)
        else:
            raise ValueError("internal error: softmax mask dtype")
    cdef const void* p1 = cnp.PyArray_DATA(in1)
    cdef const void* p2 = cnp.PyArray_DATA(<cnp.ndarray>in2) if in2 is not None else NULL
    cdef void* po = cnp.PyArray_DATA(out)
    cdef bint ok
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            ok = run_softmax_masked(mode, <const float*>p1, <const float*>p2, <float*>po, rows,
                                    length, <float>scale, <float>flip, <const float*>pm, pbm,
                                    poff, mask_step, default_num_threads())
        else:
            ok = run_softmax_masked(mode, <const double*>p1, <const double*>p2, <double*>po,
                                    rows, length, scale, flip, <const double*>pm, pbm, poff,
                                    mask_step, default_num_threads())
    if not ok:
        raise MemoryError("softmax: cannot allocate a scratch row")
    return out

# ------------------------------------------------------------------ blocks of larger arrays
# Private entries of activations.dask: a chunk of a Dask array is computed by the same
# code as the in-memory call, given where the chunk sits in the whole array.

def rrelu_training_rows_entry(int direction, cnp.ndarray in1, object in2, cnp.ndarray out,
                              cnp.ndarray row_first_index, double lower, double upper,
                              uint64_t seed):
    """rrelu training over a C-contiguous (rows, cols) chunk whose row r starts at flat
    index row_first_index[r] (int64) of the whole array.  Returns out."""
    cdef tuple arrays = (in1, out) if in2 is None else (in1, in2, out)
    cdef int typenum = checked_typenum(arrays)
    if cnp.PyArray_NDIM(in1) != 2 or not is_plain(row_first_index, cnp.NPY_INT64):
        raise ValueError("internal error: rrelu chunk kernel takes a 2-D chunk and int64 row starts")
    cdef Py_ssize_t rows = cnp.PyArray_DIMS(in1)[0], cols = cnp.PyArray_DIMS(in1)[1]
    for arr in arrays:
        if cnp.PyArray_SIZE(<cnp.ndarray>arr) != rows * cols:
            raise ValueError("internal error: rrelu chunk kernel shape mismatch")
    if cnp.PyArray_SIZE(row_first_index) != rows:
        raise ValueError("internal error: rrelu chunk kernel needs one start per row")
    cdef const void* p1 = cnp.PyArray_DATA(in1)
    cdef const void* p2 = cnp.PyArray_DATA(<cnp.ndarray>in2) if in2 is not None else NULL
    cdef void* po = cnp.PyArray_DATA(out)
    cdef const int64_t* starts = <const int64_t*>cnp.PyArray_DATA(row_first_index)
    cdef int direction_ = FORWARD if in2 is None else BACKWARD
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            rrelu_training_rows(direction_, <const float*>p1, <const float*>p2, <float*>po,
                                rows, cols, starts, lower, upper, seed, default_num_threads())
        else:
            rrelu_training_rows(direction_, <const double*>p1, <const double*>p2, <double*>po,
                                rows, cols, starts, lower, upper, seed, default_num_threads())
    return out


def softmax_chunk(bint write, int mode, cnp.ndarray in1, object in2, object out, object m,
                  cnp.ndarray stats, double flip):
    """One chunk of rows split along the softmax axis (see _softmax.pxi, "rows split
    into chunks"): in1 (and in2, out) C-contiguous (rows, n); m (rows,) the whole
    rows' maxima of flip*x, None for the backward from y; stats float64 (rows, 3):
    written with the partials (write False) or read as the totals (write True)."""
    cdef tuple arrays = (in1,) + ((in2,) if in2 is not None else ()) \
        + ((out,) if write else ()) + ((m,) if m is not None else ())
    cdef int typenum = checked_typenum(arrays)
    if cnp.PyArray_NDIM(in1) != 2 or not is_plain(stats, cnp.NPY_DOUBLE):
        raise ValueError("internal error: softmax chunk kernel takes 2-D chunks and float64 stats")
    cdef Py_ssize_t rows = cnp.PyArray_DIMS(in1)[0], n = cnp.PyArray_DIMS(in1)[1]
    for arr in arrays[1:]:
        if cnp.PyArray_SIZE(<cnp.ndarray>arr) != (rows if arr is m else rows * n):
            raise ValueError("internal error: softmax chunk kernel shape mismatch")
    if cnp.PyArray_SIZE(stats) != 3 * rows or (m is None and mode_reads_x(mode)):
        raise ValueError("internal error: softmax chunk kernel stats or maxima missing")
    if not write and not cnp.PyArray_ISWRITEABLE(stats):
        raise ValueError("internal error: softmax chunk kernel stats are read-only")
    cdef const void* p1 = cnp.PyArray_DATA(in1)
    cdef const void* p2 = cnp.PyArray_DATA(<cnp.ndarray>in2) if in2 is not None else NULL
    cdef void* po = cnp.PyArray_DATA(<cnp.ndarray>out) if write else NULL
    cdef const void* pm = cnp.PyArray_DATA(<cnp.ndarray>m) if m is not None else NULL
    cdef double* ps = <double*>cnp.PyArray_DATA(stats)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            softmax_chunk_rows(write, mode, <const float*>p1, <const float*>p2, <float*>po,
                               <const float*>pm, ps, rows, n, <float>flip, default_num_threads())
        else:
            softmax_chunk_rows(write, mode, <const double*>p1, <const double*>p2, <double*>po,
                               <const double*>pm, ps, rows, n, flip, default_num_threads())
    return out if write else stats
