"""Parity of the exported graph with SB3 ``predict(deterministic=True)`` on real observations.

Observations come from rollouts of the heuristic driver and of the model itself under the
simulator, on fixed seeds. Discrete actions must be identical; continuous controls and raw
actions must agree within ``tolerance``. Two cases are ties, which float rounding may settle
either way; they are counted, not failed: a continuous lane request within the tolerance of a
lane threshold (+-0.5), and a discrete action whose torch score (logit or Q-value) is within the
tolerance of the best score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from car_ai_rl.envs.actions import DISCRETE_CONTROLS, LANE_THRESHOLD, decode_actions
from car_ai_rl.policies.base import Policy
from car_ai_rl.policies.heuristic_policy import HeuristicPolicy
from car_ai_rl.policies.sb3_policy import SB3Policy
from car_ai_rl.sim import core
from car_ai_rl.sim.params import SimParams

TOLERANCE = 1e-5
ROLLOUT_ENVS = 64
PARITY_SEED = 90_000_000
CHUNK = 4096


@dataclass(frozen=True)
class ParityReport:
    n_obs: int
    action_mode: str
    action_mismatches: int  # discrete: differing actions; continuous: beyond tolerance
    max_action_error: float  # discrete: largest difference of action indices
    max_controls_error: float  # over the non-tie rows
    boundary_cases: int  # ties: see the module docstring
    tolerance: float = TOLERANCE

    @property
    def ok(self) -> bool:
        return self.action_mismatches == 0 and self.max_controls_error <= self.tolerance

    def describe(self) -> str:
        text = (
            f"{self.n_obs} observations: {self.action_mismatches} action mismatches, "
            f"max |action error| {self.max_action_error:.3g}, "
            f"max |controls error| {self.max_controls_error:.3g} (tolerance {self.tolerance:g})"
        )
        if self.boundary_cases:
            what = (
                "near-tied scores"
                if self.action_mode in ("discrete", "plan")
                else "lane requests at a threshold"
            )
            text += f", {self.boundary_cases} ties ({what})"
        return text


def collect_observations(
    drivers: list[Policy], params: SimParams, n_obs: int, seed: int = PARITY_SEED
) -> np.ndarray:
    """At least ``n_obs`` observations, split evenly between ``drivers`` driving the sim."""
    per_driver = math.ceil(n_obs / len(drivers))
    chunks = []
    for k, driver in enumerate(drivers):
        seeds = core.seeds_from_ints(seed + k * ROLLOUT_ENVS * 1000, ROLLOUT_ENVS)
        state, obs = core.reset(params, seeds)
        buffers = core.StepBuffers(ROLLOUT_ENVS)
        rows = 0
        while rows < per_driver:
            chunks.append(obs)
            rows += len(obs)
            controls = driver.act(obs, state, params)
            state, result = core.step(state, controls, params, buffers)
            obs = result.obs
    return np.concatenate(chunks)


def sb3_actions(policy: SB3Policy, obs: np.ndarray) -> np.ndarray:
    """SB3 ``predict(deterministic=True)`` on every observation, in chunks."""
    return np.concatenate([policy.predict(obs[i : i + CHUNK]) for i in range(0, len(obs), CHUNK)])


def compare(
    obs: np.ndarray,
    reference_actions: np.ndarray,
    onnx_controls: np.ndarray | None,
    onnx_actions: np.ndarray,
    action_mode: str,
    tolerance: float = TOLERANCE,
    reference_scores: np.ndarray | None = None,
) -> ParityReport:
    """Compare the graph's outputs with SB3's actions. ``reference_scores`` (discrete and plan
    only) are torch's per-action scores, used to tell near-ties from real mismatches. A plan
    graph gives no controls (``onnx_controls`` None): the driver decodes its plans."""
    n = len(obs)
    if action_mode in ("discrete", "plan"):
        ref = np.asarray(reference_actions).reshape(n).astype(np.int64)
        got = np.asarray(onnx_actions).reshape(n).astype(np.int64)
        differs = got != ref
        tie = np.zeros(n, dtype=bool)
        if reference_scores is not None:
            scores = np.asarray(reference_scores, dtype=np.float64).reshape(n, -1)
            rows = np.arange(n)
            gap = scores[rows, ref] - scores[rows, np.clip(got, 0, scores.shape[1] - 1)]
            scale = np.maximum(1.0, np.abs(scores[rows, ref]))
            tie = differs & (got >= 0) & (got < scores.shape[1]) & (gap <= tolerance * scale)
        counted = differs & ~tie
        controls_err = np.zeros(n)
        if onnx_controls is not None:
            controls_err = np.abs(onnx_controls.astype(np.float64) - DISCRETE_CONTROLS[ref])
            controls_err[tie] = 0.0
        return ParityReport(
            n_obs=n,
            action_mode=action_mode,
            action_mismatches=int(np.count_nonzero(counted)),
            max_action_error=float(np.abs(got - ref)[counted].max(initial=0)),
            max_controls_error=float(controls_err.max(initial=0.0)),
            boundary_cases=int(np.count_nonzero(tie)),
            tolerance=tolerance,
        )
    ref = np.asarray(reference_actions, dtype=np.float64).reshape(n, 3)
    action_err = np.abs(np.asarray(onnx_actions, dtype=np.float64) - ref)
    ref_controls = decode_actions(ref, "continuous", n)
    controls_err = np.abs(onnx_controls.astype(np.float64) - ref_controls)
    lane_differs = controls_err[:, 2] > tolerance
    at_threshold = np.abs(np.abs(ref[:, 2]) - LANE_THRESHOLD) <= tolerance
    boundary = lane_differs & at_threshold
    controls_err[boundary, 2] = 0.0
    return ParityReport(
        n_obs=n,
        action_mode=action_mode,
        action_mismatches=int(np.count_nonzero(action_err.max(axis=1) > tolerance)),
        max_action_error=float(action_err.max(initial=0.0)),
        max_controls_error=float(controls_err.max(initial=0.0)),
        boundary_cases=int(np.count_nonzero(boundary)),
        tolerance=tolerance,
    )


def actor_scores(actor_body: Any, obs: np.ndarray) -> np.ndarray:
    """Torch's per-action scores (logits or Q-values) of the exported actor's body."""
    import torch

    with torch.no_grad():
        parts = [
            actor_body(torch.as_tensor(obs[i : i + CHUNK])).numpy()
            for i in range(0, len(obs), CHUNK)
        ]
    return np.concatenate(parts)


def check_parity(
    policy: SB3Policy, session: Any, params: SimParams, n_obs: int, actor_body: Any = None
) -> ParityReport:
    """Roll out the heuristic and the model, then compare onnxruntime with SB3 on every obs.
    ``actor_body`` (the torch module behind the graph's scores) lets discrete ties be told apart."""
    obs = collect_observations([HeuristicPolicy(), policy], params, n_obs)
    reference = sb3_actions(policy, obs)
    if policy.action_mode == "plan":
        (actions,) = session.run(["plan"], {"obs": obs})
        controls = None
    else:
        controls, actions = session.run(["controls", "action"], {"obs": obs})
    scores = None
    if policy.action_mode in ("discrete", "plan") and actor_body is not None:
        scores = actor_scores(actor_body, obs)
    return compare(obs, reference, controls, actions, policy.action_mode, reference_scores=scores)
