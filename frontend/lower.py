"""Lowering a cleaned QONNX graph to the integer dataflow IR.

The input path up to the first quantizer (Reshape/Flatten and scalar
Mul/Div/Add/Sub/Pow) becomes the host's InputQuant.  From there the walk
visits the model's nodes in topological order, keeping for every quantized
activation tensor an :class:`_Act` (its IR value, quantizer, ONNX shape and
the stream order), and dispatches on the op type through an explicit table:

    MatMul|Gemm|Conv with quantized weights -> [SlidingWindow] MatVec
        -> chain -> quantizer                 (Requantize) | float tail (host)
    MaxPool                                   -> SlidingWindow + WindowReduce(max)
    Pad                                       -> absorbed by the next Conv/MaxPool
    Reshape/Flatten/Transpose                 -> stream order bookkeeping only
    TopK/ArgMax at the output                 -> LabelSelect

Feature maps stream channels-last; the ONNX model is NCHW.  Flatten and
Transpose never reorder the stream: the next MatMul's weight columns are
permuted at compile time instead.  Everything the walk meets that is not of
these forms is rejected with an error naming the ONNX node, its op type and
what is supported.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as _dc_replace

import numpy as np
import onnx
from onnx import numpy_helper

from gatesmith.ir import (
    Add,
    BipolarType,
    Concat,
    DepthwiseMatVec,
    LabelSelect,
    PoolMode,
    Reshape,
    SlidingWindow,
    WindowReduce,
    FloatOp,
    FloatOpKind,
    Graph,
    InputQuant,
    IntType,
    MatVec,
    Node,
    OutputKind,
    OutputMap,
    Requantize,
    Rounding,
    Value,
    type_for_range,
    verify,
)
from gatesmith import progress
from gatesmith.ir.intervals import matvec_range
from gatesmith.ir.ops import frozen_array

from .chain import CHAIN_OPS, Chain, Quantizer, derive_thresholds, linear_form
from .errors import FrontendError, node_error
from .load import load_model

__all__ = ["import_onnx", "SUPPORTED_OPS"]

_QUANT_OPS = ("Quant", "IntQuant", "BipolarQuant")
_PASS_OPS = ("Reshape", "Flatten", "Identity")
_PRE_OPS = ("Mul", "Div", "Add", "Sub", "Pow")
_LINEAR_OPS = ("MatMul", "Gemm")
_SPATIAL_OPS = ("Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Pad", "Transpose")
_LABEL_OPS = ("TopK", "ArgMax")
_MERGE_OPS = ("Add", "Concat")  # with two activation inputs
_TAIL_ONLY_OPS = ("Pow",)  # float ops allowed after the last layer (not monotone in general)
#: every op type the frontend accepts somewhere (for error messages)
SUPPORTED_OPS = tuple(
    sorted(set(_QUANT_OPS + _PASS_OPS + _PRE_OPS + _LINEAR_OPS + CHAIN_OPS + _TAIL_ONLY_OPS + _SPATIAL_OPS + _LABEL_OPS
               + _MERGE_OPS))
)
_MAX_BITS = 24


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


class _Walker:
    def __init__(self, model, name: str):
        self.model = model
        self.g = model.graph
        self.name = name
        self.opset = next(
            (i.version for i in model.model.opset_import if i.domain in ("", "ai.onnx")), 13
        )
        self.inits = {i.name: numpy_helper.to_array(i) for i in self.g.initializer}
        self.producer = {o: n for n in self.g.node for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in self.g.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.out_name = self.g.output[0].name
        self._const_cache: dict[str, np.ndarray | None] = {}

    # ---- constants -------------------------------------------------------------
    def const(self, name: str):
        """The value of a tensor computed from initializers only, else None."""
        if name == "":
            return None
        if name in self._const_cache:
            return self._const_cache[name]
        val = None
        if name in self.inits:
            val = self.inits[name]
        else:
            n = self.producer.get(name)
            if n is not None:
                ins = [self.const(i) for i in n.input if i]
                if all(v is not None for v in ins):
                    from qonnx.core.onnx_exec import execute_node

                    ctx = {i: self.const(i) for i in n.input if i}
                    for o in n.output:
                        ctx[o] = None
                    execute_node(n, ctx, self.g, self.opset)
                    val = ctx[name]
        self._const_cache[name] = val
        return val

    def quant_params(self, node) -> Quantizer:
        if node.op_type == "BipolarQuant":
            scale = self.const(node.input[1])
            if scale is None:
                raise node_error(node, "expected a constant scale")
            self._check_scale(node, scale)
            return Quantizer(
                node=node, scale=scale.astype(np.float32), zero_point=np.zeros(1, np.float32),
                bits=1, signed=True, narrow=False, rounding=Rounding.ROUND, bipolar=True,
            )
        scale, zp, bw = (self.const(i) for i in node.input[1:4])
        if scale is None or zp is None or bw is None:
            raise node_error(node, "expected constant scale, zero point and bit width")
        self._check_scale(node, scale)
        if np.any(zp != 0):
            raise node_error(node, f"zero point {np.unique(zp)[:4].tolist()!r} is not supported; expected 0")
        if bw.size != 1 or float(bw.reshape(-1)[0]) != int(bw.reshape(-1)[0]):
            raise node_error(node, f"expected an integer scalar bit width, got {bw.tolist()!r}")
        bits = int(bw.reshape(-1)[0])
        signed = bool(_attr(node, "signed", 1))
        narrow = bool(_attr(node, "narrow", 0))
        mode = _attr(node, "rounding_mode", b"ROUND")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if bits < 1 or bits > _MAX_BITS:
            raise node_error(node, f"bit width {bits} is not supported; expected 1 to {_MAX_BITS}")
        if bits == 1 and signed:  # qonnx treats a signed 1-bit Quant as bipolar
            return Quantizer(
                node=node, scale=scale.astype(np.float32), zero_point=zp.astype(np.float32),
                bits=1, signed=True, narrow=False, rounding=Rounding.ROUND, bipolar=True,
            )
        if bits < 2 and narrow and not signed:
            raise node_error(node, "a narrow-range unsigned 1-bit quantizer has no values")
        try:
            rounding = Rounding.from_onnx(mode)
        except ValueError as e:
            raise node_error(node, str(e)) from None
        return Quantizer(
            node=node, scale=scale.astype(np.float32), zero_point=zp.astype(np.float32),
            bits=bits, signed=signed, narrow=narrow, rounding=rounding, bipolar=False,
        )

    @staticmethod
    def _check_scale(node, scale):
        s = np.asarray(scale, dtype=np.float64)
        if not np.all(np.isfinite(s)) or np.any(s <= 0):
            bad = s[~(np.isfinite(s) & (s > 0))].reshape(-1)[:3].tolist()
            raise node_error(node, f"scale values {bad!r} are not supported; expected finite positive scales")

    # ---- walking -----------------------------------------------------------------
    def next_node(self, tensor: str, what: str):
        cons = self.consumers.get(tensor, [])
        if tensor == self.out_name and not cons:
            return None
        if len(cons) != 1:
            names = [c.name for c in cons]
            raise FrontendError(
                f"tensor {tensor!r} feeds {len(cons)} nodes {names!r}; expected one consumer "
                f"({what}) — branching graphs are not supported for dense networks"
            )
        return cons[0]

    def data_input(self, node) -> tuple[str, int]:
        """The one non-constant input of ``node`` and its index."""
        idx = [k for k, i in enumerate(node.input) if i and self.const(i) is None]
        if len(idx) != 1:
            raise node_error(node, f"expected exactly one non-constant input, found {len(idx)}")
        return node.input[idx[0]], idx[0]

    def unsupported(self, node, where: str):
        return node_error(
            node,
            f"op type {node.op_type!r} is not supported {where}; supported ops: "
            f"{', '.join(SUPPORTED_OPS)}",
        )

    def quant_const(self, node, name: str):
        """Integers of a quantized constant (``Quant`` of an initializer, maybe
        through a Transpose): ``(qi, scale or None, wtype, quant node)``; ``scale``
        is the per-element scale broadcast to ``qi``'s shape (None: per tensor)."""
        perm = None
        src = self.producer.get(name)
        if src is not None and src.op_type == "Transpose":
            perm = _attr(src, "perm")
            name = src.input[0]
            src = self.producer.get(name)
        if src is None or src.op_type not in _QUANT_OPS:
            raise node_error(
                node,
                "expected weights from a Quant/BipolarQuant of a constant tensor "
                f"(input {name!r} is {'an unquantized constant' if src is None else src.op_type})",
            )
        q = self.quant_params(src)
        w = self.const(src.input[0])
        if w is None:
            raise node_error(src, "expected a constant weight tensor")
        w = np.asarray(w, dtype=np.float32)
        y = w / q.scale
        y = y + q.zero_point
        if q.bipolar:
            qi = np.where(y >= 0, 1, -1).astype(np.int64)
        else:
            from gatesmith.ir.host import round_float

            y = np.where(y > q.qmax, np.float32(q.qmax), y)
            y = np.where(y < q.qmin, np.float32(q.qmin), y)
            qi = round_float(y, q.rounding).astype(np.int64)
        scale = np.broadcast_to(np.asarray(q.scale, np.float32), w.shape) if q.scale.size > 1 else None
        if perm is not None:
            qi = np.transpose(qi, perm)
            if scale is not None:
                scale = np.transpose(scale, perm)
        wtype = BipolarType() if q.bipolar else type_for_range(int(qi.min()), int(qi.max()))
        return qi, scale, wtype, src, q

    @staticmethod
    def _row_scale(src, qi: np.ndarray, scale, q) -> np.ndarray:
        """Per output row (axis 0) scale of weights ``qi``; per-tensor or per-row only."""
        if scale is None:
            return np.full(qi.shape[0], float(q.scale.reshape(-1)[0]))
        flat = scale.reshape(scale.shape[0], -1)
        if not np.all(flat == flat[:, :1]):
            raise node_error(src, "weight scales must be per tensor or per output channel")
        return flat[:, 0].astype(np.float64)

    def weights(self, node, idx: int):
        """Integer weights of MatMul/Gemm input ``idx`` in (MH, MW) orientation + per-row scale."""
        qi, scale, wtype, src, q = self.quant_const(node, node.input[idx])
        if qi.ndim != 2:
            raise node_error(node, f"expected 2-D weights, got shape {list(qi.shape)!r}")
        trans = node.op_type == "Gemm" and bool(_attr(node, "transB", 0))
        if not trans:  # MatMul / Gemm(transB=0): (MW, MH)
            qi = qi.T
            if scale is not None:
                scale = scale.T
        return qi, self._row_scale(src, qi, scale, q), wtype, src

    def shape_of(self, tensor: str) -> tuple[int, ...] | None:
        """ONNX shape of ``tensor`` without the batch axis (None if unknown)."""
        try:
            s = self.model.get_tensor_shape(tensor)
        except Exception:
            return None
        if s is None or not s or any((not isinstance(d, int)) or d <= 0 for d in s):
            return None
        return tuple(int(d) for d in s[1:])

    # ---- the walk -----------------------------------------------------------------
    def run(self) -> Graph:
        g = self.g
        cur = g.input[0].name
        pre: list[FloatOp] = []
        # 1. preprocessing up to the first quantizer (a single path)
        while True:
            n = self.next_node(cur, "the first quantizer")
            if n is None:
                raise FrontendError("the model has no quantizer on its input path; expected a Quant "
                                    "or BipolarQuant before the first layer")
            if n.op_type in _QUANT_OPS:
                break
            if n.op_type in _PASS_OPS:
                cur = n.output[0]
                continue
            if n.op_type in _PRE_OPS:
                data, k = self.data_input(n)
                c = self.const(n.input[1 - k])
                if c.size != 1:
                    raise node_error(n, f"expected a scalar constant in input preprocessing, got shape {list(c.shape)!r}")
                if n.op_type in ("Div", "Pow") and k != 0:
                    raise node_error(n, "a constant divided/raised by the input is not supported")
                pre.append(FloatOp(kind=FloatOpKind(n.op_type), consts=(frozen_array(c.reshape(()), np.float32),), data_first=k == 0))
                cur = n.output[0]
                continue
            if n.op_type in ("MatMul", "Gemm", "Conv"):  # a float model: point at the fixed-point options
                raise self.unsupported(n, "before the first quantizer (the model does not quantize this layer's "
                                          "input; --calibration X.npy or --fixed-range proven give unquantized "
                                          "tensors fixed-point formats)")
            raise self.unsupported(n, "before the first quantizer")
        shape = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
        onnx_in_shape = tuple(shape[1:])
        qin = self.quant_params(n)
        if qin.scale.size != 1:
            raise node_error(n, "expected a per-tensor scale for the input quantizer")
        in_type = BipolarType() if qin.bipolar else IntType(bits=qin.bits, signed=qin.signed)
        q_shape = self.shape_of(n.output[0]) or (int(np.prod(onnx_in_shape)),)
        act_shape, perm = _stream_layout(n, q_shape)
        self.values = [Value(name="x", shape=act_shape, dtype=in_type)]
        self.nodes: list[Node] = []
        self.layer = 0
        self.out_map = None
        self.consumed: set[int] = set()
        input_quant = InputQuant(
            onnx_shape=onnx_in_shape, pre=tuple(pre), scale=frozen_array(qin.scale.reshape(()), np.float32),
            zero_point=frozen_array(qin.zero_point.reshape(()), np.float32), dtype=in_type,
            narrow=qin.narrow, rounding=qin.rounding,
            stream_shape=act_shape if len(act_shape) > 1 else (),
            perm=None if _is_identity(perm) else frozen_array(perm),
        )
        self.acts: dict[str, _Act] = {
            n.output[0]: _Act(value="x", dtype=in_type, quant=qin, onnx_shape=q_shape, perm=perm)
        }
        handlers = {
            "Reshape": self._op_reshape, "Flatten": self._op_reshape, "Identity": self._op_reshape,
            "Transpose": self._op_transpose, "MatMul": self._op_linear, "Gemm": self._op_linear,
            "Conv": self._op_conv, "MaxPool": self._op_maxpool, "Pad": self._op_pad,
            "TopK": self._op_topk, "ArgMax": self._op_topk,
            "AveragePool": self._op_avgpool, "GlobalAveragePool": self._op_avgpool,
            **{op: self._op_requant for op in _QUANT_OPS + CHAIN_OPS if op != "Identity"},
        }
        start = list(g.node).index(n) + 1
        with progress.task("lowering ONNX nodes", total=len(g.node) - start, unit="nodes", eta="estimate") as bar:
            for k, node in enumerate(g.node):
                if k >= start:
                    bar.advance()
                if k < start or id(node) in self.consumed:
                    continue
                ins = [i for i in node.input if i and i in self.acts]
                if not ins:
                    if all(self.const(i) is not None for i in node.input if i) or not node.input:
                        continue  # a constant subgraph (weights and their quantizers)
                    raise self.unsupported(node, "here (its input is neither a quantized activation nor a constant)")
                if node.op_type == "Concat" or (node.op_type == "Add" and len(ins) > 1):
                    if len(ins) != 2 or len(node.input) != 2:
                        raise node_error(node, f"expected two quantized activations as inputs, found {len(ins)} "
                                               f"among {len(node.input)} inputs")
                    (self._op_add if node.op_type == "Add" else self._op_concat)(node, [self.acts[i] for i in node.input])
                    continue
                if len(ins) != 1:
                    raise node_error(node, f"takes {len(ins)} activation inputs; expected one")
                act = self.acts[ins[0]]
                if act.pad is not None and node.op_type not in ("Conv", "MaxPool", "AveragePool"):
                    raise node_error(node, "expected a Conv, MaxPool or AveragePool after a Pad")
                try:
                    fn = handlers[node.op_type]
                except KeyError:
                    raise self.unsupported(node, "after a quantized activation") from None
                fn(node, act)
        out = g.output[0].name
        if self.out_map is None:
            if out not in self.acts:
                raise FrontendError(f"graph output {out!r} is not produced by a supported path")
            act = self.acts[out]
            if act.pad is not None:
                raise FrontendError(f"graph output {out!r} comes from a Pad; expected a layer or quantizer")
            kind = OutputKind.INDEX if act.quant is None else OutputKind.QUANT
            q = act.quant
            self.out_map = OutputMap(
                kind=kind, onnx_shape=self._out_shape(),
                scale=frozen_array(q.scale if q is not None else np.ones(1), np.float32),
                zero_point=frozen_array(q.zero_point if q is not None else np.zeros(1), np.float32),
                perm=None if _is_identity(act.perm) else frozen_array(act.perm),
            )
            cur_val = act.value
        else:
            cur_val = self.nodes[-1].outputs[0]
        self._check_all_reach(cur_val)
        if not any(isinstance(nd.op, (MatVec, DepthwiseMatVec)) for nd in self.nodes):
            raise FrontendError("the model has no MatMul/Gemm/Conv layer; expected at least one quantized linear layer")
        graph = Graph(
            name=self.name, values=tuple(self.values), nodes=tuple(self.nodes), inputs=("x",),
            outputs=(cur_val,), input_quant=input_quant, output_map=self.out_map,
        )
        return verify(graph)

    def _check_all_reach(self, out_val: str) -> None:
        """Every lowered node must feed the graph output (a branch that never rejoins has no
        place in a one-output stream)."""
        live = {out_val}
        for nd in reversed(self.nodes):
            if nd.outputs[0] in live:
                live.update(nd.inputs)
        for nd in self.nodes:
            if nd.outputs[0] not in live:
                first = nd.origin.split(",")[0]
                raise FrontendError(
                    f"ONNX node {first!r}: its result never reaches the graph output; expected every branch "
                    "of a fan-out to rejoin through an Add or Concat"
                )

    # ---- IR building ----------------------------------------------------------------
    def _emit(self, name: str, op, src, out_name: str, shape, dtype, origin: str) -> str:
        srcs = (src,) if isinstance(src, str) else tuple(src)
        self.nodes.append(Node(name=name, op=op, inputs=srcs, outputs=(out_name,), origin=origin))
        self.values.append(Value(name=out_name, shape=tuple(int(d) for d in shape), dtype=dtype))
        return out_name

    def _ir_shape_of(self, value: str) -> tuple[int, ...]:
        return next(v.shape for v in self.values if v.name == value)

    def _as_shape(self, act: "_Act", shape: tuple[int, ...], origin: str) -> str:
        """The IR value of ``act`` with IR shape ``shape`` (a free Reshape if needed)."""
        if self._ir_shape_of(act.value) == tuple(shape):
            return act.value
        name = f"{act.value}_r{len(shape)}d"
        if any(v.name == name for v in self.values):
            return name
        return self._emit(f"reshape_{act.value}", Reshape(shape=tuple(shape)), act.value, name, shape, act.dtype, origin)

    def _spatial_value(self, node, act: "_Act") -> tuple[str, tuple[int, int, int]]:
        """``act`` as a channels-last (H, W, C) IR value, for a Conv/pool ``node``."""
        if len(act.onnx_shape) not in (2, 3):
            raise node_error(node, f"expected a (C, H, W) or (C, L) input, got shape {list(act.onnx_shape)!r}")
        hwc, cl = _stream_layout(node, act.onnx_shape)
        if not np.array_equal(act.perm, cl):
            raise node_error(
                node,
                "its input is not in channels-last stream order (a Reshape/Transpose before it would "
                "need a run-time reorder buffer, which gatesmith does not build)",
            )
        return self._as_shape(act, hwc, node.name), hwc

    # ---- handlers ---------------------------------------------------------------------
    def _op_reshape(self, node, act: "_Act") -> None:
        if node.op_type == "Reshape" and self.const(node.input[1]) is None:
            raise node_error(node, "expected a constant target shape")
        shape = self.shape_of(node.output[0])
        if shape is None:
            raise node_error(node, "cannot infer its output shape; expected a static shape")
        self.acts[node.output[0]] = _dc_replace(act, onnx_shape=shape)

    def _op_transpose(self, node, act: "_Act") -> None:
        p = _attr(node, "perm")
        rank = len(act.onnx_shape) + 1
        if p is None:
            p = list(reversed(range(rank)))
        p = list(p)
        if p[0] != 0:
            raise node_error(node, f"expected a transpose that keeps the batch axis first, got perm {p!r}")
        inner = [i - 1 for i in p[1:]]
        t = np.arange(int(np.prod(act.onnx_shape))).reshape(act.onnx_shape).transpose(inner).reshape(-1)
        inv = np.empty_like(t)
        inv[t] = np.arange(t.size)
        new_shape = tuple(act.onnx_shape[i] for i in inner)
        self.acts[node.output[0]] = _dc_replace(act, onnx_shape=new_shape, perm=inv[act.perm])

    def _op_pad(self, node, act: "_Act") -> None:
        mode = _attr(node, "mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if mode != "constant":
            raise node_error(node, f"pad mode {mode!r} is not supported; expected 'constant'")
        pads = self.const(node.input[1]) if len(node.input) > 1 else np.asarray(_attr(node, "pads"))
        if pads is None:
            raise node_error(node, "expected constant pads")
        value = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(1)
        if value is None or np.size(value) != 1 or float(np.asarray(value).reshape(-1)[0]) != 0.0:
            raise node_error(node, f"expected padding with the constant 0, got {value!r}")
        if len(node.input) > 3 and node.input[3]:
            raise node_error(node, "a Pad with an axes input is not supported")
        pads = [int(v) for v in np.asarray(pads).reshape(-1)]
        r = len(act.onnx_shape) + 1
        begin, end = pads[:r], pads[r:]
        if len(pads) != 2 * r or begin[:2] != [0, 0] or end[:2] != [0, 0] or min(pads) < 0:
            raise node_error(node, f"expected non-negative padding of the spatial axes only, got pads {pads!r}")
        if r == 3:
            begin, end = [0, 0, 0] + begin[2:], [0, 0, 0] + end[2:]
        self.acts[node.output[0]] = _dc_replace(act, pad=(begin[2], begin[3], end[2], end[3]))

    def _window_params(self, node, act: "_Act", rank: int):
        """kernel, stride, pads (t, l, b, r) of a Conv/MaxPool node, 1-D mapped to H = 1."""
        if _attr(node, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise node_error(node, "auto_pad is not supported; expected explicit pads (export with padding=...)")
        nd = rank - 1
        ks = _attr(node, "kernel_shape")
        if ks is None:
            w = self.const(node.input[1])
            ks = list(w.shape[2:])
        ks = list(ks)
        strides = list(_attr(node, "strides", [1] * nd))
        pads = list(_attr(node, "pads", [0] * (2 * nd)))
        dil = list(_attr(node, "dilations", [1] * nd))
        if any(d != 1 for d in dil):
            raise node_error(node, f"dilations {dil!r} are not supported; expected 1")
        if len(ks) != nd:
            raise node_error(node, f"expected a {nd}-D kernel for a {nd}-D input, got {ks!r}")
        if nd == 1:
            ks, strides, pads = [1] + ks, [1] + strides, [0, pads[0], 0, pads[1]]
        else:
            pads = [pads[0], pads[1], pads[2], pads[3]]
        if act.pad is not None:
            pads = [a + b for a, b in zip(pads, act.pad)]
        return tuple(ks), tuple(strides), tuple(pads)

    def _op_conv(self, node, act: "_Act") -> None:
        if node.input[0] not in self.acts:
            raise node_error(node, "expected the activation as the first input")
        src, hwc = self._spatial_value(node, act)
        rank = len(act.onnx_shape)
        kernel, stride, pads = self._window_params(node, act, rank)
        group = int(_attr(node, "group", 1))
        cin = hwc[2]
        depthwise = group != 1
        if depthwise and group != cin:
            raise node_error(node, f"group={group} is not supported; expected 1 or the channel count {cin} (depthwise)")
        if act.quant.scale.size != 1:
            raise node_error(act.quant.node, "expected a per-tensor scale for an activation feeding a Conv")
        if any(pads) and (act.dtype.bipolar):
            raise node_error(node, "zero padding of a bipolar activation (values -1/+1) has no integer form")
        qi, scale, wtype, wsrc, wq = self.quant_const(node, node.input[1])
        per_group = 1 if depthwise else cin
        if qi.ndim != rank + 1 or qi.shape[1] != per_group:
            raise node_error(node, f"expected weights of shape (OC, {per_group}, kernel...), got {list(qi.shape)!r}")
        if depthwise and qi.shape[0] != cin:
            raise node_error(node, f"a depthwise conv with {qi.shape[0]} outputs for {cin} channels (a channel "
                                   "multiplier) is not supported; expected as many outputs as inputs")
        srow = self._row_scale(wsrc, qi, scale, wq)
        if rank == 2:  # (OC, IC, K) -> (OC, IC, 1, K)
            qi = qi[:, :, None, :]
        if tuple(qi.shape[2:]) != kernel:
            raise node_error(node, f"weights have kernel {list(qi.shape[2:])!r}, attributes say {list(kernel)!r}")
        oc = qi.shape[0]
        qi = qi.transpose(0, 2, 3, 1).reshape(oc, -1)  # (ky, kx, c) columns, as the window emits them
        swg = SlidingWindow(ifm=hwc, kernel=kernel, stride=stride, pads=pads, pad_value=0)
        oh, ow = swg.ofm
        if oh < 1 or ow < 1:
            raise node_error(node, f"the kernel {list(kernel)!r} does not fit the padded input {list(hwc)!r}")
        k = self.layer
        if kernel == (1, 1) and stride == (1, 1) and not any(pads) and not depthwise:
            win = src  # a pointwise conv reads the feature map as it streams: no window
        else:
            win = self._emit(f"swg{k}", swg, src, f"l{k}_win", (oh, ow, kernel[0] * kernel[1] * cin), act.dtype,
                             node.name)
        bias = None
        if len(node.input) > 2 and node.input[2]:
            bias = self.const(node.input[2])
            if bias is None:
                raise node_error(node, "expected a constant bias")
            bias = np.asarray(bias, np.float32)
        out_onnx = (oc, oh, ow) if rank == 3 else (oc, ow)
        self._layer(node, act, win, (oh, ow), qi, srow, wtype, wsrc, bias, out_onnx, trailing=rank - 1,
                    depthwise=depthwise)

    def _op_linear(self, node, act: "_Act") -> None:
        if node.op_type == "Gemm":
            if float(_attr(node, "alpha", 1.0)) != 1.0 or float(_attr(node, "beta", 1.0)) != 1.0 or _attr(node, "transA", 0):
                got = {k: _attr(node, k, d) for k, d in (("alpha", 1.0), ("beta", 1.0), ("transA", 0))}
                raise node_error(node, "expected alpha=1, beta=1, transA=0, got "
                                       + ", ".join(f"{k}={v!r}" for k, v in got.items()))
        if node.input[0] not in self.acts:
            raise node_error(node, f"expected the activation {act.value!r} as the first input")
        if act.quant.scale.size != 1:
            raise node_error(act.quant.node, "expected a per-tensor scale for an activation feeding a MatMul/Gemm")
        qi, srow, wtype, wsrc = self.weights(node, 1)
        width = int(np.prod(act.onnx_shape))
        if len(act.onnx_shape) != 1 and node.op_type == "MatMul":
            raise node_error(node, f"expected a flat (vector) input, got shape {list(act.onnx_shape)!r}; "
                                   "flatten before the MatMul")
        if qi.shape[1] != width:
            raise node_error(node, f"weights take {qi.shape[1]} inputs, but the activation has {width}")
        qi = qi[:, act.perm]  # stream element j is ONNX element perm[j]: permute at compile time
        src = self._as_shape(act, (width,), node.name)
        bias = None
        if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]:
            bias = self.const(node.input[2])
            if bias is None:
                raise node_error(node, "expected a constant bias")
            bias = np.asarray(bias, np.float32)
        self._layer(node, act, src, (), qi, srow, wtype, wsrc, bias, (qi.shape[0],), trailing=0)

    def _follow_chain(self, t: str, after: str, first=None):
        """The elementwise ops from tensor ``t`` to the next quantizer (or the graph output).

        Returns ``(raw chain nodes, their constants, the quantizer node or None)``;
        every node passed is marked consumed.  ``first`` is a node already
        reached from ``t`` (the walk's current node)."""
        chain_nodes = []
        nxt = first if first is not None else self.next_node(t, "the next quantizer")
        while nxt is not None and nxt.op_type not in _QUANT_OPS:
            self.consumed.add(id(nxt))
            if nxt.op_type in _PASS_OPS:
                pass
            elif nxt.op_type in CHAIN_OPS or nxt.op_type in _TAIL_ONLY_OPS:
                if sum(1 for i in nxt.input if i and self.const(i) is None) > 1:
                    raise node_error(nxt, f"combines two unquantized tensors; expected each input of a residual "
                                          f"{nxt.op_type} to come from a quantizer")
                data, k = self.data_input(nxt)
                if nxt.op_type == "Div" and k != 0:
                    raise node_error(nxt, "dividing a constant by the activation is not supported")
                if nxt.op_type == "BatchNormalization" and k != 0:
                    raise node_error(nxt, "expected the activation as BatchNormalization's first input")
                chain_nodes.append(nxt)
            else:
                raise self.unsupported(nxt, f"between {after} and the next quantizer")
            t = nxt.output[0]
            nxt = self.next_node(t, "the next quantizer")
        consts = {}
        for c in chain_nodes:
            for i in c.input:
                v = self.const(i) if i else None
                if v is not None:
                    consts[i] = v
        raw = chain_nodes
        if nxt is not None:
            self.consumed.add(id(nxt))
            for i in nxt.input[1:]:
                if i:
                    consts[i] = self.const(i)
        return raw, consts, nxt

    def _layer(self, n, act, src, lead, qi, srow, wtype, wsrc, bias, out_onnx, *, trailing: int,
               depthwise: bool = False) -> None:
        """MatVec (DepthwiseMatVec: ``qi`` is (C, positions)) on IR value ``src`` (shape
        lead + (MW,)), then the chain to the next quantizer."""
        op_cls = DepthwiseMatVec if depthwise else MatVec
        cur_type = act.dtype
        acc_scale = np.float64(act.quant.scale.reshape(-1)[0]) * srow / act.div
        raw, consts, nxt = self._follow_chain(
            n.output[0], "a Conv" if n.op_type == "Conv" else "a MatMul/Gemm"
        )
        lo, hi = matvec_range(qi, cur_type)
        layer = self.layer
        mv_name = f"{'vvu' if depthwise else 'mvu'}{layer}"
        acc_val = f"l{layer}_acc"
        origin = ",".join([n.name, wsrc.name])
        mh = qi.shape[0]
        if nxt is None:
            if lead:
                raise node_error(n, "a float output after a convolution is not supported; expected a quantizer")
            # float tail: the output map does acc*scale then the chain's ops, in float32
            post = tuple(self._float_op(c, consts) for c in raw)
            if bias is not None:
                post = (FloatOp(kind=FloatOpKind.ADD, consts=(frozen_array(bias, np.float32),)),) + post
            acc_t = _acc_type(lo, hi)
            self._emit(mv_name, op_cls(weights=frozen_array(qi), wtype=wtype, acc=acc_t), src, acc_val,
                       (mh,), acc_t, origin)
            self.out_map = OutputMap(
                kind=OutputKind.FLOAT, onnx_shape=self._out_shape(), scale=frozen_array(acc_scale, np.float64),
                zero_point=frozen_array(np.zeros(1), np.float32), post=post,
            )
            self.layer += 1
            return
        _check_no_tail_ops(raw)
        q = self.quant_params(nxt)
        chain = Chain(data_in=n.output[0], bias=bias, nodes=raw, consts=consts, quant=q, opset=self.opset,
                      trailing=trailing)
        thresholds, base, negate = derive_thresholds(chain, acc_scale, lo, hi)
        lin = linear_form(chain, acc_scale, negate)
        qi = np.where(negate[:, None], -qi, qi)
        if isinstance(wtype, IntType):
            wtype = type_for_range(int(qi.min()), int(qi.max()))
        lo2, hi2 = matvec_range(qi, cur_type)
        acc_t = _acc_type(lo2, hi2)
        out_t = BipolarType() if q.bipolar else IntType(bits=q.bits, signed=q.signed)
        self._emit(mv_name, op_cls(weights=frozen_array(qi), wtype=wtype, acc=acc_t), src, acc_val,
                   tuple(lead) + (mh,), acc_t, origin)
        rq = Requantize(
            thresholds=frozen_array(thresholds), base=int(base), out=out_t,
            in_lo=frozen_array(np.asarray(lo2, dtype=np.int64)), in_hi=frozen_array(np.asarray(hi2, dtype=np.int64)),
            linear=lin,
        )
        chain_origin = ",".join([c.name for c in raw] + [nxt.name])
        out_val = self._emit(f"rq{layer}", rq, acc_val, f"l{layer}_out", tuple(lead) + (mh,), out_t, chain_origin)
        shape = self.shape_of(nxt.output[0]) or tuple(out_onnx)
        if int(np.prod(shape)) != int(np.prod(out_onnx)):
            raise node_error(nxt, f"expected {int(np.prod(out_onnx))} elements, the model says shape {list(shape)!r}")
        _, perm = _stream_layout(nxt, shape) if lead else (None, np.arange(mh))
        self.acts[nxt.output[0]] = _Act(value=out_val, dtype=out_t, quant=q, onnx_shape=shape, perm=perm)
        self.layer += 1

    def _op_maxpool(self, node, act: "_Act") -> None:
        if len(node.output) > 1 and node.output[1]:
            raise node_error(node, "MaxPool with an indices output is not supported")
        if int(_attr(node, "storage_order", 0)) != 0:
            raise node_error(node, "expected storage_order=0")
        src, hwc = self._spatial_value(node, act)
        rank = len(act.onnx_shape)
        kernel, stride, pads = self._window_params(node, act, rank)
        out = self.shape_of(node.output[0])
        if out is None:
            raise node_error(node, "cannot infer its output shape; expected a static shape")
        oh, ow = (out[1], out[2]) if rank == 3 else (1, out[1])
        # ceil_mode (or floor with uncovered rows): the bottom/right padding that gives the model's size
        t, l, b, r = pads
        h, w, c = hwc
        b = max(b, (oh - 1) * stride[0] + kernel[0] - h - t)
        r = max(r, (ow - 1) * stride[1] + kernel[1] - w - l)
        lo_val = int(act.dtype.min)  # max over padding: the type's minimum never wins (ONNX pads with -inf)
        swg = SlidingWindow(ifm=hwc, kernel=kernel, stride=stride, pads=(t, l, b, r), pad_value=lo_val)
        if swg.ofm != (oh, ow):
            raise node_error(node, f"window arithmetic gives {swg.ofm!r}, the model says {(oh, ow)!r}")
        k = self.layer
        self.layer += 1
        pos = kernel[0] * kernel[1]
        win = self._emit(f"swg{k}", swg, src, f"l{k}_win", (oh, ow, pos * c), act.dtype, node.name)
        pooled = self._emit(f"pool{k}", WindowReduce(mode=PoolMode.MAX, positions=pos, channels=c, out=act.dtype),
                            win, f"l{k}_out", (oh, ow, c), act.dtype, node.name)
        _, perm = _stream_layout(node, out)
        self.acts[node.output[0]] = _dc_replace(act, value=pooled, onnx_shape=out, perm=perm, pad=None)

    def _op_avgpool(self, node, act: "_Act") -> None:
        """Window sums in hardware; the division is the first op of the next requantization
        (or folded into the next layer's scale)."""
        src, hwc = self._spatial_value(node, act)
        h, w, c = hwc
        rank = len(act.onnx_shape)
        out = self.shape_of(node.output[0])
        if out is None:
            raise node_error(node, "cannot infer its output shape; expected a static shape")
        k = self.layer
        self.layer += 1
        if node.op_type == "GlobalAveragePool":
            pos = h * w
            win = self._as_shape(_dc_replace(act, value=src), (1, 1, pos * c), node.name)
            oh, ow = 1, 1
        else:
            if int(_attr(node, "ceil_mode", 0)):
                raise node_error(node, "ceil_mode=1 is not supported for average pooling; expected 0")
            kernel, stride, pads = self._window_params(node, act, rank)
            if any(pads) and not int(_attr(node, "count_include_pad", 0)):
                raise node_error(node, "padding with count_include_pad=0 divides border windows by fewer "
                                       "elements; expected no padding or count_include_pad=1")
            swg = SlidingWindow(ifm=hwc, kernel=kernel, stride=stride, pads=pads, pad_value=0)
            oh, ow = swg.ofm
            pos = kernel[0] * kernel[1]
            if any(pads) and act.dtype.bipolar:
                raise node_error(node, "zero padding of a bipolar activation (values -1/+1) has no integer form")
            win = self._emit(f"swg{k}", swg, src, f"l{k}_win", (oh, ow, pos * c), act.dtype, node.name)
        sum_t = type_for_range(pos * int(act.dtype.min), pos * int(act.dtype.max), signed=True)
        summed = self._emit(f"pool{k}", WindowReduce(mode=PoolMode.SUM, positions=pos, channels=c, out=sum_t),
                            win, f"l{k}_sum", (oh, ow, c), sum_t, node.name)
        _, perm = _stream_layout(node, out)
        self.acts[node.output[0]] = _dc_replace(act, value=summed, dtype=sum_t, onnx_shape=out, perm=perm,
                                                pad=None, div=act.div * pos)

    def _requantize_stream(self, src: str, c: int, lo: int, hi: int, grid: float, data_in: str, nodes, consts,
                           nxt, trailing: int, raw) -> tuple[str, object, Quantizer]:
        """Thresholds for an integer stream ``src`` (values in [lo, hi], real value ``v * grid``)
        through the model's ops ``nodes`` into the quantizer ``nxt``; emits the Requantize node."""
        _check_no_tail_ops(raw)
        q = self.quant_params(nxt)
        acc_scale = np.full(c, np.float64(grid))
        chain = Chain(data_in=data_in, bias=None, nodes=nodes, consts=consts, quant=q, opset=self.opset,
                      trailing=trailing)
        lo_a = np.full(c, int(lo), dtype=np.int64)
        hi_a = np.full(c, int(hi), dtype=np.int64)
        thresholds, base, negate = derive_thresholds(chain, acc_scale, lo_a, hi_a)
        if negate.any():
            raise node_error(nxt, "a requantization that decreases with its input is supported after a "
                                  "Conv/MatMul only (its weights absorb the sign)")
        lin = linear_form(chain, acc_scale, negate)
        out_t = BipolarType() if q.bipolar else IntType(bits=q.bits, signed=q.signed)
        k = self.layer
        self.layer += 1
        rq = Requantize(thresholds=frozen_array(thresholds), base=int(base), out=out_t,
                        in_lo=frozen_array(lo_a), in_hi=frozen_array(hi_a), linear=lin)
        origin = ",".join([c_.name for c_ in raw] + [nxt.name])
        val = self._emit(f"rq{k}", rq, src, f"l{k}_out", self._ir_shape_of(src), out_t, origin)
        return val, out_t, q

    def _op_add(self, node, acts: list) -> None:
        """A residual add: both streams re-scaled to a common grid exactly (integer
        multipliers), then the model's ops to the next quantizer as thresholds."""
        from fractions import Fraction
        from math import gcd

        a, b = acts
        for x in (a, b):
            if x.quant is None or x.pad is not None:
                raise node_error(node, "expected quantized activations (not indices or padding) as inputs")
            if x.quant.scale.size != 1:
                raise node_error(node, "expected per-tensor scales on both inputs of an Add")
        if a.onnx_shape != b.onnx_shape or not np.array_equal(a.perm, b.perm):
            raise node_error(node, f"expected two inputs of one shape, got {list(a.onnx_shape)!r} and "
                                   f"{list(b.onnx_shape)!r} (broadcasting adds are not supported)")
        if self._ir_shape_of(a.value) != self._ir_shape_of(b.value):
            raise node_error(node, "its inputs stream in different layouts")
        sa = Fraction(float(a.quant.scale.reshape(-1)[0])) / a.div
        sb = Fraction(float(b.quant.scale.reshape(-1)[0])) / b.div
        den = sa.denominator * sb.denominator // gcd(sa.denominator, sb.denominator)
        num = gcd(sa.numerator * (den // sa.denominator), sb.numerator * (den // sb.denominator))
        grid = Fraction(num, den)
        ma, mb = int(sa / grid), int(sb / grid)
        if max(ma, mb) >= 1 << 62:
            raise node_error(node, f"the input scales {float(sa)!r} and {float(sb)!r} have no common grid with "
                                   "multipliers below 2**62; expected scales closer to a shared one")
        lo = ma * int(a.dtype.min) + mb * int(b.dtype.min)
        hi = ma * int(a.dtype.max) + mb * int(b.dtype.max)
        z_t = type_for_range(min(lo, 0), max(hi, 0), signed=True)
        shape = self._ir_shape_of(a.value)
        c = shape[-1]
        k = self.layer
        self.layer += 1
        z = self._emit(f"add{k}", Add(mult_a=ma, mult_b=mb, channels=c, out=z_t), (a.value, b.value),
                       f"l{k}_sum", shape, z_t, node.name)
        raw, consts, nxt = self._follow_chain(node.output[0], "an Add")
        if nxt is None:
            raise node_error(node, "expected a quantizer after a residual Add (a float output is not supported)")
        val, out_t, q = self._requantize_stream(z, c, lo, hi, float(grid), node.output[0], raw, consts, nxt,
                                                max(len(a.onnx_shape) - 1, 0), raw)
        shape_o = self.shape_of(nxt.output[0]) or a.onnx_shape
        self.acts[nxt.output[0]] = _dc_replace(a, value=val, dtype=out_t, quant=q, onnx_shape=shape_o, div=1)

    def _op_concat(self, node, acts: list) -> None:
        a, b = acts
        rank = len(a.onnx_shape)
        axis = int(_attr(node, "axis", 1))
        if axis not in (1, -rank):
            raise node_error(node, f"expected a concatenation along the channel axis 1, got axis={axis}")
        for x in (a, b):
            if x.quant is None or x.pad is not None:
                raise node_error(node, "expected quantized activations (not indices or padding) as inputs")
        if (a.quant.scale.size != 1 or b.quant.scale.size != 1
                or float(a.quant.scale.reshape(-1)[0]) / a.div != float(b.quant.scale.reshape(-1)[0]) / b.div):
            raise node_error(node, "expected both inputs quantized with one per-tensor scale (requantize one "
                                   "branch with the other's quantizer)")
        if a.dtype != b.dtype:
            raise node_error(node, f"expected both inputs of one type, got {a.dtype} and {b.dtype}")
        sa, sb = self._ir_shape_of(a.value), self._ir_shape_of(b.value)
        out = self.shape_of(node.output[0])
        if out is None:
            raise node_error(node, "cannot infer its output shape; expected a static shape")
        _, cl_a = _stream_layout(node, a.onnx_shape)
        _, cl_b = _stream_layout(node, b.onnx_shape)
        if not (np.array_equal(a.perm, cl_a) and np.array_equal(b.perm, cl_b)) or sa[:-1] != sb[:-1]:
            raise node_error(node, "expected two feature maps of one spatial size in stream order")
        k = self.layer
        self.layer += 1
        val = self._emit(f"concat{k}", Concat(channels_a=sa[-1], channels_b=sb[-1]), (a.value, b.value),
                         f"l{k}_cat", sa[:-1] + (sa[-1] + sb[-1],), a.dtype, node.name)
        _, perm = _stream_layout(node, out)
        self.acts[node.output[0]] = _dc_replace(a, value=val, onnx_shape=out, perm=perm)

    def _op_requant(self, node, act: "_Act") -> None:
        """An integer stream (a pool's sums, a max pool's output ...) through elementwise ops
        into a new quantizer: thresholds over every value of its type."""
        if act.quant is None:
            raise node_error(node, "expected the label select to be the last node")
        data, _ = self.data_input(node)
        raw, consts, nxt = self._follow_chain(data, "a pooling layer", first=node)
        if nxt is None:
            raise node_error(node, "expected a quantizer after it (a float output here is not supported)")
        shape = self.shape_of(nxt.output[0]) or act.onnx_shape
        c = self._ir_shape_of(act.value)[-1]
        trailing = max(len(act.onnx_shape) - 1, 0)
        nodes = list(raw)
        if act.div != 1:  # the average: sum / count, in float32, before the model's own ops
            div = onnx.helper.make_node("Div", ["gs_sum", "gs_count"], [data], name="gs_average")
            consts["gs_count"] = np.float32(act.div)
            nodes = [div] + nodes
            data_in = "gs_sum"
        else:
            data_in = data
        if act.quant.scale.size != 1:
            raise node_error(act.quant.node, "expected a per-tensor scale on a pooled activation")
        val, out_t, q = self._requantize_stream(
            act.value, c, int(act.dtype.min), int(act.dtype.max), float(act.quant.scale.reshape(-1)[0]),
            data_in, nodes, consts, nxt, trailing, raw,
        )
        self.acts[nxt.output[0]] = _dc_replace(act, value=val, dtype=out_t, quant=q, onnx_shape=shape, div=1)

    def _op_topk(self, node, act: "_Act") -> None:
        if len(act.onnx_shape) != 1 and not (node.op_type == "TopK" and act.onnx_shape[-1] == int(np.prod(act.onnx_shape))):
            raise node_error(node, f"expected a vector input, got shape {list(act.onnx_shape)!r}")
        if act.quant.scale.size != 1:
            raise node_error(node, "expected a per-tensor scale on its input (a per-channel scale changes the order)")
        c = int(np.prod(act.onnx_shape))
        axis = int(_attr(node, "axis", -1))
        if axis not in (-1, len(act.onnx_shape)):
            raise node_error(node, f"expected axis -1 (the class axis), got {axis}")
        if node.op_type == "TopK":
            kk = self.const(node.input[1])
            if kk is None or np.size(kk) != 1:
                raise node_error(node, "expected a constant K")
            k = int(np.asarray(kk).reshape(-1)[0])
            if int(_attr(node, "largest", 1)) != 1 or int(_attr(node, "sorted", 1)) != 1:
                raise node_error(node, "expected largest=1 and sorted=1")
            out_t = node.output[1]
            if node.output[0] in self.consumers or node.output[0] == self.out_name:
                raise node_error(node, "only the Indices output of TopK may be used")
        else:
            k = 1
            if int(_attr(node, "select_last_index", 0)) != 0:
                raise node_error(node, "expected select_last_index=0")
            out_t = node.output[0]
        if not 1 <= k <= c:
            raise node_error(node, f"K={k} must be between 1 and {c}")
        idx_t = type_for_range(0, max(c - 1, 1), signed=False)
        val = self._as_shape(act, (c,), node.name)
        outv = self._emit("labelselect", LabelSelect(k=k, channels=c, out=idx_t), val, "labels", (k,), idx_t, node.name)
        self.acts[out_t] = _Act(value=outv, dtype=idx_t, quant=None, onnx_shape=(k,), perm=np.arange(k))

    def _raw_chain(self, start: str, end: str):
        """Chain nodes from ``start`` to ``end`` (exclusive of the quantizer), skipping Reshape/Flatten."""
        t = start
        while t != end:
            n = self.consumers[t][0]
            if n.op_type not in _PASS_OPS or n.op_type == "Identity":
                if n.op_type != "Identity":
                    yield n
            t = n.output[0]

    def _out_shape(self) -> tuple[int, ...]:
        dims = [d.dim_value for d in self.g.output[0].type.tensor_type.shape.dim]
        return tuple(dims[1:])

    def _float_op(self, node, consts) -> FloatOp:
        t = node.op_type
        vals = [consts.get(i) for i in node.input]
        if t == "Relu":
            return FloatOp(kind=FloatOpKind.RELU)
        if t == "Clip":
            lo = vals[1] if len(vals) > 1 and vals[1] is not None else np.float32(-np.inf)
            hi = vals[2] if len(vals) > 2 and vals[2] is not None else np.float32(np.inf)
            return FloatOp(kind=FloatOpKind.CLIP, consts=(frozen_array(lo, np.float32), frozen_array(hi, np.float32)))
        if t == "BatchNormalization":
            eps = float(_attr(node, "epsilon", 1e-5))
            return FloatOp(kind=FloatOpKind.BATCHNORM, consts=tuple(frozen_array(v, np.float32) for v in vals[1:5]), eps=eps)
        k = 0 if vals[0] is None else 1
        c = vals[1 - k]
        return FloatOp(kind=FloatOpKind(t), consts=(frozen_array(c, np.float32),), data_first=k == 0)


@dataclass(frozen=True, kw_only=True, eq=False)
class _Act:
    """A quantized integer stream as the walk knows it.

    ``value`` is its IR value; ``onnx_shape`` (no batch axis) its shape in the
    model; stream element ``j`` is the model's flat element ``perm[j]``
    (channels-last streams of NCHW tensors).  ``pad`` holds a Pad waiting for
    the Conv/MaxPool that absorbs it.  ``quant`` is None for index outputs.
    """

    value: str
    dtype: object
    quant: Quantizer | None
    onnx_shape: tuple[int, ...]
    perm: np.ndarray
    pad: tuple[int, int, int, int] | None = None
    #: the real value is ``int * scale / div`` (a window sum standing for an average)
    div: int = 1


def _stream_layout(node, shape) -> tuple[tuple[int, ...], np.ndarray]:
    """IR shape and stream permutation of an ONNX tensor of ``shape`` (no batch axis):
    (C, H, W) -> (H, W, C), (C, L) -> (1, L, C); anything else stays a flat vector."""
    shape = tuple(int(d) for d in shape)
    n = int(np.prod(shape)) if shape else 1
    if len(shape) == 3:
        c, h, w = shape
        return (h, w, c), np.arange(n).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
    if len(shape) == 2:
        c, length = shape
        return (1, length, c), np.arange(n).reshape(c, length).T.reshape(-1)
    return (n,), np.arange(n)


def _check_no_tail_ops(raw) -> None:
    for c in raw:
        if c.op_type in _TAIL_ONLY_OPS:
            raise node_error(c, f"{c.op_type} is supported after the last layer only, not before a "
                                f"quantizer (ops allowed there: {', '.join(CHAIN_OPS)})")


def _is_identity(perm) -> bool:
    return perm is None or bool(np.array_equal(perm, np.arange(len(perm))))


def _acc_type(lo, hi) -> IntType:
    return type_for_range(min(int(min(lo)), 0), max(int(max(hi)), 0), signed=True)


def import_onnx(path, *, name: str | None = None) -> Graph:
    """Import a Brevitas-exported QONNX/QCDQ ONNX file as an IR graph."""
    from pathlib import Path

    model = load_model(path)
    gname = name or Path(path).stem
    return _Walker(model, _sanitize(gname)).run()


def _sanitize(name: str) -> str:
    import re

    s = re.sub(r"[^A-Za-z0-9_]", "_", name) or "model"
    if not re.match(r"[A-Za-z_]", s):
        s = "m_" + s
    return s[:64]
