"""``gatesmith report OUT``: one self-contained HTML page about a compiled design.

Reads what ``compile`` (and later ``sim``, synthesis, place-and-route) left in
the output directory -- ``manifest.json``, ``graph.json``, ``reports/estimate.json``
and, when present, ``reports/sim.json``, ``reports/synth.json``,
``reports/pnr.json`` -- and writes ``OUT/reports/report.html`` from the
template ``hls_templates/report.html.j2`` (autoescaped: every name from the
model is HTML-escaped).  Plots are drawn with matplotlib's Agg backend and
inlined as base64 PNG; the page loads nothing from the network.

With ``inputs`` (float inputs shaped like the ONNX input) the numpy reference
runs on them and the page shows, per value of the integer graph, the range the
inputs reached against the range its type can hold (in the spirit of
hls4ml's numerical profiling).

The "estimated resources" columns are those of ``reports/estimate.json`` when
the compile wrote a resource estimate there (``resources`` and per-layer
``lut``/``ff``/``dsp``/``bram18``/``uram``); otherwise they come from a
deliberately rough model (:func:`rough_resources`).  Memory bits and
multipliers always come from :func:`rough_resources`.  Synthesised figures
are shown next to them once ``reports/synth.json`` exists.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from . import __version__

__all__ = ["build_report", "report_context", "render_report", "rough_resources", "value_ranges",
           "RESOURCE_KEYS"]

#: resource kinds shown against a board's budget (the keys of boards/*.yaml and reports/synth.json)
RESOURCE_KEYS = ("lut", "ff", "dsp", "bram18", "uram")

_BRAM18_BITS = 18 * 1024
_LUTRAM_MAX_BITS = 4096  # smaller memories are assumed to go to LUTs / registers


# --------------------------------------------------------------------------- small helpers


def _read_json(path: Path):
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _png(fig) -> str:
    """A matplotlib figure as base64 PNG text (deterministic: no software metadata)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _dtype_str(t) -> str:
    return str(t) if t is not None else ""


# --------------------------------------------------------------------------- per-layer facts


def _requant_style(op) -> str:
    from .ir.ops import MultiThreshold, Requant, Requantize

    if isinstance(op, MultiThreshold):
        return f"thresholds ({op.thresholds.shape[1]} per channel)"
    if isinstance(op, Requant):
        style = "dyadic (multiply + shift)" if op.use_mult else "shift"
        return f"{style}, {op.rounding.name.lower()}" + (f", {op.mismatches} thresholds moved" if op.mismatches else "")
    if isinstance(op, Requantize):
        return f"threshold spec ({op.thresholds.shape[1]} per channel)"
    return ""


