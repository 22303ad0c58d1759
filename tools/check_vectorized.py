"""Static check that GCC vectorized every generated kernel loop (load-independent).

Run after a build (the .c files are kept in src/activations), with the levels to check
(default: every level of src/activations/_simd_levels.py whose .c file is there):
    python tools/check_vectorized.py avx2 baseline
It recompiles each level's file with that level's flags (the table's) and
-fopt-info-vec-optimized-missed, and reports every formula call site in a generated loop
(the chunk loops and the bias tile loops) whose loop was not vectorized.  Exits 1 if any.
A loop GCC reports neither way never reached the vectorizer: it was removed as dead code
(a block predicate that is constant False for a dtype, e.g. float64 geglu's, leaves its
exact and saturated loops unreachable); those call sites are listed apart, not failed.
"""
import os
import re
import runpy
import shlex
import subprocess
import sys
import sysconfig

import numpy as np

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "activations")
SIMD = runpy.run_path(os.path.join(PKG, "_simd_levels.py"))


def compile_flags(level):
    """The flags the build gives `level`'s module (OpenMP on), plus the report: first
    Python's own CFLAGS and CCSHARED (-O3 -fwrapv -g -DNDEBUG ...), which
    setuptools puts before setup.py's (without them GCC decides differently: the
    float64 elu/selu forwards' blocked loops and three others reported "control flow
    in loop" at avx2 and avx512, though the built module's loops are vectorized), then
    setup.py's.  With -fno-ipa-icf: GCC
    folds identical functions (relu's outlined backward loops from x and from y) into
    one before vectorizing, and reports only the one kept."""
    name, value = SIMD["INLINE_MACRO"]
    python_flags = shlex.split(sysconfig.get_config_var("CFLAGS") or "") + shlex.split(
        sysconfig.get_config_var("CCSHARED") or "")
    return (python_flags + list(SIMD["COMMON_FLAGS"]) + list(level.flags)
            + [f"-D{name}={value}", "-fPIC", "-fopenmp",
               "-DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION", f"-I{PKG}",
               f"-I{os.path.join(PKG, 'include')}", f"-I{np.get_include()}",
               f"-I{sysconfig.get_paths()['include']}", "-fno-ipa-icf",
               "-fopt-info-vec-optimized-missed"])


def unvectorized(level):
    """{(formula, dtype): {each call site's loop: True (vectorized), False (not) or None
    (removed: no report either way)}} for one level's C file."""
    src = os.path.join(PKG, level.module + ".c")
    cmd = ["gcc", "-c", src, "-o", os.devnull] + compile_flags(level)
    out = subprocess.run(cmd, capture_output=True, text=True).stderr
    vec_lines = {int(m.group(1)) for m in re.finditer(r":(\d+):\d+: optimized: loop vectorized", out)}
    missed_lines = {int(m.group(1)) for m in re.finditer(r":(\d+):\d+: missed: ", out)}
    lines = open(src).read().splitlines()
    report = {}
    for i, line in enumerate(lines, 1):
        m = re.search(r"__pyx_f_11activations_9_formulas_(\w+?)\(", line)
        if not m or "static" in line or "CYTHON_INLINE" in line or not re.search(
                r"\(__pyx_v_(out(_a|_b)?\[__pyx_v_i\]|orow\[__pyx_v_j\])\) =|"
                r"__pyx_t_\d+ = __pyx_fuse_\d__pyx_f_11activations_9_formulas_\w+_rare\(.*"
                r"\[__pyx_v_i\]", line):
            continue
        fuse = re.search(r"__pyx_fuse_(\d)__pyx_f_11activations_9_formulas_", line)
        key = (m.group(1), "f32" if fuse and fuse.group(1) == "0" else "f64")
        j = i  # the nearest preceding for-loop line
        while j > 0 and not lines[j - 1].lstrip().startswith("for ("):
            j -= 1
        near = range(j - 2, j + 3)
        state = (True if any(k in vec_lines for k in near) else
                 False if any(k in missed_lines for k in near) else None)
        report.setdefault(key, set()).add(state)
    return report


def main(names):
    levels = ([SIMD["level"](n) for n in names] if names else
              [lv for lv in SIMD["LEVELS"] if os.path.exists(os.path.join(PKG, lv.module + ".c"))])
    failed = False
    for level in levels:
        report = unvectorized(level)
        bad = sorted(k for k, v in report.items() if False in v)
        removed = sorted(k for k, v in report.items() if v == {None})
        failed |= bool(bad) or not report
        print(f"{level.name}: {len(report)} formula call sites checked; "
              f"not vectorized: {bad if bad else 'none'}"
              + (f"; removed as dead code: {removed}" if removed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__.strip())
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
