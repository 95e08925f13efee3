"""ONNX (QONNX / QCDQ, as Brevitas exports it) import into the gatesmith IR.

Nothing outside this package knows ONNX exists.
"""

from .errors import FrontendError
from .lower import SUPPORTED_OPS, import_onnx

__all__ = ["FrontendError", "SUPPORTED_OPS", "import_onnx"]
