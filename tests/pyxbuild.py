"""Test-only Cython helpers (tests/**/_*.pyx, bench/_*.pyx) are compiled by pyximport on import.

They cimport natsx/_core/*.pxd, so a build is only valid for the kernels it was compiled against:
each checkout builds into its own build/pyxbld (pyximport's default, ~/.pyxbld, is shared by every
checkout on the machine), and each helper's .pyxdep names the .pxd files whose change forces a
rebuild (pyximport otherwise only looks at the .pyx's own mtime)."""
from __future__ import annotations

from pathlib import Path

import pyximport

ROOT = Path(__file__).resolve().parents[1]


def install() -> None:
    pyximport.install(language_level=3, inplace=False, build_dir=str(ROOT / "build" / "pyxbld"))
