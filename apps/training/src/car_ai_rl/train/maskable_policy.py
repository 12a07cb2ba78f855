"""sb3-contrib's masked actor-critic policy with a leaner forward pass for rollouts.

During a PPO rollout the policy is called once per env step on a batch of a few observations,
so the cost is the Python around the arithmetic: sb3-contrib's forward builds a masked
``Categorical`` twice per call (once with the raw logits, again with the masked ones) and
extracts the features twice (actor and critic). ``MaskedActorCriticPolicy.forward`` does the same
arithmetic in the same order on plain tensors: normalise the logits, mask them to -1e8,
normalise again, sample with ``torch.multinomial`` from their softmax (the mode: its argmax),
and read the log-probability off the normalised logits. Actions, values, log-probabilities and
the random stream are bit-identical to sb3-contrib's (tested), so models, seeds and
reproducibility are unchanged; only the per-call cost falls (``bench/train_throughput.py``).
Anything other than flat observations, discrete actions and given masks takes sb3-contrib's path.
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.torch_layers import FlattenExtractor

MASKED_LOGIT = -1e8
"""The logit sb3-contrib's ``MaskableCategorical`` gives a masked action."""


class MaskedActorCriticPolicy(MaskableActorCriticPolicy):
    """``MaskableActorCriticPolicy`` whose masked forward pass skips the distribution objects."""

    def _fast_path(self, action_masks: np.ndarray | None) -> bool:
        return (
            action_masks is not None
            and isinstance(self.action_space, spaces.Discrete)
            and isinstance(self.observation_space, spaces.Box)
            and isinstance(self.pi_features_extractor, FlattenExtractor)
            and isinstance(self.vf_features_extractor, FlattenExtractor)
        )

    def forward(
        self,
        obs: torch.Tensor,
        deterministic: bool = False,
        action_masks: np.ndarray | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Actions, values and log-probabilities, as sb3-contrib's forward computes them."""
        if not self._fast_path(action_masks):
            return super().forward(obs, deterministic=deterministic, action_masks=action_masks)
        features = torch.flatten(obs.float(), start_dim=1)
        values = self.value_net(self.mlp_extractor.forward_critic(features))
        raw = self.action_net(self.mlp_extractor.forward_actor(features))
        raw = raw.reshape(-1, self.action_space.n)
        logits = raw - raw.logsumexp(dim=-1, keepdim=True)
        masks = torch.as_tensor(action_masks, dtype=torch.bool, device=logits.device).reshape(
            logits.shape
        )
        logits = torch.where(
            masks, logits, torch.tensor(MASKED_LOGIT, dtype=logits.dtype, device=logits.device)
        )
        logits = logits - logits.logsumexp(dim=-1, keepdim=True)
        probs = torch.softmax(logits, dim=-1)
        if deterministic:
            actions = probs.argmax(dim=-1, keepdim=True)
        else:
            actions = torch.multinomial(probs, 1, True)
        log_prob = logits.gather(-1, actions).squeeze(-1)
        return actions.reshape(-1), values, log_prob
