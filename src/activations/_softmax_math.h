/*
 * _softmax_math.h -- the exp-and-sum pass of the softmax family's rows (_softmax.pxi).
 *
 * Design:
 *  1. One loop per row run computes e = exp(flip*x - m) for the row maximum m, stores
 *     it (softmax forward) and sums it in double lanes: the exp is computed once, and
 *     never re-read for the sum.  `omp simd reduction` keeps one partial sum per
 *     vector lane, so the order of the additions is fixed by the compiled level's
 *     vector width, never by the thread count (-fopenmp-simd also without OpenMP).
 *  2. Exactness.  d = flip*x - m is rounded; its exact error (two_sum) joins the
 *     exp's reduced argument (r = (d - n ln2_hi) + (err - n ln2_lo)), so the exp is
 *     that of the exact difference.  e is stored scaled by 2^64 (ACT_SM_SCALE):
 *     with d clamped at ACT_SM_DMIN (at and below it every output rounds to 0 in the
 *     dtype, for any row length below 2^30; the clamped e is +0) the scaled value is a
 *     normal number or 0 (subnormal only for d within 2 of the clamp), built with one
 *     power-of-two factor, and the write pass out = e_scaled / (sum * 2^64)
 *     rounds once, subnormal outputs included (act_sm_div: a division, or with FMA
 *     the same correctly rounded quotient from a reciprocal).
 *  3. The sums are returned unscaled (times 2^-64, exact), whole or split as in
 *     _softmax.pxi's RowStats: the count of e == 1 (the maximum) and the sum of the
 *     others, so that log(sum) = log1p((ones - 1) + small) keeps the tiny terms
 *     (log_softmax of a dominant entry).  float32 sums whole (`small`, ones = 0):
 *     its double lanes hold the total with 29 bits to spare, and a sum of n positive
 *     terms is within n 2^-53 of it relatively, so log(sum) is within 2^-28 of its
 *     own magnitude wherever log(sum) >= n 2^-24; a log_softmax row below that (one
 *     entry holding all but n 2^-24 of the mass) sums again, split
 *     (act_sm_exp_split_f), unless |m| >= 2^32, where every other x is at least 256
 *     below m, its e the clamp's +0, and the whole sum exact (act_sm_whole_inexact_f).
 *     float64 lanes carry the exact rounding errors of their additions (two_sum),
 *     added back at the end, and always split.
 *  4. Special values: NaN or +inf in a row gives d = NaN (+inf - +inf, or NaN), which
 *     passes the clamp (a compare) and makes the sum NaN; x = -inf gives d = -inf,
 *     clamped, its error term (NaN) dropped: e is +0, an output of 0 after the
 *     division (softmax) and not the sum's concern.  The clamp is needed only where
 *     some d is below ACT_SM_DMIN (an -inf, or a row spanning more than e^132): a run
 *     whose smallest flip*x, lo, has lo - m >= ACT_SM_DMIN has every d = fl(flip*x -
 *     m) >= fl(lo - m) above it (rounding is monotonic) and finite, and runs the form
 *     without the clamp, the same bits at two vector operations less per element
 *     vector (act_sm_needs_clamp_*).
 *  5. No microcode assists on ordinary special inputs (Intel cores take one per
 *     vector instruction with a subnormal operand or result): flip*x is a sign flip,
 *     clamped lanes give +0 without an underflowing product, and a row whose maximum
 *     is tiny (all-subnormal data) flushes its tiny differences (ACT_SM_TINY_F).
 */
#ifndef ACTIVATIONS_SOFTMAX_MATH_H
#define ACTIVATIONS_SOFTMAX_MATH_H

#include "_vmath.h"

/* e is stored as exp(d) * 2^64: normal for d >= -131.4 (float32: 2^(-190+64) = 2^-126
   times 1 + q >= 2^-0.5; below, down to the clamp, subnormal or 0) and d >= -752.7
   (float64: 2^(-1086+64) = 2^-1022). */
