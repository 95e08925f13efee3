"""The typed integer dataflow graph: values, nodes, graph.

A graph is immutable; passes build new graphs with :func:`Graph.replace_nodes`
or ``dataclasses.replace``.  Names are the IR's own (sanitised identifiers
made unique by the frontend); the ONNX node a node came from is kept in
``Node.origin`` for error messages and reports.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .host import InputQuant, OutputMap
from .ops import Op
from .types import DType

__all__ = ["Value", "Fold", "Impl", "Node", "Graph"]


@dataclass(frozen=True, kw_only=True)
class Value:
    name: str
    shape: tuple[int, ...]
    dtype: DType


@dataclass(frozen=True, kw_only=True)
class Fold:
    """Folding of one node: PE output lanes and SIMD input lanes per cycle."""

    pe: int = 1
    simd: int = 1


@dataclass(frozen=True, kw_only=True)
class Impl:
    """Implementation of one node (``ir/schedule/impl.py``): its constant memory in
    ``lutram`` (LUT logic) or ``bram``, its integer products in ``dsp`` or ``lut``;
    None where the node has no such memory or products."""

    mem: str | None = None
    mul: str | None = None


@dataclass(frozen=True, kw_only=True, eq=False)
class Node:
    name: str
    op: Op
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    origin: str = ""  # the ONNX node(s) it was lowered from
    fold: Fold | None = None
    impl: Impl | None = None

    @property
    def kind(self) -> str:
        return self.op.kind

    def with_(self, **changes) -> "Node":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, kw_only=True, eq=False)
class Graph:
    name: str
    values: tuple[Value, ...]
    nodes: tuple[Node, ...]  # in topological order
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    input_quant: InputQuant
    output_map: OutputMap
    _by_name: dict = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {v.name: v for v in self.values})

    def value(self, name: str) -> Value:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no value named {name!r} in graph {self.name!r}") from None

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node named {name!r} in graph {self.name!r}")

    def producer(self, value: str) -> Node | None:
        for n in self.nodes:
            if value in n.outputs:
                return n
        return None

    def consumers(self, value: str) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if value in n.inputs)

    def replace_nodes(self, nodes, values=None) -> "Graph":
        return dataclasses.replace(
            self,
            nodes=tuple(nodes),
            values=tuple(values) if values is not None else self.values,
        )
