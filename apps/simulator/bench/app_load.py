"""Load benchmark of the simulator app: many WebSocket sessions on loopback, each answering every
frame, against one or more server processes.

    python bench/app_load.py [--sessions 200] [--duration-s 60] [--servers 1]
                             [--url ws://127.0.0.1:8000/ws ...] [--answer controls|plans]

Without --url it starts ``--servers`` processes of ``python -m car_ai_sim_app`` on free ports
(one mission log in a temporary directory, shared as a deployment would share it) and spreads
the sessions over them round-robin, as a load balancer would. Prints JSON: the achieved tick
rate of every session against the server's rate (target within 5%), the p50/p99 server step
latency (simulation, supervisor and frames of one tick, as each frame reports it), dropped
sessions, late answers, the CPU of the servers and of this client process separately, and the
machine's load average. ``--answer plans`` makes every session answer with a driving plan
(session i holds plan i mod 10), as a plan-mode model's page does, so that the server also
turns the plans into controls each tick. The clients are cheap on purpose (they share the machine with the
server): frames are not JSON-decoded, only the few fields the client needs are sliced out.
A server too loaded to answer /api/stats in time is reported (``stats_errors``), not fatal.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import websockets
from car_ai_rl.policies.plans import N_PLANS

CONNECT_BATCH = 20
STALL_S = 2.0
HTTP_TIMEOUT_S = 30.0
OPEN_TIMEOUT_S = 60.0


@dataclass
class SessionRecord:
    index: int
    ticks_in_window: int = 0
    arrivals: list[float] = field(default_factory=list)
    first_late: int | None = None
    last_late: int = 0
    error: str | None = None
    closed_early: bool = False
    max_gap_s: float = 0.0
    server: int = 0


def speed_error_index() -> int:
    """Where (target speed - speed) sits in the observation, from the simulator's schema."""
    from car_ai_rl.sim.observation import OBS_FEATURES

    return OBS_FEATURES.index("speed_error")


SPEED_ERROR = speed_error_index()


def controls_for(obs_b64: str) -> str:
    """A simple speed keeper from the observation: the bench measures the server, not a model."""
    (error,) = struct.unpack_from("<f", base64.b64decode(obs_b64), SPEED_ERROR * 4)
    if error >= 0:
        return f"[{min(1.0, 0.8 * error + 0.1):.3f},0,0]"
    return f"[0,{min(1.0, -0.5 * error):.3f},0]"


def answer_for(raw: str, tick: str, rec: SessionRecord, answer: str) -> str:
    """The session's answer to a frame: controls from the speed keeper, or its plan."""
    if answer == "plans":
        return f'{{"type":"controls","tick":{tick},"plan":{rec.index % N_PLANS}}}'
    return f'{{"type":"controls","tick":{tick},"controls":{controls_for(field(raw, "obs"))}}}'


def field(raw: str, key: str, start: int = 0) -> str:
    """The raw JSON value after ``"key":`` (a number or a quoted string's contents)."""
    i = raw.index(f'"{key}":', start) + len(key) + 3
    if raw[i] == '"':
        return raw[i + 1 : raw.index('"', i + 1)]
    j = i
    while raw[j] not in ",}]":
        j += 1
    return raw[i:j]


