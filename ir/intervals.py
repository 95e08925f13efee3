"""Interval analysis over actual constant values (accumulator widths)."""

from __future__ import annotations

import numpy as np

from .types import DType

__all__ = ["matvec_range"]


def matvec_range(weights: np.ndarray, in_type: DType) -> tuple[np.ndarray, np.ndarray]:
    """Per output row, the exact [lo, hi] of sum_i W[j, i] * x[i] over all x in in_type.

    Each term ranges over {w*min, w*max} independently (every input takes any
    value of its type), so the bounds are attained: they are the reachable range.
    """
    w = np.asarray(weights, dtype=object)
    a = w * int(in_type.min)
    b = w * int(in_type.max)
    lo = np.minimum(a, b).sum(axis=1)
    hi = np.maximum(a, b).sum(axis=1)
    return np.asarray(lo, dtype=object), np.asarray(hi, dtype=object)
