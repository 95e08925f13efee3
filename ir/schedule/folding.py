"""Folding: PE x SIMD per layer, chosen to meet a throughput target.

A matrix-vector layer with PE output lanes and SIMD input lanes takes
V * NF * SF = V * ceil(MH/PE) * (MW/SIMD) cycles per inference, V the number of
vectors (output pixels of a convolution, 1 for a dense layer).  PE need not divide
MH (a ragged PE, :func:`pe_options`): the last of the NF folds then computes
NF*PE - MH padding rows of zero weights, its threshold/requant layers run at the
same PE on the padded beats, and the width converter in front of the next core
drops the padding -- everywhere but on the way to the graph output (the top's
stream is dense).  The finer choice of lanes is what lets a budget-bound design
keep its multipliers busy: 64 rows at 784 lanes' worth of work fit 13 x 64 (five
folds, the last 12 rows) where the divisors offer 16 x 64.  "Fewest multipliers"
counts PE*SIMD plus the threshold/requant lanes behind the unit in multiplier lanes
(:func:`_output_lanes`): otherwise a ragged PE would trade 16 SIMD lanes for 11 PE lanes
in front of 63-level thresholds (jet_tagger at 1 M inferences/s: 21397 LUTs estimated,
5736 with the weight).  Those lanes run at the unit's PE, or at the fewest lanes that keep
up with the budget behind a width converter where that saves more LUTs than the converter
costs (:func:`elementwise_lanes`): jet_tagger then takes PE 3 x SIMD 4 with one-lane
thresholds, efficiency 0.97 instead of 0.78, 5571 LUTs.  For a target
of F inferences per second at f MHz, the budget is floor(f*1e6 / F) cycles;
each layer gets the folding with the fewest multipliers (PE*SIMD) whose
cycles fit the budget (ties: fewer cycles, then larger SIMD), so the slowest
layer sets the initiation interval.  A convolution's sliding window feeds its
matrix-vector unit SIMD' = gcd-compatible channels per beat (SIMD divides C
or C divides SIMD), and its cycles count against the same budget.  The units
may also take any other SIMD dividing MW (ties go to a compatible one): the
window then emits the narrowest beat whose cycles fit (SIMD' | C, or KP*C) and
a width converter regroups its elements, in order, into SIMD-wide beats.  A
budget gives several designs (:meth:`ChooseFolding.variants`: window-coupled,
behind converters, multipliers counted without the threshold lanes, each
folded again for fewer cycles while that needs no more multipliers); the
flow passes the cost model in (``ChooseFolding.cost``) and the cheapest is
taken, a difference under :data:`COST_TIE` going to the faster design.  The
multiplier proxy alone misses a unit's input side (a 2 -> 18 converter and a
144-bit FIFO in front of conv_avgpool's mvu0).  Without a cost, the converter
design is taken when it is more efficient and no slower than the budget.  (A
user folding of the unit keeps SIMD' = 1 for an incompatible SIMD.)  Parallel
windows: a window's Fold.pe is KP, the kernel positions per beat (its SIMD
is then C, and a beat carries KP*C elements); KP must divide K_W or be K_W
times a divisor of K_H.  When the consumer's SIMD is a multiple KP*C of the
channels, the window takes the smallest valid KP (dividing SIMD/C) whose
cycles fit the budget (without a target: its consumer's cycles), else the
one with the fewest cycles, instead of emitting C per beat into a width
converter (KP = 1 wherever that already fits: KP read ports cost memory).
Elementwise layers (thresholds, requantizers) run PE lanes equal to their
producer's PE, one beat per cycle; a pool's PE meets the budget on its own.
A concat's PE divides both inputs' channels, or is their sum (pixel mode: a
whole pixel a beat) when no common divisor keeps up with the budget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from math import prod

from ..graph import Fold, Graph
from ..ops import Add, Concat, DepthwiseMatVec, LabelSelect, MatVec, Reshape, SlidingWindow, WindowReduce

__all__ = ["FoldingError", "ChooseFolding", "COST_TIE", "cost_ties", "multipliers", "fold_signature",
           "divisors", "fold_count", "pe_options", "ragged_ok", "RAGGED_KINDS",
           "readers", "ragged_group", "elementwise_lanes", "ragged_route", "ragged_beats",
           "folding_efficiency", "folding_to_json", "folding_from_json", "layer_cycles", "swg_cycles", "swg_kp_valid", "swg_kp_options"]


class FoldingError(ValueError):
    """A folding request that cannot be met or a malformed folding file."""


# The budget search asks for the same foldings thousands of times (a walk of cycle budgets,
# each a ChooseFolding run): the pure helpers below are memoised (ops hash by identity).
@lru_cache(maxsize=4096)
def _divisors(n: int) -> tuple[int, ...]:
    return tuple(d for d in range(1, n + 1) if n % d == 0)


def divisors(n: int) -> list[int]:
    return list(_divisors(n))


def fold_count(dim: int, lanes: int) -> int:
    """Beats (folds) ``lanes`` lanes take for ``dim`` elements: ceil(dim / lanes)."""
    return -(-dim // lanes)


@lru_cache(maxsize=4096)
def _pe_options(mh: int) -> tuple[int, ...]:
    return tuple(sorted({fold_count(mh, nf) for nf in range(1, mh + 1)}))


def pe_options(mh: int) -> list[int]:
    """PEs worth considering for MH rows: for each fold count NF the fewest lanes,
    ceil(MH / NF). Every divisor of MH is one; the others leave the last fold partly idle
    (a ragged PE: the unit computes NF*PE rows, the padding rows have zero weights)."""
    return list(_pe_options(mh))


#: elementwise kinds that take a ragged stream (a PE not dividing the channels, the last
#: beat of a vector padded) at the producer's PE and pass it on ragged
RAGGED_KINDS = ("threshold", "requant", "requantize")


def readers(graph: Graph) -> dict[str, list]:
    """value name -> the nodes that read it, in graph order."""
    users: dict[str, list] = {}
    for n in graph.nodes:
        for i in n.inputs:
            users.setdefault(i, []).append(n)
    return users


def ragged_ok(graph: Graph, node, users: dict[str, list] | None = None) -> bool:
    """Whether a matrix-vector ``node`` may take a PE that does not divide MH: its output
    must not reach the graph output through ragged elementwise layers only (the top's
    output stream is dense; everywhere else a width converter drops the padding).
    ``users``: :func:`readers` of ``graph``, if the caller has it."""
    users = readers(graph) if users is None else users
    todo = [node.outputs[0]]
    while todo:
        v = todo.pop()
        if v in graph.outputs:
            return False
        todo.extend(u.outputs[0] for u in users.get(v, []) if u.kind in RAGGED_KINDS)
    return True


def ragged_group(node) -> int | None:
    """Vector length of the ragged stream a layer starts (a matrix-vector unit whose PE does
    not divide MH: the last beat of each MH-vector is padded), or None."""
    if node.kind == "matvec" and node.fold is not None and node.op.mh % node.fold.pe:
        return node.op.mh
    return None


def ragged_route(node, group: int | None, in_elems: int | None, want: int) -> tuple[bool, bool]:
    """How a stream of ``in_elems`` elements a beat (ragged with vector length ``group``, or
    dense: None) reaches an input of ``node`` that reads ``want`` elements a beat, as
    ``(passes, convert)``: a threshold/requant layer at the stream's PE takes a ragged stream
    and passes it on ragged; a width converter sits wherever the widths differ or a ragged
    stream meets any other layer, and drops the padding. The one rule the RTL and HLS
    generators and the cycle estimate all follow."""
    passes = group is not None and node.kind in RAGGED_KINDS and in_elems == want
    return passes, in_elems != want or (group is not None and not passes)


def ragged_beats(group: int, elems: int) -> tuple[int, int]:
    """(beats per vector, elements in its last beat) of a ragged stream: gs_dwc's
    GROUP_BEATS and LAST_ELEMS."""
    nb = fold_count(group, elems)
    return nb, group - (nb - 1) * elems


def _vectors(graph: Graph | None, node) -> int:
    """Vectors (pixels) one inference streams through ``node``: its input's leading dims."""
    if graph is None:
        return 1
    return prod(graph.value(node.inputs[0]).shape[:-1])


