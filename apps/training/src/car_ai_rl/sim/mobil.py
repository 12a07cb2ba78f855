"""Lane changes of the traffic: MOBIL (Kesting, Treiber & Helbing 2007) plus exits.

Rules, for a traffic vehicle i that is not changing lanes and not cooling down:
1. It decides mobil_decision_hz times a second, staggered by index; a vehicle bound for the
   exit and near it decides every step.
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
from car_ai_rl.sim.jit import kernel
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
from car_ai_rl.sim.neighbours import NO_VEHICLE, build_tables, bumper_gap_m
from car_ai_rl.sim.road import in_exit_zone

EXIT_URGENCY_MIN_MPS2 = 1.0
EXIT_URGENCY_MAX_MPS2 = 5.0
RAMP_CHANGE_TIME_S = 3.0  # time a move onto the ramp needs before the zone ends


@kernel
def change_gain(veh, env, b, i, new_lane, p, ring_m, lead_tab, follow_tab, acc_self_old):
    """MOBIL's own-plus-new-follower gain of moving i into ``new_lane``, or -inf when unsafe."""
    new_lead = lead_tab[i, new_lane]
    new_follow = follow_tab[i, new_lane]
    if new_lead != NO_VEHICLE and bumper_gap_m(veh, b, i, new_lead, ring_m) < p.traffic_min_gap_m:
        return -1e30
    gain_new_follow = 0.0
    if new_follow != NO_VEHICLE:
        if bumper_gap_m(veh, b, new_follow, i, ring_m) < p.traffic_min_gap_m:
            return -1e30
        acc_nf_new = idm_behind(veh, env, b, new_follow, i, p, ring_m)
        if acc_nf_new < -p.mobil_safe_decel_mps2:
            return -1e30
        # alone in the lane on the periodic segment, a vehicle is its own leader's follower
        nf_lead = NO_VEHICLE if new_lead == new_follow else new_lead
        acc_nf_old = idm_behind(veh, env, b, new_follow, nf_lead, p, ring_m)
        gain_new_follow = veh[POLITENESS, b, i] * (acc_nf_new - acc_nf_old)
    acc_self_new = idm_behind(veh, env, b, i, new_lead, p, ring_m)
    if acc_self_new < -p.mobil_safe_decel_mps2:
        return -1e30
    return acc_self_new - acc_self_old + gain_new_follow


@kernel
def lane_choice(veh, env, b, i, p, ring_m, lead_tab, follow_tab):
    """The lane vehicle i starts changing into now, or its own lane."""
    lane = int(veh[LANE, b, i])
    old_lead = lead_tab[i, lane]
    old_follow = follow_tab[i, lane]
    acc_self_old = idm_behind(veh, env, b, i, old_lead, p, ring_m)
    exiting = exit_approach(veh, env, b, i, p)
    if exiting and lane == p.n_lanes - 1:
        x = veh[X_M, b, i]
        zone_left_m = env[EXIT_X_M, b] + p.exit_ramp_length_m - x
        if in_exit_zone(env, b, x, p) and zone_left_m > RAMP_CHANGE_TIME_S * veh[SPEED_MPS, b, i]:
            ramp = p.n_lanes
            gain = change_gain(veh, env, b, i, ramp, p, ring_m, lead_tab, follow_tab, acc_self_old)
            if gain > -1e29:
                return ramp
        return lane
    # the old follower gains when i leaves: it would then follow i's old leader
    gain_old_follow = 0.0
    if old_follow != NO_VEHICLE:
        of_lead = NO_VEHICLE if old_follow == old_lead else old_lead
        gain_old_follow = idm_behind(veh, env, b, old_follow, of_lead, p, ring_m) - idm_behind(
            veh, env, b, old_follow, i, p, ring_m
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
            to_zone = max(env[EXIT_X_M, b] - veh[X_M, b, i], 0.0)
            closeness = 1.0 - min(to_zone / p.traffic_exit_prepare_m, 1.0)
            bias += (
                EXIT_URGENCY_MIN_MPS2 + (EXIT_URGENCY_MAX_MPS2 - EXIT_URGENCY_MIN_MPS2) * closeness
            )
        gain = change_gain(veh, env, b, i, new_lane, p, ring_m, lead_tab, follow_tab, acc_self_old)
        gain += veh[POLITENESS, b, i] * gain_old_follow + bias
        if gain > best_gain:
            best_gain = gain
            best = new_lane
    return best


@kernel
def traffic_lane_decisions(veh, env, b, step, p, ring_m, order, lead_tab, follow_tab, last):
    """Lane decisions of env b's traffic, in index order. ``order`` must be sorted and the
    tables built from it; they are rebuilt after each change so later deciders see it."""
    n = veh.shape[2]
    period = max(1, int(round(1.0 / (p.mobil_decision_hz * p.dt_s))))
    for i in range(1, n):
        if veh[ACTIVE, b, i] < 0.5 or veh[TARGET_LANE, b, i] != veh[LANE, b, i]:
            continue
        if veh[LC_COOLDOWN_S, b, i] > 0.0:
            continue
        if (step + i) % period != 0 and not exit_approach(veh, env, b, i, p):
            continue
        new_lane = lane_choice(veh, env, b, i, p, ring_m, lead_tab, follow_tab)
        if new_lane != veh[LANE, b, i]:
            veh[TARGET_LANE, b, i] = new_lane
            build_tables(veh, b, p.n_lanes, order, lead_tab, follow_tab, last)
