# The scalar mathematics of every elementwise activation, written once for float32
# and float64 (fused `floating`).  Nothing here loops: the loops are generated from
# _elementwise.pxi.tp and call these per element, so every function is
# `inline noexcept nogil` and branch-free (`a if c else b` compiles to a blend).
#
# Conventions, for each activation NAME:
#   NAME_forward(x, a, b)                   y = f(x)
#   NAME_backward(g, x, a, b)               g * f'(x)
#   NAME_backward_from_output(g, y, a, b)   g * f'(x) computed from y = f(x)
# `a` and `b` are the activation's scalar parameters already rounded to the dtype
# (see _spec.py for which is which); unused ones are ignored.
#
# Compound conditions use `&` and `|`, not `and`/`or`: Cython compiles those to
# short-circuit jumps, which GCC does not if-convert, so the loop would not vectorize.
#
# Semantics (docs/api.md): PyTorch's one-sided derivative at every kink; a NaN input gives
# NaN in the forward and the backward; at +-inf the limits; exact values where
# PyTorch's formula overflows or cancels.  Literals are cast to `floating` so that
# float32 code never widens to double.

from cython cimport floating
from activations._vmath cimport (vexp, vexp_hilo, vexp_scaled_up, vexp_deep_up,
                                 vexp_deep_up2, times_deep_up2_down,
                                 vexp_scaled_up_deep, deep_down, scale_down,
                                 times_scale_down, times_scale_down_finite, times_scale_down_plain,
                                 times_scale_down_rn, select_ge, select_gt,
                                 times_scale_up, guard_small, vexpm1, vlog1p,
                                 vexpm1_nonpos, one_minus_exp_neg2, two_exp_2y, vneg_abs,
                                 vlog1p_unit, vfma, vmul_once,
                                 vexp_normal, vexp_normal_hilo, vexp_normal_neg,
                                 vfabs, vcopysign, vinf, two_sum_err, two_prod_err, exact_error,
                                 act_exp_for_f32_d, vtiny_mul, vtiny_mul_wide, vsmall_mul, vtiny_slope,
                                 vis_tiny,
                                 vis_zero, act_asuint_f, act_asuint_d, act_mul_exp_wide_d,
                                 vmish_tiny, vgrad_above,
                                 ACT_VEC_U64_COMPARE, ACT_MASK_SELECTS, ACT_HAVE_FMA)
from libc.stdint cimport uint32_t, uint64_t

# SELU constants (Klambauer et al. 2017), as in docs/api.md; scale*alpha is formed in
# double and rounded once to the dtype.
cdef extern from *:
    """
    #define ACT_SELU_SCALE 1.0507009873554804934193349852946
    #define ACT_SELU_ALPHA 1.6732632423543772848170429916717
    #define ACT_SELU_SCALE_ALPHA (ACT_SELU_SCALE * ACT_SELU_ALPHA)
    """
    double ACT_SELU_SCALE
    double ACT_SELU_SCALE_ALPHA


# ----------------------------------------------------------------- shared pieces

cdef inline floating tiny_threshold(floating like) noexcept nogil:
    """Below this magnitude a product is (near) denormal: 2**-100 / 2**-960."""
    if floating is float:
        return <float>7.888609052210118e-31
    else:
        return <double>1.0261342003245941e-289


# Results in the subnormal range.  A multiplication or division with a subnormal input or
# output takes a microcode assist on Intel cores (~100 cycles, for the whole vector;
# docs/performance-notes.md, "Subnormal results").  Where a result may be subnormal, the
# formulas take exp scaled up (vexp_scaled_up: t_up = t * 2**64 / 2**512, normal), form
# the result scaled up and round it into the subnormal range last by integer operations
# (times_scale_down).  Every lane evaluates every branch, so the unscaled branch gets a
# guarded t (guarded_t: 2**-40 / 2**-70 in the lanes that take the scaled branch, whose
# products stay normal and which vanishes against 1 as t does), by bit operations and
# at a different constant than the select (_vmath.h act_guard_small: why).
# The scaled branches are taken only where t < 2**-90 / 2**-900, below exp(-60) /
# exp(-600), so never in a block a fast path runs (see "Per-block fast paths"): elsewhere
# the formulas compute the fast paths' arithmetic, bit for bit.

cdef inline floating scaled_tiny(floating like) noexcept nogil:
    """t_up below this (t below 2**-90 / 2**-900, where 1 + t rounds to 1) takes the
    scaled branch."""
    if floating is float:
        return <float>1.4901161193847656e-08     # 2**-26
    else:
        return <double>1.5862136483222808e-117   # 2**-388


cdef inline floating stand_in_up(floating like) noexcept nogil:
    """2**24 / 2**442: guarded lanes' t_up exponent (t in [2**-40, 2**-39) / [2**-70, 2**-69))."""
    if floating is float:
        return <float>16777216.0
    else:
        return <double>1.1356855067118858e+133


cdef inline floating guarded_t(floating t_up) noexcept nogil:
    """t = t_up * scale_down where t_up >= scaled_tiny / 2 (also NaN), else a stand-in in
    [2**-40, 2**-39) / [2**-70, 2**-69) for the lanes that take the scaled branch."""
    return guard_small(t_up, scaled_tiny(t_up) * <floating>0.5, stand_in_up(t_up)) * scale_down(t_up)


cdef inline floating big_factor(floating like) noexcept nogil:
    """2**60 / 2**480: a factor this large times scale_down is exact, and times t_up >=
    exp(-148) * 2**64 (exp(-1063) * 2**512) normal."""
    if floating is float:
        return <float>1.152921504606847e+18
    else:
        return <double>3.1217485503159922e+144


cdef inline floating mul_scaled_down(floating a, floating v_up) noexcept nogil:
    """a * (v_up * scale_down) for 0 <= v_up <= 2**64 / 2**512 (or NaN), any a, without
    subnormal arithmetic: |a| < big_factor: a * v_up (no overflow) scaled down by
    times_scale_down; else (a * scale_down) * v_up.  Both arms run in every lane: the
    big arm's a is guarded (guard_small) so that its product stays normal."""
    cdef floating zero = 0
    return mul_scaled_down_deep(a, v_up, zero)


cdef inline floating mul_scaled_down_deep(floating a, floating v_up, floating deep) noexcept nogil:
    """mul_scaled_down(a, v_up); where deep != 0 (a deep lane, deep_flag: |a| >=
    big_factor, v_up from vexp_scaled_up_deep) (a * deep_down) * v_up, the result scaled
    up by 2**64 / 2**512, scaled down last (times_scale_down: "Large grads at
    underflowing derivatives" below)."""
    cdef floating big = big_factor(a)
    cdef floating a_big = guard_small(a, big * <floating>0.5, big)
    cdef floating p = (a_big * (scale_down(a) if deep == 0 else deep_down(a))) * v_up
    return (p if (vfabs(a) >= big) & (deep == 0)
            else times_scale_down(a * v_up if deep == 0 else p))


cdef inline floating mul2_scaled_down(floating g, floating a, floating t_up, floating deep) noexcept nogil:
    """g * (a * (t_up * scale_down)) for 0 <= t_up < scaled_tiny (or NaN), any g and a,
    without subnormal arithmetic: |a| < big_factor: mul_scaled_down_deep(g, a * t_up,
    deep); else g * ((a * scale_down) * t_up), a normal product (a guarded as in
    mul_scaled_down; not a deep lane)."""
    cdef floating big = big_factor(a)
    cdef floating a_big = guard_small(a, big * <floating>0.5, big)
    return (g * ((a_big * scale_down(a)) * t_up) if vfabs(a) >= big
            else mul_scaled_down_deep(g, a * t_up, deep))


cdef inline bint finite(floating v) noexcept nogil:
    return v - v == 0


# Products of two inputs that overflow.  The gates form g * b * f'(a) (glu: g * a *
# sigmoid'(b), and the forward a * b * sigmoid(a)) as (g * b) * f'(a), rounded once;
# where g * b overflows but g and b are finite, the whole product may still be finite,
# or round to 0 (f'(a) far below 1), and (g * b) * f'(a) would be +-inf or NaN (inf * 0).
# There the formulas take the product wider: float32 in double (g * b exact, the
# double formula rounded once to float32); float64 as (g * b) * 2**-k, k = 512 or 1024,
# the least that keeps it finite (one rounding), the formula on that, and the result
# times 2**k (exact, or a true overflow); float64 geglu, whose gelu'(a) is a float64
# value, as g * (b * gelu'(a)) (b * gelu'(a) normal: |b| > 1).  float64 is then exact
# down to a = -1050 for silu' and sigmoid' (scaled exps, the scaled product >= 2**512:
# a normal result), to a = -37 for gelu' and -21 for its tanh form (normal to there);
# below, glu's and swiglu's wide forms take their deep_big lanes ("Large factors at deep
# gate arguments" below), and geglu, down to 2**-3122 (g * b <= 2**2048), rounds to 0 or
# loses digits.
# Infinite or NaN g or b take the unscaled formula's values.  glu and swiglu take these
# forms in NAME_DIR_wide formulas, which the loops run only in exact regions with such a
# lane (_spec.WIDE_PATHS: float32's double path would double the exact blocks' time).

cdef inline bint overflowed(floating g, floating b, floating gb) noexcept nogil:
    """gb = g * b overflowed from finite g and b."""
    cdef floating zero = 0
    return (gb - gb != zero) & finite(g) & finite(b)


cdef inline floating product_scaled_down(floating g, floating b) noexcept nogil:
    """float64: g * b, or where that overflowed (finite g, b) (g * 2**-512) * b, or
    (g * 2**-1024) * b where that overflows too, rounded once: |g| > 1 where g * b
    overflows (|b| <= 2**1024), and |g| > 2**512 where g * b >= 2**1536, so the scaled g
    stays normal."""
    cdef floating s = <floating>7.458340731200207e-155        # 2**-512
    cdef floating gb = g * b
    cdef floating gb1 = (g * s) * b
    cdef floating gb2 = ((g * s) * s) * b
    cdef floating scaled = gb1 if finite(gb1) else gb2
    return scaled if overflowed(g, b, gb) else gb


cdef inline floating product_scaled_up(floating g, floating b, floating v) noexcept nogil:
    """v times the 2**k that product_scaled_down(g, b) divided g * b by."""
    cdef floating s = <floating>7.458340731200207e-155        # 2**-512
    cdef floating up = <floating>1.3407807929942597e+154      # 2**512
    cdef floating v1 = v * up
    cdef floating v2 = v1 * up
    cdef floating scaled = v1 if finite((g * s) * b) else v2
    return scaled if overflowed(g, b, g * b) else v


# Large factors at deep gate arguments.  mul_sigmoid, mul_logistic_density and
# mul_swish_derivative form a factor f times exp(z), z < 0, as f t_up scaled down last,
# a factor |f| >= big_factor scaled first ((f scale_down) t_up): exact while t_up =
# exp(z) * 2**64 / 2**512 is normal, above z = -131.7 / -1063.3.  Below, t_up has lost
# digits (subnormal), and past the scaled exp's clamp (-148.4 / -1100.9) it is 0, while
# f exp(z) need not be small: 2**128 exp(z) (float32) and 2**1024 exp(z) (float64) are
# above half the least subnormal down to z = -192.7 / -1454.8, an overflowed product's
# 2**256 / 2**2048 down to -281 / -2164.  (A factor below big_factor there is off by at
# most |f| 2**-65 / 2**-513 of a unit of the subnormal result, and 0 where f exp(z) is
# below 2**-154 / 2**-1108: correctly rounded but near ties.)  Such lanes, deep_big:
# |f| >= big_factor (or a product of finite inputs that overflowed) with z below
# -WIDE_DEEP (-128 / -1024) and at or above -2 FAST_SAT (past it f exp(z) rounds to 0
# for every factor, the exact formulas' value), are taken wider, in the gates' wide forms
# (_spec.WIDE_PATHS): float32 by the exact formulas in double (their t_up stays normal
# down to z = -1063, the factors below 2**268), float64 as f exp(z) with 1 + t = 1
# (t < 2**-1477) by act_mul_exp_wide_d (_vmath.h: the factors' exponents moved into
# the exp's scaling, exact).

cdef inline floating wide_deep(floating like) noexcept nogil:
    """-WIDE_DEEP: below this gate argument a big factor's t_up is near or below the
    subnormal range (see above)."""
    if floating is float:
        return <float>-128.0
    else:
        return <double>-1024.0


cdef inline bint deep_big(floating f, floating z) noexcept nogil:
    """|f| >= big_factor (+-inf too: the caller tests its inputs finite) with
    -2 FAST_SAT <= z < -WIDE_DEEP: a lane the wide forms take wider (see above)."""
    cdef floating sat2 = 2 * fast_sat(z)
    return (vfabs(f) >= big_factor(f)) & (z < wide_deep(z)) & (z >= -sat2)


# Large grads at underflowing derivatives.  A backward's g f'(x) where f'(x) = c exp(z)
# (1 + t = 1; c a factor of moderate size) is formed from t_up = exp(z) * 2**64 /
# 2**512 as mul_scaled_down(g, c t_up): exact while t_up is normal, above z = -131.7 /
# -1063.3; below, t_up is subnormal (digits lost) or 0, while g exp(z) need not be small
# (above half the least subnormal down to z = -192.7 / -1454.8 for a g near the dtype's
# largest).  A g below big_factor is off by at most |g| 2**-65 / 2**-513 of a unit of
# the subnormal result there (see "Large factors at deep gate arguments"): only the lanes
# deep_big(g, z) (|g| >= big_factor, -2 FAST_SAT <= z < -WIDE_DEEP) need more.  Those,
# deep_flag, take the exp scaled up by 2**90 / 2**570 more (vexp_scaled_up_deep: normal
# down to z = -192.7 / -1454.8 and still below scaled_tiny / 2, so the formulas' branches
# and guarded t stay as for the other lanes) and g scaled down by as much (exact: |g|
# >= big_factor), the product, g exp(z) 2**64 / 2**512, scaled down last
# (mul_scaled_down_deep; the product rounded to the dtype's precision, then into the
# subnormal range: off by at most 0.75 of the subnormal unit, just below the least normal
# number, as mul_scaled_down's other arm).
# No other lane changes (the flag is 0 there), and no fast or deep-negative tier takes
# a deep lane (their z is at or above -FAST_EXP_MIN, or |g| below big_factor), so the
# tiers still give the exact formulas' bits.  The elementwise backwards take it through
# mul_exp (elu, selu, celu), mul_logistic_density (sigmoid), mul_swish_derivative
# (swish, silu), mul_sigmoid (softplus) and log_sigmoid_backward; the last three's
# deep_lanes argument is False for the forwards (no deep lane: their factor is x) and
# the gates, whose deep_big lanes their wide forms take (with the deep selects in both
# of glu's backward formulas GCC vectorized neither of its gate_grad loops).

cdef inline floating deep_flag(floating f, floating z) noexcept nogil:
    """1 where deep_big(f, z) and f is finite, else 0: a deep lane (see above), as a
    select of the lane's width (vexp_scaled_up_deep).  (An infinite f keeps its product
    with the scaled exp: inf, or NaN where that exp is 0, as before.)"""
    cdef floating zero = 0, one = 1
    return one if deep_big(f, z) & (vfabs(f) < vinf(f)) else zero


cdef inline floating mul_sigmoid(floating a, floating z, floating zlo, bint deep_lanes) noexcept nogil:
    """a * sigmoid(z + zlo), rounded once also where the result is subnormal, without
    subnormal arithmetic.  Where sigmoid(z) underflows to 0 the result is a * 0 (NaN for
    infinite a).

    t = exp(-|z + zlo|);  z >= 0: a / (1 + t);  z < 0: a t / (1 + t), formed as
    (a t_up / (1 + t)) scaled down last (times_scale_down): rounded once where subnormal,
    bit for bit a t / (1 + t) where a t is normal; for |a| >= big_factor, whose a t_up may
    overflow, ((a scale_down) t_up) / (1 + t), a t normal.  With deep_lanes (a constant:
    the backwards'), a deep lane (deep_flag) is scaled as in mul_scaled_down_deep.
    """
    cdef floating one = 1, zero = 0
    cdef floating deep = deep_flag(a, z) if deep_lanes else zero
    cdef floating t_up = vexp_scaled_up_deep(vneg_abs(z), -zlo if z >= 0 else zlo, deep)
    cdef floating u = one + guarded_t(t_up)       # 1 + t exactly (1 where t is guarded)
    cdef floating big = big_factor(a)
    cdef floating s = scale_down(a) if deep == 0 else deep_down(a)
    cdef floating q = (a if z >= 0 else (a * s if vfabs(a) >= big else a) * t_up) / u
    return q if (z >= 0) | ((vfabs(a) >= big) & (deep == 0)) else times_scale_down(q)


cdef inline floating sigmoid_of(floating z) noexcept nogil:
    """sigmoid(z) without overflow: t = exp(-|z|) <= 1, y = (1 or t) / (1 + t)."""
    cdef floating one = 1, zero = 0
    return mul_sigmoid(one, z, zero, False)


cdef inline floating sigmoid_complement_given(floating z, floating t) noexcept nogil:
    """sigmoid(-z) given t = exp(-|z|)."""
    cdef floating one = 1
    return (t if z >= 0 else one) / (one + t)


cdef inline floating logistic_density(floating t) noexcept nogil:
    """t / (1 + t)^2 for 0 <= t <= 1 (t = exp(-|z|): sigmoid'(z)), to ~2 ulp.

    The roundings of u = 1 + t and of u*u are recovered exactly (Fast2Sum, two_prod)
    and applied as a first-order correction, so only exp's error and two roundings
    remain.
    """
    cdef floating one = 1, two = 2
    cdef floating u = one + t
    cdef floating eu = t - (u - one)              # exact: u + eu = 1 + t
    cdef floating u2 = u * u
    cdef floating e2 = two_prod_err(u, u, u2)     # exact: u*u = u2 + e2
    cdef floating q = t / u2
    return q - q * ((e2 + two * u * eu) / u2)


cdef inline floating mul_logistic_density(floating g, floating a, floating z, bint deep_lanes) noexcept nogil:
    """(g * a) * sigmoid'(z), sigmoid'(z) = logistic_density(exp(-|z|)) <= 1/4: the two
    factors that may be large first, so that a product rounded into the subnormal range
    is only ever scaled down after (g * round(a / 4) would scale a subnormal's rounding
    error up by g); where g * a overflows, g * (a * sigmoid'(z)).  Without subnormal
    arithmetic where t = exp(-|z|) < 2**-90 (2**-900): there sigmoid'(z) rounds to t and
    the result is (g a) t from t_up, scaled down last (mul_scaled_down; mul2_scaled_down
    where g * a overflows).  Both orders are p * (q * sigmoid'(z)), (p, q) = (g * a, 1)
    or (g, a): one formula, its factors selected (q = 1 is exact)."""
    cdef floating zero = 0, one = 1
    cdef floating ga = g * a
    cdef bint ga_finite = ga - ga == zero
    # with deep_lanes (a constant), a deep lane (deep_flag) of g a (finite: q = 1)
    cdef floating deep = deep_flag(ga, vneg_abs(z)) if deep_lanes else zero
    cdef floating t_up = vexp_scaled_up_deep(vneg_abs(z), zero, deep)
    cdef floating p = ga if ga_finite else g
    cdef floating q = one if ga_finite else a
    return (p * (q * logistic_density(guarded_t(t_up))) if t_up >= scaled_tiny(z)
            else mul2_scaled_down(p, q, t_up, deep))


