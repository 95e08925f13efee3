"""cocotb side of the whole-design harness (see :mod:`gatesmith.verify.rtl_sim`).

Python stays out of the cycle loop: this test only starts the clock when the
harness does not generate its own (``GATESMITH_SIM_CLOCK=cocotb``) and waits
for the harness' ``done``; the harness writes every result to files itself.

With ``GATESMITH_SIM_PROGRESS=<file>`` (set only while progress is drawn) a second
coroutine wakes on a timer, reads the harness' output-beat and cycle counters and
rewrites ``<file>`` with ``"<output beats> <cycle>"``.  Its timer interval adapts so
that it wakes about five times per wall-clock second, whatever the simulation speed;
it only reads signals, so results and cycle counts are the same with or without it.
"""

from __future__ import annotations

import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, Timer


async def _report_progress(dut, path: str) -> None:
    steps = 10_000  # simulator time steps between wake-ups, adapted below
    tmp = path + ".tmp"
    last = time.monotonic()
    while True:
        await Timer(steps, unit="step")
        try:
            text = f"{int(dut.out_count.value)} {int(dut.cycle.value)}\n"
        except (AttributeError, ValueError):  # counters not readable: no progress, no harm
            return
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
        now = time.monotonic()
        if now - last < 0.1:
            steps *= 2
        elif now - last > 0.4 and steps > 100:
            steps //= 2
        last = now


@cocotb.test()
async def run_harness(dut):
    if os.environ.get("GATESMITH_SIM_CLOCK", "verilog") == "cocotb":
        Clock(dut.clk, 10, unit="ns").start()
    path = os.environ.get("GATESMITH_SIM_PROGRESS")
    if path:
        cocotb.start_soon(_report_progress(dut, path))
    await RisingEdge(dut.done)
