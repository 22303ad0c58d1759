# Gated activations (glu, swiglu, geglu): x split in halves a, b along an axis.
# Included by _kernels.pyx; the per-op loops are generated in _elementwise.pxi.
#
# x is viewed as (outer, 2H, inner) and the output as (outer, H, inner).  Each is a
# set of runs of contiguous values: inner == 1 (the last axis): one run of H values
# per outer index, a = x[o, :H], b = x[o, H:]; inner > 1: one run of `inner` values
# per (o, l < H), a = x[o, l, :], b = x[o, l + H, :].  One fused pass: the forward
# reads x once and writes the half-size output once; the backward reads x and grad
# once and writes the full-size gradient once.  Runs longer than GATE_BLOCK are cut
# into blocks so that a single long row is shared by the threads too.

cdef enum:
    GATE_BLOCK = 16384
    # A call whose x is at least GATE_PREFETCH_MIN_BYTES (half of this host's 32 MiB
    # last-level cache, which the output shares) streams from memory: each unit then
    # prefetches up to GATE_PREFETCH_RUN_BYTES of each of the next unit's runs.  A row
    # of 1024 float32 is one 4 KiB page, and the hardware's streams stop at a page
    # (docs/performance-notes.md, "Gated rows out of cache: the next row prefetched").
    # In cache the prefetches only cost: smaller calls take none.
    GATE_PREFETCH_MIN_BYTES = 1 << 24
    GATE_PREFETCH_RUN_BYTES = 4096


cdef bint run_gated(int direction, int op, const floating* x, const floating* g,
                    floating* out, Py_ssize_t outer, Py_ssize_t half, Py_ssize_t inner,
                    int nthreads) noexcept nogil:
    cdef Py_ssize_t nruns, run_len, nblk, nunits, u, r, j, start, len_
    cdef Py_ssize_t a_off, h_off, b_gap, total = outer * half * inner
    cdef Py_ssize_t pf = 0   # at most this many bytes of each of the next unit's runs prefetched
    if not gated_chunk(direction, op, x, x, g, out, out, 0):
        return False
    if inner == 1:
        nruns, run_len, b_gap = outer, half, half
    else:
        nruns, run_len, b_gap = outer * half, inner, half * inner
    nblk = (run_len + GATE_BLOCK - 1) // GATE_BLOCK
    nunits = nruns * nblk
    if 2 * total * <Py_ssize_t>sizeof(floating) >= GATE_PREFETCH_MIN_BYTES:
        pf = GATE_PREFETCH_RUN_BYTES
    if nthreads > 1 and total >= PARALLEL_MIN_ELEMENTS:
        for u in prange(nunits, schedule='static', num_threads=nthreads):
            gated_unit(direction, op, x, g, out, u, nunits, nblk, run_len, half, inner, b_gap, pf)
    elif pf == 0 and inner == 1 and nblk == 1 and nruns > 1 and run_len % FAST_BLOCK == 0:
        # in cache only: out of it (2**24) it read 1.14-1.29x old in one process, not
        # told apart from the load there (docs/performance-notes.md "The predicate pass
        # of every row, carried")
        gated_rows(direction, op, x, g, out, nruns, half)
    else:
        for u in range(nunits):
            gated_unit(direction, op, x, g, out, u, nunits, nblk, run_len, half, inner, b_gap, pf)
    return True


