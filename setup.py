"""Build the Cython kernels: every natsx/**/*.pyx becomes one extension module."""
import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

ROOT = Path(__file__).parent


def extensions() -> list[Extension]:
    # NATSX_ONLY=natsx/_core/parser.pyx,... builds just those (handy while another kernel is mid-edit).
    only = {p.strip() for p in os.environ.get("NATSX_ONLY", "").split(",") if p.strip()}
    exts = []
    for pyx in sorted(ROOT.glob("natsx/**/*.pyx")):
        if only and str(pyx.relative_to(ROOT)) not in only:
            continue
        rel = pyx.relative_to(ROOT)
        module = ".".join(rel.with_suffix("").parts)
        exts.append(
            Extension(
                module,
                [str(rel)],
                extra_compile_args=["-O3", "-Wno-unused-function", "-Wno-unreachable-code"],
            )
        )
    return exts


setup(
    ext_modules=cythonize(
        extensions(),
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
        annotate=False,
    ),
    zip_safe=False,
)
