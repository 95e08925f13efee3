"""The model zoo: quantized networks that gatesmith is tested and benchmarked on.

Every entry is a Brevitas model built deterministically from a seed, with its
BatchNorm statistics and activation scales calibrated on random data of the
distribution the model expects (or, for ``digits_mlp``, trained with QAT on
scikit-learn's 8x8 digits)::

    from gatesmith.verify import zoo

    m = zoo.build("tfc_1w2a", seed=0)
    x = m.sample_inputs(8)                    # float32, (8, 1, 28, 28)
    path = m.export(tmp / "tfc.onnx")         # QONNX (m.default_format)
    np.testing.assert_allclose(zoo.onnx_forward(path, x), m.torch_forward(x), atol=1e-5)

Entries (``NAMES``):

- ``tfc_*``, ``sfc_*``, ``lfc_*``: FINN's BNN-PYNQ fully connected networks
  (``brevitas_examples.bnn_pynq``), input 1x1x28x28 in [0, 1]. Unchanged
  topology; random weights, BatchNorm affine parameters drawn at random (about
  one channel in seven with a negative gamma), statistics calibrated so that
  every activation quantizer uses all of its levels. Float output (TensorNorm).
- ``jet_tagger``: 16-64-32-32-5, 8-bit input, 6-bit per-channel weights, float
  bias, BatchNorm, 6-bit ReLU, float logits; all scales non-power-of-two.
- ``pot_mlp``: 32-32-16-10 fixed point: every scale a power of two, 4-bit
  weights, 16-bit biases at the accumulator scale, 6/4/4/6-bit activations,
  quantized logits -- an all-integer network.
- ``mlp3_qcdq``: 20-32-32-8, 3-bit weights and activations, int32 biases,
  8-bit quantized logits; exported as QCDQ by default.
- ``digits_mlp``: 64-64-64-10 2-bit MLP trained on ``load_digits`` (see
  :func:`train_digits_mlp`), 8-bit quantized logits.

torch and brevitas are imported lazily, so :func:`onnx_forward` works without them.
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "NAMES",
    "BNN_PYNQ_NAMES",
    "ZooModel",
    "build",
    "onnx_forward",
    "activation_levels",
    "train_digits_mlp",
    "load_digits_split",
]

BNN_PYNQ_NAMES: tuple[str, ...] = (
    "tfc_1w1a", "tfc_1w2a", "tfc_2w2a",
    "sfc_1w1a", "sfc_1w2a", "sfc_2w2a",
    "lfc_1w1a", "lfc_1w2a",
    "cnv_1w1a", "cnv_2w2a",
)
#: the MLP entries (everything but the convolutional ones)
MLP_NAMES: tuple[str, ...] = tuple(n for n in BNN_PYNQ_NAMES if not n.startswith("cnv")) + (
    "jet_tagger", "pot_mlp", "mlp3_qcdq", "digits_mlp",
)
#: convolutional entries
CONV_NAMES: tuple[str, ...] = (
    "cnv_1w1a", "cnv_2w2a", "conv_small", "conv1d_small", "conv_avgpool", "ds_cnn", "vgg10_1d", "resnet8",
    "res_small", "concat_small",
)
NAMES: tuple[str, ...] = MLP_NAMES + CONV_NAMES

_FORMATS = ("qonnx", "qcdq")


@dataclass(frozen=True)
class ZooModel:
    """A built zoo entry.

    ``module`` is in eval mode; ``input_shape`` includes the batch axis (1, as
    exported). ``sampler(n, rng)`` draws the model's inputs (use
    :meth:`sample_inputs`). ``default_format`` is what :meth:`export` writes when
    not told. ``info`` holds entry-specific facts (e.g. ``test_accuracy`` and
    ``train_seconds`` for ``digits_mlp``).
    """

    name: str
    module: "torch.nn.Module"
    input_shape: tuple[int, ...]
    sampler: Callable[[int, np.random.Generator], np.ndarray] = field(repr=False, compare=False)
    default_format: str = "qonnx"
    info: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def sample_inputs(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` float32 inputs of shape ``(n, *input_shape[1:])`` from the model's input distribution."""
        x = np.asarray(self.sampler(int(n), np.random.default_rng(seed)), dtype=np.float32)
        assert x.shape == (n, *self.input_shape[1:]), x.shape
        return x

    def sample_with_extremes(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` samples plus three inputs that drive the input quantizer to its extremes:
        all maximum, all minimum, and alternating (a checkerboard over every axis)."""
        x = self.sample_inputs(n, seed=seed)
        shape = x.shape[1:]
        big = np.float32(1e3)
        ext = np.stack([np.full(shape, big), np.full(shape, -big),
                        np.where(np.indices(shape).sum(0) % 2 == 0, big, -big).astype(np.float32)])
        return np.concatenate([x, ext]).astype(np.float32)

    def export(self, path: str | Path, fmt: str | None = None) -> Path:
        """Export to ONNX (``fmt`` ``"qonnx"`` or ``"qcdq"``, default ``default_format``); returns the path."""
        import torch
        from brevitas.export import export_onnx_qcdq, export_qonnx

        fmt = self.default_format if fmt is None else fmt
        if fmt not in _FORMATS:
            raise ValueError(f"export format must be one of {_FORMATS!r}, got {fmt!r}")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.module.eval()
        example = torch.from_numpy(self.sample_inputs(1, seed=12345))
        exporter = export_qonnx if fmt == "qonnx" else export_onnx_qcdq
        try:
            with torch.no_grad():
                exporter(self.module, example, str(path), dynamo=False)
        except AssertionError as e:  # e.g. QCDQ of a binary quantizer: "Binary quant not supported"
            raise ValueError(f"Brevitas cannot export zoo model {self.name!r} as {fmt!r}: {e}") from e
        return path

    def torch_forward(self, x: np.ndarray) -> np.ndarray:
        """Brevitas (eval mode) output for the batch ``x`` as float32 numpy."""
        import torch

        self.module.eval()
        with torch.no_grad():
            y = self.module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        y = getattr(y, "value", y)  # QuantTensor -> Tensor
        return y.detach().cpu().numpy().astype(np.float32)


def build(name: str, seed: int = 0, **options: Any) -> ZooModel:
    """Build zoo entry ``name`` (one of ``NAMES``), deterministic in ``seed``.

    ``options`` go to the entry's builder; only ``digits_mlp`` takes any
    (``epochs``, ``bits``; see :func:`train_digits_mlp`). Building runs torch on
    one thread, so the weights do not depend on the machine's core count.
    """
    if name in BNN_PYNQ_NAMES:
        with _one_thread():
            return _build_bnn_pynq(name, seed, **options)
    builders = {
        "jet_tagger": _build_jet_tagger,
        "pot_mlp": _build_pot_mlp,
        "mlp3_qcdq": _build_mlp3_qcdq,
        "digits_mlp": lambda seed, **kw: train_digits_mlp(seed, **kw)[0],
        "conv_small": _build_conv_small,
        "conv1d_small": _build_conv1d_small,
        "conv_avgpool": _build_conv_avgpool,
        "ds_cnn": _build_ds_cnn,
        "vgg10_1d": _build_vgg10_1d,
        "resnet8": lambda seed: _build_resnet(seed, "resnet8", (16, 32, 64), (3, 32, 32)),
        "res_small": lambda seed: _build_resnet(seed, "res_small", (4, 8), (2, 8, 8)),
        "concat_small": _build_concat_small,
    }
    if name not in builders:
        raise KeyError(f"unknown zoo model {name!r}; expected one of {NAMES!r}")
    with _one_thread():
        return builders[name](seed, **options)


# --------------------------------------------------------------------------- ONNX execution


def onnx_forward(model: Any, x: np.ndarray, *, cleanup: bool = True, batched: bool = True) -> np.ndarray:
    """Run ``qonnx.core.onnx_exec.execute_onnx`` over a batch of any size; return the stacked outputs.

    ``model`` is a path, an ``onnx.ModelProto`` or a qonnx ``ModelWrapper``;
    with ``cleanup`` it first goes through ``qonnx.util.cleanup.cleanup_model``.
    ``execute_onnx`` insists that the input has the declared shape (batch 1 in
    Brevitas exports). With ``batched`` the graph's batch size is changed to
    ``len(x)`` (qonnx ``ChangeBatchSize``, which also patches constant Reshape
    shapes) and the batch runs once; otherwise the samples run one by one.
    Both give the same numbers on the zoo models.
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    if isinstance(model, ModelWrapper):
        mw = ModelWrapper(copy.deepcopy(model.model))
    else:
        mw = ModelWrapper(str(model) if isinstance(model, Path) else model)
    if cleanup:
        mw = cleanup_model(mw)
    if len(mw.graph.input) != 1 or len(mw.graph.output) != 1:
        raise ValueError(
            f"onnx_forward expects one graph input and one output, got "
            f"{[i.name for i in mw.graph.input]!r} -> {[o.name for o in mw.graph.output]!r}"
        )
    iname, oname = mw.graph.input[0].name, mw.graph.output[0].name
    ishape = tuple(mw.get_tensor_shape(iname))
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != len(ishape) or x.shape[1:] != ishape[1:]:
        raise ValueError(f"input batch of shape {x.shape!r} does not fit the model input {iname!r} of shape {ishape!r}")
    n = x.shape[0]
    if n == 0:
        raise ValueError("onnx_forward needs at least one sample")
    if batched:
        if n != ishape[0]:
            mw = mw.transform(ChangeBatchSize(n)).transform(InferShapes())
        return np.asarray(execute_onnx(mw, {iname: x})[oname], dtype=np.float32)
    if ishape[0] != 1:
        mw = mw.transform(ChangeBatchSize(1)).transform(InferShapes())
    outs = [execute_onnx(mw, {iname: x[i : i + 1]})[oname] for i in range(n)]
    return np.concatenate(outs, axis=0).astype(np.float32)


# --------------------------------------------------------------------------- diagnostics


def activation_levels(model: ZooModel, x: np.ndarray) -> dict[str, tuple[int, int]]:
    """For each activation quantizer (QuantIdentity/QuantReLU/QuantHardTanh ...) of ``model``:
    ``(distinct output values on x, number of levels it can produce)``, keyed by module name."""
    import torch
    from brevitas.nn.quant_layer import QuantNonLinearActLayer

    seen: dict[str, set] = {}
    levels: dict[str, int] = {}
    hooks = []
    for mname, mod in model.module.named_modules():
        if not isinstance(mod, QuantNonLinearActLayer) or not mod.act_quant.is_quant_enabled:
            continue
        aq = mod.act_quant
        bits = int(aq.bit_width())
        signed, narrow = bool(aq.is_signed), bool(aq.is_narrow_range)
        levels[mname] = 2 if bits == 1 else 2**bits - int(narrow)
        seen[mname] = set()

        def hook(_mod, _inp, out, _name=mname):
            v = getattr(out, "value", out)
            seen[_name].update(np.unique(v.detach().cpu().numpy()).tolist())

        hooks.append(mod.register_forward_hook(hook))
    try:
        model.torch_forward(x)
    finally:
        for h in hooks:
            h.remove()
    return {k: (len(seen[k]), levels[k]) for k in levels}


# --------------------------------------------------------------------------- shared helpers


@contextlib.contextmanager
def _one_thread():
    """Run torch single-threaded: reproducible reductions, and on a loaded 2-core machine
    small-matrix training is up to 20x faster than with two spinning OpenMP threads."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def _uniform01(n: int, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.random((n, *shape), dtype=np.float32)


def _normal(n: int, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal((n, *shape), dtype=np.float32)


def _randomize_norm_affine(module: "torch.nn.Module", gen: "torch.Generator") -> None:
    """Random BatchNorm/TensorNorm affine parameters: |gamma| in [0.5, 1.5), gamma < 0 with
    probability 1/7, beta in [-0.4, 0.4)."""
    import torch

    with torch.no_grad():
        for mod in module.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm) or type(mod).__name__ == "TensorNorm":
                c = mod.weight.numel()
                mag = 0.5 + torch.rand(c, generator=gen)
                sign = torch.where(torch.rand(c, generator=gen) < 1 / 7, -1.0, 1.0)
                mod.weight.copy_(mag * sign)
                mod.bias.copy_((torch.rand(c, generator=gen) - 0.5) * 0.8)


def _calibrate(module: "torch.nn.Module", batches: list[np.ndarray]) -> None:
    """Forward passes in train mode (Dropout off) to set BatchNorm/TensorNorm running statistics
    (exact averages over the batches) and Brevitas runtime-statistics activation scales; then eval."""
    import torch

    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    tns = [m for m in module.modules() if type(m).__name__ == "TensorNorm"]
    saved = [(m, m.momentum) for m in bns + tns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    for m in tns:
        m.running_mean.zero_()
        m.running_var.fill_(1.0)
    module.train()
    for m in module.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()
    with torch.no_grad():
        for k, xb in enumerate(batches):
            for m in tns:
                m.momentum = 1.0 / (k + 1)  # TensorNorm has no cumulative mode
            module(torch.from_numpy(xb))
    for m, mom in saved:
        m.momentum = mom
    module.eval()


def _calib_batches(sampler, seed: int, passes: int = 8, batch: int = 256) -> list[np.ndarray]:
    rng = np.random.default_rng([seed, 0xCA11B])
    return [np.asarray(sampler(batch, rng), dtype=np.float32) for _ in range(passes)]


# --------------------------------------------------------------------------- BNN-PYNQ


def _build_bnn_pynq(name: str, seed: int) -> ZooModel:
    import torch
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(seed)
    module, _cfg = model_with_cfg(name, pretrained=False)
    _randomize_norm_affine(module, torch.Generator().manual_seed(seed + 1))
    cnv = name.startswith("cnv")
    shape = (3, 32, 32) if cnv else (1, 28, 28)
    sampler = lambda n, rng: _uniform01(n, rng, shape)  # noqa: E731
    # CNV is ~58 M MACs a frame: fewer, smaller calibration batches keep the build under a minute
    _calibrate(module, _calib_batches(sampler, seed, passes=3, batch=64) if cnv else _calib_batches(sampler, seed))
    return ZooModel(name=name, module=module, input_shape=(1, *shape), sampler=sampler)


# --------------------------------------------------------------------------- jet tagger


def _build_jet_tagger(seed: int) -> ZooModel:
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    torch.manual_seed(seed)

    def linear(i, o):
        return qnn.QuantLinear(
            i, o, bias=True, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=6,
            weight_scaling_per_output_channel=True,
        )

    layers: list[torch.nn.Module] = [qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8)]
    d = 16
    for h in (64, 32, 32):
        layers += [linear(d, h), torch.nn.BatchNorm1d(h), qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=6)]
        d = h
    layers.append(linear(d, 5))
    module = torch.nn.Sequential(*layers)
    _randomize_norm_affine(module, torch.Generator().manual_seed(seed + 1))
    sampler = lambda n, rng: _normal(n, rng, (16,))  # noqa: E731
    _calibrate(module, _calib_batches(sampler, seed))
    return ZooModel(name="jet_tagger", module=module, input_shape=(1, 16), sampler=sampler)


# --------------------------------------------------------------------------- power-of-two MLP


def _build_pot_mlp(seed: int) -> ZooModel:
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8WeightPerTensorFixedPoint,
        Int16Bias,
        Uint8ActPerTensorFixedPoint,
    )

    torch.manual_seed(seed)

    def linear(i, o):
        return qnn.QuantLinear(
            i, o, bias=True, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=4, bias_quant=Int16Bias
        )

    def relu():
        # 99.9th percentile: the power-of-two scale is rounded up, so the default 99.999 would
        # leave half of the 4-bit levels unused on random data.
        return qnn.QuantReLU(
            act_quant=Uint8ActPerTensorFixedPoint, bit_width=4, high_percentile_q=99.9, return_quant_tensor=True
        )

    module = torch.nn.Sequential(
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=6, return_quant_tensor=True),
        linear(32, 32),
        relu(),
        linear(32, 16),
        relu(),
        linear(16, 10),
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=6),
    )
    sampler = lambda n, rng: _normal(n, rng, (32,))  # noqa: E731
    _calibrate(module, _calib_batches(sampler, seed))
    return ZooModel(name="pot_mlp", module=module, input_shape=(1, 32), sampler=sampler)


# --------------------------------------------------------------------------- small CNNs (test size)


def _build_conv_small(seed: int) -> ZooModel:
    """W4A4 2-D CNN, 3x12x12: symmetric and asymmetric (ZeroPad2d -> Pad) zero padding, a
    stride-2 conv, per-channel weight scales, biases, BatchNorm, a ceil-mode max pool and a
    flatten into a float-logit classifier."""
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    torch.manual_seed(seed)

    def conv(i, o, k, **kw):
        return qnn.QuantConv2d(i, o, k, bias=True, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=4,
                               weight_scaling_per_output_channel=True, **kw)

    def act():
        return qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=4)

    module = torch.nn.Sequential(
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8),
        conv(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), act(),
        torch.nn.MaxPool2d(2, ceil_mode=True),
        torch.nn.ZeroPad2d((0, 1, 1, 0)),
        conv(8, 12, 3, stride=2), torch.nn.BatchNorm2d(12), act(),
        conv(12, 16, 1), torch.nn.BatchNorm2d(16), act(),
        torch.nn.MaxPool2d(3, stride=1, padding=1),
        torch.nn.Flatten(),
        qnn.QuantLinear(16 * 3 * 3, 10, bias=True, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=4),
    )
    _randomize_norm_affine(module, torch.Generator().manual_seed(seed + 1))
    shape = (3, 12, 12)
    sampler = lambda n, rng: _normal(n, rng, shape)  # noqa: E731
    _calibrate(module, _calib_batches(sampler, seed, passes=4, batch=64))
    return ZooModel(name="conv_small", module=module, input_shape=(1, *shape), sampler=sampler)


def _build_conv_avgpool(seed: int) -> ZooModel:
    """W4A4 CNN, 2x10x10, with average pooling: a 2x2 average requantized by a QuantIdentity,
    and a global average (AdaptiveAvgPool2d -> GlobalAveragePool) flowing unquantized into
    the classifier (its 1/count folds into the classifier's scale)."""
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    torch.manual_seed(seed)

    def conv(i, o, k, **kw):
        return qnn.QuantConv2d(i, o, k, bias=True, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=4, **kw)

    def act():
        return qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=4)

    module = torch.nn.Sequential(
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8),
        conv(2, 8, 3, padding=1), torch.nn.BatchNorm2d(8), act(),
        torch.nn.AvgPool2d(2),
        qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, bit_width=4),
        conv(8, 8, 3), torch.nn.BatchNorm2d(8), act(),
        torch.nn.AdaptiveAvgPool2d((1, 1)),
        torch.nn.Flatten(),
        qnn.QuantLinear(8, 5, bias=True, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=4),
    )
    _randomize_norm_affine(module, torch.Generator().manual_seed(seed + 1))
    shape = (2, 10, 10)
    sampler = lambda n, rng: _normal(n, rng, shape)  # noqa: E731
    _calibrate(module, _calib_batches(sampler, seed, passes=4, batch=64))
    return ZooModel(name="conv_avgpool", module=module, input_shape=(1, *shape), sampler=sampler)


def _w4():
    from brevitas.quant import Int8WeightPerTensorFloat

    return {"weight_quant": Int8WeightPerTensorFloat, "weight_bit_width": 4}


def _a4():
    import brevitas.nn as qnn
    from brevitas.quant import Uint8ActPerTensorFloat

    return qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=4)


def _build_ds_cnn(seed: int) -> ZooModel:
    """Depthwise-separable keyword spotting (MLPerf Tiny DS-CNN shape, 49x10x1 MFCC input, W4A4):
    a 10x4 stride-2 conv, four depthwise 3x3 + pointwise 1x1 blocks, global average pooling
    and a dense classifier.  Width 32 instead of 64 keeps the test budget."""
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat

    torch.manual_seed(seed)
    ch = 32
    layers: list[torch.nn.Module] = [
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8),
        qnn.QuantConv2d(1, ch, (10, 4), stride=2, padding=(5, 1), bias=False, **_w4()),
        torch.nn.BatchNorm2d(ch), _a4(),
    ]
    for _ in range(4):
        layers += [
            qnn.QuantConv2d(ch, ch, 3, padding=1, groups=ch, bias=False, **_w4()), torch.nn.BatchNorm2d(ch), _a4(),
            qnn.QuantConv2d(ch, ch, 1, bias=False, **_w4()), torch.nn.BatchNorm2d(ch), _a4(),
        ]
    layers += [
        torch.nn.AdaptiveAvgPool2d((1, 1)),
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8),
        torch.nn.Flatten(),
        qnn.QuantLinear(ch, 12, bias=True, **_w4()),
    ]
    module = torch.nn.Sequential(*layers)
    _randomize_norm_affine(module, torch.Generator().manual_seed(seed + 1))
    shape = (1, 49, 10)
    sampler = lambda n, rng: _normal(n, rng, shape)  # noqa: E731
    _calibrate(module, _calib_batches(sampler, seed, passes=3, batch=64))
    return ZooModel(name="ds_cnn", module=module, input_shape=(1, *shape), sampler=sampler)


def _build_resnet(seed: int, name: str, widths: tuple[int, ...], shape: tuple[int, int, int]) -> ZooModel:
    """ResNet-8 (MLPerf Tiny image classification topology, W4A4): a 3x3 stem, one basic
    block per width (the first with an identity shortcut, the others with a stride-2 3x3
    and a 1x1 stride-2 conv shortcut), global average pooling and a dense classifier.
    Both inputs of every residual add are quantized (with different scales: the add
    re-scales them to a common grid), and a 4-bit ReLU quantizer follows it."""
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat

    class Block(torch.nn.Module):
        def __init__(self, cin: int, cout: int, stride: int):
            super().__init__()
            self.main = torch.nn.Sequential(
                qnn.QuantConv2d(cin, cout, 3, stride=stride, padding=1, bias=False, **_w4()),
                torch.nn.BatchNorm2d(cout), _a4(),
                qnn.QuantConv2d(cout, cout, 3, padding=1, bias=False, **_w4()),
                torch.nn.BatchNorm2d(cout),
                qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=6),
            )
            if stride == 1 and cin == cout:
                self.short = torch.nn.Identity()
            else:
                self.short = torch.nn.Sequential(
                    qnn.QuantConv2d(cin, cout, 1, stride=stride, bias=False, **_w4()),
                    torch.nn.BatchNorm2d(cout),
                    qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=6),
                )
            self.act = _a4()

        def forward(self, x):
            return self.act(self.main(x) + self.short(x))

    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = [
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8),
        qnn.QuantConv2d(shape[0], widths[0], 3, padding=1, bias=False, **_w4()),
        torch.nn.BatchNorm2d(widths[0]), _a4(),
    ]
    cin = widths[0]
    for i, w in enumerate(widths):
        layers.append(Block(cin, w, 1 if i == 0 else 2))
        cin = w
    layers += [
        torch.nn.AdaptiveAvgPool2d((1, 1)),
        torch.nn.Flatten(),
        qnn.QuantLinear(cin, 10, bias=True, **_w4()),
    ]
    module = torch.nn.Sequential(*layers)
    _randomize_norm_affine(module, torch.Generator().manual_seed(seed + 1))
    sampler = lambda n, rng: _uniform01(n, rng, shape)  # noqa: E731
    _calibrate(module, _calib_batches(sampler, seed, passes=3, batch=64))
    return ZooModel(name=name, module=module, input_shape=(1, *shape), sampler=sampler)


def _build_concat_small(seed: int) -> ZooModel:
    """An Inception-style block, W4A4 on 2x9x9: a 3x3 and a 1x1 branch of one input share
    one activation quantizer (so one scale) and are concatenated along channels; then a
    floor-mode 2x2 max pool on the odd size (the last row and column are dropped)."""
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8)
            self.a = torch.nn.Sequential(qnn.QuantConv2d(2, 6, 3, padding=1, bias=True, **_w4()),
                                         torch.nn.BatchNorm2d(6))
            self.b = torch.nn.Sequential(qnn.QuantConv2d(2, 4, 1, bias=True, **_w4()), torch.nn.BatchNorm2d(4))
            self.act = _a4()  # shared: both branches on one scale
            self.pool = torch.nn.MaxPool2d(2)
            self.tail = torch.nn.Sequential(
                qnn.QuantConv2d(10, 8, 3, bias=False, **_w4()), torch.nn.BatchNorm2d(8), _a4(),
                torch.nn.Flatten(),
                qnn.QuantLinear(8 * 2 * 2, 6, bias=True, **_w4()),
            )

        def forward(self, x):
            x = self.inp(x)
            y = torch.cat([self.act(self.a(x)), self.act(self.b(x))], dim=1)
            return self.tail(self.pool(y))

    torch.manual_seed(seed)
    module = Block()
    _randomize_norm_affine(module, torch.Generator().manual_seed(seed + 1))
    shape = (2, 9, 9)
    sampler = lambda n, rng: _normal(n, rng, shape)  # noqa: E731
    _calibrate(module, _calib_batches(sampler, seed, passes=4, batch=64))
    return ZooModel(name="concat_small", module=module, input_shape=(1, *shape), sampler=sampler)


def _build_vgg10_1d(seed: int) -> ZooModel:
    """FINN's VGG10-RadioML shape shrunk (2 x 128 I/Q input, W4A4): seven conv1d(k3, pad 1) +
    max pool(2) stages, then dense layers; 16 channels and 128 samples instead of 64 x 1024."""
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat

    torch.manual_seed(seed)
    ch = 16
    layers: list[torch.nn.Module] = [qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8)]
    cin = 2
    for _ in range(7):
        layers += [qnn.QuantConv1d(cin, ch, 3, padding=1, bias=False, **_w4()), torch.nn.BatchNorm1d(ch), _a4(),
                   torch.nn.MaxPool1d(2)]
        cin = ch
    layers += [
        torch.nn.Flatten(),
        qnn.QuantLinear(ch * 1, 32, bias=False, **_w4()), torch.nn.BatchNorm1d(32), _a4(),
        qnn.QuantLinear(32, 32, bias=False, **_w4()), torch.nn.BatchNorm1d(32), _a4(),
        qnn.QuantLinear(32, 24, bias=True, **_w4()),
    ]
    module = torch.nn.Sequential(*layers)
    _randomize_norm_affine(module, torch.Generator().manual_seed(seed + 1))
    shape = (2, 128)
    sampler = lambda n, rng: _normal(n, rng, shape)  # noqa: E731
    _calibrate(module, _calib_batches(sampler, seed, passes=3, batch=64))
    return ZooModel(name="vgg10_1d", module=module, input_shape=(1, *shape), sampler=sampler)


def _build_conv1d_small(seed: int) -> ZooModel:
    """W4A4 1-D CNN on (2, 32) signals (the shape of VGG10-RadioML, shrunk): conv1d + max pool
    stacks, a quantized dense layer and a quantized output."""
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat

    torch.manual_seed(seed)

    def conv(i, o, k, **kw):
        return qnn.QuantConv1d(i, o, k, bias=False, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=4, **kw)

    def act():
        return qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=4)

    from brevitas.quant import Uint8ActPerTensorFloat

    module = torch.nn.Sequential(
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8),
        conv(2, 8, 3, padding=1), torch.nn.BatchNorm1d(8), act(),
        torch.nn.MaxPool1d(2),
        conv(8, 8, 3, padding=1), torch.nn.BatchNorm1d(8), act(),
        torch.nn.MaxPool1d(2),
        conv(8, 8, 5, stride=2, padding=2), torch.nn.BatchNorm1d(8), act(),
        torch.nn.MaxPool1d(3, ceil_mode=True),
        torch.nn.Flatten(),
        qnn.QuantLinear(8 * 2, 12, bias=True, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=4),
        torch.nn.BatchNorm1d(12), act(),
        qnn.QuantLinear(12, 6, bias=True, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=4),
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8),
    )
    _randomize_norm_affine(module, torch.Generator().manual_seed(seed + 1))
    shape = (2, 32)
    sampler = lambda n, rng: _normal(n, rng, shape)  # noqa: E731
    _calibrate(module, _calib_batches(sampler, seed, passes=4, batch=64))
    return ZooModel(name="conv1d_small", module=module, input_shape=(1, *shape), sampler=sampler)


# --------------------------------------------------------------------------- 3-bit MLP for QCDQ


def _build_mlp3_qcdq(seed: int) -> ZooModel:
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat, Int32Bias, Uint8ActPerTensorFloat

    torch.manual_seed(seed)

    def linear(i, o):
        return qnn.QuantLinear(
            i, o, bias=True, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=3, bias_quant=Int32Bias
        )

    def relu():
        return qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=3, return_quant_tensor=True)

    module = torch.nn.Sequential(
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=3, return_quant_tensor=True),
        linear(20, 32), relu(),
        linear(32, 32), relu(),
        linear(32, 8),
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8),
    )
    sampler = lambda n, rng: _normal(n, rng, (20,))  # noqa: E731
    _calibrate(module, _calib_batches(sampler, seed))
    return ZooModel(name="mlp3_qcdq", module=module, input_shape=(1, 20), sampler=sampler, default_format="qcdq")


# --------------------------------------------------------------------------- digits (trained)


def load_digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``sklearn.datasets.load_digits`` scaled to [0, 1], fixed stratified split (25% test):
    ``(X_train, y_train, X_test, y_test)``, float32 features and int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    return X_tr, y_tr, X_te, y_te


def _digits_module(bits: int) -> "torch.nn.Module":
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    def linear(i, o, bias):
        return qnn.QuantLinear(
            i, o, bias=bias, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=bits,
            weight_scaling_impl_type="parameter_from_stats",
        )

    layers: list[torch.nn.Module] = [
        qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, bit_width=bits, return_quant_tensor=False)
    ]
    d = 64
    for h in (64, 64):
        layers += [linear(d, h, False), torch.nn.BatchNorm1d(h), qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=bits)]
        d = h
    layers += [linear(d, 10, True), qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8)]
    return torch.nn.Sequential(*layers)


_DIGITS_CACHE: dict[tuple[int, int, int], tuple["torch.nn.Module", dict]] = {}


def train_digits_mlp(seed: int = 0, epochs: int = 60, bits: int = 2) -> tuple[ZooModel, np.ndarray, np.ndarray]:
    """Train the ``digits_mlp`` zoo entry with Brevitas QAT; return ``(model, X_test, y_test)``.

    64-64-64-10 MLP: unsigned ``bits``-bit input quantizer, ``bits``-bit weights
    (per-tensor, learned scale), BatchNorm1d, ``bits``-bit QuantReLU, last layer
    with float bias followed by an 8-bit signed output quantizer (quantized logits).
    Adam, batch 64, cosine learning rate; deterministic in ``seed``. Results are
    cached per ``(seed, epochs, bits)`` within the process (a fresh copy is returned).
    ``model.info`` holds ``test_accuracy``, ``train_accuracy`` and ``train_seconds``.
    """
    if bits < 2:
        raise ValueError(f"train_digits_mlp needs bits >= 2 (narrow-range weights), got {bits!r}")
    X_tr, y_tr, X_te, y_te = load_digits_split()
    key = (int(seed), int(epochs), int(bits))
    if key not in _DIGITS_CACHE:
        with _one_thread():
            _DIGITS_CACHE[key] = _train_digits(seed, epochs, bits, X_tr, y_tr, X_te, y_te)
    module, info = _DIGITS_CACHE[key]
    module = copy.deepcopy(module).eval()

    def sampler(n: int, rng: np.random.Generator) -> np.ndarray:
        return X_te[rng.choice(len(X_te), size=n, replace=n > len(X_te))]

    model = ZooModel(name="digits_mlp", module=module, input_shape=(1, 64), sampler=sampler, info=dict(info))
    return model, X_te.copy(), y_te.copy()


def _train_digits(seed: int, epochs: int, bits: int, X_tr, y_tr, X_te, y_te) -> tuple["torch.nn.Module", dict]:
    import torch

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    module = _digits_module(bits)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(module.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(X_tr), torch.from_numpy(y_tr)
    steps_per_epoch = (len(xt) + 63) // 64
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * steps_per_epoch))
    loss_fn = torch.nn.CrossEntropyLoss()
    module.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            loss = loss_fn(module(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
    module.eval()
    with torch.no_grad():
        acc_te = float((module(torch.from_numpy(X_te)).argmax(1).numpy() == y_te).mean())
        acc_tr = float((module(xt).argmax(1).numpy() == y_tr).mean())
    info = {
        "test_accuracy": acc_te,
        "train_accuracy": acc_tr,
        "train_seconds": time.perf_counter() - t0,
        "epochs": epochs,
        "bits": bits,
    }
    return module, info
