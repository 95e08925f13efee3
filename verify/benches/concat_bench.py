"""cocotb bench for ``gs_concat`` (channel concatenation of two pixel streams).

Model (:func:`model`): per pixel, the CA channels of s0 then the CB channels
of s1, PE elements a beat. Beyond the output, the order of the input
handshakes is checked: per pixel, the CA/PE beats of s0 and then the CB/PE
beats of s1, never both inputs in one cycle (an input is read only on its
turn). Pixel mode (PE = CA + CB): s0 carries CA elements a beat, s1 CB, one
beat of each a pixel, read independently (each input's beat k before the
output's beat k).

Tests: ``random_stalls`` (independent random gaps on both inputs and random
backpressure, several profiles with long bursts; every element, the beat
counts and the handshake order checked) and ``unstalled_timing`` (a beat every
cycle on the output, across the switches between inputs; latency one cycle,
two in pixel mode).

Configuration (``GATESMITH_BENCH`` JSON): ``params`` {CA, CB, PE, ELEM_BITS},
``seed``, ``pixels``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import cocotb

from gatesmith.verify.benches._common import bench_config, pack, random_values, unpack
from gatesmith.verify.benches.dup_bench import (
    PAIR_INPUTS,
    assert_equal,
    each_profile,
    run_pair,
    unstalled_pair,
)

def model(xa: Sequence[Sequence[int]], xb: Sequence[Sequence[int]]) -> list[int]:
    """``xa[pixel]`` (CA channels), ``xb[pixel]`` (CB channels) -> the flat output elements."""
    return [v for a, b in zip(xa, xb) for v in list(a) + list(b)]


def _pixels(cfg: dict, salt: int, count: int, channels: int) -> list[list[int]]:
    rng = random.Random(cfg["seed"] * 1000 + salt)
    hi = (1 << cfg["params"]["ELEM_BITS"]) - 1
    return [random_values(rng, 0, hi, channels) for _ in range(count)]


def pixel_mode(params: dict) -> bool:
    """PE = CA + CB: a whole pixel a beat, each input one beat a pixel."""
    return params["PE"] == params["CA"] + params["CB"]


def _beats(pixels: Sequence[Sequence[int]], params: dict) -> list[int]:
    pe = len(pixels[0]) if pixel_mode(params) else params["PE"]
    return [pack(px[g:g + pe], params["ELEM_BITS"]) for px in pixels for g in range(0, len(px), pe)]


async def _run(dut, cfg: dict, salt: int, pixels: int, profile: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> tuple:
    params = cfg["params"]
    xa = _pixels(cfg, 2 * salt, pixels, params["CA"])
    xb = _pixels(cfg, 2 * salt + 1, pixels, params["CB"])
    pixel = pixel_mode(params)
    ga, gb = (1, 1) if pixel else (params["CA"] // params["PE"], params["CB"] // params["PE"])
    s0, s1, sink = await run_pair(dut, cfg["seed"] * 100 + salt, _beats(xa, params), _beats(xb, params),
                                  params["PE"] * params["ELEM_BITS"], pixels if pixel else (ga + gb) * pixels, profile)
    got = [v for w in sink.words for v in unpack(w, params["PE"], params["ELEM_BITS"])]
    assert_equal(got, model(xa, xb), "output elements")
    if pixel:  # both inputs read independently; output pixel k after both of its input beats
        for k, c in enumerate(sink.cycles):
            assert s0.cycles[k] < c and s1.cycles[k] < c, f"pixel {k} left before both of its halves arrived"
        return s0, s1, sink
    # the input handshakes, in cycle order: s0's beats of a pixel, then s1's
    assert not set(s0.cycles) & set(s1.cycles), "both inputs taken in one cycle"
    order = [which for _, which in sorted([(c, 0) for c in s0.cycles] + [(c, 1) for c in s1.cycles])]
    assert order == ([0] * ga + [1] * gb) * pixels, f"inputs read out of turn: {order[:40]}"
    return s0, s1, sink


@cocotb.test()
async def random_stalls(dut):
    await each_profile(dut, PAIR_INPUTS, _run, "pixels")


@cocotb.test()
async def unstalled_timing(dut):
    await unstalled_pair(dut, _run, 4, 2 if pixel_mode(bench_config()["params"]) else 1)
