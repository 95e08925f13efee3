"""cocotb bench for ``gs_dwc`` (element-wise data width converter).

Model (:func:`model`): the element sequence is unchanged; it is regrouped
from beats of IN_ELEMS into beats of OUT_ELEMS elements. With a ragged input
(GROUP_BEATS, LAST_ELEMS) the input is vectors of (GROUP_BEATS-1)*IN_ELEMS +
LAST_ELEMS elements, the last beat of each padded with random garbage that
must not appear in the output.

Tests:
* ``random_stalls`` -- a whole number of lcm(IN, OUT) element groups with
  random gaps and backpressure; every element and the beat count checked.
* ``unstalled_timing`` -- no stalls: the narrow side runs at one beat a cycle
  (IN <= OUT: an input beat every cycle; IN > OUT: an output beat every cycle
  once the first is out) and the first output beat is valid ``LATENCY`` cycle
  after the input beat that completes it. Ragged input: an input beat every
  cycle when IN <= OUT, and every element checked.

Configuration (``GATESMITH_BENCH`` JSON): ``params`` {IN_ELEMS, OUT_ELEMS,
ELEM_BITS, optional GROUP_BEATS, LAST_ELEMS}, ``seed``, ``groups``,
``in_pause``, ``out_pause``.
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


def _ragged(p: dict) -> tuple[int, int] | None:
    """(GROUP_BEATS, LAST_ELEMS) of a ragged input, else None."""
    gb, last = p.get("GROUP_BEATS", 1), p.get("LAST_ELEMS", p["IN_ELEMS"])
    return None if last == p["IN_ELEMS"] else (gb, last)


def _stimulus(cfg: dict, groups: int, salt: int) -> tuple[list[int], list[int]]:
    """(elements, input beats): a whole number of output beats' worth of elements."""
    p = cfg["params"]
    ie, oe, eb = p["IN_ELEMS"], p["OUT_ELEMS"], p["ELEM_BITS"]
    rng = random.Random(cfg["seed"] * 1000 + salt)
    rag = _ragged(p)
    if rag is None:
        elements = random_values(rng, 0, (1 << eb) - 1, groups * math.lcm(ie, oe))
        return elements, [pack(elements[i:i + ie], eb) for i in range(0, len(elements), ie)]
    gb, last = rag
    vlen = (gb - 1) * ie + last
    vectors = groups * oe // math.gcd(vlen, oe)
    elements, beats = [], []
    for _ in range(vectors):
        vec = random_values(rng, 0, (1 << eb) - 1, vlen)
        elements += vec
        padded = vec + random_values(rng, 0, (1 << eb) - 1, ie - last)  # garbage to drop
        beats += [pack(padded[i:i + ie], eb) for i in range(0, len(padded), ie)]
    return elements, beats


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
    elements, beats = _stimulus(cfg, cfg["groups"], 1)
    n_out = len(elements) // cfg["params"]["OUT_ELEMS"]
    res = await stream_through(
        dut, beats, n_out, seed=cfg["seed"], in_pause=cfg["in_pause"], out_pause=cfg["out_pause"]
    )
    _check(res.words, elements, cfg["params"])


@cocotb.test()
async def unstalled_timing(dut):
    cfg = bench_config()
    p = cfg["params"]
    ie, oe = p["IN_ELEMS"], p["OUT_ELEMS"]
    elements, beats = _stimulus(cfg, 6, 2)
    n_out = len(elements) // oe
    res = await stream_through(dut, beats, n_out, seed=cfg["seed"], in_pause=0.0, out_pause=0.0)
    _check(res.words, elements, p)
    c0 = res.in_cycles[0]
    if _ragged(p) is not None:
        if ie <= oe:
            assert res.in_cycles == list(range(c0, c0 + len(beats))), f"input beats at {res.in_cycles}"
        return
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
