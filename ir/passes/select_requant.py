"""Pass: choose how each requantizer is built (thresholds, shift or dyadic).

The exact thresholds the frontend derived are the specification.  A
shift/dyadic realisation ``clamp(round((acc*M + B) / 2**S), lo, hi)`` is
built from the chain's composed linear form and accepted as exact only if
its own thresholds over the reachable accumulator range equal the
specification's, i.e. it gives the same output for every reachable input.

Styles:
  * ``threshold``: always multi-threshold (exact by construction).
  * ``shift``: power-of-two scales: M = 2**k, exact or an error.
  * ``dyadic``: integer multiply + shift (HAWQ-V3).  S is searched upward to
    ``MAX_SHIFT``; the smallest exact S is taken.  Where none is exact the
    largest S is used and the node records how many thresholds moved.  Error
    bound: with M = round(a * 2**S), |a*acc - M*acc/2**S| <= |acc| * 2**-(S+1)
    (and likewise for the bias), so an output can differ from exact rounding
    only where a*acc + b lies within |acc|*2**-(S+1) + 2**-(S+1) of a rounding
    boundary.  It cannot be exact where the model's own float32 chain rounds
    differently from exact arithmetic (a threshold set no affine map
    produces), which happens with non-power-of-two scales at near-ties.
  * ``auto`` (default): shift when exact; else dyadic when exact and the
    output has more than 4 bits (fewer comparators); else thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..graph import Graph
from ..ops import MultiThreshold, Requant, Requantize, frozen_array, round_shift
from ..types import BipolarType
from ..verifier import IRError

__all__ = ["SelectRequant", "STYLES", "dyadic_thresholds"]

STYLES = ("auto", "threshold", "shift", "dyadic")
MAX_SHIFT = 40
#: above this many thresholds per channel, ``auto`` will not build a threshold unit
MAX_AUTO_THRESHOLDS = 1023


def dyadic_thresholds(rq: Requant, lo: np.ndarray, hi: np.ndarray, base: int, n: int) -> np.ndarray:
    """Thresholds (C, n) of a Requant over acc in [lo, hi] (hi+1 = never reached).

    The requantizer must be non-decreasing in acc (M >= 0).
    """
    C = lo.shape[0]
    levels = np.arange(base + 1, base + n + 1)
    left = np.broadcast_to(np.asarray(lo, dtype=object), (n, C)).copy()
    right = np.broadcast_to(np.asarray(hi, dtype=object) + 1, (n, C)).copy()
    need = levels[:, None]
    while True:
        active = left < right
        if not active.any():
            break
        mid = (left + right) // 2
        f = rq.evaluate(mid)
        up = f >= need
        right = np.where(active & up, mid, right)
        left = np.where(active & ~up, mid + 1, left)
    return left.T.astype(np.int64)


def _realise(op: Requantize, shift: int, *, pow2_only: bool) -> Requant | None:
    lin = op.linear
    scale = Fraction(1 << shift)
    if pow2_only:
        ms = [a * scale for a in lin.a]
        if any(m.denominator != 1 or (m != 0 and (m.numerator & (m.numerator - 1))) for m in ms):
            return None
        bs = [b * scale for b in lin.b]
        if any(b.denominator != 1 for b in bs):
            return None
        mult = [int(m) for m in ms]
        bias = [int(b) for b in bs]
    else:
        mult = [round(a * scale) for a in lin.a]
        bias = [round(b * scale) for b in lin.b]
    if any(m < 0 for m in mult):
        return None
    use_mult = any(m != 1 for m in mult)
    return Requant(
        mult=frozen_array(mult, dtype=object if max(map(abs, mult)) >> 62 else np.int64),
        bias=frozen_array(bias, dtype=object if max(map(abs, bias)) >> 62 else np.int64),
        shift=shift, rounding=lin.rounding, lo=lin.lo, hi=lin.hi, out=op.out, use_mult=use_mult,
    )


def _mismatches(op: Requantize, rq: Requant) -> int:
    t = dyadic_thresholds(rq, op.in_lo, op.in_hi, op.base, op.thresholds.shape[1])
    return int(np.count_nonzero(t != op.thresholds))


def _max_shift(op: Requantize) -> int:
    """The largest S (<= MAX_SHIFT) keeping acc*M + B within int64 for the reachable range."""
    acc = max(abs(int(np.min(op.in_lo))), abs(int(np.max(op.in_hi))), 1)
    amax = max((abs(a) for a in op.linear.a), default=Fraction(1)) or Fraction(1)
    bmax = max((abs(b) for b in op.linear.b), default=Fraction(0))
    s = MAX_SHIFT
    while s > 0 and (acc * amax + bmax + 1) * (1 << s) >= (1 << 61):
        s -= 1
    return s


def _search(op: Requantize, *, pow2_only: bool) -> Requant | None:
    """Smallest exact shift; for dyadic the largest-S (most precise) one when none is exact.

    Power-of-two forms: the first S making M and B integers gives the only
    candidate function (a larger S scales M, B and 2**S alike).  Dyadic: if the
    most precise S is not exact, none is taken as exact (more fractional bits
    only bring M/2**S closer to the model's scale); otherwise the smallest
    exact S is found by bisection, and every candidate is checked.
    """
    if pow2_only:
        for s in range(0, MAX_SHIFT + 1):
            rq = _realise(op, s, pow2_only=True)
            if rq is not None:
                return rq if _mismatches(op, rq) == 0 else None
        return None
    top = _max_shift(op)
    rq = _realise(op, top, pow2_only=False)
    if rq is None:
        return None
    mm = _mismatches(op, rq)
    if mm:
        return Requant(**{**rq.__dict__, "mismatches": mm})
    lo, hi = 0, top  # hi is exact
    while lo < hi:
        mid = (lo + hi) // 2
        cand = _realise(op, mid, pow2_only=False)
        if cand is not None and _mismatches(op, cand) == 0:
            hi = mid
        else:
            lo = mid + 1
    return _realise(op, hi, pow2_only=False)


@dataclass(frozen=True, kw_only=True)
class SelectRequant:
    style: str = "auto"
    name = "select_requant"

    def __post_init__(self):
        if self.style not in STYLES:
            raise IRError(f"requantization style must be one of {STYLES!r}, got {self.style!r}")

    def _choose(self, node) -> object:
        op: Requantize = node.op
        as_thr = op.as_threshold()
        if isinstance(op.out, BipolarType):
            return as_thr  # a sign is one comparator: thresholds in every style
        if self.style == "threshold":
            return as_thr
        if op.linear is None:
            if self.style in ("shift", "dyadic"):
                raise IRError(
                    f"node {node.name!r} (from {node.origin}): {self.style} requantization needs an "
                    "affine chain into an integer quantizer; this one is not (use threshold)"
                )
            return as_thr
        if self.style == "shift":
            rq = _search(op, pow2_only=True)
            if rq is None:
                raise IRError(
                    f"node {node.name!r} (from {node.origin}): shift requantization needs "
                    "power-of-two scales that reproduce the model exactly; use dyadic or threshold"
                )
            return rq
        if self.style == "dyadic":
            rq = _search(op, pow2_only=False)
            return rq if rq is not None else as_thr
        # auto
        rq = _search(op, pow2_only=True)
        if rq is not None:
            return rq
        n = op.thresholds.shape[1]
        if n > 15:
            rq = _search(op, pow2_only=False)
            if rq is not None and rq.mismatches == 0:
                return rq
            if n > MAX_AUTO_THRESHOLDS:
                moved = f"{rq.mismatches} of {op.thresholds.size} thresholds move" if rq is not None else "no affine form"
                raise IRError(
                    f"node {node.name!r} (from {node.origin}): a {op.out} output needs {n} thresholds per "
                    f"channel and no exact shift/dyadic form exists ({moved}); use --requant dyadic to accept "
                    "that, --requant threshold to build them anyway, or quantize this activation to fewer bits"
                )
        return as_thr

    def run(self, graph: Graph) -> Graph:
        nodes = []
        for n in graph.nodes:
            if isinstance(n.op, Requantize):
                n = n.with_(op=self._choose(n))
            nodes.append(n)
        return graph.replace_nodes(nodes)
