"""``gatesmith compile --config gatesmith.toml``: a typed compile configuration.

    board = "pynq-z2"          # global settings: the command line's options
    target_fps = 1e6
    requant = "auto"

    [op.matvec]                # every layer of an IR op kind
    simd = 1

    [layer.mvu0]               # one layer, by its IR name (ir.txt, folding.json, the report)
    pe = 4
    simd = 8

    [layer.rq0]
    requant = "threshold"

Per-layer settings resolve name > op kind > global, as hls4ml's
``LayerName`` > ``LayerType`` > ``Model``.  Folding left unset is chosen from
``target_fps`` as without a config.  ``requant`` applies to requantizers (op
kind ``requantize`` before the style is chosen; ``threshold``/``requant`` in
``ir.txt`` after).  Unknown keys are rejected with their full path
(``layer.mvu0.pee``); a value of the wrong type names the key and the value.
``fixed_bits`` (per layer) is the width of the fixed-point formats a layer owns when the
model leaves tensors unquantized (frontend/fixedpoint.py): a matrix-vector layer's weights,
a requantizer's output activation.

The file is parsed into frozen dataclasses (:class:`Config`,
:class:`LayerSettings`); :func:`config_template` writes a commented template
listing every layer of a model with today's choices (``gatesmith config init``).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from .flow import FIXED_BITS, FlowError

__all__ = ["Config", "ConfigError", "LayerSettings", "LayerOverrides", "load_config", "parse_config",
           "config_template", "compile_options"]


class ConfigError(FlowError):
    """A malformed or inconsistent configuration file; the message names the key."""


#: op kinds a requantization style applies to (before / after the style is chosen)
_REQUANT_KINDS = ("requantize", "threshold", "requant")


@dataclass(frozen=True, kw_only=True)
class LayerSettings:
    """Overrides of one layer or op kind; ``None`` = not set here."""

    pe: int | None = None
    simd: int | None = None
    requant: str | None = None
    mem_style: str | None = None  # lutram | bram | uram | auto (ir/schedule/impl.py)
    mul_style: str | None = None  # dsp | lut | pack | auto
    fixed_bits: int | None = None  # width of this layer's fixed-point format (weights / produced activation)


@dataclass(frozen=True, kw_only=True)
class Config:
    board: str = "pynq-z2"
    clock_mhz: float | None = None
    target_fps: float | None = None
    budget: float | None = None  # share of the board's resources, (0, 1]
    backend: str = "all"
    requant: str = "auto"
    mem_style: str = "auto"
    mul_style: str = "auto"
    top: str = "gatesmith_top"
    fixed_bits: int | None = None  # fixed point for unquantized tensors (flow.CompileOptions)
    fixed_range: str | None = None
    calibration: str | None = None  # X.npy
    op: dict[str, LayerSettings] = field(default_factory=dict)
    layer: dict[str, LayerSettings] = field(default_factory=dict)


_GLOBAL_TYPES = {"board": str, "clock_mhz": float, "target_fps": float, "budget": float, "backend": str, "requant": str,
                 "top": str}
_GLOBAL_TYPES.update(fixed_bits=int, fixed_range=str, calibration=str)
_GLOBAL_TYPES.update(mem_style=str, mul_style=str)
_LAYER_TYPES = {"pe": int, "simd": int, "requant": str, "mem_style": str, "mul_style": str, "fixed_bits": int}
#: op kinds with a constant memory / with integer multipliers (the style keys apply to them)
_MEM_KINDS = ("matvec", "vvu", "threshold", "requantize")  # requantize: those that become thresholds
_MUL_KINDS = ("matvec", "vvu")


def _check_value(path: str, value, typ, source: str):
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{source}: {path}: expected a number, got {value!r}")
        return float(value)
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {path}: expected an integer, got {value!r}")
        if value < 1:
            raise ConfigError(f"{source}: {path}: expected a positive integer, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{source}: {path}: expected a string, got {value!r}")
    return value


def _settings(path: str, table, source: str) -> LayerSettings:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: {path}: expected a table of {', '.join(_LAYER_TYPES)}, got {table!r}")
    out = {}
    for k, v in table.items():
        if k not in _LAYER_TYPES:
            raise ConfigError(f"{source}: {path}.{k}: unknown key (expected one of {', '.join(_LAYER_TYPES)})")
        out[k] = _check_value(f"{path}.{k}", v, _LAYER_TYPES[k], source)
        if k == "fixed_bits" and not FIXED_BITS[0] <= v <= FIXED_BITS[1]:
            raise ConfigError(f"{source}: {path}.{k}: expected an integer from {FIXED_BITS[0]} to {FIXED_BITS[1]}, "
                              f"got {v!r}")
    return LayerSettings(**out)


def parse_config(data: dict, source: str = "config") -> Config:
    """A parsed TOML document -> :class:`Config`, every key and type checked."""
    from .ir.passes import REQUANT_STYLES
    from .verify.reference import REFERENCE_OPS

    out: dict = {}
    for k, v in data.items():
        if k in _GLOBAL_TYPES:
            out[k] = _check_value(k, v, _GLOBAL_TYPES[k], source)
            if k == "budget" and not 0 < out[k] <= 1:
                raise ConfigError(f"{source}: budget: expected a fraction of the board's resources in (0, 1], got {v!r}")
        elif k in ("op", "layer"):
            if not isinstance(v, dict):
                raise ConfigError(f"{source}: {k}: expected a table of tables ([{k}.NAME]), got {v!r}")
            out[k] = {str(name): _settings(f"{k}.{name}", t, source) for name, t in v.items()}
        else:
            known = ", ".join([*_GLOBAL_TYPES, "op", "layer"])
            raise ConfigError(f"{source}: {k}: unknown key (expected one of {known})")
    for kind in out.get("op", {}):
        if kind not in REFERENCE_OPS:
            raise ConfigError(f"{source}: op.{kind}: unknown op kind (expected one of {', '.join(sorted(REFERENCE_OPS))})")
    styles = [("requant", out.get("requant"))]
    for sect in ("op", "layer"):
        styles += [(f"{sect}.{n}.requant", s.requant) for n, s in out.get(sect, {}).items()]
    for path, style in styles:
        if style is not None and style not in REQUANT_STYLES:
            raise ConfigError(f"{source}: {path}: {style!r} is not a requantization style "
                              f"(expected one of {', '.join(REQUANT_STYLES)})")
    from .ir.schedule.impl import MEM_STYLES, MUL_STYLES

    for key, allowed, what in (("mem_style", MEM_STYLES, "memory style"), ("mul_style", MUL_STYLES, "multiplier style")):
        paths = [(key, out.get(key))] + [(f"{sect}.{n}.{key}", getattr(s, key)) for sect in ("op", "layer")
                                         for n, s in out.get(sect, {}).items()]
        for path, style in paths:
            if style is not None and style not in allowed:
                raise ConfigError(f"{source}: {path}: {style!r} is not a {what} (expected one of {', '.join(allowed)})")
    for kind, s in out.get("op", {}).items():
        for key, kinds, what in (("mem_style", _MEM_KINDS, "constant memory"), ("mul_style", _MUL_KINDS, "multipliers")):
            if getattr(s, key) is not None and kind not in kinds:
                raise ConfigError(f"{source}: op.{kind}.{key}: a {kind} layer has no {what} "
                                  f"({key} applies to op kinds {', '.join(kinds)})")
        if s.requant is not None and kind not in _REQUANT_KINDS:
            raise ConfigError(f"{source}: op.{kind}.requant: a {kind} layer has no requantization "
                              f"(requant applies to op kind requantize)")
    return Config(**out)


def read_toml(p: Path, source: str, error=None) -> dict:
    """The TOML document at ``p``; a missing or malformed file is ``error`` (ConfigError)
    naming ``source`` (e.g. ``--config 'x.toml'``)."""
    error = error or ConfigError
    if not p.is_file():
        raise error(f"{source}: no such file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise error(f"{source}: not valid TOML ({e})") from None


def load_config(path) -> Config:
    p = Path(path)
    source = f"--config {str(p)!r}"
    return parse_config(read_toml(p, source), source)


@dataclass(frozen=True, kw_only=True)
class LayerOverrides:
    """The per-layer part of a :class:`Config`, applied by the flow once the graph exists:
    a requantization pass with a style per layer, and a partial folding."""

    default_requant: str = "auto"
    by_name: tuple[tuple[str, LayerSettings], ...] = ()
    by_kind: tuple[tuple[str, LayerSettings], ...] = ()
    source: str = "config"

    def _resolve(self, node, key: str, kinds: tuple[str, ...] = ()):
        """name > op kind > None."""
        name = dict(self.by_name).get(node.name)
        if name is not None and getattr(name, key) is not None:
            return getattr(name, key)
        kind = dict(self.by_kind)
        for k in (node.kind, *kinds):
            if k in kind and getattr(kind[k], key) is not None:
                return getattr(kind[k], key)
        return None

    def check_names(self, graph) -> None:
        known = {n.name: n for n in graph.nodes}
        for name, s in self.by_name:
            if name not in known:
                raise ConfigError(f"{self.source}: layer.{name}: no such layer; expected one of {sorted(known)!r}")
            n = known[name]
            if s.requant is not None and n.kind not in _REQUANT_KINDS:
                raise ConfigError(f"{self.source}: layer.{name}.requant: {name!r} is a {n.kind} layer, "
                                  "not a requantizer")
            for key, kinds, what in (("mem_style", _MEM_KINDS + ("requant",), "constant memory"),
                                     ("mul_style", _MUL_KINDS, "multipliers")):
                if getattr(s, key) is not None and n.kind not in kinds:
                    raise ConfigError(f"{self.source}: layer.{name}.{key}: {name!r} is a {n.kind} layer, "
                                      f"which has no {what}")

    def sets(self, key: str) -> bool:
        """Whether any layer or op kind sets ``key``."""
        return any(getattr(s, key) is not None for _, s in self.by_name + self.by_kind)

    def fixed_bits(self, graph, fixed) -> dict[tuple[str, str], int]:
        """Per-layer ``fixed_bits`` (name > op kind) as widths of the fixed-point formats the
        layers own: (tensor, consumer ONNX node) -> bits, for
        :func:`~gatesmith.frontend.fixedpoint.make_fixed_point`. ``graph`` is the model lowered
        with the global width and ``fixed`` its result: a weights format belongs to its
        matrix-vector layer, an activation's to the requantizer producing it."""
        known = {n.name: n for n in graph.nodes}
        owned = {t["layer"] for t in (fixed.layers(graph) if fixed is not None else ())}
        for name, s in self.by_name:
            if s.fixed_bits is not None and name in known and name not in owned:
                raise ConfigError(f"{self.source}: layer.{name}.fixed_bits: {name!r} owns no fixed-point format "
                                  f"(ir.txt lists them as 'fixed @LAYER'); expected one of "
                                  f"{sorted(owned - {'host_in'})!r}")
        out = {}
        for t in (fixed.layers(graph) if fixed is not None else ()):
            n = known.get(t["layer"])
            if n is None:
                continue
            v = self._resolve(n, "fixed_bits", _REQUANT_KINDS if n.kind in _REQUANT_KINDS else ())
            if v is not None:
                out[(t["tensor"], t["consumer"])] = v
        return out

    def impl_layers(self, graph) -> tuple[tuple[str, str, str], ...]:
        """(node, mem_style, mul_style) of every layer the file sets a style for (name > op
        kind; ``auto``: the global one), for :class:`~gatesmith.ir.schedule.impl.ChooseImpl`."""
        self.check_names(graph)
        out = []
        by_name = dict(self.by_name)
        for n in graph.nodes:
            kinds = _REQUANT_KINDS if n.kind in _REQUANT_KINDS else ()
            mem, mul = self._resolve(n, "mem_style", kinds), self._resolve(n, "mul_style")
            if n.kind == "requant" and mem is not None:  # dyadic/shift: gs_requant keeps the tool's choice
                if n.name in by_name and by_name[n.name].mem_style is not None:
                    raise ConfigError(f"{self.source}: layer.{n.name}.mem_style: {n.name!r} became a requant "
                                      "(shift/dyadic) layer, whose memory keeps the tool's choice; expected "
                                      "requant = \"threshold\" with it")
                mem = None
            if mem is not None or mul is not None:
                out.append((n.name, mem or "auto", mul or "auto"))
        return tuple(out)

    def requant_pass(self):
        return _LayerRequant(overrides=self)

    def folding(self, graph, folding: dict | None) -> dict | None:
        """The configured PE/SIMD (name > op kind) as a partial folding; a layer's entries in
        ``folding`` (``--folding FILE``, given on the command line) win over the file."""
        self.check_names(graph)
        out: dict[str, dict] = {}
        for n in graph.nodes:
            dims = n.op.fold_dims()
            entry = {}
            for key in ("pe", "simd"):
                v = self._resolve(n, key)
                if v is not None and key in dims:
                    entry[key] = v
            if entry:
                out[n.name] = entry
        for name, entry in (folding or {}).items():
            out[name] = {**out.get(name, {}), **entry}
        return out or folding


