"""HLS C simulation: build the generated ``hls/`` C++ with g++ and run its testbench.

:func:`run_csim` compiles every ``.cpp`` of a design's ``hls/`` directory (the
top function and the testbench ``<top>_tb.cpp``) against the Xilinx
``ap_types`` headers, writes the integer inputs to a file, runs the binary and
reads the integer outputs back -- the same integers the RTL engine returns.

The ``ap_types`` headers (``ap_int.h``, ``hls_stream.h``) come from
``$XILINX_HLS/include`` when that is set, else from the installed ``hls4ml``
package (``hls4ml/templates/vivado/ap_types``, Apache-2.0), found through
importlib (:func:`ap_types_include`).

Builds are cached under ``<cache root>/csim/<key>/`` next to the RTL cache of
:func:`gatesmith.verify.tools.rtl_cache_dir`; the key hashes every source and
header of the design, the compiler command and flags, the compiler's version
and the include directory.  A compiler error raises :class:`CsimError` with
one line naming the file.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .tools import ToolNotFound, rtl_cache_dir

__all__ = [
    "CsimError",
    "CsimResult",
    "ap_types_include",
    "csim_cache_dir",
    "build_csim",
    "run_csim",
    "reference_vectors",
    "CXXFLAGS",
]

#: flags of every C-sim build (part of the cache key)
CXXFLAGS = ("-std=c++14", "-O2", "-w")


class CsimError(RuntimeError):
    """The C simulation could not be built or run; the message is one line."""


@dataclass(frozen=True)
class CsimResult:
    y_int: np.ndarray  # (N, out_elems) integers
    build_seconds: float  # 0 when the build came from the cache
    run_seconds: float  # the binary's wall time (all N inferences)
    cached: bool
    binary: Path


def ap_types_include() -> Path:
    """Directory holding ``ap_int.h`` and ``hls_stream.h``.

    ``$XILINX_HLS/include`` when ``XILINX_HLS`` is set, else the ``ap_types``
    directory of the installed hls4ml package.  Raises :class:`ToolNotFound`.
    """
    xil = os.environ.get("XILINX_HLS")
    if xil:
        inc = Path(xil) / "include"
        if not (inc / "ap_int.h").is_file():
            raise ToolNotFound(f"XILINX_HLS={xil!r}: expected ap_int.h in {str(inc)!r}")
        return inc
    if importlib.util.find_spec("hls4ml") is None:
        raise ToolNotFound(
            "ap_types headers not found: set XILINX_HLS to a Vitis HLS installation or "
            "install hls4ml (pip install 'hls4ml==1.3.0'), which ships them"
        )
    res = importlib.resources.files("hls4ml") / "templates" / "vivado" / "ap_types"
    inc = Path(str(res))
    if not (inc / "ap_int.h").is_file() or not (inc / "hls_stream.h").is_file():
        raise ToolNotFound(f"the installed hls4ml has no ap_types headers at {str(inc)!r}")
    return inc


def csim_cache_dir() -> Path:
    """``csim`` beside the RTL build cache (``~/.cache/gatesmith/csim`` by default)."""
    return rtl_cache_dir().parent / "csim"


def _compiler() -> str:
    cxx = os.environ.get("CXX", "g++")
    found = shutil.which(cxx)
    if not found:
        raise ToolNotFound(f"C++ compiler {cxx!r} not found (set CXX or install g++)")
    return found


def _version(cxx: str) -> str:
    out = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60)
    return out.stdout.splitlines()[0] if out.stdout else ""


def _error_line(stderr: str, build: Path) -> str:
    """The first compiler error as one line, file names relative to the build directory."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    pick = next((ln for ln in lines if ": error:" in ln or "fatal error" in ln), None)
    pick = pick or next((ln for ln in lines if "error" in ln.lower()), lines[0] if lines else "no output")
    return pick.replace(str(build) + os.sep, "").strip()


