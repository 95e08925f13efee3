"""Fixed-point formats for tensors a model leaves unquantized (frontend/fixedpoint.py):
format choice, the quantized model (OUT/model_fixed.onnx) as the specification the RTL equals,
the error against the float model, options and their errors, ir.txt and the CLI."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from gatesmith.cli import main
from gatesmith.flow import CompileOptions, FlowError, compile_model, simulate
from gatesmith.frontend import FrontendError
from gatesmith.frontend.fixedpoint import FixedFormat, choose_format, make_fixed_point
from gatesmith.frontend.load import load_model
from gatesmith.verify import zoo

pytestmark = [pytest.mark.brevitas]


# ------------------------------------------------------------------------------------------ models


def _hand_model(path, w2=None):
    """x (1, 4) -> MatMul W1 -> Relu -> MatMul W2 -> y (1, 2): float weights exact in 8 bits."""
    w1 = np.array([[1, 0.5], [1, -0.5], [0, 0], [0, 0]], np.float32)
    w2 = np.eye(2, dtype=np.float32) if w2 is None else w2
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="mm2")]
    g = helper.make_graph(nodes, "hand", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
                          [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


#: calibration of the hand model: input range [-2, 1]; after the first layer and Relu [0, 1]
_HAND_X = np.array([[1, 0, 0, 0], [0, -2, 0, 0]], np.float32)


def _float_mlp(path, seed=0, sizes=(12, 24, 16, 5)):
    """A plain torch MLP (nn.Linear + ReLU), exported with torch.onnx.export."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    m = nn.Sequential(*layers[:-1]).eval()
    torch.onnx.export(m, torch.zeros(1, sizes[0]), str(path), dynamo=False, opset_version=13)
    return path


def _brevitas(path, kind):
    """Brevitas models with unquantized parts: ``bias`` (float biases of quantized layers), ``bn``
    (a BatchNorm whose output feeds the next layer unquantized), ``mixed`` (a plain nn.Linear
    between two quantized activations)."""
    import brevitas.nn as qnn
    import torch
    from brevitas.export import export_qonnx
    from torch import nn

    torch.manual_seed(1)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = qnn.QuantIdentity(bit_width=4)
            self.l1 = nn.Linear(8, 16) if kind == "mixed" else qnn.QuantLinear(8, 16, bias=True, weight_bit_width=4)
            self.r = qnn.QuantReLU(bit_width=4)
            self.bn = nn.BatchNorm1d(16) if kind == "bn" else nn.Identity()
            self.l2 = qnn.QuantLinear(16, 4, bias=True, weight_bit_width=4)

        def forward(self, x):
            return self.l2(self.bn(self.r(self.l1(self.q(x)))))

    m = M()
    if kind == "bn":
        with torch.no_grad():
            m.bn.running_mean.uniform_(0, 1)
            m.bn.running_var.uniform_(0.5, 2)
            m.bn.weight.uniform_(0.5, 1.5)
            m.bn.bias.uniform_(-0.5, 0.5)
    m.eval()
    export_qonnx(m, torch.zeros(1, 8), str(path), dynamo=False)
    return path


def _inputs(n, width, seed=0, scale=1.0):
    return (np.random.default_rng(seed).normal(size=(n, width)) * scale).astype(np.float32)


# ---------------------------------------------------------------------------------- format choice


@pytest.mark.parametrize("lo, hi, bits, expect", [
    (0.0, 1.68, 16, "ufixed<16,1>"),       # 65535 / 2^15 = 1.99997
    (-0.241, 0.226, 8, "fixed<8,-1>"),     # -128 / 2^9 = -0.25
    (-1.0, 1.0, 8, "fixed<8,2>"),          # 127 / 2^7 < 1: one more integer bit
    (-1.0, 127 / 128, 8, "fixed<8,1>"),    # exactly the top of fixed<8,1>
    (-2.0, 127 / 64, 8, "fixed<8,2>"),     # exactly both ends of fixed<8,2>
    (0.0, 255.0, 8, "ufixed<8,8>"),
    (0.0, 256.0, 8, "ufixed<8,9>"),        # scale 2: 255 * 2 = 510
    (-3e-5, 1e-5, 4, "fixed<4,-14>"),      # -8 * 2^-18 = -3.05e-5
    (0.0, 0.0, 8, "ufixed<8,1>"),          # nothing to cover
])
def test_choose_format_hand_checked(lo, hi, bits, expect):
    f = choose_format(lo, hi, bits)
    assert str(f) == expect
    assert f.covers(lo, hi)


