"""Write and build the consumers of the C-level API, outside the source tree, against the
*installed* package (tests/capi/test_consumers.py uses them).

- ``cython_harness.pyx``: written here from the table's entries (tools/gen_capi.py), one
  ``call_<entry>`` per entry that runs the entry in one of three forms -- the pointer form
  inside ``with nogil``, the typed-memoryview form inside ``with nogil``, or the pointer
  form on pieces of the data inside a ``prange`` with ``nthreads = 1`` -- so that a test
  can compare every function and direction with the Python API.
- ``example_cython.pyx``, ``example_c.c`` (README.md's examples) and ``embed.c`` are
  committed next to this file and compiled as they are.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

FORM_POINTER, FORM_MEMORYVIEW, FORM_PRANGE = 0, 1, 2
#: call_<entry> returns this when the entry has no prange form (results that depend on
#: the whole array: prelu's weight gradient, the bias gradient of the bias form,
#: rrelu's per-index slopes in training).
NO_PRANGE = -100
#: Elements per prange piece of an elementwise entry.
PRANGE_CHUNK = 4096


def load_gen_capi():
    spec = importlib.util.spec_from_file_location("gen_capi", ROOT / "tools" / "gen_capi.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def _memoryview_type(ptr_type: str, ctype: str, ndim: int) -> str:
    const = "const " if ptr_type.startswith("const") else ""
    return f"{const}{ctype}[{', '.join([':'] * (ndim - 1) + ['::1'])}]"


def _prange_offsets(e):
    """(units, {pointer name: offset expression in u}, {size name: value}) of entry e's
    prange form, or None where it has none."""
    if e.form == "bias":   # the forward row by row (the backward's grad_bias sums all rows)
        if e.direction != "forward":
            return None
        return "rows", {"x": "u * cols", "out": "u * cols", "bias": "0"}, \
            {"rows": "1", "cols": "cols"}
    if e.kind == "elementwise" or (e.kind == "rrelu"):
        return ("(n + CHUNK - 1) // CHUNK",
                {n: "u * CHUNK" for t, n in e.data if "*" in t},
                {"n": "min(CHUNK, n - u * CHUNK)"})
    if e.kind == "softmax":   # (a null mask stays null)
        return "rows", {n: "u * cols" for t, n in e.data if "*" in t}, {"rows": "1", "cols": "cols"}
    if e.kind == "gated":
        half = "out" if e.direction == "forward" else "grad"
        return "rows", {n: (f"u * (cols // 2)" if n == half else "u * cols")
                        for t, n in e.data if "*" in t}, {"rows": "1", "cols": "cols"}
    if e.kind == "prelu" and e.direction == "forward":
        return "outer", {"x": "u * channels * inner", "out": "u * channels * inner", "weight": "0"}, \
            {"outer": "1", "channels": "channels", "inner": "inner", "weight_len": "weight_len"}
    return None


def render_cython_harness() -> str:
    gen = load_gen_capi()
    table = gen.entries()
    out = [
        "# cython: language_level=3, boundscheck=False, wraparound=False",
        '"""Calls every entry of activations.cython_api (written by tests/capi/harness.py)."""',
        "",
        "from cython.parallel cimport prange",
        "from libc.stdint cimport int64_t, uint64_t",
        "from activations cimport cython_api as ca",
        "",
        f"cdef int64_t CHUNK = {PRANGE_CHUNK}",
        "",
        "",
        "cdef size_t address(a):",
        "    return 0 if a is None else <size_t>a.__array_interface__['data'][0]",
        "",
    ]
    for e in table:
        ptrs = [(t.replace("T", e.ctype), n) for t, n in e.data if "*" in t]
        sizes = [n for t, n in e.data if "*" not in t]
        dims = gen._mv_dims(e)
        out += ["", f"def call_{e.name}(dict A, dict S, dict P, int nthreads, int form):"]
        for t, n in ptrs:
            out.append(f"    cdef {t.replace(' *', '*')} {n} = <{t.replace(' *', '*')}>address(A['{n}'])")
        for n in sizes:
            out.append(f"    cdef int64_t {n} = S['{n}']")
        for t, n in e.params:
            ctype = e.ctype if t == "T" else t
            out.append(f"    cdef {ctype} {n} = P['{n}']")
        out += ["    cdef int status = 0", "    cdef int64_t u, bad = 0"]
        out += ["    if form == 0:", "        with nogil:",
                f"            status = ca.{e.name}({e.names()})",
                "        return status",
                "    if form == 1:",
                f"        return mv_{e.name}(A, P, nthreads)"]
        plan = _prange_offsets(e)
        if plan is None or e.kind == "rrelu":
            if e.kind == "rrelu":
                out.append("    if training:")
                out.append(f"        return {NO_PRANGE}")
            else:
                out.append(f"    return {NO_PRANGE}")
        if plan is not None:
            units, offsets, piece = plan
            args = []
            for t, n in e.data:
                if "*" not in t:
                    args.append(piece[n])
                elif n in gen.OPTIONAL:
                    args.append(f"({n} + {offsets[n]} if {n} != NULL else NULL)")
                else:
                    args.append(f"{n} + {offsets[n]}")
            args += [n for _, n in e.params] + ["1"]
            out += [f"    for u in prange({units}, nogil=True, num_threads=2, schedule='static'):",
                    f"        bad += ca.{e.name}({', '.join(args)}) != 0",
                    "    return -1 if bad else 0"]
        # the typed-memoryview form
        out += ["", "", f"cdef int mv_{e.name}(dict A, dict P, int nthreads):"]
        for t, n in ptrs:
            out.append(f"    cdef {_memoryview_type(t, e.ctype, dims[n])} {n} = A['{n}']")
        for t, n in e.params:
            ctype = e.ctype if t == "T" else t
            out.append(f"    cdef {ctype} {n} = P['{n}']")
        out += ["    cdef int status", "    with nogil:",
                f"        status = ca.{e.stem}({', '.join([n for _, n in ptrs] + [n for _, n in e.params] + ['nthreads'])})",
                "    return status"]
    out.append("")
    return "\n".join(out)


SETUP = textwrap.dedent("""\
    import os
    import sys
    from setuptools import Extension, setup
    from Cython.Build import cythonize
    import activations
    names = sys.argv[sys.argv.index("--modules") + 1].split(",")
    del sys.argv[sys.argv.index("--modules"):]
    omp = ["-fopenmp"]
    exts = []
    for name in names:
        src = name + (".pyx" if os.path.exists(name + ".pyx") else ".c")
        # the harness is glue around calls (no loops of its own): compile it fast
        opt = "-O0" if name == "cython_harness" else "-O2"
        exts.append(Extension(name, [src], include_dirs=[activations.get_include()],
                              extra_compile_args=[opt, "-g0"] + omp, extra_link_args=omp))
    setup(name="capi-consumers", ext_modules=cythonize(exts, quiet=True,
          compiler_directives={"language_level": 3}), script_args=sys.argv[1:])
    """)


def build(workdir: Path, modules=("cython_harness", "example_cython", "example_c"),
          extra=None) -> Path:
    """Write and build the consumer extension modules in `workdir` (importable from it);
    `extra` maps more file names to their text."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "cython_harness.pyx").write_text(render_cython_harness())
    for name in ("example_cython.pyx", "example_c.c", "embed.c"):
        (workdir / name).write_text((HERE / name).read_text())
    for name, text in (extra or {}).items():
        (workdir / name).write_text(text)
    (workdir / "setup_consumers.py").write_text(SETUP)
    env = dict(os.environ)
    subprocess.run([sys.executable, "setup_consumers.py", "build_ext", "--inplace", "-j", "2",
                    "--modules", ",".join(modules)],
                   cwd=workdir, check=True, env=env, capture_output=False)
    return workdir


def build_embed(workdir: Path) -> Path:
    """Compile embed.c into a program that embeds this Python (python3-config --embed)."""
    import activations
    exe = workdir / "embed"
    inc = sysconfig.get_paths()["include"]
    libdir = sysconfig.get_config_var("LIBDIR")
    ldlib = sysconfig.get_config_var("LDLIBRARY") or ""
    version = sysconfig.get_config_var("LDVERSION") or sysconfig.get_python_version()
    cmd = [sysconfig.get_config_var("CC").split()[0] or "cc", "-O2", "-pthread",
           str(workdir / "embed.c"), "-o", str(exe), f"-I{inc}", f"-I{activations.get_include()}",
           f"-L{libdir}", f"-lpython{version}", "-lm", f"-Wl,-rpath,{libdir}"]
    subprocess.run(cmd, check=True)
    return exe
