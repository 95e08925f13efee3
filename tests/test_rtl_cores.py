"""Hand-written RTL cores (rtl/gs_*.v): Verilator lint and cocotb benches.

Each simulation case builds the core for one parameter set (cached per
parameter set in ``$GATESMITH_RTL_CACHE`` or ``<repo>/.cache/rtl_sim``), writes
the memory file into the test's own directory, and runs the core's bench from
``gatesmith.verify.benches``: random input gaps and output backpressure, every
output element compared with the bench's Python model, the beat count
checked, plus an unstalled run that pins throughput and latency.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from gatesmith.verify import rtl_runner
from gatesmith.verify.benches import mvu_bench, requant_bench, thresholds_bench
from gatesmith.verify.benches._common import IntKind, bench_env, read_memh, write_memh

BENCHES = "gatesmith.verify.benches"


def _run(core: str, sources: list[str], params: dict, cache: Path, test_dir: Path, config: dict) -> None:
    rtl_runner.run(
        top=f"gs_{core}",
        sources=rtl_runner.rtl_sources(*sources),
        parameters=params,
        test_module=f"{BENCHES}.{core}_bench",
        cache_dir=cache,
        test_dir=test_dir,
        extra_env=bench_env({"params": params, **config}),
        # random initial register contents: nothing may rely on power-up values
        plusargs=["+verilator+rand+reset+2", f"+verilator+seed+{config['seed'] + 1}"],
    )


def _lint(sources: list[str], top: str, params: dict) -> None:
    """-Wall clean both as Verilator's default language and as strict Verilog-2001."""
    paths = rtl_runner.rtl_sources(*sources)
    rtl_runner.lint(paths, top, params)
    rtl_runner.lint(paths, top, params, extra_args=["--default-language", "1364-2001"])


# ============================================================================ gs_mvu

MVU_CASES = [
    # MW, MH, PE, SIMD, input kind, weight kind
    (8, 4, 1, 1, "s4", "s4"),
    (12, 8, 2, 3, "u2", "s3"),
    (16, 8, 4, 4, "bipolar", "bipolar"),
    (10, 6, 3, 5, "s8", "bipolar"),
    (6, 4, 2, 2, "bipolar", "s2"),
    (6, 3, 3, 2, "s3", "u3"),       # NF = 1: no input buffer
    (4, 6, 2, 4, "u4", "u2"),       # SF = 1: one beat per vector
]


def mvu_params(mw, mh, pe, simd, in_kind, w_kind, weight_file="weights.mem") -> dict:
    ik, wk = IntKind.parse(in_kind), IntKind.parse(w_kind)
    return {
        "MW": mw, "MH": mh, "PE": pe, "SIMD": simd,
        "IN_BITS": ik.bits, "IN_SIGNED": int(ik.signed), "IN_BIPOLAR": int(ik.bipolar),
        "W_BITS": wk.bits, "W_SIGNED": int(wk.signed), "W_BIPOLAR": int(wk.bipolar),
        "ACC_BITS": mvu_bench.acc_bits_for(mw, ik, wk),
        "WEIGHT_FILE": weight_file,
    }


@pytest.mark.rtl
@pytest.mark.parametrize("case", MVU_CASES, ids=lambda c: "mvu-%dx%d-pe%d-simd%d-%s-%s" % c)
def test_mvu(case, rtl_cache, tmp_path):
    params = mvu_params(*case)
    seed = MVU_CASES.index(case) + 11
    mvu_bench.write_weight_file(tmp_path / params["WEIGHT_FILE"], params, seed)
    pause = (0.3, 0.4) if seed % 2 else (0.6, 0.2)
    _run("mvu", ["gs_mvu.v", "gs_rom.v", "gs_skid.v"], params, rtl_cache, tmp_path,
         {"seed": seed, "vectors": 10, "in_pause": pause[0], "out_pause": pause[1]})