def test_choose_format_rejects_bad_ranges():
    with pytest.raises(ValueError, match=r"expected a finite range lo <= hi, got \[1.0, 0.0\]"):
        choose_format(1.0, 0.0, 8)
    with pytest.raises(ValueError, match="expected a finite range"):
        choose_format(float("nan"), 1.0, 8)


@settings(max_examples=300, deadline=None)
@given(st.floats(-1e6, 1e6, allow_nan=False), st.floats(0, 1e6, allow_nan=False), st.integers(2, 24))
def test_format_covers_range_and_one_fraction_bit_more_would_not(lo, width, bits):
    hi = lo + width
    if lo == 0 and hi == 0:
        return
    f = choose_format(lo, hi, bits)
    assert f.bits == bits and f.signed == (lo < 0)
    assert f.covers(lo, hi)
    finer = FixedFormat(bits=bits, frac=f.frac + 1, signed=f.signed)
    assert f.frac == 64 or not finer.covers(lo, hi)  # (scales stop at 2^-64)
    assert f.lo == f.qmin * 2.0 ** -f.frac and f.hi == f.qmax * 2.0 ** -f.frac


# ------------------------------------------------------------------------ ranges on a hand model


def _formats(res):
    return {t.tensor: (str(t.fmt), t.lo, t.hi, t.source) for t in res.tensors}


def test_proven_ranges_hand_checked(tmp_path):
    res = make_fixed_point(load_model(_hand_model(tmp_path / "h.onnx")), bits=8, range_mode="proven",
                           calibration=_HAND_X)
    f = _formats(res)
    # input [-2, 1] -> fixed<8,2> ([-2, 127/64]); weights [-0.5, 1] -> fixed<8,2>; W2 [0, 1] -> ufixed<8,1>
    assert f["global_in"] == ("fixed<8,2>", -2.0, 1.0, "calibration input")
    w1, w2 = [t for t in res.tensors if t.role == "weights"]
    assert (str(w1.fmt), w1.lo, w1.hi) == ("fixed<8,2>", -0.5, 1.0)
    assert (str(w2.fmt), w2.lo, w2.hi) == ("ufixed<8,1>", 0.0, 1.0)
    # every input the format holds: h0 = x0 + x1 <= 2 * 127/64 -> Relu range [0, 3.96875] -> ufixed<8,2>
    (act,) = [t for t in res.tensors if t.role == "activation"]
    assert (str(act.fmt), act.lo, act.hi, act.source) == ("ufixed<8,2>", 0.0, 3.96875, "proven")
    assert [t.role for t in res.tensors] == ["input", "weights", "activation", "weights"]


def test_calibrated_ranges_and_saturation(tmp_path):
    res = make_fixed_point(load_model(_hand_model(tmp_path / "h.onnx")), bits=8, range_mode="calibrated",
                           calibration=_HAND_X)
    (act,) = [t for t in res.tensors if t.role == "activation"]
    assert (str(act.fmt), act.lo, act.hi, act.source) == ("ufixed<8,1>", 0.0, 1.0, "calibrated")
    assert res.error["max_abs"] == 0.0  # the weights and calibration inputs are exact in 8 bits
    fixed = tmp_path / "fixed.onnx"
    res.model.save(str(fixed))
    # outside the calibrated range the quantizers saturate: x0 = 3 clips to 127/64 at the input
    # (h = (127/64, 127/128)); h0 = 1.5 + 1.5 = 3 clips to 255/128 after the Relu
    y = zoo.onnx_forward(fixed, np.array([[3, 0, 0, 0], [1.5, 1.5, 0, 0]], np.float32))
    np.testing.assert_array_equal(y, np.array([[1.984375, 0.9921875], [1.9921875, 0.0]], np.float32))


def test_proven_needs_a_bound_for_every_op(tmp_path):
    m = onnx.load(str(_hand_model(tmp_path / "h.onnx")))
    for n in m.graph.node:
        if n.op_type == "Relu":
            n.op_type = "Exp"
            n.name = "exp"
    onnx.save(m, str(tmp_path / "e.onnx"))
    with pytest.raises(FrontendError) as e:
        make_fixed_point(load_model(tmp_path / "e.onnx"), bits=8, range_mode="proven", calibration=_HAND_X)
    assert str(e.value) == ("--fixed-range proven: ONNX node 'Exp_0' (Exp): no interval rule for this op (needed "
                            "for the format of 'Exp_0_out0'); use --fixed-range calibrated")


