"""The validating path of the public functions, and what they share with the kernels.

Each public function (``_functions.py``, generated from ``_spec.py``) first calls the
compiled entry point of the SIMD level in use, which handles the plain case (ndarrays
already float32/float64, C-contiguous, with a matching ``out``) and returns
NotImplemented for anything else.  Then the function comes here: ``_validation``
raises the documented errors before anything is written and normalizes the arguments
(copies, views), and the kernel runs on what it returns.  ``K`` below is always the
kernel module the caller uses.

The kernels' op numbers, softmax modes and the ``Direction`` enum are read from the
compiled module itself (every SIMD level is built from the same source), so that the
Python layer names each of them once.
"""

from __future__ import annotations

import numbers
from types import ModuleType
from typing import Dict, Optional, Tuple

import numpy as np

from . import _kernels, _spec, _validation

#: Which pass a kernel runs: FORWARD (x -> y), BACKWARD (grad, x -> dx) or
#: BACKWARD_FROM_OUTPUT (grad, y -> dx); defined in _kernels.pyx.
Direction = _kernels.Direction
FORWARD, BACKWARD, BACKWARD_FROM_OUTPUT = (Direction.FORWARD, Direction.BACKWARD,
                                           Direction.BACKWARD_FROM_OUTPUT)

#: Kernel op number of each elementwise op name (the order of the generated .pxi).
OP_ID: Dict[str, int] = {row[0]: i for i, row in enumerate(_spec.kernel_ops())}
#: Kernel op number of each gated op name.
GATE_ID: Dict[str, int] = {name: i for i, name in enumerate(_spec.gate_ops())}


def checked_kernels(module: ModuleType) -> ModuleType:
    """``module``, after checking that it was built from this ``_spec.py``'s op table."""
    if tuple(module.ELEMENTWISE_OPS) != tuple(OP_ID):
        raise ImportError(
            f"{module.__name__} was built from another op table ({module.ELEMENTWISE_OPS}) than "
            f"_spec.py ({tuple(OP_ID)}); rebuild the package")
    return module


def softmax_modes(name: str) -> Tuple[int, int, int]:
    """The softmax kernel's modes of a softmax-family function: (forward, backward from
    x, backward from y); softmin runs softmax's with a flipped sign."""
    base = "softmax" if name == "softmin" else name
    return tuple(int(_kernels.SOFTMAX_MODES[base, d])
                 for d in (FORWARD, BACKWARD, BACKWARD_FROM_OUTPUT))  # type: ignore[return-value]


def elementwise_op(spec: _spec.Spec):
    """``spec.kernel_args`` returning the op number instead of its name."""
    mapper = spec.kernel_args

    def args(**params) -> Tuple[int, float, float]:
        op_name, a, b = mapper(**params)
        return OP_ID[op_name], a, b
    return args


def gate_op(spec: _spec.Spec):
    """``spec.kernel_args`` returning the gated op number of the parameters."""
    mapper = spec.kernel_args

    def args(**params) -> int:
        return GATE_ID[mapper(**params)[0]]
    return args


def _scalar_if_0d(res, out):
    """A NumPy scalar for a 0-d result without ``out`` (as ufuncs return), else res."""
    return res[()] if out is None and res.ndim == 0 else res


# ------------------------------------------------------------------ elementwise

def elementwise(K: ModuleType, fname: str, direction: int, op: int, in1, in2, out, a: float,
                b: float):
    """Validate and normalize, then run the kernel; returns the caller's ``out`` if given."""
    in2_name = "y" if direction == BACKWARD_FROM_OUTPUT else "x"
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
    res = K.elementwise(direction, op, args[0], args[1], out_arr, a, b)
    if res is NotImplemented:  # pragma: no cover - validation admits only what the kernel takes
        raise RuntimeError(f"{fname}: internal error: validated arguments were refused")
    return res if out is None else out


def elementwise_bias(K: ModuleType, fname: str, direction: int, op: int, in1, in2, out,
                     a: float, b: float, bias, bias_axis, grad_bias):
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
        K.elementwise_bias(FORWARD, op, ref, None, bias_arr, res, None, outer, length, inner, a, b)
    elif direction == BACKWARD and bias_arr is not None:
        K.elementwise_bias(BACKWARD, op, grad, ref, bias_arr, res, gb, outer, length, inner, a, b)
    else:  # nothing to add to x (from y, or grad_bias alone): the plain loop, then the sums
        K.elementwise(direction, op, grad, ref, res, a, b)
        if gb is not None:
            K.elementwise_bias(BACKWARD_FROM_OUTPUT, op, res, None, None, res, gb, outer, length,
                               inner, a, b)
    return _scalar_if_0d(res, out) if out is None else out


# ------------------------------------------------------------------ rrelu

