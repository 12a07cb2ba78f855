"""Adapters over the batched core: Gymnasium Env and VectorEnv, SB3 VecEnv, rendering."""

from car_ai_rl.envs.registration import ENV_ID, register_envs

register_envs()

__all__ = ["ENV_ID", "register_envs"]