def test_proven_range_restarts_at_a_quantizer(tmp_path):
    """An op without an interval rule before one of the model's own quantizers does not matter:
    the quantizer bounds its output whatever its input."""
    w1 = np.array([[1, 0.5], [1, -0.5]], np.float32)
    nodes = [helper.make_node("Exp", ["x"], ["e"], name="exp"),
             helper.make_node("Quant", ["e", "s", "z", "b"], ["q"], name="q", domain="qonnx.custom_op.general",
                              signed=1, narrow=0, rounding_mode="ROUND"),
             helper.make_node("MatMul", ["q", "w1"], ["h"], name="mm"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "w1"], ["y"], name="mm2")]
    inits = [numpy_helper.from_array(np.float32(v), n) for n, v in (("s", 0.25), ("z", 0.0), ("b", 4.0))]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
                          inits + [numpy_helper.from_array(w1, "w1")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "q.onnx"))
    res = make_fixed_point(load_model(tmp_path / "q.onnx"), bits=8, range_mode="proven")
    # q in [-2, 1.75] (4 bits, scale 1/4): h0 = q0 + q1 in [-4, 3.5] -> Relu [0, 3.5] -> ufixed<8,2>
    assert [(t.role, str(t.fmt), t.hi) for t in res.tensors] == [
        ("weights", "fixed<8,2>", 1.0), ("activation", "ufixed<8,2>", 3.5), ("weights", "fixed<8,2>", 1.0)]


# ------------------------------------------------------------------- float model: RTL == fixed ONNX


@pytest.fixture(scope="module")
def float_mlp(tmp_path_factory):
    d = tmp_path_factory.mktemp("fx")
    path = _float_mlp(d / "mlp.onnx")
    x = _inputs(200, 12, seed=1)
    np.save(d / "calib.npy", x)
    return path, x, d


@pytest.mark.rtl
def test_float_mlp_calibrated_rtl_equals_fixed_onnx(float_mlp, tmp_path, rtl_cache):
    path, x, d = float_mlp
    out = compile_model(path, tmp_path / "o", CompileOptions(calibration=d / "calib.npy", fixed_range="calibrated",
                                                             target_fps=2e6))
    fixed = out / "model_fixed.onnx"
    assert fixed.is_file()
    # test inputs: fresh samples, and wider ones that saturate the calibrated formats
    xt = np.concatenate([_inputs(48, 12, seed=2), _inputs(16, 12, seed=3, scale=4.0)])
    expect = zoo.onnx_forward(fixed, xt)
    y, rep = simulate(out, xt, engine="rtl", backpressure=True, seed=2, expect=expect)
    assert rep["mismatches"] == 0, f"{rep['mismatches']} elements differ from execute_onnx on model_fixed.onnx"
    assert np.abs(y - expect).max() <= 1e-5 * max(1.0, np.abs(expect).max())
    # the error against the float model, on the calibration inputs, is reported and small
    err = json.loads((out / "reports" / "estimate.json").read_text())["fixed_point"]["error_vs_float"]
    ref = zoo.onnx_forward(path, x)
    got = zoo.onnx_forward(fixed, x)
    assert err["inputs"] == 200
    assert err["max_abs"] == pytest.approx(float(np.abs(ref - got).max()), rel=1e-6)
    assert err["max_abs"] < 0.05 * err["max_abs_float_output"]
    assert err["argmax_agreement"] >= 0.95
    m = json.loads((out / "manifest.json").read_text())["fixed_point"]
    assert m["range"] == "calibrated" and m["bits"] == 8
    assert [t["role"] for t in m["tensors"]].count("weights") == 3
    assert all(t["layer"] for t in m["tensors"])


