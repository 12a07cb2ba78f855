"""car-ai-rl: a batched highway simulator with missions, RL training, ONNX export and evaluation."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("car-ai-rl")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]

# As ``import highway_env`` does: importing the package makes
# ``gymnasium.make("car_ai_rl/HighwayMission-v0")`` work.
from car_ai_rl.envs.registration import register_envs  # noqa: E402

register_envs()
