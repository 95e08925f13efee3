"""Fixed-point formats for the tensors a model leaves unquantized.

Before lowering, every tensor that must become an integer stream or integer
weights but has no quantizer gets a QONNX ``Quant`` node (scale ``2^-f``,
zero point 0, rounding ROUND, narrow 0, signed only when the range is):

* the data input of every MatMul/Gemm/Conv and of every two-input Add/Concat
  that is not already quantized (looking back through Reshape, Flatten,
  Identity, Transpose, Pad and MaxPool, which commute with quantization; the
  Quant goes after the last op that does not) -- the graph input of a float
  model, a float activation between layers, a BatchNorm output feeding a
  layer;
* the constant weights (input 1) of every MatMul/Gemm/Conv that are not the
  output of a quantizer.

Biases and the float ops between an accumulator and the next quantizer stay
as they are: the lowering turns them into exact thresholds.

Each format has ``bits`` total bits; its fraction bits ``f`` are the most that
still cover the tensor's range (``fixed<W,I>`` with ``I = W - f`` integer bits,
sign included, as ``ap_fixed``).  The range is, by ``range_mode``:

``proven``
    interval analysis over the model from its input format (every value the
    input quantizer can produce) through the layers, inserted quantizers
    included; nothing downstream can saturate.  A float model's input format
    is chosen from the calibration data's range (saturating outside it).
``calibrated``
    the observed min/max over calibration inputs (execute_onnx on the float
    model); values outside saturate (the Quant clips).

Weights always use their own min/max.  Inserted quantizers carry the doc string
``gatesmith fixed point K``.  The result is a plain QONNX model that
the rest of the flow lowers bit-exactly; its error against the original
model is measured on the calibration inputs.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace

import numpy as np
from onnx import helper, numpy_helper

from gatesmith.ir import IntType

from .errors import FrontendError, node_error

__all__ = ["RANGE_MODES", "DEFAULT_BITS", "FixedFormat", "FixedTensor", "FixedPointResult", "choose_format",
           "make_fixed_point"]

#: how a format's range is found (``--fixed-range``)
RANGE_MODES = ("proven", "calibrated")
#: default total bits (``--fixed-bits``): an 8-bit activation times 8-bit weights accumulates exactly in the
#: quantized model's float32 arithmetic for layers of up to 256 inputs, and an 8-bit requantizer needs at
#: most 255 thresholds, so the default always lowers exactly; wider formats may need ``--requant dyadic``
DEFAULT_BITS = 8
_QUANT_OPS = ("Quant", "IntQuant", "BipolarQuant")
_LINEAR_OPS = ("MatMul", "Gemm", "Conv")
_MERGE_OPS = ("Add", "Concat")
#: ops that commute with a Quant of zero point 0 (quantizing before or after gives the same values)
_TRANSPARENT = ("Reshape", "Flatten", "Identity", "Transpose", "Pad", "MaxPool")
#: elementwise ops with constant operands, monotone in the data per element (interval ends map to ends)
_ELEMENTWISE = ("Relu", "Clip", "Add", "Sub", "Mul", "Div", "BatchNormalization", "Sigmoid", "Tanh",
                "Quant", "IntQuant", "BipolarQuant")
#: shape / window ops non-decreasing in every input element
_MONOTONE = ("Reshape", "Flatten", "Identity", "Transpose", "Pad", "MaxPool", "AveragePool",
             "GlobalAveragePool", "Concat", "Squeeze", "Unsqueeze")
_MARK = "gatesmith fixed point "  # doc_string of an inserted Quant (cleanup renames nodes)
_F_LIMIT = 64  # fraction bits stay within [-64, 64] (scales 2^-64 .. 2^64, exact in float32)


@dataclass(frozen=True, kw_only=True)
class FixedFormat:
    """``bits``-bit two's complement (or unsigned) integer times ``2^-frac``."""

    bits: int
    frac: int
    signed: bool

    @property
    def int_bits(self) -> int:
        return self.bits - self.frac

    @property
    def int_type(self) -> IntType:
        """The integers it carries."""
        return IntType(bits=self.bits, signed=self.signed)

    @property
    def qmin(self) -> int:
        return int(self.int_type.min)

    @property
    def qmax(self) -> int:
        return int(self.int_type.max)

    @property
    def scale(self) -> float:
        return math.ldexp(1.0, -self.frac)

    @property
    def lo(self) -> float:
        return self.qmin * self.scale

    @property
    def hi(self) -> float:
        return self.qmax * self.scale

    def covers(self, lo: float, hi: float) -> bool:
        return self.lo <= lo and hi <= self.hi

    def __str__(self) -> str:
        return f"{'' if self.signed else 'u'}fixed<{self.bits},{self.int_bits}>"


