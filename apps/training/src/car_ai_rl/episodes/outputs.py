"""The files of ``car-ai-rl episodes``: traces.npz, episodes.csv and summary.json.

All are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from car_ai_rl.atomic_io import atomic_path, remove_stale_temps, write_text_atomic
from car_ai_rl.episodes.rollout import EpisodeMetrics
from car_ai_rl.errors import UserError
from car_ai_rl.sim.reward import REWARD_TERMS

TRACES_FILE = "traces.npz"
EPISODES_FILE = "episodes.csv"
SUMMARY_FILE = "summary.json"
VIDEO_GLOB = "episode_*.gif"


def previous_request(out_dir: Path) -> dict[str, Any] | None:
    """The request recorded in ``out_dir``'s summary, ``{}`` for outputs without a readable one,
    None when the dir holds no outputs of this command."""
    ours = [out_dir / TRACES_FILE, out_dir / EPISODES_FILE, out_dir / SUMMARY_FILE]
    if not any(p.exists() for p in ours) and not any(out_dir.glob(VIDEO_GLOB)):
        return None
    try:
        request = json.loads((out_dir / SUMMARY_FILE).read_text()).get("request")
    except (OSError, ValueError, AttributeError):
        return {}
    return request if isinstance(request, dict) else {}


def check_out_dir(out_dir: Path, request: dict[str, Any], force: bool) -> None:
    """Refuse, before any episode, an unwritable ``--out`` or one holding the outputs of another
    request (unless ``force``); then remove temporary files killed writes left there."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out: {out_dir} exists and is not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test.{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"--out: cannot write to {out_dir}: {exc.strerror or exc}") from None
    previous = previous_request(out_dir)
    if previous is not None and previous != request and not force:
        raise UserError(
            f"--out: {out_dir} holds episodes of another command ({_difference(previous, request)}); "
            "choose another --out, or replace them with --force"
        )
    remove_stale_temps(out_dir)


def _difference(previous: dict[str, Any], request: dict[str, Any]) -> str:
    for key, value in request.items():
        if previous.get(key) != value:
            return f"{key} {json.dumps(previous.get(key))} there, {json.dumps(value)} now"
    return "unknown request"


def remove_other_videos(out_dir: Path, kept: list[Path]) -> None:
    """Delete GIFs of an earlier request that this one did not rewrite."""
    keep = {p.name for p in kept}
    for path in out_dir.glob(VIDEO_GLOB):
        if path.name not in keep:
            path.unlink()


def write_traces(path: Path, traces: dict[str, np.ndarray]) -> None:
    """Compressed NPZ of plain (non-object) arrays: ``np.load`` needs no pickle."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **traces)


def write_episodes_csv(path: Path, metrics: EpisodeMetrics) -> None:
    """One row per episode: its index, seed and every per-episode value."""
    keys = list(metrics.per_episode)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["episode", "seed", *keys])
    columns = [metrics.per_episode[k] for k in keys]
    for i in range(metrics.n_episodes):
        writer.writerow([i, int(metrics.seeds[i]), *(_cell(col[i]) for col in columns)])
    write_text_atomic(path, buffer.getvalue())


def _cell(value: Any) -> str:
    if isinstance(value, np.bool_ | bool):
        return "1" if value else "0"
    if isinstance(value, np.integer | int):
        return str(int(value))
    value = float(value)
    return "" if math.isnan(value) else repr(value)


def aggregate(metrics: EpisodeMetrics) -> dict[str, Any]:
    """Rates over episodes, means over episodes, and the intervention rate per step."""
    pe = metrics.per_episode
    n = metrics.n_episodes
    steps = max(metrics.n_steps, 1)
    exit_times = pe["exit_time_s"][np.isfinite(pe["exit_time_s"])]
    has_exit = pe["has_exit_mission"]
    out: dict[str, Any] = {
        "episodes": n,
        "steps": metrics.n_steps,
        "success_rate": _mean(pe["success"]),
        "collision_rate": _mean(pe["collision"]),
        "at_fault_collision_rate": _mean(pe["at_fault_collision"]),
        "mean_speed_mps": _mean(pe["mean_speed_mps"]),
        "speed_tracking_error_mps": _mean(pe["speed_tracking_error_mps"]),
        "supervisor_intervention_rate": float(pe["supervisor_interventions"].sum() / steps),
        "supervisor_interventions": int(pe["supervisor_interventions"].sum()),
        "exit_missions": int(has_exit.sum()),
        "exit_completion_rate": _mean(np.isfinite(pe["exit_time_s"][has_exit])),
        "mean_exit_time_s": _mean(exit_times),
        "missions_succeeded": int(pe["missions_succeeded"].sum()),
        "missions_failed": int(pe["missions_failed"].sum()),
        "lane_changes_per_km": _ratio(pe["lane_changes"].sum(), pe["distance_m"].sum() / 1000.0),
        "mean_abs_jerk_mps3": _mean(pe["mean_abs_jerk_mps3"]),
        "mean_duration_s": _mean(pe["duration_s"]),
        "mean_return": _mean(pe["return"]),
        "mean_reward_terms": {name: _mean(pe[f"reward_{name}"]) for name in REWARD_TERMS},
    }
    return out


def _mean(values: np.ndarray) -> float | None:
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if values.size else None


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def trace_columns(traces: dict[str, np.ndarray]) -> dict[str, str]:
    """Column name -> dtype and shape, for the summary."""
    return {
        name: f"{values.dtype}{list(values.shape[1:]) if values.ndim > 1 else ''}"
        for name, values in traces.items()
    }
