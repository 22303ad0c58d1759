# PReLU forward and backward (with the weight gradient).  Included by _kernels.pyx.
#
# Design:
#  1. x is viewed as (outer, C, inner), C = len(weight) along `axis` (C = 1, inner =
#     x.size for a single shared weight).  inner == 1 (channels last): rows of C
#     values, vectorized over the channels with w[c] loaded per element; inner > 1:
#     runs of `inner` values sharing one slope.
#  2. grad_weight[c] sums x*g over the x <= 0 entries of channel c, in double.  The
#     sum is split into fixed work units that depend on the shape only (inner > 1: a
#     run of at most PRELU_BLOCK values of one (outer, channel) row; inner == 1: at
#     most PRELU_BLOCK // C consecutive rows), each unit's partial sum computed in a
#     fixed order, and the partials combined in unit order: the threads decide who
#     computes a unit, never the order of the additions, so grad_weight is
#     bit-identical for any thread count.
#  3. PyTorch's conventions: y = x if x > 0 else w*x; dy/dx = 1 if x > 0 else w (so
#     w at 0); dy/dw = 0 if x > 0 else x.  NaN x gives NaN in y, grad_x and the
#     grad_weight of its channel.

cdef enum:
    PRELU_BLOCK = 16384   # elements per work unit (fixed: see Design 2)


cdef inline floating prelu_value(floating x, floating w) noexcept nogil:
    return x if x > 0 else slope_times(x, w)


cdef inline floating prelu_grad_x(floating g, floating x, floating w) noexcept nogil:
    return nan_if_nan(x, g if x > 0 else w * g)


cdef inline double prelu_grad_w_term(floating g, floating x) noexcept nogil:
    # float64: x g by vmul_once, the product's one rounding without a multiply that
    # rounds into the subnormal range (a subnormal x: 1.45x the time on Zen 5); float32's
    # double product is exact
    if floating is float:
        return 0.0 if x > 0 else <double>x * <double>g
    return 0.0 if x > 0 else vmul_once(x, g)


# Tiny inputs (as the elementwise "tiny blocks", _formulas.pxd): where every x of a block
# (a row of channels, or FAST_BLOCK values of a run) is subnormal or +-0, the products
# w * x (and, float64, x * g of grad_weight) are formed by vtiny_mul_by, bit for bit the
# multiplication's result without its microcode assists (Intel: 15-20x the time).  The
# slope must be a plain_factor (a zero slope keeps the exact formula: its signed zero),
# the grad for grad_weight's terms zero or plain; only while subnormal_detours is on
# (the import-time probe of _kernels.pyx).  float32's terms are exact double products
# of float32 values: no subnormal arithmetic, nothing to do.  Where every slope is in
# [+0, 1] (sign bit clear: prelu_slopes_form), the forward's tiny blocks run
# tiny_forward_slope instead (_formulas.pxd: the same bits, a zero slope's signed zeros
# included, in a third of the operations) and take every slope of that range.

cdef inline bint prelu_tiny(floating x, floating w) noexcept nogil:
    return is_tiny(x) & plain_factor(w)


cdef inline floating prelu_value_tiny(floating x, floating w) noexcept nogil:
    return x if x > 0 else vtiny_mul_by(w, x)


cdef inline bint prelu_slopes_form(const floating* w, Py_ssize_t C) noexcept nogil:
    """Whether every w[c] (c < C) is a slope of tiny_forward_slope (0 <= w <= 1, sign bit
    clear): then prelu_value_tiny(x, w) is tiny_forward_slope(x, w) for every tiny x
    (+0 gives w * +0 = +0 = x), whatever the slope's size (no plain_factor needed)."""
    cdef Py_ssize_t c
    cdef bint ok = True
    for c in range(C):
        ok = ok & tiny_slope_form_ok(w[c])
    return ok


cdef inline bint prelu_term_tiny_ok(floating g, floating x) noexcept nogil:
    if floating is float:
        return False
    return is_tiny(x) & gate_grad_plain(g)


cdef inline double prelu_grad_w_term_tiny(floating g, floating x) noexcept nogil:
    return 0.0 if x > 0 else <double>vtiny_mul_by(g, x)


cdef inline bint prelu_all_tiny(const floating* x, Py_ssize_t n, floating w) noexcept nogil:
    """Whether every x[i] (i < n) is tiny for slope w (a vectorized pass)."""
    cdef floating big = 0, one = 1
    cdef Py_ssize_t i
    for i in range(n):
        big = big if prelu_tiny(x[i], w) else one
    return big == 0


cdef inline bint prelu_xs_tiny(const floating* x, Py_ssize_t n) noexcept nogil:
    """Whether every x[i] (i < n) is tiny (a vectorized pass)."""
    cdef floating big = 0, one = 1
    cdef Py_ssize_t i
    for i in range(n):
        big = big if is_tiny(x[i]) else one
    return big == 0


