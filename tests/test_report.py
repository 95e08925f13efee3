"""``gatesmith report``: the self-contained HTML page (sections, tables, inline PNG figures, escaping)."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from gatesmith.cli import main
from gatesmith.flow import CompileOptions, compile_model, simulate
from gatesmith.report import build_report

pytestmark = pytest.mark.brevitas

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HOSTILE = '<script>alert("x")</script>&$x$'


class _Page(HTMLParser):
    """Headings, tables (rows of cell texts) and image sources of an HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.headings, self.tables, self.imgs, self.scripts = [], [], [], 0
        self.links = []
        self._h = None
        self._cell = None
        self._row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("h1", "h2", "h3"):
            self._h = ""
        elif tag == "table":
            self.tables.append({"class": a.get("class", ""), "rows": []})
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "img":
            self.imgs.append(a.get("src", ""))
        elif tag == "script":
            self.scripts += 1
        elif tag in ("link", "a") and (a.get("href") or "").startswith("http"):
            self.links.append(a["href"])

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3") and self._h is not None:
            self.headings.append(self._h.strip())
            self._h = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["rows"].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._h is not None:
            self._h += data
        if self._cell is not None:
            self._cell += data

    def table(self, cls):
        return next(t for t in self.tables if t["class"] == cls)


def _parse(path) -> tuple[str, _Page]:
    html = path.read_text(encoding="utf-8")
    p = _Page()
    p.feed(html)
    return html, p


def _check_images(page: _Page) -> None:
    import matplotlib.image as mpimg

    assert page.imgs
    for src in page.imgs:
        assert src.startswith("data:image/png;base64,"), src[:40]
        raw = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert raw[:8] == PNG_SIGNATURE
        img = mpimg.imread(io.BytesIO(raw), format="png")
        assert img.ndim == 3 and img.shape[0] > 10 and img.shape[1] > 10


@pytest.fixture(scope="module")
def mlp(zoo_export, tmp_path_factory):
    m, onnx_path = zoo_export("jet_tagger")
    out = compile_model(onnx_path, tmp_path_factory.mktemp("rep") / "mlp", CompileOptions(target_fps=1e6))
    return m, onnx_path, out


@pytest.fixture(scope="module")
def cnn(zoo_export, tmp_path_factory):
    m, onnx_path = zoo_export("conv_small")
    out = compile_model(onnx_path, tmp_path_factory.mktemp("rep") / "cnn", CompileOptions())
    return m, onnx_path, out


def test_mlp_report_sections_tables_and_figures(mlp):
    m, _, out = mlp
    x = m.sample_inputs(32)
    path = build_report(out, inputs=x)
    assert path == out / "reports" / "report.html"
    html, page = _parse(path)
    for h in ("Summary", "Layer graph", "Layers", "Cycles per layer", "Resources against the board's budget",
              "Value ranges", "Simulation", "Integer IR"):
        assert h in page.headings, (h, page.headings)
    assert page.scripts == 0 and not page.links and "http://" not in html and "https://" not in html
    # graph, cycles, resources, ranges
    assert len(page.imgs) == 4
    _check_images(page)
    est = json.loads((out / "reports" / "estimate.json").read_text())
    summary = dict(r for r in page.table("summary")["rows"] if len(r) == 2)
    assert summary["bottleneck"] == est["bottleneck"]
    assert summary["cycles per inference"] == f"{est['cycles_per_inference']:,}"
    assert summary["board"].startswith("pynq-z2")
    layers = page.table("layers")["rows"]
    head, body = layers[0], layers[1:]
    for col in ("op", "input type", "weight type", "accumulator", "output type", "requantization", "PE", "SIMD",
                "est. cycles", "est. BRAM18"):
        assert col in head
    by_name = {r[0]: dict(zip(head, r)) for r in body}
    for e in est["layers"]:
        row = by_name[e["name"]]
        assert row["est. cycles"] == f"{e['cycles']:,}"
        assert row["PE"] == str(e["pe"])
    mvu = by_name["mvu0"]
    assert mvu["op"] == "matvec" and re.fullmatch(r"[su]\d+|bipolar", mvu["weight type"])
    assert re.fullmatch(r"s\d+", mvu["accumulator"])
    assert any(r["requantization"] for r in by_name.values())
    ranges = page.table("ranges")["rows"][1:]
    assert len(ranges) >= len(est["layers"])
    for r in ranges:
        tmin, tmax, lo, hi = (int(v.replace(",", "")) for v in r[3:7])
        assert tmin <= lo <= hi <= tmax
    assert "No <code>reports/sim.json</code>" in html


