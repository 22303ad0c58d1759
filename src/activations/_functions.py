"""The public functions, made from the rows of ``_spec.SPECS``.

Each function is generated from a short source template (as ``dataclasses`` does), so
that it has a real signature, a docstring written from its row, and no per-call
work beyond the two steps every call takes:

  1. the compiled entry point of the selected SIMD level, which handles the plain
     case (ndarrays already float32/float64, C-contiguous, with a matching ``out``);
  2. only if that returns NotImplemented: ``_validation`` (errors, copies), then the
     entry point again.

``_K`` is the kernel module of the SIMD level in use; ``__init__`` binds it at import
and ``activations._set_simd_level`` rebinds it.
"""

from __future__ import annotations

from types import ModuleType
import math
import numbers
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from . import _spec, _validation

_K: ModuleType  # bound by bind_kernels()

#: kernel op number of each elementwise op name (same order as the generated .pxi)
OP_ID: Dict[str, int] = {row[0]: i for i, row in enumerate(_spec.kernel_ops())}

FORWARD, BACKWARD, BACKWARD_FROM_OUTPUT = 0, 1, 2


def bind_kernels(module: ModuleType) -> None:
    global _K
    if tuple(module.ELEMENTWISE_OPS) != tuple(OP_ID):
        raise ImportError(
            f"{module.__name__} was built from another op table ({module.ELEMENTWISE_OPS}) than "
            f"_spec.py ({tuple(OP_ID)}); rebuild the package")
    _K = module


# ------------------------------------------------------------------ slow paths

def _elementwise_slow(fname: str, direction: int, op: int, in1, in2, out, a: float, b: float,
                      in2_name: str = "x"):
    """Validate and normalize, then run the kernel; returns the caller's ``out`` if given."""
    if direction == FORWARD:
        x = _validation.as_input(fname, "x", in1)
        inputs = [("x", x)]
        shape, dtype, args = x.shape, x.dtype, (x, None)
    else:
        second = _validation.as_input(fname, in2_name, in2)
        grad = _validation.as_input(fname, "grad", in1)
        _validation.match(fname, "grad", grad, in2_name, second)
        inputs = [("grad", grad), (in2_name, second)]
        shape, dtype, args = second.shape, second.dtype, (grad, second)
    out_arr = _validation.as_output(fname, out, shape, dtype, inputs)
    res = _K.elementwise(direction, op, args[0], args[1], out_arr, a, b)
    if res is NotImplemented:  # pragma: no cover - validation admits only what the kernel takes
        raise RuntimeError(f"{fname}: internal error: validated arguments were refused")
    return res if out is None else out


def _elementwise_bias(fname: str, direction: int, op: int, in1, in2, out, a: float, b: float,
                      bias, bias_axis, grad_bias):
    """The bias forms (docs/api.md, "Fused forms"): forward f(x + bias); backward from x
    grad * f'(x + bias) (from y the bias is checked but not needed), filling
    ``grad_bias`` with the gradient summed over every axis but ``bias_axis``."""
    in2_name = "y" if direction == BACKWARD_FROM_OUTPUT else "x"
    if direction == FORWARD:
        ref = _validation.as_input(fname, "x", in1)
        grad, inputs = None, [("x", ref)]
    else:
        ref = _validation.as_input(fname, in2_name, in2)
        grad = _validation.as_input(fname, "grad", in1)
        _validation.match(fname, "grad", grad, in2_name, ref)
        inputs = [("grad", grad), (in2_name, ref)]
    hint = grad_bias.shape[0] if (isinstance(grad_bias, np.ndarray) and grad_bias.ndim == 1) else None
    bias_arr, (outer, length, inner) = _validation.bias_layout(fname, ref, bias, bias_axis, hint)
    out_arr = _validation.as_output(fname, out, ref.shape, ref.dtype, inputs)
    gb = _validation.as_grad_bias(fname, grad_bias, length if bias_arr is None else bias_arr.size,
                                  ref.dtype, inputs + [("bias", bias_arr), ("out", out_arr)])
    if bias_arr is not None and out_arr is not None and np.shares_memory(bias_arr, out_arr):
        bias_arr = bias_arr.copy()  # read throughout the pass that writes out
    res = np.empty(ref.shape, ref.dtype) if out_arr is None else out_arr
    if direction == FORWARD:
        _K.elementwise_bias(FORWARD, op, ref, None, bias_arr, res, None, outer, length, inner, a, b)
    elif direction == BACKWARD and bias_arr is not None:
        _K.elementwise_bias(BACKWARD, op, grad, ref, bias_arr, res, gb, outer, length, inner, a, b)
    else:  # nothing to add to x (from y, or grad_bias alone): the plain loop, then the sums
        _K.elementwise(direction, op, grad, ref, res, a, b)
        if gb is not None:
            _K.elementwise_bias(BACKWARD_FROM_OUTPUT, op, res, None, None, res, gb, outer, length,
                                inner, a, b)
    return res if out is None else out


