"""A corpus of bad inputs: each gives exit 2 and one pinned ``gatesmith: error:`` line, and
leaves nothing behind (no output directory, no temporary directory, no Y.npy).

The ONNX models are built by hand with ``onnx.helper``; the CLI-side cases use a tiny
hand-made design compiled once.  ``tests/test_frontend.py`` and ``tests/test_cli.py`` hold
further cases (not repeated here).
"""

from __future__ import annotations

import json
import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from gatesmith.cli import main

# ---- hand-made ONNX models -----------------------------------------------------------------


def _save(path, nodes, inits, in_shape=(1, 4), out_shape=(1, 3), opset=13, inputs=None, outputs=None):
    g = helper.make_graph(
        nodes, "g",
        inputs or [helper.make_tensor_value_info("inp", TensorProto.FLOAT, list(in_shape))],
        outputs or [helper.make_tensor_value_info("out", TensorProto.FLOAT, list(out_shape))],
        initializer=[numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def _quant(name, x, out, bits=4.0, scale=0.5, signed=1, narrow=0, zero=0.0):
    node = helper.make_node("Quant", [x, f"{name}_s", f"{name}_z", f"{name}_b"], [out], name=name,
                            domain="qonnx.custom_op.general", signed=signed, narrow=narrow, rounding_mode="ROUND")
    return node, {f"{name}_s": np.asarray(scale, np.float32), f"{name}_z": np.float32(zero),
                  f"{name}_b": np.float32(bits)}


def _layer(i, act, out, n_in, n_out, wscale=0.25, wbits=3.0, wzero=0.0, op="MatMul", gemm=None, w=None):
    """Quantized weights + MatMul (or Gemm with attributes ``gemm``) of ``act`` into ``out``."""
    qw, iw = _quant(f"QW{i}", f"W{i}", f"w{i}_q", bits=wbits, scale=wscale, zero=wzero)
    if op == "Gemm":
        mm = helper.make_node("Gemm", [act, f"w{i}_q"], [out], name=f"MM{i}", **(gemm or {}))
        wv = np.linspace(-1, 1, n_in * n_out).reshape(n_out, n_in) if w is None else w
    else:
        mm = helper.make_node("MatMul", [act, f"w{i}_q"], [out], name=f"MM{i}")
        wv = np.linspace(-1, 1, n_in * n_out).reshape(n_in, n_out) if w is None else w
    return [qw, mm], {**iw, f"W{i}": wv}


def _mlp(path, *, pre=(), tail=None, qin=None, layer=None, **kw):
    """inp -> [pre] -> Quant -> MatMul(4x3) -> tail (default Identity) -> out."""
    q0, i0 = _quant("QIn", "inp", "q_in", **(qin or {}))
    nodes, inits = [], {}
    src = "inp"
    for k, (op, const) in enumerate(pre):
        nodes.append(helper.make_node(op, [src, f"pre{k}_c"], [f"pre{k}"], name=f"Pre{k}"))
        inits[f"pre{k}_c"] = np.float32(const)
        src = f"pre{k}"
    q0.input[0] = src
    lay, il = _layer(0, "q_in", "mm_out", 4, 3, **(layer or {}))
    tail = tail if tail is not None else [helper.make_node("Identity", ["mm_out"], ["out"], name="Out")]
    return _save(path, [*nodes, q0, *lay, *tail], {**inits, **i0, **il}, **kw)


def _two_layers(path, *, between=(), mid=None, mid_scale=0.5):
    """inp -> Quant -> MatMul(4x3) -> [between] -> Quant(mid) -> MatMul(3x2) -> out."""
    q0, i0 = _quant("QIn", "inp", "q_in")
    l0, il0 = _layer(0, "q_in", "a0", 4, 3)
    t = "a0"
    nodes = []
    for k, node in enumerate(between):
        nodes.append(node)
        t = node.output[0]
    q1, i1 = _quant("QMid", t, "q_mid", scale=mid_scale, **(mid or {}))
    l1, il1 = _layer(1, "q_mid", "out", 3, 2)
    return _save(path, [q0, *l0, *nodes, q1, *l1], {**i0, **il0, **i1, **il1}, out_shape=(1, 2))


def _opset(version):
    def make(p):
        _mlp(p)
        m = onnx.load(str(p))
        m.opset_import[0].version = version
        onnx.save(m, str(p))
        return p
    return make


def _truncated(p):
    _mlp(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return p


def _missing_initializer(p):
    q0, i0 = _quant("QIn", "inp", "q_in")
    mm = helper.make_node("MatMul", ["q_in", "w_q"], ["out"], name="MM0")
    qw, iw = _quant("QW0", "W_nowhere", "w_q", bits=3.0)
    return _save(p, [q0, qw, mm], {**i0, **iw})


def _extra_input(p):
    q0, i0 = _quant("QIn", "inp", "q_in")
    lay, il = _layer(0, "q_in", "mm", 4, 3)
    add = helper.make_node("Add", ["mm", "inp2"], ["out"], name="AddIn")
    ins = [helper.make_tensor_value_info("inp", TensorProto.FLOAT, [1, 4]),
           helper.make_tensor_value_info("inp2", TensorProto.FLOAT, [1, 3])]
    return _save(p, [q0, *lay, add], {**i0, **il}, inputs=ins)


def _extra_output(p):
    q0, i0 = _quant("QIn", "inp", "q_in")
    lay, il = _layer(0, "q_in", "out", 4, 3)
    outs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3]),
            helper.make_tensor_value_info("q_in", TensorProto.FLOAT, [1, 4])]
    return _save(p, [q0, *lay], {**i0, **il}, outputs=outs)