def choose_format(lo: float, hi: float, bits: int) -> FixedFormat:
    """The ``bits``-bit format with the most fraction bits that covers ``[lo, hi]`` (unsigned when
    ``lo >= 0``); fraction bits are limited to [-64, 64] (an all-zero range gets ``bits - 1``)."""
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ValueError(f"expected a finite range lo <= hi, got [{lo!r}, {hi!r}]")
    signed = lo < 0
    fmt = FixedFormat(bits=bits, frac=0, signed=signed)
    if lo == 0.0 and hi == 0.0:
        return FixedFormat(bits=bits, frac=bits - 1, signed=False)
    need = max(hi / fmt.qmax if hi > 0 else 0.0, lo / fmt.qmin if lo < 0 else 0.0)  # the smallest scale
    f = _F_LIMIT if need <= 0 else int(math.floor(-math.log2(need)))  # (need underflows for subnormal ends)
    f = max(-_F_LIMIT, min(_F_LIMIT, f))
    while f > -_F_LIMIT and not FixedFormat(bits=bits, frac=f, signed=signed).covers(lo, hi):
        f -= 1
    while f < _F_LIMIT and FixedFormat(bits=bits, frac=f + 1, signed=signed).covers(lo, hi):
        f += 1
    out = FixedFormat(bits=bits, frac=f, signed=signed)
    if not out.covers(lo, hi):
        raise ValueError(f"no {bits}-bit format with 2^-64 <= scale <= 2^64 covers [{lo!r}, {hi!r}]")
    return out


@dataclass(frozen=True, kw_only=True)
class FixedTensor:
    """One inserted quantizer: which tensor, why, its range and format."""

    quant: str  # the inserted Quant node's name
    tensor: str  # the ONNX tensor it quantizes
    role: str  # "input" | "activation" | "weights"
    consumer: str  # the ONNX node that needed it quantized
    lo: float
    hi: float
    source: str  # "proven" | "calibrated" | "values" (weights) | "calibration input"
    fmt: FixedFormat

    def as_json(self) -> dict:
        return {"quant": self.quant, "tensor": self.tensor, "role": self.role, "consumer": self.consumer,
                "range": [self.lo, self.hi], "range_source": self.source, "format": str(self.fmt),
                "bits": self.fmt.bits, "frac_bits": self.fmt.frac, "signed": self.fmt.signed}


@dataclass(frozen=True, kw_only=True)
class FixedPointResult:
    model: object  # qonnx ModelWrapper: the quantized model
    tensors: tuple[FixedTensor, ...]
    range_mode: str
    bits: int
    error: dict | None  # against the original model on the calibration inputs

    def layers(self, graph) -> list[dict]:
        """:meth:`FixedTensor.as_json` of every format plus ``layer``: the IR node it belongs to
        (the matrix-vector unit of weights, the requantizer of an activation; ``host_in`` for the
        input quantizer)."""
        out = []
        for t in self.tensors:
            layer = "host_in" if t.role == "input" else next(
                (n.name for n in graph.nodes if t.quant in n.origin.split(",")), "")
            out.append({"layer": layer, **t.as_json()})
        return out

    def as_json(self) -> dict:
        return {"range": self.range_mode, "bits": self.bits, "tensors": [t.as_json() for t in self.tensors],
                **({"error_vs_float": self.error} if self.error is not None else {})}


