"""Convolutional networks: the spatial IR ops, the frontend's lowering of Conv/MaxPool/Pad/
Flatten/Transpose/TopK, and the reference against execute_onnx on CNN exports."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatesmith.frontend import FrontendError, import_onnx
from gatesmith.ir import IntType, PoolMode, SlidingWindow, WindowReduce, print_graph
from gatesmith.ir.ops import LabelSelect
from gatesmith.ir.serialize import from_json, to_json
from gatesmith.verify import zoo
from gatesmith.verify.reference import run_integer

# ============================================================================ IR ops


def _naive_window(x, kernel, stride, pads, pad_value):
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), (t, l, b, r) = kernel, stride, pads
    oh, ow = (h + t + b - kh) // sh + 1, (w + l + r - kw) // sw + 1
    out = np.zeros((n, oh, ow, kh * kw * c), dtype=np.int64)
    for oy in range(oh):
        for ox in range(ow):
            k = 0
            for ky in range(kh):
                for kx in range(kw):
                    y, xx = oy * sh - t + ky, ox * sw - l + kx
                    for ch in range(c):
                        inside = 0 <= y < h and 0 <= xx < w
                        out[:, oy, ox, k] = x[:, y, xx, ch] if inside else pad_value
                        k += 1
    return out


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 7), w=st.integers(1, 7), c=st.integers(1, 3),
    kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
    pads=st.tuples(*[st.integers(0, 2)] * 4), seed=st.integers(0, 2**16),
)
def test_sliding_window_matches_naive_loops(h, w, c, kh, kw, sh, sw, pads, seed):
    t, l, b, r = pads
    if h + t + b < kh or w + l + r < kw:
        return
    x = np.random.default_rng(seed).integers(-8, 8, size=(2, h, w, c))
    op = SlidingWindow(ifm=(h, w, c), kernel=(kh, kw), stride=(sh, sw), pads=pads, pad_value=-9)
    got = op.evaluate(x)
    assert got.shape == (2, *op.out_shape((h, w, c)))
    np.testing.assert_array_equal(got, _naive_window(x, (kh, kw), (sh, sw), pads, -9))


def test_window_reduce_and_label_select():
    x = np.array([[[1, -2, 3, 4, -5, 6]]])  # (1, 1, 2 positions * 3 channels)
    mx = WindowReduce(mode=PoolMode.MAX, positions=2, channels=3, out=IntType(bits=4, signed=True))
    sm = WindowReduce(mode=PoolMode.SUM, positions=2, channels=3, out=IntType(bits=5, signed=True))
    np.testing.assert_array_equal(mx.evaluate(x), [[[4, -2, 6]]])
    np.testing.assert_array_equal(sm.evaluate(x), [[[5, -7, 9]]])
    ls = LabelSelect(k=3, channels=5, out=IntType(bits=3, signed=False))
    np.testing.assert_array_equal(ls.evaluate(np.array([[2, 7, 7, -1, 7]])), [[1, 2, 4]])  # ties: lower index


def test_window_shape_errors():
    op = SlidingWindow(ifm=(4, 4, 2), kernel=(3, 3), stride=(1, 1), pads=(0, 0, 0, 0), pad_value=0)
    with pytest.raises(ValueError, match=r"swg expects an input of shape \(4, 4, 2\), got \(4, 4, 3\)"):
        op.out_shape((4, 4, 3))


# ============================================================================ CNN exports

CNN = [("conv_small", "qonnx"), ("conv_small", "qcdq"), ("conv1d_small", "qonnx"), ("conv1d_small", "qcdq"),
       ("ds_cnn", "qonnx"), ("vgg10_1d", "qcdq"),
       ("conv_avgpool", "qonnx"), ("res_small", "qcdq"), ("concat_small", "qonnx")]


def _inputs(model, n: int) -> np.ndarray:
    return model.sample_with_extremes(n, seed=11)


@pytest.mark.brevitas
@pytest.mark.parametrize("name, fmt", CNN)
def test_cnn_reference_equals_onnx(zoo_export, name, fmt):
    model, path = zoo_export(name, fmt)
    g = import_onnx(path)
    x = _inputs(model, 24)
    q = g.input_quant.quantize(x)
    y_int = run_integer(g, q)
    y = g.output_map.dequantize(y_int)
    expect = zoo.onnx_forward(path, x)
    assert y.shape == expect.shape
    if g.output_map.kind.value == "quant":
        np.testing.assert_array_equal(y, expect)
    else:  # float logits: within float32 rounding of acc * scale + bias
        np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)
    # and close to Brevitas itself (float32 arithmetic in another order)
    np.testing.assert_allclose(y, model.torch_forward(x), rtol=1e-4, atol=1e-4)
    # the JSON form round-trips the spatial ops
    g2 = from_json(to_json(g))
    assert print_graph(g2) == print_graph(g)


@pytest.mark.brevitas
def test_cnn_lowering_shape(zoo_export):
    _, path = zoo_export("conv_small", "qonnx")
    text = print_graph(import_onnx(path))
    # channels-last feature maps, asymmetric padding from ZeroPad2d merged into the conv,
    # ceil-mode pooling as extra bottom/right padding, no window for the 1x1 conv,
    # and a free reshape before the classifier (weights permuted at compile time)
    assert "input %x : s8[12, 12, 3]" in text
    assert "swg @swg2(%l1_out) kernel=[3, 3] stride=[2, 2] pads=[1, 0, 0, 1]" in text
    assert "swg3" not in text and "matvec @mvu3(%l2_out)" in text
    assert "pool @pool4(%l4_win) max positions=9" in text
    assert "reshape @reshape_l4_out(%l4_out)" in text


# ============================================================================ hand-made ONNX


def _save(tmp_path, nodes, inits, in_shape, out_shape, name="m.onnx"):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("inp", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, list(out_shape))],
        initializer=[numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("qonnx.custom_op.general", 1)])
    p = tmp_path / name
    onnx.save(model, str(p))
    return p


def _quant(name, x, y, scale=0.5, bits=4, signed=1):
    from onnx import helper

    node = helper.make_node("Quant", [x, f"{name}_s", f"{name}_z", f"{name}_b"], [y], name=name,
                            domain="qonnx.custom_op.general", signed=signed, narrow=0, rounding_mode="ROUND")
    return node, {f"{name}_s": np.float32(scale), f"{name}_z": np.float32(0), f"{name}_b": np.float32(bits)}


def _conv_model(tmp_path, conv_attrs, w_shape=(4, 2, 3, 3), in_shape=(1, 2, 6, 6), out_shape=(1, 4, 4, 4),
                bipolar_in=False):
    from onnx import helper

    rng = np.random.default_rng(0)
    if bipolar_in:
        qin = helper.make_node("BipolarQuant", ["inp", "qi_s"], ["q_in"], name="QIn", domain="qonnx.custom_op.general")
        i0 = {"qi_s": np.float32(1.0)}
    else:
        qin, i0 = _quant("QIn", "inp", "q_in")
    qw, iw = _quant("QW", "W", "w_q", scale=0.25)
    conv = helper.make_node("Conv", ["q_in", "w_q"], ["c_out"], name="Conv0", **conv_attrs)
    qo, io = _quant("QOut", "c_out", "out", scale=2.0)
    inits = {**i0, **iw, **io, "W": rng.integers(-3, 4, size=w_shape).astype(np.float32)}
    return _save(tmp_path, [qin, qw, conv, qo], inits, in_shape, out_shape)


@pytest.mark.parametrize(
    "attrs, w_shape, out_shape, expected",
    [
        ({"group": 2, "kernel_shape": [3, 3]}, (4, 1, 3, 3), (1, 4, 4, 4),
         r"^ONNX node 'Conv_0' \(Conv\): a depthwise conv with 4 outputs for 2 channels \(a channel multiplier\) "
         r"is not supported; expected as many outputs as inputs$"),
        ({"group": 2, "kernel_shape": [3, 3]}, (4, 2, 3, 3), (1, 4, 4, 4),
         r"^ONNX node 'Conv_0' \(Conv\): expected weights of shape \(OC, 1, kernel...\), got \[4, 2, 3, 3\]$"),
        ({"dilations": [2, 2], "kernel_shape": [3, 3]}, (4, 2, 3, 3), (1, 4, 2, 2),
         r"^ONNX node 'Conv_0' \(Conv\): dilations \[2, 2\] are not supported; expected 1$"),
        ({"auto_pad": "SAME_UPPER", "kernel_shape": [3, 3]}, (4, 2, 3, 3), (1, 4, 6, 6),
         r"^ONNX node 'Conv_0' \(Conv\): auto_pad is not supported; expected explicit pads"),
    ],
)
def test_conv_unsupported_attributes(tmp_path, attrs, w_shape, out_shape, expected):
    p = _conv_model(tmp_path, attrs, w_shape=w_shape, out_shape=out_shape)
    with pytest.raises(FrontendError, match=expected):
        import_onnx(p)


def test_conv_padding_of_bipolar_input_is_refused(tmp_path):
    p = _conv_model(tmp_path, {"pads": [1, 1, 1, 1], "kernel_shape": [3, 3]}, out_shape=(1, 4, 6, 6), bipolar_in=True)
    with pytest.raises(FrontendError, match=r"^ONNX node 'Conv_0' \(Conv\): zero padding of a bipolar activation"):
        import_onnx(p)


def test_handmade_conv_reference_equals_onnx(tmp_path):
    p = _conv_model(tmp_path, {"pads": [1, 0, 0, 2], "strides": [2, 1], "kernel_shape": [3, 3]},
                    out_shape=(1, 4, 3, 6))
    g = import_onnx(p)
    x = np.random.default_rng(3).normal(size=(16, 2, 6, 6)).astype(np.float32) * 3
    y = g.output_map.dequantize(run_integer(g, g.input_quant.quantize(x)))
    np.testing.assert_array_equal(y, zoo.onnx_forward(p, x))


def test_transposed_feature_map_feeds_dense_layer_by_weight_permutation(tmp_path):
    """Transpose + Flatten before a MatMul: the stream is never reordered, the weights are."""
    from onnx import helper

    rng = np.random.default_rng(1)
    qin, i0 = _quant("QIn", "inp", "q_in")
    tr = helper.make_node("Transpose", ["q_in"], ["t"], name="Tr", perm=[0, 2, 3, 1])
    fl = helper.make_node("Flatten", ["t"], ["f"], name="Fl", axis=1)
    qw, iw = _quant("QW", "W", "w_q", scale=0.25)
    mm = helper.make_node("MatMul", ["f", "w_q"], ["mm"], name="MM")
    qo, io = _quant("QOut", "mm", "out", scale=2.0)
    inits = {**i0, **iw, **io, "W": rng.integers(-3, 4, size=(2 * 3 * 4, 5)).astype(np.float32)}
    p = _save(tmp_path, [qin, tr, fl, qw, mm, qo], inits, (1, 2, 3, 4), (1, 5))
    g = import_onnx(p)
    assert [n.kind for n in g.nodes] == ["reshape", "matvec", "requantize"]
    x = rng.normal(size=(16, 2, 3, 4)).astype(np.float32) * 3
    y = g.output_map.dequantize(run_integer(g, g.input_quant.quantize(x)))
    np.testing.assert_array_equal(y, zoo.onnx_forward(p, x))


def test_argmax_output_is_a_label_select(tmp_path):
    from onnx import TensorProto, helper

    rng = np.random.default_rng(2)
    qin, i0 = _quant("QIn", "inp", "q_in")
    qw, iw = _quant("QW", "W", "w_q", scale=0.25)
    mm = helper.make_node("MatMul", ["q_in", "w_q"], ["mm"], name="MM")
    qo, io = _quant("QOut", "mm", "qo", scale=2.0)
    tk = helper.make_node("TopK", ["qo", "K"], ["vals", "out"], name="Top", axis=-1)
    inits = {**i0, **iw, **io, "W": rng.integers(-3, 4, size=(8, 6)).astype(np.float32)}
    p = _save(tmp_path, [qin, qw, mm, qo, tk], inits, (1, 8), (1, 2))
    import onnx

    m = onnx.load(str(p))
    m.graph.initializer.append(onnx.numpy_helper.from_array(np.array([2], np.int64), "K"))
    m.graph.output[0].type.tensor_type.elem_type = TensorProto.INT64
    onnx.save(m, str(p))
    g = import_onnx(p)
    assert g.nodes[-1].kind == "labelselect"
    x = rng.normal(size=(32, 8)).astype(np.float32) * 3
    y = g.output_map.dequantize(run_integer(g, g.input_quant.quantize(x)))
    np.testing.assert_array_equal(y, zoo.onnx_forward(p, x))


# ============================================================================ parallel windows (KP)


def _conv_small_graph(zoo_export):
    _, path = zoo_export("conv_small", None)
    return import_onnx(path)


def _folds(g):
    return {n.name: (n.fold.pe, n.fold.simd) for n in g.nodes}


def test_parallel_windows_chosen_when_they_pay(zoo_export):
    """The first conv (C=3, 3x3 pad 1, 12x12) feeds a SIMD = KP*3 unit: the window takes
    the smallest KP whose cycles fit the budget, KP = 1 where the width converter path
    already fits, and the most parallel one when nothing fits."""
    from gatesmith.ir.schedule import ChooseFolding
    from gatesmith.ir.schedule.folding import layer_cycles

    g = _conv_small_graph(zoo_export)
    # at 200k the unit takes a ragged PE 3 x SIMD 27 (8 rows in three folds): 81 multipliers
    # against 72 for 8 x 9, but three threshold lanes instead of eight (folding counts them)
    cases = {50_000: ((1, 3), (2, 9), 1296), 200_000: ((3, 3), (3, 27), 432), 1_000_000: ((9, 3), (8, 27), 144)}
    for fps, (swg, mvu, cycles) in cases.items():
        h = ChooseFolding(clock_mhz=100, target_fps=fps).run(g)
        f = _folds(h)
        assert (f["swg0"], f["mvu0"]) == (swg, mvu), fps
        assert layer_cycles(h.node("swg0"), h) == cycles


def test_parallel_windows_folding_file_round_trip(zoo_export):
    from gatesmith.ir.schedule import ChooseFolding, folding_from_json, folding_to_json

    g = _conv_small_graph(zoo_export)
    h = ChooseFolding(clock_mhz=100, target_fps=1_000_000).run(g)
    text = folding_to_json(h)
    import json

    layers = json.loads(text)["layers"]
    assert layers["swg0"] == {"kind": "swg", "pe": 9, "simd": 3}
    assert "pe" not in layers["swg1"]  # KP = 1 is not written: files of existing designs unchanged
    again = ChooseFolding(folding=folding_from_json(text)).run(g)
    assert _folds(again) == _folds(h)
    # a user file sets KP on its own; the consumer's SIMD follows from the file too
    user = ChooseFolding(folding={"swg0": {"pe": 3, "simd": 3}, "mvu0": {"pe": 8, "simd": 9}}).run(g)
    assert _folds(user)["swg0"] == (3, 3)


@pytest.mark.parametrize("entry, msg", [
    ({"pe": 2, "simd": 3}, "layer 'swg0': PE=2 (kernel positions per beat) must divide K_W=3 or be "
                           "K_W times a divisor of K_H=3 (valid: [1, 3, 9])"),
    ({"pe": 6, "simd": 3}, "layer 'swg0': PE=6 (kernel positions per beat) must divide K_W=3 or be "
                           "K_W times a divisor of K_H=3 (valid: [1, 3, 9])"),
    ({"pe": 9, "simd": 1}, "layer 'swg0': PE=9 (kernel positions per beat) needs SIMD equal to the "
                           "channels (3), got SIMD=1"),
])
def test_parallel_windows_folding_errors(zoo_export, entry, msg):
    import re

    from gatesmith.ir.schedule import ChooseFolding, FoldingError

    g = _conv_small_graph(zoo_export)
    with pytest.raises(FoldingError, match="^" + re.escape(msg) + "$"):
        ChooseFolding(folding={"swg0": entry}).run(g)


def test_concat_folding_takes_pixel_mode(zoo_export):
    """A concat's PE divides both inputs' channels (6 and 4: 1 or 2) or is their sum (pixel mode);
    a folding file may ask for either, and anything else is refused naming both."""
    import re

    from gatesmith.ir.schedule import ChooseFolding, FoldingError

    _, path = zoo_export("concat_small", None)
    g = import_onnx(path)
    assert _folds(ChooseFolding(folding={"concat2": {"pe": 10}}).run(g))["concat2"] == (10, 1)
    msg = "layer 'concat2': PE=5 must be a positive divisor of 2 (valid: [1, 2], or 10 (a whole pixel a beat))"
    with pytest.raises(FoldingError, match="^" + re.escape(msg) + "$"):
        ChooseFolding(folding={"concat2": {"pe": 5}}).run(g)


@pytest.mark.parametrize("params", [
    dict(IFM_H=32, IFM_W=32, C=3, K_H=3, K_W=3, S_H=1, S_W=1, PAD_T=0, PAD_L=0, PAD_B=0, PAD_R=0),
    dict(IFM_H=7, IFM_W=7, C=2, K_H=3, K_W=3, S_H=2, S_W=2, PAD_T=1, PAD_L=0, PAD_B=0, PAD_R=1),
    dict(IFM_H=8, IFM_W=8, C=1, K_H=5, K_W=5, S_H=1, S_W=1, PAD_T=2, PAD_L=2, PAD_B=2, PAD_R=2),
    dict(IFM_H=6, IFM_W=6, C=2, K_H=4, K_W=4, S_H=1, S_W=1, PAD_T=1, PAD_L=1, PAD_B=2, PAD_R=2),
    dict(IFM_H=1, IFM_W=16, C=2, K_H=1, K_W=5, S_H=1, S_W=2, PAD_T=0, PAD_L=2, PAD_B=0, PAD_R=2),
])
def test_swg_cycles_equal_the_pinned_formula(params):
    """ir/schedule/folding.swg_cycles equals the bench's cycles_per_image (pinned against
    the RTL by the unstalled runs) for every valid KP."""
    from gatesmith.ir.schedule.folding import swg_cycles, swg_kp_options, swg_ring_extra
    from gatesmith.verify.benches import swg_bench

    p = params
    op = SlidingWindow(ifm=(p["IFM_H"], p["IFM_W"], p["C"]), kernel=(p["K_H"], p["K_W"]),
                       stride=(p["S_H"], p["S_W"]), pads=(p["PAD_T"], p["PAD_L"], p["PAD_B"], p["PAD_R"]),
                       pad_value=0)
    for kp in swg_kp_options(op):
        for simd in ([p["C"]] if kp > 1 else [1, p["C"]]):
            for extra in (0, 1, 2, None):  # None: the ring the generated design gives the core
                bench = dict(p, SIMD=simd, ELEM_BITS=8, PAD_VALUE=0, KP=kp,
                             RING_EXTRA=swg_ring_extra(op) if extra is None else extra)
                assert swg_cycles(op, simd, kp, extra) == swg_bench.cycles_per_image(bench), (kp, simd, extra)
    # the generated ring never waits at an image boundary: cycles = max(IN, OUT)
    c, (oh, ow) = p["C"], op.ofm
    assert swg_cycles(op, c) == max(p["IFM_H"] * p["IFM_W"], oh * ow * p["K_H"] * p["K_W"])
