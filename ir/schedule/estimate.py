"""Analytic cycle estimate of a folded design (``reports/estimate.json``)."""

from __future__ import annotations

from ..graph import Fold, Graph
from ..ops import MatVec
from .folding import layer_cycles

__all__ = ["estimate"]

#: pipeline cycles a core adds to the latency (measured in simulation of the RTL cores)
_CORE_LATENCY = {"matvec": 3, "threshold": 2, "requant": 3}
_STAGE_LATENCY = 2  # FIFO between stages


def estimate(graph: Graph, *, clock_mhz: float) -> dict:
    layers = []
    for n in graph.nodes:
        f = n.fold or Fold()
        entry = {
            "name": n.name,
            "kind": n.kind,
            "origin": n.origin,
            "pe": f.pe,
            "cycles": layer_cycles(n),
        }
        if isinstance(n.op, MatVec):
            entry.update(simd=f.simd, mh=n.op.mh, mw=n.op.mw, macs=n.op.macs(), multipliers=f.pe * f.simd)
        layers.append(entry)
    ii = max(e["cycles"] for e in layers)
    bottleneck = max(layers, key=lambda e: e["cycles"])["name"]
    latency = sum(e["cycles"] + _CORE_LATENCY.get(e["kind"], 2) + _STAGE_LATENCY for e in layers)
    macs = sum(e.get("macs", 0) for e in layers)
    mults = sum(e.get("multipliers", 0) for e in layers)
    return {
        "clock_mhz": clock_mhz,
        "cycles_per_inference": ii,
        "latency_cycles": latency,
        "inferences_per_second": clock_mhz * 1e6 / ii,
        "bottleneck": bottleneck,
        "macs_per_inference": macs,
        "multipliers": mults,
        "layers": layers,
    }
