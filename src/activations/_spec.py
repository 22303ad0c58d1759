"""The table of activations: one row per public function.

This module is plain data plus small argument mappers and uses the standard library
only, because ``setup.py`` and the generators in ``tools/`` read it without the built
package.  Everything about a function that is not its formulas or its test reference
comes from its row: the kernel op list (``setup.py`` fills ``_elementwise.pxi`` from
``_elementwise.pxi.tp``, so the Python layer and the compiled kernels cannot disagree
about op numbers), the public functions (``_functions.py``), the registry, the type
stub, the README's table, the C API and the PyTorch comparison in the tests.

Adding an elementwise activation NAME means (README.md, "Adding a function"):
  1. its formulas in ``_formulas.pxd``: ``NAME_forward``, ``NAME_backward`` and, if
     the output determines the derivative, ``NAME_backward_from_output``;
  2. one ``Spec`` row in ``SPECS`` below (with the ``torch`` expression it matches),
     and NAME appended to ``C_API_ROWS`` (the C table only ever grows at its end);
  3. its independent reference in the tests: a row in ``tests/reference.py``, its
     special values in ``tests/test_special_values.py``; and the package's own reference
     (read by ``python -m activations`` and ``benchmarks/bench.py``, which run where the
     tests are not installed) in ``_check/references.py``;
  4. the generators: ``python tools/gen_functions.py && python tools/gen_stubs.py &&
     python tools/gen_readme_table.py && python tools/gen_capi.py && python
     tools/gen_capi.py --record-abi``, then a rebuild.
``tests/test_completeness.py`` names whatever a new row is still missing.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple, Union

#: λ and α of SELU (Klambauer et al. 2017), to the digits docs/api.md gives.
SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717

REQUIRED = None  # marks a parameter without a default in Spec.params

#: A parameter's default: a number, a flag (rrelu's training), a choice (gelu's
#: approximate), or REQUIRED.
Default = Union[float, int, bool, str, None]

#: The kinds of rows, each with its own signature (one template per kind in
#: tools/gen_functions.py):
#:   elementwise  f(x) element by element, backward from x (or y); fused bias form
#:   rrelu        elementwise, with a random slope per element when training
#:   prelu        a learned slope per channel: f(x, weight), backward returns two arrays
#:   softmax      normalized along an axis (softmax, log_softmax, softmin); fused
#:                scale and mask form
#:   gated        x split in halves a, b along an axis, f(a) * b (glu family)
KINDS: Tuple[str, ...] = ("elementwise", "rrelu", "prelu", "softmax", "gated")


@dataclass(frozen=True)
class Spec:
    """One public activation.

    ``kernel_args(**params) -> (op_name, a, b)`` validates the parameters (raising
    ``ValueError``) and maps them to the kernel op and its two scalar arguments.
    ``check_from_output(**params)`` raises ``ValueError`` when the output no longer
    determines the input (backward from ``y`` impossible for these parameters).
    """

    name: str
    kind: str  # one of KINDS
    summary: str
    formula: str
    derivative: str
    #: The PyTorch expression the function matches (tests/test_torch.py evaluates it),
    #: over the input ``x``, the parameters by name, ``torch`` and
    #: ``F = torch.nn.functional``.
    torch: str
    params: Dict[str, Default] = field(default_factory=dict)
    backward_takes: Tuple[str, ...] = ("x",)
    aliases: Tuple[str, ...] = ()
    ops: Tuple[str, ...] = ()  # kernel ops it may use (elementwise ops; gated: gate ops)
    kernel_args: Optional[Callable[..., Tuple[str, float, float]]] = None
    check_from_output: Optional[Callable[..., None]] = None
    #: No exp, log or division per element: the loop runs at memory speed, so a
    #: second thread pays off only on larger arrays (see _constants.pxd thresholds).
    memory_bound: bool = False

    @property
    def fused(self) -> Tuple[str, ...]:
        """The fused keywords this function takes (docs/api.md, "Fused forms")."""
        return FUSED_KEYWORDS.get(self.kind, ())


#: Keywords of the fused forms, by kind: f(x + bias) for the elementwise functions,
#: softmax(scale * x + mask) for the softmax family.  Not part of ``Spec.params``.
FUSED_KEYWORDS: Dict[str, Tuple[str, ...]] = {
    "elementwise": ("bias", "bias_axis"),
    "softmax": ("scale", "mask"),
}


# ---------------------------------------------------------------- parameter mappers

def _no_params(name: str) -> Callable[[], Tuple[str, float, float]]:
    def args() -> Tuple[str, float, float]:
        return name, 0.0, 0.0
    return args


def _real(fname: str, pname: str, value) -> float:
    """``value`` as a float: a real number (int, float, NumPy real scalar or 0-d array).
    None, strings and complex numbers raise TypeError naming the parameter."""
    if value is None:
        raise TypeError(f"{fname}: missing the required parameter {pname}")
    if isinstance(value, (str, bytes, bytearray)) or (
            isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real)):
        raise TypeError(f"{fname}: {pname} must be a real number, got "
                        f"{type(value).__name__} {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{fname}: {pname} must be a real number, got "
                        f"{type(value).__name__}") from exc


def _finite(fname: str, pname: str, value) -> float:
    value = _real(fname, pname, value)
    if not math.isfinite(value):
        raise ValueError(f"{fname}: {pname} must be finite, got {value!r}")
    return value


def _leaky_relu_args(negative_slope: float = 0.01):
    return "leaky_relu", _finite("leaky_relu", "negative_slope", negative_slope), 0.0


def _leaky_relu_from_output(negative_slope: float = 0.01) -> None:
    if not float(negative_slope) > 0:
        raise ValueError(
            "leaky_relu_backward: backward from y needs negative_slope > 0 (else y no "
            f"longer determines x); got negative_slope={negative_slope!r}; pass x instead"
        )


def _rrelu_bounds(lower: float, upper: float) -> Tuple[float, float]:
    lower, upper = _real("rrelu", "lower", lower), _real("rrelu", "upper", upper)
    if not (0.0 <= lower <= 1.0 and 0.0 <= upper <= 1.0):
        raise ValueError(
            f"rrelu: slopes must lie in [0, 1], got lower={lower!r}, upper={upper!r}")
    if lower > upper:
        raise ValueError(f"rrelu: lower must be <= upper, got lower={lower!r} > upper={upper!r}")
    return lower, upper


def _rrelu_eval_args(lower: float = 1 / 8, upper: float = 1 / 3):
    lower, upper = _rrelu_bounds(lower, upper)
    # training=False: the fixed slope (lower + upper) / 2, as torch.nn.functional.rrelu
    return "leaky_relu", (lower + upper) / 2.0, 0.0


def _alpha_args(op: str):
    def args(alpha: float = 1.0):
        return op, _finite(op, "alpha", alpha), 0.0
    return args


def _alpha_from_output(fname: str):
    def check(alpha: float = 1.0) -> None:
        if not float(alpha) > 0:
            raise ValueError(
                f"{fname}_backward: backward from y needs alpha > 0 (else y no longer "
                f"determines x); got alpha={alpha!r}; pass x instead")
    return check


def _softplus_args(beta: float = 1.0, threshold: float = 20.0):
    beta = _finite("softplus", "beta", beta)
    if beta == 0.0:
        raise ValueError("softplus: beta must be non-zero, got 0.0")
    return "softplus", beta, _finite("softplus", "threshold", threshold)


def _swish_args(beta: float = 1.0):
    beta = _finite("swish", "beta", beta)
    # beta = 1 (SiLU, the common case) has a kernel of its own: z = x is exact
    return ("silu" if beta == 1.0 else "swish"), beta, 0.0


def _hard_tanh_args(min_val: float = -1.0, max_val: float = 1.0):
    lo = _finite("hard_tanh", "min_val", min_val)
    hi = _finite("hard_tanh", "max_val", max_val)
    if lo > hi:
        raise ValueError(f"hard_tanh: min_val must be <= max_val, got min_val={lo!r} > max_val={hi!r}")
    return "hard_tanh", lo, hi


def _lambd_args(op: str):
    def args(lambd: float = 0.5):
        lambd = _finite(op, "lambd", lambd)
        if lambd < 0:
            raise ValueError(f"{op}: lambd must be >= 0, got {lambd!r}")
        return op, lambd, 0.0
    return args


def _threshold_args(threshold: float, value: float):
    # value may be any float, inf and NaN included (it is only copied to the output)
    return ("threshold", _finite("threshold", "threshold", threshold),
            _real("threshold", "value", value))


def _approximate(fname: str, approximate: str, exact: str, tanh: str) -> str:
    if approximate == "none":
        return exact
    if approximate == "tanh":
        return tanh
    raise ValueError(f"{fname}: approximate must be 'none' or 'tanh', got {approximate!r}")


def _gelu_args(approximate: str = "none"):
    return _approximate("gelu", approximate, "gelu", "gelu_tanh"), 0.0, 0.0


def _geglu_args(approximate: str = "none"):
    return _approximate("geglu", approximate, "geglu", "geglu_tanh"), 0.0, 0.0


def _celu_args(alpha: float = 1.0):
    alpha = _finite("celu", "alpha", alpha)
    if alpha == 0.0:
        raise ValueError("celu: alpha must be non-zero, got 0.0")
    return "celu", alpha, 0.0


# ---------------------------------------------------------------------------- table

SPECS: Tuple[Spec, ...] = (
    Spec("sigmoid", "elementwise", "Logistic sigmoid.",
         "1 / (1 + exp(-x))", "y * (1 - y)",
         torch="torch.sigmoid(x)",
         backward_takes=("x", "y"), ops=("sigmoid",), kernel_args=_no_params("sigmoid")),
    Spec("tanh", "elementwise", "Hyperbolic tangent.",
         "tanh(x)", "1 - y**2",
         torch="torch.tanh(x)",
         backward_takes=("x", "y"), ops=("tanh",), kernel_args=_no_params("tanh")),
    Spec("relu", "elementwise", "Rectified linear unit.",
         "max(x, 0)", "1 if x > 0 else 0",
         torch="torch.relu(x)",
         backward_takes=("x", "y"), ops=("relu",), kernel_args=_no_params("relu"),
         memory_bound=True),
    Spec("leaky_relu", "elementwise", "Leaky ReLU.",
         "x if x > 0 else negative_slope * x",
         "1 if x > 0 else negative_slope",
         torch="F.leaky_relu(x, negative_slope)",
         params={"negative_slope": 0.01}, backward_takes=("x", "y"),
         ops=("leaky_relu",), kernel_args=_leaky_relu_args,
         check_from_output=_leaky_relu_from_output,
         memory_bound=True),
    Spec("prelu", "prelu", "Parametric ReLU (He et al. 2015), one slope per channel.",
         "x if x > 0 else weight[c] * x, c = the index along axis",
         "1 if x > 0 else weight[c];  d/dweight[c] = sum of x * grad where x <= 0",
         torch="F.prelu(x, weight)",
         params={"weight": REQUIRED, "axis": 1}),
    Spec("rrelu", "rrelu", "Randomized leaky ReLU (Xu et al. 2015).",
         "x if x >= 0 else a * x, a ~ U(lower, upper) per element when training, "
         "else a = (lower + upper) / 2",
         "1 if x > 0 else a",
         torch="F.rrelu(x, lower, upper, training=False)",
         params={"lower": 1 / 8, "upper": 1 / 3, "training": False, "seed": 0},
         ops=("leaky_relu",), kernel_args=_rrelu_eval_args,
         memory_bound=True),
    Spec("elu", "elementwise", "Exponential linear unit (Clevert et al. 2015).",
         "x if x > 0 else alpha * (exp(x) - 1)",
         "1 if x > 0 else alpha * exp(x)  (= y + alpha)",
         torch="F.elu(x, alpha)",
         params={"alpha": 1.0}, backward_takes=("x", "y"),
         ops=("elu",), kernel_args=_alpha_args("elu"),
         check_from_output=_alpha_from_output("elu")),
    Spec("selu", "elementwise", "Scaled ELU (Klambauer et al. 2017).",
         "scale * (x if x > 0 else alpha * (exp(x) - 1)), "
         "scale = 1.0507009873554804934, alpha = 1.6732632423543772848",
         "scale if x > 0 else scale * alpha * exp(x)  (= y + scale * alpha)",
         torch="F.selu(x)",
         backward_takes=("x", "y"), ops=("selu",), kernel_args=_no_params("selu")),
    Spec("softsign", "elementwise", "Softsign.",
         "x / (1 + |x|)", "1 / (1 + |x|)**2  (= (1 - |y|)**2)",
         torch="F.softsign(x)",
         backward_takes=("x", "y"), ops=("softsign",), kernel_args=_no_params("softsign"),
         memory_bound=True),
    Spec("softplus", "elementwise", "Softplus, a smooth ReLU.",
         "log(1 + exp(beta * x)) / beta, or x where beta * x > threshold",
         "sigmoid(beta * x), or 1 where beta * x > threshold  (= 1 - exp(-beta * y))",
         torch="F.softplus(x, beta, threshold)",
         params={"beta": 1.0, "threshold": 20.0}, backward_takes=("x", "y"),
         ops=("softplus",), kernel_args=_softplus_args),
    Spec("softmax", "softmax", "Softmax along an axis.",
         "exp(x - max) / sum(exp(x - max))",
         "y * (grad - sum(grad * y))  (Jacobian-vector product)",
         torch="F.softmax(x, dim=axis)",
         params={"axis": -1}, backward_takes=("x", "y")),
    Spec("log_softmax", "softmax", "Log-softmax along an axis.",
         "x - max - log(sum(exp(x - max)))",
         "grad - exp(y) * sum(grad)  (Jacobian-vector product)",
         torch="F.log_softmax(x, dim=axis)",
         params={"axis": -1}, backward_takes=("x", "y")),
    Spec("swish", "elementwise", "Swish / SiLU (Ramachandran et al. 2017).",
         "x * sigmoid(beta * x)",
         "s + beta * x * s * (1 - s), s = sigmoid(beta * x)",
         torch="F.silu(x) if beta == 1 else x * torch.sigmoid(beta * x)",
         params={"beta": 1.0}, aliases=("silu",),
         ops=("swish", "silu"), kernel_args=_swish_args),
    Spec("hard_swish", "elementwise", "Hard swish (Howard et al. 2019, MobileNetV3).",
         "x * relu6(x + 3) / 6",
         "0 if x <= -3, 1 if x >= 3, else (2x + 3) / 6",
         torch="F.hardswish(x)",
         aliases=("hswish",), ops=("hard_swish",), kernel_args=_no_params("hard_swish"),
         memory_bound=True),
    Spec("relu6", "elementwise", "ReLU capped at 6.",
         "min(max(x, 0), 6)", "1 if 0 < x < 6 else 0",
         torch="F.relu6(x)",
         backward_takes=("x", "y"), ops=("relu6",), kernel_args=_no_params("relu6"),
         memory_bound=True),
    Spec("hard_sigmoid", "elementwise", "Hard sigmoid (as PyTorch's hardsigmoid).",
         "relu6(x + 3) / 6", "1/6 if -3 < x < 3 else 0",
         torch="F.hardsigmoid(x)",
         backward_takes=("x", "y"), ops=("hard_sigmoid",), kernel_args=_no_params("hard_sigmoid"),
         memory_bound=True),
    Spec("hard_tanh", "elementwise", "Hard tanh: clip to [min_val, max_val].",
         "clip(x, min_val, max_val)", "1 if min_val < x < max_val else 0",
         torch="F.hardtanh(x, min_val, max_val)",
         params={"min_val": -1.0, "max_val": 1.0}, backward_takes=("x", "y"),
         ops=("hard_tanh",), kernel_args=_hard_tanh_args,
         memory_bound=True),
    Spec("gelu", "elementwise", "Gaussian error linear unit (Hendrycks & Gimpel 2016).",
         "x * Phi(x), Phi the standard normal CDF; approximate='tanh': "
         "x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))",
         "Phi(x) + x * phi(x)  (tanh form: its own derivative)",
         torch="F.gelu(x, approximate=approximate)",
         params={"approximate": "none"}, ops=("gelu", "gelu_tanh"), kernel_args=_gelu_args),
    Spec("mish", "elementwise", "Mish (Misra 2019).",
         "x * tanh(softplus(x))",
         "tanh(sp) + x * sigmoid(x) * (1 - tanh(sp)**2), sp = softplus(x)",
         torch="F.mish(x)",
         ops=("mish",), kernel_args=_no_params("mish")),
    Spec("celu", "elementwise", "Continuously differentiable ELU (Barron 2017).",
         "max(0, x) + min(0, alpha * (exp(x / alpha) - 1))",
         "1 if x > 0 else exp(x / alpha)  (= y / alpha + 1)",
         torch="F.celu(x, alpha)",
         params={"alpha": 1.0}, backward_takes=("x", "y"), ops=("celu",),
         kernel_args=_celu_args, check_from_output=_alpha_from_output("celu")),
    Spec("log_sigmoid", "elementwise", "Logarithm of the sigmoid.",
         "-softplus(-x) = min(x, 0) - log1p(exp(-|x|))", "sigmoid(-x)  (= 1 - exp(y))",
         torch="F.logsigmoid(x)",
         backward_takes=("x", "y"), ops=("log_sigmoid",), kernel_args=_no_params("log_sigmoid")),
    Spec("softmin", "softmax", "Softmin along an axis: softmax(-x).",
         "exp(-x - max(-x)) / sum(exp(-x - max(-x)))",
         "-y * (grad - sum(grad * y))  (Jacobian-vector product)",
         torch="F.softmin(x, dim=axis)",
         params={"axis": -1}, backward_takes=("x", "y")),
    Spec("tanhshrink", "elementwise", "Tanh shrink.",
         "x - tanh(x)", "tanh(x)**2",
         torch="F.tanhshrink(x)",
         ops=("tanhshrink",), kernel_args=_no_params("tanhshrink")),
    Spec("softshrink", "elementwise", "Soft shrinkage.",
         "x - lambd if x > lambd, x + lambd if x < -lambd, else 0",
         "1 if |x| > lambd else 0",
         torch="F.softshrink(x, lambd)",
         params={"lambd": 0.5}, ops=("softshrink",), kernel_args=_lambd_args("softshrink"),
         memory_bound=True),
    Spec("hardshrink", "elementwise", "Hard shrinkage.",
         "x if |x| > lambd else 0", "1 if |x| > lambd else 0",
         torch="F.hardshrink(x, lambd)",
         params={"lambd": 0.5}, ops=("hardshrink",), kernel_args=_lambd_args("hardshrink"),
         memory_bound=True),
    Spec("glu", "gated", "Gated linear unit (Dauphin et al. 2017): x split into halves a, b.",
         "a * sigmoid(b)", "d/da = sigmoid(b), d/db = a * sigmoid(b) * (1 - sigmoid(b))",
         torch="F.glu(x, dim=axis)",
         params={"axis": -1}, ops=("glu",)),
    Spec("swiglu", "gated", "SwiGLU (Shazeer 2020, the LLaMA feed-forward gate).",
         "silu(a) * b", "d/da = b * silu'(a), d/db = silu(a)",
         torch="F.silu(x.chunk(2, dim=axis)[0]) * x.chunk(2, dim=axis)[1]",
         params={"axis": -1}, ops=("swiglu",)),
    Spec("geglu", "gated", "GeGLU (Shazeer 2020): x split into halves a, b.",
         "gelu(a) * b  (approximate as for gelu)", "d/da = b * gelu'(a), d/db = gelu(a)",
         torch="F.gelu(x.chunk(2, dim=axis)[0], approximate=approximate) * x.chunk(2, dim=axis)[1]",
         params={"axis": -1, "approximate": "none"}, ops=("geglu", "geglu_tanh"),
         kernel_args=_geglu_args),
    Spec("threshold", "elementwise", "Threshold: replace x <= threshold by value.",
         "x if x > threshold else value", "1 if x > threshold else 0",
         torch="F.threshold(x, threshold, value)",
         params={"threshold": REQUIRED, "value": REQUIRED}, ops=("threshold",),
         kernel_args=_threshold_args,
         memory_bound=True),
)


#: Ops, not memory-bound as a whole, whose backward from the output is a few
#: multiplications and compares (no exp, log or division): that loop runs at memory
#: speed, so it stores from a cache line on as a memory-bound op's loops do
#: (_kernels.pyx, ALIGNED_STORES_MIN).
MEMORY_BOUND_FROM_OUTPUT: Tuple[str, ...] = ("sigmoid", "tanh", "elu", "selu", "softsign")


#: Kernel ops whose loops run per block with a fast path (_elementwise.pxi.tp), and in
#: which directions: "forward"/"backward" for elementwise ops (BACKWARD, from x) and
#: "backward_from_output" (from y), "gate"/"gate_grad" for gated ops.  Each needs NAME_DIR_rare (a predicate on the inputs) and
#: NAME_DIR_fast (gated backward: NAME_gate_grad_a_fast and _b_fast) in _formulas.pxd
#: ("Per-block fast paths": why the split never shows in a result).
FAST_PATHS: Dict[str, Tuple[str, ...]] = {
    "sigmoid": ("forward", "backward", "backward_from_output"),
    "swish": ("forward", "backward"),
    "silu": ("forward", "backward"),
    "softplus": ("forward", "backward"),
    "log_sigmoid": ("forward", "backward"),
    "elu": ("backward",),
    "selu": ("backward",),
    "celu": ("backward",),
    "glu": ("gate", "gate_grad"),
    "swiglu": ("gate", "gate_grad"),
    "geglu": ("gate", "gate_grad"),
}


#: Ops and directions of FAST_PATHS whose rare blocks take a second predicate pass,
#: NAME_DIR_band_rare: blocks without such a lane (only saturated ones: huge inputs,
#: infinities, NaN) run NAME_DIR_sat, the fast formula with the exact formula's limits
#: selected, the others the exact formula (_formulas.pxd "Per-block fast paths").  The
#: fast formula and its predicate stay free of the selects, so ordinary data pays
#: nothing for them.  softplus's backward: its one-compare predicate also holds on
#: blocks the fast formula serves (float32 z = beta x in [-60, -39); _formulas.pxd
#: mul_sigmoid_band_rare_pair), whose exact formula ran at 2.5-3.3x ordinary's time;
#: its band_rare is the predicate's float form, its sat formula the fast one (which
#: selects its limits itself), with FAST_UNIT's variant of band_rare where a = 1.
FAST_SAT_PATHS: Dict[str, Tuple[str, ...]] = {
    "softplus": ("backward",),
    "glu": ("gate", "gate_grad"),
    "swiglu": ("gate", "gate_grad"),
    "geglu": ("gate", "gate_grad"),
}


#: Gate ops and directions of FAST_SAT_PATHS whose saturated blocks run on by themselves
#: (_elementwise.pxi.tp NAME_DIR_sat_blocks): after a saturated block, and at a run whose
#: first lane is a NAME_DIR_sat_lane (gate argument outside the fast range) and not
#: band_rare, the blocks while their first lane is a sat_lane take one predicate pass each
#: (band_rare) and the sat formulas, not the rare pass as well; a block whose every gate
#: argument is a NAME_DIR_lim_lane (past 2 FAST_SAT, or NaN) takes a pass of one compare
#: instead and the NAME_DIR_lim forms, the sat formulas' limits without the exp (huge
#: inputs and infinities throughout).  geglu is left out: its
#: float32 sat loop, outlined there, was not vectorized (GCC 12; 7-9x the time of its
#: saturated blocks inline, which run at 1.1x ordinary's).
FAST_SAT_RUNS: Dict[str, Tuple[str, ...]] = {
    "glu": ("gate", "gate_grad"),
    "swiglu": ("gate", "gate_grad"),
}


#: Gate ops and directions of FAST_SAT_PATHS with deep-negative blocks: a block with a
#: band lane (and a run whose first lane is such a lane) is tested for
#: NAME_DIR_neg_rare, and with no such lane (every sigmoid argument below -DEEP_NEG,
#: -64 / -640, the factors of exp below 2**60 / 2**480) it and the blocks after it that
#: have none run NAME_DIR_neg (gated backward: NAME_gate_grad_a_neg and _b_neg), the
#: exact formula with 1 + exp(z) = 1 folded in (_formulas.pxd "Per-block fast paths"),
#: instead of the exact formula (_elementwise.pxi.tp NAME_DIR_neg_blocks).
FAST_NEG_PATHS: Dict[str, Tuple[str, ...]] = {
    "glu": ("gate", "gate_grad"),
    "swiglu": ("gate", "gate_grad"),
}


#: Gate ops and directions of FAST_SAT_PATHS whose exact regions (rare blocks with a band
#: lane, and the streaks after them) first OR NAME_DIR_wide_rare, a product of two finite
#: inputs that overflowed (the backward's g * b, glu's g * a, swiglu's a * b), or a
#: factor of exp of 2**60 / 2**480 and more at a gate argument below -128 / -1024
#: (_formulas.pxd "Large factors at deep gate arguments"): with such a
#: lane the region runs NAME_DIR_wide (gated backward: NAME_gate_grad_a_wide and _b_wide),
#: the exact formulas with that product taken wider (_formulas.pxd "Products of two
#: inputs that overflow"; float32 in double), else the exact formulas, so data in the
#: band pays for the wider forms only with such a lane.
WIDE_PATHS: Dict[str, Tuple[str, ...]] = {
    "glu": ("gate", "gate_grad"),
    "swiglu": ("gate", "gate_grad"),
}


#: Ops and directions of FAST_PATHS whose fast formula is the exact one's value on every
#: input (the exact formula only keeps rare lanes from subnormal arithmetic): their
#: blocks compute the fast formula and OR the predicate in one pass while no rare block
#: has been seen (_elementwise.pxi.tp chunk_loop), instead of a predicate pass first.
FAST_ONE_PASS: Dict[str, Tuple[str, ...]] = {"sigmoid": ("backward_from_output",)}


#: Ops and directions of FAST_PATHS (elementwise, from x) whose blocks, in a call with
#: a = 1 (softplus's default beta), take NAME_DIR_unit_rare and NAME_DIR_unit_fast:
#: the general fast forms with a = 1 known when compiled (no rounding error of x * a to
#: carry into the exp; _formulas.pxd "a = 1"), chosen once per chunk (_elementwise.pxi.tp
#: chunk_loop); with NEG_FORMS, NAME_DIR_unit_neg_lane and _unit_neg too.  The exact
#: formulas stay the general ones.
FAST_UNIT: Dict[str, Tuple[str, ...]] = {"softplus": ("backward",)}


#: Kernel ops whose loops (elementwise "forward" and "backward" from x) run a block of
#: tiny inputs, all subnormal or zero, by the first-order form (_formulas.pxd "tiny
#: blocks"): the ops whose exact formulas do subnormal arithmetic there.  Each needs only
#: its exact formulas (NAME_forward and NAME_backward give the constants).
TINY_PATHS: Dict[str, Tuple[str, ...]] = {
    op: ("forward", "backward")
    for op in ("sigmoid", "tanh", "leaky_relu", "elu", "selu", "softsign", "softplus",
               "swish", "silu", "hard_swish", "gelu", "gelu_tanh", "mish", "celu",
               "log_sigmoid", "tanhshrink")
}
#: The gate ops and directions ("gate", "gate_grad") whose blocks of tiny a and b run
#: their tiny forms (_formulas.pxd "tiny gate blocks": fixed, no setup).
TINY_PATHS.update({"glu": ("gate", "gate_grad"), "swiglu": ("gate", "gate_grad"),
                   "geglu": ("gate", "gate_grad")})

#: The gate ops and directions of TINY_PATHS whose tiny blocks are float64's only (the
#: float32 loops have no tiny test: it folds away).  geglu's forward: with the tiny
#: block's test in its float32 loop GCC 12 no longer if-converted that fast loop (6x
#: slower on ordinary data), and its float32 formula, in double, does no subnormal
#: arithmetic; float64's exact formula multiplies subnormal a in every lane (0.5 (a b)
#: is a signed zero there).
TINY_F64_GATES: Dict[str, Tuple[str, ...]] = {"geglu": ("gate",)}

#: The gate ops and directions of TINY_PATHS whose tiny blocks, where subnormal arithmetic
#: is not slow (`subnormal_detours` off, as below), run NAME_DIRECTION_a_tiny_plain and
#: _b_tiny_plain (_formulas.pxd "tiny gate blocks"): the same roundings by plain
#: multiplies, where the tiny forms' vtiny_mul_by and times_fraction cost swiglu's
#: backward 8.4 avx2 instructions per element (4.6 on ordinary data).
TINY_PLAIN_GATES: Dict[str, Tuple[str, ...]] = {
    "glu": ("gate_grad",), "swiglu": ("gate_grad",), "geglu": ("gate_grad",)}

#: Ops and directions of TINY_PATHS whose tiny blocks pay only where subnormal
#: arithmetic is slow (the import-time probe of _kernels.pyx, `subnormal_detours`):
#: their exact formulas are a multiply, a select or a division, no transcendental, and
#: on a core without microcode assists (AMD Zen 4) they run subnormal inputs faster
#: than the tiny forms do (docs/performance-notes.md "Tiny blocks on a core without
#: assists").  The other ops keep their tiny blocks on every core: their exact formulas
#: on subnormal inputs take slower branches (up to 5x on Zen 4); where the detours are
#: off, a forward whose tiny form has the dtype's slopes forms slope * x with one
#: multiply (_formulas.pxd tiny_forward_plain, the same bits).  prelu's tiny rows
#: (_prelu.pxi) follow the same switch.  hard_swish's forward keeps its tiny blocks on
#: every core: its tiny form (_spec.TINY_FORMS) is one division of normal numbers, as
#: its exact formula on ordinary inputs, where the exact formula on subnormal inputs
#: divides a subnormal (2x on Zen 4).
TINY_FOR_ASSISTS: Dict[str, Tuple[str, ...]] = {
    "leaky_relu": ("forward", "backward"), "softsign": ("forward", "backward"),
    "hard_swish": ("backward",),
}

#: Ops and directions of TINY_PATHS ("forward") whose tiny blocks, where the setup finds
#: f(x) = x for x >= +0 and c x otherwise with 0 <= c <= 1 (_formulas.pxd
#: tiny_slope_form: leaky_relu's and rrelu's evaluation with a slope in [0, 1]), run
#: tiny_forward_slope: 5 vector operations per vector of float32 at avx512 instead of
#: tiny_forward's 17 and 2 mask operations (docs/performance-notes.md "Tiny blocks by a
#: known slope").
TINY_SLOPE_FORMS: Dict[str, Tuple[str, ...]] = {"leaky_relu": ("forward",)}

#: Ops and directions of FAST_PATHS whose rare predicate only keeps subnormal arithmetic
#: out of the fast formula, which gives the exact formula's bits on every input
#: (_formulas.pxd, sigmoid_backward_from_output_rare): the blocks skip the predicate
#: where subnormal arithmetic is not slow (`subnormal_detours`, as above).
RARE_FOR_ASSISTS: Dict[str, Tuple[str, ...]] = {"sigmoid": ("backward_from_output",)}

#: Ops and directions of FAST_ONE_PASS whose rare regions (a rare block and the streak
#: after it) go block by block (_elementwise.pxi.tp NAME_DIRECTION_small_region): each
#: block's lanes are tested by NAME_DIRECTION_small_lane while NAME_DIRECTION_small
#: writes them into a buffer; a block whose every lane passes is written from that
#: buffer, any other block by the exact formula.
#: sigmoid's backward from y < 2**-60 (2**-500), underflowing outputs: g y rounded once
#: by one FMA at the subnormal spacing (_vmath.h act_small_mul), where the exact
#: formula's scaled product, tie fix and guards took 4.1x ordinary data's time on an
#: Intel core, the small blocks 1.8x (docs/performance-notes.md "sigmoid's backward
#: from tiny y by one FMA").
RARE_SMALL_PATHS: Dict[str, Tuple[str, ...]] = {"sigmoid": ("backward_from_output",)}

#: Ops and directions of TINY_PATHS whose tiny blocks run a form of their own,
#: NAME_DIRECTION_tiny in _formulas.pxd (no setup), where the first-order form cannot
#: reproduce the exact formula's roundings.
TINY_FORMS: Dict[str, Tuple[str, ...]] = {"hard_swish": ("forward",), "mish": ("forward",)}

#: Elementwise ops and directions (from x) whose whole blocks of NAME_DIRECTION_neg_lane
#: inputs, below -DEEP_NEG (-64 / -640; a scalar look at the block's first lane, then
#: one predicate pass), run NAME_DIRECTION_neg in _formulas.pxd: the exact formula with
#: exp(x), which vanishes against 1 or 2 there, folded in and its final scale-down by
#: integer operations (or one FMA: NEG_PLAIN below), the same bits without an
#: underflowing product or a division
#: (_elementwise.pxi.tp chunk_loop; before the fast path's predicate pass).
NEG_FORMS: Dict[str, Tuple[str, ...]] = {
    "mish": ("forward", "backward"),
    "sigmoid": ("forward", "backward"),
    "silu": ("forward", "backward"),
    "swish": ("forward", "backward"),
    "softplus": ("forward", "backward"),
    "log_sigmoid": ("forward", "backward"),
    "elu": ("backward",),
    "selu": ("backward",),
    "celu": ("backward",),
}

#: Ops and directions of NEG_FORMS whose deep-negative blocks, where subnormal arithmetic
#: is not slow (`subnormal_detours` off), run NAME_DIRECTION_neg with plain = 1 (in an
#: outlined NAME_DIRECTION_neg_plain_loop): the final scale-down by one FMA instead of
#: integer operations, the same bits (_vmath.h act_scale_down_plain; the baseline level,
#: without FMA, keeps the integer form).  Every neg form takes `plain`; log_sigmoid's
#: (no scale-down), mish's (not measured) and softplus's forward ignore it (its blocks
#: already ran at 0.7-0.8x ordinary; with the plain loop its float64 fast loop counted
#: 1.2% more avx2 instructions on ordinary data).
NEG_PLAIN: Dict[str, Tuple[str, ...]] = {
    "sigmoid": ("forward", "backward"), "silu": ("forward", "backward"),
    "swish": ("forward", "backward"), "softplus": ("backward",), "elu": ("backward",),
    "selu": ("backward",), "celu": ("backward",)}


#: Elementwise ops and directions whose whole blocks of NAME_DIRECTION_huge_lane inputs
#: (a scalar look at the block's first lane, NAME_DIRECTION_huge_first, then one
#: predicate pass) run
#: NAME_DIRECTION_huge in _formulas.pxd: the exact formula's result there, known without
#: its arithmetic.  softsign's backward on huge |x|: (g r) r is +-0, and its division
#: (r subnormal) and products (into the subnormal range or to 0) are slow on AMD Zen 5
#: (docs/performance-notes.md "softsign's backward on huge inputs").
HUGE_PATHS: Dict[str, Tuple[str, ...]] = {"softsign": ("backward",)}


#: Elementwise ops and directions whose calls of at least OUT_OF_CACHE_MIN_BYTES
#: (_kernels.pyx) an operand run NAME_DIRECTION_ooc in _formulas.pxd in every chunk, in
#: an outlined NAME_DIRECTION_ooc_loop: the same bits by integer arithmetic.  GCC makes
#: the plain form's `g if x > a else 0` a load of g under a mask from x, which out of
#: cache waits a memory latency behind x's load; in cache the integer form costs more
#: instructions.  AVX-512 only: below it the forms are the plain ones (an unconditional
#: load of g and a blend; docs/performance-notes.md "Cheap backwards out of cache").
OUT_OF_CACHE_FORMS: Dict[str, Tuple[str, ...]] = {
    "relu": ("backward", "backward_from_output"), "threshold": ("backward",)}


#: Elementwise ops and directions (of FAST_PATHS, with the look-ahead: not FAST_ONE_PASS)
#: whose float32 blocked loops, in a call of at least OWN_PASS_MIN_BYTES (_kernels.pyx)
#: an operand, give each block its own predicate pass instead of ORing the next block's
#: in the formula's loop: there the next block's loads from memory inside that loop cost
#: more than a pass of their own (softplus backward at 2**24 0.68-0.85x the look-ahead's
#: time).  Not float64 (1.3-2.1x: its formulas are long enough for the look-ahead's loads
#: to hide under them), nor softplus and log_sigmoid forward, sigmoid and swish backward
#: (0.99-1.07x; docs/performance-notes.md "The look-ahead out of cache").  The same bits:
#: the predicate only picks between formulas that agree.
OUT_OF_CACHE_OWN_PASS: Dict[str, Tuple[str, ...]] = {
    "sigmoid": ("forward",), "swish": ("forward",), "silu": ("forward", "backward"),
    "softplus": ("backward",), "log_sigmoid": ("backward",), "elu": ("backward",),
    "selu": ("backward",), "celu": ("backward",)}


def gate_ops() -> Tuple[str, ...]:
    """The gated kernel ops (glu family), in op-number order."""
    order: Dict[str, None] = {}
    for spec in SPECS:
        if spec.kind == "gated":
            for op in spec.ops:
                order[op] = None
    return tuple(order)


def kernel_ops() -> Tuple[Tuple[str, bool, bool], ...]:
    """The elementwise kernel ops, in op-number order:
    ``(name, has_backward_from_output, memory_bound)``.

    An op has a from-output backward when any function using it lists ``"y"`` in
    ``backward_takes``, and is memory-bound when every function using it is.
    """
    order: Dict[str, Tuple[bool, bool]] = {}
    for spec in SPECS:
        if spec.kind == "gated":
            continue
        for op in spec.ops:
            has_y, mem = order.get(op, (False, True))
            order[op] = (has_y or "y" in spec.backward_takes, mem and spec.memory_bound)
    return tuple((name, has_y, mem) for name, (has_y, mem) in order.items())


# ---------------------------------------------------------------- the C-level API
#
# tools/gen_capi.py turns the rows above and the three tables below into the functions
# that Cython (cython_api.pxd) and C (include/activations.h) callers reach through the
# table of function pointers in the capsule ``activations._C_API``: parameters are
# passed as C values of the array's type, and a call that breaks a rule returns
# ACT_EINVAL instead of raising.

#: The table's groups of entries, in table order.  Each row gives one function's
#: entries (forward, backward from x and, where the function takes y, from y; float32
#: then float64).  The order is the ABI: rows are only ever appended, never inserted,
#: removed or reordered (tests/capi/abi.txt lists what was released).
C_API_ROWS: Tuple[Union[str, Tuple[str, str]], ...] = (
    "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "rrelu", "elu", "selu", "softsign",
    "softplus", "softmax", "log_softmax", "swish", "hard_swish", "relu6", "hard_sigmoid",
    "hard_tanh", "gelu", "mish", "celu", "log_sigmoid", "softmin", "tanhshrink",
    "softshrink", "hardshrink", "glu", "swiglu", "geglu", "threshold",
    # the fused forms (docs/api.md "Cython and C"): (function, form) rows.  "bias":
    # f(x + bias) over (rows, cols) with the bias along cols, forward and backward from
    # x (with grad_bias); "masked": the softmax family of scale * x + mask.
    ("sigmoid", "bias"), ("tanh", "bias"), ("relu", "bias"), ("leaky_relu", "bias"),
    ("elu", "bias"), ("selu", "bias"), ("softsign", "bias"), ("softplus", "bias"),
    ("swish", "bias"), ("hard_swish", "bias"), ("relu6", "bias"), ("hard_sigmoid", "bias"),
    ("hard_tanh", "bias"), ("gelu", "bias"), ("mish", "bias"), ("celu", "bias"),
    ("log_sigmoid", "bias"), ("tanhshrink", "bias"), ("softshrink", "bias"),
    ("hardshrink", "bias"), ("threshold", "bias"),
    ("softmax", "masked"), ("log_softmax", "masked"), ("softmin", "masked"),
)

#: What a C call's parameters must satisfy (else ACT_EINVAL): expressions, valid in
#: Python and in Cython, over the parameters as values of the array's type.  They
#: state the rules that the ``kernel_args`` mappers above enforce by raising
#: (tests/test_capi.py checks that both accept and reject the same values).
C_API_CHECKS: Dict[str, Tuple[str, ...]] = {
    "leaky_relu": ("isfinite(negative_slope)",),
    "rrelu": ("0 <= lower <= 1", "0 <= upper <= 1", "lower <= upper"),
    "elu": ("isfinite(alpha)",),
    "softplus": ("isfinite(beta)", "beta != 0", "isfinite(threshold)"),
    "swish": ("isfinite(beta)",),
    "hard_tanh": ("isfinite(min_val)", "isfinite(max_val)", "min_val <= max_val"),
    "gelu": ("approximate == 0 or approximate == 1",),
    "celu": ("isfinite(alpha)", "alpha != 0"),
    "softshrink": ("isfinite(lambd)", "lambd >= 0"),
    "hardshrink": ("isfinite(lambd)", "lambd >= 0"),
    "geglu": ("approximate == 0 or approximate == 1",),
    "threshold": ("isfinite(threshold)",),
}

#: ... the fused forms' own parameters (softmax_scale in _validation.py) ...
C_API_FORM_CHECKS: Dict[str, Tuple[str, ...]] = {"masked": ("isfinite(scale)",)}

#: ... and, for the backward from y, what ``check_from_output`` above requires.
C_API_CHECKS_FROM_OUTPUT: Dict[str, Tuple[str, ...]] = {
    "leaky_relu": ("negative_slope > 0",),
    "elu": ("alpha > 0",),
    "celu": ("alpha > 0",),
}

#: The kernel op of a C call, for functions with several ops (the choice that
#: ``kernel_args`` makes): an expression over the parameters whose value is an op name.
#: Every other function uses its first op with its float parameters, in order, as the
#: op's two arguments.
C_API_OP: Dict[str, str] = {
    "swish": "'silu' if beta == 1 else 'swish'",
    "gelu": "'gelu_tanh' if approximate else 'gelu'",
    "geglu": "'geglu_tanh' if approximate else 'geglu'",
}

#: C types of the parameters that are not floats of the array's type (``T``); ``axis``
#: is not a C parameter (row-wise kinds work along the last axis, prelu takes its
#: layout as sizes) and neither is prelu's ``weight`` (a pointer of its own).
C_API_PARAM_TYPES: Dict[str, str] = {"approximate": "int", "training": "int", "seed": "uint64_t"}
C_API_NOT_PARAMS: Tuple[str, ...] = ("axis", "weight")
