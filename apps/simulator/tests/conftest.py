"""Fixtures: a tiny exported model and a tiny plan-mode model (each trained once per test
session), app configs writing to a temporary mission log, an in-process TestClient, and a real uvicorn server on a free port."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import modelkit
import pytest

from car_ai_sim_app.config import LOOPBACK_HOSTS, AppConfig, Limits

TEST_HOSTS = (*LOOPBACK_HOSTS, "testserver")  # Starlette's TestClient sends Host: testserver

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@dataclass(frozen=True)
class Models:
    good: Path
    wrong_schema: Path
    wrong_features: Path


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    root = tmp_path_factory.mktemp("models")
    good = modelkit.export_tiny(modelkit.train_tiny_ppo(root))
    return Models(
        good=good,
        wrong_schema=modelkit.wrong_schema_model(good, root / "wrong-schema.onnx"),
        wrong_features=modelkit.wrong_features_model(good, root / "wrong-features.onnx"),
    )


@pytest.fixture(scope="session")
def plan_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported PPO choosing driving plans (its graph's one output: ``plan``)."""
    root = tmp_path_factory.mktemp("plan-model")
    return modelkit.export_tiny(modelkit.train_tiny_plan_ppo(root), n_check=200)


@pytest.fixture
def make_config(models: Models, tmp_path: Path) -> Callable[..., AppConfig]:
    """An AppConfig serving the tiny model, logging to tmp_path; keyword arguments override
    fields, and ``limits`` may be a dict of Limits fields."""

    def build(**overrides: Any) -> AppConfig:
        limits = overrides.pop("limits", {})
        base = AppConfig(
            model=models.good,
            mission_log=tmp_path / "missions.sqlite",
            time_scale=5.0,
            watch_interval_s=0.2,
            allowed_hosts=TEST_HOSTS,
        )
        return replace(base, limits=replace(Limits(), **limits), **overrides)

    return build


def write_registry(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(config: AppConfig) -> Iterator[str]:
    """Serve ``config`` with uvicorn on a free loopback port; yields "127.0.0.1:PORT"."""
    import uvicorn

    from car_ai_sim_app.cli import WS_DEFLATE, WS_IMPL
    from car_ai_sim_app.server import create_app

    app = create_app(config)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            ws=WS_IMPL,
            ws_per_message_deflate=WS_DEFLATE,
            ws_max_size=config.limits.max_frame_bytes,
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
