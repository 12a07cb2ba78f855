"""DQN that chooses only the actions the supervisor allows.

The observation carries the supervisor's verdicts, so the mask needs nothing beyond the
observation: the Q-network scores disallowed actions ``MASKED_SCORE`` (greedy choices and the
TD target's max ignore them), and exploration samples uniformly among the allowed actions.
Every action the agent takes, and so every action in its replay buffer, is allowed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3 import DQN
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork

from car_ai_rl.policies.masking import mask_scores
from car_ai_rl.sim.observation import allowed_actions


class MaskedQNetwork(QNetwork):
    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return mask_scores(super().forward(obs), obs)


class MaskedDQNPolicy(DQNPolicy):
    def make_q_net(self) -> QNetwork:
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        return MaskedQNetwork(**net_args).to(self.device)


def random_allowed_actions(obs: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """One uniformly drawn allowed action per observation row (B,)."""
    allowed = allowed_actions(np.atleast_2d(obs))
    u = (rng or np.random).random(allowed.shape)
    return np.where(allowed, u, -1.0).argmax(axis=1)


class MaskedDQN(DQN):
    policy_aliases = {"MlpPolicy": MaskedDQNPolicy}  # noqa: RUF012 (SB3's own ClassVar)

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        if not deterministic and np.random.rand() < self.exploration_rate:
            action = random_allowed_actions(observation)
            return (action if np.ndim(observation) > 1 else action[0]), state
        return self.policy.predict(observation, state, episode_start, deterministic)

    def _sample_action(
        self, learning_starts: int, action_noise: Any = None, n_envs: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self._last_obs is not None, "self._last_obs was not set"
        if self.num_timesteps < learning_starts:
            action = random_allowed_actions(self._last_obs)
        else:
            action, _ = self.predict(self._last_obs, deterministic=False)
        return action, action
