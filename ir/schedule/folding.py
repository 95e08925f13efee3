"""Folding: PE x SIMD per layer, chosen to meet a throughput target.

A matrix-vector layer with PE output lanes and SIMD input lanes takes
NF * SF = (MH/PE) * (MW/SIMD) cycles per inference.  For a target of F
inferences per second at f MHz, the budget is floor(f*1e6 / F) cycles; each
layer gets the folding with the fewest multipliers (PE*SIMD) whose cycles fit
the budget (ties: fewer cycles, then larger SIMD), so the slowest layer sets
the initiation interval.  Elementwise layers (thresholds, requantizers) run
PE lanes equal to their producer's PE, one beat per cycle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..graph import Fold, Graph
from ..ops import MatVec

__all__ = ["FoldingError", "ChooseFolding", "divisors", "folding_to_json", "folding_from_json", "layer_cycles"]


class FoldingError(ValueError):
    """A folding request that cannot be met or a malformed folding file."""


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def layer_cycles(node) -> int:
    """Cycles one inference spends in a node at its folding (unstalled)."""
    f = node.fold or Fold()
    if isinstance(node.op, MatVec):
        return (node.op.mh // f.pe) * (node.op.mw // f.simd)
    return node.op.channels // f.pe


def _best_matvec_fold(op: MatVec, budget: int | None) -> Fold:
    best = None
    for pe in divisors(op.mh):
        for simd in divisors(op.mw):
            cyc = (op.mh // pe) * (op.mw // simd)
            if budget is not None and cyc > budget:
                continue
            key = (pe * simd, cyc, -simd)
            if best is None or key < best[0]:
                best = (key, Fold(pe=pe, simd=simd))
    if best is None:  # the target cannot be met: fully parallel
        return Fold(pe=op.mh, simd=op.mw)
    return best[1]


@dataclass(frozen=True, kw_only=True)
class ChooseFolding:
    """Schedule pass: set ``Node.fold`` everywhere (from a target or a user folding)."""

    clock_mhz: float = 100.0
    target_fps: float | None = None
    folding: dict | None = None  # node name -> {"pe": int, "simd": int}
    name = "choose_folding"

    def budget(self) -> int | None:
        if self.target_fps is None:
            return None
        return max(1, int(self.clock_mhz * 1e6 // self.target_fps))

    def run(self, graph: Graph) -> Graph:
        user = dict(self.folding or {})
        known = {n.name for n in graph.nodes}
        for key in user:
            if key not in known:
                raise FoldingError(
                    f"folding names layer {key!r}, which the design does not have; "
                    f"expected one of {sorted(known)!r}"
                )
        budget = self.budget()
        nodes = []
        prev_pe = None
        for n in graph.nodes:
            dims = n.op.fold_dims()
            if n.name in user:
                entry = user[n.name]
                fold = Fold(pe=int(entry.get("pe", 1)), simd=int(entry.get("simd", 1)))
            elif isinstance(n.op, MatVec):
                fold = _best_matvec_fold(n.op, budget)
            else:
                pe = prev_pe if prev_pe is not None and dims["pe"] % prev_pe == 0 else 1
                fold = Fold(pe=pe, simd=1)
            for key, dim in dims.items():
                v = getattr(fold, key)
                if v < 1 or dim % v:
                    raise FoldingError(
                        f"layer {n.name!r}: {key.upper()}={v} must be a positive divisor of {dim} "
                        f"(valid: {divisors(dim)!r})"
                    )
            if "simd" not in dims and fold.simd != 1:
                raise FoldingError(f"layer {n.name!r}: SIMD={fold.simd} given, but a {n.kind} layer has no SIMD (use 1)")
            nodes.append(n.with_(fold=fold))
            prev_pe = fold.pe
        return graph.replace_nodes(nodes)


def folding_to_json(graph: Graph) -> str:
    layers = {}
    for n in graph.nodes:
        f = n.fold or Fold()
        entry = {"kind": n.kind, "pe": f.pe}
        if isinstance(n.op, MatVec):
            entry["simd"] = f.simd
        layers[n.name] = entry
    return json.dumps({"version": 1, "layers": layers}, indent=2, sort_keys=True) + "\n"


def folding_from_json(text: str, source: str = "folding file") -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise FoldingError(f"{source}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("layers"), dict):
        raise FoldingError(f"{source}: expected an object with a \"layers\" object")
    out = {}
    for name, entry in data["layers"].items():
        if not isinstance(entry, dict):
            raise FoldingError(f"{source}: layer {name!r}: expected an object with \"pe\" (and \"simd\")")
        for k in entry:
            if k not in ("pe", "simd", "kind"):
                raise FoldingError(f"{source}: layer {name!r}: unknown key {k!r} (expected pe, simd)")
        for k in ("pe", "simd"):
            if k in entry and (not isinstance(entry[k], int) or isinstance(entry[k], bool)):
                raise FoldingError(f"{source}: layer {name!r}: {k} must be an integer, got {entry[k]!r}")
        out[name] = {k: entry[k] for k in ("pe", "simd") if k in entry}
    return out
