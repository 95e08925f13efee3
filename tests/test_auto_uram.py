"""``mem_style = auto`` picks URAM when block RAM would overflow (ir/schedule/impl.py
``ChooseImpl._weights_to_uram``): the largest matrix-vector weight ROMs first, only while the
board's URAM288s fit, before ROMs go back to LUTs; designs that fit render as before."""

from __future__ import annotations

import dataclasses
import json

import pytest


@pytest.fixture(scope="module")
def jet(tmp_path_factory, zoo_export):
    """jet_tagger folded for 50 k inferences/s at 100 MHz: mvu1's 1024 x 12 weights in block RAM."""
    from gatesmith.flow import CompileOptions, _build_graph

    model, path = zoo_export("jet_tagger")
    return model, path, _build_graph(path, CompileOptions(target_fps=50_000), 100.0)


def _mems(g):
    return {n.name: n.impl.mem for n in g.nodes if n.impl is not None and n.impl.mem is not None}


def test_auto_moves_the_largest_weights_to_uram_while_it_fits(jet):
    from gatesmith.ir.schedule import cost
    from gatesmith.ir.schedule.impl import ChooseImpl, node_memory

    g = jet[2]
    base = _mems(ChooseImpl().run(g))
    assert base["mvu1"] == "bram" and "uram" not in base.values()
    # no block RAM at all: mvu1's one RAMB18 goes to URAM on a board with URAM, to LUTs elsewhere
    assert _mems(ChooseImpl(bram18=0, uram=96, board="zcu104").run(g)) == {**base, "mvu1": "uram"}
    assert _mems(ChooseImpl(bram18=0, uram=0).run(g)) == {**base, "mvu1": "lutram"}
    assert _mems(ChooseImpl(bram18=0).run(g)) == {**base, "mvu1": "lutram"}  # uram unknown: never
    assert _mems(ChooseImpl(bram18=0, uram=96, auto_uram=False).run(g)) == {**base, "mvu1": "lutram"}
    # at 50 LUTs per RAMB18 the three 1024-word weight ROMs go to block RAM; one RAMB18 on the board
    cheap = _mems(ChooseImpl(lut=50, bram18=3).run(g))
    assert [n for n, m in cheap.items() if m == "bram"] == ["mvu0", "mvu1", "mvu2"]
    assert all(cost.rom_bram18_blocks(*node_memory(g, g.node(n))) == 1 for n in ("mvu0", "mvu1", "mvu2"))
    tight = _mems(ChooseImpl(lut=50, bram18=1, uram=96, board="zcu104").run(g))
    assert (tight["mvu0"], tight["mvu1"], tight["mvu2"]) == ("uram", "uram", "bram")  # equal sizes: graph order
    # one URAM288: one layer there, the other overflow back to LUTs (the least-used first)
    one = _mems(ChooseImpl(lut=50, bram18=1, uram=1, board="zcu104").run(g))
    assert sorted(one[n] for n in ("mvu0", "mvu1", "mvu2")) == ["bram", "lutram", "uram"] and one["mvu0"] == "uram"
    # a user's bram stays, and a user's uram counts against the board's URAM
    kept = _mems(ChooseImpl(layers=(("mvu0", "bram", "auto"), ("mvu2", "uram", "auto")), lut=50, bram18=1, uram=2,
                            board="zcu104").run(g))
    assert (kept["mvu0"], kept["mvu1"], kept["mvu2"]) == ("bram", "uram", "uram")
    # thresholds never go to URAM (their ROMs have initial contents)
    assert {n for n, m in _mems(ChooseImpl(bram18=0, lut=10, uram=96).run(g)).items() if m == "uram"} <= {
        n.name for n in g.nodes if n.kind == "matvec"}


def test_designs_that_fit_render_as_before(jet):
    """On the real zcu104 nothing overflows: the choice, and so the RTL, equal auto_uram off."""
    from gatesmith.boards import load_board
    from gatesmith.flow import CompileOptions, _build_graph
    from gatesmith.hls_templates.rtl import render_rtl
    from gatesmith.ir import print_graph
    from gatesmith.ir.schedule.impl import ChooseImpl

    b = load_board("zcu104")
    kw = dict(lut=b.lut, dsp=b.dsp, bram18=b.bram18, uram=b.uram, board=b.name)
    for fps in (50_000, 2_000_000):
        g = _build_graph(jet[1], CompileOptions(target_fps=fps), 100.0)
        on, off = ChooseImpl(**kw).run(g), ChooseImpl(**kw, auto_uram=False).run(g)
        assert print_graph(on) == print_graph(off) and "uram" not in _mems(on).values()
        assert render_rtl(on, top="t").files == render_rtl(off, top="t").files


@pytest.mark.rtl
def test_e2e_zcu104_without_block_ram_auto_uram_bit_exact(jet, tmp_path, monkeypatch):
    """zcu104 with its block RAM taken away (``load_board`` patched: bram18 = 0): ``auto`` puts
    mvu1's weights in URAM, the top gets the weight load, the Verilator run (weights streamed
    first, backpressure) equals ONNX; the export ships the load; ``--backend hls`` keeps URAM out."""
    from gatesmith import boards, flow
    from gatesmith.export import export_vivado
    from gatesmith.verify import zoo

    model, path, _ = jet
    real = boards.load_board

    def no_bram(name):
        b = real(name)
        return dataclasses.replace(b, bram18=0) if name == "zcu104" else b

    monkeypatch.setattr(boards, "load_board", no_bram)
    opts = dict(board="zcu104", clock_mhz=100, target_fps=50_000)
    out = flow.compile_model(path, tmp_path / "a", flow.CompileOptions(**opts, backend="rtl"))
    ir = (out / "ir.txt").read_text()
    assert "mem=uram" in ir
    m = json.loads((out / "manifest.json").read_text())
    assert [x["node"] for x in m["weight_load"]["layers"]] == ["mvu1"]
    top = (out / "rtl" / "gatesmith_top.v").read_text()
    assert top.count('.MEM_STYLE   ("ultra")') == 1 and "gs_wload #(" in top
    est = json.loads((out / "reports" / "estimate.json").read_text())
    assert (est["resources"]["uram"], est["resources"]["bram18"]) == (1, 0)
    x = model.sample_with_extremes(24, seed=7)
    expect = zoo.onnx_forward(path, x)
    y, rep = flow.simulate(out, x, engine="rtl", backpressure=True, seed=5, expect=expect)
    assert rep["mismatches"] == 0 and y.shape == expect.shape
    assert (export_vivado(out) / "driver" / "weights.memh").is_file()
    # the HLS backend cannot hold weights in URAM: auto does not pick it there
    hls = flow.compile_model(path, tmp_path / "h", flow.CompileOptions(**opts, backend="hls"))
    assert "mem=uram" not in (hls / "ir.txt").read_text()
