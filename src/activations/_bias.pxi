# Bias + activation: f(x + bias) in one pass, and its backward from x with the bias
# gradient summed in the same pass.  Included by _kernels.pyx (after _softmax.pxi,
# whose compensated sums it shares).
#
# Design:
#  1. x is viewed as (outer, L, inner), L = len(bias) along bias_axis (a length-1 bias:
#     L = 1, inner = x.size).  inner == 1, the bias along the last axis (the fast path):
#     a (rows, cols) matrix cut into tiles of at most BIAS_COLS columns and a fixed
#     number of rows, each run by the generated tile loop (elementwise_bias_tile in
#     _elementwise.pxi) with the bias along cols.  inner > 1: runs of `inner` values
#     that share one bias value, cut into blocks of BIAS_RUN; the value is broadcast
#     into a small buffer, so that the same tile loop serves (tiles of BIAS_FILL columns).
#     x + bias is rounded in the dtype, as NumPy rounds it, and never stored.
#  2. grad_bias[l] is the sum of the computed gradient over every (o, i).  Each work
#     unit sums the gradient it has just written (still in cache), in double (float32
#     data) or compensated double (float64 data), as _softmax.pxi does, in a fixed
#     order; the units depend on the shape only, and their partials are combined in
#     unit order with compensated sums: the threads decide who computes a unit, never
#     the order of the additions, so grad_bias is bit-identical for any thread count.
#  3. The backward from y needs no bias (y determines f'); its grad_bias is the same
#     sum over the gradient the plain from-output loop wrote (run_elementwise_bias with
#     direction BACKWARD_FROM_OUTPUT: the sums only).

cdef enum:
    BIAS_COLS = 2048       # columns per tile of the (rows, cols) path
    BIAS_GROUPS = 32       # row groups of the (rows, cols) path (fixed: see Design 2);
                           # also the most threads that path keeps busy per column block
    BIAS_UNIT_MIN = 65536  # values per row group at least (fewer groups below that)
    BIAS_SUBTILE = 4096    # elements per tile call: summed while still in L1
    BIAS_RUN = 16384       # values per work unit of the inner > 1 path
    BIAS_FILL = 256        # the broadcast bias buffer of the inner > 1 path
    SUM_COLS = 32          # columns summed together (add_rows_to_sums; spelled 32 in its
                           # stepped loop: Cython emits a C loop only for a literal step)

cdef enum BiasStatus:
    BIAS_OK = 0
    BIAS_UNKNOWN_OP = -1
    BIAS_NO_MEMORY = -2


