# The checks every entry point shares: which arrays are plain (take the fast path),
# whether two arrays overlap, and the (outer, length, inner) split around an axis;
# and what every entry point does around its driver call: the thread count and the
# GIL, both sized by the call's element count.
# Included by _kernels.pyx before the families' entry points.

cdef extern from "Python.h":
    PyThreadState* PyEval_SaveThread() noexcept
    void PyEval_RestoreThread(PyThreadState* state) noexcept nogil


cdef inline int call_num_threads(Py_ssize_t n) noexcept nogil:
    """The thread count for a driver call on n elements: `default_num_threads()`, or 1
    below both parallel thresholds (no driver enters a parallel region there), which
    spares a small call the load probe's clock read."""
    if n < PARALLEL_MIN_ELEMENTS and n < PARALLEL_MIN_MEMORY_BOUND:
        return 1
    return default_num_threads()


cdef inline PyThreadState* release_gil_for(Py_ssize_t n) noexcept:
    """Release the GIL for a driver call on n elements (NOGIL_MIN_ELEMENTS and
    more; NULL: kept); `retake_gil` takes it back.  Only nogil code may run between."""
    return PyEval_SaveThread() if n >= NOGIL_MIN_ELEMENTS else NULL


cdef inline void retake_gil(PyThreadState* state) noexcept nogil:
    if state != NULL:
        PyEval_RestoreThread(state)


cdef inline bint is_plain(object arr, int typenum):
    """An exact ndarray of `typenum`, native byte order, aligned, C-contiguous."""
    if not cnp.PyArray_CheckExact(arr):
        return False
    cdef cnp.ndarray a = <cnp.ndarray>arr
    return (cnp.PyArray_TYPE(a) == typenum and cnp.PyArray_IS_C_CONTIGUOUS(a)
            and cnp.PyArray_ISALIGNED(a) and cnp.PyArray_ISNOTSWAPPED(a))


cdef inline int plain_float_typenum(object arr):
    """NPY_FLOAT or NPY_DOUBLE when `arr` is a plain (see `is_plain`) float32 or float64
    array, else -1."""
    if not cnp.PyArray_CheckExact(arr):
        return -1
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>arr)
    if (typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE) or not is_plain(arr, typenum):
        return -1
    return typenum


cdef inline bint same_shape(cnp.ndarray a, cnp.ndarray b):
    return cnp.PyArray_SAMESHAPE(a, b)


cdef inline bint disjoint(cnp.ndarray a, cnp.ndarray b):
    """The byte ranges of two C-contiguous arrays do not intersect."""
    cdef char* pa = cnp.PyArray_BYTES(a)
    cdef char* pb = cnp.PyArray_BYTES(b)
    return (cnp.PyArray_NBYTES(a) == 0 or cnp.PyArray_NBYTES(b) == 0
            or pa + cnp.PyArray_NBYTES(a) <= pb or pb + cnp.PyArray_NBYTES(b) <= pa)


cdef inline bint same_or_disjoint(cnp.ndarray a, cnp.ndarray b):
    """Two C-contiguous arrays are the same buffer (an in-place call) or do not overlap."""
    return cnp.PyArray_BYTES(a) == cnp.PyArray_BYTES(b) or disjoint(a, b)


cdef inline object plain_out(object out, int typenum, int nd, cnp.npy_intp* dims):
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


cdef object prepare(int direction, object in1, object in2, object out, int* typenum):
    """The output array for (in1[, in2]) -> out if all are plain and compatible, else None.

    Plain: see `is_plain`; shapes and dtypes equal; `out` None (a new array is made),
    or writeable and the same buffer as each input or disjoint from it.
    """
    typenum[0] = plain_float_typenum(in1)
    if typenum[0] < 0:
        return None
    cdef cnp.ndarray arr1 = <cnp.ndarray>in1
    cdef cnp.ndarray arr2 = None
    if direction != FORWARD:
        if not is_plain(in2, typenum[0]):
            return None
        arr2 = <cnp.ndarray>in2
        if not same_shape(arr1, arr2):
            return None
    cdef object res = plain_out(out, typenum[0], cnp.PyArray_NDIM(arr1), cnp.PyArray_DIMS(arr1))
    if out is None or res is None:
        return res
    if not (same_or_disjoint(<cnp.ndarray>res, arr1)
            and (arr2 is None or same_or_disjoint(<cnp.ndarray>res, arr2))):
        return None
    return res


cdef inline int plain_axis(cnp.ndarray arr, object axis, Py_ssize_t* outer, Py_ssize_t* length,
                           Py_ssize_t* inner) except -2:
    """(outer, length, inner) around an in-range int `axis` (a 0-d array has one axis of
    length 1: -1 or 0), and the axis made non-negative; -1 when the call must take the
    validating path (a non-int or out-of-range axis)."""
    cdef Py_ssize_t nd = cnp.PyArray_NDIM(arr), ax, k
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(arr)
    if type(axis) is not int:
        return -1
    try:
        ax = axis
    except OverflowError:  # beyond Py_ssize_t: the validating path raises AxisError
        return -1
    if ax < -max(nd, 1) or ax >= max(nd, 1):
        return -1
    if ax < 0:
        ax += max(nd, 1)
    outer[0] = 1
    length[0] = 1
    inner[0] = 1
    for k in range(nd):
        if k < ax:
            outer[0] *= dims[k]
        elif k == ax:
            length[0] = dims[k]
        else:
            inner[0] *= dims[k]
    return ax


cdef int checked_typenum(tuple arrays) except -1:
    """The common typenum of validated arrays (the Python layer checked them)."""
    cdef int typenum = plain_float_typenum(arrays[0])
    for arr in arrays:
        if typenum < 0 or not is_plain(arr, typenum):
            raise ValueError("internal error: kernel arrays must be plain float32/float64 "
                             "of one dtype")
    return typenum