#define ACT_SM_SCALE_F 0x1p64f
#define ACT_SM_SCALE_D 0x1p64
#define ACT_SM_UNSCALE 0x1p-64
/* Clamps, where the scale factor 2^(n+64) is exactly 0 (n = -191 / -1087), so that a
   clamped e is +0 and no later product underflows (a microcode assist on Intel cores):
   exp(-130) = 2^-187.6 is already below half the least float32 subnormal 2^-149 times
   2^-30 (so a row of up to 2^30 such terms still adds up to an output of 0); exp(-750)
   = 2^-1082 likewise for float64 (least subnormal 2^-1074). */
#define ACT_SM_DMIN_F (-132.5f)
#define ACT_SM_DMIN_D (-753.5)
/* Rows whose maximum is below these in magnitude take the loops' flushing form: only
   there can d = flip*x - m be subnormal (elsewhere a nonzero d is at least ulp(m) >=
   2^-123 / 2^-1012; its error is subnormal only where x is), and a multiplication or
   FMA with a subnormal operand takes a microcode assist on Intel cores.  The flushing
   form sets d and its error to 0 where they are below the bound in magnitude: exp(d)
   for |d| < 2^-100 rounds to 1 in either dtype, as it does when computed from d, and
   an error term below 2^-100 moves the reduced argument by a negligible 2^-100. */
#define ACT_SM_TINY_F 0x1p-100f
#define ACT_SM_TINY_D 0x1p-960
/* Whether a float32 log_softmax row of n entries, maximum m and whole sum's log log_s
   must sum again, split (Design 3; NaN compares false: a NaN row does not). */
ACT_INLINE int act_sm_whole_inexact_f(float m, ptrdiff_t n, double log_s)
{
    return log_s < (double)n * 0x1p-24 && act_fabs_f(m) < 0x1p32f;
}

/* Whether a run whose smallest flip*x is lo needs the exp's clamp (Design 4): NaN
   compares false, so a row maximum of +-inf (lo - m NaN or -inf) takes the clamp. */
ACT_INLINE int act_sm_needs_clamp_f(float m, float lo) { return !(lo - m >= ACT_SM_DMIN_F); }
ACT_INLINE int act_sm_needs_clamp_d(double m, double lo) { return !(lo - m >= ACT_SM_DMIN_D); }

/* flip * x for flip = +-1, as an integer sign flip (`sign`: flip's sign bit): a
   multiplication of a subnormal x by 1 would take a microcode assist. */
ACT_INLINE float act_sm_flip_f(float x, uint32_t sign) { return act_asfloat_u(act_asuint_f(x) ^ sign); }
ACT_INLINE double act_sm_flip_d(double x, uint64_t sign) { return act_asdouble_u(act_asuint_d(x) ^ sign); }

/* exp(fx - m) * 2^64 for fx <= m (or NaN), the subtraction's rounding error folded in;
   constants `tiny`: the flushing form (ACT_SM_TINY_F), `clamp`: the clamp at
   ACT_SM_DMIN_F (0 only where no d is below it: act_sm_needs_clamp_f) */
ACT_INLINE float act_sm_exp_f(float fx, float m, int tiny, int clamp)
{
    float d = fx - m;
    float err = act_two_sum_err_f(fx, -m, d);
    if (tiny) {
        err = act_fabs_f(err) < ACT_SM_TINY_F ? 0.0f : err;
        d = act_fabs_f(d) < ACT_SM_TINY_F ? 0.0f : d;
    }
    if (clamp) {
        err = d < ACT_SM_DMIN_F ? 0.0f : err;   /* clamped: moot (NaN for x = -inf) */
        d = d < ACT_SM_DMIN_F ? ACT_SM_DMIN_F : d;
    }
    float kd = act_exp_kd_f(d, ACT_SHIFTER_F);
    float n = kd - ACT_SHIFTER_F;
    /* the lo terms apart: n ln2_lo joins the subtraction's error (its own rounding) */
    float r = ACT_FMA_F(-n, ACT_LN2_HI_F, d) + ACT_FMA_F(-n, ACT_LN2_LO_F, err);
    float q = act_expm1_poly_f(r);
    uint32_t ni = act_asuint_f(kd) - act_asuint_f(ACT_SHIFTER_F); /* n, two's complement */
    float s = act_asfloat_u((ni + (127u + 64u)) << 23);
    return ACT_FMA_F(q, s, s);   /* (1 + q) * 2^(n+64), one rounding with FMA */
}

