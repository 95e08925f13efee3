"""gs_vvu (depthwise vector-vector unit): cocotb bench with random stalls, and lint."""

from __future__ import annotations


import pytest

from gatesmith.verify import rtl_runner
from gatesmith.verify.benches import vvu_bench
from gatesmith.verify.benches._common import bench_env

pytestmark = pytest.mark.rtl

SOURCES = ["gs_vvu.v", "gs_rom.v", "gs_skid.v"]

# POS, C, PE, (IN_BITS, IN_SIGNED, IN_BIPOLAR), (W_BITS, W_SIGNED, W_BIPOLAR), ACC_BITS
CASES = [
    (9, 4, 1, (4, 0, 0), (4, 1, 0), 12),
    (9, 6, 3, (3, 1, 0), (2, 1, 0), 9),
    (4, 8, 8, (1, 0, 1), (1, 0, 1), 4),
    (1, 2, 2, (8, 1, 0), (4, 0, 0), 13),
    (25, 4, 2, (2, 0, 0), (1, 0, 1), 8),
    (3, 5, 1, (1, 0, 1), (3, 1, 0), 6),
]


def _params(pos, c, pe, x, w, acc) -> dict:
    return {
        "POS": pos, "C": c, "PE": pe,
        "IN_BITS": x[0], "IN_SIGNED": x[1], "IN_BIPOLAR": x[2],
        "W_BITS": w[0], "W_SIGNED": w[1], "W_BIPOLAR": w[2],
        "ACC_BITS": acc, "WEIGHT_FILE": "weights.mem",
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: "vvu-pos%d-c%d-pe%d" % c[:3] + "-x%d%d%d-w%d%d%d-acc%d" % (*c[3], *c[4], c[5]))
def test_vvu(case, rtl_cache, tmp_path):
    params = _params(*case)
    seed = CASES.index(case) + 71
    vvu_bench.write_weight_file(tmp_path / params["WEIGHT_FILE"], params, seed)
    pause = (0.3, 0.4) if seed % 2 else (0.5, 0.5)
    rtl_runner.run(
        top="gs_vvu",
        sources=rtl_runner.rtl_sources(*SOURCES),
        parameters=params,
        test_module="gatesmith.verify.benches.vvu_bench",
        cache_dir=rtl_cache,
        test_dir=tmp_path,
        extra_env=bench_env({"params": params, "seed": seed, "pixels": 12, "in_pause": pause[0],
                             "out_pause": pause[1]}),
        plusargs=["+verilator+rand+reset+2", f"+verilator+seed+{seed + 1}"],
    )


@pytest.mark.parametrize("case", CASES[:3], ids=lambda c: "vvu-lint-pos%d-c%d-pe%d" % c[:3])
def test_vvu_lint(case):
    params = _params(*case)
    paths = rtl_runner.rtl_sources(*SOURCES)
    rtl_runner.lint(paths, "gs_vvu", params)
    rtl_runner.lint(paths, "gs_vvu", params, extra_args=["--default-language", "1364-2001"])
