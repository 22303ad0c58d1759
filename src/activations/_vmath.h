/*
 * _vmath.h -- branch-free elementary functions for the activation kernels.
 *
 * Design:
 *  1. Every function here is `static inline`, free of branches, table look-ups and
 *     libm calls, so that GCC/Clang auto-vectorize the loops that call them (the
 *     kernels are plain `for` loops over contiguous memory).  Special cases are
 *     handled by computing the ordinary result for every lane and blending the
 *     special values in with `cond ? a : b` selects, which compile to blends.
 *     This needs `-fno-trapping-math` (else GCC refuses to if-convert) and works
 *     with `-ffp-contract=off`, which we use so that every SIMD level (SSE2, AVX2,
 *     AVX-512) and the scalar tail compute bit-identical results.
 *  2. One implementation per function and dtype: `act_*_f` (float32) and `act_*_d`
 *     (float64); each dtype is computed in its own precision.
 *  3. Algorithms: Cody-Waite range reduction x = n*ln2 + r with |r| <= ln2/2 and a
 *     near-minimax polynomial for expm1(r) = r + r^2 P(r) (Chebyshev interpolant,
 *     tools/fit_expm1.py: P of degree 5 for float32, 10 for float64, truncation
 *     error 0.03 / 0.01 ulp), evaluated with FMA where the level has it.  The log1p is fdlibm's/musl's (reduction of
 *     1+x to [sqrt(2)/2, sqrt(2)) with a correction term, then a minimax series in
 *     s = f/(2+f)), made branch-free.
 *  4. Special values (seen through the functions built on them, tests/test_special_values.py):
 *       exp:   NaN -> NaN, +inf -> +inf, -inf -> +0, overflow -> +inf, results in
 *              the denormal range are rounded once (two-factor scaling).
 *       expm1: NaN -> NaN, +inf -> +inf, -inf -> -1, |x| < 2^-25 (2^-54) -> x.
 *       expm1_nonpos: as expm1 on x <= 0 (+-0 -> +-0, denormals exact); x > 0 -> +0.
 *       log1p: NaN -> NaN, +inf -> +inf, -1 -> -inf, x < -1 -> NaN, +-0 -> +-0.
 */
