"""Hand-written convolution-path RTL cores: gs_swg (sliding-window
generator), gs_pool (max / sum window reduction) and gs_labelselect (top-K
indices). Verilator lint and cocotb benches.

Each simulation case builds the core for one parameter set (cached per
parameter set in ``$GATESMITH_RTL_CACHE`` or ``<repo>/.cache/rtl_sim``) and
runs the core's bench from ``gatesmith.verify.benches``: random input gaps and
output backpressure (independent per cycle, then in long bursts), every output
element compared with the bench's numpy model, the beat count checked, plus an
unstalled run that pins the documented throughput.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gatesmith.verify import rtl_runner
from gatesmith.verify.benches import swg_bench
from gatesmith.verify.benches._common import bench_env

BENCHES = "gatesmith.verify.benches"
PAUSES = [(0.3, 0.4), (0.6, 0.2), (0.1, 0.8), (0.5, 0.5)]


def _run(core: str, params: dict, cache: Path, test_dir: Path, config: dict) -> None:
    rtl_runner.run(
        top=f"gs_{core}",
        sources=rtl_runner.rtl_sources(f"gs_{core}.v", "gs_skid.v"),
        parameters=params,
        test_module=f"{BENCHES}.{core}_bench",
        cache_dir=cache,
        test_dir=test_dir,
        extra_env=bench_env({"params": params, **config}),
        # random initial register contents: nothing may rely on power-up values
        plusargs=["+verilator+rand+reset+2", f"+verilator+seed+{config['seed'] + 1}"],
    )


def _lint(core: str, params: dict) -> None:
    """-Wall clean both as Verilator's default language and as strict Verilog-2001."""
    paths = rtl_runner.rtl_sources(f"gs_{core}.v", "gs_skid.v")
    rtl_runner.lint(paths, f"gs_{core}", params)
    rtl_runner.lint(paths, f"gs_{core}", params, extra_args=["--default-language", "1364-2001"])


def _simulate(core: str, params: dict, seed: int, cache: Path, test_dir: Path, **count) -> None:
    """Run the core's bench; the per-cycle pause probabilities rotate with the seed."""
    in_pause, out_pause = PAUSES[seed % len(PAUSES)]
    _run(core, params, cache, test_dir,
         {"seed": seed, "in_pause": in_pause, "out_pause": out_pause, **count})


def _ident(prefix: str, params: dict) -> str:
    return prefix + "-" + "-".join(str(v) for v in params.values())


# ============================================================================ gs_swg

SWG_KEYS = ("IFM_H", "IFM_W", "C", "K_H", "K_W", "S_H", "S_W",
            "PAD_T", "PAD_L", "PAD_B", "PAD_R", "SIMD", "ELEM_BITS", "PAD_VALUE")

SWG_CASES = [
    # H, W, C, KH, KW, SH, SW, PT, PL, PB, PR, SIMD, BITS, PAD_VALUE
    (6, 6, 4, 3, 3, 1, 1, 0, 0, 0, 0, 2, 8, 0),          # 3x3 s1, no padding
    (5, 5, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 8, 0x80),       # 3x3 s1 pad 1, SIMD 1, pad = -128
    (5, 6, 3, 3, 3, 1, 1, 0, 1, 1, 0, 3, 2, 1),          # asymmetric padding, SIMD = C
    (6, 6, 4, 2, 2, 2, 2, 0, 0, 0, 0, 4, 1, 0),          # 2x2 s2 pooling, 1-bit
    (7, 7, 2, 3, 3, 2, 2, 1, 1, 1, 1, 2, 8, 0),          # 3x3 s2 pad 1, odd size
    (6, 6, 4, 1, 1, 2, 2, 0, 0, 0, 0, 2, 2, 0),          # 1x1 s2 (shortcut)
    (1, 16, 2, 1, 5, 1, 2, 0, 2, 0, 2, 1, 8, 0x7F),      # 1-D: K_W 5, stride 2, pad 2
    (4, 4, 2, 4, 4, 1, 1, 0, 0, 0, 0, 1, 8, 0),          # kernel = whole image
    (7, 7, 2, 2, 2, 2, 2, 0, 0, 0, 0, 1, 2, 0),          # 7x7 2x2 s2: last row/col dropped
    (7, 8, 2, 1, 2, 3, 3, 0, 0, 0, 0, 2, 4, 0),          # stride > kernel
    (6, 5, 4, 3, 2, 2, 1, 1, 0, 0, 1, 2, 8, 0x55),       # rectangular kernel, mixed strides
    (4, 4, 8, 3, 3, 1, 1, 1, 1, 1, 1, 4, 2, 3),          # SIMD between 1 and C
]


