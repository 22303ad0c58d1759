"""The checking core shared by ``python -m activations`` and ``benchmarks/bench.py``.

- ``references.py``: the package-side reference of every public function
  (``REFERENCES``, by public name), built on the long-double formulas of ``ldmath.py``;
- ``ulp.py``: errors in ULPs and the accuracy bounds of the self-check;
- ``peers.py``: the NumPy peers; ``peers_optional.py``: PyTorch and ONNX Runtime
  (imported only when asked for);
- ``timing.py``: the one timer (warm-up, calibrated loops, median and spread);
- ``selfcheck.py`` and ``checks.py``: the self-check (driver and table; the checks of
  each kind); ``shortbench.py``: the short benchmark of ``python -m activations``.

The tests do not use this package: they keep their own independent references
(tests/reference.py).
"""


def say(*args, **kwargs) -> None:
    """print, flushed at once (progress of a long run, interleaved with stderr)."""
    print(*args, **kwargs, flush=True)
