"""Small builders of scenarios for tests (plain functions, no fixtures needed)."""

from __future__ import annotations

from typing import Any

from scipy import stats

from twin.config.network import NetworkScenario


def station(servers: int = 1, mean_s: float = 1.0, dist: str = "exponential", **extra: Any) -> dict:
    service: dict[str, Any] = {"dist": dist}
    if dist == "empirical":
        service["values"] = extra.pop("values")
    else:
        service["mean_s"] = mean_s
    if "cv" in extra:
        service["cv"] = extra.pop("cv")
    return {"servers": servers, "service": service, **extra}


def single_queue(
    *,
    rate: float,
    servers: int = 1,
    mean_s: float = 1.0,
    dist: str = "exponential",
    duration_s: float = 10_000.0,
    warmup_s: float | str = 0.0,
    seed: int = 1,
    **extra: Any,
) -> NetworkScenario:
    """One source into one station `q`."""
    return NetworkScenario.model_validate(
        {
            "name": "single",
            "duration_s": duration_s,
            "warmup_s": warmup_s,
            "seed": seed,
            "network": {
                "sources": [{"name": "arrivals", "rate_per_s": rate, "to": "q"}],
                "stations": {"q": station(servers, mean_s, dist, **extra)},
            },
        }
    )


def scenario(
    network: dict,
    *,
    duration_s: float = 10_000.0,
    warmup_s: float | str = 0.0,
    seed: int = 1,
    **extra: Any,
) -> NetworkScenario:
    return NetworkScenario.model_validate(
        {
            "name": "net",
            "duration_s": duration_s,
            "warmup_s": warmup_s,
            "seed": seed,
            "network": network,
            **extra,
        }
    )


def interval99(ci95_ms: list[float], replications: int) -> tuple[float, float]:
    """The 99 % interval (seconds) with the same centre and spread as a 95 % one in ms.

    With some twenty interval checks in the suite, a 95 % interval would miss once in every
    few runs with nothing wrong; tests widen it to 99 % (t quantile 0.995 instead of 0.975).
    """
    low, high = (x / 1000 for x in ci95_ms)
    dof = replications - 1
    widen = stats.t.ppf(0.995, dof) / stats.t.ppf(0.975, dof)
    centre, half = (low + high) / 2, (high - low) / 2
    return centre - half * widen, centre + half * widen