# MUL_STYLE "pack": rows p, p+1 share one multiplier (rtl/gs_mvu.v g_pack); every signed /
# unsigned combination, 2..8 bits, PE even and odd (the last row multiplies alone), SIMD > 1
MVU_PACK_CASES = [
    # MW, MH, PE, SIMD, input kind, weight kind
    (8, 8, 4, 2, "s4", "s4"),
    (12, 10, 5, 3, "s8", "s8"),     # odd PE; the widest pack: 25-bit weight operand
    (6, 6, 3, 2, "u3", "u8"),       # odd PE, NF = 2
]
MVU_PACK_SLOW = [
    (4, 8, 2, 4, "u2", "s2"),       # SF = 1
    (6, 4, 4, 3, "s5", "u6"),
    (8, 6, 6, 4, "u7", "s5"),
    (6, 3, 3, 3, "s2", "u2"),       # NF = 1
    (10, 4, 2, 5, "u6", "u6"),
    (4, 7, 7, 2, "s3", "s7"),
    (9, 8, 8, 3, "u4", "s4"),
]


# PACK_A_MAX 27 (DSP48E2, UltraScale/UltraScale+): a packed weight operand of 26 or 27 bits
MVU_PACK27_CASES = [
    (8, 6, 2, 2, "u8", "s8"),       # 26 x 9
    (6, 6, 3, 3, "u8", "u8"),       # 27 x 9, odd PE
    (4, 8, 4, 2, "s8", "u8"),       # 26 x 8
    (6, 4, 2, 3, "s18", "s4"),      # 27 x 18: both ports full
    (4, 4, 4, 2, "u9", "s8"),       # 27 x 10
]


def _run_mvu_pack(case, seed, rtl_cache, tmp_path, **extra):
    params = {**mvu_params(*case), "MUL_STYLE": "pack", **extra}
    mvu_bench.write_weight_file(tmp_path / params["WEIGHT_FILE"], params, seed)
    pause = (0.3, 0.4) if seed % 2 else (0.6, 0.2)
    _run("mvu", ["gs_mvu.v", "gs_rom.v", "gs_skid.v"], params, rtl_cache, tmp_path,
         {"seed": seed, "vectors": 12, "in_pause": pause[0], "out_pause": pause[1]})


@pytest.mark.rtl
@pytest.mark.parametrize("case", MVU_PACK_CASES, ids=lambda c: "mvu-pack-%dx%d-pe%d-simd%d-%s-%s" % c)
def test_mvu_pack(case, rtl_cache, tmp_path):
    _run_mvu_pack(case, MVU_PACK_CASES.index(case) + 611, rtl_cache, tmp_path)


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("case", MVU_PACK_SLOW, ids=lambda c: "mvu-pack-%dx%d-pe%d-simd%d-%s-%s" % c)
def test_mvu_pack_sweep(case, rtl_cache, tmp_path):
    _run_mvu_pack(case, MVU_PACK_SLOW.index(case) + 631, rtl_cache, tmp_path)


@pytest.mark.rtl
@pytest.mark.parametrize("case", MVU_PACK27_CASES, ids=lambda c: "mvu-pack27-%dx%d-pe%d-simd%d-%s-%s" % c)
def test_mvu_pack_dsp48e2(case, rtl_cache, tmp_path):
    _run_mvu_pack(case, MVU_PACK27_CASES.index(case) + 651, rtl_cache, tmp_path, PACK_A_MAX=27)


def test_mvu_pack_arithmetic_is_exact():
    """The packed split (mvu_bench.pack_pair, bit for bit the RTL's) equals both products:
    exhaustively up to 5 bits, over the extremes up to 8 bits."""
    for ib in range(2, 9):
        for wb in range(2, 9):
            for isg in (0, 1):
                for wsg in (0, 1):
                    ik, wk = IntKind(ib, bool(isg)), IntKind(wb, bool(wsg))
                    prm = {"IN_BITS": ib, "IN_SIGNED": isg, "W_BITS": wb, "W_SIGNED": wsg}
                    full = ib <= 5 and wb <= 5
                    xs = range(ik.min, ik.max + 1) if full else sorted({ik.min, ik.min + 1, -1, 0, 1, ik.max - 1, ik.max} & set(range(ik.min, ik.max + 1)))
                    ws = range(wk.min, wk.max + 1) if full else sorted({wk.min, wk.min + 1, -1, 0, 1, wk.max - 1, wk.max} & set(range(wk.min, wk.max + 1)))
                    for x in xs:
                        for a in ws:
                            for b in ws:
                                assert mvu_bench.pack_pair(x, a, b, prm) == (a * x, b * x), (prm, x, a, b)


