"""Drivers behind one interface: the heuristic, SB3 zips and exported ONNX models."""

from car_ai_rl.policies.base import Policy
from car_ai_rl.policies.heuristic_policy import HeuristicPolicy
from car_ai_rl.policies.loader import load_policy

__all__ = ["HeuristicPolicy", "Policy", "load_policy"]
