"""Peer implementations to time against: the NumPy table, and what every peer shares.

Each peer call takes the operands of one problem, ``p`` (:class:`Operands`, or any
object with the same fields: ``p.x`` the input, ``p.g`` dL/dy shaped like y, ``p.y`` the
forward output, ``p.o_fwd`` / ``p.o_bwd`` preallocated outputs shaped like y / x, ``p.w``
prelu's weight or None, ``p.params`` every keyword parameter of the function), writes
into the preallocated output and returns the result.  Softmax, gated and prelu problems
are 2-d with the function's axis (prelu: the channels) last.

:data:`NUMPY` holds the expression a competent NumPy user writes, ``out=`` where
natural, keyed by function name, or "name k=v" for a parameter set other than the
defaults.  Python-float scalars keep the array's dtype (NEP 50).  Exact gelu/geglu need
an erf: SciPy's where installed, else no peer.  PyTorch and ONNX Runtime, both optional,
are in ``peers_optional.py``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Dict, Optional

import numpy as np

try:
    import scipy.special as scipy_special  # only for exact gelu's erf
except ImportError:
    scipy_special = None


@dataclasses.dataclass
class Operands:
    """The operands of one problem, as every peer reads them (see the module docstring)."""
    x: np.ndarray
    g: np.ndarray
    o_fwd: np.ndarray
    o_bwd: np.ndarray
    params: dict
    y: Optional[np.ndarray] = None
    w: Optional[np.ndarray] = None


@dataclasses.dataclass(frozen=True)
class Peer:
    """A peer's forward, backward from x, and backward from the forward output y."""
    fwd: Optional[Callable] = None
    bwd: Optional[Callable] = None
    bwd_from_y: Optional[Callable] = None


SELU_SCALE = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


def halves(a):
    h = a.shape[-1] // 2
    return a[..., :h], a[..., h:]


def rrelu_slope(params) -> float:
    """rrelu's slope at training=False: (lower + upper) / 2."""
    return (params["lower"] + params["upper"]) / 2


# ---- NumPy expressions

def _np_sigmoid(x, o):
    np.negative(x, out=o); np.exp(o, out=o); o += 1
    return np.reciprocal(o, out=o)


def _np_sigmoid_bwd(p):
    s = 1 / (1 + np.exp(-p.x))
    return np.multiply(p.g, s * (1 - s), out=p.o_bwd)


def _np_tanh_bwd(p):
    t = np.tanh(p.x)
    return np.multiply(p.g, 1 - t * t, out=p.o_bwd)


def _np_elu(x, o, alpha, scale=1.0):
    np.minimum(x, 0, out=o); np.expm1(o, out=o); o *= alpha
    np.copyto(o, x, where=x > 0)
    if scale != 1.0:
        o *= scale
    return o


def _np_elu_bwd(p, alpha, scale=1.0):
    o, x = p.o_bwd, p.x
    np.exp(x, out=o); o *= alpha * scale
    np.copyto(o, x.dtype.type(scale), where=x > 0)
    return np.multiply(o, p.g, out=o)


def _np_swish_bwd(p):
    x, o, beta = p.x, p.o_bwd, p.params["beta"]
    s = _np_sigmoid(beta * x, np.empty_like(x))
    np.subtract(1, s, out=o); o *= x; o *= beta; o += 1; o *= s
    return np.multiply(o, p.g, out=o)


def _np_hard_swish_bwd(p):
    x, o = p.x, p.o_bwd
    np.multiply(x, x.dtype.type(1 / 3), out=o); o += 0.5
    np.copyto(o, 0, where=x <= -3); np.copyto(o, 1, where=x >= 3)
    return np.multiply(o, p.g, out=o)


def _np_softmax(x, o):
    np.subtract(x, x.max(axis=-1, keepdims=True), out=o); np.exp(o, out=o)
    o /= o.sum(axis=-1, keepdims=True)
    return o


def _np_log_softmax(x, o):
    np.subtract(x, x.max(axis=-1, keepdims=True), out=o)
    o -= np.log(np.exp(o).sum(axis=-1, keepdims=True))
    return o


