"""Independent reference values for the activation tests.

Nothing here imports ``activations``: every formula is written from its mathematical
definition (docs/api.md), in two forms:

* ``*_mp``: scalar mpmath at ``MP_DPS`` digits, used for float64 arrays, where the
  result must be known to better than a float64 ulp;
* ``*_np``: NumPy float64 over whole arrays, used for float32 arrays (a float64
  value is ~2**-29 float32-ulp away from the truth, far below any bound we state).
  These use *other* formulas than the implementation where that matters
  (``1 / (4 cosh(x/2)**2)`` for sigmoid', ``logaddexp`` for softplus, ...).

Conventions that mathematics leaves open follow PyTorch (docs/api.md): one-sided
derivatives at kinks (relu'(0) = 0, leaky_relu'(0) = negative_slope, elu'(0) = alpha,
hard_swish'(-3) = 0, hard_swish'(3) = 1) and softplus' pass-through ``x`` where
``beta * x > threshold`` (the product and the comparison taken in the array's dtype,
as PyTorch evaluates it), with derivative 1 there.

Parameters are rounded to the array's dtype before use (docs/api.md), so ``effective``
returns the dtype-rounded values a reference must use; SELU's constants are not
parameters and are used exactly (to the 32 digits docs/api.md gives).

Every derivative also comes with ``scale``: the magnitude of the terms that make it
up.  Near a root of the derivative (swish' at x ~ -1.2785, hard_swish' at -1.5) the
value is a small difference of O(1) terms, so no implementation has a bounded
*relative* error there; tests allow ``k * ulp(max(|ref|, scale))`` instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import mpmath
import numpy as np

MP_DPS = 40
mp = mpmath.mp.clone() if hasattr(mpmath.mp, "clone") else mpmath.mp
mp.dps = MP_DPS

SELU_SCALE = mp.mpf("1.0507009873554804934193349852946")
SELU_ALPHA = mp.mpf("1.6732632423543772848170429916717")
SELU_SCALE_64 = 1.0507009873554804934193349852946
SELU_ALPHA_64 = 1.6732632423543772848170429916717

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
DTYPES = (F32, F64)


def rounded(value: float, dtype) -> float:
    """``value`` rounded to ``dtype`` (as the package converts Python scalars), as a float."""
    return float(np.dtype(dtype).type(value))


# --------------------------------------------------------------------- mp helpers

def _mp_sigmoid(z):
    if mpmath.isinf(z):
        return mp.mpf(1) if z > 0 else mp.mpf(0)
    return 1 / (1 + mp.exp(-z))


def _mp_softplus_raw(z):
    # log(1 + e^z) without forming e^z for large z
    if z > 0:
        return z + mp.log1p(mp.exp(-z))
    return mp.log1p(mp.exp(z))


def _np_sigmoid(z):
    # exp(-log(1 + e^-z)): no overflow, relative error ~1e-16 * |log term|
    return np.exp(-np.logaddexp(0.0, -z))


# --------------------------------------------------------------------- the table

@dataclass(frozen=True)
class Reference:
    """One activation's reference: formulas of ``(x, p)`` where ``p = effective(...)``."""

    name: str
    forward_mp: Callable
    derivative_mp: Callable
    forward_np: Callable
    derivative_np: Callable
    #: derivative_scale_np(x, p): magnitude of the terms of f'(x) (>= |f'(x)|)
    derivative_scale_np: Optional[Callable] = None
    derivative_scale_mp: Optional[Callable] = None
    #: f'(x) as a function of y = f(x), and d f'/dy (its conditioning), where "y" is taken
    from_y_mp: Optional[Callable] = None
    from_y_np: Optional[Callable] = None
    from_y_slope_np: Optional[Callable] = None
    #: magnitude of the terms of from_y (selu's y + scale*alpha near y = -scale*alpha
    #: is a difference of O(1) terms, one of them a constant rounded to the dtype)
    from_y_scale_np: Optional[Callable] = None
    #: user parameter dicts to test (the first, {}, means the defaults)
    param_sets: Tuple[Dict[str, float], ...] = ({},)
    defaults: Dict[str, float] = field(default_factory=dict)
    #: user params -> dict of dtype-rounded values the formulas use
    effective: Callable = None
    #: points where f' jumps or has a kink (finite differences avoid them)
    kinks: Callable = lambda p: ()
    #: f(-x) = -f(x) (also for the sign of zero)
    odd: bool = False
    #: f(x) = x exactly for large positive x (identity tail)
    takes_y: bool = False
    #: a forward input range where the function is smooth and interesting
    core_range: float = 30.0


def _eff(defaults, rounder=None):
    def effective(params, dtype):
        p = dict(defaults)
        p.update(params)
        if rounder is not None:
            p = rounder(p, dtype)
        else:
            p = {k: rounded(v, dtype) for k, v in p.items()}
        p["dtype"] = np.dtype(dtype)
        return p
    return effective


REFERENCES: Dict[str, Reference] = {}


def _add(ref: Reference) -> None:
    REFERENCES[ref.name] = ref


