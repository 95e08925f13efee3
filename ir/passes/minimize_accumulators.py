"""Pass: narrow every accumulator to the range its actual weights can reach.

Interval analysis over the constant weight values and the input type (see
``ir.intervals.matvec_range``): the bounds are attained, so the width is the
minimum that never overflows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..graph import Graph
from ..intervals import matvec_range
from ..ops import DepthwiseMatVec, MatVec
from ..types import type_for_range

__all__ = ["MinimizeAccumulators"]


@dataclass(frozen=True, kw_only=True)
class MinimizeAccumulators:
    name = "minimize_accumulators"

    def run(self, graph: Graph) -> Graph:
        values = {v.name: v for v in graph.values}
        nodes = []
        for n in graph.nodes:
            if isinstance(n.op, (MatVec, DepthwiseMatVec)):
                lo, hi = matvec_range(n.op.weights, values[n.inputs[0]].dtype)
                acc = type_for_range(min(int(min(lo)), 0), max(int(max(hi)), 0), signed=True)
                n = n.with_(op=replace(n.op, acc=acc))
                values[n.outputs[0]] = replace(values[n.outputs[0]], dtype=acc)
            nodes.append(n)
        return graph.replace_nodes(nodes, [values[v.name] for v in graph.values])