def rough_resources(node, graph) -> dict:
    """A rough resource model of one node: memory bits, multipliers, BRAM18, DSP, LUT.

    Parameter memories (weights, thresholds) of at least 4 Kibit and line buffers are
    counted in BRAM18 as ``ceil(width/36) * ceil(depth/512)``; multipliers with an
    operand wider than 4 bits go to DSPs, narrower ones to LUTs (about one LUT per
    partial-product bit).  Good to an order of magnitude; synthesis says the rest."""
    from .ir.graph import Fold
    from .ir.ops import DepthwiseMatVec, MatVec, MultiThreshold, Requant, SlidingWindow

    f = node.fold or Fold()
    op = node.op
    in_t = graph.value(node.inputs[0]).dtype if node.inputs else None
    res = {"mem_bits": 0, "multipliers": 0, "lut": 0, "ff": 0, "dsp": 0, "bram18": 0, "uram": 0}

    def mem(width: int, depth: int) -> None:
        bits = width * depth
        res["mem_bits"] += bits
        if bits >= _LUTRAM_MAX_BITS:
            res["bram18"] += math.ceil(width / 36) * math.ceil(depth / 512)
        else:
            res["lut"] += math.ceil(bits / 64)

    def mults(n: int, wbits: int, abits: int, acc_bits: int) -> None:
        res["multipliers"] += n
        if max(wbits, abits) > 4:
            res["dsp"] += n
        else:
            res["lut"] += n * wbits * abits
        res["ff"] += n * acc_bits

    if isinstance(op, MatVec):
        lanes = f.pe * f.simd
        mem(lanes * op.wtype.bits, (op.mh * op.mw) // max(lanes, 1))
        mults(lanes, op.wtype.bits, in_t.bits if in_t else 1, op.acc.bits)
        res["lut"] += f.pe * op.acc.bits  # adder trees, roughly
    elif isinstance(op, DepthwiseMatVec):
        c, p = op.weights.shape
        mem(f.pe * op.wtype.bits, (c * p) // max(f.pe, 1))
        mults(f.pe, op.wtype.bits, in_t.bits if in_t else 1, op.acc.bits)
    elif isinstance(op, MultiThreshold):
        c, n = op.thresholds.shape
        mem(f.pe * n * (in_t.bits if in_t else 1), c // max(f.pe, 1))
        res["lut"] += f.pe * n * (in_t.bits if in_t else 1) // 2  # comparators
    elif isinstance(op, Requant):
        if op.use_mult:
            mults(f.pe, in_t.bits if in_t else 1, int(np.max(np.abs(np.asarray(op.mult, dtype=np.float64))) + 1).bit_length() + 1,
                  (in_t.bits if in_t else 1) + 16)
    elif isinstance(op, SlidingWindow):
        h, w, c = op.ifm
        kh = op.kernel[0]
        bits = in_t.bits if in_t else 1
        mem(f.simd * bits, (kh * (w + op.pads[1] + op.pads[3]) * c) // max(f.simd, 1))
    return res


def _synth_layers(synth) -> dict:
    """Per-layer synthesised resources from reports/synth.json, by layer name, whatever its shape
    (``layers`` as a mapping name -> counts or a list of entries with ``name``)."""
    if not isinstance(synth, dict):
        return {}
    layers = synth.get("layers") or synth.get("per_layer") or {}
    if isinstance(layers, dict):
        return {str(k): v for k, v in layers.items() if isinstance(v, dict)}
    if isinstance(layers, list):  # one entry a core instance; a node may own several
        out: dict[str, dict] = {}
        for e in layers:
            if isinstance(e, dict) and "name" in e:
                acc = out.setdefault(str(e["name"]), {})
                for k in RESOURCE_KEYS:
                    if isinstance(e.get(k), (int, float)):
                        acc[k] = acc.get(k, 0) + e[k]
        return out
    return {}


def _synth_breakdown(synth) -> list[dict]:
    """Rows layers / infrastructure / glue of reports/synth.json, where it has them."""
    if not isinstance(synth, dict):
        return []
    rows = []
    layers = _synth_layers(synth)
    if layers:
        rows.append({"part": "layers (cores)", **{k: sum(v.get(k, 0) for v in layers.values()) for k in RESOURCE_KEYS}})
    for key, label in (("infrastructure", "infrastructure (FIFOs, width converters, duplicators)"),
                       ("glue", "top-level glue")):
        if isinstance(synth.get(key), dict):
            rows.append({"part": label, **{k: synth[key].get(k) for k in RESOURCE_KEYS}})
    return rows


def _synth_total(synth) -> dict:
    if not isinstance(synth, dict):
        return {}
    total = synth.get("total") or synth.get("totals")
    if isinstance(total, dict):
        return total
    return {k: synth[k] for k in RESOURCE_KEYS if isinstance(synth.get(k), (int, float))}


def _layer_rows(graph, estimate: dict, synth) -> list[dict]:
    from .ir.graph import Fold

    est = {e["name"]: e for e in estimate.get("layers", [])}
    syn = _synth_layers(synth)
    rows = []
    for n in graph.nodes:
        op = n.op
        f = n.fold or Fold()
        ins = [graph.value(v) for v in n.inputs]
        out = graph.value(n.outputs[0])
        e = est.get(n.name, {})
        rows.append({
            "name": n.name,
            "kind": n.kind,
            "origin": n.origin,
            "in_shapes": " + ".join(str(list(v.shape)) for v in ins),
            "out_shape": str(list(out.shape)),
            "in_type": ", ".join(_dtype_str(v.dtype) for v in ins),
            "weight_type": _dtype_str(getattr(op, "wtype", None)),
            "acc_type": _dtype_str(getattr(op, "acc", None)),
            "out_type": _dtype_str(out.dtype),
            "requant": _requant_style(op),
            "pe": f.pe,
            "simd": f.simd,
            "mem_style": (n.impl.mem if n.impl is not None else None) or "",  # ir/schedule/impl.py
            "mul_style": (n.impl.mul if n.impl is not None else None) or "",
            "cycles": e.get("cycles"),
            "bottleneck": n.name == estimate.get("bottleneck"),
            "est": {**rough_resources(n, graph), **{k: e[k] for k in RESOURCE_KEYS if k in e}},
            "synth": syn.get(n.name),
        })
    return rows


# --------------------------------------------------------------------------- value ranges


def value_ranges(graph, x: np.ndarray) -> list[dict]:
    """Run the reference on float inputs ``x``; per value of the graph, the observed integer
    range against its type's range (``headroom_bits``: unused high bits of the type)."""
    from .verify.reference import run_integer

    q = graph.input_quant.quantize(np.asarray(x, dtype=np.float32))
    _, env = run_integer(graph, q, keep=True)
    producer = {n.outputs[0]: n.name for n in graph.nodes}
    rows = []
    for v in graph.values:
        if v.name not in env:
            continue
        a = np.asarray(env[v.name])
        lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
        tlo, thi = int(v.dtype.min), int(v.dtype.max)
        need = max(abs(lo), abs(hi) + (1 if v.dtype.signed else 0), 1)
        used_bits = need.bit_length() + (1 if v.dtype.signed else 0) if not v.dtype.bipolar else 1
        rows.append({
            "value": v.name,
            "producer": producer.get(v.name, "(input)"),
            "type": str(v.dtype),
            "type_min": tlo,
            "type_max": thi,
            "min": lo,
            "max": hi,
            "headroom_bits": max(int(v.dtype.bits) - used_bits, 0),
            "saturated": bool(hi == thi or (lo == tlo and tlo != 0)),
        })
    return rows


# --------------------------------------------------------------------------- figures


def _text_kw() -> dict:
    return {"parse_math": False}  # names from the model may hold '$'


def _graph_figure(graph) -> str:
    """The node DAG: columns by longest path from the input, one box a node."""
    plt = _plt()
    depth: dict[str, int] = {v: 0 for v in graph.inputs}
    pos: dict[str, tuple[int, int]] = {}
    col_count: dict[int, int] = {}
    for n in graph.nodes:
        d = max((depth.get(v, 0) for v in n.inputs), default=0) + 1
        for o in n.outputs:
            depth[o] = d
        row = col_count.get(d, 0)
        col_count[d] = row + 1
        pos[n.name] = (d, row)
    pos["__in__"] = (0, 0)
    last = max((p[0] for p in pos.values()), default=0) + 1
    pos["__out__"] = (last, 0)
    width = max(6.0, 1.3 * (last + 1))
    height = 1.2 + 0.9 * max(col_count.values(), default=1)
    fig, ax = plt.subplots(figsize=(min(width, 40), height))
    prod = {v: "__in__" for v in graph.inputs}
    for n in graph.nodes:
        for o in n.outputs:
            prod[o] = n.name
    edges = [(prod[v], n.name) for n in graph.nodes for v in n.inputs if v in prod]
    edges += [(prod[v], "__out__") for v in graph.outputs if v in prod]
    arcs = False
    for a, b in edges:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        skip = x1 - x0 > 1 and y0 == y1  # would run behind the boxes between: arc over them
        arcs |= skip
        ax.annotate("", xy=(x1 - 0.38, -y1), xytext=(x0 + 0.38, -y0),
                    arrowprops={"arrowstyle": "->", "color": "#555",
                                "connectionstyle": f"arc3,rad={-0.12 if skip else 0}"})
    colors = {"matvec": "#9ecae1", "vvu": "#9ecae1", "threshold": "#fdd0a2", "requant": "#fdd0a2",
              "requantize": "#fdd0a2", "swg": "#c7e9c0", "pool": "#dadaeb", "add": "#fcbba1",
              "concat": "#fcbba1", "reshape": "#eeeeee", "labelselect": "#d9d9d9"}
    kinds = {n.name: n.kind for n in graph.nodes}
    for name, (x, y) in pos.items():
        label = {"__in__": "input", "__out__": "output"}.get(name, name)
        kind = kinds.get(name, "")
        short = label if len(label) <= 14 else label[:13] + "…"
        ax.text(x, -y, f"{short}\n{kind}" if kind else short, ha="center", va="center", fontsize=7,
                bbox={"boxstyle": "round,pad=0.3", "fc": colors.get(kind, "#ffffff"), "ec": "#333"}, **_text_kw())
    ax.set_xlim(-0.6, last + 0.6)
    ax.set_ylim(-max(col_count.values(), default=1) + 0.4, 1.2 if arcs else 0.6)
    ax.axis("off")
    return _png(fig)


def _cycles_figure(estimate: dict) -> str:
    plt = _plt()
    layers = estimate.get("layers", [])
    names = [e["name"] for e in layers]
    cycles = [e["cycles"] for e in layers]
    bott = estimate.get("bottleneck")
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(names) + 2), 3.6))
    colors = ["#d62728" if n == bott else "#1f77b4" for n in names]
    ax.bar(range(len(names)), cycles, color=colors)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n if len(n) <= 16 else n[:15] + "…" for n in names], rotation=60, ha="right", fontsize=7,
                       **_text_kw())
    ax.set_ylabel("cycles per inference")
    ax.set_title("estimated cycles per layer (bottleneck in red)", fontsize=9)
    if bott in names:
        i = names.index(bott)
        ax.annotate("bottleneck", xy=(i, cycles[i]), xytext=(0, 4), textcoords="offset points", ha="center",
                    fontsize=7, color="#d62728")
    ax.margins(y=0.15)
    return _png(fig)


