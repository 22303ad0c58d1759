# cython: language_level=3, boundscheck=False, wraparound=False
"""README.md's Cython example: activations called from Cython, no Python object in the loop."""

from cython.parallel cimport prange
from activations cimport cython_api as ca


def sigmoid_rows(const float[:, ::1] x, float[:, ::1] out):
    """sigmoid of every row, the rows split over OpenMP threads; each call runs on its
    caller's thread (nthreads = 1).  Returns the number of failed calls."""
    cdef Py_ssize_t r
    cdef int failed = 0
    for r in prange(x.shape[0], nogil=True, schedule="static"):
        failed += ca.sigmoid_f32(&x[r, 0], &out[r, 0], x.shape[1], 1) != ca.ACT_OK
    return failed


def softplus_inplace(double[::1] x, double beta):
    """softplus(x) in place, through the typed-memoryview form (nthreads = 0: the
    package's default thread count)."""
    cdef int status
    with nogil:
        status = ca.softplus(x, x, beta, 20.0, 0)
    if status != ca.ACT_OK:
        raise ValueError(f"softplus: status {status}")
