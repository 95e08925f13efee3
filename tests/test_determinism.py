"""``gatesmith compile`` is deterministic: the same model compiled in separate processes with
different hash seeds gives byte-identical output trees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.brevitas


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["pot_mlp", "jet_tagger", "res_small"])
def test_compile_is_byte_identical_across_hash_seeds(zoo_export, tmp_path, name):
    _, model = zoo_export(name)
    trees = []
    for seed in ("0", "1", "4242"):
        out = tmp_path / f"out-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-m", "gatesmith.cli", "compile", str(model), "-o", str(out)],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )
        assert proc.returncode == 0, proc.stderr
        trees.append(_tree(out))
    first = trees[0]
    assert first and "manifest.json" in first and any(k.startswith("rtl/") for k in first)
    for other in trees[1:]:
        assert sorted(other) == sorted(first)
        differ = [k for k in first if first[k] != other[k]]
        assert not differ, f"files differ between hash seeds: {differ}"
