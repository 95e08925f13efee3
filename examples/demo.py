"""`make demo`: train a 2-bit MLP on scikit-learn's digits with Brevitas, compile it to RTL,
simulate 200 test digits in Verilator and compare with the model.

Prints Brevitas accuracy, RTL accuracy, mismatching elements against ONNX
execution, cycles per inference and estimated inferences per second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("demo_out"))
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--n", type=int, default=200, help="test digits to simulate")
    ap.add_argument("--target-fps", type=float, default=1_000_000)
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")

    from gatesmith.flow import CompileOptions, compile_model, simulate
    from gatesmith.verify.zoo import onnx_forward, train_digits_mlp

    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model, x_test, y_test = train_digits_mlp(epochs=a.epochs)
    print(f"[1/4] trained 2-bit MLP 64-64-64-10 on digits in {time.perf_counter() - t0:.1f} s")
    onnx_path = model.export(a.out / "digits_mlp.onnx")
    x, y = x_test[: a.n], y_test[: a.n]

    t0 = time.perf_counter()
    design = compile_model(onnx_path, a.out / "design",
                           CompileOptions(board="pynq-z2", target_fps=a.target_fps, force=True))
    print(f"[2/4] compiled {onnx_path} -> {design} in {time.perf_counter() - t0:.1f} s")

    expect = onnx_forward(onnx_path, x)
    print(f"[3/4] simulating {len(x)} digits in RTL (Verilator, random backpressure) ...")
    t0 = time.perf_counter()
    y_rtl, rep = simulate(design, x, engine="rtl", backpressure=True, expect=expect)
    print(f"      done in {time.perf_counter() - t0:.1f} s")

    est = json.loads((design / "reports" / "estimate.json").read_text())
    acc_brevitas = float((model.torch_forward(x).argmax(1) == y).mean())
    acc_rtl = float((y_rtl.argmax(1) == y).mean())
    print("[4/4] results")
    print(f"      Brevitas accuracy          {acc_brevitas:.3f}")
    print(f"      RTL accuracy               {acc_rtl:.3f}")
    print(f"      mismatching elements       {rep['mismatches']} of {expect.size} (vs ONNX execution)")
    print(f"      cycles per inference       {rep['cycles_per_inference']:.1f} simulated, "
          f"{est['cycles_per_inference']} estimated")
    print(f"      latency                    {rep['latency_cycles']} cycles")
    print(f"      inferences per second      {est['inferences_per_second']:,.0f} estimated at "
          f"{est['clock_mhz']:g} MHz on {json.loads((design / 'manifest.json').read_text())['board']}")
    return 1 if rep["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
