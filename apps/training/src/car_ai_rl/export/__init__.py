"""ONNX export of trained SB3 models, with metadata and a parity check."""

MIN_OPSET = 17
DEFAULT_OPSET = 17
DEFAULT_N_CHECK = 10_000