# sigmoid ------------------------------------------------------------------------
_add(Reference(
    "sigmoid",
    forward_mp=lambda x, p: _mp_sigmoid(x),
    derivative_mp=lambda x, p: (mp.mpf(0) if mpmath.isinf(x)
                                else _mp_sigmoid(x) * _mp_sigmoid(-x)),
    forward_np=lambda x, p: np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))),
                                     np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x)))),
    derivative_np=lambda x, p: 0.25 / np.cosh(0.5 * x) ** 2,
    from_y_mp=lambda y, p: y * (1 - y),
    from_y_np=lambda y, p: y * (1.0 - y),
    from_y_slope_np=lambda y, p: 1.0 - 2.0 * y,
    effective=_eff({}), takes_y=True, core_range=40.0,
))

# tanh ---------------------------------------------------------------------------
_add(Reference(
    "tanh",
    forward_mp=lambda x, p: mp.tanh(x),
    derivative_mp=lambda x, p: mp.mpf(0) if mpmath.isinf(x) else 1 / mp.cosh(x) ** 2,
    forward_np=lambda x, p: np.tanh(x),
    derivative_np=lambda x, p: 1.0 / np.cosh(x) ** 2,
    from_y_mp=lambda y, p: 1 - y * y,
    from_y_np=lambda y, p: (1.0 - y) * (1.0 + y),
    from_y_slope_np=lambda y, p: -2.0 * y,
    effective=_eff({}), takes_y=True, odd=True, core_range=20.0,
))

# relu ---------------------------------------------------------------------------
_add(Reference(
    "relu",
    forward_mp=lambda x, p: x if x > 0 else mp.mpf(0),
    derivative_mp=lambda x, p: mp.mpf(1) if x > 0 else mp.mpf(0),
    forward_np=lambda x, p: np.where(x > 0, x, 0.0),
    derivative_np=lambda x, p: np.where(x > 0, 1.0, 0.0),
    from_y_mp=lambda y, p: mp.mpf(1) if y > 0 else mp.mpf(0),
    from_y_np=lambda y, p: np.where(y > 0, 1.0, 0.0),
    from_y_slope_np=lambda y, p: np.zeros_like(y),
    effective=_eff({}), takes_y=True, kinks=lambda p: (0.0,),
))


# leaky_relu / rrelu (training=False) ----------------------------------------------
def _leaky(slope_key):
    return dict(
        forward_mp=lambda x, p: x if x > 0 else p[slope_key] * x,
        derivative_mp=lambda x, p: mp.mpf(1) if x > 0 else mp.mpf(p[slope_key]),
        forward_np=lambda x, p: np.where(x > 0, x, p[slope_key] * x),
        derivative_np=lambda x, p: np.where(x > 0, 1.0, p[slope_key]),
        kinks=lambda p: (0.0,),
    )


_add(Reference(
    "leaky_relu", **_leaky("negative_slope"),
    from_y_mp=lambda y, p: mp.mpf(1) if y > 0 else mp.mpf(p["negative_slope"]),
    from_y_np=lambda y, p: np.where(y > 0, 1.0, p["negative_slope"]),
    from_y_slope_np=lambda y, p: np.zeros_like(y),
    param_sets=({}, {"negative_slope": 0.2}, {"negative_slope": 0.0},
                {"negative_slope": -0.5}, {"negative_slope": 1.7}),
    defaults={"negative_slope": 0.01},
    effective=_eff({"negative_slope": 0.01}), takes_y=True,
))


def _rrelu_effective(params, dtype):
    p = {"lower": 1 / 8, "upper": 1 / 3}
    p.update(params)
    p.pop("training", None)
    # training=False: the fixed slope (lower + upper) / 2 (torch.nn.functional.rrelu),
    # formed from the Python floats and then rounded to the dtype like any parameter.
    slope = (float(p["lower"]) + float(p["upper"])) / 2.0
    return {"slope": rounded(slope, dtype), "dtype": np.dtype(dtype)}


_add(Reference(
    "rrelu", **_leaky("slope"),
    param_sets=({}, {"lower": 0.1, "upper": 0.3}, {"lower": 0.0, "upper": 1.0},
                {"lower": 0.25, "upper": 0.25}),
    defaults={"lower": 1 / 8, "upper": 1 / 3, "training": False, "seed": 0},
    effective=_rrelu_effective,
))


# elu / selu ---------------------------------------------------------------------------
def _elu_forward_mp(x, p):
    return x if x > 0 else p["alpha"] * mp.expm1(x)


def _elu_derivative_mp(x, p):
    if x > 0:
        return mp.mpf(1)
    return mp.mpf(0) if mpmath.isinf(x) else p["alpha"] * mp.exp(x)


_add(Reference(
    "elu",
    forward_mp=_elu_forward_mp,
    derivative_mp=_elu_derivative_mp,
    forward_np=lambda x, p: np.where(x > 0, x, p["alpha"] * np.expm1(np.minimum(x, 0.0))),
    derivative_np=lambda x, p: np.where(x > 0, 1.0, p["alpha"] * np.exp(np.minimum(x, 0.0))),
    from_y_mp=lambda y, p: mp.mpf(1) if y > 0 else y + p["alpha"],
    from_y_np=lambda y, p: np.where(y > 0, 1.0, y + p["alpha"]),
    from_y_slope_np=lambda y, p: np.where(y > 0, 0.0, 1.0),
    param_sets=({}, {"alpha": 0.5}, {"alpha": 2.7}, {"alpha": -1.3}),
    defaults={"alpha": 1.0},
    effective=_eff({"alpha": 1.0}), takes_y=True, kinks=lambda p: (0.0,),
))


