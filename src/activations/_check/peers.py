"""Peer implementations to time against: NumPy, PyTorch CPU and ONNX Runtime.

Each peer call takes the operands of one problem, ``p`` (duck-typed: ``p.x`` the input,
``p.g`` dL/dy shaped like y, ``p.y`` the forward output, ``p.o_fwd`` / ``p.o_bwd``
preallocated outputs shaped like y / x, ``p.w`` prelu's weight or None, ``p.params``
every keyword parameter of the function), writes into the preallocated output and
returns the result.  Softmax, gated and prelu problems are 2-d with the function's
axis (prelu: the channels) last.

- :data:`NUMPY`: the expression a competent NumPy user writes, ``out=`` where natural,
  keyed by function name, or "name k=v" for a parameter set other than the defaults.
  Python-float scalars keep the array's dtype (NEP 50).  Exact gelu/geglu need an
  erf: SciPy's where installed, else no peer.
- :func:`torch_peers`: ATen ops through their ``out=`` overloads, backwards through
  the ATen backward ops (no autograd); their operands are the same buffers as tensors.
- :class:`OnnxPeers`: a one-node model (a small graph for gated units) run with IO
  binding onto the NumPy buffers, forward only.

torch, onnx and onnxruntime are optional and imported only when asked for (after
``activations``: docs/performance-notes.md "one OpenMP runtime per process").
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


_P = lambda p, k: p.params[k]  # noqa: E731  (a parameter of the problem)

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


def import_torch():
    """The torch module, or None where it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_peers(torch) -> Dict[str, Peer]:
    """The PyTorch peers by function name (default parameters); each takes the problem's
    buffers as tensors ``t`` (``t.x``, ``t.g``, ``t.y``, ``t.o_fwd``, ``t.o_bwd``,
    ``t.w``, ``t.params``)."""
    import torch.nn.functional as F
    aten = torch.ops.aten

    def out(op: str, *args, out, **kw):
        """An ATen op through its out= overload ('out' or 'grad_input'), writing into out."""
        packet = getattr(aten, op)
        for overload in ("out", "grad_input"):
            if overload in packet.overloads():
                fn = getattr(packet, overload)
                name = next(a.name for a in fn._schema.arguments if a.is_out)
                return fn(*args, **kw, **{name: out})
        raise LookupError(f"aten.{op} has no out= overload")

    def gated_bwd(t, f, f_backward):
        a, b = halves(t.x)
        return torch.cat([f_backward(t.g * b, a), f(a) * t.g], dim=-1, out=t.o_bwd)

    def leaky(slope):
        return Peer(fwd=lambda t: out("leaky_relu", t.x, slope(t), out=t.o_fwd),
                    bwd=lambda t: out("leaky_relu_backward", t.g, t.x, slope(t), False,
                                      out=t.o_bwd))

    return {
        "sigmoid": Peer(fwd=lambda t: torch.sigmoid(t.x, out=t.o_fwd),
                        bwd_from_y=lambda t: out("sigmoid_backward", t.g, t.y, out=t.o_bwd)),
        "tanh": Peer(fwd=lambda t: torch.tanh(t.x, out=t.o_fwd),
                     bwd_from_y=lambda t: out("tanh_backward", t.g, t.y, out=t.o_bwd)),
        "threshold": Peer(
            fwd=lambda t: out("threshold", t.x, _P(t, "threshold"), _P(t, "value"), out=t.o_fwd),
            bwd=lambda t: out("threshold_backward", t.g, t.x, _P(t, "threshold"), out=t.o_bwd)),
        "relu": Peer(fwd=lambda t: torch.clamp_min(t.x, 0, out=t.o_fwd),  # = relu in ATen
                     bwd=lambda t: out("threshold_backward", t.g, t.x, 0, out=t.o_bwd)),
        "leaky_relu": leaky(lambda t: _P(t, "negative_slope")),
        "rrelu": leaky(lambda t: rrelu_slope(t.params)),  # training=False
        "elu": Peer(
            fwd=lambda t: out("elu", t.x, _P(t, "alpha"), 1, 1, out=t.o_fwd),
            bwd=lambda t: out("elu_backward", t.g, _P(t, "alpha"), 1, 1, False, t.x,
                              out=t.o_bwd)),
        "selu": Peer(  # what torch.selu runs
            fwd=lambda t: out("elu", t.x, SELU_ALPHA, SELU_SCALE, 1, out=t.o_fwd),
            bwd=lambda t: out("elu_backward", t.g, SELU_ALPHA, SELU_SCALE, 1, False, t.x,
                              out=t.o_bwd)),
        "softsign": Peer(  # F.softsign
            fwd=lambda t: torch.div(t.x, torch.abs(t.x).add_(1), out=t.o_fwd),
            bwd=lambda t: torch.div(t.g, torch.abs(t.x).add_(1).square_(), out=t.o_bwd)),
        "softplus": Peer(
            fwd=lambda t: out("softplus", t.x, _P(t, "beta"), _P(t, "threshold"), out=t.o_fwd),
            bwd=lambda t: out("softplus_backward", t.g, t.x, _P(t, "beta"), _P(t, "threshold"),
                              out=t.o_bwd)),
        "swish": Peer(fwd=lambda t: out("silu", t.x, out=t.o_fwd),
                      bwd=lambda t: out("silu_backward", t.g, t.x, out=t.o_bwd)),
        "hard_swish": Peer(fwd=lambda t: out("hardswish", t.x, out=t.o_fwd),
                           bwd=lambda t: out("hardswish_backward", t.g, t.x, out=t.o_bwd)),
        "softmax": Peer(
            fwd=lambda t: out("_softmax", t.x, -1, False, out=t.o_fwd),
            bwd_from_y=lambda t: out("_softmax_backward_data", t.g, t.y, -1, t.y.dtype,
                                     out=t.o_bwd)),
        "log_softmax": Peer(
            fwd=lambda t: out("_log_softmax", t.x, -1, False, out=t.o_fwd),
            bwd_from_y=lambda t: out("_log_softmax_backward_data", t.g, t.y, -1, t.y.dtype,
                                     out=t.o_bwd)),
        "gelu": Peer(
            fwd=lambda t: out("gelu", t.x, approximate="none", out=t.o_fwd),
            bwd=lambda t: out("gelu_backward", t.g, t.x, approximate="none", out=t.o_bwd)),
        "mish": Peer(fwd=lambda t: out("mish", t.x, out=t.o_fwd),
                     bwd=lambda t: aten.mish_backward(t.g, t.x)),  # no out= overload
        "prelu": Peer(fwd=lambda t: aten._prelu_kernel(t.x, t.w),
                      bwd=lambda t: aten._prelu_kernel_backward(t.g, t.x, t.w)),
        "glu": Peer(fwd=lambda t: out("glu", t.x, -1, out=t.o_fwd),   # F.glu
                    bwd=lambda t: out("glu_backward", t.g, t.x, -1, out=t.o_bwd)),
        # swiglu / geglu: the compositions a user writes (F.silu(a) * b, F.gelu(a) * b);
        # backward: what autograd runs for them (the activation's backward of g * b, and
        # g * f(a) for b), into the two halves of the output
        "swiglu": Peer(
            fwd=lambda t: torch.mul(F.silu(halves(t.x)[0]), halves(t.x)[1], out=t.o_fwd),
            bwd=lambda t: gated_bwd(t, F.silu, lambda gb, a: aten.silu_backward(gb, a))),
        "geglu": Peer(
            fwd=lambda t: torch.mul(F.gelu(halves(t.x)[0]), halves(t.x)[1], out=t.o_fwd),
            bwd=lambda t: gated_bwd(t, F.gelu, lambda gb, a: aten.gelu_backward(gb, a))),
    }


