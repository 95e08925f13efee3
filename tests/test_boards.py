"""Board files (gatesmith.boards): every shipped board loads; malformed files fail naming file, field and expectation."""

from __future__ import annotations

import re

import pytest

from gatesmith import boards
from gatesmith.boards import BoardError, board_names, load_board
from gatesmith.cli import main

SHIPPED = {
    "pynq-z1", "pynq-z2", "ultra96v2", "zcu102", "zcu104", "kv260", "alveo-u50", "alveo-u55c", "alveo-u250",
    "alveo-u280", "arty-a7-100t", "ulx3s-85f", "orangecrab-25f",
}

GOOD = """\
name: myboard
part: xc7z020clg400-1
family: xc7
lut: 53200
ff: 106400
dsp: 220
bram18: 280
uram: 0
clock_mhz: 100
ps: zynq7
"""

GOOD_ECP5 = """\
name: myboard
part: LFE5U-25F-8MG285C
family: ecp5
lut: 24288
ff: 24288
dsp: 28
bram18: 56
uram: 0
clock_mhz: 48
ps: none
nextpnr_device: 25k
package: CSFBGA285
speed: 8
"""


def test_shipped_boards_are_listed():
    assert set(board_names()) == SHIPPED


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_board_loads(name):
    b = load_board(name)
    assert b.name == name
    assert b.lut > 0 and b.ff > 0 and b.dsp > 0 and b.bram18 > 0 and b.clock_mhz > 0
    text = (boards._board_dir() / f"{name}.yaml").read_text()
    assert text.startswith("# ") and re.search(r"\bDS\d+|FPGA-DS-\d+", text.splitlines()[0]), "data sheet named on line 1"
    if b.family == "ecp5":
        assert b.ps == "none" and b.uram == 0 and b.board_part is None
        assert (b.nextpnr_device, b.package, b.speed) != (None, None, None)
        assert b.part.startswith("LFE5U-" + b.nextpnr_device.upper().rstrip("K"))
    else:
        assert b.nextpnr_device is None and b.package is None and b.speed is None
        assert b.board_part is not None


def test_ecp5_boards():
    u = load_board("ulx3s-85f")
    assert (u.part, u.family, u.nextpnr_device, u.package, u.speed) == ("LFE5U-85F-6BG381C", "ecp5", "85k", "CABGA381", 6)
    o = load_board("orangecrab-25f")
    assert (o.part, o.family, o.nextpnr_device, o.package, o.speed) == ("LFE5U-25F-8MG285C", "ecp5", "25k", "CSFBGA285", 8)


@pytest.fixture
def board_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(boards, "_board_dir", lambda: tmp_path)
    return tmp_path


def _load(board_dir, text):
    (board_dir / "myboard.yaml").write_text(text)
    return load_board("myboard")


def test_temporary_dir_good_files(board_dir):
    assert _load(board_dir, GOOD).family == "xc7"
    assert _load(board_dir, GOOD_ECP5).speed == 8
    assert board_names() == ["myboard"]