def _branch(p):
    q0, i0 = _quant("QIn", "inp", "q_in")
    l0, il0 = _layer(0, "q_in", "a", 4, 3)
    l1, il1 = _layer(1, "q_in", "b", 4, 3)
    add = helper.make_node("Add", ["a", "b"], ["out"], name="Join")
    return _save(p, [q0, *l0, *l1, add], {**i0, **il0, **il1})


def _float_model(p):
    mm = helper.make_node("MatMul", ["inp", "W"], ["out"], name="MM0")
    return _save(p, [mm], {"W": np.ones((4, 3))})


def _mismatched_matmul(p):
    return _two_layers_mismatch(p)


def _two_layers_mismatch(p):
    q0, i0 = _quant("QIn", "inp", "q_in")
    l0, il0 = _layer(0, "q_in", "a0", 4, 3)
    q1, i1 = _quant("QMid", "a0", "q_mid")
    # second layer takes 5 inputs, the activation has 3: declared as (5, 2)
    l1, il1 = _layer(1, "q_mid", "out", 5, 2)
    return _save(p, [q0, *l0, q1, *l1], {**i0, **il0, **i1, **il1}, out_shape=(1, 2))


def _conv_after_quant(p):
    q0, i0 = _quant("QIn", "inp", "q_in")
    conv = helper.make_node("Conv", ["q_in", "K"], ["out"], name="Conv0")
    return _save(p, [q0, conv], {**i0, "K": np.ones((2, 1, 3, 3))}, in_shape=(1, 1, 4, 4), out_shape=(1, 2, 2, 2))


def _tail(op, *extra_inputs, **attrs):
    return lambda p: _mlp(p, tail=[helper.make_node(op, ["mm_out", *extra_inputs], ["out"], name="Tail0", **attrs)])


def _between(op, **attrs):
    return lambda p: _two_layers(p, between=[helper.make_node(op, ["a0"], ["t0"], name="Mid0", **attrs)])


def _concat_tail(p):
    return _mlp(p, tail=[helper.make_node("Concat", ["mm_out", "mm_out"], ["out"], name="Cat0", axis=1)],
                out_shape=(1, 6))


def _div_by_activation(p):
    div = helper.make_node("Div", ["two", "a0"], ["t0"], name="DivAct")
    p = _two_layers(p, between=[div])
    m = onnx.load(str(p))
    m.graph.initializer.append(numpy_helper.from_array(np.float32(2.0), "two"))
    onnx.save(m, str(p))
    return p


def _per_channel_mid(p):
    return _two_layers(p, mid_scale=np.array([[0.5, 0.25, 0.125]], np.float32))


