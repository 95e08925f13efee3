"""The ``gatesmith`` command line: a thin layer over :mod:`gatesmith.flow`.

Bad input prints one line on stderr and exits 2 (no traceback unless
``--debug``); a mismatch found by ``sim --expect`` exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gatesmith", description="Quantized ONNX models to bit-exact dataflow hardware.")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compile", help="compile an ONNX model to RTL")
    c.add_argument("model", type=Path, help="QONNX or QCDQ ONNX file exported by Brevitas")
    c.add_argument("-o", "--output", type=Path, required=True, help="output directory")
    c.add_argument("--board", default=None, help="board name (see boards/); default pynq-z2")
    c.add_argument("--clock-mhz", type=float, default=None, help="clock frequency (default: the board's)")
    g = c.add_mutually_exclusive_group()
    g.add_argument("--target-fps", type=float, default=None, help="inferences per second to meet")
    g.add_argument("--folding", type=Path, default=None, help="folding.json to use instead of choosing one")
    c.add_argument("--budget", type=float, default=None,
                   help="share of the board's resources, 0 < F <= 1: alone, the fastest design that fits; "
                        "with --target-fps or --folding, fail if the design does not fit")
    c.add_argument("--requant", default=None, help="requantization style: auto (default), threshold, shift, dyadic")
    c.add_argument("--mem-style", default=None,
                   help="weight/threshold memories: auto (default: by size and the board), lutram (LUTs), "
                        "bram (block RAM) or uram (matrix-vector weights in UltraRAM, boards with URAM only; "
                        "the top then takes the weights on a load stream after reset: manifest weight_load)")
    c.add_argument("--mul-style", default=None,
                   help="integer multipliers: auto (default: DSPs while the board has them, two products per DSP "
                        "in matrix-vector layers before any go to LUTs), dsp, lut or pack (two rows' products per "
                        "DSP48E1; an error on a layer whose packed operands exceed 25 x 18 bits)")
    c.add_argument("--force", action="store_true", help="replace an existing output directory")
    c.add_argument("--backend", default=None, help="code to generate: rtl (Verilog), hls (HLS C++) or all (default)")
    c.add_argument("--config", type=Path, default=None,
                   help="gatesmith.toml: global and per-layer settings (options given here win over it)")
    c.add_argument("--calibration", type=Path, default=None,
                   help="X.npy: float inputs (N, *input shape) for fixed point: the ranges of "
                        "--fixed-range calibrated, a float model's input format, the error report")
    c.add_argument("--fixed-range", default=None,
                   help="fixed point for tensors the model leaves unquantized: proven (interval analysis, "
                        "default) or calibrated (observed over --calibration, saturating)")
    c.add_argument("--fixed-bits", type=int, default=None,
                   help="total bits of those fixed-point formats (default 8; integer bits from the range)")
    _add_output_flags(c)

    cf = sub.add_parser("config", help="configuration files")
    cfs = cf.add_subparsers(dest="config_command", required=True)
    ci = cfs.add_parser("init", help="write a commented gatesmith.toml listing every layer with today's choices")
    ci.add_argument("model", type=Path, help="QONNX or QCDQ ONNX file")
    ci.add_argument("-o", "--output", type=Path, default=Path("gatesmith.toml"), help="file to write (gatesmith.toml)")
    ci.add_argument("--board", default="pynq-z2", help="board name; default pynq-z2")
    ci.add_argument("--target-fps", type=float, default=None, help="inferences per second to choose folding for")
    ci.add_argument("--force", action="store_true", help="replace an existing file")

    s = sub.add_parser("sim", help="simulate a compiled design on float inputs")
    s.add_argument("design", type=Path, help="output directory of 'gatesmith compile'")
    s.add_argument("--input", type=Path, required=True, help="X.npy: float inputs shaped like the ONNX input")
    s.add_argument("--output", type=Path, required=True, help="Y.npy to write (the model's float output)")
    s.add_argument("--engine", default="rtl", help="rtl (Verilator), csim (HLS C++ with g++) or reference (numpy)")
    s.add_argument("--backpressure", action="store_true", help="random input gaps and output stalls")
    s.add_argument("--seed", type=int, default=1, help="seed of the stall patterns")
    s.add_argument("--expect", type=Path, default=None, help="Y0.npy to compare with (exit 1 on mismatch)")
    _add_output_flags(s)

    rp = sub.add_parser("report", help="write OUT/reports/report.html: layers, cycles, resources, value ranges")
    rp.add_argument("design", type=Path, help="output directory of 'gatesmith compile'")
    rp.add_argument("--inputs", type=Path, default=None,
                    help="X.npy: float inputs for the value-range profile (a reference run)")
    _add_output_flags(rp)

    sub.add_parser("boards", help="list the known boards and their resources")

    r = sub.add_parser("pnr", help="synthesise, place and route a compiled design for a Lattice ECP5 board")
    r.add_argument("design", type=Path, help="output directory of 'gatesmith compile'")
    r.add_argument("--board", default=None, help="an ECP5 board (default: the design's board)")
    r.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    _add_output_flags(r)

    y = sub.add_parser("synth", help="synthesise a compiled design with Yosys synth_xilinx (reports/synth.json)")
    y.add_argument("design", type=Path, help="output directory of 'gatesmith compile'")
    y.add_argument("--jobs", type=int, default=1,
                   help="Yosys processes at a time when the design is split (results do not depend on it)")
    y.add_argument("--split", action=argparse.BooleanOptionalAction, default=None,
                   help="one Yosys run per layer core instance plus one for the rest (default: only when a layer "
                        "is huge; --no-split: always one run)")
    y.add_argument("--timeout", type=float, default=None, help="seconds before a Yosys run is stopped")
    _add_output_flags(y)

    w = sub.add_parser("sweep", help="compile (and synthesise / place and route / simulate) every point of a grid "
                                      "as Dask tasks")
    w.add_argument("model", type=Path, help="QONNX or QCDQ ONNX file")
    w.add_argument("--grid", type=Path, required=True,
                   help="sweep.toml: option values to combine, the depth of evaluation (estimate/synth/pnr/sim)")
    w.add_argument("-o", "--output", type=Path, required=True,
                   help="sweep directory: results.jsonl/.csv/.parquet, pareto.html, points/KEY/ (reruns resume)")
    w.add_argument("--scheduler", default=None,
                   help="address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786); default: a local cluster")
    w.add_argument("--workers", type=int, default=None,
                   help="worker processes of the local cluster (default: one per core)")
    w.add_argument("--retry-failed", action="store_true", help="run points that failed before again")
    _add_output_flags(w)

    e = sub.add_parser("export", help="export a compiled design to a vendor tool flow")
    e.add_argument("target", choices=("vivado",), help="vivado: build.tcl, IP, block design and PYNQ driver")
    e.add_argument("design", type=Path, help="output directory of 'gatesmith compile'")
    e.add_argument("--board", default=None, help="an AMD/Xilinx board (default: the design's board)")
    _add_output_flags(e)
    return p


def _add_output_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quiet", action="store_true", help="print nothing on success (errors still go to stderr)")
    g.add_argument("--json", action="store_true", help="print one machine-readable JSON summary line instead")


def _progress(a, what: str):
    """Progress on stderr while a command runs (``gatesmith.progress``): a line for ``what`` and
    the lines the flow reports below it (stages, inferences, tool steps) with counts, rates and
    time left; only when stderr is a terminal (or GATESMITH_PROGRESS=1) and neither --quiet nor
    --json is given, so CI logs and stdout stay clean."""
    from . import progress

    @contextlib.contextmanager
    def run():
        with progress.session(quiet=getattr(a, "quiet", False), json=getattr(a, "json", False)):
            with progress.task(what, unit="", eta="none"):
                yield

    return run()


def _emit(a, summary: dict, text: str) -> None:
    """The command's result: ``text`` for people, one JSON line with --json, nothing with --quiet."""
    if getattr(a, "json", False):
        print(json.dumps(summary, sort_keys=True))
    elif not getattr(a, "quiet", False):
        print(text)


