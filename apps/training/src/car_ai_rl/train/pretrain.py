"""Kickstart: imitate a teacher driver before reinforcement learning.

DAgger-style: the first round drives with the teacher; later rounds drive with the policy
being trained, and every visited state is labelled with the teacher's action (the simulator
can answer "what would the teacher do here?" for any state).

Supervised (the default), everything happens as the product runs: the teacher's controls pass
through the safety supervisor, the label is the nearest action the supervisor allows (the
verdicts in the observation), the drives are supervised and the policy's imitation loss is
over the allowed actions only. So the policy learns the teacher's gap-seeking (slow down, then
merge) rather than lane requests the supervisor would refuse.

PPO's value head is fitted to the discounted returns of the drives, so PPO starts from a
consistent critic. DQN's Q-network is fitted the way DQfD pre-trains: the driven action's value
to its return, and a large-margin loss that makes the teacher's action the greedy one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.dqn import DQN

from car_ai_rl.envs.actions import decode_actions
from car_ai_rl.planner.oracle import OraclePlanner
from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.safety import supervisor
from car_ai_rl.sim import core
from car_ai_rl.sim.controls import controls_to_continuous, nearest_discrete_action
from car_ai_rl.sim.observation import allowed_actions
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState
from car_ai_rl.train.config import KICKSTART_EPOCHS
from car_ai_rl.train.reproducibility import torch_threads_kept

PRETRAIN_SEED = 20_000_000
DQFD_MARGIN = 0.8  # how far the greedy Q must prefer the teacher's action (DQfD's l(a_E, a))
DQFD_VALUE_WEIGHT = 0.05  # the returns' spread would otherwise drown the margin loss


@dataclass
class Demonstrations:
    obs: np.ndarray  # (M, obs_dim) float32
    labels: np.ndarray  # the teacher's: discrete (M,) int64; continuous (M, 3) float32
    actions: np.ndarray  # what was driven, in the same form as the labels
    returns: np.ndarray  # (M,) discounted returns of the driven actions


class Teacher:
    """Controls of the teacher driver, through the supervisor when ``supervised``."""

    def __init__(self, kind: str, supervised: bool) -> None:
        if kind not in ("heuristic", "oracle"):
            raise ValueError(f"kickstart.teacher: must be heuristic or oracle, got {kind!r}")
        self.kind = kind
        self.supervised = supervised or kind == "oracle"  # the oracle plans supervised
        self.planner = OraclePlanner() if kind == "oracle" else None

    def controls(self, state: SimState, params: SimParams) -> np.ndarray:
        if self.planner is not None:
            return self.planner.controls(state, params)
        controls = heuristic_controls(state, params)
        if self.supervised:
            controls, _, _ = supervisor.filter(state, controls, params)
        return controls

    def labels(
        self, state: SimState, obs: np.ndarray, params: SimParams, action_mode: str, masked: bool
    ) -> np.ndarray:
        if action_mode == "plan":  # the plan the teacher drives: the heuristic is plan 0
            if self.planner is not None:
                return self.planner.plans(state, params)
            return np.zeros(state.n_envs, dtype=np.int64)
        controls = self.controls(state, params)
        if action_mode == "discrete":
            allowed = allowed_actions(obs) if masked else None
            return nearest_discrete_action(controls, state.speed_mps[:, 0], params, allowed)
        return controls_to_continuous(controls).astype(np.float32)


def policy_actions(
    model: BaseAlgorithm, obs: np.ndarray, action_mode: str, masked: bool
) -> np.ndarray:
    """The policy's actions as it would drive while learning: sampled (PPO, with its mask when
    masked) or greedy (DQN), clipped to the Box in continuous mode as SB3 does when it steps."""
    with torch.no_grad():
        if isinstance(model, DQN):
            return model.policy.predict(obs, deterministic=True)[0]
        obs_t = torch.as_tensor(obs)
        if masked:
            actions, _, _ = model.policy(obs_t, action_masks=allowed_actions(obs))
        else:
            actions, _, _ = model.policy(obs_t)
    actions = actions.numpy()
    return np.clip(actions, -1.0, 1.0) if action_mode == "continuous" else actions


def drive(
    model: BaseAlgorithm | None,
    params: SimParams,
    action_mode: str,
    n_envs: int,
    n_steps: int,
    seed: int,
    gamma: float,
    teacher: Teacher | None = None,
    masked: bool = False,
) -> Demonstrations:
    """Drive ``n_steps`` batched steps with the teacher (model None) or the model's policy,
    labelling every state with the teacher's action."""
    teacher = teacher or Teacher("heuristic", False)
    state, obs = core.reset(params, core.seeds_from_ints(seed, n_envs))
    all_obs, all_labels, all_actions = [], [], []
    rewards = np.zeros((n_steps, n_envs))
    dones = np.zeros((n_steps, n_envs), dtype=bool)
    for t in range(n_steps):
        labels = teacher.labels(state, obs, params, action_mode, masked)
        actions = labels if model is None else policy_actions(model, obs, action_mode, masked)
        all_obs.append(obs)
        all_labels.append(labels)
        all_actions.append(actions)
        controls = decode_actions(actions, action_mode, n_envs, state, params)
        if teacher.supervised:
            controls, _, _ = supervisor.filter(state, controls, params)
        state, result = core.step(state, controls, params)
        rewards[t] = result.reward
        dones[t] = result.done
        obs = result.obs
    returns = np.zeros_like(rewards)
    running = np.zeros(n_envs)
    for t in range(n_steps - 1, -1, -1):
        running = rewards[t] + gamma * running * (~dones[t])
        returns[t] = running
    return Demonstrations(
        np.concatenate(all_obs),
        np.concatenate(all_labels),
        np.concatenate(all_actions),
        returns.reshape(-1).astype(np.float32),
    )


