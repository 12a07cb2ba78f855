"""GIFs of episodes from the top-down renderer, re-simulated from their seeds.

One frame per decision step, showing the scene the policy acted on; when the episode ended in
a collision, the ego is drawn red in the last frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from car_ai_rl.atomic_io import atomic_path
from car_ai_rl.envs.render import render_frame
from car_ai_rl.episodes.rollout import run_episodes
from car_ai_rl.policies.base import Policy
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState

EPISODES_PER_BATCH = 4  # bounds the frames held in memory


def video_name(episode: int) -> str:
    return f"episode_{episode:03d}.gif"


def episode_frames(
    policy: Policy, params: SimParams, seeds: np.ndarray, supervisor: bool
) -> list[list[np.ndarray]]:
    """The frames of one episode per seed."""
    frames: list[list[np.ndarray]] = [[] for _ in range(len(seeds))]
    last: dict[int, SimState] = {}

    def grab(state: SimState, episodes: np.ndarray) -> None:
        for slot, episode in enumerate(episodes):
            frames[episode].append(render_frame(state, slot, params))
            last[int(episode)] = state.take([slot])

    metrics = run_episodes(
        policy, params, seeds, supervisor, batch_size=max(len(seeds), 1), on_step=grab
    )
    for episode in np.flatnonzero(metrics.per_episode["collision"]):
        frames[episode][-1] = render_frame(last[int(episode)], 0, params, collided=True)
    return frames


def write_gif(path: Path, frames: list[np.ndarray], fps: float) -> None:
    import imageio.v3 as iio

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)


def render_videos(
    policy: Policy, params: SimParams, seeds: np.ndarray, supervisor: bool, out_dir: Path
) -> list[Path]:
    """Write ``episode_000.gif``... for ``seeds`` (episode i from seeds[i]); returns the paths."""
    paths = []
    for start in range(0, len(seeds), EPISODES_PER_BATCH):
        batch = seeds[start : start + EPISODES_PER_BATCH]
        for offset, frames in enumerate(episode_frames(policy, params, batch, supervisor)):
            path = out_dir / video_name(start + offset)
            write_gif(path, frames, params.decision_hz)
            paths.append(path)
    return paths
