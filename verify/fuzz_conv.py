"""Random quantized CNNs, compiled and checked against the model (test/benchmark helper).

The convolutional counterpart of :mod:`gatesmith.verify.fuzz`: every network is a
pure function of an integer seed (:func:`spec_from_seed`), reproduced with::

    from gatesmith.verify import fuzz_conv
    print(fuzz_conv.run_case(1234, "/tmp/fz"))

A network: a ``QuantIdentity`` input quantizer on a 1-D ``(C, L)`` or 2-D
``(C, H, W)`` input, then 1-4 blocks, each one of

* ``conv``: ``QuantConv1d/2d`` (kernel 1-3, stride 1-2, symmetric padding or
  asymmetric padding through ``ZeroPad``, weights 2-8 bits or bipolar, per-tensor
  or per-channel scales, bias or not) + optional BatchNorm + an activation quantizer,
* ``dw``: the same as a depthwise conv (groups = channels),
* ``maxpool``: kernel 2-3, stride 1-3, ceil or floor mode,
* ``avgpool``: kernel 2 = stride, then an activation quantizer,
* ``res``: a residual block (3x3 conv + BN + quantizer, added to the block input,
  quantized again; the add re-scales both to a common grid),

and a head: flatten + ``QuantLinear`` (float logits), or global average pooling +
``QuantLinear``.  The folding is random (:func:`random_folding`, seeds = 2 mod 3) or the
scheduler's for a random throughput target.  Odd seeds without
a 1-bit quantizer are exported as QCDQ, the others as QONNX (``fuzz.export_format``).

:func:`run_case` demands the numpy reference equal ``execute_onnx`` (quantized
outputs exactly, float logits within a quarter accumulator step) and the
Verilator RTL with random backpressure equal the reference exactly.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["BlockSpec", "ConvNetSpec", "spec_from_seed", "build_module", "run_case"]


@dataclass(frozen=True)
class BlockSpec:
    kind: str  # conv | dw | maxpool | avgpool | res
    channels: int = 0
    kernel: int = 1
    stride: int = 1
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, bottom, right (1-D: left/right only)
    w_bits: int = 4  # 1 = bipolar weights
    per_channel: bool = False
    bias: bool = False
    bn: bool = True
    a_bits: int = 4
    ceil: bool = False


@dataclass(frozen=True)
class ConvNetSpec:
    seed: int
    dims: int  # 1 or 2
    in_channels: int
    size: int  # H = W (2-D) or L (1-D)
    in_bits: int
    blocks: tuple[BlockSpec, ...]
    head: str  # flatten | gap
    classes: int

    def describe(self) -> str:
        parts = [f"{self.dims}d {self.in_channels}x{self.size} s{self.in_bits}"]
        for b in self.blocks:
            if b.kind in ("conv", "dw", "res"):
                parts.append(f"{b.kind}{b.channels}k{b.kernel}s{b.stride}p{''.join(map(str, b.pad))}"
                             f"w{b.w_bits}{'c' if b.per_channel else 't'}{'+b' if b.bias else ''}"
                             f"{'+bn' if b.bn else ''}/u{b.a_bits}")
            else:
                parts.append(f"{b.kind}k{b.kernel}s{b.stride}{'c' if b.ceil else ''}")
        parts.append(f"{self.head}->{self.classes}")
        return " ".join(parts)


def _out(size: int, k: int, s: int, lo: int, hi: int, ceil: bool = False) -> int:
    span = size + lo + hi - k
    return (-(-span // s) if ceil else span // s) + 1


def spec_from_seed(seed: int) -> ConvNetSpec:
    """The network of ``seed`` (deterministic); every shape is kept valid."""
    rng = np.random.default_rng([int(seed), 0xC0117])
    dims = int(rng.choice([1, 2], p=[0.3, 0.7]))
    c0 = c = int(rng.integers(1, 4))
    size0 = size = int(rng.integers(5, 11)) if dims == 2 else int(rng.integers(8, 25))
    blocks = []
    for _ in range(int(rng.integers(1, 5))):
        kind = str(rng.choice(["conv", "dw", "maxpool", "avgpool", "res"], p=[0.4, 0.15, 0.2, 0.1, 0.15]))
        if kind in ("conv", "dw", "res"):
            k = int(rng.choice([1, 2, 3])) if kind == "conv" else 3
            s = int(rng.choice([1, 2], p=[0.7, 0.3])) if kind != "res" else 1
            if kind == "res":
                pad = (1, 1, 1, 1)
            elif rng.random() < 0.3:
                pad = tuple(int(v) for v in rng.integers(0, k, size=4))
            else:
                p = int(rng.integers(0, k // 2 + 1))
                pad = (p, p, p, p)
            if dims == 1:
                pad = (0, pad[1], 0, pad[3])
            oh = _out(size, k, s, pad[0], pad[2]) if dims == 2 else size
            ow = _out(size, k, s, pad[1], pad[3])
            if min(oh, ow) < 1:
                continue
            wb = int(rng.choice([1, 2, 3, 4, 6, 8], p=[0.1, 0.2, 0.2, 0.25, 0.15, 0.1]))
            blocks.append(BlockSpec(
                kind=kind, channels=c if kind in ("dw", "res") else int(rng.integers(1, 9)), kernel=k,
                stride=s, pad=pad, w_bits=wb, per_channel=bool(wb > 1 and rng.random() < 0.5),
                bias=bool(rng.random() < 0.5), bn=bool(rng.random() < 0.7), a_bits=int(rng.integers(2, 6)),
            ))
            if kind == "conv":
                c = blocks[-1].channels
            size = ow if dims == 1 else min(oh, ow)
            if dims == 2 and oh != ow:  # keep square maps for simplicity of the spec
                blocks.pop()
                break
        else:
            k = int(rng.integers(2, 4)) if kind == "maxpool" else 2
            s = int(rng.integers(1, 4)) if kind == "maxpool" else 2
            ceil = bool(kind == "maxpool" and rng.random() < 0.4)
            o = _out(size, k, s, 0, 0, ceil)
            if ceil and (o - 1) * s >= size:  # the last window would start in the padding
                ceil = False
                o = _out(size, k, s, 0, 0)
            if o < 1:
                continue
            blocks.append(BlockSpec(kind=kind, kernel=k, stride=s, ceil=ceil, a_bits=int(rng.integers(2, 6))))
            size = o
    return ConvNetSpec(
        seed=int(seed), dims=dims, in_channels=c0, size=size0, in_bits=int(rng.choice([4, 6, 8])),
        blocks=tuple(blocks), head=str(rng.choice(["flatten", "gap"])), classes=int(rng.integers(2, 7)),
    )


def _wq(b: BlockSpec) -> dict:
    from brevitas.quant import Int8WeightPerTensorFloat, SignedBinaryWeightPerTensorConst

    if b.w_bits == 1:
        return {"weight_quant": SignedBinaryWeightPerTensorConst}
    return {"weight_quant": Int8WeightPerTensorFloat, "weight_bit_width": b.w_bits,
            "weight_scaling_per_output_channel": b.per_channel}


def build_module(spec: ConvNetSpec):
    """Build, randomise and calibrate the Brevitas module of ``spec`` (eval mode)."""
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    from . import zoo

    two = spec.dims == 2
    conv_cls = qnn.QuantConv2d if two else qnn.QuantConv1d
    bn_cls = torch.nn.BatchNorm2d if two else torch.nn.BatchNorm1d

    def relu(bits):
        return qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=bits)

    def conv(cin, b: BlockSpec, groups=1):
        t, l, bo, r = b.pad
        sym = (t == bo == l == r) if two else (l == r)
        layers = []
        if not sym:
            layers.append(torch.nn.ZeroPad2d((l, r, t, bo)) if two else torch.nn.ConstantPad1d((l, r), 0.0))
        layers.append(conv_cls(cin, b.channels, b.kernel, stride=b.stride, padding=(l if sym else 0), groups=groups,
                               bias=b.bias, **_wq(b)))
        if b.bn:
            layers.append(bn_cls(b.channels))
        return layers

    class Residual(torch.nn.Module):
        def __init__(self, c, b: BlockSpec):
            super().__init__()
            self.main = torch.nn.Sequential(
                *conv(c, b), qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=b.a_bits + 1))
            self.act = relu(b.a_bits)

        def forward(self, x):
            return self.act(self.main(x) + x)

    with zoo._one_thread():
        torch.manual_seed(spec.seed)
        mods: list[torch.nn.Module] = [qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=spec.in_bits)]
        c = spec.in_channels
        for b in spec.blocks:
            if b.kind == "conv":
                mods += [*conv(c, b), relu(b.a_bits)]
                c = b.channels
            elif b.kind == "dw":
                mods += [*conv(c, b, groups=c), relu(b.a_bits)]
            elif b.kind == "res":
                mods.append(Residual(c, b))
            elif b.kind == "maxpool":
                pool = torch.nn.MaxPool2d if two else torch.nn.MaxPool1d
                mods.append(pool(b.kernel, stride=b.stride, ceil_mode=b.ceil))
            else:
                pool = torch.nn.AvgPool2d if two else torch.nn.AvgPool1d
                mods += [pool(b.kernel, stride=b.stride), relu(b.a_bits)]
        body = torch.nn.Sequential(*mods).eval()
        with torch.no_grad():
            feat = body(torch.zeros((1, spec.in_channels) + (spec.size,) * spec.dims))
        feat = getattr(feat, "value", feat)
        if spec.head == "gap":
            head = [torch.nn.AdaptiveAvgPool2d(1) if two else torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten(),
                    qnn.QuantLinear(c, spec.classes, bias=True, weight_quant=Int8WeightPerTensorFloat,
                                    weight_bit_width=4)]
        else:
            head = [torch.nn.Flatten(), qnn.QuantLinear(int(np.prod(feat.shape[1:])), spec.classes, bias=True,
                                                        weight_quant=Int8WeightPerTensorFloat, weight_bit_width=4)]
        module = torch.nn.Sequential(body, *head)
        zoo._randomize_norm_affine(module, torch.Generator().manual_seed(spec.seed + 1))
        zoo._calibrate(module, zoo._calib_batches(lambda n, rng: sample_inputs(spec, n, rng), spec.seed, passes=3,
                                                  batch=64))
    return module


def sample_inputs(spec: ConvNetSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((n, spec.in_channels) + (spec.size,) * spec.dims).astype(np.float32)


def random_folding(graph, rng: np.random.Generator, max_lanes: int = 16) -> dict:
    """A random valid folding of an imported CNN graph: PE | MH (or a ragged PE where the
    scheduler allows one, :func:`~gatesmith.ir.schedule.folding.ragged_ok`) and SIMD | MW (a window's
    channels per beat compatible: SIMD | C or C | SIMD) for matrix-vector units, random PE for
    depthwise units, pools, adds, concats (pixel mode, PE = CA + CB, included) and label selects
    (at most ``max_lanes`` lanes),
    windows fed the lanes their consumer reads, elementwise layers their producer's lanes."""
    from math import gcd

    from gatesmith.ir.ops import LabelSelect, MatVec, Reshape, SlidingWindow
    from gatesmith.ir.schedule.folding import RAGGED_KINDS, divisors, pe_options, ragged_ok

    def pick(options):
        return int(rng.choice(options))

    producer = {n.outputs[0]: n for n in graph.nodes}
    consumer = {i: n for n in graph.nodes for i in n.inputs}
    layers: dict[str, dict] = {}
    for n in graph.nodes:  # the units that set the pace
        op = n.op
        if isinstance(op, MatVec):
            src = producer.get(n.inputs[0])
            c = src.op.channels if src is not None and isinstance(src.op, SlidingWindow) else None
            simds = [d for d in divisors(op.mw) if d <= max_lanes and (c is None or c % d == 0 or d % c == 0)]
            pes = pe_options(op.mh) if ragged_ok(graph, n) else divisors(op.mh)  # ragged PEs too
            pe = pick([d for d in pes if d <= max_lanes])
            layers[n.name] = {"pe": pe, "simd": pick(simds)}
        elif not isinstance(op, (SlidingWindow, Reshape)) and n.kind not in ("threshold", "requant", "requantize"):
            dim = op.fold_dims()["pe"]
            extra = [op.pixel_pe] if n.kind == "concat" and op.pixel_pe <= max_lanes else []  # pixel mode
            layers[n.name] = {"pe": pick([d for d in divisors(dim) if d <= max_lanes] + extra)}

    def ragged(v) -> bool:
        """Whether the stream on ``v`` is ragged (a matvec PE not dividing MH, passed on)."""
        src = producer.get(v)
        if src is None:
            return False
        f = layers.get(src.name, {})
        if isinstance(src.op, MatVec):
            return src.op.mh % f.get("pe", 1) != 0
        return src.kind in RAGGED_KINDS and ragged(src.inputs[0]) and out_lanes(src.inputs[0]) == f.get("pe", 1)

    def out_lanes(v):
        src = producer.get(v)
        if src is None:
            return None
        if isinstance(src.op, Reshape):
            return out_lanes(src.inputs[0])
        f = layers.get(src.name, {})
        if isinstance(src.op, SlidingWindow):
            return f.get("simd", 1)
        return 1 if isinstance(src.op, LabelSelect) else f.get("pe", 1)

    for n in graph.nodes:  # windows follow their consumer, elementwise layers their producer
        if isinstance(n.op, SlidingWindow):
            c = consumer[n.outputs[0]]
            want = layers[c.name]["simd"] if isinstance(c.op, MatVec) else layers[c.name]["pe"]
            layers[n.name] = {"simd": gcd(want, n.op.channels) if n.op.channels % want else want}
        elif n.kind in ("threshold", "requant", "requantize"):
            lanes = out_lanes(n.inputs[0])
            ok = lanes and (n.op.channels % lanes == 0 or ragged(n.inputs[0]))
            layers[n.name] = {"pe": lanes if ok else 1}
    return {"layers": layers}


