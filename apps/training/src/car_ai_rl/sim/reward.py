"""Named reward terms. Each is already weighted and signed; the reward is their sum.

Per-step terms are penalties (<= 0); success and failure are one-off events. Ending the episode
early on a ramp would escape the per-step penalties, but leaving on a ramp no mission asked for
fails the mission, even one that had succeeded (``sim.missions``).
"""

from car_ai_rl.sim.jit import kernel

REWARD_TERMS: tuple[str, ...] = (
    "speed",
    "progress",
    "mission_success",
    "mission_failure",
    "collision",
    "lane_change",
    "comfort",
    "headway",
)
N_TERMS = len(REWARD_TERMS)
T_SPEED, T_PROGRESS, T_SUCCESS, T_FAILURE, T_COLLISION, T_LANE_CHANGE, T_COMFORT, T_HEADWAY = range(
    N_TERMS
)

SPEED_ERROR_FULL_MPS = 10.0
HEADWAY_COMFORT_S = 1.0


@kernel
def lane_potential(y_lanes, target_lane):
    """Shaping potential for lane and exit missions: minus the lateral distance to the target."""
    if target_lane < 0:
        return 0.0
    return -abs(y_lanes - target_lane)


@kernel
def write_terms(
    out,
    speed_mps,
    target_speed_mps,
    potential_before,
    potential_after,
    succeeded,
    failed,
    collided,
    lane_change_started,
    jerk_mps3,
    headway_s,
    p,
):
    err = abs(speed_mps - target_speed_mps) / SPEED_ERROR_FULL_MPS
    out[T_SPEED] = -p.reward_speed * min(err, 1.0)
    out[T_PROGRESS] = p.reward_progress * (potential_after - potential_before)
    out[T_SUCCESS] = p.reward_mission_success if succeeded else 0.0
    out[T_FAILURE] = -p.reward_mission_failure if failed else 0.0
    out[T_COLLISION] = -p.reward_collision if collided else 0.0
    out[T_LANE_CHANGE] = -p.reward_lane_change if lane_change_started else 0.0
    out[T_COMFORT] = -p.reward_comfort * min(abs(jerk_mps3) / 50.0, 1.0)
    if headway_s < HEADWAY_COMFORT_S:
        out[T_HEADWAY] = -p.reward_headway * (1.0 - headway_s / HEADWAY_COMFORT_S)
    else:
        out[T_HEADWAY] = 0.0
    total = 0.0
    for k in range(out.shape[0]):
        total += out[k]
    return total
