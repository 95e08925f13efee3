"""Lowering a cleaned QONNX graph to the integer dataflow IR (dense networks).

The walk follows the one data path of the model:

    input -> [preprocessing: Reshape/Flatten, scalar Mul/Div/Add/Sub/Pow]
          -> first quantizer                       (host: InputQuant)
          -> ( MatMul|Gemm with quantized weights   (MatVec)
               -> chain -> quantizer )*             (Requantize)
          -> MatMul|Gemm -> float tail | quantizer  (host: OutputMap)

Everything the walk meets that is not of this form is rejected with an error
naming the ONNX node, its op type and what is supported.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from gatesmith.ir import (
    BipolarType,
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
_TAIL_ONLY_OPS = ("Pow",)  # float ops allowed after the last layer (not monotone in general)
#: every op type the frontend accepts somewhere (for error messages)
SUPPORTED_OPS = tuple(
    sorted(set(_QUANT_OPS + _PASS_OPS + _PRE_OPS + _LINEAR_OPS + CHAIN_OPS + _TAIL_ONLY_OPS + ("Transpose",)))
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

    def weights(self, node, idx: int):
        """Integer weights of MatMul/Gemm input ``idx`` in (MH, MW) orientation + per-row scale."""
        name = node.input[idx]
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
        if qi.ndim != 2:
            raise node_error(node, f"expected 2-D weights, got shape {list(qi.shape)!r}")
        trans = node.op_type == "Gemm" and bool(_attr(node, "transB", 0))
        if not trans:  # MatMul / Gemm(transB=0): (MW, MH)
            qi = qi.T
            if scale is not None:
                scale = scale.T
        if scale is None:
            srow = np.full(qi.shape[0], float(q.scale.reshape(-1)[0]))
        else:
            if not np.all(scale == scale[:, :1]):
                raise node_error(src, "weight scales must be per tensor or per output channel")
            srow = scale[:, 0].astype(np.float64)
        if q.bipolar:
            wtype = BipolarType()
        else:
            wtype = type_for_range(int(qi.min()), int(qi.max()))
        return qi, srow, wtype, src

    def run(self) -> Graph:
        g = self.g
        cur = g.input[0].name
        shape = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
        onnx_in_shape = tuple(shape[1:])
        pre: list[FloatOp] = []
        # 1. preprocessing up to the first quantizer
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
            raise self.unsupported(n, "before the first quantizer")
        qin = self.quant_params(n)
        if qin.scale.size != 1:
            raise node_error(n, "expected a per-tensor scale for the input quantizer")
        in_type = BipolarType() if qin.bipolar else IntType(bits=qin.bits, signed=qin.signed)
        n_in = int(np.prod(onnx_in_shape))
        input_quant = InputQuant(
            onnx_shape=onnx_in_shape, pre=tuple(pre), scale=frozen_array(qin.scale.reshape(()), np.float32),
            zero_point=frozen_array(qin.zero_point.reshape(()), np.float32), dtype=in_type,
            narrow=qin.narrow, rounding=qin.rounding,
        )
        values = [Value(name="x", shape=(n_in,), dtype=in_type)]
        nodes: list[Node] = []
        cur = n.output[0]
        cur_q = qin
        cur_val = "x"
        cur_type = in_type
        width = n_in
        layer = 0
        while True:
            n = self.next_node(cur, "a MatMul or Gemm")
            while n is not None and n.op_type in _PASS_OPS:
                cur = n.output[0]
                n = self.next_node(cur, "a MatMul or Gemm")
            if n is None:
                # the graph ends at a quantizer
                out_map = OutputMap(
                    kind=OutputKind.QUANT, onnx_shape=self._out_shape(), scale=frozen_array(cur_q.scale, np.float32),
                    zero_point=frozen_array(cur_q.zero_point, np.float32),
                )
                break
            if n.op_type not in _LINEAR_OPS:
                raise self.unsupported(n, "after a quantized activation (expected MatMul or Gemm)")
            if n.op_type == "Gemm":
                if float(_attr(n, "alpha", 1.0)) != 1.0 or float(_attr(n, "beta", 1.0)) != 1.0 or _attr(n, "transA", 0):
                    got = {k: _attr(n, k, d) for k, d in (("alpha", 1.0), ("beta", 1.0), ("transA", 0))}
                    raise node_error(n, "expected alpha=1, beta=1, transA=0, got "
                                        + ", ".join(f"{k}={v!r}" for k, v in got.items()))
            if n.input[0] != cur:
                raise node_error(n, f"expected the activation {cur!r} as the first input")
            if cur_q.scale.size != 1:
                raise node_error(cur_q.node, "expected a per-tensor scale for an activation feeding a MatMul/Gemm")
            qi, srow, wtype, wsrc = self.weights(n, 1)
            if qi.shape[1] != width:
                raise node_error(n, f"weights take {qi.shape[1]} inputs, but the activation has {width}")
            bias = None
            if n.op_type == "Gemm" and len(n.input) > 2 and n.input[2]:
                bias = self.const(n.input[2])
                if bias is None:
                    raise node_error(n, "expected a constant bias")
                bias = np.asarray(bias, np.float32)
            acc_scale = np.float64(cur_q.scale.reshape(-1)[0]) * srow
            # 2. the chain after the linear op
            chain_nodes = []
            t = n.output[0]
            nxt = self.next_node(t, "the next quantizer")
            while nxt is not None and nxt.op_type not in _QUANT_OPS:
                if nxt.op_type in _PASS_OPS:
                    pass
                elif nxt.op_type in CHAIN_OPS or nxt.op_type in _TAIL_ONLY_OPS:
                    data, k = self.data_input(nxt)
                    if nxt.op_type == "Div" and k != 0:
                        raise node_error(nxt, "dividing a constant by the activation is not supported")
                    if nxt.op_type == "BatchNormalization" and k != 0:
                        raise node_error(nxt, "expected the activation as BatchNormalization's first input")
                    chain_nodes.append(nxt)
                else:
                    raise self.unsupported(nxt, "between a MatMul/Gemm and the next quantizer")
                t = nxt.output[0]
                nxt = self.next_node(t, "the next quantizer")
            consts = {}
            for c in chain_nodes:
                for i in c.input:
                    v = self.const(i) if i else None
                    if v is not None:
                        consts[i] = v
            raw = list(self._raw_chain(n.output[0], t))
            lo, hi = matvec_range(qi, cur_type)
            mv_name = f"mvu{layer}"
            acc_val = f"l{layer}_acc"
            origins = [n.name, wsrc.name]
            if nxt is None:
                # float tail: the output map does acc*scale then the chain's ops, in float32
                post = tuple(self._float_op(c, consts) for c in raw)
                if bias is not None:
                    post = (FloatOp(kind=FloatOpKind.ADD, consts=(frozen_array(bias, np.float32),)),) + post
                acc_t = _acc_type(lo, hi)
                nodes.append(Node(name=mv_name, op=MatVec(weights=frozen_array(qi), wtype=wtype, acc=acc_t),
                                  inputs=(cur_val,), outputs=(acc_val,), origin=",".join(origins)))
                values.append(Value(name=acc_val, shape=(qi.shape[0],), dtype=acc_t))
                cur_val = acc_val
                out_map = OutputMap(
                    kind=OutputKind.FLOAT, onnx_shape=self._out_shape(), scale=frozen_array(acc_scale, np.float64),
                    zero_point=frozen_array(np.zeros(1), np.float32), post=post,
                )
                break
            for c in raw:
                if c.op_type in _TAIL_ONLY_OPS:
                    raise node_error(c, f"{c.op_type} is supported after the last layer only, not before a "
                                        f"quantizer (ops allowed there: {', '.join(CHAIN_OPS)})")
            q = self.quant_params(nxt)
            for i in nxt.input[1:]:
                if i:
                    consts[i] = self.const(i)
            chain = Chain(data_in=n.output[0], bias=bias, nodes=raw, consts=consts, quant=q, opset=self.opset)
            thresholds, base, negate = derive_thresholds(chain, acc_scale, lo, hi)
            lin = linear_form(chain, acc_scale, negate)
            qi = np.where(negate[:, None], -qi, qi)
            if isinstance(wtype, IntType):
                wtype = type_for_range(int(qi.min()), int(qi.max()))
            lo2, hi2 = matvec_range(qi, cur_type)
            acc_t = _acc_type(lo2, hi2)
            out_t = BipolarType() if q.bipolar else IntType(bits=q.bits, signed=q.signed)
            nodes.append(Node(name=mv_name, op=MatVec(weights=frozen_array(qi), wtype=wtype, acc=acc_t),
                              inputs=(cur_val,), outputs=(acc_val,), origin=",".join(origins)))
            values.append(Value(name=acc_val, shape=(qi.shape[0],), dtype=acc_t))
            out_val = f"l{layer}_out"
            rq = Requantize(
                thresholds=frozen_array(thresholds), base=int(base), out=out_t,
                in_lo=frozen_array(np.asarray(lo2, dtype=np.int64)), in_hi=frozen_array(np.asarray(hi2, dtype=np.int64)),
                linear=lin,
            )
            chain_origin = ",".join([c.name for c in raw] + [nxt.name])
            nodes.append(Node(name=f"rq{layer}", op=rq, inputs=(acc_val,), outputs=(out_val,), origin=chain_origin))
            values.append(Value(name=out_val, shape=(qi.shape[0],), dtype=out_t))
            cur_val, cur_type, cur_q, cur = out_val, out_t, q, nxt.output[0]
            width = qi.shape[0]
            layer += 1
        graph = Graph(
            name=self.name, values=tuple(values), nodes=tuple(nodes), inputs=("x",), outputs=(cur_val,),
            input_quant=input_quant, output_map=out_map,
        )
        if not nodes:
            raise FrontendError("the model has no MatMul/Gemm layer; expected at least one quantized linear layer")
        return verify(graph)

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
