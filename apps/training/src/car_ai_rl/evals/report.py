"""The eval outputs: ``results.json``, ``summary.md`` and a self-contained ``report.html``."""

from __future__ import annotations

import base64
import html
import json
import math
import os
from pathlib import Path
from typing import Any

from car_ai_rl.atomic_io import remove_stale_temps, write_json_atomic, write_text_atomic
from car_ai_rl.errors import UserError
from car_ai_rl.evals import fmt
from car_ai_rl.evals.aggregate import MetricResult
from car_ai_rl.evals.metrics import METRICS
from car_ai_rl.evals.outcome import EvalOutcome
from car_ai_rl.evals.plots import metric_figure

RESULTS_SCHEMA = "car-ai-rl/eval-results/1"
OUTPUT_FILES = {"results": "results.json", "summary": "summary.md", "html": "report.html"}


def check_output_dir(out_dir: Path, name: str, force: bool = False) -> None:
    """Refuse, before any work, an output dir that cannot be written or that holds another
    evaluation's results, unless ``force`` (a rerun of the same evaluation replaces its own)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test.{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"--out: cannot write to {out_dir}: {exc.strerror or exc}") from None
    remove_stale_temps(out_dir)
    results = out_dir / OUTPUT_FILES["results"]
    if results.exists():
        try:
            previous = json.loads(results.read_text()).get("config", {}).get("name")
        except (OSError, ValueError, AttributeError):
            previous = None
        if previous != name and not force:
            what = f"evaluation '{previous}'" if previous else "an unreadable evaluation"
            raise UserError(
                f"--out: {out_dir} holds the results of {what}, not '{name}'; "
                "choose another --out, or replace them with --force"
            )


def write_reports(outcome: EvalOutcome, out_dir: Path) -> dict[str, Path]:
    """Write the three outputs atomically into ``out_dir``; return their paths."""
    paths = {key: out_dir / name for key, name in OUTPUT_FILES.items()}
    write_json_atomic(paths["results"], results_json(outcome))
    write_text_atomic(paths["summary"], markdown(outcome, full=True))
    write_text_atomic(paths["html"], html_report(outcome))
    return paths


# -------------------------------------------------------------------------- json
def results_json(outcome: EvalOutcome) -> dict[str, Any]:
    run, config = outcome.run, outcome.run.config
    return _finite(
        {
            "schema": RESULTS_SCHEMA,
            "run_id": outcome.run_id,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "package_version": outcome.package_version,
            "argv": outcome.argv,
            "passed": outcome.passed,
            "config": config.resolved(),
            "statistics": {
                "confidence": config.confidence,
                "rates": "Wilson score interval",
                "means": "percentile bootstrap over episodes",
                "ratios": "percentile bootstrap over episodes of sum(events) / sum(km)",
                "rate_differences": "Newcombe square-and-add interval for paired rates",
                "mean_differences": "percentile bootstrap of per-episode paired differences",
                "bootstrap": {
                    "resamples": config.bootstrap.resamples,
                    "seed": config.bootstrap.seed,
                },
            },
            "candidates": {
                c.name: {
                    "source": c.source,
                    "baseline": c.baseline,
                    "identity": run.identities.get(c.name),
                }
                for c in config.candidates
            },
            "metrics": {
                name: {
                    "kind": spec.kind,
                    "unit": spec.unit,
                    "higher_is_better": spec.higher_is_better,
                    "description": spec.description,
                }
                for name, spec in METRICS.items()
            },
            "results": [r.to_dict() for r in outcome.results],
            "timing": [
                {
                    "candidate": cell.candidate,
                    "suite": cell.suite,
                    "supervisor": cell.supervisor,
                    "episodes": len(cell.seeds),
                    "wall_s": cell.wall_s,
                    "episodes_per_s": cell.episodes_per_s,
                }
                for cell in (run.cells[k] for k in run.ordered_keys())
            ],
            "gate": {
                "passed": outcome.passed,
                "failed": sum(c.status == "fail" for c in outcome.checks),
                "checks": [c.to_dict() for c in outcome.checks],
            },
        }
    )


def _finite(value: Any) -> Any:
    """Replace NaN and infinities by ``None`` so the JSON is strict."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


# ---------------------------------------------------------------------- markdown
def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines.extend("| " + " | ".join(esc(c) for c in row) + " |" for row in rows)
    return lines


def _cell_groups(outcome: EvalOutcome) -> list[tuple[str, str]]:
    return list(dict.fromkeys((r.suite, r.supervisor) for r in outcome.results))


def _suite_table(outcome: EvalOutcome, suite: str, mode: str) -> tuple[list[str], list[list[str]]]:
    config = outcome.run.config
    baseline = config.baseline.name
    names = [c.name for c in config.candidates]
    others = [n for n in names if n != baseline]
    by_key = {
        (r.candidate, r.metric): r
        for r in outcome.results
        if r.suite == suite and r.supervisor == mode
    }
    header = ["metric"] + [n + (" (baseline)" if n == baseline else "") for n in names]
    header += [f"{n} − {baseline}" for n in others]
    rows = []
    for metric in METRICS:
        row = [METRICS[metric].label]
        row += [fmt.estimate(metric, _get(by_key, n, metric, "estimate")) for n in names]
        row += [fmt.difference(metric, _get(by_key, n, metric, "diff")) for n in others]
        rows.append(row)
    return header, rows


def _get(by_key: dict, candidate: str, metric: str, attr: str) -> Any:
    result: MetricResult | None = by_key.get((candidate, metric))
    return getattr(result, attr) if result else None


def _gate_rows(checks: list) -> list[list[str]]:
    return [
        [c.status.upper(), c.rule.label, c.candidate, c.suite, c.supervisor, c.statistic]
        for c in checks
    ]