def swg_params(*values) -> dict:
    return dict(zip(SWG_KEYS, values))


@pytest.mark.rtl
@pytest.mark.parametrize("case", SWG_CASES, ids=lambda c: _ident("swg", swg_params(*c)))
def test_swg(case, rtl_cache, tmp_path):
    _simulate("swg", swg_params(*case), SWG_CASES.index(case) + 51, rtl_cache, tmp_path, images=3)


SWG_LINT = [swg_params(*c) for c in (SWG_CASES[0], SWG_CASES[2], SWG_CASES[6], SWG_CASES[7])] + [
    swg_params(32, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1, 8, 4, 0),
    swg_params(1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0),
]



def test_swg_model_matches_direct_indexing():
    """The numpy model equals the definition element by element."""
    params = swg_params(5, 6, 3, 3, 2, 2, 1, 1, 0, 2, 1, 1, 8, 99)
    imgs = swg_bench.random_images(params, 2, 7)
    got = swg_bench.model(imgs, params)
    oh, ow = swg_bench.out_size(params)
    assert (oh, ow) == ((5 + 3 - 3) // 2 + 1, (6 + 1 - 2) // 1 + 1)
    k = 0
    for n in range(2):
        for oy in range(oh):
            for ox in range(ow):
                want = []
                for ky in range(3):
                    for kx in range(2):
                        y, x = oy * 2 - 1 + ky, ox - 0 + kx
                        for c in range(3):
                            inside = 0 <= y < 5 and 0 <= x < 6
                            want.append(int(imgs[n, y, x, c]) if inside else 99)
                assert got[k] == want
                k += 1
    assert k == len(got)



def test_swg_boundary_stall_closed_forms():
    """The closed forms in gs_swg.v's header agree with the bench's recurrence
    (which the unstalled runs pin against the RTL)."""
    import itertools

    checked = 0
    for h, w, kh, kw, sh, pt, pb in itertools.product(range(1, 9), (3, 7), range(1, 6), (1, 3),
                                                        (1, 2, 3), range(3), range(3)):
        if pt >= kh or pb >= kh or h + pt + pb < kh:
            continue
        params = swg_params(h, w, 2, kh, kw, sh, 1, pt, 0, pb, 0, 1, 8, 0)
        oh, _ = swg_bench.out_size(params)
        y = (oh - 1) * sh - pt
        b = max(0, min(kh - pt, h) - (kh + sh - (h - max(0, y))))
        m = min(kh - 2, h - 1 - y) + 1
        if y >= 0 and b <= m:                                # the "common case"
            want = max(0, b * w * 2 - (kh - 1) * kw * 2)
            assert swg_bench.boundary_stall(params) == want, params
            checked += 1
    assert checked > 100
    for k, s, pad in ((3, 1, 1), (5, 1, 2), (7, 2, 3), (2, 2, 0), (1, 2, 0)):   # S = 0
        params = swg_params(14, 14, 2, k, k, s, s, pad, pad, pad, pad, 1, 8, 0)
        assert swg_bench.boundary_stall(params) == 0, params
    assert swg_bench.boundary_stall(swg_params(6, 5, 2, 6, 5, 1, 1, 0, 0, 0, 0, 1, 8, 0)) == 0
    for w in (5, 9, 32):                                     # 3x3 stride 1, no padding
        params = swg_params(8, w, 4, 3, 3, 1, 1, 0, 0, 0, 0, 2, 8, 0)
        assert swg_bench.boundary_stall(params) == 2 * (w - 3) * 2


# ============================================================================ gs_pool

POOL_KEYS = ("POS", "C", "PE", "IN_BITS", "IN_SIGNED", "OUT_BITS", "MODE")

POOL_CASES = [
    # POS, C, PE, IN_BITS, IN_SIGNED, OUT_BITS, MODE
    (4, 4, 2, 8, 1, 8, 0),        # 2x2 max, signed
    (9, 3, 1, 4, 0, 4, 0),        # 3x3 max, unsigned, PE 1
    (9, 8, 8, 1, 0, 1, 0),        # 1-bit max (OR, bipolar streams), PE = C
    (9, 1, 1, 8, 1, 8, 0),        # one channel group: read-after-write forwarding
    (1, 4, 2, 6, 1, 6, 0),        # POS 1: pass-through
    (4, 6, 3, 5, 1, 7, 1),        # sum, signed
    (49, 4, 4, 4, 0, 10, 1),      # global 7x7 sum, unsigned, one channel group
    (16, 2, 1, 3, 1, 7, 1),       # sum, signed, PE 1
    (1, 2, 1, 4, 0, 5, 1),        # POS 1 sum: zero extension
]


def pool_params(*values) -> dict:
    return dict(zip(POOL_KEYS, values))


@pytest.mark.rtl
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: _ident("pool", pool_params(*c)))
def test_pool(case, rtl_cache, tmp_path):
    _simulate("pool", pool_params(*case), POOL_CASES.index(case) + 71, rtl_cache, tmp_path, pixels=6)


