"""gatesmith: quantized neural networks (Brevitas ONNX) to bit-exact dataflow accelerators."""

__version__ = "0.1.0"