def _selu_forward_mp(x, p):
    return SELU_SCALE * x if x > 0 else SELU_SCALE * SELU_ALPHA * mp.expm1(x)


def _selu_derivative_mp(x, p):
    if x > 0:
        return SELU_SCALE
    return mp.mpf(0) if mpmath.isinf(x) else SELU_SCALE * SELU_ALPHA * mp.exp(x)


_SA64 = SELU_SCALE_64 * SELU_ALPHA_64
_add(Reference(
    "selu",
    forward_mp=_selu_forward_mp,
    derivative_mp=_selu_derivative_mp,
    forward_np=lambda x, p: np.where(x > 0, SELU_SCALE_64 * x,
                                     _SA64 * np.expm1(np.minimum(x, 0.0))),
    derivative_np=lambda x, p: np.where(x > 0, SELU_SCALE_64,
                                        _SA64 * np.exp(np.minimum(x, 0.0))),
    from_y_mp=lambda y, p: SELU_SCALE if y > 0 else y + SELU_SCALE * SELU_ALPHA,
    from_y_np=lambda y, p: np.where(y > 0, SELU_SCALE_64, y + _SA64),
    from_y_slope_np=lambda y, p: np.where(y > 0, 0.0, 1.0),
    from_y_scale_np=lambda y, p: np.where(y > 0, SELU_SCALE_64, np.abs(y) + _SA64),
    effective=_eff({}), takes_y=True, kinks=lambda p: (0.0,),
))


# softsign -----------------------------------------------------------------------
def _softsign_mp(x, p):
    if mpmath.isinf(x):
        return mp.mpf(1) if x > 0 else mp.mpf(-1)
    return x / (1 + abs(x))


_add(Reference(
    "softsign",
    forward_mp=_softsign_mp,
    derivative_mp=lambda x, p: mp.mpf(0) if mpmath.isinf(x) else 1 / (1 + abs(x)) ** 2,
    forward_np=lambda x, p: np.where(np.isinf(x), np.sign(x), x / (1.0 + np.abs(x))),
    derivative_np=lambda x, p: 1.0 / (1.0 + np.abs(x)) ** 2,
    from_y_mp=lambda y, p: (1 - abs(y)) ** 2,
    from_y_np=lambda y, p: (1.0 - np.abs(y)) ** 2,
    from_y_slope_np=lambda y, p: -2.0 * np.sign(y) * (1.0 - np.abs(y)),
    effective=_eff({}), takes_y=True, odd=True, core_range=1e3,
))


# softplus -----------------------------------------------------------------------
def _softplus_passes(x, p):
    """PyTorch's ``x * beta > threshold``, evaluated in the array's dtype."""
    t = p["dtype"].type
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(t(np.asarray(x, np.float64) * p["beta"]) > t(p["threshold"]))


def _softplus_forward_mp(x, p):
    if _softplus_passes(float(x), p):
        return x
    return _mp_softplus_raw(x * p["beta"]) / p["beta"]


def _softplus_derivative_mp(x, p):
    if _softplus_passes(float(x), p):
        return mp.mpf(1)
    return _mp_sigmoid(x * p["beta"])


def _softplus_forward_np(x, p):
    z = x * p["beta"]  # exact for float32 x and a float32 beta
    return np.where(_softplus_passes(x, p), x, np.logaddexp(0.0, z) / p["beta"])


def _softplus_derivative_np(x, p):
    return np.where(_softplus_passes(x, p), 1.0, _np_sigmoid(x * p["beta"]))


def _softplus_from_y_mp(y, p):
    # y = x on the pass-through side, so beta * y > threshold there too
    if _softplus_passes(float(y), p):
        return mp.mpf(1)
    return -mp.expm1(-p["beta"] * y)


_add(Reference(
    "softplus",
    forward_mp=_softplus_forward_mp,
    derivative_mp=_softplus_derivative_mp,
    forward_np=_softplus_forward_np,
    derivative_np=_softplus_derivative_np,
    from_y_mp=_softplus_from_y_mp,
    from_y_np=lambda y, p: np.where(_softplus_passes(y, p), 1.0, -np.expm1(-p["beta"] * y)),
    from_y_slope_np=lambda y, p: np.where(_softplus_passes(y, p), 0.0,
                                          p["beta"] * np.exp(-p["beta"] * y)),
    param_sets=({}, {"beta": 2.0}, {"beta": 0.3, "threshold": 5.0},
                {"beta": 3.0, "threshold": 10.0}, {"beta": -1.5}),
    defaults={"beta": 1.0, "threshold": 20.0},
    effective=_eff({"beta": 1.0, "threshold": 20.0}), takes_y=True,
    kinks=lambda p: (p["threshold"] / p["beta"],), core_range=40.0,
))


# swish / silu -------------------------------------------------------------------
def _swish_forward_mp(x, p):
    if mpmath.isinf(x):
        return x if x * p["beta"] > 0 else mp.mpf(0)
    return x * _mp_sigmoid(p["beta"] * x)


def _swish_derivative_mp(x, p):
    b = p["beta"]
    if mpmath.isinf(x):
        return mp.mpf(1) if x * b > 0 else mp.mpf(0)
    s, sc = _mp_sigmoid(b * x), _mp_sigmoid(-b * x)
    return s + b * x * s * sc


