"""Helpers for talking to a session through Starlette's TestClient WebSocket."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from car_ai_rl.sim.views import VEHICLE_FIELDS

MAX_MESSAGES = 2000


def receive(ws: Any, kind: str, limit: int = MAX_MESSAGES) -> dict[str, Any]:
    """The next message of type ``kind`` (skipping others)."""
    for _ in range(limit):
        msg = ws.receive_json()
        if msg["type"] == kind:
            return msg
    raise AssertionError(f"no {kind!r} message in {limit} messages")


def answer(ws: Any, frame: dict[str, Any], controls: list[float], **extra: Any) -> None:
    ws.send_json({"type": "controls", "tick": frame["tick"], "controls": controls, **extra})


def drive(ws: Any, ticks: int, controls: list[float] | None = None) -> list[dict[str, Any]]:
    """Answer ``ticks`` frames with fixed controls (gentle cruise by default)."""
    frames = []
    for _ in range(ticks):
        frame = receive(ws, "tick")
        answer(ws, frame, controls or [0.3, 0.0, 0.0])
        frames.append(frame)
    return frames


def command(ws: Any, text: str, source: str = "text") -> dict[str, Any]:
    ws.send_json({"type": "command", "text": text, "source": source})
    return receive(ws, "command_result")


def error(ws: Any) -> dict[str, Any]:
    return receive(ws, "error")


def decode_vehicles(text: str) -> np.ndarray:
    """Rows of a frame's other vehicles, columns ``car_ai_rl.sim.views.VEHICLE_FIELDS``."""
    return np.frombuffer(base64.b64decode(text), "<f4").reshape(-1, len(VEHICLE_FIELDS))
