"""Long-double building blocks of the references (``references.py``).

Every function takes ``np.longdouble`` arrays (80-bit extended on x86-64, 64-bit
mantissa) and long-double parameters, and is exact to well below a float64 ULP: each is
written in a numerically stable form (no cancellation, no overflow of an intermediate).
``nanpass(x, v)`` keeps NaN inputs NaN where a `where` would otherwise drop them.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

LD = np.longdouble

SQRT_PI = LD("1.7724538509055160272981674833411451828")
SQRT_2 = LD("1.4142135623730950488016887242096980786")
SQRT_2PI = LD("2.5066282746310005024157652848110453")
SQRT_2_OVER_PI = LD("0.79788456080286535587989211986876373")
#: the cubic coefficient of gelu's tanh form (PyTorch's, as a decimal)
GELU_TANH_C = LD("0.044715")
SELU_SCALE = LD("1.0507009873554804934193349852946")
SELU_ALPHA = LD("1.6732632423543772848170429916717")


def nanpass(x, value):
    return np.where(np.isnan(x), x, value)


def sigmoid(z):
    """1 / (1 + exp(-z)) without cancellation or overflow on either side."""
    e = np.exp(-np.abs(z))
    return nanpass(z, np.where(z >= 0, 1 / (1 + e), e / (1 + e)))


def sigmoid_prime(z):
    e = np.exp(-np.abs(z))
    return e / ((1 + e) * (1 + e))


def softplus0(z):
    """log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def clip(x, lo, hi):
    return nanpass(x, np.minimum(np.maximum(x, lo), hi))


def where_inf(x, pos, neg, other):
    """`other`, but `pos` at x = +inf and `neg` at x = -inf (limits a formula misses)."""
    return np.where(np.isposinf(x), pos, np.where(np.isneginf(x), neg, other))


def step(cond, x, one=1):
    """`one` where cond, 0 elsewhere, NaN where x is NaN (the derivative of a kink)."""
    return nanpass(x, np.where(cond, one, 0))


def tanhshrink(x):
    # x - tanh(x) cancels near 0: there the Taylor series of tanh, whose first
    # omitted term is below 1e-17 relative for |x| < 0.1 (A. & S. 4.5.64).
    coef = [1 / 3, -2 / 15, 17 / 315, -62 / 2835, 1382 / 155925, -21844 / 6081075,
            929569 / 638512875]
    x2 = x * x
    series = np.zeros_like(x)
    for c in reversed(coef):
        series = series * x2 + LD(c)
    series = series * x2 * x
    return np.where(np.abs(x) < 0.1, series, x - np.tanh(x))


def exp_half_square(x):
    """exp(-x*x/2) without rounding x*x: x = hi + lo with hi of 24 bits, so that
    hi*hi and hi*lo are exact in long double (x holds a float64 value)."""
    x = np.where(np.abs(x) < 200, x, 200)  # exp(-20000) is 0 even in long double
    hi = x.astype(np.float32).astype(LD)
    lo = x - hi
    return np.exp(-(hi * hi) / 2) * np.exp(-(hi * lo + lo * lo / 2))


#: normal_tail's results by input bytes: the self-check asks for the same inputs at
#: every SIMD level and in several rows (gelu, geglu, both directions)
_TAIL_MEMO: Dict[bytes, np.ndarray] = {}


def normal_tail(t):
    """Q(t) = P(N(0,1) > t) = erfc(t / sqrt 2) / 2 for t >= 0, in long double.

    NumPy has no erfc: z = t/sqrt 2 < 1 uses erf's series of positive terms,
    2/sqrt(pi) e^(-z^2) sum z (2 z^2)^n / (2n+1)!!, then 1 - erf (loses < 3 of 64
    bits); 1 <= z < 40 the continued fraction e^(-z^2)/sqrt(pi) / (z + (1/2)/(z +
    1/(z + (3/2)/(z + ...)))), evaluated backwards (400 terms below z = 4, 80 above);
    z >= 40: 0 (below 1e-697, so x * Q(x) rounds to 0 in float64).  Checked against
    mpmath at 40 digits on [0, 40]: relative error < 0.01 float64 ulp."""
    key = t.tobytes()
    if key in _TAIL_MEMO:
        return _TAIL_MEMO[key]
    z = t / SQRT_2
    q = np.zeros_like(z)
    small = z < 1
    zs = z[small]
    term, total = zs.copy(), zs.copy()
    for n in range(60):
        term = term * 2 * zs * zs / (2 * n + 3)
        total = total + term
    q[small] = (1 - 2 / SQRT_PI * exp_half_square(t[small]) * total) / 2
    for lo, hi, terms in ((1, 4, 400), (4, 40, 80)):
        band = (z >= lo) & (z < hi)
        zl = z[band]
        frac = zl.copy()
        for k in range(terms, 0, -1):
            frac = zl + LD(k) / 2 / frac
        q[band] = exp_half_square(t[band]) / SQRT_PI / frac / 2
    q[np.isnan(z)] = np.nan
    _TAIL_MEMO[key] = q
    return q


def normal_cdf(x):
    """Phi(x), the standard normal CDF."""
    q = normal_tail(np.abs(x))
    return nanpass(x, np.where(x < 0, q, 1 - q))


def _gelu_tanh_u(x):
    """u and du/dx of the tanh form: u = sqrt(2/pi) (x + c x^3)."""
    u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x)
    du = SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_C * x * x)
    return u, du


def gelu(x, approximate="none"):
    if approximate == "tanh":
        u, _ = _gelu_tanh_u(x)
        val = x * sigmoid(2 * u)  # 0.5 * (1 + tanh(u)) = sigmoid(2u)
    else:
        val = x * normal_cdf(x)
    return where_inf(x, np.inf, 0, val)


def gelu_prime(x, approximate="none"):
    if approximate == "tanh":
        u, du = _gelu_tanh_u(x)
        val = sigmoid(2 * u) + x * 2 * du * sigmoid_prime(2 * u)
    else:
        val = normal_cdf(x) + x * exp_half_square(x) / SQRT_2PI
    return where_inf(x, 1, 0, val)


def gelu_terms(x, approximate="none"):
    """Magnitudes of the two terms of gelu'(x) (Phi(x) and x phi(x), or the tanh form's)."""
    if approximate == "tanh":
        u, du = _gelu_tanh_u(x)
        return np.fmax(sigmoid(2 * u), np.abs(x * 2 * du * sigmoid_prime(2 * u)))
    return np.fmax(normal_cdf(x), np.abs(x * exp_half_square(x) / SQRT_2PI))


def swish(x, beta=1):
    return where_inf(x * beta, np.inf * np.sign(beta), 0, x * sigmoid(x * beta))


def swish_prime(x, beta=1):
    return where_inf(x * beta, 1, 0, sigmoid(x * beta) * (1 + x * beta * sigmoid(-x * beta)))


def swish_terms(x, beta=1):
    s = sigmoid(x * beta)
    return np.fmax(s, np.abs(s * x * beta * sigmoid(-x * beta)))


def mish(x):
    return where_inf(x, np.inf, 0, x * np.tanh(softplus0(x)))


def mish_prime(x):
    sp = softplus0(x)
    sech2 = 1 / np.cosh(sp) ** 2
    return where_inf(x, 1, 0, np.tanh(sp) + x * sech2 * sigmoid(x))


def mish_terms(x):
    sp = softplus0(x)
    return np.fmax(np.abs(np.tanh(sp)), np.abs(x / np.cosh(sp) ** 2 * sigmoid(x)))
