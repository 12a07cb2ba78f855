"""Regenerate the golden trajectory of the simulator test suite.

Run this ONLY when a change to the simulator's trajectories is intended (new physics, new
observation features, new default params), then commit the new file with that change:

    python apps/training/scripts/make_golden.py

It writes ``apps/training/tests/data/golden_rollout.npz``: small seeded rollouts (the heuristic
driver and random controls through the supervisor with the default params, the heuristic in
dense traffic with short episodes, 4 lanes and 2 substeps so that auto-resets happen, and a
passive ego near an exit that most of the traffic takes), with their observations, rewards,
reward terms, events, controls, ego position and speed, and the whole vehicle state at the end.
``tests/test_sim_golden.py`` replays them and compares. The test suite also runs this script
with ``CAR_AI_RL_NO_NUMBA=1`` to check the plain-Python kernels against the compiled ones.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.policies.passive import passive_controls
from car_ai_rl.safety import supervisor
from car_ai_rl.sim import core, jit, layout
from car_ai_rl.sim.params import SimParams

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "golden_rollout.npz"
N_ENVS = 4
N_STEPS = 60
SEED = 20_241_124
# rollout name -> (params, policy)
ROLLOUTS = {
    "heuristic": ({}, "heuristic"),
    "supervised_random": ({}, "supervised_random"),
    "dense_short": (
        {"n_lanes": 4, "traffic_density": 30.0, "episode_duration_s": 4.0, "substeps": 2},
        "heuristic",
    ),
    "exiting_traffic": (
        {
            "traffic_density": 25.0,
            "traffic_exit_share": 0.6,
            "heavy_vehicle_share": 0.2,
            "exit_distance_min_m": 60.0,
            "exit_distance_max_m": 120.0,
        },
        "passive",
    ),
}


def golden_rollout(
    n_envs: int = N_ENVS, n_steps: int = N_STEPS, seed: int = SEED
) -> dict[str, np.ndarray]:
    """The arrays of the golden file, computed now."""
    out: dict[str, np.ndarray] = {
        "n_envs": np.array(n_envs),
        "n_steps": np.array(n_steps),
        "seed": np.array(seed),
        "using_numba": np.array(jit.USING_NUMBA),
    }
    for k, (name, (changes, policy)) in enumerate(ROLLOUTS.items()):
        params = SimParams(**changes)
        out[f"{name}_params_digest"] = np.array(params.digest())
        rng = np.random.default_rng(seed + k)
        state, obs0 = core.reset(params, core.seeds_from_ints(seed + 1000 * k, n_envs))
        obs, ego_x, ego_speed = [obs0], [state.x_m[:, 0].copy()], [state.speed_mps[:, 0].copy()]
        rewards, terms, events, controls, final_obs = [], [], [], [], []
        for _ in range(n_steps):
            if policy == "heuristic":
                c = heuristic_controls(state, params)
            elif policy == "passive":
                c = passive_controls(state, params)
            else:
                braking = rng.uniform(size=n_envs) < 1.0 / 3.0
                c = np.column_stack(
                    [
                        rng.uniform(0.0, 1.0, n_envs),
                        np.where(braking, rng.uniform(0.0, 1.0, n_envs), 0.0),
                        rng.integers(-1, 2, n_envs).astype(np.float64),
                    ]
                )
                c, _, _ = supervisor.filter(state, c, params)
            _, r = core.step(state, c, params)
            obs.append(r.obs)
            final_obs.append(np.where(r.done[:, None], r.final_obs, 0.0))
            rewards.append(r.reward)
            terms.append(r.terms)
            events.append(r.events)
            controls.append(c)
            ego_x.append(state.x_m[:, 0].copy())
            ego_speed.append(state.speed_mps[:, 0].copy())
        out[f"{name}_obs"] = np.stack(obs)
        out[f"{name}_final_obs"] = np.stack(final_obs)
        out[f"{name}_rewards"] = np.stack(rewards)
        out[f"{name}_terms"] = np.stack(terms)
        out[f"{name}_events"] = np.stack(events)
        out[f"{name}_controls"] = np.stack(controls)
        out[f"{name}_ego_x"] = np.stack(ego_x)
        out[f"{name}_ego_speed"] = np.stack(ego_speed)
        out[f"{name}_final_veh"] = state.veh.copy()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--n-envs", type=int, default=N_ENVS)
    parser.add_argument("--n-steps", type=int, default=N_STEPS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    data = golden_rollout(args.n_envs, args.n_steps, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp.npz")
    np.savez_compressed(tmp, **data)
    tmp.replace(args.out)
    ends = [layout.EV_TERMINATED, layout.EV_TRUNCATED]
    done = int(sum(data[f"{name}_events"][..., ends].sum() for name in ROLLOUTS))
    print(f"wrote {args.out} ({args.n_envs} envs x {args.n_steps} steps, {done} episode ends)")


if __name__ == "__main__":
    main()
