"""``car-ai-rl serve``: flag checks with one-line errors, and the shim's message when the app
package is not installed."""

from __future__ import annotations

import sys

import pytest
from car_ai_rl.cli import run


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


def test_missing_app_package_gives_a_clear_error(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "car_ai_sim_app.cli", None)
    assert run(["serve"]) == 2
    assert "pip install -e apps/simulator" in capsys.readouterr().err
