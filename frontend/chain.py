"""Requantization chains: the ONNX ops between an accumulator and the next quantizer.

The model is the specification, and it computes these ops in float32.  To
reproduce its rounding on every integer input, we run the chain itself,
node by node, through ``qonnx.core.onnx_exec.execute_onnx`` (the same code
path, hence the same onnxruntime kernels, as executing the whole model) on
the float32 value ``acc * s_in * s_w[c]`` of candidate accumulator values,
and binary-search, per channel and output level, the smallest accumulator
that reaches the level.  The chain is monotone per channel (only monotone
ops are accepted), so the thresholds found reproduce the model's output on
every reachable accumulator value.

Only the float32 rounding of the model's own matrix product (which sums in
an order of its own choosing) can still disagree with these exact thresholds;
see DESIGN.md "Numeric semantics".  The value entering the chain is
``float32(acc * float64(s_in) * float64(s_w))``: the float64 product is
exact for the scales and rounded once for the accumulator, and then rounded
to float32 (a double rounding that differs from a single correctly-rounded
one only when the float64 value lies exactly on a float32 midpoint).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from gatesmith.ir.ops import Linear, Rounding

from .errors import node_error

__all__ = ["Chain", "Quantizer", "derive_thresholds", "linear_form", "CHAIN_OPS"]

#: ops accepted between an accumulator and the next quantizer (all monotone per channel)
CHAIN_OPS = ("Add", "Sub", "Mul", "Div", "BatchNormalization", "Relu", "Clip", "Identity")


@dataclass(frozen=True, kw_only=True, eq=False)
class Quantizer:
    """An activation quantizer (QONNX Quant / BipolarQuant) with constant parameters."""

    node: onnx.NodeProto
    scale: np.ndarray  # float32
    zero_point: np.ndarray
    bits: int
    signed: bool
    narrow: bool
    rounding: Rounding
    bipolar: bool

    @property
    def qmin(self) -> int:
        if self.bipolar:
            return -1
        if not self.signed:
            return 0
        return -(1 << (self.bits - 1)) + (1 if self.narrow else 0)

    @property
    def qmax(self) -> int:
        if self.bipolar:
            return 1
        if not self.signed:
            return (1 << self.bits) - 1 - (1 if self.narrow else 0)
        return (1 << (self.bits - 1)) - 1


@dataclass(kw_only=True, eq=False)
class Chain:
    """Ops from the accumulator (value ``data_in``) to ``quant`` (or the graph output)."""

    data_in: str
    bias: np.ndarray | None  # a Gemm's bias, added first
    nodes: list  # onnx NodeProto, in order, each with one non-constant input
    consts: dict  # tensor name -> np.ndarray for every constant input of ``nodes``
    quant: Quantizer | None
    opset: int
    #: singleton axes after the channel axis (2 after a 2-D Conv: NCHW constants
    #: are shaped (C, 1, 1)); the chain runs on (rows, C, 1, ...) tensors
    trailing: int = 0
    _models: dict = field(default_factory=dict)

    def _model(self, rows: int, channels: int):
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.transformation.infer_shapes import InferShapes

        key = (rows, channels)
        if key in self._models:
            return self._models[key]
        nodes, inits = [], []
        cur = "gs_acc"
        if self.bias is not None:
            b = np.asarray(self.bias, np.float32)
            if self.trailing:
                b = b.reshape((-1,) + (1,) * self.trailing)
            inits.append(numpy_helper.from_array(b, "gs_bias"))
            nodes.append(helper.make_node("Add", ["gs_acc", "gs_bias"], ["gs_biased"]))
            cur = "gs_biased"
        prev = self.data_in
        all_nodes = list(self.nodes) + ([self.quant.node] if self.quant is not None else [])
        for n in all_nodes:
            m = onnx.NodeProto()
            m.CopyFrom(n)
            m.ClearField("input")
            m.input.extend([cur if i == prev else i for i in n.input])
            nodes.append(m)
            prev, cur = n.output[0], n.output[0]
        names = {i for n in all_nodes for i in n.input if i in self.consts}
        for name in sorted(names):
            inits.append(numpy_helper.from_array(np.asarray(self.consts[name]), name))
        graph = helper.make_graph(
            nodes,
            "gs_chain",
            [helper.make_tensor_value_info("gs_acc", TensorProto.FLOAT, [rows, channels] + [1] * self.trailing)],
            [helper.make_tensor_value_info(cur, TensorProto.FLOAT, [rows, channels] + [1] * self.trailing)],
            initializer=inits,
        )
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        for n in proto.graph.node:
            if n.op_type in ("Quant", "IntQuant", "BipolarQuant"):
                n.domain = "qonnx.custom_op.general"
        proto.opset_import.append(helper.make_opsetid("qonnx.custom_op.general", 1))
        model = ModelWrapper(proto).transform(InferShapes())
        model.check_all_tensor_shapes_specified(fix_missing_init_shape=True)
        out_vi = model.graph.output[0]
        self._models[key] = (model, out_vi.name)
        return self._models[key]

    def evaluate(self, values: np.ndarray) -> np.ndarray:
        """Run the chain on float32 values shaped (rows, channels)."""
        from qonnx.core.onnx_exec import execute_onnx

        v = np.ascontiguousarray(values, dtype=np.float32)
        model, out = self._model(*v.shape)
        v4 = v.reshape(v.shape + (1,) * self.trailing)
        return np.asarray(execute_onnx(model, {"gs_acc": v4})[out], dtype=np.float32).reshape(v.shape)

    def quantized(self, acc: np.ndarray, acc_scale: np.ndarray) -> np.ndarray:
        """Integer output of the quantizer for integer accumulators (rows, channels)."""
        q = self.quant
        assert q is not None
        x = (np.asarray(acc, dtype=np.float64) * acc_scale[None, :]).astype(np.float32)
        y = self.evaluate(x).astype(np.float64)
        if q.bipolar:
            return np.where(y >= 0, 1, -1).astype(np.int64)
        s = np.broadcast_to(np.asarray(q.scale, np.float64).reshape(-1), (acc.shape[1],)) if np.size(q.scale) > 1 else float(q.scale)
        z = np.asarray(q.zero_point, np.float64)
        return np.rint(y / s + z).astype(np.int64)


def derive_thresholds(chain: Chain, acc_scale: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Exact thresholds reproducing the model's float32 chain on acc in [lo, hi].

    Returns ``(thresholds (C, N), base, negate (C,) bool)``.  Channels whose
    output falls with the accumulator are ``negate``d: the caller negates
    their weight rows, and thresholds are then for ``-acc``.
    """
    q = chain.quant
    assert q is not None
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.asarray(hi, dtype=np.int64)
    C = lo.shape[0]
    ends = chain.quantized(np.stack([lo, hi]), acc_scale)
    negate = ends[0] > ends[1]
    sign = np.where(negate, -1, 1)
    # search over a = sign * acc, in [alo, ahi]
    alo = np.where(negate, -hi, lo)
    ahi = np.where(negate, -lo, hi)
    if q.bipolar:
        levels = np.array([1])  # the level +1 (base 0, count 1 == +1)
        base = 0
    else:
        levels = np.arange(q.qmin + 1, q.qmax + 1)
        base = q.qmin
    K = levels.shape[0]
    left = np.broadcast_to(alo, (K, C)).copy()
    right = np.broadcast_to(ahi + 1, (K, C)).copy()  # right == ahi+1 means: never reached
    need = levels[:, None]
    while True:
        active = left < right
        if not active.any():
            break
        mid = (left + right) // 2
        acc = mid * sign[None, :]
        f = chain.quantized(acc, acc_scale)
        up = f >= need
        right = np.where(active & up, mid, right)
        left = np.where(active & ~up, mid + 1, left)
    thresholds = left.T.copy()  # (C, K)
    return thresholds, base, negate


