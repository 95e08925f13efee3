"""gatesmith: quantized neural networks (Brevitas ONNX) to bit-exact dataflow accelerators.

``gatesmith.compile(model, ...)`` returns a :class:`Design` (see :mod:`gatesmith.api`).
"""

__version__ = "0.1.0"

__all__ = ["__version__", "compile", "load", "Design"]

_API = ("compile", "load", "Design")


def __getattr__(name):  # the API on first use: ``import gatesmith.ir`` stays light
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'gatesmith' has no attribute {name!r}")
