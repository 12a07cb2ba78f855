"""The evaluation config (``evals/*.yaml``): parsed into frozen dataclasses, checked up front.

Every problem is collected with its path (``suites[1].traffic_density: must be >= 0.0``)
and all of them are raised together as one :class:`EvalConfigError` (exit code 2).
Relative paths (model files, ``output_dir``, ``mission_log``) are relative to the working
directory.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from car_ai_rl.errors import ConfigError, UserError
from car_ai_rl.evals.fmt import threshold_text
from car_ai_rl.evals.metrics import METRICS, BootstrapSettings
from car_ai_rl.sim.params import SimParams, sim_params_from_dict

DEFAULT_MISSION_LOG = Path("runs/mission_log.sqlite")
DEFAULT_OUTPUT_ROOT = Path("runs/evals")
RULE_KINDS = ("max_drop", "max_rise", "max", "min")
RELATIVE_KINDS = ("max_drop", "max_rise")
SUPERVISOR_CHOICES = ("off", "on", "both")
SUITE_KEYS = ("name", "description", "episodes", "seed_start")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_UINT64_MAX = 2**64 - 1

SupervisorMode = Literal["off", "on"]


class EvalConfigError(ConfigError):
    """One or more config problems, each ``path: problem``."""

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None) -> None:
        super().__init__(*problems[0])
        self.problems = problems
        lines = [f"{path}: {problem}" for path, problem in problems]
        if len(lines) > 1:
            where = f" in {source}" if source else ""
            text = f"{len(lines)} problems{where}:\n  " + "\n  ".join(lines)
            self.args = (text,)


@dataclass(frozen=True)
class Candidate:
    name: str
    source: str
    baseline: bool
    description: str = ""


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
) -> EvalConfig:
    """Read and check an eval config; raise :class:`EvalConfigError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"config file not found: {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"{path}: invalid YAML{where}: {problem}") from None
    return parse_config(data, path=path, output_dir=output_dir, mission_log=mission_log)


def parse_config(
    data: Any,
    *,
    path: Path | None = None,
    output_dir: str | Path | None = None,
    mission_log: str | Path | None = None,
) -> EvalConfig:
    """Build an :class:`EvalConfig` from plain data (what YAML gives)."""
    p = _Problems()
    if not isinstance(data, Mapping):
        p.add("(top level)", f"must be a mapping, got {_type_name(data)}")
        raise EvalConfigError(p.items, str(path) if path else None)
    top_keys = (
        "name",
        "description",
        "baseline",
        "candidates",
        "suites",
        "sim",
        "supervisor",
        "rules",
        "confidence",
        "bootstrap",
        "batch_size",
        "output_dir",
        "mission_log",
    )
    p.unknown_keys(data, top_keys, "")
    default_name = path.stem if path else "eval"
    name = p.name(data.get("name", default_name), "name")
    confidence = p.fraction(data.get("confidence", 0.95), "confidence")
    modes = _supervisor_modes(p, data.get("supervisor", "off"), "supervisor")
    bootstrap = _bootstrap(p, data.get("bootstrap", {}))
    batch_size = p.integer(data.get("batch_size", 512), "batch_size", lo=1, hi=1_000_000)
    candidates = _candidates(p, data.get("candidates"), data.get("baseline"))
    suites = _suites(p, data.get("suites"), data.get("sim", {}))
    rules = _rules(p, data.get("rules", []), candidates, suites, modes, confidence)
    out = output_dir if output_dir is not None else data.get("output_dir")
    out = DEFAULT_OUTPUT_ROOT / (name or "eval") if out is None else out
    out_path = p.path(out, "output_dir")
    log = mission_log if mission_log is not None else data.get("mission_log", DEFAULT_MISSION_LOG)
    log_path = p.path(log, "mission_log")
    if log_path is not None and log_path.is_dir():
        p.add("mission_log", f"is a directory: {log_path}")
    if p.items:
        raise EvalConfigError(p.items, str(path) if path else None)
    assert out_path is not None and log_path is not None
    return EvalConfig(
        name=name,
        candidates=tuple(candidates),
        suites=tuple(suites),
        rules=tuple(rules),
        supervisor_modes=modes,
        confidence=confidence,
        bootstrap=bootstrap,
        batch_size=batch_size,
        output_dir=out_path,
        mission_log=log_path,
        path=path,
        raw=dict(data),
    )


# ------------------------------------------------------------------------ sections
def _supervisor_modes(p: _Problems, value: Any, path: str) -> tuple[SupervisorMode, ...]:
    choice = _on_off(value)
    if choice not in SUPERVISOR_CHOICES:
        p.add(path, f"must be one of off, on, both, got {value!r}")
        return ("off",)
    return ("off", "on") if choice == "both" else (choice,)  # type: ignore[return-value]


def _bootstrap(p: _Problems, value: Any) -> BootstrapSettings:
    if not p.mapping(value, "bootstrap"):
        return BootstrapSettings()
    p.unknown_keys(value, ("resamples", "seed"), "bootstrap")
    resamples = p.integer(value.get("resamples", 2000), "bootstrap.resamples", lo=100, hi=100_000)
    seed = p.integer(value.get("seed", 0), "bootstrap.seed", lo=0, hi=_UINT64_MAX)
    return BootstrapSettings(resamples=resamples, seed=seed)


def _candidates(p: _Problems, value: Any, baseline_name: Any) -> list[Candidate]:
    if not p.non_empty_list(value, "candidates"):
        return []
    out: list[Candidate] = []
    flagged: list[int] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(value):
        path = f"candidates[{i}]"
        if not p.mapping(item, path):
            continue
        p.unknown_keys(item, ("name", "source", "baseline", "description"), path)
        name = p.name(item.get("name"), f"{path}.name")
        if name in seen:
            p.add(f"{path}.name", f"duplicate name '{name}' (also candidates[{seen[name]}])")
        elif name:
            seen[name] = i
        source = _source(p, item.get("source"), f"{path}.source")
        is_baseline = item.get("baseline", False)
        if not isinstance(is_baseline, bool):
            p.add(f"{path}.baseline", f"must be true or false, got {is_baseline!r}")
            is_baseline = False
        if is_baseline:
            flagged.append(i)
        description = item.get("description", "")
        out.append(Candidate(name or f"#{i}", source or "", is_baseline, str(description)))
    if baseline_name is not None:
        if flagged:
            p.add("baseline", f"set both here and on candidates[{flagged[0]}]; keep one")
        elif not isinstance(baseline_name, str) or baseline_name not in seen:
            p.add("baseline", f"unknown candidate {baseline_name!r} (known: {_known(seen)})")
        else:
            i = seen[baseline_name]
            out[i] = Candidate(out[i].name, out[i].source, True, out[i].description)
    elif len(flagged) > 1:
        others = ", ".join(f"candidates[{i}]" for i in flagged[:-1])
        p.add(f"candidates[{flagged[-1]}].baseline", f"only one baseline allowed ({others} is one)")
    elif not flagged:
        if len(out) == 1:
            out[0] = Candidate(out[0].name, out[0].source, True, out[0].description)
        else:
            p.add("baseline", "missing: set 'baseline: NAME' or 'baseline: true' on one candidate")
    return out


def _source(p: _Problems, value: Any, path: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        p.add(path, f"must be 'heuristic' or a path to an SB3 .zip or .onnx file, got {value!r}")
        return None
    if value == "heuristic":
        return value
    file = Path(value)
    if file.suffix.lower() not in (".zip", ".onnx"):
        p.add(path, f"must be 'heuristic' or a path to an SB3 .zip or .onnx file, got {value!r}")
    elif not file.exists():
        p.add(path, f"file not found: {value}")
    elif not file.is_file():
        p.add(path, f"not a file: {value}")
    return value


def _suites(p: _Problems, value: Any, shared: Any) -> list[Suite]:
    shared_ok = p.mapping(shared, "sim")
    if shared_ok:
        try:
            sim_params_from_dict(dict(shared))
        except ConfigError as exc:
            p.add(f"sim.{exc.field}", exc.problem)
            shared_ok = False
        except (TypeError, ValueError) as exc:
            p.add("sim", f"invalid sim parameters: {exc}")
            shared_ok = False
    base: dict[str, Any] = dict(shared) if shared_ok else {}
    if not p.non_empty_list(value, "suites"):
        return []
    out: list[Suite] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(value):
        path = f"suites[{i}]"
        if not p.mapping(item, path):
            continue
        name = p.name(item.get("name"), f"{path}.name")
        if name in seen:
            p.add(f"{path}.name", f"duplicate name '{name}' (also suites[{seen[name]}])")
        elif name:
            seen[name] = i
        episodes = p.integer(item.get("episodes"), f"{path}.episodes", lo=1, hi=10_000_000)
        seed_start = p.integer(item.get("seed_start", 0), f"{path}.seed_start", lo=0)
        if episodes and seed_start is not None and seed_start + episodes - 1 > _UINT64_MAX:
            p.add(f"{path}.seed_start", "seed_start + episodes must fit in 64 bits")
        overrides = {k: v for k, v in item.items() if k not in SUITE_KEYS}
        try:
            params = sim_params_from_dict({**base, **overrides})
        except ConfigError as exc:
            p.add(f"{path}.{exc.field}", exc.problem)
            continue
        except (TypeError, ValueError) as exc:
            p.add(path, f"invalid sim parameters: {exc}")
            continue
        if name and episodes and seed_start is not None:
            description = str(item.get("description", ""))
            out.append(Suite(name, episodes, seed_start, overrides, params, description))
    return out


def _rules(
    p: _Problems,
    value: Any,
    candidates: list[Candidate],
    suites: list[Suite],
    modes: tuple[SupervisorMode, ...],
    confidence: float,
) -> list[Rule]:
    if value is None:
        return []
    if not isinstance(value, list):
        p.add("rules", f"must be a list, got {_type_name(value)}")
        return []
    candidate_names = {c.name for c in candidates}
    suite_names = {s.name for s in suites}
    baseline = next((c.name for c in candidates if c.baseline), None)
    out: list[Rule] = []
    for i, item in enumerate(value):
        path = f"rules[{i}]"
        if not p.mapping(item, path):
            continue
        keys = (
            "name",
            "metric",
            "kind",
            "points",
            "value",
            "confidence",
            "suites",
            "candidates",
            "supervisor",
        )
        p.unknown_keys(item, keys, path)
        errors_before = len(p.items)
        metric = item.get("metric")
        if metric not in METRICS:
            p.add(f"{path}.metric", f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
        kind = item.get("kind")
        if kind not in RULE_KINDS:
            p.add(f"{path}.kind", f"unknown kind {kind!r} (known: {', '.join(RULE_KINDS)})")
        threshold = _threshold(p, item, path, metric, kind)
        rule_conf = p.fraction(item.get("confidence", confidence), f"{path}.confidence")
        rule_suites = _name_filter(p, item.get("suites"), f"{path}.suites", suite_names, "suite")
        rule_cands = _name_filter(
            p, item.get("candidates"), f"{path}.candidates", candidate_names, "candidate"
        )
        rule_modes = None
        if "supervisor" in item:
            rule_modes = _supervisor_modes(p, item["supervisor"], f"{path}.supervisor")
            missing = [m for m in rule_modes if m not in modes]
            if missing:
                p.add(
                    f"{path}.supervisor",
                    f"'{missing[0]}' is not evaluated (supervisor: "
                    f"{'both' if len(modes) == 2 else modes[0]})",
                )
        if kind in RELATIVE_KINDS and baseline is not None:
            pool = rule_cands if rule_cands is not None else tuple(candidate_names)
            if not [c for c in pool if c != baseline]:
                p.add(
                    path,
                    f"'{kind}' compares against the baseline, but no other candidate is selected",
                )
        if metric in METRICS and METRICS[metric].needs_supervisor and "on" not in modes:
            p.add(f"{path}.metric", f"'{metric}' needs the supervisor on (supervisor: off)")
        if len(p.items) == errors_before and threshold is not None:
            name = item.get("name")
            out.append(
                Rule(
                    i,
                    metric,
                    kind,
                    threshold,
                    rule_conf,
                    rule_suites,
                    rule_cands,
                    rule_modes,
                    str(name) if name is not None else None,
                )
            )
    return out


def _threshold(p: _Problems, item: Mapping, path: str, metric: Any, kind: Any) -> float | None:
    given = [k for k in ("points", "value") if k in item]
    if len(given) != 1:
        p.add(path, "give exactly one of 'points' or 'value'")
        return None
    key = given[0]
    number = p.number(item[key], f"{path}.{key}")
    if number is None or metric not in METRICS or kind not in RULE_KINDS:
        return None
    spec = METRICS[metric]
    if key == "points":
        if not spec.is_rate:
            p.add(f"{path}.points", f"only for rate metrics; use 'value' for {metric}")
            return None
        lo, hi, scale = 0.0, 100.0, 0.01
    else:
        lo, hi, scale = (0.0, 1.0, 1.0) if spec.is_rate else (None, None, 1.0)
        if kind in RELATIVE_KINDS:
            lo = 0.0
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        span = f"in [{lo:g}, {hi:g}]" if hi is not None else f">= {lo:g}"
        p.add(f"{path}.{key}", f"must be {span}, got {number:g}")
        return None
    return number * scale


def _name_filter(
    p: _Problems, value: Any, path: str, known: set[str], what: str
) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        p.add(path, f"must be a non-empty list of {what} names")
        return None
    for j, name in enumerate(value):
        if name not in known:
            p.add(f"{path}[{j}]", f"unknown {what} {name!r} (known: {_known(known)})")
    return tuple(str(v) for v in value)


# ------------------------------------------------------------------------- helpers
class _Problems:
    """Collects ``(path, problem)`` pairs and offers typed readers that record mistakes."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, problem: str) -> None:
        self.items.append((path, problem))

    def unknown_keys(self, data: Mapping, known: tuple[str, ...], path: str) -> None:
        for key in data:
            if key not in known:
                self.add(f"{path}.{key}" if path else str(key), "unknown key")

    def mapping(self, value: Any, path: str) -> bool:
        if isinstance(value, Mapping):
            return True
        self.add(path, f"must be a mapping, got {_type_name(value)}")
        return False

    def non_empty_list(self, value: Any, path: str) -> bool:
        if value is None:
            self.add(path, "missing")
        elif not isinstance(value, list) or not value:
            self.add(path, f"must be a non-empty list, got {_type_name(value)}")
        else:
            return True
        return False

    def name(self, value: Any, path: str) -> str | None:
        if value is None:
            self.add(path, "missing")
        elif not isinstance(value, str) or not _NAME_RE.match(value):
            self.add(path, f"must be a name of letters, digits, '_', '.', '-', got {value!r}")
        else:
            return value
        return None

    def integer(self, value: Any, path: str, lo: int | None = None, hi: int | None = None) -> Any:
        if value is None:
            self.add(path, "missing")
        elif not isinstance(value, int) or isinstance(value, bool):
            self.add(path, f"must be an integer, got {_type_name(value)} {value!r}")
        elif lo is not None and value < lo:
            self.add(path, f"must be >= {lo}, got {value}")
        elif hi is not None and value > hi:
            self.add(path, f"must be <= {hi}, got {value}")
        else:
            return value
        return None

    def number(self, value: Any, path: str) -> float | None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.add(path, f"must be a number, got {_type_name(value)} {value!r}")
        elif not math.isfinite(value):
            self.add(path, f"must be a finite number, got {value}")
        else:
            return float(value)
        return None

    def fraction(self, value: Any, path: str) -> float:
        number = self.number(value, path)
        if number is not None and not 0.0 < number < 1.0:
            self.add(path, f"must be between 0 and 1 (exclusive), got {number:g}")
            number = None
        return 0.95 if number is None else number

    def path(self, value: Any, path: str) -> Path | None:
        if not isinstance(value, str | Path) or not str(value).strip():
            self.add(path, f"must be a path, got {value!r}")
            return None
        return Path(value)


def _on_off(value: Any) -> Any:
    """YAML 1.1 reads ``off``/``on`` as booleans; map them back."""
    if value is True:
        return "on"
    if value is False:
        return "off"
    return value


def _known(names: Any) -> str:
    return ", ".join(sorted(names)) or "none"


def _type_name(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__