# --------------------------------------------------------------------------------------------- running


def _run(model, x: np.ndarray, names=()) -> dict[str, np.ndarray]:
    """The graph output and tensors ``names`` of ``model`` over the batch ``x`` (execute_onnx)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    mw = ModelWrapper(copy.deepcopy(model.model))
    if len(x) != 1:
        mw = mw.transform(ChangeBatchSize(len(x))).transform(InferShapes())
    iname, oname = mw.graph.input[0].name, mw.graph.output[0].name
    ctx = execute_onnx(mw, {iname: np.ascontiguousarray(x, np.float32)}, return_full_exec_context=bool(names))
    return {k: np.asarray(ctx[k]) for k in (oname, *names) if k in ctx}


# ------------------------------------------------------------------------------------------- the graph


class _Graph:
    def __init__(self, model):
        self.model = model
        self.g = model.graph
        self.inits = {i.name: numpy_helper.to_array(i) for i in self.g.initializer}
        self.producer = {o: n for n in self.g.node for o in n.output}

    def is_const(self, name: str) -> bool:
        if name in self.inits:
            return True
        n = self.producer.get(name)
        return n is not None and all(self.is_const(i) for i in n.input if i)

    def quantized(self, name: str) -> tuple[bool, str]:
        """(is ``name`` already a quantizer's output, seen through transparent ops; the tensor a
        new quantizer would go on)."""
        t = name
        while True:
            n = self.producer.get(t)
            if n is None:
                return False, t
            if n.op_type in _QUANT_OPS:
                return True, t
            data = [i for i in n.input if i and not self.is_const(i)]
            if n.op_type not in _TRANSPARENT or len(data) != 1:
                return False, t
            t = data[0]


def _targets(model):
    """[(tensor, role, consumer node)] of the tensors that need a quantizer, graph order."""
    gr = _Graph(model)
    out, seen = [], set()
    gin = model.graph.input[0].name
    for n in model.graph.node:
        weights = []
        if n.op_type in _LINEAR_OPS:
            data = [n.input[0]]
            w = n.input[1] if len(n.input) > 1 else ""
            if w in gr.inits and w not in seen:
                seen.add(w)
                weights.append((w, "weights", n))
        elif n.op_type in _MERGE_OPS and sum(1 for i in n.input if i and not gr.is_const(i)) > 1:
            data = [i for i in n.input if i]
        else:
            continue
        for d in data:
            if gr.is_const(d):
                continue
            ok, t = gr.quantized(d)
            if not ok and t not in seen:
                seen.add(t)
                out.append((t, "input" if t == gin else "activation", n))
        out.extend(weights)
    return out


def _const_init(model, name: str, value) -> None:
    model.set_initializer(name, np.asarray(value, dtype=np.float32))


def _insert_quants(model, targets):
    """Insert a placeholder Quant for every target; returns the new model and the Quant names."""
    from qonnx.core.modelwrapper import ModelWrapper

    mw = ModelWrapper(copy.deepcopy(model.model))
    g = mw.graph
    names = []
    used = {n.name for n in g.node} | {t for n in g.node for t in (*n.input, *n.output)}
    used |= {i.name for i in g.initializer} | {i.name for i in g.input}

    def fresh(base: str) -> str:
        k = 0
        while f"{base}{k}" in used:
            k += 1
        used.add(f"{base}{k}")
        return f"{base}{k}"

    for k, (t, role, _) in enumerate(targets):
        qname = fresh(f"gs_fixed{k}_")
        qout = fresh(f"gs_fixed{k}_out")
        sc, zp, bw = fresh(f"gs_fixed{k}_scale"), fresh(f"gs_fixed{k}_zeropt"), fresh(f"gs_fixed{k}_bits")
        for n in g.node:
            for j, i in enumerate(n.input):
                if i == t:
                    n.input[j] = qout
        node = helper.make_node("Quant", [t, sc, zp, bw], [qout], name=qname, domain="qonnx.custom_op.general",
                                signed=1, narrow=0, rounding_mode="ROUND")
        _const_init(mw, sc, 1.0)
        _const_init(mw, zp, 0.0)
        _const_init(mw, bw, 8.0)
        # insert right after the producer of t (or first): keeps the node list topologically sorted
        pos = 0
        for j, n in enumerate(g.node):
            if t in n.output:
                pos = j + 1
        node.doc_string = f"{_MARK}{k}"
        g.node.insert(pos, node)
        names.append(qname)
    from qonnx.transformation.infer_shapes import InferShapes

    return mw.transform(InferShapes()), names  # (shapes of the new tensors, for running single nodes)


def _set_format(model, node, fmt: FixedFormat) -> None:
    _const_init(model, node.input[1], fmt.scale)
    _const_init(model, node.input[3], float(fmt.bits))
    for a in node.attribute:
        if a.name == "signed":
            a.i = int(fmt.signed)


# --------------------------------------------------------------------------------- interval analysis


def _exec_node(model, node, inputs: dict) -> np.ndarray:
    from qonnx.core.onnx_exec import execute_node

    ctx = dict(inputs)
    for o in node.output:
        shape = model.get_tensor_shape(o) if o else None
        ctx[o] = np.zeros(shape, np.float32) if shape is not None else None
    opset = next((i.version for i in model.model.opset_import if i.domain in ("", "ai.onnx")), 13)
    execute_node(node, ctx, model.graph, opset)
    return np.asarray(ctx[node.output[0]], dtype=np.float64)


class _Intervals:
    """Per-element [lo, hi] of every tensor, propagated in graph order."""

    def __init__(self, model):
        self.model = model
        self.consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.lo: dict[str, np.ndarray] = {}
        self.hi: dict[str, np.ndarray] = {}
        self.why: dict[str, str] = {}  # tensors without a bound: why

    def const(self, name: str):
        return self.consts.get(name)

    def get(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name in self.why:
            raise FrontendError(f"--fixed-range proven: {self.why[name]} (needed for the format of {name!r}); "
                                "use --fixed-range calibrated")
        return self.lo[name], self.hi[name]

    def set(self, name: str, lo, hi) -> None:
        self.lo[name], self.hi[name] = np.minimum(lo, hi), np.maximum(lo, hi)

    def step(self, node) -> None:
        data = [i for i in node.input if i and i not in self.consts]
        if not data:  # a constant (weights through their quantizer)
            ins = {i: self.consts[i] for i in node.input if i}
            self.consts[node.output[0]] = _exec_node(self.model, node, ins).astype(np.float32)
            return
        bad = [i for i in data if i in self.why]
        if bad and node.op_type in _QUANT_OPS and bad == [node.input[0]]:  # a quantizer bounds any input
            shape = self.model.get_tensor_shape(node.input[0])
            self.set(node.input[0], np.full(shape, -1e30), np.full(shape, 1e30))
            del self.why[node.input[0]]
            bad = []
        if bad:
            for o in node.output:
                self.why[o] = self.why[bad[0]]
            return
        missing = [i for i in data if i not in self.lo]
        if missing:
            raise node_error(node, f"input {missing[0]!r} has no range (expected a graph in topological order)")
        op = node.op_type
        try:
            if op in _LINEAR_OPS and len(data) == 1 and node.input[0] == data[0]:
                self._linear(node)
            elif op in _ELEMENTWISE and len(data) == 1:
                ends = [self._eval(node, {data[0]: self.lo[data[0]]}), self._eval(node, {data[0]: self.hi[data[0]]})]
                if op == "Div" and node.input[0] != data[0]:
                    lo, hi = self.lo[data[0]], self.hi[data[0]]
                    if np.any((lo <= 0) & (hi >= 0)):
                        raise _NoBound(f"ONNX node {node.name!r} (Div) divides by a range containing 0")
                self.set(node.output[0], *ends)
            elif op in _MONOTONE or (op == "Add" and len(data) == 2):
                lo = self._eval(node, {d: self.lo[d] for d in data})
                hi = self._eval(node, {d: self.hi[d] for d in data})
                self.set(node.output[0], lo, hi)
            else:
                raise _NoBound(f"ONNX node {node.name!r} ({op}): no interval rule for this op")
        except _NoBound as e:
            for o in node.output:
                self.why[o] = str(e)

    def _eval(self, node, data: dict) -> np.ndarray:
        ins = {i: self.consts[i] for i in node.input if i in self.consts}
        ins.update({k: np.asarray(v, np.float32) for k, v in data.items()})
        return _exec_node(self.model, node, ins)

    def _linear(self, node) -> None:
        x = node.input[0]
        lo, hi = self.lo[x], self.hi[x]
        w = self.const(node.input[1])
        if w is None:
            raise _NoBound(f"ONNX node {node.name!r} ({node.op_type}): its weights are not constant")
        b = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        w = np.asarray(w, np.float64)
        wp, wn = np.maximum(w, 0), np.minimum(w, 0)
        if node.op_type == "Conv":
            def f(v, ww):
                ins = {node.input[0]: np.asarray(v, np.float32), node.input[1]: ww.astype(np.float32)}
                if b is not None:
                    ins[node.input[2]] = np.zeros_like(b, dtype=np.float32)
                return _exec_node(self.model, node, ins)

            ylo, yhi = f(lo, wp) + f(hi, wn), f(hi, wp) + f(lo, wn)
            pad = 1e-6 * (np.abs(ylo) + np.abs(yhi)) + 1e-30  # float32 convolution sums: widen a little
            ylo, yhi = ylo - pad, yhi + pad
            if b is not None:
                bb = np.asarray(b, np.float64).reshape((1, -1) + (1,) * (ylo.ndim - 2))
                ylo, yhi = ylo + bb, yhi + bb
        else:
            alpha = beta = 1.0
            if node.op_type == "Gemm":
                from onnx.helper import get_attribute_value

                at = {a.name: get_attribute_value(a) for a in node.attribute}
                if at.get("transA", 0):
                    raise _NoBound(f"ONNX node {node.name!r} (Gemm): transA=1 has no interval rule")
                if at.get("transB", 0):
                    wp, wn = wp.T, wn.T
                alpha, beta = float(at.get("alpha", 1.0)), float(at.get("beta", 1.0))
                if alpha < 0:
                    wp, wn = wn, wp
            ylo = alpha * (lo @ wp + hi @ wn)
            yhi = alpha * (hi @ wp + lo @ wn)
            if b is not None:
                ylo, yhi = ylo + beta * b, yhi + beta * b
        self.set(node.output[0], ylo, yhi)


class _NoBound(Exception):
    pass


# ------------------------------------------------------------------------------------------ the step


def make_fixed_point(model, *, bits: int = DEFAULT_BITS, range_mode: str = "proven",
                     calibration: np.ndarray | None = None,
                     tensor_bits: dict[tuple[str, str], int] | None = None) -> FixedPointResult:
    """``model`` (a cleaned qonnx ModelWrapper, as ``load_model`` returns) with a fixed-point
    ``Quant`` on every tensor that needs one; see the module docstring. ``tensor_bits`` gives
    some of them other widths than ``bits``: (tensor, consumer ONNX node) -> bits, the keys of
    :class:`FixedTensor` (per-layer ``fixed_bits`` in gatesmith.toml)."""
    from qonnx.util.cleanup import cleanup_model

    if range_mode not in RANGE_MODES:
        raise FrontendError(f"--fixed-range {range_mode!r}: expected one of {', '.join(RANGE_MODES)}")
    targets = _targets(model)
    gin = model.graph.input[0].name
    if calibration is None and (range_mode == "calibrated" or any(r == "input" for _, r, _ in targets)):
        why = ("--fixed-range calibrated" if range_mode == "calibrated"
               else f"the model's input {gin!r} is not quantized, so its format")
        raise FrontendError(f"{why} needs calibration inputs: give --calibration X.npy "
                            "(float inputs shaped like the ONNX input, batch axis first)")
    observed = {}
    if calibration is not None:
        names = [t for t, r, _ in targets if r == "activation"]
        ctx = _run(model, calibration, names)
        observed = {t: (float(np.min(ctx[t])), float(np.max(ctx[t]))) for t in names}
        observed[gin] = (float(np.min(calibration)), float(np.max(calibration)))
    fixed, qnames = _insert_quants(model, targets)
    byname = {n.name: n for n in fixed.graph.node}
    records: dict[str, FixedTensor] = {}

    def record(k, lo, hi, src):
        t, role, consumer = targets[k]
        try:
            fmt = choose_format(lo, hi, (tensor_bits or {}).get((t, consumer.name), bits))
        except ValueError as e:
            raise node_error(consumer, f"tensor {t!r}: {e}") from None
        _set_format(fixed, byname[qnames[k]], fmt)
        records[qnames[k]] = FixedTensor(quant=qnames[k], tensor=t, role=role, consumer=consumer.name,
                                         lo=float(lo), hi=float(hi), source=src, fmt=fmt)

    for k, (t, role, _) in enumerate(targets):
        if role == "weights":
            w = fixed.get_initializer(t)
            record(k, float(np.min(w)), float(np.max(w)), "values")
        elif role == "input" or range_mode == "calibrated":
            record(k, *observed[t], "calibration input" if role == "input" else "calibrated")
    if range_mode == "proven":
        iv = _Intervals(fixed)
        shape = tuple(fixed.get_tensor_shape(gin))
        first = next((r for r in records.values() if r.role == "input"), None)
        if first is not None:  # every value the input format can produce
            iv.set(gin, np.full(shape, first.fmt.lo), np.full(shape, first.fmt.hi))
        else:  # the model's own input quantizer bounds it
            iv.set(gin, np.full(shape, -1e30), np.full(shape, 1e30))
        index = {q: k for k, q in enumerate(qnames)}
        for n in fixed.graph.node:
            if n.name in index and n.name not in records:
                lo, hi = iv.get(n.input[0])
                record(index[n.name], float(np.min(lo)), float(np.max(hi)), "proven")
                iv.consts.update({i: fixed.get_initializer(i) for i in n.input[1:]})
            iv.step(n)
    fixed = cleanup_model(fixed)
    final = {int(n.doc_string[len(_MARK):]): n.name for n in fixed.graph.node if n.doc_string.startswith(_MARK)}
    records = {final[k]: replace(records[q], quant=final[k]) for k, q in enumerate(qnames)}
    qnames = [final[k] for k in range(len(qnames))]
    error = None
    if calibration is not None:
        a = _run(model, calibration)[model.graph.output[0].name].astype(np.float64)
        b = _run(fixed, calibration)[fixed.graph.output[0].name].astype(np.float64)
        err = np.abs(a - b)
        error = {"inputs": int(len(calibration)), "max_abs": float(err.max()), "mean_abs": float(err.mean()),
                 "max_abs_float_output": float(np.abs(a).max())}
        if a.ndim == 2 and a.shape[1] > 1:
            error["argmax_agreement"] = float(np.mean(np.argmax(a, 1) == np.argmax(b, 1)))
    ordered = tuple(records[q] for q in qnames)
    return FixedPointResult(model=fixed, tensors=ordered, range_mode=range_mode, bits=bits, error=error)
