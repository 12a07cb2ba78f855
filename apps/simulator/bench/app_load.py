"""Load benchmark of the simulator app: many WebSocket sessions on loopback, each answering every
frame, against one server process.

    python bench/app_load.py [--sessions 200] [--duration-s 60] [--url ws://127.0.0.1:8000/ws]

Without --url it starts ``python -m car_ai_sim_app`` on a free port (mission log in a temporary
directory) and stops it afterwards. Prints JSON: the achieved tick rate of every session
against the server's rate (target within 5%), the p50/p99 server step latency (simulation,
supervisor and frames of one tick, as each frame reports it), dropped sessions, late answers,
and the server's CPU use.
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

SPEED_ERROR = 6  # observation index of (target speed - speed) / 10 m/s
CONNECT_BATCH = 20
STALL_S = 2.0


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


def controls_for(obs_b64: str) -> list[float]:
    """A simple speed keeper from the observation: the bench measures the server, not a model."""
    (error,) = struct.unpack_from("<f", base64.b64decode(obs_b64), SPEED_ERROR * 4)
    if error >= 0:
        return [min(1.0, 0.8 * error + 0.1), 0.0, 0.0]
    return [0.0, min(1.0, -0.5 * error), 0.0]


async def run_session(
    url: str, rec: SessionRecord, window: tuple[float, float], step_ms: dict[int, float]
) -> None:
    start, end = window
    try:
        async with websockets.connect(url, max_size=1 << 20, ping_interval=None) as ws:
            last = None
            while True:
                remaining = end + 1.0 - time.monotonic()
                if remaining <= 0:
                    return
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=remaining)
                except TimeoutError:
                    return
                msg = json.loads(raw)
                if msg["type"] != "tick":
                    if msg["type"] == "error":
                        rec.error = msg.get("message")
                    continue
                now = time.monotonic()
                reply = {
                    "type": "controls",
                    "tick": msg["tick"],
                    "controls": controls_for(msg["obs"]),
                }
                await ws.send(json.dumps(reply))
                if start <= now <= end:
                    rec.ticks_in_window += 1
                    rec.arrivals.append(now)
                    late = msg["counters"]["late_answers"]
                    if rec.first_late is None:
                        rec.first_late = late
                    rec.last_late = late
                    if last is not None:
                        rec.max_gap_s = max(rec.max_gap_s, now - last)
                    if msg["server"]["step_ms"] is not None:
                        step_ms[msg["tick"]] = msg["server"]["step_ms"]
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
        cmd, stdout=subprocess.DEVNULL, stderr=open(log_dir / "server.log", "wb")
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


async def bench(args: argparse.Namespace, base: str, ws_url: str) -> dict[str, Any]:
    stats_before = httpx.get(f"{base}/api/stats").json()
    target_hz = stats_before["tick_hz_target"]
    records = [SessionRecord(i) for i in range(args.sessions)]
    step_ms: dict[int, float] = {}
    ramp_s = args.sessions / CONNECT_BATCH * 0.1
    start = time.monotonic() + ramp_s + args.warmup_s
    window = (start, start + args.duration_s)
    tasks = []
    for i, rec in enumerate(records):
        tasks.append(asyncio.create_task(run_session(ws_url, rec, window, step_ms)))
        if (i + 1) % CONNECT_BATCH == 0:
            await asyncio.sleep(0.1)
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    cpu_wall0 = time.monotonic()
    stats0 = httpx.get(f"{base}/api/stats").json()
    client0 = os.times()
    await asyncio.sleep(args.duration_s)
    stats1 = httpx.get(f"{base}/api/stats").json()
    client1 = os.times()
    cpu_wall = time.monotonic() - cpu_wall0
    await asyncio.gather(*tasks)
    rates = [r.ticks_in_window / args.duration_s for r in records]
    within = [abs(rate - target_hz) <= 0.05 * target_hz for rate in rates]
    dropped = [
        {"session": r.index, "error": r.error}
        for r in records
        if r.closed_early or r.ticks_in_window == 0 or r.max_gap_s > STALL_S
    ]
    late = [r.last_late - (r.first_late or 0) for r in records]
    steps = np.asarray(list(step_ms.values()))
    server_cpu_s = stats1["cpu_s"] - stats0["cpu_s"]
    client_cpu_s = (client1.user + client1.system) - (client0.user + client0.system)
    return {
        "sessions": args.sessions,
        "duration_s": args.duration_s,
        "target_tick_hz": target_hz,
        "tick_hz_per_session": summarize(rates),
        "sessions_within_5pct": int(sum(within)),
        "server_tick_hz": round((stats1["ticks"] - stats0["ticks"]) / cpu_wall, 4),
        "server_step_ms": {
            "p50": round(float(np.percentile(steps, 50)), 3),
            "p99": round(float(np.percentile(steps, 99)), 3),
            "max": round(float(steps.max()), 3),
            "ticks": int(len(steps)),
        },
        "server_overruns": stats1["overruns"] - stats0["overruns"],
        "dropped_sessions": len(dropped),
        "dropped": dropped[:20],
        "late_answers": {"total": int(sum(late)), "per_session_max": int(max(late))},
        "server_cpu": {
            "cpu_s": round(server_cpu_s, 3),
            "cores_used": round(server_cpu_s / cpu_wall, 3),
            "pid": stats1["pid"],
        },
        "client_cpu_cores_used": round(client_cpu_s / cpu_wall, 3),
        "batch_capacity": stats1["batch_capacity"],
        "machine_cpus": os.cpu_count(),
        "per_session_tick_hz": [round(r, 3) for r in rates],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--warmup-s", type=float, default=5.0, help="settle time before measuring")
    parser.add_argument("--url", default=None, help="ws://HOST:PORT/ws of a running server")
    parser.add_argument("--model", default=None, help="model for the server this bench starts")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    proc = None
    with tempfile.TemporaryDirectory(prefix="app-load-") as tmp:
        if args.url:
            ws_url = args.url
            base = (
                ws_url.replace("ws://", "http://").replace("wss://", "https://").removesuffix("/ws")
            )
        else:
            port = free_port()
            proc = start_server(port, args.sessions, args.model, Path(tmp))
            base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
        try:
            wait_ready(base, proc)
            cpu0 = proc_cpu_s(proc.pid) if proc else None
            t0 = time.monotonic()
            report = asyncio.run(bench(args, base, ws_url))
            if proc is not None and cpu0 is not None:
                cpu1 = proc_cpu_s(proc.pid)
                if cpu1 is not None:
                    elapsed = time.monotonic() - t0
                    report["server_cpu"]["proc_whole_run_cores_used"] = round(
                        (cpu1 - cpu0) / elapsed, 3
                    )
        finally:
            if proc is not None:
                proc.send_signal(signal.SIGINT)
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
