"""Budget search: the fastest folding whose estimated resources fit a share of a board.

:class:`~gatesmith.ir.schedule.folding.ChooseFolding` is used as a black box: for a cycle
budget B its variants (:meth:`~gatesmith.ir.schedule.folding.ChooseFolding.variants`:
window-coupled, behind width converters, multipliers counted alone) give every layer the
fewest multipliers meeting B, so a design's initiation interval is normally at most B.  A
layer's choice stays the same while the budget is at least its cycles (a window generator
follows its consumer's choice), so the designs can only change where the budget falls below
one of their layers' cycle counts.  Walking B_0 = none (the most folded design), B_{k+1} =
(the largest layer cycle count <= B_k of any variant) - 1 therefore visits every distinct
design the variants produce, whether or not it meets its budget (a layer that cannot meet a
budget falls back to its fastest folding), and stops where no layer is within the budget.

Each candidate is costed with the resource model (``cost.py``): first the sum of its cores
alone, a lower bound (FIFOs, width converters and duplicators only add), from per-node costs
cached by (layer, folding); a candidate whose lower bound fits is then costed in full
(``infra_cost``: the rendered design's FIFOs, converters and duplicators).  Of the fastest
candidates that fit, the cheapest is taken (sum of shares of the limits; within ``COST_TIE``
of it, the fewest multipliers): the variants of one budget often share their cycles, and the
first to fit is not the cheapest (vgg10_1d at --budget 0.8: 38718 LUTs and 130 DSPs at 192
cycles, where the first was 40732 and 136).  The search is deterministic.  Rendering lives outside ``ir/``: the caller passes
``node_cost`` (one layer's core) and ``infra_cost`` (the rest of a folded graph's design).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

from ..graph import Fold, Graph
from ..ops import Reshape
from .cost import RESOURCE_KEYS, core_cost, mapped_cost, rom_stats
from .folding import COST_TIE, ChooseFolding, cost_ties, fold_signature, layer_cycles, multipliers

__all__ = ["RESOURCE_NAMES", "Candidate", "budget_limits", "resource_share", "fit_record", "folding_candidates",
           "fastest_within", "block_cost", "folding_efficiency", "overflow_message", "fold_for_cycles", "fits", "SearchResult"]

#: resource key -> how messages spell it
RESOURCE_NAMES = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram18": "BRAM18", "uram": "URAM"}


def budget_limits(board, fraction: float) -> dict[str, int]:
    """Resources allowed: ``fraction`` of each of the board's (rounded down)."""
    return {k: int(math.floor(fraction * getattr(board, k) + 1e-9)) for k in RESOURCE_KEYS}


def _ratio(used: int, allowed: int) -> float:
    if used <= 0:
        return 0.0
    return math.inf if allowed <= 0 else used / allowed


def fits(total: Mapping[str, int], limits: Mapping[str, int]) -> bool:
    return all(total[k] <= limits[k] for k in RESOURCE_KEYS)


def fit_record(total: Mapping[str, int], board, fraction: float) -> dict:
    """What ``estimate.json`` records: ``budget``, ``budget_limits``, ``fits_budget`` and the
    ``utilisation`` of each of the board's resources (share of the whole board; None where
    the board has none and the design uses none)."""
    limits = budget_limits(board, fraction)
    util = {}
    for k in RESOURCE_KEYS:
        avail = getattr(board, k)
        util[k] = round(total[k] / avail, 4) if avail else (None if total[k] == 0 else math.inf)
    return {"budget": fraction, "budget_limits": limits, "fits_budget": fits(total, limits), "utilisation": util}


def block_cost(core: str, params: Mapping, mem_words=None, mem_width: int = 0,
               family: str | None = None) -> dict[str, int]:
    """Cost of one core from its parameters and, for a core with a ROM, its words (the live
    bit columns and the distinct ones, as :func:`~gatesmith.ir.schedule.cost.with_rom_live` reads them from the
    ``.mem`` file)."""
    p = dict(params)
    if mem_words is not None:
        p.update(rom_stats(mem_words, mem_width))
    return mapped_cost(core, core_cost(core, p, family=family))


def folding_efficiency(macs: int, multipliers: int, cycles: int) -> float | None:
    """(MACs per inference / multipliers) / cycles per inference: 1.0 when every multiplier
    works every cycle; None without multipliers."""
    if multipliers <= 0 or cycles <= 0:
        return None
    return round(macs / multipliers / cycles, 4)


@dataclass(frozen=True)
class Candidate:
    """One design of the walk: the cycle budget it was chosen for (None: most folded)."""

    cycle_budget: int | None
    graph: Graph
    cycles: int  # initiation interval: the slowest layer's cycles


def _ii(graph: Graph) -> int:
    return max(layer_cycles(n, graph) for n in graph.nodes)


def _fps_for(clock_mhz: float, cycles: int) -> float:
    """A target FPS whose ChooseFolding budget is exactly ``cycles`` (floor(f/F) = cycles)."""
    return clock_mhz * 1e6 / (cycles + 0.5)


def _chooser(clock_mhz: float, cycles: int | None, folding: dict | None = None) -> ChooseFolding:
    """ChooseFolding with a budget of ``cycles`` per inference (None: the most folded design)."""
    cf = ChooseFolding(clock_mhz=clock_mhz, target_fps=None if cycles is None else _fps_for(clock_mhz, cycles),
                       folding=folding)
    if cycles is not None and cf.budget() != cycles:  # pragma: no cover - float guard
        raise AssertionError(f"cycle budget {cycles} became {cf.budget()}")
    return cf


