"""cocotb bench for ``gs_skid`` (AXI-Stream register slice).

Model: the output stream equals the input stream. A register slice is
checked exactly like a FIFO (every beat, the beat count, the
hold-while-stalled rule, and, with no stalls, one beat a cycle with a
latency of exactly one cycle), so this bench reuses ``fifo_bench``'s
pass-through tests.

Configuration (``GATESMITH_BENCH`` JSON): ``params`` {WIDTH}, ``seed``,
``beats``, ``in_pause``, ``out_pause``.
"""

from __future__ import annotations

from gatesmith.verify.benches.fifo_bench import model, random_stalls, unstalled_timing  # noqa: F401  (cocotb tests)
