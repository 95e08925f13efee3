"""The pipeline: import -> passes -> schedule -> codegen -> (atomic) write; and simulation.

``compile_model`` renders the whole output directory in memory and writes it
in one step (a temporary directory renamed into place), so a failed or
interrupted compile leaves nothing half-written.  ``simulate`` runs a
compiled design on float inputs with one of the engines in ``ENGINES``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__

__all__ = [
    "FlowError",
    "CompileOptions",
    "compile_model",
    "load_design",
    "simulate",
    "ENGINES",
    "BACKENDS",
    "compare_outputs",
    "mismatch_mask",
    "write_tree_atomic",
]


class FlowError(ValueError):
    """Bad input to the flow (option, file, directory); the message names it."""


@dataclass(frozen=True, kw_only=True)
class CompileOptions:
    board: str = "pynq-z2"
    clock_mhz: float | None = None  # default: the board's clock
    target_fps: float | None = None
    folding_file: Path | None = None
    requant: str = "auto"
    force: bool = False
    top: str = "gatesmith_top"
    backend: str = "all"  # rtl | hls | all: which of rtl/ and hls/ to generate
    layers: object | None = None  # config.LayerOverrides: per-layer folding / requant from --config
    # fixed point for tensors the model leaves unquantized (frontend/fixedpoint.py); any of the three
    # set turns it on: --fixed-bits (default 8), --fixed-range proven|calibrated (default proven), --calibration
    fixed_bits: int | None = None
    fixed_range: str | None = None
    calibration: object | None = None  # X.npy path or an array (N, *onnx_input_shape)
    budget: float | None = None  # share of the board's resources: alone, the fastest design that fits
    mem_style: str = "auto"  # weight/threshold memories: auto | lutram | bram (ir/schedule/impl.py)
    mul_style: str = "auto"  # integer products: auto | dsp | lut | pack (two per DSP)


DEFAULT_TARGET_FPS = 100_000.0
#: share of the board's resources a design is checked against when no --budget is given
DEFAULT_BUDGET = 0.8


def _build_graph(model_path: Path, opts: CompileOptions, clock: float):
    from .frontend import import_onnx
    from .ir.passes import MinimizeAccumulators, SelectRequant, run_passes
    from .ir.schedule import ChooseFolding, folding_from_json

    graph = import_onnx(model_path)
    rq = SelectRequant(style=opts.requant) if opts.layers is None else opts.layers.requant_pass()
    graph = run_passes(graph, [MinimizeAccumulators(), rq])
    folding = None
    if opts.folding_file is not None:
        ff = Path(opts.folding_file)
        if not ff.is_file():
            raise FlowError(f"--folding {str(ff)!r}: no such file")
        folding = folding_from_json(ff.read_text(), source=f"--folding {str(ff)!r}")
    if opts.layers is not None:
        folding = opts.layers.folding(graph, folding)
    target = opts.target_fps
    if opts.budget is not None and target is None and opts.folding_file is None:
        return _fastest_within_budget(graph, folding, opts, clock)
    if folding is None and target is None:
        target = DEFAULT_TARGET_FPS
    cost = None
    if target is not None:  # the cheapest of the designs meeting the target, by the cost model
        from .boards import load_board

        board = load_board(opts.board)

        def cost(g) -> float:
            return _board_share(_rtl_cost(_choose_impl(g, opts, board), opts.top, board.family)["total"], board)
    return run_passes(graph, [ChooseFolding(clock_mhz=clock, target_fps=target, folding=folding, cost=cost)])


def _board_share(total: dict, board) -> float:
    """A design's resources as one number: the sum of its shares of each of the board's
    resources (a DSP of pynq-z2's 220 weighs as much as 242 of its 53200 LUTs)."""
    from .ir.schedule.search import budget_limits, resource_share

    return resource_share(total, budget_limits(board, 1.0))


def _choose_impl(graph, opts: CompileOptions, board):
    """Memory and multiplier style of every layer (``Node.impl``): the options, the config's
    layers (name > op kind > global), the board's LUT/DSP/BRAM18 for ``auto`` -- with
    ``--budget F``, F of them (``search.budget_limits``): a design the budget search costs
    packs or moves products to LUTs until its DSPs fit the budget, not the whole board (pot_mlp
    at --budget 0.8 on pynq-z2: its 3-cycle folding keeps ~220 DSPs under the board's limits, 176
    allowed, and the search had settled for 11 cycles; with the budget's, all in LUTs, it fits)."""
    from .ir.passes import run_passes
    from .ir.schedule.impl import ChooseImpl, ImplError
    from .ir.schedule.search import budget_limits

    res = (budget_limits(board, opts.budget) if opts.budget is not None
           else {k: getattr(board, k) for k in ("lut", "dsp", "bram18", "uram")})
    layers = opts.layers.impl_layers(graph) if opts.layers is not None else ()
    try:
        return run_passes(graph, [ChooseImpl(mem=opts.mem_style, mul=opts.mul_style, layers=layers, lut=res["lut"],
                                             auto_uram=opts.backend != "hls",  # HLS weights cannot be URAM
                                             dsp=res["dsp"], bram18=res["bram18"], uram=res["uram"],
                                             board=board.name, family=board.family)])
    except ImplError as e:  # a choice the layer cannot take (mul_style "pack" on widths that do not fit)
        raise FlowError(str(e)) from None


def _rtl_cost(graph, top: str, family: str | None = None) -> dict:
    """The cost model's resources of the whole rendered RTL design (``design_cost``) on a board
    of ``family``."""
    from .hls_templates.rtl import render_rtl
    from .ir.schedule.cost import design_cost

    return design_cost(render_rtl(graph, top=top), family=family)


def _infra_cost(graph, top: str, family: str | None = None) -> dict:
    """The cost model's resources of the FIFOs, width converters and duplicators of the rendered
    design (``design_cost``'s ``infrastructure``: the instances that are no layer's core)."""
    from .hls_templates.rtl import render_rtl
    from .ir.schedule.cost import CORE_KINDS, RESOURCE_KEYS, core_cost, top_instances

    design = render_rtl(graph, top=top)
    stages = {s.instance for s in design.stages}
    infra = dict.fromkeys(RESOURCE_KEYS, 0)
    for inst, (mod, p) in top_instances(design.files[f"{design.top}.v"]).items():
        if inst not in stages and mod in CORE_KINDS:
            for k, v in core_cost(mod, p, family=family).items():
                infra[k] += v
    return infra


def _fastest_within_budget(graph, folding: dict | None, opts: CompileOptions, clock: float):
    """``--budget`` alone: the fastest folding whose estimated resources fit (ir/schedule/search.py)."""
    from .boards import load_board
    from .hls_templates.rtl import stage_block
    from .ir.schedule.search import budget_limits, block_cost, fastest_within, folding_candidates, overflow_message

    board = load_board(opts.board)
    limits = budget_limits(board, opts.budget)
    cands = folding_candidates(graph, clock_mhz=clock, folding=folding)

    def node_cost(g, n):
        b = stage_block(g, n)
        return block_cost(b.core, b.params, b.mem_words, b.mem_width, family=board.family)

    # costed as compiled: with the memory / multiplier styles _plan chooses next
    res = fastest_within(cands, limits, node_cost=node_cost, prepare=lambda g: _choose_impl(g, opts, board),
                         infra_cost=lambda g: _infra_cost(g, opts.top, board.family))
    if res.chosen is None:
        slow = _choose_impl(cands[-1].graph, opts, board)
        raise FlowError(overflow_message(slow, _rtl_cost(slow, opts.top, board.family), limits, board=board.name,
                                         fraction=opts.budget, what="the most folded design"))
    return res.chosen.graph


def _stream_json(s) -> dict:
    return dataclasses.asdict(s)


def _weight_load_json(wl) -> dict:
    """The manifest's ``weight_load``: the URAM layers' words a host streams into ``s_axis_wl``
    after reset, before any input (files relative to the output directory)."""
    return {**wl, "layers": [{**x, "file": f"rtl/{x['file']}"} for x in wl["layers"]],
            "order": "layer by layer, address 0 first, one word a beat, right-aligned in tdata; "
                     "inputs are taken once the top's weights_loaded is high"}


def _plan(model_path: Path, opts: CompileOptions) -> dict[str, str]:
    """Everything ``compile`` writes, as relative path -> text."""
    from .boards import load_board
    from .hls_templates.rtl import render_rtl
    from .ir import print_graph
    from .ir.schedule import estimate, folding_to_json
    from .ir.serialize import to_json

    from .ir.passes import REQUANT_STYLES

    if opts.requant not in REQUANT_STYLES:
        raise FlowError(f"--requant {opts.requant!r}: expected one of {', '.join(REQUANT_STYLES)}")
    board = load_board(opts.board)
    clock = float(opts.clock_mhz if opts.clock_mhz is not None else board.clock_mhz)
    if not (0 < clock <= 1000):
        raise FlowError(f"--clock-mhz {clock!r}: expected a frequency in (0, 1000] MHz")
    if opts.target_fps is not None and not (opts.target_fps > 0 and np.isfinite(opts.target_fps)):
        raise FlowError(f"--target-fps {opts.target_fps!r}: expected a positive number")
    if opts.backend not in BACKENDS:
        raise FlowError(f"--backend {opts.backend!r}: expected one of {', '.join(BACKENDS)}")
    if opts.budget is not None and (isinstance(opts.budget, bool) or not isinstance(opts.budget, (int, float))
                                    or not 0 < opts.budget <= 1):
        raise FlowError(f"--budget {opts.budget!r}: expected a fraction of the board's resources in (0, 1]")
    from .ir.schedule.impl import MEM_STYLES, MUL_STYLES

    if opts.mem_style not in MEM_STYLES:
        raise FlowError(f"--mem-style {opts.mem_style!r}: expected one of {', '.join(MEM_STYLES)}")
    if opts.mul_style not in MUL_STYLES:
        raise FlowError(f"--mul-style {opts.mul_style!r}: expected one of {', '.join(MUL_STYLES)}")
    fixed, fixed_bytes = _fixed_point(model_path, opts)
    if fixed is None:
        graph = _build_graph(model_path, opts, clock)
    else:  # the quantized model is the specification from here on (written as model_fixed.onnx)
        with tempfile.TemporaryDirectory(prefix="gatesmith-fixed-") as td:
            fpath = Path(td) / model_path.name
            fpath.write_bytes(fixed_bytes)
            graph = _build_graph(fpath, opts, clock)
    graph = _choose_impl(graph, opts, board)
    _stage("RTL")
    rtl = render_rtl(graph, top=opts.top) if opts.backend in ("rtl", "all") else None
    _stage("HLS C++")
    hls, hls_skipped = (_render_hls(graph, opts.top, board, clock, required=opts.backend == "hls")
                        if opts.backend in ("hls", "all") else (None, ""))
    design = rtl or hls
    _stage("estimate")
    est = estimate(graph, clock_mhz=clock)
    if rtl is not None:  # LUT/FF/DSP/BRAM18/URAM per layer and in total (keys of reports/synth.json)
        from .ir.schedule.cost import annotate_estimate

        annotate_estimate(est, rtl, board.family)
    if opts.target_fps is not None:
        est["target_fps"] = opts.target_fps
        est["meets_target"] = est["inferences_per_second"] >= opts.target_fps
    _budget_record(est, graph, rtl, board, opts)
    iq, om = graph.input_quant, graph.output_map
    manifest = {
        "gatesmith_version": __version__,
        "model": {"file": model_path.name, "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest()},
        "board": board.name,
        "part": board.part,
        "family": board.family,
        "clock_mhz": clock,
        "top": design.top,
        "input": {
            "onnx_shape": list(iq.onnx_shape),
            "dtype": str(graph.value(graph.inputs[0]).dtype),
            "elements": int(np.prod(graph.value(graph.inputs[0]).shape)),
            "scale": float(np.asarray(iq.scale).reshape(-1)[0]),
            "stream": _stream_json(design.in_stream),
        },
        "output": {
            "onnx_shape": list(om.onnx_shape),
            "kind": om.kind.value,
            "dtype": str(graph.value(graph.outputs[0]).dtype),
            "elements": int(np.prod(graph.value(graph.outputs[0]).shape)),
            "scale": [float(v) for v in np.asarray(om.scale).reshape(-1)],
            "stream": _stream_json(design.out_stream),
        },
        "packing": "element i of a beat at tdata[i*elem_bits +: elem_bits]; signed two's complement; "
        "bipolar: bit 1 = +1, bit 0 = -1",
        "streams": [dict(st) for st in rtl.streams] if rtl is not None else [],
        "requant_style": opts.requant,
        "layers": [
            {"name": n.name, "kind": n.kind, "origin": n.origin, "mismatches": int(getattr(n.op, "mismatches", 0))}
            for n in graph.nodes
        ],
        "files": sorted(f"rtl/{p}" for p in (rtl.files if rtl else ())),
        "backend": opts.backend,
        "hls_files": sorted(f"hls/{p}" for p in (hls.files if hls else ())),
        **({"hls_skipped": hls_skipped} if hls_skipped else {}),
        **({"weight_load": _weight_load_json(rtl.weight_load)} if rtl is not None and rtl.weight_load else {}),
    }
    plan = {
        "manifest.json": json.dumps(manifest, indent=2, sort_keys=True) + "\n",
        "ir.txt": print_graph(graph, fixed=fixed.layers(graph) if fixed is not None else ()),
        "graph.json": to_json(graph) + "\n",
        "folding.json": folding_to_json(graph),
        "reports/estimate.json": json.dumps(est, indent=2, sort_keys=True) + "\n",
    }
    if fixed is not None:
        manifest["fixed_point"] = {**fixed.as_json(), "tensors": fixed.layers(graph)}
        plan["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        est["fixed_point"] = {"range": fixed.range_mode, "bits": fixed.bits, "formats": len(fixed.tensors),
                              **({"error_vs_float": fixed.error} if fixed.error is not None else {})}
        plan["reports/estimate.json"] = json.dumps(est, indent=2, sort_keys=True) + "\n"
        plan["model_fixed.onnx"] = fixed_bytes
    for rel, text in (rtl.files if rtl else {}).items():
        plan[f"rtl/{rel}"] = text
    for rel, text in (hls.files if hls else {}).items():
        plan[f"hls/{rel}"] = text
    return plan


def _budget_record(est: dict, graph, rtl, board, opts: CompileOptions) -> None:
    """estimate.json: how the folding was chosen, ``budget`` / ``fits_budget`` / ``utilisation``
    against ``--budget`` (else :data:`DEFAULT_BUDGET`, recorded only); a design given by
    ``--target-fps`` or ``--folding`` that exceeds an explicit ``--budget`` is an error."""
    from .ir.schedule.cost import design_cost
    from .ir.schedule.search import budget_limits, fit_record, overflow_message

    if opts.folding_file is not None:
        est["folding_source"] = "file"
    elif opts.target_fps is not None:
        est["folding_source"] = "target_fps"
    elif opts.budget is not None:
        est["folding_source"] = "budget"
    else:
        est["folding_source"] = "default_target_fps"
    if rtl is None and opts.budget is None:
        return  # --backend hls: no RTL to cost
    fraction = DEFAULT_BUDGET if opts.budget is None else float(opts.budget)
    cost = design_cost(rtl, family=board.family) if rtl is not None else _rtl_cost(graph, opts.top, board.family)
    est.update(fit_record(cost["total"], board, fraction))
    if opts.budget is not None and not est["fits_budget"]:
        what = ("the design of --folding" if opts.folding_file is not None
                else f"the design for --target-fps {opts.target_fps:g}")
        raise FlowError(overflow_message(graph, cost, budget_limits(board, fraction), board=board.name,
                                         fraction=fraction, what=what))


#: bit widths ``--fixed-bits`` accepts (the frontend's quantizer limit)
FIXED_BITS = (2, 24)


def _fixed_point(model_path: Path, opts: CompileOptions):
    """(frontend.fixedpoint result, the quantized model's ONNX bytes), or (None, None) when none
    of --fixed-bits / --fixed-range / --calibration (or a per-layer ``fixed_bits``) is given."""
    per_layer = opts.layers is not None and opts.layers.sets("fixed_bits")
    if opts.fixed_bits is None and opts.fixed_range is None and opts.calibration is None and not per_layer:
        return None, None
    from .frontend.fixedpoint import DEFAULT_BITS, RANGE_MODES, make_fixed_point
    from .frontend.load import load_model

    bits = DEFAULT_BITS if opts.fixed_bits is None else opts.fixed_bits
    lo, hi = FIXED_BITS
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not lo <= bits <= hi:
        raise FlowError(f"--fixed-bits {bits!r}: expected an integer from {lo} to {hi}")
    mode = "proven" if opts.fixed_range is None else opts.fixed_range
    if mode not in RANGE_MODES:
        raise FlowError(f"--fixed-range {mode!r}: expected one of {', '.join(RANGE_MODES)}")
    model = load_model(model_path)
    x = None
    if opts.calibration is not None:
        x = opts.calibration
        what = "--calibration"
        if isinstance(x, (str, Path)):
            p = Path(x)
            what = f"--calibration {str(p)!r}"
            if not p.is_file():
                raise FlowError(f"{what}: no such file")
            try:
                x = np.load(p, allow_pickle=False)
            except Exception as e:
                raise FlowError(f"{what}: not a readable .npy array ({type(e).__name__})") from None
        shape = tuple(model.get_tensor_shape(model.graph.input[0].name))[1:]
        if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiu":
            raise FlowError(f"{what}: expected a numeric array, got {getattr(x, 'dtype', type(x).__name__)!s}")
        if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape or len(x) < 1:
            raise FlowError(f"{what}: expected shape (N, {', '.join(map(str, shape))}) with N >= 1, got {x.shape!r}")
        x = x.astype(np.float32)
        if not np.all(np.isfinite(x)):
            raise FlowError(f"{what}: contains NaN or infinite values")
    fixed = make_fixed_point(model, bits=int(bits), range_mode=mode, calibration=x)
    if per_layer:
        # per-layer widths (gatesmith.toml): the layer names exist once the model is lowered,
        # so lower the global-width model once to map them to its formats, then redo with them
        from .frontend import import_onnx

        with tempfile.TemporaryDirectory(prefix="gatesmith-fixed-") as td:
            fpath = Path(td) / "model_fixed.onnx"
            fpath.write_bytes(fixed.model.model.SerializeToString())
            widths = opts.layers.fixed_bits(import_onnx(fpath), fixed)
        fixed = make_fixed_point(model, bits=int(bits), range_mode=mode, calibration=x, tensor_bits=widths)
    return fixed, fixed.model.model.SerializeToString()


#: code generators ``compile --backend`` chooses from
BACKENDS = ("rtl", "hls", "all")


def _render_hls(graph, top: str, board, clock: float, *, required: bool):
    """(HLS design or None, why it was skipped or ""). ``--backend hls`` (``required``) fails on a
    graph the HLS generator cannot handle (e.g. a node kind it lacks, named in the error);
    ``all`` then leaves ``hls/`` out and says why in the manifest."""
    from .hls_templates.hls import render_hls, unsupported
    from .hls_templates.rtl import CodegenError
    from .verify.csim import reference_vectors

    why = unsupported(graph)
    uram = [n.name for n in graph.nodes if n.impl is not None and n.impl.mem == "uram"]
    if uram:  # a const array cannot be URAM (no initial contents): the weights would need a load port
        why = (f"layer {uram[0]!r} mem_style 'uram': the HLS backend keeps weights in constant arrays, "
               "which cannot live in URAM; expected --backend rtl (or another mem_style) for HLS")
        if required:
            raise FlowError(why)
    if why and not required:
        return None, why
    try:  # (with ``why`` render_hls raises it, naming the node)
        vectors = None if why else reference_vectors(graph)
        return render_hls(graph, top=top, part=board.part, clock_mhz=clock, vectors=vectors), ""
    except CodegenError as e:
        if required:
            raise
        return None, str(e)


def compile_model(model_path, out_dir, opts: CompileOptions = CompileOptions()) -> Path:
    """Compile ``model_path`` into ``out_dir`` (written atomically). Returns ``out_dir``."""
    model_path = Path(model_path)
    out = Path(out_dir)
    if not model_path.is_file():
        raise FlowError(f"{str(model_path)!r}: no such model file")
    if out.exists() and not opts.force:
        raise FlowError(f"output directory {str(out)!r} exists; use --force to replace it")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise FlowError(f"cannot create {str(out)!r}: parent directory {str(parent)!r} {what}")
    if not os.access(parent, os.W_OK):
        raise FlowError(f"cannot create {str(out)!r}: directory {str(parent)!r} is not writable")
    from . import progress

    with progress.task(f"compiling {model_path.name}", total=len(COMPILE_STAGES), unit="stages", eta="none"):
        _stage("import, passes, folding")
        plan = _plan(model_path, opts)
        _stage("writing")
        write_tree_atomic(plan, out)
    return out


#: what ``compile`` reports as its stages (progress only)
COMPILE_STAGES = ("import, passes, folding", "RTL", "HLS C++", "estimate", "writing")


def _stage(what: str) -> None:
    """Progress: compile has reached ``what`` (no effect without a progress session)."""
    from . import progress

    progress.step(what)


def write_tree_atomic(plan: dict[str, str], out: Path) -> None:
    """Write ``plan`` (relative path -> text) as the directory ``out`` in one step.

    Rendered into a temporary sibling directory, then renamed into place; an
    existing ``out`` is swapped out only once the new tree is complete (and put
    back if the swap is interrupted).  Nothing half-written is ever left behind.
    """
    parent = out.parent if str(out.parent) else Path(".")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    except OSError as e:  # e.g. /proc: access() says writable, creating fails
        raise FlowError(
            f"cannot create {str(out)!r}: cannot write in directory {str(parent)!r} ({e.strerror or type(e).__name__})"
        ) from None
    try:
        for rel, text in sorted(plan.items()):
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(text) if isinstance(text, bytes) else p.write_text(text)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            try:
                os.replace(out, old / "d")
                try:
                    os.replace(tmp, out)
                except BaseException:
                    os.replace(old / "d", out)  # put the previous tree back
                    raise
            finally:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@dataclass(frozen=True)
class Design:
    root: Path
    manifest: dict
    graph: object


def load_design(out_dir) -> Design:
    from .ir.serialize import from_json

    root = Path(out_dir)
    mpath = root / "manifest.json"
    if not mpath.is_file():
        raise FlowError(f"{str(root)!r} is not a gatesmith output directory (no manifest.json)")
    manifest = json.loads(mpath.read_text())
    graph = from_json((root / "graph.json").read_text())
    return Design(root=root, manifest=manifest, graph=graph)


def _engine_reference(design: Design, q: np.ndarray, *, backpressure: bool, seed: int) -> tuple[np.ndarray, dict]:
    from . import progress
    from .verify.reference import run_integer

    if not progress.active():
        return run_integer(design.graph, q), {}
    step = max(1, -(-len(q) // 50))  # about 50 batches, so progress can be drawn (same integers)
    parts = []
    with progress.task("simulating (numpy reference)", total=len(q), unit="inferences") as t:
        for i in range(0, len(q), step):
            parts.append(np.asarray(run_integer(design.graph, q[i:i + step])))
            t.advance(len(parts[-1]))
    return np.concatenate(parts), {}


def _engine_rtl(design: Design, q: np.ndarray, *, backpressure: bool, seed: int) -> tuple[np.ndarray, dict]:
    from .hls_templates.rtl import StreamSpec
    from .verify.rtl_sim import simulate_rtl
    from .verify.tools import rtl_cache_dir

    m = design.manifest
    res = simulate_rtl(
        design.root / "rtl",
        top=m["top"],
        in_stream=StreamSpec(**m["input"]["stream"]),
        out_stream=StreamSpec(**m["output"]["stream"]),
        x_int=q.reshape(len(q), -1),
        streams=m.get("streams", []),
        weight_load=m.get("weight_load"),
        backpressure=backpressure,
        seed=seed,
        build_dir=rtl_cache_dir(),
    )
    info = {
        "cycles_total": int(res.cycles_total),
        "cycles_per_inference": float(res.cycles_per_inference),
        "latency_cycles": int(res.latency_cycles),
    }
    out_shape = tuple(design.graph.value(design.graph.outputs[0]).shape)
    return np.asarray(res.y_int).reshape((len(q), *out_shape)), info


def _engine_csim(design: Design, q: np.ndarray, *, backpressure: bool, seed: int) -> tuple[np.ndarray, dict]:
    from .verify.csim import CsimError, run_csim
    from .verify.tools import ToolNotFound

    if not (design.root / "hls").is_dir():
        raise FlowError(f"{str(design.root)!r} has no hls/ directory: compile with --backend hls or all")
    out_shape = tuple(design.graph.value(design.graph.outputs[0]).shape)
    try:
        res = run_csim(design.root / "hls", q.reshape(len(q), -1), out_elems=int(np.prod(out_shape)))
    except (CsimError, ToolNotFound) as e:
        raise FlowError(str(e)) from None
    info = {"build_seconds": round(res.build_seconds, 3), "build_cached": res.cached,
            "run_seconds": round(res.run_seconds, 3)}
    return res.y_int.reshape((len(q), *out_shape)), info


#: simulation engines by name
ENGINES = {"reference": _engine_reference, "rtl": _engine_rtl, "csim": _engine_csim}


def mismatch_mask(graph, y: np.ndarray, expect: np.ndarray) -> np.ndarray:
    """Per element of ``y`` (flattened per sample): does it differ from ``expect``?

    Quantized outputs must be equal.  Float outputs (logits after the last
    accumulator) must agree within a quarter of one accumulator step: the
    model's float32 matrix product may round differently from the exact
    integer accumulator, but never by a whole step unless the integers differ.
    """
    from .ir.host import OutputKind

    om = graph.output_map
    y = np.asarray(y, np.float32).reshape(len(y), -1)
    e = np.asarray(expect, np.float32).reshape(len(expect), -1)
    if om.kind is not OutputKind.FLOAT:
        return y != e
    c = int(np.prod(graph.value(graph.outputs[0]).shape))
    zero = om.dequantize(np.zeros((1, c), np.int64)).reshape(-1).astype(np.float64)
    one = om.dequantize(np.ones((1, c), np.int64)).reshape(-1).astype(np.float64)
    tol = 0.25 * np.abs(one - zero)
    return np.abs(y.astype(np.float64) - e.astype(np.float64)) > tol[None, :]


def compare_outputs(graph, y: np.ndarray, expect: np.ndarray) -> tuple[int, float]:
    """(mismatching elements, largest absolute difference) of ``y`` against ``expect``
    (ONNX execution's output); see :func:`mismatch_mask`."""
    y = np.asarray(y, np.float32)
    e = np.asarray(expect, np.float32)
    diff = np.abs(y.reshape(len(y), -1).astype(np.float64) - e.reshape(len(e), -1).astype(np.float64))
    return int(np.count_nonzero(mismatch_mask(graph, y, e))), float(diff.max() if diff.size else 0.0)


def _check_input(x, design: Design, source: str) -> np.ndarray:
    shape = tuple(design.manifest["input"]["onnx_shape"])
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiu":
        raise FlowError(f"{source}: expected a numeric array, got dtype {getattr(x, 'dtype', type(x))!s}")
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape or x.shape[0] < 1:
        raise FlowError(f"{source}: expected shape (N, {', '.join(map(str, shape))}) with N >= 1, got {x.shape!r}")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise FlowError(f"{source}: contains NaN or infinite values")
    return x


def simulate(out_dir, x: np.ndarray, *, engine: str = "rtl", backpressure: bool = False, seed: int = 1,
             expect: np.ndarray | None = None, source: str = "input") -> tuple[np.ndarray, dict]:
    """Run a compiled design on float inputs; returns (float outputs, report dict).

    The report is also written to ``reports/sim.json``.
    """
    if engine not in ENGINES:
        raise FlowError(f"--engine {engine!r}: expected one of {', '.join(ENGINES)}")
    design = load_design(out_dir)
    x = _check_input(x, design, source)
    graph = design.graph
    q = graph.input_quant.quantize(x)
    t0 = time.perf_counter()
    y_int, info = ENGINES[engine](design, q, backpressure=backpressure, seed=seed)
    elapsed = time.perf_counter() - t0
    y = graph.output_map.dequantize(y_int)
    report = {
        "engine": engine,
        "inferences": int(x.shape[0]),
        "backpressure": bool(backpressure),
        "seed": int(seed),
        "wall_seconds": round(elapsed, 3),
        **info,
    }
    if "cycles_per_inference" in info:
        report["inferences_per_second_at_clock"] = design.manifest["clock_mhz"] * 1e6 / max(info["cycles_per_inference"], 1e-9)
    if expect is not None:
        e = np.asarray(expect)
        if e.shape != y.shape:
            raise FlowError(f"--expect: expected shape {y.shape!r} (the model's output), got {e.shape!r}")
        mm, maxdiff = compare_outputs(graph, y, e)
        report["mismatches"] = mm
        report["max_abs_diff"] = maxdiff
    rep = design.root / "reports"
    rep.mkdir(exist_ok=True)
    (rep / "sim.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return y, report


def user_error_types() -> tuple:
    """The exception types that are bad input (a one-line error, exit 2), not an internal error."""
    from .boards import BoardError
    from .export import ExportError
    from .frontend import FrontendError
    from .implement import PnrError
    from .ir.schedule import FoldingError
    from .ir.verifier import IRError

    return (FlowError, FrontendError, FoldingError, BoardError, IRError, PnrError, ExportError)
