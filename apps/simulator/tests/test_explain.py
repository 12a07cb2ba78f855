"""Explanations against the simulator's own verdicts: a cruise held by a slower car names that
car's speed and the supervisor's verdict on the left lane; a refused lane change names the
lane and the vehicles that close the gap, with their closing speeds; a lane the car is already
in is answered "already in lane N" without a new mission."""

from __future__ import annotations

import numpy as np
import pytest
from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.safety import supervisor
from car_ai_rl.sim import core, views
from car_ai_rl.sim.params import SimParams

from car_ai_sim_app import explain, missions
from car_ai_sim_app.parser import parse


@pytest.fixture(scope="module")
def dense() -> tuple[core.SimState, SimParams]:
    """64 drives in dense traffic with fast cruise targets, after 60 heuristic steps."""
    params = SimParams().replace(
        traffic_density=45.0,
        mission_changes=False,
        mission_mix={"cruise": 1.0, "lane": 0.0, "exit": 0.0},
        target_speed_min_mps=38.0,
        target_speed_max_mps=39.0,
    )
    state, _ = core.reset(params, core.seeds_from_ints(3, 64))
    for _ in range(60):
        core.step(state, heuristic_controls(state, params), params)
    return state, params


def test_following_a_slower_car_is_explained(dense) -> None:
    state, params = dense
    slots = np.arange(state.n_envs)
    texts = explain.explain(state, slots, params, {})
    ego = views.ego_frame(state, params, slots)
    near = views.lane_neighbours(state, slots, ego.lane)
    held = views.held_by_slower_leader(state, slots, params)
    assert held.sum() >= 3, "dense traffic should hold some fast cruises behind slower cars"
    verdicts = 0
    for i in np.nonzero(held)[0]:
        e = texts[i]
        assert e.code == "following"
        lead_kmh = near.leader_speed_mps[i] * 3.6
        assert e.text.startswith(f"following a slower car at {lead_kmh:.0f} km/h; ")
        if ego.lane[i] == 0:
            assert e.text.endswith("no lane to its left to overtake in")
            continue
        probe = np.array([[0.0, 0.0, -1.0]])
        _, refused, _ = supervisor.filter(state.take([i]), probe, params)
        expected = "will overtake when the left lane clears" if refused[0] else "clear to overtake"
        assert e.text.endswith(expected), e.text
        verdicts += 1
    assert verdicts >= 1
    free = ~held & ~ego.changing_lane
    for i in np.nonzero(free)[0]:
        assert texts[i].code in ("holding", "speeding_up", "slowing"), texts[i]


def test_a_refused_lane_change_names_the_gap(dense) -> None:
    state, params = dense
    slots = np.arange(state.n_envs)
    ego = views.ego_frame(state, params, slots)
    request = np.zeros((state.n_envs, 3))
    request[:, 2] = np.where(ego.lane > 0, -1.0, 1.0)
    _, intervened, reasons = supervisor.filter(state, request, params)
    gap_refused = [
        b for b in np.nonzero(intervened)[0] if "unsafe_gap" in supervisor.reason_names(reasons[b])
    ]
    assert gap_refused, "some lane change in dense traffic should be refused for its gap"
    hit = np.array(gap_refused)
    focus = explain.supervisor_focus(state, hit, reasons[hit], request[hit], params)
    wanted = ego.lane[hit] + request[hit, 2].astype(int)
    near = views.lane_neighbours(state, hit, wanted)
    for i, f in enumerate(focus):
        item = next(x for x in f.items if x["reason"] == "unsafe_gap")
        assert item["lane"] == wanted[i]
        for role in ("leader", "follower"):
            vid = getattr(near, role)[i]
            got = item[role]
            if vid == views.NO_VEHICLE:
                assert got is None
            else:
                closing = getattr(near, f"{role}_closing_mps")[i] * 3.6
                assert got["id"] == vid and got["closing_kmh"] == round(closing)
        assert f.text.startswith(f"safety supervisor: no safe gap in lane {wanted[i] + 1}")


def test_already_in_the_lane_is_not_a_new_mission(dense) -> None:
    state, params = dense
    b = 0
    ego = missions.EgoView.of(state, b, params)
    if ego.mission_kind != "cruise":
        pytest.skip("needs a cruise")
    with pytest.raises(missions.AlreadyDone, match=f"Already in lane {ego.lane + 1}"):
        missions.resolve(parse(f"change to lane {ego.lane + 1}"), ego)
    other = (ego.lane + 1) % params.n_lanes
    assert missions.resolve(parse(f"change to lane {other + 1}"), ego).target_lane == other
