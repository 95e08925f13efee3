"""Op kinds of the integer dataflow IR.

Every op kind is a frozen dataclass that defines, in one place:
  * ``out_shape`` / ``out_type``: shape and type inference,
  * ``evaluate``: its integer semantics on a batch (used by the reference),
  * ``fold_dims``: the dimensions its folding parameters must divide.
Shapes exclude the batch axis: a vector is ``(C,)``, a feature map is
channels-last ``(H, W, C)`` (1-D signals are ``(1, L, C)``), streamed pixel
by pixel in raster order.  Per-element ops (matvec, thresholds, requant) act
on the last axis and map over the leading ones.  Cost models, templates and the reference dispatch on the
op kind through explicit tables elsewhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Union

import numpy as np

from .types import BipolarType, DType, IntType

__all__ = [
    "Rounding",
    "MatVec",
    "MultiThreshold",
    "Requant",
    "Requantize",
    "Linear",
    "SlidingWindow",
    "DepthwiseMatVec",
    "Add",
    "Concat",
    "PoolMode",
    "WindowReduce",
    "Reshape",
    "LabelSelect",
    "Op",
    "OP_KINDS",
    "round_shift",
    "frozen_array",
]


def frozen_array(a, dtype=np.int64) -> np.ndarray:
    """A read-only copy of ``a`` (object dtype kept for >63-bit integers)."""
    arr = np.array(a, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


class Rounding(enum.Enum):
    """QONNX rounding modes; the value is the RTL encoding (gs_requant ROUNDING)."""

    ROUND = 0  # half to even (np.round)
    CEIL = 1
    FLOOR = 2
    UP = 3  # away from zero
    DOWN = 4  # toward zero (np.fix)
    HALF_UP = 5  # ties away from zero
    HALF_DOWN = 6  # ties toward zero

    @classmethod
    def from_onnx(cls, text: str) -> "Rounding":
        t = text.upper()
        if t == "HALF_EVEN":
            t = "ROUND"
        try:
            return cls[t]
        except KeyError:
            raise ValueError(
                f"expected a rounding mode among {[m.name for m in cls]}, got {text!r}"
            ) from None


def round_shift(t, shift: int, mode: Rounding):
    """round_mode(t / 2**shift) for integer arrays, exactly (object ints)."""
    t = np.asarray(t, dtype=object)
    if shift == 0:
        return t
    if shift < 62 and t.size and _absmax(t) < (1 << 62):
        return _round_shift_int64(t.astype(np.int64), shift, mode).astype(object)
    d = 1 << shift
    half = 1 << (shift - 1)

    def one(v: int) -> int:
        q, r = divmod(int(v), d)  # floor division, 0 <= r < d
        if r == 0:
            return q
        neg = v < 0
        if mode is Rounding.FLOOR:
            return q
        if mode is Rounding.CEIL:
            return q + 1
        if mode is Rounding.UP:
            return q if neg else q + 1
        if mode is Rounding.DOWN:
            return q + 1 if neg else q
        if r > half:
            return q + 1
        if r < half:
            return q
        # exact tie
        if mode is Rounding.ROUND:
            return q + (q & 1)
        if mode is Rounding.HALF_UP:
            return q if neg else q + 1
        if mode is Rounding.HALF_DOWN:
            return q + 1 if neg else q
        raise AssertionError(mode)

    return np.vectorize(one, otypes=[object])(t)


def _round_shift_int64(t: np.ndarray, shift: int, mode: Rounding) -> np.ndarray:
    """round_shift for int64 values (|t| < 2**62): the same rules, vectorised."""
    d = np.int64(1 << shift)
    half = np.int64(1 << (shift - 1))
    q = t >> np.int64(shift)  # floor division
    r = t - q * d
    neg = t < 0
    exact = r == 0
    if mode is Rounding.FLOOR:
        up = np.zeros_like(exact)
    elif mode is Rounding.CEIL:
        up = ~exact
    elif mode is Rounding.UP:
        up = ~exact & ~neg
    elif mode is Rounding.DOWN:
        up = ~exact & neg
    else:
        tie = r == half
        if mode is Rounding.ROUND:
            tie_up = (q & 1) == 1
        elif mode is Rounding.HALF_UP:
            tie_up = ~neg
        elif mode is Rounding.HALF_DOWN:
            tie_up = neg
        else:  # pragma: no cover - enum is closed
            raise AssertionError(mode)
        up = (r > half) | (tie & tie_up)
    return q + up.astype(np.int64)


def _absmax(a: np.ndarray) -> int:
    return max((abs(int(v)) for v in (a.min(), a.max())), default=0) if np.size(a) else 0


def _check_channels(kind: str, in_shape, channels: int) -> None:
    if not in_shape or in_shape[-1] != channels:
        raise ValueError(f"{kind} expects shape (..., {channels}), got {tuple(in_shape)!r}")


def _as_int(a: np.ndarray, bits: int) -> np.ndarray:
    return a.astype(np.int64) if bits <= 62 else a.astype(object)


@dataclass(frozen=True, kw_only=True, eq=False)
class MatVec:
    """out[j] = sum_i W[j, i] * x[i], exact, in the accumulator type ``acc``."""

    weights: np.ndarray  # (MH, MW) integers, values of wtype
    wtype: DType
    acc: IntType

    kind = "matvec"

    @property
    def mh(self) -> int:
        return int(self.weights.shape[0])

    @property
    def mw(self) -> int:
        return int(self.weights.shape[1])

    def out_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if not in_shape or in_shape[-1] != self.mw:
            raise ValueError(f"matvec expects an input of shape (..., {self.mw}), got {in_shape!r}")
        return tuple(in_shape[:-1]) + (self.mh,)

    def out_type(self, in_type: DType) -> DType:
        return self.acc

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        w = self.weights
        if self.acc.bits <= 62:
            return np.asarray(x, dtype=np.int64) @ np.asarray(w, dtype=np.int64).T
        return np.asarray(x, dtype=object) @ np.asarray(w, dtype=object).T

    def fold_dims(self) -> dict[str, int]:
        return {"pe": self.mh, "simd": self.mw}

    def macs(self) -> int:
        return self.mh * self.mw


@dataclass(frozen=True, kw_only=True, eq=False)
class MultiThreshold:
    """out[c] = base + #{k : x[c] >= thresholds[c, k]} (thresholds ascending)."""

    thresholds: np.ndarray  # (C, N)
    base: int
    out: DType

    kind = "threshold"

    @property
    def channels(self) -> int:
        return int(self.thresholds.shape[0])

    def out_shape(self, in_shape):
        _check_channels("threshold", in_shape, self.channels)
        return tuple(in_shape)

    def out_type(self, in_type):
        return self.out

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        t = self.thresholds
        counts = (x[..., :, None] >= t[None, :, :]).sum(axis=-1)
        v = counts.astype(np.int64) + self.base
        if isinstance(self.out, BipolarType):
            return np.where(v > 0, 1, -1).astype(np.int64)
        return v

    def fold_dims(self):
        return {"pe": self.channels}


