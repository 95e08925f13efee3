"""The model zoo (gatesmith.verify.zoo): every entry exports to ONNX and qonnx's executor agrees with Brevitas."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import brevitas  # noqa: F401,E402 - make test installs torch and Brevitas: missing fails, not skips
import torch  # noqa: F401,E402

from gatesmith.verify import zoo  # noqa: E402

pytestmark = pytest.mark.brevitas

# QCDQ cannot express binary quantizers (Brevitas: "Binary quant not supported"), so the
# 1-bit BNN-PYNQ entries are exported as QONNX only.
QCDQ_NAMES = ("tfc_2w2a", "sfc_2w2a", "jet_tagger", "pot_mlp", "mlp3_qcdq", "digits_mlp", "cnv_2w2a", "conv_small",
              "conv1d_small")
# entries whose output is quantized by a last QuantIdentity (all others end in float)
QUANT_OUT = ("pot_mlp", "mlp3_qcdq", "digits_mlp", "conv1d_small")
CASES = [(n, "qonnx") for n in zoo.NAMES] + [(n, "qcdq") for n in QCDQ_NAMES]

RTOL = ATOL = 1e-5


@pytest.fixture(scope="module")
def models():
    cache: dict[str, zoo.ZooModel] = {}

    def get(name: str) -> zoo.ZooModel:
        if name not in cache:
            cache[name] = zoo.build(name, seed=0)
        return cache[name]

    return get


def _quant_scales(path: Path) -> list[tuple[str, np.ndarray]]:
    """(node name, scale) of every Quant/BipolarQuant/QuantizeLinear/DequantizeLinear after cleanup."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    mw = cleanup_model(ModelWrapper(str(path)))
    out = []
    for node in mw.graph.node:
        if node.op_type in ("Quant", "BipolarQuant", "QuantizeLinear", "DequantizeLinear"):
            out.append((node.name, mw.get_initializer(node.input[1])))
    return out


def test_names_and_unknown():
    assert len(zoo.NAMES) == len(set(zoo.NAMES)) == 22
    assert set(zoo.BNN_PYNQ_NAMES) < set(zoo.NAMES)
    assert set(zoo.MLP_NAMES) | set(zoo.CONV_NAMES) == set(zoo.NAMES)
    assert not set(zoo.MLP_NAMES) & set(zoo.CONV_NAMES)
    with pytest.raises(KeyError, match="unknown zoo model 'alexnet'"):
        zoo.build("alexnet")