def _load_npy(path: Path, option: str):
    import numpy as np

    if not path.is_file():
        raise _user_error(f"{option} {str(path)!r}: no such file")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:
        raise _user_error(f"{option} {str(path)!r}: not a readable .npy array ({type(e).__name__})") from None


def _user_error(msg: str):
    from .flow import FlowError

    return FlowError(msg)


def _save_npy_atomic(path: Path, arr) -> None:
    import numpy as np

    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise _user_error(f"--output {str(path)!r}: directory {str(parent)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npy", dir=parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, arr)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cmd_compile(a) -> int:
    from .flow import CompileOptions, compile_model

    given = dict(board=a.board, clock_mhz=a.clock_mhz, target_fps=a.target_fps, folding_file=a.folding,
                 requant=a.requant, force=a.force, backend=a.backend, budget=a.budget)
    given.update(fixed_bits=a.fixed_bits, fixed_range=a.fixed_range, calibration=a.calibration)
    given.update(mem_style=a.mem_style, mul_style=a.mul_style)
    if a.config is not None:
        from .config import compile_options, load_config

        opts = compile_options(load_config(a.config), source=f"--config {str(a.config)!r}", **given)
    else:
        opts = CompileOptions(**{k: v for k, v in given.items() if v is not None})
    with _progress(a, f"gatesmith compile {a.model.name} -> {a.output}"):
        out = compile_model(a.model, a.output, opts)
    est = json.loads((out / "reports" / "estimate.json").read_text())
    skipped = json.loads((out / "manifest.json").read_text()).get("hls_skipped")
    summary = {"command": "compile", "model": str(a.model), "output": str(out), "layers": len(est["layers"]),
               "cycles_per_inference": est["cycles_per_inference"], "latency_cycles": est["latency_cycles"],
               "inferences_per_second": est["inferences_per_second"], "clock_mhz": est["clock_mhz"],
               "bottleneck": est["bottleneck"], "folding_efficiency": est.get("folding_efficiency"),
               **({k: est[k] for k in ("budget", "fits_budget") if k in est}),
               **({"hls_skipped": skipped} if skipped else {})}
    _emit(a, summary,
          f"compiled {a.model.name} -> {out}: {len(est['layers'])} layers, "
          f"{est['cycles_per_inference']} cycles/inference, "
          f"{est['inferences_per_second']:.0f} inferences/s at {est['clock_mhz']:g} MHz "
          f"(bottleneck {est['bottleneck']})")
    if skipped and not (a.quiet or a.json):
        print(f"gatesmith: note: no HLS C++ (hls/): {skipped}", file=sys.stderr)
    return 0


