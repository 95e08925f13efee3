"""Open-source place-and-route of the MLP zoo on a Lattice ECP5 board (default ulx3s-85f).

For each model: compile at a throughput target, then Yosys synth_ecp5 + nextpnr-ecp5
(`gatesmith pnr`); prints a table next to the compile-time estimate (cycles, multipliers)
and writes benchmarks/results/pnr_ecp5.json. Fmax is register to register (out of context).

    python benchmarks/pnr_ecp5.py [--board ulx3s-85f] [--models tfc_1w1a,pot_mlp] [--clock-mhz 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

MODELS = [("tfc_1w1a", None, 100_000), ("tfc_2w2a", None, 100_000), ("sfc_1w2a", None, 25_000),
          ("jet_tagger", None, 250_000), ("pot_mlp", None, 1_000_000), ("mlp3_qcdq", "qcdq", 1_000_000)]


def _write(a, rows) -> None:
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"board": a.board, "date": time.strftime("%Y-%m-%d"),
                                 "note": "Yosys synth_ecp5 + nextpnr-ecp5 (PyPI yowasp), out of context; "
                                         "Fmax is register to register",
                                 "rows": rows}, indent=2) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="ulx3s-85f")
    ap.add_argument("--clock-mhz", type=float, default=50.0)
    ap.add_argument("--models", default=",".join(m for m, _, _ in MODELS))
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "pnr_ecp5.json")
    ap.add_argument("--resume", action="store_true", help="keep the rows already in --out, run the other models")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    from gatesmith.flow import CompileOptions, compile_model
    from gatesmith.implement import place_and_route
    from gatesmith.verify import zoo

    table = {m: (f, fps) for m, f, fps in MODELS}
    rows = []
    if a.resume and a.out.is_file():
        rows = [r for r in json.loads(a.out.read_text())["rows"] if r["model"] in a.models.split(",")]
    have = {r["model"] for r in rows}
    with tempfile.TemporaryDirectory() as d:
        for name in a.models.split(","):
            if name in have:
                continue
            fmt, fps = table[name]
            m = zoo.build(name)
            p = m.export(Path(d) / f"{name}.onnx", **({"fmt": fmt} if fmt else {}))
            out = compile_model(p, Path(d) / name, CompileOptions(board=a.board, clock_mhz=a.clock_mhz, target_fps=fps))
            est = json.loads((out / "reports" / "estimate.json").read_text())
            t0 = time.perf_counter()
            r = place_and_route(out)
            u = r["utilisation"]
            rows.append({
                "model": name, "target_fps": fps, "clock_mhz": a.clock_mhz,
                "cycles_est": est["cycles_per_inference"], "multipliers_est": est["multipliers"],
                "lut4": u["lut4"]["used"], "ff": u["trellis_ff"]["used"], "mult18": u["mult18x18d"]["used"],
                "ebr": u["dp16kd"]["used"], "fmax_mhz": r["fmax_mhz"], "meets_timing": r["meets_timing"],
                "seconds": round(time.perf_counter() - t0, 1),
            })
            print(rows[-1], flush=True)
            _write(a, rows)
    cols = list(rows[0])
    w = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    print(" | ".join(c.ljust(x) for c, x in zip(cols, w)))
    for r in rows:
        print(" | ".join(str(r[c]).ljust(x) for c, x in zip(cols, w)))
    _write(a, rows)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
