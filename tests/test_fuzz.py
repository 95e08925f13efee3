"""Fuzzing against the reference: random quantized MLPs (gatesmith.verify.fuzz), compiled with a
random folding; the reference equals execute_onnx up to proven float32 near-ties and the RTL
(random backpressure) equals the reference exactly.  ``benchmarks/soak.py`` runs hundreds more."""

from __future__ import annotations

import numpy as np
import pytest


from hypothesis import HealthCheck, given, settings  # noqa: E402

from gatesmith.verify import fuzz  # noqa: E402

pytestmark = pytest.mark.brevitas

SEEDS = list(range(20))  # one test id per network: xdist spreads them over the workers


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzzed_network_is_exact(tmp_path, seed):
    r = fuzz.run_case(seed, tmp_path, n_inputs=16, max_width=24, max_lanes=16)
    print(f"seed {seed}: {r.net}; reference vs ONNX mismatches {r.ref_mismatches} "
          f"(excused near-ties {r.excused}); RTL mismatches {r.rtl_mismatches}; {r.seconds} s")
    assert r.error is None, f"seed {seed} ({r.net}), folding {r.folding}:\n{r.error}"
    assert r.unexplained == [], f"seed {seed} ({r.net}): unexplained mismatches {r.unexplained}"
    assert r.excused == r.ref_mismatches
    assert r.rtl_mismatches == 0, f"seed {seed} ({r.net}), folding {r.folding}"
    assert r.ok


def test_generator_covers_the_space():
    """The first SEEDS networks (and many more specs) exercise every feature the fuzzer promises."""
    specs = [fuzz.spec_from_seed(s) for s in range(400)]
    layers = [l for s in specs for l in s.layers]
    assert {len(s.layers) for s in specs} == {1, 2, 3, 4}
    assert min(l.width for l in layers) == 1 and max(l.width for l in layers) == 48
    assert {l.w_bits for l in layers} == set(range(1, 9))
    assert {l.a_bits for l in layers} == set(range(1, 9))
    assert {s.in_act for s in specs} == {"signed", "unsigned", "bipolar"}
    assert {l.act for l in layers} == {"relu", "hardtanh", "identity", "bipolar", "float", "quant"}
    assert {l.per_channel for l in layers} == {True, False}
    assert {l.bias for l in layers} == {True, False} and {l.bn for l in layers} == {True, False}
    assert {fuzz.export_format(s) for s in specs} == {"qonnx", "qcdq"}
    assert {fuzz.export_format(fuzz.spec_from_seed(s, max_width=24)) for s in SEEDS} == {"qonnx", "qcdq"}
    small = [fuzz.spec_from_seed(s, max_width=24) for s in SEEDS]
    assert {s.layers[-1].act for s in small} >= {"float", "quant"}
    assert any(l.w_bits == 1 for s in small for l in s.layers)
    assert any(l.bn for s in small for l in s.layers)


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # the graph is immutable
@given(seed=fuzz.hypothesis_seeds())
def test_random_folding_is_valid(tiny_graph, seed):
    """Hypothesis-drawn specs: deterministic, and their random foldings divide the layer sizes
    (or are ragged PEs where the scheduler allows them)."""
    from gatesmith.ir import Fold, MatVec
    from gatesmith.ir.schedule import ChooseFolding
    from gatesmith.ir.schedule.folding import ragged_ok

    spec = fuzz.spec_from_seed(seed)
    assert spec == fuzz.spec_from_seed(seed)
    assert 1 <= len(spec.layers) <= 4 and all(1 <= l.width <= 48 for l in spec.layers)
    g = tiny_graph
    for cap in (None, 4, 1):
        fold = fuzz.random_folding(g, np.random.default_rng(seed), cap)
        g2 = ChooseFolding(folding=fold["layers"]).run(g)
        for n in g2.nodes:
            assert isinstance(n.fold, Fold)
            if isinstance(n.op, MatVec):
                assert n.op.mw % n.fold.simd == 0
                assert n.op.mh % n.fold.pe == 0 or ragged_ok(g2, n)  # a ragged PE only off the output path
                assert cap is None or n.fold.pe * n.fold.simd <= cap
