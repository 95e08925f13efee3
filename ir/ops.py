"""Op kinds of the integer dataflow IR.

Every op kind is a frozen dataclass that defines, in one place:
  * ``out_shape`` / ``out_type``: shape and type inference,
  * ``evaluate``: its integer semantics on a batch (used by the reference),
  * ``fold_dims``: the dimensions its folding parameters must divide.
Shapes exclude the batch axis; for the dense networks here a tensor is a
vector ``(C,)``.  Cost models, templates and the reference dispatch on the
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
        if tuple(in_shape) != (self.mw,):
            raise ValueError(f"matvec expects an input of shape ({self.mw},), got {in_shape!r}")
        return (self.mh,)

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
        if tuple(in_shape) != (self.channels,):
            raise ValueError(f"threshold expects shape ({self.channels},), got {in_shape!r}")
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
        if tuple(in_shape) != (self.channels,):
            raise ValueError(f"requant expects shape ({self.channels},), got {in_shape!r}")
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


Op = Union[MatVec, MultiThreshold, Requant, Requantize]

#: Every op kind by name; dispatch tables elsewhere key on these names.
OP_KINDS: dict[str, type] = {
    "matvec": MatVec,
    "threshold": MultiThreshold,
    "requant": Requant,
    "requantize": Requantize,
}
