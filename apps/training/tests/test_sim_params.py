"""Bad configuration gets an error that names the field; good configuration round-trips."""

from __future__ import annotations

import math

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
        ({"lane_change_duration_s": math.nan}, "lane_change_duration_s"),
        ({"speed_max_mps": "fast"}, "speed_max_mps"),
    ],
)
def test_dataclass_constructor_validates_too(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=f"^{field}:"):
        SimParams(**kwargs)


def test_replace_validates() -> None:
    with pytest.raises(ConfigError, match="^n_lanes:"):
        DEFAULT_PARAMS.replace(n_lanes=0)


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


def test_kernel_params_carry_every_number() -> None:
    params = SimParams(n_lanes=4, decision_hz=10.0, episode_duration_s=12.0)
    kp = params.kernel_params
    assert kp.n_lanes == 4
    assert kp.dt_s == pytest.approx(0.1)
    assert kp.max_steps == 120
    assert kp.mix_exit == params.mission_mix.exit
    assert kp.w_collision == params.reward.collision


def test_kernel_vector_round_trips_every_field_in_order() -> None:
    """The compiled kernels unpack params from a flat vector by position: a field out of
    order would silently swap two physical constants."""
    import typing

    from car_ai_rl.sim.kernel_params import params_vector, unpack_params
    from car_ai_rl.sim.params import KernelParams

    hints = typing.get_type_hints(KernelParams)
    values = [
        k + 1 if hints[name] is int else k + 1.25 for k, name in enumerate(KernelParams._fields)
    ]
    kp = KernelParams(*values)
    vector = params_vector(kp)
    assert vector.shape == (len(KernelParams._fields),)
    unpacked = unpack_params(vector)
    assert tuple(unpacked) == tuple(kp)
    for name in KernelParams._fields:
        assert type(getattr(unpacked, name)) is hints[name], name
    params = SimParams(n_lanes=5, substeps=3, episode_duration_s=17.0)
    assert tuple(unpack_params(params.kernel_vector)) == tuple(params.kernel_params)


def test_lanes_narrower_than_the_vehicles_are_refused() -> None:
    with pytest.raises(ConfigError, match="lane_width_m"):
        SimParams(lane_width_m=1.5)
