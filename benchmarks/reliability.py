"""Reliability table: prints it and writes benchmarks/results/reliability.json.

Rows (every failure column should be 0):

- bad inputs: the test cases of tests/test_bad_inputs.py (all) and the error
  cases of tests/test_cli.py and tests/test_frontend.py (test functions whose
  name says so: bad/error/reject/refuse/missing/unsupported/...); each one
  feeds the flow bad input and demands a clean, named error.  Counted from
  pytest's JUnit XML: tried = collected, handled cleanly = passed.
- hostile names: tests/test_hostile_names.py cases, and the hostile-name tests of
  the Verilog top, the HLS C++, the HLS and Vivado TCL and the HTML report / clean.
- fuzzed networks: from benchmarks/results/soak.json (run benchmarks/soak.py
  first): networks / failures / unexplained mismatches / RTL mismatches; fuzzed
  CNNs likewise from benchmarks/results/soak_cnn.json (benchmarks/soak.py --cnn).
- stall patterns: tests/test_stress.py duty-cycle and burst cases (``--slow``
  adds the slow sweep) and the CNN / residual / concat stall cases of
  tests/test_e2e_conv.py / deadlocks or lost beats (failed cases).
- extreme inputs: tests/test_stress.py extreme-input cases / mismatches (failed
  cases); plus the saturating and zero samples every fuzzed network includes.

    python benchmarks/reliability.py [--slow] [-n 2]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

BAD_NAME = re.compile(
    r"bad|error|reject|refuse|missing|not_onnx|no_quantizer|nonzero|unsupported|unquantized|untouched|"
    r"interrupted|unwritable|under_a_file|wrong_shape"
)


def _run_pytest(files: list[str], slow: bool, workers: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as d:
        xml = Path(d) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}", *files]
        if workers > 1:
            cmd += ["-n", str(workers)]
        if slow:
            cmd += ["-m", "slow or not slow"]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if not xml.is_file():
            raise SystemExit(f"pytest wrote no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        cases = []
        for tc in ET.parse(xml).getroot().iter("testcase"):
            kids = {c.tag for c in tc}
            outcome = "failed" if kids & {"failure", "error"} else "skipped" if "skipped" in kids else "passed"
            cases.append({"file": tc.get("classname", "").split(".")[-1], "name": tc.get("name", ""), "outcome": outcome})
        return cases


def _row(what: str, cases: list[dict], fail_label: str) -> dict:
    ran = [c for c in cases if c["outcome"] != "skipped"]
    failed = [c for c in ran if c["outcome"] == "failed"]
    return {
        "row": what,
        "tried": len(ran),
        "clean": len(ran) - len(failed),
        "failures": len(failed),
        "failure_meaning": fail_label,
        "skipped": len(cases) - len(ran),
        "failed_ids": [f"{c['file']}::{c['name']}" for c in failed],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slow", action="store_true", help="include the slow stall sweep")
    ap.add_argument("-n", type=int, default=2, help="pytest-xdist workers")
    ap.add_argument("--soak", type=Path, default=RESULTS / "soak.json")
    ap.add_argument("--soak-cnn", type=Path, default=RESULTS / "soak_cnn.json")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    hostile_ids = ["tests/test_codegen_rtl.py::test_hostile_names_lint_clean",
                   "tests/test_hls.py::test_hostile_names_give_compiling_cpp",
                   "tests/test_hls_tcl.py::test_hostile_strings_add_no_command",
                   "tests/test_vivado_export.py::test_hostile_manifest_strings_run_no_command",
                   "tests/test_vivado_export.py::test_hostile_top_rejected",
                   "tests/test_report.py::test_hostile_names_are_escaped"]
    stall_ids = ["tests/test_e2e_conv.py::test_stall_patterns",
                 "tests/test_e2e_conv.py::test_residual_fifos_from_the_analysis_matter"]
    files = ["tests/test_bad_inputs.py", "tests/test_cli.py", "tests/test_frontend.py",
             "tests/test_hostile_names.py", "tests/test_stress.py", *hostile_ids, *stall_ids]
    cases = _run_pytest(files, args.slow, args.n)

    def fn(c):
        return c["name"].split("[")[0]

    bad = [c for c in cases if c["file"] == "test_bad_inputs"
           or c["file"] in ("test_cli", "test_frontend") and BAD_NAME.search(fn(c))]
    hostile = [c for c in cases if c["file"] == "test_hostile_names" or fn(c).startswith("test_hostile")]
    stress = [c for c in cases if c["file"] == "test_stress"]
    stalls = [c for c in stress if re.search(r"duty|burst|tready|deadlock", fn(c))]
    stalls += [c for c in cases if c["file"] == "test_e2e_conv"]
    extreme = [c for c in stress if re.search(r"extreme", fn(c))]
    rows = [
        _row("bad inputs", bad, "not handled cleanly"),
        _row("hostile names", hostile, "not clean"),
        _row("stall patterns", stalls, "deadlocks or lost beats"),
        _row("extreme inputs", extreme, "mismatches"),
    ]
    if args.soak.is_file():
        s = json.loads(args.soak.read_text())
        rows.insert(2, {
            "row": "fuzzed networks",
            "tried": s["networks"],
            "clean": s["passed"],
            "failures": s["failures"],
            "failure_meaning": "failing networks (unexplained or RTL mismatches, errors)",
            "unexplained_mismatches": s["unexplained_mismatches"],
            "rtl_mismatches": s["rtl_mismatches"],
            "excused_near_ties": s["excused_near_ties"],
            "failed_ids": [f"seed {f['seed']}" for f in s["failed_cases"]],
        })
        rows.append({
            "row": "fuzz saturating/zero samples",
            "tried": 3 * s["networks"],
            "clean": 3 * s["passed"],
            "failures": 3 * s["failures"],
            "failure_meaning": "networks failing (each has 3 such samples)",
            "failed_ids": [],
        })
    else:
        rows.insert(2, {"row": "fuzzed networks", "tried": 0, "clean": 0, "failures": 0,
                        "failure_meaning": f"no {args.soak} (run benchmarks/soak.py)", "failed_ids": []})
    if args.soak_cnn.is_file():
        s = json.loads(args.soak_cnn.read_text())
        rows.insert(3, {
            "row": "fuzzed CNNs",
            "tried": s["networks"],
            "clean": s["passed"],
            "failures": s["failures"],
            "failure_meaning": "failing CNNs (reference or RTL mismatches, errors)",
            "rtl_mismatches": s["rtl_mismatches"],
            "failed_ids": [f"seed {f['seed']}" for f in s["failed_cases"]],
        })
    out = {"date": time.strftime("%Y-%m-%d"), "wall_seconds": round(time.perf_counter() - t0, 1),
           "slow": args.slow, "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "reliability.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"{'':30} {'tried':>6} {'clean':>6} {'fail':>5}  failure means")
    for r in rows:
        print(f"{r['row']:30} {r['tried']:>6} {r['clean']:>6} {r['failures']:>5}  {r['failure_meaning']}")
        for f in r["failed_ids"]:
            print(f"    {f}")
    print(f"wall {out['wall_seconds']} s -> {RESULTS / 'reliability.json'}")
    return 1 if any(r["failures"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
