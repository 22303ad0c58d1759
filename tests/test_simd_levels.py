"""The SIMD level table (src/activations/_simd_levels.py) is the one source of the levels:
setup.py's modules and flags, the dispatcher's order, the CPU check's features and
tools/check_vectorized.py's flags all agree with it, and the CPU check agrees with what
the operating system reports."""

import re
import runpy
import shlex
import sysconfig
from pathlib import Path

import pytest

from activations import _dispatch, _functions, _simd_levels

ROOT = Path(__file__).resolve().parents[1]
TABLE = _simd_levels.LEVELS
KERNELS = _functions._K  # the kernel module in use; every level's has the CPU check


def test_the_table_is_well_formed():
    names = [lv.name for lv in TABLE]
    assert len(set(names)) == len(names) and len({lv.module for lv in TABLE}) == len(TABLE)
    assert TABLE[0].name == "baseline" and TABLE[0].flags == () and TABLE[0].cpu_features == ()
    for narrower, wider in zip(TABLE, TABLE[1:]):  # each level runs where a wider one runs
        assert set(narrower.cpu_features) < set(wider.cpu_features), (narrower, wider)
    assert "-march=native" not in _simd_levels.COMMON_FLAGS
    assert not any("fast-math" in f for lv in TABLE for f in lv.flags + _simd_levels.COMMON_FLAGS)
    with pytest.raises(ValueError, match="unknown SIMD level"):
        _simd_levels.level("sse9")


@pytest.mark.parametrize("level", TABLE[1:], ids=lambda lv: lv.name)
def test_the_flags_assume_exactly_the_features_the_cpu_check_asks_for(level):
    # -m<feature> lets the compiler emit the feature's instructions: the CPU check must
    # ask for each (-mprefer-vector-width tunes, it enables nothing)
    enabled = {f[2:] for f in level.flags if f.startswith("-m") and "=" not in f}
    assert enabled == set(level.cpu_features)


def test_the_dispatcher_reads_the_table():
    assert _dispatch.LEVELS == tuple(lv.name for lv in reversed(TABLE))
    assert _dispatch.MODULE_OF_LEVEL == {lv.name: lv.module for lv in TABLE}


def test_the_build_used_the_table_flags():
    build_info = pytest.importorskip("activations._build_info").BUILD_INFO
    assert build_info["common_flags"] == list(_simd_levels.COMMON_FLAGS)
    assert build_info["simd_flags"] == {lv: list(_simd_levels.level(lv).flags)
                                        for lv in build_info["simd_levels"]}
    assert set(_dispatch.compiled_levels()) == set(build_info["simd_levels"])


def test_the_cpu_check_knows_every_feature_of_the_table():
    features = {f for lv in TABLE for f in lv.cpu_features}
    for feature in features:
        assert KERNELS.cpu_has_feature(feature) in (True, False)
    with pytest.raises(ValueError, match="not one this build checks"):
        KERNELS.cpu_has_feature("avx9000")
    for lv in TABLE:
        assert KERNELS.cpu_supports(lv.name) == all(KERNELS.cpu_has_feature(f)
                                                    for f in lv.cpu_features)
    assert KERNELS.cpu_supports("baseline")


def test_the_cpu_check_agrees_with_the_kernel_cpu_flags():
    """Linux lists in /proc/cpuinfo the features it enabled (it drops AVX ones whose
    register state it does not save): an independent account of the same answer."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists() or "flags" not in cpuinfo.read_text():
        pytest.skip("no /proc/cpuinfo flags (not Linux x86)")
    flags = set(re.search(r"^flags\s*:(.*)$", cpuinfo.read_text(), re.M).group(1).split())
    if "sse2" not in flags:
        pytest.skip("not an x86 CPU")
    for feature in {f for lv in TABLE for f in lv.cpu_features}:
        assert KERNELS.cpu_has_feature(feature) == (feature in flags), feature


def test_no_other_file_spells_a_level():
    """setup.py, the dispatcher, the CPU check and the vectorization check take the
    levels, their modules, flags and features from the table only."""
    files = [ROOT / "setup.py", ROOT / "tools" / "check_vectorized.py",
             ROOT / "src" / "activations" / "_dispatch.py",
             ROOT / "src" / "activations" / "_kernels.pyx"]
    if not all(p.exists() for p in files):
        pytest.skip("not a source tree")
    literals = [flag for lv in TABLE for flag in lv.flags] + [lv.module for lv in TABLE] \
        + list(_simd_levels.COMMON_FLAGS) + [f for lv in TABLE for f in lv.cpu_features]
    for path in files:
        text = path.read_text()
        found = [s for s in literals if f'"{s}"' in text or f"'{s}'" in text]
        if '__builtin_cpu_supports("' in text:
            found.append("__builtin_cpu_supports with a literal")
        assert not found, f"{path.name} spells {found}: take it from _simd_levels.py"


def test_check_vectorized_compiles_each_level_as_setup_py_does():
    tool = ROOT / "tools" / "check_vectorized.py"
    if not tool.exists():
        pytest.skip("not a source tree")
    compile_flags = runpy.run_path(str(tool))["compile_flags"]
    for lv in TABLE:
        flags = compile_flags(lv)
        # setuptools' order: Python's own CFLAGS and CCSHARED, then setup.py's
        python_flags = shlex.split(sysconfig.get_config_var("CFLAGS") or "") + shlex.split(
            sysconfig.get_config_var("CCSHARED") or "")
        expected = python_flags + list(_simd_levels.COMMON_FLAGS) + list(lv.flags)
        assert flags[:len(expected)] == expected
        assert "-D%s=%s" % _simd_levels.INLINE_MACRO in flags
