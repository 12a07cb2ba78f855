"""PPO training throughput: car_ai_rl vs highway-env's highway-fast-v0, in the same run.

Both sides train SB3 PPO with the same hyperparameters, 4 envs and one torch thread: ours in
the batched ``HighwayMissionVecEnv`` (no subprocesses), the peer in SB3's ``DummyVecEnv``. Ours
also runs as training does by default, choosing driving plans under the supervisor (each step
the heuristic driver decodes the plans), and as the discrete mode trains: sb3-contrib's
MaskablePPO under the supervisor, masked by the verdicts in the observation. Prints one JSON object with timesteps/s for each and the
ratios. Run from apps/training after `pip install -e .[bench]`:

    python bench/train_throughput.py [--our-steps 40960] [--peer-steps 2048]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import gymnasium as gym
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv

N_ENVS = 4
PPO_KWARGS = {"n_steps": 256, "batch_size": 256, "n_epochs": 4, "device": "cpu", "verbose": 0}


def timesteps_per_s(env, steps: int, algo: type = PPO) -> float:
    """Train ``algo`` for ``steps`` after one warm-up rollout; timesteps per wall second."""
    model = algo("MlpPolicy", env, seed=0, **PPO_KWARGS)
    model.learn(PPO_KWARGS["n_steps"] * N_ENVS)  # warm-up: compilation, first rollout
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--our-steps", type=int, default=40_960)
    parser.add_argument("--peer-steps", type=int, default=2_048)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.distributions.Distribution.set_default_validate_args(False)

    ours = timesteps_per_s(HighwayMissionVecEnv(N_ENVS), args.our_steps)
    plans = timesteps_per_s(
        HighwayMissionVecEnv(N_ENVS, "plan", safety_supervisor=True), args.our_steps
    )
    masked = timesteps_per_s(
        HighwayMissionVecEnv(N_ENVS, safety_supervisor=True), args.our_steps, MaskablePPO
    )

    warnings.filterwarnings("ignore")
    import highway_env  # noqa: F401  (registers highway-fast-v0)

    peer_env = DummyVecEnv([lambda: gym.make("highway-fast-v0") for _ in range(N_ENVS)])
    peer = timesteps_per_s(peer_env, args.peer_steps)
    print(
        json.dumps(
            {
                "ours_timesteps_per_s": round(ours, 1),
                "ours_plan_supervised_timesteps_per_s": round(plans, 1),
                "ours_masked_supervised_timesteps_per_s": round(masked, 1),
                "highway_fast_v0_timesteps_per_s": round(peer, 2),
                "ratio": round(ours / peer, 1),
                "ratio_plan": round(plans / peer, 1),
                "ratio_masked": round(masked / peer, 1),
                "n_envs": N_ENVS,
                "ppo": {k: v for k, v in PPO_KWARGS.items() if k != "verbose"},
                "seed_command_minutes_ours": round(1_500_000 / ours / 60, 1),
                "seed_command_minutes_ours_plan": round(1_500_000 / plans / 60, 1),
                "seed_command_minutes_ours_masked": round(1_500_000 / masked / 60, 1),
                "seed_command_hours_peer": round(1_500_000 / peer / 3600, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