def test_report_shows_simulation_and_synthesis(mlp, capsys):
    m, _, out = mlp
    x = m.sample_inputs(8)
    simulate(out, x, engine="reference")
    layer_names = [e["name"] for e in json.loads((out / "reports" / "estimate.json").read_text())["layers"]]
    # the shape implement.synthesize writes: totals at the top, one entry a core instance
    synth = {"tool": {"command": "synth_xilinx -family xc7"}, "lut": 1234, "ff": 2345, "dsp": 3, "bram18": 4,
             "uram": 0, "layers": [{"name": n, "instance": f"u_{n}", "lut": 100 + i, "ff": 7, "dsp": 0, "bram18": 1,
                                    "uram": 0} for i, n in enumerate(layer_names)],
             "infrastructure": {"lut": 50, "ff": 60, "dsp": 0, "bram18": 0, "uram": 0},
             "glue": {"lut": 5, "ff": 6, "dsp": 0, "bram18": 0, "uram": 0}}
    (out / "reports" / "synth.json").write_text(json.dumps(synth))
    try:
        assert main(["report", str(out), "--json"]) == 0
        line = capsys.readouterr().out.strip().splitlines()
        assert len(line) == 1 and json.loads(line[0])["report"] == str(out / "reports" / "report.html")
        html, page = _parse(out / "reports" / "report.html")
        sim = dict(r for r in page.table("sim")["rows"])
        assert sim["engine"] == "reference" and sim["inferences"] == "8"
        res = page.table("resources")["rows"]
        assert res[0][-1] == "synthesis" and ["LUT", "53,200"] == res[1][:2] and res[1][-1] == "1,234"
        head, *body = page.table("layers")["rows"]
        assert "synth LUT" in head
        first = dict(zip(head, body[0]))
        assert first["synth LUT"] == "100" and first["synth BRAM18"] == "1"
        parts = {r[0]: r[1:] for r in page.table("synth")["rows"][1:]}
        assert parts["top-level glue"][0] == "5" and parts["total"][0] == "1,234"
        assert parts["layers (cores)"][0] == f"{sum(100 + i for i in range(len(layer_names))):,}"
        assert "synth_xilinx -family xc7" in html
        assert len(page.imgs) == 3  # no inputs: no value-range figure
        _check_images(page)
    finally:
        (out / "reports" / "synth.json").unlink()


def test_report_uses_the_estimates_resource_model(cnn, tmp_path):
    import shutil

    _, _, src = cnn
    out = tmp_path / "d"
    shutil.copytree(src, out)
    ep = out / "reports" / "estimate.json"
    est = json.loads(ep.read_text())
    for i, e in enumerate(est["layers"]):
        e.update(lut=1000 + i, ff=10, dsp=2, bram18=1, uram=0)
    est["resources"] = {"lut": 9999, "ff": 888, "dsp": 77, "bram18": 6, "uram": 0, "model": "test model",
                        "infrastructure": {"lut": 1, "ff": 1, "dsp": 0, "bram18": 0, "uram": 0}}
    ep.write_text(json.dumps(est))
    html, page = _parse(build_report(out))
    head, *body = page.table("layers")["rows"]
    rows = {r[0]: dict(zip(head, r)) for r in body}
    assert rows[est["layers"][0]["name"]]["est. LUT"] == "1,000"
    res = page.table("resources")["rows"]
    assert res[0][2] == "estimate" and res[1] == ["LUT", "53,200", "9,999"]
    assert "test model" in html


def test_cnn_report(cnn):
    m, _, out = cnn
    path = build_report(out, inputs=m.sample_inputs(8))
    html, page = _parse(path)
    _check_images(page)
    assert len(page.imgs) == 4
    kinds = {r[1] for r in page.table("layers")["rows"][1:]}
    assert {"swg", "matvec", "threshold", "pool"} <= kinds
    swg = next(r for r in page.table("layers")["rows"][1:] if r[1] == "swg")
    assert swg[3].startswith("[12, 12, 3]")


def test_report_cli_inputs_and_errors(cnn, tmp_path, capsys):
    m, _, out = cnn
    x = tmp_path / "x.npy"
    np.save(x, m.sample_inputs(4))
    assert main(["report", str(out), "--inputs", str(x), "--quiet"]) == 0
    o, e = capsys.readouterr()
    assert o == "" and e == ""
    assert "Value ranges" in _parse(out / "reports" / "report.html")[1].headings
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 5), np.float32))
    assert main(["report", str(out), "--inputs", str(bad)]) == 2
    assert "expected shape" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "not a gatesmith output directory" in capsys.readouterr().err


def _hostile_origins(obj):
    """Every node origin (the ONNX names a node came from) in graph.json, made hostile."""
    if isinstance(obj, dict):
        return {k: (HOSTILE + v if k == "origin" and isinstance(v, str) else _hostile_origins(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_hostile_origins(v) for v in obj]
    return obj


def test_hostile_names_are_escaped(zoo_export, tmp_path):
    import shutil

    _, onnx_path = zoo_export("jet_tagger")
    src = tmp_path / "<b>evil&.onnx"
    shutil.copy(onnx_path, src)
    out = compile_model(src, tmp_path / "o", CompileOptions())
    # ONNX node names reach the IR only as origins (the frontend renames nodes); put hostile ones there
    g = out / "graph.json"
    g.write_text(json.dumps(_hostile_origins(json.loads(g.read_text()))))
    (out / "ir.txt").write_text((out / "ir.txt").read_text() + HOSTILE + "\n")
    (out / "reports" / "sim.json").write_text(json.dumps({"engine": HOSTILE, HOSTILE: 1}))
    html, page = _parse(build_report(out))
    assert "<script>" not in html and "<b>evil" not in html
    assert page.scripts == 0
    assert "&lt;script&gt;" in html and "&lt;b&gt;evil&amp;.onnx" in html
    origins = [r[2] for r in page.table("layers")["rows"][1:]]
    assert origins and all(o.startswith(HOSTILE) for o in origins)  # the text survives, escaped
    assert dict(page.table("sim")["rows"])["engine"] == HOSTILE
    _check_images(page)
