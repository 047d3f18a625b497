"""How much an exact run will simulate, known before it starts: its expected station visits.

Each visit is a few SimPy events, and the engine does about 150,000 visits a second on an
ordinary core, so a run's visits are its cost. A source's requests visit the stations along
its `path` (each hop by its share) or, on a bare network, as the routing sends them: from the
entry station e, the expected visits to every station are row e of (I - P)^-1 (the
network is absorbing: `twin.config.network` refuses routing that never leaves). A run past
`MAX_EXACT_VISITS` is refused before any event, pointing at the fluid engine.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from twin.analytic.jackson import mean_rate
from twin.config.limits import MAX_EXACT_VISITS, over
from twin.errors import InputError
from twin.sim.exact.model import ExactModel, SourceModel

__all__ = ["check_exact_work", "expected_visits"]


def expected_visits(model: ExactModel) -> float:
    """Station visits one replication of `model` is expected to simulate."""
    per_request = _visits_per_request(model)
    return sum(
        mean_rate(source.schedule, model.duration_s) * model.duration_s * per_request(source)
        for source in model.sources
    )


def check_exact_work(model: ExactModel, replications: int) -> None:
    """Refuse a run whose expected visits over all replications pass MAX_EXACT_VISITS."""
    visits = expected_visits(model) * replications
    if visits > MAX_EXACT_VISITS:
        what = f"{model.name}: expected station visits"
        message = over(what, round(visits), MAX_EXACT_VISITS, "MAX_EXACT_VISITS")
        hint = "use --engine fluid, fewer riders or replications, or a shorter duration_s"
        raise InputError("--engine", "exact", f"{message}; {hint}")


def _visits_per_request(model: ExactModel) -> Callable[[SourceModel], float]:
    names = [station.name for station in model.stations]
    index = {name: i for i, name in enumerate(names)}
    routing = np.zeros((len(names), len(names)))
    for station in model.stations:
        for target, p in station.routes:
            if target in index:
                routing[index[station.name], index[target]] += p
    fundamental = np.linalg.inv(np.eye(len(names)) - routing)

    def per_request(source: SourceModel) -> float:
        if source.path:
            return float(sum(share for _, share in source.path))
        return float(fundamental[index[source.entry]].sum())

    return per_request
