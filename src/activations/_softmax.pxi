# Softmax family: softmax, log_softmax, and softmin (softmax with flip = -1), forward
# and backward, along any axis.  Included by _kernels.pyx.
#
# Design:
#  1. The array is viewed as (outer, L, inner) with L the softmax axis.  inner == 1
#     (the last axis, or trailing size-1 axes) takes the row path: contiguous rows.
#     inner > 1 takes the column path: L rows of `inner` contiguous values, where the
#     per-row statistics become per-column vectors, computed across a tile of
#     columns at once (vectorized over the tile, no transposed copy).
#  2. Determinism: every reduction is split into fixed blocks (ROW_BLOCK elements of
#     a row; inside a block, the lanes of the compiled level's vectors, or 8 fixed
#     lanes), combined in block order.  The split
#     depends on the shape only, so the threads only decide who computes a block,
#     never the order of the additions: results are bit-identical for any thread
#     count.  Columns are reduced sequentially over L.
#  3. Accuracy: the row maximum m is subtracted with its exact rounding error
#     (two_sum) folded into the exp (vexp_hilo; on the row path _softmax_math.h's
#     exp, which keeps e scaled by 2**64 so that out = e / sum rounds once, subnormal
#     outputs included), sums accumulate in double (float32 data) or in compensated
#     double (float64 data: each lane carries the exact rounding errors of its
#     additions, two_sum, added back at the end), and the sum is kept as (count of
#     e == 1) + (sum of e < 1), so log(sum) = log1p(...) stays accurate when one
#     probability is close to 1 (float32 rows sum whole first, and split only where
#     log(sum) is too small for the whole sum: _softmax_math.h, Design 3).
#  4. Edge cases (as PyTorch): a row of all -inf gives NaN (m = -inf, -inf - m =
#     NaN); NaN or +inf anywhere makes the row NaN (the sum is NaN); -inf entries get
#     probability 0, log-probability -inf and (softmax) a zero gradient.
#  5. Passes over a row: forward softmax reads x twice (max; exp stored to out and
#     summed in the same loop) and divides out; log_softmax reads x three times (max;
#     exp summed, never stored; x - m - log(sum)) but writes once.

from libc.math cimport log1p as libm_log1p
from libc.stdlib cimport malloc, free

cdef extern from "_softmax_math.h" nogil:
    double ACT_SM_SCALE_D     # e is stored as exp(d) * 2**64 (see the header)
    double act_sm_exp_sum_f(const float* x, float* store, Py_ssize_t n, float m, float lo,
                            float flip) noexcept
    double act_sm_exp_split_f(const float* x, Py_ssize_t n, float m, float lo, float flip,
                              double* ones) noexcept
    bint act_sm_whole_inexact_f(float m, Py_ssize_t n, double log_s) noexcept
    double act_sm_exp_sums_d(const double* x, double* store, Py_ssize_t n, double m,
                             double lo, double flip, double* ones) noexcept
    void act_sm_log_write_f(const float* x, float* out, Py_ssize_t n, float m,
                            double log_s) noexcept
    double act_sm_dot_d(const double* g, const double* y, Py_ssize_t n) noexcept
    double act_sm_dot_f(const float* g, const float* y, Py_ssize_t n) noexcept
    float act_sm_div_f(float e, float s, float recip) noexcept
    double act_sm_div_d(double e, double s, double recip) noexcept

cdef enum SoftmaxMode:
    SOFTMAX_FORWARD = 0
    LOG_SOFTMAX_FORWARD = 1
    SOFTMAX_BACKWARD_X = 2
    SOFTMAX_BACKWARD_Y = 3
    LOG_SOFTMAX_BACKWARD_X = 4
    LOG_SOFTMAX_BACKWARD_Y = 5
    LOG_SOFTMAX_BACKWARD_P = 6   # internal: log_softmax's backward from p = softmax(x)

cdef enum:
    ROW_BLOCK = 16384   # elements per reduction block of a row (fixed: see Design 2)
    SUB_BLOCK = 256     # the backward from x stages g * exp through a buffer of this many;
                        # LANES (_constants.pxd) independent partial sums inside a block
                        # (vectorizable, fixed order); the stepped loops spell 8 and 256 as
                        # literals (Cython emits a C loop only for a literal step)
    COL_TILE = 128      # columns processed together on the column path
    STACK_BLOCKS = 32   # rows of up to this many blocks keep their partials on the stack
    Y_STACK = 1024      # backward from x in place: rows up to this long keep y on the stack
    # A forward over rows (the last axis) whose x is at least SOFTMAX_PREFETCH_MIN_BYTES
    # (half of this host's 32 MiB last-level cache, as GATE_PREFETCH_MIN_BYTES) streams
    # from memory: each row then prefetches up to SOFTMAX_PREFETCH_ROW_BYTES of the next
    # one.  A row of 1024 is one or two 4 KiB pages, the hardware's streams stop at a
    # page, and the row's max pass would wait on its first lines; the exp and write
    # passes then read it from L1.  Not for float64 log_softmax, whose passes hide the
    # loads (docs/performance-notes.md "Softmax forwards out of cache: the next row
    # prefetched").
    SOFTMAX_PREFETCH_MIN_BYTES = 1 << 24
    SOFTMAX_PREFETCH_ROW_BYTES = 8192