def test_float_mlp_proven_reference_equals_fixed_onnx(float_mlp, tmp_path):
    path, x, d = float_mlp
    out = compile_model(path, tmp_path / "o", CompileOptions(calibration=x, fixed_range="proven", fixed_bits=8))
    fixed = out / "model_fixed.onnx"
    xt = np.concatenate([_inputs(64, 12, seed=4), _inputs(16, 12, seed=5, scale=4.0)])
    expect = zoo.onnx_forward(fixed, xt)
    _, rep = simulate(out, xt, engine="reference", expect=expect)
    assert rep["mismatches"] == 0
    m = json.loads((out / "manifest.json").read_text())["fixed_point"]
    acts = [t for t in m["tensors"] if t["role"] == "activation"]
    assert acts and all(t["range_source"] == "proven" for t in acts)
    # proven ranges hold for every input the input format can represent: no activation saturates
    inp = next(t for t in m["tensors"] if t["role"] == "input")
    fmt = FixedFormat(bits=8, frac=inp["frac_bits"], signed=inp["signed"])
    extreme = np.random.default_rng(6).choice([fmt.lo, fmt.hi], size=(64, 12)).astype(np.float32)
    ctx_names = [t["tensor"] for t in acts]
    from gatesmith.frontend.fixedpoint import _run

    ctx = _run(load_model(path), extreme, ctx_names)
    for t in acts:
        f = FixedFormat(bits=t["bits"], frac=t["frac_bits"], signed=t["signed"])
        assert f.covers(float(ctx[t["tensor"]].min()), float(ctx[t["tensor"]].max()))
    err = json.loads((out / "reports" / "estimate.json").read_text())["fixed_point"]["error_vs_float"]
    # wider (proven) formats than calibrated ones: a larger error, still small
    assert err["max_abs"] < 0.1 * err["max_abs_float_output"] and err["argmax_agreement"] >= 0.9


def test_ir_txt_lists_formats_per_layer(float_mlp, tmp_path):
    path, x, d = float_mlp
    out = compile_model(path, tmp_path / "o", CompileOptions(calibration=x, fixed_range="calibrated"))
    lines = [ln.strip() for ln in (out / "ir.txt").read_text().splitlines() if ln.strip().startswith("fixed ")]
    m = json.loads((out / "manifest.json").read_text())["fixed_point"]["tensors"]
    assert len(lines) == len(m) == 6  # input, 3 weights, 2 activations
    assert lines[0].startswith("fixed @host_in input 'global_in' fixed<8,")
    assert any(ln.startswith("fixed @mvu0 weights ") for ln in lines)
    assert any(ln.startswith("fixed @rq0 activation ") and ln.endswith(" calibrated") for ln in lines)
    # the report's layer table and summary show them
    from gatesmith.report import build_report

    html = build_report(out).read_text()
    assert "<th>fixed point</th>" in html and "weights fixed&lt;8," in html and "activation ufixed&lt;8," in html
    assert "calibrated ranges; input fixed&lt;8," in html and "argmax agreement" in html
    # the same model compiled twice: the same bytes
    out2 = compile_model(path, tmp_path / "o2", CompileOptions(calibration=x, fixed_range="calibrated"))
    for rel in ("model_fixed.onnx", "ir.txt", "manifest.json"):
        assert (out / rel).read_bytes() == (out2 / rel).read_bytes(), rel


