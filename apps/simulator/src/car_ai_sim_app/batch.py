"""One batched simulator for every session: each session owns a slot of a SimState batch.

The batch grows (doubling) as sessions join, up to the session limit; a freed slot keeps
running as filler until the next session takes it and starts a fresh drive there.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.policies.plans import plan_controls
from car_ai_rl.safety import supervisor
from car_ai_rl.sim import core, views
from car_ai_rl.sim.observation import OBS_DIM
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState

MIN_CAPACITY = 8
FILLER_SEED = 1_000_000_007  # episode seeds of slots nobody uses


class BatchFull(RuntimeError):
    pass


@dataclass(frozen=True)
class StepOutcome:
    requested: np.ndarray  # (B, 3) controls given to the supervisor
    applied: np.ndarray  # (B, 3) controls the simulator used
    intervened: np.ndarray  # (B,) bool
    reasons: np.ndarray  # (B,) reason bitmasks
    result: core.StepResult


class BatchSim:
    def __init__(self, params: SimParams, max_slots: int, seed: int) -> None:
        self.params = params
        self.max_slots = max_slots
        self.next_seed = seed
        self.capacity = 0
        self.state: SimState | None = None
        self.obs = np.zeros((0, OBS_DIM), dtype=np.float32)
        self.buffers = core.StepBuffers(0)
        self._free: list[int] = []
        self._grow(min(MIN_CAPACITY, max_slots))

    @property
    def sim(self) -> SimState:
        assert self.state is not None
        return self.state

    def _grow(self, capacity: int) -> None:
        """Enlarge the batch to ``capacity`` slots, keeping every running slot as it is."""
        old = self.capacity
        seeds = core.seeds_from_ints(np.arange(capacity) + FILLER_SEED)
        state, obs = core.reset(self.params, seeds)
        if self.state is not None:
            views.copy_envs(state, self.state, old)
            obs[:old] = self.obs
        self.state, self.obs, self.capacity = state, obs, capacity
        self.buffers = core.StepBuffers(capacity)
        for slot in range(old, capacity):
            heapq.heappush(self._free, slot)

    @property
    def slots_in_use(self) -> int:
        return self.capacity - len(self._free)

    def acquire(self) -> int:
        """A free slot (growing the batch if needed); BatchFull at the session limit."""
        if not self._free:
            if self.capacity >= self.max_slots:
                raise BatchFull(f"all {self.max_slots} session slots are in use")
            self._grow(min(self.capacity * 2, self.max_slots))
        return heapq.heappop(self._free)

    def release(self, slot: int) -> None:
        heapq.heappush(self._free, slot)

    def start_drives(self, slots: list[int]) -> None:
        """Fresh episodes in ``slots``, each from a new seed."""
        if not slots:
            return
        seeds = core.seeds_from_ints(np.arange(len(slots)) + self.next_seed)
        self.next_seed += len(slots)
        mask = np.zeros(self.capacity, dtype=bool)
        mask[slots] = True
        full_seeds = self.sim.seeds.copy()
        full_seeds[slots] = seeds
        obs = core.reset_envs(self.sim, mask, full_seeds[mask], self.params)
        self.obs[mask] = obs[mask]

    def fallback_controls(self, slots: np.ndarray | None = None) -> np.ndarray:
        """The heuristic driver's controls for ``slots`` (every slot when None), (len, 3)."""
        if slots is None:
            return heuristic_controls(self.sim, self.params)
        slots = np.asarray(slots, dtype=np.int64)
        if len(slots) == 0:
            return np.zeros((0, 3))
        return heuristic_controls(self.sim.take(slots), self.params)

    def plan_controls(self, slots: np.ndarray, plans: np.ndarray) -> np.ndarray:
        """The controls (len, 3) of the heuristic driver following plan ``plans[i]`` in slot
        ``slots[i]``, before the supervisor."""
        slots = np.asarray(slots, dtype=np.int64)
        if len(slots) == 0:
            return np.zeros((0, 3))
        return plan_controls(self.sim.take(slots), self.params, np.asarray(plans, dtype=np.int64))

    def step(self, controls: np.ndarray) -> StepOutcome:
        """Filter every slot's controls through the safety supervisor, then step the batch."""
        applied, intervened, reasons = supervisor.filter(self.sim, controls, self.params)
        _, result = core.step(self.sim, applied, self.params, self.buffers)
        self.obs = result.obs
        return StepOutcome(controls, applied, intervened, reasons, result)
