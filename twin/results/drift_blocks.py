"""The `drift` block a drill writes: each request type's measured latency against the twin's
prediction, and each telemetry field against the population's law (`twin.results.drift`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from twin.results.base import Block, Number

__all__ = ["DriftEntry"]


class DriftEntry(Block):
    """One distribution against its reference: KS, KL and the verdict (`twin.results.drift`:
    drift when ks_p < 0.05 and ks_d >= 0.5 or kl >= 1)."""

    against: Literal["predicted", "baseline", "population"] = Field(
        description="The reference: the twin's prediction or an earlier drill "
        "(`--drift-baseline`) for a request type's latency (ms), the population's law for a "
        "telemetry field (in its unit)."
    )
    n_measured: int = Field(description="Samples measured.")
    n_reference: int = Field(
        description="Samples of the reference (predicted or baseline requests)."
    )
    ks_d: Number | None = Field(
        description="Two-sample Kolmogorov-Smirnov statistic: the largest gap between the CDFs."
    )
    ks_p: Number | None = Field(description="Its p-value (asymptotic).")
    kl: Number | None = Field(
        description="KL(reference || measured), nats, on shared coarse bins (half a count "
        "added to each)."
    )
    median_measured: Number | None = Field(description="Median measured (ms, or the unit).")
    median_reference: Number | None = Field(description="Median of the reference.")
    verdict: Literal["drift", "agrees", "too few"] = Field(
        description="`drift`: significant (ks_p < 0.05) and large (ks_d >= 0.5 or kl >= 1); "
        "`too few`: under 20 samples on a side."
    )