cdef struct RowStats:
    double ones     # number of entries with e == 1 (the maximum)
    double small    # sum of the entries with e < 1
    double dot      # backward: sum of g*y (softmax) or of g (log_softmax)


cdef inline void acc_add(double* total, double* comp, double v) noexcept nogil:
    """total += v, keeping the exact rounding error in comp (compensated summation)."""
    cdef double t = total[0] + v
    comp[0] += two_sum_err(total[0], v, t)
    total[0] = t


cdef inline bint mode_reads_x(int mode) noexcept nogil:
    return mode == SOFTMAX_FORWARD or mode == LOG_SOFTMAX_FORWARD or \
        mode == SOFTMAX_BACKWARD_X or mode == LOG_SOFTMAX_BACKWARD_X


cdef inline floating shifted_exp(floating x, floating m, floating flip) noexcept nogil:
    """exp(flip*x - m) with the rounding error of the subtraction folded in."""
    cdef floating fx = flip * x
    cdef floating d = fx - m
    return vexp_hilo(d, exact_error(two_sum_err(fx, -m, d)))


# ---------------------------------------------------------------- block statistics

cdef void exp_sums(const floating* x, floating* store, Py_ssize_t n, floating m,
                   floating lo, floating flip, bint split, RowStats* st) noexcept nogil:
    """Sums of e = exp(flip*x - m) over a run, split as (count of e == 1, sum of e < 1),
    or (float32, split False) whole in st.small with st.ones = 0.

    `store`: where to keep the e values, scaled by 2**64 (softmax forward, float32 then
    whole), or NULL.  lo: the run's smallest flip*x (-inf where not known), which picks
    the exp's form.  One vectorized loop (_softmax_math.h).
    """
    if floating is float:
        if store != NULL:
            st.ones = 0
            st.small = act_sm_exp_sum_f(x, store, n, m, lo, flip)
        elif split:
            st.small = act_sm_exp_split_f(x, n, m, lo, flip, &st.ones)
        else:
            st.ones = 0
            st.small = act_sm_exp_sum_f(x, NULL, n, m, lo, flip)
    else:
        if store != NULL:
            st.small = act_sm_exp_sums_d(x, store, n, m, lo, flip, &st.ones)
        else:
            st.small = act_sm_exp_sums_d(x, NULL, n, m, lo, flip, &st.ones)


cdef double dot_exp(const floating* g, const floating* x, Py_ssize_t n, floating m,
                    floating flip) noexcept nogil:
    """sum of g * exp(flip*x - m) over a run (double, fixed lanes)."""
    cdef double buf[SUB_BLOCK]
    cdef double acc[LANES]
    cdef double comp[LANES]
    cdef double total = 0
    cdef Py_ssize_t s0, len_, i, k, n8
    for k in range(LANES):
        acc[k] = 0
        comp[k] = 0
    for s0 in range(0, n, 256):
        len_ = min(<Py_ssize_t>SUB_BLOCK, n - s0)
        for i in range(len_):
            buf[i] = <double>g[s0 + i] * <double>shifted_exp(x[s0 + i], m, flip)
        n8 = len_ - len_ % LANES
        for i in range(0, n8, 8):
            for k in range(LANES):
                if floating is double:
                    acc_add(&acc[k], &comp[k], buf[i + k])
                else:
                    acc[k] += buf[i + k]
        for i in range(n8, len_):
            acc_add(&acc[0], &comp[0], buf[i])
    for k in range(LANES):
        total += acc[k]
    for k in range(LANES):
        total += comp[k]
    return total


cdef double dot_plain(const floating* g, const floating* y, Py_ssize_t n) noexcept nogil:
    """sum of g * y (or of g when y is NULL) over a run (double lanes, _softmax_math.h)."""
    if floating is double:
        if y == NULL:
            return act_sm_dot_d(g, NULL, n)
        return act_sm_dot_d(g, y, n)
    else:
        if y == NULL:
            return act_sm_dot_f(g, NULL, n)
        return act_sm_dot_f(g, y, n)


# ---------------------------------------------------------------- the write pass

cdef inline bint exp_normal_outside(floating y) noexcept nogil:
    """Whether y is outside vexp_normal's range [vexp_normal_min, 0] (NaN is inside)."""
    cdef floating one = 1, zero = 0
    return (y < vexp_normal_min(one)) | (y > zero)


cdef inline bint exp_normal_run(const floating* y, Py_ssize_t n) noexcept nogil:
    """Whether every y[i] (i < n) is in vexp_normal's range [vexp_normal_min, 0] or
    NaN (a vectorized pass, read before anything is written: out may be y)."""
    cdef floating outside = 0, one = 1
    cdef Py_ssize_t i
    for i in range(n):
        outside = one if exp_normal_outside(y[i]) else outside
    return outside == 0


cdef inline bint exp_normal_or_zero_outside(floating y) noexcept nogil:
    """Whether y is outside vexp_normal's range, not NaN, and not below vexp_zero_below
    (where vexp is an exact +0)."""
    cdef floating one = 1, zero = 0
    return ((y < vexp_normal_min(one)) & (y >= vexp_zero_below(one))) | (y > zero)


