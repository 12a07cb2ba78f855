"""Batched, deterministic episode rollouts of any policy: per-episode metrics and step traces.

Episode ``i`` runs exactly once, from ``seeds[i]`` (a user integer, mapped to an episode seed
like everywhere else), so the same seed gives the same scenario whatever the policy, the batch
size or the batch slot. A slot whose episode ends is restarted explicitly with the next seed
of the list (the core's own auto-reset would use a derived seed), or dropped from the batch
when the list is exhausted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from car_ai_rl.episodes.traces import TraceRecorder
from car_ai_rl.policies.base import Policy
from car_ai_rl.safety import supervisor as safety
from car_ai_rl.sim import core, layout
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.reward import N_TERMS, REWARD_TERMS
from car_ai_rl.sim.state import SimState

StepHook = Callable[[SimState, np.ndarray], None]

FLAG_KEYS = ("success", "collision", "at_fault_collision", "has_exit_mission")
PER_EPISODE_KEYS: tuple[str, ...] = (
    "success",
    "collision",
    "at_fault_collision",
    "mean_speed_mps",
    "speed_tracking_error_mps",
    "exit_time_s",
    "has_exit_mission",
    "distance_m",
    "lane_changes",
    "supervisor_interventions",
    "mean_abs_jerk_mps3",
    "duration_s",
    "steps",
    "missions_succeeded",
    "missions_failed",
    *(f"reward_{name}" for name in REWARD_TERMS),
    "return",
)


@dataclass
class EpisodeMetrics:
    """Results of :func:`run_episodes`; ``per_episode`` arrays are aligned with ``seeds``."""

    seeds: np.ndarray
    per_episode: dict[str, np.ndarray]
    dt_s: float
    traces: dict[str, np.ndarray] | None = None

    @property
    def n_episodes(self) -> int:
        return len(self.seeds)

    @property
    def n_steps(self) -> int:
        return int(self.per_episode["steps"].sum())


@dataclass
class PreStep:
    """The per-env values the metrics need from before a step (the core resets finished envs)."""

    step: np.ndarray
    mission_kind: np.ndarray
    mission_start_step: np.ndarray
    prev_accel_mps2: np.ndarray

    @classmethod
    def capture(cls, state: SimState) -> PreStep:
        env = state.env
        return cls(
            step=env[layout.STEP].copy(),
            mission_kind=env[layout.MISSION_KIND].astype(np.int64),
            mission_start_step=env[layout.MISSION_START_STEP].copy(),
            prev_accel_mps2=env[layout.PREV_ACCEL_MPS2].copy(),
        )


def episode_success(
    collided: np.ndarray, failures: np.ndarray, successes: np.ndarray
) -> np.ndarray:
    """Whether each episode succeeded: no collision, no mission failed, and at least one
    mission succeeded (per-episode counts of the simulator's events)."""
    return ~np.asarray(collided, dtype=bool) & (failures == 0) & (successes > 0)


@dataclass
class Totals:
    """Running sums per episode."""

    n: int
    steps: np.ndarray = field(init=False)
    sums: dict[str, np.ndarray] = field(init=False)
    flags: dict[str, np.ndarray] = field(init=False)
    terms: np.ndarray = field(init=False)
    exit_time_s: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.steps = np.zeros(self.n, dtype=np.int64)
        names = ("speed", "tracking", "jerk", "distance", "lane_changes", "interventions")
        self.sums = {k: np.zeros(self.n) for k in (*names, "succeeded", "failed", "return")}
        self.flags = {k: np.zeros(self.n, dtype=bool) for k in ("collision", "at_fault", "exit")}
        self.terms = np.zeros((self.n, N_TERMS))
        self.exit_time_s = np.full(self.n, np.nan)

    def add(
        self,
        ep: np.ndarray,
        pre: PreStep,
        result: core.StepResult,
        intervened: np.ndarray,
        dt_s: float,
    ) -> None:
        speed = result.event("speed_mps")
        accel = result.event("accel_mps2")
        self.steps[ep] += 1
        s = self.sums
        s["speed"][ep] += speed
        s["tracking"][ep] += np.abs(speed - result.event("target_speed_mps"))
        s["jerk"][ep] += np.abs(accel - pre.prev_accel_mps2) / dt_s
        s["distance"][ep] += result.event("distance_m")
        s["lane_changes"][ep] += result.event("lane_change_started")
        s["interventions"][ep] += intervened
        s["succeeded"][ep] += result.event("mission_success")
        s["failed"][ep] += result.event("mission_failure")
        s["return"][ep] += result.reward
        self.terms[ep] += result.terms
        self.flags["collision"][ep] |= result.event("collision") > 0.5
        self.flags["at_fault"][ep] |= result.event("at_fault") > 0.5
        on_exit_mission = pre.mission_kind == layout.EXIT
        self.flags["exit"][ep] |= on_exit_mission
        took_exit = on_exit_mission & (result.event("exited") > 0.5)
        took_exit &= result.event("mission_success") > 0.5
        if took_exit.any():
            elapsed_steps = pre.step[took_exit] + 1.0 - pre.mission_start_step[took_exit]
            self.exit_time_s[ep[took_exit]] = elapsed_steps * dt_s

    def per_episode(self, dt_s: float) -> dict[str, np.ndarray]:
        steps = np.maximum(self.steps, 1)
        s, f = self.sums, self.flags
        out: dict[str, np.ndarray] = {
            "success": episode_success(f["collision"], s["failed"], s["succeeded"]),
            "collision": f["collision"].copy(),
            "at_fault_collision": f["at_fault"].copy(),
            "mean_speed_mps": s["speed"] / steps,
            "speed_tracking_error_mps": s["tracking"] / steps,
            "exit_time_s": self.exit_time_s.copy(),
            "has_exit_mission": f["exit"].copy(),
            "distance_m": s["distance"].copy(),
            "lane_changes": s["lane_changes"].astype(np.int64),
            "supervisor_interventions": s["interventions"].astype(np.int64),
            "mean_abs_jerk_mps3": s["jerk"] / steps,
            "duration_s": self.steps * dt_s,
            "steps": self.steps.copy(),
            "missions_succeeded": s["succeeded"].astype(np.int64),
            "missions_failed": s["failed"].astype(np.int64),
        }
        for k, name in enumerate(REWARD_TERMS):
            out[f"reward_{name}"] = self.terms[:, k].copy()
        out["return"] = s["return"].copy()
        return out


def run_episodes(
    policy: Policy,
    params: SimParams,
    seeds: np.ndarray,
    supervisor: bool,
    batch_size: int = 512,
    progress: bool | str = False,
    record: bool = False,
    *,
    on_step: StepHook | None = None,
) -> EpisodeMetrics:
    """Run one episode per seed with ``policy`` (and the safety supervisor when asked).

    ``progress``: show a progress bar (a string is its description). ``record``: also keep
    per-step traces (see :mod:`car_ai_rl.episodes.traces`). ``on_step(state, episodes)`` is
    called before every step with the batch state and the episode index of each slot.
    """
    user_seeds = np.asarray(seeds).ravel()
    n = len(user_seeds)
    episode_seeds = core.seeds_from_ints(user_seeds) if n else np.zeros(0, np.uint64)
    dt_s = params.dt_s
    totals = Totals(n)
    recorder = TraceRecorder() if record else None
    width = max(1, min(int(batch_size), n))
    slot_episode = np.arange(min(width, n), dtype=np.int64)
    next_episode = len(slot_episode)
    if n:
        state, obs = core.reset(params, episode_seeds[:width])
        buffers = core.StepBuffers(width)
    desc = progress if isinstance(progress, str) else None
    with tqdm(total=n, desc=desc, unit="episode", disable=not progress, leave=False) as bar:
        while len(slot_episode):
            b = len(slot_episode)
            pre = PreStep.capture(state)
            if on_step is not None:
                on_step(state, slot_episode)
            raw = np.asarray(policy.act(obs, state, params), dtype=np.float64)
            if raw.shape != (b, 3):
                raise ValueError(
                    f"policy {policy.name}: controls must be ({b}, 3), got {raw.shape}"
                )
            if supervisor:
                controls, intervened, reasons = safety.filter(state, raw, params)
            else:
                controls = raw
                intervened = np.zeros(b, dtype=bool)
                reasons = np.zeros(b, dtype=np.int64)
            if recorder is not None:
                recorder.before_step(slot_episode, state, obs, raw, controls, intervened, reasons)
            state, result = core.step(state, controls, params, buffers)
            totals.add(slot_episode, pre, result, intervened, dt_s)
            if recorder is not None:
                recorder.after_step(result)
            obs = result.obs
            finished = np.flatnonzero(result.done)
            if not len(finished):
                continue
            bar.update(len(finished))
            refill = finished[: n - next_episode]
            if len(refill):
                mask = np.zeros(b, dtype=bool)
                mask[refill] = True
                new = np.arange(next_episode, next_episode + len(refill))
                fresh = core.reset_envs(state, mask, episode_seeds[new], params)
                obs[refill] = fresh[refill]
                slot_episode[refill] = new
                next_episode += len(refill)
            drop = finished[len(refill) :]
            if len(drop):
                keep = np.setdiff1d(np.arange(b), drop)
                state, obs, slot_episode = state.take(keep), obs[keep], slot_episode[keep]
                buffers = core.StepBuffers(len(keep))
    return EpisodeMetrics(
        seeds=user_seeds.copy(),
        per_episode=totals.per_episode(dt_s),
        dt_s=dt_s,
        traces=recorder.finish() if recorder is not None else None,
    )