@dataclass
class CaseResult:
    seed: int
    net: str
    format: str = "qonnx"
    ok: bool = False
    elements: int = 0
    ref_mismatches: int = 0  # reference vs execute_onnx
    rtl_mismatches: int = 0  # RTL vs reference
    target_fps: float = 0.0
    folding: dict = field(default_factory=dict)
    cycles_est: int = 0
    cycles_sim: float = 0.0
    error: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)


def run_case(seed: int, work: str | Path, *, n_inputs: int = 8, rtl: bool = True) -> CaseResult:
    """Build, export, compile (a random throughput target) and check network ``seed`` under ``work``."""
    import json

    from gatesmith.flow import CompileOptions, compare_outputs, compile_model, load_design, simulate
    from gatesmith.verify.reference import run_float

    from . import zoo
    from .fuzz import export_format, export_module

    t0 = time.perf_counter()
    spec = spec_from_seed(seed)
    res = CaseResult(seed=int(seed), net=spec.describe(), format=export_format(spec))
    work = Path(work) / f"cnn{seed}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        module = build_module(spec)
        rng = np.random.default_rng([int(seed), 0xF01D])
        onnx_path = export_module(module, sample_inputs(spec, 1, rng), work / "net.onnx", res.format)
        if seed % 3 == 2:  # a random folding
            from gatesmith.frontend import import_onnx

            fold = random_folding(import_onnx(onnx_path), rng)
            res.folding = fold["layers"]
            ff = work / "folding.json"
            ff.write_text(json.dumps(fold))
            opts = CompileOptions(folding_file=ff, clock_mhz=100, force=True)
        else:  # the scheduler's folding for a random throughput target
            res.target_fps = float(rng.choice([20_000, 100_000, 500_000, 5_000_000]))
            opts = CompileOptions(target_fps=res.target_fps, clock_mhz=100, force=True)
        out = compile_model(onnx_path, work / "out", opts)
        graph = load_design(out).graph
        x = sample_inputs(spec, n_inputs, rng)
        x[:1] *= 50.0  # saturating inputs
        ref = run_float(graph, x)
        res.elements = int(ref.size)
        res.ref_mismatches, _ = compare_outputs(graph, ref, zoo.onnx_forward(onnx_path, x))
        if rtl:
            y, rep = simulate(out, x, engine="rtl", backpressure=True, seed=int(seed))
            res.rtl_mismatches = int(np.count_nonzero(y != ref))
            _, rep2 = simulate(out, x[:3], engine="rtl")
            res.cycles_sim = float(rep2["cycles_per_inference"])
        res.cycles_est = int(json.loads((out / "reports" / "estimate.json").read_text())["cycles_per_inference"])
        res.ok = res.ref_mismatches == 0 and res.rtl_mismatches == 0
    except Exception as e:  # noqa: BLE001 - reported with the seed
        res.error = f"{type(e).__name__}: {e}"[:2000] + "\n" + traceback.format_exc(limit=-3)[-1500:]
    res.seconds = round(time.perf_counter() - t0, 2)
    return res