def seed64(fname: str, seed) -> int:
    """rrelu's ``seed``: any Python or NumPy integer, reduced to 64 bits."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{fname}: seed must be an integer, got {type(seed).__name__}")
    return int(seed) & 0xFFFFFFFFFFFFFFFF


def rrelu_flags(fname: str, training, seed) -> bool:
    """rrelu's ``training`` as a bool, after checking ``seed`` (``seed64``): a bool or an
    integer, else TypeError (a string is no flag: "False" would be true)."""
    seed64(fname, seed)
    if not isinstance(training, (bool, np.bool_, numbers.Integral)):
        raise TypeError(f"{fname}: training must be a bool, got {type(training).__name__} "
                        f"{training!r}")
    return bool(training)


def rrelu_bounds_in(lower, upper, dtype: np.dtype) -> Tuple[float, float]:
    """rrelu's bounds converted to the data's dtype, then checked (docs/api.md,
    "Parameters"), as the C API's float entries receive and check them."""
    lo, hi = _spec._real("rrelu", "lower", lower), _spec._real("rrelu", "upper", upper)
    rounded = _validation.rounded_to
    return _spec._rrelu_bounds(rounded(dtype, lo), rounded(dtype, hi))


def rrelu_training(K: ModuleType, fname: str, direction: int, in1, x, out, lower, upper, seed):
    """rrelu with training=True: slopes drawn per element from (seed, index)."""
    if direction == FORWARD:
        xa = _validation.as_input(fname, "x", in1)
        lo, hi = rrelu_bounds_in(lower, upper, xa.dtype)
        out_arr = _validation.as_output(fname, out, xa.shape, xa.dtype, [("x", xa)])
        res = K.rrelu_training(FORWARD, xa, None, out_arr, lo, hi, seed64(fname, seed))
    else:
        xa = _validation.as_input(fname, "x", x)
        ga = _validation.as_input(fname, "grad", in1)
        _validation.match(fname, "grad", ga, "x", xa)
        lo, hi = rrelu_bounds_in(lower, upper, xa.dtype)
        out_arr = _validation.as_output(fname, out, xa.shape, xa.dtype, [("grad", ga), ("x", xa)])
        res = K.rrelu_training(BACKWARD, ga, xa, out_arr, lo, hi, seed64(fname, seed))
    return res if out is None else out


# ------------------------------------------------------------------ softmax family

def softmax_forward(K: ModuleType, fname: str, mode: int, flip: float, x, axis, out):
    """A plain softmax-family forward (no scale or mask) that the fast path declined."""
    xa = _validation.as_input(fname, "x", x)
    outer, length, inner = _validation.axis_split(fname, xa.shape, axis)
    out_arr = _validation.as_output(fname, out, xa.shape, xa.dtype, [("x", xa)])
    res = np.empty(xa.shape, xa.dtype) if out_arr is None else out_arr
    K.softmax(mode, xa, None, res, outer, length, inner, flip)
    return _scalar_if_0d(res, out) if out is None else out


def softmax_backward(K: ModuleType, fname: str, modes: Tuple[int, int, int], flip: float,
                     grad, x, y, axis, out):
    """A plain softmax-family backward (no scale or mask) that the fast path declined;
    ``modes`` as ``softmax_modes`` gives them."""
    which, value = _validation.exactly_one(fname, x, y, True)
    second = _validation.as_input(fname, which, value)
    ga = _validation.as_input(fname, "grad", grad)
    _validation.match(fname, "grad", ga, which, second)
    outer, length, inner = _validation.axis_split(fname, second.shape, axis)
    out_arr = _validation.as_output(fname, out, second.shape, second.dtype,
                                    [("grad", ga), (which, second)])
    res = np.empty(second.shape, second.dtype) if out_arr is None else out_arr
    mode = modes[BACKWARD] if which == "x" else modes[BACKWARD_FROM_OUTPUT]
    K.softmax(mode, ga, second, res, outer, length, inner, flip)
    return _scalar_if_0d(res, out) if out is None else out


def softmax_fused(K: ModuleType, fname: str, modes: Tuple[int, int, int], flip: float,
                  direction: int, in1, x, y, axis, scale, mask, out):
    """softmax(scale * x + mask) and its backward (docs/api.md, "Fused forms"); with the
    default scale and no mask, the plain call.  ``direction`` is FORWARD (in1 = x) or
    BACKWARD (in1 = grad, exactly one of x, y).

    The kernel works along the last axis: another axis is moved there (a copy of x,
    not of the mask) and the result moved back into place.
    """
    s = _validation.softmax_scale(fname, scale)
    if mask is None and s == 1.0:
        if direction == FORWARD:
            res = K.softmax_plain(modes[FORWARD], in1, None, out, axis, flip)
            if res is NotImplemented:
                res = softmax_forward(K, fname, modes[FORWARD], flip, in1, axis, out)
            return res
        if (x is None) != (y is None):
            res = K.softmax_plain(modes[BACKWARD] if y is None else modes[BACKWARD_FROM_OUTPUT],
                                  in1, x if y is None else y, out, axis, flip)
            if res is not NotImplemented:
                return res
        return softmax_backward(K, fname, modes, flip, in1, x, y, axis, out)
    if direction == FORWARD:
        which = "forward"
        ref = _validation.as_input(fname, "x", in1)
        arrays = [("x", ref)]
    else:
        which, value = _validation.exactly_one(fname, x, y, True)
        ref = _validation.as_input(fname, which, value)
        grad = _validation.as_input(fname, "grad", in1)
        _validation.match(fname, "grad", grad, which, ref)
        arrays = [("grad", grad), (which, ref)]
    _validation.axis_split(fname, ref.shape, axis)   # AxisError / TypeError for a bad axis
    _validation.softmax_scale_in(fname, s, ref.dtype)
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
    mode = modes[FORWARD if which == "forward" else BACKWARD if which == "x"
                 else BACKWARD_FROM_OUTPUT]
    K.softmax_masked(mode, moved[0], moved[1] if len(moved) > 1 else None, target, rows,
                     length, s, flip, m_arr, offsets, step)
    if not last:
        res.reshape(shape)[...] = np.moveaxis(target, -1, ax)
    return _scalar_if_0d(res, out) if out is None else out