def _np_softmax_bwd(p):
    """From x: the forward again, then y * (g - sum(g * y))."""
    y = _np_softmax(p.x, np.empty_like(p.x))
    return np.multiply(y, p.g - np.sum(p.g * y, axis=-1, keepdims=True), out=p.o_bwd)


def _np_softmin_bwd(p):
    """From x: y = softmax(-x), then y * (sum(g * y) - g)."""
    y = _np_softmax(-p.x, np.empty_like(p.x))
    return np.multiply(y, np.sum(p.g * y, axis=-1, keepdims=True) - p.g, out=p.o_bwd)


def _np_log_softmax_bwd(p):
    e = np.exp(_np_log_softmax(p.x, np.empty_like(p.x)))
    return np.subtract(p.g, e * np.sum(p.g, axis=-1, keepdims=True), out=p.o_bwd)


def _np_mish(x, o):
    np.logaddexp(x, 0, out=o); np.tanh(o, out=o)
    return np.multiply(o, x, out=o)


def _np_mish_bwd(p):
    x, o = p.x, p.o_bwd
    t = np.tanh(np.logaddexp(x, 0))
    s = _np_sigmoid(x, np.empty_like(x))
    np.multiply(t, t, out=o); np.subtract(1, o, out=o); o *= s; o *= x; o += t
    return np.multiply(o, p.g, out=o)


def _np_gelu(x, o):
    np.multiply(x, x.dtype.type(1 / math.sqrt(2)), out=o); scipy_special.erf(o, out=o)
    o += 1; o *= x; o *= 0.5
    return o


def _np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def _np_gelu_tanh_bwd(p):
    x = p.x
    u = 0.7978845608028654 * (x + 0.044715 * x * x * x)
    t = np.tanh(u)
    du = 0.7978845608028654 * (1 + 3 * 0.044715 * x * x)
    return np.multiply(p.g, 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du, out=p.o_bwd)


def _np_gated(p, f):
    """f(a) * b into p.o_fwd (f(a, out) writes f(a) into out)."""
    a, b = halves(p.x)
    return np.multiply(f(a, p.o_fwd), b, out=p.o_fwd)


def _np_gated_bwd(p, f_and_grad):
    """[g * b * f'(a), g * f(a)] into p.o_bwd; f_and_grad(a) -> (f(a), f'(a))."""
    a, b = halves(p.x)
    ga, gb = halves(p.o_bwd)
    f, d = f_and_grad(a)
    np.multiply(p.g, b, out=ga); ga *= d
    np.multiply(p.g, f, out=gb)
    return p.o_bwd


def _np_glu_bwd(p):
    a, b = halves(p.x)
    s = 1 / (1 + np.exp(-b))
    return np.concatenate([p.g * s, p.g * a * s * (1 - s)], axis=-1, out=p.o_bwd)


def _np_prelu_bwd(p):
    neg = p.x <= 0
    np.copyto(p.o_bwd, np.where(neg, p.g * p.w, p.g))
    return p.o_bwd, np.sum(np.where(neg, p.x * p.g, 0), axis=0)


def _into(o, value):
    np.copyto(o, value)
    return o


def _where(o, cond, a, b):
    return _into(o, np.where(cond, a, b))


def _P(p, k):
    """A parameter of the problem."""
    return p.params[k]


