"""Per-session counters as one integer table, one row per batch slot, so a tick updates every
session with a few array operations and a mission's figures are a difference of two rows."""

from __future__ import annotations

import numpy as np

# Sent in every frame (in this order) and summed in /api/stats.
PUBLIC = (
    "ticks",
    "interventions",
    "late_answers",
    "stale_answers",
    "rejected_controls",
    "clamped_controls",
    "malformed",
    "rate_limited",
    "collisions",
    "drives",
    "missions",
    "commands",
    "commands_refused",
    "dropped_frames",
    "plan_ticks",  # ticks driven by a plan the session chose
)
# Kept for the mission log only.
PRIVATE = ("manual_ticks", "lane_limit", "unsafe_gap", "emergency_brake", "rear_guard")
FIELDS = PUBLIC + PRIVATE
COLUMN = {name: k for k, name in enumerate(FIELDS)}
N_PUBLIC = len(PUBLIC)


class CounterTable:
    """``counts[slot, COLUMN[name]]``; a freed slot is zeroed before its next session."""

    COLUMN_DROPPED = COLUMN["dropped_frames"]

    def __init__(self, slots: int) -> None:
        self.counts = np.zeros((slots, len(FIELDS)), dtype=np.int64)
        self.closed = np.zeros(len(FIELDS), dtype=np.int64)  # totals of closed sessions

    def bump(self, slot: int, name: str, by: int = 1) -> None:
        self.counts[slot, COLUMN[name]] += by

    def add(self, slots: np.ndarray, name: str, values: np.ndarray | int = 1) -> None:
        """Add ``values`` (per slot, or one value) to column ``name`` of distinct ``slots``."""
        self.counts[slots, COLUMN[name]] += values

    def get(self, slot: int, name: str) -> int:
        return int(self.counts[slot, COLUMN[name]])

    def row(self, slot: int) -> np.ndarray:
        return self.counts[slot].copy()

    def public(self, slot: int) -> dict[str, int]:
        return dict(zip(PUBLIC, self.counts[slot, :N_PUBLIC].tolist(), strict=True))

    def retire(self, slot: int) -> None:
        """Fold a closing session's counts into the closed totals and clear its row."""
        self.closed += self.counts[slot]
        self.counts[slot] = 0

    def totals(self, live_slots: list[int]) -> dict[str, int]:
        total = self.closed + self.counts[live_slots].sum(axis=0)
        return dict(zip(PUBLIC, total[:N_PUBLIC].tolist(), strict=True))


def difference(end: np.ndarray, start: np.ndarray) -> dict[str, int]:
    """Counts accumulated between two rows of the table, by name."""
    return dict(zip(FIELDS, (end - start).tolist(), strict=True))
