"""Whole-design RTL simulation: generated harness + Verilator, Python out of the cycle loop.

:func:`simulate_rtl` renders ``harness.v.j2`` around a generated top, builds it
with Verilator through cocotb's runner, and runs it with the per-run data
passed as files and plusargs: the packed input beats (``gs_in.memh``), ``+N``,
``+SEED``, ``+IN_DUTY``, ``+OUT_DUTY``, ``+BURST``, ``+TIMEOUT``.  The harness
generates its own clock (Verilator ``--timing``), feeds the inputs with seeded
valid gaps, applies seeded ready backpressure (single cycles, or runs of up to
``burst`` cycles), stamps every output beat and every input's first beat with
its cycle, checks the AXI-Stream rule on the design's ``m_axis`` (a beat
offered while ``tready`` is low stays, unchanged, until it is taken), and
writes everything with ``$writememh``; the cocotb test only waits for ``done``.
A protocol violation raises :class:`RtlProtocolError`; a timeout raises
:class:`RtlDeadlock` with the beats counted on both ports and the cycles of
the last handshake on each.

Build cache: ``build_dir/gatesmith_harness-<key>``, the key being the content
of the design's Verilog files (not its ``.mem`` files: they are copied into
the run directory and read at run time, so designs that differ only in
weights share a build), the harness text (stream shapes, memory size bucket
``max(64, next power of two >= N)``, clock mode), flags, optimisation level
and tool versions.  Concurrent builders serialise on a lock file.  The model
is built without cocotb's ``--public-flat-rw`` (3-4x faster simulation); the
harness marks the signals cocotb touches public itself.

Cycle figures of :class:`SimResult` (cycle ``0`` is the first clock edge at
which the design sees ``rst_n = 1``; a stamp is the cycle of a handshake edge):

``cycles_total``
    stamp of the last output beat + 1: clock cycles from reset release until
    the last beat of the last inference has been taken.
``cycles_per_inference``
    the steady-state initiation interval: with ``c[i]`` the stamp of the last
    beat of output ``i`` and ``h = N // 2``,
    ``(c[N-1] - c[h]) / (N-1-h)`` (the mean interval between consecutive
    completions over the second half of the run); for N = 2 ``c[1] - c[0]``,
    for N = 1 ``cycles_total``.
``latency_cycles``
    ``c[0] - a[0]`` with ``a[0]`` the stamp of the first input beat of
    inference 0: cycles from accepting its first beat to handing out its last.

With stalls (``backpressure=True`` or duties below 100) the figures include
the stalls; measure throughput and latency without them.
"""

from __future__ import annotations

import fcntl
import re
import hashlib
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gatesmith import progress
from gatesmith.hls_templates.env import render
from gatesmith.hls_templates.memfile import format_memh, read_memh
from gatesmith.hls_templates.memfile import weight_load_words as _weight_load_words
from gatesmith.hls_templates.rtl import StreamSpec
from gatesmith.verify import rtl_runner
from gatesmith.verify.tools import VERILATOR_MAKE_FIXES, ensure_verilator, prune_build

__all__ = [
    "SimResult",
    "RtlSimError",
    "RtlDeadlock",
    "RtlProtocolError",
    "simulate_rtl",
    "lint_design",
    "render_harness",
    "HARNESS_FILES",
    "BACKPRESSURE_DUTY",
    "SIM_OPT",
]

#: (IN_DUTY, OUT_DUTY) in percent used by ``backpressure=True``.
BACKPRESSURE_DUTY = (60, 50)

#: Default C++ optimisation of the Verilated model.  Measured: small designs build in
#: about the same time at -O0 and -O1 but simulate 5-15x faster at -O1; a 784-64-64-10
#: MLP took 60 s to compile at -O1 against 14 s at -O0 (and simulated 5x slower at -O0).
SIM_OPT = "-O1"

#: Fixed file names the harness reads and writes in its run directory.
HARNESS_FILES = {
    "input": "gs_in.memh",
    "output": "gs_out.memh",
    "out_stamps": "gs_out_stamps.memh",
    "in_stamps": "gs_in_stamps.memh",
    "summary": "gs_summary.memh",
    "streams": "gs_streams.memh",
    "wload": "gs_wload.memh",
}

_TIMING_ARGS = ["--timing", "-CFLAGS", "-std=c++20 -fcoroutines"]
_MAKE_FIXES = list(VERILATOR_MAKE_FIXES)  # see verify/tools.py
_COCOTB_MODULE = "gatesmith.verify._rtl_sim_cocotb"
_HARNESS = "gatesmith_harness"

