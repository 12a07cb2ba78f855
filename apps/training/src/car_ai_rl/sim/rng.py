"""Counter-based random numbers: a value is a pure function of (seed, counters).

No generator state is carried, so an episode's draws do not depend on its batch slot or on
the other episodes in the batch.
"""

import numpy as np

from car_ai_rl.sim.jit import kernel

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV_2_53 = 1.0 / 9007199254740992.0


@kernel
def mix64(z):
    """SplitMix64 finaliser: a bijective scramble of a 64-bit integer."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@kernel
def hash4(seed, a, b, c):
    """Scramble a seed with three small non-negative integer counters."""
    z = mix64(seed + _GOLDEN * np.uint64(a + 1))
    z = mix64(z + _GOLDEN * np.uint64(b + 1))
    return mix64(z + _GOLDEN * np.uint64(c + 1))


@kernel
def uniform(seed, a, b, c):
    """A float in [0, 1) determined by (seed, a, b, c)."""
    return float(hash4(seed, a, b, c) >> _S11) * _INV_2_53


@kernel
def next_episode_seed(seed):
    """The seed of the episode that follows ``seed`` in the same env slot."""
    return mix64(seed + _GOLDEN)


def episode_seed(user_seed: int) -> np.uint64:
    """Map a user-facing integer seed to an episode seed."""
    with np.errstate(over="ignore"):
        return mix64(np.uint64(user_seed % (1 << 64)))
