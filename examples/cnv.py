"""CNV 1w1a (FINN's BNN-PYNQ CIFAR-10 network: six 3x3 binary convolutions, max pooling, three
binary dense layers) through the Python API: build it from the zoo, export QONNX, compile at
2000 inferences/s, simulate 4 images in RTL (Verilator) against qonnx ``execute_onnx`` and
write the HTML report.

    python examples/cnv.py [--out cnv_out] [--target-fps 2000] [--n 4]

The first RTL run builds the Verilator model (about a minute; cached afterwards).
Prints the number of mismatching elements (exit 1 if any).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("cnv_out"), help="working directory (replaced)")
    ap.add_argument("--target-fps", type=float, default=2000, help="inferences per second to meet")
    ap.add_argument("--n", type=int, default=4, help="images to simulate")
    ap.add_argument("--board", default="pynq-z2")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")

    import gatesmith
    from gatesmith.verify.zoo import build, onnx_forward

    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model = build("cnv_1w1a", seed=0)
    onnx_path = model.export(a.out / "cnv_1w1a.onnx")
    print(f"[1/4] built and exported CNV 1w1a -> {onnx_path} ({time.perf_counter() - t0:.1f} s)")

    t0 = time.perf_counter()
    d = gatesmith.compile(onnx_path, out_dir=a.out / "design", board=a.board, target_fps=a.target_fps, force=True)
    e = d.estimate
    print(f"[2/4] compiled -> {d.root} ({time.perf_counter() - t0:.1f} s): {len(e['layers'])} layers, "
          f"{e['cycles_per_inference']} cycles/inference, {e['inferences_per_second']:,.0f} inferences/s at "
          f"{e['clock_mhz']:g} MHz, latency {e['latency_cycles']} cycles, bottleneck {e['bottleneck']}")

    x = model.sample_inputs(a.n, seed=1)  # (n, 3, 32, 32) in [0, 1]
    expect = onnx_forward(onnx_path, x)
    t0 = time.perf_counter()
    y, rep = d.simulate(x, engine="rtl", expect=expect)
    wall = time.perf_counter() - t0
    print(f"[3/4] simulated {rep['inferences']} images in RTL (Verilator) in {wall:.1f} s: "
          f"{rep['cycles_per_inference']:.1f} cycles/inference, latency {rep['latency_cycles']} cycles; "
          f"{rep['cycles_total'] / wall:,.0f} cycles/s simulated (Verilator build included)")
    print(f"      mismatches: {rep['mismatches']} of {expect.size} elements vs execute_onnx")

    path = d.report(inputs=x)
    print(f"[4/4] wrote {path}")
    return 1 if rep["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