cdef inline Py_ssize_t bias_group_rows(Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    """Rows per work unit, a function of the shape only: the rows split into at most
    BIAS_GROUPS groups (the partial sums take BIAS_GROUPS rows of doubles at most), each
    of at least BIAS_UNIT_MIN values (a unit's fixed costs, zeroing and storing its
    column sums, stay small next to its work; a small matrix is one group, and its sums
    go straight to grad_bias)."""
    return max(<Py_ssize_t>1, (rows + BIAS_GROUPS - 1) // BIAS_GROUPS,
               BIAS_UNIT_MIN // max(cols, <Py_ssize_t>1))


cdef inline void add_rows_to_sums(const floating* src, Py_ssize_t rows, Py_ssize_t cols,
                                  Py_ssize_t ld, double* total, double* comp) noexcept nogil:
    """total[j] (+ comp[j]) += sum over the rows of src[r*ld + j], rows in order.

    SUM_COLS columns at a time, rows inside: the running sums stay in registers (eight
    independent vector chains on AVX2, enough to hide the latency of the additions)
    instead of being loaded and stored once per element."""
    cdef Py_ssize_t r, j, j0, k, nfull = cols - cols % SUM_COLS
    cdef double acc[SUM_COLS]
    cdef double cmp[SUM_COLS]
    cdef const floating* row
    for j0 in range(0, nfull, 32):
        for k in range(SUM_COLS):
            acc[k] = total[j0 + k]
        if floating is double:
            for k in range(SUM_COLS):
                cmp[k] = comp[j0 + k]
        for r in range(rows):
            row = src + r * ld + j0
            for k in range(SUM_COLS):
                if floating is double:
                    acc_add(&acc[k], &cmp[k], row[k])
                else:
                    acc[k] += <double>row[k]
        for k in range(SUM_COLS):
            total[j0 + k] = acc[k]
        if floating is double:
            for k in range(SUM_COLS):
                comp[j0 + k] = cmp[k]
    for r in range(rows):      # the last cols % SUM_COLS columns, rows in order
        row = src + r * ld
        for j in range(nfull, cols):
            if floating is double:
                acc_add(&total[j], &comp[j], row[j])
            else:
                total[j] += <double>row[j]


cdef int bias_matrix_unit(int direction, int op, const floating* in1, const floating* in2,
                          const floating* bias, floating* out, floating* grad_bias,
                          double* partial, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t u,
                          floating a, floating b, bint sums_only) noexcept nogil:
    """Work unit u of the (rows, cols) path: rows g*R .. (g+1)*R, columns of block cb.
    With grad_bias: its column sums go to grad_bias (one row group) or to
    partial[g*cols + c].  sums_only: out is already written (backward from y)."""
    cdef Py_ssize_t ncb = (cols + BIAS_COLS - 1) // BIAS_COLS
    cdef Py_ssize_t R = bias_group_rows(rows, cols)
    cdef Py_ssize_t g = u // ncb, c0 = (u % ncb) * BIAS_COLS
    cdef Py_ssize_t w = min(<Py_ssize_t>BIAS_COLS, cols - c0)
    cdef Py_ssize_t r0 = g * R, r1 = min(rows, g * R + R)
    cdef Py_ssize_t sr = max(<Py_ssize_t>1, BIAS_SUBTILE // w), rs, nr, j, off
    cdef double total[BIAS_COLS]
    cdef double comp[BIAS_COLS]
    if grad_bias != NULL:
        for j in range(w):
            total[j] = 0
            comp[j] = 0
    rs = r0
    while rs < r1:   # (a C loop: Cython compiles range() with a variable step as Python)
        nr = min(sr, r1 - rs)
        off = rs * cols + c0
        if not sums_only:
            elementwise_bias_tile(direction, op, in1 + off, in2 + off if in2 != NULL else NULL,
                                  bias + c0, out + off, nr, w, cols, a, b)
        if grad_bias != NULL:
            add_rows_to_sums(out + off, nr, w, cols, total, comp)
        rs += sr
    if grad_bias != NULL:
        if r1 - r0 == rows:   # one row group: its sums are the result
            for j in range(w):
                grad_bias[c0 + j] = <floating>(total[j] + comp[j])
        else:
            for j in range(w):
                partial[g * cols + c0 + j] = total[j] + comp[j]
    return BIAS_OK


cdef int bias_run_unit(int direction, int op, const floating* in1, const floating* in2,
                       const floating* bias, floating* out, double* partial, Py_ssize_t L,
                       Py_ssize_t inner, Py_ssize_t u, floating a, floating b,
                       bint sums_only) noexcept nogil:
    """Work unit u of the inner > 1 path: block u % nib of run u // nib = o*L + l, whose
    values share bias[l].  With partial: partial[u] = the block's gradient sum."""
    cdef Py_ssize_t nib = (inner + BIAS_RUN - 1) // BIAS_RUN
    cdef Py_ssize_t run = u // nib, i0 = (u % nib) * BIAS_RUN
    cdef Py_ssize_t n = min(<Py_ssize_t>BIAS_RUN, inner - i0)
    cdef Py_ssize_t start = run * inner + i0, full = n - n % BIAS_FILL, j
    cdef floating fill[BIAS_FILL]
    if not sums_only:
        for j in range(BIAS_FILL):
            fill[j] = bias[run % L]
        elementwise_bias_tile(direction, op, in1 + start, in2 + start if in2 != NULL else NULL,
                              fill, out + start, full // BIAS_FILL, BIAS_FILL, BIAS_FILL, a, b)
        elementwise_bias_tile(direction, op, in1 + start + full,
                              in2 + start + full if in2 != NULL else NULL, fill,
                              out + start + full, 1, n - full, n - full, a, b)
    if partial != NULL:
        partial[u] = dot_plain(out + start, <const floating*>NULL, n)
    return BIAS_OK


cdef int run_elementwise_bias(int direction, int op, const floating* in1, const floating* in2,
                              const floating* bias, floating* out, floating* grad_bias,
                              Py_ssize_t outer, Py_ssize_t L, Py_ssize_t inner, double a,
                              double b, int nthreads) noexcept nogil:
    """f(x + bias) (direction FORWARD: in1 = x) or grad * f'(x + bias) (BACKWARD: in1 =
    grad, in2 = x) over an (outer, L, inner) C-contiguous array with bias[L] along L, on
    at most `nthreads` threads; the backward also writes grad_bias[L] unless it is NULL.
    direction BACKWARD_FROM_OUTPUT: `out` already holds the gradient and only grad_bias
    is written.  Returns a BiasStatus; nothing is written unless it is BIAS_OK.

    `out` may be in1 or in2 (in place); bias and grad_bias overlap nothing else.
    """
    cdef Py_ssize_t total = outer * L * inner
    cdef bint sums_only = direction == BACKWARD_FROM_OUTPUT
    cdef int tile_direction = BACKWARD if sums_only else direction
    cdef bint threaded
    cdef Py_ssize_t u, nunits, ngroups, c, g, o, j, nib
    cdef double* partial = NULL
    cdef double* tcomp
    cdef const double* group
    cdef double acc, accomp
    if not elementwise_bias_tile(tile_direction, op, in1, in2, bias, out, 0, 0, 0,
                                 <floating>a, <floating>b):
        return BIAS_UNKNOWN_OP
    if direction == FORWARD:
        grad_bias = NULL
    if total == 0:
        if grad_bias != NULL:
            for c in range(L):
                grad_bias[c] = 0
        return BIAS_OK
    threaded = nthreads > 1 and total >= elementwise_parallel_min(op)
    if inner == 1:
        ngroups = (outer + bias_group_rows(outer, L) - 1) // bias_group_rows(outer, L)
        nunits = ngroups * ((L + BIAS_COLS - 1) // BIAS_COLS)
        if grad_bias != NULL and ngroups > 1:
            # one row of partials per row group (each unit writes its columns of its
            # group's row), and one more for the compensation of their sum
            partial = <double*>malloc((ngroups + 1) * L * sizeof(double))
            if partial == NULL:
                return BIAS_NO_MEMORY
            for c in range(L):
                partial[ngroups * L + c] = 0
        if threaded:
            for u in prange(nunits, schedule='static', num_threads=nthreads):
                bias_matrix_unit(tile_direction, op, in1, in2, bias, out, grad_bias, partial,
                                 outer, L, u, <floating>a, <floating>b, sums_only)
        else:
            for u in range(nunits):
                bias_matrix_unit(tile_direction, op, in1, in2, bias, out, grad_bias, partial,
                                 outer, L, u, <floating>a, <floating>b, sums_only)
        if partial != NULL:
            tcomp = partial + ngroups * L
            for g in range(1, ngroups):
                group = partial + g * L
                for c in range(L):
                    acc_add(&partial[c], &tcomp[c], group[c])
            for c in range(L):
                grad_bias[c] = <floating>(partial[c] + tcomp[c])
            free(partial)
        return BIAS_OK
    nib = (inner + BIAS_RUN - 1) // BIAS_RUN
    nunits = outer * L * nib
    if grad_bias != NULL:
        partial = <double*>malloc(nunits * sizeof(double))
        if partial == NULL:
            return BIAS_NO_MEMORY
    if threaded:
        for u in prange(nunits, schedule='static', num_threads=nthreads):
            bias_run_unit(tile_direction, op, in1, in2, bias, out, partial, L, inner, u,
                          <floating>a, <floating>b, sums_only)
    else:
        for u in range(nunits):
            bias_run_unit(tile_direction, op, in1, in2, bias, out, partial, L, inner, u,
                          <floating>a, <floating>b, sums_only)
    if partial != NULL:
        for c in range(L):
            acc = 0
            accomp = 0
            for o in range(outer):
                for j in range(nib):
                    acc_add(&acc, &accomp, partial[(o * L + c) * nib + j])
            grad_bias[c] = <floating>(acc + accomp)
        free(partial)
    return BIAS_OK


# ---------------------------------------------------------------- entry points

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
    cdef PyThreadState* gil = release_gil_for(total)
    if typenum == cnp.NPY_FLOAT:
        status = run_elementwise_bias(direction, op, <const float*>p1, <const float*>p2,
                                      <const float*>pb, <float*>po, <float*>pgb, outer,
                                      length, inner, a, b, call_num_threads(total))
    else:
        status = run_elementwise_bias(direction, op, <const double*>p1, <const double*>p2,
                                      <const double*>pb, <double*>po, <double*>pgb, outer,
                                      length, inner, a, b, call_num_threads(total))
    retake_gil(gil)
    if status == BIAS_NO_MEMORY:
        raise MemoryError("cannot allocate the bias-gradient partial sums")
    if status != BIAS_OK:
        raise ValueError(f"no elementwise kernel for op {op} in direction {direction}")
    return out