def _cmd_sim(a) -> int:
    from .flow import simulate

    x = _load_npy(a.input, "--input")
    expect = _load_npy(a.expect, "--expect") if a.expect is not None else None
    count = x.shape[0] if getattr(x, "ndim", 0) else "?"  # simulate() checks the shape
    what = _ENGINE_WHAT.get(a.engine, a.engine)
    t0 = time.perf_counter()
    with _progress(a, f"simulating {count} inferences: {what}{', random backpressure' if a.backpressure else ''}"):
        y, rep = simulate(a.design, x, engine=a.engine, backpressure=a.backpressure, seed=a.seed,
                          expect=expect, source=f"--input {str(a.input)!r}")
    elapsed = time.perf_counter() - t0
    _save_npy_atomic(a.output, y)
    rate = _sim_rate(rep, elapsed)
    parts = [f"{rep['inferences']} inferences on {rep['engine']}"]
    if "cycles_per_inference" in rep:
        parts.append(f"{rep['cycles_per_inference']:.1f} cycles/inference, latency {rep['latency_cycles']} cycles")
    if "mismatches" in rep:
        parts.append(f"{rep['mismatches']} mismatching elements")
    _emit(a, {"command": "sim", "design": str(a.design), "output": str(a.output), **rep, **rate}, "; ".join(parts))
    _show_rate(a, what, rep, rate)
    return 1 if rep.get("mismatches", 0) else 0


_ENGINE_WHAT = {"rtl": "RTL in Verilator", "csim": "HLS C++ with g++ (C simulation)", "reference": "numpy reference"}


def _sim_rate(rep: dict, elapsed: float) -> dict:
    """The simulator's own speed: inferences (and for RTL clock cycles) per second of wall time.
    ``csim`` counts only the run of the compiled testbench; ``rtl`` counts the whole call, the
    Verilator build included unless it came from the cache."""
    secs = rep["run_seconds"] if rep.get("run_seconds") else elapsed
    if secs <= 0:
        return {}
    rate = {"sim_seconds": round(secs, 6), "sim_inferences_per_second": round(rep["inferences"] / secs, 3)}
    if "cycles_total" in rep:
        rate["sim_cycles_per_second"] = round(rep["cycles_total"] / secs, 1)
    return rate


