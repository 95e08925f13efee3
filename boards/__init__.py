"""Board descriptions: one YAML file a board, loaded through a strict schema.

Resources are counted in the family's own units: for Xilinx families (``xc7``,
``xcup``, ``xcu``) ``lut`` is 6-input LUTs, ``dsp`` DSP48 slices and ``bram18``
18 Kb block RAMs; for Lattice ``ecp5`` ``lut`` is 4-input LUTs, ``dsp`` 18x18
multipliers (MULT18X18D) and ``bram18`` 18 Kb EBR blocks (DP16KD), ``uram`` 0.
ECP5 boards also name what Yosys/nextpnr-ecp5 need: ``nextpnr_device`` (the
``--85k``-style device flag), ``package`` and ``speed``; Xilinx boards must not.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from importlib import resources

import yaml

__all__ = ["Board", "BoardError", "board_names", "load_board", "FAMILIES", "ECP5_DEVICES"]


class BoardError(ValueError):
    """An unknown board or a malformed board file."""


@dataclass(frozen=True, kw_only=True)
class Board:
    name: str
    part: str
    family: str  # yosys synth_xilinx family xc7, xcup, xcu; or ecp5 (synth_ecp5)
    lut: int
    ff: int
    dsp: int
    bram18: int
    uram: int
    clock_mhz: float
    ps: str  # zynq7, zynqmp, none
    board_part: str | None = None  # Vivado board part, where one exists
    nextpnr_device: str | None = None  # ecp5 only: nextpnr-ecp5 device flag without "--", e.g. 85k
    package: str | None = None  # ecp5 only: nextpnr-ecp5 --package, e.g. CABGA381
    speed: int | None = None  # ecp5 only: speed grade 6, 7 or 8


FAMILIES = ("xc7", "xcup", "xcu", "ecp5")
ECP5_DEVICES = ("12k", "25k", "45k", "85k", "um-25k", "um-45k", "um-85k", "um5g-25k", "um5g-45k", "um5g-85k")
_PS = ("zynq7", "zynqmp", "none")
_ECP5_ONLY = ("nextpnr_device", "package", "speed")
_OPTIONAL = ("board_part",) + _ECP5_ONLY
_ECP5_SPEEDS = (6, 7, 8)


def _board_dir():
    """Where the board files live (a package resource directory; tests point it elsewhere)."""
    return resources.files(__name__)


def board_names() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in _board_dir().iterdir() if p.name.endswith(".yaml"))


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check(src: str, data: dict) -> None:
    allowed = [f.name for f in fields(Board)]
    for key in data:
        if key not in allowed:
            raise BoardError(f"{src}: unknown key {key!r}; expected {', '.join(allowed)}")
    for key in allowed:
        if key not in data and key not in _OPTIONAL:
            raise BoardError(f"{src}: missing key {key!r}")
    for key in ("name", "part", "family", "ps"):
        if not isinstance(data[key], str) or not data[key]:
            raise BoardError(f"{src}: {key} must be a non-empty string, got {data[key]!r}")
    if data["family"] not in FAMILIES:
        raise BoardError(f"{src}: family must be one of {FAMILIES!r}, got {data['family']!r}")
    for key in ("lut", "ff", "dsp", "bram18", "uram"):
        if not _is_int(data[key]) or data[key] < 0:
            raise BoardError(f"{src}: {key} must be a non-negative integer, got {data[key]!r}")
    clock = data["clock_mhz"]
    if not (isinstance(clock, (int, float)) and not isinstance(clock, bool) and 0 < clock <= 1000):
        raise BoardError(f"{src}: clock_mhz must be a number in (0, 1000], got {clock!r}")
    if data["ps"] not in _PS:
        raise BoardError(f"{src}: ps must be one of {_PS!r}, got {data['ps']!r}")
    if data.get("board_part") is not None and not isinstance(data["board_part"], str):
        raise BoardError(f"{src}: board_part must be a string, got {data['board_part']!r}")
    if data["family"] != "ecp5":
        for key in _ECP5_ONLY:
            if key in data:
                raise BoardError(f"{src}: {key} is only for family 'ecp5', not {data['family']!r}")
        return
    for key in _ECP5_ONLY:
        if key not in data:
            raise BoardError(f"{src}: missing key {key!r} (needed for family 'ecp5')")
    if data["nextpnr_device"] not in ECP5_DEVICES:
        raise BoardError(f"{src}: nextpnr_device must be one of {ECP5_DEVICES!r}, got {data['nextpnr_device']!r}")
    if not isinstance(data["package"], str) or not data["package"]:
        raise BoardError(f"{src}: package must be a non-empty string, got {data['package']!r}")
    if not _is_int(data["speed"]) or data["speed"] not in _ECP5_SPEEDS:
        raise BoardError(f"{src}: speed must be one of {_ECP5_SPEEDS!r}, got {data['speed']!r}")
    if data["ps"] != "none":
        raise BoardError(f"{src}: ps must be 'none' for family 'ecp5', got {data['ps']!r}")


def load_board(name: str) -> Board:
    names = board_names()
    if name not in names:
        raise BoardError(f"unknown board {name!r}; expected one of {', '.join(names)}")
    src = f"boards/{name}.yaml"
    try:
        data = yaml.safe_load(_board_dir().joinpath(f"{name}.yaml").read_text())
    except yaml.YAMLError as e:
        raise BoardError(f"{src}: not valid YAML ({' '.join(str(e).split())})") from None
    if not isinstance(data, dict):
        raise BoardError(f"{src}: expected a mapping of board fields, got {type(data).__name__}")
    _check(src, data)
    if data["name"] != name:
        raise BoardError(f"{src}: name must match the file name, expected {name!r}, got {data['name']!r}")
    return Board(**data)
