"""cocotb bench for ``gs_vvu`` (depthwise vector-vector unit).

Model (:func:`model`): per output pixel, ``out[c] = sum_p W[c][p] * x[p][c]``
over the POS window positions, the input arriving position-major with PE
channels per beat (what gs_swg emits).  Weights are read back from the
``WEIGHT_FILE`` written by :func:`write_weight_file`.

Tests: ``random_stalls`` (random gaps and backpressure, every element and the
beat count checked) and ``unstalled_timing`` (an input beat every cycle).

Configuration (``GATESMITH_BENCH`` JSON): ``params``, ``seed``, ``pixels``,
``in_pause``, ``out_pause``.
"""

from __future__ import annotations

import random
from pathlib import Path

import cocotb

from gatesmith.verify.benches._common import (
    IntKind,
    bench_config,
    pack,
    random_of_kind,
    read_memh,
    stream_through,
    unpack,
    write_memh,
)


def _kind(params: dict, prefix: str) -> IntKind:
    if params[f"{prefix}_BIPOLAR"]:
        return IntKind(1, False, True)
    return IntKind(params[f"{prefix}_BITS"], bool(params[f"{prefix}_SIGNED"]))


def model(xs: list[list[list[int]]], weights: list[list[int]]) -> list[int]:
    """``xs[pixel][p][c]`` -> the flat list of outputs, pixel-major then channel."""
    out = []
    for px in xs:
        for c in range(len(weights)):
            out.append(sum(weights[c][p] * px[p][c] for p in range(len(px))))
    return out


def write_weight_file(path: str | Path, params: dict, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    wk = _kind(params, "W")
    pos, c, pe = params["POS"], params["C"], params["PE"]
    weights = [random_of_kind(rng, wk, pos) for _ in range(c)]
    words = [
        pack([wk.encode(weights[g * pe + k][p]) for k in range(pe)], params["W_BITS"])
        for p in range(pos)
        for g in range(c // pe)
    ]
    write_memh(path, words, pe * params["W_BITS"])
    return weights


def read_weights(path: str | Path, params: dict) -> list[list[int]]:
    wk = _kind(params, "W")
    pos, c, pe = params["POS"], params["C"], params["PE"]
    words = read_memh(path, pe * params["W_BITS"])
    assert len(words) == pos * (c // pe)
    weights = [[0] * pos for _ in range(c)]
    for p in range(pos):
        for g in range(c // pe):
            for k, raw in enumerate(unpack(words[p * (c // pe) + g], pe, params["W_BITS"])):
                weights[g * pe + k][p] = wk.decode(raw)
    return weights


def _pixels(cfg: dict, salt: int, count: int) -> list[list[list[int]]]:
    params = cfg["params"]
    rng = random.Random(cfg["seed"] * 1000 + salt)
    xk = _kind(params, "IN")
    return [[random_of_kind(rng, xk, params["C"]) for _ in range(params["POS"])] for _ in range(count)]


def _beats(xs: list[list[list[int]]], params: dict) -> list[int]:
    xk = _kind(params, "IN")
    pe = params["PE"]
    return [
        pack([xk.encode(v) for v in pos[g:g + pe]], params["IN_BITS"])
        for px in xs
        for pos in px
        for g in range(0, params["C"], pe)
    ]


def _check(words: list[int], expected: list[int], params: dict) -> None:
    ok = IntKind(params["ACC_BITS"], True)
    got = [ok.decode(r) for w in words for r in unpack(w, params["PE"], params["ACC_BITS"])]
    assert len(got) == len(expected), f"expected {len(expected)} elements, got {len(got)}"
    bad = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    assert not bad, f"{len(bad)} of {len(expected)} elements wrong; first (index, got, expected): {bad[:5]}"


@cocotb.test()
async def random_stalls(dut):
    cfg = bench_config()
    params = cfg["params"]
    weights = read_weights(params["WEIGHT_FILE"], params)
    xs = _pixels(cfg, 1, cfg["pixels"])
    out_beats = cfg["pixels"] * params["C"] // params["PE"]
    res = await stream_through(dut, _beats(xs, params), out_beats,
                               seed=cfg["seed"], in_pause=cfg["in_pause"], out_pause=cfg["out_pause"])
    _check(res.words, model(xs, weights), params)


@cocotb.test()
async def unstalled_timing(dut):
    cfg = bench_config()
    params = cfg["params"]
    weights = read_weights(params["WEIGHT_FILE"], params)
    xs = _pixels(cfg, 2, 4)
    beats = _beats(xs, params)
    res = await stream_through(dut, beats, 4 * params["C"] // params["PE"], seed=cfg["seed"],
                               in_pause=0.0, out_pause=0.0)
    _check(res.words, model(xs, weights), params)
    c0 = res.in_cycles[0]
    assert res.in_cycles == list(range(c0, c0 + len(beats))), f"input not taken every cycle: {res.in_cycles}"
