"""``python -m activations``: self-check every registered function, then benchmark it.

The command line only: the self-check is ``_check/selfcheck.py`` (long-double
references, errors in ULPs, every SIMD level), the short benchmark
``_check/shortbench.py`` (each function against the NumPy expression a competent user
writes); both are described there.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional

import activations as act
from activations._check import say

#: Exit status when the self-check finds a failure (1 is Python's own status for an
#: uncaught error and 2 argparse's, so a caller can tell a crash from a FAIL).
EXIT_CHECK_FAILED = 3


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m activations",
        description="Self-check every activation against long-double NumPy references "
                    "(max ULP error per dtype and direction), then benchmark each one "
                    "against the plain NumPy expression.  Exit status 3 if a check fails "
                    "(1 on a crash).")
    parser.add_argument("--quick", action="store_true",
                        help="fewer check inputs and a tiny benchmark (2**16 float32 only)")
    only = parser.add_mutually_exclusive_group()  # both would run nothing and report "done"
    only.add_argument("--check-only", action="store_true", help="skip the benchmark")
    only.add_argument("--bench-only", action="store_true", help="skip the self-check")
    parser.add_argument("--config", action="store_true",
                        help="print build and configuration info and exit")
    parser.add_argument("--include", action="store_true",
                        help="print the directory of activations.h (the C API) and exit")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.include:
        print(act.get_include())
        return 0
    if args.config:
        act.show_config()
        return 0
    # imported here: --include and --config need neither
    from activations._check.selfcheck import self_check
    from activations._check.shortbench import benchmark

    t0 = time.perf_counter()
    ok = True
    if not args.bench_only:
        ok = self_check(args.quick)
    if not args.check_only:
        benchmark(args.quick)
    say(f"== done in {time.perf_counter() - t0:.1f} s: self-check "
        + ("skipped" if args.bench_only else ("ok" if ok else "FAILED")))
    return 0 if ok else EXIT_CHECK_FAILED


if __name__ == "__main__":
    sys.exit(main())
