"""``car-ai-rl eval`` and ``car-ai-rl monitor``.

``eval`` exits 0 when every rule holds, 1 on a regression, 2 on a bad config or model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from car_ai_rl.errors import UserError
from car_ai_rl.evals.config import DEFAULT_MISSION_LOG
from car_ai_rl.evals.metrics import METRICS


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="compare policies on identical scenarios and gate regressions",
        description="Run every candidate of an eval config on the same seeds, write "
        "results.json, summary.md and report.html, append to the mission log, and judge "
        "the regression rules. Exit 0: all rules hold; 1: regression; 2: bad config or model.",
    )
    parser.add_argument("--config", required=True, type=Path, help="eval config (YAML)")
    parser.add_argument("--out", type=Path, help="output directory (overrides output_dir)")
    parser.add_argument("--mission-log", type=Path, help="SQLite mission log (overrides config)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into an output directory holding another evaluation's results",
    )
    parser.add_argument(
        "--candidate",
        action="append",
        type=_candidate_source,
        default=[],
        metavar="NAME=SOURCE",
        help="evaluate SOURCE (heuristic, oracle, or a .zip or .onnx model) as the config's "
        "candidate NAME (repeatable)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.set_defaults(func=_cmd_eval)

    parser = subparsers.add_parser(
        "monitor",
        help="metric trends across model versions from the mission log",
        description="Show each metric's trend across model versions (ordered by first seen) "
        "as tables and a plot, flagging versions that regressed against the previous one.",
    )
    parser.add_argument(
        "--mission-log",
        type=Path,
        default=DEFAULT_MISSION_LOG,
        help=f"SQLite mission log (default {DEFAULT_MISSION_LOG})",
    )
    parser.add_argument(
        "--metric",
        action="append",
        choices=list(METRICS),
        help="metric to show (repeatable; default all)",
    )
    parser.add_argument("--suite", action="append", help="suite to show (repeatable)")
    parser.add_argument("--supervisor", choices=("off", "on"), help="supervisor mode to show")
    parser.add_argument("--candidate", action="append", help="candidate name (repeatable)")
    parser.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="confidence level of the regression test (default 0.95)",
    )
    parser.add_argument(
        "--out", type=Path, help="plot path (default: monitor.png next to the mission log)"
    )
    parser.set_defaults(func=_cmd_monitor)


def _candidate_source(text: str) -> tuple[str, str]:
    """``--candidate NAME=SOURCE`` as (name, source)."""
    name, sep, source = text.partition("=")
    if not sep or not name.strip() or not source.strip():
        raise argparse.ArgumentTypeError(f"must be NAME=SOURCE, got {text!r}")
    return name.strip(), source.strip()


def _cmd_eval(args: argparse.Namespace) -> int:
    from car_ai_rl.evals.config import load_config
    from car_ai_rl.evals.evaluate import evaluate
    from car_ai_rl.evals.report import markdown

    names = [name for name, _ in args.candidate]
    repeated = [name for name in names if names.count(name) > 1]
    if repeated:
        raise UserError(f"--candidate {repeated[0]}: given more than once")
    config = load_config(
        args.config,
        output_dir=args.out,
        mission_log=args.mission_log,
        sources=dict(args.candidate),
    )
    outcome = evaluate(
        config,
        progress=not args.no_progress,
        force=args.force,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(markdown(outcome, full=False))
    print()
    for name, path in outcome.paths.items():
        print(f"{name}: {path}")
    print(f"mission log: {config.mission_log} (+{outcome.log_rows} results)")
    for check in outcome.failures:
        print(f"regression: {check.message}", file=sys.stderr)
    if outcome.passed:
        print(f"gate: passed ({len(outcome.checks)} checks)")
        return 0
    print(f"gate: FAILED ({len(outcome.failures)} of {len(outcome.checks)} checks)")
    return 1


def _cmd_monitor(args: argparse.Namespace) -> int:
    from car_ai_rl.errors import UserError
    from car_ai_rl.evals import fmt
    from car_ai_rl.evals.monitor import monitor, render_table, write_plot

    if not 0.0 < args.confidence < 1.0:
        raise UserError(f"--confidence: must be between 0 and 1, got {args.confidence}")
    trends = monitor(
        args.mission_log,
        metrics=args.metric,
        suites=args.suite,
        supervisor=args.supervisor,
        candidates=args.candidate,
        confidence=args.confidence,
    )
    print(render_table(trends))
    print()
    out = args.out or args.mission_log.with_name("monitor.png")
    write_plot(trends, out)
    print(f"plot: {out}")
    regressions = trends.regressions
    if regressions:
        print(f"{len(regressions)} regression(s):")
        for row in regressions:
            print(
                f"  {row.version.label}: {row.metric}, suite '{row.suite}', supervisor "
                f"{row.supervisor}: {fmt.estimate(row.metric, row.estimate)}, change vs "
                f"previous version {fmt.difference(row.metric, row.change)}"
            )
    else:
        print("no regressions")
    return 0
