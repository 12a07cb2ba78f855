"""Gymnasium registration of ``car_ai_rl/HighwayMission-v0``."""

import gymnasium as gym

ENV_ID = "car_ai_rl/HighwayMission-v0"


def register_envs() -> None:
    if ENV_ID in gym.registry:
        return
    gym.register(
        id=ENV_ID,
        entry_point="car_ai_rl.envs.highway_env:HighwayMissionEnv",
        vector_entry_point="car_ai_rl.envs.vector:HighwayMissionVectorEnv",
        disable_env_checker=False,
    )
