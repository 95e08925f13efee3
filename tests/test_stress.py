"""Streams under stress: the whole design under valid/ready duty cycles and long stall bursts,
inputs at the extremes of the input type, the harness' AXI-Stream monitor and deadlock report,
and a deliberately narrowed accumulator that the extremes expose."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gatesmith.hls_templates.rtl import StreamSpec

pytestmark = [pytest.mark.rtl, pytest.mark.brevitas]


@pytest.fixture(scope="module")
def rtl_cache():
    from gatesmith.verify.tools import ensure_verilator, rtl_cache_dir

    ensure_verilator()  # make test installs Verilator: missing is an error, not a skip
    return rtl_cache_dir()


@pytest.fixture(scope="module")
def pot(tmp_path_factory):
    """(zoo model, onnx path, design) of pot_mlp compiled with the default options."""
    from gatesmith.flow import compile_model, load_design
    from gatesmith.verify import zoo

    d = tmp_path_factory.mktemp("stress")
    model = zoo.build("pot_mlp")
    path = model.export(d / "pot_mlp.onnx")
    return model, path, load_design(compile_model(path, d / "out"))


def _streams(design):
    m = design.manifest
    return StreamSpec(**m["input"]["stream"]), StreamSpec(**m["output"]["stream"])


def _sim(design, q, rtl_cache, **kw):
    from gatesmith.verify.rtl_sim import simulate_rtl

    ins, outs = _streams(design)
    return simulate_rtl(design.root / "rtl", top=design.manifest["top"], in_stream=ins, out_stream=outs,
                        x_int=q, build_dir=rtl_cache, keep_run_dir=False, **kw)


def _check(design, q, res):
    from gatesmith.verify.reference import run_integer

    ins, outs = _streams(design)
    ref = run_integer(design.graph, q)
    bad = np.argwhere(res.y_int != ref)
    assert bad.size == 0, f"{len(bad)} elements differ from the reference, first at {bad[0].tolist()}"
    assert res.beats_in == len(q) * ins.beats_per_inference
    assert res.beats_out == len(q) * outs.beats_per_inference
    assert np.all(np.diff(res.out_stamps.reshape(-1)) > 0)


DUTIES = [  # (in_duty, out_duty, burst)
    (100, 100, 0), (50, 50, 0), (10, 90, 0), (90, 10, 0), (90, 90, 64),
]
SLOW_DUTIES = [(100, 10, 0), (10, 10, 0), (50, 90, 16), (100, 50, 64), (30, 70, 8)]


def _duty_run(pot, rtl_cache, di, do, burst, seed=5):
    model, _, design = pot
    x = model.sample_inputs(12, seed=seed)
    q = design.graph.input_quant.quantize(x)
    res = _sim(design, q, rtl_cache, in_duty=di, out_duty=do, burst=burst, seed=seed)
    _check(design, q, res)
    return res


@pytest.mark.parametrize("di, do, burst", DUTIES, ids=[f"{a}-{b}-burst{c}" for a, b, c in DUTIES])
def test_duty_cycles(pot, rtl_cache, di, do, burst):
    res = _duty_run(pot, rtl_cache, di, do, burst)
    assert (res.in_duty, res.out_duty, res.burst) == (di, do, burst)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("di, do, burst", SLOW_DUTIES, ids=[f"{a}-{b}-burst{c}" for a, b, c in SLOW_DUTIES])
def test_duty_cycles_sweep(pot, rtl_cache, di, do, burst, seed):
    _duty_run(pot, rtl_cache, di, do, burst, seed=seed)


def _corners(w, lo, hi):
    """Per output channel the inputs that drive its accumulator to its maximum and minimum."""
    w = np.asarray(w)
    return np.concatenate([np.where(w > 0, hi, lo), np.where(w > 0, lo, hi)]).astype(np.int64)


def _extremes(design):
    t = design.graph.value(design.graph.inputs[0]).dtype
    n = design.graph.value(design.graph.inputs[0]).shape[0]
    lo, hi = (-(1 << (t.bits - 1)), (1 << (t.bits - 1)) - 1) if t.signed else (0, (1 << t.bits) - 1)
    alt = np.where(np.arange(n) % 2 == 0, hi, lo)
    rows = [np.full(n, hi), np.full(n, lo), alt, alt[::-1], np.zeros(n, np.int64)]
    # every one-hot max / min against the other extreme, the corners of the accumulators
    rows += [np.where(np.arange(n) == i, hi, lo) for i in range(0, n, 5)]
    return np.asarray(rows, dtype=np.int64)


def test_extreme_inputs_rtl_equals_reference_equals_onnx(pot, rtl_cache):
    from gatesmith.flow import compare_outputs
    from gatesmith.verify import zoo
    from gatesmith.verify.reference import run_integer

    _, path, design = pot
    g = design.graph
    assert not g.input_quant.pre
    q = _extremes(design)
    x = (q * float(g.input_quant.scale)).astype(np.float32)
    assert np.array_equal(g.input_quant.quantize(x), q)
    ref = run_integer(g, q)
    mm, _ = compare_outputs(g, g.output_map.dequantize(ref), zoo.onnx_forward(path, x))
    assert mm == 0, f"{mm} elements of the reference differ from execute_onnx"
    for di, do in ((100, 100), (50, 50)):
        _check(design, q, _sim(design, q, rtl_cache, in_duty=di, out_duty=do, seed=9))


def test_narrowed_accumulator_differs_on_extremes(pot, rtl_cache, tmp_path):
    """One bit less than the proven accumulator width of the first layer: the RTL then
    disagrees with the reference on the extreme inputs (the width analysis is tight)."""
    from gatesmith.hls_templates.rtl import render_rtl
    from gatesmith.ir import IntType
    from gatesmith.verify.reference import run_integer
    from gatesmith.verify.rtl_sim import simulate_rtl

    _, _, design = pot
    g = design.graph
    mv = next(n for n in g.nodes if n.kind == "matvec")
    acc = mv.op.acc
    narrow = IntType(bits=acc.bits - 1, signed=acc.signed)
    nodes = [n.with_(op=dataclasses.replace(n.op, acc=narrow)) if n is mv else n for n in g.nodes]
    values = [dataclasses.replace(v, dtype=narrow) if v.name == mv.outputs[0] else v for v in g.values]
    bad = render_rtl(g.replace_nodes(nodes, values), top="gatesmith_top")
    rtl = tmp_path / "rtl"
    rtl.mkdir()
    for rel, text in bad.files.items():
        (rtl / rel).write_text(text)
    t = g.value(mv.inputs[0]).dtype
    q = np.concatenate([_extremes(design), _corners(mv.op.weights, -(1 << (t.bits - 1)), (1 << (t.bits - 1)) - 1)])
    res = simulate_rtl(rtl, top=bad.top, in_stream=bad.in_stream, out_stream=bad.out_stream, x_int=q,
                       build_dir=rtl_cache, keep_run_dir=False)
    ref = run_integer(g, q)
    assert res.y_int.shape == ref.shape
    assert np.any(res.y_int != ref), f"narrowing {mv.name}'s accumulator to {narrow} changed nothing"


# ---- the harness' own checks on hand-written designs ---------------------------------------

_BYTE = StreamSpec(elems_per_beat=1, elem_bits=8, dtype="s8", beats_per_inference=1, tdata_bits=8)

_IGNORES_READY = """
module bad_top (
    input wire clk, input wire rst_n,
    input wire [7:0] s_axis_tdata, input wire s_axis_tvalid, output wire s_axis_tready,
    output reg [7:0] m_axis_tdata, output reg m_axis_tvalid, input wire m_axis_tready
);
    // a register stage that ignores m_axis_tready: beats change and vanish while stalled
    assign s_axis_tready = 1'b1;
    always @(posedge clk) begin
        if (!rst_n) begin
            m_axis_tvalid <= 1'b0;
            m_axis_tdata  <= 8'd0;
        end else begin
            m_axis_tvalid <= s_axis_tvalid;
            m_axis_tdata  <= s_axis_tdata;
        end
    end
