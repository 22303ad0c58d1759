/*
 * _gelu.h -- GELU, its tanh approximation, their derivatives and the normal CDF,
 * branch-free and vectorizable, on the building blocks of _vmath.h.
 *
 * Design:
 *  1. Same rules as _vmath.h: static inline, no branches, tables or libm calls;
 *     special values blended in with selects; compiled with -O3 -fno-math-errno
 *     -fno-trapping-math -ffp-contract=off (never -ffast-math).  Every loop
 *     y[i] = act_*(x[i]) vectorizes at SSE2, AVX2 and AVX-512 (tools/gelu_check/
 *     check_gelu.py --vec); both dtypes use FMA where the level has it (float64 in
 *     _vmath.h's exp and the series near 0), so results may differ in the last bit
 *     across levels, each level within the bounds below.
 *  2. The normal tail Q(a) = Phi(-a), a = |x| (not |x|/sqrt 2, so nothing is rounded
 *     before the approximation): Q(a) = exp(-a^2/2) * P(t) / (K + a) with
 *     t = (K + B a) / (K + a) in [-1, 1] for a in [0, AMAX] (Boyd's rational-
 *     Chebyshev map of the half line; P(t) = erfcx(a/sqrt2)(K+a)/2 is analytic
 *     there).  P is a polynomial fitted by tools/fit_gelu.py (mpmath weighted least
 *     squares + Lawson, coefficients rounded greedily): degree 10 (1e-9 relative) for
 *     float32, degree 22 (0.40 ulp) for float64, evaluated with FMA where the level
 *     has it (one instruction per step instead of two).  exp's argument -a^2/2 is exact:
 *     in double for a float32 a, by two_prod in float64.  Then
 *       gelu  = x < 0 ? -a Q : x (1 - Q),    Phi = x < 0 ? Q : 1 - Q,
 *       gelu' = x < 0 ? E (R - a c) : 1 - E (R - a c),  R = Q / E, c = 1/sqrt(2 pi).
 *     float64 gelu and gelu' take Phi = 1/2 + x S(x^2) for |x| < 1 instead (the tail
 *     form gathers ~5 ulp of rounding there); gelu' shares E with that branch.
 *  3. float32 is evaluated in double and rounded once, with only the precision a
 *     float32 result needs (exp(-a^2/2) to 4e-11 relative, the degree-10 P to 1e-9)
 *     and FMA, in as few double operations as that allows: their multiply-adds, 4
 *     lanes per AVX2 vector, bound the speed (gelu: 27 FMA, multiplications and blends
 *     per vector of 4, against 34 with the generic exp, one Horner chain and a float
 *     clamp: 13% faster at AVX2; docs/performance-notes.md).
 *     A float32-only evaluation is faster still but measured 3.4 ulp (series near 0,
 *     split a^2, Cody-Waite exp, rational tail; docs/performance-notes.md) and 5 ulp
 *     for these formulas: above this file's 0.52 ulp and the tests' bounds.  float64
 *     scales exp by 2^512 where the result is denormal and rounds into the denormal
 *     range once at the end (swish), with an exp specialised to the one range it
 *     sees (no clamps, one scale factor: act_gelu_gauss_up_d); with FMA in P and one
 *     exp for gelu' (shared with the series near 0) float64 gelu is 1.8x and gelu'
 *     2.1x faster at AVX2 than with the generic exp and plain Horner steps.
 *  4. Tanh form: the exact function of the real constants sqrt(2/pi) and 0.044715
 *     (not of the dtype-rounded ones), as x * sigmoid(w), w = 2u, with w formed in
 *     double (float32) or double-word arithmetic (float64) so that exp(-|w|) sees no
 *     rounding of w.
 *
 * Functions (float32 `_f` and float64 `_d` each; float32 also as `_fd`, the
 * unrounded double result, for callers that multiply it further, e.g. geglu):
 *   act_gelu(x)            x Phi(x)                   (torch gelu, approximate="none")
 *   act_gelu_grad(x)       Phi(x) + x phi(x)          (its autograd derivative)
 *   act_gelu_tanh(x)       x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *   act_gelu_tanh_grad(x)  its derivative
 *   act_ndtr(x)            Phi(x), the standard normal CDF (the shared helper; erf and
 *                          erfc are not provided: erf(z) = 2 Phi(z sqrt2) - 1 would
 *                          round z sqrt2 first, costing ~z^2 ulp)
 *   act_ndtr_small_d(x)    Phi(x) for |x| <= 1, float64 (geglu's gate near 0)
 * Special values: NaN -> NaN everywhere; gelu(+-0) = +-0, gelu(+inf) = +inf,
 *   gelu(-inf) = -0 and a signed zero wherever the negative result underflows (same
 *   for gelu_tanh); gelu'(+-inf) = 1 / -0, gelu'(0) = 1/2; Phi(-inf) = 0, Phi(+inf) = 1.
 *
 * Accuracy measured (tools/gelu_check/check_gelu.py; float32 over ~1.4e7 inputs:
 * 5e6 sampled in [-20, 10], [-6, 6] and log-spaced over +-[1e-45, 3e38], plus every
 * float32 in [-14.5, -12.5], [-11.5, -10], [-0.8, -0.7], [0.5, 1); float64 over 1e5
 * inputs per function against mpmath at 50 digits, incl. [-40, -37], [-23, -20];
 * gelu and gelu' float64 with the series for |x| < 1):
 *                       float32    float64
 *   gelu                0.52 ulp   3 ulp
 *   gelu_tanh           0.50 ulp   3 ulp
 *   ndtr                0.52 ulp   4 ulp
 *   gelu_grad           0.69 ulp   5 ulp (absolute, in ulps of max(Phi, |x phi|))
 *   gelu_tanh_grad      0.50 ulp   5 ulp (absolute, in ulps of max(s, |x w' s(1-s)|))
 * The derivatives have roots at x = -0.75179 (gelu) and -0.75246 (tanh form): there
 * the terms cancel for any working-precision evaluation, so near the roots only the
 * absolute bound holds (float32: <= 1.0 ulp of the larger term; relative error
 * <= 0.7 ulp for float32 outside |x + 0.752| < 0.01).  The float64 bounds are above
 * the 2 ulp target: ~8 double roundings (exp, the map t, Horner, products) add up;
 * double-word evaluation of the last steps would be needed to go lower.
 */
