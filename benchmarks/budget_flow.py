"""``gatesmith compile --budget F``: the fastest design that fits F x the board, checked end to end.

For each model and board: compile with ``--budget`` (ir/schedule/search.py picks the folding),
synthesise it with Yosys (``gatesmith synth``), simulate the RTL (Verilator) against the numpy
reference, and print the chosen throughput, estimated and synthesised resources, whether the
synthesised design is within the budget, simulated vs estimated cycles per inference and the
folding efficiency.  Writes benchmarks/results/budget_flow.json.

    python benchmarks/budget_flow.py [--models tfc_2w2a,cnv_1w1a,cnv_2w2a] [--boards pynq-z2]
        [--budget 0.8] [--inferences 3] [--work DIR] [--no-synth] [--jobs N]
    python benchmarks/budget_flow.py --reestimate --work DIR   # the stored rows' estimates with
        the current cost model (their designs still in DIR, compiling to the same RTL)
    python benchmarks/budget_flow.py --efficiency   # folding efficiency of the whole zoo at a few
        targets and budgets (no synthesis): benchmarks/results/budget_efficiency.json; a row
        below its efficiency bound also gets the bound's design (every unit at its fewest
        multipliers within the row's cycles) estimated beside the scheduler's: ``bound_design``

A design directory under ``--work`` whose RTL is unchanged keeps its ``reports/synth.json``
(Yosys on CNV takes minutes), so a rerun only synthesises what changed.  Rows of models,
boards and budgets not run this time are kept in the results file (a run of one model
replaces only its own rows).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
import warnings
from pathlib import Path

KEYS = ("lut", "ff", "dsp", "bram18", "uram")
RESULTS = Path(__file__).resolve().parent / "results" / "budget_flow.json"


def _rtl_sha(root: Path) -> str | None:
    rtl = root / "rtl"
    if not rtl.is_dir():
        return None
    h = hashlib.sha256()
    for p in sorted(rtl.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(rtl).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def run_one(name: str, board: str, budget: float, work: Path, *, inferences: int, synth: bool,
            jobs: int = 1) -> dict:
    from gatesmith.boards import load_board
    from gatesmith.flow import CompileOptions, compile_model, simulate
    from gatesmith.implement import synthesize
    from gatesmith.ir.schedule.search import budget_limits
    from gatesmith.verify import zoo

    model = zoo.build(name)
    onnx = work / f"{name}.onnx"
    if not onnx.is_file():
        model.export(onnx)
    out = work / f"{name}_{board}_{budget:g}"
    old_sha, old_synth = _rtl_sha(out), None
    if (out / "reports" / "synth.json").is_file():
        old_synth = (out / "reports" / "synth.json").read_text()
    t0 = time.perf_counter()
    compile_model(onnx, out, CompileOptions(board=board, budget=budget, backend="rtl", force=True))
    compile_s = time.perf_counter() - t0
    est = json.loads((out / "reports" / "estimate.json").read_text())
    limits = budget_limits(load_board(board), budget)
    row = {
        "model": name, "board": board, "budget": budget, "compile_seconds": round(compile_s, 1),
        "cycles_per_inference": est["cycles_per_inference"],
        "inferences_per_second": round(est["inferences_per_second"], 1),
        "bottleneck": est["bottleneck"], "folding_efficiency": est["folding_efficiency"],
        "multipliers": est["multipliers"], "limits": limits,
        "estimate": {k: est["resources"][k] for k in KEYS}, "estimate_fits": est["fits_budget"],
        "folding": json.loads((out / "folding.json").read_text())["layers"],
    }
    row["rtl_sha"] = _rtl_sha(out)
    if synth:
        sha = _rtl_sha(out)
        if old_synth is not None and sha == old_sha:
            (out / "reports" / "synth.json").write_text(old_synth)
            rep = json.loads(old_synth)
            row["synth_reused"] = True
        else:
            rep = synthesize(out, jobs=jobs)
            run = json.loads((out / "reports" / "synth_run.json").read_text())
            row["synth_seconds"] = run["seconds"]
            row["synth_jobs"] = run["jobs"]
            row["synth_run_seconds"] = {r["tag"]: r["seconds"] for r in run["runs"]}
        row["synth"] = {k: rep[k] for k in KEYS}
        row["synth_split"] = rep.get("split", [])
        row["synth_lut_mapper"] = {t: m for t, m in rep.get("lut_mapper", {}).items() if m != "abc9"}
        row["synth_fits"] = all(rep[k] <= limits[k] for k in KEYS)
    x = model.sample_inputs(inferences, seed=11)
    y_ref, _ = simulate(out, x, engine="reference")
    t0 = time.perf_counter()
    y_rtl, sim = simulate(out, x, engine="rtl")
    row["sim_seconds"] = round(time.perf_counter() - t0, 1)
    row["sim_inferences"] = inferences
    row["sim_cycles_per_inference"] = sim["cycles_per_inference"]
    row["sim_vs_estimate"] = round(sim["cycles_per_inference"] / est["cycles_per_inference"] - 1, 4)
    row["bit_exact"] = bool((y_rtl == y_ref).all())
    return row


NOTE = ("gatesmith compile --budget F: fastest design whose estimated resources fit F x the board; "
        "synth = Yosys synth_xilinx (gatesmith synth); sim = Verilator RTL vs the numpy reference; "
        "folding efficiency = (MACs / multipliers) / cycles per inference")


def reestimate(rows: list[dict], work: Path) -> None:
    """Refresh the estimate of stored rows with the current cost model, without Yosys or
    simulation: compile each design again into its directory under ``work`` and require the
    RTL to be what was synthesised and simulated (the same files, byte for byte)."""
    from gatesmith.flow import CompileOptions, compile_model

    for r in rows:
        out = work / f"{r['model']}_{r['board']}_{r['budget']:g}"
        before = _rtl_sha(out)
        if before is None or r.get("rtl_sha", before) != before:
            raise SystemExit(f"budget_flow --reestimate: {out} does not hold the RTL of the stored row")
        keep = {f: (out / "reports" / f).read_text() for f in ("synth.json", "synth_run.json", "sim.json")
                if (out / "reports" / f).is_file()}
        compile_model(work / f"{r['model']}.onnx", out, CompileOptions(board=r["board"], budget=r["budget"],
                                                                      backend="rtl", force=True))
        if _rtl_sha(out) != before:
            raise SystemExit(f"budget_flow --reestimate: {r['model']} compiles to other RTL now; run it again")
        for f, text in keep.items():  # the same RTL: its synthesis and simulation stay valid
            (out / "reports" / f).write_text(text)
        est = json.loads((out / "reports" / "estimate.json").read_text())
        r["estimate"] = {k: est["resources"][k] for k in KEYS}
        r["estimate_fits"] = est["fits_budget"]
        r["rtl_sha"] = before


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def merge_results(old: dict, rows: list[dict]) -> dict:
    """``old`` (a results file's contents) with ``rows`` in place of its rows of the same model,
    board and budget (in their place; new ones at the end); other rows and keys are kept."""
    key = lambda r: (r["model"], r["board"], r["budget"])  # noqa: E731
    new = {key(r): r for r in rows}
    kept = [new.pop(key(r), r) for r in old.get("rows", [])]
    return {**old, "date": time.strftime("%Y-%m-%d"), "note": old.get("note", NOTE),
            "rows": kept + [r for r in rows if key(r) in new]}


def _fmt_res(r: dict | None) -> str:
    if not r:
        return "-"
    return f"{r['lut']}/{r['ff']}/{r['dsp']}/{r['bram18']}"


#: (label, board, CompileOptions keywords) of the efficiency sweep
SWEEP = (("1e4 fps", "pynq-z2", {"target_fps": 1e4}), ("1e5 fps", "pynq-z2", {"target_fps": 1e5}),
         ("1e6 fps", "pynq-z2", {"target_fps": 1e6}), ("pynq-z2 0.3", "pynq-z2", {"budget": 0.3}),
         ("pynq-z2 0.8", "pynq-z2", {"budget": 0.8}), ("zcu104 0.8", "zcu104", {"budget": 0.8}))


def bound_folding(graph, cycles: int) -> dict:
    """A folding (``folding_from_json``'s dict) giving every matrix-vector unit the fewest
    multipliers any PE x SIMD has within ``cycles`` (the efficiency bound's design; ties: fewer
    cycles), its window's cycles counted and the window folded to keep up (SIMD' channels a
    beat, KP positions, a width converter where SIMD' is not the unit's SIMD)."""
    from gatesmith.ir.ops import MatVec, SlidingWindow
    from gatesmith.ir.schedule.folding import _best_matvec_fold, _swg_fold, _vectors, ragged_ok

    producer = {o: n for n in graph.nodes for o in n.outputs}
    out = {}
    for n in graph.nodes:
        if isinstance(n.op, MatVec):
            src = producer.get(n.inputs[0])
            swg = src.op if src is not None and isinstance(src.op, SlidingWindow) else None
            f = _best_matvec_fold(n.op, cycles, _vectors(graph, n), swg, True, ragged_ok(graph, n))
            out[n.name] = {"pe": f.pe, "simd": f.simd}
            if swg is not None:
                sf = _swg_fold(swg, f.simd, cycles, convert=True)
                out[src.name] = {"pe": sf.pe, "simd": sf.simd}
    return out


def _design_cost(graph, opts, board) -> dict:
    from gatesmith.flow import _choose_impl, _rtl_cost

    return _rtl_cost(_choose_impl(graph, opts, board), opts.top, board.family)["total"]


def bound_design(onnx: Path, graph, opts, board, cycles: int) -> dict:
    """The efficiency bound's design of a row below its bound (:func:`bound_folding` at the
    row's cycles, the other layers scheduled for those cycles) beside the scheduler's: cycles,
    multipliers, folding efficiency and estimated resources of each. Where the scheduler gave up
    multiplier efficiency for fewer threshold/requant lanes, this shows what that saved."""
    from gatesmith.flow import _build_graph
    from gatesmith.ir.schedule import estimate

    ff = onnx.with_name(f"{onnx.stem}.bound.json")
    ff.write_text(json.dumps({"version": 1, "layers": bound_folding(graph, cycles)}))
    clock = board.clock_mhz
    fps = clock * 1e6 / (cycles + 0.5)  # a budget of exactly ``cycles``
    bopts = dataclasses.replace(opts, target_fps=fps, folding_file=ff)  # a --budget row keeps its styles' limits
    g = _build_graph(onnx, bopts, clock)
    est = estimate(g, clock_mhz=clock)
    return {"chosen": _design_cost(graph, opts, board),
            "bound": {"cycles_per_inference": est["cycles_per_inference"], "multipliers": est["multipliers"],
                      "folding_efficiency": est["folding_efficiency"], "estimate": _design_cost(g, bopts, board)}}


def efficiency_sweep(work: Path) -> list[dict]:
    """Folding efficiency, cycles and bottleneck of every zoo model at the SWEEP's settings; a
    row below its bound also gets the bound's design costed beside it (:func:`bound_design`)."""
    from gatesmith.boards import load_board
    from gatesmith.flow import CompileOptions, FlowError, _build_graph
    from gatesmith.ir.schedule import estimate
    from gatesmith.verify import zoo

    rows = []
    for name in zoo.MLP_NAMES + zoo.CONV_NAMES:
        onnx = work / f"{name}.onnx"
        if not onnx.is_file():
            zoo.build(name).export(onnx)
        for label, board, kw in SWEEP:
            b = load_board(board)
            clock = b.clock_mhz
            row = {"model": name, "setting": label, "board": board, **kw}
            opts = CompileOptions(board=board, **kw)
            try:
                g = _build_graph(onnx, opts, clock)
            except FlowError as e:
                row["error"] = str(e)
            else:
                est = estimate(g, clock_mhz=clock)
                row.update(cycles_per_inference=est["cycles_per_inference"], bottleneck=est["bottleneck"],
                           folding_efficiency=est["folding_efficiency"],
                           folding_efficiency_bound=est["folding_efficiency_bound"], multipliers=est["multipliers"])
                if est["folding_efficiency"] < est["folding_efficiency_bound"]:
                    row["bound_design"] = bound_design(onnx, g, opts, b, est["cycles_per_inference"])
            print(f"{name:<14} {label:<12} {row.get('cycles_per_inference', '-'):>9} "
                  f"{row.get('folding_efficiency', '-'):>7} {row.get('folding_efficiency_bound', '-'):>7} "
                  f"{row.get('bottleneck', row.get('error', ''))}{_bound_note(row)}", flush=True)
            rows.append(row)
    return rows


def _bound_note(row: dict) -> str:
    bd = row.get("bound_design")
    if bd is None:
        return ""
    b, c = bd["bound"], bd["chosen"]
    return (f"  [bound's design: {b['cycles_per_inference']} cycles, eff {b['folding_efficiency']}, "
            f"LUT/DSP {b['estimate']['lut']}/{b['estimate']['dsp']} vs {c['lut']}/{c['dsp']}]")


def efficiency_summary(rows: list[dict], target: float = 0.9) -> str:
    """One line: of the rows with an estimate, how many reach ``target`` and how many their bound."""
    done = [r for r in rows if r.get("folding_efficiency") is not None]
    hit = sum(r["folding_efficiency"] >= target for r in done)
    at_bound = sum(r["folding_efficiency"] >= r["folding_efficiency_bound"] for r in done
                   if r.get("folding_efficiency_bound") is not None)
    return (f"{hit} of {len(done)} rows reach folding efficiency {target:g}; {at_bound} of {len(done)} reach "
            f"their bound ({len(rows) - len(done)} rows without a design)")


def table(rows: list[dict]) -> str:
    head = (f"{'model':<10} {'board':<9} {'F':>4} {'FPS':>10} {'cycles':>7} {'sim cyc':>9} {'diff':>6} "
            f"{'eff':>5}  {'est LUT/FF/DSP/BRAM18':<24} {'synth LUT/FF/DSP/BRAM18':<24} {'limit LUT/FF/DSP/BRAM18':<24} "
            f"{'fits':>4} {'exact':>5}")
    lines = [head]
    for r in rows:
        fits = {True: "yes", False: "NO"}.get(r.get("synth_fits"), "-")
        lines.append(
            f"{r['model']:<10} {r['board']:<9} {r['budget']:>4g} {r['inferences_per_second']:>10.0f} "
            f"{r['cycles_per_inference']:>7} {r['sim_cycles_per_inference']:>9.1f} {r['sim_vs_estimate']:>+6.1%} "
            f"{r['folding_efficiency']:>5.3f}  {_fmt_res(r['estimate']):<24} {_fmt_res(r.get('synth')):<24} "
            f"{_fmt_res(r['limits']):<24} {fits:>4} {('yes' if r['bit_exact'] else 'NO'):>5}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="tfc_2w2a,cnv_1w1a,cnv_2w2a")
    ap.add_argument("--boards", default="pynq-z2")
    ap.add_argument("--budget", type=float, default=0.8)
    ap.add_argument("--inferences", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path("build") / "budget_flow")
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--jobs", type=int, default=1, help="Yosys processes at a time (gatesmith synth --jobs)")
    ap.add_argument("--results", type=Path, default=None)
    ap.add_argument("--efficiency", action="store_true", help="folding efficiency sweep over the zoo instead")
    ap.add_argument("--reestimate", action="store_true",
                    help="refresh the stored rows' estimates with the current cost model (their designs, "
                         "still under --work, must compile to the same RTL); no Yosys, no simulation")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    a.work.mkdir(parents=True, exist_ok=True)
    if a.efficiency:
        print(f"{'model':<14} {'setting':<12} {'cycles':>9} {'eff':>7} {'bound':>7} bottleneck", flush=True)
        rows = efficiency_sweep(a.work)
        summary = efficiency_summary(rows)
        print(summary)
        path = a.results or RESULTS.with_name("budget_efficiency.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d"),
            "note": "folding efficiency = (MACs per inference / multipliers) / cycles per inference; "
                    "its bound: every layer at its fewest multipliers (any fold count of MH, ragged PEs included; "
                    "SIMD | MW) within those cycles; "
                    "target: cheapest folding meeting it (the cost model's pick among the scheduler's variants; "
                    "within 2% of the cheapest, the fastest); budget: fastest folding whose estimated resources fit "
                    "(of those as fast, the cheapest); bound_design: the bound's folding costed beside the chosen one",
            "summary": summary, "rows": rows}, indent=2, sort_keys=True) + "\n")
        return 0
    a.results = a.results or RESULTS
    if a.reestimate:
        data = _load(a.results)
        reestimate(data.get("rows", []), a.work)
        print(table(data.get("rows", [])))
        a.results.write_text(json.dumps({**data, "date": time.strftime("%Y-%m-%d")}, indent=2, sort_keys=True) + "\n")
        return 0
    rows = []
    for board in a.boards.split(","):
        for name in a.models.split(","):
            print(f"{name} on {board} at --budget {a.budget:g} ...", file=sys.stderr, flush=True)
            rows.append(run_one(name, board, a.budget, a.work, inferences=a.inferences, synth=not a.no_synth,
                                jobs=a.jobs))
    print(table(rows))
    a.results.parent.mkdir(parents=True, exist_ok=True)
    a.results.write_text(json.dumps(merge_results(_load(a.results), rows), indent=2, sort_keys=True) + "\n")
    return 0 if all(r["bit_exact"] and r.get("synth_fits", True) and abs(r["sim_vs_estimate"]) <= 0.05
                    for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
