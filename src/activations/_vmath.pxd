# Cython view of _vmath.h: the shared, vectorizable elementary functions, with fused
# float/double wrappers so that formulas are written once for both dtypes.
# `if floating is float` is resolved at compile time: no branch is left in the C.

from cython cimport floating
from libc.stdint cimport uint32_t, uint64_t

cdef extern from "_vmath.h" nogil:
    uint32_t act_asuint_f(float x) noexcept
    uint64_t act_asuint_d(double x) noexcept
    int ACT_VEC_U64_COMPARE
    int ACT_HAVE_FMA
    int ACT_MASK_SELECTS
    float act_exp_f(float x) noexcept
    double act_exp_d(double x) noexcept
    double act_exp_for_f32_d(double x) noexcept
    float act_exp_scaled_f(float x, float lo, int k) noexcept
    double act_exp_scaled_d(double x, double lo, long long k) noexcept
    float act_exp_scaled_up_deep_f(float x, float lo, float deep) noexcept
    double act_exp_scaled_up_deep_d(double x, double lo, double deep) noexcept
    float ACT_DEEP_DOWN_F
    double ACT_DEEP_DOWN_D
    float act_exp_hilo_f(float x, float lo) noexcept
    double act_exp_hilo_d(double x, double lo) noexcept
    float act_exp_normal_f(float x) noexcept
    double act_exp_normal_d(double x) noexcept
    float act_exp_normal_hilo_f(float x, float lo) noexcept
    double act_exp_normal_hilo_d(double x, double lo) noexcept
    float act_exp_normal_neg_f(float x) noexcept
    double act_exp_normal_neg_d(double x) noexcept
    float act_exp_deep_up_f(float x, float lo) noexcept
    double act_exp_deep_up_d(double x, double lo) noexcept
    float act_exp_deep_up2_f(float x, float lo) noexcept
    double act_exp_deep_up2_d(double x, double lo) noexcept
    float ACT_DEEP_UP2_DOWN_F
    double ACT_DEEP_UP2_DOWN_D
    float ACT_EXP_NORMAL_MIN_F
    double ACT_EXP_NORMAL_MIN_D
    float ACT_EXP_ZERO_BELOW_F
    double ACT_EXP_ZERO_BELOW_D
    float act_scale_down_f(float v) noexcept
    double act_scale_down_d(double v) noexcept
    float act_scale_down_finite_f(float v) noexcept
    double act_scale_down_finite_d(double v) noexcept
    float act_scale_down_plain_f(float v, int finite) noexcept
    double act_scale_down_plain_d(double v, int finite) noexcept
    float act_scale_down_rn_f(float p, float e) noexcept
    float act_select_ge_f(float v, float bound, float a, float b) noexcept
    double act_select_ge_d(double v, double bound, double a, double b) noexcept
    float act_select_gt_f(float v, float bound, float a, float b) noexcept
    double act_select_gt_d(double v, double bound, double a, double b) noexcept
    double act_scale_down_rn_d(double p, double e) noexcept
    double act_mul_exp_wide_d(double x, double y, double c, double z) noexcept
    float act_scale_up_f(float v) noexcept
    float act_guard_small_f(float v, float below, float stand_in) noexcept
    double act_guard_small_d(double v, double below, double stand_in) noexcept
    double act_scale_up_d(double v) noexcept
    float act_two_sum_err_f(float a, float b, float s) noexcept
    double act_two_sum_err_d(double a, double b, double s) noexcept
    float act_two_prod_err_f(float a, float b, float p) noexcept
    double act_two_prod_err_d(double a, double b, double p) noexcept
    float act_range_f(const float* x, Py_ssize_t n, float flip, float* lo) noexcept
    double act_range_d(const double* x, Py_ssize_t n, double flip, double* lo) noexcept
    float act_expm1_f(float x) noexcept
    double act_expm1_d(double x) noexcept
    float act_expm1_nonpos_f(float x) noexcept
    double act_expm1_nonpos_d(double x) noexcept
    float act_one_minus_exp_neg2_f(float a) noexcept
    double act_one_minus_exp_neg2_d(double a) noexcept
    float act_two_exp_2y_f(float y) noexcept
    double act_two_exp_2y_d(double y) noexcept
    float act_neg_abs_f(float x) noexcept
    double act_neg_abs_d(double x) noexcept
    float act_fma_f(float a, float b, float c) noexcept
    double act_fma_d(double a, double b, double c) noexcept
    float act_log1p_unit_f(float e) noexcept
    double act_log1p_unit_d(double e) noexcept
    float act_log1p_f(float x) noexcept
    double act_log1p_d(double x) noexcept
    float act_fabs_f(float x) noexcept
    double act_fabs_d(double x) noexcept
    float act_copysign_f(float mag, float sgn) noexcept
    double act_copysign_d(double mag, double sgn) noexcept
    float act_tiny_mul_f(double cp, double cn, float x) noexcept
    float act_tiny_mul_ff(float cp, float cn, float x) noexcept
    double act_tiny_mul_d(double cp, double cn, double x) noexcept
    float act_small_mul_f(float g, float y) noexcept
    double act_small_mul_d(double g, double y) noexcept
    float act_tiny_slope_f(float c, float x) noexcept
    double act_tiny_slope_d(double c, double x) noexcept
    bint act_is_tiny_f(float x) noexcept
    double act_tiny_to_d_f(float x) noexcept
    float act_round_to_f_d(double r) noexcept
    bint act_is_tiny_d(double x) noexcept
    bint act_is_zero_f(float x) noexcept
    bint act_is_zero_d(double x) noexcept
    float act_grad_above_f(float g, float x, float a) noexcept
    double act_grad_above_d(double g, double x, double a) noexcept
    float act_hswish_tiny_f(float x) noexcept
    double act_hswish_tiny_d(double x) noexcept
    float act_mish_tiny_f(float x) noexcept
    double act_mish_tiny_d(double x) noexcept
    float ACT_INF_F
    double ACT_INF_D
    float ACT_NAN_F
    double ACT_NAN_D


