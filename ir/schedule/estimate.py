"""Analytic cycle estimate of a folded design (``reports/estimate.json``)."""

from __future__ import annotations

from ..graph import Fold, Graph
from ..ops import MatVec
from .folding import layer_cycles

__all__ = ["estimate"]

#: cycles from a beat entering a core to its result leaving it (measured in the cores' benches)
_CORE_LATENCY = {"matvec": 3, "threshold": 2, "requant": 3}
_FIFO_LATENCY = 1  # gs_fifo, when empty
_DWC_LATENCY = 1  # gs_dwc: an output beat one cycle after the input beat that completes it


def _rate(times: list[int]) -> list[int]:
    """At most one beat per cycle, in order."""
    out, prev = [], None
    for t in times:
        prev = t if prev is None else max(t, prev + 1)
        out.append(prev)
    return out


def _latency(graph: Graph) -> int:
    """Cycles from the first input beat to the last output beat of one inference
    through an empty pipeline: a beat-level walk of the generated stages
    (width converter -> FIFO -> core per layer, as hls_templates/rtl.py builds them)."""
    nodes = list(graph.nodes)
    first = nodes[0]
    elems = first.fold.simd if isinstance(first.op, MatVec) else first.fold.pe
    n_in = graph.value(graph.inputs[0]).shape[0]
    times = list(range(n_in // elems))  # beats offered back to back from cycle 0
    for i, n in enumerate(nodes):
        f = n.fold or Fold()
        want = f.simd if isinstance(n.op, MatVec) else f.pe
        if want != elems:  # gs_dwc: element k of the stream is complete with its input beat
            total = len(times) * elems
            ready = [times[k // elems] for k in range(total)]
            times = _rate([ready[(j + 1) * want - 1] + _DWC_LATENCY for j in range(total // want)])
            elems = want
        if i > 0:
            times = _rate([t + _FIFO_LATENCY for t in times])
        if isinstance(n.op, MatVec):
            sf, nf = n.op.mw // f.simd, n.op.mh // f.pe
            accepted = _rate(times)
            last0 = accepted[sf - 1]
            times = [last0 + k * sf + _CORE_LATENCY["matvec"] for k in range(nf)]
            elems = f.pe
        else:
            times = _rate([t + _CORE_LATENCY[n.kind] for t in times])
    return times[-1] - 0


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
    latency = _latency(graph)
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
