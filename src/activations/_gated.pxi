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


cdef bint run_gated(int direction, int op, const floating* x, const floating* g,
                    floating* out, Py_ssize_t outer, Py_ssize_t half, Py_ssize_t inner,
                    int nthreads) noexcept nogil:
    cdef Py_ssize_t nruns, run_len, nblk, nunits, u, r, j, start, len_
    cdef Py_ssize_t a_off, h_off, b_gap, total = outer * half * inner
    if not gated_chunk(direction, op, x, x, g, out, out, 0):
        return False
    if inner == 1:
        nruns, run_len, b_gap = outer, half, half
    else:
        nruns, run_len, b_gap = outer * half, inner, half * inner
    nblk = (run_len + GATE_BLOCK - 1) // GATE_BLOCK
    nunits = nruns * nblk
    if nthreads > 1 and total >= PARALLEL_MIN_ELEMENTS:
        for u in prange(nunits, schedule='static', num_threads=nthreads):
            gated_unit(direction, op, x, g, out, u, nblk, run_len, half, inner, b_gap)
    else:
        for u in range(nunits):
            gated_unit(direction, op, x, g, out, u, nblk, run_len, half, inner, b_gap)
    return True


cdef inline void gated_unit(int direction, int op, const floating* x, const floating* g,
                            floating* out, Py_ssize_t u, Py_ssize_t nblk, Py_ssize_t run_len,
                            Py_ssize_t half, Py_ssize_t inner, Py_ssize_t b_gap) noexcept nogil:
    """Block u % nblk of run u // nblk."""
    cdef Py_ssize_t r = u // nblk
    cdef Py_ssize_t start = (u % nblk) * GATE_BLOCK
    cdef Py_ssize_t len_ = min(<Py_ssize_t>GATE_BLOCK, run_len - start)
    cdef Py_ssize_t a_off, h_off
    if inner == 1:
        a_off = r * 2 * half + start          # x[o, start:]
        h_off = r * half + start              # half-size array [o, start:]
    else:
        a_off = ((r // half) * 2 * half + r % half) * inner + start   # x[o, l, start:]
        h_off = r * inner + start
    if direction == FORWARD:
        gated_chunk(direction, op, x + a_off, x + a_off + b_gap, NULL, out + h_off, NULL, len_)
    else:
        gated_chunk(direction, op, x + a_off, x + a_off + b_gap, g + h_off,
                    out + a_off, out + a_off + b_gap, len_)