cdef inline floating vexp(floating x) noexcept nogil:
    if floating is float:
        return act_exp_f(x)
    else:
        return act_exp_d(x)


cdef inline floating vexp_hilo(floating x, floating lo) noexcept nogil:
    """exp(x + lo) for a tiny correction lo, e.g. the rounding error of forming x."""
    if floating is float:
        return act_exp_hilo_f(x, lo)
    else:
        return act_exp_hilo_d(x, lo)


cdef inline floating vexp_normal(floating x) noexcept nogil:
    """exp(x) for -87 <= x <= 88 (float32) / -708 <= x <= 709 (float64), or NaN: vexp's
    value there, bit for bit, in about half its instructions.  Below the range the
    result is exp(-87) / exp(-708), not exp(x) (see _vmath.h); above it a scale out of
    range (no subnormal operand): the callers select another value there."""
    if floating is float:
        return act_exp_normal_f(x)
    else:
        return act_exp_normal_d(x)


cdef inline floating vexp_normal_neg(floating x) noexcept nogil:
    """vexp_normal(-x), its clamp as an integer min on x's bits (one instruction where
    the clamp is two), except at a +NaN x: exp(-87) / exp(-708) there (see _vmath.h),
    for callers whose result carries x's NaN by itself.  float64 without 64-bit integer
    compares (the baseline level): vexp_normal(-x)."""
    if floating is float:
        return act_exp_normal_neg_f(x)
    elif ACT_VEC_U64_COMPARE:
        return act_exp_normal_neg_d(x)
    else:
        return act_exp_normal_d(-x)


cdef inline floating vexp_normal_min(floating like) noexcept nogil:
    """The least argument of vexp_normal's range: -87 (float32) / -708 (float64)."""
    if floating is float:
        return ACT_EXP_NORMAL_MIN_F
    else:
        return ACT_EXP_NORMAL_MIN_D


cdef inline floating vexp_zero_below(floating like) noexcept nogil:
    """The bound below which vexp is an exact +0 (-inf too): -104 (float32) / -746
    (float64)."""
    if floating is float:
        return ACT_EXP_ZERO_BELOW_F
    else:
        return ACT_EXP_ZERO_BELOW_D


cdef inline floating vexp_normal_hilo(floating x, floating lo) noexcept nogil:
    """vexp_normal(x + lo) for a tiny correction lo (as vexp_hilo)."""
    if floating is float:
        return act_exp_normal_hilo_f(x, lo)
    else:
        return act_exp_normal_hilo_d(x, lo)


cdef inline floating vexp_scaled_up(floating x, floating lo) noexcept nogil:
    """exp(x + lo) * SCALE_UP with SCALE_UP = 2**64 (float32) / 2**512 (float64): keeps
    results that would be denormal normal; multiply by scale_down() last."""
    if floating is float:
        return act_exp_scaled_f(x, lo, 64)
    else:
        return act_exp_scaled_d(x, lo, 512)