def _show_rate(a, what: str, rep: dict, rate: dict) -> None:
    """One line on stderr after a simulation, with rich, only on a terminal (not with --quiet/--json)."""
    from .progress import enabled

    if not rate or not enabled(quiet=getattr(a, "quiet", False), json=getattr(a, "json", False)):
        return
    line = f"{what}: {rep['inferences']} inferences in {rate['sim_seconds']:.3g} s, {rate['sim_inferences_per_second']:,.1f} inferences/s"
    if "sim_cycles_per_second" in rate:
        line += f", {rate['sim_cycles_per_second']:,.0f} cycles/s simulated"
    if "build_seconds" in rep:
        line += f" (g++ build {rep['build_seconds']:.1f} s{', cached' if rep.get('build_cached') else ''})"
    elif rep.get("engine") == "rtl":
        line += " (Verilator build included when not cached)"
    try:
        from rich.console import Console

        Console(stderr=True, highlight=False, soft_wrap=True,
                force_terminal=True if os.environ.get("GATESMITH_PROGRESS") == "1" else None).print(line, markup=False)
    except ImportError:  # pragma: no cover - rich is a dependency
        print(line, file=sys.stderr)


def _cmd_report(a) -> int:
    from .report import build_report

    x = _load_npy(a.inputs, "--inputs") if a.inputs is not None else None
    with _progress(a, "writing the report"):
        path = build_report(a.design, inputs=x)
    _emit(a, {"command": "report", "design": str(a.design), "report": str(path)}, f"wrote {path}")
    return 0


def _cmd_config(a) -> int:
    from .config import config_template

    if a.output.exists() and not a.force:
        raise _user_error(f"{str(a.output)!r} exists; use --force to replace it")
    if not a.model.is_file():
        raise _user_error(f"{str(a.model)!r}: no such model file")
    text = config_template(a.model, board=a.board, target_fps=a.target_fps)
    a.output.write_text(text, encoding="utf-8")
    print(f"wrote {a.output}")
    return 0


def _cmd_boards(a) -> int:
    from .boards import board_names, load_board

    head = ("name", "part", "family", "LUT", "FF", "DSP", "BRAM18", "URAM", "clock", "PS")
    rows = [head]
    for b in (load_board(n) for n in board_names()):
        rows.append((b.name, b.part, b.family, str(b.lut), str(b.ff), str(b.dsp), str(b.bram18), str(b.uram),
                     f"{b.clock_mhz:g} MHz", b.ps))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    numeric = {3, 4, 5, 6, 7, 8}
    for r in rows:
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        print("  ".join(cells).rstrip())
    return 0


def _cmd_pnr(a) -> int:
    from .implement import place_and_route

    with _progress(a, f"place and route {str(a.design)!r}"):
        rep = place_and_route(a.design, board=a.board, seed=a.seed)
    u = rep["utilisation"]
    used = ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in sorted(u.items()))
    path = str(Path(a.design) / "reports" / "pnr.json")
    _emit(a, {"command": "pnr", "design": str(a.design), "report": path, **rep},
          f"placed and routed {rep['top']} on {rep['board']} ({rep['part']}): Fmax {rep['fmax_mhz']:g} MHz "
          f"({'meets' if rep['meets_timing'] else 'misses'} {rep['target_mhz']:g} MHz); {used}; report {path}")
    return 0


def _cmd_synth(a) -> int:
    from .implement import RESOURCE_KEYS, synthesize

    with _progress(a, f"synthesis of {str(a.design)!r}"):
        rep = synthesize(a.design, jobs=a.jobs, timeout=a.timeout, split=a.split)
    used = ", ".join(f"{k} {rep[k]}" for k in RESOURCE_KEYS)
    path = str(Path(a.design) / "reports" / "synth.json")
    summary = {"command": "synth", "design": str(a.design), "report": path,
               **{k: rep[k] for k in ("board", "part", "family", "top", *RESOURCE_KEYS, "lutram", "seconds")},
               "layers": [{k: l[k] for k in ("name", "instance", *RESOURCE_KEYS)} for l in rep["layers"]]}
    _emit(a, summary, f"synthesised {rep['top']} for {rep['board']} ({rep['part']}, Yosys synth_xilinx -family "
          f"{rep['family']}): {used}; report {path}")
    return 0


