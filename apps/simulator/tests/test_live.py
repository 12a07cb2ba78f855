"""Real WebSockets against uvicorn on a loopback port: a session answering in time, frames
over the WebSocket size limit (only that connection closes), foreign page origins, idle
sessions, and several sessions sharing the one batched simulator."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from conftest import running_server


async def recv(ws: Any, kind: str, limit: int = 2000) -> dict[str, Any]:
    for _ in range(limit):
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if msg["type"] == kind:
            return msg
    raise AssertionError(f"no {kind!r} message")


async def answering(ws: Any, ticks: int) -> list[dict[str, Any]]:
    frames = []
    for _ in range(ticks):
        frame = await recv(ws, "tick")
        await ws.send(
            json.dumps({"type": "controls", "tick": frame["tick"], "controls": [0.3, 0, 0]})
        )
        frames.append(frame)
    return frames


@pytest.fixture
def server(make_config):
    with running_server(
        make_config(limits={"max_frame_bytes": 16384, "idle_timeout_s": 1.5})
    ) as host:
        yield host


def test_session_over_a_real_websocket(server) -> None:
    async def scenario() -> None:
        async with websockets.connect(f"ws://{server}/ws") as ws:
            hello = await recv(ws, "hello")
            assert hello["tick_hz"] == 25.0
            frames = await answering(ws, 20)
            late = frames[-1]["counters"]["late_answers"]
            assert late <= 5, f"{late} late answers of 20 on loopback"
            assert [f["tick"] for f in frames] == list(
                range(frames[0]["tick"], frames[0]["tick"] + 20)
            )
            await ws.send(json.dumps({"type": "command", "text": "take the next exit"}))
            result = await recv(ws, "command_result")
            assert result["ok"] and result["mission"]["kind"] == "exit"

    asyncio.run(scenario())


def test_frame_over_the_size_limit_closes_only_that_connection(server) -> None:
    async def scenario() -> None:
        async with (
            websockets.connect(f"ws://{server}/ws") as good,
            websockets.connect(f"ws://{server}/ws") as bad,
        ):
            await recv(bad, "tick")
            await bad.send("x" * 100_000)
            with pytest.raises(websockets.ConnectionClosed) as info:
                for _ in range(200):
                    await asyncio.wait_for(bad.recv(), timeout=5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009
            frames = await answering(good, 5)
            assert frames[-1]["counters"]["ticks"] >= 4

    asyncio.run(scenario())


def test_foreign_origin_is_refused(server) -> None:
    async def scenario() -> None:
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(f"ws://{server}/ws", origin="http://evil.example"):
                pass
        assert info.value.response.status_code == 403
        async with websockets.connect(f"ws://{server}/ws", origin=f"http://{server}") as ws:
            assert (await recv(ws, "hello"))["type"] == "hello"

    asyncio.run(scenario())


def test_idle_session_is_closed(server) -> None:
    async def scenario() -> None:
        async with websockets.connect(f"ws://{server}/ws") as ws:
            with pytest.raises(websockets.ConnectionClosed) as info:
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                    if msg["type"] == "error":
                        assert "no message for 1.5 s" in msg["message"]
            assert info.value.rcvd is not None and info.value.rcvd.code == 4001

    asyncio.run(scenario())


def test_sessions_share_one_batch(server) -> None:
    async def one(i: int) -> dict[str, Any]:
        async with websockets.connect(f"ws://{server}/ws") as ws:
            frames = await answering(ws, 10)
            return frames[-1]

    async def scenario() -> list[dict[str, Any]]:
        return await asyncio.gather(*(one(i) for i in range(12)))

    last = asyncio.run(scenario())
    assert len({f["ego"]["x_m"] for f in last}) > 1, "each session drives its own episode"
    import httpx

    stats = httpx.get(f"http://{server}/api/stats").json()
    assert stats["batch_capacity"] == 16 and stats["sessions_opened"] == 12
    assert stats["step_ms"]["p50"] is not None
