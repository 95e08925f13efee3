"""RTL code generator: a folded IR graph -> a self-contained ``rtl/`` file plan.

:func:`render_rtl` builds a typed context from the graph (one stage per
node, dispatched on the node kind through :data:`RTL_STAGES`; stream
adapters, FIFOs and width converters between stages) and renders
``top.v.j2``.  The result, :class:`RtlDesign`, is an in-memory plan
(relative path under ``rtl/`` -> text): the generated top, one ``.mem`` file
per weight/threshold/parameter memory, and copies of every hand-written core
the design instantiates.  Writing it out is the caller's (atomic) business.

Stream conventions (the cores' contract): element ``i`` of a beat sits at
``[i*W +: W]``, the raw bits of the edge's IR type (two's complement,
unsigned, or one bit per bipolar element with 1 = +1).  Memory files are
referenced from the top by bare file name, so the simulator or synthesis tool
must find them in its working directory (or project sources).
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

import numpy as np

from gatesmith.ir.graph import Graph, Node
from gatesmith.ir.ops import Add, Concat, DepthwiseMatVec, LabelSelect, MatVec, MultiThreshold, PoolMode, Requant, SlidingWindow, WindowReduce
from gatesmith.ir.types import BipolarType, DType, IntType, parse_type, type_for_range
from gatesmith.ir.schedule.fifos import fifo_depths
from gatesmith.ir.schedule.folding import fold_count, ragged_beats, ragged_group, ragged_route, swg_ring_extra
from gatesmith.ir.schedule.impl import rtl_style_params
from gatesmith.ir.verifier import verify

from ._keywords import RESERVED_WORDS
from .env import Namer, banner, render, sanitize_ident
from .memfile import format_memh, pack_lanes

__all__ = [
    "CodegenError",
    "StreamSpec",
    "Stage",
    "RtlDesign",
    "render_rtl",
    "stage_block",
    "RTL_STAGES",
    "DEFAULT_FIFO_DEPTH",
    "core_source",
]

#: Depth of the FIFO between two stages unless the caller says otherwise.
DEFAULT_FIFO_DEPTH = 2

_PORT_NAMES = (
    "clk", "rst_n",
    "s_axis_tdata", "s_axis_tvalid", "s_axis_tready",
    "m_axis_tdata", "m_axis_tvalid", "m_axis_tready",
)
_STREAM_SUFFIXES = ("_tdata", "_tvalid", "_tready")
#: the top's extra ports when weights live in URAM (gs_wload.v)
_WLOAD_PORTS = ("s_axis_wl_tdata", "s_axis_wl_tvalid", "s_axis_wl_tready", "weights_loaded")
_TOP_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CORE_REF_RE = re.compile(r"\b(gs_[A-Za-z0-9_]+)\b")


class CodegenError(ValueError):
    """The graph cannot be turned into RTL (unsupported kind, missing folding, …)."""


# --------------------------------------------------------------------------- public records


@dataclass(frozen=True, kw_only=True)
class StreamSpec:
    """How one inference's vector travels on an AXI-Stream port.

    Beat ``b`` of inference ``n`` carries elements ``b*E .. b*E+E-1``
    (``E = elems_per_beat``), element ``i`` of the beat at bits
    ``[i*elem_bits +: elem_bits]`` as raw bits of ``dtype`` (``str`` of an IR
    type: ``s8``, ``u4``, ``bipolar``).  ``tdata_bits = E * elem_bits``, not
    padded to bytes.
    """

    elems_per_beat: int
    elem_bits: int
    dtype: str
    beats_per_inference: int
    tdata_bits: int

    @property
    def elems(self) -> int:
        """Elements of one inference."""
        return self.elems_per_beat * self.beats_per_inference

    @property
    def type(self) -> DType:
        return parse_type(self.dtype)

    def pack(self, x_int: np.ndarray) -> list[int]:
        """Integer vectors ``(N, elems)`` -> the ``N * beats_per_inference`` tdata words."""
        x = np.asarray(x_int)
        if x.ndim != 2 or x.shape[1] != self.elems:
            raise ValueError(f"expected integer inputs of shape (N, {self.elems}), got {x.shape!r}")
        t = self.type
        if x.size:
            lo, hi = int(x.min()), int(x.max())
            if t.bipolar:
                bad = sorted(set(np.unique(x).tolist()) - {-1, 1})
                if bad:
                    raise ValueError(f"expected bipolar values -1/+1, got {bad[:4]!r}")
            elif not t.contains(lo, hi):
                raise ValueError(f"values [{lo}, {hi}] do not fit the stream type {self.dtype}")
        raw = np.asarray(t.to_bits(x), dtype=object).reshape(-1, self.elems_per_beat)
        return pack_lanes(raw, self.elem_bits)

    def unpack(self, words) -> np.ndarray:
        """tdata words (``N * beats_per_inference``) -> integer vectors ``(N, elems)``."""
        words = [int(w) for w in words]
        if len(words) % self.beats_per_inference:
            raise ValueError(
                f"expected a multiple of {self.beats_per_inference} beats, got {len(words)}"
            )
        e, b = self.elems_per_beat, self.elem_bits
        mask = (1 << b) - 1
        raw = [(w >> (i * b)) & mask for w in words for i in range(e)]
        vals = np.asarray(self.type.from_bits(np.asarray(raw, dtype=object)))
        return vals.reshape(-1, self.elems)

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON description (for the manifest)."""
        return {
            "elems_per_beat": self.elems_per_beat,
            "elem_bits": self.elem_bits,
            "dtype": self.dtype,
            "beats_per_inference": self.beats_per_inference,
            "tdata_bits": self.tdata_bits,
            "elem_order": "element i of a beat at tdata[i*elem_bits +: elem_bits]; "
            "beat b holds elements b*elems_per_beat .. (b+1)*elems_per_beat-1",
        }


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One IR node as instantiated in the top (for reports)."""

    name: str  # sanitised, unique identifier used in the top
    node: str  # IR node name
    origin: str  # the ONNX node(s) it came from
    kind: str  # IR node kind
    core: str  # module name of the core
    instance: str
    parameters: Mapping[str, int | str]
    memory: str | None  # file name of its .mem (relative to rtl/)


@dataclass(frozen=True, kw_only=True)
class RtlDesign:
    """The rendered RTL: ``files`` maps paths relative to ``rtl/`` to their text."""

    files: Mapping[str, str]
    top: str
    in_stream: StreamSpec
    out_stream: StreamSpec
    stages: tuple[Stage, ...]
    sources: tuple[str, ...]  # Verilog files in compile order (cores first, top last)
    #: every internal stream of the top: {"name", "from", "to"} (block labels: a stage's
    #: name, or the instance of a FIFO / width converter / duplicator / adapter)
    streams: tuple[Mapping[str, str], ...] = ()
    #: None, or (weights in URAM) how to load them: {"stream", "tdata_bits", "words", "done",
    #: "layers": [{"node", "stage", "file", "depth", "width"}]} -- the words of every layer's
    #: ``file`` in this order, address 0 first, one a beat right-aligned (see ``gs_wload.v``)
    weight_load: Mapping[str, Any] | None = None

    def write(self, rtl_dir) -> None:
        """Write every file under ``rtl_dir`` (not atomic; the flow owns atomicity)."""
        from pathlib import Path

        d = Path(rtl_dir)
        d.mkdir(parents=True, exist_ok=True)
        for rel, text in self.files.items():
            p = d / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8", newline="\n")


# --------------------------------------------------------------------------- stage builders


@dataclass
class _Block:
    """A core instance under construction."""

    kind: str  # template macro: mvu | thresholds | requant | swg | pool | labelselect
    core: str
    in_elems: int
    out_elems: int
    params: dict[str, int | str]
    mem_suffix: str | None = None  # None: the core has no memory file
    mem_width: int = 0
    mem_words: list[int] | None = None
    port_elems: tuple[int, ...] | None = None  # elements a beat per input, where they differ (concat pixel mode)

    def elems_at(self, port: int) -> int:
        return self.port_elems[port] if self.port_elems is not None else self.in_elems


def _where(node: Node) -> str:
    return f"node {node.name!r} ({node.kind}, from {node.origin or '?'})"


def _bool(v: bool) -> int:
    return 1 if v else 0


def _signed_bits(lo: int, hi: int) -> int:
    return type_for_range(min(int(lo), 0), max(int(hi), 0), signed=True).bits


def _pad_rows(a: np.ndarray, rows: int, fill=None) -> np.ndarray:
    """``a`` (rows first) padded to ``rows`` rows for a ragged PE: with ``fill``, or copies of
    its last row (a threshold/requant lane of the padding computes values nobody reads)."""
    extra = rows - a.shape[0]
    if extra <= 0:
        return a
    pad = np.full((extra,) + a.shape[1:], fill, dtype=a.dtype) if fill is not None else np.repeat(a[-1:], extra, axis=0)
    return np.concatenate([a, pad], axis=0)


@lru_cache(maxsize=256)
def _weight_bits(op: MatVec) -> np.ndarray:
    """A unit's weights as raw bit patterns (read-only): int64 where they fit, so that the
    budget search, which lays them out for hundreds of foldings, packs them without Python
    ints; object ints beyond 62 bits."""
    raw = np.asarray(op.wtype.to_bits(np.asarray(op.weights)))
    raw = raw.astype(np.int64) if op.wtype.bits <= 62 else raw.astype(object)
    raw.flags.writeable = False
    return raw


def _mvu_stage(node: Node, op: MatVec, in_t: DType, out_t: DType) -> _Block:
    pe, simd = node.fold.pe, node.fold.simd
    mw = op.mw
    nf, sf = fold_count(op.mh, pe), mw // simd
    mh = nf * pe  # a ragged PE: the core computes NF*PE rows, the padding rows' weights are 0
    wt = op.wtype
    raw = _pad_rows(_weight_bits(op), mh, 0)
    # W[n*PE+p][s*SIMD+k] -> word n*SF+s, lane p*SIMD+k
    raw = raw.reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)
    params = {
        "MW": mw,
        "MH": mh,
        "PE": pe,
        "SIMD": simd,
        "IN_BITS": in_t.bits,
        "IN_SIGNED": _bool(in_t.signed and not in_t.bipolar),
        "IN_BIPOLAR": _bool(in_t.bipolar),
        "W_BITS": wt.bits,
        "W_SIGNED": _bool(wt.signed and not wt.bipolar),
        "W_BIPOLAR": _bool(wt.bipolar),
        "ACC_BITS": op.acc.bits,
        **rtl_style_params(node, depth=nf * sf, width=pe * simd * wt.bits, operands=(in_t, wt, pe * simd)),
    }
    return _Block(
        kind="mvu",
        core="gs_mvu",
        in_elems=simd,
        out_elems=pe,
        params=params,
        mem_suffix="weights",
        mem_width=pe * simd * wt.bits,
        mem_words=pack_lanes(raw, wt.bits),
    )


def _vvu_stage(node: Node, op: DepthwiseMatVec, in_t: DType, out_t: DType) -> _Block:
    pe = node.fold.pe
    c, pos = op.channels, op.positions
    wt = op.wtype
    raw = np.asarray(wt.to_bits(np.asarray(op.weights)), dtype=object)  # (C, P)
    # word p*G + g, lane k = W[g*PE+k][p]
    raw = raw.T.reshape(pos * (c // pe), pe)
    params = {
        "POS": pos, "C": c, "PE": pe,
        "IN_BITS": in_t.bits, "IN_SIGNED": _bool(in_t.signed and not in_t.bipolar), "IN_BIPOLAR": _bool(in_t.bipolar),
        "W_BITS": wt.bits, "W_SIGNED": _bool(wt.signed and not wt.bipolar), "W_BIPOLAR": _bool(wt.bipolar),
        "ACC_BITS": op.acc.bits,
        **rtl_style_params(node, depth=pos * (c // pe), width=pe * wt.bits, operands=(in_t, wt, pe)),
    }
    return _Block(kind="vvu", core="gs_vvu", in_elems=pe, out_elems=pe, params=params, mem_suffix="weights",
                  mem_width=pe * wt.bits, mem_words=pack_lanes(raw, wt.bits))


def _thresholds_stage(node: Node, op: MultiThreshold, in_t: DType, out_t: DType) -> _Block:
    pe = node.fold.pe
    c = op.channels
    lo, hi = int(in_t.min), int(in_t.max)
    t = np.asarray(op.thresholds, dtype=object).reshape(c, -1)
    n = t.shape[1]
    if isinstance(op.out, BipolarType):
        # +1 iff base + count > 0, i.e. count >= m = 1 - base, i.e. x >= T[c, m-1]
        m = 1 - int(op.base)
        if m <= 0:
            t = np.full((c, 1), lo, dtype=object)
        elif m > n:
            t = np.full((c, 1), hi + 1, dtype=object)
        else:
            t = t[:, m - 1 : m]
        base, out_bits, out_signed = 0, 1, 0
    else:
        if n == 0:
            t = np.full((c, 1), hi + 1, dtype=object)  # never reached: out = base
        base, out_bits, out_signed = int(op.base), op.out.bits, _bool(op.out.signed)
    out_lo, out_hi = (0, 1) if isinstance(op.out, BipolarType) else (op.out.min, op.out.max)
    if not (out_lo <= base and base + t.shape[1] <= out_hi):
        raise CodegenError(
            f"{_where(node)}: expected base .. base + N = {base} .. {base + t.shape[1]} inside "
            f"the output type {op.out} [{out_lo}, {out_hi}]"
        )
    # x >= T for T above the input range never holds, below it always: clip (exact)
    t = np.minimum(np.maximum(t, lo), hi + 1)
    n = t.shape[1]
    t_bits = max(in_t.bits, _signed_bits(int(t.min()), int(t.max())))
    raw = np.vectorize(lambda v: int(v) & ((1 << t_bits) - 1), otypes=[object])(t)
    c = fold_count(c, pe) * pe  # a ragged PE (on a ragged matvec stream): padding channels
    raw = _pad_rows(raw, c).reshape(c // pe, pe * n)  # word w, lane p*N+k = T[w*PE+p][k]
    params = {
        "C": c,
        "PE": pe,
        "IN_BITS": in_t.bits,
        "N": n,
        "T_BITS": t_bits,
        "OUT_BITS": out_bits,
        "OUT_SIGNED": out_signed,
        "BASE": base,
        **rtl_style_params(node, depth=c // pe, width=pe * n * t_bits),
    }
    return _Block(
        kind="thresholds",
        core="gs_thresholds",
        in_elems=pe,
        out_elems=pe,
        params=params,
        mem_suffix="thresholds",
        mem_width=pe * n * t_bits,
        mem_words=pack_lanes(raw, t_bits),
    )


def check_requant(node: Node, op: Requant) -> None:
    """What every requantizer core (RTL and HLS) needs of a Requant node."""
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


def _requant_stage(node: Node, op: Requant, in_t: DType, out_t: DType) -> _Block:
    pe = node.fold.pe
    c = op.channels
    out = op.out
    check_requant(node, op)
    bias = np.asarray(op.bias, dtype=object).reshape(c)
    mult = (
        np.asarray(op.mult, dtype=object).reshape(c)
        if op.use_mult
        else np.ones(c, dtype=object)
    )
    m_bits = _signed_bits(int(mult.min()), int(mult.max()))
    b_bits = _signed_bits(int(bias.min()), int(bias.max()))
    lane_bits = m_bits + b_bits
    lane = [
        ((int(m) & ((1 << m_bits) - 1)) << b_bits) | (int(b) & ((1 << b_bits) - 1))
        for m, b in zip(mult.tolist(), bias.tolist())
    ]
    c = fold_count(c, pe) * pe  # a ragged PE (on a ragged matvec stream): padding channels
    raw = _pad_rows(np.asarray(lane, dtype=object), c).reshape(c // pe, pe)
    params = {
        "C": c,
        "PE": pe,
        "IN_BITS": in_t.bits,
        "M_BITS": m_bits,
        "B_BITS": b_bits,
        "SHIFT": int(op.shift),
        "ROUNDING": int(op.rounding.value),
        "LO": int(op.lo),
        "HI": int(op.hi),
        "OUT_BITS": out.bits,
        "OUT_SIGNED": _bool(out.signed),
        "USE_MULT": _bool(op.use_mult),
    }
    for k in ("LO", "HI"):
        if not -(1 << 31) <= params[k] < (1 << 31):
            raise CodegenError(f"{_where(node)}: {k}={params[k]!r} does not fit a 32-bit parameter")
    return _Block(
        kind="requant",
        core="gs_requant",
        in_elems=pe,
        out_elems=pe,
        params=params,
        mem_suffix="params",
        mem_width=pe * lane_bits,
        mem_words=pack_lanes(raw, lane_bits),
    )


def _raw_bits(t: DType, value: int) -> int:
    return int(np.asarray(t.to_bits(np.asarray([value], dtype=object)), dtype=object).reshape(-1)[0])


def swg_geometry(node: Node, op: SlidingWindow, in_t: DType) -> tuple[dict, int]:
    """The window parameters both generators share (image, kernel, stride, padding, SIMD and,
    when > 1, KP kernel positions per beat) and the raw bits of the pad value, checked to be
    a value of the input type wherever there is padding (RTL and HLS)."""
    (h, w, c), (kh, kw), (sh, sw) = op.ifm, op.kernel, op.stride
    t, l, b, r = op.pads
    if not in_t.contains(op.pad_value, op.pad_value) and (t or l or b or r):
        raise CodegenError(f"{_where(node)}: pad value {op.pad_value!r} is not a value of {in_t}")
    pad_raw = _raw_bits(in_t, op.pad_value) if in_t.contains(op.pad_value, op.pad_value) else 0
    params = {
        "IFM_H": h, "IFM_W": w, "C": c, "K_H": kh, "K_W": kw, "S_H": sh, "S_W": sw,
        "PAD_T": t, "PAD_L": l, "PAD_B": b, "PAD_R": r, "SIMD": node.fold.simd,
    }
    return params, pad_raw


def _swg_stage(node: Node, op: SlidingWindow, in_t: DType, out_t: DType) -> _Block:
    simd = node.fold.simd
    geom, pad_raw = swg_geometry(node, op, in_t)
    params = {**geom, "ELEM_BITS": in_t.bits, "PAD_VALUE": pad_raw}
    kp = node.fold.pe  # kernel positions per beat (parallel windows)
    if kp != 1:
        params["KP"] = kp
    params["RING_EXTRA"] = swg_ring_extra(op)
    return _Block(kind="swg", core="gs_swg", in_elems=simd, out_elems=kp * simd, params=params)


def _pool_stage(node: Node, op: WindowReduce, in_t: DType, out_t: DType) -> _Block:
    pe = node.fold.pe
    if op.mode is PoolMode.MAX and out_t != in_t:
        raise CodegenError(f"{_where(node)}: a max pool keeps its type, got {in_t} -> {out_t}")
    params = {
        "POS": op.positions, "C": op.channels, "PE": pe, "IN_BITS": in_t.bits,
        "IN_SIGNED": _bool(in_t.signed and not in_t.bipolar), "OUT_BITS": out_t.bits,
        "MODE": 0 if op.mode is PoolMode.MAX else 1,
    }
    return _Block(kind="pool", core="gs_pool", in_elems=pe, out_elems=pe, params=params)


def _labelselect_stage(node: Node, op: LabelSelect, in_t: DType, out_t: DType) -> _Block:
    params = {
        "C": op.channels, "PE": node.fold.pe, "IN_BITS": in_t.bits,
        "IN_SIGNED": _bool(in_t.signed and not in_t.bipolar), "K": op.k, "IDX_BITS": out_t.bits,
    }
    return _Block(kind="labelselect", core="gs_labelselect", in_elems=node.fold.pe, out_elems=1, params=params)


def _add_stage(node: Node, op: Add, in_t, out_t: DType) -> _Block:
    ta, tb = in_t
    for k, m in (("M_A", op.mult_a), ("M_B", op.mult_b)):
        if not -(1 << 63) < m < (1 << 63):
            raise CodegenError(f"{_where(node)}: {k}={m!r} does not fit a 64-bit parameter")
    params = {
        "PE": node.fold.pe,
        "A_BITS": ta.bits, "A_SIGNED": _bool(ta.signed and not ta.bipolar), "A_BIPOLAR": _bool(ta.bipolar),
        "B_BITS": tb.bits, "B_SIGNED": _bool(tb.signed and not tb.bipolar), "B_BIPOLAR": _bool(tb.bipolar),
        "M_A": int(op.mult_a), "M_B": int(op.mult_b), "OUT_BITS": out_t.bits,
    }
    return _Block(kind="add", core="gs_add", in_elems=node.fold.pe, out_elems=node.fold.pe, params=params)


def _concat_stage(node: Node, op: Concat, in_t, out_t: DType) -> _Block:
    ta, tb = in_t
    if ta != tb:
        raise CodegenError(f"{_where(node)}: expected both inputs of one type, got {ta} and {tb}")
    params = {"CA": op.channels_a, "CB": op.channels_b, "PE": node.fold.pe, "ELEM_BITS": ta.bits}
    return _Block(kind="concat", core="gs_concat", in_elems=node.fold.pe, out_elems=node.fold.pe, params=params,
                  port_elems=op.port_lanes(node.fold.pe))


def _mvu_fifo(node: Node) -> int:
    # fold 0 reads the SF beats of a vector back to back while the producer spreads
    # them over its whole period: buffering one vector keeps the MVU at NF*SF cycles
    return max(DEFAULT_FIFO_DEPTH, node.op.mw // node.fold.simd)


def _stream_fifo(node: Node) -> int:
    return DEFAULT_FIFO_DEPTH  # one beat in, one beat out per cycle: no bursts to absorb


@dataclass(frozen=True)
class _StageKind:
    build: Callable[..., _Block]
    signed_input: bool  # the core reads its input lanes as signed IN_BITS
    auto_fifo: Callable[[Node], int]  # default depth of the FIFO in front of the core


#: node kind -> how to build its stage; every kind the RTL generator supports.
RTL_STAGES: dict[str, _StageKind] = {
    "matvec": _StageKind(_mvu_stage, signed_input=False, auto_fifo=_mvu_fifo),
    "threshold": _StageKind(_thresholds_stage, signed_input=True, auto_fifo=_stream_fifo),
    "requant": _StageKind(_requant_stage, signed_input=True, auto_fifo=_stream_fifo),
    "swg": _StageKind(_swg_stage, signed_input=False, auto_fifo=_stream_fifo),
    "vvu": _StageKind(_vvu_stage, signed_input=False, auto_fifo=_stream_fifo),
    "pool": _StageKind(_pool_stage, signed_input=False, auto_fifo=_stream_fifo),
    "labelselect": _StageKind(_labelselect_stage, signed_input=False, auto_fifo=_stream_fifo),
    "add": _StageKind(_add_stage, signed_input=False, auto_fifo=_stream_fifo),
    "concat": _StageKind(_concat_stage, signed_input=False, auto_fifo=_stream_fifo),
}

#: node kinds with no hardware: the stream passes through unchanged
_PASS_KINDS = ("reshape",)


# --------------------------------------------------------------------------- cores


def _rtl_root():
    return importlib.resources.files("gatesmith") / "rtl"


def core_source(module: str) -> str:
    """Text of the hand-written core ``rtl/<module>.v`` from the installed package."""
    res = _rtl_root() / f"{module}.v"
    if not res.is_file():
        raise CodegenError(
            f"expected the RTL core {module + '.v'!r} in the gatesmith package "
            f"({str(_rtl_root())!r}); it is missing"
        )
    return res.read_text(encoding="utf-8")


def _core_closure(modules: list[str]) -> list[str]:
    """The cores ``modules`` need, dependencies first, each once (deterministic)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(mod: str, stack: tuple[str, ...]) -> None:
        if mod in seen or mod in stack:
            return
        text = core_source(mod)
        deps = sorted(
            {
                m
                for m in _CORE_REF_RE.findall(_strip_comments(text))
                if m != mod and (_rtl_root() / f"{m}.v").is_file()
            }
        )
        for d in deps:
            visit(d, stack + (mod,))
        seen.add(mod)
        order.append(mod)

    for m in modules:
        visit(m, ())
    return order


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


