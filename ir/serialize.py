"""Lossless JSON form of an IR graph (``graph.json`` in a compile output).

Only the IR's own classes are (de)serialised, through an explicit table;
anything else raises.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from fractions import Fraction

import numpy as np

from . import host, ops
from .graph import Fold, Graph, Impl, Node, Value
from .types import BipolarType, IntType, parse_type

__all__ = ["to_json", "from_json"]

_CLASSES = {
    c.__name__: c
    for c in (
        Graph, Node, Value, Fold, Impl,
        ops.MatVec, ops.MultiThreshold, ops.Requant, ops.Requantize, ops.Linear,
        ops.SlidingWindow, ops.DepthwiseMatVec, ops.WindowReduce, ops.Add, ops.Concat, ops.Reshape, ops.LabelSelect,
        host.FloatOp, host.InputQuant, host.OutputMap,
    )
}
_ENUMS = {e.__name__: e for e in (ops.Rounding, ops.PoolMode, host.FloatOpKind, host.OutputKind)}


def _enc(obj):
    if isinstance(obj, (IntType, BipolarType)):
        return {"__type": str(obj)}
    if isinstance(obj, enum.Enum):
        return {"__enum": type(obj).__name__, "name": obj.name}
    if isinstance(obj, Fraction):
        return {"__frac": f"{obj.numerator}/{obj.denominator}"}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "iuO":
            return {"__nd": "int", "shape": list(obj.shape), "data": [int(v) for v in obj.ravel()]}
        if obj.dtype.kind == "f":
            return {
                "__nd": str(obj.dtype),
                "shape": list(obj.shape),
                "data": [float(v).hex() for v in obj.ravel()],
            }
        raise TypeError(f"cannot serialise array of dtype {obj.dtype}")
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if dataclasses.is_dataclass(obj) and type(obj).__name__ in _CLASSES:
        d = {"__cls": type(obj).__name__}
        for f in dataclasses.fields(obj):
            if f.name.startswith("_"):
                continue
            d[f.name] = _enc(getattr(obj, f.name))
        return d
    if isinstance(obj, (tuple, list)):
        return [_enc(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def _dec(obj, tuple_fields=True):
    if isinstance(obj, list):
        return tuple(_dec(v) for v in obj)
    if not isinstance(obj, dict):
        return obj
    if "__type" in obj:
        return parse_type(obj["__type"])
    if "__enum" in obj:
        return _ENUMS[obj["__enum"]][obj["name"]]
    if "__frac" in obj:
        return Fraction(obj["__frac"])
    if "__nd" in obj:
        shape = tuple(obj["shape"])
        if obj["__nd"] == "int":
            vals = obj["data"]
            big = any(abs(v) >= 1 << 62 for v in vals)
            arr = np.array(vals, dtype=object if big else np.int64).reshape(shape)
        else:
            arr = np.array([float.fromhex(v) for v in obj["data"]], dtype=obj["__nd"]).reshape(shape)
        arr.setflags(write=False)
        return arr
    if "__cls" in obj:
        cls = _CLASSES[obj["__cls"]]
        kwargs = {k: _dec(v) for k, v in obj.items() if k != "__cls"}
        return cls(**kwargs)
    raise ValueError(f"unexpected JSON object with keys {sorted(obj)!r}")


def to_json(graph: Graph) -> str:
    return json.dumps(_enc(graph), sort_keys=True, separators=(",", ":"))


def from_json(text: str) -> Graph:
    g = _dec(json.loads(text))
    if not isinstance(g, Graph):
        raise ValueError("graph.json does not hold a graph")
    return g
