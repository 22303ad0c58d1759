"""Version, show_config(), `python -m activations --config`, the OpenMP runtime in use,
and that importing the package leaves the floating-point environment alone."""

import io
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import activations as act
from activations import _config, _dispatch, _functions

OPENMP = bool(_functions._K.OPENMP)


def _show() -> str:
    buf = io.StringIO()
    act.show_config(file=buf)
    return buf.getvalue()


def test_version_is_single_sourced():
    from activations._version import __version__
    assert act.__version__ == __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)*", act.__version__)
    try:
        from importlib.metadata import PackageNotFoundError, version
        try:
            assert version("activations") == act.__version__  # the installed metadata
        except PackageNotFoundError:  # imported from a source tree, not installed
            pass
    except ImportError:
        pass


def test_show_config_contents():
    text = _show()
    assert act.__version__ in text
    assert re.search(rf"^SIMD level in use:\s+{act.simd_level()}\b", text, re.M)
    for level in _dispatch.compiled_levels():
        assert level in text
    assert re.search(r"^OpenMP:\s+" + ("on" if OPENMP else "off"), text, re.M)
    assert re.search(rf"^threads:\s+{act.get_num_threads()}\b", text, re.M)
    assert "compiler:" in text and "flags (all levels):" in text
    if OPENMP:
        assert "OpenMP runtime:" in text
    # the import-time probe's decision, as the kernels hold it
    kernels = act._functions._K
    state = "on" if kernels.software_prefetch_on() else "off"
    assert re.search(rf"^software prefetch:\s+{state}\b", text, re.M)
    ns = kernels.HARDWARE_STREAM_NS
    assert ns is None or (ns > 0 and f"{ns:.1f} ns" in text)
    state = "on" if kernels.subnormal_detours_on() else "off"
    assert re.search(rf"^subnormal detours:\s+{state}\b", text, re.M)
    ratio = kernels.SUBNORMAL_MUL_RATIO
    assert ratio is None or (ratio > 0 and f"{ratio:.2f}x" in text)


def test_build_info_matches_the_loaded_kernels():
    c = _config.config()
    assert c["openmp_built"] == OPENMP
    assert sorted(c["simd_levels_built"]) == sorted(_dispatch.compiled_levels())
    assert c["simd_level"] in c["simd_levels_usable"]
    if not OPENMP:
        assert c["openmp_runtime"] is None and act.get_num_threads() == 1


def test_python_m_activations_config():
    out = subprocess.run([sys.executable, "-m", "activations", "--config"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert act.__version__ in out
    assert "SIMD levels built:" in out and "SIMD level in use:" in out
    assert re.search(r"^OpenMP:\s+" + ("on" if OPENMP else "off"), out, re.M)


@pytest.mark.skipif(not OPENMP, reason="serial build: no OpenMP runtime")
def test_openmp_runtime_is_found_and_is_what_threadpoolctl_sees():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    runtime = _config.openmp_runtime(_functions._K)
    assert runtime is not None and os.path.exists(runtime)
    seen = {os.path.realpath(i["filepath"]) for i in threadpoolctl.threadpool_info()
            if i.get("internal_api") == "openmp"}
    assert runtime in seen, (runtime, seen)


@pytest.mark.skipif(not OPENMP, reason="serial build: no OpenMP runtime")
def test_a_repaired_wheel_uses_its_bundled_openmp_runtime():
    """Installed from an auditwheel-repaired wheel (activations.libs/ next to the
    package), the kernels must be bound to the bundled libgomp, not the system's."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pkg = os.path.dirname(os.path.realpath(act.__file__))
    libs = os.path.join(os.path.dirname(pkg), "activations.libs")
    if not os.path.isdir(libs):
        pytest.skip("not installed from a repaired wheel (no activations.libs/)")
    bundled = [i for i in threadpoolctl.threadpool_info()
               if i.get("internal_api") == "openmp"
               and os.path.realpath(i["filepath"]).startswith(libs + os.sep)]
    assert bundled, f"threadpoolctl sees no OpenMP runtime from {libs}: " \
                    f"{threadpoolctl.threadpool_info()}"
    assert _config.config()["openmp_runtime_bundled"]


FP_ENV_CHECK = textwrap.dedent("""
    import numpy as np

    def denormals_survive():
        tiny = np.float32(1e-40)                     # a float32 subnormal
        a = np.full(64, tiny, dtype=np.float32)
        b = np.float64(2.0 ** -1070)                 # a float64 subnormal
        return (bool(tiny * np.float32(1) == tiny) and tiny != 0
                and bool(np.all(a * np.float32(1) == tiny))
                and bool(np.float64(2.0 ** -1021) / np.float64(2.0 ** 49) == b) and b != 0
                and bool(np.float32(1e-38) * np.float32(0.01) != 0))

    before = denormals_survive()
    import activations as act
    after_import = denormals_survive()
    x = np.linspace(-5, 5, 1 << 16, dtype=np.float32)
    for name in act.names():
        entry = act.get(name)
        if all(v is not None for v in entry.params.values()):
            entry.forward(x)
    after_calls = denormals_survive()
    print(before, after_import, after_calls)
""")


def test_import_and_calls_leave_denormals_alone():
    """No FTZ/DAZ (e.g. from a -ffast-math crtfastmath.o): run in a fresh interpreter,
    since whatever set MXCSR would have done it at load time."""
    out = subprocess.run([sys.executable, "-c", FP_ENV_CHECK], capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    assert out == ["True", "True", "True"], out


def test_only_the_chosen_level_is_imported():
    # A module built for a wider level than the CPU runs can execute its instructions
    # while it loads (SIGILL on an AVX2-only CPU), so finding the built levels, the
    # usable ones and the configuration must import only the baseline and the chosen one.
    import subprocess
    import sys
    code = ("import sys, activations\n"
            "from activations import _config, _dispatch\n"
            "_config.config(); _dispatch.compiled_levels(); _dispatch.supported_levels()\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('activations._kernels'))))\n"
            "print(activations.simd_level())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, level = out.stdout.split("\n")[:2]
    allowed = {"activations._kernels", "activations." + _dispatch.MODULE_OF_LEVEL[level]}
    assert set(loaded.split()) <= allowed
