# The fused softmax family: softmax(scale * x + mask) along the last axis of a
# (rows, L) array, with a float (additive) or bool (keep where true) mask that
# broadcasts to x without being expanded.  Included by _kernels.pyx after
# _softmax.pxi, whose row kernel (softmax_row) it reuses unchanged.
#
# Design:
#  1. One pass writes the logits z = (flip * scale) * x + mask of a row (rounded in the
#     dtype, as the unfused expression is; flip = -1 for softmin, an exact negation)
#     into `out` (forward) or a per-thread scratch row (backward), counting the
#     entries that are -inf; then softmax_row runs on z as on any row.  The row is in
#     L1 by then, so the extra pass costs a fraction of the exp pass.
#  2. Mask rows: row r's mask starts at mask + mask_row_offset[r] (NULL: r * L, a full
#     (rows, L) mask) and steps by mask_step (1, or 0 for a mask broadcast along the
#     row), so a (rows, 1) padding mask, a (L,) causal row and a full matrix are read
#     in place.
#  3. A row whose every logit is -inf (all of it masked out) gives probability 0,
#     log-probability -inf and a zero gradient, instead of NaN.  An entry whose logit is
#     -inf is a constant of the masked expression: log_softmax's backward leaves its
#     upstream gradient out of the row sum (from y: where the log-probability is -inf)
#     and it gets gradient 0, as in softmax, where its probability is 0.
#  4. The gradient is that of z times flip * scale (one more rounding).
#  5. Rows are independent, each computed by the same code: results do not depend on
#     the thread count.

from cython.parallel cimport threadid


cdef inline bint mode_is_log(int mode) noexcept nogil:
    return mode == LOG_SOFTMAX_FORWARD or mode == LOG_SOFTMAX_BACKWARD_X or \
        mode == LOG_SOFTMAX_BACKWARD_Y


cdef Py_ssize_t masked_logits(const floating* x, floating* z, Py_ssize_t n, floating signed_scale,
                              const floating* fmask, const unsigned char* bmask,
                              Py_ssize_t mask_step) noexcept nogil:
    """z = signed_scale * x + mask over one row; returns how many z are -inf."""
    cdef Py_ssize_t j, excluded = 0
    cdef floating ninf = -vinf(signed_scale), zj, m0
    if fmask != NULL and mask_step == 1:
        for j in range(n):
            zj = signed_scale * x[j] + fmask[j]
            z[j] = zj
            excluded += zj == ninf
    elif fmask != NULL:
        m0 = fmask[0]
        for j in range(n):
            zj = signed_scale * x[j] + m0
            z[j] = zj
            excluded += zj == ninf
    elif bmask != NULL and mask_step == 1:
        for j in range(n):
            zj = signed_scale * x[j] if bmask[j] != 0 else ninf
            z[j] = zj
            excluded += zj == ninf
    elif bmask != NULL and bmask[0] == 0:
        for j in range(n):
            z[j] = ninf
        excluded = n
    else:
        for j in range(n):
            zj = signed_scale * x[j]
            z[j] = zj
            excluded += zj == ninf
    return excluded


cdef void masked_softmax_row(int mode, const floating* in1, const floating* in2, floating* out,
                             floating* scratch, Py_ssize_t L, floating signed_scale,
                             const floating* fmask, const unsigned char* bmask,
                             Py_ssize_t mask_step, int nthreads) noexcept nogil:
    """One row: forward in1 = x; backward in1 = grad, in2 = x or y, scratch 2 * L values."""
    cdef Py_ssize_t j, excluded
    cdef floating zero = 0, ninf = -vinf(signed_scale), one = 1
    cdef const floating* z
    cdef const floating* g = in1
    cdef floating* gbuf
    if L == 0:
        return
    if mode == SOFTMAX_FORWARD or mode == LOG_SOFTMAX_FORWARD:
        excluded = masked_logits(in1, out, L, signed_scale, fmask, bmask, mask_step)
        if excluded == L:
            for j in range(L):
                out[j] = ninf if mode == LOG_SOFTMAX_FORWARD else zero
        else:
            softmax_row(mode, out, NULL, out, L, one, nthreads)
        return
    if mode == SOFTMAX_BACKWARD_X or mode == LOG_SOFTMAX_BACKWARD_X:
        excluded = masked_logits(in2, scratch, L, signed_scale, fmask, bmask, mask_step)
        if excluded == L:
            for j in range(L):
                out[j] = zero
            return
        z = scratch
    else:
        z = in2    # y: -inf (log_softmax) exactly where the logit was -inf
    if mode_is_log(mode):
        # the sum of the gradient runs over the entries the mask keeps (an excluded
        # log-probability is the constant -inf); softmax's excluded y are 0 already
        gbuf = scratch + L
        for j in range(L):
            gbuf[j] = zero if z[j] == ninf else in1[j]
        g = gbuf
    softmax_row(mode, g, z, out, L, one, nthreads)
    if signed_scale != one:
        for j in range(L):
            out[j] = signed_scale * out[j]