def fold_for_cycles(graph: Graph, clock_mhz: float, cycles: int | None, folding: dict | None = None) -> Graph:
    """ChooseFolding with a budget of ``cycles`` per inference (None: the most folded design)."""
    return _chooser(clock_mhz, cycles, folding).run(graph)


def folding_candidates(graph: Graph, *, clock_mhz: float, folding: dict | None = None) -> list[Candidate]:
    """Every distinct design ChooseFolding gives for some cycle budget, any of its
    :meth:`~ChooseFolding.variants` (window-coupled, behind converters, multipliers counted
    alone), fastest first (equal cycles: the one found for the larger budget first)."""
    seen: dict[tuple, Candidate] = {}
    budget = None
    while budget is None or budget >= 1:
        cycles = []
        for g in _chooser(clock_mhz, budget, folding).variants(graph, tighten=False):
            layer = [layer_cycles(n, g) for n in g.nodes]
            cycles += layer
            sig = fold_signature(g)
            if sig not in seen:
                seen[sig] = Candidate(cycle_budget=budget, graph=g, cycles=max(layer))
        # every layer's choice stays the same while the budget is at least its cycles: the
        # designs can only change below the largest layer cycle count within the budget
        within = [c for c in cycles if c >= 1 and (budget is None or c <= budget)]
        if not within:
            break
        budget = max(within) - 1
    order = list(seen.values())
    return sorted(order, key=lambda c: (c.cycles, order.index(c)))


def _fold_key(node) -> tuple:
    f = node.fold or Fold()
    return (node.name, f.pe, f.simd, getattr(node, "impl", None))


@dataclass(frozen=True)
class SearchResult:
    chosen: Candidate | None  # None: nothing fits
    cost: dict | None  # cost of ``chosen``: ``total``, ``layers``, ``infrastructure`` (as design_cost)
    candidates: tuple[Candidate, ...]
    full_costs: int  # how many candidates were costed in full


def resource_share(total: Mapping[str, int], limits: Mapping[str, int]) -> float:
    """A design's resources as one number: the sum of its shares of each limit (infinite where
    it uses a resource the limits do not have)."""
    return sum(_ratio(total[k], limits[k]) for k in RESOURCE_KEYS)


def fastest_within(candidates: list[Candidate], limits: Mapping[str, int], *,
                   node_cost: Callable[[Graph, object], dict],
                   infra_cost: Callable[[Graph], dict],
                   prepare: Callable[[Graph], Graph] | None = None) -> SearchResult:
    """The fastest of ``candidates`` whose cost fits ``limits`` -- of those as fast, the
    cheapest (the least sum of shares of the limits; within :data:`~.folding.COST_TIE` of it,
    the fewest multipliers): its cores (``node_cost(graph, node)``, cached by layer, folding and
    implementation) plus, once the cores alone fit, the FIFOs, width converters and
    duplicators (``infra_cost(graph)``); each graph costed as ``prepare`` makes it (the flow's:
    memory and multiplier styles chosen), only when reached."""
    cache: dict[tuple, dict] = {}
    n_full = 0
    fitting = []  # (share, candidate, cost) at the fastest cycles that fit
    for c in candidates:
        if fitting and c.cycles > fitting[0][1].cycles:
            break
        lower = dict.fromkeys(RESOURCE_KEYS, 0)
        layers = {}
        graph = c.graph if prepare is None else prepare(c.graph)
        for n in graph.nodes:
            if isinstance(n.op, Reshape):
                continue  # no hardware
            key = _fold_key(n)
            if key not in cache:
                cache[key] = node_cost(graph, n)
            layers[n.name] = cache[key]
            for k in RESOURCE_KEYS:
                lower[k] += cache[key][k]
        if not fits(lower, limits):
            continue
        if fitting and resource_share(lower, limits) > min(f[0] for f in fitting) * (1 + COST_TIE):
            continue  # its cores alone cost more than the cheapest as fast
        infra = infra_cost(graph)
        n_full += 1
        total = {k: lower[k] + infra[k] for k in RESOURCE_KEYS}
        if fits(total, limits):
            fitting.append((resource_share(total, limits), c, {"total": total, "layers": layers, "infrastructure": infra}))
    if not fitting:
        return SearchResult(chosen=None, cost=None, candidates=tuple(candidates), full_costs=n_full)
    near = cost_ties([f[0] for f in fitting])
    _, chosen, cost = fitting[min(near, key=lambda i: (multipliers(fitting[i][1].graph), fitting[i][0], i))]
    return SearchResult(chosen=chosen, cost=cost, candidates=tuple(candidates), full_costs=n_full)


def overflow_message(graph: Graph, cost: dict, limits: Mapping[str, int], *, board: str, fraction: float,
                     what: str) -> str:
    """One line: the binding resource (the most over its limit), the layer needing the most of
    it and by how much the design is over, e.g. ``layer 'mvu0' (MatMul_0) does not fit pynq-z2
    at --budget 0.8: the most folded design needs 300 BRAM18 (250 in this layer), 224 allowed
    (over by 76)``."""
    total = cost["total"]
    res = max(RESOURCE_KEYS, key=lambda k: (_ratio(total[k], limits[k]), -RESOURCE_KEYS.index(k)))
    layers = cost["layers"]
    origin = {n.name: n.origin for n in graph.nodes}
    name = max(sorted(layers), key=lambda nm: layers[nm][res])
    o = origin.get(name)
    label = f"layer {name!r}" + (f" ({o})" if o else "")
    rn = RESOURCE_NAMES[res]
    return (f"{label} does not fit {board} at --budget {fraction:g}: {what} needs {total[res]} {rn} "
            f"({layers[name][res]} in this layer), {limits[res]} allowed (over by {total[res] - limits[res]})")