cdef inline floating mul_exp(floating g, floating a, floating x, floating lo) noexcept nogil:
    """g * (a * exp(x + lo)) for a parameter a (loop-invariant) without subnormal
    arithmetic: where exp < 2**-90 (2**-900), g (a t_up) scaled down last
    (mul_scaled_down; exact for |a| up to 2**90 / 2**900, where a t_up stays below its
    2**64 / 2**512; no branch on a: an invariant select keeps GCC from if-converting)."""
    cdef floating deep = deep_flag(g, x)
    cdef floating t_up = vexp_scaled_up_deep(x, lo, deep)
    # a bit select: with `?:` GCC predicates guarded_t's guard with the first arm's
    # condition and the other lanes take assists (select_ge)
    return select_ge(t_up, scaled_tiny(x), g * (a * guarded_t(t_up)),
                     mul_scaled_down_deep(g, a * t_up, deep))


cdef inline floating nan_if_nan(floating x, floating value) noexcept nogil:
    """`value`, or `x` (a NaN) when x is NaN: piecewise derivatives propagate NaN."""
    return value if x == x else x


# ----------------------------------------------------------------- sigmoid

cdef inline floating sigmoid_forward(floating x, floating a, floating b) noexcept nogil:
    # 1 / (1 + exp(-x)) for both signs down to x = -FAST_EXP_MIN (exp(-x) <= e^60 /
    # e^600: no overflow; no select of the numerator, t or 1), below that sigmoid_of's
    # scaled form (results near or in the subnormal range).  NaN takes the division.
    # vexp_normal is vexp's value for -x in [-87, 60] (float32) / [-708, 600]; below,
    # 1 + exp(-x) rounds to 1 either way, and past 60 / 600 the lane is sigmoid_of's.
    # (Blocks with no rare lane run sigmoid_forward_fast: "Per-block fast paths" below.)
    cdef floating one = 1
    return sigmoid_of(x) if x < fast_exp_min(x) else one / (one + vexp_normal(-x))


cdef inline floating sigmoid_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    # sigmoid'(x) = t / (1 + t)^2 with t = exp(-|x|): accurate for both signs,
    # unlike y * (1 - y), which cancels for large x.  (Blocks with
    # no rare lane run sigmoid_backward_fast: "Per-block fast paths" below.)
    cdef floating one = 1
    return mul_logistic_density(g, one, x, True)


cdef inline floating sigmoid_backward_from_output(floating g, floating y, floating a, floating b) noexcept nogil:
    # g (y (1 - y)) as rounded (sigmoid_backward_from_output_fast), without subnormal
    # arithmetic where |y| <= 2**-25 (2**-54): there 1 - y rounds to 1, so the result is
    # g y, formed from y scaled up (exactly, by integer operations) and rounded into the
    # subnormal range once, the product's exact residual deciding a tie; for |g| >=
    # big_factor (g scale_down) y_up, normal.  Elsewhere y is guarded for the lanes
    # that do not need it.  (Blocks with no rare lane run the fast formula, whole blocks
    # of sigmoid_backward_from_output_small_lane lanes the small form: "Per-block fast
    # paths" below.)
    cdef floating one = 1
    cdef floating small, y_g, p, e, big
    if floating is float:
        small = <float>2.9802322387695312e-08      # 2**-25
    else:
        small = <double>5.551115123125783e-17      # 2**-54
    y_g = guard_small(y, tiny_threshold(y), stand_in_up(y) * scale_down(y))
    cdef floating plain = g * (y_g * (one - y_g))
    cdef floating y_up = times_scale_up(y)
    big = big_factor(g)
    cdef floating g_big = guard_small(g, big * <floating>0.5, big)
    p = g * y_up
    e = two_prod_err(g, y_up, p)
    cdef floating tiny = (g_big * scale_down(g)) * y_up if vfabs(g) >= big else times_scale_down_rn(p, e)
    return tiny if vfabs(y) <= small else plain


# ----------------------------------------------------------------- tanh

# Polynomials fitted by tools/fit_tanh.py and tools/fit_tanhshrink.py.
cdef extern from *:
    """
    /* tools/fit_tanh.py, degree 6: tanh(x) = x + x^3 P(u), u = x^2 <= 1 */
    static inline float act_tanh_poly_f(float u) {
        float p = -0.00042069549090228975f;
        p = act_fma_f(p, u, 0.0025104593951255083f);
        p = act_fma_f(p, u, -0.008218921720981598f);
        p = act_fma_f(p, u, 0.02166011556982994f);
        p = act_fma_f(p, u, -0.053934790194034576f);
        p = act_fma_f(p, u, 0.1333312839269638f);
        return act_fma_f(p, u, -0.3333333134651184f);
    }
    /* tools/fit_tanhshrink.py: x - tanh(x) = x^3 P(u), u = x^2 <= 1 (float32: degree 7,
       rounded minimax, 0.50 ulp) */
    static inline float act_tanhshrink_poly_f(float u) {
        float p = -0.00020826823310926557f;
        p = act_fma_f(p, u, 0.0011582246515899897f);
        p = act_fma_f(p, u, -0.0035389706026762724f);
        p = act_fma_f(p, u, 0.008932444266974926f);
        p = act_fma_f(p, u, -0.021915368735790253f);
        p = act_fma_f(p, u, 0.053978562355041504f);
        p = act_fma_f(p, u, -0.13333413004875183f);
        return act_fma_f(p, u, 0.3333333432674408f);
    }
    static inline double act_tanhshrink_poly_d(double u) {
        double p = -2.5155023659382105e-08;
        p = act_fma_d(p, u, 2.6330772232959337e-07);
        p = act_fma_d(p, u, -1.3791814499083342e-06);
        p = act_fma_d(p, u, 4.987760317520347e-06);
        p = act_fma_d(p, u, -1.4606131676715378e-05);
        p = act_fma_d(p, u, 3.8389607893147334e-05);
        p = act_fma_d(p, u, -9.646277743313181e-05);
        p = act_fma_d(p, u, 0.00023895705228738225);
        p = act_fma_d(p, u, -0.0005899792946300052);
        p = act_fma_d(p, u, 0.0014558246920964941);
        p = act_fma_d(p, u, -0.003592126679366341);
        p = act_fma_d(p, u, 0.008863235404578283);
        p = act_fma_d(p, u, -0.02186948852912909);
        p = act_fma_d(p, u, 0.05396825396804637);
        p = act_fma_d(p, u, -0.1333333333333309);
        return act_fma_d(p, u, 0.3333333333333333);
    }
    """
    float act_tanh_poly_f(float u) noexcept nogil
    float act_tanhshrink_poly_f(float u) noexcept nogil
    double act_tanhshrink_poly_d(double u) noexcept nogil



cdef inline floating tanh_forward(floating x, floating a, floating b) noexcept nogil:
    # tanh|x| = w / (2 - w) with w = 1 - exp(-2|x|) = -expm1(-2|x|) in [0, 1]: no
    # overflow, full relative accuracy near 0 (expm1 is accurate there), sign restored
    # last (w(0) = +0, so tanh(-0) = -0).  One exp-type evaluation: faster than
    # tanh_accurate below, within 2.5 ulp (docs/performance-notes.md, "expm1 on x <= 0").
    cdef floating two = 2
    cdef floating w = one_minus_exp_neg2(vfabs(x))
    return vcopysign(w / (two - w), x)


cdef inline floating tanh_accurate(floating x) noexcept nogil:
    # tanh within 1.5 ulp, for where its error is amplified (tanhshrink' = tanh^2):
    # |x| <= 1: x + x^3 P(x^2), P near-minimax (tools/fit_tanh.py: 0.4 ulp float32,
    # 0.1 ulp float64; float64's P is tanhshrink's with the sign flipped);
    # |x| > 1: (1 - t) / (1 + t), t = exp(-2|x|) <= 0.136: nothing cancels (t2 = 2t).
    # NaN takes the series (ax > 1 is false there): two_exp_2y makes NaN finite.
    cdef floating one = 1, half = 0.5
    cdef floating ax = vfabs(x)
    cdef floating u = ax * ax
    cdef floating p
    if floating is float:
        p = act_tanh_poly_f(u)
    else:
        p = -act_tanhshrink_poly_d(u)
    cdef floating small = vfma(ax * u, p, ax)
    cdef floating t2 = two_exp_2y(vneg_abs(x))
    cdef floating large = vfma(t2, -half, one) / vfma(t2, half, one)
    return vcopysign(large if ax > one else small, x)


cdef inline floating tanh_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    # 1 - tanh(x)^2 = 4t / (1 + t)^2 with t = exp(-2|x|): no cancellation.
    cdef floating two = 2, four = 4
    return g * (four * logistic_density(vexp(-two * vfabs(x))))


cdef inline floating tanh_backward_from_output(floating g, floating y, floating a, floating b) noexcept nogil:
    cdef floating one = 1
    return g * ((one - y) * (one + y))


# ----------------------------------------------------------------- relu

cdef inline floating relu_forward(floating x, floating a, floating b) noexcept nogil:
    # `x < 0` is false for NaN and -0: relu(NaN) = NaN, relu(-0) = -0, as PyTorch.
    cdef floating zero = 0
    return zero if x < 0 else x


cdef inline floating relu_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    return nan_if_nan(x, g if x > 0 else zero)  # relu'(0) = 0


