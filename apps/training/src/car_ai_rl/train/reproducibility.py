"""Settings that make a training run a function of its config and seed alone."""

from __future__ import annotations

import torch


def configure(torch_threads: int) -> None:
    """Fix torch's thread count for the whole run (the kickstart included)."""
    torch.set_num_threads(torch_threads)