_SUPPORTED = r"; supported ops: Add, ArgMax, AveragePool, BatchNormalization, .*, Transpose$"

# (id, builder(path) -> path, regex on the message after "gatesmith: error: ")
ONNX_CASES = [
    ("empty-file", lambda p: (p.write_bytes(b""), p)[1], r"^'.*bad\.onnx': the ONNX graph has no nodes \(is this an ONNX model\?\)$"),
    ("truncated", _truncated, r"^'.*bad\.onnx': not a readable ONNX model \(\w+\)$"),
    ("text-file", lambda p: (p.write_text("ir_version: 8\nthis is a text file\n"), p)[1], r"^'.*bad\.onnx': (not a readable ONNX model \(\w+\)|the ONNX graph has no nodes)"),
    ("opset-6", _opset(6), r"ONNX opset 6 is not supported \(expected 9 to 23\)$"),
    ("opset-24", _opset(24), r"ONNX opset 24 is not supported \(expected 9 to 23\)$"),
    ("opset-0", _opset(0), r"ONNX opset 0 is not supported \(expected 9 to 23\)$"),
    ("missing-initializer", _missing_initializer, r"^ONNX node 'QW0' \(Quant\): input 'W_nowhere' is not defined \(expected an initializer, a graph input or another node's output\)$"),
    ("zero-dim", lambda p: _mlp(p, in_shape=(1, 0)), r"input 'inp' has shape \[1, 0\]; expected a static shape with positive sizes$"),
    ("dynamic-feature-dim", lambda p: _mlp(p, in_shape=(1, "F")), r"input 'inp' has shape \[1, 'F'\]; expected a static shape with positive sizes$"),
    ("batch-2", lambda p: _mlp(p, in_shape=(2, 4), out_shape=(2, 3)), r"input 'inp' has batch size 2; expected 1 \(export with a batch-1 example input\)$"),
    ("two-inputs", _extra_input, r"expected exactly one graph input, found 2 \(\['inp', 'inp2'\]\)$"),
    ("two-outputs", _extra_output, r"expected exactly one graph output, found 2$"),
    ("sigmoid-before-quant", lambda p: _sigmoid_pre(p), r"^ONNX node \'Sigmoid_0\' \(Sigmoid\): op type \'Sigmoid\' is not supported before the first quantizer" + _SUPPORTED + r""),
    ("tanh-between-layers", _between("Tanh"), r"^ONNX node \'Tanh_0\' \(Tanh\): op type \'Tanh\' is not supported between a MatMul/Gemm and the next quantizer" + _SUPPORTED + r""),
    ("softmax-between-layers", _between("Softmax", axis=1), r"^ONNX node \'Softmax_0\' \(Softmax\): op type \'Softmax\' is not supported between a MatMul/Gemm and the next quantizer" + _SUPPORTED + r""),
    ("sigmoid-after-last", _tail("Sigmoid"), r"^ONNX node \'Sigmoid_0\' \(Sigmoid\): op type \'Sigmoid\' is not supported between a MatMul/Gemm and the next quantizer" + _SUPPORTED + r""),
    ("concat-after-last", _concat_tail, r"^ONNX node \'Concat_0\' \(Concat\): op type \'Concat\' is not supported between a MatMul/Gemm and the next quantizer" + _SUPPORTED + r""),
    ("conv-float-weights", _conv_after_quant, r"^ONNX node \'Conv_0\' \(Conv\): expected weights from a Quant/BipolarQuant of a constant tensor \(input \'Conv_0_param0\' is an unquantized constant\)$"),
    ("weight-zero-point", lambda p: _mlp(p, layer={"wzero": 1.0}), r"^ONNX node 'Quant_1' \(Quant\): zero point \[1\.0\] is not supported; expected 0$"),
    ("bits-2.5", lambda p: _mlp(p, qin={"bits": 2.5}), r"^ONNX node 'Quant_0' \(Quant\): expected an integer scalar bit width, got 2\.5$"),
    ("weight-bits-0", lambda p: _mlp(p, layer={"wbits": 0.0}), r"^ONNX node 'Quant_1' \(Quant\): bit width 0 is not supported; expected 1 to 24$"),
    ("weight-bits-25", lambda p: _mlp(p, layer={"wbits": 25.0}), r"^ONNX node 'Quant_1' \(Quant\): bit width 25 is not supported; expected 1 to 24$"),
    ("weight-scale-nan", lambda p: _mlp(p, layer={"wscale": float("nan")}), r"^ONNX node 'Quant_1' \(Quant\): scale values \[nan\] are not supported; expected finite positive scales$"),
    ("weight-scale-inf", lambda p: _mlp(p, layer={"wscale": float("inf")}), r"^ONNX node 'Quant_1' \(Quant\): scale values \[inf\] are not supported; expected finite positive scales$"),
    ("weight-scale-negative", lambda p: _mlp(p, layer={"wscale": -0.25}), r"^ONNX node 'Quant_1' \(Quant\): scale values \[-0\.25\] are not supported; expected finite positive scales$"),
    ("weight-scale-zero", lambda p: _mlp(p, layer={"wscale": 0.0}), r"^ONNX node 'Quant_1' \(Quant\): scale values \[0\.0\] are not supported; expected finite positive scales$"),
    ("mismatched-matmul", _mismatched_matmul, r"^ONNX node 'MatMul_1' \(MatMul\): weights take 5 inputs, but the activation has 3$"),
    ("branch", _branch, r"^ONNX node 'Add_0' \(Add\): combines two unquantized tensors; expected each input of a residual Add to come from a quantizer$"),
    ("gemm-alpha-2", lambda p: _mlp(p, layer={"op": "Gemm", "gemm": {"alpha": 2.0, "transB": 1}}), r"^ONNX node 'Gemm_0' \(Gemm\): expected alpha=1, beta=1, transA=0, got alpha=2\.0, beta=1\.0, transA=0$"),
    ("gemm-transA", lambda p: _mlp(p, layer={"op": "Gemm", "gemm": {"transA": 1, "transB": 1}}), r"^ONNX node 'Gemm_0' \(Gemm\): expected alpha=1, beta=1, transA=0, got alpha=1\.0, beta=1\.0, transA=1$"),
    ("gemm-beta-0.5", lambda p: _mlp(p, layer={"op": "Gemm", "gemm": {"beta": 0.5, "transB": 1}}), r"^ONNX node 'Gemm_0' \(Gemm\): expected alpha=1, beta=1, transA=0, got alpha=1\.0, beta=0\.5, transA=0$"),
    ("per-channel-activation", _per_channel_mid, r"^ONNX node 'Quant_3' \(Quant\): expected a per-tensor scale for an activation feeding a MatMul/Gemm$"),
    ("float-model", _float_model, r"^ONNX node \'MatMul_0\' \(MatMul\): op type \'MatMul\' is not supported before the first quantizer "
     r"\(the model does not quantize this layer\'s input; --calibration X\.npy or --fixed-range proven give "
     r"unquantized tensors fixed-point formats\)" + _SUPPORTED + r""),
    ("div-by-activation", _div_by_activation, r"^ONNX node 'Div_0' \(Div\): dividing a constant by the activation is not supported$"),
]