#ifndef ACTIVATIONS_GELU_H
#define ACTIVATIONS_GELU_H

#include "_vmath.h"

/* a = |x| is clamped to AMAX: beyond it gelu, gelu', Q and phi*a underflow to 0 even
 * through the 2^S scaling (float32: 15*phi(15) = 8e-49; float64: 39*phi(39) = 5e-330).
 * float64 clamps further out, at 46.125, where act_gelu_gauss_up_d's factor 2^(n + S)
 * is +0 (n = -1535): the clamped lanes (huge, infinite) get E = 0 and Q = 0, the
 * values their products with E would underflow to, without an underflowing product
 * (1.9x the time on AMD Zen 4, docs/performance-notes.md).  (P is fitted on
 * [0, 39]; beyond, t < -1 and P(t) stays finite, and every product with E there
 * underflows to the same signed zero as at 39.) */
#define ACT_GELU_AMAX_F 15.0f
#define ACT_GELU_AMAX_D 46.125
/* S: the scaling that keeps exp(-a^2/2) normal where the results are denormal (as
 * swish: exp(-a^2/2) * 2^S, the product rounded once by the final 2^-S) */
#define ACT_GELU_SCALE_F 64
#define ACT_GELU_SCALE_DOWN_F 0x1p-64f
#define ACT_GELU_SCALE_D 512
#define ACT_GELU_SCALE_DOWN_D 0x1p-512
/* float64's tail ratio R(a) is formed scaled by 2^64 (act_gelu_tail_ratio_up_d), and
 * products with it are scaled down by 2^-(S + 64) at once */
#define ACT_GELU_RATIO_UP_D 0x1p64
#define ACT_GELU_RATIO_DOWN_D 0x1p-64
#define ACT_GELU_QUP_DOWN_D 0x1p-576
/* 1/sqrt(2 pi), rounded to the dtype (mpmath) */
#define ACT_GELU_INV_SQRT_2PI_F 0x1.988454p-2f
#define ACT_GELU_INV_SQRT_2PI_D 0x1.9884533d43651p-2
/* tanh form: A = 0.044715 and C2 = 2 sqrt(2/pi) as double-word hi + lo pairs (mpmath,
 * tools/fit_gelu.py --constants); C2A = C2 * A, C2A3 = 3 * C2 * A rounded to double */
#define ACT_GELU_TANH_A_HI_D 0x1.6e4e26d4801f7p-5
#define ACT_GELU_TANH_A_LO_D 0x1.441355475a31ap-59
#define ACT_GELU_TANH_C2_D 0x1.9884533d43651p+0
#define ACT_GELU_TANH_C2_LO_D -0x1.cbc0d30ebfd15p-54
#define ACT_GELU_TANH_C2A_D 0x1.2444f2a4d8b4bp-4
#define ACT_GELU_TANH_C2A3_D 0x1.b6676bf7450f0p-3

/* ---- coefficients: the output of `python tools/fit_gelu.py`, verbatim (do not edit) - */
/* f: degree 10, max relative error of P 9.83e-10 (0.0165 float32 ulp) */
#define ACT_GELU_K_F 0x1.8p+1
#define ACT_GELU_B_F -0x1.6666666666666p+0
#define ACT_GELU_P0_F 0x1.a421f5fde1bfp-1 /* 0.8205716011442501 */
#define ACT_GELU_P1_F 0x1.f73b0bbeea281p-2 /* 0.4914361796641416 */
#define ACT_GELU_P2_F 0x1.65d3b80076313p-3 /* 0.17472022773179016 */
#define ACT_GELU_P3_F 0x1.6cc6d986e85a8p-6 /* 0.022264206341451903 */
#define ACT_GELU_P4_F -0x1.efea99cf15494p-8 /* -0.007567083884244447 */
#define ACT_GELU_P5_F -0x1.1d524be2b071bp-9 /* -0.002176830066077507 */
#define ACT_GELU_P6_F 0x1.5ea0439b1ed31p-11 /* 0.0006687660819716721 */
#define ACT_GELU_P7_F 0x1.62319a9c2e657p-13 /* 0.00016889274855262884 */
#define ACT_GELU_P8_F -0x1.6c91a6251d90dp-14 /* -8.692000899821282e-05 */
#define ACT_GELU_P9_F -0x1.075cf2c96c4c3p-17 /* -7.84883140423005e-06 */
#define ACT_GELU_P10_F 0x1.27a095bb08874p-17 /* 8.810379645455615e-06 */
ACT_INLINE double act_gelu_poly_f(double t)
{
    double u = t * t;
    double even = ACT_GELU_P10_F;
    even = ACT_FMA_D(even, u, ACT_GELU_P8_F);
    even = ACT_FMA_D(even, u, ACT_GELU_P6_F);
    even = ACT_FMA_D(even, u, ACT_GELU_P4_F);
    even = ACT_FMA_D(even, u, ACT_GELU_P2_F);
    even = ACT_FMA_D(even, u, ACT_GELU_P0_F);
    double odd = ACT_GELU_P9_F;
    odd = ACT_FMA_D(odd, u, ACT_GELU_P7_F);
    odd = ACT_FMA_D(odd, u, ACT_GELU_P5_F);
    odd = ACT_FMA_D(odd, u, ACT_GELU_P3_F);
    odd = ACT_FMA_D(odd, u, ACT_GELU_P1_F);
    return ACT_FMA_D(odd, t, even);
}