cdef inline bint exp_normal_or_zero_run(const floating* y, Py_ssize_t n) noexcept nogil:
    """Whether no y[i] (i < n) is exp_normal_or_zero_outside (a vectorized pass, as
    exp_normal_run)."""
    cdef floating outside = 0, one = 1
    cdef Py_ssize_t i
    for i in range(n):
        outside = one if exp_normal_or_zero_outside(y[i]) else outside
    return outside == 0


cdef inline floating exp_y_form(floating y, bint select) noexcept nogil:
    """exp(y) as log_softmax backward's write form takes it: vexp_normal(y), or with
    select (a constant) vexp's exact +0 below vexp_zero_below by a select."""
    cdef floating zero = 0, one = 1
    if select:
        return zero if y < vexp_zero_below(one) else vexp_normal(y)
    return vexp_normal(y)


cdef inline bint log_softmax_y_form(const floating* g, const floating* y, floating* out,
                                    Py_ssize_t n, floating dotf, bint in_place,
                                    bint select) noexcept nogil:
    """Writes out = g - exp_y_form(y, select) * dot where every y of the run is in the
    form's range (exp_normal_outside, or with select exp_normal_or_zero_outside, false)
    and returns whether it was.  Out of place the write pass checks the range itself,
    reading y once (a pass over y first, then the write, cost a memory pass's time out
    of cache), and a run that fails is written again by the caller's next form from its
    inputs; in place (out is g or y) the range is checked before anything is written.
    select is a constant at each call: inlined, each form is its own loops, as when
    they were written out."""
    cdef Py_ssize_t i
    cdef floating outside = 0, one = 1
    if not in_place:
        for i in range(n):
            out[i] = g[i] - exp_y_form(y[i], select) * dotf
            if select:
                outside = one if exp_normal_or_zero_outside(y[i]) else outside
            else:
                outside = one if exp_normal_outside(y[i]) else outside
        return outside == 0
    if not (exp_normal_or_zero_run(y, n) if select else exp_normal_run(y, n)):
        return False
    for i in range(n):
        out[i] = g[i] - exp_y_form(y[i], select) * dotf
    return True


cdef inline bint stores_from_cache_line(int mode) noexcept nogil:
    """Whether the write pass stores from a cache line of out on (its first up to 63
    bytes by themselves): softmax's backward pass, y * (g - dot), is two operations per
    element, bound by its stores, and a vector store that straddles two lines costs both
    (NumPy puts a large array 16 bytes past a line: docs/performance-notes.md, "Softmax
    backward: stores from a cache line").  log_softmax's pass, with its exp, lost more
    to the head than it gained."""
    return mode == SOFTMAX_BACKWARD_Y


cdef void write_run(int mode, const floating* in1, const floating* in2, floating* out,
                    Py_ssize_t n, floating m, double s, double log_s, double dot,
                    floating flip) noexcept nogil:
    """Write one run of the result from the row's statistics.

    forward: in1 = x (softmax: out already holds exp(x - m) * 2**64, exp_sums).
    backward: in1 = grad, in2 = x or y.
    """
    cdef Py_ssize_t i
    cdef floating e, y
    cdef bint in_place
    cdef floating sf = <floating>s
    cdef floating dotf = <floating>dot
    cdef floating scaled_sum = <floating>(s * ACT_SM_SCALE_D)   # the sum's one rounding
    cdef floating one = 1
    cdef floating lowest = vexp_normal_min(one)
    cdef floating recip = one / scaled_sum
    if mode == SOFTMAX_FORWARD:
        # both scaled by 2**64: the quotient is rounded once, subnormal outputs included
        if floating is float:
            for i in range(n):
                out[i] = act_sm_div_f(out[i], scaled_sum, recip)
        else:
            for i in range(n):
                out[i] = act_sm_div_d(out[i], scaled_sum, recip)
    elif mode == LOG_SOFTMAX_FORWARD:
        if floating is float:
            act_sm_log_write_f(in1, out, n, m, log_s)
        else:
            for i in range(n):
                e = in1[i] - m
                out[i] = (e - log_s) + exact_error(two_sum_err(in1[i], -m, e))
    elif mode == SOFTMAX_BACKWARD_Y:
        if flip > 0:   # softmax: no multiplication by 1
            for i in range(n):
                out[i] = in2[i] * (in1[i] - dotf)
        else:
            for i in range(n):
                out[i] = flip * (in2[i] * (in1[i] - dotf))
    elif mode == SOFTMAX_BACKWARD_X:
        for i in range(n):
            y = shifted_exp(in2[i], m, flip) / sf
            out[i] = flip * (y * (in1[i] - dotf))
    elif mode == LOG_SOFTMAX_BACKWARD_Y:
        # exp(y) by vexp_normal where every y of the run is in its range (a log_softmax
        # output is <= 0, and >= -87 / -708 unless its row spans more than e^87 /
        # e^708): there it is vexp's value bit for bit, in about half the instructions.
        # A y below the range at the run's last place skips that form (the look at its
        # first, before the pass's loads, cost a memory latency per row out of cache:
        # docs/performance-notes.md, "log_softmax backward out of cache").  Each form
        # checks its range as log_softmax_y_form says; a run that fails takes the next.
        in_place = out == in1 or out == in2
        if (n == 0) or not (in2[n - 1] < lowest):
            if log_softmax_y_form(in1, in2, out, n, dotf, in_place, False):
                return
        # rows that span more than that (huge inputs): the y below vexp_zero_below take
        # vexp's exact +0 by a select, the others vexp_normal (vexp cost such runs
        # 1.27-1.37x ordinary's time)
        if log_softmax_y_form(in1, in2, out, n, dotf, in_place, True):
            return
        for i in range(n):
            out[i] = in1[i] - vexp(in2[i]) * dotf
    elif mode == LOG_SOFTMAX_BACKWARD_P:
        for i in range(n):
            out[i] = in1[i] - in2[i] * dotf
    elif mode == LOG_SOFTMAX_BACKWARD_X:
        for i in range(n):
            out[i] = in1[i] - (shifted_exp(in2[i], m, flip) / sf) * dotf


