"""Episode generation from start to files: load the policy, roll out, write every output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from car_ai_rl import __version__
from car_ai_rl.atomic_io import write_json_atomic
from car_ai_rl.episodes.outputs import (
    EPISODES_FILE,
    SUMMARY_FILE,
    TRACES_FILE,
    aggregate,
    check_out_dir,
    remove_other_videos,
    trace_columns,
    write_episodes_csv,
    write_traces,
)
from car_ai_rl.episodes.rollout import run_episodes
from car_ai_rl.episodes.video import render_videos
from car_ai_rl.errors import ConfigError
from car_ai_rl.policies import Policy, load_policy
from car_ai_rl.safety.supervisor import REASON_NAMES
from car_ai_rl.schema import read_yaml
from car_ai_rl.sim import layout
from car_ai_rl.sim.observation import OBS_FEATURES, OBS_SCHEMA_VERSION
from car_ai_rl.sim.params import SimParams, sim_params_from_dict
from car_ai_rl.sim.reward import REWARD_TERMS


def load_params_file(path: Path) -> SimParams:
    """SimParams from a YAML mapping of its fields, or from a training config's ``env:``."""
    data = read_yaml(path, flag="--config") or {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "must hold a mapping of SimParams fields")
    prefix = ""
    if isinstance(data.get("env"), dict):
        data, prefix = data["env"], "env"
    try:
        return sim_params_from_dict(data)
    except ConfigError as exc:
        raise exc.under(prefix) from None


def choose_params(
    policy: Policy, params_file: Path | None, from_file: SimParams | None = None
) -> tuple[SimParams, str]:
    """(params, where from): the --config file (``from_file`` when already loaded), else the
    model's training params, else defaults."""
    if params_file is not None:
        params = from_file if from_file is not None else load_params_file(params_file)
        return params, f"config {params_file}"
    if policy.sim_params is not None:
        return policy.sim_params, "model"
    return SimParams(), "defaults"


def generate(
    policy_source: str,
    n_episodes: int,
    seed: int,
    out_dir: Path,
    supervisor: bool = False,
    video: int = 0,
    params_file: Path | None = None,
    batch_size: int = 512,
    progress: bool = True,
    log: Callable[[str], None] = print,
    force: bool = False,
) -> dict[str, Any]:
    """Write traces.npz, episodes.csv, summary.json (last) and GIFs; return the summary.

    The inputs (the params file, the policy) are checked first, so that a mistake in them
    leaves nothing behind; then ``out_dir``, before any episode: it must be writable, and
    outputs of another request there are replaced only with ``force``.
    """
    request = {
        "policy": policy_source,
        "episodes": int(n_episodes),
        "seed": int(seed),
        "supervisor": bool(supervisor),
        "video": int(video),
        "config": str(params_file) if params_file is not None else None,
    }
    from_file = load_params_file(params_file) if params_file is not None else None
    policy = load_policy(policy_source)
    params, params_source = choose_params(policy, params_file, from_file)
    check_out_dir(out_dir, request, force)
    seeds = np.arange(n_episodes, dtype=np.int64) + np.int64(seed)
    mode = "on" if supervisor else "off"
    log(
        f"{policy.name}: {n_episodes} episodes from seed {seed}, supervisor {mode}, "
        f"sim params {params.digest()} ({params_source})"
    )
    metrics = run_episodes(
        policy,
        params,
        seeds,
        supervisor,
        batch_size,
        progress="episodes" if progress else False,
        record=True,
    )
    assert metrics.traces is not None
    write_traces(out_dir / TRACES_FILE, metrics.traces)
    write_episodes_csv(out_dir / EPISODES_FILE, metrics)
    videos = []
    if video:
        log(f"rendering {video} episode(s) to GIF")
        videos = render_videos(policy, params, seeds[:video], supervisor, out_dir)
    remove_other_videos(out_dir, videos)
    summary = {
        **aggregate(metrics),
        "policy": {"name": policy.name, **policy.identity()},
        "supervisor": supervisor,
        "seeds": {
            "start": int(seed),
            "count": int(n_episodes),
            "rule": "episode i uses seed start + i",
        },
        "sim_params": params.to_dict(),
        "sim_params_hash": params.digest(),
        "sim_params_source": params_source,
        "dt_s": params.dt_s,
        "obs_schema_version": OBS_SCHEMA_VERSION,
        "obs_features": list(OBS_FEATURES),
        "reward_terms": list(REWARD_TERMS),
        "mission_kinds": list(layout.MISSION_KIND_NAMES),
        "supervisor_reason_bits": {str(bit): name for bit, name in REASON_NAMES.items()},
        "trace_columns": trace_columns(metrics.traces),
        "files": {
            "traces": TRACES_FILE,
            "episodes": EPISODES_FILE,
            "videos": [p.name for p in videos],
        },
        "car_ai_rl_version": __version__,
        "request": request,
    }
    write_json_atomic(out_dir / SUMMARY_FILE, summary)
    return summary
