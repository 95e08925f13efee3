"""The generated PYNQ driver's pure-numpy part, offline (no pynq, no board).

Its packing must equal :meth:`StreamSpec.pack` (the packing the RTL is
verified with), its quantizer the model's, and its unpacking of the
reference's output words must give the reference's integers.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest

from gatesmith import flow
from gatesmith.export import export_vivado
from gatesmith.hls_templates.rtl import StreamSpec
from gatesmith.verify.reference import run_integer



def _load_driver(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _spec(m, side) -> StreamSpec:
    s = dict(m[side]["stream"])
    s.pop("elem_order", None)
    return StreamSpec(**s)


def _words_to_bytes(words, beat_bytes) -> np.ndarray:
    return np.frombuffer(b"".join(int(w).to_bytes(beat_bytes, "little") for w in words), dtype=np.uint8)


@pytest.fixture(scope="module", params=[("pot_mlp", "pynq-z2"), ("pot_mlp", "alveo-u250"), ("tfc_1w1a", "zcu104"),
                                        ("conv1d_small", "pynq-z2")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def exported(request, tmp_path_factory):
    from gatesmith.verify import zoo

    name, board = request.param
    base = tmp_path_factory.mktemp(f"drv_{name}_{board}")
    zm = zoo.build(name)
    p = zm.export(base / "m.onnx")
    out = flow.compile_model(p, base / "d", flow.CompileOptions(board=board, target_fps=1e6))
    export_vivado(out)
    drv = _load_driver(out / "vivado" / "driver" / "gatesmith_driver.py", f"gs_driver_{name}_{board.replace('-', '_')}")
    return zm, out, drv


def test_no_pynq_import_at_module_level(exported):
    _, _, drv = exported
    assert "pynq" not in sys.modules or not hasattr(drv, "Overlay")
    assert not hasattr(drv, "Overlay") and not hasattr(drv, "allocate")


def test_pack_equals_streamspec_and_round_trips(exported):
    zm, out, drv = exported
    design = flow.load_design(out)
    m = design.manifest
    ins, outs = _spec(m, "input"), _spec(m, "output")
    x = zm.sample_inputs(16, seed=3)
    q_stream = design.graph.input_quant.quantize(np.asarray(x, np.float32))  # (N, *IR input shape)
    q = q_stream.reshape(len(x), -1)
    assert np.array_equal(drv.quantize(x), q)  # the driver's quantizer is the model's (channels-last order too)

    buf = drv.pack(q)
    assert buf.dtype == np.uint8 and buf.shape == (16 * ins.beats_per_inference, drv.INPUT["beat_bytes"])
    assert drv.INPUT["beat_bytes"] * 8 >= ins.tdata_bits
    expect = _words_to_bytes(ins.pack(q), drv.INPUT["beat_bytes"])
    assert np.array_equal(buf.reshape(-1), expect)
    assert np.array_equal(drv.unpack(buf, drv.INPUT), q)  # round trip

    # outputs: the reference's integers, packed as the RTL emits them, unpack to themselves
    y = run_integer(design.graph, q_stream).reshape(len(x), -1)
    words = outs.pack(y)
    got = drv.unpack(_words_to_bytes(words, drv.OUTPUT["beat_bytes"]), drv.OUTPUT)
    assert np.array_equal(got, np.asarray(y, dtype=np.int64))
    assert np.array_equal(drv.pack(got, drv.OUTPUT).reshape(-1), _words_to_bytes(words, drv.OUTPUT["beat_bytes"]))
    if drv.OUTPUT_MAP is not None:
        np.testing.assert_array_equal(drv.dequantize(got), design.graph.output_map.dequantize(y))


def test_extreme_values_round_trip(exported):
    _, out, drv = exported
    m = json.loads((out / "manifest.json").read_text())
    for side, spec in (("input", drv.INPUT), ("output", drv.OUTPUT)):
        s = _spec(m, side)
        t = s.type
        vals = np.array([-1, 1]) if t.bipolar else np.array([t.min, t.max, 0, t.min + 1, t.max - 1]).clip(t.min, t.max)
        rng = np.random.default_rng(5)
        x = rng.choice(vals, size=(7, s.elems))
        buf = drv.pack(x, spec)
        assert np.array_equal(buf.reshape(-1), _words_to_bytes(s.pack(x), spec["beat_bytes"]))
        assert np.array_equal(drv.unpack(buf, spec), x)


def test_pack_rejects_bad_input(exported):
    _, out, drv = exported
    n = drv.INPUT["elems_per_beat"] * drv.INPUT["beats_per_inference"]
    with pytest.raises(ValueError, match="expected integers of shape"):
        drv.pack(np.zeros((2, n + 1), np.int64))
    with pytest.raises(ValueError):
        drv.pack(np.full((1, n), 1 << 40, np.int64))