# ------------------------------------------------------------------ prelu

def _prelu_layout(fname: str, xa: np.ndarray, weight, axis):
    """prelu's weight as an array of x's dtype and the (outer, channels, inner) view of x."""
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


def prelu(K: ModuleType, x, weight, axis, out):
    """prelu on arguments the fast path declined."""
    xa = _validation.as_input("prelu", "x", x)
    w, (outer, channels, inner) = _prelu_layout("prelu", xa, weight, axis)
    out_arr = _validation.as_output("prelu", out, xa.shape, xa.dtype, [("x", xa), ("weight", w)])
    res = np.empty(xa.shape, xa.dtype) if out_arr is None else out_arr
    K.prelu(FORWARD, None, xa, w, res, None, outer, channels, inner)
    return _scalar_if_0d(res, out) if out is None else out


def prelu_backward(K: ModuleType, grad, x, weight, axis, out):
    """prelu_backward on arguments the fast path declined: (grad_x, grad_weight)."""
    fname = "prelu_backward"
    xa = _validation.as_input(fname, "x", x)
    ga = _validation.as_input(fname, "grad", grad)
    _validation.match(fname, "grad", ga, "x", xa)
    w, (outer, channels, inner) = _prelu_layout(fname, xa, weight, axis)
    out_arr = _validation.as_output(fname, out, xa.shape, xa.dtype,
                                    [("grad", ga), ("x", xa), ("weight", w)])
    res = np.empty(xa.shape, xa.dtype) if out_arr is None else out_arr
    grad_weight = np.empty(w.shape, xa.dtype)
    K.prelu(BACKWARD, ga, xa, w, res, grad_weight, outer, channels, inner)
    return (_scalar_if_0d(res, out) if out is None else out), grad_weight


# ------------------------------------------------------------------ gated (glu family)

def _halves(fname: str, shape, axis):
    """(outer, half, inner, half_shape) of x's shape split in halves along axis."""
    outer, length, inner = _validation.axis_split(fname, shape, axis)
    if length % 2:
        raise ValueError(f"{fname}: x.shape[{axis}] = {length} must be even (split into halves)")
    ax = int(axis) % max(len(shape), 1)
    half_shape = tuple(shape[:ax]) + (length // 2,) + tuple(shape[ax + 1:])
    return outer, length // 2, inner, half_shape


def gated(K: ModuleType, fname: str, op: int, x, axis, out):
    """A gated forward on arguments the fast path declined."""
    xa = _validation.as_input(fname, "x", x)
    if xa.ndim == 0:
        raise ValueError(f"{fname}: x must have at least one axis to split, got a 0-d array")
    outer, half, inner, half_shape = _halves(fname, xa.shape, axis)
    out_arr = _validation.as_output(fname, out, half_shape, xa.dtype, [("x", xa)])
    res = np.empty(half_shape, xa.dtype) if out_arr is None else out_arr
    K.gated(FORWARD, op, xa, None, res, outer, half, inner)
    return res if out is None else out


def gated_backward(K: ModuleType, fname: str, op: int, grad, x, y, axis, out):
    """A gated backward on arguments the fast path declined (from x only)."""
    _validation.exactly_one(fname, x, y, False)
    xa = _validation.as_input(fname, "x", x)
    if xa.ndim == 0:
        raise ValueError(f"{fname}: x must have at least one axis to split, got a 0-d array")
    ga = _validation.as_input(fname, "grad", grad)
    outer, half, inner, half_shape = _halves(fname, xa.shape, axis)
    if ga.dtype != xa.dtype:
        raise TypeError(f"{fname}: grad has dtype {ga.dtype} but x has dtype {xa.dtype}; "
                        "they must match (no silent casts)")
    if ga.shape != half_shape:
        raise ValueError(f"{fname}: grad has shape {ga.shape}; expected {half_shape} "
                         f"(x's shape {xa.shape} halved along axis {axis})")
    out_arr = _validation.as_output(fname, out, xa.shape, xa.dtype, [("grad", ga), ("x", xa)])
    res = np.empty(xa.shape, xa.dtype) if out_arr is None else out_arr
    K.gated(BACKWARD, op, xa, ga, res, outer, half, inner)
    return res if out is None else out
