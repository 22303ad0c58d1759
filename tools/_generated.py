"""Write a generated file, or check that the committed one is current (``--check``).

Shared by the generators (gen_functions.py, gen_stubs.py): each renders its text, then
calls :func:`write_or_check`.
"""

from __future__ import annotations

import argparse
import os
import sys


def write_or_check(path: str, text: str, command: str, description: str, argv=None) -> int:
    """Parse ``--check`` from ``argv``; with it, exit status 1 if ``path`` differs from
    ``text``; without it, write ``text`` to ``path`` if it differs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the committed file differs")
    args = parser.parse_args(argv)
    current = open(path).read() if os.path.exists(path) else ""
    if args.check:
        if current != text:
            print(f"{path} is stale: run {command}", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    if current != text:
        with open(path, "w") as fh:
            fh.write(text)
        print(f"wrote {path}")
    else:
        print(f"{path} unchanged")
    return 0
