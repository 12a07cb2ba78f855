"""Params cross into compiled code as one float64 vector (cheap to type-check per call)
and are unpacked into a :class:`KernelParams` tuple inside it.

The field order here must match ``KernelParams``; a test checks the round trip.
"""

import numpy as np

from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.params import KernelParams


def params_vector(kp: KernelParams) -> np.ndarray:
    """The vector form of ``kp`` (ints are stored exactly as floats)."""
    return np.array([float(v) for v in kp], dtype=np.float64)


@kernel
def unpack_params(v):
    """KernelParams from its vector form, inside compiled code."""
    return KernelParams(
        int(v[0]),  # n_lanes
        v[1],  # lane_width_m
        v[2],  # exit_distance_min_m
        v[3],  # exit_distance_max_m
        v[4],  # exit_ramp_length_m
        v[5],  # exit_spacing_min_m
        v[6],  # exit_spacing_max_m
        int(v[7]),  # n_vehicles
        v[8],  # traffic_density
        v[9],  # traffic_window_behind_m
        v[10],  # traffic_window_ahead_m
        v[11],  # traffic_speed_min_mps
        v[12],  # traffic_speed_max_mps
        v[13],  # traffic_headway_min_s
        v[14],  # traffic_headway_max_s
        v[15],  # traffic_politeness_min
        v[16],  # traffic_politeness_max
        v[17],  # traffic_accel_max_mps2
        v[18],  # traffic_decel_comfort_mps2
        v[19],  # traffic_brake_max_mps2
        v[20],  # traffic_min_gap_m
        v[21],  # mobil_safe_decel_mps2
        v[22],  # mobil_threshold_mps2
        v[23],  # mobil_keep_right_bias_mps2
        v[24],  # mobil_decision_hz
        v[25],  # lane_change_cooldown_s
        v[26],  # vehicle_length_m
        v[27],  # vehicle_width_m
        v[28],  # ego_accel_max_mps2
        v[29],  # ego_brake_max_mps2
        v[30],  # speed_max_mps
        v[31],  # lane_change_duration_s
        v[32],  # dt_s
        int(v[33]),  # substeps
        int(v[34]),  # max_steps
        int(v[35]),  # mission_changes
        v[36],  # mission_change_min_s
        v[37],  # mission_change_max_s
        v[38],  # target_speed_min_mps
        v[39],  # target_speed_max_mps
        v[40],  # cruise_tolerance_mps
        v[41],  # cruise_hold_s
        v[42],  # lane_hold_s
        v[43],  # mission_deadline_s
        v[44],  # exit_mission_min_lead_m
        v[45],  # mix_cruise
        v[46],  # mix_lane
        v[47],  # mix_exit
        v[48],  # w_speed
        v[49],  # w_progress
        v[50],  # w_mission_success
        v[51],  # w_mission_failure
        v[52],  # w_collision
        v[53],  # w_lane_change
        v[54],  # w_comfort
        v[55],  # w_headway
    )