def imitation_loss(
    policy: Any, obs: torch.Tensor, labels: torch.Tensor, masks: Any
) -> torch.Tensor:
    """The actor's imitation loss: cross-entropy over the allowed actions (discrete labels),
    or the squared error of the action mean (continuous labels)."""
    if masks is None:
        dist = policy.get_distribution(obs).distribution
    else:
        dist = policy.get_distribution(obs, action_masks=masks).distribution
    if labels.dtype == torch.int64:
        return torch.nn.functional.cross_entropy(dist.logits, labels)
    return torch.nn.functional.mse_loss(dist.mean, labels)


def _actor_critic_loss(
    policy: Any, obs: torch.Tensor, labels: torch.Tensor, returns: torch.Tensor, masks: Any
) -> tuple[torch.Tensor, dict[str, float]]:
    """Imitation plus the critic's regression to the returns."""
    actor_loss = imitation_loss(policy, obs, labels, masks)
    value_loss = torch.nn.functional.mse_loss(policy.predict_values(obs).squeeze(-1), returns)
    stats = {"actor_loss": actor_loss.item(), "value_loss": value_loss.item()}
    return actor_loss + 0.5 * value_loss, stats


def large_margin_loss(q: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """DQfD's large-margin loss max_a [Q(s, a) + l(a_E, a)] - Q(s, a_E): zero once the
    teacher's action a_E is greedy by at least ``DQFD_MARGIN`` (disallowed actions, scored out
    of reach by a masked Q-network, never count)."""
    margin = torch.full_like(q, DQFD_MARGIN).scatter(1, labels[:, None], 0.0)
    teacher_q = q.gather(1, labels[:, None]).squeeze(1)
    return ((q + margin).max(dim=1).values - teacher_q).mean()


def _dqfd_loss(
    policy: Any,
    obs: torch.Tensor,
    labels: torch.Tensor,
    actions: torch.Tensor,
    returns: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, float]]:
    """DQfD's pre-training losses: the driven action's Q to its return, and the large margin
    max_a [Q(s, a) + l(a_E, a)] - Q(s, a_E) toward the teacher's action a_E."""
    q = policy.q_net(obs)
    driven_q = q.gather(1, actions[:, None]).squeeze(1)
    value_loss = torch.nn.functional.mse_loss(driven_q, returns)
    margin = large_margin_loss(q, labels)
    stats = {"margin_loss": margin.item(), "value_loss": value_loss.item()}
    return margin + DQFD_VALUE_WEIGHT * value_loss, stats


