"""The config layer: strict types, ranges, full error paths, frozen classes and generated docs."""

from __future__ import annotations

import math
from typing import Annotated

import pytest
from pydantic import Field, ValidationError, model_validator

from car_ai_rl.config_reference import DOC_PATH, DOCUMENTED, render
from car_ai_rl.errors import ConfigError
from car_ai_rl.schema import (
    ConfigModel,
    Fraction,
    IntList,
    PositiveFloat,
    parse,
    reference_markdown,
    undocumented_fields,
)
from car_ai_rl.train.config import TrainConfig, build_config, env_overrides


class Lane(ConfigModel):
    """One lane of a made-up road: the shape SimParams will take on this layer."""

    width_m: PositiveFloat = 4.0
    """Lane width."""
    speed_limit_mps: float = Field(30.0, gt=0, le=60)
    """Speed limit."""


class Road(ConfigModel):
    """A made-up road with nested sections, units in names, ranges and a cross-field rule."""

    n_lanes: int = Field(3, ge=2, le=5)
    """Number of lanes."""
    lane: Lane = Lane()
    """Every lane."""
    ramps: list[Lane] = Field(default_factory=list)
    """Exit ramps."""
    sizes_m: IntList = (10, 20)
    """Sizes."""
    share: Fraction = 0.5
    """A share."""
    exit_min_m: float = 100.0
    """Nearest exit."""
    exit_max_m: float = 200.0
    """Farthest exit."""

    @model_validator(mode="after")
    def _ordered(self) -> Road:
        if self.exit_min_m > self.exit_max_m:
            raise ConfigError("exit_min_m", "must be <= exit_max_m")
        return self


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({"lane": {"width_m": "wide"}}, "lane.width_m: must be a positive number, got 'wide'"),
        ({"lane": {"width_m": math.nan}}, "lane.width_m: must be a positive number, got nan"),
        ({"lane": {"width_m": math.inf}}, "lane.width_m: must be a positive number, got inf"),
        ({"n_lanes": "3"}, "n_lanes: must be an integer in [2, 5], got '3'"),
        ({"n_lanes": 3.0}, "n_lanes: must be an integer in [2, 5], got 3.0"),
        ({"n_lanes": True}, "n_lanes: must be an integer in [2, 5], got true"),
        ({"n_lanes": 9}, "n_lanes: must be an integer in [2, 5], got 9"),
        (
            {"ramps": [{}, {"speed_limit_mps": 0}]},
            "ramps[1].speed_limit_mps: must be a number in (0, 60], got 0",
        ),
        ({"sizes_m": [3, -4]}, "sizes_m[1]: must be an integer >= 1, got -4"),
        ({"sizes_m": 5}, "sizes_m: must be a list of integers >= 1, got 5"),
        ({"share": 1.5}, "share: must be a number in [0, 1], got 1.5"),
        ({"lane": [1]}, "lane: must be a mapping, got [1]"),
        ({"lane": {"colour": "red"}}, "lane.colour: unknown key"),
        ({"exit_min_m": 300.0}, "exit_min_m: must be <= exit_max_m"),
    ],
)
def test_each_bad_value_is_one_line_naming_its_full_path(data: dict, line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(Road, data)
    assert str(caught.value) == line
    assert caught.value.field == line.split(":")[0]


def test_every_problem_is_listed_and_ints_are_fine_floats() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(Road, {"n_lanes": 1, "lane": {"width_m": -1}, "extra": 0})
    assert [path for path, _ in caught.value.problems] == ["n_lanes", "lane.width_m", "extra"]
    assert len(str(caught.value).splitlines()) == 3
    road = parse(Road, {"lane": {"width_m": 3}, "sizes_m": [1, 2, 3]})
    assert road.lane.width_m == 3.0 and isinstance(road.lane.width_m, float)
    assert road.sizes_m == (1, 2, 3)


def test_config_classes_are_frozen_and_round_trip() -> None:
    road = parse(Road, {"ramps": [{"width_m": 3.5}], "share": 0.25})
    with pytest.raises(ValidationError):
        road.n_lanes = 4  # type: ignore[misc]
    assert parse(Road, road.to_dict()) == road
    assert road.to_dict()["sizes_m"] == [10, 20]


def test_reference_lists_every_field_with_its_range_and_docs() -> None:
    text = reference_markdown(Road, "Road")
    for key in ("n_lanes", "lane.width_m", "lane.speed_limit_mps", "ramps[].width_m", "share"):
        assert f"| `{key}` |" in text
    assert "| `n_lanes` | an integer in [2, 5] | `3` | Number of lanes. |" in text
    assert "| `share` | a number in [0, 1] | `0.5` | A share. |" in text
    assert undocumented_fields(Road) == []

    class Bare(ConfigModel):
        """Has one undocumented field."""

        speed_mps: Annotated[float, Field(gt=0)] = 1.0

    assert undocumented_fields(Bare) == ["speed_mps"]


def test_the_config_reference_is_current_and_complete() -> None:
    for _, model in DOCUMENTED:
        assert undocumented_fields(model) == [], model.__name__
    assert DOC_PATH.read_text() == render(), (
        "docs/config-reference.md is stale: run python scripts/make_config_reference.py"
    )


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (
            {"ppo": {"learning_rate": "fast"}},
            "ppo.learning_rate: must be a positive number, got 'fast'",
        ),
        (
            {"ppo": {"learning_rate": math.nan}},
            "ppo.learning_rate: must be a positive number, got nan",
        ),
        (
            {"ppo": {"learning_rate": -0.001}},
            "ppo.learning_rate: must be a positive number, got -0.001",
        ),
        (
            {"checkpoint_every_steps": "1000"},
            "checkpoint_every_steps: must be an integer >= 1, got '1000'",
        ),
        ({"ppo": {"net_arch": 256}}, "ppo.net_arch: must be a list of integers >= 1, got 256"),
        ({"ppo": {"net_arch": [-4]}}, "ppo.net_arch[0]: must be an integer >= 1, got -4"),
        ({"seed": "abc"}, "seed: must be an integer in [0, 4294967295], got 'abc'"),
        ({"ppo": {"n_steps": 0}}, "ppo.n_steps: must be an integer >= 1, got 0"),
        ({"ppo": {"gamma": 2.0}}, "ppo.gamma: must be a number in [0, 1], got 2.0"),
        ({"ppo": {"batch_size": 0}}, "ppo.batch_size: must be an integer >= 2, got 0"),
        (
            {"dqn": {"exploration_fraction": 5}},
            "dqn.exploration_fraction: must be a number in [0, 1], got 5",
        ),
        ({"dqn": {"buffer_size": 0}}, "dqn.buffer_size: must be an integer >= 1, got 0"),
        ({"kickstart": {"enabled": "no"}}, "kickstart.enabled: must be true or false, got 'no'"),
        (
            {"curriculum": {"density_start": math.nan}},
            "curriculum.density_start: must be a number in [0, 100], got nan",
        ),
        ({"env": {"n_lanes": 9}}, "env.n_lanes: must be an integer in [2, 5], got 9"),
        (
            {"env": {"mission_mix": {"exit": -1.0}}},
            "env.mission_mix.exit: must be a number >= 0, got -1.0",
        ),
        (
            {"algo": "dqn", "action_mode": "continuous"},
            "action_mode: must be discrete or plan for dqn, got 'continuous'",
        ),
    ],
)
def test_training_config_mistakes_users_make(data: dict, line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config(data, {}, {})
    assert str(caught.value) == line


def test_a_bad_environment_variable_is_named() -> None:
    env = env_overrides({"CAR_AI_RL_CURRICULUM_RAMP": "5"})
    with pytest.raises(ConfigError) as caught:
        build_config({}, env, {})
    assert str(caught.value) == "CAR_AI_RL_CURRICULUM_RAMP: must be a number in [0, 1], got 5.0"


def test_defaults_are_valid_and_the_digest_follows_the_values() -> None:
    config = TrainConfig()
    assert parse(TrainConfig, config.to_dict()) == config
    assert build_config({"seed": 1}, {}, {}).digest() != config.digest()
    assert build_config({}, {}, {}).digest() == config.digest()
