"""cocotb bench for ``gs_pool`` (per-channel max or sum over POS positions).

Model (:func:`model`, numpy): inputs ``x[pixel, position, channel]``
(integers); MODE 0 gives the max over positions, MODE 1 the exact sum.
Input beats run position-major, then channel group, PE lanes each; output
beats are the C/PE channel groups of each pixel.

Inputs mix full-range values with sparse pixels (almost every element at the
type minimum, a few hits), so a 1-bit max (= OR) sees both 0 and 1 results.

Tests: ``random_stalls`` and ``bursty_backpressure`` (every element and the
beat count checked) and ``unstalled_timing`` (one input beat a cycle, i.e.
POS*C/PE cycles per output pixel, and every output beat exactly
``LATENCY`` cycles after the last input beat of its channel group).

Configuration (``GATESMITH_BENCH`` JSON): ``params``, ``seed``, ``pixels``,
``in_pause``, ``out_pause``.
"""

from __future__ import annotations

import cocotb
import numpy as np

from gatesmith.verify.benches._common import IntKind, bench_config, pack
from gatesmith.verify.benches.swg_bench import run_stimulus, stall_tests

LATENCY = 2


# ----------------------------------------------------------------------------- model

def kinds(params: dict) -> tuple[IntKind, IntKind]:
    """(input kind, output kind): max keeps the input type, sum is signed OUT_BITS."""
    ik = IntKind(params["IN_BITS"], bool(params["IN_SIGNED"]))
    ok = ik if params["MODE"] == 0 else IntKind(params["OUT_BITS"], True)
    return ik, ok


def model(x: np.ndarray, mode: int) -> np.ndarray:
    """``x[pixel, position, channel]`` -> ``out[pixel, channel]``: max (mode 0) or sum (mode 1)."""
    return x.max(axis=1) if mode == 0 else x.sum(axis=1)


def random_inputs(params: dict, pixels: int, seed: int) -> np.ndarray:
    ik, _ = kinds(params)
    rng = np.random.default_rng(seed)
    shape = (pixels, params["POS"], params["C"])
    x = rng.integers(ik.min, ik.max + 1, size=shape, dtype=np.int64)
    pick = rng.random(shape)
    x[pick < 0.1] = ik.min
    x[(pick >= 0.1) & (pick < 0.2)] = ik.max
    for n in range(pixels):
        style = n % 3
        if style == 1:      # sparse: the minimum except a few hits
            hits = rng.random(shape[1:]) < 1.0 / (2 * params["POS"])
            x[n] = np.where(hits, x[n], ik.min)
        elif style == 2:    # one position at the extreme
            x[n, rng.integers(0, params["POS"])] = ik.max if rng.random() < 0.5 else ik.min
    return x


def input_beats(x: np.ndarray, params: dict) -> list[int]:
    ik, _ = kinds(params)
    flat = [ik.encode(int(v)) for v in x.reshape(-1)]
    pe = params["PE"]
    return [pack(flat[i:i + pe], ik.bits) for i in range(0, len(flat), pe)]


def expected_beats(x: np.ndarray, params: dict) -> list[int]:
    _, ok = kinds(params)
    flat = [ok.encode(int(v)) for v in model(x, params["MODE"]).reshape(-1)]
    pe = params["PE"]
    return [pack(flat[i:i + pe], ok.bits) for i in range(0, len(flat), pe)]


# ----------------------------------------------------------------------------- tests

def stimulus(params: dict, count: int, seed: int) -> tuple[list[int], list[int]]:
    x = random_inputs(params, count, seed)
    return input_beats(x, params), expected_beats(x, params)


random_stalls, bursty_backpressure = stall_tests(stimulus, "pixels")


@cocotb.test()
async def unstalled_timing(dut):
    params = bench_config()["params"]
    pixels = 4
    res = await run_stimulus(dut, stimulus, pixels, 3, in_pause=0.0, out_pause=0.0)
    c0, n_in = res.in_cycles[0], len(res.in_cycles)
    assert res.in_cycles == list(range(c0, c0 + n_in)), f"input not taken every cycle: {res.in_cycles}"
    cf = params["C"] // params["PE"]
    per_pixel = params["POS"] * cf
    last_beats = [n * per_pixel + (params["POS"] - 1) * cf + g for n in range(pixels) for g in range(cf)]
    want = [res.in_cycles[i] + LATENCY for i in last_beats]
    assert res.out_cycles == want, f"outputs at {res.out_cycles}, expected {want}"
