"""The backend through FastAPI's TestClient: files and models served, the session life cycle,
the supervisor overriding unsafe controls, mission commands, malformed and oversized messages,
rate and session limits, late answers, mission-log rows, and the model registry (refusing
incompatible models, telling connected pages about a new export)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import time
from pathlib import Path

import modelkit
import numpy as np
import pytest
from car_ai_rl.cli import run as cli_run
from car_ai_rl.evals.mission_log import MissionLog
from car_ai_rl.sim.observation import OBS_DIM
from car_ai_rl.sim.views import VEHICLE_FIELDS
from conftest import write_registry
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from wskit import answer, command, decode_vehicles, drive, error, receive

from car_ai_sim_app.registry import RegistryError
from car_ai_sim_app.server import create_app


@pytest.fixture
def client(make_config):
    with TestClient(create_app(make_config())) as c:
        yield c


def test_page_models_and_vendor_files(client, models) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "command-input" in page.text
    assert "wasm-unsafe-eval" in page.headers["content-security-policy"]
    assert client.get("/js/main.js").status_code == 200
    registry = client.get("/api/registry").json()
    (name,) = registry["models"]
    assert registry["missions"] == {"cruise": name, "lane": name, "exit": name}
    model = client.get(registry["models"][name]["url"])
    assert model.status_code == 200
    assert hashlib.sha256(model.content).hexdigest() == registry["models"][name]["sha256"]
    assert model.content == models.good.read_bytes()
    for bad in ("nope", "..%2F..%2Fetc%2Fpasswd", "%2E%2E", ".hidden", "a" * 65):
        assert client.get(f"/models/{bad}").status_code == 404, bad
    assert client.get("/models/../package.json").status_code == 404
    assert client.get("/vendor/ort/package.json").status_code == 404
    assert client.get("/vendor/ort/..%2F..%2Fpackage.json").status_code == 404
    assert client.get("/node_modules/onnxruntime-web/package.json").status_code == 404
    wasm = client.get("/vendor/ort/ort-wasm-simd-threaded.wasm")
    if wasm.status_code == 200:
        assert wasm.headers["content-type"] == "application/wasm"
    else:
        assert "npm ci" in wasm.json()["detail"]


def test_session_life_cycle(client, models) -> None:
    with client.websocket_connect("/ws") as ws:
        hello = receive(ws, "hello")
        assert hello["protocol"] == 2 and hello["obs"]["dim"] == OBS_DIM
        assert hello["road"]["lane_numbering"] == "lane 1 is the leftmost lane"
        name = next(iter(hello["registry"]["models"]))
        sha = hello["registry"]["models"][name]["sha256"]
        first = receive(ws, "tick")
        assert first["t_s"] == 0 and "drive_started" in first["events"]
        assert first["mission"]["text"] == "cruise at 100 km/h"
        vehicles = decode_vehicles(first["vehicles"])
        assert hello["vehicle_fields"] == list(VEHICLE_FIELDS)
        assert vehicles.shape[0] > 0 and vehicles.shape[1] == len(VEHICLE_FIELDS)
        assert np.all(vehicles[:, 0] >= 1) and np.all(vehicles[:, 3] > 3.0)
        obs = np.frombuffer(base64.b64decode(first["obs"]), "<f4")
        assert obs.shape == (OBS_DIM,) and np.all(np.abs(obs) <= 1.0)
        assert set(first["exit"]) == {"x_m", "ramp_length_m", "distance_m"}
        ws.send_json({"type": "model", "name": name, "sha256": sha})
        frames = drive(ws, 12)
        assert command(ws, "speed up")["ok"]
        assert frames[-1]["t_s"] > first["t_s"]
        assert frames[-1]["counters"]["ticks"] >= 10
        assert any(f["supervisor"]["source"] == "policy" for f in frames)
        session_id = hello["session_id"]
        assert client.get("/api/stats").json()["sessions"] == 1
    deadline = time.monotonic() + 5
    while client.get("/api/stats").json()["sessions"] and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = client.get("/api/stats").json()
    assert stats["sessions"] == 0 and stats["sessions_opened"] == 1
    rows = client.get("/api/missions", params={"session_id": session_id}).json()["missions"]
    assert [r["outcome"] for r in rows][-1] in ("abandoned", "succeeded", "failed")
    assert any(r["model_sha256"] == sha for r in rows)


def test_supervisor_overrides_an_unsafe_control(client) -> None:
    with client.websocket_connect("/ws") as ws:
        n_lanes = receive(ws, "hello")["road"]["n_lanes"]
        seen = None
        for _ in range(400):
            frame = receive(ws, "tick")
            step = frame["supervisor"]
            if step.get("source") == "policy" and "lane_limit" in step["reasons"]:
                seen = frame
                break
            lane = frame["ego"]["lane"]
            # ask for the lane beyond the nearest edge; the client tries to switch the supervisor off
            request = -1.0 if lane < n_lanes - 1 else 1.0
            answer(ws, frame, [0.2, 0.0, request], supervisor=False, safety="off")
        assert seen is not None, "the supervisor never refused the lane request"
        step = seen["supervisor"]
        assert step["intervened"] and step["requested"][2] in (-1.0, 1.0)
        assert step["applied"][2] == 0.0
        assert seen["counters"]["interventions"] >= 1
        ws.send_json({"type": "supervisor", "enabled": False})
        assert error(ws)["code"] == "unknown_type"
        assert receive(ws, "tick")["type"] == "tick"


def test_emergency_braking_overrides_full_throttle(client) -> None:
    with client.websocket_connect("/ws") as ws:
        for _ in range(1500):
            frame = receive(ws, "tick")
            step = frame["supervisor"]
            if step.get("source") == "policy" and "emergency_brake" in step["reasons"]:
                assert step["requested"][:2] == [1.0, 0.0]
                assert step["applied"][:2] == [0.0, 1.0]
                break
            answer(ws, frame, [1.0, 0.0, 0.0])
        else:
            pytest.fail("full throttle never met a leader close enough to brake for")


def test_mission_commands_good_and_bad(client) -> None:
    with client.websocket_connect("/ws") as ws:
        receive(ws, "tick")
        ok = command(ws, "take the next exit")
        assert ok["ok"] and ok["mission"]["kind"] == "exit" and "exit zone starts in" in ok["reply"]
        assert receive(ws, "tick")["mission"]["kind"] == "exit"
        ok = command(ws, "change to lane 1", source="voice")
        assert ok["ok"] and ok["source"] == "voice"
        assert ok["mission"]["target_lane"] == 0 and ok["mission"]["target_lane_number"] == 1
        assert ok["parsed"] == {"action": "lane", "rule": "lane_number", "lane_number": 1}
        frame = receive(ws, "tick")
        assert (frame["mission"]["kind"], frame["mission"]["target_lane"]) == ("lane", 0)
        bad = command(ws, "fly me to the moon")
        assert not bad["ok"] and "did not understand" in bad["reply"] and "Try:" in bad["reply"]
        refused = command(ws, "cruise at 300 km/h")
        assert not refused["ok"] and "outside the range" in refused["reply"]
        frame = receive(ws, "tick")
        assert (frame["mission"]["kind"], frame["mission"]["target_lane"]) == ("lane", 0)
        assert frame["mission"]["text"] == "move to lane 1 (leftmost) at 100 km/h"
        ok = command(ws, "slow down to 80")
        assert (
            ok["ok"] and ok["mission"]["kind"] == "lane" and ok["mission"]["target_speed_kmh"] == 80
        )
        assert command(ws, "cancel")["mission"]["kind"] == "cruise"
        ws.send_json({"type": "command", "text": "x" * 500})
        assert error(ws)["code"] == "bad_command"
        assert receive(ws, "tick")["counters"]["commands_refused"] == 2


def test_malformed_and_oversized_messages(make_config) -> None:
    config = make_config(limits={"max_message_bytes": 1024})
    with TestClient(create_app(config)) as client, client.websocket_connect("/ws") as ws:
        receive(ws, "tick")
        ws.send_text("{not json")
        assert error(ws)["code"] == "bad_json"
        ws.send_bytes(b"\x00" * 10)
        assert error(ws)["code"] == "binary_frame"
        ws.send_text("[1, 2, 3]")
        assert error(ws)["code"] == "bad_message"
        ws.send_json({"type": "teleport", "x_m": 1e9})
        assert error(ws)["code"] == "unknown_type"
        ws.send_json({"type": "command", "text": "move left", "pad": "x" * 5000})
        assert error(ws)["code"] == "too_large"
        ws.send_text('{"type": "controls", "tick": 0, "controls": [NaN, 0, 0]}')
        assert error(ws)["code"] == "non_finite_controls"
        ws.send_json({"type": "controls", "tick": 10**9, "controls": [0, 0, 0]})
        assert "has not been sent yet" in error(ws)["message"]
        for _ in range(50):
            frame = receive(ws, "tick")
            answer(ws, frame, [5.0, -2.0, 0.0])
            nxt = receive(ws, "tick")
            if nxt["supervisor"].get("source") == "policy":
                assert nxt["supervisor"]["requested"][:2] == [1.0, 0.0]
                break
        counters = receive(ws, "tick")["counters"]
        assert counters["rejected_controls"] == 1
        assert counters["clamped_controls"] >= 1
        assert counters["malformed"] >= 5
        assert command(ws, "speed up")["ok"], "the session goes on after bad messages"


def test_rate_limit(make_config) -> None:
    config = make_config(limits={"messages_per_s": 5.0, "message_burst": 5})
    with TestClient(create_app(config)) as client, client.websocket_connect("/ws") as ws:
        receive(ws, "tick")
        for _ in range(30):
            ws.send_json({"type": "ping"})
        err = error(ws)
        assert err["code"] == "rate_limited"
        time.sleep(1.2)
        assert command(ws, "move right")["type"] == "command_result"
        stats = client.get("/api/stats").json()
        assert stats["counters"]["rate_limited"] >= 20


def test_session_limit(make_config) -> None:
    with TestClient(create_app(make_config(limits={"max_sessions": 2}))) as client:
        with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
            receive(a, "hello")
            receive(b, "hello")
            with client.websocket_connect("/ws") as c:
                refused = c.receive_json()
                assert refused["code"] == "server_full" and "2 sessions" in refused["message"]
                with pytest.raises(WebSocketDisconnect) as info:
                    c.receive_json()
                assert info.value.code == 1013
            assert receive(a, "tick")["type"] == "tick"
        with client.websocket_connect("/ws") as d:
            assert receive(d, "hello")["type"] == "hello"
        assert client.get("/api/stats").json()["sessions_refused"] == 1


def test_late_answers_fall_back_and_are_counted(client) -> None:
    with client.websocket_connect("/ws") as ws:
        frames = [receive(ws, "tick") for _ in range(15)]
        last = frames[-1]
        assert last["counters"]["late_answers"] >= 10
        assert last["supervisor"]["source"] == "fallback"
        assert "late_answer" in last["events"]
        assert last["t_s"] > frames[0]["t_s"], "the drive goes on without answers"


def test_mission_log_rows(client, make_config, models) -> None:
    with client.websocket_connect("/ws") as ws:
        hello = receive(ws, "hello")
        name = next(iter(hello["registry"]["models"]))
        sha = hello["registry"]["models"][name]["sha256"]
        ws.send_json({"type": "model", "name": name, "sha256": sha})
        drive(ws, 3)
        assert command(ws, "take the next exit")["ok"]
        drive(ws, 3)
        assert command(ws, "change to lane 2", source="voice")["ok"]
        drive(ws, 3)
        assert not command(ws, "sing a song")["ok"]
        session_id = hello["session_id"]
        live = client.get("/api/missions", params={"session_id": session_id}).json()["live"]
        assert live and live[0]["command_text"] == "change to lane 2"
    time.sleep(0.3)
    rows = client.get("/api/missions", params={"session_id": session_id}).json()["missions"]
    rows = sorted(rows, key=lambda r: r["id"])
    # the drive's first cruise was replaced before anything judged it: not logged
    assert [r["command_text"] for r in rows] == ["take the next exit", "change to lane 2"]
    assert rows[0]["outcome"] == "replaced"
    assert rows[0]["mission_json"]["kind"] == "exit"
    assert rows[0]["mission_json"]["parsed"] == {"action": "exit", "rule": "exit_next"}
    assert rows[1]["mission_json"]["source"] == "voice"
    assert rows[1]["mission_json"]["target_lane_number"] == 2
    assert rows[1]["outcome"] in ("abandoned", "succeeded", "failed")
    for row in rows:
        assert row["started_at"] <= row["ended_at"]
        assert isinstance(row["collisions"], int) and isinstance(row["interventions"], int)
        assert isinstance(row["late_answers"], int)
        assert row["model_sha256"] == sha and row["model_kind"] == "onnx"
        assert row["extra_json"]["model_name"] == name
    db_path = make_config().mission_log
    with MissionLog(db_path, readonly=True) as db:
        assert db.count("missions") == 2 and db.count("models") == 1


def test_incompatible_models_are_refused(make_config, models, tmp_path, capsys) -> None:
    with pytest.raises(RegistryError, match="observation schema 'highway-mission-obs/0'"):
        create_app(make_config(model=models.wrong_schema))
    with pytest.raises(RegistryError, match="features differ from the simulator's at position 3"):
        create_app(make_config(model=models.wrong_features))
    code = cli_run(["serve", "--model", str(models.wrong_schema), "--port", "1"])
    assert code == 2
    assert "refused" in capsys.readouterr().err
    registry = write_registry(tmp_path / "registry.json", {"models": {"tiny": str(models.good)}})
    with TestClient(create_app(make_config(model=None, registry=registry))) as client:
        write_registry(
            registry,
            {
                "models": {"tiny": str(models.good), "old": str(models.wrong_schema)},
                "default": "tiny",
            },
        )
        reply = client.post("/api/registry/reload")
        assert reply.status_code == 422
        assert "'old' refused" in reply.json()["error"]
        status = client.get("/api/registry").json()
        assert status["version"] == 1 and list(status["models"]) == ["tiny"]
        assert "refused" in status["last_error"]


def test_registry_files_are_validated(make_config, models, tmp_path) -> None:
    cases = [
        ({"models": {}}, "non-empty"),
        ({"models": {"a": str(models.good)}, "extra": 1}, "unknown key 'extra'"),
        ({"models": {"a": str(models.good), "b": str(models.good)}}, "has no model"),
        ({"models": {"a": str(models.good)}, "missions": {"fly": "a"}}, "unknown mission kind"),
        ({"models": {"a": str(models.good)}, "missions": {"exit": "zz"}}, "unknown model 'zz'"),
        ({"models": {"../a": str(models.good)}}, "model name"),
        ({"models": {"a": "missing.onnx"}}, "file not found"),
    ]
    for i, (data, message) in enumerate(cases):
        path = write_registry(tmp_path / f"r{i}.json", data)
        with pytest.raises(RegistryError, match=message):
            create_app(make_config(model=None, registry=path))


def test_new_export_is_announced_to_connected_pages(make_config, models, tmp_path) -> None:
    published = tmp_path / "published"
    published.mkdir()
    model = published / "highway.onnx"
    shutil.copy(models.good, model)
    registry = write_registry(
        tmp_path / "registry.json",
        {
            "models": {"highway": "published/highway.onnx"},
            "missions": {"exit": "highway"},
            "default": "highway",
        },
    )
    app = create_app(make_config(model=None, registry=registry))
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        hello = receive(ws, "hello")
        old_sha = hello["registry"]["models"]["highway"]["sha256"]
        newer = modelkit.with_metadata(models.good, tmp_path / "newer.onnx", train_steps="4096")
        shutil.copy(newer, tmp_path / "staging.onnx")
        (tmp_path / "staging.onnx").replace(model)
        update = receive(ws, "registry")
        assert update["version"] == 2
        new_sha = update["models"]["highway"]["sha256"]
        assert new_sha != old_sha and "4096 steps" in update["models"]["highway"]["label"]
        served = client.get(update["models"]["highway"]["url"]).content
        assert hashlib.sha256(served).hexdigest() == new_sha
        reply = client.post("/api/registry/reload").json()
        assert reply["ok"] and not reply["changed"]
        ws.send_json({"type": "model", "name": "highway", "sha256": old_sha})
        assert error(ws)["code"] == "unknown_model"


def test_default_model_is_optional(make_config, monkeypatch, tmp_path) -> None:
    from car_ai_sim_app import model_store

    run = tmp_path / "runs" / "ppo-local"
    missing = (run / "ppo-highway-best.onnx", run / "ppo-highway-final.onnx")
    monkeypatch.setattr(model_store, "DEFAULT_MODELS", missing)
    with TestClient(create_app(make_config(model=None))) as client:
        status = client.get("/api/registry").json()
        assert status["models"] == {} and "no model yet" in status["last_error"]
        with client.websocket_connect("/ws") as ws:
            assert receive(ws, "hello")["registry"]["models"] == {}
            assert receive(ws, "tick")["type"] == "tick"
    assert json.dumps(status)
    assert isinstance(Path(status["source"]), Path)


def test_default_model_is_the_pick_else_the_final_model(
    make_config, models, monkeypatch, tmp_path
) -> None:
    """Without --model the server serves the main job's pick, or the final model until the
    pick is exported; the pick replaces it as soon as it appears."""
    from car_ai_sim_app import model_store

    run = tmp_path / "runs" / "ppo-local"
    run.mkdir(parents=True)
    best, final = run / "ppo-highway-best.onnx", run / "ppo-highway-final.onnx"
    monkeypatch.setattr(model_store, "DEFAULT_MODELS", (best, final))
    shutil.copy(models.good, final)
    with TestClient(create_app(make_config(model=None))) as client:
        status = client.get("/api/registry").json()
        assert status["source"] == str(final.resolve()) and status["last_error"] is None
        shutil.copy(
            modelkit.with_metadata(models.good, tmp_path / "pick.onnx", train_steps="4096"), best
        )
        reply = client.post("/api/registry/reload").json()
        assert reply["ok"] and reply["changed"]
        status = client.get("/api/registry").json()
        assert status["source"] == str(best.resolve())
        served = client.get(status["models"]["ppo-highway-best"]["url"]).content
        assert served == best.read_bytes()


def test_leaving_on_the_exit_starts_a_new_drive_with_notice(client) -> None:
    """No answers: the heuristic driver (the fallback) takes the exit; the frame after says
    why the drive ended, and the page is told a new drive started."""
    with client.websocket_connect("/ws") as ws:
        receive(ws, "tick")
        assert command(ws, "exit in 300 meters")["ok"]
        for _ in range(3000):
            frame = receive(ws, "tick")
            if frame["drive_reason"] is not None:
                break
        else:
            pytest.fail("the fallback driver never left on the exit")
        assert frame["drive_reason"] == "exited"
        assert {"exited", "mission_success", "drive_ended", "drive_started"} <= set(frame["events"])
        assert frame["drive"] == 2 and frame["mission"]["kind"] == "cruise"
        nxt = receive(ws, "tick")
        assert nxt["drive_reason"] is None and nxt["drive"] == 2