def _op_args(spec: _spec.Spec) -> Callable[..., Tuple[int, float, float]]:
    """Wrap spec.kernel_args so that it returns the op number instead of its name."""
    mapper = spec.kernel_args

    def args(**params):
        op_name, a, b = mapper(**params)
        return OP_ID[op_name], a, b
    return args


#: Parameter-cache size per function (cleared when full: callers use a few values).
_ARGS_CACHE_SIZE = 64


def _signed_zeros(key):
    """``key`` with every zero replaced by a marker of its sign, or None if it holds no
    zero: 0.0 and -0.0 are equal dict keys, yet give different results (a threshold
    value, a slope), so a key with a zero is stored and looked up in this form."""
    try:
        if not any(not isinstance(v, str) and v == 0 for v in key):
            return None
        return tuple(("zero", math.copysign(1.0, float(v)))
                     if not isinstance(v, str) and v == 0 else v for v in key)
    except (TypeError, ValueError):  # arrays or odd objects: not cached
        return None


def _float32_error(args: Callable, params) -> Optional[ValueError]:
    """The ValueError ``args`` raises for ``params`` rounded to float32, or None.

    Parameters are converted to the array's dtype before use (docs/api.md), so the
    checks (finite, non-zero, ...) must hold for the float32 value too: beta = 1e300
    is finite but float32(1e300) is inf."""
    rounded = {}
    for k, v in params.items():
        if isinstance(v, (str, bool)) or not isinstance(v, (numbers.Real, np.ndarray)):
            rounded[k] = v
            continue
        with np.errstate(over="ignore", under="ignore"):
            rounded[k] = float(np.float32(float(v)))
    try:
        args(**rounded)
    except ValueError as exc:
        return exc
    return None


def _is_float32(data) -> bool:
    dtype = getattr(data, "dtype", None)
    return (dtype if isinstance(dtype, np.dtype) else np.asarray(data).dtype) == np.float32


def _cached_args(cache: dict, args: Callable, key, data, **params):
    """Validate ``params`` with ``args`` and remember the result under ``key``.

    ``data``: the array whose dtype the parameters are converted to; parameters valid
    as float64 but not as float32 raise ValueError for float32 data (and are never
    cached, so every call checks)."""
    zero_key = _signed_zeros(key)
    if zero_key is not None:
        try:
            return cache[zero_key]
        except (KeyError, TypeError):
            pass
    result = args(**params)   # raises ValueError for invalid values: nothing cached
    error32 = _float32_error(args, params)
    if error32 is not None:
        if _is_float32(data):
            raise ValueError(f"{error32} (after conversion to float32, the array's dtype)")
        return result
    try:
        if len(cache) >= _ARGS_CACHE_SIZE:
            cache.clear()
        cache[key if zero_key is None else zero_key] = result
    except TypeError:         # an unhashable parameter value: just not cached
        pass
    return result


