"""Simulator parameters, declared on the shared config layer (``car_ai_rl.schema``).

:class:`SimParams` is the one definition of every field: its type, range, default and the
docstring under it, from which ``docs/config-reference.md`` is generated. The same class is
the runtime object: frozen, with attribute access and its derived values cached, so the hot
paths read plain attributes. YAML files and command-line flags only fill it in (see
:func:`sim_params_from_dict`); unknown keys, wrong types, NaN and out-of-range values raise
:class:`ConfigError` naming the field (``n_lanes: must be an integer in [2, 5], got 9``).
The compiled kernels read the same numbers from a record built by ``sim.kernel_params``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from car_ai_rl.errors import ConfigError
from car_ai_rl.schema import (
    ConfigModel,
    Expects,
    Fraction,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    parse,
    problems_of,
)
from car_ai_rl.sim.segment import heavy_count, segment_length_m, segment_vehicles

MAX_TRAFFIC_DENSITY = 100.0  # vehicles/km/lane; jam density of 4.8 m cars at 2.5 m is 137
MAX_HEAVY_VEHICLE_SHARE = 0.5
MAX_LANE_CHANGE_HEADING_RAD = 0.5


class MissionMix(ConfigModel):
    """Relative weights of the mission kinds drawn at reset and at random mission changes (at
    least one must be > 0). An exit mission is only drawn when the exit is far enough ahead
    and there is time left to reach it; otherwise the other kinds share its weight."""

    cruise: NonNegativeFloat = 0.35
    """Weight of the cruise mission: hold a target speed (or match a slower vehicle close
    ahead) for `cruise_hold_s`."""
    lane: NonNegativeFloat = 0.3
    """Weight of the lane mission: move to a target lane and hold it for `lane_hold_s`."""
    exit: NonNegativeFloat = 0.35
    """Weight of the exit mission: leave on the ramp before the end of its diverge zone."""

    @model_validator(mode="after")
    def _some_weight(self) -> MissionMix:
        if self.cruise + self.lane + self.exit <= 0:
            raise ValueError("at least one mission weight must be > 0")
        return self


class RewardWeights(ConfigModel):
    """Weights of the named reward terms (see `car_ai_rl.sim.reward`); the reward is the sum of
    the terms. Per-step terms are penalties; leaving on a ramp no mission asked for fails the
    mission (even one that had succeeded), so ending the episode early never pays."""

    speed: NonNegativeFloat = 0.15
    """Per-step penalty for the speed error: weight x min(|speed - target| / 10 m/s, 1)."""
    progress: NonNegativeFloat = 0.6
    """Potential-based shaping of lane and exit missions: weight x the lateral progress (in
    lanes) toward the target lane."""
    mission_success: NonNegativeFloat = 10.0
    """One-off bonus when a mission succeeds."""
    mission_failure: NonNegativeFloat = 10.0
    """One-off penalty when a mission fails (leaving on a ramp though the mission, pending or
    succeeded, is not an exit fails it)."""
    collision: NonNegativeFloat = 40.0
    """One-off penalty for a collision (which ends the episode)."""
    lane_change: NonNegativeFloat = 0.05
    """Penalty for each lane change the ego starts."""
    comfort: NonNegativeFloat = 0.15
    """Per-step penalty for jerk: weight x min(|jerk| / 50 m/s^3, 1). A jerk of 10 m/s^3 costs
    as much as a speed error of 2 m/s (at 0.02 it cost next to nothing, and a trained policy
    kept switching between acceleration levels)."""
    headway: NonNegativeFloat = 0.3
    """Per-step penalty for following closer than 1 s: weight x (1 - headway / 1 s)."""


class SimParams(ConfigModel):
    """Everything that defines a scenario distribution of the simulator; units are in the
    names. Used as `env:` in the training config, `sim:` and suite keys in the evaluation
    config, `car-ai-rl episodes --config`, and keyword arguments of
    `gym.make("car_ai_rl/HighwayMission-v0", ...)`; unset fields keep their defaults.

    Traffic lives on a periodic road segment around the ego (`traffic_window_behind_m` +
    `traffic_window_ahead_m` long, stretched slightly so that the vehicle count matches the
    density exactly): `traffic_density` alone fixes how many vehicles take part, and
    `n_vehicles` follows from it.
    Cross-checks: every `*_min_*` is <= its `*_max_*`; lanes are wider than the vehicles;
    `target_speed_max_mps`, `traffic_speed_max_mps` and `heavy_speed_max_mps` are <=
    `speed_max_mps`; `exit_spacing_min_m` >= `exit_ramp_length_m` + `traffic_window_ahead_m`;
    every lane has room for its share of `traffic_density` at `traffic_min_gap_m`; an explicit
    `n_vehicles` equals the count `traffic_density` needs."""

    # ------------------------------------------------------------------------------ road
    n_lanes: int = Field(3, ge=2, le=5)
    """Lanes of the highway, numbered from the left (0); the exit ramp leaves the rightmost."""
    lane_width_m: PositiveFloat = 4.0
    """Width of every lane (wider than `vehicle_width_m` and `heavy_width_m`)."""
    exit_distance_min_m: PositiveFloat = 350.0
    """Nearest start of the first exit's diverge zone ahead of the ego at reset (drawn
    uniformly per episode up to `exit_distance_max_m`)."""
    exit_distance_max_m: PositiveFloat = 800.0
    """Farthest start of the first exit's diverge zone ahead of the ego at reset."""
    exit_ramp_length_m: PositiveFloat = 200.0
    """Length of an exit's diverge zone, alongside the rightmost lane, where the ramp can be
    taken."""
    exit_spacing_min_m: NonNegativeFloat = 1500.0
    """Shortest distance from one exit to the next (drawn uniformly up to
    `exit_spacing_max_m`); the next exit appears once the ego has passed one."""
    exit_spacing_max_m: NonNegativeFloat = 3000.0
    """Longest distance from one exit to the next."""
    # --------------------------------------------------------------------------- traffic
    n_vehicles: PositiveInt | None = None
    """Vehicle buffer size, the ego included. It follows from `traffic_density`: leave it
    out; an explicit value must equal the count the density needs."""
    traffic_density: float = Field(16.0, ge=0, le=MAX_TRAFFIC_DENSITY)
    """Traffic around the ego, in vehicles per km per lane; it fixes how many vehicles take
    part (`0`: no traffic)."""
    traffic_density_max: float | None = Field(None, ge=0, le=MAX_TRAFFIC_DENSITY)
    """Unset (the default): every episode has `traffic_density`. Set (>= `traffic_density`):
    each episode draws its density uniformly from [`traffic_density`, this], for training on
    light to dense traffic at once; the vehicle buffer is sized for this density."""
    traffic_window_behind_m: PositiveFloat = 150.0
    """How far behind the ego the periodic traffic segment starts."""
    traffic_window_ahead_m: PositiveFloat = 250.0
    """How far ahead of the ego the traffic segment reaches (before it is stretched to match
    the density)."""
    traffic_speed_min_mps: PositiveFloat = 21.0
    """Lowest desired speed of a car, drawn uniformly per vehicle up to
    `traffic_speed_max_mps`."""
    traffic_speed_max_mps: PositiveFloat = 30.0
    """Highest desired speed of a car (at most `speed_max_mps`)."""
    traffic_headway_min_s: PositiveFloat = 1.0
    """Shortest IDM time headway of a vehicle, drawn uniformly per vehicle up to
    `traffic_headway_max_s`."""
    traffic_headway_max_s: PositiveFloat = 2.0
    """Longest IDM time headway of a vehicle."""
    traffic_politeness_min: NonNegativeFloat = 0.0
    """Lowest MOBIL politeness (weight of the followers' gains in a lane-change decision),
    drawn uniformly per vehicle up to `traffic_politeness_max`."""
    traffic_politeness_max: NonNegativeFloat = 0.5
    """Highest MOBIL politeness."""
    traffic_accel_max_mps2: PositiveFloat = 1.5
    """IDM maximum acceleration of a car."""
    traffic_decel_comfort_mps2: PositiveFloat = 2.5
    """IDM comfortable deceleration of every traffic vehicle."""
    traffic_brake_max_mps2: PositiveFloat = 9.0
    """Hardest braking of a traffic vehicle; the supervisor assumes leaders can brake this
    hard."""
    traffic_min_gap_m: PositiveFloat = 2.5
    """IDM minimum bumper-to-bumper gap at a standstill; also the smallest gap a lane change
    may enter."""
    mobil_safe_decel_mps2: NonNegativeFloat = 3.0
    """MOBIL safety: no lane change that makes the vehicle or its new follower brake harder
    than this."""
    mobil_threshold_mps2: NonNegativeFloat = 0.2
    """MOBIL incentive: the acceleration gain a lane change must beat."""
    mobil_keep_right_bias_mps2: NonNegativeFloat = 0.1
    """MOBIL bias toward the right lane, added to the gain of moving right (subtracted from
    moving left)."""
    mobil_decision_hz: PositiveFloat = 1.0
    """Lane-change decisions per second of each traffic vehicle (staggered by vehicle)."""
    lane_change_cooldown_s: NonNegativeFloat = 3.0
    """Time a traffic vehicle waits after a lane change before it may start another."""
    vehicle_length_m: PositiveFloat = 4.8
    """Length of a car (the ego included)."""
    vehicle_width_m: PositiveFloat = 1.9
    """Width of a car (the ego included)."""
    heavy_vehicle_share: float = Field(0.1, ge=0, le=MAX_HEAVY_VEHICLE_SHARE)
    """Share of the traffic that is heavy vehicles (trucks), which never use the leftmost lane
    of a road with three or more lanes."""
    heavy_length_m: PositiveFloat = 12.0
    """Length of a heavy vehicle."""
    heavy_width_m: PositiveFloat = 2.5
    """Width of a heavy vehicle."""
    heavy_speed_min_mps: PositiveFloat = 22.0
    """Lowest desired speed of a heavy vehicle, drawn uniformly per vehicle up to
    `heavy_speed_max_mps`."""
    heavy_speed_max_mps: PositiveFloat = 25.0
    """Highest desired speed of a heavy vehicle (at most `speed_max_mps`)."""
    heavy_accel_max_mps2: PositiveFloat = 0.8
    """IDM maximum acceleration of a heavy vehicle."""
    traffic_exit_share: Fraction = 0.15
    """Share of the traffic that means to take the next exit (drawn per vehicle and exit)."""
    traffic_exit_prepare_m: PositiveFloat = 500.0
    """Distance before the diverge zone from which traffic bound for the exit moves right and
    no longer moves left, and slows to `traffic_exit_speed_mps` in the rightmost lane."""
    traffic_exit_speed_mps: PositiveFloat = 20.0
    """Speed traffic bound for the exit slows to near and on the ramp."""
    lateral_accel_max_mps2: PositiveFloat = 1.5
    """Largest lateral acceleration during a lane change (every vehicle, the ego included)."""
    lateral_speed_max_mps: PositiveFloat = 2.0
    """Largest lateral speed during a lane change."""
    lane_change_heading_max_rad: float = Field(0.12, gt=0, le=MAX_LANE_CHANGE_HEADING_RAD)
    """Largest heading angle during a lane change: the lateral speed is at most
    speed x tan(this), so a slow vehicle changes lanes slowly and a stopped one not at all."""
    # ------------------------------------------------------------------------------- ego
    ego_accel_max_mps2: PositiveFloat = 3.0
    """Acceleration at full throttle, as grip allows (power limits it at speed)."""
    ego_brake_max_mps2: PositiveFloat = 8.0
    """Deceleration at full brake."""
    ego_power_to_mass_w_per_kg: PositiveFloat = 75.0
    """Engine power per kg: full throttle gives at most this / speed of acceleration."""
    ego_drag_coefficient_per_m: NonNegativeFloat = 0.00026
    """Aerodynamic drag: a deceleration of this x speed^2."""
    ego_rolling_resistance_mps2: NonNegativeFloat = 0.1
    """Deceleration from rolling resistance while moving."""
    ego_lane_change_cooldown_s: NonNegativeFloat = 1.0
    """Time the ego waits after a lane change before it may start another."""
    speed_max_mps: PositiveFloat = 40.0
    """Top speed of every vehicle, the ego included."""
    # ---------------------------------------------------------------------------- timing
    decision_hz: PositiveFloat = 5.0
    """Decisions (env steps) per second."""
    substeps: int = Field(1, ge=1, le=50)
    """Integration steps per decision step."""
    episode_duration_s: PositiveFloat = 40.0
    """Time limit of an episode; reaching it truncates the episode, and a pending mission
    fails."""
    # -------------------------------------------------------------------------- missions
    mission_mix: MissionMix = MissionMix()
    """Weights of the mission kinds."""
    mission_changes: bool = True
    """Change the mission at random times during the episode (only to missions that can
    resolve before the time limit)."""
    mission_change_min_s: PositiveFloat = 10.0
    """Shortest time between random mission changes (drawn uniformly up to
    `mission_change_max_s`)."""
    mission_change_max_s: PositiveFloat = 25.0
    """Longest time between random mission changes."""
    target_speed_min_mps: PositiveFloat = 20.0
    """Lowest target speed of a mission, drawn uniformly up to `target_speed_max_mps`."""
    target_speed_max_mps: PositiveFloat = 32.0
    """Highest target speed of a mission (at most `speed_max_mps`)."""
    cruise_tolerance_mps: PositiveFloat = 2.0
    """A cruise mission's speed counts as held within this of the target."""
    cruise_hold_s: PositiveFloat = 2.0
    """Time in a row the speed must be held for a cruise mission to succeed."""
    lane_hold_s: PositiveFloat = 1.0
    """Time the target lane must be held, after the lane change, for a lane mission to
    succeed."""
    mission_deadline_s: PositiveFloat = 20.0
    """Time a cruise or lane mission has to succeed before it fails."""
    exit_mission_min_lead_m: PositiveFloat = 300.0
    """An exit mission is only issued when the diverge zone is at least this far ahead."""
    # ---------------------------------------------------------------------------- reward
    reward: RewardWeights = RewardWeights()
    """Weights of the reward terms."""

    def __init__(self, /, **data: Any) -> None:
        """``SimParams(n_lanes=4)`` is checked as a file is: a bad value raises
        :class:`ConfigError` naming the field, not pydantic's ``ValidationError``."""
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError.of(problems_of(exc, type(self))) from None

    @model_validator(mode="after")
    def _fits_together(self) -> SimParams:
        problems = _cross_field_problems(self)
        if problems:
            raise ConfigError.of(problems)
        return self

    # ------------------------------------------------------------------ derived values
    # Cached on the instance (the model is frozen): hot paths read them as plain attributes.
    @functools.cached_property
    def dt_s(self) -> float:
        """Seconds per decision step."""
        return 1.0 / self.decision_hz

    @functools.cached_property
    def max_steps(self) -> int:
        return int(round(self.episode_duration_s * self.decision_hz))

    @functools.cached_property
    def window_m(self) -> float:
        """Length of the traffic window around the ego."""
        return self.traffic_window_behind_m + self.traffic_window_ahead_m

    @functools.cached_property
    def densest_traffic(self) -> float:
        """The highest density an episode can have (vehicles/km/lane)."""
        return max(self.traffic_density, self.traffic_density_max or 0.0)

    @functools.cached_property
    def vehicle_count(self) -> int:
        """Vehicles on the road segment, the ego included: enough for the densest episode."""
        return segment_vehicles(self.densest_traffic, self.window_m, self.n_lanes)

    @functools.cached_property
    def ring_length_m(self) -> float:
        """Length of the periodic road segment at `traffic_density`: ``vehicle_count``
        vehicles at exactly that density (at least the window, when there is no traffic)."""
        n = segment_vehicles(self.traffic_density, self.window_m, self.n_lanes)
        return segment_length_m(n, self.traffic_density, self.window_m, self.n_lanes)

    @functools.cached_property
    def heavy_vehicle_count(self) -> int:
        return heavy_count(self.heavy_vehicle_share, self.vehicle_count)

    @functools.cached_property
    def kernel_record(self):
        """The numbers the compiled kernels read, as a one-element record array."""
        from car_ai_rl.sim.kernel_params import kernel_record

        return kernel_record(self)

    # ---------------------------------------------------------------------- conversions
    def to_dict(self) -> dict[str, Any]:
        """Plain data: every field, nested sections as mappings."""
        return self.model_dump(mode="json")

    def digest(self) -> str:
        """A short stable hash of the parameters, for model metadata and logs."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> SimParams:
        """A validated copy with ``changes``; ``n_vehicles`` keeps following the density unless
        it is among them."""
        base = self.to_dict()
        if "n_vehicles" not in changes:
            base["n_vehicles"] = None
        return sim_params_from_dict({**base, **changes})

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> SimParams:
        """Like :meth:`replace`: pydantic's own copy would skip validation and keep the cached
        derived values of the original."""
        return sim_params_from_dict({**self.to_dict(), **(update or {})})

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle the fields only; the derived values are recomputed on use."""
        state = super().__getstate__()
        fields = type(self).model_fields
        state["__dict__"] = {k: v for k, v in state["__dict__"].items() if k in fields}
        return state


