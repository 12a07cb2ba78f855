"""car-ai-rl: a batched highway simulator with missions, RL training, ONNX export and evaluation."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("car-ai-rl")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
