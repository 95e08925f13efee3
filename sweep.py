"""``gatesmith sweep``: design-space sweeps run as Dask tasks.

    gatesmith sweep model.onnx --grid sweep.toml -o SWEEP_DIR [--scheduler ADDRESS] [--workers N]

The grid file (TOML) lists values for any compile option and says how deep every point is
evaluated::

    depth = ["estimate", "synth"]   # estimate (always), synth (Yosys synth_xilinx),
                                    # pnr (Yosys + nextpnr-ecp5), sim (Verilator vs the reference)
    inputs = "x.npy"                # float inputs for sim (relative to this file)
    timeout = 1800                  # seconds a tool run (synth / pnr) may take

    [base]                          # settings every point shares (gatesmith.toml's keys,
    backend = "rtl"                 #  [base.layer.NAME] / [base.op.KIND] tables included)

    [grid]                          # lists: every combination is one point
    board = ["pynq-z2", "zcu104"]
    target_fps = [1e5, 1e6]

    [[point]]                       # extra single points, merged over [base]
    board = "pynq-z2"
    budget = 0.5

Every point is one task on a Dask cluster: a ``distributed.LocalCluster`` of ``--workers``
processes (one thread each) on this machine, or the existing cluster at ``--scheduler``.
Workers write each point's design to ``SWEEP_DIR/points/KEY/``, so a remote cluster needs
``SWEEP_DIR`` on a filesystem its workers share.

``KEY`` is a hash of the model file, the point's settings, the depth, the inputs (for sim)
and gatesmith's version.  Results stream as points finish: one JSON line per point is
appended to ``SWEEP_DIR/results.jsonl`` (the journal), and ``results.csv`` /
``results.parquet`` (one row a point, columns :data:`COLUMNS`) are rewritten from it
atomically.  A failed point is a row with ``status = "failed"`` and a one-line ``error``;
it never stops the sweep.  Rerunning the command skips every point already in the
journal (failed ones too, unless ``--retry-failed``), so an interrupted sweep resumes.
``SWEEP_DIR/pareto.html`` plots throughput against LUT, DSP, BRAM18 and Fmax with the
Pareto frontier marked, each point linked to its design's directory.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import socket
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from .flow import FlowError

__all__ = ["SweepError", "Grid", "load_grid", "parse_grid", "point_key", "run_point", "run_sweep", "COLUMNS",
           "DEPTHS", "read_journal", "pareto_front"]

#: evaluation depths, in the order a point runs them (estimate always runs: it is the compile)
DEPTHS = ("estimate", "synth", "pnr", "sim")

#: gatesmith.toml keys a grid may sweep (a string-valued path, e.g. calibration, is relative to the grid file)
OPTION_KEYS = ("board", "clock_mhz", "target_fps", "budget", "requant", "mem_style", "mul_style", "backend",
               "fixed_bits", "fixed_range", "calibration", "top")
_PATH_KEYS = ("calibration",)

#: the columns of results.csv / results.parquet, with their Arrow types
COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "string"), ("status", "string"), ("error", "string"), ("failed_step", "string"),
    ("depth", "string"), ("design", "string"),
    *((k, "float64" if k in ("clock_mhz", "target_fps", "budget") else "int64" if k == "fixed_bits" else "string")
      for k in OPTION_KEYS),
    ("layer_settings", "string"),
    ("cycles_per_inference", "int64"), ("inferences_per_second", "float64"), ("latency_cycles", "int64"),
    ("achieved_clock_mhz", "float64"), ("bottleneck", "string"), ("folding_efficiency", "float64"),
    ("fits_budget", "bool"),
    ("est_lut", "int64"), ("est_ff", "int64"), ("est_dsp", "int64"), ("est_bram18", "int64"), ("est_uram", "int64"),
    ("synth_lut", "int64"), ("synth_ff", "int64"), ("synth_dsp", "int64"), ("synth_bram18", "int64"),
    ("synth_uram", "int64"), ("synth_seconds", "float64"),
    ("pnr_fmax_mhz", "float64"), ("pnr_meets_timing", "bool"), ("pnr_lut4", "int64"), ("pnr_ff", "int64"),
    ("pnr_dsp", "int64"), ("pnr_bram", "int64"), ("pnr_seconds", "float64"),
    ("sim_inferences", "int64"), ("sim_cycles_per_inference", "float64"), ("sim_latency_cycles", "int64"),
    ("sim_mismatches", "int64"),
    ("seconds", "float64"), ("worker", "string"), ("finished", "string"),
)
_COLUMN_NAMES = tuple(c for c, _ in COLUMNS)


class SweepError(FlowError):
    """Bad sweep input (grid file, option, sweep directory); the message names it."""


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Grid:
    """A parsed grid file: the points' settings (gatesmith.toml documents), what to evaluate."""

    source: str
    depth: tuple[str, ...]
    points: tuple[dict, ...]
    inputs: Path | None = None
    expect: Path | None = None
    timeout: float | None = None


