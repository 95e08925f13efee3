"""Structural and type checks of an IR graph.

Raises :class:`IRError` naming the node and what was expected.
"""

from __future__ import annotations

import numpy as np

from .graph import Graph
from .ops import Concat, DepthwiseMatVec, MatVec, MultiThreshold, Requant, Requantize
from .types import BipolarType

__all__ = ["IRError", "verify"]


class IRError(ValueError):
    """The graph violates an IR invariant."""



#: kinds whose PE need not divide their rows/channels (a ragged last fold; the scheduler's
#: rules in ir/schedule/folding.py)
_RAGGED_PE = ("matvec", "threshold", "requant", "requantize")

def _check_values_in(arr: np.ndarray, dtype, what: str) -> None:
    if arr.size == 0:
        return
    lo, hi = int(np.min(arr)), int(np.max(arr))
    if isinstance(dtype, BipolarType):
        bad = set(np.unique(arr).tolist()) - {-1, 1}
        if bad:
            raise IRError(f"{what}: expected bipolar values -1/+1, found {sorted(bad)[:4]!r}")
    elif not dtype.contains(lo, hi):
        raise IRError(f"{what}: values [{lo}, {hi}] do not fit {dtype}")


def verify(graph: Graph) -> Graph:
    """Check the graph; return it unchanged so passes can chain ``verify(g)``."""
    names = [v.name for v in graph.values]
    if len(set(names)) != len(names):
        raise IRError(f"graph {graph.name!r}: duplicate value names")
    node_names = [n.name for n in graph.nodes]
    if len(set(node_names)) != len(node_names):
        raise IRError(f"graph {graph.name!r}: duplicate node names")
    defined = set(graph.inputs)
    for name in graph.inputs:
        graph.value(name)
    for node in graph.nodes:
        where = f"node {node.name!r} ({node.kind}, from {node.origin or '?'})"
        arity = getattr(node.op, "arity", 1)
        if len(node.inputs) != arity or len(node.outputs) != 1:
            raise IRError(f"{where}: expected {arity} input(s) and one output")
        for i in node.inputs:
            if i not in defined:
                raise IRError(f"{where}: input {i!r} is used before it is defined")
        vins = [graph.value(i) for i in node.inputs]
        vout = graph.value(node.outputs[0])
        try:
            shape = node.op.out_shape(*(v.shape for v in vins))
        except ValueError as e:
            raise IRError(f"{where}: {e}") from None
        if tuple(shape) != tuple(vout.shape):
            raise IRError(f"{where}: output shape {vout.shape!r}, expected {tuple(shape)!r}")
        want = node.op.out_type(*(v.dtype for v in vins))
        if want != vout.dtype:
            raise IRError(f"{where}: output type {vout.dtype}, expected {want}")
        if isinstance(node.op, Concat) and vins[0].dtype != vins[1].dtype:
            raise IRError(f"{where}: concatenated streams must have one type, got {vins[0].dtype} and {vins[1].dtype}")
        op = node.op
        if isinstance(op, (MatVec, DepthwiseMatVec)):
            _check_values_in(op.weights, op.wtype, f"{where} weights")
        if isinstance(op, (MultiThreshold, Requantize)):
            t = op.thresholds
            if t.ndim != 2 or (t.shape[1] > 1 and np.any(np.diff(t, axis=1) < 0)):
                raise IRError(f"{where}: thresholds must be (C, N) and ascending per channel")
        if isinstance(op, Requant) and isinstance(op.out, BipolarType):
            raise IRError(f"{where}: a requant cannot produce bipolar output (use thresholds)")
        if node.fold is not None:
            dims = op.fold_dims()
            for key, dim in dims.items():
                f = getattr(node.fold, key)
                if key == "pe" and node.kind in _RAGGED_PE and 1 <= f <= dim:
                    continue  # a ragged PE (ir/schedule/folding.py says where one is allowed)
                if key == "pe" and isinstance(op, Concat) and f == op.pixel_pe:
                    continue  # a concat's pixel mode: a whole pixel a beat
                if f < 1 or dim % f:
                    raise IRError(f"{where}: {key.upper()}={f} must divide {dim}")
        if node.impl is not None:
            for key, allowed in (("mem", (None, "lutram", "bram", "uram")), ("mul", (None, "dsp", "lut", "pack"))):
                v = getattr(node.impl, key)
                if v not in allowed:
                    raise IRError(f"{where}: impl {key}={v!r}, expected one of {', '.join(map(str, allowed[1:]))}")
        defined.update(node.outputs)
    for o in graph.outputs:
        if o not in defined:
            raise IRError(f"graph output {o!r} is never produced")
    return graph