ACT_INLINE double act_sm_exp_d(double fx, double m, int tiny, int clamp)
{
    double d = fx - m;
    double err = act_two_sum_err_d(fx, -m, d);
    if (tiny) {
        err = act_fabs_d(err) < ACT_SM_TINY_D ? 0.0 : err;
        d = act_fabs_d(d) < ACT_SM_TINY_D ? 0.0 : d;
    }
    if (clamp) {
        err = d < ACT_SM_DMIN_D ? 0.0 : err;
        d = d < ACT_SM_DMIN_D ? ACT_SM_DMIN_D : d;
    }
    double kd = act_exp_kd_d(d, ACT_SHIFTER_D);
    double n = kd - ACT_SHIFTER_D;
    double r = ACT_FMA_D(-n, ACT_LN2_HI_D, d) + ACT_FMA_D(-n, ACT_LN2_LO_D, err);
    double q = act_expm1_poly_d(r);
    uint64_t ni = act_asuint_d(kd) - act_asuint_d(ACT_SHIFTER_D);
    double s = act_asdouble_u((ni + (1023u + 64u)) << 52);
    return ACT_FMA_D(q, s, s);
}

/* The whole (unscaled) sum of e = exp(flip*x - m) over a run, e stored scaled into
   store[i] where store is not NULL.  Call it with a literal NULL, or with a store known
   to be non-NULL: the test then folds away (as act_sm_exp_sums_d_). */
ACT_INLINE double act_sm_exp_sum_f_(const float *x, float *store, ptrdiff_t n, float m,
                                    uint32_t sign, int tiny, int clamp)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (ptrdiff_t i = 0; i < n; i++) {
        float e = act_sm_exp_f(act_sm_flip_f(x[i], sign), m, tiny, clamp);
        if (store != NULL) store[i] = e;
        s += (double)e;
    }
    return s * ACT_SM_UNSCALE;
}

/* lo: the run's smallest flip*x, or -inf where not known (the clamped form) */
ACT_INLINE double act_sm_exp_sum_f(const float *x, float *store, ptrdiff_t n, float m,
                                   float lo, float flip)
{
    uint32_t sign = act_asuint_f(flip) & 0x80000000u;
    int tiny = act_fabs_f(m) < ACT_SM_TINY_F, clamp = act_sm_needs_clamp_f(m, lo);
    if (store != NULL) {
        if (tiny) return clamp ? act_sm_exp_sum_f_(x, store, n, m, sign, 1, 1)
                               : act_sm_exp_sum_f_(x, store, n, m, sign, 1, 0);
        return clamp ? act_sm_exp_sum_f_(x, store, n, m, sign, 0, 1)
                     : act_sm_exp_sum_f_(x, store, n, m, sign, 0, 0);
    }
    if (tiny) return clamp ? act_sm_exp_sum_f_(x, NULL, n, m, sign, 1, 1)
                           : act_sm_exp_sum_f_(x, NULL, n, m, sign, 1, 0);
    return clamp ? act_sm_exp_sum_f_(x, NULL, n, m, sign, 0, 1)
                 : act_sm_exp_sum_f_(x, NULL, n, m, sign, 0, 0);
}

/* Sums of e = exp(flip*x - m) over a run, split: *ones = the count of e == 1, the
   return value the (unscaled) sum of the others (NaN included). */
ACT_INLINE double act_sm_exp_split_f_(const float *x, ptrdiff_t n, float m, uint32_t sign,
                                      int tiny, int clamp, double *ones)
{
    double s = 0.0;
    int32_t c = 0;   /* per lane: exact up to 2^31 */
#pragma omp simd reduction(+ : s, c)
    for (ptrdiff_t i = 0; i < n; i++) {
        float e = act_sm_exp_f(act_sm_flip_f(x[i], sign), m, tiny, clamp);
        /* e - (e >= 1 ? 1 : 0), in float before the conversion (!(e >= 1): a NaN is summed) */
        float v = e - (e >= ACT_SM_SCALE_F ? ACT_SM_SCALE_F : 0.0f);
        s += (double)v;
        c += e >= ACT_SM_SCALE_F;
    }
    *ones = (double)c;
    return s * ACT_SM_UNSCALE;
}

