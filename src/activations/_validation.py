"""The one validation path shared by every public function.

The compiled entry points accept only the plain case (exact ndarrays of native
float32/float64, C-contiguous, aligned, with a matching ``out``) and return
NotImplemented otherwise.  Then the Python layer comes here: every check below runs
before anything is written, raises the error docs/api.md names with a message that says
what was given and what is expected, and otherwise normalizes the arguments (an
array-like becomes an ndarray, a non-contiguous or byte-swapped input is copied once)
so that the compiled entry point accepts them.
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

try:
    from numpy.exceptions import AxisError
except ImportError:  # numpy < 1.25
    from numpy import AxisError  # type: ignore[attr-defined,no-redef]

SUPPORTED = (np.dtype(np.float32), np.dtype(np.float64))


def _describe(arr: np.ndarray) -> str:
    return f"shape {arr.shape} and dtype {arr.dtype}"


def as_input(fname: str, argname: str, value) -> np.ndarray:
    """``value`` as a plain ndarray of float32/float64 (copied only if it must be)."""
    arr = np.asarray(value)
    if arr.dtype.newbyteorder("=") not in SUPPORTED:
        raise TypeError(
            f"{fname}: {argname} has dtype {arr.dtype}; supported dtypes are float32 and "
            "float64 (convert explicitly, e.g. x.astype(np.float32))")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))  # same values, native order
    if not (arr.flags.c_contiguous and arr.flags.aligned):
        arr = np.array(arr, order="C", copy=True)  # ascontiguousarray keeps unaligned data
    return arr


def match(fname: str, name: str, arr: np.ndarray, ref_name: str, ref: np.ndarray) -> None:
    """``arr`` must have exactly the dtype and shape of ``ref`` (no silent casts)."""
    if arr.dtype != ref.dtype:
        raise TypeError(
            f"{fname}: {name} has dtype {arr.dtype} but {ref_name} has dtype {ref.dtype}; "
            "they must match (no silent casts)")
    if arr.shape != ref.shape:
        raise ValueError(
            f"{fname}: {name} has shape {arr.shape} but {ref_name} has shape {ref.shape}; "
            "they must match")


def as_output(fname: str, out, shape: Tuple[int, ...], dtype: np.dtype,
              inputs: Sequence[Tuple[str, np.ndarray]]) -> Optional[np.ndarray]:
    """Check a caller's ``out`` and return it as a base-class ndarray view (or None)."""
    if out is None:
        return None
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fname}: out must be a numpy.ndarray or None, got {type(out).__name__}")
    if out.dtype != dtype:  # a byte-swapped out too: its dtype is not the data's
        raise TypeError(f"{fname}: out has dtype {out.dtype}, expected {dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"{fname}: out has shape {out.shape}, expected {tuple(shape)}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{fname}: out must be C-contiguous (got {_describe(out)} with "
                         f"strides {out.strides})")
    if not out.flags.writeable:
        raise ValueError(f"{fname}: out is read-only")
    if not out.flags.aligned:
        raise ValueError(f"{fname}: out must be aligned (got {_describe(out)} at address "
                         f"{out.__array_interface__['data'][0]:#x})")
    for name, arr in inputs:
        if arr.size and out.size and np.may_share_memory(out, arr):
            same = (arr.__array_interface__["data"][0] == out.__array_interface__["data"][0]
                    and arr.nbytes == out.nbytes and arr.flags.c_contiguous)
            if not same and np.shares_memory(out, arr):
                raise ValueError(
                    f"{fname}: out partially overlaps {name}; pass the same array for in-place "
                    "operation, or a separate buffer")
    return out.view(np.ndarray) if type(out) is not np.ndarray else out


def axis_split(fname: str, shape: Tuple[int, ...], axis) -> Tuple[int, int, int]:
    """(outer, length, inner) of ``shape`` around ``axis``; a 0-d shape counts as (1,).

    Raises numpy.exceptions.AxisError for an axis out of range, TypeError for a
    non-integer axis.
    """
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{fname}: axis must be an integer, got {type(axis).__name__}")
    dims = tuple(shape) or (1,)
    ndim = len(dims)
    if not -ndim <= axis < ndim:
        raise AxisError(int(axis), ndim, f"{fname}: axis")
    axis = int(axis) % ndim
    return (int(np.prod(dims[:axis], dtype=np.int64)), int(dims[axis]),
            int(np.prod(dims[axis + 1:], dtype=np.int64)))


def as_parameter_array(fname: str, name: str, value, dtype: np.dtype) -> np.ndarray:
    """A parameter array (prelu's weight) converted to the data's dtype, as NumPy and
    PyTorch convert Python scalars; non-real values raise TypeError."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{fname}: {name} must hold real numbers, got dtype {arr.dtype}")
    # aligned too: a weight deserialized from a message buffer may not be
    return np.require(arr, dtype=dtype, requirements="CA")


class _Required:
    """The type of REQUIRED (one instance)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of a required keyword-only parameter in _functions.py (threshold's
#: threshold and value).  Compiled by Cython, a function whose keyword-only parameter has
#: no default words a missing one its own way ("threshold() needs keyword-only argument
#: threshold"); with this default the function raises Python's own message itself
#: (``check_required``), and its ``__signature__`` shows the parameter without a default
#: (``required_signature``), as the stubs and docs have it.
REQUIRED = _Required()


def check_required(fname: str, **params) -> None:
    """Raise Python's TypeError for the keyword-only ``params`` left at REQUIRED, worded
    as the interpreter words it for a Python function."""
    names = [f"'{k}'" for k, v in params.items() if v is REQUIRED]
    if not names:
        return
    listed = (names[0] if len(names) == 1 else f"{names[0]} and {names[1]}" if len(names) == 2
              else ", ".join(names[:-1]) + f", and {names[-1]}")
    raise TypeError(f"{fname}() missing {len(names)} required keyword-only "
                    f"argument{'s' if len(names) > 1 else ''}: {listed}")


def required_signature(fn: Callable):
    """``fn``'s signature with every parameter whose default is REQUIRED shown as
    required (no default)."""
    sig = inspect.signature(fn)
    return sig.replace(parameters=[
        p.replace(default=inspect.Parameter.empty) if p.default is REQUIRED else p
        for p in sig.parameters.values()])


def exactly_one(fname: str, x, y, takes_y: bool):
    """The backward's input: exactly one of ``x`` and ``y``; returns (name, value)."""
    if x is None and y is None:
        raise TypeError(f"{fname}: pass the forward input x" + (" or its output y" if takes_y else ""))
    if x is not None and y is not None:
        raise TypeError(f"{fname}: pass exactly one of x or y, not both")
    if y is not None and not takes_y:
        raise TypeError(f"{fname}: takes the forward input x only (y does not determine the "
                        "derivative); pass x")
    return ("x", x) if y is None else ("y", y)


# ------------------------------------------------------------------ scalar parameters

#: Parameter-cache size per function (cleared when full: callers use a few values).
ARGS_CACHE_SIZE = 64


def _signed_zeros(key):
    """``key`` with every zero replaced by a marker of its sign, or None if it holds no
    zero: 0.0 and -0.0 are equal dict keys, yet give different results (a threshold
    value, a slope), so a key with a zero is stored and looked up in this form."""
    try:
        if 0 not in key:   # a C-level scan: this runs on every call with a zero parameter
            return None
        marked = []
        for v in key:
            marked.append(("zero", math.copysign(1.0, float(v)))
                          if not isinstance(v, str) and v == 0 else v)
        return tuple(marked)
    except (TypeError, ValueError):  # arrays or odd objects: not cached
        return None


def rounded_to(dtype: np.dtype, value: float) -> float:
    """The real ``value`` as the kernels of ``dtype`` data receive it: rounded to that
    dtype (to inf, or to zero, where it overflows or underflows), as a Python float."""
    with np.errstate(over="ignore", under="ignore"):
        return float(np.dtype(dtype).type(float(value)))


def _in_float32(params) -> dict:
    """``params`` with each real number converted to float32, as the kernels of float32
    data and the C API's float entries receive it (strings and flags unchanged)."""
    def is_real(v) -> bool:
        return isinstance(v, (numbers.Real, np.ndarray)) and not isinstance(v, (str, bool))
    return {k: rounded_to(np.float32, v) if is_real(v) else v for k, v in params.items()}


def _as_float32_sees(result):
    """``result`` (an op number, or ``(op, a, b)``) as a float32 kernel receives it: each
    float as the bytes of its float32 conversion (so -0.0 and NaN compare too)."""
    if not isinstance(result, tuple):
        return result
    with np.errstate(over="ignore", under="ignore"):
        return tuple(np.float32(v).tobytes() if isinstance(v, float) else v for v in result)


def is_float32(data) -> bool:
    """Whether ``data`` (an array, a NumPy scalar or an array-like) is float32 data."""
    dtype = getattr(data, "dtype", None)
    return (dtype if isinstance(dtype, np.dtype) else np.asarray(data).dtype) == np.float32


def _float32_message(exc: ValueError) -> str:
    return f"{exc} (after conversion to float32, the array's dtype)"


def cached_args(cache: dict, args: Callable, key, data, **params):
    """Validate ``params`` with ``args`` and remember the result under ``key``.

    The public functions look their parameters up in ``cache`` first: validating and
    converting them costs more than the kernel on a small array.  ``data``: the array
    whose dtype the parameters are converted to before use (docs/api.md, "Parameters"):
    for float32 data ``args`` checks and maps the float32 values, as the C API's float
    entries do, so hard_tanh's min_val = 1.0000000001 with max_val = 1.0 is valid there
    (both are 1.0f) and beta = 1e300 is not (inf).  A result is cached only when both
    dtypes accept the parameters and a float32 kernel receives the same values from
    either mapping; every other call checks again."""
    zero_key = _signed_zeros(key)
    if zero_key is not None:
        try:
            return cache[zero_key]
        except (KeyError, TypeError):
            pass
    result = error = result32 = error32 = None
    try:
        result = args(**params)   # TypeError (not a real number) fails every dtype alike
    except ValueError as exc:
        error = exc
    try:
        result32 = args(**_in_float32(params))
    except ValueError as exc:
        error32 = exc
    if is_float32(data):
        if error32 is not None:
            raise ValueError(_float32_message(error32)) from None
        chosen = result32
    else:
        if error is not None:
            raise error
        chosen = result
    if error is None and error32 is None and \
            _as_float32_sees(result) == _as_float32_sees(result32):
        try:
            if len(cache) >= ARGS_CACHE_SIZE:
                cache.clear()
            cache[key if zero_key is None else zero_key] = result
        except TypeError:     # an unhashable parameter value: just not cached
            pass
    return chosen


def check_from_output(check: Callable, y, **params) -> None:
    """Backward from y is possible for these parameters (``check``) converted to y's
    dtype (negative_slope = 1e-50 is 0 in float32)."""
    if not is_float32(y):
        check(**params)
        return
    try:
        check(**_in_float32(params))
    except ValueError as exc:
        raise ValueError(_float32_message(exc)) from None


# ------------------------------------------------------------------ fused forms

def bias_layout(fname: str, ref: np.ndarray, bias, bias_axis, length_hint: Optional[int] = None):
    """The bias (None stays None) as a plain 1-D array of ``ref``'s dtype and the
    (outer, length, inner) view of ``ref`` it runs along.

    The bias must be 1-D of ``ref``'s dtype (TypeError otherwise: no silent casts) with
    length 1 or ``ref.shape[bias_axis]``; ``length_hint`` gives the length when there is
    no bias (a backward asked only for grad_bias).  A length-1 bias is one value for all.
    """
    outer, length, inner = axis_split(fname, ref.shape, bias_axis)
    arr = None
    if bias is not None:
        arr = np.asarray(bias)
        if arr.dtype.newbyteorder("=") != ref.dtype:
            raise TypeError(f"{fname}: bias has dtype {arr.dtype}; it must have x's dtype "
                            f"{ref.dtype} (no silent casts)")
        if arr.ndim != 1:
            raise ValueError(f"{fname}: bias must be 1-D, got shape {arr.shape}")
        arr = as_input(fname, "bias", arr)
        length_hint = arr.shape[0]
    if length_hint is not None and length_hint != length:
        if length_hint != 1:
            raise ValueError(
                f"{fname}: {'bias' if arr is not None else 'grad_bias'} has length {length_hint}; "
                f"expected 1 or x.shape[{bias_axis}] = {length}")
        outer, length, inner = 1, 1, int(ref.size)
    return arr, (outer, length, inner)


def bias_axis_alone(fname: str, ref, bias_axis) -> None:
    """A ``bias_axis`` without ``bias`` or ``grad_bias`` has no effect, but it must still
    be an axis of the data (docs/api.md, "Fused forms"): out of range, it is most likely
    a mistake (AxisError; TypeError for a non-integer)."""
    if ref is not None:
        axis_split(fname, np.shape(ref), bias_axis)


def as_grad_bias(fname: str, grad_bias, length: int, dtype: np.dtype,
                 others: Sequence[Tuple[str, np.ndarray]]) -> Optional[np.ndarray]:
    """Check a backward's ``grad_bias=`` output: a C-contiguous, writeable 1-D ndarray of
    ``length`` values of the data's dtype, sharing no memory with any other argument."""
    if grad_bias is None:
        return None
    if not isinstance(grad_bias, np.ndarray):
        raise TypeError(f"{fname}: grad_bias must be a numpy.ndarray or None, "
                        f"got {type(grad_bias).__name__}")
    if grad_bias.dtype != dtype:
        raise TypeError(f"{fname}: grad_bias has dtype {grad_bias.dtype}, expected {dtype}")
    if grad_bias.shape != (length,):
        raise ValueError(f"{fname}: grad_bias has shape {grad_bias.shape}, expected ({length},) "
                         "(the bias's shape)")
    if not (grad_bias.flags.c_contiguous and grad_bias.flags.writeable
            and grad_bias.flags.aligned and grad_bias.dtype.isnative):
        raise ValueError(f"{fname}: grad_bias must be a C-contiguous, aligned, writeable array "
                         "in native byte order")
    for name, arr in others:
        if arr is not None and np.shares_memory(grad_bias, arr):
            raise ValueError(f"{fname}: grad_bias shares memory with {name}; pass a separate buffer")
    return grad_bias.view(np.ndarray) if type(grad_bias) is not np.ndarray else grad_bias


def softmax_scale(fname: str, scale) -> float:
    """The fused softmax ``scale`` as a finite float (ValueError: non-finite; TypeError:
    not a real number)."""
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (int, float, np.integer,
                                                                      np.floating)):
        raise TypeError(f"{fname}: scale must be a real number, got {type(scale).__name__}")
    value = float(scale)
    if not np.isfinite(value):
        raise ValueError(f"{fname}: scale must be finite, got {value!r}")
    return value


def softmax_scale_in(fname: str, scale: float, dtype: np.dtype) -> None:
    """The kernel multiplies by ``scale`` converted to the data's dtype: it must be
    finite there too (float32(1e300) is inf, which would make every row NaN)."""
    with np.errstate(over="ignore"):
        converted = dtype.type(scale)
    if not np.isfinite(converted):
        raise ValueError(f"{fname}: scale must be finite, got {scale!r} (inf after conversion "
                         f"to {dtype}, the array's dtype)")


def softmax_mask(fname: str, mask, shape: Tuple[int, ...], dtype: np.dtype, axis: int):
    """A softmax ``mask`` laid out for the kernel, which works along the last axis of x
    with ``axis`` moved there: returns (mask array, int64 offset of each row's mask,
    step along the row: 0 or 1), reading the mask in its own shape (never expanded).

    The mask must broadcast to x's ``shape`` (ValueError) and be bool or of x's float
    dtype (TypeError).
    """
    arr = np.asarray(mask)
    if arr.dtype != np.bool_ and arr.dtype.newbyteorder("=") != dtype:
        raise TypeError(f"{fname}: mask has dtype {arr.dtype}; it must be bool or x's dtype "
                        f"{dtype} (no silent casts)")
    try:
        broadcast = np.broadcast_shapes(arr.shape, tuple(shape))
    except ValueError:
        broadcast = None
    if broadcast != tuple(shape):
        raise ValueError(f"{fname}: mask of shape {arr.shape} does not broadcast to x's shape "
                         f"{tuple(shape)}")
    shape = tuple(shape) or (1,)
    arr = arr.reshape((1,) * (len(shape) - arr.ndim) + arr.shape)
    arr = np.ascontiguousarray(np.moveaxis(arr, axis, -1))
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    moved = shape[:axis] + shape[axis + 1:] + (shape[axis],)
    view = np.broadcast_to(arr, moved)
    steps = [s // arr.itemsize for s in view.strides]
    offsets = np.zeros(moved[:-1], np.int64)
    for k, (n, step) in enumerate(zip(moved[:-1], steps[:-1])):
        if step:
            offsets += (np.arange(n, dtype=np.int64) * step).reshape(
                (n,) + (1,) * (len(moved) - 2 - k))
    return arr, offsets.reshape(-1), (1 if steps[-1] else 0)