cdef inline floating vexp_deep_up(floating x, floating lo) noexcept nogil:
    """vexp_scaled_up(x, lo) bit for bit for x <= -1 (-inf too; not NaN) and a tiny lo:
    the deep-negative blocks' exp, with one clamp and one variable scale factor (_vmath.h
    act_exp_deep_up)."""
    if floating is float:
        return act_exp_deep_up_f(x, lo)
    else:
        return act_exp_deep_up_d(x, lo)


cdef inline floating vexp_deep_up2(floating x, floating lo) noexcept nogil:
    """vexp_deep_up(x, lo) * 2**64 / 2**512, normal (_vmath.h act_exp_deep_up2): for a
    form that scales by 2**-128 / 2**-1024 last."""
    if floating is float:
        return act_exp_deep_up2_f(x, lo)
    else:
        return act_exp_deep_up2_d(x, lo)


cdef inline floating times_deep_up2_down(floating v) noexcept nogil:
    """v * 2**-128 / 2**-1024 rounded once, by one FMA (vexp_deep_up2's scale undone last;
    where the level has FMA: the baseline's v * c + -0 is two roundings)."""
    cdef floating zero = 0
    if floating is float:
        return vfma(v, ACT_DEEP_UP2_DOWN_F, -zero)
    else:
        return vfma(v, ACT_DEEP_UP2_DOWN_D, -zero)


cdef inline floating vexp_scaled_up_deep(floating x, floating lo, floating deep) noexcept nogil:
    """vexp_scaled_up(x, lo), or where deep != 0 that times 2**90 / 2**570 more (_vmath.h
    act_exp_scaled_up_deep): a deep lane's factor is scaled by deep_down() instead."""
    if floating is float:
        return act_exp_scaled_up_deep_f(x, lo, deep)
    else:
        return act_exp_scaled_up_deep_d(x, lo, deep)


cdef inline floating deep_down(floating like) noexcept nogil:
    """2**-90 / 2**-570: vexp_scaled_up_deep's extra scaling, undone on the factor."""
    if floating is float:
        return ACT_DEEP_DOWN_F
    else:
        return ACT_DEEP_DOWN_D


cdef inline floating scale_down(floating like) noexcept nogil:
    """1 / SCALE_UP of vexp_scaled_up (exact power of two)."""
    if floating is float:
        return <float>5.421010862427522e-20       # 2**-64
    else:
        return <double>7.458340731200207e-155     # 2**-512


cdef inline floating times_scale_down(floating v) noexcept nogil:
    """v * scale_down() bit for bit, rounded once where subnormal, by integer operations:
    no subnormal arithmetic (_vmath.h, "results in the subnormal range")."""
    if floating is float:
        return act_scale_down_f(v)
    else:
        return act_scale_down_d(v)


cdef inline floating times_scale_down_finite(floating v) noexcept nogil:
    """times_scale_down(v) for a finite v (or NaN whose lane is discarded), without the
    select that keeps infinities."""
    if floating is float:
        return act_scale_down_finite_f(v)
    else:
        return act_scale_down_finite_d(v)


cdef inline floating times_scale_down_plain(floating v, bint finite) noexcept nogil:
    """times_scale_down(v) (times_scale_down_finite where finite, a constant) bit for bit,
    by one FMA where the level has one: for cores whose subnormal arithmetic is not slow
    (subnormal_detours off; _vmath.h act_scale_down_plain)."""
    if floating is float:
        return act_scale_down_plain_f(v, finite)
    else:
        return act_scale_down_plain_d(v, finite)


cdef inline floating select_ge(floating v, floating bound, floating a, floating b) noexcept nogil:
    """a where v >= bound, else b, as a bit select: both computed in every lane (GCC
    predicates a `?:` arm's own work with its condition, undoing guards; _vmath.h)."""
    if floating is float:
        return act_select_ge_f(v, bound, a, b)
    else:
        return act_select_ge_d(v, bound, a, b)


cdef inline floating select_gt(floating v, floating bound, floating a, floating b) noexcept nogil:
    """a where v > bound, else b, as select_ge."""
    if floating is float:
        return act_select_gt_f(v, bound, a, b)
    else:
        return act_select_gt_d(v, bound, a, b)