cdef inline bint prelu_terms_tiny(const floating* g, const floating* x, Py_ssize_t n) noexcept nogil:
    """Whether every grad_weight term of the n values takes prelu_grad_w_term_tiny."""
    cdef floating big = 0, one = 1
    cdef Py_ssize_t i
    for i in range(n):
        big = big if prelu_term_tiny_ok(g[i], x[i]) else one
    return big == 0


cdef double prelu_run(bint backward, const floating* g, const floating* x, floating* out,
                      Py_ssize_t n, floating w) noexcept nogil:
    """One run sharing slope w: forward (g unused) or backward; returns the run's
    grad_weight partial (fixed LANES split) when backward."""
    cdef double acc[LANES]
    cdef double total = 0
    cdef Py_ssize_t i, k, n8 = n - n % LANES, start = 0, stop
    cdef bint slope = tiny_slope_form_ok(w)
    if not backward:
        # blocks of tiny inputs by prelu_value_tiny (tiny_forward_slope where w allows);
        # the exact loop runs on from a block that is not up to the next block whose
        # first input is tiny
        while start < n:
            stop = min(n, start + FAST_BLOCK)
            if subnormal_detours and (stop - start == FAST_BLOCK) and is_tiny(x[start]) and (prelu_xs_tiny(x + start, FAST_BLOCK) if slope else (plain_factor(w) and prelu_all_tiny(x + start, FAST_BLOCK, w))):
                if slope:
                    for i in range(start, stop):
                        out[i] = tiny_forward_slope(x[i], w)
                else:
                    for i in range(start, stop):
                        out[i] = prelu_value_tiny(x[i], w)
            else:
                while stop < n and not (subnormal_detours and (is_tiny(x[stop]) if slope else prelu_tiny(x[stop], w))):
                    stop = min(n, stop + FAST_BLOCK)
                for i in range(start, stop):
                    out[i] = prelu_value(x[i], w)
            start = stop
        return 0.0
    for k in range(LANES):
        acc[k] = 0
    if subnormal_detours and n > 0 and prelu_term_tiny_ok(g[0], x[0]) and prelu_terms_tiny(g, x, n):
        for i in range(0, n8, 8):
            for k in range(LANES):
                acc[k] += prelu_grad_w_term_tiny(g[i + k], x[i + k])
        for i in range(n8, n):
            acc[0] += prelu_grad_w_term_tiny(g[i], x[i])
    else:
        for i in range(0, n8, 8):
            for k in range(LANES):
                acc[k] += prelu_grad_w_term(g[i + k], x[i + k])
        for i in range(n8, n):
            acc[0] += prelu_grad_w_term(g[i], x[i])
    for i in range(n):
        out[i] = prelu_grad_x(g[i], x[i], w)
    for k in range(LANES):
        total += acc[k]
    return total


cdef inline bint prelu_row_tiny(const floating* x, const floating* w, Py_ssize_t C) noexcept nogil:
    """Whether every x[c] of a row is tiny for its slope w[c]."""
    cdef floating big = 0, one = 1
    cdef Py_ssize_t c
    for c in range(C):
        big = big if prelu_tiny(x[c], w[c]) else one
    return big == 0


cdef void prelu_rows_channels_last(bint backward, const floating* g, const floating* x,
                                   const floating* w, floating* out, double* partial,
                                   Py_ssize_t u, Py_ssize_t rows_per_unit, Py_ssize_t rows,
                                   Py_ssize_t C) noexcept nogil:
    """Work unit u (rows_per_unit rows) of a (rows, C) array; backward adds the unit's
    sums into partial[u*C : (u+1)*C]."""
    cdef Py_ssize_t r, c
    cdef Py_ssize_t r0 = u * rows_per_unit
    cdef const floating* xr
    cdef const floating* gr
    cdef floating* orow
    cdef bint slope = (not backward) and prelu_slopes_form(w, C)
    if backward:
        partial = partial + u * C
    for r in range(r0, min(rows, r0 + rows_per_unit)):
        xr = x + r * C
        orow = out + r * C
        if not backward:
            # an ordinary row pays for one scalar look at its first input, as without
            # the slope form
            if subnormal_detours and C > 0 and is_tiny(xr[0]) and (prelu_xs_tiny(xr, C) if slope else (plain_factor(w[0]) and prelu_row_tiny(xr, w, C))):
                if slope:
                    for c in range(C):
                        orow[c] = tiny_forward_slope(xr[c], w[c])
                else:
                    for c in range(C):
                        orow[c] = prelu_value_tiny(xr[c], w[c])
            else:
                for c in range(C):
                    orow[c] = prelu_value(xr[c], w[c])
        else:
            gr = g + r * C
            if subnormal_detours and C > 0 and prelu_term_tiny_ok(gr[0], xr[0]) and prelu_terms_tiny(gr, xr, C):
                for c in range(C):
                    partial[c] += prelu_grad_w_term_tiny(gr[c], xr[c])
            else:
                for c in range(C):
                    partial[c] += prelu_grad_w_term(gr[c], xr[c])
            for c in range(C):
                orow[c] = prelu_grad_x(gr[c], xr[c], w[c])


