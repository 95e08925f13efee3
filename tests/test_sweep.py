"""``gatesmith sweep``: grid parsing, Pareto frontier, and real sweeps on Dask (a LocalCluster of
2 worker processes, and a ``dask scheduler`` + ``dask worker`` started as subprocesses on
loopback and reached through ``--scheduler``; no mocks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatesmith.cli import main
from gatesmith.sweep import (COLUMNS, SweepError, pareto_front, parse_grid, plan_points, point_depth,
                             read_journal, run_sweep)

BIN = Path(sys.executable).parent


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the grid


def test_grid_cross_product_base_and_points():
    g = parse_grid({"depth": "estimate", "base": {"backend": "rtl"},
                    "grid": {"board": ["pynq-z2", "zcu104"], "target_fps": [1e5, 1e6, 1e7]},
                    "point": [{"budget": 0.5}, {"board": "zcu104", "target_fps": 1e5}]})
    assert g.depth == ("estimate",)
    assert len(g.points) == 7  # 6 combinations + 1 new point (the second [[point]] repeats one)
    assert all(p["backend"] == "rtl" for p in g.points)
    assert {"backend": "rtl", "budget": 0.5} in g.points
    # depth is kept in flow order, estimate always first
    assert parse_grid({"depth": ["synth", "estimate"], "grid": {"board": ["pynq-z2"]}}).depth == ("estimate", "synth")
    # no grid, no points: the base alone is one point
    assert parse_grid({"base": {"board": "zcu104"}}).points == ({"board": "zcu104"},)


@pytest.mark.parametrize("doc, message", [
    ({"depths": "estimate"}, "g: depths: unknown key (expected one of depth, inputs, expect, timeout, base, grid, point)"),
    ({"depth": "route"}, "g: depth: 'route' is not an evaluation depth (expected one of estimate, synth, pnr, sim)"),
    ({"depth": []}, "g: depth: expected a non-empty list of values"),
    ({"grid": {"pe": [1, 2]}}, "g: grid.pe: not an option a grid can sweep (expected one of board, clock_mhz, "
                               "target_fps, budget, requant, mem_style, mul_style, backend, fixed_bits, fixed_range, "
                               "calibration, top)"),
    ({"grid": {"target_fps": []}}, "g: grid.target_fps: expected a non-empty list of values"),
    ({"grid": {"target_fps": ["fast"]}}, "g: grid point 1 (target_fps=fast): target_fps: expected a number, got 'fast'"),
    ({"grid": {"budget": [0.5, 2.0]}}, "g: grid point 2 (budget=2.0): budget: expected a fraction of the board's "
                                       "resources in (0, 1], got 2.0"),
    ({"grid": {"mem_style": ["bram", "ultra"]}}, "g: grid point 2 (mem_style=ultra): mem_style: 'ultra' is not a memory "
                                                 "style (expected one of auto, lutram, bram, uram)"),
    ({"point": [{"board": "nosuch"}]}, "g: point[0]: unknown board 'nosuch'; expected one of"),
    ({"depth": "sim"}, "g: depth sim needs inputs = \"X.npy\" (float inputs shaped like the model's input)"),
    ({"depth": "pnr", "grid": {"board": ["pynq-z2", "zcu104"]}},
     "g: depth pnr: no point is on a board it applies to (Lattice ECP5 (nextpnr-ecp5)); boards of the grid: "
     "pynq-z2 (xc7), zcu104 (xcup)"),
    ({"depth": "synth", "base": {"board": "ulx3s-85f"}},
     "g: depth synth: no point is on a board it applies to (AMD/Xilinx (Yosys synth_xilinx)); boards of the grid: "
     "ulx3s-85f (ecp5)"),
    ({"timeout": -1}, "g: timeout: expected a positive number of seconds, got -1"),
    ({"inputs": "missing.npy"}, "g: inputs: "),
    ({"base": {"layer": {"mvu0": {"pee": 2}}}}, "g: base: layer.mvu0.pee: unknown key"),
])
def test_grid_errors_are_one_line_and_name_the_key(doc, message, tmp_path):
    with pytest.raises(SweepError) as e:
        parse_grid(doc, source="g", base_dir=tmp_path)
    text = str(e.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_point_depth_applies_tools_to_their_boards():
    assert point_depth(("estimate", "synth", "pnr", "sim"), "pynq-z2") == ("estimate", "synth", "sim")
    assert point_depth(("estimate", "synth", "pnr", "sim"), "ulx3s-85f") == ("estimate", "pnr", "sim")


def test_point_keys_hash_model_settings_and_depth(tmp_path):
    m1 = _write(tmp_path / "a.onnx", "model a")
    m2 = _write(tmp_path / "b.onnx", "model b")
    g = parse_grid({"grid": {"target_fps": [1e5, 1e6]}})
    k1 = [s["key"] for s in plan_points(m1, g, tmp_path / "o")]
    assert len(set(k1)) == 2 and k1 == [s["key"] for s in plan_points(m1, g, tmp_path / "o")]  # stable
    assert not set(k1) & {s["key"] for s in plan_points(m2, g, tmp_path / "o")}  # another model
    g2 = parse_grid({"depth": "synth", "grid": {"target_fps": [1e5, 1e6]}})
    assert not set(k1) & {s["key"] for s in plan_points(m1, g2, tmp_path / "o")}  # another depth


# --------------------------------------------------------------------------- Pareto frontier


def _dominates(a, b, lower):
    bx = a[0] <= b[0] if lower else a[0] >= b[0]
    return bx and a[1] >= b[1] and a != b


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=25), st.booleans())
def test_pareto_front_is_exactly_the_undominated_points(pts, lower):
    front = set(pareto_front(pts, lower_x_better=lower))
    for i, p in enumerate(pts):
        dominated = any(_dominates(q, p, lower) for q in pts)
        assert (i in front) == (not dominated)


def test_pareto_front_small_example():
    # (LUT, inferences/s): 0 and 2 are on the frontier, 1 costs more for less, 3 repeats 0
    assert pareto_front([(100, 10), (200, 5), (300, 20), (100, 10)]) == [0, 2, 3]
    # Fmax: higher is better
    assert pareto_front([(100, 10), (200, 5), (50, 20)], lower_x_better=False) == [0, 1, 2]


# --------------------------------------------------------------------------- real sweeps


@pytest.fixture(scope="module")
def model(zoo_export):
    return zoo_export("jet_tagger")


@pytest.mark.rtl
def test_sweep_local_cluster_two_workers_sim_and_a_failing_point(model, tmp_path, rtl_cache, monkeypatch):
    """2 worker processes on a LocalCluster; depth sim proves every finished point bit-exact
    (RTL in Verilator vs the reference) with the estimated cycles; a point whose budget no
    design fits fails with its one-line error while the others finish."""
    monkeypatch.setenv("GATESMITH_RTL_CACHE", str(rtl_cache))
    m, onnx = model
    np.save(tmp_path / "x.npy", m.sample_with_extremes(12, seed=3))
    grid = _write(tmp_path / "sweep.toml", """
