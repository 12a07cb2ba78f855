"""What the discrete action set costs a driver: the heuristic with its own continuous
controls, beside the same heuristic restricted to the discrete actions a policy chooses from.

The restricted driver drives, every step, the kickstart's label of the heuristic's controls
(``train.pretrain.Teacher``): the controls after the supervisor, mapped to the discrete action
nearest in acceleration with the same lane request, among those the supervisor allows (the
verdicts in the observation). Both run under the
supervisor on the same seeds of the leaderboard's suites, so the difference in mission success
is what the 7 longitudinal levels cost a driver that knows what it wants; the rest of a learned
policy's gap to the heuristic is the policy's own.

    python bench/action_levels.py [--config evals/leaderboard.yaml] [--episodes 1000]

The last line of output is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from car_ai_rl.cli import report
from car_ai_rl.episodes.rollout import run_episodes
from car_ai_rl.errors import UserError
from car_ai_rl.evals.config import parse_config
from car_ai_rl.policies.heuristic_policy import HeuristicPolicy
from car_ai_rl.schema.files import read_yaml
from car_ai_rl.sim.controls import DISCRETE_CONTROLS
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState
from car_ai_rl.train.pretrain import Teacher


class DiscreteHeuristicPolicy(HeuristicPolicy):
    """The heuristic driving the kickstart's labels of its own controls: the discrete actions
    the supervisor allows."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "heuristic_discrete"
        self.teacher = Teacher("heuristic", supervised=True)

    def act(self, obs: np.ndarray, state: SimState, params: SimParams) -> np.ndarray:
        return DISCRETE_CONTROLS[self.teacher.labels(state, obs, params, "discrete", True)]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("evals/leaderboard.yaml"))
    parser.add_argument("--episodes", type=int, default=1000, help="seeds per suite (the first)")
    args = parser.parse_args(argv)
    # the config's suites only: its candidates need not exist yet
    data = read_yaml(args.config, flag="--config")
    data.update(candidates=[{"name": "heuristic", "source": "heuristic", "baseline": True}])
    data.update(rules=[])
    config = parse_config(data, path=args.config)
    drivers = (HeuristicPolicy(), DiscreteHeuristicPolicy())
    suites = {}
    for suite in config.suites:
        seeds = suite.seeds()[: args.episodes]
        row: dict[str, dict[str, float]] = {}
        for driver in drivers:
            start = time.perf_counter()
            episodes = run_episodes(driver, suite.params, seeds, supervisor=True).per_episode
            row[driver.name] = {
                "success_rate": float(np.mean(episodes["success"])),
                "collision_rate": float(np.mean(episodes["collision"])),
                "mean_abs_jerk_mps3": float(np.mean(episodes["mean_abs_jerk_mps3"])),
                "seconds": round(time.perf_counter() - start, 2),
            }
        row["success_cost_points"] = round(
            100 * (row["heuristic"]["success_rate"] - row["heuristic_discrete"]["success_rate"]), 1
        )
        suites[suite.name] = row
        print(f"{suite.name}: {row['success_cost_points']:+.1f} points", file=sys.stderr)
    result = {"episodes_per_suite": min(args.episodes, *(s.episodes for s in config.suites))}
    result["suites"] = suites
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    try:
        main()
    except UserError as exc:
        report(exc)
        sys.exit(exc.exit_code)