MVU_LINT = [mvu_params(*c) for c in MVU_CASES] + [
    {**mvu_params(4, 4, 4, 4, "s4", "s4"), "ACC_BITS": 3},      # accumulator narrower than a product
    {**mvu_params(1, 1, 1, 1, "bipolar", "bipolar")},
    {**mvu_params(32, 16, 16, 32, "u8", "s8")},
] + [{**mvu_params(*c), "MUL_STYLE": "pack"} for c in MVU_PACK_CASES] + [
    {**mvu_params(4, 3, 3, 2, "bipolar", "s8"), "MUL_STYLE": "pack"},   # no multiplier: pack changes nothing
] + [{**mvu_params(*c), "MUL_STYLE": "pack", "PACK_A_MAX": 27} for c in MVU_PACK27_CASES]


@pytest.mark.rtl
@pytest.mark.parametrize("params", MVU_LINT, ids=lambda p: "mvu-" + "-".join(str(v) for v in p.values()))
def test_mvu_lint(params, rtl_cache):
    _lint(["gs_mvu.v", "gs_rom.v", "gs_skid.v"], "gs_mvu", params)


# ============================================================================ gs_thresholds

THRESH_CASES = [
    # C, PE, IN_BITS, N, T_BITS, OUT_BITS, OUT_SIGNED, BASE
    (4, 1, 4, 1, 4, 1, 0, 0),
    (6, 2, 6, 3, 8, 3, 1, -2),
    (8, 4, 8, 15, 8, 5, 1, -8),
    (4, 2, 5, 15, 6, 4, 0, 0),
    (3, 1, 3, 3, 3, 3, 0, 4),
    (12, 2, 6, 3, 7, 2, 0, 0),      # C/PE = 6 > ROM_INLINE: the ROM is a gs_rom
]


def thresh_params(c, pe, in_bits, n, t_bits, out_bits, out_signed, base) -> dict:
    return {
        "C": c, "PE": pe, "IN_BITS": in_bits, "N": n, "T_BITS": t_bits,
        "OUT_BITS": out_bits, "OUT_SIGNED": out_signed, "BASE": base,
        "THRESH_FILE": "thresholds.mem",
    }


@pytest.mark.rtl
@pytest.mark.parametrize("case", THRESH_CASES, ids=lambda c: "thr-c%d-pe%d-in%d-n%d-t%d-out%d-s%d-base%d" % c)
def test_thresholds(case, rtl_cache, tmp_path):
    params = thresh_params(*case)
    seed = THRESH_CASES.index(case) + 21
    thresholds_bench.write_threshold_file(tmp_path / params["THRESH_FILE"], params, seed)
    pause = (0.3, 0.4) if seed % 2 else (0.6, 0.2)
    _run("thresholds", ["gs_thresholds.v", "gs_rom.v", "gs_skid.v"], params, rtl_cache, tmp_path,
         {"seed": seed, "beats": 160, "in_pause": pause[0], "out_pause": pause[1]})


THRESH_LINT = [thresh_params(*c) for c in THRESH_CASES] + [
    thresh_params(1, 1, 8, 255, 16, 8, 0, 0),
    thresh_params(16, 16, 2, 1, 2, 2, 1, -1),
]


