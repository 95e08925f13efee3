"""Numeric types carried on every edge of the integer dataflow graph.

``IntType(bits=, signed=)`` is a two's-complement (signed) or plain binary
(unsigned) integer; ``BipolarType()`` is the 1-bit {-1, +1} type of binarised
networks (bit 1 means +1, bit 0 means -1).  Both know their value range and
how to pack values to the raw bit patterns that travel on hardware streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

__all__ = ["IntType", "BipolarType", "DType", "type_for_range", "parse_type"]


@dataclass(frozen=True, kw_only=True)
class IntType:
    bits: int
    signed: bool

    def __post_init__(self) -> None:
        if not isinstance(self.bits, int) or self.bits < 1:
            raise ValueError(f"IntType bits must be a positive integer, got {self.bits!r}")
        if self.signed and self.bits < 2:
            raise ValueError("a signed IntType needs at least 2 bits (use BipolarType for ±1)")

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def bipolar(self) -> bool:
        return False

    def contains(self, lo: int, hi: int) -> bool:
        return self.min <= lo and hi <= self.max

    def to_bits(self, values: np.ndarray) -> np.ndarray:
        """Integer values -> raw unsigned bit patterns (object ints, exact)."""
        a = np.asarray(values)
        if self.bits <= 62 and a.dtype.kind in "iu" and a.dtype.itemsize <= 8:  # fast path, same result
            return (a.astype(np.int64) & ((1 << self.bits) - 1)).astype(object)
        v = np.asarray(values, dtype=object)
        return np.vectorize(lambda x: int(x) & ((1 << self.bits) - 1), otypes=[object])(v)

    def from_bits(self, raw: np.ndarray) -> np.ndarray:
        """Raw unsigned bit patterns -> integer values (int64 or object)."""
        r = np.asarray(raw, dtype=object)
        b = self.bits
        if self.signed:
            f = lambda x: int(x) - (1 << b) if int(x) >> (b - 1) else int(x)  # noqa: E731
        else:
            f = lambda x: int(x)  # noqa: E731
        out = np.vectorize(f, otypes=[object])(r)
        return out.astype(np.int64) if b <= 63 else out

    def __str__(self) -> str:
        return f"{'s' if self.signed else 'u'}{self.bits}"


@dataclass(frozen=True, kw_only=True)
class BipolarType:
    """{-1, +1} in one bit: bit 1 is +1, bit 0 is -1."""

    @property
    def bits(self) -> int:
        return 1

    @property
    def signed(self) -> bool:
        return True

    @property
    def bipolar(self) -> bool:
        return True

    @property
    def min(self) -> int:
        return -1

    @property
    def max(self) -> int:
        return 1

    def contains(self, lo: int, hi: int) -> bool:
        return lo >= -1 and hi <= 1

    def to_bits(self, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values)
        return (v > 0).astype(object)

    def from_bits(self, raw: np.ndarray) -> np.ndarray:
        r = np.asarray(raw, dtype=np.int64)
        return np.where(r & 1, 1, -1).astype(np.int64)

    def __str__(self) -> str:
        return "bipolar"


DType = Union[IntType, BipolarType]


def type_for_range(lo: int, hi: int, *, signed: bool | None = None) -> IntType:
    """The narrowest IntType holding every integer in [lo, hi]."""
    lo, hi = int(lo), int(hi)
    if lo > hi:
        raise ValueError(f"empty range [{lo}, {hi}]")
    if signed is None:
        signed = lo < 0
    if not signed:
        if lo < 0:
            raise ValueError(f"range [{lo}, {hi}] needs a signed type")
        return IntType(bits=max(1, hi.bit_length()), signed=False)
    bits = max((lo).bit_length() if lo < 0 else 0, hi.bit_length()) + 1
    t = IntType(bits=max(2, bits), signed=True)
    while t.bits > 2 and IntType(bits=t.bits - 1, signed=True).contains(lo, hi):
        t = IntType(bits=t.bits - 1, signed=True)
    return t


def parse_type(text: str) -> DType:
    """Inverse of ``str(dtype)``: 's8', 'u4', 'bipolar'."""
    if text == "bipolar":
        return BipolarType()
    if len(text) >= 2 and text[0] in "su" and text[1:].isdigit():
        return IntType(bits=int(text[1:]), signed=text[0] == "s")
    raise ValueError(f"expected an integer type like 's8', 'u4' or 'bipolar', got {text!r}")