@dataclass(frozen=True, kw_only=True, eq=False)
class Requant:
    """Dyadic / shift requantizer: clamp(round_mode((x*M[c] + B[c]) / 2**shift), lo, hi).

    With ``use_mult`` False every M is 1 and no multiplier is built (shift style).
    """

    mult: np.ndarray  # (C,)
    bias: np.ndarray  # (C,)
    shift: int
    rounding: Rounding
    lo: int
    hi: int
    out: DType
    use_mult: bool = True
    #: thresholds (of the exact specification) this realisation moves; 0 = bit-exact
    mismatches: int = 0

    kind = "requant"

    @property
    def channels(self) -> int:
        return int(self.bias.shape[0])

    def out_shape(self, in_shape):
        _check_channels("requant", in_shape, self.channels)
        return tuple(in_shape)

    def out_type(self, in_type):
        return self.out

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        xo = np.asarray(x, dtype=object)
        m = np.asarray(self.mult, dtype=object) if self.use_mult else np.ones(self.channels, dtype=object)
        b = np.asarray(self.bias, dtype=object)
        bound = _absmax(xo) * _absmax(m) + _absmax(b)
        if bound < (1 << 62) and self.shift < 62:  # exact in int64
            t = xo.astype(np.int64) * m.astype(np.int64) + b.astype(np.int64)
            q = _round_shift_int64(t, self.shift, self.rounding) if self.shift else t
        else:
            q = round_shift(xo * m + b, self.shift, self.rounding)
        q = np.minimum(np.maximum(q, self.lo), self.hi)
        return q.astype(np.int64)  # never bipolar: the verifier forbids it (a sign is a threshold)

    def fold_dims(self):
        return {"pe": self.channels}