# --------------------------------------------------------------------------- top context


def _carrier_for_signed(t: DType) -> tuple[DType, str | None]:
    """The signed type a core reading signed lanes sees, and the adapter needed."""
    if t.bipolar:
        return IntType(bits=2, signed=True), "bipolar"
    if not t.signed:
        return IntType(bits=t.bits + 1, signed=True), "zext"
    return t, None


def _hardware_nodes(graph: Graph) -> list[Node]:
    """The nodes that become stages, with pass-through (reshape) nodes bypassed."""
    alias: dict[str, str] = {}
    out = []
    for n in graph.nodes:
        ins = tuple(alias.get(i, i) for i in n.inputs)
        if n.kind in _PASS_KINDS:
            alias[n.outputs[0]] = ins[0]
            continue
        out.append(n.with_(inputs=ins))
    return out


def _check_dag(graph: Graph, nodes: list[Node]) -> None:
    """One input, one output; every stream produced once, consumed, and reaching the output."""
    if not nodes:
        raise CodegenError(f"graph {graph.name!r} has no nodes: nothing to generate")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise CodegenError(
            f"graph {graph.name!r}: expected one input and one output, "
            f"got inputs {list(graph.inputs)!r} and outputs {list(graph.outputs)!r}"
        )
    used = {i for n in nodes for i in n.inputs}
    for node in nodes:
        if node.outputs[0] not in used and node.outputs[0] != graph.outputs[0]:
            raise CodegenError(
                f"{_where(node)}: its output {node.outputs[0]!r} feeds nothing; expected every stream "
                f"to reach the graph output {graph.outputs[0]!r}"
            )
    if not any(n.outputs[0] == graph.outputs[0] for n in nodes):
        raise CodegenError(f"graph {graph.name!r}: no stage produces the graph output {graph.outputs[0]!r}")


