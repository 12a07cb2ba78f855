"""Simulator parameters: frozen dataclasses are the source of truth.

YAML files and command-line flags only fill these in (see :func:`sim_params_from_dict`);
unknown keys, wrong types, NaN and out-of-range values raise :class:`ConfigError` naming the field.
The compiled kernels read the same numbers from a record built by ``sim.kernel_params``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field
from typing import Any

from car_ai_rl.errors import ConfigError

MAX_TRAFFIC_DENSITY = 100.0  # vehicles/km/lane; jam density of 4.8 m cars at 2.5 m is 137


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
    """Everything that defines a scenario distribution. Units are in the names.

    Traffic lives on a periodic road segment around the ego (``traffic_window_behind_m`` +
    ``traffic_window_ahead_m`` long, stretched slightly so that the vehicle count matches the
    density exactly): ``traffic_density`` alone fixes how many vehicles take part, and
    ``n_vehicles`` (the buffer size, ego included) follows from it.
    """

    # road
    n_lanes: int = 3
    lane_width_m: float = 4.0
    exit_distance_min_m: float = 350.0
    exit_distance_max_m: float = 800.0
    exit_ramp_length_m: float = 200.0
    exit_spacing_min_m: float = 1500.0
    exit_spacing_max_m: float = 3000.0
    # traffic
    n_vehicles: int | None = (
        None  # derived from the density; a different explicit value is an error
    )
    traffic_density: float = 16.0  # vehicles per km per lane around the ego
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
    # heavy vehicles: a fixed share of the traffic, never in the leftmost lane of 3+ lanes
    heavy_vehicle_share: float = 0.1
    heavy_length_m: float = 12.0
    heavy_width_m: float = 2.5
    heavy_speed_min_mps: float = 22.0
    heavy_speed_max_mps: float = 25.0
    heavy_accel_max_mps2: float = 0.8
    # traffic that takes the exit
    traffic_exit_share: float = 0.15
    traffic_exit_prepare_m: float = 500.0
    traffic_exit_speed_mps: float = 20.0
    # lateral motion of every vehicle during a lane change
    lateral_accel_max_mps2: float = 1.5
    lateral_speed_max_mps: float = 2.0
    lane_change_heading_max_rad: float = 0.12
    # ego
    ego_accel_max_mps2: float = 3.0
    ego_brake_max_mps2: float = 8.0
    ego_power_to_mass_w_per_kg: float = 75.0
    ego_drag_coefficient_per_m: float = 0.00026
    ego_rolling_resistance_mps2: float = 0.1
    ego_lane_change_cooldown_s: float = 1.0
    speed_max_mps: float = 40.0
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

    @property
    def window_m(self) -> float:
        """Length of the traffic window around the ego."""
        return self.traffic_window_behind_m + self.traffic_window_ahead_m

    @property
    def vehicle_count(self) -> int:
        """Vehicles on the road segment, the ego included: enough for the density."""
        return vehicle_count(self.traffic_density, self.window_m, self.n_lanes)

    @property
    def ring_length_m(self) -> float:
        """Length of the periodic road segment: ``vehicle_count`` vehicles at exactly
        ``traffic_density`` (at least the window, when there is no traffic)."""
        n = self.vehicle_count
        if n < 2 or self.traffic_density <= 0.0:
            return self.window_m
        return 1000.0 * n / (self.traffic_density * self.n_lanes)

    @property
    def heavy_vehicle_count(self) -> int:
        return int(round(self.heavy_vehicle_share * (self.vehicle_count - 1)))

    def validate(self) -> None:
        _check_types(self, "")
        _check_range("n_lanes", self.n_lanes, lo=2, hi=5)
        _check_range("substeps", self.substeps, lo=1, hi=50)
        _check_range("traffic_density", self.traffic_density, lo=0.0, hi=MAX_TRAFFIC_DENSITY)
        _check_range("heavy_vehicle_share", self.heavy_vehicle_share, lo=0.0, hi=0.5)
        _check_range("traffic_exit_share", self.traffic_exit_share, lo=0.0, hi=1.0)
        _check_range("lane_change_heading_max_rad", self.lane_change_heading_max_rad, hi=0.5)
        zero_ok = ("traffic_politeness", "mobil_", "exit_spacing", "heavy_vehicle_share")
        zero_ok += ("traffic_exit_share", "traffic_density", "ego_drag", "ego_rolling")
        zero_ok += ("lane_change_cooldown_s", "ego_lane_change_cooldown_s")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float):
                _check_range(f.name, value, lo=0.0, strict=not f.name.startswith(zero_ok))
        _check_order("traffic_speed_min_mps", "traffic_speed_max_mps", self)
        _check_order("heavy_speed_min_mps", "heavy_speed_max_mps", self)
        _check_order("traffic_headway_min_s", "traffic_headway_max_s", self)
        _check_order("traffic_politeness_min", "traffic_politeness_max", self)
        _check_order("exit_distance_min_m", "exit_distance_max_m", self)
        _check_order("exit_spacing_min_m", "exit_spacing_max_m", self)
        _check_order("mission_change_min_s", "mission_change_max_s", self)
        _check_order("target_speed_min_mps", "target_speed_max_mps", self)
        if self.lane_width_m <= max(self.vehicle_width_m, self.heavy_width_m):
            raise ConfigError(
                "lane_width_m", "must be wider than vehicle_width_m and heavy_width_m"
            )
        for name in ("target_speed_max_mps", "traffic_speed_max_mps", "heavy_speed_max_mps"):
            if getattr(self, name) > self.speed_max_mps:
                raise ConfigError(name, "must be <= speed_max_mps")
        if self.exit_spacing_min_m < self.exit_ramp_length_m + self.traffic_window_ahead_m:
            raise ConfigError(
                "exit_spacing_min_m", "must be >= exit_ramp_length_m + traffic_window_ahead_m"
            )
        self._check_room()
        needed = self.vehicle_count
        if self.n_vehicles is not None:
            _check_range("n_vehicles", self.n_vehicles, lo=1)
            if self.n_vehicles != needed:
                raise ConfigError(
                    "n_vehicles",
                    f"{self.n_vehicles} conflicts with traffic_density {self.traffic_density:g}"
                    f" on {self.n_lanes} lanes, which needs {needed} vehicles (ego included);"
                    " leave n_vehicles out, it follows from traffic_density",
                )
        self.mission_mix.validate("mission_mix")
        self.reward.validate("reward")

    def _check_room(self) -> None:
        """Every lane must hold its share of vehicles, heavy ones included, at the minimum gap."""
        heavy_lanes = self.n_lanes - 1 if self.n_lanes >= 3 else self.n_lanes
        heavy_fraction = min(1.0, self.heavy_vehicle_share * self.n_lanes / heavy_lanes)
        length = heavy_fraction * self.heavy_length_m + (1 - heavy_fraction) * self.vehicle_length_m
        most = 1000.0 / (length + self.traffic_min_gap_m)
        if self.traffic_density > most:
            raise ConfigError(
                "traffic_density",
                f"{self.traffic_density:g} vehicles/km/lane do not fit: with "
                f"heavy_vehicle_share {self.heavy_vehicle_share:g} a lane holds at most "
                f"{most:.0f} (vehicles {length:.1f} m long on average, traffic_min_gap_m apart)",
            )

    @functools.cached_property
    def kernel_record(self):
        """The numbers the compiled kernels read, as a one-element record array."""
        from car_ai_rl.sim.kernel_params import kernel_record

        return kernel_record(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short stable hash of the parameters, for model metadata and logs."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> SimParams:
        base = self.to_dict()
        if "n_vehicles" not in changes:
            base["n_vehicles"] = None  # keep following the density
        return sim_params_from_dict({**base, **changes})


def vehicle_count(density_per_km_lane: float, window_m: float, n_lanes: int) -> int:
    """Vehicles (ego included) that give at least ``density`` over ``window_m`` on every lane."""
    wanted = density_per_km_lane * window_m / 1000.0 * n_lanes
    return max(1, math.ceil(wanted - 1e-9))


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
        optional = typing.get_origin(expected) in (typing.Union, type(int | None)) and type(
            None
        ) in typing.get_args(expected)
        if optional:
            if value is None:
                continue
            expected = next(a for a in typing.get_args(expected) if a is not type(None))
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
