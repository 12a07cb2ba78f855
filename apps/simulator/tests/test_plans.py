"""Plan-mode models: the registry serves them (and still refuses models whose metadata and
graph disagree), a plan answer is driven by the heuristic driver following that plan in the
session's own slot, all plan answers of a tick in one batched call, through the supervisor,
and the frame names the plan in the explanation and counts the ticks driven by plans."""

from __future__ import annotations

import json
from typing import Any

import modelkit
import numpy as np
import pytest
from car_ai_rl.policies.plans import N_PLANS, PLAN_NAMES, plan_controls
from car_ai_rl.safety import supervisor
from fastapi.testclient import TestClient
from wskit import error, receive

from car_ai_sim_app.batch import StepOutcome
from car_ai_sim_app.hub import Hub
from car_ai_sim_app.model_store import RegistryStore
from car_ai_sim_app.registry import RegistryError, load_model
from car_ai_sim_app.server import create_app
from car_ai_sim_app.session import Session

MAX_BYTES = 64 << 20


def latest_frame(s: Session) -> dict[str, Any]:
    """The newest tick frame queued for ``s`` (the queue is emptied)."""
    frames = []
    while s.outbox._items:
        text, _ = s.outbox._items.popleft()
        msg = json.loads(text)
        if msg["type"] == "tick":
            frames.append(msg)
    s.outbox._droppable = 0
    return frames[-1]


def test_registry_accepts_a_plan_model(plan_model) -> None:
    entry = load_model("planner", plan_model, MAX_BYTES)
    assert entry.metadata["action_mode"] == "plan"
    assert entry.public()["action_mode"] == "plan"
    assert " plan · " in entry.label


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"action_mode": "discrete"}, r"lists outputs \['plan'\], but a discrete model gives"),
        (
            {"action_mode": "discrete", "outputs": '["controls", "action"]'},
            r"incompatible ONNX model: outputs \['plan'\], expected \['controls', 'action'\]",
        ),
        ({"action_mode": "steering"}, "unknown action_mode 'steering'"),
        ({"outputs": '["controls", "action"]'}, "but a plan model gives \\['plan'\\]"),
    ],
)
def test_registry_refuses_a_plan_model_with_wrong_metadata(
    plan_model, tmp_path, changes, message
) -> None:
    broken = modelkit.with_metadata(plan_model, tmp_path / "broken.onnx", **changes)
    with pytest.raises(RegistryError, match=f"model 'broken' refused: .*{message}"):
        load_model("broken", broken, MAX_BYTES)


def test_a_controls_model_claiming_plans_is_refused(models, tmp_path) -> None:
    broken = modelkit.with_metadata(
        models.good, tmp_path / "claims.onnx", action_mode="plan", outputs='["plan"]'
    )
    with pytest.raises(
        RegistryError, match=r"outputs \['controls', 'action'\], expected \['plan'\]"
    ):
        load_model("claims", broken, MAX_BYTES)


def test_plan_answers_drive_the_supervised_plan_controls(make_config, plan_model) -> None:
    """Over 40 ticks, three sessions answering plans, one answering controls and one silent:
    each plan slot requests exactly ``plan_controls`` on its own state and gets the supervisor's
    filtering of them; the plans of a tick are computed in one call."""
    config = make_config(model=plan_model, limits={"messages_per_s": 1e6, "message_burst": 10**6})
    hub = Hub(config, RegistryStore(config), None)
    sessions = [hub.open_session() for _ in range(5)]
    hub.tick_once()  # the sessions join at this tick boundary
    plan_sessions, manual, silent = sessions[:3], sessions[3], sessions[4]
    rng = np.random.default_rng(0)
    outcomes: list[StepOutcome] = []
    calls: list[int] = []
    step, plans_of = hub.sim.step, hub.sim.plan_controls

    def spy_step(controls: np.ndarray) -> StepOutcome:
        outcomes.append(step(controls))
        return outcomes[-1]

    def spy_plans(slots: np.ndarray, plans: np.ndarray) -> np.ndarray:
        calls.append(len(slots))
        return plans_of(slots, plans)

    hub.sim.step, hub.sim.plan_controls = spy_step, spy_plans  # type: ignore[method-assign]
    seen_plans: set[int] = set()
    intervened = 0
    for _ in range(40):
        plans = rng.integers(0, N_PLANS, len(plan_sessions)).tolist()
        seen_plans.update(plans)
        for s, k in zip(plan_sessions, plans, strict=True):
            msg = {"type": "controls", "tick": hub.tick, "plan": k, "source": "policy"}
            hub.on_message(s, json.dumps(msg), None)
        controls = {"type": "controls", "tick": hub.tick, "controls": [0.4, 0.0, 0.0]}
        hub.on_message(manual, json.dumps(controls), None)
        before = hub.sim.sim.take(np.arange(hub.sim.capacity))
        hub.tick_once()
        out = outcomes[-1]
        assert calls[-1] == len(plan_sessions)
        for s, k in zip(plan_sessions, plans, strict=True):
            own = before.take([s.slot])
            want = plan_controls(own, hub.params, np.array([k]))
            applied, hit, _ = supervisor.filter(own, want, hub.params)
            np.testing.assert_array_equal(out.requested[s.slot], want[0])
            np.testing.assert_array_equal(out.applied[s.slot], applied[0])
            intervened += int(hit[0])
            frame = latest_frame(s)
            assert frame["supervisor"]["source"] == "policy"
            assert frame["supervisor"]["plan"] == k
            assert frame["explain"]["plan"] == PLAN_NAMES[k]
            assert frame["explain"]["text"].startswith(f"plan: {PLAN_NAMES[k]} — ")
        np.testing.assert_array_equal(out.requested[manual.slot], [0.4, 0.0, 0.0])
        manual_frame = latest_frame(manual)
        assert manual_frame["supervisor"]["plan"] is None
        assert manual_frame["explain"]["plan"] is None
        assert not manual_frame["explain"]["text"].startswith("plan:")
        assert latest_frame(silent)["supervisor"]["source"] == "fallback"
    assert len(calls) == 40 and len(seen_plans) >= 8
    counts = hub.book.counters.totals([s.slot for s in plan_sessions])
    assert counts["late_answers"] == 0 and counts["interventions"] == intervened
    assert counts["plan_ticks"] == 40 * len(plan_sessions)
    assert hub.book.counters.get(manual.slot, "plan_ticks") == 0


def test_plan_answers_over_the_websocket(make_config, plan_model) -> None:
    app = create_app(make_config(model=plan_model))
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        hello = receive(ws, "hello")
        (entry,) = hello["registry"]["models"].values()
        assert entry["action_mode"] == "plan"
        frames = []
        for _ in range(12):
            frame = receive(ws, "tick")
            frames.append(frame)
            ws.send_json({"type": "controls", "tick": frame["tick"], "plan": 7})
        driven = [f for f in frames if f["supervisor"]["source"] == "policy"]
        assert len(driven) >= 8
        assert frames[-1]["counters"]["plan_ticks"] == len(driven)
        for f in driven:
            assert f["supervisor"]["plan"] == 7
            assert f["explain"]["plan"] == PLAN_NAMES[7] == "close up 0.8 s, faster 4 m/s"
            assert f["explain"]["text"].startswith("plan: close up 0.8 s, faster 4 m/s — ")
        ws.send_json({"type": "controls", "tick": frame["tick"], "plan": N_PLANS})
        bad = error(ws)
        assert bad["code"] == "bad_controls"
        assert bad["message"] == f"plan must be in [0, {N_PLANS - 1}], got {N_PLANS}"
