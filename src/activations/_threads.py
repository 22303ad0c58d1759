"""Thread limits scoped to a block of code."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from . import _functions


@contextmanager
def thread_limit(n: int) -> Iterator[None]:
    """Kernel calls made from the current Python thread inside the block use at most
    ``n`` threads; other threads are unaffected; nests and restores."""
    n = int(n)
    if n < 1:
        raise ValueError(f"thread_limit: n must be >= 1, got {n}")
    kernels = _functions._K
    previous = kernels.get_num_threads()
    # OpenMP's thread count is an ICV of the calling thread (omp_set_num_threads)
    kernels.set_num_threads(n)
    try:
        yield
    finally:
        kernels.set_num_threads(previous)
