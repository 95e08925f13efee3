"""cocotb bench for ``gs_mvu`` (streaming matrix-vector unit).

Model (:func:`model`): ``out[v][r] = sum_c W[r][c] * x[v][c]`` on decoded
integers (bipolar bit -> +-1), exact. The bench reads the weights back from
the ``WEIGHT_FILE`` the pytest side wrote (:func:`write_weight_file`), so the
memory layout is checked as well.

Tests:
* ``random_stalls`` -- ``vectors`` random vectors back to back, random input
  gaps and output backpressure; every output element and the beat count checked.
* ``unstalled_timing`` -- no stalls: input beats of vector v are accepted in
  cycles ``c0 + v*NF*SF + s`` and output beat n of vector v is taken in cycle
  ``c0 + v*NF*SF + n*SF + SF-1 + LATENCY`` (so NF*SF cycles per vector).

``MEM_STYLE = "ultra"`` (top ``gs_mvu_wl``): the weight RAM has no initial
contents (and the simulator starts it random), so both tests first write every
word of the weight file through the load port (``wl_valid``/``wl_addr``/
``wl_data``) in address order with random gaps (:func:`load_weights`).

Configuration (``GATESMITH_BENCH`` JSON): ``params`` (the HDL parameters),
``seed``, ``vectors``, ``in_pause``, ``out_pause``.
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
    random_of_kind,
    read_memh,
    stream_through,
    unpack,
    write_memh,
)

LATENCY = 3
"""Cycles from issuing a fold's last slice to its output beat being valid."""


# ----------------------------------------------------------------------------- model

def kinds(params: dict) -> tuple[IntKind, IntKind]:
    """Input and weight encodings from the HDL parameters."""
    in_kind = IntKind(params["IN_BITS"], bool(params["IN_SIGNED"]), bool(params["IN_BIPOLAR"]))
    w_kind = IntKind(params["W_BITS"], bool(params["W_SIGNED"]), bool(params["W_BIPOLAR"]))
    return in_kind, w_kind


def model(weights: Sequence[Sequence[int]], vectors: Sequence[Sequence[int]]) -> list[list[int]]:
    """Exact ``W . x`` for every vector."""
    return [[sum(w * x for w, x in zip(row, vec)) for row in weights] for vec in vectors]


def acc_bits_for(mw: int, in_kind: IntKind, w_kind: IntKind) -> int:
    """Smallest signed width holding any dot product of length *mw*."""
    lo = hi = 0
    for _ in range(mw):
        prods = [a * b for a in (in_kind.min, in_kind.max) for b in (w_kind.min, w_kind.max)]
        lo += min(prods)
        hi += max(prods)
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def pack_pair(x: int, w0: int, w1: int, params: dict) -> tuple[int, int]:
    """``MUL_STYLE = "pack"`` bit for bit: one product ``P = {w1 - borrow, w0} * x`` of the
    packed weight operand, split into ``(w0*x, w1*x)`` as ``gs_mvu.v``'s ``g_pack`` does
    (``PS = XE + WE``; low PS bits sign-extended, the rest plus the low part's sign)."""
    xe = params["IN_BITS"] + (0 if params["IN_SIGNED"] else 1)
    we = params["W_BITS"] + (0 if params["W_SIGNED"] else 1)
    ps, ph = xe + we, we + (1 if params["W_SIGNED"] else 0)
    hi = (w1 - (w0 < 0)) & ((1 << ph) - 1)
    wp = _signed((hi << ps) | (w0 & ((1 << ps) - 1)), ps + ph)
    pp = (wp * x) & ((1 << (ps + ph + xe)) - 1)
    p0 = _signed(pp & ((1 << ps) - 1), ps)
    p1 = _signed(((pp >> ps) + (p0 < 0)) & ((1 << ps) - 1), ps)
    return p0, p1


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


# ----------------------------------------------------------------------------- memory layout

def weight_words(weights: Sequence[Sequence[int]], params: dict) -> list[int]:
    """ROM words: address n*SF+s, bits [(p*SIMD+k)*W_BITS +: W_BITS] = W[n*PE+p][s*SIMD+k]."""
    pe, simd, mw, mh = params["PE"], params["SIMD"], params["MW"], params["MH"]
    _, w_kind = kinds(params)
    sf, nf = mw // simd, mh // pe
    words = []
    for n in range(nf):
        for s in range(sf):
            raws = [
                w_kind.encode(weights[n * pe + p][s * simd + k])
                for p in range(pe)
                for k in range(simd)
            ]
            words.append(pack(raws, params["W_BITS"]))
    return words


def read_weights(path: str | Path, params: dict) -> list[list[int]]:
    """Inverse of :func:`weight_words` applied to a memory file."""
    pe, simd, mw, mh = params["PE"], params["SIMD"], params["MW"], params["MH"]
    _, w_kind = kinds(params)
    sf, nf = mw // simd, mh // pe
    words = read_memh(path, pe * simd * params["W_BITS"])
    assert len(words) == nf * sf, f"{path}: {len(words)} words, expected {nf * sf}"
    weights = [[0] * mw for _ in range(mh)]
    for n in range(nf):
        for s in range(sf):
            raws = unpack(words[n * sf + s], pe * simd, params["W_BITS"])
            for p in range(pe):
                for k in range(simd):
                    weights[n * pe + p][s * simd + k] = w_kind.decode(raws[p * simd + k])
    return weights


