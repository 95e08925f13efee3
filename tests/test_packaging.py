"""Packaging: the wheel holds the package with its cores, templates and boards, and no tests."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest


def test_wheel_contents(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "-q"],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = tmp_path.glob("gatesmith-*.whl")
    names = set(zipfile.ZipFile(whl).namelist())
    for must in ("gatesmith/__init__.py", "gatesmith/cli.py", "gatesmith/flow.py", "gatesmith/frontend/lower.py",
                 "gatesmith/ir/ops.py", "gatesmith/ir/passes/select_requant.py", "gatesmith/ir/schedule/folding.py",
                 "gatesmith/rtl/gs_mvu.v", "gatesmith/rtl/gs_thresholds.v", "gatesmith/rtl/gs_swg.v",
                 "gatesmith/hls_templates/hls/gs_mvu.h", "gatesmith/hls_templates/hls/gs_swg.h",
                 "gatesmith/ir/schedule/cost_model.json", "gatesmith/hls_templates/top.v.j2",
                 "gatesmith/hls_templates/harness.v.j2", "gatesmith/hls_templates/reserved_words.txt", "gatesmith/boards/pynq-z2.yaml", "gatesmith/verify/reference.py"):
        assert must in names, must
    assert not any(n.startswith("gatesmith/tests/") or n.startswith("tests/") for n in names)


def test_package_data_importable():
    from importlib import resources

    import gatesmith

    assert resources.files(gatesmith).joinpath("rtl/gs_mvu.v").is_file()
    assert resources.files("gatesmith.hls_templates").joinpath("top.v.j2").is_file()
    assert resources.files("gatesmith.boards").joinpath("zcu104.yaml").is_file()
