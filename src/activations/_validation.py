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

from typing import Optional, Sequence, Tuple

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
    if out.dtype != dtype:
        raise TypeError(f"{fname}: out has dtype {out.dtype}, expected {dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"{fname}: out has shape {out.shape}, expected {tuple(shape)}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{fname}: out must be C-contiguous (got {_describe(out)} with "
                         f"strides {out.strides})")
    if not out.flags.writeable:
        raise ValueError(f"{fname}: out is read-only")
    if not out.flags.aligned or not out.dtype.isnative:
        raise ValueError(f"{fname}: out must be aligned and in native byte order")
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