POOL_LINT = [pool_params(*c) for c in POOL_CASES] + [
    pool_params(64, 512, 16, 8, 1, 8, 0),
    pool_params(1024, 512, 32, 4, 0, 14, 1),
]



# ============================================================================ gs_labelselect

LS_KEYS = ("C", "PE", "IN_BITS", "IN_SIGNED", "K", "IDX_BITS")

LS_CASES = [
    # C, PE, IN_BITS, IN_SIGNED, K, IDX_BITS
    (10, 1, 8, 1, 1, 4),          # ArgMax, signed
    (12, 4, 3, 0, 5, 4),          # K > C/PE: output-bound
    (8, 2, 4, 1, 3, 3),           # top-3, signed
    (6, 6, 2, 0, 6, 3),           # K = C, one beat per inference
    (16, 4, 5, 1, 1, 5),          # ArgMax, PE 4, wider index
    (7, 1, 1, 0, 2, 3),           # 1-bit values: ties everywhere
]


def ls_params(*values) -> dict:
    return dict(zip(LS_KEYS, values))


@pytest.mark.rtl
@pytest.mark.parametrize("case", LS_CASES, ids=lambda c: _ident("ls", ls_params(*c)))
def test_labelselect(case, rtl_cache, tmp_path):
    _simulate("labelselect", ls_params(*case), LS_CASES.index(case) + 91, rtl_cache, tmp_path, inferences=12)


LS_LINT = [ls_params(*c) for c in LS_CASES] + [
    ls_params(1000, 8, 16, 1, 5, 10),
    ls_params(1, 1, 1, 0, 1, 1),
]



def test_labelselect_model_is_onnx_topk_order():
    """Ties go to the lower index; the order is by value, descending."""
    import numpy as np

    from gatesmith.verify.benches import labelselect_bench

    x = np.array([[3, -1, 3, 7, 7, 0]])
    assert labelselect_bench.model(x, 4).tolist() == [[3, 4, 0, 2]]


# ============================================================================ lint

LINT = ([("swg", p) for p in SWG_LINT] + [("pool", p) for p in POOL_LINT]
        + [("labelselect", p) for p in LS_LINT])


@pytest.mark.rtl
@pytest.mark.parametrize("core,params", LINT, ids=[_ident(c, p) for c, p in LINT])
def test_lint(core, params, rtl_cache):
    _lint(core, params)


# ============================================================================ gs_swg, parallel windows (KP)

SWG_KP_KEYS = SWG_KEYS + ("KP",)

SWG_KP_CASES = [
    # H, W, C, KH, KW, SH, SW, PT, PL, PB, PR, SIMD, BITS, PAD_VALUE, KP
    (6, 6, 3, 3, 3, 1, 1, 0, 0, 0, 0, 3, 8, 0, 9),         # whole window, no padding (CNV's first conv)
    (7, 7, 2, 3, 3, 2, 2, 1, 0, 0, 1, 2, 8, 0x80, 9),      # whole window, stride 2, asymmetric padding
    (8, 8, 1, 5, 5, 1, 1, 2, 2, 2, 2, 1, 4, 5, 5),         # 5x5 "same": one kernel row a beat
    (1, 16, 2, 1, 5, 1, 2, 0, 2, 0, 2, 2, 8, 0x7F, 5),     # 1-D, whole window, stride 2, pad 2
]