def _frac(x: float) -> Fraction:
    return Fraction(float(x))


def linear_form(chain: Chain, acc_scale: np.ndarray, negate: np.ndarray) -> Linear | None:
    """Compose the chain into q = clamp(round(a*acc + b), lo, hi), per channel.

    Composition is in float64 from the model's float32 constants: the result
    is a candidate for a shift/dyadic realisation, which the pass
    ``select_requant`` accepts only if it reproduces the exact thresholds.
    Returns None where the chain is not of that form (bipolar output).
    """
    q = chain.quant
    if q is None or q.bipolar:
        return None
    C = acc_scale.shape[0]
    a = np.where(negate, -1.0, 1.0) * acc_scale.astype(np.float64)
    b = np.zeros(C)
    L = np.full(C, -np.inf)
    H = np.full(C, np.inf)

    def affine(m, n):
        nonlocal a, b, L, H
        m = np.broadcast_to(np.asarray(m, np.float64).reshape(-1), (C,)) if np.size(m) > 1 else np.full(C, float(np.asarray(m).reshape(-1)[0]))
        n = np.broadcast_to(np.asarray(n, np.float64).reshape(-1), (C,)) if np.size(n) > 1 else np.full(C, float(np.asarray(n).reshape(-1)[0]))
        a, b = a * m, b * m + n
        with np.errstate(invalid="ignore"):
            l2, h2 = L * m + n, H * m + n
        l2 = np.where(np.isnan(l2), -np.inf, l2)
        h2 = np.where(np.isnan(h2), np.inf, h2)
        L, H = np.where(m >= 0, l2, h2), np.where(m >= 0, h2, l2)

    if chain.bias is not None:
        affine(1.0, chain.bias)
    for n in chain.nodes:
        t = n.op_type
        ins = list(n.input)
        cvals = [chain.consts.get(i) for i in ins]
        if t == "Identity":
            continue
        if t in ("Add", "Sub", "Mul", "Div"):
            ci = 1 if cvals[1] is not None else 0
            c = np.asarray(cvals[ci], np.float64)
            if t == "Add":
                affine(1.0, c)
            elif t == "Sub":
                affine(1.0, -c) if ci == 1 else affine(-1.0, c)
            elif t == "Mul":
                affine(c, 0.0)
            else:
                affine(1.0 / c, 0.0)
        elif t == "BatchNormalization":
            g, beta, mean, var = (np.asarray(v, np.float64) for v in cvals[1:5])
            eps = next((x.f for x in n.attribute if x.name == "epsilon"), 1e-5)
            k = g / np.sqrt(var + np.float64(np.float32(eps)))
            affine(k, beta - mean * k)
        elif t == "Relu":
            L, H = np.maximum(L, 0.0), np.maximum(H, 0.0)
        elif t == "Clip":
            lo_c = cvals[1] if len(cvals) > 1 and cvals[1] is not None else -np.inf
            hi_c = cvals[2] if len(cvals) > 2 and cvals[2] is not None else np.inf
            L = np.clip(L, float(lo_c), float(hi_c))
            H = np.clip(H, float(lo_c), float(hi_c))
        else:  # pragma: no cover - CHAIN_OPS is checked by the caller
            raise node_error(n, f"unexpected op in a requantization chain")
    s = np.asarray(q.scale, np.float64).reshape(-1)
    z = float(np.asarray(q.zero_point).reshape(-1)[0])
    s = np.broadcast_to(s, (C,)) if s.size > 1 else np.full(C, s[0])
    A, B = a / s, b / s + z
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B))):
        return None
    lo_q, hi_q = q.qmin, q.qmax
    with np.errstate(invalid="ignore"):
        lo_c = np.where(np.isfinite(L), np.ceil(L / s + z - 0.5), -np.inf)
        hi_c = np.where(np.isfinite(H), np.floor(H / s + z + 0.5), np.inf)
    # clip bounds only tighten the integer clamp where they are uniform across channels
    lo_i = int(max(lo_q, np.max(lo_c))) if np.all(lo_c == lo_c[0]) else lo_q
    hi_i = int(min(hi_q, np.min(hi_c))) if np.all(hi_c == hi_c[0]) else hi_q
    if lo_i > hi_i:
        return None
    return Linear(
        a=tuple(_frac(v) for v in A),
        b=tuple(_frac(v) for v in B),
        lo=lo_i,
        hi=hi_i,
        rounding=q.rounding,
    )
