"""HLS C++ code generator: a folded IR graph -> a self-contained ``hls/`` file plan.

:func:`render_hls` mirrors :func:`gatesmith.hls_templates.rtl.render_rtl`: one
stage per node, built by the builder :data:`HLS_STAGES` holds for the node's
kind (an unknown kind raises :class:`CodegenError` naming the node), width
converters per edge whose beats differ, stream depths as the RTL's FIFOs.
The graph may be a DAG (residual and concat networks): a value read by N
stages goes through N - 1 ``gs_dup`` calls into separate streams, two-input
stages (add, concat) read two streams, and the stream in front of each input
of a two-input stage is as deep as :func:`gatesmith.ir.schedule.fifos.fifo_depths`
says (in beats of the stage's input width) -- C simulation has unbounded
streams, a real DATAFLOW region would deadlock without them.  Per-pixel
kernels (matvec, threshold, requant, vvu, pool, concat, add) process every
pixel of a feature map in one call.  The result, :class:`HlsDesign`, is an in-memory plan (relative path
under ``hls/`` -> text):

- copies of the kernel headers (``hls_templates/hls/gs_*.h``, hand-written),
- ``<top>.h`` / ``<top>.cpp``: the top function, ``#pragma HLS DATAFLOW``
  connecting the kernels through ``hls::stream`` (``top.h.j2``, ``top.cpp.j2``),
- ``<stage>_params.h``: the weights / thresholds / requantizer constants of
  each stage that has any as constant arrays laid out by its folding (``params.h.j2``),
- ``<top>_tb.cpp``: a C-simulation main that reads integer inputs from a file
  and writes the integer outputs (``tb.cpp.j2``), with ``tb_input.txt`` /
  ``tb_expected.txt`` (a few vectors and the reference's answers) so the
  Vitis HLS C-sim and co-simulation check themselves,
- ``run_hls.tcl`` for Vitis HLS (``run_hls.tcl.j2``).

The top's streams carry the same beats as the RTL top's AXI-Stream ports
(:class:`~gatesmith.hls_templates.rtl.StreamSpec`); one call of the top
function processes one inference.  Same graph and options -> byte-identical
files.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from gatesmith.ir.graph import Graph, Node
from gatesmith.ir.ops import (Add, Concat, DepthwiseMatVec, LabelSelect, MatVec, MultiThreshold, PoolMode, Requant,
                              SlidingWindow, WindowReduce)
from gatesmith.ir.schedule.fifos import fifo_depths
from gatesmith.ir.schedule.folding import fold_count, ragged_beats, ragged_group, ragged_route
from gatesmith.ir.schedule.impl import forced_impl
from gatesmith.ir.types import BipolarType, DType, IntType, type_for_range
from gatesmith.ir.verifier import verify

from ._keywords import RESERVED_WORDS
from .env import Namer, render, sanitize_ident
from .rtl import (DEFAULT_FIFO_DEPTH, CodegenError, StreamSpec, _hardware_nodes, _pad_rows, _where, check_requant,
                  swg_geometry)

__all__ = [
    "HlsDesign",
    "HlsStage",
    "render_hls",
    "HLS_STAGES",
    "unsupported",
    "PASS_KINDS",
    "kernel_headers",
    "TB_INPUT",
    "TB_EXPECTED",
]

#: test vectors shipped next to the testbench (Vitis C-sim / co-sim check themselves)
TB_INPUT = "tb_input.txt"
TB_EXPECTED = "tb_expected.txt"

_TOP_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: identifiers the generated C++ uses itself (the top's ports, main, the testbench's helpers)
_RESERVED_IDENTS = ("s_axis", "m_axis", "main", "argc", "argv", "hls", "std")
#: a ROM partition at least this many bits deep x wide goes to block RAM, smaller ones to LUTs
_BRAM_MIN_BITS = 4096


# --------------------------------------------------------------------------- public records


@dataclass(frozen=True, kw_only=True)
class HlsStage:
    """One IR node as called in the top (for reports)."""

    name: str  # sanitised, unique identifier used in the generated C++
    node: str  # IR node name
    kind: str  # IR node kind
    kernel: str  # C++ kernel function
    params: Mapping[str, int | str]
    header: str  # its constants header (relative to hls/)


@dataclass(frozen=True, kw_only=True)
class HlsDesign:
    """The rendered HLS C++: ``files`` maps paths relative to ``hls/`` to their text."""

    files: Mapping[str, str]
    top: str
    in_stream: StreamSpec
    out_stream: StreamSpec
    stages: tuple[HlsStage, ...]
    sources: tuple[str, ...]  # synthesis sources (.cpp)
    headers: tuple[str, ...]  # every header
    tb_sources: tuple[str, ...]  # testbench sources (.cpp)
    tb_data: tuple[str, ...]  # testbench data files


# --------------------------------------------------------------------------- constant arrays


def _c_int_bits(name: str, lo: int, hi: int, signed: bool) -> int:
    """Bits of the smallest of the C types (u)int8/16/32/64_t holding [lo, hi]."""
    for b in (8, 16, 32, 64):
        if signed and -(1 << (b - 1)) <= lo and hi < (1 << (b - 1)):
            return b
        if not signed and 0 <= lo and hi < (1 << b):
            return b
    raise CodegenError(f"constant array {name!r}: values [{lo}, {hi}] do not fit a 64-bit C integer")


#: Node.impl memory style -> BIND_STORAGE impl; multiplier style -> gs_mul_op (gs_mvu.h)
_HLS_MEM = {"lutram": "lutram", "bram": "bram"}
_HLS_MUL = {"dsp": 1, "lut": 2, "pack": 3}


def _rom(name: str, values: np.ndarray, *, bits: int, signed: bool) -> dict[str, Any]:
    """Context of one constant array: ``values`` (2-D or 3-D integers, last axis the ROM depth)."""
    v = np.asarray(values, dtype=object)
    lo, hi = (int(v.min()), int(v.max())) if v.size else (0, 0)
    sim_signed = signed or lo < 0
    sim_bits = _c_int_bits(name, lo, hi, sim_signed)
    depth = int(v.shape[-1])

    def row(r) -> str:
        return ", ".join(str(int(x)) for x in r)

    if v.ndim == 3:
        data = [[row(v[i, j]) for j in range(v.shape[1])] for i in range(v.shape[0])]
    elif v.ndim == 2:
        data = [row(v[i]) for i in range(v.shape[0])]
    else:  # pragma: no cover - builders pass 2-D or 3-D arrays
        raise AssertionError(v.ndim)
    impl = "bram" if depth * bits >= _BRAM_MIN_BITS else "lutram"
    return {
        "name": name,
        "bits": int(bits),
        "signed": bool(signed),
        "sim_bits": sim_bits,
        "sim_signed": sim_signed,
        "dims": [int(d) for d in v.shape],
        "ndim": v.ndim,
        "data": data,
        "depth": depth,
        "impl": impl,
    }


# --------------------------------------------------------------------------- stage builders


@dataclass
class _Block:
    """A kernel call under construction."""

    kind: str  # template macro: mvu | thresholds | requant | swg | vvu | pool | labelselect | add | concat
    kernel: str
    in_elems: int
    out_elems: int
    params: dict[str, int | str]
    roms: list[tuple[str, np.ndarray, int, bool]]  # (suffix, values, bits, signed)
    port_elems: tuple[int, ...] | None = None  # elements a beat per input, where they differ (concat pixel mode)

    def elems_at(self, port: int) -> int:
        return self.port_elems[port] if self.port_elems is not None else self.in_elems


def _signed_bits(lo: int, hi: int) -> int:
    return type_for_range(min(int(lo), 0), max(int(hi), 0), signed=True).bits


def _b(v: bool) -> int:
    return 1 if v else 0


def _enc(t: DType) -> dict[str, int]:
    """IN_/OUT_ encoding parameters of an edge type."""
    return {"BITS": t.bits, "SIGNED": _b(t.signed and not t.bipolar), "BIPOLAR": _b(t.bipolar)}


def _mvu_stage(node: Node, op: MatVec, in_t: DType, out_t: DType, pix: int) -> _Block:
    pe, simd = node.fold.pe, node.fold.simd
    mw = op.mw
    nf, sf = fold_count(op.mh, pe), mw // simd
    mh = nf * pe  # a ragged PE: NF*PE rows, the padding rows' weights are 0 (raw bits)
    if not (isinstance(out_t, IntType) and out_t.signed):
        raise CodegenError(f"{_where(node)}: expected a signed accumulator type, got {out_t}")
    wt = op.wtype
    w = np.asarray(op.weights, dtype=object)
    if wt.bipolar:
        w = np.where(w > 0, 1, 0).astype(object)  # the raw bit, 1 = +1
    w = _pad_rows(w, mh, 0)
    # W[n*PE+p][s*SIMD+k] -> weights[p][k][n*SF+s]
    w = w.reshape(nf, pe, sf, simd).transpose(1, 3, 0, 2).reshape(pe, simd, nf * sf)
    ie, we = _enc(in_t), _enc(wt)
    params = {
        "MW": mw, "MH": mh, "PE": pe, "SIMD": simd,
        "IN_BITS": ie["BITS"], "IN_SIGNED": ie["SIGNED"], "IN_BIPOLAR": ie["BIPOLAR"],
        "W_BITS": we["BITS"], "W_SIGNED": we["SIGNED"], "W_BIPOLAR": we["BIPOLAR"],
        "ACC_BITS": out_t.bits, "REPS": pix,
    }
    return _Block(kind="mvu", kernel="gs_mvu", in_elems=simd, out_elems=pe, params=params,
                  roms=[("weights", w, wt.bits, bool(we["SIGNED"]))])


def _thresholds_stage(node: Node, op: MultiThreshold, in_t: DType, out_t: DType, pix: int) -> _Block:
    pe = node.fold.pe
    c = op.channels
    lo, hi = int(in_t.min), int(in_t.max)
    t = np.asarray(op.thresholds, dtype=object).reshape(c, -1)
    if t.shape[1] == 0:
        t = np.full((c, 1), hi + 1, dtype=object)  # never reached: out = base
    # x >= T for T above the input range never holds, below it always: clip (exact)
    t = np.minimum(np.maximum(t, lo), hi + 1)
    n = t.shape[1]
    t_bits = _signed_bits(int(t.min()), int(t.max()))
    base = int(op.base)
    if not op.out.bipolar and not (op.out.min <= base and base + n <= op.out.max):
        raise CodegenError(
            f"{_where(node)}: expected base .. base + N = {base} .. {base + n} inside "
            f"the output type {op.out} [{op.out.min}, {op.out.max}]"
        )
    if not -(1 << 31) <= base < (1 << 31) - n:
        raise CodegenError(f"{_where(node)}: base {base!r} does not fit a 32-bit level counter")
    c = fold_count(c, pe) * pe  # a ragged PE (on a ragged matvec stream): padding channels
    t = _pad_rows(t, c)
    # T[n*PE+p][k] -> thresholds[p][k][n]
    arr = t.reshape(c // pe, pe, n).transpose(1, 2, 0)
    ie, oe = _enc(in_t), _enc(op.out)
    params = {
        "C": c, "PE": pe, "N": n,
        "IN_BITS": ie["BITS"], "IN_SIGNED": ie["SIGNED"], "IN_BIPOLAR": ie["BIPOLAR"],
        "T_BITS": t_bits,
        "OUT_BITS": oe["BITS"], "OUT_SIGNED": oe["SIGNED"], "OUT_BIPOLAR": oe["BIPOLAR"],
        "BASE": base, "REPS": pix,
    }
    return _Block(kind="thresholds", kernel="gs_thresholds", in_elems=pe, out_elems=pe, params=params,
                  roms=[("thresholds", arr, t_bits, True)])


def _requant_stage(node: Node, op: Requant, in_t: DType, out_t: DType, pix: int) -> _Block:
    pe = node.fold.pe
    c = op.channels
    out = op.out
    check_requant(node, op)
    if not (-(1 << 63) <= op.lo and op.hi < (1 << 63)):
        raise CodegenError(f"{_where(node)}: clamp bounds lo={op.lo!r} hi={op.hi!r} exceed 64 bits")
    bias = np.asarray(op.bias, dtype=object).reshape(c)
    mult = np.asarray(op.mult, dtype=object).reshape(c) if op.use_mult else np.ones(c, dtype=object)
    m_bits = _signed_bits(int(mult.min()), int(mult.max()))
    b_bits = _signed_bits(int(bias.min()), int(bias.max()))
    xlo, xhi = int(in_t.min), int(in_t.max)
    prods = [(xlo * int(m), xhi * int(m)) for m in mult.tolist()]
    t_lo = min(min(a, b) + int(bb) for (a, b), bb in zip(prods, bias.tolist()))
    t_hi = max(max(a, b) + int(bb) for (a, b), bb in zip(prods, bias.tolist()))
    t_bits = _signed_bits(t_lo, t_hi)
    ie = _enc(in_t)
    c = fold_count(c, pe) * pe  # a ragged PE (on a ragged matvec stream): padding channels
    mult, bias = _pad_rows(mult, c), _pad_rows(bias, c)
    params = {
        "C": c, "PE": pe,
        "IN_BITS": ie["BITS"], "IN_SIGNED": ie["SIGNED"], "IN_BIPOLAR": ie["BIPOLAR"],
        "M_BITS": m_bits, "B_BITS": b_bits, "T_BITS": t_bits,
        "SHIFT": int(op.shift), "MODE": "GS_" + op.rounding.name,
        "LO": int(op.lo), "HI": int(op.hi),
        "OUT_BITS": out.bits, "OUT_SIGNED": _b(out.signed),
        "USE_MULT": _b(op.use_mult), "REPS": pix,
    }
    # M[n*PE+p] -> mult[p][n]
    return _Block(kind="requant", kernel="gs_requant", in_elems=pe, out_elems=pe, params=params,
                  roms=[("mult", mult.reshape(c // pe, pe).T, m_bits, True),
                        ("bias", bias.reshape(c // pe, pe).T, b_bits, True)])


def _swg_stage(node: Node, op: SlidingWindow, in_t: DType, out_t: DType, pix: int) -> _Block:
    simd = node.fold.simd
    geom, pad_raw = swg_geometry(node, op, in_t)  # shared with the RTL generator
    params = {**geom, "BITS": in_t.bits, "PAD_RAW": pad_raw}
    kp = node.fold.pe  # kernel positions per beat (parallel windows)
    if kp != 1:
        params["KP"] = kp
    return _Block(kind="swg", kernel="gs_swg", in_elems=simd, out_elems=kp * simd, params=params, roms=[])


def _vvu_stage(node: Node, op: DepthwiseMatVec, in_t: DType, out_t: DType, pix: int) -> _Block:
    pe = node.fold.pe
    c, pos = op.channels, op.positions
    if not (isinstance(out_t, IntType) and out_t.signed):
        raise CodegenError(f"{_where(node)}: expected a signed accumulator type, got {out_t}")
    wt = op.wtype
    w = np.asarray(op.weights, dtype=object)  # (C, P)
    if wt.bipolar:
        w = np.where(w > 0, 1, 0).astype(object)
    # W[g*PE+k][p] -> weights[k][p*G + g]
    w = w.T.reshape(pos, c // pe, pe).transpose(2, 0, 1).reshape(pe, pos * (c // pe))
    ie, we = _enc(in_t), _enc(wt)
    params = {
        "POS": pos, "C": c, "PE": pe,
        "IN_BITS": ie["BITS"], "IN_SIGNED": ie["SIGNED"], "IN_BIPOLAR": ie["BIPOLAR"],
        "W_BITS": we["BITS"], "W_SIGNED": we["SIGNED"], "W_BIPOLAR": we["BIPOLAR"],
        "ACC_BITS": out_t.bits, "PIX": pix,
    }
    return _Block(kind="vvu", kernel="gs_vvu", in_elems=pe, out_elems=pe, params=params,
                  roms=[("weights", w, wt.bits, bool(we["SIGNED"]))])


def _pool_stage(node: Node, op: WindowReduce, in_t: DType, out_t: DType, pix: int) -> _Block:
    pe = node.fold.pe
    if op.mode is PoolMode.MAX and out_t != in_t:
        raise CodegenError(f"{_where(node)}: a max pool keeps its type, got {in_t} -> {out_t}")
    if op.mode is PoolMode.SUM and out_t.bipolar:
        raise CodegenError(f"{_where(node)}: a sum pool cannot produce bipolar output")
    ie, oe = _enc(in_t), _enc(out_t)
    params = {
        "POS": op.positions, "C": op.channels, "PE": pe,
        "IN_BITS": ie["BITS"], "IN_SIGNED": ie["SIGNED"], "IN_BIPOLAR": ie["BIPOLAR"],
        "OUT_BITS": oe["BITS"], "OUT_SIGNED": oe["SIGNED"],
        "MODE": 0 if op.mode is PoolMode.MAX else 1, "PIX": pix,
    }
    return _Block(kind="pool", kernel="gs_pool", in_elems=pe, out_elems=pe, params=params, roms=[])


def _labelselect_stage(node: Node, op: LabelSelect, in_t: DType, out_t: DType, pix: int) -> _Block:
    if out_t.bipolar or out_t.signed or (1 << out_t.bits) < op.channels:
        raise CodegenError(f"{_where(node)}: expected an unsigned index type for {op.channels} classes, got {out_t}")
    ie = _enc(in_t)
    params = {
        "C": op.channels, "PE": node.fold.pe,
        "IN_BITS": ie["BITS"], "IN_SIGNED": ie["SIGNED"], "IN_BIPOLAR": ie["BIPOLAR"],
        "K": op.k, "IDX_BITS": out_t.bits,
    }
    return _Block(kind="labelselect", kernel="gs_labelselect", in_elems=node.fold.pe, out_elems=1,
                  params=params, roms=[])


def _add_stage(node: Node, op: Add, in_t, out_t: DType, pix: int) -> _Block:
    ta, tb = in_t
    for k, m in (("M_A", op.mult_a), ("M_B", op.mult_b)):
        if not -(1 << 63) < int(m) < (1 << 63):
            raise CodegenError(f"{_where(node)}: {k}={m!r} does not fit a 64-bit multiplier")
    if not (isinstance(out_t, IntType) and out_t.signed):
        raise CodegenError(f"{_where(node)}: expected a signed output type, got {out_t}")
    ea, eb = _enc(ta), _enc(tb)
    params = {
        "ELEMS": pix * op.channels, "PE": node.fold.pe,
        "A_BITS": ea["BITS"], "A_SIGNED": ea["SIGNED"], "A_BIPOLAR": ea["BIPOLAR"],
        "B_BITS": eb["BITS"], "B_SIGNED": eb["SIGNED"], "B_BIPOLAR": eb["BIPOLAR"],
        "M_A": int(op.mult_a), "M_B": int(op.mult_b), "OUT_BITS": out_t.bits,
    }
    return _Block(kind="add", kernel="gs_add", in_elems=node.fold.pe, out_elems=node.fold.pe,
                  params=params, roms=[])


def _concat_stage(node: Node, op: Concat, in_t, out_t: DType, pix: int) -> _Block:
    ta, tb = in_t
    if ta != tb:
        raise CodegenError(f"{_where(node)}: expected both inputs of one type, got {ta} and {tb}")
    params = {"CA": op.channels_a, "CB": op.channels_b, "PE": node.fold.pe, "BITS": ta.bits, "PIX": pix}
    return _Block(kind="concat", kernel="gs_concat", in_elems=node.fold.pe, out_elems=node.fold.pe,
                  params=params, roms=[], port_elems=op.port_lanes(node.fold.pe))


def _mvu_depth(node: Node) -> int:
    # fold 0 reads the SF beats of a vector back to back: buffer one vector (as the RTL does)
    return max(DEFAULT_FIFO_DEPTH, node.op.mw // node.fold.simd)


def _beat_depth(node: Node) -> int:
    return DEFAULT_FIFO_DEPTH  # one beat in, one beat out per cycle


@dataclass(frozen=True)
class _StageKind:
    build: Callable[..., _Block]
    stream_depth: Callable[[Node], int]  # depth of the stream in front of the kernel


#: node kind -> how to build its stage; every kind the HLS generator supports.
HLS_STAGES: dict[str, _StageKind] = {
    "matvec": _StageKind(_mvu_stage, stream_depth=_mvu_depth),
    "threshold": _StageKind(_thresholds_stage, stream_depth=_beat_depth),
    "requant": _StageKind(_requant_stage, stream_depth=_beat_depth),
    "swg": _StageKind(_swg_stage, stream_depth=_beat_depth),
    "vvu": _StageKind(_vvu_stage, stream_depth=_beat_depth),
    "pool": _StageKind(_pool_stage, stream_depth=_beat_depth),
    "labelselect": _StageKind(_labelselect_stage, stream_depth=_beat_depth),
    "add": _StageKind(_add_stage, stream_depth=_beat_depth),
    "concat": _StageKind(_concat_stage, stream_depth=_beat_depth),
}

#: node kinds that are no hardware (the element order of the stream is unchanged)
PASS_KINDS = ("reshape",)


def unsupported(graph: Graph) -> str:
    """Why :func:`render_hls` cannot generate ``graph`` ("" if it can): the first node whose
    kind has no entry in :data:`HLS_STAGES`, or what keeps the graph from being a DAG from
    its one input to its one output (a stream feeding nothing, the output read again)."""
    for node in graph.nodes:
        if node.kind in PASS_KINDS:
            continue
        if node.kind not in HLS_STAGES:
            return (
                f"{_where(node)}: the HLS code generator supports node kinds {sorted(HLS_STAGES)!r}, "
                f"not {node.kind!r}"
            )
        if len(node.outputs) != 1 or len(node.inputs) not in (1, 2):
            return (f"{_where(node)}: expected one or two inputs and one output, got {list(node.inputs)!r} "
                    f"-> {list(node.outputs)!r}")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        return (
            f"graph {graph.name!r}: expected one input and one output, got "
            f"inputs {list(graph.inputs)!r} and outputs {list(graph.outputs)!r}"
        )
    nodes = _hardware_nodes(graph)
    if not nodes:
        return f"graph {graph.name!r} has no nodes: nothing to generate"
    out = graph.outputs[0]
    used = {i for n in nodes for i in n.inputs}
    for node in nodes:
        if node.outputs[0] == out and out in used:
            return f"{_where(node)}: the graph output {out!r} is also read by another stage"
        if node.outputs[0] not in used and node.outputs[0] != out:
            return (f"{_where(node)}: its output {node.outputs[0]!r} feeds nothing; expected every stream "
                    f"to reach the graph output {out!r}")
    if not any(n.outputs[0] == out for n in nodes):
        return f"graph {graph.name!r}: no stage produces the graph output {out!r}"
    return ""


# --------------------------------------------------------------------------- kernel headers


def _kernel_root():
    return importlib.resources.files("gatesmith") / "hls_templates" / "hls"


def kernel_headers() -> dict[str, str]:
    """The hand-written kernel headers (file name -> text) from the installed package."""
    root = _kernel_root()
    out = {p.name: p.read_text(encoding="utf-8") for p in root.iterdir() if p.name.endswith(".h")}
    if "gs_stream.h" not in out:
        raise CodegenError(f"expected the HLS kernel headers in {str(root)!r}; gs_stream.h is missing")
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------- top context


def _stream_spec(t: DType, elems_per_beat: int, elems: int) -> StreamSpec:
    """The beats of one inference on a top port (the RTL top's convention)."""
    return StreamSpec(elems_per_beat=elems_per_beat, elem_bits=t.bits, dtype=str(t),
                      beats_per_inference=elems // elems_per_beat, tdata_bits=elems_per_beat * t.bits)


def _rows_text(a: np.ndarray) -> list[str]:
    return [" ".join(str(int(v)) for v in row) for row in a]


def render_hls(
    graph: Graph,
    *,
    top: str = "gatesmith_top",
    part: str = "xc7z020clg400-1",
    clock_mhz: float = 100.0,
    vectors: tuple[np.ndarray, np.ndarray] | None = None,
) -> HlsDesign:
    """Generate the HLS C++ of a folded integer graph (a chain or a DAG with one input and one output).

    ``part`` and ``clock_mhz`` go into ``run_hls.tcl`` (``set_part``,
    ``create_clock``).  Raises :class:`CodegenError` for graphs the generator
    cannot handle (an unsupported node kind names the node).

    ``vectors``: integer inputs ``(N, in_elems)`` and the outputs the reference
    gives for them ``(N, out_elems)``; written as ``tb_input.txt`` /
    ``tb_expected.txt`` for the testbench (Vitis C-sim and co-sim check
    against them).  Without them the testbench files are left out and the
    C-sim in ``run_hls.tcl`` only runs the testbench's built-in smoke vector.
    """
    if not isinstance(top, str) or not _TOP_RE.match(top) or top.lower() in RESERVED_WORDS:
        raise CodegenError(
            f"expected the top function name to be a C++ identifier that is not a reserved word, got {top!r}"
        )
    if top.startswith("gs_"):
        raise CodegenError(f"the top function name must not start with 'gs_' (kernel names), got {top!r}")
    if top.lower() in _RESERVED_IDENTS:
        raise CodegenError(f"the top function name {top!r} is used by the generated C++ itself")
    if not (isinstance(clock_mhz, (int, float)) and 0 < float(clock_mhz) <= 1000):
        raise CodegenError(f"expected a clock in (0, 1000] MHz, got {clock_mhz!r}")
    verify(graph)
    why = unsupported(graph)
    if why:
        raise CodegenError(why + " (compile with --backend rtl to leave the HLS C++ out)")

    headers = kernel_headers()
    namer = Namer(reserved=(*_RESERVED_IDENTS, top, top + "_in_t", top + "_out_t", top + "_tb"))
    for h in headers:
        namer.reserve(h[:-2])
    namer.reserve("gs_elem", "gs_lane", "gs_mul", "gs_round_shift", "gs_rounding", "gs_dwc")

    hw_nodes = _hardware_nodes(graph)
    staged: list[tuple[Node, _Block, DType]] = []
    for node in hw_nodes:
        sk = HLS_STAGES[node.kind]
        if node.fold is None:
            raise CodegenError(f"{_where(node)}: no folding (PE/SIMD); schedule the graph first")
        in_ts = [graph.value(i).dtype for i in node.inputs]
        out_v = graph.value(node.outputs[0])
        pix = int(np.prod(out_v.shape[:-1])) if len(out_v.shape) > 1 else 1
        blk = sk.build(node, node.op, in_ts[0] if len(in_ts) == 1 else tuple(in_ts), out_v.dtype, pix)
        staged.append((node, blk, out_v.dtype))
    branch = fifo_depths(graph)  # "node:port" -> beats in front of two-input stages

    streams: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    params_files: dict[str, str] = {}
    stages: list[HlsStage] = []
    roms_all: list[dict[str, Any]] = []

    def new_stream(name: str, bits: int) -> dict[str, Any]:  # name: claimed by the caller
        s = {"name": name, "bits": bits, "depth": DEFAULT_FIFO_DEPTH}
        streams.append(s)
        return s

    consumers: dict[str, list[tuple[Node, int]]] = {}
    for node in hw_nodes:
        for port, v in enumerate(node.inputs):
            consumers.setdefault(v, []).append((node, port))
    blk_of = {node.name: blk for node, blk, _ in staged}
    # (stream or None for the top input s_axis, elements a beat, type, vector length of a
    # ragged stream or None) feeding each (node, port); a ragged stream (a matvec PE not
    # dividing MH) pads each vector's last beat: threshold/requant stages at the same PE pass
    # it on, a width converter in front of any other stage drops the padding
    port_src: dict[tuple[str, int], tuple[dict[str, Any] | None, int, DType, int | None]] = {}

    def fan_out(value: str, src: dict[str, Any] | None, elems: int, t: DType, group: int | None = None) -> None:
        """Route ``value`` to its readers; N > 1 readers through a chain of N - 1 gs_dup."""
        users = consumers.get(value, [])
        if len(users) == 1:
            port_src[(users[0][0].name, users[0][1])] = (src, elems, t, group)
            return
        base = namer.claim(value, tuple(f"_dup{k}{r}" for k in range(len(users)) for r in ("", "_rest")))
        total = int(np.prod(graph.value(value).shape))
        beats = total // elems if group is None else total // group * fold_count(group, elems)
        cur = src
        for k, (node, port) in enumerate(users[:-1]):
            d0 = new_stream(f"{base}_dup{k}", elems * t.bits)
            last = k == len(users) - 2
            d1 = new_stream(f"{base}_dup{k + 1}" if last else f"{base}_dup{k}_rest", elems * t.bits)
            calls.append({"kind": "dup", "stage": base, "src": cur["name"] if cur else "s_axis",
                          "dsts": [d0["name"], d1["name"]], "p": {"BEATS": beats, "WIDTH": elems * t.bits}})
            port_src[(node.name, port)] = (d0, elems, t, group)
            cur = d1
        node, port = users[-1]
        port_src[(node.name, port)] = (cur, elems, t, group)

    in_v = graph.value(graph.inputs[0])
    first_reader, first_port = consumers[graph.inputs[0]][0]
    in_elems0 = blk_of[first_reader.name].elems_at(first_port)  # the top input's beat: its first reader's input beat
    fan_out(graph.inputs[0], None, in_elems0, in_v.dtype)
    out_blk: _Block | None = None
    for node, blk, out_t in staged:
        nm = namer.claim(
            node.name,
            ("", "_out", "_dwc", "_in0_dwc", "_in1_dwc", "_params")
            + tuple(f"_{r[0]}{t}" for r in blk.roms for t in ("", "_t")),
        )
        srcs = []
        out_group = ragged_group(node)
        for port, value in enumerate(node.inputs):
            cur, cur_elems, cur_t, group = port_src[(node.name, port)]
            want_elems = blk.elems_at(port)
            sfx = "" if len(node.inputs) == 1 else f"_in{port}"
            passes, convert = ragged_route(node, group, cur_elems, want_elems)
            if passes:
                out_group = group
            if convert:
                dst = new_stream(nm + sfx + "_dwc", want_elems * cur_t.bits)
                dp = {"ELEMS": int(np.prod(graph.value(value).shape)), "IN_ELEMS": cur_elems,
                      "OUT_ELEMS": want_elems, "BITS": cur_t.bits}
                if group is not None:  # drop the padding of each vector's last beat
                    nb, last = ragged_beats(group, cur_elems)
                    dp.update(GROUP_BEATS=nb, LAST_ELEMS=last)
                calls.append({
                    "kind": "dwc", "stage": nm,
                    "src": cur["name"] if cur else "s_axis", "dst": dst["name"], "p": dp,
                })
                cur = dst
            if cur is not None:  # the stream in front of the kernel (not the top's s_axis)
                want = HLS_STAGES[node.kind].stream_depth(node) if len(node.inputs) == 1 else DEFAULT_FIFO_DEPTH
                cur["depth"] = max(cur["depth"], want, branch.get(f"{node.name}:{port}", 0))
            srcs.append(cur["name"] if cur else "s_axis")
        roms = [_rom(f"{nm}_{suffix}", vals, bits=bits, signed=signed) for suffix, vals, bits, signed in blk.roms]
        forced = forced_impl(graph, node)  # memory / multiplier styles the defaults would not give
        if forced.mem is not None:
            roms = [{**r, "impl": _HLS_MEM[forced.mem]} for r in roms]
        header = None
        if roms:
            header = f"{nm}_params.h"
            params_files[header] = render(
                "params.h.j2", guard=f"GS_{nm.upper()}_PARAMS_H", stage=nm, kind=blk.kind, roms=roms,
            )
            roms_all.extend(roms)
        is_out = node.outputs[0] == graph.outputs[0]
        dst = None if is_out else new_stream(nm + "_out", blk.out_elems * out_t.bits)
        call = {
            "kind": blk.kind, "stage": nm, "kernel": blk.kernel, "src": srcs[0], "srcs": srcs,
            "dst": dst["name"] if dst else "m_axis",
            "p": {**blk.params, **({"MUL_STYLE": _HLS_MUL[forced.mul]} if forced.mul is not None else {})},
            "roms": [r["name"] for r in roms],
        }
        if header:
            call["header"] = header
        calls.append(call)
        stages.append(HlsStage(name=nm, node=node.name, kind=node.kind, kernel=blk.kernel,
                               params=dict(blk.params), header=header or ""))
        if is_out:
            if out_group is not None:
                raise CodegenError(
                    f"{_where(node)}: PE={node.fold.pe} does not divide the {out_group} channels of the graph "
                    f"output; the output stream must be dense (expected a PE dividing {out_group})"
                )
            out_blk = blk
        else:
            fan_out(node.outputs[0], dst, blk.out_elems, out_t, out_group)
    assert out_blk is not None  # unsupported() checked that a stage produces the output

    vin, vout = graph.value(graph.inputs[0]), graph.value(graph.outputs[0])
    in_spec = _stream_spec(vin.dtype, in_elems0, int(np.prod(vin.shape)))
    out_spec = _stream_spec(vout.dtype, out_blk.out_elems, int(np.prod(vout.shape)))
    for what, spec in (("input", in_spec), ("output", out_spec)):
        if spec.elem_bits > 63:
            raise CodegenError(f"graph {graph.name!r}: {what} elements of {spec.dtype} exceed 63 bits")

    ctx = {
        "top": top,
        "graph_name": sanitize_ident(graph.name),
        "in_spec": in_spec,
        "out_spec": out_spec,
        "in_enc": _enc(vin.dtype),
        "out_enc": _enc(vout.dtype),
        "streams": streams,
        "calls": calls,
        "roms": roms_all,
        "kernels": sorted(headers),
        "params_headers": [c["header"] for c in calls if "header" in c],
    }
    top_h, top_cpp, tb_cpp = f"{top}.h", f"{top}.cpp", f"{top}_tb.cpp"
    files: dict[str, str] = dict(headers)
    files.update(params_files)
    files[top_h] = render("top.h.j2", **ctx)
    files[top_cpp] = render("top.cpp.j2", **ctx)
    files[tb_cpp] = render("tb.cpp.j2", **ctx)
    tb_data: tuple[str, ...] = ()
    if vectors is not None:
        x_tb, y_tb = (np.asarray(a).reshape(len(a), -1) for a in vectors)
        if x_tb.shape[1:] != (in_spec.elems,) or y_tb.shape != (len(x_tb), out_spec.elems):
            raise CodegenError(
                f"expected test vectors of shapes (N, {in_spec.elems}) and (N, {out_spec.elems}), "
                f"got {x_tb.shape!r} and {y_tb.shape!r}"
            )
        files[TB_INPUT] = render("tb_vectors.txt.j2", n=len(x_tb), elems=in_spec.elems, rows=_rows_text(x_tb))
        files[TB_EXPECTED] = render("tb_vectors.txt.j2", n=len(y_tb), elems=out_spec.elems, rows=_rows_text(y_tb))
        tb_data = (TB_INPUT, TB_EXPECTED)
    all_headers = tuple(sorted(headers)) + tuple(sorted(params_files)) + (top_h,)
    files["run_hls.tcl"] = render(
        "run_hls.tcl.j2",
        top=top,
        project=f"{top}_hls",
        part=str(part),
        period_ns=_period(float(clock_mhz)),
        sources=[top_cpp],
        headers=list(all_headers),
        tb_sources=[tb_cpp],
        tb_data=list(tb_data),
    )
    return HlsDesign(
        files=dict(sorted(files.items())),
        top=top,
        in_stream=in_spec,
        out_stream=out_spec,
        stages=tuple(stages),
        sources=(top_cpp,),
        headers=all_headers,
        tb_sources=(tb_cpp,),
        tb_data=tb_data,
    )


def _period(clock_mhz: float) -> str:
    """Clock period in ns as a short decimal (``10``, ``8``, ``6.666667``)."""
    return f"{1000.0 / clock_mhz:.6f}".rstrip("0").rstrip(".")