SWG_KP_SLOW = [
    (5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3, 4, 0x5, 3),       # kernel row a beat, pad 1
    (6, 7, 2, 2, 4, 1, 1, 0, 1, 1, 0, 2, 8, 0, 2),         # two kernel columns of four
    (6, 6, 2, 4, 4, 1, 1, 1, 1, 2, 2, 2, 8, 0, 8),         # two kernel rows a beat
    (4, 4, 2, 4, 4, 1, 1, 0, 0, 0, 0, 2, 8, 0, 16),        # kernel = whole image, one beat
    (9, 9, 1, 5, 5, 2, 2, 2, 1, 1, 2, 1, 8, 0x33, 25),     # 5x5 s2 whole window, asymmetric
    (7, 6, 3, 3, 3, 2, 1, 0, 1, 2, 1, 3, 2, 1, 3),         # mixed strides, one kernel row a beat
    (1, 12, 4, 1, 4, 1, 1, 0, 1, 0, 2, 4, 8, 0, 2),        # 1-D, two of four columns
    (10, 10, 1, 3, 3, 3, 3, 0, 0, 0, 0, 1, 8, 0, 9),       # stride = kernel (rows dropped)
    (8, 8, 3, 1, 3, 1, 1, 0, 1, 0, 1, 3, 8, 0, 3),         # 1x3 kernel, whole window
    (6, 6, 2, 3, 1, 1, 1, 1, 0, 1, 0, 2, 8, 0, 3),         # 3x1 kernel: KP = K_W * 3 rows
]


def swg_kp_params(*values) -> dict:
    return dict(zip(SWG_KP_KEYS, values))


def _swg_kp(case, seed, rtl_cache, tmp_path):
    _simulate("swg", swg_kp_params(*case), seed, rtl_cache, tmp_path, images=3)


@pytest.mark.rtl
@pytest.mark.parametrize("case", SWG_KP_CASES, ids=lambda c: _ident("swgkp", swg_kp_params(*c)))
def test_swg_parallel_windows(case, rtl_cache, tmp_path):
    _swg_kp(case, SWG_KP_CASES.index(case) + 131, rtl_cache, tmp_path)


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("case", SWG_KP_SLOW, ids=lambda c: _ident("swgkp", swg_kp_params(*c)))
def test_swg_parallel_windows_sweep(case, rtl_cache, tmp_path):
    _swg_kp(case, SWG_KP_SLOW.index(case) + 151, rtl_cache, tmp_path)


# a deeper ring (RING_EXTRA rows beyond K_H + S_H, as generated designs use): the
# boundary wait shrinks to 0 and the bench still pins cycles = the header's formula
SWG_RING_CASES = [
    dict(swg_params(6, 6, 4, 3, 3, 1, 1, 0, 0, 0, 0, 2, 8, 0), RING_EXTRA=1),       # B = 1 left
    dict(swg_params(6, 6, 4, 3, 3, 1, 1, 0, 0, 0, 0, 2, 8, 0), RING_EXTRA=2),       # B = 0
    dict(swg_kp_params(6, 6, 3, 3, 3, 1, 1, 0, 0, 0, 0, 3, 8, 0, 9), RING_EXTRA=2),  # whole window
    dict(swg_params(7, 7, 2, 2, 2, 2, 2, 0, 0, 0, 0, 1, 4, 0), RING_EXTRA=1),       # 2x2 s2 pool
]


@pytest.mark.rtl
@pytest.mark.parametrize("params", SWG_RING_CASES, ids=lambda p: _ident("swgring", p))
def test_swg_ring_extra(params, rtl_cache, tmp_path):
    _simulate("swg", params, SWG_RING_CASES.index(params) + 171, rtl_cache, tmp_path, images=3)


@pytest.mark.rtl
def test_swg_ring_extra_lint():
    _lint("swg", SWG_RING_CASES[2])


@pytest.mark.rtl
@pytest.mark.parametrize("case", [SWG_KP_CASES[0], SWG_KP_CASES[3], SWG_KP_SLOW[1]],
                         ids=lambda c: _ident("swgkp", swg_kp_params(*c)))
def test_swg_parallel_windows_lint(case):
    _lint("swg", swg_kp_params(*case))


@pytest.mark.rtl
@pytest.mark.parametrize("kp,simd", [(2, 3), (4, 3), (6, 3), (3, 1)])
def test_swg_parallel_windows_rejected(kp, simd):
    """KP must divide K_W or be K_W times a divisor of K_H, and KP > 1 needs SIMD = C."""
    params = swg_kp_params(6, 6, 3, 3, 3, 1, 1, 0, 0, 0, 0, simd, 8, 0, kp)
    paths = rtl_runner.rtl_sources("gs_swg.v", "gs_skid.v")
    with pytest.raises(Exception, match="gs_swg_error_KP"):
        rtl_runner.lint(paths, "gs_swg", params)