def _swish_derivative_np(x, p):
    b = p["beta"]
    s, sc = _np_sigmoid(b * x), _np_sigmoid(-b * x)
    return s + (b * x) * s * sc


def _swish_scale_np(x, p):
    b = p["beta"]
    s, sc = _np_sigmoid(b * x), _np_sigmoid(-b * x)
    return np.abs(s) + np.abs((b * x) * s * sc)


def _swish_scale_mp(x, p):
    b = p["beta"]
    if mpmath.isinf(x):
        return mp.mpf(1)
    s, sc = _mp_sigmoid(b * x), _mp_sigmoid(-b * x)
    return abs(s) + abs(b * x * s * sc)


_add(Reference(
    "swish",
    forward_mp=_swish_forward_mp,
    derivative_mp=_swish_derivative_mp,
    forward_np=lambda x, p: x * _np_sigmoid(p["beta"] * x),
    derivative_np=_swish_derivative_np,
    derivative_scale_np=_swish_scale_np,
    derivative_scale_mp=_swish_scale_mp,
    param_sets=({}, {"beta": 1.702}, {"beta": 0.5}, {"beta": 2.5}),
    defaults={"beta": 1.0},
    effective=_eff({"beta": 1.0}), core_range=40.0,
))


# hard_swish ------------------------------------------------------------------------
def _hswish_forward_mp(x, p):
    if x >= 3:
        return x
    if x <= -3:
        return mp.mpf(0)
    return x * (x + 3) / 6


def _hswish_derivative_mp(x, p):
    if x >= 3:
        return mp.mpf(1)
    if x <= -3:
        return mp.mpf(0)
    return (2 * x + 3) / 6


_add(Reference(
    "hard_swish",
    forward_mp=_hswish_forward_mp,
    derivative_mp=_hswish_derivative_mp,
    forward_np=lambda x, p: np.where(x >= 3, x, np.where(x <= -3, 0.0, x * (x + 3.0) / 6.0)),
    derivative_np=lambda x, p: np.where(x >= 3, 1.0, np.where(x <= -3, 0.0, (2 * x + 3) / 6.0)),
    # (2x + 3) / 6 near x = -1.5: the terms are |2x|/6 and 1/2
    derivative_scale_np=lambda x, p: np.where(np.abs(x) < 3, (2 * np.abs(x) + 3) / 6.0, 1.0),
    derivative_scale_mp=lambda x, p: (2 * abs(x) + 3) / 6 if abs(x) < 3 else mp.mpf(1),
    effective=_eff({}), kinks=lambda p: (-3.0, 3.0), core_range=6.0,
))


# ================================================================ the rest of the family

# relu6 --------------------------------------------------------------------------
_add(Reference(
    "relu6",
    forward_mp=lambda x, p: mp.mpf(0) if x <= 0 else (mp.mpf(6) if x >= 6 else x),
    # relu6'(0) = relu6'(6) = 0 (PyTorch)
    derivative_mp=lambda x, p: mp.mpf(1) if 0 < x < 6 else mp.mpf(0),
    forward_np=lambda x, p: np.clip(x, 0.0, 6.0),
    derivative_np=lambda x, p: np.where((x > 0) & (x < 6), 1.0, 0.0),
    from_y_mp=lambda y, p: mp.mpf(1) if 0 < y < 6 else mp.mpf(0),
    from_y_np=lambda y, p: np.where((y > 0) & (y < 6), 1.0, 0.0),
    from_y_slope_np=lambda y, p: np.zeros_like(y),
    effective=_eff({}), takes_y=True, kinks=lambda p: (0.0, 6.0), core_range=10.0,
))


# hard_sigmoid -------------------------------------------------------------------
def _hsig_forward_mp(x, p):
    if x <= -3:
        return mp.mpf(0)
    if x >= 3:
        return mp.mpf(1)
    return (x + 3) / 6


_add(Reference(
    "hard_sigmoid",
    forward_mp=_hsig_forward_mp,
    # 1/6 strictly inside (-3, 3), 0 at +-3 (PyTorch)
    derivative_mp=lambda x, p: mp.mpf(1) / 6 if -3 < x < 3 else mp.mpf(0),
    forward_np=lambda x, p: np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, (x + 3.0) / 6.0)),
    derivative_np=lambda x, p: np.where((x > -3) & (x < 3), 1.0 / 6.0, 0.0),
    from_y_mp=lambda y, p: mp.mpf(1) / 6 if 0 < y < 1 else mp.mpf(0),
    from_y_np=lambda y, p: np.where((y > 0) & (y < 1), 1.0 / 6.0, 0.0),
    from_y_slope_np=lambda y, p: np.zeros_like(y),
    effective=_eff({}), takes_y=True, kinks=lambda p: (-3.0, 3.0), core_range=6.0,
))


# hard_tanh (min_val, max_val) -----------------------------------------------------
def _inside(v, p):
    return (v > p["min_val"]) & (v < p["max_val"])


