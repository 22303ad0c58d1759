"""Shared fixtures: SIMD level and thread count, each restored after the test."""

from __future__ import annotations

import numpy as np
import pytest

import activations as act
from activations import _dispatch, _threadstate

# Tests that compare thread counts must really run them: the load cap (which lowers a
# call's count while other processes keep the cores busy, as on a shared CI machine)
# is off, except where tests/test_thread_state.py turns it on to test it.
_threadstate._set_load_adaptive(False)

#: the level chosen at import (the default the fixtures restore)
DEFAULT_LEVEL = act.simd_level()
LEVELS = _dispatch.supported_levels()


@pytest.fixture(params=LEVELS, ids=[f"simd={lv}" for lv in LEVELS])
def simd_level(request):
    """Run the test under each SIMD level this CPU supports; restore the default."""
    act._set_simd_level(request.param)
    try:
        yield request.param
    finally:
        act._set_simd_level(DEFAULT_LEVEL)


@pytest.fixture
def detours_on(simd_level):
    """Under each SIMD level, with the subnormal detours on (whatever the import-time
    probe chose for this core: _kernels.pyx probe_subnormal_arithmetic), so that the
    tiny forms and rare blocks are what the test checks; restore the setting."""
    kernels = act._functions._K
    old = kernels._set_subnormal_detours(True)
    try:
        yield simd_level
    finally:
        kernels._set_subnormal_detours(old)


@pytest.fixture
def restore_threads():
    """Let a test change act.set_num_threads; restore the previous count afterwards."""
    before = act.get_num_threads()
    try:
        yield before
    finally:
        act.set_num_threads(before)


@pytest.fixture(autouse=True)
def _check_default_level_restored():
    # a test that switches levels without restoring would silently change what the
    # remaining tests measure
    yield
    assert act.simd_level() == DEFAULT_LEVEL, "a test left a non-default SIMD level"


def pytest_report_header(config):
    return (f"activations SIMD levels: {LEVELS} (default {DEFAULT_LEVEL}); "
            f"threads: {act.get_num_threads()}; numpy {np.__version__}")
