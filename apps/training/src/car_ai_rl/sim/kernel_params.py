"""The parameters as the compiled kernels read them: one NumPy record, generated from the fields.

Every scalar field of :class:`SimParams` becomes a record field of the same name (nested
sections are flattened as ``section_field``, e.g. ``reward_collision``), plus a few derived
values. A record crosses into compiled code as a single pointer, so kernels can take the whole
parameter set at no call cost, and ``p.dt_s`` reads one number. Nothing here is kept in order
by hand: the layout is derived from the fields of the config class, in declaration order.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel

from car_ai_rl.sim.params import DEFAULT_PARAMS, SimParams


def _flat_fields(obj: BaseModel, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in type(obj).model_fields:
        value = getattr(obj, name)
        if isinstance(value, BaseModel):
            out.update(_flat_fields(value, f"{prefix}{name}_"))
        else:
            out[f"{prefix}{name}"] = value
    return out


def kernel_values(params: SimParams) -> dict[str, float | int]:
    """Every number the kernels read, by name (booleans become 0/1)."""
    values: dict[str, float | int] = {}
    for name, value in _flat_fields(params).items():
        if name == "n_vehicles":
            value = params.vehicle_count
        elif name == "traffic_density_max":
            value = params.densest_traffic
        values[name] = int(value) if isinstance(value, bool | int) else float(value)
    values["dt_s"] = params.dt_s
    values["max_steps"] = params.max_steps
    values["window_m"] = params.window_m  # each episode's segment is sized from it
    # tan of the heading limit: the lateral speed limit reads it every substep of a lane change
    values["lane_change_heading_slope"] = math.tan(params.lane_change_heading_max_rad)
    return values


KERNEL_DTYPE = np.dtype(
    [
        (name, np.int64 if isinstance(value, int) else np.float64)
        for name, value in kernel_values(DEFAULT_PARAMS).items()
    ]
)


def kernel_record(params: SimParams) -> np.recarray:
    """A one-element record array holding ``params``: what the batch kernels take."""
    record = np.zeros(1, dtype=KERNEL_DTYPE).view(np.recarray)
    for name, value in kernel_values(params).items():
        record[name][0] = value
    return record