def _sigmoid_pre(p):
    q0, i0 = _quant("QIn", "sig", "q_in")
    sig = helper.make_node("Sigmoid", ["inp"], ["sig"], name="Sig0")
    lay, il = _layer(0, "q_in", "out", 4, 3)
    return _save(p, [sig, q0, *lay], {**i0, **il})



def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(code, err, pattern):
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gatesmith: error: "), err
    msg = lines[0][len("gatesmith: error: "):]
    assert re.search(pattern, msg), msg


def _leftovers(d, keep=()):
    return sorted(x.name for x in d.iterdir() if x.name not in keep)


@pytest.mark.parametrize("build, pattern", [c[1:] for c in ONNX_CASES], ids=[c[0] for c in ONNX_CASES])
def test_bad_onnx(tmp_path, capsys, build, pattern):
    model = build(tmp_path / "bad.onnx")
    code, out, err = _run(["compile", model, "-o", tmp_path / "o"], capsys)
    _one_error_line(code, err, pattern)
    assert out == ""
    assert _leftovers(tmp_path) == ["bad.onnx"]


# ---- command-line options and files ---------------------------------------------------------


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    """(model, compiled design dir) of the hand-made 4 -> 3 MLP."""
    d = tmp_path_factory.mktemp("design")
    model = _mlp(d / "m.onnx")
    assert main(["compile", str(model), "-o", str(d / "out")]) == 0
    return model, d / "out"