#: harness counters the cocotb side reads for progress (made readable by a Verilator control file)
_PROGRESS_SIGNALS = ("out_count", "cycle")
#: progress file the cocotb side rewrites in the run directory: "<output beats> <cycle>"
_PROGRESS_FILE = "gs_progress.txt"


def _control_file(hname: str) -> str:
    """Verilator control file making the harness' progress counters readable (VPI) without
    ``--public-flat-rw`` on everything."""
    return "`verilator_config\n" + "".join(
        f'public_flat_rd -module "{hname}" -var "{sig}"\n' for sig in _PROGRESS_SIGNALS)


class RtlSimError(RuntimeError):
    """The whole-design simulation did not produce a valid result."""


class RtlDeadlock(RtlSimError):
    """The design stopped making progress before all outputs arrived."""


class RtlProtocolError(RtlSimError):
    """The design broke the AXI-Stream rules on its output port."""


@dataclass(frozen=True, kw_only=True)
class SimResult:
    y_int: np.ndarray  # (N, C_out) integers of the output type (bipolar as ±1)
    cycles_total: int
    cycles_per_inference: float
    latency_cycles: int
    out_stamps: np.ndarray  # (N, out beats) cycle of every output beat
    in_stamps: np.ndarray  # (N,) cycle at which each input's first beat was accepted
    in_duty: int
    out_duty: int
    seed: int
    burst: int  # longest stall run (0: stalls are single cycles)
    beats_in: int  # input beats accepted by the design
    beats_out: int  # output beats taken from the design (extra beats raise)
    build_seconds: float  # 0.0 when the build came from the cache
    run_seconds: float  # wall time of the simulator process (incl. start-up)

    @property
    def cycles_per_second(self) -> float:
        """Simulated cycles per wall-clock second of the run (start-up included)."""
        return self.cycles_total / self.run_seconds if self.run_seconds > 0 else float("inf")


def _max_n(n: int) -> int:
    return max(64, 1 << (int(n) - 1).bit_length())


def render_harness(
    *, top: str, in_stream: StreamSpec, out_stream: StreamSpec, max_n: int, clock: str = "verilog",
    streams=(), weight_load=None,
) -> tuple[str, str]:
    """(module name, text) of the harness around ``top`` (``weight_load``: the manifest's, when
    the top has a weight-load port)."""
    if clock not in ("verilog", "cocotb"):
        raise ValueError(f"expected clock 'verilog' or 'cocotb', got {clock!r}")
    name = _HARNESS if top != _HARNESS else _HARNESS + "_1"
    text = render(
        "harness.v.j2",
        harness=name,
        top=top,
        in_w=in_stream.tdata_bits,
        out_w=out_stream.tdata_bits,
        in_beats=in_stream.beats_per_inference,
        out_beats=out_stream.beats_per_inference,
        max_n=max_n,
        internal_clock=clock == "verilog",
        files=HARNESS_FILES,
        streams=[_checked_ident(s) for s in streams],
        wload={"bits": int(weight_load["tdata_bits"]), "words": int(weight_load["words"])} if weight_load else None,
    )
    return name, text


def weight_load_words(rtl_dir, weight_load) -> list[int]:
    """The words a host streams into ``s_axis_wl``: every layer's memory file (by bare name in
    ``rtl_dir``) in the manifest's order, address 0 first."""
    try:
        return _weight_load_words(rtl_dir, weight_load["layers"])
    except ValueError as e:
        raise RtlSimError(str(e)) from None


def _checked_ident(name: str) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"expected a Verilog identifier as a stream name, got {name!r}")
    return name


def _design_sources(rtl_dir: Path) -> list[Path]:
    srcs = sorted(p for p in rtl_dir.iterdir() if p.suffix in (".v", ".sv") and p.is_file())
    if not srcs:
        raise RtlSimError(f"no Verilog sources in {str(rtl_dir)!r}")
    return srcs


def lint_design(rtl_dir, top: str) -> None:
    """``verilator --lint-only -Wall`` over every Verilog file of ``rtl_dir`` with ``top``
    as top module; raises :class:`gatesmith.verify.rtl_runner.RtlLintError` with
    Verilator's output on any warning."""
    rtl_runner.lint(_design_sources(Path(rtl_dir)), top)


