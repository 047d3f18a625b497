"""What a rider's device reports in each 1 Hz telemetry sample: the population's laws.

The seeds give no distribution of cadence or heart rate, so these are assumptions, and they
are the laws the drill's riders draw their samples from (`locustfiles/drill_journey.py`,
`Rider._sample`; `tests/drill/test_drill_drift.py` keeps the two equal): a rider pedals at
60-110 rpm (an easy spin to a hard climb) with a heart rate of 100-170 bpm (zone 2 to
threshold), uniformly. A drill's drift check (`twin.drill.drift`) compares what the platform
stored against them, as the seeds' drift monitor compares live data with the population a
model was trained on. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TELEMETRY_LAWS", "UniformLaw"]


@dataclass(frozen=True)
class UniformLaw:
    """A value uniform between `low` and `high` (in the field's unit)."""

    low: float
    high: float

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """P(value <= x), elementwise."""
        return np.clip((np.asarray(x, dtype=float) - self.low) / (self.high - self.low), 0, 1)

    def expected_counts(self, edges: np.ndarray, n: float) -> np.ndarray:
        """Expected counts of `n` draws in the bins between consecutive `edges`."""
        return n * np.diff(self.cdf(np.asarray(edges, dtype=float)))


# ASSUMPTION (seeds silent): the laws above, by sample field
TELEMETRY_LAWS: dict[str, UniformLaw] = {
    "cadence_rpm": UniformLaw(60.0, 110.0),
    "heart_rate_bpm": UniformLaw(100.0, 170.0),
}