def _folding(layers):
    return json.dumps({"version": 1, "layers": layers})


COMPILE_CASES = [
    # (id, extra argv ({t} = tmp dir), files to write {name: text}, regex)
    ("folding-negative-pe", ["--folding", "{t}/f.json"], {"f.json": _folding({"mvu0": {"pe": -1, "simd": 1}})}, r"^layer 'mvu0': PE=-1 must be a positive divisor of 3 \(valid: \[1, 3\]\)$"),
    ("folding-float-simd", ["--folding", "{t}/f.json"], {"f.json": _folding({"mvu0": {"pe": 1, "simd": 1.5}})}, r"^--folding '.*f\.json': layer 'mvu0': simd must be an integer, got 1\.5$"),
    ("folding-impossible-simd", ["--folding", "{t}/f.json"], {"f.json": _folding({"mvu0": {"pe": 1, "simd": 3}})}, r"^layer 'mvu0': SIMD=3 must be a positive divisor of 4 \(valid: \[1, 2, 4\]\)$"),
    ("folding-unknown-layer", ["--folding", "{t}/f.json"], {"f.json": _folding({"mvu7": {"pe": 1, "simd": 1}})}, r"^folding names layer 'mvu7', which the design does not have; expected one of \['mvu0'\]$"),
    ("folding-unknown-key", ["--folding", "{t}/f.json"], {"f.json": _folding({"mvu0": {"pe": 1, "simd": 1, "ii": 2}})}, r"^--folding '.*f\.json': layer 'mvu0': unknown key 'ii' \(expected pe, simd\)$"),
    ("folding-not-json", ["--folding", "{t}/f.json"], {"f.json": "{pe: 1"}, r"^--folding '.*f\.json': not valid JSON \(Expecting property name enclosed in double quotes at line 1\)$"),
    ("folding-string-pe", ["--folding", "{t}/f.json"], {"f.json": _folding({"mvu0": {"pe": "1", "simd": 1}})}, r"^--folding '.*f\.json': layer 'mvu0': pe must be an integer, got '1'$"),
    ("board-empty", ["--board", ""], {}, r"^unknown board ''; expected one of .*\bpynq-z2\b"),
    ("board-path", ["--board", "../boards/pynq-z2"], {}, r"^unknown board '\.\./boards/pynq-z2'; expected one of .*\bpynq-z2\b"),
    ("requant-uppercase", ["--requant", "THRESHOLD"], {}, r"^--requant 'THRESHOLD': expected one of auto, threshold, shift, dyadic$"),
    ("clock-nan", ["--clock-mhz", "nan"], {}, r"^--clock-mhz nan: expected a frequency in \(0, 1000\] MHz$"),
    ("target-fps-inf", ["--target-fps", "inf"], {}, r"^--target-fps inf: expected a positive number$"),
]


@pytest.mark.parametrize("extra, files, pattern", [c[1:] for c in COMPILE_CASES], ids=[c[0] for c in COMPILE_CASES])
def test_bad_compile_options(design, tmp_path, capsys, extra, files, pattern):
    model, _ = design
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    argv = ["compile", model, "-o", tmp_path / "o", *[a.format(t=tmp_path) for a in extra]]
    code, _, err = _run(argv, capsys)
    _one_error_line(code, err, pattern)
    assert _leftovers(tmp_path) == sorted(files)


def test_output_under_a_file(design, tmp_path, capsys):
    model, _ = design
    (tmp_path / "plain").write_text("x")
    code, _, err = _run(["compile", model, "-o", tmp_path / "plain" / "o"], capsys)
    _one_error_line(code, err, r"^cannot create '.*plain/o': parent directory '.*plain' is not a directory$")
    assert (tmp_path / "plain").read_text() == "x"


