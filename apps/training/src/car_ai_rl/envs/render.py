"""A top-down RGB picture of one env, drawn with NumPy only."""

from __future__ import annotations

import numpy as np

from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState

ROAD = (90, 90, 96)
GRASS = (60, 120, 60)
MARK = (235, 235, 235)
RAMP = (120, 110, 100)
EGO = (40, 200, 90)
TRAFFIC = (70, 130, 220)
CRASH = (230, 60, 50)
BEHIND_M = 60.0
AHEAD_M = 140.0


def _fill(img: np.ndarray, x0: float, x1: float, y0: float, y1: float, color: tuple) -> None:
    h, w, _ = img.shape
    c0, c1 = max(int(round(x0)), 0), min(int(round(x1)), w)
    r0, r1 = max(int(round(y0)), 0), min(int(round(y1)), h)
    if c0 < c1 and r0 < r1:
        img[r0:r1, c0:c1] = color


def render_frame(
    state: SimState, b: int, params: SimParams, width_px: int = 600, collided: bool = False
) -> np.ndarray:
    """An (H, W, 3) uint8 image of env ``b`` centred on its ego."""
    px_per_m = width_px / (BEHIND_M + AHEAD_M)
    lw = params.lane_width_m
    margin_m = 4.0
    road_h_m = (params.n_lanes + 1) * lw + 2 * margin_m
    height_px = int(round(road_h_m * px_per_m))
    img = np.empty((height_px, width_px, 3), dtype=np.uint8)
    img[:] = GRASS
    x0_m = state.x_m[b, 0] - BEHIND_M

    def col(x_m: float) -> float:
        return (x_m - x0_m) * px_per_m

    def row(y_m: float) -> float:
        return (y_m + lw / 2 + margin_m) * px_per_m

    _fill(img, 0, width_px, row(-lw / 2), row(params.n_lanes * lw - lw / 2), ROAD)
    exit_x = state.exit_x_m[b]
    ramp_top, ramp_bottom = row(params.n_lanes * lw - lw / 2), row(params.n_lanes * lw + lw / 2)
    _fill(
        img, col(exit_x), col(exit_x + params.exit_ramp_length_m + 80), ramp_top, ramp_bottom, RAMP
    )
    for k in range(1, params.n_lanes):
        y = row(k * lw - lw / 2)
        start = -(x0_m % 12.0)
        for xm in np.arange(start, BEHIND_M + AHEAD_M, 12.0):
            _fill(img, xm * px_per_m, (xm + 6.0) * px_per_m, y - 1, y + 1, MARK)
    for y_edge in (row(-lw / 2), ramp_top):
        _fill(img, 0, width_px, y_edge - 1, y_edge + 1, MARK)
    for j in range(state.n_vehicles - 1, -1, -1):
        if not state.active[b, j]:
            continue
        x, y = state.x_m[b, j], state.y_m[b, j]
        half_l, half_w = state.length_m[b, j] / 2, state.width_m[b, j] / 2
        color = EGO if j == 0 else TRAFFIC
        if j == 0 and collided:
            color = CRASH
        _fill(img, col(x - half_l), col(x + half_l), row(y - half_w), row(y + half_w), color)
    return img
