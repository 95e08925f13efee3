"""Residual-branch cores gs_dup (fan-out), gs_add (elementwise add) and gs_concat
(channel concatenation): cocotb benches with random stalls, and lint."""

from __future__ import annotations


import pytest

from gatesmith.verify import rtl_runner
from gatesmith.verify.benches._common import bench_env

pytestmark = pytest.mark.rtl

LANGUAGES = ([], ["--default-language", "1364-2001"])

# ----------------------------------------------------------------------------- gs_dup

# WIDTH, N
DUP_CASES = [(1, 2), (8, 2), (33, 2), (1, 3), (8, 3), (33, 3)]

# ----------------------------------------------------------------------------- gs_add

# PE, (A_BITS, A_SIGNED, A_BIPOLAR), (B_BITS, B_SIGNED, B_BIPOLAR), M_A, M_B, spare OUT_BITS
ADD_CASES = [
    (1, (8, 0, 0), (8, 1, 0), 1, 1, 0),
    (3, (6, 1, 0), (3, 0, 0), 3, -2, 0),
    (4, (1, 0, 1), (5, 1, 0), 12345, 1, 0),
    (4, (1, 0, 0), (1, 0, 1), -70000, 3, 1),
    (3, (1, 0, 1), (1, 0, 1), -2, -70000, 0),
    (1, (1, 1, 0), (2, 0, 0), -70000, 12345, 0),
    (4, (8, 1, 0), (8, 1, 0), 12345, -70000, 14),
    (3, (7, 0, 0), (4, 1, 0), 1, -2, 0),
    # scales many octaves apart: multipliers beyond 32 bits (up to 2^62)
    (2, (4, 1, 0), (3, 0, 0), 3 * 2**40 + 7, -5, 0),
    (1, (1, 0, 1), (6, 1, 0), -(2**61 + 11), 2**33 + 1, 0),
]

# ----------------------------------------------------------------------------- gs_concat

# CA, CB, PE, ELEM_BITS (PE = CA + CB: pixel mode)
CONCAT_CASES = [(4, 4, 4, 1), (8, 4, 2, 4), (6, 3, 3, 1), (2, 6, 1, 4), (6, 3, 3, 4), (2, 6, 1, 1),
                (6, 4, 10, 2), (3, 5, 8, 1), (1, 1, 2, 3), (4, 4, 8, 4)]


def _range(bits: int, signed: int, bipolar: int) -> tuple[int, int]:
    if bipolar:
        return -1, 1
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def add_out_bits(a: tuple, b: tuple, m_a: int, m_b: int) -> int:
    """Smallest signed width holding every ``m_a*x + m_b*y``."""
    lo = hi = 0
    for (x_lo, x_hi), m in ((_range(*a), m_a), (_range(*b), m_b)):
        lo += min(m * x_lo, m * x_hi)
        hi += max(m * x_lo, m * x_hi)
    bits = 1
    while not -(1 << (bits - 1)) <= lo <= hi <= (1 << (bits - 1)) - 1:
        bits += 1
    return bits


def _add_params(pe, a, b, m_a, m_b, spare) -> dict:
    return {
        "PE": pe,
        "A_BITS": a[0], "A_SIGNED": a[1], "A_BIPOLAR": a[2],
        "B_BITS": b[0], "B_SIGNED": b[1], "B_BIPOLAR": b[2],
        "M_A": m_a, "M_B": m_b, "OUT_BITS": max(2, add_out_bits(a, b, m_a, m_b) + spare),
    }


def _concat_params(ca, cb, pe, bits) -> dict:
    return {"CA": ca, "CB": cb, "PE": pe, "ELEM_BITS": bits}


def _dup_params(width, n) -> dict:
    return {"WIDTH": width, "N": n}


CORES = {
    # top: (sources, bench module, params from a case, cases, bench configuration)
    "gs_dup": (["gs_dup.v", "gs_skid.v"], "dup_bench", _dup_params, DUP_CASES, {"beats": 60}),
    "gs_add": (["gs_add.v", "gs_skid.v"], "add_bench", _add_params, ADD_CASES, {"beats": 60}),
    "gs_concat": (["gs_concat.v", "gs_skid.v"], "concat_bench", _concat_params, CONCAT_CASES, {"pixels": 10}),
}

RUNS = [(top, i) for top, core in CORES.items() for i in range(len(core[3]))]


def _case_id(run) -> str:
    top, i = run
    case = CORES[top][3][i]
    return "-".join([top[3:]] + ["".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in case])


def _verilog(params: dict) -> dict:
    """Parameters as Verilator's -G takes them: gs_add's multipliers are signed 64-bit, given as
    sized 64-bit patterns (a plain -G integer would be 32 bits wide)."""
    return {k: (rtl_runner.Literal(f"64'h{v & ((1 << 64) - 1):016x}") if k in ("M_A", "M_B") else v)
            for k, v in params.items()}


@pytest.mark.parametrize("run", RUNS, ids=_case_id)
def test_branch_core(run, rtl_cache, tmp_path):
    top, i = run
    sources, bench, make_params, cases, config = CORES[top]
    params = make_params(*cases[i])
    seed = 131 + 7 * i + len(top)
    rtl_runner.run(
        top=top,
        sources=rtl_runner.rtl_sources(*sources),
        parameters=_verilog(params),
        test_module=f"gatesmith.verify.benches.{bench}",
        cache_dir=rtl_cache,
        test_dir=tmp_path,
        extra_env=bench_env({"params": params, "seed": seed, **config}),
        plusargs=["+verilator+rand+reset+2", f"+verilator+seed+{seed + 1}"],
    )


@pytest.mark.parametrize("top", sorted(CORES))
def test_branch_core_lint(top):
    sources, _, make_params, cases, _ = CORES[top]
    paths = rtl_runner.rtl_sources(*sources)
    for case in cases:
        for extra in LANGUAGES:
            rtl_runner.lint(paths, top, _verilog(make_params(*case)), extra_args=extra)


def test_add_out_bits():
    assert add_out_bits((8, 0, 0), (8, 1, 0), 1, 1) == 10      # [-128, 382]
    assert add_out_bits((1, 0, 1), (1, 0, 1), 1, 1) == 3       # [-2, 2]
    assert add_out_bits((1, 1, 0), (2, 0, 0), -70000, 12345) == 18  # [0, 107035]
