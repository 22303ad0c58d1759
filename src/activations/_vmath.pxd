# Cython view of _vmath.h: the shared, vectorizable elementary functions, with fused
# float/double wrappers so that formulas are written once for both dtypes.
# `if floating is float` is resolved at compile time: no branch is left in the C.

from cython cimport floating

cdef extern from "_vmath.h" nogil:
    float act_exp_f(float x) noexcept
    double act_exp_d(double x) noexcept
    float act_expm1_f(float x) noexcept
    double act_expm1_d(double x) noexcept
    float act_log1p_f(float x) noexcept
    double act_log1p_d(double x) noexcept
    float act_fabs_f(float x) noexcept
    double act_fabs_d(double x) noexcept
    float act_copysign_f(float mag, float sgn) noexcept
    double act_copysign_d(double mag, double sgn) noexcept
    float ACT_INF_F
    double ACT_INF_D
    float ACT_NAN_F
    double ACT_NAN_D


cdef inline floating vexp(floating x) noexcept nogil:
    if floating is float:
        return act_exp_f(x)
    else:
        return act_exp_d(x)


cdef inline floating vexpm1(floating x) noexcept nogil:
    if floating is float:
        return act_expm1_f(x)
    else:
        return act_expm1_d(x)


cdef inline floating vlog1p(floating x) noexcept nogil:
    if floating is float:
        return act_log1p_f(x)
    else:
        return act_log1p_d(x)


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
