"""Errors in ULPs, and the accuracy bounds the self-check holds every function to.

Errors are measured in ULPs of the dtype at the correctly rounded reference value
(NumPy's ``test_umath_accuracy`` style); NaN must match NaN and an infinity must match
the same infinity.  Where the exact value is a difference of larger terms, a caller
passes those terms (``unit_of``) and the ULP is taken at the larger magnitude.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from activations._check.ldmath import LD

#: A cell passes when its max error is at most this many ULPs: docs/api.md promises
#: "correct to a few ULP"; NumPy's own accuracy tests allow 1-4 ULP per function.
#: A backward has one more rounding (the product with grad): the bounds of
#: tests/test_accuracy.py (DEFAULT_BOUND), 4 forward and 6 backward.
TOLERANCE_ULP = {"fwd": 4.0, "bwd": 6.0}

#: Documented exceptions to TOLERANCE_ULP, per (function, dtype): the measured
#: bound and why (README "Accuracy" lists them too).
TOLERANCE_EXCEPTIONS = {
    # _gelu.h's float64 tail-ratio evaluation gathers ~8 double roundings (|x| > 1).
    ("gelu", "f64"): {"fwd": 5.0, "bwd": 6.0},
    # float64 geglu: as gelu, and gate products in the subnormal range (a < -37)
    # are rounded twice (the gate value, then the product).
    ("geglu", "f64"): {"fwd": 5.0, "bwd": 12.0},
}


def dtype_tag(dtype) -> str:
    return "f32" if np.dtype(dtype) == np.float32 else "f64"


def bound(function: str, dtype, direction: str) -> float:
    """The bound of `function` in `dtype`, direction "fwd" or "bwd"."""
    special = TOLERANCE_EXCEPTIONS.get((function, dtype_tag(dtype)), {})
    return special.get(direction, TOLERANCE_ULP[direction])


def ulp_errors(got: np.ndarray, ref: np.ndarray, dtype,
               unit_of: Optional[np.ndarray] = None) -> np.ndarray:
    """|got - ref| in ULPs of `dtype` at the rounded reference (or at the larger
    magnitude `unit_of`, where given); inf on a NaN or infinity mismatch."""
    with np.errstate(all="ignore"):
        rounded = ref.astype(dtype)
        got_ld = got.astype(LD)
        magnitude = np.abs(rounded)
        if unit_of is not None:
            terms = np.abs(unit_of).astype(dtype)
            magnitude = np.where(np.isfinite(terms), np.fmax(magnitude, terms), magnitude)
        spacing = np.spacing(magnitude).astype(LD)
        err = np.abs(got_ld - ref) / spacing
        same = (got == rounded) | (np.isnan(got) & np.isnan(ref))
        err = np.where(same, 0.0, err)
        err = np.where(np.isnan(err), np.inf, err)
    return err


def max_ulp(got: np.ndarray, ref: np.ndarray, dtype,
            unit_of: Optional[np.ndarray] = None) -> float:
    """The largest of :func:`ulp_errors` (0 for an empty array)."""
    err = ulp_errors(got, ref, dtype, unit_of)
    return float(np.max(err)) if err.size else 0.0
