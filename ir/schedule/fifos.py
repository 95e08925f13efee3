"""FIFO depths that keep reconverging branches deadlock-free under any stall pattern.

Where a stream fans out (a duplicator hands every beat to every branch) and the
branches meet again (a residual add, a concat, which consume one beat of each
input together), the branch that can run ahead must buffer what it produced
while the other branch still waits for input.  The bound here does not depend
on timing: with ``F_late(p)`` the last source pixel the slow branch needs
before it can emit its pixel ``p`` (taken generously: a sliding window waits
for the end of the row after its last row) and ``count_early(n)`` the pixels
the fast branch can emit from source pixels ``0..n`` (taken exactly: a window
needs only its own last pixel), the fast branch holds at most

    max_p  count_early(F_late(p)) - p        pixels

in front of the merge, whatever the stalls.  The FIFO in front of that merge
input gets that many pixels (in beats of the merge's input width) plus two
beats of slack; ``estimate`` reports the analysis.
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..graph import Graph, Node
from ..ops import SlidingWindow

__all__ = ["fifo_analysis", "fifo_depths"]

_SLACK_BEATS = 2


def _pixels(shape) -> int:
    return prod(shape[:-1]) if len(shape) > 1 else 1


def _need(graph: Graph, node: Node, port: int, exact: bool) -> np.ndarray:
    """For each output pixel of ``node``: the last pixel of input ``port`` it needs."""
    vin = graph.value(node.inputs[port]).shape
    vout = graph.value(node.outputs[0]).shape
    op = node.op
    if isinstance(op, SlidingWindow):
        h, w, _ = op.ifm
        (kh, kw), (sh, sw) = op.kernel, op.stride
        t, l, _, _ = op.pads
        oh, ow = op.ofm
        y = np.clip(np.arange(oh)[:, None] * sh - t + kh - 1, 0, h - 1)
        x = np.clip(np.arange(ow)[None, :] * sw - l + kw - 1, 0, w - 1)
        if exact:
            need = y * w + x
        else:  # the end of the row after the window's last row
            need = np.minimum(h * w - 1, (y + 2) * w - 1) + 0 * x
        return need.reshape(-1)
    p_in, p_out = _pixels(vin), _pixels(vout)
    if p_in == p_out:
        return np.arange(p_out)
    # a reshape (or a vector op): the element order is kept; pixel p covers elements [p*Co, (p+1)*Co)
    ci = vin[-1] if len(vin) > 1 else prod(vin)
    co = vout[-1] if len(vout) > 1 else prod(vout)
    return ((np.arange(p_out) + 1) * co - 1) // ci


def _ancestors(graph: Graph) -> dict[str, set[str]]:
    anc: dict[str, set[str]] = {}
    for v in graph.inputs:
        anc[v] = set()
    for n in graph.nodes:
        s: set[str] = set()
        for i in n.inputs:
            s |= anc.get(i, set()) | {i}
        anc[n.outputs[0]] = s
    return anc


def _reach(graph: Graph, source: str, target: str, exact: bool) -> np.ndarray:
    """For each pixel of ``target``: the last pixel of ``source`` it needs (through every path)."""
    f: dict[str, np.ndarray] = {source: np.arange(_pixels(graph.value(source).shape))}
    for n in graph.nodes:
        parts = [f[i][_need(graph, n, k, exact)] for k, i in enumerate(n.inputs) if i in f]
        if parts:
            f[n.outputs[0]] = np.maximum.reduce(parts) if len(parts) > 1 else parts[0]
        if n.outputs[0] == target:
            break
    return f[target]


def fifo_analysis(graph: Graph) -> list[dict]:
    """One entry per input of every merge node (two-input add/concat) whose inputs fork
    from a common stream: the pixels and beats its FIFO must hold."""
    anc = _ancestors(graph)
    out = []
    for n in graph.nodes:
        if len(n.inputs) < 2:
            continue
        a, b = n.inputs[:2]
        common = (anc[a] | {a}) & (anc[b] | {b})
        if not common:
            continue
        order = {v: k for k, v in enumerate(list(graph.inputs) + [m.outputs[0] for m in graph.nodes])}
        src = max(common, key=lambda v: order[v])
        pe = (n.fold.pe if n.fold is not None else 1)
        for port, (mine, other) in enumerate(((a, b), (b, a))):
            early = _reach(graph, src, mine, exact=True)
            late = _reach(graph, src, other, exact=False)
            count = np.searchsorted(early, late, side="right")  # pixels of `mine` possible per `other` pixel
            pixels = int(max(0, int((count - np.arange(len(late))).max()) if len(late) else 0))
            channels = graph.value(mine).shape[-1]
            beats = pixels * max(1, -(-channels // pe)) + _SLACK_BEATS
            out.append({"node": n.name, "port": port, "source": src, "pixels": pixels, "depth": beats})
    return out


def fifo_depths(graph: Graph) -> dict[str, int]:
    """``"node:port"`` -> FIFO depth (beats at the node's input width) for merge inputs."""
    return {f"{e['node']}:{e['port']}": e["depth"] for e in fifo_analysis(graph)}
