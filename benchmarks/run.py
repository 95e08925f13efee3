"""Benchmarks of the flow: prints a table and writes benchmarks/results/mlp_flow.json
(``--suite mlp``) or benchmarks/results/conv_flow.json (``--suite conv``: CNV, ResNet-8,
DS-CNN, the VGG10-RadioML-shaped 1-D CNN and the small test CNNs).

Per model: compile time, estimated vs simulated cycles per inference (RTL,
no stalls), RTL simulation throughput (inferences per wall-clock second,
build excluded and reported apart), reference interpreter throughput vs
qonnx's execute_onnx, and mismatching elements against execute_onnx.

    python benchmarks/run.py [--suite mlp|conv] [--models tfc_1w1a,jet_tagger] [--n 200]

With ``--models``, the named rows replace those of the same name in an existing
results file (the other rows are kept), so one row can be re-run on its own.
``cnv_1w1a_30k`` is CNV at 30k inferences/s: its first conv needs parallel windows.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

DEFAULT = [
    ("tfc_1w1a", None, 200_000),
    ("tfc_2w2a", None, 200_000),
    ("sfc_1w2a", None, 50_000),
    ("lfc_1w1a", None, 10_000),
    ("jet_tagger", None, 2_000_000),
    ("pot_mlp", None, 2_000_000),
    ("mlp3_qcdq", "qcdq", 2_000_000),
]
CONV = [
    ("cnv_1w1a", None, 2_000),
    ("cnv_2w2a", None, 2_000),
    ("resnet8", None, 2_000),
    ("ds_cnn", None, 5_000),
    ("vgg10_1d", None, 20_000),
    ("conv_small", None, 50_000),
    ("conv1d_small", None, 100_000),
    ("conv_avgpool", None, 50_000),
    ("res_small", None, 50_000),
    ("concat_small", None, 50_000),
    ("cnv_1w1a_30k", None, 30_000),
]
#: row name -> zoo model, for rows that compile a model at another target
ALIASES = {"cnv_1w1a_30k": "cnv_1w1a"}
SUITES = {"mlp": (DEFAULT, 200, "mlp_flow.json"), "conv": (CONV, 16, "conv_flow.json")}


def bench_one(name, fmt, fps, n, work: Path) -> dict:
    from gatesmith.flow import CompileOptions, compile_model, load_design, simulate
    from gatesmith.verify import zoo
    from gatesmith.verify.reference import run_float

    model = zoo.build(ALIASES.get(name, name))
    path = model.export(work / f"{name}.onnx", **({"fmt": fmt} if fmt else {}))
    t0 = time.perf_counter()
    out = compile_model(path, work / f"{name}_design", CompileOptions(clock_mhz=100, target_fps=fps, force=True))
    compile_s = time.perf_counter() - t0
    est = json.loads((out / "reports" / "estimate.json").read_text())
    x = model.sample_inputs(n, seed=1)

    t0 = time.perf_counter()
    expect = zoo.onnx_forward(path, x)
    onnx_s = time.perf_counter() - t0
    graph = load_design(out).graph
    t0 = time.perf_counter()
    run_float(graph, x)
    ref_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    simulate(out, x, engine="rtl")  # builds the Verilator model once (its memories are sized for N)
    build_s = time.perf_counter() - t0
    _, rep = simulate(out, x, engine="rtl", backpressure=False, expect=expect)
    _, rep_bp = simulate(out, x, engine="rtl", backpressure=True, expect=expect)
    return {
        "model": name,
        "format": fmt or "qonnx",
        "target_fps": fps,
        "clock_mhz": 100,
        "layers": len(est["layers"]),
        "compile_s": round(compile_s, 3),
        "cycles_est": est["cycles_per_inference"],
        "cycles_sim": round(rep["cycles_per_inference"], 2),
        "cycles_err_pct": round(100 * (rep["cycles_per_inference"] - est["cycles_per_inference"]) / est["cycles_per_inference"], 2),
        "latency_cycles_sim": rep["latency_cycles"],
        "latency_cycles_est": est["latency_cycles"],
        "est_inferences_per_s": round(est["inferences_per_second"]),
        "rtl_first_run_s": round(build_s, 2),  # includes the Verilator build unless cached
        "rtl_sim_inferences_per_s": round(n / rep["wall_seconds"], 1),
        "rtl_sim_cycles_per_s": round(rep["cycles_total"] / rep["wall_seconds"]),
        "reference_inferences_per_s": round(n / ref_s, 1),
        "execute_onnx_inferences_per_s": round(n / onnx_s, 1),
        "mismatches": rep["mismatches"],
        "mismatches_backpressure": rep_bp["mismatches"],
        "inferences": n,
        # kernel positions per beat of the widest sliding window (parallel windows)
        "max_swg_kp": max([e.get("pe", 1) for e in json.loads((out / "folding.json").read_text())["layers"].values()
                           if e.get("kind") == "swg"], default=1),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=sorted(SUITES), default="mlp")
    ap.add_argument("--models", default=None, help="comma-separated zoo names (default: the suite's)")
    ap.add_argument("--n", type=int, default=None, help="inferences per model (default: 200 mlp, 16 conv)")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    models, n_default, out_name = SUITES[a.suite]
    filtered = a.models is not None
    a.models = a.models or ",".join(m for m, _, _ in models)
    a.n = a.n or n_default
    a.out = a.out or Path(__file__).parent / "results" / out_name
    warnings.filterwarnings("ignore")
    table = {m: (f, fps) for m, f, fps in DEFAULT + CONV}
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name in a.models.split(","):
            fmt, fps = table.get(name, (None, 1_000_000))
            rows.append(bench_one(name, fmt, fps, a.n, Path(d)))
            r = rows[-1]
            print(f"{name}: compile {r['compile_s']}s, cycles est {r['cycles_est']} sim {r['cycles_sim']}, "
                  f"mismatches {r['mismatches']}", flush=True)
    cols = ["model", "compile_s", "cycles_est", "cycles_sim", "cycles_err_pct", "latency_cycles_sim",
            "rtl_first_run_s", "rtl_sim_inferences_per_s", "rtl_sim_cycles_per_s", "reference_inferences_per_s",
            "execute_onnx_inferences_per_s", "mismatches", "mismatches_backpressure"]
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    print(" | ".join(c.ljust(w) for c, w in zip(cols, widths)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(r[c]).ljust(w) for c, w in zip(cols, widths)))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    if filtered and a.out.exists():  # keep the rows not re-run, in the suite's order
        new = {r["model"]: r for r in rows}
        old = [r for r in json.loads(a.out.read_text()).get("rows", []) if r["model"] not in new]
        order = {m: k for k, (m, _, _) in enumerate(models)}
        rows = sorted(old + rows, key=lambda r: order.get(r["model"], len(order)))
    a.out.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "processor": platform.machine(), "cores": __import__("os").cpu_count()},
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
    }, indent=2) + "\n")
    print(f"wrote {a.out}")
    return 1 if any(r["mismatches"] or r["mismatches_backpressure"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
