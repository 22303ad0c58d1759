"""The package-side reference of every public function, keyed by its public name.

``REFERENCES[name]`` is one of four shapes, by the function's kind in ``_spec.py``:

- :class:`Elementwise` (kinds elementwise and rrelu): the forward f(x), the derivative in
  x and, where the function offers it, the derivative in y (the forward output);
- :class:`Softmax` (softmax, log_softmax, softmin): forward and Jacobian-vector product
  along an axis;
- :class:`Gated` (glu, swiglu, geglu): the value and both partial derivatives in the
  halves a, b of the input;
- :class:`Prelu`: forward, backward and grad_weight with a broadcast weight.

``python -m activations`` (the self-check) and ``benchmarks/bench.py`` (the accuracy of
every contestant) both read this table; a public function missing from it is reported
by both as having no reference.  The tests keep their own independent references
(tests/reference.py) on purpose.

Values are computed in ``np.longdouble`` (``ldmath.py``) from inputs exactly
representable in the tested dtype, with float parameters first rounded to that dtype
(docs/api.md: parameters are converted to the array's dtype; :func:`ref_params`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple, Union

import numpy as np

from activations._check import ldmath as m
from activations._check.ldmath import LD


@dataclass(frozen=True)
class Elementwise:
    """Reference formulas of one elementwise function: forward f(x), derivative in x,
    derivative in y.  Each takes a long-double array and the function's parameters as
    keywords (and ``dtype=`` where :attr:`takes_dtype`)."""

    f: Callable
    dx: Callable
    dy: Optional[Callable] = None
    #: parameters to check with, overriding the registry's defaults (and giving
    #: values to required ones)
    params: Dict[str, object] = field(default_factory=dict)
    #: for a derivative in y of the form y + c (elu, selu, celu): the magnitude of
    #: the terms, |y|.  Where y + c cancels (y near its asymptote -c) the answer is
    #: only determined to about one ULP of |y|, since c itself is rounded to the
    #: dtype; errors there are counted in ULPs of |grad * y| instead of the result.
    dy_terms: Optional[Callable] = None
    #: for a derivative in x with a root inside the domain (swish, mish, gelu): the
    #: magnitude of its terms.  Near the root the value is a difference of O(1)
    #: terms, so its relative error is unbounded for any working-precision
    #: evaluation; errors there are counted in ULPs of |grad| * terms instead.
    dx_terms: Optional[Callable] = None
    #: parameter sets to check, each a separate row (e.g. both gelu forms)
    param_sets: Tuple[Dict[str, object], ...] = ({},)
    #: the formulas take the tested dtype (``dtype=``): a branch decided on a value
    #: rounded to it (softplus), a slope computed in double then rounded (rrelu)
    takes_dtype: bool = False

    def evaluate(self, part: str, x: np.ndarray, dtype: np.dtype, params: dict) -> np.ndarray:
        """Formula `part` ("f", "dx", "dy", "dx_terms", "dy_terms") at x, shaped as x."""
        fn = getattr(self, part)
        extra = {"dtype": np.dtype(dtype)} if self.takes_dtype else {}
        with np.errstate(all="ignore"):
            return np.asarray(fn(x, **params, **extra), dtype=LD) * np.ones_like(x)


@dataclass(frozen=True)
class Softmax:
    """softmax / log_softmax / softmin along an axis, in long double."""

    kind: str

    def forward(self, x: np.ndarray, axis: int):
        """(y, unit): the unit, where not None, is the magnitude errors are counted in."""
        z = -x if self.kind == "softmin" else x
        with np.errstate(all="ignore"):
            mx = np.max(z, axis=axis, keepdims=True)
            d = z - mx
            e = np.exp(d)
            s = np.sum(e, axis=axis, keepdims=True)
            if self.kind == "log_softmax":
                # log(sum) = log(count of maxima) + log1p(rest / count): exact also when
                # one entry dominates (sum = 1 + tiny, log_softmax of it ~ -tiny)
                count = np.sum(d == 0, axis=axis, keepdims=True)
                rest = np.sum(np.where(d == 0, 0, e), axis=axis, keepdims=True)
                lse = np.log(count) + np.log1p(rest / count)
                lse = np.where(np.isnan(s), s, lse)
                # both terms <= 0: no cancellation, but count at the larger for safety
                return d - lse, np.fmax(np.abs(d), np.abs(lse))
            return e / s, None

    def backward(self, g: np.ndarray, y: np.ndarray, axis: int):
        """(grad_x, unit) from the forward output y (long double): the JVP.  The unit is
        the magnitude of the terms of the difference (grad - dot): where they cancel the
        result is known to ULPs of the terms only (y, and so dot, are rounded)."""
        with np.errstate(all="ignore"):
            if self.kind == "log_softmax":
                p = np.exp(y)
                total = np.sum(g, axis=axis, keepdims=True)
                size = np.sum(np.abs(g), axis=axis, keepdims=True)
                return g - p * total, np.fmax(np.abs(g), p * size)
            dot = np.sum(g * y, axis=axis, keepdims=True)
            size = np.sum(np.abs(g * y), axis=axis, keepdims=True)
            sign = -1 if self.kind == "softmin" else 1
            return sign * y * (g - dot), np.abs(y) * np.fmax(np.abs(g), size)


@dataclass(frozen=True)
class Gated:
    """A gated function of the halves a, b of its input: f(a) * b (glu: a * sigmoid(b))."""

    name: str
    param_sets: Tuple[Dict[str, object], ...] = ({},)

    def values(self, a, b, approximate: str = "none"):
        """(forward, d/da factor, d/da terms or None, d/db factor)."""
        if self.name == "glu":
            s = m.sigmoid(b)
            return a * s, s, None, a * m.sigmoid_prime(b)
        if self.name == "swiglu":
            f = m.swish(a)
            return f * b, b * m.swish_prime(a), np.abs(b) * m.swish_terms(a), f
        if self.name == "geglu":
            f = m.gelu(a, approximate)
            return (f * b, b * m.gelu_prime(a, approximate),
                    np.abs(b) * m.gelu_terms(a, approximate), f)
        raise KeyError(self.name)


@dataclass(frozen=True)
class Prelu:
    """max(x, 0) + w * min(x, 0) with w broadcast along an axis (``broadcast_weight``)."""

    def forward(self, x, w):
        return np.where(x > 0, x, w * x)

    def backward(self, g, x, w):
        return np.where(x > 0, g, g * w)

    def grad_weight(self, g, x, sum_axes):
        """(grad_weight, unit): sum of x * grad over x <= 0, a sum of terms of either
        sign, counted in ULPs of sum |x * grad| (the terms)."""
        contrib = np.where(x > 0, 0, x * g)
        return (np.sum(contrib, axis=sum_axes).reshape(-1),
                np.sum(np.abs(contrib), axis=sum_axes).reshape(-1))


Reference = Union[Elementwise, Softmax, Gated, Prelu]


def _rrelu_slope(lower, upper, dtype):
    """training=False: the fixed slope (lower + upper) / 2, computed as PyTorch does
    (in double, then used in the array's dtype)."""
    return LD(dtype.type((float(lower) + float(upper)) / 2))


def _rounded(v, dtype):
    """`v` rounded to the dtype under test (for branch decisions made in that dtype)."""
    return v.astype(dtype).astype(LD)


def _softplus(x, beta, threshold, dtype):
    # The branch `beta * x > threshold` is decided on the product rounded to the
    # array's dtype, as PyTorch does (the two sides differ by about exp(-threshold)).
    return np.where(_rounded(x * beta, dtype) > threshold, x, m.softplus0(x * beta) / beta)


_step = m.step
_nanpass = m.nanpass
_BOTH_GELU_FORMS = ({"approximate": "none"}, {"approximate": "tanh"})

#: The reference of every public function, by public name.
REFERENCES: Dict[str, Reference] = {
    "sigmoid": Elementwise(m.sigmoid, m.sigmoid_prime, lambda y: y * (1 - y)),
    "tanh": Elementwise(np.tanh, lambda x: 1 / np.cosh(x) ** 2, lambda y: (1 - y) * (1 + y)),
    "relu": Elementwise(lambda x: _nanpass(x, np.maximum(x, 0)),
                        lambda x: _step(x > 0, x), lambda y: _step(y > 0, y)),
    "leaky_relu": Elementwise(
        lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
        lambda x, negative_slope: _step(x > 0, x) + _step(x <= 0, x, negative_slope),
        lambda y, negative_slope: _step(y > 0, y) + _step(y <= 0, y, negative_slope)),
    "prelu": Prelu(),
    # training=False only; training draws are checked by the self-check's own rows
    "rrelu": Elementwise(
        lambda x, lower, upper, training, seed, dtype:
            np.where(x >= 0, x, x * _rrelu_slope(lower, upper, dtype)),
        lambda x, lower, upper, training, seed, dtype:
            _step(x > 0, x) + _step(x <= 0, x, _rrelu_slope(lower, upper, dtype)),
        takes_dtype=True),
    "elu": Elementwise(
        lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x)),
        lambda x, alpha: _step(x > 0, x) + _step(x <= 0, x, 1) * alpha * np.exp(np.minimum(x, 0)),
        lambda y, alpha: _nanpass(y, np.where(y > 0, 1, y + alpha)),
        dy_terms=lambda y, alpha: np.abs(y)),
    "selu": Elementwise(
        lambda x: m.SELU_SCALE * np.where(x > 0, x, m.SELU_ALPHA * np.expm1(x)),
        lambda x: m.SELU_SCALE * (_step(x > 0, x)
                                  + _step(x <= 0, x) * m.SELU_ALPHA * np.exp(np.minimum(x, 0))),
        lambda y: _nanpass(y, np.where(y > 0, m.SELU_SCALE, y + m.SELU_SCALE * m.SELU_ALPHA)),
        dy_terms=lambda y: np.abs(y)),
    "softsign": Elementwise(lambda x: m.where_inf(x, 1, -1, x / (1 + np.abs(x))),
                            lambda x: 1 / (1 + np.abs(x)) ** 2,
                            lambda y: (1 - np.abs(y)) ** 2),
    "softplus": Elementwise(
        _softplus,
        lambda x, beta, threshold, dtype:
            np.where(_rounded(x * beta, dtype) > threshold, 1, m.sigmoid(x * beta)),
        lambda y, beta, threshold, dtype:
            _nanpass(y, np.where(_rounded(y * beta, dtype) > threshold, 1, -np.expm1(-y * beta))),
        takes_dtype=True),
    "softmax": Softmax("softmax"),
    "log_softmax": Softmax("log_softmax"),
    "swish": Elementwise(m.swish, m.swish_prime, dx_terms=m.swish_terms),
    "hard_swish": Elementwise(
        lambda x: m.where_inf(x, np.inf, 0, x * np.minimum(np.maximum(x + 3, 0), 6) / 6),
        lambda x: _nanpass(x, np.where(x <= -3, 0, np.where(x >= 3, 1, (2 * x + 3) / 6)))),
    "relu6": Elementwise(lambda x: m.clip(x, 0, 6), lambda x: _step((x > 0) & (x < 6), x),
                         lambda y: _step((y > 0) & (y < 6), y)),
    "hard_sigmoid": Elementwise(lambda x: m.clip(x + 3, 0, 6) / 6,
                                lambda x: _step((x > -3) & (x < 3), x, LD(1) / 6),
                                lambda y: _step((y > 0) & (y < 1), y, LD(1) / 6)),
    "hard_tanh": Elementwise(
        lambda x, min_val, max_val: m.clip(x, min_val, max_val),
        lambda x, min_val, max_val: _step((x > min_val) & (x < max_val), x),
        lambda y, min_val, max_val: _step((y > min_val) & (y < max_val), y)),
    "gelu": Elementwise(m.gelu, m.gelu_prime, dx_terms=m.gelu_terms,
                        param_sets=_BOTH_GELU_FORMS),
    "mish": Elementwise(m.mish, m.mish_prime, dx_terms=m.mish_terms),
    "celu": Elementwise(
        lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x / alpha)),
        lambda x, alpha: _step(x > 0, x) + _step(x <= 0, x) * np.exp(np.minimum(x, 0) / alpha),
        lambda y, alpha: _nanpass(y, np.where(y > 0, 1, y / alpha + 1)),
        dy_terms=lambda y, alpha: np.abs(y / alpha)),
    "log_sigmoid": Elementwise(lambda x: np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))),
                               lambda x: m.sigmoid(-x), lambda y: -np.expm1(y)),
    "softmin": Softmax("softmin"),
    "tanhshrink": Elementwise(m.tanhshrink, lambda x: np.tanh(x) ** 2),
    "softshrink": Elementwise(
        lambda x, lambd: _nanpass(x, np.where(x > lambd, x - lambd,
                                              np.where(x < -lambd, x + lambd, 0))),
        lambda x, lambd: _step(np.abs(x) > lambd, x)),
    "hardshrink": Elementwise(lambda x, lambd: _nanpass(x, np.where(np.abs(x) > lambd, x, 0)),
                              lambda x, lambd: _step(np.abs(x) > lambd, x)),
    "glu": Gated("glu"),
    "swiglu": Gated("swiglu"),
    "geglu": Gated("geglu", param_sets=_BOTH_GELU_FORMS),
    "threshold": Elementwise(
        lambda x, threshold, value: _nanpass(x, np.where(x > threshold, x, value)),
        lambda x, threshold, value: _step(x > threshold, x),
        params={"threshold": 0.5, "value": -2.0}),
}