@pytest.mark.parametrize("mode", ["calibrated", "proven"])
def test_float_cnn(tmp_path, mode):
    """Conv + BatchNorm + ReLU + MaxPool + Conv + ReLU + Linear in float: the quantizer after each
    ReLU sits before the MaxPool (they commute); the design equals the quantized model."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(4, 6, 3), nn.ReLU(), nn.Flatten(), nn.Linear(24, 3)).eval()
    with torch.no_grad():
        m[1].running_mean.uniform_(-0.2, 0.2)
        m[1].running_var.uniform_(0.5, 2)
    torch.onnx.export(m, torch.zeros(1, 2, 8, 8), str(tmp_path / "cnn.onnx"), dynamo=False, opset_version=13)
    x = np.random.default_rng(0).normal(size=(64, 2, 8, 8)).astype(np.float32)
    out = compile_model(tmp_path / "cnn.onnx", tmp_path / "o", CompileOptions(calibration=x, fixed_range=mode,
                                                                             backend="rtl"))
    fx = json.loads((out / "manifest.json").read_text())["fixed_point"]
    assert [(t["role"], t["layer"]) for t in fx["tensors"]] == [
        ("input", "host_in"), ("weights", "mvu0"), ("activation", "rq0"), ("weights", "mvu2"),
        ("activation", "rq2"), ("weights", "mvu3")]
    assert fx["tensors"][2]["tensor"] == "Relu_0_out0"  # before the MaxPool
    xt = np.random.default_rng(1).normal(size=(24, 2, 8, 8)).astype(np.float32) * 2
    expect = zoo.onnx_forward(out / "model_fixed.onnx", xt)
    _, rep = simulate(out, xt, engine="reference", expect=expect)
    assert rep["mismatches"] == 0
    err = fx["error_vs_float"]
    assert err["max_abs"] < 0.1 * err["max_abs_float_output"] and err["argmax_agreement"] >= 0.9


def test_float_residual_block(tmp_path):
    """A float residual add: both of its inputs get a format (the add takes two integer streams),
    the sum's ReLU feeds the last layer through its own; the design equals the quantized model."""
    import torch
    from torch import nn

    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.c0, self.c1, self.c2 = nn.Conv2d(2, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 1)
            self.fc = nn.Linear(4 * 6 * 6, 3)

        def forward(self, x):
            a = torch.relu(self.c0(x))
            return self.fc(torch.flatten(torch.relu(self.c2(torch.relu(self.c1(a))) + a), 1))

    torch.manual_seed(0)
    torch.onnx.export(Res().eval(), torch.zeros(1, 2, 6, 6), str(tmp_path / "res.onnx"), dynamo=False, opset_version=13)
    x = np.random.default_rng(0).normal(size=(64, 2, 6, 6)).astype(np.float32)
    out = compile_model(tmp_path / "res.onnx", tmp_path / "o", CompileOptions(calibration=x, backend="rtl"))
    fx = json.loads((out / "manifest.json").read_text())["fixed_point"]
    assert [t["role"] for t in fx["tensors"]].count("activation") == 4  # relu(c0), relu(c1), c2, relu(sum)
    assert fx["range"] == "proven"
    xt = np.random.default_rng(1).normal(size=(16, 2, 6, 6)).astype(np.float32) * 2
    expect = zoo.onnx_forward(out / "model_fixed.onnx", xt)
    _, rep = simulate(out, xt, engine="reference", expect=expect)
    assert rep["mismatches"] == 0
    assert fx["error_vs_float"]["argmax_agreement"] >= 0.9


# -------------------------------------------------------------------------- Brevitas models


def test_float_bias_stays_exact_without_any_quantizer(tmp_path):
    """A float bias (and a float output layer) needs no format: the chain into the next quantizer
    becomes exact thresholds, so nothing is inserted and the fixed model is the model."""
    path = _brevitas(tmp_path / "b.onnx", "bias")
    x = _inputs(64, 8, seed=7)
    res = make_fixed_point(load_model(path), range_mode="proven", calibration=x)
    assert res.tensors == () and res.error["max_abs"] == 0.0
    out = compile_model(path, tmp_path / "o", CompileOptions())
    assert " fixed @" not in (out / "ir.txt").read_text()
    assert not (out / "model_fixed.onnx").exists()
    expect = zoo.onnx_forward(path, x)
    _, rep = simulate(out, x, engine="reference", expect=expect)
    assert rep["mismatches"] == 0


def test_batchnorm_outside_a_quantized_path(tmp_path):
    path = _brevitas(tmp_path / "c.onnx", "bn")
    with pytest.raises(FrontendError, match="'Gemm_1' \\(Gemm\\): op type 'Gemm' is not supported"):
        compile_model(path, tmp_path / "plain", CompileOptions())
    out = compile_model(path, tmp_path / "o", CompileOptions(fixed_range="proven"))
    m = json.loads((out / "manifest.json").read_text())["fixed_point"]
    (t,) = m["tensors"]
    assert t["role"] == "activation" and t["tensor"].startswith("BatchNormalization") and t["layer"].startswith("rq")
    x = _inputs(64, 8, seed=8, scale=2.0)
    expect = zoo.onnx_forward(out / "model_fixed.onnx", x)
    _, rep = simulate(out, x, engine="reference", expect=expect)
    assert rep["mismatches"] == 0
    assert "error_vs_float" not in m  # no calibration inputs: nothing to measure on


