"""Simulator parameters: frozen dataclasses are the source of truth.

YAML files and command-line flags only fill these in (see :func:`sim_params_from_dict`);
unknown keys, wrong types, NaN and out-of-range values raise :class:`ConfigError` naming the field.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from car_ai_rl.errors import ConfigError


@dataclass(frozen=True)
class MissionMix:
    """Relative weights of the mission kinds drawn at reset and at mission changes."""

    cruise: float = 0.35
    lane: float = 0.3
    exit: float = 0.35

    def validate(self, path: str) -> None:
        _check_types(self, f"{path}.")
        for name in ("cruise", "lane", "exit"):
            _check_range(f"{path}.{name}", getattr(self, name), lo=0.0)
        if self.cruise + self.lane + self.exit <= 0:
            raise ConfigError(path, "at least one mission weight must be > 0")


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the named reward terms (see ``car_ai_rl.sim.reward``)."""

    speed: float = 0.15
    progress: float = 0.6
    mission_success: float = 10.0
    mission_failure: float = 10.0
    collision: float = 40.0
    lane_change: float = 0.05
    comfort: float = 0.02
    headway: float = 0.3

    def validate(self, path: str) -> None:
        _check_types(self, f"{path}.")
        for f in dataclasses.fields(self):
            _check_range(f"{path}.{f.name}", getattr(self, f.name), lo=0.0)


@dataclass(frozen=True)
class SimParams:
    """Everything that defines a scenario distribution. Units are in the names."""

    # road
    n_lanes: int = 3
    lane_width_m: float = 4.0
    exit_distance_min_m: float = 350.0
    exit_distance_max_m: float = 800.0
    exit_ramp_length_m: float = 160.0
    exit_spacing_min_m: float = 1500.0
    exit_spacing_max_m: float = 3000.0
    # traffic
    n_vehicles: int = 20
    traffic_density: float = 16.0  # vehicles per km per lane, inside the traffic window
    traffic_window_behind_m: float = 150.0
    traffic_window_ahead_m: float = 250.0
    traffic_speed_min_mps: float = 21.0
    traffic_speed_max_mps: float = 30.0
    traffic_headway_min_s: float = 1.0
    traffic_headway_max_s: float = 2.0
    traffic_politeness_min: float = 0.0
    traffic_politeness_max: float = 0.5
    traffic_accel_max_mps2: float = 1.5
    traffic_decel_comfort_mps2: float = 2.5
    traffic_brake_max_mps2: float = 9.0
    traffic_min_gap_m: float = 2.5
    mobil_safe_decel_mps2: float = 3.0
    mobil_threshold_mps2: float = 0.2
    mobil_keep_right_bias_mps2: float = 0.1
    mobil_decision_hz: float = 1.0
    lane_change_cooldown_s: float = 3.0
    vehicle_length_m: float = 4.8
    vehicle_width_m: float = 1.9
    # ego
    ego_accel_max_mps2: float = 3.0
    ego_brake_max_mps2: float = 8.0
    speed_max_mps: float = 40.0
    lane_change_duration_s: float = 2.0
    # timing
    decision_hz: float = 5.0
    substeps: int = 1
    episode_duration_s: float = 40.0
    # missions
    mission_mix: MissionMix = field(default_factory=MissionMix)
    mission_changes: bool = True
    mission_change_min_s: float = 10.0
    mission_change_max_s: float = 25.0
    target_speed_min_mps: float = 20.0
    target_speed_max_mps: float = 32.0
    cruise_tolerance_mps: float = 2.0
    cruise_hold_s: float = 2.0
    lane_hold_s: float = 1.0
    mission_deadline_s: float = 20.0
    exit_mission_min_lead_m: float = 300.0
    # reward
    reward: RewardWeights = field(default_factory=RewardWeights)

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ derived values
    @property
    def dt_s(self) -> float:
        """Seconds per decision step."""
        return 1.0 / self.decision_hz

    @property
    def max_steps(self) -> int:
        return int(round(self.episode_duration_s * self.decision_hz))

    def validate(self) -> None:
        _check_types(self, "")
        _check_range("n_lanes", self.n_lanes, lo=2, hi=5)
        _check_range("n_vehicles", self.n_vehicles, lo=1, hi=256)
        _check_range("substeps", self.substeps, lo=1, hi=50)
        _check_range("traffic_density", self.traffic_density, lo=0.0, hi=200.0)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and f.name != "traffic_density":
                positive_ok_zero = f.name.startswith(
                    ("traffic_politeness", "mobil_", "exit_spacing")
                )
                _check_range(f.name, value, lo=0.0, strict=not positive_ok_zero)
        _check_order("traffic_speed_min_mps", "traffic_speed_max_mps", self)
        _check_order("traffic_headway_min_s", "traffic_headway_max_s", self)
        _check_order("traffic_politeness_min", "traffic_politeness_max", self)
        _check_order("exit_distance_min_m", "exit_distance_max_m", self)
        _check_order("exit_spacing_min_m", "exit_spacing_max_m", self)
        _check_order("mission_change_min_s", "mission_change_max_s", self)
        _check_order("target_speed_min_mps", "target_speed_max_mps", self)
        if self.lane_width_m <= self.vehicle_width_m:
            raise ConfigError("lane_width_m", "must be wider than vehicle_width_m")
        if self.target_speed_max_mps > self.speed_max_mps:
            raise ConfigError("target_speed_max_mps", "must be <= speed_max_mps")
        if self.traffic_speed_max_mps > self.speed_max_mps:
            raise ConfigError("traffic_speed_max_mps", "must be <= speed_max_mps")
        if self.exit_spacing_min_m < self.exit_ramp_length_m + self.traffic_window_ahead_m:
            raise ConfigError(
                "exit_spacing_min_m", "must be >= exit_ramp_length_m + traffic_window_ahead_m"
            )
        self.mission_mix.validate("mission_mix")
        self.reward.validate("reward")

    @functools.cached_property
    def kernel_params(self) -> KernelParams:
        """The flat tuple of numbers the compiled kernels read."""
        values: dict[str, Any] = {}
        for name in KernelParams._fields:
            if name == "dt_s":
                values[name] = self.dt_s
            elif name == "max_steps":
                values[name] = self.max_steps
            elif name.startswith("mix_"):
                values[name] = float(getattr(self.mission_mix, name[4:]))
            elif name.startswith("w_"):
                values[name] = float(getattr(self.reward, name[2:]))
            else:
                value = getattr(self, name)
                values[name] = int(value) if isinstance(value, bool | int) else float(value)
        return KernelParams(**values)

    @functools.cached_property
    def kernel_vector(self):
        """``kernel_params`` as one float64 vector: what the batch kernels take."""
        from car_ai_rl.sim.kernel_params import params_vector

        return params_vector(self.kernel_params)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short stable hash of the parameters, for model metadata and logs."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> SimParams:
        return sim_params_from_dict({**self.to_dict(), **changes})


