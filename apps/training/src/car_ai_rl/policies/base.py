"""The policy interface shared by evaluation, episode generation and the app."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState

POLICY_KINDS = ("heuristic", "oracle", "sb3", "onnx")


class Policy(ABC):
    """A deterministic driver: observations (and, if it wants, the state) in, controls out."""

    name: str
    kind: str
    path: Path | None = None
    action_mode: str | None = None
    sim_params: SimParams | None = None  # the params the model was trained on, when known

    @abstractmethod
    def act(self, obs: np.ndarray, state: SimState, params: SimParams) -> np.ndarray:
        """Controls (B, 3) float64 (throttle, brake, lane request) for obs (B, OBS_DIM)."""

    def metadata(self) -> dict[str, str]:
        return {}

    def identity(self) -> dict[str, Any]:
        """What was run: kind, file path and hash, and the model's metadata (all strings)."""
        if self.path is not None and getattr(self, "_sha256", None) is None:
            self._sha256 = file_sha256(self.path)
        return {
            "kind": self.kind,
            "path": str(self.path) if self.path is not None else None,
            "sha256": getattr(self, "_sha256", None),
            "metadata": {str(k): str(v) for k, v in self.metadata().items()},
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def file_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def check_obs(obs: np.ndarray, obs_dim: int, source: str) -> np.ndarray:
    """``obs`` as a C-contiguous float32 (B, obs_dim) array, or ValueError naming ``source``."""
    arr = np.ascontiguousarray(obs, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != obs_dim:
        raise ValueError(
            f"{source}: expected observations of shape (B, {obs_dim}), got {arr.shape}"
        )
    return arr
