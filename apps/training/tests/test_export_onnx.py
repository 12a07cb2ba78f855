"""ONNX export: parity with SB3, metadata, the graph's decoding, and the exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from test_policies_support import (
    EXPORT_SCRIPT,
    MODEL_NAMES,
    TRAINING_DIR,
    TinyModels,
    action_mode_of,
    tiny_models,
)

from car_ai_rl.cli import run
from car_ai_rl.envs.actions import DISCRETE_CONTROLS, decode_actions
from car_ai_rl.export.parity import compare
from car_ai_rl.policies.onnx_policy import make_session
from car_ai_rl.policies.plans import N_PLANS
from car_ai_rl.sim.observation import OBS_DIM, OBS_FEATURES, OBS_SCHEMA_VERSION
from car_ai_rl.sim.params import SimParams

METADATA_KEYS = (
    "obs_schema_version",
    "obs_features",
    "obs_schema",
    "action_mode",
    "algo",
    "train_steps",
    "sim_params_hash",
    "sim_params",
    "car_ai_rl_version",
)


@pytest.fixture
def models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    return tiny_models(tmp_path_factory)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_parity_with_sb3_on_rollout_observations(models, name):
    report = models.exports[name].parity
    assert report is not None and report.ok, report
    assert report.n_obs >= 10_000
    assert report.action_mismatches == 0
    assert report.max_controls_error <= 1e-5
    if name == "ppo_continuous":
        assert report.max_action_error <= 1e-5


@pytest.mark.parametrize(
    ("name", "algo", "mode"),
    [
        ("ppo_discrete", "ppo", "discrete"),
        ("ppo_continuous", "ppo", "continuous"),
        ("dqn", "dqn", "discrete"),
        ("ppo_plan", "ppo", "plan"),
    ],
)
def test_metadata_and_interface(models, name, algo, mode):
    proto = onnx.load(str(models.onnx[name]))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert set(METADATA_KEYS) <= set(meta)
    assert meta["obs_schema_version"] == OBS_SCHEMA_VERSION
    assert json.loads(meta["obs_features"]) == list(OBS_FEATURES)
    assert [f["name"] for f in json.loads(meta["obs_schema"])] == list(OBS_FEATURES)
    assert (meta["algo"], meta["action_mode"]) == (algo, mode)
    assert int(meta["train_steps"]) >= 512
    expected = models.run_params if name == "ppo_continuous" else SimParams()
    assert meta["sim_params_hash"] == expected.digest()
    assert json.loads(meta["sim_params"]) == json.loads(json.dumps(expected.to_dict()))
    assert max(op.version for op in proto.opset_import if op.domain in ("", "ai.onnx")) >= 17
    (obs_in,) = proto.graph.input
    assert obs_in.name == "obs"
    assert obs_in.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = obs_in.type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[1].dim_value == OBS_DIM
    outputs = ["plan"] if mode == "plan" else ["controls", "action"]
    assert [o.name for o in proto.graph.output] == outputs
    assert json.loads(meta["outputs"]) == outputs


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_graph_decodes_controls_for_any_batch_size(models, name):
    session = make_session(models.onnx[name])
    rng = np.random.default_rng(0)
    mode = action_mode_of(name)
    for n in (1, 7, 300):
        obs = rng.uniform(-3.0, 3.0, size=(n, OBS_DIM)).astype(np.float32)
        if mode == "plan":  # the driver decodes plans from the state: the graph gives the plan
            (plan,) = session.run(None, {"obs": obs})
            assert plan.dtype == np.int64 and plan.shape == (n,)
            assert plan.min() >= 0 and plan.max() < N_PLANS
            continue
        controls, action = session.run(None, {"obs": obs})
        assert controls.dtype == np.float32 and controls.shape == (n, 3)
        if mode == "discrete":
            assert action.dtype == np.int64 and action.shape == (n,)
            np.testing.assert_array_equal(controls, DISCRETE_CONTROLS[action].astype(np.float32))
        else:
            assert action.dtype == np.float32 and action.shape == (n, 3)
            assert np.all(np.abs(action) <= 1.0)
            expected = decode_actions(action, "continuous", n)
            np.testing.assert_allclose(controls, expected, atol=1e-6)
            assert set(np.unique(controls[:, 2])) <= {-1.0, 0.0, 1.0}


def test_compare_flags_mismatches():
    obs = np.zeros((3, OBS_DIM), np.float32)
    ref = np.array([0, 4, 14])
    bad = compare(obs, ref, DISCRETE_CONTROLS[[0, 5, 14]], np.array([0, 5, 14]), "discrete")
    assert not bad.ok and bad.action_mismatches == 1
    ref_c = np.array([[0.1, -0.2, 0.3], [0.0, 0.0, 0.5], [1.0, -1.0, -0.9]], np.float32)
    controls = decode_actions(ref_c, "continuous", 3).astype(np.float32)
    assert compare(obs, ref_c, controls, ref_c, "continuous").ok
    shifted = controls.copy()
    shifted[0, 0] += 1e-3
    report = compare(obs, ref_c, shifted, ref_c, "continuous")
    assert not report.ok and report.max_controls_error == pytest.approx(1e-3, rel=1e-3)
    tie = controls.copy()
    tie[1, 2] = 1.0  # 0.5 sits on the lane threshold: either rounding is accepted
    assert compare(obs, ref_c, tie, ref_c, "continuous").boundary_cases == 1


def test_compare_accepts_near_tied_discrete_scores_only():
    obs = np.zeros((2, OBS_DIM), np.float32)
    scores = np.zeros((2, 15))
    scores[0, [3, 7]] = [0.01, 0.01 - 1e-8]  # a tie float rounding may settle either way
    scores[1, [3, 7]] = [0.01, 0.01 - 1e-3]  # a real preference
    ref = np.array([3, 3])
    got = np.array([7, 3])
    tied = compare(obs, ref, DISCRETE_CONTROLS[got], got, "discrete", reference_scores=scores)
    assert tied.ok and tied.boundary_cases == 1 and tied.action_mismatches == 0
    got = np.array([3, 7])
    real = compare(obs, ref, DISCRETE_CONTROLS[got], got, "discrete", reference_scores=scores)
    assert not real.ok and real.action_mismatches == 1 and real.boundary_cases == 0


def test_export_subcommand_without_check(models, tmp_path):
    out = tmp_path / "nested" / "dqn.onnx"
    assert run(["export", str(models.zips["dqn"]), str(out), "--no-check"]) == 0
    assert out.is_file()
    assert [p.name for p in out.parent.iterdir()] == ["dqn.onnx"]


def test_an_export_removes_what_a_killed_export_left(models, tmp_path):
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    out = tmp_path / "dqn.onnx"
    stale = tmp_path / f".dqn.onnx.{int(dead.stdout)}.0badc0de.tmp"  # its writer has exited
    other = tmp_path / f".other.onnx.{int(dead.stdout)}.0badc0de.tmp"  # another file's: kept
    stale.write_bytes(b"half an onnx file")
    other.write_bytes(b"half another")
    assert run(["export", str(models.zips["dqn"]), str(out), "--no-check"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["dqn.onnx", other.name])


def test_failed_parity_exits_1_and_writes_nothing(models, tmp_path, monkeypatch, capsys):
    from car_ai_rl.export import actor

    original = actor.DeterministicActor.forward

    def skewed(self, obs):
        controls, action = original(self, obs)
        return controls + 1e-3, action + 1e-3

    monkeypatch.setattr(actor.DeterministicActor, "forward", skewed)
    out = tmp_path / "skewed.onnx"
    code = run(["export", str(models.zips["ppo_continuous"]), str(out), "--n-check", "2000"])
    assert code == 1
    assert "parity check failed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def _script(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(EXPORT_SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=TRAINING_DIR,
        timeout=120,
    )


def _corrupt(source: Path, target: Path) -> Path:
    """A copy of an SB3 zip with the middle of policy.pth overwritten (bad CRC)."""
    shutil.copy(source, target)
    with zipfile.ZipFile(target) as zf:
        info = zf.getinfo("policy.pth")
    data = bytearray(target.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    data[start : start + 64] = bytes(64)
    target.write_bytes(bytes(data))
    return target


def _truncate(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    return target


def _foreign_zip(target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        zf.writestr("readme.txt", "not a model")
    return target


@pytest.mark.parametrize(
    "kind", ["missing", "not_a_zip", "foreign_zip", "truncated_zip", "corrupted_zip"]
)
def test_bad_input_exits_2_with_a_clear_message(models, tmp_path, kind):
    source = models.zips["dqn"]
    model = {
        "missing": lambda p: p,
        "not_a_zip": lambda p: (p.write_text("hello, not a zip\n"), p)[1],
        "foreign_zip": _foreign_zip,
        "truncated_zip": lambda p: _truncate(source, p),
        "corrupted_zip": lambda p: _corrupt(source, p),
    }[kind](tmp_path / f"{kind}.zip")
    out_dir = tmp_path / "out"
    result = _script(model, out_dir / "model.onnx")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and str(model) in result.stderr
    assert "Traceback" not in result.stderr
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_opset_below_17_is_refused(models, tmp_path):
    out = tmp_path / "old.onnx"
    assert run(["export", str(models.zips["dqn"]), str(out), "--opset", "13"]) == 2
    assert not out.exists()
