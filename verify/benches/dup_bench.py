"""cocotb bench for ``gs_dup`` (stream duplicator), and the multi-stream driver
shared with the other branch-core benches (``add_bench``, ``concat_bench``).

Driver (:func:`run_streams`): a single per-cycle loop that drives any number
of AXI-Stream sources and sinks of one DUT, including sinks that are one lane
of a vector port (``gs_dup``'s ``m_axis_tvalid[k]``). Sources insert random
gaps, sinks random backpressure (each from its own seeded pattern, see
:func:`stalls`, with long bursts); every handshake is recorded with its cycle,
and every sink is checked for the hold-while-stalled rule (tvalid and tdata
stay while tvalid && !tready).

Model (:func:`model`): every output stream equals the input stream.

Tests: ``random_stalls`` (several gap/backpressure profiles, independent per
output; every beat and the beat counts checked), ``unstalled_timing`` (a beat
every cycle on every port, latency one cycle) and ``independent_progress``
(while output k is held not ready, every other output still receives the two
beats its register slice holds, and the rest once output k is released).

Configuration (``GATESMITH_BENCH`` JSON): ``params`` {WIDTH, N}, ``seed``, ``beats``.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cocotb

from gatesmith.verify.benches._common import bench_config, random_values, start

# (input gap probability, output stall probability, probability of a long burst)
PROFILES = [
    (0.0, 0.5, 0.0),
    (0.5, 0.0, 0.0),
    (0.3, 0.3, 0.02),
    (0.6, 0.8, 0.01),
    (0.1, 0.2, 0.05),
]

PAIR_INPUTS = ["s0_axis", "s1_axis"]
"""The input ports of a two-input core (see :func:`run_pair`)."""

SLICE_BEATS = 2
"""Beats one gs_skid register slice holds."""


def stalls(seed: int, probability: float, burst: float = 0.0, burst_len: tuple[int, int] = (10, 40)) -> Iterator[bool]:
    """Endless seeded pattern, True = stall this cycle: independent stalls of
    *probability*, and with probability *burst* a run of ``burst_len`` stalls."""
    rng = random.Random(seed)
    while True:
        if burst and rng.random() < burst:
            yield from itertools.repeat(True, rng.randint(*burst_len))
        else:
            yield rng.random() < probability


@dataclass
class Source:
    """An AXI-Stream source on port *prefix* (``<prefix>_tdata/tvalid/tready``)."""

    prefix: str
    beats: Sequence[int]
    gaps: Iterator[bool] = field(default_factory=lambda: itertools.repeat(False))
    cycles: list[int] = field(default_factory=list)
    sent: int = 0
    showing: bool = False


@dataclass
class Sink:
    """An AXI-Stream sink on lane *lane* of port *prefix* (tdata bits
    ``[lane*width +: width]``, tvalid/tready bit *lane*); expects *count* beats."""

    prefix: str
    width: int
    count: int
    lane: int = 0
    backpressure: Iterator[bool] = field(default_factory=lambda: itertools.repeat(False))
    words: list[int] = field(default_factory=list)
    cycles: list[int] = field(default_factory=list)
    ready: bool = False
    held: int | None = None


async def run_streams(dut, sources: Sequence[Source], sinks: Sequence[Sink], *,
                      timeout_cycles: int | None = None, idle_cycles: int = 20) -> None:
    """Drive *sources* and *sinks* until every sink has its ``count`` beats,
    then *idle_cycles* more; fail on a timeout, an extra output beat, an input
    beat not consumed, or a broken hold-while-stalled rule. Handshake cycles
    count from the first rising edge after this call starts (the DUT must be
    out of reset)."""
    from cocotb.triggers import RisingEdge

    if timeout_cycles is None:
        timeout_cycles = 400 + 40 * max([len(s.beats) for s in sources] + [s.count for s in sinks])
    ports = {p: (getattr(dut, f"{p}_tdata"), getattr(dut, f"{p}_tvalid"), getattr(dut, f"{p}_tready"))
             for p in {s.prefix for s in sources} | {s.prefix for s in sinks}}
    ready_ports = sorted({s.prefix for s in sinks})

    def drive() -> None:
        for src in sources:
            data, valid, _ = ports[src.prefix]
            if not src.showing and src.sent < len(src.beats) and not next(src.gaps):
                data.value = src.beats[src.sent]
                src.showing = True
            valid.value = int(src.showing)
        for snk in sinks:
            snk.ready = not next(snk.backpressure)
        for p in ready_ports:
            ports[p][2].value = sum(int(s.ready) << s.lane for s in sinks if s.prefix == p)

    errors: list[str] = []
    drive()
    cycle = 0
    done_at = None
    while done_at is None or cycle < done_at + idle_cycles:
        await RisingEdge(dut.clk)
        for src in sources:
            if src.showing and int(ports[src.prefix][2].value):
                src.cycles.append(cycle)
                src.sent += 1
                src.showing = False
        for snk in sinks:
            data, valid, _ = ports[snk.prefix]
            v = (int(valid.value) >> snk.lane) & 1
            d = (int(data.value) >> (snk.lane * snk.width)) & ((1 << snk.width) - 1)
            if snk.held is not None and (not v or d != snk.held):
                errors.append(f"cycle {cycle}: {snk.prefix}[{snk.lane}] tvalid/tdata changed while stalled")
            if v and snk.ready:
                snk.words.append(d)
                snk.cycles.append(cycle)
            snk.held = d if (v and not snk.ready) else None
        cycle += 1
        if done_at is None and all(len(s.words) >= s.count for s in sinks):
            done_at = cycle
        assert done_at is not None or cycle <= timeout_cycles, (
            f"timeout after {cycle} cycles: sinks got {[len(s.words) for s in sinks]} of "
            f"{[s.count for s in sinks]} beats, sources sent {[s.sent for s in sources]} of "
            f"{[len(s.beats) for s in sources]}"
        )
        drive()
    for src in sources:
        ports[src.prefix][1].value = 0
    assert not errors, "AXI-Stream protocol errors:\n" + "\n".join(errors[:10])
    for snk in sinks:
        assert len(snk.words) == snk.count, (
            f"{snk.prefix}[{snk.lane}]: expected {snk.count} beats, got {len(snk.words)}")
    for src in sources:
        assert src.sent == len(src.beats), f"{src.prefix}: {src.sent} of {len(src.beats)} beats consumed"


async def reset(dut, inputs: Sequence[str], cycles: int = 3) -> None:
    """Pulse the active-low reset with the clock already running, with the
    tvalid of every input port (prefixes *inputs*) low from now on."""
    from cocotb.triggers import RisingEdge

    for prefix in inputs:
        getattr(dut, f"{prefix}_tvalid").value = 0
    dut.rst_n.value = 0
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst_n.value = 1
    await RisingEdge(dut.clk)


async def each_profile(dut, inputs: Sequence[str], run, size_key: str) -> None:
    """Start the clock, then for every entry ``profile = (gap, stall, burst)`` of
    :data:`PROFILES`: reset (inputs *inputs* idle) and
    ``await run(dut, cfg, i, cfg[size_key], profile)`` with the bench configuration."""
    cfg = bench_config()
    await start(dut)
    for i, profile in enumerate(PROFILES):
        await reset(dut, inputs)
        await run(dut, cfg, i, cfg[size_key], profile)


async def run_pair(dut, seed: int, beats0: Sequence[int], beats1: Sequence[int], out_width: int,
                   out_count: int, profile: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> tuple:
    """Drive *beats0* into ``s0_axis`` and *beats1* into ``s1_axis`` (independent
    gaps) and collect *out_count* beats of ``m_axis`` (backpressure), with the
    ``(gap, stall, burst)`` *profile*; patterns seeded from *seed*. Returns the
    sources and the sink."""
    gap, stall, burst = profile
    s0 = Source("s0_axis", beats0, stalls(3 * seed, gap, burst))
    s1 = Source("s1_axis", beats1, stalls(3 * seed + 1, gap, burst))
    sink = Sink("m_axis", out_width, out_count, backpressure=stalls(3 * seed + 2, stall, burst))
    await run_streams(dut, [s0, s1], [sink])
    return s0, s1, sink


async def unstalled_pair(dut, run, count: int, latency: int) -> tuple:
    """``run(dut, cfg, salt, count)`` of a two-input core with no gaps and no
    backpressure; checks one input handshake every cycle (on either input), one
    output beat every cycle, and the first output *latency* cycles after the
    first input. Returns what *run* returned (sources and sink)."""
    cfg = bench_config()
    await start(dut)
    await reset(dut, PAIR_INPUTS)
    s0, s1, sink = await run(dut, cfg, 50, count)
    taken = sorted(set(s0.cycles) | set(s1.cycles))
    assert_every_cycle(taken, "inputs")
    assert_every_cycle(sink.cycles, "output")
    assert sink.cycles[0] == taken[0] + latency, f"latency {sink.cycles[0] - taken[0]}, expected {latency}"
    return s0, s1, sink


def assert_every_cycle(cycles: Sequence[int], what: str) -> None:
    """*cycles* are consecutive (one handshake a cycle)."""
    assert cycles and list(cycles) == list(range(cycles[0], cycles[0] + len(cycles))), (
        f"{what}: not one beat a cycle: {list(cycles)}")


def assert_equal(got: Sequence[int], expected: Sequence[int], what: str) -> None:
    assert len(got) == len(expected), f"{what}: expected {len(expected)} elements, got {len(got)}"
    bad = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    assert not bad, f"{what}: {len(bad)} of {len(expected)} wrong; first (index, got, expected): {bad[:5]}"


# ----------------------------------------------------------------------------- gs_dup


def model(beats: Sequence[int], n: int) -> list[list[int]]:
    """What each of the *n* outputs carries: the input stream."""
    return [list(beats) for _ in range(n)]


def _beats(cfg: dict, salt: int, count: int) -> list[int]:
    width = cfg["params"]["WIDTH"]
    return random_values(random.Random(cfg["seed"] * 1000 + salt), 0, (1 << width) - 1, count)


def _sinks(params: dict, count: int, backpressure: Sequence[Iterator[bool]] | None = None) -> list[Sink]:
    n = params["N"]
    bp = backpressure or [itertools.repeat(False)] * n
    return [Sink("m_axis", params["WIDTH"], count, lane=k, backpressure=bp[k]) for k in range(n)]


def _check(beats: Sequence[int], sinks: Sequence[Sink]) -> None:
    for k, (snk, exp) in enumerate(zip(sinks, model(beats, len(sinks)))):
        assert_equal(snk.words, exp, f"output {k}")


async def _run(dut, cfg: dict, salt: int, count: int, profile: tuple[float, float, float]) -> None:
    params, seed = cfg["params"], cfg["seed"]
    gap, stall, burst = profile
    beats = _beats(cfg, salt, count)
    src = Source("s_axis", beats, stalls(seed * 100 + salt, gap, burst))
    sinks = _sinks(params, len(beats),
                   [stalls(seed * 100 + 10 * k + salt + 50, stall, burst) for k in range(params["N"])])
    await run_streams(dut, [src], sinks)
    _check(beats, sinks)


@cocotb.test()
async def random_stalls(dut):
    await each_profile(dut, ["s_axis"], _run, "beats")


@cocotb.test()
async def unstalled_timing(dut):
    cfg = bench_config()
    await start(dut)
    await reset(dut, ["s_axis"])
    beats = _beats(cfg, 99, 24)
    src = Source("s_axis", beats)
    sinks = _sinks(cfg["params"], len(beats))
    await run_streams(dut, [src], sinks)
    _check(beats, sinks)
    assert_every_cycle(src.cycles, "input")
    for k, snk in enumerate(sinks):
        assert_every_cycle(snk.cycles, f"output {k}")
        assert snk.cycles[0] == src.cycles[0] + 1, f"output {k}: latency {snk.cycles[0] - src.cycles[0]}, expected 1"


@cocotb.test()
async def independent_progress(dut):
    cfg = bench_config()
    params = cfg["params"]
    hold = 40
    await start(dut)
    for k in range(params["N"]):
        await reset(dut, ["s_axis"])
        beats = _beats(cfg, 200 + k, 16)
        src = Source("s_axis", beats)
        bp = [itertools.repeat(False)] * params["N"]
        bp[k] = itertools.chain(itertools.repeat(True, hold), itertools.repeat(False))
        sinks = _sinks(params, len(beats), bp)
        await run_streams(dut, [src], sinks)
        _check(beats, sinks)
        assert sinks[k].cycles[0] >= hold, f"output {k} took a beat while not ready: {sinks[k].cycles}"
        early_in = [c for c in src.cycles if c < hold]
        assert len(early_in) == SLICE_BEATS, (
            f"output {k} held: input took {len(early_in)} beats, expected {SLICE_BEATS}")
        for j, snk in enumerate(sinks):
            if j != k:
                early = [c for c in snk.cycles if c < hold]
                assert len(early) == SLICE_BEATS, (
                    f"output {k} held: output {j} received {len(early)} beats, expected {SLICE_BEATS}")