def test_output_in_unwritable_directory(design, capsys):
    model, _ = design
    code, _, err = _run(["compile", model, "-o", "/proc/gatesmith_o"], capsys)
    _one_error_line(code, err, r"^cannot create '/proc/gatesmith_o': (directory '/proc' is not writable|cannot write "
                               r"in directory '/proc' \(.*\))$")


def _save_npy(path, arr):
    np.save(path, arr, allow_pickle=True)


SIM_CASES = [
    # (id, writes X into the path or None, regex)
    ("x-missing", None, r"^--input '.*x\.npy': no such file$"),
    ("x-not-npy", lambda p: p.write_text("1,2,3,4\n"), r"^--input '.*x\.npy': not a readable \.npy array \(ValueError\)$"),
    ("x-empty-file", lambda p: p.write_bytes(b""), r"^--input '.*x\.npy': not a readable \.npy array \(EOFError\)$"),
    ("x-truncated", lambda p: p.write_bytes(_npy_bytes(np.zeros((8, 4), np.float32))[:100]), r"^--input '.*x\.npy': not a readable \.npy array \(ValueError\)$"),
    ("x-object", lambda p: _save_npy(p, np.array([[1, 2, 3, None]], dtype=object)), r"^--input '.*x\.npy': not a readable \.npy array \(ValueError\)$"),
    ("x-complex", lambda p: _save_npy(p, np.zeros((2, 4), np.complex64)), r"^--input '.*x\.npy': expected a numeric array, got dtype complex64$"),
    ("x-bool", lambda p: _save_npy(p, np.zeros((2, 4), bool)), r"^--input '.*x\.npy': expected a numeric array, got dtype bool$"),
    ("x-1d", lambda p: _save_npy(p, np.zeros(4, np.float32)), r"^--input '.*x\.npy': expected shape \(N, 4\) with N >= 1, got \(4,\)$"),
    ("x-3d", lambda p: _save_npy(p, np.zeros((2, 1, 4), np.float32)), r"^--input '.*x\.npy': expected shape \(N, 4\) with N >= 1, got \(2, 1, 4\)$"),
    ("x-0-batch", lambda p: _save_npy(p, np.zeros((0, 4), np.float32)), r"^--input '.*x\.npy': expected shape \(N, 4\) with N >= 1, got \(0, 4\)$"),
    ("x-inf", lambda p: _save_npy(p, np.array([[0, 1, np.inf, 0]], np.float32)), r"^--input '.*x\.npy': contains NaN or infinite values$"),
    ("x-scalar", lambda p: _save_npy(p, np.float32(1)), r"^--input '.*x\.npy': expected shape \(N, 4\) with N >= 1, got \(\)$"),
]


def _npy_bytes(arr):
    import io

    b = io.BytesIO()
    np.save(b, arr)
    return b.getvalue()


@pytest.mark.parametrize("write, pattern", [c[1:] for c in SIM_CASES], ids=[c[0] for c in SIM_CASES])
def test_bad_sim_inputs(design, tmp_path, capsys, write, pattern):
    _, out = design
    xp = tmp_path / "x.npy"
    if write is not None:
        write(xp)
    code, _, err = _run(["sim", out, "--input", xp, "--output", tmp_path / "y.npy", "--engine", "reference"], capsys)
    _one_error_line(code, err, pattern)
    assert _leftovers(tmp_path) == (["x.npy"] if write is not None else [])


def test_sim_expect_of_wrong_shape(design, tmp_path, capsys):
    _, out = design
    np.save(tmp_path / "x.npy", np.zeros((2, 4), np.float32))
    np.save(tmp_path / "e.npy", np.zeros((2, 4), np.float32))
    code, _, err = _run(["sim", out, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy",
                         "--engine", "reference", "--expect", tmp_path / "e.npy"], capsys)
    _one_error_line(code, err, r"^--expect: expected shape \(2, 3\) \(the model's output\), got \(2, 4\)$")
    assert _leftovers(tmp_path) == ["e.npy", "x.npy"]


# ---- interrupted compiles leave nothing behind ----------------------------------------------


