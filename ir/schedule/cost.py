"""Resource cost model of the RTL cores (LUT, FF, DSP, BRAM18, URAM), calibrated against Yosys.

Each core kind has a few physically motivated features of its parameters (lanes x bits of
the datapath, accumulator bits, ROM bits kept in LUTs, buffer bits, a constant); LUT and FF
are non-negative linear combinations of them with coefficients fitted to a sweep of
single-core ``synth_xilinx`` runs (``benchmarks/calibrate_cost.py``, data in
``benchmarks/results/cost_sweep.json``, coefficients in ``cost_model.json`` next to this
file).  DSP and BRAM18 follow the mapping rules Yosys applies:

* a multiplier goes to DSP48 slices when both operands (signed, so an unsigned operand
  counts one bit more) are at least 2 bits and the product at least 9 bits; one DSP per
  25x18 tile; XNOR/popcount (bipolar x bipolar) and conditional negation (bipolar x integer)
  never use DSPs;
* a ``$readmemh`` ROM goes to block RAM when it holds at least ``bram_min_bits`` bits
  (fitted) and is at least ``bram_min_depth`` words deep; the count is the best RAMB18
  aspect ratio (16Kx1 .. 512x36), or fewer where Yosys packs the words over RAMB36 parity bits
  (:func:`rom_bram18_blocks`, plus the LUTs of its bank mux, :func:`rom_bank_luts`); smaller
  ROMs become LUT logic (a LUT6 holds 64 bits).
  Only the ROM's live bit columns (``ROM_LIVE``: not constant over its words, counted from
  the ``.mem`` file the design ships) cost logic: trained weights and thresholds have
  constant high bits that random sweep contents lack.  Thresholds count the distinct ones
  (``ROM_COLS``, :func:`rom_columns`: Yosys merges equal and complementary columns, such as
  the sign bits of a ladder crossing zero); the sweep has trained-like ladders besides
  random thresholds.

A core's ``MEM_STYLE`` ("distributed" / "block") and ``MUL_STYLE`` ("lut") parameters
override these rules the way Yosys honours them (``tests/test_impl_styles.py``); ``MUL_STYLE =
"pack"`` on gs_mvu takes one DSP per pair of rows (:func:`pack_dsps`), and its extra fabric
(the paired rows' adder trees and registers, which Yosys otherwise folds into the DSPs) has
coefficients measured from ``synth_xilinx`` runs, not fitted by the sweep.  URAM288 has no
initial contents on UltraScale+, so a ROM cannot live there: URAM counts only gs_mvu_wl's
``MEM_STYLE "ultra"`` weights (:func:`uram_blocks`), and their loader ``gs_wload`` has a fixed
measured table (:func:`_f_wload`), not fitted either.  :func:`design_cost` applies the model to a
rendered :class:`~gatesmith.hls_templates.rtl.RtlDesign` (every instance of its top: cores,
FIFOs, width converters, duplicators); :func:`annotate_estimate` adds the result to
``reports/estimate.json`` with the keys of ``reports/synth.json``.

Two corrections follow what ``gatesmith synth`` does: on an UltraScale+ family (``xcup``) the
matrix-vector and requantizer coefficients are that family's own (``families`` in the model,
fitted to a ``-family xcup`` sweep by ``fit(rows, base=, family=)``), and an instance of
:data:`HUGE_LUTS` or more, which is LUT-mapped with ``abc -luts`` instead of abc9, has its LUTs
scaled by the measured ``abc_lut_factor`` (:func:`mapped_cost`).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path

__all__ = ["RESOURCE_KEYS", "MODEL_PATH", "HUGE_LUTS", "core_cost", "mapped_cost", "design_cost", "annotate_estimate", "top_instances", "with_rom_live", "rom_live_bits", "rom_columns", "rom_stats", "row_params", "fit",
           "format_fit_report", "load_model", "CORE_KINDS"]

RESOURCE_KEYS = ("lut", "ff", "dsp", "bram18", "uram")
MODEL_PATH = Path(__file__).with_name("cost_model.json")

#: module name -> cost-model kind
CORE_KINDS = {
    "gs_mvu": "matvec", "gs_thresholds": "threshold", "gs_requant": "requant", "gs_swg": "swg", "gs_pool": "pool",
    "gs_vvu": "vvu", "gs_add": "add", "gs_concat": "concat", "gs_dup": "dup", "gs_fifo": "fifo", "gs_dwc": "dwc",
    "gs_labelselect": "labelselect", "gs_wload": "wload",
}

#: RAMB18 aspect ratios (depth, width) in simple dual-port / ROM use
_BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


def _clog2(n: int) -> int:
    return max(1, (int(n) - 1).bit_length())


def bram18_blocks(depth: int, width: int) -> int:
    """RAMB18s for a ``depth`` x ``width`` memory (best aspect ratio)."""
    return min(math.ceil(width / w) * math.ceil(depth / d) for d, w in _BRAM18_SHAPES)


def rom_bram18_blocks(depth: int, width: int) -> int:
    """RAMB18s of a ROM as Yosys 0.70 ``synth_xilinx`` maps it: the best aspect ratio
    (:func:`bram18_blocks`), or fewer where its memory_libmap packs the words over RAMB36 data
    and parity bits - then about ceil(bits / 36 Kib) RAMB36 per slice of at most 72 bits.
    Measured on 40 ``gs_rom`` shapes, most of non-power-of-two depth (ragged PEs give NF*SF
    words): 5120 x 20 takes 3 RAMB36 where one aspect ratio needs 9 RAMB18, 7488 x 80 takes 18
    (two 40-bit slices of 9); this rule is within one RAMB18 of all of them and exact on the
    sweep's power-of-two ROMs."""
    n = math.ceil(width / 72)
    packed = n * 2 * math.ceil(depth * math.ceil(width / n) / 36864)
    return min(bram18_blocks(depth, width), packed)


#: RAMB36 aspect ratios (depth, width): each counts two RAMB18
_BRAM36_SHAPES = tuple((2 * d, w) for d, w in _BRAM18_SHAPES) + ((512, 72),)
#: LUTs per bit of a packed ROM's read path (:func:`rom_bank_luts`): the mean over the measured ones
PACKED_ROM_LUTS_PER_BIT = 3
#: LUTs per bit per extra depth bank of a ROM's output mux (:func:`rom_bank_luts`)
BANK_MUX_LUTS = 0.6