/* f: exp(-s/2) for |s| <= ln 2, degree 7, max relative error 4.05e-11 (0.0007 float32 ulp) */
#define ACT_GELU_E0_F 0x1.ffffffffabed3p-1 /* 0.9999999999617678 */
#define ACT_GELU_E1_F -0x1.000000010d463p-1 /* -0.5000000001224517 */
#define ACT_GELU_E2_F 0x1.00000059fb50ep-3 /* 0.12500000261881222 */
#define ACT_GELU_E3_F -0x1.55555340c765fp-6 /* -0.02083333139591159 */
#define ACT_GELU_E4_F 0x1.555467fb62e9fp-9 /* 0.002604139035332256 */
#define ACT_GELU_E5_F -0x1.1112fc9044ffep-12 /* -0.0002604238188876894 */
#define ACT_GELU_E6_F 0x1.6da51d29e9111p-16 /* 2.179413892346253e-05 */
#define ACT_GELU_E7_F -0x1.9eb57f46a1a74p-20 /* -1.5449113150170964e-06 */
ACT_INLINE double act_gelu_exp_half_f(double s)
{
    double p = ACT_GELU_E7_F;
    p = ACT_FMA_D(p, s, ACT_GELU_E6_F);
    p = ACT_FMA_D(p, s, ACT_GELU_E5_F);
    p = ACT_FMA_D(p, s, ACT_GELU_E4_F);
    p = ACT_FMA_D(p, s, ACT_GELU_E3_F);
    p = ACT_FMA_D(p, s, ACT_GELU_E2_F);
    p = ACT_FMA_D(p, s, ACT_GELU_E1_F);
    p = ACT_FMA_D(p, s, ACT_GELU_E0_F);
    return p;
}

/* d: degree 22, max relative error of P 4.44e-17 (0.3995 ulp) */
#define ACT_GELU_K_D 0x1.0p+2
#define ACT_GELU_B_D -0x1.3483483483483p+0
#define ACT_GELU_P0_D 0x1.a17408cb392e1p-1 /* 0.8153383968425169 */
#define ACT_GELU_P1_D 0x1.3e13b4fbc6b1bp-1 /* 0.6212441022247249 */
#define ACT_GELU_P2_D 0x1.74a3f7b5dd66fp-2 /* 0.3639067368270394 */
#define ACT_GELU_P3_D 0x1.403ee4267ec6bp-3 /* 0.1563699554679688 */
#define ACT_GELU_P4_D 0x1.5f7d16c98e12cp-5 /* 0.04290632677697412 */
#define ACT_GELU_P5_D 0x1.ab24bb9d1c80fp-9 /* 0.0032588461895608554 */
#define ACT_GELU_P6_D -0x1.47df09b0b2604p-9 /* -0.0025014590577014956 */
#define ACT_GELU_P7_D -0x1.829ef4c2d40abp-11 /* -0.0007374208874839824 */
#define ACT_GELU_P8_D 0x1.34b7bb794fa7dp-13 /* 0.000147208072840816 */
#define ACT_GELU_P9_D 0x1.73121b4e7823ep-14 /* 8.847015599356634e-05 */
#define ACT_GELU_P10_D -0x1.c9170f2051adp-17 /* -1.3622345762199199e-05 */
#define ACT_GELU_P11_D -0x1.5f1be09042a46p-17 /* -1.0463860491434788e-05 */
#define ACT_GELU_P12_D 0x1.252811583375ep-19 /* 2.1841862399623124e-06 */
#define ACT_GELU_P13_D 0x1.45d5f8aeeb437p-20 /* 1.2138330409514614e-06 */
#define ACT_GELU_P14_D -0x1.d3dca7d207478p-22 /* -4.357303825546463e-07 */
#define ACT_GELU_P15_D -0x1.ee5ee2f9844e3p-24 /* -1.1510463684301112e-07 */
#define ACT_GELU_P16_D 0x1.6a21731f281c9p-24 /* 8.431511532231825e-08 */
#define ACT_GELU_P17_D 0x1.b1f43edcebf79p-29 /* 3.1574315232347296e-09 */
#define ACT_GELU_P18_D -0x1.e468ef8bce337p-27 /* -1.409818375202715e-08 */
#define ACT_GELU_P19_D 0x1.bf57920c7aec4p-30 /* 1.627420978464503e-09 */
#define ACT_GELU_P20_D 0x1.f4dca14b36aa7p-30 /* 1.8221247451878854e-09 */
#define ACT_GELU_P21_D -0x1.2eec8a46f74f3p-32 /* -2.755077593454161e-10 */
#define ACT_GELU_P22_D -0x1.31518fb57df6bp-33 /* -1.3884282410554298e-10 */
ACT_INLINE double act_gelu_poly_d(double t)
{
    double p = ACT_GELU_P22_D;
    p = ACT_FMA_D(p, t, ACT_GELU_P21_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P20_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P19_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P18_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P17_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P16_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P15_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P14_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P13_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P12_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P11_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P10_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P9_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P8_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P7_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P6_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P5_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P4_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P3_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P2_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P1_D);
    p = ACT_FMA_D(p, t, ACT_GELU_P0_D);
    return p;
}

