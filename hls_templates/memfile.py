"""The one ``$readmemh`` memory-file formatter of gatesmith.

Format: hex, one word per line, ``ceil(width/4)`` lower-case digits (zero
padded), address 0 first; an optional leading ``//`` comment header (the
generated-file banner), which ``$readmemh`` in Verilator, Vivado, Icarus and
Questa skips.  Used by the code generator for weight/threshold/parameter
memories and by the benches for stimulus memories.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

__all__ = ["format_memh", "write_memh", "read_memh", "pack_lanes", "hex_digits", "weight_load_words"]


def hex_digits(width: int) -> int:
    """Hex digits of a ``width``-bit word in a memory file."""
    if int(width) < 1:
        raise ValueError(f"memory word width must be >= 1, got {width!r}")
    return (int(width) + 3) // 4


def format_memh(words: Iterable[int], width: int, *, header: str | None = None) -> str:
    """Words (non-negative ints < 2**width) as ``$readmemh`` text.

    ``header`` (e.g. the banner) is emitted first, each line prefixed ``//``
    if it does not already start so.  A negative or too-wide word raises.
    """
    nd = hex_digits(width)
    limit = 1 << int(width)
    lines = []
    if header:
        for line in header.splitlines():
            lines.append(line if line.startswith("//") else "// " + line)
    for addr, w in enumerate(words):
        w = int(w)
        if not 0 <= w < limit:
            raise ValueError(f"memory word {addr}: {w!r} is not a {width}-bit unsigned value")
        lines.append(f"{w:0{nd}x}")
    return "\n".join(lines) + ("\n" if lines else "")


def write_memh(path, words: Iterable[int], width: int, *, header: str | None = None) -> Path:
    """Write :func:`format_memh` text to ``path``; returns the path."""
    p = Path(path)
    p.write_text(format_memh(words, width, header=header), encoding="ascii")
    return p


def read_memh(path, width: int | None = None) -> list[int]:
    """Words of a ``$readmemh``/``$writememh`` file (comments, blank lines and
    ``@addr`` markers skipped; x/z digits read as 0).

    With ``width`` every word must have exactly ``ceil(width/4)`` digits and fit.
    """
    words: list[int] = []
    in_block = False
    for raw in Path(path).read_text(encoding="ascii").splitlines():
        line = raw
        if in_block:
            if "*/" not in line:
                continue
            line = line.split("*/", 1)[1]
            in_block = False
        if "/*" in line:
            head, rest = line.split("/*", 1)
            if "*/" in rest:
                line = head + rest.split("*/", 1)[1]
            else:
                line = head
                in_block = True
        line = line.split("//", 1)[0]
        for tok in line.split():
            if tok.startswith("@"):
                continue
            tok = tok.replace("_", "")
            tok = "".join("0" if c in "xXzZ" else c for c in tok)
            word = int(tok, 16)
            if width is not None and (len(tok) != hex_digits(width) or word >> int(width)):
                raise ValueError(
                    f"{str(path)!r}: word {len(words)} {tok!r} is not a {width}-bit word "
                    f"of {hex_digits(width)} hex digits"
                )
            words.append(word)
    return words


def weight_load_words(rtl_dir, layers) -> list[int]:
    """The words a host streams into a top's ``s_axis_wl`` (``gs_wload.v``): every layer's
    memory file (``file``: its bare name in ``rtl_dir``, ``width`` bits, ``depth`` words) in
    order, address 0 first.  A missing file or a wrong word count raises ``ValueError``
    naming the layer (``node``)."""
    words: list[int] = []
    for layer in layers:
        path = Path(rtl_dir) / Path(str(layer["file"])).name
        if not path.is_file():
            raise ValueError(f"{str(layer['file'])!r}: no such memory file (layer {layer['node']!r})")
        w = read_memh(path, int(layer["width"]))
        if len(w) != int(layer["depth"]):
            raise ValueError(f"{str(layer['file'])!r}: {len(w)} words, expected {layer['depth']} (layer {layer['node']!r})")
        words += w
    return words


def pack_lanes(raw: np.ndarray, lane_bits: int) -> list[int]:
    """Rows of unsigned lane values -> one word per row, lane j at bits [j*lane_bits +: lane_bits].

    ``raw`` is 2-D ``(words, lanes)`` of non-negative integers < 2**lane_bits
    (int64 or object).  Exact for any width.
    """
    r = np.asarray(raw)
    if r.ndim != 2:
        raise ValueError(f"pack_lanes: expected a 2-D array, got shape {r.shape!r}")
    lb = int(lane_bits)
    n, lanes = r.shape
    if lanes * lb <= 63 and r.dtype != object:
        shifts = (np.arange(lanes, dtype=np.int64) * lb).astype(np.uint64)
        packed = (r.astype(np.uint64) << shifts[None, :]).sum(axis=1, dtype=np.uint64)
        return [int(v) for v in packed]
    if lb <= 62 and n and lanes:  # wide words of narrow lanes: lay out the bits, one int per row
        # each lane's little-endian bytes, unpacked to its lb bits: uint8 throughout (shifting
        # a uint64 array by every bit position was the budget search's slowest step)
        v = np.ascontiguousarray(r.astype("<u8"))
        by = v.view(np.uint8).reshape(n, lanes, 8)[:, :, :(lb + 7) // 8]
        bits = np.unpackbits(by, axis=2, bitorder="little")[:, :, :lb]
        rows = np.packbits(bits.reshape(n, lanes * lb), axis=1, bitorder="little")
        return [int.from_bytes(row.tobytes(), "little") for row in rows]
    words = []
    for row in r.tolist():
        w = 0
        for j in range(lanes - 1, -1, -1):
            w = (w << lb) | int(row[j])
        words.append(w)
    return words
