"""Evaluation: paired comparison of policies, statistics, regression gate, reports, mission log."""