/* ---- the normal tail Q(a) = Phi(-a), a >= 0 ---------------------------------------
 * Q(a) = exp(-a^2/2) * R(a),  R(a) = P(t) / (K + a),  t = (K + B*a) / (K + a).
 * act_gelu_gauss_up(a) = exp(-a^2/2) * 2^S (S = 64 / 512), with a^2 = hi + lo exact
 * (two_prod) so that the rounding of a^2 costs nothing (exp(-a^2/2) has condition
 * number a^2, up to 225 / 1521 here); the 2^S keeps it normal where Q and gelu are
 * denormal, and the callers multiply by 2^-S last (one rounding into the denormal
 * range).  Valid for 0 <= a <= AMAX (callers clamp; NaN passes the clamps).
 * float64: act_gelu_tail_ratio_up_d is R(a) 2^64, with 2^64 / (K + a) and the
 * constants K 2^-64 and B 2^-64 in t (t and every rounding as unscaled: powers of two,
 * normal numbers), the callers' final 2^-S becoming 2^-(S + 64).  GCC computes the
 * ratio on the unclamped a too (it selects the clamped lanes' constant afterwards),
 * where 1 / (K + a) is subnormal for a > 2^1022 (the "huge" inputs: subnormal
 * arithmetic, 1.4-1.6x their time on Zen 4); R 2^64 stays normal there, at no
 * operation more. */


ACT_INLINE double act_gelu_tail_ratio_up_d(double a)
{
    double r_up = ACT_GELU_RATIO_UP_D / (ACT_GELU_K_D + a);
    double t = (ACT_GELU_K_D * ACT_GELU_RATIO_DOWN_D + (ACT_GELU_B_D * ACT_GELU_RATIO_DOWN_D) * a) * r_up;
    return act_gelu_poly_d(t) * r_up;
}

/* act_exp_scaled_d's method for the one range used here, -a^2/2 in [-1063.8, 0]: no
 * clamps, and 2^(n + S) is one factor (n + S + 1023 in [0, 1535]; the shifter carries
 * S + 1023 in its low bits, as in act_gelu_gauss_f), normal down to a = 39, where the
 * result is the same double as act_exp_scaled_d(-a^2/2, lo, S) in about 3/4 of the
 * operations, and +0 at a = AMAX (n + S + 1023 = 0, see AMAX). */
#define ACT_GELU_SHIFTER_D (ACT_SHIFTER_D + (1023.0 + ACT_GELU_SCALE_D))
ACT_INLINE double act_gelu_gauss_up_d(double a)
{
    double a2 = a * a;
    double lo = act_two_prod_err_d(a, a, a2);
    double x = -0.5 * a2;
    double kd = act_exp_kd_d(x, ACT_GELU_SHIFTER_D);
    double r = act_exp_r_d(x, kd, ACT_GELU_SHIFTER_D) - 0.5 * lo;
    return (1.0 + act_expm1_poly_d(r)) * act_asdouble_u(act_asuint_d(kd) << 52);
}

/* ---- Phi near 0 (float64): Phi(x) = 1/2 + x S(x^2) for |x| <= 1 ------------------------
 * S from tools/fit_ndtr_small.py.  Near 0 the tail form above gathers ~5 ulp of
 * rounding in gelu and gelu' (built for the tails); x * (1/2 + x S(x^2)) ~1.5. */
ACT_INLINE double act_ndtr_small_s_d(double u)
{
    double p = 4.0743269774266276e-12;
    p = ACT_FMA_D(p, u, -1.106432828275589e-10);
    p = ACT_FMA_D(p, u, 2.2704137585676e-09);
    p = ACT_FMA_D(p, u, -4.1224107514160815e-08);
    p = ACT_FMA_D(p, u, 6.659679879655231e-07);
    p = ACT_FMA_D(p, u, -9.444655793103845e-06);
    p = ACT_FMA_D(p, u, 0.00011543468751655941);
    p = ACT_FMA_D(p, u, -0.0011873282154680343);
    p = ACT_FMA_D(p, u, 0.009973557010035022);
    p = ACT_FMA_D(p, u, -0.06649038006690543);
    return ACT_FMA_D(p, u, 0.3989422804014327);
}
ACT_INLINE double act_ndtr_small_d(double x) { return ACT_FMA_D(x, act_ndtr_small_s_d(x * x), 0.5); }

