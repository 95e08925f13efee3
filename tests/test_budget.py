"""Folding against a board budget (issue 4): ``--budget F`` alone gives the fastest design whose
estimated resources fit F x the board, ``--target-fps`` + ``--budget`` fails when the design
does not fit, an impossible budget names the layer, and estimate.json reports the folding
efficiency and the fit."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from gatesmith.boards import load_board
from gatesmith.cli import main
from gatesmith.config import ConfigError, compile_options, parse_config
from gatesmith.flow import CompileOptions, FlowError, _infra_cost, _rtl_cost, compile_model, simulate
from gatesmith.hls_templates.rtl import stage_block
from gatesmith.frontend import import_onnx
from gatesmith.ir.passes import MinimizeAccumulators, SelectRequant, run_passes
from gatesmith.ir.schedule import ChooseFolding, estimate
from gatesmith.ir.schedule.search import (
    block_cost, budget_limits, fastest_within, fit_record, fits, folding_candidates, folding_efficiency,
)


@pytest.fixture
def tiny(tiny_graph):
    """The hand-made graph with its requantizer realised (thresholds)."""
    return run_passes(tiny_graph, [SelectRequant(style="threshold")])


def _node_cost(g, n):
    b = stage_block(g, n)
    return block_cost(b.core, b.params, b.mem_words, b.mem_width)


def test_candidates_are_distinct_and_fastest_first(tiny):
    cands = folding_candidates(tiny, clock_mhz=100.0)
    cycles = [c.cycles for c in cands]
    assert cycles == sorted(set(cycles)) and len(cycles) >= 3
    assert cands[-1].cycle_budget is None  # the most folded design: PE = SIMD = 1 everywhere
    assert all((n.fold.pe, n.fold.simd) == (1, 1) for n in cands[-1].graph.nodes)


def test_search_picks_the_fastest_design_within_the_budget(tiny):
    cands = folding_candidates(tiny, clock_mhz=100.0)
    costs = [_rtl_cost(c.graph, "gatesmith_top")["total"] for c in cands]
    # a LUT limit that the second-fastest candidate meets and the fastest does not
    assert costs[0]["lut"] > costs[1]["lut"]
    limits = {"lut": costs[1]["lut"], "ff": 10**9, "dsp": 10**9, "bram18": 10**9, "uram": 0}
    res = fastest_within(cands, limits, node_cost=_node_cost, infra_cost=lambda g: _infra_cost(g, "gatesmith_top"))
    assert res.chosen is cands[1]
    assert fits(res.cost["total"], limits) and not fits(costs[0], limits)
    assert res.cost["total"] == costs[1]  # cores + infrastructure = design_cost of the rendered design
    assert res.chosen.cycles > cands[0].cycles
    # the lower bound (cores alone) never exceeds the full cost
    for c, total in zip(cands, costs):
        lower = {k: 0 for k in total}
        for n in c.graph.nodes:
            for k, v in _node_cost(c.graph, n).items():
                lower[k] += v
        assert all(lower[k] <= total[k] for k in total)
    # nothing fits: no choice
    none = fastest_within(cands, dict.fromkeys(limits, 0), node_cost=_node_cost,
                          infra_cost=lambda g: _infra_cost(g, "gatesmith_top"))
    assert none.chosen is None


def test_folding_efficiency_on_a_hand_checkable_graph(tiny):
    folding = {"mvu0": {"pe": 2, "simd": 3}, "rq0": {"pe": 2}, "mvu1": {"pe": 1, "simd": 2}}
    g = run_passes(tiny, [ChooseFolding(clock_mhz=100.0, folding=folding)])
    est = estimate(g, clock_mhz=100.0)
    # mvu0: 4x6 = 24 MACs on 6 multipliers, 4 cycles; mvu1: 3x4 = 12 MACs on 2, 6 cycles (bottleneck)
    assert (est["macs_per_inference"], est["multipliers"], est["cycles_per_inference"]) == (36, 8, 6)
    assert est["bottleneck"] == "mvu1"
    assert est["folding_efficiency"] == folding_efficiency(36, 8, 6) == 0.75
    assert folding_efficiency(0, 0, 5) is None


def test_fit_record_and_limits():
    board = load_board("pynq-z2")
    limits = budget_limits(board, 0.8)
    assert limits == {"lut": 42560, "ff": 85120, "dsp": 176, "bram18": 224, "uram": 0}
    rec = fit_record({"lut": 42560, "ff": 1, "dsp": 0, "bram18": 225, "uram": 0}, board, 0.8)
    assert rec["fits_budget"] is False and rec["budget"] == 0.8
    assert rec["utilisation"]["lut"] == 0.8 and rec["utilisation"]["uram"] is None


def test_budget_alone_gives_the_fastest_design_that_fits(zoo_export, tmp_path):
    _, path = zoo_export("tfc_2w2a")
    out = compile_model(path, tmp_path / "a", CompileOptions(board="arty-a7-100t", budget=0.1, backend="rtl"))
    est = json.loads((out / "reports" / "estimate.json").read_text())
    board = load_board("arty-a7-100t")
    assert est["folding_source"] == "budget" and est["budget"] == 0.1 and est["fits_budget"] is True
    assert all(est["resources"][k] <= est["budget_limits"][k] for k in est["budget_limits"])
    assert est["budget_limits"]["lut"] == int(0.1 * board.lut)
    # the next faster design ChooseFolding can make does not fit
    faster = compile_model(path, tmp_path / "b", CompileOptions(board="arty-a7-100t", backend="rtl",
                                                                target_fps=100e6 / (est["cycles_per_inference"] - 1)))
    est_f = json.loads((faster / "reports" / "estimate.json").read_text())
    assert est_f["cycles_per_inference"] < est["cycles_per_inference"]
    assert est_f["fits_budget"] is False or est_f["budget"] != 0.1  # checked against the default 0.8 here
    assert any(est_f["resources"][k] > est["budget_limits"][k] for k in est["budget_limits"])
    # deterministic
    again = compile_model(path, tmp_path / "c", CompileOptions(board="arty-a7-100t", budget=0.1, backend="rtl"))
    assert (again / "folding.json").read_text() == (out / "folding.json").read_text()
    assert (again / "reports" / "estimate.json").read_text() == (out / "reports" / "estimate.json").read_text()


def test_default_compile_keeps_its_folding_and_records_the_fit(zoo_export, tmp_path):
    _, path = zoo_export("tfc_2w2a")
    out = compile_model(path, tmp_path / "d", CompileOptions(backend="rtl"))
    est = json.loads((out / "reports" / "estimate.json").read_text())
    # 100k FPS at 100 MHz: a budget of 1000 cycles (a ragged PE would meet it with fewer
    # multipliers but more threshold lanes, which cost more than they save here)
    assert est["cycles_per_inference"] == 896
    assert est["folding_source"] == "default_target_fps" and "target_fps" not in est
    assert est["budget"] == 0.8 and est["fits_budget"] is True


def test_api_budget_keyword_and_report(zoo_export, tmp_path):
    import gatesmith
    from gatesmith.report import build_report

    _, path = zoo_export("tfc_2w2a")
    d = gatesmith.compile(path, out_dir=tmp_path / "api", board="arty-a7-100t", budget=0.1, backend="rtl")
    est = d.estimate
    assert est["folding_source"] == "budget" and est["fits_budget"]
    html = build_report(d.root).read_text()
    assert f"{est['folding_efficiency']:,.3f} (MACs / multipliers / cycles per inference)" in html
    assert "0.10 of the board: fits (fastest design that fits)" in html


def test_impossible_budget_names_the_layer(zoo_export, tmp_path):
    _, path = zoo_export("tfc_2w2a")
    with pytest.raises(FlowError) as e:
        compile_model(path, tmp_path / "x", CompileOptions(board="orangecrab-25f", budget=0.05))
    # (its ROM needs 6 RAMB18 where the budget allows 2: the memory style targets the budget,
    # so the ROM goes to LUTs, and those are what does not fit)
    assert str(e.value) == (
        "layer 'mvu0' (MatMul_0,Quant_0) does not fit orangecrab-25f at --budget 0.05: the most folded design "
        "needs 2825 LUT (2060 in this layer), 1214 allowed (over by 1611)")
    assert not (tmp_path / "x").exists()


def test_budget_impl_targets_the_budget_not_the_board(zoo_export):
    """pot_mlp on pynq-z2 at --budget 0.8: the memory / multiplier styles of every candidate are
    chosen for the budget's resources (176 of the board's 220 DSPs), so the search may take a
    design whose products fit only in LUTs: 3 cycles per inference. Chosen for the whole board,
    that folding would keep ~220 DSPs and not fit, and the search had settled for 11 cycles."""
    import dataclasses

    from gatesmith.flow import _build_graph, _choose_impl

    _, path = zoo_export("pot_mlp")
    board = load_board("pynq-z2")
    opts = CompileOptions(board="pynq-z2", budget=0.8)
    g = _choose_impl(_build_graph(path, opts, 100.0), opts, board)
    limits = budget_limits(board, 0.8)
    assert estimate(g, clock_mhz=100.0)["cycles_per_inference"] == 3
    cost = _rtl_cost(g, "gatesmith_top", board.family)["total"]
    assert fits(cost, limits) and limits["dsp"] == 176
    assert {n.impl.mul for n in g.nodes if n.kind == "matvec"} == {"lut"}
    whole = _choose_impl(g, dataclasses.replace(opts, budget=None), board)
    assert 176 < _rtl_cost(whole, "gatesmith_top", board.family)["total"]["dsp"] <= 220


def test_budget_takes_the_cheapest_of_the_fastest_designs(zoo_export):
    """vgg10_1d on pynq-z2 at --budget 0.8: several designs of ChooseFolding's variants fit at
    the fastest cycles (192); the search takes the cheapest (within COST_TIE of it, the fewest
    multipliers), here the efficiency bound's design: 0.9462, where the first that fit was
    0.8735 with more LUTs and DSPs."""
    from gatesmith.flow import _board_share, _build_graph, _choose_impl
    from gatesmith.ir.schedule.folding import COST_TIE, multipliers
    from gatesmith.ir.schedule.folding import folding_efficiency as fold_eff

    _, path = zoo_export("vgg10_1d")
    board = load_board("pynq-z2")
    opts = CompileOptions(board="pynq-z2", budget=0.8)
    g = _build_graph(path, opts, 100.0)
    est = estimate(g, clock_mhz=100.0)
    assert est["cycles_per_inference"] == 192 and est["folding_efficiency"] == est["folding_efficiency_bound"] == 0.9462
    limits = budget_limits(board, 0.8)
    graph = run_passes(import_onnx(path), [MinimizeAccumulators(), SelectRequant()])
    fastest = [c for c in folding_candidates(graph, clock_mhz=100.0) if c.cycles == 192]
    costs = [_rtl_cost(_choose_impl(c.graph, opts, board), opts.top, board.family)["total"] for c in fastest]
    fit = [(sum(t[k] / limits[k] for k in limits if limits[k]), c) for c, t in zip(fastest, costs) if fits(t, limits)]
    assert len(fit) >= 2
    low = min(s for s, _ in fit)
    chosen = next((s, c) for s, c in fit if multipliers(c.graph) == est["multipliers"])
    assert chosen[0] <= low * (1 + COST_TIE)
    first = fit[0][1]  # what the search took before it compared designs of equal cycles
    assert multipliers(first.graph) > est["multipliers"] and fold_eff(first.graph)[0] == 0.8735
    mine = _rtl_cost(_choose_impl(g, opts, board), opts.top, board.family)["total"]
    theirs = costs[fastest.index(first)]
    assert mine["lut"] < theirs["lut"] and mine["dsp"] < theirs["dsp"]
    assert _board_share(mine, board) < _board_share(theirs, board)


def test_target_fps_and_budget_conflict(zoo_export, tmp_path):
    _, path = zoo_export("tfc_2w2a")
    with pytest.raises(FlowError) as e:
        compile_model(path, tmp_path / "x", CompileOptions(board="pynq-z2", budget=0.1, target_fps=1e7))
    assert re.fullmatch(
        r"layer 'mvu0' \(MatMul_0,Quant_0\) does not fit pynq-z2 at --budget 0\.1: the design for --target-fps "
        r"1e\+07 needs (\d+) LUT \((\d+) in this layer\), 5320 allowed \(over by (\d+)\)", str(e.value))
    need, _, over = map(int, re.fullmatch(r".* needs (\d+) LUT \((\d+).*over by (\d+)\)", str(e.value)).groups())
    assert need - 5320 == over > 0
    # the same target within a large enough budget compiles, and says it fits
    out = compile_model(path, tmp_path / "y", CompileOptions(board="zcu104", budget=1.0, target_fps=1e5,
                                                             backend="rtl"))
    est = json.loads((out / "reports" / "estimate.json").read_text())
    assert est["folding_source"] == "target_fps" and est["meets_target"] and est["fits_budget"]


def test_folding_file_and_budget(zoo_export, tmp_path):
    _, path = zoo_export("tfc_2w2a")
    out = compile_model(path, tmp_path / "a", CompileOptions(board="pynq-z2", target_fps=1e6, backend="rtl"))
    folding = out / "folding.json"
    with pytest.raises(FlowError) as e:
        compile_model(path, tmp_path / "b", CompileOptions(board="orangecrab-25f", folding_file=folding, budget=0.2))
    assert re.fullmatch(r"layer 'mvu0' \(MatMul_0,Quant_0\) does not fit orangecrab-25f at --budget 0\.2: the design "
                        r"of --folding needs \d+ LUT \(\d+ in this layer\), 4857 allowed \(over by \d+\)", str(e.value))
    ok = compile_model(path, tmp_path / "c", CompileOptions(board="pynq-z2", folding_file=folding, budget=0.8,
                                                            backend="rtl"))
    est = json.loads((ok / "reports" / "estimate.json").read_text())
    assert est["folding_source"] == "file" and est["fits_budget"]
    assert (ok / "folding.json").read_text() == folding.read_text()


@pytest.mark.parametrize("budget", [0.0, 1.5, -0.2, float("nan")])
def test_budget_out_of_range(zoo_export, tmp_path, budget):
    _, path = zoo_export("tfc_2w2a")
    with pytest.raises(FlowError) as e:
        compile_model(path, tmp_path / "x", CompileOptions(budget=budget))
    assert str(e.value) == f"--budget {budget!r}: expected a fraction of the board's resources in (0, 1]"


def test_cli_impossible_budget_exits_2_without_output(zoo_export, tmp_path, capsys):
    _, path = zoo_export("tfc_2w2a")
    out = tmp_path / "o"
    rc = main(["compile", str(path), "-o", str(out), "--board", "orangecrab-25f", "--budget", "0.05"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err == ("gatesmith: error: layer 'mvu0' (MatMul_0,Quant_0) does not fit orangecrab-25f at --budget 0.05: "
                   "the most folded design needs 2825 LUT (2060 in this layer), 1214 allowed (over by 1611)\n")
    assert "Traceback" not in err and not out.exists() and list(tmp_path.iterdir()) == []
    rc = main(["compile", str(path), "-o", str(out), "--budget", "2", "--quiet"])
    assert rc == 2 and "--budget 2.0: expected a fraction of the board's resources in (0, 1]" in capsys.readouterr().err


def test_config_budget_key():
    cfg = parse_config({"budget": 0.5, "board": "zcu104"})
    opts = compile_options(cfg)
    assert opts.budget == 0.5 and opts.target_fps is None  # the budget alone chooses the folding
    assert compile_options(parse_config({})).target_fps == 100_000.0
    with pytest.raises(ConfigError) as e:
        parse_config({"budget": 1.5}, source="gatesmith.toml")
    assert str(e.value) == "gatesmith.toml: budget: expected a fraction of the board's resources in (0, 1], got 1.5"


def test_budget_design_simulates_bit_exact_at_the_estimated_rate(zoo_export, tmp_path, rtl_cache):
    """End to end: a zoo MLP on a small board at --budget; RTL = reference, cycles within 5 %."""
    m, path = zoo_export("tfc_2w2a")
    out = compile_model(path, tmp_path / "e", CompileOptions(board="arty-a7-100t", budget=0.1, backend="rtl"))
    est = json.loads((out / "reports" / "estimate.json").read_text())
    assert est["fits_budget"] and est["folding_efficiency"] >= 0.9
    x = m.sample_inputs(16, seed=5)
    y_ref, _ = simulate(out, x, engine="reference")
    y_rtl, rep = simulate(out, x, engine="rtl")
    assert np.array_equal(y_rtl, y_ref)
    assert abs(rep["cycles_per_inference"] - est["cycles_per_inference"]) <= 0.05 * est["cycles_per_inference"]


def _budget_flow_module():
    """benchmarks/budget_flow.py, loaded as a module (benchmarks/ is no package)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "gatesmith_bench_budget_flow", Path(__file__).resolve().parents[1] / "benchmarks" / "budget_flow.py")
    bf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bf)
    return bf


