"""The thread count: process-wide setting, per-thread limits, bounds, fork, load.

See src/activations/_threads.py for the rules these tests hold the package to.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import activations as act
from activations import _threads, _threadstate
from cases import same_bits

OPENMP = bool(act._functions._K.OPENMP)
needs_openmp = pytest.mark.skipif(not OPENMP, reason="serial build: one thread always")


def _in_new_thread(fn):
    result = []
    t = threading.Thread(target=lambda: result.append(fn()))
    t.start()
    t.join(timeout=60)
    assert not t.is_alive()
    return result[0]


# ------------------------------------------------------------------ set_num_threads

@needs_openmp
def test_set_num_threads_is_process_wide(restore_threads):
    """A thread started before the call and one started after both see the count."""
    started = threading.Event()
    go = threading.Event()
    seen = []

    def early():
        started.set()
        go.wait(60)
        seen.append(act.get_num_threads())

    t = threading.Thread(target=early)
    t.start()
    started.wait(60)
    act.set_num_threads(3)
    go.set()
    t.join(60)
    assert seen == [3]
    assert _in_new_thread(act.get_num_threads) == 3
    act.set_num_threads(1)
    assert _in_new_thread(act.get_num_threads) == 1


@pytest.mark.parametrize("bad", ["3", 1.5, 2.0, None, True, [2], b"2"])
def test_set_num_threads_rejects_non_integers(bad, restore_threads):
    with pytest.raises(TypeError, match="set_num_threads: n must be an integer"):
        act.set_num_threads(bad)
    assert act.get_num_threads() == restore_threads


@pytest.mark.parametrize("bad", [0, -1, 32768, 100000, 2**63])
def test_set_num_threads_bounded(bad, restore_threads):
    with pytest.raises(ValueError, match="set_num_threads: n must be between 1 and"):
        act.set_num_threads(bad)
    assert act.get_num_threads() == restore_threads


def test_set_num_threads_accepts_numpy_integers(restore_threads):
    act.set_num_threads(np.int64(1))
    assert act.get_num_threads() == 1


@needs_openmp
def test_largest_count_runs(restore_threads):
    """The bound itself is a count the runtime can create (a large call completes and
    gives the one-thread result)."""
    x = np.linspace(-5, 5, (1 << 17) + 3)
    expected = act.sigmoid(x)
    act.set_num_threads(_threadstate.max_threads())
    assert act.get_num_threads() == _threadstate.max_threads()
    assert same_bits(act.sigmoid(x), expected)


# ------------------------------------------------------------------ per-thread limits

@needs_openmp
def test_thread_limit_is_per_thread_nests_and_restores(restore_threads):
    act.set_num_threads(3)
    with _threads.thread_limit(2):
        assert act.get_num_threads() == 2
        assert _in_new_thread(act.get_num_threads) == 3  # other threads unaffected
        with _threads.thread_limit(1):
            assert act.get_num_threads() == 1
        with _threads.thread_limit(3):   # both limits hold: the smaller applies
            assert act.get_num_threads() == 2
        assert act.get_num_threads() == 2
    assert act.get_num_threads() == 3
    with pytest.raises(RuntimeError):
        with _threads.thread_limit(1):
            raise RuntimeError
    assert act.get_num_threads() == 3


@pytest.mark.parametrize("bad, err", [(0, ValueError), (-2, ValueError), ("2", TypeError),
                                      (1.0, TypeError)])
def test_thread_limit_rejects(bad, err):
    with pytest.raises(err, match="thread_limit"):
        with _threads.thread_limit(bad):
            pass


@needs_openmp
def test_threadpoolctl_limits_the_calling_thread(restore_threads):
    """threadpool_limits calls omp_set_num_threads, whose setting belongs to the calling
    thread (documented in _threads.py): it lowers this thread's count only."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    act.set_num_threads(2)
    with threadpoolctl.threadpool_limits(1):
        assert act.get_num_threads() == 1
        assert _in_new_thread(act.get_num_threads) == 2
    assert act.get_num_threads() == 2


# ------------------------------------------------------------------ fork

_FORK_SCRIPT = textwrap.dedent("""
    import multiprocessing, sys
    import numpy as np
    import activations as act
    from activations import _threadstate
    _threadstate._set_load_adaptive(False)   # the parent must really run a team
    act.set_num_threads(2)
    x = np.linspace(-8, 8, 1 << 20).astype(np.float32)
    expected = act.sigmoid(x)                # a parallel region in the parent

    def child(queue):
        y = act.sigmoid(x)
        queue.put((act.get_num_threads(), bool(np.array_equal(y, expected))))

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    p = ctx.Process(target=child, args=(queue,))
    p.start()
    threads, same = queue.get(timeout=60)
    p.join(60)
    print("child", threads, same, p.exitcode)
    sys.exit(0 if (threads, same, p.exitcode) == (1, True, 0) else 1)
""")


@needs_openmp
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_forked_child_runs_after_parallel_parent():
    """GNU libgomp hangs a child forked after a parallel region; the child runs on one
    thread instead.  A separate interpreter with a timeout, so a hang fails the test."""
    proc = subprocess.run([sys.executable, "-c", _FORK_SCRIPT], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "child 1 True 0" in proc.stdout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_forked_child_keeps_one_thread_until_set(restore_threads):
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report, never return into pytest
        try:
            before = act.get_num_threads(), _threadstate.in_forked_child()
            act.set_num_threads(1)
            after = _threadstate.in_forked_child()
            os.write(writer, repr((before, after)).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as fh:
        report = fh.read()
    os.waitpid(pid, 0)
    assert report == repr(((1, True), False))
    assert not _threadstate.in_forked_child()


# ------------------------------------------------------------------ load

def test_load_probe_reports_a_count():
    free = _threadstate.free_cpus()
    assert isinstance(free, int)
    if sys.platform.startswith("linux"):
        assert free <= os.cpu_count()


@needs_openmp
def test_load_cap_never_exceeds_the_configured_count(restore_threads):
    old = _threadstate._set_load_adaptive(True)
    try:
        act.set_num_threads(2)
        n = _threadstate.call_num_threads()
        assert 1 <= n <= 2
    finally:
        _threadstate._set_load_adaptive(old)
    act.set_num_threads(2)
    _threadstate._set_load_adaptive(False)
    try:
        assert _threadstate.call_num_threads() == 2
    finally:
        _threadstate._set_load_adaptive(old)


@needs_openmp
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc load probe")
def test_load_cap_sees_busy_processes(restore_threads):
    """With more busy processes than CPUs, a call above the threshold runs on one
    thread (checked through the count the next call would use)."""
    ncpu = os.cpu_count() or 1
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(ncpu + 1)]
    old = _threadstate._set_load_adaptive(True)
    try:
        act.set_num_threads(2)
        time.sleep(0.3)   # let them start
        counts = []
        for _ in range(20):
            time.sleep(0.02)   # longer than the probe interval
            counts.append(_threadstate.call_num_threads())
        assert counts.count(1) >= len(counts) // 2, counts
    finally:
        _threadstate._set_load_adaptive(old)
        for p in busy:
            p.kill()
        for p in busy:
            p.wait(30)
