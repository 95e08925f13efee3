"""What the host does around the accelerator: quantize inputs, dequantize outputs.

The hardware carries integers only.  The host applies the model's input
preprocessing (scalar Mul/Div/Add/Sub/Pow chains such as Brevitas' ``x*2-1``)
and its first quantizer to turn float inputs into the integers of the input
stream, and maps the integers of the output stream back to the model's float
output: ``(q - z) * s`` after a final quantizer, or the float tail
(``acc * scale`` followed by bias/BatchNorm/TensorNorm ops) when the model
ends in float logits.  All float math here is float32, in the model's order,
as ONNX execution does it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from .ops import Rounding
from .types import BipolarType, DType

__all__ = ["round_float", "FloatOpKind", "FloatOp", "InputQuant", "OutputMap", "OutputKind", "apply_float_ops"]


def round_float(y: np.ndarray, mode: Rounding) -> np.ndarray:
    """The numpy rounding functions QONNX's Quant uses, by mode."""
    if mode is Rounding.ROUND:
        return np.round(y)
    if mode is Rounding.CEIL:
        return np.ceil(y)
    if mode is Rounding.FLOOR:
        return np.floor(y)
    if mode is Rounding.UP:
        return np.sign(y) * np.ceil(np.abs(y))
    if mode is Rounding.DOWN:
        return np.fix(y)
    if mode is Rounding.HALF_UP:
        return np.sign(y) * np.floor(np.abs(y) + 0.5)
    if mode is Rounding.HALF_DOWN:
        return np.sign(y) * np.ceil(np.abs(y) - 0.5)
    raise AssertionError(mode)


class FloatOpKind(enum.Enum):
    MUL = "Mul"
    DIV = "Div"
    ADD = "Add"
    SUB = "Sub"
    POW = "Pow"
    RELU = "Relu"
    CLIP = "Clip"
    BATCHNORM = "BatchNormalization"


@dataclass(frozen=True, kw_only=True, eq=False)
class FloatOp:
    """One elementwise float32 op with constant operands.

    ``consts`` are float32 arrays broadcastable against the data (per channel
    along the last axis); ``data_first`` is False for ``c - x`` and ``c / x``.
    BATCHNORM takes consts (scale, bias, mean, var) and ``eps``; CLIP takes
    (min, max).
    """

    kind: FloatOpKind
    consts: tuple[np.ndarray, ...] = ()
    data_first: bool = True
    eps: float = 0.0

    def apply(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        c = [np.asarray(k, dtype=np.float32) for k in self.consts]
        k = self.kind
        if k is FloatOpKind.RELU:
            return np.maximum(x, np.float32(0))
        if k is FloatOpKind.CLIP:
            return np.clip(x, c[0], c[1]).astype(np.float32)
        if k is FloatOpKind.BATCHNORM:
            scale, bias, mean, var = c
            inv = (np.float32(1) / np.sqrt(var + np.float32(self.eps))).astype(np.float32)
            s = (inv * scale).astype(np.float32)
            return (x * s + (bias - mean * s)).astype(np.float32)
        a, b = (x, c[0]) if self.data_first else (c[0], x)
        if k is FloatOpKind.MUL:
            r = a * b
        elif k is FloatOpKind.DIV:
            r = a / b
        elif k is FloatOpKind.ADD:
            r = a + b
        elif k is FloatOpKind.SUB:
            r = a - b
        elif k is FloatOpKind.POW:
            r = np.power(a, b)
        else:  # pragma: no cover - enum is closed
            raise AssertionError(k)
        return np.asarray(r, dtype=np.float32)


def apply_float_ops(ops: tuple[FloatOp, ...], x: np.ndarray) -> np.ndarray:
    for op in ops:
        x = op.apply(x)
    return np.asarray(x, dtype=np.float32)


@dataclass(frozen=True, kw_only=True, eq=False)
class InputQuant:
    """Float model input -> integers of the input stream.

    ``onnx_shape`` is the ONNX input shape without the batch axis; data is
    flattened to ``(N, prod(onnx_shape))`` (the flatten/reshape the model does
    before its first layer), then ``pre`` ops, then the quantizer
    ``clamp(round(x / scale + zero_point))`` exactly as QONNX's Quant computes it.
    The integers are then put in stream order: element ``j`` of the stream is
    ONNX element ``perm[j]`` (channels-last for feature maps; None: the same
    order) and shaped ``stream_shape`` (the IR input's shape; () keeps it flat).
    """

    onnx_shape: tuple[int, ...]
    pre: tuple[FloatOp, ...]
    scale: np.ndarray  # float32, scalar or per element
    zero_point: np.ndarray
    dtype: DType
    narrow: bool
    rounding: Rounding
    stream_shape: tuple[int, ...] = ()
    perm: np.ndarray | None = None

    def quantize(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        n = x.shape[0]
        x = x.reshape(n, -1)
        x = apply_float_ops(self.pre, x)
        y = x / np.asarray(self.scale, dtype=np.float32)
        y = y + np.asarray(self.zero_point, dtype=np.float32)
        if isinstance(self.dtype, BipolarType):
            return np.where(y >= 0, 1, -1).astype(np.int64)
        lo = self.dtype.min + (1 if (self.narrow and self.dtype.signed) else 0)
        hi = self.dtype.max - (1 if (self.narrow and not self.dtype.signed) else 0)
        # clamp, then round: the order QONNX's Quant uses (equivalent for integer bounds)
        y = np.where(y > hi, np.float32(hi), y)
        y = np.where(y < lo, np.float32(lo), y)
        y = round_float(y, self.rounding)
        q = (y - np.asarray(self.zero_point, dtype=np.float32)).astype(np.int64)
        return _to_stream(q, self.perm, self.stream_shape)


def _to_stream(q: np.ndarray, perm, shape) -> np.ndarray:
    n = q.shape[0]
    if perm is not None:
        q = q.reshape(n, -1)[:, np.asarray(perm)]
    return q.reshape((n, *shape)) if shape else q


class OutputKind(enum.Enum):
    QUANT = "quant"  # output = (q - z) * scale
    FLOAT = "float"  # output = post(acc * scale): float logits
    INDEX = "index"  # output = the integers themselves (TopK/ArgMax indices)


@dataclass(frozen=True, kw_only=True, eq=False)
class OutputMap:
    """Integers of the output stream -> the model's float output.

    Stream element ``j`` is ONNX output element ``perm[j]`` (None: the same
    order); a QUANT scale broadcasts against ``(N, *onnx_shape)``."""

    kind: OutputKind
    onnx_shape: tuple[int, ...]  # without batch axis
    scale: np.ndarray  # float32 (C,) or scalar; for FLOAT: float64 acc scale
    zero_point: np.ndarray
    post: tuple[FloatOp, ...] = ()
    perm: np.ndarray | None = None

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q)
        n = q.shape[0]
        q = q.reshape(n, -1)
        if self.perm is not None:
            z = np.empty_like(q)
            z[:, np.asarray(self.perm)] = q
            q = z
        if self.kind is OutputKind.INDEX:
            return q.reshape((n, *self.onnx_shape)).astype(np.int64)
        if self.kind is OutputKind.QUANT:
            q = q.reshape((n, *self.onnx_shape))
            y = (q.astype(np.float32) - np.asarray(self.zero_point, dtype=np.float32)) * np.asarray(
                self.scale, dtype=np.float32
            )
        else:
            y = (q.astype(np.float64) * np.asarray(self.scale, dtype=np.float64)).astype(np.float32)
            y = apply_float_ops(self.post, y)
        return np.asarray(y, dtype=np.float32).reshape((n, *self.onnx_shape))
