"""What a report says of the music that follows cadence: the stroke-to-tempo lag against the
seed's beta figures (120-180 ms) and the rival's (80-100 ms), and whether the design beats it.

Pure text from a summary (simulated or drilled): `tempo_sentence` for the headlines,
`tempo_facts` for the riders' facts. A summary without `experience.tempo_lag_ms` says nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twin.config.audio import RIVAL_TEMPO_LAG_MS, SEED_TEMPO_LAG_MS
from twin.report.units import fmt_ms, fmt_pct
from twin.results.reading import dig, is_number

__all__ = ["rival_verdict", "seed_verdict", "tempo_facts", "tempo_sentence"]


def _band(band: tuple[float, float]) -> str:
    return f"{band[0]:g}-{band[1]:g} ms"


def rival_verdict(p99: float) -> str:
    """Whether a p99 lag beats the rival: faster than its best (80 ms), within its range, or
    behind its worst (100 ms) and by how much."""
    low, high = RIVAL_TEMPO_LAG_MS
    if p99 < low:
        return f"beats the rival ({_band(RIVAL_TEMPO_LAG_MS)}) even at p99"
    if p99 <= high:
        return f"matches the rival ({_band(RIVAL_TEMPO_LAG_MS)}) at p99"
    return (
        f"does not beat the rival ({_band(RIVAL_TEMPO_LAG_MS)}): p99 is "
        f"{fmt_ms(p99 - high)} behind its slowest"
    )


def seed_verdict(p50: float | None, p99: float) -> str:
    """The lag against the seed's beta testers' 120-180 ms."""
    low, high = SEED_TEMPO_LAG_MS
    seed = f"the seed's {_band(SEED_TEMPO_LAG_MS)} in beta"
    if p99 > high:
        return f"slower than {seed}"
    if is_number(p50) and p50 >= low:
        return f"within {seed}"
    return f"faster than {seed}"


def _lag(summary: Mapping[str, Any]) -> tuple[float | None, float] | None:
    p99 = dig(summary, "experience", "tempo_lag_ms", "p99")
    if not is_number(p99):
        return None
    p50 = dig(summary, "experience", "tempo_lag_ms", "p50")
    return (float(p50) if is_number(p50) else None), float(p99)


def tempo_sentence(summary: Mapping[str, Any]) -> str | None:
    """One headline: the lag, the seed's figures and the rival's."""
    lag = _lag(summary)
    if lag is None:
        return None
    p50, p99 = lag
    median = f"p50 {fmt_ms(p50)}, " if p50 is not None else ""
    return (
        f"Music tempo: stroke to tempo change {median}p99 {fmt_ms(p99)}, "
        f"{seed_verdict(p50, p99)}; the design {rival_verdict(p99)}."
    )


def tempo_facts(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The tempo path's figures as (label, value) facts; none without music."""
    lag = _lag(summary)
    if lag is None:
        return []
    p50, p99 = lag
    experience = summary.get("experience") or {}
    facts = [("tempo lag p50", fmt_ms(p50)), ("tempo lag p99", fmt_ms(p99))]
    facts.append(("tempo lag vs the rival", rival_verdict(p99).split(":")[0]))
    for key, label in (
        ("tempo_stale_fraction", "tempo updates stale"),
        ("audio_dry_fraction", "music in silence (buffer dry)"),
    ):
        if is_number(experience.get(key)):
            facts.append((label, fmt_pct(experience[key], digits=2)))
    return facts
