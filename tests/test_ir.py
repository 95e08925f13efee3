"""IR: types, verifier, canonical printer (golden), JSON round trip, passes (golden)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from gatesmith.ir import IntType, BipolarType, IRError, print_graph, type_for_range, verify
from gatesmith.ir.ops import Requant, Rounding, round_shift
from gatesmith.ir.passes import MinimizeAccumulators, SelectRequant, run_passes
from gatesmith.ir.schedule import ChooseFolding, FoldingError, folding_from_json, folding_to_json
from gatesmith.ir.serialize import from_json, to_json
from gatesmith.verify.reference import run_integer

GOLDEN = Path(__file__).parent / "golden"


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if not path.exists():  # first run writes the golden; review it and commit
        path.write_text(text)
    assert text == path.read_text()


def test_types():
    assert str(type_for_range(-5, 3)) == "s4"
    assert str(type_for_range(0, 7)) == "u3"
    assert str(type_for_range(-8, 7)) == "s4"
    assert str(type_for_range(-9, 7)) == "s5"
    t = IntType(bits=4, signed=True)
    raw = t.to_bits(np.array([-8, -1, 0, 7]))
    assert list(raw) == [8, 15, 0, 7]
    assert list(t.from_bits(raw)) == [-8, -1, 0, 7]
    b = BipolarType()
    assert list(b.from_bits(b.to_bits(np.array([-1, 1, 1])))) == [-1, 1, 1]
    with pytest.raises(ValueError, match="signed IntType needs at least 2 bits"):
        IntType(bits=1, signed=True)


@pytest.mark.parametrize("mode", list(Rounding))
def test_round_shift_matches_numpy(mode):
    from gatesmith.ir.host import round_float

    t = np.arange(-70, 71)
    for shift in (0, 1, 2, 3):
        exact = round_shift(t, shift, mode).astype(np.int64)
        ref = round_float(t.astype(np.float64) / (1 << shift), mode).astype(np.int64)
        assert np.array_equal(exact, ref), (mode, shift)


def test_printer_golden(tiny_graph):
    _golden("tiny.ir.txt", print_graph(tiny_graph))


def test_passes_golden(tiny_graph):
    g = run_passes(tiny_graph, [MinimizeAccumulators(), SelectRequant(style="threshold")])
    g = run_passes(g, [ChooseFolding(clock_mhz=100, target_fps=10_000_000)])
    _golden("tiny.passes.ir.txt", print_graph(g))
    assert g.value("a0").dtype == IntType(bits=7, signed=True) or g.value("a0").dtype.bits <= 10


def test_json_round_trip(tiny_graph):
    g = run_passes(tiny_graph, [ChooseFolding(clock_mhz=100, target_fps=1e6)])
    text = to_json(g)
    g2 = from_json(text)
    assert print_graph(g2) == print_graph(g)
    assert to_json(g2) == text
    x = np.random.default_rng(0).integers(-8, 8, size=(20, 6))
    assert np.array_equal(run_integer(g, x), run_integer(g2, x))


def test_verifier_rejects_bad_fold(tiny_graph):
    n = tiny_graph.nodes[0].with_(fold=dataclasses.replace(ChooseFolding().run(tiny_graph).nodes[0].fold, pe=5))
    g = tiny_graph.replace_nodes((n,) + tiny_graph.nodes[1:])
    # (a PE below MH that does not divide it is a ragged PE, which the scheduler checks)
    with pytest.raises(IRError, match=r"node 'mvu0' \(matvec, from MatMul_0\): PE=5 must divide 4"):
        verify(g)


def test_verifier_rejects_weights_outside_type(tiny_graph):
    op = dataclasses.replace(tiny_graph.nodes[0].op, wtype=IntType(bits=2, signed=True))
    g = tiny_graph.replace_nodes((tiny_graph.nodes[0].with_(op=op),) + tiny_graph.nodes[1:])
    with pytest.raises(IRError, match=r"weights: values \[-?\d+, \d+\] do not fit s2"):
        verify(g)


def test_folding_target_and_file(tiny_graph):
    g = ChooseFolding(clock_mhz=100, target_fps=100e6 / 6).run(tiny_graph)  # budget 6 cycles
    f0 = g.node("mvu0").fold
    assert (4 // f0.pe) * (6 // f0.simd) <= 6
    assert g.node("rq0").fold.pe == f0.pe
    text = folding_to_json(g)
    back = folding_from_json(text)
    g2 = ChooseFolding(folding=back).run(tiny_graph)
    assert folding_to_json(g2) == text


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", r"--folding 'f.json': not valid JSON"),
        ('{"layers": {"mvu0": {"pe": 5}}}', r"layer 'mvu0': PE=5 must be a positive divisor of 4 \(valid: \[1, 2, 4\]\)"),
        ('{"layers": {"nope": {"pe": 1}}}', r"folding names layer 'nope', which the design does not have"),
        ('{"layers": {"mvu0": {"pe": 1, "lanes": 2}}}', r"layer 'mvu0': unknown key 'lanes'"),
        ('{"layers": {"mvu0": {"pe": "2"}}}', r"layer 'mvu0': pe must be an integer, got '2'"),
    ],
)
def test_folding_errors(tiny_graph, text, message):
    with pytest.raises(FoldingError, match=message):
        ChooseFolding(folding=folding_from_json(text, source="--folding 'f.json'")).run(tiny_graph)


def test_select_requant_styles_agree_with_spec(tiny_graph):
    x = np.random.default_rng(1).integers(-8, 8, size=(200, 6))
    spec = run_integer(tiny_graph, x)
    g = run_passes(tiny_graph, [SelectRequant(style="threshold")])
    assert g.node("rq0").kind == "threshold"
    assert np.array_equal(run_integer(g, x), spec)
    gd = run_passes(tiny_graph, [SelectRequant(style="dyadic")])
    rq = gd.node("rq0").op
    assert isinstance(rq, Requant)
    # the hand-made thresholds are not affine: dyadic reports moved thresholds, never silently
    assert rq.mismatches > 0



@pytest.mark.parametrize("mode", list(Rounding))
def test_round_shift_big_integers(mode):
    """The object-int path (values beyond int64) and the int64 path follow the same rules."""
    from fractions import Fraction
    import math

    rng = np.random.default_rng(4)
    shift = 5
    small = rng.integers(-(1 << 40), 1 << 40, size=300)
    small[:20] = np.arange(-10, 10) * (1 << shift) + (1 << (shift - 1))  # exact ties
    big = np.array([int(v) << 30 for v in small] + [int(v) * (1 << 70) + (1 << (shift - 1)) for v in small[:20]], dtype=object)

    def exact(v: int) -> int:
        f = Fraction(v, 1 << shift)
        fl, ce = math.floor(f), math.ceil(f)
        if f == fl:
            return fl
        if mode is Rounding.FLOOR:
            return fl
        if mode is Rounding.CEIL:
            return ce
        if mode is Rounding.UP:
            return ce if f > 0 else fl
        if mode is Rounding.DOWN:
            return fl if f > 0 else ce
        if f - fl != Fraction(1, 2):
            return fl if f - fl < Fraction(1, 2) else ce
        if mode is Rounding.ROUND:
            return fl if fl % 2 == 0 else ce
        if mode is Rounding.HALF_UP:
            return ce if f > 0 else fl
        return fl if f > 0 else ce  # HALF_DOWN

    for arr in (small, big):
        got = round_shift(arr, shift, mode)
        assert [int(v) for v in got] == [exact(int(v)) for v in arr]
