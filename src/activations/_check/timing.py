"""The timers of ``python -m activations`` and the benchmarks.

:func:`measure` (``python -m activations``, ``benchmarks/bench.py``): warm-up, then a
loop count calibrated so that one sample lasts ``Budget.sample_ms``, then
``Budget.repeats`` samples timed with ``perf_counter_ns``; the median is reported with
the min/max spread.  Tiny arrays loop many calls per sample; a call that alone fills a
sample is timed ``Budget.long_repeats`` times.

:func:`interleaved` (``benchmarks/bench_fused.py``): variants of one computation timed
one call each in turn, so that a burst of background load hits all of them alike;
:func:`interleaved_batches` (``benchmarks/bench.py``'s value-dependence table) the same
with a calibrated batch of calls per turn, for calls too short to time one by one.
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple


@dataclasses.dataclass
class Budget:
    sample_ms: float = 5.0
    repeats: int = 5
    long_repeats: int = 3  # samples when one call alone fills a sample (large arrays)


@dataclasses.dataclass
class Timing:
    median: float  # ns per element
    lo: float
    hi: float
    loops: int
    repeats: int


def measure(thunk: Callable, n: int, budget: Budget) -> Timing:
    """Median/min/max ns per element of thunk() (on n elements) over budget.repeats samples."""
    thunk()  # warm-up (page faults, lazy init)
    loops = 1
    while True:  # calibrate: double the loop count until a batch lasts >= 1/4 sample
        t0 = time.perf_counter_ns()
        for _ in range(loops):
            thunk()
        elapsed = time.perf_counter_ns() - t0
        if elapsed * 4 >= budget.sample_ms * 1e6 or loops >= 1 << 20:
            break
        loops *= 2
    samples, repeats = [], budget.repeats
    if elapsed >= budget.sample_ms * 1e6:  # one call fills a sample: keep it as the first
        samples.append(elapsed / loops / n)
        repeats = min(repeats, budget.long_repeats)
    else:
        loops = max(1, int(loops * budget.sample_ms * 1e6 / max(elapsed, 1)))
    while len(samples) < repeats:
        t0 = time.perf_counter_ns()
        for _ in range(loops):
            thunk()
        samples.append((time.perf_counter_ns() - t0) / loops / n)
    return Timing(statistics.median(samples), min(samples), max(samples), loops, repeats)


def interleaved(variants: Dict[str, Callable], repeats: int) -> Dict[str, float]:
    """Median seconds per call of each variant, timed in turn in every repetition."""
    for fn in variants.values():
        fn()  # warm-up: page faults, lazy initialization
    samples: Dict[str, List[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for key, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            samples[key].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def interleaved_batches(variants: Dict[str, Callable], n: int, budget: Budget,
                        rounds: int = 0, batch_ms: float = 0.0,
                        setup: Optional[Dict[str, Callable]] = None) -> Dict[str, Timing]:
    """ns per element of each variant (on n elements), timed in turn, so that drift of the
    clock and bursts of load hit every variant alike: `rounds` rounds (default
    3 * budget.repeats) of one batch per variant, each batch's loop count calibrated once
    so that it lasts about `batch_ms` (default budget.sample_ms / 4).  Where a single call
    of some variant alone lasts a batch, budget.long_repeats rounds at most.

    The order changes from round to round (`balanced_orders`): a batch starts in the
    caches its predecessor left, and a peer whose buffers evict the problem's (ONNX
    Runtime's float64 glu, a graph with buffers of its own) put float64 glu at 2**20
    1.25x behind PyTorch while ours always came right after it, 0.82x while PyTorch
    did (docs/performance-notes.md, "glu forward float64 at 2^20: the contestant
    before").

    `setup[key]`, where given, runs before each warm-up, calibration and batch of
    variant `key`, outside the timed region: variants that share buffers load their own
    values into them there."""
    batch_ns = (batch_ms or budget.sample_ms / 4) * 1e6
    loops: Dict[str, int] = {}
    longest = 0
    prepare = setup or {}
    for key, fn in variants.items():
        prepare.get(key, _nothing)()
        fn()  # warm-up
        t0 = time.perf_counter_ns()
        fn()
        once = max(time.perf_counter_ns() - t0, 1)
        longest = max(longest, once)
        loops[key] = max(1, int(batch_ns / once))
    rounds = rounds or 3 * budget.repeats
    if longest >= batch_ns:
        rounds = min(rounds, budget.long_repeats)
    samples: Dict[str, List[float]] = {k: [] for k in variants}
    keys = list(variants)
    for order in balanced_orders(len(keys), rounds, first_after=len(keys) - 1):
        for key in (keys[j] for j in order):
            fn = variants[key]
            prepare.get(key, _nothing)()
            t0 = time.perf_counter_ns()
            for _ in range(loops[key]):
                fn()
            samples[key].append((time.perf_counter_ns() - t0) / loops[key] / n)
    return {k: Timing(statistics.median(v), min(v), max(v), loops[k], len(v))
            for k, v in samples.items()}


def _nothing() -> None:
    pass


#: Above this many variants balanced_orders keeps the given order (k! orders to weigh).
BALANCED_MAX = 6


def balanced_orders(k: int, rounds: int, first_after: int = 0) -> List[Sequence[int]]:
    """`rounds` orders of range(k), one per round, each the permutation (the first in
    itertools' order among equals) that keeps the counts of (variant before, variant)
    pairs most even, counted across round boundaries, the first round's first variant
    following `first_after` (the last one calibrated): every variant then comes after
    every other about equally often, itself included.  The given order every round
    for fewer than two variants or more than BALANCED_MAX."""
    if k < 2 or k > BALANCED_MAX:
        return [tuple(range(k))] * rounds
    count = [[0] * k for _ in range(k)]
    orders: List[Sequence[int]] = []
    prev = first_after
    for _ in range(rounds):
        best: Tuple[int, Sequence[int]] = (-1, ())
        for perm in itertools.permutations(range(k)):
            pairs = list(zip((prev,) + perm[:-1], perm))
            for a, b in pairs:
                count[a][b] += 1
            cost = sum(v * v for row in count for v in row)
            for a, b in pairs:
                count[a][b] -= 1
            if best[0] < 0 or cost < best[0]:
                best = (cost, perm)
        for a, b in zip((prev,) + best[1][:-1], best[1]):
            count[a][b] += 1
        orders.append(best[1])
        prev = best[1][-1]
    return orders
