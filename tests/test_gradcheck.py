"""Backward against 4th-order central differences of the package's own forward (float64).

    f'(x) ~ (f(x - 2h) - 8 f(x - h) + 8 f(x + h) - f(x + 2h)) / (12 h)

truncation O(h^4 f^(5)), rounding O(eps |f| / h); with h = 1e-3 (scaled by |x| above 1)
both stay far below the tolerance.  Points within 4h of a kink (relu, leaky_relu,
elu, selu at 0; hard_swish at +-3; softplus at threshold / beta) are left out.
"""

from __future__ import annotations

import numpy as np
import pytest

import activations as act
from cases import backward, forward, function_params, reference


@pytest.mark.parametrize("name, params", function_params())
def test_backward_matches_central_differences(name, params):
    ref = reference(name)
    p = ref.effective(params, np.float64)
    rng = np.random.default_rng(42)
    r = min(ref.core_range, 30.0)
    x = np.concatenate([rng.uniform(-r, r, 3000), rng.uniform(-4, 4, 1000)])
    h = 1e-3 * np.maximum(1.0, np.abs(x))
    near_kink = np.zeros(x.shape, bool)
    for k in ref.kinks(p):
        near_kink |= np.abs(x - k) <= 4 * h
    x, h = x[~near_kink], h[~near_kink]
    f = lambda v: forward(name, v, params)  # noqa: E731
    fd = (f(x - 2 * h) - 8 * f(x - h) + 8 * f(x + h) - f(x + 2 * h)) / (12 * h)
    g = np.random.default_rng(1).uniform(0.5, 2.0, x.size)
    got = backward(name, g, x, params)
    np.testing.assert_allclose(got, g * fd, rtol=1e-7, atol=1e-9,
                               err_msg=f"{name}({params}) backward vs finite differences")
    if "y" in act.get(name).backward_takes and ref.from_y_np is not None:
        try:
            got_y = act.get(name).backward(g, y=f(x), **params)
        except ValueError:
            return  # y does not determine x for these params (tested elsewhere)
        np.testing.assert_allclose(got_y, g * fd, rtol=1e-6, atol=1e-9,
                                   err_msg=f"{name}({params}) y-backward vs differences")
