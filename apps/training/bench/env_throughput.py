"""Environment throughput: car_ai_rl vs highway-env's highway-fast-v0, in the same run.

Prints one JSON object with one row per measurement, each with its lane and vehicle counts.
The peer and our default (16 vehicles/km/lane) both have 3 lanes and 20 vehicles; our batched
rows also run at 30 and 60 vehicles/km/lane (36 and 72 vehicles). Random actions, no rendering.
Run from apps/training after `pip install -e .[bench]`:

    python bench/env_throughput.py [--seconds 5] [--batch 1024]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import gymnasium as gym
import numpy as np

import car_ai_rl.envs  # noqa: F401  (registers the env)
from car_ai_rl.envs.vector import HighwayMissionVectorEnv

DENSITIES = (16.0, 30.0, 60.0)  # vehicles/km/lane; 16 is the default


def timed_steps(step_once, min_seconds: float, min_steps: int) -> float:
    """Steps per second of ``step_once`` over at least ``min_seconds`` and ``min_steps``."""
    n = 0
    start = time.perf_counter()
    while True:
        n += step_once()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and n >= min_steps:
            return n / elapsed


def single_env_rate(env: gym.Env, seconds: float, min_steps: int) -> float:
    env.reset(seed=0)
    env.action_space.seed(0)

    def step_once() -> int:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
        return 1

    step_once()  # warm-up (compilation, first reset)
    return timed_steps(step_once, seconds, min_steps)


def batched_rate(n_envs: int, seconds: float, density: float) -> float:
    venv = HighwayMissionVectorEnv(num_envs=n_envs, traffic_density=density)
    venv.reset(seed=0)
    rng = np.random.default_rng(0)

    def step_once() -> int:
        venv.step(rng.integers(0, venv.single_action_space.n, size=n_envs))
        return n_envs

    step_once()
    return timed_steps(step_once, seconds, n_envs * 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum time per measurement")
    parser.add_argument("--batch", type=int, default=1024, help="envs in the batched measurement")
    parser.add_argument("--peer-steps", type=int, default=150, help="minimum highway-env steps")
    args = parser.parse_args()

    ours = gym.make("car_ai_rl/HighwayMission-v0")
    params = ours.unwrapped.params
    dt_s = params.dt_s
    single = single_env_rate(ours, args.seconds, 1000)
    batched = {d: batched_rate(args.batch, args.seconds, d) for d in DENSITIES}

    warnings.filterwarnings("ignore")
    import highway_env  # noqa: F401  (registers highway-fast-v0)

    peer = gym.make("highway-fast-v0")
    peer_cfg = peer.unwrapped.config
    peer_dt_s = 1.0 / peer_cfg["policy_frequency"]
    peer_rate = single_env_rate(peer, args.seconds, args.peer_steps)

    def row(name: str, rate: float, density: float, batch: int) -> dict:
        p = params.replace(traffic_density=density)
        return {
            "name": name,
            "steps_per_s": round(rate, 1),
            "batch": batch,
            "lanes": p.n_lanes,
            "density_veh_km_lane": density,
            "vehicles": p.vehicle_count,
            "sim_seconds_per_wall_second": round(rate * dt_s, 1),
            "ratio_vs_peer": round(rate / peer_rate, 1),
        }

    rows = [row("car_ai_rl single env (Gymnasium API)", single, params.traffic_density, 1)]
    rows += [
        row(f"car_ai_rl batched, {d:g} veh/km/lane", r, d, args.batch) for d, r in batched.items()
    ]
    rows.append(
        {
            "name": "highway-env highway-fast-v0 single env",
            "steps_per_s": round(peer_rate, 2),
            "batch": 1,
            "lanes": peer_cfg["lanes_count"],
            "vehicles": peer_cfg["vehicles_count"],
            "sim_seconds_per_wall_second": round(peer_rate * peer_dt_s, 2),
            "ratio_vs_peer": 1.0,
        }
    )
    default_batched = batched[params.traffic_density]
    result = {
        "rows": rows,
        "ratio_single": round(single / peer_rate, 1),
        "ratio_batched": round(default_batched / peer_rate, 1),
        "ratio_sim_seconds_batched": round(default_batched * dt_s / (peer_rate * peer_dt_s), 1),
        "cost_per_vehicle_step_ns": {
            f"{d:g}": round(1e9 / (r * params.replace(traffic_density=d).vehicle_count), 1)
            for d, r in batched.items()
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
