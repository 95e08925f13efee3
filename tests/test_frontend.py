"""Frontend: Brevitas exports import bit-exactly (reference == execute_onnx == Brevitas); bad models are named."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from gatesmith.flow import compare_outputs
from gatesmith.frontend import FrontendError, import_onnx
from gatesmith.ir.passes import MinimizeAccumulators, SelectRequant, run_passes
from gatesmith.verify import zoo
from gatesmith.verify.reference import run_float

pytestmark = pytest.mark.brevitas

MODELS = [
    ("tfc_1w1a", None), ("tfc_2w2a", None), ("sfc_1w2a", None), ("tfc_1w2a", None),
    ("jet_tagger", None), ("jet_tagger", "qcdq"), ("pot_mlp", None), ("mlp3_qcdq", "qcdq"),
]


@pytest.mark.parametrize("name, fmt", MODELS)
@pytest.mark.parametrize("style", ["auto", "threshold", "dyadic"])
def test_reference_equals_onnx_and_brevitas(zoo_export, name, fmt, style):
    model, path = zoo_export(name, fmt)
    graph = run_passes(import_onnx(path), [MinimizeAccumulators(), SelectRequant(style=style)])
    x = model.sample_inputs(64, seed=11)
    ref = run_float(graph, x)
    mm, _ = compare_outputs(graph, ref, zoo.onnx_forward(path, x))
    assert mm == 0, f"{mm} elements differ from execute_onnx"
    mm, _ = compare_outputs(graph, ref, model.torch_forward(x))
    assert mm == 0, f"{mm} elements differ from Brevitas"


def test_pot_mlp_uses_shifts_only(zoo_export):
    _, path = zoo_export("pot_mlp")
    graph = run_passes(import_onnx(path), [SelectRequant(style="auto")])
    rq = [n.op for n in graph.nodes if n.kind != "matvec"]
    assert rq and all(n.kind == "requant" for n in graph.nodes if n.kind != "matvec")
    for op in rq:
        assert op.mismatches == 0
        m = [int(v) for v in np.asarray(op.mult).ravel()] if op.use_mult else [1]
        assert all(v > 0 and v & (v - 1) == 0 for v in m), "multipliers must be powers of two"


def test_shift_style_rejected_for_non_power_of_two(zoo_export):
    from gatesmith.ir import IRError

    _, path = zoo_export("jet_tagger")
    with pytest.raises(IRError, match=r"node 'rq0' .*shift requantization needs power-of-two scales"):
        run_passes(import_onnx(path), [SelectRequant(style="shift")])


def test_bipolar_layers_are_xnor(zoo_export):
    _, path = zoo_export("tfc_1w1a")
    g = import_onnx(path)
    mvs = [n.op for n in g.nodes if n.kind == "matvec"]
    assert str(g.value("x").dtype) == "bipolar"
    assert all(str(m.wtype) == "bipolar" for m in mvs)
    assert all(str(g.value(n.inputs[0]).dtype) == "bipolar" for n in g.nodes if n.kind == "matvec")


# ---- bad models: one-line errors naming the node ------------------------------------------


def _save(tmp_path, nodes, inits, in_shape=(1, 4), out_shape=(1, 3), name="bad.onnx", opset=13):
    g = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("inp", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, list(out_shape))],
        initializer=[numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    p = tmp_path / name
    onnx.save(m, str(p))
    return p


def _quant(name, x, out, bits=4.0, scale=0.5, signed=1, narrow=0):
    node = helper.make_node("Quant", [x, f"{name}_s", f"{name}_z", f"{name}_b"], [out], name=name,
                            domain="qonnx.custom_op.general", signed=signed, narrow=narrow, rounding_mode="ROUND")
    return node, {f"{name}_s": np.float32(scale), f"{name}_z": np.float32(0), f"{name}_b": np.float32(bits)}


def _mlp(tmp_path, extra_nodes=(), act_after="mm_out", **qkw):
    q0, i0 = _quant("QIn", "inp", "q_in", **qkw)
    qw, iw = _quant("QW", "W", "w_q", bits=3.0)
    mm = helper.make_node("MatMul", ["q_in", "w_q"], ["mm_out"], name="MM0")
    nodes = [q0, qw, mm, *extra_nodes]
    inits = {**i0, **iw, "W": np.linspace(-1, 1, 12).reshape(4, 3)}
    if not extra_nodes:
        nodes.append(helper.make_node("Identity", ["mm_out"], ["out"], name="Out"))
    return _save(tmp_path, nodes, inits)


def test_small_handmade_mlp_imports(tmp_path):
    g = import_onnx(_mlp(tmp_path))
    assert [n.kind for n in g.nodes] == ["matvec"]


def test_unsupported_op_named(tmp_path):
    p = _mlp(tmp_path, extra_nodes=[helper.make_node("Softmax", ["mm_out"], ["out"], name="Soft0")])
    with pytest.raises(FrontendError, match=r"^ONNX node 'Softmax_0' \(Softmax\): op type 'Softmax' is not supported "
                       r"between a MatMul/Gemm and the next quantizer; supported ops: "):
        import_onnx(p)


def test_nonzero_zero_point(tmp_path):
    q0, i0 = _quant("QIn", "inp", "out")
    i0["QIn_z"] = np.float32(1)
    p = _save(tmp_path, [q0], i0, out_shape=(1, 4))
    with pytest.raises(FrontendError, match=r"zero point \[1\.0\] is not supported; expected 0"):
        import_onnx(p)


@pytest.mark.parametrize("scale, shown", [(0.0, "0.0"), (-1.0, "-1.0"), (float("nan"), "nan"), (float("inf"), "inf")])
def test_bad_scales(tmp_path, scale, shown):
    p = _mlp(tmp_path, scale=scale)
    with pytest.raises(FrontendError, match=rf"scale values \[{shown}\] are not supported; expected finite positive scales"):
        import_onnx(p)


@pytest.mark.parametrize("bits", [0.0, 25.0])
def test_bad_bit_width(tmp_path, bits):
    p = _mlp(tmp_path, bits=bits)
    with pytest.raises(FrontendError, match=rf"bit width {int(bits)} is not supported; expected 1 to 24"):
        import_onnx(p)


def test_not_onnx(tmp_path):
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(FrontendError, match=r"junk.onnx': not a readable ONNX model|junk.onnx': the ONNX graph has no nodes"):
        import_onnx(p)


def test_missing_file(tmp_path):
    with pytest.raises(FrontendError, match=r"nope.onnx': no such ONNX file"):
        import_onnx(tmp_path / "nope.onnx")


def test_dynamic_batch_rejected(tmp_path):
    q0, i0 = _quant("QIn", "inp", "out")
    p = _save(tmp_path, [q0], i0, in_shape=("N", 4), out_shape=("N", 4))
    with pytest.raises(FrontendError, match=r"input 'inp' has shape \['N', 4\]; expected a static shape"):
        import_onnx(p)


def test_no_quantizer(tmp_path):
    p = _save(tmp_path, [helper.make_node("Relu", ["inp"], ["out"], name="R")], {}, out_shape=(1, 4))
    with pytest.raises(FrontendError, match=r"op type 'Relu' is not supported before the first quantizer"):
        import_onnx(p)


def test_unquantized_weights(tmp_path):
    q0, i0 = _quant("QIn", "inp", "q_in")
    mm = helper.make_node("MatMul", ["q_in", "W"], ["out"], name="MM0")
    p = _save(tmp_path, [q0, mm], {**i0, "W": np.ones((4, 3))})
    with pytest.raises(FrontendError, match=r"ONNX node 'MatMul_0' \(MatMul\): expected weights from a Quant/BipolarQuant "
                       r"of a constant tensor \(input '.*' is an unquantized constant\)"):
        import_onnx(p)


def test_unsupported_opset(tmp_path):
    p = _mlp(tmp_path)
    m = onnx.load(str(p))
    m.opset_import[0].version = 7
    onnx.save(m, str(p))
    with pytest.raises(FrontendError, match=r"ONNX opset 7 is not supported \(expected 9 to 23\)"):
        import_onnx(p)


# ---- hand-made graphs: every rounding mode, per-channel output scales, float tails ----------

ROUNDINGS = ["ROUND", "HALF_EVEN", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN"]


def _two_layer(tmp_path, rounding, *, out_signed=1, out_scale=0.37, tail=None, op_type="Quant", out_bits=3.0):
    """inp -> Quant(rounding) -> MatMul(Quant W) -> Mul(0.8) -> Add(bias) -> Quant(rounding) [-> tail] -> out."""
    rng = np.random.default_rng(3)
    q0, i0 = _quant("QIn", "inp", "q_in", bits=5.0, scale=0.25)
    qw, iw = _quant("QW", "W", "w_q", bits=4.0, scale=0.1)
    q0.attribute[-1].s = rounding.encode()
    nodes = [q0, qw, helper.make_node("MatMul", ["q_in", "w_q"], ["mm"], name="MM0"),
             helper.make_node("Mul", ["mm", "k"], ["mul"], name="Mul0"),
             helper.make_node("Add", ["mul", "b"], ["add"], name="Add0")]
    inits = {**i0, **iw, "W": rng.uniform(-0.8, 0.8, (8, 6)), "k": np.float32(0.8), "b": rng.uniform(-1, 1, 6)}
    q1, i1 = _quant("QOut", "add", "q_out" if tail else "out", bits=out_bits, scale=out_scale, signed=out_signed)
    q1.op_type = op_type
    for a in q1.attribute:
        if a.name == "rounding_mode":
            a.s = rounding.encode()
    inits.update(i1)
    if np.ndim(out_scale):
        inits["QOut_s"] = np.asarray(out_scale, np.float32)
    nodes.append(q1)
    if tail:
        qw2, iw2 = _quant("QW2", "W2", "w2_q", bits=3.0, scale=0.2)
        nodes += [qw2, helper.make_node("MatMul", ["q_out", "w2_q"], ["mm2"], name="MM1"), *tail]
        inits.update(iw2)
        inits["W2"] = rng.uniform(-0.6, 0.6, (6, 3))
        inits["two"] = np.float32(2.0)
        return _save(tmp_path, nodes, inits, in_shape=(1, 8), out_shape=(1, 3))
    return _save(tmp_path, nodes, inits, in_shape=(1, 8), out_shape=(1, 6))


def _inputs(n=400):
    rng = np.random.default_rng(9)
    x = rng.uniform(-5, 5, (n, 8)).astype(np.float32)
    x[: n // 2] = np.round(x[: n // 2] * 8) / 8  # exact ties for the 0.25-scale input quantizer
    return x


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("style", ["threshold", "auto", "dyadic"])
def test_rounding_modes_exact(tmp_path, rounding, style):
    p = _two_layer(tmp_path, rounding)
    g = run_passes(import_onnx(p), [MinimizeAccumulators(), SelectRequant(style=style)])
    x = _inputs()
    mm, _ = compare_outputs(g, run_float(g, x), zoo.onnx_forward(p, x))
    assert mm == 0


def test_intquant_op_type_and_per_channel_output_scale(tmp_path):
    p = _two_layer(tmp_path, "ROUND", out_scale=np.linspace(0.2, 0.5, 6), op_type="IntQuant", out_signed=0)
    g = import_onnx(p)
    x = _inputs()
    mm, _ = compare_outputs(g, run_float(g, x), zoo.onnx_forward(p, x))
    assert mm == 0


def test_float_tail_with_pow(tmp_path):
    tail = [helper.make_node("Pow", ["mm2", "two"], ["out"], name="Pow0")]
    p = _two_layer(tmp_path, "ROUND", tail=tail)
    g = import_onnx(p)
    assert [o.kind.value for o in g.output_map.post] == ["Pow"]
    x = _inputs()
    mm, _ = compare_outputs(g, run_float(g, x), zoo.onnx_forward(p, x))
    assert mm == 0


def test_pow_before_quantizer_rejected(tmp_path):
    q0, i0 = _quant("QIn", "inp", "q_in")
    qw, iw = _quant("QW", "W", "w_q", bits=3.0)
    q1, i1 = _quant("QOut", "pw", "out", bits=3.0)
    nodes = [q0, qw, helper.make_node("MatMul", ["q_in", "w_q"], ["mm"], name="MM0"),
             helper.make_node("Pow", ["mm", "two"], ["pw"], name="Pow0"), q1]
    p = _save(tmp_path, nodes, {**i0, **iw, **i1, "W": np.ones((4, 3)), "two": np.float32(2)})
    with pytest.raises(FrontendError, match=r"ONNX node 'Pow_0' \(Pow\): Pow is supported after the last layer only"):
        import_onnx(p)


def test_wide_output_near_ties_are_proven_and_counted(tmp_path):
    """16-bit output with a fine scale: the model's float32 product lands within rounding error
    of quantizer boundaries on a few inputs. Those, and only those, are excused, after proof."""
    from gatesmith.verify.neartie import explain_mismatches

    p = _two_layer(tmp_path, "ROUND", out_bits=16.0, out_scale=0.00013)
    g = run_passes(import_onnx(p), [SelectRequant(style="threshold")])
    x = _inputs(2000)
    ours, theirs = run_float(g, x), zoo.onnx_forward(p, x)
    mm, _ = compare_outputs(g, ours, theirs)
    rep = explain_mismatches(p, g, x, ours, theirs)
    print(f"near-ties excused: {rep.excused_elements} of {ours.size} elements")
    assert rep.unexplained == [] and rep.excused_elements == mm
    assert mm <= ours.size * 1e-3
    # a wrong answer is never excused
    bad = ours.copy()
    bad[7, 1] += np.float32(0.00013)
    rep2 = explain_mismatches(p, g, x[:16], bad[:16], theirs[:16])
    assert [u[0] for u in rep2.unexplained] == [7]


def test_auto_refuses_huge_threshold_units(tmp_path):
    from gatesmith.ir import IRError

    p = _two_layer(tmp_path, "ROUND", out_bits=16.0, out_scale=0.00013)
    with pytest.raises(IRError, match=r"node 'rq0' \(from .*\): a s16 output needs 65535 thresholds per channel and "
                       r"no exact shift/dyadic form exists \(\d+ of 393210 thresholds move\); use --requant dyadic"):
        run_passes(import_onnx(p), [SelectRequant(style="auto")])


@pytest.mark.parametrize("name", [n for n in zoo.BNN_PYNQ_NAMES if n in zoo.MLP_NAMES])
def test_bnn_pynq_topologies_import_exactly(zoo_export, name):
    """Every FINN BNN-PYNQ FC topology imports as Brevitas exports it and is bit-exact."""
    model, path = zoo_export(name, None)
    graph = run_passes(import_onnx(path), [MinimizeAccumulators(), SelectRequant()])
    assert [n.kind for n in graph.nodes].count("matvec") == 4
    x = model.sample_inputs(16, seed=2)
    mm, _ = compare_outputs(graph, run_float(graph, x), zoo.onnx_forward(path, x))
    assert mm == 0