ACT_INLINE double act_sm_exp_split_f(const float *x, ptrdiff_t n, float m, float lo,
                                     float flip, double *ones)
{
    uint32_t sign = act_asuint_f(flip) & 0x80000000u;
    return act_fabs_f(m) < ACT_SM_TINY_F ? act_sm_exp_split_f_(x, n, m, sign, 1, 1, ones)
         : act_sm_needs_clamp_f(m, lo) ? act_sm_exp_split_f_(x, n, m, sign, 0, 1, ones)
         : act_sm_exp_split_f_(x, n, m, sign, 0, 0, ones);
}

/* float64, store (may be NULL) or not, always split: the lanes' partial sums are
   combined by plain additions, whose rounding would be relative to the maximum's
   e = 1 if it were among them.  Call it with a literal NULL, or with a store known to
   be non-NULL (inside an `if store != NULL`): the test then folds away and the loop
   vectorizes (an unknown store leaves a scalar copy of the loop for NULL). */
ACT_INLINE double act_sm_exp_sums_d_(const double *x, double *store, ptrdiff_t n, double m,
                                     uint64_t sign, int tiny, int clamp, double *ones)
{
    double s = 0.0, err = 0.0;
    int64_t c = 0;
#pragma omp simd reduction(+ : s, err, c)
    for (ptrdiff_t i = 0; i < n; i++) {
        double e = act_sm_exp_d(act_sm_flip_d(x[i], sign), m, tiny, clamp);
        if (store != NULL) store[i] = e;
        double v = e >= ACT_SM_SCALE_D ? 0.0 : e;
        double t = s + v;
        err += act_two_sum_err_d(s, v, t);
        s = t;
        c += e >= ACT_SM_SCALE_D;
    }
    *ones = (double)c;
    return (s + err) * ACT_SM_UNSCALE;
}

ACT_INLINE double act_sm_exp_sums_d(const double *x, double *store, ptrdiff_t n, double m,
                                    double lo, double flip, double *ones)
{
    uint64_t sign = act_asuint_d(flip) & 0x8000000000000000ull;
    int clamp = act_sm_needs_clamp_d(m, lo);
    /* a tiny row (all-subnormal data) takes the clamp only where it needs it, as
       float32's (Design 4) */
    if (act_fabs_d(m) < ACT_SM_TINY_D)
        return clamp ? act_sm_exp_sums_d_(x, store, n, m, sign, 1, 1, ones)
                     : act_sm_exp_sums_d_(x, store, n, m, sign, 1, 0, ones);
    return clamp ? act_sm_exp_sums_d_(x, store, n, m, sign, 0, 1, ones)
                 : act_sm_exp_sums_d_(x, store, n, m, sign, 0, 0, ones);
}

/* The backward's dot: sum of g[i] * y[i], or of g[i] when y is NULL, in double lanes
   (`omp simd reduction`, as the exp sums: a fixed order for a given level and n);
   float64 lanes carry the exact rounding errors of their additions (two_sum), added
   back at the end; float32 products are exact in double (so an FMA adds them with the
   one rounding of the addition).  Call with a literal NULL or
   a known non-NULL y, so that the test folds away. */
ACT_INLINE double act_sm_dot_d(const double *g, const double *y, ptrdiff_t n)
{
    double s = 0.0, err = 0.0;
#pragma omp simd reduction(+ : s, err)
    for (ptrdiff_t i = 0; i < n; i++) {
        double v = y != NULL ? g[i] * y[i] : g[i];
        double t = s + v;
        err += act_two_sum_err_d(s, v, t);
        s = t;
    }
    return s + err;
}

ACT_INLINE double act_sm_dot_f(const float *g, const float *y, ptrdiff_t n)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (ptrdiff_t i = 0; i < n; i++)
        s = y != NULL ? ACT_FMA_D((double)g[i], (double)y[i], s) : s + (double)g[i];
    return s;
}

