"""Driving plans: the heuristic driver and its variations, the actions of the ``plan`` mode.

A plan asks the heuristic driver (``policies.heuristic``) to drive a little differently: at a
target speed offset from the mission's (slow down or speed up to line up with a gap, or to let
one open), holding its lane (not taking the gap it would take now), or closing up on its leader
at a shorter time headway with a higher target speed (to move up alongside a gap in the next
lane that its own 1.5 s headway keeps just out of reach). Plan 0 is the driver itself.

The oracle (``planner.oracle``) tries these plans in copies of the simulator and commits to the
best; a policy in the ``plan`` action mode chooses one from its observation every step, and the
driver turns the choice into controls from the state. The driver sees the road through the
safety supervisor's own predicates, so a plan's controls are ones the supervisor allows
almost always; they still pass through it wherever it is on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.policies.heuristic_kernel import HEADWAY_S
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState


@dataclass(frozen=True)
class Plan:
    """One variation of the heuristic driver."""

    speed_offset_mps: float = 0.0
    hold_lane: bool = False
    headway_s: float = HEADWAY_S

    @property
    def name(self) -> str:
        """A short label, e.g. ``slower 6 m/s`` or ``close up 0.8 s, faster 4 m/s``."""
        parts = []
        if self.headway_s != HEADWAY_S:
            parts.append(f"close up {self.headway_s:g} s")
        if self.speed_offset_mps:
            word = "slower" if self.speed_offset_mps < 0 else "faster"
            parts.append(f"{word} {abs(self.speed_offset_mps):g} m/s")
        if self.hold_lane:
            parts.append("hold lane")
        return ", ".join(parts) or "heuristic"


SPEED_OFFSETS_MPS = (-12.0, -6.0, -3.0, 4.0)
# (target speed offset m/s, time headway s) of the close-up plans
CLOSE_UPS: tuple[tuple[float, float], ...] = ((0.0, 0.8), (4.0, 0.8), (8.0, 0.8), (4.0, 0.5))

PLANS: tuple[Plan, ...] = (
    (Plan(),)
    + tuple(Plan(offset) for offset in SPEED_OFFSETS_MPS)
    + (Plan(hold_lane=True),)
    + tuple(Plan(offset, headway_s=headway) for offset, headway in CLOSE_UPS)
)
N_PLANS = len(PLANS)
PLAN_NAMES: tuple[str, ...] = tuple(p.name for p in PLANS)

# the plans' variations as arrays indexed by plan (built once: read every step)
_OFFSETS_MPS = np.array([p.speed_offset_mps for p in PLANS])
_HOLD_LANE = np.array([p.hold_lane for p in PLANS])
_HEADWAYS_S = np.array([p.headway_s for p in PLANS])


def plan_controls(state: SimState, params: SimParams, plans: np.ndarray) -> np.ndarray:
    """Controls (B, 3) of the heuristic driver following plan ``plans[b]`` in env ``b``
    (before the supervisor)."""
    plans = np.asarray(plans, dtype=np.int64)
    return heuristic_controls(
        state, params, _OFFSETS_MPS[plans], _HOLD_LANE[plans], _HEADWAYS_S[plans]
    )
