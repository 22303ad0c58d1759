# The C-level API: the drivers behind the entries of the table of function pointers
# (include/activations.h, cython_api.pxd).  Included by _kernels.pyx, so each SIMD
# level's module fills its own table, exported as the capsule C_API.
#
# Design:
#  1. Each entry (generated in _capi_entries.pxi from _spec.py) checks its parameters
#     and calls one driver below for its kind or fused form; the driver checks sizes,
#     pointers and the thread count, in that order, and only then runs the same kernel
#     driver (run_elementwise, run_softmax, run_gated, run_prelu, run_elementwise_bias,
#     run_softmax_masked) with the same layout as the Python entry points: the results
#     are bit-identical to the Python API's.
#  2. A failed check returns a negative status (ACT_EINVAL, ACT_ESIZE, ACT_ENULL) before
#     anything is written; nothing raises, prints or takes the GIL.
#  3. nthreads: 0 is default_num_threads(), the Python API's count; 1 takes each
#     driver's serial branch, which never enters an OpenMP parallel region (a host
#     with an OpenMP runtime of its own, or many pthreads, can call with 1 safely).

from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport int64_t, INT64_MAX

from activations._capi_table cimport (act_api_table, ACT_OK, ACT_EINVAL, ACT_ESIZE,
                                      ACT_ENULL, ACT_ENOMEM, ACT_ABI_VERSION, ACT_TABLE_SIZE)


cdef inline int capi_threads(int nthreads) noexcept nogil:
    """The thread count a C call runs with (nthreads >= 0): 0 is the package default,
    n >= 1 at most n, bounded as set_num_threads is (and 1 in a forked child)."""
    return default_num_threads() if nthreads == 0 else bounded_num_threads(nthreads)


