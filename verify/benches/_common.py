"""Helpers shared by the per-core cocotb benches (and reusable by the rest of gatesmith).

Pure-Python parts (no simulator needed):

* :func:`write_memh` / :func:`read_memh` -- the ``$readmemh`` file format of
  gatesmith: hex, one word per line, no address markers, word 0 first, each
  word exactly ``ceil(width/4)`` hex digits.
* :class:`IntKind` -- an integer encoding (signed / unsigned / bipolar) with
  encode/decode of its raw bits, and :func:`pack` / :func:`unpack` for
  element-wise stream beats (element ``i`` at bits ``[i*W +: W]``).
* :func:`random_values` -- random values over a type's whole range with the
  extremes and alternating patterns mixed in; :func:`pauses` -- a seeded
  pause generator for cocotbext-axi.
* :func:`bench_config` / :func:`bench_env` -- the JSON configuration the
  pytest side hands to a bench through the ``GATESMITH_BENCH`` environment
  variable.

Simulator parts (import cocotb lazily): :func:`start`, :func:`stream_through`.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BENCH_ENV",
    "IntKind",
    "write_memh",
    "read_memh",
    "pack",
    "unpack",
    "random_values",
    "random_of_kind",
    "pauses",
    "bench_env",
    "bench_config",
    "start",
    "StreamResult",
    "stream_through",
]

BENCH_ENV = "GATESMITH_BENCH"


# ----------------------------------------------------------------------------- memory files

# one formatter for the whole project: hls_templates/memfile.py
from gatesmith.hls_templates.memfile import read_memh, write_memh  # noqa: E402,F401


# ----------------------------------------------------------------------------- element kinds


@dataclass(frozen=True)
class IntKind:
    """A stream element type: ``bits`` wide signed/unsigned, or bipolar (1 bit, 1 = +1)."""

    bits: int
    signed: bool
    bipolar: bool = False

    def __post_init__(self) -> None:
        if self.bipolar and (self.bits != 1 or self.signed):
            raise ValueError(f"bipolar is 1 bit and not signed, got {self!r}")
        if self.bits < 1:
            raise ValueError(f"bits must be >= 1, got {self!r}")

    @classmethod
    def parse(cls, text: str) -> IntKind:
        """``"s4"`` signed 4 bit, ``"u2"`` unsigned 2 bit, ``"bipolar"``."""
        if text == "bipolar":
            return cls(1, False, True)
        if text[:1] in "su" and text[1:].isdigit():
            return cls(int(text[1:]), text[0] == "s")
        raise ValueError(f"expected 's<bits>', 'u<bits>' or 'bipolar', got {text!r}")

    @property
    def min(self) -> int:
        if self.bipolar:
            return -1
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        if self.bipolar:
            return 1
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def values(self) -> list[int]:
        """Every representable value (small kinds only)."""
        if self.bipolar:
            return [-1, 1]
        return list(range(self.min, self.max + 1))

    def encode(self, value: int) -> int:
        """Raw bits of *value*; raises if it is not representable."""
        if self.bipolar:
            if value not in (-1, 1):
                raise ValueError(f"bipolar value must be -1 or +1, got {value!r}")
            return 1 if value == 1 else 0
        if not self.min <= value <= self.max:
            raise ValueError(f"{value!r} outside [{self.min}, {self.max}] of {self}")
        return value & ((1 << self.bits) - 1)

    def decode(self, raw: int) -> int:
        """Value of the raw bits *raw* (only the low ``bits`` are looked at)."""
        raw &= (1 << self.bits) - 1
        if self.bipolar:
            return 1 if raw else -1
        if self.signed and raw >> (self.bits - 1):
            return raw - (1 << self.bits)
        return raw

    def __str__(self) -> str:
        if self.bipolar:
            return "bipolar"
        return f"{'s' if self.signed else 'u'}{self.bits}"


def pack(raws: Sequence[int], bits: int) -> int:
    """Pack raw element bits: element ``i`` at ``[i*bits +: bits]``."""
    mask = (1 << bits) - 1
    word = 0
    for i, raw in enumerate(raws):
        if raw & ~mask:
            raise ValueError(f"element {i} = {raw!r} does not fit in {bits} bits")
        word |= raw << (i * bits)
    return word


def unpack(word: int, count: int, bits: int) -> list[int]:
    """Raw element bits of *word*: element ``i`` from ``[i*bits +: bits]``."""
    mask = (1 << bits) - 1
    return [(word >> (i * bits)) & mask for i in range(count)]


def random_values(rng: random.Random, lo: int, hi: int, count: int) -> list[int]:
    """*count* integers in ``[lo, hi]``: runs of the extremes, alternating
    min/max, zero (if in range) and uniform random values, shuffled in blocks
    so that whole vectors of extremes occur too."""
    if lo > hi:
        raise ValueError(f"empty range [{lo}, {hi}]")
    out: list[int] = []
    special = [lo, hi] + ([0] if lo <= 0 <= hi else [])
    while len(out) < count:
        run = rng.randint(1, 8)
        style = rng.random()
        if style < 0.15:
            out += [lo] * run
        elif style < 0.30:
            out += [hi] * run
        elif style < 0.45:
            out += [(lo, hi)[i % 2] for i in range(run)]
        elif style < 0.55:
            out += [rng.choice(special) for _ in range(run)]
        else:
            out += [rng.randint(lo, hi) for _ in range(run)]
    return out[:count]


def random_of_kind(rng: random.Random, kind: IntKind, count: int) -> list[int]:
    """*count* values of *kind* (see :func:`random_values`; bipolar: -1/+1)."""
    if kind.bipolar:
        return [kind.decode(raw) for raw in random_values(rng, 0, 1, count)]
    return random_values(rng, kind.min, kind.max, count)


def pauses(seed: int, probability: float) -> Iterator[bool]:
    """Endless seeded pause pattern for ``set_pause_generator``: True = pause this cycle."""
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


# ----------------------------------------------------------------------------- configuration

def bench_env(config: dict) -> dict[str, str]:
    """Environment for a bench run: *config* as JSON in ``GATESMITH_BENCH``."""
    return {BENCH_ENV: json.dumps(config, sort_keys=True)}


def bench_config() -> dict:
    """The configuration the pytest side passed (see :func:`bench_env`)."""
    text = os.environ.get(BENCH_ENV)
    if not text:
        raise RuntimeError(f"environment variable {BENCH_ENV} is not set: run the bench through verify.rtl_runner")
    return json.loads(text)


# ----------------------------------------------------------------------------- cocotb driving

async def start(dut, reset_cycles: int = 4) -> None:
    """Start a 10 ns clock on ``dut.clk`` and pulse the active-low ``dut.rst_n``."""
    from cocotb.clock import Clock
    from cocotb.triggers import RisingEdge

    Clock(dut.clk, 10, unit="ns").start()
    dut.rst_n.value = 0
    for _ in range(reset_cycles):
        await RisingEdge(dut.clk)
    dut.rst_n.value = 1
    await RisingEdge(dut.clk)


@dataclass
class StreamResult:
    """What :func:`stream_through` saw: output words and the clock cycle of every
    input and output handshake (cycle 0 = first rising edge after reset)."""

    words: list[int]
    in_cycles: list[int]
    out_cycles: list[int]


async def _watch(dut, result: StreamResult, errors: list[str]) -> None:
    """Record handshakes and check the AXI-Stream rule on ``m_axis``: while
    tvalid is high and tready low, tvalid and tdata must hold."""
    from cocotb.triggers import RisingEdge

    cycle = 0
    held = None  # tdata of a stalled output beat
    while True:
        await RisingEdge(dut.clk)
        s_valid = int(dut.s_axis_tvalid.value)
        s_ready = int(dut.s_axis_tready.value)
        m_valid = int(dut.m_axis_tvalid.value)
        m_ready = int(dut.m_axis_tready.value)
        if held is not None:
            if not m_valid:
                errors.append(f"cycle {cycle}: m_axis_tvalid dropped while the beat was not taken")
            elif int(dut.m_axis_tdata.value) != held:
                errors.append(f"cycle {cycle}: m_axis_tdata changed while tvalid && !tready")
        held = int(dut.m_axis_tdata.value) if (m_valid and not m_ready) else None
        if s_valid and s_ready:
            result.in_cycles.append(cycle)
        if m_valid and m_ready:
            result.out_cycles.append(cycle)
        cycle += 1


async def stream_through(
    dut,
    in_beats: Sequence[int],
    n_out: int,
    *,
    seed: int,
    in_pause: float,
    out_pause: float,
    timeout_cycles: int | None = None,
    idle_cycles: int = 20,
    after_reset=None,
) -> StreamResult:
    """Drive *in_beats* into ``s_axis`` and collect *n_out* beats from ``m_axis``.

    Random source gaps (probability *in_pause*) and random sink backpressure
    (probability *out_pause*) come from seeded pause generators. After the
    expected beats, waits *idle_cycles* more and fails if any extra beat
    appeared, an input beat was not consumed, or ``m_axis`` broke the
    hold-while-stalled rule. Returns the raw output words and handshake cycles.
    ``after_reset``: a coroutine function awaited with ``dut`` after reset, before any input
    (e.g. a weight load); handshake cycles count from its end.
    """
    import logging

    import cocotb
    from cocotb.triggers import ClockCycles, RisingEdge
    from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

    logging.getLogger("cocotbext.axi").setLevel(logging.WARNING)
    source = AxiStreamSource(
        AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst_n,
        reset_active_level=False, byte_lanes=1,
    )
    sink = AxiStreamSink(
        AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst_n,
        reset_active_level=False, byte_lanes=1,
    )
    source.log.setLevel(logging.WARNING)
    sink.log.setLevel(logging.WARNING)
    if in_pause > 0:
        source.set_pause_generator(pauses(seed * 2 + 1, in_pause))
    if out_pause > 0:
        sink.set_pause_generator(pauses(seed * 2 + 2, out_pause))
    await start(dut)
    if after_reset is not None:
        await after_reset(dut)
    result = StreamResult([], [], [])
    errors: list[str] = []
    watcher = cocotb.start_soon(_watch(dut, result, errors))
    # no tlast: every beat is a frame of one element
    for beat in in_beats:
        await source.send(AxiStreamFrame([beat]))
    if timeout_cycles is None:
        timeout_cycles = 200 + 20 * (len(in_beats) + n_out)
    waited = 0
    while len(result.words) < n_out:
        while not sink.empty():
            result.words.extend(sink.recv_nowait().tdata)
        if len(result.words) >= n_out:
            break
        await RisingEdge(dut.clk)
        waited += 1
        assert waited <= timeout_cycles, (
            f"timeout: got {len(result.words)} of {n_out} output beats after {waited} "
            f"cycles (input beats still queued: {source.count()})"
        )
    await ClockCycles(dut.clk, idle_cycles)
    while not sink.empty():
        result.words.extend(sink.recv_nowait().tdata)
    watcher.cancel()
    assert not errors, "AXI-Stream protocol errors on m_axis:\n" + "\n".join(errors[:10])
    assert len(result.words) == n_out, f"expected {n_out} output beats, got {len(result.words)}"
    assert source.empty() and not source.active, "not every input beat was consumed"
    assert len(result.in_cycles) == len(in_beats), (
        f"{len(in_beats)} input beats sent, {len(result.in_cycles)} handshakes seen"
    )
    return result
