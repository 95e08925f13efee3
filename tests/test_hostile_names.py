"""Hostile names: ONNX node/tensor/graph names, file and directory names that would break naive codegen.

Every name of an exported zoo model is replaced by a string with quotes,
backslashes, newlines, comment terminators, ``$``, ``[``, ``;``, backticks,
Verilog/C++ keywords, non-ASCII or 1000 characters (node names duplicated,
which ONNX allows).  The compiled design must lint clean, carry none of those
strings into any generated Verilog or memory file, write a valid JSON
manifest, and simulate equal to ONNX execution.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest


pytestmark = pytest.mark.brevitas

HOSTILE = [
    'q"uote',
    "back\\slash\\",
    "new\nline\r\n",
    "end*/comment/*",
    "$finish;",
    "arr[0]",
    "semi;colon",
    "tick`define X",
    "module",
    "endmodule",
    "class",
    "wire",
    "input",
    "always @(*)",
    "template<typename T>",
    "ünïcødé_名前_🙂",
    "9starts_with_digit",
    " ",
    "'single'",
    "// line comment",
    "`timescale 1ns/1ps",
    "L" * 1000,
    "a\x00b".replace("\x00", "\\0"),  # protobuf strings must be valid UTF-8; NUL itself is refused by onnx
]
GRAPH_NAME = "class */ `define evil\n module endmodule \"$x\""
IN_NAME = '"; $finish; // input'
OUT_NAME = "*/ endmodule module evil(output"

# characters/sequences no sanitised identifier may contribute; counted against an un-renamed baseline
SPECIAL = ['"', "\\", "*/", "/*", "$", "[", ";", "`", "'", "<", "@", "//"]
KEYWORDS = ["module", "endmodule", "class", "wire", "input", "always", "template", "timescale", "define", "finish"]


def _rename(src: Path, dst: Path) -> dict[str, str]:
    """Rewrite every name in ``src`` hostile, consistently; returns the tensor renaming."""
    import onnx

    m = onnx.load(str(src))
    g = m.graph
    names: list[str] = []
    for coll in (g.input, g.output, g.initializer, g.value_info):
        names += [t.name for t in coll]
    for n in g.node:
        names += list(n.input) + list(n.output)
    tensors = [t for t in dict.fromkeys(names) if t]
    mapping: dict[str, str] = {}
    gin, gout = g.input[0].name, g.output[0].name
    mapping[gin], mapping[gout] = IN_NAME, OUT_NAME
    k = 0
    for t in tensors:
        if t in mapping:
            continue
        base = HOSTILE[k % len(HOSTILE)]
        mapping[t] = base if k < len(HOSTILE) else f"{base}{'*/' * (k // len(HOSTILE))}"
        k += 1
    assert len(set(mapping.values())) == len(mapping)  # tensor names stay unique (SSA)

    for coll in (g.input, g.output, g.initializer, g.value_info):
        for t in coll:
            t.name = mapping[t.name]
    for i, n in enumerate(g.node):
        n.name = HOSTILE[i % 5 + 7]  # duplicates: only five distinct node names
        for j, v in enumerate(n.input):
            if v:
                n.input[j] = mapping[v]
        for j, v in enumerate(n.output):
            if v:
                n.output[j] = mapping[v]
    g.name = GRAPH_NAME
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))
    return mapping


def _generated(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): p.read_text(encoding="utf-8")
        for p in sorted((out / "rtl").rglob("*"))
        if p.is_file() and p.suffix in (".v", ".sv", ".mem")
    }


def _counts(files: dict[str, str]) -> dict:
    text = "\n".join(files.values())
    c = {s: text.count(s) for s in SPECIAL}
    c.update({k: len(re.findall(rf"\b{k}\b", text)) for k in KEYWORDS})
    return c


@pytest.fixture(scope="module")
def pot(tmp_path_factory):
    from gatesmith.flow import compile_model
    from gatesmith.verify import zoo

    root = tmp_path_factory.mktemp("hostile")
    model = zoo.build("pot_mlp")
    src = model.export(root / "pot.onnx")
    base = compile_model(src, root / "base")
    return model, src, base, root


@pytest.mark.parametrize("where", ["names", "paths"])
def test_hostile_names_compile_clean(pot, where):
    from gatesmith.flow import compare_outputs, compile_model, load_design, simulate
    from gatesmith.verify import zoo
    from gatesmith.verify.rtl_sim import lint_design

    model, src, base, root = pot
    sub = root / where
    sub.mkdir()
    if where == "names":
        onnx_path = sub / "hostile.onnx"
        mapping = _rename(src, onnx_path)
        out = sub / "out"
    else:  # hostile file and directory names (the model itself unchanged)
        d = sub / "dir with 'single' and \"double\" quotes; $HOME [x] `tick`"
        d.mkdir()
        onnx_path = d / "my model \"v1\" 'final' $x;.onnx"
        onnx_path.write_bytes(src.read_bytes())
        mapping = {}
        out = d / "out dir \"q\" 'q' ; $(x)"
    compile_model(onnx_path, out)

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    top = manifest["top"]
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", top)
    assert manifest["model"]["file"] == onnx_path.name
    for f in ("graph.json", "folding.json", "reports/estimate.json"):
        json.loads((out / f).read_text(encoding="utf-8"))

    files = _generated(out)
    assert files
    for rel in files:  # generated file names are plain
        assert re.fullmatch(r"rtl/[A-Za-z0-9_.]+", rel), rel
    hostile = set(mapping.values()) | set(HOSTILE) | {GRAPH_NAME, IN_NAME, OUT_NAME}
    hostile = {h for h in hostile if len(h) > 1 and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", h)}
    for rel, text in files.items():
        assert text.isascii(), rel
        assert "\r" not in text, rel
        for h in hostile:
            assert h not in text, (rel, h)
    # no quote, backslash, comment marker, $, [, ;, backtick or keyword more than the baseline design has
    assert _counts(files) == _counts(_generated(base))
    # identifiers stay within limits (the 1000-character name is cut)
    assert max(len(t) for text in files.values() for t in re.findall(r"[A-Za-z_][A-Za-z0-9_$]*", text)) <= 128

    lint_design(out / "rtl", top)

    x = model.sample_inputs(16, seed=3)
    expect = zoo.onnx_forward(onnx_path, x)
    np.testing.assert_array_equal(expect, zoo.onnx_forward(src, x))
    y, _ = simulate(out, x, engine="rtl", backpressure=True)
    g = load_design(out).graph
    assert compare_outputs(g, y, expect)[0] == 0
    np.testing.assert_array_equal(y, expect)  # pot_mlp: every scale a power of two, exact