cdef inline bint capi_bad_size(int64_t a, int64_t b) noexcept nogil:
    """a * b is negative or does not fit in int64."""
    return a < 0 or b < 0 or (b != 0 and a > INT64_MAX // b)


cdef int capi_elementwise(int direction, int op, double a, double b, uint64_t seed,
                          const floating* in1, const floating* in2, floating* out,
                          int64_t n, int nthreads) noexcept nogil:
    """An elementwise task (ElementwiseTask) over n elements: forward in1 = x; backward
    in1 = grad, in2 = x or y."""
    cdef ElementwiseTask task
    if n < 0:
        return ACT_ESIZE
    if n > 0 and (in1 == NULL or out == NULL or (direction != FORWARD and in2 == NULL)):
        return ACT_ENULL
    if nthreads < 0:
        return ACT_EINVAL
    task.direction = direction
    task.op = op
    task.a = a
    task.b = b
    task.seed = seed
    if not run_elementwise(&task, in1, in2, out, n, capi_threads(nthreads)):
        return ACT_EINVAL  # pragma: no cover - every generated (op, direction) exists
    return ACT_OK


#: The softmax family's sign (1; -1 for softmin), read from memory rather than passed on
#: as the entry's constant: with the constant, GCC specializes run_softmax for flip = -1
#: and folds flip * v into -v, which keeps the sign of a NaN that the Python API's call
#: (a run-time flip) flips; tests/capi compares NaN results bit for bit too.
#: Index 0: 1, 1: -1.
cdef double SOFTMAX_SIGN[2]
SOFTMAX_SIGN[0] = 1
SOFTMAX_SIGN[1] = -1


cdef int capi_softmax(int mode, floating flip, const floating* in1, const floating* in2,
                      floating* out, int64_t rows, int64_t cols, int nthreads) noexcept nogil:
    """The softmax family along the last axis of a C-contiguous (rows, cols) buffer."""
    cdef bint backward = not (mode == SOFTMAX_FORWARD or mode == LOG_SOFTMAX_FORWARD)
    if capi_bad_size(rows, cols):
        return ACT_ESIZE
    if rows * cols > 0 and (in1 == NULL or out == NULL or (backward and in2 == NULL)):
        return ACT_ENULL
    if nthreads < 0:
        return ACT_EINVAL
    run_softmax(mode, in1, in2, out, rows, cols, 1, <floating>SOFTMAX_SIGN[flip < 0],
                capi_threads(nthreads))
    return ACT_OK


cdef int capi_elementwise_bias(int direction, int op, double a, double b, const floating* in1,
                               const floating* in2, const floating* bias, floating* out,
                               floating* grad_bias, int64_t rows, int64_t cols,
                               int nthreads) noexcept nogil:
    """f(x + bias) (forward: in1 = x) or grad * f'(x + bias) (backward: in1 = grad, in2 =
    x, and grad_bias = the column sums unless it is null) over a C-contiguous (rows,
    cols) buffer with bias[cols]: the Python bias form with the bias along the last axis."""
    cdef int status
    if capi_bad_size(rows, cols):
        return ACT_ESIZE
    if rows * cols > 0 and (in1 == NULL or out == NULL or bias == NULL
                            or (direction != FORWARD and in2 == NULL)):
        return ACT_ENULL
    if nthreads < 0:
        return ACT_EINVAL
    status = run_elementwise_bias(direction, op, in1, in2, bias, out, grad_bias, rows, cols, 1,
                                  a, b, capi_threads(nthreads))
    if status == BIAS_NO_MEMORY:
        return ACT_ENOMEM
    if status != BIAS_OK:
        return ACT_EINVAL  # pragma: no cover - every generated (op, direction) exists
    return ACT_OK


cdef int capi_softmax_masked(int mode, floating flip, floating scale, const floating* in1,
                             const floating* in2, const floating* mask, floating* out,
                             int64_t rows, int64_t cols, int nthreads) noexcept nogil:
    """The softmax family of scale * x + mask along the last axis of a C-contiguous (rows,
    cols) buffer, mask a full (rows, cols) additive mask or null.  As in the Python API,
    no mask and scale 1 is the plain family (capi_softmax), except from y: there the
    entry is the backward of a masked forward (the Python call with a mask, which it
    does not read), whose -inf entries of y are masked out (_softmax_masked.pxi,
    Design 3)."""
    cdef bint backward = not (mode == SOFTMAX_FORWARD or mode == LOG_SOFTMAX_FORWARD)
    cdef bint from_y = mode == SOFTMAX_BACKWARD_Y or mode == LOG_SOFTMAX_BACKWARD_Y
    if mask == NULL and scale == 1 and not from_y:
        return capi_softmax(mode, flip, in1, in2, out, rows, cols, nthreads)
    if capi_bad_size(rows, cols):
        return ACT_ESIZE
    if rows * cols > 0 and (in1 == NULL or out == NULL or (backward and in2 == NULL)):
        return ACT_ENULL
    if nthreads < 0:
        return ACT_EINVAL
    if not run_softmax_masked(mode, in1, in2, out, rows, cols, scale,
                              <floating>SOFTMAX_SIGN[flip < 0], mask,
                              <const unsigned char*>NULL, <const int64_t*>NULL, 1,
                              capi_threads(nthreads)):
        return ACT_ENOMEM
    return ACT_OK


cdef int capi_gated(int direction, int op, const floating* x, const floating* grad,
                    floating* out, int64_t rows, int64_t cols, int nthreads) noexcept nogil:
    """A gated function along the last axis of a C-contiguous (rows, cols) x, cols even:
    the forward writes (rows, cols / 2), the backward reads grad of that shape and
    writes (rows, cols)."""
    if capi_bad_size(rows, cols) or cols % 2 != 0:
        return ACT_ESIZE
    if rows * cols > 0 and (x == NULL or out == NULL or (direction != FORWARD and grad == NULL)):
        return ACT_ENULL
    if nthreads < 0:
        return ACT_EINVAL
    if not run_gated(direction, op, x, grad, out, rows, cols // 2, 1, capi_threads(nthreads)):
        return ACT_EINVAL  # pragma: no cover - every generated (op, direction) exists
    return ACT_OK


#: capi_prelu's direction, read from memory rather than passed as a constant: with the
#: constant, GCC 12.2 -O3 clones run_prelu for backward = True and vectorizes that clone's
#: weight-gradient lanes (prelu_run) with a masked load of grad whose mask comes from the
#: wrong half of x (wrong grad_weight; tests/capi checks every entry against the Python
#: API, whose call compiles correctly).  Indexed by Direction.
cdef bint PRELU_DIRECTION[2]
PRELU_DIRECTION[<int>FORWARD] = False
PRELU_DIRECTION[<int>BACKWARD] = True


cdef int capi_prelu(int direction, const floating* grad, const floating* x,
                    const floating* weight, floating* out, floating* grad_weight,
                    int64_t outer, int64_t channels, int64_t inner, int64_t weight_len,
                    int nthreads) noexcept nogil:
    """prelu over a C-contiguous (outer, channels, inner) buffer with a weight of length
    channels or 1; the backward also writes grad_weight (weight_len values)."""
    cdef bint backward = PRELU_DIRECTION[direction]
    cdef int64_t total
    if capi_bad_size(outer, channels) or capi_bad_size(outer * channels, inner) \
            or not (weight_len == 1 or weight_len == channels):
        return ACT_ESIZE
    total = outer * channels * inner
    if (total > 0 and (x == NULL or out == NULL or (backward and grad == NULL))) \
            or (weight_len > 0 and (weight == NULL or (backward and grad_weight == NULL))):
        return ACT_ENULL
    if nthreads < 0:
        return ACT_EINVAL
    if weight_len == 1:  # one shared slope: the layout the Python layer uses for it
        outer, channels, inner = 1, 1, total
    if not run_prelu(backward, grad, x, weight, out, grad_weight, outer, channels, inner,
                     capi_threads(nthreads)):
        return ACT_ENOMEM
    return ACT_OK


include "_capi_entries.pxi"

cdef act_api_table CAPI_TABLE
fill_capi_table(&CAPI_TABLE)

#: The table of this module's entries, as the capsule that activations exports as
#: activations._C_API when this module's SIMD level is in use.
C_API = PyCapsule_New(<void*>&CAPI_TABLE, "activations._C_API", NULL)