def _check_from_output(check: Callable, y, **params) -> None:
    """Backward from y is possible for these parameters (``check``), also after their
    conversion to float32 when y is float32 (negative_slope = 1e-50 becomes 0)."""
    check(**params)
    error32 = _float32_error(check, params)
    if error32 is not None and _is_float32(y):
        raise ValueError(f"{error32} (after conversion to float32, the array's dtype)")


def _scalar_if_0d(res, out):
    """A NumPy scalar for a 0-d result without ``out`` (as ufuncs return), else res."""
    return res[()] if out is None and res.ndim == 0 else res


# ------------------------------------------------------------------ templates

_FORWARD_TEMPLATE = '''
def {name}(x, *, {params_sig}bias=None, bias_axis=-1, out=None):
    {args_line_forward}
    if bias is not None:
        return _elementwise_bias("{name}", 0, op, x, None, out, a, b, bias, bias_axis, None)
    res = _K.elementwise(0, op, x, None, out, a, b)
    if res is NotImplemented:
        res = _elementwise_slow("{name}", 0, op, x, None, out, a, b)
    return res
'''

_BACKWARD_TEMPLATE = '''
def {name}_backward(grad, x=None, *, y=None, {params_sig}bias=None, bias_axis=-1,
                    grad_bias=None, out=None):
    {args_line_backward}
    if bias is not None or grad_bias is not None:
        name, value = _validation.exactly_one("{name}_backward", x, y, {takes_y})
        if name == "y":
            {from_output_check}
        return _elementwise_bias("{name}_backward", 1 if name == "x" else 2, op, grad, value,
                                 out, a, b, bias, bias_axis, grad_bias)
    if y is None and x is not None:
        res = _K.elementwise(1, op, grad, x, out, a, b)
        if res is NotImplemented:
            res = _elementwise_slow("{name}_backward", 1, op, grad, x, out, a, b)
        return res
    name, value = _validation.exactly_one("{name}_backward", x, y, {takes_y})
    {from_output_check}
    res = _K.elementwise(2, op, grad, value, out, a, b)
    if res is NotImplemented:
        res = _elementwise_slow("{name}_backward", 2, op, grad, value, out, a, b, "y")
    return res
'''


def _docstrings(spec: _spec.Spec) -> Tuple[str, str]:
    params = "".join(f"    {k}: float, default {v!r}\n" for k, v in spec.params.items())
    params_doc = f"Parameters (keyword-only)\n    ---------\n{params}" if params else ""
    takes = " or ".join(spec.backward_takes)
    forward = (
        f"{spec.summary}\n\n    y = {spec.formula}\n\n"
        "    x: array-like of float32 or float64, any shape (other dtypes raise TypeError).\n"
        "    out: None (a new array) or a C-contiguous, writeable ndarray of x's shape and\n"
        "        dtype; it may be x itself (in place).  Returns the array written.\n"
        + (f"    {params_doc}" if params else "")
        + f"\n    Backward: activations.{spec.name}_backward.\n"
    )
    backward = (
        f"Gradient of {spec.name}: grad * f'(x), with f'(x) = {spec.derivative}.\n\n"
        f"    Takes exactly one of x (the forward input) or y (its output): accepts {takes}.\n"
        "    grad: dL/dy, same shape and dtype as x / y.  out: None or a C-contiguous,\n"
        "    writeable ndarray of that shape and dtype; it may be grad (or x / y) itself.\n"
        + (f"    {params_doc}" if params else "")
    )
    return forward, backward