depth = ["estimate", "sim"]
inputs = "x.npy"
[base]
backend = "rtl"
board = "pynq-z2"
[grid]
target_fps = [5e4, 1e5]
[[point]]
budget = 0.0001
""")
    out = tmp_path / "sweep"
    seen = []
    res = run_sweep(onnx, grid, out, workers=2, on_row=lambda row, n, total: seen.append((row["key"], n, total)))
    assert (res.total, res.ran, res.skipped, res.failed, res.workers) == (3, 3, 0, 1, 2)
    assert [n for _, n, _ in seen] == [1, 2, 3] and {t for _, _, t in seen} == {3}
    rows = read_journal(out / "results.jsonl")
    ok = [r for r in rows.values() if r["status"] == "ok"]
    bad = [r for r in rows.values() if r["status"] != "ok"]
    assert len(ok) == 2 and len(bad) == 1
    for r in ok:
        assert r["depth"] == "estimate+sim"
        assert r["sim_mismatches"] == 0 and r["sim_inferences"] == 15
        assert r["sim_cycles_per_inference"] == pytest.approx(r["cycles_per_inference"], rel=0.05)
        assert (out / r["design"] / "rtl").is_dir()
    assert {r["target_fps"] for r in ok} == {5e4, 1e5}
    b = bad[0]
    assert b["failed_step"] == "compile" and b["budget"] == 0.0001
    assert "does not fit pynq-z2 at --budget 0.0001" in b["error"] and "\n" not in b["error"]
    # the tables: one row a point, the declared columns, parquet and CSV agree
    import pyarrow.parquet as pq

    t = pq.read_table(out / "results.parquet")
    assert t.column_names == [c for c, _ in COLUMNS] and t.num_rows == 3
    assert sorted(t.column("status").to_pylist()) == ["failed", "ok", "ok"]
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0].split(",")[:3] == ["key", "status", "error"] and len(csv_lines) == 4
    page = (out / "pareto.html").read_text()
    for r in ok:
        assert f'xlink:href="{r["design"]}/"' in page  # the plotted point links to its design
    assert "Failed points" in page and b["key"] in page


def test_sweep_resumes_and_extends(model, tmp_path):
    """A rerun skips finished points (the journal is not rewritten); a grid with one more value
    runs only that point; --retry-failed reruns failures."""
    _, onnx = model
    grid = _write(tmp_path / "sweep.toml", "[base]\nbackend = \"rtl\"\n[grid]\ntarget_fps = [1e5, 1e6]\n"
                                           "[[point]]\nbudget = 0.0001\n")
    out = tmp_path / "sweep"
    first = run_sweep(onnx, grid, out, workers=1)
    assert (first.ran, first.failed) == (3, 1)
    journal = (out / "results.jsonl").read_bytes()
    again = run_sweep(onnx, grid, out, workers=1)
    assert (again.total, again.ran, again.skipped, again.workers) == (3, 0, 3, 0)  # no cluster started
    assert (out / "results.jsonl").read_bytes() == journal
    _write(grid, grid.read_text().replace("[1e5, 1e6]", "[1e5, 1e6, 1e7]"))
    more = run_sweep(onnx, grid, out, workers=1)
    assert (more.total, more.ran, more.skipped) == (4, 1, 3)
    retry = run_sweep(onnx, grid, out, workers=1, retry_failed=True)
    assert (retry.ran, retry.failed) == (1, 1)
    assert len(read_journal(out / "results.jsonl")) == 4


def test_sweep_torn_journal_line_runs_the_point_again(model, tmp_path):
    _, onnx = model
    grid = _write(tmp_path / "sweep.toml", "[grid]\ntarget_fps = [1e5, 1e6]\n")
    out = tmp_path / "sweep"
    run_sweep(onnx, grid, out, workers=1)
    lines = (out / "results.jsonl").read_text().splitlines()
    (out / "results.jsonl").write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # a crash mid-write
    res = run_sweep(onnx, grid, out, workers=1)
    assert (res.ran, res.skipped) == (1, 1)


def _wait_for(path: Path, seconds: float) -> None:
    t0 = time.monotonic()
    while not path.is_file() or not path.read_text().strip():
        if time.monotonic() - t0 > seconds:
            raise TimeoutError(f"{path} not written in {seconds} s")
        time.sleep(0.2)


def test_sweep_through_a_real_dask_scheduler(model, tmp_path):
    """``dask scheduler`` and ``dask worker`` as subprocesses on loopback; ``gatesmith sweep
    --scheduler`` (the CLI, in its own process) runs the points on that worker."""
    _, onnx = model
    dask = shutil.which("dask", path=str(BIN)) or shutil.which("dask")
    assert dask, "the dask command (distributed) is installed by make test"
    sched_file = tmp_path / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    sched = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                              "--scheduler-file", str(sched_file)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        _wait_for(sched_file, 60)
        addr = json.loads(sched_file.read_text())["address"]
        assert addr.startswith("tcp://127.0.0.1:")
        worker = subprocess.Popen([dask, "worker", addr, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                                   "--host", "127.0.0.1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        grid = _write(tmp_path / "sweep.toml", "[base]\nbackend = \"rtl\"\n[grid]\nboard = [\"pynq-z2\", \"zcu104\"]\n"
                                               "target_fps = [1e5, 1e6]\n")
        out = tmp_path / "sweep"
        cli = subprocess.Popen([str(BIN / "gatesmith"), "sweep", str(onnx), "--grid", str(grid), "-o", str(out),
                                "--scheduler", addr, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stdout, stderr = cli.communicate(timeout=600)
        assert cli.returncode == 0, stderr
        summary = json.loads(stdout)
        assert (summary["points"], summary["ran"], summary["failed"], summary["workers"]) == (4, 4, 0, 1)
        rows = read_journal(out / "results.jsonl")
        assert len(rows) == 4 and all(r["status"] == "ok" for r in rows.values())
        # every point ran in the worker process (not in the CLI): one pid, not the CLI's
        pids = {r["worker"].rsplit(":", 1)[1] for r in rows.values()}
        assert len(pids) == 1 and str(cli.pid) not in pids
        assert {(r["board"], r["target_fps"]) for r in rows.values()} == {
            ("pynq-z2", 1e5), ("pynq-z2", 1e6), ("zcu104", 1e5), ("zcu104", 1e6)}
    finally:
        for p in (worker, sched):
            if p is not None:
                p.terminate()
        for p in (worker, sched):
            if p is not None:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()


# --------------------------------------------------------------------------- the command line's errors


def test_sweep_cli_errors(model, tmp_path, capsys):
    _, onnx = model
    grid = _write(tmp_path / "sweep.toml", "[grid]\ntarget_fps = [1e5]\n")

    def err(*argv):
        assert main(["sweep", *map(str, argv)]) == 2
        e = capsys.readouterr().err
        assert e.count("\n") == 1 and "Traceback" not in e
        return e.strip()

    assert err(onnx, "--grid", tmp_path / "no.toml", "-o", tmp_path / "o1") == \
        f"gatesmith: error: --grid {str(tmp_path / 'no.toml')!r}: no such file"
    assert err(tmp_path / "no.onnx", "--grid", grid, "-o", tmp_path / "o2") == \
        f"gatesmith: error: {str(tmp_path / 'no.onnx')!r}: no such model file"
    assert err(onnx, "--grid", grid, "-o", tmp_path / "o3", "--workers", "0") == \
        "gatesmith: error: --workers 0: expected at least 1"
    bad = _write(tmp_path / "bad.toml", "[grid\n")
    assert err(onnx, "--grid", bad, "-o", tmp_path / "o4").startswith(
        f"gatesmith: error: --grid {str(bad)!r}: not valid TOML (")
    assert err(onnx, "--grid", grid, "-o", tmp_path / "o5", "--scheduler", "tcp://127.0.0.1:9") .startswith(
        "gatesmith: error: --scheduler 'tcp://127.0.0.1:9': cannot connect to a Dask scheduler")
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("mine")
    assert err(onnx, "--grid", grid, "-o", other) == \
        f"gatesmith: error: -o {str(other)!r} exists and is not a sweep directory (no sweep.json); use a new directory"
    for o in ("o1", "o2", "o3", "o4", "o5"):
        assert not (tmp_path / o).exists()  # nothing half-written
    # a sweep with progress forced on: points done / total, failures, rate on stderr; stdout unchanged
    out = tmp_path / "sw"
    grid2 = _write(tmp_path / "sweep2.toml", "[grid]\ntarget_fps = [1e5]\n[[point]]\nbudget = 0.0001\n")
    os.environ["GATESMITH_PROGRESS"] = "1"
    try:
        assert main(["sweep", str(onnx), "--grid", str(grid2), "-o", str(out), "--workers", "1"]) == 0
    finally:
        del os.environ["GATESMITH_PROGRESS"]
    cap = capsys.readouterr()
    assert "2/2 points" in cap.err and "1 failed" in cap.err and "/s" in cap.err, cap.err
    assert cap.out.startswith(f"swept {onnx.name}: 2 points, 2 run (1 failed), 0 already done;"), cap.out
    # a sweep directory of another model
    other_model = _write(tmp_path / "m2.onnx", "not the same model")
    assert "holds a sweep of another model" in err(other_model, "--grid", grid, "-o", out)


def test_pareto_page_is_deterministic_and_escapes_text(tmp_path):
    """The same rows in any order give the same bytes; an error text is HTML-escaped."""
    from gatesmith.sweep import write_pareto

    rows = [{"key": f"{i:016x}", "status": "ok", "design": f"points/{i:016x}", "board": "pynq-z2",
             "target_fps": 1e5 * (i + 1), "inferences_per_second": 1e5 * (i + 1), "cycles_per_inference": 1000 // (i + 1),
             "est_lut": 1000 * (i + 1) + (300 if i == 1 else 0), "est_dsp": i, "est_bram18": 2, "synth_lut": None}
            for i in range(4)]
    rows.append({"key": "f" * 16, "status": "failed", "design": "points/" + "f" * 16, "board": "pynq-z2",
                 "failed_step": "compile", "error": "layer '<script>x</script>' does not fit"})
    a = write_pareto(tmp_path, rows, model="m<1>.onnx").read_bytes()
    b = write_pareto(tmp_path, rows[::-1], model="m<1>.onnx").read_bytes()
    assert a == b
    page = a.decode()
    assert "<script>" not in page and "&lt;script&gt;" in page and "m&lt;1&gt;.onnx" in page
    assert page.count('xlink:href="points/') == 4 * 3  # every ok point in the LUT, DSP and BRAM18 plots


def test_example_grid_is_valid():
    from gatesmith.sweep import load_grid

    g = load_grid(Path(__file__).resolve().parents[1] / "examples" / "sweep.toml")
    assert len(g.points) == 13 and g.depth == ("estimate", "synth")
