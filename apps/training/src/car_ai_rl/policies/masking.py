"""Action masking in torch, from the verdict features every observation carries.

The same rule as :func:`car_ai_rl.sim.observation.allowed_actions`, for the graphs that run
the policy: the exported ONNX actor and the masked DQN's Q-network. A masked action's score
is set so low that it never wins an argmax.
"""

from __future__ import annotations

import torch

from car_ai_rl.sim.observation import ALLOWED_ABOVE, N_VERDICTS, VERDICT_START

MASKED_SCORE = -1e9


def allowed_actions(obs: torch.Tensor) -> torch.Tensor:
    """(N, N_DISCRETE_ACTIONS) bool from obs (N, OBS_DIM)."""
    return obs[:, VERDICT_START : VERDICT_START + N_VERDICTS] > ALLOWED_ABOVE


def mask_scores(scores: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """Scores (logits or Q-values) of the actions the observation disallows set to
    ``MASKED_SCORE``; the allowed ones pass unchanged (and keep their gradients)."""
    return torch.where(allowed_actions(obs), scores, torch.full_like(scores, MASKED_SCORE))
