"""cocotb bench for ``gs_swg`` (sliding-window generator, im2col on a stream).

Model (:func:`model`, numpy): pad every image with ``PAD_VALUE`` and cut the
``K_H x K_W`` windows at strides ``S_H, S_W`` in raster order; each window is
flattened in (ky, kx, c) order and split into beats of KP*SIMD elements
(KP kernel positions a beat; ``KP`` absent from the parameters means 1).
:func:`cycles_per_image` is the unstalled steady-state throughput documented
in the core's header.

Tests: ``random_stalls`` (random input gaps and output backpressure with the
configured probabilities), ``bursty_backpressure`` (long runs of tready low
and of tvalid low), both checking every element and the beat count, and
``unstalled_timing`` (no stalls: cycles per image in steady state equal to
:func:`cycles_per_image`, within ``TIMING_TOLERANCE``, which is 0).

Configuration (``GATESMITH_BENCH`` JSON): ``params``, ``seed``, ``images``,
``in_pause``, ``out_pause``.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator

import cocotb
import numpy as np

from gatesmith.verify.benches import _common
from gatesmith.verify.benches._common import StreamResult, bench_config, pack, stream_through

TIMING_TOLERANCE = 0.0     # the formula is exact


# ----------------------------------------------------------------------------- model

def out_size(params: dict) -> tuple[int, int]:
    """(OFM_H, OFM_W): floor((IFM + pads - K) / S) + 1 in each direction."""
    p = params
    return ((p["IFM_H"] + p["PAD_T"] + p["PAD_B"] - p["K_H"]) // p["S_H"] + 1,
            (p["IFM_W"] + p["PAD_L"] + p["PAD_R"] - p["K_W"]) // p["S_W"] + 1)


def model(images: np.ndarray, params: dict) -> list[list[int]]:
    """im2col vectors: for each image (axis 0 of ``images[n, y, x, c]``, raw
    element bits) and output pixel in raster order, the window's elements in
    (ky, kx, c) order."""
    p = params
    n, h, w, c = images.shape
    padded = np.full((n, h + p["PAD_T"] + p["PAD_B"], w + p["PAD_L"] + p["PAD_R"], c),
                     p["PAD_VALUE"], dtype=np.int64)
    padded[:, p["PAD_T"]:p["PAD_T"] + h, p["PAD_L"]:p["PAD_L"] + w, :] = images
    oh, ow = out_size(p)
    vectors = []
    for img in padded:
        for oy in range(oh):
            for ox in range(ow):
                y0, x0 = oy * p["S_H"], ox * p["S_W"]
                vectors.append(img[y0:y0 + p["K_H"], x0:x0 + p["K_W"], :].reshape(-1).tolist())
    return vectors


def trailing_beats(params: dict) -> int:
    """Input beats of an image after the last row any window covers: the
    core takes them after the image's last output beat."""
    p = params
    oh, _ = out_size(p)
    last_row = min((oh - 1) * p["S_H"] - p["PAD_T"] + p["K_H"] - 1, p["IFM_H"] - 1)
    return (p["IFM_H"] - 1 - last_row) * p["IFM_W"] * (p["C"] // p["SIMD"])


def to_beats(elements: list[int], simd: int, bits: int) -> list[int]:
    """Consecutive groups of *simd* raw elements packed into beats."""
    return [pack(elements[i:i + simd], bits) for i in range(0, len(elements), simd)]


def kp_shape(params: dict) -> tuple[int, int]:
    """(KPH, KPW): kernel rows and columns one beat covers (KP = KPH*KPW)."""
    kp = params.get("KP", 1)
    kpw = min(kp, params["K_W"])
    return kp // kpw, kpw


def cycles_per_image(params: dict) -> int:
    """Unstalled steady-state cycles per image (back-to-back images), the
    formula documented in ``rtl/gs_swg.v``: ``max(IN, OUT + S)``, S the
    reader's wait at an image boundary for the next image's first rows that
    did not fit into the ring before the last window of the image began."""
    p = params
    cf = p["C"] // p["SIMD"]
    oh, ow = out_size(p)
    n_in = p["IFM_H"] * p["IFM_W"] * cf
    n_out = oh * ow * p["K_H"] * p["K_W"] * cf // p.get("KP", 1)
    return max(n_in, n_out + boundary_stall(p))


def boundary_stall(params: dict) -> int:
    """S of :func:`cycles_per_image` (see the core's header comment)."""
    p = params
    cf = p["C"] // p["SIMD"]
    oh, _ = out_size(p)
    kph, kpw = kp_shape(p)
    row, kh = p["IFM_W"] * cf, p["K_H"]
    kwb = p["K_W"] * cf // kpw                          # beats of a window row group
    win = kh // kph * kwb                               # beats of a window
    ring = kh + p["S_H"] + p.get("RING_EXTRA", 0)
    top = (oh - 1) * p["S_H"] - p["PAD_T"]             # first row of the last output row
    first = min(kh - p["PAD_T"], p["IFM_H"])            # N0: rows the first output row needs
    held = p["IFM_H"] - max(0, top)                     # HL
    b = max(0, first - (ring - held))                   # B
    if b == 0:
        return 0
    tp = max(0, -top)                                   # TP: padded rows atop the last window
    last_real = min(kh - 1, p["IFM_H"] - 1 - top)       # last real row of the last window
    # slots freed while the last window runs: its real rows outside its last
    # row group, each when its group's beats are read; the rest when it ends
    frees = [(ky // kph + 1) * kwb for ky in range(tp, min(kh - kph - 1, last_real) + 1)]
    frees += [win] * max(0, b - len(frees))
    end = 0
    for f in frees[:b]:
        end = max(end, f) + row
    return max(0, end - win)


# ----------------------------------------------------------------------------- stimulus

def random_images(params: dict, count: int, seed: int) -> np.ndarray:
    """*count* images of raw ELEM_BITS values, extremes and the pad value mixed in."""
    p = params
    rng = np.random.default_rng(seed)
    top = (1 << p["ELEM_BITS"]) - 1
    shape = (count, p["IFM_H"], p["IFM_W"], p["C"])
    imgs = rng.integers(0, top + 1, size=shape, dtype=np.int64)
    special = rng.random(shape)
    imgs[special < 0.1] = 0
    imgs[(special >= 0.1) & (special < 0.2)] = top
    return imgs


def input_beats(images: np.ndarray, params: dict) -> list[int]:
    """Raster order, each pixel's channels in groups of SIMD."""
    return to_beats(images.reshape(-1).tolist(), params["SIMD"], params["ELEM_BITS"])


def expected_beats(images: np.ndarray, params: dict) -> list[int]:
    flat = [e for vec in model(images, params) for e in vec]
    return to_beats(flat, params.get("KP", 1) * params["SIMD"], params["ELEM_BITS"])


# ----------------------------------------------------------------------------- bursty stalls

def bursts(seed: int, probability: float, longest: int = 40) -> Iterator[bool]:
    """Endless pause pattern in runs: a paused run (length 1..*longest*) with
    probability *probability*, else a running run; long stretches of
    tready/tvalid low."""
    rng = random.Random(seed)
    while True:
        paused = rng.random() < probability
        for _ in range(rng.randint(1, longest)):
            yield paused


@contextlib.contextmanager
def bursty_pauses() -> Iterator[None]:
    """Within the block, :func:`_common.stream_through` draws its pause
    patterns from :func:`bursts` instead of independent per-cycle pauses."""
    saved = _common.pauses
    _common.pauses = bursts
    try:
        yield
    finally:
        _common.pauses = saved


def check(words: list[int], expected: list[int]) -> None:
    """Every output beat equals the expected one, and the count matches."""
    assert len(words) == len(expected), f"expected {len(expected)} beats, got {len(words)}"
    bad = [(i, hex(g), hex(e)) for i, (g, e) in enumerate(zip(words, expected)) if g != e]
    assert not bad, f"{len(bad)} of {len(expected)} beats wrong; first (beat, got, expected): {bad[:5]}"


# ----------------------------------------------------------------------------- shared drivers
# (also used by pool_bench and labelselect_bench)

#: (params, count, seed) -> (input beats, expected output beats) for *count*
#: images / pixels / inferences
Stimulus = Callable[[dict, int, int], tuple[list[int], list[int]]]


async def run_stimulus(dut, stimulus: Stimulus, count: int, salt: int, *,
                       in_pause: float, out_pause: float, idle_cycles: int = 20) -> StreamResult:
    """Stream *count* units of *stimulus* through the core, check every output beat."""
    cfg = bench_config()
    beats, expected = stimulus(cfg["params"], count, cfg["seed"] * 10 + salt)
    res = await stream_through(dut, beats, len(expected), seed=cfg["seed"] + salt,
                               in_pause=in_pause, out_pause=out_pause, idle_cycles=idle_cycles)
    check(res.words, expected)
    return res


def stall_tests(stimulus: Stimulus, count_key: str, idle: Callable[[dict], int] = lambda params: 20):
    """The two stalled cocotb tests of a bench: ``random_stalls`` (per-cycle
    pauses with the configured probabilities) and ``bursty_backpressure``
    (long runs of tready low and of tvalid low); ``cfg[count_key]`` units each."""

    async def random_stalls(dut):
        cfg = bench_config()
        await run_stimulus(dut, stimulus, cfg[count_key], 1, in_pause=cfg["in_pause"],
                           out_pause=cfg["out_pause"], idle_cycles=idle(cfg["params"]))

    async def bursty_backpressure(dut):
        cfg = bench_config()
        with bursty_pauses():
            await run_stimulus(dut, stimulus, cfg[count_key], 2, in_pause=0.3, out_pause=0.6,
                               idle_cycles=idle(cfg["params"]))

    tests = []
    for fn in (random_stalls, bursty_backpressure):
        fn.__qualname__ = fn.__name__          # report as <bench module>.<test name>
        fn.__module__ = stimulus.__module__
        tests.append(cocotb.test()(fn))
    return tests[0], tests[1]


# ----------------------------------------------------------------------------- tests

def stimulus(params: dict, count: int, seed: int) -> tuple[list[int], list[int]]:
    images = random_images(params, count, seed)
    return input_beats(images, params), expected_beats(images, params)


random_stalls, bursty_backpressure = stall_tests(
    stimulus, "images", lambda params: 40 + 12 * trailing_beats(params))


@cocotb.test()
async def unstalled_timing(dut):
    params = bench_config()["params"]
    n = 5
    res = await run_stimulus(dut, stimulus, n, 3, in_pause=0.0, out_pause=0.0,
                             idle_cycles=40 + trailing_beats(params))
    per = len(res.words) // n
    starts = [res.out_cycles[k * per] for k in range(n)]
    periods = [b - a for a, b in zip(starts[1:], starts[2:])]     # steady state: skip image 0
    want = cycles_per_image(params)
    dut._log.info("cycles per image: measured %s, formula %d", periods, want)
    for got in periods:
        assert abs(got - want) <= TIMING_TOLERANCE * want, (
            f"measured {got} cycles per image (periods {periods}), formula {want}"
        )
