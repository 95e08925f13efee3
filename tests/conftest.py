"""Shared fixtures: small hand-made IR graphs and exported zoo models (cached per session)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from gatesmith.ir import (
    Graph, InputQuant, IntType, Linear, MatVec, Node, OutputKind, OutputMap, Requantize, Rounding, Value,
)
from gatesmith.ir.ops import frozen_array


def make_tiny_graph() -> Graph:
    """x:s4[6] -> matvec(4x6, s3) -> requantize(u2) -> matvec(3x4) -> float out."""
    rng = np.random.default_rng(7)
    w0 = rng.integers(-4, 4, size=(4, 6))
    w1 = rng.integers(-4, 4, size=(3, 4))
    acc0 = IntType(bits=10, signed=True)
    acc1 = IntType(bits=12, signed=True)
    lo = np.array([-200] * 4)
    hi = np.array([200] * 4)
    thr = np.array([[-5, 3, 9], [0, 1, 2], [-40, 0, 40], [7, 7, 201]])
    lin = Linear(a=tuple(Fraction(1, 8) for _ in range(4)), b=tuple(Fraction(1, 2) for _ in range(4)),
                 lo=0, hi=3, rounding=Rounding.ROUND)
    nodes = (
        Node(name="mvu0", op=MatVec(weights=frozen_array(w0), wtype=IntType(bits=3, signed=True), acc=acc0),
             inputs=("x",), outputs=("a0",), origin="MatMul_0"),
        Node(name="rq0", op=Requantize(thresholds=frozen_array(thr), base=0, out=IntType(bits=2, signed=False),
                                      in_lo=frozen_array(lo), in_hi=frozen_array(hi), linear=lin),
             inputs=("a0",), outputs=("y0",), origin="Quant_1"),
        Node(name="mvu1", op=MatVec(weights=frozen_array(w1), wtype=IntType(bits=3, signed=True), acc=acc1),
             inputs=("y0",), outputs=("a1",), origin="MatMul_1"),
    )
    values = (
        Value(name="x", shape=(6,), dtype=IntType(bits=4, signed=True)),
        Value(name="a0", shape=(4,), dtype=acc0),
        Value(name="y0", shape=(4,), dtype=IntType(bits=2, signed=False)),
        Value(name="a1", shape=(3,), dtype=acc1),
    )
    iq = InputQuant(onnx_shape=(6,), pre=(), scale=frozen_array(0.5, np.float32),
                    zero_point=frozen_array(0.0, np.float32), dtype=IntType(bits=4, signed=True),
                    narrow=False, rounding=Rounding.ROUND)
    om = OutputMap(kind=OutputKind.FLOAT, onnx_shape=(3,), scale=frozen_array([0.25, 0.5, 1.0], np.float64),
                   zero_point=frozen_array([0.0], np.float32))
    return Graph(name="tiny", values=values, nodes=nodes, inputs=("x",), outputs=("a1",), input_quant=iq, output_map=om)


@pytest.fixture
def tiny_graph() -> Graph:
    return make_tiny_graph()


@pytest.fixture(scope="session")
def rtl_cache():
    """Where per-core Verilator builds are cached: ``$GATESMITH_RTL_CACHE`` or ``<repo>/.cache/rtl_sim``."""
    import os
    from pathlib import Path

    from gatesmith.verify.tools import ensure_verilator

    ensure_verilator()  # make test installs Verilator: missing is an error, not a skip
    env = os.environ.get("GATESMITH_RTL_CACHE")
    path = Path(env) if env else Path(__file__).resolve().parent.parent / ".cache" / "rtl_sim"
    path.mkdir(parents=True, exist_ok=True)
    return path


_EXPORTS: dict = {}


@pytest.fixture(scope="session")
def zoo_export(tmp_path_factory):
    """zoo_export(name, fmt=None) -> (ZooModel, onnx path); each model built and exported once."""
    from gatesmith.verify import zoo

    root = tmp_path_factory.mktemp("zoo")

    def get(name: str, fmt: str | None = None):
        key = (name, fmt)
        if key not in _EXPORTS:
            m = zoo.build(name)
            path = root / f"{name}_{fmt or 'default'}.onnx"
            m.export(path, **({"fmt": fmt} if fmt else {}))
            _EXPORTS[key] = (m, path)
        return _EXPORTS[key]

    return get
