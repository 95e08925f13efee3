"""Ragged PEs: a matrix-vector PE that does not divide MH (the last of NF = ceil(MH/PE) folds
partly idle), the threshold/requant layers after it on the padded beats, and the width
converter in front of the next core that drops the padding. The scheduler's rules and
error messages, the generated RTL and HLS, and bit-exact simulation against ONNX and Brevitas
(the RTL core bench of the dropping converter is ``test_rtl_cores.py::test_dwc_ragged``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gatesmith.hls_templates.hls import render_hls
from gatesmith.hls_templates.rtl import CodegenError, render_rtl
from gatesmith.ir import Fold
from gatesmith.ir.passes import SelectRequant, run_passes
from gatesmith.ir.schedule import ChooseFolding, FoldingError
from gatesmith.ir.schedule.estimate import estimate
from gatesmith.ir.schedule.folding import (_best_matvec_fold, _output_lanes, divisors, elementwise_lanes, fold_count,
                                           layer_cycles, pe_options, ragged_ok)


def test_pe_options_are_the_fewest_lanes_for_each_fold_count():
    opts = pe_options(64)
    assert opts == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 16, 22, 32, 64]
    assert set(divisors(64)) <= set(opts)
    assert [fold_count(64, pe) for pe in (13, 16, 22)] == [5, 4, 3]
    # a PE left out is dominated: 9 lanes take as many folds (8) as 8 lanes
    assert fold_count(64, 9) == fold_count(64, 8)


@pytest.mark.brevitas
def test_threshold_lanes_count_against_a_ragged_pe(zoo_export):
    """jet_tagger's first layer (64 x 16) feeds 63-level thresholds: at 1 M inferences/s (100
    cycles) a ragged PE of 11 x SIMD 1 has the fewest multipliers (11 against 16), but each of
    its output lanes brings 63 comparators. Counted in multiplier lanes with the thresholds at
    the unit's PE, PE 1 x SIMD 16 is cheaper; the thresholds can instead run on one lane (64
    cycles) behind a width converter, and then PE 3 x SIMD 4 is: 12 multipliers, one comparator
    bank and a 3 -> 1 converter (11 x 1 would need an 11 -> 1 one)."""
    from gatesmith.flow import CompileOptions, _build_graph

    _, path = zoo_export("jet_tagger")
    g = _build_graph(path, CompileOptions(target_fps=1e6), 100.0)
    mvu0 = g.node("mvu0")
    assert (mvu0.op.mh, mvu0.op.mw) == (64, 16)
    w, mult, acc = _output_lanes(g, mvu0)
    assert 5 < w < 15  # 63 thresholds of the accumulator's width, against a 6 x 6-bit product
    assert _best_matvec_fold(mvu0.op, 100, 1, None, False, True, 0.0) == Fold(pe=11, simd=1)
    # thresholds at the unit's PE (no LUTs a multiplier lane: no width converter is costed)
    assert _best_matvec_fold(mvu0.op, 100, 1, None, False, True, w) == Fold(pe=1, simd=16)
    assert elementwise_lanes(64, 11, 1, 100, w * mult, acc) == 1
    assert elementwise_lanes(64, 11, 1, None, w * mult, acc) == 11  # no budget: the unit's PE
    assert elementwise_lanes(64, 2, 1, 100, w * mult, acc) == 1
    assert elementwise_lanes(64, 2, 1, 100, 20.0, acc) == 2  # one cheap lane saved: not worth a converter
    assert elementwise_lanes(64, 3, 1, 50, w * mult, acc) == 2  # 64 cycles > 50: two lanes
    assert _best_matvec_fold(mvu0.op, 100, 1, None, False, True, w, mult, acc) == Fold(pe=3, simd=4)
    assert mvu0.fold == Fold(pe=3, simd=4) and g.node("rq0").fold.pe == 1
    est = estimate(g, clock_mhz=100.0)
    assert est["folding_efficiency"] == est["folding_efficiency_bound"] > 0.96
    assert est["cycles_per_inference"] == 88


@pytest.mark.rtl
@pytest.mark.brevitas
def test_thresholds_behind_a_converter_are_exact_in_rtl_and_csim(zoo_export, tmp_path):
    """jet_tagger at 1 M inferences/s: three ragged units (PE 3 of 64 and 32 rows), each followed
    by a width converter that drops the padding in front of one-lane thresholds. Bit-exact
    against ONNX and Brevitas under random stalls, in RTL and C-sim; cycles as estimated."""
    from gatesmith.flow import CompileOptions, compare_outputs, compile_model, load_design, simulate
    from gatesmith.verify import zoo

    model, path = zoo_export("jet_tagger")
    out = compile_model(path, tmp_path / "d", CompileOptions(board="pynq-z2", clock_mhz=100, target_fps=1e6))
    graph = load_design(out).graph
    behind = [n.name for n in graph.nodes if n.kind in ("threshold", "requant")
              and n.fold.pe < graph.node(n.name.replace("rq", "mvu")).fold.pe]
    assert behind == ["rq0", "rq1"]
    x = model.sample_with_extremes(24, seed=4)
    expect = zoo.onnx_forward(path, x)
    y, rep = simulate(out, x, engine="rtl", backpressure=True, seed=9, expect=expect)
    assert rep["mismatches"] == 0
    assert compare_outputs(graph, y, model.torch_forward(x))[0] == 0
    est = json.loads((out / "reports" / "estimate.json").read_text())
    _, rep2 = simulate(out, x[:8], engine="rtl", backpressure=False)
    assert rep2["cycles_per_inference"] == est["cycles_per_inference"] == 88
    _, rep3 = simulate(out, x, engine="csim", expect=expect)
    assert rep3["mismatches"] == 0


def _lowered(tiny_graph):
    return run_passes(tiny_graph, [SelectRequant(style="threshold")])


def test_ragged_pe_rules(tiny_graph):
    g = _lowered(tiny_graph)  # x[6] -> mvu0 (4 x 6) -> rq0 -> mvu1 (3 x 4) -> output
    assert ragged_ok(g, g.node("mvu0")) and not ragged_ok(g, g.node("mvu1"))
    f = ChooseFolding(folding={"mvu0": {"pe": 3, "simd": 2}}).run(g)
    # the threshold layer takes the ragged stream at the producer's PE
    assert f.node("rq0").fold.pe == 3
    assert layer_cycles(f.node("mvu0"), f) == 2 * 3  # NF = ceil(4/3) = 2 folds x SF = 3
    assert layer_cycles(f.node("rq0"), f) == 2
    with pytest.raises(FoldingError) as e:
        ChooseFolding(folding={"mvu1": {"pe": 2, "simd": 1}}).run(g)
    assert str(e.value) == ("layer 'mvu1': PE=2 does not divide MH=3; a PE not dividing MH is allowed only "
                            "where the layer's output does not reach the graph output (valid here: [1, 3])")
    with pytest.raises(FoldingError) as e:
        ChooseFolding(folding={"mvu0": {"pe": 2, "simd": 1}, "rq0": {"pe": 3}}).run(g)
    assert str(e.value) == ("layer 'rq0': PE=3 must be a positive divisor of 4 (valid: [1, 2, 4]), or, for a "
                            "threshold or requant layer, the PE of the ragged matvec stream it reads")


def test_codegen_pads_the_unit_and_drops_the_padding(tiny_graph):
    g = ChooseFolding(folding={"mvu0": {"pe": 3, "simd": 2}, "mvu1": {"pe": 1, "simd": 2}}).run(_lowered(tiny_graph))
    d = render_rtl(g)
    top = d.files["gatesmith_top.v"]
    mvu0 = next(s for s in d.stages if s.node == "mvu0")
    rq0 = next(s for s in d.stages if s.node == "rq0")
    assert (mvu0.parameters["MH"], mvu0.parameters["PE"]) == (6, 3)  # 4 rows + 2 of padding
    assert (rq0.parameters["C"], rq0.parameters["PE"]) == (6, 3)
    words = [w for w in d.files[mvu0.memory].splitlines() if not w.startswith("//")]
    assert len(words) == 2 * 3  # NF x SF
    # fold 1 holds row 3 and two padding rows of zero weights (3 bits a weight, SIMD 2 a row)
    assert all(int(w, 16) >> 6 == 0 for w in words[3:])
    assert "u_mvu1_dwc" in top
    block = top[top.index("gs_dwc #("):top.index("u_mvu1_dwc")]
    assert ".IN_ELEMS  (3)" in block and ".OUT_ELEMS (2)" in block
    assert ".GROUP_BEATS (2)" in block and ".LAST_ELEMS  (1)" in block
    assert render_rtl(g).files == d.files  # deterministic
    hls = render_hls(g)
    assert "gs_dwc<4, 3, 2, 2, 2, 1>(" in hls.files["gatesmith_top.cpp"]


def test_a_ragged_graph_output_is_refused_by_name(tiny_graph):
    g = _lowered(tiny_graph)
    g = g.replace_nodes(tuple(n.with_(fold=Fold(pe=2, simd=1)) if n.name == "mvu1" else n.with_(fold=Fold())
                              for n in g.nodes))
    message = ("node 'mvu1' (matvec, from MatMul_1): PE=2 does not divide the 3 channels of the graph output; "
               "the output stream must be dense (expected a PE dividing 3)")
    with pytest.raises(CodegenError) as e:
        render_rtl(g)
    assert str(e.value) == message
    with pytest.raises(CodegenError) as e:
        render_hls(g)
    assert str(e.value) == message


# TFC 2w2a with three ragged layers (64 rows at PE 13, 6 and 5); conv_small with a ragged unit
# in front of a window or pool
RAGGED = {
    "tfc_2w2a": {"mvu0": {"pe": 13, "simd": 16}, "mvu1": {"pe": 6, "simd": 8}, "mvu2": {"pe": 5, "simd": 4},
                 "mvu3": {"pe": 2, "simd": 16}},
}


@pytest.mark.rtl
@pytest.mark.brevitas
def test_tfc_with_ragged_pes_is_exact_in_rtl_and_csim(zoo_export, tmp_path):
    from gatesmith.flow import CompileOptions, compare_outputs, compile_model, load_design, simulate
    from gatesmith.verify import zoo
    from gatesmith.verify.rtl_sim import lint_design

    model, path = zoo_export("tfc_2w2a")
    ff = tmp_path / "folding.json"
    ff.write_text(json.dumps({"version": 1, "layers": RAGGED["tfc_2w2a"]}))
    out = compile_model(path, tmp_path / "d", CompileOptions(board="pynq-z2", clock_mhz=100, folding_file=ff))
    lint_design(out / "rtl", "gatesmith_top")
    top = (out / "rtl" / "gatesmith_top.v").read_text()
    assert top.count(".GROUP_BEATS") == 3
    x = model.sample_with_extremes(24, seed=8)
    expect = zoo.onnx_forward(path, x)
    y, rep = simulate(out, x, engine="rtl", backpressure=True, seed=5, expect=expect)
    assert rep["mismatches"] == 0
    graph = load_design(out).graph
    assert compare_outputs(graph, y, model.torch_forward(x))[0] == 0  # and Brevitas itself
    est = json.loads((out / "reports" / "estimate.json").read_text())
    assert est["cycles_per_inference"] == 5 * 49 == layer_cycles(graph.node("mvu0"), graph)
    _, rep2 = simulate(out, x[:8], engine="rtl", backpressure=False)
    assert rep2["cycles_per_inference"] == est["cycles_per_inference"]
    assert rep2["latency_cycles"] == est["latency_cycles"]
    _, rep3 = simulate(out, x, engine="csim", expect=expect)
    assert rep3["mismatches"] == 0


@pytest.mark.rtl
@pytest.mark.brevitas
def test_scheduler_takes_ragged_pes_on_cnv_and_the_rtl_is_exact(zoo_export, tmp_path):
    """CNV 2w2a at 3000 inferences/s: the scheduler's folding has ragged units in front of windows,
    pools and dense layers (efficiency 0.949; 0.866 with divisor PEs only)."""
    from gatesmith.flow import CompileOptions, compile_model, load_design, simulate
    from gatesmith.verify import zoo

    model, path = zoo_export("cnv_2w2a")
    out = compile_model(path, tmp_path / "d", CompileOptions(board="pynq-z2", clock_mhz=100, target_fps=3000,
                                                             backend="rtl"))
    graph = load_design(out).graph
    ragged = [n.name for n in graph.nodes if n.kind == "matvec" and n.op.mh % n.fold.pe]
    assert len(ragged) >= 3
    est = estimate(graph, clock_mhz=100.0)
    assert est["folding_efficiency"] >= 0.94
    x = model.sample_inputs(2, seed=3)
    expect = zoo.onnx_forward(path, x)
    _, rep = simulate(out, x, engine="rtl", backpressure=True, seed=2, expect=expect)
    assert rep["mismatches"] == 0
