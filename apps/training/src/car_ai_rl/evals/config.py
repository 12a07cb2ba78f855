"""The evaluation config (``evals/*.yaml``): declared on the config layer, checked up front.

:class:`EvalFile` is the file's schema (``docs/config-reference.md`` is generated from it);
every problem is reported with its path (``suites[1].traffic_density: must be a number in
[0, 100], got -1.0``), all of them at once, with exit code 2. :func:`parse_config` turns a valid
file into the :class:`EvalConfig` the runner uses. Relative paths (model files, ``output_dir``,
``mission_log``) are relative to the working directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from car_ai_rl.errors import ConfigError
from car_ai_rl.evals.fmt import threshold_text
from car_ai_rl.evals.metrics import METRICS, BootstrapSettings
from car_ai_rl.schema import ConfigModel, Expects, PathText, parse, read_yaml
from car_ai_rl.sim.params import SimOverrides, SimParams, sim_params_from_dict

DEFAULT_MISSION_LOG = Path("runs/mission_log.sqlite")
DEFAULT_OUTPUT_ROOT = Path("runs/evals")
RELATIVE_KINDS = ("max_drop", "max_rise")
UINT64_MAX = 2**64 - 1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

SupervisorMode = Literal["off", "on"]
MetricName = Literal[tuple(METRICS)]  # type: ignore[valid-type]
RuleKind = Literal["max_drop", "max_rise", "max", "min"]


def _on_off(value: Any) -> Any:
    """YAML 1.1 reads ``off``/``on`` as booleans; map them back."""
    if value is True:
        return "on"
    if value is False:
        return "off"
    return value


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(f"must be a name of letters, digits, '_', '.', '-', got {name!r}")
    return name


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Name = Annotated[
    str, AfterValidator(_check_name), Expects("a name of letters, digits, '_', '.', '-'")
]
OnOff = Annotated[SupervisorMode, BeforeValidator(_on_off)]
Names = Annotated[list[str], Field(min_length=1), BeforeValidator(_one_or_many)]


class CandidateSpec(ConfigModel):
    """A policy to evaluate."""

    name: Name
    """Unique name (letters, digits, `_`, `.`, `-`)."""
    source: Annotated[str, Expects("`heuristic`, `oracle` or a model file")]
    """`heuristic` (the hand-written driver), `oracle` (the planner that tries its options in
    the simulator itself: what is achievable), a path to an SB3 `.zip`, or a path to an
    `.onnx` file (must exist)."""
    baseline: bool = False
    """`true` on the one candidate the others are compared with."""
    description: str = ""
    """Free text."""

    @field_validator("source")
    @classmethod
    def _source_exists(cls, source: str) -> str:
        return check_source(source)


def check_source(source: str) -> str:
    """``source`` when a candidate can be evaluated from it (``heuristic``, ``oracle`` or an
    existing .zip or .onnx file); otherwise ValueError saying why."""
    if source in ("heuristic", "oracle"):
        return source
    file = Path(source)
    if not source.strip() or file.suffix.lower() not in (".zip", ".onnx"):
        raise ValueError(
            f"must be 'heuristic', 'oracle' or a path to an SB3 .zip or .onnx file, got {source!r}"
        )
    if not file.exists():
        raise ValueError(f"file not found: {source}")
    if not file.is_file():
        raise ValueError(f"not a file: {source}")
    return source


class SuiteSpec(ConfigModel):
    """A scenario set. Any other key is a simulator parameter (a field of
    [Simulator parameters](#simulator-parameters)) on top of `sim` and the defaults, e.g.
    `n_lanes`, `traffic_density` (vehicles/km/lane), `mission_mix: {cruise, lane, exit}`,
    `mission_changes`, `episode_duration_s`; a problem with one is named
    `suites[i].field`."""

    model_config = ConfigDict(extra="allow")

    name: Name
    """Unique name."""
    episodes: int = Field(ge=1, le=10_000_000)
    """Number of episodes."""
    seed_start: int = Field(0, ge=0, le=UINT64_MAX)
    """First seed; the suite plays `episodes` consecutive seeds."""
    description: str = ""
    """Free text."""

    @model_validator(mode="after")
    def _seeds_fit(self) -> SuiteSpec:
        if self.seed_start + self.episodes - 1 > UINT64_MAX:
            raise ConfigError("seed_start", "seed_start + episodes must fit in 64 bits")
        return self

    @property
    def overrides(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class BootstrapSpec(ConfigModel):
    """The bootstrap behind the intervals of means and ratios."""

    resamples: int = Field(2000, ge=100, le=100_000)
    """Bootstrap resamples."""
    seed: int = Field(0, ge=0, le=UINT64_MAX)
    """Seed of every bootstrap, so results repeat exactly."""


class RuleSpec(ConfigModel):
    """A regression rule; it fails only when the whole confidence interval violates it."""

    name: str | None = None
    """A label for messages."""
    metric: MetricName
    """The metric the rule judges."""
    kind: RuleKind
    """`max_drop`, `max_rise` (relative to the baseline), `max`, `min` (absolute)."""
    points: float | None = Field(None, ge=0, le=100)
    """Threshold in percentage points, rate metrics only (`points: 2` is 0.02)."""
    value: float | None = None
    """Threshold in the metric's units (rates as fractions: `0.01` is 1%)."""
    confidence: float | None = Field(None, gt=0, lt=1)
    """The rule's level (default: the top-level `confidence`)."""
    suites: Names | None = None
    """Only these suites (default: all)."""
    candidates: Names | None = None
    """Only these candidates (default: all but the baseline for relative kinds, all for
    absolute kinds)."""
    supervisor: OnOff | None = None
    """Only this mode, `off` or `on` (default: every evaluated mode)."""

    @model_validator(mode="after")
    def _threshold_fits(self) -> RuleSpec:
        given = [key for key in ("points", "value") if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'points' or 'value'")
        spec = METRICS[self.metric]
        if self.points is not None and not spec.is_rate:
            raise ConfigError("points", f"only for rate metrics; use 'value' for {self.metric}")
        if self.value is not None:
            low, high = (0.0, 1.0) if spec.is_rate else (None, None)
            if self.kind in RELATIVE_KINDS:
                low = 0.0
            if (low is not None and self.value < low) or (high is not None and self.value > high):
                span = f"in [{low:g}, {high:g}]" if high is not None else f">= {low:g}"
                raise ConfigError("value", f"must be {span}, got {self.value:g}")
        return self

    @property
    def threshold(self) -> float:
        """In the metric's units (points become fractions)."""
        return self.points * 0.01 if self.points is not None else float(self.value or 0.0)


class EvalFile(ConfigModel):
    """An evaluation config (`car-ai-rl eval --config FILE`, see `evals/highway_cruise.yaml`).
    Cross-checks: names are unique, exactly one baseline, rules name existing suites and
    candidates, and a rule on supervisor metrics needs the supervisor on."""

    name: Name | None = None
    """Name of the evaluation, used in reports and the default output dir (default: the file
    name)."""
    description: str = ""
    """Free text."""
    baseline: str | None = None
    """Name of the baseline candidate; or `baseline: true` on one candidate (not both). With a
    single candidate, it is the baseline."""
    candidates: list[CandidateSpec] = Field(min_length=1)
    """The policies to compare."""
    sim: SimOverrides = Field(default_factory=dict)
    """Simulator parameters shared by every suite (any field of
    [Simulator parameters](#simulator-parameters)). A suite key replaces the same `sim` key as
    a whole."""
    suites: list[SuiteSpec] = Field(min_length=1)
    """The scenario sets every candidate plays."""
    supervisor: Annotated[Literal["off", "on", "both"], BeforeValidator(_on_off)] = "off"
    """`off`, `on` or `both`: run each suite without and/or with the safety supervisor."""
    rules: list[RuleSpec] = Field(default_factory=list)
    """Regression rules."""
    confidence: float = Field(0.95, gt=0, lt=1)
    """Level of every interval in the report, and the default level of rules."""
    bootstrap: BootstrapSpec = BootstrapSpec()
    """The bootstrap."""
    batch_size: int = Field(512, ge=1, le=1_000_000)
    """Episodes stepped together by the runner."""
    output_dir: PathText | None = None
    """Where the outputs go (default `runs/evals/NAME`); `--out` overrides it."""
    mission_log: PathText = DEFAULT_MISSION_LOG
    """The SQLite mission log; `--mission-log` overrides it."""

    @field_validator("sim")
    @classmethod
    def _sim_valid(cls, sim: dict[str, Any]) -> dict[str, Any]:
        sim_params_from_dict(sim)
        return sim

    @field_validator("suites")
    @classmethod
    def _suite_params_valid(cls, suites: list[SuiteSpec], info: ValidationInfo) -> Any:
        shared = info.data.get("sim")
        if shared is None:
            return suites  # the shared block has its own error
        problems: list[tuple[str, str]] = []
        for i, suite in enumerate(suites):
            try:
                sim_params_from_dict({**shared, **suite.overrides})
            except ConfigError as exc:
                problems += exc.under(f"[{i}]").problems
        if problems:
            raise ConfigError.of(problems)
        return suites

    @model_validator(mode="after")
    def _cross_checks(self) -> EvalFile:
        problems = _cross_problems(self)
        if problems:
            raise ConfigError.of(problems)
        return self

    @property
    def supervisor_modes(self) -> tuple[SupervisorMode, ...]:
        return ("off", "on") if self.supervisor == "both" else (self.supervisor,)

    def baseline_index(self) -> int:
        flagged = [i for i, c in enumerate(self.candidates) if c.baseline]
        if self.baseline is not None:
            return next(i for i, c in enumerate(self.candidates) if c.name == self.baseline)
        return flagged[0] if flagged else 0


def _duplicates(names: Sequence[str], what: str) -> list[tuple[str, str]]:
    seen: dict[str, int] = {}
    problems = []
    for i, name in enumerate(names):
        if name in seen:
            problems.append(
                (f"{what}[{i}].name", f"duplicate name '{name}' (also {what}[{seen[name]}])")
            )
        else:
            seen[name] = i
    return problems


def _known(names: Any) -> str:
    return ", ".join(sorted(names)) or "none"


def _cross_problems(spec: EvalFile) -> list[tuple[str, str]]:
    candidates = [c.name for c in spec.candidates]
    problems = _duplicates(candidates, "candidates")
    problems += _duplicates([s.name for s in spec.suites], "suites")
    flagged = [i for i, c in enumerate(spec.candidates) if c.baseline]
    if spec.baseline is not None:
        if flagged:
            problems.append(
                ("baseline", f"set both here and on candidates[{flagged[0]}]; keep one")
            )
        elif spec.baseline not in candidates:
            problems.append(
                ("baseline", f"unknown candidate {spec.baseline!r} (known: {_known(candidates)})")
            )
    elif len(flagged) > 1:
        others = ", ".join(f"candidates[{i}]" for i in flagged[:-1])
        problems.append(
            (f"candidates[{flagged[-1]}].baseline", f"only one baseline allowed ({others} is one)")
        )
    elif not flagged and len(candidates) > 1:
        problems.append(
            ("baseline", "missing: set 'baseline: NAME' or 'baseline: true' on one candidate")
        )
    if problems:
        return problems
    baseline = candidates[spec.baseline_index()]
    suites = {s.name for s in spec.suites}
    modes = spec.supervisor_modes
    for i, rule in enumerate(spec.rules):
        path = f"rules[{i}]"
        for key, known, what in (
            ("suites", suites, "suite"),
            ("candidates", candidates, "candidate"),
        ):
            for j, name in enumerate(getattr(rule, key) or ()):
                if name not in known:
                    problems.append(
                        (f"{path}.{key}[{j}]", f"unknown {what} {name!r} (known: {_known(known)})")
                    )
        if rule.supervisor is not None and rule.supervisor not in modes:
            problems.append(
                (
                    f"{path}.supervisor",
                    f"'{rule.supervisor}' is not evaluated (supervisor: {spec.supervisor})",
                )
            )
        if rule.kind in RELATIVE_KINDS:
            pool = rule.candidates if rule.candidates is not None else candidates
            if not [c for c in pool if c != baseline]:
                problems.append(
                    (
                        path,
                        f"'{rule.kind}' compares against the baseline, but no other candidate is selected",
                    )
                )
        if METRICS[rule.metric].needs_supervisor and "on" not in modes:
            problems.append(
                (f"{path}.metric", f"'{rule.metric}' needs the supervisor on (supervisor: off)")
            )
    return problems


# ----------------------------------------------------------------------- runtime view
@dataclass(frozen=True)
class Candidate:
    name: str
    source: str
    baseline: bool
    description: str = ""
    origin: str = ""  # where the source came from when not from the config (a flag)


@dataclass(frozen=True)
class Suite:
    name: str
    episodes: int
    seed_start: int
    overrides: dict[str, Any]
    params: SimParams
    description: str = ""

    def seeds(self) -> np.ndarray:
        """The suite's seeds: ``seed_start, seed_start + 1, ...`` as uint64."""
        return np.arange(self.episodes, dtype=np.uint64) + np.uint64(self.seed_start)

    def digest(self) -> str:
        """Identifies the scenario set: sim params, first seed and episode count."""
        return f"{self.params.digest()}-{self.seed_start}-{self.episodes}"


@dataclass(frozen=True)
class Rule:
    """A regression rule; see ``docs/evals.md`` for the exact semantics of each kind."""

    index: int
    metric: str
    kind: str
    threshold: float  # in the metric's units (rates as fractions)
    confidence: float
    suites: tuple[str, ...] | None = None
    candidates: tuple[str, ...] | None = None
    supervisor: tuple[SupervisorMode, ...] | None = None
    name: str | None = None

    @property
    def relative(self) -> bool:
        return self.kind in RELATIVE_KINDS

    @property
    def path(self) -> str:
        return f"rules[{self.index}]"

    @property
    def label(self) -> str:
        """E.g. ``rules[0] (success_rate max_drop 2 pts at 95%)``."""
        text = f"{self.metric} {self.kind} {threshold_text(self.metric, self.threshold, self.relative)}"
        text += f" at {self.confidence:.0%}"
        named = f" '{self.name}'" if self.name else ""
        return f"{self.path}{named} ({text})"

    def applies_to(self, candidate: str, suite: str, supervisor: SupervisorMode) -> bool:
        return (
            (self.suites is None or suite in self.suites)
            and (self.candidates is None or candidate in self.candidates)
            and (self.supervisor is None or supervisor in self.supervisor)
        )


@dataclass(frozen=True)
class EvalConfig:
    name: str
    candidates: tuple[Candidate, ...]
    suites: tuple[Suite, ...]
    rules: tuple[Rule, ...]
    supervisor_modes: tuple[SupervisorMode, ...]
    confidence: float
    bootstrap: BootstrapSettings
    batch_size: int
    output_dir: Path
    mission_log: Path
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def baseline(self) -> Candidate:
        return next(c for c in self.candidates if c.baseline)

    def resolved(self) -> dict[str, Any]:
        """The config as plain data, with defaults and each suite's full sim params."""
        return {
            "name": self.name,
            "path": str(self.path) if self.path else None,
            "baseline": self.baseline.name,
            "supervisor_modes": list(self.supervisor_modes),
            "confidence": self.confidence,
            "bootstrap": {"resamples": self.bootstrap.resamples, "seed": self.bootstrap.seed},
            "batch_size": self.batch_size,
            "output_dir": str(self.output_dir),
            "mission_log": str(self.mission_log),
            "candidates": [
                {"name": c.name, "source": c.source, "baseline": c.baseline}
                for c in self.candidates
            ],
            "suites": [
                {
                    "name": s.name,
                    "episodes": s.episodes,
                    "seed_start": s.seed_start,
                    "overrides": s.overrides,
                    "sim_params": s.params.to_dict(),
                    "sim_params_digest": s.params.digest(),
                }
                for s in self.suites
            ],
            "rules": [
                {
                    "index": r.index,
                    "name": r.name,
                    "metric": r.metric,
                    "kind": r.kind,
                    "threshold": r.threshold,
                    "confidence": r.confidence,
                    "suites": list(r.suites) if r.suites else None,
                    "candidates": list(r.candidates) if r.candidates else None,
                    "supervisor": list(r.supervisor) if r.supervisor else None,
                }
                for r in self.rules
            ],
        }


# ------------------------------------------------------------------------- loading
def load_config(
    path: str | Path,
    *,
    output_dir: str | Path | None = None,
    mission_log: str | Path | None = None,
    sources: Mapping[str, str] | None = None,
) -> EvalConfig:
    """Read and check an eval config; raise :class:`ConfigError` listing every problem.
    ``sources`` replaces the named candidates' sources (``--candidate NAME=SOURCE``)."""
    path = Path(path)
    data = read_yaml(path, flag="--config")
    data, problems = override_sources(data, sources or {})
    origins = {name: f"--candidate {name}" for name in sources or {}}
    try:
        config = parse_config(
            data, path=path, output_dir=output_dir, mission_log=mission_log, origins=origins
        )
    except ConfigError as exc:
        raise ConfigError.of(problems + exc.problems) from None
    if problems:
        raise ConfigError.of(problems)
    return config


def override_sources(data: Any, sources: Mapping[str, str]) -> tuple[Any, list[tuple[str, str]]]:
    """The config's data with the sources of the candidates named in ``sources`` replaced, and
    the problems of ``sources``: a name the config has no candidate for, a source that cannot
    be evaluated (it stands in as ``heuristic`` so that the config's own checks still run)."""
    candidates = data.get("candidates") if isinstance(data, dict) else None
    if not sources or not isinstance(candidates, list):
        return data, []  # the config's own checks report what is wrong with it
    names = [str(c.get("name")) for c in candidates if isinstance(c, dict)]
    problems: list[tuple[str, str]] = []
    checked: dict[str, str] = {}
    for name, source in sources.items():
        if name not in names:
            problems.append(("--candidate", f"unknown candidate {name!r} (known: {_known(names)})"))
            continue
        try:
            checked[name] = check_source(source)
        except ValueError as exc:
            problems.append((f"--candidate {name}", str(exc)))
            checked[name] = "heuristic"
    replaced = [
        {**c, "source": checked[c["name"]]}
        if isinstance(c, dict) and c.get("name") in checked
        else c
        for c in candidates
    ]
    return {**data, "candidates": replaced}, problems


def parse_config(
    data: Any,
    *,
    path: Path | None = None,
    output_dir: str | Path | None = None,
    mission_log: str | Path | None = None,
    origins: Mapping[str, str] | None = None,
) -> EvalConfig:
    """Build an :class:`EvalConfig` from plain data (what YAML gives). ``origins`` names where
    a candidate's source came from when not from the config (``--candidate ppo``)."""
    top = str(path) if path else "(top level)"
    if not isinstance(data, dict):
        got = "nothing" if data is None else f"a {type(data).__name__}"
        raise ConfigError(top, f"must hold a mapping of settings, got {got}")
    spec = parse(EvalFile, data, top=top)
    name = spec.name or (path.stem if path else "eval")
    log = Path(mission_log) if mission_log is not None else spec.mission_log
    if log.is_dir():
        raise ConfigError(
            "--mission-log" if mission_log is not None else "mission_log", f"is a directory: {log}"
        )
    out = Path(output_dir) if output_dir is not None else spec.output_dir
    baseline = spec.baseline_index()
    candidates = tuple(
        Candidate(c.name, c.source, i == baseline, c.description, (origins or {}).get(c.name, ""))
        for i, c in enumerate(spec.candidates)
    )
    suites = tuple(
        Suite(
            s.name,
            s.episodes,
            s.seed_start,
            s.overrides,
            sim_params_from_dict({**spec.sim, **s.overrides}),
            s.description,
        )
        for s in spec.suites
    )
    rules = tuple(
        Rule(
            i,
            r.metric,
            r.kind,
            r.threshold,
            r.confidence if r.confidence is not None else spec.confidence,
            tuple(r.suites) if r.suites is not None else None,
            tuple(r.candidates) if r.candidates is not None else None,
            (r.supervisor,) if r.supervisor is not None else None,
            r.name,
        )
        for i, r in enumerate(spec.rules)
    )
    return EvalConfig(
        name=name,
        candidates=candidates,
        suites=suites,
        rules=rules,
        supervisor_modes=spec.supervisor_modes,
        confidence=spec.confidence,
        bootstrap=BootstrapSettings(spec.bootstrap.resamples, spec.bootstrap.seed),
        batch_size=spec.batch_size,
        output_dir=out if out is not None else DEFAULT_OUTPUT_ROOT / name,
        mission_log=log,
        path=path,
        raw=dict(data),
    )
