"""Reading SB3 model zips: validation, algorithm and action-mode detection, training params.

A lone zip is self-describing except for the simulator params: those come from the ``run.json``
that training writes next to the zip or one directory up (``checkpoints/*.zip`` ->
``../run.json``), else from the ``SimParams`` defaults.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from car_ai_rl.errors import ConfigError, UserError
from car_ai_rl.sim.observation import OBS_DIM, OBS_SCHEMA_VERSION
from car_ai_rl.sim.params import SimParams, sim_params_from_dict

ALGOS = ("ppo", "dqn")
RUN_JSON = "run.json"
REQUIRED_MEMBERS = ("data", "policy.pth")
DEFAULTS_SOURCE = "defaults"


@dataclass(frozen=True)
class ModelInfo:
    """What a model zip says about itself, plus the params it was trained on."""

    path: Path
    algo: str
    action_mode: str
    train_steps: int
    sim_params: SimParams
    sim_params_source: str  # the run.json path, or "defaults"
    sb3_version: str
    trained_with_version: str  # car-ai-rl version from run.json, or ""
    masked: bool = False  # chooses only the actions the observation's verdicts allow

    def metadata(self) -> dict[str, str]:
        return {
            "algo": self.algo,
            "action_mode": self.action_mode,
            "train_steps": str(self.train_steps),
            "sim_params_hash": self.sim_params.digest(),
            "sim_params_source": self.sim_params_source,
            "sb3_version": self.sb3_version,
            "trained_with_version": self.trained_with_version,
            "obs_schema_version": OBS_SCHEMA_VERSION,
            "action_mask": "supervisor verdicts" if self.masked else "none",
        }


def check_model_file(path: Path, what: str = "model") -> None:
    """UserError (exit 2) naming the file when it is missing or not a regular, readable file."""
    if not path.exists():
        raise UserError(f"{path}: {what} file not found")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None


def read_zip_data(path: Path) -> dict[str, Any]:
    """The zip's ``data`` JSON, after checking the archive is intact and looks like SB3's."""
    check_model_file(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        raise UserError(f"{path}: not an SB3 model zip (not a zip file)")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            missing = [m for m in REQUIRED_MEMBERS if m not in names]
            if missing:
                raise UserError(f"{path}: not an SB3 model zip (no {', '.join(missing)} inside)")
            bad = zf.testzip()
            if bad is not None:
                raise UserError(f"{path}: corrupted zip (bad checksum in {bad})")
            data = json.loads(zf.read("data"))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise UserError(f"{path}: corrupted or truncated zip ({exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UserError(f"{path}: corrupted SB3 zip (unreadable 'data' entry)") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: corrupted SB3 zip ('data' is not a mapping)")
    return data


def detect_algo(data: dict[str, Any], path: Path) -> str:
    """'ppo' or 'dqn' from the saved policy class and hyperparameters."""
    policy_class = data.get("policy_class")
    module = policy_class.get("__module__", "") if isinstance(policy_class, dict) else ""
    if "exploration_initial_eps" in data or module.startswith("stable_baselines3.dqn"):
        return "dqn"
    if "clip_range" in data and "n_epochs" in data:
        return "ppo"
    raise UserError(f"{path}: unsupported SB3 model (only PPO and DQN zips are supported)")


MASKED_POLICY_MODULES = ("sb3_contrib.common.maskable", "car_ai_rl.train.masked_dqn")


def detect_masked(data: dict[str, Any]) -> bool:
    """Whether the zip holds a masked policy (MaskablePPO, or our masked DQN)."""
    policy_class = data.get("policy_class")
    module = policy_class.get("__module__", "") if isinstance(policy_class, dict) else ""
    return module.startswith(MASKED_POLICY_MODULES)


def find_run_json(model_path: Path) -> Path | None:
    for directory in (model_path.parent, model_path.parent.parent):
        candidate = directory / RUN_JSON
        if candidate.is_file():
            return candidate
    return None


def read_run_json(run_json: Path, algo: str) -> dict[str, Any] | None:
    """The run record, or None when it belongs to a run of another algorithm."""
    try:
        record = json.loads(run_json.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{run_json}: unreadable run record ({exc})") from None
    if not isinstance(record, dict):
        raise UserError(f"{run_json}: run record must be a mapping")
    if record.get("algo", algo) != algo:
        return None
    return record


def training_params(model_path: Path, algo: str) -> tuple[SimParams, str, str]:
    """(sim params, where they came from, car-ai-rl version of the training run)."""
    run_json = find_run_json(model_path)
    record = read_run_json(run_json, algo) if run_json else None
    if run_json is None or record is None:
        return SimParams(), DEFAULTS_SOURCE, ""
    try:
        params = sim_params_from_dict(record.get("sim_params") or {})
    except ConfigError as exc:
        raise UserError(f"{run_json}: sim_params.{exc.field}: {exc.problem}") from None
    return params, str(run_json), str(record.get("version", ""))


def action_mode_of(action_space: Any, path: Path) -> str:
    from gymnasium import spaces

    from car_ai_rl.envs.actions import N_DISCRETE_ACTIONS, N_PLANS

    if isinstance(action_space, spaces.Discrete) and int(action_space.n) == N_DISCRETE_ACTIONS:
        return "discrete"
    if isinstance(action_space, spaces.Discrete) and int(action_space.n) == N_PLANS:
        return "plan"
    if isinstance(action_space, spaces.Box) and action_space.shape == (3,):
        return "continuous"
    raise UserError(f"{path}: incompatible model: action space {action_space} is not one of ours")


def load_sb3(path: str | Path) -> tuple[Any, ModelInfo]:
    """Load a PPO or DQN zip on the CPU. Bad files raise UserError (exit 2) naming the file."""
    path = Path(path)
    data = read_zip_data(path)
    algo = detect_algo(data, path)
    masked = detect_masked(data)
    if masked:
        from sb3_contrib import MaskablePPO

        from car_ai_rl.train.masked_dqn import MaskedDQN

        cls = {"ppo": MaskablePPO, "dqn": MaskedDQN}[algo]
    else:
        from stable_baselines3 import DQN, PPO

        cls = {"ppo": PPO, "dqn": DQN}[algo]
    # schedules are pickled closures; constants keep loading independent of their code
    custom_objects = {"learning_rate": 0.0, "lr_schedule": lambda _: 0.0}
    if algo == "ppo":
        custom_objects.update(clip_range=lambda _: 0.0, clip_range_vf=None)
    else:
        custom_objects["exploration_schedule"] = lambda _: 0.0
    try:
        model = cls.load(path, device="cpu", custom_objects=custom_objects)
    except UserError:
        raise
    except Exception as exc:  # SB3 raises many kinds on damaged or foreign zips
        raise UserError(f"{path}: cannot load SB3 {algo.upper()} model: {exc}") from None
    shape = getattr(model.observation_space, "shape", None)
    if shape != (OBS_DIM,):
        raise UserError(
            f"{path}: incompatible model: observations of shape {shape}, but schema "
            f"{OBS_SCHEMA_VERSION} has {OBS_DIM} features"
        )
    action_mode = action_mode_of(model.action_space, path)
    params, source, trained_with = training_params(path, algo)
    sb3_version = str(data.get("_stable_baselines3_version", "")) or _zip_sb3_version(path)
    info = ModelInfo(
        path=path,
        algo=algo,
        action_mode=action_mode,
        train_steps=int(model.num_timesteps),
        sim_params=params,
        sim_params_source=source,
        sb3_version=sb3_version,
        trained_with_version=trained_with,
        masked=masked,
    )
    return model, info


def _zip_sb3_version(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        if "_stable_baselines3_version" in zf.namelist():
            return zf.read("_stable_baselines3_version").decode(errors="replace").strip()
    return ""