def _default_timeout(n: int, ins: StreamSpec, outs: StreamSpec, duty: int) -> int:
    per = (ins.beats_per_inference + outs.beats_per_inference) * 1000
    return int((1_000_000 + n * per) * 100 // max(1, duty))


def simulate_rtl(
    rtl_dir: Path,
    *,
    top: str,
    in_stream: StreamSpec,
    out_stream: StreamSpec,
    x_int: np.ndarray,
    backpressure: bool = False,
    seed: int = 1,
    build_dir: Path | None = None,
    in_duty: int | None = None,
    out_duty: int | None = None,
    timeout_cycles: int | None = None,
    burst: int = 0,
    clock: str = "verilog",
    opt: str = SIM_OPT,
    keep_run_dir: bool | None = None,
    streams=(),
    weight_load=None,
) -> SimResult:
    """Simulate the design in ``rtl_dir`` on integer inputs ``x_int`` ``(N, C_in)``.

    ``backpressure`` uses :data:`BACKPRESSURE_DUTY`; ``in_duty``/``out_duty``
    (percent, 1..100) override it.  ``burst`` (0 or 2..65535) makes every stall
    a run of 1..``burst`` cycles: a cycle starts a run with probability
    ``100 - duty`` percent, so long bursts stall far more than ``100 - duty``
    percent of the cycles.  ``timeout_cycles`` bounds the run (default
    generous: 1M cycles plus 1000 per beat, scaled by the duty and the burst);
    exceeding it raises :class:`RtlDeadlock` with the cycle count and the beats
    seen.  A beat on ``m_axis`` that drops or changes while stalled raises
    :class:`RtlProtocolError`.
    ``clock``: ``"verilog"`` (the harness toggles its own clock, Verilator
    ``--timing``; fastest) or ``"cocotb"`` (``cocotb.clock.Clock`` drives ``clk``).
    The build is cached in ``build_dir`` (default ``<rtl_dir>/../sim_build``) per
    design files + harness shape; N, seed, duties and data never force a rebuild
    while N fits the harness memories (64, then powers of two).  ``opt``: C++
    optimisation of the model (see :data:`SIM_OPT`).  Each run uses a fresh
    ``build_dir/run-*`` directory, removed afterwards unless ``keep_run_dir``
    (default: kept only when the run fails; its path is in the error).
    ``streams`` (the manifest's ``streams``: ``{"name", "from", "to"}`` of every
    internal stream of the top) makes the harness count the beats on each; a
    deadlock report then names the stage where the data stopped.  ``weight_load`` (the
    manifest's, for weights in URAM): the harness streams those words into ``s_axis_wl``
    first (with the input stalls); the design takes inputs once they are loaded.
    """
    rtl_dir = Path(rtl_dir).resolve()
    x = np.asarray(x_int)
    if x.ndim != 2 or x.shape[1] != in_stream.elems or x.shape[0] < 1:
        raise ValueError(
            f"expected integer inputs of shape (N >= 1, {in_stream.elems}), got {x.shape!r}"
        )
    n = int(x.shape[0])
    di, do = BACKPRESSURE_DUTY if backpressure else (100, 100)
    di = int(in_duty if in_duty is not None else di)
    do = int(out_duty if out_duty is not None else do)
    for what, d in (("in_duty", di), ("out_duty", do)):
        if not 1 <= d <= 100:
            raise ValueError(f"expected {what} in 1..100 (percent), got {d!r}")
    burst = int(burst)
    if burst != 0 and not 2 <= burst <= 65535:
        raise ValueError(f"expected burst 0 or 2..65535 (cycles), got {burst!r}")
    budget = int(timeout_cycles) if timeout_cycles is not None else _default_timeout(
        n, in_stream, out_stream, min(di, do)
    ) * max(1, burst)

    ensure_verilator()
    build_root = Path(build_dir).resolve() if build_dir is not None else rtl_dir.parent / "sim_build"
    build_root.mkdir(parents=True, exist_ok=True)

    max_n = _max_n(n)
    streams = [dict(s) for s in streams]
    hname, htext = render_harness(
        top=top, in_stream=in_stream, out_stream=out_stream, max_n=max_n, clock=clock,
        streams=[s["name"] for s in streams], weight_load=weight_load,
    )
    t0 = time.perf_counter()
    bdir, built = _build(build_root, rtl_dir, hname, htext, clock, opt)
    build_seconds = time.perf_counter() - t0 if built else 0.0
    out_beats = out_stream.beats_per_inference

    # ---- run directory: memory files of the design + the input beats
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=build_root))
    try:
        for mem in sorted(rtl_dir.glob("*.mem")):
            shutil.copyfile(mem, run_dir / mem.name)
        if weight_load:
            (run_dir / HARNESS_FILES["wload"]).write_text(
                format_memh(weight_load_words(rtl_dir, weight_load), int(weight_load["tdata_bits"])),
                encoding="ascii")
        words = in_stream.pack(x)
        (run_dir / HARNESS_FILES["input"]).write_text(
            format_memh(words, in_stream.tdata_bits), encoding="ascii"
        )
        plusargs = [
            f"+N={n}", f"+SEED={int(seed)}", f"+IN_DUTY={di}", f"+OUT_DUTY={do}", f"+TIMEOUT={budget}",
            f"+BURST={burst}",
        ]
        t1 = time.perf_counter()
        with progress.task(f"simulating {top} (Verilator)", total=n, unit="inferences") as t:
            with _ProgressReader(run_dir / _PROGRESS_FILE, t, out_beats) as env:
                _run(bdir, hname, run_dir, plusargs, clock, top, env)
            t.update(completed=n)
        run_seconds = time.perf_counter() - t1
        result = _collect(run_dir, top, n, in_stream, out_stream, di, do, int(seed), burst, streams)
    except BaseException:
        if keep_run_dir is None:
            keep_run_dir = True
        raise
    finally:
        if not keep_run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)
    return SimResult(**result, build_seconds=build_seconds, run_seconds=run_seconds)


