"""cocotb bench for ``gs_thresholds`` (multi-threshold requantizer).

Model (:func:`model`): ``out[c] = BASE + #{k : x[c] >= T[c][k]}`` with the
channel of lane p in beat i being ``(i mod (C/PE))*PE + p``. Thresholds are
read back from the ``THRESH_FILE`` written by :func:`write_threshold_file`
(mostly sorted rows, some unsorted, extremes of the T_BITS range included);
inputs mix the full input range with values at and next to thresholds.

Tests: ``random_stalls`` (random gaps and backpressure, every element and
the beat count checked) and ``unstalled_timing`` (one beat in and out per
cycle, latency exactly ``LATENCY``).

Configuration (``GATESMITH_BENCH`` JSON): ``params``, ``seed``, ``beats``,
``in_pause``, ``out_pause``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import cocotb

from gatesmith.verify.benches._common import (
    IntKind,
    bench_config,
    pack,
    random_values,
    read_memh,
    stream_through,
    unpack,
    write_memh,
)

LATENCY = 2


# ----------------------------------------------------------------------------- model

def model(xs: Sequence[int], channels: Sequence[int], thresholds: Sequence[Sequence[int]], base: int) -> list[int]:
    """Requantized value of every input element (``channels[i]`` is element i's channel)."""
    return [base + sum(1 for t in thresholds[c] if x >= t) for x, c in zip(xs, channels)]


def channel_of(index: int, params: dict) -> int:
    """Channel of stream element *index* (beat index // PE, lane index % PE)."""
    pe, cf = params["PE"], params["C"] // params["PE"]
    beat, lane = divmod(index, pe)
    return (beat % cf) * pe + lane


# ----------------------------------------------------------------------------- memory layout

def threshold_words(thresholds: Sequence[Sequence[int]], params: dict) -> list[int]:
    """Word n, bits [(p*N + k)*T_BITS +: T_BITS] = T[n*PE+p][k]."""
    pe, n_thr, tb = params["PE"], params["N"], params["T_BITS"]
    kind = IntKind(tb, True)
    return [
        pack([kind.encode(thresholds[n * pe + p][k]) for p in range(pe) for k in range(n_thr)], tb)
        for n in range(params["C"] // pe)
    ]


def read_thresholds(path: str | Path, params: dict) -> list[list[int]]:
    pe, n_thr, tb = params["PE"], params["N"], params["T_BITS"]
    kind = IntKind(tb, True)
    words = read_memh(path, pe * n_thr * tb)
    assert len(words) == params["C"] // pe, f"{path}: {len(words)} words, expected {params['C'] // pe}"
    thresholds = [[0] * n_thr for _ in range(params["C"])]
    for n, word in enumerate(words):
        raws = unpack(word, pe * n_thr, tb)
        for p in range(pe):
            for k in range(n_thr):
                thresholds[n * pe + p][k] = kind.decode(raws[p * n_thr + k])
    return thresholds


def write_threshold_file(path: str | Path, params: dict, seed: int) -> list[list[int]]:
    """Random thresholds: mostly sorted rows, some unsorted; the input range plus
    one step beyond it on either side (and the T_BITS extremes) are covered."""
    rng = random.Random(seed)
    tk = IntKind(params["T_BITS"], True)
    ik = IntKind(params["IN_BITS"], True)
    lo, hi = max(tk.min, ik.min - 2), min(tk.max, ik.max + 2)
    rows = []
    for c in range(params["C"]):
        style = c % 4
        if style == 3:
            row = random_values(rng, tk.min, tk.max, params["N"])          # unsorted, full range
        else:
            row = sorted(random_values(rng, lo, hi, params["N"]))
        rows.append(row)
    write_memh(path, threshold_words(rows, params), params["PE"] * params["N"] * params["T_BITS"])
    return rows


# ----------------------------------------------------------------------------- driving

def _elements(cfg: dict, thresholds: list[list[int]], count: int, salt: int) -> tuple[list[int], list[int]]:
    params = cfg["params"]
    ik = IntKind(params["IN_BITS"], True)
    rng = random.Random(cfg["seed"] * 1000 + salt)
    xs = random_values(rng, ik.min, ik.max, count)
    channels = [channel_of(i, params) for i in range(count)]
    for i in range(count):  # a third of the elements sit on or next to a threshold
        if rng.random() < 0.33:
            t = rng.choice(thresholds[channels[i]]) + rng.choice((-1, 0, 0, 1))
            xs[i] = min(max(t, ik.min), ik.max)
    return xs, channels


def _beats(xs: list[int], params: dict) -> list[int]:
    ik = IntKind(params["IN_BITS"], True)
    pe = params["PE"]
    return [pack([ik.encode(x) for x in xs[i:i + pe]], params["IN_BITS"]) for i in range(0, len(xs), pe)]


def _check(words: list[int], expected: list[int], params: dict) -> None:
    pe, ob = params["PE"], params["OUT_BITS"]
    ok = IntKind(ob, bool(params["OUT_SIGNED"]))
    got = [ok.decode(r) for w in words for r in unpack(w, pe, ob)]
    assert len(got) == len(expected), f"expected {len(expected)} elements, got {len(got)}"
    bad = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    assert not bad, f"{len(bad)} of {len(expected)} elements wrong; first (index, got, expected): {bad[:5]}"


@cocotb.test()
async def random_stalls(dut):
    cfg = bench_config()
    params = cfg["params"]
    thresholds = read_thresholds(params["THRESH_FILE"], params)
    xs, channels = _elements(cfg, thresholds, cfg["beats"] * params["PE"], 1)
    res = await stream_through(
        dut, _beats(xs, params), cfg["beats"],
        seed=cfg["seed"], in_pause=cfg["in_pause"], out_pause=cfg["out_pause"],
    )
    _check(res.words, model(xs, channels, thresholds, params["BASE"]), params)


@cocotb.test()
async def unstalled_timing(dut):
    cfg = bench_config()
    params = cfg["params"]
    thresholds = read_thresholds(params["THRESH_FILE"], params)
    beats = 3 * (params["C"] // params["PE"]) + 5
    xs, channels = _elements(cfg, thresholds, beats * params["PE"], 2)
    res = await stream_through(dut, _beats(xs, params), beats, seed=cfg["seed"], in_pause=0.0, out_pause=0.0)
    _check(res.words, model(xs, channels, thresholds, params["BASE"]), params)
    c0 = res.in_cycles[0]
    assert res.in_cycles == list(range(c0, c0 + beats)), f"input not taken every cycle: {res.in_cycles}"
    assert res.out_cycles == [c + LATENCY for c in res.in_cycles], f"outputs at {res.out_cycles}"