/* ---- Phi(x), the standard normal CDF (scipy's ndtr) --------------------------------
 * x < 0: Q(|x|), relative accuracy down to the smallest denormal;  x >= 0: 1 - Q(x).
 * Phi(-inf) = 0, Phi(+inf) = 1, NaN -> NaN. */

ACT_INLINE double act_ndtr_d(double x)
{
    double a = act_fabs_d(x);
    a = a > ACT_GELU_AMAX_D ? ACT_GELU_AMAX_D : a;
    double q_up = act_gelu_gauss_up_d(a) * act_gelu_tail_ratio_up_d(a);
    double q = q_up * ACT_GELU_QUP_DOWN_D;
    return x < 0.0 ? q : 1.0 - q;
}

/* ---- gelu(x) = x * Phi(x) -------------------------------------------------------------
 * x < 0: -(a * Q_up) * 2^-S (a = |x| clamped to AMAX), rounded once into the denormal range, a signed zero where
 * it underflows;  x >= 0: x * (1 - Q) (1 - Q >= 1/2: no cancellation).
 * gelu(+-0) = +-0, gelu(+inf) = +inf, gelu(-inf) = -0 (the limit), NaN -> NaN. */

ACT_INLINE double act_gelu_d(double x)
{
    double a = act_fabs_d(x);
    a = a > ACT_GELU_AMAX_D ? ACT_GELU_AMAX_D : a;
    double q_up = act_gelu_gauss_up_d(a) * act_gelu_tail_ratio_up_d(a);
    double neg = -(a * q_up) * ACT_GELU_QUP_DOWN_D;   /* a clamped: -0 at -inf */
    double pos = x * (1.0 - q_up * ACT_GELU_QUP_DOWN_D);
    return a < 1.0 ? x * act_ndtr_small_d(x) : (x < 0.0 ? neg : pos);
}

/* ---- gelu'(x) = Phi(x) + x * phi(x) -----------------------------------------------------
 * With a = |x|, E = exp(-a^2/2), c = 1/sqrt(2 pi):  Phi(-a) - a*phi(a) = E * (R(a) - a*c)
 *   x < 0:  gelu' = E * (R - a c)            (scaled by 2^S, rounded once at the end)
 *   x >= 0: gelu' = 1 - E * (R - a c)        (= 1 - Q + x phi;  >= 1/2 for x >= 0)
 * R - a c cancels only near the root a = 0.7518 (x = -0.7518), where the error is
 * a few ulp of R ~ 0.3 (absolute), not of the result.  Limits: 0 at -inf (-0), 1 at
 * +inf; NaN -> NaN; gelu'(+-0) = 1/2. */

ACT_INLINE double act_gelu_grad_d(double x)
{
    double a = act_fabs_d(x);
    a = a > ACT_GELU_AMAX_D ? ACT_GELU_AMAX_D : a;
    double e_up = act_gelu_gauss_up_d(a);
    double d = act_gelu_tail_ratio_up_d(a) - a * (ACT_GELU_INV_SQRT_2PI_D * ACT_GELU_RATIO_UP_D);
    double m = (e_up * d) * ACT_GELU_QUP_DOWN_D;
    /* |x| < 1: 1/2 + x (S(x^2) + phi(x)), phi from the same exp (normal there) */
    double phi = (e_up * ACT_GELU_SCALE_DOWN_D) * ACT_GELU_INV_SQRT_2PI_D;
    double near0 = ACT_FMA_D(x, act_ndtr_small_s_d(x * x) + phi, 0.5);
    return a < 1.0 ? near0 : (x < 0.0 ? m : 1.0 - m);
}

/* ---- gelu_tanh(x) = x/2 * (1 + tanh(u)),  u = sqrt(2/pi) * (x + 0.044715 x^3) ---------
 * The exact function of the real constants sqrt(2/pi) and 0.044715, rounded once (not
 * the formula evaluated with the constants rounded to the dtype).  1 + tanh(u) =
 * 2 sigmoid(2u), so with w = 2u and t = exp(-|w|):
 *   x >= 0: x / (1 + t);     x < 0: x * t / (1 + t)   (as swish, scaled by 2^S)
 * w must be accurate to well below an ulp of w (exp's condition number is |w|, up to
 * ~150 in float32): float32 forms w in double (exact to ~1e-16 relative, |x|^3 cannot
 * overflow there), float64 in double-word arithmetic (two_prod / two_sum, the
 * constants as hi + lo pairs) on x clamped to [-30, 30], beyond which t = 0 anyway.
 * gelu_tanh(+inf) = +inf, (-inf) = -0, (+-0) = +-0, NaN -> NaN. */