def rom_bank_luts(depth: int, width: int) -> int:
    """LUTs Yosys 0.70 ``synth_xilinx`` adds to a block-RAM ROM to select among the blocks that
    hold different words: a ROM of non-power-of-two depth (ragged PEs give NF*SF words) is split
    over depth banks, whose outputs a mux per bit picks. The layout is the one with the fewest
    RAMB18 (a RAMB36 counts two), of those the fewest banks: round(0.6 (banks - 1)) LUTs per bit
    (LUT3/LUT5 trees: 3 banks 1, 5 banks 2, 7 banks 4, 9 banks 5); a packed ROM
    (:func:`rom_bram18_blocks` below one aspect ratio: words spread over data and parity bits)
    about 3 per bit (1 to 5.4 measured). Measured on 40 ``gs_rom`` shapes (``results/rom_bram.json``,
    its ``lut`` against ``lut_model``): 3328 x 180 takes 35 RAMB18 in 7 banks and 720 LUTs, what
    this gives; 4096 x 180 takes 40 RAMB18 and none."""
    if rom_bram18_blocks(depth, width) < bram18_blocks(depth, width):
        return PACKED_ROM_LUTS_PER_BIT * width
    _, banks = min((math.ceil(width / w) * math.ceil(depth / d) * k, math.ceil(depth / d))
                   for shapes, k in ((_BRAM18_SHAPES, 1), (_BRAM36_SHAPES, 2)) for d, w in shapes)
    return width * round(BANK_MUX_LUTS * (banks - 1))


#: memory classes with their own block-RAM thresholds: constant ROMs ($readmemh) and read/write RAMs
_MEM_CLASS = {"matvec": "rom", "vvu": "rom", "threshold": "rom", "requant": "rom", "fifo": "ram", "swg": "ram"}


def _in_bram(depth: int, width: int, model: dict, mem: str = "rom") -> bool:
    r = model.get("rules", {}).get(mem, {})
    return depth * width >= r.get("bram_min_bits", 4096) and depth >= r.get("bram_min_depth", 64)


#: ``MEM_STYLE`` of a core's ROM -> block RAM or not (None: Yosys' own rule, :func:`_in_bram`)
_MEM_STYLES = {"auto": None, "distributed": False, "block": True}
#: ``MUL_STYLE`` of a core's products -> may they map to DSPs
_MUL_STYLES = {"auto": True, "dsp": True, "lut": False, "pack": True}
#: ``MUL_STYLE = "pack"`` (gs_mvu.v ``g_pack``): the packed weight operand and the input must fit
#: one DSP's signed multiplier: DSP48E1 (7-series) 25 x 18
PACK_PORTS = (25, 18)
#: Yosys ``synth_xilinx`` families whose DSP is a DSP48E2 (UltraScale, UltraScale+): 27 x 18.
#: gs_mvu's ``PACK_A_MAX = 27`` lets a packed operand of 26 or 27 bits through there; Yosys
#: 0.70 ``-family xcup`` maps each such pair to one DSP48E2 (measured, gs_mvu PE 2-4 x SIMD 1-2:
#: u8 x s8 26 x 9, s8 x u8 26 x 8, u8 x u8 27 x 9, u9 x s8 27 x 10, s18 x s4 27 x 18;
#: ``tests/test_impl_styles.py``; the same u8 x s8 pair on xc7 takes two DSP48E1s). Plain products
#: there too: s26 x s4 and s27 x s9 one DSP48E2, s28 x s4 two (xc7: s26 x s4 two), so
#: :func:`_mult_dsps` tiles 27 x 18 on these families (``core_cost(..., family=)``)
DSP48E2_FAMILIES = frozenset({"xcup", "xcu"})
PACK_A_MAX_DSP48E2 = 27


def pack_a_max(family: str | None = None) -> int:
    """The packed operand's port width on ``family`` (None: any family, DSP48E1's 25)."""
    return PACK_A_MAX_DSP48E2 if family in DSP48E2_FAMILIES else PACK_PORTS[0]


def pack_widths(in_bits: int, in_signed: int, w_bits: int, w_signed: int) -> tuple[int, int]:
    """(packed weight operand, input) widths of gs_mvu's "pack" multiplier: PS = XE + WE (the
    exact product width, operands as signed values) plus the high weight's W_BITS + 1 bits, and XE."""
    xe, we = _sbits(in_bits, in_signed), _sbits(w_bits, w_signed)
    return xe + we + w_bits + 1, xe


def pack_fits(in_bits: int, in_signed: int, w_bits: int, w_signed: int, a_max: int = PACK_PORTS[0]) -> bool:
    """Whether gs_mvu's "pack" multiplier fits an ``a_max`` x 18 port (:func:`pack_a_max`: 25 for
    DSP48E1, 27 for DSP48E2; else the core fails elaboration)."""
    pw, xe = pack_widths(in_bits, in_signed, w_bits, w_signed)
    return pw <= a_max and xe <= PACK_PORTS[1]


