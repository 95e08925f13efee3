"""Test helper: prove that a mismatch against ONNX execution is a float32 near-tie.

DESIGN.md "Numeric semantics": the model computes its matrix products in
float32, summing in an order of its own; gatesmith computes them exactly.
Where a value lands within that rounding error of a quantizer's rounding
boundary, the two may disagree, and the model's own answer is ill-defined
there.  A test may excuse such an element only after showing it:

for the first layer of a sample whose quantized output differs, every
differing channel must have (1) a float32 matrix product in the ONNX run that
differs from the correctly rounded exact product of the same float inputs,
and (2) the model's own chain, run on the exact product, must give
gatesmith's integer.  Then the difference is the model's float32 product
and nothing else; later layers inherit it.  A sample that agrees exactly
when the model runs it alone (batch 1) is excused too: the batched run's
product kernel rounded differently, so two runs of the model disagree.
Anything else is unexplained.

Like ``zoo.onnx_forward`` this is a test/benchmark helper that runs the ONNX
model itself; the compiler never uses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["NearTieReport", "explain_mismatches"]


@dataclass
class NearTieReport:
    samples: int = 0  # samples whose output differed
    excused_samples: int = 0
    excused_elements: int = 0
    unexplained: list = field(default_factory=list)  # (sample, layer, channel, reason)


def _int_of(q, quant_scale, bipolar: bool):
    if bipolar:
        return np.where(q >= 0, 1, -1)
    return np.rint(q.astype(np.float64) / quant_scale).astype(np.int64)


def _spec_value(ctx, nodes, mm, a, w, trans, bias):
    """float32(acc * s_x * s_w[c] (+ bias)) for the layer's operands, or None if the
    operands' scales cannot be read off the graph."""
    prod = {o: n for n in nodes.values() for o in n.output}
    src_a, src_w = prod.get(mm.input[0]), prod.get(mm.input[1])
    if src_a is None or src_w is None or src_a.op_type not in ("Quant", "IntQuant", "BipolarQuant") \
            or src_w.op_type not in ("Quant", "IntQuant", "BipolarQuant"):
        return None
    s_x = np.asarray(ctx[src_a.input[1]], np.float64)
    s_w = np.asarray(ctx[src_w.input[1]], np.float64)
    if s_x.size != 1:
        return None
    s_w = np.broadcast_to(s_w, np.shape(ctx[mm.input[1]]))
    s_w = s_w.T if trans else s_w  # (MW, MH) like w
    q_x = np.rint(a / float(s_x.reshape(-1)[0])).astype(np.int64)
    q_w = np.rint(w / s_w).astype(np.int64)
    acc = q_x @ q_w
    v = acc.astype(np.float64) * (float(s_x.reshape(-1)[0]) * s_w[0, :])
    v = v.astype(np.float32)
    if bias is not None:  # the chain adds a Gemm's bias in float32 after the product
        v = (v + bias.astype(np.float32)).astype(np.float32)
    return v


def explain_mismatches(onnx_path, graph, x: np.ndarray, y_ours: np.ndarray, y_onnx: np.ndarray) -> NearTieReport:
    from qonnx.core.onnx_exec import execute_onnx

    from gatesmith.frontend.load import load_model
    from gatesmith.ir.types import BipolarType
    from gatesmith.verify.reference import run_integer

    model = load_model(onnx_path)
    nodes = {n.name: n for n in model.graph.node}
    index = {n.name: k for k, n in enumerate(model.graph.node)}
    iname = model.graph.input[0].name
    in_shape = tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim)
    rep = NearTieReport()
    from gatesmith.flow import mismatch_mask

    diff = mismatch_mask(graph, y_ours, y_onnx)
    q_all = graph.input_quant.quantize(x)
    ir_nodes = list(graph.nodes)
    for i in np.flatnonzero(diff.any(axis=1)):
        rep.samples += 1
        ctx = execute_onnx(model, {iname: x[i : i + 1].reshape(in_shape)}, return_full_exec_context=True)
        _, env = run_integer(graph, q_all[i : i + 1], keep=True)
        verdict = None
        for k, mv in enumerate(ir_nodes):
            if mv.kind != "matvec" or k + 1 >= len(ir_nodes):
                continue
            rq = ir_nodes[k + 1]
            mm = nodes[mv.origin.split(",")[0]]
            qn = nodes[rq.origin.split(",")[-1]]
            bipolar = isinstance(rq.op.out, BipolarType)
            scale = np.asarray(ctx[qn.input[1]], np.float64).reshape(-1)
            ours = np.asarray(env[rq.outputs[0]]).reshape(-1)
            theirs = _int_of(np.asarray(ctx[qn.output[0]]).reshape(-1), scale, bipolar)
            bad = np.flatnonzero(ours != theirs)
            if bad.size == 0:
                continue
            a = np.asarray(ctx[mm.input[0]], np.float64).reshape(-1)
            w = np.asarray(ctx[mm.input[1]], np.float64)
            trans = mm.op_type == "Gemm" and any(t.name == "transB" and t.i for t in mm.attribute)
            w = w.T if trans else w  # (MW, MH)
            bias = None
            if mm.op_type == "Gemm" and len(mm.input) > 2 and mm.input[2]:
                bias = np.broadcast_to(np.asarray(ctx[mm.input[2]], np.float64).reshape(-1), (w.shape[1],))
            exact = np.array(
                [math.fsum(list(a * w[:, c]) + ([bias[c]] if bias is not None else [])) for c in range(w.shape[1])],
                dtype=np.float64,
            ).astype(np.float32)
            got = np.asarray(ctx[mm.output[0]], np.float32).reshape(-1)
            first = model.graph.node[index[mm.name] + 1]
            base = {k2: v for k2, v in ctx.items() if v is not None}

            def replay(value):
                ctx2 = dict(base)
                ctx2[mm.output[0]] = value.reshape(np.shape(ctx[mm.output[0]]))
                out = execute_onnx(model, ctx2, return_full_exec_context=True, start_node=first, end_node=qn)
                return _int_of(np.asarray(out[qn.output[0]]).reshape(-1), scale, bipolar)

            # the value gatesmith's thresholds are defined on: float32(acc * s_x * s_w),
            # from the integers behind the model's dequantized operands
            spec = _spec_value(ctx, nodes, mm, a, w, trans, bias)
            verdict = None
            for what, value in (("spec", spec), ("exact", exact)):
                if value is None or any(got[c] == value[c] for c in bad):
                    continue
                if np.array_equal(replay(value)[bad], ours[bad]):
                    verdict = ("excused", k, None, what)
                    break
            if verdict is None:
                same = [int(c) for c in bad if got[c] == exact[c]]
                why = "the ONNX product equals the exact one" if same else "the model's chain on the exact product disagrees"
                verdict = ("unexplained", k, int(same[0] if same else bad[0]), why)
            break
        if verdict is None:
            # every layer agrees when the model runs this sample alone: the batched
            # run's float32 product (its kernel depends on the batch size) rounded
            # differently, so the model's own answer is ambiguous here
            single = np.asarray(ctx[model.graph.output[0].name]).reshape(1, -1)
            if not mismatch_mask(graph, y_ours[i : i + 1], single).any():
                verdict = ("excused", None, None, "batch-dependent")
        if verdict is not None and verdict[0] == "excused":
            rep.excused_samples += 1
            rep.excused_elements += int(diff[i].sum())
        else:
            rep.unexplained.append((int(i),) + (verdict[1:] if verdict else (None, None, "final layer differs")))
    return rep
