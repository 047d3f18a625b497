"""Randomness is passed in: every component draws from its own generator derived from the seed.

`component_rng(seed, "station", "api", replication=2)` always gives the same stream for the
same names, and a different, independent stream for any other name. Adding a station to a
scenario therefore does not change the draws of the others.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["component_rng"]


def component_rng(seed: int, *names: str, replication: int = 0) -> np.random.Generator:
    """An independent PCG64 generator for the component called `names` in one replication."""
    entropy = [int(seed), int(replication), *(zlib.crc32(n.encode("utf-8")) for n in names)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