endmodule
"""

_SILENT = """
module bad_top (
    input wire clk, input wire rst_n,
    input wire [7:0] s_axis_tdata, input wire s_axis_tvalid, output wire s_axis_tready,
    output wire [7:0] m_axis_tdata, output wire m_axis_tvalid, input wire m_axis_tready
);
    // takes three beats, then never again; never answers
    reg [1:0] taken;
    assign s_axis_tready = taken != 2'd3;
    always @(posedge clk) begin
        if (!rst_n) taken <= 2'd0;
        else if (s_axis_tvalid && s_axis_tready) taken <= taken + 2'd1;
    end
    assign m_axis_tdata  = s_axis_tdata;
    assign m_axis_tvalid = 1'b0;
endmodule
"""


def _hand_sim(tmp_path, text, rtl_cache, **kw):
    from gatesmith.verify.rtl_sim import simulate_rtl

    rtl = tmp_path / "rtl"
    rtl.mkdir(parents=True)
    (rtl / "bad_top.v").write_text(text)
    x = np.arange(-20, 20, dtype=np.int64).reshape(-1, 1)
    return simulate_rtl(rtl, top="bad_top", in_stream=_BYTE, out_stream=_BYTE, x_int=x,
                        build_dir=rtl_cache, keep_run_dir=False, **kw)


_PASS_THROUGH = """
module bad_top (
    input wire clk, input wire rst_n,
    input wire [7:0] s_axis_tdata, input wire s_axis_tvalid, output wire s_axis_tready,
    output wire [7:0] m_axis_tdata, output wire m_axis_tvalid, input wire m_axis_tready
);
    // a wire: every stall on m_axis reaches s_axis at once
    assign m_axis_tdata  = s_axis_tdata;
    assign m_axis_tvalid = s_axis_tvalid;
    assign s_axis_tready = m_axis_tready;