@pytest.mark.rtl
def test_plain_linear_between_quantized_activations(tmp_path, rtl_cache):
    path = _brevitas(tmp_path / "d.onnx", "mixed")
    with pytest.raises(FrontendError, match="is an unquantized constant"):
        compile_model(path, tmp_path / "plain", CompileOptions())
    x = _inputs(64, 8, seed=9)
    out = compile_model(path, tmp_path / "o", CompileOptions(calibration=x, target_fps=2e6))
    m = json.loads((out / "manifest.json").read_text())["fixed_point"]
    assert [t["role"] for t in m["tensors"]] == ["weights"]  # the input and activations are quantized already
    assert m["tensors"][0]["layer"] == "mvu0"
    xt = _inputs(48, 8, seed=10, scale=2.0)
    expect = zoo.onnx_forward(out / "model_fixed.onnx", xt)
    _, rep = simulate(out, xt, engine="rtl", expect=expect)
    assert rep["mismatches"] == 0
    err = m["error_vs_float"]
    assert err["max_abs"] <= 0.1 * err["max_abs_float_output"]


# ------------------------------------------------------------------------------ options, errors


def test_option_errors_are_one_line_and_name_the_option(float_mlp, tmp_path):
    path, x, d = float_mlp
    cases = [
        (CompileOptions(fixed_bits=40), "--fixed-bits 40: expected an integer from 2 to 24"),
        (CompileOptions(fixed_bits=1), "--fixed-bits 1: expected an integer from 2 to 24"),
        (CompileOptions(fixed_bits=True), "--fixed-bits True: expected an integer from 2 to 24"),
        (CompileOptions(fixed_range="exact"), "--fixed-range 'exact': expected one of proven, calibrated"),
        (CompileOptions(calibration=tmp_path / "none.npy"),
         f"--calibration {str(tmp_path / 'none.npy')!r}: no such file"),
        (CompileOptions(calibration=np.zeros((5, 3), np.float32)),
         "--calibration: expected shape (N, 12) with N >= 1, got (5, 3)"),
        (CompileOptions(calibration=np.full((2, 12), np.nan, np.float32)),
         "--calibration: contains NaN or infinite values"),
        (CompileOptions(fixed_range="proven"),
         "the model's input 'global_in' is not quantized, so its format needs calibration inputs: give "
         "--calibration X.npy (float inputs shaped like the ONNX input, batch axis first)"),
    ]
    for opts, msg in cases:
        with pytest.raises((FlowError, FrontendError)) as e:
            compile_model(path, tmp_path / "o", opts)
        assert str(e.value) == msg
        assert "\n" not in str(e.value)
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy")
    with pytest.raises(FlowError, match=r"^--calibration '.*bad.npy': not a readable .npy array \(ValueError\)$"):
        compile_model(path, tmp_path / "o", CompileOptions(calibration=bad))
    mixed = _brevitas(tmp_path / "d.onnx", "mixed")
    with pytest.raises(FrontendError) as e:
        compile_model(mixed, tmp_path / "o", CompileOptions(fixed_range="calibrated"))
    assert str(e.value) == ("--fixed-range calibrated needs calibration inputs: give --calibration X.npy (float "
                            "inputs shaped like the ONNX input, batch axis first)")


def test_config_file_keys(tmp_path):
    from gatesmith.config import compile_options, parse_config

    cfg = parse_config({"fixed_bits": 6, "fixed_range": "calibrated", "calibration": "x.npy"})
    opts = compile_options(cfg)
    assert (opts.fixed_bits, opts.fixed_range, opts.calibration) == (6, "calibrated", "x.npy")
    opts = compile_options(cfg, fixed_bits=10)  # the command line wins
    assert opts.fixed_bits == 10


def test_api_compile_keywords(tmp_path):
    import gatesmith

    path = _hand_model(tmp_path / "h.onnx")
    d = gatesmith.compile(path, out_dir=tmp_path / "o", calibration=_HAND_X, fixed_range="calibrated", fixed_bits=6,
                          backend="rtl")
    fx = d.manifest["fixed_point"]
    assert (fx["range"], fx["bits"]) == ("calibrated", 6)
    assert d.estimate["fixed_point"]["error_vs_float"]["inputs"] == 2
    y, rep = d.simulate(_HAND_X, engine="reference", expect=zoo.onnx_forward(d.root / "model_fixed.onnx", _HAND_X))
    assert rep["mismatches"] == 0