async def run_session(
    url: str,
    rec: SessionRecord,
    window: tuple[float, float],
    step_ms: dict[int, float],
    answer: str = "controls",
) -> None:
    start, end = window
    try:
        async with websockets.connect(
            url, max_size=1 << 20, ping_interval=None, open_timeout=OPEN_TIMEOUT_S, compression=None
        ) as ws:
            last = None
            while True:
                remaining = end + 1.0 - time.monotonic()
                if remaining <= 0:
                    return
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=remaining)
                except TimeoutError:
                    return
                if not raw.startswith('{"type":"tick"'):
                    if raw.startswith('{"type":"error"'):
                        rec.error = json.loads(raw).get("message")
                    continue
                now = time.monotonic()
                tick = field(raw, "tick")
                await ws.send(answer_for(raw, tick, rec, answer))
                if start <= now <= end:
                    rec.ticks_in_window += 1
                    rec.arrivals.append(now)
                    late = int(field(raw, "late_answers", raw.rindex('"counters"')))
                    if rec.first_late is None:
                        rec.first_late = late
                    rec.last_late = late
                    if last is not None:
                        rec.max_gap_s = max(rec.max_gap_s, now - last)
                    step = field(raw, "step_ms", raw.rindex('"server"'))
                    if step != "null":
                        step_ms[(rec.server, int(tick))] = float(step)
                    last = now
    except (OSError, websockets.WebSocketException) as exc:
        rec.closed_early = True
        rec.error = rec.error or f"{type(exc).__name__}: {exc}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    port: int, sessions: int, model: str | None, log_dir: Path
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "car_ai_sim_app",
        "--port",
        str(port),
        "--max-sessions",
        str(max(256, sessions)),
        "--mission-log",
        str(log_dir / "missions.sqlite"),
        "--log-level",
        "warning",
    ]
    if model:
        cmd += ["--model", model]
    return subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=open(log_dir / f"server-{port}.log", "wb")
    )