def markdown(outcome: EvalOutcome, full: bool = True) -> str:
    """The summary; ``full`` adds every gate check, the candidates' identities and timing."""
    run, config = outcome.run, outcome.run.config
    checks = outcome.checks
    failed = [c for c in checks if c.status == "fail"]
    skipped = [c for c in checks if c.status == "skip"]
    lines = [f"# Evaluation `{config.name}`", ""]
    lines.append(
        f"Run `{outcome.run_id}` · {run.finished_at} · car-ai-rl {outcome.package_version} · "
        f"baseline `{config.baseline.name}` · {config.confidence:.0%} intervals (Wilson for "
        "rates, bootstrap for means; differences are paired on the same seeds)"
    )
    lines.append("")
    verdict = "PASSED" if outcome.passed else "FAILED"
    lines.append(
        f"## Gate: {verdict} ({len(failed)} of {len(checks)} checks failed"
        f"{f', {len(skipped)} not judged' if skipped else ''})"
    )
    lines.append("")
    shown = checks if full else failed
    if shown:
        lines += _table(
            ["status", "rule", "candidate", "suite", "supervisor", "statistic"], _gate_rows(shown)
        )
        lines.append("")
    for suite_name, mode in _cell_groups(outcome):
        suite = next(s for s in config.suites if s.name == suite_name)
        last = suite.seed_start + suite.episodes - 1
        lines.append(
            f"## Suite `{suite_name}` · supervisor {mode} · {suite.episodes} episodes "
            f"(seeds {suite.seed_start}–{last})"
        )
        lines.append("")
        lines += _table(*_suite_table(outcome, suite_name, mode))
        lines.append("")
    if full:
        lines.append("## Candidates")
        lines.append("")
        rows = []
        for c in config.candidates:
            identity = run.identities.get(c.name, {})
            sha = identity.get("sha256") or ""
            rows.append([c.name, c.source, identity.get("kind", ""), sha[:12]])
        lines += _table(["candidate", "source", "kind", "sha256"], rows)
        lines.append("")
        lines.append("## Timing")
        lines.append("")
        lines += _table(["candidate", "episodes", "wall time (s)", "episodes/s"], _timing(outcome))
        lines.append("")
    return "\n".join(lines)


def _timing(outcome: EvalOutcome) -> list[list[str]]:
    totals: dict[str, list[float]] = {}
    for cell in outcome.run.cells.values():
        episodes, wall = totals.setdefault(cell.candidate, [0.0, 0.0])
        totals[cell.candidate] = [episodes + len(cell.seeds), wall + cell.wall_s]
    return [
        [name, f"{int(e)}", f"{w:.1f}", f"{e / w:.0f}" if w > 0 else "n/a"]
        for name, (e, w) in totals.items()
    ]


# -------------------------------------------------------------------------- html
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; }
.fail { background: #fde2e2; } .pass { background: #e5f5e5; } .skip { background: #f3f3f3; }
.verdict-fail { color: #b00020; } .verdict-pass { color: #1b7f1b; }
img { max-width: 100%; border: 1px solid #eee; margin-bottom: 1rem; }
pre { background: #f7f7f7; padding: 1rem; overflow-x: auto; font-size: 0.8rem; }
"""


def _html_table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def html_report(outcome: EvalOutcome) -> str:
    """A single HTML file with the gate, every plot (base64 PNG) and every table."""
    run, config = outcome.run, outcome.run.config
    checks = outcome.checks
    verdict = "PASSED" if outcome.passed else "FAILED"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Evaluation {html.escape(config.name)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Evaluation <code>{html.escape(config.name)}</code></h1>",
        f"<p>Run <code>{html.escape(outcome.run_id)}</code> · {html.escape(run.finished_at)} · "
        f"car-ai-rl {html.escape(outcome.package_version)} · baseline "
        f"<code>{html.escape(config.baseline.name)}</code> · {config.confidence:.0%} intervals "
        "(Wilson for rates, bootstrap for means; differences are paired on the same seeds)</p>",
        f'<h2 class="verdict-{"pass" if outcome.passed else "fail"}">Gate: {verdict}</h2>',
    ]
    if checks:
        parts.append(
            _html_table(
                ["status", "rule", "candidate", "suite", "supervisor", "statistic"],
                _gate_rows(checks),
                [c.status for c in checks],
            )
        )
    else:
        parts.append("<p>No rules.</p>")
    parts.append("<h2>Metrics</h2>")
    for metric, spec in METRICS.items():
        if not any(r.metric == metric and r.estimate for r in outcome.results):
            continue
        png = base64.b64encode(metric_figure(metric, outcome.results, config)).decode("ascii")
        parts.append(f"<h3>{html.escape(spec.label)}</h3>")
        parts.append(f"<p>{html.escape(spec.description)}.</p>")
        parts.append(f'<img alt="{html.escape(spec.label)}" src="data:image/png;base64,{png}">')
    parts.append("<h2>Tables</h2>")
    for suite_name, mode in _cell_groups(outcome):
        parts.append(f"<h3>Suite <code>{html.escape(suite_name)}</code> · supervisor {mode}</h3>")
        parts.append(_html_table(*_suite_table(outcome, suite_name, mode)))
    parts.append("<h2>Candidates</h2>")
    parts.append(f"<pre>{html.escape(json.dumps(run.identities, indent=2, sort_keys=True))}</pre>")
    parts.append("<h2>Timing</h2>")
    parts.append(
        _html_table(["candidate", "episodes", "wall time (s)", "episodes/s"], _timing(outcome))
    )
    parts.append("<h2>Resolved config</h2>")
    resolved = json.dumps(_finite(config.resolved()), indent=2, sort_keys=True)
    parts.append(f"<pre>{html.escape(resolved)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)
