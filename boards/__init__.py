"""Board descriptions: one YAML file a board, loaded through a strict schema."""

from __future__ import annotations

from dataclasses import dataclass, fields
from importlib import resources

import yaml

__all__ = ["Board", "BoardError", "board_names", "load_board"]


class BoardError(ValueError):
    """An unknown board or a malformed board file."""


@dataclass(frozen=True, kw_only=True)
class Board:
    name: str
    part: str
    family: str  # yosys synth_xilinx family: xc7, xcup, xcu
    lut: int
    ff: int
    dsp: int
    bram18: int
    uram: int
    clock_mhz: float
    ps: str  # zynq7, zynqmp, none
    board_part: str | None = None


_PS = ("zynq7", "zynqmp", "none")


def board_names() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in resources.files(__name__).iterdir() if p.name.endswith(".yaml"))


def load_board(name: str) -> Board:
    names = board_names()
    if name not in names:
        raise BoardError(f"unknown board {name!r}; expected one of {', '.join(names)}")
    src = f"boards/{name}.yaml"
    data = yaml.safe_load(resources.files(__name__).joinpath(f"{name}.yaml").read_text())
    if not isinstance(data, dict):
        raise BoardError(f"{src}: expected a mapping of board fields")
    allowed = {f.name: f for f in fields(Board)}
    for key in data:
        if key not in allowed:
            raise BoardError(f"{src}: unknown key {key!r}; expected {', '.join(allowed)}")
    for f in fields(Board):
        if f.name not in data and f.name != "board_part":
            raise BoardError(f"{src}: missing key {f.name!r}")
    for key in ("lut", "ff", "dsp", "bram18", "uram"):
        if not isinstance(data[key], int) or data[key] < 0:
            raise BoardError(f"{src}: {key} must be a non-negative integer, got {data[key]!r}")
    if data["ps"] not in _PS:
        raise BoardError(f"{src}: ps must be one of {_PS!r}, got {data['ps']!r}")
    return Board(**data)
