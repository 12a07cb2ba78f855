"""The regression gate: interval-based semantics, exit codes, pairing, repeatability.

The first tests use a fake episode runner to isolate the gate; the ``real`` tests run the
simulator, the heuristic policy and a deliberately degraded ONNX policy end to end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_evals_support import (
    FakePolicy,
    base_config,
    install_fakes,
    strict_json,
    write_config,
)

from car_ai_rl.cli import run
from car_ai_rl.evals.gate import judge
from car_ai_rl.evals.stats import Interval


def interval(low: float, high: float) -> Interval:
    return Interval((low + high) / 2, low, high, 100)


@pytest.mark.parametrize(
    ("kind", "threshold", "low", "high", "status"),
    [
        # max_drop 2 pts: fails only when even the upper bound is below -2 pts
        ("max_drop", 0.02, -0.10, -0.021, "fail"),
        ("max_drop", 0.02, -0.10, -0.019, "pass"),  # could be noise
        ("max_drop", 0.02, -0.03, 0.05, "pass"),
        # max_rise 1 pt: fails only when even the lower bound is above +1 pt
        ("max_rise", 0.01, 0.011, 0.05, "fail"),
        ("max_rise", 0.01, 0.009, 0.05, "pass"),
        # max 1%: fails when the lower bound reaches 1%
        ("max", 0.01, 0.010, 0.03, "fail"),
        ("max", 0.01, 0.009, 0.03, "pass"),
        # min 90%: fails when the upper bound is at or below 90%
        ("min", 0.90, 0.80, 0.90, "fail"),
        ("min", 0.90, 0.80, 0.901, "pass"),
    ],
)
def test_rules_are_judged_on_the_interval(
    kind: str, threshold: float, low: float, high: float, status: str
) -> None:
    assert judge(kind, threshold, interval(low, high)) == status


def test_missing_data_is_not_judged() -> None:
    assert judge("max", 0.01, None) == "skip"
    assert judge("max", 0.01, Interval(0.5, float("nan"), float("nan"), 3)) == "skip"


def _eval(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    policies: dict[str, FakePolicy],
    out: str = "out",
    **overrides: Any,
):
    data, sources = base_config(tmp_path, policies, **overrides)
    fake = install_fakes(monkeypatch, sources)
    path = write_config(tmp_path / "eval.yaml", data)
    code = run(["eval", "--config", str(path), "--out", str(tmp_path / out), "--no-progress"])
    captured = capsys.readouterr()
    return code, captured, fake, strict_json(tmp_path / out / "results.json")


def test_degraded_candidate_fails_with_exit_1_naming_rule_suite_and_candidate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = {"base": FakePolicy("base"), "worse": FakePolicy("worse", quality=0.75)}
    code, captured, _, results = _eval(tmp_path, monkeypatch, capsys, policies)
    assert code == 1
    regressions = [line for line in captured.err.splitlines() if line.startswith("regression:")]
    assert len(regressions) == 4  # success rule x 2 suites x 2 supervisor modes
    # checks: success (relative: 1 candidate x 4 cells) + collision max (absolute: 2 x 4)
    for suite in ("cruise", "exit"):
        assert any(
            "rules[0] 'success' (success_rate max_drop 2 pts at 95%)" in line
            and "candidate 'worse'" in line
            and f"suite '{suite}'" in line
            for line in regressions
        )
    assert "gate: FAILED (4 of 12 checks)" in captured.out
    assert results["passed"] is False
    failed = [c for c in results["gate"]["checks"] if c["status"] == "fail"]
    assert {(c["rule"], c["candidate"], c["metric"]) for c in failed} == {
        ("rules[0]", "worse", "success_rate")
    }
    assert all(c["interval"]["high"] < -0.02 for c in failed)


def test_noise_alone_does_not_fail_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Same quality, but independent outcomes per seed: the point estimates differ by chance.
    policies = {"base": FakePolicy("base"), "twin": FakePolicy("twin", salt=7)}
    code, captured, _, results = _eval(tmp_path, monkeypatch, capsys, policies)
    diffs = [
        r["diff_vs_baseline"]["value"]
        for r in results["results"]
        if r["candidate"] == "twin" and r["metric"] == "success_rate"
    ]
    assert any(d < -0.02 for d in diffs)  # a point-estimate gate would have failed here
    assert code == 0, captured.err
    assert "gate: passed (12 checks)" in captured.out


def test_every_candidate_runs_on_the_same_seeds_and_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = {"base": FakePolicy("base"), "a": FakePolicy("a"), "b": FakePolicy("b")}
    _, _, fake, _ = _eval(tmp_path, monkeypatch, capsys, policies)
    assert len(fake.calls) == 3 * 2 * 2  # candidates x suites x supervisor modes
    by_scenario: dict[tuple, list[dict]] = {}
    for call in fake.calls:
        key = (call["params"].digest(), call["supervisor"])
        by_scenario.setdefault(key, []).append(call)
    assert len(by_scenario) == 4
    for calls in by_scenario.values():
        assert sorted(c["policy"] for c in calls) == ["a", "b", "base"]
        for call in calls[1:]:
            np.testing.assert_array_equal(call["seeds"], calls[0]["seeds"])
            assert call["seeds"].dtype == np.uint64
            assert call["params"] == calls[0]["params"]
    assert all(isinstance(c["progress"], bool) and not c["progress"] for c in fake.calls)


def test_same_policy_twice_gives_identical_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = {"base": FakePolicy("base"), "copy": FakePolicy("base")}
    code1, _, _, first = _eval(tmp_path, monkeypatch, capsys, policies, out="one")
    code2, _, _, second = _eval(tmp_path, monkeypatch, capsys, policies, out="two")
    assert code1 == code2 == 0
    assert first["results"] == second["results"]
    assert first["gate"] == second["gate"]
    assert first["run_id"] != second["run_id"]
    for row in first["results"]:
        if row["candidate"] == "copy" and row["diff_vs_baseline"]:
            assert row["diff_vs_baseline"]["value"] == 0.0
            base = next(
                r
                for r in first["results"]
                if r["candidate"] == "base"
                and (r["suite"], r["supervisor"], r["metric"])
                == (row["suite"], row["supervisor"], row["metric"])
            )
            assert row["estimate"] == base["estimate"]


# ------------------------------------------------------------------ end to end
def build_always_brake_onnx(path: Path) -> Path:
    """A real ONNX policy that always brakes: controls (0, 1, 0), whatever it observes."""
    import onnx
    from onnx import TensorProto, helper

    from car_ai_rl.sim.observation import OBS_FEATURES, OBS_SCHEMA_VERSION
    from car_ai_rl.sim.params import SimParams

    obs_dim = len(OBS_FEATURES)
    initializers = [
        helper.make_tensor("zero_weight", TensorProto.FLOAT, [obs_dim, 3], [0.0] * (obs_dim * 3)),
        helper.make_tensor("brake_controls", TensorProto.FLOAT, [3], [0.0, 1.0, 0.0]),
        helper.make_tensor("brake_action", TensorProto.FLOAT, [3], [-1.0, 1.0, 0.0]),
    ]
    nodes = [
        helper.make_node("MatMul", ["obs", "zero_weight"], ["zeros"]),
        helper.make_node("Add", ["zeros", "brake_controls"], ["controls"]),
        helper.make_node("Add", ["zeros", "brake_action"], ["action"]),
    ]
    graph = helper.make_graph(
        nodes,
        "always_brake",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", obs_dim])],
        [
            helper.make_tensor_value_info("controls", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", 3]),
        ],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="car-ai-rl-tests"
    )
    model.ir_version = 9
    metadata = {
        "obs_schema_version": OBS_SCHEMA_VERSION,
        "obs_features": json.dumps(list(OBS_FEATURES)),
        "action_mode": "continuous",
        "algo": "ppo",
        "train_steps": "0",
        "sim_params_hash": SimParams().digest(),
    }
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _real_config(tmp_path: Path, candidates: list[dict[str, Any]], rules: list[dict]) -> Path:
    data = {
        "name": "real",
        "output_dir": str(tmp_path / "out"),
        "mission_log": str(tmp_path / "log.sqlite"),
        "supervisor": "off",
        "bootstrap": {"resamples": 500, "seed": 1},
        "candidates": candidates,
        "suites": [
            {
                "name": "cruise",
                "episodes": 120,
                "seed_start": 77000,
                "mission_mix": {"cruise": 1.0, "lane": 0.0, "exit": 0.0},
                "mission_changes": False,
            },
        ],
        "rules": rules,
    }
    return write_config(tmp_path / "real.yaml", data)


@pytest.mark.slow
def test_real_always_brake_onnx_policy_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    brake = build_always_brake_onnx(tmp_path / "brake.onnx")
    config = _real_config(
        tmp_path,
        [
            {"name": "heuristic", "source": "heuristic", "baseline": True},
            {"name": "brake", "source": str(brake)},
        ],
        [
            {"metric": "success_rate", "kind": "max_drop", "points": 2},
            {"metric": "mean_speed_mps", "kind": "max_drop", "value": 2.0},
        ],
    )
    code = run(["eval", "--config", str(config), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert (
        "regression: rules[0] (success_rate max_drop 2 pts at 95%): candidate 'brake', "
        "suite 'cruise', supervisor off" in err
    )
    assert "regression: rules[1] (mean_speed_mps max_drop 2 m/s at 95%): candidate 'brake'" in err
    results = strict_json(tmp_path / "out" / "results.json")
    assert results["candidates"]["brake"]["identity"]["kind"] == "onnx"
    assert results["candidates"]["brake"]["identity"]["metadata"]["algo"] == "ppo"


@pytest.mark.slow
def test_real_same_policy_evaluated_twice_is_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    brake = build_always_brake_onnx(tmp_path / "brake.onnx")
    config = _real_config(
        tmp_path,
        [
            {"name": "heuristic", "source": "heuristic", "baseline": True},
            {"name": "heuristic_again", "source": "heuristic"},
            {"name": "brake", "source": str(brake)},
        ],
        [
            {
                "metric": "success_rate",
                "kind": "max_drop",
                "points": 2,
                "candidates": ["heuristic_again"],
            }
        ],
    )
    runs = []
    for out in ("first", "second"):
        code = run(["eval", "--config", str(config), "--out", str(tmp_path / out), "--no-progress"])
        assert code == 0, capsys.readouterr().err
        runs.append(strict_json(tmp_path / out / "results.json"))
    assert runs[0]["results"] == runs[1]["results"]
    again = [r for r in runs[0]["results"] if r["candidate"] == "heuristic_again"]
    assert again and all(
        r["diff_vs_baseline"] is None or r["diff_vs_baseline"]["value"] == 0.0 for r in again
    )
