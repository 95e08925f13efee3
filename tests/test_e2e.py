"""End to end: Brevitas export -> compile -> RTL simulation (Verilator, random backpressure)
equal to execute_onnx for every element, and the CLI around it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gatesmith.flow import CompileOptions, compile_model, simulate
from gatesmith.verify import zoo
from gatesmith.verify.rtl_sim import lint_design

pytestmark = [pytest.mark.rtl, pytest.mark.brevitas]

# (zoo name, export format, target fps at 100 MHz): targets keep simulation short
E2E = [
    ("tfc_1w1a", None, 200_000),
    ("tfc_2w2a", None, 200_000),
    ("sfc_1w2a", None, 50_000),
    ("jet_tagger", None, 2_000_000),
    ("pot_mlp", None, 2_000_000),
    ("mlp3_qcdq", "qcdq", 2_000_000),
]


def _extremes(model, n_random: int) -> np.ndarray:
    """Random inputs plus inputs that drive the input quantizer to its extremes."""
    return model.sample_with_extremes(n_random, seed=5)


@pytest.mark.parametrize("name, fmt, fps", E2E)
def test_rtl_equals_onnx(tmp_path, zoo_export, name, fmt, fps):
    model, path = zoo_export(name, fmt)
    out = compile_model(path, tmp_path / "design", CompileOptions(board="pynq-z2", clock_mhz=100, target_fps=fps))
    lint_design(out / "rtl", "gatesmith_top")  # verilator --lint-only -Wall: no warning
    x = _extremes(model, 32)
    expect = zoo.onnx_forward(path, x)
    y, rep = simulate(out, x, engine="rtl", backpressure=True, seed=3, expect=expect)
    assert rep["mismatches"] == 0, f"{rep['mismatches']} elements differ from execute_onnx"
    assert y.shape == expect.shape and y.dtype == expect.dtype
    est = json.loads((out / "reports" / "estimate.json").read_text())
    # without stalls the design runs at the estimated initiation interval
    _, rep2 = simulate(out, x[:16], engine="rtl", backpressure=False)
    assert rep2["cycles_per_inference"] <= est["cycles_per_inference"] * 1.10 + 2
    assert rep2["cycles_per_inference"] >= est["cycles_per_inference"] * 0.95
    # the beat-level latency model of the estimate is within 5% of the simulated latency
    assert abs(rep2["latency_cycles"] - est["latency_cycles"]) <= 0.05 * est["latency_cycles"]
