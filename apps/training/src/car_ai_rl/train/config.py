"""Training configuration: frozen dataclasses filled from YAML, flags and environment variables."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from car_ai_rl.errors import ConfigError, UserError
from car_ai_rl.sim.params import SimParams, dataclass_from_dict, sim_params_from_dict

ALGOS = ("ppo", "dqn")


@dataclass(frozen=True)
class PPOHyper:
    n_steps: int = 1024  # per env, per rollout
    batch_size: int = 1024
    n_epochs: int = 4
    learning_rate: float = 3e-4
    lr_schedule: str = "linear"  # "linear" decays to 0 over training, "constant" keeps it
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.005
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: tuple[int, ...] = (256, 256)


@dataclass(frozen=True)
class DQNHyper:
    learning_rate: float = 5e-4
    buffer_size: int = 200_000
    learning_starts: int = 5_000
    batch_size: int = 256
    gamma: float = 0.99
    train_freq: int = 4
    gradient_steps: int = 1
    target_update_interval: int = 2_000
    exploration_fraction: float = 0.2
    exploration_final_eps: float = 0.03
    net_arch: tuple[int, ...] = (128, 128)


@dataclass(frozen=True)
class Curriculum:
    """Traffic density ramps from ``density_start`` to the env's density over the first
    ``ramp_fraction`` of training; mid-episode mission changes start after
    ``mission_changes_after_fraction``."""

    enabled: bool = True
    density_start: float = 10.0
    ramp_fraction: float = 0.2
    mission_changes_after_fraction: float = 0.1


@dataclass(frozen=True)
class Kickstart:
    """Imitation of the heuristic driver before PPO (see ``car_ai_rl.train.pretrain``)."""

    enabled: bool = True
    rounds: int = 4
    envs: int = 256
    steps_per_round: int = 400
    epochs: int = 4
    batch_size: int = 2048
    learning_rate: float = 1e-3


@dataclass(frozen=True)
class TrainConfig:
    algo: str = "ppo"
    action_mode: str = "discrete"
    seed: int = 0
    torch_threads: int = 1
    checkpoint_every_steps: int = 100_000
    eval_every_steps: int = 100_000
    eval_episodes: int = 64
    supervisor: bool = False  # train with the safety supervisor filtering the controls
    ppo: PPOHyper = field(default_factory=PPOHyper)
    dqn: DQNHyper = field(default_factory=DQNHyper)
    curriculum: Curriculum = field(default_factory=Curriculum)
    kickstart: Kickstart = field(default_factory=Kickstart)
    env: dict = field(default_factory=dict)

    def sim_params(self) -> SimParams:
        try:
            return sim_params_from_dict(self.env)
        except ConfigError as exc:
            raise ConfigError(f"env.{exc.field}", exc.problem) from None

    def validate(self) -> None:
        if self.algo not in ALGOS:
            raise ConfigError("algo", f"must be one of {', '.join(ALGOS)}, got {self.algo!r}")
        if self.action_mode not in ("discrete", "continuous"):
            raise ConfigError(
                "action_mode", f"must be discrete or continuous, got {self.action_mode!r}"
            )
        if self.algo == "dqn" and self.action_mode != "discrete":
            raise ConfigError("action_mode", "dqn needs the discrete action mode")
        for name in ("checkpoint_every_steps", "eval_every_steps", "torch_threads"):
            if getattr(self, name) < 1:
                raise ConfigError(name, "must be >= 1")
        if self.eval_episodes < 0:
            raise ConfigError("eval_episodes", "must be >= 0")
        if self.ppo.lr_schedule not in ("linear", "constant"):
            raise ConfigError(
                "ppo.lr_schedule", f"must be linear or constant, got {self.ppo.lr_schedule!r}"
            )
        k = self.kickstart
        for name in ("rounds", "envs", "steps_per_round", "epochs", "batch_size"):
            if getattr(k, name) < 1:
                raise ConfigError(f"kickstart.{name}", "must be >= 1")
        c = self.curriculum
        if not 0.0 <= c.ramp_fraction <= 1.0:
            raise ConfigError("curriculum.ramp_fraction", "must be in [0, 1]")
        if c.density_start < 0:
            raise ConfigError("curriculum.density_start", "must be >= 0")
        self.sim_params()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce_tuples(data: dict[str, Any]) -> dict[str, Any]:
    for section in ("ppo", "dqn"):
        block = data.get(section)
        if isinstance(block, dict) and isinstance(block.get("net_arch"), list):
            block["net_arch"] = tuple(block["net_arch"])
    return data


def load_config_file(path: str | None) -> dict[str, Any]:
    """The YAML mapping in ``path`` (empty without a path); errors name the file."""
    if path is None:
        return {}
    file = Path(path)
    if not file.is_file():
        raise UserError(f"--config: file not found: {file}")
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{file}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"{file}: must hold a mapping of settings")
    return data


ENV_PREFIX = "CAR_AI_RL_"
ENV_VARS = {
    "CAR_AI_RL_CURRICULUM": ("curriculum", "enabled"),
    "CAR_AI_RL_CURRICULUM_DENSITY_START": ("curriculum", "density_start"),
    "CAR_AI_RL_CURRICULUM_RAMP": ("curriculum", "ramp_fraction"),
    "CAR_AI_RL_CURRICULUM_MISSION_CHANGES_AFTER": ("curriculum", "mission_changes_after_fraction"),
    "CAR_AI_RL_TRAFFIC_DENSITY": ("env", "traffic_density"),
    "CAR_AI_RL_KICKSTART": ("kickstart", "enabled"),
}


def _parse_env_value(name: str, raw: str) -> Any:
    if name in ("CAR_AI_RL_CURRICULUM", "CAR_AI_RL_KICKSTART"):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(name, f"must be 1/0, true/false or on/off, got {raw!r}")
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number, got {raw!r}") from None


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings from CAR_AI_RL_* environment variables (the job spec passes them that way)."""
    environ = dict(os.environ if environ is None else environ)
    out: dict[str, Any] = {}
    for name, (section, key) in ENV_VARS.items():
        if name in environ and environ[name] != "":
            out.setdefault(section, {})[key] = _parse_env_value(name, environ[name])
    return out


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def build_config(
    file_data: dict[str, Any], env_data: dict[str, Any], flags: dict[str, Any]
) -> TrainConfig:
    """File < environment variables < command-line flags."""
    data = _coerce_tuples(merge(merge(file_data, env_data), flags))
    config = dataclass_from_dict(TrainConfig, data)
    config.validate()
    return config