class KernelParams(NamedTuple):
    """Numbers only, in a NamedTuple the compiled kernels accept."""

    n_lanes: int
    lane_width_m: float
    exit_distance_min_m: float
    exit_distance_max_m: float
    exit_ramp_length_m: float
    exit_spacing_min_m: float
    exit_spacing_max_m: float
    n_vehicles: int
    traffic_density: float
    traffic_window_behind_m: float
    traffic_window_ahead_m: float
    traffic_speed_min_mps: float
    traffic_speed_max_mps: float
    traffic_headway_min_s: float
    traffic_headway_max_s: float
    traffic_politeness_min: float
    traffic_politeness_max: float
    traffic_accel_max_mps2: float
    traffic_decel_comfort_mps2: float
    traffic_brake_max_mps2: float
    traffic_min_gap_m: float
    mobil_safe_decel_mps2: float
    mobil_threshold_mps2: float
    mobil_keep_right_bias_mps2: float
    mobil_decision_hz: float
    lane_change_cooldown_s: float
    vehicle_length_m: float
    vehicle_width_m: float
    ego_accel_max_mps2: float
    ego_brake_max_mps2: float
    speed_max_mps: float
    lane_change_duration_s: float
    dt_s: float
    substeps: int
    max_steps: int
    mission_changes: int
    mission_change_min_s: float
    mission_change_max_s: float
    target_speed_min_mps: float
    target_speed_max_mps: float
    cruise_tolerance_mps: float
    cruise_hold_s: float
    lane_hold_s: float
    mission_deadline_s: float
    exit_mission_min_lead_m: float
    mix_cruise: float
    mix_lane: float
    mix_exit: float
    w_speed: float
    w_progress: float
    w_mission_success: float
    w_mission_failure: float
    w_collision: float
    w_lane_change: float
    w_comfort: float
    w_headway: float


# ---------------------------------------------------------------------- validation helpers
def _check_range(
    name: str, value: float, lo: float | None = None, hi: float | None = None, strict: bool = False
) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(name, f"must be a finite number, got {value}")
    if lo is not None and (value <= lo if strict else value < lo):
        raise ConfigError(name, f"must be {'>' if strict else '>='} {lo}, got {value}")
    if hi is not None and value > hi:
        raise ConfigError(name, f"must be <= {hi}, got {value}")


def _check_order(lo_name: str, hi_name: str, params: SimParams) -> None:
    if getattr(params, lo_name) > getattr(params, hi_name):
        raise ConfigError(lo_name, f"must be <= {hi_name}")


def _check_types(obj: Any, prefix: str) -> None:
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        expected = hints[f.name]
        path = f"{prefix}{f.name}"
        if expected is bool:
            ok = isinstance(value, bool)
        elif expected is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif expected is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if ok and isinstance(value, int):
                object.__setattr__(obj, f.name, float(value))
        else:
            ok = isinstance(value, expected)
        if not ok:
            name = getattr(expected, "__name__", str(expected))
            raise ConfigError(path, f"must be {name}, got {type(value).__name__} {value!r}")


def _from_dict(cls: type, data: Any, path: str) -> Any:
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ConfigError(path or cls.__name__, f"must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        if key not in names:
            raise ConfigError(key_path, "unknown key")
        expected = hints[key]
        if dataclasses.is_dataclass(expected):
            kwargs[key] = _from_dict(expected, value, key_path)
        else:
            kwargs[key] = value
    try:
        obj = cls(**kwargs)
    except ConfigError as exc:
        if path and not exc.field.startswith(path):
            raise ConfigError(f"{path}.{exc.field}", exc.problem) from None
        raise
    return obj


def dataclass_from_dict(cls: type, data: Any, path: str = "") -> Any:
    """Build any (nested) config dataclass from plain data; errors name the field's path."""
    return _from_dict(cls, data, path)


def sim_params_from_dict(data: dict[str, Any] | None) -> SimParams:
    """Build :class:`SimParams` from plain data, naming the field of any mistake."""
    return _from_dict(SimParams, data or {}, "")


DEFAULT_PARAMS = SimParams()