def _make_elementwise(spec: _spec.Spec) -> Tuple[Callable, Callable]:
    namespace: Dict[str, object] = {}
    # a required parameter (default REQUIRED) is keyword-only without a default, so
    # Python's own message names the function and the parameter when it is missing
    params_sig = "".join(f"{k}, " if v is _spec.REQUIRED else f"{k}={v!r}, "
                         for k, v in spec.params.items())
    if spec.params:
        call = ", ".join(f"{k}={k}" for k in spec.params)
        # The validated (op, a, b) of recent parameter values are cached: validating
        # and converting them costs more than the kernel on a small array.
        key = ", ".join(spec.params) + ("," if len(spec.params) == 1 else "")
        args_line = (f"try:\n        op, a, b = _cache_{spec.name}[{key}]\n"
                     f"    except (KeyError, TypeError):\n"
                     f"        op, a, b = _cached_args(_cache_{spec.name}, _args_{spec.name}, "
                     f"({key}), {{data}}, {call})")
        namespace[f"_args_{spec.name}"] = _op_args(spec)
        namespace[f"_cache_{spec.name}"] = {}
    else:
        op_name, a, b = spec.kernel_args()
        args_line = f"op, a, b = {OP_ID[op_name]}, {a!r}, {b!r}"
    takes_y = "y" in spec.backward_takes
    if spec.check_from_output is not None:
        call = ", ".join(f"{k}={k}" for k in spec.params)
        check = f"_check_from_output(_from_output_{spec.name}, value, {call})"
        namespace[f"_from_output_{spec.name}"] = spec.check_from_output
    else:
        check = "pass"
    source = (_FORWARD_TEMPLATE + _BACKWARD_TEMPLATE).format(
        name=spec.name, params_sig=params_sig, args_line_forward=args_line.format(data="x"),
        args_line_backward=args_line.format(data="x if x is not None else y"),
        takes_y=takes_y, from_output_check=check)
    # Executed in this module's namespace, so that the functions see _K rebound.
    globals().update(namespace)
    exec(compile(source, f"<activations.{spec.name}>", "exec"), globals())
    forward = globals().pop(spec.name)
    backward = globals().pop(f"{spec.name}_backward")
    forward.__doc__, backward.__doc__ = _docstrings(spec)
    forward.__doc__ += _BIAS_DOC
    backward.__doc__ += _BIAS_DOC + _GRAD_BIAS_DOC
    for fn in (forward, backward):
        fn.__module__ = "activations"
        fn.__qualname__ = fn.__name__
    return forward, backward


_BIAS_DOC = (
    "\n    bias: None, or a 1-D array of x's dtype, of length x.shape[bias_axis] or 1: the\n"
    "        function of x + bias (rounded in the dtype, never stored), in one pass.\n")
_GRAD_BIAS_DOC = (
    "    grad_bias: None, or a 1-D array of bias's shape and x's dtype that receives the\n"
    "        gradient summed over every axis but bias_axis (bit-identical for any thread\n"
    "        count).  From y the bias is not needed.\n")


# ------------------------------------------------------------------ rrelu

def _make_rrelu(spec: _spec.Spec) -> Tuple[Callable, Callable]:
    op_args = _op_args(spec)
    bounds = _spec._rrelu_bounds
    cache: dict = {}

    def eval_args(lower, upper):
        try:
            return cache[lower, upper]
        except (KeyError, TypeError):
            return _cached_args(cache, op_args, (lower, upper), None, lower=lower, upper=upper)

    def rrelu(x, *, lower=1 / 8, upper=1 / 3, training=False, seed=0, out=None):
        if not training:
            op, a, b = eval_args(lower=lower, upper=upper)
            res = _K.elementwise(0, op, x, None, out, a, b)
            if res is NotImplemented:
                res = _elementwise_slow("rrelu", 0, op, x, None, out, a, b)
            return res
        lo, hi = bounds(lower, upper)
        xa = _validation.as_input("rrelu", "x", x)
        out_arr = _validation.as_output("rrelu", out, xa.shape, xa.dtype, [("x", xa)])
        res = _K.rrelu_training(0, xa, None, out_arr, lo, hi, _seed("rrelu", seed))
        return res if out is None else out

    def rrelu_backward(grad, x=None, *, y=None, lower=1 / 8, upper=1 / 3, training=False,
                       seed=0, out=None):
        _validation.exactly_one("rrelu_backward", x, y, False)
        if not training:
            op, a, b = eval_args(lower=lower, upper=upper)
            res = _K.elementwise(1, op, grad, x, out, a, b)
            if res is NotImplemented:
                res = _elementwise_slow("rrelu_backward", 1, op, grad, x, out, a, b)
            return res
        lo, hi = bounds(lower, upper)
        xa = _validation.as_input("rrelu_backward", "x", x)
        ga = _validation.as_input("rrelu_backward", "grad", grad)
        _validation.match("rrelu_backward", "grad", ga, "x", xa)
        out_arr = _validation.as_output("rrelu_backward", out, xa.shape, xa.dtype,
                                        [("grad", ga), ("x", xa)])
        res = _K.rrelu_training(1, ga, xa, out_arr, lo, hi, _seed("rrelu_backward", seed))
        return res if out is None else out

    rrelu.__doc__, rrelu_backward.__doc__ = _docstrings(spec)
    rrelu.__doc__ += (
        "\n    training=True draws each element's slope a_i ~ U(lower, upper) from a\n"
        "    counter-based generator keyed by (seed, flat C-order index i): the result\n"
        "    depends on seed only (not on threads), and rrelu_backward with the same\n"
        "    arguments regenerates the same slopes.\n")
    for fn in (rrelu, rrelu_backward):
        fn.__module__ = "activations"
        fn.__qualname__ = fn.__name__   # pickled by reference, as activations.rrelu
    return rrelu, rrelu_backward


