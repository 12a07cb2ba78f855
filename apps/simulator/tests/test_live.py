"""Real WebSockets against uvicorn on a loopback port: a session answering in time, frames
over the WebSocket size limit (only that connection closes), foreign page origins and unknown
host names (DNS rebinding) for HTTP and WebSocket, idle sessions (refused messages do not keep
them alive), per-session command and mission-log limits, unstorable text, invalid UTF-8, and
several sessions sharing the one batched simulator."""

from __future__ import annotations

import asyncio
import json
import logging
import time
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


# ----------------------------------------------------------------- hosts and origins
def connect_as(server: str, host: str, origin: str | None = None) -> Any:
    """A WebSocket to ``server`` that names ``host`` in its Host header (DNS rebinding)."""
    ip, port = server.split(":")
    return websockets.connect(f"ws://{host}/ws", host=ip, port=int(port), origin=origin)


def test_unknown_host_names_are_refused_for_http_and_websocket(server) -> None:
    port = server.split(":")[1]

    async def scenario() -> None:
        for host, origin in [
            (f"evil.example:{port}", None),
            (f"evil.example:{port}", f"http://evil.example:{port}"),
            (f"localhost:{port}", f"http://evil.example:{port}"),
            (f"localhost:{port}", "http://localhost:3000"),
        ]:
            with pytest.raises(websockets.InvalidStatus) as info:
                async with connect_as(server, host, origin):
                    pass
            assert info.value.response.status_code == 403, (host, origin)
        async with connect_as(server, f"localhost:{port}", f"http://localhost:{port}") as ws:
            assert (await recv(ws, "hello"))["type"] == "hello"

    asyncio.run(scenario())
    import httpx

    evil = {"Host": f"evil.example:{port}"}
    for method, path in [("GET", "/"), ("GET", "/api/stats"), ("POST", "/api/registry/reload")]:
        reply = httpx.request(method, f"http://{server}{path}", headers=evil)
        assert reply.status_code == 403 and "evil.example" in reply.text, (method, path)
    cross_site = {"Origin": "http://evil.example"}
    reply = httpx.post(f"http://{server}/api/registry/reload", headers=cross_site)
    assert reply.status_code == 403
    assert httpx.get(f"http://{server}/api/health").json()["ok"]


def test_allowed_host_names_are_configurable(make_config) -> None:
    config = make_config(allowed_hosts=("127.0.0.1", "sim.example"))
    with running_server(config) as host:
        port = host.split(":")[1]

        async def scenario() -> None:
            origin = f"http://sim.example:{port}"
            async with connect_as(host, f"sim.example:{port}", origin) as ws:
                assert (await recv(ws, "hello"))["type"] == "hello"
            with pytest.raises(websockets.InvalidStatus):
                async with connect_as(host, f"localhost:{port}"):
                    pass

        asyncio.run(scenario())


# ------------------------------------------------------------------- session limits
async def send_command(ws: Any, text: str) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "command", "text": text}))
    return await recv(ws, "command_result")


def test_commands_per_session_are_limited_with_a_clear_reply(make_config) -> None:
    config = make_config(limits={"command_burst": 3, "commands_per_s": 0.5})
    with running_server(config) as host:

        async def scenario() -> None:
            async with websockets.connect(f"ws://{host}/ws") as ws:
                await recv(ws, "tick")
                replies = [await send_command(ws, "speed up") for _ in range(5)]
                assert [r["ok"] for r in replies] == [True, True, True, False, False]
                assert replies[3]["code"] == "command_limit"
                assert "at most 3 in a row, then one every 2 s" in replies[3]["reply"]
                await asyncio.sleep(2.2)
                assert (await send_command(ws, "slow down"))["ok"]

        asyncio.run(scenario())


def test_mission_rows_per_session_are_limited(make_config) -> None:
    config = make_config(limits={"max_missions_per_session": 2, "command_burst": 20})
    with running_server(config) as host:

        async def scenario() -> str:
            async with websockets.connect(f"ws://{host}/ws") as ws:
                hello = await recv(ws, "hello")
                await recv(ws, "tick")
                texts = ["speed up", "slow down", "take the next exit", "cancel"]
                replies = [await send_command(ws, text) for text in texts]
                # two commands replaced missions (two rows); the third mission's row would be
                # the session's third, so the command is refused
                assert [r["ok"] for r in replies[:3]] == [True, True, True]
                assert not replies[3]["ok"] and replies[3]["code"] == "mission_limit"
                assert "reload the page" in replies[3]["reply"]
                return hello["session_id"]

        session_id = asyncio.run(scenario())
        import httpx

        time.sleep(0.5)
        rows = httpx.get(f"http://{host}/api/missions", params={"session_id": session_id}).json()[
            "missions"
        ]
        assert len(rows) == 2
        stats = httpx.get(f"http://{host}/api/stats").json()
        assert stats["mission_log"]["withheld"] == 1


