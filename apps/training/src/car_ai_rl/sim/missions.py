"""Missions: cruise at a target speed, move to a target lane, take the exit.

Success and failure rules (each mission resolves once):
- cruise: success when the ego holds its speed for cruise_hold_s in a row, either within
  cruise_tolerance_mps of the target or, when a slower vehicle close ahead (time headway up to
  CRUISE_BLOCKED_HEADWAY_S) blocks the lane, matched to that vehicle's speed (adaptive-cruise
  semantics); failure when the deadline (mission_deadline_s after it started) passes first.
- lane: success when the ego has finished its lane change into the target lane and held it
  for lane_hold_s; failure at the deadline.
- exit: success when the ego leaves on the ramp; failure when it passes the end of the ramp's
  diverge zone, or the episode ends first.
Leaving on the ramp during any other mission fails it, even after it succeeded: a cruise or
lane mission asks the ego to keep driving on the highway (without this, ending the episode
early on a ramp escaped every later mission and per-step penalty, and a trained policy took the
ramp after 12-33% of its missions). A mission still pending when the time limit ends the episode
fails: random changes only issue missions that have time to resolve.
"""

from car_ai_rl.sim import streams
from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.layout import (
    CRUISE,
    DESIRED_SPEED_MPS,
    EXIT,
    EXIT_X_M,
    EXITED,
    FAILED,
    LANE,
    LANE_MISSION,
    MISSION_DEADLINE_STEP,
    MISSION_HOLD_S,
    MISSION_ID,
    MISSION_KIND,
    MISSION_START_STEP,
    MISSION_STATUS,
    MISSION_TARGET_LANE,
    NEXT_CHANGE_STEP,
    PENDING,
    RING_LENGTH_M,
    SPEED_MPS,
    STEP,
    SUCCEEDED,
    TARGET_LANE,
    TARGET_SPEED_MPS,
    X_M,
)
from car_ai_rl.sim.neighbours import NO_VEHICLE, bumper_gap_m, leader_in_lane
from car_ai_rl.sim.rng import uniform

NEVER = 1 << 40
CRUISE_BLOCKED_HEADWAY_S = 2.5


@kernel
def blocking_leader(veh, env, b, p):
    """The slower vehicle close ahead in the ego's lane that keeps it under its target speed
    (time headway up to CRUISE_BLOCKED_HEADWAY_S, and slower than the target by more than the
    tolerance), or NO_VEHICLE."""
    v = veh[SPEED_MPS, b, 0]
    target = env[TARGET_SPEED_MPS, b]
    tol = p.cruise_tolerance_mps
    if v > target - tol or veh[TARGET_LANE, b, 0] != veh[LANE, b, 0]:
        return NO_VEHICLE
    ring = env[RING_LENGTH_M, b]
    lead = leader_in_lane(veh, b, veh[LANE, b, 0], veh[X_M, b, 0], 0, ring)
    if lead == NO_VEHICLE:
        return NO_VEHICLE
    close = bumper_gap_m(veh, b, 0, lead, ring) <= max(CRUISE_BLOCKED_HEADWAY_S * v, 10.0)
    if close and veh[SPEED_MPS, b, lead] < target - tol:
        return lead
    return NO_VEHICLE


@kernel
def cruise_holding(veh, env, b, p):
    """At the target speed, or matched to a slower leader that blocks the lane."""
    v = veh[SPEED_MPS, b, 0]
    tol = p.cruise_tolerance_mps
    if abs(v - env[TARGET_SPEED_MPS, b]) <= tol:
        return True
    lead = blocking_leader(veh, env, b, p)
    return lead != NO_VEHICLE and abs(v - veh[SPEED_MPS, b, lead]) <= tol


@kernel
def exit_mission_feasible(veh, env, b, target_speed_mps, p):
    """An exit mission needs the exit far enough ahead and time left to get there."""
    lead_m = env[EXIT_X_M, b] - veh[X_M, b, 0]
    if lead_m < p.exit_mission_min_lead_m:
        return False
    remaining_s = (p.max_steps - env[STEP, b]) * p.dt_s
    return lead_m / max(target_speed_mps, 1.0) + 5.0 <= remaining_s


@kernel
def apply_mission(veh, env, b, kind, target_speed_mps, target_lane, p):
    """Make (kind, target speed, target lane) the pending mission of env b, starting now."""
    step = env[STEP, b]
    env[MISSION_KIND, b] = kind
    env[TARGET_SPEED_MPS, b] = target_speed_mps
    veh[DESIRED_SPEED_MPS, b, 0] = target_speed_mps
    if kind == LANE_MISSION:
        env[MISSION_TARGET_LANE, b] = target_lane
    elif kind == EXIT:
        env[MISSION_TARGET_LANE, b] = p.n_lanes - 1
    else:
        env[MISSION_TARGET_LANE, b] = -1.0
    env[MISSION_START_STEP, b] = step
    if kind == EXIT:
        env[MISSION_DEADLINE_STEP, b] = NEVER
    else:
        env[MISSION_DEADLINE_STEP, b] = step + int(round(p.mission_deadline_s / p.dt_s))
    env[MISSION_HOLD_S, b] = 0.0
    env[MISSION_STATUS, b] = PENDING
    env[MISSION_ID, b] += 1.0


