"""Context builder of the Vivado export (``gatesmith export vivado OUT``).

:func:`vivado_plan` reads a compiled design's manifest and a board and returns
the in-memory plan (relative path under ``OUT/vivado/`` -> text) rendered from
``vivado_build.tcl.j2``, ``clock.xdc.j2``, ``axis_wrapper.v.j2`` and
``pynq_driver.py.j2``.  Nothing here writes files; :mod:`gatesmith.export`
writes the plan atomically.

The accelerator is packaged as a Vivado IP around a thin wrapper
(``<top>_axis``) that pads ``tdata`` to the AXI DMA's width (a power of two
of at least 8 bits on Zynq boards, a byte multiple otherwise), names the
clock and reset ``ap_clk``/``ap_rst_n`` and generates ``m_axis_tlast`` at the
last beat of every inference (the DMA's S2MM channel needs it).

Weights in URAM (manifest ``weight_load``): the wrapper also exposes the top's
weight-load stream as a second slave ``s_axis_wl`` (padded like ``s_axis``)
and ``weights_loaded``; on a Zynq board a second AXI DMA (MM2S only) feeds
it and an AXI GPIO input reads ``weights_loaded``.  The words to stream (every
layer's ``.mem`` file in load order, as the simulation harness streams them)
ship as ``driver/weights.memh``; the driver's ``Accelerator.load_weights``
sends them before the first inference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from .env import banner, render
from .memfile import format_memh, weight_load_words

__all__ = ["VivadoPlanError", "vivado_plan", "DMA_MAX_TDATA_BITS", "padded_tdata_bits"]

#: widest AXI DMA stream (bits)
DMA_MAX_TDATA_BITS = 1024

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_XILINX_FAMILIES = ("xc7", "xcup", "xcu")
_ROUNDINGS = ("ROUND", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN")
_SIMPLE_PRE = ("Mul", "Div", "Add", "Sub", "Pow", "Relu", "Clip")

#: names of the blocks in the block design (fixed: never taken from the model)
BD_NAME = "gatesmith_bd"
ACCEL_CELL = "gatesmith_accel"
DMA_CELL = "axi_dma_0"
PS_CELL = "ps"
WL_DMA_CELL = "axi_dma_wl"
WL_GPIO_CELL = "weights_loaded_gpio"
#: the top's weight-load ports (``hls_templates/rtl.py``, ``gs_wload.v``) and the shipped words
WL_STREAM = "s_axis_wl"
WL_DONE = "weights_loaded"
WL_FILE = "weights.memh"
#: bytes one AXI DMA simple-mode transfer can move (``c_sg_length_width``)
SG_LENGTH_WIDTH = 26


class VivadoPlanError(ValueError):
    """The design or board cannot be exported to Vivado; the message says why."""


def padded_tdata_bits(bits: int, *, dma: bool) -> int:
    """Width of the packaged stream: a power of two >= 8 for the AXI DMA, else a byte multiple."""
    if dma:
        w = 8
        while w < bits:
            w *= 2
        return w
    return max(8, -(-bits // 8) * 8)


@dataclass(frozen=True)
class _Stream:
    bits: int  # tdata_bits of the core
    padded: int  # tdata width of the wrapper
    elems_per_beat: int
    elem_bits: int
    dtype: str
    beats: int


def _stream(m: dict, side: str, *, dma: bool) -> _Stream:
    try:
        s = m[side]["stream"]
        st = _Stream(bits=int(s["tdata_bits"]), padded=0, elems_per_beat=int(s["elems_per_beat"]),
                     elem_bits=int(s["elem_bits"]), dtype=str(s["dtype"]), beats=int(s["beats_per_inference"]))
    except (KeyError, TypeError, ValueError) as e:
        raise VivadoPlanError(f"manifest {side}.stream: missing or malformed field ({e!s})") from None
    if st.bits != st.elems_per_beat * st.elem_bits or st.bits < 1 or st.beats < 1:
        raise VivadoPlanError(f"manifest {side}.stream: inconsistent stream spec {s!r}")
    padded = padded_tdata_bits(st.bits, dma=dma)
    if dma and padded > DMA_MAX_TDATA_BITS:
        raise VivadoPlanError(
            f"{side} stream is {st.bits} bits wide; the AXI DMA takes at most {DMA_MAX_TDATA_BITS} "
            "(recompile with a lower --target-fps)"
        )
    return _Stream(bits=st.bits, padded=padded, elems_per_beat=st.elems_per_beat, elem_bits=st.elem_bits,
                   dtype=st.dtype, beats=st.beats)


def _weight_load(m: dict, root, *, dma: bool) -> tuple[_Stream | None, str | None]:
    """The weight-load stream of a design with weights in URAM and the words to send
    (``$readmemh`` text, load order), or (None, None) without ``weight_load``."""
    wl = m.get("weight_load")
    if not wl:
        return None, None
    try:
        bits, words = int(wl["tdata_bits"]), int(wl["words"])
        stream, done = str(wl["stream"]), str(wl["done"])
        layers = [{"node": str(x["node"]), "file": str(x["file"]), "width": int(x["width"]),
                   "depth": int(x["depth"])} for x in wl["layers"]]
    except (KeyError, TypeError, ValueError) as e:
        raise VivadoPlanError(f"manifest weight_load: missing or malformed field ({e!s})") from None
    if (stream, done) != (WL_STREAM, WL_DONE):
        raise VivadoPlanError(f"manifest weight_load: stream {stream!r} and done {done!r}, expected "
                              f"{WL_STREAM!r} and {WL_DONE!r}")
    files = {str(f) for f in m.get("files", [])}
    for x in layers:
        if x["file"] not in files:
            raise VivadoPlanError(f"manifest weight_load layer {x['node']!r}: file {x['file']!r} is not one of "
                                  "the manifest's files")
        if not 1 <= x["width"] <= bits or x["depth"] < 1:
            raise VivadoPlanError(f"manifest weight_load layer {x['node']!r}: {x['depth']} words of {x['width']} "
                                  f"bits, expected >= 1 words of 1..{bits} bits")
    if not layers or bits < 1 or words != sum(x["depth"] for x in layers):
        raise VivadoPlanError(f"manifest weight_load: {words} words of {bits} bits, expected >= 1 bit and the "
                              "sum of the layers' depths")
    padded = padded_tdata_bits(bits, dma=dma)
    if dma and padded > DMA_MAX_TDATA_BITS:
        widest = max(layers, key=lambda x: x["width"])
        raise VivadoPlanError(f"weight load stream is {bits} bits wide (layer {widest['node']!r}); the AXI DMA "
                              f"takes at most {DMA_MAX_TDATA_BITS} (fold the layer more, or use mem_style bram)")
    if dma and words * (padded // 8) >= 1 << SG_LENGTH_WIDTH:
        raise VivadoPlanError(f"weight load is {words * (padded // 8)} bytes; one AXI DMA transfer moves at most "
                              f"{(1 << SG_LENGTH_WIDTH) - 1}")
    try:
        text = format_memh(weight_load_words(root / "rtl", layers), bits, header=banner("//"))
    except ValueError as e:
        raise VivadoPlanError(f"manifest weight_load: {e}") from None
    return _Stream(bits=bits, padded=padded, elems_per_beat=1, elem_bits=bits, dtype=f"u{bits}", beats=words), text


def _sources(m: dict, root) -> tuple[list[str], list[str]]:
    """Verilog sources and memory files of the manifest, relative to the design root."""
    files = m.get("files")
    if not isinstance(files, list) or not files:
        raise VivadoPlanError("manifest: expected a non-empty 'files' list")
    verilog, mem = [], []
    for f in files:
        p = PurePosixPath(str(f))
        if p.is_absolute() or ".." in p.parts or len(p.parts) != 2 or p.parts[0] != "rtl":
            raise VivadoPlanError(f"manifest file {str(f)!r}: expected rtl/<name>")
        if not (root / p).is_file():
            raise VivadoPlanError(f"manifest file {str(f)!r}: no such file in {str(root)!r}")
        if p.suffix == ".v":
            verilog.append(str(p))
        elif p.suffix == ".mem":
            mem.append(str(p))
        else:
            raise VivadoPlanError(f"manifest file {str(f)!r}: expected a .v or .mem file")
    if not verilog:
        raise VivadoPlanError("manifest: no Verilog (.v) files")
    return sorted(verilog), sorted(mem)


def _input_quant(graph) -> dict | None:
    """The input quantizer as plain numbers for the driver, or None if the driver cannot do it."""
    iq = graph.input_quant
    import numpy as np

    pre = []
    for op in iq.pre:
        kind = op.kind.value
        consts = [np.asarray(c, dtype=np.float32) for c in op.consts]
        if kind not in _SIMPLE_PRE or any(c.size != 1 for c in consts):
            return None
        pre.append({"kind": kind, "consts": [float(c.reshape(-1)[0]) for c in consts],
                    "data_first": bool(op.data_first)})
    scale = np.asarray(iq.scale, dtype=np.float32)
    zp = np.asarray(iq.zero_point, dtype=np.float32)
    if scale.size != 1 or zp.size != 1:
        return None
    t = iq.dtype
    if t.bipolar:
        lo, hi = -1, 1
    else:
        lo = t.min + (1 if (iq.narrow and t.signed) else 0)
        hi = t.max - (1 if (iq.narrow and not t.signed) else 0)
    assert iq.rounding.name in _ROUNDINGS
    perm = None if iq.perm is None else [int(v) for v in np.asarray(iq.perm).reshape(-1)]
    return {"pre": pre, "scale": float(scale.reshape(-1)[0]), "zero_point": float(zp.reshape(-1)[0]),
            "lo": int(lo), "hi": int(hi), "bipolar": bool(t.bipolar), "rounding": iq.rounding.name,
            "perm": perm}


def _output_map(graph) -> dict | None:
    """The output dequantizer as plain numbers for the driver, or None (integers only)."""
    import numpy as np

    om = graph.output_map
    if om.post:
        return None
    scale = np.asarray(om.scale, dtype=np.float64).reshape(-1)
    zp = np.asarray(om.zero_point, dtype=np.float64).reshape(-1)
    scale_shape = list(np.asarray(om.scale).shape)
    perm = None if om.perm is None else [int(v) for v in np.asarray(om.perm).reshape(-1)]
    return {"kind": om.kind.value, "scale": [float(v) for v in scale], "scale_shape": scale_shape,
            "zero_point": [float(v) for v in zp], "onnx_shape": [int(d) for d in om.onnx_shape], "perm": perm}


def vivado_plan(root, manifest: dict, board, graph) -> dict[str, str]:
    """Everything ``export vivado`` writes under ``OUT/vivado/``, as relative path -> text."""
    if board.family not in _XILINX_FAMILIES:
        raise VivadoPlanError(f"vivado export needs an AMD/Xilinx board; {board.name!r} is {board.family}")
    top = str(manifest.get("top", ""))
    if not _IDENT.match(top) or len(top) > 64:
        raise VivadoPlanError(f"manifest top {top!r}: expected a Verilog identifier")
    try:
        clock = float(manifest["clock_mhz"])
    except (KeyError, TypeError, ValueError):
        raise VivadoPlanError(f"manifest clock_mhz {manifest.get('clock_mhz')!r}: expected a number") from None
    if not 0 < clock <= 1000:
        raise VivadoPlanError(f"manifest clock_mhz {clock!r}: expected a frequency in (0, 1000] MHz")
    dma = board.ps != "none"
    ins, outs = _stream(manifest, "input", dma=dma), _stream(manifest, "output", dma=dma)
    verilog, mem = _sources(manifest, root)
    wl, wl_words = _weight_load(manifest, root, dma=dma)
    model = manifest.get("model", {})
    model_file = str(model.get("file", "")) if isinstance(model, dict) else ""
    wrapper = f"{top}_axis"
    count_bits = max(1, (outs.beats - 1).bit_length())
    period = 1000.0 / clock
    ctx = dict(
        top=top,
        wrapper=wrapper,
        model_file=model_file,
        board=board,
        part=board.part,
        board_part=board.board_part,
        ps=board.ps,
        clock_mhz=clock,
        period_ns=f"{period:.3f}",
        verilog=[f"../{p}" for p in verilog],
        mem=[f"../{p}" for p in mem],
        ins=ins,
        outs=outs,
        count_bits=count_bits,
        bd_name=BD_NAME,
        accel_cell=ACCEL_CELL,
        dma_cell=DMA_CELL,
        ps_cell=PS_CELL,
        sg_length_width=SG_LENGTH_WIDTH,
        wl=wl,
        wl_dma_cell=WL_DMA_CELL,
        wl_gpio_cell=WL_GPIO_CELL,
        wl_file=WL_FILE,
    )
    plan = {
        "build.tcl": render("vivado_build.tcl.j2", **ctx),
        "constraints/clock.xdc": render("clock.xdc.j2", **ctx),
        f"hdl/{wrapper}.v": render("axis_wrapper.v.j2", **ctx),
        "driver/gatesmith_driver.py": render(
            "pynq_driver.py.j2", **ctx, input_quant=_input_quant(graph), output_map=_output_map(graph),
            manifest_input_shape=[int(d) for d in manifest["input"].get("onnx_shape", [])],
        ),
    }
    if wl_words is not None:
        plan[f"driver/{WL_FILE}"] = wl_words
    return plan
