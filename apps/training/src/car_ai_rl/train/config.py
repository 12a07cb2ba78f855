"""The training config: one frozen, validated tree filled from YAML, env variables and flags.

Precedence: the ``--config`` file < ``CAR_AI_RL_*`` environment variables < command-line flags.
Every key is documented below its declaration; ``docs/config-reference.md`` is generated from
these classes.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from car_ai_rl.errors import ConfigError
from car_ai_rl.schema import (
    ConfigModel,
    Fraction,
    IntList,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Seed,
    parse,
    read_yaml,
)
from car_ai_rl.sim.params import MAX_TRAFFIC_DENSITY, SimOverrides, SimParams, sim_params_from_dict

ALGOS = ("ppo", "dqn")
MAX_DENSITY = MAX_TRAFFIC_DENSITY  # vehicles/km/lane: the curriculum starts within SimParams
MAX_ENVS = 100_000  # envs stepped together in training


class PPOHyper(ConfigModel):
    """PPO hyperparameters (stable-baselines3 `PPO`)."""

    n_steps: PositiveInt = 1024
    """Env steps collected per env before each update."""
    batch_size: int = Field(1024, ge=2)
    """Minibatch size of the updates."""
    n_epochs: PositiveInt = 4
    """Passes over each rollout."""
    learning_rate: PositiveFloat = 1e-4
    """Adam step size at the start of training (small: PPO fine-tunes the kickstarted policy,
    and 3e-4 drifted away from it, losing missions)."""
    lr_schedule: Literal["linear", "constant"] = "linear"
    """`linear` decays the learning rate to 0 over training; `constant` keeps it."""
    gamma: Fraction = 0.99
    """Discount factor per decision step."""
    gae_lambda: Fraction = 0.95
    """GAE bias/variance trade-off."""
    clip_range: PositiveFloat = 0.2
    """Policy-ratio clipping."""
    ent_coef: NonNegativeFloat = 0.005
    """Weight of the entropy bonus."""
    vf_coef: NonNegativeFloat = 0.5
    """Weight of the value loss."""
    max_grad_norm: PositiveFloat = 0.5
    """Gradient clipping norm."""
    net_arch: IntList = (256, 256)
    """Hidden layer sizes of the policy and value networks (`[]`: linear)."""


class DQNHyper(ConfigModel):
    """DQN hyperparameters (stable-baselines3 `DQN`)."""

    learning_rate: PositiveFloat = 5e-4
    """Adam step size."""
    buffer_size: PositiveInt = 200_000
    """Transitions the replay buffer holds (at least `--n-envs`)."""
    learning_starts: NonNegativeInt = 5_000
    """Env steps collected before the first update."""
    batch_size: PositiveInt = 256
    """Minibatch size of the updates."""
    gamma: Fraction = 0.99
    """Discount factor per decision step."""
    train_freq: PositiveInt = 4
    """Env steps (per env) between updates."""
    gradient_steps: PositiveInt = 1
    """Gradient steps per update."""
    target_update_interval: PositiveInt = 2_000
    """Env steps between target-network copies."""
    exploration_initial_eps: Fraction = 0.2
    """Epsilon at the start of training (low, since the kickstart already drives well; SB3's
    own default of 1 starts from random actions)."""
    exploration_fraction: Fraction = 0.2
    """Fraction of training over which epsilon falls from `exploration_initial_eps` to
    `exploration_final_eps`."""
    exploration_final_eps: Fraction = 0.03
    """Final epsilon of the epsilon-greedy exploration."""
    net_arch: IntList = (128, 128)
    """Hidden layer sizes of the Q-network."""
    replay_buffers_kept: NonNegativeInt = 1
    """Replay buffers kept beside the newest checkpoints (each is as large as the buffer);
    older ones are deleted, checkpoint zips are all kept. `0` saves none: a resume then
    refills the buffer for `learning_starts` steps before learning again."""


class Curriculum(ConfigModel):
    """Traffic density ramps from `density_start` to the env's density over the first
    `ramp_fraction` of training; mid-episode mission changes start after
    `mission_changes_after_fraction`."""

    enabled: bool = True
    """Ramp density and mission changes (`false`: train on the final env params throughout)."""
    density_start: float = Field(10.0, ge=0, le=MAX_DENSITY)
    """Traffic density at the start of training (vehicles/km/lane)."""
    ramp_fraction: Fraction = 0.2
    """Fraction of training over which the density ramps up."""
    mission_changes_after_fraction: Fraction = 0.1
    """Fraction of training after which missions may change mid-episode."""


class Kickstart(ConfigModel):
    """Imitation of a teacher driver before reinforcement learning (DAgger-style, see
    `car_ai_rl.train.pretrain`). The teacher drives as the policy will: under the supervisor
    when `supervisor` is on, its labels then being the nearest allowed action."""

    enabled: bool = True
    """Run the kickstart before PPO or DQN."""
    teacher: Literal["heuristic", "oracle"] = "oracle"
    """`oracle` (the planner that tries the heuristic's variations, closing up to a gap among
    them, in the simulator itself; the default: a policy that imitates it, then learns, beats
    the heuristic, which one that imitates the heuristic never did) or `heuristic` (the
    hand-written driver with its gap-seeking; cheaper to label, since it plans nothing)."""
    rounds: PositiveInt = 6
    """Drive-label-fit rounds; the first drives with the teacher, later ones with the policy."""
    envs: int = Field(128, ge=1, le=100_000)
    """Envs driven together in each round (the oracle plans for each, so this sets the
    kickstart's time)."""
    steps_per_round: PositiveInt = 400
    """Decision steps driven per round."""
    epochs: PositiveInt | None = None
    """Passes over the collected states after each round (unset: 4 for PPO, 8 for DQN, whose
    large-margin loss converges more slowly)."""
    batch_size: PositiveInt = 2048
    """Minibatch size of the supervised updates."""
    learning_rate: PositiveFloat = 1e-3
    """Adam step size of the supervised updates."""
    imitation_weight: NonNegativeFloat = 1.0
    """Weight of the imitation loss kept up during reinforcement learning, at the start. After
    every rollout, minibatches of the kickstart's labelled states are fitted with the
    algorithm's optimizer at the current weight, which moves linearly to
    `imitation_final_weight` at `imitation_until` of training and stays there: PPO fits 4 of
    its minibatches by cross-entropy, DQN as many as its gradient steps by DQfD's large-margin
    loss (without it, the first updates could undo much of the imitation: measured, a PPO seed
    that started above the heuristic fell below it). `0` with a final weight of `0` switches
    it off."""
    imitation_final_weight: NonNegativeFloat | None = None
    """The weight from `imitation_until` on (unset: 0 for PPO, which then learns on its own;
    `imitation_weight` for DQN, which keeps its margin loss throughout as DQfD does: measured,
    DQN's success fell from 0.80 to 0.55 within 50,000 steps of its weight reaching 0)."""
    imitation_until: Fraction = 0.5
    """Fraction of training at which the imitation weight reaches `imitation_final_weight`."""

    def final_weight(self, algo: str) -> float:
        """`imitation_final_weight`, or the algorithm's default when it is unset."""
        if self.imitation_final_weight is not None:
            return self.imitation_final_weight
        return self.imitation_weight if algo == "dqn" else 0.0


KICKSTART_EPOCHS = {"ppo": 4, "dqn": 8}


class TrainConfig(ConfigModel):
    """The training config (`--config FILE`, see `configs/ppo.yaml` and `configs/dqn.yaml`)."""

    algo: Literal["ppo", "dqn"] = "ppo"
    """The algorithm (`--algo`; `scripts/train_ppo.py` and `train_dqn.py` set it)."""
    action_mode: Literal["discrete", "continuous", "plan"] = "plan"
    """Action space: `plan` chooses one of 10 driving plans (the heuristic driver and its
    variations, decoded by the driver from the state), `discrete` one of 21 throttle/brake
    levels x lane requests, `continuous` a Box of throttle, brake and lane. DQN needs `plan`
    or `discrete`."""
    seed: Seed = 0
    """Seeds the networks, the exploration and the training episodes."""
    torch_threads: int = Field(1, ge=1, le=256)
    """Threads torch uses for the whole run, the kickstart included. `1` makes runs of the
    same command, seed and machine bit-identical; more threads may be faster on large networks
    but their results can differ from run to run in the last bits."""
    checkpoint_every_steps: PositiveInt = 100_000
    """Env steps between checkpoints (counted over the whole run, resumes included)."""
    eval_every_steps: PositiveInt = 100_000
    """Env steps between the `eval/` metrics in TensorBoard."""
    eval_episodes: int = Field(64, ge=0, le=100_000)
    """Episodes of each evaluation, on fixed seeds (`0`: no evaluation)."""
    supervisor: bool = True
    """Train as the product runs: the safety supervisor filters the policy's controls (a
    plan's too), and with discrete actions the policy chooses only the actions it allows (masked by the
    verdicts in the observation: sb3-contrib's `MaskablePPO`, or a masked DQN). `false`
    trains the unmasked policy with no supervisor."""
    ppo: PPOHyper = PPOHyper()
    """PPO hyperparameters."""
    dqn: DQNHyper = DQNHyper()
    """DQN hyperparameters."""
    curriculum: Curriculum = Curriculum()
    """The curriculum."""
    kickstart: Kickstart = Kickstart()
    """The kickstart (imitation pre-training)."""
    env: SimOverrides = Field(default_factory=dict)
    """Simulator parameters the training and evaluation envs run on (any field of
    [Simulator parameters](#simulator-parameters), e.g. `traffic_density: 20.0`); unset
    fields keep their defaults."""

    @field_validator("env")
    @classmethod
    def _sim_params_valid(cls, env: dict[str, Any]) -> dict[str, Any]:
        sim_params_from_dict(env)  # raises ConfigError naming the field below ``env``
        return env

    @model_validator(mode="after")
    def _algo_fits_action_mode(self) -> TrainConfig:
        if self.algo == "dqn" and self.action_mode == "continuous":
            raise ConfigError("action_mode", "must be discrete or plan for dqn, got 'continuous'")
        return self

    def sim_params(self) -> SimParams:
        return sim_params_from_dict(self.env)

    @property
    def masked(self) -> bool:
        """The policy chooses only the actions the supervisor allows."""
        return self.supervisor and self.action_mode == "discrete"

    def digest(self) -> str:
        """A short hash of the resolved config: two runs with equal digests train alike."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


ENV_VARS = {
    "CAR_AI_RL_CURRICULUM": ("curriculum", "enabled"),
    "CAR_AI_RL_CURRICULUM_DENSITY_START": ("curriculum", "density_start"),
    "CAR_AI_RL_CURRICULUM_RAMP": ("curriculum", "ramp_fraction"),
    "CAR_AI_RL_CURRICULUM_MISSION_CHANGES_AFTER": ("curriculum", "mission_changes_after_fraction"),
    "CAR_AI_RL_TRAFFIC_DENSITY": ("env", "traffic_density"),
    "CAR_AI_RL_KICKSTART": ("kickstart", "enabled"),
}
_SWITCHES = ("CAR_AI_RL_CURRICULUM", "CAR_AI_RL_KICKSTART")


def _parse_env_value(name: str, raw: str) -> Any:
    if name in _SWITCHES:
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
    file_data: dict[str, Any],
    env_data: dict[str, Any],
    flags: dict[str, Any],
    source: str = "(top level)",
) -> TrainConfig:
    """File < environment variables < command-line flags; ``source`` names the file."""
    data = merge(merge(file_data, env_data), flags)
    problems = _env_var_problems(env_data, data)
    if problems:
        raise ConfigError.of(problems)
    return parse(TrainConfig, data, top=source)


def _env_var_problems(env_data: dict[str, Any], data: dict[str, Any]) -> list[tuple[str, str]]:
    """A bad value from an environment variable is reported under the variable's name."""
    problems = []
    for name, (section, key) in ENV_VARS.items():
        if key not in env_data.get(section, {}):
            continue
        value = data.get(section, {}).get(key)
        if value is not env_data[section][key]:
            continue  # a flag replaced it
        try:
            probe = {section: {key: value}}
            if section == "env":
                sim_params_from_dict(probe["env"])
            else:
                parse(TrainConfig, probe)
        except ConfigError as exc:
            problems.append((name, exc.problem))
    return problems


def load_config_file(path: str | None) -> dict[str, Any]:
    """The YAML mapping in ``path`` (empty without a path); errors name the flag and file."""
    if path is None:
        return {}
    data = read_yaml(path, flag="--config")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            str(path), f"must hold a mapping of settings, got a {type(data).__name__}"
        )
    return data