@kernel
def start_random_mission(veh, env, b, seed, counter, p):
    """Draw a mission from the mix (only kinds that can resolve in time) and schedule a change."""
    w_cruise = p.mission_mix_cruise
    w_lane = p.mission_mix_lane
    w_exit = p.mission_mix_exit
    target_speed = env[TARGET_SPEED_MPS, b]
    if counter == 0 or target_speed <= 0.0:
        target_speed = p.target_speed_min_mps + (
            p.target_speed_max_mps - p.target_speed_min_mps
        ) * uniform(seed, counter, 1, streams.TARGET_SPEED)
    if not exit_mission_feasible(veh, env, b, target_speed, p):
        w_exit = 0.0
    total = w_cruise + w_lane + w_exit
    if total <= 0.0:
        w_cruise = 1.0
        total = 1.0
    u = uniform(seed, counter, 0, streams.MISSION_KIND) * total
    if u < w_cruise:
        kind = CRUISE
        if counter > 0:
            target_speed = p.target_speed_min_mps + (
                p.target_speed_max_mps - p.target_speed_min_mps
            ) * uniform(seed, counter, 2, streams.TARGET_SPEED)
    elif u < w_cruise + w_lane:
        kind = LANE_MISSION
    else:
        kind = EXIT
    # a lane mission targets any lane but the one the ego is heading to
    ego_lane = int(veh[TARGET_LANE, b, 0])
    if ego_lane > p.n_lanes - 1:
        ego_lane = p.n_lanes - 1
    shift = 1 + min(
        int(uniform(seed, counter, 0, streams.MISSION_LANE) * (p.n_lanes - 1)), p.n_lanes - 2
    )
    target_lane = (ego_lane + shift) % p.n_lanes
    apply_mission(veh, env, b, kind, target_speed, target_lane, p)
    schedule_change(env, b, seed, counter, p)


@kernel
def schedule_change(env, b, seed, counter, p):
    """Pick the step of the next random mission change (or never)."""
    if p.mission_changes == 0:
        env[NEXT_CHANGE_STEP, b] = NEVER
        return
    gap_s = p.mission_change_min_s + (p.mission_change_max_s - p.mission_change_min_s) * uniform(
        seed, counter, 0, streams.NEXT_CHANGE
    )
    change_step = env[STEP, b] + int(round(gap_s / p.dt_s))
    # only issue a new mission when it can still resolve before the time limit
    if (p.max_steps - change_step) * p.dt_s < p.mission_deadline_s:
        env[NEXT_CHANGE_STEP, b] = NEVER
    else:
        env[NEXT_CHANGE_STEP, b] = change_step


@kernel
def update_mission(veh, env, b, ego_exited, p):
    """Judge the mission after a step. Returns (succeeded_now, failed_now)."""
    kind = int(env[MISSION_KIND, b])
    if ego_exited and kind != EXIT and env[MISSION_STATUS, b] == SUCCEEDED:
        env[MISSION_STATUS, b] = FAILED  # left the highway unasked after succeeding
        return False, True
    if env[MISSION_STATUS, b] != PENDING:
        return False, False
    step = env[STEP, b]
    dt = p.dt_s
    success = False
    failure = False
    if ego_exited:
        success = kind == EXIT
        failure = not success
    elif kind == EXIT:
        x = veh[X_M, b, 0]
        taking_ramp = veh[TARGET_LANE, b, 0] == p.n_lanes
        if x > env[EXIT_X_M, b] + p.exit_ramp_length_m and not taking_ramp:
            failure = True
    else:
        if kind == CRUISE:
            holding = cruise_holding(veh, env, b, p)
            needed_s = p.cruise_hold_s
        else:
            lane = env[MISSION_TARGET_LANE, b]
            holding = veh[LANE, b, 0] == lane and veh[TARGET_LANE, b, 0] == lane
            needed_s = p.lane_hold_s
        if holding:
            env[MISSION_HOLD_S, b] += dt
        else:
            env[MISSION_HOLD_S, b] = 0.0
        if env[MISSION_HOLD_S, b] >= needed_s - 1e-9:
            success = True
        elif step >= env[MISSION_DEADLINE_STEP, b]:
            failure = True
    if success:
        env[MISSION_STATUS, b] = SUCCEEDED
    elif failure:
        env[MISSION_STATUS, b] = FAILED
    return success, failure


@kernel
def fail_pending_at_time_limit(env, b):
    """The time limit ends a pending mission as a failure. Returns True when one failed."""
    if env[MISSION_STATUS, b] == PENDING:
        env[MISSION_STATUS, b] = FAILED
        return True
    return False


@kernel
def maybe_change_mission(veh, env, seeds, b, p):
    """Random mid-episode mission changes. Returns True when a new mission started."""
    if env[STEP, b] < env[NEXT_CHANGE_STEP, b]:
        return False
    start_random_mission(veh, env, b, seeds[b], int(env[STEP, b]) + 1, p)
    return True


@kernel
def exit_zone_contains(env, b, x_m, p):
    start = env[EXIT_X_M, b]
    return start <= x_m <= start + p.exit_ramp_length_m


@kernel
def exited_flag(env, b):
    return env[EXITED, b] > 0.5