def _seed(fname: str, seed) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{fname}: seed must be an integer, got {type(seed).__name__}")
    return int(seed) & 0xFFFFFFFFFFFFFFFF  # any Python int, reduced to 64 bits


# ------------------------------------------------------------------ softmax family

def _make_softmax(spec: _spec.Spec) -> Tuple[Callable, Callable]:
    name = spec.name
    base, flip = ("softmax", -1.0) if name == "softmin" else (name, 1.0)

    def forward(x, *, axis=-1, scale=1.0, mask=None, out=None):
        if mask is not None or type(scale) is not float or scale != 1.0:
            return _softmax_fused(name, forward, base, flip, x, None, None, axis, scale, mask,
                                  out, True)
        res = _K.softmax_plain(_K.SOFTMAX_MODES[base, "forward"], x, None, out, axis, flip)
        if res is not NotImplemented:
            return res
        xa = _validation.as_input(name, "x", x)
        outer, length, inner = _validation.axis_split(name, xa.shape, axis)
        out_arr = _validation.as_output(name, out, xa.shape, xa.dtype, [("x", xa)])
        res = np.empty(xa.shape, xa.dtype) if out_arr is None else out_arr
        _K.softmax(_K.SOFTMAX_MODES[base, "forward"], xa, None, res, outer, length, inner, flip)
        return _scalar_if_0d(res, out) if out is None else out

    def backward(grad, x=None, *, y=None, axis=-1, scale=1.0, mask=None, out=None):
        fname = f"{name}_backward"
        if mask is not None or type(scale) is not float or scale != 1.0:
            return _softmax_fused(fname, backward, base, flip, grad, x, y, axis, scale, mask,
                                  out, False)
        if (x is None) != (y is None):
            res = _K.softmax_plain(_K.SOFTMAX_MODES[base, "x" if y is None else "y"], grad,
                                   x if y is None else y, out, axis, flip)
            if res is not NotImplemented:
                return res
        which, value = _validation.exactly_one(fname, x, y, True)
        second = _validation.as_input(fname, which, value)
        ga = _validation.as_input(fname, "grad", grad)
        _validation.match(fname, "grad", ga, which, second)
        outer, length, inner = _validation.axis_split(fname, second.shape, axis)
        out_arr = _validation.as_output(fname, out, second.shape, second.dtype,
                                        [("grad", ga), (which, second)])
        res = np.empty(second.shape, second.dtype) if out_arr is None else out_arr
        _K.softmax(_K.SOFTMAX_MODES[base, which], ga, second, res, outer, length, inner, flip)
        return _scalar_if_0d(res, out) if out is None else out

    forward.__name__ = forward.__qualname__ = name
    backward.__name__ = backward.__qualname__ = f"{name}_backward"
    forward.__doc__, backward.__doc__ = _docstrings(spec)
    forward.__doc__ += (
        "\n    axis: the axis to normalize along (any, negative counts from the end).\n"
        "    Edge cases as PyTorch: a row of all -inf gives NaN; -inf entries give 0\n"
        "    (log: -inf); NaN or +inf in a row gives a NaN row.\n"
        "\n    scale, mask: the fused form, of scale * x + mask: a float mask of x's dtype is\n"
        "    added, a bool one keeps the entries where it is True; it broadcasts to x and\n"
        "    is never expanded.  A row whose logits are all -inf gives 0 (log: -inf) and a\n"
        "    zero gradient.  The backward takes the same scale (from x, the same mask).\n")
    for fn in (forward, backward):
        fn.__module__ = "activations"
    return forward, backward


