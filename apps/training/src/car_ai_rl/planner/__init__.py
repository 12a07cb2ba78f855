"""Planners that drive by looking ahead in the simulator itself (the oracle)."""
