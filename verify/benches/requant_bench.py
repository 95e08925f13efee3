"""cocotb bench for ``gs_requant`` (dyadic / shift requantizer).

Model (:func:`model`), exact with integers and :class:`fractions.Fraction`:
``t = x*M[c] + B[c]`` (``M[c] = 1`` when USE_MULT=0), ``q = round(t / 2^SHIFT)``
in the ROUNDING mode (:data:`ROUNDING_MODES`, the formulas of qonnx's
``resolve_rounding_mode`` evaluated exactly: :func:`round_rational`),
``out = clamp(q, LO, HI)``. :func:`round_rational` is checked against the
numpy/qonnx functions on exactly representable values by the pytest side.

M and B are read back from the ``PARAM_FILE`` written by
:func:`write_param_file` (per channel, negative values and extremes included).

Tests: ``random_stalls`` and ``unstalled_timing`` (II=1, latency ``LATENCY``).

Configuration (``GATESMITH_BENCH`` JSON): ``params``, ``seed``, ``beats``,
``in_pause``, ``out_pause``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from fractions import Fraction
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
from gatesmith.verify.benches.thresholds_bench import channel_of

LATENCY = 3

ROUNDING_MODES = ("ROUND", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN")
"""ROUNDING parameter value -> qonnx rounding mode name."""


# ----------------------------------------------------------------------------- model

def _sign(v: Fraction) -> int:
    return (v > 0) - (v < 0)


def round_rational(value: Fraction, mode: str) -> int:
    """Round *value* exactly the way qonnx's numpy function for *mode* would."""
    if mode == "ROUND":            # np.round: half to even
        fl = math.floor(value)
        rem = value - fl
        if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2):
            return fl + 1
        return fl
    if mode == "CEIL":
        return math.ceil(value)
    if mode == "FLOOR":
        return math.floor(value)
    if mode == "UP":               # sign(x) * ceil(|x|)
        return _sign(value) * math.ceil(abs(value))
    if mode == "DOWN":             # np.fix
        return _sign(value) * math.floor(abs(value))
    if mode == "HALF_UP":          # sign(x) * floor(|x| + 0.5)
        return _sign(value) * math.floor(abs(value) + Fraction(1, 2))
    if mode == "HALF_DOWN":        # sign(x) * ceil(|x| - 0.5)
        return _sign(value) * math.ceil(abs(value) - Fraction(1, 2))
    raise ValueError(f"unknown rounding mode {mode!r}; expected one of {ROUNDING_MODES}")


def requant(x: int, m: int, b: int, params: dict) -> int:
    """One element: clamp(round((x*m + b) / 2^SHIFT), LO, HI)."""
    t = x * (m if params["USE_MULT"] else 1) + b
    q = round_rational(Fraction(t, 1 << params["SHIFT"]), ROUNDING_MODES[params["ROUNDING"]])
    return min(max(q, params["LO"]), params["HI"])


def model(xs: Sequence[int], channels: Sequence[int], ms: Sequence[int], bs: Sequence[int], params: dict) -> list[int]:
    return [requant(x, ms[c], bs[c], params) for x, c in zip(xs, channels)]


# ----------------------------------------------------------------------------- memory layout

def param_words(ms: Sequence[int], bs: Sequence[int], params: dict) -> list[int]:
    """Lane p of word n: B at [p*(M_BITS+B_BITS) +: B_BITS], M above it."""
    pe, mb, bb = params["PE"], params["M_BITS"], params["B_BITS"]
    mk, bk = IntKind(mb, True), IntKind(bb, True)
    return [
        pack([bk.encode(bs[n * pe + p]) | (mk.encode(ms[n * pe + p]) << bb) for p in range(pe)], mb + bb)
        for n in range(params["C"] // pe)
    ]


def read_params(path: str | Path, params: dict) -> tuple[list[int], list[int]]:
    pe, mb, bb = params["PE"], params["M_BITS"], params["B_BITS"]
    mk, bk = IntKind(mb, True), IntKind(bb, True)
    words = read_memh(path, pe * (mb + bb))
    assert len(words) == params["C"] // pe, f"{path}: {len(words)} words, expected {params['C'] // pe}"
    ms, bs = [0] * params["C"], [0] * params["C"]
    for n, word in enumerate(words):
        for p, lane in enumerate(unpack(word, pe, mb + bb)):
            bs[n * pe + p] = bk.decode(lane)
            ms[n * pe + p] = mk.decode(lane >> bb)
    return ms, bs


def write_param_file(path: str | Path, params: dict, seed: int) -> tuple[list[int], list[int]]:
    """Random per-channel M and B over their whole signed ranges (extremes included)."""
    rng = random.Random(seed)
    mk, bk = IntKind(params["M_BITS"], True), IntKind(params["B_BITS"], True)
    ms = random_values(rng, mk.min, mk.max, params["C"])
    bs = random_values(rng, bk.min, bk.max, params["C"])
    write_memh(path, param_words(ms, bs, params), params["PE"] * (params["M_BITS"] + params["B_BITS"]))
    return ms, bs


# ----------------------------------------------------------------------------- driving

def _elements(cfg: dict, count: int, salt: int) -> tuple[list[int], list[int]]:
    params = cfg["params"]
    ik = IntKind(params["IN_BITS"], True)
    rng = random.Random(cfg["seed"] * 1000 + salt)
    return random_values(rng, ik.min, ik.max, count), [channel_of(i, params) for i in range(count)]


def _beats(xs: list[int], params: dict) -> list[int]:
    ik = IntKind(params["IN_BITS"], True)
    pe = params["PE"]
    return [pack([ik.encode(x) for x in xs[i:i + pe]], params["IN_BITS"]) for i in range(0, len(xs), pe)]


def _check(words: list[int], expected: list[int], xs: list[int], params: dict) -> None:
    pe, ob = params["PE"], params["OUT_BITS"]
    ok = IntKind(ob, bool(params["OUT_SIGNED"]))
    got = [ok.decode(r) for w in words for r in unpack(w, pe, ob)]
    assert len(got) == len(expected), f"expected {len(expected)} elements, got {len(got)}"
    bad = [(i, xs[i], g, e) for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    assert not bad, f"{len(bad)} of {len(expected)} elements wrong; first (index, x, got, expected): {bad[:5]}"


@cocotb.test()
async def random_stalls(dut):
    cfg = bench_config()
    params = cfg["params"]
    ms, bs = read_params(params["PARAM_FILE"], params)
    xs, channels = _elements(cfg, cfg["beats"] * params["PE"], 1)
    res = await stream_through(
        dut, _beats(xs, params), cfg["beats"],
        seed=cfg["seed"], in_pause=cfg["in_pause"], out_pause=cfg["out_pause"],
    )
    _check(res.words, model(xs, channels, ms, bs, params), xs, params)


@cocotb.test()
async def unstalled_timing(dut):
    cfg = bench_config()
    params = cfg["params"]
    ms, bs = read_params(params["PARAM_FILE"], params)
    beats = 3 * (params["C"] // params["PE"]) + 5
    xs, channels = _elements(cfg, beats * params["PE"], 2)
    res = await stream_through(dut, _beats(xs, params), beats, seed=cfg["seed"], in_pause=0.0, out_pause=0.0)
    _check(res.words, model(xs, channels, ms, bs, params), xs, params)
    c0 = res.in_cycles[0]
    assert res.in_cycles == list(range(c0, c0 + beats)), f"input not taken every cycle: {res.in_cycles}"
    assert res.out_cycles == [c + LATENCY for c in res.in_cycles], f"outputs at {res.out_cycles}"