def _softmax_fused(fname: str, plain: Callable, base: str, flip: float, in1, x, y, axis,
                   scale, mask, out, forward: bool):
    """softmax(scale * x + mask) and its backward (docs/api.md, "Fused forms").

    ``plain`` is the public function itself, called back when the arguments turn out to
    be the defaults.  The kernel works along the last axis: another axis is moved there
    (a copy of x, not of the mask) and the result moved back into place.
    """
    s = _validation.softmax_scale(fname, scale)
    if mask is None and s == 1.0:
        return plain(in1, axis=axis, out=out) if forward else plain(in1, x, y=y, axis=axis, out=out)
    if forward:
        which, second = "forward", None
        ref = _validation.as_input(fname, "x", in1)
        arrays = [("x", ref)]
    else:
        which, value = _validation.exactly_one(fname, x, y, True)
        ref = _validation.as_input(fname, which, value)
        grad = _validation.as_input(fname, "grad", in1)
        _validation.match(fname, "grad", grad, which, ref)
        arrays = [("grad", grad), (which, ref)]
    _validation.axis_split(fname, ref.shape, axis)   # AxisError / TypeError for a bad axis
    ax = int(axis) % max(ref.ndim, 1)
    m_arr = offsets = None
    step = 0
    if mask is not None:
        m_arr, offsets, step = _validation.softmax_mask(fname, mask, ref.shape, ref.dtype, ax)
        if which == "y":   # y already holds the mask (-inf / 0 where it excluded)
            m_arr = offsets = None
    out_arr = _validation.as_output(fname, out, ref.shape, ref.dtype, arrays)
    if m_arr is not None and out_arr is not None and np.shares_memory(m_arr, out_arr):
        m_arr = m_arr.copy()  # read throughout the pass that writes out
    shape = ref.shape or (1,)
    last = ax == len(shape) - 1
    moved = [np.ascontiguousarray(np.moveaxis(arr.reshape(shape), ax, -1)) if not last
             else arr.reshape(shape) for _, arr in arrays]
    length = shape[ax]
    rows = ref.size // length if length else 0
    res = np.empty(ref.shape, ref.dtype) if out_arr is None else out_arr
    target = res.reshape(shape) if last else np.empty_like(moved[0])
    mode = _K.SOFTMAX_MODES[base, which]
    _K.softmax_masked(mode, moved[0], moved[1] if len(moved) > 1 else None, target, rows,
                      length, s, flip, m_arr, offsets, step)
    if not last:
        res.reshape(shape)[...] = np.moveaxis(target, -1, ax)
    return res if out is None else out


# ------------------------------------------------------------------ prelu