# --------------------------------------------------------------------------- build and run


def _runner(make_args=()):
    """cocotb's Verilator runner without ``--public-flat-rw``.

    Making every signal public costs about 3x in simulation speed; the harness
    marks the few signals cocotb touches (``done``, and ``clk`` when cocotb
    drives it) public with Verilator metacomments instead.
    """
    from cocotb_tools.runner import get_runner

    base = type(get_runner("verilator"))

    class _HarnessVerilator(base):  # type: ignore[misc, valid-type]
        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
            cmds[-1] = [*cmds[-1], *make_args]
            return cmds

    return _HarnessVerilator()


def _tool_versions() -> dict:
    import cocotb

    out = subprocess.run(["verilator", "--version"], capture_output=True, text=True, check=False)
    return {
        "verilator": out.stdout.strip(),
        "cocotb": cocotb.__version__,
        "python": sys.executable,
    }


def _build(
    build_root: Path, rtl_dir: Path, hname: str, htext: str, clock: str, opt: str
) -> tuple[Path, bool]:
    """Build (or reuse) the Verilator model; returns (build dir, whether it was built now).

    The key is the content of the design's Verilog files (not the .mem files,
    which are read at run time), the harness text, flags and tool versions.
    """
    design = _design_sources(rtl_dir)
    build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style"] + (
        _TIMING_ARGS if clock == "verilog" else []
    )
    vlt = _control_file(hname)
    key = {
        "design": [[p.name, hashlib.sha256(p.read_bytes()).hexdigest()] for p in design],
        "harness": hashlib.sha256(htext.encode()).hexdigest(),
        "control": hashlib.sha256(vlt.encode()).hexdigest(),
        "build_args": build_args,
        "opt": opt,
        **_tool_versions(),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    bdir = build_root / f"{hname}-{digest}"
    stamp = bdir / "gatesmith_sim_build.json"
    with open(build_root / f"{hname}-{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if stamp.is_file() and (bdir / hname).is_file():
                return bdir, False
            if bdir.exists():
                shutil.rmtree(bdir)
            src_dir = bdir / "src"
            src_dir.mkdir(parents=True)
            (src_dir / f"{hname}.vlt").write_text(vlt, encoding="ascii")
            sources = [src_dir / f"{hname}.vlt"]  # (the top's file must come last)
            for p in design:
                shutil.copyfile(p, src_dir / p.name)
                sources.append(src_dir / p.name)
            hpath = src_dir / f"{hname}.v"
            hpath.write_text(htext, encoding="ascii")
            sources.append(hpath)
            make_args = [
                f"OPT_FAST={opt}", f"OPT_SLOW={opt}", f"OPT_GLOBAL={opt}",
                *_MAKE_FIXES,
            ]
            if hasattr(rtl_runner, "_objcache_main"):
                # share rtl_runner's cache of compiled Verilator-runtime objects
                objcache = build_root / "objcache"
                objcache.mkdir(exist_ok=True)
                wrapper = shlex.join(
                    [sys.executable, "-m", "gatesmith.verify.rtl_runner", "--objcache", str(objcache)]
                )
                make_args.append(f"OBJCACHE={wrapper}")
            log = bdir / "build.log"
            try:
                with progress.task(f"building the Verilator model of {rtl_dir.parent.name}", eta="none", unit=""):
                    _runner(make_args).build(
                        sources=[str(s) for s in sources],
                        hdl_toplevel=hname,
                        build_args=build_args,
                        build_dir=str(bdir),
                        log_file=str(log),
                    )
            except (RuntimeError, SystemExit) as exc:
                raise RtlSimError(
                    f"Verilator build of the harness around {rtl_dir.name!r} failed ({exc}); "
                    f"log {str(log)!r}:\n{_tail(log)}"
                ) from None
            prune_build(bdir)
            stamp.write_text(json.dumps(key, indent=1, sort_keys=True))
            return bdir, True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class _ProgressReader:
    """While the simulator runs: the cocotb side rewrites ``path`` with the output beats taken
    and the cycle; a thread turns them into inferences done and simulated cycles per second.
    Does nothing (and asks the cocotb side for nothing) when no progress is drawn."""

    def __init__(self, path: Path, task, out_beats: int):
        self.path, self.task, self.out_beats = path, task, max(1, int(out_beats))
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self) -> dict:
        if not progress.active():
            return {}
        self._thread = threading.Thread(target=self._poll, name="gatesmith-sim-progress", daemon=True)
        self._thread.start()
        return {"GATESMITH_SIM_PROGRESS": str(self.path)}

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()

    def _poll(self) -> None:
        last = None  # (wall, cycle)
        while not self._stop.wait(0.25):
            try:
                beats, cyc = (int(v) for v in self.path.read_text().split())
            except (OSError, ValueError):
                continue
            now = time.monotonic()
            note = ""
            if last is not None and now > last[0] and cyc >= last[1]:
                note = f"{(cyc - last[1]) / (now - last[0]):,.0f} cycles/s"
            if last is None or cyc != last[1]:
                last = (now, cyc)
                self.task.update(completed=beats // self.out_beats, note=note or None)


def _run(bdir: Path, hname: str, run_dir: Path, plusargs: list[str], clock: str, top: str,
         env: dict | None = None) -> None:
    from cocotb_tools.check_results import get_results

    results = run_dir / "results.xml"
    log = run_dir / "sim.log"
    what = f"simulation of {top!r} (run dir {str(run_dir)!r})"
    runner = _runner()
    try:
        runner.test(
            test_module=_COCOTB_MODULE,
            hdl_toplevel=hname,
            hdl_toplevel_lang="verilog",
            build_dir=str(bdir),
            test_dir=str(run_dir),
            plusargs=plusargs,
            extra_env={"COCOTB_LOG_LEVEL": "WARNING", "GATESMITH_SIM_CLOCK": clock, **(env or {})},
            results_xml=str(results),
            log_file=str(log),
        )
    except SystemExit as exc:
        raise RtlSimError(f"{what} failed (exit {exc.code}); log:\n{_tail(log)}") from None
    try:
        num_tests, num_failed = get_results(results)
    except RuntimeError as exc:
        raise RtlSimError(f"{what}: {exc}; log:\n{_tail(log)}") from None
    if num_tests == 0 or num_failed:
        raise RtlSimError(f"{what}: the cocotb test failed; log:\n{_tail(log)}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stall_report(run_dir, streams, hs: int) -> str:
    """Where the data stopped, from the harness' per-stream beat counts and handshake
    state at the timeout: the blocks that hold a beat they cannot pass on, and the stream
    that stopped first (the fewest beats relative to its peers is not meaningful across
    widths, so the verdict is structural: a block whose input holds a beat (tvalid and
    not tready) while none of its outputs is back-pressured is where the flow stopped)."""
    path = run_dir / HARNESS_FILES["streams"]
    if not streams or not path.is_file():
        return ""
    words = read_memh(path)
    if len(words) != len(streams):
        return ""
    state = {}
    for s, w in zip(streams, words):
        state[s["name"]] = {"beats": int(w) >> 2, "valid": bool(w & 2), "ready": bool(w & 1), **s}
    # the top's own ports
    state["s_axis"] = {"beats": None, "valid": bool(hs & 8), "ready": bool(hs & 4), "from": "(input)", "to": None}
    state["m_axis"] = {"beats": None, "valid": bool(hs & 2), "ready": bool(hs & 1), "from": None, "to": "(output)"}
    ins: dict[str, list] = {}
    outs: dict[str, list] = {}
    for name, st in state.items():
        if st["to"]:
            ins.setdefault(st["to"], []).append(name)
        if st["from"]:
            outs.setdefault(st["from"], []).append(name)
    held = {n for n, st in state.items() if st["valid"] and not st["ready"]}
    stuck = []
    for blk, names in sorted(ins.items()):
        if blk in ("(output)",):
            continue
        if any(n in held for n in names) and not any(o in held for o in outs.get(blk, [])):
            waiting = [n for n in names if not state[n]["valid"]]
            stuck.append(f"{blk!r} (holds a beat on {', '.join(n for n in names if n in held)}"
                         + (f"; waits for {', '.join(waiting)}" if waiting else "") + ")")
    counts = ", ".join(f"{n}={st['beats']}" for n, st in state.items() if st["beats"] is not None)
    where = "; stopped at " + ", ".join(stuck) if stuck else "; no block holds a beat it cannot pass on"
    return f"{where}; beats per stream: {counts}"


def _collect(run_dir, top, n, ins: StreamSpec, outs: StreamSpec, di, do, seed, burst, streams=()) -> dict:
    summ_path = run_dir / HARNESS_FILES["summary"]
    if not summ_path.is_file():
        raise RtlSimError(f"simulation of {top!r} ended without results (run dir {str(run_dir)!r})")
    summary = read_memh(summ_path)
    if len(summary) < 12:
        raise RtlSimError(f"harness summary of {top!r} has {len(summary)} words; expected 12")
    cycles, n_out, n_in, extra, timed_out, _, viol, first_viol, kinds, in_last, out_last, hs = summary[:12]
    ob = outs.beats_per_inference
    want = n * ob
    run = f"N={n}, seed={seed}, in_duty={di}, out_duty={do}, burst={burst}; run dir {str(run_dir)!r}"
    if viol:
        what = " and ".join(w for b, w in ((1, "tvalid dropped"), (2, "tdata changed")) if kinds & b)
        raise RtlProtocolError(
            f"AXI-Stream violation on m_axis of {top!r}: {what} while tvalid && !tready in {viol} "
            f"cycle(s), first at cycle {first_viol} ({n_out} of {want} output beats taken; {run})"
        )
    if timed_out:
        def last(c):
            return f"cycle {c - 1}" if c else "never"

        sig = ", ".join(
            f"{name}={(hs >> bit) & 1}"
            for name, bit in (("s_tvalid", 3), ("s_tready", 2), ("m_tvalid", 1), ("m_tready", 0))
        )
        raise RtlDeadlock(
            f"deadlock: {top!r} stopped after {cycles} cycles with {n_out} of {want} output "
            f"beats and {n_in} of {n * ins.beats_per_inference} input beats (last input beat "
            f"{last(in_last)}, last output beat {last(out_last)}; at the end {sig})"
            f"{_stall_report(run_dir, streams, hs)} ({run})"
        )
    if extra:
        raise RtlSimError(
            f"{top!r} produced {extra} output beats more than the {want} expected for N={n}"
        )
    words = read_memh(run_dir / HARNESS_FILES["output"], outs.tdata_bits)
    ostamps = read_memh(run_dir / HARNESS_FILES["out_stamps"], 64)
    istamps = read_memh(run_dir / HARNESS_FILES["in_stamps"], 64)
    if len(words) != want or len(ostamps) != want or len(istamps) != n:
        raise RtlSimError(
            f"harness of {top!r} wrote {len(words)} output beats, {len(ostamps)} stamps and "
            f"{len(istamps)} input stamps; expected {want}, {want} and {n}"
        )
    y = outs.unpack(words)
    ost = np.asarray(ostamps, dtype=np.int64).reshape(n, ob)
    ist = np.asarray(istamps, dtype=np.int64)
    c = ost[:, -1]
    total = int(c[-1]) + 1
    if n >= 3:
        h = n // 2
        cpi = float(c[-1] - c[h]) / (n - 1 - h)
    elif n == 2:
        cpi = float(c[1] - c[0])
    else:
        cpi = float(total)
    return {
        "y_int": y,
        "cycles_total": total,
        "cycles_per_inference": cpi,
        "latency_cycles": int(c[0] - ist[0]),
        "out_stamps": ost,
        "in_stamps": ist,
        "in_duty": di,
        "out_duty": do,
        "seed": seed,
        "burst": burst,
        "beats_in": int(n_in),
        "beats_out": int(n_out),
    }

