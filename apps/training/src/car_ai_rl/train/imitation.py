"""Imitation kept up during reinforcement learning: the kickstart's labelled states stay a
second objective of the policy, at a weight that moves linearly from its start to its final
value (0 for PPO; DQN keeps its start weight to the end).

After every rollout, before the algorithm's own update, minibatches of the teacher's labels are
fitted with the algorithm's optimizer at the current weight: PPO's actor by cross-entropy
(Schmitt et al., 2018, "Kickstarting deep reinforcement learning"), DQN's Q-network by DQfD's
large-margin loss, which DQfD keeps on its demonstrations throughout (Hester et al., 2018).
Without it, the first updates from the kickstarted policy, whose critic or Q-values are only a
rough fit, can undo much of what the imitation taught; with it, reinforcement learning improves
on the teacher's behaviour instead of starting over from a worse one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.dqn import DQN

from car_ai_rl.atomic_io import atomic_path
from car_ai_rl.sim.observation import allowed_actions
from car_ai_rl.train.pretrain import Demonstrations, imitation_loss, large_margin_loss

DEMOS_FILE = "kickstart_demos.npz"


def imitation_weight(
    weight: float, final_weight: float, until_fraction: float, steps: int, total_steps: int
) -> float:
    """The imitation loss's weight after ``steps`` of ``total_steps``: ``weight`` at the start,
    moving linearly to ``final_weight`` at ``until_fraction`` of training, then kept."""
    if until_fraction <= 0.0 or total_steps <= 0:
        return final_weight
    progress = min(1.0, steps / (until_fraction * total_steps))
    return weight + (final_weight - weight) * progress


class ImitationCallback(BaseCallback):
    """Fits ``batches`` minibatches of the teacher's ``labels`` of ``obs`` after every rollout
    (PPO: every ``n_steps``; DQN: every ``train_freq``, before its gradient steps)."""

    def __init__(
        self,
        obs: np.ndarray,
        labels: np.ndarray,
        weight: float,
        final_weight: float,
        until_fraction: float,
        total_steps: int,
        batch_size: int,
        masked: bool,
        seed: int,
        batches: int = 4,
    ) -> None:
        super().__init__()
        self.obs = torch.as_tensor(obs)
        self.labels = torch.as_tensor(labels)
        self.masks = allowed_actions(obs) if masked else None
        self.weight = weight
        self.final_weight = final_weight
        self.until_fraction = until_fraction
        self.total_steps = total_steps
        self.batch_size = min(batch_size, len(obs))
        self.batches = batches
        self.generator = torch.Generator().manual_seed(seed)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        steps = self.model.num_timesteps
        w = imitation_weight(
            self.weight, self.final_weight, self.until_fraction, steps, self.total_steps
        )
        self.logger.record("imitation/weight", w)
        if w <= 0.0:
            return
        policy = self.model.policy
        max_norm = getattr(self.model, "max_grad_norm", 1.0)
        total = 0.0
        for _ in range(self.batches):
            idx = torch.randint(len(self.obs), (self.batch_size,), generator=self.generator)
            loss = self._loss(idx)
            policy.optimizer.zero_grad()
            (w * loss).backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), max_norm)
            policy.optimizer.step()
            total += loss.item()
        self.logger.record("imitation/loss", total / self.batches)

    def _loss(self, idx: torch.Tensor) -> torch.Tensor:
        obs, labels = self.obs[idx], self.labels[idx]
        if isinstance(self.model, DQN):
            return large_margin_loss(self.model.policy.q_net(obs), labels)
        masks = None if self.masks is None else self.masks[idx.numpy()]
        return imitation_loss(self.model.policy, obs, labels, masks)


def save_demos(path: Path, demos: Demonstrations) -> None:
    """Keep the labelled states beside the run (a resumed run needs them), written atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, obs=demos.obs, labels=demos.labels)


def load_demos(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The labelled states a run saved (observations, the teacher's labels), or None when it
    saved none."""
    if not path.exists():
        return None
    with np.load(path) as data:
        return data["obs"], data["labels"]
