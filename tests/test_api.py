"""The Python API: ``gatesmith.compile`` from an ONNX file or a Brevitas module, and the Design object."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gatesmith
from gatesmith import implement
from gatesmith.cli import main
from gatesmith.flow import FlowError
from gatesmith.verify import zoo

pytestmark = pytest.mark.brevitas


@pytest.fixture(scope="module")
def jet(zoo_export, tmp_path_factory):
    m, path = zoo_export("jet_tagger")
    d = gatesmith.compile(path, out_dir=tmp_path_factory.mktemp("api") / "d", board="zcu104", target_fps=1e6)
    return m, path, d


def test_compile_onnx_matches_the_cli(jet, tmp_path, capsys):
    m, path, d = jet
    assert isinstance(d, gatesmith.Design)
    assert d.manifest["board"] == "zcu104" and d.onnx_path is None
    est = d.estimate
    assert est["cycles_per_inference"] > 0 and est["target_fps"] == 1e6 and est["meets_target"]
    assert "cycles/inference" in repr(d)
    assert f"<th>bottleneck</th><td>{est['bottleneck']}</td>" in d._repr_html_()
    cli_out = tmp_path / "cli"
    assert main(["compile", str(path), "-o", str(cli_out), "--board", "zcu104", "--target-fps", "1e6", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    for rel in ("manifest.json", "ir.txt", "graph.json", "folding.json", "reports/estimate.json"):
        assert (cli_out / rel).read_bytes() == (d.root / rel).read_bytes(), rel


def test_simulate_report_export(jet):
    m, path, d = jet
    x = m.sample_inputs(16)
    expect = zoo.onnx_forward(path, x)
    y, rep = d.simulate(x, engine="reference", expect=expect)
    assert y.shape == expect.shape and rep["mismatches"] == 0 and rep["engine"] == "reference"
    assert json.loads((d.root / "reports" / "sim.json").read_text())["inferences"] == 16
    html = d.report(inputs=x)
    assert html == d.root / "reports" / "report.html" and "Value ranges" in html.read_text()
    viv = d.export_vivado()
    assert (viv / "build.tcl").is_file()
    again = gatesmith.load(d.root)
    assert again.estimate == d.estimate and again.graph.name == d.graph.name


def test_synth_delegates_or_says_it_is_missing(jet, monkeypatch):
    _, _, d = jet
    monkeypatch.delattr(implement, "synthesize", raising=False)
    monkeypatch.delattr(implement, "synth", raising=False)
    with pytest.raises(NotImplementedError, match="no synthesis runner"):
        d.synth()
    calls = []
    monkeypatch.setattr(implement, "synthesize", lambda root, **kw: calls.append((root, kw)) or {"lut": 1},
                        raising=False)
    assert d.synth(timeout=60) == {"lut": 1}
    assert calls == [(d.root, {"timeout": 60})]


def test_compile_brevitas_module(tmp_path):
    import torch

    m = zoo.build("jet_tagger")
    example = torch.from_numpy(m.sample_inputs(1, seed=3))
    d = gatesmith.compile(m.module, example, out_dir=tmp_path / "mod", target_fps=1e5)
    assert d.onnx_path == tmp_path / "mod" / "model.onnx"
    x = m.sample_inputs(32, seed=5)
    y, rep = d.simulate(torch.from_numpy(x), engine="reference", expect=zoo.onnx_forward(d.onnx_path, x))
    assert rep["mismatches"] == 0
    # the same answers as Brevitas itself, up to the float32 rounding of the logits
    np.testing.assert_allclose(y, m.torch_forward(x), rtol=0, atol=1e-3)
    assert not m.module.training


def test_compile_errors(tmp_path):
    with pytest.raises(FlowError, match="example input"):
        gatesmith.compile(zoo.build("jet_tagger").module, out_dir=tmp_path / "a")
    with pytest.raises(FlowError, match="expected an ONNX file path or a Brevitas nn.Module"):
        gatesmith.compile(42, out_dir=tmp_path / "b")
    with pytest.raises(FlowError, match="no such model file"):
        gatesmith.compile(tmp_path / "missing.onnx", out_dir=tmp_path / "c")
    with pytest.raises(FlowError, match="not a gatesmith output directory"):
        gatesmith.load(tmp_path)


def test_cli_json_quiet_and_progress(jet, tmp_path, capsys, monkeypatch):
    m, path, d = jet
    out = tmp_path / "o"
    assert main(["compile", str(path), "-o", str(out), "--json"]) == 0
    o, e = capsys.readouterr()
    lines = o.splitlines()
    assert len(lines) == 1 and e == ""
    summary = json.loads(lines[0])
    assert summary["command"] == "compile" and summary["output"] == str(out)
    assert summary["cycles_per_inference"] == json.loads((out / "reports" / "estimate.json").read_text())[
        "cycles_per_inference"]
    x, y = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(x, m.sample_inputs(4))
    assert main(["sim", str(out), "--input", str(x), "--output", str(y), "--engine", "reference", "--json"]) == 0
    o, e = capsys.readouterr()
    rep = json.loads(o)
    assert rep["command"] == "sim" and rep["inferences"] == 4 and e == ""
    # not a terminal (as here, and in CI): no progress output at all
    assert main(["report", str(out)]) == 0
    o, e = capsys.readouterr()
    assert o.startswith("wrote ") and e == ""
    # a terminal: rich draws its progress on stderr, unless --quiet or --json
    monkeypatch.setattr(type(__import__("sys").stderr), "isatty", lambda self: True, raising=False)
    assert main(["report", str(out)]) == 0
    o, e = capsys.readouterr()
    assert o.startswith("wrote ") and e != ""
    assert main(["report", str(out), "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")
    with pytest.raises(SystemExit):
        main(["report", str(out), "--quiet", "--json"])
