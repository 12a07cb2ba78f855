"""Field indices of the struct-of-arrays state buffers.

``veh`` has shape (N_VEH_FIELDS, B, N): one (B, N) plane per field, vehicle 0 is the ego.
``env`` has shape (N_ENV_FIELDS, B): one (B,) row per field.
Each index is derived from its name, so the names and the indices cannot drift apart.
"""

# ---- vehicle fields
VEH_FIELD_NAMES = (
    "x_m",  # longitudinal position of the vehicle centre
    "y_m",  # lateral position of the centre; lane k is centred at k * lane_width_m
    "speed_mps",
    "lane",  # the lane the vehicle is in, or leaving during a lane change
    "target_lane",  # equals lane when no lane change is under way
    "lateral_speed_mps",  # + toward higher lane indices (right)
    "length_m",
    "width_m",
    "desired_speed_mps",
    "headway_s",
    "politeness",
    "accel_mps2",  # acceleration over the last substep
    "active",  # 1.0 when the vehicle takes part in traffic
    "lc_cooldown_s",  # time before the vehicle may start another lane change
    "accel_max_mps2",  # IDM maximum acceleration of this vehicle
    "heavy",  # 1.0 for a heavy vehicle
    "exit_intent",  # 1.0 when the vehicle wants to leave at the next exit
)
X_M = VEH_FIELD_NAMES.index("x_m")
Y_M = VEH_FIELD_NAMES.index("y_m")
SPEED_MPS = VEH_FIELD_NAMES.index("speed_mps")
LANE = VEH_FIELD_NAMES.index("lane")
TARGET_LANE = VEH_FIELD_NAMES.index("target_lane")
LAT_SPEED_MPS = VEH_FIELD_NAMES.index("lateral_speed_mps")
LENGTH_M = VEH_FIELD_NAMES.index("length_m")
WIDTH_M = VEH_FIELD_NAMES.index("width_m")
DESIRED_SPEED_MPS = VEH_FIELD_NAMES.index("desired_speed_mps")
HEADWAY_S = VEH_FIELD_NAMES.index("headway_s")
POLITENESS = VEH_FIELD_NAMES.index("politeness")
ACCEL_MPS2 = VEH_FIELD_NAMES.index("accel_mps2")
ACTIVE = VEH_FIELD_NAMES.index("active")
LC_COOLDOWN_S = VEH_FIELD_NAMES.index("lc_cooldown_s")
ACCEL_MAX_MPS2 = VEH_FIELD_NAMES.index("accel_max_mps2")
HEAVY = VEH_FIELD_NAMES.index("heavy")
EXIT_INTENT = VEH_FIELD_NAMES.index("exit_intent")
N_VEH_FIELDS = len(VEH_FIELD_NAMES)

# ---- env fields
ENV_FIELD_NAMES = (
    "step",
    "exit_x_m",  # start of the exit ramp's diverge zone (the ramp leaves the rightmost lane)
    "mission_kind",
    "target_speed_mps",
    "mission_target_lane",
    "mission_start_step",
    "mission_deadline_step",
    "mission_hold_s",
    "mission_status",
    "next_change_step",
    "exited",
    "prev_accel_mps2",
    "mission_id",  # increases by one at every new mission within an episode
    "episode_lane_changes",
    "ring_length_m",  # length of this episode's periodic road segment
    "vehicle_count",  # vehicles taking part in this episode, the ego included
)
STEP = ENV_FIELD_NAMES.index("step")
EXIT_X_M = ENV_FIELD_NAMES.index("exit_x_m")
MISSION_KIND = ENV_FIELD_NAMES.index("mission_kind")
TARGET_SPEED_MPS = ENV_FIELD_NAMES.index("target_speed_mps")
MISSION_TARGET_LANE = ENV_FIELD_NAMES.index("mission_target_lane")
MISSION_START_STEP = ENV_FIELD_NAMES.index("mission_start_step")
MISSION_DEADLINE_STEP = ENV_FIELD_NAMES.index("mission_deadline_step")
MISSION_HOLD_S = ENV_FIELD_NAMES.index("mission_hold_s")
MISSION_STATUS = ENV_FIELD_NAMES.index("mission_status")
NEXT_CHANGE_STEP = ENV_FIELD_NAMES.index("next_change_step")
EXITED = ENV_FIELD_NAMES.index("exited")
PREV_ACCEL_MPS2 = ENV_FIELD_NAMES.index("prev_accel_mps2")
MISSION_ID = ENV_FIELD_NAMES.index("mission_id")
EPISODE_LANE_CHANGES = ENV_FIELD_NAMES.index("episode_lane_changes")
RING_LENGTH_M = ENV_FIELD_NAMES.index("ring_length_m")
VEHICLE_COUNT = ENV_FIELD_NAMES.index("vehicle_count")
N_ENV_FIELDS = len(ENV_FIELD_NAMES)

# ---- mission kinds and statuses
MISSION_KIND_NAMES = ("cruise", "lane", "exit")
CRUISE = MISSION_KIND_NAMES.index("cruise")
LANE_MISSION = MISSION_KIND_NAMES.index("lane")
EXIT = MISSION_KIND_NAMES.index("exit")

MISSION_STATUS_NAMES = ("pending", "succeeded", "failed")
PENDING = MISSION_STATUS_NAMES.index("pending")
SUCCEEDED = MISSION_STATUS_NAMES.index("succeeded")
FAILED = MISSION_STATUS_NAMES.index("failed")

# ---- per-step event values written by the step kernel, shape (B, N_EVENTS)
EVENT_NAMES = (
    "collision",
    "at_fault",
    "mission_success",
    "mission_failure",
    "terminated",
    "truncated",
    "exited",
    "lane_change_started",
    "speed_mps",
    "mission_kind",
    "mission_changed",
    "accel_mps2",
    "distance_m",
    "target_speed_mps",
)
EV_COLLISION = EVENT_NAMES.index("collision")
EV_AT_FAULT = EVENT_NAMES.index("at_fault")
EV_MISSION_SUCCESS = EVENT_NAMES.index("mission_success")
EV_MISSION_FAILURE = EVENT_NAMES.index("mission_failure")
EV_TERMINATED = EVENT_NAMES.index("terminated")
EV_TRUNCATED = EVENT_NAMES.index("truncated")
EV_EXITED = EVENT_NAMES.index("exited")
EV_LANE_CHANGE_STARTED = EVENT_NAMES.index("lane_change_started")
EV_SPEED_MPS = EVENT_NAMES.index("speed_mps")
EV_MISSION_KIND = EVENT_NAMES.index("mission_kind")
EV_MISSION_CHANGED = EVENT_NAMES.index("mission_changed")
EV_ACCEL_MPS2 = EVENT_NAMES.index("accel_mps2")
EV_DISTANCE_M = EVENT_NAMES.index("distance_m")
EV_TARGET_SPEED_MPS = EVENT_NAMES.index("target_speed_mps")
N_EVENTS = len(EVENT_NAMES)

# ---- control columns, shape (B, 3)
CONTROL_NAMES = ("throttle", "brake", "lane_request")
THROTTLE = CONTROL_NAMES.index("throttle")
BRAKE = CONTROL_NAMES.index("brake")
LANE_REQUEST = CONTROL_NAMES.index("lane_request")  # -1 toward the left (lower index), +1 right