def load_grid(path) -> Grid:
    from .config import read_toml

    p = Path(path)
    source = f"--grid {str(p)!r}"
    return parse_grid(read_toml(p, source, SweepError), source=source, base_dir=p.resolve().parent)


def _as_list(value, path: str, source: str) -> list:
    if isinstance(value, list):
        if not value:
            raise SweepError(f"{source}: {path}: expected a non-empty list of values")
        return value
    return [value]


def parse_grid(data: dict, *, source: str = "grid", base_dir: Path = Path(".")) -> Grid:
    """A TOML document -> :class:`Grid`; every point checked as a gatesmith.toml would be
    (unknown keys and wrong types are one-line errors naming the key)."""
    from .boards import BoardError, load_board
    from .config import ConfigError, parse_config
    from .implement import XILINX_FAMILIES

    known = ("depth", "inputs", "expect", "timeout", "base", "grid", "point")
    for k in data:
        if k not in known:
            raise SweepError(f"{source}: {k}: unknown key (expected one of {', '.join(known)})")
    depth = _as_list(data.get("depth", "estimate"), "depth", source)
    for d in depth:
        if d not in DEPTHS:
            raise SweepError(f"{source}: depth: {d!r} is not an evaluation depth (expected one of {', '.join(DEPTHS)})")
    depth = tuple(d for d in DEPTHS if d == "estimate" or d in depth)
    files = {}
    for k in ("inputs", "expect"):
        v = data.get(k)
        if v is None:
            files[k] = None
            continue
        if not isinstance(v, str):
            raise SweepError(f"{source}: {k}: expected a path to an .npy file, got {v!r}")
        f = (base_dir / v).resolve()
        if not f.is_file():
            raise SweepError(f"{source}: {k}: {str(f)!r}: no such file")
        files[k] = f
    if "sim" in depth and files["inputs"] is None:
        raise SweepError(f"{source}: depth sim needs inputs = \"X.npy\" (float inputs shaped like the model's input)")
    timeout = data.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0):
        raise SweepError(f"{source}: timeout: expected a positive number of seconds, got {timeout!r}")
    base = data.get("base", {})
    if not isinstance(base, dict):
        raise SweepError(f"{source}: base: expected a table of gatesmith.toml settings, got {base!r}")
    grid = data.get("grid", {})
    if not isinstance(grid, dict):
        raise SweepError(f"{source}: grid: expected a table of option = [values], got {grid!r}")
    for k, v in grid.items():
        if k not in OPTION_KEYS:
            raise SweepError(f"{source}: grid.{k}: not an option a grid can sweep (expected one of "
                             f"{', '.join(OPTION_KEYS)})")
        _as_list(v, f"grid.{k}", source)
    extra = data.get("point", [])
    if not isinstance(extra, list) or not all(isinstance(t, dict) for t in extra):
        raise SweepError(f"{source}: point: expected tables ([[point]]) of gatesmith.toml settings")
    points = []
    keys = list(grid)
    combos = [dict(zip(keys, vals)) for vals in itertools.product(*(_as_list(grid[k], k, source) for k in keys))]
    where = [f"grid point {i + 1} ({_describe(c)})" for i, c in enumerate(combos)] if grid else []
    settings = [{**base, **c} for c in combos] if grid else ([] if extra else [dict(base)])
    if not grid and not extra:
        where = ["base"]
    for i, t in enumerate(extra):
        settings.append({**base, **t})
        where.append(f"point[{i}]")
    seen = set()
    families = set()
    for s, w in zip(settings, where):
        s = _resolve_paths(s, base_dir)
        try:
            cfg = parse_config(s, source=f"{source}: {w}")  # checked as a gatesmith.toml: the key is named
            b = load_board(cfg.board)
            families.add((b.name, b.family))
        except ConfigError as e:
            raise SweepError(str(e)) from None
        except BoardError as e:
            raise SweepError(f"{source}: {w}: {e}") from None
        canon = json.dumps(s, sort_keys=True)
        if canon in seen:
            continue  # the same settings twice (e.g. a [[point]] the grid already has): one point
        seen.add(canon)
        points.append(s)
    for d, applies in (("synth", lambda f: f in XILINX_FAMILIES), ("pnr", lambda f: f == "ecp5")):
        if d in depth and not any(applies(f) for _, f in families):
            what = "AMD/Xilinx (Yosys synth_xilinx)" if d == "synth" else "Lattice ECP5 (nextpnr-ecp5)"
            raise SweepError(f"{source}: depth {d}: no point is on a board it applies to ({what}); boards of the "
                             f"grid: {', '.join(f'{n} ({f})' for n, f in sorted(families))}")
    return Grid(source=source, depth=depth, points=tuple(points), inputs=files["inputs"], expect=files["expect"],
                timeout=None if timeout is None else float(timeout))


