"""cocotb side of the whole-design harness (see :mod:`gatesmith.verify.rtl_sim`).

Python stays out of the cycle loop: this test only starts the clock when the
harness does not generate its own (``GATESMITH_SIM_CLOCK=cocotb``) and waits
for the harness' ``done``; the harness writes every result to files itself.
"""

from __future__ import annotations

import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge


@cocotb.test()
async def run_harness(dut):
    if os.environ.get("GATESMITH_SIM_CLOCK", "verilog") == "cocotb":
        Clock(dut.clk, 10, unit="ns").start()
    await RisingEdge(dut.done)
