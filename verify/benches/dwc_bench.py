"""cocotb bench for ``gs_dwc`` (element-wise data width converter).

Model (:func:`model`): the element sequence is unchanged; it is regrouped
from beats of IN_ELEMS into beats of OUT_ELEMS elements.

Tests:
* ``random_stalls`` -- a whole number of lcm(IN, OUT) element groups with
  random gaps and backpressure; every element and the beat count checked.
* ``unstalled_timing`` -- no stalls: the narrow side runs at one beat a cycle
  (IN <= OUT: an input beat every cycle; IN > OUT: an output beat every cycle
  once the first is out) and the first output beat is valid ``LATENCY`` cycle
  after the input beat that completes it.

Configuration (``GATESMITH_BENCH`` JSON): ``params`` {IN_ELEMS, OUT_ELEMS,
ELEM_BITS}, ``seed``, ``groups``, ``in_pause``, ``out_pause``.
"""

from __future__ import annotations

import math
import random

import cocotb

from gatesmith.verify.benches._common import bench_config, pack, random_values, stream_through, unpack

LATENCY = 1


def model(elements: list[int], out_elems: int) -> list[list[int]]:
    """Output beats (as element lists) for the element sequence *elements*."""
    assert len(elements) % out_elems == 0
    return [elements[i:i + out_elems] for i in range(0, len(elements), out_elems)]


def _elements(cfg: dict, groups: int, salt: int) -> list[int]:
    p = cfg["params"]
    n = groups * math.lcm(p["IN_ELEMS"], p["OUT_ELEMS"])
    rng = random.Random(cfg["seed"] * 1000 + salt)
    return random_values(rng, 0, (1 << p["ELEM_BITS"]) - 1, n)


def _run_args(cfg: dict, elements: list[int]) -> tuple[list[int], int]:
    p = cfg["params"]
    ie, eb = p["IN_ELEMS"], p["ELEM_BITS"]
    beats = [pack(elements[i:i + ie], eb) for i in range(0, len(elements), ie)]
    return beats, len(elements) // p["OUT_ELEMS"]


def _check(words: list[int], elements: list[int], params: dict) -> None:
    oe, eb = params["OUT_ELEMS"], params["ELEM_BITS"]
    got = [unpack(w, oe, eb) for w in words]
    expected = model(elements, oe)
    assert len(got) == len(expected), f"expected {len(expected)} beats, got {len(got)}"
    bad = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    assert not bad, f"{len(bad)} of {len(expected)} output beats wrong; first (beat, got, expected): {bad[:3]}"


@cocotb.test()
async def random_stalls(dut):
    cfg = bench_config()
    elements = _elements(cfg, cfg["groups"], 1)
    beats, n_out = _run_args(cfg, elements)
    res = await stream_through(
        dut, beats, n_out, seed=cfg["seed"], in_pause=cfg["in_pause"], out_pause=cfg["out_pause"]
    )
    _check(res.words, elements, cfg["params"])


@cocotb.test()
async def unstalled_timing(dut):
    cfg = bench_config()
    p = cfg["params"]
    ie, oe = p["IN_ELEMS"], p["OUT_ELEMS"]
    elements = _elements(cfg, 6, 2)
    beats, n_out = _run_args(cfg, elements)
    res = await stream_through(dut, beats, n_out, seed=cfg["seed"], in_pause=0.0, out_pause=0.0)
    _check(res.words, elements, p)
    c0 = res.in_cycles[0]
    if ie <= oe:
        assert res.in_cycles == list(range(c0, c0 + len(beats))), f"input beats at {res.in_cycles}"
    else:
        o0 = res.out_cycles[0]
        assert res.out_cycles == list(range(o0, o0 + n_out)), f"output beats at {res.out_cycles}"
    # output beat j is complete once input beat ceil((j+1)*OUT/IN)-1 is in
    for j, cycle in enumerate(res.out_cycles):
        last_in = -(-(j + 1) * oe // ie) - 1
        assert cycle >= res.in_cycles[last_in] + LATENCY, f"output beat {j} before its data arrived"
    first_in = -(-oe // ie) - 1
    assert res.out_cycles[0] == res.in_cycles[first_in] + LATENCY, (
        f"first output at {res.out_cycles[0]}, its last input beat at {res.in_cycles[first_in]}"
    )
