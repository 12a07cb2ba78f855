"""The periodic traffic segment's size for a density: one formula for the params (which size
the vehicle buffer) and the reset kernel (which sizes each episode's segment)."""

import math

from car_ai_rl.sim.jit import kernel


def segment_vehicles(density_per_km_lane: float, window_m: float, n_lanes: int) -> int:
    """Vehicles (ego included) that give at least ``density`` over ``window_m`` on every lane."""
    wanted = density_per_km_lane * window_m / 1000.0 * n_lanes
    return max(1, math.ceil(wanted - 1e-9))


def segment_length_m(
    n_vehicles: int, density_per_km_lane: float, window_m: float, n_lanes: int
) -> float:
    """Length of the segment on which ``n_vehicles`` make exactly the density (the window
    itself when there is no traffic)."""
    if n_vehicles < 2 or density_per_km_lane <= 0.0:
        return window_m
    return 1000.0 * n_vehicles / (density_per_km_lane * n_lanes)


def heavy_count(share: float, n_vehicles: int) -> int:
    """Heavy vehicles among the ``n_vehicles - 1`` traffic vehicles."""
    return int(round(share * (n_vehicles - 1)))


segment_vehicles_kernel = kernel(segment_vehicles)
segment_length_m_kernel = kernel(segment_length_m)
heavy_count_kernel = kernel(heavy_count)