def test_budget_flow_results_keep_the_rows_not_run():
    """benchmarks/budget_flow.py --models X replaces X's rows only (CNV rows survive a TFC run)."""
    bf = _budget_flow_module()
    old = {"note": "kept", "extra": 1, "rows": [{"model": "cnv", "board": "b", "budget": 0.8, "v": 1},
                                                 {"model": "tfc", "board": "b", "budget": 0.8, "v": 1},
                                                 {"model": "tfc", "board": "b", "budget": 0.3, "v": 1}]}
    new = [{"model": "tfc", "board": "b", "budget": 0.8, "v": 2}, {"model": "sfc", "board": "b", "budget": 0.8, "v": 2}]
    m = bf.merge_results(old, new)
    assert (m["note"], m["extra"]) == ("kept", 1)
    assert [(r["model"], r["budget"], r["v"]) for r in m["rows"]] == [("cnv", 0.8, 1), ("tfc", 0.8, 2), ("tfc", 0.3, 1),
                                                                     ("sfc", 0.8, 2)]
    assert bf.merge_results({}, new)["rows"] == new and bf.merge_results({}, new)["note"] == bf.NOTE


@pytest.mark.brevitas
def test_bound_design_reaches_the_bound_and_is_costed(zoo_export, tmp_path):
    """budget_flow --efficiency's bound design: digits_mlp at 1e5 inferences/s is below its bound
    (the scheduler keeps fewer threshold lanes); the bound's folding reaches the bound at the same
    cycles, and both designs are costed (the bound's takes more LUTs: the trade was real)."""
    import shutil

    from gatesmith.flow import _build_graph

    bf = _budget_flow_module()
    _, path = zoo_export("digits_mlp")
    onnx = tmp_path / "digits_mlp.onnx"
    shutil.copy(path, onnx)
    board = load_board("pynq-z2")
    opts = CompileOptions(board="pynq-z2", target_fps=1e5)
    g = _build_graph(onnx, opts, 100.0)
    est = estimate(g, clock_mhz=100.0)
    assert est["folding_efficiency"] < est["folding_efficiency_bound"]
    bd = bf.bound_design(onnx, g, opts, board, est["cycles_per_inference"])
    assert bd["bound"]["cycles_per_inference"] == est["cycles_per_inference"]
    assert bd["bound"]["folding_efficiency"] == est["folding_efficiency_bound"]
    assert bd["bound"]["multipliers"] < est["multipliers"]
    assert bd["bound"]["estimate"]["lut"] > bd["chosen"]["lut"] > 0
