"""Loading and cleaning an ONNX file with qonnx (the library does the graph surgery)."""

from __future__ import annotations

from pathlib import Path

import onnx

from .errors import FrontendError

__all__ = ["load_model", "QCDQ_OPS"]

QCDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
_MIN_OPSET, _MAX_OPSET = 9, 23


def _broadcast_per_axis_dequant_scales(model) -> None:
    """Work around qonnx 1.0.0's QCDQToQuant on per-channel weights.

    For a standalone DequantizeLinear of a constant (weights), QCDQToQuant
    multiplies the integer tensor by the scale *before* it reshapes a
    per-axis scale for broadcasting, which fails (or broadcasts along the
    wrong axis) for per-output-channel weight scales.  Reshaping the 1-D
    scale and zero point to the broadcast shape first gives the intended
    result; QCDQToQuant's own reshape then keeps that shape.
    """
    from onnx import numpy_helper as nh

    inits = {i.name: i for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type != "DequantizeLinear" or n.input[0] not in inits or len(n.input) < 3:
            continue
        axis = next((a.i for a in n.attribute if a.name == "axis"), None)
        data = inits[n.input[0]]
        rank = len(data.dims)
        for name in n.input[1:3]:
            t = inits.get(name)
            if axis is None or t is None or len(t.dims) != 1 or t.dims[0] <= 1:
                continue
            shape = [1] * rank
            shape[axis % rank] = t.dims[0]
            model.set_initializer(name, nh.to_array(t).reshape(shape))


def load_model(path: str | Path):
    """Read, check and clean ``path``; QCDQ graphs are converted to QONNX ``Quant``.

    Returns a qonnx ``ModelWrapper`` with shapes inferred, constants folded
    (quantizers kept), nodes named and sorted.
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    p = Path(path)
    if not p.is_file():
        raise FrontendError(f"{str(p)!r}: no such ONNX file")
    try:
        proto = onnx.load(str(p))
    except Exception as e:  # onnx raises DecodeError, ValueError ... for garbage
        raise FrontendError(f"{str(p)!r}: not a readable ONNX model ({type(e).__name__})") from None
    if not proto.graph.node:
        raise FrontendError(f"{str(p)!r}: the ONNX graph has no nodes (is this an ONNX model?)")
    for imp in proto.opset_import:
        if imp.domain in ("", "ai.onnx") and not (_MIN_OPSET <= imp.version <= _MAX_OPSET):
            raise FrontendError(
                f"{str(p)!r}: ONNX opset {imp.version} is not supported "
                f"(expected {_MIN_OPSET} to {_MAX_OPSET})"
            )
    inits = {i.name for i in proto.graph.initializer}
    real_inputs = [i for i in proto.graph.input if i.name not in inits]
    if len(real_inputs) != 1:
        raise FrontendError(
            f"{str(p)!r}: expected exactly one graph input, found {len(real_inputs)} "
            f"({[i.name for i in real_inputs]!r})"
        )
    if len(proto.graph.output) != 1:
        raise FrontendError(
            f"{str(p)!r}: expected exactly one graph output, found {len(proto.graph.output)}"
        )
    defined = inits | {i.name for i in proto.graph.input} | {o for n in proto.graph.node for o in n.output}
    for n in proto.graph.node:
        missing = [i for i in n.input if i and i not in defined]
        if missing:
            raise FrontendError(
                f"ONNX node {n.name!r} ({n.op_type}): input {missing[0]!r} is not defined "
                "(expected an initializer, a graph input or another node's output)"
            )
    dims = real_inputs[0].type.tensor_type.shape.dim
    if not dims or any(not d.HasField("dim_value") or d.dim_value <= 0 for d in dims):
        shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
        raise FrontendError(
            f"{str(p)!r}: input {real_inputs[0].name!r} has shape {shape!r}; "
            "expected a static shape with positive sizes"
        )
    if dims[0].dim_value != 1:
        raise FrontendError(
            f"{str(p)!r}: input {real_inputs[0].name!r} has batch size {dims[0].dim_value}; "
            "expected 1 (export with a batch-1 example input)"
        )
    for n in proto.graph.node:
        if n.op_type in ("Quant", "IntQuant", "BipolarQuant", "Trunc") and n.domain in ("", "onnx.brevitas", "finn.custom_op.general"):
            n.domain = "qonnx.custom_op.general"
    try:
        model = ModelWrapper(proto)
        model = cleanup_model(model)
        if any(n.op_type in QCDQ_OPS for n in model.graph.node):
            from qonnx.transformation.qcdq_to_qonnx import QCDQToQuant

            _broadcast_per_axis_dequant_scales(model)
            model = model.transform(QCDQToQuant())
            model = cleanup_model(model)
            left = [n for n in model.graph.node if n.op_type in QCDQ_OPS]
            if left:
                n = left[0]
                raise FrontendError(
                    f"ONNX node {n.name!r} ({n.op_type}): this QCDQ pattern could not be "
                    "converted to a QONNX Quant (expected QuantizeLinear [Clip] DequantizeLinear "
                    "or a constant DequantizeLinear)"
                )
    except FrontendError:
        raise
    except Exception as e:
        raise FrontendError(
            f"{str(p)!r}: qonnx could not clean up the model: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}"
        ) from None
    return model
