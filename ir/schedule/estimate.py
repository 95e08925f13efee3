"""Analytic cycle estimate of a folded design (``reports/estimate.json``)."""

from __future__ import annotations

from functools import lru_cache
from math import prod

from ..graph import Fold, Graph
from ..ops import Add, Concat, DepthwiseMatVec, LabelSelect, MatVec, Reshape, SlidingWindow, WindowReduce
from .fifos import fifo_analysis
from .folding import divisors, fold_count, layer_cycles, pe_options, ragged_beats, ragged_group, ragged_route

__all__ = ["estimate"]

#: cycles from a beat entering a core to its result leaving it (measured in the cores' benches)
_CORE_LATENCY = {
    "matvec": 3, "threshold": 2, "requant": 3, "swg": 2, "pool": 2, "labelselect": 2, "vvu": 3, "add": 2, "concat": 1,
    "concat_pixel": 2,
}
_FIFO_LATENCY = 1  # gs_fifo, when empty
_DWC_LATENCY = 1  # gs_dwc: an output beat one cycle after the input beat that completes it


def _rate(times: list[int]) -> list[int]:
    """At most one beat per cycle, in order."""
    out, prev = [], None
    for t in times:
        prev = t if prev is None else max(t, prev + 1)
        out.append(prev)
    return out


def _in_elems(n, port: int = 0) -> int:
    f = n.fold or Fold()
    if isinstance(n.op, Concat):
        return n.op.port_lanes(f.pe)[port]
    return f.simd if isinstance(n.op, (MatVec, SlidingWindow)) else f.pe


def _out_elems(n, elems: int) -> int:
    f = n.fold or Fold()
    if isinstance(n.op, Reshape):
        return elems
    if isinstance(n.op, SlidingWindow):
        return f.simd * f.pe  # PE = kernel positions per beat
    if isinstance(n.op, LabelSelect):
        return 1
    return f.pe


def _matvec_times(op: MatVec, f: Fold, times: list[int], vectors: int) -> list[int]:
    sf, nf = op.mw // f.simd, fold_count(op.mh, f.pe)
    out, free = [], None
    for v in range(vectors):
        acc = []
        for t in times[v * sf : (v + 1) * sf]:
            t = t if free is None else max(t, free)
            free = t + 1
            acc.append(t)
        last0 = acc[-1]
        out.extend(last0 + k * sf + _CORE_LATENCY["matvec"] for k in range(nf))
        free = last0 + (nf - 1) * sf + 1
    return out