def swg_kp_valid(op: SlidingWindow, kp: int) -> bool:
    """KP (kernel positions per beat) the core supports: a divisor of K_W, or K_W
    times a divisor of K_H (whole kernel rows)."""
    kh, kw = op.kernel
    if kp < 1:
        return False
    if kp <= kw:
        return kw % kp == 0
    return kp % kw == 0 and kh % (kp // kw) == 0


def swg_kp_options(op: SlidingWindow) -> list[int]:
    return [k for k in divisors(op.kernel[0] * op.kernel[1]) if swg_kp_valid(op, k)]


def _swg_rows_to_write(op: SlidingWindow, ring: int) -> int:
    """B of rtl/gs_swg.v: rows of the next image's first output row that do not fit into
    a ring of ``ring`` rows while the last output row of an image is read."""
    h = op.ifm[0]
    kh, sh, t = op.kernel[0], op.stride[0], op.pads[0]
    y = (op.ofm[0] - 1) * sh - t
    return max(0, min(kh - t, h) - (ring - (h - max(0, y))))


def swg_ring_extra(op: SlidingWindow) -> int:
    """Rows the generated design gives gs_swg's ring beyond K_H + S_H (its RING_EXTRA):
    enough that the next image's first rows fit while an image's last output row is read
    (B = 0, so no boundary wait), and at least one, so that a producer running at the
    design's rate is never held up by a full ring. (With the plain ring, FINN's CNV at
    30k inferences/s simulated 3531 cycles per inference for 3200 estimated: every window
    stalled its producer at image boundaries; with one or two rows more, 3200.)"""
    return max(1, _swg_rows_to_write(op, op.kernel[0] + op.stride[0]))


def _swg_boundary_wait(op: SlidingWindow, groups: int, kp: int = 1, ring_extra: int = 0) -> int:
    """S of rtl/gs_swg.v: the reader's wait at an image boundary for the next image's
    first rows that did not fit into its ring of K_H + S_H + RING_EXTRA rows (the core's
    header derives it; its bench pins cycles per image = max(IN, OUT + S)).  A beat covers
    KPH kernel rows and KPW columns (KP = KPH*KPW); rows are freed per row group."""
    h, w, _ = op.ifm
    (kh, kw), (sh, _) = op.kernel, op.stride
    t = op.pads[0]
    oh, _ = op.ofm
    kpw = min(kp, kw)
    kph = kp // kpw
    row, kwb = w * groups, kw * groups // kpw
    win = kh // kph * kwb
    y = (oh - 1) * sh - t
    b = _swg_rows_to_write(op, kh + sh + ring_extra)
    if b == 0:
        return 0
    tp = max(0, -y)
    frees = [(ky // kph + 1) * kwb for ky in range(tp, min(kh - kph - 1, h - 1 - y) + 1)]
    frees += [win] * max(0, b - len(frees))
    e = 0
    for f in frees[:b]:
        e = max(e, f) + row
    return max(0, e - win)


@lru_cache(maxsize=65536)
def swg_cycles(op: SlidingWindow, simd: int, kp: int = 1, ring_extra: int | None = None) -> int:
    """Unstalled cycles per image of the sliding-window core (see rtl/gs_swg.v):
    ``simd`` channels per position, ``kp`` kernel positions per beat, ``ring_extra``
    rows beyond K_H + S_H in its ring (default: what the generated design gives it,
    :func:`swg_ring_extra`)."""
    h, w, c = op.ifm
    oh, ow = op.ofm
    groups = c // simd
    extra = swg_ring_extra(op) if ring_extra is None else ring_extra
    out = oh * ow * op.kernel[0] * op.kernel[1] * groups // kp
    return max(h * w * groups, out + _swg_boundary_wait(op, groups, kp, extra))


def layer_cycles(node, graph: Graph | None = None) -> int:
    """Cycles one inference spends in a node at its folding (unstalled)."""
    f = node.fold or Fold()
    op = node.op
    v = _vectors(graph, node)
    if isinstance(op, MatVec):
        return v * fold_count(op.mh, f.pe) * (op.mw // f.simd)
    if isinstance(op, SlidingWindow):
        return swg_cycles(op, f.simd, f.pe)
    if isinstance(op, (WindowReduce, DepthwiseMatVec)):
        return v * op.positions * op.channels // f.pe
    if isinstance(op, LabelSelect):
        return op.channels // f.pe + op.k
    if isinstance(op, Reshape):
        return 0
    if isinstance(op, Concat):
        return v * (op.channels_a + op.channels_b) // f.pe
    return v * fold_count(op.channels, f.pe)  # a ragged elementwise layer: ceil


def _swg_simd(channels: int, simd: int) -> int | None:
    """Channels per beat of a sliding window feeding a SIMD-wide consumer (None: incompatible)."""
    if channels % simd == 0:
        return simd
    if simd % channels == 0:
        return channels
    return None


@lru_cache(maxsize=65536)
def _swg_fold(op: SlidingWindow, simd: int, target: int | None, convert: bool = False) -> Fold | None:
    """The window's folding in front of a matrix-vector unit with ``simd`` input lanes:
    SIMD' channels per position and, when ``simd`` is a multiple of the channels, the
    smallest KP dividing simd/C whose cycles fit ``target``, else the smallest with the
    fewest cycles. An incompatible ``simd`` (neither divides the other) gives None, or with
    ``convert`` the narrowest beat (SIMD' | C at KP = 1, else KP*C) whose cycles fit ``target``
    (else the narrowest with the fewest cycles): a width converter regroups the window's
    elements, in their order, into ``simd``-wide beats."""
    s = _swg_simd(op.channels, simd)
    if s is None:
        if not convert:
            return None
        c = op.channels
        beats = [Fold(pe=1, simd=d) for d in divisors(c)] + [Fold(pe=k, simd=c) for k in swg_kp_options(op) if k > 1]
        cycles = [swg_cycles(op, f.simd, f.pe) for f in beats]  # narrowest first
        fits = [f for f, cyc in zip(beats, cycles) if target is not None and cyc <= target]
        return fits[0] if fits else beats[cycles.index(min(cycles))]
    if s != op.channels or simd == s:
        return Fold(pe=1, simd=s)
    options = [(swg_cycles(op, s, k), k) for k in divisors(simd // s) if swg_kp_valid(op, k)]
    fits = [k for cyc, k in options if target is not None and cyc <= target]
    return Fold(pe=fits[0] if fits else min(options)[1], simd=s)


@lru_cache(maxsize=65536)
def _best_matvec_fold(op: MatVec, budget: int | None, vectors: int = 1, swg: SlidingWindow | None = None,
                      convert: bool = False, ragged: bool = False, lane_weight: float = 0.0,
                      mult_luts: float = 0.0, acc_bits: int = 0) -> Fold:
    """Fewest multipliers (PE*SIMD) whose cycles, and its window's, fit the budget; ties: a
    SIMD the window feeds without a width converter, a PE dividing MH, fewer cycles, larger
    SIMD. Without ``convert`` only SIMDs the window feeds directly (SIMD | C or C | SIMD);
    with ``ragged`` also PEs not dividing MH (:func:`pe_options`). Multipliers are counted as
    PE*SIMD + L*``lane_weight``: the threshold/requant lanes behind the unit, in multiplier
    lanes (:func:`_output_lanes`), L of them at its PE (:func:`elementwise_lanes`: fewer
    behind a width converter where that saves LUTs; the converter's LUTs then count too, at
    ``mult_luts`` LUTs a multiplier lane)."""
    best = None
    mh, mw = op.mh, op.mw
    channels = swg.channels if swg is not None else None
    for pe in (pe_options(mh) if ragged else divisors(mh)):
        nf = fold_count(mh, pe)
        after = elementwise_lanes(mh, pe, vectors, budget, lane_weight * mult_luts, acc_bits)
        extra = after * lane_weight
        if after != pe:
            extra += _dwc_luts(mh, pe, after, acc_bits) / mult_luts
        for simd in divisors(mw):
            lanes = pe * simd + extra
            if best is not None and lanes > best[0][0]:
                continue  # more multipliers than the best so far: never better
            cyc = vectors * nf * (mw // simd)
            if budget is not None and cyc > budget:
                continue  # the window can only add cycles
            converted = False
            if swg is not None:
                converted = _swg_simd(channels, simd) is None
                if converted and not convert:
                    continue
                sf = _swg_fold(swg, simd, budget if budget is not None else cyc, convert=True)
                cyc = max(cyc, swg_cycles(swg, sf.simd, sf.pe))
            if budget is not None and cyc > budget:
                continue
            key = (lanes, converted, mh % pe != 0, cyc, -simd)
            if best is None or key < best[0]:
                best = (key, Fold(pe=pe, simd=simd))
    if best is None:  # the target cannot be met: fully parallel
        return Fold(pe=mh, simd=mw)
    return best[1]


def _output_lanes(graph: Graph, node, users: dict[str, list] | None = None) -> tuple[float, float, int]:
    """What one output lane (PE) of a matrix-vector unit costs beyond its multipliers, as
    (weight in multiplier lanes, LUTs of a multiplier lane, accumulator bits): the
    threshold/requant layers after it run at its PE (or at :func:`elementwise_lanes`). A
    threshold lane compares with N thresholds of ACC bits (about ACC/2 LUTs each), a
    requantizer lane scales one ACC-bit value; a multiplier lane is about IN*W + IN + W bits
    of product and adder tree. (With divisor PEs alone this only broke ties; a ragged PE can
    trade 16 lanes of SIMD for 11 of PE, which is no saving when each PE lane brings 63
    comparators -- unless those run at fewer lanes behind a width converter.)"""
    op = node.op
    in_t = graph.value(node.inputs[0]).dtype
    ib = 1 if in_t.bipolar else in_t.bits
    wb = 1 if op.wtype.bipolar else op.wtype.bits
    mult = ib * wb + ib + wb
    acc = op.acc.bits
    users = readers(graph) if users is None else users
    weight, v = 0.0, node.outputs[0]
    for u in _chain(v, users):
        levels = u.op.thresholds.shape[1] if hasattr(u.op, "thresholds") else 1
        weight += levels * acc / (2 * mult)
    return weight, float(mult), acc


def _chain(value: str, users: dict[str, list]) -> list:
    """The threshold/requant layers that read ``value`` one after the other (each the only
    reader of its input): the layers that take a matrix-vector unit's output lanes."""
    out = []
    while len(users.get(value, [])) == 1 and users[value][0].kind in RAGGED_KINDS:
        out.append(users[value][0])
        value = out[-1].outputs[0]
    return out


@lru_cache(maxsize=65536)
def _dwc_luts(mh: int, in_elems: int, out_elems: int, elem_bits: int) -> float:
    """LUTs (cost model) of the width converter from a matrix-vector unit's ``in_elems`` lanes
    (ragged: padding dropped) to ``out_elems`` lanes, elements of ``elem_bits``."""
    from .cost import core_cost  # cost.py reads the fitted model lazily

    beats, last = ragged_beats(mh, in_elems)
    p = {"IN_ELEMS": in_elems, "OUT_ELEMS": out_elems, "ELEM_BITS": elem_bits, "LAST_ELEMS": last,
         "GROUP_BEATS": beats}
    return float(core_cost("gs_dwc", p)["lut"])


@lru_cache(maxsize=65536)
def elementwise_lanes(mh: int, pe: int, vectors: int, budget: int | None, lane_luts: float, elem_bits: int) -> int:
    """PE of the threshold/requant layers behind a matrix-vector unit with ``pe`` output lanes
    (MH outputs a vector, ``vectors`` vectors an inference), ``lane_luts`` LUTs a lane (their
    comparators and scalers, :func:`_output_lanes`): the unit's PE, or the fewest lanes
    dividing MH whose cycles fit the budget when that is fewer and the lanes saved cost more
    LUTs than the width converter (``elem_bits`` wide elements) it takes in front of them. A
    unit's PE is set by its multipliers; 63-level thresholds behind 11 lanes of a 64-row unit
    at a budget of 100 cycles run on one lane (64 cycles) instead of 11: one comparator bank,
    not eleven (jet_tagger at 1 M inferences/s). Without a budget: the unit's PE."""
    if budget is None or lane_luts <= 0:
        return pe
    fewest = _best_lanes(mh, vectors * mh, budget)
    if fewest >= pe:
        return pe
    return fewest if (pe - fewest) * lane_luts > _dwc_luts(mh, pe, fewest, elem_bits) else pe


def _best_lanes(dim: int, cycles_at_1: int, budget: int | None) -> int:
    """Fewest lanes (a divisor of ``dim``) with cycles_at_1 / lanes within the budget."""
    for d in divisors(dim):
        if budget is None or cycles_at_1 // d <= budget:
            return d
    return dim


def _concat_lanes(op: Concat, vectors: int, budget: int | None) -> int:
    """A concat's PE: the fewest lanes dividing both inputs' channels whose cycles fit the
    budget, else the pixel mode (CA + CB a beat, one cycle a pixel) when the common divisors
    cannot keep up (channel counts with a small gcd: 6 + 4 channels run at most 2 a beat)."""
    c = op.channels_a + op.channels_b
    dim = op.fold_dims()["pe"]
    pe = _best_lanes(dim, vectors * c, budget)
    if budget is not None and vectors * c // pe > budget:
        return op.pixel_pe
    return pe


def _ii(graph: Graph) -> int:
    return max((layer_cycles(n, graph) for n in graph.nodes), default=0)


#: Cost differences the model cannot resolve: its median LUT error against Yosys is about 3%
#: (``benchmarks/results/synth_vs_estimate.json``), so designs within 2% of the cheapest are
#: taken as costing the same, and speed, then fewer multipliers, decide between them
#: (jet_tagger at 1e5 inferences/s: 512 cycles for 4242 LUTs and 10 DSPs, not 704 cycles for
#: 4341 and 9, 1% cheaper in shares of pynq-z2).
COST_TIE = 0.02


def cost_ties(costs: list[float]) -> list[int]:
    """Indices of the ``costs`` within :data:`COST_TIE` of the least."""
    low = min(costs)
    return [i for i, c in enumerate(costs) if c <= low * (1 + COST_TIE)]


def multipliers(graph: Graph) -> int:
    """Multipliers of a folded graph (PE*SIMD of each matrix-vector unit, PE of each depthwise one)."""
    from .estimate import _mult_entry  # estimate imports this module

    return sum(e["multipliers"] for e in (_mult_entry(n, graph) for n in graph.nodes) if e is not None)


def fold_signature(graph: Graph) -> tuple:
    """A folded graph's folding: (name, PE, SIMD) of every layer."""
    return tuple((n.name, (n.fold or Fold()).pe, (n.fold or Fold()).simd) for n in graph.nodes)


def folding_efficiency(graph: Graph) -> tuple[float | None, float | None]:
    """(MACs / multipliers) / cycles per inference of a folded graph, and its bound: every
    layer at the fewest multipliers its divisors allow within those cycles (None: no
    multipliers). ``estimate.json``'s ``folding_efficiency`` and ``folding_efficiency_bound``."""
    from .estimate import _efficiency_bound, _mult_entry  # estimate imports this module

    ii = _ii(graph)
    entries = [e for e in (_mult_entry(n, graph) for n in graph.nodes) if e is not None]
    macs = sum(e["macs"] for e in entries)
    mults = sum(e["multipliers"] for e in entries)
    if not mults or not ii:
        return None, None
    return round(macs / mults / ii, 4), _efficiency_bound(entries, macs, ii)


@dataclass(frozen=True, kw_only=True)
class ChooseFolding:
    """Schedule pass: set ``Node.fold`` everywhere (from a target or a user folding)."""

    clock_mhz: float = 100.0
    target_fps: float | None = None
    folding: dict | None = None  # node name -> {"pe": int, "simd": int}
    #: a folded graph's cost, lower is cheaper (the flow's: the cost model's whole design in
    #: shares of the board); with it the cheapest of :meth:`variants` is taken
    cost: Callable[[Graph], float] | None = None
    name = "choose_folding"

    def budget(self) -> int | None:
        if self.target_fps is None:
            return None
        return max(1, int(self.clock_mhz * 1e6 // self.target_fps))

    def _check_user(self, graph: Graph) -> dict:
        user = dict(self.folding or {})
        known = {n.name for n in graph.nodes}
        for key in user:
            if key not in known:
                raise FoldingError(
                    f"folding names layer {key!r}, which the design does not have; "
                    f"expected one of {sorted(known)!r}"
                )
        return user

    def variants(self, graph: Graph, *, tighten: bool = True) -> list[Graph]:
        """The distinct designs this budget gives, first the one without width converters in
        front of the units, each within the budget (or no slower than the first):

        - *coupled*: every unit at a SIMD its window feeds directly;
        - *converted*: any SIMD | MW, a width converter regrouping the window's beats where
          needed (only where a window feeds a unit);
        - *bare*: converted (coupled without a window), the units' multipliers counted alone,
          not the threshold/requant lanes behind them (:func:`_output_lanes`);

        and with ``tighten``, each of these folded again for one cycle less than it takes, and
        so on while that needs no more multipliers.

        The multiplier-lane proxy of :func:`_best_matvec_fold` does not see a unit's input
        side: a SIMD 18 unit behind a 2-channel window brings a 2 -> 18 converter and a
        144-bit input FIFO (conv_avgpool's mvu0 at 1e5 inferences/s: about 380 LUTs, against
        54 at SIMD 2), which its weighted threshold lanes do not outweigh. And each layer takes
        its fewest multipliers for the budget on its own: conv_avgpool's mvu3 takes 3 x 2 (972
        cycles) within 1000 where 1 x 6 behind a converter takes 864, and the design then runs
        at its window's 900 cycles from the same multipliers. Which is cheaper is the cost
        model's call (``cost``)."""
        user = self._check_user(graph)
        budget = self.budget()
        windows = any(isinstance(n.op, SlidingWindow) for n in graph.nodes)
        out: list[Graph] = []
        limit = None
        for convert, count_lanes in ((False, True), (True, True), (True, False), (False, False)):
            if convert and not windows:
                continue  # no window: converting changes nothing
            if windows and not convert and not count_lanes:
                continue  # bare with windows: converted covers it
            g = self._fold_for(graph, user, budget, convert=convert, count_lanes=count_lanes)
            limit = _ii(g) if limit is None else limit
            while True:
                if _ii(g) <= max(budget or 0, limit) and all(fold_signature(g) != fold_signature(o) for o in out):
                    out.append(g)
                if budget is None or not tighten or _ii(g) <= 1:
                    break
                t = self._fold_for(graph, user, _ii(g) - 1, convert=convert, count_lanes=count_lanes)
                if _ii(t) >= _ii(g) or multipliers(t) > multipliers(g):
                    break
                g = t
            if budget is None:
                break
        return out

    def run(self, graph: Graph) -> Graph:
        if self.cost is not None:
            options = self.variants(graph)
            costs = [self.cost(g) for g in options]
            near = cost_ties(costs)
            return options[min(near, key=lambda i: (_ii(options[i]), multipliers(options[i]), costs[i], i))]
        user = self._check_user(graph)
        budget = self.budget()
        folded = self._fold_for(graph, user, budget, convert=False)
        if budget is not None:
            # Matrix-vector units fed by a window at SIMDs it feeds directly; the units may
            # also take any SIMD | MW behind a width converter: taken when that is more
            # efficient and no slower than the budget (or the first design). Tried whenever a
            # window feeds a unit, not only below the efficiency bound: the bound is taken at
            # the design's own cycles, and a unit of the same multipliers may be faster behind
            # a converter (res_small at 1e5 inferences/s: 864 cycles at the bound, 768 with a
            # converter in front of mvu5 (4 channels a pixel into 6 lanes), 0.867 -> 0.975).
            # Without a cost (``cost``), this efficiency rule picks between the two.
            eff, _ = folding_efficiency(folded)
            windows = any(isinstance(n.op, SlidingWindow) for n in graph.nodes)
            if eff is not None and windows:
                other = self._fold_for(graph, user, budget, convert=True)
                eff2, _ = folding_efficiency(other)
                if eff2 is not None and eff2 > eff and _ii(other) <= max(budget, _ii(folded)):
                    folded = other
        return folded

    def _fold_for(self, graph: Graph, user: dict, budget: int | None, *, convert: bool, count_lanes: bool = True) -> Graph:
        folded = self._fold(graph, user, budget, convert, count_lanes)
        if budget is not None:
            # A layer that cannot meet the budget (a window generator at one pixel a cycle, a
            # matrix already fully parallel) sets the rate; the others were folded for the
            # tighter budget. Folded again for the rate actually reached, each takes the fewest
            # lanes that keep up: the same cycles per inference from fewer multipliers.
            ii = _ii(folded)
            if ii > budget:
                relaxed = self._fold(graph, user, ii, convert, count_lanes)
                if _ii(relaxed) <= ii:
                    folded = relaxed
        return folded

    def _fold(self, graph: Graph, user: dict, budget: int | None, convert: bool = False, count_lanes: bool = True) -> Graph:
        nodes = []
        chosen: dict[str, Fold] = {}
        producer = {o: n for n in graph.nodes for o in n.outputs}
        consumer = {i: n for n in graph.nodes for i in n.inputs}
        users = readers(graph)

        def ragged_lanes(value: str) -> int | None:
            """PE of a ragged stream on ``value`` (a matrix-vector unit's PE not dividing MH,
            passed on by ragged elementwise layers); None: a dense stream."""
            src = producer.get(value)
            if src is None:
                return None
            f = fold_of(src)
            if isinstance(src.op, MatVec):
                return f.pe if src.op.mh % f.pe else None
            if src.kind in RAGGED_KINDS and ragged_lanes(src.inputs[0]) == f.pe:
                return f.pe
            return None

        def out_lanes(value: str) -> int | None:
            """Elements per beat on ``value`` as its producer emits them (None: the graph input)."""
            src = producer.get(value)
            if src is None:
                return None
            if isinstance(src.op, Reshape):
                return out_lanes(src.inputs[0])
            f = fold_of(src)
            if isinstance(src.op, SlidingWindow):
                return f.simd * f.pe
            return 1 if isinstance(src.op, LabelSelect) else f.pe

        def fold_of(n) -> Fold:
            """User folding, else the automatic one (memoised: a window asks its consumer)."""
            if n.name in chosen:
                return chosen[n.name]
            if n.name in user:
                entry = user[n.name]
                f = Fold(pe=int(entry.get("pe", 1)), simd=int(entry.get("simd", 1)))
            elif isinstance(n.op, MatVec):
                src = producer.get(n.inputs[0])
                swg = src.op if src is not None and isinstance(src.op, SlidingWindow) else None
                weight, mult, acc = _output_lanes(graph, n, users) if count_lanes else (0.0, 0.0, 0)
                f = _best_matvec_fold(n.op, budget, _vectors(graph, n), swg, convert, ragged_ok(graph, n, users),
                                      weight, mult, acc)
            elif isinstance(n.op, SlidingWindow):
                c = consumer.get(n.outputs[0])
                f = None
                if c is not None and isinstance(c.op, MatVec):
                    cf = fold_of(c)
                    f = _swg_fold(n.op, cf.simd, budget if budget is not None else layer_cycles(c.with_(fold=cf), graph),
                                  convert=convert and c.name not in user)
                elif c is not None and isinstance(c.op, (WindowReduce, DepthwiseMatVec)):
                    want = _swg_simd(n.op.channels, fold_of(c).pe)
                    f = Fold(pe=1, simd=want) if want else None
                f = f or Fold()
            elif isinstance(n.op, (WindowReduce, DepthwiseMatVec)):
                f = Fold(pe=_best_lanes(n.op.channels, _vectors(graph, n) * n.op.positions * n.op.channels, budget))
            elif isinstance(n.op, Reshape):
                f = Fold()
            elif isinstance(n.op, Add):
                dim = n.op.fold_dims()["pe"]
                f = Fold(pe=_best_lanes(dim, _vectors(graph, n) * graph.value(n.outputs[0]).shape[-1], budget))
            elif isinstance(n.op, Concat):
                f = Fold(pe=_concat_lanes(n.op, _vectors(graph, n), budget))
            else:  # elementwise: as many lanes as the producer emits, if they divide the channels
                dims = n.op.fold_dims()
                lanes = out_lanes(n.inputs[0])
                src = producer.get(n.inputs[0])
                if src is not None and isinstance(src.op, MatVec) and _chain(src.outputs[0], users)[:1] == [n]:
                    # the first threshold/requant behind a unit: its PE, or fewer lanes behind a
                    # width converter where that is cheaper (what the unit's folding counted on)
                    weight, mult, acc = _output_lanes(graph, src, users)
                    lanes = elementwise_lanes(src.op.mh, lanes, _vectors(graph, src), budget, weight * mult, acc)
                ragged = n.kind in RAGGED_KINDS and lanes is not None and ragged_lanes(n.inputs[0]) == lanes
                pe = lanes if lanes is not None and (dims["pe"] % lanes == 0 or ragged) else 1
                f = Fold(pe=pe, simd=1)
            chosen[n.name] = f
            return f

        for n in graph.nodes:
            dims = n.op.fold_dims()
            fold = fold_of(n)
            for key, dim in dims.items():
                v = getattr(fold, key)
                if key == "pe" and 1 <= v <= dim and dim % v:
                    _check_ragged(graph, n, v, dim, ragged_lanes(n.inputs[0]), users)
                    continue
                if key == "pe" and isinstance(n.op, Concat) and v == n.op.pixel_pe:
                    continue  # pixel mode: a whole pixel a beat
                if v < 1 or dim % v:
                    also = f", or {n.op.pixel_pe} (a whole pixel a beat)" if isinstance(n.op, Concat) and key == "pe" else ""
                    raise FoldingError(
                        f"layer {n.name!r}: {key.upper()}={v} must be a positive divisor of {dim} "
                        f"(valid: {divisors(dim)!r}{also})"
                    )
            if "simd" not in dims and fold.simd != 1:
                raise FoldingError(f"layer {n.name!r}: SIMD={fold.simd} given, but a {n.kind} layer has no SIMD (use 1)")
            if isinstance(n.op, SlidingWindow):
                _check_kp(n, fold)
            elif "pe" not in dims and fold.pe != 1:
                raise FoldingError(f"layer {n.name!r}: PE={fold.pe} given, but a {n.kind} layer has no PE (use 1)")
            nodes.append(n.with_(fold=fold))
        return graph.replace_nodes(nodes)


def _check_ragged(graph: Graph, n, pe: int, dim: int, lanes_in: int | None,
                  users: dict[str, list] | None = None) -> None:
    """A PE that does not divide the layer's rows/channels: allowed for a matrix-vector unit
    whose output does not reach the graph output (:func:`ragged_ok`), and for a threshold or
    requantizer layer on such a unit's ragged stream at the same PE."""
    if isinstance(n.op, MatVec):
        if ragged_ok(graph, n, users):
            return
        raise FoldingError(
            f"layer {n.name!r}: PE={pe} does not divide MH={dim}; a PE not dividing MH is allowed only "
            f"where the layer's output does not reach the graph output (valid here: {divisors(dim)!r})"
        )
    if n.kind in RAGGED_KINDS and lanes_in == pe:
        return
    raise FoldingError(
        f"layer {n.name!r}: PE={pe} must be a positive divisor of {dim} (valid: {divisors(dim)!r}), or, "
        f"for a threshold or requant layer, the PE of the ragged matvec stream it reads"
    )


def _check_kp(n, fold: Fold) -> None:
    """A window's PE is KP (kernel positions per beat)."""
    op = n.op
    if not swg_kp_valid(op, fold.pe):
        kh, kw = op.kernel
        raise FoldingError(
            f"layer {n.name!r}: PE={fold.pe} (kernel positions per beat) must divide K_W={kw} or be "
            f"K_W times a divisor of K_H={kh} (valid: {swg_kp_options(op)!r})"
        )
    if fold.pe > 1 and fold.simd != op.channels:
        raise FoldingError(
            f"layer {n.name!r}: PE={fold.pe} (kernel positions per beat) needs SIMD equal to the "
            f"channels ({op.channels}), got SIMD={fold.simd}"
        )


def folding_to_json(graph: Graph) -> str:
    layers = {}
    for n in graph.nodes:
        f = n.fold or Fold()
        dims = n.op.fold_dims()
        if not dims:
            continue  # nothing to fold (reshape)
        entry = {"kind": n.kind}
        entry.update({k: getattr(f, k) for k in ("pe", "simd") if k in dims})
        if isinstance(n.op, SlidingWindow) and f.pe != 1:
            entry["pe"] = f.pe  # kernel positions per beat
        layers[n.name] = entry
    return json.dumps({"version": 1, "layers": layers}, indent=2, sort_keys=True) + "\n"


def folding_from_json(text: str, source: str = "folding file") -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise FoldingError(f"{source}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("layers"), dict):
        raise FoldingError(f"{source}: expected an object with a \"layers\" object")
    out = {}
    for name, entry in data["layers"].items():
        if not isinstance(entry, dict):
            raise FoldingError(f"{source}: layer {name!r}: expected an object with \"pe\" (and \"simd\")")
        for k in entry:
            if k not in ("pe", "simd", "kind"):
                raise FoldingError(f"{source}: layer {name!r}: unknown key {k!r} (expected pe, simd)")
        for k in ("pe", "simd"):
            if k in entry and (not isinstance(entry[k], int) or isinstance(entry[k], bool)):
                raise FoldingError(f"{source}: layer {name!r}: {k} must be an integer, got {entry[k]!r}")
        out[name] = {k: entry[k] for k in ("pe", "simd") if k in entry}
    return out