NUMPY: Dict[str, Peer] = {
    "sigmoid": Peer(
        fwd=lambda p: _np_sigmoid(p.x, p.o_fwd), bwd=_np_sigmoid_bwd,
        bwd_from_y=lambda p: np.multiply(np.subtract(1, p.y, out=p.o_bwd), p.y * p.g,
                                         out=p.o_bwd)),
    "tanh": Peer(
        fwd=lambda p: np.tanh(p.x, out=p.o_fwd), bwd=_np_tanh_bwd,
        bwd_from_y=lambda p: np.multiply(np.subtract(1, np.square(p.y, out=p.o_bwd),
                                                     out=p.o_bwd), p.g, out=p.o_bwd)),
    "relu": Peer(fwd=lambda p: np.maximum(p.x, 0, out=p.o_fwd),
                 bwd=lambda p: np.multiply(p.g, p.x > 0, out=p.o_bwd)),
    "leaky_relu": Peer(
        fwd=lambda p: np.maximum(p.x, np.multiply(p.x, _P(p, "negative_slope"), out=p.o_fwd),
                                 out=p.o_fwd),
        bwd=lambda p: np.multiply(p.g, np.where(p.x > 0, 1, p.x.dtype.type(
            _P(p, "negative_slope"))), out=p.o_bwd)),
    "rrelu": Peer(  # training=False: leaky ReLU with slope (lower + upper) / 2
        fwd=lambda p: np.maximum(p.x, np.multiply(p.x, rrelu_slope(p.params), out=p.o_fwd),
                                 out=p.o_fwd),
        bwd=lambda p: np.multiply(p.g, np.where(p.x > 0, 1, p.x.dtype.type(
            rrelu_slope(p.params))), out=p.o_bwd)),
    "elu": Peer(fwd=lambda p: _np_elu(p.x, p.o_fwd, _P(p, "alpha")),
                bwd=lambda p: _np_elu_bwd(p, _P(p, "alpha"))),
    "selu": Peer(fwd=lambda p: _np_elu(p.x, p.o_fwd, SELU_ALPHA, SELU_SCALE),
                 bwd=lambda p: _np_elu_bwd(p, SELU_ALPHA, SELU_SCALE)),
    "softsign": Peer(
        fwd=lambda p: np.divide(p.x, np.add(np.abs(p.x, out=p.o_fwd), 1, out=p.o_fwd),
                                out=p.o_fwd),
        bwd=lambda p: np.divide(p.g, np.square(np.add(np.abs(p.x, out=p.o_bwd), 1,
                                                      out=p.o_bwd), out=p.o_bwd), out=p.o_bwd)),
    "softplus": Peer(  # beta=1; threshold: same values
        fwd=lambda p: np.logaddexp(p.x, 0, out=p.o_fwd),
        bwd=lambda p: np.multiply(_np_sigmoid(p.x, p.o_bwd), p.g, out=p.o_bwd)),
    "swish": Peer(fwd=lambda p: np.multiply(_np_sigmoid(p.x, p.o_fwd), p.x, out=p.o_fwd),
                  bwd=_np_swish_bwd),
    "hard_swish": Peer(
        fwd=lambda p: np.divide(np.multiply(np.clip(np.add(p.x, 3, out=p.o_fwd), 0, 6,
                                                    out=p.o_fwd), p.x, out=p.o_fwd), 6,
                                out=p.o_fwd),
        bwd=_np_hard_swish_bwd),
    "relu6": Peer(fwd=lambda p: np.clip(p.x, 0, 6, out=p.o_fwd),
                  bwd=lambda p: np.multiply(p.g, (p.x > 0) & (p.x < 6), out=p.o_bwd)),
    "hard_sigmoid": Peer(
        fwd=lambda p: np.divide(np.clip(p.x + 3, 0, 6), 6, out=p.o_fwd),
        bwd=lambda p: np.multiply(p.g, np.where((p.x > -3) & (p.x < 3), 1 / 6, 0),
                                  out=p.o_bwd)),
    "hard_tanh": Peer(
        fwd=lambda p: np.clip(p.x, _P(p, "min_val"), _P(p, "max_val"), out=p.o_fwd),
        bwd=lambda p: np.multiply(p.g, (p.x > _P(p, "min_val")) & (p.x < _P(p, "max_val")),
                                  out=p.o_bwd)),
    "gelu": Peer(fwd=None if scipy_special is None else lambda p: _np_gelu(p.x, p.o_fwd)),
    "gelu approximate='tanh'": Peer(fwd=lambda p: _into(p.o_fwd, _np_gelu_tanh(p.x)),
                                    bwd=_np_gelu_tanh_bwd),
    "mish": Peer(fwd=lambda p: _np_mish(p.x, p.o_fwd), bwd=_np_mish_bwd),
    "celu": Peer(
        fwd=lambda p: _where(p.o_fwd, p.x > 0, p.x,
                             _P(p, "alpha") * np.expm1(p.x / _P(p, "alpha"))),
        bwd=lambda p: _where(p.o_bwd, p.x > 0, p.g, p.g * np.exp(p.x / _P(p, "alpha")))),
    "log_sigmoid": Peer(fwd=lambda p: np.negative(np.logaddexp(0, -p.x), out=p.o_fwd),
                        bwd=lambda p: np.divide(p.g, 1 + np.exp(p.x), out=p.o_bwd)),
    "tanhshrink": Peer(fwd=lambda p: np.subtract(p.x, np.tanh(p.x), out=p.o_fwd),
                       bwd=lambda p: np.multiply(p.g, np.square(np.tanh(p.x)), out=p.o_bwd)),
    "softshrink": Peer(
        fwd=lambda p: _where(p.o_fwd, p.x > _P(p, "lambd"), p.x - _P(p, "lambd"),
                             np.where(p.x < -_P(p, "lambd"), p.x + _P(p, "lambd"), 0)),
        bwd=lambda p: np.multiply(p.g, np.abs(p.x) > _P(p, "lambd"), out=p.o_bwd)),
    "hardshrink": Peer(
        fwd=lambda p: _where(p.o_fwd, np.abs(p.x) > _P(p, "lambd"), p.x, 0),
        bwd=lambda p: np.multiply(p.g, np.abs(p.x) > _P(p, "lambd"), out=p.o_bwd)),
    "threshold": Peer(
        fwd=lambda p: _where(p.o_fwd, p.x > _P(p, "threshold"), p.x, _P(p, "value")),
        bwd=lambda p: np.multiply(p.g, p.x > _P(p, "threshold"), out=p.o_bwd)),
    "softmax": Peer(
        fwd=lambda p: _np_softmax(p.x, p.o_fwd), bwd=_np_softmax_bwd,
        bwd_from_y=lambda p: np.multiply(np.subtract(p.g, (p.g * p.y).sum(-1, keepdims=True),
                                                     out=p.o_bwd), p.y, out=p.o_bwd)),
    "log_softmax": Peer(
        fwd=lambda p: _np_log_softmax(p.x, p.o_fwd), bwd=_np_log_softmax_bwd,
        bwd_from_y=lambda p: np.subtract(p.g, np.multiply(np.exp(p.y, out=p.o_bwd),
                                                          p.g.sum(-1, keepdims=True),
                                                          out=p.o_bwd), out=p.o_bwd)),
    "softmin": Peer(fwd=lambda p: _np_softmax(-p.x, p.o_fwd),
                    bwd=_np_softmin_bwd),
    "prelu": Peer(
        fwd=lambda p: np.copyto(np.multiply(p.x, p.w, out=p.o_fwd), p.x, where=p.x > 0)
        or p.o_fwd,
        bwd=_np_prelu_bwd),
    "glu": Peer(fwd=lambda p: np.multiply(halves(p.x)[0], _np_sigmoid(halves(p.x)[1], p.o_fwd),
                                          out=p.o_fwd),
                bwd=_np_glu_bwd),
    "swiglu": Peer(
        fwd=lambda p: _np_gated(p, lambda a, o: np.multiply(_np_sigmoid(a, o), a, out=o)),
        bwd=lambda p: _np_gated_bwd(p, lambda a: (lambda s: (a * s, s * (1 + a * (1 - s))))(
            _np_sigmoid(a, np.empty_like(a))))),
    "geglu": Peer(fwd=None if scipy_special is None else lambda p: _np_gated(p, _np_gelu)),
    "geglu approximate='tanh'": Peer(
        fwd=lambda p: np.multiply(_np_gelu_tanh(halves(p.x)[0]), halves(p.x)[1], out=p.o_fwd)),
}
