"""``car-ai-rl serve``: flag checks with one-line errors, the entry point that registers it (the
training package does not name the app), and ``python -m car_ai_sim_app``."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import car_ai_rl
import pytest
from car_ai_rl.cli import COMMANDS_GROUP, run


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-sessions", "0"], "--max-sessions: must be >= 1"),
        (["--time-scale", "100"], "--time-scale: must be in [0.1, 20]"),
        (
            ["--model", "/nonexistent/model.onnx"],
            "--model: /nonexistent/model.onnx: file not found",
        ),
        (["--registry", "/nonexistent/registry.json"], "--registry: /nonexistent/registry.json"),
    ],
)
def test_bad_flags_are_one_line_errors(argv, message, capsys) -> None:
    assert run(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_model_and_registry_are_exclusive(capsys) -> None:
    with pytest.raises(SystemExit):
        run(["serve", "--model", "a.onnx", "--registry", "r.json"])
    assert "not allowed with" in capsys.readouterr().err


def test_serve_is_registered_through_an_entry_point() -> None:
    entries = {e.name: e.value for e in entry_points(group=COMMANDS_GROUP)}
    assert entries.get("serve") == "car_ai_sim_app.cli:register"
    training = Path(car_ai_rl.__file__).resolve().parent
    for path in training.rglob("*.py"):
        assert "car_ai_sim_app" not in path.read_text(), f"{path} names the app"


def test_python_dash_m_takes_the_same_flags() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "car_ai_sim_app", "--max-sessions", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --max-sessions: must be >= 1, got 0"


def test_bad_allowed_host_is_a_one_line_error(capsys) -> None:
    assert run(["serve", "--allow-host", "http://x.example:80"]) == 2
    assert "--allow-host: 'http://x.example:80' is not a host name" in capsys.readouterr().err


def test_a_regular_install_serves_the_page(tmp_path, models) -> None:
    """Build a wheel, install it (not editable) into a folder of its own, and serve from an
    unrelated working directory: the page and its npm modules come from the package."""
    project = Path(__file__).resolve().parents[1]
    wheel_dir, site, work = tmp_path / "wheel", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheel_dir)]
    subprocess.run([*build, str(project)], check=True, capture_output=True, timeout=300)
    (wheel,) = wheel_dir.glob("car_ai_sim_app-*.whl")
    install = [*pip, "install", "--no-deps", "--target", str(site), str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    script = f"""
import car_ai_sim_app, sys
from pathlib import Path
assert Path(car_ai_sim_app.__file__).is_relative_to({str(site)!r}), car_ai_sim_app.__file__
from fastapi.testclient import TestClient
from car_ai_sim_app.config import AppConfig
from car_ai_sim_app.server import create_app
config = AppConfig(model=Path({str(models.good)!r}), allowed_hosts=("testserver",))
with TestClient(create_app(config)) as client:
    for path in ("/", "/js/main.js", "/vendor/ort/ort-wasm-simd-threaded.wasm",
                 "/vendor/three/three.module.js", "/vendor/three/three.core.js"):
        reply = client.get(path)
        assert reply.status_code == 200 and len(reply.content) > 1000, (path, reply.status_code)
print("served", config.mission_log)
"""
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "served runs/mission_log.sqlite" in done.stdout
    assert (work / "runs" / "mission_log.sqlite").is_file()