def _interrupt_after(calls):
    count = {"n": 0}

    def hook(*args, **kwargs):
        count["n"] += 1
        if count["n"] == calls + 1:
            raise KeyboardInterrupt
        return hook.orig(*args, **kwargs)

    return hook


# a compile into a new directory renames once, so "replace-2" exists only with --force
@pytest.mark.parametrize(
    "where, force",
    [(w, f) for w in ("render", "write", "replace-1", "replace-2") for f in (False, True) if f or w != "replace-2"],
)
def test_interrupted_compile_leaves_nothing(design, tmp_path, capsys, monkeypatch, where, force):
    import os
    import pathlib

    import gatesmith.hls_templates.rtl as rtl

    model, _ = design
    out = tmp_path / "o"
    if force:
        out.mkdir()
        (out / "keep.txt").write_text("old")
    if where == "render":
        hook = _interrupt_after(0)
        hook.orig = rtl.render_rtl
        monkeypatch.setattr(rtl, "render_rtl", hook)
    elif where == "write":  # midway through writing the temporary tree
        hook = _interrupt_after(3)
        hook.orig = pathlib.Path.write_text
        monkeypatch.setattr(pathlib.Path, "write_text", hook)
    else:  # the renames into place (the second one exists with --force only)
        hook = _interrupt_after(int(where[-1]) - 1)
        hook.orig = os.replace
        monkeypatch.setattr(os, "replace", hook)
    argv = ["compile", model, "-o", out] + (["--force"] if force else [])
    code, _, err = _run(argv, capsys)
    assert code == 130 and err == "gatesmith: interrupted\n"
    assert _leftovers(tmp_path) == (["o"] if force else [])
    if force:
        assert [x.name for x in out.iterdir()] == ["keep.txt"]


def test_ctrl_c_inside_an_import_is_an_interruption(monkeypatch, capsys):
    # Ctrl-C while an extension module initialises reaches the command as that module's
    # ImportError, with the KeyboardInterrupt as its context: still "interrupted", 130
    from gatesmith import cli

    def command(_a):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ImportError("initialization failed")  # noqa: B904 - the implicit context is the point

    monkeypatch.setitem(cli._COMMANDS, "boards", command)
    assert cli.main(["boards"]) == 130
    assert capsys.readouterr().err == "gatesmith: interrupted\n"


@pytest.mark.brevitas
def test_sigint_during_a_real_compile_leaves_nothing(zoo_export, tmp_path):
    """A real SIGINT to a `gatesmith compile` subprocess at several moments: it exits 130 with
    one line and leaves no output directory or temporary sibling behind, or (signal after the
    end) it finished and the output is complete."""
    import signal
    import subprocess
    import sys
    import time

    _, path = zoo_export("cnv_1w1a", None)
    argv = [sys.executable, "-m", "gatesmith.cli", "compile", str(path), "--target-fps", "2000", "-o"]
    # the moments are shares of an uninterrupted run on this machine now (a fixed delay can
    # outlast the whole compile on a fast or idle machine); imports take the first ~10%
    # (the faster of two runs: under a loaded CI one slow run put every moment after the end)
    whole = float("inf")
    for k in range(2):
        t0 = time.perf_counter()
        subprocess.run([*argv, str(tmp_path / f"whole{k}")], capture_output=True, check=True, timeout=300)
        whole = min(whole, time.perf_counter() - t0)
    interrupted = 0
    # 0.12: while the first modules import (an interrupted extension module's import used to end
    # the process by SIGINT, status -2, after the command had reported the interruption)
    for k, share in enumerate((0.12, 0.35, 0.55, 0.75, 0.95)):
        out = tmp_path / f"o{k}"
        p = subprocess.Popen([*argv, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(share * whole)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=300)
        leftovers = [q.name for q in tmp_path.iterdir() if q.name.startswith(f".o{k}.")]
        assert not leftovers, leftovers
        if p.returncode == 130:
            interrupted += 1
            assert err == "gatesmith: interrupted\n", err
            assert not out.exists()
        else:
            assert p.returncode == 0, err
            assert (out / "manifest.json").is_file() and (out / "reports" / "estimate.json").is_file()
    assert interrupted >= 1
