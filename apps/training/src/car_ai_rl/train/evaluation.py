"""Evaluation of a model on fixed seeds, for the training logs."""

from __future__ import annotations

import numpy as np

from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv
from car_ai_rl.episodes.rollout import episode_success
from car_ai_rl.policies.sb3_policy import SB3Policy
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.reward import REWARD_TERMS

EVAL_SEED = 10_000_000


def evaluate_model(
    model, params: SimParams, action_mode: str, n_episodes: int, supervisor: bool = False
) -> dict[str, float]:
    """Run one episode per env on fixed seeds; return rates and means over the episodes. A
    masked model chooses among the actions its observations allow, as it does everywhere."""
    env = HighwayMissionVecEnv(n_episodes, action_mode, supervisor, seed=EVAL_SEED, params=params)
    obs = env.reset()
    finished = np.zeros(n_episodes, dtype=bool)
    totals = {
        k: np.zeros(n_episodes)
        for k in ("success_events", "failure_events", "interventions", "steps", "speed")
    }
    terms = np.zeros((n_episodes, len(REWARD_TERMS)))
    collision = np.zeros(n_episodes)
    at_fault = np.zeros(n_episodes)
    policy = SB3Policy(model)  # masked as it is everywhere else
    while not finished.all():
        actions = policy.predict(obs)
        obs, _, dones, infos = env.step(actions)
        step = env.last_step
        live = ~finished
        r = step.result
        totals["success_events"] += live * r.event("mission_success")
        totals["failure_events"] += live * r.event("mission_failure")
        totals["interventions"] += live * step.intervened
        totals["steps"] += live
        totals["speed"] += live * r.event("speed_mps")
        terms += live[:, None] * r.terms
        collision += live * r.event("collision")
        at_fault += live * r.event("at_fault")
        finished |= dones
    success = episode_success(collision > 0, totals["failure_events"], totals["success_events"])
    metrics = {
        "mission_success_rate": float(success.mean()),
        "collision_rate": float(collision.mean()),
        "at_fault_collision_rate": float(at_fault.mean()),
        "mean_speed_mps": float(totals["speed"].sum() / totals["steps"].sum()),
        "supervisor_intervention_rate": float(
            totals["interventions"].sum() / totals["steps"].sum()
        ),
    }
    for k, name in enumerate(REWARD_TERMS):
        metrics[f"reward_{name}"] = float(terms[:, k].mean())
    return metrics