def _swg_times(op: SlidingWindow, times: list[int], kp: int = 1) -> list[int]:
    """Output beat times: gs_swg starts an output row once every input row it needs is
    complete, then emits one beat (``kp`` kernel positions) a cycle."""
    h, w, c = op.ifm
    groups = len(times) // (h * w)
    (kh, kw), sh = op.kernel, op.stride[0]
    t = op.pads[0]
    oh, ow = op.ofm
    ready = []
    for oy in range(oh):
        y = min(h - 1, max(0, oy * sh - t + kh - 1))
        need = times[(y + 1) * w * groups - 1] + _CORE_LATENCY["swg"]
        ready.extend([need] * (ow * kh * kw * groups // kp))
    return _rate(ready)


def _pool_times(op: WindowReduce | DepthwiseMatVec, times: list[int], lanes: int) -> list[int]:
    groups = op.channels // lanes
    per = op.positions * groups
    out = []
    for o in range(len(times) // per):
        base = o * per + (op.positions - 1) * groups
        out.extend(times[base + g] + _CORE_LATENCY[op.kind] for g in range(groups))
    return _rate(out)


def _concat_times(op: Concat, a: list[int], b: list[int], lanes: int) -> list[int]:
    if lanes == op.pixel_pe:  # pixel mode: a pixel leaves once both halves are held
        return _rate([max(x, y) + _CORE_LATENCY["concat_pixel"] for x, y in zip(a, b)])
    ga, gb = op.channels_a // lanes, op.channels_b // lanes
    out = []
    for p in range(len(a) // ga):
        out.extend(a[p * ga : (p + 1) * ga] + b[p * gb : (p + 1) * gb])
    return _rate([t + _CORE_LATENCY["concat"] for t in out])


def _latency(graph: Graph) -> int:
    """Cycles from the first input beat to the last output beat of one inference
    through an empty pipeline: a beat-level walk of the generated stages
    (width converter -> FIFO -> core per input, as hls_templates/rtl.py builds them;
    duplicators and merges follow the graph)."""
    hw = [n for n in graph.nodes if not isinstance(n.op, Reshape)]
    alias = {}
    for n in graph.nodes:
        if isinstance(n.op, Reshape):
            alias[n.outputs[0]] = alias.get(n.inputs[0], n.inputs[0])
    src = graph.inputs[0]
    first = next(n for n in hw if src in [alias.get(i, i) for i in n.inputs])
    n_in = prod(graph.value(src).shape)
    e0 = _in_elems(first)
    # stream -> (beat times, elements per beat, vector length of a ragged stream or None)
    beats: dict[str, tuple[list[int], int, int | None]] = {src: (list(range(n_in // e0)), e0, None)}
    direct = {src}  # streams read straight from the top input (no FIFO in front)
    for n in hw:
        f = n.fold or Fold()
        ins = []
        ragged_out = ragged_group(n)
        for port, v in enumerate(n.inputs):
            want = _in_elems(n, port)
            v = alias.get(v, v)
            times, elems, group = beats[v]
            passes, convert = ragged_route(n, group, elems, want)
            if passes:
                ragged_out = group
            if convert:  # gs_dwc: element k of the stream is complete with its input beat
                if group is None:
                    ready = [times[k // elems] for k in range(len(times) * elems)]
                else:  # a ragged stream: the padding of each vector's last beat is dropped
                    nb, last = ragged_beats(group, elems)
                    ready = [t for j, t in enumerate(times) for _ in range(elems if j % nb < nb - 1 else last)]
                times = _rate([ready[(j + 1) * want - 1] + _DWC_LATENCY for j in range(len(ready) // want)])
            if v not in direct or convert:
                times = _rate([t + _FIFO_LATENCY for t in times])
            ins.append(times)
        times = ins[0]
        if isinstance(n.op, MatVec):
            times = _matvec_times(n.op, f, times, prod(graph.value(n.inputs[0]).shape[:-1]))
        elif isinstance(n.op, SlidingWindow):
            times = _swg_times(n.op, times, f.pe)
        elif isinstance(n.op, (WindowReduce, DepthwiseMatVec)):
            times = _pool_times(n.op, times, f.pe)
        elif isinstance(n.op, LabelSelect):
            times = [times[-1] + _CORE_LATENCY["labelselect"] + k for k in range(n.op.k)]
        elif isinstance(n.op, Add):
            times = _rate([max(a, b) + _CORE_LATENCY["add"] for a, b in zip(ins[0], ins[1])])
        elif isinstance(n.op, Concat):
            times = _concat_times(n.op, ins[0], ins[1], f.pe)
        else:
            times = _rate([t + _CORE_LATENCY[n.kind] for t in times])
        beats[n.outputs[0]] = (times, _out_elems(n, _in_elems(n)), ragged_out)
    return beats[alias.get(graph.outputs[0], graph.outputs[0])][0][-1]


def _fewest_multipliers(e: dict, cycles: int) -> int:
    """The fewest multipliers a layer (``estimate`` entry) can have within ``cycles``: any PE
    (:func:`~gatesmith.ir.schedule.folding.pe_options`, ragged ones included) and SIMD | MW for a
    matrix-vector unit, PE | channels for a depthwise one."""
    if "mh" in e:
        return _fewest_matvec(e["vectors"], e["mh"], e["mw"], cycles)
    per_lane = e["vectors"] * e["positions"]  # depthwise: pe channels a beat, positions serial
    fits = [pe for pe in divisors(e["channels"]) if per_lane * (e["channels"] // pe) <= cycles]
    return min(fits) if fits else e["channels"]


@lru_cache(maxsize=65536)
def _fewest_matvec(v: int, mh: int, mw: int, cycles: int) -> int:
    fits = [pe * simd for pe in pe_options(mh) for simd in divisors(mw) if v * fold_count(mh, pe) * (mw // simd) <= cycles]
    return min(fits) if fits else mh * mw


def _mult_entry(n, graph: Graph) -> dict | None:
    """A layer's multiplier fields (``estimate`` entry keys; None: no multipliers)."""
    f = n.fold or Fold()
    if isinstance(n.op, MatVec):
        vec = prod(graph.value(n.inputs[0]).shape[:-1])
        return dict(simd=f.simd, mh=n.op.mh, mw=n.op.mw, vectors=vec, macs=vec * n.op.macs(),
                    multipliers=f.pe * f.simd)
    if isinstance(n.op, DepthwiseMatVec):
        vec = prod(graph.value(n.inputs[0]).shape[:-1])
        return dict(channels=n.op.channels, positions=n.op.positions, vectors=vec, macs=vec * n.op.macs(),
                    multipliers=f.pe)
    return None


def _efficiency_bound(layers: list[dict], macs: int, ii: int) -> float | None:
    mults = sum(_fewest_multipliers(e, ii) for e in layers if "multipliers" in e)
    return round(macs / mults / ii, 4) if mults and ii else None


def estimate(graph: Graph, *, clock_mhz: float) -> dict:
    layers = []
    for n in graph.nodes:
        if isinstance(n.op, Reshape):
            continue
        f = n.fold or Fold()
        entry = {
            "name": n.name,
            "kind": n.kind,
            "origin": n.origin,
            "pe": f.pe,
            "cycles": layer_cycles(n, graph),
        }
        if isinstance(n.op, SlidingWindow):
            entry.update(simd=f.simd)
        entry.update(_mult_entry(n, graph) or {})
        layers.append(entry)
    ii = max(e["cycles"] for e in layers)
    bottleneck = max(layers, key=lambda e: e["cycles"])["name"]
    latency = _latency(graph)
    macs = sum(e.get("macs", 0) for e in layers)
    mults = sum(e.get("multipliers", 0) for e in layers)
    return {
        "clock_mhz": clock_mhz,
        "cycles_per_inference": ii,
        "latency_cycles": latency,
        "inferences_per_second": clock_mhz * 1e6 / ii,
        "bottleneck": bottleneck,
        "macs_per_inference": macs,
        "multipliers": mults,
        # (MACs / multipliers) / cycles: the share of multiplier-cycles doing work
        "folding_efficiency": round(macs / mults / ii, 4) if mults and ii else None,
        # the same with every layer at the fewest multipliers any PE x SIMD folding (divisors of
        # its dimensions) has within these cycles: what folding can reach at this rate
        "folding_efficiency_bound": _efficiency_bound(layers, macs, ii),
        "layers": layers,
        "branch_fifos": fifo_analysis(graph),
    }