cdef inline floating times_scale_down_rn(floating p, floating e) noexcept nogil:
    """(p + e) * scale_down() rounded once, for a product p and its exact residual e, by
    integer operations (_vmath.h act_scale_down_rn)."""
    if floating is float:
        return act_scale_down_rn_f(p, e)
    else:
        return act_scale_down_rn_d(p, e)


cdef inline floating times_scale_up(floating v) noexcept nogil:
    """v / scale_down() exactly, also for a subnormal v, without subnormal arithmetic."""
    if floating is float:
        return act_scale_up_f(v)
    else:
        return act_scale_up_d(v)


cdef inline floating guard_small(floating v, floating below, floating stand_in) noexcept nogil:
    """v, or where |v| < below a normal stand-in (v's significand, stand_in's exponent) for
    lanes a formula discards: no slow arithmetic on them (_vmath.h act_guard_small)."""
    if floating is float:
        return act_guard_small_f(v, below, stand_in)
    else:
        return act_guard_small_d(v, below, stand_in)


cdef inline floating two_sum_err(floating a, floating b, floating s) noexcept nogil:
    """The exact error of s = a + b (s as rounded): a + b = s + err."""
    if floating is float:
        return act_two_sum_err_f(a, b, s)
    else:
        return act_two_sum_err_d(a, b, s)


cdef inline floating two_prod_err(floating a, floating b, floating p) noexcept nogil:
    """The exact error of p = a * b (p as rounded), barring over/underflow."""
    if floating is float:
        return act_two_prod_err_f(a, b, p)
    else:
        return act_two_prod_err_d(a, b, p)


cdef inline floating exact_error(floating lo) noexcept nogil:
    """A two_sum/two_prod error term, or 0 where the operands were inf/NaN."""
    cdef floating zero = 0
    return lo if lo - lo == 0 else zero


cdef inline floating vexpm1(floating x) noexcept nogil:
    if floating is float:
        return act_expm1_f(x)
    else:
        return act_expm1_d(x)


cdef inline floating vexpm1_nonpos(floating x) noexcept nogil:
    """expm1(min(x, 0)): cheaper than vexpm1 where only x <= 0 matters."""
    if floating is float:
        return act_expm1_nonpos_f(x)
    else:
        return act_expm1_nonpos_d(x)


cdef inline floating one_minus_exp_neg2(floating a) noexcept nogil:
    """1 - exp(-2a) = -expm1(-2a) for a >= 0 (or NaN): >= 0, +0 at a = 0."""
    if floating is float:
        return act_one_minus_exp_neg2_f(a)
    else:
        return act_one_minus_exp_neg2_d(a)


cdef inline floating two_exp_2y(floating y) noexcept nogil:
    """2 exp(2y) for y <= 0, y clamped below at -43 / -354; NaN gives a finite value
    (_vmath.h)."""
    if floating is float:
        return act_two_exp_2y_f(y)
    else:
        return act_two_exp_2y_d(y)


cdef inline floating vneg_abs(floating x) noexcept nogil:
    """-|x| (NaN keeps its payload, sign set)."""
    if floating is float:
        return act_neg_abs_f(x)
    else:
        return act_neg_abs_d(x)


cdef inline floating vlog1p(floating x) noexcept nogil:
    if floating is float:
        return act_log1p_f(x)
    else:
        return act_log1p_d(x)


cdef inline floating vfma(floating a, floating b, floating c) noexcept nogil:
    """a*b + c, fused (one rounding) where the compiled SIMD level has FMA."""
    if floating is float:
        return act_fma_f(a, b, c)
    else:
        return act_fma_d(a, b, c)


cdef inline floating vmul_once(floating a, floating b) noexcept nogil:
    """a * b, as fma(a, b, -0) where the compiled level has FMA: the same one rounding
    and sign (adding -0 changes no sum, nor a zero product's sign).  On Zen 5 a multiply
    whose result is subnormal or rounds to 0 costs 3x an ordinary one, an FMA does not
    (docs/performance-notes.md "Subnormal operands on Zen 5"); a plain multiply at the
    baseline level."""
    cdef floating zero = 0
    if ACT_HAVE_FMA:
        return vfma(a, b, -zero)
    return a * b


cdef inline floating vlog1p_unit(floating e) noexcept nogil:
    """log1p(e) for 0 <= e <= 1 (cheaper than vlog1p)."""
    if floating is float:
        return act_log1p_unit_f(e)
    else:
        return act_log1p_unit_d(e)