# ------------------------------------------------------------------------ cross-field rules
_ORDERED = (
    ("traffic_speed_min_mps", "traffic_speed_max_mps"),
    ("heavy_speed_min_mps", "heavy_speed_max_mps"),
    ("traffic_headway_min_s", "traffic_headway_max_s"),
    ("traffic_politeness_min", "traffic_politeness_max"),
    ("exit_distance_min_m", "exit_distance_max_m"),
    ("exit_spacing_min_m", "exit_spacing_max_m"),
    ("mission_change_min_s", "mission_change_max_s"),
    ("target_speed_min_mps", "target_speed_max_mps"),
)
_CAPPED_BY_SPEED_MAX = ("target_speed_max_mps", "traffic_speed_max_mps", "heavy_speed_max_mps")


def _cross_field_problems(p: SimParams) -> list[tuple[str, str]]:
    """Every rule that spans fields, as ``(field, problem)``; the fields are valid alone."""
    problems = [(lo, f"must be <= {hi}") for lo, hi in _ORDERED if getattr(p, lo) > getattr(p, hi)]
    if p.lane_width_m <= max(p.vehicle_width_m, p.heavy_width_m):
        problems.append(("lane_width_m", "must be wider than vehicle_width_m and heavy_width_m"))
    problems += [
        (name, "must be <= speed_max_mps")
        for name in _CAPPED_BY_SPEED_MAX
        if getattr(p, name) > p.speed_max_mps
    ]
    if p.exit_spacing_min_m < p.exit_ramp_length_m + p.traffic_window_ahead_m:
        problems.append(
            ("exit_spacing_min_m", "must be >= exit_ramp_length_m + traffic_window_ahead_m")
        )
    problems += _room_problems(p)
    if p.traffic_density_max is not None and p.traffic_density_max < p.traffic_density:
        problems.append(
            ("traffic_density_max", f"must be >= traffic_density {p.traffic_density:g}")
        )
    needed = segment_vehicles(p.densest_traffic, p.window_m, p.n_lanes)
    if p.n_vehicles is not None and p.n_vehicles != needed:
        problems.append(
            (
                "n_vehicles",
                f"{p.n_vehicles} conflicts with traffic_density {p.densest_traffic:g}"
                f" on {p.n_lanes} lanes, which needs {needed} vehicles (ego included);"
                " leave n_vehicles out, it follows from traffic_density",
            )
        )
    return problems


