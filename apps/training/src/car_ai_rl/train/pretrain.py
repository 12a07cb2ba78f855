"""Kickstart: imitate the heuristic driver before reinforcement learning.

DAgger-style: the first round drives with the heuristic; later rounds drive with the
policy being trained, and every visited state is labelled with the heuristic's action (the
simulator can answer "what would the heuristic do here?" for any state). The value head is
fitted to the discounted returns of those drives, so PPO starts from a consistent critic.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from car_ai_rl.envs.actions import DISCRETE_CONTROLS, decode_actions
from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.sim import core
from car_ai_rl.sim.controls import controls_to_continuous, nearest_discrete_action
from car_ai_rl.sim.params import SimParams

PRETRAIN_SEED = 20_000_000


@dataclass
class Demonstrations:
    obs: np.ndarray  # (M, obs_dim) float32
    labels: np.ndarray  # discrete: (M,) int64; continuous: (M, 3) float32 in [-1, 1]
    returns: np.ndarray  # (M,) discounted returns of the driven policy


def heuristic_labels(state: core.SimState, params: SimParams, action_mode: str) -> np.ndarray:
    controls = heuristic_controls(state, params)
    if action_mode == "discrete":
        return nearest_discrete_action(controls, state.speed_mps[:, 0], params)
    return controls_to_continuous(controls).astype(np.float32)


def policy_actions(model: OnPolicyAlgorithm, obs: np.ndarray, action_mode: str) -> np.ndarray:
    """Sampled actions, clipped to the Box in continuous mode as SB3 does when it steps."""
    with torch.no_grad():
        actions, _, _ = model.policy(torch.as_tensor(obs))
    actions = actions.numpy()
    return np.clip(actions, -1.0, 1.0) if action_mode == "continuous" else actions


def drive(
    model: OnPolicyAlgorithm | None,
    params: SimParams,
    action_mode: str,
    n_envs: int,
    n_steps: int,
    seed: int,
    gamma: float,
) -> Demonstrations:
    """Drive ``n_steps`` batched steps with the heuristic (model None) or the model's policy."""
    state, obs = core.reset(params, core.seeds_from_ints(seed, n_envs))
    all_obs, all_labels = [], []
    rewards = np.zeros((n_steps, n_envs))
    dones = np.zeros((n_steps, n_envs), dtype=bool)
    for t in range(n_steps):
        labels = heuristic_labels(state, params, action_mode)
        all_obs.append(obs)
        all_labels.append(labels)
        if model is None:
            controls = (
                DISCRETE_CONTROLS[labels]
                if action_mode == "discrete"
                else heuristic_controls(state, params)
            )
        else:
            controls = decode_actions(policy_actions(model, obs, action_mode), action_mode, n_envs)
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
        returns.reshape(-1).astype(np.float32),
    )


def fit(
    model: OnPolicyAlgorithm,
    data: Demonstrations,
    action_mode: str,
    epochs: int,
    batch_size: int,
    lr: float,
) -> dict[str, float]:
    """Supervised updates of the actor (imitation) and the critic (returns)."""
    policy = model.policy
    # Runs on torch's configured thread count, like the rest of training: raising it here made
    # results depend on how the threads split the work (see car_ai_rl.train.reproducibility).
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    obs = torch.as_tensor(data.obs)
    labels = torch.as_tensor(data.labels)
    returns = torch.as_tensor(data.returns)
    n = len(obs)
    generator = torch.Generator().manual_seed(0)
    stats = {}
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            dist = policy.get_distribution(obs[idx]).distribution
            if action_mode == "discrete":
                actor_loss = torch.nn.functional.cross_entropy(dist.logits, labels[idx])
            else:
                actor_loss = torch.nn.functional.mse_loss(dist.mean, labels[idx])
            value_loss = torch.nn.functional.mse_loss(
                policy.predict_values(obs[idx]).squeeze(-1), returns[idx]
            )
            loss = actor_loss + 0.5 * value_loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            optimizer.step()
            stats = {"actor_loss": actor_loss.item(), "value_loss": value_loss.item()}
    with torch.no_grad():
        dist = policy.get_distribution(obs).distribution
        if action_mode == "discrete":
            stats["agreement"] = float((dist.logits.argmax(-1) == labels).float().mean())
    return stats


def kickstart(
    model: OnPolicyAlgorithm,
    params: SimParams,
    action_mode: str,
    rounds: int,
    n_envs: int,
    n_steps: int,
    epochs: int,
    batch_size: int,
    lr: float,
    stop_requested: Callable[[], bool] = lambda: False,
) -> dict[str, float]:
    """Rounds of drive-label-fit; returns the last round's statistics. Between rounds it stops
    early when ``stop_requested()`` says so."""
    gamma = float(model.gamma)
    datasets: list[Demonstrations] = []
    stats: dict[str, float] = {}
    for k in range(rounds):
        if stop_requested():
            break
        driver = None if k == 0 else model
        datasets.append(
            drive(driver, params, action_mode, n_envs, n_steps, PRETRAIN_SEED + 1000 * k, gamma)
        )
        merged = Demonstrations(
            np.concatenate([d.obs for d in datasets]),
            np.concatenate([d.labels for d in datasets]),
            np.concatenate([d.returns for d in datasets]),
        )
        stats = fit(model, merged, action_mode, epochs, batch_size, lr)
        print(
            f"kickstart round {k + 1}/{rounds}: {len(merged.obs)} states, "
            + ", ".join(f"{key} {v:.3f}" for key, v in stats.items()),
            file=sys.stderr,
        )
    if action_mode == "continuous":
        with torch.no_grad():
            model.policy.log_std.fill_(-1.0)
    return stats