cdef inline floating relu_backward_from_output(floating g, floating y, floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    return nan_if_nan(y, g if y > 0 else zero)


# The out-of-cache forms (_spec.OUT_OF_CACHE_FORMS): the same bits by integer arithmetic,
# so that g's loads do not wait behind x's (_vmath.h act_grad_above_f).  AVX-512 only
# (ACT_MASK_SELECTS): below it the select is a blend of an unconditional load of g, and
# the integer form only adds instructions (no 64-bit arithmetic shift in AVX2).
cdef inline floating relu_backward_ooc(floating g, floating x, floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    if ACT_MASK_SELECTS:
        return vgrad_above(g, x, zero)
    return relu_backward(g, x, a, b)


cdef inline floating relu_backward_from_output_ooc(floating g, floating y, floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    if ACT_MASK_SELECTS:
        return vgrad_above(g, y, zero)
    return relu_backward_from_output(g, y, a, b)


# ----------------------------------------------------------------- leaky_relu (a = negative_slope)

cdef inline floating slope_times(floating x, floating a) noexcept nogil:
    """a * x, with the limit (a signed zero) rather than NaN for a = 0, x = -inf.  The
    product by vmul_once (the same rounding and sign): on Zen 5 a multiply of a
    subnormal x rounded into the subnormal range costs up to 3x (docs/performance-notes.md
    "Subnormal operands on Zen 5"), and these loops run it in every lane."""
    cdef floating zero = 0
    return vcopysign(zero, x) if (a == 0) & (x == x) else vmul_once(x, a)


cdef inline floating leaky_relu_forward(floating x, floating a, floating b) noexcept nogil:
    return x if x > 0 else slope_times(x, a)


cdef inline floating leaky_relu_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    return nan_if_nan(x, g if x > 0 else g * a)


cdef inline floating leaky_relu_backward_from_output(floating g, floating y, floating a, floating b) noexcept nogil:
    # valid for a > 0 only (checked by the Python layer): then sign(y) = sign(x)
    return nan_if_nan(y, g if y > 0 else g * a)


# ----------------------------------------------------------------- elu (a = alpha)

cdef inline floating elu_forward(floating x, floating a, floating b) noexcept nogil:
    return x if x > 0 else a * vexpm1_nonpos(x)


cdef inline floating elu_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    # PyTorch's kink: elu'(0) = alpha (the x <= 0 side); NaN takes that side too.
    cdef floating zero = 0
    return g if x > 0 else mul_exp(g, a, x, zero)


cdef inline floating elu_backward_from_output(floating g, floating y, floating a, floating b) noexcept nogil:
    # y + alpha >= 0 in exact arithmetic; a y rounded just past -alpha must not give a
    # negative slope
    cdef floating zero = 0
    cdef floating d = y + a
    return g if y > 0 else g * (zero if d < 0 else d)


# ----------------------------------------------------------------- selu

cdef inline floating selu_forward(floating x, floating a, floating b) noexcept nogil:
    cdef floating scale = <floating>ACT_SELU_SCALE
    cdef floating scale_alpha = <floating>ACT_SELU_SCALE_ALPHA
    return scale * x if x > 0 else scale_alpha * vexpm1_nonpos(x)


cdef inline floating selu_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    # as elu's: g (scale alpha exp(x)) without subnormal arithmetic (mul_exp).  (Blocks
    # with no rare lane run selu_backward_fast: "Per-block fast paths" below.)
    cdef floating scale = <floating>ACT_SELU_SCALE
    cdef floating scale_alpha = <floating>ACT_SELU_SCALE_ALPHA
    cdef floating zero = 0
    return g * scale if x > 0 else mul_exp(g, scale_alpha, x, zero)


cdef inline floating selu_backward_from_output(floating g, floating y, floating a, floating b) noexcept nogil:
    cdef floating scale = <floating>ACT_SELU_SCALE
    cdef floating scale_alpha = <floating>ACT_SELU_SCALE_ALPHA
    cdef floating zero = 0
    cdef floating d = y + scale_alpha
    return g * scale if y > 0 else g * (zero if d < 0 else d)


# ----------------------------------------------------------------- softsign

cdef inline floating softsign_forward(floating x, floating a, floating b) noexcept nogil:
    # x / (1 + |x|) is inf/inf at +-inf; the limit there is +-1.  A division with a
    # subnormal operand is slow on every x86 core (AMD Zen 4: 2.2x, also in masked-off
    # lanes; docs/performance-notes.md "Value-dependent operations on Zen 4"), so where
    # selects are masked instructions (ACT_MASK_SELECTS, _vmath.h): below 2**-60,
    # 1 + |x| rounds to 1 and the quotient is x, selected as such, and those lanes
    # divide 1 instead (guarded below 2**-80, a different constant than the select's,
    # so that GCC keeps the guard).
    cdef floating one = 1
    cdef floating ax = vfabs(x)
    cdef floating dividend, q
    if ACT_MASK_SELECTS:
        dividend = one if ax < <floating>8.271806125530277e-25 else x
        q = x if ax < <floating>8.673617379884035e-19 else dividend / (one + ax)
    else:
        q = x / (one + ax)
    return vcopysign(one, x) if ax == vinf(x) else q


cdef inline floating softsign_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    # (g r) r, r = 1 / (1 + |x|): the square of the reciprocal underflows gracefully
    # where (1 + |x|)^2 would overflow (|x| > 1.8e19 in float32), and g r first keeps a
    # large g's product exact where r * r alone would be subnormal or 0 (docs/api.md
    # "Large and tiny grads"; r <= 1: g r cannot overflow).  Where the product
    # underflows (huge |x|) it is slow on AMD Zen 4 and 5 (also masked off), and so is
    # the division where r is subnormal; a lane select of r = 0 would need |g| in its
    # test, which costs ordinary data more (docs/performance-notes.md "Large grads at
    # underflowing derivatives: tanh, ..."): whole blocks of such lanes run
    # softsign_backward_huge instead (_spec.HUGE_PATHS).
    cdef floating one = 1
    cdef floating r = one / (one + vfabs(x))
    return (g * r) * r


cdef inline bint softsign_backward_huge_lane(floating g, floating x, floating a, floating b) noexcept nogil:
    # |g| < (c |x|)**2 = 2**-152 x**2 (2**-1076 x**2; c = 2**-76 / 2**-538, c |x| exact
    # where it matters): then (g r) r, r = 1 / (1 + |x|), rounds to +-0 with every
    # rounding of the exact formula (_spec.HUGE_PATHS).  A nonzero g passes only past
    # |x| > 2.8 (2), so r < 0.27 (1/3), |g| r r is below about 2**-152 (2**-1076), a
    # subnormal g r's rounding adds at most 2**-150 r (2**-1075 r): below half the
    # least subnormal; subnormal r (|x| > 2**126 / 2**1022) errs by 2**-22 at most
    # relative.  inf x passes (r = +0: the same zero), NaN x, inf and NaN g fail.
    cdef floating c
    if floating is float:
        c = <float>1.3234889800848443e-23          # 2**-76
    else:
        c = <double>1.1113793747425387e-162        # 2**-538
    cdef floating p = c * vfabs(x)
    return vfabs(g) < p * p


cdef inline bint softsign_backward_huge_first(floating g, floating x, floating a, floating b) noexcept nogil:
    # the scalar look at a block's first lane, for its tiny block or its huge one: |x|
    # below the least normal (+-0 included) or finite and at least 2**24 (2**53), by
    # unsigned compares of |x|'s bits (ordinary data pays them once per block).  An inf
    # or NaN first lane fails: inf/NaN-heavy data would otherwise pay a lane pass per
    # block that fails (1.4x ordinary on float32).  Only a choice of blocks:
    # softsign_backward_huge_lane decides each lane
    cdef uint32_t uf
    cdef uint64_t ud
    if floating is float:
        uf = act_asuint_f(vfabs(x))
        return ((uf - <uint32_t>0x00800000) >= <uint32_t>(0x4b800000 - 0x00800000)) & (uf < <uint32_t>0x7f800000)
    else:
        ud = act_asuint_d(vfabs(x))
        return (((ud - <uint64_t>0x0010000000000000) >= <uint64_t>(0x4340000000000000 - 0x0010000000000000))
                & (ud < <uint64_t>0x7ff0000000000000))


cdef inline floating softsign_backward_huge(floating g, floating x, floating a, floating b) noexcept nogil:
    # (g r) r where softsign_backward_huge_lane holds: zero with the sign of g (r > +0 or
    # r = +0), by bit operations, none of the exact formula's slow arithmetic
    cdef floating zero = 0
    return vcopysign(zero, g)


cdef inline floating softsign_backward_from_output(floating g, floating y, floating a, floating b) noexcept nogil:
    cdef floating one = 1
    cdef floating r = one - vfabs(y)
    return g * (r * r)


# ----------------------------------------------------------------- softplus (a = beta, b = threshold)

cdef inline floating softplus_given(floating z, floating zlo, floating e, floating a) noexcept nogil:
    """log1p(exp(z + zlo)) / a given e = exp(-|z + zlo|) (z = a x, zlo its error)."""
    cdef floating lp = vlog1p_unit(e)
    return (z + (zlo + lp) if z > 0 else lp) / a


cdef inline floating softplus_forward(floating x, floating a, floating b) noexcept nogil:
    # log1p(exp(z)) = max(z, 0) + log1p(exp(-|z|)): the exp never overflows
    # (Maechler 2012, "Accurately computing log(1 - exp(-|a|))").  z = beta*x is
    # rounded; its exact error zlo (two_prod) goes into the exp and the sum, so a beta
    # other than 1 costs no accuracy.  Where exp(-|z|) is tiny, log1p(e) = e and the
    # result e / beta is formed from the scaled-up exp, so that a denormal result is
    # rounded once.  (Blocks with no rare lane run softplus_forward_fast: "Per-block
    # fast paths" below.)
    cdef floating z = x * a
    cdef floating zlo = exact_error(two_prod_err(x, a, z))
    # (e_up < tiny: e below tiny_threshold; e is guarded there, as guarded_t, and the
    # stand-in vanishes against z > 0 as e does)
    cdef floating e_up = vexp_scaled_up(vneg_abs(z), -zlo if z >= 0 else zlo)
    cdef floating tiny = tiny_threshold(x) / scale_down(x)
    cdef floating e = guard_small(e_up, tiny * <floating>0.5, stand_in_up(x)) * scale_down(x)
    cdef floating y = softplus_given(z, zlo, e, a)
    y = times_scale_down(e_up / a) if (e_up < tiny) & (z <= 0) else y
    return x if z > b else y


cdef inline floating softplus_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    cdef floating z = x * a
    return g if z > b else mul_sigmoid(g, z, exact_error(two_prod_err(x, a, z)), True)


cdef inline floating softplus_backward_from_output(floating g, floating y, floating a, floating b) noexcept nogil:
    # sigmoid(z) = 1 - exp(-beta * y) = -expm1(-beta * y)
    cdef floating z = y * a
    return g if z > b else g * (-vexpm1(-z))


# ----------------------------------------------------------------- swish / silu (a = beta)
#
# With z = beta*x (its rounding error zlo recovered exactly by two_prod, so that
# beta != 1 loses nothing) and t = exp(-|z|):
#   z >= 0:  s = 1 / (1 + t)          y = x / (1 + t)
#   z <  0:  s = t / (1 + t)          y = x * t / (1 + t)
# Where y is subnormal, it is formed scaled up and rounded into the subnormal range last
# (mul_sigmoid, mul_swish_derivative; "Results in the subnormal range" above).  That care
# costs about half of their instructions; the loops skip it for blocks whose inputs
# cannot need it (mul_sigmoid_fast and swish_derivative_fast, "Per-block fast paths"
# below).


cdef inline floating swish_forward(floating x, floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    cdef floating z = x * a
    cdef floating y = mul_sigmoid(x, z, exact_error(two_prod_err(x, a, z)), False)
    return y if y == y else (vcopysign(zero, x) if x == x else y)   # x = -inf: the limit 0


cdef inline floating silu_forward(floating x, floating a, floating b) noexcept nogil:
    # swish with beta = 1 (z = x exactly: no product error to carry).  Where mul_sigmoid
    # has no rare case (not mul_sigmoid_rare(x, x): x >= -FAST_EXP_MIN, not a tiny
    # negative x) it is x / (1 + exp(-x)) for both signs (exp(-x) <= e^60 / e^600):
    # mul_sigmoid's value for x >= 0, and for x < 0 one division instead of x t / (1 + t),
    # without the product and the select of the numerator (docs/performance-notes.md,
    # "sigmoid and silu forward against ONNX Runtime"); NaN and +inf take the division
    # (vexp_normal_neg: its value is vexp_normal(-x)'s but at +NaN, where x / (1 + t)
    # is x's NaN either way).
    cdef floating zero = 0, one = 1
    cdef floating y = mul_sigmoid(x, x, zero, False)
    y = y if y == y else (vcopysign(zero, x) if x == x else y)
    return y if mul_sigmoid_rare(x, x) else x / (one + vexp_normal_neg(x))


cdef inline floating mul_swish_derivative(floating g, floating z, floating zlo, bint deep_lanes) noexcept nogil:
    # g * d/dx x*s(z), with d/dx x*s(z) = s * (1 + z * (1 - s)) = num / (1 + t)^2:
    #   z >= 0: num = (1 + t) + z*t;   z < 0: num = t * ((1 + t) + z)
    # (the root near z = -1.2785 cancels in (1 + t) + z for any evaluation order).
    # z < 0 with t < 2**-90 (2**-900): 1 + t = 1, and g t (1 + z) is formed from t_up and
    # scaled down last (mul_scaled_down); elsewhere the guarded t is t (for z >= 0, z t
    # vanishes against 1 where t is guarded).
    # with deep_lanes (a constant), a deep lane (deep_flag) as in mul_scaled_down_deep
    cdef floating zero = 0, one = 1
    cdef floating deep = deep_flag(g, z) if deep_lanes else zero
    cdef floating t_up = vexp_scaled_up_deep(vneg_abs(z), -zlo if z >= 0 else zlo, deep)
    cdef floating t = guarded_t(t_up)
    cdef floating u = one + t
    cdef floating d = (u + z * t if z >= 0 else t * (u + z)) / (u * u)
    d = (one if t_up == 0 else d) if z >= 0 else (zero if t_up == 0 else d)   # z -> +-inf
    return (g * d if (z >= 0) | (t_up >= scaled_tiny(z)) | (t_up == 0)
            else mul_scaled_down_deep(g, t_up * (u + z), deep))


cdef inline floating swish_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    cdef floating z = x * a
    return mul_swish_derivative(g, z, exact_error(two_prod_err(x, a, z)), True)


cdef inline floating silu_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    return mul_swish_derivative(g, x, zero, True)


# ================================================================= per-block fast paths
# For the ops and directions listed in _spec.FAST_PATHS, the loops (_elementwise.pxi.tp)
# run blocks of FAST_BLOCK elements: a vectorized pass ORs NAME_DIR_rare over the
# block's inputs, then the block runs NAME_DIR_fast, or NAME_DIR (the exact formula)
# if any lane is rare.  A fast formula is its exact formula's arithmetic without the
# rare cases (the exp with one 2^n factor, vexp_normal; no scaled-up exp, no tiny or
# zero selects): on every input its predicate lets through it gives the exact
# formula's result bit for bit, so the split into blocks (and so the thread count)
# never shows in a result, and the exact formulas' accuracy bounds are the fast
# paths' too.  The predicates are conservative and need not be tight:
#   - an exp argument below -FAST_EXP_MIN (-60 / -600), where exp is 2^-86.6 / 2^-865.6
#     and the products below may leave the normal range;
#   - for a * sigmoid(z) with z < 0, a factor 0 < |a| < FAST_TINY (2^-38 / 2^-150):
#     then |a| exp(z) >= 2^-124.6 / 2^-1015.6, so a t and a t / (1 + t) are normal and
#     mul_sigmoid's scaled form rounds the same;
#   - exp(-|z|) of a derivative, softplus or log_sigmoid at |z| > FAST_EXP_MIN, where
#     vexp_normal's clamp would show;
#   - for swiglu, a product a*b that is not finite (the exact gate's fallback); for
#     glu's backward, g*a (mul_logistic_density's fallback); for swiglu's backward g*b
#     too ("Products of two inputs that overflow"); for the saturated blocks'
#     predicates (below) these only where the gate's sigmoid is not saturated, and
#     the backward's g*a and g*b that overflowed from finite inputs out to 2 FAST_SAT.
# NaN may take either path (both give NaN).  Past |z| > FAST_SAT (256 / 2048; huge
# inputs and infinities) the exact formulas' scaled exp is an exact 0 (below its lower
# clamp), so they return their limits there (a value or a product with 0, as below); the
# fast formulas of the elementwise ops select the same limits, so the predicates
# (fast_band_rare) leave only the band FAST_EXP_MIN < |z| <= FAST_SAT to the exact ones.
# The gates (_spec.FAST_SAT_PATHS) keep their fast formulas and predicates free of those
# selects, and a block that the predicate finds rare takes a second pass,
# NAME_DIR_band_rare: without a band lane it runs NAME_DIR_sat (NAME_gate_grad_a_sat
# and _b_sat), the fast formula with the limits selected, else the exact one.
# Deep-negative blocks (_spec.FAST_NEG_PATHS, gates): a block with a band lane (or a
# run whose first lane is not NAME_DIR_neg_rare) is tested for NAME_DIR_neg_rare, and
# without such a lane it runs NAME_DIR_neg (NAME_gate_grad_a_neg and _b_neg), as do the
# blocks after it while they have none: data below the fast range throughout
# (underflowing products) never runs the exact formula.
# Their lanes have the sigmoid's argument z below -DEEP_NEG (-64 / -640), where
# t = exp(z) < 2^-92 / 2^-923: the exact formulas' guarded t is then a stand-in that
# vanishes against 1 (1 + t = 1 exactly), their t_up is below scaled_tiny (the scaled
# branches of mul_logistic_density and mul_swish_derivative), and each result is a
# product with t_up scaled down once, as the exact formula forms it: mul_sigmoid's
# q / 1 is mul_scaled_down(a, t_up), mul_logistic_density's (g a) t is
# mul_scaled_down(g * a, t_up), mul_swish_derivative's g t (1 + z) is
# mul_scaled_down(g, t_up * (1 + z)) (g * 0 where t_up = 0).  A factor of t_up of
# big_factor (2^60 / 2^480) and more, infinite or NaN (so also the products of two
# inputs that the exact formulas' fallbacks and wide forms take) makes a lane rare:
# mul_scaled_down is then times_scale_down of the product.  No division, no guarded t,
# no second branch: the exact formula's arithmetic with 1 + t = 1 folded in, bit for bit.

cdef inline floating fast_exp_min(floating like) noexcept nogil:
    """-FAST_EXP_MIN: the least exp argument a fast formula takes (see above)."""
    if floating is float:
        return <float>-60.0
    else:
        return <double>-600.0


cdef inline floating fast_tiny(floating like) noexcept nogil:
    """FAST_TINY: 2**-38 / 2**-150, the bound of mul_sigmoid_tiny_factor."""
    if floating is float:
        return <float>3.637978807091713e-12        # 2**-38
    else:
        return <double>7.006492321624085e-46       # 2**-150


cdef inline bint mul_sigmoid_tiny_factor(floating a) noexcept nogil:
    """0 < |a| < FAST_TINY: a factor whose product with sigmoid's density may be
    subnormal, one of mul_sigmoid's rare cases (see above)."""
    cdef floating zero = 0
    return (vfabs(a) < fast_tiny(a)) & (a != zero)


cdef inline bint mul_sigmoid_rare(floating a, floating z) noexcept nogil:
    """Whether a * sigmoid(z) needs mul_sigmoid's rare cases (see above)."""
    cdef floating zero = 0
    return (z < zero) & ((z < fast_exp_min(z)) | mul_sigmoid_tiny_factor(a))


cdef inline bint exp_arg_rare(floating z) noexcept nogil:
    """Whether exp(-|z|) leaves the fast range (NaN: False)."""
    return vfabs(z) > -fast_exp_min(z)


cdef inline floating fast_sat(floating like) noexcept nogil:
    """FAST_SAT: past |z| > this, exp(-|z|) * SCALE_UP is below vexp_scaled_up's clamp
    (-148.4 / -1100.9), an exact 0, and the exact formulas give their limits (see above)."""
    if floating is float:
        return <float>256.0
    else:
        return <double>2048.0


cdef inline floating sat_guarded(floating t) noexcept nogil:
    """t, or a normal stand-in (exponent of saturated_t) where t < 2**-100 / 2**-960: the
    lanes past FAST_SAT, whose clamped exp(-87) / exp(-708) products with t or with a
    grad would be subnormal, and whose results are selected (fast range: t >= 2**-86.6 /
    2**-865.6, unchanged)."""
    return guard_small(t, tiny_threshold(t), saturated_t(t))


cdef inline bint fast_band_rare(floating z) noexcept nogil:
    """FAST_EXP_MIN < |z| <= FAST_SAT: exp(-|z|) neither in the fast range nor past the
    saturation the fast formulas select (NaN: False)."""
    return (vfabs(z) > -fast_exp_min(z)) & (vfabs(z) <= fast_sat(z))


cdef inline bint sat_lane(floating z) noexcept nogil:
    """Not |z| <= FAST_EXP_MIN (NaN: True): a gate argument outside the fast range, the
    first lane of a block that the saturated blocks try next (NAME_DIR_sat_lane; a hint
    only: that block's band pass decides)."""
    return not (vfabs(z) <= -fast_exp_min(z))


cdef inline bint lim_lane(floating z) noexcept nogil:
    """Not |z| <= 2 FAST_SAT (NaN: True): a gate argument past every band lane (the gates'
    band predicates hold only at |z| <= 2 FAST_SAT, or in glu's forward for a tiny a at
    any negative b, whose exact value there is a * 0 as well), where the sat formulas
    give the limits alone: the saturated blocks' limit forms (NAME_DIR_lim_lane,
    NAME_DIR_lim)."""
    return not (vfabs(z) <= 2 * fast_sat(z))


cdef inline bint neg_band_rare(floating z) noexcept nogil:
    """-FAST_SAT <= z < -FAST_EXP_MIN (NaN: False)."""
    return (z < fast_exp_min(z)) & (z >= -fast_sat(z))


cdef inline bint neg_range_bits(floating z, floating low, floating high) noexcept nogil:
    """low <= z < high, for constants low < high < 0, by one unsigned compare of z's bits
    (two float compares into mask registers otherwise: a predicate pass's time follows
    their number, docs/performance-notes.md "silu's forward predicate" and "Deep-negative
    blocks' lane test by one compare"): a negative z's bits grow with |z|, so bits(low) -
    bits(z) is below bits(low) - bits(high) exactly for z in [low, high); every other z,
    +-0, -inf and NaN wrap above it.  float64 at a level without 64-bit integer compares
    (ACT_VEC_U64_COMPARE, _vmath.h): the float form, which vectorizes there."""
    cdef uint32_t d32, bound32
    cdef uint64_t d64, bound64
    if floating is float:
        d32 = act_asuint_f(low) - act_asuint_f(z)
        bound32 = act_asuint_f(low) - act_asuint_f(high)
        return d32 < bound32
    elif not ACT_VEC_U64_COMPARE:
        return (z < high) & (z >= low)              # the baseline level (SSE2)
    else:
        d64 = act_asuint_d(low) - act_asuint_d(z)
        bound64 = act_asuint_d(low) - act_asuint_d(high)
        return d64 < bound64


cdef inline bint neg_range_lane(floating z, floating low, floating high) noexcept nogil:
    """neg_range_bits for the deep tiers' lane tests, but float64 below AVX-512
    (ACT_MASK_SELECTS) with the two float compares: AVX2 has no unsigned 64-bit compare
    (a sign flip and vpcmpgtq), and the float64 backwards' deep blocks counted 2% more
    instructions with the bits there."""
    if floating is double and not ACT_MASK_SELECTS:
        return (z < high) & (z >= low)
    return neg_range_bits(z, low, high)


cdef inline bint neg_band_rare_bits(floating z) noexcept nogil:
    """neg_band_rare(z) by neg_range_bits."""
    return neg_range_bits(z, -fast_sat(z), fast_exp_min(z))


cdef inline floating deep_neg(floating like) noexcept nogil:
    """-DEEP_NEG: a sigmoid argument below this (exp below 2**-92 / 2**-923, t_up below
    scaled_tiny) is a deep-negative block's lane (see above)."""
    if floating is float:
        return <float>-64.0
    else:
        return <double>-640.0


cdef inline bint deep_neg_rare(floating z) noexcept nogil:
    """Not z < -DEEP_NEG (NaN: True)."""
    return not (z < deep_neg(z))


cdef inline floating saturated_t(floating like) noexcept nogil:
    """The exact formulas' guarded t where t_up = 0 (guarded_t(0): 2**-40 / 2**-70)."""
    if floating is float:
        return <float>9.094947017729282e-13      # 2**-40
    else:
        return <double>8.470329472543003e-22     # 2**-70


cdef inline floating exp_neg_abs_fast(floating z, floating zlo) noexcept nogil:
    """exp(-|z + zlo|) as mul_sigmoid and swish_derivative take it, where not
    exp_arg_rare(z).  (A zero zlo may be left out: vexp_normal(-|z|) is the same value,
    and one evaluation that both gradients of a gate share.)"""
    return vexp_normal_hilo(vneg_abs(z), -zlo if z >= 0 else zlo)


cdef inline floating mul_sigmoid_fast(floating a, floating z, floating t) noexcept nogil:
    """mul_sigmoid(a, z, zlo) given t = exp(-|z + zlo|), where not mul_sigmoid_rare(a, z)."""
    cdef floating one = 1
    return (a if z >= 0 else a * t) / (one + t)


cdef inline floating saturated_zero_t(floating z, floating t) noexcept nogil:
    """t = exp(-|z|), or 0 past |z| > FAST_SAT (NaN z: t)."""
    cdef floating zero = 0
    return select_gt(vfabs(z), fast_sat(z), zero, t)


cdef inline floating mul_sigmoid_sat_fast(floating a, floating z, floating t) noexcept nogil:
    """mul_sigmoid(a, z, zlo) given t = exp(-|z + zlo|), where not mul_sigmoid_band_rare(a,
    z): mul_sigmoid_fast with t = 0 past |z| > FAST_SAT, where it gives mul_sigmoid's
    limits, a / 1 and (a * 0) / 1 (mul_sigmoid's t_up is 0 there, and 1 + its guarded t
    rounds to 1), with no select after it and no product with the clamped exp, which
    would be subnormal."""
    return mul_sigmoid_fast(a, z, saturated_zero_t(z, t))


cdef inline floating swish_derivative_fast(floating z, floating t) noexcept nogil:
    """swish_derivative given t = exp(-|z + zlo|), where not exp_arg_rare(z)."""
    cdef floating one = 1
    cdef floating u = one + t
    return (u + z * t if z >= 0 else t * (u + z)) / (u * u)


# sigmoid

cdef inline bint sigmoid_forward_rare(floating x, floating a, floating b) noexcept nogil:
    return neg_band_rare_bits(x)


cdef inline floating sigmoid_forward_fast(floating x, floating a, floating b) noexcept nogil:
    # sigmoid_forward's 1 / (1 + exp(-x)); x > 87 (float32) meets vexp_normal's clamp,
    # where 1 + exp(-x) rounds to 1 as well.  x < -FAST_SAT: +0, the exact formula's
    # limit, selected after the division (a zero-masked divide at avx512).  A fast block
    # has no x in [-FAST_SAT, -FAST_EXP_MIN), so exp(-x) leaves vexp_normal's range
    # (x < -88.7 / -709.8: a scale out of range, no subnormal operand) only at those
    # selected lanes.
    cdef floating zero = 0, one = 1
    cdef floating y = one / (one + vexp_normal(-x))
    return zero if x < -fast_sat(x) else y


cdef inline bint sigmoid_backward_rare(floating g, floating x, floating a, floating b) noexcept nogil:
    return fast_band_rare(x)


cdef inline floating sigmoid_backward_fast(floating g, floating x, floating a, floating b) noexcept nogil:
    # |x| > FAST_SAT: g * 0, as mul_logistic_density's mul2_scaled_down(g, 1, 0); there
    # the clamped exp (2**-125.5) is guarded, or logistic_density's t * t would underflow
    # (bit selects here and in mul_sigmoid_sat: with `?:` GCC would predicate the guard
    # with the select's condition, select_ge)
    cdef floating zero = 0
    cdef floating d = logistic_density(sat_guarded(vexp_normal(vneg_abs(x))))
    return g * select_gt(vfabs(x), fast_sat(x), zero, d)


cdef inline bint sigmoid_backward_from_output_rare(floating g, floating y, floating a, floating b) noexcept nogil:
    # 0 < y < 2**-60 (2**-500): the outputs of sigmoid whose y (1 - y) may be subnormal.
    # The fast formula is the exact one's value for every input (the exact formula only
    # avoids subnormal arithmetic), so this choice is about speed alone: a tiny g, or a
    # negative y (no sigmoid gives it), costs assists in a fast block but no bit, and
    # one compare pair over y is all a block pays on ordinary data
    cdef floating zero = 0
    cdef floating tiny
    if floating is float:
        tiny = <float>8.673617379884035e-19        # 2**-60
    else:
        tiny = <double>3.054936363499605e-151      # 2**-500
    return (y < tiny) & (y > zero)


cdef inline floating sigmoid_backward_from_output_fast(floating g, floating y, floating a, floating b) noexcept nogil:
    # the products by vmul_once, the same roundings: with the detours off every block
    # runs this formula, subnormal y too, whose products round into the subnormal range
    cdef floating one = 1
    return vmul_once(g, vmul_once(y, one - y))


cdef inline bint sigmoid_backward_from_output_small_lane(floating g, floating y, floating a, floating b) noexcept nogil:
    # |y| < 2**-60 (2**-500), where 1 - y rounds to 1 and the exact formula's value is
    # g y rounded once, and |g| < 2**32 (2**400), the range of vsmall_mul (NaN fails)
    cdef floating small, big
    if floating is float:
        small = <float>8.673617379884035e-19       # 2**-60
        big = <float>4294967296.0                  # 2**32
    else:
        small = <double>3.054936363499605e-151     # 2**-500
        big = <double>2.5822498780869086e+120      # 2**400
    return (vfabs(y) < small) & (vfabs(g) < big)


cdef inline floating sigmoid_backward_from_output_small(floating g, floating y, floating a, floating b) noexcept nogil:
    # where sigmoid_backward_from_output_small_lane holds: g y rounded once, by one FMA
    # at spacing one subnormal where the level has FMA (vsmall_mul), the bits of the
    # exact and fast formulas
    return vsmall_mul(g, y)


# swish / silu (a = beta)

cdef inline bint mul_sigmoid_band_rare(floating a, floating z) noexcept nogil:
    """mul_sigmoid_rare without z < -FAST_SAT, where the fast formulas select a * 0."""
    cdef floating zero = 0
    return (z < zero) & (neg_band_rare(z) | mul_sigmoid_tiny_factor(a))


cdef inline bint band_or_tiny_key_rare(floating like, uint32_t tiny32, uint32_t uz32,
                                       uint64_t tiny64, uint64_t uz64) noexcept nogil:
    """The one unsigned compare of mul_sigmoid_band_rare_pair: whether
    min(tiny, d_band) is below the larger of the two tests' bounds, where tiny is a
    difference below bits(FAST_TINY) - 1 exactly for a tiny factor, shifted right by k
    (float32 5, float64 9), and d_band = bits(-FAST_SAT) - bits(z) is below
    bits(-FAST_SAT) - bits(-FAST_EXP_MIN) exactly for z in [-FAST_SAT, -FAST_EXP_MIN)
    (a negative z's bits grow with |z|; unsigned: every other z, +-0, -inf and NaN give
    more).  The float32 arguments serve floating = float, the float64 ones double."""
    # (typed temporaries: Cython's min and max would widen them to a signed long)
    cdef uint32_t key32, bound32, band32
    cdef uint64_t key64, bound64, band64
    if floating is float:
        band32 = act_asuint_f(-fast_sat(like)) - uz32                   # d_band
        key32 = tiny32 if tiny32 < band32 else band32
        tiny32 = ((act_asuint_f(fast_tiny(like)) - 2) >> 5) + 1         # tiny's bound >> k, up
        band32 = act_asuint_f(-fast_sat(like)) - act_asuint_f(fast_exp_min(like))
        bound32 = tiny32 if tiny32 > band32 else band32
        return key32 < bound32
    else:
        band64 = act_asuint_d(-fast_sat(like)) - uz64
        key64 = tiny64 if tiny64 < band64 else band64
        tiny64 = ((act_asuint_d(fast_tiny(like)) - 2) >> 9) + 1
        band64 = act_asuint_d(-fast_sat(like)) - act_asuint_d(fast_exp_min(like))
        bound64 = tiny64 if tiny64 > band64 else band64
        return key64 < bound64


cdef inline bint mul_sigmoid_band_rare_pair(floating a, floating z) noexcept nogil:
    """mul_sigmoid_band_rare(a, z) widened so that one unsigned compare decides it
    (band_or_tiny_key_rare; the float form is five compares into mask registers, and a
    predicate pass's time follows their number: docs/performance-notes.md "silu's
    forward predicate"): a tiny a counts at every z, not only z < 0, and d_tiny =
    2 bits(|a|) - 2 = (bits(a) << 1) - 2 (the sign shifted out; +-0 wraps above every
    bound), below bits(FAST_TINY) - 1 exactly for a tiny a, is shifted right by k + 1.  Beyond
    mul_sigmoid_band_rare it also holds for a tiny a with z >= 0 or NaN, for float32 z
    in [-60, -39) and |a| = FAST_TINY, for float64 |a| in [FAST_TINY, 2**-87]: blocks
    that then take the exact formulas (the same bits).  (Checked against the float
    form on all 2**32 float32 patterns of each test and 10**8 float64 ones.)"""
    cdef uint32_t ua32
    cdef uint64_t ua64
    if floating is float:
        ua32 = act_asuint_f(a)
        return band_or_tiny_key_rare(z, ((ua32 << 1) - 2) >> 6, act_asuint_f(z), 0, 0)
    elif not ACT_VEC_U64_COMPARE:
        return mul_sigmoid_band_rare(a, z)          # the baseline level (SSE2)
    else:
        ua64 = act_asuint_d(a)
        return band_or_tiny_key_rare(z, 0, 0, ((ua64 << 1) - 2) >> 10, act_asuint_d(z))


cdef inline floating mul_sigmoid_sat(floating a, floating z, floating y) noexcept nogil:
    """y = a * sigmoid(z) with mul_sigmoid's limits selected past |z| > FAST_SAT: a for
    z > FAST_SAT (a / (1 + 2**-40), t guarded), a * 0 below -FAST_SAT (t_up = 0)."""
    cdef floating zero = 0
    return select_gt(z, fast_sat(z), a, select_gt(-fast_sat(z), z, a * zero, y))


cdef inline bint swish_forward_rare(floating x, floating a, floating b) noexcept nogil:
    return mul_sigmoid_band_rare(x, x * a)


cdef inline floating swish_forward_fast(floating x, floating a, floating b) noexcept nogil:
    # past |z| > FAST_SAT the exp's correction zlo may be huge: the limits are selected
    cdef floating zero = 0
    cdef floating z = x * a
    cdef floating t = exp_neg_abs_fast(z, exact_error(two_prod_err(x, a, z)))
    cdef floating y = mul_sigmoid_sat(x, z, mul_sigmoid_fast(x, z, t))
    return y if y == y else (vcopysign(zero, x) if x == x else y)   # as swish_forward


cdef inline bint silu_forward_rare(floating x, floating a, floating b) noexcept nogil:
    # mul_sigmoid_band_rare(x, x) without its tiny factors: silu_forward_fast gives
    # mul_sigmoid's value at a tiny negative x too (see there), so only the band is rare
    return neg_band_rare_bits(x)


cdef inline floating silu_forward_fast(floating x, floating a, floating b) noexcept nogil:
    # silu_forward's x / (1 + exp(-x)); x > 87 (float32): x / (1 + exp(-87)) = x, +inf
    # too; x < -FAST_SAT: -0, what silu_forward gives there (x * 0, and for -inf its NaN
    # select), selected after the division; exp(-x) out of vexp_normal's range only
    # there (as sigmoid_forward_fast).  A tiny negative x (-FAST_TINY < x < 0, where
    # silu_forward takes mul_sigmoid): exp(-x) is 1 (|x| < 2**-25 / 2**-54), so this is
    # x / 2 rounded once, mul_sigmoid's value (x t_up / 2 scaled down, t_up the scale),
    # subnormal x too: no predicate lane needed (checked on every such float32)
    cdef floating zero = 0, one = 1
    cdef floating y = x / (one + vexp_normal_neg(x))
    return vcopysign(zero, x) if x < -fast_sat(x) else y


cdef inline floating swish_derivative_sat(floating z, floating d) noexcept nogil:
    """d, or mul_swish_derivative's limits past |z| > FAST_SAT (t_up = 0): 1 and 0."""
    cdef floating zero = 0, one = 1
    return one if z > fast_sat(z) else (zero if z < -fast_sat(z) else d)


cdef inline bint swish_backward_rare(floating g, floating x, floating a, floating b) noexcept nogil:
    return fast_band_rare(x * a)


cdef inline floating swish_backward_fast(floating g, floating x, floating a, floating b) noexcept nogil:
    cdef floating z = x * a
    cdef floating d = swish_derivative_fast(z, exp_neg_abs_fast(z, exact_error(two_prod_err(x, a, z))))
    return g * swish_derivative_sat(z, d)


cdef inline bint silu_backward_rare(floating g, floating x, floating a, floating b) noexcept nogil:
    return fast_band_rare(x)


cdef inline floating silu_backward_fast(floating g, floating x, floating a, floating b) noexcept nogil:
    return g * swish_derivative_sat(x, swish_derivative_fast(x, vexp_normal(vneg_abs(x))))


# softplus (a = beta, b = threshold)

cdef inline floating softplus_backward_given(floating g, floating z, floating t, floating b) noexcept nogil:
    """softplus_backward's fast form given z = beta x and t = exp(-|z + zlo|)."""
    return g if z > b else mul_sigmoid_sat_fast(g, z, t)


cdef inline bint softplus_backward_rare(floating g, floating x, floating a, floating b) noexcept nogil:
    return mul_sigmoid_band_rare_pair(g, x * a)


cdef inline floating softplus_backward_fast(floating g, floating x, floating a, floating b) noexcept nogil:
    cdef floating z = x * a
    return softplus_backward_given(g, z, exp_neg_abs_fast(z, exact_error(two_prod_err(x, a, z))), b)


# a = 1 (_spec.FAST_UNIT: the blocks of a call with a = 1 take these): z = x exactly and
# its rounding error zlo is 0, so exp_neg_abs_fast(z, zlo) is vexp_normal(-|x|) (same
# value); the predicates and fast formulas above with that known when compiled

cdef inline bint softplus_backward_unit_rare(floating g, floating x, floating a, floating b) noexcept nogil:
    return mul_sigmoid_band_rare_pair(g, x)


cdef inline floating softplus_backward_unit_fast(floating g, floating x, floating a, floating b) noexcept nogil:
    return softplus_backward_given(g, x, vexp_normal(vneg_abs(x)), b)


# The second pass of a block that softplus_backward_rare (or _unit_rare) found rare
# (_spec.FAST_SAT_PATHS): mul_sigmoid_band_rare, the float form that the one-compare
# predicate widens (float32 z in [-60, -39), float64 tiny factors up to 2**-87); a block
# without such a lane runs the fast formula, which selects mul_sigmoid's limits past
# FAST_SAT itself (mul_sigmoid_sat_fast), so the blocks of z = beta x in that widening
# (beta = 0.5 on x in -104..-87) no longer run the exact formula

cdef inline bint softplus_backward_band_rare(floating g, floating x, floating a, floating b) noexcept nogil:
    return mul_sigmoid_band_rare(g, x * a)


cdef inline bint softplus_backward_unit_band_rare(floating g, floating x, floating a, floating b) noexcept nogil:
    return mul_sigmoid_band_rare(g, x)


cdef inline floating softplus_backward_sat(floating g, floating x, floating a, floating b) noexcept nogil:
    # also the a = 1 blocks' (chunk_loop's sat formula has no variant): with a = 1,
    # x * a = x and its two_prod error is 0, softplus_backward_unit_fast's value
    return softplus_backward_fast(g, x, a, b)


cdef inline bint softplus_forward_rare(floating x, floating a, floating b) noexcept nogil:
    return fast_band_rare(x * a)


cdef inline floating softplus_forward_fast(floating x, floating a, floating b) noexcept nogil:
    # |z| <= 60 / 600: e >= 2^-86.6 / 2^-865.6, so softplus_forward's tiny select is moot
    # and its e_up * scale_down(x) is this e (both scalings exact).  |z| > FAST_SAT:
    # softplus_forward's e_up is 0, so z > 0 takes its guarded e (saturated_t; taken for
    # z < 0 too, whose result is selected) and z < 0 the scaled result 0 / a
    cdef floating zero = 0
    cdef floating z = x * a
    cdef floating zlo = exact_error(two_prod_err(x, a, z))
    cdef floating e = exp_neg_abs_fast(z, zlo)
    cdef floating y = softplus_given(z, zlo, saturated_t(x) if vfabs(z) > fast_sat(x) else e, a)
    y = vcopysign(zero, a) if z < -fast_sat(x) else y
    return x if z > b else y


# log_sigmoid

cdef inline bint log_sigmoid_forward_rare(floating x, floating a, floating b) noexcept nogil:
    return fast_band_rare(x)


cdef inline floating log_sigmoid_forward_fast(floating x, floating a, floating b) noexcept nogil:
    # |x| > FAST_SAT: min(x, 0) - 0, as log_sigmoid_forward's scaled branch with t_up = 0;
    # t = 0 there gives it (log1p(0) = 0), and keeps the clamped exp out of vlog1p_unit,
    # whose products of it underflow
    return log_sigmoid_given(x, saturated_zero_t(x, vexp_normal(vneg_abs(x))))


cdef inline bint log_sigmoid_backward_rare(floating g, floating x, floating a, floating b) noexcept nogil:
    return fast_band_rare(x)


cdef inline floating log_sigmoid_backward_fast(floating g, floating x, floating a, floating b) noexcept nogil:
    # x > FAST_SAT: g * 0 (mul_scaled_down(g, 0)); x < -FAST_SAT: g / (1 + 2**-40) = g * 1
    cdef floating zero = 0, one = 1
    cdef floating s = sigmoid_complement_given(x, vexp_normal(vneg_abs(x)))
    return g * (zero if x > fast_sat(x) else (one if x < -fast_sat(x) else s))


# elu, celu backward: g (a exp(x)) for x <= 0 (mul_exp) with vexp_normal; the
# argument is clamped at 0 for the lanes x > 0 discards

cdef inline bint elu_backward_rare(floating g, floating x, floating a, floating b) noexcept nogil:
    return neg_band_rare(x)


cdef inline floating elu_backward_fast(floating g, floating x, floating a, floating b) noexcept nogil:
    # x < -FAST_SAT: g * (a * 0), as mul_exp's mul_scaled_down(g, a * 0)
    cdef floating zero = 0
    cdef floating t = vexp_normal(zero if x > 0 else x)
    return g if x > 0 else g * (a * (zero if x < -fast_sat(x) else t))


cdef inline bint selu_backward_rare(floating g, floating x, floating a, floating b) noexcept nogil:
    return neg_band_rare(x)


cdef inline floating selu_backward_fast(floating g, floating x, floating a, floating b) noexcept nogil:
    # elu_backward_fast with selu's constants
    cdef floating scale = <floating>ACT_SELU_SCALE
    cdef floating scale_alpha = <floating>ACT_SELU_SCALE_ALPHA
    cdef floating zero = 0
    cdef floating t = vexp_normal(zero if x > 0 else x)
    return g * scale if x > 0 else g * (scale_alpha * (zero if x < -fast_sat(x) else t))


cdef inline bint celu_backward_rare(floating g, floating x, floating a, floating b) noexcept nogil:
    # the exp's argument x / alpha outside [-FAST_EXP_MIN, 0] (a negative alpha)
    cdef floating zero = 0
    cdef floating q = x / a
    return (x <= zero) & (neg_band_rare(q) | (q > zero))


cdef inline floating celu_backward_fast(floating g, floating x, floating a, floating b) noexcept nogil:
    # q < -FAST_SAT: g * (1 * 0), as mul_exp's mul_scaled_down (lo may be huge there)
    cdef floating zero = 0, one = 1
    cdef floating q = x / a
    cdef floating p = q * a
    cdef floating lo = exact_error(((x - p) - two_prod_err(q, a, p)) / a)
    cdef floating t = vexp_normal_hilo(zero if x > 0 else q, lo)
    return g if x > 0 else g * (one * (zero if q < -fast_sat(x) else t))


# glu: a * sigmoid(b).  The backward's two gradients share exp(-|b|): the same inline
# call in one loop body, which GCC evaluates once (as swiglu's share exp(-|a|)).
# Past |b| > FAST_SAT the saturated blocks' formulas take t = 0 (saturated_zero_t): a / 1 and a * 0,
# mul_sigmoid's limits there, bit for bit (NaN and signed zeros included), and no
# product with the clamped exp, which may be subnormal


cdef inline bint glu_gate_rare(floating a, floating b) noexcept nogil:
    return mul_sigmoid_rare(a, b)


cdef inline floating glu_gate_fast(floating a, floating b) noexcept nogil:
    return mul_sigmoid_fast(a, b, vexp_normal(vneg_abs(b)))


cdef inline bint glu_gate_band_rare(floating a, floating b) noexcept nogil:
    return mul_sigmoid_band_rare(a, b)


cdef inline floating glu_gate_sat(floating a, floating b) noexcept nogil:
    return mul_sigmoid_sat_fast(a, b, vexp_normal(vneg_abs(b)))


cdef inline bint glu_gate_grad_rare(floating g, floating a, floating b) noexcept nogil:
    # g * a not finite: mul_logistic_density's fallback order
    cdef floating zero = 0
    cdef floating ga = g * a
    return exp_arg_rare(b) | mul_sigmoid_rare(g, b) | (ga - ga != zero)


cdef inline floating glu_gate_grad_a_fast(floating g, floating a, floating b) noexcept nogil:
    return mul_sigmoid_fast(g, b, vexp_normal(vneg_abs(b)))


cdef inline floating glu_gate_grad_b_fast(floating g, floating a, floating b) noexcept nogil:
    return (g * a) * logistic_density(vexp_normal(vneg_abs(b)))


cdef inline bint glu_gate_grad_band_rare(floating g, floating a, floating b) noexcept nogil:
    # fast_band_rare(b) | mul_sigmoid_band_rare(g, b), and g * a not finite
    # (mul_logistic_density's fallback order g * (a * sigmoid'(b))), each only where
    # |b| <= FAST_SAT: past it the fast formulas select the limits, g * (a * 0) for the
    # fallback too; and g * a overflowed (finite g, a) where |b| <= 2 FAST_SAT, where
    # g * a * sigmoid'(b) is not yet 0 (past it, below float64's 2**-1075 / 2**2048)
    cdef floating zero = 0
    cdef floating ga = g * a
    return (((vfabs(b) <= fast_sat(b)) & (exp_arg_rare(b) | (ga - ga != zero)
                                          | ((b < zero) & mul_sigmoid_tiny_factor(g))))
            | (overflowed(g, a, ga) & (vfabs(b) <= 2 * fast_sat(b))))


cdef inline floating glu_gate_grad_a_sat(floating g, floating a, floating b) noexcept nogil:
    return mul_sigmoid_sat_fast(g, b, vexp_normal(vneg_abs(b)))


cdef inline floating glu_gate_grad_b_sat(floating g, floating a, floating b) noexcept nogil:
    # |b| > FAST_SAT: mul_logistic_density's mul2_scaled_down with t_up = 0, g * (a * 0)
    # in either factor order ((g * a) * 0 where g * a overflows would be NaN)
    cdef floating zero = 0
    cdef floating d = logistic_density(saturated_zero_t(b, vexp_normal(vneg_abs(b))))
    return select_gt(vfabs(b), fast_sat(b), g * (a * zero), (g * a) * d)


# swiglu: silu(a) * b.  Past a > FAST_SAT the exact gate is a * b (fused or not: silu(a)
# = a there); below -FAST_SAT silu(a) * b = -0 * b (the fused (a * b) * 0 is that too
# where a * b is finite), which the fast formula forms as (-0 * b) t / (1 + t)

cdef inline bint swiglu_gate_rare(floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    cdef floating ab = a * b
    return (ab - ab != zero) | mul_sigmoid_rare(ab, a)     # a*b infinite or NaN


cdef inline floating swiglu_gate_fast(floating a, floating b) noexcept nogil:
    return mul_sigmoid_fast(a * b, a, vexp_normal(vneg_abs(a)))


cdef inline bint swiglu_gate_grad_rare(floating g, floating a, floating b) noexcept nogil:
    # exp_arg_rare(a) | swiglu_gate_rare(a, g) (whose a < -FAST_EXP_MIN exp_arg_rare
    # holds), and g * b not finite (the exact grad_a's fallback): a * g and g * b tested
    # as one sum (one that overflows by itself only sends a block to the exact formula)
    cdef floating zero = 0
    cdef floating ag = a * g
    cdef floating s = ag + g * b
    return exp_arg_rare(a) | (s - s != zero) | ((a < zero) & mul_sigmoid_tiny_factor(ag))


cdef inline floating swiglu_gate_grad_a_fast(floating g, floating a, floating b) noexcept nogil:
    return (g * b) * swish_derivative_fast(a, vexp_normal(vneg_abs(a)))


cdef inline floating swiglu_gate_grad_b_fast(floating g, floating a, floating b) noexcept nogil:
    return swiglu_gate_fast(a, g)


cdef inline bint swiglu_gate_band_rare(floating a, floating b) noexcept nogil:
    # mul_sigmoid_band_rare(a * b, a), and a * b infinite or NaN (the exact gate's
    # fallback silu(a) * b), each only where |a| <= FAST_SAT (past it the fast formula
    # selects the limits, the fallback's too; six compares, one more than the rare
    # cases without the band took)
    cdef floating zero = 0
    cdef floating ab = a * b
    return (vfabs(a) <= fast_sat(a)) & ((ab - ab != zero) | (a < fast_exp_min(a))
                                        | ((a < zero) & mul_sigmoid_tiny_factor(ab)))


cdef inline floating swiglu_gate_sat(floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    cdef floating a_sat = select_gt(-fast_sat(a), a, -zero, a)
    return mul_sigmoid_fast(a_sat * b, a, vexp_normal(vneg_abs(a)))


cdef inline bint swiglu_gate_grad_band_rare(floating g, floating a, floating b) noexcept nogil:
    # fast_band_rare(a) | swiglu_gate_band_rare(a, g), each only where |a| <= FAST_SAT;
    # and g * b overflowed (finite g, b) where |a| <= 2 FAST_SAT, where g * b * silu'(a) is
    # not yet 0 (past it the saturated form's g * (b * 0) and g * (b * 1) are right)
    cdef floating zero = 0
    cdef floating ag = a * g
    return (((vfabs(a) <= fast_sat(a)) & (exp_arg_rare(a) | (ag - ag != zero)
                                          | ((a < zero) & mul_sigmoid_tiny_factor(ag))))
            | (overflowed(g, b, g * b) & (vfabs(a) <= 2 * fast_sat(a))))


cdef inline floating swiglu_gate_grad_a_sat(floating g, floating a, floating b) noexcept nogil:
    # silu_backward_fast's derivative, times g * b; past |a| > FAST_SAT, where it is 1 or
    # 0, g * (b * it): the same values, also where g * b overflows (2 FAST_SAT and on,
    # the band predicate: there the exact product is inf or rounds to 0)
    cdef floating d = swish_derivative_sat(a, swish_derivative_fast(a, vexp_normal(vneg_abs(a))))
    return select_gt(vfabs(a), fast_sat(a), g * (b * d), (g * b) * d)


cdef inline floating swiglu_gate_grad_b_sat(floating g, floating a, floating b) noexcept nogil:
    return swiglu_gate_sat(a, g)


# The saturated blocks' hint (_elementwise.pxi.tp tier_blocks): the gate argument's
# sat_lane, of glu b, of swiglu a

cdef inline bint glu_gate_sat_lane(floating a, floating b) noexcept nogil:
    return sat_lane(b)


cdef inline bint glu_gate_grad_sat_lane(floating g, floating a, floating b) noexcept nogil:
    return sat_lane(b)


cdef inline bint swiglu_gate_sat_lane(floating a, floating b) noexcept nogil:
    return sat_lane(a)


cdef inline bint swiglu_gate_grad_sat_lane(floating g, floating a, floating b) noexcept nogil:
    return sat_lane(a)


# The saturated blocks' limit forms (_elementwise.pxi.tp tier_blocks): a block whose every
# gate argument is a lim_lane (past 2 FAST_SAT, or NaN) has no band lane (but glu
# forward's tiny a, see lim_lane), and there the sat formulas' select takes the limit in
# every lane, which the exact formulas give too, so they are these, without the exp,
# the division by 1 + 0 and the other arm: the sat formula with its exp(-|z|) replaced
# by z itself, which the select keeps only in the NaN lanes (so that they stay NaN).

cdef inline bint glu_gate_lim_lane(floating a, floating b) noexcept nogil:
    return lim_lane(b)


cdef inline floating glu_gate_lim(floating a, floating b) noexcept nogil:
    # glu_gate_sat: a / (1 + 0) = a, or (a * 0) / (1 + 0) (a bit select: with `?:` GCC
    # vectorized the forward's loop, not the backward's, "control flow in loop")
    cdef floating zero = 0
    return select_ge(b, zero, a, a * saturated_zero_t(b, b))


cdef inline bint glu_gate_grad_lim_lane(floating g, floating a, floating b) noexcept nogil:
    return lim_lane(b)


cdef inline floating glu_gate_grad_a_lim(floating g, floating a, floating b) noexcept nogil:
    return glu_gate_lim(g, b)


cdef inline floating glu_gate_grad_b_lim(floating g, floating a, floating b) noexcept nogil:
    # glu_gate_grad_b_sat's g * (a * 0)
    return g * (a * saturated_zero_t(b, b))


cdef inline bint swiglu_gate_lim_lane(floating a, floating b) noexcept nogil:
    return lim_lane(a)


cdef inline floating swiglu_gate_lim(floating a, floating b) noexcept nogil:
    # swiglu_gate_sat: (a * b) / (1 + t) and (-0 * b) t / (1 + t), t = exp(-|a|) clamped
    # (a normal number, 1 + t = 1): a * b and -0 * b (a NaN a: a * b, NaN)
    cdef floating zero = 0
    return select_gt(-fast_sat(a), a, -zero, a) * b


cdef inline bint swiglu_gate_grad_lim_lane(floating g, floating a, floating b) noexcept nogil:
    return lim_lane(a)


cdef inline floating swiglu_gate_grad_a_lim(floating g, floating a, floating b) noexcept nogil:
    # swiglu_gate_grad_a_sat's g * (b * d), d = 1 or 0 (NaN: a), by bit selects (see
    # glu_gate_lim)
    cdef floating zero = 0, one = 1
    return g * (b * select_gt(a, fast_sat(a), one, select_gt(-fast_sat(a), a, zero, a)))


cdef inline floating swiglu_gate_grad_b_lim(floating g, floating a, floating b) noexcept nogil:
    return swiglu_gate_lim(a, g)


# The deep-negative blocks' formulas (_spec.FAST_NEG_PATHS, "Per-block fast paths"
# above): lanes with the sigmoid's argument below -DEEP_NEG and the factors of t_up below
# big_factor, where mul_scaled_down(v, t_up) is times_scale_down(v * t_up).  Their exp is
# vexp_deep_up (the argument z, below -DEEP_NEG, is -|z|), and v * t_up, below 2**32 /
# 2**69, is finite: times_scale_down_finite (by one FMA in the elementwise forms' plain
# loops, deep_scale_down).  The elementwise forms without a correction pass zlo = -0:
# the exp's r + -0 is r and folds away (r + +0 would not: it turns -0 into +0; a zero r
# gives 1 + q = 1 either way, so the bits are those of zlo = +0).

cdef inline bint deep_neg_factor_rare(floating v) noexcept nogil:
    """Not |v| < big_factor (NaN: True): a factor that mul_scaled_down scales first."""
    return not (vfabs(v) < big_factor(v))


cdef inline bint glu_gate_neg_rare(floating a, floating b) noexcept nogil:
    return deep_neg_rare(b) | deep_neg_factor_rare(a)


cdef inline floating deep_scale_down(floating v, bint finite, bint plain) noexcept nogil:
    """times_scale_down(v) (_finite where finite) for the deep-negative forms, by one FMA
    where plain (both constants at each call): the elementwise forms' loops that run
    while subnormal_detours is off (_vmath.h act_scale_down_plain; the same bits)."""
    if plain:
        return times_scale_down_plain(v, finite)
    return times_scale_down_finite(v) if finite else times_scale_down(v)


cdef inline floating mul_sigmoid_deep_neg(floating v, floating z, floating zlo, bint plain) noexcept nogil:
    """mul_sigmoid(v, z, zlo) on a deep-negative lane (1 + t = 1): mul_scaled_down(v, t_up).
    (The products with t_up here and below by vmul_once: they round into the subnormal
    range where v t_up < 2**-126 / 2**-1022, for |v| near 1 from z = -131 / -1063 down, a
    multiply 3x slower there on Zen 5, an FMA not.)"""
    return deep_scale_down(vmul_once(v, vexp_deep_up(z, zlo)), True, plain)


cdef inline floating glu_gate_neg(floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    return mul_sigmoid_deep_neg(a, b, zero, False)


cdef inline bint glu_gate_grad_neg_rare(floating g, floating a, floating b) noexcept nogil:
    # g * a too (mul_logistic_density's fallback order, glu's wide form where not finite)
    return deep_neg_rare(b) | deep_neg_factor_rare(g) | deep_neg_factor_rare(g * a)


cdef inline floating glu_gate_grad_a_neg(floating g, floating a, floating b) noexcept nogil:
    return glu_gate_neg(g, b)


cdef inline floating glu_gate_grad_b_neg(floating g, floating a, floating b) noexcept nogil:
    # mul_logistic_density's mul2_scaled_down(g * a, 1, t_up) = mul_scaled_down(g * a, t_up)
    cdef floating zero = 0
    return mul_sigmoid_deep_neg(g * a, b, zero, False)


cdef inline bint swiglu_gate_neg_rare(floating a, floating b) noexcept nogil:
    # a * b not finite is swiglu_gate's fallback (and its wide form): rare here too
    return deep_neg_rare(a) | deep_neg_factor_rare(a * b)


cdef inline floating swiglu_gate_neg(floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    return mul_sigmoid_deep_neg(a * b, a, zero, False)


cdef inline bint swiglu_gate_grad_neg_rare(floating g, floating a, floating b) noexcept nogil:
    # (g * b) (1 + a): the factor of exp(a) in mul_swish_derivative's scaled branch (g * b
    # not finite: its wide form; its deep_big lanes: swiglu_grad_a_deep_big); a * g:
    # swiglu_gate_neg_rare(a, g)
    cdef floating one = 1
    return deep_neg_rare(a) | deep_neg_factor_rare(a * g) | deep_neg_factor_rare((g * b) * (one + a))


cdef inline floating mul_swish_derivative_deep_neg(floating v, floating z, floating zlo, bint plain) noexcept nogil:
    """mul_swish_derivative(v, z, zlo) on a deep-negative lane (1 + t = 1): its scaled
    branch mul_scaled_down(v, t_up * (1 + z)), or where t_up = 0 its limit v * 0."""
    # t_up > 0 only from z = -148.4 / -1100.9 up: |1 + z| below 149 / 1101, the product finite
    cdef floating zero = 0, one = 1
    cdef floating t_up = vexp_deep_up(z, zlo)
    return v * zero if t_up == zero else deep_scale_down(vmul_once(v, vmul_once(t_up, one + z)), True, plain)


cdef inline floating swiglu_gate_grad_a_neg(floating g, floating a, floating b) noexcept nogil:
    # mul_swish_derivative(g * b, a, 0)
    cdef floating zero = 0
    return mul_swish_derivative_deep_neg(g * b, a, zero, False)


cdef inline floating swiglu_gate_grad_b_neg(floating g, floating a, floating b) noexcept nogil:
    return swiglu_gate_neg(a, g)


# The elementwise ops of the sigmoid family below -DEEP_NEG (_spec.NEG_FORMS,
# _elementwise.pxi.tp chunk_loop's `neg_form`): whole blocks of NAME_DIR_neg_lane inputs
# run NAME_DIR_neg, the exact formula with 1 + t = 1 folded in (as the gates' above), bit
# for bit: one product with t_up (or the exp's factor) rounded into the subnormal range
# once by times_scale_down (with `plain`, _spec.NEG_PLAIN's loops while
# subnormal_detours is off: by one FMA, deep_scale_down), no division, no guarded t.  A
# lane needs the sigmoid's (or the exp's) argument in [-FAST_SAT, -DEEP_NEG)
# (deep_neg_lane) and, for a factor of t_up that mul_scaled_down would scale first, that
# factor below big_factor (NaN, infinities: not a lane).  The rest of each exact formula
# (its threshold and NaN selects) stays as it is.

cdef inline bint deep_neg_lane(floating z) noexcept nogil:
    """-FAST_SAT <= z < -DEEP_NEG: past -FAST_SAT the fast formulas already select the
    limits, and huge or infinite first lanes (bench.py's huge and inf_nan kinds) then
    start no predicate pass that fails (NaN: False).  By neg_range_lane: the blocks'
    predicate pass is this test (and big_factor's) over every lane."""
    return neg_range_lane(z, -fast_sat(z), deep_neg(z))


cdef inline bint deep_neg_grad_lane(floating g, floating z) noexcept nogil:
    """A backward's deep-negative lane: deep_neg_lane(z) with |g| below big_factor (a
    larger g is mul_scaled_down's other arm, or a deep lane of "Large grads at
    underflowing derivatives": the exact formulas take those)."""
    return deep_neg_lane(z) & (vfabs(g) < big_factor(g))


cdef inline bint sigmoid_forward_neg_lane(floating x, floating a, floating b) noexcept nogil:
    return deep_neg_lane(x)


cdef inline floating sigmoid_forward_neg(floating x, floating a, floating b, bint plain) noexcept nogil:
    # mul_sigmoid(1, x, 0): q = (1 t_up) / 1; plain, with FMA: as silu_forward_neg, t_up
    # 2**64 / 2**512 scaled down by one FMA (below x = -131 / -1063 both +0)
    cdef floating zero = 0, one = 1
    if plain and ACT_HAVE_FMA:
        return times_deep_up2_down(vexp_deep_up2(x, -zero))
    return mul_sigmoid_deep_neg(one, x, -zero, plain)


cdef inline bint sigmoid_backward_neg_lane(floating g, floating x, floating a, floating b) noexcept nogil:
    return deep_neg_grad_lane(g, x)


cdef inline floating sigmoid_backward_neg(floating g, floating x, floating a, floating b, bint plain) noexcept nogil:
    # mul_logistic_density(g, 1, x): g 1 = g, its scaled branch's mul_scaled_down(g, t_up)
    # (sigmoid'(x) = t there), as mul_exp's
    cdef floating zero = 0, one = 1
    return mul_exp_deep_neg(g, one, x, -zero, True, plain)


cdef inline bint silu_forward_neg_lane(floating x, floating a, floating b) noexcept nogil:
    # x is also the factor of t_up, and a deep lane's |x| <= FAST_SAT is below big_factor
    return deep_neg_lane(x)


cdef inline floating silu_forward_neg(floating x, floating a, floating b, bint plain) noexcept nogil:
    # mul_sigmoid_deep_neg(x, x, -0, plain); plain, with FMA: x t_up 2**64 / 2**512 (t_up
    # before its scale-down, normal, vexp_deep_up2; the product normal) scaled by 2**-128 /
    # 2**-1024 in one FMA, the only operation with a subnormal result.  The same bits:
    # down to x = -131 / -1063 t_up and x t_up are normal, so the scalings by powers of two
    # are exact and x t_up rounds once as x t_up 2**64 does; below, to the lanes' -FAST_SAT,
    # both round to -0 (|x| exp(x) < 2**-180 / 2**-1530; -0 from x = -108.7 / -751.8 down)
    cdef floating zero = 0
    if plain and ACT_HAVE_FMA:
        return times_deep_up2_down(x * vexp_deep_up2(x, -zero))
    return mul_sigmoid_deep_neg(x, x, -zero, plain)


cdef inline bint swish_forward_neg_lane(floating x, floating a, floating b) noexcept nogil:
    return deep_neg_lane(x * a) & (vfabs(x) < big_factor(x))


cdef inline floating swish_forward_neg(floating x, floating a, floating b, bint plain) noexcept nogil:
    cdef floating z = x * a
    return mul_sigmoid_deep_neg(x, z, exact_error(two_prod_err(x, a, z)), plain)


cdef inline bint silu_backward_neg_lane(floating g, floating x, floating a, floating b) noexcept nogil:
    return deep_neg_grad_lane(g, x)


cdef inline floating silu_backward_neg(floating g, floating x, floating a, floating b, bint plain) noexcept nogil:
    cdef floating zero = 0
    return mul_swish_derivative_deep_neg(g, x, -zero, plain)


cdef inline bint swish_backward_neg_lane(floating g, floating x, floating a, floating b) noexcept nogil:
    return deep_neg_grad_lane(g, x * a)


cdef inline floating swish_backward_neg(floating g, floating x, floating a, floating b, bint plain) noexcept nogil:
    cdef floating z = x * a
    return mul_swish_derivative_deep_neg(g, z, exact_error(two_prod_err(x, a, z)), plain)


cdef inline floating softplus_grad_low(floating like) noexcept nogil:
    """-2**24 / -2**52: softplus backward's deep-negative lanes reach down to this z (not
    -FAST_SAT).  Below -FAST_SAT its exact formula is g * 0 (t_up = +0), and so is the
    deep form: its exp, clamped, with |zlo| <= 1 (half an ulp of z) is at most 2**-148 /
    2**-1074, times |g| < big_factor and 2**-64 / 2**-512 below half the least
    subnormal, g's zero.  With -FAST_SAT as the bound, blocks across it (x spread over
    -300..-149) ran the exact formula, 6.6x ordinary; huge and infinite first lanes
    still start no pass (deep_neg_lane)."""
    if floating is float:
        return <float>-16777216.0
    else:
        return <double>-4503599627370496.0


cdef inline bint softplus_grad_neg_lane(floating g, floating z) noexcept nogil:
    """deep_neg_grad_lane(g, z) from z = softplus_grad_low up."""
    return neg_range_lane(z, softplus_grad_low(z), deep_neg(z)) & (vfabs(g) < big_factor(g))


cdef inline bint softplus_backward_neg_lane(floating g, floating x, floating a, floating b) noexcept nogil:
    return softplus_grad_neg_lane(g, x * a)


cdef inline floating softplus_backward_neg(floating g, floating x, floating a, floating b, bint plain) noexcept nogil:
    cdef floating z = x * a
    return g if z > b else mul_sigmoid_deep_neg(g, z, exact_error(two_prod_err(x, a, z)), plain)


cdef inline bint softplus_backward_unit_neg_lane(floating g, floating x, floating a, floating b) noexcept nogil:
    return softplus_grad_neg_lane(g, x)


cdef inline floating softplus_backward_unit_neg(floating g, floating x, floating a, floating b, bint plain) noexcept nogil:
    # a = 1 (_spec.FAST_UNIT): z = x, zlo = 0 known when compiled (swish's general form
    # with its zlo costs silu's 1.6x here)
    cdef floating zero = 0
    return g if x > b else mul_sigmoid_deep_neg(g, x, -zero, plain)


cdef inline bint log_sigmoid_forward_neg_lane(floating x, floating a, floating b) noexcept nogil:
    return deep_neg_lane(x)


cdef inline floating log_sigmoid_forward_neg(floating x, floating a, floating b, bint plain) noexcept nogil:
    # x - t with t < 2**-92 / 2**-923 below half an ulp of |x| >= 64 / 640: x (-inf too)
    return x


cdef inline bint log_sigmoid_backward_neg_lane(floating g, floating x, floating a, floating b) noexcept nogil:
    return deep_neg_lane(x)


cdef inline floating log_sigmoid_backward_neg(floating g, floating x, floating a, floating b, bint plain) noexcept nogil:
    # g * (1 / (1 + t)) with 1 + t = 1
    cdef floating one = 1
    return g * one


cdef inline floating mul_exp_deep_neg(floating g, floating a, floating x, floating lo,
                                     bint small_a, bint plain) noexcept nogil:
    """mul_exp(g, a, x, lo) below -DEEP_NEG (t_up below scaled_tiny) for |g| below
    big_factor: its mul_scaled_down(g, a * t_up).  small_a (a constant at each call):
    |a| <= 2, the product below 2**33 / 2**70, finite (times_scale_down_finite); else a
    may be large and the product overflow (times_scale_down keeps the infinity).  plain:
    deep_scale_down."""
    cdef floating v = vmul_once(g, vmul_once(a, vexp_deep_up(x, lo)))
    return deep_scale_down(v, small_a, plain)


cdef inline bint elu_backward_neg_lane(floating g, floating x, floating a, floating b) noexcept nogil:
    return deep_neg_grad_lane(g, x)


cdef inline floating elu_backward_neg(floating g, floating x, floating a, floating b, bint plain) noexcept nogil:
    cdef floating zero = 0
    return mul_exp_deep_neg(g, a, x, -zero, False, plain)     # alpha: any


cdef inline bint selu_backward_neg_lane(floating g, floating x, floating a, floating b) noexcept nogil:
    return deep_neg_grad_lane(g, x)


cdef inline floating selu_backward_neg(floating g, floating x, floating a, floating b, bint plain) noexcept nogil:
    cdef floating scale_alpha = <floating>ACT_SELU_SCALE_ALPHA
    cdef floating zero = 0
    return mul_exp_deep_neg(g, scale_alpha, x, -zero, True, plain)


cdef inline bint celu_backward_neg_lane(floating g, floating x, floating a, floating b) noexcept nogil:
    # deep_neg_lane(x / a) without the division: x strictly between -DEEP_NEG alpha and
    # -FAST_SAT alpha (loop-invariant bounds; both orders, alpha of either sign).  Up to
    # the bounds' rounding (float64's -640 alpha, relative 2**-53; the others exact) this
    # takes q = x / alpha from -FAST_SAT to -DEEP_NEG, where celu_backward_neg is mul_exp's
    # scaled branch bit for bit from q = -62.4 / -623.8 (t_up below scaled_tiny) down
    # (past -FAST_SAT both are g * 0)
    cdef floating u = deep_neg(x) * a, v = -fast_sat(x) * a
    cdef floating lo = u if u < v else v
    cdef floating hi = v if u < v else u
    return (x > lo) & (x < hi) & (vfabs(g) < big_factor(g))


cdef inline floating celu_backward_neg(floating g, floating x, floating a, floating b, bint plain) noexcept nogil:
    # celu_backward's q and lo; x > 0 (a negative alpha) keeps its g
    cdef floating one = 1
    cdef floating q = x / a
    cdef floating p = q * a
    cdef floating lo = exact_error(((x - p) - two_prod_err(q, a, p)) / a)
    return g if x > 0 else mul_exp_deep_neg(g, one, q, lo, True, plain)


cdef inline floating softplus_deep_neg(floating like) noexcept nogil:
    """Below this z = beta x softplus_forward takes its scaled result (e_up below its
    tiny, e < 2**-100 / 2**-960 from z < -69.3 / -665.4): -72 / -672."""
    if floating is float:
        return <float>-72.0
    else:
        return <double>-672.0


cdef inline bint softplus_forward_neg_lane(floating x, floating a, floating b) noexcept nogil:
    cdef floating z = x * a
    return (z < softplus_deep_neg(x)) & (z >= -fast_sat(x))


cdef inline floating softplus_forward_neg(floating x, floating a, floating b, bint plain) noexcept nogil:
    # softplus_forward's times_scale_down(e_up / a), and its threshold select
    cdef floating z = x * a
    cdef floating e_up = vexp_deep_up(z, exact_error(two_prod_err(x, a, z)))   # z < -72 / -672
    return x if z > b else deep_scale_down(e_up / a, False, plain)


# ----------------------------------------------------------------- hard_swish

cdef inline floating hard_swish_forward(floating x, floating a, floating b) noexcept nogil:
    # Exact by pieces: x for x >= 3 (PyTorch's x * 6 / 6 overflows for float32
    # x > 5.7e37), a signed zero for x <= -3 (the limit, also at -inf), else
    # x * (x + 3) / 6.
    cdef floating zero = 0, three = 3, six = 6
    cdef floating mid = (x * (x + three)) / six
    return x if x >= three else (vcopysign(zero, x) if x <= -three else mid)


cdef inline floating hard_swish_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    # PyTorch 2.13: 0 at x <= -3, 1 at x >= 3, else x/3 + 1/2, computed here as
    # (2x + 3) / 6, which is exact before the division near its root x = -1.5.
    cdef floating zero = 0, two = 2, three = 3, six = 6
    cdef floating mid = g * ((two * x + three) / six)
    return g if x >= three else (zero if x <= -three else mid)


# ----------------------------------------------------------------- relu6

cdef inline floating relu6_forward(floating x, floating a, floating b) noexcept nogil:
    cdef floating zero = 0, six = 6
    return zero if x < 0 else (six if x > six else x)


cdef inline floating relu6_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    cdef floating zero = 0, six = 6
    return nan_if_nan(x, zero if ((x <= 0) | (x >= six)) else g)   # 0 at both kinks


cdef inline floating relu6_backward_from_output(floating g, floating y, floating a, floating b) noexcept nogil:
    return relu6_backward(g, y, a, b)   # y <= 0 iff x <= 0, y >= 6 iff x >= 6


# ----------------------------------------------------------------- hard_sigmoid

cdef inline floating hard_sigmoid_forward(floating x, floating a, floating b) noexcept nogil:
    # (x + 3) is exact near -3 (Sterbenz), so the division is the only rounding there
    cdef floating zero = 0, one = 1, three = 3, six = 6
    return zero if x <= -three else (one if x >= three else (x + three) / six)


cdef inline floating hard_sigmoid_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    cdef floating zero = 0, three = 3, six = 6
    return nan_if_nan(x, g / six if ((x > -three) & (x < three)) else zero)


cdef inline floating hard_sigmoid_backward_from_output(floating g, floating y, floating a, floating b) noexcept nogil:
    cdef floating zero = 0, one = 1, six = 6
    return nan_if_nan(y, g / six if ((y > 0) & (y < one)) else zero)


# ----------------------------------------------------------------- hard_tanh (a = min_val, b = max_val)

cdef inline floating hard_tanh_forward(floating x, floating a, floating b) noexcept nogil:
    return a if x < a else (b if x > b else x)


cdef inline floating hard_tanh_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    return nan_if_nan(x, zero if ((x <= a) | (x >= b)) else g)   # 0 at both ends


cdef inline floating hard_tanh_backward_from_output(floating g, floating y, floating a, floating b) noexcept nogil:
    return hard_tanh_backward(g, y, a, b)


# ----------------------------------------------------------------- mish
#
# tanh(softplus(x)) = n / (n + 2) with n = t (t + 2), t = exp(x), for x <= 0, and
# = (1 + 2u) / (1 + 2u + 2u^2) with u = exp(-x) for x > 0: no overflow, no
# cancellation.  For x <= 0 the exp is scaled up (see swish) so that results in the
# denormal range are rounded once.  float32's forward is evaluated in double.

cdef inline double mish_f32_in_double(float x) noexcept nogil:
    """mish of a float32 x in double, for one rounding to float32: 0.503 ulp measured
    by tools/sweep_f32.py, where float64's formula below evaluated in float32 gathers
    exp's error and five roundings (4.35 ulp near x = -3.25, 3.9 with FMA); this
    costs ~1.1x its time (AVX2).  Float32's denormal results are normal doubles, so no
    scaling; |x| is clamped at 200, beyond which the result rounds to x or -0."""
    cdef double xd = x
    cdef double ax = vfabs(xd)
    ax = 200.0 if ax > 200.0 else ax                 # NaN passes the compares
    cdef double xc = -200.0 if xd < -200.0 else xd
    cdef double t = act_exp_for_f32_d(-ax)
    cdef double tt = 2.0 * t
    cdef double p = 1.0 + tt
    cdef double n = vfma(t, t, tt)
    return (xd * p if x > 0 else xc * n) / (vfma(tt, t, p) if x > 0 else n + 2.0)


cdef inline floating mish_forward(floating x, floating a, floating b) noexcept nogil:
    cdef floating zero = 0, one = 1, two = 2
    cdef floating t_up, t, num, den, y
    if floating is float:
        return <float>mish_f32_in_double(x)
    t_up = vexp_scaled_up(vneg_abs(x), zero)     # exp(-|x|) * SCALE_UP
    t = t_up * scale_down(x)
    num = x * (one + two * t) if x > 0 else x * (t_up * (t + two))
    den = (one + two * t + two * t * t) if x > 0 else (t * (t + two) + two)
    y = num / den
    y = y if x > 0 else (vcopysign(zero, x) if t_up == 0 else y * scale_down(x))  # -inf: -0
    return y


cdef inline floating mish_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    # x <= 0: (t [(t + 2)(n + 2) + 4x(1 + t)]) / (n + 2)^2, t = exp(x), n = t(t + 2)
    # x >  0: ((1 + 2u) D + 4x u^2 (1 + u)) / D^2, u = exp(-x), D = 1 + 2u + 2u^2
    cdef floating zero = 0, one = 1, two = 2, four = 4
    cdef floating t_up = vexp_scaled_up(vneg_abs(x), zero)
    cdef floating t = t_up * scale_down(x)
    cdef floating n2 = t * (t + two) + two
    cdef floating dd = one + two * t + two * t * t
    cdef floating num = (((one + two * t) * dd + four * x * (t * t) * (one + t)) if x > 0
                         else t_up * ((t + two) * n2 + four * x * (one + t)))
    cdef floating den = dd * dd if x > 0 else n2 * n2
    cdef floating d = num / den
    cdef floating d_up = zero if t_up == 0 else d                  # x = -inf: 0, not NaN
    d = one if t == 0 else d                                       # x = +inf
    return g * d if x > 0 else grad_times_scaled_down(g, d_up)


# mish'(x) below x = -708 / -83 is subnormal: rounding it before the product with g
# loses its digits, which a large g brings back into the normal range (2^100 at float64
# x = -700: 1e7 ulp).  grad_times_scaled_down scales g instead (exact for |g| >= 2^-510
# / 2^-62), so that g * mish'(x) is rounded once; a smaller g keeps the old order (its
# product is normal only where mish'(x) is).  Where d_up scale_down is normal both are
# the same product rounded once: the same bits.  Not covered: x below -1063 / -131.7,
# where t_up itself is subnormal (tests/test_subnormal_results.py
# test_mish_large_grads_deep).

cdef inline floating grad_scalable(floating like) noexcept nogil:
    """2**-510 / 2**-62: from here up g * scale_down is normal, so exact."""
    if floating is float:
        return <float>2.168404344971009e-19
    else:
        return <double>2.983336292480083e-154


cdef inline floating grad_times_scaled_down(floating g, floating d_up) noexcept nogil:
    """g * (d_up * scale_down) for 0 <= |d_up| < 2**64 / 2**512, rounded once where
    |g| >= grad_scalable: (g scale_down) d_up."""
    cdef floating plain = g * (d_up * scale_down(g))
    cdef floating scaled = (g * scale_down(g)) * d_up
    return scaled if vfabs(g) >= grad_scalable(g) else plain


cdef inline floating grad_times_scaled_down_int(floating g, floating d_up) noexcept nogil:
    """grad_times_scaled_down's bits for the deep-negative blocks (d_up scale_down below
    2**-86 / 2**-913 there), without subnormal arithmetic.  float64: g d_up and its
    exact residual rounded into the subnormal range once (times_scale_down_rn; g d_up
    < 2**-400, no overflow), also for |g| < grad_scalable, whose product is then below
    2**-1423: +-0 either way.  float32 in double: g d_up 2**-64 exact there, rounded
    once to float32 (|g| >= grad_scalable), or g (d_up scale_down) with the scale-down
    rounded to float32 first (a smaller g)."""
    cdef double gd, dd
    cdef floating p
    if floating is float:
        gd = g
        dd = <double>d_up * 5.421010862427522e-20                 # 2**-64, exact
        dd = dd if vfabs(g) >= grad_scalable(g) else <double><float>dd
        return <float>(gd * dd)
    else:
        p = g * d_up
        return times_scale_down_rn(p, two_prod_err(g, d_up, p))


# mish's blocks of tiny x (_spec.TINY_FORMS) and of x below -DEEP_NEG (_spec.NEG_FORMS)
# run the exact formulas' arithmetic without subnormal operands or underflowing products.
# Tiny |x| (subnormal or +-0): exp(-|x|) rounds to 1, so the forward is 3x / 5 with the
# formula's roundings, formed on integers (vmish_tiny, _vmath.h); no slope reproduces
# them (float64's x <= 0 rounds twice).  Below -DEEP_NEG (-64 / -640): t = exp(x) <
# 2^-92 / 2^-923 vanishes against 2 (t + 2 = 2, t (t + 2) + 2 = 2 and 1 + t = 1
# exactly), so each result is the exact formula's x <= 0 branch with t folded in: no
# subnormal t, and the final scale-down by integer operations (times_scale_down, bit for
# bit the multiply).  float32's forward (in double) has no subnormal arithmetic there.

cdef inline floating mish_forward_tiny(floating x, floating a, floating b) noexcept nogil:
    return vmish_tiny(x)


cdef inline bint mish_forward_neg_lane(floating x, floating a, floating b) noexcept nogil:
    """x < -DEEP_NEG, float64 only (float32's double formula has no subnormal step)."""
    if floating is float:
        return False
    return x < deep_neg(x)


cdef inline bint mish_backward_neg_lane(floating g, floating x, floating a, floating b) noexcept nogil:
    """x < -DEEP_NEG."""
    return x < deep_neg(x)


cdef inline floating mish_forward_neg(floating x, floating a, floating b, bint plain) noexcept nogil:
    cdef floating zero = 0, two = 2
    cdef floating t_up, y
    if floating is float:
        return mish_forward(x, a, b)              # not reached: no float32 lane
    t_up = vexp_deep_up(x, zero)                  # x < -DEEP_NEG: -|x| = x
    y = (x * (t_up * two)) / two                  # num / den with t + 2 = 2, den = 2
    return vcopysign(zero, x) if t_up == 0 else times_scale_down(y)


cdef inline floating mish_backward_neg(floating g, floating x, floating a, floating b, bint plain) noexcept nogil:
    # num = t_up ((t + 2) n2 + 4x (1 + t)) with t + 2 = n2 = 2, 1 + t = 1; den = n2^2 = 4
    cdef floating zero = 0, four = 4
    cdef floating t_up = vexp_deep_up(x, zero)    # x < -DEEP_NEG: -|x| = x
    cdef floating d = (t_up * (four + four * x)) / four
    d = zero if t_up == 0 else d
    return grad_times_scaled_down_int(g, d)


# ----------------------------------------------------------------- celu (a = alpha)

cdef inline floating celu_forward(floating x, floating a, floating b) noexcept nogil:
    return x if x > 0 else a * vexpm1(x / a)


cdef inline floating celu_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    # celu'(0) = 1 (the x <= 0 side, as PyTorch).  q = x / alpha is rounded; its exact
    # remainder x - q*alpha (two_prod) gives the correction (x - q*alpha) / alpha for
    # the exp, whose relative error would otherwise grow as |q| * eps.
    cdef floating q = x / a
    cdef floating p = q * a
    cdef floating lo = exact_error(((x - p) - two_prod_err(q, a, p)) / a)
    cdef floating one = 1
    return g if x > 0 else mul_exp(g, one, q, lo)


cdef inline floating celu_backward_from_output(floating g, floating y, floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    cdef floating d = (y + a) / a
    return g if y > 0 else g * (zero if d < 0 else d)


# ----------------------------------------------------------------- log_sigmoid
# (blocks with no rare lane run log_sigmoid_*_fast: "Per-block fast paths" above)

cdef inline floating log_sigmoid_given(floating x, floating t) noexcept nogil:
    """log(sigmoid(x)) given t = exp(-|x|): -softplus(-x) = min(x, 0) - log1p(t), no
    overflow for large |x|."""
    cdef floating zero = 0
    return (x if x < 0 else zero) - vlog1p_unit(t)


cdef inline floating log_sigmoid_forward(floating x, floating a, floating b) noexcept nogil:
    # t = exp(-|x|) < 2**-90 (2**-900): log1p(t) rounds to t, so min(x, 0) - t with t
    # scaled down by integer operations (vlog1p_unit's products of a subnormal t are slow);
    # elsewhere the guarded t is t
    cdef floating zero = 0
    cdef floating t_up = vexp_scaled_up(vneg_abs(x), zero)
    cdef floating y = log_sigmoid_given(x, guarded_t(t_up))
    return ((x if x < 0 else zero) - times_scale_down(t_up)) if t_up < scaled_tiny(x) else y


cdef inline floating log_sigmoid_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    # g sigmoid(-x) = g ((t or 1) / (1 + t)), t = exp(-|x|); for x > 0 with t < 2**-90
    # (2**-900) that is g t, formed from t_up and scaled down last (mul_scaled_down)
    cdef floating zero = 0
    cdef floating deep = deep_flag(g, vneg_abs(x))
    cdef floating t_up = vexp_scaled_up_deep(vneg_abs(x), zero, deep)
    cdef floating y = g * sigmoid_complement_given(x, guarded_t(t_up))
    return y if (x < 0) | (t_up >= scaled_tiny(x)) else mul_scaled_down_deep(g, t_up, deep)


cdef inline floating log_sigmoid_backward_from_output(floating g, floating y, floating a, floating b) noexcept nogil:
    return g * (-vexpm1(y))                   # 1 - sigmoid(x) = 1 - exp(y)


# ----------------------------------------------------------------- tanhshrink
#
# x - tanh(x) cancels to x^3/3 near 0: for |x| <= 1 it is x^3 P(x^2) with P from
# tools/fit_tanhshrink.py (< 0.6 ulp); above 1 see below.



cdef inline floating tanhshrink_forward(floating x, floating a, floating b) noexcept nogil:
    cdef floating one = 1
    cdef floating u = x * x
    cdef floating small
    if floating is float:
        small = x * (u * act_tanhshrink_poly_f(u))
    else:
        small = x * (u * act_tanhshrink_poly_d(u))
    # |x| > 1: (|x| - 1) + (1 - tanh|x|) = (|x| - 1) + 2t / (1 + t), t = exp(-2|x|):
    # |x| - 1 is exact up to 2 and the second term is accurate on its own, so nothing
    # cancels (x - tanh(x) would lose up to a factor 4.2 just above 1).  It is formed
    # in y = -|x| (one OR): |x| - 1 = -1 - y.  two_exp_2y clamps y at -43 / -354 (2t is
    # then far below an ulp of |x| - 1): inf stays inf, NaN stays NaN in -1 - y.
    cdef floating half = 0.5
    cdef floating y = vneg_abs(x)
    cdef floating t2 = two_exp_2y(y)
    cdef floating large = vcopysign((-one - y) + t2 / vfma(t2, half, one), x)
    return small if y >= -one else large


cdef inline floating tanhshrink_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    # (g th) th: th * th would be subnormal or 0 at tiny x, where a large g's product is
    # normal (docs/api.md "Large and tiny grads"); |th| <= 1: g th cannot overflow
    cdef floating th = tanh_accurate(x)
    return (g * th) * th                      # 1 - (1 - tanh^2)


# ----------------------------------------------------------------- softshrink (a = lambd)

cdef inline floating softshrink_forward(floating x, floating a, floating b) noexcept nogil:
    # x - a above a, x + a below -a (x - copysign(a, x): the same one rounding), NaN stays
    # NaN; inside the dead zone a zero with x's sign (as PyTorch) by bit operations alone:
    # no multiply of a subnormal x (slow on Zen 5, docs/performance-notes.md "softshrink's
    # dead zone on subnormal inputs")
    cdef floating zero = 0
    return vcopysign(zero, x) if vfabs(x) <= a else x - vcopysign(a, x)


cdef inline floating softshrink_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    return nan_if_nan(x, zero if ((x >= -a) & (x <= a)) else g)


# ----------------------------------------------------------------- hardshrink (a = lambd)

cdef inline floating hardshrink_forward(floating x, floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    return zero if ((x >= -a) & (x <= a)) else x


cdef inline floating hardshrink_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    return nan_if_nan(x, zero if ((x >= -a) & (x <= a)) else g)


# ----------------------------------------------------------------- threshold (a = threshold, b = value)

cdef inline floating threshold_forward(floating x, floating a, floating b) noexcept nogil:
    return b if x <= a else x


cdef inline floating threshold_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    return nan_if_nan(x, zero if x <= a else g)


cdef inline floating threshold_backward_ooc(floating g, floating x, floating a, floating b) noexcept nogil:
    # the out-of-cache form (_spec.OUT_OF_CACHE_FORMS, AVX-512 only as relu's), the same bits
    if ACT_MASK_SELECTS:
        return vgrad_above(g, x, a)
    return threshold_backward(g, x, a, b)


# ----------------------------------------------------------------- gelu (exact and tanh form)
# The numerics live in _gelu.h (normal tail via a fitted erfcx-type polynomial,
# exact exp argument, denormal-safe; see its header for the measured bounds).

cdef extern from "_gelu.h" nogil:
    double act_gelu_fd(float x) noexcept
    double act_gelu_grad_fd(float x) noexcept
    double act_gelu_tiny_fd(float x) noexcept
    double act_gelu_grad_tiny_fd(float x) noexcept
    double act_gelu_grad_wide_fd(float x) noexcept
    double act_gelu_far_fd(float x) noexcept
    double act_gelu_grad_far_fd(float x) noexcept
    double act_gelu_far_sat_fd(float x, double y) noexcept
    double act_gelu_grad_far_sat_fd(float x, double y) noexcept
    double ACT_GELU_AMAX_F
    double ACT_GELU_FAR_AMAX_F
    double ACT_GELU_AMAX_D
    double act_gelu_tanh_fd(float x) noexcept
    double act_gelu_tanh_grad_fd(float x) noexcept
    double act_ndtr_d(double x) noexcept
    double act_ndtr_small_d(double x) noexcept
    float act_gelu_f(float x) noexcept
    double act_gelu_d(double x) noexcept
    float act_gelu_grad_f(float x) noexcept
    double act_gelu_grad_d(double x) noexcept
    float act_gelu_tanh_f(float x) noexcept
    double act_gelu_tanh_d(double x) noexcept
    float act_gelu_tanh_grad_f(float x) noexcept
    double act_gelu_tanh_grad_d(double x) noexcept


cdef inline floating gelu_forward(floating x, floating a, floating b) noexcept nogil:
    if floating is float:
        return act_gelu_f(x)
    else:
        return act_gelu_d(x)


# float32 backwards: g times the double derivative, rounded once (docs/api.md "Large
# and tiny grads": gelu' rounded to float32 first is subnormal or 0 below x = -13.35,
# -10.24 for the tanh form, where a large g's product is normal; _gelu.h clamps gelu'
# as far out as g can reach).

cdef inline floating gelu_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    if floating is float:
        return nan_if_nan(x, <float>(<double>g * act_gelu_grad_wide_fd(x)))
    else:
        return g * act_gelu_grad_d(x)


cdef inline floating gelu_tanh_forward(floating x, floating a, floating b) noexcept nogil:
    if floating is float:
        return act_gelu_tanh_f(x)
    else:
        return act_gelu_tanh_d(x)


cdef inline floating gelu_tanh_backward(floating g, floating x, floating a, floating b) noexcept nogil:
    if floating is float:
        return <float>(<double>g * act_gelu_tanh_grad_fd(x))
    else:
        return g * act_gelu_tanh_grad_d(x)


# ================================================================= gates (glu family)
# Gated activations split x along an axis into halves a (first) and b (second):
#   NAME_gate(a, b)             the output
#   NAME_gate_grad_a(g, a, b)   g * d out / d a
#   NAME_gate_grad_b(g, a, b)   g * d out / d b

# ----------------------------------------------------------------- glu: a * sigmoid(b)

cdef inline floating glu_gate(floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    return mul_sigmoid(a, b, zero, False)


cdef inline floating glu_gate_grad_a(floating g, floating a, floating b) noexcept nogil:
    cdef floating zero = 0
    return mul_sigmoid(g, b, zero, False)


cdef inline floating glu_gate_grad_b(floating g, floating a, floating b) noexcept nogil:
    return mul_logistic_density(g, a, b, False)


# The wide forms (_spec.WIDE_PATHS): a big factor at a deep b (deep_big, "Large factors
# at deep gate arguments"): a, g, or g * a, the factor of mul_logistic_density; and
# float32 where g * a overflowed, in double (mul_logistic_density's own fallback,
# g * (a * sigmoid'(b)), loses digits where a * sigmoid'(b) is subnormal); float64's
# (a * scale_down) * t_up there stays normal down to b = -1063.

cdef inline floating mul_sigmoid_wide(floating a, floating z) noexcept nogil:
    """mul_sigmoid(a, z, 0), also where deep_big(a, z) for a finite a: float32 in double,
    float64 by act_mul_exp_wide_d."""
    cdef floating zero = 0, one = 1
    cdef floating narrow = mul_sigmoid(a, z, zero, False)
    cdef floating wide
    if floating is float:
        wide = <float>mul_sigmoid(<double>a, <double>z, 0.0, False)
    else:
        wide = act_mul_exp_wide_d(a, one, one, z)
    return wide if finite(a) & deep_big(a, z) else narrow


cdef inline bint glu_gate_wide_rare(floating a, floating b) noexcept nogil:
    return finite(a) & deep_big(a, b)


cdef inline floating glu_gate_wide(floating a, floating b) noexcept nogil:
    return mul_sigmoid_wide(a, b)


cdef inline bint glu_gate_grad_wide_rare(floating g, floating a, floating b) noexcept nogil:
    cdef bint wide_b = finite(g) & finite(a) & deep_big(g * a, b)
    if floating is float:
        wide_b = wide_b | overflowed(g, a, g * a)
    return glu_gate_wide_rare(g, b) | wide_b


cdef inline floating glu_gate_grad_a_wide(floating g, floating a, floating b) noexcept nogil:
    return mul_sigmoid_wide(g, b)


cdef inline floating glu_gate_grad_b_wide(floating g, floating a, floating b) noexcept nogil:
    # both forms, then one select: a conditional call GCC does not if-convert
    cdef floating one = 1
    cdef floating narrow = mul_logistic_density(g, a, b, False)
    cdef floating wide
    cdef bint take_wide = finite(g) & finite(a) & deep_big(g * a, b)
    if floating is float:
        wide = <float>mul_logistic_density(<double>g, <double>a, <double>b, False)
        take_wide = take_wide | overflowed(g, a, g * a)
    else:
        wide = act_mul_exp_wide_d(g, a, one, b)
    return wide if take_wide else narrow


# ----------------------------------------------------------------- swiglu: silu(a) * b

cdef inline floating swiglu_gate(floating a, floating b) noexcept nogil:
    # (a*b) * sigmoid(a) rounds once, also where silu(a) alone would be denormal;
    # where a*b is not finite, silu(a) * b (the limits; swiglu_gate_wide: where a*b
    # overflowed from finite a and b, the product wider)
    cdef floating zero = 0, one = 1
    cdef floating ab = a * b
    cdef floating fused = mul_sigmoid(ab, a, zero, False)
    return fused if ab - ab == 0 else silu_forward(a, one, one) * b


cdef inline floating swiglu_gate_grad_a(floating g, floating a, floating b) noexcept nogil:
    cdef floating one = 1
    return silu_backward(g * b, a, one, one)


cdef inline floating swiglu_gate_grad_b(floating g, floating a, floating b) noexcept nogil:
    return swiglu_gate(a, g)      # d/db silu(a) * b = silu(a): the gate with g for b


# The wide forms (_spec.WIDE_PATHS), where a * b (backward: g * b or a * g) overflowed
# from finite inputs: the product wider ("Products of two inputs that overflow"), and
# where a big factor meets a deep a (deep_big: a * b, a * g, and (g * b) (1 + a), the
# factor of exp(a) in mul_swish_derivative; "Large factors at deep gate arguments"):
# the exact formulas' bits elsewhere.

cdef inline bint swiglu_deep_big(floating a, floating b) noexcept nogil:
    """deep_big(a * b, a) for finite a and b (swiglu_gate's factor of exp(a))."""
    return finite(a) & finite(b) & deep_big(a * b, a)


cdef inline bint swiglu_grad_a_deep_big(floating g, floating a, floating b) noexcept nogil:
    """deep_big((g * b) (1 + a), a) for finite g and b (mul_swish_derivative's factor
    of exp(a) where 1 + exp(a) = 1)."""
    cdef floating one = 1
    return finite(g) & finite(b) & deep_big((g * b) * (one + a), a)


cdef inline bint swiglu_gate_wide_rare(floating a, floating b) noexcept nogil:
    return overflowed(a, b, a * b) | swiglu_deep_big(a, b)


cdef inline floating swiglu_gate_wide(floating a, floating b) noexcept nogil:
    # swiglu_gate's values spelled out, every form computed, then selects (a conditional
    # call GCC does not if-convert: docs/performance-notes.md, "Per-block fast path")
    cdef floating zero = 0, one = 1
    cdef floating ab = a * b
    cdef floating fused = mul_sigmoid(ab, a, zero, False)
    cdef floating limit = silu_forward(a, one, one) * b
    cdef floating narrow = fused if finite(ab) else limit
    cdef floating wide
    if floating is float:
        wide = <float>mul_sigmoid(<double>a * <double>b, <double>a, 0.0, False)
        return wide if overflowed(a, b, ab) | swiglu_deep_big(a, b) else narrow
    wide = product_scaled_up(a, b, mul_sigmoid(product_scaled_down(a, b), a, zero, False))
    narrow = wide if overflowed(a, b, ab) else narrow
    return act_mul_exp_wide_d(a, b, one, a) if swiglu_deep_big(a, b) else narrow


cdef inline bint swiglu_gate_grad_wide_rare(floating g, floating a, floating b) noexcept nogil:
    return (overflowed(g, b, g * b) | overflowed(a, g, a * g)
            | swiglu_grad_a_deep_big(g, a, b) | swiglu_deep_big(a, g))


cdef inline floating swiglu_gate_grad_a_wide(floating g, floating a, floating b) noexcept nogil:
    cdef floating one = 1
    cdef floating narrow, wide
    if floating is float:
        narrow = swiglu_gate_grad_a(g, a, b)
        wide = <float>silu_backward(<double>g * <double>b, <double>a, 1.0, 1.0)
        return wide if overflowed(g, b, g * b) | swiglu_grad_a_deep_big(g, a, b) else narrow
    narrow = product_scaled_up(g, b, silu_backward(product_scaled_down(g, b), a, one, one))
    return act_mul_exp_wide_d(g, b, one + a, a) if swiglu_grad_a_deep_big(g, a, b) else narrow


cdef inline floating swiglu_gate_grad_b_wide(floating g, floating a, floating b) noexcept nogil:
    return swiglu_gate_wide(a, g)


# ----------------------------------------------------------------- geglu: gelu(a) * b
# float32: gelu and gelu' are taken unrounded in double (_gelu.h evaluates them in
# double anyway) and multiplied by b and g there, so the product is rounded once,
# also where gelu(a) alone would be denormal.  float64: for |a| < 1 the gate is
# Phi(a) * (a*b) (Phi ~ 1/2 there), which keeps a tiny a*b exact; elsewhere
# gelu(a) * b.  (float64 gate gradients that are denormal are rounded twice.)

cdef inline floating gelu_tanh_cdf(floating a) noexcept nogil:
    """sigmoid(2 sqrt(2/pi) (a + 0.044715 a^3)) for |a| < 1 (the tanh form's 'Phi')."""
    cdef floating c2 = <floating>1.5957691216057308       # 2 sqrt(2/pi)
    cdef floating c2a = <floating>0.07135481627260025     # 2 sqrt(2/pi) 0.044715
    return sigmoid_of(a * (c2 + c2a * (a * a)))


cdef inline floating gelu_times(floating a, floating b, bint tanh_form,
                                int far_tail) noexcept nogil:
    """gelu(a) * b, rounded once (see above); tanh_form: PyTorch's approximate='tanh';
    far_tail 1: float32 a < -AMAX by _gelu.h's far-tail series; 0: the clamped tail,
    right only where the product underflows (the fast path's blocks have no a < -AMAX);
    2: as 0, and the far series' clamped value for a < -FAR_AMAX (the saturated blocks
    have no a in [-FAR_AMAX, -AMAX)).
    (tanh_form and far_tail are constants at every call: the unused code folds away.)"""
    cdef floating one = 1
    cdef floating ab
    if floating is float:
        # at a = -inf the double path's clamped tail is tiny, not the limit -0
        if finite(a):
            if tanh_form:
                return <float>(act_gelu_tanh_fd(a) * <double>b)
            if far_tail == 1:
                return <float>((act_gelu_far_fd(a) if a < -ACT_GELU_AMAX_F else act_gelu_fd(a))
                               * <double>b)
            if far_tail == 2:
                return <float>(act_gelu_far_sat_fd(a, act_gelu_fd(a)) * <double>b)
            return <float>(act_gelu_fd(a) * <double>b)
        # (vmul_once: GCC computes this branch in every lane and selects; a multiply of a
        # subnormal a's gelu, or of a subnormal b, rounded into the subnormal range is
        # 3x slower on Zen 5, an FMA not: docs/performance-notes.md "Subnormal operands
        # on Zen 5")
        return vmul_once(act_gelu_tanh_f(a) if tanh_form else act_gelu_f(a), b)
    else:
        ab = a * b
        if (vfabs(a) < one) & finite(ab):
            return (gelu_tanh_cdf(a) if tanh_form else act_ndtr_small_d(a)) * ab
        return (act_gelu_tanh_d(a) if tanh_form else act_gelu_d(a)) * b


cdef inline floating gelu_grad_times(floating a, floating g, floating b,
                                     bint tanh_form, int far_tail) noexcept nogil:
    """gelu'(a) * g * b (float32: the product formed in double, rounded once); far_tail
    as for gelu_times."""
    cdef floating d, gb
    if floating is float:
        if finite(a):
            if tanh_form:
                return <float>(act_gelu_tanh_grad_fd(a) * (<double>g * <double>b))
            if far_tail == 1:
                return <float>((act_gelu_grad_far_fd(a) if a < -ACT_GELU_AMAX_F
                                else act_gelu_grad_fd(a)) * (<double>g * <double>b))
            if far_tail == 2:
                return <float>(act_gelu_grad_far_sat_fd(a, act_gelu_grad_fd(a))
                               * (<double>g * <double>b))
            return <float>(act_gelu_grad_fd(a) * (<double>g * <double>b))
        # a = +-inf: gelu' = 1 or 0, times g first: g * b where g * b overflows too (not
        # inf * 0), the same values (and NaNs) as gelu' * (g * b) elsewhere
        # (by vmul_once, as gelu_times's: computed in every lane, b subnormal there)
        return vmul_once(vmul_once(act_gelu_tanh_grad_f(a) if tanh_form else act_gelu_grad_f(a), g), b)
    else:
        # gelu_backward(g * b, a): (g * b) gelu'(a); where g * b overflows, g * (b * gelu'(a))
        # ("Products of two inputs that overflow": no extra pass, one select)
        d = act_gelu_tanh_grad_d(a) if tanh_form else act_gelu_grad_d(a)
        gb = g * b
        return gb * d if finite(gb) else g * (b * d)


# d/db gelu(a) * b = gelu(a): grad_b is the gate with g in place of b.

cdef inline floating geglu_gate(floating a, floating b) noexcept nogil:
    return gelu_times(a, b, False, 1)


cdef inline floating geglu_gate_grad_a(floating g, floating a, floating b) noexcept nogil:
    return gelu_grad_times(a, g, b, False, 1)


cdef inline floating geglu_gate_grad_b(floating g, floating a, floating b) noexcept nogil:
    return gelu_times(a, g, False, 1)


# geglu's fast path (see "per-block fast paths"): float32 blocks without an a < -AMAX
# (-15) skip the far series, bit for bit the same; saturated blocks, without an a in
# [-FAR_AMAX, -AMAX) (-37, -15), too: below -37 the series is clamped to one value,
# which their formulas select (_gelu.h act_gelu_far_sat_fd), and infinities and NaN
# take the float32 forms on every path.
# float64 has no far-tail form yet (its gelu(a) is -0 from a = -39 on, so gelu(a) b
# is right for |b| up to ~1e16): both of its paths compute the same formula,
# so no block is rare.

cdef inline bint geglu_gate_rare(floating a, floating b) noexcept nogil:
    if floating is float:
        return a < -ACT_GELU_AMAX_F
    return False


cdef inline bint geglu_gate_band_rare(floating a, floating b) noexcept nogil:
    if floating is float:
        return (a < -ACT_GELU_AMAX_F) & (a >= <float>-ACT_GELU_FAR_AMAX_F)
    return False


cdef inline floating geglu_gate_sat(floating a, floating b) noexcept nogil:
    return gelu_times(a, b, False, 2)


cdef inline bint geglu_gate_grad_band_rare(floating g, floating a, floating b) noexcept nogil:
    return geglu_gate_band_rare(a, b)


cdef inline floating geglu_gate_grad_a_sat(floating g, floating a, floating b) noexcept nogil:
    return gelu_grad_times(a, g, b, False, 2)


cdef inline floating geglu_gate_grad_b_sat(floating g, floating a, floating b) noexcept nogil:
    return gelu_times(a, g, False, 2)


cdef inline floating geglu_gate_fast(floating a, floating b) noexcept nogil:
    return gelu_times(a, b, False, 0)


cdef inline bint geglu_gate_grad_rare(floating g, floating a, floating b) noexcept nogil:
    return geglu_gate_rare(a, b)


cdef inline floating geglu_gate_grad_a_fast(floating g, floating a, floating b) noexcept nogil:
    return gelu_grad_times(a, g, b, False, 0)


cdef inline floating geglu_gate_grad_b_fast(floating g, floating a, floating b) noexcept nogil:
    return gelu_times(a, g, False, 0)


cdef inline floating geglu_tanh_gate(floating a, floating b) noexcept nogil:
    return gelu_times(a, b, True, 0)


cdef inline floating geglu_tanh_gate_grad_a(floating g, floating a, floating b) noexcept nogil:
    return gelu_grad_times(a, g, b, True, 0)


cdef inline floating geglu_tanh_gate_grad_b(floating g, floating a, floating b) noexcept nogil:
    return gelu_times(a, g, True, 0)



# ================================================================= tiny blocks
# For the ops and directions of _spec.TINY_PATHS, a block of FAST_BLOCK inputs that are
# all below the smallest normal in magnitude (subnormal or +-0) needs no transcendental:
# there every function here is its first-order Taylor form, f(x) = f(+-0) where that is
# nonzero (x is far below half its ulp), else c * x with c = f'(+-0) one-sided, and the
# backward g * f'(+-0).  Computing the exact formulas on such x costs a microcode assist
# per instruction on Intel cores (15-110x the time of ordinary inputs).  The constants
# come from the op's own formulas, evaluated once per call when a tiny block first
# occurs (the loops' NAME_DIR_tiny_setup, _elementwise.pxi.tp), and are used only if the
# tiny formulas below reproduce the exact formulas bit for bit on a set of probe inputs
# (both signs, the ends and the middle of the subnormal range, odd significands),
# so the block split never shows; parameters for which the first-order form does not
# hold at every tiny x (a huge softplus beta, a tiny celu alpha, ...) fail the probes
# and keep the exact formulas.

cdef struct TinyConsts:
    int state           # 0: not set up yet, 1: the tiny formulas hold, 2: with float64
                        # slopes (float32 forward, tiny_forward_wide), -1: they do not
    double zp, zn       # at x = +0 and -0: forward f(x), backward f'(x)
    double vp, vn       # at tiny x > 0 and < 0: forward the slope c, backward f'(x)


cdef inline bint is_tiny(floating x) noexcept nogil:
    """|x| below the smallest normal (subnormal or +-0); False for NaN."""
    return vis_tiny(x)


cdef inline floating tiny_forward(floating x, double zp, double zn, double vp, double vn) noexcept nogil:
    """f(x) for a tiny x: f(+-0) at +-0 and where it is nonzero, else slope * x rounded
    once (slopes of the dtype)."""
    cdef floating one = 1, zero = 0
    cdef floating f0 = <floating>zn if vcopysign(one, x) < zero else <floating>zp
    cdef floating y = vtiny_mul(vp, vn, x)
    return f0 if vis_zero(x) | (f0 != zero) else y


cdef inline floating tiny_forward_plain(floating x, double zp, double zn, double vp, double vn) noexcept nogil:
    """tiny_forward by the machine's arithmetic, for cores where subnormal arithmetic is
    not slow (`subnormal_detours` off): x * slope is the slope times x rounded once,
    which vtiny_mul forms without subnormal arithmetic (the same bits, signed zeros
    too), at a fraction of its instructions.  Formed as fma(x, slope, -0), the same
    rounding and sign (vmul_once): on Zen 5 a multiply of subnormal operands slows a
    loop by up to 1.4x, an FMA does not (docs/performance-notes.md "Subnormal operands
    on Zen 5")."""
    cdef floating one = 1, zero = 0
    cdef bint neg = vcopysign(one, x) < zero
    cdef floating f0 = <floating>zn if neg else <floating>zp
    cdef floating y = vmul_once(x, <floating>vn if neg else <floating>vp)
    return f0 if vis_zero(x) | (f0 != zero) else y


cdef inline floating tiny_forward_wide(floating x, double zp, double zn, double vp, double vn) noexcept nogil:
    """tiny_forward with float64 slopes for a float32 x (state 2 of a setup)."""
    cdef floating one = 1, zero = 0
    cdef floating f0 = <floating>zn if vcopysign(one, x) < zero else <floating>zp
    cdef floating y = vtiny_mul_wide(vp, vn, x)
    return f0 if vis_zero(x) | (f0 != zero) else y


cdef inline bint tiny_slope_form(double zp, double zn, double vp, double vn) noexcept nogil:
    """Whether tiny_forward with these constants (slopes of the dtype) is
    tiny_forward_slope: f(+0) = +0, f(-0) = -0, slope 1 for x > 0 and vn <= 1 with its
    sign bit clear for x < 0 (tiny_forward's product by 1 is x itself, and its f(+-0)
    are the products' signed zeros)."""
    cdef double one = 1
    return ((vp == 1) & (zp == 0) & (vcopysign(one, zp) > 0) & (zn == 0)
            & (vcopysign(one, zn) < 0) & tiny_slope_form_ok(vn))


cdef inline bint tiny_slope_form_ok(floating c) noexcept nogil:
    """c <= 1 with its sign bit clear (not NaN): a slope tiny_forward_slope takes."""
    cdef floating one = 1
    return (c <= one) & (vcopysign(one, c) > 0)


cdef inline floating tiny_forward_slope(floating x, double vn) noexcept nogil:
    """tiny_forward where tiny_slope_form holds (state 3 of a setup, _spec.TINY_SLOPE_FORMS):
    x for x >= +0, vn * x otherwise, rounded once (vtiny_slope: no per-lane choice of
    slope, sign or zero)."""
    return vtiny_slope(<floating>vn, x)


cdef inline floating tiny_backward(floating g, floating x, double zp, double zn, double vp,
                                   double vn) noexcept nogil:
    """g * f'(x) for a tiny x: f' at +-0 or at a tiny x of x's sign (a normal multiply)."""
    cdef floating one = 1, zero = 0
    cdef bint neg = vcopysign(one, x) < zero
    cdef floating d0 = <floating>zn if neg else <floating>zp
    cdef floating d = <floating>vn if neg else <floating>vp
    return g * (d0 if vis_zero(x) else d)


cdef inline floating tiny_probe(floating like, int i) noexcept nogil:
    """The i-th positive probe input of the tiny setups (i < TINY_PROBES): the smallest
    significands, the largest (all residues mod 3, 5 and 8) and two from the middle;
    m * 2^-149 (2^-1074) is exact."""
    cdef double m
    cdef double top = 8388607.0 if floating is float else 4503599627370495.0
    if i < 3:
        m = i + 1.0
    elif i < 5:
        m = 2.0 * i - 1.0                  # 5, 7
    elif i < 13:
        m = top - (i - 5)
    elif i == 13:
        m = 2796203.0 if floating is float else 1501199875790165.0      # 0x2aaaab, 0x5555555555555
    else:
        m = 4194305.0 if floating is float else 2251799813685249.0      # 2^22 + 1, 2^51 + 1
    if floating is float:
        return <float>m * <float>1.401298464324817e-45
    else:
        return <double>m * <double>4.9406564584124654e-324


cdef inline floating tiny_grad_probe(floating like, int k) noexcept nogil:
    """The k-th grad of the backward setups' probes (k < TINY_GRAD_PROBES): plain, of
    the other sign and irregular significand, and tiny but normal."""
    if k == 0:
        return 1
    elif k == 1:
        return <floating>-1.2345678
    elif floating is float:
        return <float>3.7e-37
    else:
        return <double>3.7e-307


cdef enum:
    TINY_PROBES = 15
    TINY_GRAD_PROBES = 3


# The setups' results, kept per process and SIMD level for the next call with the same
# parameters: a setup evaluates the exact formulas on subnormal probes (microseconds,
# the time of a few thousand ordinary elements).  One slot per (op, direction, dtype),
# a sequence lock (odd while written): a reader that sees it change, or odd, or other
# parameters, runs the setup itself, and a writer that finds it taken does not store.
cdef extern from *:
    """
    #define ACT_TINY_SLOTS 512
    typedef struct { int seq, state; double a, b, zp, zn, vp, vn; } act_tiny_slot;
    static act_tiny_slot act_tiny_slots[ACT_TINY_SLOTS];
    #if defined(__GNUC__) || defined(__clang__)
    #define ACT_LD(f, v) __atomic_load(&s->f, &v, __ATOMIC_RELAXED)
    #define ACT_ST(f, v) __atomic_store(&s->f, &v, __ATOMIC_RELAXED)
    static int act_tiny_lookup(int slot, double a, double b, int* state, double* zp,
                               double* zn, double* vp, double* vn)
    {
        act_tiny_slot* s = &act_tiny_slots[slot];
        double sa, sb; int st;
        int q = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        if (q == 0 || (q & 1)) return 0;
        ACT_LD(a, sa); ACT_LD(b, sb); ACT_LD(state, st);
        ACT_LD(zp, *zp); ACT_LD(zn, *zn); ACT_LD(vp, *vp); ACT_LD(vn, *vn);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != q) return 0;
        if (memcmp(&sa, &a, sizeof a) != 0 || memcmp(&sb, &b, sizeof b) != 0) return 0;
        *state = st;
        return 1;
    }
    static void act_tiny_store(int slot, double a, double b, int state, double zp, double zn,
                               double vp, double vn)
    {
        act_tiny_slot* s = &act_tiny_slots[slot];
        int q = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
        if ((q & 1) || !__atomic_compare_exchange_n(&s->seq, &q, q + 1, 0, __ATOMIC_ACQUIRE,
                                                    __ATOMIC_RELAXED))
            return;
        __atomic_thread_fence(__ATOMIC_RELEASE);
        ACT_ST(a, a); ACT_ST(b, b); ACT_ST(state, state);
        ACT_ST(zp, zp); ACT_ST(zn, zn); ACT_ST(vp, vp); ACT_ST(vn, vn);
        __atomic_store_n(&s->seq, q + 2, __ATOMIC_RELEASE);
    }
    #else
    static int act_tiny_lookup(int slot, double a, double b, int* state, double* zp,
                               double* zn, double* vp, double* vn) { return 0; }
    static void act_tiny_store(int slot, double a, double b, int state, double zp, double zn,
                               double vp, double vn) { }
    #endif
    """
    int TINY_SLOTS "ACT_TINY_SLOTS"
    bint act_tiny_lookup(int slot, double a, double b, int* state, double* zp, double* zn,
                         double* vp, double* vn) noexcept nogil
    void act_tiny_store(int slot, double a, double b, int state, double zp, double zn,
                        double vp, double vn) noexcept nogil


cdef inline bint tiny_lookup(int slot, floating a, floating b, TinyConsts* t) noexcept nogil:
    """Whether slot holds a setup for (a, b): then t has its state and constants."""
    return (0 <= slot < TINY_SLOTS) and act_tiny_lookup(slot, a, b, &t.state, &t.zp, &t.zn,
                                                        &t.vp, &t.vn)


cdef inline void tiny_store(int slot, floating a, floating b, const TinyConsts* t) noexcept nogil:
    if 0 <= slot < TINY_SLOTS:
        act_tiny_store(slot, a, b, t.state, t.zp, t.zn, t.vp, t.vn)


cdef inline bint same_bits(floating u, floating v) noexcept nogil:
    cdef floating one = 1
    return ((u == v) & (vcopysign(one, u) == vcopysign(one, v))) | ((u != u) & (v != v))


cdef inline bint tiny_slope_ok(double c) noexcept nogil:
    """A slope vtiny_mul takes: zero, or 2^-64 <= |c| <= 2^64."""
    return (c == 0) | ((vfabs(c) >= 5.421010862427522e-20) & (vfabs(c) <= 1.8446744073709552e19))


# ================================================================= tiny gate blocks
# For the gates of _spec.TINY_PATHS, a block of FAST_BLOCK elements whose a and b are all
# tiny (subnormal or +-0) and whose grads are plain (gate_grad_plain) runs the forms
# below (the loops: _elementwise.pxi.tp chunk_loop), which give the exact gates' bits
# without subnormal arithmetic (a microcode assist per instruction on Intel cores, for
# the whole vector: 20-64x the time of ordinary inputs).  At tiny a and b the exact
# formulas reduce to: sigmoid(b) = 1/2, sigmoid'(b) = 1/4, silu'(a) = gelu'(a) = 1/2
# (1 + t rounds to 2, the terms in a or b vanish against it), a product of two tiny
# values is a signed zero; each remaining product rounds as the exact formula rounds it
# (round(c * x) by vtiny_mul's method, halving or quartering by times_scale_up, an exact
# * 1/2 or * 1/4 and times_scale_down: times_fraction).  tests/test_fast_path.py checks them against the exact blocks bit
# for bit at every SIMD level.

from activations._vmath cimport vtiny_mul_by, vhard_swish_tiny, act_tiny_to_d_f, act_round_to_f_d


cdef inline bint gate_tiny(floating a, floating b) noexcept nogil:
    """Whether a forward gate takes its tiny form: a and b tiny."""
    return vis_tiny(a) & vis_tiny(b)


cdef inline bint plain_factor(floating c) noexcept nogil:
    """2^-60 <= |c| <= 2^60: a factor vtiny_mul_by takes, halved too (not NaN)."""
    cdef floating lo, hi
    if floating is float:
        lo, hi = <float>8.673617379884035e-19, <float>1.152921504606847e+18
    else:
        lo, hi = <double>8.673617379884035e-19, <double>1.152921504606847e+18
    return (vfabs(c) >= lo) & (vfabs(c) <= hi)


cdef inline bint gate_grad_plain(floating g) noexcept nogil:
    """g zero or a plain_factor."""
    cdef floating zero = 0
    return plain_factor(g) | (g == zero)


cdef inline bint gate_grad_tiny(floating g, floating a, floating b) noexcept nogil:
    """Whether a gate's gradients take their tiny forms: a and b tiny, g plain."""
    return vis_tiny(a) & vis_tiny(b) & gate_grad_plain(g)


cdef inline floating tiny_product_zero(floating a, floating b) noexcept nogil:
    """a * b for tiny a and b: a zero with the sign of the product."""
    cdef floating zero = 0, one = 1
    return vcopysign(zero, vcopysign(one, a) * vcopysign(one, b))


cdef inline floating times_fraction(floating v, floating c) noexcept nogil:
    """v * c rounded once for c = 1/2 or 1/4, |v| < 2^63 (2^511), subnormal results too."""
    return times_scale_down(times_scale_up(v) * c)


cdef inline floating half_of(floating v) noexcept nogil:
    return times_fraction(v, <floating>0.5)


# glu: a * sigmoid(b) = round(a / 2); g * sigmoid(b) = g / 2; (g * a) * sigmoid'(b) =
# round(round(g * a) / 4)

cdef inline floating glu_gate_tiny(floating a, floating b) noexcept nogil:
    return vtiny_mul(0.5, 0.5, a)


cdef inline floating glu_gate_grad_a_tiny(floating g, floating a, floating b) noexcept nogil:
    cdef floating half = <floating>0.5
    return g * half


cdef inline floating glu_gate_grad_b_tiny(floating g, floating a, floating b) noexcept nogil:
    return times_fraction(vtiny_mul_by(g, a), <floating>0.25)


# swiglu: (a * b) * sigmoid(a) = a signed zero; (g * b) * silu'(a) = round(round(g * b) / 2);
# (a * g) * sigmoid(a) = round(round(a * g) / 2)

cdef inline floating swiglu_gate_tiny(floating a, floating b) noexcept nogil:
    return tiny_product_zero(a, b)


cdef inline floating swiglu_gate_grad_a_tiny(floating g, floating a, floating b) noexcept nogil:
    return half_of(vtiny_mul_by(g, b))


cdef inline floating swiglu_gate_grad_b_tiny(floating g, floating a, floating b) noexcept nogil:
    return half_of(vtiny_mul_by(g, a))


# geglu forward, float64 (_spec.TINY_F64_GATES): Phi(a) * (a * b) (|a| < 1), a * b a
# signed zero, Phi(a) ~ 1/2: that zero.  float32's formula gives it too (gelu(a) b in
# double, rounded to float32), but its tiny blocks never run: the test and
# gated_tiny_block's branch fold away (_elementwise.pxi.tp).

cdef inline floating geglu_gate_tiny(floating a, floating b) noexcept nogil:
    return tiny_product_zero(a, b)


# geglu backward: float64: (g * b) gelu'(a) = round(round(g * b) / 2), Phi(a) * round(a *
# g) = round(round(a * g) / 2).  float32 (products in double, rounded once): its double
# gelu' and gelu are accurate to float32's needs only, 1/2 within about 1e-10, which
# decides near-ties of round((g / 2) * b): it keeps its formulas and its roundings, with
# the converts that would take a microcode assist on Intel (of a subnormal a or b into
# double, of a result into the float32 subnormals) done on integers (_vmath.h
# act_tiny_to_d_f, act_round_to_f_d; _gelu.h act_gelu_tiny_fd): the same bits as the
# fast forms.

cdef inline floating geglu_gate_grad_a_tiny(floating g, floating a, floating b) noexcept nogil:
    if floating is float:
        return act_round_to_f_d(act_gelu_grad_tiny_fd(a) * (<double>g * act_tiny_to_d_f(b)))
    return half_of(vtiny_mul_by(g, b))


cdef inline floating geglu_gate_grad_b_tiny(floating g, floating a, floating b) noexcept nogil:
    if floating is float:
        return act_round_to_f_d(act_gelu_tiny_fd(a) * <double>g)
    return half_of(vtiny_mul_by(g, a))


# The same products by plain multiplies (_spec.TINY_PLAIN_GATES), where subnormal
# arithmetic is not slow (`subnormal_detours` off): each rounded once by the hardware,
# as the exact formulas round them, with the factors above (1/2, 1/4) exact

cdef inline floating glu_gate_grad_a_tiny_plain(floating g, floating a, floating b) noexcept nogil:
    return glu_gate_grad_a_tiny(g, a, b)


cdef inline floating glu_gate_grad_b_tiny_plain(floating g, floating a, floating b) noexcept nogil:
    return (g * a) * <floating>0.25


cdef inline floating swiglu_gate_grad_a_tiny_plain(floating g, floating a, floating b) noexcept nogil:
    return (g * b) * <floating>0.5


cdef inline floating swiglu_gate_grad_b_tiny_plain(floating g, floating a, floating b) noexcept nogil:
    return (a * g) * <floating>0.5


cdef inline floating geglu_gate_grad_a_tiny_plain(floating g, floating a, floating b) noexcept nogil:
    if floating is float:
        return geglu_gate_grad_a_fast(g, a, b)
    return (g * b) * <floating>0.5


cdef inline floating geglu_gate_grad_b_tiny_plain(floating g, floating a, floating b) noexcept nogil:
    if floating is float:
        return geglu_gate_grad_b_fast(g, a, b)
    return (a * g) * <floating>0.5


# ----------------------------------------------------------------- hard_swish at tiny x
# (_spec.TINY_FORMS): x (x + 3) / 6 rounds twice, which no slope reproduces (the tiny
# setup's probes fail), so its tiny blocks run the two roundings on integers (_vmath.h)

cdef inline floating hard_swish_forward_tiny(floating x, floating a, floating b) noexcept nogil:
    return vhard_swish_tiny(x)
