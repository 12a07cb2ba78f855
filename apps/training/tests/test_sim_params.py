"""Bad configuration gets an error that names the field; good configuration round-trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from car_ai_rl.errors import ConfigError, UserError
from car_ai_rl.sim.params import DEFAULT_PARAMS, SimParams, sim_params_from_dict


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"bogus": 1}, "bogus"),
        ({"n_lane": 3}, "n_lane"),
        ({"n_lanes": -1}, "n_lanes"),
        ({"n_lanes": 1}, "n_lanes"),
        ({"n_lanes": 6}, "n_lanes"),
        ({"n_lanes": "3"}, "n_lanes"),
        ({"n_lanes": 3.0}, "n_lanes"),
        ({"n_lanes": True}, "n_lanes"),
        ({"n_vehicles": 0}, "n_vehicles"),
        ({"n_vehicles": 40}, "n_vehicles"),
        ({"traffic_density": 150.0}, "traffic_density"),
        ({"traffic_density": 95.0, "heavy_vehicle_share": 0.5}, "traffic_density"),
        ({"heavy_vehicle_share": 0.8}, "heavy_vehicle_share"),
        ({"traffic_exit_share": -0.1}, "traffic_exit_share"),
        ({"heavy_speed_max_mps": 45.0}, "heavy_speed_max_mps"),
        ({"heavy_speed_min_mps": 26.0}, "heavy_speed_min_mps"),
        ({"lateral_accel_max_mps2": 0.0}, "lateral_accel_max_mps2"),
        ({"ego_power_to_mass_w_per_kg": -1.0}, "ego_power_to_mass_w_per_kg"),
        ({"substeps": 0}, "substeps"),
        ({"lane_width_m": math.nan}, "lane_width_m"),
        ({"lane_width_m": -4.0}, "lane_width_m"),
        ({"lane_width_m": "wide"}, "lane_width_m"),
        ({"traffic_density": math.inf}, "traffic_density"),
        ({"traffic_density": -1.0}, "traffic_density"),
        ({"decision_hz": 0.0}, "decision_hz"),
        ({"episode_duration_s": math.nan}, "episode_duration_s"),
        ({"ego_brake_max_mps2": -8.0}, "ego_brake_max_mps2"),
        ({"mission_changes": 1}, "mission_changes"),
        ({"mission_changes": "yes"}, "mission_changes"),
        ({"traffic_speed_min_mps": 35.0}, "traffic_speed_min_mps"),
        ({"target_speed_max_mps": 45.0}, "target_speed_max_mps"),
        ({"mission_mix": {"cruise": -1.0}}, "mission_mix.cruise"),
        ({"mission_mix": {"cruise": math.nan}}, "mission_mix.cruise"),
        ({"mission_mix": {"cruize": 1.0}}, "mission_mix.cruize"),
        ({"mission_mix": {"cruise": "a lot"}}, "mission_mix.cruise"),
        ({"mission_mix": {"cruise": 0.0, "lane": 0.0, "exit": 0.0}}, "mission_mix"),
        ({"mission_mix": 3}, "mission_mix"),
        ({"reward": {"speed": math.nan}}, "reward.speed"),
        ({"reward": {"collision": -1.0}}, "reward.collision"),
        ({"reward": {"colision": 1.0}}, "reward.colision"),
    ],
)
def test_bad_config_names_the_field(data: dict, field: str) -> None:
    with pytest.raises(ConfigError) as exc:
        sim_params_from_dict(data)
    assert exc.value.field == field
    assert str(exc.value).startswith(f"{field}:"), str(exc.value)
    # a config error is a user error (clean message, exit code) and a ValueError
    assert isinstance(exc.value, UserError) and isinstance(exc.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_lanes": -2}, "n_lanes"),
        ({"lateral_speed_max_mps": math.nan}, "lateral_speed_max_mps"),
        ({"speed_max_mps": "fast"}, "speed_max_mps"),
    ],
)
def test_constructor_validates_too(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=f"^{field}:"):
        SimParams(**kwargs)


def test_replace_validates() -> None:
    with pytest.raises(ConfigError, match="^n_lanes:"):
        DEFAULT_PARAMS.replace(n_lanes=0)


@pytest.mark.parametrize(
    ("data", "line"),
    [
        # types: YAML's own type must be right
        ({"traffic_density": "x"}, "traffic_density: must be a number in [0, 100], got 'x'"),
        ({"n_lanes": 3.0}, "n_lanes: must be an integer in [2, 5], got 3.0"),
        ({"mission_changes": "no"}, "mission_changes: must be true or false, got 'no'"),
        ({"n_vehicles": "20"}, "n_vehicles: must be an integer >= 1 or null, got '20'"),
        ({"reward": 5}, "reward: must be a mapping, got 5"),
        ({"mission_mix": {"exit": "most"}}, "mission_mix.exit: must be a number >= 0, got 'most'"),
        # ranges
        ({"traffic_density": 150.0}, "traffic_density: must be a number in [0, 100], got 150.0"),
        ({"substeps": 0}, "substeps: must be an integer in [1, 50], got 0"),
        ({"lane_width_m": -4.0}, "lane_width_m: must be a positive number, got -4.0"),
        ({"lane_width_m": math.nan}, "lane_width_m: must be a positive number, got nan"),
        (
            {"heavy_vehicle_share": 0.8},
            "heavy_vehicle_share: must be a number in [0, 0.5], got 0.8",
        ),
        ({"traffic_exit_share": -0.1}, "traffic_exit_share: must be a number in [0, 1], got -0.1"),
        ({"mobil_decision_hz": 0.0}, "mobil_decision_hz: must be a positive number, got 0.0"),
        (
            {"ego_drag_coefficient_per_m": -1e-4},
            "ego_drag_coefficient_per_m: must be a number >= 0, got -0.0001",
        ),
        ({"reward": {"collision": -1.0}}, "reward.collision: must be a number >= 0, got -1.0"),
        ({"reward": {"colision": 1.0}}, "reward.colision: unknown key"),
        # rules across fields keep their messages and name the field
        (
            {"traffic_speed_min_mps": 35.0},
            "traffic_speed_min_mps: must be <= traffic_speed_max_mps",
        ),
        ({"mission_change_min_s": 30.0}, "mission_change_min_s: must be <= mission_change_max_s"),
        ({"heavy_speed_max_mps": 45.0}, "heavy_speed_max_mps: must be <= speed_max_mps"),
        (
            {"lane_width_m": 2.5},
            "lane_width_m: must be wider than vehicle_width_m and heavy_width_m",
        ),
        (
            {"exit_spacing_min_m": 400.0},
            "exit_spacing_min_m: must be >= exit_ramp_length_m + traffic_window_ahead_m",
        ),
        (
            {"mission_mix": {"cruise": 0.0, "lane": 0.0, "exit": 0.0}},
            "mission_mix: at least one mission weight must be > 0",
        ),
        (
            {"n_vehicles": 40},
            "n_vehicles: 40 conflicts with traffic_density 16 on 3 lanes, which needs 20 vehicles"
            " (ego included); leave n_vehicles out, it follows from traffic_density",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_the_field(data: dict, line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        sim_params_from_dict(data)
    assert str(caught.value) == line
    # the same line under the path of the section that holds the params
    assert str(caught.value.under("env")) == f"env.{line}"


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        sim_params_from_dict({"n_lanes": "3", "reward": {"speed": -1.0}, "bogus": 1})
    assert [path for path, _ in caught.value.problems] == ["n_lanes", "reward.speed", "bogus"]
    with pytest.raises(ConfigError) as caught:
        sim_params_from_dict({"speed_max_mps": 20.0})
    assert [path for path, _ in caught.value.problems] == [
        "target_speed_max_mps",
        "traffic_speed_max_mps",
        "heavy_speed_max_mps",
    ]


def test_params_are_frozen_and_copies_are_validated_with_fresh_derived_values() -> None:
    import pickle

    from pydantic import ValidationError

    params = SimParams(traffic_density=20.0)
    with pytest.raises(ValidationError):
        params.n_lanes = 4  # type: ignore[misc]
    assert params.kernel_record[0].n_vehicles == params.vehicle_count
    wider = params.model_copy(update={"n_lanes": 5})
    assert wider == params.replace(n_lanes=5)
    assert wider.vehicle_count > params.vehicle_count
    assert wider.kernel_record[0].n_lanes == 5
    with pytest.raises(ConfigError, match="^n_lanes:"):
        params.model_copy(update={"n_lanes": 9})
    restored = pickle.loads(pickle.dumps(params))
    assert restored == params and "kernel_record" not in restored.__dict__
    assert restored.kernel_record[0].n_vehicles == params.vehicle_count
    assert hash(restored) == hash(params)


def test_good_config_round_trips_and_coerces_ints_to_floats() -> None:
    params = sim_params_from_dict(
        {"n_lanes": 4, "traffic_density": 20, "mission_mix": {"exit": 1}, "reward": {"speed": 1}}
    )
    assert params.n_lanes == 4
    assert params.traffic_density == 20.0 and isinstance(params.traffic_density, float)
    assert params.mission_mix.exit == 1.0 and params.mission_mix.cruise == 0.35
    assert sim_params_from_dict(params.to_dict()) == params
    assert sim_params_from_dict(None) == SimParams()
    assert params.digest() == sim_params_from_dict(params.to_dict()).digest()
    assert params.digest() != SimParams().digest()


def test_kernel_record_carries_every_number_by_name() -> None:
    """The kernels read params from a record generated from the config class: every scalar
    field is there under its own name (nested sections flattened), with the derived values."""
    from pydantic import BaseModel

    from car_ai_rl.sim.kernel_params import KERNEL_DTYPE

    params = SimParams(n_lanes=4, decision_hz=10.0, episode_duration_s=12.0, traffic_density=20.0)
    rec = params.kernel_record[0]
    for name in SimParams.model_fields:
        value = getattr(params, name)
        if isinstance(value, BaseModel):
            for sub in type(value).model_fields:
                assert rec[f"{name}_{sub}"] == getattr(value, sub)
        elif name == "n_vehicles":
            assert rec.n_vehicles == params.vehicle_count
        elif name == "traffic_density_max":  # unset: the range is the one density
            assert rec.traffic_density_max == params.traffic_density
        else:
            assert rec[name] == value, name
    assert rec.dt_s == pytest.approx(0.1)
    assert rec.max_steps == 120
    assert rec.window_m == params.window_m
    assert KERNEL_DTYPE["n_lanes"] == np.int64 and KERNEL_DTYPE["dt_s"] == np.float64


@pytest.mark.parametrize("n_lanes", [2, 3, 4, 5])
@pytest.mark.parametrize("density", [0.0, 0.5, 5.0, 7.3, 16.0, 60.0, 100.0])
def test_the_vehicle_count_and_segment_give_exactly_the_density(
    n_lanes: int, density: float
) -> None:
    params = SimParams(n_lanes=n_lanes, traffic_density=density)
    n = params.vehicle_count
    assert n >= 1
    assert params.ring_length_m >= params.window_m
    if n >= 2 and density > 0:
        assert 1000.0 * n / (params.ring_length_m * n_lanes) == pytest.approx(density)
        # the fewest vehicles that cover the window at that density
        assert (n - 1) < density * params.window_m / 1000.0 * n_lanes + 1e-9
    # an explicit n_vehicles must agree with the density, and then it is accepted
    assert SimParams(n_lanes=n_lanes, traffic_density=density, n_vehicles=n).vehicle_count == n
    with pytest.raises(ConfigError, match="^n_vehicles: .*traffic_density"):
        SimParams(n_lanes=n_lanes, traffic_density=density, n_vehicles=n + 1)


def test_lanes_narrower_than_the_vehicles_are_refused() -> None:
    with pytest.raises(ConfigError, match="lane_width_m"):
        SimParams(lane_width_m=1.5)
