"""Field indices of the struct-of-arrays state buffers.

``veh`` has shape (N_VEH_FIELDS, B, N): one (B, N) plane per field, vehicle 0 is the ego.
``env`` has shape (N_ENV_FIELDS, B): one (B,) row per field.
"""

# ---- vehicle fields
X_M = 0  # longitudinal position of the vehicle centre
Y_M = 1  # lateral position of the vehicle centre; lane k is centred at k * lane_width_m
SPEED_MPS = 2
LANE = 3  # the lane the vehicle is in, or leaving during a lane change
TARGET_LANE = 4  # equals LANE when no lane change is under way
LC_PROGRESS = 5  # 0..1 through the current lane change
LENGTH_M = 6
WIDTH_M = 7
DESIRED_SPEED_MPS = 8
HEADWAY_S = 9
POLITENESS = 10
ACCEL_MPS2 = 11
ACTIVE = 12  # 1.0 when the vehicle takes part in traffic
LC_COOLDOWN_S = 13
N_VEH_FIELDS = 14

VEH_FIELD_NAMES = (
    "x_m",
    "y_m",
    "speed_mps",
    "lane",
    "target_lane",
    "lc_progress",
    "length_m",
    "width_m",
    "desired_speed_mps",
    "headway_s",
    "politeness",
    "accel_mps2",
    "active",
    "lc_cooldown_s",
)

# ---- env fields
STEP = 0
EXIT_X_M = 1  # start of the exit ramp's diverge zone (the ramp leaves the rightmost lane)
MISSION_KIND = 2
TARGET_SPEED_MPS = 3
MISSION_TARGET_LANE = 4
MISSION_START_STEP = 5
MISSION_DEADLINE_STEP = 6
MISSION_HOLD_S = 7
MISSION_STATUS = 8
NEXT_CHANGE_STEP = 9
EXITED = 10
PREV_ACCEL_MPS2 = 11
MISSION_ID = 12  # increases by one at every new mission within an episode
EPISODE_LANE_CHANGES = 13
N_ENV_FIELDS = 14

ENV_FIELD_NAMES = (
    "step",
    "exit_x_m",
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
    "mission_id",
    "episode_lane_changes",
)

# ---- mission kinds and statuses
CRUISE = 0
LANE_MISSION = 1
EXIT = 2
MISSION_KIND_NAMES = ("cruise", "lane", "exit")

PENDING = 0
SUCCEEDED = 1
FAILED = 2
MISSION_STATUS_NAMES = ("pending", "succeeded", "failed")

# ---- per-step event flags written by the step kernel, shape (B, N_EVENTS)
EV_COLLISION = 0
EV_AT_FAULT = 1
EV_MISSION_SUCCESS = 2
EV_MISSION_FAILURE = 3
EV_TERMINATED = 4
EV_TRUNCATED = 5
EV_EXITED = 6
EV_LANE_CHANGE_STARTED = 7
EV_SPEED_MPS = 8
EV_MISSION_KIND = 9
EV_MISSION_CHANGED = 10
EV_ACCEL_MPS2 = 11
EV_DISTANCE_M = 12
EV_TARGET_SPEED_MPS = 13
N_EVENTS = 14

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

# ---- control columns, shape (B, 3)
THROTTLE = 0
BRAKE = 1
LANE_REQUEST = 2  # -1 towards the left (lower lane index), +1 towards the right
