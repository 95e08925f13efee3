"""IR passes, one a file, registered in one explicit table."""

from __future__ import annotations

from ..graph import Graph
from ..verifier import verify
from .minimize_accumulators import MinimizeAccumulators
from .select_requant import STYLES as REQUANT_STYLES
from .select_requant import SelectRequant

__all__ = ["PASSES", "REQUANT_STYLES", "MinimizeAccumulators", "SelectRequant", "run_passes"]

#: every pass by name, in the default order
PASSES = {
    "minimize_accumulators": MinimizeAccumulators,
    "select_requant": SelectRequant,
}


def run_passes(graph: Graph, passes) -> Graph:
    """Run pass instances in order, verifying the graph after each."""
    for p in passes:
        graph = verify(p.run(graph))
    return graph
