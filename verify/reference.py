"""Bit-exact reference interpreter of the integer IR (the oracle of every other layer).

Batched numpy: a tensor is ``(N, *shape)`` of int64 (object ints where a
type is wider than 62 bits).  The integer semantics of each op kind live in
the op itself (``ir.ops``); this module walks the graph through an explicit
dispatch table so an op kind it does not know fails loudly.
"""

from __future__ import annotations

import numpy as np

from gatesmith.ir.graph import Graph
from gatesmith.ir.ops import Add, Concat, DepthwiseMatVec, LabelSelect, MatVec, MultiThreshold, Requant, Requantize, Reshape, SlidingWindow, WindowReduce

__all__ = ["run_integer", "run_float", "REFERENCE_OPS"]

#: op kind -> evaluation of one batch; every kind the reference supports.
REFERENCE_OPS = {
    "matvec": MatVec.evaluate,
    "threshold": MultiThreshold.evaluate,
    "requant": Requant.evaluate,
    "requantize": Requantize.evaluate,
    "swg": SlidingWindow.evaluate,
    "vvu": DepthwiseMatVec.evaluate,
    "pool": WindowReduce.evaluate,
    "reshape": Reshape.evaluate,
    "labelselect": LabelSelect.evaluate,
    "add": Add.evaluate,
    "concat": Concat.evaluate,
}


def run_integer(graph: Graph, x_int: np.ndarray, *, keep: bool = False):
    """Integer input stream values ``(N, *in_shape)`` -> integer outputs ``(N, *out_shape)``.

    With ``keep`` the dict of every intermediate tensor is returned too.
    """
    vin = graph.value(graph.inputs[0])
    x = np.asarray(x_int)
    if x.shape[1:] != tuple(vin.shape):
        raise ValueError(f"reference: expected input of shape (N, {vin.shape}), got {x.shape!r}")
    lo, hi = int(vin.dtype.min), int(vin.dtype.max)
    if x.size and (int(x.min()) < lo or int(x.max()) > hi):
        raise ValueError(f"reference: input values outside {vin.dtype} [{lo}, {hi}]")
    env = {vin.name: x}
    for node in graph.nodes:
        try:
            fn = REFERENCE_OPS[node.kind]
        except KeyError:
            raise NotImplementedError(
                f"reference: no semantics for op kind {node.kind!r} (node {node.name!r})"
            ) from None
        env[node.outputs[0]] = fn(node.op, *(env[i] for i in node.inputs))
    y = env[graph.outputs[0]]
    return (y, env) if keep else y


def run_float(graph: Graph, x: np.ndarray) -> np.ndarray:
    """Float model inputs -> the model's float outputs, through the integer graph."""
    q = graph.input_quant.quantize(x)
    return graph.output_map.dequantize(run_integer(graph, q))