def _stream_spec(t: DType, elems_per_beat: int, elems: int) -> StreamSpec:
    return StreamSpec(
        elems_per_beat=elems_per_beat,
        elem_bits=t.bits,
        dtype=str(t),
        beats_per_inference=elems // elems_per_beat,
        tdata_bits=elems_per_beat * t.bits,
    )


def stage_block(graph: Graph, node: Node) -> _Block:
    """The core of one hardware node at its folding: module, parameters and memory words
    (``render_rtl`` instantiates it; ``ir/schedule/search.py`` costs it without rendering)."""
    try:
        sk = RTL_STAGES[node.kind]
    except KeyError:
        raise CodegenError(
            f"{_where(node)}: the RTL code generator supports node kinds "
            f"{sorted(RTL_STAGES)!r}, not {node.kind!r}"
        ) from None
    if node.fold is None:
        raise CodegenError(f"{_where(node)}: no folding (PE/SIMD); schedule the graph first")
    in_ts = [graph.value(i).dtype for i in node.inputs]
    out_t = graph.value(node.outputs[0]).dtype
    # cores that read signed lanes see unsigned/bipolar edges through an adapter
    core_in = [_carrier_for_signed(t)[0] if sk.signed_input else t for t in in_ts]
    return sk.build(node, node.op, core_in[0] if len(core_in) == 1 else tuple(core_in), out_t)