def test_cli_compile_with_calibration_and_bad_options(float_mlp, tmp_path, capsys):
    path, x, d = float_mlp
    out = tmp_path / "o"
    code = main(["compile", str(path), "-o", str(out), "--calibration", str(d / "calib.npy"),
                 "--fixed-range", "calibrated", "--fixed-bits", "7", "--backend", "rtl"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert (out / "model_fixed.onnx").is_file()
    assert json.loads((out / "manifest.json").read_text())["fixed_point"]["bits"] == 7
    for argv, msg in [
        (["--fixed-bits", "99"], "gatesmith: error: --fixed-bits 99: expected an integer from 2 to 24"),
        (["--fixed-range", "maybe"], "gatesmith: error: --fixed-range 'maybe': expected one of proven, calibrated"),
        (["--fixed-range", "calibrated"], "gatesmith: error: --fixed-range calibrated needs calibration inputs"),
    ]:
        code = main(["compile", str(path), "-o", str(tmp_path / "o2")] + argv)
        _, err = capsys.readouterr()
        assert code == 2
        assert err.startswith(msg) and err.count("\n") == 1 and "Traceback" not in err
    with pytest.raises(SystemExit) as e:  # argparse: not an integer
        main(["compile", str(path), "-o", str(tmp_path / "o2"), "--fixed-bits", "x"])
    assert e.value.code == 2


def test_config_per_layer_fixed_bits(float_mlp, tmp_path):
    """fixed_bits per layer (name > op kind > global): a matrix-vector layer's sets its weights'
    format, a requantizer's the activation it produces; the design equals model_fixed.onnx."""
    from gatesmith.config import compile_options, parse_config

    path, x, d = float_mlp
    cfg = parse_config({"calibration": str(d / "calib.npy"), "fixed_range": "calibrated",
                        "op": {"matvec": {"fixed_bits": 7}},
                        "layer": {"mvu0": {"fixed_bits": 6}, "rq0": {"fixed_bits": 5}}})
    out = compile_model(path, tmp_path / "o", compile_options(cfg))
    tensors = json.loads((out / "manifest.json").read_text())["fixed_point"]["tensors"]
    bits = {(t["layer"], t["role"]): t["bits"] for t in tensors}
    assert bits == {("host_in", "input"): 8, ("mvu0", "weights"): 6, ("mvu1", "weights"): 7,
                    ("mvu2", "weights"): 7, ("rq0", "activation"): 5, ("rq1", "activation"): 8}
    assert any(ln.strip().startswith("fixed @mvu0 weights ") and "fixed<6," in ln
               for ln in (out / "ir.txt").read_text().splitlines())
    xt = _inputs(32, 12, seed=7)
    expect = zoo.onnx_forward(out / "model_fixed.onnx", xt)
    _, rep = simulate(out, xt, engine="reference", expect=expect)
    assert rep["mismatches"] == 0


def test_config_per_layer_fixed_bits_errors(float_mlp, tmp_path):
    from gatesmith.config import ConfigError, compile_options, parse_config

    path, x, d = float_mlp
    with pytest.raises(ConfigError, match=r"^config: layer\.mvu0\.fixed_bits: expected an integer from 2 to 24, got 30$"):
        parse_config({"layer": {"mvu0": {"fixed_bits": 30}}})
    # a layer whose tensors the model quantizes has no format to set
    fixed = compile_model(path, tmp_path / "o", CompileOptions(calibration=x, fixed_range="calibrated"))
    cfg = parse_config({"layer": {"mvu0": {"fixed_bits": 6}}})
    with pytest.raises(ConfigError, match=r"^config: layer\.mvu0\.fixed_bits: 'mvu0' owns no fixed-point format "
                                          r"\(ir\.txt lists them as 'fixed @LAYER'\); expected one of \[\]$"):
        compile_model(fixed / "model_fixed.onnx", tmp_path / "o2", compile_options(cfg))
    assert not (tmp_path / "o2").exists()
    # the float model's last layer (no requantizer after it) still owns its weights' format
    cfg = parse_config({"calibration": str(d / "calib.npy"), "layer": {"mvu2": {"fixed_bits": 6}}})
    out = compile_model(path, tmp_path / "o3", compile_options(cfg))
    tensors = json.loads((out / "manifest.json").read_text())["fixed_point"]["tensors"]
    assert [t["bits"] for t in tensors if t["layer"] == "mvu2"] == [6]