def _make_prelu(spec: _spec.Spec) -> Tuple[Callable, Callable]:

    def layout(fname, xa, weight, axis):
        w = _validation.as_parameter_array(fname, "weight", weight, xa.dtype)
        if w.ndim != 1:
            raise ValueError(f"{fname}: weight must be 1-D, got shape {w.shape}")
        if (xa.ndim <= 1 and isinstance(axis, (int, np.integer))
                and not isinstance(axis, (bool, np.bool_)) and axis == 1):
            axis = 0  # docs/api.md: the default axis=1 means axis 0 for 1-D x (and 0-d)
        # a 0-d x counts as one element along one axis (axis 0 or -1)
        outer, channels, inner = _validation.axis_split(fname, xa.shape, axis)
        if xa.ndim == 0:
            if w.size != 1:
                raise ValueError(f"{fname}: a 0-d x takes a weight of length 1, got {w.size}")
            return w, (1, 1, 1)
        if w.size == 1:
            return w, (1, 1, xa.size)
        if w.size != channels:
            raise ValueError(
                f"{fname}: weight has length {w.size}; expected 1 or x.shape[{axis}] = {channels}")
        return w, (outer, channels, inner)

    def prelu(x, weight, *, axis=1, out=None):
        res = _K.prelu_plain(False, None, x, weight, axis, out)
        if res is not NotImplemented:
            return res
        xa = _validation.as_input("prelu", "x", x)
        w, (outer, channels, inner) = layout("prelu", xa, weight, axis)
        out_arr = _validation.as_output("prelu", out, xa.shape, xa.dtype,
                                        [("x", xa), ("weight", w)])
        res = np.empty(xa.shape, xa.dtype) if out_arr is None else out_arr
        _K.prelu(False, None, xa, w, res, None, outer, channels, inner)
        return _scalar_if_0d(res, out) if out is None else out

    def prelu_backward(grad, x, weight, *, axis=1, out=None):
        res = _K.prelu_plain(True, grad, x, weight, axis, out)
        if res is not NotImplemented:
            return res
        fname = "prelu_backward"
        xa = _validation.as_input(fname, "x", x)
        ga = _validation.as_input(fname, "grad", grad)
        _validation.match(fname, "grad", ga, "x", xa)
        w, (outer, channels, inner) = layout(fname, xa, weight, axis)
        out_arr = _validation.as_output(fname, out, xa.shape, xa.dtype,
                                        [("grad", ga), ("x", xa), ("weight", w)])
        res = np.empty(xa.shape, xa.dtype) if out_arr is None else out_arr
        grad_weight = np.empty(w.shape, xa.dtype)
        _K.prelu(True, ga, xa, w, res, grad_weight, outer, channels, inner)
        return (_scalar_if_0d(res, out) if out is None else out), grad_weight

    prelu.__doc__ = (
        f"{spec.summary}\n\n    y = {spec.formula}\n\n"
        "    weight: 1-D, length 1 (one shared slope) or x.shape[axis] (converted to x's dtype).\n"
        "    axis: the channel axis, default 1 (for 1-D x, 0).  out: as for every function.\n")
    prelu_backward.__doc__ = (
        f"Gradients of prelu: returns (grad_x, grad_weight).\n\n    {spec.derivative}\n"
        "    grad_weight sums over every axis but `axis` (one value for a length-1 weight),\n"
        "    accumulated in float64 and bit-identical for any thread count.  out (for\n"
        "    grad_x) may be grad itself.\n")
    for fn in (prelu, prelu_backward):
        fn.__module__ = "activations"
        fn.__qualname__ = fn.__name__   # pickled by reference, as activations.prelu
    return prelu, prelu_backward


# ------------------------------------------------------------------ gated (glu family)

GATE_ID: Dict[str, int] = {name: i for i, name in enumerate(_spec.gate_ops())}


