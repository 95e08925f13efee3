"""Per-layer implementation choices (``Node.impl``): where a layer's constant memory lives
(``lutram``: LUT logic / distributed ROM, ``bram``: block RAM, ``uram``: UltraRAM, loaded at
run time) and where its integer products
are computed (``dsp`` slices, ``lut`` fabric, or ``pack``: DSP slices, each computing the
products of two rows that share an input -- matrix-vector layers whose packed operands fit the
board's DSP: 25 x 18 on a DSP48E1, 27 x 18 on a DSP48E2 (``family`` xcup / xcu),
:func:`~gatesmith.ir.schedule.cost.pack_fits`).

:class:`ChooseImpl` runs after the folding (the memory's shape depends on PE/SIMD).  For a
layer left at ``auto`` it starts from what synthesis would infer on its own (Yosys' rules as
``cost.py`` models them, so a design nobody asks anything of keeps today's RTL), then:

* puts a ROM in block RAM when its LUTs cost more than the block RAMs it would take, counted
  at the board's exchange rate (LUTs per RAMB18 of the board);
* while the ROMs alone need more RAMB18s than the board has, moves the largest
  matrix-vector weight ROMs to URAM on a board with URAM, as long as the URAM288s fit
  (``auto_uram``; off for ``--backend hls``, whose weights cannot live in URAM), then the
  least-used block-RAM ROMs back to LUTs;
* while the multipliers need more DSPs than the board has, packs two products per DSP in
  the matrix-vector layers that allow it (the largest saving first), then moves the
  narrowest DSP products to LUTs.

A choice the user made (``--mem-style`` / ``--mul-style`` or a layer of ``gatesmith.toml``)
is kept as given; ``pack`` on a layer whose widths do not fit is an :class:`ImplError` (a
global ``pack`` leaves depthwise layers, whose products share no input, at ``dsp``).

``uram``: matrix-vector weights in URAM288 (UltraScale+). URAM has no initial contents, so
the weights are a RAM written through a load port (``gs_mvu_wl``, ``MEM_STYLE "ultra"``) from
the top's weight-load stream (``hls_templates/rtl.py``). Only on boards with URAM (an
:class:`ImplError` naming the layer and the board elsewhere); a global ``uram`` leaves
threshold and depthwise memories at ``auto``, a layer's ``uram`` on them is an error. ``auto``
picks URAM only when block RAM would overflow (above): a design that fits needs no weight load
and renders as before.

:func:`rtl_style_params` turns a choice into the cores' ``MEM_STYLE`` / ``MUL_STYLE``
parameters, given only where the choice differs from what synthesis infers anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..graph import Graph, Impl, Node
from ..types import BipolarType
from . import cost
from .folding import fold_count

__all__ = ["MEM_STYLES", "MUL_STYLES", "ChooseImpl", "ImplError", "node_memory", "node_product", "node_pack",
           "mul_dsps", "rtl_style_params", "inferred_impl", "forced_impl"]

MEM_STYLES = ("auto", "lutram", "bram", "uram")
MUL_STYLES = ("auto", "dsp", "lut", "pack")

#: IR memory style -> the cores' MEM_STYLE
_RTL_MEM = {"lutram": "distributed", "bram": "block", "uram": "ultra"}
#: IR multiplier style -> the cores' MUL_STYLE
_RTL_MUL = {"dsp": "dsp", "lut": "lut", "pack": "pack"}


class ImplError(ValueError):
    """A per-layer implementation choice that cannot be made; the message names the layer."""


def _signed_bits(lo: int, hi: int) -> int:
    return max(max(int(lo), -int(lo) - 1, int(hi), -int(hi) - 1).bit_length() + 1, 1)


def _threshold_shape(graph: Graph, node: Node) -> tuple[int, int]:
    """(N, T_BITS) of a threshold node's ROM as ``hls_templates/rtl.py`` lays it out."""
    op = node.op
    in_t = graph.value(node.inputs[0]).dtype
    lo, hi = int(in_t.min), int(in_t.max)
    t = np.asarray(op.thresholds, dtype=object).reshape(op.channels, -1)
    n = t.shape[1]
    if isinstance(op.out, BipolarType):
        m = 1 - int(op.base)
        t = t[:, m - 1:m] if 0 < m <= n else np.full((op.channels, 1), lo if m <= 0 else hi + 1, dtype=object)
    elif n == 0:
        t = np.full((op.channels, 1), hi + 1, dtype=object)
    t = np.minimum(np.maximum(t, lo), hi + 1)
    return t.shape[1], max(in_t.bits, _signed_bits(int(t.min()), int(t.max())))