cdef inline void prelu_runs_unit(bint backward, const floating* g, const floating* x,
                                 const floating* w, floating* out, double* partial,
                                 Py_ssize_t u, Py_ssize_t nblk, Py_ssize_t inner,
                                 Py_ssize_t C) noexcept nogil:
    """Work unit u of an inner > 1 array: block u % nblk of row u // nblk (row = o*C +
    c); backward stores the unit's sum in partial[u]."""
    cdef Py_ssize_t r = u // nblk
    cdef Py_ssize_t start = r * inner + (u % nblk) * PRELU_BLOCK
    cdef Py_ssize_t len_ = min(<Py_ssize_t>PRELU_BLOCK, inner - (u % nblk) * PRELU_BLOCK)
    cdef double acc = prelu_run(backward, g + start if backward else NULL, x + start,
                                out + start, len_, w[r % C])
    if backward:
        partial[u] = acc


cdef bint run_prelu(bint backward, const floating* g, const floating* x, const floating* w,
                    floating* out, floating* grad_w, Py_ssize_t outer, Py_ssize_t C,
                    Py_ssize_t inner, int nthreads) noexcept nogil:
    """PReLU over an (outer, C, inner) array on at most `nthreads` threads; False if
    scratch memory ran out."""
    cdef Py_ssize_t total = outer * C * inner
    cdef bint threaded = nthreads > 1 and total >= PARALLEL_MIN_MEMORY_BOUND
    cdef Py_ssize_t nblk, nunits, u, j, c, o, rows_per_unit
    cdef double* partial = NULL
    cdef double acc
    if inner == 1:
        rows_per_unit = max(<Py_ssize_t>1, PRELU_BLOCK // max(C, <Py_ssize_t>1))
        nunits = (outer + rows_per_unit - 1) // rows_per_unit
        if backward:
            partial = <double*>calloc(max(nunits * C, <Py_ssize_t>1), sizeof(double))
            if partial == NULL:
                return False
        if threaded:
            for u in prange(nunits, schedule='static', num_threads=nthreads):
                prelu_rows_channels_last(backward, g, x, w, out, partial, u, rows_per_unit,
                                         outer, C)
        else:
            for u in range(nunits):
                prelu_rows_channels_last(backward, g, x, w, out, partial, u, rows_per_unit,
                                         outer, C)
        if backward:
            for c in range(C):
                acc = 0
                for u in range(nunits):
                    acc += partial[u * C + c]
                grad_w[c] = <floating>acc
            free(partial)
        return True
    # inner > 1: units are (row, block) with row = o*C + c
    nblk = (inner + PRELU_BLOCK - 1) // PRELU_BLOCK
    nunits = outer * C * nblk
    if backward:
        partial = <double*>calloc(max(nunits, <Py_ssize_t>1), sizeof(double))
        if partial == NULL:
            return False
    if threaded:
        for u in prange(nunits, schedule='static', num_threads=nthreads):
            prelu_runs_unit(backward, g, x, w, out, partial, u, nblk, inner, C)
    else:
        for u in range(nunits):
            prelu_runs_unit(backward, g, x, w, out, partial, u, nblk, inner, C)
    if backward:
        for c in range(C):
            acc = 0
            for o in range(outer):
                for j in range(nblk):
                    acc += partial[(o * C + c) * nblk + j]
            grad_w[c] = <floating>acc
        free(partial)
    return True


# ---------------------------------------------------------------- entry points

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
    cdef Py_ssize_t n = outer * channels * inner
    cdef PyThreadState* gil = release_gil_for(n)
    if typenum == cnp.NPY_FLOAT:
        ok = run_prelu(backward, <const float*>pg, <const float*>px, <const float*>pw,
                       <float*>po, <float*>pgw, outer, channels, inner, call_num_threads(n))
    else:
        ok = run_prelu(backward, <const double*>pg, <const double*>px, <const double*>pw,
                       <double*>po, <double*>pgw, outer, channels, inner, call_num_threads(n))
    retake_gil(gil)
    if not ok:
        raise MemoryError("prelu_backward: cannot allocate the weight-gradient partial sums")
    return out


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
    typenum = plain_float_typenum(x)
    if typenum < 0 or cnp.PyArray_NDIM(<cnp.ndarray>x) == 0 or not is_plain(weight, typenum) \
            or cnp.PyArray_NDIM(<cnp.ndarray>weight) != 1:
        return NotImplemented
    cdef cnp.ndarray xa = <cnp.ndarray>x
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
