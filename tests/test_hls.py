"""HLS C++ backend (hls_templates/hls.py, hls_templates/hls/*.h) and its C simulation (verify/csim.py).

The generated C++ is compiled with g++ against the ap_types headers hls4ml ships
(or ``$XILINX_HLS/include``) and must compute, element for element, what the
reference interpreter computes -- and, through the host's quantizers, what
``execute_onnx`` computes -- on the MLP zoo the RTL tests cover, on every
requantization style, on every rounding mode of the requantizer and on models
whose names are hostile.  g++ builds are cached by content (verify/csim.py).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gatesmith.flow import CompileOptions, compile_model, load_design, simulate
from gatesmith.hls_templates.hls import HLS_STAGES, render_hls
from gatesmith.hls_templates.rtl import CodegenError
from gatesmith.ir import Fold, Graph, InputQuant, IntType, Node, OutputKind, OutputMap, Requant, Rounding, Value
from gatesmith.ir.ops import frozen_array
from gatesmith.verify.csim import CsimError, build_csim, reference_vectors, run_csim
from gatesmith.verify import zoo
from gatesmith.verify.reference import run_integer

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")



def _test_module(name: str):
    """A sibling test module (tests are not a package under --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location(f"gs_{name}", Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


#: the MLPs tests/test_e2e.py runs on the RTL: (zoo name, export format, target fps at 100 MHz)
MLP = [e for e in _test_module("test_e2e").E2E if e[0] in zoo.MLP_NAMES]


@pytest.fixture(scope="session")
def csim_cache() -> Path:
    """The g++ build cache: ``csim`` beside ``$GATESMITH_RTL_CACHE`` or ``<repo>/.cache/rtl_sim``
    (keyed by content, so reruns and the flow's csim engine reuse builds)."""
    import os

    rtl = Path(os.environ["GATESMITH_RTL_CACHE"]) if os.environ.get("GATESMITH_RTL_CACHE") else (
        Path(__file__).resolve().parent.parent / ".cache" / "rtl_sim")
    return rtl.parent / "csim"


@pytest.fixture(autouse=True)
def _same_cache_for_the_flow(monkeypatch, csim_cache):
    """simulate(engine="csim") builds into csim_cache too (it sits beside the RTL cache)."""
    monkeypatch.setenv("GATESMITH_RTL_CACHE", str(csim_cache.parent / "rtl_sim"))


def _float_inputs(model, n: int) -> np.ndarray:
    """Random inputs, then +-1e3 everywhere and alternating: the input quantizer's extremes."""
    x = model.sample_inputs(n, seed=11)
    shape = x.shape[1:]
    hi = np.full(shape, 1e3, np.float32)
    alt = np.where(np.arange(int(np.prod(shape))).reshape(shape) % 2 == 0, 1e3, -1e3).astype(np.float32)
    return np.concatenate([x, hi[None], -hi[None], alt[None], -alt[None]]).astype(np.float32)


def _csim(out: Path, q: np.ndarray, cache: Path) -> np.ndarray:
    g = load_design(out).graph
    c = int(np.prod(g.value(g.outputs[0]).shape))
    return run_csim(out / "hls", q.reshape(len(q), -1), out_elems=c, cache_dir=cache).y_int


# --------------------------------------------------------------------------- the MLP zoo


@pytest.mark.brevitas
@pytest.mark.parametrize("name, fmt, fps", MLP)
def test_csim_equals_reference_and_onnx(tmp_path, zoo_export, csim_cache, name, fmt, fps):
    model, path = zoo_export(name, fmt)
    out = compile_model(path, tmp_path / "d", CompileOptions(clock_mhz=100, target_fps=fps, backend="hls"))
    assert not (out / "rtl").exists()
    m = json.loads((out / "manifest.json").read_text())
    assert m["backend"] == "hls" and m["files"] == [] and f"hls/{m['top']}.cpp" in m["hls_files"]
    g = load_design(out).graph

    # integers: every value of the input type at both ends, alternating, random
    xq, yq = reference_vectors(g, n_random=24, seed=2)
    np.testing.assert_array_equal(_csim(out, xq, csim_cache), yq)

    # floats through the host quantizers, against execute_onnx (the flow's csim engine)
    x = _float_inputs(model, 24)
    expect = zoo.onnx_forward(path, x)
    y, rep = simulate(out, x, engine="csim", expect=expect)
    assert rep["engine"] == "csim" and rep["build_cached"] is True  # built above
    assert rep["mismatches"] == 0, f"{rep['mismatches']} elements differ from execute_onnx"
    assert y.shape == expect.shape and y.dtype == expect.dtype
    # and bit for bit equal to the reference engine's output
    y_ref, _ = simulate(out, x, engine="reference")
    np.testing.assert_array_equal(y, y_ref)


@pytest.mark.brevitas
@pytest.mark.parametrize("style", ["threshold", "shift", "dyadic"])
def test_requant_styles(tmp_path, zoo_export, csim_cache, style):
    """pot_mlp (power-of-two scales) realised with each requantization style."""
    model, path = zoo_export("pot_mlp", None)
    out = compile_model(path, tmp_path / style,
                        CompileOptions(clock_mhz=100, target_fps=2_000_000, requant=style, backend="hls"))
    g = load_design(out).graph
    kinds = {n.kind for n in g.nodes}
    assert ("requant" in kinds) == (style != "threshold")
    xq, yq = reference_vectors(g, n_random=24, seed=4)
    np.testing.assert_array_equal(_csim(out, xq, csim_cache), yq)
    x = _float_inputs(model, 16)
    q = g.input_quant.quantize(x)
    y = g.output_map.dequantize(_csim(out, q, csim_cache).reshape(run_integer(g, q).shape))
    np.testing.assert_array_equal(y, zoo.onnx_forward(path, x))


# --------------------------------------------------------------------------- the requantizer, unit level


def _requant_graph(mode: Rounding, *, shift: int, use_mult: bool, seed: int, pe: int = 2) -> Graph:
    """x:s10[8] -> requant(mode) -> s6, random multipliers / biases, folded PE=pe."""
    rng = np.random.default_rng(seed)
    c = 8
    in_t, out_t = IntType(bits=10, signed=True), IntType(bits=6, signed=True)
    mult = rng.integers(-300, 300, size=c) if use_mult else np.ones(c, dtype=np.int64)
    bias = rng.integers(-(1 << (shift + 3)), 1 << (shift + 3), size=c)
    bias[0] = 1 << max(shift - 1, 0)  # exact ties for x * M == 0
    op = Requant(mult=frozen_array(mult), bias=frozen_array(bias), shift=shift, rounding=mode,
                 lo=-30, hi=29, out=out_t, use_mult=use_mult)
    iq = InputQuant(onnx_shape=(c,), pre=(), scale=frozen_array(1.0, np.float32),
                    zero_point=frozen_array(0.0, np.float32), dtype=in_t, narrow=False, rounding=Rounding.ROUND)
    om = OutputMap(kind=OutputKind.QUANT, onnx_shape=(c,), scale=frozen_array(1.0, np.float32),
                   zero_point=frozen_array(0.0, np.float32))
    return Graph(
        name=f"rq_{mode.name}",
        values=(Value(name="x", shape=(c,), dtype=in_t), Value(name="y", shape=(c,), dtype=out_t)),
        nodes=(Node(name="rq", op=op, inputs=("x",), outputs=("y",), origin="unit", fold=Fold(pe=pe)),),
        inputs=("x",), outputs=("y",), input_quant=iq, output_map=om,
    )


@pytest.mark.parametrize("mode", list(Rounding), ids=lambda m: m.name)
def test_requant_rounding_modes(tmp_path, csim_cache, mode):
    """Every value of s10 on every channel, against Requant.evaluate (ties, negative ties, clamps)."""
    xs = np.arange(-512, 512)
    x = np.stack([np.roll(xs, 37 * k) for k in range(8)], axis=1)  # (1024, 8): all values per channel
    cases = [(9, True), (3, False)]
    if mode is Rounding.ROUND:  # no rounding at all, and a shift beyond every product's width
        cases += [(0, True), (40, True)]
    for i, (shift, use_mult) in enumerate(cases):
        g = _requant_graph(mode, shift=shift, use_mult=use_mult, seed=i)
        d = render_hls(g, top="rq_top")
        out = tmp_path / f"case{i}"
        _write(d.files, out)
        y = run_csim(out, x, out_elems=8, cache_dir=csim_cache).y_int
        expect = g.nodes[0].op.evaluate(x)
        assert np.array_equal(y, expect), (mode, shift, use_mult, int((y != expect).sum()))


def _write(files, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (out / rel).write_text(text)


# --------------------------------------------------------------------------- foldings, encodings, width converters


def _folded_chain() -> Graph:
    """bipolar[12] -> matvec(bipolar W, PE=3 SIMD=4) -> threshold(bipolar out, PE=2: 3->2 converter)
    -> matvec(s3 W, PE=2 SIMD=3: 2->3) -> requant(u3, FLOOR, PE=4: 2->4) -> matvec(u2 W, PE=5 SIMD=2: 4->2)."""
    from gatesmith.ir import BipolarType, MatVec, MultiThreshold, type_for_range
    from gatesmith.ir.intervals import matvec_range

    rng = np.random.default_rng(3)
    bip = BipolarType()
    layers = []
    t_in = bip

    def mv(name, w, wt, pe, simd):
        nonlocal t_in
        lo, hi = matvec_range(w, t_in)
        acc = type_for_range(min(int(lo.min()), -1), max(int(hi.max()), 1), signed=True)
        layers.append((name, MatVec(weights=frozen_array(w), wtype=wt, acc=acc), Fold(pe=pe, simd=simd)))
        t_in = acc

    mv("m_bip", np.where(rng.integers(0, 2, size=(6, 12)) > 0, 1, -1), bip, 3, 4)
    thr = np.sort(rng.integers(-6, 7, size=(6, 1)), axis=1)
    layers.append(("t_bip", MultiThreshold(thresholds=frozen_array(thr), base=0, out=bip), Fold(pe=2)))
    t_in = bip
    mv("m_s3", rng.integers(-4, 4, size=(4, 6)), IntType(bits=3, signed=True), 2, 3)
    rq = Requant(mult=frozen_array(rng.integers(1, 9, size=4)), bias=frozen_array(rng.integers(-20, 20, size=4)),
                 shift=3, rounding=Rounding.FLOOR, lo=0, hi=7, out=IntType(bits=3, signed=False))
    layers.append(("r_u3", rq, Fold(pe=4)))
    t_in = IntType(bits=3, signed=False)
    mv("m_u2", rng.integers(0, 4, size=(5, 4)), IntType(bits=2, signed=False), 5, 2)

    values, nodes, prev, shape, t = [Value(name="x", shape=(12,), dtype=bip)], [], "x", (12,), bip
    for i, (name, op, fold) in enumerate(layers):
        shape, t = op.out_shape(shape), op.out_type(t)
        values.append(Value(name=f"v{i}", shape=shape, dtype=t))
        nodes.append(Node(name=name, op=op, inputs=(prev,), outputs=(f"v{i}",), origin=f"onnx_{i}", fold=fold))
        prev = f"v{i}"
    iq = InputQuant(onnx_shape=(12,), pre=(), scale=frozen_array(1.0, np.float32),
                    zero_point=frozen_array(0.0, np.float32), dtype=bip, narrow=False, rounding=Rounding.ROUND)
    om = OutputMap(kind=OutputKind.QUANT, onnx_shape=shape, scale=frozen_array(1.0, np.float32),
                   zero_point=frozen_array(0.0, np.float32))
    return Graph(name="folded", values=tuple(values), nodes=tuple(nodes), inputs=("x",), outputs=(prev,),
                 input_quant=iq, output_map=om)


def test_foldings_encodings_and_width_converters(tmp_path, csim_cache):
    g = _folded_chain()
    d = render_hls(g, vectors=reference_vectors(g))
    top = d.files[f"{d.top}.cpp"]
    assert top.count("gs_dwc<") == 4 and top.count("\n#pragma HLS DATAFLOW\n") == 1
    assert "#pragma HLS STREAM variable=m_s3_dwc depth=2" in top  # SF = 2 beats in front of m_s3
    out = tmp_path / "f"
    _write(d.files, out)
    x = np.where(np.random.default_rng(4).integers(0, 2, size=(200, 12)) > 0, 1, -1)
    y = run_csim(out, x, out_elems=5, cache_dir=csim_cache).y_int
    np.testing.assert_array_equal(y, run_integer(g, x))


# --------------------------------------------------------------------------- codegen properties


def test_tiny_graph_all_styles_and_determinism(tmp_path, tiny_graph, csim_cache):
    from gatesmith.ir.passes import SelectRequant, run_passes
    from gatesmith.ir.schedule import ChooseFolding

    for style in ("threshold", "dyadic"):
        g = run_passes(tiny_graph, [SelectRequant(style=style), ChooseFolding(clock_mhz=100, target_fps=1e7)])
        a = render_hls(g, vectors=reference_vectors(g))
        b = render_hls(g, vectors=reference_vectors(g))
        assert a.files == b.files  # byte-identical
        for rel, text in a.files.items():
            assert text.isascii() and "\r" not in text, rel
            if not rel.startswith("gs_"):
                assert "Generated by gatesmith" in text.splitlines()[0] or "Generated by gatesmith" in text, rel
        out = tmp_path / style
        _write(a.files, out)
        x = np.random.default_rng(5).integers(-8, 8, size=(64, 6))
        np.testing.assert_array_equal(run_csim(out, x, out_elems=3, cache_dir=csim_cache).y_int,
                                      run_integer(g, x))
        # the shipped testbench checks itself against its vectors
        binary, cached, _ = build_csim(out, cache_dir=csim_cache)
        assert cached
        proc = subprocess.run([str(binary), str(out / "tb_input.txt"), str(tmp_path / "o.txt"),
                               str(out / "tb_expected.txt")], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and "0 mismatching elements" in proc.stdout, proc.stdout + proc.stderr


def test_unknown_kind_fails_loudly(tiny_graph):
    # before scheduling the graph holds a "requantize" node, which no backend implements
    with pytest.raises(CodegenError, match=r"node 'rq0' \(requantize, from Quant_1\).*HLS code generator"):
        render_hls(tiny_graph.replace_nodes(
            [n.with_(fold=Fold(pe=1, simd=1)) for n in tiny_graph.nodes]))
    assert set(HLS_STAGES) == {"matvec", "threshold", "requant", "swg", "vvu", "pool", "labelselect", "add", "concat"}


def test_graphs_the_generator_cannot_handle_are_named(tiny_graph):
    """A graph HLS_STAGES cannot build (here a stage whose output feeds nothing) is refused by
    render_hls with the reason; the flow's default --backend all then leaves hls/ out and says why
    (manifest "hls_skipped"). An ArgMax (labelselect) at the output is supported."""
    import dataclasses

    from gatesmith.hls_templates.hls import unsupported
    from gatesmith.ir.ops import LabelSelect

    g = _scheduled(tiny_graph, "threshold")
    assert unsupported(g) == ""
    out_t = IntType(bits=2, signed=False)
    sel = Node(name="top1", op=LabelSelect(k=1, channels=3, out=out_t), inputs=(g.outputs[0],),
               outputs=("label",), origin="ArgMax_0", fold=Fold(pe=3))
    g2 = dataclasses.replace(g, values=g.values + (Value(name="label", shape=(1,), dtype=out_t),),
                             nodes=g.nodes + (sel,), outputs=("label",))
    assert unsupported(g2) == ""
    assert "gs_labelselect<" in render_hls(g2).files["gatesmith_top.cpp"]
    sel2 = dataclasses.replace(sel, name="top2", outputs=("label2",))
    dangling = dataclasses.replace(g2, values=g2.values + (Value(name="label2", shape=(1,), dtype=out_t),),
                                   nodes=g2.nodes + (sel2,))
    assert unsupported(dangling).startswith("node 'top2' (labelselect, from ArgMax_0): its output 'label2' feeds nothing")
    with pytest.raises(CodegenError, match=r"node 'top2' \(labelselect, from ArgMax_0\).*--backend rtl"):
        render_hls(dangling)


def test_reshape_is_no_hardware(tmp_path, tiny_graph, csim_cache):
    """A reshape (ONNX Flatten) in front of the first layer passes through: same stream, same beats."""
    import dataclasses

    from gatesmith.ir.ops import Reshape

    g = _scheduled(tiny_graph, "threshold")
    x_t = g.value("x").dtype
    values = tuple(dataclasses.replace(v, name="x6") if v.name == "x" else v for v in g.values)
    nodes = [dataclasses.replace(g.nodes[0], inputs=("x6",))] + list(g.nodes[1:])
    flat = Node(name="flat", op=Reshape(shape=(6,)), inputs=("x",), outputs=("x6",), origin="Flatten_0")
    g2 = dataclasses.replace(g, values=(Value(name="x", shape=(2, 3), dtype=x_t),) + values,
                             nodes=(flat, *nodes))
    d = render_hls(g2, vectors=reference_vectors(g2))
    assert d.in_stream == render_hls(g).in_stream and "flat" not in d.files[f"{d.top}.cpp"]
    out = tmp_path / "r"
    _write(d.files, out)
    x = np.random.default_rng(9).integers(-8, 8, size=(32, 2, 3))
    np.testing.assert_array_equal(run_csim(out, x.reshape(32, 6), out_elems=3, cache_dir=csim_cache).y_int,
                                  run_integer(g2, x))


def _scheduled(graph, style: str):
    from gatesmith.ir.passes import SelectRequant, run_passes
    from gatesmith.ir.schedule import ChooseFolding

    return run_passes(graph, [SelectRequant(style=style), ChooseFolding(clock_mhz=100, target_fps=1e7)])


def test_no_folding_and_bad_top(tiny_graph):
    from gatesmith.ir.passes import SelectRequant, run_passes

    g = run_passes(tiny_graph, [SelectRequant(style="threshold")])
    with pytest.raises(CodegenError, match="no folding"):
        render_hls(g)
    for bad in ("class", "9x", "gs_top", "a b", "main"):
        with pytest.raises(CodegenError, match=re.escape(repr(bad))):
            render_hls(g, top=bad)


def test_compiler_error_is_one_line_naming_the_file(tmp_path, tiny_graph, csim_cache):
    from gatesmith.ir.passes import SelectRequant, run_passes
    from gatesmith.ir.schedule import ChooseFolding

    g = run_passes(tiny_graph, [SelectRequant(style="threshold"), ChooseFolding(clock_mhz=100, target_fps=1e7)])
    d = render_hls(g)
    out = tmp_path / "broken"
    _write(d.files, out)
    p = out / "gatesmith_top.cpp"
    p.write_text(p.read_text().replace("#pragma HLS DATAFLOW", "#pragma HLS DATAFLOW\n    this is not C++;"))
    with pytest.raises(CsimError) as ei:
        build_csim(out, cache_dir=csim_cache)
    msg = str(ei.value)
    assert "\n" not in msg and "gatesmith_top.cpp:" in msg and "error" in msg, msg


@pytest.mark.brevitas
def test_hostile_names_give_compiling_cpp(tmp_path, zoo_export, csim_cache):
    hostile_mod = _test_module("test_hostile_names")
    model, src = zoo_export("pot_mlp", None)
    onnx_path = tmp_path / "hostile.onnx"
    mapping = hostile_mod._rename(src, onnx_path)
    out = compile_model(onnx_path, tmp_path / "out", CompileOptions(target_fps=1e6, backend="all"))
    m = json.loads((out / "manifest.json").read_text())
    hostile = set(mapping.values()) | set(hostile_mod.HOSTILE)
    hostile |= {hostile_mod.GRAPH_NAME, hostile_mod.IN_NAME, hostile_mod.OUT_NAME}
    hostile = {h for h in hostile if len(h) > 1 and not IDENT.match(h)}
    for rel in m["hls_files"]:
        assert re.fullmatch(r"hls/[A-Za-z0-9_.]+", rel), rel
        text = (out / rel).read_text()
        assert text.isascii(), rel
        for h in hostile:
            assert h not in text, (rel, h)
    x = model.sample_inputs(16, seed=3)
    y, rep = simulate(out, x, engine="csim", expect=zoo.onnx_forward(onnx_path, x))
    assert rep["mismatches"] == 0


# --------------------------------------------------------------------------- MUL_STYLE 3: two products per multiplier


def _packed_chain(in_t, layers, seed: int) -> Graph:
    """Matrix-vector layers under ``mul=pack`` on an 8-element ``in_t`` input: ``layers`` holds
    ``("mv", name, rows, wtype, pe, simd)`` (the weights' extremes in rows 0 and 1) and
    ``("rq", name, out_type)`` (a requantizer between them)."""
    from gatesmith.ir import MatVec, type_for_range
    from gatesmith.ir.graph import Impl
    from gatesmith.ir.intervals import matvec_range

    rng = np.random.default_rng(seed)
    values, nodes, prev, shape, t = [Value(name="x", shape=(8,), dtype=in_t)], [], "x", (8,), in_t

    def add(name, op, fold, impl=None):
        nonlocal prev, shape, t
        shape, t = op.out_shape(shape), op.out_type(t)
        values.append(Value(name=f"v{len(nodes)}", shape=shape, dtype=t))
        nodes.append(Node(name=name, op=op, inputs=(prev,), outputs=(f"v{len(nodes)}",), origin=name, fold=fold,
                          impl=impl))
        prev = values[-1].name

    for kind, name, *a in layers:
        if kind == "mv":
            rows, wt, pe, simd = a
            w = rng.integers(wt.min, wt.max + 1, size=(rows, shape[0]))
            w[0, :], w[1, :] = wt.min, wt.max  # the extremes pack too
            lo, hi = matvec_range(w, t)
            acc = type_for_range(min(int(lo.min()), -1), max(int(hi.max()), 1), signed=True)
            add(name, MatVec(weights=frozen_array(w), wtype=wt, acc=acc), Fold(pe=pe, simd=simd), Impl(mul="pack"))
        else:
            out = a[0]
            add(name, Requant(mult=frozen_array(rng.integers(1, 4, size=shape[0])),
                              bias=frozen_array(rng.integers(-8, 8, size=shape[0])), shift=4, rounding=Rounding.FLOOR,
                              lo=out.min, hi=out.max, out=out), Fold(pe=shape[0]))
    iq = InputQuant(onnx_shape=(8,), pre=(), scale=frozen_array(1.0, np.float32),
                    zero_point=frozen_array(0.0, np.float32), dtype=in_t, narrow=False, rounding=Rounding.ROUND)
    om = OutputMap(kind=OutputKind.QUANT, onnx_shape=shape, scale=frozen_array(1.0, np.float32),
                   zero_point=frozen_array(0.0, np.float32))
    return Graph(name="packed", values=tuple(values), nodes=tuple(nodes), inputs=("x",), outputs=(prev,),
                 input_quant=iq, output_map=om)


def _csim_packed(g: Graph, tmp_path, csim_cache, x) -> None:
    """C-sim of ``g`` bit for bit against the integer reference, every matrix-vector layer at MUL_STYLE 3."""
    d = render_hls(g, vectors=reference_vectors(g))
    calls = re.findall(r"gs_mvu<([^>]*)>", d.files[f"{d.top}.cpp"])
    assert len(calls) == sum(n.kind == "matvec" for n in g.nodes)
    assert all(c.replace(" ", "").replace("\n", "").endswith(",3") for c in calls)
    out = tmp_path / "p"
    _write(d.files, out)
    y = run_csim(out, x, out_elems=g.value(g.outputs[0]).shape[0], cache_dir=csim_cache).y_int
    np.testing.assert_array_equal(y, run_integer(g, x))


def test_pack_multipliers_csim_equals_reference(tmp_path, csim_cache):
    """gs_mvu.h MUL_STYLE 3 (``mul=pack``): s4 x s4 (PE 4), u3 x u5 (PE 3: the last row alone),
    s10 x s2 (PE 5), u3 x s8 (PE 2) -- signed and unsigned inputs and weights, SIMD > 1, extremes."""
    s4, u3 = IntType(bits=4, signed=True), IntType(bits=3, signed=False)
    g = _packed_chain(s4, [("mv", "m_s4", 8, s4, 4, 2), ("rq", "r_u3", u3),
                           ("mv", "m_u5", 6, IntType(bits=5, signed=False), 3, 4),
                           ("mv", "m_s2", 10, IntType(bits=2, signed=True), 5, 3), ("rq", "r_u3b", u3),
                           ("mv", "m_s8", 4, IntType(bits=8, signed=True), 2, 5)], seed=8)
    x = np.concatenate([np.full((1, 8), -8), np.full((1, 8), 7), np.random.default_rng(9).integers(-8, 8, size=(200, 8))])
    _csim_packed(g, tmp_path, csim_cache, x)


def test_pack_multipliers_27_bits_csim_equals_reference(tmp_path, csim_cache):
    """MUL_STYLE 3 at the packed widths a DSP48E2 allows (zcu104): u8 x s8 (26 bits, PE 2),
    u8 x u8 (27 bits, PE 3: the last row alone), s8 x u8 (26 bits, PE 4); gs_mul_pack has no
    width limit of its own (ChooseImpl applies the family's)."""
    u8, s8 = IntType(bits=8, signed=False), IntType(bits=8, signed=True)
    g = _packed_chain(u8, [("mv", "m_s8", 6, s8, 2, 4), ("rq", "r_u8", u8), ("mv", "m_u8", 6, u8, 3, 3),
                           ("rq", "r_s8", s8), ("mv", "m_u8b", 4, u8, 4, 2)], seed=18)
    x = np.concatenate([np.full((1, 8), 0), np.full((1, 8), 255), np.random.default_rng(19).integers(0, 256, size=(200, 8))])
    _csim_packed(g, tmp_path, csim_cache, x)
