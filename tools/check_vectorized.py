"""Static check that GCC vectorized every generated kernel loop (load-independent).

Run after a build (the .c files are kept in src/activations):
    python tools/check_vectorized.py src/activations/_kernels_avx2.c "-mavx2 -mfma"
    python tools/check_vectorized.py src/activations/_kernels.c ""
It recompiles the file with -fopt-info-vec-optimized and reports every formula call
site in a generated loop (the chunk loops and the bias tile loops) whose loop was not
vectorized.
"""
import re, subprocess, sys, sysconfig, numpy as np
src = sys.argv[1] if len(sys.argv) > 1 else "src/activations/_kernels_avx512.c"
flags = sys.argv[2].split() if len(sys.argv) > 2 else "-mavx2 -mfma -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512cd -mprefer-vector-width=512".split()
cmd = ["gcc", "-O3", "-DCYTHON_INLINE=inline __attribute__((always_inline))", "-fPIC", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", "-fopenmp",
       "-DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION", "-Isrc/activations", "-Isrc/activations/include", "-I" + np.get_include(),
       "-I" + sysconfig.get_paths()["include"], "-c", src, "-o", "/tmp/vecreport.o",
       "-fopt-info-vec-optimized"] + flags
out = subprocess.run(cmd, capture_output=True, text=True).stderr
vec_lines = {int(m.group(1)) for m in re.finditer(r":(\d+):\d+: optimized: loop vectorized", out)}
lines = open(src).read().splitlines()
# find loops: a 'for (' line followed within 40 lines by a call to a formula
report = {}
for i, line in enumerate(lines, 1):
    m = re.search(r"__pyx_f_11activations_9_formulas_(\w+?)\(", line)
    if not m or "static" in line or "CYTHON_INLINE" in line or not re.search(r"\(__pyx_v_(out(_a|_b)?\[__pyx_v_i\]|orow\[__pyx_v_j\])\) =", line):
        continue
    fn = m.group(1)
    fuse = re.search(r"__pyx_fuse_(\d)__pyx_f_11activations_9_formulas_", line)
    key = (fn, "f32" if fuse and fuse.group(1) == "0" else "f64")
    # nearest preceding for-loop line
    j = i
    while j > 0 and not lines[j - 1].lstrip().startswith("for ("):
        j -= 1
    report.setdefault(key, set()).add(j in vec_lines or any(k in vec_lines for k in range(j - 2, j + 3)))
bad = sorted(k for k, v in report.items() if not all(v))
print(f"{len(report)} formula call sites checked; not vectorized: {bad if bad else 'none'}")
