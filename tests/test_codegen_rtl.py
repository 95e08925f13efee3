"""RTL code generator (hls_templates/rtl.py, top.v.j2) and the whole-design harness (verify/rtl_sim.py).

Small IR graphs are built by hand with random constants from fixed seeds.
Every design is rendered twice (byte-identical), linted with
``verilator --lint-only -Wall`` (default language and Verilog-2001), and
simulated on >= 32 inputs (extremes + random) without and with stalls; the
outputs must equal ``run_integer`` element for element.  Builds are cached in
``$GATESMITH_RTL_CACHE`` or ``<repo>/.cache/rtl_sim`` (keyed by content).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatesmith import __version__
from gatesmith.hls_templates.env import (
    Namer, banner, render, sanitize_ident, tcl_quote, vhex, vstring,
)
from gatesmith.hls_templates.memfile import format_memh, pack_lanes, read_memh
from gatesmith.hls_templates.rtl import CodegenError, RtlDesign, StreamSpec, core_source, render_rtl
from gatesmith.ir import (
    BipolarType, Fold, Graph, InputQuant, IntType, MatVec, MultiThreshold, Node, OutputKind, OutputMap,
    Requant, Rounding, Value, type_for_range,
)
from gatesmith.ir.intervals import matvec_range
from gatesmith.ir.ops import frozen_array
from gatesmith.verify.reference import run_integer

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


# --------------------------------------------------------------------------- graph helpers


def _chain(name: str, in_t, in_len: int, layers) -> Graph:
    """layers: (node name, op, Fold) in order; value types come from the ops."""
    values = [Value(name="x", shape=(in_len,), dtype=in_t)]
    nodes = []
    prev, shape, t = "x", (in_len,), in_t
    for i, (nm, op, fold) in enumerate(layers):
        out = f"t{i}"
        shape = op.out_shape(shape)
        t = op.out_type(t)
        values.append(Value(name=out, shape=shape, dtype=t))
        nodes.append(Node(name=nm, op=op, inputs=(prev,), outputs=(out,), fold=fold, origin=f"onnx_{i}"))
        prev = out
    iq = InputQuant(onnx_shape=(in_len,), pre=(), scale=frozen_array(1.0, np.float32),
                    zero_point=frozen_array(0.0, np.float32), dtype=in_t, narrow=False,
                    rounding=Rounding.ROUND)
    om = OutputMap(kind=OutputKind.QUANT, onnx_shape=shape, scale=frozen_array(1.0, np.float32),
                   zero_point=frozen_array(0.0, np.float32))
    return Graph(name=name, values=tuple(values), nodes=tuple(nodes), inputs=("x",), outputs=(prev,),
                 input_quant=iq, output_map=om)


def _values(rng, t, shape):
    if t.bipolar:
        return np.where(rng.integers(0, 2, size=shape) > 0, 1, -1)
    return rng.integers(t.min, t.max + 1, size=shape)


def _inputs(rng, t, c: int, n_random: int = 32) -> np.ndarray:
    """All min, all max, alternating (both phases), zero if in range, then random rows."""
    lo, hi = (-1, 1) if t.bipolar else (int(t.min), int(t.max))
    alt = np.array([lo if i % 2 == 0 else hi for i in range(c)])
    rows = [np.full(c, lo), np.full(c, hi), alt, alt[::-1].copy()]
    if not t.bipolar and lo <= 0 <= hi:
        rows.append(np.zeros(c, dtype=np.int64))
    rows.append(_values(rng, t, (n_random, c)))
    return np.vstack([np.atleast_2d(r) for r in rows]).astype(np.int64)


class _Builder:
    """Builds a chain layer by layer, choosing thresholds and requant constants from the
    activations the test inputs actually produce (so every level, rounding tie and
    clamp is exercised, not just saturation)."""

    def __init__(self, name: str, in_t, in_len: int, seed: int):
        self.name, self.in_t, self.in_len = name, in_t, in_len
        self.rng = np.random.default_rng(seed)
        self.x = _inputs(self.rng, in_t, in_len)
        self.cur, self.t, self.layers = self.x, in_t, []

    def _add(self, name, op, fold):
        self.layers.append((name, op, fold))
        self.cur = np.asarray(op.evaluate(self.cur))
        self.t = op.out_type(self.t)
        return self

    def matvec(self, name, mh, wtype, fold):
        w = _values(self.rng, wtype, (mh, self.cur.shape[1]))
        lo, hi = matvec_range(w, self.t)
        acc = type_for_range(int(lo.min()), int(hi.max()))
        return self._add(name, MatVec(weights=frozen_array(w), wtype=wtype, acc=acc), fold)

    def threshold(self, name, out, fold, *, n=None, base=0):
        c = self.cur.shape[1]
        n = (1 if out.bipolar else out.max - base) if n is None else n
        q = np.linspace(0.1, 0.9, n) if n > 1 else np.array([0.5])
        t = np.quantile(self.cur, q, axis=0).T + self.rng.integers(-1, 2, size=(c, n))
        t = np.sort(np.round(t).astype(np.int64), axis=1)
        if c > 2:  # one channel entirely above, one below the input range (clipping path)
            t[0, :] = int(self.t.max) + 1 + self.rng.integers(0, 50, size=n)
            t[1, :] = int(self.t.min) - 1 - self.rng.integers(0, 50, size=n)
            t[:2] = np.sort(t[:2], axis=1)
        return self._add(name, MultiThreshold(thresholds=frozen_array(t), base=base, out=out), fold)

    def requant(self, name, out, rounding, fold, *, use_mult, shift, narrow=False):
        x = np.asarray(self.cur, dtype=np.int64)
        c = x.shape[1]
        lo, hi = int(out.min), int(out.max)
        if narrow:
            lo, hi = lo + (hi - lo) // 4, hi - (hi - lo) // 4
        span_o, mid_o = hi - lo, (hi + lo) / 2
        span_x = np.maximum(x.max(axis=0) - x.min(axis=0), 1)
        if shift is None:  # smallest shift that does not saturate most outputs
            need = float(np.median(span_x)) / (1.5 * span_o)
            shift = max(1, int(np.ceil(np.log2(max(need, 1.0)))) + (1 if use_mult else 0))
        if use_mult:
            mag = np.maximum(1, np.round(1.3 * span_o * 2**shift / span_x * self.rng.uniform(0.7, 1.3, c)))
            m = (mag * self.rng.choice([-1, 1], size=c)).astype(np.int64)
        else:
            m = np.ones(c, dtype=np.int64)
        mid_x = (x.max(axis=0) + x.min(axis=0)) / 2
        b = np.round(mid_o * 2**shift - m * mid_x).astype(np.int64)
        b += self.rng.integers(-(2**shift), 2**shift + 1, size=c)
        op = Requant(mult=frozen_array(m), bias=frozen_array(b), shift=shift, rounding=rounding,
                     lo=lo, hi=hi, out=out, use_mult=use_mult)
        return self._add(name, op, fold)

    def build(self) -> tuple[Graph, np.ndarray]:
        return _chain(self.name, self.in_t, self.in_len, self.layers), self.x


# --------------------------------------------------------------------------- the designs


def case_a():
    """matvec(PE=2,SIMD=4) -> threshold -> matvec(PE=1,SIMD=3: DWC 2->3) -> requant (DWC 1->3)."""
    return (
        _Builder("case_a", IntType(bits=4, signed=True), 16, seed=101)
        .matvec("fc0", 12, IntType(bits=3, signed=True), Fold(pe=2, simd=4))
        .threshold("act0", IntType(bits=2, signed=False), Fold(pe=2))
        .matvec("fc1", 6, IntType(bits=4, signed=True), Fold(pe=1, simd=3))
        .requant("out_q", IntType(bits=4, signed=True), Rounding.ROUND, Fold(pe=3), use_mult=True, shift=3)
        .build()
    )


def case_b():
    """Bipolar input and weights (XNOR) -> bipolar threshold -> matvec (bipolar input, s3 weights)."""
    return (
        _Builder("case_b", BipolarType(), 32, seed=202)
        .matvec("xnor0", 16, BipolarType(), Fold(pe=4, simd=8))
        .threshold("sign0", BipolarType(), Fold(pe=2))
        .matvec("fc1", 8, IntType(bits=3, signed=True), Fold(pe=2, simd=4))
        .build()
    )


def case_c1():
    """Signed 8-bit input and weights; requants ROUND/CEIL/FLOOR/UP with use_mult 1 and 0,
    an unsigned requant output into the next requant (zero-extension adapter)."""
    return (
        _Builder("case_c1", IntType(bits=8, signed=True), 8, seed=303)
        .matvec("mv", 8, IntType(bits=8, signed=True), Fold(pe=2, simd=2))
        .requant("rq_round", IntType(bits=8, signed=True), Rounding.ROUND, Fold(pe=2), use_mult=True,
                 shift=None)
        .requant("rq_ceil", IntType(bits=8, signed=True), Rounding.CEIL, Fold(pe=4), use_mult=False,
                 shift=1, narrow=True)
        .requant("rq_floor", IntType(bits=4, signed=False), Rounding.FLOOR, Fold(pe=1), use_mult=True, shift=3)
        .requant("rq_up", IntType(bits=6, signed=True), Rounding.UP, Fold(pe=8), use_mult=True, shift=2)
        .build()
    )


def case_c2():
    """Unsigned 8-bit input straight into a requant (zero-extension at the top input); DOWN,
    HALF_UP, HALF_DOWN; unsigned input x unsigned weights (an unsigned accumulator, widened
    into the next requant); a threshold with unsigned input and negative base."""
    return (
        _Builder("case_c2", IntType(bits=8, signed=False), 8, seed=404)
        .requant("rq_down", IntType(bits=8, signed=True), Rounding.DOWN, Fold(pe=4), use_mult=True,
                 shift=2, narrow=True)
        .requant("rq_half_up", IntType(bits=6, signed=True), Rounding.HALF_UP, Fold(pe=2), use_mult=False,
                 shift=2)
        .requant("rq_relu", IntType(bits=4, signed=False), Rounding.ROUND, Fold(pe=8), use_mult=False,
                 shift=1)
        .matvec("mv", 4, IntType(bits=3, signed=False), Fold(pe=4, simd=8))
        .requant("rq_half_down", IntType(bits=5, signed=False), Rounding.HALF_DOWN, Fold(pe=1),
                 use_mult=True, shift=1)
        .threshold("thr", IntType(bits=3, signed=True), Fold(pe=2), n=4, base=-2)
        .build()
    )


CASES = {"a": case_a, "b": case_b, "c1": case_c1, "c2": case_c2}


# --------------------------------------------------------------------------- fixtures


def _written(design: RtlDesign, where: Path) -> Path:
    rtl = where / "rtl"
    design.write(rtl)
    return rtl


def _lint(rtl: Path, top: str) -> None:
    from gatesmith.verify import rtl_runner
    from gatesmith.verify.rtl_sim import lint_design

    lint_design(rtl, top)
    srcs = sorted(rtl.glob("*.v"))
    rtl_runner.lint(srcs, top, extra_args=["--default-language", "1364-2001"])


# --------------------------------------------------------------------------- codegen (no tools)


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_is_deterministic_and_bannered(case):
    g, _ = CASES[case]()
    d1, d2 = render_rtl(g), render_rtl(CASES[case]()[0])
    assert d1.files == d2.files
    assert list(d1.files) == sorted(d1.files)
    head = f"// Generated by gatesmith {__version__} -- do not edit."
    for path, text in d1.files.items():
        if path.startswith("gs_"):
            assert text == core_source(path[:-2])  # verbatim copies of the cores
        else:
            text.encode("ascii")
            assert text.startswith(head + "\n"), path
    assert d1.sources[-1] == "gatesmith_top.v"
    assert all(s in d1.files for s in d1.sources)
    assert [s.node for s in d1.stages] == [n.name for n in g.nodes]


def test_case_a_structure():
    d = render_rtl(case_a()[0])
    top = d.files["gatesmith_top.v"]
    assert d.in_stream == StreamSpec(elems_per_beat=4, elem_bits=4, dtype="s4", beats_per_inference=4,
                                     tdata_bits=16)
    assert d.out_stream == StreamSpec(elems_per_beat=3, elem_bits=4, dtype="s4", beats_per_inference=2,
                                      tdata_bits=12)
    # threshold output (2 lanes) -> fc1 (SIMD=3), fc1 (PE=1) -> out_q (PE=3)
    assert ".IN_ELEMS  (2),\n        .OUT_ELEMS (3)" in top
    assert ".IN_ELEMS  (1),\n        .OUT_ELEMS (3)" in top
    assert top.count("gs_fifo #(") == 3
    assert {"gs_mvu.v", "gs_thresholds.v", "gs_requant.v", "gs_rom.v", "gs_fifo.v", "gs_dwc.v", "gs_skid.v"} <= set(d.files)
    kinds = [(s.name, s.core) for s in d.stages]
    assert kinds == [("fc0", "gs_mvu"), ("act0", "gs_thresholds"), ("fc1", "gs_mvu"), ("out_q", "gs_requant")]
    assert d.stages[0].parameters["WEIGHT_FILE"] == "fc0_weights.mem"


def test_fifo_depth_is_a_context_value():
    g, _ = case_a()

    def depths(**kw):
        d = render_rtl(g, **kw).files["gatesmith_top.v"]
        return [int(v) for v in re.findall(r"\.DEPTH \((\d+)\)", d)]

    assert depths() == [2, 4, 2]  # auto: act0 (stream) 2, fc1 one vector (SF = 12/3), out_q 2
    assert depths(fifo_depth={"act0": 8}) == [8, 4, 2]
    assert depths(fifo_depth=3) == [3, 3, 3]
    top0 = render_rtl(g, fifo_depth=0).files["gatesmith_top.v"]
    assert "gs_fifo #(" not in top0
    with pytest.raises(CodegenError, match="FIFO depth must be 0"):
        render_rtl(g, fifo_depth=1)


def test_weight_memory_layout():
    """word n*SF+s, bits [(p*SIMD+k)*W_BITS +: W_BITS] = W[n*PE+p][s*SIMD+k] (two's complement)."""
    g, _ = case_a()
    d = render_rtl(g)
    w = np.asarray(g.nodes[0].op.weights)
    pe, simd, wb = 2, 4, 3
    words = read_memh_text(d.files["fc0_weights.mem"], pe * simd * wb)
    sf = w.shape[1] // simd
    assert len(words) == (w.shape[0] // pe) * sf
    for n in range(w.shape[0] // pe):
        for s in range(sf):
            for p in range(pe):
                for k in range(simd):
                    raw = (words[n * sf + s] >> ((p * simd + k) * wb)) & 7
                    val = raw - 8 if raw >= 4 else raw
                    assert val == w[n * pe + p, s * simd + k]


def read_memh_text(text: str, width: int) -> list[int]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "m.mem"
        p.write_text(text)
        return read_memh(p, width)


def test_errors_name_the_node(tiny_graph):
    g = tiny_graph  # holds a 'requantize' node (not lowered to threshold/requant)
    g = g.replace_nodes([n.with_(fold=Fold(pe=1, simd=1)) for n in g.nodes])
    with pytest.raises(CodegenError) as e:
        render_rtl(g)
    msg = str(e.value)
    assert "'rq0'" in msg and "'requantize'" in msg and "['add', 'concat', 'labelselect', 'matvec', 'pool', 'requant', 'swg', 'threshold', 'vvu']" in msg
    g2, _ = case_a()
    g2 = g2.replace_nodes([g2.nodes[0].with_(fold=None), *g2.nodes[1:]])
    with pytest.raises(CodegenError, match=r"node 'fc0' \(matvec, from onnx_0\): no folding"):
        render_rtl(g2)
    for bad in ("", "1top", "module", "a b", "gs_top", 'x"'):
        with pytest.raises(CodegenError, match="top module name"):
            render_rtl(case_a()[0], top=bad)


def test_stream_spec_pack_roundtrip():
    rng = np.random.default_rng(5)
    for t, e, c in ((IntType(bits=5, signed=True), 3, 9), (IntType(bits=7, signed=False), 4, 8),
                    (BipolarType(), 8, 16), (IntType(bits=40, signed=True), 2, 4)):
        spec = StreamSpec(elems_per_beat=e, elem_bits=t.bits, dtype=str(t), beats_per_inference=c // e,
                          tdata_bits=e * t.bits)
        x = _inputs(rng, t, c, n_random=5)
        words = spec.pack(x)
        assert len(words) == len(x) * (c // e)
        assert all(0 <= w < (1 << spec.tdata_bits) for w in words)
        np.testing.assert_array_equal(spec.unpack(words), x)
    spec = StreamSpec(elems_per_beat=2, elem_bits=4, dtype="u4", beats_per_inference=1, tdata_bits=8)
    assert spec.pack(np.array([[1, 15]])) == [0xF1]
    with pytest.raises(ValueError, match="do not fit the stream type u4"):
        spec.pack(np.array([[16, 0]]))


# --------------------------------------------------------------------------- env, names, memfile


def test_sanitize_and_namer():
    hostile = ['a"b', "x\ny", "c*/d", "$e", "f\\g", "module", "héllo", "z" * 1000, "", "9lives", "__a__b__"]
    out = [sanitize_ident(h) for h in hostile]
    assert all(IDENT.match(o) for o in out)
    assert out[5] == "module_" and out[8] == "n" and out[9] == "n_9lives" and out[10] == "a_b"
    assert len(out[7]) <= 48
    nm = Namer(reserved=("clk",))
    got = [nm.claim(x) for x in ["clk", "a", "A", "a", "a_1", "wire"]]
    assert got == ["clk_1", "a", "A_1", "a_2", "a_1_1", "wire_"]
    nm2 = Namer()
    assert nm2.claim("s", ("_tdata", "_tvalid")) == "s"
    nm2.reserve("t_tvalid")
    assert nm2.claim("t", ("_tdata", "_tvalid")) == "t_1"


def test_filters():
    assert vhex(-1, 8) == "8'hff" and vhex(5, 3) == "3'h5" and vhex(0, 1) == "1'h0"
    with pytest.raises(ValueError):
        vhex(256, 8)
    assert vstring('a"b\\c\n') == '"a\\"b\\\\c\\012"'
    assert tcl_quote('x $y [z] {w} "q" \\ \n é') == '"x \\$y \\[z\\] \\{w\\} \\"q\\" \\\\ \\n \\u00e9"'
    assert banner("#").splitlines()[0] == f"# Generated by gatesmith {__version__} -- do not edit."
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):  # StrictUndefined: a missing context value is an error
        render("top.v.j2", top="t")


def test_memfile_format():
    assert format_memh([1, 255, 16], 9) == "001\n0ff\n010\n"
    assert format_memh([], 4) == ""
    assert format_memh([3], 4, header="hi").startswith("// hi\n")
    with pytest.raises(ValueError, match="not a 4-bit unsigned value"):
        format_memh([16], 4)
    assert pack_lanes(np.array([[1, 2, 3]]), 4) == [0x321]
    big = np.array([[1, 0, (1 << 40) - 1]], dtype=object)
    assert pack_lanes(big, 40) == [((1 << 40) - 1) << 80 | 1]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 62), st.integers(1, 24), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_pack_lanes_matches_the_shift_loop(lane_bits, lanes, words, seed):
    """Every path of pack_lanes (one uint64 a row, bytes unpacked to bits, Python ints) equals
    the plain loop: lane j at bits [j*lane_bits +: lane_bits]."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 1 << lane_bits, size=(words, lanes), dtype=np.uint64).astype(np.int64)
    raw[0, :] = (1 << lane_bits) - 1  # the all-ones lane: every bit of the layout
    expect = []
    for row in raw.tolist():
        w = 0
        for v in reversed(row):
            w = (w << lane_bits) | v
        expect.append(w)
    assert pack_lanes(raw, lane_bits) == expect
    assert pack_lanes(raw.astype(object), lane_bits) == expect


# --------------------------------------------------------------------------- lint + simulate


@pytest.mark.rtl
@pytest.mark.parametrize("case", sorted(CASES))
def test_rtl_matches_reference(case, tmp_path, rtl_cache):
    from gatesmith.verify.rtl_sim import simulate_rtl

    g, x = CASES[case]()
    d = render_rtl(g)
    rtl = _written(d, tmp_path)
    _lint(rtl, d.top)
    assert len(x) >= 32
    y_ref = run_integer(g, x)
    for bp in (False, True):
        r = simulate_rtl(rtl, top=d.top, in_stream=d.in_stream, out_stream=d.out_stream, x_int=x,
                         backpressure=bp, seed=3, build_dir=rtl_cache)
        assert r.y_int.shape == y_ref.shape
        bad = np.argwhere(r.y_int != y_ref)
        assert bad.size == 0, (
            f"case {case} backpressure={bp}: {len(bad)} mismatches, first at {bad[:5].tolist()}: "
            f"rtl {[int(r.y_int[tuple(i)]) for i in bad[:5]]} ref {[int(y_ref[tuple(i)]) for i in bad[:5]]}"
        )
        assert r.cycles_total > r.latency_cycles > 0
        assert r.cycles_per_inference > 0
        if not bp:
            # unstalled: one inference per the slowest stage's NF*SF cycles
            ii = max(
                (n.op.mh // n.fold.pe) * (n.op.mw // n.fold.simd) if n.kind == "matvec"
                else n.op.channels // n.fold.pe
                for n in g.nodes
            )
            ii = max(ii, d.in_stream.beats_per_inference, d.out_stream.beats_per_inference)
            assert r.cycles_per_inference == ii


@pytest.mark.rtl
def test_hostile_names_lint_clean(tmp_path, rtl_cache):
    g, _ = case_a()
    # the IR verifier rejects equal node names, so the duplicates are names that sanitise equal
    names = ['fc"0\n*/ $x \\y \u00e9\u2603', "module", "module;", "q" * 1000]
    g = g.replace_nodes([n.with_(name=nm) for n, nm in zip(g.nodes, names, strict=True)])
    d = render_rtl(g)
    assert render_rtl(g).files == d.files
    stage_names = [s.name for s in d.stages]
    assert all(IDENT.match(s) and len(s) <= 48 for s in stage_names)
    assert len({s.lower() for s in stage_names}) == len(stage_names)
    assert stage_names[:3] == ["fc_0_x_y", "module_", "module_1"]
    assert stage_names[3] == "q" * 48
    for path in d.files:
        assert re.fullmatch(r"[A-Za-z0-9_.]+", path), path
    top = d.files["gatesmith_top.v"]
    top.encode("ascii")
    for raw in ('fc"0', "*/", "$x", "\\y", "module;"):
        assert raw not in top, raw
    _lint(_written(d, tmp_path), d.top)


@pytest.mark.rtl
def test_timeout_is_reported_as_deadlock(tmp_path, rtl_cache):
    """Running out of the cycle budget is reported with the cycle count and the beats seen
    (same harness shape as case a: no rebuild)."""
    from gatesmith.verify.rtl_sim import RtlDeadlock, simulate_rtl

    g, x = case_a()
    d = render_rtl(g)
    rtl = _written(d, tmp_path)
    with pytest.raises(RtlDeadlock, match=r"deadlock: 'gatesmith_top' stopped after 100 cycles with \d+ "
                       r"of 74 output beats"):
        simulate_rtl(rtl, top=d.top, in_stream=d.in_stream, out_stream=d.out_stream, x_int=x,
                     build_dir=rtl_cache, timeout_cycles=100, keep_run_dir=False)


@pytest.mark.rtl
def test_cocotb_clock_mode_is_cycle_identical(tmp_path, rtl_cache):
    """The harness' own clock (default, fastest) and cocotb's Clock give the same cycles."""
    from gatesmith.verify.rtl_sim import simulate_rtl

    g, x = case_b()
    d = render_rtl(g)
    rtl = _written(d, tmp_path)
    runs = [
        simulate_rtl(rtl, top=d.top, in_stream=d.in_stream, out_stream=d.out_stream, x_int=x,
                     backpressure=True, seed=7, build_dir=rtl_cache, clock=clock)
        for clock in ("verilog", "cocotb")
    ]
    np.testing.assert_array_equal(runs[0].y_int, run_integer(g, x))
    np.testing.assert_array_equal(runs[1].y_int, runs[0].y_int)
    np.testing.assert_array_equal(runs[1].out_stamps, runs[0].out_stamps)
    np.testing.assert_array_equal(runs[1].in_stamps, runs[0].in_stamps)