def wait_ready(base: str, proc: subprocess.Popen[bytes] | None, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{base}/api/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server at {base} did not become ready")


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of a local process from /proc, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarize(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    return {
        "min": round(float(arr.min()), 4),
        "p5": round(float(np.percentile(arr, 5)), 4),
        "median": round(float(np.median(arr)), 4),
        "mean": round(float(arr.mean()), 4),
        "max": round(float(arr.max()), 4),
    }


async def get_stats(client: httpx.AsyncClient, base: str, errors: list[str]) -> dict | None:
    """/api/stats of one server, or None (recorded in ``errors``) when it does not answer."""
    try:
        reply = await client.get(f"{base}/api/stats")
        reply.raise_for_status()
        return reply.json()
    except (httpx.HTTPError, ValueError) as exc:
        errors.append(f"{base}: {type(exc).__name__}: {exc}")
        return None


def cpu_of(pids: list[int | None]) -> float | None:
    values = [proc_cpu_s(pid) for pid in pids if pid is not None]
    return sum(v for v in values if v is not None) if values else None


async def bench(
    args: argparse.Namespace, servers: list[tuple[str, str]], pids: list[int | None]
) -> dict[str, Any]:
    errors: list[str] = []
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
        before = [await get_stats(client, base, errors) for base, _ in servers]
        if any(b is None for b in before):
            raise SystemExit(f"a server did not answer /api/stats: {errors}")
        target_hz = before[0]["tick_hz_target"]
        records = [SessionRecord(i, server=i % len(servers)) for i in range(args.sessions)]
        step_ms: dict[tuple[int, int], float] = {}
        ramp_s = args.sessions / CONNECT_BATCH * 0.1
        start = time.monotonic() + ramp_s + args.warmup_s
        window = (start, start + args.duration_s)
        tasks = []
        for i, rec in enumerate(records):
            url = servers[rec.server][1]
            tasks.append(asyncio.create_task(run_session(url, rec, window, step_ms, args.answer)))
            if (i + 1) % CONNECT_BATCH == 0:
                await asyncio.sleep(0.1)
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        wall0 = time.monotonic()
        load0 = os.getloadavg()
        stats0 = [await get_stats(client, base, errors) for base, _ in servers]
        server_cpu0 = cpu_of(pids)
        client0 = os.times()
        await asyncio.sleep(args.duration_s)
        client1 = os.times()
        server_cpu1 = cpu_of(pids)
        stats1 = [await get_stats(client, base, errors) for base, _ in servers]
        wall = time.monotonic() - wall0
        load1 = os.getloadavg()
        await asyncio.gather(*tasks)
    rates = [r.ticks_in_window / args.duration_s for r in records]
    within = [abs(rate - target_hz) <= 0.05 * target_hz for rate in rates]
    dropped = [
        {"session": r.index, "error": r.error}
        for r in records
        if r.closed_early or r.ticks_in_window == 0 or r.max_gap_s > STALL_S
    ]
    late = [r.last_late - (r.first_late or 0) for r in records]
    steps = np.asarray(list(step_ms.values())) if step_ms else np.zeros(1)
    client_cpu_s = (client1.user + client1.system) - (client0.user + client0.system)
    server_cpu: dict[str, Any] = {}
    if server_cpu0 is not None and server_cpu1 is not None:
        server_cpu = {"cpu_s": round(server_cpu1 - server_cpu0, 3)}
    elif all(s0 and s1 for s0, s1 in zip(stats0, stats1, strict=True)):
        server_cpu = {
            "cpu_s": round(
                sum(b["cpu_s"] - a["cpu_s"] for a, b in zip(stats0, stats1, strict=True)), 3
            )
        }
    if server_cpu:
        server_cpu["cores_used"] = round(server_cpu["cpu_s"] / wall, 3)
    answered = [(a, b) for a, b in zip(stats0, stats1, strict=True) if a and b]
    overloaded = bool(errors) or sum(within) < 0.99 * args.sessions
    return {
        "sessions": args.sessions,
        "answer": args.answer,
        "servers": len(servers),
        "duration_s": args.duration_s,
        "target_tick_hz": target_hz,
        "tick_hz_per_session": summarize(rates),
        "sessions_within_5pct": int(sum(within)),
        "share_within_5pct": round(sum(within) / max(args.sessions, 1), 4),
        "server_tick_hz": [round((b["ticks"] - a["ticks"]) / wall, 4) for a, b in answered],
        "server_step_ms": {
            "p50": round(float(np.percentile(steps, 50)), 3),
            "p99": round(float(np.percentile(steps, 99)), 3),
            "max": round(float(steps.max()), 3),
            "ticks": int(len(step_ms)),
        },
        "server_overruns": sum(b["overruns"] - a["overruns"] for a, b in answered),
        "dropped_sessions": len(dropped),
        "dropped": dropped[:20],
        "late_answers": {"total": int(sum(late)), "per_session_max": int(max(late, default=0))},
        "server_cpu": server_cpu,
        "client_cpu": {
            "cpu_s": round(client_cpu_s, 3),
            "cores_used": round(client_cpu_s / wall, 3),
        },
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_1m_start": round(load0[0], 2),
            "loadavg_1m_end": round(load1[0], 2),
        },
        "overloaded": overloaded,
        "stats_errors": errors,
        "per_session_tick_hz": [round(r, 3) for r in rates],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--warmup-s", type=float, default=5.0, help="settle time before measuring")
    parser.add_argument(
        "--servers", type=int, default=1, help="server processes to start (without --url)"
    )
    parser.add_argument(
        "--url", action="append", default=None, help="ws://HOST:PORT/ws of a running server"
    )
    parser.add_argument("--model", default=None, help="model for the servers this bench starts")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    parser.add_argument(
        "--answer",
        choices=["controls", "plans"],
        default="controls",
        help="what the sessions answer with (plans: as a plan-mode model's page does)",
    )
    args = parser.parse_args()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="app-load-") as tmp:
        servers: list[tuple[str, str]] = []
        if args.url:
            for ws_url in args.url:
                base = ws_url.replace("ws://", "http://").replace("wss://", "https://")
                servers.append((base.removesuffix("/ws"), ws_url))
        else:
            per_server = -(-args.sessions // args.servers)
            for _ in range(args.servers):
                port = free_port()
                procs.append(start_server(port, per_server, args.model, Path(tmp)))
                servers.append((f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"))
        try:
            for (base, _), proc in zip(servers, procs or [None] * len(servers), strict=True):
                wait_ready(base, proc)
            pids = [p.pid for p in procs] or [None] * len(servers)
            try:
                import uvloop

                runner = uvloop.run
            except ImportError:
                runner = asyncio.run
            report = runner(bench(args, servers, pids))
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGINT)
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
