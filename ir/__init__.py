"""gatesmith's typed integer dataflow IR."""

from .graph import Fold, Graph, Node, Value
from .host import FloatOp, FloatOpKind, InputQuant, OutputKind, OutputMap
from .ops import (
    Add, Concat, DepthwiseMatVec, LabelSelect, Linear, MatVec, MultiThreshold, PoolMode, Requant, Requantize, Reshape, Rounding,
    SlidingWindow, WindowReduce,
)
from .printer import print_graph
from .types import BipolarType, IntType, type_for_range
from .verifier import IRError, verify

__all__ = [
    "BipolarType", "FloatOp", "FloatOpKind", "Fold", "Graph", "IRError", "InputQuant",
    "IntType", "Linear", "MatVec", "MultiThreshold", "Node", "OutputKind", "OutputMap",
    "Requant", "Requantize", "Rounding", "Value", "print_graph", "type_for_range", "verify",
    "SlidingWindow", "DepthwiseMatVec", "WindowReduce", "Add", "Concat", "PoolMode", "Reshape", "LabelSelect",
]
