"""``gatesmith export vivado``: build.tcl run under tclsh with stub Vivado commands.

Every Vivado command the script calls is a stub (defined in ``_PRELUDE``)
that records its name and arguments; the test then checks what the script
asked Vivado to do: the part and board part, the files it adds (all exist),
the clock constraint, the AXI DMA <-> accelerator stream connections (and for
weights in URAM, ``-uram`` designs: the weight-load DMA and the weights_loaded GPIO).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gatesmith import flow
from gatesmith.boards import load_board
from gatesmith.cli import main
from gatesmith.export import ExportError, export_vivado

BOARDS = ("pynq-z2", "zcu104", "alveo-u250")
#: designs with every matrix-vector layer's weights in URAM (the boards with URAM)
URAM = ("zcu104-uram", "alveo-u250-uram")

TCLSH = shutil.which("tclsh")
needs_tclsh = pytest.mark.skipif(TCLSH is None, reason="tclsh not installed: cannot run build.tcl under stubs")

# Vivado commands build.tcl may call, and what the stub returns ("" if absent).
_STUBS = {
    "create_project": "", "close_project": "", "current_project": "project_1", "set_property": "",
    "add_files": "", "get_files": "@last", "get_filesets": "@last", "update_compile_order": "",
    "get_runs": "@last", "launch_runs": "", "wait_on_run": "", "get_property": "100%", "open_run": "",
    "report_utilization": "", "report_timing_summary": "", "update_ip_catalog": "",
    "create_bd_design": "", "create_bd_cell": "@last", "apply_bd_automation": "", "get_bd_cells": "@last",
    "get_bd_intf_pins": "@last", "get_bd_pins": "@last", "connect_bd_intf_net": "", "connect_bd_net": "", "assign_bd_address": "",
    "validate_bd_design": "", "save_bd_design": "", "generate_target": "", "make_wrapper": "",
    "write_bitstream": "",
    "ipx::package_project": "", "ipx::current_core": "core_1", "ipx::get_bus_interfaces": "@last",
    "ipx::infer_bus_interface": "", "ipx::associate_bus_interfaces": "", "ipx::get_bus_parameters": "@last",
    "ipx::create_xgui_files": "", "ipx::update_checksums": "", "ipx::check_integrity": "", "ipx::save_core": "",
}

_PRELUDE = r"""
namespace eval ipx {}
set ::gs_log [open [lindex $argv 0] w]
fconfigure $::gs_log -encoding utf-8
proc gs_record {name args} {
    set words [list [binary encode hex [encoding convertto utf-8 $name]]]
    foreach a $args { lappend words [binary encode hex [encoding convertto utf-8 $a]] }
    puts $::gs_log [join $words " "]
    flush $::gs_log
}
# commands that would do harm if injected text ever ran: recorded, never executed
rename exec _gs_real_exec
proc exec args { gs_record exec {*}$args }
rename exit _gs_real_exit
proc exit args { gs_record exit {*}$args }
proc unknown args { gs_record UNKNOWN {*}$args; error "stub: unknown command [lindex $args 0]" }
proc gs_stub {name ret} {
    proc $name args [format {
        gs_record %s {*}$args
        set ret %s
        if {$ret eq "@last"} { return [lindex $args end] }
        return $ret
    } [list $name] [list $ret]]
}
STUBS
# side effects Vivado has that the script relies on
rename create_project _gs_create_project
proc create_project args {
    _gs_create_project {*}$args
    set ::gs_project_dir [lindex [lsearch -inline -all -not -glob $args -*] 1]
}
rename add_files _gs_add_files
proc add_files args {
    _gs_add_files {*}$args
    set skip 0
    foreach a $args {
        if {$skip} { set skip 0; continue }
        if {$a eq "-fileset"} { set skip 1; continue }
        if {[string match -* $a]} continue
        foreach f $a { gs_record ADDFILE $f }
    }
}
rename generate_target _gs_generate_target
proc generate_target args {
    _gs_generate_target {*}$args
    set d [file join $::gs_project_dir gatesmith.gen/sources_1/bd/gatesmith_bd/hw_handoff]
    file mkdir $d
    close [open [file join $d gatesmith_bd.hwh] w]
}
rename make_wrapper _gs_make_wrapper
proc make_wrapper args {
    _gs_make_wrapper {*}$args
    set f [file join $::gs_project_dir gatesmith_bd_wrapper.v]
    close [open $f w]
    return $f
}
source [lindex $argv 1]
gs_record DONE
close $::gs_log
"""


def _prelude() -> str:
    stubs = "\n".join(f"gs_stub {name} {{{ret}}}" for name, ret in _STUBS.items())
    return _PRELUDE.replace("STUBS", stubs)


def run_stubbed(build_tcl: Path, work: Path) -> list[list[str]]:
    """Source ``build_tcl`` under stub Vivado commands; the recorded calls, in order."""
    prelude, log = work / "prelude.tcl", work / "calls.log"
    prelude.write_text(_prelude())
    proc = subprocess.run([TCLSH, str(prelude), str(log), str(build_tcl)], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    calls = [[bytes.fromhex(w).decode("utf-8") for w in line.split(" ")]
             for line in log.read_text().splitlines() if line]
    assert proc.returncode == 0, (proc.stdout, proc.stderr, calls[-5:])
    assert calls and calls[-1] == ["DONE"], calls[-5:]
    return calls[:-1]


def _named(calls, name):
    return [c[1:] for c in calls if c[0] == name]


def _opt(args, flag):
    return args[args.index(flag) + 1]


@pytest.fixture(scope="module")
def designs(tmp_path_factory) -> dict[str, Path]:
    from gatesmith.verify import zoo

    base = tmp_path_factory.mktemp("vivado")
    p = zoo.build("pot_mlp").export(base / "m.onnx")
    out = {b: flow.compile_model(p, base / b, flow.CompileOptions(board=b, target_fps=1e6)) for b in BOARDS}
    for d in URAM:
        b = d.removesuffix("-uram")
        out[d] = flow.compile_model(p, base / d, flow.CompileOptions(board=b, target_fps=1e6, mem_style="uram",
                                                                     backend="rtl"))
    return out


@pytest.fixture
def design(designs, tmp_path, request):
    """A private copy of the compiled design for the board ``request.param``."""
    dst = tmp_path / "d"
    shutil.copytree(designs[request.param], dst)
    return dst


@needs_tclsh
@pytest.mark.parametrize("design", BOARDS + URAM, indirect=True)
def test_build_tcl_under_stubs(design, tmp_path):
    m = json.loads((design / "manifest.json").read_text())
    board = load_board(m["board"])
    out = export_vivado(design)
    assert out == design / "vivado"
    calls = run_stubbed(out / "build.tcl", tmp_path)
    names = [c[0] for c in calls]
    assert "UNKNOWN" not in names and "exec" not in names and "exit" not in names

    projects = _named(calls, "create_project")
    assert projects and all(_opt(a, "-part") == board.part for a in projects)
    bp = [a for a in _named(calls, "set_property") if a[0] == "board_part"]
    assert len(bp) == len(projects) and all(a[1] == board.board_part for a in bp)

    added = [Path(a[0]) for a in _named(calls, "ADDFILE")]
    missing = [str(p) for p in added if not p.is_file()]
    assert not missing
    resolved = {p.resolve() for p in added}
    for f in m["files"]:  # every RTL and .mem file of the design
        assert (design / f).resolve() in resolved, f
    wrapper = out / "hdl" / f"{m['top']}_axis.v"
    assert wrapper.resolve() in resolved

    xdc = (out / "constraints" / "clock.xdc").read_text()
    period = float(re.search(r"create_clock -period ([0-9.]+) -name ap_clk \[get_ports ap_clk\]", xdc)[1])
    assert period == pytest.approx(1000.0 / m["clock_mhz"], abs=1e-3)

    assert "ipx::package_project" in names
    busifs = [a for a in _named(calls, "ipx::associate_bus_interfaces") if "-busif" in a]
    wl = m.get("weight_load")
    assert {(_opt(a, "-busif"), _opt(a, "-clock")) for a in busifs} == {
        ("s_axis", "ap_clk"), ("m_axis", "ap_clk"), *([("s_axis_wl", "ap_clk")] if wl else [])}
    _check_weight_load_export(design, out, m)

    nets = _named(calls, "connect_bd_intf_net")
    if board.ps == "none":
        assert not nets and "create_bd_design" not in names
        assert (out / "constraints" / "clock.xdc").resolve() in resolved  # used by the out-of-context run
        assert any("out_of_context" in " ".join(a) for a in _named(calls, "set_property"))
        assert "launch_runs" in names and "write_bitstream" not in names
        return
    cells = {a[-1]: _opt(a, "-vlnv") for a in _named(calls, "create_bd_cell")}
    ps_ip = {"zynq7": "xilinx.com:ip:processing_system7", "zynqmp": "xilinx.com:ip:zynq_ultra_ps_e"}[board.ps]
    assert cells["ps"] == ps_ip and cells["axi_dma_0"] == "xilinx.com:ip:axi_dma"
    assert cells["gatesmith_accel"] == f"gatesmith.org:user:{m['top']}_axis:1.0"
    assert ["axi_dma_0/M_AXIS_MM2S", "gatesmith_accel/s_axis"] in nets
    assert ["gatesmith_accel/m_axis", "axi_dma_0/S_AXIS_S2MM"] in nets
    auto = [a[-1] for a in _named(calls, "apply_bd_automation")]
    if wl:  # a second DMA, MM2S only, into s_axis_wl; weights_loaded on an AXI GPIO input
        assert cells["axi_dma_wl"] == "xilinx.com:ip:axi_dma" and cells["weights_loaded_gpio"] == "xilinx.com:ip:axi_gpio"
        assert ["axi_dma_wl/M_AXIS_MM2S", "gatesmith_accel/s_axis_wl"] in nets and len(nets) == 3
        assert _named(calls, "connect_bd_net") == [["gatesmith_accel/weights_loaded", "weights_loaded_gpio/gpio_io_i"]]
        wl_cfg = [a for a in _named(calls, "set_property") if a[-1] == "axi_dma_wl"]
        wcfg = dict(zip(*[iter(wl_cfg[0][1].split())] * 2))
        assert (wcfg["CONFIG.c_include_sg"], wcfg["CONFIG.c_include_s2mm"]) == ("0", "0")
        w = int(wcfg["CONFIG.c_m_axis_mm2s_tdata_width"])
        assert w >= max(8, wl["tdata_bits"]) and w & (w - 1) == 0
        assert int(wcfg["CONFIG.c_m_axi_mm2s_data_width"]) >= max(32, w)
        gpio = [a for a in _named(calls, "set_property") if a[-1] == "weights_loaded_gpio"]
        gcfg = dict(zip(*[iter(gpio[0][1].split())] * 2))
        assert (gcfg["CONFIG.C_GPIO_WIDTH"], gcfg["CONFIG.C_ALL_INPUTS"]) == ("1", "1")
        assert {"axi_dma_wl/S_AXI_LITE", "axi_dma_wl/M_AXI_MM2S", "weights_loaded_gpio/S_AXI"} <= set(auto)
    else:
        assert "axi_dma_wl" not in cells and not _named(calls, "connect_bd_net") and len(nets) == 2
    dma_cfg = [a for a in _named(calls, "set_property") if a[-1] == "axi_dma_0"]
    cfg = dict(zip(*[iter(dma_cfg[0][1].split())] * 2))
    assert cfg["CONFIG.c_include_sg"] == "0"  # simple mode
    in_w, out_w = (m[s]["stream"]["tdata_bits"] for s in ("input", "output"))
    assert int(cfg["CONFIG.c_m_axis_mm2s_tdata_width"]) >= max(8, in_w)
    assert int(cfg["CONFIG.c_s_axis_s2mm_tdata_width"]) >= max(8, out_w)
    order = [n for n in names if n in ("apply_bd_automation", "validate_bd_design", "make_wrapper",
                                       "launch_runs", "write_bitstream")]
    assert order.index("validate_bd_design") > max(i for i, n in enumerate(order) if n == "apply_bd_automation")
    assert order.index("make_wrapper") < order.index("launch_runs") < order.index("write_bitstream")
    assert (out / "overlay" / "gatesmith.hwh").is_file()  # copied next to the bitstream for PYNQ


@pytest.mark.parametrize("design", ["pynq-z2", "zcu104-uram"], indirect=True)
def test_export_is_deterministic_and_bannered(design):
    first = {p.relative_to(design): p.read_bytes() for p in sorted((export_vivado(design)).rglob("*")) if p.is_file()}
    second = {p.relative_to(design): p.read_bytes() for p in sorted((export_vivado(design)).rglob("*")) if p.is_file()}
    assert first == second
    assert not [p for p in design.iterdir() if p.name.startswith(".vivado")]  # no temp dirs left
    for rel, text in first.items():
        assert b"Generated by gatesmith" in text.splitlines()[0] + text.splitlines()[1], rel


@needs_tclsh
@pytest.mark.parametrize("design", ["pynq-z2"], indirect=True)
def test_hostile_manifest_strings_run_no_command(design, tmp_path):
    clean = run_stubbed(export_vivado(design) / "build.tcl", tmp_path)
    clean_names = [c[0] for c in clean]
    hostile = ['a"; exec touch pwned; ".v', "[exit 1].mem", "$env(HOME)}{.v", "x\\\n]set y [exit 7.mem"]
    m = json.loads((design / "manifest.json").read_text())
    for name in hostile:
        (design / "rtl" / name).write_text("// hostile\n")
    m["files"] = sorted(m["files"] + [f"rtl/{n}" for n in hostile])
    m["model"]["file"] = '"; exec rm -rf /; " [exit 1] $env(HOME) {'
    (design / "manifest.json").write_text(json.dumps(m))
    work = tmp_path / "hostile"
    work.mkdir()
    calls = run_stubbed(export_vivado(design) / "build.tcl", work)
    names = [c[0] for c in calls]
    assert names.count("ADDFILE") == clean_names.count("ADDFILE") + len(hostile)
    assert [n for n in names if n != "ADDFILE"] == [n for n in clean_names if n != "ADDFILE"]
    added = {Path(a[0]).name for a in _named(calls, "ADDFILE")}
    assert set(hostile) <= added  # passed through verbatim, as single words
    desc = [a for a in _named(calls, "set_property") if a[0] == "description"]
    assert desc and m["model"]["file"] in desc[0][1]
    assert not (design / "vivado" / "pwned").exists() and not Path("pwned").exists()


@pytest.mark.rtl
@pytest.mark.parametrize("design", BOARDS + URAM, indirect=True)
def test_wrapper_lints(design, tmp_path):
    from gatesmith.verify.rtl_sim import lint_design
    from gatesmith.verify.tools import ensure_verilator

    ensure_verilator()  # make test installs Verilator: missing is an error, not a skip
    out = export_vivado(design)
    m = json.loads((design / "manifest.json").read_text())
    lint_dir = tmp_path / "lint"
    shutil.copytree(design / "rtl", lint_dir)
    shutil.copy(out / "hdl" / f"{m['top']}_axis.v", lint_dir)
    lint_design(lint_dir, f"{m['top']}_axis")


def _check_weight_load_export(design, out, m):
    """Weights in URAM: the wrapper passes s_axis_wl (padded like s_axis) and weights_loaded
    through, and driver/weights.memh holds the words the simulation harness streams."""
    from gatesmith.hls_templates.memfile import read_memh
    from gatesmith.hls_templates.vivado import padded_tdata_bits
    from gatesmith.verify.rtl_sim import weight_load_words

    wrapper = (out / "hdl" / f"{m['top']}_axis.v").read_text()
    wl = m.get("weight_load")
    if not wl:
        assert "s_axis_wl" not in wrapper and "weights_loaded" not in wrapper
        assert not (out / "driver" / "weights.memh").exists()
        return
    dma = load_board(m["board"]).ps != "none"
    padded = padded_tdata_bits(wl["tdata_bits"], dma=dma)
    assert f"input  wire [{padded - 1}:0] s_axis_wl_tdata," in wrapper
    assert f".s_axis_wl_tdata  (s_axis_wl_tdata[{wl['tdata_bits'] - 1}:0])," in wrapper
    assert "output wire weights_loaded," in wrapper and ".weights_loaded   (weights_loaded)" in wrapper
    words = read_memh(out / "driver" / "weights.memh", wl["tdata_bits"])
    assert words == weight_load_words(design / "rtl", wl) and len(words) == wl["words"]


@pytest.mark.parametrize("design", ["zcu104-uram"], indirect=True)
def test_weight_load_manifest_errors_are_one_line(design, capsys):
    m = json.loads((design / "manifest.json").read_text())
    good = json.dumps(m)
    m["weight_load"]["layers"][0]["file"] = "rtl/nope.mem"
    m["weight_load"]["layers"][0]["node"] = 'x"; [exit 1]'
    (design / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ExportError) as e:
        export_vivado(design)
    assert str(e.value) == ("manifest weight_load layer 'x\"; [exit 1]': file 'rtl/nope.mem' is not one of the "
                            "manifest's files")
    m = json.loads(good)
    m["weight_load"]["words"] += 1
    (design / "manifest.json").write_text(json.dumps(m))
    rc, err = _cli(capsys, "export", "vivado", str(design))
    assert rc == 2 and err.count("\n") == 1 and "sum of the layers' depths" in err
    m = json.loads(good)
    m["weight_load"]["tdata_bits"] = 2000
    for x in m["weight_load"]["layers"]:
        x["width"] = 2000 if x is m["weight_load"]["layers"][1] else x["width"]
    (design / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ExportError, match=r"^weight load stream is 2000 bits wide \(layer 'mvu1'\); the AXI DMA takes "
                                          r"at most 1024 \(fold the layer more, or use mem_style bram\)$"):
        export_vivado(design)
    assert not (design / "vivado").exists()


# ---------------------------------------------------------------------------- errors and CLI


def _cli(capsys, *argv):
    rc = main(list(argv))
    err = capsys.readouterr().err
    return rc, err


def test_cli_export_writes_vivado(designs, tmp_path, capsys):
    d = tmp_path / "d"
    shutil.copytree(designs["zcu104"], d)
    rc = main(["export", "vivado", str(d)])
    assert rc == 0
    assert (d / "vivado" / "build.tcl").is_file() and (d / "vivado" / "driver" / "gatesmith_driver.py").is_file()
    assert "build with: vivado -mode batch -source" in capsys.readouterr().out


def test_cli_no_design_dir(tmp_path, capsys):
    rc, err = _cli(capsys, "export", "vivado", str(tmp_path / "nope"))
    assert rc == 2
    assert err == f"gatesmith: error: {str(tmp_path / 'nope')!r}: no such design directory\n"


def test_cli_dir_without_manifest(tmp_path, capsys):
    rc, err = _cli(capsys, "export", "vivado", str(tmp_path))
    assert rc == 2 and err.count("\n") == 1 and "no manifest.json" in err


def test_cli_unknown_board(designs, tmp_path, capsys):
    d = tmp_path / "d"
    shutil.copytree(designs["pynq-z2"], d)
    rc, err = _cli(capsys, "export", "vivado", str(d), "--board", "no-such-board")
    assert rc == 2 and err.startswith("gatesmith: error: ") and err.count("\n") == 1
    assert "no-such-board" in err
    assert not (d / "vivado").exists()


def test_cli_non_xilinx_board(designs, tmp_path, capsys):
    d = tmp_path / "d"
    shutil.copytree(designs["pynq-z2"], d)
    rc, err = _cli(capsys, "export", "vivado", str(d), "--board", "ulx3s-85f")
    assert rc == 2
    assert err == "gatesmith: error: vivado export needs an AMD/Xilinx board; 'ulx3s-85f' is ecp5\n"


def test_hostile_top_rejected(designs, tmp_path, capsys):
    d = tmp_path / "d"
    shutil.copytree(designs["pynq-z2"], d)
    m = json.loads((d / "manifest.json").read_text())
    m["top"] = "t [exit 1]"
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ExportError, match=r"manifest top 't \[exit 1\]': expected a Verilog identifier"):
        export_vivado(d)
    rc, err = _cli(capsys, "export", "vivado", str(d))
    assert rc == 2 and err.count("\n") == 1
    assert not (d / "vivado").exists()


def test_missing_manifest_file_rejected(designs, tmp_path):
    d = tmp_path / "d"
    shutil.copytree(designs["pynq-z2"], d)
    m = json.loads((d / "manifest.json").read_text())
    m["files"].append("../../etc/passwd")
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ExportError, match=r"manifest file '\.\./\.\./etc/passwd': expected rtl/<name>"):
        export_vivado(d)