def test_refused_messages_do_not_keep_a_session_alive(make_config) -> None:
    config = make_config(limits={"idle_timeout_s": 1.5, "messages_per_s": 2.0, "message_burst": 2})
    with running_server(config) as host:

        async def scenario() -> float:
            async with websockets.connect(f"ws://{host}/ws") as ws:
                await recv(ws, "hello")
                opened = time.monotonic()
                codes = set()
                with pytest.raises(websockets.ConnectionClosed) as info:
                    while True:
                        # unknown types, then rate-limited pings: none is accepted
                        await ws.send(json.dumps({"type": "teleport"}))
                        await ws.send(json.dumps({"type": "ping"}) * 2)
                        for _ in range(20):
                            try:
                                msg = json.loads(await asyncio.wait_for(ws.recv(), 0.01))
                            except TimeoutError:
                                break
                            if msg["type"] == "error":
                                codes.add(msg["code"])
                        await asyncio.sleep(0.2)
                assert info.value.rcvd is not None and info.value.rcvd.code == 4001
                assert {"unknown_type", "bad_json"} & codes
                return time.monotonic() - opened

        assert asyncio.run(scenario()) < 4.0


def test_unstorable_text_is_refused_at_parse_time(make_config) -> None:
    with running_server(make_config()) as host:

        async def scenario() -> None:
            async with websockets.connect(f"ws://{host}/ws") as ws:
                await recv(ws, "tick")
                await ws.send('{"type": "command", "text": "take the next exit \\ud800"}')
                err = await recv(ws, "error")
                assert err["code"] == "unstorable_text" and "surrogate" in err["message"]
                assert (await send_command(ws, "take the next exit"))["ok"]

        asyncio.run(scenario())
        import httpx

        stats = httpx.get(f"http://{host}/api/stats").json()
        assert stats["counters"]["malformed"] == 1 and stats["mission_log"]["failed"] == 0


def test_invalid_utf8_closes_without_a_traceback(server) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:

        async def scenario() -> None:
            async with websockets.connect(f"ws://{server}/ws") as ws:
                await recv(ws, "tick")
                await ws.send(b'{"type":"ping","x":"\xff\xfe"}', text=True)
                with pytest.raises(websockets.ConnectionClosed) as info:
                    for _ in range(200):
                        await asyncio.wait_for(ws.recv(), timeout=5)
                assert info.value.rcvd is not None and info.value.rcvd.code == 1007

        asyncio.run(scenario())
        time.sleep(0.2)
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if r.levelno >= logging.WARNING or r.exc_info], [
        r.getMessage() for r in records
    ]
    assert any("invalid UTF-8" in r.getMessage() for r in records)


# ------------------------------------------------------------------- two processes
def test_two_server_processes_share_the_mission_log(models, tmp_path) -> None:
    """Scaling out: two processes, each with its own batched hub, behind one address each (a
    load balancer would spread pages over them) and one shared mission log."""
    import subprocess
    import sys

    import httpx
    from conftest import free_port

    log = tmp_path / "missions.sqlite"
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "car_ai_sim_app",
                "--port",
                str(port),
                "--model",
                str(models.good),
                "--mission-log",
                str(log),
                "--time-scale",
                "5",
                "--log-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    try:
        deadline = time.monotonic() + 120
        pids = []
        for port, proc in zip(ports, procs, strict=True):
            while True:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                try:
                    pids.append(httpx.get(f"http://127.0.0.1:{port}/api/health").json()["pid"])
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, "a server did not start"
                    time.sleep(0.2)
        assert len(set(pids)) == 2

        async def one(port: int, text: str) -> str:
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
                hello = await recv(ws, "hello")
                await answering(ws, 5)
                assert (await send_command(ws, text))["ok"]
                await answering(ws, 3)
                return hello["session_id"]

        async def both() -> list[str]:
            return await asyncio.gather(
                one(ports[0], "take the next exit"), one(ports[1], "cruise at 90 km/h")
            )

        sessions = asyncio.run(both())
        time.sleep(0.5)
        rows = httpx.get(f"http://127.0.0.1:{ports[0]}/api/missions").json()["missions"]
        logged = {r["session_id"]: r["command_text"] for r in rows}
        assert logged == {sessions[0]: "take the next exit", sessions[1]: "cruise at 90 km/h"}
        for port in ports:
            stats = httpx.get(f"http://127.0.0.1:{port}/api/stats").json()
            assert stats["sessions_opened"] == 1
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
