"""``gatesmith sweep`` on Dask: one grid of at least 24 synthesised points on an MLP zoo model,
run on a LocalCluster with 1 worker and again (in a fresh directory) with 2 workers.

Prints per run the wall time, points, failures and the scaling ratio (wall time on 1 worker /
wall time on 2), the Pareto frontier (inferences/s against Yosys LUTs), and writes
benchmarks/results/sweep_scaling.json plus the sweep's page as
benchmarks/results/sweep_pareto.html (its point links lead into the --work directory).

    python benchmarks/sweep_scaling.py [--model tfc_1w1a] [--workers 1,2] [--depth synth] [--work DIR]

The default grid: boards pynq-z2 and zcu104 x targets 5e4, 1e5, 3e5, 1e6 inferences/s x memory
styles auto, lutram, bram = 24 points, each compiled and synthesised with Yosys. Run it on an
otherwise idle machine: the ratio measures this machine's cores, not the code alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

GRID = """\
depth = {depth}
timeout = 1800

[base]
backend = "rtl"

[grid]
board = ["pynq-z2", "zcu104"]
target_fps = [5e4, 1e5, 3e5, 1e6]
mem_style = ["auto", "lutram", "bram"]
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tfc_1w1a", help="zoo model (verify/zoo.py)")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts, one sweep each")
    ap.add_argument("--depth", default="synth", help="estimate, synth or sim (sim needs no inputs here: not offered)")
    ap.add_argument("--work", type=Path, default=None, help="where the sweeps go (default: a temporary directory)")
    ap.add_argument("--no-save", action="store_true", help="print only; do not write results/")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    from gatesmith.sweep import pareto_front, read_journal, resource, run_sweep
    from gatesmith.verify import zoo

    if a.depth not in ("estimate", "synth"):
        raise SystemExit(f"--depth {a.depth!r}: expected estimate or synth")
    work = a.work or Path(tempfile.mkdtemp(prefix="gatesmith-sweep-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    onnx = work / f"{a.model}.onnx"
    if not onnx.is_file():
        zoo.build(a.model).export(onnx)
    grid = work / "sweep.toml"
    grid.write_text(GRID.format(depth=json.dumps(["estimate", a.depth] if a.depth != "estimate" else ["estimate"])))
    runs = []
    for n in (int(w) for w in a.workers.split(",")):
        out = work / f"sweep_{n}w"
        if out.exists():
            shutil.rmtree(out)  # a fresh directory: no point may be skipped
        t0 = time.perf_counter()
        res = run_sweep(onnx, grid, out, workers=n)
        wall = time.perf_counter() - t0
        rows = list(read_journal(out / "results.jsonl").values())
        busy = sum(r.get("seconds") or 0 for r in rows)
        runs.append({"workers": n, "wall_seconds": round(wall, 1), "points": res.total, "ran": res.ran,
                     "failed": res.failed, "point_seconds_sum": round(busy, 1),
                     "distinct_worker_processes": len({r.get("worker") for r in rows}), "dir": str(out)})
        print(f"{n} worker{'s' if n != 1 else ' '}: {res.total} points ({res.failed} failed) in {wall:7.1f} s wall, "
              f"{busy:7.1f} s of point time, {runs[-1]['distinct_worker_processes']} worker processes")
    base = next((r for r in runs if r["workers"] == 1), None)
    for r in runs:
        r["speedup_vs_1_worker"] = round(base["wall_seconds"] / r["wall_seconds"], 3) if base else None
    last = runs[-1]
    rows = sorted(read_journal(Path(last["dir"]) / "results.jsonl").values(), key=lambda r: r["key"])
    ok = [r for r in rows if r["status"] == "ok"]
    xy = [(float(resource(r, "lut")), float(r["inferences_per_second"])) for r in ok]
    front = sorted(pareto_front(xy), key=lambda i: xy[i][0])
    print("\nPareto frontier (inferences/s against LUT, Yosys where synthesised):")
    print(f"{'board':9} {'target':>9} {'mem':7} {'inf/s':>11} {'LUT':>7} {'DSP':>4} {'BRAM18':>6}")
    frontier = []
    for i in front:
        r = ok[i]
        frontier.append({k: r.get(k) for k in ("key", "board", "target_fps", "mem_style", "inferences_per_second",
                                               "est_lut", "synth_lut", "synth_ff", "synth_dsp", "synth_bram18")})
        print(f"{r['board']:9} {r['target_fps']:9.0f} {r['mem_style']:7} {r['inferences_per_second']:11.0f} "
              f"{resource(r, 'lut'):7} {resource(r, 'dsp'):4} {resource(r, 'bram18'):6}")
    if base and len(runs) > 1:
        print(f"\nscaling: {base['wall_seconds']:.1f} s on 1 worker / {last['wall_seconds']:.1f} s on "
              f"{last['workers']} = {last['speedup_vs_1_worker']:.2f}x")
    if not a.no_save:
        RESULTS.mkdir(exist_ok=True)
        doc = {"date": time.strftime("%Y-%m-%d"), "model": a.model, "depth": a.depth, "grid": GRID.format(
            depth=json.dumps(["estimate", a.depth])), "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
               "runs": [{k: v for k, v in r.items() if k != "dir"} for r in runs], "pareto_lut": frontier,
               "points": [{k: r.get(k) for k in ("key", "status", "error", "board", "target_fps", "mem_style",
                                                 "cycles_per_inference", "inferences_per_second", "est_lut", "est_ff",
                                                 "est_dsp", "est_bram18", "synth_lut", "synth_ff", "synth_dsp",
                                                 "synth_bram18", "synth_seconds", "seconds")} for r in rows]}
        (RESULTS / "sweep_scaling.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        page = (Path(last["dir"]) / "pareto.html").read_text()
        (RESULTS / "sweep_pareto.html").write_text(page)
        print(f"wrote {RESULTS / 'sweep_scaling.json'} and {RESULTS / 'sweep_pareto.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