/* w = 2u as w + we (double-word), for |x| <= 30 */
ACT_INLINE double act_gelu_tanh_w_d(double x, double *we_out)
{
    double xc = x > 30.0 ? 30.0 : x;
    xc = xc < -30.0 ? -30.0 : xc;
    double x2 = xc * xc;
    double x2e = act_two_prod_err_d(xc, xc, x2);
    double x3 = xc * x2;
    double x3e = act_two_prod_err_d(xc, x2, x3) + xc * x2e;
    double p = ACT_GELU_TANH_A_HI_D * x3;
    double pe = act_two_prod_err_d(ACT_GELU_TANH_A_HI_D, x3, p)
              + (ACT_GELU_TANH_A_HI_D * x3e + ACT_GELU_TANH_A_LO_D * x3);
    double s = xc + p;
    double se = act_two_sum_err_d(xc, p, s) + pe;
    double w = ACT_GELU_TANH_C2_D * s;
    *we_out = act_two_prod_err_d(ACT_GELU_TANH_C2_D, s, w)
            + (ACT_GELU_TANH_C2_D * se + ACT_GELU_TANH_C2_LO_D * s);
    return w;
}

ACT_INLINE double act_gelu_tanh_d(double x)
{
    double we;
    double w = act_gelu_tanh_w_d(x, &we);
    double t_up = act_exp_scaled_d(-act_fabs_d(w), w < 0.0 ? we : -we, ACT_GELU_SCALE_D);
    double t = t_up * ACT_GELU_SCALE_DOWN_D;
    double pos = x / (1.0 + t);
    double neg = ((x * t_up) / (1.0 + t)) * ACT_GELU_SCALE_DOWN_D;
    neg = t_up == 0.0 ? -0.0 : neg;
    return x >= 0.0 ? pos : neg;
}

/* ---- gelu_tanh'(x) = s + x w' s (1 - s),  s = sigmoid(w),  w' = dw/dx ----------------
 * w' = 2 sqrt(2/pi) (1 + 3 * 0.044715 x^2); s (1 - s) = t / (1 + t)^2 for both signs,
 * so with v = x w' and u = 1 + t (no 1 - s is ever formed):
 *   x >= 0: (u + v t) / u^2;        x < 0: t (u + v) / u^2   (scaled by 2^S)
 * u + v cancels near the root x = -0.7522 (absolute error there a few ulp of u).
 * Limits: 1 at +inf, -0 at -inf; NaN -> NaN. */

ACT_INLINE double act_gelu_tanh_grad_d(double x)
{
    double we;
    double w = act_gelu_tanh_w_d(x, &we);
    double xc = x > 30.0 ? 30.0 : x;
    xc = xc < -30.0 ? -30.0 : xc;
    double v = xc * (ACT_GELU_TANH_C2_D + ACT_GELU_TANH_C2A3_D * (xc * xc));
    double t_up = act_exp_scaled_d(-act_fabs_d(w), w < 0.0 ? we : -we, ACT_GELU_SCALE_D);
    double t = t_up * ACT_GELU_SCALE_DOWN_D;
    double u = 1.0 + t;
    double u2 = u * u;
    double pos = (u + v * t) / u2;
    double neg = ((t_up * (u + v)) / u2) * ACT_GELU_SCALE_DOWN_D;
    return x >= 0.0 ? pos : neg;
}

/* ==== float32: evaluated in double, rounded once to float32 ============================
 * Every float32 function below converts x to double, computes the double formulas
 * (which need no scaling: float32's denormal results are normal doubles, and a*a, the
 * argument of exp, is exact in double for a float a), and rounds once at the end.  A
 * float32-only evaluation of the same formulas accumulates ~8 roundings of 2^-24 (up
 * to 5 ulp measured); in double the float32 result is within 0.52 ulp (see above),
 * i.e. correctly rounded except near ties.  Each piece carries only what float32
 * needs, in as few double operations as that allows (the double multiply-adds bound
 * the speed: docs/performance-notes.md): the lower-degree P (ACT_GELU_*_F: 1e-9
 * relative) evaluated as two chains in t^2, t = B + K (1 - B) r in one multiply-add,
 * exp(-a^2/2) to 4e-11 with one reduction step (act_gelu_gauss_f); both forms of the
 * tanh form's result share one division.
 * a = |x| is clamped to AMAX by an integer min on the bits (a compare-and-select there
 * makes GCC carry the select through every later operation: 8 blends per vector), so
 * NaN becomes AMAX too: the float32 results put NaN back (act_gelu_nan_f); the `_fd`
 * forms are for finite x (geglu passes infinities and NaN to the float32 forms). */
ACT_INLINE float act_gelu_abs_clamped_to_f(float x, float amax_f)
{
    uint32_t a = act_asuint_f(x) & 0x7fffffffu, amax = act_asuint_f(amax_f);
    return act_asfloat_u(a < amax ? a : amax);
}
ACT_INLINE float act_gelu_abs_clamped_f(float x) { return act_gelu_abs_clamped_to_f(x, ACT_GELU_AMAX_F); }

/* y, or x where x is NaN */
ACT_INLINE float act_gelu_nan_f(float x, float y) { return x == x ? y : x; }

/* R(a) = Q(a) exp(a^2/2) = P(t) r,  r = 1/(K + a),  t = (K + B a) r = B + K (1 - B) r */
#define ACT_GELU_KB_F (ACT_GELU_K_F * (1.0 - ACT_GELU_B_F))
ACT_INLINE double act_gelu_tail_ratio_f(double a)
{
    double r = 1.0 / (ACT_GELU_K_F + a);
    return act_gelu_poly_f(ACT_FMA_D(ACT_GELU_KB_F, r, ACT_GELU_B_F)) * r;
}