# ---------------------------------------------------------------- one row

cdef void softmax_row(int mode, const floating* in1, const floating* in2, floating* out,
                      Py_ssize_t n, floating flip, int nthreads) noexcept nogil:
    """One contiguous row, its blocks split over `nthreads` threads if > 1."""
    if mode == SOFTMAX_BACKWARD_X or mode == LOG_SOFTMAX_BACKWARD_X:
        backward_x_through_y(mode, in1, in2, out, n, flip, nthreads)
        return
    cdef Py_ssize_t nblocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    cdef Py_ssize_t b, start, len_, head = 0
    cdef const floating* x = in1 if (mode == SOFTMAX_FORWARD or mode == LOG_SOFTMAX_FORWARD) else in2
    cdef floating m = -vinf(flip), bm
    cdef floating stack_max[STACK_BLOCKS]
    cdef floating stack_min[STACK_BLOCKS]
    cdef RowStats stack_stats[STACK_BLOCKS]
    cdef double stack_dots[STACK_BLOCKS]
    cdef floating* bmax = stack_max
    cdef floating* bmin = stack_min
    cdef RowStats* bstats = stack_stats
    cdef double* bdots = stack_dots
    cdef double s = 1, log_s = 0, dot = 0
    cdef bint parallel = nthreads > 1 and nblocks > 1
    if n == 0:
        return
    if nblocks > STACK_BLOCKS:
        bmax = <floating*>malloc(nblocks * sizeof(floating))
        bmin = <floating*>malloc(nblocks * sizeof(floating))
        bstats = <RowStats*>malloc(nblocks * sizeof(RowStats))
        bdots = <double*>malloc(nblocks * sizeof(double))
        if bmax == NULL or bmin == NULL or bstats == NULL or bdots == NULL:  # pragma: no cover
            free(bmax); free(bmin); free(bstats); free(bdots)
            for b in range(n):
                out[b] = vinf(flip) - vinf(flip)  # NaN: cannot allocate 4 small arrays
            return
    if mode_reads_x(mode):
        if parallel:
            for b in prange(nblocks, schedule='static', num_threads=nthreads):
                bmax[b] = vrange_run(x + b * ROW_BLOCK, min(<Py_ssize_t>ROW_BLOCK, n - b * ROW_BLOCK), flip, &bmin[b])
        else:
            for b in range(nblocks):
                bmax[b] = vrange_run(x + b * ROW_BLOCK, min(<Py_ssize_t>ROW_BLOCK, n - b * ROW_BLOCK), flip, &bmin[b])
        for b in range(nblocks):
            bm = bmax[b]
            m = bm if bm > m else m
        # float32 log_softmax sums whole, and again split where log(sum) is too small
        # for the whole sum (_softmax_math.h, Design 3); float64 always splits
        s = row_exp_sums(mode, x, out, n, m, bmin, flip, False, bstats, parallel, nthreads, &log_s)
        if floating is float:
            if mode == LOG_SOFTMAX_FORWARD and act_sm_whole_inexact_f(m, n, log_s):
                s = row_exp_sums(mode, x, out, n, m, bmin, flip, True, bstats, parallel,
                                 nthreads, &log_s)
    if mode == SOFTMAX_BACKWARD_X or mode == SOFTMAX_BACKWARD_Y or \
            mode == LOG_SOFTMAX_BACKWARD_X or mode == LOG_SOFTMAX_BACKWARD_Y or \
            mode == LOG_SOFTMAX_BACKWARD_P:
        if parallel:
            for b in prange(nblocks, schedule='static', num_threads=nthreads):
                bdots[b] = row_dot(mode, in1, in2, b * ROW_BLOCK, min(<Py_ssize_t>ROW_BLOCK, n - b * ROW_BLOCK), m, flip)
        else:
            for b in range(nblocks):
                bdots[b] = row_dot(mode, in1, in2, b * ROW_BLOCK, min(<Py_ssize_t>ROW_BLOCK, n - b * ROW_BLOCK), m, flip)
        for b in range(nblocks):
            dot += bdots[b]
        if mode == SOFTMAX_BACKWARD_X:
            dot = dot / s
    if parallel:
        for b in prange(nblocks, schedule='static', num_threads=nthreads):
            start = b * ROW_BLOCK
            len_ = min(<Py_ssize_t>ROW_BLOCK, n - start)
            write_run(mode, in1 + start, in2 + start if in2 != NULL else NULL, out + start,
                      len_, m, s, log_s, dot, flip)
    else:
        if stores_from_cache_line(mode) and n >= SUB_BLOCK:
            head = to_cache_line(out, sizeof(floating))
        if head:   # every element by the same code wherever the run starts: same results
            write_run(mode, in1, in2, out, head, m, s, log_s, dot, flip)
        write_run(mode, in1 + head, in2 + head if in2 != NULL else NULL, out + head,
                  n - head, m, s, log_s, dot, flip)
    if nblocks > STACK_BLOCKS:
        free(bmax); free(bmin); free(bstats); free(bdots)


