"""Client messages: size, type and range checks. Every problem is a :class:`ProtocolError`
whose code and message go back to the client; the session goes on."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from car_ai_rl.policies.plans import N_PLANS

from car_ai_sim_app.config import Limits

CLIENT_TYPES = ("controls", "command", "model", "ping")
CONTROL_SOURCES = ("policy", "manual")
COMMAND_SOURCES = ("text", "voice")
CONTROL_KEYS = ("throttle", "brake", "lane")
CONTROL_RANGES = ((0.0, 1.0), (0.0, 1.0), (-1.0, 1.0))
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ProtocolError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Controls:
    """One tick's answer: controls, or a driving plan (``plan`` set, ``values`` zeros) whose
    controls the server computes from the state."""

    tick: int
    values: tuple[float, float, float]  # clamped into range
    source: str
    clamped: bool
    plan: int | None = None


@dataclass(frozen=True)
class CommandMessage:
    text: str
    source: str


@dataclass(frozen=True)
class ModelReport:
    name: str
    sha256: str


def decode(text: str | None, data: bytes | None, limits: Limits) -> dict[str, Any]:
    """The JSON object in a text frame, with a known ``type``."""
    if text is None:
        size = len(data or b"")
        raise ProtocolError("binary_frame", f"send JSON text frames, not binary ({size} bytes)")
    if len(text) > limits.max_message_bytes or len(text.encode()) > limits.max_message_bytes:
        raise ProtocolError(
            "too_large", f"message over {limits.max_message_bytes} bytes; it was dropped"
        )
    try:
        msg = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ProtocolError("bad_json", "message is not valid JSON") from None
    if not isinstance(msg, dict):
        raise ProtocolError("bad_message", "message must be a JSON object with a 'type'")
    kind = msg.get("type")
    if kind not in CLIENT_TYPES:
        raise ProtocolError(
            "unknown_type", f"unknown message type {kind!r}; expected one of {list(CLIENT_TYPES)}"
        )
    return msg


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if value is None:
            return math.nan  # JSON.stringify turns NaN into null
        raise ProtocolError("bad_controls", f"{name} must be a number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        return math.inf


def parse_plan(value: Any) -> int:
    """A plan index in [0, N_PLANS)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(
            "bad_controls",
            f"plan must be an integer in [0, {N_PLANS - 1}], got {type(value).__name__}",
        )
    if not 0 <= value < N_PLANS:
        raise ProtocolError("bad_controls", f"plan must be in [0, {N_PLANS - 1}], got {value}")
    return value


def control_source(msg: dict[str, Any]) -> str:
    source = msg.get("source", "policy")
    if source not in CONTROL_SOURCES:
        raise ProtocolError("bad_controls", f"source must be one of {list(CONTROL_SOURCES)}")
    return source


def parse_controls(msg: dict[str, Any]) -> Controls:
    """Controls or a plan for one tick. Non-finite controls are refused; out-of-range ones are
    clamped. A plan must be an integer index into the driving plans."""
    tick = msg.get("tick")
    if isinstance(tick, bool) or not isinstance(tick, int) or tick < 0:
        raise ProtocolError("bad_controls", "controls need the integer 'tick' they answer")
    has_plan, has_controls = "plan" in msg, "controls" in msg
    if has_plan and has_controls:
        raise ProtocolError("bad_controls", "send either 'controls' or 'plan', not both")
    if has_plan:
        plan = parse_plan(msg["plan"])
        return Controls(tick, (0.0, 0.0, 0.0), control_source(msg), False, plan)
    if not has_controls:
        raise ProtocolError(
            "bad_controls", "controls need 'controls' [throttle, brake, lane] or a 'plan' index"
        )
    raw = msg["controls"]
    if isinstance(raw, dict):
        missing = [k for k in CONTROL_KEYS if k not in raw]
        if missing:
            raise ProtocolError("bad_controls", f"controls missing {', '.join(missing)}")
        raw = [raw[k] for k in CONTROL_KEYS]
    if not isinstance(raw, list) or len(raw) != 3:
        raise ProtocolError(
            "bad_controls", "controls must be [throttle, brake, lane] or an object with those keys"
        )
    values = [_number(v, k) for v, k in zip(raw, CONTROL_KEYS, strict=True)]
    if not all(math.isfinite(v) for v in values):
        raise ProtocolError(
            "non_finite_controls", "controls must be finite numbers (NaN/inf refused)"
        )
    clamped = [min(max(v, lo), hi) for v, (lo, hi) in zip(values, CONTROL_RANGES, strict=True)]
    return Controls(tick, tuple(clamped), control_source(msg), clamped != values)  # type: ignore[arg-type]


def check_storable(text: str, what: str) -> None:
    """Refuse text that UTF-8 (and so the mission log) cannot hold: JSON escapes can carry
    lone UTF-16 surrogates such as \\ud800 into a Python string."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError(
            "unstorable_text", f"{what} holds a lone UTF-16 surrogate; send valid Unicode text"
        ) from None


def parse_command(msg: dict[str, Any], limits: Limits) -> CommandMessage:
    text = msg.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ProtocolError("bad_command", "a command needs a non-empty 'text' string")
    check_storable(text, "the command text")
    if len(text) > limits.max_command_chars:
        raise ProtocolError(
            "bad_command", f"command text over {limits.max_command_chars} characters"
        )
    source = msg.get("source", "text")
    if source not in COMMAND_SOURCES:
        raise ProtocolError("bad_command", f"source must be one of {list(COMMAND_SOURCES)}")
    return CommandMessage(text.strip(), source)


def parse_model_report(msg: dict[str, Any]) -> ModelReport:
    name, sha = msg.get("name"), msg.get("sha256")
    if not isinstance(name, str) or not isinstance(sha, str) or not SHA256.match(sha):
        raise ProtocolError("bad_model", "a model report needs 'name' and a hex 'sha256'")
    check_storable(name, "the model name")
    return ModelReport(name, sha)


def dumps(msg: dict[str, Any]) -> str:
    return json.dumps(msg, separators=(",", ":"), allow_nan=False)


def error(code: str, message: str) -> str:
    return dumps({"type": "error", "code": code, "message": message})
