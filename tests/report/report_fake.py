"""A hand-built run for the report tests: an M/M/4 api in front of a finite-queue db.

The summary's figures are the queueing-theory values of the network (Erlang C for the api at
utilization 0.9), so the tests can check what the report prints against formulas rather
than against the report's own arithmetic. The time series is drawn around those values with
a seeded `numpy.random.Generator`, with a surge that saturates the api for a while.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "API_ERLANG_C",
    "API_LATENCY_MS",
    "SURGE",
    "Rendered",
    "erlang_c",
    "fake_summary",
    "fake_timeseries",
]

# The incident the session report marks: the api's surge in fake_timeseries.
SURGE = {"name": "surge", "start_s": 120000.0, "end_s": 140000.0, "service": "api"}


@dataclass(frozen=True)
class Rendered:
    """A report written to disk, with what it was made from."""

    html: Path
    summary: dict[str, Any]
    timeseries: pd.DataFrame


def erlang_c(servers: int, offered: float) -> float:
    """Probability of waiting in M/M/c by the direct Poisson-sum formula."""
    top = offered**servers / math.factorial(servers) * servers / (servers - offered)
    bottom = sum(offered**k / math.factorial(k) for k in range(servers)) + top
    return top / bottom


# M/M/4, lambda 3.6/s, mean service 1 s: P(wait) 0.7878, Wq = C / (c mu - lambda) = 1.969 s.
API_ERLANG_C = erlang_c(4, 3.6)
API_WAIT_MS = API_ERLANG_C / (4 * 1.0 - 3.6) * 1000.0
API_LATENCY_MS = API_WAIT_MS + 1000.0


def fake_summary(*, replications: int = 5) -> dict[str, Any]:
    """A summary.json as the exact engine writes it, for a two-station network."""
    return {
        "scenario": "mmc-example",
        "engine": "exact",
        "seed": 1,
        "replications": replications,
        "simulated_seconds": 200000.0,
        "wall_seconds": 41.27,
        "warmup_s": 2000.0,
        "services": {
            "api": {
                "arrivals": 712800.0,
                "completed": 712794.0,
                "dropped": 0.0,
                "utilization_mean": 0.9003,
                "utilization_peak": 1.0,
                "wait_ms": {"mean": 1955.2, "ci95": [1881.5, 2028.9]},
                "latency_ms": {
                    "mean": 2954.9,
                    "ci95": [2880.0, 3029.8],
                    "p50": 1931.0,
                    "p95": 8402.0,
                    "p99": 12412.3,
                    "p999": 18320.0,
                },
            },
            "db": {
                "arrivals": 213840.0,
                "completed": 211702.0,
                "dropped": 2138.0,
                "utilization_mean": 0.4272,
                "utilization_peak": 0.83,
                "wait_ms": {"mean": 3.1, "ci95": [2.8, 3.4]},
                "latency_ms": {
                    "mean": 83.4,
                    "ci95": [82.9, 83.9],
                    "p50": 61.2,
                    "p95": 240.5,
                    "p99": 371.0,
                    "p999": 540.2,
                },
            },
        },
        "requests": {
            "requests": {
                "count": 712794.0,
                "errors": 2138.0,
                "latency_ms": {
                    "mean": 2898.9,
                    "p50": 1960.0,
                    "p95": 8450.0,
                    "p99": 12460.0,
                    "p999": 18400.0,
                },
            }
        },
        "analytic": {
            "stations": {
                "api": {
                    "utilization": 0.9,
                    "wait_ms_mean": API_WAIT_MS,
                    "latency_ms_mean": API_LATENCY_MS,
                    "method": "erlang_c",
                },
                "db": {
                    "utilization": 0.4284,
                    "wait_ms_mean": 2.2,
                    "latency_ms_mean": 82.2,
                    "method": "mmck",
                },
            }
        },
    }


def _station(
    rng: np.random.Generator, t: np.ndarray, width: float, *, rate: np.ndarray, util: np.ndarray,
    latency_ms: float, queue: np.ndarray,
) -> dict[str, np.ndarray]:  # fmt: skip
    arrivals = rng.poisson(rate * width).astype(float)
    completed = np.minimum(arrivals, rng.poisson(rate * width * np.minimum(1.0, 1 / util)))
    scale = latency_ms * (1 + queue / max(1.0, float(np.median(queue))))
    return {
        "t_s": t,
        "interval_s": np.full(t.size, width),
        "arrivals": arrivals,
        "completed": completed,
        "dropped": np.zeros(t.size),
        "queue_mean": queue,
        "in_system_mean": queue + util * 4,
        "utilization": np.clip(util, 0, 1),
        "latency_ms_mean": scale,
        "latency_ms_p50": scale * 0.7,
        "latency_ms_p95": scale * 2.9,
        "latency_ms_p99": scale * 4.3,
    }


def fake_timeseries(
    rng: np.random.Generator, *, duration_s: float = 200000.0, intervals: int = 100,
    surge: tuple[float, float] = (120000.0, 140000.0), extras: bool = False,
) -> pd.DataFrame:  # fmt: skip
    """Long time series for api and db; the api saturates during `surge`."""
    width = duration_s / intervals
    t = np.arange(intervals) * width
    in_surge = (t >= surge[0]) & (t < surge[1])
    util = np.where(in_surge, 1.0, 0.9 + rng.normal(0, 0.01, intervals))
    queue = np.where(in_surge, 40.0 + (t - surge[0]) / 100, 6.6 * rng.gamma(4, 0.25, intervals))
    api = _station(rng, t, width, rate=np.where(in_surge, 4.4, 3.6), util=util,
                   latency_ms=1000.0, queue=queue)  # fmt: skip
    db_util = 0.43 + rng.normal(0, 0.02, intervals)
    db = _station(rng, t, width, rate=np.full(intervals, 1.08), util=db_util, latency_ms=80.0,
                  queue=rng.gamma(2, 0.02, intervals))  # fmt: skip
    db["dropped"] = rng.poisson(0.01 * 1.08 * width, intervals).astype(float)
    frames = [pd.DataFrame(api).assign(service="api"), pd.DataFrame(db).assign(service="db")]
    ts = pd.concat(frames, ignore_index=True).sort_values(["t_s", "service"], kind="stable")
    if extras:
        ts["servers"] = np.where(ts["service"] == "api", 4.0, 2.0)
        ts["riders"] = np.repeat(1000 + 10 * np.arange(intervals), 2).astype(float)
    return ts.reset_index(drop=True)