cdef double row_exp_sums(int mode, const floating* x, floating* out, Py_ssize_t n,
                         floating m, const floating* bmin, floating flip, bint split,
                         RowStats* bstats, bint parallel, int nthreads,
                         double* log_s) noexcept nogil:
    """softmax_row's exp pass: the sums of its blocks (exp_sums; the softmax forward
    stores e in out), combined in block order.  Returns the row's sum; log_s receives
    log(sum) for the log_softmax forward (the only mode that reads it: a libm call)."""
    cdef Py_ssize_t nblocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    cdef Py_ssize_t b, start
    cdef double ones = 0, small = 0
    if parallel:
        for b in prange(nblocks, schedule='static', num_threads=nthreads):
            start = b * ROW_BLOCK
            exp_sums(x + start, out + start if mode == SOFTMAX_FORWARD else NULL,
                     min(<Py_ssize_t>ROW_BLOCK, n - start), m, bmin[b], flip, split, &bstats[b])
    else:
        for b in range(nblocks):
            start = b * ROW_BLOCK
            exp_sums(x + start, out + start if mode == SOFTMAX_FORWARD else NULL,
                     min(<Py_ssize_t>ROW_BLOCK, n - start), m, bmin[b], flip, split, &bstats[b])
    for b in range(nblocks):
        ones += bstats[b].ones
        small += bstats[b].small
    if mode == LOG_SOFTMAX_FORWARD:
        log_s[0] = libm_log1p((ones - 1.0) + small)
    return ones + small


cdef void backward_x_through_y(int mode, const floating* g, const floating* x, floating* out,
                               Py_ssize_t n, floating flip, int nthreads) noexcept nogil:
    """The backward from x as the forward, y = softmax(x), then the backward from y
    (log_softmax: from p = y): the exp is computed once, by the forward's loop, and the
    result is that of the backward from y at the y the forward returns.  y goes to out,
    or, when out is grad (in place), to a scratch row."""
    cdef floating stack_y[Y_STACK]
    cdef floating* on_stack = stack_y
    cdef floating* y = out
    cdef Py_ssize_t i
    if not (out + n <= g or g + n <= out):
        y = on_stack if n <= Y_STACK else <floating*>malloc(n * sizeof(floating))
        if y == NULL:  # pragma: no cover
            for i in range(n):
                out[i] = vinf(flip) - vinf(flip)  # NaN: cannot allocate a scratch row
            return
    softmax_row(SOFTMAX_FORWARD, x, NULL, y, n, flip, nthreads)
    softmax_row(SOFTMAX_BACKWARD_Y if mode == SOFTMAX_BACKWARD_X else LOG_SOFTMAX_BACKWARD_P,
                g, y, out, n, flip, nthreads)
    if y != out and y != on_stack:
        free(y)


cdef inline double row_dot(int mode, const floating* g, const floating* xy, Py_ssize_t start,
                           Py_ssize_t n, floating m, floating flip) noexcept nogil:
    if mode == SOFTMAX_BACKWARD_X:
        return dot_exp(g + start, xy + start, n, m, flip)
    elif mode == SOFTMAX_BACKWARD_Y:
        return dot_plain(g + start, xy + start, n)
    else:  # log_softmax: sum of g
        return dot_plain(g + start, <const floating*>NULL, n)


# ---------------------------------------------------------------- column tiles

