"""Errors of the ONNX frontend: one line, naming the node / file and what was expected."""

from __future__ import annotations

__all__ = ["FrontendError", "node_error"]


class FrontendError(ValueError):
    """The ONNX model cannot be imported; the message says where and why."""


def node_error(node, message: str) -> FrontendError:
    """An error about one ONNX node: ``node 'Name' (OpType): message``."""
    return FrontendError(f"ONNX node {node.name!r} ({node.op_type}): {message}")
