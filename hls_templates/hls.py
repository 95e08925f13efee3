"""HLS C++ code generator: a folded IR graph -> a self-contained ``hls/`` file plan.

:func:`render_hls` mirrors :func:`gatesmith.hls_templates.rtl.render_rtl`: one
stage per node, built by the builder :data:`HLS_STAGES` holds for the node's
kind (an unknown kind raises :class:`CodegenError` naming the node), width
converters between stages whose beats differ, stream depths as the RTL's
FIFOs.  The result, :class:`HlsDesign`, is an in-memory plan (relative path
under ``hls/`` -> text):

- copies of the kernel headers (``hls_templates/hls/gs_*.h``, hand-written),
- ``<top>.h`` / ``<top>.cpp``: the top function, ``#pragma HLS DATAFLOW``
  chaining the kernels through ``hls::stream`` (``top.h.j2``, ``top.cpp.j2``),
- ``<stage>_params.h``: the weights / thresholds / requantizer constants of
  each stage as constant arrays laid out by its folding (``params.h.j2``),
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
from gatesmith.ir.ops import MatVec, MultiThreshold, Requant
from gatesmith.ir.types import BipolarType, DType, IntType, type_for_range
from gatesmith.ir.verifier import verify

from ._keywords import RESERVED_WORDS
from .env import Namer, render, sanitize_ident
from .rtl import DEFAULT_FIFO_DEPTH, CodegenError, StreamSpec

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

    kind: str  # template macro: mvu | thresholds | requant
    kernel: str
    in_elems: int
    out_elems: int
    params: dict[str, int | str]
    roms: list[tuple[str, np.ndarray, int, bool]]  # (suffix, values, bits, signed)


def _where(node: Node) -> str:
    return f"node {node.name!r} ({node.kind}, from {node.origin or '?'})"


def _signed_bits(lo: int, hi: int) -> int:
    return type_for_range(min(int(lo), 0), max(int(hi), 0), signed=True).bits


def _b(v: bool) -> int:
    return 1 if v else 0


def _enc(t: DType) -> dict[str, int]:
    """IN_/OUT_ encoding parameters of an edge type."""
    return {"BITS": t.bits, "SIGNED": _b(t.signed and not t.bipolar), "BIPOLAR": _b(t.bipolar)}


def _mvu_stage(node: Node, op: MatVec, in_t: DType, out_t: DType) -> _Block:
    pe, simd = node.fold.pe, node.fold.simd
    mh, mw = op.mh, op.mw
    nf, sf = mh // pe, mw // simd
    if not (isinstance(out_t, IntType) and out_t.signed):
        raise CodegenError(f"{_where(node)}: expected a signed accumulator type, got {out_t}")
    wt = op.wtype
    w = np.asarray(op.weights, dtype=object)
    if wt.bipolar:
        w = np.where(w > 0, 1, 0).astype(object)  # the raw bit, 1 = +1
    # W[n*PE+p][s*SIMD+k] -> weights[p][k][n*SF+s]
    w = w.reshape(nf, pe, sf, simd).transpose(1, 3, 0, 2).reshape(pe, simd, nf * sf)
    ie, we = _enc(in_t), _enc(wt)
    params = {
        "MW": mw, "MH": mh, "PE": pe, "SIMD": simd,
        "IN_BITS": ie["BITS"], "IN_SIGNED": ie["SIGNED"], "IN_BIPOLAR": ie["BIPOLAR"],
        "W_BITS": we["BITS"], "W_SIGNED": we["SIGNED"], "W_BIPOLAR": we["BIPOLAR"],
        "ACC_BITS": out_t.bits,
    }
    return _Block(kind="mvu", kernel="gs_mvu", in_elems=simd, out_elems=pe, params=params,
                  roms=[("weights", w, wt.bits, bool(we["SIGNED"]))])


def _thresholds_stage(node: Node, op: MultiThreshold, in_t: DType, out_t: DType) -> _Block:
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
    # T[n*PE+p][k] -> thresholds[p][k][n]
    arr = t.reshape(c // pe, pe, n).transpose(1, 2, 0)
    ie, oe = _enc(in_t), _enc(op.out)
    params = {
        "C": c, "PE": pe, "N": n,
        "IN_BITS": ie["BITS"], "IN_SIGNED": ie["SIGNED"], "IN_BIPOLAR": ie["BIPOLAR"],
        "T_BITS": t_bits,
        "OUT_BITS": oe["BITS"], "OUT_SIGNED": oe["SIGNED"], "OUT_BIPOLAR": oe["BIPOLAR"],
        "BASE": base,
    }
    return _Block(kind="thresholds", kernel="gs_thresholds", in_elems=pe, out_elems=pe, params=params,
                  roms=[("thresholds", arr, t_bits, True)])


def _requant_stage(node: Node, op: Requant, in_t: DType, out_t: DType) -> _Block:
    pe = node.fold.pe
    c = op.channels
    out = op.out
    if isinstance(out, BipolarType):
        raise CodegenError(f"{_where(node)}: a requant cannot produce bipolar output")
    if not (out.min <= op.lo <= op.hi <= out.max):
        raise CodegenError(
            f"{_where(node)}: expected clamp bounds inside {out} [{out.min}, {out.max}], "
            f"got lo={op.lo!r} hi={op.hi!r}"
        )
    if op.shift < 0:
        raise CodegenError(f"{_where(node)}: expected a shift >= 0, got {op.shift!r}")
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
    params = {
        "C": c, "PE": pe,
        "IN_BITS": ie["BITS"], "IN_SIGNED": ie["SIGNED"], "IN_BIPOLAR": ie["BIPOLAR"],
        "M_BITS": m_bits, "B_BITS": b_bits, "T_BITS": t_bits,
        "SHIFT": int(op.shift), "MODE": "GS_" + op.rounding.name,
        "LO": int(op.lo), "HI": int(op.hi),
        "OUT_BITS": out.bits, "OUT_SIGNED": _b(out.signed),
        "USE_MULT": _b(op.use_mult),
    }
    # M[n*PE+p] -> mult[p][n]
    return _Block(kind="requant", kernel="gs_requant", in_elems=pe, out_elems=pe, params=params,
                  roms=[("mult", mult.reshape(c // pe, pe).T, m_bits, True),
                        ("bias", bias.reshape(c // pe, pe).T, b_bits, True)])


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
}

#: node kinds that are no hardware (the element order of the stream is unchanged)
PASS_KINDS = ("reshape",)


def unsupported(graph: Graph) -> str:
    """Why :func:`render_hls` cannot generate ``graph`` ("" if it can): the first node whose
    kind has no entry in :data:`HLS_STAGES`, that works on more than one vector per
    inference, or that breaks the linear chain from the graph input to its output."""
    alias: dict[str, str] = {}
    prev = graph.inputs[0] if len(graph.inputs) == 1 else None
    for node in graph.nodes:
        if node.kind in PASS_KINDS:
            alias[node.outputs[0]] = alias.get(node.inputs[0], node.inputs[0])
            continue
        if node.kind not in HLS_STAGES:
            return (
                f"{_where(node)}: the HLS code generator supports node kinds {sorted(HLS_STAGES)!r}, "
                f"not {node.kind!r}"
            )
        shape = tuple(graph.value(node.inputs[0]).shape) if node.inputs else ()
        if len(shape) != 1:
            return f"{_where(node)}: the HLS kernels take one vector per inference, not shape {shape!r}"
        src = tuple(alias.get(i, i) for i in node.inputs)
        if prev is None or src != (prev,) or len(node.outputs) != 1:
            return (
                f"{_where(node)}: the HLS code generator handles a linear chain; expected the input "
                f"{prev!r}, got {list(node.inputs)!r}"
            )
        prev = node.outputs[0]
    if prev is None or len(graph.outputs) != 1 or alias.get(graph.outputs[0], graph.outputs[0]) != prev:
        return (
            f"graph {graph.name!r}: expected one input and one output joined by a chain of nodes, got "
            f"inputs {list(graph.inputs)!r} and outputs {list(graph.outputs)!r}"
        )
    if prev == graph.inputs[0]:
        return f"graph {graph.name!r} has no nodes: nothing to generate"
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
    """Generate the HLS C++ of a folded, linear integer graph.

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

    staged: list[tuple[Node, _Block, DType]] = []
    for node in (n for n in graph.nodes if n.kind not in PASS_KINDS):
        sk = HLS_STAGES[node.kind]
        if node.fold is None:
            raise CodegenError(f"{_where(node)}: no folding (PE/SIMD); schedule the graph first")
        in_t = graph.value(node.inputs[0]).dtype
        out_t = graph.value(node.outputs[0]).dtype
        blk = sk.build(node, node.op, in_t, out_t)
        staged.append((node, blk, out_t))

    streams: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    params_files: dict[str, str] = {}
    stages: list[HlsStage] = []
    roms_all: list[dict[str, Any]] = []

    def new_stream(name: str, bits: int) -> dict[str, Any]:  # name: claimed with its stage
        s = {"name": name, "bits": bits, "depth": DEFAULT_FIFO_DEPTH}
        streams.append(s)
        return s

    cur: dict[str, Any] | None = None  # None: the top's input s_axis
    cur_elems = staged[0][1].in_elems
    cur_t = graph.value(graph.inputs[0]).dtype
    last = len(staged) - 1
    for i, (node, blk, out_t) in enumerate(staged):
        nm = namer.claim(
            node.name, ("", "_out", "_dwc", "_params") + tuple(f"_{r[0]}{t}" for r in blk.roms for t in ("", "_t"))
        )
        if cur_elems != blk.in_elems:
            dst = new_stream(nm + "_dwc", blk.in_elems * cur_t.bits)
            elems = int(np.prod(graph.value(node.inputs[0]).shape))
            calls.append({
                "kind": "dwc", "stage": nm,
                "src": cur["name"] if cur else "s_axis", "dst": dst["name"],
                "p": {"ELEMS": elems, "IN_ELEMS": cur_elems, "OUT_ELEMS": blk.in_elems, "BITS": cur_t.bits},
            })
            cur = dst
        if i > 0 and cur is not None:
            cur["depth"] = max(cur["depth"], HLS_STAGES[node.kind].stream_depth(node))
        roms = [_rom(f"{nm}_{suffix}", vals, bits=bits, signed=signed) for suffix, vals, bits, signed in blk.roms]
        header = f"{nm}_params.h"
        params_files[header] = render(
            "params.h.j2", guard=f"GS_{nm.upper()}_PARAMS_H", stage=nm, kind=blk.kind, roms=roms,
        )
        roms_all.extend(roms)
        dst = None if i == last else new_stream(nm + "_out", blk.out_elems * out_t.bits)
        calls.append({
            "kind": blk.kind, "stage": nm, "kernel": blk.kernel,
            "src": cur["name"] if cur else "s_axis", "dst": dst["name"] if dst else "m_axis",
            "p": dict(blk.params), "roms": [r["name"] for r in roms], "header": header,
        })
        stages.append(HlsStage(name=nm, node=node.name, kind=node.kind, kernel=blk.kernel,
                               params=dict(blk.params), header=header))
        cur, cur_elems, cur_t = dst, blk.out_elems, out_t

    vin, vout = graph.value(graph.inputs[0]), graph.value(graph.outputs[0])
    in_spec = _stream_spec(vin.dtype, staged[0][1].in_elems, int(np.prod(vin.shape)))
    out_spec = _stream_spec(vout.dtype, staged[-1][1].out_elems, int(np.prod(vout.shape)))
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
