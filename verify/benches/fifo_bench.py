"""cocotb bench for ``gs_fifo`` (AXI-Stream FIFO).

Model: the output stream equals the input stream. Checked: every beat,
the beat count, the hold-while-stalled rule (in ``_common``), and, with no
stalls, one beat a cycle with a latency of exactly one cycle; with the sink
blocked, exactly DEPTH beats are accepted (``fill_then_drain``).

Configuration (``GATESMITH_BENCH`` JSON): ``params`` {WIDTH, DEPTH}, ``seed``,
``beats``, ``in_pause``, ``out_pause``.
"""

from __future__ import annotations

import random

import cocotb

from gatesmith.verify.benches._common import bench_config, random_values, stream_through

LATENCY = 1


def model(beats: list[int]) -> list[int]:
    """A FIFO (or register slice) passes every beat through unchanged."""
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


@cocotb.test()
async def fill_then_drain(dut):
    """Sink blocked until the FIFO is full: exactly DEPTH beats are accepted, then
    everything comes out in order."""
    from cocotb.triggers import ClockCycles, RisingEdge
    from gatesmith.verify.benches._common import start

    cfg = bench_config()
    depth = cfg["params"]["DEPTH"]
    width = cfg["params"]["WIDTH"]
    rng = random.Random(cfg["seed"] + 7)
    beats = random_values(rng, 0, (1 << width) - 1, depth + 3)
    dut.m_axis_tready.value = 0
    dut.s_axis_tvalid.value = 0
    await start(dut)
    accepted = 0
    dut.s_axis_tdata.value = beats[0]
    dut.s_axis_tvalid.value = 1
    for _ in range(3 * depth + 10):
        await RisingEdge(dut.clk)
        if int(dut.s_axis_tready.value) and int(dut.s_axis_tvalid.value):
            accepted += 1
            if accepted == len(beats):
                dut.s_axis_tvalid.value = 0
            else:
                dut.s_axis_tdata.value = beats[accepted]
    assert accepted == depth, f"a DEPTH={depth} FIFO accepted {accepted} beats while blocked"
    dut.s_axis_tvalid.value = 0
    dut.m_axis_tready.value = 1
    got = []
    for _ in range(depth + 10):
        await RisingEdge(dut.clk)
        if int(dut.m_axis_tvalid.value):
            got.append(int(dut.m_axis_tdata.value))
    assert got == beats[:depth]
    await ClockCycles(dut.clk, 2)