#ifndef ACTIVATIONS_VMATH_H
#define ACTIVATIONS_VMATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Forced inlining: a helper left out of line is a call per element, and a loop with
   a call in it does not vectorize (GCC's inliner gives up on large callers). */
#if defined(__GNUC__) || defined(__clang__)
#define ACT_INLINE static inline __attribute__((always_inline))
#else
#define ACT_INLINE static inline
#endif

/* ---- bit casts (memcpy is the portable, vectorizable form) ------------------ */
ACT_INLINE uint32_t act_asuint_f(float x) { uint32_t u; memcpy(&u, &x, sizeof u); return u; }
ACT_INLINE float act_asfloat_u(uint32_t u) { float x; memcpy(&x, &u, sizeof x); return x; }
ACT_INLINE uint64_t act_asuint_d(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
ACT_INLINE double act_asdouble_u(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }

/* Fused multiply-add where the compiled level has it (AVX2+FMA, AVX-512): one rounding
   instead of two, and half the instructions in every polynomial.  The baseline level
   evaluates the same expression unfused, so results may differ between levels in the
   last bit (each level is accurate on its own; tests run at every level). */
#if defined(__FMA__) || defined(__AVX512F__)
#define ACT_HAVE_FMA 1
#define ACT_FMA_F(a, b, c) __builtin_fmaf((a), (b), (c))
#define ACT_FMA_D(a, b, c) __builtin_fma((a), (b), (c))
#else
#define ACT_HAVE_FMA 0
#define ACT_FMA_F(a, b, c) ((a) * (b) + (c))
#define ACT_FMA_D(a, b, c) ((a) * (b) + (c))
#endif

ACT_INLINE float act_fma_f(float a, float b, float c) { return ACT_FMA_F(a, b, c); }
ACT_INLINE double act_fma_d(double a, double b, double c) { return ACT_FMA_D(a, b, c); }

#define ACT_INF_F (act_asfloat_u(0x7f800000u))
#define ACT_NAN_F (act_asfloat_u(0x7fc00000u))
#define ACT_INF_D (act_asdouble_u(0x7ff0000000000000ull))
#define ACT_NAN_D (act_asdouble_u(0x7ff8000000000000ull))

ACT_INLINE float act_fabs_f(float x) { return act_asfloat_u(act_asuint_f(x) & 0x7fffffffu); }
ACT_INLINE double act_fabs_d(double x) { return act_asdouble_u(act_asuint_d(x) & 0x7fffffffffffffffull); }
/* copysign(mag, sgn) for a non-negative `mag` */
ACT_INLINE float act_copysign_f(float mag, float sgn)
{ return act_asfloat_u(act_asuint_f(mag) | (act_asuint_f(sgn) & 0x80000000u)); }
ACT_INLINE double act_copysign_d(double mag, double sgn)
{ return act_asdouble_u(act_asuint_d(mag) | (act_asuint_d(sgn) & 0x8000000000000000ull)); }

/* ---- range reduction shared by exp and expm1 ---------------------------------
 * n = round(x / ln2) with the "shifter" trick (adding 1.5 * 2^(p-1) rounds to an
 * integer and leaves it in the low mantissa bits, no float->int conversion), and
 * r = x - n*ln2 in two steps.  ln2_hi has enough trailing zero bits that n*ln2_hi
 * is exact for every n reached here; ln2_lo is positive so that x = -0 gives
 * r = -0 (fdlibm's split). */
#define ACT_SHIFTER_F 0x1.8p23f
#define ACT_LOG2E_F 0x1.715476p+0f
#define ACT_LN2_HI_F 6.9314575195e-01f /* 0x3f317200 */
#define ACT_LN2_LO_F 1.4286067653e-06f /* 0x35bfbe8e */

#define ACT_SHIFTER_D 0x1.8p52
#define ACT_LOG2E_D 0x1.71547652b82fep+0
#define ACT_LN2_HI_D 6.93147180369123816490e-01 /* 0x3fe62e42fee00000 */
#define ACT_LN2_LO_D 1.90821492927058770002e-10 /* 0x3dea39ef35793c76 */

/* The reduction, written once for every exp and expm1 here, _gelu.h's and
 * _softmax_math.h's: kd = act_exp_kd(x, shifter) = x log2(e) + shifter, whose low
 * mantissa bits hold n = round(x / ln2) (plus a bias b where the caller passes
 * ACT_SHIFTER + b, to find 2^n's exponent field there), and r = act_exp_r(x, kd,
 * shifter) = x - n ln2_hi - n ln2_lo, in that order, for n = kd - shifter (a caller
 * adds a correction lo to r itself).  Two value functions, no out-parameters: a site
 * that forms its own r (one step, or the lo terms apart) takes kd alone. */
ACT_INLINE float act_exp_kd_f(float x, float shifter) { return ACT_FMA_F(x, ACT_LOG2E_F, shifter); }
ACT_INLINE double act_exp_kd_d(double x, double shifter) { return ACT_FMA_D(x, ACT_LOG2E_D, shifter); }

ACT_INLINE float act_exp_r_f(float x, float kd, float shifter)
{
    float n = kd - shifter;
    return ACT_FMA_F(-n, ACT_LN2_LO_F, ACT_FMA_F(-n, ACT_LN2_HI_F, x));
}

ACT_INLINE double act_exp_r_d(double x, double kd, double shifter)
{
    double n = kd - shifter;
    return ACT_FMA_D(-n, ACT_LN2_LO_D, ACT_FMA_D(-n, ACT_LN2_HI_D, x));
}

/* expm1(r) for |r| <= ln2/2 + tiny: near-minimax, tools/fit_expm1.py (degree 5:
   0.03 ulp).  The terms of degree 2 to 5 by Estrin's scheme, the last two Horner steps
   as before (a chain of 5 operations instead of 6, as many operations, the same max
   error; see act_expm1_poly_d). */
#define ACT_EXPM1_F_C5 0.00019890980911441147f
#define ACT_EXPM1_F_C4 0.0013933641603216529f
#define ACT_EXPM1_F_C3 0.00833331048488617f
#define ACT_EXPM1_F_C2 0.04166646674275398f
#define ACT_EXPM1_F_C1 0.1666666716337204f
ACT_INLINE float act_expm1_poly_f(float r)
{
    float r2 = r * r;
    float high = ACT_FMA_F(ACT_FMA_F(ACT_EXPM1_F_C5, r, ACT_EXPM1_F_C4), r2,
                           ACT_FMA_F(ACT_EXPM1_F_C3, r, ACT_EXPM1_F_C2));
    float p = ACT_FMA_F(high, r, ACT_EXPM1_F_C1);
    p = ACT_FMA_F(p, r, 0.5f);
    return ACT_FMA_F(r2, p, r);
}

/* expm1(2s) / 2, bit for bit act_expm1_poly_f(2s) / 2: the same steps on s = r/2 with
   each coefficient and constant scaled by the power of two that keeps every
   intermediate an exact power-of-two multiple of act_expm1_poly_f's (scaling by 2^k
   commutes with rounding while nothing is subnormal; where s^2 is, it is far below an
   ulp of s).  Saves the caller forming r = 2s. */
ACT_INLINE float act_expm1_poly_half_f(float s)
{
    float s2 = s * s;
    float high = ACT_FMA_F(ACT_FMA_F(64.0f * ACT_EXPM1_F_C5, s, 32.0f * ACT_EXPM1_F_C4), s2,
                           ACT_FMA_F(16.0f * ACT_EXPM1_F_C3, s, 8.0f * ACT_EXPM1_F_C2));
    float p = ACT_FMA_F(high, s, 4.0f * ACT_EXPM1_F_C1);
    p = ACT_FMA_F(p, s, 1.0f);
    return ACT_FMA_F(s2, p, s);
}

/* expm1(r) for |r| <= ln2/2 + tiny: near-minimax, tools/fit_expm1.py (degree 10:
   0.01 ulp).  The terms of degree 3 to 10 by Estrin's scheme (pairs, then powers r^2,
   r^4), the last three Horner steps as before: a dependency chain of 7 operations
   instead of Horner's 11, for one more multiplication.  The chain, not the operation
   count, bounds a vector loop of exps on a core with wide FMA units (the scheduler
   fills with waiting steps).  The Horner steps keep the low terms' rounding: the result
   is as accurate as all-Horner (a whole-Estrin form measured 0.06 ulp worse).
   docs/performance-notes.md, "The float64 exp polynomial's dependency chain". */
ACT_INLINE double act_expm1_poly_d(double r)
{
    double r2 = r * r, r4 = r2 * r2;
    double p10_9 = ACT_FMA_D(2.0914679452495193e-09, r, 2.5105206480259365e-08);
    double p8_7 = ACT_FMA_D(2.755727366116628e-07, r, 2.755725542549107e-06);
    double p6_5 = ACT_FMA_D(2.480158732553351e-05, r, 0.00019841269874800694);
    double p4_3 = ACT_FMA_D(0.0013888888888883752, r, 0.008333333333326141);
    double high = ACT_FMA_D(ACT_FMA_D(p10_9, r2, p8_7), r4, ACT_FMA_D(p6_5, r2, p4_3));
    double p = ACT_FMA_D(high, r, 0.04166666666666667);
    p = ACT_FMA_D(p, r, 0.1666666666666667);
    p = ACT_FMA_D(p, r, 0.5);
    return ACT_FMA_D(r2, p, r);
}

/* ---- exp ---------------------------------------------------------------------
 * exp(x) = 2^n * (1 + expm1(r)).  The scale 2^n is applied as two factors
 * 2^(n>>1) * 2^(n - (n>>1)), each a normal number, so that results that
 * overflow become +inf and results in the denormal range are rounded once, by
 * the last multiplication.  act_exp_hilo(x, lo) is exp(x + lo) for a tiny
 * correction lo (|lo| <= ulp(x)), e.g. the rounding error of x = a - b or x = a*b:
 * lo joins the reduced argument, so the error of forming x costs no accuracy.
 * act_exp_scaled(x, lo, k) is exp(x + lo) * 2^k, exact in the scaling, for
 * 0 <= k <= 64 (float32) / 512 (float64): a result that would be denormal stays
 * normal, so a caller can multiply it further and round into the denormal range
 * once, at the end (see swish).
 * The input is clamped to [-104, 89] (float32) /
 * [-746, 710] (float64), outside of which the result is 0 or +inf anyway; the
 * clamps are written as compares so that NaN passes through them.  Below the lower
 * clamp the result is an exact +0 (a zero factor), so that -inf, huge negative
 * inputs and the like cost no underflowing multiplication. */
/* the lower clamp for a scaling by 2^k: exp(lowest) * 2^k rounds to 0 */
#define ACT_EXP_LOWEST_F(k) (-104.0f - 0.6931472f * (float)(k))
#define ACT_EXP_LOWEST_D(k_as_double) (-746.0 - 0.6931471805599453 * (k_as_double))

/* k_as_float: k as a float (act_exp_scaled_kd_d below: why) */
ACT_INLINE float act_exp_scaled_kf_f(float x, float lo, int32_t k, float k_as_float)
{
    const float lowest = ACT_EXP_LOWEST_F(k_as_float);
    const float x0 = x;
    lo = x < lowest ? 0.0f : lo;  /* clamped: the correction is moot (and may be huge) */
    lo = x > 89.0f ? 0.0f : lo;
    x = x < lowest ? lowest : x;
    x = x > 89.0f ? 89.0f : x;
    float kd = act_exp_kd_f(x, ACT_SHIFTER_F);
    float r = act_exp_r_f(x, kd, ACT_SHIFTER_F) + lo;
    float q = act_expm1_poly_f(r);
    int32_t ni = (int32_t)(act_asuint_f(kd) - act_asuint_f(ACT_SHIFTER_F)) + k;
    int32_t n1 = ni >> 1;
    int32_t n2 = ni - n1;
    float s1 = act_asfloat_u((uint32_t)(n1 + 127) << 23);
    float s2 = act_asfloat_u((uint32_t)(n2 + 127) << 23);
    /* below `lowest` the result is +0 by a zero factor, not by a product that underflows
       (an underflowing multiplication is as slow as a subnormal one; docs/
       performance-notes.md "Value dependence") */
    float p = x0 < lowest ? 0.0f : 1.0f + q;
    return (p * s1) * s2;
}

ACT_INLINE float act_exp_scaled_f(float x, float lo, int32_t k)
{
    return act_exp_scaled_kf_f(x, lo, k, (float)k);
}

ACT_INLINE float act_exp_hilo_f(float x, float lo) { return act_exp_scaled_f(x, lo, 0); }
ACT_INLINE float act_exp_f(float x) { return act_exp_scaled_f(x, 0.0f, 0); }

/* k_as_double: k, which the callers with a constant k fold; one with a k per lane
   (act_mul_exp_wide_d) passes it as formed in doubles: avx2 has no vector conversion of
   64-bit integers */
ACT_INLINE double act_exp_scaled_kd_d(double x, double lo, int64_t k, double k_as_double)
{
    const double lowest = ACT_EXP_LOWEST_D(k_as_double);
    const double x0 = x;
    lo = x < lowest ? 0.0 : lo;
    lo = x > 710.0 ? 0.0 : lo;
    x = x < lowest ? lowest : x;
    x = x > 710.0 ? 710.0 : x;
    double kd = act_exp_kd_d(x, ACT_SHIFTER_D);
    double r = act_exp_r_d(x, kd, ACT_SHIFTER_D) + lo;
    double q = act_expm1_poly_d(r);
    int64_t ni = (int64_t)(act_asuint_d(kd) - act_asuint_d(ACT_SHIFTER_D)) + k;
    int64_t n1 = ni >> 1;
    int64_t n2 = ni - n1;
    double s1 = act_asdouble_u((uint64_t)(n1 + 1023) << 52);
    double s2 = act_asdouble_u((uint64_t)(n2 + 1023) << 52);
    double p = x0 < lowest ? 0.0 : 1.0 + q;
    return (p * s1) * s2;
}

ACT_INLINE double act_exp_scaled_d(double x, double lo, int64_t k)
{
    return act_exp_scaled_kd_d(x, lo, k, (double)k);
}

ACT_INLINE double act_exp_hilo_d(double x, double lo) { return act_exp_scaled_d(x, lo, 0); }

/* act_exp_scaled_up_deep(x, lo, deep) = exp(x + lo) * 2^64 (2^512), as the formulas'
 * scaled-up exp, or where deep != 0 * 2^(64 + 90) (2^(512 + 570)): the deep lanes of
 * _formulas.pxd "Large grads at underflowing derivatives", whose exp(x) * 2^64 (2^512)
 * is subnormal or 0 (x < -131.7 / -1063) and whose large factor is scaled down by
 * ACT_DEEP_DOWN instead.  The shifts: x in [-192.7, -128) / [-1454.8, -1024) (below,
 * the product with any factor rounds to 0) keeps the result normal and below 2^-30.7 /
 * 2^-394, under the formulas' scaled_tiny / 2 (so they take their scaled branches and
 * guarded t there, as for the other lanes), and a factor of big_factor (2^60 / 2^480)
 * or more times ACT_DEEP_DOWN stays normal (exact).  The flag is a float (a select of
 * the lane's width: a 32-bit int mask with float64 lanes does not vectorize on SSE2). */
#define ACT_DEEP_DOWN_F 0x1p-90f
#define ACT_DEEP_DOWN_D 0x1p-570
ACT_INLINE float act_exp_scaled_up_deep_f(float x, float lo, float deep)
{
    return act_exp_scaled_kf_f(x, lo, deep != 0.0f ? 154 : 64, deep != 0.0f ? 154.0f : 64.0f);
}

ACT_INLINE double act_exp_scaled_up_deep_d(double x, double lo, double deep)
{
    return act_exp_scaled_kd_d(x, lo, deep != 0.0 ? 1082 : 512, deep != 0.0 ? 1082.0 : 512.0);
}
ACT_INLINE double act_exp_d(double x) { return act_exp_scaled_d(x, 0.0, 0); }

/* ---- exp with a normal result, for the per-block fast paths ------------------------
 * act_exp_scaled's arithmetic without its rare cases: for x + lo in [-87, 88] (float32) /
 * [-708, 709] (float64) the result is 2^n (1 + expm1(r)) with 2^n one normal factor, bit
 * for bit what act_exp_scaled gives there (its two factors and its scaling by 2^k are exact
 * for a normal result).  Above that range the scale's exponent wraps: a power of two, 0
 * or inf, never subnormal, at lanes whose callers select another value (sigmoid and silu
 * forward past -FAST_SAT).  Below -87 / -708 the argument is clamped (a compare, so NaN
 * passes and gives NaN): the result is then exp(-87) / exp(-708), not exp(x), so a caller
 * uses it only where the value no longer matters (1 + t rounds to 1) and leaves every
 * other input to its exact formula (_formulas.pxd, "Per-block fast paths").  About half
 * the instructions of act_exp_scaled: no second factor, no zero select, no clamp of lo. */
#define ACT_EXP_NORMAL_MIN_F (-87.0f)   /* exp(-87) = 2^-125.5: n >= -126 */
#define ACT_EXP_NORMAL_MIN_D (-708.0)   /* exp(-708) = 2^-1021.4: n >= -1021 */
/* below these act_exp_f / act_exp_d is an exact +0 (act_exp_scaled's zero factor, k = 0) */
#define ACT_EXP_ZERO_BELOW_F ACT_EXP_LOWEST_F(0)
#define ACT_EXP_ZERO_BELOW_D ACT_EXP_LOWEST_D(0.0)

/* with_lo and clamp are constants at every call (folded away; clamp 0: the caller
   clamped, act_exp_normal_neg): lo = 0 skips the addition, which
   changes nothing but costs one (r = -0 and r = +0 give the same q, +0).  The scale is
   q s + s, one fma, not (1 + q) s: s = 2^n is a normal power of two and so is every
   result here, so both round 1 + q once at the same position (the same bits), for one
   operation fewer (docs/performance-notes.md, "sigmoid and silu forward against ONNX
   Runtime").  Without FMA, q s alone may be subnormal (n = -126 / -1022): the product
   form stays there. */
ACT_INLINE float act_exp_normal_impl_f(float x, float lo, int with_lo, int clamp)
{
    if (clamp) x = x < ACT_EXP_NORMAL_MIN_F ? ACT_EXP_NORMAL_MIN_F : x;
    float kd = act_exp_kd_f(x, ACT_SHIFTER_F);
    float r = act_exp_r_f(x, kd, ACT_SHIFTER_F);
    if (with_lo) r += lo;
    float q = act_expm1_poly_f(r);
    int32_t ni = (int32_t)(act_asuint_f(kd) - act_asuint_f(ACT_SHIFTER_F));
    float s = act_asfloat_u((uint32_t)(ni + 127) << 23);
    return ACT_HAVE_FMA ? ACT_FMA_F(q, s, s) : (1.0f + q) * s;
}

ACT_INLINE double act_exp_normal_impl_d(double x, double lo, int with_lo, int clamp)
{
    if (clamp) x = x < ACT_EXP_NORMAL_MIN_D ? ACT_EXP_NORMAL_MIN_D : x;
    double kd = act_exp_kd_d(x, ACT_SHIFTER_D);
    double r = act_exp_r_d(x, kd, ACT_SHIFTER_D);
    if (with_lo) r += lo;
    double q = act_expm1_poly_d(r);
    int64_t ni = (int64_t)(act_asuint_d(kd) - act_asuint_d(ACT_SHIFTER_D));
    double s = act_asdouble_u((uint64_t)(ni + 1023) << 52);
    return ACT_HAVE_FMA ? ACT_FMA_D(q, s, s) : (1.0 + q) * s;
}

ACT_INLINE float act_exp_normal_hilo_f(float x, float lo) { return act_exp_normal_impl_f(x, lo, 1, 1); }
ACT_INLINE float act_exp_normal_f(float x) { return act_exp_normal_impl_f(x, 0.0f, 0, 1); }
ACT_INLINE double act_exp_normal_hilo_d(double x, double lo) { return act_exp_normal_impl_d(x, lo, 1, 1); }
ACT_INLINE double act_exp_normal_d(double x) { return act_exp_normal_impl_d(x, 0.0, 0, 1); }

/* act_exp_normal(-x) with the clamp taken on x: -min(x, -ACT_EXP_NORMAL_MIN), the min
 * on x's bits as signed integers (the bits of a non-negative float order as its value;
 * a negative x, its sign bit a negative integer, stays x, -NaN too; +inf gives the bound).
 * One vpminsd (vpminsq) where the clamp is a compare and a blend (GCC emits no vminps
 * for `x < c ? c : x` without -ffinite-math-only).  The same value as act_exp_normal(-x)
 * except at a +NaN x, which gives exp(-87) / exp(-708), not NaN: for a caller whose
 * result carries x's NaN by itself (silu's x / (1 + t)).  float64 needs 64-bit integer
 * compares (ACT_VEC_U64_COMPARE below; the float form otherwise, _vmath.pxd). */
ACT_INLINE float act_exp_normal_neg_f(float x)
{
    int32_t xi = (int32_t)act_asuint_f(x), ci = (int32_t)act_asuint_f(-ACT_EXP_NORMAL_MIN_F);
    return act_exp_normal_impl_f(-act_asfloat_u((uint32_t)(xi < ci ? xi : ci)), 0.0f, 0, 0);
}

ACT_INLINE double act_exp_normal_neg_d(double x)
{
    int64_t xi = (int64_t)act_asuint_d(x), ci = (int64_t)act_asuint_d(-ACT_EXP_NORMAL_MIN_D);
    return act_exp_normal_impl_d(-act_asdouble_u((uint64_t)(xi < ci ? xi : ci)), 0.0, 0, 0);
}

/* ---- exp scaled up, for the deep-negative blocks ------------------------------------
 * act_exp_deep_up(x, lo) = act_exp_scaled(x, lo, 64) (float32) / (x, lo, 512) (float64),
 * bit for bit, for x <= -1 (-inf too) and |lo| <= ulp(x), NaN excluded: the deep-negative
 * blocks' exp, x below -DEEP_NEG (_formulas.pxd).  There 2^(n + 2k) (k = 64 / 512) is one
 * normal factor from x = lowest (2^-86 / 2^-564) up (n <= -1: 2^127 / 2^1023), so the
 * exact product (1 + q) 2^(n + 2k) times the constant 2^-k rounds (1 + q) 2^(n + k)
 * once, as act_exp_scaled's two factors do.  Below lowest act_exp_scaled gives +0 by a
 * zero factor; clamped to lowest here, exp(lowest + lo) 2^k (2^-150.04 / 2^-1076.2)
 * rounds to +0 too.  So no upper clamp, no clamps of lo, no zero select and no second
 * variable factor.  Where the level has FMA, (1 + q) 2^(n + 2k) is fma(q, s, s) (normal:
 * the same rounding as 1 + q's, one instruction less) and the product by 2^-k
 * fma(., 2^-k, -0) (the same rounding and sign; without FMA the macro is that multiply
 * + -0): below x = -131 / -1063 it rounds into the subnormal range (clamped lanes: to
 * +0), a multiply 3x slower there on Zen 5, an FMA not (docs/performance-notes.md
 * "Subnormal operands on Zen 5").  act_exp_deep_up2(x, lo) is the exact product's
 * rounding before that constant, (1 + q) 2^(n + 2k) = exp(x + lo) 2^(2k), normal for
 * every x (from 2^-86 / 2^-564 at lowest): for a caller whose last step scales by
 * 2^-2k (_formulas.pxd silu_forward_neg). */
#define ACT_DEEP_UP2_DOWN_F 0x1p-128f     /* 1 / act_exp_deep_up2's 2^(2k) */
#define ACT_DEEP_UP2_DOWN_D 0x1p-1024
ACT_INLINE float act_exp_deep_up2_f(float x, float lo)
{
    /* the clamp as a signed min of the bits (vpminsd): for x <= -1 and -inf the bits of
       a negative float fall as its value rises, so this is max(x, lowest) */
    int32_t xi = (int32_t)act_asuint_f(x), li = (int32_t)act_asuint_f(ACT_EXP_LOWEST_F(64));
    x = act_asfloat_u((uint32_t)(xi < li ? xi : li));
    float kd = act_exp_kd_f(x, ACT_SHIFTER_F);
    float r = act_exp_r_f(x, kd, ACT_SHIFTER_F) + lo;
    float q = act_expm1_poly_f(r);
    int32_t ni = (int32_t)(act_asuint_f(kd) - act_asuint_f(ACT_SHIFTER_F)) + 128;
    float s = act_asfloat_u((uint32_t)(ni + 127) << 23);
    return ACT_HAVE_FMA ? ACT_FMA_F(q, s, s) : (1.0f + q) * s;
}

ACT_INLINE double act_exp_deep_up2_d(double x, double lo)
{
    const double lowest = ACT_EXP_LOWEST_D(512.0);
#if defined(__AVX512F__)
    int64_t xi = (int64_t)act_asuint_d(x), li = (int64_t)act_asuint_d(lowest);
    x = act_asdouble_u((uint64_t)(xi < li ? xi : li));
#else
    /* below AVX-512 no vpminsq: AVX2's 64-bit compare, blend and moves counted more
       than the float select (swish backward's underflow 13.24 -> 13.54 per element) */
    x = x < lowest ? lowest : x;
#endif
    double kd = act_exp_kd_d(x, ACT_SHIFTER_D);
    double r = act_exp_r_d(x, kd, ACT_SHIFTER_D) + lo;
    double q = act_expm1_poly_d(r);
    int64_t ni = (int64_t)(act_asuint_d(kd) - act_asuint_d(ACT_SHIFTER_D)) + 1024;
    double s = act_asdouble_u((uint64_t)(ni + 1023) << 52);
    return ACT_HAVE_FMA ? ACT_FMA_D(q, s, s) : (1.0 + q) * s;
}

ACT_INLINE float act_exp_deep_up_f(float x, float lo)
{
    return ACT_FMA_F(act_exp_deep_up2_f(x, lo), 0x1p-64f, -0.0f);
}

ACT_INLINE double act_exp_deep_up_d(double x, double lo)
{
    return ACT_FMA_D(act_exp_deep_up2_d(x, lo), 0x1p-512, -0.0);
}

/* ---- results in the subnormal range, without subnormal arithmetic -----------------
 * On Intel cores a multiplication, FMA, division or conversion whose input or output is
 * subnormal (or underflows) takes a microcode assist of ~100 cycles, and SIMD code pays
 * it for the whole vector (additions, subtractions and compares do not; measured in
 * docs/performance-notes.md, "Subnormal results").  The formulas therefore compute a
 * value that may end up subnormal scaled up by 2^64 (float32) / 2^512 (float64), a
 * normal number, and scale it down with integer operations:
 *   act_scale_down(v) = v * 2^-64 (2^-512), rounded once to nearest even: where the result
 *   is subnormal, w = |v| * 2^85 (2^562) is it in units of the subnormal grid 2^-149
 *   (2^-1074), a normal number below 2^23 (2^52); w + 2^23 (2^52) rounds it to an integer
 *   and leaves that in the low bits, which are the result's bits (2^23 itself, after
 *   rounding up, is the bit pattern of the least normal number).  Where the result is
 *   normal its exponent field drops by 64 (512), exactly; inf and NaN stay, +-0 stays.
 *   For every v, bit for bit v * 2^-64 (2^-512) as the multiplication would give it.
 *   act_scale_up(v) = v * 2^64 (2^512), exact, for |v| < 2^63 (2^511), also for a
 *   subnormal v: its bits are an integer significand, converted (exactly) and scaled. */
/* finite = 1 (a constant at every call, folded away) drops the select that keeps +inf:
   for callers whose v is finite (a NaN v gives some value; its lane is discarded) */
ACT_INLINE float act_scale_down_impl_f(float v, int finite)
{
    float av = act_fabs_f(v);
    float w = av * 0x1p85f;
    uint32_t sub = act_asuint_f(w + 0x1p23f) - act_asuint_f(0x1p23f);
    uint32_t nrm = (finite || av < ACT_INF_F) ? act_asuint_f(av) - (64u << 23) : act_asuint_f(av);
    uint32_t mag = w < 0x1p23f ? sub : nrm;
    return act_asfloat_u(mag | (act_asuint_f(v) & 0x80000000u));
}

ACT_INLINE double act_scale_down_impl_d(double v, int finite)
{
    double av = act_fabs_d(v);
    double w = av * 0x1p562;
    uint64_t sub = act_asuint_d(w + 0x1p52) - act_asuint_d(0x1p52);
    uint64_t nrm = (finite || av < ACT_INF_D) ? act_asuint_d(av) - (512ull << 52) : act_asuint_d(av);
    uint64_t mag = w < 0x1p52 ? sub : nrm;
    return act_asdouble_u(mag | (act_asuint_d(v) & 0x8000000000000000ull));
}

ACT_INLINE float act_scale_down_f(float v) { return act_scale_down_impl_f(v, 0); }
ACT_INLINE double act_scale_down_d(double v) { return act_scale_down_impl_d(v, 0); }
ACT_INLINE float act_scale_down_finite_f(float v) { return act_scale_down_impl_f(v, 1); }
ACT_INLINE double act_scale_down_finite_d(double v) { return act_scale_down_impl_d(v, 1); }

/* act_scale_down_plain(v) = act_scale_down(v) bit for bit, for cores whose subnormal
 * arithmetic is not slow (the deep-negative tier's `subnormal_detours` off): where the
 * level has FMA, fma(v, 2^-64, -0) rounds the exact v 2^-64 once, as act_scale_down does
 * (adding -0 changes no value and no zero's sign; inf and NaN pass), in one instruction
 * against about nine.  On Zen 5 an FMA that rounds into the subnormal range costs as a
 * normal one, a multiply up to 3x (docs/performance-notes.md "Subnormal operands on Zen
 * 5"); on Intel both take an assist, hence the switch.  The baseline level (no FMA, where
 * a multiply would be the slow one) keeps the integer form; `finite` as above. */
ACT_INLINE float act_scale_down_plain_f(float v, int finite)
{
#if ACT_HAVE_FMA
    (void)finite;
    return __builtin_fmaf(v, 0x1p-64f, -0.0f);
#else
    return act_scale_down_impl_f(v, finite);
#endif
}

ACT_INLINE double act_scale_down_plain_d(double v, int finite)
{
#if ACT_HAVE_FMA
    (void)finite;
    return __builtin_fma(v, 0x1p-512, -0.0);
#else
    return act_scale_down_impl_d(v, finite);
#endif
}

/* act_scale_down_rn(p, e) = (p + e) * 2^-64 (2^-512) rounded once, for p = a * b as
 * rounded and e its exact residual (two_prod): act_scale_down(p), but where |p| * 2^85
 * (2^562), the result in units of the subnormal grid, is a tie (k + 1/2 exactly), e
 * decides it, as in act_tiny_mul below.  (No half-integer lies strictly between p and
 * p + e: it would be a float nearer to a * b than p.)  Where the result is normal it is
 * p's, exactly scaled. */
ACT_INLINE float act_scale_down_rn_f(float p, float e)
{
    float av = act_fabs_f(p);
    float w = av * 0x1p85f;
    float k = (w + 0x1p23f) - 0x1p23f;            /* nearest, ties to even */
    float d = w - k;
    float es = act_asfloat_u(act_asuint_f(e) ^ (act_asuint_f(p) & 0x80000000u)); /* e * sign(p) */
    k += ((d == 0.5f) & (es > 0.0f)) ? 1.0f : 0.0f;
    k -= ((d == -0.5f) & (es < 0.0f)) ? 1.0f : 0.0f;
    uint32_t sub = act_asuint_f(k + 0x1p23f) - act_asuint_f(0x1p23f);
    uint32_t nrm = av < ACT_INF_F ? act_asuint_f(av) - (64u << 23) : act_asuint_f(av);
    uint32_t mag = w < 0x1p23f ? sub : nrm;
    return act_asfloat_u(mag | (act_asuint_f(p) & 0x80000000u));
}

ACT_INLINE double act_scale_down_rn_d(double p, double e)
{
    double av = act_fabs_d(p);
    double w = av * 0x1p562;
    double k = (w + 0x1p52) - 0x1p52;
    double d = w - k;
    double es = act_asdouble_u(act_asuint_d(e) ^ (act_asuint_d(p) & 0x8000000000000000ull));
    k += ((d == 0.5) & (es > 0.0)) ? 1.0 : 0.0;
    k -= ((d == -0.5) & (es < 0.0)) ? 1.0 : 0.0;
    uint64_t sub = act_asuint_d(k + 0x1p52) - act_asuint_d(0x1p52);
    uint64_t nrm = av < ACT_INF_D ? act_asuint_d(av) - (512ull << 52) : act_asuint_d(av);
    uint64_t mag = w < 0x1p52 ? sub : nrm;
    return act_asdouble_u(mag | (act_asuint_d(p) & 0x8000000000000000ull));
}

/* act_mul_exp_wide_d(x, y, c, z) = x * y * c * exp(z) for normal x and y whose product
 * may overflow, 1 <= |c| < 2^12 and z <= 0, where the result may be anywhere from an
 * overflow to below the subnormal range: exp(z) * 2^512 (act_exp_scaled with k = 512)
 * is itself subnormal below z = -1063, and a product scaled down by 2^-512 or 2^-1024
 * (the gates' wide forms) leaves the normal range below -1063.  x = mx 2^ex and
 * y = my 2^ey (mx, my in [1, 2), exact: only the exponent fields change), so
 * m = (mx my) c is x * y's rounding scaled exactly (then c's), and the scaling 2^(ex+ey)
 * goes into the exp's k, exact: est = ex + ey + z log2(e) is log2 |x y c exp(z)| less
 * 0 to 14.  est >= -256: the result m exp(z) 2^(ex+ey), the exp's a normal number
 * (or the result a true overflow); below: the same with k 512 more, at most 2^270 and
 * normal down to results of 2^-1075, rounded into the subnormal range once
 * (act_scale_down_d).  The exponents as doubles by bit operations (no 64-bit integer
 * conversion, which avx2 does not vectorize); the exp's clamp gives an exact 0 below
 * the range. */
ACT_INLINE double act_mul_exp_wide_d(double x, double y, double c, double z)
{
    const uint64_t expo = 0x7ff0000000000000ull;
    const uint64_t one = 0x3ff0000000000000ull;
    uint64_t ux = act_asuint_d(x), uy = act_asuint_d(y);
    double m = act_asdouble_u((ux & ~expo) | one) * act_asdouble_u((uy & ~expo) | one) * c;
    uint64_t fields = ((ux & expo) >> 52) + ((uy & expo) >> 52);  /* ex + ey + 2046 */
    double e = act_asdouble_u(fields | 0x4330000000000000ull) - 0x1p52 - 2046.0;
    double est = e + z * ACT_LOG2E_D;
    int small = est < -256.0;
    int64_t k = (int64_t)fields - 2046 + (small ? 512 : 0);
    double v = m * act_exp_scaled_kd_d(z, 0.0, k, e + (small ? 512.0 : 0.0));
    return small ? act_scale_down_d(v) : v;
}

/* act_guard_small(v, below, stand_in): v, or where |v| < below (NaN is not) v's sign and
 * significand with stand_in's exponent (stand_in a power of two): a normal stand-in for
 * the lanes whose value a formula discards, so that no arithmetic on them takes the slow
 * path.  Bit operations, on purpose: with a float select GCC moves the product that
 * follows into both arms (AVX-512: a masked multiply, and masked-off lanes still take
 * the slow path), and where the final select compares as the guard does it drops the
 * guard as dead; callers guard at a different constant than they select. */
ACT_INLINE float act_guard_small_f(float v, float below, float stand_in)
{
    uint32_t m = act_fabs_f(v) < below ? 0x7f800000u : 0u;
    return act_asfloat_u((act_asuint_f(v) & ~m) | (m & act_asuint_f(stand_in)));
}

ACT_INLINE double act_guard_small_d(double v, double below, double stand_in)
{
    uint64_t m = act_fabs_d(v) < below ? 0x7ff0000000000000ull : 0ull;
    return act_asdouble_u((act_asuint_d(v) & ~m) | (m & act_asuint_d(stand_in)));
}

/* act_select_ge(v, bound, a, b) = v >= bound ? a : b (act_select_gt: v > bound), as a bit select, so that a and b
 * are both computed in every lane.  With `?:` GCC if-converts the two arms and predicates
 * what only one arm uses with that arm's condition (a masked compare, a masked multiply),
 * which turns a guard of the other lanes (act_guard_small) off exactly where it is
 * needed: elu's backward at x = -95, a plain C loop at avx512, 6.4 ns/element with `?:`,
 * 0.62 with this (0.71 and 0.62 at x = -70, where the results are normal).  The mask has
 * the width of the float (no int lanes among float64 ones, for SSE2). */
ACT_INLINE float act_select_ge_f(float v, float bound, float a, float b)
{
    uint32_t m = v >= bound ? 0xffffffffu : 0u;
    return act_asfloat_u((act_asuint_f(a) & m) | (act_asuint_f(b) & ~m));
}

ACT_INLINE double act_select_ge_d(double v, double bound, double a, double b)
{
    uint64_t m = v >= bound ? ~0ull : 0ull;
    return act_asdouble_u((act_asuint_d(a) & m) | (act_asuint_d(b) & ~m));
}

ACT_INLINE float act_select_gt_f(float v, float bound, float a, float b)
{
    uint32_t m = v > bound ? 0xffffffffu : 0u;
    return act_asfloat_u((act_asuint_f(a) & m) | (act_asuint_f(b) & ~m));
}

ACT_INLINE double act_select_gt_d(double v, double bound, double a, double b)
{
    uint64_t m = v > bound ? ~0ull : 0ull;
    return act_asdouble_u((act_asuint_d(a) & m) | (act_asuint_d(b) & ~m));
}

ACT_INLINE float act_scale_up_f(float v)
{
    uint32_t u = act_asuint_f(v);
    uint32_t mag = u & 0x7fffffffu;
    /* subnormal (or zero): m * 2^-149 * 2^64 = m * 2^-85, m < 2^23 converts exactly */
    float sub = (float)(int32_t)mag * 0x1p-85f;
    float nrm = act_asfloat_u(mag + (64u << 23));
    float up = mag < 0x00800000u ? sub : nrm;
    return act_asfloat_u(act_asuint_f(up) | (u & 0x80000000u));
}

ACT_INLINE double act_scale_up_d(double v)
{
    uint64_t u = act_asuint_d(v);
    uint64_t mag = u & 0x7fffffffffffffffull;
    /* int64 -> double has no SIMD form before AVX-512DQ: m < 2^52 added to the bits of
       2^52 is 2^52 + m exactly (as in act_log1p_d) */
    double sub = (act_asdouble_u(0x4330000000000000ull | mag) - 0x1p52) * 0x1p-562;
    double nrm = act_asdouble_u(mag + (512ull << 52));
    double av = act_fabs_d(v);
    double up = av < 0x1p-1022 ? sub : nrm;
    return act_asdouble_u(act_asuint_d(up) | (u & 0x8000000000000000ull));
}

/* ---- exp in double for a float32 result -----------------------------------------
 * exp(x) for |x| <= 700 (NaN -> NaN) to 5.3e-10 relative (0.01 float32 ulp): the
 * float32 functions that are evaluated in double and rounded once (_gelu.h) need no
 * more.  Against act_exp_d: the degree-5 polynomial of act_expm1_poly_f with its
 * double coefficients (tools/fit_expm1.py), one 2^n factor (a normal double for every
 * n reached), no clamps (callers bound x). */
ACT_INLINE double act_exp_for_f32_d(double x)
{
    double kd = act_exp_kd_d(x, ACT_SHIFTER_D);
    double r = act_exp_r_d(x, kd, ACT_SHIFTER_D);
    double p = 0.00019890980969294606;
    p = ACT_FMA_D(p, r, 0.0013933641121625462);
    p = ACT_FMA_D(p, r, 0.008333310934359203);
    p = ACT_FMA_D(p, r, 0.04166646500523263);
    p = ACT_FMA_D(p, r, 0.16666666681614345);
    p = ACT_FMA_D(p, r, 0.5000000013457808);
    double q = ACT_FMA_D(r * r, p, r);
    int64_t ni = (int64_t)(act_asuint_d(kd) - act_asuint_d(ACT_SHIFTER_D));
    return (1.0 + q) * act_asdouble_u((uint64_t)(ni + 1023) << 52);
}

/* ---- expm1 ---------------------------------------------------------------------
 * expm1(x) = 2^n * expm1(r) + (2^n - 1), evaluated as
 * 2 * (t*q + (t - 1/2)) with t = 2^(n-1): every step but two roundings is exact,
 * n = 0 gives q itself (full relative accuracy near 0), and t stays a normal
 * number up to the float overflow threshold.  Inputs are clamped to [-30, 89]
 * (float32) / [-50, 710] (float64): below, expm1 rounds to -1 in that precision. */
ACT_INLINE float act_expm1_f(float x)
{
    float xc = x < -30.0f ? -30.0f : x;
    xc = xc > 89.0f ? 89.0f : xc;
    float kd = act_exp_kd_f(xc, ACT_SHIFTER_F);
    float r = act_exp_r_f(xc, kd, ACT_SHIFTER_F);
    float q = act_expm1_poly_f(r);
    int32_t ni = (int32_t)(act_asuint_f(kd) - act_asuint_f(ACT_SHIFTER_F));
    float t = act_asfloat_u((uint32_t)(ni + 126) << 23);
    float y = 2.0f * ACT_FMA_F(t, q, t - 0.5f);
    /* |x| < 2^-25: expm1(x) rounds to x (keeps -0 and denormals exact) */
    return act_fabs_f(x) < 0x1p-25f ? x : y;
}

ACT_INLINE double act_expm1_d(double x)
{
    double xc = x < -50.0 ? -50.0 : x;
    xc = xc > 710.0 ? 710.0 : xc;
    double kd = act_exp_kd_d(xc, ACT_SHIFTER_D);
    double r = act_exp_r_d(xc, kd, ACT_SHIFTER_D);
    double q = act_expm1_poly_d(r);
    int64_t ni = (int64_t)(act_asuint_d(kd) - act_asuint_d(ACT_SHIFTER_D));
    double t = act_asdouble_u((uint64_t)(ni + 1022) << 52);
    double y = 2.0 * ACT_FMA_D(t, q, t - 0.5);
    return act_fabs_d(x) < 0x1p-54 ? x : y;
}

/* ---- expm1 on x <= 0 -----------------------------------------------------------
 * For the functions that need expm1 of a non-positive argument only (elu, selu:
 * x <= 0; tanh: -2|x|), a cheaper form than act_expm1:
 *  - with n <= 0, t = 2^n is a normal number, and expm1(x) = t*q + (t - 1) needs no
 *    halving (t - 1 is exact for n >= -24; below, expm1 rounds to -1 anyway);
 *  - float32 reduces in one step, r = x - n*ln2_f with ln2 rounded to float32: the
 *    error n * (ln2 - ln2_f) is scaled by 2^n, so it stays below 0.06 ulp of the
 *    result for every n <= 0 (ln2_f is 0.03 ulp of float32 from ln2; without FMA the
 *    rounding of n*ln2_f is scaled alike: the baseline level's sweep maxima are those
 *    of the two-step form); float64 keeps the two-step split (its ln2 is 0.2 ulp off);
 *  - 2^n is built by one shift of the shifter's bits (their low bits hold n).
 * act_expm1_nonpos_parts clamps nothing: x must lie in [ACT_EXPM1_NONPOS_LOWEST, 0]
 * (NaN passes through to q).  It returns q = expm1(r) and sets *t = 2^n. */
#define ACT_EXPM1_NONPOS_LOWEST_F (-20.0f)   /* expm1 rounds to -1 below -17.4 */
#define ACT_EXPM1_NONPOS_LOWEST_D (-40.0)    /* and below -37.5 */
#define ACT_LN2_F 0x1.62e430p-1f             /* ln2 rounded to float32 */

ACT_INLINE float act_expm1_nonpos_parts_f(float x, float *t)
{
    float kd = act_exp_kd_f(x, ACT_SHIFTER_F);
    float n = kd - ACT_SHIFTER_F;
    /* the shifter's bits are 0x4b400000 + n: shifted left by 23, only n remains */
    *t = act_asfloat_u((act_asuint_f(kd) << 23) + (127u << 23));
    return act_expm1_poly_f(ACT_FMA_F(-n, ACT_LN2_F, x));
}

ACT_INLINE double act_expm1_nonpos_parts_d(double x, double *t)
{
    double kd = act_exp_kd_d(x, ACT_SHIFTER_D);
    double r = act_exp_r_d(x, kd, ACT_SHIFTER_D);
    *t = act_asdouble_u((act_asuint_d(kd) << 52) + (1023ull << 52));
    return act_expm1_poly_d(r);
}

/* expm1(min(x, 0)): NaN -> NaN, -inf -> -1, +-0 -> +-0 (t*q + 0 loses the sign of
 * -0: put back from x), x > 0 -> +0 (no special arithmetic in the lanes a caller
 * discards).  A denormal x comes back exact (n = 0, r = x, q = x). */
ACT_INLINE float act_expm1_nonpos_f(float x)
{
    float xc = x > 0.0f ? 0.0f : x;
    xc = xc < ACT_EXPM1_NONPOS_LOWEST_F ? ACT_EXPM1_NONPOS_LOWEST_F : xc;
    float t;
    float q = act_expm1_nonpos_parts_f(xc, &t);
    float y = ACT_FMA_F(t, q, t - 1.0f);
    return act_asfloat_u(act_asuint_f(y) | (act_asuint_f(xc) & 0x80000000u));
}

ACT_INLINE double act_expm1_nonpos_d(double x)
{
    double xc = x > 0.0 ? 0.0 : x;
    xc = xc < ACT_EXPM1_NONPOS_LOWEST_D ? ACT_EXPM1_NONPOS_LOWEST_D : xc;
    double t;
    double q = act_expm1_nonpos_parts_d(xc, &t);
    double y = ACT_FMA_D(t, q, t - 1.0);
    return act_asdouble_u(act_asuint_d(y) | (act_asuint_d(xc) & 0x8000000000000000ull));
}

/* 1 - e^(-2a) = -expm1(-2a) for a = |x| (the caller's absolute value) and a <= inf:
 * >= 0, with +0 at a = 0 (tanh restores the sign itself); NaN -> NaN.  The values of
 * act_expm1_nonpos_parts at x = -2a, as 1 - t - t q, with the factor 2 and the sign
 * folded into the steps (float32; each step the old one's exact multiple, so the same
 * bits): a is clamped at -LOWEST / 2 (a compare and select that keeps NaN, as x > c ?
 * c : x), kd = fma(a, -2 log2(e), shifter) (2 log2(e) exact), s = -(n ln2_f / 2 + a) =
 * r / 2 in one fma, q / 2 = act_expm1_poly_half_f(s), and 2^(n+1) from the shifter's
 * bits with t q = 2^(n+1) (q / 2), 1 - t = fma(2^(n+1), -1/2, 1): no 2a, no negation,
 * no 2^n apart. */
ACT_INLINE float act_one_minus_exp_neg2_f(float a)
{
    float ac = -0.5f * ACT_EXPM1_NONPOS_LOWEST_F < a ? -0.5f * ACT_EXPM1_NONPOS_LOWEST_F : a;
    float kd = ACT_FMA_F(ac, -2.0f * ACT_LOG2E_F, ACT_SHIFTER_F);
    float n = kd - ACT_SHIFTER_F;
    float t2 = act_asfloat_u((act_asuint_f(kd) << 23) + (128u << 23));
    float h = act_expm1_poly_half_f(-ACT_FMA_F(n, 0.5f * ACT_LN2_F, ac));
    return ACT_FMA_F(-t2, h, ACT_FMA_F(t2, -0.5f, 1.0f));
}

ACT_INLINE double act_one_minus_exp_neg2_d(double a)
{
    double xc = -2.0 * a < ACT_EXPM1_NONPOS_LOWEST_D ? ACT_EXPM1_NONPOS_LOWEST_D : -2.0 * a;
    double t;
    double q = act_expm1_nonpos_parts_d(xc, &t);
    return ACT_FMA_D(-t, q, 1.0 - t);
}

/* 2 exp(2y) for y <= 0 (y = -|x|): the large-|x| term of tanh and tanhshrink,
 * 1 - tanh|x| = 2t / (1 + t) with t = exp(-2|x|).  act_exp_normal's reduction and scale
 * with the factor 2 in the scale and (1 + q) 2^(n+1) as one fma; y is clamped below at
 * -43 / -354 by a max (exp(2y) = 2^-124 / 2^-1021: 2^(n+1) stays a normal number),
 * where the callers' term is far below an ulp of their result (|x| - 1 or 1).  The
 * shifter carries the exponent's bias 128 / 1024: kd's low bits are the biased exponent
 * of 2^(n+1) (4..128 / 3..1024) and the shifter's own bits, zero below bit 22 / 51,
 * shift out, so 2^(n+1) is one shift of kd.
 * The max turns NaN into -43 / -354: the callers carry NaN in their other term.
 * float32 takes a polynomial of degree 6 for q (tools/fit_expm1.py, float32 degree 4:
 * 1 + q within 0.17 ulp of exp(r); the expm1 kernel's degree 7 is for expm1's relative
 * error near 0, which 1 + q does not need), by Estrin's scheme, and, with FMA, reduces
 * 2y in one step as act_expm1_nonpos_parts_f (ACT_LN2_F): r is off by |n| 0.03 ulp of
 * float32 (|n| = 3 at |x| = 1), and where |n| is large t is small beside the callers'
 * result: below 0.1 ulp of it for every |x| >= 1.  Without FMA n ln2_f would be rounded
 * (2 ulp of t at |x| = 1): the two-step split there. */
ACT_INLINE float act_two_exp_2y_f(float y)
{
    y = y > -43.0f ? y : -43.0f;
    float x = y + y;
    float kd = act_exp_kd_f(x, ACT_SHIFTER_F + 128.0f);
#if ACT_HAVE_FMA
    float n = kd - (ACT_SHIFTER_F + 128.0f);
    float r = ACT_FMA_F(-n, ACT_LN2_F, x);
#else
    float r = act_exp_r_f(x, kd, ACT_SHIFTER_F + 128.0f);
#endif
    float r2 = r * r;
    float p = ACT_FMA_F(ACT_FMA_F(0.0013926175888627768f, r2,
                                  ACT_FMA_F(0.008363173343241215f, r, 0.041666556149721146f)),
                        r2, ACT_FMA_F(0.16666577756404877f, r, 0.5f));
    float q = ACT_FMA_F(r2, p, r);
    float s = act_asfloat_u(act_asuint_f(kd) << 23);
    return ACT_FMA_F(q, s, s);
}

ACT_INLINE double act_two_exp_2y_d(double y)
{
    y = y > -354.0 ? y : -354.0;
    double x = y + y;
    double kd = act_exp_kd_d(x, ACT_SHIFTER_D + 1024.0);
    double r = act_exp_r_d(x, kd, ACT_SHIFTER_D + 1024.0);
    double q = act_expm1_poly_d(r);
    double s = act_asdouble_u(act_asuint_d(kd) << 52);
    return ACT_FMA_D(q, s, s);
}

/* -|x|: one OR of the sign bit */
ACT_INLINE float act_neg_abs_f(float x) { return act_asfloat_u(act_asuint_f(x) | 0x80000000u); }
ACT_INLINE double act_neg_abs_d(double x) { return act_asdouble_u(act_asuint_d(x) | 0x8000000000000000ull); }

/* ---- log1p -------------------------------------------------------------------
 * musl/fdlibm log1p, branch-free: u = 1 + x = 2^k * m with m in [sqrt(2)/2,
 * sqrt(2)), c = the rounding error of 1 + x divided by u, f = m - 1,
 * s = f / (2 + f), log(m) = f - f^2/2 + s*(f^2/2 + R(s^2)) with fdlibm's minimax
 * R; result = k*ln2_hi + (log(m) + (k*ln2_lo + c)).  For |x| < 2^-24 this gives
 * c/u = x exactly. */
ACT_INLINE float act_log1p_f(float x)
{
    const float Lg1 = 0xaaaaaa.0p-24f, Lg2 = 0xccce13.0p-25f,
                Lg3 = 0x91e9ee.0p-25f, Lg4 = 0xf89e26.0p-26f;
    float u = 1.0f + x;
    uint32_t iu = act_asuint_f(u) + (0x3f800000u - 0x3f3504f3u);
    int32_t k = (int32_t)(iu >> 23) - 0x7f;
    float c = k >= 2 ? 1.0f - (u - x) : x - (u - 1.0f);
    c = k < 25 ? c / u : 0.0f;
    float f = act_asfloat_u((iu & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float w = z * z;
    float R = z * (Lg1 + w * Lg3) + w * (Lg2 + w * Lg4);
    float hfsq = 0.5f * f * f;
    float dk = (float)k; /* int32 -> float converts in SIMD at every level */
    float y = s * (hfsq + R) + (dk * ACT_LN2_LO_F + c) - hfsq + f + dk * ACT_LN2_HI_F;
    /* special values, in order of precedence (NaN last so it wins) */
    y = x == ACT_INF_F ? x : y;
    y = x == -1.0f ? -ACT_INF_F : y;
    y = x < -1.0f ? ACT_NAN_F : y;
    y = x == 0.0f ? x : y;
    return x != x ? x : y;
}

ACT_INLINE double act_log1p_d(double x)
{
    const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
                 Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
                 Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                 Lg7 = 1.479819860511658591e-01;
    double u = 1.0 + x;
    uint64_t iu = act_asuint_d(u) + ((uint64_t)(0x3ff00000u - 0x3fe6a09eu) << 32);
    int64_t k = (int64_t)(iu >> 52) - 0x3ff;
    /* int64 -> double has no SIMD form before AVX-512DQ, nor has a 64-bit compare
       before SSE4.2: convert by adding k to the bits of 2^52 + 2^51 (exact for
       |k| < 2^51) and compare the double */
    double dk = act_asdouble_u(0x4338000000000000ull + (uint64_t)k) - 0x1.8p52;
    double c = dk >= 2.0 ? 1.0 - (u - x) : x - (u - 1.0);
    c = dk < 54.0 ? c / u : 0.0;
    double f = act_asdouble_u((iu & 0x000fffffffffffffull) + 0x3fe6a09e00000000ull) - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double w = z * z;
    double R = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7))) + w * (Lg2 + w * (Lg4 + w * Lg6));
    double hfsq = 0.5 * f * f;
    double y = s * (hfsq + R) + (dk * ACT_LN2_LO_D + c) - hfsq + f + dk * ACT_LN2_HI_D;
    y = x == ACT_INF_D ? x : y;
    y = x == -1.0 ? -ACT_INF_D : y;
    y = x < -1.0 ? ACT_NAN_D : y;
    y = x == 0.0 ? x : y;
    return x != x ? x : y;
}

/* ---- log1p on [0, 1] ------------------------------------------------------------
 * log1p(e) = 2 atanh(s), s = e / (2 + e) in [0, 1/3]: 2s + 2s w M(w), w = s^2, with M
 * near-minimax (tools/fit_log1p_unit.py; truncation 0.02 ulp float32, 0.06 ulp
 * float64).  One division and a short polynomial, for the softplus family whose
 * argument exp(-|z|) always lies in [0, 1].  NaN -> NaN; 0 -> 0.  2e / (2 + e), not
 * 2 (e / (2 + e)): for a subnormal e the quotient e / 2 would be rounded, and
 * log1p(e) = e would come out one unit off (log_sigmoid at float64 x = 725). */
ACT_INLINE float act_log1p_unit_f(float e)
{
    float s2 = (2.0f * e) / (2.0f + e);
    float w = 0.25f * (s2 * s2);
    float m = 0.11612164974212646f;
    m = ACT_FMA_F(m, w, 0.1085328757762909f);
    m = ACT_FMA_F(m, w, 0.142961785197258f);
    m = ACT_FMA_F(m, w, 0.19999852776527405f);
    m = ACT_FMA_F(m, w, 0.3333333432674408f);
    return ACT_FMA_F(s2 * w, m, s2);
}

ACT_INLINE double act_log1p_unit_d(double e)
{
    double s2 = (2.0 * e) / (2.0 + e);
    double w = 0.25 * (s2 * s2);
    double m = 0.08082022805971766;
    m = ACT_FMA_D(m, w, 0.04400369243072337);
    m = ACT_FMA_D(m, w, 0.06000536404795356);
    m = ACT_FMA_D(m, w, 0.06657072104827468);
    m = ACT_FMA_D(m, w, 0.07692785032479312);
    m = ACT_FMA_D(m, w, 0.09090894718066429);
    m = ACT_FMA_D(m, w, 0.11111111358713932);
    m = ACT_FMA_D(m, w, 0.1428571428355438);
    m = ACT_FMA_D(m, w, 0.20000000000007292);
    m = ACT_FMA_D(m, w, 0.3333333333333333);
    return ACT_FMA_D(s2 * w, m, s2);
}

/* ---- error-free transformations ------------------------------------------------
 * two_sum: a + b = s + err exactly (Knuth's TwoSum, 6 flops, no branch, any order
 * of magnitude).  two_prod: a * b = p + err exactly, by Veltkamp/Dekker splitting
 * (no FMA needed, so it is exact on the SSE2 baseline too; valid while the
 * product neither overflows nor underflows). */
ACT_INLINE float act_two_sum_err_f(float a, float b, float s)
{ float bb = s - a; return (a - (s - bb)) + (b - bb); }
ACT_INLINE double act_two_sum_err_d(double a, double b, double s)
{ double bb = s - a; return (a - (s - bb)) + (b - bb); }

ACT_INLINE float act_two_prod_err_f(float a, float b, float p)
{
#if ACT_HAVE_FMA
    return ACT_FMA_F(a, b, -p);  /* exact: one rounding of an exact a*b - p */
#else
    const float split = 4097.0f; /* 2^12 + 1 */
    float ca = split * a, cb = split * b;
    float ahi = ca - (ca - a), alo = a - ahi;
    float bhi = cb - (cb - b), blo = b - bhi;
    return ((ahi * bhi - p) + ahi * blo + alo * bhi) + alo * blo;
#endif
}
ACT_INLINE double act_two_prod_err_d(double a, double b, double p)
{
#if ACT_HAVE_FMA
    return ACT_FMA_D(a, b, -p);  /* exact: one rounding of an exact a*b - p */
#else
    const double split = 134217729.0; /* 2^27 + 1 */
    double ca = split * a, cb = split * b;
    double ahi = ca - (ca - a), alo = a - ahi;
    double bhi = cb - (cb - b), blo = b - bhi;
    return ((ahi * bhi - p) + ahi * blo + alo * bhi) + alo * blo;
#endif
}

/* Whether the level compares 64-bit integers lane-wise (SSE4.2's pcmpgtq; AVX2,
 * AVX-512): without it GCC leaves a loop of 64-bit unsigned compares scalar, so the
 * float64 predicate that needs them keeps its float form there (_formulas.pxd,
 * neg_band_rare_bits, mul_sigmoid_band_rare_pair). */
#if defined(__SSE4_2__) || defined(__AVX2__) || defined(__AVX512F__)
#define ACT_VEC_U64_COMPARE 1
#else
#define ACT_VEC_U64_COMPARE 0
#endif

/* Whether a select is a masked instruction (AVX-512's mask registers): there a guard that
 * keeps a slow operand away from a division or an underflowing product costs softsign
 * nothing measurable on ordinary inputs (_formulas.pxd); at AVX2 the same guards (blends,
 * compares and bit selects) cost it 9-35% on ordinary inputs and the backward's did
 * not help on huge ones (an A/B of the avx2 module on Zen 4), so the
 * lower levels keep the plain forms (docs/performance-notes.md "Value-dependent
 * operations on Zen 4"). */
#if defined(__AVX512F__)
#define ACT_MASK_SELECTS 1
#else
#define ACT_MASK_SELECTS 0
#endif

/* ---- range of a contiguous run ----------------------------------------------------
 * max_i(flip * x[i]) and min_i(flip * x[i]) for flip = +-1: the max and min of x, for
 * flip = -1 negated and swapped (exact, and no multiplication: a subnormal operand takes
 * a microcode assist on Intel cores).  GCC/Clang vector extensions of the compiled
 * level's native width, four vectors of each per step, so that the running maxima are
 * four independent chains (one chain of compare and select ran at a latency-bound
 * 0.09 ns/element, a third of what the loads allow: docs/performance-notes.md,
 * "Softmax forward float32: the passes").  The lane-wise max/min are x86's
 * max/min instructions where the level has them (SSE2 and up), which are exactly the
 * selects `a > b ? a : b` and `a < b ? a : b` (the second operand where either is NaN),
 * and those selects elsewhere: the loop vectorizer does not vectorize a float max
 * reduction without -ffinite-math-only.  Max and min are exact in any order, so the
 * lanes are safe; NaNs may be dropped here (the softmax sums see them: any NaN or +inf
 * in a row makes the row NaN there), and so may the sign of a zero maximum (exp(+-0)
 * is 1 either way).  The minimum tells the softmax rows whether their exp needs its
 * clamp (_softmax_math.h). */
#if defined(__AVX512F__)
#define ACT_VEC_BYTES 64
#elif defined(__AVX__)
#define ACT_VEC_BYTES 32
#else
#define ACT_VEC_BYTES 16
#endif

#if defined(__GNUC__) || defined(__clang__)
#if defined(__SSE2__)
#include <immintrin.h>
#endif
typedef float act_vf __attribute__((vector_size(ACT_VEC_BYTES)));
typedef int32_t act_vfi __attribute__((vector_size(ACT_VEC_BYTES)));
typedef double act_vd __attribute__((vector_size(ACT_VEC_BYTES)));
typedef int64_t act_vdi __attribute__((vector_size(ACT_VEC_BYTES)));
#if defined(__AVX512F__)
#define ACT_VMAX_F(a, b) ((act_vf)_mm512_max_ps((__m512)(a), (__m512)(b)))
#define ACT_VMIN_F(a, b) ((act_vf)_mm512_min_ps((__m512)(a), (__m512)(b)))
#define ACT_VMAX_D(a, b) ((act_vd)_mm512_max_pd((__m512d)(a), (__m512d)(b)))
#define ACT_VMIN_D(a, b) ((act_vd)_mm512_min_pd((__m512d)(a), (__m512d)(b)))
#elif defined(__AVX__)
#define ACT_VMAX_F(a, b) ((act_vf)_mm256_max_ps((__m256)(a), (__m256)(b)))
#define ACT_VMIN_F(a, b) ((act_vf)_mm256_min_ps((__m256)(a), (__m256)(b)))
#define ACT_VMAX_D(a, b) ((act_vd)_mm256_max_pd((__m256d)(a), (__m256d)(b)))
#define ACT_VMIN_D(a, b) ((act_vd)_mm256_min_pd((__m256d)(a), (__m256d)(b)))
#elif defined(__SSE2__)
#define ACT_VMAX_F(a, b) ((act_vf)_mm_max_ps((__m128)(a), (__m128)(b)))
#define ACT_VMIN_F(a, b) ((act_vf)_mm_min_ps((__m128)(a), (__m128)(b)))
#define ACT_VMAX_D(a, b) ((act_vd)_mm_max_pd((__m128d)(a), (__m128d)(b)))
#define ACT_VMIN_D(a, b) ((act_vd)_mm_min_pd((__m128d)(a), (__m128d)(b)))
#else
#define ACT_VSELECT_(c, a, b, VT, VI) ((VT)(((VI)(c) & (VI)(a)) | (~(VI)(c) & (VI)(b))))
#define ACT_VMAX_F(a, b) ACT_VSELECT_((a) > (b), a, b, act_vf, act_vfi)
#define ACT_VMIN_F(a, b) ACT_VSELECT_((a) < (b), a, b, act_vf, act_vfi)
#define ACT_VMAX_D(a, b) ACT_VSELECT_((a) > (b), a, b, act_vd, act_vdi)
#define ACT_VMIN_D(a, b) ACT_VSELECT_((a) < (b), a, b, act_vd, act_vdi)
#endif
#define ACT_DEFINE_RANGE(NAME, T, VT, VMAX, VMIN)                                     \
ACT_INLINE T NAME(const T *x, ptrdiff_t n, T flip, T *lo)                           \
{                                                                                    \
    const ptrdiff_t L = (ptrdiff_t)(sizeof(VT) / sizeof(T));                         \
    T hi = -(T)__builtin_inf(), low = (T)__builtin_inf(), t;                         \
    ptrdiff_t i = 0, k;                                                              \
    if (n >= L) {                                                                    \
        VT a0, a1, a2, a3, b0, b1, b2, b3, v0, v1, v2, v3;                           \
        memcpy(&a0, x, sizeof a0);                                                   \
        a1 = a2 = a3 = b0 = b1 = b2 = b3 = a0;                                       \
        for (i = L; i + 4 * L <= n; i += 4 * L) {                                    \
            memcpy(&v0, x + i, sizeof v0);                                           \
            memcpy(&v1, x + i + L, sizeof v1);                                       \
            memcpy(&v2, x + i + 2 * L, sizeof v2);                                   \
            memcpy(&v3, x + i + 3 * L, sizeof v3);                                   \
            a0 = VMAX(v0, a0); a1 = VMAX(v1, a1); a2 = VMAX(v2, a2); a3 = VMAX(v3, a3); \
            b0 = VMIN(v0, b0); b1 = VMIN(v1, b1); b2 = VMIN(v2, b2); b3 = VMIN(v3, b3); \
        }                                                                            \
        for (; i + L <= n; i += L) {                                                 \
            memcpy(&v0, x + i, sizeof v0);                                           \
            a0 = VMAX(v0, a0); b0 = VMIN(v0, b0);                                    \
        }                                                                            \
        a0 = VMAX(VMAX(a0, a1), VMAX(a2, a3));                                       \
        b0 = VMIN(VMIN(b0, b1), VMIN(b2, b3));                                       \
        for (k = 0; k < L; k++) {                                                    \
            hi = a0[k] > hi ? a0[k] : hi;                                            \
            low = b0[k] < low ? b0[k] : low;                                         \
        }                                                                            \
    }                                                                                \
    for (; i < n; i++) {                                                             \
        hi = x[i] > hi ? x[i] : hi;                                                  \
        low = x[i] < low ? x[i] : low;                                               \
    }                                                                                \
    if (flip < 0) { t = hi; hi = -low; low = -t; }                                   \
    *lo = low;                                                                       \
    return hi;                                                                       \
}
ACT_DEFINE_RANGE(act_range_f, float, act_vf, ACT_VMAX_F, ACT_VMIN_F)
ACT_DEFINE_RANGE(act_range_d, double, act_vd, ACT_VMAX_D, ACT_VMIN_D)
#else
#define ACT_DEFINE_RANGE(NAME, T)                                                    \
ACT_INLINE T NAME(const T *x, ptrdiff_t n, T flip, T *lo)                           \
{                                                                                    \
    T hi = -(T)ACT_INF_D, low = (T)ACT_INF_D, t;                                     \
    for (ptrdiff_t i = 0; i < n; i++) {                                              \
        hi = x[i] > hi ? x[i] : hi;                                                  \
        low = x[i] < low ? x[i] : low;                                               \
    }                                                                                \
    if (flip < 0) { t = hi; hi = -low; low = -t; }                                   \
    *lo = low;                                                                       \
    return hi;                                                                       \
}
ACT_DEFINE_RANGE(act_range_f, float)
ACT_DEFINE_RANGE(act_range_d, double)
#endif

/* ==== tiny inputs: c * x for a subnormal x, rounded once without subnormal arithmetic ====
 * On Intel cores every multiply, FMA or convert with a subnormal operand or result takes
 * a microcode assist (~100+ cycles), for the whole vector.  For x subnormal or +-0,
 * |x| = m * 2^-149 (2^-1074) with m the bits of |x| as an integer, so c * x (c chosen by
 * x's sign: cp for x >= 0, cn for x < 0) is formed as |c| * m, a normal product, rounded
 * to the nearest integer k, ties to even, and k is the result's bit pattern: the
 * patterns of m * 2^-149 are m up to 2^24 (2^53), across the subnormal/normal boundary.
 * Where the level has FMA, fma(|c|, m, 2^23) (2^52) rounds the exact |c| m + 2^23 once
 * where the spacing is 1, so its low bits are k; without FMA, (p + 2^23) - 2^23 rounds
 * the rounded product p and its exact residual (Dekker's two_prod) decides a tie p only
 * seems to hit.  Past that (|c| * m >= 2^24 / 2^52; float32 slopes from 2^23) the result
 * is normal: the product rounded once in the dtype, its exponent field less 149 (1074),
 * an integer subtraction, so the lanes that do not use it do no float arithmetic
 * (float32: (float)c * m, exact only for a float32 c; a float64 c is for slopes below
 * 2, where that branch is not reached).  Written in double arithmetic and
 * same-width selects (float64: masks from shifts and double compares, which SSE2
 * has, not int64 compares), so that GCC vectorizes it at every level (float32 with
 * float64 slopes, act_tiny_mul_f, stays scalar at baseline).  Every operation sees
 * normal numbers or integers.  x must satisfy |x| < the smallest normal, |c| <= 2^64,
 * and c zero or |c| >= 2^-64 (the callers check c once per call). */
/* The magnitude of c x from ac = |c| and m = |x| 2^149 (2^1074), both normal numbers,
 * integers or zero (ac m below the overflow): act_tiny_mul's rounding below (the float32
 * form's bits, the float64 form's bits as a double), shared with act_small_mul. */
ACT_INLINE uint32_t act_tiny_round_ff(float ac, float m)
{
    const float T = 0x1p23f;
    float p = ac * m;
#if ACT_HAVE_FMA
    /* fma(|c|, m, 2^23): |c| m rounded to an integer once, ties to even, plus 2^23 */
    uint32_t sub = act_asuint_f(ACT_FMA_F(ac, m, T)) - act_asuint_f(T);
#else
    float e = act_two_prod_err_f(ac, m, p);
    float k = (p + T) - T;
    float d = p - k;
    k += ((d == 0.5f) & (e > 0)) ? 1.0f : 0.0f;
    k -= ((d == -0.5f) & (e < 0)) ? 1.0f : 0.0f;
    uint32_t sub = (uint32_t)(int32_t)k;
#endif
    uint32_t nrm = act_asuint_f(p) - (149u << 23);
    return p < T ? sub : nrm;
}
ACT_INLINE double act_tiny_round_d(double ac, double m)
{
    const double T = 0x1p52;
    double p = ac * m;
#if ACT_HAVE_FMA
    /* fma(|c|, m, 2^52): |c| m rounded to an integer once, ties to even, plus 2^52 */
    uint64_t sub = act_asuint_d(ACT_FMA_D(ac, m, T)) - act_asuint_d(T);
#else
    double e = act_two_prod_err_d(ac, m, p);
    double k = (p + T) - T;
    double d = p - k;
    k += ((d == 0.5) & (e > 0)) ? 1.0 : 0.0;
    k -= ((d == -0.5) & (e < 0)) ? 1.0 : 0.0;
    uint64_t sub = act_asuint_d(k + T) - act_asuint_d(T);
#endif
    /* the normal result p 2^-1074 by its exponent field (p >= 2^52: the field stays >= 1) */
    uint64_t nrm = act_asuint_d(p) - (1074ull << 52);
    return p < T ? act_asdouble_u(sub) : act_asdouble_u(nrm);
}
ACT_INLINE float act_tiny_mul_f(double cp, double cn, float x)
{
    const double T = 0x1p52;
    uint32_t ux = act_asuint_f(x);
    double sm = (double)(int32_t)ux;                  /* < 0 iff x < 0 or x = -0 */
    double c = sm < 0 ? cn : cp;
    double ac = act_fabs_d(c);
    double m = (double)(int32_t)(ux & 0x7fffffffu);   /* |x| * 2^149, exact */
    double p = ac * m;
#if ACT_HAVE_FMA
    /* fma(|c|, m, 2^52) rounds the exact |c| m + 2^52 once, where the spacing is 1: the
       nearest integer to |c| m, ties to even, plus 2^52 (no tie to fix) */
    float sub = act_asfloat_u((uint32_t)(act_asuint_d(ACT_FMA_D(ac, m, T)) - act_asuint_d(T)));
#else
    double e = act_two_prod_err_d(ac, m, p);
    double k = (p + T) - T;                           /* nearest, ties to even */
    double d = p - k;
    k += ((d == 0.5) & (e > 0)) ? 1.0 : 0.0;
    k -= ((d == -0.5) & (e < 0)) ? 1.0 : 0.0;
    float sub = act_asfloat_u((uint32_t)(int32_t)k);
#endif
    /* the normal result q 2^-149 by its exponent field (q >= 2^24: the field stays >= 2);
       integer arithmetic, so the unused lanes' q does no subnormal arithmetic */
    float nrm = act_asfloat_u(act_asuint_f((float)ac * (float)m) - (149u << 23));
    float mag = p < 0x1p24 ? sub : nrm;
    return act_copysign_f(mag, (sm < 0) != (c < 0) ? -1.0f : 1.0f);
}
ACT_INLINE float act_tiny_mul_ff(float cp, float cn, float x)
{
    /* act_tiny_mul_f for float32 slopes, in float arithmetic: twice the lanes.  Below
       2^23 the product is rounded to an integer as above; from 2^23 on the float
       product's spacing is at least the result's (the result's exponent field is the
       product's less 149, exactly). */
    uint32_t ux = act_asuint_f(x);
    float c = (int32_t)ux < 0 ? cn : cp;
    float m = (float)(int32_t)(ux & 0x7fffffffu);     /* |x| * 2^149, exact */
    uint32_t mag = act_tiny_round_ff(act_fabs_f(c), m);
    return act_asfloat_u(mag | ((ux ^ act_asuint_f(c)) & 0x80000000u));
}
ACT_INLINE double act_tiny_mul_d(double cp, double cn, double x)
{
    const double T = 0x1p52;
    uint64_t ux = act_asuint_d(x);
    uint64_t neg = (uint64_t)0 - (ux >> 63);          /* all ones for x < 0 */
    double c = act_asdouble_u((act_asuint_d(cn) & neg) | (act_asuint_d(cp) & ~neg));
    double m = act_asdouble_u((ux & 0x7fffffffffffffffULL) | act_asuint_d(T)) - T;
    double mag = act_tiny_round_d(act_fabs_d(c), m);
    return act_asdouble_u(act_asuint_d(mag) | ((ux ^ act_asuint_d(c)) & 0x8000000000000000ULL));
}
/* act_small_mul(g, y) = g * y rounded once for |y| < 2^-60 (2^-500), normal or
 * subnormal, and |g| < 2^32 (2^400), g finite: sigmoid's backward from a tiny output,
 * where y (1 - y) is y.  m = |y| 2^149 (2^1074) exactly, a subnormal's bits as an integer
 * or a normal's exponent field raised by 149 (1074), at most 2^89 (2^574), so |g| m
 * neither overflows nor leaves act_tiny_round's range; the result's bits as in
 * act_tiny_mul.  Only a subnormal g reaches subnormal arithmetic. */
ACT_INLINE float act_small_mul_f(float g, float y)
{
    uint32_t uy = act_asuint_f(y);
    uint32_t mag = uy & 0x7fffffffu;
    float m = mag < 0x00800000u ? (float)(int32_t)mag : act_asfloat_u(mag + (149u << 23));
    uint32_t r = act_tiny_round_ff(act_fabs_f(g), m);
    return act_asfloat_u(r | ((uy ^ act_asuint_f(g)) & 0x80000000u));
}
ACT_INLINE double act_small_mul_d(double g, double y)
{
    const double T = 0x1p52;
    uint64_t uy = act_asuint_d(y);
    uint64_t mag = uy & 0x7fffffffffffffffULL;
    /* a subnormal's bits m added to the bits of 2^52 are 2^52 + m (as act_tiny_mul_d) */
    double sub = act_asdouble_u(mag | act_asuint_d(T)) - T;
    double nrm = act_asdouble_u(mag + (1074ull << 52));
    double m = act_fabs_d(y) < 0x1p-1022 ? sub : nrm;
    double r = act_tiny_round_d(act_fabs_d(g), m);
    return act_asdouble_u(act_asuint_d(r) | ((uy ^ act_asuint_d(g)) & 0x8000000000000000ULL));
}
/* A slope form of act_tiny_mul: x for x >= +0 (sign bit clear), c x for x < 0 or -0, c
 * a slope of the dtype with its sign bit clear and c <= 1 (leaky_relu's and prelu's
 * tiny blocks, where the slope is known per call or per channel).  Then |c x| <= |x|: the
 * result is subnormal, zero or the least normal, and fma(c, m, 2^23) (2^52) - 2^23 is
 * its bit pattern (act_tiny_mul_ff's first branch, which no lane leaves), negative, so
 * the sign bit goes in with the same integer subtraction (the difference has it
 * clear): no product to classify, no slope or sign to pick per lane.  -0 gives -0 (c's
 * sign bit clear), the exact product's sign.  Without FMA, act_tiny_mul_ff / _d with
 * slopes 1 and c (their tie fix; the same bits). */
ACT_INLINE float act_tiny_slope_f(float c, float x)
{
#if ACT_HAVE_FMA
    const float T = 0x1p23f;
    uint32_t ux = act_asuint_f(x);
    float m = (float)(int32_t)(ux & 0x7fffffffu);     /* |x| * 2^149, exact */
    uint32_t neg = act_asuint_f(ACT_FMA_F(c, m, T)) - (act_asuint_f(T) - 0x80000000u);
    return (int32_t)ux < 0 ? act_asfloat_u(neg) : x;
#else
    return act_tiny_mul_ff(1.0f, c, x);
#endif
}
ACT_INLINE double act_tiny_slope_d(double c, double x)
{
#if ACT_HAVE_FMA
    const double T = 0x1p52;
    uint64_t ux = act_asuint_d(x);
    double m = act_asdouble_u((ux & 0x7fffffffffffffffULL) | act_asuint_d(T)) - T;
    uint64_t neg = act_asuint_d(ACT_FMA_D(c, m, T)) - (act_asuint_d(T) - 0x8000000000000000ULL);
    return (int64_t)ux < 0 ? act_asdouble_u(neg) : x;
#else
    return act_tiny_mul_d(1.0, c, x);
#endif
}
/* |x| below the smallest normal, and x == +-0, from the bits: a compare of a subnormal
   is left to the integer unit too */
ACT_INLINE int act_is_tiny_f(float x) { return (act_asuint_f(x) & 0x7fffffffu) < 0x00800000u; }
/* float64 by double compares of normal numbers (SSE2 has no 64-bit integer compare):
   the exponent field alone is 0.0 or a normal or inf; the significand or'ed into 2^52
   is 2^52 + m */
ACT_INLINE int act_is_tiny_d(double x)
{ return act_asdouble_u(act_asuint_d(x) & 0x7ff0000000000000ULL) == 0.0; }
ACT_INLINE int act_is_zero_f(float x) { return (act_asuint_f(x) & 0x7fffffffu) == 0; }
ACT_INLINE int act_is_zero_d(double x)
{
    return act_is_tiny_d(x)
        & (act_asdouble_u((act_asuint_d(x) & 0x000fffffffffffffULL) | 0x4330000000000000ULL)
           == 0x1p52);
}
/* A float32 subnormal or +-0 x as a double, exactly (m 2^-149 for m its bits without
 * the sign, an integer below 2^23 converted to double): a convert of the subnormal
 * itself takes a microcode assist on Intel cores, this does not. */
ACT_INLINE double act_tiny_to_d_f(float x)
{
    uint32_t ux = act_asuint_f(x);
    double m = (double)(int32_t)(ux & 0x007fffffu) * 0x1p-149;
    return (int32_t)ux < 0 ? -m : m;
}
/* (float)r, the same one rounding (to nearest, ties to even), without a subnormal
 * result: where |r| < 2^-125 (float32's spacing there is 2^-149, as in the subnormals)
 * the float32 result's bits are round(|r| 2^149) (rounded by adding 2^52, |r| 2^149 <=
 * 2^24) with r's sign; elsewhere the convert.  The convert's lanes below the least
 * normal are zeroed by bit operations at a different bound than the select's: with a
 * float select, or the same bound, GCC drops the zeroing as dead and converts r there
 * (act_guard_small).  r must not be a float64 subnormal (its scaling would be the assist). */
ACT_INLINE float act_round_to_f_d(double r)
{
    uint64_t ur = act_asuint_d(r);
    double ar = act_fabs_d(r);
    int small = ar < 0x1p-125;
    double k = (small ? ar : 0.0) * 0x1p149 + 0x1p52;
    float sub = act_asfloat_u((uint32_t)act_asuint_d(k) | ((uint32_t)(ur >> 32) & 0x80000000u));
    uint64_t zero = ar < 0x1p-126 ? ~0ull : 0ull;
    float nrm = (float)act_asdouble_u(ur & ~zero);
    return small ? sub : nrm;
}
/* ==== end of tiny inputs ==== */

/* A float64 subnormal x is m 2^-1074 (m its bits without the sign): act_tiny_count_d is
 * m as a double (exact: m < 2^52, placed in the mantissa of 2^52 and 2^52 taken off);
 * act_tiny_from_count_d(k, x) is the subnormal of count k rounded to an integer (k + 2^52
 * rounds to nearest even; k below 2^52) with x's sign, its bits k's bits. */
ACT_INLINE double act_tiny_count_d(double x)
{
    const double T = 0x1p52;
    return act_asdouble_u((act_asuint_d(x) & 0x7fffffffffffffffULL) | act_asuint_d(T)) - T;
}
ACT_INLINE double act_tiny_from_count_d(double k, double x)
{
    const double T = 0x1p52;
    return act_asdouble_u((act_asuint_d(k + T) - act_asuint_d(T))
                          | (act_asuint_d(x) & 0x8000000000000000ULL));
}

/* ==== hard_swish at a tiny x ====
 * x (x + 3) / 6 for |x| below the smallest normal: x + 3 rounds to 3, so the result is
 * round(round(3x) / 6), subnormal, formed on integers without subnormal arithmetic.
 * |x| = m 2^-149 (2^-1074); round(3x) = M 2^-149 with M = 3m rounded as a float
 * (double) product of integers rounds it (spacing 1 below 2^24 (2^53), 2 above: the
 * spacing of round(3x) on the subnormal grid); the result's bits are k = M / 6 rounded
 * to nearest even.  q = M / 6 rounded (a division of normal numbers) is below 2^22
 * (2^51), where the spacing is at most 1/4, and M / 6's fraction is a multiple of 1/6:
 * 1/6 and 1/3 round to 1/4 or below, 2/3 and 5/6 to 3/4 or above, 1/2 stays, so q
 * rounded to an integer (q + 2^23 (2^52), ties to even) is k. */
ACT_INLINE float act_hswish_tiny_f(float x)
{
    uint32_t ux = act_asuint_f(x);
    float q = (3.0f * (float)(int32_t)(ux & 0x7fffffffu)) / 6.0f;
    return act_asfloat_u((act_asuint_f(q + 0x1p23f) - act_asuint_f(0x1p23f)) | (ux & 0x80000000u));
}
ACT_INLINE double act_hswish_tiny_d(double x)
{
    double q = (3.0 * act_tiny_count_d(x)) / 6.0;
    return act_tiny_from_count_d(q, x);
}
/* ==== end of hard_swish at a tiny x ==== */

/* ==== mish at a tiny x ====
 * mish's formulas (_formulas.pxd mish_forward) for |x| below the smallest normal, where
 * exp(-|x|) rounds to 1 and the formula is x 3 / 5, its results subnormal.  float64:
 * |x| = m 2^-1074 and M = 3m as a double product is round(3x) 2^1074 (exact below 2^53,
 * spacing 2 above: the spacing of round(3x) on the grid); q = M / 5 rounded (a division
 * of normal numbers).  x > 0 divides round(3x) by 5 on the grid, rounded once: k0 = q
 * rounded to an integer is within 0.75 of M / 5, the residual r = M - 5 k0 is exact
 * ((M - 4 k0) - k0: integers, the differences below 2^53) and never +-2.5 (5 is odd),
 * and |r| > 2.5 moves k0 by one.  x <= 0 divides round(3x) 2^512 by 5 (the scaled exp)
 * and scales the rounded quotient down, a second rounding: q rounded to an integer, ties
 * to even, as the scale-down's multiply.  The result's bits are k with x's sign.
 * float32 (evaluated in double, mish_f32_in_double): both branches are round(3x) / 5
 * rounded in double, then to float32's grid; M = 3m < 2^25 and M / 5 has 28 bits of
 * fraction left, never near a half, so the result is q rounded to an integer. */
ACT_INLINE float act_mish_tiny_f(float x)
{
    const double T = 0x1p52;
    uint32_t ux = act_asuint_f(x);
    double q = (3.0 * (double)(int32_t)(ux & 0x7fffffffu)) / 5.0;
    double k = (q + T) - T;
    return act_asfloat_u((uint32_t)(int32_t)k | (ux & 0x80000000u));
}
ACT_INLINE double act_mish_tiny_d(double x)
{
    const double T = 0x1p52;
    uint64_t ux = act_asuint_d(x);
    double M = 3.0 * act_tiny_count_d(x);
    double q = M / 5.0;
    double k = (q + T) - T;
    double r = (M - 4.0 * k) - k;
    double kp = k + ((r > 2.5) ? 1.0 : 0.0) - ((r < -2.5) ? 1.0 : 0.0);
    uint64_t neg = (uint64_t)0 - (ux >> 63);          /* all ones for x < 0 or -0 */
    k = act_asdouble_u((act_asuint_d(k) & neg) | (act_asuint_d(kp) & ~neg));
    return act_tiny_from_count_d(k, x);
}
/* ==== end of mish at a tiny x ==== */

/* ==== g where x > a, else +0; x where x is NaN (threshold's and relu's backward),
 * by integer arithmetic alone ====
 * The same bits as `x != x ? x : (x <= a ? 0 : g)`.  GCC turns that select into a
 * load of g under a mask computed from x, which cannot issue before x's load has come
 * in: out of cache every load of g waits a memory latency behind x's
 * (docs/performance-notes.md "Gated rows out of cache" and "Cheap backwards out of
 * cache").  Here g is loaded whole and ANDed with a mask from x's bits.
 *  - The order key of a float, its bits with the magnitude bits flipped where the sign
 *    is set, is an integer that orders non-NaN floats as they compare (-0 one below +0,
 *    so a = +-0 takes +0's key: x = +-0 <= a either way).  A NaN a (a C caller's) takes
 *    a key below -inf's, so that every x keeps g, as in the select (x <= NaN is false).
 *  - x > a is key(x) > key(a).  The difference of two keys can overflow, half of them
 *    cannot: with e = 1 where key(a) is even (else 0), key(x) > key(a) exactly where
 *    (key(x) + e) >> 1 > (key(a) + e) >> 1 (key(x) + e wraps only for a NaN x).
 *  - NaN x: its magnitude bits exceed +inf's.
 * Checked against the select on every float32 x (a = +-0, 1) and 3e8 float64 pairs
 * around 16 thresholds (+-0, +-inf, NaN, subnormals, +-max). */
ACT_INLINE float act_grad_above_f(float g, float x, float a)
{
    uint32_t ab = act_asuint_f(a), xb = act_asuint_f(x);
    uint32_t ka = ab ^ ((uint32_t)((int32_t)ab >> 31) >> 1);
    ka = (a == 0) ? 0u : ka;
    ka = (a != a) ? 0x807ffffeu : ka;
    uint32_t e = 1u - (ka & 1u);
    int32_t half = (int32_t)(ka + e) >> 1;
    uint32_t kx = xb ^ ((uint32_t)((int32_t)xb >> 31) >> 1);
    uint32_t keep = (uint32_t)((half - ((int32_t)(kx + e) >> 1)) >> 31);
    uint32_t nan = (uint32_t)((int32_t)(0x7f800000u - (xb & 0x7fffffffu)) >> 31);
    return act_asfloat_u((act_asuint_f(g) & keep & ~nan) | (xb & nan));
}
ACT_INLINE double act_grad_above_d(double g, double x, double a)
{
    uint64_t ab = act_asuint_d(a), xb = act_asuint_d(x);
    uint64_t ka = ab ^ ((uint64_t)((int64_t)ab >> 63) >> 1);
    ka = (a == 0) ? 0u : ka;
    ka = (a != a) ? 0x800ffffffffffffeull : ka;
    uint64_t e = 1u - (ka & 1u);
    int64_t half = (int64_t)(ka + e) >> 1;
    uint64_t kx = xb ^ ((uint64_t)((int64_t)xb >> 63) >> 1);
    uint64_t keep = (uint64_t)((half - ((int64_t)(kx + e) >> 1)) >> 63);
    uint64_t nan = (uint64_t)((int64_t)(0x7ff0000000000000ull - (xb & 0x7fffffffffffffffull)) >> 63);
    return act_asdouble_u((act_asuint_d(g) & keep & ~nan) | (xb & nan));
}
/* ==== end of g where x > a ==== */

#endif /* ACTIVATIONS_VMATH_H */
