"""Jet tagger end to end: build the zoo's jet tagger (16-64-32-32-5, 8-bit input, 6-bit
per-channel weights, BatchNorm, 6-bit ReLU, float logits), export QONNX, compile it for a
target throughput, simulate the RTL in Verilator against qonnx ``execute_onnx`` and write the
HTML report.

    python examples/jet_tagger.py [--out jet_out] [--target-fps 1e6] [--n 200]

Prints the estimate, the simulated cycles per inference, the simulated rate and the number of
mismatching elements (exit 1 if any).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("jet_out"), help="working directory (replaced)")
    ap.add_argument("--target-fps", type=float, default=1e6, help="inferences per second to meet")
    ap.add_argument("--n", type=int, default=200, help="inputs to simulate")
    ap.add_argument("--board", default="pynq-z2")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")

    import gatesmith
    from gatesmith.verify.zoo import build, onnx_forward

    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model = build("jet_tagger", seed=0)
    onnx_path = model.export(a.out / "jet_tagger.onnx")
    print(f"[1/4] built and exported the jet tagger -> {onnx_path} ({time.perf_counter() - t0:.1f} s)")

    t0 = time.perf_counter()
    d = gatesmith.compile(onnx_path, out_dir=a.out / "design", board=a.board, target_fps=a.target_fps, force=True)
    e = d.estimate
    print(f"[2/4] compiled -> {d.root} ({time.perf_counter() - t0:.1f} s): {e['cycles_per_inference']} cycles/inference, "
          f"{e['inferences_per_second']:,.0f} inferences/s at {e['clock_mhz']:g} MHz "
          f"(target {a.target_fps:,.0f}: {'met' if e.get('meets_target') else 'NOT met'}), bottleneck {e['bottleneck']}")

    x = model.sample_inputs(a.n, seed=1)
    expect = onnx_forward(onnx_path, x)
    t0 = time.perf_counter()
    y, rep = d.simulate(x, engine="rtl", backpressure=True, expect=expect)
    wall = time.perf_counter() - t0
    print(f"[3/4] simulated {rep['inferences']} inputs in RTL (Verilator, random backpressure) in {wall:.1f} s: "
          f"{rep['cycles_per_inference']:.1f} cycles/inference, latency {rep['latency_cycles']} cycles; "
          f"{rep['inferences'] / wall:,.0f} inferences/s, {rep['cycles_total'] / wall:,.0f} cycles/s simulated "
          f"(Verilator build included)")
    print(f"      mismatches: {rep['mismatches']} of {expect.size} elements vs execute_onnx "
          f"(largest difference {rep['max_abs_diff']:.3g})")

    path = d.report(inputs=x)
    print(f"[4/4] wrote {path}")
    return 1 if rep["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
