"""SB3 callbacks: evaluation metrics on fixed seeds and curriculum updates."""

from __future__ import annotations

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback

from car_ai_rl.sim.params import SimParams
from car_ai_rl.train.checkpoints import next_multiple
from car_ai_rl.train.config import Curriculum
from car_ai_rl.train.curriculum import params_at
from car_ai_rl.train.evaluation import evaluate_model
from car_ai_rl.train.reproducibility import torch_threads_kept


class EvalMetricsCallback(BaseCallback):
    """Whenever the run's step count passes a multiple of ``every_steps``, log mission metrics
    on fixed seeds (with and without supervisor). A resumed run continues the same schedule."""

    def __init__(
        self, params: SimParams, action_mode: str, episodes: int, every_steps: int
    ) -> None:
        super().__init__()
        self.params = params
        self.action_mode = action_mode
        self.episodes = episodes
        self.every_steps = every_steps
        self.next_eval = every_steps
        self.last_metrics: dict[str, float] = {}
        self.last_steps: int | None = None

    def _on_training_start(self) -> None:
        self.next_eval = next_multiple(self.num_timesteps, self.every_steps)

    def _on_step(self) -> bool:
        if self.episodes > 0 and self.num_timesteps >= self.next_eval:
            self.next_eval = next_multiple(self.num_timesteps, self.every_steps)
            self.evaluate()
        return True

    def evaluate(self) -> dict[str, float]:
        """Evaluate the model being trained and log the metrics at its step count."""
        with torch_threads_kept():
            metrics, supervised = self.measure(self.model)
        for key, value in metrics.items():
            self.logger.record(f"eval/{key}", value)
        self.logger.record(
            "eval/supervisor_intervention_rate", supervised["supervisor_intervention_rate"]
        )
        self.logger.record("eval/supervised_collision_rate", supervised["collision_rate"])
        self.logger.dump(self.num_timesteps)
        self.last_metrics = metrics
        self.last_steps = self.num_timesteps
        return metrics

    def measure(self, model: BaseAlgorithm) -> tuple[dict[str, float], dict[str, float]]:
        """(metrics without the supervisor, metrics with it) of ``model``."""
        metrics = evaluate_model(model, self.params, self.action_mode, self.episodes)
        supervised = evaluate_model(model, self.params, self.action_mode, self.episodes, True)
        return metrics, supervised


class CurriculumCallback(BaseCallback):
    """Moves the training envs' params along the curriculum at every rollout start."""

    def __init__(self, target: SimParams, curriculum: Curriculum, total_steps: int) -> None:
        super().__init__()
        self.target = target
        self.curriculum = curriculum
        self.total_steps = max(total_steps, 1)

    def _on_rollout_start(self) -> None:
        progress = self.num_timesteps / self.total_steps
        params = params_at(progress, self.target, self.curriculum)
        env = self.training_env
        if env.params != params:
            env.params = params
            env.sim.params = params
        self.logger.record("curriculum/traffic_density", params.traffic_density)
        self.logger.record("curriculum/mission_changes", float(params.mission_changes))

    def _on_step(self) -> bool:
        return True