cdef inline floating vfabs(floating x) noexcept nogil:
    if floating is float:
        return act_fabs_f(x)
    else:
        return act_fabs_d(x)


cdef inline floating vcopysign(floating mag, floating sgn) noexcept nogil:
    """copysign for a non-negative ``mag`` (bit operations only)."""
    if floating is float:
        return act_copysign_f(mag, sgn)
    else:
        return act_copysign_d(mag, sgn)


cdef inline floating vinf(floating like) noexcept nogil:
    if floating is float:
        return ACT_INF_F
    else:
        return ACT_INF_D


cdef inline floating vrange_run(const floating* x, Py_ssize_t n, floating flip,
                                floating* lo) noexcept nogil:
    """max(flip * x[i]) over a contiguous run, and min(flip * x[i]) in lo (flip = +-1;
    -inf and +inf when n == 0; NaNs may be dropped: _vmath.h)."""
    if floating is float:
        return act_range_f(x, n, flip, lo)
    else:
        return act_range_d(x, n, flip, lo)



cdef inline floating vtiny_mul(double cp, double cn, floating x) noexcept nogil:
    """cp * x (x >= +0) or cn * x (x < 0 or -0) rounded once, for |x| below the smallest
    normal, without subnormal arithmetic (_vmath.h, "tiny inputs"); slopes of the dtype
    (float32: cp and cn must be float32 values)."""
    if floating is float:
        return act_tiny_mul_ff(<float>cp, <float>cn, x)
    else:
        return act_tiny_mul_d(cp, cn, x)


cdef inline floating vtiny_mul_by(floating c, floating x) noexcept nogil:
    """c * x rounded once for a per-element c (zero or 2^-64 <= |c| <= 2^64) and |x|
    below the smallest normal, without subnormal arithmetic (vtiny_mul's method)."""
    if floating is float:
        return act_tiny_mul_ff(c, c, x)
    else:
        return act_tiny_mul_d(c, c, x)


cdef inline floating vsmall_mul(floating g, floating y) noexcept nogil:
    """g * y rounded once for |y| < 2^-60 (2^-500), subnormal or not, and finite
    |g| < 2^32 (2^400), without subnormal arithmetic (_vmath.h act_small_mul)."""
    if floating is float:
        return act_small_mul_f(g, y)
    else:
        return act_small_mul_d(g, y)


cdef inline floating vtiny_slope(floating c, floating x) noexcept nogil:
    """x for x >= +0, c * x for x < 0 or -0 rounded once, for |x| below the smallest
    normal and a slope c with its sign bit clear, c <= 1 (_vmath.h act_tiny_slope_f):
    vtiny_mul(1, c, x) without its per-lane choices."""
    if floating is float:
        return act_tiny_slope_f(c, x)
    else:
        return act_tiny_slope_d(c, x)


cdef inline floating vhard_swish_tiny(floating x) noexcept nogil:
    """hard_swish(x) for |x| below the smallest normal (_vmath.h)."""
    if floating is float:
        return act_hswish_tiny_f(x)
    else:
        return act_hswish_tiny_d(x)


cdef inline floating vmish_tiny(floating x) noexcept nogil:
    """mish(x) for |x| below the smallest normal (_vmath.h)."""
    if floating is float:
        return act_mish_tiny_f(x)
    else:
        return act_mish_tiny_d(x)


cdef inline floating vtiny_mul_wide(double cp, double cn, floating x) noexcept nogil:
    """vtiny_mul for float32 x with float64 slopes (computed in double: half the lanes)."""
    if floating is float:
        return act_tiny_mul_f(cp, cn, x)
    else:
        return act_tiny_mul_d(cp, cn, x)


cdef inline bint vis_tiny(floating x) noexcept nogil:
    """|x| below the smallest normal (subnormal or +-0; not NaN), from the bits."""
    if floating is float:
        return act_is_tiny_f(x)
    else:
        return act_is_tiny_d(x)


cdef inline floating vgrad_above(floating g, floating x, floating a) noexcept nogil:
    """g where x > a, +0 where x <= a, x where x is NaN: by integer arithmetic alone
    (_vmath.h act_grad_above_f: no load of g under a mask from x)."""
    if floating is float:
        return act_grad_above_f(g, x, a)
    else:
        return act_grad_above_d(g, x, a)


cdef inline bint vis_zero(floating x) noexcept nogil:
    """x == +-0, from the bits."""
    if floating is float:
        return act_is_zero_f(x)
    else:
        return act_is_zero_d(x)
