"""gatesmith's HLS C++ vs hls4ml 1.3 on the same QONNX models (the MLP zoo).

Per model and tool: conversion time (ONNX file -> C++ on disk), C-sim build
time (g++, cold), C-sim throughput (inferences per wall-clock second of the
compiled C simulation, build excluded) and bit-exactness against qonnx's
``execute_onnx`` on random inputs plus inputs at the input quantizer's
extremes: elements exactly equal, elements outside gatesmith's comparison
rule (``flow.mismatch_mask``: quantized outputs equal, float logits within a
quarter of one accumulator step), for quantized outputs the elements whose
quantization level ``round(y / scale)`` differs (a tool may output the right
level with a float rounding of its own) and the largest absolute difference.

hls4ml is driven as its documentation says for QONNX: qonnx cleanup,
(QCDQ exports: ``QCDQToQuant`` and cleanup), ``GemmToMatMul``, cleanup again,
``config_from_onnx_model(granularity="name")``, ``convert_from_onnx_model``
(Vivado backend, io_parallel), ``compile()``, ``predict()``.  Whatever fails
is recorded with its error, not hidden.

    python benchmarks/hls4ml_compare.py [--models tfc_1w1a,jet_tagger] [--n 500]

Prints a table and writes benchmarks/results/hls4ml_compare.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

#: the MLP zoo compared (each in its default export format: QONNX, QCDQ for mlp3_qcdq)
MODELS = ("tfc_1w1a", "tfc_2w2a", "sfc_1w2a", "jet_tagger", "pot_mlp", "mlp3_qcdq", "digits_mlp")
#: gatesmith's folding target (inferences/s at 100 MHz) where the default 2M would unroll too much
TARGET_FPS = {"tfc_1w1a": 200_000, "tfc_2w2a": 200_000, "sfc_1w2a": 50_000}


def _inputs(model, n: int) -> np.ndarray:
    x = model.sample_inputs(n, seed=21)
    shape = x.shape[1:]
    hi = np.full(shape, 1e3, np.float32)
    alt = np.where(np.arange(int(np.prod(shape))).reshape(shape) % 2 == 0, 1e3, -1e3).astype(np.float32)
    ext = [hi, -hi, alt, -alt]
    assert len(ext) == N_EXTREME
    return np.concatenate([x, np.stack(ext)]).astype(np.float32)


#: inputs at the input quantizer's extremes appended after the random ones
N_EXTREME = 4


def _accuracy(graph, y: np.ndarray, expect: np.ndarray) -> dict:
    from gatesmith.flow import mismatch_mask

    y = np.asarray(y, np.float32).reshape(expect.shape)
    diff = np.abs(y.astype(np.float64) - expect.astype(np.float64))
    bad = mismatch_mask(graph, y, expect)
    rec = {
        "elements": int(expect.size),
        "exactly_equal": int(np.count_nonzero(y == expect)),
        "mismatches": int(np.count_nonzero(bad)),
        "mismatches_on_random_inputs": int(np.count_nonzero(bad[:-N_EXTREME])),
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
    }
    om = graph.output_map
    if om.kind.value == "quant":  # quantized output: do the quantization levels (q = y / scale + z) agree?
        scale = np.asarray(om.scale, np.float64).reshape(1, -1)
        zp = np.asarray(om.zero_point, np.float64).reshape(1, -1)

        def level(v):
            return np.round(v.reshape(len(v), -1).astype(np.float64) / scale + zp)

        rec["level_mismatches"] = int(np.count_nonzero(level(y) != level(expect)))
    return rec


def bench_gatesmith(path: Path, fps: float, x: np.ndarray, expect: np.ndarray, work: Path) -> dict:
    from gatesmith.flow import CompileOptions, compile_model, load_design
    from gatesmith.verify.csim import build_csim, run_csim

    t0 = time.perf_counter()
    out = compile_model(path, work / "gatesmith", CompileOptions(clock_mhz=100, target_fps=fps, backend="hls"))
    convert = time.perf_counter() - t0
    design = load_design(out)
    g = design.graph
    cache = work / "gs_csim_cache"  # cold: nothing cached yet
    _, _, build = build_csim(out / "hls", cache_dir=cache)
    q = g.input_quant.quantize(x)
    c = int(np.prod(g.value(g.outputs[0]).shape))
    res = run_csim(out / "hls", q.reshape(len(q), -1), out_elems=c, cache_dir=cache)
    y = g.output_map.dequantize(res.y_int.reshape((len(q), *g.value(g.outputs[0]).shape)))
    return {
        "ok": True,
        "convert_seconds": round(convert, 3),
        "csim_build_seconds": round(build, 3),
        "csim_inferences_per_second": round(len(x) / res.run_seconds, 1),
        **_accuracy(g, y, expect),
    }, g


def _hls4ml_model(path: Path, fmt: str | None):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(ModelWrapper(str(path)))
    if fmt == "qcdq":  # after a cleanup (before it, QCDQToQuant fails on Brevitas' QCDQ export)
        from qonnx.transformation.qcdq_to_qonnx import QCDQToQuant

        model = cleanup_model(model.transform(QCDQToQuant()))
    model = model.transform(GemmToMatMul())
    return cleanup_model(model)


def bench_hls4ml(path: Path, fmt: str | None, x: np.ndarray, precision: str, work: Path) -> tuple[dict, np.ndarray | None]:
    """hls4ml's documented QONNX flow on ``path``; (record, outputs or None)."""
    import hls4ml

    rec: dict = {"ok": False, "default_precision": precision}
    stage = "qonnx preprocessing"
    y = None
    try:
        t0 = time.perf_counter()
        model = _hls4ml_model(path, fmt)
        stage = "config_from_onnx_model"
        config = hls4ml.utils.config.config_from_onnx_model(model, granularity="name", backend="Vivado",
                                                             default_precision=precision)
        stage = "convert_from_onnx_model"
        hm = hls4ml.converters.convert_from_onnx_model(model, output_dir=str(work / "hls4ml"), backend="Vivado",
                                                       io_type="io_parallel", hls_config=config)
        hm.write()
        rec["convert_seconds"] = round(time.perf_counter() - t0, 3)
        stage = "compile (g++)"
        t0 = time.perf_counter()
        hm.compile()
        rec["csim_build_seconds"] = round(time.perf_counter() - t0, 3)
        stage = "predict"
        xin = np.ascontiguousarray(x.reshape(len(x), -1))
        t0 = time.perf_counter()
        y = np.asarray(hm.predict(xin))
        rec["csim_inferences_per_second"] = round(len(x) / (time.perf_counter() - t0), 1)
        rec["ok"] = True
    except Exception as e:  # noqa: BLE001 - a benchmark records what fails
        rec["failed_at"] = stage
        rec["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
        rec["traceback_tail"] = traceback.format_exc().strip().splitlines()[-3:]
    return rec, y


def _hls4ml_child(args) -> int:
    """``--hls4ml-child MODEL.onnx FMT PRECISION WORKDIR``: one hls4ml attempt, results in WORKDIR."""
    path, fmt, precision, work = Path(args[0]), (args[1] or None), args[2], Path(args[3])
    x = np.load(work / "x.npy")
    with contextlib.redirect_stdout(io.StringIO()):  # hls4ml prints its whole graph
        rec, y = bench_hls4ml(path, fmt, x, precision, work)
    if y is not None:
        np.save(work / "y.npy", y)
    (work / "rec.json").write_text(json.dumps(rec))
    return 0


def run_hls4ml(path: Path, fmt: str | None, x: np.ndarray, expect: np.ndarray, graph, precision: str,
               work: Path, timeout: float) -> dict:
    """One hls4ml attempt in a child process (its g++ build can run very long on large layers)."""
    work.mkdir(parents=True, exist_ok=True)
    np.save(work / "x.npy", x)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--hls4ml-child", str(path), fmt or "", precision,
           str(work)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the child and its g++
        proc.communicate()
        rec = {"ok": False, "default_precision": precision, "failed_at": "timeout",
               "error": f"no result within {timeout:.0f} s (conversion + g++ build + prediction)"}
        if (work / "hls4ml").is_dir():
            rec["failed_at"] = "compile (g++) or predict: timeout"
        return rec
    if not (work / "rec.json").is_file():
        tail = (err or "").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return {"ok": False, "default_precision": precision, "failed_at": "child process", "error": tail[0][:300],
                "seconds": round(time.perf_counter() - t0, 1)}
    rec = json.loads((work / "rec.json").read_text())
    if rec.get("ok"):
        rec.update(_accuracy(graph, np.load(work / "y.npy"), expect))
    return rec


def bench_one(name: str, n: int, work: Path, timeout: float) -> dict:
    from gatesmith.verify import zoo

    model = zoo.build(name)
    fmt, fps = model.default_format, TARGET_FPS.get(name, 2_000_000)
    path = model.export(work / f"{name}.onnx", fmt=fmt)
    x = _inputs(model, n)
    expect = zoo.onnx_forward(path, x)
    row = {"model": name, "format": fmt, "inferences": int(len(x))}
    gs, graph = bench_gatesmith(path, fps, x, expect, work)
    row["gatesmith"] = gs
    for key, precision in HLS4ML_VARIANTS:
        row[key] = run_hls4ml(path, fmt, x, expect, graph, precision, work / key, timeout)
    return row


#: hls4ml runs: its default precision for what the QONNX quantizers leave open, and a wide one
HLS4ML_VARIANTS = (("hls4ml", "fixed<16,6>"), ("hls4ml_fixed32_16", "fixed<32,16>"))


def _fmt(rec: dict, key: str, spec: str) -> str:
    return format(rec[key], spec) if rec.get("ok") and key in rec else "-"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--n", type=int, default=500, help="random inputs per model (plus 4 extremes)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "hls4ml_compare.json")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per hls4ml attempt")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--hls4ml-child"]:
        return _hls4ml_child(argv[1:])
    a = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import hls4ml

    rows = []
    for name in a.models.split(","):
        with tempfile.TemporaryDirectory(prefix=f"hls4ml-cmp-{name}-") as d:
            try:
                rows.append(bench_one(name, a.n, Path(d), a.timeout))
            except Exception as e:  # noqa: BLE001
                rows.append({"model": name, "error": f"{type(e).__name__}: {e}"[:300]})
        r = rows[-1]
        print(f"{name}: " + "; ".join(
            f"{t} {r[t].get('mismatches', r[t].get('error', '?'))}" for t in ("gatesmith", *dict(HLS4ML_VARIANTS))
            if t in r) or r.get("error", ""), flush=True)

    head = ("model", "tool", "convert s", "build s", "inf/s", "exact", "mismatch", "on random", "levels", "max|diff|",
            "note")
    lines = [head]
    for r in rows:
        for tool in ("gatesmith", *dict(HLS4ML_VARIANTS)):
            rec = r.get(tool, {"ok": False, "error": r.get("error", "")})
            note = "" if rec.get("ok") else f"failed at {rec.get('failed_at', '?')}: {rec.get('error', '')}"[:90]
            exact = f"{rec['exactly_equal']}/{rec['elements']}" if rec.get("ok") else "-"
            lines.append((r["model"], tool, _fmt(rec, "convert_seconds", ".2f"), _fmt(rec, "csim_build_seconds", ".2f"),
                          _fmt(rec, "csim_inferences_per_second", ".0f"), exact, _fmt(rec, "mismatches", "d"),
                          _fmt(rec, "mismatches_on_random_inputs", "d"), _fmt(rec, "level_mismatches", "d"),
                          _fmt(rec, "max_abs_diff", ".3g"), note))
    widths = [max(len(str(ln[i])) for ln in lines) for i in range(len(head))]
    for ln in lines:
        print("  ".join(str(c).ljust(w) for c, w in zip(ln, widths)).rstrip())

    result = {
        "benchmark": "gatesmith HLS C++ vs hls4ml on the MLP zoo (C simulation)",
        "hls4ml_version": hls4ml.__version__,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpu_count": os.cpu_count()},
        "inputs": f"{a.n} random + 4 extreme inputs per model",
        "rows": rows,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