@dataclass(frozen=True, kw_only=True)
class _LayerRequant:
    """SelectRequant with a style per layer (name > op kind ``requantize`` > global)."""

    overrides: LayerOverrides
    name = "select_requant"

    def run(self, graph):
        from .ir.ops import Requantize
        from .ir.passes import SelectRequant

        self.overrides.check_names(graph)
        nodes = []
        for n in graph.nodes:
            if isinstance(n.op, Requantize):
                style = self.overrides._resolve(n, "requant", _REQUANT_KINDS) or self.overrides.default_requant
                n = n.with_(op=SelectRequant(style=style)._choose(n))
            nodes.append(n)
        return graph.replace_nodes(nodes)


def compile_options(cfg: Config, *, source: str = "config", **overrides):
    """:class:`~gatesmith.flow.CompileOptions` for ``cfg``; keyword ``overrides`` (the command
    line's explicit options, None = not given) win over the file."""
    from .flow import DEFAULT_TARGET_FPS, CompileOptions

    vals = {f.name: getattr(cfg, f.name) for f in fields(Config) if f.name not in ("op", "layer")}
    vals.update({k: v for k, v in overrides.items() if v is not None and k in vals})
    rest = {k: v for k, v in overrides.items() if k not in vals and v is not None}
    if vals["target_fps"] is None and vals["budget"] is None and rest.get("folding_file") is None:
        vals["target_fps"] = DEFAULT_TARGET_FPS  # layers without configured folding still need a budget
    layers = LayerOverrides(default_requant=vals["requant"], by_name=tuple(sorted(cfg.layer.items())),
                            by_kind=tuple(sorted(cfg.op.items())), source=source)
    return CompileOptions(**vals, **rest, layers=layers if (cfg.layer or cfg.op) else None)


