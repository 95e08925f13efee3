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


# ---------------------------------------------------------------------------- weights in URAM: load_weights


class _Buf(np.ndarray):
    """What ``pynq.allocate`` returns, enough for the driver: an ndarray with cache calls."""

    def flush(self):
        pass

    def invalidate(self):
        pass

    def freebuffer(self):
        pass


class _FakeAccel:
    """The overlay's accelerator behind its DMAs, in numpy: it takes the weight-load words
    (checked by the test), then gates inputs on weights_loaded like the RTL top, and answers
    every inference with the reference's output words."""

    def __init__(self, drv, graph):
        self.drv, self.graph = drv, graph
        self.weight_bytes = []  # one entry per weight DMA transfer
        self.loaded = False
        self.pending = []
        outer = self

        class _Send:
            def __init__(self, on):
                self.on = on

            def transfer(self, buf):
                self.on(np.array(buf, dtype=np.uint8))

            def wait(self):
                pass

        class _Recv:
            def transfer(self, buf):
                buf[:] = outer.pending.pop(0)

            def wait(self):
                pass

        class _Dma:
            def __init__(self, on):
                self.sendchannel, self.recvchannel = _Send(on), _Recv()

        class _Chan:
            def read(self):
                return int(outer.loaded)

        class _Gpio:
            channel1 = _Chan()

        self.dma, self.wl_dma, self.gpio = _Dma(self._inputs), _Dma(self._weights), _Gpio()

    def _weights(self, data):
        assert not self.loaded, "gs_wload takes no words after weights_loaded (tready low)"
        self.weight_bytes.append(data)
        self.loaded = True

    def _inputs(self, data):
        assert self.loaded, "inputs sent before the weight load: the top would not take them"
        drv = self.drv
        x = drv.unpack(data, drv.INPUT)
        shape = (len(x),) + tuple(self.graph.value(self.graph.inputs[0]).shape)
        y = run_integer(self.graph, x.reshape(shape)).reshape(len(x), -1)
        words = drv.pack(y, drv.OUTPUT).reshape(len(x), -1)
        self.pending += list(words)


def _fake_pynq(monkeypatch, accel):
    import types

    def allocate(shape, dtype):
        return np.zeros(shape, dtype=dtype).view(_Buf)

    class Overlay:
        def __init__(self, bitfile, download=True):
            self.axi_dma_0, self.axi_dma_wl, self.weights_loaded_gpio = accel.dma, accel.wl_dma, accel.gpio

    mod = types.ModuleType("pynq")
    mod.Overlay, mod.allocate = Overlay, allocate
    monkeypatch.setitem(sys.modules, "pynq", mod)


@pytest.fixture(scope="module")
def uram_exported(tmp_path_factory):
    from gatesmith.verify import zoo

    base = tmp_path_factory.mktemp("drv_uram")
    zm = zoo.build("pot_mlp")
    p = zm.export(base / "m.onnx")
    out = flow.compile_model(p, base / "d", flow.CompileOptions(board="zcu104", target_fps=1e6, mem_style="uram",
                                                                backend="rtl"))
    export_vivado(out)
    return zm, out, _load_driver(out / "vivado" / "driver" / "gatesmith_driver.py", "gs_driver_uram")


def test_load_weights_streams_the_harness_words_then_runs(uram_exported, monkeypatch):
    """The driver's weight stream is, word for word, what verify/rtl_sim.py's harness streams
    into s_axis_wl (every layer's .mem file in the manifest's order), one word a DMA beat,
    little-endian in beat_bytes; sent once, at init, before any input."""
    from gatesmith.verify.rtl_sim import weight_load_words

    zm, out, drv = uram_exported
    design = flow.load_design(out)
    wl = design.manifest["weight_load"]
    words = weight_load_words(out / "rtl", wl)
    assert drv.WEIGHT_LOAD["words"] == wl["words"] == len(words) > 0
    assert drv.WEIGHT_LOAD["word_bits"] == wl["tdata_bits"]
    nb = drv.WEIGHT_LOAD["beat_bytes"]
    assert nb * 8 >= wl["tdata_bits"] and nb & (nb - 1) == 0  # the DMA's power-of-two stream width
    expect = _words_to_bytes(words, nb)
    assert np.array_equal(drv.weight_words().reshape(-1), expect)

    accel = _FakeAccel(drv, design.graph)
    _fake_pynq(monkeypatch, accel)
    a = drv.Accelerator()
    assert len(accel.weight_bytes) == 1 and np.array_equal(accel.weight_bytes[0], expect)
    assert a.weights_loaded() and a.load_weights() is False  # once after reset
    assert len(accel.weight_bytes) == 1
    x = zm.sample_inputs(6, seed=2)
    q = drv.quantize(x)
    y = a.run_int(q)
    ref = run_integer(design.graph, design.graph.input_quant.quantize(np.asarray(x, np.float32))).reshape(6, -1)
    assert np.array_equal(y, ref)

    # load_weights=False: the weights go out before the first inference
    accel2 = _FakeAccel(drv, design.graph)
    _fake_pynq(monkeypatch, accel2)
    b = drv.Accelerator(load_weights=False)
    assert not accel2.weight_bytes and not b.weights_loaded()
    assert np.array_equal(b.run_int(q), ref)
    assert len(accel2.weight_bytes) == 1 and np.array_equal(accel2.weight_bytes[0], expect)


def test_weight_words_rejects_a_short_file(uram_exported, tmp_path):
    _, out, drv = uram_exported
    lines = (out / "vivado" / "driver" / "weights.memh").read_text().splitlines()
    bad = tmp_path / "w.memh"
    bad.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ValueError, match=r"expected %d words of %d bits, got %d" % (
            drv.WEIGHT_LOAD["words"], drv.WEIGHT_LOAD["word_bits"], drv.WEIGHT_LOAD["words"] - 1)):
        drv.weight_words(bad)


def test_weight_words_without_uram(exported):
    _, _, drv = exported
    assert drv.WEIGHT_LOAD is None
    with pytest.raises(ValueError, match="nothing to load"):
        drv.weight_words()
