"""The oracle: a planner that drives by trying its options in the simulator itself.

The simulator is deterministic (an episode is a function of its seed and params), so a copy of
the state predicts the future exactly, traffic included. At each planning step the oracle copies
every env once per candidate, drives each copy for ``horizon_s`` with that candidate under the
safety supervisor, and commits to the candidate whose copy collected the most reward (the
simulator's own reward: mission success and failure, collisions, progress and comfort terms),
for ``replan_s`` before it plans again. This is Bertsekas' rollout algorithm with the heuristic
driver as its base policy: the heuristic is always one of the candidates, so over the horizon
the oracle never does worse than it.

Candidates are the driving plans of ``policies.plans``, the heuristic driver's variations,
held for ``commit_s``, then the driver drives as usual:
- a target-speed offset (slow down or speed up to line up with a gap, or to let one open);
- holding the lane (not taking the gap the heuristic would take now);
- closing up: following at a shorter time headway, with a higher target speed, to move up
  alongside a gap (the heuristic's 1.5 s headway often keeps it just behind one).
Failures the oracle cannot avoid are, within what these candidates can do, infeasible.
"""

from __future__ import annotations

import numpy as np

from car_ai_rl.policies.plans import PLANS, plan_controls
from car_ai_rl.safety import supervisor
from car_ai_rl.sim import core, layout
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState

CANDIDATES = PLANS  # candidate 0 is the heuristic itself


def candidate_controls(
    state: SimState, params: SimParams, choice: np.ndarray, varied: np.ndarray
) -> np.ndarray:
    """Supervised controls of each env driving candidate ``choice[b]`` (the plain heuristic
    where ``varied`` is false)."""
    controls = plan_controls(state, params, np.where(varied, choice, 0))
    safe, _, _ = supervisor.filter(state, controls, params)
    return safe


def evaluate_candidates(
    state: SimState, params: SimParams, envs: np.ndarray, horizon_steps: int, commit_steps: int
) -> np.ndarray:
    """(len(envs), len(CANDIDATES)) reward each candidate collects over the horizon from the
    current state of each env in ``envs`` (nothing after its episode ends)."""
    k = len(CANDIDATES)
    copies = state.take(np.repeat(envs, k))
    choice = np.tile(np.arange(k), len(envs))
    total = np.zeros(len(choice))
    live = np.ones(len(choice), dtype=bool)
    buffers = core.StepBuffers(len(choice))
    for t in range(horizon_steps):
        controls = candidate_controls(
            copies, params, choice, np.full(len(choice), t < commit_steps)
        )
        _, result = core.step(copies, controls, params, buffers)
        total += np.where(live, result.reward, 0.0)
        live &= ~result.done
        if not live.any():
            break
    return total.reshape(len(envs), k)


class OraclePlanner:
    """Plans for a batch of envs; call :meth:`controls` once per simulator step."""

    def __init__(
        self, horizon_s: float = 15.0, replan_s: float = 1.0, commit_s: float = 3.0
    ) -> None:
        self.horizon_s = horizon_s
        self.replan_s = replan_s
        self.commit_s = commit_s
        self._choice = np.zeros(0, dtype=np.int64)
        self._planned_at = np.zeros(0, dtype=np.int64)  # step of each env's last plan
        self._mission = np.zeros(0)

    def controls(self, state: SimState, params: SimParams) -> np.ndarray:
        """Supervised controls (B, 3) for every env of ``state``."""
        plans = self.plans(state, params)
        return candidate_controls(state, params, plans, np.ones(len(plans), dtype=bool))

    def plans(self, state: SimState, params: SimParams) -> np.ndarray:
        """The plan (index into ``policies.plans.PLANS``) each env of ``state`` drives now,
        planning again where its plan is stale. Call once per simulator step."""
        n = state.n_envs
        if len(self._choice) != n:
            self._choice = np.zeros(n, dtype=np.int64)
            self._planned_at = np.full(n, -(1 << 40), dtype=np.int64)
            self._mission = np.full(n, -1.0)
        dt = params.dt_s
        replan_steps = max(1, round(self.replan_s / dt))
        commit_steps = max(1, round(self.commit_s / dt))
        step = state.step_count
        mission = state.env[layout.MISSION_ID]
        since = step - self._planned_at
        stale = (since < 0) | (since >= replan_steps) | (mission != self._mission)
        envs = np.nonzero(stale)[0]
        if len(envs):
            scores = evaluate_candidates(
                state, params, envs, max(1, round(self.horizon_s / dt)), commit_steps
            )
            # ties go to the lowest candidate: the plain heuristic first
            self._choice[envs] = np.argmax(scores, axis=1)
            self._planned_at[envs] = step[envs]
            self._mission[envs] = mission[envs]
        varied = (step - self._planned_at) < commit_steps
        return np.where(varied, self._choice, 0)