@pytest.mark.rtl
@pytest.mark.parametrize("params", THRESH_LINT, ids=lambda p: "thr-" + "-".join(str(v) for v in p.values()))
def test_thresholds_lint(params, rtl_cache):
    _lint(["gs_thresholds.v", "gs_rom.v", "gs_skid.v"], "gs_thresholds", params)


# ============================================================================ gs_requant

REQUANT_CASES = [
    # C, PE, IN_BITS, M_BITS, B_BITS, SHIFT, ROUNDING, LO, HI, OUT_BITS, OUT_SIGNED, USE_MULT
    (6, 2, 8, 4, 10, 4, 0, -100, 90, 8, 1, 1),      # ROUND (half to even)
    (4, 1, 6, 3, 8, 3, 1, -20, 25, 6, 1, 1),        # CEIL
    (4, 4, 8, 2, 6, 2, 2, 0, 15, 4, 0, 0),          # FLOOR, shift only, ReLU-like
    (6, 3, 7, 5, 9, 5, 3, -8, 7, 4, 1, 1),          # UP
    (4, 2, 8, 4, 10, 1, 4, -128, 127, 8, 1, 1),     # DOWN
    (4, 1, 8, 6, 12, 6, 5, -50, 50, 7, 1, 1),       # HALF_UP
    (8, 4, 5, 4, 7, 2, 6, -16, 15, 5, 1, 0),        # HALF_DOWN, shift only
    (4, 2, 6, 4, 8, 0, 0, -100, 100, 8, 1, 1),      # SHIFT = 0
    (4, 2, 6, 3, 5, 0, 2, 0, 40, 6, 0, 0),          # SHIFT = 0, shift only, unsigned out
    (16, 2, 7, 4, 10, 4, 0, -60, 50, 8, 1, 1),      # C/PE = 8 > ROM_INLINE: the ROM is a gs_rom
]

REQUANT_KEYS = ("C", "PE", "IN_BITS", "M_BITS", "B_BITS", "SHIFT", "ROUNDING",
                "LO", "HI", "OUT_BITS", "OUT_SIGNED", "USE_MULT")


def requant_params(*values) -> dict:
    return {**dict(zip(REQUANT_KEYS, values)), "PARAM_FILE": "params.mem"}


def _requant_id(case) -> str:
    p = dict(zip(REQUANT_KEYS, case))
    return (f"rq-{requant_bench.ROUNDING_MODES[p['ROUNDING']]}-sh{p['SHIFT']}-mult{p['USE_MULT']}"
            f"-pe{p['PE']}-in{p['IN_BITS']}")


@pytest.mark.rtl
@pytest.mark.parametrize("case", REQUANT_CASES, ids=_requant_id)
def test_requant(case, rtl_cache, tmp_path):
    params = requant_params(*case)
    seed = REQUANT_CASES.index(case) + 31
    requant_bench.write_param_file(tmp_path / params["PARAM_FILE"], params, seed)
    pause = (0.3, 0.4) if seed % 2 else (0.6, 0.2)
    _run("requant", ["gs_requant.v", "gs_rom.v", "gs_skid.v"], params, rtl_cache, tmp_path,
         {"seed": seed, "beats": 160, "in_pause": pause[0], "out_pause": pause[1]})


REQUANT_LINT = [requant_params(*c) for c in REQUANT_CASES] + [
    requant_params(4, 1, 8, 4, 8, 40, r, -1, 0, 2, 1, 1) for r in range(7)   # SHIFT wider than t
] + [
    requant_params(2, 2, 32, 16, 32, 12, 5, -128, 127, 8, 1, 1),               # t wider than 32 bits
]


@pytest.mark.rtl
@pytest.mark.parametrize("params", REQUANT_LINT, ids=lambda p: "rq-" + "-".join(str(v) for v in p.values()))
def test_requant_lint(params, rtl_cache):
    _lint(["gs_requant.v", "gs_rom.v", "gs_skid.v"], "gs_requant", params)