_add(Reference(
    "hard_tanh",
    forward_mp=lambda x, p: (mp.mpf(p["min_val"]) if x <= p["min_val"] else
                             mp.mpf(p["max_val"]) if x >= p["max_val"] else x),
    # 0 at both ends (PyTorch)
    derivative_mp=lambda x, p: mp.mpf(1) if _inside(x, p) else mp.mpf(0),
    forward_np=lambda x, p: np.clip(x, p["min_val"], p["max_val"]),
    derivative_np=lambda x, p: np.where(_inside(x, p), 1.0, 0.0),
    from_y_mp=lambda y, p: mp.mpf(1) if _inside(y, p) else mp.mpf(0),
    from_y_np=lambda y, p: np.where(_inside(y, p), 1.0, 0.0),
    from_y_slope_np=lambda y, p: np.zeros_like(y),
    param_sets=({}, {"min_val": -2.5, "max_val": 0.7}, {"min_val": 0.3, "max_val": 0.3},
                {"min_val": -0.1, "max_val": 3.3}),
    defaults={"min_val": -1.0, "max_val": 1.0},
    effective=_eff({"min_val": -1.0, "max_val": 1.0}), takes_y=True,
    kinks=lambda p: (p["min_val"], p["max_val"]), core_range=5.0,
))


# gelu (approximate "none" / "tanh") ------------------------------------------------
#: the tanh form is the exact function of the real constants sqrt(2/pi) and 0.044715
GELU_TANH_C = mp.sqrt(2 / mp.pi)
GELU_TANH_A = mp.mpf("0.044715")
_GELU_TANH_C_64 = float(GELU_TANH_C)   # float32 references only (2**-29 float32 ulp)
_GELU_TANH_A_64 = 0.044715
_INV_SQRT_2PI_64 = float(1 / mp.sqrt(2 * mp.pi))
_erfc_np = np.vectorize(math.erfc, otypes=[np.float64])  # libm erfc: ~1 ulp, full tails


def _gelu_effective(params, dtype):
    p = {"approximate": "none"}
    p.update(params)
    return {"approximate": p["approximate"], "dtype": np.dtype(dtype)}


def _mp_ndtr(x):
    return mp.erfc(-x / mp.sqrt(2)) / 2


def _gelu_tanh_w_mp(x):
    """w = 2 sqrt(2/pi) (x + 0.044715 x^3): the tanh form is x * sigmoid(w)."""
    return 2 * GELU_TANH_C * (x + GELU_TANH_A * x ** 3)


#: beyond |x| = GELU_FAR, Phi(x) is 1 or 0 to ~2000 bits (mpmath's erfc overflows for
#: |x| ~ 1e308): gelu(x) = x / a negative far below any subnormal, gelu' = 1 / -tiny
GELU_FAR = 100.0
GELU_FAR_TINY = mp.mpf("1e-2000")


def _gelu_forward_mp(x, p):
    if abs(x) > GELU_FAR:
        return x if x > 0 else -GELU_FAR_TINY
    if p["approximate"] == "tanh":
        return x * _mp_sigmoid(_gelu_tanh_w_mp(x))
    return x * _mp_ndtr(x)


def _gelu_terms_mp(x, p):
    """The two terms of gelu': (Phi(x), x phi(x)) or, tanh form, (s, x w'(x) s (1 - s))."""
    if p["approximate"] == "tanh":
        w = _gelu_tanh_w_mp(x)
        dw = 2 * GELU_TANH_C * (1 + 3 * GELU_TANH_A * x ** 2)
        return _mp_sigmoid(w), x * dw * _mp_sigmoid(w) * _mp_sigmoid(-w)
    return _mp_ndtr(x), x * mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)


def _gelu_derivative_mp(x, p):
    if abs(x) > GELU_FAR:
        return mp.mpf(1) if x > 0 else -GELU_FAR_TINY
    a, b = _gelu_terms_mp(x, p)
    return a + b


def _gelu_scale_mp(x, p):
    if abs(x) > GELU_FAR:
        return mp.mpf(1) if x > 0 else GELU_FAR_TINY
    a, b = _gelu_terms_mp(x, p)
    return abs(a) + abs(b)


def _gelu_terms_np(x, p):
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if p["approximate"] == "tanh":
            w = 2.0 * _GELU_TANH_C_64 * (x + _GELU_TANH_A_64 * x ** 3)
            dw = 2.0 * _GELU_TANH_C_64 * (1.0 + 3.0 * _GELU_TANH_A_64 * x ** 2)
            s, sc = _np_sigmoid(w), _np_sigmoid(-w)
            b = np.where(s * sc == 0, 0.0, x * dw * s * sc)
            return s, b
        phi = np.exp(-0.5 * x * x) * _INV_SQRT_2PI_64
        return 0.5 * _erfc_np(-x / math.sqrt(2.0)), np.where(phi == 0, 0.0, x * phi)


def _gelu_forward_np(x, p):
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if p["approximate"] == "tanh":
            w = 2.0 * _GELU_TANH_C_64 * (x + _GELU_TANH_A_64 * x ** 3)
            s = _np_sigmoid(w)
        else:
            s = 0.5 * _erfc_np(-x / math.sqrt(2.0))
        return np.where(s == 0, 0.0 * x, x * s)