def node_memory(graph: Graph, node: Node) -> tuple[int, int] | None:
    """(depth, width) of the node's constant memory at its folding; None: it has none."""
    op, f = node.op, node.fold
    if f is None:
        return None
    if node.kind == "matvec":
        return fold_count(op.mh, f.pe) * (op.mw // f.simd), f.pe * f.simd * op.wtype.bits
    if node.kind == "vvu":
        return op.positions * (op.channels // f.pe), f.pe * op.wtype.bits
    if node.kind == "threshold":
        n, tb = _threshold_shape(graph, node)
        return fold_count(op.channels, f.pe), f.pe * n * tb
    return None


def node_product(graph: Graph, node: Node) -> tuple[int, int, int] | None:
    """(input bits, weight bits, lanes) of the node's integer x integer products, both widths
    as signed operands; None: it multiplies nothing (bipolar operands are negations)."""
    if node.kind not in ("matvec", "vvu") or node.fold is None:
        return None
    lanes = node.fold.pe * (node.fold.simd if node.kind == "matvec" else 1)
    return _product(graph.value(node.inputs[0]).dtype, node.op.wtype, lanes)


def _product(in_t, wt, lanes: int) -> tuple[int, int, int] | None:
    if isinstance(in_t, BipolarType) or isinstance(wt, BipolarType):
        return None
    return cost._sbits(in_t.bits, int(in_t.signed)), cost._sbits(wt.bits, int(wt.signed)), lanes


def node_pack(graph: Graph, node: Node) -> tuple[int, int, int, int, int, int] | None:
    """(IN_BITS, IN_SIGNED, W_BITS, W_SIGNED, PE, SIMD) of a matrix-vector layer with integer
    products, the operands of ``MUL_STYLE = "pack"``; None for any other node."""
    if node.kind != "matvec" or node.fold is None or node_product(graph, node) is None:
        return None
    in_t, wt = graph.value(node.inputs[0]).dtype, node.op.wtype
    return in_t.bits, int(in_t.signed), wt.bits, int(wt.signed), node.fold.pe, node.fold.simd


def mul_dsps(product, pack, mul: str, family: str | None = None) -> int:
    """DSPs of a node's products (``node_product``, ``node_pack``) under the style ``mul`` on a
    board of ``family`` (the packed operand's port: :func:`~gatesmith.ir.schedule.cost.pack_a_max`)."""
    if product is None or mul == "lut":
        return 0
    if mul == "pack" and pack is not None:
        return cost.pack_dsps(*pack, a_max=cost.pack_a_max(family))
    return product[2] * cost._mult_dsps(product[0], product[1], family)


def _pack_error(name: str, graph: Graph, node: Node, pack, family: str | None = None) -> ImplError:
    if pack is None:
        return ImplError(f"layer {name!r} mul_style 'pack': a {node.kind} layer has no two rows sharing an input; "
                         "expected a matvec layer with integer inputs and weights")
    pw, xe = cost.pack_widths(*pack[:4])
    in_t, wt = graph.value(node.inputs[0]).dtype, node.op.wtype
    a_max = cost.pack_a_max(family)
    dsp = "DSP48E2" if a_max == cost.PACK_A_MAX_DSP48E2 else "DSP48E1"
    return ImplError(f"layer {name!r} mul_style 'pack': {in_t} inputs x {wt} weights need a {pw} x {xe}-bit "
                     f"multiplier, expected at most {a_max} x {cost.PACK_PORTS[1]} ({dsp})")


def inferred_impl(depth_width, product, model: dict | None = None) -> Impl:
    """What synthesis picks on its own for this memory shape and product (cost.py's rules)."""
    model = cost.load_model() if model is None else model
    mem = mul = None
    if depth_width is not None:
        mem = "bram" if cost._in_bram(*depth_width, model) else "lutram"
    if product is not None:
        mul = "dsp" if cost._mult_dsps(product[0], product[1]) else "lut"
    return Impl(mem=mem, mul=mul)


def _check(value: str, allowed, what: str) -> str:
    if value not in allowed:
        raise ImplError(f"{what} {value!r}: expected one of {', '.join(allowed)}")
    return value


@dataclass(frozen=True, kw_only=True)
class ChooseImpl:
    """Record ``Node.impl`` on every node with a constant memory or integer products.

    ``mem`` / ``mul``: the global choice (``auto``: decided here); ``layers``: per-node
    choices ``(node name, mem, mul)`` that win over the global one (``auto`` there: the
    global one).  ``lut`` / ``dsp`` / ``bram18``: the board's resources (None: unlimited);
    ``uram``: the board's URAM288s (None: unlimited, 0: a ``uram`` choice is an error naming
    ``board``).  ``family``: the board's (``xcup`` / ``xcu``: DSP48E2, whose 27-bit port packs
    wider pairs; anything else: DSP48E1's 25 bits).
    """

    name: ClassVar[str] = "choose_impl"
    mem: str = "auto"
    mul: str = "auto"
    layers: tuple[tuple[str, str, str], ...] = ()
    lut: int | None = None
    dsp: int | None = None
    bram18: int | None = None
    auto_uram: bool = True  # may auto move weights to URAM when block RAM overflows (needs uram > 0)
    uram: int | None = None
    board: str = ""
    family: str = ""

    def run(self, graph: Graph) -> Graph:
        _check(self.mem, MEM_STYLES, "--mem-style")
        _check(self.mul, MUL_STYLES, "--mul-style")
        per = {}
        for name, mem, mul in self.layers:
            graph.node(name)  # KeyError names an unknown node
            per[name] = (_check(mem, MEM_STYLES, f"layer {name!r} mem_style"),
                         _check(mul, MUL_STYLES, f"layer {name!r} mul_style"))
        model = cost.load_model()
        shapes = {n.name: (node_memory(graph, n), node_product(graph, n), node_pack(graph, n)) for n in graph.nodes}
        chosen: dict[str, list] = {}
        auto_mem, auto_mul = set(), set()
        a_max = cost.pack_a_max(self.family)
        for n in graph.nodes:
            mem_shape, prod, pack = shapes[n.name]
            if mem_shape is None and prod is None:
                continue
            want_mem, want_mul = per.get(n.name, ("auto", "auto"))
            want_mem = self.mem if want_mem == "auto" else want_mem
            want_mul = self.mul if want_mul == "auto" else want_mul
            base = inferred_impl(mem_shape, prod, model)
            mem, mul = base.mem, base.mul
            if want_mem == "uram" and n.kind != "matvec":
                if per.get(n.name, ("", ""))[0] == "uram":
                    raise ImplError(f"layer {n.name!r} mem_style 'uram': a {n.kind} layer's memory is a ROM; "
                                    "expected a matvec layer (weights in URAM are loaded at run time)")
                want_mem = "auto"  # a global uram: matrix-vector weights only
            if want_mem == "uram" and mem_shape is not None and self.uram == 0:
                raise ImplError(f"layer {n.name!r} mem_style 'uram': board {self.board or '?'!r} has no URAM; "
                                "expected a board with uram > 0 (UltraScale+, e.g. zcu104)")
            if mem_shape is not None:
                if want_mem == "auto":
                    auto_mem.add(n.name)
                else:
                    mem = want_mem
            if prod is not None:
                if want_mul == "pack" and (pack is None or not cost.pack_fits(*pack[:4], a_max)):
                    if per.get(n.name, ("", ""))[1] == "pack" or pack is not None:  # a global pack: vvu at dsp
                        raise _pack_error(n.name, graph, n, pack, self.family)
                    want_mul = "dsp"
                if want_mul == "auto":
                    auto_mul.add(n.name)
                else:
                    mul = want_mul
            chosen[n.name] = [mem, mul]
        self._balance(chosen, shapes, auto_mem, auto_mul, model, {n.name for n in graph.nodes if n.kind == "matvec"})
        nodes = [n.with_(impl=Impl(mem=chosen[n.name][0], mul=chosen[n.name][1])) if n.name in chosen else n
                 for n in graph.nodes]
        return graph.replace_nodes(nodes)

    def _balance(self, chosen, shapes, auto_mem, auto_mul, model, matvec=frozenset()) -> None:
        order = [n for n in chosen]  # graph order: deterministic
        # ROMs whose LUTs cost more than their block RAMs at the board's exchange rate
        if self.lut and self.bram18:
            rate = self.lut / self.bram18
            for n in order:
                if n in auto_mem and chosen[n][0] == "lutram":
                    d, w = shapes[n][0]
                    if cost._rom_luts(d, w) > rate * cost.rom_bram18_blocks(d, w):
                        chosen[n][0] = "bram"
        if self.bram18 is not None:
            def brams(n):
                return cost.rom_bram18_blocks(*shapes[n][0])
            total = sum(brams(n) for n in order if chosen[n][0] == "bram")
            if self.auto_uram and self.uram and total > self.bram18:
                total = self._weights_to_uram(chosen, shapes, [n for n in order if n in auto_mem and n in matvec],
                                              order, total, brams)
            # least-used first: fewest bits per RAMB18
            for n in sorted((n for n in order if n in auto_mem and chosen[n][0] == "bram"),
                            key=lambda n: (shapes[n][0][0] * shapes[n][0][1] / brams(n), order.index(n))):
                if total <= self.bram18:
                    break
                chosen[n][0] = "lutram"
                total -= brams(n)
        if self.dsp is not None:
            def dsps(n, mul=None):
                return mul_dsps(shapes[n][1], shapes[n][2], mul or chosen[n][1], self.family)
            total = sum(dsps(n) for n in order)
            # two products per DSP where the widths allow it, the largest saving first
            packable = [n for n in order if n in auto_mul and chosen[n][1] == "dsp" and shapes[n][2] is not None
                        and cost.pack_fits(*shapes[n][2][:4], cost.pack_a_max(self.family))
                        and dsps(n, "pack") < dsps(n)]
            for n in sorted(packable, key=lambda n: (dsps(n, "pack") - dsps(n), order.index(n))):
                if total <= self.dsp:
                    break
                total -= dsps(n) - dsps(n, "pack")
                chosen[n][1] = "pack"
            # then the narrowest products to LUTs: the cheapest there
            for n in sorted((n for n in order if n in auto_mul and chosen[n][1] in ("dsp", "pack") and dsps(n)),
                            key=lambda n: (shapes[n][1][0] * shapes[n][1][1], order.index(n))):
                if total <= self.dsp:
                    break
                total -= dsps(n)
                chosen[n][1] = "lut"


    def _weights_to_uram(self, chosen, shapes, candidates, order, total: int, brams) -> int:
        """Move the largest block-RAM weight ROMs of ``candidates`` (auto matrix-vector layers) to
        URAM while the RAMB18s overflow and the URAM288s fit; the RAMB18s left."""
        def urams(n):
            return cost.uram_blocks(*shapes[n][0])
        used = sum(urams(n) for n in order if chosen[n][0] == "uram")
        for n in sorted((n for n in candidates if chosen[n][0] == "bram"), key=lambda n: (-brams(n), order.index(n))):
            if total <= self.bram18:
                break
            if used + urams(n) <= self.uram:
                chosen[n][0] = "uram"
                used += urams(n)
                total -= brams(n)
        return total


def forced_impl(graph: Graph, node: Node) -> Impl:
    """The parts of ``node.impl`` that differ from what synthesis infers anyway (None
    elsewhere): what a code generator must state, so that default choices render as before."""
    if node.impl is None:
        return Impl()
    mem_shape, prod = node_memory(graph, node), node_product(graph, node)
    base = inferred_impl(mem_shape, prod)
    return Impl(mem=node.impl.mem if mem_shape is not None and node.impl.mem != base.mem else None,
                mul=node.impl.mul if prod is not None and node.impl.mul != base.mul else None)


def rtl_style_params(node: Node, *, depth: int, width: int, operands=None) -> dict[str, str]:
    """``MEM_STYLE`` / ``MUL_STYLE`` for the node's core, whose memory is ``depth`` x ``width``
    and whose products (``operands``: input type, weight type, lanes; None: no multiplier) the
    code generator knows: only where ``node.impl`` differs from what synthesis infers anyway
    (so a design with default choices renders as before).  A matrix-vector ``pack`` whose
    packed operand is wider than DSP48E1's 25 bits also gets ``PACK_A_MAX`` = 27: :class:`ChooseImpl`
    lets such a pack through only on a DSP48E2 family, so the graph alone says the port is there."""
    if node.impl is None:
        return {}
    mem_shape, prod = (depth, width), (_product(*operands) if operands is not None else None)
    base = inferred_impl(mem_shape, prod)
    out = {}
    if mem_shape is not None and node.impl.mem is not None and node.impl.mem != base.mem:
        out["MEM_STYLE"] = _RTL_MEM[node.impl.mem]
    if prod is not None and node.impl.mul is not None and node.impl.mul != base.mul:
        out["MUL_STYLE"] = _RTL_MUL[node.impl.mul]
        if node.impl.mul == "pack" and node.kind == "matvec":
            in_t, wt = operands[0], operands[1]
            if cost.pack_widths(in_t.bits, int(in_t.signed), wt.bits, int(wt.signed))[0] > cost.PACK_PORTS[0]:
                out["PACK_A_MAX"] = cost.PACK_A_MAX_DSP48E2
    return out