cdef bint run_softmax_masked(int mode, const floating* in1, const floating* in2, floating* out,
                             Py_ssize_t rows, Py_ssize_t L, floating scale, floating flip,
                             const floating* fmask, const unsigned char* bmask,
                             const int64_t* mask_row_offset, Py_ssize_t mask_step,
                             int nthreads) noexcept nogil:
    """softmax-family `mode` of z = flip * scale * x + mask along the last axis of a
    C-contiguous (rows, L) array, on at most `nthreads` threads.  fmask (float, added)
    or bmask (bool as bytes, keep where non-zero) or neither; see Design 2 for
    mask_row_offset and mask_step.  False (nothing written) if scratch memory ran out.

    `out` may be in1 or in2 (in place)."""
    cdef Py_ssize_t r, moff
    cdef int nt = nthreads if (nthreads > 1 and rows * L >= PARALLEL_MIN_ELEMENTS) else 1
    cdef floating signed_scale = flip * scale
    cdef floating* scratch = NULL
    cdef bint needs_scratch = not (mode == SOFTMAX_FORWARD or mode == LOG_SOFTMAX_FORWARD)
    if rows * L == 0:
        return True
    if needs_scratch:
        scratch = <floating*>malloc(max(nt, 1) * 2 * L * sizeof(floating))
        if scratch == NULL:
            return False
    if nt > 1 and rows >= nt:
        for r in prange(rows, schedule='static', num_threads=nt):
            moff = mask_row_offset[r] if mask_row_offset != NULL else r * L
            masked_softmax_row(mode, in1 + r * L, in2 + r * L if in2 != NULL else NULL,
                               out + r * L, scratch + threadid() * 2 * L if needs_scratch else NULL,
                               L, signed_scale, fmask + moff if fmask != NULL else NULL,
                               bmask + moff if bmask != NULL else NULL, mask_step, 1)
    else:   # one thread, or few long rows: threads inside each row
        for r in range(rows):
            moff = mask_row_offset[r] if mask_row_offset != NULL else r * L
            masked_softmax_row(mode, in1 + r * L, in2 + r * L if in2 != NULL else NULL,
                               out + r * L, scratch, L, signed_scale,
                               fmask + moff if fmask != NULL else NULL,
                               bmask + moff if bmask != NULL else NULL, mask_step, nt)
    free(scratch)
    return True


# ---------------------------------------------------------------- entry points

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
    cdef PyThreadState* gil = release_gil_for(rows * length)
    if typenum == cnp.NPY_FLOAT:
        ok = run_softmax_masked(mode, <const float*>p1, <const float*>p2, <float*>po, rows,
                                length, <float>scale, <float>flip, <const float*>pm, pbm,
                                poff, mask_step, call_num_threads(rows * length))
    else:
        ok = run_softmax_masked(mode, <const double*>p1, <const double*>p2, <double*>po,
                                rows, length, scale, flip, <const double*>pm, pbm, poff,
                                mask_step, call_num_threads(rows * length))
    retake_gil(gil)
    if not ok:
        raise MemoryError("softmax: cannot allocate a scratch row")
    return out
