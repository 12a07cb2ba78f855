"""Named random streams: the last counter of ``rng.uniform`` so that draws never collide."""

EXIT_POSITION = 0
EGO_LANE = 1
EGO_SPEED = 2
TARGET_SPEED = 3
MISSION_KIND = 4
MISSION_LANE = 5
NEXT_CHANGE = 6
GAP_SHARE = 7
LANE_OFFSET = 8
DESIRED_SPEED = 9
HEADWAY = 10
POLITENESS = 11
HEAVY = 12
EXIT_INTENT = 13
EXIT_SPACING = 14