class OnnxPeers:
    """ONNX Runtime forwards: a one-node model per (function, dtype, rank, threads), run
    with IO binding onto the problem's buffers (no copies).  :meth:`load` gives None
    where onnx or onnxruntime is not installed."""

    #: op_type of a row that is a small graph: its "attributes" are the nodes
    GRAPH = "graph"

    def __init__(self, onnx, ort):
        self.onnx, self.ort = onnx, ort
        self.versions = {"onnxruntime": ort.__version__, "onnx": onnx.__version__}
        self._sessions: Dict[tuple, object] = {}

    @classmethod
    def load(cls) -> Optional["OnnxPeers"]:
        try:
            import onnx
            import onnx.helper
            import onnx.numpy_helper
            import onnxruntime as ort
        except ImportError:
            return None
        return cls(onnx, ort)

    def forward(self, p, threads: int) -> Optional[Callable]:
        """A call running p's forward, or None (no operator, or none for this dtype)."""
        spec = ONNX.get(p.name)
        if spec is None:
            return None
        op, attrs, inits, domain = spec(p)
        key = (p.name, p.dtype, p.x.ndim, threads, tuple((k, v.shape) for k, v in inits.items()))
        if key not in self._sessions:
            self._sessions[key] = self._session(op, attrs, inits, domain, p.dtype, p.x.ndim,
                                                threads)
        sess = self._sessions[key]
        if sess is None:
            return None
        binding = sess.io_binding()
        binding.bind_ortvalue_input("x", self.ort.OrtValue.ortvalue_from_numpy(p.x))
        binding.bind_ortvalue_output("y", self.ort.OrtValue.ortvalue_from_numpy(p.o_fwd))

        def run():
            sess.run_with_iobinding(binding)
            return p.o_fwd
        return run

    def _session(self, op, attrs, inits, domain, dtype, rank, threads):
        onnx, ort, h = self.onnx, self.ort, self.onnx.helper
        elem = onnx.TensorProto.FLOAT if dtype == np.float32 else onnx.TensorProto.DOUBLE
        x = h.make_tensor_value_info("x", elem, [f"d{i}" for i in range(rank)])
        y = h.make_tensor_value_info("y", elem, None)
        initializers = [onnx.numpy_helper.from_array(np.asarray(v, dtype), k)
                        for k, v in inits.items()]
        if op == self.GRAPH:
            nodes = [h.make_node(o, i, out, domain=d, **a) for o, i, out, a, d in attrs]
        else:
            nodes = [h.make_node(op, ["x", *inits], ["y"], domain=domain, **attrs)]
        graph = h.make_graph(nodes, "model", [x], [y], initializer=initializers)
        opsets = [h.make_opsetid("", 20)] + ([h.make_opsetid(domain, 1)] if domain else [])
        model = h.make_model(graph, opset_imports=opsets)
        model.ir_version = 10
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # idle pool threads must not spin while the next contestant is timed
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 4
        try:
            return ort.InferenceSession(model.SerializeToString(), so,
                                        providers=["CPUExecutionProvider"])
        except Exception:  # e.g. NOT_IMPLEMENTED: no float64 kernel
            return None