/* exp(-a^2/2) for a = |x| of a float32 x, a <= AMAX: with n = round(-a^2/(2 ln2)) and
 * s = a^2 + 2 n ln2 (|s| <= ln2; a^2 is exact, the one-step reduction is off by
 * |n| ulp(2 ln2) <= 2e-14), exp(-a^2/2) = 2^n exp(-s/2).  The shifter carries the
 * exponent bias in its low bits, so kd's low 12 bits are n + 1023, the bits of 2^n
 * once shifted into the exponent field (n >= -988 here: a <= FAR_AMAX, the largest a it is given). */
#define ACT_GELU_SHIFTER_F (0x1.8p52 + 1023.0)
ACT_INLINE double act_gelu_gauss_f(double a)
{
    double a2 = a * a;
    double kd = ACT_FMA_D(a2, -0.5 * ACT_LOG2E_D, ACT_GELU_SHIFTER_F);
    double n = kd - ACT_GELU_SHIFTER_F;
    double s = ACT_FMA_D(n, 2.0 * 0x1.62e42fefa39efp-1, a2);    /* 2 ln2 */
    return act_gelu_exp_half_f(s) * act_asdouble_u(act_asuint_d(kd) << 52);
}

ACT_INLINE float act_ndtr_f(float x)
{
    double a = (double)act_gelu_abs_clamped_f(x);
    double q = act_gelu_gauss_f(a) * act_gelu_tail_ratio_f(a);
    return act_gelu_nan_f(x, (float)(x < 0.0f ? q : 1.0 - q));
}

/* gelu = x Phi(x) with x clamped below at -AMAX (an integer min on the bits, as for a:
 * the bits of a negative float grow with its magnitude), so that -inf gives
 * -AMAX Q(AMAX), which rounds to -0 */
ACT_INLINE double act_gelu_fd(float x)
{
    double a = (double)act_gelu_abs_clamped_f(x);
    double q = act_gelu_gauss_f(a) * act_gelu_tail_ratio_f(a);
    uint32_t xb = act_asuint_f(x), lowest = act_asuint_f(-ACT_GELU_AMAX_F);
    double xl = (double)act_asfloat_u(xb < lowest ? xb : lowest);
    return xl * (x < 0.0f ? q : 1.0 - q);
}
ACT_INLINE float act_gelu_f(float x) { return act_gelu_nan_f(x, (float)act_gelu_fd(x)); }

ACT_INLINE double act_gelu_grad_clamped_fd(float x, float amax_f)
{
    double a = (double)act_gelu_abs_clamped_to_f(x, amax_f);
    double m = act_gelu_gauss_f(a)
             * ACT_FMA_D(-a, ACT_GELU_INV_SQRT_2PI_D, act_gelu_tail_ratio_f(a));
    return x < 0.0f ? m : 1.0 - m;
}
/* clamped at AMAX, as act_gelu_fd: geglu's backward takes both for the same a, and
 * the same clamped a lets the compiler share one exp(-a^2/2) between them */
ACT_INLINE double act_gelu_grad_fd(float x) { return act_gelu_grad_clamped_fd(x, ACT_GELU_AMAX_F); }
ACT_INLINE float act_gelu_grad_f(float x) { return act_gelu_nan_f(x, (float)act_gelu_grad_fd(x)); }
/* act_gelu_fd and act_gelu_grad_fd of a float32 x below the least normal (subnormal or
 * +-0), the same doubles, without a convert of x (a microcode assist on Intel cores):
 * there both take x only through x < 0 (exp(-a^2/2) is 1 and K + a is K in double), so
 * gelu' is its value at s, the least normal with that sign, and gelu(x) is x (exact,
 * act_tiny_to_d_f) times gelu(s) / s (exact: s is a power of two).  Every such x was
 * checked against act_gelu_fd and act_gelu_grad_fd, bit for bit. */
ACT_INLINE float act_gelu_tiny_stand_in_f(float x)
{
    return act_asfloat_u(act_asuint_f(x) > 0x80000000u ? 0x80800000u : 0x00800000u);
}
ACT_INLINE double act_gelu_tiny_fd(float x)
{
    float s = act_gelu_tiny_stand_in_f(x);
    return act_tiny_to_d_f(x) * (act_gelu_fd(s) * (s < 0.0f ? -0x1p126 : 0x1p126));
}
ACT_INLINE double act_gelu_grad_tiny_fd(float x) { return act_gelu_grad_fd(act_gelu_tiny_stand_in_f(x)); }
/* gelu's backward clamps a further out, at GRAD_AMAX: it multiplies the double gelu'
 * by g (up to float32's largest) before its one rounding, and g gelu'(x) is a float32
 * number down to x = -19.5 (gelu'(-20) = -1.1e-86: times 3.4e38 below half the least
 * subnormal).  P, fitted for a <= 15, extrapolates to within 2.4e-11 relative there
 * (mpmath, docs/performance-notes.md), and a^2/2 <= 200 keeps 2^n normal. */
#define ACT_GELU_GRAD_AMAX_F 20.0f
ACT_INLINE double act_gelu_grad_wide_fd(float x) { return act_gelu_grad_clamped_fd(x, ACT_GELU_GRAD_AMAX_F); }

