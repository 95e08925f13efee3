"""Random quantized MLPs, compiled and checked against the model (test/benchmark helper).

Every network is a pure function of an integer seed (:func:`spec_from_seed`),
so a failure found by ``tests/test_fuzz.py`` or ``benchmarks/soak.py`` is
reproduced with::

    from gatesmith.verify import fuzz
    print(fuzz.run_case(1234, "/tmp/fz"))     # -> CaseResult(...)

A network: ``QuantIdentity`` input quantizer, 1-4 ``QuantLinear`` layers (widths
1-48; weights 1-8 bits, 1-bit = ``SignedBinaryWeightPerTensorConst`` which
exports as ``BipolarQuant``; per-tensor or per-channel scales; float bias on or
off), each optionally followed by ``BatchNorm1d`` (random affine, negative
gammas included, statistics calibrated) and, between layers, a ``QuantReLU``
(unsigned), ``QuantHardTanh`` / ``QuantIdentity`` (signed) or a bipolar
``QuantIdentity`` (``SignedBinaryActPerTensorConst``); the last layer ends in
float logits or a quantizer.  The folding is random too (PE | MH, SIMD | MW).
Odd seeds without a 1-bit quantizer are exported as QCDQ (QuantizeLinear / Clip /
DequantizeLinear), the others as QONNX (:func:`export_format`).

:func:`check` compiles it and demands: the numpy reference equals
``execute_onnx`` except for proven float32 near-ties
(:func:`gatesmith.verify.neartie.explain_mismatches`), and the Verilator RTL
with random backpressure equals the reference exactly.
:func:`hypothesis_seeds` wraps the seeded generator as a hypothesis strategy.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["LayerSpec", "NetSpec", "CaseResult", "spec_from_seed", "build_module", "random_folding", "run_case",
           "hypothesis_seeds"]


@dataclass(frozen=True)
class LayerSpec:
    width: int  # output features
    w_bits: int  # 1 = bipolar weights
    per_channel: bool
    bias: bool
    bn: bool
    act: str  # "relu" | "hardtanh" | "identity" | "bipolar" | "float" (last layer only) | "quant" (last, signed)
    a_bits: int


@dataclass(frozen=True)
class NetSpec:
    seed: int
    in_features: int
    in_act: str  # "signed" | "unsigned" | "bipolar"
    in_bits: int
    layers: tuple[LayerSpec, ...]
    input_scale: float  # inputs ~ N(0, input_scale)

    def describe(self) -> str:
        parts = [f"in{self.in_features}:{self.in_act[0]}{self.in_bits}"]
        for l in self.layers:
            parts.append(
                f"{l.width}w{l.w_bits}{'c' if l.per_channel else 't'}{'+b' if l.bias else ''}{'+bn' if l.bn else ''}"
                f"/{l.act}{l.a_bits if l.act != 'float' else ''}"
            )
        return " ".join(parts)


def spec_from_seed(seed: int, *, max_width: int = 48, max_layers: int = 4) -> NetSpec:
    """The network of ``seed`` (deterministic)."""
    rng = np.random.default_rng([int(seed), 0xF022])
    n_layers = int(rng.integers(1, max_layers + 1))

    def width():
        # favour small widths, but reach 1 and max_width
        return int(min(max_width, max(1, round(float(np.exp(rng.uniform(0, np.log(max_width + 1))))))))

    def bits():
        return int(rng.choice(np.arange(1, 9), p=np.array([2, 3, 3, 3, 2, 2, 1, 2]) / 18))

    in_bits = bits()
    in_act = "bipolar" if in_bits == 1 else str(rng.choice(["signed", "unsigned"], p=[0.75, 0.25]))
    layers = []
    for k in range(n_layers):
        last = k == n_layers - 1
        wb = bits()
        ab = bits()
        if last:
            act = str(rng.choice(["float", "quant"]))
            if act == "quant" and ab == 1:
                act = "bipolar"
        elif ab == 1:
            act = str(rng.choice(["bipolar", "relu"], p=[0.8, 0.2]))
        else:
            act = str(rng.choice(["relu", "hardtanh", "identity"], p=[0.5, 0.25, 0.25]))
        layers.append(
            LayerSpec(
                width=width(),
                w_bits=wb,
                per_channel=bool(wb > 1 and rng.random() < 0.5),
                bias=bool(rng.random() < 0.6),
                bn=bool(rng.random() < 0.5),
                act=act,
                a_bits=ab,
            )
        )
    return NetSpec(
        seed=int(seed),
        in_features=width(),
        in_act=in_act,
        in_bits=in_bits,
        layers=tuple(layers),
        input_scale=float(rng.choice([0.5, 1.0, 2.0, 4.0])),
    )


def _act(kind: str, bits: int, *, return_quant_tensor: bool = False):
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat, SignedBinaryActPerTensorConst, Uint8ActPerTensorFloat

    if kind == "bipolar" or bits == 1 and kind in ("signed", "identity", "hardtanh", "quant"):
        return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=return_quant_tensor)
    if kind in ("relu", "unsigned"):
        if kind == "unsigned":
            return qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, bit_width=bits,
                                     return_quant_tensor=return_quant_tensor)
        return qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=bits, return_quant_tensor=return_quant_tensor)
    if kind == "hardtanh":
        return qnn.QuantHardTanh(act_quant=Int8ActPerTensorFloat, bit_width=bits, max_val=1.0, min_val=-1.0,
                                 return_quant_tensor=return_quant_tensor)
    return qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=bits, return_quant_tensor=return_quant_tensor)


def build_module(spec: NetSpec):
    """Build, randomise and calibrate the Brevitas module of ``spec`` (eval mode)."""
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import Int8WeightPerTensorFloat, SignedBinaryWeightPerTensorConst

    from . import zoo

    with zoo._one_thread():
        torch.manual_seed(spec.seed)
        mods: list[torch.nn.Module] = [_act(spec.in_act, spec.in_bits)]
        d = spec.in_features
        for l in spec.layers:
            if l.w_bits == 1:
                lin = qnn.QuantLinear(d, l.width, bias=l.bias, weight_quant=SignedBinaryWeightPerTensorConst)
            else:
                lin = qnn.QuantLinear(d, l.width, bias=l.bias, weight_quant=Int8WeightPerTensorFloat,
                                      weight_bit_width=l.w_bits, weight_scaling_per_output_channel=l.per_channel)
            with torch.no_grad():  # weights of varied magnitude (default init is tiny for wide layers)
                lin.weight.mul_(float(np.exp(np.random.default_rng(spec.seed + d).uniform(-0.5, 1.0))))
            mods.append(lin)
            if l.bn:
                mods.append(torch.nn.BatchNorm1d(l.width))
            if l.act != "float":
                mods.append(_act(l.act, l.a_bits))
            d = l.width
        module = torch.nn.Sequential(*mods)
        zoo._randomize_norm_affine(module, torch.Generator().manual_seed(spec.seed + 1))
        zoo._calibrate(module, zoo._calib_batches(lambda n, rng: sample_inputs(spec, n, rng), spec.seed, passes=4))
    return module


def sample_inputs(spec: NetSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    return (rng.standard_normal((n, spec.in_features)) * spec.input_scale).astype(np.float32)


def export_format(spec) -> str:
    """QCDQ (QuantizeLinear/Clip/DequantizeLinear) for odd seeds whose network has no 1-bit
    quantizer (QCDQ cannot express binary ones), QONNX otherwise."""
    one_bit = getattr(spec, "in_bits", 2) == 1 or any(
        getattr(l, "w_bits", 2) == 1 or getattr(l, "a_bits", 2) == 1 and getattr(l, "act", "") != "float"
        for l in getattr(spec, "layers", getattr(spec, "blocks", ()))
    )
    return "qcdq" if spec.seed % 2 == 1 and not one_bit else "qonnx"


def export_module(module, example: np.ndarray, path: Path, fmt: str) -> Path:
    import torch
    from brevitas.export import export_onnx_qcdq, export_qonnx

    path.parent.mkdir(parents=True, exist_ok=True)
    exporter = export_qonnx if fmt == "qonnx" else export_onnx_qcdq
    with torch.no_grad():
        exporter(module, torch.from_numpy(example), str(path), dynamo=False)
    return path


def export(spec: NetSpec, module, path: Path) -> Path:
    example = sample_inputs(spec, 1, np.random.default_rng(1))
    return export_module(module, example, path, export_format(spec))


def random_folding(graph, rng: np.random.Generator, max_lanes: int | None = None) -> dict:
    """A random valid folding for an imported graph: SIMD | MW; PE | MH, or any PE the scheduler
    would consider (:func:`~gatesmith.ir.schedule.folding.pe_options`, ragged ones included) where
    the layer's output does not reach the graph output; elementwise PE = producer's PE where it
    divides the channels or the producer's stream is ragged.

    ``max_lanes`` bounds PE * SIMD per layer (Verilator build time grows with it)."""
    from gatesmith.ir.ops import MatVec
    from gatesmith.ir.schedule.folding import RAGGED_KINDS, divisors, pe_options, ragged_ok

    layers: dict[str, dict] = {}
    prev, prev_ragged = None, False
    cap = max_lanes if max_lanes is not None else 1 << 30
    for n in graph.nodes:
        dims = n.op.fold_dims()
        if isinstance(n.op, MatVec):
            pes = pe_options(dims["pe"]) if ragged_ok(graph, n) else divisors(dims["pe"])
            pe = int(rng.choice([d for d in pes if d <= cap]))
            simd = int(rng.choice([d for d in divisors(dims["simd"]) if pe * d <= cap]))
            layers[n.name] = {"pe": pe, "simd": simd}
            prev_ragged = dims["pe"] % pe != 0
        else:
            ragged = prev_ragged and n.kind in RAGGED_KINDS
            pe = prev if prev is not None and (dims["pe"] % prev == 0 or ragged) else 1
            layers[n.name] = {"pe": pe}
            prev_ragged = ragged and dims["pe"] % pe != 0
        prev = layers[n.name]["pe"]
    return {"layers": layers}


@dataclass
class CaseResult:
    seed: int
    net: str
    format: str = "qonnx"
    ok: bool = False
    elements: int = 0
    ref_mismatches: int = 0  # reference vs execute_onnx
    excused: int = 0  # of those, proven float32 near-ties
    unexplained: list = field(default_factory=list)
    rtl_mismatches: int = 0  # RTL vs reference
    folding: dict = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)


def run_case(seed: int, work: str | Path, *, n_inputs: int = 24, max_width: int = 48, rtl: bool = True,
             max_lanes: int | None = None) -> CaseResult:
    """Build, export, compile (random folding, PE * SIMD <= ``max_lanes``) and check network ``seed`` under ``work``."""
    from gatesmith.flow import CompileOptions, compare_outputs, compile_model, load_design, simulate
    from gatesmith.frontend import import_onnx
    from gatesmith.verify.neartie import explain_mismatches
    from gatesmith.verify.reference import run_float

    from . import zoo

    t0 = time.perf_counter()
    spec = spec_from_seed(seed, max_width=max_width)
    res = CaseResult(seed=int(seed), net=spec.describe(), format=export_format(spec))
    work = Path(work) / f"seed{seed}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        module = build_module(spec)
        onnx_path = export(spec, module, work / "net.onnx")
        rng = np.random.default_rng([int(seed), 0xF01D])
        fold = random_folding(import_onnx(onnx_path), rng, max_lanes)
        res.folding = fold["layers"]
        ff = work / "folding.json"
        ff.write_text(json.dumps(fold))
        out = compile_model(onnx_path, work / "out", CompileOptions(folding_file=ff, force=True))
        graph = load_design(out).graph
        x = sample_inputs(spec, n_inputs, rng)
        x[:2] *= 50.0  # saturating inputs
        x[2] = 0.0
        ref = run_float(graph, x)
        theirs = zoo.onnx_forward(onnx_path, x)
        res.elements = int(ref.size)
        mm, _ = compare_outputs(graph, ref, theirs)
        res.ref_mismatches = mm
        if mm:
            rep = explain_mismatches(onnx_path, graph, x, ref, theirs)
            res.excused = int(rep.excused_elements)
            res.unexplained = [list(u) for u in rep.unexplained]
        if rtl:
            y, _ = simulate(out, x, engine="rtl", backpressure=True, seed=int(seed))
            res.rtl_mismatches = int(np.count_nonzero(y != ref))
        res.ok = not res.unexplained and res.excused == res.ref_mismatches and res.rtl_mismatches == 0
    except Exception as e:  # noqa: BLE001 - reported with the seed
        res.error = f"{type(e).__name__}: {e}"[:2000] + "\n" + traceback.format_exc(limit=-3)[-1500:]
    res.seconds = round(time.perf_counter() - t0, 2)
    return res


def hypothesis_seeds():
    """A hypothesis strategy of network seeds (the seeded generator, shrinkable by seed)."""
    from hypothesis import strategies as st

    return st.integers(min_value=0, max_value=2**31 - 1)
