"""Lane changes of the traffic: MOBIL (Kesting, Treiber & Helbing 2007) plus exits.

Rules, for a traffic vehicle i that is not changing lanes and not cooling down:
1. It decides mobil_decision_hz times a second, staggered by index; a vehicle bound for the
   exit that is inside the diverge zone in the rightmost lane looks for a gap every step.
2. Safety: no change into a gap smaller than the minimum gap, or one where i or its new
   follower would have to brake harder than mobil_safe_decel_mps2.
3. Incentive: i's acceleration gain, plus politeness times its old and new followers' gains,
   plus the keep-right bias, must beat mobil_threshold_mps2; the best direction wins.
4. Heavy vehicles never enter the leftmost lane of a road with three or more lanes.
5. A vehicle bound for the exit never moves left within traffic_exit_prepare_m of it; moving
   right gains an urgency that grows toward the exit; in the rightmost lane inside the diverge
   zone it moves onto the ramp (lane n_lanes) as soon as that is safe.
Decisions are made in index order, each one seeing the changes decided before it.
"""

from car_ai_rl.sim.car_following import exit_approach, idm_behind
from car_ai_rl.sim.jit import inline_kernel, kernel
from car_ai_rl.sim.layout import (
    ACTIVE,
    EXIT_X_M,
    HEAVY,
    LANE,
    LC_COOLDOWN_S,
    POLITENESS,
    SPEED_MPS,
    TARGET_LANE,
    X_M,
)
from car_ai_rl.sim.neighbours import NO_VEHICLE, bumper_gap_m, nearest_in_lane
from car_ai_rl.sim.road import in_exit_zone

EXIT_URGENCY_MIN_MPS2 = 1.0
EXIT_URGENCY_MAX_MPS2 = 5.0
RAMP_CHANGE_TIME_S = 3.0  # time a move onto the ramp needs before the zone ends


@inline_kernel
def ramp_in_reach(veh, env, b, i, p):
    """True when vehicle i is bound for the exit, in the rightmost lane, inside the zone: it
    looks for a gap onto the ramp every step."""
    return (
        veh[LANE, b, i] == p.n_lanes - 1
        and in_exit_zone(env, b, veh[X_M, b, i], p)
        and exit_approach(veh, b, i, p, env[EXIT_X_M, b])
    )


@inline_kernel
def change_gain(veh, b, i, new_lane, p, ring_m, exit_x_m, order, rank, acc_self_old):
    """MOBIL's own-plus-new-follower gain of moving i into ``new_lane``, or -1e30 when unsafe."""
    new_lead = nearest_in_lane(veh, b, order, rank, i, new_lane, True)
    new_follow = nearest_in_lane(veh, b, order, rank, i, new_lane, False)
    if new_lead != NO_VEHICLE and bumper_gap_m(veh, b, i, new_lead, ring_m) < p.traffic_min_gap_m:
        return -1e30
    gain_new_follow = 0.0
    if new_follow != NO_VEHICLE:
        if bumper_gap_m(veh, b, new_follow, i, ring_m) < p.traffic_min_gap_m:
            return -1e30
        acc_nf_new = idm_behind(veh, b, new_follow, i, p, ring_m, exit_x_m)
        if acc_nf_new < -p.mobil_safe_decel_mps2:
            return -1e30
        # alone in the lane on the periodic segment, a vehicle is its own leader's follower
        nf_lead = NO_VEHICLE if new_lead == new_follow else new_lead
        acc_nf_old = idm_behind(veh, b, new_follow, nf_lead, p, ring_m, exit_x_m)
        gain_new_follow = veh[POLITENESS, b, i] * (acc_nf_new - acc_nf_old)
    acc_self_new = idm_behind(veh, b, i, new_lead, p, ring_m, exit_x_m)
    if acc_self_new < -p.mobil_safe_decel_mps2:
        return -1e30
    return acc_self_new - acc_self_old + gain_new_follow


@kernel
def lane_choice(veh, env, b, i, p, ring_m, order, rank):
    """The lane vehicle i starts changing into now, or its own lane (``order``: vehicles
    sorted by position, ``rank``: their places in it)."""
    lane = int(veh[LANE, b, i])
    old_lead = nearest_in_lane(veh, b, order, rank, i, lane, True)
    old_follow = nearest_in_lane(veh, b, order, rank, i, lane, False)
    exit_x = env[EXIT_X_M, b]
    acc_self_old = idm_behind(veh, b, i, old_lead, p, ring_m, exit_x)
    exiting = exit_approach(veh, b, i, p, exit_x)
    if exiting and lane == p.n_lanes - 1:
        x = veh[X_M, b, i]
        zone_left_m = env[EXIT_X_M, b] + p.exit_ramp_length_m - x
        if in_exit_zone(env, b, x, p) and zone_left_m > RAMP_CHANGE_TIME_S * veh[SPEED_MPS, b, i]:
            gain = change_gain(veh, b, i, p.n_lanes, p, ring_m, exit_x, order, rank, acc_self_old)
            if gain > -1e29:
                return p.n_lanes
        return lane
    # the old follower gains when i leaves: it would then follow i's old leader
    gain_old_follow = 0.0
    if old_follow != NO_VEHICLE:
        of_lead = NO_VEHICLE if old_follow == old_lead else old_lead
        gain_old_follow = idm_behind(veh, b, old_follow, of_lead, p, ring_m, exit_x) - idm_behind(
            veh, b, old_follow, i, p, ring_m, exit_x
        )
    heavy = veh[HEAVY, b, i] > 0.5
    best = lane
    best_gain = p.mobil_threshold_mps2
    for direction in (-1, 1):
        new_lane = lane + direction
        if new_lane < 0 or new_lane > p.n_lanes - 1:
            continue
        if heavy and new_lane == 0 and p.n_lanes >= 3:
            continue
        bias = direction * p.mobil_keep_right_bias_mps2
        if exiting:
            if direction < 0:
                continue
            to_zone = max(exit_x - veh[X_M, b, i], 0.0)
            closeness = 1.0 - min(to_zone / p.traffic_exit_prepare_m, 1.0)
            bias += (
                EXIT_URGENCY_MIN_MPS2 + (EXIT_URGENCY_MAX_MPS2 - EXIT_URGENCY_MIN_MPS2) * closeness
            )
        gain = change_gain(veh, b, i, new_lane, p, ring_m, exit_x, order, rank, acc_self_old)
        gain += veh[POLITENESS, b, i] * gain_old_follow + bias
        if gain > best_gain:
            best_gain = gain
            best = new_lane
    return best


@kernel
def traffic_lane_decisions(veh, env, b, step, p, ring_m, order, rank):
    """Lane decisions of env b's traffic, in index order, each seeing the changes decided
    before it (``order``: vehicles sorted by position, ``rank``: their places in it)."""
    n = veh.shape[2]
    period = max(1, int(round(1.0 / (p.mobil_decision_hz * p.dt_s))))
    for i in range(1, n):
        if veh[ACTIVE, b, i] < 0.5 or veh[TARGET_LANE, b, i] != veh[LANE, b, i]:
            continue
        if veh[LC_COOLDOWN_S, b, i] > 0.0:
            continue
        if (step + i) % period != 0 and not ramp_in_reach(veh, env, b, i, p):
            continue
        new_lane = lane_choice(veh, env, b, i, p, ring_m, order, rank)
        if new_lane != veh[LANE, b, i]:
            veh[TARGET_LANE, b, i] = new_lane