cdef inline void unit_place(Py_ssize_t u, Py_ssize_t nblk, Py_ssize_t run_len, Py_ssize_t half,
                            Py_ssize_t inner, Py_ssize_t* a_off, Py_ssize_t* h_off,
                            Py_ssize_t* len_) noexcept nogil:
    """Where block u % nblk of run u // nblk starts in x (its a) and in the half-size
    array, and its length."""
    cdef Py_ssize_t r = u // nblk
    cdef Py_ssize_t start = (u % nblk) * GATE_BLOCK
    len_[0] = min(<Py_ssize_t>GATE_BLOCK, run_len - start)
    if inner == 1:
        a_off[0] = r * 2 * half + start          # x[o, start:]
        h_off[0] = r * half + start              # half-size array [o, start:]
    else:
        a_off[0] = ((r // half) * 2 * half + r % half) * inner + start   # x[o, l, start:]
        h_off[0] = r * inner + start


cdef inline void gated_unit(int direction, int op, const floating* x, const floating* g,
                            floating* out, Py_ssize_t u, Py_ssize_t nunits, Py_ssize_t nblk,
                            Py_ssize_t run_len, Py_ssize_t half, Py_ssize_t inner,
                            Py_ssize_t b_gap, Py_ssize_t pf) noexcept nogil:
    """Block u % nblk of run u // nblk, after prefetching up to pf bytes of each of
    unit u + 1's runs (a prefetch reads nothing: the same bits either way)."""
    cdef Py_ssize_t a_off, h_off, len_
    if pf and u + 1 < nunits:
        unit_place(u + 1, nblk, run_len, half, inner, &a_off, &h_off, &len_)
        pf = min(pf, len_ * <Py_ssize_t>sizeof(floating))
        act_prefetch_lines(x + a_off, pf)
        act_prefetch_lines(x + a_off + b_gap, pf)
        if direction != FORWARD:
            act_prefetch_lines(g + h_off, pf)
    unit_place(u, nblk, run_len, half, inner, &a_off, &h_off, &len_)
    if direction == FORWARD:
        gated_chunk(direction, op, x + a_off, x + a_off + b_gap, NULL, out + h_off, NULL, len_)
    else:
        gated_chunk(direction, op, x + a_off, x + a_off + b_gap, g + h_off,
                    out + a_off, out + a_off + b_gap, len_)


cdef void gated_rows(int direction, int op, const floating* x, const floating* g,
                     floating* out, Py_ssize_t nrows, Py_ssize_t half) noexcept nogil:
    """gated_unit's loop (one thread, the last axis, rows of a whole number of blocks up
    to GATE_BLOCK, a call below GATE_PREFETCH_MIN_BYTES) by gated_rows_chunk: each
    row's last block looks ahead into the next row's first (the predicate pass each
    row's first block took was 14-16% of rows of 1024; docs/performance-notes.md "The
    predicate pass of every row, carried")."""
    cdef Py_ssize_t r
    cdef floating carry = -1
    for r in range(nrows):
        if direction == FORWARD:
            gated_rows_chunk(direction, op, x + r * 2 * half, x + r * 2 * half + half, NULL,
                             out + r * half, NULL, half, r + 1 < nrows, &carry)
        else:
            gated_rows_chunk(direction, op, x + r * 2 * half, x + r * 2 * half + half,
                             g + r * half, out + r * 2 * half, out + r * 2 * half + half, half,
                             r + 1 < nrows, &carry)


# ---------------------------------------------------------------- entry points

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
    cdef Py_ssize_t n = outer * 2 * half * inner
    cdef PyThreadState* gil = release_gil_for(n)
    if typenum == cnp.NPY_FLOAT:
        ok = run_gated(direction, op, <const float*>px, <const float*>pg, <float*>po,
                       outer, half, inner, call_num_threads(n))
    else:
        ok = run_gated(direction, op, <const double*>px, <const double*>pg, <double*>po,
                       outer, half, inner, call_num_threads(n))
    retake_gil(gil)
    if not ok:
        raise ValueError(f"no gated kernel for op {op} in direction {direction}")
    return out


def gated_plain(int direction, int op, object x, object grad, object out, object axis):
    """The gated kernel's fast path: plain x (and grad of x's shape halved along axis),
    an in-range int axis with an even length, out None or a plain writeable array of
    the result's shape that shares no memory with x or grad (the backward's out may be
    x itself).  NotImplemented otherwise (the Python layer then validates)."""
    cdef int typenum
    cdef Py_ssize_t outer = 1, length = 1, inner = 1, ax, k
    cdef cnp.npy_intp dims[MAX_RANK]
    typenum = plain_float_typenum(x)
    if typenum < 0 or cnp.PyArray_NDIM(<cnp.ndarray>x) > MAX_RANK:
        return NotImplemented
    cdef cnp.ndarray xa = <cnp.ndarray>x
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
