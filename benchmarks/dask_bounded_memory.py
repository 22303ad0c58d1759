"""Bounded memory with activations.dask: gelu and a softmax over a chunked axis on
8 GiB of float32 that is generated chunk by chunk and never held in memory at once.

    python benchmarks/dask_bounded_memory.py            # 8 GiB, threaded scheduler
    python benchmarks/dask_bounded_memory.py --gib 1    # a quicker run

What it does:
  1. x: a (rows, 65536) float32 Dask array of values uniform in [-8, 8), each 16 MiB
     chunk drawn from its own seeded generator when a task needs it (the softmax axis,
     65536 long, is split into 4 chunks).
  2. Three passes, each reduced to a small result so that no output is kept either:
     generating x alone (x.max()), gelu(x).max(), and softmax(x, axis=1) summed along
     the axis (every row must sum to 1, to float32 rounding; checked).
  3. The peak resident memory of the process (ru_maxrss: the scheduler's threads run
     in it) after the passes; it must stay under --limit-mib (1024).
  4. The in-memory calls on an array that fits (256 MiB), for comparison: throughput
     in GB/s of float32 input, medians of --repeats runs.

It measures and reports; it does not assert speed.  The exit status is 1 when the peak
memory exceeds the limit or a softmax row does not sum to 1.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

import dask
import dask.array as da

import activations as act
import activations.dask as ad

COLS = 1 << 16            # the softmax axis
CHUNK = (256, 1 << 14)    # 16 MiB of float32 per chunk: 4 chunks along the softmax axis


def generated(rows: int, seed: int = 0) -> da.Array:
    """A lazy (rows, COLS) float32 array; each chunk drawn when a task asks for it."""
    def draw(block_info=None):
        info = block_info[None]
        key = [seed] + [int(i) for i in info["chunk-location"]]
        chunk = np.random.default_rng(key).random(info["chunk-shape"], np.float32)
        chunk *= 16.0
        chunk -= 8.0
        return chunk

    return da.map_blocks(draw, chunks=da.core.normalize_chunks(CHUNK, (rows, COLS)),
                         dtype=np.float32, meta=np.empty((0, 0), np.float32))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def timed(label: str, lazy, nbytes: int):
    t0 = time.perf_counter()
    (value,) = dask.compute(lazy)
    seconds = time.perf_counter() - t0
    print(f"  {label:<34} {seconds:7.1f} s  {nbytes / seconds / 1e9:6.2f} GB/s  "
          f"peak RSS so far {peak_rss_mib():7.0f} MiB", flush=True)
    return value, seconds


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=8.0, help="size of x (GiB of float32)")
    parser.add_argument("--workers", type=int, default=2, help="threads of the scheduler")
    parser.add_argument("--limit-mib", type=float, default=1024.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    rows = max(CHUNK[0], int(args.gib * 2**30 / 4 / COLS) // CHUNK[0] * CHUNK[0])
    x = generated(rows)
    nbytes = x.nbytes
    print(f"activations {act.__version__} ({act.simd_level()}), dask {dask.__version__}; "
          f"x: {x.shape} float32 = {nbytes / 2**30:.2f} GiB in {x.npartitions} chunks of "
          f"{CHUNK}, {x.numblocks[1]} along the softmax axis; threaded scheduler with "
          f"{args.workers} workers, {ad.get_threads_per_task()} kernel thread per task")
    print(f"  start: peak RSS {peak_rss_mib():.0f} MiB")
    with dask.config.set(scheduler="threads", num_workers=args.workers):
        _, t_gen = timed("generate x only: x.max()", x.max(), nbytes)
        _, t_gelu = timed("gelu(x).max()", ad.gelu(x).max(), nbytes)
        sums, t_soft = timed("softmax(x, axis=1).sum(axis=1)",
                             ad.softmax(x, axis=1).sum(axis=1, dtype=np.float64), nbytes)
    peak = peak_rss_mib()
    worst = float(np.max(np.abs(sums - 1.0)))

    # In memory, for comparison: an array that fits, the process's default threads.
    fits = np.random.default_rng(1).random((1024, COLS), np.float32) * 16 - 8
    out = np.empty_like(fits)
    t_gelu_mem = median_seconds(lambda: act.gelu(fits, out=out), args.repeats)
    t_soft_mem = median_seconds(lambda: act.softmax(fits, axis=1, out=out), args.repeats)
    gbs = lambda n, t: n / t / 1e9  # noqa: E731

    print(f"\npeak resident memory: {peak:.0f} MiB (limit {args.limit_mib:.0f} MiB) for "
          f"{nbytes / 2**30:.2f} GiB of input")
    print(f"softmax rows: max |sum - 1| = {worst:.2e} over {rows} rows")
    print(f"throughput (GB/s of float32 input):")
    print(f"  Dask, generation included : gelu {gbs(nbytes, t_gelu):.2f}, softmax chunked axis "
          f"{gbs(nbytes, t_soft):.2f} (generation alone {gbs(nbytes, t_gen):.2f})")
    print(f"  in memory, {fits.nbytes >> 20} MiB, {act.get_num_threads()} threads: gelu "
          f"{gbs(fits.nbytes, t_gelu_mem):.2f}, softmax {gbs(fits.nbytes, t_soft_mem):.2f}")
    ok = peak < args.limit_mib and worst < 1e-3
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