def _make_gated(spec: _spec.Spec) -> Tuple[Callable, Callable]:
    name = spec.name
    extra = [k for k in spec.params if k != "axis"]   # geglu: approximate

    def op_of(params) -> int:
        if not extra:
            return GATE_ID[spec.ops[0]]
        return GATE_ID[spec.kernel_args(**params)[0]]

    def halves(fname, shape, axis):
        outer, length, inner = _validation.axis_split(fname, shape, axis)
        if length % 2:
            raise ValueError(f"{fname}: x.shape[{axis}] = {length} must be even (split into halves)")
        ax = int(axis) % max(len(shape), 1)
        half_shape = tuple(shape[:ax]) + (length // 2,) + tuple(shape[ax + 1:])
        return outer, length // 2, inner, half_shape

    def forward(x, *, axis=-1, out=None, **params):
        op = op_of(params)
        res = _K.gated_plain(FORWARD, op, x, None, out, axis)
        if res is not NotImplemented:
            return res
        xa = _validation.as_input(name, "x", x)
        if xa.ndim == 0:
            raise ValueError(f"{name}: x must have at least one axis to split, got a 0-d array")
        outer, half, inner, half_shape = halves(name, xa.shape, axis)
        out_arr = _validation.as_output(name, out, half_shape, xa.dtype, [("x", xa)])
        res = np.empty(half_shape, xa.dtype) if out_arr is None else out_arr
        _K.gated(FORWARD, op, xa, None, res, outer, half, inner)
        return res if out is None else out

    def backward(grad, x=None, *, y=None, axis=-1, out=None, **params):
        fname = f"{name}_backward"
        op = op_of(params)
        if y is None and x is not None:
            res = _K.gated_plain(BACKWARD, op, x, grad, out, axis)
            if res is not NotImplemented:
                return res
        _validation.exactly_one(fname, x, y, False)
        xa = _validation.as_input(fname, "x", x)
        if xa.ndim == 0:
            raise ValueError(f"{fname}: x must have at least one axis to split, got a 0-d array")
        ga = _validation.as_input(fname, "grad", grad)
        outer, half, inner, half_shape = halves(fname, xa.shape, axis)
        if ga.dtype != xa.dtype:
            raise TypeError(f"{fname}: grad has dtype {ga.dtype} but x has dtype {xa.dtype}; "
                            "they must match (no silent casts)")
        if ga.shape != half_shape:
            raise ValueError(f"{fname}: grad has shape {ga.shape}; expected {half_shape} "
                             f"(x's shape {xa.shape} halved along axis {axis})")
        out_arr = _validation.as_output(fname, out, xa.shape, xa.dtype, [("grad", ga), ("x", xa)])
        res = np.empty(xa.shape, xa.dtype) if out_arr is None else out_arr
        _K.gated(BACKWARD, op, xa, ga, res, outer, half, inner)
        return res if out is None else out

    forward, backward = _with_signature(spec, forward, backward, extra)
    return forward, backward


def _with_signature(spec, forward, backward, extra):
    """Give the **params closures of _make_gated their real keyword signature."""
    defaults = "".join(f"{k}={spec.params[k]!r}, " for k in extra)
    passing = "".join(f", {k}={k}" for k in extra)
    src = (f"def {spec.name}(x, *, axis=-1, {defaults}out=None):\n"
           f"    return _impl(x, axis=axis, out=out{passing})\n"
           f"def {spec.name}_backward(grad, x=None, *, y=None, axis=-1, {defaults}out=None):\n"
           f"    return _impl_b(grad, x, y=y, axis=axis, out=out{passing})\n")
    scope = {"_impl": forward, "_impl_b": backward}
    exec(compile(src, f"<activations.{spec.name}>", "exec"), scope)
    forward, backward = scope[spec.name], scope[f"{spec.name}_backward"]
    forward.__qualname__, backward.__qualname__ = forward.__name__, backward.__name__
    fdoc, bdoc = _docstrings(spec)
    forward.__doc__ = fdoc + (
        "\n    axis: the axis split into halves a = first, b = second (its length must be\n"
        "    even); the output has half that length along axis.\n")
    backward.__doc__ = bdoc + (
        "\n    Returns the gradient for the whole x (twice grad's length along axis).\n")
    for fn in (forward, backward):
        fn.__module__ = "activations"
    return forward, backward


MAKERS = {"gated": _make_gated, "elementwise": _make_elementwise, "rrelu": _make_rrelu, "softmax": _make_softmax,
          "prelu": _make_prelu}


def make_all() -> Dict[str, Tuple[Callable, Callable]]:
    """name -> (forward, backward) for every row of the table."""
    return {spec.name: MAKERS[spec.kind](spec) for spec in _spec.SPECS}