/* log_softmax's write pass, float32: out = (x - m) - log_s, x - m in double (exact
   unless m is tiny), the double result rounded once to float32.  A row with a tiny
   maximum (ACT_SM_TINY_F) flushes x and m below the bound to 0 before the conversion
   (converting a subnormal takes a microcode assist): there x - m is below 2^-99 where
   log_s >= log 2 (two entries with e == 1), and otherwise only the maximum itself
   (x = m) is tiny.  `shift` (a constant): out = x - c for c = m + log_s rounded in
   double, where |c| <= 2^13 log_s (act_sm_log_write_f): out = (x - m) - log_s is at
   least log_s in magnitude (both terms <= 0), so c's rounding (2^-53 |c|) is within
   2^-39 of |out|.  The conversions bound the double form (four and four subtractions
   per vector of float32): at AVX-512 (ACT_MASK_SELECTS) the shift form stays in float32
   instead, c = ch + cl as two floats (within 2^-48 |c|), out = d + ((e - cl) unless d is
   -inf) for d + e = x - ch exactly (two_sum), within 2^-33 of |out| before its one
   rounding (0.5 + 2^-9 ulp): 0.19 -> 0.155 ns/element on Zen 4, where the double form's
   0.215 -> 0.18; at AVX2 the two cost the same, at SSE2 the float form more. */
ACT_INLINE void act_sm_log_write_f_(const float *x, float *out, ptrdiff_t n, float m,
                                    double log_s, int tiny, int shift)
{
    double c = (double)m + log_s;
    float ch = (float)c, cl = (float)(c - (double)ch);
    if (tiny) m = 0.0f;
#pragma omp simd
    for (ptrdiff_t i = 0; i < n; i++) {
        float xi = x[i];
        if (tiny) xi = act_fabs_f(xi) < ACT_SM_TINY_F ? 0.0f : xi;
        if (shift) {
#if ACT_MASK_SELECTS
            float d = xi - ch;
            float t = act_two_sum_err_f(xi, -ch, d) - cl;
            out[i] = d + (d == -ACT_INF_F ? 0.0f : t);   /* x = -inf: e is NaN */
#else
            (void)ch; (void)cl;
            out[i] = (float)((double)xi - c);
#endif
        } else {
            out[i] = (float)(((double)xi - (double)m) - log_s);
        }
    }
}

ACT_INLINE void act_sm_log_write_f(const float *x, float *out, ptrdiff_t n, float m,
                                   double log_s)
{
    /* log_s > 0: a row of one entry (log_s = 0) keeps x - m = +0 for x = m = -0 */
    if (act_fabs_f(m) < ACT_SM_TINY_F) act_sm_log_write_f_(x, out, n, m, log_s, 1, 0);
    else if (log_s > 0.0 && act_fabs_d((double)m + log_s) <= 0x1p13 * log_s)
        act_sm_log_write_f_(x, out, n, m, log_s, 0, 1);
    else act_sm_log_write_f_(x, out, n, m, log_s, 0, 0);
}

/* e / s for the write pass, given recip = 1 / s rounded: with FMA, Markstein's
   correction q + (e - q s) recip of q = e recip, which is the correctly rounded quotient
   (bit for bit the division's, subnormal results included: 2*10^7 random (e, s) pairs
   of each dtype over the write pass's ranges agree) at half the cost of a divide on
   this code's targets; without FMA the remainder would not be exact: divide. */
ACT_INLINE float act_sm_div_f(float e, float s, float recip)
{
#if ACT_HAVE_FMA
    float q = e * recip;
    return ACT_FMA_F(ACT_FMA_F(-q, s, e), recip, q);
#else
    (void)recip;
    return e / s;
#endif
}

ACT_INLINE double act_sm_div_d(double e, double s, double recip)
{
#if ACT_HAVE_FMA
    double q = e * recip;
    return ACT_FMA_D(ACT_FMA_D(-q, s, e), recip, q);
#else
    (void)recip;
    return e / s;
#endif
}

#endif /* ACTIVATIONS_SOFTMAX_MATH_H */