def build_csim(hls_dir, *, cache_dir: Path | None = None) -> tuple[Path, bool, float]:
    """Compile ``hls_dir``'s C++ (cached); returns (binary, from cache, build seconds)."""
    hls_dir = Path(hls_dir)
    sources = sorted(p for p in hls_dir.iterdir() if p.suffix == ".cpp")
    if not sources:
        raise CsimError(f"{str(hls_dir)!r}: no .cpp sources (compile the design with --backend hls or all)")
    inc = ap_types_include()
    cxx = _compiler()
    h = hashlib.sha256()
    for part in (cxx, _version(cxx), str(inc.resolve()), *CXXFLAGS):
        h.update(part.encode() + b"\0")
    for p in sorted(hls_dir.iterdir()):
        if p.suffix in (".cpp", ".h"):
            h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    key = h.hexdigest()[:24]
    root = cache_dir if cache_dir is not None else csim_cache_dir()
    final = root / key / "csim"
    if final.is_file():
        return final, True, 0.0
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    try:
        build = tmp / "src"
        build.mkdir()
        for p in sorted(hls_dir.iterdir()):
            if p.suffix in (".cpp", ".h"):
                shutil.copyfile(p, build / p.name)
        cmd = [cxx, *CXXFLAGS, "-I", str(build), "-I", str(inc),
               *[str(build / p.name) for p in sources], "-o", str(tmp / "csim")]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=build, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise CsimError(f"C-sim build failed: {_error_line(proc.stderr, build)}")
        (root / key).mkdir(exist_ok=True)
        os.replace(tmp / "csim", final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final, False, time.perf_counter() - t0


def _write_vectors(path: Path, x: np.ndarray) -> None:
    lines = [f"{x.shape[0]} {x.shape[1]}"]
    lines += [" ".join(str(int(v)) for v in row) for row in x]
    path.write_text("\n".join(lines) + "\n")


def _read_vectors(path: Path, elems: int) -> np.ndarray:
    toks = [int(t) for ln in path.read_text().splitlines() if not ln.startswith("#") for t in ln.split()]
    n, e = toks[0], toks[1]
    if e != elems or len(toks) != 2 + n * e:
        raise CsimError(f"C-sim output {str(path)!r}: expected {n} x {elems} integers")
    return np.asarray(toks[2:], dtype=np.int64).reshape(n, e)


def run_csim(hls_dir, x_int: np.ndarray, *, out_elems: int, cache_dir: Path | None = None,
             timeout: float = 3600) -> CsimResult:
    """Integer inputs ``(N, in_elems)`` -> the C simulation's integer outputs ``(N, out_elems)``."""
    x = np.asarray(x_int, dtype=np.int64)
    x = x.reshape(len(x), -1)
    from .. import progress

    with progress.task("building the C simulation (g++)", unit="", eta="none"):
        binary, cached, build_s = build_csim(hls_dir, cache_dir=cache_dir)
    # with progress drawn the inputs run in about 50 batches (the testbench treats every vector
    # alone, so the integers are the same); otherwise in one run
    step = max(1, -(-len(x) // 50)) if progress.active() else max(1, len(x))
    ys, run_s = [], 0.0
    with tempfile.TemporaryDirectory(prefix="gatesmith-csim-") as d, \
            progress.task("simulating (HLS C++)", total=len(x), unit="inferences") as task:
        fin, fout = Path(d) / "in.txt", Path(d) / "out.txt"
        for i in range(0, len(x), step):
            _write_vectors(fin, x[i:i + step])
            t0 = time.perf_counter()
            proc = subprocess.run([str(binary), str(fin), str(fout)], capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
            run_s += time.perf_counter() - t0
            if proc.returncode != 0:
                msg = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[0]
                raise CsimError(f"C-sim run failed: {msg}")
            ys.append(_read_vectors(fout, out_elems))
            task.advance(len(ys[-1]))
        y = np.concatenate(ys)
    if len(y) != len(x):
        raise CsimError(f"C-sim returned {len(y)} vectors for {len(x)} inputs")
    return CsimResult(y_int=y, build_seconds=build_s, run_seconds=run_s, cached=cached, binary=binary)


def reference_vectors(graph, n_random: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A few integer input vectors of ``graph`` (all minimum, all maximum, alternating,
    ``n_random`` random; deterministic) and the reference's outputs for them, flattened
    per vector -- the ``vectors`` of :func:`gatesmith.hls_templates.hls.render_hls`."""
    from .reference import run_integer

    v = graph.value(graph.inputs[0])
    t, c = v.dtype, int(np.prod(v.shape))
    lo, hi = int(t.min), int(t.max)
    rng = np.random.default_rng(seed)
    rows = [np.full(c, lo), np.full(c, hi), np.array([lo if i % 2 == 0 else hi for i in range(c)])]
    if t.bipolar:
        rows.append(np.where(rng.integers(0, 2, size=(n_random, c)) > 0, 1, -1))
    else:
        rows.append(rng.integers(lo, hi + 1, size=(n_random, c)))
    x = np.vstack([np.atleast_2d(r) for r in rows]).astype(np.int64)
    y = np.asarray(run_integer(graph, x.reshape(-1, *v.shape)))
    return x, y.reshape(len(x), -1).astype(np.int64)
