"""Client message checks: size, frame type, JSON shape, message types, control values
(NaN/inf/null refused, out-of-range clamped, wrong types refused) and plan answers (an integer
plan index instead of controls)."""

from __future__ import annotations

import pytest
from car_ai_rl.policies.plans import N_PLANS

from car_ai_sim_app.config import Limits
from car_ai_sim_app.protocol import ProtocolError, decode, parse_command, parse_controls

LIMITS = Limits(max_message_bytes=256, max_command_chars=50)


def code_of(fn, *args) -> str:
    with pytest.raises(ProtocolError) as info:
        fn(*args)
    return info.value.code


def test_decode_checks_frames() -> None:
    assert decode('{"type": "ping"}', None, LIMITS) == {"type": "ping"}
    assert code_of(decode, None, b"\x00\x01", LIMITS) == "binary_frame"
    assert code_of(decode, "x" * 300, None, LIMITS) == "too_large"
    assert (
        code_of(decode, '{"type": "ping", "pad": "' + "é" * 130 + '"}', None, LIMITS) == "too_large"
    )
    assert code_of(decode, "{not json", None, LIMITS) == "bad_json"
    assert code_of(decode, "[" * 120 + "]" * 120, None, LIMITS) == "bad_message"
    deep = "[" * 3000 + "]" * 3000
    assert code_of(decode, deep, None, Limits(max_message_bytes=8000)) in (
        "bad_json",
        "bad_message",
    )
    assert code_of(decode, "[1, 2]", None, LIMITS) == "bad_message"
    assert (
        code_of(decode, '{"type": "supervisor", "enabled": false}', None, LIMITS) == "unknown_type"
    )
    assert code_of(decode, '{"kind": "controls"}', None, LIMITS) == "unknown_type"


def controls(values, tick=3, **extra):
    return parse_controls({"type": "controls", "tick": tick, "controls": values, **extra})


def test_controls_in_range_pass_unchanged() -> None:
    c = controls([0.5, 0.0, -1.0])
    assert list(c.values) == [0.5, 0.0, -1.0] and not c.clamped and c.source == "policy"
    c = controls({"throttle": 0.2, "brake": 0.1, "lane": 0}, source="manual")
    assert list(c.values) == [0.2, 0.1, 0.0] and c.source == "manual"


def test_out_of_range_controls_are_clamped() -> None:
    c = controls([5, -3, 9])
    assert list(c.values) == [1.0, 0.0, 1.0] and c.clamped
    assert code_of(controls, [10**400, 0, 0]) == "non_finite_controls"


@pytest.mark.parametrize(
    "values",
    [[float("nan"), 0, 0], [0, float("inf"), 0], [None, 0, 0], [0, 0, -float("inf")]],
)
def test_non_finite_controls_are_refused(values) -> None:
    assert code_of(controls, values) == "non_finite_controls"


def test_nan_literal_in_json_is_refused() -> None:
    msg = decode('{"type": "controls", "tick": 1, "controls": [NaN, 0, 0]}', None, LIMITS)
    assert code_of(parse_controls, msg) == "non_finite_controls"


@pytest.mark.parametrize(
    "msg",
    [
        {"type": "controls", "controls": [0, 0, 0]},
        {"type": "controls", "tick": -1, "controls": [0, 0, 0]},
        {"type": "controls", "tick": True, "controls": [0, 0, 0]},
        {"type": "controls", "tick": 1, "controls": [0, 0]},
        {"type": "controls", "tick": 1, "controls": "fast"},
        {"type": "controls", "tick": 1, "controls": [True, 0, 0]},
        {"type": "controls", "tick": 1, "controls": ["1", 0, 0]},
        {"type": "controls", "tick": 1, "controls": {"throttle": 1}},
        {"type": "controls", "tick": 1, "controls": [0, 0, 0], "source": "server"},
    ],
)
def test_malformed_controls_are_refused(msg) -> None:
    assert code_of(parse_controls, msg) == "bad_controls"


def test_commands() -> None:
    assert parse_command({"type": "command", "text": " move left "}, LIMITS).text == "move left"
    assert (
        parse_command({"type": "command", "text": "x", "source": "voice"}, LIMITS).source == "voice"
    )
    for bad in ({"text": ""}, {"text": 3}, {"text": "y" * 51}, {"text": "x", "source": "radio"}):
        assert code_of(parse_command, {"type": "command", **bad}, LIMITS) == "bad_command"


def test_plan_answers() -> None:
    c = parse_controls({"type": "controls", "tick": 4, "plan": 0})
    assert (c.tick, c.plan, c.source, c.clamped) == (4, 0, "policy", False)
    c = parse_controls({"type": "controls", "tick": 4, "plan": N_PLANS - 1, "source": "policy"})
    assert c.plan == N_PLANS - 1
    assert controls([0.5, 0.0, 0.0]).plan is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"plan": 2.0}, f"plan must be an integer in [0, {N_PLANS - 1}], got float"),
        ({"plan": "2"}, f"plan must be an integer in [0, {N_PLANS - 1}], got str"),
        ({"plan": None}, f"plan must be an integer in [0, {N_PLANS - 1}], got NoneType"),
        ({"plan": True}, f"plan must be an integer in [0, {N_PLANS - 1}], got bool"),
        ({"plan": [1]}, f"plan must be an integer in [0, {N_PLANS - 1}], got list"),
        ({"plan": -1}, f"plan must be in [0, {N_PLANS - 1}], got -1"),
        ({"plan": N_PLANS}, f"plan must be in [0, {N_PLANS - 1}], got {N_PLANS}"),
        ({"plan": 1, "controls": [0, 0, 0]}, "send either 'controls' or 'plan', not both"),
        ({}, "controls need 'controls' [throttle, brake, lane] or a 'plan' index"),
        ({"plan": 1, "source": "server"}, "source must be one of ['policy', 'manual']"),
    ],
)
def test_bad_plan_answers_are_refused(extra, message) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_controls({"type": "controls", "tick": 1, **extra})
    assert info.value.code == "bad_controls"
    assert info.value.message == message and "\n" not in message
