"""The documentation stays true: docs/cli.md is what docs/gen_cli.py generates from the parser,
it covers every subcommand and option, and the pages linked from README.md exist."""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _gen_cli():
    spec = importlib.util.spec_from_file_location("gatesmith_docs_gen_cli", DOCS / "gen_cli.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_md_is_up_to_date():
    text = _gen_cli().render()
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == text, \
        "docs/cli.md is out of date: run python docs/gen_cli.py"


def test_cli_md_covers_every_subcommand_and_option():
    from gatesmith.cli import build_parser

    text = (DOCS / "cli.md").read_text(encoding="utf-8")

    def walk(p: argparse.ArgumentParser):
        assert f"`{p.prog}`" in text, p.prog
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sp in a.choices.values():
                    walk(sp)
            elif not isinstance(a, argparse._HelpAction):
                for o in a.option_strings or [a.dest]:
                    assert f"`{o}" in text, (p.prog, o)

    walk(build_parser())


def test_gen_cli_check_mode(tmp_path, monkeypatch):
    mod = _gen_cli()
    assert mod.main(["--check"]) == 0
    monkeypatch.setattr(mod, "OUT", tmp_path / "cli.md")
    (tmp_path / "cli.md").write_text("stale\n")
    assert mod.main(["--check"]) == 1


@pytest.mark.parametrize("page", ["concepts.md", "cli.md", "tutorial.md", "from_finn.md", "from_hls4ml.md",
                                  "architecture.md"])
def test_docs_pages_exist_and_local_links_resolve(page):
    path = DOCS / page
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (path.parent / target).exists(), f"{page}: broken link {target!r}"


def test_readme_links_the_docs_and_lists_every_subcommand():
    from gatesmith.cli import build_parser

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README.md: broken link {target!r}"
    for page in ("docs/concepts.md", "docs/cli.md", "docs/tutorial.md", "docs/from_finn.md", "docs/from_hls4ml.md"):
        assert f"({page}" in text, page
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in sub.choices:
        assert f"gatesmith {name}" in text, name


@pytest.mark.brevitas
def test_sim_rate_as_the_docs_say(zoo_export, tmp_path, capsys, monkeypatch):
    """README/tutorial: `sim --json` carries the simulator's rate; on a terminal one line after the
    run gives it (stderr), and nothing extra appears when stderr is not a terminal."""
    import json

    import numpy as np

    from gatesmith.cli import main

    m, onnx = zoo_export("jet_tagger")
    np.save(tmp_path / "x.npy", m.sample_inputs(5))
    assert main(["compile", str(onnx), "-o", str(tmp_path / "d"), "--quiet"]) == 0
    args = ["sim", str(tmp_path / "d"), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
            "--engine", "reference"]
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["sim_inferences_per_second"] > 0 and err == ""
    assert main(args) == 0  # not a terminal (pytest captures stderr): no rate line
    out, err = capsys.readouterr()
    assert "inferences/s" not in err and out.startswith("5 inferences on reference")
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "numpy reference: 5 inferences in" in err and "inferences/s" in err