def _resolve_paths(settings: dict, base_dir: Path) -> dict:
    out = dict(settings)
    for k in _PATH_KEYS:
        if isinstance(out.get(k), str):
            out[k] = str((base_dir / out[k]).resolve())
    return out


def _describe(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())


# --------------------------------------------------------------------------- keys


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("gatesmith")
    except Exception:  # noqa: BLE001 - not installed as a distribution (a source checkout)
        return "0"


def point_key(model_sha: str, settings: dict, depth: tuple[str, ...], *, inputs_sha: str | None = None,
              expect_sha: str | None = None) -> str:
    """The point's identity: 16 hex digits of a SHA-256 over the model, settings, depth, inputs."""
    files = {k: _sha256_file(Path(v)) for k, v in settings.items() if k in _PATH_KEYS and isinstance(v, str)}
    doc = {"model": model_sha, "settings": settings, "files": files, "depth": list(depth),
           "inputs": inputs_sha if "sim" in depth else None, "expect": expect_sha if "sim" in depth else None,
           "gatesmith": _version()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- one point (a Dask task)


def _one_line(e: BaseException) -> str:
    from .flow import user_error_types

    msg = str(e).splitlines()[0] if str(e) else ""
    if isinstance(e, user_error_types()):
        return msg or type(e).__name__
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def run_point(spec: dict) -> dict:
    """Compile one point and evaluate it to ``spec["depth"]``; returns its result row.

    Never raises: a failure is a row with ``status = "failed"``, the step that failed and a
    one-line error (a gatesmith error's own message; otherwise the exception's type and first
    line).  Runs in a Dask worker: everything it needs is in ``spec`` (plain data)."""
    from .config import compile_options, parse_config

    t0 = time.perf_counter()
    settings = spec["settings"]
    depth = point_depth(tuple(spec["depth"]), settings.get("board", "pynq-z2"))
    out = Path(spec["design_dir"])
    row: dict = {"key": spec["key"], "depth": "+".join(depth), "design": spec["design_rel"],
                 **spec["options"], "layer_settings": _layer_settings(settings),
                 "worker": f"{socket.gethostname()}:{os.getpid()}"}
    step = "compile"
    try:
        from .flow import compile_model

        cfg = parse_config(settings, source=f"point {spec['key']}")
        opts = compile_options(cfg, source=f"point {spec['key']}", force=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        compile_model(Path(spec["model"]), out, opts)
        row.update(_estimate_figures(out))
        if "synth" in depth:
            step = "synth"
            from .implement import synthesize

            rep = synthesize(out, timeout=spec.get("timeout"))
            row.update({f"synth_{k}": rep[k] for k in ("lut", "ff", "dsp", "bram18", "uram")},
                       synth_seconds=rep.get("seconds"))
        if "pnr" in depth:
            step = "pnr"
            from .implement import place_and_route

            rep = place_and_route(out)
            u = rep["utilisation"]
            used = {k: u[k]["used"] for k in u}
            secs = rep.get("seconds") or {}
            row.update(pnr_fmax_mhz=rep["fmax_mhz"], pnr_meets_timing=bool(rep["meets_timing"]),
                       pnr_lut4=used.get("lut4"), pnr_ff=used.get("trellis_ff"), pnr_dsp=used.get("mult18x18d"),
                       pnr_bram=used.get("dp16kd"), pnr_seconds=round(sum(secs.values()), 1) if secs else None)
        if "sim" in depth:
            step = "sim"
            row.update(_simulate(out, spec))
        row["status"] = "ok"
    except Exception as e:  # noqa: BLE001 - a failed point is a result, never the end of the sweep
        row.update(status="failed", failed_step=step, error=_one_line(e))
        if spec.get("debug"):
            row["traceback"] = traceback.format_exc()
    row["seconds"] = round(time.perf_counter() - t0, 3)
    row["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return row


def point_depth(depth: tuple[str, ...], board: str) -> tuple[str, ...]:
    """The evaluations of ``depth`` that apply to a point on ``board``: ``synth`` (Yosys
    synth_xilinx) on AMD/Xilinx boards, ``pnr`` (Yosys + nextpnr-ecp5) on ECP5 boards."""
    from .boards import load_board
    from .implement import XILINX_FAMILIES

    fam = load_board(board).family
    return tuple(d for d in depth if not (d == "synth" and fam not in XILINX_FAMILIES)
                 and not (d == "pnr" and fam != "ecp5"))


def _layer_settings(settings: dict) -> str | None:
    rest = {k: v for k, v in settings.items() if k in ("layer", "op")}
    return json.dumps(rest, sort_keys=True) if rest else None


def _estimate_figures(out: Path) -> dict:
    est = json.loads((out / "reports" / "estimate.json").read_text())
    res = est.get("resources") or {}
    return {"cycles_per_inference": est["cycles_per_inference"], "inferences_per_second": est["inferences_per_second"],
            "latency_cycles": est["latency_cycles"], "achieved_clock_mhz": est["clock_mhz"],
            "bottleneck": est["bottleneck"], "folding_efficiency": est.get("folding_efficiency"),
            "fits_budget": est.get("fits_budget"),
            **{f"est_{k}": res.get(k) for k in ("lut", "ff", "dsp", "bram18", "uram")}}


def _simulate(out: Path, spec: dict) -> dict:
    """RTL in Verilator on the grid's inputs, compared element for element with the numpy
    reference of the integer IR (and with ``expect`` when the grid gives one)."""
    import numpy as np

    from .flow import compare_outputs, load_design, simulate

    x = np.load(spec["inputs"], allow_pickle=False)
    src = f"inputs {spec['inputs']!r}"
    y_ref, _ = simulate(out, x, engine="reference", source=src)
    y, rep = simulate(out, x, engine="rtl", expect=y_ref, source=src)
    mism = int(rep["mismatches"])
    if spec.get("expect"):
        e = np.load(spec["expect"], allow_pickle=False)
        if e.shape != y.shape:
            raise SweepError(f"expect {spec['expect']!r}: expected shape {y.shape!r} (the model's output), "
                             f"got {e.shape!r}")
        mism += compare_outputs(load_design(out).graph, y, e)[0]
    return {"sim_inferences": rep["inferences"], "sim_cycles_per_inference": rep.get("cycles_per_inference"),
            "sim_latency_cycles": rep.get("latency_cycles"), "sim_mismatches": mism}


# --------------------------------------------------------------------------- the journal and tables


def read_journal(path: Path) -> dict[str, dict]:
    """Rows of ``results.jsonl`` by key (the last line of a key wins; a torn last line is ignored)."""
    rows: dict[str, dict] = {}
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash: that point runs again
        if isinstance(r, dict) and isinstance(r.get("key"), str):
            rows[r["key"]] = r
    return rows


def _append_journal(path: Path, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cell(row: dict, col: str, typ: str):
    v = row.get(col)
    if v is None:
        return None
    if typ == "int64":
        return int(v)
    if typ == "float64":
        return float(v)
    if typ == "bool":
        return bool(v)
    return str(v)


def write_tables(out: Path, rows: list[dict]) -> None:
    """``results.csv`` and ``results.parquet`` from the journal rows (sorted by key), atomically."""
    import csv

    rows = sorted(rows, key=lambda r: r["key"])

    def csv_write(p: Path) -> None:
        with open(p, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(_COLUMN_NAMES)
            for r in rows:
                w.writerow(["" if (v := _cell(r, c, t)) is None else v for c, t in COLUMNS])

    _atomic_write(out / "results.csv", csv_write)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return
    types = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}
    schema = pa.schema([(c, types[t]) for c, t in COLUMNS])
    table = pa.table({c: pa.array([_cell(r, c, t) for r in rows], type=types[t]) for c, t in COLUMNS}, schema=schema)
    _atomic_write(out / "results.parquet", lambda p: pq.write_table(table, p))


# --------------------------------------------------------------------------- Pareto frontier and page


#: the resources plotted against throughput: (column, axis label, lower is better)
PARETO_AXES = (("lut", "LUT", True), ("dsp", "DSP", True), ("bram18", "BRAM18", True),
               ("fmax_mhz", "Fmax (MHz, nextpnr)", False))


def resource(row: dict, what: str):
    """A row's figure for ``what``: synthesised when the point was synthesised, else estimated
    (Fmax only from place and route)."""
    if what == "fmax_mhz":
        return row.get("pnr_fmax_mhz")
    v = row.get(f"synth_{what}")
    return v if v is not None else row.get(f"est_{what}")


def pareto_front(points: list[tuple[float, float]], *, lower_x_better: bool = True) -> list[int]:
    """Indices of the points no other point dominates: throughput (y) at least as high and
    ``x`` at least as good, one of them strictly better."""
    front = []
    for i, (xi, yi) in enumerate(points):
        dominated = False
        for j, (xj, yj) in enumerate(points):
            if j == i:
                continue
            better_x = xj <= xi if lower_x_better else xj >= xi
            strictly = (xj != xi) or (yj != yi)
            if better_x and yj >= yi and strictly:
                dominated = True
                break
        if not dominated:
            front.append(i)
    return front


def write_pareto(out: Path, rows: list[dict], *, model: str) -> Path:
    """``SWEEP_DIR/pareto.html``: throughput against each resource, frontier marked, points
    linked to their design directories (SVG, matplotlib; the page is a Jinja template)."""
    import jinja2

    ok = sorted((r for r in rows if r.get("status") == "ok" and r.get("inferences_per_second")), key=lambda r: r["key"])
    plots = []
    for col, label, lower in PARETO_AXES:
        pts = [(r, resource(r, col)) for r in ok]
        pts = [(r, v) for r, v in pts if v is not None]
        if not pts:
            plots.append({"label": label, "svg": None, "front": []})
            continue
        xy = [(float(v), float(r["inferences_per_second"])) for r, v in pts]
        front = pareto_front(xy, lower_x_better=lower)
        plots.append({"label": label, "svg": _plot_svg(pts, xy, front, label),
                      "front": [pts[i][0]["key"] for i in sorted(front, key=lambda i: xy[i][0])]})
    failed = [{**r, "has_design": (out / r["design"] / "manifest.json").is_file()}
              for r in sorted((r for r in rows if r.get("status") != "ok"), key=lambda r: r["key"])]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).resolve().parent / "hls_templates")),
                             autoescape=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    options = [k for k in OPTION_KEYS if any(r.get(k) is not None for r in rows)]
    text = env.get_template("pareto.html.j2").render(
        model=model, plots=plots, rows=ok, failed=failed, options=options, resource=resource,
        synthesised=any(r.get("synth_lut") is not None for r in ok))
    path = out / "pareto.html"
    _atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    return path


def _plot_svg(pts, xy, front: list[int], label: str) -> str:
    """One scatter plot as inline SVG text: every point a link to its design directory."""
    import io

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "gatesmith", "svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(5.2, 3.6))
        try:
            on = set(front)
            for i, ((r, _), (x, y)) in enumerate(zip(pts, xy)):
                sc = ax.scatter([x], [y], s=36 if i in on else 18, c="#c0392b" if i in on else "#7f8c8d",
                                zorder=3 if i in on else 2, edgecolors="none")
                sc.set_urls([f"{r['design']}/"])
            fx = sorted((xy[i] for i in front), key=lambda p: p[0])
            if len(fx) > 1:
                ax.step([p[0] for p in fx], [p[1] for p in fx], where="post", color="#c0392b", lw=1, zorder=1)
            ax.set_xlabel(label)
            ax.set_ylabel("inferences / s")
            if max(y for _, y in xy) > 0 and max(y for _, y in xy) / max(min(y for _, y in xy), 1e-9) > 50:
                ax.set_yscale("log")
            ax.grid(True, alpha=0.3)
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


# --------------------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class SweepResult:
    out: Path
    total: int
    skipped: int
    ran: int
    failed: int
    seconds: float
    workers: int


def _check_out(out: Path, model_sha: str, model: Path) -> None:
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise SweepError(f"-o {str(out)!r}: parent directory {str(parent)!r} does not exist")
    if out.exists() and not out.is_dir():
        raise SweepError(f"-o {str(out)!r} exists and is not a directory")
    meta = out / "sweep.json"
    if out.is_dir() and any(out.iterdir()) and not meta.is_file():
        raise SweepError(f"-o {str(out)!r} exists and is not a sweep directory (no sweep.json); use a new directory")
    if meta.is_file():
        try:
            prev = json.loads(meta.read_text())["model_sha256"]
        except (ValueError, KeyError, OSError):
            raise SweepError(f"-o {str(out)!r}: sweep.json is not readable; use a new directory") from None
        if prev != model_sha:
            raise SweepError(f"-o {str(out)!r} holds a sweep of another model (sha256 {prev[:12]}…, "
                             f"{model.name} is {model_sha[:12]}…); use a new directory")


def plan_points(model: Path, grid: Grid, out: Path) -> list[dict]:
    """One task spec per grid point (plain data for a Dask worker)."""
    from .config import parse_config

    model_sha = _sha256_file(model)
    inputs_sha = _sha256_file(grid.inputs) if grid.inputs else None
    expect_sha = _sha256_file(grid.expect) if grid.expect else None
    specs = []
    for s in grid.points:
        key = point_key(model_sha, s, grid.depth, inputs_sha=inputs_sha, expect_sha=expect_sha)
        cfg = parse_config(s, source=grid.source)
        specs.append({"key": key, "settings": s, "options": {k: getattr(cfg, k) for k in OPTION_KEYS},
                      "depth": list(grid.depth), "model": str(model.resolve()),
                      "design_dir": str((out / "points" / key).resolve()), "design_rel": f"points/{key}",
                      "inputs": str(grid.inputs) if grid.inputs else None,
                      "expect": str(grid.expect) if grid.expect else None, "timeout": grid.timeout})
    return specs


def _client(scheduler: str | None, workers: int | None):
    """A Dask client: on the cluster at ``scheduler``, or on a new LocalCluster of ``workers``
    single-threaded processes. Returns ``(client, cluster or None, worker count)``."""
    import logging

    try:
        from distributed import Client, LocalCluster
    except ImportError as e:  # pragma: no cover - distributed is a dependency
        raise SweepError(f"gatesmith sweep needs dask.distributed (pip install 'dask[distributed]'): {e}") from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=15)
        except (OSError, TimeoutError, ValueError) as e:
            raise SweepError(f"--scheduler {scheduler!r}: cannot connect to a Dask scheduler "
                             f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
        n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
        if n == 0:
            try:
                client.wait_for_workers(1, timeout=30)
            except (TimeoutError, OSError):
                client.close()
                raise SweepError(f"--scheduler {scheduler!r}: the scheduler has no workers") from None
            n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
        return client, None, n
    n = workers if workers is not None else max(1, os.cpu_count() or 1)
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR, host="127.0.0.1")
    return Client(cluster), cluster, n


