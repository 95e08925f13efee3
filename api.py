"""The Python API: ``gatesmith.compile(...)`` returns a :class:`Design`.

    import gatesmith
    d = gatesmith.compile("model.onnx", out_dir="out", board="pynq-z2", target_fps=1e6)
    d.estimate["cycles_per_inference"]
    y, rep = d.simulate(x, engine="reference")     # also "rtl" (Verilator), "csim" (g++)
    d.report(inputs=x)                             # out/reports/report.html
    d.export_vivado()                              # out/vivado/

A Brevitas ``nn.Module`` works too, with an example input (a tensor or array of
the model's input shape, batch axis included): it is exported with Brevitas'
``export_qonnx`` and the ONNX file is kept as ``OUT/model.onnx``.

The API is a layer over :mod:`gatesmith.flow` (what the command line calls):
a notebook and ``gatesmith compile``/``sim``/``report`` produce the same files
and numbers.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["compile", "load", "Design"]


@dataclass(frozen=True)
class Design:
    """A compiled design: its output directory and what is in it."""

    root: Path

    @property
    def manifest(self) -> dict:
        return json.loads((self.root / "manifest.json").read_text())

    @property
    def estimate(self) -> dict:
        """``reports/estimate.json``: cycles per inference, latency, bottleneck, per-layer cycles."""
        return json.loads((self.root / "reports" / "estimate.json").read_text())

    @property
    def graph(self):
        """The folded integer IR graph (:class:`gatesmith.ir.Graph`)."""
        from .flow import load_design

        return load_design(self.root).graph

    @property
    def onnx_path(self) -> Path | None:
        """The exported ONNX file when the design was compiled from an ``nn.Module``."""
        p = self.root / "model.onnx"
        return p if p.is_file() else None

    def simulate(self, x, *, engine: str = "rtl", backpressure: bool = False, seed: int = 1,
                 expect=None) -> tuple[np.ndarray, dict]:
        """Run the design on float inputs ``x`` ``(N, *onnx_input_shape)``; returns
        ``(float outputs, report)``, the report also written to ``reports/sim.json``.
        ``expect`` (e.g. ONNX execution's outputs) adds ``mismatches`` to the report."""
        from .flow import simulate

        return simulate(self.root, _as_numpy(x), engine=engine, backpressure=backpressure, seed=seed,
                        expect=None if expect is None else _as_numpy(expect), source="x")

    def report(self, inputs=None) -> Path:
        """Write ``reports/report.html`` (with a value-range profile of ``inputs`` if given)."""
        from .report import build_report

        return build_report(self.root, inputs=None if inputs is None else _as_numpy(inputs))

    def export_vivado(self, board: str | None = None) -> Path:
        """Write ``vivado/`` (build.tcl, IP, block design, PYNQ driver); returns its path."""
        from .export import export_vivado

        return export_vivado(self.root, board=board)

    def pnr(self, board: str | None = None, seed: int = 1) -> dict:
        """Yosys + nextpnr-ecp5 for an ECP5 board; returns ``reports/pnr.json``'s content."""
        from .implement import place_and_route

        return place_and_route(self.root, board=board, seed=seed)

    def synth(self, **options) -> dict:
        """Synthesise the design (``reports/synth.json``: LUT/FF/DSP/BRAM18/URAM, total and per layer)."""
        from . import implement

        fn = getattr(implement, "synthesize", None) or getattr(implement, "synth", None)
        if fn is None:
            raise NotImplementedError(
                "Design.synth: this gatesmith has no synthesis runner yet (gatesmith.implement.synthesize); "
                "use Design.pnr() for Yosys + nextpnr on an ECP5 board"
            )
        return fn(self.root, **options)

    def _repr_html_(self) -> str:
        """A notebook cell's view: the summary of the estimate (names HTML-escaped)."""
        from html import escape

        try:
            e, m = self.estimate, self.manifest
        except (OSError, ValueError):
            return f"<pre>{escape(repr(self))}</pre>"
        rows = [("output directory", str(self.root)), ("board", f"{m.get('board')} ({m.get('part')})"),
                ("clock", f"{e['clock_mhz']:g} MHz"), ("cycles per inference", f"{e['cycles_per_inference']:,}"),
                ("inferences per second", f"{e['inferences_per_second']:,.0f}"),
                ("latency", f"{e['latency_cycles']:,} cycles"), ("bottleneck", str(e["bottleneck"]))]
        body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
        return f"<table>{body}</table>"

    def __repr__(self) -> str:
        try:
            e = self.estimate
            return (f"Design({str(self.root)!r}: {e['cycles_per_inference']} cycles/inference, "
                    f"{e['inferences_per_second']:.0f} inferences/s at {e['clock_mhz']:g} MHz)")
        except (OSError, ValueError, KeyError):
            return f"Design({str(self.root)!r})"


def _as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    x = getattr(x, "value", x)  # a Brevitas QuantTensor
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _export_module(module, example_input, path: Path) -> Path:
    """Export a Brevitas ``nn.Module`` to QONNX with an example input (batch axis included)."""
    from .flow import FlowError

    if example_input is None:
        raise FlowError("compile: an nn.Module needs an example input (e.g. torch.zeros(1, *input_shape))")
    try:
        import torch
        from brevitas.export import export_qonnx
    except ImportError as e:
        raise FlowError(f"compile: exporting an nn.Module needs torch and brevitas "
                        f"(pip install 'gatesmith[brevitas]'): {e}") from None
    ex = example_input if isinstance(example_input, torch.Tensor) else torch.from_numpy(
        np.ascontiguousarray(example_input, dtype=np.float32))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            export_qonnx(module, ex, str(path), dynamo=False)
    finally:
        module.train(was_training)
    return path


def compile(model, example_input=None, *, out_dir=None, board: str = "pynq-z2", clock_mhz: float | None = None,
            target_fps: float | None = None, folding=None, requant: str = "auto", backend: str = "all",
            top: str = "gatesmith_top", force: bool = False, fixed_bits: int | None = None,
            fixed_range: str | None = None, calibration=None, budget: float | None = None,
            mem_style: str = "auto", mul_style: str = "auto") -> Design:
    """Compile ``model`` (an ONNX path, or a Brevitas ``nn.Module`` with ``example_input``) into
    ``out_dir`` (default: a new temporary directory) and return the :class:`Design`.

    The keywords are the command line's options: ``folding`` is a folding.json path (instead of
    ``target_fps``), ``force`` replaces an existing ``out_dir``; ``fixed_bits``, ``fixed_range``
    (``"proven"``/``"calibrated"``) and ``calibration`` (an X.npy path or array) give fixed-point
    formats to tensors the model leaves unquantized (``OUT/model_fixed.onnx``); ``budget`` (share of the board's
    resources) alone picks the fastest design that fits, and with ``target_fps``/``folding``
    fails if the design does not fit; ``mem_style`` (auto/lutram/bram) and ``mul_style``
    (auto/dsp/lut/pack) place every layer's weights and multipliers."""
    from .flow import CompileOptions, FlowError, compile_model

    if out_dir is None:
        out = Path(tempfile.mkdtemp(prefix="gatesmith-")) / "design"
    else:
        out = Path(out_dir)
    if folding is not None and target_fps is not None:
        raise FlowError("compile: give folding or target_fps, not both")
    opts = CompileOptions(board=board, clock_mhz=clock_mhz, target_fps=target_fps,
                          folding_file=None if folding is None else Path(folding), requant=requant,
                          force=force, top=top, backend=backend, fixed_bits=fixed_bits, fixed_range=fixed_range,
                          calibration=(calibration if calibration is None or isinstance(calibration, (str, Path))
                                       else _as_numpy(calibration)), budget=budget,
                          mem_style=mem_style, mul_style=mul_style)
    if isinstance(model, (str, Path)):
        return Design(root=compile_model(Path(model), out, opts))
    if not hasattr(model, "forward"):
        raise FlowError(f"compile: expected an ONNX file path or a Brevitas nn.Module, got {type(model).__name__}")
    tmp = Path(tempfile.mkdtemp(prefix="gatesmith-export-"))
    try:
        onnx_path = _export_module(model, example_input, tmp / "model.onnx")
        root = compile_model(onnx_path, out, opts)
        shutil.copy(onnx_path, root / "model.onnx")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Design(root=root)


def load(out_dir) -> Design:
    """The :class:`Design` in an existing output directory of ``gatesmith compile``."""
    from .flow import load_design

    load_design(out_dir)  # checks it is one
    return Design(root=Path(out_dir))