def _cmd_sweep(a) -> int:
    from .sweep import read_journal, run_sweep

    with _progress(a, f"gatesmith sweep {a.model.name} -> {a.output}"):
        res = run_sweep(a.model, a.grid, a.output, scheduler=a.scheduler, workers=a.workers,
                        retry_failed=a.retry_failed)
    rows = read_journal(res.out / "results.jsonl")
    ok = sum(r.get("status") == "ok" for r in rows.values())
    summary = {"command": "sweep", "model": str(a.model), "output": str(res.out), "points": res.total,
               "skipped": res.skipped, "ran": res.ran, "failed": res.failed, "ok_in_directory": ok,
               "failed_in_directory": len(rows) - ok, "seconds": res.seconds, "workers": res.workers,
               "results": str(res.out / "results.parquet"), "pareto": str(res.out / "pareto.html")}
    _emit(a, summary,
          f"swept {a.model.name}: {res.total} points, {res.ran} run ({res.failed} failed), {res.skipped} already done; "
          f"{res.seconds:.1f} s on {res.workers} worker{'s' if res.workers != 1 else ''}; "
          f"results {res.out / 'results.parquet'}, Pareto plot {res.out / 'pareto.html'}")
    return 0


def _cmd_export(a) -> int:
    from .export import export_vivado

    with _progress(a, f"exporting {str(a.design)!r} to Vivado"):
        out = export_vivado(a.design, board=a.board)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    _emit(a, {"command": "export", "target": a.target, "design": str(a.design), "output": str(out),
              "build_tcl": str(out / "build.tcl"), "files": files},
          f"exported {str(a.design)!r} -> {str(out)!r}; build with: vivado -mode batch -source "
          f"{str(out / 'build.tcl')!r}")
    return 0


_COMMANDS = {"compile": _cmd_compile, "sim": _cmd_sim, "boards": _cmd_boards, "pnr": _cmd_pnr, "synth": _cmd_synth,
             "export": _cmd_export, "report": _cmd_report, "sweep": _cmd_sweep,
             "config": _cmd_config}


def _user_error_types():
    from .flow import user_error_types

    return user_error_types()


def main(argv=None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    try:
        return _COMMANDS[a.command](a)
    except KeyboardInterrupt:
        print("gatesmith: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the CLI's one place that turns errors into exit codes
        if _interrupted(e):  # Ctrl-C inside an extension module's import surfaces as its ImportError
            print("gatesmith: interrupted", file=sys.stderr)
            return 130
        user = isinstance(e, _user_error_types())
        if a.debug:
            traceback.print_exc()
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if user:
            print(f"gatesmith: error: {msg}", file=sys.stderr)
            return 2
        print(f"gatesmith: internal error: {type(e).__name__}: {msg} (rerun with --debug for a traceback)", file=sys.stderr)
        return 3


def _interrupted(e: BaseException) -> bool:
    """Whether ``e`` was caused by a KeyboardInterrupt (its cause / context chain)."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def entry() -> int:
    """The ``gatesmith`` command (console script, ``python -m gatesmith.cli``): :func:`main`, and
    its exit code kept whatever a Ctrl-C does around it.

    * After :func:`main`, SIGINT is ignored: a Ctrl-C while the interpreter shuts down would
      end the process by the signal (no message, status -2) although the command finished.
    * An interrupted command leaves through ``os._exit(130)``: CPython 3.11 remembers a
      KeyboardInterrupt raised in code an extension module runs while it is imported (Ctrl-C
      during the first second) and, although the command caught it and said so, ends the
      process by SIGINT after finalization (status -2 instead of 130). Everything the command
      writes is already in place or removed by then; the standard streams are flushed."""
    try:
        code = main()
    except KeyboardInterrupt:  # in the few instructions between the command's end and here
        print("gatesmith: interrupted", file=sys.stderr)
        code = 130
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if code == 130:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(130)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(entry())
