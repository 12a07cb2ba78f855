"""Shared helpers for the eval tests: a deterministic fake episode runner and fake policies,
standing in for the simulator where a test is about the evaluation logic alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import yaml

from car_ai_rl.sim.params import SimParams

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def uniform(seeds: np.ndarray, salt: int) -> np.ndarray:
    """A uniform [0, 1) draw per seed (splitmix64), independent across salts."""
    with np.errstate(over="ignore"):
        x = seeds.astype(np.uint64) + np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = (x ^ (x >> np.uint64(31))) & _MASK64
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


@dataclass
class FakePolicy:
    """A policy whose episode outcomes depend on its quality and on the seed only."""

    name: str
    quality: float = 0.9  # chance of mission success
    crash: float = 0.02  # chance of a collision without the supervisor
    salt: int = 0  # a different salt gives an independent draw of the same quality
    sha256: str | None = None
    kind: str = "onnx"

    def identity(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": None if self.kind == "heuristic" else f"/models/{self.name}.onnx",
            "sha256": self.sha256,
            "metadata": {"algo": "ppo", "quality": str(self.quality)},
        }


@dataclass
class FakeRunner:
    """Records its calls; returns per-episode arrays shaped like ``run_episodes``'s."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(
        self,
        policy: FakePolicy,
        params: SimParams,
        seeds: np.ndarray,
        supervisor: bool,
        batch_size: int = 512,
        progress: bool | str = False,
    ) -> SimpleNamespace:
        self.calls.append(
            {
                "policy": policy.name,
                "params": params,
                "seeds": seeds.copy(),
                "supervisor": supervisor,
                "progress": progress,
            }
        )
        n = len(seeds)

        def u(k: int) -> np.ndarray:
            return uniform(seeds, 100 * policy.salt + k)

        mix = params.mission_mix
        exit_share = mix.exit / (mix.cruise + mix.lane + mix.exit)
        collision = u(2) < policy.crash * (0.25 if supervisor else 1.0)
        at_fault = collision & (u(3) < 0.5)
        success = (u(1) < policy.quality) & ~collision
        has_exit = uniform(seeds, 6) < exit_share  # the scenario, not the policy
        exit_time = np.where(has_exit & success, 8.0 + 6.0 * u(8), np.nan)
        speed = 25.0 + 4.0 * (u(4) - 0.5) - 10.0 * (1.0 - policy.quality)
        duration = np.full(n, params.episode_duration_s)
        return SimpleNamespace(
            per_episode={
                "success": success.astype(np.float64),
                "collision": collision.astype(np.float64),
                "at_fault_collision": at_fault.astype(np.float64),
                "mean_speed_mps": speed,
                "speed_tracking_error_mps": 0.5 + 2.0 * (1.0 - policy.quality) + u(5),
                "exit_time_s": exit_time,
                "has_exit_mission": has_exit.astype(np.float64),
                "distance_m": speed * duration,
                "lane_changes": np.floor(4.0 * u(9)),
                "supervisor_interventions": np.floor(3.0 * u(10)) if supervisor else np.zeros(n),
                "mean_abs_jerk_mps3": 0.3 + u(11),
                "duration_s": duration,
            }
        )


def fake_loader(policies: dict[str, FakePolicy]):
    """A ``load_policy`` stand-in: sources are the keys of ``policies``."""

    def load(source: str) -> FakePolicy:
        return policies[source]

    return load


def base_config(
    tmp_path: Path, policies: dict[str, FakePolicy], **overrides: Any
) -> tuple[dict[str, Any], dict[str, FakePolicy]]:
    """A small valid config (plain data) with one empty model file per fake policy.

    The first policy is the baseline. Returns the config and the loader's table
    (source path -> policy).
    """
    sources: dict[str, FakePolicy] = {}
    candidates = []
    for i, (name, policy) in enumerate(policies.items()):
        model = tmp_path / "models" / f"{name}.onnx"
        model.parent.mkdir(parents=True, exist_ok=True)
        model.write_bytes(b"")
        sources[str(model)] = policy
        candidates.append({"name": name, "source": str(model), "baseline": i == 0})
    data: dict[str, Any] = {
        "name": "fake",
        "output_dir": str(tmp_path / "out"),
        "mission_log": str(tmp_path / "log.sqlite"),
        "supervisor": "both",
        "bootstrap": {"resamples": 500, "seed": 3},
        "candidates": candidates,
        "suites": [
            {
                "name": "cruise",
                "episodes": 300,
                "seed_start": 1000,
                "mission_mix": {"cruise": 1.0, "lane": 0.0, "exit": 0.0},
            },
            {
                "name": "exit",
                "episodes": 300,
                "seed_start": 5000,
                "mission_mix": {"cruise": 0.0, "lane": 0.0, "exit": 1.0},
            },
        ],
        "rules": [
            {"name": "success", "metric": "success_rate", "kind": "max_drop", "points": 2},
            {"metric": "collision_rate", "kind": "max", "value": 0.05},
        ],
    }
    data.update(overrides)
    return data, sources


def install_fakes(monkeypatch: Any, sources: dict[str, FakePolicy]) -> FakeRunner:
    """Route the runner's contract calls (load_policy, run_episodes) to the fakes."""
    from car_ai_rl.evals import runner

    fake = FakeRunner()
    monkeypatch.setattr(runner, "_load_policy", fake_loader(sources))
    monkeypatch.setattr(runner, "_run_episodes", fake)
    return fake


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def strict_json(path: Path) -> Any:
    """Load JSON, refusing NaN and infinities."""

    def refuse(token: str) -> Any:
        raise ValueError(f"non-finite number {token} in {path}")

    return json.loads(path.read_text(), parse_constant=refuse)