cdef void softmax_columns(int mode, const floating* in1, const floating* in2, floating* out,
                          Py_ssize_t L, Py_ssize_t inner, Py_ssize_t c0, Py_ssize_t w,
                          floating flip) noexcept nogil:
    """Columns c0 .. c0+w of one (L, inner) slab: the statistics are per column."""
    cdef floating mcol[COL_TILE]
    cdef double ones[COL_TILE]
    cdef double small[COL_TILE]
    cdef double dot[COL_TILE]
    cdef double comp[COL_TILE]
    cdef double log_s[COL_TILE]
    cdef floating sf[COL_TILE]
    cdef floating dotf[COL_TILE]
    cdef floating one = 1, v, e, y
    cdef Py_ssize_t l, j
    cdef const floating* x = in1 if (mode == SOFTMAX_FORWARD or mode == LOG_SOFTMAX_FORWARD) else in2
    cdef const floating* row
    cdef const floating* grow
    cdef floating* orow
    for j in range(w):
        mcol[j] = -vinf(flip)
        ones[j] = 0
        small[j] = 0
        dot[j] = 0
        comp[j] = 0
    if mode_reads_x(mode):
        for l in range(L):
            row = x + l * inner + c0
            for j in range(w):
                v = flip * row[j]
                mcol[j] = v if v > mcol[j] else mcol[j]
        for l in range(L):
            row = x + l * inner + c0
            orow = out + l * inner + c0
            for j in range(w):
                e = shifted_exp(row[j], mcol[j], flip)
                if mode == SOFTMAX_FORWARD:
                    orow[j] = e
                if floating is double:
                    acc_add(&small[j], &comp[j], e if not (e >= one) else 0.0)
                else:
                    small[j] += <double>e if not (e >= one) else 0.0
                ones[j] += 1.0 if e >= one else 0.0
        for j in range(w):
            small[j] += comp[j]
            comp[j] = 0
            log_s[j] = libm_log1p((ones[j] - 1.0) + small[j])
            small[j] = ones[j] + small[j]       # now the sum
            sf[j] = <floating>small[j]
    if not (mode == SOFTMAX_FORWARD or mode == LOG_SOFTMAX_FORWARD):
        for l in range(L):
            grow = in1 + l * inner + c0
            row = in2 + l * inner + c0
            for j in range(w):
                if mode == SOFTMAX_BACKWARD_X:
                    acc_add(&dot[j], &comp[j], <double>grow[j] * <double>shifted_exp(row[j], mcol[j], flip))
                elif mode == SOFTMAX_BACKWARD_Y:
                    acc_add(&dot[j], &comp[j], <double>grow[j] * <double>row[j])
                else:
                    acc_add(&dot[j], &comp[j], <double>grow[j])
        for j in range(w):
            dot[j] += comp[j]
            if mode == SOFTMAX_BACKWARD_X:
                dot[j] = dot[j] / small[j]
            dotf[j] = <floating>dot[j]
    for l in range(L):
        grow = in1 + l * inner + c0
        row = (in2 if in2 != NULL else in1) + l * inner + c0
        orow = out + l * inner + c0
        if mode == SOFTMAX_FORWARD:
            for j in range(w):
                orow[j] = orow[j] / sf[j]
        elif mode == LOG_SOFTMAX_FORWARD:
            for j in range(w):
                if floating is float:
                    orow[j] = <float>((<double>grow[j] - <double>mcol[j]) - log_s[j])
                else:
                    e = grow[j] - mcol[j]
                    orow[j] = (e - log_s[j]) + exact_error(two_sum_err(grow[j], -mcol[j], e))
        elif mode == SOFTMAX_BACKWARD_Y:
            for j in range(w):
                orow[j] = flip * (row[j] * (grow[j] - dotf[j]))
        elif mode == SOFTMAX_BACKWARD_X:
            for j in range(w):
                y = shifted_exp(row[j], mcol[j], flip) / sf[j]
                orow[j] = flip * (y * (grow[j] - dotf[j]))
        elif mode == LOG_SOFTMAX_BACKWARD_Y:
            for j in range(w):
                orow[j] = grow[j] - vexp(row[j]) * dotf[j]
        else:
            for j in range(w):
                orow[j] = grow[j] - (shifted_exp(row[j], mcol[j], flip) / sf[j]) * dotf[j]


# ---------------------------------------------------------------- the driver

cdef void run_softmax(int mode, const floating* in1, const floating* in2, floating* out,
                      Py_ssize_t outer, Py_ssize_t L, Py_ssize_t inner, floating flip,
                      int nthreads) noexcept nogil:
    """Softmax-family kernel over an (outer, L, inner) C-contiguous array, on at most
    `nthreads` threads."""
    cdef Py_ssize_t total = outer * L * inner
    cdef Py_ssize_t r, u, o, t, ntiles, c0
    cdef bint threaded = nthreads > 1 and total >= PARALLEL_MIN_ELEMENTS
    cdef Py_ssize_t pf = 0   # bytes of the next row prefetched (a prefetch reads nothing)
    if total == 0:
        return
    if inner == 1:
        if total * <Py_ssize_t>sizeof(floating) >= SOFTMAX_PREFETCH_MIN_BYTES and \
                (mode == SOFTMAX_FORWARD or (mode == LOG_SOFTMAX_FORWARD and sizeof(floating) == 4)):
            pf = min(<Py_ssize_t>SOFTMAX_PREFETCH_ROW_BYTES, L * <Py_ssize_t>sizeof(floating))
        if not threaded:
            for r in range(outer):
                if pf and r + 1 < outer:
                    act_prefetch_lines(in1 + (r + 1) * L, pf)
                softmax_row(mode, in1 + r * L, in2 + r * L if in2 != NULL else NULL,
                            out + r * L, L, flip, 1)
        elif outer >= nthreads:
            for r in prange(outer, schedule='static', num_threads=nthreads):
                if pf and r + 1 < outer:   # a thread's last row: its neighbour's first, harmless
                    act_prefetch_lines(in1 + (r + 1) * L, pf)
                softmax_row(mode, in1 + r * L, in2 + r * L if in2 != NULL else NULL,
                            out + r * L, L, flip, 1)
        else:  # few long rows: threads inside each row
            for r in range(outer):
                softmax_row(mode, in1 + r * L, in2 + r * L if in2 != NULL else NULL,
                            out + r * L, L, flip, nthreads)
        return
    ntiles = (inner + COL_TILE - 1) // COL_TILE
    if threaded:
        for u in prange(outer * ntiles, schedule='static', num_threads=nthreads):
            o = u // ntiles
            c0 = (u % ntiles) * COL_TILE
            softmax_columns(mode, in1 + o * L * inner, in2 + o * L * inner if in2 != NULL else NULL,
                            out + o * L * inner, L, inner, c0, min(<Py_ssize_t>COL_TILE, inner - c0), flip)
    else:
        for u in range(outer * ntiles):
            o = u // ntiles
            c0 = (u % ntiles) * COL_TILE
            softmax_columns(mode, in1 + o * L * inner, in2 + o * L * inner if in2 != NULL else NULL,
                            out + o * L * inner, L, inner, c0, min(<Py_ssize_t>COL_TILE, inner - c0), flip)


