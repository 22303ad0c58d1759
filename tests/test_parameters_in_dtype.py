"""Parameters are checked as the kernel uses them: converted to the data's dtype
(docs/api.md, "Parameters"), as the C API's float and double entries receive them.

For every parameterised function of the registry, each float parameter in turn takes
values whose validity changes when rounded to float32 (1.00000001 is 1.0f, 1e-50 is 0,
1e39 is inf).  The C API's rules (_spec.C_API_CHECKS, evaluated here on the value
rounded by NumPy) say which calls are valid; the Python layer must accept and reject
the same calls, and an accepted float32 call must give the result of the call with the
rounded value, bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import activations as act
from activations import _spec

SPECS = {s.name: s for s in _spec.SPECS}

#: Values that change validity in float32: 1.00000001 and 1.0000000001 round to 1.0
#: (above the bound 1 in float64, on it in float32), +-1e-50 to +-0.0 (non-zero or
#: negative in float64, zero in float32), +-1e39 to +-inf (finite only in float64).
CROSSING = [1.00000001, 1.0000000001, -1.00000001, 1e-50, -1e-50, 1e39, -1e39]


def _float_params(name):
    """The float parameters of ``name`` (the C entries' ``T`` parameters)."""
    return [k for k in act.get(name).params
            if k not in _spec.C_API_NOT_PARAMS and _spec.C_API_PARAM_TYPES.get(k, "T") == "T"]


def _defaults(name):
    """The registry's defaults; a required parameter (threshold's) gets 0.5."""
    params = {k: (0.5 if v is None else v) for k, v in act.get(name).params.items()
              if k not in _spec.C_API_NOT_PARAMS}
    if name == "rrelu":
        params["training"] = False
    return params


NAMES = [s.name for s in _spec.SPECS if s.kind != "prelu" and _float_params(s.name)]


def _c_accepts(rules, params) -> bool:
    c_params = {k: (1 if v is True else 0 if v is False else v) for k, v in params.items()}
    return all(eval(rule, {"isfinite": math.isfinite}, c_params) for rule in rules)


def _in_float32(params):
    return {k: (float(np.float32(v)) if isinstance(v, float) else v)
            for k, v in params.items()}


def _outcome(call):
    try:
        return call()
    except ValueError:
        return None


def _cases(name):
    for key in _float_params(name):
        for value in CROSSING:
            params = _defaults(name)
            params[key] = value
            yield params


def test_every_parameterised_function_is_covered():
    assert {"hard_tanh", "rrelu", "softplus", "celu", "leaky_relu", "threshold"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("training", [False, True])
def test_python_accepts_what_the_c_entry_of_the_dtype_accepts(name, training):
    if training and name != "rrelu":
        pytest.skip("training is rrelu's")
    fwd, bwd = getattr(act, name), getattr(act, f"{name}_backward")
    rules = _spec.C_API_CHECKS.get(name, ())
    rules_y = rules + _spec.C_API_CHECKS_FROM_OUTPUT.get(name, ())
    takes_y = "y" in SPECS[name].backward_takes
    with np.errstate(over="ignore"):
        for params in _cases(name):
            if name == "rrelu":
                params["training"] = training
            for dtype in (np.float32, np.float64):
                x = np.linspace(-3, 3, 16, dtype=dtype)
                g = np.linspace(0.5, 2, 16, dtype=dtype)
                seen = _in_float32(params) if dtype == np.float32 else params
                ok = _c_accepts(rules, seen)
                where = (name, dtype.__name__, params)
                got = _outcome(lambda: fwd(x, **params))
                assert (got is not None) == ok, where
                got_b = _outcome(lambda: bwd(g, x, **params))
                assert (got_b is not None) == ok, where
                if takes_y:
                    y = fwd(x)
                    assert (_outcome(lambda: bwd(g, y=y, **params)) is not None) == \
                        _c_accepts(rules_y, seen), where
                if ok and dtype == np.float32:
                    # the C entry's float parameters: the values rounded to float32
                    assert np.array_equal(got.view(np.uint32),
                                          fwd(x, **seen).view(np.uint32)), where
                    assert np.array_equal(got_b.view(np.uint32),
                                          bwd(g, x, **seen).view(np.uint32)), where


@pytest.mark.parametrize("name", [n for n in NAMES if "bias" in act.get(n).fused])
def test_fused_bias_form_checks_the_converted_parameters(name):
    fwd = getattr(act, name)
    rules = _spec.C_API_CHECKS.get(name, ())
    x = np.linspace(-3, 3, 16, dtype=np.float32).reshape(4, 4)
    bias = np.linspace(-0.5, 0.5, 4, dtype=np.float32)
    with np.errstate(over="ignore"):
        for params in _cases(name):
            ok = _c_accepts(rules, _in_float32(params))
            got = _outcome(lambda: fwd(x, bias=bias, **params))
            assert (got is not None) == ok, (name, params)


def test_the_cases_of_the_audit():
    """hard_tanh(min_val=1.0000000001, max_val=1.0) and rrelu(upper=1.00000001) are
    valid calls on float32 data (1.0f and 1.0f), not on float64 data; beta = 1e39 is
    valid for float64 data only (inf in float32)."""
    x32 = np.linspace(-2, 2, 9, dtype=np.float32)
    x64 = x32.astype(np.float64)
    assert np.array_equal(act.hard_tanh(x32, min_val=1.0000000001, max_val=1.0),
                          np.ones_like(x32))
    with pytest.raises(ValueError):
        act.hard_tanh(x64, min_val=1.0000000001, max_val=1.0)
    slope = (np.float64(np.float32(1 / 8)) + 1.0) / 2
    assert np.array_equal(act.rrelu(x32, upper=1.00000001),
                          np.where(x64 >= 0, x64, slope * x64).astype(np.float32))
    with pytest.raises(ValueError):
        act.rrelu(x64, upper=1.00000001)
    act.rrelu(x32, upper=1.00000001, training=True, seed=1)
    with pytest.raises(ValueError):
        act.softplus(x32, beta=1e39)
    act.softplus(x64, beta=1e39)


def test_a_cached_value_is_rechecked_for_the_other_dtype():
    """A value seen first with one dtype gives the other dtype's answer on a later call."""
    x32 = np.linspace(-2, 2, 9, dtype=np.float32)
    x64 = x32.astype(np.float64)
    for _ in range(2):
        act.hard_tanh(x32, min_val=1.00000001, max_val=1.0)
        with pytest.raises(ValueError):
            act.hard_tanh(x64, min_val=1.00000001, max_val=1.0)
        act.celu(x64, alpha=1e-50)
        with pytest.raises(ValueError):
            act.celu(x32, alpha=1e-50)