@dataclass(frozen=True, kw_only=True, eq=False)
class Linear:
    """The real-valued map an accumulator goes through before rounding:
    q = clamp(round_mode(a[c] * acc + b[c]), lo, hi), with a, b as exact
    fractions of the float64 values the frontend derived (float32 model
    constants composed in float64).  Used to look for a shift/dyadic
    realisation; the thresholds stay the specification."""

    a: tuple[Fraction, ...]
    b: tuple[Fraction, ...]
    lo: int
    hi: int
    rounding: Rounding


@dataclass(frozen=True, kw_only=True, eq=False)
class Requantize:
    """Everything between an accumulator and the next quantizer, before the
    implementation style is chosen (pass ``select_requant``).

    ``thresholds`` (exact: derived from the model's own float32 arithmetic on
    every reachable accumulator value) is the specification:
    out = base + #{k : x >= thresholds[c, k]}.  ``linear`` (if the chain is
    affine + clip + round) allows a multiply/shift realisation.
    ``in_range`` is the reachable accumulator range per channel.
    """

    thresholds: np.ndarray  # (C, N)
    base: int
    out: DType
    in_lo: np.ndarray  # (C,)
    in_hi: np.ndarray  # (C,)
    linear: Linear | None = None

    kind = "requantize"

    @property
    def channels(self) -> int:
        return int(self.thresholds.shape[0])

    def as_threshold(self) -> MultiThreshold:
        return MultiThreshold(thresholds=self.thresholds, base=self.base, out=self.out)

    def out_shape(self, in_shape):
        return self.as_threshold().out_shape(in_shape)

    def out_type(self, in_type):
        return self.out

    def evaluate(self, x):
        return self.as_threshold().evaluate(x)

    def fold_dims(self):
        return {"pe": self.channels}


@dataclass(frozen=True, kw_only=True, eq=False)
class SlidingWindow:
    """im2col on a feature-map stream: ``(H, W, C)`` -> ``(OH, OW, KH*KW*C)``.

    Output pixel (oy, ox) holds, in (ky, kx, c) order, the input at row
    ``oy*SH - pad_top + ky`` and column ``ox*SW - pad_left + kx``, or
    ``pad_value`` where that lies outside the image.  ``OH = (H + pt + pb -
    KH) // SH + 1`` (floor: trailing rows no window covers are dropped).
    Dilation 1.  Folding: SIMD channels per beat.
    """

    ifm: tuple[int, int, int]  # (H, W, C)
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, left, bottom, right
    pad_value: int

    kind = "swg"

    @property
    def channels(self) -> int:
        return int(self.ifm[2])

    @property
    def ofm(self) -> tuple[int, int]:
        (h, w, _), (kh, kw), (sh, sw) = self.ifm, self.kernel, self.stride
        t, l, b, r = self.pads
        return ((h + t + b - kh) // sh + 1, (w + l + r - kw) // sw + 1)

    def out_shape(self, in_shape):
        if tuple(in_shape) != tuple(self.ifm):
            raise ValueError(f"swg expects an input of shape {tuple(self.ifm)!r}, got {tuple(in_shape)!r}")
        oh, ow = self.ofm
        if oh < 1 or ow < 1:
            raise ValueError(f"swg: kernel {self.kernel!r} does not fit the padded input {self.ifm!r}")
        return (oh, ow, self.kernel[0] * self.kernel[1] * self.channels)

    def out_type(self, in_type):
        return in_type

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        n = x.shape[0]
        t, l, b, r = self.pads
        xp = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=self.pad_value)
        (kh, kw), (sh, sw) = self.kernel, self.stride
        oh, ow = self.ofm
        cols = [
            xp[:, ky : ky + sh * (oh - 1) + 1 : sh, kx : kx + sw * (ow - 1) + 1 : sw, :]
            for ky in range(kh)
            for kx in range(kw)
        ]
        return np.stack(cols, axis=3).reshape(n, oh, ow, kh * kw * self.channels)

    def fold_dims(self):
        return {"simd": self.channels}