/* ---- float32 gelu and gelu' beyond -AMAX, for geglu ----------------------------------
 * Past -AMAX gelu(x) and gelu'(x) underflow float32 by themselves, but geglu multiplies
 * them in double by b (and g b) first, up to 3.4e38 (1.2e77): there the product is a
 * float32 number down to x ~ -19.5 (gelu') and -23.7 (gelu' g b).  With a = -x and the
 * asymptotic series of Mills' ratio, S(a) = a Q(a) / phi(a) = 1 - 1/a^2 + 3/a^4 - 15/a^6
 * + 105/a^8 - 945/a^10 + 10395/a^12 (the next term, below 5e-12 for a >= 15, bounds the
 * error: the series alternates):
 *   gelu(x) = -a Q(a) = -phi(a) S(a),     gelu'(x) = Q(a) - a phi(a) = -phi(a) a (1 - S(a)/a^2).
 * a is clamped to 37, where exp(-a^2/2) = 2.7e-298 keeps every product with float32
 * factors below the least subnormal (and act_gelu_gauss_f's 2^n normal).  For finite
 * x < -AMAX; the callers select these by a per-block test (_formulas.pxd, geglu). */
#define ACT_GELU_FAR_AMAX_F 37.0
ACT_INLINE double act_gelu_far_a(float x)
{
    double a = -(double)x;
    return a < ACT_GELU_FAR_AMAX_F ? a : ACT_GELU_FAR_AMAX_F;
}

ACT_INLINE double act_gelu_mills_series(double z)      /* S(a), z = 1/a^2 */
{
    double s = ACT_FMA_D(-11.0 * z, 1.0, 1.0);
    s = ACT_FMA_D(-9.0 * z, s, 1.0);
    s = ACT_FMA_D(-7.0 * z, s, 1.0);
    s = ACT_FMA_D(-5.0 * z, s, 1.0);
    s = ACT_FMA_D(-3.0 * z, s, 1.0);
    return ACT_FMA_D(-z, s, 1.0);
}

ACT_INLINE double act_gelu_far_fd(float x)
{
    double a = act_gelu_far_a(x);
    double phi = act_gelu_gauss_f(a) * ACT_GELU_INV_SQRT_2PI_D;
    return -phi * act_gelu_mills_series(1.0 / (a * a));
}

ACT_INLINE double act_gelu_grad_far_fd(float x)
{
    double a = act_gelu_far_a(x);
    double z = 1.0 / (a * a);
    double phi = act_gelu_gauss_f(a) * ACT_GELU_INV_SQRT_2PI_D;
    return -(phi * a) * ACT_FMA_D(-act_gelu_mills_series(z), z, 1.0);
}

/* y, or where x < -FAR_AMAX the far tail's value there (the clamp makes it one value for
 * every such finite x): geglu's fast path takes act_gelu_fd / act_gelu_grad_fd as y
 * and so needs the far series only for -FAR_AMAX <= x < -AMAX (_formulas.pxd, geglu) */
ACT_INLINE double act_gelu_far_sat_fd(float x, double y)
{
    return x < (float)-ACT_GELU_FAR_AMAX_F ? act_gelu_far_fd((float)-ACT_GELU_FAR_AMAX_F) : y;
}

ACT_INLINE double act_gelu_grad_far_sat_fd(float x, double y)
{
    return x < (float)-ACT_GELU_FAR_AMAX_F ? act_gelu_grad_far_fd((float)-ACT_GELU_FAR_AMAX_F) : y;
}

/* w = 2u = 2 sqrt(2/pi) (x + 0.044715 x^3) in double (relative error ~3e-16, so exp's
 * argument is off by < 1e-13 for |w| <= 300); |x|^3 cannot overflow a double.
 * |w| is clamped to 300 and x to [-50, 50] where it multiplies t: beyond, the float32
 * result is x (x > 0) or a signed zero (x < 0) anyway. */
ACT_INLINE double act_gelu_tanh_fd(float x)
{
    double xd = (double)x;
    double w = xd * (ACT_GELU_TANH_C2_D + ACT_GELU_TANH_C2A_D * (xd * xd));
    double aw = act_fabs_d(w);
    aw = aw > 300.0 ? 300.0 : aw;
    double t = act_exp_for_f32_d(-aw);
    double xc = xd < -50.0 ? -50.0 : xd;
    return (x >= 0.0f ? xd : xc * t) / (1.0 + t);     /* one division for both signs */
}
ACT_INLINE float act_gelu_tanh_f(float x) { return (float)act_gelu_tanh_fd(x); }

ACT_INLINE double act_gelu_tanh_grad_fd(float x)
{
    double xd = (double)x;
    double w = xd * (ACT_GELU_TANH_C2_D + ACT_GELU_TANH_C2A_D * (xd * xd));
    double aw = act_fabs_d(w);
    aw = aw > 300.0 ? 300.0 : aw;
    double t = act_exp_for_f32_d(-aw);
    double xc = xd < -50.0 ? -50.0 : xd;
    xc = xc > 50.0 ? 50.0 : xc;
    double v = xc * (ACT_GELU_TANH_C2_D + ACT_GELU_TANH_C2A3_D * (xc * xc));
    double u = 1.0 + t;
    return (x >= 0.0f ? u + v * t : t * (u + v)) / (u * u);
}
ACT_INLINE float act_gelu_tanh_grad_f(float x) { return (float)act_gelu_tanh_grad_fd(x); }
#endif /* ACTIVATIONS_GELU_H */