endmodule
"""


def test_bursts_make_long_stall_runs(tmp_path, rtl_cache):
    """+BURST turns single-cycle stalls into runs of up to that many cycles (seen through a
    design without buffering)."""
    runs = {}
    for burst in (0, 64):
        res = _hand_sim(tmp_path / f"b{burst}", _PASS_THROUGH, rtl_cache, out_duty=90, burst=burst, seed=3)
        assert res.y_int.reshape(-1).tolist() == list(range(-20, 20))
        assert (res.beats_in, res.beats_out) == (40, 40)
        runs[burst] = (int(np.diff(res.out_stamps.reshape(-1)).max()), res.cycles_total)
    assert runs[0][0] <= 6 and runs[64][0] > 16, runs
    assert runs[64][1] > 2 * runs[0][1], runs


def test_monitor_flags_a_design_that_ignores_tready(tmp_path, rtl_cache):
    from gatesmith.verify.rtl_sim import RtlProtocolError

    # without stalls it is a fine pipeline
    res = _hand_sim(tmp_path / "a", _IGNORES_READY, rtl_cache)
    assert res.y_int.reshape(-1).tolist() == list(range(-20, 20))
    with pytest.raises(RtlProtocolError, match=r"^AXI-Stream violation on m_axis of 'bad_top': "
                       r"(tvalid dropped|tdata changed)( and tdata changed)? while tvalid && !tready in \d+ "
                       r"cycle\(s\), first at cycle \d+ \(\d+ of 40 output beats taken; N=40, seed=1, "
                       r"in_duty=100, out_duty=50, burst=0; run dir "):
        _hand_sim(tmp_path / "b", _IGNORES_READY, rtl_cache, out_duty=50, timeout_cycles=2000)


def test_deadlock_reports_beats_and_last_handshakes(tmp_path, rtl_cache):
    from gatesmith.verify.rtl_sim import RtlDeadlock

    with pytest.raises(RtlDeadlock, match=r"^deadlock: 'bad_top' stopped after 500 cycles with 0 of 40 output "
                       r"beats and 3 of 40 input beats \(last input beat cycle 3, last output beat never; "
                       r"at the end s_tvalid=1, s_tready=0, m_tvalid=0, m_tready=1\) \(N=40, seed=1, "
                       r"in_duty=100, out_duty=100, burst=0; run dir "):
        _hand_sim(tmp_path, _SILENT, rtl_cache, timeout_cycles=500)


def test_bad_burst_rejected(pot, rtl_cache):
    _, _, design = pot
    with pytest.raises(ValueError, match=r"expected burst 0 or 2\.\.65535 \(cycles\), got 1$"):
        _sim(design, np.zeros((1, 32), np.int64), rtl_cache, burst=1)