@pytest.mark.parametrize(("name", "fmt"), CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_export_matches_torch(models, tmp_path, name, fmt):
    m = models(name)
    assert not m.module.training
    x = m.sample_inputs(8, seed=1)
    assert x.dtype == np.float32 and x.shape == (8, *m.input_shape[1:])
    path = m.export(tmp_path / f"{name}.onnx", fmt)
    y_onnx = zoo.onnx_forward(path, x)
    y_torch = m.torch_forward(x)
    assert y_onnx.shape == y_torch.shape == (8, y_torch.shape[1])
    np.testing.assert_allclose(y_onnx, y_torch, rtol=RTOL, atol=ATOL)
    if name in ("pot_mlp",):  # all scales powers of two: float32 arithmetic is exact
        np.testing.assert_array_equal(y_onnx, y_torch)
    if name in QUANT_OUT:  # few levels, so a tie broken differently would show up as a whole step
        assert len(np.unique(y_torch)) > 8


@pytest.mark.parametrize("name", [n for n in QCDQ_NAMES if n not in ("jet_tagger", "conv_small")])
def test_qcdq_to_quant_matches(models, tmp_path, name):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.qcdq_to_qonnx import QCDQToQuant
    from qonnx.util.cleanup import cleanup_model

    m = models(name)
    path = m.export(tmp_path / f"{name}.onnx", "qcdq")
    mw = cleanup_model(cleanup_model(ModelWrapper(str(path))).transform(QCDQToQuant()))
    ops = {n.op_type for n in mw.graph.node}
    assert "Quant" in ops and not ops & {"QuantizeLinear", "DequantizeLinear", "Clip"}, ops
    x = m.sample_inputs(8, seed=2)
    np.testing.assert_allclose(zoo.onnx_forward(mw, x), m.torch_forward(x), rtol=RTOL, atol=ATOL)


def test_qcdq_to_quant_per_channel_fails_in_qonnx(models, tmp_path):
    """qonnx 1.0.0 QCDQToQuant ignores DequantizeLinear's axis: per-channel weights (jet_tagger) break it.

    The frontend must convert per-channel QCDQ itself. When this starts passing, qonnx was fixed.
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.qcdq_to_qonnx import QCDQToQuant
    from qonnx.util.cleanup import cleanup_model

    path = models("jet_tagger").export(tmp_path / "jet.onnx", "qcdq")
    with pytest.raises(ValueError, match="could not be broadcast"):
        cleanup_model(ModelWrapper(str(path))).transform(QCDQToQuant())


def test_default_formats(models, tmp_path):
    import onnx

    ops = {n.op_type for n in onnx.load(str(models("mlp3_qcdq").export(tmp_path / "a.onnx"))).graph.node}
    assert "QuantizeLinear" in ops and "Quant" not in ops
    ops = {n.op_type for n in onnx.load(str(models("jet_tagger").export(tmp_path / "b.onnx"))).graph.node}
    assert "Quant" in ops and "QuantizeLinear" not in ops
    with pytest.raises(ValueError, match="export format must be one of"):
        models("jet_tagger").export(tmp_path / "c.onnx", "qop")
    with pytest.raises(ValueError, match="cannot export zoo model 'tfc_1w1a' as 'qcdq': Binary quant not supported"):
        models("tfc_1w1a").export(tmp_path / "d.onnx", "qcdq")


@pytest.mark.parametrize("name", ["tfc_1w2a", "jet_tagger", "mlp3_qcdq"])
def test_onnx_forward_batched_equals_per_sample(models, tmp_path, name):
    m = models(name)
    path = m.export(tmp_path / f"{name}.onnx")
    x = m.sample_inputs(5, seed=3)
    batched = zoo.onnx_forward(path, x)
    looped = zoo.onnx_forward(path, x, batched=False)
    np.testing.assert_allclose(batched, looped, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(zoo.onnx_forward(path, x[:1]), looped[:1])
    with pytest.raises(ValueError, match="does not fit the model input"):
        zoo.onnx_forward(path, x[:, :-1])


@pytest.mark.parametrize("name", [n for n in zoo.BNN_PYNQ_NAMES if n in zoo.MLP_NAMES])
def test_bnn_pynq_activation_spread(models, name):
    import torch

    m = models(name)
    counts = zoo.activation_levels(m, m.sample_inputs(64, seed=4))
    assert len(counts) == 4  # input quantizer + three hidden activations
    for qname, (seen, levels) in counts.items():
        assert levels == (2 if name.endswith("1a") else 3)
        assert seen == levels, f"{name}.{qname}: {seen} of {levels} levels used"
    bns = [mod for mod in m.module.modules() if isinstance(mod, torch.nn.BatchNorm1d)]
    assert len(bns) == 3
    for bn in bns:  # calibrated, not the defaults; random affine with some negative gammas
        assert bn.running_var.min() > 2.0 and bn.running_mean.abs().max() > 0
    assert any((bn.weight < 0).any() for bn in bns) and all((bn.weight > 0).any() for bn in bns)


@pytest.mark.parametrize("name", ["jet_tagger", "pot_mlp", "mlp3_qcdq", "digits_mlp"])
def test_hidden_relu_spread(models, name):
    import brevitas.nn as qnn

    m = models(name)
    counts = zoo.activation_levels(m, m.sample_inputs(64, seed=4))
    relus = [k for k, mod in m.module.named_modules() if isinstance(mod, qnn.QuantReLU)]
    assert len(relus) >= 2
    for k in relus:
        seen, levels = counts[k]
        assert seen >= levels / 2, f"{name}.{k}: {seen} of {levels} levels used"


def test_pot_mlp_scales_are_powers_of_two(models, tmp_path):
    m = models("pot_mlp")
    for fmt in ("qonnx", "qcdq"):
        scales = _quant_scales(m.export(tmp_path / f"pot_{fmt}.onnx", fmt))
        assert len(scales) >= 10
        for node, s in scales:
            e = np.log2(s.astype(np.float64))
            assert np.all(e == np.round(e)), f"{fmt} {node}: scale {s!r} is not a power of two"


def test_jet_tagger_scales(models, tmp_path):
    scales = _quant_scales(models("jet_tagger").export(tmp_path / "jet.onnx"))
    per_channel = [s for _, s in scales if s.size > 1]
    assert [s.shape for s in per_channel] == [(64, 1), (32, 1), (32, 1), (5, 1)]
    for _, s in scales:
        e = np.log2(s.astype(np.float64))
        assert not np.any(e == np.round(e)), "jet_tagger scales should not be powers of two"


def test_deterministic_in_seed():
    x = zoo.build("sfc_2w2a").sample_inputs(4)
    a, b, c = (zoo.build("sfc_2w2a", seed=s).torch_forward(x) for s in (0, 0, 1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(zoo.build("jet_tagger").sample_inputs(3, seed=7), zoo.build("jet_tagger").sample_inputs(3, seed=7))


def test_digits_mlp_trained(models):
    m = models("digits_mlp")
    model, X_test, y_test = zoo.train_digits_mlp(seed=0)  # cached: same training as build()
    assert X_test.shape == (450, 64) and X_test.dtype == np.float32 and 0 <= X_test.min() and X_test.max() <= 1
    acc = float((model.torch_forward(X_test).argmax(1) == y_test).mean())
    assert acc == pytest.approx(m.info["test_accuracy"]) and acc > 0.9, m.info
    assert m.info["train_seconds"] < 120
    np.testing.assert_array_equal(model.torch_forward(X_test[:16]), m.torch_forward(X_test[:16]))
    with pytest.raises(ValueError, match="bits >= 2"):
        zoo.train_digits_mlp(bits=1)


def test_digits_example_module_reexports():
    path = Path(__file__).resolve().parents[1] / "examples" / "digits_train.py"
    spec = importlib.util.spec_from_file_location("digits_train_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # no side effects at import
    assert mod.train_digits_mlp is zoo.train_digits_mlp