def write_weight_file(path: str | Path, params: dict, seed: int) -> list[list[int]]:
    """Random weights over the whole weight range (extremes included), written to *path*."""
    _, w_kind = kinds(params)
    rng = random.Random(seed)
    flat = random_of_kind(rng, w_kind, params["MH"] * params["MW"])
    weights = [flat[r * params["MW"]:(r + 1) * params["MW"]] for r in range(params["MH"])]
    write_memh(path, weight_words(weights, params), params["PE"] * params["SIMD"] * params["W_BITS"])
    return weights


# ----------------------------------------------------------------------------- driving

def _loader(cfg: dict):
    """``after_reset`` of :func:`stream_through`: None, or (MEM_STYLE "ultra") the weight load."""
    params = cfg["params"]
    if params.get("MEM_STYLE") != "ultra":
        return None
    words = read_memh(params["WEIGHT_FILE"], params["PE"] * params["SIMD"] * params["W_BITS"])

    async def load(dut):
        await load_weights(dut, words, random.Random(cfg["seed"] * 7 + 3), cfg.get("in_pause", 0.0))
    return load


async def load_weights(dut, words: list[int], rng: random.Random, pause: float) -> None:
    """Write ``words`` to addresses 0.. through ``gs_mvu_wl``'s load port, one a cycle, with an
    idle cycle before a word with probability ``pause``; ``wl_valid`` low afterwards."""
    from cocotb.triggers import RisingEdge

    dut.wl_valid.value = 0
    for addr, w in enumerate(words):
        while pause > 0 and rng.random() < pause:
            dut.wl_valid.value = 0
            await RisingEdge(dut.clk)
        dut.wl_valid.value = 1
        dut.wl_addr.value = addr
        dut.wl_data.value = w
        await RisingEdge(dut.clk)
    dut.wl_valid.value = 0
    await RisingEdge(dut.clk)


def _vectors(cfg: dict, count: int, salt: int) -> list[list[int]]:
    params = cfg["params"]
    in_kind, _ = kinds(params)
    rng = random.Random(cfg["seed"] * 1000 + salt)
    flat = random_of_kind(rng, in_kind, count * params["MW"])
    return [flat[v * params["MW"]:(v + 1) * params["MW"]] for v in range(count)]


def _in_beats(vectors: list[list[int]], params: dict) -> list[int]:
    in_kind, _ = kinds(params)
    simd = params["SIMD"]
    beats = []
    for vec in vectors:
        for s in range(params["MW"] // simd):
            beats.append(pack([in_kind.encode(x) for x in vec[s * simd:(s + 1) * simd]], params["IN_BITS"]))
    return beats


def _check(words: list[int], expected: list[list[int]], params: dict) -> None:
    pe, acc = params["PE"], params["ACC_BITS"]
    out_kind = IntKind(acc, True)
    nf = params["MH"] // pe
    assert len(words) == len(expected) * nf, f"expected {len(expected) * nf} beats, got {len(words)}"
    bad = []
    for v, exp in enumerate(expected):
        for n in range(nf):
            got = [out_kind.decode(r) for r in unpack(words[v * nf + n], pe, acc)]
            for p in range(pe):
                if got[p] != exp[n * pe + p]:
                    bad.append((v, n * pe + p, got[p], exp[n * pe + p]))
    assert not bad, (
        f"{len(bad)} of {len(expected) * params['MH']} outputs wrong; first (vector, row, got, expected): {bad[:5]}"
    )


def _setup(cfg: dict) -> list[list[int]]:
    params = cfg["params"]
    weights = read_weights(params["WEIGHT_FILE"], params)
    in_kind, w_kind = kinds(params)
    need = acc_bits_for(params["MW"], in_kind, w_kind)
    assert params["ACC_BITS"] >= need, f"ACC_BITS={params['ACC_BITS']} < {need} needed"
    return weights


@cocotb.test()
async def random_stalls(dut):
    cfg = bench_config()
    params = cfg["params"]
    weights = _setup(cfg)
    vectors = _vectors(cfg, cfg["vectors"], 1)
    nf = params["MH"] // params["PE"]
    res = await stream_through(
        dut, _in_beats(vectors, params), len(vectors) * nf,
        seed=cfg["seed"], in_pause=cfg["in_pause"], out_pause=cfg["out_pause"], after_reset=_loader(cfg),
    )
    _check(res.words, model(weights, vectors), params)


@cocotb.test()
async def unstalled_timing(dut):
    cfg = bench_config()
    params = cfg["params"]
    weights = _setup(cfg)
    vectors = _vectors(cfg, 4, 2)
    sf = params["MW"] // params["SIMD"]
    nf = params["MH"] // params["PE"]
    res = await stream_through(dut, _in_beats(vectors, params), len(vectors) * nf, seed=cfg["seed"], in_pause=0.0,
                               out_pause=0.0, after_reset=_loader(cfg))
    _check(res.words, model(weights, vectors), params)
    c0 = res.in_cycles[0]
    want_in = [c0 + v * nf * sf + s for v in range(len(vectors)) for s in range(sf)]
    want_out = [c0 + v * nf * sf + n * sf + sf - 1 + LATENCY for v in range(len(vectors)) for n in range(nf)]
    assert res.in_cycles == want_in, f"input handshakes {res.in_cycles}, expected {want_in}"
    assert res.out_cycles == want_out, f"output handshakes {res.out_cycles}, expected {want_out}"
