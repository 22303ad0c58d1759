# RReLU in training mode: per-element random slopes from a counter-based generator.
# Included by _kernels.pyx.
#
# The slope of element i (flat C order) is a_i = lower + (upper - lower) * u_i with
# u_i = the top 52 bits of SplitMix64(seed, i) / 2**52: Steele, Lea & Flood 2014, "Fast
# splittable pseudorandom number generators", the generator's (i+1)-th output from
# state `seed`.  It depends on (seed, i) only, so the result never depends on the
# thread split, and the backward regenerates the same slopes (no noise buffer).
# Conventions as PyTorch's rrelu_with_noise: y = x if x > 0 else a_i*x; dy/dx = 1 if
# x > 0 else a_i; NaN stays NaN.

from libc.stdint cimport uint64_t, int64_t

cdef extern from "_vmath.h" nogil:
    double act_asdouble_u(uint64_t u) noexcept

cdef inline double rrelu_uniform(uint64_t seed, uint64_t i) noexcept nogil:
    cdef uint64_t z = seed + (i + 1) * <uint64_t>0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
    z = z ^ (z >> 31)
    # the top 52 bits as the mantissa of a double in [1, 2), minus 1: u in [0, 1) with
    # 52 random bits, by bit operations that vectorize at every SIMD level
    return act_asdouble_u(<uint64_t>0x3FF0000000000000ULL | (z >> 12)) - 1.0


cdef void rrelu_training_run(int direction, const floating* in1, const floating* in2,
                             floating* out, Py_ssize_t n, uint64_t first_index,
                             double lower, double upper, uint64_t seed) noexcept nogil:
    """n consecutive elements of rrelu training forward (in1 = x) or backward (in1 =
    grad, in2 = x) whose flat indices in the whole array (the generator's counters)
    are first_index, first_index + 1, ...  A block of a larger array (a Dask chunk)
    passes its own offset."""
    cdef Py_ssize_t i
    cdef floating a, x
    cdef double width = upper - lower
    if direction == FORWARD:
        for i in range(n):
            a = <floating>(lower + width * rrelu_uniform(seed, first_index + <uint64_t>i))
            x = in1[i]
            out[i] = x if x > 0 else slope_times(x, a)
    else:
        for i in range(n):
            a = <floating>(lower + width * rrelu_uniform(seed, first_index + <uint64_t>i))
            x = in2[i]
            out[i] = nan_if_nan(x, in1[i] if x > 0 else a * in1[i])


cdef void rrelu_training_rows(int direction, const floating* in1, const floating* in2,
                              floating* out, Py_ssize_t rows, Py_ssize_t cols,
                              const int64_t* row_first_index, double lower, double upper,
                              uint64_t seed, int nthreads) noexcept nogil:
    """A C-contiguous (rows, cols) block of a larger array whose row r holds the
    elements of flat indices row_first_index[r] .. + cols - 1 (a chunk of a Dask
    array: its rows are runs of the whole array's rows)."""
    cdef Py_ssize_t r
    if nthreads > 1 and rows > 1 and rows * cols >= PARALLEL_MIN_ELEMENTS:
        for r in prange(rows, schedule='static', num_threads=nthreads):
            rrelu_training_run(direction, in1 + r * cols, in2 + r * cols if in2 != NULL else NULL,
                               out + r * cols, cols, <uint64_t>row_first_index[r], lower, upper, seed)
    else:
        for r in range(rows):
            rrelu_training_run(direction, in1 + r * cols, in2 + r * cols if in2 != NULL else NULL,
                               out + r * cols, cols, <uint64_t>row_first_index[r], lower, upper, seed)


# ---------------------------------------------------------------- entry points

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
    cdef PyThreadState* gil = release_gil_for(rows * cols)
    if typenum == cnp.NPY_FLOAT:
        rrelu_training_rows(direction_, <const float*>p1, <const float*>p2, <float*>po,
                            rows, cols, starts, lower, upper, seed, call_num_threads(rows * cols))
    else:
        rrelu_training_rows(direction_, <const double*>p1, <const double*>p2, <double*>po,
                            rows, cols, starts, lower, upper, seed, call_num_threads(rows * cols))
    retake_gil(gil)
    return out