def fit(
    model: BaseAlgorithm,
    data: Demonstrations,
    action_mode: str,
    epochs: int,
    batch_size: int,
    lr: float,
    masked: bool = False,
) -> dict[str, float]:
    """Supervised updates of the actor and critic (PPO) or of the Q-network (DQN)."""
    policy = model.policy
    is_dqn = isinstance(model, DQN)
    # Runs on torch's configured thread count, like the rest of training: raising it here made
    # results depend on how the threads split the work (see car_ai_rl.train.reproducibility).
    params = policy.q_net.parameters() if is_dqn else policy.parameters()
    optimizer = torch.optim.Adam(params, lr=lr)
    obs = torch.as_tensor(data.obs)
    labels = torch.as_tensor(data.labels)
    actions = torch.as_tensor(data.actions)
    returns = torch.as_tensor(data.returns)
    masks = allowed_actions(data.obs) if masked and not is_dqn else None
    n = len(obs)
    generator = torch.Generator().manual_seed(0)
    stats: dict[str, float] = {}
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            if is_dqn:
                loss, stats = _dqfd_loss(policy, obs[idx], labels[idx], actions[idx], returns[idx])
            else:
                batch_masks = None if masks is None else masks[idx.numpy()]
                loss, stats = _actor_critic_loss(
                    policy, obs[idx], labels[idx], returns[idx], batch_masks
                )
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            optimizer.step()
    if action_mode == "discrete":
        greedy = policy_greedy(model, data.obs, masked)
        stats["agreement"] = float((greedy == data.labels).mean())
    if is_dqn:
        model.q_net_target.load_state_dict(model.q_net.state_dict())
    return stats


def policy_greedy(model: BaseAlgorithm, obs: np.ndarray, masked: bool) -> np.ndarray:
    """The deterministic discrete actions of the policy (masked when ``masked``)."""
    with torch.no_grad():
        obs_t = torch.as_tensor(obs)
        if isinstance(model, DQN):
            return model.policy.q_net(obs_t).argmax(-1).numpy()
        if masked:
            dist = model.policy.get_distribution(obs_t, action_masks=allowed_actions(obs))
        else:
            dist = model.policy.get_distribution(obs_t)
        return dist.distribution.logits.argmax(-1).numpy()


def kickstart(
    model: BaseAlgorithm,
    params: SimParams,
    action_mode: str,
    settings: Any,
    supervised: bool = False,
    stop_requested: Callable[[], bool] = lambda: False,
) -> tuple[dict[str, float], Demonstrations | None]:
    """Rounds of drive-label-fit (``settings``: a ``train.config.Kickstart``); returns the last
    round's statistics and every labelled state (None when no round ran). Between rounds it
    stops early when ``stop_requested()`` says so. Unset ``settings.epochs`` take the
    algorithm's default (``KICKSTART_EPOCHS``)."""
    k = settings
    masked = supervised and action_mode == "discrete"
    teacher = Teacher(getattr(k, "teacher", "heuristic"), supervised)
    gamma = float(model.gamma)
    epochs = k.epochs or KICKSTART_EPOCHS["dqn" if isinstance(model, DQN) else "ppo"]
    datasets: list[Demonstrations] = []
    stats: dict[str, float] = {}
    merged: Demonstrations | None = None
    for r in range(k.rounds):
        if stop_requested():
            break
        driver = None if r == 0 else model
        with torch_threads_kept():
            datasets.append(
                drive(
                    driver,
                    params,
                    action_mode,
                    k.envs,
                    k.steps_per_round,
                    PRETRAIN_SEED + 1000 * r,
                    gamma,
                    teacher,
                    masked,
                )
            )
        merged = Demonstrations(
            *(
                np.concatenate([getattr(d, f.name) for d in datasets])
                for f in fields(Demonstrations)
            )
        )
        stats = fit(model, merged, action_mode, epochs, k.batch_size, k.learning_rate, masked)
        print(
            f"kickstart round {r + 1}/{k.rounds} ({teacher.kind} teacher"
            f"{', supervised' if teacher.supervised else ''}): {len(merged.obs)} states, "
            + ", ".join(f"{key} {v:.3f}" for key, v in stats.items()),
            file=sys.stderr,
        )
    if action_mode == "continuous":
        with torch.no_grad():
            model.policy.log_std.fill_(-1.0)
    return stats, merged
