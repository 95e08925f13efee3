"""cocotb bench for ``gs_skid`` (AXI-Stream register slice).

Model: the output stream equals the input stream. Checked: every beat,
the beat count, the hold-while-stalled rule (in ``_common``), and, with no
stalls, one beat a cycle with a latency of exactly one cycle.

Configuration (``GATESMITH_BENCH`` JSON): ``params`` {WIDTH}, ``seed``,
``beats``, ``in_pause``, ``out_pause``.
"""

from __future__ import annotations

import random

import cocotb

from gatesmith.verify.benches._common import bench_config, random_values, stream_through

LATENCY = 1


def model(beats: list[int]) -> list[int]:
    """A register slice passes every beat through unchanged."""
    return list(beats)


def _inputs(cfg: dict) -> list[int]:
    width = cfg["params"]["WIDTH"]
    rng = random.Random(cfg["seed"])
    return random_values(rng, 0, (1 << width) - 1, cfg["beats"])


@cocotb.test()
async def random_stalls(dut):
    cfg = bench_config()
    beats = _inputs(cfg)
    res = await stream_through(
        dut, beats, len(beats), seed=cfg["seed"], in_pause=cfg["in_pause"], out_pause=cfg["out_pause"]
    )
    expected = model(beats)
    bad = [i for i, (g, e) in enumerate(zip(res.words, expected)) if g != e]
    assert not bad, f"{len(bad)} wrong beats, first at {bad[0]}: got {res.words[bad[0]]:#x}, expected {expected[bad[0]]:#x}"


@cocotb.test()
async def unstalled_timing(dut):
    cfg = bench_config()
    beats = _inputs(cfg)
    res = await stream_through(dut, beats, len(beats), seed=cfg["seed"], in_pause=0.0, out_pause=0.0)
    assert res.words == model(beats)
    first = res.in_cycles[0]
    assert res.in_cycles == list(range(first, first + len(beats))), "input not accepted every cycle"
    assert res.out_cycles == [c + LATENCY for c in res.in_cycles], "latency is not exactly one cycle"