# ---------------------------------------------------------------- rows split into chunks
#
# A row split over several arrays (a Dask array chunked along the softmax axis) is
# reduced in two stages: each chunk's partial statistics for the whole row's maximum
# m (softmax_chunk_partials), combined by the caller in a fixed chunk order, then each
# chunk written from the row's totals (softmax_chunk_write).  Both reuse the per-run
# functions above, so a chunk is computed by the same code as a block of a row.

cdef inline void chunk_row_partials(int mode, const floating* in1, const floating* in2,
                                    Py_ssize_t n, floating m, floating flip,
                                    double* partial) noexcept nogil:
    """partial = (ones, small, dot) of one run: the sums of e = exp(flip*x - m) split
    as in RowStats (modes that read x), and the backward's dot (backward modes)."""
    cdef RowStats st
    cdef const floating* x = in1 if (mode == SOFTMAX_FORWARD or mode == LOG_SOFTMAX_FORWARD) else in2
    partial[0] = 0
    partial[1] = 0
    partial[2] = 0
    if mode_reads_x(mode):
        exp_sums(x, NULL, n, m, -vinf(flip), flip, True, &st)
        partial[0] = st.ones
        partial[1] = st.small
    if not (mode == SOFTMAX_FORWARD or mode == LOG_SOFTMAX_FORWARD):
        partial[2] = row_dot(mode, in1, in2, 0, n, m, flip)


cdef inline void chunk_row_write(int mode, const floating* in1, const floating* in2,
                                 floating* out, Py_ssize_t n, floating m,
                                 const double* total, floating flip) noexcept nogil:
    """Write one run from its row's totals (s, log_s, dot); the softmax forward first
    stores e = exp(flip*x - m) in out, as softmax_row does."""
    cdef RowStats unused
    if mode == SOFTMAX_FORWARD:
        exp_sums(in1, out, n, m, -vinf(flip), flip, False, &unused)
    write_run(mode, in1, in2, out, n, m, total[0], total[1], total[2], flip)


cdef void softmax_chunk_rows(bint write, int mode, const floating* in1, const floating* in2,
                             floating* out, const floating* m, double* stats,
                             Py_ssize_t rows, Py_ssize_t n, floating flip,
                             int nthreads) noexcept nogil:
    """One chunk of `rows` C-contiguous runs of n values, each a piece of a longer row.

    write = False: stats[3r:3r+3] receives the run's partials (chunk_row_partials);
    write = True: out is written from the row totals in stats (chunk_row_write).
    m[r]: the whole row's maximum of flip*x (NULL for the backward from y).
    """
    cdef Py_ssize_t r
    if nthreads > 1 and rows > 1 and rows * n >= PARALLEL_MIN_ELEMENTS:
        for r in prange(rows, schedule='static', num_threads=nthreads):
            chunk_row(write, mode, in1, in2, out, m, stats, r, n, flip)
    else:
        for r in range(rows):
            chunk_row(write, mode, in1, in2, out, m, stats, r, n, flip)


cdef inline void chunk_row(bint write, int mode, const floating* in1, const floating* in2,
                           floating* out, const floating* m, double* stats, Py_ssize_t r,
                           Py_ssize_t n, floating flip) noexcept nogil:
    cdef floating mr = m[r] if m != NULL else 0
    if write:
        chunk_row_write(mode, in1 + r * n, in2 + r * n if in2 != NULL else NULL,
                        out + r * n, n, mr, stats + 3 * r, flip)
    else:
        chunk_row_partials(mode, in1 + r * n, in2 + r * n if in2 != NULL else NULL,
                           n, mr, flip, stats + 3 * r)


# ---------------------------------------------------------------- entry points

#: Modes of the softmax kernel, by (function, direction) -- see _softmax.pxi.
SOFTMAX_MODES = {
    ("softmax", FORWARD): SOFTMAX_FORWARD,
    ("softmax", BACKWARD): SOFTMAX_BACKWARD_X,
    ("softmax", BACKWARD_FROM_OUTPUT): SOFTMAX_BACKWARD_Y,
    ("log_softmax", FORWARD): LOG_SOFTMAX_FORWARD,
    ("log_softmax", BACKWARD): LOG_SOFTMAX_BACKWARD_X,
    ("log_softmax", BACKWARD_FROM_OUTPUT): LOG_SOFTMAX_BACKWARD_Y,
}