@pytest.mark.parametrize(("text", "msg"), [
    (GOOD + "luts: 5\n",
     "boards/myboard.yaml: unknown key 'luts'; expected name, part, family, lut, ff, dsp, bram18, uram, clock_mhz, ps, "
     "board_part, nextpnr_device, package, speed"),
    (GOOD.replace("dsp: 220\n", ""), "boards/myboard.yaml: missing key 'dsp'"),
    (GOOD.replace("lut: 53200", "lut: many"), "boards/myboard.yaml: lut must be a non-negative integer, got 'many'"),
    (GOOD.replace("uram: 0", "uram: -1"), "boards/myboard.yaml: uram must be a non-negative integer, got -1"),
    (GOOD.replace("ff: 106400", "ff: true"), "boards/myboard.yaml: ff must be a non-negative integer, got True"),
    (GOOD.replace("clock_mhz: 100", "clock_mhz: fast"),
     "boards/myboard.yaml: clock_mhz must be a number in (0, 1000], got 'fast'"),
    (GOOD.replace("ps: zynq7", "ps: zynq9"),
     "boards/myboard.yaml: ps must be one of ('zynq7', 'zynqmp', 'none'), got 'zynq9'"),
    (GOOD.replace("family: xc7", "family: virtex"),
     "boards/myboard.yaml: family must be one of ('xc7', 'xcup', 'xcu', 'ecp5'), got 'virtex'"),
    (GOOD.replace("part: xc7z020clg400-1", "part: 7020"), "boards/myboard.yaml: part must be a non-empty string, got 7020"),
    (GOOD.replace("name: myboard", "name: other"),
     "boards/myboard.yaml: name must match the file name, expected 'myboard', got 'other'"),
    (GOOD + "speed: 6\n", "boards/myboard.yaml: speed is only for family 'ecp5', not 'xc7'"),
    (GOOD_ECP5.replace("package: CSFBGA285\n", ""),
     "boards/myboard.yaml: missing key 'package' (needed for family 'ecp5')"),
    (GOOD_ECP5.replace("speed: 8", "speed: 9"), "boards/myboard.yaml: speed must be one of (6, 7, 8), got 9"),
    (GOOD_ECP5.replace("nextpnr_device: 25k", "nextpnr_device: 25"),
     "boards/myboard.yaml: nextpnr_device must be one of ('12k', '25k', '45k', '85k', 'um-25k', 'um-45k', 'um-85k', "
     "'um5g-25k', 'um5g-45k', 'um5g-85k'), got 25"),
    (GOOD_ECP5.replace("ps: none", "ps: zynq7"), "boards/myboard.yaml: ps must be 'none' for family 'ecp5', got 'zynq7'"),
    ("- a\n- b\n", "boards/myboard.yaml: expected a mapping of board fields, got list"),
    ("name: [\n", "boards/myboard.yaml: not valid YAML ("),
], ids=["unknown-key", "missing-key", "bad-type", "negative", "bool", "clock", "ps", "family", "part", "name",
        "ecp5-field-on-xilinx", "ecp5-missing", "ecp5-speed", "ecp5-device", "ecp5-ps", "not-mapping", "bad-yaml"])
def test_malformed_board_file(board_dir, text, msg):
    with pytest.raises(BoardError) as ei:
        _load(board_dir, text)
    assert str(ei.value).startswith(msg)


def test_unknown_board():
    with pytest.raises(BoardError, match=r"^unknown board 'pynq-z9'; expected one of alveo-u250, alveo-u280, .*, zcu104$"):
        load_board("pynq-z9")


def test_cli_boards_table(capsys):
    assert main(["boards"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["name", "part", "family", "LUT", "FF", "DSP", "BRAM18", "URAM", "clock", "PS"]
    assert len(lines) == 1 + len(SHIPPED)
    assert {ln.split()[0] for ln in lines[1:]} == SHIPPED
    col_part = lines[0].index("part")
    col_family = lines[0].index("family")
    for ln in lines[1:]:
        b = load_board(ln.split()[0])
        assert ln.index(b.part) == col_part and ln[col_family:].startswith(b.family)
        cells = ln.split()
        assert cells[3:8] == [str(b.lut), str(b.ff), str(b.dsp), str(b.bram18), str(b.uram)]
        assert cells[8:] == [f"{b.clock_mhz:g}", "MHz", b.ps]
    assert "ulx3s-85f       LFE5U-85F-6BG381C     ecp5      83640    83640    156     208     0   25 MHz  none" in lines


def test_cli_unknown_board_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(boards, "_board_dir", lambda: tmp_path)
    (tmp_path / "bad.yaml").write_text(GOOD.replace("name: myboard", "name: bad") + "colour: red\n")
    assert main(["boards"]) == 2
    out, err = capsys.readouterr()
    assert err == ("gatesmith: error: boards/bad.yaml: unknown key 'colour'; expected name, part, family, lut, ff, dsp, "
                   "bram18, uram, clock_mhz, ps, board_part, nextpnr_device, package, speed\n")
