"""Job spec validation, overrides, command rendering and CLI error handling."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_jobs_support import TRAINING_DIR, cli, write_fake_project, write_spec

from car_ai_rl.errors import ConfigError
from car_ai_rl.jobs.command import render_command, render_env
from car_ai_rl.jobs.duration import parse_duration_s
from car_ai_rl.jobs.overrides import OverrideError, apply_overrides
from car_ai_rl.jobs.spec import load_spec, validate_spec

SEED_SPEC = TRAINING_DIR / "fireworks" / "rft-ppo.yaml"


def _raw() -> dict:
    return yaml.safe_load(SEED_SPEC.read_text())


def test_seed_spec_runs_the_seed_training_command():
    spec = load_spec(SEED_SPEC)
    assert spec.cluster.backend == "local"
    assert spec.max_duration_s == 3600
    assert spec.env["CAR_AI_RL_CURRICULUM"] == "1"
    assert "ppo-highway-final.zip" in spec.artifacts.paths
    assert "checkpoints/*.zip" in spec.artifacts.paths
    argv = render_command(spec, "job-1", "/jobs/job-1/output")
    assert argv == [
        "python",
        "scripts/train_ppo.py",
        "--steps",
        "1500000",
        "--n-envs",
        "4",
        "--log-dir",
        "/jobs/job-1/output",
    ]


def test_overrides_are_typed_and_reach_the_command():
    spec = load_spec(
        SEED_SPEC,
        [
            "entrypoint.args.steps=200000",
            "entrypoint.args.seed=7",
            "entrypoint.args.resume=true",
            "env.CAR_AI_RL_DENSITY_RAMP=0.5",
            "max_duration=90m",
            "artifacts.paths.0=checkpoints/best.zip",
        ],
    )
    assert spec.entrypoint.args["steps"] == 200000
    assert spec.max_duration_s == 5400
    assert spec.artifacts.paths[0] == "checkpoints/best.zip"
    argv = render_command(spec, "j", "out")
    assert argv[argv.index("--steps") + 1] == "200000"
    assert argv[argv.index("--seed") + 1] == "7"
    assert argv[-1] == "--resume"
    env = render_env(spec, "j", "out")
    assert env["CAR_AI_RL_DENSITY_RAMP"] == "0.5"
    assert env["PYTHONUNBUFFERED"] == "1"


def test_args_render_flags_lists_and_placeholders():
    spec = validate_spec(
        {
            "entrypoint": {
                "command": ["python", "train.py", "--tag={job_id}"],
                "args": {
                    "resume": True,
                    "quiet": False,
                    "config": None,
                    "seeds": [1, 2],
                    "out": "{output_dir}/x",
                },
            },
            "env": {"RUN_DIR": "{output_dir}", "FLAG": True},
        }
    )
    assert render_command(spec, "abc", "/o") == [
        "python",
        "train.py",
        "--tag=abc",
        "--resume",
        "--seeds",
        "1",
        "2",
        "--out",
        "/o/x",
    ]
    assert render_env(spec, "abc", "/o") == {"PYTHONUNBUFFERED": "1", "RUN_DIR": "/o", "FLAG": "1"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90),
        ("90", 90),
        ("45s", 45),
        ("15m", 900),
        ("6h", 21600),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1.5h", 5400),
    ],
)
def test_durations(text, seconds):
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["soon", "10 parsecs", "-5", 0, "0s", True, [1]])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration_s(text)


def _set(raw: dict, dotted: str, value) -> dict:
    node = raw
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return raw


def _drop(raw: dict, dotted: str) -> dict:
    node = raw
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    del node[last]
    return raw


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: _drop(r, "entrypoint"), "entrypoint: required"),
        (lambda r: _drop(r, "entrypoint.command"), "entrypoint.command: required"),
        (lambda r: _set(r, "entrypoint.command", ""), "entrypoint.command: must not be empty"),
        (
            lambda r: _set(r, "entrypoint.command", {"a": 1}),
            "entrypoint.command: must be a string or a list",
        ),
        (lambda r: _set(r, "entrypoint.args", [1]), "entrypoint.args: must be a mapping"),
        (
            lambda r: _set(r, "entrypoint.args.steps", {"n": 1}),
            "entrypoint.args.steps: must be a string, number",
        ),
        (
            lambda r: _set(r, "entrypoint.args.--steps", 1),
            "entrypoint.args.--steps: write argument names",
        ),
        (
            lambda r: _set(r, "cluster.resources.cpus", 0),
            "cluster.resources.cpus: must be a number >= 1, got 0",
        ),
        (
            lambda r: _set(r, "cluster.resources.cpus", "many"),
            "cluster.resources.cpus: must be a number >= 1, got 'many'",
        ),
        (
            lambda r: _set(r, "cluster.resources.gpus", -1),
            "cluster.resources.gpus: must be a number >= 0, got -1",
        ),
        (
            lambda r: _set(r, "cluster.resources.memory_mb", 1.5),
            "cluster.resources.memory_mb: must be an integer >= 1 or null, got 1.5",
        ),
        (
            lambda r: _set(r, "cluster.backend", "k8s"),
            "cluster.backend: must be one of: local, ray (got 'k8s')",
        ),
        (lambda r: _set(r, "cluster.region", "eu"), "cluster.region: unknown key"),
        (lambda r: _set(r, "colour", "red"), "colour: unknown key"),
        (lambda r: _set(r, "cluster", "big"), "cluster: must be a mapping, got 'big'"),
        (
            lambda r: _set(r, "max_duration", "soon"),
            "max_duration: cannot read 'soon' as a duration",
        ),
        (lambda r: _set(r, "max_duration", "0s"), "max_duration: must be > 0"),
        (lambda r: _set(r, "stop_grace_period", -3), "stop_grace_period: must be > 0"),
        (lambda r: _set(r, "env", ["A=1"]), 'env: must be a mapping, got ["A=1"]'),
        (lambda r: _set(r, "env.1BAD", "x"), "env.1BAD: not a valid environment variable name"),
        (
            lambda r: _set(r, "env.CAR_AI_RL_MIX", [1, 2]),
            "env.CAR_AI_RL_MIX: must be a string, number or boolean",
        ),
        (
            lambda r: _set(r, "artifacts.paths", ["/etc/*"]),
            "artifacts.paths: '/etc/*': patterns are relative",
        ),
        (
            lambda r: _set(r, "artifacts.paths", ["../x"]),
            "artifacts.paths: '../x': patterns are relative",
        ),
        (lambda r: _set(r, "name", "Bad Name"), "name: use 1-40 lowercase letters"),
        (
            lambda r: _set(r, "cluster.backend", "ray"),
            "artifacts.storage: required by the ray backend",
        ),
        (
            lambda r: _set(_set(r, "cluster.backend", "ray"), "artifacts.storage", "s3://bucket/x"),
            "artifacts.storage: only local paths and file:// URIs are supported",
        ),
        (
            lambda r: _set(
                _set(_set(r, "cluster.backend", "ray"), "artifacts.storage", "/tmp/a"),
                "cluster.address",
                "ray.example:10001",
            ),
            "cluster.address: must be the Ray dashboard URL",
        ),
    ],
)
def test_each_kind_of_error_names_its_path(change, expected):
    with pytest.raises(ConfigError) as caught:
        validate_spec(change(_raw()))
    assert str(caught.value).startswith(expected), str(caught.value)


def test_spec_must_be_a_mapping():
    with pytest.raises(ConfigError, match=r"^spec: must be a mapping"):
        validate_spec(["entrypoint"])


def test_every_problem_is_reported_at_once():
    raw = _set(_set(_raw(), "cluster.resources.cpus", 0), "colour", "red")
    with pytest.raises(ConfigError) as caught:
        validate_spec(raw)
    assert [path for path, _ in caught.value.problems] == ["cluster.resources.cpus", "colour"]
    assert str(caught.value) == (
        "cluster.resources.cpus: must be a number >= 1, got 0\ncolour: unknown key"
    )
    assert caught.value.field == "cluster.resources.cpus"


def test_overrides_create_missing_mappings_and_refuse_bad_paths():
    assert apply_overrides({}, ["a.b.c=3"]) == {"a": {"b": {"c": 3}}}
    assert apply_overrides({"a": 1}, ["a=x y"]) == {"a": "x y"}
    assert apply_overrides({"a": 1}, ["a="]) == {"a": ""}
    assert apply_overrides({"a": 1}, ["a=[1, 2"]) == {"a": "[1, 2"}
    for bad, message in [
        ("steps", "expected KEY=VALUE"),
        ("=3", "expected KEY=VALUE"),
        ("a..b=1", "empty part"),
        ("a.b=1", "a is a int, not a mapping"),
        ("l.x=1", "a list needs an index"),
        ("l.5=1", "index out of range"),
    ]:
        with pytest.raises(OverrideError, match=message):
            apply_overrides({"a": 1, "l": [0]}, [bad])


def test_cli_bad_spec_is_a_message_and_exit_code_2(tmp_path, capsys):
    jobs_dir = tmp_path / "jobs"
    code, out, err = cli(
        capsys,
        "jobs",
        "create",
        "--spec",
        str(SEED_SPEC),
        "--set",
        "cluster.resources.cpus=0",
        "--jobs-dir",
        str(jobs_dir),
    )
    assert code == 2
    assert err == "error: cluster.resources.cpus: must be a number >= 1, got 0\n"
    assert out == ""
    assert not jobs_dir.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--spec", "missing.yaml"], "--spec: file not found: missing.yaml"),
        (["--spec", "{bad}"], "invalid YAML (line 2, column 1)"),
        (["--spec", "{empty}"], "the spec file is empty"),
        (
            ["--spec", "{seed}", "--set", "entrypoint.args.steps"],
            "--set entrypoint.args.steps: expected KEY=VALUE",
        ),
        (
            ["--spec", "{seed}", "--set", "cluster.working_dir=nowhere"],
            "cluster.working_dir: not a directory",
        ),
    ],
)
def test_cli_create_errors(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(TRAINING_DIR)
    bad = tmp_path / "bad.yaml"
    bad.write_text("entrypoint: [\n")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    argv = [word.format(bad=bad, empty=empty, seed=SEED_SPEC) for word in argv]
    code, _, err = cli(capsys, "jobs", "create", *argv, "--jobs-dir", str(tmp_path / "jobs"))
    assert code == 2
    assert err.startswith("error: ") and message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", [["status"], ["logs"], ["cancel"], ["artifacts", "--out", "x"]])
def test_unknown_job_id_is_exit_code_2(tmp_path, capsys, command):
    code, _, err = cli(
        capsys, "jobs", command[0], "no-such-job", *command[1:], "--jobs-dir", str(tmp_path)
    )
    assert code == 2
    assert err.startswith("error: unknown job id 'no-such-job'")


def test_job_ids_cannot_escape_the_jobs_dir(tmp_path, capsys):
    code, _, err = cli(capsys, "jobs", "status", "../etc", "--jobs-dir", str(tmp_path))
    assert code == 2 and "not a valid job id" in err


def test_dry_run_prints_the_resolved_command_and_starts_nothing(tmp_path, capsys, monkeypatch):
    work = write_fake_project(tmp_path)
    spec = write_spec(tmp_path / "spec.yaml", Path("project"), max_duration=None)
    jobs_dir = tmp_path / "jobs"
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(
        capsys, "jobs", "create", "--spec", str(spec), "--dry-run", "--jobs-dir", str(jobs_dir)
    )
    assert code == 0
    resolved = yaml.safe_load(out)
    assert resolved["cluster"]["working_dir"] == str(work)
    assert resolved["max_duration"] is None
    assert "CAR_AI_RL_CURRICULUM=1 python fake_train.py --steps 20 --n-envs 2 --log-dir " in err
    assert not jobs_dir.exists()


def test_jobs_list_reports_an_unreadable_jobs_dir(tmp_path, capsys, monkeypatch):
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    real_iterdir = Path.iterdir

    def refuse(self):
        if self == jobs_dir:
            raise PermissionError(13, "Permission denied")
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", refuse)
    code, out, err = cli(capsys, "jobs", "list", "--jobs-dir", str(jobs_dir))
    assert code == 2 and out == ""
    assert err == f"error: --jobs-dir: cannot read {jobs_dir}: Permission denied\n"
