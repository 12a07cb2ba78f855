"""Rollout episodes: batched deterministic rollouts, per-step traces, summaries and GIFs."""
