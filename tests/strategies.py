"""Shared Hypothesis strategies: small random open networks that are stable by construction."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

DISTS = ("exponential", "deterministic", "lognormal", "gamma")


@st.composite
def service_times(draw: st.DrawFn, mean_s: float) -> dict[str, Any]:
    dist = draw(st.sampled_from(DISTS))
    service: dict[str, Any] = {"dist": dist, "mean_s": mean_s}
    if dist in ("lognormal", "gamma"):
        service["cv"] = draw(st.sampled_from([0.5, 1.0, 1.5]))
    return service


@st.composite
def networks(draw: st.DrawFn, max_stations: int = 3) -> dict[str, Any]:
    """A feed-forward-or-feedback network whose every station runs below utilization 0.8.

    Routing leaves the network with probability >= 0.3 at each station, so visits are finite;
    service means are then set from the traffic equations to hit the drawn utilization.
    """
    n = draw(st.integers(1, max_stations))
    names = [f"s{i}" for i in range(n)]
    rate = draw(st.sampled_from([0.5, 1.0, 2.0]))
    routes = []
    for _ in names:
        exit_p = draw(st.sampled_from([0.3, 0.5, 0.7, 1.0]))
        rest = 1.0 - exit_p
        target = draw(st.sampled_from(names))
        routes.append({"exit": exit_p, target: rest} if rest > 0 else {"exit": 1.0})
    lam = _traffic(names, routes, rate)
    stations = {}
    for name, r, arrival in zip(names, routes, lam, strict=True):
        servers = draw(st.integers(1, 3))
        rho = draw(st.sampled_from([0.3, 0.6, 0.8]))
        mean_s = rho * servers / arrival
        cap = draw(st.sampled_from([None, None, 2, 5]))
        stations[name] = {
            "servers": servers,
            "service": draw(service_times(mean_s)),
            "queue_capacity": cap,
            "routes": r,
        }
    return {"sources": [{"name": "src", "rate_per_s": rate, "to": names[0]}], "stations": stations}


def _traffic(names: list[str], routes: list[dict[str, float]], rate: float) -> list[float]:
    """Arrival rate per station by fixed-point iteration (converges: exits are >= 0.3)."""
    lam = [0.0] * len(names)
    for _ in range(500):
        new = [rate if i == 0 else 0.0 for i in range(len(names))]
        for i, r in enumerate(routes):
            for target, p in r.items():
                if target != "exit":
                    new[names.index(target)] += lam[i] * p
        lam = new
    return [max(x, 1e-3) for x in lam]