def _room_problems(p: SimParams) -> list[tuple[str, str]]:
    """Every lane must hold its share of vehicles, heavy ones included, at the minimum gap."""
    heavy_lanes = p.n_lanes - 1 if p.n_lanes >= 3 else p.n_lanes
    heavy_fraction = min(1.0, p.heavy_vehicle_share * p.n_lanes / heavy_lanes)
    length = heavy_fraction * p.heavy_length_m + (1 - heavy_fraction) * p.vehicle_length_m
    most = 1000.0 / (length + p.traffic_min_gap_m)
    if p.densest_traffic <= most:
        return []
    field = "traffic_density" if p.densest_traffic == p.traffic_density else "traffic_density_max"
    return [
        (
            field,
            f"{p.densest_traffic:g} vehicles/km/lane do not fit: with "
            f"heavy_vehicle_share {p.heavy_vehicle_share:g} a lane holds at most "
            f"{most:.0f} (vehicles {length:.1f} m long on average, traffic_min_gap_m apart)",
        )
    ]


# ---------------------------------------------------------------------------- loading
SimOverrides = Annotated[dict[str, Any], Expects("a mapping of simulator parameters")]
"""A config section holding some :class:`SimParams` fields (``env:``, ``sim:``): validated
with :func:`sim_params_from_dict` by the class that declares it, kept as written so that a
config follows later changes of the defaults it does not set."""


def sim_params_from_dict(data: Any) -> SimParams:
    """Build :class:`SimParams` from plain data (what YAML gives; None is ``{}``), naming the
    field of every mistake."""
    if isinstance(data, SimParams):
        return data
    return parse(SimParams, {} if data is None else data)


DEFAULT_PARAMS = SimParams()
