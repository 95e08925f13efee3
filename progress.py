"""Progress of long steps on stderr, drawn with rich: what runs, how far, the rate, time left.

The command line opens a :func:`session` once per command; library code anywhere below it
reports through :func:`task`, which costs nothing when no session is active (the Python
API, tests, ``--quiet``, ``--json``, or stderr not a terminal)::

    with progress.task("simulating (Verilator)", total=n, unit="inferences") as t:
        ...
        t.advance(k)                     # or t.update(completed=..., note="1.2M cycles/s")

A session draws only when stderr is a terminal, and never with ``--quiet`` or ``--json``;
``GATESMITH_PROGRESS=1`` forces drawing (a rich console with ``force_terminal``, e.g. to
record it), ``GATESMITH_PROGRESS=0`` turns it off. Progress never writes to stdout and never
touches a file, so command output and generated files are the same with or without it.

``eta`` says what the time left rests on: ``"exact"`` (units of equal cost: inferences,
nodes) shows rich's estimate, ``"estimate"`` (units of unequal cost: routed arcs) shows it
marked ``~ ... (est.)``, ``"none"`` (tool steps of very different lengths) shows
``time left unknown`` and the elapsed time.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
from typing import Iterator

__all__ = ["Task", "session", "task", "step", "enabled", "active", "ENV"]

#: environment variable: ``1`` forces progress on (even when stderr is not a terminal), ``0`` off
ENV = "GATESMITH_PROGRESS"

_ETAS = ("exact", "estimate", "none")
_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("gatesmith_progress", default=None)
_CURRENT: contextvars.ContextVar = contextvars.ContextVar("gatesmith_progress_task", default=None)


def enabled(*, quiet: bool = False, json: bool = False) -> bool:
    """Whether a command's progress is drawn: never with ``quiet``/``json`` or
    ``GATESMITH_PROGRESS=0``; always with ``GATESMITH_PROGRESS=1``; else when stderr is a terminal."""
    if quiet or json:
        return False
    env = os.environ.get(ENV, "").strip()
    if env == "0":
        return False
    if env == "1":
        return True
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # closed or replaced stream
        return False


def active() -> bool:
    """Whether a drawing session is open (callers may skip work done only for progress)."""
    return _ACTIVE.get() is not None


class Task:
    """One line of progress. Methods are thread-safe and do nothing outside a session."""

    def __init__(self, prog=None, tid=None):
        self._prog, self._tid = prog, tid
        self._steps = 0

    def step(self, what: str) -> None:
        """The next stage ``what`` starts: the stages before it count as done."""
        self.update(completed=self._steps, note=what)
        self._steps += 1

    def advance(self, n: float = 1) -> None:
        if self._prog is not None:
            self._prog.update(self._tid, advance=n)

    def update(self, *, completed: float | None = None, total: float | None = None, description: str | None = None,
               note: str | None = None, eta: str | None = None, unit: str | None = None) -> None:
        """Set the count done, the total (``None`` keeps it), the description, a short note shown
        after the rate (e.g. a second rate, the current tool step), what the time left rests on, or
        the unit counted."""
        if self._prog is None:
            return
        kw = {}
        if completed is not None:
            kw["completed"] = completed
        if total is not None:
            kw["total"] = total
        if description is not None:
            kw["description"] = description
        if note is not None:
            kw["note"] = note
        if eta is not None:
            kw["eta"] = _check_eta(eta)
        if unit is not None:
            kw["unit"] = unit
        self._prog.update(self._tid, **kw)

    @property
    def completed(self) -> float:
        if self._prog is None:
            return 0.0
        return self._prog._tasks[self._tid].completed


_NULL = Task()


def _check_eta(eta: str) -> str:
    if eta not in _ETAS:
        raise ValueError(f"progress eta {eta!r}: expected one of {', '.join(_ETAS)}")
    return eta


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    if seconds < 60:
        return f"{max(0.0, seconds):.1f} s"
    s = int(max(0.0, seconds) + 0.5)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _fmt_num(v: float) -> str:
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}" if v != int(v) else f"{int(v)}"


def _count(task) -> str:
    unit = task.fields.get("unit", "")
    if task.total is None and not unit:
        return ""
    done = _fmt_num(task.completed)
    text = f"{done}/{_fmt_num(task.total)}" if task.total is not None else done
    return f"{text} {unit}".rstrip()


def _rate(task, short: bool = False) -> str:
    unit = task.fields.get("unit", "")
    speed = task.finished_speed or task.speed
    if not speed or not unit or task.fields.get("eta") == "none":  # no rate for steps of unequal cost
        return ""
    return f"{_fmt_num(speed)}/s" if short else f"{_fmt_num(speed)} {unit}/s"


def _left(task) -> str:
    eta = task.fields.get("eta", "exact")
    if task.finished or task.fields.get("ended"):
        return f"done in {_fmt_time(task.finished_time or task.elapsed)}"
    elapsed = _fmt_time(task.elapsed)
    if task.total is None or eta == "none":
        return f"{elapsed} elapsed, time left unknown"
    left = task.time_remaining
    if left is None:
        return f"{elapsed} elapsed"
    if eta == "estimate":
        return f"~{_fmt_time(left)} left (est.)"
    return f"{_fmt_time(left)} left"


#: below this console width the bar is left out and the figures share one column
_NARROW = 110


def _columns(width: int):
    from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, TextColumn
    from rich.table import Column
    from rich.text import Text

    class Figures(ProgressColumn):
        """done/total unit, rate, time left and the note: one cell, cut from the end (the note first)."""

        def render(self, task):
            text = Text(no_wrap=True)
            for part, style in ((_count(task), "progress.download"), (_rate(task, narrow), "progress.data.speed"),
                                (_left(task), "progress.remaining"), (task.fields.get("note", ""), "dim")):
                if part:
                    text.append(("  " if text else "") + part, style=style)
            return text

    # nothing wraps: the description is held to a share of the width, the figures cell is cut at its end
    narrow = width < _NARROW

    def cut():
        return Column(no_wrap=True, overflow="ellipsis", min_width=8)

    bar = [] if narrow else [BarColumn(bar_width=16, table_column=Column(no_wrap=True))]
    desc = Column(no_wrap=True, overflow="ellipsis", min_width=8,
                  max_width=max(12, width // 3) if narrow else max(24, width // 2 - 24))
    return (SpinnerColumn(), TextColumn("{task.description}", table_column=desc), *bar, Figures(table_column=cut()))


@contextlib.contextmanager
def session(*, quiet: bool = False, json: bool = False, console=None) -> Iterator[bool]:
    """Draw the progress of the :func:`task` calls inside (on stderr, or on ``console``) when
    :func:`enabled`; yields whether it draws. Finished tasks stay on screen as a record."""
    if console is None and not enabled(quiet=quiet, json=json):
        yield False
        return
    try:
        from rich.console import Console
        from rich.progress import Progress
    except ImportError:  # pragma: no cover - rich is a dependency
        yield False
        return
    if console is None:
        forced = os.environ.get(ENV, "").strip() == "1"
        console = Console(stderr=True, force_terminal=True if forced else None, highlight=False)
    # stdout is never redirected into the display: what a command prints stays on stdout
    prog = Progress(*_columns(console.width), console=console, transient=False, refresh_per_second=8, speed_estimate_period=10,
                    redirect_stdout=False)
    token = _ACTIVE.set(prog)
    try:
        with prog:
            yield True
    finally:
        _ACTIVE.reset(token)


@contextlib.contextmanager
def task(description: str, total: float | None = None, unit: str = "steps", *, eta: str = "exact",
         note: str = "") -> Iterator[Task]:
    """A line of progress for the block inside: ``description`` (what runs), ``total`` units
    (``None``: unknown), ``unit`` for the count and rate, ``eta`` (see the module doc)."""
    prog = _ACTIVE.get()
    if prog is None:
        yield _NULL
        return
    tid = prog.add_task(description, total=total, unit=unit, eta=_check_eta(eta), note=note)
    t = Task(prog, tid)
    token = _CURRENT.set(t)
    try:
        yield t
        if t._steps and total is not None:  # stages all run: the count is complete
            t.update(completed=total, note="")
    finally:
        _CURRENT.reset(token)
        prog.update(tid, ended=True)
        prog.stop_task(tid)


def step(what: str) -> None:
    """The innermost open :func:`task` moves on to stage ``what`` (see :meth:`Task.step`);
    nothing outside a session."""
    t = _CURRENT.get()
    if t is not None:
        t.step(what)