def ref_params(params: dict, dtype) -> dict:
    """Float parameters rounded to the dtype (docs/api.md); strings, ints, bools as they are."""
    dtype = np.dtype(dtype)
    return {k: (LD(dtype.type(v)) if isinstance(v, float) else v) for k, v in params.items()}


def broadcast_weight(w: np.ndarray, ndim: int, axis: int):
    """prelu's weight (long double) shaped to broadcast along `axis`; a scalar if shared."""
    if w.size == 1:
        return w.reshape(-1)[0]
    shape = [1] * ndim
    shape[axis] = w.size
    return w.reshape(shape)


def halves(a, axis: int = -1):
    """The a, b halves of a gated function's input along `axis`."""
    return np.split(a, 2, axis=axis)


def expected(name: str, direction: str, dtype, x: np.ndarray, g: np.ndarray,
             y: Optional[np.ndarray], w: Optional[np.ndarray], params: dict,
             from_y: bool = False):
    """(values, unit) of `name` at x (and grad g, forward output y, prelu weight w),
    direction "fwd" or "bwd" (from y where `from_y`), with the registry's keyword
    `params`; the unit is None or the magnitude errors are counted in (ulp.py).
    None where the reference has no such direction.  Arrays are in the tested dtype;
    softmax and gated functions work along ``params["axis"]``."""
    ref = REFERENCES.get(name)
    dtype = np.dtype(dtype)
    rp = ref_params(params, dtype)
    x_ld, g_ld = x.astype(LD), g.astype(LD)
    if isinstance(ref, Elementwise):
        if direction == "fwd":
            return ref.evaluate("f", x_ld, dtype, rp), None
        part, at = ("dy", y.astype(LD)) if from_y else ("dx", x_ld)
        if getattr(ref, part) is None:
            return None
        terms = getattr(ref, part + "_terms")
        unit = None if terms is None else g_ld * ref.evaluate(part + "_terms", at, dtype, rp)
        return g_ld * ref.evaluate(part, at, dtype, rp), unit
    if isinstance(ref, Softmax):
        axis = params.get("axis", -1)
        y_want, y_unit = ref.forward(x_ld, axis)
        if direction == "fwd":
            return y_want, y_unit
        return ref.backward(g_ld, y.astype(LD) if from_y else y_want, axis)
    if isinstance(ref, Gated):
        axis = params.get("axis", -1)
        a, b = halves(x_ld, axis)
        with np.errstate(all="ignore"):
            f, da, da_terms, db = ref.values(a, b, params.get("approximate", "none"))
            if direction == "fwd":
                return f, None
            unit = None if da_terms is None else np.concatenate(
                [np.abs(g_ld) * da_terms, np.zeros_like(db)], axis=axis)
            return np.concatenate([g_ld * da, g_ld * db], axis=axis), unit
    if isinstance(ref, Prelu):
        wb = broadcast_weight(w.astype(LD), x.ndim, params.get("axis", 1))
        return (ref.forward(x_ld, wb) if direction == "fwd" else ref.backward(g_ld, x_ld, wb)), None
    return None