def run_sweep(model, grid_path, out_dir, *, scheduler: str | None = None, workers: int | None = None,
              retry_failed: bool = False, on_row=None) -> SweepResult:
    """Run every point of the grid not yet in ``out_dir``'s journal; see the module doc.
    ``on_row(row, done, total)`` is called as each point finishes (progress)."""
    from . import progress

    model = Path(model)
    out = Path(out_dir)
    if not model.is_file():
        raise SweepError(f"{str(model)!r}: no such model file")
    if workers is not None and workers < 1:
        raise SweepError(f"--workers {workers!r}: expected at least 1")
    if scheduler is not None and workers is not None:
        raise SweepError("--workers applies to the local cluster; with --scheduler the cluster's workers run the points")
    grid = load_grid(grid_path)
    model_sha = _sha256_file(model)
    _check_out(out, model_sha, model)
    specs = plan_points(model, grid, out)
    journal = out / "results.jsonl"
    done = read_journal(journal)
    pending = [s for s in specs if s["key"] not in done or (retry_failed and done[s["key"]].get("status") != "ok")]
    t0 = time.perf_counter()
    failed = 0
    nworkers = 0
    client = cluster = None
    if pending:  # connect first: a scheduler that cannot be reached leaves nothing behind
        client, cluster, nworkers = _client(scheduler, workers)
    meta = {"model": str(model), "model_sha256": model_sha, "gatesmith": _version()}
    try:
        out.mkdir(exist_ok=True)
        _atomic_write(out / "sweep.json", lambda p: p.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n"))
    except BaseException:
        if client is not None:
            client.close()
            if cluster is not None:
                cluster.close()
        raise
    if pending:
        try:
            from distributed import as_completed

            with progress.task(f"sweep: {len(pending)} points on {nworkers} Dask worker"
                               f"{'s' if nworkers != 1 else ''}", total=len(pending), unit="points") as t:
                futures = {client.submit(run_point, s, key=f"gatesmith-point-{s['key']}-{time.time_ns()}",
                                         pure=False, retries=0): s for s in pending}
                last_tables = 0.0
                for n, fut in enumerate(as_completed(futures), 1):
                    spec = futures[fut]
                    try:
                        row = fut.result()
                    except Exception as e:  # noqa: BLE001 - the worker died or the task was lost
                        row = {"key": spec["key"], "status": "failed", "failed_step": "worker",
                               "error": f"worker: {_one_line(e)}", "depth": "+".join(spec["depth"]),
                               "design": spec["design_rel"], **spec["options"],
                               "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                    failed += row.get("status") != "ok"
                    _append_journal(journal, row)
                    done[row["key"]] = row
                    if time.monotonic() - last_tables > 2.0 or n == len(pending):
                        write_tables(out, list(done.values()))
                        last_tables = time.monotonic()
                    t.update(completed=n, note=f"{failed} failed" if failed else "")
                    if on_row is not None:
                        on_row(row, n, len(pending))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    write_tables(out, list(done.values()))
    write_pareto(out, list(done.values()), model=model.name)
    return SweepResult(out=out, total=len(specs), skipped=len(specs) - len(pending), ran=len(pending), failed=failed,
                       seconds=round(time.perf_counter() - t0, 3), workers=nworkers)