@dataclass(frozen=True, kw_only=True, eq=False)
class DepthwiseMatVec:
    """Depthwise convolution on windows: ``(..., P*C)`` (position-major, as a sliding
    window emits) -> ``(..., C)``, ``out[c] = sum_p W[c, p] * x[p*C + c]`` exactly in
    ``acc``.  Folding: PE channels per beat."""

    weights: np.ndarray  # (C, P)
    wtype: DType
    acc: IntType

    kind = "vvu"

    @property
    def channels(self) -> int:
        return int(self.weights.shape[0])

    @property
    def positions(self) -> int:
        return int(self.weights.shape[1])

    def out_shape(self, in_shape):
        if not in_shape or in_shape[-1] != self.positions * self.channels:
            raise ValueError(
                f"vvu expects shape (..., {self.positions}*{self.channels}), got {tuple(in_shape)!r}"
            )
        return tuple(in_shape[:-1]) + (self.channels,)

    def out_type(self, in_type):
        return self.acc

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        dt = np.int64 if self.acc.bits <= 62 else object
        v = x.reshape(x.shape[:-1] + (self.positions, self.channels)).astype(dt)
        return (v * np.asarray(self.weights, dtype=dt).T).sum(axis=-2)

    def fold_dims(self):
        return {"pe": self.channels}

    def macs(self) -> int:
        return self.channels * self.positions


@dataclass(frozen=True, kw_only=True, eq=False)
class Add:
    """Two streams on a common integer grid: ``out = mult_a * a + mult_b * b``, exact.
    (The residual add: each input's scale is ``mult * s`` for a common ``s``.)"""

    mult_a: int
    mult_b: int
    channels: int
    out: IntType

    kind = "add"
    arity = 2

    def out_shape(self, a, b=None):
        if b is None or tuple(a) != tuple(b):
            raise ValueError(f"add expects two inputs of one shape, got {tuple(a)!r} and {b!r}")
        _check_channels("add", a, self.channels)
        return tuple(a)

    def out_type(self, ta, tb=None):
        return self.out

    def evaluate(self, a, b):
        dt = np.int64 if self.out.bits <= 62 else object
        return np.asarray(a).astype(dt) * self.mult_a + np.asarray(b).astype(dt) * self.mult_b

    def fold_dims(self):
        return {"pe": self.channels}


@dataclass(frozen=True, kw_only=True, eq=False)
class Concat:
    """Channel concatenation of two feature-map streams of one type: ``(..., CA)``,
    ``(..., CB)`` -> ``(..., CA + CB)``."""

    channels_a: int
    channels_b: int

    kind = "concat"
    arity = 2

    def out_shape(self, a, b=None):
        if b is None or tuple(a[:-1]) != tuple(b[:-1]) or a[-1] != self.channels_a or b[-1] != self.channels_b:
            raise ValueError(
                f"concat expects (..., {self.channels_a}) and (..., {self.channels_b}) with equal leading axes, "
                f"got {tuple(a)!r} and {b!r}"
            )
        return tuple(a[:-1]) + (self.channels_a + self.channels_b,)

    def out_type(self, ta, tb=None):
        return ta

    def evaluate(self, a, b):
        return np.concatenate([np.asarray(a), np.asarray(b)], axis=-1)

    def fold_dims(self):
        import math

        return {"pe": math.gcd(self.channels_a, self.channels_b)}

    @property
    def pixel_pe(self) -> int:
        """The other valid PE besides the divisors of ``fold_dims()["pe"]``: CA + CB, a whole
        pixel a beat (each input then carries its whole part of the pixel a beat)."""
        return self.channels_a + self.channels_b

    def port_lanes(self, pe: int) -> tuple[int, int]:
        """Elements a beat on the two inputs at output PE ``pe``."""
        return (self.channels_a, self.channels_b) if pe == self.pixel_pe else (pe, pe)