def _onnx(op, domain="", inits=None, **attrs):
    return lambda p: (op, attrs, inits(p) if inits else {}, domain)


def _onnx_gated(gate_op, on_first=True, domain="", **attrs):
    """The graph a user exports for a gated unit: Split(x) -> a, b; gate_op on one half
    (a: swiglu/geglu, b: glu), times the other.  Node specs: (op, inputs, outputs, attrs, domain)."""
    act_in, other = ("a", "b") if on_first else ("b", "a")
    nodes = [("Split", ["x"], ["a", "b"], {"axis": -1, "num_outputs": 2}, ""),
             (gate_op, [act_in], ["f"], attrs, domain),
             ("Mul", ["f", other], ["y"], {}, "")]
    return lambda p: (OnnxPeers.GRAPH, nodes, {}, domain)


#: The ONNX operator of each function: f(p) -> (op_type, attributes, initializer
#: inputs, domain).
ONNX: Dict[str, Callable] = {
    "sigmoid": _onnx("Sigmoid"),
    "tanh": _onnx("Tanh"),
    "relu": _onnx("Relu"),
    "leaky_relu": lambda p: ("LeakyRelu", {"alpha": p.params["negative_slope"]}, {}, ""),
    "rrelu": lambda p: ("LeakyRelu", {"alpha": rrelu_slope(p.params)}, {}, ""),
    "elu": lambda p: ("Elu", {"alpha": p.params["alpha"]}, {}, ""),
    "selu": _onnx("Selu", alpha=SELU_ALPHA, gamma=SELU_SCALE),
    "softsign": _onnx("Softsign"),
    "softplus": _onnx("Softplus"),
    # com.microsoft QuickGelu(alpha) is x * sigmoid(alpha * x): swish with beta = alpha
    "swish": lambda p: ("QuickGelu", {"alpha": p.params["beta"]}, {}, "com.microsoft"),
    "hard_swish": _onnx("HardSwish"),
    "softmax": _onnx("Softmax", axis=-1),
    "log_softmax": _onnx("LogSoftmax", axis=-1),
    "gelu": _onnx("Gelu", approximate="none"),
    "mish": _onnx("Mish"),
    "prelu": lambda p: ("PRelu", {}, {"slope": p.w}, ""),
    "glu": _onnx_gated("Sigmoid", on_first=False),
    "swiglu": _onnx_gated("QuickGelu", domain="com.microsoft", alpha=1.0),  # x sigmoid(x)
    "geglu": _onnx_gated("Gelu"),
}
