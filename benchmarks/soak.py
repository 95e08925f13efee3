"""Fuzz soak: random quantized MLPs (gatesmith.verify.fuzz) compiled and checked.

Each network (seed ``--start`` .. ``--start + --n - 1``) is built with Brevitas,
exported, compiled with a random folding and checked: the reference equals
execute_onnx except for proven float32 near-ties, and the RTL (Verilator,
random backpressure) equals the reference exactly.  Prints a table and writes
``benchmarks/results/soak.json`` (rewritten after every network, so a soak cut
short still leaves its results).  A failure is reproduced with
``gatesmith.verify.fuzz.run_case(seed, dir)``.  With ``--cnn`` the networks are random
CNNs (``gatesmith.verify.fuzz_conv``: conv/depthwise/pooling/residual, 1-D and 2-D) and the
results go to ``benchmarks/results/soak_cnn.json``.

    python benchmarks/soak.py [--cnn] [--n 200] [--start 1000] [--jobs 2] [--inputs 24] [--max-width 48] [--max-lanes K]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "soak.json"
RESULTS_CNN = Path(__file__).resolve().parent / "results" / "soak_cnn.json"


def _one(args):
    seed, work, n_inputs, max_width, max_lanes, cnn = args
    warnings.filterwarnings("ignore")
    if cnn:
        from gatesmith.verify import fuzz_conv

        r = fuzz_conv.run_case(seed, work, n_inputs=n_inputs).to_json()
        return {"excused": 0, "unexplained": [], "folding": {"target_fps": r["target_fps"]}, **r}
    from gatesmith.verify import fuzz

    return fuzz.run_case(seed, work, n_inputs=n_inputs, max_width=max_width, max_lanes=max_lanes).to_json()


def _summary(rows, args, wall) -> dict:
    fails = [r for r in rows if not r["ok"]]
    return {
        "machine": {"python": platform.python_version(), "processor": platform.machine(), "cores": os.cpu_count()},
        "date": time.strftime("%Y-%m-%d"),
        "args": {"n": args.n, "start": args.start, "inputs": args.inputs, "max_width": args.max_width, "max_lanes": args.max_lanes,
                 "jobs": args.jobs, "cnn": bool(args.cnn)},
        "networks": len(rows),
        "passed": len(rows) - len(fails),
        "failures": len(fails),
        "elements": sum(r["elements"] for r in rows),
        "reference_mismatches": sum(r["ref_mismatches"] for r in rows),
        "excused_near_ties": sum(r["excused"] for r in rows),
        "unexplained_mismatches": sum(len(r["unexplained"]) for r in rows),
        "rtl_mismatches": sum(r["rtl_mismatches"] for r in rows),
        "wall_seconds": round(wall, 1),
        "failed_cases": [
            {k: r[k] for k in ("seed", "net", "ref_mismatches", "excused", "unexplained", "rtl_mismatches", "folding", "error")}
            for r in fails
        ],
        "cases": [{k: r[k] for k in ("seed", "net", "ok", "elements", "ref_mismatches", "excused", "rtl_mismatches", "seconds")}
                  for r in rows],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--start", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--inputs", type=int, default=24)
    ap.add_argument("--max-width", type=int, default=48)
    ap.add_argument("--max-lanes", type=int, default=None, help="bound PE*SIMD of the random foldings")
    ap.add_argument("--cnn", action="store_true", help="random CNNs (verify/fuzz_conv.py) instead of MLPs")
    ap.add_argument("--out", type=Path, default=None, help="default: results/soak.json, or soak_cnn.json with --cnn")
    ap.add_argument("--resume", action="store_true",
                    help="keep the networks already in --out and run only the seeds it lacks")
    ap.add_argument("--redo", type=int, nargs="*", default=[],
                    help="with --resume: run these seeds again (e.g. after a fix) and replace their results")
    args = ap.parse_args(argv)
    args.out = args.out or (RESULTS_CNN if args.cnn else RESULTS)
    t0 = time.perf_counter()
    rows = []
    done: set[int] = set()
    if args.resume and args.out.is_file():
        prev = json.loads(args.out.read_text())
        cases = prev.get("cases", [])
        # files written before cases carried their element counts: spread the total over them
        missing = [c for c in cases if "elements" not in c]
        known = sum(c.get("elements", 0) for c in cases)
        for k, c in enumerate(missing):
            share, extra = divmod(int(prev.get("elements", 0)) - known, len(missing))
            c["elements"] = share + (extra if k == 0 else 0)
        for c in cases:
            if c["seed"] in args.redo:
                continue
            rows.append({"unexplained": [], "folding": None, "error": None, **c})
            done.add(c["seed"])
        t0 -= float(prev.get("wall_seconds", 0.0))  # wall time accumulates over resumed runs
    print(f"{'seed':>6} {'ok':>3} {'ref≠':>5} {'excused':>7} {'rtl≠':>5} {'s':>6}  net")
    with tempfile.TemporaryDirectory(prefix="gatesmith-soak-") as work:
        jobs = [(s, work, args.inputs, args.max_width, args.max_lanes, args.cnn)
                for s in range(args.start, args.start + args.n) if s not in done]
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            for r in ex.map(_one, jobs):
                rows.append(r)
                print(f"{r['seed']:>6} {'ok' if r['ok'] else 'BAD':>3} {r['ref_mismatches']:>5} {r['excused']:>7} "
                      f"{r['rtl_mismatches']:>5} {r['seconds']:>6.1f}  {r['net']}"
                      + (f"\n       {r['error'].splitlines()[0]}" if r["error"] else ""), flush=True)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(_summary(rows, args, time.perf_counter() - t0), indent=2) + "\n")
    s = _summary(rows, args, time.perf_counter() - t0)
    args.out.write_text(json.dumps(s, indent=2) + "\n")
    print(f"\nnetworks {s['networks']}  passed {s['passed']}  failures {s['failures']}  "
          f"reference mismatches {s['reference_mismatches']} (excused near-ties {s['excused_near_ties']})  "
          f"RTL mismatches {s['rtl_mismatches']}  wall {s['wall_seconds']} s  -> {args.out}")
    return 1 if s["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
