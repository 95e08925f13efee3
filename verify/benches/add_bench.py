"""cocotb bench for ``gs_add`` (elementwise ``M_A*a + M_B*b`` of two streams).

Model (:func:`model`): lane by lane, ``M_A * a + M_B * b`` in exact integers;
the DUT's OUT_BITS-bit signed output must equal it for every element.

Tests: ``random_stalls`` (independent random gaps on s0 and s1 and random
backpressure, several profiles with long bursts, values over each type's
whole range with its extremes; every element and the beat counts checked)
and ``unstalled_timing`` (a beat pair every cycle, latency three cycles).

Configuration (``GATESMITH_BENCH`` JSON): ``params``, ``seed``, ``beats``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import cocotb

from gatesmith.verify.benches._common import IntKind, pack, random_of_kind, unpack
from gatesmith.verify.benches.dup_bench import (
    PAIR_INPUTS,
    assert_equal,
    each_profile,
    run_pair,
    unstalled_pair,
)

LATENCY = 3


def kind(params: dict, prefix: str) -> IntKind:
    """Element type of input ``A`` or ``B``."""
    if params[f"{prefix}_BIPOLAR"]:
        return IntKind(1, False, True)
    return IntKind(params[f"{prefix}_BITS"], bool(params[f"{prefix}_SIGNED"]))

def model(a: Sequence[int], b: Sequence[int], m_a: int, m_b: int) -> list[int]:
    return [m_a * x + m_b * y for x, y in zip(a, b)]


def _values(cfg: dict, salt: int, prefix: str, beats: int) -> list[int]:
    params = cfg["params"]
    return random_of_kind(random.Random(cfg["seed"] * 1000 + salt), kind(params, prefix), beats * params["PE"])


def _beats(values: Sequence[int], params: dict, prefix: str) -> list[int]:
    k, pe = kind(params, prefix), params["PE"]
    return [pack([k.encode(v) for v in values[i:i + pe]], params[f"{prefix}_BITS"])
            for i in range(0, len(values), pe)]


async def _run(dut, cfg: dict, salt: int, beats: int, profile: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> tuple:
    params = cfg["params"]
    a = _values(cfg, 2 * salt, "A", beats)
    b = _values(cfg, 2 * salt + 1, "B", beats)
    out_bits = params["OUT_BITS"]
    s0, s1, sink = await run_pair(dut, cfg["seed"] * 100 + salt, _beats(a, params, "A"), _beats(b, params, "B"),
                                  params["PE"] * out_bits, beats, profile)
    ok = IntKind(out_bits, True)
    got = [ok.decode(r) for w in sink.words for r in unpack(w, params["PE"], out_bits)]
    assert_equal(got, model(a, b, params["M_A"], params["M_B"]), "output elements")
    return s0, s1, sink


@cocotb.test()
async def random_stalls(dut):
    await each_profile(dut, PAIR_INPUTS, _run, "beats")


@cocotb.test()
async def unstalled_timing(dut):
    s0, s1, _ = await unstalled_pair(dut, _run, 24, LATENCY)
    assert s0.cycles == s1.cycles, "the two inputs were not taken in the same cycles"