def test_requant_rounding_matches_qonnx():
    """The bench's exact rounding equals qonnx's numpy functions on exactly
    representable values t / 2^s (ties and both signs included)."""
    from qonnx.custom_op.general.intquant import resolve_rounding_mode

    for mode in requant_bench.ROUNDING_MODES:
        fn = resolve_rounding_mode(mode)
        for shift in range(0, 5):
            ts = np.arange(-80, 81)
            expected = fn(ts.astype(np.float64) / (1 << shift))
            got = [requant_bench.round_rational(Fraction(int(t), 1 << shift), mode) for t in ts]
            assert got == [int(e) for e in expected], (mode, shift)


# ============================================================================ gs_fifo / gs_skid

FIFO_CASES = [(8, 2), (5, 3), (16, 17)]


@pytest.mark.rtl
@pytest.mark.parametrize("width,depth", FIFO_CASES, ids=lambda v: str(v))
def test_fifo(width, depth, rtl_cache, tmp_path):
    params = {"WIDTH": width, "DEPTH": depth}
    _run("fifo", ["gs_fifo.v"], params, rtl_cache, tmp_path,
         {"seed": depth, "beats": 300, "in_pause": 0.3, "out_pause": 0.5})


@pytest.mark.rtl
@pytest.mark.parametrize("width", [1, 13])
def test_skid(width, rtl_cache, tmp_path):
    params = {"WIDTH": width}
    _run("skid", ["gs_skid.v"], params, rtl_cache, tmp_path,
         {"seed": width, "beats": 300, "in_pause": 0.4, "out_pause": 0.4})


@pytest.mark.rtl
@pytest.mark.parametrize("params", [
    {"WIDTH": 1, "DEPTH": 2}, {"WIDTH": 8, "DEPTH": 3}, {"WIDTH": 16, "DEPTH": 17},
    {"WIDTH": 64, "DEPTH": 16}, {"WIDTH": 3, "DEPTH": 1000},
], ids=lambda p: "fifo-w%(WIDTH)d-d%(DEPTH)d" % p)
def test_fifo_lint(params, rtl_cache):
    _lint(["gs_fifo.v"], "gs_fifo", params)


@pytest.mark.rtl
@pytest.mark.parametrize("width", [1, 13, 256])
def test_skid_lint(width, rtl_cache):
    _lint(["gs_skid.v"], "gs_skid", {"WIDTH": width})


@pytest.mark.rtl
@pytest.mark.parametrize("params", [
    {"DEPTH": 1, "WIDTH": 1}, {"DEPTH": 5, "WIDTH": 7, "MEM_STYLE": "distributed"},
    {"DEPTH": 196, "WIDTH": 64}, {"DEPTH": 1024, "WIDTH": 18, "MEM_STYLE": "block"},
], ids=lambda p: "rom-d%(DEPTH)d-w%(WIDTH)d" % p)
def test_rom_lint(params, rtl_cache):
    # gs_rom is simulated inside every gs_mvu / gs_vvu / gs_thresholds / gs_requant bench above
    _lint(["gs_rom.v"], "gs_rom", params)


# ============================================================================ gs_dwc

DWC_CASES = [(4, 6, 3), (6, 4, 2), (3, 5, 4), (2, 8, 1), (8, 2, 3), (1, 3, 5)]


@pytest.mark.rtl
@pytest.mark.parametrize("case", DWC_CASES, ids=lambda c: "dwc-%d-to-%d-b%d" % c)
def test_dwc(case, rtl_cache, tmp_path):
    ie, oe, eb = case
    params = {"IN_ELEMS": ie, "OUT_ELEMS": oe, "ELEM_BITS": eb}
    seed = DWC_CASES.index(case) + 41
    pause = (0.3, 0.4) if seed % 2 else (0.6, 0.2)
    _run("dwc", ["gs_dwc.v"], params, rtl_cache, tmp_path,
         {"seed": seed, "groups": 12, "in_pause": pause[0], "out_pause": pause[1]})