_add(Reference(
    "gelu",
    forward_mp=_gelu_forward_mp,
    derivative_mp=_gelu_derivative_mp,
    forward_np=_gelu_forward_np,
    derivative_np=lambda x, p: np.add(*_gelu_terms_np(x, p)),
    derivative_scale_np=lambda x, p: np.add(*map(np.abs, _gelu_terms_np(x, p))),
    derivative_scale_mp=_gelu_scale_mp,
    param_sets=({}, {"approximate": "tanh"}),
    defaults={"approximate": "none"},
    effective=_gelu_effective, core_range=8.0,
))


# mish -----------------------------------------------------------------------------
def _mish_forward_mp(x, p):
    if mpmath.isinf(x):
        return x if x > 0 else mp.mpf(0)
    return x * mp.tanh(_mp_softplus_raw(x))


def _mish_terms_mp(x):
    sp = _mp_softplus_raw(x)
    return mp.tanh(sp), x * _mp_sigmoid(x) / mp.cosh(sp) ** 2


def _mish_terms_np(x):
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        sp = np.logaddexp(0.0, x)
        sech2 = 1.0 / np.cosh(sp) ** 2
        b = x * _np_sigmoid(x) * sech2
        return np.tanh(sp), np.where(sech2 == 0, 0.0, b)


_add(Reference(
    "mish",
    forward_mp=_mish_forward_mp,
    derivative_mp=lambda x, p: ((mp.mpf(1) if x > 0 else mp.mpf(0)) if mpmath.isinf(x)
                                else mp.fsum(_mish_terms_mp(x))),
    forward_np=lambda x, p: x * np.tanh(np.logaddexp(0.0, x)),
    derivative_np=lambda x, p: np.add(*_mish_terms_np(x)),
    # mish' has a root near x = -1.19: a difference of O(1) terms there
    derivative_scale_np=lambda x, p: np.add(*map(np.abs, _mish_terms_np(x))),
    derivative_scale_mp=lambda x, p: (mp.mpf(1) if mpmath.isinf(x)
                                      else sum(abs(t) for t in _mish_terms_mp(x))),
    effective=_eff({}), core_range=30.0,
))


# celu (alpha) ---------------------------------------------------------------------
def _celu_derivative_mp(x, p):
    if x > 0:
        return mp.mpf(1)
    return mp.mpf(0) if mpmath.isinf(x) else mp.exp(x / p["alpha"])  # celu'(0) = 1


_add(Reference(
    "celu",
    # x / alpha exact (mpmath): the function of the dtype-rounded alpha
    forward_mp=lambda x, p: x if x > 0 else p["alpha"] * mp.expm1(x / p["alpha"]),
    derivative_mp=_celu_derivative_mp,
    forward_np=lambda x, p: np.where(x > 0, x, p["alpha"] * np.expm1(np.minimum(x, 0.0)
                                                                        / p["alpha"])),
    derivative_np=lambda x, p: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0) / p["alpha"])),
    from_y_mp=lambda y, p: mp.mpf(1) if y > 0 else y / p["alpha"] + 1,
    from_y_np=lambda y, p: np.where(y > 0, 1.0, y / p["alpha"] + 1.0),
    from_y_slope_np=lambda y, p: np.where(y > 0, 0.0, 1.0 / p["alpha"]),
    from_y_scale_np=lambda y, p: np.where(y > 0, 1.0, np.abs(y) / abs(p["alpha"]) + 1.0),
    param_sets=({}, {"alpha": 0.5}, {"alpha": 2.0}, {"alpha": 1.3}),
    defaults={"alpha": 1.0},
    effective=_eff({"alpha": 1.0}), takes_y=True, kinks=lambda p: (0.0,),
))


# log_sigmoid ------------------------------------------------------------------------
_add(Reference(
    "log_sigmoid",
    forward_mp=lambda x, p: (mp.mpf(0) if x == mpmath.inf else
                             x if x == -mpmath.inf else -_mp_softplus_raw(-x)),
    derivative_mp=lambda x, p: _mp_sigmoid(-x),
    forward_np=lambda x, p: -np.logaddexp(0.0, -x),
    derivative_np=lambda x, p: _np_sigmoid(-x),
    from_y_mp=lambda y, p: -mp.expm1(y),
    from_y_np=lambda y, p: -np.expm1(y),
    from_y_slope_np=lambda y, p: -np.exp(y),
    effective=_eff({}), takes_y=True, core_range=40.0,
))


# tanhshrink -------------------------------------------------------------------------
def _tanhshrink_mp(x, p):
    if mpmath.isinf(x):
        return x
    if x == 0:
        return x
    # x - tanh(x) ~ x^3 / 3 cancels: carry 2 log10(1/|x|) extra digits
    extra = max(0, int(-2 * mp.log10(abs(x)))) + 10
    with mp.extradps(extra):
        return +(x - mp.tanh(x))


def _tanhshrink_np(x, p):
    u = x * x
    # x - tanh x = x^3 (1/3 - 2u/15 + 17u^2/315 - 62u^3/2835 + 1382u^4/155925): below
    # |x| = 0.01 the next term is < 1e-20 relative; the direct difference loses
    # 3 eps / x^2 relative, so it is used only above
    series = x * u * (1 / 3 - u * (2 / 15 - u * (17 / 315 - u * (62 / 2835
                                                                 - u * 1382 / 155925))))
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(np.abs(x) < 0.01, series, x - np.tanh(x))


