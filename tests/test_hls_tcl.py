"""``hls/run_hls.tcl`` run under tclsh with stub Vitis HLS commands that record each call.

Checks the project, the top, the part (from the board), the clock period (from
the manifest's clock), that every file it adds exists, the order of the flow
(C-sim, synthesis, optional co-simulation, IP export), and that hostile strings
(a part name full of TCL metacharacters, hostile node names) add no command.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gatesmith.hls_templates.hls import render_hls

TCLSH = shutil.which("tclsh")
needs_tclsh = pytest.mark.skipif(TCLSH is None, reason="tclsh not installed: cannot run run_hls.tcl under stubs")

_VITIS = ("open_project", "set_top", "add_files", "open_solution", "set_part", "create_clock",
          "csim_design", "csynth_design", "cosim_design", "export_design")


def _test_module(name: str):
    """A sibling test module (tests are not a package under --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location(f"gs_{name}", Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# the recording machinery of tests/test_vivado_export.py (gs_record, exec/exit/unknown traps, gs_stub),
# with stubs for the Vitis HLS commands instead of Vivado's
_PRELUDE = _test_module("test_vivado_export")._PRELUDE.split("STUBS")[0] + r"""
foreach name {VITIS} { gs_stub $name {} }
if {[lindex $argv 2] ne ""} { set gs_cosim [lindex $argv 2] }
source [lindex $argv 1]
gs_record DONE
close $::gs_log
"""


def run_stubbed(script: Path, work: Path, cosim: str = "") -> list[list[str]]:
    """Source ``script`` under the stubs; the recorded calls, in order (``cosim``: gs_cosim, if set)."""
    prelude, log = work / "prelude.tcl", work / "calls.log"
    prelude.write_text(_PRELUDE.replace("VITIS", " ".join(_VITIS)))
    proc = subprocess.run([TCLSH, str(prelude), str(log), str(script), cosim], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, cwd=work)
    calls = [[bytes.fromhex(w).decode("utf-8") for w in line.split(" ")]
             for line in log.read_text().splitlines() if line]
    assert proc.returncode == 0, (proc.stdout, proc.stderr, calls[-5:])
    assert calls and calls[-1] == ["DONE"], calls[-5:]
    return calls[:-1]


def _named(calls, name):
    return [c[1:] for c in calls if c[0] == name]


def _positional(args):
    return [a for a in args if not a.startswith("-") and a != "-std=c++14"]


def _check(calls, hls_dir: Path, *, top: str, part: str, clock_mhz: float, cosim: bool) -> None:
    names = [c[0] for c in calls]
    assert "UNKNOWN" not in names and "exec" not in names
    assert names[-1] == "exit" and names.count("exit") == 1
    order = [n for n in names if n in ("open_project", "set_top", "open_solution", "set_part", "create_clock",
                                       "csim_design", "csynth_design", "cosim_design", "export_design")]
    expect = ["open_project", "set_top", "open_solution", "set_part", "create_clock", "csim_design",
              "csynth_design"] + (["cosim_design"] if cosim else []) + ["export_design"]
    assert order == expect
    assert _named(calls, "set_top") == [[top]]
    assert _named(calls, "set_part") == [[part]]
    (clk,) = _named(calls, "create_clock")
    assert float(clk[clk.index("-period") + 1]) == pytest.approx(1000.0 / clock_mhz, rel=1e-6)
    assert _named(calls, "export_design") == [["-format", "ip_catalog"]]
    added = []
    for args in _named(calls, "add_files"):
        files = [a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] != "-cflags")]
        assert len(files) == 1, args
        added.append(Path(files[0]))
    assert all(p.is_file() for p in added), [str(p) for p in added if not p.is_file()]
    on_disk = {p.resolve() for p in hls_dir.iterdir() if p.name != "run_hls.tcl"}
    assert {p.resolve() for p in added} == on_disk  # every source, header and testbench file, once
    assert len(added) == len(on_disk)
    tb = [a for a in _named(calls, "add_files") if "-tb" in a]
    assert {Path(_positional(a)[0]).name for a in tb} == {f"{top}_tb.cpp", "tb_input.txt", "tb_expected.txt"}