# --------------------------------------------------------------------------- template


def _toml_key(name: str) -> str:
    import json
    import re

    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name, ensure_ascii=False)


def config_template(model_path, *, board: str = "pynq-z2", target_fps: float | None = None) -> str:
    """A commented gatesmith.toml for ``model_path``: the global settings and, commented out,
    every layer with today's automatic choices (folding, requantization style)."""
    from .boards import load_board
    from .flow import DEFAULT_TARGET_FPS, CompileOptions, _build_graph, _choose_impl

    b = load_board(board)
    fps = target_fps if target_fps is not None else DEFAULT_TARGET_FPS
    opts = CompileOptions(board=board, target_fps=fps)
    graph = _choose_impl(_build_graph(Path(model_path), opts, float(b.clock_mhz)), opts, b)
    kinds = sorted({n.kind for n in graph.nodes})
    lines = [
        f"# gatesmith compile configuration for {Path(model_path).name}",
        "# gatesmith compile MODEL.onnx -o OUT --config gatesmith.toml",
        "# Per-layer settings resolve: [layer.NAME] > [op.KIND] > the global settings below.",
        "# Command-line options given explicitly win over this file.",
        "",
        f'board = "{b.name}"          # see: gatesmith boards',
        f"# clock_mhz = {b.clock_mhz:g}       # default: the board's clock",
        f"target_fps = {fps:g}    # folding left unset below is chosen to meet this",
        'backend = "all"          # rtl | hls | all',
        'requant = "auto"         # auto | threshold | shift | dyadic',
        'mem_style = "auto"       # weights/thresholds: auto | lutram | bram | uram (URAM boards)',
        'mul_style = "auto"       # multipliers: auto | dsp | lut | pack',
        "# fixed_bits = 8         # unquantized tensors' fixed point (also per layer)",
        "",
        f"# Op kinds in this model: {', '.join(kinds)}. Example:",
        "# [op.matvec]",
        "# simd = 1",
        "# [op.requantize]        # every requantizer",
        '# requant = "threshold"',
        "",
        "# Layers with today's choices (uncomment to pin or change them):",
    ]
    for n in graph.nodes:
        dims = n.op.fold_dims()
        f = n.fold
        shown = []
        for key in ("pe", "simd"):
            if key in dims:
                pixel = f", or {n.op.pixel_pe} (a whole pixel a beat)" if key == "pe" and n.kind == "concat" else ""
                shown.append(f"{key} = {getattr(f, key) if f else 1}    # a divisor of {dims[key]}{pixel}")
        style = ""
        if n.kind in ("threshold", "requant"):
            style = "threshold" if n.kind == "threshold" else ("dyadic" if n.op.use_mult else "shift")
            shown.append(f'requant = "{style}"')
        if n.impl is not None and n.impl.mem is not None:
            shown.append(f'mem_style = "{n.impl.mem}"')
        if n.impl is not None and n.impl.mul is not None:
            shown.append(f'mul_style = "{n.impl.mul}"')
        if not shown:
            continue
        origin = " ".join(n.origin.split())
        lines.append(f"# [layer.{_toml_key(n.name)}]    # {n.kind}, from {origin}")
        lines.extend(f"# {s}" for s in shown)
    return "\n".join(lines) + "\n"