# ragged input (a matvec PE not dividing MH): (IN, OUT, bits, GROUP_BEATS, LAST_ELEMS)
DWC_RAGGED = [(13, 16, 2, 5, 12), (13, 2, 3, 5, 12), (3, 2, 4, 3, 1), (5, 5, 2, 2, 3), (4, 1, 3, 1, 2),
              (6, 4, 5, 4, 5)]


@pytest.mark.rtl
@pytest.mark.parametrize("case", DWC_RAGGED, ids=lambda c: "dwc-ragged-%d-to-%d-b%d-g%d-l%d" % c)
def test_dwc_ragged(case, rtl_cache, tmp_path):
    ie, oe, eb, gb, last = case
    params = {"IN_ELEMS": ie, "OUT_ELEMS": oe, "ELEM_BITS": eb, "GROUP_BEATS": gb, "LAST_ELEMS": last}
    seed = DWC_RAGGED.index(case) + 61
    pause = (0.3, 0.4) if seed % 2 else (0.6, 0.2)
    _run("dwc", ["gs_dwc.v"], params, rtl_cache, tmp_path,
         {"seed": seed, "groups": 6, "in_pause": pause[0], "out_pause": pause[1]})


@pytest.mark.rtl
def test_dwc_ragged_rejects_bad_last(rtl_cache):
    with pytest.raises(Exception, match="gs_dwc_error_LAST_ELEMS"):
        _lint(["gs_dwc.v"], "gs_dwc", {"IN_ELEMS": 4, "OUT_ELEMS": 2, "ELEM_BITS": 2, "GROUP_BEATS": 2,
                                       "LAST_ELEMS": 5})


@pytest.mark.rtl
@pytest.mark.parametrize("case", DWC_CASES + [(1, 1, 8), (5, 5, 2), (7, 3, 9), (16, 1, 4)],
                         ids=lambda c: "dwc-%d-to-%d-b%d" % c)
def test_dwc_lint(case, rtl_cache):
    ie, oe, eb = case
    params = {"IN_ELEMS": ie, "OUT_ELEMS": oe, "ELEM_BITS": eb}
    _lint(["gs_dwc.v"], "gs_dwc", params)


# ============================================================================ helpers

def test_memh_format(tmp_path):
    path = tmp_path / "w.mem"
    write_memh(path, [0, 5, 0x1ABC, 0x1FFFF], 17)
    assert path.read_text() == "00000\n00005\n01abc\n1ffff\n"
    assert read_memh(path, 17) == [0, 5, 0x1ABC, 0x1FFFF]
    with pytest.raises(ValueError, match="memory word 0: 131072 is not a 17-bit unsigned value"):
        write_memh(path, [1 << 17], 17)


@pytest.mark.rtl
def test_lint_reports_warnings(tmp_path, rtl_cache):
    """lint() must fail on a width warning (so the lint tests can fail)."""
    bad = tmp_path / "bad.v"
    bad.write_text(
        "module bad (input wire [3:0] a, output wire [1:0] y);\n  assign y = a;\nendmodule\n"
    )
    with pytest.raises(rtl_runner.RtlLintError, match="WIDTHTRUNC"):
        rtl_runner.lint([bad], "bad")


@pytest.mark.parametrize("kind", ["s4", "u3", "bipolar", "s1"])
def test_int_kind_roundtrip(kind):
    k = IntKind.parse(kind)
    assert [k.decode(k.encode(v)) for v in k.values()] == k.values()


def test_finished_builds_keep_no_precompiled_headers(tmp_path):
    # a Verilator build's *.gch (~90 MB each for a whole design) only speed up its own
    # compilation; the cache keeps the binary and drops them
    from gatesmith.verify.tools import prune_build

    (tmp_path / "Vtop__pch.h.fast.gch").write_bytes(b"x" * 1000)
    (tmp_path / "Vtop__pch.h.slow.gch").write_bytes(b"x" * 24)
    (tmp_path / "gatesmith_harness").write_bytes(b"bin")
    assert prune_build(tmp_path) == 1024
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gatesmith_harness"]
