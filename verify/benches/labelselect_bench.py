"""cocotb bench for ``gs_labelselect`` (top-K indices, descending, ties to the lower index).

Model (:func:`model`, numpy): the first K entries of the stable argsort of
``-x`` (= ONNX TopK with largest=1, sorted=1). Values come in several styles:
full range, a narrow range (many ties), all equal, and ascending runs, so
that the tie rule and every list position are exercised.

Tests: ``random_stalls`` and ``bursty_backpressure`` (every index and the
beat count checked) and ``unstalled_timing`` (steady state: exactly
``max(C/PE, K)`` cycles per inference, the first index ``LATENCY`` cycles
after the inference's last input beat).

Configuration (``GATESMITH_BENCH`` JSON): ``params``, ``seed``,
``inferences``, ``in_pause``, ``out_pause``.
"""

from __future__ import annotations

import cocotb
import numpy as np

from gatesmith.verify.benches._common import IntKind, bench_config, pack
from gatesmith.verify.benches.swg_bench import run_stimulus, stall_tests

LATENCY = 2


def model(x: np.ndarray, k: int) -> np.ndarray:
    """``x[inference, c]`` -> indices ``[inference, k]`` of the k largest, ties lower index first."""
    return np.argsort(-x, axis=1, kind="stable")[:, :k]


def cycles_per_inference(params: dict) -> int:
    return max(params["C"] // params["PE"], params["K"])


def random_inputs(params: dict, count: int, seed: int) -> np.ndarray:
    kind = IntKind(params["IN_BITS"], bool(params["IN_SIGNED"]))
    rng = np.random.default_rng(seed)
    c = params["C"]
    rows = []
    for n in range(count):
        style = n % 4
        if style == 0:
            row = rng.integers(kind.min, kind.max + 1, size=c)
        elif style == 1:            # narrow range: many ties
            lo = int(rng.integers(kind.min, kind.max + 1))
            row = rng.integers(lo, min(lo + 2, kind.max) + 1, size=c)
        elif style == 2:            # all equal: the indices in order
            row = np.full(c, int(rng.integers(kind.min, kind.max + 1)))
        else:                       # ascending with extremes: every entry displaced
            row = np.sort(rng.integers(kind.min, kind.max + 1, size=c))
            row[rng.integers(0, c)] = kind.max
        rows.append(row)
    return np.array(rows, dtype=np.int64)


def input_beats(x: np.ndarray, params: dict) -> list[int]:
    kind = IntKind(params["IN_BITS"], bool(params["IN_SIGNED"]))
    flat = [kind.encode(int(v)) for v in x.reshape(-1)]
    pe = params["PE"]
    return [pack(flat[i:i + pe], kind.bits) for i in range(0, len(flat), pe)]


def stimulus(params: dict, count: int, seed: int) -> tuple[list[int], list[int]]:
    x = random_inputs(params, count, seed)
    return input_beats(x, params), [int(i) for i in model(x, params["K"]).reshape(-1)]


random_stalls, bursty_backpressure = stall_tests(stimulus, "inferences")


@cocotb.test()
async def unstalled_timing(dut):
    params = bench_config()["params"]
    n, k, cf = 6, params["K"], params["C"] // params["PE"]
    res = await run_stimulus(dut, stimulus, n, 3, in_pause=0.0, out_pause=0.0)
    starts = [res.out_cycles[j * k] for j in range(n)]
    firsts = [res.in_cycles[j * cf + cf - 1] + LATENCY for j in range(n)]
    assert starts == firsts, f"first index of each inference at {starts}, expected {firsts}"
    periods = [b - a for a, b in zip(starts[1:], starts[2:])]
    want = cycles_per_inference(params)
    assert periods == [want] * len(periods), f"cycles per inference {periods}, expected {want}"
    for j in range(n):   # the K indices of an inference leave back to back
        outs = res.out_cycles[j * k:(j + 1) * k]
        assert outs == list(range(outs[0], outs[0] + k)), f"inference {j}: indices at {outs}"
