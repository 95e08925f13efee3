"""Export a compiled design to vendor tools: ``gatesmith export vivado OUT``.

:func:`export_vivado` renders ``OUT/vivado/`` (``build.tcl``, the clock
constraint, the AXI-Stream wrapper and the PYNQ driver, and for weights in URAM the
words of the weight load; see :mod:`gatesmith.hls_templates.vivado`) in memory and writes it in one step: a
temporary directory renamed into place, replacing a previous export.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import progress
from .boards import load_board
from .flow import FlowError, load_design, write_tree_atomic

__all__ = ["ExportError", "export_vivado", "EXPORT_TARGETS"]

#: what ``gatesmith export`` can produce
EXPORT_TARGETS = ("vivado",)


class ExportError(FlowError):
    """A design cannot be exported (bad design directory, board or manifest)."""


def export_vivado(design_dir, *, board: str | None = None) -> Path:
    """Write ``design_dir/vivado/`` for ``board`` (default: the design's board); returns its path."""
    from .hls_templates.vivado import VivadoPlanError, vivado_plan

    root = Path(design_dir)
    if not root.is_dir():
        raise ExportError(f"{str(root)!r}: no such design directory")
    try:
        design = load_design(root)
    except FlowError as e:
        raise ExportError(str(e)) from None
    m = design.manifest
    b = load_board(board if board is not None else str(m.get("board", "")))
    with progress.task(f"export to Vivado ({b.name})", total=2, unit="stages", eta="none") as t:
        t.step("rendering build.tcl, wrapper, driver")
        try:
            plan = vivado_plan(root, m, b, design.graph)
        except VivadoPlanError as e:
            raise ExportError(str(e)) from None
        out = root / "vivado"
        if not os.access(root, os.W_OK):
            raise ExportError(f"cannot write {str(out)!r}: directory {str(root)!r} is not writable")
        t.step(f"writing {len(plan)} files")
        write_tree_atomic(plan, out)
    return out
