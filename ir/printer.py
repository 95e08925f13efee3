"""Canonical text form of an IR graph (``ir.txt``, golden tests).

Large constants print as shape + a short content digest so the text stays
readable and stable; everything else prints in full.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .graph import Graph, Node
from .host import FloatOp, InputQuant, OutputMap
from .ops import Add, Concat, DepthwiseMatVec, LabelSelect, Linear, MatVec, MultiThreshold, Requant, Requantize, Reshape, SlidingWindow, WindowReduce

__all__ = ["print_graph", "digest"]


def digest(arr: np.ndarray) -> str:
    a = np.asarray(arr)
    text = ",".join(str(int(v)) if a.dtype.kind in "iuO" else repr(float(v)) for v in a.ravel())
    return hashlib.sha256(f"{a.shape}:{text}".encode()).hexdigest()[:12]


def _arr(a: np.ndarray, limit: int = 8) -> str:
    a = np.asarray(a)
    if a.size <= limit:
        if a.dtype.kind == "f":
            return "[" + ", ".join(f"{float(v):.9g}" for v in a.ravel()) + "]"
        return "[" + ", ".join(str(int(v)) for v in a.ravel()) + "]"
    return f"<{'x'.join(map(str, a.shape))} #{digest(a)}>"


def _float_op(op: FloatOp) -> str:
    consts = ", ".join(_arr(c) for c in op.consts)
    order = "" if op.data_first else " const-first"
    eps = f" eps={op.eps:.9g}" if op.eps else ""
    return f"{op.kind.value}({consts}){order}{eps}"


def _linear(lin: Linear) -> str:
    a = np.array([float(v) for v in lin.a])
    b = np.array([float(v) for v in lin.b])
    return f"linear(a={_arr(a)}, b={_arr(b)}, clamp=[{lin.lo}, {lin.hi}], {lin.rounding.name})"


def _op_attrs(node: Node) -> str:
    op = node.op
    if isinstance(op, (MatVec, DepthwiseMatVec)):
        return f"weights={op.wtype}{_arr(op.weights)}"
    if isinstance(op, MultiThreshold):
        return f"thresholds={_arr(op.thresholds)} base={op.base}"
    if isinstance(op, Requant):
        m = _arr(op.mult) if op.use_mult else "1"
        return (
            f"mult={m} bias={_arr(op.bias)} shift={op.shift} {op.rounding.name} "
            f"clamp=[{op.lo}, {op.hi}]"
        )
    if isinstance(op, Requantize):
        lin = f" {_linear(op.linear)}" if op.linear is not None else ""
        return f"thresholds={_arr(op.thresholds)} base={op.base}{lin}"
    if isinstance(op, SlidingWindow):
        return (
            f"kernel={list(op.kernel)} stride={list(op.stride)} pads={list(op.pads)} "
            f"pad_value={op.pad_value}"
        )
    if isinstance(op, WindowReduce):
        return f"{op.mode.value} positions={op.positions}"
    if isinstance(op, Reshape):
        return ""
    if isinstance(op, LabelSelect):
        return f"k={op.k}"
    if isinstance(op, Add):
        return f"mult=[{op.mult_a}, {op.mult_b}]"
    if isinstance(op, Concat):
        return ""
    raise TypeError(f"printer: unknown op kind {type(op).__name__!r}")


def _input(iq: InputQuant) -> str:
    pre = " ".join(_float_op(o) for o in iq.pre)
    pre = f" pre[{pre}]" if pre else ""
    return (
        f"host_in shape={list(iq.onnx_shape)}{pre} quant(scale={_arr(iq.scale)}, "
        f"zp={_arr(iq.zero_point)}, {iq.dtype}, narrow={int(iq.narrow)}, {iq.rounding.name})"
    )


def _output(om: OutputMap) -> str:
    post = " ".join(_float_op(o) for o in om.post)
    post = f" post[{post}]" if post else ""
    return (
        f"host_out {om.kind.value} shape={list(om.onnx_shape)} scale={_arr(om.scale)} "
        f"zp={_arr(om.zero_point)}{post}"
    )


def _impl(impl) -> str:
    parts = [f"{k}={v}" for k, v in (("mem", impl.mem), ("mul", impl.mul)) if v is not None]
    return f" impl({', '.join(parts)})"


def _fixed(f: dict) -> str:
    lo, hi = f["range"]
    return (f"fixed @{f['layer'] or '?'} {f['role']} {f['tensor']!r} {f['format']} "
            f"range=[{lo:.9g}, {hi:.9g}] {f['range_source']}")


def print_graph(graph: Graph, *, fixed=()) -> str:
    """``fixed``: the fixed-point formats chosen for tensors the model left unquantized
    (``frontend.fixedpoint``), one line each before the closing brace; none by default."""
    lines = [f"graph {graph.name} {{"]
    lines.append("  " + _input(graph.input_quant))
    for name in graph.inputs:
        v = graph.value(name)
        lines.append(f"  input %{v.name} : {v.dtype}{list(v.shape)}")
    for n in graph.nodes:
        outs = ", ".join(
            f"%{o} : {graph.value(o).dtype}{list(graph.value(o).shape)}" for o in n.outputs
        )
        ins = ", ".join(f"%{i}" for i in n.inputs)
        fold = f" fold(pe={n.fold.pe}, simd={n.fold.simd})" if n.fold is not None else ""
        fold += _impl(n.impl) if n.impl is not None else ""
        attrs = _op_attrs(n)
        lines.append(f"  {outs} = {n.kind} @{n.name}({ins}){' ' + attrs if attrs else ''}{fold}")
    lines.append("  output " + ", ".join(f"%{o}" for o in graph.outputs))
    lines.append("  " + _output(graph.output_map))
    lines.extend("  " + _fixed(f) for f in fixed)
    lines.append("}")
    return "\n".join(lines) + "\n"
