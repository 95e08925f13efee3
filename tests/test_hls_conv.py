"""HLS C++ backend on convolutional and residual networks (hls_templates/hls/gs_swg.h, gs_vvu.h,
gs_pool.h, gs_labelselect.h, gs_add.h, gs_concat.h, gs_dup.h; the DAG top of hls_templates/hls.py).

``compile --backend all`` writes ``hls/`` for the CNN zoo the RTL tests cover, and its C
simulation (g++ against the ap_types headers, builds cached by content) equals the reference
interpreter for every element -- and, through the host's quantizers, ``execute_onnx`` -- on
random and extreme inputs, with TopK at the output, and with the stream depths in front of
two-input stages that ``ir.schedule.fifos`` computes.
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
from gatesmith.hls_templates.hls import render_hls, unsupported
from gatesmith.hls_templates.rtl import StreamSpec
from gatesmith.ir import Fold, Graph, InputQuant, IntType, Node, OutputKind, OutputMap, Rounding, Value
from gatesmith.ir.ops import LabelSelect, frozen_array
from gatesmith.ir.schedule.fifos import fifo_depths
from gatesmith.verify import zoo
from gatesmith.verify.csim import build_csim, reference_vectors, run_csim
from gatesmith.verify.reference import run_integer

pytestmark = [pytest.mark.brevitas]

#: (zoo name, target fps at 100 MHz, kernels its top must call): the CNNs tests/test_e2e_conv.py runs
CNN = [
    ("conv_small", 50_000, {"gs_swg", "gs_mvu", "gs_pool"}),
    ("conv1d_small", 100_000, {"gs_swg", "gs_mvu"}),
    ("conv_avgpool", 50_000, {"gs_swg", "gs_mvu", "gs_pool"}),
    ("res_small", 50_000, {"gs_swg", "gs_mvu", "gs_dup", "gs_add", "gs_pool"}),
    ("concat_small", 50_000, {"gs_swg", "gs_mvu", "gs_dup", "gs_concat"}),
    ("concat_small", 500_000, {"gs_swg", "gs_mvu", "gs_dup", "gs_concat_pixel"}),  # concat pixel mode (PE = CA + CB)
    ("ds_cnn", 5_000, {"gs_swg", "gs_vvu", "gs_mvu", "gs_pool"}),
]


def _test_module(name: str):
    """A sibling test module (tests are not a package under --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location(f"gs_{name}", Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_hls = _test_module("test_hls")
#: the g++ build cache beside the RTL cache, and the flow's csim engine building into it too
csim_cache = _hls.csim_cache
_same_cache_for_the_flow = _hls._same_cache_for_the_flow
#: the exported model with ONNX TopK(k) on its output (the graph output is the indices)
_append_topk = _test_module("test_e2e_conv")._append_topk


def _csim(out: Path, q: np.ndarray, cache: Path) -> np.ndarray:
    g = load_design(out).graph
    c = int(np.prod(g.value(g.outputs[0]).shape))
    return run_csim(out / "hls", q.reshape(len(q), -1), out_elems=c, cache_dir=cache).y_int


def _calls(top_cpp: str) -> dict[str, tuple[str, list[str]]]:
    """Stage name -> (kernel, stream arguments) of each kernel call in the generated top."""
    out = {}
    for m in re.finditer(r"// stage (\w+):[^\n]*\n\s*(gs_\w+)<[^>]*>\(([^;]*)\);", top_cpp):
        out[m.group(1)] = (m.group(2), [a.strip() for a in m.group(3).split(",")])
    return out


def _depths(top_cpp: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"#pragma HLS STREAM variable=(\w+) depth=(\d+)", top_cpp)}


def _check(out: Path, model, path: Path, cache: Path, n: int) -> None:
    """C-sim == reference (integers) and == execute_onnx (floats through the host quantizers)."""
    g = load_design(out).graph
    xq, yq = reference_vectors(g, n_random=n, seed=2)  # all min, all max, alternating, random
    np.testing.assert_array_equal(_csim(out, xq, cache), yq)
    x = model.sample_with_extremes(n, seed=5)
    expect = zoo.onnx_forward(path, x)
    y, rep = simulate(out, x, engine="csim", expect=expect)
    assert rep["engine"] == "csim" and rep["build_cached"] is True  # built above
    assert rep["mismatches"] == 0, f"{rep['mismatches']} elements differ from execute_onnx"
    assert y.shape == expect.shape
    if g.output_map.kind is OutputKind.INDEX:  # TopK indices: int64 here, ONNX's float32 from execute_onnx
        np.testing.assert_array_equal(y, expect)
    else:
        assert y.dtype == expect.dtype
    y_ref, _ = simulate(out, x, engine="reference")
    np.testing.assert_array_equal(y, y_ref)


@pytest.mark.parametrize("name, fps, kernels", CNN, ids=[f"{c[0]}-{c[1]}" for c in CNN])
def test_cnn_csim_equals_reference_and_onnx(tmp_path, zoo_export, csim_cache, name, fps, kernels):
    model, path = zoo_export(name, "qonnx")
    out = compile_model(path, tmp_path / "d",
                        CompileOptions(board="pynq-z2", clock_mhz=100, target_fps=fps, backend="all"))
    m = json.loads((out / "manifest.json").read_text())
    assert "hls_skipped" not in m and (out / "rtl").is_dir()
    assert f"hls/{m['top']}.cpp" in m["hls_files"]
    # the HLS top's ports carry the RTL top's beats
    hls_man = render_hls(load_design(out).graph, top=m["top"])
    assert hls_man.in_stream == StreamSpec(**m["input"]["stream"])
    assert hls_man.out_stream == StreamSpec(**m["output"]["stream"])
    top_cpp = (out / "hls" / f"{m['top']}.cpp").read_text()
    assert {k for k, _ in _calls(top_cpp).values()} | ({"gs_dup"} if "gs_dup<" in top_cpp else set()) >= kernels
    _check(out, model, path, csim_cache, 8)
    # the shipped testbench checks itself against its vectors
    binary, cached, _ = build_csim(out / "hls", cache_dir=csim_cache)
    assert cached
    proc = subprocess.run([str(binary), str(out / "hls" / "tb_input.txt"), str(tmp_path / "o.txt"),
                           str(out / "hls" / "tb_expected.txt")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "0 mismatching elements" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["res_small", "concat_small"])
def test_merge_streams_get_the_fifo_depths(tmp_path, zoo_export, name):
    """The streams in front of the two-input stages (add, concat) are as deep as
    ir.schedule.fifos.fifo_depths says (in beats of the merge's input width), so a real
    DATAFLOW region cannot deadlock; fan-outs go through gs_dup into separate streams."""
    model, path = zoo_export(name, "qonnx")
    g = load_design(compile_model(path, tmp_path / "d", CompileOptions(
        board="pynq-z2", clock_mhz=100, target_fps=50_000, backend="hls"))).graph
    top_cpp = render_hls(g).files["gatesmith_top.cpp"]
    calls, depths = _calls(top_cpp), _depths(top_cpp)
    want = fifo_depths(g)
    assert want
    merges = {n.name for n in g.nodes if n.kind in ("add", "concat")}
    assert merges and {k.split(":")[0] for k in want} == merges
    for key, d in want.items():
        node, port = key.split(":")
        src = calls[node][1][int(port)]
        assert depths[src] == max(d, 2), (key, src)
    # every stream is written once and read once
    code = "\n".join(ln for ln in top_cpp.split("{\n", 1)[1].splitlines()
                     if not ln.lstrip().startswith(("//", "#pragma", "hls::stream")))
    for s in depths:
        assert len(re.findall(rf"\b{s}\b", code)) == 2, s


def test_topk_at_the_output(tmp_path, zoo_export, csim_cache):
    """TopK (label select) at a CNN's output: C-sim emits the indices ONNX emits."""
    model, path = zoo_export("conv1d_small", "qonnx")
    p = _append_topk(path, tmp_path / "topk.onnx", 3)
    out = compile_model(p, tmp_path / "d", CompileOptions(board="pynq-z2", clock_mhz=100, target_fps=100_000))
    assert "gs_labelselect<" in (out / "hls" / "gatesmith_top.cpp").read_text()
    _check(out, model, p, csim_cache, 12)


def _labelselect_graph(k: int, pe: int) -> Graph:
    """x:s3[10] -> labelselect(k), folded PE=pe."""
    c, in_t, idx_t = 10, IntType(bits=3, signed=True), IntType(bits=4, signed=False)
    iq = InputQuant(onnx_shape=(c,), pre=(), scale=frozen_array(1.0, np.float32),
                    zero_point=frozen_array(0.0, np.float32), dtype=in_t, narrow=False, rounding=Rounding.ROUND)
    om = OutputMap(kind=OutputKind.INDEX, onnx_shape=(k,), scale=frozen_array(1.0, np.float32),
                   zero_point=frozen_array(0.0, np.float32))
    return Graph(
        name="ls",
        values=(Value(name="x", shape=(c,), dtype=in_t), Value(name="y", shape=(k,), dtype=idx_t)),
        nodes=(Node(name="sel", op=LabelSelect(k=k, channels=c, out=idx_t), inputs=("x",), outputs=("y",),
                    origin="unit", fold=Fold(pe=pe)),),
        inputs=("x",), outputs=("y",), input_quant=iq, output_map=om,
    )


@pytest.mark.parametrize("k, pe", [(1, 1), (4, 2), (10, 5)])
def test_labelselect_ties_go_to_the_lower_index(tmp_path, csim_cache, k, pe):
    """Few values (s3), many ties: the indices of the k largest, ties to the lower index."""
    g = _labelselect_graph(k, pe)
    assert unsupported(g) == ""
    d = render_hls(g)
    hls = tmp_path / "hls"
    hls.mkdir()
    for rel, text in d.files.items():
        (hls / rel).write_text(text)
    rng = np.random.default_rng(k)
    x = np.vstack([rng.integers(-4, 4, size=(40, 10)), np.full((1, 10), 3), np.full((1, 10), -4),
                   np.arange(10)[None] % 3 - 1]).astype(np.int64)
    y = run_csim(hls, x, out_elems=k, cache_dir=csim_cache).y_int
    np.testing.assert_array_equal(y, np.asarray(run_integer(g, x)).reshape(len(x), k))
    np.testing.assert_array_equal(y, np.argsort(-x, axis=1, kind="stable")[:, :k])


def test_determinism(tmp_path, zoo_export):
    """The same model compiled twice: byte-identical hls/ files."""
    model, path = zoo_export("res_small", "qonnx")
    outs = [compile_model(path, tmp_path / f"d{i}", CompileOptions(board="pynq-z2", clock_mhz=100,
                                                                     target_fps=50_000, backend="hls"))
            for i in range(2)]
    files = [sorted(p.relative_to(o / "hls") for p in (o / "hls").rglob("*") if p.is_file()) for o in outs]
    assert files[0] == files[1] and files[0]
    for rel in files[0]:
        assert (outs[0] / "hls" / rel).read_bytes() == (outs[1] / "hls" / rel).read_bytes(), rel


def test_cnv_1w1a(tmp_path, zoo_export, csim_cache):
    """FINN's CNV-w1a1 (bipolar weights and activations, max pools): C-sim equals execute_onnx."""
    model, path = zoo_export("cnv_1w1a", "qonnx")
    out = compile_model(path, tmp_path / "d", CompileOptions(board="pynq-z2", clock_mhz=100, target_fps=2_000))
    _check(out, model, path, csim_cache, 2)


def _fanout_graph() -> Graph:
    """x:s4[2,3,4] read by three stages (two thresholds and an add, the top input fanned out
    three ways), with different foldings (width converters on the way):
    s = t1(x) - 2*t2(x), y = 3*s + x."""
    from gatesmith.ir.ops import Add, MultiThreshold

    rng = np.random.default_rng(3)
    shape, c = (2, 3, 4), 4
    s4, u2, s6, s9 = (IntType(bits=4, signed=True), IntType(bits=2, signed=False),
                      IntType(bits=6, signed=True), IntType(bits=9, signed=True))
    t1 = MultiThreshold(thresholds=frozen_array(np.sort(rng.integers(-8, 8, size=(c, 3)), axis=1)), base=0, out=u2)
    t2 = MultiThreshold(thresholds=frozen_array(np.sort(rng.integers(-8, 8, size=(c, 3)), axis=1)), base=0, out=u2)
    iq = InputQuant(onnx_shape=shape, pre=(), scale=frozen_array(1.0, np.float32),
                    zero_point=frozen_array(0.0, np.float32), dtype=s4, narrow=False, rounding=Rounding.ROUND)
    om = OutputMap(kind=OutputKind.QUANT, onnx_shape=shape, scale=frozen_array(1.0, np.float32),
                   zero_point=frozen_array(0.0, np.float32))
    return Graph(
        name="fanout",
        values=(Value(name="x", shape=shape, dtype=s4), Value(name="a", shape=shape, dtype=u2),
                Value(name="b", shape=shape, dtype=u2), Value(name="s", shape=shape, dtype=s6),
                Value(name="y", shape=shape, dtype=s9)),
        nodes=(
            Node(name="t1", op=t1, inputs=("x",), outputs=("a",), origin="unit", fold=Fold(pe=2)),
            Node(name="t2", op=t2, inputs=("x",), outputs=("b",), origin="unit", fold=Fold(pe=4)),
            Node(name="sum", op=Add(mult_a=1, mult_b=-2, channels=c, out=s6), inputs=("a", "b"),
                 outputs=("s",), origin="unit", fold=Fold(pe=1)),
            Node(name="res", op=Add(mult_a=3, mult_b=1, channels=c, out=s9), inputs=("s", "x"),
                 outputs=("y",), origin="unit", fold=Fold(pe=2)),
        ),
        inputs=("x",), outputs=("y",), input_quant=iq, output_map=om,
    )


def test_input_fanned_out_three_ways(tmp_path, csim_cache):
    """The top input read by three stages (a chain of two gs_dup), two-input stages fed through
    width converters, depths from fifo_depths: C-sim equals the reference."""
    g = _fanout_graph()
    d = render_hls(g)
    top_cpp = d.files["gatesmith_top.cpp"]
    assert top_cpp.count("gs_dup<") == 2 and top_cpp.count("gs_add<") == 2
    hls = tmp_path / "hls"
    hls.mkdir()
    for rel, text in d.files.items():
        (hls / rel).write_text(text)
    x, y = reference_vectors(g, n_random=16, seed=1)
    np.testing.assert_array_equal(run_csim(hls, x, out_elems=y.shape[1], cache_dir=csim_cache).y_int, y)


#: the rest of what tests/test_e2e_conv.py simulates in RTL (QCDQ exports included)
MORE = [("vgg10_1d", "qcdq", 20_000), ("conv_small", "qcdq", 20_000),
        pytest.param("cnv_2w2a", "qonnx", 2_000, marks=pytest.mark.slow),  # same structure as cnv_1w1a, ~100 s
        ("resnet8", "qonnx", 2_000)]


@pytest.mark.parametrize("name, fmt, fps", MORE, ids=["vgg10_1d-qcdq", "conv_small-qcdq", "cnv_2w2a-qonnx",
                                                      "resnet8-qonnx"])
def test_more_cnns_csim_equals_reference_and_onnx(tmp_path, zoo_export, csim_cache, name, fmt, fps):
    model, path = zoo_export(name, fmt)
    out = compile_model(path, tmp_path / "d",
                        CompileOptions(board="pynq-z2", clock_mhz=100, target_fps=fps, backend="all"))
    _check(out, model, path, csim_cache, 4)