_add(Reference(
    "tanhshrink",
    forward_mp=_tanhshrink_mp,
    derivative_mp=lambda x, p: mp.mpf(1) if mpmath.isinf(x) else mp.tanh(x) ** 2,
    forward_np=_tanhshrink_np,
    derivative_np=lambda x, p: np.tanh(x) ** 2,
    effective=_eff({}), core_range=20.0,
))


# softshrink / hardshrink (lambd) ----------------------------------------------------
def _outside(v, p):
    return (v > p["lambd"]) | (v < -p["lambd"])


# what the two share: the derivative, 1 outside [-lambd, lambd] and 0 on the closed
# interval (PyTorch), the parameter lambd and the kinks at +-lambd
_SHRINK = dict(
    derivative_mp=lambda x, p: mp.mpf(1) if _outside(x, p) else mp.mpf(0),
    derivative_np=lambda x, p: np.where(_outside(x, p), 1.0, 0.0),
    param_sets=({}, {"lambd": 0.0}, {"lambd": 1.7}, {"lambd": 0.3}),
    defaults={"lambd": 0.5},
    effective=_eff({"lambd": 0.5}),
    kinks=lambda p: (-p["lambd"], p["lambd"]), core_range=5.0,
)

_add(Reference(
    "softshrink",
    forward_mp=lambda x, p: (x - p["lambd"] if x > p["lambd"] else
                             x + p["lambd"] if x < -p["lambd"] else mp.mpf(0)),
    forward_np=lambda x, p: np.where(x > p["lambd"], x - p["lambd"],
                                     np.where(x < -p["lambd"], x + p["lambd"], 0.0)),
    **_SHRINK,
))

_add(Reference(
    "hardshrink",
    forward_mp=lambda x, p: x if _outside(x, p) else mp.mpf(0),
    forward_np=lambda x, p: np.where(_outside(x, p), x, 0.0),
    **_SHRINK,
))


# threshold (threshold, value: both required) -------------------------------------------
_add(Reference(
    "threshold",
    forward_mp=lambda x, p: x if x > p["threshold"] else mp.mpf(p["value"]),
    derivative_mp=lambda x, p: mp.mpf(1) if x > p["threshold"] else mp.mpf(0),
    forward_np=lambda x, p: np.where(x > p["threshold"], x, p["value"]),
    derivative_np=lambda x, p: np.where(x > p["threshold"], 1.0, 0.0),
    # no {} here: neither parameter has a default (defaults maps them to None)
    param_sets=({"threshold": 0.5, "value": -2.0}, {"threshold": -1.3, "value": 0.3},
                {"threshold": 0.0, "value": 0.0}, {"threshold": 20.0, "value": 7.1}),
    defaults={"threshold": None, "value": None},
    effective=_eff({}),
    kinks=lambda p: (p["threshold"],), core_range=30.0,
))

#: the smallest parameters a call needs (threshold has no defaults); tests that call a
#: function "with its defaults" pass these
REQUIRED_PARAMS = {"threshold": {"threshold": 0.5, "value": -2.0}}

#: aliases the package must provide, as the same objects
ALIASES = {"silu": "swish", "hswish": "hard_swish"}


# --------------------------------------------------------------------- evaluation

def _to_mp(v: float):
    return mp.mpf(float(v))


def mp_values(fn, x: np.ndarray, p, factor=None) -> Tuple[np.ndarray, np.ndarray]:
    """``factor_i * fn(x_i, p)`` for every element, as float64 (hi, lo) pairs: hi + lo
    = value to ~106 bits, hi the correctly rounded float64 (inf where it overflows)."""
    hi = np.empty(x.size)
    lo = np.empty(x.size)
    fac = None if factor is None else np.asarray(factor, np.float64).ravel()
    for i, v in enumerate(np.asarray(x, np.float64).ravel()):
        r = fn(_to_mp(v), p)
        if fac is not None:
            r = r * _to_mp(fac[i])
        h = float(r)
        hi[i] = h
        lo[i] = float(r - h) if np.isfinite(h) else 0.0
    return hi.reshape(x.shape), lo.reshape(x.shape)


def ulp_of(value: np.ndarray, dtype) -> np.ndarray:
    """One unit in the last place of ``dtype`` at |value| (a float64 array):
    2**(exponent - p + 1), and the smallest subnormal in the subnormal range."""
    info = np.finfo(dtype)
    v = np.abs(np.asarray(value, np.float64))
    _, e = np.frexp(np.where(np.isfinite(v), v, info.max))
    ulp = np.ldexp(1.0, e - (info.nmant + 1))
    return np.maximum(ulp, float(info.smallest_subnormal))


