"""Resolving parsed commands into simulator missions: lane numbering from the left, edges,
speed limits, speed changes that keep a pending lane or exit mission, exits and cancel; and
applying a mission to the batched simulator through core.set_mission."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from car_ai_rl.sim import core

from car_ai_sim_app.config import AppConfig, app_sim_params
from car_ai_sim_app.missions import (
    AlreadyDone,
    CommandRefused,
    EgoView,
    apply,
    describe,
    resolve,
)
from car_ai_sim_app.parser import parse

EGO = EgoView(
    lane=1,
    n_lanes=3,
    mission_kind="cruise",
    mission_status="succeeded",
    target_speed_mps=100 / 3.6,
    mission_target_lane=-1,
    exit_ahead_m=500.0,
    speed_max_mps=40.0,
)


def request(text: str, ego: EgoView = EGO):
    return resolve(parse(text), ego)


def test_human_lane_numbers_count_from_the_left() -> None:
    assert request("change to lane 1").target_lane == 0
    assert request("change to lane 3").target_lane == 2
    assert request("second lane from the right", replace(EGO, lane=0)).target_lane == 1
    assert request("get in the left lane").target_lane == 0
    assert request("get in the right lane").target_lane == 2
    assert request("move to the middle lane", replace(EGO, lane=2)).target_lane == 1
    assert request("move left").target_lane == 0
    assert request("move right").target_lane == 2


def test_the_lane_the_car_is_in_is_already_done() -> None:
    for text in ("change to lane 2", "second lane from the right", "move to the middle lane"):
        with pytest.raises(AlreadyDone, match="Already in lane 2; staying here"):
            request(text)
    with pytest.raises(AlreadyDone, match="Already in lane 1 \\(leftmost\\)"):
        request("get in the left lane", replace(EGO, lane=0))
    # moving elsewhere, asking for the lane it is in holds it there: a real mission
    leaving = replace(EGO, mission_kind="lane", mission_status="pending", mission_target_lane=2)
    assert request("change to lane 2", leaving).target_lane == 1


def test_impossible_lanes_are_refused_with_a_reason() -> None:
    with pytest.raises(CommandRefused, match="lanes are 1 \\(leftmost\\) to 3"):
        request("change to lane 4")
    with pytest.raises(CommandRefused, match="leftmost"):
        request("move left", replace(EGO, lane=0))
    with pytest.raises(CommandRefused, match="rightmost"):
        request("move two lanes right")
    with pytest.raises(CommandRefused, match="no single middle lane"):
        request("move to the middle lane", replace(EGO, n_lanes=4))


def test_speeds() -> None:
    assert request("cruise at 80").target_speed_mps == pytest.approx(80 / 3.6)
    assert request("speed up").target_speed_mps == pytest.approx(110 / 3.6)
    assert request("slow down by 30").target_speed_mps == pytest.approx(70 / 3.6)
    assert request("cruise at 80").kind == "cruise"
    with pytest.raises(CommandRefused, match="outside the range"):
        request("cruise at 200 km/h")
    with pytest.raises(CommandRefused, match="outside the range"):
        request("cruise at 5")


def test_speed_change_keeps_a_pending_lane_or_exit_mission() -> None:
    lane = replace(EGO, mission_kind="lane", mission_status="pending", mission_target_lane=0)
    assert request("slow down to 80", lane).kind == "lane"
    assert request("slow down to 80", lane).target_lane == 0
    exit_ = replace(EGO, mission_kind="exit", mission_status="pending")
    assert request("speed up", exit_).kind == "exit"


def test_exit_and_cancel() -> None:
    assert request("take the next exit").kind == "exit"
    assert request("exit in 800 meters").exit_distance_m == 800.0
    with pytest.raises(CommandRefused, match="out of range"):
        request("exit in 20 meters")
    cancelled = request("cancel", replace(EGO, mission_kind="exit", mission_status="pending"))
    assert cancelled.kind == "cruise"
    assert describe(request("take the next exit"), 3) == "take the next exit at 100 km/h"
    assert describe(request("move left"), 3) == "move to lane 1 (leftmost) at 100 km/h"


def test_apply_sets_the_mission_in_the_batch() -> None:
    params = app_sim_params(AppConfig())
    state, _ = core.reset(params, core.seeds_from_ints(7, 4))
    ego = EgoView.of(state, 2, params)
    apply(state, 2, params, resolve(parse("exit in 900 meters"), ego))
    assert state.mission_kind[2] == 2
    assert state.exit_x_m[2] - state.x_m[2, 0] == pytest.approx(900.0)
    assert state.mission_kind[[0, 1, 3]].tolist() == [0, 0, 0]
    other = (EgoView.of(state, 1, params).lane + 1) % params.n_lanes
    command = parse(f"change to lane {other + 1}")
    apply(state, 1, params, resolve(command, EgoView.of(state, 1, params)))
    assert (state.mission_kind[1], state.mission_target_lane[1]) == (1, other)
    assert np.all(state.mission_status[[1, 2]] == 0)
