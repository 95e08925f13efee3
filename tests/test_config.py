"""``gatesmith compile --config``: typed schema, key paths in errors, precedence name > op kind > global,
and ``gatesmith config init``."""

from __future__ import annotations

import json
import re

import pytest

from gatesmith.cli import main
from gatesmith.config import Config, ConfigError, LayerSettings, compile_options, load_config, parse_config
from gatesmith.flow import compile_model

pytestmark = pytest.mark.brevitas


def _write(tmp_path, text, name="g.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_parse_typed_schema():
    cfg = parse_config({"board": "zcu104", "target_fps": 1000, "op": {"matvec": {"simd": 2}},
                        "layer": {"mvu0": {"pe": 4, "requant": "threshold"}}})
    assert cfg == Config(board="zcu104", target_fps=1000.0, op={"matvec": LayerSettings(simd=2)},
                         layer={"mvu0": LayerSettings(pe=4, requant="threshold")})
    assert isinstance(cfg.target_fps, float)
    opts = compile_options(cfg, board="pynq-z2", requant=None)
    assert opts.board == "pynq-z2" and opts.target_fps == 1000.0 and opts.requant == "auto"  # explicit option wins
    assert opts.layers is not None and dict(opts.layers.by_kind) == {"matvec": LayerSettings(simd=2)}


@pytest.mark.parametrize("text, message", [
    ("boards = 'x'", "boards: unknown key (expected one of board, clock_mhz"),
    ("[layer.mvu0]\npee = 2", "layer.mvu0.pee: unknown key (expected one of pe, simd, requant, mem_style, mul_style, fixed_bits)"),
    ("[op.matvec]\nfolding = 2", "op.matvec.folding: unknown key"),
    ("[layer.'a.b']\nx = 1", "layer.a.b.x: unknown key"),
    ("target_fps = 'fast'", "target_fps: expected a number, got 'fast'"),
    ("clock_mhz = true", "clock_mhz: expected a number, got True"),
    ("[layer.mvu0]\npe = 2.5", "layer.mvu0.pe: expected an integer, got 2.5"),
    ("[layer.mvu0]\nsimd = 0", "layer.mvu0.simd: expected a positive integer, got 0"),
    ("board = 3", "board: expected a string, got 3"),
    ("[op.conv]\npe = 1", "op.conv: unknown op kind (expected one of add, concat"),
    ("requant = 'fancy'", "requant: 'fancy' is not a requantization style"),
    ("[layer.rq0]\nrequant = 'fancy'", "layer.rq0.requant: 'fancy' is not a requantization style"),
    ("[op.matvec]\nrequant = 'shift'", "op.matvec.requant: a matvec layer has no requantization"),
    ("layer = 3", "layer: expected a table of tables ([layer.NAME]), got 3"),
    ("[layer]\nmvu0 = 3", "layer.mvu0: expected a table of pe, simd, requant, mem_style, mul_style, fixed_bits, got 3"),
    ("board = ", "not valid TOML"),
])
def test_errors_name_the_key(tmp_path, text, message):
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value).startswith(f"--config {str(p)!r}: ")
    assert message in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")


def _folding(out):
    return json.loads((out / "folding.json").read_text())["layers"]


def _kinds(out):
    return {n["name"]: n["kind"] for n in json.loads((out / "manifest.json").read_text())["layers"]}


def test_folding_precedence_name_over_kind_over_global(zoo_export, tmp_path):
    _, onnx_path = zoo_export("conv_small")
    cfg = _write(tmp_path, "target_fps = 1e4\n[op.matvec]\npe = 1\nsimd = 1\n[layer.mvu0]\npe = 2\n"
                            "[op.threshold]\npe = 1\n")
    out = tmp_path / "o"
    assert main(["compile", str(onnx_path), "-o", str(out), "--config", str(cfg), "--quiet"]) == 0
    f = _folding(out)
    assert f["mvu0"]["pe"] == 2 and f["mvu0"]["simd"] == 1  # name for pe, the kind for simd
    for name, e in f.items():
        if e["kind"] == "matvec" and name != "mvu0":
            assert (e["pe"], e["simd"]) == (1, 1), name
    est = json.loads((out / "reports" / "estimate.json").read_text())
    assert est["target_fps"] == 1e4
    # --folding on the command line wins over the file, layer by layer
    ff = tmp_path / "fold.json"
    ff.write_text(json.dumps({"layers": {"mvu0": {"pe": 4}}}))
    out2 = tmp_path / "o2"
    assert main(["compile", str(onnx_path), "-o", str(out2), "--config", str(cfg), "--folding", str(ff), "--quiet"]) == 0
    f2 = _folding(out2)
    assert (f2["mvu0"]["pe"], f2["mvu0"]["simd"]) == (4, 1)
    assert {k: v for k, v in f2.items() if k != "mvu0"} == {k: v for k, v in f.items() if k != "mvu0"}