def ulp_error(got: np.ndarray, ref_hi: np.ndarray, ref_lo=None, scale=None) -> np.ndarray:
    """|got - ref| in ulps of got's dtype at the reference value (float64 array).

    Exact matches count 0, infinities and NaNs included (a NaN or inf where the other
    is not counts inf).  ``ref`` beyond the dtype's range must be met by inf of the
    same sign.  ``scale``, if given, replaces |ref| by max(|ref|, scale) in the ulp:
    a bound k * ulp(max(|ref|, terms)) for values that are differences of terms.
    """
    dtype = got.dtype
    g = got.astype(np.float64)
    ref_hi = np.asarray(ref_hi, np.float64)
    ref_lo = np.zeros_like(ref_hi) if ref_lo is None else np.asarray(ref_lo, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        # the reference rounded to the dtype (beyond its range: inf)
        ref_rounded = ref_hi.astype(dtype).astype(np.float64)
        same = (np.isnan(g) & np.isnan(ref_hi)) | (np.isinf(g) & (g == ref_rounded))
        mag = np.abs(ref_hi) if scale is None else np.maximum(np.abs(ref_hi), scale)
        ulp = ulp_of(mag, dtype)
        err = np.abs((g - ref_hi) - ref_lo) / ulp
    err = np.where(np.isfinite(err), err, np.inf)
    return np.where(same, 0.0, err)


# ============================================================ softmax family (rows)
#
# mpmath per row, for both dtypes (rows are short in the accuracy tests).  A row is
# normalized as PyTorch does it: m = max; an all -inf row, or one holding NaN or
# +inf, gives NaN everywhere; -inf entries get probability 0 and log-probability
# -inf.  log(sum) is taken as log(k) + log1p(rest / k), k the number of maxima, so
# that a log-probability close to 0 (a dominant entry) keeps its digits.

SOFTMAX_KINDS = ("softmax", "log_softmax", "softmin")


def _softmax_row_mp(row):
    """(p, logp) of one row (float64 values) as lists of mpf, or None for a NaN row."""
    row = [float(v) for v in row]
    if any(math.isnan(v) or v == math.inf for v in row) or all(v == -math.inf for v in row):
        return None
    m = max(row)
    d = [mp.mpf(v) - mp.mpf(m) if v != -math.inf else None for v in row]
    k = sum(1 for v in row if v == m)
    rest = mp.fsum(mp.exp(t) for t in d if t is not None and t != 0)
    log_s = mp.log(k) + mp.log1p(rest / k)
    s = k + rest
    p = [mp.mpf(0) if t is None else mp.exp(t) / s for t in d]
    logp = [mp.mpf("-inf") if t is None else t - log_s for t in d]
    return p, logp


def _rows(x, axis):
    """x with `axis` moved last, as a 2-D float64 array of rows, and the shape to undo it."""
    xm = np.moveaxis(np.asarray(x, np.float64).reshape(np.shape(x) or (1,)), axis, -1)
    return xm.reshape(-1, xm.shape[-1]), xm.shape


def _unrows(a, moved_shape, axis, shape):
    return np.moveaxis(a.reshape(moved_shape), -1, axis).reshape(shape)


def _hi_lo(v):
    if isinstance(v, float):
        return v, 0.0
    h = float(v)
    return h, (float(v - h) if math.isfinite(h) else 0.0)


def softmax_forward_mp(x, kind, axis=-1):
    """(hi, lo) float64 arrays of softmax / log_softmax / softmin of x along axis."""
    x = np.asarray(x)
    rows, moved = _rows(x if kind != "softmin" else -np.asarray(x, np.float64), axis)
    hi, lo = np.empty(rows.shape), np.empty(rows.shape)
    for r, row in enumerate(rows):
        res = _softmax_row_mp(row)
        for i in range(row.size):
            v = math.nan if res is None else res[kind == "log_softmax"][i]
            hi[r, i], lo[r, i] = _hi_lo(v)
    return _unrows(hi, moved, axis, x.shape), _unrows(lo, moved, axis, x.shape)


def softmax_backward_mp(x, g, kind, axis=-1):
    """(hi, lo, scale): the gradient dL/dx given dL/dy = g, and the magnitude of its
    terms (g_i - sum(g y) cancels, and so may the sum itself: an absolute bound is in
    ulps of p_i (|g_i| + sum_j |g_j| p_j), resp. |g_i| + p_i sum_j |g_j|).

      softmax:      p_i (g_i - sum_j g_j p_j)
      softmin:     -p_i (g_i - sum_j g_j p_j),  p = softmax(-x)
      log_softmax:  g_i - p_i sum_j g_j
    """
    x = np.asarray(x)
    sign = -1.0 if kind == "softmin" else 1.0
    rows, moved = _rows(sign * np.asarray(x, np.float64), axis)
    grows, _ = _rows(g, axis)
    hi, lo, scale = (np.empty(rows.shape) for _ in range(3))
    for r, row in enumerate(rows):
        res = _softmax_row_mp(row)
        gr = [mp.mpf(float(v)) for v in grows[r]]
        if res is None:
            hi[r], lo[r], scale[r] = math.nan, 0.0, 1.0
            continue
        p = res[0]
        if kind == "log_softmax":
            sg = mp.fsum(gr)
            sa = mp.fsum(abs(gi) for gi in gr)
            vals = [gr[i] - p[i] * sg for i in range(row.size)]
            sc = [abs(gr[i]) + p[i] * sa for i in range(row.size)]
        else:
            dot = mp.fsum(gi * pi for gi, pi in zip(gr, p))
            da = mp.fsum(abs(gi) * pi for gi, pi in zip(gr, p))
            vals = [sign * p[i] * (gr[i] - dot) for i in range(row.size)]
            sc = [p[i] * (abs(gr[i]) + da) for i in range(row.size)]
        for i in range(row.size):
            hi[r, i], lo[r, i] = _hi_lo(vals[i])
            scale[r, i] = float(sc[i])
    return tuple(_unrows(a, moved, axis, x.shape) for a in (hi, lo, scale))