def render_rtl(
    graph: Graph,
    *,
    top: str = "gatesmith_top",
    fifo_depth: int | Mapping[str, int] | None = None,
) -> RtlDesign:
    """Generate the RTL of a folded integer graph (a chain, or a DAG whose fan-outs
    get stream duplicators and whose merges (add, concat) get FIFOs sized by
    :func:`gatesmith.ir.schedule.fifos.fifo_depths`).

    ``fifo_depth``: depth (in the consumer's input beats) of the FIFO in front of
    every stage but the first, between the width converter (if any) and the
    core: an int for all, or a mapping IR node name -> depth of that node's
    input FIFO; 0 leaves the FIFO out, otherwise >= 2.  ``None`` (and nodes
    missing from a mapping) get the automatic depth: one vector (SF = MW/SIMD
    beats, at least 2) in front of a matvec, whose fold 0 reads its input in a
    burst, and :data:`DEFAULT_FIFO_DEPTH` in front of threshold/requant stages.  Raises :class:`CodegenError` for graphs the generator cannot handle.
    """
    if not isinstance(top, str) or not _TOP_RE.match(top) or top.lower() in RESERVED_WORDS:
        raise CodegenError(
            f"expected the top module name to be a Verilog identifier that is not a "
            f"reserved word, got {top!r}"
        )
    if top.startswith("gs_"):
        raise CodegenError(f"the top module name must not start with 'gs_' (core names), got {top!r}")
    verify(graph)
    hw_nodes = _hardware_nodes(graph)
    _check_dag(graph, hw_nodes)

    namer = Namer(reserved=(*_PORT_NAMES, top))
    for child in sorted(p.name for p in _rtl_root().iterdir() if p.name.endswith(".v")):
        namer.reserve(child[:-2])

    # stage blocks
    staged: list[tuple[Node, _Block, bool, DType]] = []
    for node in hw_nodes:
        blk = stage_block(graph, node)
        staged.append((node, blk, RTL_STAGES[node.kind].signed_input, graph.value(node.outputs[0]).dtype))
    # weights in URAM (MEM_STYLE "ultra"): loaded through a stream before inputs are taken
    uram = [blk for _, blk, _, _ in staged if blk.params.get("MEM_STYLE") == "ultra"]
    if uram:
        namer.reserve(*_WLOAD_PORTS)
        wl = {"gate": namer.claim("s_axis_gated", _STREAM_SUFFIXES), "valid": namer.claim("wl_valid"),
              "addr": namer.claim("wl_addr"), "data": namer.claim("wl_data"), "inst": namer.claim("u_wload"),
              "gate_label": namer.claim("weight_load_gate")}

    branch = fifo_depths(graph)

    def depth_of(node: Node, port: int) -> int:
        key = node.name if port == 0 else f"{node.name}:{port}"
        if isinstance(fifo_depth, Mapping):
            d = fifo_depth.get(key)
        else:
            d = fifo_depth
        if d is None:
            d = max(RTL_STAGES[node.kind].auto_fifo(node), branch.get(f"{node.name}:{port}", 0))
        d = int(d)
        if d != 0 and d < 2:
            raise CodegenError(f"{_where(node)}: FIFO depth must be 0 (none) or >= 2, got {d!r}")
        return d

    wires: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    stages: list[Stage] = []
    mems: dict[str, str] = {}

    def new_stream(base: str, bits: int) -> str:
        name = namer.claim(base, _STREAM_SUFFIXES)
        wires.append({"name": name, "bits": bits})
        return name

    consumers: dict[str, list[tuple[Node, int]]] = {}
    for node in hw_nodes:
        for port, v in enumerate(node.inputs):
            consumers.setdefault(v, []).append((node, port))
    # (stream, elements per beat or None for the top input, type, vector length of a ragged
    # stream or None) feeding each (node, port); a ragged stream (a matvec PE not dividing MH)
    # pads each vector's last beat: threshold/requant cores at the same PE pass it on, a
    # width converter in front of any other core drops the padding
    port_src: dict[tuple[str, int], tuple[str, int | None, DType, int | None]] = {}

    def fan_out(value: str, stream: str, elems: int | None, t: DType, group: int | None = None) -> None:
        users = consumers.get(value, [])
        if len(users) <= 1:
            for node, port in users:
                port_src[(node.name, port)] = (stream, elems, t, group)
            return
        if elems is None:  # the top input fans out: its beat width is the first user's
            elems = next(b.elems_at(users[0][1]) for n, b, _, _ in staged if n.name == users[0][0].name)
            first_in[0] = elems
        outs = []
        for node, port in users:
            dst = new_stream(f"{node.name}_in{port}", elems * t.bits)
            outs.append(dst)
            port_src[(node.name, port)] = (dst, elems, t, group)
        blocks.append({"kind": "dup", "inst": namer.claim(f"u_{value}_dup"), "src": stream, "dsts": outs,
                       "p": {"WIDTH": elems * t.bits, "N": len(outs)}})

    first_in: list[int | None] = [None]
    fan_out(graph.inputs[0], wl["gate"] if uram else "s_axis", None, graph.value(graph.inputs[0]).dtype)
    wl_layers: list[dict[str, Any]] = []
    for node, blk, signed_input, out_t in staged:
        nm = namer.claim(node.name, _STREAM_SUFFIXES)
        inst = namer.claim("u_" + nm)
        srcs = []
        out_group = ragged_group(node)
        for port in range(len(node.inputs)):
            cur, cur_elems, cur_t, group = port_src[(node.name, port)]
            want = blk.elems_at(port)
            sfx = "" if len(node.inputs) == 1 else f"_in{port}"
            passes, convert = ragged_route(node, group, cur_elems, want)
            if passes:
                out_group = group
            if cur_elems is None:  # reads the top input directly: it sets the input beat width
                first_in[0] = want
            elif convert:  # width conversion
                dst = new_stream(nm + sfx + "_dwc", want * cur_t.bits)
                dp = {"IN_ELEMS": cur_elems, "OUT_ELEMS": want, "ELEM_BITS": cur_t.bits}
                if group is not None:  # drop the padding of each vector's last beat
                    nb, last = ragged_beats(group, cur_elems)
                    dp.update(GROUP_BEATS=nb, LAST_ELEMS=last)
                blocks.append({
                    "kind": "dwc", "inst": namer.claim("u_" + nm + sfx + "_dwc"), "src": cur, "dst": dst,
                    "p": dp,
                })
                cur = dst
            # FIFO in front of the core, at the core's input width (after the DWC, so a buffered
            # vector can be read at one beat per cycle); none on the top input itself
            if cur_elems is not None:
                d = depth_of(node, port)
                if d:
                    width = want * cur_t.bits
                    dst = new_stream(nm + sfx + "_fifo", width)
                    blocks.append({"kind": "fifo", "inst": namer.claim("u_" + nm + sfx + "_fifo"), "src": cur,
                                   "dst": dst, "p": {"WIDTH": width, "DEPTH": d}})
                    cur = dst
            if signed_input:
                carrier, mode = _carrier_for_signed(cur_t)
                if mode is not None:
                    dst = new_stream(nm + sfx + "_sx", want * carrier.bits)
                    blocks.append({
                        "kind": "widen", "mode": mode, "lanes": want, "in_bits": cur_t.bits,
                        "out_bits": carrier.bits, "genvar": namer.claim(nm + sfx + "_lane"),
                        "label": namer.claim("g_" + nm + sfx + "_sx"), "src": cur, "dst": dst,
                    })
                    cur = dst
            srcs.append(cur)
        # ---- the core
        is_out = node.outputs[0] == graph.outputs[0]
        out_stream = "m_axis" if is_out else nm
        if not is_out:
            wires.append({"name": nm, "bits": blk.out_elems * out_t.bits})
        params = dict(blk.params)
        mem_name = None
        if blk.mem_suffix is not None:
            mem_name = f"{nm}_{blk.mem_suffix}.mem"
            mems[mem_name] = format_memh(blk.mem_words, blk.mem_width, header=banner("//"))
            params_file_key = {"mvu": "WEIGHT_FILE", "vvu": "WEIGHT_FILE", "thresholds": "THRESH_FILE",
                               "requant": "PARAM_FILE"}[blk.kind]
            params[params_file_key] = mem_name
        block = {"kind": blk.kind, "inst": inst, "src": srcs[0], "srcs": srcs, "dst": out_stream, "p": params,
                 "stage": nm}
        if blk in uram:
            depth = len(blk.mem_words)
            block["wl"] = {"index": len(wl_layers), "aw": max(1, (depth - 1).bit_length()), "width": blk.mem_width,
                           "valid": wl["valid"], "addr": wl["addr"], "data": wl["data"]}
            wl_layers.append({"node": node.name, "stage": nm, "file": mem_name, "depth": depth,
                              "width": blk.mem_width})
        blocks.append(block)
        stages.append(
            Stage(
                name=nm,
                node=node.name,
                origin=node.origin,
                kind=node.kind,
                core=blk.core,
                instance=inst,
                parameters=dict(params),
                memory=mem_name,
            )
        )
        if is_out and out_group is not None:
            raise CodegenError(
                f"{_where(node)}: PE={node.fold.pe} does not divide the {out_group} channels of the graph "
                f"output; the output stream must be dense (expected a PE dividing {out_group})"
            )
        if not is_out:
            fan_out(node.outputs[0], out_stream, blk.out_elems, out_t, out_group)
    in_t0 = graph.value(graph.inputs[0]).dtype
    in_spec = _stream_spec(in_t0, first_in[0], int(np.prod(graph.value(graph.inputs[0]).shape)))
    out_v = graph.value(graph.outputs[0])
    last_blk = next(b for n, b, _, _ in staged if n.outputs[0] == graph.outputs[0])
    out_spec = _stream_spec(out_v.dtype, last_blk.out_elems, int(np.prod(out_v.shape)))
    weight_load = None
    if uram:
        dw = max(x["width"] for x in wl_layers)
        aw = max(max(1, (x["depth"] - 1).bit_length()) for x in wl_layers)
        wires.append({"name": wl["gate"], "bits": in_spec.tdata_bits})
        blocks[:0] = [
            {"kind": "wload", "inst": wl["inst"], "src": "s_axis_wl", "dst": None, "wl": wl,
             "p": {"LAYERS": len(wl_layers), "LAST_ADDRS": [x["depth"] - 1 for x in reversed(wl_layers)],
                   "AW": aw, "DW": dw}},
            {"kind": "gate", "label": wl["gate_label"], "inst": wl["gate_label"], "src": "s_axis", "dst": wl["gate"]},
        ]
        weight_load = {"stream": "s_axis_wl", "tdata_bits": dw, "words": sum(x["depth"] for x in wl_layers),
                       "done": "weights_loaded", "layers": wl_layers}

    used = {b["kind"] for b in blocks}
    modules = [blk.core for _, blk, _, _ in staged]
    if "fifo" in used:
        modules.append("gs_fifo")
    if "dwc" in used:
        modules.append("gs_dwc")
    if "dup" in used:
        modules.append("gs_dup")
    if "wload" in used:
        modules.append("gs_wload")
    cores = _core_closure(sorted(set(modules)))

    top_text = render(
        "top.v.j2",
        top=top,
        graph_name=sanitize_ident(graph.name),
        in_bits=in_spec.tdata_bits,
        out_bits=out_spec.tdata_bits,
        in_spec=in_spec,
        out_spec=out_spec,
        wires=wires,
        blocks=blocks,
        cores=cores,
        weight_load=weight_load,
    )
    streams = _stream_table(wires, blocks)
    files: dict[str, str] = {f"{top}.v": top_text}
    files.update(mems)
    for core in cores:
        files[f"{core}.v"] = core_source(core)
    files = dict(sorted(files.items()))
    sources = tuple(f"{c}.v" for c in cores) + (f"{top}.v",)
    return RtlDesign(
        files=files,
        top=top,
        in_stream=in_spec,
        out_stream=out_spec,
        stages=tuple(stages),
        sources=sources,
        streams=streams,
        weight_load=weight_load,
    )


def _stream_table(wires, blocks) -> tuple[dict[str, str], ...]:
    def label(b) -> str:
        return b.get("stage") or b.get("label") or b["inst"]

    producer, consumer = {}, {}
    for b in blocks:
        for s in b.get("srcs") or [b["src"]]:
            consumer[s] = label(b)
        for d in b.get("dsts") or [b["dst"]]:
            producer[d] = label(b)
    return tuple({"name": w["name"], "from": producer.get(w["name"], "?"), "to": consumer.get(w["name"], "?")}
                 for w in wires)

