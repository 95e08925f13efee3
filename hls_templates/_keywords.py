"""Reserved words an identifier taken from a model must not collide with.

IEEE 1800-2017 SystemVerilog keywords (a superset of Verilog-2005's),
VHDL-2008 reserved words (for VHDL wrappers) and C/C++ keywords (for HLS
C++ and Verilator's generated model), all compared lower-case.  The words
themselves are data, kept in ``reserved_words.txt`` beside this module.
"""

from __future__ import annotations

from importlib import resources

__all__ = ["RESERVED_WORDS"]


def _load() -> frozenset[str]:
    text = resources.files(__package__).joinpath("reserved_words.txt").read_text(encoding="ascii")
    return frozenset(
        w.lower() for line in text.splitlines() if not line.lstrip().startswith("#") for w in line.split()
    )


#: Every reserved word, lower-case.
RESERVED_WORDS: frozenset[str] = _load()
