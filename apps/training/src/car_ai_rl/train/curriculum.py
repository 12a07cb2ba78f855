"""Curriculum: traffic density (and the top of its range) and mission changes ramp up over
training."""

from __future__ import annotations

from car_ai_rl.sim.params import SimParams
from car_ai_rl.train.config import Curriculum


def params_at(progress: float, target: SimParams, curriculum: Curriculum) -> SimParams:
    """The sim params to train on at ``progress`` (0 = start, 1 = end of training)."""
    if not curriculum.enabled:
        return target
    ramp = 1.0 if curriculum.ramp_fraction <= 0 else min(progress / curriculum.ramp_fraction, 1.0)
    start = min(curriculum.density_start, target.traffic_density)
    density = start + (target.traffic_density - start) * ramp
    changes = target.mission_changes and progress >= curriculum.mission_changes_after_fraction
    densest = None
    if target.traffic_density_max is not None:
        top = max(start, target.traffic_density_max)
        densest = round(start + (top - start) * ramp, 3)
    return target.replace(
        traffic_density=round(density, 3), traffic_density_max=densest, mission_changes=changes
    )
