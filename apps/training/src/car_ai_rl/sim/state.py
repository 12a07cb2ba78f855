"""The simulator state: struct-of-arrays NumPy buffers with a leading batch axis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from car_ai_rl.sim import layout


@dataclass
class SimState:
    """``veh``: (N_VEH_FIELDS, B, N) float64; ``env``: (N_ENV_FIELDS, B) float64;
    ``seeds``: (B,) uint64 episode seeds; ``order``: (B, N) int64, each env's vehicle indices
    sorted by position at its last step (a cache that only speeds up the next sort: results
    never depend on it). Vehicle 0 of every env is the ego."""

    veh: np.ndarray
    env: np.ndarray
    seeds: np.ndarray
    order: np.ndarray

    @classmethod
    def allocate(cls, n_envs: int, n_vehicles: int) -> SimState:
        return cls(
            veh=np.zeros((layout.N_VEH_FIELDS, n_envs, n_vehicles)),
            env=np.zeros((layout.N_ENV_FIELDS, n_envs)),
            seeds=np.zeros(n_envs, dtype=np.uint64),
            order=np.tile(np.arange(n_vehicles, dtype=np.int64), (n_envs, 1)),
        )

    @property
    def n_envs(self) -> int:
        return self.veh.shape[1]

    @property
    def n_vehicles(self) -> int:
        return self.veh.shape[2]

    def copy(self) -> SimState:
        return SimState(self.veh.copy(), self.env.copy(), self.seeds.copy(), self.order.copy())

    def take(self, envs: np.ndarray | list[int]) -> SimState:
        """A copy holding only the given env slots, in that order."""
        idx = np.asarray(envs, dtype=np.int64)
        return SimState(
            self.veh[:, idx].copy(),
            self.env[:, idx].copy(),
            self.seeds[idx].copy(),
            self.order[idx].copy(),
        )

    def vehicle(self, name: str) -> np.ndarray:
        """A (B, N) view of one vehicle field, e.g. ``state.vehicle("speed_mps")``."""
        return self.veh[layout.VEH_FIELD_NAMES.index(name)]

    def env_field(self, name: str) -> np.ndarray:
        """A (B,) view of one per-env field, e.g. ``state.env_field("exit_x_m")``."""
        return self.env[layout.ENV_FIELD_NAMES.index(name)]

    # the fields every consumer reads, as named views
    @property
    def x_m(self) -> np.ndarray:
        return self.veh[layout.X_M]

    @property
    def y_m(self) -> np.ndarray:
        return self.veh[layout.Y_M]

    @property
    def speed_mps(self) -> np.ndarray:
        return self.veh[layout.SPEED_MPS]

    @property
    def lane(self) -> np.ndarray:
        return self.veh[layout.LANE]

    @property
    def target_lane(self) -> np.ndarray:
        return self.veh[layout.TARGET_LANE]

    @property
    def length_m(self) -> np.ndarray:
        return self.veh[layout.LENGTH_M]

    @property
    def width_m(self) -> np.ndarray:
        return self.veh[layout.WIDTH_M]

    @property
    def active(self) -> np.ndarray:
        return self.veh[layout.ACTIVE] > 0.5

    @property
    def exit_x_m(self) -> np.ndarray:
        return self.env[layout.EXIT_X_M]

    @property
    def step_count(self) -> np.ndarray:
        return self.env[layout.STEP].astype(np.int64)

    @property
    def mission_kind(self) -> np.ndarray:
        return self.env[layout.MISSION_KIND].astype(np.int64)

    @property
    def target_speed_mps(self) -> np.ndarray:
        return self.env[layout.TARGET_SPEED_MPS]

    @property
    def mission_target_lane(self) -> np.ndarray:
        return self.env[layout.MISSION_TARGET_LANE].astype(np.int64)

    @property
    def mission_status(self) -> np.ndarray:
        return self.env[layout.MISSION_STATUS].astype(np.int64)
