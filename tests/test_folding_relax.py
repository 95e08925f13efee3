"""ChooseFolding when a layer cannot meet the target: the other layers are folded again for the
rate that layer sets (same cycles per inference, fewer multipliers), and the estimate's
folding_efficiency_bound says what any PE x SIMD folding could reach at that rate."""

from __future__ import annotations

import pytest

from gatesmith.frontend import import_onnx
from gatesmith.ir.passes import MinimizeAccumulators, SelectRequant, run_passes
from gatesmith.ir.schedule import ChooseFolding
from gatesmith.ir.schedule.estimate import estimate
from gatesmith.ir.schedule.folding import layer_cycles

pytestmark = pytest.mark.brevitas


def _graph(path):
    return run_passes(import_onnx(path), [MinimizeAccumulators(), SelectRequant()])


def _ii(g) -> int:
    return max(layer_cycles(n, g) for n in g.nodes)


@pytest.mark.parametrize("name, fps", [("cnv_1w1a", 1e6), ("resnet8", 1e6), ("conv_small", 1e6)])
def test_unreachable_target_refolds_for_the_rate_reached(zoo_export, name, fps):
    _, path = zoo_export(name)
    g = _graph(path)
    cf = ChooseFolding(clock_mhz=100.0, target_fps=fps)
    tight = cf._fold(g, {}, cf.budget())  # every layer folded for the target alone
    relaxed = cf.run(g)
    assert _ii(tight) > cf.budget()  # the target cannot be met (a window at one pixel a cycle)
    assert _ii(relaxed) == _ii(tight)  # the same rate
    e_tight, e = estimate(tight, clock_mhz=100.0), estimate(relaxed, clock_mhz=100.0)
    assert e["multipliers"] < e_tight["multipliers"]  # from fewer multipliers
    assert e["folding_efficiency"] > e_tight["folding_efficiency"]
    assert e["folding_efficiency"] <= e["folding_efficiency_bound"] <= 1.0


def test_reachable_target_is_unchanged_and_at_the_bound(zoo_export):
    _, path = zoo_export("tfc_2w2a")
    g = _graph(path)
    cf = ChooseFolding(clock_mhz=100.0, target_fps=1e5)
    folds = lambda graph: [(n.name, n.fold) for n in graph.nodes]  # noqa: E731
    assert folds(cf.run(g)) == folds(cf._fold(g, {}, cf.budget()))
    e = estimate(cf.run(g), clock_mhz=100.0)
    # every matrix-vector layer takes its cheapest fold: efficiency is what divisors allow
    assert e["folding_efficiency"] == e["folding_efficiency_bound"] == 0.9022
