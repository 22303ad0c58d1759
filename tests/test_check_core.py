"""The checking core behind `python -m activations` and benchmarks/bench.py
(activations._check): the ULP measure, the timer, the NumPy peers, and the self-check's
verdicts.  The package's own values are tested elsewhere against the tests' independent
references (reference.py); here the core is tested as a tool: that it measures what it
says, and that a wrong or missing reference makes the self-check fail."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

import activations as act
from activations import __main__ as cli
from activations._check import checks, references, selfcheck, shortbench, ulp
from activations._check.peers import NUMPY
from activations._check.peers_optional import torch_peers
from activations._check.timing import Budget, measure


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ulp_errors_count_spacings(dtype):
    ref = np.array([1.0, 1.0, dtype(1e-3), 0.0, np.inf, np.nan, 2.0], dtype=np.longdouble)
    one_up = np.nextafter(dtype(1.0), dtype(2.0))
    got = np.array([1.0, one_up, np.nextafter(dtype(1e-3), dtype(0.0)), 0.0, np.inf, np.nan,
                    np.inf], dtype=dtype)
    err = ulp.ulp_errors(got, ref, np.dtype(dtype))
    assert list(err[:6]) == [0, 1, 1, 0, 0, 0]
    assert err[6] == np.inf  # an infinity where the value is finite
    assert ulp.max_ulp(got[:3], ref[:3], np.dtype(dtype)) == 1


def test_ulp_at_the_larger_term():
    # 1e-10 computed as a difference of terms of size 1: 2**-52 off is 1 ULP of the terms
    ref = np.array([1e-10], dtype=np.longdouble)
    got = np.array([1e-10 + 2.0 ** -52])
    assert ulp.max_ulp(got, ref, np.dtype(np.float64)) > 1e5
    assert ulp.max_ulp(got, ref, np.dtype(np.float64), unit_of=np.ones(1)) == pytest.approx(1, abs=1e-6)


def test_bounds():
    assert ulp.bound("sigmoid", np.float32, "fwd") == ulp.TOLERANCE_ULP["fwd"]
    assert ulp.bound("geglu", np.float64, "bwd") == ulp.TOLERANCE_EXCEPTIONS[("geglu", "f64")]["bwd"]


def test_measure_times_every_sample():
    calls = []
    t = measure(lambda: calls.append(1), 10, Budget(sample_ms=0.2, repeats=3))
    assert t.lo <= t.median <= t.hi and t.loops >= 1 and t.repeats == 3
    assert len(calls) >= 1 + 3 * t.loops  # warm-up, calibration, then every sample


#: the short benchmark's rows: (label, name, keyword parameters)
ROWS = shortbench.bench_rows()


@pytest.mark.parametrize("label,name,params", ROWS, ids=[r[0] for r in ROWS])
@pytest.mark.parametrize("direction", ["fwd", "bwd"])
def test_numpy_peer_computes_the_function(label, name, params, direction):
    """The benchmark's NumPy peers compute what the package computes (float64, ordinary
    inputs): a speed ratio against another function would mean nothing."""
    peer = NUMPY.get(label)
    expr = getattr(peer, direction, None) if peer else None
    if expr is None:
        pytest.skip("no NumPy peer")
    fwd, bwd, ops = shortbench.bench_case(name, params, np.float64, 1024,
                                          np.random.default_rng(3))
    ours = (fwd if direction == "fwd" else bwd)()
    ours = tuple(np.copy(a) for a in ours) if isinstance(ours, tuple) else (np.copy(ours),)
    theirs = expr(ops)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)  # prelu: grad_weight too
    assert len(theirs) == len(ours)
    for a, b in zip(theirs, ours):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)


def _context():
    rng = np.random.default_rng(1)
    inputs = {np.dtype(t): selfcheck.check_inputs(np.dtype(t), rng, True)
              for t in (np.float32, np.float64)}
    return checks.Context(True, inputs)


def test_self_check_passes_a_function_and_fails_a_wrong_reference(monkeypatch):
    ctx = _context()
    rows, reason = selfcheck.check_function("tanh", ctx)
    assert reason is None and rows and not any(c.failed for _, cells in rows for c in cells)
    wrong = references.Elementwise(lambda x: np.tanh(x) * (1 + 2.0 ** -20),
                                   lambda x: 1 / np.cosh(x) ** 2)
    monkeypatch.setitem(references.REFERENCES, "tanh", wrong)
    rows, reason = selfcheck.check_function("tanh", _context())
    failed = {c.label for _, cells in rows for c in cells if c.failed}
    assert reason is None and {"f32 fwd", "f64 fwd"} <= failed
    assert "f64 bwd x" not in failed


def test_missing_reference_fails_the_command_with_status_3(monkeypatch, capsys):
    monkeypatch.delitem(references.REFERENCES, "relu")
    status = cli.main(["--quick", "--check-only"])
    out = capsys.readouterr().out
    assert status == cli.EXIT_CHECK_FAILED
    assert "relu: no reference" in out and "== self-check: FAILED" in out


def test_check_only_and_bench_only_exclude_each_other(capsys):
    """Both would run nothing and still report "done"; argparse refuses (status 2)."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["--check-only", "--bench-only"])
    assert exc.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_reference_values_for_the_benchmark():
    """expected() (bench.py's accuracy) agrees with the self-check's pieces: softmax from
    y is the JVP at the given y; prelu broadcasts its weight along the axis."""
    x = np.array([[0.0, 1.0, -2.0, 3.0]])
    g = np.array([[1.0, -1.0, 0.5, 2.0]])
    y = np.exp(x) / np.exp(x).sum()
    want, _ = references.expected("softmax", "bwd", np.float64, x, g, y, None, {"axis": -1},
                                  from_y=True)
    np.testing.assert_allclose(want.astype(float), y * (g - (g * y).sum()), rtol=1e-15)
    w = np.array([0.1, 0.2, 0.3, 0.4])
    want, _ = references.expected("prelu", "fwd", np.float64, x, g, None, w, {"axis": 1})
    np.testing.assert_array_equal(want.astype(float), np.where(x > 0, x, w * x))
    assert math.isclose(float(references.expected("sigmoid", "fwd", np.float32, x, g, None,
                                                  None, {})[0][0, 1]), 1 / (1 + math.exp(-1)))


@pytest.mark.parametrize("label,name,params", ROWS, ids=[r[0] for r in ROWS])
@pytest.mark.parametrize("direction", ["fwd", "bwd", "bwd_from_y"])
def test_torch_peer_computes_the_function(label, name, params, direction):
    """As the NumPy peers: the benchmark's PyTorch ops compute the package's function
    (a row with other parameters, e.g. gelu's tanh form, under its label)."""
    torch = pytest.importorskip("torch")
    expr = getattr(torch_peers(torch).get(label), direction, None)
    if expr is None:
        pytest.skip("no PyTorch peer")
    fwd, bwd, ops = shortbench.bench_case(name, params, np.float64, 1024,
                                          np.random.default_rng(4))
    ops.y = np.copy(fwd())
    if direction == "fwd":
        ours = ops.y
    elif direction == "bwd":
        ours = bwd()
    else:
        ours = act.get(name).backward(ops.g, y=ops.y, **params)
    ours = ours[0] if isinstance(ours, tuple) else ours
    t = SimpleNamespace(**{k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                           for k, v in vars(ops).items()})
    theirs = expr(t)
    theirs = (theirs[0] if isinstance(theirs, tuple) else theirs).numpy()
    np.testing.assert_allclose(theirs, ours, rtol=1e-7, atol=1e-12)
