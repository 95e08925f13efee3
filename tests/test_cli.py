"""The command line: outputs, folding round trip, and one-line errors (exit 2, nothing left behind)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from gatesmith.cli import main
from gatesmith.verify import zoo

pytestmark = pytest.mark.brevitas


@pytest.fixture(scope="module")
def jet(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    m = zoo.build("jet_tagger")
    p = m.export(d / "jet.onnx")
    return m, p, d


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_compile_writes_output_tree(jet, tmp_path, capsys):
    m, p, _ = jet
    out = tmp_path / "o"
    code, stdout, err = _run(["compile", p, "-o", out, "--board", "zcu104", "--target-fps", 1e6], capsys)
    assert code == 0, err
    for rel in ("manifest.json", "ir.txt", "graph.json", "folding.json", "reports/estimate.json"):
        assert (out / rel).is_file(), rel
    assert any(out.glob("rtl/*.v")) and any(out.glob("rtl/*.mem"))
    man = json.loads((out / "manifest.json").read_text())
    assert man["board"] == "zcu104" and man["part"].startswith("xczu7ev")
    assert man["clock_mhz"] == 200
    assert man["input"]["stream"]["elem_bits"] == 8
    assert "layers" in json.loads((out / "reports" / "estimate.json").read_text())
    assert "cycles/inference" in stdout


def test_compile_is_deterministic(jet, tmp_path, capsys):
    _, p, _ = jet
    a, b = tmp_path / "a", tmp_path / "b"
    assert _run(["compile", p, "-o", a], capsys)[0] == 0
    assert _run(["compile", p, "-o", b], capsys)[0] == 0
    fa = sorted(x.relative_to(a) for x in a.rglob("*") if x.is_file())
    fb = sorted(x.relative_to(b) for x in b.rglob("*") if x.is_file())
    assert fa == fb
    for rel in fa:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_folding_round_trip(jet, tmp_path, capsys):
    _, p, _ = jet
    a = tmp_path / "a"
    assert _run(["compile", p, "-o", a, "--target-fps", 3e6], capsys)[0] == 0
    fold = json.loads((a / "folding.json").read_text())
    fold["layers"]["mvu0"]["pe"] = 1
    fold["layers"]["mvu0"]["simd"] = 1
    ff = tmp_path / "f.json"
    ff.write_text(json.dumps(fold))
    b = tmp_path / "b"
    assert _run(["compile", p, "-o", b, "--folding", ff], capsys)[0] == 0
    back = json.loads((b / "folding.json").read_text())
    assert back["layers"]["mvu0"]["pe"] == 1 and back["layers"]["mvu0"]["simd"] == 1
    est = json.loads((b / "reports" / "estimate.json").read_text())
    assert est["bottleneck"] == "mvu0" and est["cycles_per_inference"] == 16 * 64


def test_sim_reference_matches_onnx(jet, tmp_path, capsys):
    m, p, _ = jet
    out = tmp_path / "o"
    assert _run(["compile", p, "-o", out], capsys)[0] == 0
    x = m.sample_inputs(40, seed=2)
    xp, yp, ep = tmp_path / "x.npy", tmp_path / "y.npy", tmp_path / "e.npy"
    np.save(xp, x)
    np.save(ep, zoo.onnx_forward(p, x))
    code, stdout, err = _run(["sim", out, "--input", xp, "--output", yp, "--engine", "reference", "--expect", ep], capsys)
    assert code == 0, err
    assert "0 mismatching elements" in stdout
    y = np.load(yp)
    assert y.shape == (40, 5) and y.dtype == np.float32
    rep = json.loads((out / "reports" / "sim.json").read_text())
    assert rep["mismatches"] == 0 and rep["inferences"] == 40
    # a wrong expectation is a mismatch: exit 1
    np.save(ep, zoo.onnx_forward(p, x) + 1.0)
    code, stdout, _ = _run(["sim", out, "--input", xp, "--output", yp, "--engine", "reference", "--expect", ep], capsys)
    assert code == 1 and "200 mismatching elements" in stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compile", "{d}/missing.onnx", "-o", "{t}/o"], r"'.*missing.onnx': no such model file"),
        (["compile", "{p}", "-o", "{t}/o", "--board", "pynq-z9"], r"unknown board 'pynq-z9'; expected one of alveo-u250, "),
        (["compile", "{p}", "-o", "{t}/o", "--requant", "magic"], r"--requant 'magic': expected one of auto, threshold, shift, dyadic"),
        (["compile", "{p}", "-o", "{t}/o", "--requant", "shift"], r"node 'rq0' .*shift requantization needs power-of-two scales"),
        (["compile", "{p}", "-o", "{t}/o", "--clock-mhz", "-5"], r"--clock-mhz -5.0: expected a frequency in \(0, 1000\] MHz"),
        (["compile", "{p}", "-o", "{t}/o", "--target-fps", "0"], r"--target-fps 0.0: expected a positive number"),
        (["compile", "{p}", "-o", "{t}/o", "--folding", "{t}/nofile.json"], r"--folding '.*nofile.json': no such file"),
        (["compile", "{p}", "-o", "{t}/o", "--folding", "{t}/badfold.json"], r"layer 'mvu0': PE=100 must be a positive divisor of 64"),
        (["compile", "{p}", "-o", "{t}/nodir/o"], r"parent directory '.*nodir' does not exist"),
        (["compile", "{t}/junk.onnx", "-o", "{t}/o"], r"junk.onnx': not a readable ONNX model"),
    ],
)
def test_compile_errors(jet, tmp_path, capsys, argv, message):
    _, p, d = jet
    (tmp_path / "badfold.json").write_text(json.dumps({"layers": {"mvu0": {"pe": 100, "simd": 1}}}))
    (tmp_path / "junk.onnx").write_bytes(b"not an onnx file at all")
    args = [a.format(p=p, d=d, t=tmp_path) for a in argv]
    code, _, err = _run(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gatesmith: error: "), err
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()
    assert not [x for x in tmp_path.iterdir() if x.name.startswith(".o.tmp")]


def test_existing_output_untouched_without_force(jet, tmp_path, capsys):
    _, p, _ = jet
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = _run(["compile", p, "-o", out], capsys)
    assert code == 2 and "exists; use --force to replace it" in err
    assert (out / "keep.txt").read_text() == "mine"
    assert _run(["compile", p, "-o", out, "--force"], capsys)[0] == 0
    assert not (out / "keep.txt").exists() and (out / "manifest.json").exists()


@pytest.mark.parametrize(
    "make_x, message",
    [
        (lambda: np.zeros((4, 15), np.float32), r"expected shape \(N, 16\) with N >= 1, got \(4, 15\)"),
        (lambda: np.full((2, 16), np.nan, np.float32), r"contains NaN or infinite values"),
        (lambda: np.array([["a"] * 16]), r"expected a numeric array, got dtype <U1"),
    ],
)
def test_sim_input_errors(jet, tmp_path, capsys, make_x, message):
    _, p, _ = jet
    out = tmp_path / "o"
    assert _run(["compile", p, "-o", out], capsys)[0] == 0
    xp = tmp_path / "x.npy"
    np.save(xp, make_x())
    code, _, err = _run(["sim", out, "--input", xp, "--output", tmp_path / "y.npy", "--engine", "reference"], capsys)
    assert code == 2, err
    assert re.search(message, err), err
    assert not (tmp_path / "y.npy").exists()


def test_sim_bad_engine_and_dir(jet, tmp_path, capsys):
    _, p, _ = jet
    xp = tmp_path / "x.npy"
    np.save(xp, np.zeros((1, 16), np.float32))
    code, _, err = _run(["sim", tmp_path, "--input", xp, "--output", tmp_path / "y.npy"], capsys)
    assert code == 2 and "is not a gatesmith output directory (no manifest.json)" in err
    out = tmp_path / "o"
    assert _run(["compile", p, "-o", out], capsys)[0] == 0
    code, _, err = _run(["sim", out, "--input", xp, "--output", tmp_path / "y.npy", "--engine", "gpu"], capsys)
    assert code == 2 and "--engine 'gpu': expected one of reference, rtl" in err


def test_entry_point_installed(tmp_path):
    r = subprocess.run([sys.executable, "-m", "gatesmith.cli", "compile", str(tmp_path / "x.onnx"), "-o", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no such model file" in r.stderr


def test_generated_top_parses_with_pyverilog(jet, tmp_path, capsys):
    """The generated top is plain Verilog a third-party parser reads: one gs_mvu per layer."""
    from pyverilog.vparser.parser import VerilogParser

    _, p, _ = jet
    out = tmp_path / "o"
    assert _run(["compile", p, "-o", out], capsys)[0] == 0
    text = (out / "rtl" / "gatesmith_top.v").read_text()
    ast = VerilogParser(outputdir=str(tmp_path), debug=False).parse(text)  # its parser tables go there
    insts = []

    def walk(node):
        if type(node).__name__ == "InstanceList":
            insts.append(node.module)
        for c in node.children():
            walk(c)

    walk(ast)
    assert insts.count("gs_mvu") == 4
    assert insts.count("gs_requant") + insts.count("gs_thresholds") == 3