def pack_dsps(in_bits: int, in_signed: int, w_bits: int, w_signed: int, pe: int, simd: int,
              a_max: int = PACK_PORTS[0]) -> int:
    """DSP tiles of a gs_mvu under "pack" with an ``a_max``-bit packed port: per SIMD lane, one
    packed multiplier per pair of rows, and the last row of an odd PE multiplied alone."""
    pw, xe = pack_widths(in_bits, in_signed, w_bits, w_signed)
    alone = _mult_dsps(xe, _sbits(w_bits, w_signed))
    pair = 1 if pw <= a_max and xe <= PACK_PORTS[1] else _mult_dsps(pw, xe)
    return simd * (pe // 2 * pair + pe % 2 * alone)


def _rom_bram(depth: int, width: int, p: dict, model: dict) -> int:
    """RAMB18s of a core's ROM under its ``MEM_STYLE`` (0: LUT logic)."""
    style = p.get("MEM_STYLE", "auto")
    if style not in _MEM_STYLES:
        raise ValueError(f"MEM_STYLE {style!r}: expected one of {', '.join(_MEM_STYLES)}")
    block = _MEM_STYLES[style]
    if block is None:
        block = _in_bram(depth, width, model)
    return rom_bram18_blocks(depth, width) if block else 0


def _style_mult_dsps(a_bits: int, b_bits: int, p: dict) -> int:
    """DSP tiles of one a x b product under the core's ``MUL_STYLE`` (lut: none)."""
    style = p.get("MUL_STYLE", "auto")
    if style not in _MUL_STYLES:
        raise ValueError(f"MUL_STYLE {style!r}: expected one of {', '.join(_MUL_STYLES)}")
    return _mult_dsps(a_bits, b_bits, p.get("FAMILY")) if _MUL_STYLES[style] else 0


#: gs_mvu / gs_vvu / gs_thresholds / gs_requant keep a ROM of up to this many words in their own
#: module (``ROM_INLINE``); a deeper one is a ``gs_rom``
ROM_INLINE = 4


def _rom_luts(depth: int, cols: int) -> float:
    """LUTs of a ``gs_rom`` kept in logic with ``cols`` distinct live columns, as Yosys
    ``synth_xilinx`` maps it (measured on gs_rom alone, random and trained-like contents, 16-256
    columns): a column of up to 2 words is an address bit or its complement; one LUT6 per 64
    words of a column, its 2:1 and 4:1 output muxes free in MUXF7 / MUXF8 up to 256 words (64:
    1.0, 100 and 128: 2.0-2.6, 196 and 256: 4.0-4.2 LUTs a column); deeper, one more LUT per 4
    chunks (400: 8.9-9.2, 512: 10.5-12.2)."""
    if depth <= 2:
        return 0.5 * cols
    chunks = math.ceil(depth / 64)
    return float(cols * (chunks + (math.ceil(chunks / 4) if depth > 256 else 0)))


def _mult_dsps(a_bits: int, b_bits: int, family: str | None = None) -> int:
    """DSP48 tiles of one signed a x b multiplier as Yosys maps it (0: LUT logic): 25 x 18 tiles
    (DSP48E1; None: any family), 27 x 18 on a DSP48E2 family."""
    if a_bits < 2 or b_bits < 2 or a_bits + b_bits < 9:
        return 0
    a, b = max(a_bits, b_bits), min(a_bits, b_bits)
    w = pack_a_max(family)
    return min(math.ceil(a / w) * math.ceil(b / 18), math.ceil(a / 18) * math.ceil(b / w))


def _tree_bits(n: int, width: int) -> int:
    """Adder bits of a balanced tree summing ``n`` terms of ``width`` bits: level l has
    floor(terms / 2) adders of width + l bits (an odd term passes through)."""
    total, level = 0, 0
    while n > 1:
        level += 1
        total += n // 2 * (width + level)
        n = (n + 1) // 2
    return total


def _sbits(bits: int, signed: int, bipolar: int = 0) -> int:
    return 1 if bipolar else int(bits) + (0 if signed else 1)


# --------------------------------------------------------------------------- features per kind
# Each returns (features for LUT, features for FF, dsp, bram18, memory) with named features.


def _f_matvec(p: dict, model: dict):
    pe, simd, mw, mh = p["PE"], p["SIMD"], p["MW"], p["MH"]
    lanes = pe * simd
    ib, wb, acc = p["IN_BITS"], p["W_BITS"], p["ACC_BITS"]
    ibip, wbip = p.get("IN_BIPOLAR", 0), p.get("W_BIPOLAR", 0)
    sf, nf = mw // simd, mh // pe
    depth, width = nf * sf, lanes * wb
    live = p.get("ROM_LIVE", width)
    bram = _rom_bram(depth, width, p, model)
    rom = rom_bank_luts(depth, width) if bram else _rom_luts(depth, p.get("ROM_COLS", live))
    if ibip and wbip:
        mode, prod = "xnor", 1
        dsp_per = 0
    elif ibip or wbip:
        mode, prod = "negate", (wb if ibip else ib) + 1
        dsp_per = 0
    else:
        a, b = _sbits(ib, p.get("IN_SIGNED", 1)), _sbits(wb, p.get("W_SIGNED", 1))
        dsp_per = _style_mult_dsps(a, b, p)
        mode, prod = ("dsp" if dsp_per else "lutmul"), a + b
        if p.get("MUL_STYLE") == "lut":  # the core's shift-and-add product, not Yosys' own LUT multiplier
            mode = "shiftadd"
    # "pack" (gs_mvu.v g_pack): one DSP per pair of rows; the paired rows' sums and registers stay
    # in fabric (Yosys keeps a plain product's adder tree in the DSP cascade)
    pack = p.get("MUL_STYLE") == "pack" and not (ibip or wbip)
    paired = 2 * (pe // 2) if pack else 0
    if pack:
        mode = "dsp"
    sum_bits = prod + _clog2(simd)
    lut = {
        "xnor_lanes": lanes if mode == "xnor" else 0,
        "neg_lane_bits": lanes * prod if mode == "negate" else 0,
        "lutmul_bits": lanes * ib * wb if mode == "lutmul" else 0,
        # WV partial products of XV+WV bits (gs_mvu.v mul_lut: XV = IN_BITS+1, WV = W_BITS+1)
        "shiftadd_bits": lanes * (ib + wb + 2) * (wb + 1) if mode == "shiftadd" else 0,
        "tree_bits": pe * _tree_bits(simd, prod),
        "acc_bits": pe * acc,
        "rom_luts": rom,
        "dsp_sum_bits": lanes * sum_bits if mode == "dsp" else 0,
        "buf_bits": simd * ib * math.ceil(sf / 32),
        "pack_tree_bits": paired * (simd - 1) * acc,
        "pack_rows": paired,
        "one": 1,
    }
    ff = {
        "prod_bits": lanes * prod if mode != "dsp" else 0,
        "tree_bits": pe * sum_bits,
        "acc_bits": pe * acc,
        "rom_width": live if not bram else 0,
        "in_bits": simd * ib,
        "addr": _clog2(depth) + _clog2(sf),
        "pack_acc_bits": paired * acc,
        "one": 1,
    }
    if pack:
        return lut, ff, pack_dsps(ib, p.get("IN_SIGNED", 1), wb, p.get("W_SIGNED", 1), pe, simd,
                                  p.get("PACK_A_MAX", PACK_PORTS[0])), bram
    return lut, ff, lanes * dsp_per, bram


def _f_vvu(p: dict, model: dict):
    pe, c, pos = p["PE"], p["C"], p["POS"]
    ib, wb, acc = p["IN_BITS"], p["W_BITS"], p["ACC_BITS"]
    depth, width = pos * (c // pe), pe * wb
    bram = _rom_bram(depth, width, p, model)
    a, b = _sbits(ib, p.get("IN_SIGNED", 0), p.get("IN_BIPOLAR", 0)), _sbits(wb, p.get("W_SIGNED", 1),
                                                                            p.get("W_BIPOLAR", 0))
    dsp_per = 0 if (p.get("IN_BIPOLAR") or p.get("W_BIPOLAR")) else _style_mult_dsps(a, b, p)
    shiftadd = p.get("MUL_STYLE") == "lut" and not (p.get("IN_BIPOLAR") or p.get("W_BIPOLAR"))
    lut = {"lutmul_bits": pe * ib * wb if not (dsp_per or shiftadd) else 0,
           "shiftadd_bits": pe * (ib + wb + 2) * (wb + 1) if shiftadd else 0, "acc_bits": pe * acc,
           "rom_luts": rom_bank_luts(depth, width) if bram else _rom_luts(depth, p.get("ROM_COLS", p.get("ROM_LIVE", width))),
           "one": 1}
    ff = {"acc_bits": pe * acc, "acc_mem": pe * acc * (c // pe > 1), "rom_width": width, "one": 1}
    return lut, ff, pe * dsp_per, bram


def _f_threshold(p: dict, model: dict):
    pe, c, n, tb = p["PE"], p["C"], p["N"], p["T_BITS"]
    depth, width = c // pe, pe * n * tb
    bram = _rom_bram(depth, width, p, model)
    live = p.get("ROM_LIVE", width)
    # LUTs: every threshold bit costs about the same in the comparators whatever it holds (a
    # carry-chain bit against a constant or a ROM bit); above ROM_INLINE words the ROM is a
    # gs_rom of its own, its distinct live columns (ROM_COLS, :func:`_rom_luts`); up to that it
    # stays in gs_thresholds and merges into the comparators (the address is one or two more
    # inputs of their LUTs), and Yosys then registers its address instead of its wide output
    inline = depth <= ROM_INLINE and not bram
    lut = {"cmp_bits": pe * n * tb,
           "rom_luts": rom_bank_luts(depth, width) if bram else 0.0 if inline else _rom_luts(depth, p.get("ROM_COLS", live)),
           "count_bits": pe * n * _clog2(n + 1), "one": 1}
    ff = {"out_bits": pe * p["OUT_BITS"], "in_bits": pe * p["IN_BITS"],
          "rom_width": live if not (bram or inline) else 0, "addr": _clog2(depth), "one": 1}
    return lut, ff, 0, bram


def _f_requant(p: dict, model: dict):
    pe, c = p["PE"], p["C"]
    ib, mb, bb = p["IN_BITS"], p["M_BITS"], p["B_BITS"]
    depth, width = c // pe, pe * (mb + bb)
    bram = rom_bram18_blocks(depth, width) if _in_bram(depth, width, model) else 0
    # gs_requant multiplies the signed IN_BITS input by the signed M_BITS multiplier (Yosys
    # synth_xilinx, xc7: 4 x 4 in LUTs, 5 x 4 and 25 x 8 one DSP48E1; xcup: 27 x 8 one DSP48E2)
    dsp_per = _mult_dsps(ib, mb, p.get("FAMILY")) if p.get("USE_MULT", 1) and mb > 1 else 0
    prod = ib + (mb if p.get("USE_MULT", 1) else 0)
    lut = {"lutmul_bits": pe * ib * mb if (p.get("USE_MULT", 1) and not dsp_per) else 0,
           "add_bits": pe * max(prod, bb), "out_bits": pe * p["OUT_BITS"],
           "rom_luts": rom_bank_luts(depth, width) if bram else _rom_luts(depth, p.get("ROM_COLS", p.get("ROM_LIVE", width))),
           "one": 1}
    ff = {"prod_bits": pe * max(prod, bb), "in_bits": pe * ib, "out_bits": pe * p["OUT_BITS"],
          "rom_width": p.get("ROM_LIVE", width) if not bram else 0, "one": 1}
    return lut, ff, pe * dsp_per, bram


def _f_fifo(p: dict, model: dict):
    w, d = p["WIDTH"], p["DEPTH"]
    bram = bram18_blocks(d, w) if _in_bram(d, w, model, "ram") else 0
    lutram = 0 if bram or d <= 2 else w * math.ceil(d / 64) / 3 * 2  # RAM64M: 3 bits x 64 in 4 LUTs
    reg = d <= 2  # a two-entry FIFO is registers, deeper ones a memory
    lut = {"lutram": lutram, "width": 0 if reg else w, "reg_width": w + 4 if reg else 0, "addr": _clog2(d),
           "one_mem": int(not reg)}
    ff = {"width": w, "reg_bits": w * d if reg else 0, "addr": _clog2(d), "one": 1}
    return lut, ff, 0, bram


def _f_dwc(p: dict, model: dict):
    # gs_dwc.v: a buffer of CAP = IN + OUT + min(IN, OUT) - 1 elements, an input beat written at
    # one of OUT + min(IN, OUT) offsets (a mux per buffer bit), an output shift; a ragged input
    # (GROUP_BEATS, LAST_ELEMS) adds a beat counter and one more write offset per group.
    # The fill level only takes multiples of g = gcd(IN, OUT), so a buffer element has at most
    # (OUT + min(IN, OUT)) / g candidate sources, and never more than IN / g: for an integer
    # ratio (128 -> 256) that is one or two, not min(IN, offsets) (synth: 1281 LUTs where the
    # min(IN, offsets) count gave 4022). The clog2(fan_in + 1) counts the hold input.
    ie, oe, eb = p["IN_ELEMS"], p["OUT_ELEMS"], p["ELEM_BITS"]
    cap = ie + oe + min(ie, oe) - 1
    ragged = p.get("LAST_ELEMS", ie) != ie
    g = math.gcd(ie, oe, p.get("LAST_ELEMS", ie))  # a ragged group's last beat moves the fill level by LAST_ELEMS
    fan_in = min(ie, oe + min(ie, oe)) // g
    lut = {"buf_bits": cap * eb, "mux_bits": cap * eb * _clog2(fan_in + 1), "ragged": int(ragged), "one": 1}
    ff = {"buf_bits": cap * eb, "count": _clog2(cap + 1) + (_clog2(p.get("GROUP_BEATS", 1)) if ragged else 0),
          "one": 1}
    return lut, ff, 0, 0


def _f_dup(p: dict, model: dict):
    lut = {"bits": p["WIDTH"] * p["N"], "one": 1}
    ff = {"bits": p["WIDTH"] * p["N"], "one": 1}
    return lut, ff, 0, 0


def _f_swg(p: dict, model: dict):
    c, w, eb, simd = p["C"], p["IFM_W"], p["ELEM_BITS"], p["SIMD"]
    # KP > 1 (parallel windows): KP read ports on the ring, not in the fitted sweep. Counted
    # as KP copies of the memory (a copy a read port: Yosys replicates block RAM, or maps
    # the ports to LUT RAM), KP output lanes (a lane's read register and skid slots: FF
    # width x (2 KP - 1)) and an address adder a port. Checked on single-core synth_xilinx
    # runs (3x3, stride 1, SIMD = C): 32x32, C=3, 8 bit, KP 1/3/9: LUT 259/641/1491, FF
    # 151/321/759, BRAM18 1/0/0 (this model: LUT 445/1064/2919, FF 128/251/621, BRAM 0);
    # 30x30, C=64, 1 bit, KP 1/3: BRAM18 2/6, LUT 357/623, FF 220/478 (model: BRAM 0/0, LUT
    # 885/2384, FF 156/392). So LUTs are over-counted about 2x for KP > 1, and block RAM
    # may be under-counted (as for KP = 1): conservative in logic only.
    kp = p.get("KP", 1)
    rows = p["K_H"] + p.get("S_H", 1) + p.get("RING_EXTRA", 0)
    depth, width = rows * w * (c // simd), simd * eb
    bram = kp * bram18_blocks(depth, width) if _in_bram(depth, width, model, "ram") else 0
    lutram = 0 if bram else kp * width * math.ceil(depth / 64) / 3 * 2
    lut = {"lutram": lutram, "width": kp * width, "addr": _clog2(depth) * (3 + kp), "one": 1}
    ff = {"width": (2 * kp - 1) * width, "addr": _clog2(depth) * (3 + kp), "one": 1}
    return lut, ff, 0, bram


def _f_pool(p: dict, model: dict):
    pe, c, ob = p["PE"], p["C"], p["OUT_BITS"]
    groups = c // pe
    lut = {"lane_bits": pe * ob, "mem_bits": pe * ob * math.ceil(groups / 64) if groups > 1 else 0, "one": 1}
    ff = {"lane_bits": pe * ob, "one": 1}
    return lut, ff, 0, 0


def _const_mult_dsps(bits: int, m: int, family: str | None = None) -> int:
    """DSPs of x * m for a constant m: none for 0, +-1 or a power of two (a shift)."""
    m = abs(int(m))
    if m <= 1 or m & (m - 1) == 0:
        return 0
    return _mult_dsps(bits, m.bit_length() + 1, family)


def _f_add(p: dict, model: dict):
    pe, ob = p["PE"], p["OUT_BITS"]
    dsp = sum(_const_mult_dsps(_sbits(p[f"{x}_BITS"], p[f"{x}_SIGNED"], p[f"{x}_BIPOLAR"]), p[f"M_{x}"],
                               p.get("FAMILY")) for x in ("A", "B"))
    mulbits = sum(abs(int(m)).bit_length() - 1 for m in (p["M_A"], p["M_B"]))
    lut = {"lane_bits": pe * ob, "mul_bits": pe * ob * mulbits if not dsp else 0, "one": 1}
    ff = {"lane_bits": pe * ob, "in_bits": pe * (p["A_BITS"] + p["B_BITS"]), "one": 1}
    return lut, ff, pe * dsp, 0


def _f_concat(p: dict, model: dict):
    # beat mode: an input mux and the gs_skid output slice, PE elements wide; pixel mode
    # (PE = CA + CB): no input mux, a holding register per input (the whole pixel) instead
    w = p["PE"] * p["ELEM_BITS"]
    pixel = p["PE"] == p["CA"] + p["CB"]
    return ({"width": w, "in_mux": 0 if pixel else w, "one": 1},
            {"width": w, "hold": w if pixel else 0, "one": 1}, 0, 0)


def _f_labelselect(p: dict, model: dict):
    pe, ib, k = p["PE"], p["IN_BITS"], p["K"]
    idx = p["IDX_BITS"]
    lut = {"cmp_bits": pe * k * (ib + idx), "one": 1}
    ff = {"keep_bits": k * (ib + idx), "in_bits": pe * ib, "one": 1}
    return lut, ff, 0, 0


#: gs_wload (the weight loader of a top with weights in URAM): not in the sweep; a fixed table
#: measured with Yosys 0.70 ``synth_xilinx -family xcup`` (four loaders, the last one by chparam):
#:   LAYERS 3, AW  8, DW  32 (depths 128/128/160):                   LUT 14, FF 12
#:   LAYERS 4, AW 10, DW  72 (512/1024/64/300):                      LUT 27, FF 15
#:   LAYERS 8, AW 12, DW 144 (4096/2048/1000/777/64/10/4096/3000):   LUT 34, FF 21
#:   LAYERS 1, AW 11, DW  16 (1235):                                 LUT 11, FF 12
#: FF = AW + LAYERS + 1 exactly (address, one-hot layer, done; one layer: AW + 1); LUT = AW
#: (the address counter) + AW x LAYERS / 4 (the current layer's last address, a mux over the
#: layers, and its compare with the address): 14 / 20 / 36 / 14 (least squares over the four);
#: DW costs nothing (the data only passes on to the memories)
_WLOAD_LUT = {"addr": 1.0, "addr_x_layers": 0.25}


def _f_wload(p: dict, model: dict):
    # features already in LUTs / FFs: no coefficients in cost_model.json, so core_cost weighs them 1
    aw, layers = p["AW"], p["LAYERS"]
    lut = {"addr": _WLOAD_LUT["addr"] * aw, "addr_x_layers": _WLOAD_LUT["addr_x_layers"] * aw * layers}
    ff = aw + (layers if layers > 1 else 0) + 1  # one layer: its one-hot register is a constant
    return lut, {"addr_layers_done": ff}, 0, 0


_FEATURES = {
    "matvec": _f_matvec, "vvu": _f_vvu, "threshold": _f_threshold, "requant": _f_requant, "fifo": _f_fifo,
    "dwc": _f_dwc, "dup": _f_dup, "swg": _f_swg, "pool": _f_pool, "add": _f_add, "concat": _f_concat,
    "labelselect": _f_labelselect, "wload": _f_wload,
}


@lru_cache(maxsize=1)
def _model_cached() -> str:
    return MODEL_PATH.read_text() if MODEL_PATH.is_file() else "{}"


def load_model() -> dict:
    """The fitted model (``cost_model.json``); an empty model (rules' defaults, all
    coefficients 1 on the features) when the file is missing."""
    return json.loads(_model_cached())


def rom_live_bits(words, width: int) -> int:
    """Bit columns of a ROM that are not constant over its words (constant ones cost no logic)."""
    ones, alls, n = 0, (1 << int(width)) - 1, 0
    for w in words:
        ones |= int(w)
        alls &= int(w)
        n += 1
    return bin(ones & ~alls).count("1") if n else 0


def rom_columns(words, width: int) -> int:
    """Distinct live bit columns of a ROM, a column and its complement counted once: the
    logic functions of the address that Yosys/ABC keep after merging equal ones."""
    import numpy as np

    words = [int(w) for w in words]
    if not words or width <= 0:
        return 0
    nb = (int(width) + 7) // 8
    raw = np.frombuffer(b"".join(w.to_bytes(nb, "little") for w in words), dtype=np.uint8)
    bits = np.unpackbits(raw.reshape(len(words), nb), axis=1, bitorder="little")[:, :int(width)]
    ones = bits.sum(axis=0)
    cols = bits[:, (ones > 0) & (ones < len(words))].T
    cols = np.where(cols[:, :1] == 1, 1 - cols, cols)  # complement: first word's bit 0
    return len({c.tobytes() for c in cols})


def _memh_words(text: str) -> list[int]:
    out = []
    for line in text.splitlines():
        t = line.split("//", 1)[0].strip()
        if t and not t.startswith("@"):
            out.append(int(t.replace("x", "0").replace("z", "0").replace("X", "0").replace("Z", "0"), 16))
    return out


#: core -> its memory file parameter and the word width from the parameters
_ROM_PARAM = {
    "gs_mvu": ("WEIGHT_FILE", lambda p: p["PE"] * p["SIMD"] * p["W_BITS"]),
    "gs_vvu": ("WEIGHT_FILE", lambda p: p["PE"] * p["W_BITS"]),
    "gs_thresholds": ("THRESH_FILE", lambda p: p["PE"] * p["N"] * p["T_BITS"]),
    "gs_requant": ("PARAM_FILE", lambda p: p["PE"] * (p["M_BITS"] + p["B_BITS"])),
}


def rom_stats(words, width: int) -> dict[str, int]:
    """A ROM's ``ROM_LIVE`` (:func:`rom_live_bits`) and ``ROM_COLS`` (:func:`rom_columns`), the
    parameters through which the estimate sees its contents."""
    words = list(words)
    return {"ROM_LIVE": rom_live_bits(words, width), "ROM_COLS": rom_columns(words, width)}


def with_rom_live(core: str, params: dict, read_text) -> dict:
    """``params`` plus ``ROM_LIVE`` (live bit columns of the core's ROM, from its ``.mem`` file
    read by ``read_text(name)``; None: unknown) and ``ROM_COLS`` (the distinct ones,
    :func:`rom_columns`) so that the estimate sees the actual contents."""
    spec = _ROM_PARAM.get(core)
    if spec is None or not isinstance(params.get(spec[0]), str):
        return dict(params)
    text = read_text(params[spec[0]])
    if text is None:
        return dict(params)
    return {**params, **rom_stats(_memh_words(text), spec[1](_int_params(params)))}


def row_params(row: dict) -> dict:
    """Parameters of a sweep row, with its ROM's live bit columns when recorded."""
    return {**row["params"], **({"ROM_LIVE": row["rom_live"]} if "rom_live" in row else {}),
            **({"ROM_COLS": row["rom_cols"]} if "rom_cols" in row else {})}


def _int_params(params: dict) -> dict:
    return {k: int(v) for k, v in params.items() if not isinstance(v, str)}


def uram_blocks(depth: int, width: int) -> int:
    """URAM288s of a ``ram_style = "ultra"`` memory, 72 bits x 4096 words each, as Yosys
    ``synth_xilinx -family xcup`` maps it (checked from 1 x 16 to 288 x 8192)."""
    return math.ceil(width / 72) * math.ceil(depth / 4096)


def core_cost(core: str, params: dict, model: dict | None = None, family: str | None = None) -> dict[str, int]:
    """LUT, FF, DSP, BRAM18, URAM of one instance of ``core`` (module name, e.g. ``gs_mvu``) on a
    board of Yosys ``family`` (its DSP's ports; None: DSP48E1's, as on any family)."""
    model = load_model() if model is None else model
    kind = CORE_KINDS.get(core)
    if kind is None:
        raise ValueError(f"no cost model for core {core!r}")
    styles = {k: params[k] for k in ("MEM_STYLE", "MUL_STYLE") if k in params}
    if family:
        styles["FAMILY"] = family
    ultra = kind == "matvec" and styles.get("MEM_STYLE") == "ultra"
    if ultra:  # gs_mvu_wl's weights in URAM: the fabric of a block-RAM memory, no RAMB18
        styles["MEM_STYLE"] = "block"
    lut_f, ff_f, dsp, bram = _FEATURES[kind]({**_int_params(params), **styles}, model)
    coef = (model.get("families", {}).get(family, {}).get("coefficients", {}).get(kind)
            or model.get("coefficients", {}).get(kind, {}))
    out = {"dsp": int(dsp), "bram18": int(bram), "uram": 0}
    if ultra:
        p = _int_params(params)
        out["bram18"] = 0
        out["uram"] = uram_blocks((p["MH"] // p["PE"]) * (p["MW"] // p["SIMD"]), p["PE"] * p["SIMD"] * p["W_BITS"])
    for res, feats in (("lut", lut_f), ("ff", ff_f)):
        c = coef.get(res, {})
        out[res] = int(round(sum(c.get(name, 1.0 if not coef else 0.0) * float(v) for name, v in feats.items())))
    return {k: out[k] for k in RESOURCE_KEYS}


# --------------------------------------------------------------------------- designs

_INST = re.compile(r"\b(gs_[a-z_]+)\s*#\s*\((?P<params>.*?)\)\s*(?P<inst>[A-Za-z_][A-Za-z0-9_]*)\s*\(", re.S)
_PARAM = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)\s*\(\s*(\"[^\"]*\"|-?\s*\d+'sd\d+|-?\s*\d+)\s*\)")


def _param_value(v: str):
    """A parameter value of the generated top: a string, a decimal, or a signed sized decimal
    (``64'sd5``, ``-64'sd5``: gs_add's multipliers)."""
    if v.startswith('"'):
        return v.strip('"')
    v = v.replace(" ", "")
    if "'sd" in v:
        sign = -1 if v.startswith("-") else 1
        return sign * int(v.split("'sd")[1])
    return int(v)


def top_instances(top_text: str) -> dict[str, tuple[str, dict]]:
    """Instances of gatesmith cores in a generated top: name -> (module, parameters)."""
    out = {}
    for m in _INST.finditer(top_text):
        params = {}
        for k, v in _PARAM.findall(m["params"]):
            params[k] = _param_value(v)
        out[m["inst"]] = (m.group(1), params)
    return out


#: a core instance the cost model puts at this many LUTs or more is LUT-mapped with Yosys
#: ``abc -luts`` by ``gatesmith synth`` (gatesmith.implement: synth_xilinx's abc9 had not finished
#: after 8.7 minutes on TFC 2w2a's 784-wide first layer, abc took 30 s)
HUGE_LUTS = 20000


def mapped_cost(core: str, cost: dict[str, int], model: dict | None = None) -> dict[str, int]:
    """``cost`` (:func:`core_cost`, abc9's LUTs) as ``gatesmith synth`` will count it: a huge
    instance (:data:`HUGE_LUTS`) is mapped with ``abc -luts``, whose LUTs differ by the
    measured ``abc_lut_factor`` of its kind (``benchmarks/calibrate_cost.py --lut-mapper abc``)."""
    model = load_model() if model is None else model
    if cost["lut"] < HUGE_LUTS:
        return cost
    factor = model.get("abc_lut_factor", {}).get(CORE_KINDS.get(core), 1.0)
    return {**cost, "lut": int(round(cost["lut"] * factor))}


def design_cost(design, model: dict | None = None, family: str | None = None) -> dict:
    """Estimated resources of a rendered RTL design on a board of ``family``: ``total``,
    ``layers`` (IR node -> core instance cost) and ``infrastructure`` (FIFOs, width converters,
    duplicators)."""
    model = load_model() if model is None else model
    insts = top_instances(design.files[f"{design.top}.v"])
    per_inst = {name: mapped_cost(mod, core_cost(mod, with_rom_live(mod, p, design.files.get), model, family),
                                  model)
                for name, (mod, p) in insts.items() if mod in CORE_KINDS}
    layers = {}
    for s in design.stages:
        layers[s.node] = per_inst.get(s.instance) or core_cost(s.core, dict(s.parameters), model, family)
    stage_insts = {s.instance for s in design.stages}
    infra = dict.fromkeys(RESOURCE_KEYS, 0)
    for name, r in per_inst.items():
        if name not in stage_insts:
            for k in RESOURCE_KEYS:
                infra[k] += r[k]
    total = {k: infra[k] + sum(r[k] for r in layers.values()) for k in RESOURCE_KEYS}
    return {"total": total, "layers": layers, "infrastructure": infra}


def annotate_estimate(est: dict, design, family: str | None = None) -> dict:
    """Add the resource estimate to an ``estimate()`` dict: ``est["resources"]`` (total and
    infrastructure, the keys of ``reports/synth.json``) and the keys in every layer entry."""
    c = design_cost(design, family=family)
    for e in est.get("layers", []):
        if e["name"] in c["layers"]:
            e.update(c["layers"][e["name"]])
    est["resources"] = {**c["total"], "infrastructure": c["infrastructure"],
                        "model": "gatesmith.ir.schedule.cost (Yosys synth_xilinx calibrated)"}
    return est


# --------------------------------------------------------------------------- fitting


def _split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Held-out set: every 4th row of a kind (sorted by id) when the kind has >= 6 rows."""
    train, test = [], []
    by_kind: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["id"]):
        by_kind.setdefault(r["kind"], []).append(r)
    for rs in by_kind.values():
        for i, r in enumerate(rs):
            (test if len(rs) >= 6 and i % 4 == 3 else train).append(r)
    return train, test


def _fit_rules(rows: list[dict]) -> dict:
    """Per memory class, the bram_min_bits / bram_min_depth that best reproduce where Yosys put
    block RAM (ties: the largest threshold)."""
    import itertools

    rules = {}
    for mem in ("rom", "ram"):
        rs = [r for r in rows if _MEM_CLASS.get(r["kind"]) == mem]
        scored = []
        for bits, depth in itertools.product((1024, 2048, 4096, 8192, 10240, 12288, 16384, 32768, 65536),
                                             (2, 64, 128, 256, 512, 1024)):
            m = {"rules": {mem: {"bram_min_bits": bits, "bram_min_depth": depth}}}
            err = sum(abs(_FEATURES[r["kind"]](row_params(r), m)[3] - r["resources"]["bram18"]) for r in rs)
            scored.append((err, bits, -depth))
        # ties: the fewest bits (just above the largest memory Yosys kept in LUTs), then the
        # deepest minimum depth (shallow memories stay in LUTs / LUTRAM)
        _, bits, depth = min(scored)
        depth = -depth
        rules[mem] = {"bram_min_bits": bits, "bram_min_depth": depth}
    return rules


#: coefficients measured on dedicated ``synth_xilinx`` runs rather than fitted; a refit keeps
#: these and fits the rest to what they leave. gs_mvu ``MUL_STYLE "pack"``: the paired rows'
#: adder trees and registers in fabric (no sweep configuration exercises them). ``rom_luts``:
#: the gs_rom module, measured alone (:func:`_rom_luts`); fitted with the rest, its coefficient
#: would soak up lane costs that grow with the ROM's width
_ROM = {"rom_luts": 1.0}
MEASURED = {"matvec": {"lut": {"pack_rows": 7.66, "pack_tree_bits": 0.6625, **_ROM}, "ff": {"pack_acc_bits": 1.0}},
            "vvu": {"lut": dict(_ROM)}, "threshold": {"lut": dict(_ROM)}, "requant": {"lut": dict(_ROM)}}


def fit_abc_factor(rows: list[dict], abc_rows: list[dict]) -> dict[str, float]:
    """Per core kind, the median ratio of a configuration's LUTs mapped with ``abc -luts`` to
    its LUTs mapped with abc9 (the sweep's rows run both ways)."""
    import numpy as np

    by_id = {r["id"]: r for r in rows}
    ratios: dict[str, list[float]] = {}
    for r in abc_rows:
        if r["id"] in by_id:
            ratios.setdefault(r["kind"], []).append(r["resources"]["lut"] / max(by_id[r["id"]]["resources"]["lut"], 1))
    return {k: round(float(np.median(v)), 4) for k, v in sorted(ratios.items())}


def fit(rows: list[dict], base: dict | None = None, family: str | None = None) -> tuple[dict, dict]:
    """Fit the model to sweep rows; returns (model, held-out report).

    With ``base`` (the xc7 model) the rows are one other ``family``'s sweep, which covers only
    the kinds and modes that map differently there: the result is that family's coefficients
    (``model["families"][family]`` of the base), its block-RAM rules are the base's, and a feature
    no training row of a kind exercises keeps the base's coefficient."""
    import numpy as np
    from scipy.optimize import nnls

    train, test = _split(rows)
    # the block-RAM thresholds are a discrete boundary, placed with every configuration (the
    # few memories near it decide it); the LUT/FF coefficients are fitted on the training split
    rules = _fit_rules(rows) if base is None else base["rules"]
    model = {"rules": rules, "coefficients": {}, "trained_on": len(train), "held_out": len(test)}
    for kind in sorted({r["kind"] for r in train}):
        rs = [r for r in train if r["kind"] == kind]
        model["coefficients"][kind] = {}
        for idx, res in ((0, "lut"), (1, "ff")):
            feats = [_FEATURES[kind]({**row_params(r), **({"FAMILY": family} if family else {})}, model)[idx]
                     for r in rs]
            if base is None:
                fixed = MEASURED.get(kind, {}).get(res, {})
            else:
                old = base["coefficients"].get(kind, {}).get(res, {})
                fixed = {n: old.get(n, 0.0) for n in feats[0] if n in _ROM or not any(f[n] for f in feats)}
            names = [n for n in feats[0] if n not in fixed]
            a = np.array([[f[n] for n in names] for f in feats], dtype=float)
            y = np.array([r["resources"][res] for r in rs], dtype=float)
            # relative least squares: every configuration weighs the same, small or large; the
            # measured coefficients are not refitted (their share comes off the target)
            w = 1.0 / np.maximum(y, 10.0)
            known = np.array([sum(c * f[n] for n, c in fixed.items()) for f in feats], dtype=float)
            coef, _ = nnls(a * w[:, None], (y - known) * w)
            model["coefficients"][kind][res] = {n: round(float(c), 6) for n, c in zip(names, coef)}
            model["coefficients"][kind][res].update(fixed)
    if base is not None:
        fam = {k: v for k, v in model.items() if k != "rules"}
        model = {**base, "families": {**base.get("families", {}), family: fam}}
    return model, evaluate(test, model)


def evaluate(rows: list[dict], model: dict) -> dict:
    """Median / p90 relative error per resource (LUT, FF), exact-match rate (DSP) and max
    absolute error (BRAM18), over ``rows`` and per kind."""
    import numpy as np

    def stats(rs):
        out = {"n": len(rs)}
        if not rs:
            return out
        pred = [core_cost(r["core"], row_params(r), model, r.get("family")) for r in rs]
        for res in ("lut", "ff"):
            e = [abs(p[res] - r["resources"][res]) / max(r["resources"][res], 1) for p, r in zip(pred, rs)]
            out[res] = {"median": round(float(np.median(e)), 3), "p90": round(float(np.percentile(e, 90)), 3)}
        out["dsp"] = {"exact": round(sum(p["dsp"] == r["resources"]["dsp"] for p, r in zip(pred, rs)) / len(rs), 3)}
        out["bram18"] = {"max_abs": int(max(abs(p["bram18"] - r["resources"]["bram18"]) for p, r in zip(pred, rs)))}
        return out

    rep = {"all": stats(rows)}
    for kind in sorted({r["kind"] for r in rows}):
        rep[kind] = stats([r for r in rows if r["kind"] == kind])
    return rep


def format_fit_report(rep: dict) -> str:
    lines = ["held-out error (relative; dsp: share exact; bram18: max abs):",
             f"{'kind':<12} {'n':>3}  {'lut med':>8} {'lut p90':>8}  {'ff med':>7} {'ff p90':>7}  "
             f"{'dsp ok':>6}  {'bram':>4}"]
    for k, s in rep.items():
        if s.get("n"):
            lines.append(f"{k:<12} {s['n']:>3}  {s['lut']['median']:>8.1%} {s['lut']['p90']:>8.1%}  "
                         f"{s['ff']['median']:>7.1%} {s['ff']['p90']:>7.1%}  {s['dsp']['exact']:>6.0%}  "
                         f"{s['bram18']['max_abs']:>4}")
    return "\n".join(lines)
