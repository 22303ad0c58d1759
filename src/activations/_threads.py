"""Thread count of the kernels: the public setter and getter, and a per-thread limit.

The state lives in the compiled ``_threadstate`` module (one per process, shared by
every SIMD level; its docstring gives the design).  The rules:

* ``set_num_threads(n)`` is process-wide: every Python thread, started before or
  after the call, uses at most ``n`` threads per kernel call.
* ``thread_limit(n)`` caps the calls made from the current Python thread only.
  ``threadpoolctl.threadpool_limits(n)`` does the same (it calls OpenMP's
  ``omp_set_num_threads``, whose setting belongs to the calling thread).
* After ``os.fork()`` the child runs every call on one thread until it calls
  ``set_num_threads`` (GNU libgomp cannot run a parallel region in a child forked
  after the parent ran one: call it in the child only if the parent never did, or
  use the "spawn" or "forkserver" start method of multiprocessing).
* Calls above the parallel size threshold use fewer threads while other processes
  keep the cores busy (see ``_threadstate.pyx``); ``get_num_threads`` reports the
  count without this cap.
"""

from __future__ import annotations

import contextlib
import operator
from typing import Iterator

from . import _threadstate


def _count(fname: str, n, *, allow_zero: bool = False) -> int:
    """``n`` as a thread count: an integer (not a bool, a float or a string) in range."""
    if isinstance(n, bool) or not hasattr(type(n), "__index__"):
        raise TypeError(f"{fname}: n must be an integer, got {type(n).__name__} ({n!r})")
    n = operator.index(n)
    low = 0 if allow_zero else 1
    high = _threadstate.max_threads()
    if not low <= n <= high:
        raise ValueError(
            f"{fname}: n must be between {low} and {high} (4 x the online CPUs, at least 64: "
            f"more threads cannot run at once), got {n}")
    return n


def get_num_threads() -> int:
    """The number of threads a kernel call made now from this thread may use.

    The process-wide count of ``set_num_threads`` (before any call: OpenMP's default,
    so ``OMP_NUM_THREADS`` applies), lowered by this thread's limits
    (``thread_limit``, ``threadpoolctl.threadpool_limits``); 1 in a forked child until
    ``set_num_threads`` is called there.  Arrays below a size threshold run on one
    thread regardless, and while other processes keep the cores busy, large calls use
    only the cores they leave free.
    """
    return _threadstate.get_num_threads()


def set_num_threads(n: int) -> None:
    """Set the number of threads kernels may use, for the whole process.

    Every Python thread, those running and those started later, sees the new count
    (unlike OpenMP's ``omp_set_num_threads``, which reaches only the calling thread).
    ``n``: an integer from 1 to ``4 x`` the online CPUs (at least 64); anything else
    raises ``TypeError`` (not an integer) or ``ValueError`` (out of range).
    """
    _threadstate.set_num_threads(_count("set_num_threads", n))


@contextlib.contextmanager
def thread_limit(n: int) -> Iterator[None]:
    """Kernel calls made from the current Python thread inside the block use at most
    ``n`` threads; other threads are unaffected.  Blocks nest: inside an inner block
    both limits hold (the smaller applies), and on exit, exceptions included, the
    previous limit is restored."""
    n = _count("thread_limit", n)
    outer = _threadstate.get_thread_limit()
    old = _threadstate.set_thread_limit(min(n, outer) if outer > 0 else n)
    try:
        yield
    finally:
        _threadstate.set_thread_limit(old)