@pytest.fixture(scope="module")
def designs(tmp_path_factory) -> dict[str, Path]:
    """pot_mlp compiled for two boards and clocks (HLS only)."""
    from gatesmith.flow import CompileOptions, compile_model
    from gatesmith.verify import zoo

    base = tmp_path_factory.mktemp("hls_tcl")
    p = zoo.build("pot_mlp").export(base / "m.onnx")
    return {
        "pynq-z2": compile_model(p, base / "pynq", CompileOptions(board="pynq-z2", target_fps=1e6, backend="hls")),
        "zcu104": compile_model(p, base / "zcu", CompileOptions(board="zcu104", clock_mhz=150, target_fps=1e6,
                                                               backend="hls")),
    }


@needs_tclsh
@pytest.mark.brevitas
@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
@pytest.mark.parametrize("cosim", ["", "1"])
def test_run_hls_tcl_under_stubs(designs, tmp_path, board, cosim):
    from gatesmith.boards import load_board

    out = designs[board]
    m = json.loads((out / "manifest.json").read_text())
    calls = run_stubbed(out / "hls" / "run_hls.tcl", tmp_path, cosim)
    _check(calls, out / "hls", top=m["top"], part=load_board(board).part, clock_mhz=m["clock_mhz"],
           cosim=cosim == "1")
    assert m["part"] == load_board(board).part


def _tiny(tiny_graph):
    from gatesmith.ir.passes import SelectRequant, run_passes
    from gatesmith.ir.schedule import ChooseFolding

    return run_passes(tiny_graph, [SelectRequant(style="dyadic"), ChooseFolding(clock_mhz=100, target_fps=1e7)])


@needs_tclsh
def test_hostile_strings_add_no_command(tiny_graph, tmp_path):
    from gatesmith.verify.csim import reference_vectors

    g = _tiny(tiny_graph)
    evil = ['n"]; exec rm -rf / ;#', "a$b[exit]{x}\\", "line\nexit 3", "ünï 名 🙂", "class"]
    g = g.replace_nodes([n.with_(name=evil[i % len(evil)]) for i, n in enumerate(g.nodes)])
    part = 'xc7z020clg400-1"; exec touch pwned; set x "[exit 4]${y}\\{'
    d = render_hls(g, top="evil_top", part=part, clock_mhz=123.0, vectors=reference_vectors(g))
    hls = tmp_path / "hls"
    hls.mkdir()
    for rel, text in d.files.items():
        (hls / rel).write_text(text)
    work = tmp_path / "w"
    work.mkdir()
    calls = run_stubbed(hls / "run_hls.tcl", work)
    _check(calls, hls, top="evil_top", part=part, clock_mhz=123.0, cosim=False)
    assert not (work / "pwned").exists()
    baseline = render_hls(_tiny(tiny_graph), top="evil_top", part="p", clock_mhz=123.0,
                          vectors=reference_vectors(g))
    (tmp_path / "b").mkdir()
    for rel, text in baseline.files.items():
        (tmp_path / "b" / rel).write_text(text)
    base_calls = run_stubbed(tmp_path / "b" / "run_hls.tcl", work)
    assert [c[0] for c in calls] == [c[0] for c in base_calls]  # the same commands, nothing added


def test_period_and_determinism(tiny_graph):
    g = _tiny(tiny_graph)
    for mhz, text in ((100.0, "10"), (125.0, "8"), (150.0, "6.666667"), (333.0, "3.003003")):
        tcl = render_hls(g, clock_mhz=mhz).files["run_hls.tcl"]
        assert f"create_clock -period {text} -name default" in tcl
    a = render_hls(g, part="xcu250-figd2104-2L-e").files
    assert a == render_hls(g, part="xcu250-figd2104-2L-e").files
    assert np.all([t.startswith("# Generated by gatesmith") for n, t in a.items() if n.endswith(".tcl")])