def softmax(int mode, cnp.ndarray in1, object in2, cnp.ndarray out, Py_ssize_t outer,
            Py_ssize_t length, Py_ssize_t inner, double flip):
    """Softmax-family kernel (see _softmax.pxi) over arrays validated by the Python layer:
    forward in1 = x; backward in1 = grad, in2 = x or y; all of outer*length*inner."""
    cdef tuple arrays = (in1, out) if in2 is None else (in1, in2, out)
    cdef int typenum = checked_typenum(arrays)
    for arr in arrays:
        if cnp.PyArray_SIZE(<cnp.ndarray>arr) != outer * length * inner:
            raise ValueError("internal error: softmax kernel shape mismatch")
    return softmax_checked(mode, typenum, in1, in2, out, outer, length, inner, flip)


cdef object softmax_checked(int mode, int typenum, cnp.ndarray in1, object in2, cnp.ndarray out,
                            Py_ssize_t outer, Py_ssize_t length, Py_ssize_t inner, double flip):
    """`softmax` on arrays already checked (plain, of `typenum`, of matching sizes): the
    fast path calls it directly, a Python-level call costing more than a 16-element row."""
    cdef const void* p1 = cnp.PyArray_DATA(in1)
    cdef const void* p2 = cnp.PyArray_DATA(<cnp.ndarray>in2) if in2 is not None else NULL
    cdef void* po = cnp.PyArray_DATA(out)
    cdef Py_ssize_t n = outer * length * inner
    cdef PyThreadState* gil = release_gil_for(n)
    if typenum == cnp.NPY_FLOAT:
        run_softmax(mode, <const float*>p1, <const float*>p2, <float*>po, outer, length,
                    inner, <float>flip, call_num_threads(n))
    else:
        run_softmax(mode, <const double*>p1, <const double*>p2, <double*>po, outer, length,
                    inner, flip, call_num_threads(n))
    retake_gil(gil)
    return out


def softmax_plain(int mode, object in1, object in2, object out, object axis, double flip):
    """The softmax kernel's fast path: plain arrays (see `prepare`; in2 is None for a
    forward) and an in-range int axis.  Returns NotImplemented, having written
    nothing, otherwise (the Python layer then validates and raises)."""
    cdef int typenum = 0
    cdef Py_ssize_t outer, length, inner
    if type(axis) is not int:
        return NotImplemented
    cdef object prepared = prepare(FORWARD if in2 is None else BACKWARD, in1, in2, out, &typenum)
    if prepared is None or plain_axis(<cnp.ndarray>in1, axis, &outer, &length, &inner) < 0:
        return NotImplemented
    res = softmax_checked(mode, typenum, <cnp.ndarray>in1, in2, <cnp.ndarray>prepared, outer,
                          length, inner, flip)
    return res[()] if out is None and cnp.PyArray_NDIM(<cnp.ndarray>in1) == 0 else res


def softmax_chunk(bint write, int mode, cnp.ndarray in1, object in2, object out, object m,
                  cnp.ndarray stats, double flip):
    """One chunk of rows split along the softmax axis (see _softmax.pxi, "rows split
    into chunks"): in1 (and in2, out) C-contiguous (rows, n); m (rows,) the whole
    rows' maxima of flip*x, None for the backward from y; stats float64 (rows, 3):
    written with the partials (write False) or read as the totals (write True)."""
    cdef tuple arrays = (in1,) + ((in2,) if in2 is not None else ()) \
        + ((out,) if write else ()) + ((m,) if m is not None else ())
    cdef int typenum = checked_typenum(arrays)
    if cnp.PyArray_NDIM(in1) != 2 or not is_plain(stats, cnp.NPY_DOUBLE):
        raise ValueError("internal error: softmax chunk kernel takes 2-D chunks and float64 stats")
    cdef Py_ssize_t rows = cnp.PyArray_DIMS(in1)[0], n = cnp.PyArray_DIMS(in1)[1]
    for arr in arrays[1:]:
        if cnp.PyArray_SIZE(<cnp.ndarray>arr) != (rows if arr is m else rows * n):
            raise ValueError("internal error: softmax chunk kernel shape mismatch")
    if cnp.PyArray_SIZE(stats) != 3 * rows or (m is None and mode_reads_x(mode)):
        raise ValueError("internal error: softmax chunk kernel stats or maxima missing")
    if not write and not cnp.PyArray_ISWRITEABLE(stats):
        raise ValueError("internal error: softmax chunk kernel stats are read-only")
    cdef const void* p1 = cnp.PyArray_DATA(in1)
    cdef const void* p2 = cnp.PyArray_DATA(<cnp.ndarray>in2) if in2 is not None else NULL
    cdef void* po = cnp.PyArray_DATA(<cnp.ndarray>out) if write else NULL
    cdef const void* pm = cnp.PyArray_DATA(<cnp.ndarray>m) if m is not None else NULL
    cdef double* ps = <double*>cnp.PyArray_DATA(stats)
    cdef PyThreadState* gil = release_gil_for(rows * n)
    if typenum == cnp.NPY_FLOAT:
        softmax_chunk_rows(write, mode, <const float*>p1, <const float*>p2, <float*>po,
                           <const float*>pm, ps, rows, n, <float>flip, call_num_threads(rows * n))
    else:
        softmax_chunk_rows(write, mode, <const double*>p1, <const double*>p2, <double*>po,
                           <const double*>pm, ps, rows, n, flip, call_num_threads(rows * n))
    retake_gil(gil)
    return out if write else stats
