# The elementwise family's Python entry point (its loops are generated in
# _elementwise.pxi, its driver is run_elementwise in _kernels.pyx).  Included by
# _kernels.pyx.

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
    cdef PyThreadState* gil = release_gil_for(n)
    if typenum == cnp.NPY_FLOAT:
        ok = run_elementwise(task, <const float*>p1, <const float*>p2, <float*>po, n,
                             call_num_threads(n))
    else:
        ok = run_elementwise(task, <const double*>p1, <const double*>p2, <double*>po, n,
                             call_num_threads(n))
    retake_gil(gil)
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