def _resource_figure(series: dict[str, dict], budget: dict) -> str:
    """Bars of used / available per resource, one bar group per source (estimate, synth, pnr)."""
    plt = _plt()
    keys = [k for k in RESOURCE_KEYS if budget.get(k)]
    fig, ax = plt.subplots(figsize=(6.5, 0.5 + 0.45 * len(keys) * max(len(series), 1)))
    h = 0.8 / max(len(series), 1)
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c"]
    for s, (label, used) in enumerate(series.items()):
        vals = [100.0 * float(used.get(k, 0) or 0) / budget[k] for k in keys]
        ys = [i + s * h for i in range(len(keys))]
        ax.barh(ys, vals, height=h, color=palette[s % len(palette)], label=label)
        for y, v in zip(ys, vals):
            ax.text(v + 1, y, f"{v:.1f}%", va="center", fontsize=7)
    ax.axvline(100, color="#d62728", linestyle="--", linewidth=1)
    ax.set_yticks([i + h * (len(series) - 1) / 2 for i in range(len(keys))])
    ax.set_yticklabels([k.upper() for k in keys])
    ax.invert_yaxis()
    ax.set_xlabel("% of the board's budget")
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def _ranges_figure(ranges: list[dict]) -> str:
    """Per value: the type's range (grey) and the observed range (blue), on a symmetric log scale."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 0.6 + 0.32 * len(ranges)))
    for i, r in enumerate(ranges):
        ax.plot([r["type_min"], r["type_max"]], [i, i], color="#cccccc", linewidth=7, solid_capstyle="butt")
        ax.plot([r["min"], r["max"]], [i, i], color="#d62728" if r["saturated"] else "#1f77b4", linewidth=3,
                solid_capstyle="butt")
        ax.plot([r["min"], r["max"]], [i, i], "|", color="black", markersize=8)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_yticks(range(len(ranges)))
    ax.set_yticklabels([f"{r['value'][:18]} ({r['type']})" for r in ranges], fontsize=7, **_text_kw())
    ax.invert_yaxis()
    ax.set_xlabel("integer value (grey: the type's range; blue: observed; red: reaches the type's limit)")
    return _png(fig)


# --------------------------------------------------------------------------- context + render


def report_context(out_dir, *, inputs: np.ndarray | None = None) -> dict:
    """Everything the template shows, as plain data (figures as base64 PNG text)."""
    from .boards import BoardError, load_board
    from .flow import load_design

    design = load_design(out_dir)
    root, m, graph = design.root, design.manifest, design.graph
    estimate = _read_json(root / "reports" / "estimate.json") or {}
    sim = _read_json(root / "reports" / "sim.json")
    synth = _read_json(root / "reports" / "synth.json")
    pnr = _read_json(root / "reports" / "pnr.json")
    try:
        board = load_board(m["board"])
        budget = {k: int(getattr(board, k)) for k in RESOURCE_KEYS}
    except BoardError:
        board, budget = None, {}
    rows = _layer_rows(graph, estimate, synth)
    fixed = m.get("fixed_point") or {}
    for r in rows:  # fixed-point formats given to tensors the model left unquantized, per layer
        r["fixed"] = ", ".join(f"{t['role']} {t['format']}" for t in fixed.get("tensors", []) if t.get("layer") == r["name"])
    est_total = {k: sum(r["est"][k] for r in rows) for k in ("lut", "ff", "dsp", "bram18", "uram", "mem_bits",
                                                               "multipliers")}
    model = estimate.get("resources")
    if isinstance(model, dict):  # the cost model's figures (layers + infrastructure) in estimate.json
        est_total.update({k: model[k] for k in RESOURCE_KEYS if isinstance(model.get(k), (int, float))})
        est_label, est_source = "estimate", str(model.get("model", "the cost model in reports/estimate.json"))
    else:
        est_label, est_source = "estimate (rough)", "rough"
    series = {est_label: est_total}
    synth_total = _synth_total(synth)
    if synth_total:
        series["synthesis"] = synth_total
    if isinstance(pnr, dict) and isinstance(pnr.get("utilisation"), dict):
        series["place and route"] = {}  # ECP5 cells have their own names; shown as a table instead
    clock = float(m.get("clock_mhz") or estimate.get("clock_mhz") or 0)
    ii = estimate.get("cycles_per_inference")
    lat = estimate.get("latency_cycles")
    summary = {
        "model": m.get("model", {}).get("file", ""),
        "board": m.get("board", ""),
        "part": m.get("part", ""),
        "clock_mhz": clock,
        "cycles_per_inference": ii,
        "inferences_per_second": estimate.get("inferences_per_second"),
        "latency_cycles": lat,
        "latency_us": (lat / clock) if (lat is not None and clock) else None,
        "bottleneck": estimate.get("bottleneck", ""),
        "target_fps": estimate.get("target_fps"),
        "meets_target": estimate.get("meets_target"),
        "layers": len(graph.nodes),
        "macs": estimate.get("macs_per_inference"),
        "multipliers": estimate.get("multipliers"),
        "folding_efficiency": estimate.get("folding_efficiency"),
        "folding_source": estimate.get("folding_source", ""),
        "budget": estimate.get("budget"),
        "fits_budget": estimate.get("fits_budget"),
        "backend": m.get("backend", ""),
        "hls_skipped": m.get("hls_skipped", ""),
        "fixed_point": ({"range": fixed.get("range"), "bits": fixed.get("bits"),
                         "input": ", ".join(t["format"] for t in fixed.get("tensors", []) if t.get("role") == "input"),
                         "error": fixed.get("error_vs_float")} if fixed else None),
    }
    figures = {"graph": _graph_figure(graph)}
    if estimate.get("layers"):
        figures["cycles"] = _cycles_figure(estimate)
    if budget:
        plot_series = {k: v for k, v in series.items() if v}
        figures["resources"] = _resource_figure(plot_series, budget)
    ranges = None
    if inputs is not None:
        ranges = value_ranges(graph, inputs)
        figures["ranges"] = _ranges_figure(ranges)
    pnr_rows = []
    if isinstance(pnr, dict):
        for k, v in sorted((pnr.get("utilisation") or {}).items()):
            if isinstance(v, dict):
                pnr_rows.append({"cell": k, "used": v.get("used"), "available": v.get("available")})
    return {
        "version": __version__,
        "title": f"gatesmith report: {summary['model'] or root.name}",
        "summary": summary,
        "rows": rows,
        "has_synth": bool(_synth_layers(synth)) or bool(synth_total),
        "has_fixed": bool(fixed),
        "synth_total": synth_total,
        "est_label": est_label,
        "est_source": est_source,
        "synth_breakdown": _synth_breakdown(synth) if synth_total else [],
        "synth_tool": (synth.get("tool") if isinstance(synth, dict) else None),
        "est_total": est_total,
        "budget": budget,
        "resource_keys": RESOURCE_KEYS,
        "figures": figures,
        "ranges": ranges,
        "inputs_count": None if inputs is None else int(len(inputs)),
        "sim": sim,
        "pnr": pnr if isinstance(pnr, dict) else None,
        "pnr_rows": pnr_rows,
        "branch_fifos": estimate.get("branch_fifos") or [],
        "ir_text": (root / "ir.txt").read_text() if (root / "ir.txt").is_file() else "",
    }


def render_report(ctx: dict) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).resolve().parent / "hls_templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    return env.get_template("report.html.j2").render(**ctx)


def _num(v, digits: int = 0) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and not v.is_integer() or digits:
        return f"{float(v):,.{digits or 2}f}"
    return f"{int(v):,}"


def build_report(out_dir, *, inputs: np.ndarray | None = None) -> Path:
    """Write ``OUT/reports/report.html`` and return its path.

    ``inputs``: optional float inputs ``(N, *onnx_input_shape)`` for the value-range section."""
    from .flow import _check_input, load_design

    root = Path(out_dir)
    if inputs is not None:
        inputs = _check_input(inputs, load_design(root), "--inputs")
    html = render_report(report_context(root, inputs=inputs))
    rep = root / "reports"
    rep.mkdir(exist_ok=True)
    path = rep / "report.html"
    fd, tmp = tempfile.mkstemp(prefix=".report.", suffix=".html", dir=rep)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
