"""The deterministic actor of an SB3 model as a small torch module, ready for ONNX export.

``obs`` float32 [N, obs_dim] -> ``controls`` float32 [N, 3] (throttle, brake, lane request,
decoded exactly like ``envs.actions.decode_actions``) and ``action`` (the raw action: int64 [N]
for the discrete mode, float32 [N, 3] for the continuous mode); for the plan mode, ``plan``
(int64 [N]) alone, which the heuristic driver decodes from the simulator state. A masked model's graph applies
its mask from the observation's verdict features, so the graph chooses only allowed actions,
exactly as the model did in training.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from car_ai_rl.envs.actions import DISCRETE_CONTROLS, LANE_THRESHOLD, check_mode
from car_ai_rl.errors import UserError
from car_ai_rl.policies.masking import mask_scores


class PPOActorBody(nn.Module):
    """Features -> policy MLP -> action net: action logits (discrete) or mean action (Box)."""

    def __init__(self, policy: Any) -> None:
        super().__init__()
        self.policy = policy
        self.squash = bool(getattr(policy, "squash_output", False))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        features = self.policy.extract_features(obs, self.policy.pi_features_extractor)
        latent = self.policy.mlp_extractor.forward_actor(features)
        out = self.policy.action_net(latent)
        return torch.tanh(out) if self.squash else out


class MaskedBody(nn.Module):
    """A body whose scores of the actions the observation disallows never win."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return mask_scores(self.body(obs), obs)


class DeterministicActor(nn.Module):
    """Body output -> (controls, action), or the plan alone, as SB3's
    ``predict(deterministic=True)`` decides."""

    def __init__(self, body: nn.Module, action_mode: str) -> None:
        super().__init__()
        check_mode(action_mode)
        self.body = body
        self.discrete = action_mode == "discrete"
        self.plan = action_mode == "plan"
        self.register_buffer(
            "control_table", torch.tensor(DISCRETE_CONTROLS, dtype=torch.float32), persistent=False
        )

    def forward(self, obs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        out = self.body(obs)
        if self.plan:
            return torch.argmax(out, dim=1)
        if self.discrete:
            action = torch.argmax(out, dim=1)
            return self.control_table[action], action
        action = torch.clamp(out, -1.0, 1.0)
        one = torch.ones_like(action[:, 2])
        lane = torch.where(
            action[:, 2] > LANE_THRESHOLD,
            one,
            torch.where(action[:, 2] < -LANE_THRESHOLD, -one, torch.zeros_like(one)),
        )
        brake = torch.clamp(action[:, 1], min=0.0)  # as sim.controls.continuous_to_controls
        controls = torch.stack([(action[:, 0] + 1.0) / 2.0, brake, lane], 1)
        return controls, action


def build_actor(
    model: Any, algo: str, action_mode: str, masked: bool = False
) -> DeterministicActor:
    """The exportable actor of a loaded PPO or DQN model, in eval mode on the CPU (masked by
    the observation's verdicts when the model was trained masked)."""
    policy = model.policy
    policy.set_training_mode(False)
    if algo == "dqn":
        body: nn.Module = policy.q_net
    elif algo == "ppo":
        if not hasattr(policy, "mlp_extractor") or not hasattr(policy, "action_net"):
            raise UserError(f"unsupported PPO policy class {type(policy).__name__}")
        body = PPOActorBody(policy)
    else:
        raise UserError(f"unsupported algorithm {algo!r}")
    if masked and action_mode == "discrete":
        body = MaskedBody(body)
    return DeterministicActor(body, action_mode).eval()
