"""The config reference (``docs/config-reference.md``), generated from the config classes.

Regenerate it after changing a config class: ``python scripts/make_config_reference.py``.
A test fails when the file is stale or a field has no description.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from car_ai_rl.evals.config import EvalFile
from car_ai_rl.jobs.spec import JobSpec
from car_ai_rl.schema import reference_markdown
from car_ai_rl.sim.params import SimParams
from car_ai_rl.train.config import TrainConfig

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "config-reference.md"

DOCUMENTED: tuple[tuple[str, type[BaseModel]], ...] = (
    ("Training config", TrainConfig),
    ("Evaluation config", EvalFile),
    ("Job spec", JobSpec),
    ("Simulator parameters", SimParams),
)

HEADER = """# Config reference

Generated from the config classes by `python scripts/make_config_reference.py`; do not edit by
hand. Every file is checked before any work starts: unknown keys are errors, values must have
the right YAML type (`'no'` is not `false`, `'1000'` is not a number), NaN and infinities are
refused, and each problem is reported on one line naming its full path, e.g.
`error: ppo.learning_rate: must be a positive number, got 'fast'`, with exit code 2.
Simulator parameters (`env:` in the training config, `sim:` and suite keys in the evaluation
config, the `car-ai-rl episodes --config` file, `gym.make` keyword arguments) are the
`SimParams` fields of [Simulator parameters](#simulator-parameters), checked the same way and
named by their full path (`env.traffic_density`, `sim.n_lanes`, `suites[2].mission_mix.exit`).
"""


def render() -> str:
    parts = [HEADER]
    for title, model in DOCUMENTED:
        parts.append(reference_markdown(model, title))
    return "\n".join(parts).rstrip() + "\n"


def write(path: Path = DOC_PATH) -> Path:
    from car_ai_rl.atomic_io import write_text_atomic

    write_text_atomic(path, render())
    return path
