# RReLU in training mode: per-element random slopes from a counter-based generator.
# Included by _kernels.pyx.
#
# The slope of element i (flat C order) is a_i = lower + (upper - lower) * u_i with
# u_i = the top 52 bits of SplitMix64(seed, i) / 2**52: Steele, Lea & Flood 2014, "Fast
# splittable pseudorandom number generators", the generator's (i+1)-th output from
# state `seed`.  It depends on (seed, i) only, so the result never depends on the
# thread split, and the backward regenerates the same slopes (no noise buffer).
# Conventions as PyTorch's rrelu_with_noise: y = x if x > 0 else a_i*x; dy/dx = 1 if
# x > 0 else a_i; NaN stays NaN.

from libc.stdint cimport uint64_t

cdef extern from "_vmath.h" nogil:
    double act_asdouble_u(uint64_t u) noexcept

cdef inline double rrelu_uniform(uint64_t seed, uint64_t i) noexcept nogil:
    cdef uint64_t z = seed + (i + 1) * <uint64_t>0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
    z = z ^ (z >> 31)
    # the top 52 bits as the mantissa of a double in [1, 2), minus 1: u in [0, 1) with
    # 52 random bits, by bit operations that vectorize at every SIMD level
    return act_asdouble_u(<uint64_t>0x3FF0000000000000ULL | (z >> 12)) - 1.0


cdef void rrelu_training_range(int direction, const floating* in1, const floating* in2,
                               floating* out, Py_ssize_t start, Py_ssize_t stop,
                               double lower, double upper, uint64_t seed) noexcept nogil:
    """Elements start..stop (flat indices) of rrelu training forward (in1 = x) or
    backward (in1 = grad, in2 = x)."""
    cdef Py_ssize_t i
    cdef floating a, x
    cdef double width = upper - lower
    if direction == FORWARD:
        for i in range(start, stop):
            a = <floating>(lower + width * rrelu_uniform(seed, <uint64_t>i))
            x = in1[i]
            out[i] = x if x > 0 else slope_times(x, a)
    else:
        for i in range(start, stop):
            a = <floating>(lower + width * rrelu_uniform(seed, <uint64_t>i))
            x = in2[i]
            out[i] = nan_if_nan(x, in1[i] if x > 0 else a * in1[i])