class PoolMode(enum.Enum):
    MAX = "max"
    SUM = "sum"


@dataclass(frozen=True, kw_only=True, eq=False)
class WindowReduce:
    """Per channel, the max or the exact sum over ``positions`` positions:
    ``(..., P*C)`` (position-major, as a sliding window emits) -> ``(..., C)``.
    Folding: PE channels per beat."""

    mode: PoolMode
    positions: int
    channels: int
    out: DType

    kind = "pool"

    def out_shape(self, in_shape):
        if not in_shape or in_shape[-1] != self.positions * self.channels:
            raise ValueError(
                f"pool expects shape (..., {self.positions}*{self.channels}), got {tuple(in_shape)!r}"
            )
        return tuple(in_shape[:-1]) + (self.channels,)

    def out_type(self, in_type):
        return self.out

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        v = x.reshape(x.shape[:-1] + (self.positions, self.channels))
        if self.mode is PoolMode.MAX:
            return v.max(axis=-2)
        return v.astype(np.int64).sum(axis=-2) if self.out.bits <= 62 else v.astype(object).sum(axis=-2)

    def fold_dims(self):
        return {"pe": self.channels}


@dataclass(frozen=True, kw_only=True, eq=False)
class Reshape:
    """A new shape for the same stream (no hardware: the element order is unchanged)."""

    shape: tuple[int, ...]

    kind = "reshape"

    def out_shape(self, in_shape):
        if int(np.prod(in_shape)) != int(np.prod(self.shape)):
            raise ValueError(f"reshape of {tuple(in_shape)!r} to {tuple(self.shape)!r} changes the element count")
        return tuple(self.shape)

    def out_type(self, in_type):
        return in_type

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return x.reshape((x.shape[0],) + tuple(self.shape))

    def fold_dims(self):
        return {}


@dataclass(frozen=True, kw_only=True, eq=False)
class LabelSelect:
    """Indices of the ``k`` largest of ``(C,)``, largest first, ties to the lower
    index (ONNX TopK largest=1 sorted=1; ArgMax is k=1)."""

    k: int
    channels: int
    out: DType  # unsigned index type

    kind = "labelselect"

    def out_shape(self, in_shape):
        _check_channels("labelselect", in_shape, self.channels)
        if len(in_shape) != 1:
            raise ValueError(f"labelselect expects a vector, got shape {tuple(in_shape)!r}")
        return (self.k,)

    def out_type(self, in_type):
        return self.out

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.int64)
        return np.argsort(-x, axis=-1, kind="stable")[..., : self.k].astype(np.int64)

    def fold_dims(self):
        return {"pe": self.channels}


Op = Union[
    MatVec, MultiThreshold, Requant, Requantize, SlidingWindow, DepthwiseMatVec, WindowReduce, Reshape, LabelSelect,
    Add, Concat,
]

#: Every op kind by name; dispatch tables elsewhere key on these names.
OP_KINDS: dict[str, type] = {
    "matvec": MatVec,
    "threshold": MultiThreshold,
    "requant": Requant,
    "requantize": Requantize,
    "swg": SlidingWindow,
    "vvu": DepthwiseMatVec,
    "pool": WindowReduce,
    "reshape": Reshape,
    "labelselect": LabelSelect,
    "add": Add,
    "concat": Concat,
}
