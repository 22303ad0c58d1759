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
 *     with d clamped at ACT_SM_DMIN (below it every output rounds to 0 in the dtype,
 *     for any row length below 2^30) the scaled value is a normal number, built with
 *     one power-of-two factor, and the write pass out = e_scaled / (sum * 2^64)
 *     rounds once, subnormal outputs included (act_sm_div: a division, or with FMA
 *     the same correctly rounded quotient from a reciprocal).
 *  3. The sums are returned unscaled (times 2^-64, exact) and split as in
 *     _softmax.pxi's RowStats: the count of e == 1 (the maximum) and the sum of the
 *     others, so that log(sum) = log1p((ones - 1) + small) keeps the tiny terms
 *     (log_softmax of a dominant entry).  The float32 storing form (softmax) needs
 *     only the total, whose double lanes hold it with 29 bits to spare, and returns
 *     it all in `small` (ones = 0).  float64 lanes carry the exact rounding errors
 *     of their additions (two_sum), added back at the end, and always split.
 *  4. Special values: NaN or +inf in a row gives d = NaN (+inf - +inf, or NaN), which
 *     passes the clamp (a compare) and makes the sum NaN; x = -inf gives d = -inf,
 *     clamped, its error term (NaN) dropped: e is e^ACT_SM_DMIN * 2^64, an output of
 *     0 after the division (softmax) and not the sum's concern.
 */
#ifndef ACTIVATIONS_SOFTMAX_MATH_H
#define ACTIVATIONS_SOFTMAX_MATH_H

#include "_vmath.h"

/* e is stored as exp(d) * 2^64: normal for d >= -130 (float32: 2^(-188+64+...) >=
   2^-124) and d >= -750 (float64: 2^(-1083+64) >= 2^-1019). */
#define ACT_SM_SCALE_F 0x1p64f
#define ACT_SM_SCALE_D 0x1p64
#define ACT_SM_UNSCALE 0x1p-64
/* Clamps: exp(-130) = 2^-187.6 is below half the least float32 subnormal 2^-149
   times 2^-30 (so a row of up to 2^30 such terms still adds up to an output of 0);
   exp(-750) = 2^-1082 likewise for float64 (least subnormal 2^-1074). */
#define ACT_SM_DMIN_F (-130.0f)
#define ACT_SM_DMIN_D (-750.0)

/* exp(fx - m) * 2^64 for fx <= m (or NaN), the subtraction's rounding error folded in */
ACT_INLINE float act_sm_exp_f(float fx, float m)
{
    float d = fx - m;
    float err = act_two_sum_err_f(fx, -m, d);
    err = d < ACT_SM_DMIN_F ? 0.0f : err;   /* clamped: moot (NaN for x = -inf) */
    d = d < ACT_SM_DMIN_F ? ACT_SM_DMIN_F : d;
    float kd = ACT_FMA_F(d, ACT_LOG2E_F, ACT_SHIFTER_F);
    float n = kd - ACT_SHIFTER_F;
    float r = ACT_FMA_F(-n, ACT_LN2_HI_F, d) + ACT_FMA_F(-n, ACT_LN2_LO_F, err);
    float q = act_expm1_poly_f(r);
    uint32_t ni = act_asuint_f(kd) - act_asuint_f(ACT_SHIFTER_F); /* n, two's complement */
    float s = act_asfloat_u((ni + (127u + 64u)) << 23);
    return ACT_FMA_F(q, s, s);   /* (1 + q) * 2^(n+64), one rounding with FMA */
}

ACT_INLINE double act_sm_exp_d(double fx, double m)
{
    double d = fx - m;
    double err = act_two_sum_err_d(fx, -m, d);
    err = d < ACT_SM_DMIN_D ? 0.0 : err;
    d = d < ACT_SM_DMIN_D ? ACT_SM_DMIN_D : d;
    double kd = ACT_FMA_D(d, ACT_LOG2E_D, ACT_SHIFTER_D);
    double n = kd - ACT_SHIFTER_D;
    double r = ACT_FMA_D(-n, ACT_LN2_HI_D, d) + ACT_FMA_D(-n, ACT_LN2_LO_D, err);
    double q = act_expm1_poly_d(r);
    uint64_t ni = act_asuint_d(kd) - act_asuint_d(ACT_SHIFTER_D);
    double s = act_asdouble_u((ni + (1023u + 64u)) << 52);
    return ACT_FMA_D(q, s, s);
}

/* Sum of e = exp(flip*x - m) over a run, e stored scaled into store[i]; returns
   the (unscaled) sum, *ones = 0. */
ACT_INLINE double act_sm_exp_store_f(const float *x, float *store, ptrdiff_t n, float m,
                                     float flip, double *ones)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (ptrdiff_t i = 0; i < n; i++) {
        float e = act_sm_exp_f(flip * x[i], m);
        store[i] = e;
        s += (double)e;
    }
    *ones = 0.0;
    return s * ACT_SM_UNSCALE;
}

/* Sums of e = exp(flip*x - m) over a run, split: *ones = the count of e == 1, the
   return value the (unscaled) sum of the others (NaN included). */
ACT_INLINE double act_sm_exp_split_f(const float *x, ptrdiff_t n, float m, float flip,
                                     double *ones)
{
    double s = 0.0;
    int32_t c = 0;   /* per lane: exact up to 2^31 */
#pragma omp simd reduction(+ : s, c)
    for (ptrdiff_t i = 0; i < n; i++) {
        float e = act_sm_exp_f(flip * x[i], m);
        /* e - (e >= 1 ? 1 : 0), in float before the conversion (!(e >= 1): a NaN is summed) */
        float v = e - (e >= ACT_SM_SCALE_F ? ACT_SM_SCALE_F : 0.0f);
        s += (double)v;
        c += e >= ACT_SM_SCALE_F;
    }
    *ones = (double)c;
    return s * ACT_SM_UNSCALE;
}

/* float64, store (may be NULL) or not, always split: the lanes' partial sums are
   combined by plain additions, whose rounding would be relative to the maximum's
   e = 1 if it were among them.  Call it with a literal NULL, or with a store known to
   be non-NULL (inside an `if store != NULL`): the test then folds away and the loop
   vectorizes (an unknown store leaves a scalar copy of the loop for NULL). */
ACT_INLINE double act_sm_exp_sums_d(const double *x, double *store, ptrdiff_t n, double m,
                                    double flip, double *ones)
{
    double s = 0.0, err = 0.0;
    int64_t c = 0;
#pragma omp simd reduction(+ : s, err, c)
    for (ptrdiff_t i = 0; i < n; i++) {
        double e = act_sm_exp_d(flip * x[i], m);
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