def test_requant_precedence(zoo_export, tmp_path, capsys):
    _, onnx_path = zoo_export("jet_tagger")
    base = "requant = 'threshold'\n[op.requantize]\nrequant = 'auto'\n"
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["compile", str(onnx_path), "-o", str(a), "--config", str(_write(tmp_path, base, "a.toml"))]) == 0
    assert _kinds(a)["rq2"] == "requant"  # op kind (auto finds an exact dyadic form) over global threshold
    cfg = _write(tmp_path, base + "[layer.rq2]\nrequant = 'threshold'\n", "b.toml")
    assert main(["compile", str(onnx_path), "-o", str(b), "--config", str(cfg)]) == 0
    assert _kinds(b)["rq2"] == "threshold"  # the layer's name wins
    # an option given on the command line wins over the whole file
    c = tmp_path / "c"
    assert main(["compile", str(onnx_path), "-o", str(c), "--config", str(cfg), "--board", "zcu104", "--json"]) == 0
    assert json.loads((c / "manifest.json").read_text())["board"] == "zcu104"
    capsys.readouterr()


def test_unknown_layer_and_wrong_layer_kind(zoo_export, tmp_path, capsys):
    _, onnx_path = zoo_export("jet_tagger")
    cfg = _write(tmp_path, "[layer.mvu9]\npe = 1\n")
    assert main(["compile", str(onnx_path), "-o", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "layer.mvu9: no such layer; expected one of ['mvu0'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
    cfg = _write(tmp_path, "[layer.mvu0]\nrequant = 'threshold'\n", "k.toml")
    assert main(["compile", str(onnx_path), "-o", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    assert "layer.mvu0.requant: 'mvu0' is a matvec layer, not a requantizer" in capsys.readouterr().err
    cfg = _write(tmp_path, "[layer.mvu0]\nsimd = 7\n", "d.toml")
    assert main(["compile", str(onnx_path), "-o", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    assert "SIMD=7 must be a positive divisor" in capsys.readouterr().err


def test_config_init_template_round_trips(zoo_export, tmp_path, capsys):
    _, onnx_path = zoo_export("conv_small")
    toml = tmp_path / "gatesmith.toml"
    assert main(["config", "init", str(onnx_path), "-o", str(toml), "--target-fps", "2e4"]) == 0
    text = toml.read_text()
    assert "[layer.mvu0]" in text and "# [op.matvec]" in text and "target_fps = 20000" in text
    assert main(["config", "init", str(onnx_path), "-o", str(toml)]) == 2
    assert "exists; use --force" in capsys.readouterr().err
    # the template as written parses; with every layer uncommented it pins today's choices
    assert load_config(toml).layer == {}
    pinned = tmp_path / "pinned.toml"
    marker = "# Layers with today's choices"
    head, layers = text.split(marker)
    pinned.write_text(head + marker + re.sub(r"^# (\[layer\.|pe =|simd =|requant =)", r"\1", layers, flags=re.M))
    cfg = load_config(pinned)
    assert set(cfg.layer) >= {"mvu0", "rq0", "swg0"}
    auto = compile_model(onnx_path, tmp_path / "auto", compile_options(Config(target_fps=2e4)))
    assert main(["compile", str(onnx_path), "-o", str(tmp_path / "cfg"), "--config", str(pinned), "--quiet"]) == 0
    assert _folding(tmp_path / "cfg") == _folding(auto)
    assert (tmp_path / "cfg" / "ir.txt").read_text() == (auto / "ir.txt").read_text()
